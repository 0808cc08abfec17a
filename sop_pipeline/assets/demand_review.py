"""Demand review: planners' overrides of the consensus and forecast consumption by booked orders.

A DataFrame function around `analytics.overrides` and `analytics.consumption`, between the demand
assets and the plan of record:

    demand_forecast + demand_consensus + demand_sensing  -> consensus before overrides
        (`plan_inputs.consensus_demand`: consensus units else p50, + the sensing delta)
    + stg_sop__forecast_overrides (approved, lower level first)  -> demand_override_waterfall
    + stg_erp__sales_orders / stg_erp__shipments (open lines)     -> demand_consumption
        (forecast, booked, consumed, remaining, planned demand = remaining + booked)
    -> plan_of_record reads analytics.demand_consumption as its demand

Inputs come in through the warehouse IO manager; `analytics.demand_override_waterfall`,
`analytics.forecast_override_log` and `analytics.demand_consumption` are returned and published by
the dbt marts `demand_override_waterfall`, `forecast_overrides` and `forecast_consumption`. The
consumption window is the `ConsumptionConfig` run config (days backward / forward; defaults
`analytics.consumption.DEFAULT_BACKWARD_DAYS` / `DEFAULT_FORWARD_DAYS`). The blocking checks guard the
arithmetic: the waterfall adds up, consumption keeps its identities, and (`demand_plan_controls`,
after the plan) the plan of record's demand is the consumption's planned demand.
"""

import dagster as dg
import numpy as np
import pandas as pd

from sop_pipeline.analytics import (
    consumption as consumption_lib,
    fva as fva_lib,
    overrides as overrides_lib,
    plan_inputs,
    scenario as scenario_lib,
)
from sop_pipeline.analytics.calendar import Cycle
from sop_pipeline.analytics.lifecycle import running_out
from sop_pipeline.analytics.demand_inputs import typed
from sop_pipeline.assets.common import (
    absent_in,
    as_of_date,
    breaks_check,
    markdown_table,
    table_in,
    warehouse_asset,
)
from sop_pipeline.resources import WAREHOUSE_POOL, ScenarioConfig

GROUP = "demand"
WATERFALL = dg.AssetKey(["analytics", "demand_override_waterfall"])
OVERRIDE_LOG = dg.AssetKey(["analytics", "forecast_override_log"])
CONSUMPTION = dg.AssetKey(["analytics", "demand_consumption"])
CONTROLS = dg.AssetKey(["analytics", "demand_plan_controls"])
FVA = dg.AssetKey(["analytics", "forecast_value_added"])
OUT = warehouse_asset(GROUP)

INPUT_TABLES = {
    "cycle": ("meta", "cycle"),
    "ingest_log": ("meta", "ingest_log"),
    "forecast": ("analytics", "demand_forecast"),
    "consensus": ("analytics", "demand_consensus"),
    "sensing": ("analytics", "demand_sensing"),
    "items": ("staging", "stg_erp__items"),
    "overrides": ("staging", "stg_sop__forecast_overrides"),
    "sales_orders": ("staging", "stg_erp__sales_orders"),
    "shipments": ("staging", "stg_erp__shipments"),
    "sales_weekly": ("intermediate", "int_sales_weekly"),
}
# staged override columns -> the extract's names (analytics.overrides.OVERRIDE_COLUMNS)
STAGED_OVERRIDES = {
    "override_level": "level",
    "override_key": "key",
    "override_mode": "mode",
    "override_value": "value",
    "is_approved": "approved",
}


class ConsumptionConfig(dg.Config):
    """Forecast-consumption window (run config of `analytics/demand_consumption`): an order consumes
    the forecast of its own week, then of weeks up to `backward_days` before its demand date, then up
    to `forward_days` after it (analytics.consumption)."""

    backward_days: int = consumption_lib.DEFAULT_BACKWARD_DAYS
    forward_days: int = consumption_lib.DEFAULT_FORWARD_DAYS


