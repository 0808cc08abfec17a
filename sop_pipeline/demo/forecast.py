"""Submitted sales/marketing forecast snapshots and Finance's monthly revenue plan.

Sales forecast = expected demand (store POS incl. known promotions + B2B) of the target week
x a SKU bias (centred per family, so families are unbiased but the split inside them is not)
x a snapshot level x lag noise, then x (1 + optimism) for the optimistic families, and with
hockey sticks (weeks 8-13 of a snapshot at 2.5-4x the recent run-rate) on a few snapshots.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import Calendar, rng_for, round_money, weekly
from .demand import Anomalies, DemandModel, PosResult
from .items import FAMILIES, Catalog
from .orders import OrderBook

SNAPSHOTS = 52  # weekly (Monday) snapshots ending with the last Monday of history
HORIZON = 13  # weeks ahead per snapshot: week_start = snapshot_date + 7 * h, h = 1..13
HOCKEY_FIRST_H = 8  # hockey sticks cover horizon weeks 8..13
RUN_RATE_WEEKS = 8  # "recent run-rate" = mean actual units of the 8 weeks before the snapshot


def expected_weekly(model: DemandModel, pos: PosResult, book: OrderBook) -> np.ndarray:
    """(n_fg, ext_weeks) expected units per week: store POS (incl. promos) + B2B orders + won deals."""
    return weekly(pos.exp_day) + book.b2b_share[:, None] * model.base_wk + book.deals_wk


def actual_weekly(pos: PosResult, book: OrderBook, cal: Calendar) -> np.ndarray:
    """(n_fg, weeks) realised units: POS + ordered qty by requested week (not cancelled)."""
    return weekly(pos.pos_day).astype(float) + book.realized_wk(pos.pos_day.shape[0], cal.weeks)


def sales_forecast(
    cat: Catalog, model: DemandModel, pos: PosResult, book: OrderBook, anomalies: Anomalies, cal: Calendar, seed: int
) -> tuple[dict, pd.DataFrame]:
    """The `sales_forecast` extract (units/week) and the hockey-stick truth table."""
    rng = rng_for(seed, "forecast")
    W = cal.weeks
    fam = cat.fg.fam.to_numpy()
    snap = np.arange(W - SNAPSHOTS, W)
    h = np.arange(1, HORIZON + 1)
    expected = expected_weekly(model, pos, book)[:, snap[:, None] + h[None, :]]  # (n, J, H)
    units = _sales_units(expected, fam, anomalies.optimistic, rng)
    hockey = _apply_hockey_sticks(units, anomalies.hockey, actual_weekly(pos, book, cal), snap, cat, cal, rng)
    mkt = fam == anomalies.marketing_fam
    mkt_units = expected[mkt] * rng.lognormal(-(0.15**2) / 2, 0.15, expected[mkt].shape) * rng.uniform(0.97, 1.1)
    rows = [
        _forecast_rows(units, expected, snap, h, np.arange(cat.n_fg), 0),
        _forecast_rows(mkt_units, expected[mkt], snap, h, np.flatnonzero(mkt), 1),
    ]
    r = {k: np.concatenate([x[k] for x in rows]) for k in rows[0]}
    order = np.lexsort((r["src"], r["h"], r["s"], r["j"]))  # snapshot, sku, week, source
    r = {k: v[order] for k, v in r.items()}
    extract = {
        "snapshot_date": cal.week_start(r["j"]),
        "sku": cat.fg.sku.to_numpy()[r["s"]],
        "week_start": cal.week_start(r["j"] + r["h"]),
        "units": np.round(r["units"], 1),
        "source": np.where(r["src"] == 0, "sales", "marketing"),
    }
    return extract, hockey


def _sales_units(
    expected: np.ndarray, fam: np.ndarray, optimistic: pd.DataFrame, rng: np.random.Generator
) -> np.ndarray:
    """Sales forecast units (n, J, H): expected x SKU bias centred per family x snapshot level x lag noise
    (all mean 1), x (1 + optimism_pct / 100) for optimistic families."""
    n, n_fam = len(fam), len(FAMILIES)
    weight = expected.sum(axis=(1, 2))
    bias = np.clip(rng.normal(0.0, 0.08, n), -0.25, 0.25)
    fam_mean = np.bincount(fam, weight * bias, n_fam) / np.maximum(np.bincount(fam, weight, n_fam), 1e-9)
    sku_factor = 1.0 + bias - fam_mean[fam]  # volume-weighted mean per family is exactly 1
    level = rng.lognormal(-(0.05**2) / 2, 0.05, (n, expected.shape[1], 1))
    sigma = 0.06 + 0.012 * np.arange(1, expected.shape[2] + 1)
    noise = rng.lognormal(-(sigma**2) / 2, sigma, expected.shape)
    optimism = np.ones(n)
    for f, pct in optimistic[["fam", "optimism_pct"]].itertuples(index=False):
        optimism[fam == f] = 1.0 + pct / 100.0
    return expected * sku_factor[:, None, None] * level * noise * optimism[:, None, None]


def _apply_hockey_sticks(
    units: np.ndarray,
    hockey: pd.DataFrame,
    actual: np.ndarray,
    snap: np.ndarray,
    cat: Catalog,
    cal: Calendar,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Set horizon weeks 8-13 of the chosen (snapshot, SKU) pairs to factor x run-rate (in place); truth table."""
    truth = []
    for s, j, factor in hockey[["sku_idx", "snap_week", "factor"]].itertuples(index=False):
        run_rate = actual[s, j - RUN_RATE_WEEKS : j].mean()
        jump = factor * run_rate * rng.uniform(0.95, 1.05, HORIZON - HOCKEY_FIRST_H + 1)
        units[s, j - snap[0], HOCKEY_FIRST_H - 1 :] = jump
        truth.append(
            (cal.week_start(j), cat.fg.sku[s], cal.week_start(j + HOCKEY_FIRST_H), factor, round(float(run_rate), 1))
        )
    out = pd.DataFrame(truth, columns=["snapshot_date", "sku", "first_week_start", "factor", "run_rate_units"])
    return out.sort_values(["snapshot_date", "sku"]).reset_index(drop=True)


