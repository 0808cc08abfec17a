"""Demand intelligence: cleansed history, 13-week forecast, sensing, bias, flags, backtest.

DataFrame functions around `analytics.outliers`, `forecasting`, `sensing`, `bias`, `backtest` and
`demand_inputs`: inputs are dbt models (`intermediate/int_demand_weekly`, `int_pos_week0`,
`int_pos_family_daily`, staging) and analytics tables loaded by the warehouse IO manager; outputs
are returned and stored as `analytics.<table>`, published by the dbt marts in
`models/marts/demand/` (datapack_demand_forecast, demand_flags, forecast_accuracy, ...). The
forecast snapshots (`analytics.forecast_history`, one copy per cycle) are an output whose cycle's
rows the IO manager replaces (`warehouse_asset(..., history=...)`). Flow:

    int_demand_weekly -> demand_outliers (history_clean, outliers + hockey sticks)
        -> demand_forecast (+ forecast_location, forecast_history) -> demand_sensing
        -> demand_bias (+ consensus);
    int_demand_weekly -> demand_backtest (+ forecast_method_selection, forecast_calibration)
        -> demand_forecast (each series' chosen method, calibrated p10/p90)
"""

import time

import dagster as dg
import numpy as np
import pandas as pd

from sop_pipeline.analytics import backtest as bt
from sop_pipeline.analytics import bias, forecasting, methods, outliers, sensing, sensing_model
from sop_pipeline.analytics import demand_inputs as inputs
from sop_pipeline.analytics.calendar import Cycle
from sop_pipeline.analytics.checks import describe_forecast_breaks, forecast_horizon_breaks, forecast_value_breaks
from sop_pipeline.assets import fanout
from sop_pipeline.assets.common import (  # noqa: F401  (_append_history: tests)
    HISTORY_KEY,
    OWNERS,
    WAREHOUSE_IO,
    absent_in,
    breaks_check,
    append_forecast_history as _append_history,
    as_of_date,
    forecast_history_frame,
    markdown_table,
    table_in,
    warehouse_asset,
)
from sop_pipeline.history import previous_cycle_rows
from sop_pipeline.resources import WAREHOUSE_POOL, Warehouse

GROUP = "demand"
DEMAND_WEEKLY = dg.AssetKey(["intermediate", "int_demand_weekly"])
POS_WEEK0 = dg.AssetKey(["intermediate", "int_pos_week0"])
POS_FAMILY_DAILY = dg.AssetKey(["intermediate", "int_pos_family_daily"])
CYCLE = dg.AssetKey(["meta", "cycle"])
INGEST_LOG = dg.AssetKey(["meta", "ingest_log"])


def _stg(name: str) -> dg.AssetKey:
    return dg.AssetKey(["staging", name])


def _out(name: str) -> dg.AssetKey:
    return dg.AssetKey(["analytics", name])


ITEMS, POS, ORDERS = _stg("stg_erp__items"), _stg("stg_pos__pos_sales"), _stg("stg_erp__sales_orders")
PROMOS, SALES_FC, OPPS = _stg("stg_crm__promotions"), _stg("stg_crm__sales_forecast"), _stg("stg_crm__opportunities")

HISTORY_CLEAN, OUTLIERS = _out("demand_history_clean"), _out("demand_outliers")
FORECAST, FORECAST_LOCATION, FORECAST_HISTORY = (
    _out("demand_forecast"),
    _out("demand_forecast_location"),
    _out("forecast_history"),
)
SENSING, BIAS, CONSENSUS, BACKTEST = (
    _out("demand_sensing"),
    _out("demand_bias"),
    _out("demand_consensus"),
    _out("demand_backtest"),
)
SELECTION, CALIBRATION = _out("forecast_method_selection"), _out("forecast_calibration")
SELECTION_HISTORY = ("history", "forecast_method_selection")  # each cycle's selection (the incumbent defaults)
OUT = warehouse_asset(GROUP)
# an output of a graph-backed asset: the group is the graph's, the IO manager the combine op's output's
GRAPH_OUT = {"owners": OWNERS[GROUP], "kinds": {"python", "duckdb"}}


def _ins(*names: str) -> dict[str, dg.AssetIn]:
    """Asset inputs by parameter name, each a whole warehouse table (the asset key [schema, table])."""
    keys = {
        "cycle": CYCLE,
        "ingest_log": INGEST_LOG,
        "demand_weekly": DEMAND_WEEKLY,
        "items": ITEMS,
        "promotions": PROMOS,
        "sales_orders": ORDERS,
        "sales_forecast": SALES_FC,
        "opportunities": OPPS,
        "pos_week0": POS_WEEK0,
        "pos_family_daily": POS_FAMILY_DAILY,
        "history_clean": HISTORY_CLEAN,
        "flags": OUTLIERS,
        "forecast": FORECAST,
        "forecast_location": FORECAST_LOCATION,
        "selection": SELECTION,
        "calibration": CALIBRATION,
        "backtest": BACKTEST,
    }
    return {name: table_in(*keys[name].path) for name in names}


def _pct(x: float) -> float:
    return round(100 * float(x), 1) if np.isfinite(x) else float("nan")


# --------------------------------------------------------------------------- outliers + cleansing


