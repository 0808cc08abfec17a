"""Demand intelligence: cleansed history, 13-week forecast, sensing, bias, flags, backtest.

Thin wrappers around `analytics.outliers`, `forecasting`, `sensing`, `bias` and `backtest`.
Inputs are dbt models (`intermediate/int_demand_weekly`, staging), outputs `analytics.<table>`,
published by the dbt marts in `models/marts/demand/` (datapack_demand_forecast, demand_flags,
forecast_accuracy, ...). Flow:

    int_demand_weekly -> demand_outliers (history_clean, outliers + hockey sticks)
        -> demand_forecast (+ forecast_location, forecast_history) -> demand_sensing
        -> demand_bias (+ consensus);   int_demand_weekly -> demand_backtest
"""


from datetime import date

import dagster as dg
import numpy as np
import pandas as pd

from sop_pipeline.analytics import backtest as bt
from sop_pipeline.analytics import bias, forecasting, outliers, sensing
from sop_pipeline.analytics.checks import describe_forecast_breaks, forecast_horizon_breaks, forecast_value_breaks
from sop_pipeline.analytics.calendar import Cycle
from sop_pipeline.assets.common import OWNERS, absent_extracts, cycle_as_of, markdown_table, read_table, write_table
from sop_pipeline.resources import WAREHOUSE_POOL, Warehouse

GROUP = "demand"
DEMAND_WEEKLY = dg.AssetKey(["intermediate", "int_demand_weekly"])
CYCLE = dg.AssetKey(["meta", "cycle"])
INGEST_LOG = dg.AssetKey(["meta", "ingest_log"])


def _stg(name: str) -> dg.AssetKey:
    return dg.AssetKey(["staging", name])


def _out(name: str) -> dg.AssetKey:
    return dg.AssetKey(["analytics", name])


ITEMS, POS, ORDERS = _stg("stg_erp__items"), _stg("stg_pos__pos_sales"), _stg("stg_erp__sales_orders")
PROMOS, SALES_FC, OPPS = _stg("stg_crm__promotions"), _stg("stg_crm__sales_forecast"), _stg("stg_crm__opportunities")

HISTORY_CLEAN, OUTLIERS = _out("demand_history_clean"), _out("demand_outliers")
FORECAST, FORECAST_LOCATION, FORECAST_HISTORY = _out("demand_forecast"), _out("demand_forecast_location"), \
    _out("forecast_history")
SENSING, BIAS, CONSENSUS, BACKTEST = _out("demand_sensing"), _out("demand_bias"), _out("demand_consensus"), \
    _out("demand_backtest")
COMMON = dict(group_name=GROUP, owners=OWNERS["demand"], kinds={"python", "duckdb"})


# --------------------------------------------------------------------------- shared I/O

def _optional(con, extract: str, sql: str, absent: set[str]) -> pd.DataFrame | None:
    """A staging table as a DataFrame, or None when its extract is absent this cycle."""
    return None if extract in absent else read_table(con, sql)


def _history(con) -> pd.DataFrame:
    return read_table(con, "select * from intermediate.int_demand_weekly order by sku, location, week_start")


def _promotions(con, absent: set[str]) -> pd.DataFrame | None:
    return _optional(con, "promotions", "select promo_id, sku, location_or_customer, start_date, end_date, "
                                        "discount_pct, expected_units from staging.stg_crm__promotions", absent)


def _orders(con, absent: set[str]) -> pd.DataFrame | None:
    return _optional(con, "sales_orders", "select order_id, line, customer_id, sku, order_date, requested_date, "
                                          "requested_week_start, qty, unit_price, status "
                                          "from staging.stg_erp__sales_orders", absent)


def _sales_forecast(con, absent: set[str]) -> pd.DataFrame | None:
    return _optional(con, "sales_forecast", "select snapshot_date, sku, week_start, units, forecast_source "
                                            "from staging.stg_crm__sales_forecast", absent)


def _actuals(history: pd.DataFrame) -> pd.DataFrame:
    return history.groupby(["sku", "week_start"], as_index=False)["units"].sum()


