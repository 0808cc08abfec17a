"""Candidate forecast methods per series, selection by backtest error, calibrated quantiles.

The cycle forecasts every SKU x location series with the candidates below and picks, per series,
one by rolling-origin backtest error (``analytics.backtest``; the rule: "Selection rule" below):

    * ``lightgbm``: the global LightGBM model (``forecasting``);
    * ``seasonal_naive``: the same week 52 weeks earlier (cleansed units; the mean of the last 4
      observed weeks when that week is missing);
    * ``exp_smoothing``: simple exponential smoothing (level only), smoothing constant chosen per
      series from ``SES_ALPHAS`` by in-sample one-step squared error over the last ``FIT_WEEKS``;
    * ``tsb``: Teunter-Syntetos-Babai for intermittent demand: the demand probability and the
      non-zero demand size are smoothed separately (the probability is updated every week, so an
      item that stopped selling decays to 0, unlike Croston); forecast = probability x size;
      constants chosen per series from ``TSB_ALPHAS`` x ``TSB_ALPHAS`` the same way;
    * ``combination``: the mean of lightgbm, seasonal_naive and exp_smoothing (an equal-weight
      combination: robust where no single method dominates, as on the public weekly retail data in
      benchmarks/README.md);
    * ``theta``: the Theta method (SES plus half the least-squares trend, Hyndman-Billah form);
    * ``croston_sba``: Croston with the Syntetos-Boylan bias correction (intermittent demand);
    * ``adida``: aggregate-disaggregate intermittent demand approach (SES on buckets of the mean
      inter-demand interval);
    * ``combination_intermittent``: the mean of exp_smoothing, tsb, croston_sba and adida;
    * ``theta_seasonal``, ``ses_seasonal``: theta and exp_smoothing on the seasonally adjusted
      history, re-seasonalised (``seasonal_index``: classical multiplicative decomposition on
      period 52 - ratios to the 2x52 moving average from 4 whole years, to a line with 2-3 - only
      where a stable season shows; elsewhere the same as the plain ones);
    * ``damped_trend``: Holt's damped additive trend, on the seasonally adjusted history;
    * ``combination_median``: the median of lightgbm, seasonal_naive, ses_seasonal, theta_seasonal
      and damped_trend (a median is robust to one member far off, e.g. last year's lumpy week).
    * ``seasonal_naive_trend``: seasonal naive x the year-on-year change of the level (mean of the
      last 13 weeks / the same 13 weeks a year earlier, kept within [1/3, 3]);
    * ``combination_trend``: the mean of lightgbm, seasonal_naive_trend, ses_seasonal,
      theta_seasonal and damped_trend - equal weights, every member season- and trend-aware (the
      prior of both classes since the third pass: ``combination``'s seasonal naive and SES are
      blind to a trend, and lagged growing series, e.g. -17% bias on the expedia data).

These are small numpy recursions vectorized over series (one pass over <= 104 weeks, every
smoothing constant at once), not ``statsforecast``: importing statsforecast costs ~10 s (numba,
fugue) and its JIT compile more on the first call, for models this small (measured in
benchmarks/README.md, "Forecast").

Selection metric. Per series, the candidates are ranked by the sum of absolute errors over the
same backtest rows (every origin x lag scored). On one series this ranks them exactly as WAPE
(sum |A - F| / sum A) and as MASE (mean |A - F| / the series' in-sample naive MAE) would: both
divide the same sum by a constant of the series. We publish WAPE because it is the KPI the
data pack uses everywhere (KPI_DEFINITIONS.md) and it reads in the planner's units; unlike WAPE,
the ranking is defined even for a series that sold nothing in the backtest weeks (then the
candidate forecasting closest to 0 wins). Ties go to the earlier candidate in ``CANDIDATES``.

Selection rule. The rule (``select``) generalises the previous "LightGBM unless a candidate is 25% better"
(kept as ``select(fixed_margin=0.25)`` for the benchmark), which lost to single statsforecast
models on public data because it kept LightGBM where a combination was better:

    1. per intermittency class, a default (``class_default``): the prior (``PRIOR``: the
       trend-aware combination ``combination_trend`` for both classes; equal-weight combinations
       are the robust choice when no method dominates; weights by pooled backtest error were tried
       and lost, benchmarks/README.md) unless the candidate with the
       lowest error summed over the class's series beats it by more than ``SELECT_Z`` (1.645,
       one-sided 95%) standard errors of the per-origin difference (Newey-West over 12 origins,
       and never less than the per-series block error / sqrt(number of series)) AND has the lower
       error on significantly many of the class's series (one-sided 5% sign test: a default
       applies to every series, so its evidence must come from many; 4 series or fewer keep the
       prior); on the demo: LightGBM for smooth series, which learns the promotions the others
       cannot see;
    2. per series, the series' own best candidate only when it beats that default by more than
       ``series_threshold`` standard errors of the series' per-origin difference, with only the
       non-overlapping 13-week windows counted as independent: the Student-t quantile with
       (windows - 1) degrees of freedom, 6.31 for 26 weekly origins (~2 windows), so the class's
       pooled choice stands unless a series' own evidence is overwhelming. Origins spaced s weeks
       apart put fewer of them in a window (``origins_per_window``), and the standard errors and
       degrees of freedom follow.

The margin is thus scaled by the noise of each error estimate, not fixed; it is published per
series (``margin``, with ``default_method``) so the blocking check can recompute the pick.
First developed on the small demo and two public histories and scored on four others; the second
pass (median combination, sign test, t threshold) developed on those six and scored on three new
ones; the third (the ``combination_trend`` prior) developed on those nine and scored on three fresh
ones (benchmarks/README.md, "Forecast").

Calibrated quantiles. p10/p90 of the chosen method are p50 + s x q, where s is the series'
scale at the origin (mean of its last 13 observed weeks) and q the 10% / 90% empirical quantile
of the scaled backtest residuals (A - F) / s of every series' chosen method, per horizon bucket
(lags 1-4, 5-8, 9-13) and intermittency class (``smooth``: sold in >= 76% of its last 52
observed weeks, i.e. average inter-demand interval <= 1.32, Syntetos-Boylan; else
``intermittent``). p10 is floored at 0, and is 0 for a series with no demand in more than half
of its last 52 weeks (``ZERO_P10_SHARE``; applied in the cycle's forecast, ``apply``). Coverage
convention: an actual is below p10 when A < p10, above p90 when A > p90, inside the band
otherwise (ties count as covered). The
calibration achieved is measured forward: quantiles estimated on the older half of the backtest
origins are scored on the newer half (weekly origins overlap, so an even/odd split would score
nearly the same weeks it was fitted on). The backtest calibrates on its calibration origins, every
2 weeks over a year (``backtest.calibration_origins``), not only on its 26 weekly ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special  # not scipy.stats: its import alone takes seconds

CANDIDATES = (
    "lightgbm",
    "seasonal_naive",
    "exp_smoothing",
    "tsb",
    "combination",
    "theta",
    "croston_sba",
    "adida",
    "combination_intermittent",
    "theta_seasonal",
    "damped_trend",
    "ses_seasonal",
    "combination_median",
    "seasonal_naive_trend",
    "combination_trend",
)
STAT_CANDIDATES = CANDIDATES[1:]  # the ones computed here (lightgbm comes from forecasting)
COMBINED = ("lightgbm", "seasonal_naive", "exp_smoothing")  # the combination's members
# the intermittent combination's members: the smoothing methods made for (or robust on) sparse demand
COMBINED_INTERMITTENT = ("exp_smoothing", "tsb", "croston_sba", "adida")
# the median combination's members: five diverse methods, the season-aware ones where a season is found
COMBINED_MEDIAN = ("lightgbm", "seasonal_naive", "ses_seasonal", "theta_seasonal", "damped_trend")  # 5: odd
# the trend-aware combination's members (equal weights): the global model, last year's week scaled by
# the year-on-year change of the level, and SES / Theta / damped trend on the seasonally adjusted
# history - the M4 competition's "Comb" benchmark (SES, Holt, damped) family plus Theta, with no
# member that is blind to both season and trend
COMBINED_TREND = ("lightgbm", "seasonal_naive_trend", "ses_seasonal", "theta_seasonal", "damped_trend")
YOY_WEEKS = 13  # the level windows compared year on year by seasonal_naive_trend
YOY_MIN_OBSERVED = 7  # each window needs at least this many observed weeks
YOY_CLIP = 3.0  # the year-on-year ratio is kept within [1 / 3, 3]
SEASON_WEEKS = 52
FIT_WEEKS = 104
SES_ALPHAS = np.array([0.05, 0.1, 0.2, 0.3, 0.5])
# damped trend (alpha, beta, phi): a small grid, every series' constants chosen by in-sample SSE
DAMPED_GRID = np.array([(a, b, 0.9) for a in (0.1, 0.2, 0.5) for b in (0.05, 0.2)])
SEASON_TEST_LEVEL = 0.99  # the stable-seasonality F-test's level (1 - its false-alarm rate)
SEASON_MAX_YEARS = 5  # the seasonal index reads at most this many whole years
MA_MIN_YEARS = 4  # from this many whole years the trend is a moving average, not a line
INDEX_FLOOR = 0.1  # a seasonal index never below this (dividing by it must not blow up)
TSB_ALPHAS = np.array([0.05, 0.1, 0.2, 0.3])
SMOOTH_MIN_SHARE = 1 / 1.32  # ADI <= 1.32: Syntetos-Boylan's cut between smooth and intermittent
QUANTILES = (0.1, 0.9)
# p10 = 0 for a series with no demand in more than half its last 52 weeks: its median week is a
# zero week, so its 10% quantile is 0 whatever the forecast (a p10 above 0 puts every zero week
# below the band: 27% below p10 on the intermittent public data before this rule)
ZERO_P10_SHARE = 0.5
MIN_GROUP_ROWS = 100
# a statistical candidate replaces the global model only when its backtest error is this much
# lower: per-series selection on 26 overlapping weekly origins is noisy (see the module doc)
SWITCH_MARGIN = 0.25  # the previous rule's fixed margin (select(fixed_margin=...), benchmarks only)
# each class's default unless another candidate is clearly better over the class's series pooled
PRIOR = {"smooth": "combination_trend", "intermittent": "combination_trend"}
SELECT_Z = 1.645  # "clearly better": one-sided 95% on the paired per-origin error difference
SIGN_TEST_LEVEL = 0.05  # a class default also needs a one-sided 5% sign test across its series
HORIZON_WEEKS = 13  # the backtest's horizon: origins less than 13 weeks apart share scored weeks
NW_LAGS = HORIZON_WEEKS - 1  # Newey-West lags for weekly origins


def origins_per_window(origins) -> int:
    """How many of the backtest's origins fall in one 13-week horizon window: origins closer than
    13 weeks score overlapping weeks, so their errors are correlated. From the origins' spacing (the
    median gap, in whole weeks, at least 1): 13 for weekly origins, 7 for origins 2 weeks apart."""
    days = np.diff(np.unique(pd.to_datetime(pd.Series(origins)).to_numpy())).astype("timedelta64[D]").astype(float)
    step = max(1, int(round(float(np.median(days)) / 7))) if len(days) else 1
    return max(1, -(-HORIZON_WEEKS // step))


BUCKETS = ("1-4", "5-8", "9-13")  # horizon buckets of the calibration, in lag order


def _bucket_code(lag: np.ndarray) -> np.ndarray:
    """The index in BUCKETS of each lag: 1-4, 5-8 or 9-13 (lag 0, the mid-week nowcast week, joins 1-4)."""
    lag = np.asarray(lag)
    return np.where(lag <= 4, 0, np.where(lag <= 8, 1, 2)).astype(np.int16)


def horizon_bucket(lag: np.ndarray) -> np.ndarray:
    """'1-4', '5-8' or '9-13' (lag 0, the mid-week nowcast week, joins 1-4)."""
    return np.array(BUCKETS)[_bucket_code(lag)]


# --------------------------------------------------------------------------- the candidates


def seasonal_naive(units: np.ndarray, horizons: np.ndarray) -> np.ndarray:
    """(n, len(horizons)): units[t + h - 52] from the (n, T) history ending at t = T - 1 (NaN =
    missing); the mean of the last 4 observed weeks (0 when none) where that week is missing."""
    n, T = units.shape
    src = T - 1 + np.asarray(horizons) - SEASON_WEEKS
    ly = np.where(src[None, :] >= 0, units[:, np.clip(src, 0, T - 1)], np.nan)
    recent = units[:, max(T - 4, 0) :]
    cnt = (~np.isnan(recent)).sum(axis=1)
    fallback = np.where(cnt > 0, np.nansum(recent, axis=1) / np.maximum(cnt, 1), 0.0)
    return np.where(np.isnan(ly), fallback[:, None], ly)


def seasonal_naive_trend(units: np.ndarray, horizons: np.ndarray, naive: np.ndarray | None = None) -> np.ndarray:
    """Seasonal naive scaled by the year-on-year change of the level: units[t + h - 52] x r, where
    r = mean of the last ``YOY_WEEKS`` weeks / mean of the same weeks a year earlier (observed weeks
    only, each window with at least ``YOY_MIN_OBSERVED`` observed, the earlier one above 0; r kept
    within [1 / ``YOY_CLIP``, ``YOY_CLIP``]). Where last year's week is missing (the seasonal naive's
    recent-mean fallback) or either window is too thin, the plain seasonal naive. ``naive``: the
    ``seasonal_naive`` forecast of the same weeks when already computed."""
    n, T = units.shape
    horizons = np.asarray(horizons)
    naive = seasonal_naive(units, horizons) if naive is None else naive
    ratio = np.ones(n)
    if T >= SEASON_WEEKS + YOY_WEEKS:
        now = units[:, T - YOY_WEEKS :]
        before = units[:, T - SEASON_WEEKS - YOY_WEEKS : T - SEASON_WEEKS]
        n_now, n_before = (~np.isnan(now)).sum(axis=1), (~np.isnan(before)).sum(axis=1)
        m_now = np.nansum(now, axis=1) / np.maximum(n_now, 1)
        m_before = np.nansum(before, axis=1) / np.maximum(n_before, 1)
        ok = (n_now >= YOY_MIN_OBSERVED) & (n_before >= YOY_MIN_OBSERVED) & (m_before > 0)
        ratio = np.where(ok, np.clip(m_now / np.where(ok, m_before, 1.0), 1 / YOY_CLIP, YOY_CLIP), 1.0)
    src = T - 1 + horizons - SEASON_WEEKS
    has_ly = (src[None, :] >= 0) & ~np.isnan(units[:, np.clip(src, 0, T - 1)])
    return np.where(has_ly, naive * ratio[:, None], naive)


def exp_smoothing(units: np.ndarray, horizons: np.ndarray) -> np.ndarray:
    """Simple exponential smoothing, alpha per series by in-sample one-step SSE; flat forecast."""
    level, _ = _ses(units[:, -FIT_WEEKS:])
    return np.repeat(np.nan_to_num(level)[:, None], len(horizons), axis=1)


def _ses(y: np.ndarray, alphas: np.ndarray = SES_ALPHAS) -> tuple[np.ndarray, np.ndarray]:
    """(final level, chosen alpha) per row of ``y`` (NaN skipped; level NaN when nothing observed)."""
    n = y.shape[0]
    level, best = np.full(n, np.nan), np.zeros(n, dtype=int)
    for rows in _blocks(n):
        level[rows], best[rows] = _ses_block(y[rows], alphas)
    return level, alphas[best]


# Series are processed in blocks of this many rows so that a recursion's state (rows x smoothing
# constants) stays in the CPU cache; every row is independent, so blocking changes no number.
BLOCK_ROWS = 2048


def _blocks(n: int) -> list[slice]:
    return [slice(s, min(s + BLOCK_ROWS, n)) for s in range(0, n, BLOCK_ROWS)]


def _ses_block(y: np.ndarray, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_ses`` of one block: (final level, index of the chosen alpha).

    The level starts at the series' first observed value (the recursion's first update, which
    scores nothing), so a week with no observation is a zero step (err = 0: level and SSE
    unchanged) and the loop needs no branch per cell: the same floating-point operations, in the
    same order, as updating only the observed weeks."""
    yt = np.ascontiguousarray(y.T)  # weeks x series: one week is contiguous
    T, c = yt.shape
    ok = ~np.isnan(yt)
    seen = ok.any(axis=0)
    first = np.argmax(ok, axis=0)
    level = np.repeat(np.where(seen, yt[first, np.arange(c)], 0.0)[:, None], len(alphas), axis=1)
    a = np.asarray(alphas, dtype=float)[None, :]
    sse = np.zeros_like(level)
    err = np.empty_like(level)
    tmp = np.empty_like(level)
    missing = ~ok[:, :, None]
    for t in range(int(first[seen].min()) + 1 if seen.any() else T, T):
        np.subtract(yt[t][:, None], level, out=err)
        np.copyto(err, 0.0, where=missing[t])
        np.multiply(err, err, out=tmp)
        sse += tmp
        np.multiply(a, err, out=tmp)
        level += tmp
    level[~seen] = np.nan
    return level[np.arange(c), np.argmin(sse, axis=1)], np.argmin(sse, axis=1)


