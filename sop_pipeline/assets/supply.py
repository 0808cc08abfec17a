"""Supply review: OEE on the constraint, optimized production sequences, weekly capacity by
critical resource (machine, labour, tooling), skill matrix and cross-train plan.

Thin wrappers around `analytics.oee`, `analytics.mps` (with `analytics.sequencing`) and
`analytics.capacity`; outputs `analytics.*`, published by the dbt marts in `models/marts/supply/`.
Flow (one plan that agrees with itself): demand forecast -> rough-cut changeover estimate per
resource-week -> capacity (run + changeover hours vs available) -> plan of record (make_units =
the master production schedule) -> production sequence of exactly those quantities on every
critical resource, on its shift calendar -> sequence summary.
"""

import dagster as dg
import numpy as np
import pandas as pd

from sop_pipeline.analytics import capacity, mps, oee, plan as plan_lib
from sop_pipeline.analytics.calendar import Cycle
from sop_pipeline.assets.common import (
    OWNERS, absent_extracts, cycle_as_of, cycle_decisions, markdown_table, read_table, write_table,
)
from sop_pipeline.resources import WAREHOUSE_POOL, Warehouse

STG = lambda name: dg.AssetKey(["staging", name])  # noqa: E731
OUT = lambda name: dg.AssetKey(["analytics", name])  # noqa: E731
COMMON = dict(group_name="supply", owners=OWNERS["supply"], kinds={"python", "duckdb"})
FORECAST = OUT("demand_forecast")
PLAN = OUT("plan_of_record")
INGEST_LOG = dg.AssetKey(["meta", "ingest_log"])


def _resources(con) -> pd.DataFrame:
    return read_table(con, "select resource_id, resource_type as type, resource_name, is_constraint, hours_per_day, "
                           "days_per_week from staging.stg_mes__resources")


def _downtime(con) -> pd.DataFrame:
    return read_table(con, "select resource_id, start_at as start, end_at as \"end\", is_planned as planned, reason "
                           "from staging.stg_mes__downtime")


def planned_make_units(con, cycle: Cycle, source: pd.Series) -> pd.DataFrame:
    """Rough-cut volume on the lines per SKU x horizon week, before the plan exists: the demand
    forecast (p50) of SKUs made after approved make-vs-buy decisions (``source``)."""
    fc = read_table(con, "select sku, week_start, units_p50 as units from analytics.demand_forecast "
                         "where horizon_week between 1 and ?", [cycle.horizon_weeks])
    made = set(source[source.astype(str).str.lower() == "make"].index)
    return fc[fc.sku.isin(made)].reset_index(drop=True)


# --------------------------------------------------------------------------- OEE

