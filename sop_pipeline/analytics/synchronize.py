"""Synchronized production sequence: one timetable for every sequenced resource. Pure pandas/numpy.

Why: a routing lists every resource an operation needs *at the same time* - the filler line M1,
the format tooling T1 mounted on it, the operators. Sequencing each resource on its own
(:func:`~sop_pipeline.analytics.mps.sequence_mps`, one fan-out step per resource) gives each a
good order, but times them independently: SKU0015 ran on M1 Monday 08:00-17:45 and on T1 Monday
17:49 - Tuesday 11:35, although the tooling must be on the line while the line runs. A
scheduler cannot release that.

:func:`synchronize` turns the per-resource sequences of a week into one schedule:

* **Operations.** A SKU-week on the sequenced resources is one operation holding all of them
  from its changeover to its end. Units the plan offloaded to an alternate (``plan_offloads``:
  T1 -> T2) form their own operation with the alternate: the SKU-week's units are split where
  the alternates' shares meet (M1 300 units with T1 200 + T2 100 -> M1+T1 200 and M1+T2 100).
  An operation lasts as long as its slowest resource needs (units / that routing rate: the line
  runs at the spare tooling's pace); its run_hours per resource stay units / that resource's rate
  (the plan's hours).
* **Changeovers** hold every resource of the operation: the line's setup-family change is made
  with the format tooling on it (the largest changeover of the resources' matrices, from each
  one's last setup). So the tool is busy while the line changes over, and
  ``mps.changeover_estimate`` reserves those hours on the tool as well.
* **Timing.** A serial decoder walks a global order of the operations: each starts when every
  resource it holds is free, inside the *common* working windows of those resources (the
  intersection of their shift calendars less planned downtime), and runs in those windows. Work
  beyond the week is unscheduled, never stretched, with the partial-lot rule of
  :func:`~sop_pipeline.analytics.sequencing.sequence_week`.
* **Order.** Start candidates: each resource's own optimized order (the operations it does not
  hold merged in by their own start time), the due-date order and the setup batches of the line
  with the most changeover minutes; from each (the best first, with half the work) a
  first-improvement search relocates operations (a group's relocations costed in one decoder
  pass, the best move kept at once) and moves setup batches, then seeded kicks (two random
  relocations + the search again) while work is late or beyond the week. Cost: changeover
  minutes + ``TARDINESS_PENALTY`` x hours late + ``OVERFLOW_PENALTY`` x hours of work pushed
  beyond the week, all resources together. The search stops on a work count (cells costed + a
  fixed cost per decoder step), so the same week gives the same timetable on any machine;
  ``search_cut`` is "wall" only when the machine was too slow to do that work in the limit.

The FIFO baseline (due date, then SKU) is decoded the same way, so FIFO vs optimized compares
like with like. :func:`synchronization_breaks` is the blocking check: every resource of an
operation starts and ends together, and no resource holds two jobs (or a changeover and a job)
at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sop_pipeline.analytics.capacity import DEFAULT_SHIFT_START_HOUR, WorkCalendar, shift_calendar
from sop_pipeline.analytics.oee import availability, oee_from_factors
from sop_pipeline.analytics.sequencing import _Budget, _candidate_chunks

TARDINESS_PENALTY = 1000.0  # changeover minutes per hour late (as sequence_week)
OVERFLOW_PENALTY = 10_000.0  # per hour of work pushed beyond the week: fitting the week comes first
# Work count per second of the limit: cells costed (candidate orders x operations) + STEP_WORK per
# decoder step. Measured 2026-12-02 on 2 vCPU at load ~1.5 on a 72-operation week of two lines and
# two tools (medium demo): 1.9-3.4 M such units a second, so a 2 s limit's work (1.2 M) takes 0.35-0.6 s,
# 3-5x inside the 1.8 s deadline: the work count - not the wall clock - ends the search at loads up
# to ~4, and the same week gives the same timetable on any machine.
SYNC_WORK_PER_SECOND = 600_000
SYNC_RESERVE = 0.1
STEP_WORK = 250  # a decoder step's fixed Python/numpy cost, counted as this many cells
RELOCATE_CHUNK = 1_500  # candidate orders costed together (one decoder pass) in the relocation moves
MAX_KICKS = 30  # share of the limit kept back for building the frames
EPS = 1e-9
FIT_TOLERANCE_HOURS = 1e-4  # 0.36 s: a job planned to the last second of the week still fits (float sums)
TIME_TOLERANCE = pd.Timedelta(seconds=1)


class SynchronizeError(ValueError):
    """Sequence rows that cannot be synchronized; the message names the resource, SKU or week."""


# --------------------------------------------------------------------------- calendars as arrays


@dataclass(frozen=True)
class _Cal:
    """A week's working windows in clock hours since the week's Monday 00:00, for vectorized
    mapping between clock hours and productive hours (beyond the last window, clock and
    productive hours run on together, so overflow and lateness keep counting)."""

    ws: np.ndarray
    we: np.ndarray

    @classmethod
    def of(cls, windows: Iterable[tuple[pd.Timestamp, pd.Timestamp]], week_start: pd.Timestamp) -> _Cal:
        w = [((s - week_start) / pd.Timedelta(hours=1), (e - week_start) / pd.Timedelta(hours=1)) for s, e in windows]
        w = [(s, e) for s, e in w if e > s + EPS]
        return cls(np.array([s for s, _ in w], dtype=float), np.array([e for _, e in w], dtype=float))

    @property
    def lengths(self) -> np.ndarray:
        return self.we - self.ws

    @property
    def hours(self) -> float:
        return float(self.lengths.sum())

    @property
    def last(self) -> float:
        return float(self.we[-1]) if len(self.we) else 0.0

    def off(self, t: np.ndarray) -> np.ndarray:
        """Productive hours worked by clock hour ``t`` (after the last window: + clock hours)."""
        t = np.asarray(t, dtype=float)
        if not len(self.ws):
            return np.maximum(t, 0.0)
        done = np.clip(t[..., None] - self.ws, 0.0, self.lengths).sum(axis=-1)
        return done + np.maximum(t - self.last, 0.0)

    def at(self, h: np.ndarray, side: str) -> np.ndarray:
        """Clock hour after ``h`` productive hours; "start": a window boundary is the next window's
        opening, "end": the closing window's end (as ``WorkCalendar.at``)."""
        h = np.asarray(h, dtype=float)
        if not len(self.ws):
            return h
        ends = np.cumsum(self.lengths)
        begins = ends - self.lengths
        k = np.searchsorted(ends, h + EPS, side="right") if side == "start" else np.searchsorted(ends, h - EPS)
        inside = k < len(ends)
        kk = np.minimum(k, len(ends) - 1)
        return np.where(inside, self.ws[kk] + (h - begins[kk]), self.last + (h - self.hours))

    def intersect(self, other: _Cal) -> _Cal:
        s = np.maximum(self.ws[:, None], other.ws[None, :])
        e = np.minimum(self.we[:, None], other.we[None, :])
        keep = e > s + EPS
        order = np.argsort(s[keep], kind="stable")
        return _Cal(s[keep][order], e[keep][order])


