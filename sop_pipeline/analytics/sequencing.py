"""Changeover-optimal production sequences (asymmetric TSP) and the weekly sequence of one resource.

Two layers:

1. :func:`solve_sequence` orders items (SKUs, setup families, ...) so the sum of
   sequence-dependent changeover times is smallest, as an open path (a week's run: start at the
   current setup or anywhere, end anywhere) or a closed tour (``tour=True``: back to the first
   item, the textbook asymmetric TSP). Methods:

   - ``held-karp``: exact dynamic programming for up to ``EXACT_MAX_ITEMS`` items, so small
     answers are provably optimal.
   - ``cp-sat``: OR-Tools CP-SAT with ``AddCircuit`` (its LP relaxation with circuit cuts proves
     optimality on most TSPLIB ATSP instances up to ~170 cities). Search is interleaved over a
     fixed 2 workers, so with a work budget (CP-SAT's *deterministic time*, about one second of
     one core; the deterministic mode) the same seed gives the same sequence on any machine,
     unless the wall limit comes first. In ``auto`` (16-``CP_SAT_MAX_ITEMS`` items) it runs after
     a short local search (``LOCAL_SEARCH_SHARE`` of the time) and, above
     ``CP_SAT_HINT_MIN_ITEMS`` items, starts from that tour as a solution hint.
   - ``routing``: OR-Tools routing (pywrapcp) with a dummy depot for open paths, PATH_CHEAPEST_ARC
     + GUIDED_LOCAL_SEARCH under a wall-clock limit (single-threaded; reproducible unless the
     limit cuts the search at a different point). Kept for comparison; ``benchmarks/sequencing.py``
     shows CP-SAT and the local search beat it, so ``auto`` never uses it.
   - ``local-search``: Or-opt with double-bridge kicks from the best constructive tour (nearest
     neighbour, assignment + patching); ``auto`` uses it alone above ``CP_SAT_MAX_ITEMS`` items.

   Costs are made integer by scaling (see :func:`integer_costs`); the reported total is computed
   on the original matrix.

2. :func:`sequence_week` orders one resource's jobs for one week: batch jobs by setup key, solve
   the key-level ATSP from the current setup, then repair due dates with a local search
   (relocate a job, relocate a batch, swap two jobs) on the cost

       changeover minutes + tardiness_penalty_minutes_per_hour x hours late (summed over jobs)

   Due dates are **soft**: with the default penalty (1,000 changeover minutes per hour late) a
   due date is kept whenever an order exists that keeps it and the search finds it; lower the
   penalty to trade service for setup time. The FIFO baseline (due date, then input order) is
   timed the same way for the before/after comparison. Time runs in productive hours on the
   resource's shift calendar (``capacity.shift_calendar``): start and end always fall inside
   a shift, and work that does not fit the week is reported as unscheduled, never stretched.

Determinism margin (the pipeline path): the supply assets call :func:`sequence_week` with
``time_limit_s=2.0`` in deterministic mode, and tests/integration/test_reproducible.py compares
two full runs table by table, so the work count - not the wall clock - must end every search.
Measured 2026-11-29 on 2 vCPU (replaying every ``sequence_week`` call of the demo warehouses):
the small demo's weeks (2-16 jobs) converge in <= 0.023 s (1% of the limit, load 3.0); the
medium demo's 99-job weeks (job moves) hit the work count, which took 0.65-0.84 s (33-42% of
the limit, 46% of the 1.8 s left after ``WEEK_RESERVE``) at load 2.8-3.0 with 10 M cells per
second - too thin for the loads of 5-10 this machine sees. ``WEEK_WORK_PER_SECOND`` is therefore
5 M: at most 0.38 s (19% of the limit) at load 2.1, so the work count still ends the search at
~4x that load; the cost is 4.4% on the summed objective of the medium demo's 29 weeks of 99-181
jobs (changeover minutes + 1,000 x late hours; 2.96 M -> 3.09 M). The setup-key ATSP of the demo
weeks (<= 5 keys) is solved exactly by Held-Karp and does no timed work. A search the wall clock
cuts anyway reports ``summary["search_cut"] == "wall"``.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sop_pipeline.analytics.capacity import WorkCalendar
from sop_pipeline.analytics.columns import require_columns
from sop_pipeline.analytics.oee import availability, oee_from_factors

EXACT_MAX_ITEMS = 15
GREEDY_SEARCH_MAX_ITEMS = 60
# Job-level moves (relocate / swap one job) build O(n^2) candidate orders of n jobs each per round:
# above this many jobs in a week only batch moves are searched (a batch's jobs already run in due
# date order, so what is lost is splitting a batch to save a due date).
JOB_SEARCH_MAX_JOBS = 120
_EVAL_CHUNK_CELLS = 4_000_000  # candidate orders are costed in chunks of at most this many cells
# Above this many items CP-SAT's circuit model stops paying: auto uses the local search alone
# (measured crossover: benchmarks/README.md, "Sequencing"). Up to it, the local search runs
# first on LOCAL_SEARCH_SHARE of the time and CP-SAT gets the rest (it proves the TSPLIB optima).
# The share is small on purpose: CP-SAT needs 2-4 deterministic s for the TSPLIB instances up to
# 71 cities and 10-18 for kro124p / ftv170, and every second the local search keeps is a second
# CP-SAT lacks on a loaded machine (at 20% the TSPLIB table fell from 15/15 to 7-13/15).
# Above CP_SAT_HINT_MIN_ITEMS CP-SAT starts from the local-search tour (solution hint): measured,
# it cuts the deterministic time to prove ftv64 / ft70 / ftv70 / kro124p / ftv170 by 7-55% and
# finds better tours on generated 80-180 item instances (families-80 535 proven vs 541,
# families-120 860 vs 869, random-180 1691 vs 1702, 10 s); below it the hint can hurt (p43:
# 6.2-6.8 deterministic s to prove instead of 3.7) and CP-SAT alone proves fast anyway.
CP_SAT_MAX_ITEMS = 180
CP_SAT_WORKERS = 2
LOCAL_SEARCH_SHARE = 0.05
CP_SAT_HINT_MIN_ITEMS = 60
PATCHING_SHARE = 0.5  # at most this share of the time for assignment + patching
LIMIT_RESERVE = 0.03  # share of the limit kept back for building the result
# Deterministic mode: work allowed per second of the limit. Moves evaluated by the local search
# (a 2-vCPU machine under a load of ~7 evaluates ~7 million a second, an idle core ~2x that),
# and CP-SAT deterministic seconds (about one second of one core) per wall second.
WORK_PER_SECOND = 3_000_000
CP_SAT_DETERMINISTIC_SHARE = 0.25
PASS_OVERHEAD_MOVES = 20_000  # a pass's fixed numpy/python cost, counted as this many moves
NEIGHBOURS = 8  # candidate places per segment move: the 8 cheapest arcs into / out of it
OR_OPT_MAX_LEN = 3
OR_OPT_MOVES_PER_PASS = 2_000
KICK_WINDOW = 50
METHODS = ("auto", "held-karp", "cp-sat", "local-search", "routing")
# sequence_week: share of the limit for the key-level ATSP, share kept back for building the
# frames, and the deterministic work (cells of candidate orders costed) per second of the limit.
KEY_ORDER_SHARE = 0.3
WEEK_RESERVE = 0.1
WEEK_WORK_PER_SECOND = 5_000_000  # see "Determinism margin" in the module docstring
_MAX_SCALED_COST = 2**40


class SequencingError(ValueError):
    """A changeover matrix or job list that cannot be sequenced; the message says which cell or job."""


@dataclass(frozen=True)
class SequenceResult:
    """Best order found and its total changeover.

    ``order``: item keys (DataFrame input) or 0-based indices (array input), each once, starting
    with the start item; for a tour the return to ``order[0]`` is implied and counted in ``total``.
    ``total``: changeover time in the matrix's unit. ``optimal``: proven optimal.
    ``method``: held-karp | cp-sat | local-search | routing | constructive | trivial (what found the
    returned order). ``seconds``: wall time.
    ``deterministic_seconds``: CP-SAT's machine-independent work count (when CP-SAT ran).
    ``cut``: "wall" or "work" when that limit stopped the search (None: finished or proven).
    ``constructive_total``: total of the best constructive heuristic (the result is never worse).
    """

    order: list[Any]
    total: float
    optimal: bool = False
    method: str = "trivial"
    seconds: float = 0.0
    deterministic_seconds: float | None = None
    cut: str | None = None
    constructive_total: float | None = None


# --------------------------------------------------------------------------- matrix helpers


def _numeric_values(frame: pd.DataFrame) -> np.ndarray:
    """A frame's cells as floats, non-numbers as NaN (column by column only when needed: slow)."""
    if all(pd.api.types.is_numeric_dtype(d) and not pd.api.types.is_bool_dtype(d) for d in frame.dtypes):
        return frame.to_numpy(dtype=float)
    return frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)


