"""Supply review: OEE on the constraint, optimized production sequences, weekly capacity by
critical resource (machine, labour, tooling), skill matrix and cross-train plan.

DataFrame functions around `analytics.oee`, `analytics.mps` (with `analytics.sequencing`),
`analytics.capacity` and `analytics.supply`: staging tables and analytics outputs come in through
the warehouse IO manager, results are returned as `analytics.*`, published by the dbt marts in
`models/marts/supply/`.
Flow (one plan that agrees with itself): demand forecast -> rough-cut changeover estimate per
resource-week -> capacity (run + changeover hours vs available) -> plan of record (make_units =
the master production schedule) -> production sequence of exactly those quantities on every
critical resource, on its shift calendar -> sequence summary.
"""

import dagster as dg
import pandas as pd

from sop_pipeline.analytics import (
    capacity,
    mps,
    mrp,
    oee,
    plan as plan_lib,
    plan_inputs,
    scenario as scenario_lib,
    supply,
    synchronize,
)
from sop_pipeline.analytics.calendar import Cycle
from sop_pipeline.assets import fanout
from sop_pipeline.assets.common import (
    WAREHOUSE_IO,
    absent_in,
    as_of_date,
    markdown_table,
    table_in,
    warehouse_asset,
)
from sop_pipeline.resources import WAREHOUSE_POOL, ScenarioConfig

STG = lambda name: dg.AssetKey(["staging", name])  # noqa: E731
OUT = lambda name: dg.AssetKey(["analytics", name])  # noqa: E731
SUPPLY = warehouse_asset("supply")
FORECAST = OUT("demand_forecast")
PLAN = OUT("plan_of_record")
INGEST_LOG = dg.AssetKey(["meta", "ingest_log"])


def _ins(*names: str) -> dict[str, dg.AssetIn]:
    """Asset inputs by parameter name: staged tables (stg_*), the cycle, the ingest log, analytics."""
    keys = {
        "cycle": ["meta", "cycle"],
        "ingest_log": ["meta", "ingest_log"],
        "forecast": ["analytics", "demand_forecast"],
        "plan_of_record": ["analytics", "plan_of_record"],
        "plan_offloads": ["analytics", "plan_offloads"],
        "routing_alternates": ["staging", "stg_mes__routing_alternates"],
        "capacity_table": ["analytics", "capacity"],
        "oee_weekly": ["analytics", "oee_weekly"],
        "changeover_estimate": ["analytics", "changeover_estimate"],
        "items": ["staging", "stg_erp__items"],
        "decisions": ["staging", "stg_sop__decisions"],
        "resources": ["staging", "stg_mes__resources"],
        "routings": ["staging", "stg_mes__routings"],
        "changeovers": ["staging", "stg_mes__changeovers"],
        "production_orders": ["staging", "stg_mes__production_orders"],
        "sales_orders": ["staging", "stg_erp__sales_orders"],
        "downtime": ["staging", "stg_mes__downtime"],
        "resource_time": ["staging", "stg_mes__resource_time"],
        "skills": ["staging", "stg_mes__skills"],
    }
    return {name: table_in(*keys[name]) for name in names}


def _resources(resources: pd.DataFrame) -> pd.DataFrame:
    return resources[
        ["resource_id", "resource_type", "resource_name", "is_constraint", "hours_per_day", "days_per_week"]
    ].rename(columns={"resource_type": "type"})


def _downtime(downtime: pd.DataFrame) -> pd.DataFrame:
    return downtime[["resource_id", "start_at", "end_at", "is_planned", "reason"]].rename(
        columns={"start_at": "start", "end_at": "end", "is_planned": "planned"}
    )


def _sequencing_inputs(
    cycle: Cycle,
    absent: set[str],
    routings: pd.DataFrame,
    changeovers: pd.DataFrame,
    sales_orders: pd.DataFrame,
    production_orders: pd.DataFrame,
    downtime: pd.DataFrame,
) -> dict:
    """Routings, changeover matrix, open-order due dates, current setups and planned downtime."""
    return dict(
        routings=routings[["sku", "resource_id", "units_per_hour", "setup_family"]],
        changeovers=None
        if "changeovers" in absent
        else changeovers[["resource_id", "from_key", "to_key", "changeover_minutes"]].rename(
            columns={"changeover_minutes": "minutes"}
        ),
        dues=None if "sales_orders" in absent else supply.open_order_dues(sales_orders),
        current_setup={}
        if "production_orders" in absent
        else supply.current_setups(production_orders, routings, cycle.week1_start),
        downtime=None if "downtime" in absent else _downtime(downtime),
    )


# --------------------------------------------------------------------------- OEE


