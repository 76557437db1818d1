"""The lessons (``cnnlab lesson NAME``): every effect a lesson claims is asserted here,
with a margin a broken implementation would miss, and a control where one is cheap.

Each lesson is measured once, with small settings, by a module-level fixture; the
tests then read its numbers, render its pages and draw its figure.
"""

import dataclasses
import json
import math
import re
import sys

import numpy as np
import pytest

from cnnlab import cli, lessons
from cnnlab import random as cnn_random
from cnnlab.keras.backend import clear_session
from cnnlab.lessons import base, optimizers, vanishing_gradients

HANGUL = re.compile("[\uac00-\ud7a3]")

#: lesson -> settings small enough for the test suite (the CLI uses the defaults)
SMALL = {
    "convolution": {},
    "nonlinearity": {"n": 300, "epochs": 25},
    "vanishing-gradients": {"batch": 128},
    "dying-relu": {"epochs": 2, "recovery_epochs": 1, "n_train": 1000},
    "weight-sharing": {},
    "pooling-invariance": {
        "epochs": 2,
        "n_train": 1000,
        "n_test": 200,
        "shifts": (2, 3),
    },
    "overfitting": {"epochs": 12, "n_val": 200},
    "learning-rate": {"n": 1000, "updates": 600, "batch_sizes": (32, 1000)},
    "optimizers": {"epochs": 1, "n": 1000},
    "initialization": {"epochs": 2, "n": 1000},
    "filters": {"epochs": 3},
}


@pytest.fixture(autouse=True)
def fresh_layer_names():
    yield
    clear_session()


@pytest.fixture(scope="module")
def measured():
    """Every lesson's result with the small settings, computed on first use."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = lessons.get(name).measure(seed=0, **SMALL[name])
        return cache[name]

    return get


# --------------------------------------------------------------------------- the registry and the pages


def test_eleven_lessons_in_teaching_order():
    assert lessons.names() == [
        "convolution",
        "nonlinearity",
        "vanishing-gradients",
        "dying-relu",
        "weight-sharing",
        "pooling-invariance",
        "overfitting",
        "learning-rate",
        "optimizers",
        "initialization",
        "filters",
    ]
    assert lessons.canonical("Dying_ReLU") == "dying-relu"
    with pytest.raises(ValueError, match="unknown lesson 'nope'"):
        lessons.get("nope")
    for name in lessons.names():
        lesson = lessons.get(name)
        assert lesson.name == name
        for lang in ("ko", "en"):
            assert lesson.title[lang] and lesson.summary[lang]
        assert HANGUL.search(lesson.title["ko"]) and not HANGUL.search(
            lesson.title["en"]
        )


@pytest.mark.parametrize("name", list(SMALL))
def test_every_lesson_explains_itself_in_both_languages_and_draws(
    name, measured, tmp_path
):
    lesson, result = lessons.get(name), measured(name)
    ko, en = lesson.text(result, "ko"), lesson.text(result, "en")
    assert len(HANGUL.findall(ko)) > 200, "the Korean text is written in Korean"
    assert not HANGUL.search(en), "the English text has no Korean in it"
    for text in (ko, en):
        assert "{" not in text and "}" not in text, "no unfilled placeholders"
        assert not re.search(r"\b(nan|inf)\b", text), (
            "no number formatted as nan or inf"
        )
    numbers = result.numbers()
    json.dumps(numbers)  # the numbers are plain JSON
    path = lesson.plot(result, str(tmp_path / f"{name}.png"))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_each_lesson_has_one_template_per_language_and_every_name_is_passed():
    """The texts are package data (cnnlab/lessons/templates/LANG/NAME.md), one per lesson and language;
    a template that uses a value its lesson does not pass fails instead of printing nothing."""
    from importlib.resources import files

    import jinja2

    from cnnlab.lessons import prose

    root = files("cnnlab.lessons") / "templates"
    for lang in base.LANGS:
        assert sorted(p.name for p in (root / lang).iterdir()) == sorted(
            f"{n}.md" for n in lessons.names()
        )
    with pytest.raises(jinja2.UndefinedError, match="'r' is undefined"):
        prose.render("filters", "en")


def test_without_jinja2_a_lesson_says_which_extra_to_install(monkeypatch, measured):
    from cnnlab.errors import CnnlabError
    from cnnlab.lessons import prose

    monkeypatch.setitem(sys.modules, "jinja2", None)  # import jinja2 raises ImportError
    prose.environment.cache_clear()
    try:
        with pytest.raises(CnnlabError, match=r"pip install 'cnnlab\[lessons\]'"):
            lessons.get("convolution").text(measured("convolution"), "en")
    finally:
        prose.environment.cache_clear()


def test_the_texts_sentences_follow_the_measurement(measured):
    """The templates' {% if %} branches: each alternative sentence appears when the measurement says so."""
    conv, dying = measured("convolution"), measured("dying-relu")
    text = lessons.get("convolution").text
    assert "(checked: flipped filter = −filter) so" in text(conv, "en")
    assert "flipped\nso the true" in text(
        dataclasses.replace(conv, flip_is_negation=False), "en"
    )
    assert "readings that would: none)" in text(
        conv, "en"
    ) and "경우는 없습니다." in text(conv, "ko")
    seen = dataclasses.replace(conv, variants_giving_seed_answer=["transposed input"])
    assert "would: transposed input)" in text(
        seen, "en"
    ) and "경우는 transposed input." in text(seen, "ko")
    # the Korean sentence that ends its line keeps the line break after it, in both branches
    text = lessons.get("dying-relu").text
    assert "움직이지 않습니다.\nLeaky ReLU에서" in text(
        dataclasses.replace(dying, relu_dead_weights_changed=0), "ko"
    )
    moved = text(dataclasses.replace(dying, relu_dead_weights_changed=0.5), "ko")
    assert "입니다.\nLeaky ReLU에서" in moved and "한 비트도" not in moved
    assert "came back: with a gradient of exactly 0" in text(
        dataclasses.replace(dying, relu_dead_weights_changed=0), "en"
    )