@dg.multi_asset(
    name="demand_outliers",
    outs={
        "demand_history_clean": dg.AssetOut(
            key=HISTORY_CLEAN,
            **OUT,
            description=(
                "Weekly demand history ready for training: int_demand_weekly plus units_clean (outlier weeks "
                "replaced by their expected value, censored stock-out weeks missing), is_outlier, is_censored."
            ),
        ),
        "demand_outliers": dg.AssetOut(
            key=OUTLIERS,
            **OUT,
            description=(
                "Flags with a reason a planner understands: kind 'outlier' (store-demand spikes vs the rolling "
                "median of regular weeks, MAD threshold, promo- and stock-out-aware) and kind 'hockey_stick' "
                "(forecast snapshots whose later weeks step far above the recent run-rate with no promotion, "
                "booked orders or CRM opportunity behind them)."
            ),
        ),
    },
    ins=_ins("ingest_log", "demand_weekly", "items", "sales_forecast", "promotions", "sales_orders", "opportunities"),
    internal_asset_deps={
        "demand_history_clean": {DEMAND_WEEKLY, INGEST_LOG},
        "demand_outliers": {DEMAND_WEEKLY, SALES_FC, PROMOS, ORDERS, OPPS, ITEMS, INGEST_LOG},
    },
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "outliers_are_rare",
            asset=OUTLIERS,
            blocking=False,
            description=(
                "Warning only (not blocking): under 2% of SKU-weeks are flagged as outliers; more means the thresholds "
                "treat ordinary variation as pollution and training would lose real demand. The cycle still runs and "
                "publishes; look at the flags before the meeting."
            ),
        )
    ],
)
def demand_outliers(
    ingest_log: pd.DataFrame,
    demand_weekly: pd.DataFrame,
    items: pd.DataFrame,
    sales_forecast: pd.DataFrame,
    promotions: pd.DataFrame,
    sales_orders: pd.DataFrame,
    opportunities: pd.DataFrame,
):
    """Outlier and hockey-stick detection; cleansed history for the forecast."""
    absent = absent_in(ingest_log)
    history = inputs.weekly_history(demand_weekly)
    fanout.let_go(demand_weekly)  # a sorted copy is all the step reads (at large 4.4M rows held twice otherwise)
    flags = inputs.note_promotions_absent(outliers.detect_history_outliers(history), absent)
    clean = outliers.cleanse_history(history, flags)
    sales_fc = inputs.staged(sales_forecast, "sales_forecast", absent, inputs.SALES_FORECAST_COLUMNS)
    hockey = outliers.detect_hockey_sticks(
        sales_fc,
        inputs.actuals(history),
        inputs.staged(promotions, "promotions", absent, inputs.PROMOTION_COLUMNS),
        inputs.staged(sales_orders, "sales_orders", absent, inputs.ORDER_COLUMNS),
        inputs.staged(opportunities, "opportunities", absent),
        items[["sku", "family"]],
    )
    table = inputs.flag_table(flags, hockey, inputs.latest_snapshots(sales_fc))
    share = inputs.outlier_share(flags, history)
    missing = ", ".join(sorted({"sales_forecast", "promotions", "sales_orders", "opportunities"} & absent)) or "none"
    yield dg.Output(
        clean,
        output_name="demand_history_clean",
        metadata={"outlier_rows_cleansed": int(clean.is_outlier.sum()), "censored_rows": int(clean.is_censored.sum())},
    )
    yield dg.Output(
        table,
        output_name="demand_outliers",
        metadata={
            "outliers": len(flags),
            "hockey_sticks": len(hockey),
            "hockey_sticks_in_latest_snapshot": int(
                table.loc[table.kind == "hockey_stick", "is_latest_snapshot"].sum()
            ),
            "missing_inputs": missing,
            "flags": dg.MetadataValue.md(markdown_table(table[["kind", "sku", "week_start", "value", "expected"]], 15)),
        },
    )
    yield dg.AssetCheckResult(
        asset_key=OUTLIERS,
        check_name="outliers_are_rare",
        passed=bool(share < inputs.OUTLIER_SHARE_LIMIT),
        metadata={"outlier_share_of_sku_weeks_pct": _pct(share)},
    )


# --------------------------------------------------------------------------- forecast


FORECAST_CHECKS = [
    dg.AssetCheckSpec(
        "non_negative_and_finite",
        asset=FORECAST,
        blocking=True,
        description=(
            "Blocking. Every units_p10/p50/p90 and revenue is finite (not NaN, not infinite) and >= 0, with "
            "p10 <= p50 <= p90, per SKU-week (demand_forecast) and per SKU x location-week "
            "(demand_forecast_location). A failure names the SKU (and location), the week and the value: "
            "the data pack would show impossible demand."
        ),
    ),
    dg.AssetCheckSpec(
        "thirteen_weeks_per_sku",
        asset=FORECAST,
        blocking=True,
        description=(
            "Blocking. One row per SKU-week (and per SKU x location-week) for every horizon week 1..13 from "
            "the cycle's week 1: no gap, no duplicate, no week outside the horizon, horizon_week matching the "
            "week. A failure names the SKU (and location) and the week."
        ),
    ),
    dg.AssetCheckSpec(
        "sku_is_sum_of_locations",
        asset=FORECAST,
        blocking=True,
        description=(
            "Blocking. Each SKU-week's units_p50 and revenue equal the sum over its locations in "
            "demand_forecast_location (whatever method each location's series uses), so the plan and the "
            "location view never disagree. A failure names the SKU, the week and both numbers."
        ),
    ),
]
FORECAST_CHECK_OUTS = {spec.get_python_identifier(): dg.Out(dg.Nothing) for spec in FORECAST_CHECKS}


