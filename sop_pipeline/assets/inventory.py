"""Inventory: ABC/XYZ classes, safety stock and reorder points, service-vs-inventory curves.

Thin wrappers around `analytics.abc_xyz` and `analytics.safety_stock`; outputs go to
`analytics.<table>`, published by the dbt marts in `models/marts/inventory/`.
"""

import dagster as dg
import pandas as pd

from sop_pipeline.analytics import safety_stock as ss
from sop_pipeline.analytics.abc_xyz import classify_abc_xyz
from sop_pipeline.analytics.safety_stock_sim import simulate_service
from sop_pipeline.assets.common import OWNERS, cycle_as_of, markdown_table, write_table
from sop_pipeline.resources import WAREHOUSE_POOL, Warehouse

SALES = dg.AssetKey(["intermediate", "int_sales_daily"])
ITEMS = dg.AssetKey(["staging", "stg_erp__items"])


@dg.asset(
    key=["analytics", "abc_xyz"], group_name="demand", kinds={"python", "duckdb"}, pool=WAREHOUSE_POOL,
    owners=OWNERS["demand"], deps=[SALES, ITEMS],
    description="ABC class by revenue over the last 52 full weeks (A to 80% cumulative share, B to 95%, "
                "C rest) and XYZ class by the coefficient of variation of weekly units (X <= 0.5, Y <= 1.0, "
                "Z above), per SKU. Sales = POS sell-out + B2B shipments.",
    check_specs=[dg.AssetCheckSpec("every_item_classified", asset=["analytics", "abc_xyz"],
                                   description="Every SKU of the item master has exactly one class.")],
)
def abc_xyz(warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        weekly = con.execute("select sku, family, week_start, sum(units) as units, sum(revenue) as revenue "
                             "from intermediate.int_sales_daily group by all").df()
        items = con.execute("select sku, family from staging.stg_erp__items").df()
        classes = classify_abc_xyz(weekly, as_of, items=items)
        meta = write_table(con, "abc_xyz", classes)
    counts = classes.groupby("abc_xyz").size().rename("skus").reset_index()
    revenue_by_abc = classes.groupby("abc").revenue_12m.sum()
    return dg.MaterializeResult(
        metadata={**meta, "as_of": str(as_of), "classes": dg.MetadataValue.md(markdown_table(counts, 12)),
                  "a_items": int((classes.abc == "A").sum()),
                  "a_revenue_share_pct": round(float(100 * revenue_by_abc.get("A", 0) / max(revenue_by_abc.sum(), 1e-9)), 1)},
        check_results=[dg.AssetCheckResult(
            check_name="every_item_classified",
            passed=bool(set(items.sku) <= set(classes.sku) and classes.sku.is_unique))],
    )


# The service definition the plan uses: fill rate (beta), the share of demand met from stock -
# the one planners and customers feel. Both types are computed and kept in analytics.safety_stock.
PLAN_SERVICE_TYPE = "fill_rate"
# Continuous review (R = 0): the (s, Q) model the formulas assume; weekly review over-delivers.
REVIEW_PERIOD_WEEKS = 0.0
# Order quantity: one week of demand (the plant and buyers replenish weekly). With EOQ-sized lots
# (placeholder order/holding costs) most fill-rate policies floor at zero safety stock.
ORDER_COVER_WEEKS = 1.0
# Without purchase orders/receipts or production orders there is no observed lead time: one week
# is assumed (lead_time_source says so in analytics.safety_stock).
DEFAULT_LEAD_TIME_WEEKS = 1.0
# A replenishment takes at least a day (release, make or ship, put away), whatever the production
# orders' run times say (on the large demo some run in under an hour): a sub-day lead time would
# promise a service the daily plan cannot deliver.
MIN_LEAD_TIME_WEEKS = 1.0 / 7.0
DEMAND_WEEKLY = dg.AssetKey(["intermediate", "int_demand_weekly"])
SAFETY_STOCK = dg.AssetKey(["analytics", "safety_stock"])


def _lead_times(con) -> pd.DataFrame:
    """Observed replenishment lead times in days per SKU: purchase order -> first receipt for
    bought items, planned (or earlier actual) start -> actual end of completed production orders
    for made items."""
    return con.execute("""
        select po.sku, datediff('day', po.order_date, min(r.receipt_date)) as lead_time_days
        from staging.stg_erp__purchase_orders po
        join staging.stg_erp__receipts r on r.po_id = po.po_id and r.line = po.line
        group by po.po_id, po.line, po.sku, po.order_date
        union all
        -- an order started early counts from its actual start
        select sku, datediff('minute', least(planned_start, actual_start), actual_end) / 1440.0
        from staging.stg_mes__production_orders
        where status = 'completed' and actual_end is not null and actual_start is not null
    """).df()


def stock_points(con, as_of) -> pd.DataFrame:
    """Variability inputs + class + target + cost per SKU (demand summed over locations)."""
    # Variability of the forecast error where the backtest has one-week-ahead forecasts (>= 8
    # weeks per SKU), of demand otherwise (KPI: "preferably of the forecast error").
    demand = con.execute("""
        with weekly as (
            select sku, week_start, sum(units) as units from intermediate.int_demand_weekly
            where not coalesce(is_stockout, false) group by all),
        lag1 as (
            select sku, cast(week_start as date) as week_start, sum(forecast_units) as forecast_units
            from analytics.demand_backtest where method = 'lightgbm' and lag = 1 group by all)
        select weekly.sku, weekly.week_start, weekly.units, lag1.forecast_units
        from weekly left join lag1 on lag1.sku = weekly.sku and lag1.week_start = weekly.week_start
    """).df()
    lead_times = _lead_times(con)
    points = ss.demand_variability(
        demand, lead_times if len(lead_times) else None, review_period_weeks=REVIEW_PERIOD_WEEKS,
        default_lead_time_weeks=None if len(lead_times) else DEFAULT_LEAD_TIME_WEEKS,
        default_lead_time_sd_weeks=None if len(lead_times) else 0.0)
    points["lead_time_mean_weeks"] = points.lead_time_mean_weeks.clip(lower=MIN_LEAD_TIME_WEEKS)
    items = con.execute("select i.sku, i.family, i.unit_cost, i.lifecycle, a.abc_xyz from staging.stg_erp__items i "
                        "left join analytics.abc_xyz a using (sku)").df()
    decisions = con.execute("select cycle_date as cycle, kind, subject, decision_value as value, approved, "
                            "decided_at from staging.stg_sop__decisions").df()
    overrides = ss.service_target_overrides(decisions, cycle=as_of) if len(decisions) else {}
    targets = ss.service_targets(items, overrides)
    points = points.merge(targets, on="sku", how="inner")
    points["order_qty_units"] = points.mean_weekly_demand * ORDER_COVER_WEEKS
    return points, overrides


SIM_TOLERANCE_PP = 1.5   # issue bar: simulated fill rate within +-1.5 points of the target (A and B items)
SIM_WITHIN_SHARE = 0.99  # the check passes when 99 % of A/B items are (simulation noise and the
#                          normal/gamma shape gap leave a few of thousands just outside)
SIM_MAX_STOCK_POINTS = 3000  # the simulation check covers A/B items first, then C, up to this many


def simulation_sample(policies: pd.DataFrame) -> pd.DataFrame:
    """Stock points to simulate: every A and B item, then C items, at most SIM_MAX_STOCK_POINTS
    (a seeded sample of C beyond that) so the check stays seconds long at 30k SKU-locations."""
    abc = policies.abc_xyz.fillna("C").str[:1]
    ab, c = policies[abc.isin(["A", "B"])], policies[~abc.isin(["A", "B"])]
    room = max(SIM_MAX_STOCK_POINTS - len(ab), 0)
    return pd.concat([ab.head(SIM_MAX_STOCK_POINTS), c.sample(min(room, len(c)), random_state=0)])


@dg.asset(
    key=SAFETY_STOCK, group_name="inventory", kinds={"python", "duckdb"}, pool=WAREHOUSE_POOL,
    owners=OWNERS["inventory"], deps=[DEMAND_WEEKLY, ITEMS, abc_xyz.key, dg.AssetKey(["staging", "stg_sop__decisions"]),
                                      dg.AssetKey(["analytics", "demand_backtest"]),
                                      dg.AssetKey(["staging", "stg_erp__purchase_orders"]),
                                      dg.AssetKey(["staging", "stg_erp__receipts"]),
                                      dg.AssetKey(["staging", "stg_mes__production_orders"])],
    description="Safety stock and reorder point per SKU for cycle service (alpha) and fill rate (beta), "
                "from the variability of the one-week-ahead forecast error (backtest; weekly demand where "
                "a SKU has fewer than 8 such weeks; stock-out weeks excluded), lead-time mean/sd (POs and "
                "receipts for bought items, production orders for made items; at least one day) and service targets by "
                "ABC/XYZ class, overridden by approved service_target decisions. Gamma for intermittent "
                "items. Phase-out items are run down (policy run_out: no safety stock). Validated by "
                "simulating the (s, Q) policy.",
    check_specs=[dg.AssetCheckSpec("simulated_fill_rate_on_target", asset=SAFETY_STOCK, description=(
        "Simulated fill rate of A and B items: median |gap| to target within 1.5 points and at least 99% "
        "of items no more than 1.5 points short (or, holding safety stock, over); the items off are listed. A failure means the policies do not deliver the service the curve "
        "promises. (Items whose safety stock floors at 0 deliver more than their target; run-out "
        "items have no target.)"))],
)
def safety_stock(warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        points, overrides = stock_points(con, as_of)
        policies = pd.concat([ss.safety_stock_policies(points, service_type=t, exact_loss=True)
                              for t in ("cycle", "fill_rate")], ignore_index=True)
        plan = policies[policies.service_type == PLAN_SERVICE_TYPE]
        # receipts first in, first out: a supplier (or the line) delivers a SKU's orders in sequence,
        # as the lead-time-variance formula assumes; letting independent lead times overtake each
        # other shortens the effective lead time and over-delivers by 2-3 points at sigma_L/L ~ 20%
        sim = simulate_service(simulation_sample(plan[plan.method != "none"]), weeks=2000, paths=8, seed=7,
                               orders_cross=False)
        validation = sim.merge(plan[["sku", "family", "abc_xyz", "service_target", "policy", "safety_stock_units"]],
                               on="sku", how="left", suffixes=("", "_plan"))
        meta = write_table(con, "safety_stock", policies)
        write_table(con, "safety_stock_validation", validation)
    # run-out (phase-out) items hold no safety stock by design: they have no target to meet
    ab = validation[validation.abc_xyz.fillna("").str[:1].isin(["A", "B"]) & (validation.policy == "service_target")]
    median_gap = float(ab.sim_gap_pp.abs().median()) if len(ab) else 0.0
    worst_shortfall = float(-ab.sim_gap_pp.min()) if len(ab) else 0.0
    buffered = ab.safety_stock_units > 0  # a policy floored at 0 safety stock over-delivers by design
    worst_excess = float(ab[buffered].sim_gap_pp.max()) if buffered.any() else 0.0
    off = (ab.sim_gap_pp < -SIM_TOLERANCE_PP) | (buffered & (ab.sim_gap_pp > SIM_TOLERANCE_PP))
    within_share = 1.0 - float(off.mean()) if len(ab) else 1.0
    value = float(plan.safety_stock_value.sum())
    return dg.MaterializeResult(
        metadata={**meta, "plan_service_type": PLAN_SERVICE_TYPE, "safety_stock_value": round(value, 2),
                  "service_target_overrides": dg.MetadataValue.json(overrides),
                  "sim_fill_rate_gap_pp_median_ab": round(median_gap, 2),
                  "by_method": dg.MetadataValue.json(plan.method.value_counts().to_dict()),
                  "run_out_items": int((plan.policy == "run_out").sum())},
        check_results=[dg.AssetCheckResult(
            check_name="simulated_fill_rate_on_target",
            passed=median_gap <= SIM_TOLERANCE_PP and within_share >= SIM_WITHIN_SHARE,
            metadata={"median_abs_gap_pp": round(median_gap, 2), "worst_shortfall_pp": round(worst_shortfall, 2),
                      "worst_excess_pp": round(worst_excess, 2), "items": len(ab),
                      "within_tolerance_pct": round(100 * within_share, 2),
                      "items_off": dg.MetadataValue.md(markdown_table(
                          ab[off].sort_values("sim_gap_pp")[["sku", "abc_xyz", "service_target", "sim_fill_rate",
                                                             "sim_gap_pp", "safety_stock_units"]], 20))})],
    )


@dg.asset(
    key=["analytics", "safety_stock_curve"], group_name="inventory", kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL, owners=OWNERS["inventory"], deps=[SAFETY_STOCK],
    description="Service-vs-inventory curve per family and in total: safety-stock value at cost for "
                "service targets from 80% to 99.9%, with the current point (today's targets), the "
                "proposed point (lowest holding + shortage cost) and the point chosen in the meeting "
                "(the latest approved service_target decision for the family), for the plan's service type.",
)
def safety_stock_curve(warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        points, overrides = stock_points(con, as_of)
        curve = ss.service_inventory_curve(points, service_type=PLAN_SERVICE_TYPE, exact_loss=True)
        chosen = {k.removeprefix("family:"): v for k, v in overrides.items()}
        level = curve.family.map(chosen)
        curve["chosen_level"] = level
        # the chosen point is the grid level nearest the decided target, per family
        distance = (curve.service_level - level).abs().where(~curve.is_current.astype(bool))
        nearest = distance.groupby(curve.family).transform("min")
        curve["is_chosen"] = (distance == nearest) & level.notna()
        meta = write_table(con, "safety_stock_curve", curve)
    proposed = curve[curve.is_proposed.astype(bool)][["family", "service_level", "safety_stock_value"]]
    return dg.MaterializeResult(metadata={**meta, "proposed_points": dg.MetadataValue.md(markdown_table(proposed, 20))})


ASSETS = [abc_xyz, safety_stock, safety_stock_curve]
