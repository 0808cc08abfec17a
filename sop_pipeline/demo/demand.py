"""Latent retail demand, promotions, injected anomalies and the daily POS extract.

Expected units per SKU, store and day are

    base[s, d] * share[s, k] * promo[s, k, d]

where ``base`` (units/day over all stores) = scale x stores x weekday profile x family
season x SKU trend x lifecycle x price effect (x the season window of a seasonal item, 0 between
its seasons), ``share`` splits it over stores and ``promo`` is
the uplift during a promotion (1.5-3x) and the dip after it. Observed units are negative
binomial (gamma-Poisson) around that, then stockout spells are zeroed (censored) and outlier
weeks multiplied. Only rows with units > 0 are written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from .config import Calendar, Size, expand_ranges, rng_for, round_money, weekly
from .items import FAMILIES, SEASON_DAYS, SEASON_PEAK, Catalog

DOW_PROFILE = np.array([0.84, 0.86, 0.90, 0.96, 1.14, 1.38, 0.92])  # Monday..Sunday, weekend peak
HEALTHY_UNITS_PER_WEEK = 20.0  # outliers / hockey sticks only on SKUs at least this big (all stores)


@dataclass
class DemandModel:
    """Latent demand arrays. Day axis = extended days (history + future weeks)."""

    base: np.ndarray  # (n_fg, ext_days) expected units/day, all stores, no promotions
    share: np.ndarray  # (n_fg, n_stores) split of base over stores (rows sum to 1)
    price: np.ndarray  # (n_fg, ext_days) shelf price, currency/unit
    shape: np.ndarray  # (n_fg,) gamma shape of the demand noise (lower = lumpier)

    @property
    def base_wk(self) -> np.ndarray:
        """(n_fg, ext_weeks) expected units/week over all stores, no promotions."""
        return weekly(self.base)


@dataclass
class Anomalies:
    """Everything injected on purpose (and written to _truth/)."""

    stockouts: pd.DataFrame  # sku_idx, store_idx, start_day, end_day (inclusive)
    outliers: pd.DataFrame  # sku_idx, week, factor
    optimistic: pd.DataFrame  # fam, family, optimism_pct
    hockey: pd.DataFrame  # sku_idx, snap_week, factor
    marketing_fam: int  # family with an extra "marketing" forecast


@dataclass
class PosResult:
    pos_day: np.ndarray  # (n_fg, n_days) realised units/day over all stores (int32)
    exp_day: np.ndarray  # (n_fg, ext_days) expected units/day over all stores incl. promotions


# --------------------------------------------------------------------------- latent demand


def lifecycle_multiplier(fg: pd.DataFrame, n_days: int) -> np.ndarray:
    """(n_fg, n_days): 0 before launch, ramp-up to 1, 1, linear decay to 0.15 while phasing out, 0 after."""
    d = np.arange(n_days)[None, :]
    launch = fg.launch_day.to_numpy()[:, None]
    ramp = np.maximum(fg.ramp_days.to_numpy()[:, None], 1)
    p0, p1 = fg.phase_start.to_numpy()[:, None], fg.phase_stop.to_numpy()[:, None]
    up = np.where(launch >= 0, np.clip((d - launch + 1) / ramp, 0.0, 1.0) ** 0.8, 1.0)
    down = np.where(d < p0, 1.0, np.where(d < p1, 1.0 - 0.85 * (d - p0) / np.maximum(p1 - p0, 1), 0.0))
    return up * down


def season_window(season_open: np.ndarray, n_days: int) -> np.ndarray:
    """(len(season_open), n_days) demand multiplier of seasonal items: a sine arch peaking at
    ``SEASON_PEAK`` over ``SEASON_DAYS`` days from each ``season_open`` day (every 365.25 days), 0 between."""
    t = np.mod(np.arange(n_days)[None, :] - np.asarray(season_open, dtype=float)[:, None], 365.25)
    arch = np.sin(np.pi * np.minimum(t + 0.5, SEASON_DAYS) / SEASON_DAYS)  # day midpoints; >= 0 below
    return np.where(t < SEASON_DAYS, SEASON_PEAK * arch, 0.0)


def price_paths(fg: pd.DataFrame, cal: Calendar, rng: np.random.Generator) -> np.ndarray:
    """(n_fg, ext_days) shelf price: 0-3 step changes (mostly increases) ending at unit_price."""
    n = len(fg)
    n_changes = rng.choice(4, n, p=[0.3, 0.35, 0.25, 0.1])
    days = np.sort(rng.integers(60, cal.n_days - 20, (n, 3)), axis=1)
    active = np.arange(3)[None, :] >= 3 - n_changes[:, None]
    up = rng.random((n, 3)) < 0.8
    m = np.where(active, np.where(up, rng.uniform(1.03, 1.12, (n, 3)), rng.uniform(0.88, 0.97, (n, 3))), 1.0)
    ladder = [None, None, None, fg.unit_price.to_numpy(dtype=float)]
    for i in (2, 1, 0):
        ladder[i] = np.where(active[:, i], np.maximum(np.round(ladder[i + 1] / m[:, i], 2), 0.29), ladder[i + 1])
    d = np.arange(cal.ext_days)[None, :]
    price = np.repeat(ladder[0][:, None], cal.ext_days, axis=1)
    for i in range(3):
        after = active[:, i : i + 1] & (d >= days[:, i : i + 1])
        price = np.where(after, ladder[i + 1][:, None], price)
    return price


def family_profiles(cal: Calendar, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Weekday profile (n_fam, 7) with mean 1 and yearly season (n_fam, ext_days) around 1."""
    n_fam = len(FAMILIES)
    dow = DOW_PROFILE[None, :] * rng.uniform(0.95, 1.05, (n_fam, 7))
    dow /= dow.mean(axis=1, keepdims=True)
    amp = np.array([rng.uniform(0.03, 0.10) if f[2] is None else rng.uniform(0.10, 0.35) for f in FAMILIES])
    peak = np.array([f[3] for f in FAMILIES]) + rng.integers(-20, 21, n_fam)
    doy = cal.day_of_year(cal.ext_days)[None, :]
    season = 1.0 + amp[:, None] * np.cos(2 * np.pi * (doy - peak[:, None]) / 365.25)
    return dow, season


