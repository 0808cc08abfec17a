"""ABC by revenue and XYZ by demand variability (KPI_DEFINITIONS.md, "Demand review").

Definitions used here (one place, so the demand review never argues about them):

* **Window.** The last ``weeks`` (52) *full* ISO weeks (Monday-Sunday) ending on or before the
  as-of date. As-of on a Sunday includes that week; as-of mid-week excludes the current partial
  week ("week 0"), which would otherwise look like a demand drop. Rows dated after the last
  window week are ignored (no look-ahead). ``week_start`` values are floored to their Monday and
  several rows per SKU and week (locations, channels) are summed.
* **ABC.** SKUs are ranked by window revenue (currency), largest first, ties broken by ``sku``
  ascending. ``cumulative_share`` includes the SKU itself. A SKU is **A** while the cumulative
  share *before* adding it is < 80% (so the SKU that crosses 80% is still A: the A class is the
  smallest set of top SKUs reaching 80% of revenue), **B** while the share before it is < 95%,
  **C** for the rest. SKUs with zero (or net negative) window revenue are always C with share 0.
* **XYZ.** Coefficient of variation (sample standard deviation, ddof = 1, over mean) of weekly
  units over the same window, **including zero weeks** (a window week with no row counts as 0
  units). For a new item only the weeks from its first sale week on count (the first week with
  units > 0 in the data up to the window end); an item first sold before the window counts all
  ``weeks`` weeks. X: cv <= 0.5, Y: cv <= 1.0, Z: cv > 1.0. When the cv is undefined (mean 0, or
  fewer than 2 counted weeks) the SKU is Z: unknown variability is planned as volatile. SKUs with
  zero window revenue are Z whatever their unit pattern.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from sop_pipeline.analytics.calendar import week_start
from sop_pipeline.analytics.columns import require_columns

ABC_XYZ_COLUMNS = [
    "sku",
    "family",
    "revenue_12m",
    "revenue_share",
    "cumulative_share",
    "abc",
    "mean_weekly_units",
    "sd_weekly_units",
    "cv",
    "xyz",
    "abc_xyz",
]
_CUT_TOLERANCE = 1e-12  # float rounding at a class boundary counts as "on the boundary"


def _to_date(value: date | datetime | str | pd.Timestamp) -> date:
    return pd.Timestamp(value).date()


def window_weeks(as_of: date, weeks: int = 52) -> list[date]:
    """Mondays of the ``weeks`` full ISO weeks ending on or before ``as_of`` (oldest first)."""
    if weeks < 1:
        raise ValueError(f"the ABC/XYZ window must be at least 1 week, got {weeks}")
    as_of = _to_date(as_of)
    last = week_start(as_of) if as_of.weekday() == 6 else week_start(as_of) - timedelta(weeks=1)
    return [last - timedelta(weeks=weeks - 1 - k) for k in range(weeks)]


def _check_cuts(cuts: Sequence[float], name: str, upper: float | None) -> tuple[float, float]:
    if len(cuts) != 2 or not cuts[0] < cuts[1] or cuts[0] < 0 or (upper is not None and cuts[1] > upper):
        limit = f" and at most {upper}" if upper is not None else ""
        raise ValueError(f"{name} must be two increasing non-negative numbers{limit}, got {tuple(cuts)}")
    return float(cuts[0]), float(cuts[1])


def classify_abc_xyz(
    weekly: pd.DataFrame,
    as_of: date,
    weeks: int = 52,
    abc_cuts: Sequence[float] = (0.80, 0.95),
    xyz_cuts: Sequence[float] = (0.5, 1.0),
    items: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """ABC (revenue) x XYZ (variability) class per SKU as of a date.

    Args:
        weekly: sales rows ``[sku, family, week_start, units, revenue]``; units in the item's base
            unit, revenue in currency. Any grain at or below SKU x week (rows are summed).
        as_of: cycle date; the window is the ``weeks`` full ISO weeks ending on or before it.
        weeks: window length in weeks (52 = "last 12 months").
        abc_cuts: cumulative revenue share limits for A and B (fractions, default 80% / 95%).
        xyz_cuts: cv limits for X and Y (default 0.5 / 1.0), inclusive.
        items: optional item master ``[sku, family]``: its SKUs are classified even without
            sales (C / Z) and its family wins over the family on the sales rows.

    Returns:
        One row per SKU, in ABC rank order (revenue descending, then sku), columns
        ``sku, family, revenue_12m`` (currency over the window), ``revenue_share,
        cumulative_share`` (fractions 0-1), ``abc``, ``mean_weekly_units, sd_weekly_units``
        (units/week over the counted weeks), ``cv`` (sd / mean, NaN when undefined), ``xyz``,
        ``abc_xyz`` (e.g. ``"AX"``). See the module docstring for every rule.
    """
    require_columns(weekly, ["sku", "family", "week_start", "units", "revenue"], "weekly sales")
    a_cut, b_cut = _check_cuts(abc_cuts, "abc_cuts", 1.0)
    x_cut, y_cut = _check_cuts(xyz_cuts, "xyz_cuts", None)
    mondays = pd.DatetimeIndex(pd.to_datetime(window_weeks(as_of, weeks)))
    first_week, last_week = mondays[0], mondays[-1]

    sales = weekly[["sku", "family", "week_start", "units", "revenue"]].copy()
    ws = pd.to_datetime(sales["week_start"]).dt.normalize()
    sales["week"] = ws - pd.to_timedelta(ws.dt.day_of_week, unit="D")
    sales["units"] = pd.to_numeric(sales["units"]).fillna(0.0).astype(float)
    sales["revenue"] = pd.to_numeric(sales["revenue"]).fillna(0.0).astype(float)
    known = sales[sales["week"] <= last_week]

    family = known.sort_values("week").groupby("sku", sort=False)["family"].last()
    if items is not None:
        require_columns(items, ["sku", "family"], "item master")
        family = items.drop_duplicates("sku", keep="last").set_index("sku")["family"].combine_first(family)
    skus = pd.Index(family.index, name="sku")

    in_window = known[known["week"] >= first_week]
    revenue = in_window.groupby("sku")["revenue"].sum().reindex(skus, fill_value=0.0)
    units = (
        in_window.groupby(["sku", "week"])["units"]
        .sum()
        .unstack("week")
        .reindex(index=skus, columns=mondays)
        .fillna(0.0)
    )

    first_sale = known[known["units"] > 0].groupby("sku")["week"].min().reindex(skus)
    counted_from = first_sale.fillna(first_week).clip(lower=first_week)
    counted = np.asarray(mondays)[None, :] >= counted_from.to_numpy()[:, None]
    units_counted = units.where(counted)
    mean_units = units_counted.mean(axis=1).fillna(0.0)
    sd_units = units_counted.std(axis=1, ddof=1)  # NaN with fewer than 2 counted weeks
    cv = (sd_units / mean_units).where(mean_units > 0)

    out = pd.DataFrame(
        {
            "sku": skus,
            "family": family.reindex(skus).to_numpy(),
            "revenue_12m": revenue.to_numpy(),
            "mean_weekly_units": mean_units.to_numpy(),
            "sd_weekly_units": sd_units.to_numpy(),
            "cv": cv.to_numpy(),
        }
    )
    out = out.sort_values(["revenue_12m", "sku"], ascending=[False, True], kind="mergesort").reset_index(drop=True)

    positive = out["revenue_12m"].clip(lower=0.0)
    total = positive.sum()
    cum_revenue = positive.cumsum()
    if total > 0:
        out["revenue_share"] = positive / total
        out["cumulative_share"] = cum_revenue / total
        share_before = (cum_revenue - positive) / total
    else:
        out["revenue_share"] = 0.0
        out["cumulative_share"] = 0.0
        share_before = pd.Series(1.0, index=out.index)
    abc = np.where(
        share_before < a_cut - _CUT_TOLERANCE, "A", np.where(share_before < b_cut - _CUT_TOLERANCE, "B", "C")
    )
    out["abc"] = np.where(out["revenue_12m"] > 0, abc, "C")

    cv_values = out["cv"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        xyz = np.where(
            cv_values <= x_cut + _CUT_TOLERANCE, "X", np.where(cv_values <= y_cut + _CUT_TOLERANCE, "Y", "Z")
        )
    out["xyz"] = np.where(np.isnan(cv_values) | (out["revenue_12m"] <= 0), "Z", xyz)
    out["abc_xyz"] = out["abc"] + out["xyz"]
    return out[ABC_XYZ_COLUMNS]