def this_cycles_overrides(overrides: pd.DataFrame, calendar: Cycle) -> pd.DataFrame:
    """The staged overrides in the extract's names, less those whose weeks all lie before horizon week 1:
    earlier cycles' overrides are history (forecast value added replays them at the backtest's
    origins), not this cycle's business, so they are neither applied, logged nor decision-logged."""
    staged = overrides.rename(columns=STAGED_OVERRIDES)
    week_to = pd.to_datetime(staged["week_to"], errors="coerce")
    past = week_to.notna() & (week_to < pd.Timestamp(calendar.week1_start))
    return staged[~past.to_numpy()].reset_index(drop=True)


def _demand_source(base_source: pd.Series, override_ids: pd.Series, changed: pd.Series) -> pd.Series:
    return (
        base_source.astype(str)
        + np.where(override_ids.astype(str) != "", "+override", "")
        + np.where(changed.to_numpy(), "+orders", "")
    )


@dg.multi_asset(
    name="demand_review",
    outs={
        "demand_override_waterfall": dg.AssetOut(
            key=WATERFALL,
            **OUT,
            description="Statistical forecast, consensus before overrides, override delta and consensus per "
            "SKU x horizon week, with the override that set the week (approved overrides, lower level first, "
            "family/total ones spread to SKUs by their profile).",
        ),
        "forecast_override_log": dg.AssetOut(
            key=OVERRIDE_LOG,
            **OUT,
            description="Every override of the forecast_overrides extract with its status (applied, "
            "superseded, not approved, not applied: why), the SKU-weeks it set and its units before/after.",
        ),
        "demand_consumption": dg.AssetOut(
            key=CONSUMPTION,
            **OUT,
            description="Forecast consumption per SKU x horizon week: forecast (consensus after overrides), "
            "booked open order units, consumed, remaining and planned demand = remaining + booked (what the "
            "plan of record plans).",
        ),
    },
    ins={name: table_in(*key) for name, key in INPUT_TABLES.items()},
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "override_waterfall_adds_up",
            asset=WATERFALL,
            blocking=True,
            description="Blocking. Every SKU-week: consensus = consensus before overrides + override delta, >= 0, "
            "changed only by an applied override; each applied override's units equal the weeks it set. A "
            "failure names the SKU and week.",
        ),
        dg.AssetCheckSpec(
            "consumption_identities",
            asset=CONSUMPTION,
            blocking=True,
            description="Blocking. Every SKU-week: consumed <= forecast, remaining + consumed = forecast, planned "
            "demand = remaining + booked (>= booked), the week's bookings that found forecast <= booked; per SKU "
            "consumed over the horizon = bookings that found forecast <= booked; the forecast is the override "
            "waterfall's consensus. A failure names the SKU and week.",
        ),
    ],
)
def demand_review(
    config: ConsumptionConfig,
    scenario: ScenarioConfig,
    cycle: pd.DataFrame,
    ingest_log: pd.DataFrame,
    forecast: pd.DataFrame,
    consensus: pd.DataFrame,
    sensing: pd.DataFrame,
    items: pd.DataFrame,
    overrides: pd.DataFrame,
    sales_orders: pd.DataFrame,
    shipments: pd.DataFrame,
    sales_weekly: pd.DataFrame,
):
    as_of = as_of_date(cycle)
    calendar = Cycle(as_of)
    absent = absent_in(ingest_log)
    base = plan_inputs.consensus_demand(forecast, consensus, sensing, calendar.horizon_weeks)
    base = scenario_lib.apply_demand(base, items.drop_duplicates("sku").set_index("sku")["family"], scenario.spec())
    p50 = forecast[["sku", "week_start", "units_p50"]].rename(columns={"units_p50": "statistical_units"})
    base = base.merge(p50, on=["sku", "week_start"], how="left").rename(columns={"demand_units": "base_units"})
    families = items.drop_duplicates("sku").set_index("sku")["family"]
    staged = None if "forecast_overrides" in absent else this_cycles_overrides(overrides, calendar)
    history = sales_weekly[["sku", "week_start", "units"]]
    retiring = items.sku[running_out(items.lifecycle)] if "lifecycle" in items else ()
    result = overrides_lib.apply_overrides(base, staged, families, history=history, run_out=retiring)

    wf = result.waterfall
    wf.insert(0, "cycle_id", as_of)
    wf = typed(
        wf,
        floats=("statistical_units", "base_units", "override_delta_units", "consensus_units"),
        dates=("week_start",),
        texts=("override_ids", "override_level"),
    )
    log = result.log.copy()
    log.insert(0, "cycle_id", as_of)
    log = typed(
        log,
        floats=("value", "base_units", "override_units", "delta_units"),
        ints=("sku_weeks", "weeks"),
        bools=("approved",),
        dates=("week_from", "week_to", "created_at"),
        texts=("override_id", "level", "key", "mode", "profile", "reason", "author", "status", "note"),
    )

    orders = (
        consumption_lib.booked_orders(sales_orders, None if "shipments" in absent else shipments)
        if "sales_orders" not in absent
        else pd.DataFrame(columns=["order_id", "line", "sku", "demand_date", "open_units"])
    )
    fc = wf[["sku", "week_start", "horizon_week", "consensus_units"]].rename(
        columns={"consensus_units": "forecast_units"}
    )
    cons = consumption_lib.consume(fc, orders, config.backward_days, config.forward_days)
    keyed = base.set_index(["sku", "week_start"])
    idx = pd.MultiIndex.from_arrays([cons.sku, pd.to_datetime(cons.week_start)])
    cons.insert(1, "family", cons.sku.map(families).to_numpy())
    cons["override_ids"] = wf["override_ids"].to_numpy()
    changed = cons.planned_demand_units != cons.forecast_units
    cons["demand_source"] = _demand_source(
        keyed["demand_source"].reindex(idx).reset_index(drop=True), cons["override_ids"], changed
    )
    cons["selling_price"] = keyed["selling_price"].reindex(idx).to_numpy()
    cons["backward_days"] = config.backward_days
    cons["forward_days"] = config.forward_days
    cons.insert(0, "cycle_id", as_of)
    cons = typed(cons, dates=("week_start",), texts=("override_ids", "demand_source"))

    wf_breaks = overrides_lib.waterfall_breaks(wf, log)
    cons_breaks = consumption_lib.consumption_breaks(cons)
    mismatch = (cons.forecast_units.to_numpy() - wf.consensus_units.to_numpy()) != 0
    cons_breaks += [
        f"{r.sku} {pd.Timestamp(r.week_start).date()}: forecast != consensus" for r in cons[mismatch].itertuples()
    ]
    applied = log[log.status == "applied"]
    yield dg.Output(
        wf,
        output_name="demand_override_waterfall",
        metadata={
            "sku_weeks_overridden": int((wf.override_ids != "").sum()),
            "override_delta_units": round(float(wf.override_delta_units.sum()), 1),
        },
    )
    yield dg.Output(
        log,
        output_name="forecast_override_log",
        metadata={
            "overrides": len(log),
            "applied": len(applied),
            "by_status": dg.MetadataValue.md(
                markdown_table(
                    log.groupby("status", as_index=False).override_id.count().rename(columns={"override_id": "n"})
                )
            ),
        },
    )
    yield dg.Output(
        cons,
        output_name="demand_consumption",
        metadata={
            "window_days": f"{config.backward_days} backward, {config.forward_days} forward",
            "booked_units": round(float(cons.booked_units.sum()), 1),
            "consumed_units": round(float(cons.consumed_units.sum()), 1),
            "unconsumed_units": round(float(cons.unconsumed_units.sum()), 1),
            "sku_weeks_changed_by_orders": int(changed.sum()),
            "open_lines_past_due_or_outside": int(len(orders) - cons.booked_lines.sum()),
        },
    )
    yield breaks_check(
        "override_waterfall_adds_up",
        "override waterfall",
        "override waterfall adds up",
        wf_breaks,
        asset_key=WATERFALL,
        rows=len(wf),
    )
    yield breaks_check(
        "consumption_identities",
        "forecast consumption",
        "forecast consumption: every identity holds",
        cons_breaks,
        asset_key=CONSUMPTION,
        rows=len(cons),
    )


