"""Weekly inventory-by-lot snapshots (Sundays) for stores and DCs.

Each location x SKU is replenished every R weeks (stores 1-2, DCs 2-6) on a fixed weekday:
on a snapshot the current cycle lot holds the unsold part of R weeks of expected demand, an
older lot often holds the safety stock, and some pairs carry a stale lot received 100-800 days
ago (aged stock, sometimes expired; phase-out SKUs leave one at the DC: pending E&O). Lot ids
are ``L<yymmdd of receipt>-<sku number>`` and persist across snapshots. Store stockout spells
show as a single lot row with qty 0.

Components (bought for the plant's BOM) are stocked at the plant ``P1``
(`component_lots`): their stock is what their receipts leave after the plant's use, first in first
out, so a snapshot holds the latest receipts' lots (and what is left of an opening lot).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import Calendar, Size, rng_for, stable_uniform
from .demand import Anomalies, DemandModel
from .items import Catalog
from .orders import OrderBook


def _pairs(cat: Catalog, model: DemandModel, book: OrderBook, weeks: np.ndarray):
    """Location x SKU pairs (stores first, then DCs): expected units/week (P, T), location index, SKU index."""
    n = cat.n_fg
    base_wk = model.base_wk[:, weeks]  # (n, T)
    store_ew = base_wk[:, None, :] * model.share[:, :, None]  # (n, k, T)
    dc_ew = np.stack([store_ew[:, cat.store_dc == j].sum(axis=1) for j in range(len(cat.dcs))], axis=1)
    dc_ew += (book.b2b_share[:, None] * base_wk / len(cat.dcs))[:, None, :]  # B2B ships from the DCs
    ew = np.concatenate([store_ew, dc_ew], axis=1)  # (n, k + n_dc, T)
    n_loc = ew.shape[1]
    return ew.transpose(1, 0, 2).reshape(n_loc * n, -1), np.repeat(np.arange(n_loc), n), np.tile(np.arange(n), n_loc)


def _policy(
    cat: Catalog, loc: np.ndarray, sku: np.ndarray, ew: np.ndarray, cal: Calendar, rng: np.random.Generator
) -> dict:
    """Per pair: review period R (weeks), phase, receipt weekday, safety-stock flag and the stale lot
    (receipt day, qty in units; stale lots mostly at DCs and always for phase-out SKUs at DCs)."""
    fg, P = cat.fg, len(loc)
    is_dc = loc >= len(cat.stores)
    R = np.where(is_dc, rng.integers(2, 7, P), np.where(fg.scale.to_numpy()[sku] > 2.0, 1, 2))
    phased_out = (fg.lifecycle.to_numpy()[sku] == "phase_out") & is_dc
    stale_day = np.where(
        phased_out, fg.phase_start.to_numpy()[sku] - rng.integers(0, 30, P), cal.n_days - rng.integers(100, 800, P)
    )
    has_stale = (rng.random(P) < np.where(is_dc, 0.12, 0.02)) | phased_out
    return {
        "is_dc": is_dc,
        "R": R,
        "phase": rng.integers(0, 6, P) % R,
        "rwd": rng.integers(0, 5, P),
        "has_ss": rng.random(P) < 0.7,
        "has_stale": has_stale & (stale_day >= fg.launch_day.to_numpy()[sku]),  # nothing older than a launch
        "stale_day": stale_day,
        "stale_qty": np.maximum(np.round(ew.mean(axis=1) * rng.uniform(1, 8, P)), 3),
    }


def inventory_lots(
    cat: Catalog, model: DemandModel, book: OrderBook, anomalies: Anomalies, cal: Calendar, size: Size, seed: int
) -> dict:
    """The `inventory_lots` extract (Sunday snapshots over the last ``size.inventory_weeks`` weeks).

    Up to three lots per pair and snapshot: the cycle lot (unsold share of R weeks of demand, at
    least 2 units at a store / 6 at a DC), the previous receipt holding safety stock, a stale lot.
    """
    rng = rng_for(seed, "inventory")
    fg = cat.fg
    weeks = np.arange(cal.weeks - size.inventory_weeks, cal.weeks)
    snap_day = 7 * weeks + 6
    ew, loc, sku = _pairs(cat, model, book, weeks)  # ew: (P, T) units/week
    P, T = ew.shape
    pol = _policy(cat, loc, sku, ew, cal, rng)
    R = pol["R"][:, None]
    e = (weeks[None, :] - pol["phase"][:, None]) % R  # weeks since the last receipt
    recv = 7 * (weeks[None, :] - e) + pol["rwd"][:, None]
    remaining = np.clip(1.0 - (snap_day[None, :] - recv) / (7.0 * R), 0.05, 1.0)
    cycle_qty = np.round(ew * R * remaining * rng.uniform(0.85, 1.15, (P, T)))
    cycle_qty = np.maximum(cycle_qty, np.where(pol["is_dc"], 6, 2)[:, None])
    ss_qty = np.maximum(np.round(ew * rng.uniform(0.3, 1.0, (P, T))), 1)

    launch = fg.launch_day.to_numpy()[sku]
    live_from = np.where(launch >= 0, launch - 7, -1)
    live = (snap_day[None, :] >= live_from[:, None]) & (snap_day[None, :] < fg.phase_stop.to_numpy()[sku][:, None])
    out = _stockout_mask(anomalies, cat, loc, sku, snap_day)
    stale = pol["has_stale"][:, None] & (pol["stale_day"][:, None] <= snap_day[None, :]) & ~out
    lots = [  # (present, receipt day, qty)
        (live, recv, np.where(out, 0.0, cycle_qty)),
        (live & pol["has_ss"][:, None] & ~out, recv - 7 * R, ss_qty),
        (stale, pol["stale_day"][:, None], pol["stale_qty"][:, None]),
    ]
    p_idx = np.broadcast_to(np.arange(P)[:, None], (P, T))
    t_idx = np.broadcast_to(np.arange(T)[None, :], (P, T))
    parts = [(p_idx[m], t_idx[m], np.broadcast_to(rd, (P, T))[m], np.broadcast_to(q, (P, T))[m]) for m, rd, q in lots]
    p, ti, rd, qty = (np.concatenate(x) for x in zip(*parts))
    p, ti, rd, qty = _merge_same_lot(p, ti, rd, qty, T, cal.ext_days)
    order = np.lexsort((rd, sku[p], loc[p], ti))
    p, ti, rd, qty = p[order], ti[order], rd[order], qty[order]
    return _lot_columns(cat, cal, loc[p], sku[p], snap_day[ti], rd, qty, seed)


def _merge_same_lot(p, ti, rd, qty, T: int, n_days: int):
    """Sum rows that describe the same (pair, snapshot, receipt day) lot."""
    key = (p.astype(np.int64) * T + ti) * (n_days + 1) + rd
    uk, inv = np.unique(key, return_inverse=True)
    q = np.bincount(inv, qty)
    rd_u, rest = uk % (n_days + 1), uk // (n_days + 1)
    return rest // T, rest % T, rd_u, q


def _stockout_mask(
    anomalies: Anomalies, cat: Catalog, loc: np.ndarray, sku: np.ndarray, snap_day: np.ndarray
) -> np.ndarray:
    """(P, T) True where a store stockout spell covers the snapshot day."""
    mask = np.zeros((len(loc), len(snap_day)), dtype=bool)
    pair_of = {(int(s), int(lc)): i for i, (lc, s) in enumerate(zip(loc, sku))}
    for s, st, a, b in anomalies.stockouts[["sku_idx", "store_idx", "start_day", "end_day"]].itertuples(index=False):
        mask[pair_of[(s, st)]] |= (snap_day >= a) & (snap_day <= b)
    return mask


def _lot_columns(cat: Catalog, cal: Calendar, loc, sku, snap_day, recv_day, qty, seed: int) -> dict:
    """Extract columns: lot ids, expiry from family shelf life, ~1.5% of lots on quality hold."""
    locations = np.array(cat.stores + cat.dcs, dtype=object)
    shelf = cat.fg.shelf_life.to_numpy()[sku]
    recv_dates = cal.dates(recv_day)
    expiry = recv_dates + np.maximum(shelf, 0).astype("timedelta64[D]")
    expiry[shelf < 0] = np.datetime64("NaT")
    key, inv = np.unique(recv_day * 100_000 + sku, return_inverse=True)
    yymmdd = np.datetime_as_string(cal.dates(key // 100_000), unit="D")
    lot_names = np.array(
        [f"L{d[2:4]}{d[5:7]}{d[8:10]}-{s + 1:04d}" for d, s in zip(yymmdd, key % 100_000)], dtype=object
    )
    hold = stable_uniform(recv_day, sku, loc, salt=seed) < 0.015
    return {
        "snapshot_date": cal.dates(snap_day),
        "location": locations[loc],
        "sku": cat.fg.sku.to_numpy()[sku],
        "lot_id": lot_names[inv],
        "qty": qty,
        "receipt_date": recv_dates,
        "expiry_date": expiry,
        "status": np.where(hold, "hold", "available"),
    }


#: Plant that holds the components (the `locations` extract's plant).
PLANT = "P1"
#: Components' stock before the first receipt, in weeks of their mean use.
OPENING_COMPONENT_WEEKS = 2.0


def component_lots(cat: Catalog, receipts, component_need: np.ndarray, cal: Calendar, size: Size) -> dict:
    """Component lots at the plant on the same Sunday snapshots as `inventory_lots`, consistent with
    the `receipts` extract: each day's stock = yesterday's + what was received - the day's use (the
    BOM explosion of expected demand, ``component_need`` units per component x week, scaled so the
    plant uses what it received over the history), never below 0;
    a snapshot's stock is made of the latest receipts first (FIFO use), each receipt a lot, the rest
    an opening lot received on the first day. Components carry no expiry.

    receipts: the purchasing simulation's receipts (``sku, receipt_day, qty``)."""
    comp = cat.components
    n_c, n_days = len(comp), cal.n_days
    weeks = np.arange(cal.weeks - size.inventory_weeks, cal.weeks)
    snap_day = 7 * weeks + 6
    index = {s: i for i, s in enumerate(comp.sku)}
    r = receipts[receipts.sku.isin(index)]
    c_idx, r_day, r_qty = r.sku.map(index).to_numpy(), r.receipt_day.to_numpy(int), r.qty.to_numpy(float)
    inflow = np.zeros((n_c, n_days))
    np.add.at(inflow, (c_idx, r_day), r_qty)
    daily_use = np.repeat(component_need[:, : (n_days + 6) // 7] / 7.0, 7, axis=1)[:, :n_days]
    # the plant used what it received: the purchase simulation orders 0.9-1.15 x the need (and some
    # receipts come short), so the use is scaled to the receipts since the first one, else the
    # stock would drift by their difference over the years of history
    first = np.full(n_c, n_days)
    np.minimum.at(first, c_idx, r_day)
    since = np.arange(n_days)[None, :] >= first[:, None]
    used = (daily_use * since).sum(axis=1)
    daily_use = daily_use * np.where(used > 0, inflow.sum(axis=1) / np.where(used > 0, used, 1.0), 1.0)[:, None]
    stock = np.zeros((n_c, n_days))
    level = OPENING_COMPONENT_WEEKS * component_need[:, : cal.weeks].mean(axis=1)
    opening = level.copy()
    for d in range(n_days):
        level = np.maximum(level + inflow[:, d] - daily_use[:, d], 0.0)
        stock[:, d] = level
    rows = []  # (snapshot day, component, receipt day, qty)
    order = np.lexsort((-r_day, c_idx))  # per component, latest receipt first
    c_idx, r_day, r_qty = c_idx[order], r_day[order], r_qty[order]
    for c in range(n_c):
        mine = c_idx == c
        if not mine.any() and opening[c] <= 0:
            continue  # never bought: nothing at the plant
        days, qtys = r_day[mine], r_qty[mine]
        for t in snap_day:
            left = float(np.round(stock[c, t]))
            for d, q in zip(days[days <= t], qtys[days <= t]):
                if left <= 0:
                    break
                take = min(q, left)
                rows.append((t, c, d, take))
                left -= take
            if left > 0:
                rows.append((t, c, 0, left))
    if not rows:
        return {k: np.array([], dtype=object) for k in LOT_COLUMNS}
    t, c, d, q = (np.array(x) for x in zip(*rows))
    # receipts of one component on one day (two PO lines, a short line's rest) are one lot
    lots = pd.DataFrame({"t": t, "c": c, "d": d, "q": q}).groupby(["t", "c", "d"], as_index=False, sort=True).q.sum()
    lots = lots.sort_values(["t", "c", "d"], ascending=[True, True, False], kind="stable")
    t, c, d, q = (lots[k].to_numpy() for k in ("t", "c", "d", "q"))
    recv_dates = cal.dates(d)
    yymmdd = np.datetime_as_string(recv_dates, unit="D")
    sku_no = np.array([int(str(s)[3:]) for s in comp.sku.to_numpy()[c]])
    return {
        "snapshot_date": cal.dates(t),
        "location": np.full(len(t), PLANT, dtype=object),
        "sku": comp.sku.to_numpy()[c],
        "lot_id": np.array([f"L{y[2:4]}{y[5:7]}{y[8:10]}-{n:04d}" for y, n in zip(yymmdd, sku_no)], dtype=object),
        "qty": q.astype(float),
        "receipt_date": recv_dates,
        "expiry_date": np.full(len(t), np.datetime64("NaT"), dtype="datetime64[D]"),
        "status": np.full(len(t), "available", dtype=object),
    }


LOT_COLUMNS = ("snapshot_date", "location", "sku", "lot_id", "qty", "receipt_date", "expiry_date", "status")


def with_component_lots(fg_lots: dict, components: dict) -> dict:
    """The `inventory_lots` extract: finished-goods lots then the plant's component lots, by snapshot."""
    out = {
        k: np.concatenate([np.asarray(fg_lots[k]), np.asarray(components[k]).astype(np.asarray(fg_lots[k]).dtype)])
        for k in LOT_COLUMNS
    }
    order = np.argsort(out["snapshot_date"], kind="stable")
    return {k: v[order] for k, v in out.items()}
