"""Plan of record vs finance's revenue plan, and the control totals that tie the plan to finance.

The plan of record is weekly (SKU x horizon week, 13 Monday-to-Sunday weeks); finance's revenue
plan is monthly (family x calendar month, units and revenue). This module puts both on the same
days and bridges the difference with the finance bridge's price-volume-mix (``analytics.pvm``).

Rules (state them in the mart docs):

* **Weeks to months, by days.** A plan week's units, revenue and margin are spread evenly over its
  7 days and each day belongs to its calendar month: a week with 3 days in November and 4 in
  December puts 3/7 of the week in November and 4/7 in December. Nothing is rounded, so the
  months add up to the weekly plan exactly.
* **Finance's months, pro-rated to the horizon's days.** The comparison covers exactly the days
  of the plan's weeks (13 x 7 = 91 days). Finance's figure for a month is taken in proportion to
  the days of that month the horizon covers: a horizon starting on 23 November takes 8/30 of
  November's plan; a month fully inside takes all of it; the last month is partial again.
* **Months finance has not planned.** A horizon month with no row at all in the revenue plan
  (finance's plan ends before the horizon does, e.g. at fiscal year end) is not compared: its
  month rows show the plan of record with the finance columns and effects empty, and the horizon
  bridge covers the compared months only (``days_covered`` < ``days_in_period`` says so). A
  family missing from a month finance *has* planned counts as plan 0 there: its whole plan-of-
  record revenue lands in **mix** (the finance bridge's rule for new items).
* **Price-volume-mix** as in ``pvm.pvm_bridge_family_plan`` (finance's plan exists per family
  only, so the family plays the SKU's role): price = R_por - P_fin x Q_por, volume = (T_por -
  T_fin) x P_fin x m_fin, mix = P_fin x Q_por - T_por x P_fin x m_fin per family, with P = revenue
  per unit, T = all units, m = family share of units. Per row they add up exactly to plan of
  record minus finance plan revenue; the family rows add up to the total row. The horizon row is
  its own bridge over the compared days (volume and mix of the horizon are not the sum of the
  monthly volume and mix, as with any bridge over a longer period; revenue and price are).
* **Inventory at cost.** The plan's projected inventory per SKU and week, floored at 0 (a
  projected stockout is a backorder, not negative stock), times the item's unit cost: the same
  rule ``finance_cash_projection`` uses, so both must show the same number.

Money in the reporting currency, units in base units, days in calendar days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sop_pipeline.analytics import pvm
from sop_pipeline.analytics.aggregate import sql_sum
from sop_pipeline.analytics.columns import require_columns

DAYS_PER_WEEK = 7
RECONCILIATION_COLUMNS = [
    "period",
    "period_start",
    "period_end",
    "first_day",
    "last_day",
    "days_covered",
    "days_in_period",
    "finance_plan_covered",
    "family",
    "level",
    "units_plan_of_record",
    "units_finance_plan",
    "revenue_plan_of_record",
    "revenue_finance_plan",
    "margin_plan_of_record",
    "net_margin_plan_of_record",
    "price_effect",
    "volume_effect",
    "mix_effect",
    "total_difference",
]
CONTROL_COLUMNS = [
    "measure",
    "downstream",
    "plan_of_record_value",
    "downstream_value",
    "difference",
    "tolerance",
    "reconciles",
    "notes",
]
_DTYPES = {
    "period": object,
    "period_start": "datetime64[ns]",
    "period_end": "datetime64[ns]",
    "first_day": "datetime64[ns]",
    "last_day": "datetime64[ns]",
    "days_covered": "int64",
    "days_in_period": "int64",
    "finance_plan_covered": bool,
    "family": object,
    "level": object,
}
TOTAL_FAMILY = "ALL"
TOLERANCE = 0.01  # currency (or units) a control may differ by: rounding, not leakage


def _empty_reconciliation() -> pd.DataFrame:
    """No rows, but typed columns (so the mart's tests compile against numbers and dates)."""
    return pd.DataFrame({c: pd.Series(dtype=_DTYPES.get(c, float)) for c in RECONCILIATION_COLUMNS})


def _numeric(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    out = frame.copy()
    for col in columns:
        out[col] = pd.to_numeric(out[col]).fillna(0.0).astype(float)
    return out


def _month_start(days: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(days).to_period("M").to_timestamp()


def week_month_shares(week_starts: Sequence) -> pd.DataFrame:
    """Share of each 7-day week (starting on ``week_start``) that falls in each calendar month.

    Returns ``[week_start, month_start, days, share]`` with share = days / 7; the shares of a
    week add up to 1.
    """
    weeks = pd.DatetimeIndex(pd.to_datetime(pd.Series(week_starts)).dt.normalize().unique())
    days = pd.DataFrame({"week_start": np.repeat(weeks, DAYS_PER_WEEK)})
    days["day"] = days["week_start"] + pd.to_timedelta(np.tile(np.arange(DAYS_PER_WEEK), len(weeks)), unit="D")
    days["month_start"] = _month_start(days["day"])
    out = days.groupby(["week_start", "month_start"], as_index=False).agg(days=("day", "size"))
    out["share"] = out["days"] / DAYS_PER_WEEK
    return out


def _with_net_margin(plan: pd.DataFrame) -> pd.DataFrame:
    """The plan with a ``net_margin`` column: its own, or the margin for a plan that has none (no
    supply costs recorded)."""
    return plan if "net_margin" in plan else plan.assign(net_margin=plan["margin"])


def allocate_to_months(plan: pd.DataFrame) -> pd.DataFrame:
    """The plan of record's weekly units, revenue, margin and net margin per SKU x calendar month,
    by days.

    Args:
        plan: ``[sku, family, week_start, demand_units, revenue, margin]`` and optionally
            ``net_margin`` (margin less the plan's expedite and alternate-resource costs; the margin
            where absent), one or more rows per SKU x week (week_start = first day of a 7-day week,
            normally a Monday).

    Returns:
        ``[sku, family, month_start, units, revenue, margin, net_margin]``: each week's figures x
        (days of the week in the month / 7), summed per SKU and month. Totals equal the plan's totals.
    """
    require_columns(plan, ["sku", "family", "week_start", "demand_units", "revenue", "margin"], "plan of record")
    data = _numeric(_with_net_margin(plan), ["demand_units", "revenue", "margin", "net_margin"])
    data["week_start"] = pd.to_datetime(data["week_start"]).dt.normalize()
    split = data.merge(week_month_shares(data["week_start"]), on="week_start", how="inner")
    split["units"] = split["demand_units"] * split["share"]
    for col in ("revenue", "margin", "net_margin"):
        split[col] = split[col] * split["share"]
    out = split.groupby(["sku", "family", "month_start"], as_index=False, dropna=False)[
        ["units", "revenue", "margin", "net_margin"]
    ].sum()
    return out.sort_values(["month_start", "family", "sku"], kind="mergesort").reset_index(drop=True)


def horizon_months(week_starts: Sequence) -> pd.DataFrame:
    """The calendar months the plan's weeks touch and how many of their days they cover.

    Returns ``[month_start, period_end, first_day, last_day, days_covered, days_in_period]``
    (period_end = last day of the month; first/last_day = first and last covered day).
    """
    shares = week_month_shares(week_starts)
    if shares.empty:
        return pd.DataFrame(
            columns=["month_start", "period_end", "first_day", "last_day", "days_covered", "days_in_period"]
        )
    weeks = pd.DatetimeIndex(shares["week_start"].unique())
    days = pd.DatetimeIndex(sorted({w + pd.Timedelta(days=k) for w in weeks for k in range(DAYS_PER_WEEK)}))
    frame = pd.DataFrame({"day": days, "month_start": _month_start(days)})
    out = frame.groupby("month_start", as_index=False).agg(
        first_day=("day", "min"), last_day=("day", "max"), days_covered=("day", "size")
    )
    out["days_in_period"] = out["month_start"].dt.days_in_month
    out["period_end"] = out["month_start"] + pd.to_timedelta(out["days_in_period"] - 1, unit="D")
    return out[["month_start", "period_end", "first_day", "last_day", "days_covered", "days_in_period"]]


def prorate_revenue_plan(revenue_plan: pd.DataFrame, months: pd.DataFrame) -> pd.DataFrame:
    """Finance's monthly plan per family, scaled to the days of each month the horizon covers.

    Args:
        revenue_plan: ``[family, month_start, units, revenue]`` (several rows per family and month
            are summed; months outside ``months`` are ignored).
        months: `horizon_months` output.

    Returns:
        ``[family, month_start, units, revenue]`` = the month's plan x days_covered / days_in_period.
    """
    require_columns(revenue_plan, ["family", "month_start", "units", "revenue"], "revenue plan")
    data = _numeric(revenue_plan, ["units", "revenue"])
    data["month_start"] = _month_start(pd.to_datetime(data["month_start"]))
    data = data.groupby(["family", "month_start"], as_index=False)[["units", "revenue"]].sum()
    data = data.merge(months[["month_start", "days_covered", "days_in_period"]], on="month_start", how="inner")
    share = data["days_covered"] / data["days_in_period"]
    data["units"] = data["units"] * share
    data["revenue"] = data["revenue"] * share
    return data[["family", "month_start", "units", "revenue"]].reset_index(drop=True)


def _bridge(actual_by_sku: pd.DataFrame, plan_by_family: pd.DataFrame) -> pd.DataFrame:
    """`pvm.pvm_bridge_family_plan` with this module's column names and the plan of record's margin
    and net margin alongside."""
    out = pvm.pvm_bridge_family_plan(actual_by_sku, plan_by_family).rename(
        columns={
            "units_actual": "units_plan_of_record",
            "units_plan": "units_finance_plan",
            "revenue_actual": "revenue_plan_of_record",
            "revenue_plan": "revenue_finance_plan",
        }
    )
    out["level"] = np.where(out["level"] == "total", "total", "family")
    out["family"] = out["family"].where(out["level"] != "total", TOTAL_FAMILY)
    for col in ("margin", "net_margin"):
        by_family = actual_by_sku.groupby("family")[col].sum()
        value = out["family"].map(by_family).fillna(0.0).astype(float)
        value[out["level"] == "total"] = float(by_family.sum())
        out[f"{col}_plan_of_record"] = value.to_numpy()
    return out


def _uncompared_month(allocated: pd.DataFrame) -> pd.DataFrame:
    """Month rows of a month finance has not planned: plan of record only, finance and effects empty."""
    sums = ["units", "revenue", "margin", "net_margin"]
    fam = allocated.groupby("family", as_index=False, dropna=False)[sums].sum()
    fam["level"] = "family"
    total = pd.DataFrame([{"family": TOTAL_FAMILY, "level": "total", **fam[sums].sum()}])
    rows = pd.concat([fam, total], ignore_index=True).rename(
        columns={
            "units": "units_plan_of_record",
            "revenue": "revenue_plan_of_record",
            "margin": "margin_plan_of_record",
            "net_margin": "net_margin_plan_of_record",
        }
    )
    for col in ("units_finance_plan", "revenue_finance_plan", *pvm.EFFECT_COLUMNS, "total_difference"):
        rows[col] = np.nan
    return rows


def plan_vs_finance(plan: pd.DataFrame, revenue_plan: pd.DataFrame) -> pd.DataFrame:
    """Plan of record vs finance's revenue plan per family, by month and over the horizon.

    Args:
        plan: ``[sku, family, week_start, demand_units, revenue, margin]`` (the plan of record).
        revenue_plan: ``[family, month_start, units, revenue]`` (finance's plan, whole months).

    Returns:
        `RECONCILIATION_COLUMNS`, one row per period x family plus a ``total`` row (family
        ``ALL``) per period. ``period = "horizon"`` (period_start/end = first/last day of the
        plan's weeks; days_covered = days compared) first, then ``period = "month"`` per calendar
        month the horizon touches (period_start = 1st of the month). The plan of record's figures
        are allocated by days, finance's pro-rated by days (module docstring). Where a month is
        compared (``finance_plan_covered``), price + volume + mix = total_difference =
        revenue_plan_of_record - revenue_finance_plan on every row. Empty when the plan is empty
        or finance has planned none of the horizon's months.
    """
    require_columns(plan, ["sku", "family", "week_start", "demand_units", "revenue", "margin"], "plan of record")
    allocated = allocate_to_months(plan)
    months = horizon_months(plan["week_start"])
    finance = prorate_revenue_plan(revenue_plan, months)
    covered = set(finance["month_start"])
    if allocated.empty or not covered:
        return _empty_reconciliation()

    frames = []
    for month in months.itertuples(index=False):
        mine = allocated[allocated["month_start"] == month.month_start]
        theirs = finance[finance["month_start"] == month.month_start]
        if month.month_start in covered:
            rows = _bridge(mine, theirs)
        else:
            rows = _uncompared_month(mine)
        frames.append(
            rows.assign(
                period="month",
                period_start=month.month_start,
                period_end=month.period_end,
                first_day=month.first_day,
                last_day=month.last_day,
                days_covered=month.days_covered,
                days_in_period=month.days_in_period,
                finance_plan_covered=month.month_start in covered,
            )
        )

    compared = months[months["month_start"].isin(covered)]
    mine = allocated[allocated["month_start"].isin(covered)]
    horizon = _bridge(mine, finance)
    horizon = horizon.assign(
        period="horizon",
        period_start=months["first_day"].min(),
        period_end=months["last_day"].max(),
        first_day=compared["first_day"].min(),
        last_day=compared["last_day"].max(),
        days_covered=int(compared["days_covered"].sum()),
        days_in_period=int(months["days_covered"].sum()),
        finance_plan_covered=len(compared) == len(months),
    )
    out = pd.concat([horizon, *frames], ignore_index=True)
    out["days_covered"] = out["days_covered"].astype(int)
    out["days_in_period"] = out["days_in_period"].astype(int)
    out["finance_plan_covered"] = out["finance_plan_covered"].astype(bool)
    return out[RECONCILIATION_COLUMNS]


def bridge_residual(reconciliation: pd.DataFrame) -> float:
    """Largest |price + volume + mix - total_difference| or |plan of record - finance plan -
    total_difference| over the compared rows (0.0 when there are none)."""
    rows = reconciliation[reconciliation["finance_plan_covered"].astype(bool) | (reconciliation["period"] == "horizon")]
    rows = rows.dropna(subset=["total_difference"])
    if rows.empty:
        return 0.0
    effects = rows[pvm.EFFECT_COLUMNS].sum(axis=1) - rows["total_difference"]
    gap = rows["revenue_plan_of_record"] - rows["revenue_finance_plan"] - rows["total_difference"]
    return float(max(effects.abs().max(), gap.abs().max()))


def family_rows_residual(reconciliation: pd.DataFrame) -> float:
    """Largest gap between a period's total row and the sum of its family rows, over every
    numeric column (0.0 when empty): the families must add up to the total."""
    if reconciliation.empty:
        return 0.0
    cols = [
        "units_plan_of_record",
        "revenue_plan_of_record",
        "margin_plan_of_record",
        "net_margin_plan_of_record",
        "units_finance_plan",
        "revenue_finance_plan",
        *pvm.EFFECT_COLUMNS,
        "total_difference",
    ]
    keys = ["period", "period_start"]
    fam = reconciliation[reconciliation["level"] == "family"].groupby(keys)[cols].sum(min_count=1)
    tot = reconciliation[reconciliation["level"] == "total"].set_index(keys)[cols]
    gap = (fam.reindex(tot.index) - tot).abs()
    return float(np.nan_to_num(gap.to_numpy(float), nan=0.0).max()) if gap.size else 0.0


def plan_inventory_value(plan: pd.DataFrame, unit_cost: pd.DataFrame | pd.Series | Mapping[str, float]) -> pd.Series:
    """Projected inventory at cost per week: sum over SKUs of max(projected units, 0) x unit cost.

    Args:
        plan: ``[sku, week_start, projected_inventory_units]``.
        unit_cost: ``[sku, unit_cost]`` frame, or a Series / mapping sku -> currency per unit.

    Returns:
        Series indexed by week_start (Timestamp, sorted), currency.

    Raises:
        ValueError: a SKU with stock has no unit cost (the inventory value would be understated).
    """
    require_columns(plan, ["sku", "week_start", "projected_inventory_units"], "plan of record")
    cost = pvm._unit_cost_series(unit_cost)
    data = _numeric(plan, ["projected_inventory_units"])
    stock = data["projected_inventory_units"].clip(lower=0.0)
    price = pd.to_numeric(data["sku"].map(cost), errors="coerce").astype(float)
    missing = data.loc[price.isna() & (stock > 0), "sku"].unique()
    if len(missing):
        raise ValueError(
            f"no unit cost for SKU(s) {', '.join(map(str, missing[:10]))}; "
            f"add them to the item master (unit_cost) to value the projected inventory"
        )
    value = stock * price.fillna(0.0)
    weeks = pd.to_datetime(data["week_start"]).dt.normalize()
    return value.groupby(weeks.to_numpy()).sum().sort_index().rename("inventory_value")


ROLLUP_MEASURES = ["demand_units", "revenue", "margin", "net_margin"]


def family_rollup(plan: pd.DataFrame) -> pd.DataFrame:
    """The plan of record rolled up to family x week as the mart plan_of_record_family does it:
    ``[family, week_start, demand_units, revenue, margin, net_margin]``, one row per family and week_start in
    the order they first appear (a missing family is a group of its own, so nothing is dropped),
    each sum added left to right like the warehouse's one-thread SQL `sum` (`aggregate.sql_sum`),
    so the control totals equal the ones the mart gave to the last bit."""
    require_columns(plan, ["family", "week_start", *ROLLUP_MEASURES[:3]], "plan of record")
    return sql_sum(_with_net_margin(plan), ["family", "week_start"], ROLLUP_MEASURES)


def _control(
    measure: str, downstream: str, ours: float, theirs: float | None, note: str = "", tolerance: float = TOLERANCE
) -> dict:
    if theirs is None or pd.isna(theirs):
        return {
            "measure": measure,
            "downstream": downstream,
            "plan_of_record_value": ours,
            "downstream_value": np.nan,
            "difference": np.nan,
            "tolerance": tolerance,
            "reconciles": None,
            "notes": note or f"no data: {downstream} is empty",
        }
    difference = float(theirs) - float(ours)
    return {
        "measure": measure,
        "downstream": downstream,
        "plan_of_record_value": ours,
        "downstream_value": float(theirs),
        "difference": difference,
        "tolerance": tolerance,
        "reconciles": bool(abs(difference) <= tolerance),
        "notes": note,
    }


def control_totals(
    plan: pd.DataFrame,
    unit_cost: pd.DataFrame | pd.Series | Mapping[str, float],
    reconciliation: pd.DataFrame | None = None,
    family_rollup: pd.DataFrame | None = None,
    cash_projection: pd.DataFrame | None = None,
    tolerance: float = TOLERANCE,
) -> pd.DataFrame:
    """The plan of record's totals next to the same totals where they are used downstream.

    Args:
        plan: the plan of record, ``[sku, week_start, demand_units, revenue, margin,
            projected_inventory_units]`` and optionally ``net_margin`` (the margin where absent).
        unit_cost: the item master's unit cost (see `plan_inventory_value`).
        reconciliation: `plan_vs_finance` output (its month rows of every family are summed).
        family_rollup: the family roll-up ``[demand_units, revenue, margin, net_margin]`` (`family_rollup`,
            the rule of mart plan_of_record_family), all weeks; None when there is none (an empty
            frame is compared: it has lost the whole plan).
        cash_projection: ``[week_start, cogs, inventory_value]`` (analytics.finance_cash_projection).
        Pass None or an empty frame for a downstream that has no data: its rows say "no data"
        and ``reconciles`` is empty (not a failure).

    Returns:
        `CONTROL_COLUMNS`, one row per measure x downstream: units, revenue, margin, net margin against
        plan_reconciliation and plan_of_record_family; cogs (plan of record revenue - margin) and
        inventory_value_horizon_end (inventory at cost in the last plan week) against
        finance_cash_projection. difference = downstream - plan of record; reconciles = |difference|
        <= tolerance (currency or units).
    """
    require_columns(
        plan, ["sku", "week_start", "demand_units", "revenue", "margin", "projected_inventory_units"], "plan of record"
    )
    data = _numeric(_with_net_margin(plan), ["demand_units", "revenue", "margin", "net_margin"])
    ours = {
        "units": data["demand_units"].sum(),
        "revenue": data["revenue"].sum(),
        "margin": data["margin"].sum(),
        "net_margin": data["net_margin"].sum(),
    }
    rows = []

    months = None
    if reconciliation is not None and len(reconciliation):
        months = reconciliation[(reconciliation["period"] == "month") & (reconciliation["level"] == "family")]
    for measure, column in (
        ("units", "units_plan_of_record"),
        ("revenue", "revenue_plan_of_record"),
        ("margin", "margin_plan_of_record"),
        ("net_margin", "net_margin_plan_of_record"),
    ):
        theirs = None if months is None else float(months[column].sum())
        rows.append(
            _control(
                measure,
                "plan_reconciliation",
                float(ours[measure]),
                theirs,
                "" if months is not None else "no data: no finance revenue plan for the horizon",
                tolerance,
            )
        )

    # The roll-up is built from the plan itself: an empty roll-up of a non-empty plan is leakage, not "no data".
    for measure, column in (
        ("units", "demand_units"),
        ("revenue", "revenue"),
        ("margin", "margin"),
        ("net_margin", "net_margin"),
    ):
        theirs = None if family_rollup is None else float(pd.to_numeric(family_rollup[column]).sum())
        rows.append(
            _control(
                measure,
                "plan_of_record_family",
                float(ours[measure]),
                theirs,
                "no data: plan_of_record_family is not built" if family_rollup is None else "",
                tolerance,
            )
        )

    has_cash = cash_projection is not None and len(cash_projection) > 0
    no_cash = "no data: no cash projection (no AR/AP or DSO/DPO)"
    cogs = float(ours["revenue"] - ours["margin"])
    rows.append(
        _control(
            "cogs",
            "finance_cash_projection",
            cogs,
            float(pd.to_numeric(cash_projection["cogs"]).sum()) if has_cash else None,
            "plan of record revenue - margin" if has_cash else no_cash,
            tolerance,
        )
    )
    inventory = plan_inventory_value(plan, unit_cost)
    last_week = inventory.index.max() if len(inventory) else None
    ours_inventory = float(inventory.iloc[-1]) if len(inventory) else 0.0
    theirs_inventory = None
    note = no_cash
    if has_cash:
        weeks = pd.to_datetime(cash_projection["week_start"]).dt.normalize()
        at_end = cash_projection.loc[weeks == last_week, "inventory_value"]
        theirs_inventory = float(pd.to_numeric(at_end).sum()) if len(at_end) else None
        note = (
            f"week of {last_week:%Y-%m-%d}, at cost, stockouts count as 0"
            if len(at_end)
            else f"no data: the cash projection has no week {last_week:%Y-%m-%d}"
            if last_week is not None
            else "no data: the plan of record is empty"
        )
    rows.append(
        _control(
            "inventory_value_horizon_end", "finance_cash_projection", ours_inventory, theirs_inventory, note, tolerance
        )
    )
    out = pd.DataFrame(rows, columns=CONTROL_COLUMNS)
    out["reconciles"] = out["reconciles"].astype("boolean")
    return out


# --------------------------------------------------------------------------- the asset's inputs

PLAN_INPUT_COLUMNS = [
    "sku",
    "family",
    "week_start",
    "demand_units",
    "revenue",
    "margin",
    "net_margin",
    "projected_inventory_units",
]
REVENUE_PLAN_COLUMNS = ["family", "month_start", "units", "revenue"]
CASH_INPUT_COLUMNS = ["week_start", "cogs", "inventory_value"]


def finance_plan_months(revenue_plan: pd.DataFrame) -> pd.DataFrame:
    """Finance's revenue plan rows that name a month (family, month_start, units, revenue): a row
    whose month could not be read is left out of the comparison."""
    kept = revenue_plan[revenue_plan["month_start"].notna()]
    return kept[REVENUE_PLAN_COLUMNS].reset_index(drop=True)


def reconciliation_inputs(
    plan_of_record: pd.DataFrame, items: pd.DataFrame, revenue_plan: pd.DataFrame, cash_projection: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """(plan, unit costs, finance's months, cash projection) as `plan_vs_finance` and
    `control_totals` read them, from the plan of record, the item master, the staged revenue plan and
    analytics.finance_cash_projection (None: not built)."""
    cash = None if cash_projection is None else cash_projection[CASH_INPUT_COLUMNS]
    return (plan_of_record[PLAN_INPUT_COLUMNS], items[["sku", "unit_cost"]], finance_plan_months(revenue_plan), cash)


def no_data_note(reconciliation: pd.DataFrame, plan: pd.DataFrame, revenue_plan_absent: bool) -> str:
    """Why the reconciliation is empty ("" when it is not)."""
    if not reconciliation.empty:
        return ""
    if revenue_plan_absent:
        return "no data: revenue_plan extract absent"
    if plan.empty:
        return "no data: the plan of record is empty"
    return "no data: finance's revenue plan has none of the horizon's months"
