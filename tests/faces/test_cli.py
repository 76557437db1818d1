"""The command line, run in-process through ``cnnlab.cli.main([...])`` (plus one run of the console script)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnlab import cli, demo, specs
from cnnlab.data.mnist import load_sample
from cnnlab.keras import models
from cnnlab.keras.backend import clear_session
from cnnlab.model import Sequential

TINY = {
    "input_shape": [28, 28, 1],
    "layers": [
        {
            "class_name": "Conv2D",
            "config": {"filters": 4, "kernel_size": 3, "activation": "relu"},
        },
        {"class_name": "MaxPool2D", "config": {"pool_size": 2}},
        {"class_name": "Flatten"},
        {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}},
    ],
}
TINY_PARAMS = "6,810"  # 3*3*1*4 + 4 = 40, 13*13*4*10 + 10 = 6770

HAS_SAVING = hasattr(Sequential, "save") and hasattr(models, "load_model")
needs_saving = pytest.mark.skipif(
    not HAS_SAVING,
    reason="cnnlab.saving has not landed yet: "
    "Sequential.save / keras.models.load_model are missing",
)


@pytest.fixture(autouse=True)
def fresh_layer_names():
    """Leave the layer-name counters as a fresh process has them, for the tests after these."""
    yield
    clear_session()


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tiny_spec(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path


def write_png(path, array):
    from PIL import Image

    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
    return path


# --------------------------------------------------------------------------- entry point


def test_console_script_help():
    script = Path(sys.executable).with_name("cnnlab")
    if not script.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    for command in ("train", "summary", "evaluate", "predict"):
        assert command in result.stdout


def test_version_and_no_command(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and re.fullmatch(r"cnnlab \d+\.\d+\.\d+\S*\n", out)
    code, out, _ = run(capsys)
    assert code == 2 and "train" in out and "predict" in out


def test_usage_error_exits_2(capsys):
    code, _, err = run(capsys, "train", "--epochs", "0")
    assert code == 2 and "--epochs" in err


# --------------------------------------------------------------------------- train


def test_train_writes_files(capsys, tmp_path, tiny_spec):
    out_dir = tmp_path / "run"
    code, out, err = run(
        capsys, "train", "--spec", tiny_spec, "--epochs", 1, "--out", out_dir
    )
    assert code == 0, err
    assert f"Total params: {TINY_PARAMS}" in out
    assert "Epoch 1/1" in out and re.search(
        r"Test accuracy: 0\.\d{4}, test loss: \d+\.\d{4}", out
    )
    assert str(out_dir) in out
    history = json.loads((out_dir / "history.json").read_text())
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 1 for v in history.values())
    pytest.importorskip("matplotlib")
    assert (out_dir / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out_dir / "model.keras").exists() == HAS_SAVING


def test_train_quiet_with_data_dir_and_options(capsys, tmp_path, tiny_spec):
    (x, y), (xt, yt) = load_sample()
    data = tmp_path / "mnist"
    data.mkdir()
    np.savez(
        data / "mnist.npz",
        x_train=x[:300],
        y_train=y[:300],
        x_test=xt[:50],
        y_test=yt[:50],
    )
    code, out, err = run(
        capsys,
        "train",
        "--data",
        data,
        "--spec",
        tiny_spec,
        "--epochs",
        2,
        "--quiet",
        "--optimizer",
        "sgd",
        "--learning-rate",
        0.05,
        "--validation-split",
        0,
        "--batch-size",
        64,
        "--out",
        tmp_path / "run",
    )
    assert code == 0, err
    assert "300 training and 50 test images" in out
    assert "Total params" not in out and "Epoch" not in out and "Test accuracy:" in out
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert set(history) == {"loss", "accuracy"} and len(history["loss"]) == 2


def test_train_without_matplotlib_skips_the_plot(
    capsys, tmp_path, tiny_spec, monkeypatch
):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    code, out, err = run(
        capsys,
        "train",
        "--spec",
        tiny_spec,
        "--epochs",
        1,
        "--quiet",
        "--out",
        tmp_path,
    )
    assert code == 0, err
    assert "matplotlib is not installed" in out
    assert (
        not (tmp_path / "training_curves.png").exists()
        and (tmp_path / "history.json").exists()
    )


def test_bad_spec_names_the_unknown_class(capsys, tmp_path):
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps({"layers": [{"class_name": "Conv9D", "config": {}}]}))
    code, out, err = run(capsys, "train", "--spec", spec, "--out", tmp_path)
    assert code == 2 and err.startswith("error:") and "Conv9D" in err
    assert "Traceback" not in err and out == ""  # refused before any data is loaded


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"layers": [', "not valid JSON"),
        ('{"layers": []}', "non-empty list"),
        ('{"layers": [{"class_name": "Dense", "config": {"unitz": 3}}]}', "Dense"),
        ('{"layers": [{"class_name": "Flatten"}], "optimiser": "adam"}', "optimiser"),
        ('{"layers": [{"class_name": "os.system"}]}', "os.system"),
    ],
)
def test_bad_specs(capsys, tmp_path, text, expected):
    spec = tmp_path / "bad.json"
    spec.write_text(text)
    code, _, err = run(capsys, "summary", "--spec", spec)
    assert code == 2 and err.startswith("error:") and expected in err


def test_yaml_spec(capsys, tmp_path):
    yaml = pytest.importorskip("yaml")
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(TINY))
    code, out, _ = run(capsys, "summary", "--spec", spec)
    assert code == 0 and f"Total params: {TINY_PARAMS}" in out


# --------------------------------------------------------------------------- summary


def test_summary_of_the_seed_004_model(capsys):
    code, out, _ = run(capsys, "summary")
    assert code == 0
    assert "Total params: 225,034" in out and "conv2d (Conv2D)" in out


def test_summary_formula(capsys):
    code, out, _ = run(capsys, "summary", "--formula")
    assert code == 0
    assert "3*3*1*32 + 32 = 320" in out and re.search(
        r"1600\*128 \+ 128 = 204,?928", out
    )


def test_summary_of_a_spec(capsys, tiny_spec):
    code, out, _ = run(capsys, "summary", "--spec", tiny_spec)
    assert (
        code == 0
        and f"Total params: {TINY_PARAMS}" in out
        and "max_pooling2d (MaxPooling2D)" in out
    )


# --------------------------------------------------------------------------- predict


@pytest.fixture(scope="module")
def trained():
    """The tiny model trained briefly on the bundled sample, and the test split."""
    from cnnlab.random import set_seed

    set_seed(0)
    model = specs.build_model(TINY)
    model.compile(**specs.compile_args(TINY))
    (x, y), (xt, yt) = cli.load_mnist()
    model.fit(x, y, epochs=2, verbose=0)
    return model, xt, yt


def parse_predictions(out):
    rows = re.findall(
        r"^(.+): (\d)   \(top 3: (\d) = ([\d.]+)%, (\d) = ([\d.]+)%, (\d) = ([\d.]+)%\)$",
        out,
        re.M,
    )
    return {
        path: (int(k), [float(p) / 100 for p in row[2::2]]) for path, k, *row in rows
    }


def test_predict_images(capsys, tmp_path, trained, monkeypatch):
    model, xt, yt = trained
    monkeypatch.setattr(cli, "load_model", lambda path: model)
    right = np.flatnonzero(model.predict(xt, verbose=0).argmax(-1) == yt)
    i = right[yt[right] == 7][0]  # a 7 the model gets right
    digit = np.round(xt[i, :, :, 0] * 255)
    plain = write_png(tmp_path / "seven.png", digit)
    inverted = write_png(tmp_path / "seven_dark_on_light.png", 255 - digit)
    big = write_png(
        tmp_path / "seven_big.png", np.kron(digit, np.ones((3, 2)))
    )  # 84x56: padded, resized
    code, out, err = run(capsys, "predict", "model.keras", plain, inverted, big)
    assert code == 0, err
    predictions = parse_predictions(out)
    assert set(predictions) == {str(plain), str(inverted), str(big)}
    assert predictions[str(plain)][0] == 7 and predictions[str(inverted)][0] == 7
    for _digit, probs in predictions.values():
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-3
    assert out.count("inverted the image") == 1


def test_predict_missing_image(capsys, tmp_path):
    code, _, err = run(
        capsys, "predict", tmp_path / "model.keras", tmp_path / "nothere.png"
    )
    assert (
        code == 2
        and err.startswith("error:")
        and "nothere.png" in err
        and "Traceback" not in err
    )


def test_predict_not_an_image(capsys, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("not a picture")
    code, _, err = run(capsys, "predict", tmp_path / "model.keras", fake)
    assert code == 2 and err.startswith("error:") and "notes.png" in err


# --------------------------------------------------------------------------- saved models


def test_missing_model_file(capsys, tmp_path):
    code, _, err = run(capsys, "evaluate", tmp_path / "nothere.keras")
    assert code == 2 and err.startswith("error:")
    assert ("nothere.keras" in err) if HAS_SAVING else ("saving" in err)


@needs_saving
def test_train_save_evaluate_predict_summary(capsys, tmp_path, tiny_spec):
    out_dir = tmp_path / "run"
    assert (
        run(
            capsys,
            "train",
            "--spec",
            tiny_spec,
            "--epochs",
            1,
            "--quiet",
            "--out",
            out_dir,
        )[0]
        == 0
    )
    model_file = out_dir / "model.keras"
    code, out, err = run(capsys, "evaluate", model_file)
    assert code == 0, err
    assert re.search(r"Test accuracy: 0\.\d{4}, test loss: \d+\.\d{4}", out)
    code, out, err = run(capsys, "summary", model_file)
    assert code == 0 and f"Trainable params: {TINY_PARAMS}" in out
    (_, _), (xt, _) = load_sample()
    image = write_png(tmp_path / "digit.png", xt[0])
    code, out, err = run(capsys, "predict", model_file, image)
    assert code == 0 and str(image) in parse_predictions(out)


# --------------------------------------------------------------------------- demo


def test_demo(capsys, tmp_path, tiny_spec, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert demo.main(["--spec", str(tiny_spec), "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "Seed 000" in out and "Test accuracy:" in out and "runs/demo" in out
    assert (tmp_path / "runs" / "demo" / "history.json").exists()
    page = (
        tmp_path / "runs" / "demo" / "explain" / "explainer.html"
    )  # the interactive page, beside the report
    assert page.exists() and (page.parent / "report.html").exists() and str(page) in out
