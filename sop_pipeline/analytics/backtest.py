"""Rolling-origin backtest: the same forecast code re-run at earlier as-of dates.

Origins are the cycle's as-of minus 1, 2, ... ``origins`` weeks (same weekday, so the same
complete-week rule); with ``origin_step`` = s they are s weeks apart instead (as-of minus s, 2s,
...: 26 origins then span 26 x s weeks; benchmarks/forecast.py ``--origin-step``; the pipeline
keeps weekly origins, benchmarks/README.md says why). At each origin the history is cut to the
complete weeks before it, the outliers and censored weeks are detected again on that cut (no
look-ahead), the forecast is made for horizon weeks 1-13, and every forecast week that is complete
at the cycle's as-of is scored against what happened. Lag k = horizon week k of the origin (KPI_DEFINITIONS.md).

Methods, side by side on the same SKU-weeks:
    * ``lightgbm``: the statistical forecast (``forecasting``), summed over locations;
    * ``lightgbm_sensed``: the same after sensing with the orders booked by the origin
      (weeks 1-6; the week-0 POS nowcast is not replayed);
    * ``sales_forecast``: the sales submission whose snapshot week is k weeks before the week
      (source 'sales'; another source only when there is no 'sales' row);
    * ``seasonal_naive``: the SKU's units of the same week a year (52 weeks) earlier; the last
      week's units when the SKU did not sell then.
Rows are kept only where every available method has a forecast, so the comparison is fair.

Calibration origins. The calibrated p10/p90 (``methods.calibrate``) are the quantiles of the
chosen methods' residuals at origins every ``calibration_step`` (2) weeks over the last
``calibration_weeks`` (52): every second weekly origin, plus 13 older origins (28..52 weeks before
the as-of) that are scored for the calibration only - their rows feed neither the error rows, the
method selection, forecast value added nor sensing, so all of those are what the 26 weekly origins
give. Why a year: 26 weekly origins span half a year, and on 54 public 13-week windows their
quantiles were too narrow (the band covered 74% of actuals: 12% below p10, 14% above p90); a
year of origins 2 weeks apart covered 77% (11% / 12%) at a lower pinball loss (benchmarks/README.md,
"A year of calibration origins"). ``calibration_weeks`` = 0 calibrates on the weekly origins.

Cost: the model is refitted every 4 weeks (``refit_every`` origins: 4 weekly ones), oldest
first, with lighter settings than the cycle's forecast (50,000 sampled training rows instead of
100,000, 100 boosting rounds at learning rate 0.15, no quantile models - as accurate on demo data)
and reused until the next refit (the next 3 weekly origins), as a monthly retrain would be in
production; a model is only ever applied at origins on or after the one it was fitted at, so
nothing leaks. 26 origins = 7 fits, and the 13 calibration-only origins 7 more (every second one,
oldest first; the weekly origins' fits are the same with or without them); on `small` the whole
backtest takes ~15-30 s. Above ``calibration_series`` (4,000) series the calibration reads a fixed
sample of about that many series (``calibration_skus``: whole SKUs, picked by a hash of the SKU
code), and the calibration-only origins fit and score only those: at `large` (30,000 series) they
cost about 13/8 origins instead of 13.
"""

from __future__ import annotations

import ctypes
import time
import zlib
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from sop_pipeline.analytics import forecasting, methods, outliers, sensing
from sop_pipeline.analytics.forecasting import ForecastConfig, last_complete_week

# the history columns the backtest reads (the forecast panel, outliers and censoring, actuals)
HISTORY_COLUMNS = [
    "sku",
    "location",
    "channel",
    "family",
    "category",
    "lifecycle",
    "week_start",
    "units",
    "revenue",
    "list_price",
    "is_promo",
    "is_stockout",
]
BACKTEST_COLUMNS = ["origin", "sku", "family", "week_start", "lag", "method", "forecast_units", "actual_units"]
METHODS = ("lightgbm", "lightgbm_sensed", "sales_forecast", "seasonal_naive")
RETRAIN_WEEKS = 4  # the global model is refitted about monthly, as in production


