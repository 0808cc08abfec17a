"""Material requirements planning: the plan of record's make quantities exploded through the
bill of materials into time-phased component requirements, netted against stock and open
purchase orders, and planned purchase requirements per supplier and week. Pure pandas, no Dagster.

The rules (what a supply planner expects from an MRP run, on weekly buckets):

* **BOM validity.** A BOM row is in force on day ``d`` when ``effective_from <= d <= effective_to``
  (both inclusive, an empty bound is open). The day checked is the day the component is needed
  (the parent's production start), so an engineering change dated inside the horizon switches
  versions at its date, and the version in force at the as-of is the one used for week 1. Rows
  that ended before the as-of are never used. ``bom_problems`` finds the rows ingest quarantines:
  cycles (an item that contains itself through any path), a window that ends before it starts,
  and duplicates (same parent and component with overlapping windows); a zero or negative
  ``qty_per`` and an unknown component are quarantined by the extract's suite (contract).
* **Levels.** Items are processed by low-level code (the deepest level an item appears at in
  any BOM), so an item used at several levels is netted once with all its gross requirements.
* **Level 0.** The plan of record's ``make_units`` (the master production schedule) of SKU ``p``
  in week ``w`` start production in week ``w - floor(L_p)`` (``L_p`` = the SKU's production lead
  time in weeks; under a week, the components are needed on the Monday of the make week) and
  need ``make_units * qty_per`` of each component then. A need before horizon week 1 is due in
  week 1.
* **Netting** per component and week ``t`` (1..13): projected(t) = projected(t-1) + scheduled
  receipts(t) + planned receipts(t) - gross(t), projected(0) = usable on hand. A planned receipt
  covers what would go negative, raised to the minimum order quantity and rounded up to the
  order multiple when the item master has them (optional ``min_order_qty`` / ``order_multiple``).
  Scheduled receipts are open purchase-order lines at their promised week (overdue ones in week 1).
* **Made components** (sub-assemblies) are netted the same way against their own stock; their
  planned receipts start production ``floor(L)`` weeks earlier and explode to the next level. A
  made component that is itself in the plan of record (it has independent demand too) is not
  netted: its stock and open orders already serve the plan, so its whole dependent requirement is
  made and exploded.
* **Purchase requirements.** A bought component's planned receipt is needed on the Monday of its
  week; the order must be released ``lead time`` days earlier (the supplier's recent observed lead
  time). ``late`` when that release date is before the as-of: even ordered today it arrives after
  it is needed (``earliest_arrival_date`` = as-of + lead time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from sop_pipeline.analytics.calendar import Cycle, week_start
from sop_pipeline.analytics.columns import require_columns

BOM_COLUMNS = ["parent_sku", "component_sku", "qty_per"]
BOM_OPTIONAL = ["effective_from", "effective_to", "bom_version", "source_row"]
PROBLEM_COLUMNS = ["source_row", "rule", "column", "value", "reason"]
REQUIREMENT_COLUMNS = [
    "component_sku",
    "week_start",
    "horizon_week",
    "low_level_code",
    "make_or_buy",
    "parents",
    "bom_versions",
    "gross_units",
    "scheduled_receipts_units",
    "opening_on_hand_units",
    "projected_on_hand_units",
    "net_units",
    "planned_receipt_units",
    "planned_release_units",
    "planned_release_week_start",
    "netted",
]
PEGGING_COLUMNS = [
    "component_sku",
    "parent_sku",
    "need_week_start",
    "parent_week_start",
    "parent_units",
    "qty_per",
    "bom_version",
    "gross_units",
    "level",
]
PURCHASE_COLUMNS = [
    "supplier_id",
    "component_sku",
    "release_week_start",
    "release_date",
    "need_week_start",
    "qty",
    "lead_time_days",
    "lead_time_source",
    "earliest_arrival_date",
    "days_late",
    "late",
]
_EPS = 1e-9
RECENT_LINES = 6  # supplier lead time: median of this many latest received lines


class BomError(ValueError):
    """A BOM the explosion cannot use (a cycle that reached it, a missing column)."""


# --------------------------------------------------------------------------- BOM validation


def _bounds(bom: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    lo = pd.to_datetime(bom["effective_from"]) if "effective_from" in bom else pd.Series(pd.NaT, index=bom.index)
    hi = pd.to_datetime(bom["effective_to"]) if "effective_to" in bom else pd.Series(pd.NaT, index=bom.index)
    return lo, hi


def _sccs(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative), deterministic order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    nodes = sorted(set(edges) | {c for cs in edges.values() for c in cs})
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    item = stack.pop()
                    on_stack.discard(item)
                    comp.append(item)
                    if item == node:
                        break
                out.append(sorted(comp))
    return out


def _path(edges: dict[str, set[str]], start: str, goal: str, allowed: set[str]) -> list[str]:
    """Shortest path start -> goal inside `allowed` (BFS)."""
    prev = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        if node == goal:
            break
        for nxt in sorted(edges.get(node, ())):
            if nxt in allowed and nxt not in prev:
                prev[nxt] = node
                queue.append(nxt)
    if goal not in prev:
        return [start, goal]
    path, node = [], goal
    while node is not None:
        path.append(node)
        node = prev[node]
    return path[::-1]


def bom_problems(bom: pd.DataFrame) -> pd.DataFrame:
    """Rows of a BOM that must be quarantined, one row per (source_row, rule):
    ``source_row, rule, column, value, reason``.

    * ``range`` on effective_to: the window ends before it starts;
    * ``duplicate_key``: the same parent and component on rows whose effective windows overlap
      (every such row, naming the others);
    * ``bom_cycle``: the row's component contains its parent through the BOM (a self-reference or
      a loop A -> B -> ... -> A), checked on the rows left after the two rules above.
    ``bom`` needs parent_sku, component_sku and source_row (effective_from/effective_to optional).
    """
    require_columns(bom, ["parent_sku", "component_sku", "source_row"], "bill of materials")
    rows: list[tuple] = []
    b = bom.reset_index(drop=True)
    lo, hi = _bounds(b)
    backwards = lo.notna() & hi.notna() & (hi < lo)
    for i in np.flatnonzero(backwards.to_numpy()):
        rows.append(
            (
                int(b.source_row[i]),
                "range",
                "effective_to",
                str(hi[i].date()),
                f"'effective_to' is before 'effective_from' ({lo[i].date()}): the BOM row is never in force",
            )
        )
    ok = ~backwards
    lo_d = lo.fillna(pd.Timestamp("1900-01-01"))
    hi_d = hi.fillna(pd.Timestamp("2200-01-01"))
    dup = np.zeros(len(b), dtype=bool)
    keyed = b[ok].groupby(["parent_sku", "component_sku"], sort=True).groups
    for (parent, comp), idx in keyed.items():
        if len(idx) < 2:
            continue
        idx = sorted(idx, key=lambda i: int(b.source_row[i]))
        for i in idx:
            others = [
                j for j in idx if j != i and lo_d[i] <= hi_d[j] and lo_d[j] <= hi_d[i]
            ]  # windows overlap (inclusive)
            if others:
                dup[i] = True
                shown = ", ".join(str(int(b.source_row[j])) for j in others[:10])
                rows.append(
                    (
                        int(b.source_row[i]),
                        "duplicate_key",
                        "parent_sku,component_sku",
                        f"{parent}, {comp}",
                        f"duplicate: the same parent_sku and component_sku are in force on overlapping dates on "
                        f"row(s) {shown}; all quarantined",
                    )
                )
    left = b[ok.to_numpy() & ~dup]
    edges: dict[str, set[str]] = {}
    for p, c in zip(left.parent_sku.astype(str), left.component_sku.astype(str)):
        edges.setdefault(p, set()).add(c)
    scc_of: dict[str, int] = {}
    for k, comp in enumerate(_sccs(edges)):
        if len(comp) > 1:
            for item in comp:
                scc_of[item] = k
    members: dict[int, set[str]] = {}
    for item, k in scc_of.items():
        members.setdefault(k, set()).add(item)
    for r in left.itertuples():
        p, c = str(r.parent_sku), str(r.component_sku)
        if p == c:
            loop = [p, p]
        elif p in scc_of and scc_of.get(c) == scc_of[p]:
            loop = [p] + _path(edges, c, p, members[scc_of[p]])
        else:
            continue
        rows.append(
            (
                int(r.source_row),
                "bom_cycle",
                "component_sku",
                c,
                f"BOM cycle: {' -> '.join(loop)} (an item cannot contain itself); every row of the loop is quarantined",
            )
        )
    out = pd.DataFrame(rows, columns=PROBLEM_COLUMNS)
    return out.sort_values(["source_row", "rule"], kind="stable", ignore_index=True)


# --------------------------------------------------------------------------- explosion


def low_level_codes(bom: pd.DataFrame, roots=()) -> dict[str, int]:
    """Deepest level each item appears at (0 = never a component). Raises BomError on a cycle."""
    edges: dict[str, set[str]] = {}
    for p, c in zip(bom.parent_sku.astype(str), bom.component_sku.astype(str)):
        edges.setdefault(p, set()).add(c)
    cyclic = [c for c in _sccs(edges) if len(c) > 1] + [[p] for p, cs in edges.items() if p in cs]
    if cyclic:
        raise BomError(f"BOM cycle through {', '.join(cyclic[0])}: quarantine the rows (ingest does) and run again")
    items = sorted(set(edges) | {c for cs in edges.values() for c in cs} | {str(r) for r in roots})
    indeg = {i: 0 for i in items}
    for cs in edges.values():
        for c in cs:
            indeg[c] += 1
    level = {i: 0 for i in items}
    ready = sorted(i for i in items if indeg[i] == 0)
    while ready:
        node = ready.pop(0)
        for c in sorted(edges.get(node, ())):
            level[c] = max(level[c], level[node] + 1)
            indeg[c] -= 1
            if indeg[c] == 0:
                ready.append(c)
    return level


def effective_rows(bom: pd.DataFrame, day: date) -> pd.DataFrame:
    """BOM rows in force on `day` (effective_from <= day <= effective_to, empty bounds open)."""
    lo, hi = _bounds(bom)
    d = pd.Timestamp(day)
    return bom[(lo.isna() | (lo <= d)) & (hi.isna() | (d <= hi))]


def lead_offset_weeks(lead_weeks) -> int:
    """Whole weeks a production lead time moves the component need earlier (floor; NaN -> 0)."""
    try:
        value = float(lead_weeks)
    except (TypeError, ValueError):
        return 0
    return int(np.floor(value + _EPS)) if np.isfinite(value) and value > 0 else 0


def lot_size(net: float, moq: float | None, multiple: float | None) -> float:
    """Planned receipt for a net requirement: at least the MOQ, rounded up to the order multiple."""
    if net <= _EPS:
        return 0.0
    qty = max(net, moq or 0.0)
    if multiple and multiple > 0:
        qty = float(np.ceil(qty / multiple - _EPS) * multiple)
    return float(qty)


def supplier_sources(purchase_orders: pd.DataFrame, receipts: pd.DataFrame | None) -> pd.DataFrame:
    """Supplier and lead time per bought SKU: ``sku, supplier_id, lead_time_days, lead_time_source``.

    The supplier is the one on the SKU's latest PO line (order date, then PO and line). Its lead
    time is the median order -> first receipt days of its latest RECENT_LINES received lines of
    that SKU ('observed'), else the median promised - order days of its lines ('quoted')."""
    require_columns(purchase_orders, ["po_id", "line", "supplier_id", "sku", "order_date", "promised_date"], "POs")
    po = purchase_orders.copy()
    po["order_date"] = pd.to_datetime(po["order_date"])
    po["promised_date"] = pd.to_datetime(po["promised_date"])
    if receipts is not None and len(receipts):
        first = receipts.assign(receipt_date=pd.to_datetime(receipts["receipt_date"]))
        first = first.groupby(["po_id", "line"], as_index=False).receipt_date.min()
        po = po.merge(first, on=["po_id", "line"], how="left")
    else:
        po["receipt_date"] = pd.NaT
    po = po.sort_values(["sku", "order_date", "po_id", "line"], kind="stable")
    latest = po.groupby("sku", sort=True).tail(1)[["sku", "supplier_id"]].reset_index(drop=True)
    lines = po.merge(latest, on=["sku", "supplier_id"]).sort_values(  # the latest supplier's lines
        ["sku", "order_date", "po_id", "line"], kind="stable"
    )
    got = lines[lines.receipt_date.notna()].groupby("sku", sort=False).tail(RECENT_LINES)
    observed = (got.receipt_date - got.order_date).dt.days.groupby(got.sku).median()
    quoted = (lines.promised_date - lines.order_date).dt.days.groupby(lines.sku).median()
    out = latest.assign(lead_time_days=latest.sku.map(observed).astype(float), lead_time_source="observed")
    missing = out.lead_time_days.isna()
    out.loc[missing, "lead_time_days"] = out.loc[missing, "sku"].map(quoted).astype(float)
    out.loc[missing, "lead_time_source"] = "quoted"
    out.loc[out.lead_time_days.isna(), "lead_time_source"] = "none"
    return out[["sku", "supplier_id", "lead_time_days", "lead_time_source"]]


@dataclass
class MrpResult:
    requirements: pd.DataFrame  # REQUIREMENT_COLUMNS, one row per component x horizon week
    pegging: pd.DataFrame  # PEGGING_COLUMNS: which parent's release drives which gross requirement
    purchases: pd.DataFrame  # PURCHASE_COLUMNS: planned purchase orders per supplier and week
    unexploded: pd.DataFrame  # plan make rows whose SKU has no BOM in force: sku, week_start, make_units


_DATES = {
    "week_start",
    "planned_release_week_start",
    "need_week_start",
    "parent_week_start",
    "release_week_start",
    "release_date",
    "earliest_arrival_date",
}
_TEXT = {"component_sku", "parent_sku", "make_or_buy", "parents", "bom_versions", "bom_version", "supplier_id"}
_TEXT |= {"lead_time_source", "sku"}
_INTS = {"horizon_week", "low_level_code", "level", "days_late"}
_BOOLS = {"netted", "late"}


def _frame(rows, columns) -> pd.DataFrame:
    """A frame with stable column types (dates as datetime64[us], text as object, numbers as float),
    so an all-empty column is still written with its type."""
    out = pd.DataFrame(rows, columns=columns)
    for c in columns:
        if c in _DATES:
            out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
        elif c in _TEXT:
            out[c] = out[c].astype(object).where(out[c].notna(), None)
        elif c in _INTS:
            out[c] = out[c].astype("int64")
        elif c in _BOOLS:
            out[c] = out[c].astype(bool)
        else:
            out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    return out


def explode(
    plan: pd.DataFrame,
    bom: pd.DataFrame,
    calendar: Cycle,
    *,
    make_or_buy: pd.Series,
    lead_time_weeks: pd.Series | None = None,
    on_hand: pd.Series | None = None,
    scheduled: pd.DataFrame | None = None,
    suppliers: pd.DataFrame | None = None,
    lot_sizes: pd.DataFrame | None = None,
) -> MrpResult:
    """Run MRP for one cycle.

    plan: ``sku, week_start, make_units`` (the plan of record's MPS); bom: parent_sku,
    component_sku, qty_per (+ effective_from, effective_to, bom_version); make_or_buy: sku ->
    'make'/'buy' (after decisions); lead_time_weeks: sku -> production lead time of made items;
    on_hand: sku -> usable units; scheduled: open PO receipts ``sku, week_start, units``;
    suppliers: ``supplier_sources`` output; lot_sizes: ``sku, min_order_qty, order_multiple``.
    """
    require_columns(plan, ["sku", "week_start", "make_units"], "plan of record")
    require_columns(bom, BOM_COLUMNS, "bill of materials", optional=BOM_OPTIONAL)
    weeks = [pd.Timestamp(w) for w in calendar.horizon()]
    week_pos = {w: k for k, w in enumerate(weeks)}
    n = len(weeks)
    as_of = pd.Timestamp(calendar.as_of)
    b = bom.copy()
    b["parent_sku"] = b.parent_sku.astype(str)
    b["component_sku"] = b.component_sku.astype(str)
    if "bom_version" not in b:
        b["bom_version"] = None
    lo, hi = _bounds(b)
    b = b[hi.isna() | (hi >= as_of)]  # ended before the as-of: never used
    lead = lead_time_weeks if lead_time_weeks is not None else pd.Series(dtype=float)
    stock = on_hand if on_hand is not None else pd.Series(dtype=float)
    sched_by: dict[str, np.ndarray] = {}
    if scheduled is not None and len(scheduled):
        s = scheduled.assign(week_start=pd.to_datetime(scheduled.week_start))
        for sku, w, u in zip(s.sku.astype(str), s.week_start, s.units.astype(float)):
            if w in week_pos:
                sched_by.setdefault(sku, np.zeros(n))[week_pos[w]] += u
    lots = {}
    if lot_sizes is not None and len(lot_sizes):
        for r in lot_sizes.itertuples():
            moq = pd.to_numeric(getattr(r, "min_order_qty", np.nan), errors="coerce")
            mult = pd.to_numeric(getattr(r, "order_multiple", np.nan), errors="coerce")
            lots[str(r.sku)] = (None if pd.isna(moq) else float(moq), None if pd.isna(mult) else float(mult))
    plan_skus = set(plan.sku.astype(str))
    mps = plan[pd.to_numeric(plan.make_units, errors="coerce").fillna(0) > _EPS].copy()
    mps["sku"] = mps.sku.astype(str)
    mps["week_start"] = pd.to_datetime(mps.week_start)
    levels = low_level_codes(b, roots=mps.sku.unique())
    rows_by_week = [effective_rows(b, w) for w in weeks]
    children_by_week = [
        {
            p: [
                (str(c), float(q), None if pd.isna(v) else str(v))
                for c, q, v in zip(g.component_sku, g.qty_per, g.bom_version)
            ]
            for p, g in rows.groupby("parent_sku", sort=True)
        }
        for rows in rows_by_week
    ]

    releases: dict[str, np.ndarray] = {}  # item -> units starting production / needed per week (make)
    origin: dict[str, list] = {}  # item -> [(week index, units, parent week)] for pegging of level 0
    unexploded = []
    for r in mps.sort_values(["sku", "week_start"], kind="stable").itertuples():
        if r.week_start not in week_pos:
            continue
        k = max(week_pos[r.week_start] - lead_offset_weeks(lead.get(r.sku)), 0)
        if r.sku not in children_by_week[k]:
            unexploded.append((r.sku, r.week_start, float(r.make_units)))
            continue
        releases.setdefault(r.sku, np.zeros(n))[k] += float(r.make_units)
        origin.setdefault(r.sku, []).append((k, float(r.make_units), r.week_start))

    gross: dict[str, np.ndarray] = {}
    parents_of: dict[tuple[str, int], set] = {}
    versions_of: dict[tuple[str, int], set] = {}
    pegging, requirements, purchases = [], [], []
    sup = (
        {
            str(k): (s_id, float(d), str(src))
            for k, s_id, d, src in zip(
                suppliers.sku, suppliers.supplier_id, suppliers.lead_time_days, suppliers.lead_time_source
            )
            if pd.notna(d)
        }
        if suppliers is not None and len(suppliers)
        else {}
    )
    for item in sorted(levels, key=lambda i: (levels[i], i)):
        g = gross.get(item)
        if g is not None:  # net this component (it has dependent demand)
            source = str(make_or_buy.get(item, "buy"))
            netted = not (source == "make" and item in plan_skus)
            opening = float(stock.get(item, 0.0) or 0.0) if netted else 0.0
            sr = sched_by.get(item, np.zeros(n)) if netted else np.zeros(n)
            moq, mult = lots.get(item, (None, None))
            proj, planned, net = opening, np.zeros(n), np.zeros(n)
            for t in range(n):
                avail = proj + sr[t] - g[t]
                if avail < -_EPS:
                    net[t] = -avail
                    planned[t] = lot_size(-avail, moq, mult)
                    avail += planned[t]
                proj = max(avail, 0.0) if abs(avail) < 1e-6 else avail
                offset = lead_offset_weeks(lead.get(item)) if source == "make" else 0
                rel_k = max(t - offset, 0)
                order = (
                    _purchase(item, weeks[t], planned[t], sup, as_of) if source == "buy" and planned[t] > _EPS else None
                )
                release_week = weeks[rel_k] if source == "make" else (order[2] if order else None)
                requirements.append(
                    [
                        item,
                        weeks[t],
                        t + 1,
                        levels[item],
                        source,
                        ", ".join(sorted(parents_of.get((item, t), ()))),
                        ", ".join(sorted(v for v in versions_of.get((item, t), ()) if v)),
                        float(g[t]),
                        float(sr[t]),
                        opening if t == 0 else None,
                        float(proj),
                        float(net[t]),
                        float(planned[t]),
                        float(planned[t]),
                        release_week if planned[t] > _EPS else None,
                        netted,
                    ]
                )
                if planned[t] <= _EPS:
                    continue
                if source == "make":
                    releases.setdefault(item, np.zeros(n))[rel_k] += planned[t]
                else:
                    purchases.append(order)
        rel = releases.get(item)
        if rel is None:
            continue
        for k in np.flatnonzero(rel > _EPS):
            kids = children_by_week[k].get(item)
            if kids is None:
                continue  # a made component with no BOM in force: nothing to explode
            for comp, qty_per, version in kids:
                units = float(rel[k]) * qty_per
                gross.setdefault(comp, np.zeros(n))[k] += units
                parents_of.setdefault((comp, k), set()).add(item)
                versions_of.setdefault((comp, k), set()).add(version)
                pegging.append([comp, item, weeks[k], None, float(rel[k]), qty_per, version, units, levels[comp]])
    # level-0 pegging: the first plan week behind each release
    first = {(s, weeks[k]): min(w for kk, _, w in lst if kk == k) for s, lst in origin.items() for k, _, _ in lst}
    for row in pegging:
        row[3] = first.get((row[1], row[2]))
    peg = _frame(pegging, PEGGING_COLUMNS)
    req = _frame(requirements, REQUIREMENT_COLUMNS)
    pur = _frame(purchases, PURCHASE_COLUMNS).sort_values(
        ["supplier_id", "release_week_start", "component_sku", "need_week_start"], kind="stable", ignore_index=True
    )
    return MrpResult(
        requirements=req.sort_values(["component_sku", "week_start"], kind="stable", ignore_index=True),
        pegging=peg.sort_values(["component_sku", "need_week_start", "parent_sku"], kind="stable", ignore_index=True),
        purchases=pur,
        unexploded=_frame(unexploded, ["sku", "week_start", "make_units"]),
    )


def _purchase(item: str, need: pd.Timestamp, qty: float, sup: dict, as_of: pd.Timestamp) -> list:
    supplier, days, source = sup.get(item, (None, 0.0, "none"))
    release = need - pd.Timedelta(days=int(np.ceil(days - _EPS)))
    late = bool(release < as_of)
    arrival = max(release, as_of) + pd.Timedelta(days=int(np.ceil(days - _EPS)))
    return [
        supplier,
        item,
        pd.Timestamp(week_start(release.date())),
        release,
        need,
        float(qty),
        days if supplier is not None else None,
        source,
        arrival,
        int((as_of - release).days) if late else 0,
        late,
    ]


# --------------------------------------------------------------------------- checks


def balance_breaks(requirements: pd.DataFrame, tol: float = 1e-6) -> pd.DataFrame:
    """Component-weeks where projected(t) != projected(t-1) + scheduled + planned - gross (projected(0)
    = opening on hand), or projected < 0: ``component_sku, week_start, expected, projected``."""
    rows = []
    for sku, g in requirements.sort_values(["component_sku", "week_start"]).groupby("component_sku", sort=True):
        prev = float(g.opening_on_hand_units.iloc[0] or 0.0)
        for r in g.itertuples():
            expected = prev + r.scheduled_receipts_units + r.planned_receipt_units - r.gross_units
            if abs(expected - r.projected_on_hand_units) > tol * max(1.0, abs(expected)) or (
                r.projected_on_hand_units < -tol
            ):
                rows.append((sku, r.week_start, expected, r.projected_on_hand_units))
            prev = r.projected_on_hand_units
    return pd.DataFrame(rows, columns=["component_sku", "week_start", "expected", "projected"])


def explosion_breaks(
    plan: pd.DataFrame, result: MrpResult, bom: pd.DataFrame, calendar: Cycle, lead_time_weeks: pd.Series | None
) -> pd.DataFrame:
    """Plan make rows not exploded into their components (or exploded into the wrong quantity):
    for every horizon make row of a SKU with a BOM in force, each component's pegged gross must be
    make_units x qty_per; and each component-week's gross must equal its pegging.
    Returns ``sku, week_start, problem``."""
    weeks = [pd.Timestamp(w) for w in calendar.horizon()]
    lead = lead_time_weeks if lead_time_weeks is not None else pd.Series(dtype=float)
    peg = result.pegging
    rows = []
    mps = plan[pd.to_numeric(plan.make_units, errors="coerce").fillna(0) > _EPS]
    need = {}
    for r in mps.itertuples():
        w = pd.Timestamp(r.week_start)
        if w not in weeks:
            continue
        k = max(weeks.index(w) - lead_offset_weeks(lead.get(str(r.sku))), 0)
        need[(str(r.sku), weeks[k])] = need.get((str(r.sku), weeks[k]), 0.0) + float(r.make_units)
    unexploded = set(zip(result.unexploded.sku, pd.to_datetime(result.unexploded.week_start)))
    got = peg.groupby(["parent_sku", "need_week_start", "component_sku"]).agg(
        units=("parent_units", "sum"), gross=("gross_units", "sum"), qty=("qty_per", "first")
    )
    dependent = set(bom.component_sku.astype(str))  # their releases also carry dependent demand
    empty = bom.iloc[:0]
    by_parent = {str(p): g for p, g in bom.groupby(bom.parent_sku.astype(str), sort=False)}
    for (sku, wk), units in sorted(need.items()):
        kids = effective_rows(by_parent.get(sku, empty), wk)
        if kids.empty:
            continue
        for c in kids.itertuples():
            key = (sku, wk, str(c.component_sku))
            if key not in got.index:
                rows.append((sku, wk, f"component {c.component_sku} not exploded"))
            elif _short_or_off(got.at[key, "gross"], units * float(c.qty_per), exact=sku not in dependent):
                rows.append(
                    (sku, wk, f"component {c.component_sku}: {got.at[key, 'gross']:g} != {units:g} x {c.qty_per:g}")
                )
    for sku, w in sorted(unexploded):
        k = max(weeks.index(w) - lead_offset_weeks(lead.get(sku)), 0) if w in weeks else 0
        if not effective_rows(by_parent.get(sku, empty), weeks[k]).empty:
            rows.append((sku, w, "has a BOM in force but was not exploded"))
    req = result.requirements
    if len(req):
        pegged = peg.groupby(["component_sku", "need_week_start"]).gross_units.sum()
        for r in req[req.gross_units > _EPS].itertuples():
            p = float(pegged.get((r.component_sku, r.week_start), 0.0))
            if abs(p - r.gross_units) > 1e-6 * max(1.0, p):
                rows.append((r.component_sku, r.week_start, f"gross {r.gross_units:g} != pegged {p:g}"))
    return pd.DataFrame(rows, columns=["sku", "week_start", "problem"])


def _short_or_off(got: float, want: float, exact: bool) -> bool:
    tol = 1e-6 * max(1.0, abs(want))
    return abs(got - want) > tol if exact else got < want - tol


def describe(breaks: pd.DataFrame, what: str, key: str = "sku") -> str:
    """One line for a failed check: how many rows and the first few."""
    if breaks.empty:
        return f"{what}: every row holds"
    first = "; ".join(
        f"{getattr(r, key)} week {pd.Timestamp(r.week_start).date()}"
        + (f" ({r.problem})" if "problem" in breaks else "")
        for r in breaks.head(3).itertuples()
    )
    return f"{what}: {len(breaks)} row(s) break it, e.g. {first}"
