"""Candidate forecast methods per series, selection by backtest error, calibrated quantiles.

The cycle forecasts every SKU x location series with four candidates and keeps, per series, the
one with the lowest rolling-origin backtest error (``analytics.backtest``):

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
      benchmarks/README.md).

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
The global model is the incumbent: another candidate replaces it on a series only when its
error is ``SWITCH_MARGIN`` (25%) lower. Picking the plain minimum over-fits the backtest's noise:
on the small demo, methods picked on the older 13 origins and scored on the newer 13 lost 2.3%
WAPE against LightGBM alone with no margin, and 0.5% better with a 30% margin
(benchmarks/README.md, "Forecast").

Calibrated quantiles. p10/p90 of the chosen method are p50 + s x q, where s is the series'
scale at the origin (mean of its last 13 observed weeks) and q the 10% / 90% empirical quantile
of the scaled backtest residuals (A - F) / s of every series' chosen method, per horizon bucket
(lags 1-4, 5-8, 9-13) and intermittency class (``smooth``: sold in >= 76% of its last 52
observed weeks, i.e. average inter-demand interval <= 1.32, Syntetos-Boylan; else
``intermittent``). p10 is floored at 0. Coverage convention: an actual is below p10 when
A < p10, above p90 when A > p90, inside the band otherwise (ties count as covered). The
calibration achieved is measured forward: quantiles estimated on the older half of the backtest
origins are scored on the newer half (weekly origins overlap, so an even/odd split would score
nearly the same weeks it was fitted on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CANDIDATES = ("lightgbm", "seasonal_naive", "exp_smoothing", "tsb", "combination")
STAT_CANDIDATES = CANDIDATES[1:]  # the ones computed here (lightgbm comes from forecasting)
COMBINED = ("lightgbm", "seasonal_naive", "exp_smoothing")  # the combination's members
SEASON_WEEKS = 52
FIT_WEEKS = 104
SES_ALPHAS = np.array([0.05, 0.1, 0.2, 0.3, 0.5])
TSB_ALPHAS = np.array([0.05, 0.1, 0.2, 0.3])
SMOOTH_MIN_SHARE = 1 / 1.32  # ADI <= 1.32: Syntetos-Boylan's cut between smooth and intermittent
QUANTILES = (0.1, 0.9)
MIN_GROUP_ROWS = 100
# a statistical candidate replaces the global model only when its backtest error is this much
# lower: per-series selection on 26 overlapping weekly origins is noisy (see the module doc)
SWITCH_MARGIN = 0.25  # fewer backtest residuals in a (bucket, class) group: use the class over all lags


def horizon_bucket(lag: np.ndarray) -> np.ndarray:
    """'1-4', '5-8' or '9-13' (lag 0, the mid-week nowcast week, joins 1-4)."""
    lag = np.asarray(lag)
    return np.where(lag <= 4, "1-4", np.where(lag <= 8, "5-8", "9-13"))


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


def exp_smoothing(units: np.ndarray, horizons: np.ndarray) -> np.ndarray:
    """Simple exponential smoothing, alpha per series by in-sample one-step SSE; flat forecast."""
    y = units[:, -FIT_WEEKS:]
    n, T = y.shape
    a = SES_ALPHAS[None, :]
    level = np.full((n, len(SES_ALPHAS)), np.nan)
    sse = np.zeros_like(level)
    for t in range(T):
        x = y[:, t][:, None]
        ok = ~np.isnan(x)
        started = ~np.isnan(level)
        upd = ok & started
        err = np.where(upd, x - level, 0.0)
        sse += err**2
        level = np.where(upd, level + a * err, np.where(ok & ~started, x, level))
    best = np.argmin(sse, axis=1)
    f = np.nan_to_num(level[np.arange(n), best])
    return np.repeat(f[:, None], len(horizons), axis=1)


def tsb(units: np.ndarray, horizons: np.ndarray) -> np.ndarray:
    """Teunter-Syntetos-Babai: probability x size, both smoothed; constants per series by SSE."""
    y = units[:, -FIT_WEEKS:]
    n, T = y.shape
    ap = np.repeat(TSB_ALPHAS, len(TSB_ALPHAS))[None, :]
    az = np.tile(TSB_ALPHAS, len(TSB_ALPHAS))[None, :]
    k = ap.shape[1]
    obs = ~np.isnan(y)
    nz = obs & (y > 0)
    # start values: the share of observed weeks with demand and the mean non-zero size over the
    # fit window (history only, nothing after the origin)
    p0 = nz.sum(axis=1) / np.maximum(obs.sum(axis=1), 1)
    z0 = np.where(nz.any(axis=1), np.nansum(np.where(nz, y, 0.0), axis=1) / np.maximum(nz.sum(axis=1), 1), 0.0)
    p = np.repeat(p0[:, None], k, axis=1)
    z = np.repeat(z0[:, None], k, axis=1)
    sse = np.zeros((n, k))
    for t in range(T):
        x = y[:, t][:, None]
        ok = ~np.isnan(x)
        xv = np.where(ok, x, 0.0)
        sse += np.where(ok, (xv - p * z) ** 2, 0.0)
        d = (xv > 0).astype(float)
        p = np.where(ok, p + ap * (d - p), p)
        z = np.where(ok & (xv > 0), z + az * (xv - z), z)
    best = np.argmin(sse, axis=1)
    f = (p * z)[np.arange(n), best]
    return np.repeat(f[:, None], len(horizons), axis=1)


def candidates(units: np.ndarray, horizons: np.ndarray, lightgbm: np.ndarray) -> dict[str, np.ndarray]:
    """Every candidate's forecast but the global model's, (n, len(horizons)) each, >= 0;
    ``lightgbm``: the global model's forecast of the same weeks (for the combination)."""
    horizons = np.asarray(horizons)
    out = {
        "seasonal_naive": seasonal_naive(units, horizons),
        "exp_smoothing": exp_smoothing(units, horizons),
        "tsb": tsb(units, horizons),
    }
    out = {k: np.clip(np.nan_to_num(v), 0, None) for k, v in out.items()}
    out["lightgbm"] = np.clip(np.nan_to_num(np.asarray(lightgbm, dtype=float)), 0, None)
    out["combination"] = sum(out[m] for m in COMBINED) / len(COMBINED)
    del out["lightgbm"]
    return out


