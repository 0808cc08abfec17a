"""Inventory: ABC/XYZ classes, safety stock and reorder points, service-vs-inventory curves.

DataFrame functions around `analytics.abc_xyz`, `analytics.safety_stock` and
`analytics.inventory_policy`: inputs are warehouse tables loaded by the warehouse IO manager,
outputs are returned and stored as `analytics.<table>`, published by the dbt marts in
`models/marts/inventory/`.
"""

import dagster as dg
import pandas as pd

from sop_pipeline.analytics import inventory_policy as policy
from sop_pipeline.analytics import safety_stock as ss, scenario as scenario_lib
from sop_pipeline.analytics.abc_xyz import classify_abc_xyz
from sop_pipeline.analytics.safety_stock_sim import (
    compare_points,
    error_world_history,
    simulate_compare,
    simulate_service,
    summarize_compare,
)
from sop_pipeline.assets import fanout
from sop_pipeline.assets.common import WAREHOUSE_IO, as_of_date, markdown_table, table_in, warehouse_asset
from sop_pipeline.resources import WAREHOUSE_POOL, Economics, ScenarioConfig

CYCLE = table_in("meta", "cycle")
ITEMS = table_in("staging", "stg_erp__items")
ABC_XYZ = dg.AssetKey(["analytics", "abc_xyz"])
SAFETY_STOCK = dg.AssetKey(["analytics", "safety_stock"])
VALIDATION = dg.AssetKey(["analytics", "safety_stock_validation"])
COMPARE = dg.AssetKey(["analytics", "safety_stock_policy_compare"])
PLAN_SERVICE_TYPE = policy.PLAN_SERVICE_TYPE


@dg.asset(
    key=ABC_XYZ,
    **warehouse_asset("demand"),
    pool=WAREHOUSE_POOL,
    ins={"cycle": CYCLE, "sales_weekly": table_in("intermediate", "int_sales_weekly"), "items": ITEMS},
    description="ABC class by revenue over the last 52 full weeks (A to 80% cumulative share, B to 95%, "
    "C rest) and XYZ class by the coefficient of variation of weekly units (X <= 0.5, Y <= 1.0, "
    "Z above), per SKU. Sales = POS sell-out + B2B shipments.",
    check_specs=[
        dg.AssetCheckSpec(
            "every_item_classified", asset=ABC_XYZ, description="Every SKU of the item master has exactly one class."
        )
    ],
)
def abc_xyz(cycle: pd.DataFrame, sales_weekly: pd.DataFrame, items: pd.DataFrame):
    as_of = as_of_date(cycle)
    items = items[["sku", "family"]]
    classes = classify_abc_xyz(sales_weekly, as_of, items=items)
    counts = classes.groupby("abc_xyz").size().rename("skus").reset_index()
    revenue_by_abc = classes.groupby("abc").revenue_12m.sum()
    return dg.MaterializeResult(
        value=classes,
        metadata={
            "as_of": str(as_of),
            "classes": dg.MetadataValue.md(markdown_table(counts, 12)),
            "a_items": int((classes.abc == "A").sum()),
            "a_revenue_share_pct": round(float(100 * revenue_by_abc.get("A", 0) / max(revenue_by_abc.sum(), 1e-9)), 1),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="every_item_classified",
                passed=bool(set(items.sku) <= set(classes.sku) and classes.sku.is_unique),
            )
        ],
    )


class InventoryPolicyConfig(dg.Config):
    """Settings of the safety-stock policy (run config of the `analytics/safety_stock` and
    `analytics/safety_stock_curve` assets; defaults are the constants of
    `sop_pipeline.analytics.safety_stock`, KPI_DEFINITIONS "Protection period"). The holding rate
    and goodwill factor are the cycle's `economics` resource, shared with the plan's build-ahead."""

    review_period_weeks: float = ss.DEFAULT_REVIEW_PERIOD_WEEKS
    min_cycle_service: float = ss.DEFAULT_MIN_CYCLE_SERVICE
    min_saving_share: float = ss.DEFAULT_MIN_SAVING_SHARE
    min_annual_saving: float = ss.DEFAULT_MIN_ANNUAL_SAVING
    # "sigma" (z x sigma_DL, the default: measured at least as close to target on the demo, see the
    # README's "Safety stock from the forecast-error quantiles") or "empirical_quantile" (quantiles
    # of the lead-time-aggregated backtest errors, analytics.safety_stock.empirical_quantile_policies)
    safety_stock_method: str = ss.SIGMA_METHOD


