"""``cnnlab lesson NAME [--out DIR] [--lang ko|en]`` and ``cnnlab lesson --list``."""

from __future__ import annotations

import os

from ..errors import CnnlabError


def add(sub):
    p = sub.add_parser(
        "lesson",
        help="run a lesson: a seed's claim demonstrated and explained (Korean, English)",
        description="Run a lesson: it trains or probes a small model, measures the effect the seeds "
        "describe, draws a figure and writes a Markdown page in Korean and English. "
        "NAME 'all' runs every lesson and writes an index.",
    )
    p.add_argument(
        "name", nargs="?", metavar="NAME", help="the lesson (see --list), or 'all'"
    )
    p.add_argument("--list", action="store_true", help="list the lessons")
    p.add_argument(
        "--out",
        default=os.path.join("runs", "lessons"),
        metavar="DIR",
        help="folder for the page, the figure and the numbers (default runs/lessons)",
    )
    p.add_argument(
        "--lang", choices=("ko", "en"), help="only this language (default: both)"
    )
    p.add_argument(
        "--seed", type=int, default=0, metavar="N", help="random seed (default 0)"
    )
    return p


def run(args):
    from . import LANGS, canonical, get, names
    from . import run as run_lesson
    from .page import write_index

    langs = LANGS if args.lang is None else (args.lang,)
    if args.list or not args.name:
        for i, name in enumerate(names(), 1):
            lesson = get(name)
            summary = "  /  ".join(lesson.summary[lg] for lg in langs)
            print(f"{i:2d}. {name:<20} {summary}")
        if not args.list:
            print(
                "\nusage: cnnlab lesson NAME [--out DIR] [--lang ko|en]   (NAME 'all' runs every lesson)"
            )
        return 0
    try:
        todo = names() if args.name.lower() == "all" else [canonical(args.name)]
    except ValueError as e:
        raise CnnlabError(str(e)) from None
    runs = []
    for name in todo:
        done = run_lesson(name, out=args.out, lang=args.lang, seed=args.seed)
        runs.append(done)
        lesson = get(name)
        for lg in langs:
            print(f"# {lesson.title[lg]}\n")
            print(done.texts[lg].rstrip() + "\n")
        print(
            f"Wrote {', '.join(done.files)} (measured in {done.seconds:.1f} s, "
            f"{done.cpu_seconds:.1f} s of CPU time)\n"
        )
    if len(todo) > 1:
        index = write_index(
            os.path.join(args.out, "index.md"), runs, [get(n) for n in todo], langs
        )
        print(f"Wrote {index}")
    return 0
