"""`sop sequence`: the changeover-optimal order of items from a changeover matrix.

    sop sequence --changeovers MATRIX.csv [--start KEY] [--tour] [--time-limit SECONDS] [--json]

MATRIX.csv is square: the first row and the first column hold the item keys (same keys, same
set; the top-left cell is ignored) and cell (i, j) is the changeover time from item i to item j
(any unit, >= 0; the diagonal is ignored and may be empty). Exit codes: 0 success, 2 bad input.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sop_pipeline.analytics.sequencing import CP_SAT_MAX_ITEMS, EXACT_MAX_ITEMS, SequencingError, solve_sequence

DESCRIPTION = (
    "Find the order of items (SKUs, setup families) with the least total changeover time. "
    f"Up to {EXACT_MAX_ITEMS} items the answer is proven optimal by dynamic programming; up to "
    f"{CP_SAT_MAX_ITEMS} a local search then OR-Tools CP-SAT (which proves optimality when it can); "
    "above, assignment + patching and an Or-opt local search with kicks. The result is never worse "
    "than the best constructive heuristic, and the whole command (start-up, reading the matrix, "
    "search, output) keeps to --time-limit wall seconds."
)


class MatrixError(ValueError):
    """A changeover matrix file that cannot be used; the message names the row/column."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the `sequence` sub-command to an argparse subparsers object."""
    p = subparsers.add_parser(
        "sequence",
        help="order items to minimise changeover time (asymmetric TSP)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Matrix file: a CSV whose first row and first column hold the item keys; cell (i, j) is "
        "the changeover time from item i (row) to item j (column).\n"
        "Exit codes: 0 success, 2 bad input (the message names the offending row/column).",
    )
    p.add_argument(
        "--changeovers",
        metavar="MATRIX.csv",
        required=True,
        help="square changeover matrix CSV: first row and first column = item keys, cell (i, j) = "
        "changeover time from i to j (numbers >= 0, any unit; diagonal ignored)",
    )
    p.add_argument(
        "--start",
        metavar="KEY",
        default=None,
        help="item the resource is set up for now: the sequence starts there (default: the "
        "best starting item; with --tour, the first item of the matrix)",
    )
    p.add_argument(
        "--tour",
        action="store_true",
        help="closed tour: return to the first item at the end and count that changeover "
        "(the asymmetric TSP, as in the TSPLIB benchmarks); default is an open sequence",
    )
    p.add_argument(
        "--time-limit",
        metavar="SECONDS",
        type=float,
        default=10.0,
        help="wall seconds for the whole command, counted from process start (default 10)",
    )
    p.add_argument("--seed", type=int, default=0, help="solver random seed (default 0)")
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="also stop on a machine-independent work count (about a quarter to half of the "
        "limit on an idle machine), so the same input gives the same answer on any machine "
        "unless the wall limit comes first",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print JSON: sequence (list of keys), total_changeover, optimal (proven), seconds, method",
    )
    p.set_defaults(func=run)
    return p


def read_matrix(path: str | Path) -> pd.DataFrame:
    """Read and validate a changeover matrix CSV into a DataFrame keyed by item (index = columns)."""
    path = Path(path)
    if not path.is_file():
        raise MatrixError(f"changeover matrix file {path} not found")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh) if any(cell.strip() for cell in r)]
    if not rows:
        raise MatrixError(f"{path} is empty")
    header = [c.strip() for c in rows[0][1:]]
    body = rows[1:]
    if not header:
        raise MatrixError(f"{path}: the first row must hold the item keys after the top-left cell")
    _check_keys(header, "column", path)
    row_keys = [r[0].strip() for r in body]
    _check_keys(row_keys, "row", path)
    if len(body) != len(header):
        raise MatrixError(f"{path}: matrix is not square: {len(body)} row(s) but {len(header)} column(s)")
    for key, r in zip(row_keys, body):
        if len(r) - 1 != len(header):
            raise MatrixError(f"{path}: row {key!r} has {len(r) - 1} value(s), expected {len(header)} (one per column)")
    if row_keys != header:
        if set(row_keys) != set(header):
            only_rows = [k for k in row_keys if k not in set(header)]
            only_cols = [k for k in header if k not in set(row_keys)]
            parts = ([f"row(s) {', '.join(only_rows)} have no column"] if only_rows else []) + (
                [f"column(s) {', '.join(only_cols)} have no row"] if only_cols else []
            )
            raise MatrixError(f"{path}: row and column keys differ: {'; '.join(parts)}")
    fast = _fast_values(row_keys, header, body)
    if fast is not None:
        return pd.DataFrame(fast, index=row_keys, columns=header).loc[header, header]
    values = np.zeros((len(header), len(header)))
    for i, (key, r) in enumerate(zip(row_keys, body)):
        for j, cell in enumerate(r[1:]):
            text = cell.strip()
            if key == header[j] and text in ("", "-"):
                continue  # diagonal may be left empty
            try:
                value = float(text)
            except ValueError:
                raise MatrixError(f"{path}: cell row {key!r}, column {header[j]!r} is not a number: {text!r}") from None
            if not math.isfinite(value):
                raise MatrixError(f"{path}: cell row {key!r}, column {header[j]!r} is not a finite number: {text!r}")
            if value < 0 and key != header[j]:
                raise MatrixError(
                    f"{path}: cell row {key!r}, column {header[j]!r} is negative ({text}); "
                    f"changeover times must be >= 0"
                )
            values[i, j] = value
    return pd.DataFrame(values, index=row_keys, columns=header).loc[header, header]