class _Stack:
    """Several :class:`_Cal` padded to one shape, so each row of a batch maps through its own
    calendar (``sid``) in one vectorized call (the decoder's hot path)."""

    def __init__(self, cals: Sequence[_Cal]):
        w = max([len(c.ws) for c in cals] + [1])
        self.count = np.array([len(c.ws) for c in cals])
        self.last = np.array([c.last for c in cals])
        self.hours = np.array([c.hours for c in cals])
        pad = lambda v, fill: np.concatenate([v, np.full(w - len(v), fill)])  # noqa: E731
        self.ws = np.array([pad(c.ws, c.last) for c in cals])
        self.len = np.array([pad(c.lengths, 0.0) for c in cals])
        self.ends = np.cumsum(self.len, axis=1)
        self.begins = self.ends - self.len

    def off(self, sid: np.ndarray, t: np.ndarray) -> np.ndarray:
        done = np.clip(t[:, None] - self.ws[sid], 0.0, self.len[sid]).sum(axis=1)
        return done + np.maximum(t - self.last[sid], 0.0)

    def at(self, sid: np.ndarray, h: np.ndarray, side: str) -> np.ndarray:
        ends = self.ends[sid]
        k = (ends <= (h + EPS)[:, None]).sum(axis=1) if side == "start" else (ends < (h - EPS)[:, None]).sum(axis=1)
        inside = k < self.count[sid]
        kk = np.minimum(k, self.ws.shape[1] - 1)
        clock = self.ws[sid, kk] + (h - self.begins[sid, kk])
        return np.where(inside, clock, self.last[sid] + (h - self.hours[sid]))


# --------------------------------------------------------------------------- operations