@dg.multi_asset(
    name="oee_assets",
    outs={
        "oee_weekly": dg.AssetOut(
            key=OUT("oee_weekly"),
            **SUPPLY,
            description="OEE = availability x performance x quality per machine and ISO week from "
            "resource_time (hours summed first, ratios after), with the loss breakdown in "
            "hours: planned downtime, changeover, unplanned downtime, performance, quality.",
        ),
        "changeover_weekly": dg.AssetOut(
            key=OUT("changeover_weekly"),
            **SUPPLY,
            description="Changeover hours per machine-week: planned = changeover matrix minutes between "
            "consecutive production orders in planned order; actual = planned time not run "
            "and not down (resource_time minus downtime events).",
        ),
    },
    ins=_ins("ingest_log", "resource_time", "downtime", "production_orders", "routings", "changeovers"),
    internal_asset_deps={
        "oee_weekly": {
            STG("stg_mes__resource_time"),
            STG("stg_mes__downtime"),
            STG("stg_mes__production_orders"),
            STG("stg_mes__changeovers"),
            STG("stg_mes__routings"),
            INGEST_LOG,
        },
        "changeover_weekly": {STG("stg_mes__production_orders"), STG("stg_mes__changeovers"), STG("stg_mes__routings")},
    },
    pool=WAREHOUSE_POOL,
)
def oee_assets(
    ingest_log: pd.DataFrame,
    resource_time: pd.DataFrame,
    downtime: pd.DataFrame,
    production_orders: pd.DataFrame,
    routings: pd.DataFrame,
    changeovers: pd.DataFrame,
):
    if "resource_time" in absent_in(ingest_log):
        weekly = pd.DataFrame(columns=supply.OEE_WEEKLY_COLUMNS)
        co = pd.DataFrame(columns=supply.CHANGEOVER_WEEKLY_COLUMNS)
    else:
        rt = resource_time[
            ["production_date", "resource_id", "planned_hours", "run_hours", "ideal_units", "total_units", "good_units"]
        ].rename(columns={"production_date": "date"})
        weekly = oee.oee_weekly(supply.resource_time_with_losses(rt, _downtime(downtime)))
        co = supply.changeover_weekly(
            supply.production_orders_in_sequence(production_orders, routings),
            changeovers[["resource_id", "from_key", "to_key", "changeover_minutes"]],
            weekly,
        )
    yield dg.Output(
        weekly,
        output_name="oee_weekly",
        metadata={
            "last_weeks": dg.MetadataValue.md(
                markdown_table(
                    weekly.sort_values("week_start").tail(8)[
                        ["resource_id", "week_start", "availability", "performance", "quality", "oee"]
                    ]
                    if len(weekly)
                    else weekly
                )
            )
        },
    )
    yield dg.Output(co, output_name="changeover_weekly")


# --------------------------------------------------------------------------- sequencing


CHANGEOVER_INPUTS = (
    "cycle",
    "ingest_log",
    "forecast",
    "items",
    "decisions",
    "resources",
    "routings",
    "changeovers",
    "production_orders",
    "sales_orders",
    "downtime",
)
CHANGEOVER_COLUMNS = mps.ESTIMATE_COLUMNS


@dg.op(
    ins=fanout.warehouse_ins(*CHANGEOVER_INPUTS),
    out=dg.DynamicOut(io_manager_key=fanout.FANOUT_IO),
    pool=WAREHOUSE_POOL,
)
def changeover_estimate__split(
    scenario: ScenarioConfig,
    cycle: pd.DataFrame,
    ingest_log: pd.DataFrame,
    forecast: pd.DataFrame,
    items: pd.DataFrame,
    decisions: pd.DataFrame,
    resources: pd.DataFrame,
    routings: pd.DataFrame,
    changeovers: pd.DataFrame,
    production_orders: pd.DataFrame,
    sales_orders: pd.DataFrame,
    downtime: pd.DataFrame,
):
    """What every resource's estimate shares (the made SKUs' forecast, routings, matrices, dues, setups,
    downtime), once per resource with a changeover matrix: one part per resource."""
    as_of = as_of_date(cycle)
    calendar = Cycle(as_of)
    absent = absent_in(ingest_log)
    decisions = scenario_lib.scenario_decisions(decisions, as_of, scenario.spec())  # scenario make-vs-buy
    if {"resources", "routings", "changeovers"} & absent:
        yield dg.DynamicOutput(None, mapping_key=fanout.NO_PARTS)
        return
    inputs = _sequencing_inputs(calendar, absent, routings, changeovers, sales_orders, production_orders, downtime)
    machines = _resources(resources)
    shared = dict(
        planned=supply.planned_make_units(
            forecast, calendar.horizon_weeks, plan_lib.sourcing_as_of(items, decisions, as_of)
        ),
        weeks=calendar.horizon(),
        **inputs,
    )
    with_matrix = set(inputs["changeovers"]["resource_id"])
    keys = fanout.mapping_keys(r for r in machines.resource_id if r in with_matrix)
    if not keys:
        yield dg.DynamicOutput(None, mapping_key=fanout.NO_PARTS)
    for n, (key, resource_id) in enumerate(keys):
        yield dg.DynamicOutput(
            dict(shared, order=n, resources=machines[machines.resource_id == resource_id]), mapping_key=key
        )


def _changeover_estimate(shared: dict, resources: pd.DataFrame) -> pd.DataFrame:
    """`mps.changeover_estimate` of the split's shared inputs on `resources` (one part's resource)."""
    return mps.changeover_estimate(
        shared["planned"],
        shared["routings"],
        resources,
        shared["weeks"],
        changeovers=shared["changeovers"],
        downtime=shared["downtime"],
        dues=shared["dues"],
        current_setup=shared["current_setup"],
        time_limit_s=2.0,
        seed=0,
    )


@dg.op(out=dg.Out(io_manager_key=fanout.FANOUT_IO))
def changeover_estimate__part(part):
    """One resource's rough-cut changeover hours (`mps.changeover_estimate` on that resource alone)."""
    if part is None:
        return None
    return part["order"], _changeover_estimate(part, part["resources"])


@dg.op(out=dg.Out(io_manager_key=WAREHOUSE_IO), pool=WAREHOUSE_POOL)
def changeover_estimate__combine(parts: list):
    """The resources' estimates in the resources table's order (as one loop over them would give)."""
    ordered = [frame for _, frame in sorted((p for p in parts if p is not None), key=lambda p: p[0])]
    out = mps.merge_estimates(fanout.concat_parts(ordered, CHANGEOVER_COLUMNS))  # a tool held by several lines
    by_resource = out.groupby("resource_id", as_index=False).changeover_hours.sum().round(1) if len(out) else out
    return dg.Output(
        out,
        metadata={
            "changeover_hours_13w": dg.MetadataValue.md(markdown_table(by_resource)),
            "parts": len(ordered),
        },
    )


