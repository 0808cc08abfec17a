"""13-week demand forecast: one global LightGBM model over all SKU x location series.

Method (choices documented once, here)
    * **Global, direct multi-horizon.** One model for every series and every horizon: a training
      row is (series, origin week t, horizon h) with features known at the end of week t and
      target = units of week t+h. Direct (not recursive) so errors do not compound over 13
      steps and prediction is a single pass. Horizon h is a feature.
    * **Scale-free target.** Target and level features are divided by the series scale s (mean
      of the last 13 observed weeks at the origin); rows are weighted by s, so the squared loss
      is in units and big series count as they do in WAPE. The point forecast is the
      conditional **mean** (L2 objective): means add up across locations and SKUs, so the SKU
      and family totals stay unbiased. ``units_p50`` is that mean; at SKU and family level the
      median and the mean of a weekly total nearly coincide.
    * **Intervals.** ``units_p10`` / ``units_p90`` come from two LightGBM quantile models (alpha
      0.1 / 0.9, fewer rounds) on the same features, per series; rolled up to SKU and family with
      an error correlation of 0.25 between series (``rollup``): location errors share SKU-level
      shocks, so independence (rho = 0) makes SKU bands too narrow (about 66% of weeks inside
      p10-p90 in holdouts on demo data instead of 80%), rho = 1 too wide (over 90%), rho = 0.25
      about right (79-82%).
    * **Features.** Lags 1-4, rolling means 4/8/13/26/52, rolling sd and zero share (13 weeks),
      last year's same week and its neighbours, last year's change from "now" to the target
      week, the family's seasonal index ratio (target week vs the last 13 weeks), ISO
      week-of-year, launch age (weeks since first sale), known promotions at the target week
      (share of days, discount, promo the week before = post-promo dip), recent promo share,
      planned price vs recent price, and categorical family, category, channel, location and
      lifecycle.
    * **History hygiene.** Training uses ``units_clean`` (outliers replaced by their expected
      value, censored stock-out weeks missing: never learnt as zero demand, never used as a
      target; rolling features skip them).
    * **Guards.** Forecasts are >= 0 and at most ``clip_multiple`` (3) x the largest of the last
      52 cleansed weeks (or of the 13-week mean) so intermittent C/Z items cannot explode. Series
      with fewer than ``min_history_weeks`` (8) observed weeks use the **family profile**: their
      recent level x the family's seasonal index ratio, with the family's median relative
      interval width. Series with no demand in the last ``inactive_weeks`` (13) weeks get 0 -
      unless they are **between seasons** (``between_seasons``): just as quiet in the same weeks in
      each of the last two years, and selling in at least two of the weeks a year (two years) before
      the horizon (a seasonal item whose season returns, not a dead one); an item being run down
      (phase-out, discontinued, obsolete) never is.
      Those keep the global model's forecast and quantile band (``model`` = ``between_seasons``),
      not the selected method's: the selection's backtest origins lie in the off-season, where a
      method that forecasts 0 wins. Their band is at least as wide, relative to p50, as the
      family's median band (the quantile models can put p90 at p50 at a season's peak).
    * **Revenue** = units x planned price: the series' last non-promotion selling price (list
      price when it never sold), times (1 - discount) in promotion weeks.

The as-of rule is calendar.Cycle's: history is every complete ISO week up to the as-of date,
horizon week 1 is the first full week after it; when the as-of is mid-week the partial week 0
is forecast too (h = 1) for the sensing nowcast, and horizon week k is h = k + 1.
Training is fast: rows are a random sample (``max_train_rows``) of all (series, origin,
horizon) triples of the last ``train_window_weeks`` weeks; features are vectorized lookups in
cumulative-sum arrays, so cost grows linearly with series x weeks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import lightgbm as lgb
import numpy as np
import pandas as pd

from sop_pipeline.analytics import lifecycle
from sop_pipeline.analytics.calendar import Cycle, week_start

SEASON_WEEKS = 52
SEASON_YEARS = 2  # a seasonal item between seasons shows its quiet spell and its season this many years
SEASON_MIN_WEEKS = 2  # ... and sold in at least this many of the season's weeks each year (not one sale)
CATEGORICALS = ["family", "category", "channel", "location", "lifecycle"]
MODEL_LIGHTGBM = "lightgbm"
MODEL_FAMILY = "family_profile"
MODEL_INACTIVE = "inactive"
MODEL_SEASONAL = "between_seasons"  # the global model's forecast and band, for a seasonal item between seasons


@dataclass(frozen=True)
class ForecastConfig:
    horizon_weeks: int = 13
    num_boost_round: int = 150
    quantile_boost_round: int = 60
    learning_rate: float = 0.1
    num_leaves: int = 31
    min_data_in_leaf: int = 40
    train_window_weeks: int = 104
    max_train_rows: int = 100_000
    quantiles: tuple[float, float] = (0.1, 0.9)
    min_history_weeks: int = 8
    inactive_weeks: int = 13
    clip_multiple: float = 3.0
    with_quantiles: bool = True
    seed: int = 7
    # One thread: LightGBM's OpenMP workers spin-wait, and on a busy 2-core machine one thread
    # trained 4x faster than two; scale out with processes (Dagster) rather than threads.
    num_threads: int = 1


# --------------------------------------------------------------------------- calendar helpers


def last_complete_week(as_of: date) -> date:
    """Monday of the last ISO week that is complete on the as-of date."""
    w0 = week_start(as_of)
    return w0 if as_of.weekday() == 6 else w0 - timedelta(weeks=1)


def week_of_year(mondays: np.ndarray) -> np.ndarray:
    """1..52: the Monday's day of year // 7 + 1, capped at 52 (ISO week 53 joins 52)."""
    d = np.asarray(mondays, dtype="datetime64[D]")
    doy = (d - d.astype("datetime64[Y]")).astype(np.int64)
    return np.minimum(doy // 7 + 1, 52)


# --------------------------------------------------------------------------- the panel


@dataclass
class Panel:
    """Dense weekly arrays for every series, history plus known future weeks.

    keys: one row per series (sku, location, channel, family, category, lifecycle, first).
    weeks: Mondays, history (``n_hist``) then ``n_future`` future weeks.
    units: (n, n_hist) cleansed units, NaN before the first sale and in censored weeks.
    raw_units: (n, n_hist) observed units, NaN before the first sale.
    price: (n, n_hist) average selling price, NaN in weeks without sales.
    regular_price / recent_price: see fields.
    promo, discount: (n, n_hist + n_future) share of the week's days on promotion, discount.
    """

    keys: pd.DataFrame
    weeks: np.ndarray
    n_hist: int
    units: np.ndarray
    raw_units: np.ndarray
    price: np.ndarray
    promo: np.ndarray
    discount: np.ndarray
    list_price: np.ndarray
    regular_price: np.ndarray  # (n, n_hist) last non-promotion price, forward-filled (list price before)
    recent_price: np.ndarray  # (n, n_hist) mean selling price of the last 13 weeks with sales
    # per store: the first week (index) any series there sold. None: from ``keys`` (every series of the
    # history). A subset of the series (``subset``) keeps the whole history's, so cutting it at an
    # origin reads promotions as the whole panel's cut would (``panel_upto``).
    store_first: dict | None = None

    @property
    def n_series(self) -> int:
        return len(self.keys)

    @property
    def first(self) -> np.ndarray:
        return self.keys["first"].to_numpy()

    def stores_first(self) -> dict:
        """Per store location: the first week any series there has a row (``store_first``)."""
        if self.store_first is not None:
            return self.store_first
        stores = self.keys[self.keys.channel == "store"]
        return stores.groupby("location", observed=True)["first"].min().to_dict()

    def subset(self, rows: np.ndarray) -> Panel:
        """The panel of the series ``rows`` only (same weeks): each series' arrays are its own, and
        the store calendar stays the whole panel's (``store_first``), so every cut of the subset at
        an origin is the whole panel's cut restricted to these series."""
        return Panel(
            keys=self.keys.iloc[rows].reset_index(drop=True),
            weeks=self.weeks,
            n_hist=self.n_hist,
            units=self.units[rows],
            raw_units=self.raw_units[rows],
            price=self.price[rows],
            promo=self.promo[rows],
            discount=self.discount[rows],
            list_price=self.list_price[rows],
            regular_price=self.regular_price[rows],
            recent_price=self.recent_price[rows],
            store_first=self.stores_first(),
        )


def promo_calendar(
    promotions: pd.DataFrame | None, keys: pd.DataFrame, weeks: np.ndarray, stores: set | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(promo share of days, discount) per series x week from promotion rows.

    A promotion targets a store by its code, every series of the SKU with 'ALL' or empty, and
    the B2B series for anything else (a customer id) - the rule of int_demand_weekly. ``stores``:
    the store codes that count as stores (default: the store series' locations in ``keys``).
    """
    n, t = len(keys), len(weeks)
    share = np.zeros((n, t), dtype=np.float32)
    disc = np.zeros((n, t), dtype=np.float32)
    if promotions is None or promotions.empty or n == 0:
        return share, disc
    p = promotions.dropna(subset=["start_date", "end_date", "sku"])
    start = pd.to_datetime(p["start_date"]).to_numpy().astype("datetime64[D]")
    end = pd.to_datetime(p["end_date"]).to_numpy().astype("datetime64[D]")
    w0 = np.asarray(weeks, dtype="datetime64[D]")[0]
    first_w = (start - w0).astype(np.int64) // 7
    last_w = (end - w0).astype(np.int64) // 7
    nw = np.clip(last_w - first_w + 1, 0, None)
    rows = np.repeat(np.arange(len(p)), nw)
    wk = np.repeat(first_w, nw) + (np.arange(nw.sum()) - np.repeat(np.cumsum(nw) - nw, nw))
    keep = (wk >= 0) & (wk < t)
    rows, wk = rows[keep], wk[keep]
    wk_start = w0 + (7 * wk).astype("timedelta64[D]")
    days = (np.minimum(end[rows], wk_start + 6) - np.maximum(start[rows], wk_start)).astype(np.int64) + 1
    target = p["location_or_customer"].astype(object).to_numpy()[rows]
    if stores is None:
        stores = set(keys.loc[keys.channel == "store", "location"])
    target = np.array(
        [
            "ALL"
            if (x is None or (isinstance(x, float) and np.isnan(x)) or str(x).upper() == "ALL")
            else (x if x in stores else "B2B")
            for x in target
        ],
        dtype=object,
    )
    hits = pd.DataFrame(
        {
            "sku": p["sku"].to_numpy()[rows],
            "target": target,
            "wk": wk,
            "days": days,
            "disc": p["discount_pct"].fillna(0).to_numpy()[rows] if "discount_pct" in p else 0.0,
        }
    )
    series = keys[["sku", "location"]].reset_index(drop=True).reset_index().rename(columns={"index": "i"})
    direct = hits.merge(series, left_on=["sku", "target"], right_on=["sku", "location"], how="inner")
    to_all = hits[hits.target == "ALL"].merge(series, on="sku", how="inner")
    m = pd.concat([direct[["i", "wk", "days", "disc"]], to_all[["i", "wk", "days", "disc"]]], ignore_index=True)
    if len(m):
        g = m.groupby(["i", "wk"], as_index=False).agg(days=("days", "max"), disc=("disc", "max"))
        share[g.i.to_numpy(), g.wk.to_numpy()] = np.clip(g.days.to_numpy() / 7.0, 0, 1)
        disc[g.i.to_numpy(), g.wk.to_numpy()] = g.disc.to_numpy()
    return share, disc


def build_panel(
    history: pd.DataFrame,
    as_of: date,
    promotions: pd.DataFrame | None = None,
    future_weeks: int = 14,
    units_column: str = "units_clean",
) -> Panel:
    """Dense panel from the long weekly history (int_demand_weekly rows, cleansed).

    history columns: sku, location, channel, family, category, lifecycle, week_start, units,
    revenue, list_price and ``units_column`` (NaN = missing; falls back to ``units``).
    Rows after the last complete week of ``as_of`` are ignored.
    """
    last = np.datetime64(last_complete_week(as_of), "D")
    wk_all = pd.to_datetime(history["week_start"]).to_numpy().astype("datetime64[D]")
    col = units_column if units_column in history else "units"
    used = ["sku", "location", "channel", "family", "category", "lifecycle", "list_price", "units", col, "revenue"]
    # only the columns read below are copied (the history may be millions of rows wide)
    h = history[[c for c in dict.fromkeys(used) if c in history]][wk_all <= last]
    wk = wk_all[wk_all <= last]
    if h.empty:
        raise ValueError(f"no demand history on or before {as_of}: nothing to forecast")
    first_week = wk.min()
    n_hist = int((last - first_week).astype(np.int64) // 7) + 1
    weeks = first_week + (7 * np.arange(n_hist + future_weeks)).astype("timedelta64[D]")
    key_cols = ["sku", "location"]
    for c, default in (("category", None), ("lifecycle", "active"), ("channel", "store"), ("list_price", np.nan)):
        if c not in h:
            h[c] = default
    codes = h.groupby(key_cols, sort=True, observed=True).ngroup().to_numpy()
    keys = (
        h.assign(_i=codes)
        .sort_values("_i")
        .drop_duplicates("_i")[["sku", "location", "channel", "family", "category", "lifecycle", "list_price"]]
        .reset_index(drop=True)
    )
    wi = (wk - first_week).astype(np.int64) // 7
    n = len(keys)
    units = np.full((n, n_hist), np.nan, dtype=np.float64)
    raw = np.full((n, n_hist), np.nan, dtype=np.float64)
    price = np.full((n, n_hist), np.nan, dtype=np.float64)
    units[codes, wi] = h[col].to_numpy(dtype=float)
    raw[codes, wi] = h["units"].to_numpy(dtype=float)
    if "revenue" in h:
        u = h["units"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            price[codes, wi] = np.where(u > 0, h["revenue"].to_numpy(dtype=float) / u, np.nan)
    present = ~np.isnan(raw)
    first = np.where(present.any(axis=1), present.argmax(axis=1), n_hist)
    keys["first"] = first
    # weeks without a row after the first sale are zero demand (the dbt model fills them too)
    after = np.arange(n_hist)[None, :] >= first[:, None]
    raw = np.where(present, raw, np.where(after, 0.0, np.nan))
    units = np.where(present, units, np.where(after, 0.0, np.nan))
    promo, disc = promo_calendar(promotions, keys, weeks)
    list_price = keys["list_price"].to_numpy(dtype=float)
    regular = _regular_price(price, promo[:, :n_hist], list_price)
    ps = _Stats(price)
    ii = np.repeat(np.arange(n), n_hist)
    tt = np.tile(np.arange(n_hist), n)
    recent = ps.mean(ii, tt, 13).reshape(n, n_hist)
    return Panel(
        keys=keys.drop(columns="list_price"),
        weeks=weeks,
        n_hist=n_hist,
        units=units,
        raw_units=raw,
        price=price,
        promo=promo,
        discount=disc,
        list_price=list_price,
        regular_price=regular,
        recent_price=recent,
    )


def _regular_price(price: np.ndarray, promo: np.ndarray, list_price: np.ndarray) -> np.ndarray:
    """Last non-promotion selling price, forward-filled; the list price before the first one."""
    regular = np.where(promo > 0, np.nan, price)
    regular = pd.DataFrame(regular.T).ffill().to_numpy().T
    return np.where(np.isnan(regular), list_price[:, None], regular)


def panel_upto(
    panel: Panel,
    n_hist: int,
    units: np.ndarray,
    keep: np.ndarray,
    promotions: pd.DataFrame | None = None,
    future_weeks: int = 14,
) -> Panel:
    """The panel ``build_panel`` makes from the history cut after its week ``n_hist - 1``, taken
    from the panel of the whole history: the series with a row by then (``keep``, those whose
    first week is earlier), ``units`` (kept series x n_hist) as their cleansed units, and
    everything else sliced, since every other array is causal (week t depends on weeks <= t:
    prices forward-filled, trailing means) or known ahead (the promotion calendar). The backtest
    builds one panel per origin this way instead of re-reading millions of history rows."""
    if not keep.any():
        raise ValueError("no series with history at this origin: nothing to forecast")
    n_weeks = n_hist + future_weeks
    if n_weeks > len(panel.weeks):
        raise ValueError(f"the panel has {len(panel.weeks)} weeks, the cut needs {n_weeks}")
    keys = panel.keys[keep].reset_index(drop=True)
    store_first = panel.stores_first()
    stores = {s for s, f in store_first.items() if f < n_hist}  # the stores with a series by then
    list_price = panel.list_price[keep]
    if len(stores) == len(store_first):
        promo, disc = panel.promo[keep, :n_weeks], panel.discount[keep, :n_weeks]
        regular = panel.regular_price[keep, :n_hist]
    else:  # a store without a series yet: promotions for it read as B2B, as on the cut
        promo, disc = promo_calendar(promotions, keys, panel.weeks[:n_weeks], stores)
        regular = _regular_price(panel.price[keep, :n_hist], promo[:, :n_hist], list_price)
    return Panel(
        keys=keys,
        weeks=panel.weeks[:n_weeks],
        n_hist=n_hist,
        units=units,
        raw_units=panel.raw_units[keep, :n_hist],
        price=panel.price[keep, :n_hist],
        promo=promo,
        discount=disc,
        list_price=list_price,
        regular_price=regular,
        recent_price=panel.recent_price[keep, :n_hist],
    )


# --------------------------------------------------------------------------- features


class _Stats:
    """Cumulative sums for O(1) rolling means / sds / shares at any (series, week)."""

    def __init__(self, y: np.ndarray):
        obs = ~np.isnan(y)
        v = np.where(obs, y, 0.0)
        pad = lambda a: np.concatenate([np.zeros((a.shape[0], 1)), np.cumsum(a, axis=1)], axis=1)  # noqa: E731
        self.y = y
        self.cs = pad(v)
        self.cs2 = pad(v * v)
        self.cn = pad(obs.astype(float))
        self.cz = pad((obs & (v == 0)).astype(float))

    def window(self, i: np.ndarray, t: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Sum, sum of squares, observed count and zero count over weeks t-w+1..t."""
        hi = np.clip(t + 1, 0, self.cs.shape[1] - 1)  # t before the history: an empty window
        lo = np.clip(hi - w, 0, None)
        return (
            self.cs[i, hi] - self.cs[i, lo],
            self.cs2[i, hi] - self.cs2[i, lo],
            self.cn[i, hi] - self.cn[i, lo],
            self.cz[i, hi] - self.cz[i, lo],
        )

    def mean(self, i, t, w):
        hi = np.clip(t + 1, 0, self.cs.shape[1] - 1)  # the bounds of ``window``
        lo = np.clip(hi - w, 0, None)
        s = self.cs[i, hi] - self.cs[i, lo]
        n = self.cn[i, hi] - self.cn[i, lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, s / np.maximum(n, 1), np.nan)

    def at(self, i, t):
        """y[i, t] with NaN when t is outside the history."""
        ok = (t >= 0) & (t < self.y.shape[1])
        out = np.full(len(i), np.nan)
        out[ok] = self.y[i[ok], t[ok]]
        return out


def _family_season(panel: Panel) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Seasonal index per family and week of year (1..52, mean 1), from units vs a centred
    52-week moving average; a flat profile where a family has under a year of history."""
    y = panel.units
    st = _Stats(y)
    n, t = y.shape
    # ``_Stats.window`` over weeks centre-26 .. centre+25, by column (the bounds are per week)
    hi = np.clip(np.clip(np.arange(t) + 26, 0, t - 1) + 1, 0, t)
    lo = np.clip(hi - 52, 0, None)
    s, cnt = st.cs[:, hi] - st.cs[:, lo], st.cn[:, hi] - st.cn[:, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        cma = np.where(cnt >= 40, s / np.maximum(cnt, 1), np.nan)
    woy = week_of_year(panel.weeks[: panel.n_hist])
    out = {}
    for fam, idx in panel.keys.groupby("family", observed=True).indices.items():
        num = np.nansum(np.where(np.isnan(cma[idx]), np.nan, y[idx]), axis=0)
        den = np.nansum(cma[idx], axis=0)
        prof_num = np.bincount(woy - 1, num, minlength=52)
        prof_den = np.bincount(woy - 1, den, minlength=52)
        with np.errstate(invalid="ignore", divide="ignore"):
            prof = np.where(prof_den > 0, prof_num / prof_den, np.nan)
        if np.isnan(prof).sum() > 26:
            prof = np.ones(52)
        prof = pd.Series(np.tile(prof, 3)).interpolate(limit_direction="both").rolling(3, center=True).mean()
        prof = prof.to_numpy()[52:104]
        out[fam] = prof / np.nanmean(prof)
    # ratio of the target week's index to the mean of the 13 weeks ending at the origin
    return out, woy


def _season_ratio(
    fam_idx: dict[str, np.ndarray], families: np.ndarray, woy_t: np.ndarray, woy_u: np.ndarray
) -> np.ndarray:
    """The family's seasonal index of week u over its mean of the 13 weeks ending at week t.
    ``families`` per row; or a (per-series families, row -> series) pair, which is faster."""
    if isinstance(families, tuple):
        series_families, i = families
        names, code = np.unique(np.asarray(series_families, dtype=object).astype(str), return_inverse=True)
        code = code[i]
    else:
        names, code = np.unique(np.asarray(families, dtype=object).astype(str), return_inverse=True)
    out = np.ones(len(code))
    for k, fam in enumerate(names):
        prof = fam_idx.get(fam)
        if prof is None:
            continue
        m = code == k
        ext = np.concatenate([prof, prof])
        ma13 = np.array([ext[j + 52 - 12 : j + 53].mean() for j in range(52)])
        out[m] = prof[woy_u[m] - 1] / ma13[woy_t[m] - 1]
    return out


@dataclass
class _FeatureSpace:
    names: list[str]
    categories: dict[str, list[str]]
    fam_season: dict[str, np.ndarray]


def _codes(values: np.ndarray, categories: list[str]) -> np.ndarray:
    codes = pd.Categorical(pd.Series(values, dtype=object).astype(str), categories=categories).codes
    return np.where(codes < 0, np.nan, codes).astype(float)


def _scale(st: _Stats, i: np.ndarray, t: np.ndarray) -> np.ndarray:
    s = st.mean(i, t, 13)
    s = np.where(np.isnan(s) | (s <= 0), st.mean(i, t, 52), s)
    return np.where(np.isnan(s), 0.0, s)


def _features(
    panel: Panel, st: _Stats, space: _FeatureSpace, i: np.ndarray, t: np.ndarray, h: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix (float32) and scale s for samples (series i, origin week t, horizon h)."""
    u = t + h
    s = _scale(st, i, t)
    sd = np.maximum(s, 0.1)
    cols: dict[str, np.ndarray] = {"h": h.astype(float), "log_scale": np.log1p(s)}
    for k in range(4):
        cols[f"lag{k + 1}"] = st.at(i, t - k) / sd
    for w in (4, 8, 26, 52):
        cols[f"ma{w}"] = st.mean(i, t, w) / sd
    ssum, ssq, cnt, zeros = st.window(i, t, 13)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean13 = ssum / np.maximum(cnt, 1)
        cols["sd13"] = np.sqrt(np.maximum(ssq / np.maximum(cnt, 1) - mean13**2, 0)) / sd
        cols["zero_share13"] = np.where(cnt > 0, zeros / np.maximum(cnt, 1), np.nan)
        cols["missing_share13"] = 1 - cnt / 13.0
    cols["ly"] = st.at(i, u - SEASON_WEEKS) / sd
    cols["ly_smooth"] = st.mean(i, u - SEASON_WEEKS + 1, 3) / sd
    cols["ly2"] = st.at(i, u - 2 * SEASON_WEEKS) / sd
    with np.errstate(invalid="ignore", divide="ignore"):
        ly_now = st.mean(i, t - SEASON_WEEKS, 13)
        cols["ly_change"] = np.where(ly_now > 0, st.mean(i, u - SEASON_WEEKS + 1, 3) / ly_now, np.nan)
    woy = week_of_year(panel.weeks)
    cols["woy"] = woy[u].astype(float)
    cols["fam_season"] = _season_ratio(space.fam_season, (panel.keys["family"].to_numpy(), i), woy[t], woy[u])
    cols["age"] = np.minimum(t - panel.first[i], 156).astype(float)
    cols["promo"] = panel.promo[i, u]
    cols["discount"] = panel.discount[i, u]
    cols["promo_prev"] = panel.promo[i, u - 1]
    cols["promo_prev2"] = panel.promo[i, u - 2]
    cols["promo_next"] = panel.promo[i, np.minimum(u + 1, panel.promo.shape[1] - 1)]
    cols["promo_recent"] = (
        panel.promo[i, t] + panel.promo[i, t - 1] + panel.promo[i, t - 2] + panel.promo[i, t - 3]
    ) / 4
    cols["promo_ly"] = panel.promo[i, np.clip(u - SEASON_WEEKS, 0, None)]
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["price_ratio"] = panel.regular_price[i, t] * (1 - panel.discount[i, u]) / panel.recent_price[i, t]
    for c in CATEGORICALS:  # per series, then per row
        cols[c] = _codes(panel.keys[c].astype(object).to_numpy(), space.categories[c])[i]
    x = np.empty((len(i), len(space.names)), dtype=np.float32)  # row-major, as LightGBM reads it
    for k, name in enumerate(space.names):
        x[:, k] = cols[name]
    return x, s


FEATURES = [
    "h",
    "log_scale",
    "lag1",
    "lag2",
    "lag3",
    "lag4",
    "ma4",
    "ma8",
    "ma26",
    "ma52",
    "sd13",
    "zero_share13",
    "missing_share13",
    "ly",
    "ly_smooth",
    "ly2",
    "ly_change",
    "woy",
    "fam_season",
    "age",
    "promo",
    "discount",
    "promo_prev",
    "promo_prev2",
    "promo_next",
    "promo_recent",
    "promo_ly",
    "price_ratio",
    *CATEGORICALS,
]


# --------------------------------------------------------------------------- fit / predict


@dataclass
class Forecaster:
    """A fitted global model: boosters by name ('mean', 'q10', 'q90') and its feature space."""

    boosters: dict[str, lgb.Booster]
    space: _FeatureSpace
    config: ForecastConfig
    max_h: int
    train_rows: int = 0
    fit_seconds: float = 0.0
    feature_importance: pd.DataFrame = field(default_factory=pd.DataFrame)


def _training_samples(panel: Panel, max_h: int, cfg: ForecastConfig, rng: np.random.Generator):
    """Random (series, origin, horizon) triples with an observed target inside the history."""
    T = panel.n_hist
    lo = max(T - cfg.train_window_weeks - max_h, 4)
    origins = np.arange(lo, T - 1)
    n = panel.n_series
    total = n * len(origins) * max_h
    m = min(cfg.max_train_rows * 2, total)
    flat = rng.choice(total, size=m, replace=False) if m < total else np.arange(total)
    i = flat // (len(origins) * max_h)
    rem = flat % (len(origins) * max_h)
    t = origins[rem // max_h]
    h = rem % max_h + 1
    u = t + h
    ok = (u < T) & (t >= panel.first[i])
    i, t, h, u = i[ok], t[ok], h[ok], u[ok]
    y = panel.units[i, u]
    ok = ~np.isnan(y)
    i, t, h = i[ok], t[ok], h[ok]
    if len(i) > cfg.max_train_rows:
        keep = rng.choice(len(i), cfg.max_train_rows, replace=False)
        i, t, h = i[keep], t[keep], h[keep]
    return i, t, h


def fit(panel: Panel, config: ForecastConfig = ForecastConfig(), max_h: int | None = None) -> Forecaster:
    """Train the global model(s) on the panel's history (nothing after its last week is used)."""
    started = time.perf_counter()
    max_h = max_h or config.horizon_weeks + 1
    rng = np.random.default_rng(config.seed)
    fam_season, _ = _family_season(panel)
    categories = {c: sorted(map(str, panel.keys[c].astype(object).dropna().unique())) for c in CATEGORICALS}
    space = _FeatureSpace(names=FEATURES, categories=categories, fam_season=fam_season)
    st = _Stats(panel.units)
    i, t, h = _training_samples(panel, max_h, config, rng)
    if len(i) < 50:
        raise ValueError(f"only {len(i)} training rows: too little history to fit the forecast model")
    x, s = _features(panel, st, space, i, t, h)
    y = panel.units[i, t + h]
    ok = s > 0
    x, s, y = x[ok], s[ok], y[ok]
    target = np.clip(y / s, 0, 20)
    weight = s
    base = {
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_data_in_leaf": config.min_data_in_leaf,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "verbose": -1,
        "seed": config.seed,
        "num_threads": config.num_threads,
        "max_bin": 127,
        "cat_smooth": 10.0,
        # bit-reproducible: without force_col_wise LightGBM times both layouts and picks the
        # faster, so two runs may build different histograms (and trees)
        "deterministic": True,
        "force_col_wise": True,
    }
    data = lgb.Dataset(
        x, label=target, weight=weight, feature_name=FEATURES, categorical_feature=CATEGORICALS, free_raw_data=False
    )
    boosters = {"mean": lgb.train({**base, "objective": "regression"}, data, num_boost_round=config.num_boost_round)}
    if config.with_quantiles:
        for name, alpha in zip(("q10", "q90"), config.quantiles):
            params = {**base, "objective": "quantile", "alpha": alpha, "learning_rate": 0.1}
            boosters[name] = lgb.train(params, data, num_boost_round=config.quantile_boost_round)
    imp = pd.DataFrame({"feature": FEATURES, "gain": boosters["mean"].feature_importance("gain")})
    imp = imp.sort_values("gain", ascending=False).reset_index(drop=True)
    return Forecaster(
        boosters=boosters,
        space=space,
        config=config,
        max_h=max_h,
        train_rows=len(target),
        fit_seconds=time.perf_counter() - started,
        feature_importance=imp,
    )


def predict(
    model: Forecaster, panel: Panel, as_of: date, horizon_weeks: int | None = None, include_week0: bool = True
) -> pd.DataFrame:
    """Series-level forecast for horizon weeks 1..N (and week 0 when the as-of is mid-week).

    Returns one row per series x week: sku, location, channel, family, week_start,
    horizon_week, units_p10, units_p50, units_p90, model, price, revenue, is_promo and
    season_ratio (the family's seasonal index of the week / its mean over the last 13 weeks).
    """
    cfg = model.config
    n_weeks = horizon_weeks or cfg.horizon_weeks
    T = panel.n_hist
    origin = T - 1
    gap = 0 if as_of.weekday() == 6 else 1  # mid-week: week 0 is h = 1
    ks = list(range(0 if (gap and include_week0) else 1, n_weeks + 1))
    hs = np.array([k + gap for k in ks])
    check_horizon(panel.weeks, T, as_of, n_weeks)
    n = panel.n_series
    i = np.repeat(np.arange(n), len(hs))
    h = np.tile(hs, n)
    t = np.full(len(i), origin)
    st = _Stats(panel.units)
    x, s = _features(panel, st, model.space, i, t, h)
    p50 = model.boosters["mean"].predict(x, num_threads=cfg.num_threads) * s
    if "q10" in model.boosters:
        p10 = model.boosters["q10"].predict(x, num_threads=cfg.num_threads) * s
        p90 = model.boosters["q90"].predict(x, num_threads=cfg.num_threads) * s
    else:
        p10, p90 = p50 * 0.6, p50 * 1.5
    out = panel.keys[["sku", "location", "channel", "family"]].iloc[i].reset_index(drop=True)
    out["week_start"] = pd.to_datetime(panel.weeks[t + h])
    out["horizon_week"] = np.tile(np.array(ks), n)
    out["units_p50"], out["units_p10"], out["units_p90"] = p50, p10, p90
    out["model"] = MODEL_LIGHTGBM
    _apply_guards(out, panel, st, i, origin, cfg, model.space, h)
    price = panel.regular_price[i, origin] * (1 - panel.discount[i, t + h])
    out["price"] = price
    out["revenue"] = out.units_p50 * price
    out["is_promo"] = panel.promo[i, t + h] > 0
    out["season_ratio"] = x[:, FEATURES.index("fam_season")].astype(float)
    return out


def check_horizon(weeks: np.ndarray, n_hist: int, as_of: date, n_weeks: int) -> None:
    """What ``predict`` checks before it forecasts horizon weeks 1..n_weeks of ``as_of`` from a panel
    of ``weeks`` (``n_hist`` history weeks, then the future ones): the panel has the future weeks,
    and they are the cycle's horizon (the KPI_DEFINITIONS horizon rule). ValueError otherwise.
    Neither depends on the series, so it holds for any subset of them."""
    gap = 0 if as_of.weekday() == 6 else 1  # mid-week: week 0 is h = 1
    if n_weeks + gap > len(weeks) - n_hist:
        raise ValueError(f"panel has {len(weeks) - n_hist} future weeks, need {n_weeks + gap}")
    got = pd.to_datetime(weeks[n_hist - 1 + gap + np.arange(1, n_weeks + 1)]).date.tolist()
    if got != Cycle(as_of, n_weeks).horizon():
        raise ValueError(f"forecast weeks {got} do not match the cycle horizon of {as_of}")


def between_seasons(st: _Stats, panel: Panel, origin: int, quiet_weeks: int, horizon: int) -> np.ndarray:
    """Per series: a seasonal item between its seasons, not a dead one. It sold nothing in the last
    ``quiet_weeks``; and in each of the last ``SEASON_YEARS`` (2) years it was just as quiet in the
    same weeks (its quiet spell is the season's, where a discontinued item sold then) and then sold in
    at least ``SEASON_MIN_WEEKS`` (2) of the weeks a year (two years) before the horizon (its season
    comes back in the horizon). Twice, and a season of more than one sale: a sparse series (a few
    sales a year) shows a quiet spell followed by a sale once by chance about one time in five. Never
    for an item being run down (``lifecycle.running_out``: phase-out, discontinued, obsolete); never
    with under two years and a quiet spell of history."""
    hi = origin + 1  # st.cs[:, k] = the sum of weeks 0..k-1
    ok = np.full(st.cs.shape[0], hi - SEASON_YEARS * SEASON_WEEKS - quiet_weeks >= 0)
    for years in range(1, SEASON_YEARS + 1):
        if not ok.any():
            break
        ly = hi - years * SEASON_WEEKS
        ok &= (st.cs[:, ly] - st.cs[:, ly - quiet_weeks]) <= 0
        end = min(ly + horizon, st.cs.shape[1] - 1)
        ok &= (st.cn[:, end] - st.cn[:, ly]) - (st.cz[:, end] - st.cz[:, ly]) >= SEASON_MIN_WEEKS
    if ok.any() and "lifecycle" in panel.keys:  # (most calls find no series: skip the text compare)
        ok &= ~lifecycle.running_out(panel.keys["lifecycle"])
    return ok


def _apply_guards(
    out: pd.DataFrame,
    panel: Panel,
    st: _Stats,
    i: np.ndarray,
    origin: int,
    cfg: ForecastConfig,
    space: _FeatureSpace,
    h: np.ndarray,
) -> None:
    """Non-negative, ordered quantiles, capped; family profile for young series; 0 for inactive."""
    t = np.full(len(i), origin)
    # ``st.window(i, t, w)``'s observed count and sum at the one origin: per series, then per row
    hi = min(max(origin + 1, 0), st.cs.shape[1] - 1)
    lo_all, lo_recent = max(hi - 10_000, 0), max(hi - cfg.inactive_weeks, 0)
    observed = (st.cn[:, hi] - st.cn[:, lo_all])[i]
    recent_any = (st.cs[:, hi] - st.cs[:, lo_recent])[i] > 0
    last52 = panel.units[:, max(origin - 51, 0) : origin + 1]  # the 52 weeks to the origin, then NaN -> -inf
    max52 = np.nanmax(np.where(np.isnan(last52), -np.inf, last52), axis=1)
    max52 = np.where(np.isfinite(max52), max52, 0.0)[i]
    level13 = np.nan_to_num(st.mean(i, t, 13))
    cap = cfg.clip_multiple * np.maximum(max52, level13)
    p50 = np.clip(out.units_p50.to_numpy(), 0, cap)
    p10 = np.clip(out.units_p10.to_numpy(), 0, None)
    p90 = np.clip(out.units_p90.to_numpy(), 0, cap * 1.5)
    p10, p90 = np.minimum(p10, p50), np.maximum(p90, p50)
    young = observed < cfg.min_history_weeks
    quiet = ~recent_any & ~young
    seasonal = quiet & between_seasons(st, panel, origin, cfg.inactive_weeks, int(h.max()))[i]
    if young.any() or seasonal.any():
        # the family's median relative band (p10 / p50, p90 / p50) per horizon week, over its series
        # that have a recent level of their own (not young, not quiet)
        series_fam = panel.keys["family"].to_numpy()
        fam = np.unique(np.asarray(series_fam, dtype=object).astype(str), return_inverse=True)[1][i]  # a code
        rel = pd.DataFrame(
            {
                "fam": fam,
                "h": h,
                "lo": p10 / np.maximum(p50, 1e-9),
                "hi": p90 / np.maximum(p50, 1e-9),
                "ok": ~young & ~quiet & (p50 > 0),
            }
        )
        width = rel[rel.ok].groupby(["fam", "h"])[["lo", "hi"]].median()
        key = pd.MultiIndex.from_arrays([fam, h])
        lo = width["lo"].reindex(key).fillna(0.5).to_numpy()
        hi = width["hi"].reindex(key).fillna(1.8).to_numpy()
    if young.any():
        woy = week_of_year(panel.weeks)
        level = st.mean(i, t, 4)
        ratio = _season_ratio(space.fam_season, (series_fam, i), woy[t], woy[t + h])
        fp50 = np.nan_to_num(level * ratio)
        promo_lift = 1 + panel.promo[i, t + h]  # a promoted young item: at most +100% on a full promo week
        fp50 = fp50 * np.where(panel.promo[i, t + h] > 0, promo_lift, 1.0)
        p50 = np.where(young, fp50, p50)
        p10 = np.where(young, fp50 * lo, p10)
        p90 = np.where(young, fp50 * hi, p90)
        out.loc[young, "model"] = MODEL_FAMILY
    if seasonal.any():
        # a series between seasons has no recent level to learn its spread from, and the quantile
        # models, trained mostly on year-round series, can put p90 at p50 at the season's peak: its
        # band is at least as wide (relative to p50) as its family's
        p10 = np.where(seasonal, np.minimum(p10, p50 * lo), p10)
        p90 = np.where(seasonal, np.maximum(p90, p50 * hi), p90)
    inactive = quiet & ~seasonal
    p50, p10, p90 = (np.where(inactive, 0.0, a) for a in (p50, p10, p90))
    out.loc[inactive, "model"] = MODEL_INACTIVE
    # the global model knows the season (week of the year, last year's weeks); the selection's
    # backtest does not: its origins fall in the off-season, where a method forecasting 0 wins
    out.loc[seasonal, "model"] = MODEL_SEASONAL
    out["units_p50"], out["units_p10"], out["units_p90"] = p50, p10, p90


# --------------------------------------------------------------------------- one call: history -> forecast


@dataclass
class ForecastResult:
    location: pd.DataFrame  # series level (sku x location x week)
    sku: pd.DataFrame  # sku x week
    family: pd.DataFrame  # family x week
    model: Forecaster


ROLLUP_CORRELATION = 0.25


def rollup(frame: pd.DataFrame, by: list[str], correlation: float = ROLLUP_CORRELATION) -> pd.DataFrame:
    """Sum p50 and revenue; combine the p10/p90 spreads s_i of the rows assuming their errors
    correlate with ``correlation`` (rho): spread = sqrt((1 - rho) sum s_i^2 + rho (sum s_i)^2),
    between independent (rho = 0) and perfectly correlated (rho = 1) series."""
    rank = {MODEL_LIGHTGBM: 0, MODEL_SEASONAL: 1, MODEL_FAMILY: 2, MODEL_INACTIVE: 3}
    lo, hi = frame.units_p50 - frame.units_p10, frame.units_p90 - frame.units_p50
    f = frame.assign(_lo=lo, _hi=hi, _lo2=lo**2, _hi2=hi**2, _rank=frame.model.map(rank).fillna(len(rank)).astype(int))
    g = f.groupby(by, as_index=False, observed=True).agg(
        units_p50=("units_p50", "sum"),
        _lo=("_lo", "sum"),
        _hi=("_hi", "sum"),
        _lo2=("_lo2", "sum"),
        _hi2=("_hi2", "sum"),
        revenue=("revenue", "sum"),
        series=("units_p50", "size"),
        _rank=("_rank", "min"),
    )
    rho = correlation
    g["units_p10"] = np.clip(g.units_p50 - np.sqrt((1 - rho) * g._lo2 + rho * g._lo**2), 0, None)
    g["units_p90"] = g.units_p50 + np.sqrt((1 - rho) * g._hi2 + rho * g._hi**2)
    g["model"] = g._rank.map({v: k for k, v in rank.items()}).fillna("other")
    return g.drop(columns=["_lo", "_hi", "_lo2", "_hi2", "_rank"])


def forecast(
    history: pd.DataFrame,
    as_of: date,
    promotions: pd.DataFrame | None = None,
    config: ForecastConfig = ForecastConfig(),
    model: Forecaster | None = None,
    rollups: bool = True,
    selection: pd.DataFrame | None = None,
    calibration=None,
) -> ForecastResult:
    """Cleansed weekly history -> 13-week forecast at series, SKU and family level.

    ``model``: reuse an already fitted model (the backtest retrains every few origins); it must
    have been fitted on data up to this as-of or earlier, so nothing leaks. ``rollups=False``
    skips the SKU and family tables (empty frames). ``selection`` / ``calibration`` (from the
    backtest, ``methods``): each series' chosen method replaces the global model's p50 and the
    calibrated p10/p90 its quantile models' (``methods.apply``); the SKU and family rows are the
    sums of the series rows, so they follow. In one call: ``prepare``, ``series_forecast`` and
    ``finish``; the cycle's asset runs the same three in steps, ``series_forecast`` once per
    product family.
    """
    panel, model = prepare(history, as_of, promotions, config, model)
    loc = series_forecast(model, panel, as_of, config, selection, calibration)
    return finish(loc, model, rollups)


def prepare(
    history: pd.DataFrame,
    as_of: date,
    promotions: pd.DataFrame | None = None,
    config: ForecastConfig = ForecastConfig(),
    model: Forecaster | None = None,
) -> tuple[Panel, Forecaster]:
    """The panel of the cleansed history and the global model fitted on every series (unless given)."""
    gap = 0 if as_of.weekday() == 6 else 1
    max_h = config.horizon_weeks + gap
    panel = build_panel(history, as_of, promotions, future_weeks=max_h + 1)
    return panel, model or fit(panel, config, max_h=max(max_h, 14))


def series_forecast(
    model: Forecaster,
    panel: Panel,
    as_of: date,
    config: ForecastConfig = ForecastConfig(),
    selection: pd.DataFrame | None = None,
    calibration=None,
) -> pd.DataFrame:
    """The series rows of the panel's series (all of them, or a ``Panel.subset`` such as one family's:
    the forecast of a series depends only on its own history, its family's seasonal and width profile
    and the global model)."""
    gap = 0 if as_of.weekday() == 6 else 1
    loc = predict(model, panel, as_of, config.horizon_weeks)
    if selection is not None or calibration is not None:
        from sop_pipeline.analytics import methods  # methods imports nothing from here

        loc = methods.apply(loc, panel.units[:, : panel.n_hist], panel.keys, gap, selection, calibration)
    return loc


def finish(loc: pd.DataFrame, model: Forecaster, rollups: bool = True) -> ForecastResult:
    """The series rows with their SKU and family roll-ups (sums in the series rows' order)."""
    if not rollups:
        return ForecastResult(location=loc, sku=pd.DataFrame(), family=pd.DataFrame(), model=model)
    by_sku = rollup(loc, ["sku", "family", "week_start", "horizon_week"])
    by_family = rollup(loc, ["family", "week_start", "horizon_week"])
    return ForecastResult(location=loc, sku=by_sku, family=by_family, model=model)


def family_rows(panel: Panel) -> list[tuple[object, np.ndarray]]:
    """(family, its series' rows in panel order) per product family, in first-seen order."""
    fam = panel.keys["family"].astype(object)
    groups = pd.Series(np.arange(len(fam))).groupby(fam.fillna("").to_numpy(), sort=False).indices
    return [(f, np.sort(rows)) for f, rows in groups.items()]


def in_panel_order(parts: list[tuple[np.ndarray, pd.DataFrame]]) -> pd.DataFrame:
    """Series rows of subsets (each with its series' panel rows) back in the whole panel's order."""
    frames = [loc.assign(_series=np.repeat(rows, len(loc) // max(len(rows), 1))) for rows, loc in parts if len(loc)]
    if not frames:
        return parts[0][1] if parts else pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    order = np.argsort(out["_series"].to_numpy(), kind="stable")
    return out.take(order).drop(columns="_series").reset_index(drop=True)


def seasonal_naive(raw_units: np.ndarray, origin: int, horizons: np.ndarray) -> np.ndarray:
    """Seasonal-naive forecast (same week last year; last observed week when there is none):
    (n_series, len(horizons)) from an (n_series, n_weeks) array, NaN = not yet selling."""
    u = origin + horizons[None, :]
    ly = u - SEASON_WEEKS
    n = raw_units.shape[0]
    vals = np.where(ly >= 0, raw_units[np.arange(n)[:, None], np.clip(ly, 0, None)], np.nan)
    last = raw_units[:, origin][:, None]
    return np.where(np.isnan(vals), np.nan_to_num(last), vals)
