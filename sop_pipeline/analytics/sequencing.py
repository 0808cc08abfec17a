"""Changeover-optimal production sequences (asymmetric TSP) and the weekly sequence of one resource.

Two layers:

1. :func:`solve_sequence` orders items (SKUs, setup families, ...) so the sum of
   sequence-dependent changeover times is smallest, as an open path (a week's run: start at the
   current setup or anywhere, end anywhere) or a closed tour (``tour=True``: back to the first
   item, the textbook asymmetric TSP). Methods:

   - ``held-karp``: exact dynamic programming for up to ``EXACT_MAX_ITEMS`` items, so small
     answers are provably optimal.
   - ``cp-sat``: OR-Tools CP-SAT with ``AddCircuit`` (its LP relaxation with circuit cuts proves
     optimality on most TSPLIB ATSP instances up to ~170 cities). Deterministic: search is
     interleaved over a fixed 2 workers, and the budget is CP-SAT's *deterministic time* (a work
     count close to one second of one core), so the same seed and ``time_limit_s`` give the same
     sequence on any machine, loaded or not. Wall time is only capped, as a safety net, at
     ``WALL_SLACK`` x the limit + ``WALL_EXTRA_S``; a run cut there may differ.
   - ``routing``: OR-Tools routing (pywrapcp) with a dummy depot for open paths, PATH_CHEAPEST_ARC
     + GUIDED_LOCAL_SEARCH under a wall-clock limit (single-threaded; reproducible unless the
     limit cuts the search at a different point). Kept for comparison; ``benchmarks/sequencing.py``
     shows CP-SAT beats it on TSPLIB, so ``auto`` uses held-karp then cp-sat.

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
WALL_SLACK = 6.0  # wall-clock cap = WALL_SLACK x limit + WALL_EXTRA_S (a loaded machine runs slower)
WALL_EXTRA_S = 10.0
CP_SAT_WORKERS = 2
METHODS = ("auto", "held-karp", "cp-sat", "routing")
_MAX_SCALED_COST = 2**40


class SequencingError(ValueError):
    """A changeover matrix or job list that cannot be sequenced; the message says which cell or job."""


@dataclass(frozen=True)
class SequenceResult:
    """Best order found and its total changeover.

    ``order``: item keys (DataFrame input) or 0-based indices (array input), each once, starting
    with the start item; for a tour the return to ``order[0]`` is implied and counted in ``total``.
    ``total``: changeover time in the matrix's unit. ``optimal``: proven optimal.
    ``method``: held-karp | cp-sat | routing | trivial. ``seconds``: wall time.
    ``deterministic_seconds``: CP-SAT's machine-independent work count (cp-sat only).
    """

    order: list[Any]
    total: float
    optimal: bool = False
    method: str = "trivial"
    seconds: float = 0.0
    deterministic_seconds: float | None = None


# --------------------------------------------------------------------------- matrix helpers

def changeover_matrix(matrix: np.ndarray | pd.DataFrame) -> tuple[np.ndarray, list[Any] | None]:
    """Validate a square changeover matrix; return it as floats (diagonal 0) and its keys.

    A DataFrame's row keys (index) and column keys must be the same set; columns are reordered
    to the rows. Cells must be finite numbers >= 0 (the diagonal is ignored).
    """
    keys: list[Any] | None = None
    if isinstance(matrix, pd.DataFrame):
        rows, cols = list(matrix.index), list(matrix.columns)
        if len(set(rows)) != len(rows):
            raise SequencingError(f"changeover matrix has duplicate row key(s) "
                                  f"{sorted({str(k) for k in rows if rows.count(k) > 1})}")
        if len(set(cols)) != len(cols):
            raise SequencingError(f"changeover matrix has duplicate column key(s) "
                                  f"{sorted({str(k) for k in cols if cols.count(k) > 1})}")
        if set(rows) != set(cols):
            only_rows = [k for k in rows if k not in set(cols)]
            only_cols = [k for k in cols if k not in set(rows)]
            raise SequencingError(f"changeover matrix row and column keys differ: rows only {only_rows}, "
                                  f"columns only {only_cols}")
        frame = matrix.loc[rows, rows]
        keys = rows
        values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
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
        raise SequencingError(f"changeover from {name[0]} to {name[1]} is negative ({values[i, j]:g}); "
                              f"changeover times must be >= 0")
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
    for decimals in range(7):
        scale = 10**decimals
        scaled = costs * scale
        if np.allclose(scaled, np.round(scaled), rtol=0, atol=1e-6):
            break
    while scale > 1 and float(costs.max()) * scale * max(n, 1) > _MAX_SCALED_COST:
        scale //= 10
    if float(costs.max()) * scale * max(n, 1) > _MAX_SCALED_COST:
        raise SequencingError(f"changeover times up to {costs.max():g} are too large to sequence "
                              f"{n} items; express them in larger units (e.g. hours)")
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


# --------------------------------------------------------------------------- CP-SAT

def _cp_sat(costs: np.ndarray, start: int | None, tour: bool, time_limit_s: float,
            seed: int) -> tuple[list[int], bool, float]:
    """Circuit model: tour over the items, plus a dummy node when an open path has a free start.

    If CP-SAT finds no order within the limit, a greedy order (nearest neighbour + local search)
    is returned instead. (A greedy solution hint was tried: it doubled the work CP-SAT needed to
    prove TSPLIB optima, so none is given.)
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
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.num_workers = CP_SAT_WORKERS
    params.interleave_search = True
    params.random_seed = int(seed)
    params.max_deterministic_time = float(time_limit_s)
    params.max_time_in_seconds = float(time_limit_s) * WALL_SLACK + WALL_EXTRA_S
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return _greedy(costs, start, tour), False, float(solver.deterministic_time)
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