def _typed(frame: pd.DataFrame, floats=(), ints=(), bools=(), dates=(), texts=()) -> pd.DataFrame:
    """Explicit column types, so an empty table still has the types the marts expect."""
    out = frame.copy()
    for c in floats:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    for c in ints:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("Int64")
    for c in bools:
        out[c] = out[c].fillna(False).astype(bool)
    for c in dates:
        out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
    for c in texts:
        out[c] = out[c].astype(object).where(out[c].notna(), None).astype("string")
    return out


def _pct(x: float) -> float:
    return round(100 * float(x), 1) if np.isfinite(x) else float("nan")


# --------------------------------------------------------------------------- outliers + cleansing

@dg.multi_asset(
    specs=[
        dg.AssetSpec(HISTORY_CLEAN, deps=[DEMAND_WEEKLY], **COMMON, description=(
            "Weekly demand history ready for training: int_demand_weekly plus units_clean (outlier weeks "
            "replaced by their expected value, censored stock-out weeks missing), is_outlier, is_censored.")),
        dg.AssetSpec(OUTLIERS, deps=[DEMAND_WEEKLY, SALES_FC, PROMOS, ORDERS, OPPS, ITEMS], **COMMON, description=(
            "Flags with a reason a planner understands: kind 'outlier' (store-demand spikes vs the rolling "
            "median of regular weeks, MAD threshold, promo- and stock-out-aware) and kind 'hockey_stick' "
            "(forecast snapshots whose later weeks step far above the recent run-rate with no promotion, "
            "booked orders or CRM opportunity behind them).")),
    ],
    pool=WAREHOUSE_POOL,
    check_specs=[dg.AssetCheckSpec("outliers_are_rare", asset=OUTLIERS, blocking=False, description=(
        "Warning only (not blocking): under 2% of SKU-weeks are flagged as outliers; more means the thresholds "
        "treat ordinary variation as pollution and training would lose real demand. The cycle still runs and "
        "publishes; look at the flags before the meeting."))],
)
def demand_outliers(warehouse: Warehouse):
    """Outlier and hockey-stick detection; cleansed history for the forecast."""
    with warehouse.connect() as con:
        absent = absent_extracts(con)
        history = _history(con)
        items = read_table(con, "select sku, family from staging.stg_erp__items")
        flags = outliers.detect_history_outliers(history)
        if "promotions" in absent and len(flags):
            flags["reason"] = flags.reason + (" Note: the promotions extract is absent this cycle, so a promotion "
                                              "peak cannot be told apart from an outlier.")
        clean = outliers.cleanse_history(history, flags)
        sales_fc = _sales_forecast(con, absent)
        opps = _optional(con, "opportunities", "select * from staging.stg_crm__opportunities", absent)
        hockey = outliers.detect_hockey_sticks(sales_fc, _actuals(history), _promotions(con, absent),
                                               _orders(con, absent), opps, items)
        latest = ({} if sales_fc is None or sales_fc.empty else
                  pd.to_datetime(sales_fc.snapshot_date).groupby(sales_fc.forecast_source).max().to_dict())
        table = _flag_table(flags, hockey, latest)
        meta_clean = write_table(con, "demand_history_clean", clean)
        meta_flags = write_table(con, "demand_outliers", table)
    weeks = int(history.groupby(["sku", "week_start"]).ngroups) or 1
    share = len(flags) / weeks
    missing = ", ".join(sorted({"sales_forecast", "promotions", "sales_orders", "opportunities"} & absent)) or "none"
    yield dg.MaterializeResult(asset_key=HISTORY_CLEAN, metadata={
        **meta_clean, "outlier_rows_cleansed": int(clean.is_outlier.sum()),
        "censored_rows": int(clean.is_censored.sum())})
    yield dg.MaterializeResult(asset_key=OUTLIERS, metadata={
        **meta_flags, "outliers": len(flags), "hockey_sticks": len(hockey),
        "hockey_sticks_in_latest_snapshot": int(table.loc[table.kind == "hockey_stick", "is_latest_snapshot"].sum()),
        "missing_inputs": missing,
        "flags": dg.MetadataValue.md(markdown_table(table[["kind", "sku", "week_start", "value", "expected"]], 15))})
    yield dg.AssetCheckResult(asset_key=OUTLIERS, check_name="outliers_are_rare", passed=bool(share < 0.02),
                              metadata={"outlier_share_of_sku_weeks_pct": _pct(share)})