def changeover_matrix(matrix: np.ndarray | pd.DataFrame) -> tuple[np.ndarray, list[Any] | None]:
    """Validate a square changeover matrix; return it as floats (diagonal 0) and its keys.

    A DataFrame's row keys (index) and column keys must be the same set; columns are reordered
    to the rows. Cells must be finite numbers >= 0 (the diagonal is ignored).
    """
    keys: list[Any] | None = None
    if isinstance(matrix, pd.DataFrame):
        rows, cols = list(matrix.index), list(matrix.columns)
        if len(set(rows)) != len(rows):
            raise SequencingError(
                f"changeover matrix has duplicate row key(s) {sorted({str(k) for k in rows if rows.count(k) > 1})}"
            )
        if len(set(cols)) != len(cols):
            raise SequencingError(
                f"changeover matrix has duplicate column key(s) {sorted({str(k) for k in cols if cols.count(k) > 1})}"
            )
        if set(rows) != set(cols):
            only_rows = [k for k in rows if k not in set(cols)]
            only_cols = [k for k in cols if k not in set(rows)]
            raise SequencingError(
                f"changeover matrix row and column keys differ: rows only {only_rows}, columns only {only_cols}"
            )
        frame = matrix.loc[rows, rows]
        keys = rows
        values = _numeric_values(frame)
        raw = frame.to_numpy()
    else:
        raw = np.asarray(matrix)
        if raw.ndim != 2 or raw.shape[0] != raw.shape[1]:
            raise SequencingError(f"changeover matrix must be square, got shape {raw.shape}")
        try:
            values = raw.astype(float)
        except (TypeError, ValueError) as exc:
            raise SequencingError(f"changeover matrix holds non-numeric cells: {exc}") from exc
    n = values.shape[0]
    off_diagonal = ~np.eye(n, dtype=bool)
    bad = off_diagonal & ~np.isfinite(values)
    if bad.any():
        i, j = map(int, np.argwhere(bad)[0])
        name = (keys[i], keys[j]) if keys is not None else (i, j)
        raise SequencingError(f"changeover from {name[0]} to {name[1]} is not a finite number: {raw[i, j]!r}")
    neg = off_diagonal & (values < 0)
    if neg.any():
        i, j = map(int, np.argwhere(neg)[0])
        name = (keys[i], keys[j]) if keys is not None else (i, j)
        raise SequencingError(
            f"changeover from {name[0]} to {name[1]} is negative ({values[i, j]:g}); changeover times must be >= 0"
        )
    values = np.where(off_diagonal, values, 0.0)
    return values, keys


def integer_costs(costs: np.ndarray) -> tuple[np.ndarray, int]:
    """Scale a float matrix to integers for the solvers; return (int64 matrix, scale).

    Integer-valued matrices keep scale 1; otherwise the smallest power of ten (up to 10^6) that
    makes every cell whole is used, or 10^6 with rounding when none does. The scale shrinks if a
    path of all largest cells would overflow 2^40.
    """
    if costs.size == 0:
        return costs.astype(np.int64), 1
    n = costs.shape[0]
    scale = 1
    if np.array_equal(costs, np.round(costs)):
        decimals_range = range(1)
    else:
        decimals_range = range(7)
    for decimals in decimals_range:
        scale = 10**decimals
        scaled = costs * scale
        if np.allclose(scaled, np.round(scaled), rtol=0, atol=1e-6):
            break
    while scale > 1 and float(costs.max()) * scale * max(n, 1) > _MAX_SCALED_COST:
        scale //= 10
    if float(costs.max()) * scale * max(n, 1) > _MAX_SCALED_COST:
        raise SequencingError(
            f"changeover times up to {costs.max():g} are too large to sequence "
            f"{n} items; express them in larger units (e.g. hours)"
        )
    return np.round(costs * scale).astype(np.int64), scale


def sequence_cost(costs: np.ndarray, order: Sequence[int], tour: bool = False) -> float:
    """Total changeover of visiting ``order`` (indices) in turn; with ``tour`` add the way back."""
    order = list(order)
    if len(order) < 2:
        return 0.0
    idx = np.asarray(order)
    total = float(costs[idx[:-1], idx[1:]].sum())
    if tour:
        total += float(costs[idx[-1], idx[0]])
    return total


# --------------------------------------------------------------------------- exact DP


def _held_karp(costs: np.ndarray, start: int | None, tour: bool) -> list[int]:
    """Exact open path / tour by dynamic programming over subsets (O(2^n n^2), n <= ~16)."""
    n = costs.shape[0]
    if tour and start is None:
        start = 0
    full = (1 << n) - 1
    dp = np.full((1 << n, n), np.inf)
    parent = np.full((1 << n, n), -1, dtype=np.int16)
    if start is None:
        for j in range(n):
            dp[1 << j, j] = 0.0
    else:
        dp[1 << start, start] = 0.0
    masks = np.arange(1 << n)
    popcount = np.zeros(1 << n, dtype=np.int64)
    for bit in range(n):
        popcount += (masks >> bit) & 1
    c = costs.astype(float)
    for size in range(2, n + 1):
        layer = masks[popcount == size]
        for k in range(n):
            sel = layer[(layer >> k) & 1 == 1]
            if not len(sel):
                continue
            prev = sel ^ (1 << k)
            cand = dp[prev] + c[:, k]
            arg = cand.argmin(axis=1)
            dp[sel, k] = cand[np.arange(len(sel)), arg]
            parent[sel, k] = arg
    final = dp[full] + (c[:, start] if tour else 0.0)
    if tour and n > 1:
        final[start] = np.inf
    end = int(np.argmin(final))
    order, mask, node = [], full, end
    while node != -1:
        order.append(node)
        prev = int(parent[mask, node])
        mask ^= 1 << node
        node = prev
    return order[::-1]


# --------------------------------------------------------------------------- greedy start


class _PathCost:
    """Cost of candidate item orders (C, n) on an integer matrix, optionally after a fixed first item."""

    keys = None  # no batches at item level

    def __init__(self, costs: np.ndarray, first: int | None, tour: bool):
        self.costs, self.first, self.tour = costs, first, tour

    def __call__(self, orders: np.ndarray) -> np.ndarray:
        if self.first is not None:
            orders = np.concatenate([np.full((orders.shape[0], 1), self.first), orders], axis=1)
        total = self.costs[orders[:, :-1], orders[:, 1:]].sum(axis=1)
        if self.tour:
            total = total + self.costs[orders[:, -1], orders[:, 0]]
        return total