def build_demand_model(cat: Catalog, cal: Calendar, seed: int) -> DemandModel:
    """Latent expected demand for every finished good over history and the future weeks."""
    rng = rng_for(seed, "demand-model")
    fg, n, k = cat.fg, cat.n_fg, len(cat.stores)
    dow, season = family_profiles(cal, rng)
    fam = fg.fam.to_numpy()
    d = np.arange(cal.ext_days)
    growth = rng.normal(0.03, 0.12, n)  # per year
    trend = np.exp(growth[:, None] * (d[None, :] - (cal.n_days - 1)) / 365.25)
    price = price_paths(fg, cal, rng)
    elasticity = rng.uniform(0.8, 1.8, n)
    price_effect = (price / fg.unit_price.to_numpy()[:, None]) ** -elasticity[:, None]
    base = (
        fg.scale.to_numpy()[:, None]
        * k
        * dow[fam][:, d % 7]
        * season[fam]
        * trend
        * lifecycle_multiplier(fg, cal.ext_days)
        * price_effect
    )
    seasonal = np.flatnonzero(fg.season_open.to_numpy() >= 0)
    base[seasonal] *= season_window(fg.season_open.to_numpy()[seasonal], cal.ext_days)
    share = rng.lognormal(0.0, 0.3, k)[None, :] * rng.lognormal(0.0, 0.2, (n, k))
    share /= share.sum(axis=1, keepdims=True)
    shape = np.where(fg.scale.to_numpy() > 1.0, rng.uniform(3.0, 8.0, n), rng.uniform(1.0, 3.0, n))
    return DemandModel(base=base, share=share, price=price, shape=shape)


# --------------------------------------------------------------------------- promotions


