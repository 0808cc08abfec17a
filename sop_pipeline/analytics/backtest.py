"""Rolling-origin backtest: the same forecast code re-run at earlier as-of dates.

Origins are the cycle's as-of minus 1, 2, ... ``origins`` weeks (same weekday, so the same
complete-week rule). At each origin the history is cut to the complete weeks before it, the
outliers and censored weeks are detected again on that cut (no look-ahead), the forecast is
made for horizon weeks 1-13, and every forecast week that is complete at the cycle's as-of is
scored against what happened. Lag k = horizon week k of the origin (KPI_DEFINITIONS.md).

Methods, side by side on the same SKU-weeks:
    * ``lightgbm``: the statistical forecast (``forecasting``), summed over locations;
    * ``lightgbm_sensed``: the same after sensing with the orders booked by the origin
      (weeks 1-6; the week-0 POS nowcast is not replayed);
    * ``sales_forecast``: the sales submission whose snapshot week is k weeks before the week
      (source 'sales'; another source only when there is no 'sales' row);
    * ``seasonal_naive``: the SKU's units of the same week a year (52 weeks) earlier; the last
      week's units when the SKU did not sell then.
Rows are kept only where every available method has a forecast, so the comparison is fair.

Cost: the model is refitted every ``retrain_every`` (4) origins, oldest first, with lighter
settings than the cycle's forecast (50,000 sampled training rows instead of 100,000, 100
boosting rounds at learning rate 0.15, no quantile models - as accurate on demo data) and
reused for the next 3 origins, as a monthly retrain would be in production; a model is only
ever applied at origins on or after the one it was fitted at, so nothing leaks. 26 origins =
7 fits; on `small` the whole backtest takes ~15-30 s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from sop_pipeline.analytics import forecasting, outliers, sensing
from sop_pipeline.analytics.forecasting import ForecastConfig, last_complete_week

BACKTEST_COLUMNS = ["origin", "sku", "family", "week_start", "lag", "method", "forecast_units", "actual_units"]
METHODS = ("lightgbm", "lightgbm_sensed", "sales_forecast", "seasonal_naive")


@dataclass(frozen=True)
class BacktestConfig:
    origins: int = 26
    retrain_every: int = 4
    horizon_weeks: int = 13
    sensing: bool = True
    forecast: ForecastConfig = field(
        default_factory=lambda: ForecastConfig(
            with_quantiles=False, max_train_rows=50_000, num_boost_round=100, learning_rate=0.15
        )
    )


@dataclass
class BacktestResult:
    errors: pd.DataFrame  # BACKTEST_COLUMNS, one row per origin x SKU x week x method
    summary: pd.DataFrame  # method x (wape, bias, rows, origins)
    seconds: float
    fits: int


def actuals_by_sku(history: pd.DataFrame) -> pd.DataFrame:
    """Observed units per SKU x week over every location and channel (raw, not cleansed)."""
    return (
        history.assign(week_start=pd.to_datetime(history["week_start"]))
        .groupby(["sku", "week_start"], as_index=False, observed=True)["units"]
        .sum()
        .rename(columns={"units": "actual_units"})
    )


def _cut(history: pd.DataFrame, origin: date) -> pd.DataFrame:
    return history[pd.to_datetime(history["week_start"]) <= pd.Timestamp(last_complete_week(origin))]


def cleanse_at(history: pd.DataFrame) -> pd.DataFrame:
    """Outlier + censoring cleansing of a history cut (the forecast asset's recipe)."""
    return outliers.cleanse_history(history, outliers.detect_history_outliers(history))


def _naive(actuals: pd.DataFrame, fc: pd.DataFrame, origin: date) -> np.ndarray:
    piv = actuals.set_index(["sku", "week_start"])["actual_units"]
    ly = piv.reindex(pd.MultiIndex.from_arrays([fc.sku, fc.week_start - pd.Timedelta(weeks=52)])).to_numpy()
    last = pd.Timestamp(last_complete_week(origin))
    lw = piv.reindex(pd.MultiIndex.from_arrays([fc.sku, pd.Series(last, index=fc.index)])).fillna(0.0).to_numpy()
    return np.where(np.isnan(ly), lw, ly)


def _sales_at_lag(sales_forecast: pd.DataFrame | None) -> pd.DataFrame | None:
    """Sales forecast units per SKU x week x lag (lag = weeks from the snapshot's week)."""
    if sales_forecast is None or sales_forecast.empty:
        return None
    sf = sales_forecast.assign(
        snapshot_date=pd.to_datetime(sales_forecast["snapshot_date"]),
        week_start=pd.to_datetime(sales_forecast["week_start"]),
    )
    sources = set(sf.forecast_source)
    if "sales" in sources:
        sf = sf[sf.forecast_source == "sales"]
    snap_week = sf.snapshot_date - pd.to_timedelta(sf.snapshot_date.dt.day_of_week, unit="D")
    sf = sf.assign(lag=((sf.week_start - snap_week).dt.days // 7).astype(int))
    return sf.groupby(["sku", "week_start", "lag"], as_index=False)["units"].sum()


def backtest(
    history: pd.DataFrame,
    as_of: date,
    promotions: pd.DataFrame | None = None,
    sales_forecast: pd.DataFrame | None = None,
    orders: pd.DataFrame | None = None,
    config: BacktestConfig = BacktestConfig(),
) -> BacktestResult:
    """Rolling-origin backtest over the ``config.origins`` weekly origins before ``as_of``.

    history: int_demand_weekly rows (raw units; cleansing is redone per origin).
    Returns error rows (BACKTEST_COLUMNS) for weeks complete at ``as_of`` and a summary.
    """
    started = time.perf_counter()
    cfg = config
    fcfg = replace(cfg.forecast, horizon_weeks=cfg.horizon_weeks)
    actuals = actuals_by_sku(history)
    scored_until = pd.Timestamp(last_complete_week(as_of))
    sales = _sales_at_lag(sales_forecast)
    origins = [as_of - timedelta(weeks=k) for k in range(cfg.origins, 0, -1)]  # oldest first
    model = None
    fits = 0
    parts = []
    for n, origin in enumerate(origins):
        cut = _cut(history, origin)
        if cut.empty:
            continue
        clean = cleanse_at(cut)
        refit = model is None or n % cfg.retrain_every == 0
        try:
            result = forecasting.forecast(
                clean, origin, promotions, fcfg, model=None if refit else model, rollups=False
            )
        except ValueError:  # too little history at this origin
            continue
        if refit:
            model, fits = result.model, fits + 1
        loc = result.location[result.location.horizon_week >= 1]
        fc = loc.groupby(["sku", "family", "week_start", "horizon_week"], as_index=False, observed=True)[
            "units_p50"
        ].sum()
        fc = fc[fc.week_start <= scored_until]
        if fc.empty:
            continue
        fc = fc.rename(columns={"horizon_week": "lag", "units_p50": "lightgbm"})
        fc["seasonal_naive"] = _naive(
            actuals[actuals.week_start <= pd.Timestamp(last_complete_week(origin))], fc, origin
        )
        if cfg.sensing and orders is not None and len(orders):
            sensed = sensing.sense(loc, origin, orders=orders, config=sensing.SensingConfig(window_weeks=6))
            s = sensed.set_index(["sku", "week_start"])["sensed_units"]
            got = s.reindex(pd.MultiIndex.from_arrays([fc.sku, fc.week_start])).to_numpy()
            fc["lightgbm_sensed"] = np.where(np.isnan(got), fc.lightgbm, got)
        if sales is not None:
            fc = fc.merge(
                sales.rename(columns={"units": "sales_forecast"}), on=["sku", "week_start", "lag"], how="inner"
            )
        fc["origin"] = pd.Timestamp(origin)
        parts.append(fc)
    if not parts:
        return BacktestResult(
            pd.DataFrame(columns=BACKTEST_COLUMNS), pd.DataFrame(), time.perf_counter() - started, fits
        )
    wide = pd.concat(parts, ignore_index=True).merge(actuals, on=["sku", "week_start"], how="left")
    wide["actual_units"] = wide.actual_units.fillna(0.0)
    methods = [m for m in METHODS if m in wide]
    long = wide.melt(
        id_vars=["origin", "sku", "family", "week_start", "lag", "actual_units"],
        value_vars=methods,
        var_name="method",
        value_name="forecast_units",
    )
    long["forecast_units"] = long.forecast_units.clip(lower=0.0)
    errors = long[BACKTEST_COLUMNS].sort_values(["origin", "method", "sku", "week_start"]).reset_index(drop=True)
    return BacktestResult(errors=errors, summary=summarize(errors), seconds=time.perf_counter() - started, fits=fits)


def summarize(errors: pd.DataFrame) -> pd.DataFrame:
    """WAPE and bias per method over all lags (KPI_DEFINITIONS.md), plus origins and rows."""
    e = errors.assign(
        abs_err=(errors.forecast_units - errors.actual_units).abs(), err=errors.forecast_units - errors.actual_units
    )
    g = e.groupby("method").agg(
        abs_err=("abs_err", "sum"),
        err=("err", "sum"),
        actual=("actual_units", "sum"),
        rows=("sku", "size"),
        origins=("origin", "nunique"),
    )
    g["wape"] = g.abs_err / g.actual
    g["bias"] = g.err / g.actual
    return g[["wape", "bias", "rows", "origins"]].reset_index()


def accuracy(errors: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """MAPE, WAPE, bias and mix error (KPI_DEFINITIONS.md) by ``by`` (default family, lag, method).

    Mix error = SKU-level WAPE - family-level WAPE (family totals per origin and week). The dbt
    mart forecast_accuracy computes the same in SQL; this is its reference implementation.
    """
    by = by or ["family", "lag", "method"]
    e = errors.assign(
        abs_err=(errors.forecast_units - errors.actual_units).abs(), err=errors.forecast_units - errors.actual_units
    )
    e["ape"] = np.where(e.actual_units > 0, e.abs_err / e.actual_units.where(e.actual_units > 0), np.nan)
    sku = e.groupby(by).agg(
        abs_err=("abs_err", "sum"),
        err=("err", "sum"),
        actual=("actual_units", "sum"),
        mape=("ape", "mean"),
        cycles=("origin", "nunique"),
    )
    fam_keys = ["origin", "week_start", *[c for c in by if c != "sku"]]
    fam = e.groupby(fam_keys, as_index=False)[["forecast_units", "actual_units"]].sum()
    fam["abs_err"] = (fam.forecast_units - fam.actual_units).abs()
    fam = fam.groupby(by)["abs_err"].sum()
    out = sku.assign(wape=sku.abs_err / sku.actual, bias=sku.err / sku.actual)
    out["mix_error"] = out.wape - fam.reindex(out.index) / out.actual
    return out[["mape", "wape", "bias", "mix_error", "cycles"]].reset_index()