@dg.asset(
    key=CONTROLS,
    pool=WAREHOUSE_POOL,
    **OUT,
    ins={
        "plan": table_in("analytics", "plan_of_record"),
        "consumption": table_in(*CONSUMPTION.path),
        "decision_log": table_in("analytics", "decision_log"),
    },
    description="Control totals per family x horizon week: the forecast, booked and planned demand of "
    "demand_consumption next to the plan of record's demand (difference 0: the plan plans exactly "
    "remaining forecast + booked; approved substitutions only move demand between SKUs of a week).",
    check_specs=[
        dg.AssetCheckSpec(
            "plan_demand_is_consumption",
            asset=CONTROLS,
            blocking=True,
            description="Blocking. The plan of record's demand equals the consumption's planned demand "
            "(remaining forecast + booked) on every SKU-week no substitution moved, and every week in total. "
            "A failure names the SKU and week.",
        )
    ],
)
def demand_plan_controls(plan: pd.DataFrame, consumption: pd.DataFrame, decision_log: pd.DataFrame):
    on = ["sku", "week_start"]
    p = plan[[*on, "family", "demand_units", "decision_ids"]].assign(week_start=lambda d: pd.to_datetime(d.week_start))
    c = consumption[[*on, "forecast_units", "booked_units", "planned_demand_units"]].assign(
        week_start=lambda d: pd.to_datetime(d.week_start)
    )
    both = p.merge(c, on=on, how="outer", indicator="side")
    lone = both[both.side != "both"]
    breaks = [
        f"{sku} {pd.Timestamp(w).date()}: only in {'the plan' if side == 'left_only' else 'the consumption'}"
        for sku, w, side in zip(lone.sku, lone.week_start, lone.side)
    ]
    both = both[both.side == "both"]
    diff = (both.demand_units - both.planned_demand_units).abs() > 1e-6
    substitutions = set(decision_log.loc[decision_log.kind == "substitution", "decision_id"].astype(str))
    moved = both.decision_ids.fillna("").astype(str).map(lambda ids: bool(set(ids.split(",")) & substitutions))
    breaks += [
        f"{r.sku} {r.week_start.date()}: plan {r.demand_units:.3f} != planned {r.planned_demand_units:.3f}"
        for r in both[diff & ~moved].itertuples()
    ]
    weekly = both.groupby("week_start")[["demand_units", "planned_demand_units"]].sum()
    breaks += [
        f"week {w.date()}: plan {r.demand_units:.3f} != planned {r.planned_demand_units:.3f}"
        for w, r in weekly[
            (weekly.demand_units - weekly.planned_demand_units).abs() > 1e-6 * weekly.planned_demand_units.clip(lower=1)
        ].iterrows()
    ]
    controls = (
        both.groupby(["family", "week_start"], as_index=False)[
            ["forecast_units", "booked_units", "planned_demand_units", "demand_units"]
        ]
        .sum()
        .rename(columns={"demand_units": "plan_demand_units"})
    )
    controls["difference_units"] = controls.plan_demand_units - controls.planned_demand_units
    controls = typed(controls, dates=("week_start",))
    # Output + AssetCheckResult (not MaterializeResult(value=...): Dagster compares that value with a
    # sentinel, which an Arrow-backed text column of a frame read from the warehouse refuses)
    yield dg.Output(controls, metadata={"planned_demand_units": round(float(controls.planned_demand_units.sum()), 1)})
    yield breaks_check(
        "plan_demand_is_consumption",
        "plan demand vs consumption",
        "plan demand = remaining forecast + booked on every SKU-week",
        breaks,
    )