def _groups(resource_ids: Sequence[str], alternates: pd.DataFrame | None) -> dict[str, int]:
    """Alternate groups: resources linked by an offload (from -> to) share a group."""
    parent = {r: r for r in resource_ids}

    def find(r):
        while parent[r] != r:
            parent[r] = parent[parent[r]]
            r = parent[r]
        return r

    if alternates is not None and len(alternates):
        for a, b in alternates[["from_resource_id", "to_resource_id"]].itertuples(index=False):
            if a in parent and b in parent:
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[max(ra, rb, key=list(resource_ids).index)] = min(ra, rb, key=list(resource_ids).index)
    roots = {}
    return {r: roots.setdefault(find(r), len(roots)) for r in resource_ids}


def operations(rows: pd.DataFrame, resource_ids: Sequence[str], groups: Mapping[str, int]) -> pd.DataFrame:
    """One week's sequence rows (one per resource and SKU) -> pieces: one row per operation and
    resource, with ``op`` (operation number), ``qty`` (the operation's units) and ``run_hours``
    (units / that resource's rate). A SKU's resources in one alternate group share its units in
    resource order; pieces are cut where any group's shares meet."""
    rank = {r: i for i, r in enumerate(resource_ids)}
    by_sku: dict = {}
    for rec in rows.to_dict("records"):
        by_sku.setdefault(rec["sku"], []).append(rec)
    pieces, op = [], 0
    for sku in sorted(by_sku):
        recs = sorted(by_sku[sku], key=lambda r: (groups[r["resource_id"]], rank[r["resource_id"]]))
        spans, cuts, lo, group = [], {0.0}, 0.0, None
        for rec in recs:
            if groups[rec["resource_id"]] != group:
                group, lo = groups[rec["resource_id"]], 0.0
            hi = lo + float(rec["qty"])
            spans.append((rec, lo, hi))
            cuts.add(round(hi, 9))
            lo = hi
        cuts = sorted(cuts)
        for a, b in zip(cuts[:-1], cuts[1:]):
            if b - a <= 1e-9:
                continue
            mid = (a + b) / 2
            held = [(rec, lo, hi) for rec, lo, hi in spans if lo < mid < hi]
            for rec, lo, hi in held:
                rate = rec.get("units_per_hour")
                whole = abs((b - a) - (hi - lo)) <= 1e-9 * max(1.0, hi - lo)
                run = float(rec["run_hours"]) if whole or not (rate and rate > 0) else (b - a) / float(rate)
                pieces.append({**rec, "op": op, "qty": b - a, "run_hours": run, "_whole": whole})
            if held:
                op += 1
    if not pieces:
        return pd.DataFrame(columns=[*rows.columns, "op", "_whole"])
    out = pd.DataFrame(pieces)
    # a row split into pieces: job_id gets the piece number
    split = ~out["_whole"]
    if split.any():
        n = out[split].groupby("job_id").cumcount() + 1
        out.loc[split, "job_id"] = out.loc[split, "job_id"].astype(str) + "-" + n.astype(str)
    return out


# --------------------------------------------------------------------------- the decoder


