"""MkDocs hooks (``hooks:`` in mkdocs.yml): the Keras-compatibility table, generated at build time.

``docs/keras_names.json`` lists every public name of the Keras 3 namespaces cnnlab mirrors (written once from
real Keras by ``scripts/make_keras_names.py``); the table says, for each, whether ``cnnlab.keras`` has it now,
by looking it up in cnnlab's own namespaces. A page holding the marker below gets the table in its place.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

MARKER = "<!-- keras-names-table -->"
README_MARKER = re.compile(r"<!-- readme: (## .+?) -->")
ROOT = Path(__file__).resolve().parents[1]
NAMES_FILE = ROOT / "docs" / "keras_names.json"
README = ROOT / "README.md"
MODULES_MARKER = re.compile(r"<!-- modules: ([\w.]+) -->")


def cnnlab_namespace(space):
    """``cnnlab.keras.<space>`` (a submodule, or an attribute as ``keras.optimizers.schedules``), or None."""
    try:
        return importlib.import_module(f"cnnlab.keras.{space}")
    except ModuleNotFoundError:
        node = importlib.import_module("cnnlab.keras")
    for part in space.split("."):
        node = getattr(node, part, None)
        if node is None:
            return None
    return node


def readme_section(heading, up=""):
    """The body of the README section ``heading`` (its ``## `` line up to the next one), with the README's
    ``docs/...`` image paths made relative to the page (``up``: ``"../"`` per folder level of the page):
    the README stays the one copy of the text."""
    text = README.read_text(encoding="utf-8")
    lines = text.splitlines()
    try:
        start = lines.index(heading) + 1
    except ValueError:
        raise ValueError(
            f"docs: README.md has no section {heading!r}; the page that includes it needs updating. "
            f"Received: sections {[line for line in lines if line.startswith('## ')]}"
        ) from None
    end = next(
        (i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines)
    )
    return "\n".join(lines[start:end]).replace("](docs/", f"]({up}")


def coverage():
    """``{namespace: [(name, kind, has), ...]}`` and the Keras version the names come from."""
    data = json.loads(NAMES_FILE.read_text(encoding="utf-8"))
    out = {}
    for space, names in data["namespaces"].items():
        module = cnnlab_namespace(space)
        out[space] = [
            (n, k, module is not None and hasattr(module, n))
            for n, k in sorted(names.items())
        ]
    return out, data["keras_version"]


def table_markdown():
    spaces, version = coverage()
    total = sum(len(v) for v in spaces.values())
    has = sum(h for v in spaces.values() for _, _, h in v)
    lines = [
        f"cnnlab has **{has} of the {total}** public names of these Keras {version} namespaces.",
        "",
        "| namespace | cnnlab has | Keras has |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| [`keras.{s}`](#keras{s.replace('.', '')}) | {sum(h for _, _, h in v)} | {len(v)} |"
        for s, v in spaces.items()
    ]
    for space, rows in spaces.items():
        lines += [
            "",
            f"### keras.{space}",
            "",
            "| name | kind | in cnnlab |",
            "|---|---|:---:|",
        ]
        lines += [f"| `{n}` | {k} | {'yes' if h else '—'} |" for n, k, h in rows]
    return "\n".join(lines) + "\n"


def modules_markdown(package):
    """One mkdocstrings block per module of ``package``, listed from the files at build time (a new module
    gets its reference without editing the page)."""
    folder = ROOT.joinpath(*package.split("."))
    names = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
    return "\n".join(
        f"::: {package}.{n}\n    options:\n      heading_level: 2\n" for n in names
    )


def on_page_markdown(markdown, page, config, files):
    markdown = MODULES_MARKER.sub(lambda m: modules_markdown(m.group(1)), markdown)
    up = "../" * page.file.src_uri.count("/")
    markdown = README_MARKER.sub(lambda m: readme_section(m.group(1), up), markdown)
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, table_markdown())
    return markdown
