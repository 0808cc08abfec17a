"""B2B demand: CRM opportunities, sales order lines and their shipments.

Each customer buys an assortment of SKUs on a cadence (every 1-4 weeks, on a fixed weekday).
A line's quantity covers ``cadence`` weeks of the customer's share of the SKU's latent demand
from the requested week on, so expected B2B units per week = ``b2b_share[s] x base_wk[s, w]``
(the sales forecast uses exactly that). About 7% of lines ship late and ~4.5% short, so OTIF
lands near 85-95%. Lines not shipped by ``end_date`` stay open ("booked orders").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import Calendar, rng_for, round_money
from .demand import Anomalies, DemandModel
from .items import FAMILIES, Catalog

LEADS = np.array([7, 14, 21, 28, 35, 42])  # requested date = order date + lead (+0-2 days)
LEAD_P = np.array([0.25, 0.30, 0.20, 0.12, 0.08, 0.05])
INCLUDE_P = 0.85  # chance an assortment SKU is on a given order


@dataclass
class OrderBook:
    lines: pd.DataFrame  # order_id, line, cust_idx, sku_idx, order_day, requested_day, promised_day, qty,
    #                      unit_price, status
    shipments: pd.DataFrame  # order_id, line, cust_idx, sku_idx, ship_day, delivered_day (-1 = in transit), qty,
    #                          unit_price
    opportunities: pd.DataFrame
    b2b_share: np.ndarray  # (n_fg,) expected B2B units / expected store units
    deals_wk: np.ndarray  # (n_fg, ext_weeks) units of won CRM deals by requested week (known to sales)

    def realized_wk(self, n_fg: int, n_weeks: int) -> np.ndarray:
        """(n_fg, n_weeks) ordered units by requested week (cancelled lines excluded)."""
        ln = self.lines[(self.lines.status != "cancelled") & (self.lines.requested_day < 7 * n_weeks)]
        out = np.zeros((n_fg, n_weeks))
        np.add.at(out, (ln.sku_idx.to_numpy(), ln.requested_day.to_numpy() // 7), ln.qty.to_numpy())
        return out


def make_order_book(cat: Catalog, model: DemandModel, anomalies: Anomalies, cal: Calendar, seed: int) -> OrderBook:
    """Opportunities, order lines (regular + won deals) and shipments."""
    rng = rng_for(seed, "orders")
    pairs, b2b_share = _assortments(cat, rng)
    opps = make_opportunities(cat, model, anomalies, cal, seed)
    deals = _won_deal_lines(opps, model, cat, cal)
    lines = pd.concat([_regular_lines(cat, model, pairs, cal, rng), deals], ignore_index=True)
    lines = _number_orders(lines)
    lines, shipments = _ship(lines, cal, rng)
    deals_wk = np.zeros((cat.n_fg, cal.ext_weeks))
    np.add.at(deals_wk, (deals.sku_idx.to_numpy(), deals.requested_day.to_numpy() // 7), deals.qty.to_numpy())
    return OrderBook(lines=lines, shipments=shipments, opportunities=opps, b2b_share=b2b_share, deals_wk=deals_wk)


def _assortments(cat: Catalog, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Customer x SKU pairs with ``frac`` = the pair's share of the SKU's store demand (units/units)."""
    fg, cust = cat.fg, cat.customers
    scale = fg.scale.to_numpy()
    b2b = np.flatnonzero((scale >= np.quantile(scale, 0.4)) & (rng.random(cat.n_fg) < 0.7))
    size_lo, size_hi = np.array([15, 6, 2])[cust.seg], np.array([41, 21, 9])[cust.seg]
    n_pick = np.minimum(rng.integers(size_lo, size_hi), len(b2b))
    p = scale[b2b] / scale[b2b].sum()
    c_idx = np.repeat(np.arange(len(cust)), n_pick)
    s_idx = np.concatenate([rng.choice(b2b, m, replace=False, p=p) for m in n_pick])
    weight = cust.weight.to_numpy()[c_idx] * rng.uniform(0.5, 1.5, len(c_idx))
    share = np.zeros(cat.n_fg)
    share[b2b] = rng.uniform(0.2, 0.6, len(b2b))
    total = np.bincount(s_idx, weight, minlength=cat.n_fg)
    share[total == 0] = 0.0
    frac = share[s_idx] * weight / total[s_idx]
    return pd.DataFrame({"cust_idx": c_idx, "sku_idx": s_idx, "frac": frac}), share