def test_the_korean_texts_use_the_seeds_terms(measured):
    korean = " ".join(lessons.get(n).text(measured(n), "ko") for n in lessons.names())
    for term in (
        "합성곱",
        "필터",
        "스트라이드",
        "패딩",
        "풀링",
        "특징 맵",
        "활성화 함수",
        "과적합",
        "학습률",
        "기울기 소실",
        "가중치 공유",
        "최대 풀링",
        "완전연결층",
        "역전파",
        "에포크",
    ):
        assert term in korean, term
    # the glossary's spellings, not the variants
    for variant in ("특징맵", "피처맵", "피쳐맵", "활성함수", "오버피팅"):
        assert variant not in korean, variant


def test_lessons_leave_the_callers_random_state_alone():
    before = cnn_random.generator().bit_generator.state
    np_before = np.random.get_state()[1].copy()
    lessons.get("vanishing-gradients").measure(seed=3, depth=2, batch=16)
    assert cnn_random.generator().bit_generator.state == before
    assert np.array_equal(np.random.get_state()[1], np_before)


# --------------------------------------------------------------------------- 1. convolution


def test_convolution_seed_000_traced_and_corrected(measured):
    r = measured("convolution")
    assert [p[2] for p in r.products] == [1, 0, -1, 0, 0, -3, 2, 0, 0]
    assert r.first_value == -1 == sum(p[2] for p in r.products)
    assert r.feature_map == [[-1, 1], [-1, -3]]
    assert r.seed_answer == [[3, 1], [2, 0]] and r.seed_cells_wrong == 3
    assert r.variants_giving_seed_answer == []
    assert r.true_convolution == [[1, -1], [1, 3]]
    assert r.flip_is_negation and r.definition_matches_flipped
    assert r.symmetric_filter_agrees  # the control: symmetric filters agree both ways


def test_convolution_output_sizes_from_shapes_match_the_ops(measured):
    r = measured("convolution")
    assert [row["actual"] for row in r.sizes] == [2, 3, 5, 26, 24, 3, 14]
    assert all(row["formula"] == row["actual"] for row in r.sizes)
    same = r.sizes[-1]
    assert same["pads"] == [0, 1] and same["arithmetic"].endswith("= 14")
    assert r.seed_formula_5x5 == [3, 2] and r.true_size_5x5 == [
        3,
        3,
    ]  # the seed's typo, shown


# --------------------------------------------------------------------------- 2. nonlinearity


def test_dense_stack_without_activation_is_one_affine_map(measured):
    r = measured("nonlinearity")
    assert r.collapse_residual < 1e-5
    assert r.relu_affine_residual > 0.5  # the control: ReLU's stack is not affine


def test_only_relu_solves_the_rings(measured):
    r = measured("nonlinearity")
    assert r.linear_accuracy < 0.65
    assert r.relu_accuracy > 0.95


# --------------------------------------------------------------------------- 3. vanishing gradients


