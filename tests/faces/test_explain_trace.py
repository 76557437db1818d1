"""trace_conv (one convolution step by step) and shape_walk (each layer's size arithmetic)."""

import re

import numpy as np
import pytest

from cnnlab import keras, specs
from cnnlab.explain import ConvTrace, ExplainError, shape_walk, trace_conv
from cnnlab.keras.backend import clear_session
from cnnlab.random import set_seed

SEED_000_INPUT = np.array(
    [[1, 2, 1, 0], [0, 1, 3, 2], [2, 1, 0, 1], [1, 0, 1, 2]], np.float32
)
SEED_000_FILTER = np.array([[1, 0, -1]] * 3, np.float32)


@pytest.fixture(autouse=True)
def fresh_layer_names():
    clear_session()
    yield
    clear_session()


def seed_000_model():
    model = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Conv2D(1, 3, use_bias=False)]
    )
    model.layers[0].set_weights([SEED_000_FILTER[:, :, None, None]])
    return model


def test_seed_000_feature_map_and_trace():
    model = seed_000_model()
    feature_map = model.predict(SEED_000_INPUT[None, ..., None], verbose=0)[0, ..., 0]
    np.testing.assert_array_equal(feature_map, [[-1, 1], [-1, -3]])
    trace = trace_conv(model, SEED_000_INPUT, "conv2d", (0, 0), 0)
    assert isinstance(trace, ConvTrace)
    np.testing.assert_array_equal(trace.window[..., 0], SEED_000_INPUT[:3, :3])
    np.testing.assert_array_equal(
        trace.products[..., 0], [[1, 0, -1], [0, 0, -3], [2, 0, 0]]
    )
    assert (
        trace.total == -1
        and trace.bias == 0
        and trace.value == -1
        and trace.feature_map_value == -1
    )
    assert trace.matches
    text = str(trace)
    # the nine products, each written out, and their sum
    for product in [
        "1 x 1 = 1",
        "2 x 0 = 0",
        "1 x -1 = -1",
        "0 x 1 = 0",
        "1 x 0 = 0",
        "3 x -1 = -3",
        "2 x 1 = 2",
        "1 x 0 = 0",
        "0 x -1 = 0",
    ]:
        assert product in text, product
    assert len(re.findall(r"^  \(\d, \d\): ", text, flags=re.M)) == 9
    assert "sum of the 9 products: 1 + 0 + (-1) + 0 + 0 + (-3) + 2 + 0 + 0 = -1" in text
    assert "floor((4 - 3) / 1) + 1 = 2" in text
    assert "feature map value (0, 0), filter 0: -1 (matches the layer's output)" in text
    korean = trace.text("ko")
    assert "곱 9개의 합: 1 + 0 + (-1) + 0 + 0 + (-3) + 2 + 0 + 0 = -1" in korean
    # every other position of the seed's feature map
    for position, expected in [((0, 1), 1), ((1, 0), -1), ((1, 1), -3)]:
        t = trace_conv(model, SEED_000_INPUT[None, ..., None], 0, position, 0)
        assert t.value == expected and t.matches


def random_conv_model(rng, rank):
    """One or two random conv layers (the second one reads the first one's output)."""
    spatial = tuple(int(rng.integers(5, 10)) for _ in range(rank))
    channels = int(rng.integers(1, 4))
    layer_cls = {
        1: keras.layers.Conv1D,
        2: keras.layers.Conv2D,
        3: keras.layers.Conv3D,
    }[rank]
    layers = [keras.Input(spatial + (channels,))]
    for _ in range(int(rng.integers(1, 3))):
        dilated = rng.random() < 0.3
        layers.append(
            layer_cls(
                filters=int(rng.integers(1, 5)),
                kernel_size=tuple(int(rng.integers(1, 4)) for _ in range(rank)),
                strides=1
                if dilated
                else tuple(int(rng.integers(1, 3)) for _ in range(rank)),
                dilation_rate=tuple(int(rng.integers(1, 3)) for _ in range(rank))
                if dilated
                else 1,
                padding=str(rng.choice(["valid", "same"])),
                activation=str(
                    rng.choice(
                        ["linear", "relu", "tanh", "sigmoid", "softmax", "leaky_relu"]
                    )
                ),
                use_bias=bool(rng.random() < 0.8),
                bias_initializer="random_normal",
            )
        )
    try:
        return keras.Sequential(layers), spatial + (channels,)
    except ValueError:  # an output size reached zero: draw again
        return random_conv_model(rng, rank)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_trace_matches_the_layer_output_at_random_positions(rank):
    rng = np.random.default_rng(100 + rank)
    set_seed(rank)
    checked = 0
    for _ in range({1: 25, 2: 25, 3: 8}[rank]):
        model, shape = random_conv_model(rng, rank)
        x = rng.normal(size=shape).astype(np.float32)
        outputs, _ = model.layer_outputs(x[None])
        for index, layer in enumerate(model.layers):
            y = outputs[index][0]
            for _ in range(3):
                position = tuple(int(rng.integers(0, n)) for n in y.shape[:-1])
                f = int(rng.integers(0, y.shape[-1]))
                trace = trace_conv(model, x, layer.name, position, f)
                assert trace.feature_map_value == y[position + (f,)]
                assert trace.value == pytest.approx(
                    float(y[position + (f,)]), rel=1e-4, abs=1e-5
                ), f"{layer.get_config()} at {position}, filter {f}:\n{trace}"
                assert trace.matches
                assert trace.pre_activation == pytest.approx(trace.total + trace.bias)
                np.testing.assert_allclose(trace.products, trace.window * trace.kernel)
                assert (
                    trace.window[trace.padded].size == 0
                    or not trace.window[trace.padded].any()
                )
                checked += 1
    assert checked >= 20


