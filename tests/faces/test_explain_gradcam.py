"""Grad-CAM (cnnlab.explain.grad_cam): it localizes what decides the class, it agrees
with a PyTorch reference of the same formula, and its errors say what is wrong."""

import warnings

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.explain import ExplainError, GradCAMWarning, grad_cam, resize_linear
from cnnlab.keras.backend import clear_session
from cnnlab.random import set_seed

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.fixture(autouse=True)
def fresh_layer_names():
    """Layer names as a fresh process gives them (the tests name layers), before and after."""
    clear_session()
    yield
    clear_session()


# --------------------------------------------------------------------------- 1. it localizes

PLUS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.float32)
CROSS = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], np.float32)
SIZE = 16


def _place(rng, taken):
    while True:
        r, c = (int(v) for v in rng.integers(0, SIZE - 2, 2))
        if all(abs(r - a) > 3 or abs(c - b) > 3 for a, b in taken):
            return r, c


def patch_data(n, rng):
    """16x16 noise images with two 3x3 bright patches at random places. Both classes
    have a cross (a decoy, equally bright); class 1's second patch is a plus, class
    0's another cross. So the class is decided only by one small patch, and mere
    brightness cannot point to it: the decoy is just as bright."""
    x = rng.uniform(0, 0.2, (n, SIZE, SIZE)).astype(np.float32)
    y = rng.integers(0, 2, n)
    where = np.zeros((n, 2), int)
    for i in range(n):
        r, c = _place(rng, [])
        x[i, r : r + 3, c : c + 3] = np.maximum(x[i, r : r + 3, c : c + 3], CROSS)
        r2, c2 = _place(rng, [(r, c)])
        x[i, r2 : r2 + 3, c2 : c2 + 3] = np.maximum(
            x[i, r2 : r2 + 3, c2 : c2 + 3], PLUS if y[i] else CROSS
        )
        where[i] = r2, c2
    return x[..., None], y, where


