"""Supply review: OEE on the constraint, optimized production sequences, weekly capacity by
critical resource (machine, labour, tooling), skill matrix and cross-train plan.

Thin wrappers around `analytics.oee`, `analytics.sequencing` and `analytics.capacity`;
outputs `analytics.*`, published by the dbt marts in `models/marts/supply/`. Flow: demand
forecast -> weekly sequences per constraint (changeover hours) -> capacity (run + changeover
hours vs available) -> plan of record.
"""

import dagster as dg
import numpy as np
import pandas as pd

from sop_pipeline.analytics import capacity, oee, sequencing
from sop_pipeline.analytics.calendar import Cycle
from sop_pipeline.assets.common import OWNERS, absent_extracts, cycle_as_of, markdown_table, read_table, write_table
from sop_pipeline.resources import WAREHOUSE_POOL, Warehouse

STG = lambda name: dg.AssetKey(["staging", name])  # noqa: E731
OUT = lambda name: dg.AssetKey(["analytics", name])  # noqa: E731
COMMON = dict(group_name="supply", owners=OWNERS["supply"], kinds={"python", "duckdb"})
FORECAST = OUT("demand_forecast")
INGEST_LOG = dg.AssetKey(["meta", "ingest_log"])


def _resources(con) -> pd.DataFrame:
    return read_table(con, "select resource_id, resource_type as type, resource_name, is_constraint, hours_per_day, "
                           "days_per_week from staging.stg_mes__resources")


def _downtime(con) -> pd.DataFrame:
    return read_table(con, "select resource_id, start_at as start, end_at as \"end\", is_planned as planned, reason "
                           "from staging.stg_mes__downtime")


def planned_make_units(con, cycle: Cycle) -> pd.DataFrame:
    """Units to make per SKU x horizon week: the demand forecast (p50) of made SKUs."""
    return read_table(con, "select f.sku, f.week_start, f.units_p50 as units from analytics.demand_forecast f "
                           "join staging.stg_erp__items i using (sku) where i.make_or_buy = 'make' "
                           "and f.horizon_week between 1 and ?", [cycle.horizon_weeks])


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

