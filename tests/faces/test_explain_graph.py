"""The explain report on a functional model (a residual block): Grad-CAM, feature maps,
the trace and the shapes walk read the model only through layers / layer_outputs /
gradient_at, which graphs provide as Sequential does."""

import numpy as np

from cnnlab import explain, keras
from cnnlab.keras import layers


def test_report_of_a_residual_graph(tmp_path):
    keras.utils.set_random_seed(0)
    inp = keras.Input((12, 12, 1))
    c = layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inp)
    r = layers.add([c, layers.Conv2D(4, 3, padding="same", name="c2")(c)])
    model = keras.Model(
        inp,
        layers.Dense(3, activation="softmax")(
            layers.Flatten()(layers.MaxPooling2D()(r))
        ),
    )
    x = np.random.default_rng(0).random((12, 12, 1)).astype("float32")
    result = explain.build_report(model, x, tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "c1" in html and "c2" in html
    assert (
        result.trace.feature_map_value == np.float32(result.trace.value)
        or abs(result.trace.feature_map_value - result.trace.value) < 1e-5
    )
    cam = explain.grad_cam(model, x, layer="c2")
    assert cam.heatmap.shape == (12, 12) and np.isfinite(cam.heatmap).all()
