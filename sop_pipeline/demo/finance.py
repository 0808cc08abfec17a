"""Receivables, payables, expedites, risk events and the decision log.

AR: one invoice per shipment (order x ship date), due after the customer's terms (30/45/60
days), paid around the due date plus the customer's habitual delay (DSO ~40-60 days). AP: one
invoice per receipt, paid near the supplier's terms (DPO ~30-60 days). Open items have an empty
paid_date. Money in currency units, rounded to cents.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import Calendar, rng_for, round_money
from .demand import Anomalies
from .items import FAMILIES, Catalog
from .orders import OrderBook
from .plant import Production
from . import procurement
from .procurement import Purchasing

ACCOUNTABLE = "Ops leader + Commercial leader"


def _paid(doc_day: np.ndarray, due_day: np.ndarray, delay: np.ndarray, cal: Calendar) -> np.ndarray:
    """Paid dates (NaT when still open at end_date)."""
    paid = np.maximum(due_day + np.round(delay).astype(np.int64), doc_day + 1)
    out = cal.dates(paid)
    out[paid > cal.n_days - 1] = np.datetime64("NaT")
    return out


def ar_items(book: OrderBook, cat: Catalog, cal: Calendar, seed: int) -> dict:
    """Customer invoices from shipments."""
    rng = rng_for(seed, "ar")
    sh = book.shipments.assign(amount=book.shipments.qty * book.shipments.unit_price)
    inv = (
        sh.groupby(["ship_day", "order_id"], sort=True)
        .agg(cust_idx=("cust_idx", "first"), amount=("amount", "sum"))
        .reset_index()
    )
    cust = cat.customers
    doc = inv.ship_day.to_numpy()
    c = inv.cust_idx.to_numpy()
    due = doc + cust.terms_days.to_numpy()[c]
    delay = rng.normal(cust.pay_delay_mean.to_numpy()[c], 4.0)
    return {
        "doc_id": np.array([f"INV{i + 1:07d}" for i in range(len(inv))]),
        "party_id": cust.customer_id.to_numpy()[c],
        "doc_date": cal.dates(doc),
        "due_date": cal.dates(due),
        "amount": round_money(inv.amount),
        "paid_date": _paid(doc, due, delay, cal),
    }


def ap_items(pur: Purchasing, cal: Calendar, seed: int) -> dict:
    """Supplier invoices from receipts (invoiced 0-3 days after receipt)."""
    rng = rng_for(seed, "ap")
    r = pur.receipts
    doc = r.receipt_day.to_numpy() + rng.integers(0, 4, len(r))
    keep = doc <= cal.n_days - 1
    r, doc = r[keep], doc[keep]
    s = r.sup_idx.to_numpy()
    due = doc + pur.suppliers.terms_days.to_numpy()[s]
    return {
        "doc_id": np.array([f"BILL{i + 1:07d}" for i in range(len(r))]),
        "party_id": pur.suppliers.supplier_id.to_numpy()[s],
        "doc_date": cal.dates(doc),
        "due_date": cal.dates(due),
        "amount": round_money(r.qty * r.unit_cost),
        "paid_date": _paid(doc, due, rng.normal(-1.0, 3.0, len(r)), cal),
    }


def expedites(
    book: OrderBook, pur: Purchasing, prod: Production, anomalies: Anomalies, cat: Catalog, cal: Calendar, seed: int
) -> pd.DataFrame:
    """Expedite events: late supplier receipts (air freight), stockout recovery, customer rush orders,
    and overtime after long M1 breakdowns. Rises with the supplier drift. Cost in currency."""
    rng = rng_for(seed, "expedites")
    parts = []
    pl = pur.po_lines
    late_days = pl.lead_actual.to_numpy() - (pl.promised_day - pl.order_day).to_numpy()
    lp = pl[(late_days >= 4) & (rng.random(len(pl)) < 0.3) & (pl.promised_day.to_numpy() < cal.n_days)]
    parts.append(
        pd.DataFrame(
            {
                "day": lp.promised_day.to_numpy(),
                "sku": lp.sku.to_numpy(),
                "order_id": lp.po_id.to_numpy(),
                "reason": "Late supplier delivery",
                "cost": rng.uniform(300, 3000, len(lp)),
            }
        )
    )
    so = anomalies.stockouts
    parts.append(
        pd.DataFrame(
            {
                "day": so.start_day.to_numpy() + 1,
                "sku": cat.fg.sku.to_numpy()[so.sku_idx],
                "order_id": None,
                "reason": "Stockout recovery",
                "cost": rng.uniform(200, 1500, len(so)),
            }
        )
    )
    ln = book.lines
    rush = ln[(rng.random(len(ln)) < 0.003) & (ln.status != "cancelled")]
    parts.append(
        pd.DataFrame(
            {
                "day": rush.order_day.to_numpy() + 1,
                "sku": cat.fg.sku.to_numpy()[rush.sku_idx],
                "order_id": rush.order_id.to_numpy(),
                "reason": "Customer rush order",
                "cost": rng.uniform(150, 1500, len(rush)),
            }
        )
    )
    dt = prod.downtime
    long_m1 = dt[(dt.resource_id == "M1") & ~dt.planned & dt.first_segment & (dt.event_hours >= 3)]
    day = cal.day_index(long_m1.start.to_numpy().astype("datetime64[D]"))
    parts.append(
        pd.DataFrame(
            {
                "day": day,
                "sku": None,
                "order_id": None,
                "reason": "Machine breakdown overtime",
                "cost": rng.uniform(500, 2500, len(long_m1)),
            }
        )
    )
    ex = pd.concat([p for p in parts if len(p)], ignore_index=True)
    ex = ex[ex.day <= cal.n_days - 1].sort_values(["day", "reason"], kind="stable").reset_index(drop=True)
    ex["approved"] = np.where(rng.random(len(ex)) < 0.8, "yes", "no")
    ex["cost"] = np.round(ex.cost.to_numpy(), -1)
    ex["expedite_id"] = [f"EX{i + 1:05d}" for i in range(len(ex))]
    return ex


def expedites_extract(ex: pd.DataFrame, cal: Calendar) -> dict:
    return {
        "expedite_id": ex.expedite_id.to_numpy(),
        "date": cal.dates(ex.day),
        "sku": ex.sku.to_numpy(),
        "order_id": ex.order_id.to_numpy(),
        "reason": ex.reason.to_numpy(),
        "cost": ex.cost.to_numpy(),
        "approved": ex.approved.to_numpy(),
    }


def risk_events(pur: Purchasing, cal: Calendar, seed: int) -> dict:
    """Known risks: the drifting supplier's disruption, route alerts, an M1 wear alarm, a supplier watch."""
    rng = rng_for(seed, "risk")
    sup = pur.suppliers
    d_start, d_day = pur.drift_days
    drift_sup = pur.drift.supplier_id[0]
    drift_name = sup.name[sup.supplier_id == drift_sup].iloc[0]
    D = cal.n_days
    routes = sup.route.to_numpy()
    rows = [
        (d_day, "supplier", drift_sup, f"{drift_name}: capacity cut after plant outage; lead times up"),
        (int(rng.integers(120, D - 300)), "route", routes[0], "Port congestion: dwell time up 6 days"),
        (int(rng.integers(D - 300, D - 120)), "route", routes[1 % len(routes)], "Border crossing delays"),
        (int(rng.integers(D - 100, D - 60)), "route", routes[0], "Carrier blank sailings announced"),
        (D - 1 - int(rng.integers(5, 25)), "asset", "M1", "M1 gearbox vibration above alarm limit"),
        (int(rng.integers(200, D - 400)), "asset", "M2", "M2 control software end of support"),
        (int(rng.integers(D - 200, D - 30)), "supplier", sup.supplier_id.iloc[-1], "Supplier on credit watch"),
    ]
    rows.sort(key=lambda r: (r[0], r[2]))
    return {
        "event_id": np.array([f"RE{i + 1:03d}" for i in range(len(rows))]),
        "date": cal.dates([r[0] for r in rows]),
        "kind": np.array([r[1] for r in rows]),
        "entity_id": np.array([r[2] for r in rows]),
        "description": np.array([r[3] for r in rows]),
    }