def _routing(costs: np.ndarray, start: int | None, tour: bool, time_limit_s: float, seed: int) -> list[int]:
    """OR-Tools routing with one vehicle.

    Tour: the depot is the start item. Open path from a start item: the depot is the start item
    and arriving back at it is free. Open path with a free start: a dummy depot joined to every
    item at zero cost.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = costs.shape[0]
    if tour or start is not None:
        depot = 0 if start is None else start
        arc = costs.copy()
        if not tour:
            arc[:, depot] = 0
        nodes = n
    else:
        depot = n
        arc = np.zeros((n + 1, n + 1), dtype=np.int64)
        arc[:n, :n] = costs
        nodes = n + 1
    np.fill_diagonal(arc, 0)
    manager = pywrapcp.RoutingIndexManager(nodes, 1, depot)
    routing = pywrapcp.RoutingModel(manager)
    transit = routing.RegisterTransitMatrix(arc.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    del seed  # the routing search draws no random numbers; it is deterministic up to the time cut
    solution = routing.SolveWithParameters(params)
    if solution is None:
        raise SequencingError(f"no sequence found within {time_limit_s:g} s; allow more time")
    order = [depot] if depot < n else []
    index = solution.Value(routing.NextVar(routing.Start(0)))
    while not routing.IsEnd(index):
        order.append(manager.IndexToNode(index))
        index = solution.Value(routing.NextVar(index))
    return order


# --------------------------------------------------------------------------- public solver

def solve_sequence(matrix: np.ndarray | pd.DataFrame, start: Hashable | None = None, tour: bool = False,
                   time_limit_s: float = 10.0, seed: int = 0, method: str = "auto") -> SequenceResult:
    """Order items to minimise total sequence-dependent changeover.

    ``matrix``: square, cell (i, j) = changeover time from item i to item j (any unit, >= 0,
    asymmetric allowed; diagonal ignored). A DataFrame is keyed by its index (= its columns);
    an array by position. ``start``: the item to begin with (the current setup), a key or a
    position; None = free start (a tour then starts at the first item). ``tour``: closed tour
    returning to the start, else an open path. ``time_limit_s``: CP-SAT deterministic seconds
    (wall time for ``routing``). ``method``: auto (held-karp up to EXACT_MAX_ITEMS items, else
    cp-sat), held-karp, cp-sat or routing.
    """
    began = time.perf_counter()
    if method not in METHODS:
        raise SequencingError(f"unknown method {method!r}; use one of {METHODS}")
    values, keys = changeover_matrix(matrix)
    n = values.shape[0]
    start_idx: int | None = None
    if start is not None:
        if keys is not None:
            if start not in keys:
                raise SequencingError(f"start item {start!r} is not in the changeover matrix (items: "
                                      f"{', '.join(map(str, keys[:10]))}{', ...' if n > 10 else ''})")
            start_idx = keys.index(start)
        else:
            if not isinstance(start, (int, np.integer)) or not 0 <= int(start) < n:
                raise SequencingError(f"start position {start!r} is outside 0..{n - 1}")
            start_idx = int(start)
    if time_limit_s <= 0:
        raise SequencingError(f"time limit must be > 0 seconds, got {time_limit_s}")

    def result(order: list[int], optimal: bool, used: str, work: float | None = None) -> SequenceResult:
        total = sequence_cost(values, order, tour)
        labels = [keys[i] for i in order] if keys is not None else [int(i) for i in order]
        return SequenceResult(labels, total, optimal, used, time.perf_counter() - began, work)

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
    if method == "routing":
        return result(_routing(scaled, start_idx, tour, time_limit_s, seed), False, "routing")
    order, optimal, work = _cp_sat(scaled, start_idx, tour, time_limit_s, seed)
    return result(order, optimal, "cp-sat", work)


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


def _changeover_lookup(changeovers: pd.DataFrame, keys: list[Any],
                       default_minutes: float | None) -> np.ndarray:
    """Minutes between setup keys; missing pairs = ``default_minutes`` or the largest known value."""
    index = {k: i for i, k in enumerate(keys)}
    n = len(keys)
    minutes = np.full((n, n), np.nan)
    if {"from_key", "to_key", "minutes"}.issubset(changeovers.columns):
        if "resource_id" in changeovers.columns and changeovers["resource_id"].nunique() > 1:
            raise SequencingError(f"the changeover table holds several resources "
                                  f"({', '.join(map(str, sorted(changeovers['resource_id'].unique())))}); "
                                  f"pass only the rows of the resource being sequenced")
        for f, t, m in changeovers[["from_key", "to_key", "minutes"]].itertuples(index=False):
            if f in index and t in index:
                minutes[index[f], index[t]] = float(m)
        known = pd.to_numeric(changeovers["minutes"], errors="coerce")
    else:  # a square matrix keyed by index and columns
        sub = changeovers.reindex(index=[k for k in keys], columns=[k for k in keys])
        minutes = sub.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        known = pd.Series(changeovers.apply(pd.to_numeric, errors="coerce").to_numpy().ravel())
    if (known < 0).any():
        raise SequencingError("changeover minutes must be >= 0; the changeover table has negative values")
    if default_minutes is None:
        default_minutes = float(known.max()) if known.notna().any() else 0.0
    minutes = np.where(np.isnan(minutes), float(default_minutes), minutes)
    np.fill_diagonal(minutes, 0.0)
    return minutes


def _timing(order: np.ndarray, key_idx: np.ndarray, minutes_ext: np.ndarray, start_row: int,
            run_h: np.ndarray, due_h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vectorized timing of candidate orders (C, n): changeover minutes, start, end, tardiness hours."""
    keys = key_idx[order]
    prev = np.concatenate([np.full((order.shape[0], 1), start_row), keys[:, :-1]], axis=1)
    co_min = minutes_ext[prev, keys]
    durations = run_h[order] + co_min / 60.0
    end = np.cumsum(durations, axis=1)
    start = end - run_h[order]
    tard = np.maximum(end - due_h[order], 0.0)
    return co_min, start, end, tard