@dataclass(frozen=True)
class BacktestConfig:
    origins: int = 26
    origin_step: int = 1  # weeks between origins (oldest = as_of - origins x origin_step weeks)
    retrain_every: int | None = None  # origins between refits; None: every 4 weeks (4 // origin_step origins)
    # the calibration's origins: every calibration_step weeks over the last calibration_weeks (module doc);
    # those older than the oldest of ``origins`` are scored for the calibration only. 0: the origins above
    calibration_weeks: int = 52
    calibration_step: int = 2
    # above this many series the calibration reads a fixed sample of the SKUs (``calibration_skus``)
    calibration_series: int = 4_000
    horizon_weeks: int = 13
    sensing: bool = True
    select_methods: bool = True  # score every candidate per SKU x location (methods.py)
    forecast: ForecastConfig = field(
        default_factory=lambda: ForecastConfig(
            with_quantiles=False, max_train_rows=50_000, num_boost_round=100, learning_rate=0.15
        )
    )

    @property
    def refit_every(self) -> int:
        """Origins between two refits of the global model (``retrain_every``, else a monthly refit)."""
        return self.retrain_every or max(1, RETRAIN_WEEKS // max(1, self.origin_step))


@dataclass
class BacktestResult:
    errors: pd.DataFrame  # BACKTEST_COLUMNS, one row per origin x SKU x week x method
    summary: pd.DataFrame  # method x (wape, bias, rows, origins)
    seconds: float
    fits: int
    # per SKU x location: the chosen method and the candidates' backtest WAPE (methods.select)
    selection: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=methods.SELECTION_COLUMNS))
    calibration: methods.Calibration = field(
        default_factory=lambda: methods.Calibration(pd.DataFrame(columns=methods.CALIBRATION_COLUMNS))
    )
    # WAPE of selection judged forward (older origins pick, newer score) vs each candidate alone on the same series-weeks
    selection_wape: dict = field(default_factory=dict)
    series_rows: int = 0
    series: pd.DataFrame | None = None  # the series-level rows behind selection and calibration


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


