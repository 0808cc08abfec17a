"""The finance section of the data pack from warehouse frames: which months the bridge compares,
the sales and plan totals it reads, the margin periods, and the inputs of the working-capital
figures and projection (the formulas themselves are in `pvm` and `cash`).

Sums are `aggregate.sql_sum`: the same numbers, to the last bit, as the SQL that used to compute
them. Money in one currency; dates are days.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from sop_pipeline.analytics import cash, pvm
from sop_pipeline.analytics.aggregate import sql_sum, sql_total

BRIDGE_COLUMNS = [
    "comparison",
    "family",
    "level",
    "units_actual",
    "units_base",
    "revenue_actual",
    "revenue_base",
    "price_effect",
    "volume_effect",
    "mix_effect",
    "total_difference",
]
MARGIN_COLUMNS = ["family", "level", "units", "revenue", "cogs", "margin", "margin_pct", "period", "period_start"]
DSO_WINDOW_DAYS = 90  # the B2B share of revenue that AR arises from: the last 90 days
WRITTEN_OFF = ("expired", "expires_before_week_1")  # usability of lots that are E&O (int_usable_stock)


def last_complete_month(as_of: date) -> date:
    """First day of the last calendar month that is complete on the as-of date."""
    if (as_of + timedelta(days=1)).day == 1:
        return as_of.replace(day=1)
    first = as_of.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def sales_by_sku(sales_daily: pd.DataFrame, first_month: date, last_month: date) -> pd.DataFrame:
    """``sku, family, units, revenue`` summed over the months first_month..last_month (month starts)."""
    months = pd.to_datetime(sales_daily["month_start"])
    rows = sales_daily[(months >= pd.Timestamp(first_month)) & (months <= pd.Timestamp(last_month))]
    return sql_sum(rows, ["sku", "family"], ["units", "revenue"])


def revenue_plan_by_family(revenue_plan: pd.DataFrame, month: date) -> pd.DataFrame:
    """Finance's plan for one month: ``family, units, revenue``."""
    rows = revenue_plan[pd.to_datetime(revenue_plan["month_start"]) == pd.Timestamp(month)]
    return sql_sum(rows, ["family"], ["units", "revenue"])


def pvm_month_bridge(sales_daily: pd.DataFrame, revenue_plan: pd.DataFrame, as_of: date) -> tuple[pd.DataFrame, bool]:
    """Price-volume-mix bridge of the last complete month vs finance's plan (family grain) and vs
    the prior month (SKU grain within each family), one frame with a ``comparison`` column and the
    ``month_start``; and whether the plan had the month."""
    month = last_complete_month(as_of)
    prior = last_complete_month(month - timedelta(days=1))
    actual = sales_by_sku(sales_daily, month, month)
    prior_sales = sales_by_sku(sales_daily, prior, prior)
    plan = revenue_plan_by_family(revenue_plan, month)
    base_names = {"revenue_plan": "revenue_base", "units_plan": "units_base"}
    frames = []
    if len(plan):
        frames.append(pvm.pvm_bridge_family_plan(actual, plan).rename(columns=base_names).assign(comparison="vs_plan"))
    if len(prior_sales):
        frames.append(
            pvm.pvm_bridge(actual, prior_sales, group_cols=["family"])
            .rename(columns=base_names)
            .assign(comparison="vs_prior_month")
        )
    bridge = pd.concat(frames, ignore_index=True)[BRIDGE_COLUMNS] if frames else pd.DataFrame(columns=BRIDGE_COLUMNS)
    bridge["family"] = bridge["family"].fillna("ALL" if len(bridge) else None)
    bridge.loc[bridge.level == "between_groups", "family"] = "(mix between families)"
    bridge.insert(0, "month_start", month)
    return bridge, bool(len(plan))


