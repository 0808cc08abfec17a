"""Outliers in demand history, censored (stock-out) weeks, cleansing, and hockey-stick flags.

History outliers (``detect_history_outliers``)
    Grain: SKU x ISO week of **store (POS) demand summed over stores** - a polluted week shows
    in the SKU total, and store-level weekly noise would drown it. B2B order demand is lumpy by
    design (customers order several weeks at once) and is not screened.
    Expected value = centred rolling median (``window_weeks``, default 9; widened to 17, then 27
    weeks when fewer than 4 regular weeks fall inside) of the SKU's *regular* weeks: promotion
    weeks, the week before a promotion and the post-promo dip weeks after it
    (``post_promo_weeks``), and stock-out weeks are left out of the median and are never flagged,
    so real promo peaks and dips are not outliers; so are the zero weeks after a phase-out's
    last sale. Residuals are taken on the Anscombe scale
    2 sqrt(units + 3/8), which makes count noise comparable across slow and fast sellers (a
    Poisson count has variance 1 there); their scale is 1.4826 x MAD over the regular weeks,
    floored at 1. A week is an outlier when its robust z > ``z_threshold`` (4.5) **and** units >=
    ``min_ratio`` (2) x expected **and** the excess is at least ``min_excess_units`` (10 units).
    Only spikes are flagged: a dip in POS is almost always supply (a stock-out or a data gap),
    which ``censored_weeks`` handles as missing demand rather than as a demand outlier.

Censoring (``censored_weeks``)
    A series-week is censored when the inventory snapshot of that week showed zero available
    stock (``is_stockout``), or when it directly follows such a week and sold less than
    ``censor_ratio`` (0.5) x its regular level (the stock-out spell ran on past the snapshot
    Sunday). Censored weeks are missing for the forecast: never zero demand, never outliers.

Cleansing (``cleanse_history``)
    Store rows of an outlier SKU-week are scaled by expected / actual (each store keeps its
    share of the SKU's expected units); censored weeks become NaN in ``units_clean``.

Hockey sticks (``detect_hockey_sticks``)
    For every forecast snapshot x SKU x source: the recent run-rate is the mean actual units
    (POS + B2B orders by requested week) of the ``run_rate_weeks`` (8) complete weeks before
    the snapshot week; a SKU that sold in fewer than ``min_active_weeks`` (6) of them (a launch)
    has no run-rate and is not judged. A week is a *jump* when its units are at least
    ``jump_ratio`` (2.0) x the run-rate (and ``min_excess_units`` above it) and nothing supports
    it: a promotion covering
    the SKU that week, or orders booked by the snapshot date for that week, or open/won CRM
    opportunities on the SKU or its family expected within +-1 week (qty x probability) that
    cover at least ``support_share`` (50%) of the excess over the run-rate. A snapshot x SKU x
    source is flagged when it has a run of at least ``min_weeks`` (3) consecutive jump weeks that
    starts after at least ``min_pre_weeks`` (2) ordinary weeks, whose mean is at least
    ``step_ratio`` (2.0) x the mean of the snapshot's weeks before the run, and whose first two
    weeks are at least ``boundary_ratio`` (1.8) x the two weeks just before it: an abrupt step up
    later in the horizon. A forecast that is high from week 1 on is optimism (see ``bias``), not a
    hockey stick; single noisy weeks and gradual seasonal ramps do not make an abrupt run.

Units are the item's base unit per ISO week (Monday start); money does not appear here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sop_pipeline.analytics.columns import require_columns

HISTORY_COLUMNS = ["sku", "location", "channel", "family", "week_start", "units", "is_promo", "is_stockout"]
FLAG_COLUMNS = ["kind", "sku", "family", "week_start", "value", "expected", "reason"]


@dataclass(frozen=True)
class OutlierConfig:
    window_weeks: int = 9
    wider_windows: tuple[int, ...] = (17, 27)
    min_periods: int = 4
    z_threshold: float = 4.5
    min_ratio: float = 2.0
    min_excess_units: float = 10.0
    pre_promo_weeks: int = 1
    post_promo_weeks: int = 2
    min_weeks_since_first_sale: int = 4
    censor_ratio: float = 0.5


@dataclass(frozen=True)
class HockeyConfig:
    run_rate_weeks: int = 8
    min_active_weeks: int = 6
    jump_ratio: float = 2.0
    step_ratio: float = 2.0
    boundary_ratio: float = 1.8
    min_excess_units: float = 5.0
    support_share: float = 0.5
    opportunity_window_weeks: int = 1
    min_weeks: int = 3
    min_pre_weeks: int = 2


def _mondays(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values)).dt.normalize()


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 10 else f"{x:,.1f}"


# --------------------------------------------------------------------------- regular-week baseline


def _regular_mask(promo: pd.DataFrame, stockout: pd.DataFrame, cfg: OutlierConfig) -> pd.DataFrame:
    """True where a week is 'irregular': promotion, just before/after one, or stock-out."""
    p = promo.fillna(False).astype(bool)
    irregular = p.copy()
    for k in range(1, cfg.post_promo_weeks + 1):
        irregular |= p.shift(k, fill_value=False)
    for k in range(1, cfg.pre_promo_weeks + 1):
        irregular |= p.shift(-k, fill_value=False)
    return irregular | stockout.fillna(False).astype(bool)


def _rolling_baseline(units: pd.DataFrame, irregular: pd.DataFrame, cfg: OutlierConfig) -> pd.DataFrame:
    """Centred rolling median of the regular weeks (weeks in rows, series in columns). The zero
    weeks after a series' last sale (a phase-out that ended) are not part of any median.
    Promotions close together leave too few regular weeks: then the wider windows are tried.
    Computed by ``rolling_baseline_at`` on every cell (pandas' rolling median, column by column,
    was the backtest's largest cost)."""
    rows, cols = (a.ravel() for a in np.indices(units.shape))
    base = rolling_baseline_at(units.to_numpy(dtype=float), irregular.to_numpy(dtype=bool), rows, cols, cfg)
    return pd.DataFrame(base.reshape(units.shape), index=units.index, columns=units.columns)


def _irregular_array(promo: np.ndarray, stock: np.ndarray, cfg: OutlierConfig) -> np.ndarray:
    """``_regular_mask`` on (weeks x series) boolean arrays."""
    irregular = promo.copy()
    for k in range(1, cfg.post_promo_weeks + 1):
        irregular[k:] |= promo[:-k]
    for k in range(1, cfg.pre_promo_weeks + 1):
        irregular[:-k] |= promo[k:]
    return irregular | stock


def _median_at(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """pandas' ``rolling(window, center=True, min_periods).median()`` of ``values`` (weeks x
    series, NaN = not counted), evaluated only at the cells (rows, cols): the same window bounds
    (offset (window - 1) // 2 after the week), the same median ((a + b) / 2 of the middle pair)."""
    n = values.shape[0]
    offset = (window - 1) // 2
    steps = np.arange(offset + 1 - window, offset + 1)
    out = np.full(len(rows), np.nan)
    for lo in range(0, len(rows), 200_000):  # bounded memory: 200k cells x window at a time
        r, c = rows[lo : lo + 200_000], cols[lo : lo + 200_000]
        idx = r[:, None] + steps[None, :]
        inside = (idx >= 0) & (idx < n)
        vals = np.where(inside, values[np.clip(idx, 0, n - 1), c[:, None]], np.nan)
        vals.sort(axis=1)  # NaN last
        count = (~np.isnan(vals)).sum(axis=1)
        k = np.arange(len(r))
        # count odd: both picks are the middle value; even: the middle pair (count/2 - 1, count/2)
        med = (vals[k, np.maximum(count - 1, 0) // 2] + vals[k, count // 2]) / 2
        out[lo : lo + 200_000] = np.where(count >= max(min_periods, 1), med, np.nan)
    return out


def rolling_baseline_at(
    units: np.ndarray, irregular: np.ndarray, rows: np.ndarray, cols: np.ndarray, cfg: OutlierConfig
) -> np.ndarray:
    """``_rolling_baseline`` of (weeks x series) arrays at the cells (rows, cols) only: the same
    regular weeks (not irregular, not after the last sale), windows and fallbacks."""
    pos = np.nan_to_num(units, nan=0.0) > 0
    ended = np.cumsum(pos[::-1], axis=0)[::-1] == 0
    regular = np.where(irregular | ended, np.nan, units)
    base = _median_at(regular, rows, cols, cfg.window_weeks, cfg.min_periods)
    for window in cfg.wider_windows:
        miss = np.isnan(base)
        if not miss.any():
            break
        base[miss] = _median_at(regular, rows[miss], cols[miss], window, cfg.min_periods)
    return base


def _anscombe(units: pd.DataFrame) -> pd.DataFrame:
    """Variance-stabilising transform of counts: 2 sqrt(x + 3/8)."""
    return 2.0 * np.sqrt(units.clip(lower=0) + 0.375)


def _pivot(frame: pd.DataFrame, value: str, columns: list[str] | str, aggfunc="sum") -> pd.DataFrame:
    return frame.pivot_table(
        index="week_start", columns=columns, values=value, aggfunc=aggfunc, observed=True, sort=True
    )


# --------------------------------------------------------------------------- history outliers


def sku_store_weekly(history: pd.DataFrame) -> pd.DataFrame:
    """Store (POS) demand per SKU x week: units, any promotion, any stock-out, first sale week."""
    require_columns(history, HISTORY_COLUMNS, "demand history")
    store = history[history["channel"] == "store"]
    out = store.groupby(["sku", "family", "week_start"], as_index=False, observed=True).agg(
        units=("units", "sum"), is_promo=("is_promo", "max"), is_stockout=("is_stockout", "max")
    )
    return out


@dataclass
class StoreWeeks:
    """Store demand per SKU x week as weeks x SKUs frames (``sku_store_weekly`` pivoted): units
    (NaN where the SKU had no store row), any promotion, any stock-out; and each SKU's family."""

    units: pd.DataFrame
    promo: pd.DataFrame
    stock: pd.DataFrame
    family: pd.Series

    @classmethod
    def of(cls, history: pd.DataFrame) -> StoreWeeks | None:
        weekly = sku_store_weekly(history)
        if weekly.empty:
            return None
        units = _pivot(weekly, "units", "sku")
        promo = _pivot(weekly.assign(p=weekly.is_promo.astype(float)), "p", "sku", "max").reindex_like(units) > 0
        stock = _pivot(weekly.assign(s=weekly.is_stockout.astype(float)), "s", "sku", "max").reindex_like(units) > 0
        return cls(units, promo, stock, weekly.drop_duplicates("sku").set_index("sku")["family"])

    def upto(self, last_week) -> StoreWeeks:
        """The weeks on or before ``last_week``: what ``of`` gives on the history cut there (a SKU
        without store rows by then is an all-NaN column, which flags nothing)."""
        n = int((pd.to_datetime(self.units.index) <= pd.Timestamp(last_week)).sum())
        return StoreWeeks(self.units.iloc[:n], self.promo.iloc[:n], self.stock.iloc[:n], self.family)


def detect_history_outliers(history: pd.DataFrame, config: OutlierConfig = OutlierConfig()) -> pd.DataFrame:
    """Spikes in store demand per SKU x week (see module docstring).

    Returns one row per flagged SKU-week: sku, family, week_start, value (units), expected
    (units), ratio, robust_z, reason.
    """
    return outliers_in(StoreWeeks.of(history), config)


def outliers_in(store: StoreWeeks | None, config: OutlierConfig = OutlierConfig()) -> pd.DataFrame:
    """``detect_history_outliers`` on store weeks already pivoted (``StoreWeeks``)."""
    cols = ["sku", "family", "week_start", "value", "expected", "ratio", "robust_z", "reason"]
    if store is None or store.units.empty:
        return pd.DataFrame(columns=cols)
    units, promo, stock = store.units, store.promo, store.stock
    irregular = _regular_mask(promo, stock, config)
    base = _rolling_baseline(units, irregular, config)
    resid = _anscombe(units) - _anscombe(base)
    mad = resid.where(~irregular).abs().median()
    z = resid.to_numpy() / np.maximum(1.4826 * mad.to_numpy()[None, :], 1.0)
    started = units.notna().cumsum() > config.min_weeks_since_first_sale
    y, b = units.to_numpy(), base.to_numpy()
    with np.errstate(invalid="ignore"):
        flag = (
            ~irregular.to_numpy()
            & started.to_numpy()
            & (b > 0)
            & (z > config.z_threshold)
            & (y >= config.min_ratio * b)
            & (y - b >= config.min_excess_units)
        )
    wi, si = np.nonzero(flag)
    if len(wi) == 0:
        return pd.DataFrame(columns=cols)
    family = store.family
    skus = units.columns.to_numpy()[si]
    out = pd.DataFrame(
        {
            "sku": skus,
            "family": family.reindex(skus).to_numpy(),
            "week_start": units.index.to_numpy()[wi],
            "value": units.to_numpy()[wi, si],
            "expected": base.to_numpy()[wi, si],
            "robust_z": z[wi, si],
        }
    )
    out["ratio"] = out.value / out.expected
    out["reason"] = [
        f"Store sales of {_fmt(v)} units in the week of {pd.Timestamp(w):%Y-%m-%d} are {r:.1f}x the expected "
        f"{_fmt(e)} (median of the {config.window_weeks} surrounding regular weeks; robust z = {zz:.0f}). No "
        f"promotion, post-promo dip or stock-out explains it, so training uses {_fmt(e)} instead."
        for v, w, r, e, zz in zip(out.value, out.week_start, out.ratio, out.expected, out.robust_z)
    ]
    return out[cols].sort_values(["week_start", "sku"]).reset_index(drop=True)


def censored_weeks(history: pd.DataFrame, config: OutlierConfig = OutlierConfig()) -> pd.Series:
    """Boolean per history row: the week's units are censored by a stock-out (see module docstring)."""
    require_columns(history, HISTORY_COLUMNS, "demand history")
    if history.empty:
        return pd.Series(False, index=history.index)
    series = history.groupby(["sku", "location"], sort=False, observed=True).ngroup().to_numpy()
    weeks = pd.to_datetime(history["week_start"]).to_numpy().astype("datetime64[D]")
    w0 = weeks.min()
    wi = (weeks - w0).astype(np.int64) // 7
    shape = (int(wi.max()) + 1, int(series.max()) + 1)
    units = np.full(shape, np.nan)
    promo = np.zeros(shape, dtype=bool)
    stock = np.zeros(shape, dtype=bool)
    units[wi, series] = history["units"].to_numpy(dtype=float)
    promo[wi, series] = history["is_promo"].fillna(False).to_numpy(dtype=bool)
    stock[wi, series] = history["is_stockout"].fillna(False).to_numpy(dtype=bool)
    censored = censored_cells(units, promo, stock, config)
    return pd.Series(censored[wi, series], index=history.index)


def censored_cells(
    units: np.ndarray, promo: np.ndarray, stock: np.ndarray, config: OutlierConfig = OutlierConfig()
) -> np.ndarray:
    """``censored_weeks`` on (weeks x series) arrays (units NaN where there is no row): a
    stock-out week, or the week after one selling under ``censor_ratio`` x the regular level.
    The level is only needed in the weeks after a stock-out, so only there is it computed."""
    after = np.zeros(units.shape, dtype=bool)
    after[1:] = stock[:-1]
    rows, cols = np.nonzero(after & ~stock)
    censored = stock.copy()
    if len(rows):
        base = rolling_baseline_at(units, _irregular_array(promo, stock, config), rows, cols, config)
        with np.errstate(invalid="ignore"):
            censored[rows, cols] = units[rows, cols] < config.censor_ratio * base
    return censored


def cleanse_history(history: pd.DataFrame, outliers: pd.DataFrame, censored: pd.Series | None = None) -> pd.DataFrame:
    """History with ``units_clean`` (outliers replaced by expected, censored weeks NaN),
    ``is_outlier`` and ``is_censored`` columns. Input rows are kept in order. The history's columns
    are shared, not copied (pandas copy-on-write: ``history`` is never changed through the result;
    at large the copy was ~1 GB held beside the input while the cleansed table was written)."""
    out = history.copy(deep=False)
    out["is_censored"] = (censored if censored is not None else censored_weeks(history)).to_numpy(dtype=bool)
    factor = np.ones(len(out))
    hit = np.zeros(len(out), dtype=bool)
    if len(outliers):
        o = outliers[["sku", "week_start", "value", "expected"]].copy()
        o["week_start"] = pd.to_datetime(o["week_start"])
        o["factor"] = o.expected / o.value
        # only the store rows of flagged SKUs can match: join those, not every row
        rows = np.flatnonzero((out["channel"] == "store").to_numpy() & out["sku"].isin(o["sku"].unique()).to_numpy())
        keyed = (
            out[["sku", "week_start"]]
            .iloc[rows]
            .assign(week_start=lambda f: pd.to_datetime(f["week_start"]))
            .merge(o[["sku", "week_start", "factor"]], on=["sku", "week_start"], how="left")
        )
        matched = keyed["factor"].notna().to_numpy()
        factor[rows[matched]] = keyed["factor"].to_numpy()[matched]
        hit[rows[matched]] = True
    out["is_outlier"] = hit
    out["units_clean"] = (out["units"] * factor).where(~out["is_censored"])
    return out


# --------------------------------------------------------------------------- hockey sticks


def promo_sku_weeks(promotions: pd.DataFrame | None) -> pd.DataFrame:
    """(sku, week_start) pairs with a promotion at any location on any day of the week."""
    if promotions is None or promotions.empty:
        return pd.DataFrame({"sku": pd.Series(dtype=object), "week_start": pd.Series(dtype="datetime64[ns]")})
    p = promotions.dropna(subset=["start_date", "end_date"])
    start = pd.to_datetime(p["start_date"])
    end = pd.to_datetime(p["end_date"])
    first = start - pd.to_timedelta(start.dt.day_of_week, unit="D")
    n = ((end - first).dt.days // 7 + 1).clip(lower=0).to_numpy()
    rows = np.repeat(np.arange(len(p)), n)
    offs = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    weeks = first.to_numpy()[rows] + (7 * offs).astype("timedelta64[D]")
    return pd.DataFrame({"sku": p["sku"].to_numpy()[rows], "week_start": weeks}).drop_duplicates()


def _run_rates(actuals: pd.DataFrame, cfg: HockeyConfig) -> pd.DataFrame:
    """Mean actual units of the run_rate_weeks weeks before each week, per SKU (weeks x skus);
    NaN unless the SKU sold in at least ``min_active_weeks`` of them (an established run-rate:
    a launch has none to compare with)."""
    a = _pivot(actuals, "units", "sku")
    full = pd.date_range(a.index.min(), a.index.max() + pd.Timedelta(weeks=1), freq="7D")
    a = a.reindex(full).fillna(0.0)
    rate = a.rolling(cfg.run_rate_weeks, min_periods=cfg.run_rate_weeks).mean().shift(1)
    active = (a > 0).astype(float).rolling(cfg.run_rate_weeks, min_periods=cfg.run_rate_weeks).sum().shift(1)
    return rate.where(active >= cfg.min_active_weeks)


def detect_hockey_sticks(
    sales_forecast: pd.DataFrame,
    actuals: pd.DataFrame,
    promotions: pd.DataFrame | None = None,
    orders: pd.DataFrame | None = None,
    opportunities: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    config: HockeyConfig = HockeyConfig(),
) -> pd.DataFrame:
    """Unsupported hockey sticks in forecast snapshots (see module docstring).

    sales_forecast: snapshot_date, sku, week_start, units, forecast_source.
    actuals: sku, week_start, units (all channels, complete weeks).
    orders: sku, order_date, requested_week_start, qty, status (optional).
    opportunities: sku_or_family, expected_date, qty, probability, status (optional).
    items: sku, family (optional; for family-level opportunities and the output).
    Returns one row per flagged snapshot x SKU x source: snapshot_date, forecast_source, sku,
    family, week_start (first unsupported jump week), lag, weeks_flagged, value (mean forecast
    units of the flagged weeks), expected (run-rate units/week), ratio, reason.
    """
    cols = [
        "snapshot_date",
        "forecast_source",
        "sku",
        "family",
        "week_start",
        "lag",
        "weeks_flagged",
        "value",
        "expected",
        "ratio",
        "reason",
    ]
    if sales_forecast is None or sales_forecast.empty or actuals is None or actuals.empty:
        return pd.DataFrame(columns=cols)
    cfg = config
    fc = sales_forecast[["snapshot_date", "sku", "week_start", "units", "forecast_source"]].copy()
    fc["snapshot_date"] = pd.to_datetime(fc["snapshot_date"])
    fc["week_start"] = pd.to_datetime(fc["week_start"])
    fc["snapshot_week"] = fc.snapshot_date - pd.to_timedelta(fc.snapshot_date.dt.day_of_week, unit="D")
    fc["lag"] = ((fc.week_start - fc.snapshot_week).dt.days // 7).astype(int)
    fc = fc[fc.lag >= 1]
    act = actuals.assign(week_start=pd.to_datetime(actuals["week_start"]))
    rr = _run_rates(act, cfg).stack(future_stack=True).rename("run_rate").reset_index()
    rr.columns = ["snapshot_week", "sku", "run_rate"]
    fc = fc.merge(rr, on=["snapshot_week", "sku"], how="inner")
    fc = fc[fc.run_rate.notna()]
    key = ["snapshot_date", "sku", "forecast_source"]
    fc = fc.sort_values([*key, "lag"]).reset_index(drop=True)
    fc["excess"] = fc.units - fc.run_rate
    fc["family"] = fc.sku.map(items.set_index("sku")["family"]) if items is not None and len(items) else None
    jump = (fc.units >= cfg.jump_ratio * fc.run_rate) & (fc.excess >= cfg.min_excess_units)
    fc["support"] = 0.0
    if jump.any():
        fc.loc[jump, "support"] = _support(fc[jump], promotions, orders, opportunities, cfg)
    fc["jump"] = jump & (fc.support < cfg.support_share * fc.excess)
    # runs of consecutive jump weeks within a snapshot x SKU x source
    group = fc.groupby(key, observed=True, sort=False).ngroup().to_numpy()
    new_run = ~fc.jump.to_numpy() | np.r_[True, (group[1:] != group[:-1]) | (np.diff(fc.lag.to_numpy()) != 1)]
    fc["run"] = np.cumsum(new_run)
    runs = (
        fc[fc.jump]
        .groupby("run")
        .agg(
            group=("run", "size"),
            start_lag=("lag", "min"),
            last_lag=("lag", "max"),
            week_start=("week_start", "min"),
            value=("units", "mean"),
            expected=("run_rate", "first"),
            first_row=("lag", lambda s: s.index[0]),
        )
    )
    runs = runs.rename(columns={"group": "weeks_flagged"})
    runs = runs[(runs.weeks_flagged >= cfg.min_weeks) & (runs.start_lag > cfg.min_pre_weeks)]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    cum = fc.groupby(key, observed=True, sort=False)["units"].cumsum() - fc["units"]  # units of the earlier lags
    first = runs.first_row.to_numpy()
    runs["pre_mean"] = cum.to_numpy()[first] / (fc.lag.to_numpy()[first] - 1)
    # abrupt: the run's first two weeks vs the two weeks just before it
    by_lag = pd.Series(fc.units.to_numpy(), index=pd.MultiIndex.from_arrays([group, fc.lag.to_numpy()]))
    g0, lag0 = group[first], fc.lag.to_numpy()[first]
    at = lambda d: by_lag.reindex(pd.MultiIndex.from_arrays([g0, lag0 + d])).to_numpy()  # noqa: E731
    runs["boundary"] = np.nanmean(np.c_[at(0), at(1)], axis=1) / np.nanmean(np.c_[at(-2), at(-1)], axis=1)
    runs = runs[(runs.value >= cfg.step_ratio * runs.pre_mean) & (runs.boundary >= cfg.boundary_ratio)]
    for c in [*key, "family"]:
        runs[c] = fc[c].to_numpy()[runs.first_row.to_numpy()]
    # one flag per snapshot x SKU x source: its longest (then earliest) unsupported run
    flagged = runs.sort_values([*key, "weeks_flagged", "start_lag"], ascending=[True, True, True, False, True])
    flagged = flagged.drop_duplicates(key).rename(columns={"start_lag": "lag"}).copy()
    if flagged.empty:
        return pd.DataFrame(columns=cols)
    flagged["ratio"] = flagged.value / flagged.expected
    flagged["reason"] = [
        f"{src.capitalize()} forecast snapshot of {s:%Y-%m-%d} jumps to {r:.1f}x the recent run-rate "
        f"({_fmt(v)} vs {_fmt(e)} units/week over the {cfg.run_rate_weeks} weeks before it) from the week of "
        f"{w:%Y-%m-%d} (lag {lag}) for {n} weeks up to lag {ll}, after {_fmt(pm)} units/week in its earlier "
        f"weeks; no promotion, booked orders or CRM opportunity supports the jump. "
        f"Treat those weeks as unsupported until someone names the driver."
        for src, s, r, v, e, w, lag, n, ll, pm in zip(
            flagged.forecast_source,
            flagged.snapshot_date,
            flagged.ratio,
            flagged.value,
            flagged.expected,
            flagged.week_start,
            flagged.lag,
            flagged.weeks_flagged,
            flagged.last_lag,
            flagged.pre_mean,
        )
    ]
    return flagged[cols].sort_values(["snapshot_date", "sku", "forecast_source"]).reset_index(drop=True)


def _support(late: pd.DataFrame, promotions, orders, opportunities, cfg: HockeyConfig) -> np.ndarray:
    """Units of evidence behind each jump week (promo weeks count as fully supported)."""
    support = np.zeros(len(late))
    promo = promo_sku_weeks(promotions)
    if len(promo):
        hit = late[["sku", "week_start"]].merge(promo.assign(_p=True), on=["sku", "week_start"], how="left")["_p"]
        is_promo = hit.notna().to_numpy()
        support[is_promo] = np.inf
    if orders is not None and len(orders):
        o = orders[orders["status"] != "cancelled"].dropna(subset=["requested_week_start"])
        o = o.assign(
            requested_week_start=pd.to_datetime(o["requested_week_start"]), order_date=pd.to_datetime(o["order_date"])
        )
        m = (
            late[["sku", "week_start", "snapshot_date"]]
            .reset_index()
            .merge(
                o[["sku", "requested_week_start", "order_date", "qty"]],
                left_on=["sku", "week_start"],
                right_on=["sku", "requested_week_start"],
                how="inner",
            )
        )
        m = m[m.order_date <= m.snapshot_date]
        booked = m.groupby("index")["qty"].sum()
        pos = late.index.get_indexer(booked.index)
        support[pos] += booked.to_numpy()
    if opportunities is not None and len(opportunities):
        op = opportunities[opportunities["status"].isin(["open", "won"])].dropna(subset=["expected_date"])
        op = op.assign(
            expected_date=pd.to_datetime(op["expected_date"]),
            weighted=op["qty"] * np.where(op["status"] == "won", 1.0, op["probability"].fillna(0.5)),
        )
        lr = late[["sku", "family", "week_start"]].reset_index()
        parts = [lr.merge(op, left_on=c, right_on="sku_or_family", how="inner") for c in ("sku", "family")]
        m = pd.concat(parts, ignore_index=True)
        window = pd.Timedelta(weeks=cfg.opportunity_window_weeks)
        m = m[
            (m.expected_date >= m.week_start - window)
            & (m.expected_date < m.week_start + window + pd.Timedelta(days=7))
        ]
        opp = m.groupby("index")["weighted"].sum()
        pos = late.index.get_indexer(opp.index)
        support[pos] += opp.to_numpy()
    return support
