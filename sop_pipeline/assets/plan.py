"""The plan of record, the decision log, the promo substitution plan and the cycle history.

"Everything lands in one published plan of record. No side quests." Thin wrapper around
`analytics.plan`, `analytics.decisions` and `analytics.substitution`; outputs `analytics.*`
tables published by the dbt marts in `models/marts/plan/`. History tables (`history.*`) keep
one copy per cycle: re-running a cycle replaces that cycle only.
"""

import dagster as dg
import numpy as np
import pandas as pd

from sop_pipeline.analytics import decisions as decision_log_lib, plan as plan_lib
from sop_pipeline.analytics.calendar import Cycle
from sop_pipeline.analytics.substitution import substitution_plan
from sop_pipeline.assets.common import OWNERS, absent_extracts, cycle_as_of, markdown_table, read_table, write_table
from sop_pipeline.resources import WAREHOUSE_POOL, Warehouse

PLAN = dg.AssetKey(["analytics", "plan_of_record"])
DECISIONS = dg.AssetKey(["analytics", "decision_log"])
SUBSTITUTIONS = dg.AssetKey(["analytics", "substitution_plan"])
HISTORY = dg.AssetKey(["history", "plan_of_record"])
STG = lambda name: dg.AssetKey(["staging", name])  # noqa: E731
INPUTS = [dg.AssetKey(["analytics", n]) for n in ("demand_forecast", "demand_consensus", "demand_sensing",
                                                  "safety_stock", "abc_xyz", "safety_stock_curve", "capacity")] + \
    [STG(n) for n in ("stg_erp__items", "stg_sop__decisions", "stg_mes__resources", "stg_mes__routings",
                      "stg_mes__downtime", "stg_crm__promotions")] + \
    [dg.AssetKey(["intermediate", "int_inventory_snapshots"]), dg.AssetKey(["meta", "ingest_log"])]


def consensus_demand(con, cycle: Cycle) -> pd.DataFrame:
    """Units per SKU x horizon week: the consensus (sales input through the optimism filter) where
    there is one, else the statistical p50; weeks 1-6 get the sensing adjustment on top."""
    fc = read_table(con, "select sku, week_start, horizon_week, units_p50 from analytics.demand_forecast "
                         "where horizon_week between 1 and ?", [cycle.horizon_weeks])
    cons = read_table(con, "select sku, week_start, avg(consensus_units) as consensus_units "
                           "from analytics.demand_consensus group by sku, week_start")
    sensing = read_table(con, "select sku, week_start, sum(sensed_units - baseline_units) as sensing_delta "
                              "from analytics.demand_sensing group by sku, week_start")
    d = fc.merge(cons, on=["sku", "week_start"], how="left").merge(sensing, on=["sku", "week_start"], how="left")
    d["demand_units"] = (d.consensus_units.fillna(d.units_p50) + d.sensing_delta.fillna(0.0)).clip(lower=0.0)
    d["demand_source"] = np.where(d.consensus_units.notna(), "consensus", "statistical") + \
        np.where(d.sensing_delta.fillna(0) != 0, "+sensing", "")
    d["decision_ids"] = ""
    return d[["sku", "week_start", "horizon_week", "demand_units", "demand_source", "decision_ids"]]


def constraint_inputs(con, absent: set[str]):
    """(constraint id, units/hour per SKU on it, hours per week left for production) from the supply
    review's capacity table: available hours minus the optimized sequence's changeover hours.
    (None, empty, empty) when there is no resource data: then nothing is cut."""
    if {"resources", "routings"} & absent:
        return None, pd.Series(dtype=float), pd.Series(dtype=float)
    constraints = read_table(con, "select resource_id from staging.stg_mes__resources "
                                  "where is_constraint and resource_type = 'machine' order by resource_id")
    if constraints.empty:
        return None, pd.Series(dtype=float), pd.Series(dtype=float)
    cid = constraints.resource_id.iloc[0]
    rates = read_table(con, "select sku, units_per_hour from staging.stg_mes__routings where resource_id = ?", [cid])
    cap = read_table(con, "select week_start, greatest(available_hours - coalesce(changeover_hours, 0), 0) as hours "
                          "from analytics.capacity where resource_id = ?", [cid])
    return cid, rates.set_index("sku")["units_per_hour"], cap.set_index(pd.to_datetime(cap.week_start))["hours"]