def margin_periods(sales_daily: pd.DataFrame, items: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Gross margin by family for the last complete month and the 12 months to it."""
    month = last_complete_month(as_of)
    costs = items[["sku", "unit_cost"]]
    year_start = (pd.Timestamp(month) - pd.DateOffset(months=11)).date()
    frames = []
    for period, start in (("last_month", month), ("last_12_months", year_start)):
        sales = sales_by_sku(sales_daily, start, month)
        if len(sales):
            frames.append(pvm.margin_by_family(sales, costs).assign(period=period, period_start=start))
    margin = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=MARGIN_COLUMNS)
    margin["family"] = margin["family"].fillna("ALL")
    return margin


def working_capital_now(
    ar_items: pd.DataFrame,
    ap_items: pd.DataFrame,
    inventory_snapshots: pd.DataFrame,
    sales_daily: pd.DataFrame,
    as_of: date,
) -> pd.DataFrame:
    """`cash.working_capital` at the as-of and a month earlier from the staged AR/AP items, the
    inventory snapshots (value at cost per snapshot date) and daily sales; AR comes from B2B
    invoices, so DSO is measured against B2B (invoiced) revenue. ``notes`` names absent inputs."""
    ar = ar_items[["doc_date", "amount", "paid_date"]]
    ap = ap_items[["doc_date", "amount", "paid_date"]]
    inventory = sql_sum(inventory_snapshots, ["snapshot_date"], {"inventory_value": "on_hand_value"}).rename(
        columns={"snapshot_date": "date"}
    )
    revenue = sql_sum(sales_daily[sales_daily["channel"] == "b2b"], ["sales_date"], ["revenue"]).rename(
        columns={"sales_date": "date"}
    )
    cogs = sql_sum(sales_daily, ["sales_date"], ["cogs"]).rename(columns={"sales_date": "date"})
    missing = [
        name for name, frame in (("ar_items", ar), ("ap_items", ap), ("inventory_lots", inventory)) if frame.empty
    ]
    wc = cash.working_capital(ar, ap, inventory, revenue, cogs, as_of)
    wc["notes"] = f"no data: {', '.join(missing)}" if missing else ""
    return wc


def b2b_revenue_share(sales_daily: pd.DataFrame, as_of: date) -> float | None:
    """B2B share of revenue of the DSO_WINDOW_DAYS days to the as-of (None without revenue)."""
    recent = sales_daily[
        pd.to_datetime(sales_daily["sales_date"]) > pd.Timestamp(as_of - timedelta(days=DSO_WINDOW_DAYS))
    ]
    b2b = sql_total(recent.loc[recent["channel"] == "b2b", "revenue"])
    total = sql_total(recent["revenue"])
    return None if b2b is None or not total else b2b / total


def planned_weekly(plan_of_record: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Per plan week: planned revenue, COGS (demand x unit cost) and projected inventory at cost
    (negative projections count as zero), ``week_start, revenue, cogs, inventory_value``."""
    rows = plan_of_record.merge(items[["sku", "unit_cost"]], on="sku", how="inner")
    rows = rows.assign(
        cogs=rows["demand_units"] * rows["unit_cost"],
        inventory_value=rows["projected_inventory_units"].fillna(0).clip(lower=0) * rows["unit_cost"],
    )
    weekly = sql_sum(rows, ["week_start"], ["revenue", "cogs", "inventory_value"])
    return weekly.sort_values("week_start", kind="stable", ignore_index=True)


def stock_outside_plan(usable_stock: pd.DataFrame, items: pd.DataFrame) -> tuple[float, float]:
    """Value at cost of the lots the plan does not use: (on hold, expired / written off)."""
    rows = usable_stock.merge(items[["sku", "unit_cost"]], on="sku", how="inner")
    value = rows["qty"] * rows["unit_cost"]
    hold = sql_total(value[rows["usability"] == "hold"])
    written_off = sql_total(value[rows["usability"].isin(WRITTEN_OFF)])
    return hold or 0.0, written_off or 0.0


def b2b_weekly_history(sales_daily: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Actual invoiced (B2B) revenue and COGS per week up to the as-of: ``week_start, revenue, cogs``."""
    rows = sales_daily[pd.to_datetime(sales_daily["sales_date"]) <= pd.Timestamp(as_of)]
    rows = rows.assign(b2b_revenue=rows["revenue"].where(rows["channel"] == "b2b", 0.0))
    weekly = sql_sum(rows, ["week_start"], {"revenue": "b2b_revenue", "cogs": "cogs"})
    return weekly.sort_values("week_start", kind="stable", ignore_index=True)


def cash_projection(
    finance_cash: pd.DataFrame,
    plan_of_record: pd.DataFrame,
    sales_daily: pd.DataFrame,
    items: pd.DataFrame,
    usable_stock: pd.DataFrame,
    as_of: date,
) -> tuple[pd.DataFrame, bool]:
    """Working capital over the plan's weeks with today's DSO and DPO held (`cash.project_working_capital`):
    AR on the B2B share of planned revenue, inventory on the plan's basis (usable stock: held and
    expired lots move no cash). Returns the projection (empty without DSO/DPO or plan) and whether
    it could be made."""
    now = finance_cash.loc[
        finance_cash["point"] == "as_of", ["dso_days", "dpo_days", "ar_value", "ap_value", "inventory_value"]
    ].reset_index(drop=True)
    share = b2b_revenue_share(sales_daily, as_of)
    planned = planned_weekly(plan_of_record, items)
    hold_value, written_off_value = stock_outside_plan(usable_stock, items)
    history = b2b_weekly_history(sales_daily, as_of)
    ok = bool(len(now) and len(planned) and now.dso_days.notna().all() and now.dpo_days.notna().all())
    if not ok:
        return pd.DataFrame(columns=cash.PROJECTION_COLUMNS + ["notes"]), False
    planned["revenue"] *= float(share or 0.0)
    row = now.iloc[0]
    # both sides on the plan's basis: usable stock (held lots stay as they are, expired ones are
    # written off; neither moves cash)
    outside_plan = min(float(written_off_value) + float(hold_value), float(row.inventory_value))
    projection = cash.project_working_capital(
        planned,
        float(row.dso_days),
        float(row.dpo_days),
        history_weekly=history,
        opening={
            "ar_value": float(row.ar_value),
            "ap_value": float(row.ap_value),
            "inventory_value": float(row.inventory_value) - outside_plan,
        },
    )
    projection["notes"] = (
        f"AR on the B2B share of planned revenue ({float(share or 0):.1%}); "
        f"inventory = usable stock: {float(written_off_value):,.0f} of "
        f"expired lots (E&O write-off) and {float(hold_value):,.0f} on hold "
        "are outside the projection"
    )
    return projection, True