def _flag_table(history_flags: pd.DataFrame, hockey: pd.DataFrame, latest: dict) -> pd.DataFrame:
    """One flag table for both kinds; ``latest``: the latest snapshot date per forecast source."""
    cols = ["kind", "sku", "family", "week_start", "value", "expected", "reason", "snapshot_date", "forecast_source",
            "lag", "weeks_flagged", "ratio", "is_latest_snapshot"]
    h = history_flags.assign(kind="outlier", snapshot_date=pd.NaT, forecast_source=None, lag=None, weeks_flagged=1)
    k = hockey.assign(kind="hockey_stick")
    if len(k):
        k["is_latest_snapshot"] = k.snapshot_date == k.forecast_source.map(latest)
    out = pd.concat([h.assign(is_latest_snapshot=False), k], ignore_index=True)
    return _typed(out.reindex(columns=cols), floats=["value", "expected", "ratio"], ints=["lag", "weeks_flagged"],
                  bools=["is_latest_snapshot"], dates=["week_start", "snapshot_date"],
                  texts=["kind", "sku", "family", "reason", "forecast_source"])


# --------------------------------------------------------------------------- forecast

@dg.multi_asset(
    specs=[
        dg.AssetSpec(FORECAST, deps=[HISTORY_CLEAN, PROMOS, CYCLE], **COMMON, description=(
            "13-week forecast per SKU: units_p10/p50/p90 and revenue (units x planned price) from one global "
            "LightGBM model over all SKU x location series (direct multi-horizon, quantile models for p10/p90, "
            "family profile for new items). See sop_pipeline/analytics/forecasting.py.")),
        dg.AssetSpec(FORECAST_LOCATION, deps=[HISTORY_CLEAN, PROMOS, CYCLE], **COMMON, description=(
            "The same forecast per SKU x location (stores and 'B2B'), with planned price, promotion flag and "
            "seasonal index; week 0 rows when the as-of is mid-week (the sensing nowcast's baseline).")),
        dg.AssetSpec(FORECAST_HISTORY, deps=[HISTORY_CLEAN, CYCLE], **COMMON, description=(
            "Append-only forecast snapshots per cycle (SKU x week x lag): each run replaces only its own "
            "cycle's rows, so accuracy by lag accumulates over real cycles.")),
    ],
    pool=WAREHOUSE_POOL,
    # Blocking: a forecast that breaks these would publish impossible demand (and the plan built on it),
    # so nothing downstream runs and the previous cycle stays served.
    check_specs=[
        dg.AssetCheckSpec("non_negative_and_finite", asset=FORECAST, blocking=True, description=(
            "Blocking. Every units_p10/p50/p90 and revenue is finite (not NaN, not infinite) and >= 0, with "
            "p10 <= p50 <= p90, per SKU-week (demand_forecast) and per SKU x location-week "
            "(demand_forecast_location). A failure names the SKU (and location), the week and the value: "
            "the data pack would show impossible demand.")),
        dg.AssetCheckSpec("thirteen_weeks_per_sku", asset=FORECAST, blocking=True, description=(
            "Blocking. One row per SKU-week (and per SKU x location-week) for every horizon week 1..13 from "
            "the cycle's week 1: no gap, no duplicate, no week outside the horizon, horizon_week matching the "
            "week. A failure names the SKU (and location) and the week.")),
    ],
)
def demand_forecast(warehouse: Warehouse):
    """Fit the global model on the cleansed history and forecast the cycle's 13 weeks."""
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        absent = absent_extracts(con)
        history = read_table(con, "select * from analytics.demand_history_clean")
        result = forecasting.forecast(history, as_of, _promotions(con, absent))
        model = result.model
        sku = result.sku[result.sku.horizon_week >= 1].copy()
        sku.insert(0, "cycle_id", as_of)
        sku = _typed(sku, dates=["cycle_id", "week_start"])
        loc = result.location.copy()
        loc.insert(0, "cycle_id", as_of)
        loc = _typed(loc, dates=["cycle_id", "week_start"])
        c = Cycle(as_of)
        week1 = pd.Timestamp(c.week1_start)
        by_loc = ("sku", "location")
        loc_horizon = loc[loc.week_start >= week1]  # week 0 (the nowcast's baseline) is not published
        values_ok, values_text, values_meta = _forecast_check(
            "forecast values", forecast_value_breaks(sku), forecast_value_breaks(loc, series=by_loc))
        horizon_ok, horizon_text, horizon_meta = _forecast_check(
            "forecast horizon", forecast_horizon_breaks(sku, c.week1_start, c.horizon_weeks),
            forecast_horizon_breaks(loc_horizon, c.week1_start, c.horizon_weeks, series=by_loc))
        meta_sku = write_table(con, "demand_forecast", sku)
        meta_loc = write_table(con, "demand_forecast_location", loc)
        if values_ok and horizon_ok:
            meta_hist = _append_history(con, sku, as_of)
        else:  # a forecast the blocking checks stop is not kept as this cycle's snapshot for accuracy by lag
            meta_hist = {"rows_this_cycle": 0, "not_appended": "the forecast failed its blocking checks"}
    fam = result.family[result.family.horizon_week >= 1].groupby("family", as_index=False)[
        ["units_p50", "revenue"]].sum()
    yield dg.MaterializeResult(asset_key=FORECAST, metadata={
        **meta_sku, "as_of": str(as_of), "skus": int(sku.sku.nunique()),
        "units_13w": round(float(sku.units_p50.sum()), 1), "revenue_13w": round(float(sku.revenue.sum()), 2),
        "models": dg.MetadataValue.json(result.location.groupby("model").size().astype(int).to_dict()),
        "train_rows": model.train_rows, "fit_seconds": round(model.fit_seconds, 1),
        "by_family": dg.MetadataValue.md(markdown_table(fam, 20)),
        "top_features": dg.MetadataValue.md(markdown_table(model.feature_importance.head(10)))})
    yield dg.MaterializeResult(asset_key=FORECAST_LOCATION, metadata={
        **meta_loc, "series": int(loc.groupby(["sku", "location"]).ngroups)})
    yield dg.MaterializeResult(asset_key=FORECAST_HISTORY, metadata=meta_hist)
    yield dg.AssetCheckResult(asset_key=FORECAST, check_name="non_negative_and_finite", passed=values_ok,
                              description=values_text, metadata={**values_meta, "rows": len(sku),
                                                                 "location_rows": len(loc)})
    yield dg.AssetCheckResult(asset_key=FORECAST, check_name="thirteen_weeks_per_sku", passed=horizon_ok,
                              description=horizon_text, metadata={
                                  **horizon_meta, "skus": int(sku.sku.nunique()),
                                  "series": int(loc_horizon.groupby(list(by_loc)).ngroups),
                                  "week1_start": str(week1.date()), "horizon_weeks": c.horizon_weeks})