# The tables a stock point is made of (analytics.inventory_policy.stock_points), as asset inputs.
STOCK_POINT_INS = {
    "cycle": CYCLE,
    "demand_weekly": table_in("intermediate", "int_demand_weekly_in_stock"),
    "backtest": table_in("analytics", "demand_backtest"),
    "lead_times": table_in("intermediate", "int_replenishment_lead_times"),
    "items": ITEMS,
    "abc_xyz": table_in(*ABC_XYZ.path),
    "decisions": table_in("staging", "stg_sop__decisions"),
    # supplier of each bought SKU, for a scenario's supplier lead-time change
    "purchase_orders": table_in("staging", "stg_erp__purchase_orders"),
}


# the validation simulation of the plan's policies: receipts first in, first out (a supplier or the line
# delivers a SKU's orders in sequence, as the lead-time-variance formula assumes; letting independent lead
# times overtake each other shortens the effective lead time and over-delivers by 2-3 points at
# sigma_L/L ~ 20%)
VALIDATION_SIM = dict(weeks=2000, paths=8, seed=7, orders_cross=False, demand_model="auto")
STREAMS = "family"  # each product family's stock points draw from a random stream of their own
SAFETY_STOCK_CHECKS = [
    dg.AssetCheckSpec(
        "simulated_fill_rate_on_target",
        asset=SAFETY_STOCK,
        description=(
            "Simulated fill rate of A and B items under the same weekly order-up-to policy: median |gap| to "
            "target within 1.5 points and at least 99% of items no more than 1.5 points short (or over, unless "
            "the minimum cycle service sets their safety stock); the items off are listed. A failure means the "
            "policies do not deliver the service the curve promises. (Run-out items have no target.)"
        ),
    ),
    dg.AssetCheckSpec(
        "safety_stock_on_variable_active_ab_items",
        asset=SAFETY_STOCK,
        blocking=True,
        description=(
            "Plan coherence (blocking): every active A or B item whose weekly demand varies carries safety "
            "stock > 0 in the plan's policy; the SKUs that do not are listed."
        ),
    ),
]
SAFETY_STOCK_CHECK_OUTS = {spec.get_python_identifier(): dg.Out(dg.Nothing) for spec in SAFETY_STOCK_CHECKS}