def _fast_values(row_keys: list[str], header: list[str], body: list[list[str]]) -> np.ndarray | None:
    """All cells at once (numpy parses the text); None when any cell is not a finite number >= 0,
    so the cell-by-cell reader can name it."""
    col = {k: j for j, k in enumerate(header)}
    cells = [r[1:] for r in body]
    for i, key in enumerate(row_keys):
        j = col[key]
        if cells[i][j].strip() in ("", "-"):
            cells[i] = list(cells[i])
            cells[i][j] = "0"
    try:
        values = np.array(cells, dtype=str).astype(float)
    except ValueError:
        return None
    off = np.ones(values.shape, dtype=bool)
    off[np.arange(len(row_keys)), [col[k] for k in row_keys]] = False
    if not np.isfinite(values).all() or (values[off] < 0).any():
        return None
    return values


def _check_keys(keys: list[str], kind: str, path: Path) -> None:
    empty = [i + 2 for i, k in enumerate(keys) if not k]
    if empty:
        raise MatrixError(f"{path}: {kind} {empty[0]} has an empty item key")
    seen: set[str] = set()
    for k in keys:
        if k in seen:
            raise MatrixError(f"{path}: {kind} key {k!r} appears twice")
        seen.add(k)


def _number(value: float) -> int | float:
    return int(round(value)) if abs(value - round(value)) < 1e-9 else round(value, 6)


OUTPUT_RESERVE_S = 0.05  # kept back for printing the result


def process_age() -> float:
    """Seconds since this process started (Linux /proc; 0 elsewhere), so the limit covers start-up."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        with open("/proc/self/stat") as fh:
            started = int(fh.read().rsplit(")", 1)[1].split()[19]) / ticks
        with open("/proc/uptime") as fh:
            return max(float(fh.read().split()[0]) - started, 0.0)
    except (OSError, ValueError, IndexError):
        return 0.0


def run(args: argparse.Namespace) -> int:
    """Run `sop sequence`; returns the exit code (0 ok, 2 bad input)."""
    age = process_age()
    # a fresh `sop sequence` process counts its start-up too; a long-lived one (tests, a notebook
    # calling run()) that is already older than the limit counts from here
    began = time.perf_counter() - (age if age < args.time_limit else 0.0)
    try:
        matrix = read_matrix(args.changeovers)
        if args.start is not None and args.start not in matrix.index:
            raise MatrixError(
                f"--start {args.start!r} is not an item of {args.changeovers} "
                f"(items: {', '.join(matrix.index[:10])}{', ...' if len(matrix) > 10 else ''})"
            )
        if not args.time_limit > 0:
            raise MatrixError(f"--time-limit must be > 0 seconds, got {args.time_limit}")
        left = args.time_limit - (time.perf_counter() - began) - OUTPUT_RESERVE_S
        result = solve_sequence(
            matrix,
            start=args.start,
            tour=args.tour,
            time_limit_s=max(left, 1e-3),
            seed=args.seed,
            deterministic=args.deterministic,
        )
    except (MatrixError, SequencingError) as exc:
        print(f"sop sequence: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "sequence": [str(k) for k in result.order],
                    "total_changeover": _number(result.total),
                    "optimal": bool(result.optimal),
                    "seconds": round(result.seconds, 3),
                    "method": result.method,
                    "tour": bool(args.tour),
                }
            )
        )
        return 0
    shown = list(result.order) + ([result.order[0]] if args.tour and result.order else [])
    kind = "tour" if args.tour else "sequence"
    proof = "proven optimal" if result.optimal else f"best found within the {args.time_limit:g} s limit"
    print(f"{kind} ({len(result.order)} items): {' -> '.join(map(str, shown))}")
    print(f"total changeover: {_number(result.total)} ({proof}, {result.method}, {result.seconds:.2f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sop")
    add_parser(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(["sequence", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
