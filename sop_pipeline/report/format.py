"""Text formats of the meeting pack's numbers, dates and units (plain strings; the templates
escape them)."""

from __future__ import annotations

import math

import pandas as pd

DASH = "\u2014"


def is_missing(value) -> bool:
    """None, NaN, NA or NaT."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def truthy(value) -> bool | None:
    """True/False, or None when missing (nullable booleans)."""
    return None if is_missing(value) else bool(value)


def text(value) -> str:
    """Any value as text for a cell or label; missing values are empty."""
    return "" if is_missing(value) else str(value)


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


def tone(is_good: bool | None) -> str:
    """The colour class of a good/bad/unknown state: good, bad or neutral."""
    return "neutral" if is_good is None else ("good" if is_good else "bad")