@dg.op(
    ins=fanout.warehouse_ins("cycle", "ingest_log", "history_clean", "promotions", "selection", "calibration"),
    out={"parts": dg.DynamicOut(io_manager_key=fanout.FANOUT_IO), "shared": dg.Out(io_manager_key=fanout.FANOUT_IO)},
    pool=WAREHOUSE_POOL,
)
def forecast__split(
    context: dg.OpExecutionContext,
    cycle: pd.DataFrame,
    ingest_log: pd.DataFrame,
    history_clean: pd.DataFrame,
    promotions: pd.DataFrame,
    selection: pd.DataFrame,
    calibration: pd.DataFrame,
):
    """The panel of the cleansed history and the global model fitted on every series
    (`forecasting.prepare`), then one part per product family (or one for all, `fanout.parts_per_family`)."""
    as_of = as_of_date(cycle)
    absent = absent_in(ingest_log)
    cal = calibration[methods.CALIBRATION_COLUMNS] if len(calibration) else None
    panel, model = forecasting.prepare(
        history_clean, as_of, inputs.staged(promotions, "promotions", absent, inputs.PROMOTION_COLUMNS)
    )
    fanout.let_go(history_clean)  # the panel holds what the forecast reads
    common = dict(
        model=model,
        as_of=as_of,
        selection=selection[["sku", "location", "method"]] if len(selection) else None,
        calibration=methods.Calibration(cal) if cal is not None else None,
    )
    families = forecasting.family_rows(panel) if fanout.parts_per_family(context) else []
    yield from fanout.family_parts(
        families,
        lambda n, rows: dict(common, order=n, rows=rows, panel=panel.subset(rows)),
        dict(common, order=0, rows=np.arange(panel.n_series), panel=panel),
    )
    yield dg.Output(dict(model=model, as_of=as_of, families=len(families)), output_name="shared")


@dg.op(out=dg.Out(io_manager_key=fanout.FANOUT_IO))
def forecast__part(part: dict):
    """One product family's series forecast (or every family's), with the split's global model."""
    loc = forecasting.series_forecast(
        part["model"], part["panel"], part["as_of"], selection=part["selection"], calibration=part["calibration"]
    )
    return part["order"], part["rows"], loc


@dg.op(
    out={
        "demand_forecast": dg.Out(io_manager_key=WAREHOUSE_IO),
        "demand_forecast_location": dg.Out(io_manager_key=WAREHOUSE_IO),
        "forecast_history": dg.Out(
            io_manager_key=WAREHOUSE_IO, is_required=False, metadata={HISTORY_KEY: "analytics.forecast_history"}
        ),
        **FORECAST_CHECK_OUTS,
    },
    pool=WAREHOUSE_POOL,
)
def forecast__combine(context: dg.OpExecutionContext, shared: dict, parts: list):
    """The families' series rows in the panel's order, the SKU and family roll-ups, and the checks."""
    ordered = sorted(parts, key=lambda p: p[0])
    fanout.let_go(parts)  # Dagster's hold on the parts: the series rows are freed once rolled up
    result = forecasting.finish(forecasting.in_panel_order([(p[1], p[2]) for p in ordered]), shared["model"])
    ordered = None
    as_of = shared["as_of"]
    model = result.model
    sku = inputs.published_forecast(result.sku, as_of, horizon_only=True)
    loc = inputs.published_forecast(result.location, as_of)
    c = Cycle(as_of)
    week1 = pd.Timestamp(c.week1_start)
    by_loc = ("sku", "location")
    loc_horizon = loc[loc.week_start >= week1]  # week 0 (the nowcast's baseline) is not published
    values_ok, values_text, values_meta = _forecast_check(
        "forecast values", forecast_value_breaks(sku), forecast_value_breaks(loc, series=by_loc)
    )
    horizon_ok, horizon_text, horizon_meta = _forecast_check(
        "forecast horizon",
        forecast_horizon_breaks(sku, c.week1_start, c.horizon_weeks),
        forecast_horizon_breaks(loc_horizon, c.week1_start, c.horizon_weeks, series=by_loc),
    )
    sum_breaks = methods.rollup_breaks(sku, loc_horizon)
    # a forecast the blocking checks stop is not kept as this cycle's snapshot for accuracy by lag
    keep_snapshot = values_ok and horizon_ok and sum_breaks.empty
    fam = (
        result.family[result.family.horizon_week >= 1].groupby("family", as_index=False)[["units_p50", "revenue"]].sum()
    )
    yield dg.Output(
        sku,
        output_name="demand_forecast",
        metadata={
            "as_of": str(as_of),
            "skus": int(sku.sku.nunique()),
            "units_13w": round(float(sku.units_p50.sum()), 1),
            "revenue_13w": round(float(sku.revenue.sum()), 2),
            "models": dg.MetadataValue.json(result.location.groupby("model").size().astype(int).to_dict()),
            "series_by_method": dg.MetadataValue.json(
                result.location.drop_duplicates(["sku", "location"]).groupby("method").size().astype(int).to_dict()
            ),
            "train_rows": model.train_rows,
            "fit_seconds": round(model.fit_seconds, 1),
            "family_parts": shared["families"],
            "by_family": dg.MetadataValue.md(markdown_table(fam, 20)),
            "top_features": dg.MetadataValue.md(markdown_table(model.feature_importance.head(10))),
        },
    )
    yield dg.Output(
        loc, output_name="demand_forecast_location", metadata={"series": int(loc.groupby(["sku", "location"]).ngroups)}
    )
    if keep_snapshot:
        yield dg.Output(forecast_history_frame(sku), output_name="forecast_history")
    else:
        context.log.warning("the forecast failed its blocking checks: this cycle's snapshot is not kept")
    yield dg.AssetCheckResult(
        asset_key=FORECAST,
        check_name="non_negative_and_finite",
        passed=values_ok,
        description=values_text,
        metadata={**values_meta, "rows": len(sku), "location_rows": len(loc)},
    )
    yield dg.AssetCheckResult(
        asset_key=FORECAST,
        check_name="thirteen_weeks_per_sku",
        passed=horizon_ok,
        description=horizon_text,
        metadata={
            **horizon_meta,
            "skus": int(sku.sku.nunique()),
            "series": int(loc_horizon.groupby(list(by_loc)).ngroups),
            "week1_start": str(week1.date()),
            "horizon_weeks": c.horizon_weeks,
        },
    )
    yield dg.AssetCheckResult(
        asset_key=FORECAST,
        check_name="sku_is_sum_of_locations",
        passed=bool(sum_breaks.empty),
        description=(
            "every SKU-week equals the sum of its locations"
            if sum_breaks.empty
            else f"{len(sum_breaks)} SKU-weeks differ from the sum of their locations, e.g. "
            + "; ".join(sum_breaks.problem.head(3))
        ),
        metadata={"breaks": len(sum_breaks)},
    )