def test_sigmoid_first_layer_gradient_is_orders_of_magnitude_smaller(measured):
    r = measured("vanishing-gradients")
    assert r.first_layer_ratio < 1 / 100
    assert r.sigmoid_first_over_last < 1e-3
    assert 0.1 < r.relu_he_first_over_last < 10  # ReLU + He keeps the gradient's size
    assert (
        r.shallow_first_layer_ratio > 1 / 100
    )  # the control: two layers do not vanish


def test_gradient_norms_agree_with_one_sgd_step():
    """The lesson's gradients (layer.backward on the caches) are the ones training applies."""
    from cnnlab import keras

    (x, y), _ = base.mnist(flat=True)
    x, y = x[:64], y[:64]
    with base.seeded(0):
        model = vanishing_gradients.build("relu", "he_normal", 3, 32)
    norms = vanishing_gradients.kernel_gradient_norms(model, x, y)
    before = [layer.get_weights()[0] for layer in model.layers]
    model.compile(
        optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy"
    )
    model.train_on_batch(x, y)
    stepped = [
        np.linalg.norm(b - layer.get_weights()[0]) / 0.1
        for b, layer in zip(before, model.layers)
    ]
    np.testing.assert_allclose(stepped, norms, rtol=1e-3)


# --------------------------------------------------------------------------- 4. dying ReLU


def test_a_large_learning_rate_kills_relu_units(measured):
    r = measured("dying-relu")
    assert r.relu_dead_normal < 0.15
    assert r.relu_dead_large > r.relu_dead_normal + 0.2
    assert r.leaky_dead_large < r.relu_dead_large


def test_dead_relu_units_never_move_again_leaky_ones_do(measured):
    r = measured("dying-relu")
    assert r.relu_first_layer_dead > 5
    assert r.relu_dead_weights_changed == 0 and r.relu_revived == 0
    assert (
        r.leaky_first_layer_silent > 0 and r.leaky_silent_weights_changed > 0.9
    )  # the control


# --------------------------------------------------------------------------- 5. weight sharing


def test_conv_vs_dense_parameters(measured):
    r = measured("weight-sharing")
    first = r.cases[0]
    assert (first["conv"], first["locally_connected"], first["dense"]) == (
        320,
        216_320,
        16_981_120,
    )
    assert (r.cases[1]["conv"], r.cases[1]["dense"]) == (260, 4_521_600)
    assert r.cases[2]["conv"] == 18_496
    assert r.conv_layer_params == [c["conv"] for c in r.cases]


def test_a_conv_layer_is_a_dense_layer_with_shared_weights(measured):
    r = measured("weight-sharing")
    assert r.dense_equivalent_residual < 1e-5
    assert (
        r.dense_matrix_entries,
        r.dense_matrix_nonzero,
        r.distinct_nonzero_values,
    ) == (1152, 288, 18)
    assert r.reuse_per_weight == 16
    assert r.shift_residual_conv < 1e-6  # moving the input moves the feature map
    assert r.shift_residual_dense > 0.1  # the control: a Dense layer does not


# --------------------------------------------------------------------------- 6. pooling invariance


def test_max_pooling_ignores_a_move_inside_its_window_exactly(measured):
    r = measured("pooling-invariance")
    assert r.inside_window_unchanged is True
    assert (
        r.across_window_changed_cells > 4
    )  # the control: crossing window edges changes it
    assert 0 < r.digits_cells_unchanged < 1


def test_pooling_keeps_features_and_predictions_under_shifts(measured):
    r = measured("pooling-invariance")
    pool, flat = (
        r.feature_similarity["with max pooling"],
        r.feature_similarity["without pooling"],
    )
    assert all(p > f + 0.15 for p, f in zip(pool, flat))
    assert r.agreement["with max pooling"][-1] > r.agreement["without pooling"][-1]


# --------------------------------------------------------------------------- 7. overfitting


def test_dropout_shrinks_the_overfitting_gap(measured):
    r = measured("overfitting")
    nd, dr = list(r.curves)
    assert r.curves[nd]["train_accuracy"][-1] >= 0.98  # the small sample is memorized
    assert r.gap[nd] > 0.2
    assert r.gap[dr] < r.gap[nd] - 0.05
    assert len(r.curves[nd]["val_loss"]) == r.epochs


# --------------------------------------------------------------------------- 8. learning rate and batch size


def test_too_large_a_rate_diverges_to_nan_and_is_caught(measured):
    r = measured("learning-rate")
    assert r.diverged == {
        "too small": False,
        "good": False,
        "just below the limit": False,
        "just above the limit": True,
    }
    assert r.stopped_at["just above the limit"] is not None
    assert "Invalid loss" in r.message and r.weights_finite_after