class _SyncCost:
    """Serial decoder of candidate operation orders (C, n), vectorized over the candidates:
    cost = changeover minutes + penalty x hours late + overflow penalty x hours beyond the week."""

    def __init__(self, uses, keys, dur, set_id, due_off, set_cals, res_cals, minutes_ext, start_rows, batch_keys):
        self.uses, self.key, self.dur, self.set_id, self.due_off = uses, keys, dur, set_id, due_off
        self.set_cals, self.res_cals, self.minutes_ext = set_cals, res_cals, minutes_ext
        self.set_hours = np.array([c.hours for c in set_cals])
        self.stack = _Stack(set_cals)
        self.keys = batch_keys  # _candidate_chunks: runs of one key are moved as batches
        # every resource's matrix in one (R, K + 1, K) array; row K = no setup yet (free changeover)
        r_count = uses.shape[1]
        k = max([m.shape[1] for m in minutes_ext] + [1])
        self.matrix = np.zeros((r_count, k + 1, k))
        for r, m in enumerate(minutes_ext):
            self.matrix[r, : m.shape[0] - 1, : m.shape[1]] = m[:-1]
        self.start_rows = np.where(np.asarray(start_rows) >= [m.shape[0] - 1 for m in minutes_ext], k, start_rows)
        self.key0 = np.maximum(keys, 0)
        self.ridx = np.arange(r_count)[None, :]

    def __call__(self, orders: np.ndarray) -> np.ndarray:
        return self.run(orders)[0]

    def penalty(self, order: np.ndarray) -> float:
        """Lateness + overflow part of an order's cost (0: on time and inside the week)."""
        cost, rec = self.run(order[None, :], record=True)
        return float(cost[0] - rec["co"].sum())

    def run(self, orders: np.ndarray, record: bool = False):
        orders = np.atleast_2d(orders)
        c, n = orders.shape
        r_count = self.uses.shape[1]
        free = np.zeros((c, r_count))
        last = np.tile(self.start_rows, (c, 1))
        cost = np.zeros(c)
        rec = None
        if record:
            rec = {"free": np.zeros((n, r_count))}
            rec.update({k: np.zeros(n) for k in ("co", "c_off", "s_off", "e_off", "co_start", "start", "end")})
        for j in range(n):
            op = orders[:, j]
            u = self.uses[op]
            kop = self.key0[op]
            t_free = np.where(u, free, 0.0).max(axis=1)
            co = np.where(u, self.matrix[self.ridx, last, kop], 0.0).max(axis=1)
            sid = self.set_id[op]
            c_off = self.stack.off(sid, t_free)
            s_off = c_off + co / 60.0
            e_off = s_off + self.dur[op]
            end = self.stack.at(sid, e_off, "end")
            if record:
                rec["free"][j] = free[0]
            free = np.where(u, end[:, None], free)
            last = np.where(u, kop, last)
            cost += co
            cost += TARDINESS_PENALTY * np.maximum(e_off - self.due_off[op], 0.0)
            cost += OVERFLOW_PENALTY * np.maximum(e_off - self.set_hours[sid] - FIT_TOLERANCE_HOURS, 0.0)
            if record:
                one = sid[:1]
                rec["co"][j], rec["c_off"][j], rec["s_off"][j], rec["e_off"][j] = co[0], c_off[0], s_off[0], e_off[0]
                rec["end"][j] = end[0]
                rec["co_start"][j] = self.stack.at(one, c_off[:1], "start")[0]
                rec["start"][j] = self.stack.at(one, s_off[:1], "start")[0]
        return cost, rec


# --------------------------------------------------------------------------- the search


