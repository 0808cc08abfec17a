"""The plan of record, the decision log, the promo substitution plan and the cycle history.

"Everything lands in one published plan of record. No side quests." A DataFrame function around
`analytics.plan`, `analytics.plan_inputs`, `analytics.decisions` and `analytics.substitution`: the
forecast, supply-review outputs, staged extracts and usable stock come in through the warehouse IO
manager; the plan, decision log and substitution plan are returned as `analytics.*` tables,
published by the dbt marts in `models/marts/plan/`. History tables (`history.*`) keep one copy per
cycle: the IO manager writes this cycle's copy of the `history/plan_of_record` and
`analytics/decision_log` outputs (`warehouse_asset(..., history=...)`); re-running a cycle replaces
that cycle only.
"""

import dagster as dg
import numpy as np
import pandas as pd

from sop_pipeline.analytics import (
    decisions as decision_log_lib,
    mps,
    offload as offload_lib,
    plan as plan_lib,
    plan_inputs,
)
from sop_pipeline.analytics import scenario as scenario_lib
from sop_pipeline.analytics.calendar import Cycle
from sop_pipeline.analytics.substitution import substitution_plan
from sop_pipeline.assets.common import (  # noqa: F401  (seed_history_from_extract, _previous_plan: tests)
    absent_in,
    as_of_date,
    decisions_as_of,
    markdown_table,
    plan_history_before,
    previous_plan as _previous_plan,
    seed_history_from_extract,
    table_in,
    warehouse_asset,
)
from sop_pipeline.resources import WAREHOUSE_POOL, Economics, ScenarioConfig, Warehouse

PLAN = dg.AssetKey(["analytics", "plan_of_record"])
DECISIONS = dg.AssetKey(["analytics", "decision_log"])
SUBSTITUTIONS = dg.AssetKey(["analytics", "substitution_plan"])
OFFLOADS = dg.AssetKey(["analytics", "plan_offloads"])
LOAD = dg.AssetKey(["analytics", "plan_resource_load"])
OFFLOAD_COLUMNS = ["cycle_id", "family", "horizon_week", *offload_lib.OFFLOAD_COLUMNS]
HISTORY = dg.AssetKey(["history", "plan_of_record"])
STG = lambda name: dg.AssetKey(["staging", name])  # noqa: E731
OPEN_ORDER_GRACE_DAYS = plan_inputs.OPEN_ORDER_GRACE_DAYS
# what plan_inputs.seasonal_safety_stock reads of a fill-rate policy row
SEASONAL_POLICY_COLUMNS = (
    "sku",
    "k",
    "service_target",
    "lead_time_mean_weeks",
    "lead_time_sd_weeks",
    "review_period_weeks",
    "lifecycle",
    "target_source",
    "min_cycle_service",
)

# parameter name -> asset key [schema, table] of every input the plan reads
INPUT_TABLES = {
    "cycle": ("meta", "cycle"),
    "ingest_log": ("meta", "ingest_log"),
    # consensus (+ sensing, + approved overrides) consumed by booked orders: assets/demand_review.py
    "consumption": ("analytics", "demand_consumption"),
    "override_log": ("analytics", "forecast_override_log"),
    "safety_stock": ("analytics", "safety_stock"),
    # the SKU forecast's band and model: a seasonal item's safety stock week by week
    "forecast": ("analytics", "demand_forecast"),
    "abc_xyz": ("analytics", "abc_xyz"),
    "safety_stock_curve": ("analytics", "safety_stock_curve"),
    "capacity": ("analytics", "capacity"),
    "items": ("staging", "stg_erp__items"),
    "decisions": ("staging", "stg_sop__decisions"),
    "resources": ("staging", "stg_mes__resources"),
    "routings": ("staging", "stg_mes__routings"),
    "routing_alternates": ("staging", "stg_mes__routing_alternates"),
    "downtime": ("staging", "stg_mes__downtime"),
    "promotions": ("staging", "stg_crm__promotions"),
    "purchase_orders": ("staging", "stg_erp__purchase_orders"),
    "receipts": ("staging", "stg_erp__receipts"),
    "expedites": ("staging", "stg_erp__expedites"),
    "production_orders": ("staging", "stg_mes__production_orders"),
    "plan_history": ("staging", "stg_sop__plan_history"),
    "usable_stock": ("intermediate", "int_usable_stock"),
}
INPUTS = [dg.AssetKey(list(key)) for key in INPUT_TABLES.values()]