@dg.op(
    ins=fanout.warehouse_ins(*STOCK_POINT_INS),
    out={"parts": dg.DynamicOut(io_manager_key=fanout.FANOUT_IO), "shared": dg.Out(io_manager_key=fanout.FANOUT_IO)},
    pool=WAREHOUSE_POOL,
)
def safety_stock__split(
    context: dg.OpExecutionContext,
    config: InventoryPolicyConfig,
    economics: Economics,
    cycle: pd.DataFrame,
    demand_weekly: pd.DataFrame,
    backtest: pd.DataFrame,
    lead_times: pd.DataFrame,
    items: pd.DataFrame,
    abc_xyz: pd.DataFrame,
    decisions: pd.DataFrame,
    purchase_orders: pd.DataFrame,
    scenario: ScenarioConfig,
):
    """The policies of every stock point (closed form, 0.02 s at large) and the stock points the checks
    simulate; then one part per product family (or one for all, `fanout.parts_per_family`) that simulates
    its family's points. Each family draws from a random stream of its own (`simulate_service(streams=)`),
    so the parts give the numbers of one simulation over every family."""
    economics = economics.validated()
    if config.safety_stock_method not in ss.SAFETY_STOCK_METHODS:
        raise dg.Failure(
            f"safety_stock_method {config.safety_stock_method!r} is not one of {', '.join(ss.SAFETY_STOCK_METHODS)}"
        )
    as_of = as_of_date(cycle)
    lead_times, decisions = scenario_lib.stock_point_inputs(
        lead_times, decisions, purchase_orders, items, as_of, scenario.spec()
    )
    points, overrides = policy.stock_points(
        demand_weekly, backtest, lead_times, items, abc_xyz, decisions, as_of, config.review_period_weeks
    )
    policies = pd.concat(
        [
            ss.safety_stock_policies(
                points,
                service_type=t,
                exact_loss=True,
                holding_rate=economics.holding_rate,
                min_cycle_service=config.min_cycle_service,
            )
            for t in ("cycle", "fill_rate")
        ],
        ignore_index=True,
    )
    use_quantile = config.safety_stock_method == ss.EMPIRICAL_QUANTILE
    policies = policies.assign(ss_method=ss.SIGMA_METHOD)
    sample = policy.simulation_sample(policies[(policies.service_type == PLAN_SERVICE_TYPE)])
    # the quantile policy of every row when the plan uses it, else of the simulated sample only
    sums = ss.lead_time_error_sums(backtest, method=policy.ERROR_FORECAST_METHOD)
    quantile = ss.empirical_quantile_policies(
        policies if use_quantile else sample, sums, min_cycle_service=config.min_cycle_service
    )
    history = error_world_history(backtest, sample, lag=policy.ERROR_FORECAST_LAG, method=policy.ERROR_FORECAST_METHOD)
    compare = compare_points(
        {
            ss.SIGMA_METHOD: sample,
            ss.EMPIRICAL_QUANTILE: quantile[
                (quantile.service_type == PLAN_SERVICE_TYPE) & quantile.sku.isin(sample.sku)
            ],
        },
        history,
    )
    compare = {name: p.reset_index(drop=True) for name, p in compare.items()}  # row labels put the parts back
    if use_quantile:
        policies = quantile[policies.columns]
    plan = policies[policies.service_type == PLAN_SERVICE_TYPE]
    validate = policy.simulation_sample(plan[plan.method != "none"])
    labels = {str(f) for f in validate[STREAMS]} | {str(f) for p in compare.values() for f in p[STREAMS]}
    families = sorted(labels) if fanout.parts_per_family(context) else []

    def part(n: int, family: str) -> dict:
        def mine(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[frame[STREAMS].astype(str) == family]

        points = {name: mine(p) for name, p in compare.items()}
        skus = {s for p in points.values() for s in p.sku}
        return dict(order=n, validate=mine(validate), compare=points, history=history[history.sku.isin(skus)])

    yield from fanout.family_parts(
        [(f, f) for f in families], part, dict(order=0, validate=validate, compare=compare, history=history)
    )
    yield dg.Output(
        dict(
            policies=policies,
            plan=plan,
            validate_index=validate.index,
            compare=compare,
            overrides=overrides,
            method=config.safety_stock_method,
            review_period_weeks=config.review_period_weeks,
            as_of=as_of,
            families=len(families) if len(families) > 1 else 0,
        ),
        output_name="shared",
    )


@dg.op(out=dg.Out(io_manager_key=fanout.FANOUT_IO))
def safety_stock__part(part: dict):
    """One product family's simulations (or every family's): the plan's validation and the
    sigma-vs-quantile comparison, each family on its own random stream."""
    validate = part["validate"]
    validation = simulate_service(validate, streams=validate[STREAMS], **VALIDATION_SIM)
    compare = simulate_compare(part["compare"], part["history"], streams=STREAMS)
    return part["order"], validation, compare


@dg.op(
    out={
        "safety_stock": dg.Out(io_manager_key=WAREHOUSE_IO),
        "safety_stock_validation": dg.Out(io_manager_key=WAREHOUSE_IO),
        "safety_stock_policy_compare": dg.Out(io_manager_key=WAREHOUSE_IO),
        **SAFETY_STOCK_CHECK_OUTS,
    },
    pool=WAREHOUSE_POOL,
)
def safety_stock__combine(shared: dict, parts: list):
    """The families' simulations back in the sample's order, the comparison's summary, the tables and checks."""
    ordered = sorted(parts, key=lambda p: p[0])
    fanout.let_go(parts)
    policies, plan, method, compare = shared["policies"], shared["plan"], shared["method"], shared["compare"]
    sim = pd.concat([p[1] for p in ordered]).loc[shared["validate_index"]]
    # every part simulates every (world, plan) of the comparison, on its family's share of the points
    sims = {key: pd.concat([p[2][key] for p in ordered]).loc[compare[key[1]].index] for key in ordered[0][2]}
    compared = summarize_compare(compare, sims)
    compared.insert(0, "cycle_id", shared["as_of"])
    compared["is_plan_policy"] = compared.ss_policy == method
    validation = sim.merge(
        plan[["sku", "family", "abc_xyz", "service_target", "policy", "safety_stock_units", "min_cycle_service_binds"]],
        on="sku",
        how="left",
        suffixes=("", "_plan"),
    )
    gaps = policy.simulation_gaps(validation)
    unprotected = ss.unprotected_items(plan)
    yield dg.Output(
        policies,
        output_name="safety_stock",
        metadata={
            "plan_service_type": PLAN_SERVICE_TYPE,
            "safety_stock_value": round(float(plan.safety_stock_value.sum()), 2),
            "service_target_overrides": dg.MetadataValue.json(shared["overrides"]),
            "review_period_weeks": shared["review_period_weeks"],
            "sim_fill_rate_gap_pp_median_ab": round(gaps["median_abs_gap_pp"], 2),
            "by_method": dg.MetadataValue.json(plan.method.value_counts().to_dict()),
            "min_cycle_service_binds": int(plan.min_cycle_service_binds.sum()),
            "run_out_items": int((plan.policy == "run_out").sum()),
            "family_parts": shared["families"],
        },
    )
    yield dg.Output(validation, output_name="safety_stock_validation")
    ab = compared[compared.abc == "A+B"].set_index(["world", "ss_policy"])
    yield dg.Output(
        compared,
        output_name="safety_stock_policy_compare",
        metadata={
            "plan_policy": method,
            "table": dg.MetadataValue.md(
                markdown_table(
                    ab.reset_index()[
                        ["world", "ss_policy", "items", "sim_fill_rate_pct", "median_abs_gap_pp", "safety_stock_value"]
                    ],
                    8,
                )
            ),
        },
    )
    yield dg.AssetCheckResult(
        asset_key=SAFETY_STOCK,
        check_name="simulated_fill_rate_on_target",
        passed=bool(gaps["passed"]),
        metadata={
            "median_abs_gap_pp": round(gaps["median_abs_gap_pp"], 2),
            "worst_shortfall_pp": round(gaps["worst_shortfall_pp"], 2),
            "worst_excess_pp": round(gaps["worst_excess_pp"], 2),
            "items": gaps["items"],
            "within_tolerance_pct": round(100 * gaps["within_share"], 2),
            "items_off": dg.MetadataValue.md(
                markdown_table(
                    gaps["items_off"][
                        ["sku", "abc_xyz", "service_target", "sim_fill_rate", "sim_gap_pp", "safety_stock_units"]
                    ],
                    20,
                )
            ),
        },
    )
    yield dg.AssetCheckResult(
        asset_key=SAFETY_STOCK,
        check_name="safety_stock_on_variable_active_ab_items",
        passed=unprotected.empty,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            "every active A/B item with variable demand carries safety stock"
            if unprotected.empty
            else f"{len(unprotected)} active A/B item(s) with variable demand carry no safety "
            f"stock: {', '.join(unprotected.sku.astype(str).head(20))}"
        ),
        metadata={
            "items_without_safety_stock": len(unprotected),
            "skus": dg.MetadataValue.md(
                markdown_table(
                    unprotected[
                        [
                            "sku",
                            "abc_xyz",
                            "lifecycle",
                            "mean_weekly_demand",
                            "sd_weekly_demand",
                            "k",
                            "safety_stock_units",
                        ]
                    ],
                    20,
                )
            ),
        },
    )