@dg.graph_asset(
    key=OUT("changeover_estimate"),
    ins=_ins(*CHANGEOVER_INPUTS),
    group_name="supply",
    owners=SUPPLY["owners"],
    kinds=SUPPLY["kinds"],
    description="Rough-cut changeover hours per resource and horizon week, before the plan exists: the demand "
    "forecast (p50) of made SKUs (item master, after approved make-vs-buy decisions) sequenced per "
    "week on every resource with a changeover matrix, the same way as the final sequence (batches by "
    "setup family, ATSP from the current setup, due-date repair). A changeover holds every resource of "
    "the SKU's routing (tooling, operators), so those resources reserve its hours too (changeovers_of "
    "names whose changeovers a row holds). The capacity table and the plan of "
    "record reserve these hours; the final sequence of the plan's MPS is analytics.production_sequence. "
    "Fanned out per resource (one step each, sop_pipeline/assets/fanout.py).",
)
def changeover_estimate(
    cycle,
    ingest_log,
    forecast,
    items,
    decisions,
    resources,
    routings,
    changeovers,
    production_orders,
    sales_orders,
    downtime,
):
    parts = changeover_estimate__split(
        cycle=cycle,
        ingest_log=ingest_log,
        forecast=forecast,
        items=items,
        decisions=decisions,
        resources=resources,
        routings=routings,
        changeovers=changeovers,
        production_orders=production_orders,
        sales_orders=sales_orders,
        downtime=downtime,
    )
    return changeover_estimate__combine(parts.map(changeover_estimate__part).collect())


SEQUENCE_CHECKS = [
    dg.AssetCheckSpec(
        "sequenced_quantity_equals_plan",
        asset=OUT("production_sequence"),
        blocking=True,
        description="Per sequenced resource, SKU and week, the units in the production sequence "
        "equal the plan of record's make quantity (make_units, the MPS). A failure names "
        "the resource, SKU and week.",
    ),
    dg.AssetCheckSpec(
        "no_bought_sku_sequenced",
        asset=OUT("production_sequence"),
        blocking=True,
        description="No SKU that is bought (item master make_or_buy, or the latest approved "
        "make_vs_buy decision on or before the as-of) is in the production sequence. A "
        "failure names the SKU and week.",
    ),
    dg.AssetCheckSpec(
        "planned_hours_within_shift_calendar",
        asset=OUT("production_sequence"),
        blocking=True,
        description="On every sequenced resource-week, the plan's run hours fit the shift calendar "
        "(hours per day x days per week - planned downtime); weeks locked by an approved "
        "freeze window excepted. A failure names the resource and week.",
    ),
    dg.AssetCheckSpec(
        "sequence_resources_synchronized",
        asset=OUT("production_sequence"),
        blocking=True,
        description="The machine and tooling an operation holds start and end it together (rows "
        "of one operation_id share start and end), and no resource holds two jobs, or a "
        "changeover and a job, at once. A failure names the resource, SKU and week.",
    ),
    dg.AssetCheckSpec(
        "sequence_fits_shift_calendar",
        asset=OUT("production_sequence"),
        description="Run + changeover hours of the sequence fit the shift calendar on every "
        "sequenced resource-week; units that do not fit are reported as unscheduled "
        "(warning: the plan reserved fewer changeover hours than the sequence needs, or the "
        "resources an operation holds together are not free at the same time).",
    ),
]


SEQUENCE_INPUTS = (
    "cycle",
    "ingest_log",
    "plan_of_record",
    "plan_offloads",
    "capacity_table",
    "oee_weekly",
    "changeover_estimate",
    "items",
    "decisions",
    "resources",
    "routings",
    "routing_alternates",
    "changeovers",
    "production_orders",
    "sales_orders",
    "downtime",
)


