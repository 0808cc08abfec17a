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
# Order quantity under continuous review (review_period_weeks = 0 in the config): one week of
# demand. Under the weekly review the policy is order-up-to and each order is a week's demand.
ORDER_COVER_WEEKS = 1.0
# Without purchase orders/receipts or production orders there is no observed lead time: one week
# is assumed (lead_time_source says so in analytics.safety_stock).
DEFAULT_LEAD_TIME_WEEKS = 1.0
DEMAND_WEEKLY = dg.AssetKey(["intermediate", "int_demand_weekly"])
SAFETY_STOCK = dg.AssetKey(["analytics", "safety_stock"])


class InventoryPolicyConfig(dg.Config):
    """Settings of the safety-stock policy and of the service-target economics (run config of the
    `analytics/safety_stock` and `analytics/safety_stock_curve` assets; defaults are the constants
    of `sop_pipeline.analytics.safety_stock`, KPI_DEFINITIONS "Protection period" and
    "Service-target economics")."""

    review_period_weeks: float = ss.DEFAULT_REVIEW_PERIOD_WEEKS
    holding_rate: float = ss.DEFAULT_HOLDING_RATE
    goodwill_factor: float = ss.DEFAULT_GOODWILL_FACTOR
    min_cycle_service: float = ss.DEFAULT_MIN_CYCLE_SERVICE
    min_saving_share: float = ss.DEFAULT_MIN_SAVING_SHARE
    min_annual_saving: float = ss.DEFAULT_MIN_ANNUAL_SAVING


def _lead_times(con) -> pd.DataFrame:
    """Observed replenishment lead times in days per SKU.

    Bought items: purchase order date -> first receipt. Made items: production order release
    (actual start, else planned start) -> completion (actual end) of completed orders. Each item
    uses the observations of its own kind (item master `make_or_buy`); an item with none of its
    kind (it changed from make to buy, say) uses the other kind's.
    """
    return con.execute("""
        with obs as (
            select po.sku, 'buy' as kind, datediff('day', po.order_date, min(r.receipt_date)) as lead_time_days
            from staging.stg_erp__purchase_orders po
            join staging.stg_erp__receipts r on r.po_id = po.po_id and r.line = po.line
            group by po.po_id, po.line, po.sku, po.order_date
            union all
            select sku, 'make', datediff('minute', coalesce(actual_start, planned_start), actual_end) / 1440.0
            from staging.stg_mes__production_orders
            where status = 'completed' and actual_end is not null
              and actual_end >= coalesce(actual_start, planned_start)),
        tagged as (
            select obs.*, coalesce(obs.kind = i.make_or_buy, true) as own_kind,
                   bool_or(coalesce(obs.kind = i.make_or_buy, true)) over (partition by obs.sku) as has_own
            from obs left join staging.stg_erp__items i using (sku))
        select sku, lead_time_days from tagged where own_kind or not has_own
    """).df()