@dg.multi_asset(
    specs=[
        dg.AssetSpec(OUT("production_sequence"), deps=[FORECAST, OUT("oee_weekly"), STG("stg_mes__resources"),
                                                       STG("stg_mes__routings"), STG("stg_mes__changeovers"),
                                                       STG("stg_mes__production_orders"), STG("stg_erp__sales_orders"),
                                                       STG("stg_mes__downtime"), INGEST_LOG], **COMMON,
                     description="Optimized production sequence per constraint resource and horizon week "
                                 "(OR-Tools): the week's make volume of each SKU as one job, batched by setup "
                                 "family, families ordered by the asymmetric changeover ATSP from the current "
                                 "setup, then local search on changeover minutes + 1,000 min per hour late (soft "
                                 "due dates: the earliest open order's requested date, else the week's Friday)."),
        dg.AssetSpec(OUT("sequence_summary"), deps=[FORECAST, OUT("oee_weekly")], **COMMON,
                     description="Per constraint and week: changeover hours FIFO (due-date order) vs optimized, "
                                 "the OEE that follows (availability = run / (run + changeover) x historical "
                                 "performance x quality) and late orders."),
    ],
    pool=WAREHOUSE_POOL,
)
def sequence_assets(warehouse: Warehouse):
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        cycle = Cycle(as_of)
        absent = absent_extracts(con)
        frames, summaries = [], []
        if not {"resources", "routings", "changeovers"} & absent:
            resources = _resources(con)
            routings = read_table(con, "select sku, resource_id, units_per_hour, setup_family from staging.stg_mes__routings")
            changeovers = read_table(con, "select resource_id, from_key, to_key, changeover_minutes as minutes "
                                          "from staging.stg_mes__changeovers")
            planned = planned_make_units(con, cycle)
            dues = read_table(con, "select sku, min(requested_date) as due, "
                                   "cast(date_trunc('week', requested_date) as date) as week_start "
                                   "from staging.stg_erp__sales_orders where status = 'open' group by all")
            oee_hist = read_table(con, "select resource_id, median(performance) as performance, median(quality) as quality "
                                       "from analytics.oee_weekly group by resource_id")
            last_setup = read_table(con, "select p.resource_id, arg_max(r.setup_family, p.planned_start) as setup "
                                         "from staging.stg_mes__production_orders p join staging.stg_mes__routings r "
                                         "on r.sku = p.sku and r.resource_id = p.resource_id "
                                         "where p.planned_start < ? group by p.resource_id", [cycle.week1_start])
            weeks = cycle.horizon()
            downtime = _downtime(con) if "downtime" not in absent else None
            cap = capacity.weekly_capacity(resources, pd.DataFrame(columns=["sku", "week_start", "units"]),
                                           routings, weeks, downtime=downtime)
            for res in resources[resources.is_constraint.astype(bool) & (resources.type == "machine")].itertuples():
                setup = last_setup.set_index("resource_id").setup.get(res.resource_id)
                perf = oee_hist.set_index("resource_id").reindex([res.resource_id]).fillna(1.0).iloc[0]
                r = routings[routings.resource_id == res.resource_id]
                for week in weeks:
                    wk = pd.Timestamp(week)
                    jobs = planned[pd.to_datetime(planned.week_start) == wk].merge(r, on="sku")
                    jobs = jobs[jobs.units > 0]
                    if jobs.empty:
                        continue
                    due = dues[pd.to_datetime(dues.week_start) == wk].set_index("sku").due
                    jobs = pd.DataFrame({
                        "job_id": [f"{res.resource_id}-{week:%Y%m%d}-{s}" for s in jobs.sku], "sku": jobs.sku,
                        "setup_key": jobs.setup_family, "qty": jobs.units, "run_hours": jobs.units / jobs.units_per_hour,
                        "due": [pd.Timestamp(due.get(s, wk + pd.Timedelta(days=4, hours=23))) for s in jobs.sku]})
                    hours = float(cap[(cap.resource_id == res.resource_id)
                                      & (pd.to_datetime(cap.week_start) == wk)].available_hours.sum())
                    result = sequencing.sequence_week(
                        jobs, changeovers[changeovers.resource_id == res.resource_id], wk, hours, setup,
                        performance=float(perf.performance), quality=float(perf.quality), time_limit_s=2.0, seed=0)
                    frames.append(result.jobs.assign(resource_id=res.resource_id, week_start=wk))
                    summaries.append({"resource_id": res.resource_id, "week_start": wk, **result.summary})
                    setup = result.jobs.setup_key.iloc[-1]
        seq = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["resource_id", "week_start", "position", "sku", "qty", "start", "end", "changeover_minutes",
                     "due", "late"])
        summary = pd.DataFrame(summaries) if summaries else pd.DataFrame(
            columns=["resource_id", "week_start", "changeover_hours_fifo", "changeover_hours_optimized",
                     "oee_fifo", "oee_optimized", "late_orders_optimized", "late_orders_fifo"])
        meta = write_table(con, "production_sequence", seq)
        meta_sum = write_table(con, "sequence_summary", summary)
    saved = float(summary.changeover_hours_fifo.sum() - summary.changeover_hours_optimized.sum()) if len(summary) else 0.0
    yield dg.MaterializeResult(asset_key=OUT("production_sequence"), metadata=meta)
    yield dg.MaterializeResult(asset_key=OUT("sequence_summary"), metadata={
        **meta_sum, "changeover_hours_saved_13w": round(saved, 1),
        "note": "no resources/routings/changeovers: no sequence" if not summaries else ""})


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
        dg.AssetSpec(OUT("capacity"), deps=[FORECAST, OUT("sequence_summary"), STG("stg_mes__resources"),
                                            STG("stg_mes__routings"), STG("stg_mes__downtime"), INGEST_LOG], **COMMON,
                     description="Weekly capacity by resource for the 13-week horizon: available hours = calendar "
                                 "hours - planned downtime, x historical availability (1 - unplanned downtime "
                                 "share of the last 26 weeks); required = make volume / units per hour (routings) "
                                 "+ changeover hours of the optimized sequence; load % and the bottleneck. A "
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
            co = read_table(con, "select resource_id, week_start, changeover_hours_optimized as changeover_hours "
                                 "from analytics.sequence_summary")
            cap = capacity.weekly_capacity(resources, planned_make_units(con, cycle), routings, cycle.horizon(),
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


ASSETS = [oee_assets, sequence_assets, capacity_assets]