@dg.graph_multi_asset(
    name="analytics__safety_stock",
    outs={
        "safety_stock": dg.AssetOut(
            key=SAFETY_STOCK,
            **warehouse_asset("inventory"),
            description="Safety stock and reorder point (order-up-to level of the weekly review) per SKU for cycle "
            "service (alpha) and fill rate (beta), protecting the review period (1 week) plus the lead "
            "time: sigma_DL = sqrt((L + R) sd_D^2 + D^2 sd_L^2), sd_D of the one-week-ahead forecast error "
            "(backtest; weekly demand where a SKU has fewer than 8 such weeks; stock-out weeks excluded). "
            "L: purchase order -> first receipt for bought items, production order release -> completion "
            "for made items. Service targets by ABC/XYZ class, overridden by approved service_target "
            "decisions; a fill-rate policy keeps at least the minimum cycle service (config). Gamma for "
            "intermittent items. Phase-out items are run down (policy run_out: no safety stock). Validated "
            "by simulating the same (R, S) policy.",
        ),
        "safety_stock_validation": dg.AssetOut(
            key=VALIDATION,
            **warehouse_asset("inventory"),
            description="The plan's safety-stock policies simulated (weekly order-up-to, 2000 weeks x 8 paths, "
            "receipts in order): simulated fill rate and its gap to the target per simulated SKU (A "
            "and B items, then a sample of C), beside the policy.",
        ),
        "safety_stock_policy_compare": dg.AssetOut(
            key=COMPARE,
            **warehouse_asset("inventory"),
            description="Sigma-based vs empirical-quantile safety stock (fill-rate plan) simulated on the same "
            "items, in the forecast-errors world (weeks resampled from mean + one-week backtest errors) and the "
            "model world (normal/gamma): target, simulated fill rate and cycle service, gap, items short, "
            "safety stock units and value, average on hand; which policy the plan uses.",
        ),
    },
    ins=STOCK_POINT_INS,
    group_name="inventory",
    check_specs=SAFETY_STOCK_CHECKS,
)
def safety_stock(cycle, demand_weekly, backtest, lead_times, items, abc_xyz, decisions, purchase_orders):
    """The policies in one step; the simulation checks fanned out per product family when the steps run in
    processes of their own (sop_pipeline/assets/fanout.py, `fanout.parts_per_family`)."""
    parts, shared = safety_stock__split(
        cycle=cycle,
        demand_weekly=demand_weekly,
        backtest=backtest,
        lead_times=lead_times,
        items=items,
        abc_xyz=abc_xyz,
        decisions=decisions,
        purchase_orders=purchase_orders,
    )
    outputs = safety_stock__combine(shared, parts.map(safety_stock__part).collect())
    names = ["safety_stock", "safety_stock_validation", "safety_stock_policy_compare", *SAFETY_STOCK_CHECK_OUTS]
    return dict(zip(names, outputs))