def _regular_lines(
    cat: Catalog, model: DemandModel, pairs: pd.DataFrame, cal: Calendar, rng: np.random.Generator
) -> pd.DataFrame:
    """Order lines from each customer's cadence (one order per customer per cadence week)."""
    cust = cat.customers
    cs = np.concatenate([np.zeros((cat.n_fg, 1)), np.cumsum(model.base_wk, axis=1)], axis=1)
    out = []
    cadence_choices = {0: [1], 1: [1, 2], 2: [2, 3, 4]}
    for c in range(len(cust)):
        cad = int(rng.choice(cadence_choices[int(cust.seg[c])]))
        weekday = int(rng.integers(0, 5))
        weeks = np.arange(int(rng.integers(0, cad)), cal.weeks, cad)
        order_day = 7 * weeks + weekday
        requested = order_day + rng.choice(LEADS, len(weeks), p=LEAD_P) + rng.integers(0, 3, len(weeks))
        pc = pairs[pairs.cust_idx == c]
        occ, j = np.meshgrid(np.arange(len(weeks)), np.arange(len(pc)), indexing="ij")
        occ, j = occ.ravel(), j.ravel()
        s, frac = pc.sku_idx.to_numpy()[j], pc.frac.to_numpy()[j]
        r_wk = requested[occ] // 7
        need = frac * (cs[s, r_wk + cad] - cs[s, r_wk]) / INCLUDE_P
        qty = np.round(need * rng.lognormal(-(0.25**2) / 2, 0.25, len(occ)))
        keep = (rng.random(len(occ)) < INCLUDE_P) & (qty >= 1)
        out.append(
            pd.DataFrame(
                {
                    "cust_idx": c,
                    "sku_idx": s[keep],
                    "okey": occ[keep],
                    "order_day": order_day[occ][keep],
                    "requested_day": requested[occ][keep],
                    "qty": qty[keep],
                    "unit_price": round_money(model.price[s[keep], order_day[occ][keep]] * (1 - cust.discount[c])),
                }
            )
        )
    lines = pd.concat(out, ignore_index=True)
    late_promise = (rng.random(len(lines)) < 0.08) & (lines.requested_day - lines.order_day <= 30)
    lines["promised_day"] = lines.requested_day + np.where(late_promise, 7, 0)
    return lines


def _won_deal_lines(opps: pd.DataFrame, model: DemandModel, cat: Catalog, cal: Calendar) -> pd.DataFrame:
    """Won SKU-level deals become one order line each, ordered 1-3 weeks before the expected date."""
    won = opps[(opps.status == "won") & (opps.sku_idx >= 0)]
    order_day = won.expected_day.to_numpy() - won.order_lead.to_numpy()
    s = won.sku_idx.to_numpy()
    return pd.DataFrame(
        {
            "cust_idx": won.cust_idx.to_numpy(),
            "sku_idx": s,
            "okey": 1_000_000 + np.arange(len(won)),
            "order_day": order_day,
            "requested_day": won.expected_day.to_numpy(),
            "qty": won.qty.to_numpy(),
            "unit_price": round_money(
                model.price[s, order_day] * (1 - cat.customers.discount.to_numpy()[won.cust_idx.to_numpy()])
            ),
            "promised_day": won.expected_day.to_numpy(),
        }
    )


def _number_orders(lines: pd.DataFrame) -> pd.DataFrame:
    """Order ids SO000001... by order date, then customer; lines 1..n by SKU."""
    lines = lines.sort_values(["order_day", "cust_idx", "okey", "sku_idx"], kind="stable").reset_index(drop=True)
    new_order = (lines[["order_day", "cust_idx", "okey"]].diff().abs().sum(axis=1) != 0).to_numpy().copy()
    new_order[0] = True
    order_no = np.cumsum(new_order)
    lines["order_id"] = [f"SO{i:06d}" for i in order_no]
    lines["line"] = lines.groupby(order_no).cumcount().to_numpy() + 1
    return lines.drop(columns="okey")