@dg.multi_asset(
    name="plan_of_record",
    outs={
        "plan_of_record": dg.AssetOut(
            key=PLAN,
            **warehouse_asset("plan"),
            description="Plan of record, one row per SKU x horizon week: consensus demand (optimism "
            "filter, sensing, approved overrides, consumed by booked orders: remaining forecast + booked; "
            "approved substitutions), capacity-feasible supply (never above "
            "the hours of any critical resource - machine, labour, tooling: what did not fit "
            "is moved or cut), open orders and expedites, bought SKUs within their supplier "
            "lead time, projected inventory, safety stock (a seasonal item's week by week, from its "
            "forecast band), service risk and the decisions that changed the row.",
        ),
        "decision_log": dg.AssetOut(
            key=DECISIONS,
            **warehouse_asset("plan", history="history.decision_log"),
            description="Decision log with RACI: the decisions extract (approved/rejected) plus the "
            "pipeline's proposals for this meeting (status proposed), with each decision's "
            "effect on this cycle's plan.",
        ),
        "substitution_plan": dg.AssetOut(
            key=SUBSTITUTIONS,
            **warehouse_asset("plan"),
            description="Promo substitution plan: substitutes for promo units the plan cannot supply in "
            "time, from the same family with stock above safety stock; proposals for Sales "
            "to approve before the email blast.",
        ),
        "plan_offloads": dg.AssetOut(
            key=OFFLOADS,
            **warehouse_asset("plan"),
            description="Offloads to alternate resources (routings with priority 2, 3, ...): per SKU and "
            "week, the units the plan makes on an alternate because the primary resource was full, "
            "in the alternate's priority order and within its hours left after its own primary load "
            "(before anything is moved, cut or proposed to buy), with the hours on each resource and "
            "the extra cost (units x (unit cost on the alternate - on the primary)).",
        ),
        "plan_resource_load": dg.AssetOut(
            key=LOAD,
            **warehouse_asset("plan"),
            description="The plan of record's load per critical resource and week: run hours of its make "
            "units (offloaded units on the alternate), the changeover hours the plan keeps free, and "
            "their sum against the available hours (plan_load_pct); the capacity table's load_pct is the "
            "demand forecast's gross make volume, before the plan netted stock and moved, built ahead, "
            "offloaded or cut anything.",
        ),
        # the IO manager replaces this cycle's rows of history.plan_of_record (sop/history)
        "history": dg.AssetOut(
            key=HISTORY,
            **warehouse_asset("plan", history="history.plan_of_record"),
            description="Every cycle's plan of record (and decision log in history.decision_log), one "
            "copy per cycle: re-running a cycle replaces that cycle only.",
        ),
    },
    ins={name: table_in(*key) for name, key in INPUT_TABLES.items()},
    pool=WAREHOUSE_POOL,
    # Blocking: a plan that breaks any of these would publish numbers that contradict each other,
    # so the marts and the publish step downstream do not run (the previous cycle stays served).
    check_specs=[
        dg.AssetCheckSpec(
            "capacity_respected",
            asset=PLAN,
            blocking=True,
            description=(
                "On every critical resource (machine, labour, tooling), the hours the plan needs per week never "
                "exceed the hours available (frozen weeks, locked by an approved freeze window, excepted)."
            ),
        ),
        dg.AssetCheckSpec(
            "no_avoidable_shortfall",
            asset=PLAN,
            blocking=True,
            description=(
                "No made SKU is short of capacity in a week (moved_out_units or cut_units) while an earlier "
                "unfrozen week has hours left on every resource of its routing for at least a unit (a minimum "
                "run where it makes nothing), within a third of its shelf life, and carrying a unit costs less "
                "than being short of it: the plan builds ahead first (benchmarks/README.md, 'Build-ahead'). A failure "
                "names the SKU, the short week and the earlier week."
            ),
        ),
        dg.AssetCheckSpec(
            "offloads_reconcile",
            asset=OFFLOADS,
            blocking=True,
            description=(
                "Every offload is an alternate of the SKU's routing, within the SKU-week's make units, and "
                "logged once in the decision log (kind offload) with the same extra cost. A failure names the "
                "SKU and week."
            ),
        ),
        dg.AssetCheckSpec(
            "net_margin_reconciles",
            asset=PLAN,
            blocking=True,
            description=(
                "Every SKU-week: offload_cost = the extra cost of its offloads, expedite_cost = the approved "
                "expedites landing in it, and net_margin = margin - expedite_cost - offload_cost. A failure names "
                "the SKU and week."
            ),
        ),
        dg.AssetCheckSpec(
            "frozen_weeks_unchanged",
            asset=PLAN,
            blocking=True,
            description=("Supply in the frozen weeks equals the previous cycle's plan."),
        ),
        dg.AssetCheckSpec(
            "family_rollup_reconciles",
            asset=PLAN,
            blocking=True,
            description=("Units and revenue of the family roll-up equal the SKU plan."),
        ),
        dg.AssetCheckSpec(
            "inventory_balance",
            asset=PLAN,
            blocking=True,
            description=(
                "Every SKU-week: projected = previous projected (week 1: usable stock) + supply + receipts - demand "
                "- expired. A failure names the SKU and week."
            ),
        ),
        dg.AssetCheckSpec(
            "seasonal_safety_stock_on_target",
            asset=PLAN,
            description=(
                "A seasonal item's week-by-week safety stock, simulated over its horizon (weekly order-up-to, "
                "backorders, demand drawn from its forecast band; plan_inputs.seasonal_fill_simulation), gives "
                "its fill-rate target within 1.5 points (over it only where the minimum cycle service sets the "
                "stock); the SKUs off are listed. Passes with no seasonal item."
            ),
        ),
        dg.AssetCheckSpec(
            "starting_stock_usable",
            asset=PLAN,
            blocking=True,
            description=(
                "Week-1 opening stock of every SKU is at most its usable stock (available, unexpired lots at the "
                "as-of). A failure names the SKU."
            ),
        ),
    ],
)
def plan_of_record(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    scenario: ScenarioConfig,
    economics: Economics,
    cycle: pd.DataFrame,
    ingest_log: pd.DataFrame,
    consumption: pd.DataFrame,
    override_log: pd.DataFrame,
    safety_stock: pd.DataFrame,
    forecast: pd.DataFrame,
    abc_xyz: pd.DataFrame,
    safety_stock_curve: pd.DataFrame,
    capacity: pd.DataFrame,
    items: pd.DataFrame,
    decisions: pd.DataFrame,
    resources: pd.DataFrame,
    routings: pd.DataFrame,
    routing_alternates: pd.DataFrame,
    downtime: pd.DataFrame,
    promotions: pd.DataFrame,
    purchase_orders: pd.DataFrame,
    receipts: pd.DataFrame,
    expedites: pd.DataFrame,
    production_orders: pd.DataFrame,
    plan_history: pd.DataFrame,
    usable_stock: pd.DataFrame,
):
    economics = economics.validated()
    as_of = as_of_date(cycle)
    calendar = Cycle(as_of)
    absent = absent_in(ingest_log)
    items = items[["sku", "family", "unit_price", "unit_cost", "make_or_buy", "lifecycle"]]
    decisions = decisions_as_of(scenario_lib.scenario_decisions(decisions, as_of, scenario.spec()), as_of)
    seeded, previous = plan_history_before(warehouse, as_of, absent)  # plan_history extract -> history

    demand = plan_inputs.planned_demand(consumption, calendar.horizon_weeks)
    demand, effects = plan_lib.apply_substitutions(demand, decisions)
    source, sourced_by, source_effects = plan_lib.sourcing(items, decisions)
    effects += source_effects
    weeks, freeze_id = plan_lib.freeze_weeks(decisions)
    if {"resources", "routings"} & absent:
        routes, hours, bottleneck = plan_inputs.capacity_inputs(capacity.iloc[:0], routings)
    else:
        routes, hours, bottleneck = plan_inputs.capacity_inputs(capacity, routings)
    alternates, ignored_alternates = _alternates(routings, routing_alternates, hours, absent)
    scheduled = (
        pd.DataFrame(columns=["sku", "week_start", "units", "order_id"])
        if {"purchase_orders", "receipts"} & absent
        else plan_inputs.scheduled_receipts(
            purchase_orders, receipts, calendar.week1_start, calendar.as_of, calendar.horizon_end
        )
    )
    events = None if "expedites" in absent else expedites[["expedite_id", "sku", "order_id", "expedite_date", "cost"]]
    expedited = plan_lib.apply_expedites(decisions, scheduled, events, calendar.horizon())
    effects += expedited.effects
    fill_rate = safety_stock[safety_stock.service_type == "fill_rate"]
    lead_times = fill_rate.set_index("sku").lead_time_mean_weeks
    # usable stock only: available, unexpired lots of the last snapshot on or before the as-of
    usable = plan_inputs.usable_stock_by_sku(usable_stock)
    min_runs = (
        None
        if "routings" in absent
        else mps.minimum_run_units(
            routings[["sku", "resource_id", "units_per_hour"]],
            None if "production_orders" in absent else production_orders[["sku", "planned_qty", "status"]],
            resources=None
            if "resources" in absent
            else resources[["resource_id", "resource_type"]].rename(columns={"resource_type": "type"}),
        )
    )
    band = forecast[["sku", "week_start", "units_p10", "units_p50", "units_p90", "model"]]
    seasonal = plan_inputs.seasonal_safety_stock(
        fill_rate[[c for c in SEASONAL_POLICY_COLUMNS if c in fill_rate]], band
    )
    ahead_limit = plan_inputs.build_ahead_weeks(usable_stock)
    plan, offloads = plan_lib.supply_plan_and_offloads(
        demand,
        items,
        opening_inventory=usable,
        safety_stock=fill_rate.set_index("sku").safety_stock_units,
        source=source,
        routings=routes,
        resource_hours=hours,
        priority=plan_inputs.plan_priority(items, abc_xyz[["sku", "abc"]], routes, bottleneck),
        frozen_supply=previous,
        frozen_weeks=weeks if previous is not None else 0,
        receipts=expedited.receipts,
        lead_time_weeks=lead_times,
        lead_time_waived=expedited.lead_time_waived,
        expedite_costs=expedited.costs,
        expiring=plan_inputs.expiring_stock(usable_stock),
        min_lot_units=min_runs,
        alternates=alternates,
        safety_stock_weekly=seasonal,
        build_ahead_weeks=ahead_limit,
        holding_rate=economics.holding_rate,
        goodwill_factor=economics.goodwill_factor,
    )
    build_ahead = dict(plan.attrs)  # rounds run and whether they settled (plan.supply_plan_and_offloads)
    unneeded = plan_lib.expedites_not_needed(plan, expedited.pulls)
    effects = _with_expedite_verdicts(effects, unneeded)
    if freeze_id:
        effects.append(
            plan_lib.DecisionEffect(
                freeze_id,
                "freeze_window",
                (
                    f"supply of weeks 1-{weeks} locked to the previous cycle's plan"
                    if previous is not None
                    else f"freeze of {weeks} weeks approved, but there is no previous cycle's plan to lock to yet"
                ),
            )
        )
        if previous is not None:
            frozen = plan.horizon_week <= weeks
            plan.loc[frozen, "decision_ids"] = plan_lib._add_id(plan.loc[frozen, "decision_ids"], freeze_id)
    bought = plan.sku.isin(sourced_by)
    plan.loc[bought, "decision_ids"] = [
        (ids + "," if ids else "") + sourced_by[s]
        for ids, s in zip(plan.loc[bought, "decision_ids"], plan.loc[bought, "sku"])
    ]
    for row in expedited.costs.itertuples():
        hit = (plan.sku == row.sku) & (pd.to_datetime(plan.week_start) == pd.Timestamp(row.week_start))
        plan.loc[hit, "decision_ids"] = plan_lib._add_id(plan.loc[hit, "decision_ids"], row.decision_id)
    plan.insert(0, "cycle_id", as_of)
    plan = plan.reindex(columns=["cycle_id", *plan_lib.PLAN_COLUMNS, "demand_source"])

    promos = (
        None
        if "promotions" in absent
        else plan_inputs.promotions_in_horizon(promotions, calendar.week1_start, calendar.horizon_end)
    )
    subs = substitution_plan(plan, promos, items)
    subs.insert(0, "cycle_id", as_of)
    typical = None if events is None or events.empty else float(events.cost.median())
    log = decision_log_lib.decision_log(
        decisions,
        plan_inputs.proposals(
            plan,
            subs,
            expedited.receipts,
            safety_stock_curve,
            typical,
            cancellations=_expedite_cancellations(unneeded, decisions),
        ),
        {e.decision_id: e.effect for e in effects},
        as_of,
        overrides=override_log,
        offloads=offloads,
    )
    log.insert(0, "cycle_id", as_of)
    offloads = _offload_table(offloads, plan, as_of)
    offload_breaks = _offload_breaks(offloads, plan, alternates, log)

    load = plan_lib.resource_load(plan, routes, hours, offloads)
    frozen_rows = plan.supply_source == "frozen"
    frozen_weeks_set = set(pd.to_datetime(plan.loc[frozen_rows, "week_start"]))
    over_rows = load[(load.planned_hours > load.available_hours + 1e-6) & ~load.week_start.isin(frozen_weeks_set)]
    over = [f"{r.resource_id} {r.week_start.date()}" for r in over_rows.itertuples()]
    frozen_ok = True
    if previous is not None and frozen_rows.any():
        chk = plan[frozen_rows].merge(previous, on=["sku", "week_start"], suffixes=("", "_prev"))
        frozen_ok = bool(np.allclose(chk.supply_units, chk.supply_units_prev))
    yield dg.Output(
        plan,
        output_name="plan_of_record",
        metadata={
            "cycle": str(as_of),
            "bottleneck": bottleneck or "none (no resources/routings)",
            "planned_load_pct_max": dg.MetadataValue.md(
                markdown_table(
                    load.groupby("resource_id", as_index=False)
                    .agg(
                        max_load_pct=("load_pct", "max"),
                        planned_hours=("planned_hours", "sum"),
                        available_hours=("available_hours", "sum"),
                    )
                    .round(1)
                )
            ),
            "demand_units_13w": round(float(plan.demand_units.sum()), 1),
            "revenue_13w": round(float(plan.revenue.sum()), 2),
            "cut_units": round(float(plan.cut_units.sum()), 1),
            "open_order_receipts_units": round(float(plan.receipts_units.sum()), 1),
            "expedite_cost": round(float(plan.expedite_cost.sum()), 2),
            "offload_cost": round(float(plan.offload_cost.sum()), 2),
            "net_margin_13w": round(float(plan.net_margin.sum()), 2),
            "short_inside_lead_time_skus": int(
                plan[plan.notes.str.startswith("inside the supplier lead time")].sku.nunique()
            ),
            "moved_units": round(float(plan.moved_out_units.sum()), 1),
            "built_ahead_units": round(float(plan.built_ahead_units.sum()), 1),
            "build_ahead_rounds": int(build_ahead.get("build_ahead_rounds", 0)),
            "build_ahead_settled": bool(build_ahead.get("build_ahead_settled", True)),
            "frozen_weeks": weeks if previous is not None else 0,
            "by_family": dg.MetadataValue.md(
                markdown_table(
                    plan.groupby("family", as_index=False)[
                        ["demand_units", "supply_units", "revenue", "cut_units"]
                    ].sum()
                )
            ),
        },
    )
    yield dg.Output(
        log,
        output_name="decision_log",
        metadata={
            "proposed": int((log.status == "proposed").sum()),
            "awaiting": dg.MetadataValue.md(
                markdown_table(
                    log[log.status == "proposed"][["decision_id", "kind", "subject", "value", "responsible"]], 20
                )
            ),
        },
    )
    yield dg.Output(subs, output_name="substitution_plan")
    yield dg.Output(
        offloads,
        output_name="plan_offloads",
        metadata={
            "offloads": len(offloads),
            "offloaded_units": round(float(offloads.units.sum()), 1),
            "extra_cost": round(float(offloads.extra_cost.sum()), 2),
            "alternates_usable": len(alternates),
            "alternates_ignored": dg.MetadataValue.md(markdown_table(ignored_alternates, 20)),
            "by_route": dg.MetadataValue.md(
                markdown_table(
                    offloads.groupby(["from_resource_id", "to_resource_id"], as_index=False)[
                        ["units", "from_hours", "to_hours", "extra_cost"]
                    ]
                    .sum()
                    .round(1)
                )
            ),
        },
    )
    plan_load = plan_lib.plan_capacity_load(load, capacity if len(hours) else capacity.iloc[:0])
    plan_load.insert(0, "cycle_id", as_of)
    yield dg.Output(
        plan_load,
        output_name="plan_resource_load",
        metadata={
            "peak_plan_load_pct": dg.MetadataValue.md(
                markdown_table(
                    plan_load.groupby("resource_id", as_index=False)
                    .agg(peak_plan_load_pct=("plan_load_pct", "max"), plan_hours=("plan_hours", "sum"))
                    .round(1)
                )
            )
        },
    )
    yield dg.Output(
        plan,
        output_name="history",
        metadata={
            "cycle": str(as_of),
            "seeded_from_plan_history": ", ".join(map(str, seeded)) or "none",
        },
    )
    balance = plan_lib.balance_breaks(plan, usable)
    start = plan_lib.start_stock_breaks(plan, usable)
    yield dg.AssetCheckResult(
        asset_key=PLAN,
        check_name="capacity_respected",
        passed=not over,
        description="capacity: holds every week"
        if not over
        else f"capacity: {len(over)} resource-week(s) over their hours: {', '.join(over[:5])}",
        metadata={"overloaded_weeks": ", ".join(map(str, over)) or "none"},
    )
    yield _rule_check(
        PLAN, "inventory_balance", balance, "inventory balance", rows_breaking=len(balance), rows=len(plan)
    )
    yield _rule_check(
        PLAN,
        "starting_stock_usable",
        start,
        "week-1 stock <= usable stock",
        skus_breaking=len(start),
        usable_units=float(usable.sum()),
        expired_in_horizon_units=round(float(plan.expired_units.sum()), 1),
    )
    yield dg.AssetCheckResult(asset_key=PLAN, check_name="frozen_weeks_unchanged", passed=frozen_ok)
    avoidable = plan_lib.avoidable_shortfalls(
        plan,
        items,
        routes,
        hours,
        offloads,
        min_runs,
        build_ahead_weeks=ahead_limit,
        holding_rate=economics.holding_rate,
        goodwill_factor=economics.goodwill_factor,
    )
    yield _rule_check(
        PLAN,
        "no_avoidable_shortfall",
        avoidable,
        "shortfalls with free hours in an earlier week",
        rows_breaking=len(avoidable),
        built_ahead_units=round(float(plan.built_ahead_units.sum()), 1),
        short_units=round(float((plan.moved_out_units + plan.cut_units).sum()), 1),
    )
    money = plan_lib.supply_cost_breaks(plan, offloads, expedited.costs)
    yield _rule_check(
        PLAN,
        "net_margin_reconciles",
        money,
        "supply costs and net margin",
        rows_breaking=len(money),
        **{c: round(float(plan[c].sum()), 2) for c in ("margin", "expedite_cost", "offload_cost", "net_margin")},
    )
    yield _rule_check(
        OFFLOADS,
        "offloads_reconcile",
        offload_breaks,
        "offloads reconcile with the plan and the decision log",
        rows_breaking=len(offload_breaks),
        offloads=len(offloads),
    )
    yield dg.AssetCheckResult(
        asset_key=PLAN, check_name="family_rollup_reconciles", passed=plan_lib.plan_totals_reconcile(plan)
    )
    yield _seasonal_check(plan_inputs.seasonal_fill_simulation(fill_rate, band, seasonal))