def test_trace_with_same_padding_marks_the_padded_cells():
    model = keras.Sequential(
        [keras.Input((5, 5, 1)), keras.layers.Conv2D(1, 3, padding="same")]
    )
    x = np.arange(25, dtype=np.float32).reshape(5, 5)
    trace = trace_conv(model, x, 0, (0, 0), 0)
    assert trace.pads == ((1, 1), (1, 1))
    assert trace.padded.tolist() == [
        [True, True, True],
        [True, False, False],
        [True, False, False],
    ]
    assert trace.input_coords == ([-1, 0, 1], [-1, 0, 1])
    assert "zero padding" in str(trace) and "·" in str(trace)
    assert "floor((5 + 2 - 3) / 1) + 1 = 5" in str(trace)


def test_trace_defaults_and_multichannel_text():
    set_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Conv2D(2, 3),
        ]
    )
    x = np.random.default_rng(0).normal(size=(6, 6, 3))
    trace = trace_conv(model, x)  # first conv, centre, filter 0
    assert trace.layer == "conv2d" and trace.position == (2, 2) and trace.filter == 0
    text = str(trace)
    assert "channel 2:" in text and "sum of the 27 products" in text
    deep = trace_conv(
        model, x, "conv2d_1", (0, 0), 1
    )  # 3*3*4 = 36 products: listed in part
    assert "9 more products" in str(deep) and deep.matches


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(layer="flatten"), "not a convolution"),
        (dict(layer="nope"), "no layer named 'nope'"),
        (
            dict(layer="conv2d", position=(9, 0)),
            r"outside the output of layer 'conv2d' \(Conv2D\)",
        ),
        (dict(layer="conv2d", position=(1,)), "outside the output"),
        (dict(layer="conv2d", position=(0, 0), filter=4), "has 4 filters"),
    ],
)
def test_trace_errors(kwargs, message):
    model = keras.Sequential(
        [keras.Input((6, 6, 1)), keras.layers.Conv2D(4, 3), keras.layers.Flatten()]
    )
    with pytest.raises(ExplainError, match=message):
        trace_conv(model, np.zeros((6, 6)), **kwargs)


# --------------------------------------------------------------------------- shape walk


def test_shape_walk_of_the_seed_004_model():
    model = specs.build_model(specs.default_spec(), "seed-004")
    walk = shape_walk(model)
    assert len(walk) == 7 and walk.input_shape == (None, 28, 28, 1)
    conv, pool, conv2, pool2, flatten, dense, out = walk
    assert conv.output_shape == (None, 26, 26, 32)
    assert conv.arithmetic[:2] == [
        "height: floor((28 - 3) / 1) + 1 = 26",
        "width: floor((28 - 3) / 1) + 1 = 26",
    ]
    assert conv.param_formula == "3*3*1*32 + 32 = 320" and conv.params == 320
    assert (
        pool.arithmetic[0] == "height: floor((26 - 2) / 2) + 1 = 13"
        and pool.param_formula == ""
    )
    assert conv2.param_formula == "3*3*32*64 + 64 = 18,496"
    assert (
        pool2.arithmetic[0] == "height: floor((11 - 2) / 2) + 1 = 5"
    )  # odd sizes floor
    assert (
        flatten.arithmetic == ["5 * 5 * 64 = 1,600"]
        and "column by column" in flatten.note
    )
    assert "열 단위" in flatten.note_ko
    assert dense.param_formula == "1600*128 + 128 = 204,928"
    assert out.param_formula == "128*10 + 10 = 1,290"
    assert walk.total_params == 225_034
    text = str(walk)
    assert (
        "conv2d (Conv2D): (None, 28, 28, 1) -> (None, 26, 26, 32)" in text
        and "225,034" in text
    )


def test_shape_walk_same_padding_stride_dilation_and_1d():
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(10, 5, strides=2, padding="same"),
            keras.layers.Conv2D(4, 3, dilation_rate=2),
            keras.layers.GlobalAveragePooling2D(),
        ]
    )
    walk = shape_walk(model)
    assert (
        walk[0].arithmetic[0] == "height: floor((28 + 3 - 5) / 2) + 1 = 14"
    )  # same: ceil(28/2) = 14
    assert "(1, 2)" in walk[0].note  # TensorFlow's asymmetric pads
    assert (
        walk[1].arithmetic[0]
        == "height: floor((14 - 5 [(k-1)*d+1 = (3-1)*2+1]) / 1) + 1 = 10"
    )
    assert walk[2].arithmetic == [
        "mean over 10x10 positions, one value per channel = 4"
    ]
    one_d = shape_walk(
        keras.Sequential([keras.Input((100, 2)), keras.layers.Conv1D(8, 9, strides=4)])
    )
    assert one_d[0].arithmetic[0] == "steps: floor((100 - 9) / 4) + 1 = 23"
    assert one_d[0].param_formula == "9*2*8 + 8 = 152"


def test_seed_002_network_walk():
    """Seed 002: 28x28x1 -> conv 10@5x5 -> pool -> conv 20@5x5 -> pool -> 320 -> 100 -> 10: 38,390 parameters."""
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(10, 5),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(20, 5),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(100),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    walk = shape_walk(model)
    assert [r.output_shape for r in walk][:5] == [
        (None, 24, 24, 10),
        (None, 12, 12, 10),
        (None, 8, 8, 20),
        (None, 4, 4, 20),
        (None, 320),
    ]
    assert [r.params for r in walk] == [260, 0, 5020, 0, 0, 32100, 1010]
    assert walk.total_params == 38_390