@dg.op(
    ins=fanout.warehouse_ins(*SEQUENCE_INPUTS),
    out={"parts": dg.DynamicOut(io_manager_key=fanout.FANOUT_IO), "shared": dg.Out(io_manager_key=fanout.FANOUT_IO)},
    pool=WAREHOUSE_POOL,
)
def sequence__split(
    scenario: ScenarioConfig,
    cycle: pd.DataFrame,
    ingest_log: pd.DataFrame,
    plan_of_record: pd.DataFrame,
    plan_offloads: pd.DataFrame,
    capacity_table: pd.DataFrame,
    oee_weekly: pd.DataFrame,
    changeover_estimate: pd.DataFrame,
    items: pd.DataFrame,
    decisions: pd.DataFrame,
    resources: pd.DataFrame,
    routings: pd.DataFrame,
    routing_alternates: pd.DataFrame,
    changeovers: pd.DataFrame,
    production_orders: pd.DataFrame,
    sales_orders: pd.DataFrame,
    downtime: pd.DataFrame,
):
    """The plan's MPS and what every resource's sequence shares, once per critical resource: one part
    per resource (`mps.sequence_mps` on that resource alone gives the rows the loop over all of them gives)."""
    as_of = as_of_date(cycle)
    calendar = Cycle(as_of)
    absent = absent_in(ingest_log)
    weeks = calendar.horizon()
    decisions = scenario_lib.scenario_decisions(decisions, as_of, scenario.spec())  # scenario make-vs-buy
    source = plan_lib.sourcing_as_of(items, decisions, as_of)
    bought = mps.bought_skus(source)
    schedule = mps.mps_from_plan(plan_of_record, source)
    frozen_weeks = (
        sorted(set(schedule.week_start[schedule.supply_source == "frozen"])) if "supply_source" in schedule else []
    )
    excluded = pd.DataFrame(columns=["sku", "week_start", "make_units", "reason"])
    resource_ids: list[str] = []
    routing_rates = pd.DataFrame(columns=["sku", "resource_id", "units_per_hour"])
    keys: list = []
    if not {"resources", "routings"} & absent:
        machines = _resources(resources)
        inputs = _sequencing_inputs(calendar, absent, routings, changeovers, sales_orders, production_orders, downtime)
        routing_rates = inputs["routings"]
        resource_ids = mps.sequenced_resources(
            machines, capacity_table[["resource_id", "load_pct"]], plan_offloads, routing_rates[["sku", "resource_id"]]
        )
        orders = None if "production_orders" in absent else production_orders[["sku", "planned_qty", "status"]]
        min_run = mps.minimum_run_units(routing_rates, orders, resources=machines)
        if len(plan_offloads):  # work the plan offloaded to alternate resources: the MPS per resource
            schedule = mps.mps_by_resource(schedule, routing_rates, plan_offloads)
            routing_rates = pd.concat(
                [routing_rates, routing_alternates[["sku", "resource_id", "units_per_hour", "setup_family"]]],
                ignore_index=True,
            )
        shared = dict(
            schedule=schedule,
            routings=routing_rates,
            resources=scenario_lib.apply_shift_calendar(machines, scenario.spec()),  # a scenario's extra shift
            weeks=weeks,
            bought=bought,
            changeovers=inputs["changeovers"],
            downtime=inputs["downtime"],
            dues=inputs["dues"],
            current_setup=inputs["current_setup"],
            oee=supply.historical_oee(oee_weekly),
            min_run=min_run,
        )
        excluded = _sequence(shared, []).excluded  # bought SKUs with make units: the same for every resource
        keys = fanout.mapping_keys(resource_ids)
        for n, (key, resource_id) in enumerate(keys):
            yield dg.DynamicOutput(dict(shared, order=n, resource_id=resource_id), output_name="parts", mapping_key=key)
    if not keys:
        yield dg.DynamicOutput(None, output_name="parts", mapping_key=fanout.NO_PARTS)
    yield dg.Output(
        dict(
            sync=None
            if not keys
            else dict(
                resources=shared["resources"],
                unary=mps.unary_resources(shared["resources"]),
                changeovers=shared["changeovers"],
                downtime=shared["downtime"],
                current_setup=shared["current_setup"],
                oee=shared["oee"],
                offloads=plan_offloads[["from_resource_id", "to_resource_id"]] if len(plan_offloads) else None,
            ),
            schedule=schedule,
            routing_rates=routing_rates,
            resource_ids=resource_ids,
            bought=bought,
            frozen_weeks=frozen_weeks,
            weeks=weeks,
            excluded=excluded,
            changeover_estimate=changeover_estimate,
        ),
        output_name="shared",
    )


def _sequence(shared: dict, resource_ids: list) -> mps.MpsSequence:
    return mps.sequence_mps(
        shared["schedule"],
        shared["routings"],
        shared["resources"],
        shared["weeks"],
        resource_ids,
        bought=shared["bought"],
        changeovers=shared["changeovers"],
        downtime=shared["downtime"],
        dues=shared["dues"],
        current_setup=shared["current_setup"],
        oee=shared["oee"],
        min_run=shared["min_run"],
        time_limit_s=2.0,
        seed=0,
    )


# Seconds per week for the synchronized timetable (a work count bounds it, so it is deterministic):
# measured on the medium demo (seed 281, 13 weeks of 40-90 operations on 4 resources), 2 s left
# 59.6 h of T1 work unscheduled in 7 s, 5 s 42.8 h in 15 s; the small demo's weeks finish early.
SYNC_LIMIT_S = 5.0


def _synchronized(
    result: mps.MpsSequence, sync: dict | None, resource_ids: list, weeks: list, time_limit_s: float = SYNC_LIMIT_S
) -> mps.MpsSequence:
    """The per-resource sequences timed as one (`synchronize.synchronize`): an operation holds its
    machine and tooling together. Labour pools, when sequenced, keep their own timing."""
    if sync is None or result.jobs.empty:
        return result
    unary = [r for r in resource_ids if r in set(sync["unary"])]
    jobs, summary = result.jobs, result.summary
    timed, timed_summary = synchronize.synchronize(
        jobs[jobs.resource_id.isin(unary)],
        sync["resources"],
        weeks,
        unary,
        changeovers=sync["changeovers"],
        downtime=sync["downtime"],
        current_setup=sync["current_setup"],
        oee=sync["oee"],
        offloads=sync["offloads"],
        time_limit_s=time_limit_s,
        seed=0,
    )
    own = summary[["resource_id", "week_start", "jobs_below_min_run", "key_order_optimal"]]
    timed_summary = timed_summary.drop(columns=["jobs_below_min_run", "key_order_optimal"], errors="ignore").merge(
        own.assign(week_start=pd.to_datetime(own.week_start)), on=["resource_id", "week_start"], how="left"
    )
    rank = {r: i for i, r in enumerate(resource_ids)}
    jobs = pd.concat([timed, jobs[~jobs.resource_id.isin(unary)]], ignore_index=True)
    summary = pd.concat([timed_summary, summary[~summary.resource_id.isin(unary)]], ignore_index=True)
    jobs = jobs.assign(_r=jobs.resource_id.map(rank)).sort_values(["_r", "week_start", "position"], kind="stable")
    summary = summary.assign(_r=summary.resource_id.map(rank)).sort_values(["_r", "week_start"], kind="stable")
    return mps.MpsSequence(
        jobs.drop(columns="_r").reindex(columns=mps.SEQUENCE_COLUMNS).reset_index(drop=True),
        summary.drop(columns="_r").reindex(columns=mps.SUMMARY_COLUMNS).reset_index(drop=True),
        result.excluded,
    )


@dg.op(out=dg.Out(io_manager_key=fanout.FANOUT_IO))
def sequence__part(part):
    """One critical resource's production sequence and weekly summary."""
    if part is None:
        return None
    result = _sequence(part, [part["resource_id"]])
    return part["order"], result.jobs, result.summary


SEQUENCE_CHECK_OUTS = {spec.get_python_identifier(): dg.Out(dg.Nothing) for spec in SEQUENCE_CHECKS}


