"""Suppliers, bill of materials, purchase orders and goods receipts.

Bought finished goods (replenishing the DCs) and components (for the make SKUs, via the BOM)
are ordered weekly or bi-weekly per supplier, for the need of the weeks after the quoted lead
time. Receipts: most arrive on time; a supplier-specific share arrives late (lead-time
variability) or short. One supplier *drifts*: from ``drift_start`` its actual lead time grows
linearly until the disruption date, and stays that much longer after it (quoted lead times do
not change, so its receipts get later and later against promise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import Calendar, Size, rng_for, round_money
from .items import COMPONENT_KINDS, Catalog
from .plant import Plant

# name, country, route, quoted lead time (days), late-delivery spread (days)
SUPPLIER_POOL = (
    ("Shenzhen Packaging Co", "CN", "sea-CN-US", 42, 8.0),
    ("Monterrey Foods SA", "MX", "truck-MX-US", 9, 3.0),
    ("Hamburg Ingredients GmbH", "DE", "sea-DE-US", 30, 6.0),
    ("Ontario Flavors Ltd", "CA", "truck-CA-US", 6, 2.0),
    ("Midwest Materials Inc", "US", "truck-US-US", 4, 1.5),
    ("Saigon Plastics JSC", "VN", "sea-VN-US", 48, 9.0),
    ("Milano Aromi SpA", "IT", "air-IT-US", 7, 2.0),
    ("Campinas Agro Ltda", "BR", "sea-BR-US", 35, 7.0),
)


@dataclass
class Purchasing:
    suppliers: pd.DataFrame  # supplier_id, name, country, route, lead, spread, ontime_p, short_p, terms_days
    bom: pd.DataFrame  # parent (fg idx), component (component idx), qty_per
    po_lines: pd.DataFrame  # po_id, line, sup_idx, item (row in the bought-item list), sku, order_day,
    #                         promised_day, qty, unit_cost, lead_actual (days)
    receipts: pd.DataFrame  # po_id, line, sup_idx, sku, receipt_day, qty, unit_cost
    drift: pd.DataFrame  # truth: supplier_id, drift_start, disruption_date, lead_time_days_before/after
    drift_days: tuple[int, int]  # (drift start, disruption) day indices


def make_suppliers(size: Size, seed: int) -> pd.DataFrame:
    """The first ``size.suppliers`` of the pool with their reliability (on-time and short-ship rates)."""
    rng = rng_for(seed, "suppliers")
    pool = SUPPLIER_POOL[: size.suppliers]
    n = len(pool)
    return pd.DataFrame(
        {
            "supplier_id": [f"SUP{i + 1:02d}" for i in range(n)],
            "name": [p[0] for p in pool],
            "country": [p[1] for p in pool],
            "route": [p[2] for p in pool],
            "lead": np.array([p[3] for p in pool]),
            "spread": np.array([p[4] for p in pool]),
            "ontime_p": rng.uniform(0.72, 0.97, n),
            "short_p": rng.uniform(0.02, 0.10, n),
            "terms_days": rng.choice([30, 45, 60], n),
            "cadence": rng.choice([1, 2], n, p=[0.6, 0.4]),
            "weekday": rng.integers(0, 5, n),
        }
    )


def make_bom(cat: Catalog, plant: Plant, seed: int) -> pd.DataFrame:
    """Each make SKU uses 1-4 components: packaging (1 per unit, cartons 1/12) and materials (kg sized to cost)."""
    rng = rng_for(seed, "bom")
    comp = cat.components
    kinds = comp.kind.to_numpy()
    rows = []
    n_comp = rng.integers(1, 5, len(plant.make))
    for p, k in zip(plant.make, n_comp):  # one draw per make SKU (not per POS row)
        for c in rng.choice(len(comp), k, replace=False):
            kind = COMPONENT_KINDS[kinds[c]]
            if kind[2] == "KG":
                qty = 0.35 * cat.fg.unit_cost[p] / comp.unit_cost[c] / k
                qty = float(np.clip(np.round(qty, 3), 0.005, 2.0))
            else:
                qty = round(1 / 12, 4) if kind[0] == "Carton" else 1.0
            rows.append((p, c, qty))
    bom = pd.DataFrame(rows, columns=["parent", "component", "qty_per"])
    return bom.sort_values(["parent", "component"], kind="stable").reset_index(drop=True)


def _drift_plan(sup: pd.DataFrame, cal: Calendar, rng: np.random.Generator) -> dict:
    """Pick the drifting supplier (quoted lead <= 30 days) and its dates/increase (days)."""
    cand = np.flatnonzero(sup.lead.to_numpy() <= 30)
    s = int(rng.choice(cand))
    disruption = cal.n_days - 1 - 7 * int(rng.integers(6, 11)) - int(rng.integers(2, 5))
    start = disruption - 7 * int(rng.integers(10, 13))
    increase = float(max(7, round(sup.lead[s] * rng.uniform(0.8, 1.2))))
    return {"sup": s, "start": start, "disruption": disruption, "increase": increase}


def component_need(cat: Catalog, bom: pd.DataFrame, demand_wk: np.ndarray) -> np.ndarray:
    """Units of each component used per week (components x weeks): the BOM explosion of demand."""
    need = np.zeros((len(cat.components), demand_wk.shape[1]))
    np.add.at(need, bom.component.to_numpy(), demand_wk[bom.parent.to_numpy()] * bom.qty_per.to_numpy()[:, None])
    return need


def _item_requirements(cat: Catalog, bom: pd.DataFrame, demand_wk: np.ndarray) -> tuple:
    """Items bought: sku, unit cost, order multiple (units) and weekly need (units/week over extended weeks),
    for bought FGs and the BOM explosion of make-SKU demand into components."""
    fg = cat.fg
    buy = np.flatnonzero(fg.make_or_buy.to_numpy() == "buy")
    comp_need = component_need(cat, bom, demand_wk)
    skus = np.concatenate([fg.sku.to_numpy()[buy], cat.components.sku.to_numpy()])
    cost = np.concatenate([fg.unit_cost.to_numpy()[buy], cat.components.unit_cost.to_numpy()])
    pack = np.concatenate([np.full(len(buy), 10.0), np.where(cat.components.uom.to_numpy() == "KG", 25.0, 100.0)])
    need = np.concatenate([demand_wk[buy], comp_need])
    used = need.sum(axis=1) > 0
    return skus[used], cost[used], pack[used], need[used]


def make_purchasing(
    cat: Catalog, plant: Plant, demand_wk: np.ndarray, cal: Calendar, size: Size, seed: int
) -> Purchasing:
    """Suppliers, BOM, PO lines and receipts (with the drifting supplier)."""
    rng = rng_for(seed, "purchasing")
    sup = make_suppliers(size, seed)
    bom = make_bom(cat, plant, seed)
    drift = _drift_plan(sup, cal, rng)
    skus, cost, pack, need = _item_requirements(cat, bom, demand_wk)
    n_items = len(skus)
    sup_of = np.concatenate([np.arange(len(sup)), rng.integers(0, len(sup), max(0, n_items - len(sup)))])[:n_items]
    sup_of = rng.permutation(sup_of)
    move = rng.random(n_items) < 0.12  # make sure the drifting supplier matters
    sup_of[move] = drift["sup"]
    lines = _po_lines(sup, sup_of, skus, cost, pack, need, cal, rng)
    lines, receipts = _receive(lines, sup, drift, cal, rng)
    truth = _drift_truth(lines, sup, drift, cal)
    return Purchasing(
        suppliers=sup,
        bom=bom,
        po_lines=lines,
        receipts=receipts,
        drift=truth,
        drift_days=(drift["start"], drift["disruption"]),
    )


def _po_lines(
    sup: pd.DataFrame, sup_of: np.ndarray, skus, cost, pack, need, cal: Calendar, rng: np.random.Generator
) -> pd.DataFrame:
    """PO lines: each item every 1-2 of its supplier's order weeks, for the need after the quoted lead time."""
    W = cal.weeks
    cs = np.concatenate([np.zeros((len(skus), 1)), np.cumsum(need, axis=1)], axis=1)
    every = rng.choice([1, 2], len(skus))
    phase = rng.integers(0, 2, len(skus)) % every
    cad = sup.cadence.to_numpy()[sup_of]
    span = cad * every  # weeks covered by one line
    lead_wk = np.ceil(sup.lead.to_numpy()[sup_of] / 7).astype(np.int64)
    i, w = np.meshgrid(np.arange(len(skus)), np.arange(W), indexing="ij")
    sel = (w % cad[:, None] == 0) & ((w // cad[:, None]) % every[:, None] == phase[:, None])
    i, w = i[sel], w[sel]
    a = np.minimum(w + lead_wk[i], cs.shape[1] - 1)
    b = np.minimum(a + span[i], cs.shape[1] - 1)
    qty = (cs[i, b] - cs[i, a]) * rng.uniform(0.9, 1.15, len(i))
    keep = qty > 0.2 * pack[i]
    i, w, qty = i[keep], w[keep], np.ceil(qty[keep] / pack[i[keep]]) * pack[i[keep]]
    s = sup_of[i]
    order_day = 7 * w + sup.weekday.to_numpy()[s]
    lines = pd.DataFrame(
        {
            "sup_idx": s,
            "item": i,
            "sku": skus[i],
            "order_day": order_day,
            "promised_day": order_day + sup.lead.to_numpy()[s] + rng.integers(0, 3, len(i)),
            "qty": qty,
            "unit_cost": round_money(cost[i] * rng.uniform(0.97, 1.03, len(i))),
        }
    )
    lines = lines[lines.order_day < cal.n_days].sort_values(["order_day", "sup_idx", "item"], kind="stable")
    lines = lines.reset_index(drop=True)
    new_po = (lines[["order_day", "sup_idx"]].diff().abs().sum(axis=1) != 0).to_numpy().copy()
    new_po[:1] = True
    po_no = np.cumsum(new_po)
    lines["po_id"] = [f"PO{i:06d}" for i in po_no]
    lines["line"] = lines.groupby(po_no).cumcount().to_numpy() + 1
    return lines


def _receive(
    lines: pd.DataFrame, sup: pd.DataFrame, drift: dict, cal: Calendar, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Actual lead = quoted - 0..2 days, + a late spell for (1 - on-time) of lines, + drift; short receipts."""
    n, end = len(lines), cal.n_days - 1
    s = lines.sup_idx.to_numpy()
    late = rng.random(n) > sup.ontime_p.to_numpy()[s]
    extra = np.where(late, np.abs(rng.normal(0, sup.spread.to_numpy()[s], n)) + 1, 0.0)
    t = lines.order_day.to_numpy()
    ramp = np.clip((t - drift["start"]) / (drift["disruption"] - drift["start"]), 0, 1)
    drift_days = np.where(s == drift["sup"], drift["increase"] * ramp, 0.0)
    lead = np.maximum(np.round(sup.lead.to_numpy()[s] - rng.uniform(0, 2, n) + extra + drift_days), 1).astype(int)
    lines["lead_actual"] = lead
    recv = t + lead
    qty = lines.qty.to_numpy()
    short = rng.random(n) < sup.short_p.to_numpy()[s]
    q1 = np.where(short, np.floor(qty * rng.uniform(0.6, 0.95, n)), qty)
    recv2 = recv + rng.integers(5, 21, n)
    second = short & (rng.random(n) < 0.5) & (recv2 <= end)
    cols = ["po_id", "line", "sup_idx", "sku", "unit_cost"]
    first = recv <= end
    r1 = lines.loc[first, cols].assign(receipt_day=recv[first], qty=q1[first])
    two = first & second
    r2 = lines.loc[two, cols].assign(receipt_day=recv2[two], qty=(qty - q1)[two])
    receipts = pd.concat([r1, r2]).sort_values(["receipt_day", "po_id", "line"], kind="stable")
    return lines, receipts.reset_index(drop=True)


def _drift_truth(lines: pd.DataFrame, sup: pd.DataFrame, drift: dict, cal: Calendar) -> pd.DataFrame:
    """Lead time (days, order -> first receipt) before drift start (realised mean of the prior 26 weeks)
    and after the disruption (that + the drift increase)."""
    s = drift["sup"]
    t = lines.order_day.to_numpy()
    before = lines[(lines.sup_idx == s) & (t < drift["start"]) & (t >= drift["start"] - 182)].lead_actual.mean()
    return pd.DataFrame(
        {
            "supplier_id": [sup.supplier_id[s]],
            "drift_start": [cal.dates(drift["start"])],
            "disruption_date": [cal.dates(drift["disruption"])],
            "lead_time_days_before": [round(float(before), 1)],
            "lead_time_days_after": [round(float(before) + drift["increase"], 1)],
        }
    )


def suppliers_extract(pur: Purchasing) -> dict:
    s = pur.suppliers
    return {c: s[c].to_numpy() for c in ("supplier_id", "name", "country", "route")}


MULTIPACK_UNITS = 4.0  # singles per multipack in the demo's 3-level BOM
CHANGE_AFTER_DAYS = 22  # the demo's engineering change: Monday of horizon week 4 (the as-of is a Sunday)


def bom_roles(pur: Purchasing, cat: Catalog) -> tuple[int, int, int] | None:
    """FG indices of the BOM's multipack, the single inside it and the SKU with the engineering change
    (``bom_extract``); None when fewer than three made SKUs have a BOM."""
    parents = sorted(set(int(p) for p in pur.bom.parent))
    if len(parents) < 3:
        return None
    desc = cat.fg.description.to_numpy()
    family = cat.fg.family.to_numpy()
    multi = [p for p in parents if any(w in str(desc[p]) for w in ("Multipack", "Family Pack", "6x"))] or parents
    pack = multi[0]
    single = next((p for p in parents if p != pack and family[p] == family[pack]), None)
    single = single if single is not None else next(p for p in parents if p != pack)
    changed = next(p for p in parents if p not in (pack, single))
    return pack, single, changed


def bom_extract(pur: Purchasing, cat: Catalog, cal: Calendar) -> dict:
    """The BOM the purchasing simulation used (undated), plus three things every MRP path needs:

    * a **multipack**: the first made SKU sold in a multipack size contains ``MULTIPACK_UNITS`` of
      another made SKU of its family (multipack -> single -> packaging and materials: 3 levels). The
      purchase orders were simulated without this dependent demand, so MRP finds the single's
      components short, and those needed in the first horizon weeks cannot arrive in time (late);
    * an **engineering change** on another made SKU: its first component (version A) is replaced
      from the Monday of horizon week 4 by a component bought from the longest-lead supplier
      (version B);
    * a **retired row** (version 0) of that SKU that ended half a year before the as-of.
    """
    b = pur.bom
    fg, comp = cat.fg.sku.to_numpy(), cat.components.sku.to_numpy()
    nat = np.datetime64("NaT", "D")
    rows = [(fg[p], comp[c], float(q), nat, nat, None) for p, c, q in zip(b.parent, b.component, b.qty_per)]
    as_of = np.datetime64(cal.end, "D")
    roles = bom_roles(pur, cat)
    if roles is not None:
        pack, single, changed = roles
        rows.append((fg[pack], fg[single], MULTIPACK_UNITS, nat, nat, None))
        own = set(int(c) for c in b.component[b.parent == changed])
        first = min(own)
        lead_of = pur.suppliers.lead.to_numpy()
        bought = pur.po_lines.groupby("sku", sort=True).sup_idx.last()
        comp_idx = {s: i for i, s in enumerate(comp)}
        longest = sorted(
            (-int(lead_of[s]), comp_idx[sku])
            for sku, s in bought.items()
            if sku in comp_idx and comp_idx[sku] not in own
        )
        if longest:
            new = longest[0][1]
            switch = as_of + np.timedelta64(CHANGE_AFTER_DAYS, "D")
            rows = [
                (r[0], r[1], r[2], r[3], switch - np.timedelta64(1, "D"), "A")
                if (r[0], r[1]) == (fg[changed], comp[first])
                else r
                for r in rows
            ]
            qty = float(b.qty_per[(b.parent == changed) & (b.component == first)].iloc[0])
            rows.append((fg[changed], comp[new], qty, switch, nat, "B"))
            retired = next((c for _, c in longest[1:] if c != new), None)
            if retired is not None:
                rows.append(
                    (
                        fg[changed],
                        comp[retired],
                        qty,
                        as_of - np.timedelta64(400, "D"),
                        as_of - np.timedelta64(180, "D"),
                        "0",
                    )
                )
    out = pd.DataFrame(rows, columns=["parent_sku", "component_sku", "qty_per", "effective_from", "effective_to", "v"])
    out = out.sort_values(["parent_sku", "component_sku", "effective_from"], kind="stable", na_position="first")
    return {
        "parent_sku": out.parent_sku.to_numpy(),
        "component_sku": out.component_sku.to_numpy(),
        "qty_per": out.qty_per.to_numpy(),
        "effective_from": out.effective_from.to_numpy().astype("datetime64[D]"),
        "effective_to": out.effective_to.to_numpy().astype("datetime64[D]"),
        "bom_version": out.v.to_numpy(),
    }


def purchase_orders_extract(pur: Purchasing, cal: Calendar) -> dict:
    p = pur.po_lines
    return {
        "po_id": p.po_id.to_numpy(),
        "line": p.line.to_numpy(),
        "supplier_id": pur.suppliers.supplier_id.to_numpy()[p.sup_idx],
        "sku": p.sku.to_numpy(),
        "order_date": cal.dates(p.order_day),
        "promised_date": cal.dates(p.promised_day),
        "qty": p.qty.to_numpy(),
        "unit_cost": p.unit_cost.to_numpy(),
    }


def receipts_extract(pur: Purchasing, cal: Calendar) -> dict:
    r = pur.receipts
    return {
        "po_id": r.po_id.to_numpy(),
        "line": r.line.to_numpy(),
        "receipt_date": cal.dates(r.receipt_day),
        "qty": r.qty.to_numpy(),
    }
