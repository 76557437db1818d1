"""The Markdown page of a lesson (and the index of several)."""

from __future__ import annotations

import json

HEADINGS = {"ko": "한국어", "en": "English"}
MEASURED = {"ko": "측정값", "en": "Measured values"}
SECONDS = {"ko": "측정에 걸린 시간", "en": "time to measure"}


def render(lesson, texts, numbers, seconds, figure=None):
    """The page as a string: title, figure, one section per language, the numbers."""
    langs = list(texts)
    title = " · ".join(lesson.title[lg] for lg in langs)
    lines = [f"# {title}", ""]
    if figure:
        lines += [f"![{lesson.title.get('en', lesson.name)}]({figure})", ""]
    for lg in langs:
        if len(langs) > 1:
            lines += [f"## {HEADINGS[lg]}", ""]
        lines += [texts[lg].rstrip(), ""]
    label = " / ".join(MEASURED[lg] for lg in langs)
    when = " / ".join(SECONDS[lg] for lg in langs)
    lines += [
        f"<details><summary>{label} ({when}: {seconds:.1f} s)</summary>",
        "",
        "```json",
        json.dumps(numbers, indent=1, ensure_ascii=False),
        "```",
        "",
        "</details>",
        "",
    ]
    return "\n".join(lines)


def write(path, lesson, texts, numbers, seconds, figure=None):
    with open(path, "w", encoding="utf-8") as f:
        f.write(render(lesson, texts, numbers, seconds, figure))
    return path


def write_index(path, runs, lessons, langs):
    """``index.md`` linking every lesson page written into one folder."""
    lines = ["# cnnlab lessons", ""]
    for i, (run, lesson) in enumerate(zip(runs, lessons), 1):
        titles = " · ".join(lesson.title[lg] for lg in langs)
        lines.append(f"{i}. [{titles}]({lesson.name}.md) ({run.seconds:.1f} s)")
    lines.append("")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return path
