"""HTML building blocks of the meeting pack: escaping, number formats, tables, panels, tiles.

Every text from the data goes through `esc`; only `Safe` strings (HTML this module built)
pass unescaped.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Callable, Iterable

import pandas as pd

DASH = "\u2014"


class Safe(str):
    """A string of HTML built here, already escaped. Adding text to it escapes the text."""

    def __add__(self, other) -> "Safe":
        return Safe(str.__add__(self, esc(other)))

    def __radd__(self, other) -> "Safe":
        return Safe(str.__add__(esc(other), self))


def esc(value) -> Safe:
    """Escape any value for HTML text or attributes; `Safe` values pass through."""
    if isinstance(value, Safe):
        return value
    return Safe(html.escape("" if is_missing(value) else str(value), quote=True))


def join(parts: Iterable) -> Safe:
    return Safe("".join(esc(p) for p in parts))


def tag(name: str, body="", cls: str = "", **attrs) -> Safe:
    """<name class=cls attrs...>body</name>; attribute names use _ for - (data_chart -> data-chart)."""
    attrs = {"class": cls, **attrs} if cls else attrs
    rendered = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None)
    return Safe(f"<{name}{rendered}>{esc(body)}</{name}>")


def is_missing(value) -> bool:
    """None, NaN, NA or NaT."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def truthy(value) -> bool | None:
    """True/False, or None when missing (nullable booleans)."""
    return None if is_missing(value) else bool(value)


# ---- number formats (plain text; callers escape) -------------------------------------------

def num(value, digits: int = 0) -> str:
    return DASH if is_missing(value) else f"{float(value):,.{digits}f}"


def money(value) -> str:
    """Currency amounts (reporting currency), rounded to whole units."""
    return DASH if is_missing(value) else f"{float(value):,.0f}"


def signed_money(value) -> str:
    return DASH if is_missing(value) else f"{float(value):+,.0f}"


def signed_num(value, digits: int = 0) -> str:
    """A change in units: always signed."""
    return DASH if is_missing(value) else f"{float(value):+,.{digits}f}"


def date_text(value) -> str:
    """A date as YYYY-MM-DD (no time of day)."""
    return DASH if is_missing(value) else f"{pd.Timestamp(value):%Y-%m-%d}"


def pct(value, digits: int = 1, fraction: bool = False) -> str:
    """A percentage; `fraction=True` when the value is 0-1 (0.25 -> 25.0%)."""
    if is_missing(value):
        return DASH
    return f"{float(value) * (100 if fraction else 1):,.{digits}f}%"


def by_unit(value, unit: str, with_unit: bool = True) -> str:
    """A KPI value in its unit (%, currency, turns/year, count...); `with_unit=False` drops a
    unit that is not % (for tiles and tables that show the unit elsewhere)."""
    unit = "" if is_missing(unit) else str(unit)
    if unit == "%":
        return pct(value)
    if unit in ("currency", "usd", "$"):
        return money(value)
    if is_missing(value):
        return DASH
    digits = 0 if float(value).is_integer() else 1
    return f"{num(value, digits)} {unit}".strip() if with_unit else num(value, digits)


def plain_unit(unit) -> str:
    """The unit shown beside a number formatted with `by_unit(..., with_unit=False)`."""
    return "" if is_missing(unit) or str(unit) in ("%", "currency", "usd", "$") else str(unit)


# ---- blocks ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Col:
    """A table column: dataframe column, header, formatter (value -> str or Safe), right-aligned?"""

    key: str
    label: str
    fmt: Callable | None = None
    numeric: bool = False


def ncol(key: str, label: str, fmt: Callable = num) -> Col:
    """A right-aligned numeric column."""
    return Col(key, label, fmt, numeric=True)


def table(df: pd.DataFrame, columns: list[Col], cls: str = "", max_rows: int | None = None,
          row_cls: Callable[[pd.Series], str] | None = None) -> Safe:
    """A table of `df` with the given columns (those `df` lacks are left out)."""
    columns = [c for c in columns if c.key in df.columns]
    shown = df if max_rows is None else df.head(max_rows)
    head = join(tag("th", c.label, cls="num" if c.numeric else "") for c in columns)
    body = []
    for _, row in shown.iterrows():
        cells = [tag("td", c.fmt(row[c.key]) if c.fmt else row[c.key], cls="num" if c.numeric else "")
                 for c in columns]
        body.append(tag("tr", join(cells), cls=row_cls(row) if row_cls else ""))
    more = ""
    if max_rows is not None and len(df) > max_rows:
        more = tag("p", f"{len(df) - max_rows} more rows in the mart.", cls="note")
    grid_html = tag("table", tag("thead", tag("tr", head)) + tag("tbody", join(body)), cls=cls)
    return Safe(tag("div", grid_html, cls="table-wrap") + more)