def _greedy(costs: np.ndarray, start: int | None, tour: bool, max_rounds: int = 30) -> list[int]:
    """Nearest neighbour from the start (or the best of all starts), then a short local search."""
    n = costs.shape[0]
    starts = [start] if start is not None else ([0] if tour else list(range(n)))
    best_order, best_cost = None, None
    for s in starts:
        order, free = [s], np.ones(n, dtype=bool)
        free[s] = False
        for _ in range(n - 1):
            row = np.where(free, costs[order[-1]], np.iinfo(np.int64).max)
            nxt = int(np.argmin(row))
            order.append(nxt)
            free[nxt] = False
        cost = sequence_cost(costs, order, tour)
        if best_cost is None or cost < best_cost:
            best_order, best_cost = order, cost
    fixed = start is not None or tour
    first = best_order[0] if fixed else None
    tail = np.array(best_order[1:] if fixed else best_order, dtype=np.int64)
    if 2 < len(tail) <= GREEDY_SEARCH_MAX_ITEMS:  # the local search costs O(n^3) per round
        tail, _ = _local_search(tail, _PathCost(costs, first, tour), max_rounds)
    return ([first] if fixed else []) + [int(i) for i in tail]


# --------------------------------------------------------------------------- budget


class _Budget:
    """A wall-clock deadline plus, in deterministic mode, a work allowance (candidate moves
    evaluated; CP-SAT gets its own deterministic time). ``cut`` records what stopped a search."""

    def __init__(self, deadline: float, work: float | None = None):
        self.deadline, self.work, self.used = deadline, work, 0.0
        self.cut: str | None = None

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def spend(self, amount: float) -> None:
        self.used += amount

    def exhausted(self) -> bool:
        if self.work is not None and self.used >= self.work:
            self.cut = self.cut or "work"
            return True
        if time.perf_counter() >= self.deadline:
            self.cut = "wall"
            return True
        return False

    def share(self, fraction: float) -> _Budget:
        """A sub-budget: ``fraction`` of what is left (wall and work)."""
        deadline = time.perf_counter() + max(self.left(), 0.0) * fraction
        work = None if self.work is None else max(self.work - self.used, 0.0) * fraction
        return _Budget(deadline, work)


# --------------------------------------------------------------------------- closed-tour form


def _as_tour(costs: np.ndarray, start: int | None, tour: bool) -> tuple[np.ndarray, int, bool]:
    """Every variant as a closed asymmetric tour: (matrix, first node, has a dummy node).

    Tour: the matrix itself. Open path from ``start``: arriving back at the start is free. Open
    path with a free start: a dummy node joined to every item at zero cost (the path is the tour
    cut at the dummy)."""
    n = costs.shape[0]
    if tour:
        return costs, (0 if start is None else start), False
    if start is not None:
        c = costs.copy()
        c[:, start] = 0
        return c, start, False
    c = np.zeros((n + 1, n + 1), dtype=costs.dtype)
    c[:n, :n] = costs
    return c, n, True


def _from_tour(order: np.ndarray, first: int, dummy: bool) -> list[int]:
    """Rotate a closed tour to begin at ``first``; drop the dummy node."""
    order = np.asarray(order)
    k = int(np.flatnonzero(order == first)[0])
    rotated = np.roll(order, -k)
    return [int(i) for i in (rotated[1:] if dummy else rotated)]


def _tour_cost(c: np.ndarray, order: np.ndarray) -> int:
    return int(c[order, np.roll(order, -1)].sum())


# --------------------------------------------------------------------------- constructive heuristics


def _nearest_neighbour(c: np.ndarray, first: int) -> np.ndarray:
    """Nearest-neighbour tour from ``first`` (O(n^2), vectorized per step)."""
    n = c.shape[0]
    order = np.empty(n, dtype=np.int64)
    order[0] = first
    free = np.ones(n, dtype=bool)
    free[first] = False
    big = np.iinfo(np.int64).max
    cur = first
    for k in range(1, n):
        cur = int(np.argmin(np.where(free, c[cur], big)))
        order[k] = cur
        free[cur] = False
    return order


def _patching(c: np.ndarray, budget: _Budget) -> np.ndarray | None:
    """Assignment relaxation + Karp-Steele patching (None if the budget runs out first).

    The assignment problem (each item one successor, subtours allowed; scipy's
    linear_sum_assignment) is a lower bound of the ATSP; its subtours are merged, always the
    largest with the cheapest-to-join other one, by exchanging the successors of one item of each
    (arcs x -> x', y -> y' become x -> y', y -> x'). Within a few percent of the optimum on random
    asymmetric matrices; the local search improves it."""
    from scipy.optimize import linear_sum_assignment

    n = c.shape[0]
    a = c.astype(float)
    np.fill_diagonal(a, float(c.max()) * n + 1.0)
    _, succ = linear_sum_assignment(a)
    budget.spend(n * n)
    succ = succ.astype(np.int64)
    cycle = np.full(n, -1, dtype=np.int64)
    for s in range(n):
        v = s
        while cycle[v] < 0:
            cycle[v] = s
            v = succ[v]
    while True:
        labels, sizes = np.unique(cycle, return_counts=True)
        if len(labels) <= 1:
            break
        if budget.exhausted():
            return None
        big = labels[int(np.argmin(sizes))]
        inside = np.flatnonzero(cycle == big)
        outside = np.flatnonzero(cycle != big)
        si, so = succ[inside], succ[outside]
        # replace arcs (x -> x') inside and (y -> y') outside by (x -> y') and (y -> x')
        delta = c[inside][:, so] + c[outside][:, si].T
        delta -= c[inside, si][:, None]
        delta -= c[outside, so][None, :]
        budget.spend(delta.size)
        i, j = np.unravel_index(int(np.argmin(delta)), delta.shape)
        x, y = int(inside[i]), int(outside[j])
        succ[x], succ[y] = succ[y], succ[x]
        cycle[cycle == cycle[y]] = big
    order = np.empty(n, dtype=np.int64)
    v = 0
    for k in range(n):
        order[k] = v
        v = succ[v]
    return order


# --------------------------------------------------------------------------- local search (Or-opt + kicks)