def schedule_promotions(cat: Catalog, model: DemandModel, cal: Calendar, seed: int) -> pd.DataFrame:
    """Promotions (past and up to 13 weeks ahead), one row per promo x SKU.

    Columns: promo_id, sku_idx, store_idx (-1 = all stores), start_day, days, dip_days,
    uplift (x expected units), dip_mult, discount (fraction of price), expected_units.
    """
    rng = rng_for(seed, "promotions")
    fg, n = cat.fg, cat.n_fg
    big = fg.scale.to_numpy() >= np.median(fg.scale)
    promoted = np.flatnonzero(rng.random(n) < np.where(big, 0.6, 0.25))
    n_slots = cal.ext_weeks // 6 + 2
    gaps = rng.integers(6, 17, (len(promoted), n_slots))
    first = rng.integers(0, 10, len(promoted))
    start_wk = first[:, None] + np.concatenate([np.zeros((len(promoted), 1), int), np.cumsum(gaps, 1)[:, :-1]], 1)
    sku = np.repeat(promoted, n_slots)
    start_wk = start_wk.ravel()
    m = len(sku)
    dur = rng.choice([1, 2], m, p=[0.6, 0.4])
    dip = rng.choice([1, 2], m, p=[0.5, 0.5])
    start_day, days, dip_days = 7 * start_wk, 7 * dur, 7 * dip
    ok = (
        (start_wk < cal.weeks + 13)
        & (start_day >= fg.full_from.to_numpy()[sku])
        & (start_day + days + dip_days <= np.minimum(fg.full_to.to_numpy()[sku], cal.ext_days))
    )
    uplift = rng.uniform(1.5, 3.0, m)
    promos = (
        pd.DataFrame(
            {
                "sku_idx": sku,
                "store_idx": np.where(rng.random(m) < 0.5, -1, rng.integers(0, len(cat.stores), m)),
                "start_day": start_day,
                "days": days,
                "dip_days": dip_days,
                "uplift": uplift,
                "dip_mult": rng.uniform(0.65, 0.85, m),
                "discount": np.round(np.clip(0.1 + (uplift - 1.5) / 1.5 * 0.2 + rng.normal(0, 0.03, m), 0.1, 0.3), 2),
                "optimism": rng.uniform(0.9, 1.3, m),
            }
        )[ok]
        .sort_values(["start_day", "sku_idx"], kind="stable")
        .reset_index(drop=True)
    )
    promos["promo_id"] = [f"PR{i + 1:05d}" for i in range(len(promos))]
    promos["expected_units"] = _promo_expected_units(promos, model)
    return promos


def _promo_expected_units(promos: pd.DataFrame, model: DemandModel) -> np.ndarray:
    """Planned promo units: expected baseline at the promo's stores x uplift x planner optimism."""
    row, day = expand_ranges(promos.start_day.to_numpy(), promos.days.to_numpy())
    s, k = promos.sku_idx.to_numpy()[row], promos.store_idx.to_numpy()[row]
    share = np.where(k < 0, 1.0, model.share[s, np.maximum(k, 0)])
    units = np.bincount(row, model.base[s, day] * share, minlength=len(promos))
    return np.round(units * promos.uplift.to_numpy() * promos.optimism.to_numpy())


SHORT_PROMO_WEEK = 9  # first week of the promotion the plan cannot make: horizon week 10 (week index W + 9)
SHORT_PROMO_UPLIFT = 3.0