def stock_points(con, as_of, review_period_weeks: float = ss.DEFAULT_REVIEW_PERIOD_WEEKS
                 ) -> tuple[pd.DataFrame, dict[str, float]]:
    """Variability inputs + class + target + cost and price per SKU (demand summed over locations)."""
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
        demand, lead_times if len(lead_times) else None, review_period_weeks=review_period_weeks,
        default_lead_time_weeks=None if len(lead_times) else DEFAULT_LEAD_TIME_WEEKS,
        default_lead_time_sd_weeks=None if len(lead_times) else 0.0)
    items = con.execute("select i.sku, i.family, i.unit_cost, i.unit_price, i.lifecycle, i.make_or_buy, a.abc_xyz "
                        "from staging.stg_erp__items i left join analytics.abc_xyz a using (sku)").df()
    decisions = con.execute("select cycle_date as cycle, kind, subject, decision_value as value, approved, "
                            "decided_at from staging.stg_sop__decisions").df()
    overrides = ss.service_target_overrides(decisions, cycle=as_of) if len(decisions) else {}
    targets = ss.service_targets(items, overrides)
    points = points.merge(targets, on="sku", how="inner")
    points["order_qty_units"] = points.mean_weekly_demand * ORDER_COVER_WEEKS  # continuous review only
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
    description="Safety stock and reorder point (order-up-to level of the weekly review) per SKU for cycle "
                "service (alpha) and fill rate (beta), protecting the review period (1 week) plus the lead "
                "time: sigma_DL = sqrt((L + R) sd_D^2 + D^2 sd_L^2), sd_D of the one-week-ahead forecast error "
                "(backtest; weekly demand where a SKU has fewer than 8 such weeks; stock-out weeks excluded). "
                "L: purchase order -> first receipt for bought items, production order release -> completion "
                "for made items. Service targets by ABC/XYZ class, overridden by approved service_target "
                "decisions; a fill-rate policy keeps at least the minimum cycle service (config). Gamma for "
                "intermittent items. Phase-out items are run down (policy run_out: no safety stock). Validated "
                "by simulating the same (R, S) policy.",
    check_specs=[
        dg.AssetCheckSpec("simulated_fill_rate_on_target", asset=SAFETY_STOCK, description=(
            "Simulated fill rate of A and B items under the same weekly order-up-to policy: median |gap| to "
            "target within 1.5 points and at least 99% of items no more than 1.5 points short (or over, unless "
            "the minimum cycle service sets their safety stock); the items off are listed. A failure means the "
            "policies do not deliver the service the curve promises. (Run-out items have no target.)")),
        dg.AssetCheckSpec("safety_stock_on_variable_active_ab_items", asset=SAFETY_STOCK, blocking=True,
                          description=(
            "Plan coherence (blocking): every active A or B item whose weekly demand varies carries safety "
            "stock > 0 in the plan's policy; the SKUs that do not are listed.")),
    ],
)
def safety_stock(warehouse: Warehouse, config: InventoryPolicyConfig) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        points, overrides = stock_points(con, as_of, config.review_period_weeks)
        policies = pd.concat([ss.safety_stock_policies(points, service_type=t, exact_loss=True,
                                                       holding_rate=config.holding_rate,
                                                       min_cycle_service=config.min_cycle_service)
                              for t in ("cycle", "fill_rate")], ignore_index=True)
        plan = policies[policies.service_type == PLAN_SERVICE_TYPE]
        # receipts first in, first out: a supplier (or the line) delivers a SKU's orders in sequence,
        # as the lead-time-variance formula assumes; letting independent lead times overtake each
        # other shortens the effective lead time and over-delivers by 2-3 points at sigma_L/L ~ 20%
        sim = simulate_service(simulation_sample(plan[plan.method != "none"]), weeks=2000, paths=8, seed=7,
                               orders_cross=False, demand_model="auto")
        validation = sim.merge(plan[["sku", "family", "abc_xyz", "service_target", "policy", "safety_stock_units",
                                     "min_cycle_service_binds"]],
                               on="sku", how="left", suffixes=("", "_plan"))
        meta = write_table(con, "safety_stock", policies)
        write_table(con, "safety_stock_validation", validation)
    # run-out (phase-out) items hold no safety stock by design: they have no target to meet
    ab = validation[validation.abc_xyz.fillna("").str[:1].isin(["A", "B"]) & (validation.policy == "service_target")]
    median_gap = float(ab.sim_gap_pp.abs().median()) if len(ab) else 0.0
    worst_shortfall = float(-ab.sim_gap_pp.min()) if len(ab) else 0.0
    # a policy set by the minimum cycle service (or floored at 0) over-delivers its fill rate by design
    on_target = (ab.safety_stock_units > 0) & ~ab.min_cycle_service_binds.fillna(False).astype(bool)
    worst_excess = float(ab[on_target].sim_gap_pp.max()) if on_target.any() else 0.0
    off = (ab.sim_gap_pp < -SIM_TOLERANCE_PP) | (on_target & (ab.sim_gap_pp > SIM_TOLERANCE_PP))
    within_share = 1.0 - float(off.mean()) if len(ab) else 1.0
    value = float(plan.safety_stock_value.sum())
    unprotected = ss.unprotected_items(plan)
    return dg.MaterializeResult(
        metadata={**meta, "plan_service_type": PLAN_SERVICE_TYPE, "safety_stock_value": round(value, 2),
                  "service_target_overrides": dg.MetadataValue.json(overrides),
                  "review_period_weeks": config.review_period_weeks,
                  "sim_fill_rate_gap_pp_median_ab": round(median_gap, 2),
                  "by_method": dg.MetadataValue.json(plan.method.value_counts().to_dict()),
                  "min_cycle_service_binds": int(plan.min_cycle_service_binds.sum()),
                  "run_out_items": int((plan.policy == "run_out").sum())},
        check_results=[
            dg.AssetCheckResult(
                check_name="simulated_fill_rate_on_target",
                passed=median_gap <= SIM_TOLERANCE_PP and within_share >= SIM_WITHIN_SHARE,
                metadata={"median_abs_gap_pp": round(median_gap, 2), "worst_shortfall_pp": round(worst_shortfall, 2),
                          "worst_excess_pp": round(worst_excess, 2), "items": len(ab),
                          "within_tolerance_pct": round(100 * within_share, 2),
                          "items_off": dg.MetadataValue.md(markdown_table(
                              ab[off].sort_values("sim_gap_pp")[["sku", "abc_xyz", "service_target", "sim_fill_rate",
                                                                 "sim_gap_pp", "safety_stock_units"]], 20))}),
            dg.AssetCheckResult(
                check_name="safety_stock_on_variable_active_ab_items", passed=unprotected.empty,
                severity=dg.AssetCheckSeverity.ERROR,
                description=("every active A/B item with variable demand carries safety stock" if unprotected.empty
                             else f"{len(unprotected)} active A/B item(s) with variable demand carry no safety "
                                  f"stock: {', '.join(unprotected.sku.astype(str).head(20))}"),
                metadata={"items_without_safety_stock": len(unprotected),
                          "skus": dg.MetadataValue.md(markdown_table(unprotected[
                              ["sku", "abc_xyz", "lifecycle", "mean_weekly_demand", "sd_weekly_demand", "k",
                               "safety_stock_units"]], 20))}),
        ],
    )


