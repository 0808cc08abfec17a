"""The plan of record, the decision log, the promo substitution plan and the cycle history.

"Everything lands in one published plan of record. No side quests." Thin wrapper around
`analytics.plan`, `analytics.decisions` and `analytics.substitution`; outputs `analytics.*`
tables published by the dbt marts in `models/marts/plan/`. History tables (`history.*`) keep
one copy per cycle: re-running a cycle replaces that cycle only.
"""

import dagster as dg
import numpy as np
import pandas as pd

from sop_pipeline.analytics import decisions as decision_log_lib, mps, plan as plan_lib
from sop_pipeline.analytics.calendar import Cycle
from sop_pipeline.analytics.substitution import substitution_plan
from sop_pipeline.assets.common import (
    OWNERS,
    absent_extracts,
    append_history,
    cycle_as_of,
    cycle_decisions,
    markdown_table,
    read_table,
    write_table,
)
from sop_pipeline.resources import WAREHOUSE_POOL, Warehouse

PLAN = dg.AssetKey(["analytics", "plan_of_record"])
DECISIONS = dg.AssetKey(["analytics", "decision_log"])
SUBSTITUTIONS = dg.AssetKey(["analytics", "substitution_plan"])
HISTORY = dg.AssetKey(["history", "plan_of_record"])
STG = lambda name: dg.AssetKey(["staging", name])  # noqa: E731
INPUTS = [dg.AssetKey(["analytics", n]) for n in ("demand_forecast", "demand_consensus", "demand_sensing",
                                                  "safety_stock", "abc_xyz", "safety_stock_curve", "capacity")] + \
    [STG(n) for n in ("stg_erp__items", "stg_sop__decisions", "stg_mes__resources", "stg_mes__routings",
                      "stg_mes__downtime", "stg_crm__promotions", "stg_erp__purchase_orders", "stg_erp__receipts",
                      "stg_erp__expedites", "stg_mes__production_orders", "stg_sop__plan_history")] + \
    [dg.AssetKey(["intermediate", "int_usable_stock"]), dg.AssetKey(["meta", "ingest_log"])]


