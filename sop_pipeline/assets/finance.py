"""Finance bridge: price-volume-mix (vs plan and vs prior month), margin, working capital.

Thin wrappers: read the dbt intermediate models, call `analytics.pvm` / `analytics.cash`,
write `analytics.<table>`; the dbt marts `datapack_finance_pvm`, `datapack_margin` and
`datapack_cash` publish them.
"""

from datetime import date, timedelta

import dagster as dg
import pandas as pd

from sop_pipeline.analytics import cash, pvm
from sop_pipeline.assets.common import OWNERS, cycle_as_of, markdown_table, write_table
from sop_pipeline.resources import WAREHOUSE_POOL, Warehouse

SALES = dg.AssetKey(["intermediate", "int_sales_daily"])
INVENTORY = dg.AssetKey(["intermediate", "int_inventory_snapshots"])
STAGING = lambda name: dg.AssetKey(["staging", name])  # noqa: E731


def last_complete_month(as_of: date) -> date:
    """First day of the last calendar month that is complete on the as-of date."""
    if (as_of + timedelta(days=1)).day == 1:
        return as_of.replace(day=1)
    first = as_of.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def _month_sales(con, month: date) -> pd.DataFrame:
    return con.execute("select sku, family, sum(units) as units, sum(revenue) as revenue from "
                       "intermediate.int_sales_daily where month_start = ? group by sku, family",
                       [month]).df()