def _pull_in(cat: Catalog, pur: Purchasing | None, cal: Calendar) -> tuple | None:
    """The last cycle's approved expedite that lands in the coming horizon, so the plan's expedite
    path (a receipt pulled in, its cost in the SKU-week's expedite_cost and net margin) fires on the
    demo: the open purchase-order line of a bought finished good, ordered before the meeting that
    decided it (two days after that cycle's Sunday), promised in horizon weeks 2-6, with the largest
    quantity, pulled into week 1 ("<cost> by <week 1 Monday>"), at a freight premium of 15% of the
    line's value (at least 250). No random draw: the other rows are unchanged."""
    if pur is None:
        return None
    bought = set(cat.fg.sku[cat.fg.make_or_buy == "buy"])
    week1 = cal.n_days  # the Monday after end_date
    decided = cal.n_days - 1 - 28 + 2  # the last monthly cycle's meeting (see `decisions`)
    pl = pur.po_lines
    due = pl[
        pl.sku.isin(bought)
        & (pl.order_day <= decided)  # an order that existed when the meeting pulled it in
        & (pl.promised_day >= week1 + 7)
        & (pl.promised_day < week1 + 42)
    ]
    if due.empty:
        return None
    line = due.sort_values(["qty", "po_id", "line"], ascending=[False, True, True], kind="stable").iloc[0]
    cost = max(250.0, round(0.15 * float(line.qty) * float(line.unit_cost), -1))
    return f"{line.po_id}/{int(line.line)}", f"{cost:.0f} by {cal.dates(week1)}"