@dg.graph_multi_asset(
    name="demand_forecast",
    outs={
        "demand_forecast": dg.AssetOut(
            key=FORECAST,
            **GRAPH_OUT,
            description=(
                "13-week forecast per SKU: units_p10/p50/p90 and revenue (units x planned price) from one global "
                "LightGBM model over all SKU x location series (direct multi-horizon, quantile models for p10/p90, "
                "family profile for new items). See sop_pipeline/analytics/forecasting.py."
            ),
        ),
        "demand_forecast_location": dg.AssetOut(
            key=FORECAST_LOCATION,
            **GRAPH_OUT,
            description=(
                "The same forecast per SKU x location (stores and 'B2B'), with planned price, promotion flag and "
                "seasonal index; week 0 rows when the as-of is mid-week (the sensing nowcast's baseline)."
            ),
        ),
        # the IO manager replaces this cycle's rows of analytics.forecast_history (sop/history); not
        # yielded when the forecast fails its blocking checks
        "forecast_history": dg.AssetOut(
            key=FORECAST_HISTORY,
            **GRAPH_OUT,
            metadata={HISTORY_KEY: "analytics.forecast_history"},
            is_required=False,
            description=(
                "Append-only forecast snapshots per cycle (SKU x week x lag): each run replaces only its own "
                "cycle's rows, so accuracy by lag accumulates over real cycles."
            ),
        ),
    },
    ins=_ins("cycle", "ingest_log", "history_clean", "promotions", "selection", "calibration"),
    group_name=GROUP,
    # Blocking: a forecast that breaks these would publish impossible demand (and the plan built on it),
    # so nothing downstream runs and the previous cycle stays served.
    check_specs=FORECAST_CHECKS,
)
def demand_forecast(cycle, ingest_log, history_clean, promotions, selection, calibration):
    """Fit the global model on the cleansed history and forecast the cycle's 13 weeks; each series uses
    the method its backtest chose, with calibrated p10/p90 (analytics.methods). Fanned out per product
    family when the steps run in processes of their own (`fanout.parts_per_family`)."""
    parts, shared = forecast__split(
        cycle=cycle,
        ingest_log=ingest_log,
        history_clean=history_clean,
        promotions=promotions,
        selection=selection,
        calibration=calibration,
    )
    outputs = forecast__combine(shared, parts.map(forecast__part).collect())
    return dict(zip(["demand_forecast", "demand_forecast_location", "forecast_history", *FORECAST_CHECK_OUTS], outputs))


def _forecast_check(what: str, by_sku: pd.DataFrame, by_location: pd.DataFrame) -> tuple[bool, str, dict]:
    """(passed, description naming the first breaks, metadata) of a forecast check over the SKU
    forecast and the SKU x location forecast."""
    if by_sku.empty and by_location.empty:
        return True, f"{what}: holds on every SKU-week and SKU x location-week", {"breaks": 0}
    parts = [describe_forecast_breaks(by_sku, f"{what} (demand_forecast)")] if len(by_sku) else []
    if len(by_location):
        parts.append(
            describe_forecast_breaks(by_location, f"{what} (demand_forecast_location)", series=("sku", "location"))
        )
    table = pd.concat([by_sku.assign(location="(all)"), by_location], ignore_index=True)
    return (
        False,
        " | ".join(parts),
        {
            "breaks": len(table),
            "first_breaks": dg.MetadataValue.md(
                markdown_table(table[["sku", "location", "week_start", "problem"]], 20)
            ),
        },
    )


# --------------------------------------------------------------------------- sensing


SENSING_GAIN = _out("sensing_gain")
_SENSING_TYPES = {
    **inputs.SENSING_TYPES,
    "floats": [*inputs.SENSING_TYPES["floats"], "rule_units"],
    "texts": [*inputs.SENSING_TYPES["texts"], "method"],
}
_GAIN_TYPES = dict(
    floats=[
        "wape_statistical",
        "wape_rule",
        "wape_learned",
        "gain_points",
        "chosen_gain_vs_statistical_points",
        "actual_units",
    ],
    ints=["lag", "n", "origins"],
    dates=["cycle_id"],
    texts=["chosen"],
)