@dg.multi_asset(
    specs=[
        dg.AssetSpec(OUT("oee_weekly"), deps=[STG("stg_mes__resource_time"), STG("stg_mes__downtime"),
                                              STG("stg_mes__production_orders"), STG("stg_mes__changeovers"),
                                              STG("stg_mes__routings"), INGEST_LOG], **COMMON,
                     description="OEE = availability x performance x quality per machine and ISO week from "
                                 "resource_time (hours summed first, ratios after), with the loss breakdown in "
                                 "hours: planned downtime, changeover, unplanned downtime, performance, quality."),
        dg.AssetSpec(OUT("changeover_weekly"), deps=[STG("stg_mes__production_orders"), STG("stg_mes__changeovers"),
                                                     STG("stg_mes__routings")], **COMMON,
                     description="Changeover hours per machine-week: planned = changeover matrix minutes between "
                                 "consecutive production orders in planned order; actual = planned time not run "
                                 "and not down (resource_time minus downtime events)."),
    ],
    pool=WAREHOUSE_POOL,
)
def oee_assets(warehouse: Warehouse):
    with warehouse.connect() as con:
        absent = absent_extracts(con)
        if "resource_time" in absent:
            weekly = pd.DataFrame(columns=["resource_id", "week_start", "planned_hours", "run_hours", "availability",
                                           "performance", "quality", "oee"])
            co = pd.DataFrame(columns=["resource_id", "week_start", "changeover_hours_planned",
                                       "changeover_hours_actual"])
        else:
            rt = read_table(con, "select production_date as date, resource_id, planned_hours, run_hours, ideal_units, "
                                 "total_units, good_units from staging.stg_mes__resource_time")
            dt = _downtime(con)
            if len(dt):
                days = dt.assign(date=pd.to_datetime(dt.start).dt.normalize(),
                                 hours=(pd.to_datetime(dt["end"]) - pd.to_datetime(dt.start)) / pd.Timedelta(hours=1))
                by_day = days.pivot_table(index=["resource_id", "date"], columns="planned", values="hours",
                                          aggfunc="sum", fill_value=0.0)
                by_day = by_day.rename(columns={True: "planned_downtime_hours", False: "unplanned_downtime_hours"})
                rt["date"] = pd.to_datetime(rt.date)
                rt = rt.merge(by_day.reset_index(), on=["resource_id", "date"], how="left")
                for col in ("planned_downtime_hours", "unplanned_downtime_hours"):
                    rt[col] = rt.get(col, pd.Series(0.0, index=rt.index)).fillna(0.0)
                # the availability loss (planned - run) splits into downtime and changeover: downtime
                # events are scaled down if they exceed it, the rest is changeover (never negative)
                lost = (rt.planned_hours - rt.run_hours).clip(lower=0.0)
                down = rt.planned_downtime_hours + rt.unplanned_downtime_hours
                scale = np.where(down > lost, lost / down.where(down > 0, 1.0), 1.0)
                rt["planned_downtime_hours"] *= scale
                rt["unplanned_downtime_hours"] *= scale
                rt["changeover_hours"] = (lost - rt.planned_downtime_hours - rt.unplanned_downtime_hours).clip(lower=0.0)
            weekly = oee.oee_weekly(rt)
            co = _changeover_weekly(con, weekly)
        meta = write_table(con, "oee_weekly", weekly)
        meta_co = write_table(con, "changeover_weekly", co)
    yield dg.MaterializeResult(asset_key=OUT("oee_weekly"), metadata={
        **meta, "last_weeks": dg.MetadataValue.md(markdown_table(
            weekly.sort_values("week_start").tail(8)[["resource_id", "week_start", "availability", "performance",
                                                      "quality", "oee"]] if len(weekly) else weekly))})
    yield dg.MaterializeResult(asset_key=OUT("changeover_weekly"), metadata=meta_co)


def _changeover_weekly(con, weekly: pd.DataFrame) -> pd.DataFrame:
    orders = read_table(con, "select p.resource_id, p.planned_start, r.setup_family from staging.stg_mes__production_orders p "
                             "join staging.stg_mes__routings r on r.sku = p.sku and r.resource_id = p.resource_id "
                             "where p.status <> 'cancelled' order by p.resource_id, p.planned_start")
    matrix = read_table(con, "select resource_id, from_key, to_key, changeover_minutes from staging.stg_mes__changeovers")
    minutes = matrix.set_index(["resource_id", "from_key", "to_key"]).changeover_minutes
    orders["prev"] = orders.groupby("resource_id").setup_family.shift()
    keys = list(zip(orders.resource_id, orders.prev, orders.setup_family))
    orders["minutes"] = [minutes.get(k, 0.0) if k[1] is not None and k[1] == k[1] else 0.0 for k in keys]
    orders["week_start"] = pd.to_datetime(orders.planned_start).dt.normalize() - pd.to_timedelta(
        pd.to_datetime(orders.planned_start).dt.weekday, unit="D")
    planned = orders.groupby(["resource_id", "week_start"], as_index=False).minutes.sum()
    planned["changeover_hours_planned"] = planned.minutes / 60.0
    actual = weekly[["resource_id", "week_start"]].copy()
    actual["changeover_hours_actual"] = weekly.get("changeover_hours", pd.Series(np.nan, index=weekly.index))
    actual["week_start"] = pd.to_datetime(actual.week_start)
    out = actual.merge(planned[["resource_id", "week_start", "changeover_hours_planned"]],
                       on=["resource_id", "week_start"], how="left")
    return out