@dg.asset(
    key=FVA,
    pool=WAREHOUSE_POOL,
    **OUT,
    ins={
        "cycle": table_in("meta", "cycle"),
        "ingest_log": table_in("meta", "ingest_log"),
        "backtest": table_in("analytics", "demand_backtest"),
        "plan_history": table_in("history", "plan_of_record"),
        "overrides": table_in(*INPUT_TABLES["overrides"]),
        "items": table_in(*INPUT_TABLES["items"]),
        "sales_weekly": table_in(*INPUT_TABLES["sales_weekly"]),
    },
    description="Forecast value added per family (and All families) x lag bucket (1, 2-4, 5-8, 9-13) x step of "
    "the forecast process - seasonal naive, statistical (LightGBM), sales input (CRM), override (statistical + "
    "the approved overrides known at each backtest origin) and consensus (the plan of record of that cycle) - "
    "each step's WAPE and bias on the same SKU-weeks, and its FVA = WAPE of the step before - its own, in "
    "points. A step without history there is missing with the reason (analytics/fva.py).",
    check_specs=[
        dg.AssetCheckSpec(
            "fva_is_difference_of_errors",
            asset=FVA,
            blocking=True,
            description="Blocking. Every scored step's WAPE is finite and >= 0, every missing step has a reason "
            "and no WAPE, and each FVA equals the published WAPE of the step it is compared with minus its own "
            "(and FVA vs naive the naive WAPE minus its own). A failure names the family, lag bucket and step.",
        )
    ],
)
def forecast_value_added(
    cycle: pd.DataFrame,
    ingest_log: pd.DataFrame,
    backtest: pd.DataFrame,
    plan_history: pd.DataFrame,
    overrides: pd.DataFrame,
    items: pd.DataFrame,
    sales_weekly: pd.DataFrame,
):
    as_of = as_of_date(cycle)
    absent = absent_in(ingest_log)
    plans = plan_history[pd.to_datetime(plan_history.cycle_id) < pd.Timestamp(as_of)]
    staged = None if "forecast_overrides" in absent else overrides.rename(columns=STAGED_OVERRIDES)
    families = items.drop_duplicates("sku").set_index("sku")["family"].astype(str)
    steps = fva_lib.step_frame(
        backtest,
        plans[["cycle_id", "sku", "week_start", "demand_units"]],
        staged,
        families,
        history=sales_weekly[["sku", "week_start", "units"]],
    )
    table = fva_lib.forecast_value_added(steps)
    table.insert(0, "cycle_id", as_of)
    table = typed(
        table,
        floats=(
            "actual_units",
            "forecast_units",
            "abs_error_units",
            "wape_pct",
            "bias_pct",
            "fva_points",
            "fva_vs_naive_points",
        ),
        ints=("lag_from", "lag_to", "step_order", "sku_weeks", "origins"),
        dates=("cycle_id",),
        texts=("family", "lag_bucket", "step", "source", "status", "reason", "compared_with", "verdict"),
    )
    breaks = fva_lib.fva_breaks(table)
    overall = table[table.family == fva_lib.ALL_FAMILIES]
    destroyed = table[table.verdict == "destroyed"].sort_values("fva_points")
    yield dg.Output(
        table,
        metadata={
            "scored_steps": int((table.status == "scored").sum()),
            "missing_steps": int((table.status == "missing").sum()),
            "value_destroying_steps": len(destroyed),
            "override_rows_replayed": int(steps.override_changed.sum()),
            "consensus_rows": int(steps.consensus.notna().sum()),
            "all_families": dg.MetadataValue.md(
                markdown_table(overall[["lag_bucket", "step", "status", "wape_pct", "fva_points"]], 20)
            ),
        },
    )
    yield breaks_check(
        "fva_is_difference_of_errors",
        "forecast value added",
        "every FVA is the difference of the published errors; errors in [0, inf)",
        breaks,
        rows=len(table),
    )


ASSETS = [demand_review, demand_plan_controls, forecast_value_added]