@dg.multi_asset(
    name="demand_sensing",
    outs={
        "demand_sensing": dg.AssetOut(
            key=SENSING,
            **OUT,
            description="Demand sensing of horizon weeks 0-6 per SKU: booked B2B orders against the usual booking "
            "curve, the week-0 POS nowcast when the as-of is mid-week, promotions and seasonality named; at the "
            "lags where its backtest WAPE beats the rule, the learned LightGBM sensing model "
            "(analytics/sensing_model.py). Baseline, rule and sensed units with the method, the reason and the "
            "signals that were missing.",
        ),
        "sensing_gain": dg.AssetOut(
            key=SENSING_GAIN,
            **OUT,
            description="Per lag 1-6: backtest WAPE of the statistical forecast, the booking-curve rule and the "
            "learned sensing model on the same rolling-origin SKU-weeks, the method the cycle uses (learned only "
            "where its WAPE is lower than the rule's) and the gain in WAPE points.",
        ),
    },
    ins=_ins(
        "cycle",
        "ingest_log",
        "forecast",
        "forecast_location",
        "backtest",
        "sales_orders",
        "promotions",
        "pos_week0",
        "pos_family_daily",
    ),
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "sensed_non_negative",
            asset=SENSING,
            blocking=True,
            description=(
                "Blocking. Sensed units (published in datapack_demand_forecast) are finite and >= 0 for every "
                "SKU-week. A failure names the SKU, the week and the value."
            ),
        ),
        dg.AssetCheckSpec(
            "sensed_is_statistical_outside_window",
            asset=SENSING,
            blocking=True,
            description=(
                "Blocking. Sensing changes weeks 0-6 only (beyond them the data pack's sensed units are the "
                "statistical p50) and its baseline of weeks 1-6 is the published statistical forecast. A failure "
                "names the SKU and the week."
            ),
        ),
        dg.AssetCheckSpec(
            "sensing_choice_is_lower_error",
            asset=SENSING_GAIN,
            blocking=True,
            description=(
                "Blocking. At every lag 1-6 the method used is the one with the lower backtest WAPE: learned only "
                "where its WAPE is below the rule's, the rule otherwise; and the published sensed units use that "
                "method. A failure names the lag and both WAPEs."
            ),
        ),
    ],
)
def demand_sensing(
    cycle: pd.DataFrame,
    ingest_log: pd.DataFrame,
    forecast: pd.DataFrame,
    forecast_location: pd.DataFrame,
    backtest: pd.DataFrame,
    sales_orders: pd.DataFrame,
    promotions: pd.DataFrame,
    pos_week0: pd.DataFrame,
    pos_family_daily: pd.DataFrame,
):
    as_of = as_of_date(cycle)
    absent = absent_in(ingest_log)
    week0, history_daily = inputs.nowcast_pos(pos_week0, pos_family_daily, as_of, absent)
    orders = inputs.staged(sales_orders, "sales_orders", absent, inputs.ORDER_COLUMNS)
    promos = inputs.staged(promotions, "promotions", absent, inputs.PROMOTION_COLUMNS)
    rule = sensing.sense(
        forecast_location,
        as_of,
        orders=orders,
        pos_week0=week0,
        pos_history_daily=history_daily,
        promotions=promos,
    )
    started = time.perf_counter()
    learned = sensing_model.learn(
        backtest,
        sensing_model.cycle_rows(rule, as_of),
        orders,
        None if "pos_sales" in absent else pos_family_daily,
        promos,
    )
    learned_seconds = time.perf_counter() - started
    sensed = sensing_model.apply(rule, learned, as_of)
    sensed.insert(0, "cycle_id", as_of)
    sensed = inputs.typed(sensed, **_SENSING_TYPES)
    gain = learned.gain.copy()
    gain.insert(0, "cycle_id", as_of)
    gain = inputs.typed(gain, **_GAIN_TYPES)
    changed = sensed[sensed.delta_units.abs() >= 0.5]
    sensed_breaks = forecast_value_breaks(sensed, columns=("sensed_units",))
    window_breaks = sensing_model.outside_window_breaks(sensed, forecast)
    choice_breaks = sensing_model.choice_breaks(learned.gain)
    choice_breaks += sensing_model.method_breaks(sensed, learned.chosen)
    top = changed.reindex(changed.delta_units.abs().sort_values(ascending=False).index)
    yield dg.Output(
        sensed,
        output_name="demand_sensing",
        metadata={
            "sku_weeks_changed": len(changed),
            "net_change_units": round(float(sensed.delta_units.sum()), 1),
            "signals_used": sensed.signals_used.iloc[0] if len(sensed) else "none",
            "signals_missing": sensed.signals_missing.iloc[0] if len(sensed) else "none",
            "sku_weeks_learned": int((sensed.method == sensing_model.METHOD_LEARNED).sum()),
            "largest_changes": dg.MetadataValue.md(
                markdown_table(top[["sku", "week_start", "baseline_units", "sensed_units", "delta_units"]], 10)
            ),
        },
    )
    yield dg.Output(
        gain,
        output_name="sensing_gain",
        metadata={
            "learned_lags": ", ".join(str(k) for k, m in sorted(learned.chosen.items()) if m == "learned") or "none",
            "train_rows": learned.train_rows,
            "fits": learned.fits,
            "learned_seconds": round(learned_seconds, 2),
            "note": learned.note or "none",
            "table": dg.MetadataValue.md(markdown_table(gain.drop(columns=["cycle_id"]), 6)),
        },
    )
    yield dg.AssetCheckResult(
        asset_key=SENSING,
        check_name="sensed_non_negative",
        passed=sensed_breaks.empty,
        description=describe_forecast_breaks(sensed_breaks, "sensed units"),
        metadata={"breaks": len(sensed_breaks), "rows": len(sensed)},
    )
    yield breaks_check(
        "sensed_is_statistical_outside_window",
        None,
        "sensing changes weeks 0-6 only",
        window_breaks,
        asset_key=SENSING,
        limit=3,
    )
    yield breaks_check(
        "sensing_choice_is_lower_error",
        None,
        "every lag uses its lower-error method",
        choice_breaks,
        asset_key=SENSING_GAIN,
        limit=3,
    )


# --------------------------------------------------------------------------- bias + consensus