def _outsourceable(active: pd.DataFrame, cat: Catalog, pur: Purchasing | None) -> np.ndarray:
    """SKUs a make-vs-buy decision may hand to a co-packer: a long-tail made item (scale at most the
    made items' median: fewer setups, not one of the plant's big runners), not the seasonal line and
    none of the BOM's multipack, its single or the engineering change (their stories need them made)."""
    made = active[(active.make_or_buy == "make") & (active.season_open < 0)]
    keep = made.scale.to_numpy() <= np.median(made.scale)
    roles = procurement.bom_roles(pur, cat) if pur is not None else None
    if roles is not None:
        keep &= ~made.index.isin(list(roles))
    return made.sku.to_numpy()[keep]


def decisions(cat: Catalog, ex: pd.DataFrame, cal: Calendar, seed: int, pur: Purchasing | None = None) -> dict:
    """Decision log of the last six monthly cycles (cycle = every 4th Sunday before end_date), and
    at the last one an approved expedite of an open order into the coming horizon (``_pull_in``)."""
    rng = rng_for(seed, "decisions")
    fg = cat.fg
    active = fg[fg.lifecycle == "active"]
    makes = _outsourceable(active, cat, pur)  # the same every cycle
    rows = []
    for k in range(6, 0, -1):
        cycle = cal.n_days - 1 - 28 * k
        c_date = cal.dates(cycle)
        decided = (c_date + 2).astype("datetime64[s]") + np.timedelta64(10 * 3600 + int(rng.integers(0, 240)) * 60, "s")
        fam_rows = active[active.fam == int(rng.integers(0, len(FAMILIES)))]
        pair = fam_rows.sku.to_numpy()[:2] if len(fam_rows) >= 2 else active.sku.to_numpy()[:2]
        near = ex[(ex.day > cycle - 28) & (ex.day <= cycle)]
        options = [
            ("freeze_window", "P1", str(int(rng.choice([2, 3, 4, 6]))), "Master scheduler"),
            ("substitution", f"{pair[0]}->{pair[1]}", f"through {c_date + 42}", "Demand planner"),
            ("make_vs_buy", str(rng.choice(makes)), "buy", "Master scheduler"),
            ("service_target", "A", str(rng.choice(["0.97", "0.98", "0.99"])), "Demand planner"),
            (
                "service_target",
                str(rng.choice([f[0] for f in FAMILIES])),
                str(rng.choice(["0.95", "0.96"])),
                "Demand planner",
            ),
        ]
        if len(near):
            e = near.iloc[int(rng.integers(0, len(near)))]
            options.append(("expedite", e.expedite_id, f"{e.cost:.0f}", "Master scheduler", e.approved))
        chosen = np.sort(rng.choice(len(options), int(rng.integers(2, 5)), replace=False))
        for j in chosen:
            kind, subject, value, responsible, *fixed = options[j]
            approved = fixed[0] if fixed else ("yes" if rng.random() < 0.75 else "no")
            rows.append((c_date, kind, subject, value, approved, responsible, decided))
    pull_in = _pull_in(cat, pur, cal)
    if pull_in is not None:
        last = cal.dates(cal.n_days - 1 - 28)
        at = (last + 2).astype("datetime64[s]") + np.timedelta64(11 * 3600, "s")
        rows.append((last, "expedite", *pull_in, "yes", "Master scheduler", at))
    df = pd.DataFrame(rows, columns=["cycle", "kind", "subject", "value", "approved", "responsible", "decided_at"])
    df = df.drop_duplicates(["cycle", "kind", "subject"]).reset_index(drop=True)
    ym = pd.Series(np.datetime_as_string(df.cycle.to_numpy().astype("datetime64[M]")))
    seq = ym.groupby(ym).cumcount().to_numpy() + 1
    return {
        "decision_id": np.array([f"D-{m}-{s:03d}" for m, s in zip(ym, seq)]),
        "cycle": df.cycle.to_numpy(),
        "kind": df.kind.to_numpy(),
        "subject": df.subject.to_numpy(),
        "value": df.value.to_numpy(),
        "approved": df.approved.to_numpy(),
        "accountable": ACCOUNTABLE,
        "responsible": df.responsible.to_numpy(),
        "decided_at": df.decided_at.to_numpy(),
    }