@dg.op(out=dg.Out(io_manager_key=fanout.FANOUT_IO))
def sequence__synchronize(shared: dict, parts: list) -> tuple[dict, mps.MpsSequence]:
    """The resources' sequences in the critical resources' order, timed as one synchronized
    timetable: one step (the coupling of the resources cannot be split by resource), outside the
    warehouse pool (it only computes). Passes the split's shared values on (a fan-out value is
    handed over once)."""
    ordered = sorted((p for p in parts if p is not None), key=lambda p: p[0])
    result = mps.MpsSequence(
        fanout.concat_parts([p[1] for p in ordered], mps.SEQUENCE_COLUMNS).reindex(columns=mps.SEQUENCE_COLUMNS),
        fanout.concat_parts([p[2] for p in ordered], mps.SUMMARY_COLUMNS).reindex(columns=mps.SUMMARY_COLUMNS),
        shared["excluded"],
    )
    return shared, _synchronized(result, shared["sync"], shared["resource_ids"], shared["weeks"])


@dg.op(
    out={
        "production_sequence": dg.Out(io_manager_key=WAREHOUSE_IO),
        "sequence_summary": dg.Out(io_manager_key=WAREHOUSE_IO),
        **SEQUENCE_CHECK_OUTS,
    },
    pool=WAREHOUSE_POOL,
)
def sequence__combine(timed: tuple[dict, mps.MpsSequence]):
    """The synchronized sequence and its summary against the reserved changeover hours, written,
    and the sequence's blocking checks."""
    shared, result = timed
    schedule, routing_rates, resource_ids = shared["schedule"], shared["routing_rates"], shared["resource_ids"]
    bought, frozen_weeks, weeks = shared["bought"], shared["frozen_weeks"], shared["weeks"]
    changeover_estimate = shared["changeover_estimate"]
    summary = result.summary
    estimate = changeover_estimate[["resource_id", "week_start", "changeover_hours"]].rename(
        columns={"changeover_hours": "changeover_hours_reserved"}
    )
    if len(summary):
        estimate["week_start"] = pd.to_datetime(estimate.week_start)
        summary = summary.merge(estimate, on=["resource_id", "week_start"], how="left")
        summary["changeover_hours_reserved"] = summary.changeover_hours_reserved.fillna(0.0)
    else:
        summary = summary.assign(changeover_hours_reserved=pd.Series(dtype=float))

    seq = result.jobs
    qty_breaks = mps.quantity_breaks(seq, schedule, routing_rates, resource_ids, weeks)
    buy_breaks = mps.bought_breaks(seq, bought)
    plan_over, overflow = mps.hours_breaks(summary, frozen_weeks)
    sync_breaks = (
        synchronize.synchronization_breaks(seq[seq.resource_id.isin(shared["sync"]["unary"])])
        if (shared["sync"] and len(seq))
        else pd.DataFrame(columns=["resource_id", "sku", "week_start", "issue"])
    )
    saved = (
        float(summary.changeover_hours_fifo.sum() - summary.changeover_hours_optimized.sum()) if len(summary) else 0.0
    )
    unscheduled = float(seq.unscheduled_qty.sum()) if len(seq) else 0.0
    yield dg.Output(
        seq,
        output_name="production_sequence",
        metadata={
            "resources_sequenced": ", ".join(resource_ids) or "none",
            "mps_units_sequenced": round(float(seq.qty.sum()) if len(seq) else 0.0, 1),
            "unscheduled_units": round(unscheduled, 1),
            "unscheduled": f"{unscheduled:,.1f} units in {len(overflow)} resource-week(s) do not fit the shift calendar"
            if len(overflow)
            else "every job fits the shift calendar",
            "bought_skus_excluded": ", ".join(sorted(set(result.excluded.sku))) or "none",
            "jobs_below_min_run": int(summary.jobs_below_min_run.sum()) if len(summary) else 0,
        },
    )
    yield dg.Output(
        summary,
        output_name="sequence_summary",
        metadata={
            "changeover_hours_saved_13w": round(saved, 1),
            "changeover_hours_13w": round(float(summary.changeover_hours_optimized.sum()) if len(summary) else 0.0, 1),
            "changeover_hours_reserved_13w": round(
                float(summary.changeover_hours_reserved.sum()) if len(summary) else 0.0, 1
            ),
            "note": "no resources/routings or no make quantities: no sequence" if summary.empty else "",
        },
    )
    yield dg.AssetCheckResult(
        asset_key=OUT("production_sequence"),
        check_name="sequenced_quantity_equals_plan",
        passed=qty_breaks.empty,
        description=mps.describe_breaks(qty_breaks, "sequenced quantity = plan make quantity"),
        metadata={"rows_breaking": len(qty_breaks)},
    )
    yield dg.AssetCheckResult(
        asset_key=OUT("production_sequence"),
        check_name="no_bought_sku_sequenced",
        passed=buy_breaks.empty,
        description=mps.describe_breaks(buy_breaks, "no bought SKU sequenced"),
        metadata={"rows_breaking": len(buy_breaks), "bought_skus": len(bought)},
    )
    yield dg.AssetCheckResult(
        asset_key=OUT("production_sequence"),
        check_name="planned_hours_within_shift_calendar",
        passed=plan_over.empty,
        description=mps.describe_breaks(plan_over, "plan run hours <= shift-calendar hours"),
        metadata={"resource_weeks_breaking": len(plan_over), "frozen_weeks_excepted": len(frozen_weeks)},
    )
    yield dg.AssetCheckResult(
        asset_key=OUT("production_sequence"),
        check_name="sequence_resources_synchronized",
        passed=sync_breaks.empty,
        description=mps.describe_breaks(sync_breaks, "resources of an operation together, one job at a time"),
        metadata={"rows_breaking": len(sync_breaks)},
    )
    yield dg.AssetCheckResult(
        asset_key=OUT("production_sequence"),
        check_name="sequence_fits_shift_calendar",
        passed=overflow.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=mps.describe_breaks(
            overflow, "run + changeover hours <= shift-calendar hours (overflow unscheduled)"
        ),
        metadata={"resource_weeks_over": len(overflow), "unscheduled_units": round(unscheduled, 1)},
    )