@dg.asset(
    key=["analytics", "safety_stock_curve"],
    **warehouse_asset("inventory"),
    pool=WAREHOUSE_POOL,
    ins=STOCK_POINT_INS,
    deps=[SAFETY_STOCK],
    description="Service-vs-inventory curve per family and in total: safety-stock value at cost and annual cost "
    "(holding = value x holding rate; shortage = expected units short x lost margin x goodwill factor) "
    "for service targets from 50% to 99.9% (0.1-point steps above 95%), with the current point "
    "(today's targets), the least-cost point, the proposed point (least cost, only when it saves at "
    "least 1% of the family's annual cost and 100 a year; annual_saving says how much) and the point "
    "chosen in the meeting (the latest approved service_target decision for the family), for the "
    "plan's service type.",
)
def safety_stock_curve(
    config: InventoryPolicyConfig,
    economics: Economics,
    cycle: pd.DataFrame,
    demand_weekly: pd.DataFrame,
    backtest: pd.DataFrame,
    lead_times: pd.DataFrame,
    items: pd.DataFrame,
    abc_xyz: pd.DataFrame,
    decisions: pd.DataFrame,
    purchase_orders: pd.DataFrame,
    scenario: ScenarioConfig,
):
    economics = economics.validated()
    lead_times, decisions = scenario_lib.stock_point_inputs(
        lead_times, decisions, purchase_orders, items, as_of_date(cycle), scenario.spec()
    )
    points, overrides = policy.stock_points(
        demand_weekly, backtest, lead_times, items, abc_xyz, decisions, as_of_date(cycle), config.review_period_weeks
    )
    curve = ss.service_inventory_curve(
        points,
        service_type=PLAN_SERVICE_TYPE,
        exact_loss=True,
        holding_rate=economics.holding_rate,
        goodwill_factor=economics.goodwill_factor,
        min_saving_share=config.min_saving_share,
        min_annual_saving=config.min_annual_saving,
        min_cycle_service=config.min_cycle_service,
    )
    curve = policy.mark_chosen_points(curve, overrides)
    least, at_top = policy.least_cost_points(curve)
    return dg.MaterializeResult(
        value=curve,
        metadata={
            "least_cost_points": dg.MetadataValue.md(markdown_table(least, 20)),
            "proposals": int(curve.is_proposed.astype(bool).sum()),
            "least_cost_at_top_of_grid": dg.MetadataValue.json(at_top),
        },
    )


ASSETS = [abc_xyz, safety_stock, safety_stock_curve]