@dg.multi_asset(
    name="demand_bias",
    outs={
        "demand_bias": dg.AssetOut(
            key=BIAS,
            **OUT,
            description=(
                "Bias and tracking signal of the sales/marketing forecast vs actuals over the last 13 snapshots, "
                "per family and per SKU, with the sales_optimism flag (bias > +10% and tracking signal > 4) and "
                "the latest submission's gap to the statistical forecast."
            ),
        ),
        "demand_consensus": dg.AssetOut(
            key=CONSENSUS,
            **OUT,
            description=(
                "Consensus units per SKU x horizon week: the latest sales submission, with the optimism filter "
                "(flagged inputs shrunk 50% toward the statistical forecast, unsupported hockey-stick weeks "
                "replaced by it); the units shrunk and the rule are recorded."
            ),
        ),
    },
    ins=_ins("cycle", "ingest_log", "sales_forecast", "demand_weekly", "items", "forecast", "flags"),
    internal_asset_deps={
        "demand_bias": {DEMAND_WEEKLY, SALES_FC, ITEMS, FORECAST, CYCLE, INGEST_LOG},
        "demand_consensus": {SALES_FC, FORECAST, OUTLIERS, DEMAND_WEEKLY, ITEMS, CYCLE, INGEST_LOG},
    },
    pool=WAREHOUSE_POOL,
)
def demand_bias(
    cycle: pd.DataFrame,
    ingest_log: pd.DataFrame,
    sales_forecast: pd.DataFrame,
    demand_weekly: pd.DataFrame,
    items: pd.DataFrame,
    forecast: pd.DataFrame,
    flags: pd.DataFrame,
):
    as_of = as_of_date(cycle)
    absent = absent_in(ingest_log)
    sales_fc = inputs.staged(sales_forecast, "sales_forecast", absent, inputs.SALES_FORECAST_COLUMNS)
    # the table's own row order (not the series order): the actuals' sums add up in it
    actuals = inputs.actuals(demand_weekly[["sku", "week_start", "units"]])
    table = bias.forecast_bias(sales_fc, actuals, items[["sku", "family"]], as_of)
    table = inputs.with_statistical_gap(table, bias.compare_with_statistical(sales_fc, forecast, as_of))
    cons = bias.consensus(sales_fc, forecast, table, inputs.hockey_weeks(flags), as_of)
    if sales_fc is None:
        cons["rule"] = inputs.NO_SALES_FORECAST_RULE
    table.insert(0, "cycle_id", as_of)
    cons.insert(0, "cycle_id", as_of)
    table = inputs.typed(table, **inputs.BIAS_TYPES)
    cons = inputs.typed(cons, **inputs.CONSENSUS_TYPES)
    flagged = table[table.sales_optimism.astype(bool)] if len(table) else table
    fam = table[table.level == "family"] if len(table) else table
    note = (
        "sales_forecast extract absent: no bias computed, consensus = statistical forecast"
        if sales_fc is None
        else "none"
    )
    yield dg.Output(
        table,
        output_name="demand_bias",
        metadata={
            "missing_signals": note,
            "optimistic_families": ", ".join(sorted(set(flagged.loc[flagged.level == "family", "family"]))) or "none",
            "optimistic_skus": int((flagged.level == "sku").sum()) if len(flagged) else 0,
            "by_family": dg.MetadataValue.md(
                markdown_table(
                    fam[["forecast_source", "family", "bias", "tracking_signal", "sales_optimism"]]
                    if len(fam)
                    else fam,
                    12,
                )
            ),
        },
    )
    yield dg.Output(
        cons,
        output_name="demand_consensus",
        metadata={
            "missing_signals": note,
            "units_shrunk_13w": round(float(cons.shrunk_units.sum()), 1),
            "by_rule": dg.MetadataValue.md(
                markdown_table(
                    cons.groupby("rule", as_index=False).agg(
                        sku_weeks=("sku", "size"), units_shrunk=("shrunk_units", "sum")
                    )
                )
            ),
        },
    )


# --------------------------------------------------------------------------- backtest

BACKTEST_CHECKS = [
    dg.AssetCheckSpec(
        "beats_seasonal_naive",
        asset=BACKTEST,
        blocking=False,
        description=(
            "Warning only (not blocking): backtest WAPE of the ML forecast is at least 10% below seasonal naive. A "
            "failure means the model is not better than last year's actuals and the data pack should say so; the "
            "cycle still runs and publishes."
        ),
    ),
    dg.AssetCheckSpec(
        "selection_is_lowest_error",
        asset=SELECTION,
        blocking=True,
        description=(
            "Blocking. Every series' chosen method is the rule's pick from its own backtest WAPEs: the lowest, "
            "when it is more than the series' published margin below its class default's, else the default. A "
            "failure names the SKU, location and both methods."
        ),
    ),
    dg.AssetCheckSpec(
        "calibration_consistent",
        asset=CALIBRATION,
        blocking=True,
        description=(
            "Blocking. Per horizon bucket x intermittency class the residual quantiles are ordered (p10 "
            "below p90) and the coverage shares (below p10, inside the band, above p90) lie in [0, 1] and add "
            "up to 1. A failure names the group."
        ),
    ),
    dg.AssetCheckSpec(
        "calibration_on_target",
        asset=CALIBRATION,
        blocking=False,
        description=(
            "Warning only: forward coverage per group has 10% +- 5 points below p10 and above p90 and a "
            "p10-p90 band covering 70-90% of actuals. A failure names the group and the share."
        ),
    ),
]
BACKTEST_CHECK_OUTS = {spec.get_python_identifier(): dg.Out(dg.Nothing) for spec in BACKTEST_CHECKS}
# only the 12 columns the backtest reads (of 18: at large 4.4M rows, ~0.3 GB less held for the whole step);
# the split op's input is the one the IO manager reads
HISTORY_COLUMNS_IN = {"columns": bt.HISTORY_COLUMNS}