# --------------------------------------------------------------------------- sequencing

def _sourcing(con, as_of) -> pd.Series:
    """make/buy per SKU after approved make_vs_buy decisions on or before the as-of, exactly as the
    plan of record reads them (``analytics.plan.sourcing``)."""
    items = read_table(con, "select sku, make_or_buy from staging.stg_erp__items")
    source, _, _ = plan_lib.sourcing(items, cycle_decisions(con, as_of))
    return source


def _sequencing_inputs(con, cycle: Cycle, absent: set[str]) -> dict:
    """Routings, changeover matrix, open-order due dates, current setups and planned downtime."""
    routings = read_table(con, "select sku, resource_id, units_per_hour, setup_family from staging.stg_mes__routings")
    changeovers = read_table(con, "select resource_id, from_key, to_key, changeover_minutes as minutes "
                                  "from staging.stg_mes__changeovers") if "changeovers" not in absent else None
    dues = read_table(con, "select sku, min(requested_date) as due, "
                           "cast(date_trunc('week', requested_date) as date) as week_start "
                           "from staging.stg_erp__sales_orders where status = 'open' group by all") \
        if "sales_orders" not in absent else None
    setups = {}
    if "production_orders" not in absent:
        last = read_table(con, "select p.resource_id, arg_max(r.setup_family, p.planned_start) as setup "
                               "from staging.stg_mes__production_orders p join staging.stg_mes__routings r "
                               "on r.sku = p.sku and r.resource_id = p.resource_id "
                               "where p.planned_start < ? group by p.resource_id", [cycle.week1_start])
        setups = dict(zip(last.resource_id, last.setup))
    downtime = _downtime(con) if "downtime" not in absent else None
    return dict(routings=routings, changeovers=changeovers, dues=dues, current_setup=setups, downtime=downtime)


@dg.asset(
    key=OUT("changeover_estimate"),
    deps=[FORECAST, STG("stg_erp__items"), STG("stg_sop__decisions"), STG("stg_mes__resources"),
          STG("stg_mes__routings"), STG("stg_mes__changeovers"), STG("stg_mes__production_orders"),
          STG("stg_erp__sales_orders"), STG("stg_mes__downtime"), INGEST_LOG],
    description="Rough-cut changeover hours per resource and horizon week, before the plan exists: the demand "
                "forecast (p50) of made SKUs (item master, after approved make-vs-buy decisions) sequenced per "
                "week on every resource with a changeover matrix, the same way as the final sequence (batches by "
                "setup family, ATSP from the current setup, due-date repair). The capacity table and the plan of "
                "record reserve these hours; the final sequence of the plan's MPS is analytics.production_sequence.",
    pool=WAREHOUSE_POOL, **COMMON)
def changeover_estimate(warehouse: Warehouse):
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        cycle = Cycle(as_of)
        absent = absent_extracts(con)
        out = pd.DataFrame(columns=["resource_id", "week_start", "jobs", "setup_families", "run_hours",
                                    "changeover_hours"])
        if not {"resources", "routings", "changeovers"} & absent:
            inputs = _sequencing_inputs(con, cycle, absent)
            planned = planned_make_units(con, cycle, _sourcing(con, as_of))
            out = mps.changeover_estimate(planned, inputs["routings"], _resources(con), cycle.horizon(),
                                          changeovers=inputs["changeovers"], downtime=inputs["downtime"],
                                          dues=inputs["dues"], current_setup=inputs["current_setup"],
                                          time_limit_s=2.0, seed=0)
        meta = write_table(con, "changeover_estimate", out)
    by_resource = out.groupby("resource_id", as_index=False).changeover_hours.sum().round(1) if len(out) else out
    return dg.MaterializeResult(metadata={**meta, "changeover_hours_13w": dg.MetadataValue.md(
        markdown_table(by_resource))})