class _WholeHistory:
    """The history read once into dense series x week arrays; ``at(origin)`` is the panel that
    cutting the history at the origin, cleansing the cut (outliers and censored weeks detected
    on it alone) and ``forecasting.build_panel`` would give - the same numbers, without
    re-reading millions of rows per origin. Every array it slices is causal (week t depends on
    weeks <= t) or known ahead (promotions), and the cleansing is recomputed on the cut."""

    def __init__(self, history: pd.DataFrame, as_of: date, promotions: pd.DataFrame | None, future_weeks: int):
        self.promotions = promotions
        self.panel = forecasting.build_panel(
            history, as_of, promotions, future_weeks=future_weeks, units_column="units"
        )
        last = np.datetime64(last_complete_week(as_of), "D")
        wk = pd.to_datetime(history["week_start"]).to_numpy().astype("datetime64[D]")
        h = history[["sku", "location", "units", "is_promo", "is_stockout"]][wk <= last]
        self.first_week = self.panel.weeks[0]
        codes = h.groupby(["sku", "location"], sort=True, observed=True).ngroup().to_numpy()  # build_panel's order
        wi = (wk[wk <= last] - self.first_week).astype(np.int64) // 7
        shape = (self.panel.n_series, self.panel.n_hist)
        self.units = np.full(shape, np.nan)  # units where the series has a row, NaN elsewhere
        self.promo = np.zeros(shape, dtype=bool)
        self.stock = np.zeros(shape, dtype=bool)
        self.units[codes, wi] = h["units"].to_numpy(dtype=float)
        self.promo[codes, wi] = h["is_promo"].fillna(False).to_numpy(dtype=bool)
        self.stock[codes, wi] = h["is_stockout"].fillna(False).to_numpy(dtype=bool)
        self.store_weeks = outliers.StoreWeeks.of(history[outliers.HISTORY_COLUMNS][wk <= last])
        # one sorted category set per key for every origin's series rows, so their concatenation
        # stays categorical (1-2 bytes a row) instead of falling back to Python strings
        self.categories = {
            c: pd.Index(sorted(map(str, self.panel.keys[c].astype(object).unique()))) for c in ("sku", "location")
        }

    def subset(self, rows: np.ndarray) -> _WholeHistory:
        """The whole history of the series ``rows`` only (e.g. one product family's): every cut
        ``at`` an origin is the whole history's cut restricted to these series, the same numbers
        (the cleansing is per SKU, the store calendar and the key categories stay the whole's)."""
        out = object.__new__(_WholeHistory)
        out.panel = self.panel.subset(rows)
        skus = set(out.panel.keys["sku"])
        out.promotions = self.promotions[self.promotions["sku"].isin(skus)] if self.promotions is not None else None
        out.first_week = self.first_week
        out.units, out.promo, out.stock = self.units[rows], self.promo[rows], self.stock[rows]
        sw = self.store_weeks
        if sw is not None:
            cols = [c for c in sw.units.columns if c in skus]
            sw = outliers.StoreWeeks(sw.units[cols], sw.promo[cols], sw.stock[cols], sw.family)
        out.store_weeks = sw
        out.categories = self.categories
        return out

    def family_rows(self) -> list[tuple[object, np.ndarray]]:
        """(family, its series' rows) per product family, in first-seen order."""
        return forecasting.family_rows(self.panel)

    def n_hist_at(self, origin: date) -> int | None:
        """The number of history weeks of the cut at ``origin`` (None when no series has a row by then)."""
        last = np.datetime64(last_complete_week(origin), "D")
        n_hist = int((last - self.first_week).astype(np.int64) // 7) + 1
        return n_hist if n_hist > 0 and (self.panel.first < n_hist).any() else None

    def at(self, origin: date, future_weeks: int) -> forecasting.Panel | None:
        """The cleansed panel as of ``origin`` (None when no series has a row by then)."""
        p = self.panel
        last = np.datetime64(last_complete_week(origin), "D")
        n_hist = self.n_hist_at(origin)
        if n_hist is None:
            return None
        keep = p.first < n_hist
        units = self.units[keep, :n_hist]
        censored = outliers.censored_cells(units.T, self.promo[keep, :n_hist].T, self.stock[keep, :n_hist].T).T
        factor = np.ones(units.shape)
        store = self.store_weeks.upto(last) if self.store_weeks is not None else None
        flags = outliers.outliers_in(store)
        if len(flags):
            keys = p.keys[keep].reset_index(drop=True)
            series = pd.DataFrame({"sku": keys.sku, "col": np.arange(len(keys))})[keys.channel.eq("store").to_numpy()]
            f = flags[["sku", "week_start", "value", "expected"]].merge(series, on="sku", how="inner")
            week = (pd.to_datetime(f.week_start).to_numpy().astype("datetime64[D]") - self.first_week).astype(np.int64)
            factor[f.col.to_numpy(), week // 7] = (f.expected / f.value).to_numpy()
        present = ~np.isnan(units)
        after = np.arange(n_hist)[None, :] >= p.first[keep][:, None]
        clean = np.where(present, np.where(censored, np.nan, units * factor), np.where(after, 0.0, np.nan))
        return forecasting.panel_upto(p, n_hist, clean, keep, self.promotions, future_weeks)


def _release_freed_memory() -> None:
    """Return the C heap's freed pages to the OS (glibc ``malloc_trim``; a no-op elsewhere). The
    origins' temporaries leave ~0.5 GB freed but still resident at large (measured: 3.35 -> 2.87 GB
    after the selection), which the selection's working set would otherwise add to."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def scored_weeks(origin: date, as_of: date, horizon_weeks: int) -> int:
    """Horizon weeks of ``origin`` that are complete at ``as_of`` (the only ones scored)."""
    week1 = pd.Timestamp(last_complete_week(origin)) + pd.Timedelta(weeks=1)
    return int(np.clip((pd.Timestamp(last_complete_week(as_of)) - week1).days // 7 + 1, 0, horizon_weeks))


@dataclass
class FitPlan:
    """The global models of a backtest: per origin (oldest first) the model applied there, or
    None where the origin is skipped (no history yet, a failed fit). One model is fitted on every
    series at once and reused for ``retrain_every`` origins; ``score`` applies it to any subset of
    the series (e.g. one family's), so the fits and the scoring can run in different steps. The
    first ``calibration_only`` origins are the older calibration origins (``calibration_origins``)."""

    origins: list[date]
    models: list
    fits: int
    gap: list[int]
    calibration_only: int = 0
    calibration: list[date] = field(default_factory=list)  # every calibration origin (``calibration_origins``)
    calibration_stride: int = 1  # 1: every SKU calibrates; k: the SKUs of ``calibration_skus(.., k)``

    @property
    def scope(self) -> RowScope:
        """Which series rows ``combine`` gives the selection and the calibration."""
        main_from = self.origins[self.calibration_only] if self.calibration_only < len(self.origins) else None
        return RowScope(tuple(self.calibration), main_from, self.calibration_stride)


@dataclass(frozen=True)
class RowScope:
    """Which of the backtest's series rows feed what (``FitPlan.scope``): the method selection reads
    the rows from ``main_from`` on (the backtest's own origins, after the calibration-only ones;
    None: every row); the calibration reads the rows of the ``calibration`` origins (None: every
    row) and, at ``stride`` > 1, of the sampled SKUs only (``calibration_skus``)."""

    calibration: tuple[date, ...] | None = None
    main_from: date | None = None
    stride: int = 1


@dataclass
class Inputs:
    """What ``score`` reads besides the dense history: actual units per SKU-week, the sales
    forecast per lag, the booked orders (the whole book: sensing's booking curve pools every SKU)."""

    actuals: pd.DataFrame
    sales: pd.DataFrame | None
    live: pd.DataFrame | None

    def for_skus(self, skus: set) -> Inputs:
        """The rows of these SKUs (the booked orders stay whole)."""
        return Inputs(
            self.actuals[self.actuals["sku"].isin(skus)],
            self.sales[self.sales["sku"].isin(skus)] if self.sales is not None else None,
            self.live,
        )


def prepare(
    history: pd.DataFrame,
    as_of: date,
    promotions: pd.DataFrame | None = None,
    sales_forecast: pd.DataFrame | None = None,
    orders: pd.DataFrame | None = None,
    config: BacktestConfig = BacktestConfig(),
) -> tuple[_WholeHistory | None, Inputs]:
    """The history as dense arrays and the inputs ``score`` reads (``backtest``'s first step)."""
    whole = _WholeHistory(history, as_of, promotions, future_weeks=config.horizon_weeks + 2) if len(history) else None
    live = sensing.live_orders(orders) if config.sensing and orders is not None and len(orders) else None
    return whole, Inputs(actuals_by_sku(history), _sales_at_lag(sales_forecast), live)


def _origins(as_of: date, cfg: BacktestConfig) -> list[date]:
    step = max(1, cfg.origin_step)
    return [as_of - timedelta(weeks=k * step) for k in range(cfg.origins, 0, -1)]  # oldest first


def calibration_origins(as_of: date, cfg: BacktestConfig) -> list[date]:
    """The origins whose residuals calibrate p10/p90: every ``calibration_step`` weeks over the last
    ``calibration_weeks`` (oldest first); with ``calibration_weeks`` = 0, the backtest's origins."""
    if cfg.calibration_weeks <= 0:
        return _origins(as_of, cfg)
    step = max(1, cfg.calibration_step)
    return [as_of - timedelta(weeks=k * step) for k in range(cfg.calibration_weeks // step, 0, -1)]


def calibration_skus(skus, stride: int) -> np.ndarray:
    """Whether each SKU is in the calibration's sample: all of them at stride 1, else the SKUs
    whose CRC-32 is a multiple of ``stride`` (about 1 in ``stride``, the same SKUs in every run and
    in every family's part; every location of a sampled SKU is in, as the cleansing is per SKU)."""
    skus = np.asarray(skus, dtype=object)
    if stride <= 1:
        return np.ones(len(skus), dtype=bool)
    return np.array([zlib.crc32(str(k).encode()) % stride == 0 for k in skus], dtype=bool)


def _calibration_stride(whole: _WholeHistory | None, cfg: BacktestConfig) -> int:
    """1 up to ``calibration_series`` series, else the stride that samples about that many."""
    n = whole.panel.n_series if whole is not None else 0
    return max(1, -(-n // max(1, cfg.calibration_series)))


def _calibration_subset(whole: _WholeHistory, stride: int) -> _WholeHistory | None:
    """The series of the calibration's sampled SKUs (``whole`` itself at stride 1; None if none)."""
    if stride <= 1:
        return whole
    rows = np.flatnonzero(calibration_skus(whole.panel.keys["sku"].to_numpy(), stride))
    return whole.subset(rows) if len(rows) else None


def _older_calibration_origins(as_of: date, cfg: BacktestConfig) -> list[date]:
    """The calibration origins older than every backtest origin: scored for the calibration only."""
    main = _origins(as_of, cfg)
    return [o for o in calibration_origins(as_of, cfg) if main and o < main[0]]


def plan_fits(whole: _WholeHistory | None, as_of: date, config: BacktestConfig = BacktestConfig()) -> FitPlan:
    """Fit the global model at the refit origins (every ``retrain_every``-th, and whenever there is
    no model yet) on the cut of every series; an origin where the fit or the forecast's horizon
    check fails is skipped, as is the model fitted there. At the calibration-only origins the fits
    are on the calibration's sampled SKUs (every series up to ``calibration_series`` of them)."""
    cfg = config
    fcfg = replace(cfg.forecast, horizon_weeks=cfg.horizon_weeks)
    older = _older_calibration_origins(as_of, cfg) if cfg.select_methods else []
    origins = older + _origins(as_of, cfg)
    plan = FitPlan(
        origins,
        [None] * len(origins),
        0,
        [0 if o.weekday() == 6 else 1 for o in origins],
        len(older),
        calibration_origins(as_of, cfg),
        _calibration_stride(whole, cfg),
    )
    sampled = _calibration_subset(whole, plan.calibration_stride) if older and whole is not None else None
    # the calibration-only origins refit every 4 weeks too; the backtest's origins start afresh, so
    # their models are the ones they would have without the older origins
    older_every = max(1, RETRAIN_WEEKS // max(1, cfg.calibration_step))
    model = None
    for n, origin in enumerate(origins):
        k = n - len(older)  # index among the backtest's origins (negative: a calibration-only one)
        if k == 0:
            model = None
        gap = plan.gap[n]
        future = cfg.horizon_weeks + gap + 1
        series = whole if k >= 0 else sampled
        n_hist = series.n_hist_at(origin) if series is not None else None
        if n_hist is None:  # no series has a row yet
            continue
        refit = model is None or (k % cfg.refit_every == 0 if k >= 0 else n % older_every == 0)
        try:
            if refit:  # the cleansed cut is only built where a model is fitted
                fitted = forecasting.fit(series.at(origin, future), fcfg, max_h=max(cfg.horizon_weeks + gap, 14))
            else:
                fitted = model
            n_weeks = scored_weeks(origin, as_of, cfg.horizon_weeks)
            if n_weeks:
                forecasting.check_horizon(whole.panel.weeks[: n_hist + future], n_hist, origin, n_weeks)
        except ValueError:  # too little history at this origin
            continue
        if refit:
            model, plan.fits = fitted, plan.fits + 1
        plan.models[n] = fitted
    return plan


def score(
    whole: _WholeHistory | None,
    plan: FitPlan,
    inputs: Inputs,
    as_of: date,
    config: BacktestConfig = BacktestConfig(),
) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """Forecast and score every origin with the plan's models, for the series of ``whole`` (all of
    them or a subset): (per origin, the SKU x week rows of every method; per origin, the series
    rows of every candidate when ``select_methods``). A subset's rows are the whole's restricted to
    its series."""
    cfg = config
    scored_until = pd.Timestamp(last_complete_week(as_of))
    actuals = inputs.actuals
    parts: list[pd.DataFrame] = []
    series_parts: list[pd.DataFrame] = []
    # the calibration-only origins score the calibration's sampled series (None: none of these)
    sampled = (
        _calibration_subset(whole, plan.calibration_stride) if plan.calibration_only and whole is not None else None
    )
    for n, origin in enumerate(plan.origins):
        fitted, gap = plan.models[n], plan.gap[n]
        at = whole if n >= plan.calibration_only else sampled
        if fitted is None or at is None:
            continue
        panel = at.at(origin, future_weeks=cfg.horizon_weeks + gap + 1)
        if panel is None:  # none of these series has a row by this origin
            continue
        # only the weeks complete at the as-of are scored, so only they are predicted
        n_weeks = scored_weeks(origin, as_of, cfg.horizon_weeks)
        loc = (
            forecasting.predict(fitted, panel, origin, n_weeks, include_week0=False)
            if n_weeks
            else pd.DataFrame(columns=["sku", "family", "week_start", "horizon_week", "units_p50"])
        )
        loc = loc[loc.horizon_week >= 1]
        if cfg.select_methods and n_weeks:
            series_parts.append(_series_rows(at, panel, loc, origin, n_weeks, gap))
        if n < plan.calibration_only:  # an older calibration origin: its series rows only
            continue
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
        if inputs.live is not None:
            # sensing.sense's sensed units (booked orders; lightgbm = its baseline, summed the same way)
            got = sensing.sensed_units(
                loc,
                fc[["sku", "week_start", "lag", "lightgbm"]].rename(
                    columns={"lag": "horizon_week", "lightgbm": "baseline_units"}
                ),
                origin,
                inputs.live,
                sensing.SensingConfig(window_weeks=6),
            )
            fc["lightgbm_sensed"] = np.where(np.isnan(got), fc.lightgbm, got)
        if inputs.sales is not None:
            fc = fc.merge(
                inputs.sales.rename(columns={"units": "sales_forecast"}), on=["sku", "week_start", "lag"], how="inner"
            )
        fc["origin"] = pd.Timestamp(origin)
        parts.append(fc)
    return parts, series_parts


def combine(
    parts: list[pd.DataFrame],
    series_parts: list[pd.DataFrame],
    inputs: Inputs,
    fits: int,
    started: float,
    categories: dict | None = None,
    scope: RowScope = RowScope(),
    incumbent: dict[str, str] | None = None,
) -> BacktestResult:
    """The error rows, the summary, and the method selection and calibration from the series rows
    of every part. ``categories`` (the whole history's key categories): the series rows come from
    subsets (one per family); they are put back in the whole's order (origin, series, lag), so the
    selection and calibration sum them in the same order, to the bit. ``scope`` (``FitPlan.scope``):
    which series rows the selection and the calibration read (the default: every row, both).
    ``incumbent``: the previous cycle's default method per intermittency class (`methods.incumbent`),
    which a challenger must clearly beat to replace (None: the fixed prior)."""
    if not parts:
        return BacktestResult(
            pd.DataFrame(columns=BACKTEST_COLUMNS), pd.DataFrame(), time.perf_counter() - started, fits
        )
    wide = pd.concat(parts, ignore_index=True).merge(inputs.actuals, on=["sku", "week_start"], how="left")
    parts.clear()
    wide["actual_units"] = wide.actual_units.fillna(0.0)
    scored = [m for m in METHODS if m in wide]
    long = wide.melt(
        id_vars=["origin", "sku", "family", "week_start", "lag", "actual_units"],
        value_vars=scored,
        var_name="method",
        value_name="forecast_units",
    )
    long["forecast_units"] = long.forecast_units.clip(lower=0.0)
    errors = long[BACKTEST_COLUMNS].sort_values(["origin", "method", "sku", "week_start"]).reset_index(drop=True)
    del wide, long
    result = BacktestResult(errors=errors, summary=summarize(errors), seconds=0.0, fits=fits)
    series_parts = [p for p in series_parts if len(p)]
    if series_parts:
        series = pd.concat(series_parts, ignore_index=True)
        series_parts.clear()  # the parts are a second copy of the rows
        if categories is not None:
            order = np.lexsort(
                (series["lag"].to_numpy(), series["location"].cat.codes, series["sku"].cat.codes, series["origin"])
            )
            series = series.take(order).reset_index(drop=True)
        _release_freed_memory()
        origin = series["origin"].to_numpy()
        main = origin >= np.datetime64(scope.main_from) if scope.main_from else np.ones(len(origin), bool)
        cal_rows = np.isin(origin, pd.to_datetime(list(scope.calibration)).to_numpy()) if scope.calibration else None
        if scope.stride > 1:  # the sampled SKUs' rows (the older origins scored no others)
            sku = series["sku"].astype("category").array
            keep = calibration_skus(sku.categories.to_numpy(), scope.stride)[sku.codes]
            cal_rows = keep if cal_rows is None else cal_rows & keep
        calib = series if cal_rows is None or cal_rows.all() else series[cal_rows].reset_index(drop=True)
        if not main.all():
            older = int((~main).sum())
            # the older origins' rows lead (origins oldest first): a slice, not a second copy of the rest
            series = series.iloc[older:] if not main[:older].any() else series[main]
            series = series.reset_index(drop=True)
        del origin, main, cal_rows
        result.selection = methods.select(series, prior=incumbent)
        for c in ("sku", "location"):  # keys as text, as before the series rows' keys were categorical
            if isinstance(result.selection[c].dtype, pd.CategoricalDtype):
                result.selection[c] = result.selection[c].astype(result.selection[c].dtype.categories.dtype)
        result.calibration = methods.calibrate(calib, methods.chosen_forecast(calib, result.selection))
        del calib
        result.selection_wape = methods.forward_selection(series)
        result.series_rows = len(series)
        result.series = series
    result.seconds = time.perf_counter() - started
    return result


def backtest(
    history: pd.DataFrame,
    as_of: date,
    promotions: pd.DataFrame | None = None,
    sales_forecast: pd.DataFrame | None = None,
    orders: pd.DataFrame | None = None,
    config: BacktestConfig = BacktestConfig(),
    incumbent: dict[str, str] | None = None,
) -> BacktestResult:
    """Rolling-origin backtest over the ``config.origins`` weekly origins before ``as_of``.

    history: int_demand_weekly rows (raw units; cleansing is redone per origin).
    Returns error rows (BACKTEST_COLUMNS) for weeks complete at ``as_of`` and a summary.
    In one call: ``prepare``, ``plan_fits``, ``score`` and ``combine``; the cycle's asset runs the
    same four in steps, ``score`` once per product family.
    """
    started = time.perf_counter()
    whole, inputs = prepare(history, as_of, promotions, sales_forecast, orders, config)
    plan = plan_fits(whole, as_of, config)
    parts, series_parts = score(whole, plan, inputs, as_of, config)
    fits, scope = plan.fits, plan.scope
    whole = plan = None  # not needed past the origins: free them for the selection
    return combine(parts, series_parts, inputs, fits, started, scope=scope, incumbent=incumbent)


def _series_rows(
    whole: _WholeHistory, panel: forecasting.Panel, loc: pd.DataFrame, origin: date, n_weeks: int, gap: int
) -> pd.DataFrame:
    """Backtest rows per SKU x location x lag at one origin: the actual units and every candidate's
    forecast (``methods.CANDIDATES``), the series' scale and intermittency class at the origin. Only
    series the global model forecast (not young family-profile, inactive or between-seasons ones) are
    candidates."""
    n = panel.n_series
    hs = np.arange(1, n_weeks + 1) + gap
    idx = panel.n_hist - 1 + hs
    known = idx < whole.panel.n_hist  # weeks complete at the cycle's as-of
    hs, idx = hs[known], idx[known]
    lgb_fc = loc["units_p50"].to_numpy(dtype=float).reshape(n, n_weeks)[:, known]
    model = loc["model"].to_numpy().reshape(n, n_weeks)[:, 0]
    rows = np.flatnonzero(model == forecasting.MODEL_LIGHTGBM)
    if not len(rows) or not len(hs):
        return pd.DataFrame()
    keep = np.flatnonzero(whole.panel.first < panel.n_hist)  # panel series -> whole-history series
    units = panel.units[rows]
    cand = methods.candidates(units, hs, lgb_fc[rows])
    actual = np.nan_to_num(whole.units[keep[rows]][:, idx])  # no row after the first sale = 0
    k = len(hs)
    keys = panel.keys.iloc[rows]
    frame = pd.DataFrame(
        {
            "sku": np.repeat(keys["sku"].to_numpy(), k),
            "location": np.repeat(keys["location"].to_numpy(), k),
            "origin": pd.Timestamp(origin),
            "lag": np.tile(hs - gap, len(rows)).astype(np.int16),
            "actual": actual.ravel().astype(np.float32),
            "lightgbm": lgb_fc[rows].ravel().astype(np.float32),
            **{m: cand[m].ravel().astype(np.float32) for m in methods.STAT_CANDIDATES},
            "scale": np.repeat(methods.series_scale(units), k).astype(np.float32),
            "intermittency": np.repeat(methods.intermittency_class(units), k),
        }
    )
    for c in ("sku", "location"):
        frame[c] = pd.Categorical(frame[c], categories=whole.categories[c])
    frame["intermittency"] = pd.Categorical(frame["intermittency"], categories=["intermittent", "smooth"])
    return frame


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