@dg.asset(
    key=["analytics", "finance_pvm"], group_name="finance", kinds={"python", "duckdb"}, pool=WAREHOUSE_POOL,
    owners=OWNERS["finance"], deps=[SALES, STAGING("stg_finance__revenue_plan"), STAGING("stg_erp__items")],
    description="Price-volume-mix bridge of the last complete month: actual vs finance's revenue plan "
                "(family grain, the plan's grain) and vs the prior month (SKU grain within each family). "
                "Effects add up exactly to the revenue difference at every level.",
    check_specs=[dg.AssetCheckSpec("effects_add_up", asset=["analytics", "finance_pvm"],
                                   description="price + volume + mix = actual - base revenue on every row.")],
)
def finance_pvm(warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        month = last_complete_month(as_of)
        prior = last_complete_month(month - timedelta(days=1))
        actual = _month_sales(con, month)
        prior_sales = _month_sales(con, prior)
        plan = con.execute("select family, sum(units) as units, sum(revenue) as revenue from "
                           "staging.stg_finance__revenue_plan where month_start = ? group by family",
                           [month]).df()
        frames = []
        if len(plan):
            vs_plan = pvm.pvm_bridge_family_plan(actual, plan).rename(columns={
                "revenue_plan": "revenue_base", "units_plan": "units_base"})
            frames.append(vs_plan.assign(comparison="vs_plan"))
        if len(prior_sales):
            vs_prior = pvm.pvm_bridge(actual, prior_sales, group_cols=["family"]).rename(columns={
                "revenue_plan": "revenue_base", "units_plan": "units_base"})
            frames.append(vs_prior.assign(comparison="vs_prior_month"))
        cols = ["comparison", "family", "level", "units_actual", "units_base", "revenue_actual", "revenue_base",
                "price_effect", "volume_effect", "mix_effect", "total_difference"]
        bridge = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
        bridge["family"] = bridge["family"].fillna("ALL" if len(bridge) else None)
        bridge.loc[bridge.level == "between_groups", "family"] = "(mix between families)"
        bridge.insert(0, "month_start", month)
        meta = write_table(con, "finance_pvm", bridge)
    residual = (bridge.price_effect + bridge.volume_effect + bridge.mix_effect - bridge.total_difference).abs()
    gap = (bridge.revenue_actual - bridge.revenue_base - bridge.total_difference).abs()
    total = bridge[bridge.level == "total"]
    return dg.MaterializeResult(
        metadata={**meta, "month": str(month),
                  "notes": "no revenue plan for the month" if not len(plan) else "",
                  "total_bridge": dg.MetadataValue.md(markdown_table(total))},
        check_results=[dg.AssetCheckResult(
            check_name="effects_add_up", passed=bool((residual.fillna(0) < 1e-6).all() and (gap < 1e-6).all()),
            metadata={"max_residual": float(residual.max()) if len(residual) else 0.0})],
    )


@dg.asset(
    key=["analytics", "finance_margin"], group_name="finance", kinds={"python", "duckdb"}, pool=WAREHOUSE_POOL,
    owners=OWNERS["finance"], deps=[SALES, STAGING("stg_erp__items")],
    description="Gross margin $ and % by family for the last complete month and the 12 months to it "
                "(revenue - units x unit cost).",
)
def finance_margin(warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        month = last_complete_month(as_of)
        costs = con.execute("select sku, unit_cost from staging.stg_erp__items").df()
        year_start = (pd.Timestamp(month) - pd.DateOffset(months=11)).date()
        frames = []
        for period, start in (("last_month", month), ("last_12_months", year_start)):
            sales = con.execute("select sku, family, sum(units) as units, sum(revenue) as revenue from "
                                "intermediate.int_sales_daily where month_start between ? and ? "
                                "group by sku, family", [start, month]).df()
            if len(sales):
                frames.append(pvm.margin_by_family(sales, costs).assign(period=period, period_start=start))
        margin = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["family", "level", "units", "revenue", "cogs", "margin", "margin_pct", "period", "period_start"])
        margin["family"] = margin["family"].fillna("ALL")
        meta = write_table(con, "finance_margin", margin)
    return dg.MaterializeResult(metadata={**meta, "month": str(month)})


@dg.asset(
    key=["analytics", "finance_cash"], group_name="finance", kinds={"python", "duckdb"}, pool=WAREHOUSE_POOL,
    owners=OWNERS["finance"],
    deps=[SALES, INVENTORY, STAGING("stg_finance__ar_items"), STAGING("stg_finance__ap_items")],
    description="Working capital at the as-of date and one month earlier: AR, AP, inventory at cost, "
                "DSO (AR / B2B revenue of 90 days x 90), DPO (AP / COGS x 90), DIO (365 / turns), cash "
                "conversion cycle and the cash tied up by the change.",
)
def finance_cash(warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        ar = con.execute("select doc_date, amount, paid_date from staging.stg_finance__ar_items").df()
        ap = con.execute("select doc_date, amount, paid_date from staging.stg_finance__ap_items").df()
        inventory = con.execute("select snapshot_date as date, sum(on_hand_value) as inventory_value "
                                "from intermediate.int_inventory_snapshots group by 1").df()
        # AR comes from B2B invoices, so DSO is measured against B2B (invoiced) revenue.
        revenue = con.execute("select sales_date as date, sum(revenue) as revenue from "
                              "intermediate.int_sales_daily where channel = 'b2b' group by 1").df()
        cogs = con.execute("select sales_date as date, sum(cogs) as cogs from intermediate.int_sales_daily "
                           "group by 1").df()
        missing = [name for name, frame in (("ar_items", ar), ("ap_items", ap), ("inventory_lots", inventory))
                   if frame.empty]
        wc = cash.working_capital(ar, ap, inventory, revenue, cogs, as_of)
        wc["notes"] = f"no data: {', '.join(missing)}" if missing else ""
        meta = write_table(con, "finance_cash", wc)
    return dg.MaterializeResult(metadata={**meta, "as_of": str(as_of),
                                          "working_capital": dg.MetadataValue.md(markdown_table(wc))})


@dg.asset(
    key=["analytics", "finance_cash_projection"], group_name="finance", kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL, owners=OWNERS["finance"],
    deps=[dg.AssetKey(["analytics", "plan_of_record"]), dg.AssetKey(["analytics", "finance_cash"]), SALES,
          STAGING("stg_erp__items"), dg.AssetKey(["intermediate", "int_usable_stock"])],
    description="Working capital over the plan's 13 weeks with today's DSO and DPO held: AR = invoiced "
                "(B2B share of planned) revenue of the last DSO days, AP = planned COGS of the last DPO days, "
                "inventory = the plan's projected (usable) inventory at cost, against the usable stock at the "
                "as-of: lots on hold and expired lots (an E&O write-off) move no cash; cash tied up week by "
                "week vs the as-of balances.",
)
def finance_cash_projection(warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        now = con.execute("select dso_days, dpo_days, ar_value, ap_value, inventory_value "
                          "from analytics.finance_cash where point = 'as_of'").df()
        # AR arises from B2B invoices only: the share of B2B in revenue of the last 90 days
        share = con.execute("select sum(case when channel = 'b2b' then revenue end) / nullif(sum(revenue), 0) "
                            "from intermediate.int_sales_daily where sales_date > ?::date - 90",
                            [as_of]).fetchall()[0][0]
        planned = con.execute(
            "select p.week_start, sum(p.revenue) as revenue, sum(p.demand_units * i.unit_cost) as cogs, "
            "sum(greatest(p.projected_inventory_units, 0) * i.unit_cost) as inventory_value "
            "from analytics.plan_of_record p join staging.stg_erp__items i using (sku) group by 1 order by 1").df()
        # lots the plan does not use: on hold (stays on the books) and expired (written off)
        unplanned = con.execute(
            "select coalesce(sum(case when s.usability = 'hold' then s.qty * i.unit_cost end), 0) as hold_value, "
            "coalesce(sum(case when s.usability in ('expired', 'expires_before_week_1') then s.qty * i.unit_cost "
            "end), 0) as written_off_value "
            "from intermediate.int_usable_stock s join staging.stg_erp__items i using (sku)").df().iloc[0]
        history = con.execute("select week_start, sum(case when channel = 'b2b' then revenue else 0 end) as revenue, "
                              "sum(cogs) as cogs from intermediate.int_sales_daily "
                              "where sales_date <= ? group by 1 order by 1", [as_of]).df()
        ok = len(now) and len(planned) and now.dso_days.notna().all() and now.dpo_days.notna().all()
        if ok:
            planned["revenue"] *= float(share or 0.0)
            row = now.iloc[0]
            # both sides on the plan's basis: usable stock (held lots stay as they are, expired
            # ones are written off; neither moves cash)
            outside_plan = min(float(unplanned.written_off_value) + float(unplanned.hold_value),
                               float(row.inventory_value))
            projection = cash.project_working_capital(
                planned, float(row.dso_days), float(row.dpo_days), history_weekly=history,
                opening={"ar_value": float(row.ar_value), "ap_value": float(row.ap_value),
                         "inventory_value": float(row.inventory_value) - outside_plan})
            projection["notes"] = (f"AR on the B2B share of planned revenue ({float(share or 0):.1%}); "
                                   f"inventory = usable stock: {float(unplanned.written_off_value):,.0f} of "
                                   f"expired lots (E&O write-off) and {float(unplanned.hold_value):,.0f} on hold "
                                   "are outside the projection")
        else:
            projection = pd.DataFrame(columns=cash.PROJECTION_COLUMNS + ["notes"])
        meta = write_table(con, "finance_cash_projection", projection)
    total = float(projection.cash_tied_up.sum()) if len(projection) else 0.0
    return dg.MaterializeResult(metadata={
        **meta, "cash_tied_up_13w": round(total, 2),
        "notes": "" if ok else "no data: DSO/DPO or the plan are missing (no AR/AP or sales orders)"})


ASSETS = [finance_pvm, finance_margin, finance_cash, finance_cash_projection]