def _seasonal_check(sim: pd.DataFrame) -> dg.AssetCheckResult:
    off = sim[~sim.on_target.astype(bool)]
    shown = sim.assign(sim_fill_rate=(100 * sim.sim_fill_rate).round(1), sim_gap_pp=sim.sim_gap_pp.round(1))
    return dg.AssetCheckResult(
        asset_key=PLAN,
        check_name="seasonal_safety_stock_on_target",
        passed=off.empty,
        description=(
            f"{len(sim)} seasonal item(s), each within {plan_inputs.SEASONAL_SIM_TOLERANCE_PP} points of its "
            "fill-rate target (or over it where the minimum cycle service sets the stock)"
            if off.empty
            else f"{len(off)} of {len(sim)} seasonal item(s) off target: "
            + ", ".join(
                f"{r.sku} {100 * r.sim_fill_rate:.1f}% vs {100 * r.service_target:.0f}%" for r in off.itertuples()
            )
        ),
        metadata={
            "items": len(sim),
            "items_off": len(off),
            "simulated": dg.MetadataValue.md(
                markdown_table(shown.drop(columns=["sim_avg_on_hand_units", "on_target"]), 20)
            ),
        },
    )


def _rule_check(asset_key: dg.AssetKey, name: str, breaks: pd.DataFrame, what: str, **metadata) -> dg.AssetCheckResult:
    """A check that passes when no row breaks the rule; the description names the first rows that do."""
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=name,
        passed=breaks.empty,
        description=plan_lib.describe_breaks(breaks, what),
        metadata=metadata,
    )