def add_short_promotion(
    promos: pd.DataFrame,
    pos: PosResult,
    cat: Catalog,
    model: DemandModel,
    anomalies: Anomalies,
    make: np.ndarray,
    rate: np.ndarray,
    cal: Calendar,
) -> pd.DataFrame:
    """One more upcoming promotion, on the made SKU the plan serves last when the plant is full, so
    the meeting sees a promotion it cannot make (and the substitution plan offers a same-family SKU).

    The plan serves C items last and, among them, the lowest margin per machine hour: the SKU is
    the active, always-live C item (by expected revenue) of at least 20 units/week that earns least
    per hour on its machine (``make``/``rate``: the plant's made FG indices and ideal units/hour),
    with no hockey stick and no promotion within 3 weeks of horizon weeks 10-11. The promotion runs
    those two weeks at every store (3x demand, 30% off, one dip week after): late in the horizon,
    when the plant's stock ahead has run down and the tooling is full. Nothing in history
    changes: only ``pos.exp_day`` of the future weeks (updated in place), so the plant, POS and
    anomalies are as without it. Returns promos with the new row, renumbered by start date.
    """
    fg, W = cat.fg, cal.weeks
    start_wk = W + SHORT_PROMO_WEEK
    rev = fg.scale.to_numpy() * fg.unit_price.to_numpy()
    margin_h = np.full(cat.n_fg, np.inf)
    margin_h[make] = (fg.unit_price.to_numpy() - fg.unit_cost.to_numpy())[make] * rate
    near = promo_block(promos, cat.n_fg, cal.ext_weeks, margin=3)[:, start_wk : start_wk + 2].any(axis=1)
    weekly_units = model.base_wk[:, W : W + 13].mean(axis=1)
    ok = (
        (abc_classes(fg) == "C")
        & np.isfinite(margin_h)
        & (fg.lifecycle.to_numpy() == "active")
        & (fg.full_from.to_numpy() == 0)
        & (fg.full_to.to_numpy() >= cal.ext_days)
        & ~near
        & ~np.isin(np.arange(cat.n_fg), anomalies.hockey.sku_idx.to_numpy())
    )
    pick = np.flatnonzero(ok & (weekly_units >= 20)) if (ok & (weekly_units >= 20)).any() else np.flatnonzero(ok)
    if not len(pick):
        return promos
    s = int(pick[np.argmin(margin_h[pick] - 1e-9 * rev[pick])])
    row = {
        "sku_idx": s,
        "store_idx": -1,
        "start_day": 7 * start_wk,
        "days": 14,
        "dip_days": 7,
        "uplift": SHORT_PROMO_UPLIFT,
        "dip_mult": 0.75,
        "discount": 0.3,
        "optimism": 1.1,
    }
    days = np.arange(7 * start_wk, 7 * start_wk + 21)
    mult = np.where(days < 7 * start_wk + 14, SHORT_PROMO_UPLIFT, 0.75)
    pos.exp_day[s, days] = model.base[s, days] * mult  # every store: shares sum to 1
    out = pd.concat([promos.drop(columns=["promo_id", "expected_units"]), pd.DataFrame([row])], ignore_index=True)
    out = out.astype({c: promos[c].dtype for c in row})
    out = out.sort_values(["start_day", "sku_idx"], kind="stable").reset_index(drop=True)
    out["promo_id"] = [f"PR{i + 1:05d}" for i in range(len(out))]
    out["expected_units"] = _promo_expected_units(out, model)
    return out


def promo_block(promos: pd.DataFrame, n_fg: int, n_weeks: int, margin: int = 1) -> np.ndarray:
    """(n_fg, n_weeks) True where a SKU has a promotion or post-promo dip (at any store), +- margin weeks."""
    first = promos.start_day.to_numpy() // 7 - margin
    length = (promos.days.to_numpy() + promos.dip_days.to_numpy()) // 7 + 2 * margin
    row, wk = expand_ranges(first, length)
    keep = (wk >= 0) & (wk < n_weeks)
    block = np.zeros((n_fg, n_weeks), dtype=bool)
    block[promos.sku_idx.to_numpy()[row][keep], wk[keep]] = True
    return block


def promotions_extract(promos: pd.DataFrame, cat: Catalog, cal: Calendar) -> dict:
    """The `promotions` extract."""
    stores = np.array(cat.stores + ["ALL"], dtype=object)
    return {
        "promo_id": promos.promo_id.to_numpy(),
        "sku": cat.fg.sku.to_numpy()[promos.sku_idx],
        "location_or_customer": stores[promos.store_idx.to_numpy()],  # -1 -> "ALL"
        "start_date": cal.dates(promos.start_day),
        "end_date": cal.dates(promos.start_day + promos.days - 1),
        "discount_pct": promos.discount.to_numpy(),
        "expected_units": promos.expected_units.to_numpy(),
    }


# --------------------------------------------------------------------------- injected anomalies