def series_scale(units: np.ndarray) -> np.ndarray:
    """Mean of the last 13 observed weeks per series (NaN when none), the residuals' scale."""
    recent = units[:, max(units.shape[1] - 13, 0) :]
    cnt = (~np.isnan(recent)).sum(axis=1)
    return np.where(cnt > 0, np.nansum(recent, axis=1) / np.maximum(cnt, 1), np.nan)


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
]


def select(rows: pd.DataFrame, margin: float = SWITCH_MARGIN) -> pd.DataFrame:
    """Per series (sku, location): the candidate with the lowest backtest error; the global model
    (the incumbent) is replaced only by a candidate whose error is ``margin`` lower than its own.

    rows: one row per series x origin x lag with ``actual`` and one forecast column per candidate
    (``CANDIDATES``), plus ``intermittency``. Returns SELECTION_COLUMNS; ``wape`` is the chosen
    method's (NaN when the series sold nothing in the scored weeks)."""
    if rows.empty:
        return pd.DataFrame(columns=SELECTION_COLUMNS)
    err = pd.DataFrame({m: (rows[m] - rows["actual"]).abs() for m in CANDIDATES})
    err[["sku", "location"]] = rows[["sku", "location"]]
    err["actual"] = rows["actual"]
    g = err.groupby(["sku", "location"], sort=True, observed=True)
    abs_sum = g[list(CANDIDATES)].sum()
    actual = g["actual"].sum()
    n = g.size()
    errs = abs_sum.to_numpy()
    pick = np.argmin(errs, axis=1)  # first minimum: ties go to the earlier candidate
    incumbent = CANDIDATES.index("lightgbm")
    keep = errs[np.arange(len(errs)), pick] >= (1 - margin) * errs[:, incumbent]
    pick = np.where(keep, incumbent, pick)
    out = abs_sum.index.to_frame(index=False)
    out["method"] = np.array(CANDIDATES)[pick]
    with np.errstate(divide="ignore", invalid="ignore"):
        wapes = abs_sum.to_numpy() / actual.to_numpy()[:, None]
    wapes = np.where(actual.to_numpy()[:, None] > 0, wapes, np.nan)
    out["wape"] = wapes[np.arange(len(out)), pick]
    last_class = rows.groupby(["sku", "location"], sort=True, observed=True)["intermittency"].last()
    out["intermittency"] = last_class.to_numpy()
    out["backtest_rows"] = n.to_numpy().astype(int)
    out["actual_units"] = actual.to_numpy()
    for k, m in enumerate(CANDIDATES):
        out[f"wape_{m}"] = wapes[:, k]
    return out[SELECTION_COLUMNS]


def chosen_forecast(rows: pd.DataFrame, selection: pd.DataFrame) -> np.ndarray:
    """Each row's forecast by its series' chosen method (lightgbm for a series not selected)."""
    m = rows[["sku", "location"]].merge(selection[["sku", "location", "method"]], how="left", on=["sku", "location"])
    method = m["method"].fillna("lightgbm").to_numpy()
    out = rows["lightgbm"].to_numpy(dtype=float).copy()
    for name in STAT_CANDIDATES:
        hit = method == name
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