@dg.asset(
    key=["analytics", "safety_stock_curve"], group_name="inventory", kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL, owners=OWNERS["inventory"], deps=[SAFETY_STOCK],
    description="Service-vs-inventory curve per family and in total: safety-stock value at cost and annual cost "
                "(holding = value x holding rate; shortage = expected units short x lost margin x goodwill factor) "
                "for service targets from 50% to 99.9% (0.1-point steps above 95%), with the current point "
                "(today's targets), the least-cost point, the proposed point (least cost, only when it saves at "
                "least 1% of the family's annual cost and 100 a year; annual_saving says how much) and the point "
                "chosen in the meeting (the latest approved service_target decision for the family), for the "
                "plan's service type.",
)
def safety_stock_curve(warehouse: Warehouse, config: InventoryPolicyConfig) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        points, overrides = stock_points(con, as_of, config.review_period_weeks)
        curve = ss.service_inventory_curve(points, service_type=PLAN_SERVICE_TYPE, exact_loss=True,
                                           holding_rate=config.holding_rate, goodwill_factor=config.goodwill_factor,
                                           min_saving_share=config.min_saving_share,
                                           min_annual_saving=config.min_annual_saving,
                                           min_cycle_service=config.min_cycle_service)
        chosen = {k.removeprefix("family:"): v for k, v in overrides.items()}
        level = curve.family.map(chosen)
        curve["chosen_level"] = level
        # the chosen point is the grid level nearest the decided target, per family
        distance = (curve.service_level - level).abs().where(~curve.is_current.astype(bool))
        nearest = distance.groupby(curve.family).transform("min")
        curve["is_chosen"] = (distance == nearest) & level.notna()
        meta = write_table(con, "safety_stock_curve", curve)
    least = curve[curve.is_least_cost.astype(bool)][["family", "service_level", "safety_stock_value",
                                                      "total_cost_per_year", "annual_saving", "is_proposed"]]
    # at the top of the grid the cost is still falling: the true optimum is at or above that level
    at_top = least[least.service_level >= max(ss.SERVICE_LEVEL_GRID) - 1e-12].family.tolist()
    return dg.MaterializeResult(metadata={**meta, "least_cost_points": dg.MetadataValue.md(markdown_table(least, 20)),
                                          "proposals": int(curve.is_proposed.astype(bool).sum()),
                                          "least_cost_at_top_of_grid": dg.MetadataValue.json(at_top)})


ASSETS = [abc_xyz, safety_stock, safety_stock_curve]