SEQUENCE_CHECKS = [
    dg.AssetCheckSpec("sequenced_quantity_equals_plan", asset=OUT("production_sequence"), blocking=True,
                      description="Per sequenced resource, SKU and week, the units in the production sequence "
                                  "equal the plan of record's make quantity (make_units, the MPS). A failure names "
                                  "the resource, SKU and week."),
    dg.AssetCheckSpec("no_bought_sku_sequenced", asset=OUT("production_sequence"), blocking=True,
                      description="No SKU that is bought (item master make_or_buy, or the latest approved "
                                  "make_vs_buy decision on or before the as-of) is in the production sequence. A "
                                  "failure names the SKU and week."),
    dg.AssetCheckSpec("planned_hours_within_shift_calendar", asset=OUT("production_sequence"), blocking=True,
                      description="On every sequenced resource-week, the plan's run hours fit the shift calendar "
                                  "(hours per day x days per week - planned downtime); weeks locked by an approved "
                                  "freeze window excepted. A failure names the resource and week."),
    dg.AssetCheckSpec("sequence_fits_shift_calendar", asset=OUT("production_sequence"),
                      description="Run + changeover hours of the sequence fit the shift calendar on every "
                                  "sequenced resource-week; units that do not fit are reported as unscheduled "
                                  "(warning: the plan reserved fewer changeover hours than the sequence needs)."),
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(OUT("production_sequence"), deps=[PLAN, OUT("capacity"), OUT("oee_weekly"),
                                                       STG("stg_erp__items"), STG("stg_sop__decisions"),
                                                       STG("stg_mes__resources"), STG("stg_mes__routings"),
                                                       STG("stg_mes__changeovers"), STG("stg_mes__production_orders"),
                                                       STG("stg_erp__sales_orders"), STG("stg_mes__downtime"),
                                                       INGEST_LOG], **COMMON,
                     description="Production sequence of the plan of record's master production schedule (MPS: "
                                 "make_units per SKU-week) on every critical resource - the declared constraint and "
                                 "the capacity table's measured bottleneck - per horizon week (OR-Tools): one job "
                                 "per SKU-week with exactly the plan's quantity at the resource's routing rate, "
                                 "batched by setup family, families ordered by the asymmetric changeover ATSP from "
                                 "the current setup, then local search on changeover minutes + 1,000 min per hour "
                                 "late (soft due dates: the earliest open order's requested date, else the close of "
                                 "the week's last shift). Bought SKUs are never sequenced. Start and end fall inside "
                                 "the shift calendar (hours per day x days per week from 06:00, less planned "
                                 "downtime); what does not fit is unscheduled_qty, never stretched."),
        dg.AssetSpec(OUT("sequence_summary"), deps=[PLAN, OUT("capacity"), OUT("oee_weekly")], **COMMON,
                     description="Per sequenced resource and week: MPS units, scheduled and unscheduled units, run "
                                 "+ changeover hours vs the shift calendar's available hours (fits), changeover hours "
                                 "FIFO (due-date order) vs optimized and vs the rough-cut estimate the plan reserved, "
                                 "the OEE that follows (availability = run / (run + changeover) x historical "
                                 "performance x quality) and late orders."),
    ],
    pool=WAREHOUSE_POOL,
    check_specs=SEQUENCE_CHECKS,
)
def sequence_assets(warehouse: Warehouse):
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        cycle = Cycle(as_of)
        absent = absent_extracts(con)
        weeks = cycle.horizon()
        source = _sourcing(con, as_of)
        bought = mps.bought_skus(source)
        plan = read_table(con, "select * from analytics.plan_of_record")
        schedule = mps.mps_from_plan(plan, source)
        frozen_weeks = sorted(set(schedule.week_start[schedule.supply_source == "frozen"])) \
            if "supply_source" in schedule else []
        result = mps.MpsSequence(pd.DataFrame(columns=mps.SEQUENCE_COLUMNS), pd.DataFrame(columns=mps.SUMMARY_COLUMNS),
                                 pd.DataFrame(columns=["sku", "week_start", "make_units", "reason"]))
        resource_ids: list[str] = []
        routings = pd.DataFrame(columns=["sku", "resource_id", "units_per_hour"])
        if not {"resources", "routings"} & absent:
            resources = _resources(con)
            inputs = _sequencing_inputs(con, cycle, absent)
            routings = inputs["routings"]
            capacity_table = read_table(con, "select resource_id, load_pct from analytics.capacity")
            resource_ids = mps.critical_resources(resources, capacity_table)
            oee_hist = read_table(con, "select resource_id, median(performance) as performance, "
                                       "median(quality) as quality from analytics.oee_weekly group by resource_id")
            orders = read_table(con, "select sku, planned_qty, status from staging.stg_mes__production_orders") \
                if "production_orders" not in absent else None
            min_run = mps.minimum_run_units(routings, orders, resources=resources)
            result = mps.sequence_mps(schedule, routings, resources, weeks, resource_ids, bought=bought,
                                      changeovers=inputs["changeovers"], downtime=inputs["downtime"],
                                      dues=inputs["dues"], current_setup=inputs["current_setup"], oee=oee_hist,
                                      min_run=min_run, time_limit_s=2.0, seed=0)
        summary = result.summary
        estimate = read_table(con, "select resource_id, week_start, changeover_hours as changeover_hours_reserved "
                                   "from analytics.changeover_estimate")
        if len(summary):
            estimate["week_start"] = pd.to_datetime(estimate.week_start)
            summary = summary.merge(estimate, on=["resource_id", "week_start"], how="left")
            summary["changeover_hours_reserved"] = summary.changeover_hours_reserved.fillna(0.0)
        else:
            summary = summary.assign(changeover_hours_reserved=pd.Series(dtype=float))
        meta = write_table(con, "production_sequence", result.jobs)
        meta_sum = write_table(con, "sequence_summary", summary)

    seq = result.jobs
    qty_breaks = mps.quantity_breaks(seq, schedule, routings, resource_ids, weeks)
    buy_breaks = mps.bought_breaks(seq, bought)
    plan_over, overflow = mps.hours_breaks(summary, frozen_weeks)
    saved = float(summary.changeover_hours_fifo.sum() - summary.changeover_hours_optimized.sum()) \
        if len(summary) else 0.0
    unscheduled = float(seq.unscheduled_qty.sum()) if len(seq) else 0.0
    yield dg.MaterializeResult(asset_key=OUT("production_sequence"), metadata={
        **meta, "resources_sequenced": ", ".join(resource_ids) or "none",
        "mps_units_sequenced": round(float(seq.qty.sum()) if len(seq) else 0.0, 1),
        "unscheduled_units": round(unscheduled, 1),
        "unscheduled": f"{unscheduled:,.1f} units in {len(overflow)} resource-week(s) do not fit the shift calendar"
                       if len(overflow) else "every job fits the shift calendar",
        "bought_skus_excluded": ", ".join(sorted(set(result.excluded.sku))) or "none",
        "jobs_below_min_run": int(summary.jobs_below_min_run.sum()) if len(summary) else 0})
    yield dg.MaterializeResult(asset_key=OUT("sequence_summary"), metadata={
        **meta_sum, "changeover_hours_saved_13w": round(saved, 1),
        "changeover_hours_13w": round(float(summary.changeover_hours_optimized.sum()) if len(summary) else 0.0, 1),
        "changeover_hours_reserved_13w": round(float(summary.changeover_hours_reserved.sum())
                                               if len(summary) else 0.0, 1),
        "note": "no resources/routings or no make quantities: no sequence" if summary.empty else ""})
    yield dg.AssetCheckResult(asset_key=OUT("production_sequence"), check_name="sequenced_quantity_equals_plan",
                              passed=qty_breaks.empty,
                              description=mps.describe_breaks(qty_breaks, "sequenced quantity = plan make quantity"),
                              metadata={"rows_breaking": len(qty_breaks)})
    yield dg.AssetCheckResult(asset_key=OUT("production_sequence"), check_name="no_bought_sku_sequenced",
                              passed=buy_breaks.empty,
                              description=mps.describe_breaks(buy_breaks, "no bought SKU sequenced"),
                              metadata={"rows_breaking": len(buy_breaks), "bought_skus": len(bought)})
    yield dg.AssetCheckResult(asset_key=OUT("production_sequence"), check_name="planned_hours_within_shift_calendar",
                              passed=plan_over.empty,
                              description=mps.describe_breaks(plan_over, "plan run hours <= shift-calendar hours"),
                              metadata={"resource_weeks_breaking": len(plan_over),
                                        "frozen_weeks_excepted": len(frozen_weeks)})
    yield dg.AssetCheckResult(asset_key=OUT("production_sequence"), check_name="sequence_fits_shift_calendar",
                              passed=overflow.empty, severity=dg.AssetCheckSeverity.WARN,
                              description=mps.describe_breaks(overflow, "run + changeover hours <= shift-calendar "
                                                                        "hours (overflow unscheduled)"),
                              metadata={"resource_weeks_over": len(overflow),
                                        "unscheduled_units": round(unscheduled, 1)})