def _quantile_table(resid: np.ndarray, bucket: np.ndarray, cls: np.ndarray) -> pd.DataFrame:
    d = pd.DataFrame({"r": resid, "b": bucket, "c": cls})
    lo, hi = QUANTILES
    g = d.groupby(["b", "c"], observed=True)["r"]
    t = pd.DataFrame({"q_low": g.quantile(lo), "q_high": g.quantile(hi), "rows": g.size()})
    by_class = d.groupby("c")["r"]
    cls_lo, cls_hi = by_class.quantile(lo), by_class.quantile(hi)
    small = t["rows"] < MIN_GROUP_ROWS
    if small.any():  # a thin group borrows its class's quantiles over every lag
        c = t.index.get_level_values(1)
        t.loc[small, "q_low"] = cls_lo.reindex(c[small]).to_numpy()
        t.loc[small, "q_high"] = cls_hi.reindex(c[small]).to_numpy()
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
    r = rows[ok]
    f = np.asarray(forecast, dtype=float)[ok]
    a = r["actual"].to_numpy(dtype=float)
    s = r["scale"].to_numpy(dtype=float)
    bucket = horizon_bucket(r["lag"].to_numpy())
    cls = r["intermittency"].to_numpy().astype(object)
    if len(r) == 0:
        return Calibration(pd.DataFrame(columns=CALIBRATION_COLUMNS))
    resid = (a - f) / s
    table = _quantile_table(resid, bucket, cls)
    # forward: quantiles from the older half of the origins, scored on the newer half
    train, test = forward_split(r["origin"])
    p10 = np.full(len(r), np.nan)
    p90 = np.full(len(r), np.nan)
    if train.any() and test.any():
        t = _quantile_table(resid[train], bucket[train], cls[train])
        key = pd.MultiIndex.from_arrays([bucket[test], cls[test]])
        lo = t["q_low"].reindex(key).to_numpy(dtype=float)
        hi = t["q_high"].reindex(key).to_numpy(dtype=float)
        p10[test], p90[test] = band(f[test], s[test], lo, hi)
    scored = ~np.isnan(p10)
    frame = pd.DataFrame(
        {"b": bucket[scored], "c": cls[scored], "a": a[scored], "p10": p10[scored], "p90": p90[scored]}
    )
    if len(frame):
        cov = frame.groupby(["b", "c"], observed=True).apply(
            lambda x: pd.Series(coverage(x.a.to_numpy(), x.p10.to_numpy(), x.p90.to_numpy())), include_groups=False
        )
        table = table.join(cov, how="left")
    else:  # a single origin: nothing to score forward
        table = table.assign(share_below_p10=np.nan, share_above_p90=np.nan, band_coverage=np.nan)
    out = table.reset_index().rename(columns={"b": "horizon_bucket", "c": "intermittency"})
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
        chosen[test] = chosen_forecast(rows[test], select(rows[train]))
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
    family_profile, inactive) keep their numbers. Adds ``method`` (the chosen candidate)."""
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
    p10, p90 = np.minimum(p10, p50), np.maximum(p90, p50)
    out["units_p50"], out["units_p10"], out["units_p90"] = p50.ravel(), p10.ravel(), p90.ravel()
    out["method"] = np.repeat(method, k)
    if "price" in out:
        out["revenue"] = out["units_p50"] * out["price"]
    return out


# --------------------------------------------------------------------------- checks (asset checks use these)


def selection_breaks(selection: pd.DataFrame, margin: float = SWITCH_MARGIN, tol: float = 1e-9) -> pd.DataFrame:
    """Series whose chosen method is not the rule's pick: the lowest backtest WAPE, or lightgbm
    when no candidate is ``margin`` better. Series that sold nothing in the backtest (WAPE
    undefined) are not judged here. Returns sku, location, method, expected, problem."""
    cols = [f"wape_{m}" for m in CANDIDATES]
    if selection.empty:
        return pd.DataFrame(columns=["sku", "location", "method", "expected", "problem"])
    s = selection[selection[cols].notna().all(axis=1)]
    w = s[cols].to_numpy(dtype=float)
    best = np.argmin(w, axis=1)
    inc = CANDIDATES.index("lightgbm")
    keep = w[np.arange(len(w)), best] >= (1 - margin) * w[:, inc] - tol
    expected = np.array(CANDIDATES)[np.where(keep, inc, best)]
    chosen_w = s["wape"].to_numpy(dtype=float)
    expected_w = w[np.arange(len(w)), np.where(keep, inc, best)]
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
