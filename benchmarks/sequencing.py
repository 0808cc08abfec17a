"""Benchmark the changeover sequencer: TSPLIB asymmetric TSP optima, and weekly sequences vs FIFO.

    .venv/bin/python benchmarks/sequencing.py                       # TSPLIB table + weekly table
    .venv/bin/python benchmarks/sequencing.py --dir /path/to/tsplib --instances br17 ftv33
    .venv/bin/python benchmarks/sequencing.py --methods cp-sat routing   # compare solvers
    .venv/bin/python benchmarks/sequencing.py --skip-tsplib --weeks 20
    .venv/bin/python benchmarks/sequencing.py --skip-tsplib --skip-weeks --generated 200 400 1000 --gen-limit 3

Generated part (``--generated``): seeded asymmetric instances of the given sizes, two kinds:
"families" (setup families with light -> dark cheap, dark -> light expensive, small changeovers
inside a family, plus noise) and "random" (uniform 1..1000). Each is solved as a closed tour
within ``--gen-limit`` wall seconds and again with 10x the time (the reference); reported:
wall, our cost, the best constructive heuristic's cost, the reference cost and the gap to it,
and the assignment lower bound (a tour is never shorter) as a second yardstick.

TSPLIB part: each instance is solved as a closed tour (``solve_sequence(..., tour=True)``) and
compared with its published optimal tour length (TSPLIB95, G. Reinelt, "TSPLIB - A Traveling
Salesman Problem Library", ORSA J. Computing 3(4), 1991; optima from the library's ATSP
solutions list). Instances are read from ``--dir``, else ``$SOP_TSPLIB_DIR``, else
``benchmarks/tsplib/``; see ``benchmarks/tsplib/README.md`` for where to get the files. Both the
standard TSPLIB format (``EDGE_WEIGHT_FORMAT: FULL_MATRIX``) and the plain "name / n / matrix"
layout are read; diagonal entries are ignored. A missing instance is listed as skipped, never
replaced by made-up data.

Time limits: 10 wall seconds for the whole call up to 80 cities (ftv70 has 71), 30 above
(``--time-limit`` overrides; before 2026-11-26 these were CP-SAT deterministic seconds with a
6x + 10 s wall cap). ``seconds`` is wall time on this machine; ``work s`` is CP-SAT's
deterministic time, which does not grow with the load - but how much of it fits in the wall
limit does, so print the load average (``uptime``) next to the table.

Weekly part: seeded synthetic weeks (setup families with asymmetric light-to-dark changeovers,
due dates spread over the week) sequenced by ``sequence_week`` and by FIFO (due-date order),
reporting changeover hours saved and late orders. "batched" is a rule of thumb for reference
(each family run once, families in order of earliest due date; changeover only, not timed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sop_pipeline.analytics.sequencing import sequence_cost, sequence_week, solve_sequence  # noqa: E402

# Published optimal tour lengths (TSPLIB95 ATSP). ftvN instances have N + 1 cities.
OPTIMA = {
    "br17": 39,
    "ftv33": 1286,
    "ftv35": 1473,
    "ftv38": 1530,
    "p43": 5620,
    "ftv44": 1613,
    "ftv47": 1776,
    "ry48p": 14422,
    "ft53": 6905,
    "ftv55": 1608,
    "ftv64": 1839,
    "ft70": 38673,
    "ftv70": 1950,
    "kro124p": 36230,
    "ftv170": 2755,
}
CITIES = {
    "br17": 17,
    "ftv33": 34,
    "ftv35": 36,
    "ftv38": 39,
    "p43": 43,
    "ftv44": 45,
    "ftv47": 48,
    "ry48p": 48,
    "ft53": 53,
    "ftv55": 56,
    "ftv64": 65,
    "ft70": 70,
    "ftv70": 71,
    "kro124p": 100,
    "ftv170": 171,
}


def instance_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get("SOP_TSPLIB_DIR"):
        return Path(os.environ["SOP_TSPLIB_DIR"])
    return REPO / "benchmarks" / "tsplib"


def read_atsp(path: Path) -> np.ndarray:
    """Full-matrix ATSP file (TSPLIB or plain 'name / n / rows') -> n x n int matrix, diagonal 0."""
    text = path.read_text()
    if "EDGE_WEIGHT_SECTION" in text:
        head, body = text.split("EDGE_WEIGHT_SECTION", 1)
        fmt = [ln for ln in head.splitlines() if ln.strip().upper().startswith("EDGE_WEIGHT_FORMAT")]
        if fmt and "FULL_MATRIX" not in fmt[0].upper():
            raise ValueError(f"{path.name}: only FULL_MATRIX instances are supported")
        dim = next(ln for ln in head.splitlines() if ln.strip().upper().startswith("DIMENSION"))
        n = int(dim.split(":")[1])
        numbers = body.replace("EOF", " ").split()
    else:
        lines = text.split("\n")
        n = int(lines[1].strip())
        numbers = " ".join(lines[2:]).split()
    values = np.array([int(float(x)) for x in numbers[: n * n]], dtype=np.int64)
    if len(values) != n * n:
        raise ValueError(f"{path.name}: expected {n * n} numbers, found {len(values)}")
    matrix = values.reshape(n, n)
    np.fill_diagonal(matrix, 0)
    return matrix


def bench_tsplib(directory: Path, names: list[str], methods: list[str], limit: float | None) -> pd.DataFrame:
    rows = []
    for name in names:
        path = directory / f"{name}.atsp"
        if not path.exists():
            rows.append(
                {
                    "instance": name,
                    "n": CITIES.get(name),
                    "optimum": OPTIMA.get(name),
                    "found": None,
                    "gap %": None,
                    "seconds": None,
                    "work s": None,
                    "method": "skipped: file missing",
                    "proven": None,
                }
            )
            continue
        matrix = read_atsp(path)
        n = len(matrix)
        budget = limit if limit is not None else (10.0 if n <= 80 else 30.0)
        for method in methods:
            started = time.perf_counter()
            result = solve_sequence(matrix, tour=True, time_limit_s=budget, seed=0, method=method)
            seconds = time.perf_counter() - started
            assert sorted(result.order) == list(range(n)), "not a tour"
            found = sequence_cost(matrix, result.order, tour=True)
            optimum = OPTIMA.get(name)
            gap = 100.0 * (found - optimum) / optimum if optimum else None
            rows.append(
                {
                    "instance": name,
                    "n": n,
                    "optimum": optimum,
                    "found": int(found),
                    "gap %": gap,
                    "seconds": seconds,
                    "work s": result.deterministic_seconds,
                    "method": result.method,
                    "proven": result.optimal,
                }
            )
            print(
                f"  {name:8s} n={n:3d} {result.method:8s} found {found:8.0f} (opt {optimum}) {seconds:6.1f} s",
                file=sys.stderr,
                flush=True,
            )
    return pd.DataFrame(rows)


def generated_matrix(kind: str, n: int, seed: int = 0) -> np.ndarray:
    """Seeded asymmetric n x n changeover matrix (integers, diagonal 0). ``families``: n / 12
    setup families ranked light to dark; light -> dark 15 + 8 x steps, dark -> light 60 + 20 x
    steps, inside a family 3; plus uniform noise 0..10. ``random``: uniform 1..1000."""
    rng = np.random.default_rng(seed)
    if kind == "families":
        fam = rng.integers(0, max(3, n // 12), n)
        shade = rng.permutation(max(3, n // 12))[fam]
        step = shade[None, :] - shade[:, None]
        m = np.where(step > 0, 15 + 8 * step, np.where(step < 0, 60 + 20 * (-step), 3)) + rng.integers(0, 11, (n, n))
    elif kind == "random":
        m = rng.integers(1, 1001, (n, n))
    else:
        raise ValueError(f"unknown kind {kind!r}")
    np.fill_diagonal(m, 0)
    return m.astype(np.int64)


def assignment_bound(matrix: np.ndarray) -> float:
    from scipy.optimize import linear_sum_assignment

    a = matrix.astype(float)
    np.fill_diagonal(a, float(matrix.max()) * len(matrix) + 1.0)
    rows, cols = linear_sum_assignment(a)
    return float(a[rows, cols].sum())


def bench_generated(
    sizes: list[int], limit: float, kinds: list[str], reference_factor: float = 10.0, method: str = "auto"
) -> pd.DataFrame:
    rows = []
    solve_sequence(generated_matrix("random", 30), tour=True, time_limit_s=0.5)  # first imports (scipy, OR-Tools)
    for kind in kinds:
        for n in sizes:
            matrix = generated_matrix(kind, n)
            started = time.perf_counter()
            ours = solve_sequence(matrix, tour=True, time_limit_s=limit, seed=0, method=method)
            wall = time.perf_counter() - started
            ref = solve_sequence(matrix, tour=True, time_limit_s=limit * reference_factor, seed=0, method=method)
            bound = assignment_bound(matrix)
            rows.append(
                {
                    "instance": f"{kind}-{n}",
                    "n": n,
                    "limit s": limit,
                    "wall s": wall,
                    "ours": int(ours.total),
                    "constructive": int(ours.constructive_total),
                    f"reference ({reference_factor:g}x)": int(ref.total),
                    "gap %": 100.0 * (ours.total - ref.total) / ref.total,
                    "vs bound %": 100.0 * (ours.total - bound) / bound,
                    "method": ours.method,
                }
            )
            print(
                f"  {kind}-{n}: {ours.total:.0f} in {wall:.2f} s (ref {ref.total:.0f}, "
                f"constructive {ours.constructive_total:.0f})",
                file=sys.stderr,
                flush=True,
            )
    return pd.DataFrame(rows)


def synthetic_week(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp, float, str]:
    """A seeded week on one resource: 6-10 setup families, 20-50 jobs, asymmetric changeovers."""
    rng = np.random.default_rng(seed)
    families = [f"F{k}" for k in range(int(rng.integers(6, 11)))]
    shade = rng.permutation(len(families))  # light -> dark is cheap, dark -> light is expensive
    rows = []
    for i, a in enumerate(families):
        for j, b in enumerate(families):
            if a != b:
                step = shade[j] - shade[i]
                base = 15 + 8 * step if step > 0 else 60 + 20 * (-step)
                rows.append((a, b, float(max(5, base + rng.integers(-10, 11)))))
    changeovers = pd.DataFrame(rows, columns=["from_key", "to_key", "minutes"])
    n_jobs = int(rng.integers(20, 51))
    week = pd.Timestamp("2026-03-02")
    run_hours = rng.uniform(0.5, 2.5, n_jobs).round(2)
    available = 96.0
    due = week + pd.to_timedelta(rng.uniform(16, available + 8, n_jobs), unit="h")
    jobs = pd.DataFrame(
        {
            "job_id": [f"J{i:03d}" for i in range(n_jobs)],
            "sku": [f"S{int(x):03d}" for x in rng.integers(0, 3 * len(families), n_jobs)],
            "qty": rng.integers(100, 2000, n_jobs),
            "run_hours": run_hours,
            "due": due,
        }
    )
    jobs["setup_key"] = [families[int(s[1:]) % len(families)] for s in jobs["sku"]]
    current = families[int(rng.integers(len(families)))]
    return jobs, changeovers, week, available, current


def batched_edd_changeover_hours(jobs: pd.DataFrame, changeovers: pd.DataFrame, current: str) -> float:
    """A planner's rule of thumb: run each family once, families in order of their earliest due date."""
    minutes = changeovers.set_index(["from_key", "to_key"])["minutes"]
    order = jobs.groupby("setup_key")["due"].min().sort_values(kind="stable").index.tolist()
    path = [current] + order
    return float(sum(minutes.get((a, b), 0.0) for a, b in zip(path, path[1:]) if a != b)) / 60.0