def consensus_demand(con, cycle: Cycle) -> pd.DataFrame:
    """Units per SKU x horizon week: the consensus (sales input through the optimism filter) where
    there is one, else the statistical p50; weeks 1-6 get the sensing adjustment on top. The
    selling price is the forecast's (its revenue / units: last non-promotion price, less the
    discount in promotion weeks), so forecast and plan revenue share one price basis."""
    fc = read_table(con, "select sku, week_start, horizon_week, units_p50, "
                         "revenue / nullif(units_p50, 0) as selling_price from analytics.demand_forecast "
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
    return d[["sku", "week_start", "horizon_week", "demand_units", "demand_source", "decision_ids", "selling_price"]]


def capacity_inputs(con, absent: set[str]) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """Routings on every critical resource of the supply review's capacity table (machines, labour
    pools, tooling), the hours each has left for production per week (available hours minus the
    optimized sequence's changeover hours) and the horizon's bottleneck (highest mean load).
    Empty frames when there is no resource data: then nothing is cut."""
    empty = (pd.DataFrame(columns=["sku", "resource_id", "units_per_hour"]),
             pd.DataFrame(columns=["resource_id", "week_start", "hours"]), None)
    if {"resources", "routings"} & absent:
        return empty
    hours = read_table(con, "select resource_id, cast(week_start as date) as week_start, "
                            "greatest(available_hours - coalesce(changeover_hours, 0), 0) as hours "
                            "from analytics.capacity")
    if hours.empty:
        return empty
    routings = read_table(con, "select sku, resource_id, units_per_hour from staging.stg_mes__routings "
                               "where resource_id in (select distinct resource_id from analytics.capacity)")
    bottleneck = read_table(con, "select resource_id from analytics.capacity group by resource_id "
                                 "order by avg(load_pct) desc, resource_id limit 1").resource_id
    return routings, hours, (bottleneck.iloc[0] if len(bottleneck) else None)


# A PO line promised more than this many days before the cycle and still not fully received is
# taken as closed short (suppliers rarely deliver a shortfall a month late), not as on order.
OPEN_ORDER_GRACE_DAYS = 28


def scheduled_receipts(con, cycle: Cycle, absent: set[str]) -> pd.DataFrame:
    """Open purchase-order lines (ordered - received > 0) as receipts at their promised week;
    overdue ones (promised within the grace period) in week 1. Columns sku, week_start, units,
    order_id (``PO_ID/LINE``)."""
    if {"purchase_orders", "receipts"} & absent:
        return pd.DataFrame(columns=["sku", "week_start", "units", "order_id"])
    return read_table(con, """
        with received as (
            select po_id, line, sum(qty) as qty from staging.stg_erp__receipts group by all)
        select po.sku, greatest(date_trunc('week', po.promised_date), cast(? as date)) as week_start,
               po.qty - coalesce(r.qty, 0) as units, po.po_id || '/' || po.line as order_id
        from staging.stg_erp__purchase_orders po left join received r using (po_id, line)
        where po.qty - coalesce(r.qty, 0) > 0
          and po.promised_date >= cast(? as date) - ?::integer
          and date_trunc('week', po.promised_date) <= cast(? as date)
        order by po.sku, week_start, order_id
    """, [cycle.week1_start, cycle.as_of, OPEN_ORDER_GRACE_DAYS, cycle.horizon_end])


def minimum_runs(con, absent: set[str]) -> pd.Series | None:
    """Minimum run per made SKU (analytics.mps.minimum_run_units: the 10th percentile of its
    production order sizes, else one hour at its slowest machine rate)."""
    if "routings" in absent:
        return None
    routings = read_table(con, "select sku, resource_id, units_per_hour from staging.stg_mes__routings")
    orders = None if "production_orders" in absent else read_table(
        con, "select sku, planned_qty, status from staging.stg_mes__production_orders")
    resources = None if "resources" in absent else read_table(
        con, "select resource_id, resource_type as type from staging.stg_mes__resources")
    return mps.minimum_run_units(routings, orders, resources=resources)


def _expedite_events(con, absent: set[str]) -> pd.DataFrame | None:
    if "expedites" in absent:
        return None
    return read_table(con, "select expedite_id, sku, order_id, expedite_date, cost from staging.stg_erp__expedites")


# --- plan_history extract -> history.plan_of_record (earlier cycles the pipeline did not write) ---

def seed_history_from_extract(con, as_of, absent: set[str]) -> list:
    """Copy each cycle of the optional plan_history extract (plans of record published before this
    pipeline kept history: the last meeting's plan, the previous tool's export) that is earlier
    than ``as_of`` and not yet in history.plan_of_record into it, so the freeze window and
    plan_changes work from the first run. A cycle history already holds is never overwritten (the
    pipeline's own copy wins). Weeks are taken to their ISO Monday; family defaults to the item
    master's. Returns the cycles added."""
    if "plan_history" in absent:
        return []
    rows = read_table(con, """
        select h.cycle_id, h.sku, coalesce(h.family, i.family) as family, h.iso_week_start as week_start,
               sum(h.demand_units) as demand_units, sum(h.supply_units) as supply_units, sum(h.revenue) as revenue
        from staging.stg_sop__plan_history h left join staging.stg_erp__items i using (sku)
        where h.cycle_id < ?
        group by all order by h.cycle_id, h.sku, week_start""", [as_of])
    if rows.empty:
        return []
    held = set()
    if read_table(con, "select count(*) as n from information_schema.tables where table_schema = 'history' "
                       "and table_name = 'plan_of_record'").n.iloc[0]:
        held = {pd.Timestamp(c) for c in read_table(con, "select distinct cycle_id from history.plan_of_record").cycle_id}
    added = []
    for cycle_id, frame in rows.groupby("cycle_id", sort=True):
        cycle_id = pd.Timestamp(cycle_id).date()
        if pd.Timestamp(cycle_id) in held:
            continue
        week1 = pd.Timestamp(Cycle(cycle_id).week1_start)
        frame = frame.assign(cycle_id=cycle_id, week_start=pd.to_datetime(frame.week_start))
        frame = frame.assign(horizon_week=((frame.week_start - week1).dt.days // 7 + 1).astype("int64"),
                             supply_source="history", decision_ids="", demand_source="plan_history extract",
                             notes="plan of record from the plan_history extract")
        append_history(con, "plan_of_record", frame.reset_index(drop=True), cycle_id)
        added.append(cycle_id)
    return added


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


def _proposals(con, plan: pd.DataFrame, subs: pd.DataFrame, receipts: pd.DataFrame,
               expedite_cost: float | None) -> pd.DataFrame:
    """Decisions the pipeline proposes this cycle (awaiting yes/no in the meeting)."""
    # one proposal per substitute pair: promotions of the same SKU are summed
    pairs = subs[subs.substitute_sku.fillna("").astype(str) != ""]
    pairs = pairs.groupby(["sku", "substitute_sku"], as_index=False, sort=True).agg(
        units=("units", "sum"), available_from=("available_from", "min"), promos=("promo_id", "nunique"),
        reason=("reason", "first"))
    rows = [("substitution", f"{r.sku}->{r.substitute_sku}", f"{r.units:g} units from {r.available_from}",
             r.reason + (f" ({r.promos} promotions)" if r.promos > 1 else "")) for r in pairs.itertuples()]
    curve = read_table(con, "select family, service_level, is_current, is_proposed, annual_saving "
                            "from analytics.safety_stock_curve where family <> 'TOTAL'")
    current = curve[curve.is_current.astype(bool)].set_index("family").service_level
    # is_proposed is set only where the least-cost point saves a material amount a year
    for r in curve[curve.is_proposed.fillna(False).astype(bool)].itertuples():
        if r.family in current:
            rows.append(("service_target", f"family:{r.family}", f"{r.service_level:g}",
                         f"least-cost point of the service-vs-inventory curve: saves {r.annual_saving:,.0f} a year "
                         f"of holding + shortage cost (today {current[r.family]:.3f})"))
    cut = plan[plan.cut_units >= 0.5].groupby("sku").cut_units.sum()
    for sku, units in cut.items():
        rows.append(("make_vs_buy", sku, "buy", f"{units:,.0f} units cannot be made in the horizon: buy them"))
    rows += _expedite_proposals(plan, receipts, expedite_cost)
    return pd.DataFrame(rows, columns=["kind", "subject", "value", "effect"])


def _expedite_proposals(plan: pd.DataFrame, receipts: pd.DataFrame, typical_cost: float | None) -> list[tuple]:
    """A bought SKU short inside its supplier lead time: propose expediting its next open order
    (or an expedited new order when none is open), dated the first short week."""
    short = plan[plan.notes.str.startswith("inside the supplier lead time") & (plan.service_risk == "stockout")]
    rows = []
    for sku, weeks in short.groupby("sku"):
        first = pd.Timestamp(weeks.week_start.min())
        units = float(-weeks.projected_inventory_units.min())
        later = receipts[(receipts.sku == sku) & (pd.to_datetime(receipts.week_start) > first)]
        subject = str(later.order_id.iloc[0]) if len(later) else f"sku:{sku}"
        cost = f"{typical_cost:.0f} by {first.date()}" if typical_cost else f"by {first.date()}"
        rows.append(("expedite", subject, cost,
                     f"{sku} runs {units:,.0f} units short inside the supplier lead time from the week of "
                     f"{first.date()}: expedite {'the open order' if len(later) else 'a new order'}"))
    return rows


@dg.multi_asset(
    specs=[
        dg.AssetSpec(PLAN, deps=INPUTS, group_name="plan", owners=OWNERS["plan"], kinds={"python", "duckdb"},
                     description="Plan of record, one row per SKU x horizon week: consensus demand (optimism "
                                 "filter, sensing, approved substitutions), capacity-feasible supply (never above "
                                 "the hours of any critical resource - machine, labour, tooling: what did not fit "
                                 "is moved or cut), open orders and expedites, bought SKUs within their supplier "
                                 "lead time, projected inventory, safety stock, service risk and the decisions that changed the row."),
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
    # Blocking: a plan that breaks any of these would publish numbers that contradict each other,
    # so the marts and the publish step downstream do not run (the previous cycle stays served).
    check_specs=[
        dg.AssetCheckSpec("capacity_respected", asset=PLAN, blocking=True, description=(
            "On every critical resource (machine, labour, tooling), the hours the plan needs per week never "
            "exceed the hours available (frozen weeks, locked by an approved freeze window, excepted).")),
        dg.AssetCheckSpec("frozen_weeks_unchanged", asset=PLAN, blocking=True, description=(
            "Supply in the frozen weeks equals the previous cycle's plan.")),
        dg.AssetCheckSpec("family_rollup_reconciles", asset=PLAN, blocking=True, description=(
            "Units and revenue of the family roll-up equal the SKU plan.")),
        dg.AssetCheckSpec("inventory_balance", asset=PLAN, blocking=True, description=(
            "Every SKU-week: projected = previous projected (week 1: usable stock) + supply + receipts - demand "
            "- expired. A failure names the SKU and week.")),
        dg.AssetCheckSpec("starting_stock_usable", asset=PLAN, blocking=True, description=(
            "Week-1 opening stock of every SKU is at most its usable stock (available, unexpired lots at the "
            "as-of). A failure names the SKU.")),
    ],
)
def plan_of_record(context: dg.AssetExecutionContext, warehouse: Warehouse):
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        cycle = Cycle(as_of)
        absent = absent_extracts(con)
        items = read_table(con, "select sku, family, unit_price, unit_cost, make_or_buy, lifecycle "
                                "from staging.stg_erp__items")
        decisions = cycle_decisions(con, as_of)

        demand = consensus_demand(con, cycle)
        demand, effects = plan_lib.apply_substitutions(demand, decisions)
        source, sourced_by, source_effects = plan_lib.sourcing(items, decisions)
        effects += source_effects
        weeks, freeze_id = plan_lib.freeze_weeks(decisions)
        seeded = seed_history_from_extract(con, as_of, absent)  # plan_history extract -> history
        previous = _previous_plan(con, as_of)
        routings, hours, bottleneck = capacity_inputs(con, absent)
        receipts = scheduled_receipts(con, cycle, absent)
        events = _expedite_events(con, absent)
        expedites = plan_lib.apply_expedites(decisions, receipts, events, cycle.horizon())
        effects += expedites.effects
        lead_times = read_table(con, "select sku, lead_time_mean_weeks from analytics.safety_stock "
                                     "where service_type = 'fill_rate'").set_index("sku").lead_time_mean_weeks
        # usable stock only: available, unexpired lots of the last snapshot on or before the as-of
        inventory = read_table(con, "select sku, sum(usable_units) as units from intermediate.int_usable_stock "
                                    "group by sku")
        expiring = read_table(con, "select sku, expiry_week_start as week_start, sum(expiring_in_horizon_units) "
                                   "as units from intermediate.int_usable_stock where expiring_in_horizon_units > 0 "
                                   "group by sku, expiry_week_start")
        ss = read_table(con, "select sku, safety_stock_units from analytics.safety_stock where service_type='fill_rate'")
        abc = read_table(con, "select sku, abc from analytics.abc_xyz")
        rates = routings[routings.resource_id == bottleneck].groupby("sku").units_per_hour.min()
        margin_per_hour = (items.set_index("sku").unit_price - items.set_index("sku").unit_cost) * \
            rates.reindex(items.sku).fillna(0).to_numpy()
        priority = abc.set_index("sku").abc.map({"A": 0, "B": 1, "C": 2}).reindex(items.sku).fillna(3) * 1e9 \
            - margin_per_hour.fillna(0)
        plan = plan_lib.supply_plan(
            demand, items, opening_inventory=inventory.set_index("sku").units, safety_stock=ss.set_index("sku")
            .safety_stock_units, source=source, routings=routings, resource_hours=hours,
            priority=priority, frozen_supply=previous, frozen_weeks=weeks if previous is not None else 0,
            receipts=expedites.receipts, lead_time_weeks=lead_times, lead_time_waived=expedites.lead_time_waived,
            expedite_costs=expedites.costs, expiring=expiring, min_lot_units=minimum_runs(con, absent))
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
        for row in expedites.costs.itertuples():
            hit = (plan.sku == row.sku) & (pd.to_datetime(plan.week_start) == pd.Timestamp(row.week_start))
            plan.loc[hit, "decision_ids"] = plan_lib._add_id(plan.loc[hit, "decision_ids"], row.decision_id)
        plan.insert(0, "cycle_id", as_of)
        plan = plan.reindex(columns=["cycle_id", *plan_lib.PLAN_COLUMNS, "demand_source"])

        promos = None if "promotions" in absent else read_table(
            con, "select promo_id, sku, start_date, end_date from staging.stg_crm__promotions "
                 "where end_date >= ? and start_date <= ?", [cycle.week1_start, cycle.horizon_end])
        subs = substitution_plan(plan, promos, items)
        subs.insert(0, "cycle_id", as_of)
        typical = None if events is None or events.empty else float(events.cost.median())
        log = decision_log_lib.decision_log(
            decisions, _proposals(con, plan, subs, expedites.receipts, typical),
            {e.decision_id: e.effect for e in effects}, as_of)
        log.insert(0, "cycle_id", as_of)

        meta_plan = write_table(con, "plan_of_record", plan)
        meta_log = write_table(con, "decision_log", log)
        meta_subs = write_table(con, "substitution_plan", subs)
        append_history(con, "plan_of_record", plan, as_of)
        append_history(con, "decision_log", log, as_of)
        cycles_kept = int(read_table(con, "select count(distinct cycle_id) as n from history.plan_of_record").n.iloc[0])

    load = plan_lib.resource_load(plan, routings, hours)
    frozen_rows = plan.supply_source == "frozen"
    frozen_weeks_set = set(pd.to_datetime(plan.loc[frozen_rows, "week_start"]))
    over_rows = load[(load.planned_hours > load.available_hours + 1e-6) & ~load.week_start.isin(frozen_weeks_set)]
    over = [f"{r.resource_id} {r.week_start.date()}" for r in over_rows.itertuples()]
    frozen_ok = True
    if previous is not None and frozen_rows.any():
        chk = plan[frozen_rows].merge(previous, on=["sku", "week_start"], suffixes=("", "_prev"))
        frozen_ok = bool(np.allclose(chk.supply_units, chk.supply_units_prev))
    yield dg.MaterializeResult(asset_key=PLAN, metadata={
        **meta_plan, "cycle": str(as_of), "bottleneck": bottleneck or "none (no resources/routings)",
        "planned_load_pct_max": dg.MetadataValue.md(markdown_table(
            load.groupby("resource_id", as_index=False).agg(max_load_pct=("load_pct", "max"),
                                                            planned_hours=("planned_hours", "sum"),
                                                            available_hours=("available_hours", "sum")).round(1))),
        "demand_units_13w": round(float(plan.demand_units.sum()), 1),
        "revenue_13w": round(float(plan.revenue.sum()), 2), "cut_units": round(float(plan.cut_units.sum()), 1),
        "open_order_receipts_units": round(float(plan.receipts_units.sum()), 1),
        "expedite_cost": round(float(plan.expedite_cost.sum()), 2),
        "short_inside_lead_time_skus": int(plan[plan.notes.str.startswith("inside the supplier lead time")].sku.nunique()),
        "moved_units": round(float(plan.moved_out_units.sum()), 1),
        "frozen_weeks": weeks if previous is not None else 0,
        "by_family": dg.MetadataValue.md(markdown_table(
            plan.groupby("family", as_index=False)[["demand_units", "supply_units", "revenue", "cut_units"]].sum()))})
    yield dg.MaterializeResult(asset_key=DECISIONS, metadata={
        **meta_log, "proposed": int((log.status == "proposed").sum()),
        "awaiting": dg.MetadataValue.md(markdown_table(log[log.status == "proposed"][
            ["decision_id", "kind", "subject", "value", "responsible"]], 20))})
    yield dg.MaterializeResult(asset_key=SUBSTITUTIONS, metadata=meta_subs)
    yield dg.MaterializeResult(asset_key=HISTORY, metadata={"cycles": cycles_kept, "cycle": str(as_of),
                                                            "seeded_from_plan_history": ", ".join(map(str, seeded))
                                                            or "none"})
    usable = inventory.set_index("sku").units
    balance = plan_lib.balance_breaks(plan, usable)
    start = plan_lib.start_stock_breaks(plan, usable)
    yield dg.AssetCheckResult(asset_key=PLAN, check_name="capacity_respected", passed=not over,
                              description="capacity: holds every week" if not over else
                              f"capacity: {len(over)} resource-week(s) over their hours: {', '.join(over[:5])}",
                              metadata={"overloaded_weeks": ", ".join(map(str, over)) or "none"})
    yield dg.AssetCheckResult(asset_key=PLAN, check_name="inventory_balance", passed=balance.empty,
                              description=plan_lib.describe_breaks(balance, "inventory balance"),
                              metadata={"rows_breaking": len(balance), "rows": len(plan)})
    yield dg.AssetCheckResult(asset_key=PLAN, check_name="starting_stock_usable", passed=start.empty,
                              description=plan_lib.describe_breaks(start, "week-1 stock <= usable stock"),
                              metadata={"skus_breaking": len(start), "usable_units": float(usable.sum()),
                                        "expired_in_horizon_units": round(float(plan.expired_units.sum()), 1)})
    yield dg.AssetCheckResult(asset_key=PLAN, check_name="frozen_weeks_unchanged", passed=frozen_ok)
    yield dg.AssetCheckResult(asset_key=PLAN, check_name="family_rollup_reconciles",
                              passed=plan_lib.plan_totals_reconcile(plan))


ASSETS = [plan_of_record]