def abc_classes(fg: pd.DataFrame) -> np.ndarray:
    """A/B/C by expected revenue (scale x price): A up to 80% cumulative share, B to 95%."""
    rev = fg.scale.to_numpy() * fg.unit_price.to_numpy()
    order = np.argsort(-rev, kind="stable")
    cum = np.cumsum(rev[order]) / rev.sum()
    prev = np.concatenate([[0.0], cum[:-1]])
    cls = np.where(prev < 0.8, "A", np.where(prev < 0.95, "B", "C"))
    out = np.empty(len(fg), dtype=object)
    out[order] = cls
    return out


def plan_anomalies(
    cat: Catalog, model: DemandModel, promos: pd.DataFrame, cal: Calendar, size: Size, seed: int
) -> Anomalies:
    """Choose stockout spells, POS outlier weeks, optimistic families and hockey-stick snapshots."""
    rng = rng_for(seed, "anomalies")
    fg, W = cat.fg, cal.weeks
    always_full = (fg.full_from.to_numpy() == 0) & (fg.full_to.to_numpy() >= cal.ext_days)
    weekly_units = model.base_wk[:, :W].mean(axis=1)
    healthy = always_full & (weekly_units >= HEALTHY_UNITS_PER_WEEK)
    blocked = promo_block(promos, cat.n_fg, cal.ext_weeks)

    stockouts = _stockout_spells(cat, always_full, cal, size, rng)
    so_block = np.zeros_like(blocked)
    for s, a, b in stockouts[["sku_idx", "start_day", "end_day"]].itertuples(index=False):
        so_block[s, max(a // 7 - 1, 0) : b // 7 + 2] = True
    outliers = _outlier_weeks(healthy, blocked | so_block, cal, rng)

    n_fam = len(FAMILIES)
    opt_fams = np.sort(rng.choice(n_fam, 2, replace=False))
    optimistic = pd.DataFrame(
        {
            "fam": opt_fams,
            "family": [FAMILIES[f][0] for f in opt_fams],
            "optimism_pct": [float(rng.integers(15, 26)), float(rng.integers(30, 41))],
        }
    )
    events = so_block.copy()  # stockout weeks (+-1) and outlier weeks of each SKU
    events[outliers.sku_idx.to_numpy(), outliers.week.to_numpy()] = True
    preferred = healthy & ~np.isin(fg.fam, opt_fams)
    fallback = always_full & (weekly_units >= HEALTHY_UNITS_PER_WEEK / 4)
    hockey = _hockey_sticks(preferred, fallback, blocked, events, model, cal, size, rng)
    return Anomalies(
        stockouts=stockouts,
        outliers=outliers,
        optimistic=optimistic,
        hockey=hockey,
        marketing_fam=int(rng.integers(0, n_fam)),
    )


def _stockout_spells(
    cat: Catalog, always_full: np.ndarray, cal: Calendar, size: Size, rng: np.random.Generator
) -> pd.DataFrame:
    """A-item store spells of 7-16 days, each containing an inventory snapshot Sunday."""
    a_items = np.flatnonzero((abc_classes(cat.fg) == "A") & always_full)
    if len(a_items) == 0:
        a_items = np.flatnonzero(always_full)
    n = max(3, round(size.series / 50))
    k = len(cat.stores)
    key = np.unique(rng.choice(a_items, 4 * n) * k + rng.integers(0, k, 4 * n))  # distinct (sku, store)
    key = rng.permutation(key)[:n]
    sunday_wk = rng.integers(cal.weeks - size.inventory_weeks, cal.weeks - 1, len(key))
    start = 7 * sunday_wk + 6 - rng.integers(0, 7, len(key))
    end = np.minimum(start + rng.integers(7, 17, len(key)) - 1, cal.n_days - 1)
    out = pd.DataFrame({"sku_idx": key // k, "store_idx": key % k, "start_day": start, "end_day": end})
    return out.sort_values(["sku_idx", "store_idx"], kind="stable").reset_index(drop=True)


def _outlier_weeks(healthy: np.ndarray, blocked: np.ndarray, cal: Calendar, rng: np.random.Generator) -> pd.DataFrame:
    """~1 outlier week per 8 SKUs: healthy SKUs, weeks 30..W-14, clear of promos, dips and stockouts."""
    n_target = max(1, round(len(healthy) / 8))
    allowed = ~blocked[:, : cal.weeks].copy()
    allowed[:, :30] = False
    allowed[:, cal.weeks - 13 :] = False
    eligible = np.flatnonzero(healthy & allowed.any(axis=1))
    chosen = np.sort(rng.permutation(eligible)[:n_target])
    weeks = np.array([rng.choice(np.flatnonzero(allowed[s])) for s in chosen], dtype=np.int64)
    return pd.DataFrame({"sku_idx": chosen, "week": weeks, "factor": np.round(rng.uniform(3.0, 6.0, len(chosen)), 2)})


def _window_sum(x: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Sum of x[:, first:last] for every row and every (first, last) pair: (rows, len(first))."""
    cs = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)], axis=1)
    return cs[:, np.clip(last, 0, x.shape[1])] - cs[:, np.clip(first, 0, x.shape[1])]


def _hockey_sticks(
    preferred: np.ndarray,
    fallback: np.ndarray,
    blocked: np.ndarray,
    events: np.ndarray,
    model: DemandModel,
    cal: Calendar,
    size: Size,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """3-6 (snapshot week j, SKU) pairs, one in the latest snapshot, distinct SKUs.

    Best pairs: a ``preferred`` SKU (healthy volume, not in an optimistic family), no promotion or
    dip in weeks j-8..j+13, no outlier or stockout in j-9..j+13 and a flat expected demand (weeks
    j+1..j+13 within 0.75-1.35x the 8 weeks before j), so nothing supports the jump. If too few
    exist: promotions only excluded from j+1..j+13, then flatness dropped, then ``fallback`` SKUs.
    """
    n = int(np.clip(round(size.skus / 400) + 2, 3, 6))
    W = cal.weeks
    snaps = np.arange(W - 52, W)
    bw = model.base_wk
    before = _window_sum(bw, snaps - 8, snaps) / 8
    ahead = bw[:, snaps[:, None] + np.arange(1, 14)[None, :]]  # (n_fg, J, 13)
    ratio = ahead / np.maximum(before, 1e-9)[:, :, None]
    stable = (ratio.min(axis=2) >= 0.75) & (ratio.max(axis=2) <= 1.35)
    quiet = _window_sum(events.astype(float), snaps - 9, snaps + 14) == 0
    base = preferred[:, None] & stable & quiet
    no_promo_ahead = _window_sum(blocked.astype(float), snaps + 1, snaps + 14) == 0
    strict = base & (_window_sum(blocked.astype(float), snaps - 8, snaps + 14) == 0)
    tiers = (
        strict,
        base & no_promo_ahead,
        preferred[:, None] & quiet & no_promo_ahead,
        fallback[:, None] & quiet & no_promo_ahead,
    )
    picked: list[tuple[int, int]] = []
    for ok in tiers:  # one in the latest snapshot
        latest = np.flatnonzero(ok[:, -1])
        if len(latest):
            picked.append((int(rng.choice(latest)), W - 1))
            break
    for ok in tiers:  # the others in earlier snapshots, distinct SKUs
        s_idx, j_idx = np.nonzero(ok[:, :-1])
        for k in rng.permutation(len(s_idx)):
            if len(picked) == n:
                break
            if all(int(s_idx[k]) != p[0] for p in picked):
                picked.append((int(s_idx[k]), int(snaps[j_idx[k]])))
    rows = [(s, j, round(float(rng.uniform(2.5, 4.0)), 2)) for s, j in picked]
    return pd.DataFrame(rows, columns=["sku_idx", "snap_week", "factor"]).astype(
        {"sku_idx": np.int64, "snap_week": np.int64, "factor": float}
    )


# --------------------------------------------------------------------------- POS


def _paint(
    arr: np.ndarray, sku_l: np.ndarray, store: np.ndarray, start: np.ndarray, length: np.ndarray, value: np.ndarray
) -> None:
    """arr[sku, store, start:start+length] = value per row; store -1 means every store."""
    k = arr.shape[1]
    is_all = store < 0
    rows = np.concatenate([np.flatnonzero(~is_all), np.repeat(np.flatnonzero(is_all), k)])
    stores = np.concatenate([store[~is_all], np.tile(np.arange(k), int(is_all.sum()))])
    r, day = expand_ranges(start[rows], length[rows])
    keep = day < arr.shape[2]
    arr[sku_l[rows][r][keep], stores[r][keep], day[keep]] = value[rows][r][keep]


def simulate_pos(
    cat: Catalog,
    model: DemandModel,
    promos: pd.DataFrame,
    anomalies: Anomalies,
    cal: Calendar,
    size: Size,
    seed: int,
    sink,
) -> PosResult:
    """Sample daily POS chunk by chunk of SKUs and stream rows (units > 0) to ``sink``."""
    n, k, D = cat.n_fg, len(cat.stores), cal.n_days
    pos_day = np.zeros((n, D), dtype=np.int32)
    exp_day = np.zeros((n, cal.ext_days))
    sku_names = pa.array(cat.fg.sku.to_numpy(dtype=object), pa.string())
    store_names = pa.array(cat.stores, pa.string())
    for c0 in range(0, n, size.pos_chunk):
        c1 = min(c0 + size.pos_chunk, n)
        rng = rng_for(seed, f"pos-{c0}")
        mult, disc = _promo_arrays(promos, c0, c1, k, cal.ext_days)
        lam = model.base[c0:c1, None, :] * model.share[c0:c1, :, None] * mult
        exp_day[c0:c1] = lam.sum(axis=1)
        lam = lam[:, :, :D]
        shape = model.shape[c0:c1, None, None]
        units = rng.poisson(lam * rng.gamma(shape, 1.0 / shape, lam.shape)).astype(np.int32)
        _censor_and_spike(units, lam, anomalies, c0, c1, rng)
        pos_day[c0:c1] = units.sum(axis=1)
        s, st, d = np.nonzero(units)
        u = units[s, st, d]
        sink.write(
            {
                "date": pa.array((cal.epoch0 + d).astype(np.int32), pa.date32()),
                "location": store_names.take(pa.array(st)),
                "sku": sku_names.take(pa.array(c0 + s)),
                "units": u.astype(np.float64),
                "revenue": round_money(u * model.price[c0 + s, d] * (1.0 - disc[s, st, d])),
            }
        )
    return PosResult(pos_day=pos_day, exp_day=exp_day)


def _promo_arrays(promos: pd.DataFrame, c0: int, c1: int, k: int, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Demand multiplier and price discount arrays (c1-c0, k, n_days) for one SKU chunk."""
    mult = np.ones((c1 - c0, k, n_days))
    disc = np.zeros((c1 - c0, k, n_days), dtype=np.float32)
    p = promos[(promos.sku_idx >= c0) & (promos.sku_idx < c1)]
    s, st = p.sku_idx.to_numpy() - c0, p.store_idx.to_numpy()
    start, days, dip = p.start_day.to_numpy(), p.days.to_numpy(), p.dip_days.to_numpy()
    _paint(mult, s, st, start, days, p.uplift.to_numpy())
    _paint(mult, s, st, start + days, dip, p.dip_mult.to_numpy())
    _paint(disc, s, st, start, days, p.discount.to_numpy().astype(np.float32))
    return mult, disc


def _censor_and_spike(
    units: np.ndarray, lam: np.ndarray, anomalies: Anomalies, c0: int, c1: int, rng: np.random.Generator
) -> None:
    """Zero stockout spells; outlier weeks sell ``factor`` x their expected units at every store. In place."""
    so = anomalies.stockouts[(anomalies.stockouts.sku_idx >= c0) & (anomalies.stockouts.sku_idx < c1)]
    r, day = expand_ranges(so.start_day.to_numpy(), (so.end_day - so.start_day + 1).to_numpy())
    units[so.sku_idx.to_numpy()[r] - c0, so.store_idx.to_numpy()[r], day] = 0
    out = anomalies.outliers[(anomalies.outliers.sku_idx >= c0) & (anomalies.outliers.sku_idx < c1)]
    for s, wk, f in out[["sku_idx", "week", "factor"]].itertuples(index=False):  # ~1 per 8 SKUs
        days = slice(7 * wk, 7 * wk + 7)
        units[s - c0, :, days] = rng.poisson(lam[s - c0, :, days] * f)