def _previous_plan(con, cycle_id) -> pd.DataFrame | None:
    exists = read_table(con, "select count(*) as n from information_schema.tables where table_schema = 'history' "
                             "and table_name = 'plan_of_record'")["n"].iloc[0]
    if not exists:
        return None
    prev = read_table(con, "select max(cycle_id) as c from history.plan_of_record where cycle_id < ?", [cycle_id])
    if prev.c.isna().all():
        return None
    return read_table(con, "select sku, week_start, supply_units, demand_units, revenue, family, cycle_id "
                           "from history.plan_of_record where cycle_id = ?", [prev.c.iloc[0]])


def append_history(con, table: str, frame: pd.DataFrame, cycle_id) -> None:
    """Keep one copy per cycle in history.<table>: replace this cycle's rows only."""
    con.execute("create schema if not exists history")
    con.register("_history_rows", frame)
    try:
        con.execute(f"create table if not exists history.{table} as select * from _history_rows where false")
        con.execute(f"delete from history.{table} where cycle_id = ?", [cycle_id])
        con.execute(f"insert into history.{table} by name select * from _history_rows")
    finally:
        con.unregister("_history_rows")


def _proposals(con, plan: pd.DataFrame, subs: pd.DataFrame) -> pd.DataFrame:
    """Decisions the pipeline proposes this cycle (awaiting yes/no in the meeting)."""
    rows = [("substitution", f"{r.sku}->{r.substitute_sku}", f"{r.units:g} units from {r.available_from}",
             r.reason) for r in subs.itertuples() if r.substitute_sku]
    curve = read_table(con, "select family, service_level, is_current, is_proposed from analytics.safety_stock_curve "
                            "where family <> 'TOTAL'")
    current = curve[curve.is_current.astype(bool)].set_index("family").service_level
    for r in curve[curve.is_proposed.astype(bool)].itertuples():
        if r.family in current and abs(current[r.family] - r.service_level) >= 0.005:
            rows.append(("service_target", f"family:{r.family}", f"{r.service_level:g}",
                         f"cost-optimal point of the service-vs-inventory curve (today {current[r.family]:.3f})"))
    cut = plan[plan.cut_units >= 0.5].groupby("sku").cut_units.sum()
    for sku, units in cut.items():
        rows.append(("make_vs_buy", sku, "buy", f"{units:,.0f} units cannot be made in the horizon: buy them"))
    return pd.DataFrame(rows, columns=["kind", "subject", "value", "effect"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(PLAN, deps=INPUTS, group_name="plan", owners=OWNERS["plan"], kinds={"python", "duckdb"},
                     description="Plan of record, one row per SKU x horizon week: consensus demand (optimism "
                                 "filter, sensing, approved substitutions), capacity-feasible supply (never above "
                                 "the constraint's available hours: what did not fit is moved or cut), projected "
                                 "inventory, safety stock, service risk and the decisions that changed the row."),
        dg.AssetSpec(DECISIONS, deps=INPUTS, group_name="plan", owners=OWNERS["plan"], kinds={"python", "duckdb"},
                     description="Decision log with RACI: the decisions extract (approved/rejected) plus the "
                                 "pipeline's proposals for this meeting (status proposed), with each decision's "
                                 "effect on this cycle's plan."),
        dg.AssetSpec(SUBSTITUTIONS, deps=INPUTS, group_name="plan", owners=OWNERS["plan"],
                     kinds={"python", "duckdb"},
                     description="Promo substitution plan: substitutes for promo units the plan cannot supply in "
                                 "time, from the same family with stock above safety stock; proposals for Sales "
                                 "to approve before the email blast."),
        dg.AssetSpec(HISTORY, deps=INPUTS, group_name="plan", owners=OWNERS["plan"], kinds={"duckdb"},
                     description="Every cycle's plan of record (and decision log in history.decision_log), one "
                                 "copy per cycle: re-running a cycle replaces that cycle only."),
    ],
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec("capacity_respected", asset=PLAN, description=(
            "Constraint hours planned per week never exceed the available hours (frozen weeks, locked by an "
            "approved freeze window, excepted).")),
        dg.AssetCheckSpec("frozen_weeks_unchanged", asset=PLAN, description=(
            "Supply in the frozen weeks equals the previous cycle's plan.")),
        dg.AssetCheckSpec("family_rollup_reconciles", asset=PLAN, description=(
            "Units and revenue of the family roll-up equal the SKU plan.")),
    ],
)
def plan_of_record(context: dg.AssetExecutionContext, warehouse: Warehouse):
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        cycle = Cycle(as_of)
        absent = absent_extracts(con)
        items = read_table(con, "select sku, family, unit_price, unit_cost, make_or_buy, lifecycle "
                                "from staging.stg_erp__items")
        decisions = read_table(con, "select * from staging.stg_sop__decisions")
        decisions = decisions.rename(columns={"cycle_date": "cycle", "decision_value": "value"})
        if "decision_id" not in decisions or decisions.decision_id.isna().any():
            decisions["decision_id"] = [decision_log_lib.decision_id(c, k, s) for c, k, s in
                                        zip(decisions.cycle, decisions.kind, decisions.subject)]
        decisions = decisions[pd.to_datetime(decisions.cycle) <= pd.Timestamp(as_of)]

        demand = consensus_demand(con, cycle)
        demand, effects = plan_lib.apply_substitutions(demand, decisions)
        source, sourced_by, source_effects = plan_lib.sourcing(items, decisions)
        effects += source_effects
        weeks, freeze_id = plan_lib.freeze_weeks(decisions)
        previous = _previous_plan(con, as_of)
        cid, rates, hours = constraint_inputs(con, absent)
        inventory = read_table(con, "select sku, sum(available_units) as units from intermediate.int_inventory_snapshots "
                                    "where snapshot_date = (select max(snapshot_date) from "
                                    "intermediate.int_inventory_snapshots) group by sku")
        ss = read_table(con, "select sku, safety_stock_units from analytics.safety_stock where service_type='fill_rate'")
        abc = read_table(con, "select sku, abc from analytics.abc_xyz")
        margin_per_hour = (items.set_index("sku").unit_price - items.set_index("sku").unit_cost) * \
            rates.reindex(items.sku).fillna(0).to_numpy()
        priority = abc.set_index("sku").abc.map({"A": 0, "B": 1, "C": 2}).reindex(items.sku).fillna(3) * 1e9 \
            - margin_per_hour.fillna(0)
        plan = plan_lib.supply_plan(
            demand, items, opening_inventory=inventory.set_index("sku").units, safety_stock=ss.set_index("sku")
            .safety_stock_units, source=source, constraint_rate=rates, constraint_hours=hours, constraint_id=cid,
            priority=priority, frozen_supply=previous, frozen_weeks=weeks if previous is not None else 0)
        if freeze_id:
            effects.append(plan_lib.DecisionEffect(freeze_id, "freeze_window", (
                f"supply of weeks 1-{weeks} locked to the previous cycle's plan" if previous is not None else
                f"freeze of {weeks} weeks approved, but there is no previous cycle's plan to lock to yet")))
            if previous is not None:
                frozen = plan.horizon_week <= weeks
                plan.loc[frozen, "decision_ids"] = plan_lib._add_id(plan.loc[frozen, "decision_ids"], freeze_id)
        bought = plan.sku.isin(sourced_by)
        plan.loc[bought, "decision_ids"] = [
            (ids + "," if ids else "") + sourced_by[s] for ids, s in zip(plan.loc[bought, "decision_ids"],
                                                                         plan.loc[bought, "sku"])]
        for row in plan_lib._approved(decisions, "expedite").itertuples():
            effects.append(plan_lib.DecisionEffect(row.decision_id, "expedite",
                                                   f"expedite {row.subject}: {row.value} added to expedite cost"))
        plan.insert(0, "cycle_id", as_of)
        plan = plan.reindex(columns=["cycle_id", *plan_lib.PLAN_COLUMNS, "demand_source"])

        promos = None if "promotions" in absent else read_table(
            con, "select promo_id, sku, start_date, end_date from staging.stg_crm__promotions "
                 "where end_date >= ? and start_date <= ?", [cycle.week1_start, cycle.horizon_end])
        subs = substitution_plan(plan, promos, items)
        subs.insert(0, "cycle_id", as_of)
        log = decision_log_lib.decision_log(
            decisions, _proposals(con, plan, subs), {e.decision_id: e.effect for e in effects}, as_of)
        log.insert(0, "cycle_id", as_of)

        meta_plan = write_table(con, "plan_of_record", plan)
        meta_log = write_table(con, "decision_log", log)
        meta_subs = write_table(con, "substitution_plan", subs)
        append_history(con, "plan_of_record", plan, as_of)
        append_history(con, "decision_log", log, as_of)
        cycles_kept = int(read_table(con, "select count(distinct cycle_id) as n from history.plan_of_record").n.iloc[0])

    used = plan[plan.resource_id != ""].groupby("week_start").constraint_hours.sum()
    frozen_rows = plan.supply_source == "frozen"
    over = [wk for wk, h in used.items() if h > float(hours.get(pd.Timestamp(wk), np.inf)) + 1e-6
            and not frozen_rows[plan.week_start == wk].any()]
    frozen_ok = True
    if previous is not None and frozen_rows.any():
        chk = plan[frozen_rows].merge(previous, on=["sku", "week_start"], suffixes=("", "_prev"))
        frozen_ok = bool(np.allclose(chk.supply_units, chk.supply_units_prev))
    yield dg.MaterializeResult(asset_key=PLAN, metadata={
        **meta_plan, "cycle": str(as_of), "constraint": cid or "none (no resources/routings)",
        "demand_units_13w": round(float(plan.demand_units.sum()), 1),
        "revenue_13w": round(float(plan.revenue.sum()), 2), "cut_units": round(float(plan.cut_units.sum()), 1),
        "moved_units": round(float(plan.moved_out_units.sum()), 1),
        "frozen_weeks": weeks if previous is not None else 0,
        "by_family": dg.MetadataValue.md(markdown_table(
            plan.groupby("family", as_index=False)[["demand_units", "supply_units", "revenue", "cut_units"]].sum()))})
    yield dg.MaterializeResult(asset_key=DECISIONS, metadata={
        **meta_log, "proposed": int((log.status == "proposed").sum()),
        "awaiting": dg.MetadataValue.md(markdown_table(log[log.status == "proposed"][
            ["decision_id", "kind", "subject", "value", "responsible"]], 20))})
    yield dg.MaterializeResult(asset_key=SUBSTITUTIONS, metadata=meta_subs)
    yield dg.MaterializeResult(asset_key=HISTORY, metadata={"cycles": cycles_kept, "cycle": str(as_of)})
    yield dg.AssetCheckResult(asset_key=PLAN, check_name="capacity_respected", passed=not over,
                              metadata={"overloaded_weeks": ", ".join(map(str, over)) or "none"})
    yield dg.AssetCheckResult(asset_key=PLAN, check_name="frozen_weeks_unchanged", passed=frozen_ok)
    yield dg.AssetCheckResult(asset_key=PLAN, check_name="family_rollup_reconciles",
                              passed=plan_lib.plan_totals_reconcile(plan))


ASSETS = [plan_of_record]