@dg.graph_multi_asset(
    name="sequence_assets",
    outs={
        "production_sequence": dg.AssetOut(
            key=OUT("production_sequence"),
            owners=SUPPLY["owners"],
            kinds=SUPPLY["kinds"],
            description="Production sequence of the plan of record's master production schedule (MPS: "
            "make_units per SKU-week) on every critical resource - the declared constraint and "
            "the capacity table's measured bottleneck - on the alternate resources the plan "
            "offloaded their work to and on every machine or tool sharing a routing with them, "
            "per horizon week, as one synchronized timetable (analytics/synchronize.py): an "
            "operation holds its line and tooling together (rows of one operation_id share "
            "start and end), the line's changeover holds the tool too, and no resource runs two "
            "jobs at once. Each resource's own OR-Tools sequence gives the starting orders: one job "
            "per SKU-week with exactly the plan's quantity at the resource's routing rate, "
            "batched by setup family, families ordered by the asymmetric changeover ATSP from "
            "the current setup, then local search on changeover minutes + 1,000 min per hour "
            "late (soft due dates: the earliest open order's requested date, else the close of "
            "the week's last shift). Bought SKUs are never sequenced. Start and end fall inside "
            "the shift calendar (hours per day x days per week from 06:00, less planned "
            "downtime); what does not fit is unscheduled_qty, never stretched.",
        ),
        "sequence_summary": dg.AssetOut(
            key=OUT("sequence_summary"),
            owners=SUPPLY["owners"],
            kinds=SUPPLY["kinds"],
            description="Per sequenced resource and week: MPS units, scheduled and unscheduled units, run "
            "+ changeover hours vs the shift calendar's available hours (fits), changeover hours "
            "FIFO (due-date order) vs optimized and vs the rough-cut estimate the plan reserved, "
            "the OEE that follows (availability = run / (run + changeover) x historical "
            "performance x quality) and late orders.",
        ),
    },
    ins=_ins(*SEQUENCE_INPUTS),
    group_name="supply",
    check_specs=SEQUENCE_CHECKS,
)
def sequence_assets(
    cycle,
    ingest_log,
    plan_of_record,
    plan_offloads,
    capacity_table,
    oee_weekly,
    changeover_estimate,
    items,
    decisions,
    resources,
    routings,
    routing_alternates,
    changeovers,
    production_orders,
    sales_orders,
    downtime,
):
    """Fanned out per critical resource (one step each, sop_pipeline/assets/fanout.py)."""
    parts, shared = sequence__split(
        cycle=cycle,
        ingest_log=ingest_log,
        plan_of_record=plan_of_record,
        plan_offloads=plan_offloads,
        capacity_table=capacity_table,
        oee_weekly=oee_weekly,
        changeover_estimate=changeover_estimate,
        items=items,
        decisions=decisions,
        resources=resources,
        routings=routings,
        routing_alternates=routing_alternates,
        changeovers=changeovers,
        production_orders=production_orders,
        sales_orders=sales_orders,
        downtime=downtime,
    )
    outputs = sequence__combine(sequence__synchronize(shared, parts.map(sequence__part).collect()))
    return dict(zip(["production_sequence", "sequence_summary", *SEQUENCE_CHECK_OUTS], outputs))


# --------------------------------------------------------------------------- capacity + skills

SKILL_MATRIX_COLUMNS = ["employee_id", "resource_id", "level", "shift", "hours_per_week", "qualified"]
CROSS_TRAIN_COLUMNS = [
    "employee_id",
    "shift",
    "from_resource",
    "to_resource",
    "current_level",
    "hours_unlocked",
    "hours_lost_elsewhere",
    "week_needed",
]


