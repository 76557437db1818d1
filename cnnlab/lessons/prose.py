"""The lessons' words, kept out of the code: one Jinja2 template per lesson and language.

``templates/ko/convolution.md`` is the Korean text of the convolution lesson, ``templates/en/...`` the
English one; a translator copies a language's folder and rewrites the sentences, leaving what is inside
``{{ ... }}`` (a measured number) and ``{% if ... %}`` (a sentence that depends on the measurement) as it is.
A lesson's ``text(result, lang)`` computes the values and calls :func:`render`.

What a template can use besides the values its lesson passes:

* ``r``: the lesson's result (``r.epochs``, ``r.accuracy["ReLU"]``, ...), passed by every lesson;
* ``fmt(x, digits=3)``, ``pct(x, digits=1)``: a number and a share for the prose (see :mod:`.base`);
* ``table(header, rows)``: a Markdown table, the header written in the template, the rows from the lesson;
* ``x|spec(",")``: Python's format specification (``"{:,}".format(x)``), for thousands and ``"g"``;
* ``min``, ``max``.

Jinja2 is in the ``lessons`` extra (``pip install "cnnlab[lessons]"``, also in ``cli``): its ``{% if %}``
keeps a sentence's alternatives in the template, where :class:`string.Template` would have to build them
in Python, one per language, which is what the templates are for taking out.
"""

from __future__ import annotations

from functools import lru_cache

from ..errors import CnnlabError
from .base import fmt, markdown_table, pct


@lru_cache(maxsize=1)
def environment():
    """The Jinja2 environment reading ``cnnlab/lessons/templates`` (package data)."""
    try:
        import jinja2
    except ImportError:
        raise CnnlabError(
            "cnnlab lesson needs Jinja2 (its texts are Jinja2 templates): pip install 'cnnlab[lessons]' "
            "(Jinja2, and matplotlib for the figures)."
        ) from None
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cnnlab.lessons", "templates"),
        # Markdown, not HTML: nothing to escape. A name the template uses but the lesson does not pass is
        # an error rather than an empty string in the page; the text ends with its newline, as written.
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # A line holding only {% for %} / {% endfor %} leaves nothing in the page (a table's rows read as
        # rows in the template). A line that must keep its newline after a tag ends in ``+%}``.
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(fmt=fmt, pct=pct, table=markdown_table, min=min, max=max)
    env.filters["spec"] = format
    return env


def render(lesson: str, lang: str, **values) -> str:
    """The text of ``lesson`` (its name, e.g. ``"dying-relu"``) in ``lang``, with ``values`` filled in."""
    return environment().get_template(f"{lang}/{lesson}.md").render(**values)