@dg.op(
    ins={
        **fanout.warehouse_ins("cycle", "ingest_log", "promotions", "sales_forecast", "sales_orders"),
        "demand_weekly": dg.In(input_manager_key=WAREHOUSE_IO, metadata=HISTORY_COLUMNS_IN),
    },
    out={"parts": dg.DynamicOut(io_manager_key=fanout.FANOUT_IO), "shared": dg.Out(io_manager_key=fanout.FANOUT_IO)},
    pool=WAREHOUSE_POOL,
)
def backtest__split(
    context: dg.OpExecutionContext,
    warehouse: Warehouse,
    cycle: pd.DataFrame,
    ingest_log: pd.DataFrame,
    demand_weekly: pd.DataFrame,
    promotions: pd.DataFrame,
    sales_forecast: pd.DataFrame,
    sales_orders: pd.DataFrame,
):
    """The history as dense arrays and the global model at each refit origin (`backtest.plan_fits`:
    one model over every series), then one part per product family (or one for all of them,
    `fanout.parts_per_family`) that forecasts and scores its series at every origin with those models."""
    started = time.time()
    as_of = as_of_date(cycle)
    absent = absent_in(ingest_log)
    # the previous cycle's class defaults: a challenger must clearly beat them, not the fixed prior,
    # so the defaults do not flip from week to week on evidence near the test's threshold
    with warehouse.tables(read_only=True) as tables:
        incumbent = methods.incumbent(previous_cycle_rows(tables, *SELECTION_HISTORY, as_of))
    whole, shared = bt.prepare(
        inputs.weekly_history(demand_weekly),
        as_of,
        inputs.staged(promotions, "promotions", absent, inputs.PROMOTION_COLUMNS),
        inputs.staged(sales_forecast, "sales_forecast", absent, inputs.SALES_FORECAST_COLUMNS),
        inputs.staged(sales_orders, "sales_orders", absent, inputs.ORDER_COLUMNS),
    )
    fanout.let_go(demand_weekly)  # the dense history holds what the backtest reads (~0.4 GB at large)
    plan = bt.plan_fits(whole, as_of)
    families = whole.family_rows() if whole is not None and fanout.parts_per_family(context) else []

    def family_part(n: int, rows) -> dict:
        sub = whole.subset(rows)
        return dict(order=n, whole=sub, plan=plan, inputs=shared.for_skus(set(sub.panel.keys["sku"])), as_of=as_of)

    yield from fanout.family_parts(
        families, family_part, dict(order=0, whole=whole, plan=plan, inputs=shared, as_of=as_of)
    )
    split = len(families) > 1
    yield dg.Output(
        dict(
            as_of=as_of,
            actuals=shared.actuals,
            fits=plan.fits,
            scope=plan.scope,  # which series rows the selection and the calibration read
            incumbent=incumbent,
            categories=whole.categories if split else None,  # split: the parts' series rows go back in order
            started=started,
            fit_seconds=round(time.time() - started, 1),
            families=len(families) if split else 0,
        ),
        output_name="shared",
    )


@dg.op(out=dg.Out(io_manager_key=fanout.FANOUT_IO))
def backtest__part(part: dict):
    """One product family's backtest rows (or every family's): `backtest.score` with the split's models."""
    rows, series = bt.score(part["whole"], part["plan"], part["inputs"], part["as_of"])
    return part["order"], rows, series


