"""Every code block of the README runs, as written, with small settings (issue 12).

The README's fenced blocks are read from the file itself. Each one is either run here or
listed in :data:`SKIPPED` with the reason, and a block that is neither fails
``test_every_block_is_run_or_skipped_with_a_reason``, so a new block cannot go untested.

How "small settings" are made, and nothing else is changed:
- ``python`` blocks are executed as written, with MNIST's loader giving the bundled sample
  and ``epochs=5`` / ``trials=20`` replaced by one epoch / one trial (on 200 images);
- shell blocks: each ``cnnlab ...`` line runs through ``cnnlab.cli.main`` in a fresh folder,
  with its ``[optional]`` parts left out (the README's synopsis), ``train`` for one epoch,
  ``tune`` for one trial on 200 images, and the lessons at the small settings of
  ``tests/faces/test_lessons.py``. A folder gets what earlier README steps would have left:
  ``runs/demo/model.keras`` (``make demo``) and ``digit.png`` (``cnnlab samples``).
- the ``yaml`` block is the ``space.yaml`` the tune block reads.
"""

import importlib.util
import re
import shlex
import shutil
from pathlib import Path

import pytest

from cnnlab import cli
from cnnlab.keras.backend import clear_session

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = [
    (lang, body)
    for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", README, re.S | re.M)
]


def first_line(body):
    lines = body.strip().splitlines()
    # two blocks open with `from cnnlab import keras`: a second line tells the photos block apart
    return (
        "\n".join(lines[:2])
        if lines[1:2]
        == ["from cnnlab.data import AUTOTUNE          # tf.data.AUTOTUNE"]
        else lines[0]
    )


#: First line of a block -> why it is not run here.
SKIPPED = {
    "make demo": (
        "creates .venv and installs cnnlab (CI runs `make test` itself; "
        "tests/faces/test_cli.py::test_demo runs the demo)"
    ),
    "cnnlab train --data photos/ --image-size 64 --epochs 5 --out runs/photos"
    "   # photos/cats/*.jpg, photos/dogs/*.png": (
        "needs a folder of the reader's own photos: tests/faces/test_image_folder_cli.py "
        "trains, predicts, evaluates and explains on a folder of generated pictures"
    ),
    "from cnnlab import keras\nfrom cnnlab.data import AUTOTUNE          # tf.data.AUTOTUNE": (
        "needs the same photos/ folder and a `model` built for it: "
        "tests/faces/test_image_folder_cli.py and tests/data cover "
        "image_dataset_from_directory, map, cache, shuffle and prefetch"
    ),
    "cnnlab tune --study mnist --storage postgresql://user:password@dbhost:5432/optuna"
    " --space space.yaml --trials 20": (
        "needs a PostgreSQL server: tests/tune/test_tune_distributed.py starts one and "
        "runs three workers on a study"
    ),
}


def blocks(lang=None, shell=False):
    return [
        body
        for kind, body in BLOCKS
        if first_line(body) not in SKIPPED
        and (
            kind == lang
            if not shell
            else kind == "" and first_line(body).startswith("cnnlab")
        )
    ]


def test_every_block_is_run_or_skipped_with_a_reason():
    assert len(BLOCKS) >= 10
    for kind, body in BLOCKS:
        line = first_line(body)
        assert (
            line in SKIPPED
            or kind in ("python", "yaml")
            or (kind == "" and line.startswith("cnnlab"))
        ), f"README block neither run nor skipped: {line!r}"
    assert all(any(first_line(b) == line for _, b in BLOCKS) for line in SKIPPED), (
        "a skipped block is gone"
    )


@pytest.fixture(autouse=True)
def fresh_layer_names():
    yield
    clear_session()


@pytest.fixture
def sample_mnist(monkeypatch):
    """``keras.datasets.mnist.load_data()`` gives the bundled sample (the tests never download)."""
    from cnnlab.data import mnist
    from cnnlab.keras.datasets import mnist as keras_mnist

    monkeypatch.setattr(keras_mnist, "load_data", lambda *a, **k: mnist.load_sample())


def run_python(body, namespace=None):
    small = body.replace("epochs=5", "epochs=1").replace(
        "trials=20)", "trials=1, subset=200, plots=False)"
    )
    exec(compile(small, "README.md", "exec"), dict(namespace or {}))