def _ship(lines: pd.DataFrame, cal: Calendar, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decide status and shipments: ~7% late (1-10 days), ~4.5% short (half completed later), 2% cancelled."""
    n, end = len(lines), cal.n_days - 1
    transit = rng.integers(1, 4, n)
    delay = np.where(rng.random(n) < 0.07, rng.integers(1, 11, n), 0)
    ship = np.maximum(lines.promised_day.to_numpy() - transit + delay, lines.order_day.to_numpy() + 1)
    qty = lines.qty.to_numpy()
    short = rng.random(n) < 0.045
    q1 = np.where(short, np.maximum(np.floor(qty * rng.uniform(0.5, 0.95, n)), 1), qty)
    short &= q1 < qty
    ship2 = ship + rng.integers(3, 15, n)
    second = short & (rng.random(n) < 0.5) & (ship2 <= end)
    cancelled = rng.random(n) < 0.02
    open_ = ~cancelled & (ship > end)
    status = np.select([cancelled, open_, short & ~second], ["cancelled", "open", "partially_shipped"], "shipped")
    lines["status"] = status
    first = ~cancelled & ~open_
    two = first & second
    deliver = lambda day, t: np.where(day + t <= end, day + t, -1)  # noqa: E731  (-1 = still in transit)
    cols = ["order_id", "line", "cust_idx", "sku_idx", "unit_price"]
    ship_a = lines.loc[first, cols].assign(
        ship_day=ship[first], delivered_day=deliver(ship, transit)[first], qty=q1[first]
    )
    ship_b = lines.loc[two, cols].assign(
        ship_day=ship2[two], delivered_day=deliver(ship2, transit)[two], qty=(qty - q1)[two]
    )
    shipments = pd.concat([ship_a, ship_b]).sort_values(["ship_day", "order_id", "line"], kind="stable")
    return lines, shipments.reset_index(drop=True)


def make_opportunities(
    cat: Catalog, model: DemandModel, anomalies: Anomalies, cal: Calendar, seed: int
) -> pd.DataFrame:
    """CRM deals on a SKU (70%) or a family; never on hockey-stick SKUs or their families.

    Columns: opportunity_id, cust_idx, sku_idx (-1 for family deals), sku_or_family, expected_day,
    order_lead (days, for won deals), qty (units), probability, status.
    """
    rng = rng_for(seed, "opportunities")
    fg, D = cat.fg, cal.n_days
    n = max(15, round(1.5 * len(cat.customers)))
    hockey_skus = anomalies.hockey.sku_idx.to_numpy()
    hockey_fams = np.unique(fg.fam.to_numpy()[hockey_skus])
    ok_sku = np.flatnonzero(
        (fg.scale.to_numpy() >= np.median(fg.scale))
        & ~np.isin(np.arange(cat.n_fg), hockey_skus)
        & (fg.lifecycle.to_numpy() != "phase_out")
    )
    ok_fam = np.array([f for f in range(len(FAMILIES)) if f not in hockey_fams], dtype=np.int64)
    on_sku = (rng.random(n) < 0.7) | (len(ok_fam) == 0)
    sku = np.where(on_sku, rng.choice(ok_sku, n), -1)
    fam = np.where(on_sku, fg.fam.to_numpy()[np.maximum(sku, 0)], rng.choice(ok_fam if len(ok_fam) else [0], n))
    future = rng.random(n) < 0.5
    expected = np.where(future, rng.integers(D - 14, D + 182, n), rng.integers(182, D - 15, n))
    weekly = model.base_wk[:, : cal.weeks].mean(axis=1)
    fam_weekly = np.bincount(fg.fam, weekly, minlength=len(FAMILIES))
    qty = np.where(on_sku, weekly[np.maximum(sku, 0)] * rng.uniform(2, 10, n), fam_weekly[fam] * rng.uniform(0.2, 1, n))
    qty = np.maximum(np.round(qty, -1), 10)
    won = rng.random(n) < 0.45
    status = np.where(expected > D - 15, "open", np.where(won, "won", "lost"))
    prob = np.where(status == "open", rng.integers(2, 19, n) * 0.05, np.where(status == "won", 1.0, 0.0))
    w = cat.customers.weight.to_numpy()
    opps = pd.DataFrame(
        {
            "cust_idx": rng.choice(len(w), n, p=w / w.sum()),
            "sku_idx": sku,
            "sku_or_family": np.where(
                on_sku, fg.sku.to_numpy()[np.maximum(sku, 0)], np.array([FAMILIES[f][0] for f in fam], dtype=object)
            ),
            "expected_day": expected,
            "order_lead": rng.integers(7, 22, n),
            "qty": qty,
            "probability": np.round(prob, 2),
            "status": status,
        }
    )
    opps = pd.concat([opps, _closed_last_week(cat, ok_sku, ok_fam, weekly, fam_weekly, cal, seed)], ignore_index=True)
    opps = opps.sort_values(["expected_day", "cust_idx"], kind="stable").reset_index(drop=True)
    opps["opportunity_id"] = [f"OP{i + 1:04d}" for i in range(len(opps))]
    return opps


def _closed_last_week(
    cat: Catalog,
    ok_sku: np.ndarray,
    ok_fam: np.ndarray,
    weekly: np.ndarray,
    fam_weekly: np.ndarray,
    cal: Calendar,
    seed: int,
) -> pd.DataFrame:
    """News for the meeting: one SKU deal lost and one family deal won in the last week of history
    (closed after the previous weekly cycle). The win is family-level, so it books no order line
    and changes no demand; both come from their own random stream (the other deals stay as they are)."""
    rng = rng_for(seed, "opportunities-last-week")
    D = cal.n_days
    w = cat.customers.weight.to_numpy()
    lost_sku = int(rng.choice(ok_sku))
    won_fam = int(rng.choice(ok_fam)) if len(ok_fam) else int(cat.fg.fam.iloc[0])
    return pd.DataFrame(
        {
            "cust_idx": rng.choice(len(w), 2, p=w / w.sum()),
            "sku_idx": [lost_sku, -1],
            "sku_or_family": np.array([cat.fg.sku.iloc[lost_sku], FAMILIES[won_fam][0]], dtype=object),
            "expected_day": D - 1 - rng.integers(0, 6, 2),
            "order_lead": rng.integers(7, 22, 2),
            "qty": np.maximum(
                np.round([weekly[lost_sku] * rng.uniform(3, 8), fam_weekly[won_fam] * rng.uniform(0.3, 0.8)], -1), 10
            ),
            "probability": [0.0, 1.0],
            "status": ["lost", "won"],
        }
    )


# --------------------------------------------------------------------------- extracts


def customers_extract(cat: Catalog) -> dict:
    c = cat.customers
    return {k: c[k].to_numpy() for k in ("customer_id", "name", "segment", "channel")}


def sales_orders_extract(book: OrderBook, cat: Catalog, cal: Calendar) -> dict:
    ln = book.lines
    return {
        "order_id": ln.order_id.to_numpy(),
        "line": ln.line.to_numpy(),
        "customer_id": cat.customers.customer_id.to_numpy()[ln.cust_idx],
        "sku": cat.fg.sku.to_numpy()[ln.sku_idx],
        "order_date": cal.dates(ln.order_day),
        "requested_date": cal.dates(ln.requested_day),
        "promised_date": cal.dates(ln.promised_day),
        "qty": ln.qty.to_numpy(),
        "unit_price": ln.unit_price.to_numpy(),
        "status": ln.status.to_numpy(),
    }


def shipments_extract(book: OrderBook, cal: Calendar) -> dict:
    sh = book.shipments
    delivered = cal.dates(sh.delivered_day.clip(lower=0))
    delivered[sh.delivered_day.to_numpy() < 0] = np.datetime64("NaT")
    return {
        "order_id": sh.order_id.to_numpy(),
        "line": sh.line.to_numpy(),
        "ship_date": cal.dates(sh.ship_day),
        "delivered_date": delivered,
        "qty": sh.qty.to_numpy(),
    }


def opportunities_extract(book: OrderBook, cat: Catalog, cal: Calendar, seed: int) -> dict:
    """CRM deals. status_date: when a won/lost deal was closed (its expected date; empty while open);
    created_date: 2-26 weeks before the expected date, never after end_date (every deal is known)."""
    op = book.opportunities
    rng = rng_for(seed, "opportunity-dates")
    created = np.minimum(op.expected_day.to_numpy() - rng.integers(14, 183, len(op)), cal.n_days - 1)
    closed = op.status.to_numpy() != "open"
    status_date = cal.dates(op.expected_day)
    status_date[~closed] = np.datetime64("NaT")
    return {
        "opportunity_id": op.opportunity_id.to_numpy(),
        "customer_id": cat.customers.customer_id.to_numpy()[op.cust_idx],
        "sku_or_family": op.sku_or_family.to_numpy(),
        "expected_date": cal.dates(op.expected_day),
        "qty": op.qty.to_numpy(),
        "probability": op.probability.to_numpy(),
        "status": op.status.to_numpy(),
        "status_date": status_date,
        "created_date": cal.dates(created),
    }
