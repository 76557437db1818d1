"""summary() prints exactly the table Keras 3 prints."""

import pytest

from cnnlab.model import summary as summary_mod

# Keras 3's summary of the seed-004 model at a width of 88 columns.
KERAS_SUMMARY_88 = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┓
┃ Layer (type)                         ┃ Output Shape                ┃         Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━┩
│ conv2d (Conv2D)                      │ (None, 26, 26, 32)          │             320 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ max_pooling2d (MaxPooling2D)         │ (None, 13, 13, 32)          │               0 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ conv2d_1 (Conv2D)                    │ (None, 11, 11, 64)          │          18,496 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ max_pooling2d_1 (MaxPooling2D)       │ (None, 5, 5, 64)            │               0 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ flatten (Flatten)                    │ (None, 1600)                │               0 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ dense (Dense)                        │ (None, 128)                 │         204,928 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ dense_1 (Dense)                      │ (None, 10)                  │           1,290 │
└──────────────────────────────────────┴─────────────────────────────┴─────────────────┘
 Total params: 225,034 (879.04 KB)
 Trainable params: 225,034 (879.04 KB)
 Non-trainable params: 0 (0.00 B)
"""


def captured(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return "".join(lines)


def test_summary_is_keras_text_at_88_columns(monkeypatch, seed004_model):
    monkeypatch.setenv("COLUMNS", "200")  # wide terminal: Keras caps the table at 88
    assert captured(seed004_model()) == KERAS_SUMMARY_88


def test_plain_fallback_draws_the_same_table(monkeypatch, seed004_model):
    def no_rich(*args, **kwargs):
        raise ImportError("rich")

    monkeypatch.setattr(summary_mod, "_rich_table", no_rich)
    assert captured(seed004_model(), line_length=88) == KERAS_SUMMARY_88


@pytest.mark.parametrize("columns, width", [("80", 76), ("60", 56)])
def test_width_follows_the_terminal(monkeypatch, columns, width, seed004_model):
    monkeypatch.setenv("COLUMNS", columns)
    text = captured(seed004_model())
    assert {len(line) for line in text.splitlines()[1:16]} == {width}


def test_formula_column_shows_parameter_arithmetic(seed004_model):
    text = captured(seed004_model(), show_formula=True, line_length=118)
    assert "3*3*1*32 + 32 = 320" in text
    assert "3*3*32*64 + 64 = 18,496" in text
    assert "1600*128 + 128 = 204,928" in text


def test_size_in_kilobytes_uses_1024():
    assert summary_mod.readable_size(225_034 * 4) == "879.04 KB"
    assert summary_mod.readable_size(0) == "0.00 B"


def test_optimizer_params_after_fit(seed004_model):
    import numpy as np

    model = seed004_model()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.train_on_batch(np.zeros((2, 28, 28, 1), np.float32), np.array([0, 1]))
    text = captured(model, line_length=88)
    assert " Optimizer params: 450,070 (1.72 MB)" in text
    assert " Total params: 675,104 (2.58 MB)" in text