@dg.multi_asset(
    name="capacity_assets",
    outs={
        "capacity": dg.AssetOut(
            key=OUT("capacity"),
            **SUPPLY,
            description="Weekly capacity by resource for the 13-week horizon: available hours = calendar "
            "hours - planned downtime, x historical availability (1 - unplanned downtime "
            "share of the last 26 weeks); required = forecast make volume / units per hour "
            "(routings) + the rough-cut changeover estimate; load % and the bottleneck. A "
            "labour pool's available hours are its qualified people's hours (skills).",
        ),
        "downtime_weekly": dg.AssetOut(
            key=OUT("downtime_weekly"),
            **SUPPLY,
            description="Planned and unplanned downtime hours per resource-week (events split at week "
            "boundaries), history and horizon.",
        ),
        "skill_matrix": dg.AssetOut(
            key=OUT("skill_matrix"),
            **SUPPLY,
            description="Who can run what: level 0-3 per employee and resource; qualified = level >= 2.",
        ),
        "cross_train_plan": dg.AssetOut(
            key=OUT("cross_train_plan"),
            **SUPPLY,
            description="When labour is short, who to cross-train on what (OR-Tools CP-SAT: fewest "
            "trainings that remove the shortfall without creating one elsewhere).",
        ),
        "labor_coverage": dg.AssetOut(
            key=OUT("labor_coverage"),
            is_required=False,
            **SUPPLY,
            description="Labour coverage per pool and week before and after the cross-training plan (written "
            "when there are labour pools with skills).",
        ),
    },
    ins=_ins(
        "cycle",
        "ingest_log",
        "forecast",
        "changeover_estimate",
        "items",
        "decisions",
        "resources",
        "routings",
        "downtime",
        "skills",
    ),
    internal_asset_deps={
        "capacity": {
            FORECAST,
            OUT("changeover_estimate"),
            STG("stg_mes__resources"),
            STG("stg_mes__routings"),
            STG("stg_mes__downtime"),
            STG("stg_mes__skills"),
            STG("stg_erp__items"),
            STG("stg_sop__decisions"),
            dg.AssetKey(["meta", "cycle"]),
            INGEST_LOG,
        },
        "downtime_weekly": {STG("stg_mes__downtime"), dg.AssetKey(["meta", "cycle"]), INGEST_LOG},
        "skill_matrix": {STG("stg_mes__skills"), INGEST_LOG},
        "cross_train_plan": {
            STG("stg_mes__skills"),
            FORECAST,
            OUT("changeover_estimate"),
            STG("stg_mes__resources"),
            STG("stg_mes__routings"),
            STG("stg_mes__downtime"),
            dg.AssetKey(["meta", "cycle"]),
            INGEST_LOG,
        },
        "labor_coverage": {
            STG("stg_mes__skills"),
            FORECAST,
            OUT("changeover_estimate"),
            STG("stg_mes__resources"),
            STG("stg_mes__routings"),
            STG("stg_mes__downtime"),
            dg.AssetKey(["meta", "cycle"]),
            INGEST_LOG,
        },
    },
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "one_bottleneck_per_week",
            asset=OUT("capacity"),
            description="Exactly one resource is the bottleneck in each horizon week.",
        )
    ],
)
def capacity_assets(
    scenario: ScenarioConfig,
    cycle: pd.DataFrame,
    ingest_log: pd.DataFrame,
    forecast: pd.DataFrame,
    changeover_estimate: pd.DataFrame,
    items: pd.DataFrame,
    decisions: pd.DataFrame,
    resources: pd.DataFrame,
    routings: pd.DataFrame,
    downtime: pd.DataFrame,
    skills: pd.DataFrame,
):
    calendar = Cycle(as_of_date(cycle))
    absent = absent_in(ingest_log)
    decisions = scenario_lib.scenario_decisions(decisions, calendar.as_of, scenario.spec())  # make-vs-buy
    cap = pd.DataFrame(
        columns=[
            "resource_id",
            "type",
            "week_start",
            "available_hours",
            "required_hours",
            "changeover_hours",
            "load_pct",
            "is_bottleneck",
        ]
    )
    dtw = pd.DataFrame(columns=["resource_id", "week_start", "planned_hours", "unplanned_hours"])
    matrix, plan, coverage = pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    if not {"resources", "routings"} & absent:
        machines = _resources(resources)
        rates = routings[["sku", "resource_id", "units_per_hour"]]
        events = (
            _downtime(downtime)
            if "downtime" not in absent
            else pd.DataFrame(columns=["resource_id", "start", "end", "planned"])
        )
        history = [calendar.week1_start - pd.Timedelta(weeks=k) for k in range(26, 0, -1)]
        factors = capacity.availability_factors(events, machines, history) if len(events) else None
        co = changeover_estimate[["resource_id", "week_start", "changeover_hours"]]
        planned = supply.planned_make_units(
            forecast, calendar.horizon_weeks, plan_lib.sourcing_as_of(items, decisions, calendar.as_of)
        )
        cap = capacity.weekly_capacity(
            machines,
            planned,
            rates,
            calendar.horizon(),
            downtime=events if len(events) else None,
            availability=factors,
            changeover_hours=co if len(co) else None,
        )
        if len(events):
            dtw = capacity.downtime_by_week(events, history + calendar.horizon())
        if "skills" not in absent:
            people = skills[["employee_id", "resource_id", "skill_level", "shift", "hours_per_week"]].rename(
                columns={"skill_level": "level"}
            )
            cap = supply.labor_pool_hours(cap, people)
            matrix = capacity.skill_matrix(people)
            result = capacity.cross_train_plan(people, capacity.labor_requirements(cap, people), time_limit_s=10.0)
            plan, coverage = result.plan, result.coverage
    cap = scenario_lib.apply_resource_hours(cap, calendar.horizon(), scenario.spec())  # scenario hours
    bottleneck = cap[cap.is_bottleneck.astype(bool)] if len(cap) else cap
    per_week = bottleneck.groupby("week_start").size() if len(bottleneck) else pd.Series(dtype=int)
    yield dg.Output(
        cap,
        output_name="capacity",
        metadata={
            "bottlenecks": dg.MetadataValue.md(
                markdown_table(
                    bottleneck[["week_start", "resource_id", "type", "load_pct"]] if len(bottleneck) else bottleneck, 13
                )
            )
        },
    )
    yield dg.Output(dtw, output_name="downtime_weekly")
    yield dg.Output(matrix if len(matrix) else pd.DataFrame(columns=SKILL_MATRIX_COLUMNS), output_name="skill_matrix")
    yield dg.Output(
        plan if len(plan) else pd.DataFrame(columns=CROSS_TRAIN_COLUMNS),
        output_name="cross_train_plan",
        metadata={"trainings": int(len(plan))},
    )
    if len(coverage):
        yield dg.Output(coverage, output_name="labor_coverage")
    yield dg.AssetCheckResult(
        asset_key=OUT("capacity"),
        check_name="one_bottleneck_per_week",
        passed=bool(cap.empty or (per_week.reindex(cap.week_start.unique()).fillna(0) == 1).all()),
    )


# --------------------------------------------------------------------------- MRP (BOM explosion)

MRP_INPUTS = {
    "cycle": ("meta", "cycle"),
    "ingest_log": ("meta", "ingest_log"),
    "plan_of_record": ("analytics", "plan_of_record"),
    "safety_stock": ("analytics", "safety_stock"),
    "items": ("staging", "stg_erp__items"),
    "decisions": ("staging", "stg_sop__decisions"),
    "bom": ("staging", "stg_erp__bom"),
    "purchase_orders": ("staging", "stg_erp__purchase_orders"),
    "receipts": ("staging", "stg_erp__receipts"),
    "usable_stock": ("intermediate", "int_usable_stock"),
}
COMPONENTS = OUT("component_requirements")
PURCHASES = OUT("purchase_requirements")
PEGGING = OUT("mrp_pegging")


