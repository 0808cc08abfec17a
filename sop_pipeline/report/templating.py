"""The Jinja2 environment of the meeting pack.

The markup lives in `templates/*.html.j2` (shipped as package data). Autoescaping is on for
every template: each value from the data is escaped when rendered, and only `Markup` passes as
is: the output of other templates and macros, and fragments built deliberately elsewhere (the
Plotly chart divs, the stylesheet, plotly.js), which are marked with `trusted`.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

ENV = Environment(
    loader=PackageLoader("sop_pipeline.report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def macros(template: str):
    """The macros of a template, callable from Python (each returns `Markup`)."""
    return ENV.get_template(template).module


def render(template: str, **values) -> str:
    """A whole template rendered with `values`."""
    return ENV.get_template(template).render(**values)


def trusted(fragment: str) -> Markup:
    """Mark HTML/CSS/JS that this package built (not text from the data) as safe to embed as is."""
    return Markup(fragment)


__all__ = ["ENV", "Markup", "macros", "render", "trusted"]