def theta(units: np.ndarray, horizons: np.ndarray, ses: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The Theta method (Assimakopoulos-Nikolopoulos, in Hyndman-Billah's form): simple exponential
    smoothing plus half the slope of the least-squares line through the fit window,
    F(h) = level + b / 2 x (h - 1 + 1 / alpha - (1 - alpha)^n / alpha), n = observed weeks.
    ``ses``: ``_ses`` of the same window when already computed."""
    y = units[:, -FIT_WEEKS:]
    n, T = y.shape
    level, alpha = ses if ses is not None else _ses(y)
    ok = ~np.isnan(y)
    t = np.broadcast_to(np.arange(T, dtype=float), y.shape)
    cnt = ok.sum(axis=1)
    tm = np.where(ok, t, 0.0).sum(axis=1) / np.maximum(cnt, 1)
    ym = np.nansum(y, axis=1) / np.maximum(cnt, 1)
    dt = np.where(ok, t - tm[:, None], 0.0)
    sxx = (dt**2).sum(axis=1)
    b = np.where(sxx > 0, (dt * np.nan_to_num(y - ym[:, None])).sum(axis=1) / np.where(sxx > 0, sxx, 1.0), 0.0)
    h = np.asarray(horizons, dtype=float)[None, :]
    a = alpha[:, None]
    f = level[:, None] + b[:, None] / 2 * (h - 1 + 1 / a - (1 - a) ** cnt[:, None] / a)
    return np.nan_to_num(f)


def croston_sba(units: np.ndarray, horizons: np.ndarray) -> np.ndarray:
    """Croston with the Syntetos-Boylan correction: size z and interval p between demands are
    smoothed at demand weeks only; forecast (1 - alpha / 2) x z / p. alpha per series from
    ``TSB_ALPHAS`` by in-sample one-step SSE (every observed week after the first demand scored)."""
    y = units[:, -FIT_WEEKS:]
    f = np.zeros(y.shape[0])
    for rows in _blocks(y.shape[0]):
        f[rows] = _croston_block(y[rows])
    return np.repeat(f[:, None], len(horizons), axis=1)


def _croston_block(y: np.ndarray) -> np.ndarray:
    """One block of ``croston_sba``'s per-series forecast. z and p start at the first demand (its
    size, and the weeks since the start counting observed weeks); later weeks are scored and, at
    a demand, smoothed. Masks are applied by multiplying the (finite) step by 0 or 1, which leaves
    every number exactly as a per-cell branch would."""
    yt = np.ascontiguousarray(y.T)
    T, c = yt.shape
    a = TSB_ALPHAS[None, :]
    k = a.shape[1]
    ok = ~np.isnan(yt)
    x0 = np.where(ok, yt, 0.0)
    dem = x0 > 0
    any_d = dem.any(axis=0)
    t0 = np.where(any_d, np.argmax(dem, axis=0), T)
    # weeks since the last demand at each week, counting this one (1 + observed weeks without one)
    since = np.ones((T, c))
    run = np.ones(c)
    for t in range(T):
        since[t] = run
        run = np.where(dem[t], 1.0, np.where(ok[t], run + 1, run))
    cols = np.arange(c)
    z = np.repeat(np.where(any_d, x0[np.minimum(t0, T - 1), cols], 0.0)[:, None], k, axis=1)
    p = np.repeat(np.where(any_d, since[np.minimum(t0, T - 1), cols], 1.0)[:, None], k, axis=1)
    after = np.arange(T)[:, None] > t0[None, :]
    score = (ok & after).astype(float)[:, :, None]
    upd = (dem & after).astype(float)[:, :, None]
    sse = np.zeros((c, k))
    f = np.empty((c, k))
    tmp = np.empty((c, k))
    shrink = 1 - a / 2
    for t in range(int(t0.min()) + 1 if any_d.any() else T, T):
        np.multiply(shrink, z, out=f)
        f /= p
        np.subtract(x0[t][:, None], f, out=tmp)
        tmp *= tmp
        tmp *= score[t]
        sse += tmp
        np.subtract(x0[t][:, None], z, out=tmp)
        tmp *= upd[t]
        tmp *= a
        z += tmp
        np.subtract(since[t][:, None], p, out=tmp)
        tmp *= upd[t]
        tmp *= a
        p += tmp
    best = np.argmin(sse, axis=1)
    ab = TSB_ALPHAS[best]
    return np.where(any_d, (1 - ab / 2) * z[cols, best] / p[cols, best], 0.0)


def adida(units: np.ndarray, horizons: np.ndarray) -> np.ndarray:
    """ADIDA (Nikolopoulos et al.): the fit window summed into non-overlapping buckets of k weeks
    (k = the series' mean interval between demands, rounded, at least 1; buckets end at the last
    week), simple exponential smoothing of the bucket totals, forecast = level / k per week."""
    y = units[:, -FIT_WEEKS:]
    n, T = y.shape
    obs = ~np.isnan(y)
    demands = (obs & (y > 0)).sum(axis=1)
    k = np.clip(np.rint(obs.sum(axis=1) / np.maximum(demands, 1)), 1, max(T // 4, 1)).astype(int)
    f = np.zeros(n)
    for size in np.unique(k):
        rows = np.flatnonzero(k == size)
        m = T // size
        if m == 0:
            continue
        block = y[rows][:, T - m * size :].reshape(len(rows), m, size)
        seen = (~np.isnan(block)).any(axis=2)
        total = np.where(seen, np.nansum(block, axis=2), np.nan)
        level, _ = _ses(total)
        f[rows] = np.nan_to_num(level) / size
    return np.repeat(f[:, None], len(horizons), axis=1)


def seasonal_index(units: np.ndarray) -> np.ndarray:
    """(n, 52) multiplicative week-of-season index per series, 1.0 where the series shows no
    season. Classical multiplicative decomposition on period 52 over the last whole years of
    history: each week's ratio to the trend, averaged over the years per week of the season,
    smoothed over 3 weeks (holidays move by a weekday a year), normalised to mean 1. The trend is
    the centred 2x52 moving average where at least ``MA_MIN_YEARS`` whole years are observed
    (up to ``SEASON_MAX_YEARS``; it follows a trend that bends, but has no value in the first and
    last half-year, so it leaves one year fewer of ratios), else the least-squares line through
    the last 2 or 3 whole years. Column j is the season week of history index T - 52 + j (so week
    T - 1 + h uses column (h - 1) % 52). A series gets an index only with >= 2 whole years
    observed, its trend above 0 throughout and stable seasonality: the one-way analysis-of-variance
    F-test of the ratios by week of the season (X-11's stable-seasonality test) significant at
    ``SEASON_TEST_LEVEL``. Series are processed in blocks (``_blocks``): the temporaries of a few
    thousand rows stay in cache."""
    idx = np.ones((units.shape[0], SEASON_WEEKS))
    for rows in _blocks(units.shape[0]):
        idx[rows] = _seasonal_index_block(units[rows])
    return idx


def _seasonal_index_block(units: np.ndarray) -> np.ndarray:
    """``seasonal_index`` of one block of series."""
    n, T = units.shape
    idx = np.ones((n, SEASON_WEEKS))
    years = min(T // SEASON_WEEKS, SEASON_MAX_YEARS)
    if years < 2:
        return idx
    moving = years >= MA_MIN_YEARS
    if not moving:
        years = min(years, 3)
    w = years * SEASON_WEEKS
    full = ~np.isnan(units[:, T - w :]).any(axis=1)
    if not full.any():
        return idx
    rows = np.flatnonzero(full)
    y = units[rows, T - w :]
    if moving:  # centred 2x52 moving average: weeks 26 .. w - 27 of the window (slices, no copies)
        half = SEASON_WEEKS // 2
        c = np.cumsum(y, axis=1)
        c = np.concatenate([np.zeros((len(rows), 1)), c], axis=1)
        pos = np.arange(half, w - half)
        lo, hi = slice(0, w - 2 * half), slice(2 * half, w)  # p - 26 and p + 26
        # (y[p - 26] / 2 + y[p - 25] + ... + y[p + 25] + y[p + 26] / 2) / 52
        trend = c[:, hi] - c[:, lo]
        trend += (y[:, hi] - y[:, lo]) / 2
        trend /= SEASON_WEEKS
        y = y[:, half : w - half]
    else:
        pos = np.arange(w)
        t = pos - (w - 1) / 2
        b = (y * t).sum(axis=1) / (t * t).sum()
        trend = y.mean(axis=1)[:, None] + b[:, None] * t
    ok = (trend > 0).all(axis=1)
    ratio = y / np.where(trend > 0, trend, 1.0)
    col = pos % SEASON_WEEKS
    cnt = np.bincount(col, minlength=SEASON_WEEKS).astype(float)
    # per week of the season: the window's weeks as (years x 52), those without a ratio at 0
    by_week = np.zeros((len(rows), w))
    by_week[:, pos] = ratio
    means = by_week.reshape(len(rows), years, SEASON_WEEKS).sum(axis=1) / cnt
    grand = ratio.mean(axis=1)
    between = (cnt * (means - grand[:, None]) ** 2).sum(axis=1) / (SEASON_WEEKS - 1)
    df_within = len(pos) - SEASON_WEEKS
    within = ((ratio - means[:, col]) ** 2).sum(axis=1) / df_within
    crit = special.fdtri(SEASON_WEEKS - 1, df_within, SEASON_TEST_LEVEL)
    seasonal = ok & (between > crit * within)
    r = means[seasonal]
    r = (np.roll(r, 1, axis=1) + r + np.roll(r, -1, axis=1)) / 3
    r = np.clip(r / r.mean(axis=1, keepdims=True), INDEX_FLOOR, None)  # a near-empty week: no blow-up
    idx[rows[seasonal]] = r / r.mean(axis=1, keepdims=True)
    return idx


def _season_at(index: np.ndarray, horizons: np.ndarray) -> np.ndarray:
    """The index of forecast weeks T - 1 + h: column (h - 1) % 52 (see ``seasonal_index``)."""
    return index[:, (np.asarray(horizons) - 1) % SEASON_WEEKS]


def damped_trend(units: np.ndarray, horizons: np.ndarray) -> np.ndarray:
    """Holt's linear trend with a damped trend (Gardner-McKenzie, additive), the level and trend
    smoothed with constants chosen per series from ``DAMPED_GRID`` by in-sample one-step squared
    error: l = a y + (1 - a)(l + phi b), b = beta (l - l_prev) + (1 - beta) phi b; forecast
    l + (phi + ... + phi^h) b. Starts at the first observed week with b = 0; a missing (NaN) week
    is a prediction step without an update (l = l + phi b, b = phi b) and is not scored. Series
    are processed in blocks (``_blocks``), weeks contiguous, updated in place."""
    y = units[:, -FIT_WEEKS:]
    n = y.shape[0]
    level, trend, phi = np.zeros(n), np.zeros(n), np.zeros(n)
    for rows in _blocks(n):
        level[rows], trend[rows], phi[rows] = _damped_block(y[rows])
    h = np.asarray(horizons, dtype=float)[None, :]
    damp = phi[:, None] * (1 - phi[:, None] ** h) / (1 - phi[:, None])
    return level[:, None] + damp * trend[:, None]


def _damped_block(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(final level, final trend, phi) of the chosen constants for one block of ``damped_trend``."""
    yt = np.ascontiguousarray(y.T)  # weeks x series
    T, c = yt.shape
    a, beta, phi = (DAMPED_GRID[:, i][None, :] for i in range(3))
    obs = ~np.isnan(yt)
    first = np.argmax(obs, axis=0)
    x0 = np.nan_to_num(yt)
    level = np.repeat(x0[first, np.arange(c)][:, None], DAMPED_GRID.shape[0], axis=1)
    trend = np.zeros_like(level)
    sse = np.zeros_like(level)
    pred, err, tmp = np.empty_like(level), np.empty_like(level), np.empty_like(level)
    one_beta_phi = (1 - beta) * phi
    missing = ~obs[:, :, None]
    for t in range(T):
        np.multiply(phi, trend, out=pred)
        pred += level  # l + phi b
        np.subtract(x0[t][:, None], pred, out=err)
        np.copyto(err, 0.0, where=missing[t])
        np.multiply(err, err, out=tmp)
        sse += tmp
        # b = beta (l_new - l) + (1 - beta) phi b, with l_new - l = pred + a err - l = phi b + a err
        np.multiply(a, err, out=tmp)
        pred += tmp  # l_new
        tmp += phi * trend  # l_new - l
        trend *= one_beta_phi
        trend += beta * tmp
        level, pred = pred, level
    best = np.argmin(sse, axis=1)
    r = np.arange(c)
    return level[r, best], trend[r, best], DAMPED_GRID[best, 2]


def seasonal_adjust(units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the fit window divided by its ``seasonal_index``, the index) - the history a
    non-seasonal method smooths when it is made season-aware."""
    index = seasonal_index(units)
    y = units[:, -FIT_WEEKS:]
    rows = np.flatnonzero((index != 1).any(axis=1))
    if not len(rows):  # no season anywhere: the history itself (no copy)
        return y, index
    T = units.shape[1]
    cols = (np.arange(T - y.shape[1], T) - T) % SEASON_WEEKS
    y = y.copy()
    y[rows] /= index[rows][:, cols]
    return y, index


def tsb(units: np.ndarray, horizons: np.ndarray) -> np.ndarray:
    """Teunter-Syntetos-Babai: probability x size, both smoothed; constants per series by SSE."""
    y = units[:, -FIT_WEEKS:]
    f = np.zeros(y.shape[0])
    for rows in _blocks(y.shape[0]):
        f[rows] = _tsb_block(y[rows])
    return np.repeat(f[:, None], len(horizons), axis=1)


def _tsb_block(y: np.ndarray) -> np.ndarray:
    """One block of ``tsb``'s per-series forecast. The probability and the size recursions do not
    depend on each other's constant, so each runs once per constant (4 + 4 columns) and only the
    one-step errors are formed for every pair (4 x 4, pair (i, j) in ``TSB_ALPHAS`` order i * 4 + j);
    a step is masked by multiplying it by 0 or 1 (every term is finite), the same numbers as a
    per-cell branch."""
    yt = np.ascontiguousarray(y.T)
    T, c = yt.shape
    al = TSB_ALPHAS[None, :]
    k = al.shape[1]
    ok = ~np.isnan(yt)
    xv = np.where(ok, yt, 0.0)
    nz = xv > 0
    # start values: the share of observed weeks with demand and the mean non-zero size over the
    # fit window (history only, nothing after the origin)
    p0 = nz.sum(axis=0) / np.maximum(ok.sum(axis=0), 1)
    z0 = np.where(nz.any(axis=0), np.where(nz, xv, 0.0).sum(axis=0) / np.maximum(nz.sum(axis=0), 1), 0.0)
    p = np.repeat(p0[:, None], k, axis=1)
    z = np.repeat(z0[:, None], k, axis=1)
    okf = ok.astype(float)[:, :, None]
    nzf = nz.astype(float)[:, :, None]
    okf3 = ok.astype(float)[:, :, None, None]
    sse = np.zeros((c, k, k))
    pz = np.empty((c, k, k))
    tmp = np.empty((c, k))
    for t in range(T):
        x = xv[t][:, None, None]
        np.multiply(p[:, :, None], z[:, None, :], out=pz)
        np.subtract(x, pz, out=pz)
        pz *= pz
        pz *= okf3[t]
        sse += pz
        np.subtract(nzf[t], p, out=tmp)
        tmp *= okf[t]
        tmp *= al
        p += tmp
        np.subtract(xv[t][:, None], z, out=tmp)
        tmp *= nzf[t]
        tmp *= al
        z += tmp
    best = np.argmin(sse.reshape(c, k * k), axis=1)
    i, j = np.divmod(best, k)
    cols = np.arange(c)
    return p[cols, i] * z[cols, j]


def candidates(units: np.ndarray, horizons: np.ndarray, lightgbm: np.ndarray) -> dict[str, np.ndarray]:
    """Every candidate's forecast but the global model's, (n, len(horizons)) each, >= 0;
    ``lightgbm``: the global model's forecast of the same weeks (for the combination)."""
    horizons = np.asarray(horizons)
    ses = _ses(units[:, -FIT_WEEKS:])  # shared by exp_smoothing and theta
    out = {
        "seasonal_naive": seasonal_naive(units, horizons),
        "exp_smoothing": np.repeat(np.nan_to_num(ses[0])[:, None], len(horizons), axis=1),
        "tsb": tsb(units, horizons),
        "theta": theta(units, horizons, ses),
        "croston_sba": croston_sba(units, horizons),
        "adida": adida(units, horizons),
    }
    # the season-aware ones: the same as the plain ones where no season is found (most series),
    # so SES and Theta are re-run on the seasonal series only
    adjusted, index = seasonal_adjust(units)
    season = _season_at(index, horizons)
    out["theta_seasonal"] = out["theta"].copy()
    out["ses_seasonal"] = out["exp_smoothing"].copy()
    rows = np.flatnonzero((index != 1).any(axis=1))
    if len(rows):
        ses_adj = _ses(adjusted[rows])
        out["theta_seasonal"][rows] = theta(adjusted[rows], horizons, ses_adj) * season[rows]
        out["ses_seasonal"][rows] = np.nan_to_num(ses_adj[0])[:, None] * season[rows]
    out["damped_trend"] = damped_trend(adjusted, horizons) * season
    out = {k: np.clip(np.nan_to_num(v), 0, None) for k, v in out.items()}
    out["lightgbm"] = np.clip(np.nan_to_num(np.asarray(lightgbm, dtype=float)), 0, None)
    out["combination"] = sum(out[m] for m in COMBINED) / len(COMBINED)
    out["combination_intermittent"] = sum(out[m] for m in COMBINED_INTERMITTENT) / len(COMBINED_INTERMITTENT)
    # the median of 5 = the 3rd smallest (a partial sort; np.median sorts fully)
    out["combination_median"] = np.partition(np.stack([out[m] for m in COMBINED_MEDIAN]), 2, axis=0)[2]
    out["seasonal_naive_trend"] = seasonal_naive_trend(units, horizons, out["seasonal_naive"])
    out["combination_trend"] = sum(out[m] for m in COMBINED_TREND) / len(COMBINED_TREND)
    del out["lightgbm"]
    return out


def series_scale(units: np.ndarray) -> np.ndarray:
    """Mean of the last 13 observed weeks per series (NaN when none), the residuals' scale."""
    recent = units[:, max(units.shape[1] - 13, 0) :]
    cnt = (~np.isnan(recent)).sum(axis=1)
    return np.where(cnt > 0, np.nansum(recent, axis=1) / np.maximum(cnt, 1), np.nan)


def zero_share(units: np.ndarray) -> np.ndarray:
    """Share of a series' last 52 observed weeks with no demand (0 when none observed)."""
    recent = units[:, max(units.shape[1] - SEASON_WEEKS, 0) :]
    obs = (~np.isnan(recent)).sum(axis=1)
    return (np.nan_to_num(recent, nan=1.0) <= 0).sum(axis=1) / np.maximum(obs, 1)


def intermittency_class(units: np.ndarray) -> np.ndarray:
    """'smooth' when the series sold in >= 1/1.32 of its last 52 observed weeks, else 'intermittent'."""
    recent = units[:, max(units.shape[1] - SEASON_WEEKS, 0) :]
    obs = (~np.isnan(recent)).sum(axis=1)
    share = (np.nan_to_num(recent) > 0).sum(axis=1) / np.maximum(obs, 1)
    return np.where(share >= SMOOTH_MIN_SHARE, "smooth", "intermittent")


# --------------------------------------------------------------------------- selection


SELECTION_COLUMNS = [
    "sku",
    "location",
    "method",
    "wape",
    "intermittency",
    "backtest_rows",
    "actual_units",
    *[f"wape_{m}" for m in CANDIDATES],
    "default_method",
    "margin",
]


def _nw_se(d: np.ndarray, lags: int = NW_LAGS) -> np.ndarray:
    """Standard error of the mean over the last axis (origins) of ``d`` (..., n_origins), NaN =
    origin not scored, by Newey-West with Bartlett weights over ``lags`` origins: weekly origins
    within 13 weeks of each other score overlapping weeks, so their errors are correlated and the
    plain sd / sqrt(n) would overstate the evidence."""
    ok = ~np.isnan(d)
    n = ok.sum(axis=-1)
    mean = np.where(n > 0, np.nansum(d, axis=-1) / np.maximum(n, 1), 0.0)
    x = np.where(ok, d - mean[..., None], 0.0)
    var = (x * x).sum(axis=-1)
    for k in range(1, min(lags, d.shape[-1] - 1) + 1):
        var = var + 2 * (1 - k / (lags + 1)) * (x[..., k:] * x[..., :-k]).sum(axis=-1)
    return np.sqrt(np.clip(var, 0, None)) / np.maximum(n, 1)


def _block_se(d: np.ndarray, horizon: int = HORIZON_WEEKS) -> np.ndarray:
    """Standard error of the mean over the last axis (origins) counting only the non-overlapping
    horizon windows as independent: sd / sqrt(max(n / horizon, 1)). 26 weekly origins x 13 lags
    are about 2 independent windows per series, and Newey-West on 26 points understates that."""
    ok = ~np.isnan(d)
    n = ok.sum(axis=-1)
    mean = np.where(n > 0, np.nansum(d, axis=-1) / np.maximum(n, 1), 0.0)
    x = np.where(ok, d - mean[..., None], 0.0)
    sd = np.sqrt((x * x).sum(axis=-1) / np.maximum(n - 1, 1))
    return sd / np.sqrt(np.maximum(n / horizon, 1))


def _switch(per_origin: np.ndarray, default: np.ndarray, z: float, se=_nw_se) -> tuple[np.ndarray, np.ndarray]:
    """(pick, margin) per row of ``per_origin`` (rows x origins x candidates, absolute error sums):
    the candidate with the lowest total error when it beats ``default``'s total by more than ``z``
    standard errors of the paired per-origin difference (``_nw_se``), else ``default``; margin =
    that threshold as a share of the default's total error (0 when the default has none)."""
    r = np.arange(per_origin.shape[0])
    total = np.nansum(per_origin, axis=1)
    best = np.argmin(total, axis=1)  # first minimum: ties go to the earlier candidate
    diff = per_origin[r, :, default] - per_origin[r, :, best]
    n = (~np.isnan(diff)).sum(axis=1)
    threshold = z * se(diff) * n  # on the totals
    d_total = total[r, default]
    margin = np.where(d_total > 0, threshold / np.where(d_total > 0, d_total, 1.0), 0.0)
    switch = (total[r, best] < d_total * (1 - margin)) & (best != default)
    return np.where(switch, best, default), np.clip(margin, 0, 1)


def series_threshold(cube: np.ndarray, z: float = SELECT_Z, horizon: int = HORIZON_WEEKS) -> np.ndarray:
    """Per series, how many block standard errors its own best must beat the default by: the
    one-sided Student-t quantile at ``z``'s level with (independent windows - 1) degrees of
    freedom, the windows being its scored origins / the 13-week horizon (at least 2). The normal
    quantile (1.645) would treat 26 overlapping weekly origins as many independent samples; they
    are ~2 windows, i.e. one degree of freedom (t = 6.31): a series leaves its class default only
    on overwhelming evidence of its own."""
    scored = (~np.isnan(cube[:, :, 0])).sum(axis=1)
    df = np.maximum(scored / horizon, 2.0) - 1
    return special.stdtrit(df, special.ndtr(z))


def class_default(
    cube: np.ndarray, prior: int, z: float = SELECT_Z, level: float = SIGN_TEST_LEVEL, window: int = HORIZON_WEEKS
) -> int:
    """The default candidate (index into ``CANDIDATES``) of one class's series, from their
    series x origins x candidates error sums: the candidate with the lowest error summed over the
    series when two tests agree it beats ``prior``, else ``prior``:

    * pooled: its summed error is more than ``z`` standard errors of the paired per-origin
      difference below the prior's (Newey-West, ``_nw_se``; never below the block standard error
      / sqrt(series), so a class of a few series is not judged more loosely than one series);
    * across series: it has the lower error on more series than chance allows, by a one-sided sign
      test at ``level`` (ties left out). A default is applied to every series of the class, so the
      evidence for it must come from many series, not from a few large ones or from one stretch
      of weeks that several series share: with 4 series or fewer it cannot pass (4 of 4 wins has
      p = 1/16), and the prior stands.

    ``window``: origins per 13-week window (`origins_per_window`; 13 for weekly origins): the
    Newey-West lags are ``window - 1`` and the block error counts ``window`` origins as one."""
    pooled = np.nansum(cube, axis=0)[None]  # 1 x origins x candidates
    k = cube.shape[0]

    def pooled_se(d: np.ndarray) -> np.ndarray:
        return np.maximum(_nw_se(d, lags=window - 1), _block_se(d, horizon=window) / np.sqrt(k))

    best = int(_switch(pooled, np.array([prior]), z, pooled_se)[0][0])
    if best == prior:
        return prior
    totals = np.nansum(cube, axis=1)  # series x candidates
    wins = int((totals[:, best] < totals[:, prior]).sum())
    losses = int((totals[:, best] > totals[:, prior]).sum())
    if wins + losses == 0 or special.bdtrc(wins - 1, wins + losses, 0.5) > level:
        return prior
    return best


def select(
    rows: pd.DataFrame,
    z: float = SELECT_Z,
    prior: dict[str, str] | None = None,
    fixed_margin: float | None = None,
) -> pd.DataFrame:
    """Per series (sku, location), the method it uses: its intermittency class's default unless
    the series' own best candidate is clearly better on it.

    1. Class default (pooled): over every series of the class (smooth / intermittent), the
       candidate with the lowest summed backtest error, if it beats ``prior`` (the combination, or
       the previous cycle's default: ``incumbent``) by
       more than ``z`` standard errors of the paired per-origin difference of the class's summed
       errors (Newey-West, ``_nw_se``; at least the block standard error below / sqrt(series), so
       a class of a few series is not judged more loosely than one series); else ``prior``.
    2. Per series: the series' lowest-error candidate if it beats the class default on the series
       by more than ``z`` standard errors of its own per-origin difference, counting only the
       non-overlapping 13-week windows as independent (``_block_se``); else the default.

    A series' ``margin`` is the improvement step 2 asked of it, as a share of the default's error
    (noise-scaled: a series with a steady backtest needs a small edge, a noisy one a large one).
    ``fixed_margin``: the previous rule instead (lightgbm everywhere unless a candidate is that
    share better), kept for benchmarks/forecast.py's comparison.

    rows: one row per series x origin x lag with ``actual``, ``origin`` and one forecast column per
    candidate (``CANDIDATES``), plus ``intermittency``. Returns SELECTION_COLUMNS; ``wape`` is the
    chosen method's (NaN when the series sold nothing in the scored weeks)."""
    if rows.empty:
        return pd.DataFrame(columns=SELECTION_COLUMNS)
    keys = ["sku", "location"]
    g = rows.groupby(keys, sort=True, observed=True)
    sid = g.ngroup().to_numpy()
    index = g.size().index
    cls = g["intermittency"].last().to_numpy().astype(object)
    origins, oid = np.unique(rows["origin"].to_numpy(), return_inverse=True)
    n_s, n_o = len(index), len(origins)
    # series x origin x candidate absolute error sums by bincount on the flat cell (NaN where the
    # series was not scored at an origin): one pass per candidate, no wide frame or groupby
    cell = sid * n_o + oid
    scored = np.bincount(cell, minlength=n_s * n_o).reshape(n_s, n_o) > 0
    a = rows["actual"].to_numpy(dtype=float)
    cube = np.empty((n_s, n_o, len(CANDIDATES)))
    for k, m in enumerate(CANDIDATES):
        e = np.abs(rows[m].to_numpy(dtype=float) - a)
        cube[:, :, k] = np.bincount(cell, weights=e, minlength=n_s * n_o).reshape(n_s, n_o)
    cube[~scored] = np.nan
    abs_sum = pd.DataFrame(np.nansum(cube, axis=1), index=index, columns=list(CANDIDATES))
    actual = pd.Series(np.bincount(sid, weights=a, minlength=n_s), index=index)
    n = pd.Series(np.bincount(sid, minlength=n_s), index=index)
    if fixed_margin is not None:
        default = np.full(len(abs_sum), CANDIDATES.index("lightgbm"))
        totals = abs_sum.to_numpy()
        best = np.argmin(totals, axis=1)
        margin = np.full(len(abs_sum), float(fixed_margin))
        r = np.arange(len(totals))
        keep = totals[r, best] >= (1 - margin) * totals[r, default]
        pick = np.where(keep, default, best)
    else:
        prior = {**PRIOR, **(prior or {})}
        window = origins_per_window(origins)
        default = np.zeros(len(abs_sum), dtype=int)
        for c in np.unique(cls):
            in_c = cls == c
            default[in_c] = class_default(cube[in_c], CANDIDATES.index(prior.get(c, "combination")), z, window=window)
        pick, margin = _switch(
            cube, default, series_threshold(cube, z, horizon=window), se=lambda d: _block_se(d, horizon=window)
        )
    out = abs_sum.index.to_frame(index=False)
    out["method"] = np.array(CANDIDATES)[pick]
    with np.errstate(divide="ignore", invalid="ignore"):
        wapes = abs_sum.to_numpy() / actual.to_numpy()[:, None]
    wapes = np.where(actual.to_numpy()[:, None] > 0, wapes, np.nan)
    out["wape"] = wapes[np.arange(len(out)), pick]
    out["intermittency"] = cls
    out["backtest_rows"] = n.to_numpy().astype(int)
    out["actual_units"] = actual.to_numpy()
    for k, m in enumerate(CANDIDATES):
        out[f"wape_{m}"] = wapes[:, k]
    out["default_method"] = np.array(CANDIDATES)[default]
    out["margin"] = margin
    return out[SELECTION_COLUMNS]


def incumbent(previous: pd.DataFrame | None) -> dict[str, str] | None:
    """The previous cycle's default method per intermittency class, from its selection (SELECTION_COLUMNS),
    for ``select(prior=...)``: the incumbent a challenger must clearly beat. Without it the class
    default is tested against the fixed prior every cycle, and where a challenger's edge sits near the
    test's threshold the default flips back and forth from week to week (on the small demo, six
    consecutive weekly cycles: 153 method changes in five weeks; with the incumbent, 9). None without
    a previous selection; unknown methods are ignored."""
    if previous is None or previous.empty or not {"intermittency", "default_method"} <= set(previous.columns):
        return None
    known = previous[previous.default_method.isin(CANDIDATES)]
    out = known.groupby("intermittency").default_method.agg(lambda m: m.mode().iloc[0]).to_dict()
    return {str(k): str(v) for k, v in out.items()} or None


def _series_method(rows: pd.DataFrame, selection: pd.DataFrame) -> np.ndarray:
    """Per row, the index in CANDIDATES of its series' chosen method (lightgbm for a series not in
    ``selection``). Looked up on integer series codes (the rows' sku and location categories, the
    selection mapped onto them): a join on the text keys of ~7M backtest rows took ~0.6 GB at large."""
    keys = []
    for c in ("sku", "location"):
        col = rows[c]
        cat = col.array if isinstance(col.dtype, pd.CategoricalDtype) else pd.Categorical(col)
        sel = pd.Categorical(selection[c], categories=cat.categories).codes.astype(np.int64)
        keys.append((np.asarray(cat.codes, dtype=np.int64), sel, len(cat.categories)))
    (row_sku, sel_sku, _), (row_loc, sel_loc, n_loc) = keys
    row_key = row_sku * n_loc + row_loc
    known = (sel_sku >= 0) & (sel_loc >= 0)  # a selected series absent from the rows maps nowhere
    sel_key = (sel_sku * n_loc + sel_loc)[known]
    method = pd.Categorical(selection["method"].to_numpy()[known], categories=CANDIDATES).codes
    order = np.argsort(sel_key, kind="stable")
    sel_key, method = sel_key[order], method[order]
    out = np.full(len(rows), CANDIDATES.index("lightgbm"), dtype=np.int8)
    if len(sel_key):
        at = np.minimum(np.searchsorted(sel_key, row_key), len(sel_key) - 1)
        hit = (sel_key[at] == row_key) & (row_sku >= 0) & (row_loc >= 0) & (method[at] >= 0)
        out[hit] = method[at][hit]
    return out


def chosen_forecast(rows: pd.DataFrame, selection: pd.DataFrame) -> np.ndarray:
    """Each row's forecast by its series' chosen method (lightgbm for a series not selected)."""
    method = _series_method(rows, selection)
    out = rows["lightgbm"].to_numpy(dtype=float).copy()
    for name in STAT_CANDIDATES:
        hit = method == CANDIDATES.index(name)
        if hit.any():
            out[hit] = rows[name].to_numpy(dtype=float)[hit]
    return out


# --------------------------------------------------------------------------- calibration


CALIBRATION_COLUMNS = [
    "horizon_bucket",
    "intermittency",
    "q_low",
    "q_high",
    "rows",
    "share_below_p10",
    "share_above_p90",
    "band_coverage",
]


@dataclass
class Calibration:
    """Scaled residual quantiles per (horizon bucket, intermittency class) and what they achieved."""

    table: pd.DataFrame  # CALIBRATION_COLUMNS

    def quantiles(self, bucket: np.ndarray, cls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = self.table.set_index(["horizon_bucket", "intermittency"])
        key = pd.MultiIndex.from_arrays([bucket, cls])
        lo = t["q_low"].reindex(key).to_numpy(dtype=float)
        hi = t["q_high"].reindex(key).to_numpy(dtype=float)
        return lo, hi


def _groups(lag: np.ndarray, intermittency) -> tuple[np.ndarray, np.ndarray]:
    """(group id per row, class labels): id = class code x len(BUCKETS) + horizon bucket code, -1
    where the row has no class. Small integer keys: at large the backtest has ~7M rows, and
    grouping them by text labels took ~1.5 GB more than the rows themselves."""
    bucket = _bucket_code(lag)
    codes, labels = pd.factorize(intermittency, sort=True)
    codes = np.asarray(codes, dtype=np.int16)
    group = np.where(codes >= 0, codes * np.int16(len(BUCKETS)) + bucket, np.int16(-1)).astype(np.int16)
    return group, np.asarray(labels, dtype=object)


def group_quantile(values: np.ndarray, group: np.ndarray, ids: np.ndarray, q: float) -> np.ndarray:
    """The q-quantile of ``values`` in each group of ``ids`` (NaN skipped; NaN for a group with no
    value), linear interpolation exactly as pandas' ``groupby(...).quantile(q)`` computes it
    (tests/unit/test_methods.py compares them bit for bit). One group at a time on its own sorted
    copy: for a few groups over millions of rows, a fraction of the memory pandas' sort of every
    row by (group, value) takes."""
    out = np.full(len(ids), np.nan)
    for n, k in enumerate(ids):
        v = values[group == k]
        v = np.sort(v[~np.isnan(v)])
        size = len(v)
        if size == 0:
            continue
        pos = q * float(size - 1)
        idx = int(pos)
        out[n] = v[idx] if idx == size - 1 else v[idx] + (v[idx + 1] - v[idx]) * (pos - idx)
    return out


def _quantile_table(resid: np.ndarray, group: np.ndarray) -> pd.DataFrame:
    """q_low, q_high and rows per group id (``_groups``; rows of group -1 left out), a group of
    fewer than MIN_GROUP_ROWS rows taking its class's quantiles over every lag."""
    lo, hi = QUANTILES
    rows = np.bincount(group[group >= 0], minlength=1)
    ids = np.flatnonzero(rows)
    t = pd.DataFrame(
        {
            "q_low": group_quantile(resid, group, ids, lo),
            "q_high": group_quantile(resid, group, ids, hi),
            "rows": rows[ids],
        },
        index=ids,
    )
    small = (t["rows"] < MIN_GROUP_ROWS).to_numpy()
    if small.any():  # a thin group borrows its class's quantiles over every lag
        cls = np.where(group >= 0, group // len(BUCKETS), -1)
        of_small = np.unique(ids[small] // len(BUCKETS))
        cls_lo = pd.Series(group_quantile(resid, cls, of_small, lo), index=of_small)
        cls_hi = pd.Series(group_quantile(resid, cls, of_small, hi), index=of_small)
        c = ids[small] // len(BUCKETS)
        t.loc[small, "q_low"] = cls_lo.reindex(c).to_numpy()
        t.loc[small, "q_high"] = cls_hi.reindex(c).to_numpy()
    return t


def band(p50: np.ndarray, scale: np.ndarray, q_low: np.ndarray, q_high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(p10, p90) = p50 + scale x (q_low, q_high), p10 >= 0, ordered around p50."""
    s = np.nan_to_num(scale)
    p10 = np.clip(p50 + s * np.nan_to_num(q_low), 0, None)
    p90 = p50 + s * np.nan_to_num(q_high)
    return np.minimum(p10, p50), np.maximum(p90, p50)


def coverage(actual: np.ndarray, p10: np.ndarray, p90: np.ndarray) -> dict[str, float]:
    """Shares of actuals below p10 (A < p10), above p90 (A > p90) and inside [p10, p90]."""
    actual = np.asarray(actual, dtype=float)
    if len(actual) == 0:
        return {"share_below_p10": np.nan, "share_above_p90": np.nan, "band_coverage": np.nan}
    below = float(np.mean(actual < p10))
    above = float(np.mean(actual > p90))
    return {"share_below_p10": below, "share_above_p90": above, "band_coverage": 1.0 - below - above}


def calibrate(rows: pd.DataFrame, forecast: np.ndarray) -> Calibration:
    """Quantiles of the scaled residuals of ``forecast`` (each row's chosen method) per horizon
    bucket x intermittency class, with the coverage they achieve out of fold (even/odd origins).

    rows: backtest rows with ``actual``, ``scale``, ``lag``, ``intermittency`` and ``origin``."""
    ok = rows["scale"].to_numpy(dtype=float) > 0
    if not ok.any():
        return Calibration(pd.DataFrame(columns=CALIBRATION_COLUMNS))
    f = np.asarray(forecast, dtype=float)[ok]
    a = rows["actual"].to_numpy(dtype=float)[ok]
    s = rows["scale"].to_numpy(dtype=float)[ok]
    group, labels = _groups(rows["lag"].to_numpy()[ok], rows["intermittency"].array[ok])  # categorical: codes
    resid = (a - f) / s
    table = _quantile_table(resid, group)
    # forward: quantiles from the older half of the origins, scored on the newer half
    train, test = forward_split(rows["origin"].to_numpy()[ok])
    p10 = np.full(len(a), np.nan)
    p90 = np.full(len(a), np.nan)
    if train.any() and test.any():
        t = _quantile_table(resid[train], group[train])
        lo = t["q_low"].reindex(group[test]).to_numpy(dtype=float)
        hi = t["q_high"].reindex(group[test]).to_numpy(dtype=float)
        p10[test], p90[test] = band(f[test], s[test], lo, hi)
    scored = ~np.isnan(p10) & (group >= 0)
    if scored.any():  # coverage per group: the shares of ``coverage``, counted per group id
        n_groups = int(group.max()) + 1
        gs = group[scored]
        n = np.bincount(gs, minlength=n_groups).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            below = np.bincount(gs, weights=a[scored] < p10[scored], minlength=n_groups) / n
            above = np.bincount(gs, weights=a[scored] > p90[scored], minlength=n_groups) / n
        cov = pd.DataFrame({"share_below_p10": below, "share_above_p90": above, "band_coverage": 1.0 - below - above})[
            n > 0
        ]
        table = table.join(cov, how="left")
    else:  # a single origin: nothing to score forward
        table = table.assign(share_below_p10=np.nan, share_above_p90=np.nan, band_coverage=np.nan)
    ids = table.index.to_numpy()
    out = table.reset_index(drop=True)
    out.insert(0, "intermittency", labels[ids // len(BUCKETS)])
    out.insert(0, "horizon_bucket", np.array(BUCKETS, dtype=object)[ids % len(BUCKETS)])
    out["rows"] = out["rows"].astype(int)
    return Calibration(out[CALIBRATION_COLUMNS].sort_values(["intermittency", "horizon_bucket"]).reset_index(drop=True))


def forward_split(origin: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(older half, newer half) of the rows by their origin."""
    o = pd.to_datetime(pd.Series(np.asarray(origin)))
    uniq = np.sort(o.unique())
    if len(uniq) < 2:
        return np.zeros(len(o), bool), np.zeros(len(o), bool)
    cut = uniq[len(uniq) // 2]
    older = (o < cut).to_numpy()
    return older, ~older


def forward_selection(rows: pd.DataFrame) -> dict[str, float]:
    """WAPE of per-series selection judged forward: methods picked on the older half of the
    origins, scored on the newer half; each candidate alone on the same rows for comparison."""
    train, test = forward_split(rows["origin"])
    chosen = np.full(len(rows), np.nan)
    if train.any() and test.any():
        picked = select(rows[train])  # its copy of the older rows is freed before the newer are copied
        chosen[test] = chosen_forecast(rows[test], picked)
    ok = ~np.isnan(chosen)
    a = rows["actual"].to_numpy(dtype=float)[ok]
    denom = a.sum()
    if denom <= 0:
        return {"selected": np.nan, **{m: np.nan for m in CANDIDATES}}
    out = {"selected": float(np.abs(chosen[ok] - a).sum() / denom)}
    for m in CANDIDATES:
        out[m] = float(np.abs(rows[m].to_numpy(dtype=float)[ok] - a).sum() / denom)
    return out


# --------------------------------------------------------------------------- the cycle's forecast


def apply(
    loc: pd.DataFrame,
    units: np.ndarray,
    keys: pd.DataFrame,
    gap: int,
    selection: pd.DataFrame | None,
    calibration: Calibration | None,
) -> pd.DataFrame:
    """The cycle's series forecast with each series' chosen method and calibrated p10/p90.

    loc: ``forecasting.predict`` rows (series-major in ``keys`` order, the same horizon weeks for
    every series); units: the panel's cleansed history (n, T); gap: 1 when the as-of is mid-week
    (horizon week k is h = k + 1). Series the global model did not forecast (young:
    family_profile, inactive, between_seasons) keep their numbers. Adds ``method`` (the chosen candidate)."""
    out = loc.copy()
    n = len(keys)
    if n == 0 or out.empty:
        out["method"] = out.get("model", pd.Series(dtype=object))
        return out
    k = len(out) // n
    ks = out["horizon_week"].to_numpy()[:k]
    model = out["model"].to_numpy().reshape(n, k)[:, 0]
    method = model.astype(object).copy()
    stat = model == "lightgbm"
    if selection is not None and len(selection):
        chosen = (
            keys[["sku", "location"]]
            .merge(selection[["sku", "location", "method"]], how="left", on=["sku", "location"])["method"]
            .fillna("lightgbm")
            .to_numpy()
        )
        method = np.where(stat, chosen, method)
    p50 = out["units_p50"].to_numpy(dtype=float).reshape(n, k).copy()
    p10 = out["units_p10"].to_numpy(dtype=float).reshape(n, k).copy()
    p90 = out["units_p90"].to_numpy(dtype=float).reshape(n, k).copy()
    if (stat & (method != "lightgbm")).any():
        cand = candidates(units, ks + gap, p50)
        for name in STAT_CANDIDATES:
            hit = method == name
            p50[hit] = cand[name][hit]
    if calibration is not None and len(calibration.table):
        cls = np.repeat(intermittency_class(units), k)
        bucket = np.tile(horizon_bucket(ks), n)
        lo, hi = calibration.quantiles(bucket, cls)
        ok = np.repeat(stat, k) & np.isfinite(lo) & np.isfinite(hi)
        scale = np.repeat(series_scale(units), k)
        b10, b90 = band(p50.ravel(), scale, lo, hi)
        p10 = np.where(ok, b10, p10.ravel()).reshape(n, k)
        p90 = np.where(ok, b90, p90.ravel()).reshape(n, k)
    p10 = np.where(np.repeat(stat & (zero_share(units) > ZERO_P10_SHARE), k).reshape(n, k), 0.0, p10)
    p10, p90 = np.minimum(p10, p50), np.maximum(p90, p50)
    out["units_p50"], out["units_p10"], out["units_p90"] = p50.ravel(), p10.ravel(), p90.ravel()
    out["method"] = np.repeat(method, k)
    if "price" in out:
        out["revenue"] = out["units_p50"] * out["price"]
    return out


# --------------------------------------------------------------------------- checks (asset checks use these)


def selection_breaks(selection: pd.DataFrame, tol: float = 1e-9) -> pd.DataFrame:
    """Series whose chosen method is not the rule's pick (``select``): the lowest backtest WAPE
    when it is more than the series' ``margin`` below its class default's (``default_method``),
    else the default. Series that sold nothing in the backtest (WAPE undefined) are not judged
    here. Returns sku, location, method, expected, problem."""
    cols = [f"wape_{m}" for m in CANDIDATES]
    if selection.empty:
        return pd.DataFrame(columns=["sku", "location", "method", "expected", "problem"])
    s = selection[selection[cols].notna().all(axis=1)]
    w = s[cols].to_numpy(dtype=float)
    r = np.arange(len(w))
    best = np.argmin(w, axis=1)
    default = np.array([CANDIDATES.index(m) for m in s["default_method"]], dtype=int)
    margin = s["margin"].to_numpy(dtype=float)
    switch = (best != default) & (w[r, best] < w[r, default] * (1 - margin) - tol)
    pick = np.where(switch, best, default)
    expected = np.array(CANDIDATES)[pick]
    chosen_w = s["wape"].to_numpy(dtype=float)
    expected_w = w[r, pick]
    bad = np.abs(chosen_w - expected_w) > tol * np.maximum(1, np.abs(expected_w))
    out = s.loc[bad, ["sku", "location", "method"]].assign(expected=expected[bad])
    out["problem"] = [
        f"chose {m} (backtest WAPE {a:.3f}) but the rule picks {e} ({b:.3f})"
        for m, e, a, b in zip(out.method, out.expected, chosen_w[bad], expected_w[bad])
    ]
    return out.reset_index(drop=True)


def calibration_breaks(table: pd.DataFrame) -> list[str]:
    """Impossible calibration rows: q_low > q_high, shares outside [0, 1] or not adding to 1."""
    problems = []
    for r in table.itertuples(index=False):
        where = f"lags {r.horizon_bucket}, {r.intermittency}"
        if not (np.isfinite(r.q_low) and np.isfinite(r.q_high)) or r.q_low > r.q_high:
            problems.append(f"{where}: residual quantiles not ordered ({r.q_low} > {r.q_high})")
        shares = [r.share_below_p10, r.share_above_p90, r.band_coverage]
        if all(np.isfinite(shares)):
            if min(shares) < -1e-9 or max(shares) > 1 + 1e-9 or abs(sum(shares) - 1) > 1e-6:
                problems.append(f"{where}: coverage shares {shares} do not partition the actuals")
    return problems


def calibration_on_target(table: pd.DataFrame, tol: float = 0.05) -> list[str]:
    """Groups whose forward coverage misses the target: below p10 and above p90 within ``tol`` of
    10%, band within 70-90%."""
    misses = []
    for r in table.itertuples(index=False):
        if not np.isfinite(r.band_coverage):
            continue
        where = f"lags {r.horizon_bucket}, {r.intermittency}"
        if abs(r.share_below_p10 - 0.1) > tol:
            misses.append(f"{where}: {r.share_below_p10:.0%} below p10")
        if abs(r.share_above_p90 - 0.1) > tol:
            misses.append(f"{where}: {r.share_above_p90:.0%} above p90")
        if not 0.7 <= r.band_coverage <= 0.9:
            misses.append(f"{where}: band covers {r.band_coverage:.0%}")
    return misses


def rollup_breaks(sku: pd.DataFrame, location: pd.DataFrame, rel: float = 1e-6) -> pd.DataFrame:
    """SKU-weeks whose units_p50 or revenue differ from the sum over the SKU's locations."""
    keys = ["sku", "week_start"]
    loc = location.assign(week_start=pd.to_datetime(location["week_start"]))
    total = loc.groupby(keys, as_index=False, observed=True)[["units_p50", "revenue"]].sum()
    m = sku.assign(week_start=pd.to_datetime(sku["week_start"]))[[*keys, "units_p50", "revenue"]].merge(
        total, on=keys, how="outer", suffixes=("", "_locations"), indicator=True
    )
    bad = m["_merge"] != "both"
    for c in ("units_p50", "revenue"):
        a, b = m[c].to_numpy(dtype=float), m[f"{c}_locations"].to_numpy(dtype=float)
        bad |= np.abs(a - b) > rel * np.maximum(1.0, np.abs(b))
    out = m[bad].copy()
    out["problem"] = [
        f"SKU {r.sku} week {pd.Timestamp(r.week_start).date()}: {r.units_p50} units vs {r.units_p50_locations} "
        "over its locations"
        for r in out.itertuples(index=False)
    ]
    return out.reset_index(drop=True)
