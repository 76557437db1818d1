"""``summary()`` of a functional model is byte for byte the text Keras 3.15.1 prints for the same model
(tests/fixtures/keras/<name>_summary_<line length>.txt, captured with print_fn by
scripts/make_keras_fixtures.py, COLUMNS=200 for Keras's default width): the InputLayer rows, a
nested model as one row, the ``Connected to`` column of a branching graph, Keras's widths."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cnnlab import keras
from cnnlab.layers import clear_session

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
sys.path.insert(0, str(FIXTURES))
import fixture_models  # noqa: E402

pytest.importorskip(
    "rich"
)  # Keras draws the table with rich; so does cnnlab when it is installed


@pytest.mark.parametrize("line_length", fixture_models.SUMMARY_LINE_LENGTHS)
@pytest.mark.parametrize("name", fixture_models.SUMMARIES)
def test_functional_summary_is_keras_s_text(name, line_length, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    clear_session()
    model = fixture_models.GRAPHS[name][0](keras)
    lines = []
    model.summary(line_length=line_length, print_fn=lines.append)
    expected = (FIXTURES / f"{name}_summary_{line_length or 'default'}.txt").read_text(
        encoding="utf-8"
    )
    assert "".join(lines) == expected


@pytest.mark.parametrize("name", fixture_models.SUMMARIES)
def test_a_loaded_keras_file_prints_the_same_summary(name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    model = keras.models.load_model(FIXTURES / f"{name}.keras")
    lines = []
    model.summary(print_fn=lines.append)
    assert "".join(lines) == (FIXTURES / f"{name}_summary_default.txt").read_text(
        encoding="utf-8"
    )


def test_without_rich_the_plain_table_wraps_cells_the_same_way(monkeypatch):
    from cnnlab.model import summary

    monkeypatch.setenv("COLUMNS", "200")
    clear_session()
    model = fixture_models.residual_model(keras)

    def no_rich(*args, **kwargs):
        raise ImportError("rich")

    monkeypatch.setattr(summary, "_rich_table", no_rich)
    text = summary.render(model)
    assert text == (FIXTURES / "residual_summary_default.txt").read_text(
        encoding="utf-8"
    )
