"""The shared pieces of the meeting pack (panels, tables, tiles, callouts, badges, charts).

Python decides what they show (which rows and columns, numbers formatted as text); the markup
is in `templates/components.html.j2`. Each function returns `Markup`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import pandas as pd
from markupsafe import Markup

from sop_pipeline.report.format import date_text, money, num, pct, text
from sop_pipeline.report.templating import macros


def _ui():
    return macros("components.html.j2")


# ---- tables -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    """A table column: dataframe column, header, formatter (value -> str or Markup), right-aligned?"""

    key: str
    label: str
    fmt: Callable | None = None
    numeric: bool = False


def ncol(key: str, label: str, fmt: Callable = num) -> Col:
    """A right-aligned numeric column."""
    return Col(key, label, fmt, numeric=True)


def table(
    df: pd.DataFrame,
    columns: list[Col],
    cls: str = "",
    max_rows: int | None = None,
    row_cls: Callable[[pd.Series], str] | None = None,
) -> Markup:
    """A table of `df` with the given columns (those `df` lacks are left out); past `max_rows`, a
    note says how many rows the mart has beyond those shown."""
    columns = [c for c in columns if c.key in df.columns]
    shown = df if max_rows is None else df.head(max_rows)
    headers = [{"label": c.label, "cls": "num" if c.numeric else None} for c in columns]
    rows = [
        {
            "cls": (row_cls(row) if row_cls else "") or None,
            "cells": [
                {"value": c.fmt(row[c.key]) if c.fmt else text(row[c.key]), "cls": "num" if c.numeric else None}
                for c in columns
            ],
        }
        for _, row in shown.iterrows()
    ]
    more = len(df) - max_rows if max_rows is not None and len(df) > max_rows else 0
    return _ui().table({"cls": cls or None, "headers": headers, "rows": rows, "more": more})


def auto_table(
    df: pd.DataFrame,
    max_rows: int = 10,
    max_cols: int = 8,
    skip: tuple[str, ...] = ("cycle", "cycle_id", "published_at", "release_id"),
) -> Markup:
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


# ---- panels -------------------------------------------------------------------------------------


def panel(title: str, body: Markup | list, panel_id: str, note: str = "", wide: bool = False) -> Markup:
    """A titled panel; `body` is rendered markup or a list of it (and plain text, escaped)."""
    return _ui().panel(title, body, panel_id, note=note, wide=wide)


def no_data_panel(title: str, reason: str, panel_id: str, wide: bool = False) -> Markup:
    return _ui().no_data_panel(title, reason, panel_id, wide=wide)


def nothing_panel(title: str, message: str, panel_id: str, wide: bool = False) -> Markup:
    return _ui().nothing_panel(title, message, panel_id, wide=wide)


def error_panel(name: str, message: str) -> Markup:
    return _ui().error_panel(name, message)


def chart(name: str, plot: Markup) -> Markup:
    """A figure holding a Plotly div (`plot`, marked trusted by the caller)."""
    return _ui().chart(name, plot)


# ---- tiles, callouts, badges -----------------------------------------------------------------------


def badge(label: str, tone: str) -> Markup:
    """A small coloured label; tone good, bad, warn or neutral."""
    return _ui().badge(label, tone)


def tile(
    label: str,
    value: str,
    lines: list,
    tone_cls: str = "neutral",
    trend: str | None = None,
    trend_tone: str = "neutral",
    tile_id: str | None = None,
    unit: str = "",
) -> Markup:
    """A KPI tile: label, big value (+ small unit) with a trend arrow coloured by trend_tone, then context lines."""
    return _ui().tile(
        label, value, lines, tone=tone_cls, trend=trend, trend_tone=trend_tone, tile_id=tile_id, unit=unit
    )


def tiles(items: Iterable[Markup]) -> Markup:
    return _ui().tiles(list(items))


def callout(title: str, items: list, tone_cls: str = "warn", more: int = 0) -> Markup:
    return _ui().callout(title, items, tone=tone_cls, more=more)