def _alternates(
    routings: pd.DataFrame, routing_alternates: pd.DataFrame, hours: pd.DataFrame, absent: set
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Usable alternates (``offload.alternate_routes``) on resources the capacity table gives hours
    for, and the ignored ones with the reason."""
    empty = pd.DataFrame(columns=offload_lib.ROUTE_COLUMNS)
    if {"resources", "routings"} & absent or routing_alternates.empty or hours.empty:
        return empty, pd.DataFrame(columns=offload_lib.IGNORED_COLUMNS)
    cost = ["sku", "resource_id", "units_per_hour", "cost_per_hour", "cost_per_unit"]
    routes, ignored = offload_lib.alternate_routes(
        routings[cost], routing_alternates[[*cost, "priority", "alternate_for"]]
    )
    known = set(hours.resource_id)
    unknown = ~routes.to_resource_id.isin(known) | ~routes.from_resource_id.isin(known)
    if unknown.any():
        extra = routes[unknown].rename(columns={"to_resource_id": "resource_id"})[["sku", "resource_id"]]
        ignored = pd.concat([ignored, extra.assign(reason="no capacity hours for the resource")], ignore_index=True)
    return routes[~unknown].reset_index(drop=True), ignored


def _with_expedite_verdicts(effects: list, unneeded: pd.DataFrame) -> list:
    """The decision effects, an approved pull-in the plan did not need (`plan.expedites_not_needed`)
    saying so, with the money cancelling it would save."""
    verdicts = unneeded.drop_duplicates("decision_id").set_index("decision_id")
    out = []
    for e in effects:
        if e.kind == "expedite" and e.decision_id in verdicts.index:
            v = verdicts.loc[e.decision_id]
            e = plan_lib.DecisionEffect(
                e.decision_id,
                e.kind,
                f"{e.effect}; not needed by this plan: without it {v.sku} stays at or above its safety stock "
                f"until the order's own week of {pd.Timestamp(v.original_week_start).date()} (at least "
                f"{v.lowest_cover_units:,.0f} units over it): cancelling it saves {v.cost:,.0f}",
            )
        out.append(e)
    return out


def _expedite_cancellations(unneeded: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """One proposal to cancel each approved pull-in the plan does not need (``subject, effect``)."""
    subject = decisions.drop_duplicates("decision_id").set_index("decision_id").subject
    rows = [
        (
            str(subject.get(r.decision_id, "")),
            f"{r.decision_id} pulls {r.units:,.0f} units of {r.sku} in that the plan does not need (at least "
            f"{r.lowest_cover_units:,.0f} units over safety stock without them until the order's own week of "
            f"{pd.Timestamp(r.original_week_start).date()}): cancel it to save {r.cost:,.0f}",
        )
        for r in unneeded.drop_duplicates("decision_id").itertuples()
    ]
    return pd.DataFrame(rows, columns=["subject", "effect"])


def _offload_table(offloads: pd.DataFrame, plan: pd.DataFrame, as_of) -> pd.DataFrame:
    """analytics.plan_offloads: the offloads with the cycle, family and horizon week of their plan row."""
    rows = plan[["sku", "week_start", "family", "horizon_week"]].assign(week_start=pd.to_datetime(plan.week_start))
    out = offloads.assign(week_start=pd.to_datetime(offloads.week_start)).merge(
        rows, on=["sku", "week_start"], how="left"
    )
    out.insert(0, "cycle_id", as_of)
    out = out.reindex(columns=OFFLOAD_COLUMNS)
    numbers = {"horizon_week": "int64", "priority": "int64"} | dict.fromkeys(
        ["units", "from_hours", "to_hours", "extra_cost"], "float64"
    )
    return out.astype(numbers | {"week_start": "datetime64[us]"})


def _offload_breaks(
    offloads: pd.DataFrame, plan: pd.DataFrame, alternates: pd.DataFrame, log: pd.DataFrame
) -> pd.DataFrame:
    """Offload rows that do not reconcile (check ``offloads_reconcile``): ``sku, week_start, problem``
    as a number (1 = not an alternate of the SKU, 2 = above the make units, 3 = not logged once with
    the same extra cost)."""
    cols = ["sku", "week_start", "problem"]
    if offloads.empty:
        logged = log[log.kind == "offload"]
        return pd.DataFrame({"sku": logged.subject.str.split(" ").str[0], "week_start": pd.NaT, "problem": 3.0})[cols]
    o = offloads.assign(week_start=pd.to_datetime(offloads.week_start))
    pairs = set(zip(alternates.sku, alternates.from_resource_id, alternates.to_resource_id))
    bad_route = [(s, f, t) not in pairs for s, f, t in zip(o.sku, o.from_resource_id, o.to_resource_id)]
    made = plan.assign(week_start=pd.to_datetime(plan.week_start)).set_index(["sku", "week_start"]).make_units
    per_row = o.groupby(["sku", "week_start"]).units.sum()
    over = per_row > made.reindex(per_row.index).fillna(0.0) * (1 + 1e-9) + 1e-6
    over_keys = set(per_row.index[over])
    logged = log[log.kind == "offload"]
    cost_logged = logged.effect.str.removeprefix("extra cost ").str.replace(",", "").astype(float)
    cost_ok = len(logged) == len(o) and abs(cost_logged.sum() - o.extra_cost.sum()) <= 0.5 * max(1, len(o))
    problem = [
        1.0 if route else 2.0 if (s, w) in over_keys else 0.0 if cost_ok else 3.0
        for route, s, w in zip(bad_route, o.sku, o.week_start)
    ]
    out = o.assign(problem=problem)
    return out.loc[out.problem > 0, cols].reset_index(drop=True)


ASSETS = [plan_of_record]