@dg.op(
    out={
        "demand_backtest": dg.Out(io_manager_key=WAREHOUSE_IO),
        "forecast_method_selection": dg.Out(io_manager_key=WAREHOUSE_IO),
        "forecast_calibration": dg.Out(io_manager_key=WAREHOUSE_IO),
        **BACKTEST_CHECK_OUTS,
    },
    pool=WAREHOUSE_POOL,
)
def backtest__combine(shared: dict, parts: list):
    """The parts' rows as one backtest (in the whole history's order), the method selection and the
    calibration over every series, and the checks."""
    ordered = sorted(parts, key=lambda p: p[0])
    fanout.let_go(parts)  # else Dagster holds every part's series rows beside the combined copy
    rows = [frame for p in ordered for frame in p[1]]
    series = [frame for p in ordered for frame in p[2]]
    ordered = None
    as_of = shared["as_of"]
    result = bt.combine(
        rows,
        series,
        bt.Inputs(shared["actuals"], None, None),
        shared["fits"],
        0.0,
        shared["categories"],
        scope=shared["scope"],
        incumbent=shared["incumbent"],
    )
    result.seconds = time.time() - shared["started"]
    result.series = None  # the series rows are only needed inside the backtest
    errors = result.errors.copy()
    errors.insert(0, "cycle_id", as_of)
    errors = inputs.typed(errors, **inputs.BACKTEST_TYPES)
    wape = inputs.wape_by_method(result.summary)
    improvement = inputs.improvement_vs_naive(wape)
    selection = result.selection.copy()
    selection.insert(0, "cycle_id", as_of)
    selection = inputs.typed(
        selection,
        floats=["wape", "actual_units", *[f"wape_{m}" for m in methods.CANDIDATES], "margin"],
        ints=["backtest_rows"],
        dates=["cycle_id"],
        texts=["sku", "location", "method", "intermittency", "default_method"],
    )
    calibration = result.calibration.table.copy()
    calibration.insert(0, "cycle_id", as_of)
    calibration = inputs.typed(
        calibration,
        floats=["q_low", "q_high", "share_below_p10", "share_above_p90", "band_coverage"],
        ints=["rows"],
        dates=["cycle_id"],
        texts=["horizon_bucket", "intermittency"],
    )
    sel_breaks = methods.selection_breaks(result.selection)
    cal_breaks = methods.calibration_breaks(result.calibration.table)
    misses = methods.calibration_on_target(result.calibration.table)
    forward = {f"forward_wape_{k}_pct": _pct(v) for k, v in result.selection_wape.items()}
    yield dg.Output(
        errors,
        output_name="demand_backtest",
        metadata={
            "wape_lightgbm_pct": _pct(wape["lightgbm"]),
            "wape_seasonal_naive_pct": _pct(wape["seasonal_naive"]),
            "wape_sales_forecast_pct": _pct(wape["sales_forecast"]),
            "wape_lightgbm_sensed_pct": _pct(wape["lightgbm_sensed"]),
            "improvement_vs_naive_pct": _pct(improvement),
            "origins": int(errors.origin.nunique()),
            "model_fits": result.fits,
            "seconds": round(result.seconds, 1),
            "fit_seconds": shared["fit_seconds"],
            "family_parts": shared["families"],
            "summary": dg.MetadataValue.md(markdown_table(result.summary)),
        },
    )
    yield dg.Output(
        selection,
        output_name="forecast_method_selection",
        metadata={
            "series": len(selection),
            "by_method": dg.MetadataValue.json(selection.method.value_counts().astype(int).to_dict()),
            "series_rows_scored": result.series_rows,
            "incumbent_defaults": dg.MetadataValue.json(shared["incumbent"] or {}),
            **forward,
        },
    )
    yield dg.Output(
        calibration,
        output_name="forecast_calibration",
        metadata={"groups": len(calibration), "table": dg.MetadataValue.md(markdown_table(calibration, 12))},
    )
    yield dg.AssetCheckResult(
        asset_key=BACKTEST,
        check_name="beats_seasonal_naive",
        passed=inputs.beats_naive(improvement),
        metadata={"improvement_vs_naive_pct": _pct(improvement)},
    )
    yield dg.AssetCheckResult(
        asset_key=SELECTION,
        check_name="selection_is_lowest_error",
        passed=bool(sel_breaks.empty),
        description=(
            "every series uses the rule's pick"
            if sel_breaks.empty
            else f"{len(sel_breaks)} series do not: "
            + "; ".join(f"{r.sku} @ {r.location}: {r.problem}" for r in sel_breaks.head(3).itertuples())
        ),
        metadata={"breaks": len(sel_breaks), "series": len(selection)},
    )
    yield breaks_check(
        "calibration_consistent",
        None,
        "quantiles ordered, coverage shares add up",
        cal_breaks,
        asset_key=CALIBRATION,
        limit=3,
    )
    yield dg.AssetCheckResult(
        asset_key=CALIBRATION,
        check_name="calibration_on_target",
        passed=not misses,
        description="; ".join(misses[:4]) if misses else "every group within target",
        metadata={"misses": len(misses)},
    )


@dg.graph_multi_asset(
    name="demand_backtest",
    outs={
        "demand_backtest": dg.AssetOut(
            key=BACKTEST,
            **GRAPH_OUT,
            description="Rolling-origin backtest: the forecast code re-run as of each of the last 26 weekly origins "
            "(history cut at the origin, outliers re-detected, model refitted every 4th origin), scored "
            "per SKU x week x lag 1-13 for the ML forecast, the sensed ML forecast, the sales forecast at "
            "the matching lag and seasonal naive. forecast_accuracy aggregates it.",
        ),
        "forecast_method_selection": dg.AssetOut(
            key=SELECTION,
            **GRAPH_OUT,
            metadata={HISTORY_KEY: ".".join(SELECTION_HISTORY)},
            description="Per SKU x location: the forecast method the cycle uses (lightgbm, seasonal_naive, "
            "exp_smoothing, tsb, theta, croston_sba, adida or a combination), picked by backtest error over the same "
            "origins x lags (the intermittency class's default - the combination unless a candidate is clearly better "
            "pooled - is replaced only by a candidate beating it by more than the noise of the series' own error), "
            "with every candidate's backtest WAPE, the default, the margin asked and the series' intermittency class. "
            "A class's default stays the previous cycle's (history.forecast_method_selection) unless a candidate "
            "clearly beats it. "
            "See sop_pipeline/analytics/methods.py.",
        ),
        "forecast_calibration": dg.AssetOut(
            key=CALIBRATION,
            **GRAPH_OUT,
            description="Calibrated p10/p90: the 10%/90% quantiles of the chosen methods' scaled backtest "
            "residuals per horizon bucket x intermittency class at the calibration origins (every 2 weeks over "
            "the last 52), and the coverage they achieved forward (fitted on the older half of those origins, "
            "scored on the newer half).",
        ),
    },
    ins=_ins("cycle", "ingest_log", "demand_weekly", "promotions", "sales_forecast", "sales_orders"),
    group_name=GROUP,
    check_specs=BACKTEST_CHECKS,
)
def demand_backtest(cycle, ingest_log, demand_weekly, promotions, sales_forecast, sales_orders):
    """Fanned out per product family when the steps run in processes of their own (one step each,
    sop_pipeline/assets/fanout.py; `fanout.parts_per_family`)."""
    parts, shared = backtest__split(
        cycle=cycle,
        ingest_log=ingest_log,
        demand_weekly=demand_weekly,
        promotions=promotions,
        sales_forecast=sales_forecast,
        sales_orders=sales_orders,
    )
    outputs = backtest__combine(shared, parts.map(backtest__part).collect())
    return dict(
        zip(["demand_backtest", "forecast_method_selection", "forecast_calibration", *BACKTEST_CHECK_OUTS], outputs)
    )


ASSETS = [demand_outliers, demand_forecast, demand_sensing, demand_bias, demand_backtest]