def bench_weeks(count: int) -> pd.DataFrame:
    rows = []
    for seed in range(count):
        jobs, co, week, available, current = synthetic_week(seed)
        started = time.perf_counter()
        result = sequence_week(jobs, co, week, available, current_setup=current, time_limit_s=5, seed=0)
        s = result.summary
        rows.append(
            {
                "week": seed,
                "jobs": s["jobs"],
                "families": jobs["setup_key"].nunique(),
                "changeover h FIFO": s["changeover_hours_fifo"],
                "changeover h batched": batched_edd_changeover_hours(jobs, co, current),
                "changeover h optimized": s["changeover_hours_optimized"],
                "saved %": s["changeover_hours_saved_pct"],
                "late FIFO": s["late_orders_fifo"],
                "late optimized": s["late_orders_optimized"],
                "OEE FIFO": s["oee_fifo"],
                "OEE optimized": s["oee_optimized"],
                "seconds": time.perf_counter() - started,
            }
        )
    return pd.DataFrame(rows)


def markdown(frame: pd.DataFrame, floats: dict[str, str]) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for i in range(len(frame)):
        cells = []
        for c in cols:
            v = frame[c].iloc[i]
            if v is None or (isinstance(v, float) and np.isnan(v)):
                cells.append("")
            elif c in floats:
                cells.append(format(v, floats[c]))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help="folder of <name>.atsp files (default $SOP_TSPLIB_DIR or benchmarks/tsplib)")
    parser.add_argument("--instances", nargs="*", default=list(OPTIMA), help="TSPLIB instance names")
    parser.add_argument(
        "--methods",
        nargs="*",
        default=["auto"],
        choices=["auto", "cp-sat", "routing", "held-karp", "local-search"],
        help="solver methods to compare (default auto)",
    )
    parser.add_argument(
        "--time-limit", type=float, default=None, help="seconds per instance (default 10 up to 80 cities, 30 above)"
    )
    parser.add_argument("--weeks", type=int, default=10, help="synthetic weeks for the weekly benchmark")
    parser.add_argument("--skip-tsplib", action="store_true")
    parser.add_argument("--skip-weeks", action="store_true")
    parser.add_argument("--generated", nargs="*", type=int, default=[], help="sizes of generated instances")
    parser.add_argument("--gen-limit", type=float, default=3.0, help="wall seconds per generated instance")
    parser.add_argument("--kinds", nargs="*", default=["families", "random"])
    args = parser.parse_args(argv)
    if args.generated:
        for method in args.methods:
            table = bench_generated(args.generated, args.gen_limit, args.kinds, method=method)
            print(
                f"## Generated asymmetric instances (closed tours, method {method}, "
                f"load average {os.getloadavg()[0]:.1f})\n"
            )
            print(markdown(table, {"limit s": ".1f", "wall s": ".2f", "gap %": ".2f", "vs bound %": ".1f"}))
            print()
    if not args.skip_tsplib:
        directory = instance_dir(args.dir)
        table = bench_tsplib(directory, args.instances, args.methods, args.time_limit)
        print(f"## TSPLIB asymmetric TSP (closed tours; instances from {directory})\n")
        print(markdown(table, {"gap %": ".2f", "seconds": ".1f", "work s": ".1f"}))
        done = table.dropna(subset=["gap %"])
        if len(done):
            print(
                f"\nmean gap {done['gap %'].mean():.2f} %, worst {done['gap %'].max():.2f} %, "
                f"{int((done['gap %'] < 1e-9).sum())}/{len(done)} at the optimum, "
                f"{int(done['proven'].sum())} proven optimal by the solver"
            )
        print()
    if not args.skip_weeks:
        weeks = bench_weeks(args.weeks)
        print("## Weekly sequencing vs FIFO (synthetic weeks, 96 available hours)\n")
        print(
            markdown(
                weeks,
                {
                    "changeover h FIFO": ".1f",
                    "changeover h batched": ".1f",
                    "changeover h optimized": ".1f",
                    "saved %": ".1f",
                    "OEE FIFO": ".3f",
                    "OEE optimized": ".3f",
                    "seconds": ".2f",
                },
            )
        )
        fifo, opt = weeks["changeover h FIFO"].sum(), weeks["changeover h optimized"].sum()
        print(
            f"\nchangeover hours saved overall: {100 * (fifo - opt) / fifo:.1f} % "
            f"({fifo:.1f} h -> {opt:.1f} h); late orders FIFO {int(weeks['late FIFO'].sum())}, "
            f"optimized {int(weeks['late optimized'].sum())}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