def _improve(order: np.ndarray, cost_fn: _SyncCost, budget: _Budget) -> tuple[np.ndarray, float]:
    """First-improvement local search: each operation in turn goes to its best position (all
    positions costed at once, the move kept at once if it lowers the cost), then each setup batch
    to its best place among the other batches; passes repeat until one improves nothing or the
    budget is spent. Work = cells costed + ``STEP_WORK`` per decoder step (its Python overhead)."""
    best = order.copy()
    n = len(best)
    best_cost = float(cost_fn(best[None, :])[0])
    if n < 2:
        return best, best_cost
    insert = np.array([list(range(j)) + [n - 1] + list(range(j, n - 1)) for j in range(n)])

    def try_chunk(cands: np.ndarray) -> bool:
        nonlocal best, best_cost
        costs = cost_fn(cands)
        budget.spend(cands.size + STEP_WORK * n)
        k = int(np.argmin(costs))
        if costs[k] < best_cost - 1e-9:
            best, best_cost = cands[k].copy(), float(costs[k])
            return True
        return False

    group = max(1, RELOCATE_CHUNK // n)  # operations whose moves are costed together
    while not budget.exhausted():
        improved = False
        items = list(best)
        for g in range(0, n, group):
            if budget.exhausted():
                break
            cands = []
            for item in items[g : g + group]:
                i = int(np.flatnonzero(best == item)[0])
                moved = np.append(np.delete(best, i), item)[insert]
                cands.append(np.delete(moved, i, axis=0))  # row i = where it is
            improved |= try_chunk(np.concatenate(cands))
        if cost_fn.keys is not None:
            for cands in _candidate_chunks(best, cost_fn.keys, job_moves=False):
                if budget.exhausted():
                    break
                improved |= try_chunk(cands)
        if not improved:
            break
    return best, best_cost


# --------------------------------------------------------------------------- one week


@dataclass
class _Week:
    pieces: pd.DataFrame
    summary: list[dict]
    last_setup: dict


def _matrix(changeovers: pd.DataFrame | None, resource: str, keys: list) -> np.ndarray:
    """(K+1, K) changeover minutes between a resource's keys; the extra last row is 'no setup'."""
    k = len(keys)
    m = np.zeros((k + 1, max(k, 1)))
    if changeovers is None or not len(changeovers) or k == 0:
        return m
    co = changeovers[changeovers["resource_id"] == resource]
    if co.empty:
        return m
    idx = {key: i for i, key in enumerate(keys)}
    known = pd.to_numeric(co["minutes"], errors="coerce")
    default = float(known.max()) if known.notna().any() else 0.0
    m[:k, :k] = default  # missing pairs: the largest known changeover (as sequence_week)
    for f, t, v in zip(co["from_key"], co["to_key"], known):
        if f in idx and t in idx and pd.notna(v):
            m[idx[f], idx[t]] = float(v)
    np.fill_diagonal(m[:k, :k], 0.0)
    return m


def _week(
    rows: pd.DataFrame,
    week: pd.Timestamp,
    resource_ids: list[str],
    groups: Mapping[str, int],
    calendars: Mapping[str, WorkCalendar],
    changeovers: pd.DataFrame | None,
    setup: Mapping[str, object],
    perf: Mapping[str, float],
    time_limit_s: float,
    seed: int,
    search: bool = True,
) -> _Week:
    began = time.perf_counter()
    pieces = operations(rows, resource_ids, groups)
    res = [r for r in resource_ids if r in set(pieces["resource_id"])]
    n = int(pieces["op"].max()) + 1
    r_index = {r: i for i, r in enumerate(res)}
    uses = np.zeros((n, len(res)), dtype=bool)
    keys = np.full((n, len(res)), -1, dtype=np.int64)
    dur = np.zeros(n)
    key_lists, matrices, start_rows, res_cals = [], [], [], []
    for r in res:
        on_r = pieces[pieces["resource_id"] == r]
        kl = list(dict.fromkeys(on_r["setup_key"].fillna(on_r["sku"])))
        cur = setup.get(r)
        if cur is not None and cur not in kl:
            kl.append(cur)
        m = _matrix(changeovers, r, kl)
        has_matrix = changeovers is not None and len(changeovers) and (changeovers["resource_id"] == r).any()
        key_lists.append(kl)
        matrices.append(m)
        start_rows.append(kl.index(cur) if (cur is not None and has_matrix) else len(kl))
        res_cals.append(_Cal.of(calendars[r].windows, week))
    for p in pieces.itertuples(index=False):
        i = r_index[p.resource_id]
        uses[p.op, i] = True
        key = p.setup_key if pd.notna(p.setup_key) else p.sku
        keys[p.op, i] = key_lists[i].index(key)
        dur[p.op] = max(dur[p.op], float(p.run_hours))
    # operations' resource sets and their common calendars
    set_names = ["+".join(r for r, u in zip(res, row) if u) for row in uses]
    uniq = list(dict.fromkeys(set_names))
    set_id = np.array([uniq.index(s) for s in set_names])
    set_cals = []
    for s in uniq:
        cal = None
        for r in s.split("+"):
            cal = res_cals[r_index[r]] if cal is None else cal.intersect(res_cals[r_index[r]])
        set_cals.append(cal)
    due = pieces.groupby("op")["due"].min().reindex(range(n))
    due_clock = ((pd.to_datetime(due) - week) / pd.Timedelta(hours=1)).to_numpy(dtype=float)
    due_off = np.array(
        [
            set_cals[s].off(t) + min(t - (set_cals[s].ws[0] if len(set_cals[s].ws) else 0.0), 0.0)
            for s, t in zip(set_id, due_clock)
        ]
    )
    # batches for the search: the key on the resource with the most changeover minutes
    heavy = int(np.argmax([m.sum() for m in matrices]))
    batch = np.where(uses[:, heavy], keys[:, heavy], -1 - np.arange(n)) if matrices[heavy].any() else None
    cost_fn = _SyncCost(uses, keys, dur, set_id, due_off, set_cals, res_cals, matrices, np.array(start_rows), batch)

    # start orders: each resource's own optimized order (others merged in by their own start), EDD
    starts = pd.to_datetime(pieces["start"]).astype("datetime64[ns]")
    own_start = pieces.assign(_s=starts).groupby(["op", "resource_id"])["_s"].min()
    fallback = pieces.assign(_s=starts.fillna(pd.Timestamp.max)).groupby("op")["_s"].min()
    dues_ns = due.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    sku_rank = pieces.groupby("op")["sku"].first().rank(method="dense").reindex(range(n)).to_numpy()
    fifo = np.lexsort((np.arange(n), sku_rank, dues_ns))
    candidates = [fifo]
    if batch is not None:  # setup batches of the line with the most changeover minutes, each by due date
        candidates.append(np.lexsort((np.arange(n), sku_rank, dues_ns, batch)))
    for r in res:
        on = own_start.xs(r, level="resource_id").reindex(range(n))
        prio = on.fillna(fallback.reindex(range(n))).fillna(pd.Timestamp.max)
        candidates.append(np.lexsort((np.arange(n), prio.to_numpy(dtype="datetime64[ns]").astype(np.int64))))
    cand = np.unique(np.array(candidates), axis=0)
    cand = cand[np.argsort(cost_fn(cand), kind="stable")]  # best start first
    budget = _Budget(began + time_limit_s * (1.0 - SYNC_RESERVE), SYNC_WORK_PER_SECOND * time_limit_s)
    best, best_cost = cand[0], float(cost_fn(cand[:1])[0])
    if not search:
        best = fifo
    elif n > 1:  # local search from each start, the best start first with half the work
        for i, start in enumerate(cand):
            share = budget.share(0.5 if i == 0 else 1.0 / (len(cand) - i))
            order, cost = _improve(start, cost_fn, share)
            budget.spend(share.used)
            budget.cut = budget.cut or share.cut
            if cost < best_cost - 1e-9:
                best, best_cost = order, cost
        # kicks (iterated local search) while work is pushed out of the week or late: two
        # operations relocated at random, then the local search again; a better order is kept.
        # Needed where a hidden changeover takes two moves (e.g. a short line-only job next to
        # a tool-only job so the tool runs while the line changes over).
        rng = np.random.default_rng(seed)
        for _ in range(MAX_KICKS):
            if not search or n < 3 or cost_fn.penalty(best) <= 1e-9 or budget.exhausted():
                break
            trial = best.copy()
            for _k in range(2):
                i, j = rng.integers(0, n, size=2)
                item = trial[i]
                trial = np.insert(np.delete(trial, i), j, item)
            order, cost = _improve(trial, cost_fn, budget)
            if cost < best_cost - 1e-9:
                best, best_cost = order, cost
    opt = _frame(pieces, best, cost_fn, res, key_lists, week)
    base = _frame(pieces, fifo, cost_fn, res, key_lists, week)
    summary = []
    for r in res:
        o, b = opt[opt["resource_id"] == r], base[base["resource_id"] == r]
        run = float(o["run_hours"].sum())
        co_o, co_b = float(o["changeover_minutes"].sum()) / 60.0, float(b["changeover_minutes"].sum()) / 60.0
        p, q = perf.get(r, (1.0, 1.0))
        hours = res_cals[r_index[r]].hours
        unscheduled = float(o["unscheduled_qty"].sum())
        summary.append(
            {
                "resource_id": r,
                "week_start": week,
                "jobs": len(o),
                "planned_units": float(o["qty"].sum()),
                "scheduled_units": float(o["scheduled_qty"].sum()),
                "unscheduled_units": unscheduled,
                "jobs_unscheduled": int((o["unscheduled_qty"] > 1e-9).sum()),
                "run_hours": run,
                "available_hours": hours,
                "required_hours": run + co_o,
                "wait_hours": float(o["wait_hours"].sum()),
                "fits": bool(run + co_o <= hours + FIT_TOLERANCE_HOURS and unscheduled <= 1e-6),
                "changeover_hours_fifo": co_b,
                "changeover_hours_optimized": co_o,
                "oee_fifo": oee_from_factors(availability(run, run + co_b), p, q),
                "oee_optimized": oee_from_factors(availability(run, run + co_o), p, q),
                "late_orders_optimized": int(o["late"].sum()),
                "late_orders_fifo": int(b["late"].sum()),
                "tardiness_hours_optimized": float(o["tardiness_hours"].sum()),
                "search_cut": budget.cut,
            }
        )
    last_setup = {}
    for r in res:
        o = opt[opt["resource_id"] == r]
        if len(o):
            last_setup[r] = o["setup_key"].iloc[-1]
    return _Week(opt, summary, last_setup)


def _frame(pieces, order, cost_fn: _SyncCost, res, key_lists, week) -> pd.DataFrame:
    """The decoded ``order``: one row per piece, positions per resource in start order."""
    _, rec = cost_fn.run(order[None, :], record=True)
    step = np.empty(len(order), dtype=np.int64)
    step[order] = np.arange(len(order))
    hours = cost_fn.set_hours[cost_fn.set_id]
    out = pieces.copy()
    j = step[out["op"].to_numpy()]
    ri = out["resource_id"].map({r: i for i, r in enumerate(res)}).to_numpy()
    op = out["op"].to_numpy()
    s_off, e_off, h = rec["s_off"][j], rec["e_off"][j], hours[op]
    dur = cost_fn.dur[op]
    qty = out["qty"].astype(float).to_numpy()
    fits = e_off <= h + FIT_TOLERANCE_HOURS
    with np.errstate(divide="ignore", invalid="ignore"):
        part = np.where(dur > 0, qty * np.clip((h - s_off) / np.where(dur > 0, dur, 1.0), 0.0, 1.0), 0.0)
    min_run = pd.to_numeric(out.get("min_run_units", 0.0), errors="coerce").fillna(0.0).to_numpy(dtype=float)
    partial = ~fits & (s_off < h - FIT_TOLERANCE_HOURS) & (part > 1e-9) & (part >= min_run - 1e-9)
    made = fits | partial
    scheduled = np.where(fits, qty, np.where(partial, part, 0.0))
    # a partial piece ends when the common windows close
    end_h = np.where(
        fits,
        rec["end"][j],
        [cost_fn.set_cals[s].at(min(x, hh), "end") for s, x, hh in zip(cost_fn.set_id[op], e_off, h)],
    )

    def ts(x):
        return pd.Series(week + pd.to_timedelta(np.asarray(x, dtype=float), unit="h")).dt.round("s").to_numpy()

    co = rec["co"][j]
    out["changeover_minutes"] = co
    out["changeover_start"] = np.where(made, ts(np.where(co > 0, rec["co_start"][j], rec["start"][j])), None)
    out["start"] = np.where(made, ts(rec["start"][j]), None)
    out["end"] = np.where(made, ts(end_h), None)
    # hours the resource stood free before the operation's changeover or start: another resource
    # of the operation was still busy (on the resource's own calendar)
    cals = [cost_fn.res_cals[i] for i in ri]
    began_at = np.where(co > 0, rec["co_start"][j], rec["start"][j])
    free_at = rec["free"][j, ri]
    waited = np.array(
        [cal.off(np.array([b]))[0] - cal.off(np.array([f]))[0] for cal, b, f in zip(cals, began_at, free_at)]
    )
    out["wait_hours"] = np.where(made, np.maximum(waited, 0.0), 0.0)
    out["tardiness_hours"] = np.maximum(e_off - cost_fn.due_off[op], 0.0)
    out["late"] = out["tardiness_hours"] > 1e-9
    out["scheduled_qty"] = scheduled
    out["unscheduled_qty"] = np.maximum(qty - scheduled, 0.0)
    out["fits"] = fits
    names = pd.Series(["+".join(r for r, u in zip(res, row) if u) for row in cost_fn.uses])
    out["held_with"] = [
        "+".join(x for x in names[o].split("+") if x != r) or None for o, r in zip(op, out["resource_id"])
    ]
    n_ops = out.groupby("sku")["op"].transform("nunique")
    piece_no = out.groupby("sku")["op"].rank(method="dense").astype(int)
    out["operation_id"] = [
        f"{week:%Y%m%d}-{s}" + (f"-{k}" if m > 1 else "") for s, k, m in zip(out["sku"], piece_no, n_ops)
    ]
    out["_step"] = j
    out = out.sort_values(["resource_id", "_step"], kind="stable")
    out["position"] = out.groupby("resource_id").cumcount() + 1
    for c in ("changeover_start", "start", "end"):
        out[c] = pd.to_datetime(out[c])
    return out.drop(columns=["_step", "_whole"], errors="ignore").reset_index(drop=True)


# --------------------------------------------------------------------------- entry point


def synchronize(
    jobs: pd.DataFrame,
    resources: pd.DataFrame,
    weeks: Sequence,
    resource_ids: Sequence[str],
    *,
    changeovers: pd.DataFrame | None = None,
    downtime: pd.DataFrame | None = None,
    current_setup: Mapping[str, object] | None = None,
    oee: pd.DataFrame | None = None,
    offloads: pd.DataFrame | None = None,
    shift_start_hour: float = DEFAULT_SHIFT_START_HOUR,
    time_limit_s: float = 2.0,
    seed: int = 0,
    search: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Synchronize the per-resource sequences ``jobs`` (``mps.SEQUENCE_COLUMNS``: every sequenced
    resource's rows, each resource optimized alone) into one timetable; returns (jobs, summary)
    with the columns of ``sequence_mps`` plus ``operation_id`` (rows of one operation share it),
    ``held_with`` (the other sequenced resources the operation holds) and, in the summary,
    ``wait_hours`` (hours a resource stood free waiting for another one it runs with).

    ``resources`` (resource_id, hours_per_day, days_per_week) and ``downtime`` give each resource's
    shift calendar as in ``sequence_mps``; ``changeovers``: resource_id, from_key, to_key, minutes;
    ``current_setup``: resource -> setup key before the first week (later weeks start from the
    previous week's last job); ``oee``: resource_id, performance, quality; ``offloads``:
    from_resource_id, to_resource_id (the plan's offloads: which resources are alternates).
    ``search=False`` returns the FIFO baseline's timetable (due date, then SKU) instead.
    """
    if jobs.empty:
        return jobs.copy(), pd.DataFrame()
    missing = sorted(set(jobs["resource_id"]) - set(resources["resource_id"]))
    if missing:
        raise SynchronizeError(f"resource(s) {', '.join(map(str, missing))} of the sequence are not in resources")
    res = resources.set_index("resource_id")
    resource_ids = [r for r in resource_ids if r in set(jobs["resource_id"])]
    groups = _groups(resource_ids, offloads)
    perf = {}
    if oee is not None and len(oee):
        o = oee.set_index("resource_id")
        for r in resource_ids:
            if r in o.index:
                p, q = o.at[r, "performance"], o.at[r, "quality"]
                perf[r] = (float(p) if pd.notna(p) else 1.0, float(q) if pd.notna(q) else 1.0)
    setup = {
        r: v for r, v in (current_setup or {}).items() if v is not None and not (isinstance(v, float) and np.isnan(v))
    }
    frames, summaries = [], []
    w = jobs.assign(week_start=pd.to_datetime(jobs["week_start"]))
    for week in weeks:
        wk = pd.Timestamp(week)
        rows = w[w["week_start"] == wk]
        if rows.empty:
            continue
        calendars = {
            r: shift_calendar(
                wk,
                float(res.at[r, "hours_per_day"]),
                float(res.at[r, "days_per_week"]),
                downtime[downtime["resource_id"] == r] if downtime is not None and len(downtime) else None,
                shift_start_hour=shift_start_hour,
            )
            for r in resource_ids
        }
        result = _week(rows, wk, resource_ids, groups, calendars, changeovers, setup, perf, time_limit_s, seed, search)
        frames.append(result.pieces)
        summaries += result.summary
        setup.update(result.last_setup)
    out = pd.concat(frames, ignore_index=True)
    rank = {r: i for i, r in enumerate(resource_ids)}
    out = out.assign(_r=out["resource_id"].map(rank)).sort_values(["_r", "week_start", "position"], kind="stable")
    summary = pd.DataFrame(summaries)
    summary = summary.assign(_r=summary["resource_id"].map(rank)).sort_values(["_r", "week_start"], kind="stable")
    return out.drop(columns="_r").reset_index(drop=True), summary.drop(columns="_r").reset_index(drop=True)


def synchronization_breaks(jobs: pd.DataFrame) -> pd.DataFrame:
    """Rows of a synchronized sequence that break it: an operation whose resources do not start
    and end together ("not together"), or a resource holding two things at once - a job or its
    changeover starting before the previous job on that resource ended ("overlap"). Columns
    resource_id, sku, week_start, issue."""
    cols = ["resource_id", "sku", "week_start", "issue"]
    if jobs.empty:
        return pd.DataFrame(columns=cols)
    made = jobs[jobs["start"].notna()].copy()
    for c in ("changeover_start", "start", "end"):
        made[c] = pd.to_datetime(made[c])
    bad = []
    if "operation_id" in made.columns:
        span = made.groupby("operation_id").agg(
            s0=("start", "min"), s1=("start", "max"), e0=("end", "min"), e1=("end", "max")
        )
        apart = span[((span.s1 - span.s0) > TIME_TOLERANCE) | ((span.e1 - span.e0) > TIME_TOLERANCE)].index
        hit = made[made["operation_id"].isin(apart)]
        for r in hit.itertuples(index=False):
            bad.append(
                (r.resource_id, r.sku, r.week_start, f"operation {r.operation_id} does not start and end together")
            )
    for (r, _w), g in made.sort_values("start").groupby(["resource_id", "week_start"], sort=False):
        prev_end = g["end"].shift()
        first = g["changeover_start"].fillna(g["start"])
        over = g[(first < prev_end - TIME_TOLERANCE) | (g["end"] < g["start"])]
        for x in over.itertuples(index=False):
            bad.append((r, x.sku, x.week_start, "overlaps the previous job on the resource"))
    return pd.DataFrame(bad, columns=cols)