def test_too_small_a_rate_crawls(measured):
    r = measured("learning-rate")
    assert r.final_loss["too small"] > 2 * r.final_loss["good"]
    assert 0 < r.good_passes_small_at < r.updates / 20


def test_an_epoch_is_ceil_n_over_batch_updates(measured):
    r = measured("learning-rate")
    assert r.steps_per_epoch == r.expected_steps == [math.ceil(1000 / 32), 1]
    assert r.mnist_steps_batch_32 == 1875


# --------------------------------------------------------------------------- 9. optimizers


def test_adagrad_effective_step_only_shrinks(measured):
    r = measured("optimizers")
    assert r.adagrad_step_increases == 0
    assert r.rmsprop_step_increases > 1000  # the control: RMSprop's step grows
    never = next(iter(optimizers.GROUPS))
    assert r.adagrad_step_end[never] == pytest.approx(
        0.01 / math.sqrt(0.1 + 1e-7), rel=1e-5
    )
    for group in optimizers.GROUPS:
        assert r.adagrad_step_end[group] <= r.adagrad_step_start[group]


def test_adaptive_and_momentum_beat_plain_sgd(measured):
    r = measured("optimizers")
    for name in ("SGD + momentum", "RMSprop", "Adam"):
        assert r.final_loss[name] < r.final_loss["SGD"] - 0.2


# --------------------------------------------------------------------------- 10. initialization


def test_zeros_never_break_the_symmetry(measured):
    r = measured("initialization")
    assert r.distinct_units["zeros"] == 1 and r.zeros_weight_norm == 0
    assert abs(r.final_loss["zeros"] - r.chance_loss) < 0.05
    assert r.sigmoid_zeros_weight_norm > 0.01  # the weights did move ...
    assert (
        r.sigmoid_zeros_distinct_units == [1, 1] and r.sigmoid_zeros_spread == 0
    )  # ... all alike


def test_random_initializations_break_it(measured):
    r = measured("initialization")
    for name in ("Gaussian σ=0.05", "Glorot (Xavier)", "He"):
        assert r.distinct_units[name] == r.width
    assert r.final_loss["He"] < 1.0 and r.final_loss["Glorot (Xavier)"] < 1.0


# --------------------------------------------------------------------------- 11. filters


def test_filters_take_shape_when_trained(measured):
    r = measured("filters")
    assert r.accuracy_before < 0.2 and r.accuracy_after > 0.8
    assert r.relative_change > 0.2
    assert r.smoothness_after > r.smoothness_before + 0.1
    assert (
        abs(r.smoothness_before) < 0.15
    )  # random filters: neighbouring weights unrelated


# --------------------------------------------------------------------------- the command line


def run_cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_list(capsys):
    code, out, _ = run_cli(capsys, "lesson", "--list")
    assert code == 0
    for name in lessons.names():
        assert name in out
    code, out, _ = run_cli(capsys, "lesson", "--list", "--lang", "en")
    assert code == 0 and not HANGUL.search(out)


def test_cli_writes_page_figure_and_numbers_in_both_languages(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "lesson", "convolution", "--out", tmp_path)
    assert code == 0
    page = (tmp_path / "convolution.md").read_text(encoding="utf-8")
    assert (
        "## 한국어" in page
        and "## English" in page
        and "![" in page
        and "(convolution.png)" in page
    )
    assert (tmp_path / "convolution.png").read_bytes()[:4] == b"\x89PNG"
    numbers = json.loads((tmp_path / "convolution.json").read_text(encoding="utf-8"))[
        "numbers"
    ]
    assert numbers["feature_map"] == [[-1, 1], [-1, -3]]
    assert "특징 맵" in out and "feature map" in out


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_cli_one_language(capsys, tmp_path, lang):
    code, out, _ = run_cli(
        capsys, "lesson", "weight_sharing", "--out", tmp_path, "--lang", lang
    )
    assert code == 0
    page = (tmp_path / "weight-sharing.md").read_text(encoding="utf-8")
    body = out.split("Wrote ")[0]
    if lang == "ko":
        assert (
            HANGUL.search(body)
            and "Seed 002 gives" not in body
            and "## English" not in page
        )
    else:
        assert not HANGUL.search(body) and not HANGUL.search(page)


def test_cli_unknown_lesson(capsys):
    code, _, err = run_cli(capsys, "lesson", "backprop")
    assert code == 2 and "unknown lesson 'backprop'" in err and "convolution" in err
