"""Lessons: every claim the seeds make, demonstrated on real data, in Korean and English.

Each lesson trains or probes a small model on the MNIST sample bundled with
cnnlab (or on synthetic data), measures the effect the seeds describe, draws
one figure and explains it in both languages, with the seeds' own terms
(합성곱, 필터, 스트라이드, 패딩, 풀링, 특징 맵, 활성화 함수, 과적합, 학습률)::

    from cnnlab import lessons
    run = lessons.run("vanishing-gradients", out="runs/lessons")
    run.numbers["first_layer_ratio"]            # sigmoid / (ReLU + He), about 1e-6

or ``cnnlab lesson vanishing-gradients --out runs/lessons``. The measured
effects are asserted in ``tests/faces/test_lessons.py``.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from dataclasses import dataclass, field

from .base import LANGS, Lesson

#: Lesson name -> module, in teaching order.
MODULES = {
    "convolution": "convolution",
    "nonlinearity": "nonlinearity",
    "vanishing-gradients": "vanishing_gradients",
    "dying-relu": "dying_relu",
    "weight-sharing": "weight_sharing",
    "pooling-invariance": "pooling_invariance",
    "overfitting": "overfitting",
    "learning-rate": "learning_rate",
    "optimizers": "optimizers",
    "initialization": "initialization",
    "filters": "filters",
}


def names():
    """Every lesson's name, in teaching order."""
    return list(MODULES)


def canonical(name):
    """``"dying_relu"``, ``"Dying-ReLU"`` -> ``"dying-relu"``; ``ValueError`` naming the lessons otherwise."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in MODULES:
        raise ValueError(
            f"unknown lesson {name!r}. Lessons: {', '.join(MODULES)} (or 'all')"
        )
    return key


def get(name) -> Lesson:
    """The :class:`~cnnlab.lessons.base.Lesson` called ``name``."""
    return importlib.import_module(f".{MODULES[canonical(name)]}", __name__).LESSON


@dataclass
class LessonRun:
    """What :func:`run` returns: the measured result and the files written."""

    name: str
    result: object  # the lesson's result dataclass
    numbers: dict  # result.numbers(): the measured values
    seconds: float  # time to measure (training included)
    texts: dict  # lang -> Markdown body
    files: list = field(default_factory=list)
    cpu_seconds: float = 0.0  # CPU time of the measuring, all threads (less moved by other work than seconds)

    @property
    def page(self):
        return next((f for f in self.files if f.endswith(".md")), None)

    @property
    def figure(self):
        return next((f for f in self.files if f.endswith(".png")), None)


def run(name, out=None, lang=None, seed=0, **settings) -> LessonRun:
    """Measure lesson ``name``; with ``out``, also draw its figure and write its page.

    ``lang`` (``"ko"`` or ``"en"``) keeps one language, both by default.
    ``settings`` go to the lesson's ``measure`` (smaller settings run faster).
    Writes ``OUT/NAME.md``, ``OUT/NAME.png`` and ``OUT/NAME.json`` (the numbers).
    """
    from . import page

    lesson = get(name)
    langs = LANGS if lang is None else (_check_lang(lang),)
    start, cpu_start = time.perf_counter(), time.process_time()
    result = lesson.measure(seed=seed, **settings)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    numbers = result.numbers()
    texts = {lg: lesson.text(result, lg) for lg in langs}
    done = LessonRun(
        lesson.name, result, numbers, seconds, texts, cpu_seconds=cpu_seconds
    )
    if out is not None:
        os.makedirs(out, exist_ok=True)
        figure = os.path.join(out, f"{lesson.name}.png")
        try:
            lesson.plot(result, figure)
            done.files.append(figure)
        except ImportError:
            figure = None
        done.files.append(
            page.write(
                os.path.join(out, f"{lesson.name}.md"),
                lesson,
                texts,
                numbers,
                seconds,
                figure and os.path.basename(figure),
            )
        )
        numbers_path = os.path.join(out, f"{lesson.name}.json")
        with open(numbers_path, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "lesson": lesson.name,
                    "seconds": round(seconds, 2),
                    "cpu_seconds": round(cpu_seconds, 2),
                    "numbers": numbers,
                },
                f,
                indent=2,
                ensure_ascii=False,
            )
        done.files.append(numbers_path)
    return done


def _check_lang(lang):
    if lang not in LANGS:
        raise ValueError(
            f"lang must be one of {', '.join(LANGS)}. Received: lang={lang!r}"
        )
    return lang


__all__ = [
    "names",
    "canonical",
    "get",
    "run",
    "LessonRun",
    "Lesson",
    "LANGS",
    "MODULES",
]