def _neighbour_lists(c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(pred, succ): for each node, the ``k`` nodes with the cheapest arc into / out of it."""
    n = c.shape[0]
    k = max(1, min(k, n - 1))
    d = c.astype(float)
    np.fill_diagonal(d, np.inf)
    if k < n - 1:
        out = np.argpartition(d, k - 1, axis=1)[:, :k]
        into = np.argpartition(d.T, k - 1, axis=1)[:, :k]
    else:
        out, into = np.tile(np.arange(n), (n, 1))[:, :k], np.tile(np.arange(n), (n, 1))[:, :k]
    out = np.take_along_axis(out, np.argsort(np.take_along_axis(d, out, 1), axis=1, kind="stable"), 1)
    into = np.take_along_axis(into, np.argsort(np.take_along_axis(d.T, into, 1), axis=1, kind="stable"), 1)
    return into, out


def _or_opt_pass(
    c: np.ndarray, order: np.ndarray, pred_nb: np.ndarray, succ_nb: np.ndarray, max_len: int = OR_OPT_MAX_LEN
) -> tuple[np.ndarray, int, int]:
    """One pass of segment moves on a closed tour: every segment of 1..``max_len`` items, moved
    (as is or reversed) next to one of its cheapest neighbours, is costed at once (numpy); a set
    of improving moves that touch disjoint items is applied together (their gains add up).
    Returns (new order, total gain, moves evaluated)."""
    n = len(order)
    idx = np.arange(n)
    pos = np.empty(n, dtype=np.int64)
    pos[order] = idx
    succ_of = np.empty(n, dtype=np.int64)
    succ_of[order] = np.roll(order, -1)
    prev = np.roll(order, 1)
    found, evaluated = [], 0
    fwd_int = np.zeros(n, dtype=np.int64)
    rev_int = np.zeros(n, dtype=np.int64)
    for length in range(1, max_len + 1):
        if length + 2 >= n:
            break
        if length > 1:
            u, w = order[(idx + length - 2) % n], order[(idx + length - 1) % n]
            fwd_int = fwd_int + c[u, w]
            rev_int = rev_int + c[w, u]
        s0, e, q = order, order[(idx + length - 1) % n], order[(idx + length) % n]
        removed = c[prev, s0] + c[e, q] - c[prev, q]
        for rev in (False, True) if length > 1 else (False,):
            head, tail = (e, s0) if rev else (s0, e)
            a1 = pred_nb[head]
            b2 = succ_nb[tail]
            a = np.concatenate([a1, order[(pos[b2] - 1) % n]], axis=1)
            b = np.concatenate([succ_of[a1], b2], axis=1)
            added = c[a, head[:, None]] + c[tail[:, None], b] - c[a, b]
            if rev:
                added = added + (rev_int - fwd_int)[:, None]
            gain = removed[:, None] - added
            offset = (pos[a] - idx[:, None]) % n  # a must lie outside the segment and not be its predecessor
            gain = np.where((offset >= length) & (offset != n - 1), gain, 0)
            evaluated += gain.size
            ii, kk = np.nonzero(gain > 0)
            if len(ii):
                found.append(
                    np.stack(
                        [gain[ii, kk], np.full(len(ii), length), ii, a[ii, kk], np.full(len(ii), int(rev))], axis=1
                    )
                )
    if not found:
        return order, 0, evaluated
    moves = np.concatenate(found)
    moves = moves[np.lexsort((moves[:, 4], moves[:, 3], moves[:, 2], moves[:, 1], -moves[:, 0]))]
    used = np.zeros(n, dtype=bool)
    succ = succ_of.copy()
    total = 0
    for g, length, i, a, rev in moves[:OR_OPT_MOVES_PER_PASS].tolist():
        seg = [int(order[(i + t) % n]) for t in range(length)]
        p, q, b = int(order[(i - 1) % n]), int(order[(i + length) % n]), int(succ_of[a])
        touched = seg + [p, q, a, b]
        if used[touched].any():
            continue
        used[touched] = True
        succ[p] = q
        if rev:
            succ[a] = seg[-1]
            for t in range(length - 1, 0, -1):
                succ[seg[t]] = seg[t - 1]
            succ[seg[0]] = b
        else:
            succ[a] = seg[0]
            succ[seg[-1]] = b
        total += g
    new = np.empty(n, dtype=np.int64)
    v = int(order[0])
    for k in range(n):
        new[k] = v
        v = succ[v]
    return new, int(total), evaluated


def _descend(c, order, pred_nb, succ_nb, budget: _Budget) -> np.ndarray:
    """Or-opt passes until none improves or the budget runs out."""
    while not budget.exhausted():
        order, gain, evaluated = _or_opt_pass(c, order, pred_nb, succ_nb)
        budget.spend(evaluated + PASS_OVERHEAD_MOVES)
        if gain <= 0:
            break
    return order


def _kick_search(c: np.ndarray, order: np.ndarray, budget: _Budget, seed: int) -> tuple[np.ndarray, int, int]:
    """Iterated local search on a closed tour: Or-opt descent, then repeated local double-bridge
    kicks (three cut points within a window of ``KICK_WINDOW`` positions, segments swapped without
    reversal, so asymmetric costs stay valid) each followed by descent, keeping a kicked tour when
    it is no worse. Seeded; stops when the budget (wall, or work in deterministic mode) runs out.
    Returns (best order, its cost, kicks)."""
    n = c.shape[0]
    if n < 5 or budget.exhausted():
        return order, _tour_cost(c, order), 0
    rng = np.random.default_rng(seed)
    pred_nb, succ_nb = _neighbour_lists(c, NEIGHBOURS)
    budget.spend(n * n)
    current = _descend(c, order, pred_nb, succ_nb, budget)
    current_cost = _tour_cost(c, current)
    best, best_cost, kicks = current, current_cost, 0
    window = min(n, KICK_WINDOW)
    while not budget.exhausted():
        shift = int(rng.integers(0, n))
        i, j, k = np.sort(rng.choice(np.arange(1, window), 3, replace=False))
        rolled = np.roll(current, -shift)
        kicked = np.concatenate([rolled[:i], rolled[j:k], rolled[i:j], rolled[k:]])
        kicked = _descend(c, kicked, pred_nb, succ_nb, budget)
        kicks += 1
        cost = _tour_cost(c, kicked)
        if cost <= current_cost:
            current, current_cost = kicked, cost
            if cost < best_cost:
                best, best_cost = kicked, cost
    return best, best_cost, kicks


# --------------------------------------------------------------------------- CP-SAT


def _cp_sat(
    costs: np.ndarray,
    start: int | None,
    tour: bool,
    budget: _Budget,
    seed: int,
    deterministic_s: float | None = None,
    hint: np.ndarray | None = None,
) -> tuple[list[int] | None, bool, float]:
    """Circuit model: tour over the items, plus a dummy node when an open path has a free start.

    Stops at the budget's wall deadline and, when given, after ``deterministic_s`` of CP-SAT's
    deterministic time (the deterministic mode). Returns (order or None when no solution was
    found in time, proven optimal, deterministic time used). ``hint``: a closed tour on the same
    nodes (the dummy included) given to CP-SAT as a solution hint; :func:`solve_sequence` passes
    the local-search tour above ``CP_SAT_HINT_MIN_ITEMS`` items (measured there; a greedy hint
    once doubled the work to prove small TSPLIB instances, p43 still needs more with one).
    """
    from ortools.sat.python import cp_model

    n = costs.shape[0]
    dummy = n if (not tour and start is None) else None
    nodes = n + (1 if dummy is not None else 0)
    model = cp_model.CpModel()
    arcs, arc_var, obj_vars, obj_costs = [], {}, [], []
    for i in range(nodes):
        for j in range(nodes):
            if i == j:
                continue
            var = model.new_bool_var(f"x_{i}_{j}")
            arcs.append((i, j, var))
            arc_var[i, j] = var
            if i == dummy or j == dummy:
                cost = 0
            elif not tour and j == start:
                cost = 0  # open path: nothing is paid to "return" to the start
            else:
                cost = int(costs[i, j])
            if cost:
                obj_vars.append(var)
                obj_costs.append(cost)
    model.add_circuit(arcs)
    model.minimize(cp_model.LinearExpr.weighted_sum(obj_vars, obj_costs))
    if hint is not None:
        succ_hint = {int(a): int(b) for a, b in zip(hint, np.roll(hint, -1))}
        for (i, j), var in arc_var.items():
            model.add_hint(var, succ_hint[i] == j)
    left = budget.left()
    if left <= 0.05:
        return None, False, 0.0
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.num_workers = CP_SAT_WORKERS
    params.interleave_search = True
    params.random_seed = int(seed)
    params.max_time_in_seconds = left
    if deterministic_s is not None:
        params.max_deterministic_time = float(deterministic_s)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, False, float(solver.deterministic_time)
    if status != cp_model.OPTIMAL:
        budget.cut = budget.cut or (
            "work" if deterministic_s is not None and solver.wall_time < left * 0.95 else "wall"
        )
    succ = {i: j for (i, j), var in arc_var.items() if solver.boolean_value(var)}
    first = dummy if dummy is not None else (start if start is not None else 0)
    order, node = [], succ[first]
    if dummy is None:
        order.append(first)
    while node != first:
        order.append(node)
        node = succ[node]
    return order, status == cp_model.OPTIMAL, float(solver.deterministic_time)


# --------------------------------------------------------------------------- routing


def _routing(c: np.ndarray, first: int, initial: np.ndarray, budget: _Budget) -> np.ndarray:
    """OR-Tools routing (one vehicle, depot = ``first``) with guided local search on the closed-tour
    matrix, started from ``initial`` and given the whole remaining wall budget. Kept for
    comparison (``method="routing"``): on the benchmark instances the Or-opt search beats it in
    the same time (``benchmarks/README.md``)."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = c.shape[0]
    arc = c.copy()
    np.fill_diagonal(arc, 0)
    manager = pywrapcp.RoutingIndexManager(n, 1, int(first))
    routing = pywrapcp.RoutingModel(manager)
    transit = routing.RegisterTransitMatrix(arc.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    left = budget.left()
    if left <= 0.05:
        return initial
    params.time_limit.FromMilliseconds(max(1, int(left * 1000)))
    rotated = np.roll(initial, -int(np.flatnonzero(initial == first)[0]))
    start_assignment = routing.ReadAssignmentFromRoutes([[int(i) for i in rotated[1:]]], True)
    solution = routing.SolveFromAssignmentWithParameters(start_assignment, params)
    if time.perf_counter() >= budget.deadline:
        budget.cut = "wall"
    if solution is None:
        return initial
    order = [int(first)]
    index = solution.Value(routing.NextVar(routing.Start(0)))
    while not routing.IsEnd(index):
        order.append(manager.IndexToNode(index))
        index = solution.Value(routing.NextVar(index))
    return np.array(order, dtype=np.int64)


# --------------------------------------------------------------------------- public solver


def _constructive(
    costs: np.ndarray, c: np.ndarray, first: int, dummy: bool, start: int | None, tour: bool, budget: _Budget
) -> tuple[np.ndarray, str]:
    """Best closed tour of the constructive heuristics: nearest neighbour, assignment + patching,
    and (up to GREEDY_SEARCH_MAX_ITEMS items) the best-start greedy with its short local search."""
    n = costs.shape[0]
    options = [(_nearest_neighbour(c, first), "nearest-neighbour")]
    patched = _patching(c, budget.share(PATCHING_SHARE))
    if patched is not None:
        options.append((patched, "patching"))
    if n <= GREEDY_SEARCH_MAX_ITEMS:
        path = _greedy(costs, start, tour)
        options.append((np.array(([first] if dummy else []) + path, dtype=np.int64), "greedy"))
    return min(options, key=lambda o: _tour_cost(c, o[0]))


def solve_sequence(
    matrix: np.ndarray | pd.DataFrame,
    start: Hashable | None = None,
    tour: bool = False,
    time_limit_s: float = 10.0,
    seed: int = 0,
    method: str = "auto",
    deterministic: bool = False,
) -> SequenceResult:
    """Order items to minimise total sequence-dependent changeover.

    ``matrix``: square, cell (i, j) = changeover time from item i to item j (any unit, >= 0,
    asymmetric allowed; diagonal ignored). A DataFrame is keyed by its index (= its columns);
    an array by position. ``start``: the item to begin with (the current setup), a key or a
    position; None = free start (a tour then starts at the first item). ``tour``: closed tour
    returning to the start, else an open path.

    ``time_limit_s``: wall seconds for the whole call (validation, construction, search, result),
    kept to within a few hundredths of a second plus one search step. ``deterministic``: also
    stop on a machine-independent work count sized to about a quarter to half of the limit
    (moves evaluated by the local search, CP-SAT deterministic seconds), so the same input, seed
    and limit give the same answer on any machine as long as the wall limit is not reached first
    (``SequenceResult.cut`` says which limit stopped the search).

    ``method``: auto (held-karp up to EXACT_MAX_ITEMS items; up to CP_SAT_MAX_ITEMS a short
    local search then CP-SAT for the rest of the time; above, the local search alone),
    held-karp, cp-sat, local-search, routing. Every method except held-karp also builds the
    constructive heuristics (nearest neighbour, assignment + patching, best-start greedy) and
    never returns an order worse than the best of them.
    """
    began = time.perf_counter()
    if method not in METHODS:
        raise SequencingError(f"unknown method {method!r}; use one of {METHODS}")
    if not time_limit_s > 0:
        raise SequencingError(f"time limit must be > 0 seconds, got {time_limit_s}")
    deadline = began + time_limit_s * (1.0 - LIMIT_RESERVE)
    values, keys = changeover_matrix(matrix)
    n = values.shape[0]
    start_idx: int | None = None
    if start is not None:
        if keys is not None:
            if start not in keys:
                raise SequencingError(
                    f"start item {start!r} is not in the changeover matrix (items: "
                    f"{', '.join(map(str, keys[:10]))}{', ...' if n > 10 else ''})"
                )
            start_idx = keys.index(start)
        else:
            if not isinstance(start, (int, np.integer)) or not 0 <= int(start) < n:
                raise SequencingError(f"start position {start!r} is outside 0..{n - 1}")
            start_idx = int(start)
    work = WORK_PER_SECOND * time_limit_s if deterministic else None
    budget = _Budget(deadline, work)

    def result(
        order: list[int], optimal: bool, used: str, work_s: float | None = None, constructive: float | None = None
    ) -> SequenceResult:
        total = sequence_cost(values, order, tour)
        labels = [keys[i] for i in order] if keys is not None else [int(i) for i in order]
        return SequenceResult(
            labels,
            total,
            optimal,
            used,
            time.perf_counter() - began,
            work_s,
            None if optimal else budget.cut,
            constructive,
        )

    if n == 0:
        return result([], True, "trivial")
    if n == 1 or (n == 2 and (tour or start_idx is not None)):
        first = 0 if start_idx is None else start_idx
        return result([first] + [i for i in range(n) if i != first], True, "trivial")
    scaled, _ = integer_costs(values)
    if method == "held-karp" or (method == "auto" and n <= EXACT_MAX_ITEMS):
        if n > 16:
            raise SequencingError(f"held-karp is limited to 16 items (memory 2^n x n); got {n}")
        return result(_held_karp(scaled, start_idx, tour), True, "held-karp")

    c, first, dummy = _as_tour(scaled, start_idx, tour)
    base, _ = _constructive(scaled, c, first, dummy, start_idx, tour, budget)
    base_cost = _tour_cost(c, base)
    base_total = sequence_cost(values, _from_tour(base, first, dummy), tour)
    best, used, optimal, work_s = base, "constructive", False, None
    use_cp_sat = method == "cp-sat" or (method == "auto" and n <= CP_SAT_MAX_ITEMS)
    if method in ("auto", "local-search"):
        search_budget = budget.share(LOCAL_SEARCH_SHARE) if use_cp_sat else budget
        found, found_cost, _ = _kick_search(c, base, search_budget, seed)
        budget.spend(search_budget.used)
        budget.cut = budget.cut or (search_budget.cut if not use_cp_sat else None)
        if found_cost < base_cost:
            best, used = found, "local-search"
    if method == "routing":
        found = _routing(c, first, base, budget)
        if _tour_cost(c, found) < base_cost:
            best, used = found, "routing"
    if use_cp_sat:
        det = (CP_SAT_DETERMINISTIC_SHARE * time_limit_s * (1 - LOCAL_SEARCH_SHARE)) if deterministic else None
        order, optimal, work_s = _cp_sat(
            scaled, start_idx, tour, budget, seed, det, hint=best if n > CP_SAT_HINT_MIN_ITEMS else None
        )
        if order is not None:
            found = np.array(([first] if dummy else []) + order, dtype=np.int64)
            if optimal or _tour_cost(c, found) < _tour_cost(c, best):
                best, used = found, "cp-sat"
            else:
                optimal = False
    return result(_from_tour(best, first, dummy), optimal, used, work_s, base_total)


# --------------------------------------------------------------------------- weekly sequencing

JOB_COLUMNS = ("job_id", "sku", "qty", "run_hours", "due")


@dataclass
class WeekSequence:
    """Result of :func:`sequence_week`.

    ``jobs``: the optimized sequence, one row per job: position (1-based), job_id, sku, setup_key,
    qty, scheduled_qty (the part timed inside the calendar), unscheduled_qty (the rest: did not
    fit), run_hours, changeover_minutes (before the job), changeover_start, start (production
    start, after the changeover), end (both empty when nothing of the job is scheduled), due,
    late (end > due), tardiness_hours, fits_in_week (the whole job ends within the calendar).
    ``fifo``: the same columns for the FIFO baseline. ``summary``: see
    :func:`sequence_week`.
    """

    jobs: pd.DataFrame
    fifo: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def _changeover_lookup(changeovers: pd.DataFrame, keys: list[Any], default_minutes: float | None) -> np.ndarray:
    """Minutes between setup keys; missing pairs = ``default_minutes`` or the largest known value."""
    n = len(keys)
    minutes = np.full((n, n), np.nan)
    if {"from_key", "to_key", "minutes"}.issubset(changeovers.columns):
        if "resource_id" in changeovers.columns and changeovers["resource_id"].nunique() > 1:
            raise SequencingError(
                f"the changeover table holds several resources "
                f"({', '.join(map(str, sorted(changeovers['resource_id'].unique())))}); "
                f"pass only the rows of the resource being sequenced"
            )
        key_index = pd.Index(keys)
        f = key_index.get_indexer(changeovers["from_key"])
        t = key_index.get_indexer(changeovers["to_key"])
        known = pd.to_numeric(changeovers["minutes"], errors="coerce")
        ok = (f >= 0) & (t >= 0)
        minutes[f[ok], t[ok]] = known.to_numpy(dtype=float)[ok]
    else:  # a square matrix keyed by index and columns
        sub = changeovers.reindex(index=[k for k in keys], columns=[k for k in keys])
        minutes = _numeric_values(sub)
        known = pd.Series(_numeric_values(changeovers).ravel())
    if (known < 0).any():
        raise SequencingError("changeover minutes must be >= 0; the changeover table has negative values")
    if default_minutes is None:
        default_minutes = float(known.max()) if known.notna().any() else 0.0
    minutes = np.where(np.isnan(minutes), float(default_minutes), minutes)
    np.fill_diagonal(minutes, 0.0)
    return minutes


def _timing(
    order: np.ndarray,
    key_idx: np.ndarray,
    minutes_ext: np.ndarray,
    start_row: int,
    run_h: np.ndarray,
    due_h: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vectorized timing of candidate orders (C, n): changeover minutes, start, end, tardiness hours."""
    keys = key_idx[order]
    prev = np.concatenate([np.full((order.shape[0], 1), start_row), keys[:, :-1]], axis=1)
    co_min = minutes_ext[prev, keys]
    durations = run_h[order] + co_min / 60.0
    end = np.cumsum(durations, axis=1)
    start = end - run_h[order]
    tard = np.maximum(end - due_h[order], 0.0)
    return co_min, start, end, tard


def _candidate_chunks(order: np.ndarray, keys: np.ndarray | None, job_moves: bool):
    """Candidate orders around ``order`` in chunks of at most _EVAL_CHUNK_CELLS cells (bounded
    memory at any size): relocate one job and swap two jobs (``job_moves``), then move one batch
    (run of the same setup key) to another batch boundary."""
    n = len(order)
    rows = max(1, _EVAL_CHUNK_CELLS // max(n, 1))
    if job_moves:
        # drop position i and append it at the end; then insert the last element at j
        drop = np.array([[k for k in range(n) if k != i] + [i] for i in range(n)])
        insert = np.array([list(range(j)) + [n - 1] + list(range(j, n - 1)) for j in range(n)])
        per = max(1, rows // n)
        for i0 in range(0, n, per):
            yield order[drop[i0 : i0 + per]][:, insert].reshape(-1, n)
        pairs = np.array([(i, j) for i in range(n) for j in range(i + 1, n)])
        for p0 in range(0, len(pairs), rows):
            p = pairs[p0 : p0 + rows]
            swap_idx = np.tile(np.arange(n), (len(p), 1))
            swap_idx[np.arange(len(p)), p[:, 0]] = p[:, 1]
            swap_idx[np.arange(len(p)), p[:, 1]] = p[:, 0]
            yield order[swap_idx]
    if keys is None:
        return
    k = keys[order]
    cuts = [0] + [i for i in range(1, n) if k[i] != k[i - 1]] + [n]
    blocks = len(cuts) - 1
    if blocks < 3:
        return
    out: list[np.ndarray] = []
    for b in range(blocks):
        sb, eb = cuts[b], cuts[b + 1]
        for pos in range(blocks):  # the block's place among the other blocks (pos == b: where it is)
            if pos == b:
                continue
            if pos < b:
                t = cuts[pos]
                out.append(np.concatenate([order[:t], order[sb:eb], order[t:sb], order[eb:]]))
            else:
                t = cuts[pos + 1]
                out.append(np.concatenate([order[:sb], order[eb:t], order[sb:eb], order[t:]]))
            if len(out) >= rows:
                yield np.array(out)
                out = []
    if out:
        yield np.array(out)


def _local_search(
    order: np.ndarray, cost_fn, max_rounds: int, job_moves: bool = True, budget: _Budget | None = None
) -> tuple[np.ndarray, float]:
    """Best-improvement search over relocate-job, swap-jobs and relocate-batch moves (batch moves
    only when ``job_moves`` is False). Each round costs every candidate (chunk by chunk) and
    takes the best; with a ``budget`` the search stops between chunks when it runs out (a round
    cut short still takes the best improvement it has seen), counting cells costed as work."""
    n = len(order)
    best = order.copy()
    best_cost = float(cost_fn(best[None, :])[0])
    if n < 2:
        return best, best_cost
    for _ in range(max_rounds):
        round_best, round_cost, stop = None, best_cost - 1e-9, False
        for cand in _candidate_chunks(best, cost_fn.keys, job_moves):
            if budget is not None and budget.exhausted():
                stop = True
                break
            costs = cost_fn(cand)
            if budget is not None:
                budget.spend(cand.size)
            k = int(np.argmin(costs))
            if costs[k] < round_cost:
                round_best, round_cost = cand[k].copy(), float(costs[k])
        if round_best is None:
            break
        best, best_cost = round_best, round_cost
        if stop:
            break
    return best, best_cost


class _SequenceCost:
    """Cost of candidate job orders: changeover minutes + penalty x tardiness hours."""

    def __init__(self, key_idx, minutes_ext, start_row, run_h, due_h, penalty):
        self.keys, self.minutes_ext, self.start_row = key_idx, minutes_ext, start_row
        self.run_h, self.due_h, self.penalty = run_h, due_h, penalty

    def __call__(self, orders: np.ndarray) -> np.ndarray:
        co_min, _, _, tard = _timing(orders, self.keys, self.minutes_ext, self.start_row, self.run_h, self.due_h)
        return co_min.sum(axis=1) + self.penalty * tard.sum(axis=1)


def _check_jobs(jobs: pd.DataFrame) -> None:
    require_columns(jobs, JOB_COLUMNS, "the job list", error=SequencingError, optional=["setup_key"])
    if jobs["job_id"].duplicated().any():
        dup = jobs.loc[jobs["job_id"].duplicated(), "job_id"].iloc[0]
        raise SequencingError(f"job {dup!r} appears twice in the week's jobs")
    run = pd.to_numeric(jobs["run_hours"], errors="coerce")
    bad = jobs[run.isna() | (run < 0)]
    if len(bad):
        raise SequencingError(
            f"job {bad['job_id'].iloc[0]!r} has run_hours {bad['run_hours'].iloc[0]!r}; run hours must be a number >= 0"
        )
    if pd.to_datetime(jobs["due"], errors="coerce").isna().any():
        job = jobs.loc[pd.to_datetime(jobs["due"], errors="coerce").isna(), "job_id"].iloc[0]
        raise SequencingError(f"job {job!r} has no valid due date")


def _due_hours(calendar: WorkCalendar, week_start: pd.Timestamp, due: pd.Series) -> np.ndarray:
    """Due dates as productive hours of the calendar (a job is late when its end, in productive
    hours, passes this). Before the first window / after the last, clock hours count on, so a due
    date outside the calendar still orders jobs (and a continuous calendar keeps clock hours)."""
    due = pd.to_datetime(due)
    if not calendar.windows:
        return ((due - week_start) / pd.Timedelta(hours=1)).to_numpy(dtype=float)
    first, last = calendar.windows[0][0], calendar.end
    inside = calendar.offset(due)
    before = np.minimum(((due - first) / pd.Timedelta(hours=1)).to_numpy(dtype=float), 0.0)
    after = np.maximum(((due - last) / pd.Timedelta(hours=1)).to_numpy(dtype=float), 0.0)
    return inside + before + after


def _schedule_frame(
    jobs: pd.DataFrame, order: np.ndarray, timing, calendar: WorkCalendar, min_run: np.ndarray
) -> pd.DataFrame:
    """One row per job in ``order``, timed on the calendar; what does not fit is unscheduled.

    A job that starts inside the calendar but runs past its end keeps the part that fits when
    that part is at least the job's minimum run (else none of it); later jobs are unscheduled.
    """
    co_min, start, end, tard = (t[0] for t in timing)
    available = calendar.hours
    out = jobs.iloc[order].reset_index(drop=True)
    qty = out["qty"].astype(float).to_numpy()
    run = out["run_hours"].astype(float).to_numpy()
    runs = min_run[order]
    eps = 1e-9
    fits = end <= available + eps
    with np.errstate(divide="ignore", invalid="ignore"):
        part = np.where(run > 0, qty * np.clip((available - start) / np.where(run > 0, run, 1.0), 0.0, 1.0), 0.0)
    partial = ~fits & (start < available - eps) & (part > eps) & (part >= runs - eps)
    scheduled = np.where(fits, qty, np.where(partial, part, 0.0))
    made = fits | partial
    end_h = np.minimum(end, available)
    co_start = calendar.at(start - co_min / 60.0, "start")
    start_ts = calendar.at(start, "start").fillna(calendar.at(start, "end"))  # a 0-hour job at the very end
    end_ts = calendar.at(end_h, "end")
    out.insert(0, "position", np.arange(1, len(order) + 1))
    out["changeover_minutes"] = co_min
    out["changeover_start"] = co_start.where(made).to_numpy()
    out["start"] = start_ts.where(made).to_numpy()
    out["end"] = end_ts.where(made).to_numpy()
    out["tardiness_hours"] = tard
    out["late"] = tard > 1e-9
    out["scheduled_qty"] = scheduled
    out["unscheduled_qty"] = np.maximum(qty - scheduled, 0.0)
    out["fits_in_week"] = fits
    cols = [
        "position",
        "job_id",
        "sku",
        "setup_key",
        "qty",
        "scheduled_qty",
        "unscheduled_qty",
        "run_hours",
        "changeover_minutes",
        "changeover_start",
        "start",
        "end",
        "due",
        "late",
        "tardiness_hours",
        "fits_in_week",
    ]
    return out[cols + [c for c in out.columns if c not in cols]]


def sequence_week(
    jobs: pd.DataFrame,
    changeovers: pd.DataFrame,
    week_start: pd.Timestamp | str,
    available_hours: float | None = None,
    current_setup: Hashable | None = None,
    *,
    calendar: WorkCalendar | None = None,
    default_changeover_minutes: float | None = None,
    tardiness_penalty_minutes_per_hour: float = 1000.0,
    performance: float = 1.0,
    quality: float = 1.0,
    time_limit_s: float = 5.0,
    seed: int = 0,
    max_rounds: int = 200,
    deterministic: bool = True,
) -> WeekSequence:
    """Sequence one resource's jobs for one week: fewer changeover minutes, due dates kept.

    ``jobs``: job_id, sku, qty (units), run_hours (hours), due (timestamp), optional setup_key
    (setup family; default the sku) and min_run_units (the smallest lot worth running; default
    0). ``changeovers``: minutes between setup keys, either long (from_key, to_key, minutes; the
    ``changeovers`` extract filtered to the resource) or a square matrix keyed by index and
    columns. Missing pairs cost ``default_changeover_minutes``, or the largest known changeover
    when None (conservative); the same key costs 0. A resource without any changeover minutes
    (tooling or labour with no matrix) is sequenced by due date (EDD) with zero changeovers.
    ``current_setup``: the key the resource is set up for at week start (None: no changeover
    before the first job).

    Time: ``calendar`` (:class:`~sop_pipeline.analytics.capacity.WorkCalendar`, e.g. from
    :func:`~sop_pipeline.analytics.capacity.shift_calendar`: 16 h x 5 days less planned
    downtime) gives the working windows; without one the resource works ``available_hours``
    continuously from ``week_start``. The sequence runs in productive hours - each job's
    changeover just before it, ``start`` when its production starts - and the hours are mapped
    to clock times inside the windows, so no job starts or ends outside a shift (a long job runs
    across several shifts). Work beyond the calendar is not stretched into the night: a job that
    does not fit is reported (``fits_in_week`` False, ``unscheduled_qty``); one that starts in
    time keeps the part that fits (``scheduled_qty``, ending when the last shift closes) if that
    part is at least its minimum run, otherwise none of it is scheduled and its times are empty.
    Lateness: end > due (due dates in productive hours of the calendar); tardiness in hours.

    Method: batch jobs by setup key (earliest due first inside a batch), order the batches by the
    key-level ATSP from the current setup (:func:`solve_sequence`), then run a best-improvement
    local search (relocate a job, relocate a batch, swap two jobs) from that order and from the
    due-date order, on changeover minutes + ``tardiness_penalty_minutes_per_hour`` x hours late.
    Weeks with more than ``JOB_SEARCH_MAX_JOBS`` jobs search batch moves only (job moves grow
    with the cube of the job count). Candidates are costed in chunks, so memory stays bounded
    at any size.

    Time: ``time_limit_s`` bounds the wall time of the whole call (the key-level ATSP gets
    ``KEY_ORDER_SHARE`` of it). With ``deterministic`` (the default, used by the pipeline) the
    searches also stop on a work count (cells costed, moves evaluated, CP-SAT deterministic
    time) sized to a fraction of the limit, so the same week gives the same sequence on any
    machine; only when the machine is too slow to do that work within the limit does the wall
    clock cut the search first (``summary["search_cut"]`` is then "wall").

    ``summary`` keys: jobs, run_hours, available_hours, required_hours (run + optimized
    changeover), fits (required <= available), planned_units, scheduled_units,
    unscheduled_units, jobs_unscheduled, changeover_hours_fifo, changeover_hours_optimized,
    changeover_hours_saved_pct, late_orders_fifo, late_orders_optimized, tardiness_hours_fifo,
    tardiness_hours_optimized, oee_fifo, oee_optimized, oee_uplift_pts, key_order_optimal. OEE
    uses availability = run / (run + changeover) hours (the sequence's planned production time
    is the time it occupies, as in ``oee.availability``) times the given ``performance`` and
    ``quality`` ratios, which the sequence does not change.
    """
    began = time.perf_counter()
    _check_jobs(jobs)
    if not time_limit_s > 0:
        raise SequencingError(f"time limit must be > 0 seconds, got {time_limit_s}")
    budget = _Budget(
        began + time_limit_s * (1.0 - WEEK_RESERVE),
        WEEK_WORK_PER_SECOND * time_limit_s * (1.0 - KEY_ORDER_SHARE) if deterministic else None,
    )
    week_start = pd.Timestamp(week_start)
    if calendar is None:
        if available_hours is None:
            raise SequencingError("give the week's available_hours or a calendar")
        if available_hours < 0:
            raise SequencingError(f"available hours must be >= 0, got {available_hours}")
        calendar = WorkCalendar.continuous(week_start, available_hours)
    elif available_hours is not None and abs(float(available_hours) - calendar.hours) > 1e-6:
        raise SequencingError(
            f"available_hours {available_hours:g} differs from the calendar's "
            f"{calendar.hours:g} hours; pass one of them"
        )
    jobs = jobs.reset_index(drop=True).copy()
    if "setup_key" not in jobs.columns:
        jobs["setup_key"] = jobs["sku"]
    jobs["setup_key"] = jobs["setup_key"].fillna(jobs["sku"])
    jobs["due"] = pd.to_datetime(jobs["due"])
    min_run = (
        pd.to_numeric(jobs["min_run_units"], errors="coerce").fillna(0.0).to_numpy(float)
        if "min_run_units" in jobs.columns
        else np.zeros(len(jobs))
    )
    n = len(jobs)
    keys = list(dict.fromkeys(jobs["setup_key"]))
    all_keys = keys + ([current_setup] if current_setup is not None and current_setup not in keys else [])
    minutes = _changeover_lookup(changeovers, all_keys, default_changeover_minutes)
    # extra last row = "no current setup": free first changeover
    minutes_ext = np.vstack([minutes, np.zeros((1, len(all_keys)))])
    start_row = all_keys.index(current_setup) if current_setup is not None else len(all_keys)
    key_of = {k: i for i, k in enumerate(all_keys)}
    key_idx = jobs["setup_key"].map(key_of).to_numpy()
    run_h = jobs["run_hours"].astype(float).to_numpy()
    due_h = _due_hours(calendar, week_start, jobs["due"])
    cost_fn = _SequenceCost(key_idx, minutes_ext, start_row, run_h, due_h, float(tardiness_penalty_minutes_per_hour))

    fifo = np.lexsort((np.arange(n), jobs["due"].to_numpy()))  # due date, then input order
    key_optimal = True
    if n and minutes.any():
        # key-level ATSP from the current setup
        key_positions = list(range(len(all_keys)))
        key_limit = max(min(time_limit_s * KEY_ORDER_SHARE, budget.left()), 1e-3)
        key_result = solve_sequence(
            minutes,
            start=(start_row if current_setup is not None else None),
            tour=False,
            time_limit_s=key_limit,
            seed=seed,
            deterministic=deterministic,
        )
        key_optimal = key_result.optimal
        if key_result.cut:
            budget.cut = key_result.cut
        batch_of = {k: [] for k in key_positions}
        for i in fifo:  # due-date order inside each batch
            batch_of[int(key_idx[i])].append(int(i))
        batched = np.array([i for k in key_result.order for i in batch_of[k]], dtype=np.int64)
        if n <= JOB_SEARCH_MAX_JOBS:
            first_budget = budget.share(0.5)
            candidates = [_local_search(batched, cost_fn, max_rounds, budget=first_budget)]
            budget.spend(first_budget.used)
            budget.cut = budget.cut or first_budget.cut
            candidates.append(_local_search(fifo, cost_fn, max_rounds, budget=budget))
        else:  # batch moves from the batched order; the due-date order itself as the fallback
            candidates = [
                _local_search(batched, cost_fn, max_rounds, job_moves=False, budget=budget),
                (fifo, float(cost_fn(fifo[None, :])[0])),
            ]
        best = min(candidates, key=lambda c: c[1])[0]
    else:  # no changeovers to save (or no jobs): earliest due date first
        best = fifo
    opt_timing = _timing(best[None, :], key_idx, minutes_ext, start_row, run_h, due_h)
    fifo_timing = _timing(fifo[None, :], key_idx, minutes_ext, start_row, run_h, due_h)
    opt_frame = _schedule_frame(jobs, best, opt_timing, calendar, min_run)
    fifo_frame = _schedule_frame(jobs, fifo, fifo_timing, calendar, min_run)

    run_total = float(run_h.sum())
    co_fifo = float(fifo_frame["changeover_minutes"].sum()) / 60.0
    co_opt = float(opt_frame["changeover_minutes"].sum()) / 60.0
    oee_fifo = oee_from_factors(availability(run_total, run_total + co_fifo), performance, quality)
    oee_opt = oee_from_factors(availability(run_total, run_total + co_opt), performance, quality)
    unscheduled = float(opt_frame["unscheduled_qty"].sum())
    summary = {
        "jobs": n,
        "run_hours": run_total,
        "available_hours": calendar.hours,
        "required_hours": run_total + co_opt,
        "fits": bool(run_total + co_opt <= calendar.hours + 1e-9),
        "planned_units": float(opt_frame["qty"].astype(float).sum()),
        "scheduled_units": float(opt_frame["scheduled_qty"].sum()),
        "unscheduled_units": unscheduled,
        "jobs_unscheduled": int((opt_frame["unscheduled_qty"] > 1e-9).sum()),
        "changeover_hours_fifo": co_fifo,
        "changeover_hours_optimized": co_opt,
        "changeover_hours_saved_pct": (100.0 * (co_fifo - co_opt) / co_fifo) if co_fifo > 0 else 0.0,
        "late_orders_fifo": int(fifo_frame["late"].sum()),
        "late_orders_optimized": int(opt_frame["late"].sum()),
        "tardiness_hours_fifo": float(fifo_frame["tardiness_hours"].sum()),
        "tardiness_hours_optimized": float(opt_frame["tardiness_hours"].sum()),
        "oee_fifo": oee_fifo,
        "oee_optimized": oee_opt,
        "oee_uplift_pts": 100.0 * (oee_opt - oee_fifo) if n else 0.0,
        "key_order_optimal": bool(key_optimal),
        "search_cut": budget.cut,
    }
    return WeekSequence(jobs=opt_frame, fifo=fifo_frame, summary=summary)