# --------------------------------------------------------------------------- python blocks


def test_seed_004_program(sample_mnist, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (body,) = [b for b in blocks("python") if "keras.Sequential" in b]
    run_python(body)
    out = capsys.readouterr().out
    assert "Total params: 225,034 (879.04 KB)" in out and "Epoch 1/1" in out


def test_graph_model_python_block(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (body,) = [b for b in blocks("python") if "keras.Model(inputs, [digit, ink])" in b]
    run_python(body)
    assert (
        "['digit_accuracy', 'digit_loss', 'ink_loss', 'loss']"
        in capsys.readouterr().out
    )


def test_explain_python_block(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from cnnlab import specs
    from cnnlab.data.mnist import load_sample

    monkeypatch.chdir(tmp_path)
    (body,) = [b for b in blocks("python") if "from cnnlab import explain" in b]
    model = specs.build_model(
        specs.default_spec()
    )  # "x is one image", "model" the seed-004 CNN
    _, (xt, _) = load_sample()
    run_python(body, {"model": model, "x": xt[0] / 255.0})
    assert (tmp_path / "out" / "report.html").exists()


def test_tune_python_block(tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    monkeypatch.chdir(tmp_path)
    (body,) = [b for b in blocks("python") if "tune.run_study" in b]
    run_python(body)
    assert (tmp_path / "runs" / "tune" / "best_spec.json").exists()


# --------------------------------------------------------------------------- shell blocks


def load_small_lesson_settings():
    spec = importlib.util.spec_from_file_location(
        "lesson_settings", ROOT / "tests" / "faces" / "test_lessons.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SMALL


def commands(body):
    """The ``cnnlab`` command lines of a block as argument lists, without ``[optional]`` parts and comments."""
    for line in body.strip().splitlines():
        line = re.sub(r"\[[^\]]*\]", "", line)
        argv = shlex.split(line, comments=True)
        if argv:
            assert argv[0] == "cnnlab", line
            yield argv[1:]


def small(argv):
    argv = list(argv)

    def setting(flag, value):
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv.extend([flag, value])

    if argv[0] == "train":
        setting("--epochs", "1")
    if argv[0] == "tune" and "--list-params" not in argv:
        setting("--trials", "1")
        setting("--subset", "200")
        argv.append("--no-plots")
    return argv


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A trained seed-004 model and ``digit.png``, as the README's earlier steps leave them."""
    where = tmp_path_factory.mktemp("prepared")
    assert (
        cli.main(
            ["train", "--epochs", "1", "--quiet", "--out", str(where / "runs" / "demo")]
        )
        == 0
    )
    assert cli.main(["samples", "--out", str(where)]) == 0
    clear_session()
    return where


@pytest.mark.parametrize("index", range(len(blocks(shell=True))))
def test_shell_block(index, prepared, tmp_path, monkeypatch, capsys):
    body = blocks(shell=True)[index]
    argvs = list(commands(body))
    if any(a[0] in ("explain", "lesson") for a in argvs) or any(
        "training_curves" in a for a in argvs
    ):
        pytest.importorskip("matplotlib")
    if any(a[0] == "tune" for a in argvs):
        pytest.importorskip("optuna")
        if any("--space" in a for a in argvs):
            pytest.importorskip("yaml")
    monkeypatch.chdir(tmp_path)
    shutil.copytree(prepared / "runs", tmp_path / "runs")
    shutil.copy(prepared / "digit.png", tmp_path / "digit.png")
    (space,) = blocks("yaml")
    (tmp_path / "space.yaml").write_text(space, encoding="utf-8")
    if any(a[0] == "lesson" for a in argvs):
        from cnnlab import lessons

        settings = load_small_lesson_settings()
        for name in lessons.names():
            lesson = lessons.get(name)
            real = lesson.measure
            monkeypatch.setattr(
                lesson,
                "measure",
                lambda seed=0, _real=real, _small=settings[name], **kw: _real(
                    seed=seed, **{**_small, **kw}
                ),
            )
    for argv in argvs:
        code = cli.main(small(argv))
        out, err = capsys.readouterr()
        assert code == 0, f"cnnlab {' '.join(argv)} failed:\n{err}"
        clear_session()