# --------------------------------------------------------------------------- capacity + skills

def labor_pool_hours(cap: pd.DataFrame, skills: pd.DataFrame) -> pd.DataFrame:
    """A labour pool's available hours are its qualified people's weekly hours (skills), not the
    plant calendar: replace them for labour-type resources with skills rows, then recompute load
    and the bottleneck."""
    people = capacity.qualified_hours(skills).groupby("resource_id").qualified_hours.sum()
    labor = (cap.type == "labor") & cap.resource_id.isin(people.index)
    cap = cap.copy()
    factor = cap.get("availability_factor", pd.Series(1.0, index=cap.index)).fillna(1.0)
    cap.loc[labor, "available_hours"] = cap.loc[labor, "resource_id"].map(people) * factor[labor]
    cap["load_pct"] = np.where(cap.available_hours > 0, 100 * cap.required_hours / cap.available_hours,
                               np.where(cap.required_hours > 0, np.inf, 0.0))
    top = cap.groupby("week_start").load_pct.transform("max")
    first = cap[cap.load_pct == top].groupby("week_start").resource_id.transform("first")
    cap["is_bottleneck"] = False
    cap.loc[first.index, "is_bottleneck"] = cap.loc[first.index, "resource_id"] == first
    return cap


@dg.multi_asset(
    specs=[
        dg.AssetSpec(OUT("capacity"), deps=[FORECAST, OUT("changeover_estimate"), STG("stg_mes__resources"),
                                            STG("stg_mes__routings"), STG("stg_mes__downtime"), INGEST_LOG], **COMMON,
                     description="Weekly capacity by resource for the 13-week horizon: available hours = calendar "
                                 "hours - planned downtime, x historical availability (1 - unplanned downtime "
                                 "share of the last 26 weeks); required = forecast make volume / units per hour "
                                 "(routings) + the rough-cut changeover estimate; load % and the bottleneck. A "
                                 "labour pool's available hours are its qualified people's hours (skills)."),
        dg.AssetSpec(OUT("downtime_weekly"), deps=[STG("stg_mes__downtime")], **COMMON,
                     description="Planned and unplanned downtime hours per resource-week (events split at week "
                                 "boundaries), history and horizon."),
        dg.AssetSpec(OUT("skill_matrix"), deps=[STG("stg_mes__skills")], **COMMON,
                     description="Who can run what: level 0-3 per employee and resource; qualified = level >= 2."),
        dg.AssetSpec(OUT("cross_train_plan"), deps=[OUT("capacity"), STG("stg_mes__skills")], **COMMON,
                     description="When labour is short, who to cross-train on what (OR-Tools CP-SAT: fewest "
                                 "trainings that remove the shortfall without creating one elsewhere)."),
    ],
    pool=WAREHOUSE_POOL,
    check_specs=[dg.AssetCheckSpec("one_bottleneck_per_week", asset=OUT("capacity"),
                                   description="Exactly one resource is the bottleneck in each horizon week.")],
)
def capacity_assets(warehouse: Warehouse):
    with warehouse.connect() as con:
        cycle = Cycle(cycle_as_of(con))
        absent = absent_extracts(con)
        empty = pd.DataFrame(columns=["resource_id", "type", "week_start", "available_hours", "required_hours",
                                      "changeover_hours", "load_pct", "is_bottleneck"])
        cap, dtw, matrix, plan = empty, pd.DataFrame(columns=["resource_id", "week_start", "planned_hours",
                                                              "unplanned_hours"]), pd.DataFrame(), pd.DataFrame()
        coverage = pd.DataFrame()
        if not {"resources", "routings"} & absent:
            resources = _resources(con)
            routings = read_table(con, "select sku, resource_id, units_per_hour from staging.stg_mes__routings")
            downtime = _downtime(con) if "downtime" not in absent else pd.DataFrame(
                columns=["resource_id", "start", "end", "planned"])
            history = [cycle.week1_start - pd.Timedelta(weeks=k) for k in range(26, 0, -1)]
            factors = capacity.availability_factors(downtime, resources, history) if len(downtime) else None
            co = read_table(con, "select resource_id, week_start, changeover_hours from analytics.changeover_estimate")
            planned = planned_make_units(con, cycle, _sourcing(con, cycle.as_of))
            cap = capacity.weekly_capacity(resources, planned, routings, cycle.horizon(),
                                           downtime=downtime if len(downtime) else None, availability=factors,
                                           changeover_hours=co if len(co) else None)
            if len(downtime):
                dtw = capacity.downtime_by_week(downtime, history + cycle.horizon())
            if "skills" not in absent:
                skills = read_table(con, "select employee_id, resource_id, skill_level as level, shift, hours_per_week "
                                         "from staging.stg_mes__skills")
                cap = labor_pool_hours(cap, skills)
                matrix = capacity.skill_matrix(skills)
                result = capacity.cross_train_plan(skills, capacity.labor_requirements(cap, skills), time_limit_s=10.0)
                plan, coverage = result.plan, result.coverage
        meta = write_table(con, "capacity", cap)
        meta_dt = write_table(con, "downtime_weekly", dtw)
        meta_sk = write_table(con, "skill_matrix", matrix if len(matrix) else pd.DataFrame(
            columns=["employee_id", "resource_id", "level", "shift", "hours_per_week", "qualified"]))
        meta_ct = write_table(con, "cross_train_plan", plan if len(plan) else pd.DataFrame(
            columns=["employee_id", "shift", "from_resource", "to_resource", "current_level", "hours_unlocked",
                     "hours_lost_elsewhere", "week_needed"]))
        if len(coverage):
            write_table(con, "labor_coverage", coverage)
    bottleneck = cap[cap.is_bottleneck.astype(bool)] if len(cap) else cap
    per_week = bottleneck.groupby("week_start").size() if len(bottleneck) else pd.Series(dtype=int)
    yield dg.MaterializeResult(asset_key=OUT("capacity"), metadata={
        **meta, "bottlenecks": dg.MetadataValue.md(markdown_table(
            bottleneck[["week_start", "resource_id", "type", "load_pct"]] if len(bottleneck) else bottleneck, 13))})
    yield dg.MaterializeResult(asset_key=OUT("downtime_weekly"), metadata=meta_dt)
    yield dg.MaterializeResult(asset_key=OUT("skill_matrix"), metadata=meta_sk)
    yield dg.MaterializeResult(asset_key=OUT("cross_train_plan"), metadata={
        **meta_ct, "trainings": int(len(plan))})
    yield dg.AssetCheckResult(asset_key=OUT("capacity"), check_name="one_bottleneck_per_week",
                              passed=bool(cap.empty or (per_week.reindex(cap.week_start.unique()).fillna(0) == 1).all()))


ASSETS = [oee_assets, changeover_estimate, capacity_assets, sequence_assets]