def localization_rate(shuffle_labels):
    """Train a small CNN on the patch data (labels shuffled or not) and return the share
    of class-1 test images whose Grad-CAM maximum lies in the plus patch or within one
    cell of it (a cell of the Grad-CAM layer: 2x2 pixels here)."""
    set_seed(0)
    rng = np.random.default_rng(0)
    x, y, _ = patch_data(1500, rng)
    xt, yt, where = patch_data(200, rng)
    if shuffle_labels:
        y = rng.permutation(y)
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 1)),
            keras.layers.Conv2D(8, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(16, 3, activation="relu", padding="same"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    hits = []
    for i in np.flatnonzero(yt == 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GradCAMWarning)
            result = grad_cam(model, xt[i], class_index=1)
        assert (
            result.layer_index == 2
        )  # the default: the last layer with spatial output
        cell = SIZE // result.cam.shape[0]
        r, c = result.peak
        top, left = where[i]
        hits.append(
            top - cell <= r <= top + 2 + cell and left - cell <= c <= left + 2 + cell
        )
    return float(np.mean(hits))


def test_grad_cam_finds_the_patch_that_decides_the_class():
    rate = localization_rate(shuffle_labels=False)
    assert rate >= 0.9, (
        f"Grad-CAM's maximum is on the deciding patch for only {rate:.0%} of the test images"
    )


def test_the_localization_test_can_fail():
    """With shuffled labels there is nothing to learn; the same criterion must not pass."""
    rate = localization_rate(shuffle_labels=True)
    assert rate < 0.9, (
        f"with shuffled labels Grad-CAM still 'localizes' {rate:.0%}: the test proves nothing"
    )


# --------------------------------------------------------------------------- 2. PyTorch reference


def cnnlab_model_2d():
    set_seed(3)
    return keras.Sequential(
        [
            keras.Input((12, 12, 2)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(6, 3, activation="relu", padding="same"),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def torch_model_2d(model):
    """The same network in PyTorch (NCHW), the weights copied across layouts."""
    conv1, _, conv2, _, dense1, dense2 = model.layers
    net = torch.nn.ModuleDict(
        {
            "conv1": torch.nn.Conv2d(2, 4, 3),
            "relu1": torch.nn.ReLU(),
            "pool": torch.nn.MaxPool2d(2),
            "conv2": torch.nn.Conv2d(4, 6, 3, padding=1),
            "relu2": torch.nn.ReLU(),
            "dense1": torch.nn.Linear(5 * 5 * 6, 8),
            "dense2": torch.nn.Linear(8, 3),
        }
    )
    with torch.no_grad():
        for name, layer in (("conv1", conv1), ("conv2", conv2)):
            k, b = layer.get_weights()
            net[name].weight.copy_(
                torch.from_numpy(k.transpose(3, 2, 0, 1).copy())
            )  # (kh, kw, in, out) -> (out, in, kh, kw)
            net[name].bias.copy_(torch.from_numpy(b))
        for name, layer in (("dense1", dense1), ("dense2", dense2)):
            k, b = layer.get_weights()
            net[name].weight.copy_(torch.from_numpy(k.T.copy()))
            net[name].bias.copy_(torch.from_numpy(b))

    def forward(x):
        a1 = net["pool"](net["relu1"](net["conv1"](x)))
        a2 = net["relu2"](net["conv2"](a1))
        flat = a2.permute(0, 2, 3, 1).reshape(
            1, -1
        )  # Keras flattens (H, W, C) row-major
        return net["dense2"](
            torch.relu(net["dense1"](flat))
        )  # logits: the score before softmax

    return net, forward


def torch_grad_cam(
    net, forward, x_nchw, module, class_index, counterfactual=False, mode="bilinear"
):
    """Grad-CAM as pytorch-grad-cam computes it, with hooks: the activation of ``module``
    and its gradient; weights = spatial mean of the gradient; ReLU of the weighted sum;
    upsampled (align_corners=False) and divided by its maximum."""
    saved = {}

    def keep(_, __, output):
        saved["activation"] = output
        output.register_hook(lambda grad: saved.__setitem__("gradient", grad))

    handle = module.register_forward_hook(keep)
    try:
        logits = forward(x_nchw)
        if class_index is None:
            class_index = int(logits.argmax())
        logits[0, class_index].backward()
    finally:
        handle.remove()
    a, g = saved["activation"].detach(), saved["gradient"].detach()
    if counterfactual:
        g = -g
    spatial = tuple(range(2, a.ndim))
    weights = g.mean(dim=spatial, keepdim=True)
    cam = torch.relu((weights * a).sum(dim=1, keepdim=True))
    up = F.interpolate(
        cam, size=tuple(x_nchw.shape[2:]), mode=mode, align_corners=False
    )[0, 0]
    return (
        (up / up.max()).numpy(),
        cam[0, 0].numpy(),
        weights.flatten().numpy(),
        class_index,
    )


@pytest.mark.parametrize(
    "layer,module,class_index,counterfactual",
    [
        (None, "relu2", None, False),  # default layer (last spatial), predicted class
        ("conv2d_1", "relu2", 0, False),
        ("conv2d_1", "relu2", 2, True),  # counterfactual: negated gradients
        ("max_pooling2d", "pool", 1, False),
        (0, "relu1", None, False),  # a layer given by index
    ],
)
def test_grad_cam_matches_a_pytorch_reference(
    layer, module, class_index, counterfactual
):
    model = cnnlab_model_2d()
    net, forward = torch_model_2d(model)
    x = np.random.default_rng(1).uniform(0, 1, (12, 12, 2)).astype(np.float32)
    x_nchw = torch.from_numpy(x.transpose(2, 0, 1)[None].copy())
    # The model itself agrees first (so any difference below is Grad-CAM's).
    probs = model.predict(x[None], verbose=0)
    np.testing.assert_allclose(
        torch.softmax(forward(x_nchw), -1).detach().numpy(), probs, atol=1e-6
    )

    with warnings.catch_warnings():
        warnings.simplefilter(
            "error", GradCAMWarning
        )  # a real map, not the all-zero fallback
        ours = grad_cam(
            model,
            x,
            class_index=class_index,
            layer=layer,
            counterfactual=counterfactual,
        )
    heat, cam, weights, cls = torch_grad_cam(
        net, forward, x_nchw, net[module], class_index, counterfactual
    )
    assert ours.class_index == cls
    assert ours.heatmap.shape == (12, 12) and ours.heatmap.dtype == np.float32
    np.testing.assert_allclose(ours.weights, weights, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(ours.cam, cam, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours.heatmap, heat, atol=1e-5)
    assert ours.heatmap.max() == pytest.approx(1.0) and ours.heatmap.min() >= 0
    np.testing.assert_array_equal(np.asarray(ours), ours.heatmap)


def test_grad_cam_1d_matches_a_pytorch_reference():
    """A Conv1D model (audio-like): linear interpolation along the steps."""
    set_seed(5)
    model = keras.Sequential(
        [
            keras.Input((20, 3)),
            keras.layers.Conv1D(4, 3, activation="relu"),
            keras.layers.MaxPooling1D(2),
            keras.layers.Conv1D(5, 3, activation="relu"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    conv1, _, conv2, _, dense = model.layers
    c1, c2, lin = (
        torch.nn.Conv1d(3, 4, 3),
        torch.nn.Conv1d(4, 5, 3),
        torch.nn.Linear(5, 3),
    )
    relu2 = torch.nn.ReLU()
    with torch.no_grad():
        for mod, layer in ((c1, conv1), (c2, conv2)):
            k, b = layer.get_weights()
            mod.weight.copy_(torch.from_numpy(k.transpose(2, 1, 0).copy()))
            mod.bias.copy_(torch.from_numpy(b))
        k, b = dense.get_weights()
        lin.weight.copy_(torch.from_numpy(k.T.copy()))
        lin.bias.copy_(torch.from_numpy(b))

    def forward(x):
        return lin(relu2(c2(F.max_pool1d(torch.relu(c1(x)), 2))).mean(dim=2))

    x = np.random.default_rng(2).normal(size=(20, 3)).astype(np.float32)
    x_ncl = torch.from_numpy(x.T[None].copy())
    for cls in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GradCAMWarning)
            ours = grad_cam(model, x[None], class_index=cls)
        heat, cam, _, _ = torch_grad_cam(
            None, forward, x_ncl, relu2, cls, mode="linear"
        )
        if not np.isfinite(heat).all():  # torch divided 0 by 0: an all-zero map
            assert not ours.heatmap.any()
            continue
        np.testing.assert_allclose(ours.cam, cam, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(ours.heatmap, heat, atol=1e-5)


@pytest.mark.parametrize(
    "shape,size",
    [
        ((5, 5), (28, 28)),
        ((3, 7), (12, 5)),
        ((4,), (9,)),
        ((2, 3, 4), (5, 6, 7)),
        ((6, 6), (6, 6)),
    ],
)
def test_resize_linear_matches_torch_interpolate(shape, size):
    a = np.random.default_rng(0).normal(size=shape)
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(shape)]
    ref = F.interpolate(
        torch.from_numpy(a)[None, None], size=size, mode=mode, align_corners=False
    )[0, 0]
    np.testing.assert_allclose(resize_linear(a, size), ref.numpy(), atol=1e-12)


# --------------------------------------------------------------------------- behaviour and errors


def test_all_zero_map_warns_and_returns_zeros():
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(2, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    conv = model.layers[0]
    conv.set_weights(
        [np.zeros((3, 3, 1, 2), np.float32), np.zeros(2, np.float32)]
    )  # activations all 0
    with pytest.warns(GradCAMWarning, match="all zero"):
        result = grad_cam(model, np.ones((6, 6)))
    assert result.heatmap.shape == (6, 6)
    assert not result.heatmap.any() and np.isfinite(result.heatmap).all()
    assert np.isfinite(result.cam).all()


def test_input_forms_give_the_same_map():
    model = cnnlab_model_2d()
    x = np.random.default_rng(4).uniform(size=(12, 12, 2)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradCAMWarning)
        a = grad_cam(model, x).heatmap
        b = grad_cam(model, x[None]).heatmap
        c = grad_cam(model, x.astype(np.float64)).heatmap
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_greyscale_image_without_channel_axis_and_uint8():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(3, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    x = (np.random.default_rng(0).uniform(size=(8, 8)) * 255).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradCAMWarning)
        assert grad_cam(model, x).heatmap.shape == (8, 8)
        assert grad_cam(model, x[..., None]).heatmap.shape == (8, 8)


def test_single_sigmoid_unit_scores_class_zero_as_minus_the_logit():
    set_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(3, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    x = np.random.default_rng(0).uniform(size=(8, 8, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradCAMWarning)
        one = grad_cam(model, x, class_index=1)
        zero = grad_cam(model, x, class_index=0)
    np.testing.assert_allclose(zero.weights, -one.weights, rtol=1e-6)
    assert zero.score == pytest.approx(-one.score)


@pytest.mark.parametrize(
    "layer,message",
    [
        ("nope", "no layer named 'nope'"),
        ("flatten", "no spatial axes"),
        ("dense_1", "no spatial axes"),
        (17, "has 6 layers"),
    ],
)
def test_errors_name_the_layer_and_why(layer, message):
    model = cnnlab_model_2d()
    with pytest.raises(ExplainError, match=message) as info:
        grad_cam(model, np.zeros((12, 12, 2)), layer=layer)
    if isinstance(layer, str):
        assert layer in str(info.value)


def test_errors_for_bad_input_and_class():
    model = cnnlab_model_2d()
    with pytest.raises(ValueError, match="one image at a time"):
        grad_cam(model, np.zeros((2, 12, 12, 2)))
    with pytest.raises(ValueError, match=r"\(12, 12, 2\)"):
        grad_cam(model, np.zeros((10, 10, 2)))
    with pytest.raises(
        ExplainError, match="class_index must be an integer from 0 to 2"
    ):
        grad_cam(model, np.zeros((12, 12, 2)), class_index=3)


def test_a_model_without_spatial_layers_is_refused():
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="softmax")]
    )
    with pytest.raises(ExplainError, match="no layer with spatial output"):
        grad_cam(model, np.zeros(4))