def _costs_in_chunks(cost_fn, cand: np.ndarray) -> np.ndarray:
    """cost_fn over candidate orders (C, n), at most _EVAL_CHUNK_CELLS cells at a time (bounded memory)."""
    rows = max(1, _EVAL_CHUNK_CELLS // max(cand.shape[1], 1))
    return np.concatenate([cost_fn(cand[i:i + rows]) for i in range(0, len(cand), rows)])


def _local_search(order: np.ndarray, cost_fn, max_rounds: int, job_moves: bool = True) -> tuple[np.ndarray, float]:
    """Best-improvement search over relocate-job, relocate-batch and swap moves (batch moves
    only when ``job_moves`` is False)."""
    n = len(order)
    best = order.copy()
    best_cost = float(cost_fn(best[None, :])[0])
    if n < 2:
        return best, best_cost
    if not job_moves:
        for _ in range(max_rounds):
            blocks = _block_moves(best, cost_fn.keys) if cost_fn.keys is not None else None
            if blocks is None:
                break
            costs = _costs_in_chunks(cost_fn, blocks)
            k = int(np.argmin(costs))
            if costs[k] >= best_cost - 1e-9:
                break
            best, best_cost = blocks[k].copy(), float(costs[k])
        return best, best_cost
    # templates: drop position i and append it at the end; then insert the last element at j
    drop = np.array([[k for k in range(n) if k != i] + [i] for i in range(n)])
    insert = np.array([list(range(j)) + [n - 1] + list(range(j, n - 1)) for j in range(n)])
    pairs = np.array([(i, j) for i in range(n) for j in range(i + 1, n)])
    swap_idx = np.tile(np.arange(n), (len(pairs), 1))
    swap_idx[np.arange(len(pairs)), pairs[:, 0]] = pairs[:, 1]
    swap_idx[np.arange(len(pairs)), pairs[:, 1]] = pairs[:, 0]
    for _ in range(max_rounds):
        relocated = best[drop][:, insert].reshape(n * n, n)
        swapped = best[swap_idx]
        cands = [relocated, swapped]
        blocks = _block_moves(best, cost_fn.keys) if cost_fn.keys is not None else None
        if blocks is not None:
            cands.append(blocks)
        cand = np.concatenate(cands, axis=0)
        costs = _costs_in_chunks(cost_fn, cand)
        k = int(np.argmin(costs))
        if costs[k] < best_cost - 1e-9:
            best, best_cost = cand[k].copy(), float(costs[k])
        else:
            break
    return best, best_cost


def _block_moves(order: np.ndarray, key_idx: np.ndarray) -> np.ndarray | None:
    """Every order made by moving one batch (run of the same setup key) to another batch boundary."""
    keys = key_idx[order]
    cuts = [0] + [i for i in range(1, len(order)) if keys[i] != keys[i - 1]] + [len(order)]
    blocks = [order[cuts[b]:cuts[b + 1]] for b in range(len(cuts) - 1)]
    if len(blocks) < 3:
        return None
    out = []
    for b, block in enumerate(blocks):
        rest = blocks[:b] + blocks[b + 1:]
        for pos in range(len(rest) + 1):
            if pos == b:
                continue
            out.append(np.concatenate(rest[:pos] + [block] + rest[pos:]))
    return np.array(out)


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
        raise SequencingError(f"job {bad['job_id'].iloc[0]!r} has run_hours {bad['run_hours'].iloc[0]!r}; "
                              f"run hours must be a number >= 0")
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


def _schedule_frame(jobs: pd.DataFrame, order: np.ndarray, timing, calendar: WorkCalendar,
                    min_run: np.ndarray) -> pd.DataFrame:
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
    cols = ["position", "job_id", "sku", "setup_key", "qty", "scheduled_qty", "unscheduled_qty", "run_hours",
            "changeover_minutes", "changeover_start", "start", "end", "due", "late", "tardiness_hours",
            "fits_in_week"]
    return out[cols + [c for c in out.columns if c not in cols]]


def sequence_week(jobs: pd.DataFrame, changeovers: pd.DataFrame, week_start: pd.Timestamp | str,
                  available_hours: float | None = None, current_setup: Hashable | None = None, *,
                  calendar: WorkCalendar | None = None,
                  default_changeover_minutes: float | None = None,
                  tardiness_penalty_minutes_per_hour: float = 1000.0,
                  performance: float = 1.0, quality: float = 1.0,
                  time_limit_s: float = 5.0, seed: int = 0, max_rounds: int = 200) -> WeekSequence:
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
    with the cube of the job count), so a large plant's week stays seconds long.

    ``summary`` keys: jobs, run_hours, available_hours, required_hours (run + optimized
    changeover), fits (required <= available), planned_units, scheduled_units,
    unscheduled_units, jobs_unscheduled, changeover_hours_fifo, changeover_hours_optimized,
    changeover_hours_saved_pct, late_orders_fifo, late_orders_optimized, tardiness_hours_fifo,
    tardiness_hours_optimized, oee_fifo, oee_optimized, oee_uplift_pts, key_order_optimal. OEE
    uses availability = run / (run + changeover) hours (the sequence's planned production time
    is the time it occupies, as in ``oee.availability``) times the given ``performance`` and
    ``quality`` ratios, which the sequence does not change.
    """
    _check_jobs(jobs)
    week_start = pd.Timestamp(week_start)
    if calendar is None:
        if available_hours is None:
            raise SequencingError("give the week's available_hours or a calendar")
        if available_hours < 0:
            raise SequencingError(f"available hours must be >= 0, got {available_hours}")
        calendar = WorkCalendar.continuous(week_start, available_hours)
    elif available_hours is not None and abs(float(available_hours) - calendar.hours) > 1e-6:
        raise SequencingError(f"available_hours {available_hours:g} differs from the calendar's "
                              f"{calendar.hours:g} hours; pass one of them")
    jobs = jobs.reset_index(drop=True).copy()
    if "setup_key" not in jobs.columns:
        jobs["setup_key"] = jobs["sku"]
    jobs["setup_key"] = jobs["setup_key"].fillna(jobs["sku"])
    jobs["due"] = pd.to_datetime(jobs["due"])
    min_run = (pd.to_numeric(jobs["min_run_units"], errors="coerce").fillna(0.0).to_numpy(float)
               if "min_run_units" in jobs.columns else np.zeros(len(jobs)))
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
        key_result = solve_sequence(minutes, start=(start_row if current_setup is not None else None),
                                    tour=False, time_limit_s=time_limit_s, seed=seed)
        key_optimal = key_result.optimal
        batch_of = {k: [] for k in key_positions}
        for i in fifo:  # due-date order inside each batch
            batch_of[int(key_idx[i])].append(int(i))
        batched = np.array([i for k in key_result.order for i in batch_of[k]], dtype=np.int64)
        if n <= JOB_SEARCH_MAX_JOBS:
            candidates = [_local_search(batched, cost_fn, max_rounds), _local_search(fifo, cost_fn, max_rounds)]
        else:  # batch moves from the batched order; the due-date order itself as the fallback
            candidates = [_local_search(batched, cost_fn, max_rounds, job_moves=False),
                          (fifo, float(cost_fn(fifo[None, :])[0]))]
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
    }
    return WeekSequence(jobs=opt_frame, fifo=fifo_frame, summary=summary)