def _forecast_rows(
    units: np.ndarray, expected: np.ndarray, snap: np.ndarray, h: np.ndarray, skus: np.ndarray, source: int
) -> dict:
    """Flatten (sku, snapshot, h) arrays to rows where the SKU is live (expected > 0)."""
    s, j, hh = np.nonzero(expected > 0.01)
    return {"s": skus[s], "j": snap[j], "h": h[hh], "units": units[s, j, hh], "src": np.full(len(s), source)}


def revenue_plan(cat: Catalog, model: DemandModel, pos: PosResult, book: OrderBook, cal: Calendar, seed: int) -> dict:
    """Finance's plan by month x family: expected units x family plan bias (0.98-1.12) x monthly noise,
    at plan prices (each SKU's price on 1 January of the plan year). Full history months + 4 ahead."""
    rng = rng_for(seed, "revenue-plan")
    fam = cat.fg.fam.to_numpy()
    exp_day = pos.exp_day + book.b2b_share[:, None] * model.base
    month = cal.month_index(cal.ext_days)
    first_full = month[0] + (0 if cal.dates(0).astype("datetime64[M]") == cal.dates(0) else 1)
    last = cal.end64.astype("datetime64[M]").astype(np.int64) + 4
    months = np.arange(first_full, last + 1)
    days = cal.dates(np.arange(cal.ext_days))
    jan1 = cal.day_index(days.astype("datetime64[Y]").astype("datetime64[D]"))
    plan_price = model.price[np.arange(cat.n_fg)[:, None], np.clip(jan1, 0, None)[None, :]]
    in_plan = (month >= first_full) & (month <= last)
    m_idx = month[in_plan] - first_full
    units_sm = np.zeros((cat.n_fg, len(months)))
    rev_sm = np.zeros((cat.n_fg, len(months)))
    for i in range(len(months)):  # one pass per month (~40), vectorized over SKUs and days
        sel = np.flatnonzero(in_plan)[m_idx == i]
        units_sm[:, i] = exp_day[:, sel].sum(axis=1)
        rev_sm[:, i] = (exp_day[:, sel] * plan_price[:, sel]).sum(axis=1)
    n_fam = len(FAMILIES)
    bias = rng.uniform(0.98, 1.12, n_fam)[:, None] * rng.lognormal(0, 0.04, (n_fam, len(months)))
    units = np.array([units_sm[fam == f].sum(axis=0) for f in range(n_fam)]) * bias
    revenue = np.array([rev_sm[fam == f].sum(axis=0) for f in range(n_fam)]) * bias
    month_dates = months.astype("datetime64[M]").astype("datetime64[D]")
    return {
        "month": np.tile(month_dates, n_fam),
        "family": np.repeat([f[0] for f in FAMILIES], len(months)),
        "units": np.round(units.ravel()),
        "revenue": round_money(revenue.ravel()),
    }