def _forecast_check(what: str, by_sku: pd.DataFrame, by_location: pd.DataFrame) -> tuple[bool, str, dict]:
    """(passed, description naming the first breaks, metadata) of a forecast check over the SKU
    forecast and the SKU x location forecast."""
    if by_sku.empty and by_location.empty:
        return True, f"{what}: holds on every SKU-week and SKU x location-week", {"breaks": 0}
    parts = [describe_forecast_breaks(by_sku, f"{what} (demand_forecast)")] if len(by_sku) else []
    if len(by_location):
        parts.append(describe_forecast_breaks(by_location, f"{what} (demand_forecast_location)",
                                              series=("sku", "location")))
    table = pd.concat([by_sku.assign(location="(all)"), by_location], ignore_index=True)
    return False, " | ".join(parts), {
        "breaks": len(table),
        "first_breaks": dg.MetadataValue.md(markdown_table(table[["sku", "location", "week_start", "problem"]], 20))}


def _append_history(con, sku: pd.DataFrame, as_of: date) -> dict:
    """Replace this cycle's rows of analytics.forecast_history, keep every other cycle."""
    rows = sku[["cycle_id", "sku", "family", "week_start", "horizon_week", "units_p10", "units_p50", "units_p90",
                "model"]].rename(columns={"horizon_week": "lag"})
    rows = rows.assign(method="lightgbm", week_start=pd.to_datetime(rows.week_start).dt.date)
    con.execute("create schema if not exists analytics")
    con.execute("create table if not exists analytics.forecast_history (cycle_id DATE, sku VARCHAR, "
                "family VARCHAR, week_start DATE, lag INTEGER, units_p10 DOUBLE, units_p50 DOUBLE, "
                "units_p90 DOUBLE, model VARCHAR, method VARCHAR)")
    con.register("_fh", rows)
    try:
        con.execute("begin transaction")
        con.execute("delete from analytics.forecast_history where cycle_id = ?", [as_of])
        con.execute("insert into analytics.forecast_history select cycle_id, sku, family, week_start, lag, "
                    "units_p10, units_p50, units_p90, model, method from _fh")
        con.execute("commit")
    finally:
        con.unregister("_fh")
    cycles = con.execute("select count(distinct cycle_id), count(*) from analytics.forecast_history").fetchall()[0]
    return {"dagster/row_count": int(cycles[1]), "cycles_stored": int(cycles[0]), "rows_this_cycle": len(rows)}


