"""The example notebooks run top to bottom on a real Jupyter kernel, with small settings.

The settings come in through the cell tagged ``parameters``: the test adds a cell right after it (as
papermill does), so the notebooks stay as a learner opens them. A cell that raises fails the test.
"""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: The transfer-learning notebook's base: the small MobileNetV2 pretrained on other generated pictures
#: (scripts/make_transfer_base.py), at its 32x32 (no ImageNet file offline).
TRANSFER_BASE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "applications"
    / "transfer_base.weights.h5"
)
SMALL = {
    "EPOCHS": 1,
    "TRAIN_IMAGES": 256,
    "IMAGES_PER_CLASS": 12,
    "WEIGHTS": str(TRANSFER_BASE),
    "IMAGE_SIZE": 32,
}
NOTEBOOKS = sorted(p.name for p in EXAMPLES.glob("*.ipynb"))


def run_notebook(name, cwd):
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    (index,) = [
        i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])
    ]
    names = [n for n in SMALL if n in nb.cells[index].source]
    nb.cells.insert(
        index + 1,
        nbformat.v4.new_code_cell("\n".join(f"{n} = {SMALL[n]!r}" for n in names)),
    )
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return nb


def outputs_of(nb, snippet):
    """The outputs of the first code cell whose source contains ``snippet``."""
    return next(
        c.outputs for c in nb.cells if c.cell_type == "code" and snippet in c.source
    )


def test_examples_are_stored_without_outputs():
    assert NOTEBOOKS == [
        "01_seeds_walkthrough.ipynb",
        "02_your_own_images.ipynb",
        "03_grad_cam.ipynb",
        "04_transfer_learning.ipynb",
    ]
    for name in NOTEBOOKS:
        nb = nbformat.read(EXAMPLES / name, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), name
        assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1, name


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, tmp_path):
    nb = run_notebook(name, tmp_path)
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors
    if name.startswith("01"):
        check_walkthrough(nb)
    if name.startswith("03"):
        check_grad_cam(nb)
    if name.startswith("04"):
        check_transfer(nb)


def check_walkthrough(nb):
    # The training bar is one display output updated in place (not a stream of lines), ending like Keras's.
    fit = outputs_of(nb, "model.fit(")
    bars = [
        o
        for o in fit
        if o.output_type in ("display_data", "update_display_data")
        and "text/html" in o.data
    ]
    assert bars, [o.output_type for o in fit]
    assert (
        "━" * 20 in bars[-1].data["text/plain"]
        and "/step" in bars[-1].data["text/plain"]
    )
    assert "<pre" in bars[-1].data["text/html"]
    streams = "".join(o.get("text", "") for o in fit if o.output_type == "stream")
    assert "━" not in streams and "Epoch 1/1" in streams
    # The summary is the Keras table, as text in the cell.
    summary = "".join(o.get("text", "") for o in outputs_of(nb, "model.summary()"))
    assert 'Model: "sequential"' in summary and "Total params: 225,034" in summary
    # Explain results show as pictures, with a one-line text form.
    for snippet in (
        "explain.filters(model)",
        "explain.feature_maps(model",
        "explain.grad_cam(model",
    ):
        (shown,) = [
            o for o in outputs_of(nb, snippet) if o.output_type == "execute_result"
        ]
        assert shown.data["image/png"] and len(shown.data["text/plain"]) < 200
        assert "array(" not in shown.data["text/plain"]


def check_grad_cam(nb):
    printed = "".join(o.get("text", "") for o in outputs_of(nb, "print(cam)"))
    assert (
        printed.startswith("<GradCAM class ")
        and "array" not in printed
        and len(printed) < 200
    )
    (report,) = [
        o for o in outputs_of(nb, "build_report(") if o.output_type == "execute_result"
    ]
    assert (
        "report.html" in report.data["text/html"]
        and "data:image/png;base64," in report.data["text/html"]
    )
    assert (
        report.data["text/plain"].startswith("<Report ")
        and len(report.data["text/plain"]) < 300
    )


def check_transfer(nb):
    printed = "".join(o.get("text", "") for o in outputs_of(nb, "mobilenet(WEIGHTS)"))
    assert "going on with random weights" not in printed and "all frozen" in printed
    summary = "".join(o.get("text", "") for o in outputs_of(nb, "model.summary()"))
    assert "Trainable params: 3,843 " in summary
    fit = "".join(o.get("text", "") for o in outputs_of(nb, "history = model.fit("))
    assert "every base weight unchanged, BN statistics included: True" in fit
    printed = "".join(o.get("text", "") for o in outputs_of(nb, "print(cam)"))
    assert printed.count("/out_relu'") == 1, printed