def _lot_sizes(items: pd.DataFrame) -> pd.DataFrame | None:
    """Optional lot-size columns of the item master (extra columns, passed through as text)."""
    cols = [c for c in ("min_order_qty", "order_multiple") if c in items.columns]
    if not cols:
        return None
    out = items[["sku", *cols]].copy()
    for c in cols:
        out[c] = pd.to_numeric(out[c], errors="coerce")
    return out


@dg.multi_asset(
    name="mrp_assets",
    outs={
        "component_requirements": dg.AssetOut(
            key=COMPONENTS,
            **SUPPLY,
            description="MRP record per component x horizon week: the plan of record's make quantities exploded "
            "through the multi-level BOM in force on the need date (low-level codes, production lead-time "
            "offsets), gross requirement, open purchase orders due, projected on hand from usable stock, net "
            "requirement and the planned receipt and its release week.",
        ),
        "purchase_requirements": dg.AssetOut(
            key=PURCHASES,
            **SUPPLY,
            description="Planned purchase orders per supplier, component and week: quantity, need week, release "
            "date = need date - the supplier's recent lead time, and `late` when that is before the as-of "
            "(even ordered today it arrives after it is needed).",
        ),
        "mrp_pegging": dg.AssetOut(
            key=PEGGING,
            **SUPPLY,
            description="Which parent's production drives which component requirement (component, parent, need "
            "week, parent units, qty per, BOM version, gross units).",
        ),
    },
    ins={name: table_in(*key) for name, key in MRP_INPUTS.items()},
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "component_balance",
            asset=COMPONENTS,
            blocking=True,
            description="Every component-week: projected on hand = previous (week 1: usable on hand) + open PO "
            "receipts + planned receipts - gross requirement, and never negative after planning. A failure names "
            "the component and week.",
        ),
        dg.AssetCheckSpec(
            "every_make_row_exploded",
            asset=COMPONENTS,
            blocking=True,
            description="Every plan-of-record make row of a SKU with a BOM in force is exploded into each of its "
            "components at make units x qty per, and each component-week's gross equals its pegged parents.",
        ),
    ],
)
def mrp_assets(
    scenario: ScenarioConfig,
    cycle: pd.DataFrame,
    ingest_log: pd.DataFrame,
    plan_of_record: pd.DataFrame,
    safety_stock: pd.DataFrame,
    items: pd.DataFrame,
    decisions: pd.DataFrame,
    bom: pd.DataFrame,
    purchase_orders: pd.DataFrame,
    receipts: pd.DataFrame,
    usable_stock: pd.DataFrame,
):
    as_of = as_of_date(cycle)
    calendar = Cycle(as_of)
    absent = absent_in(ingest_log)
    bom = bom[["parent_sku", "component_sku", "qty_per", "effective_from", "effective_to", "bom_version"]]
    decisions = scenario_lib.scenario_decisions(decisions, as_of, scenario.spec())  # scenario make-vs-buy
    source = plan_lib.sourcing_as_of(items, decisions, as_of)
    fill_rate = safety_stock[safety_stock.service_type == "fill_rate"]
    lead = fill_rate.set_index("sku").lead_time_mean_weeks
    buying = not {"purchase_orders", "receipts"} & absent
    scheduled = (
        plan_inputs.scheduled_receipts(purchase_orders, receipts, calendar.week1_start, as_of, calendar.horizon_end)
        if buying
        else None
    )
    suppliers = (
        mrp.supplier_sources(
            purchase_orders[["po_id", "line", "supplier_id", "sku", "order_date", "promised_date"]],
            receipts[["po_id", "line", "receipt_date"]],
        )
        if "purchase_orders" not in absent
        else None
    )
    plan = plan_of_record[["sku", "week_start", "make_units"]]
    result = mrp.explode(
        plan,
        bom,
        calendar,
        make_or_buy=source,
        lead_time_weeks=lead,
        on_hand=plan_inputs.usable_stock_by_sku(usable_stock),
        scheduled=scheduled,
        suppliers=suppliers,
        lot_sizes=_lot_sizes(items),
    )
    balance = mrp.balance_breaks(result.requirements)
    exploded = mrp.explosion_breaks(plan, result, bom, calendar, lead)
    late = result.purchases[result.purchases.late.astype(bool)]
    yield dg.Output(
        result.requirements,
        output_name="component_requirements",
        metadata={
            "components": int(result.requirements.component_sku.nunique()) if len(result.requirements) else 0,
            "levels": int(result.requirements.low_level_code.max()) if len(result.requirements) else 0,
            "make_rows_without_bom": int(len(result.unexploded)),
            "note": "no BOM: nothing to explode" if bom.empty else "",
        },
    )
    yield dg.Output(
        result.purchases,
        output_name="purchase_requirements",
        metadata={
            "planned_orders": int(len(result.purchases)),
            "late_orders": int(len(late)),
            "late_components": ", ".join(sorted(set(late.component_sku))[:20]) or "none",
        },
    )
    yield dg.Output(result.pegging, output_name="mrp_pegging")
    yield dg.AssetCheckResult(
        asset_key=COMPONENTS,
        check_name="component_balance",
        passed=balance.empty,
        description=mrp.describe(balance, "component balance", key="component_sku"),
        metadata={"rows_breaking": len(balance)},
    )
    yield dg.AssetCheckResult(
        asset_key=COMPONENTS,
        check_name="every_make_row_exploded",
        passed=exploded.empty,
        description=mrp.describe(exploded, "every make row exploded"),
        metadata={"rows_breaking": len(exploded)},
    )


ASSETS = [oee_assets, changeover_estimate, capacity_assets, sequence_assets, mrp_assets]