def panel(title: str, body, panel_id: str, note: str = "", wide: bool = False) -> Safe:
    heading = tag("h3", title) + (tag("p", note, cls="note") if note else "")
    return tag("div", Safe(heading + esc(body)), cls="panel wide" if wide else "panel", id=panel_id)


def no_data_panel(title: str, reason: str, panel_id: str, wide: bool = False) -> Safe:
    body = tag("div", Safe(tag("strong", "No data yet") + " " + esc(f"({reason}).")), cls="no-data")
    return tag("div", Safe(tag("h3", title) + body), cls="panel wide no-data-panel" if wide else "panel no-data-panel",
               id=panel_id, data_no_data="true")


def grid(*panels) -> Safe:
    return tag("div", join(panels), cls="grid")


def badge(text: str, tone: str) -> Safe:
    """A small coloured label; tone good, bad, warn or neutral."""
    return tag("span", text, cls=f"badge {tone}")


def tone(is_good: bool | None) -> str:
    return "neutral" if is_good is None else ("good" if is_good else "bad")


def arrow(trend: str) -> str:
    return {"up": "\u25b2", "down": "\u25bc"}.get(str(trend), "\u25b6")


def tile(label: str, value: str, lines: list, tone_cls: str = "neutral", trend: str | None = None,
         trend_tone: str = "neutral", tile_id: str | None = None, unit: str = "") -> Safe:
    """A KPI tile: label, big value (+ small unit) with a trend arrow coloured by trend_tone, then context lines."""
    big = esc(value) + (tag("span", f" {unit}", cls="tile-unit") if unit else "")
    big += (Safe(" ") + tag("span", arrow(trend), cls=f"arrow {trend_tone}", title=f"trend {trend}")) if trend else ""
    body = tag("div", label, cls="tile-label") + tag("div", Safe(big), cls="tile-value")
    body += join(tag("div", line, cls="tile-line") for line in lines)
    return tag("div", Safe(body), cls=f"tile {tone_cls}", id=tile_id)


def tiles(items: Iterable[Safe]) -> Safe:
    return tag("div", join(items), cls="tiles")


def callout(title: str, items: list, tone_cls: str = "warn", more: int = 0) -> Safe:
    body = tag("strong", title) + tag("ul", join(tag("li", i) for i in items))
    if more:
        body += tag("p", f"... and {more} more in the mart.", cls="note")
    return tag("div", Safe(body), cls=f"callout {tone_cls}")


def auto_table(df: pd.DataFrame, max_rows: int = 10, max_cols: int = 8,
               skip: tuple[str, ...] = ("cycle", "cycle_id", "published_at", "release_id")) -> Safe:
    """A table of a mart whose columns are not known in advance (marts added later).

    Numbers are formatted by column name: *_pct percent, *value/revenue/cost/impact/margin money.
    """
    keys = [c for c in df.columns if c not in skip][:max_cols]
    return table(df, [_auto_col(df, k) for k in keys], cls="compact", max_rows=max_rows)


def _auto_col(df: pd.DataFrame, key: str) -> Col:
    label = key.replace("_", " ").capitalize()
    if pd.api.types.is_datetime64_any_dtype(df[key]):
        return Col(key, label, date_text)
    if not pd.api.types.is_numeric_dtype(df[key]) or pd.api.types.is_bool_dtype(df[key]):
        return Col(key, label)
    name = key.lower()
    if name.endswith("_pct") or name.endswith("_rate"):
        return ncol(key, label, pct)
    if any(w in name for w in ("value", "revenue", "cost", "impact", "margin", "usd", "amount")):
        return ncol(key, label, money)
    if name in ("probability", "share") or name.endswith("_share"):
        return ncol(key, label, lambda v: pct(v, 0, fraction=True))
    values = df[key].dropna()
    if pd.api.types.is_integer_dtype(df[key]) or (len(values) and (values == values.round()).all()):
        return ncol(key, label, num)
    return ncol(key, label, lambda v: num(v, 1))