# --------------------------------------------------------------------------- sensing

@dg.asset(
    key=SENSING, deps=[FORECAST_LOCATION, ORDERS, POS, PROMOS, ITEMS, INGEST_LOG], pool=WAREHOUSE_POOL, **COMMON,
    description="Demand sensing of horizon weeks 0-6 per SKU: booked B2B orders against the usual booking "
                "curve, the week-0 POS nowcast when the as-of is mid-week, promotions and seasonality named. "
                "Baseline vs sensed units with the reason and the signals that were missing.",
    check_specs=[dg.AssetCheckSpec("sensed_non_negative", asset=SENSING, blocking=True, description=(
        "Blocking. Sensed units (published in datapack_demand_forecast) are finite and >= 0 for every "
        "SKU-week. A failure names the SKU, the week and the value."))],
)
def demand_sensing(warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        absent = absent_extracts(con)
        baseline = read_table(con, "select * from analytics.demand_forecast_location")
        c = Cycle(as_of)
        pos_week0 = history_daily = None
        if "pos_sales" not in absent and as_of.weekday() != 6:
            pos_week0 = read_table(con, "select p.sku, p.location, i.family, p.sales_date, p.units from "
                                        "staging.stg_pos__pos_sales p join staging.stg_erp__items i using (sku) "
                                        "where p.sales_date between ? and ?", [c.week0_start, as_of])
            history_daily = read_table(con, "select i.family, p.sales_date, sum(p.units) as units from "
                                            "staging.stg_pos__pos_sales p join staging.stg_erp__items i using (sku) "
                                            "where p.sales_date >= ? and p.sales_date < ? group by all",
                                       [c.week0_start - pd.Timedelta(weeks=13), c.week0_start])
        sensed = sensing.sense(baseline, as_of, orders=_orders(con, absent), pos_week0=pos_week0,
                               pos_history_daily=history_daily, promotions=_promotions(con, absent))
        sensed.insert(0, "cycle_id", as_of)
        sensed = _typed(sensed, floats=["baseline_units", "sensed_units", "delta_units", "delta_pct",
                                        "b2b_baseline_units", "b2b_booked_units", "b2b_usual_booked_share",
                                        "week0_pos_units"], ints=["horizon_week"], dates=["cycle_id", "week_start"],
                        texts=["sku", "family", "signals_used", "signals_missing", "reason"])
        meta = write_table(con, "demand_sensing", sensed)
    changed = sensed[sensed.delta_units.abs() >= 0.5]
    sensed_breaks = forecast_value_breaks(sensed, columns=("sensed_units",))
    top = changed.reindex(changed.delta_units.abs().sort_values(ascending=False).index)
    return dg.MaterializeResult(
        metadata={**meta, "sku_weeks_changed": len(changed),
                  "net_change_units": round(float(sensed.delta_units.sum()), 1),
                  "signals_used": sensed.signals_used.iloc[0] if len(sensed) else "none",
                  "signals_missing": sensed.signals_missing.iloc[0] if len(sensed) else "none",
                  "largest_changes": dg.MetadataValue.md(markdown_table(
                      top[["sku", "week_start", "baseline_units", "sensed_units", "delta_units"]], 10))},
        check_results=[dg.AssetCheckResult(check_name="sensed_non_negative", passed=sensed_breaks.empty,
                                           description=describe_forecast_breaks(sensed_breaks, "sensed units"),
                                           metadata={"breaks": len(sensed_breaks), "rows": len(sensed)})],
    )


# --------------------------------------------------------------------------- bias + consensus

@dg.multi_asset(
    specs=[
        dg.AssetSpec(BIAS, deps=[DEMAND_WEEKLY, SALES_FC, ITEMS, FORECAST], **COMMON, description=(
            "Bias and tracking signal of the sales/marketing forecast vs actuals over the last 13 snapshots, "
            "per family and per SKU, with the sales_optimism flag (bias > +10% and tracking signal > 4) and "
            "the latest submission's gap to the statistical forecast.")),
        dg.AssetSpec(CONSENSUS, deps=[SALES_FC, FORECAST, OUTLIERS], **COMMON, description=(
            "Consensus units per SKU x horizon week: the latest sales submission, with the optimism filter "
            "(flagged inputs shrunk 50% toward the statistical forecast, unsupported hockey-stick weeks "
            "replaced by it); the units shrunk and the rule are recorded.")),
    ],
    pool=WAREHOUSE_POOL,
)
def demand_bias(warehouse: Warehouse):
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        absent = absent_extracts(con)
        sales_fc = _sales_forecast(con, absent)
        history = read_table(con, "select sku, week_start, units from intermediate.int_demand_weekly")
        items = read_table(con, "select sku, family from staging.stg_erp__items")
        stat = read_table(con, "select * from analytics.demand_forecast")
        hockey = _hockey_weeks(con)
        table = bias.forecast_bias(sales_fc, _actuals(history), items, as_of)
        gap = bias.compare_with_statistical(sales_fc, stat, as_of)
        table = table.merge(gap[["level", "family", "sku", "sales_units", "statistical_units", "gap"]].rename(
            columns={"sales_units": "latest_sales_units_13w", "statistical_units": "statistical_units_13w",
                     "gap": "latest_gap_to_statistical"}), on=["level", "family", "sku"], how="left")
        cons = bias.consensus(sales_fc, stat, table, hockey, as_of)
        if sales_fc is None:
            cons["rule"] = "no sales forecast (sales_forecast extract absent): statistical forecast"
        table.insert(0, "cycle_id", as_of)
        cons.insert(0, "cycle_id", as_of)
        table = _typed(table, floats=["forecast_units", "actual_units", "bias", "tracking_signal", "mad_units",
                                      "latest_sales_units_13w", "statistical_units_13w", "latest_gap_to_statistical"],
                       ints=["snapshots", "weeks", "snapshots_over"], bools=["sales_optimism"],
                       dates=["cycle_id", "first_snapshot", "last_snapshot"],
                       texts=["level", "family", "sku", "forecast_source", "reason"])
        cons = _typed(cons, floats=["sales_units", "statistical_units", "consensus_units", "shrunk_units"],
                      ints=["horizon_week"], dates=["cycle_id", "week_start", "snapshot_date"],
                      texts=["sku", "family", "forecast_source", "rule"])
        meta_bias = write_table(con, "demand_bias", table)
        meta_cons = write_table(con, "demand_consensus", cons)
    flagged = table[table.sales_optimism.astype(bool)] if len(table) else table
    fam = table[table.level == "family"] if len(table) else table
    note = "sales_forecast extract absent: no bias computed, consensus = statistical forecast" \
        if sales_fc is None else "none"
    yield dg.MaterializeResult(asset_key=BIAS, metadata={
        **meta_bias, "missing_signals": note,
        "optimistic_families": ", ".join(sorted(set(flagged.loc[flagged.level == "family", "family"]))) or "none",
        "optimistic_skus": int((flagged.level == "sku").sum()) if len(flagged) else 0,
        "by_family": dg.MetadataValue.md(markdown_table(
            fam[["forecast_source", "family", "bias", "tracking_signal", "sales_optimism"]] if len(fam) else fam, 12))})
    yield dg.MaterializeResult(asset_key=CONSENSUS, metadata={
        **meta_cons, "missing_signals": note,
        "units_shrunk_13w": round(float(cons.shrunk_units.sum()), 1),
        "by_rule": dg.MetadataValue.md(markdown_table(
            cons.groupby("rule", as_index=False).agg(sku_weeks=("sku", "size"), units_shrunk=("shrunk_units", "sum"))))})


def _hockey_weeks(con) -> pd.DataFrame:
    return read_table(con, "select snapshot_date, forecast_source, sku, week_start, lag, weeks_flagged "
                           "from analytics.demand_outliers where kind = 'hockey_stick'")


# --------------------------------------------------------------------------- backtest

@dg.asset(
    key=BACKTEST, deps=[DEMAND_WEEKLY, PROMOS, SALES_FC, ORDERS, CYCLE], pool=WAREHOUSE_POOL, **COMMON,
    description="Rolling-origin backtest: the forecast code re-run as of each of the last 26 weekly origins "
                "(history cut at the origin, outliers re-detected, model refitted every 4th origin), scored "
                "per SKU x week x lag 1-13 for the ML forecast, the sensed ML forecast, the sales forecast at "
                "the matching lag and seasonal naive. forecast_accuracy aggregates it.",
    check_specs=[dg.AssetCheckSpec("beats_seasonal_naive", asset=BACKTEST, blocking=False, description=(
        "Warning only (not blocking): backtest WAPE of the ML forecast is at least 10% below seasonal naive. A "
        "failure means the model is not better than last year's actuals and the data pack should say so; the "
        "cycle still runs and publishes."))],
)
def demand_backtest(warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        absent = absent_extracts(con)
        history = _history(con)
        result = bt.backtest(history, as_of, _promotions(con, absent), _sales_forecast(con, absent),
                             _orders(con, absent))
        errors = result.errors.copy()
        errors.insert(0, "cycle_id", as_of)
        errors = _typed(errors, floats=["forecast_units", "actual_units"], ints=["lag"],
                        dates=["cycle_id", "origin", "week_start"], texts=["sku", "family", "method"])
        meta = write_table(con, "demand_backtest", errors)
    s = result.summary.set_index("method") if len(result.summary) else pd.DataFrame(columns=["wape", "bias"])
    ml = float(s.wape.get("lightgbm", np.nan))
    naive = float(s.wape.get("seasonal_naive", np.nan))
    improvement = 1 - ml / naive if naive > 0 else float("nan")
    return dg.MaterializeResult(
        metadata={**meta, "wape_lightgbm_pct": _pct(ml), "wape_seasonal_naive_pct": _pct(naive),
                  "wape_sales_forecast_pct": _pct(float(s.wape.get("sales_forecast", np.nan))),
                  "wape_lightgbm_sensed_pct": _pct(float(s.wape.get("lightgbm_sensed", np.nan))),
                  "improvement_vs_naive_pct": _pct(improvement), "origins": int(errors.origin.nunique()),
                  "model_fits": result.fits, "seconds": round(result.seconds, 1),
                  "summary": dg.MetadataValue.md(markdown_table(result.summary))},
        check_results=[dg.AssetCheckResult(check_name="beats_seasonal_naive",
                                           passed=bool(np.isfinite(improvement) and improvement >= 0.10),
                                           metadata={"improvement_vs_naive_pct": _pct(improvement)})],
    )


ASSETS = [demand_outliers, demand_forecast, demand_sensing, demand_bias, demand_backtest]
