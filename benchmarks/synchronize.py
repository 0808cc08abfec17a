"""Synchronized production sequence (`sop_pipeline.analytics.synchronize`) on generated plants.

A plant: ``lines`` machines with a setup-family changeover matrix, each SKU routed on one line and
on the shared format tooling T1 (the demo's shape). One week's MPS per instance, loaded to
``load`` of T1's 80 hours. For each size the script reports, over ``--seeds`` instances:

* the independent per-resource sequences (``sequence_mps``, what the pipeline published before
  2026-12-02): operations whose line and tool are not timed together (the synchronization check
  fails on them);
* the due-date baseline (FIFO: due date, then SKU, decoded with the same serial decoder);
* ours at the pipeline's 2 s limit, and a reference with 10x the time;

as changeover hours + late hours + unscheduled tool hours, and the wall time of ``synchronize``.

    .venv/bin/python benchmarks/synchronize.py --sizes 10 40 100 180 --seeds 3
    .venv/bin/python benchmarks/synchronize.py --warehouse DATA_DIR/warehouse.duckdb --limits 2 5
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import pandas as pd

from sop_pipeline.analytics import synchronize as sync
from sop_pipeline.analytics.mps import sequence_mps

WEEK = pd.Timestamp("2026-03-02")
FAMILIES = list("ABCDE")


def plant(n_ops: int, lines: int, load: float, seed: int):
    rng = np.random.default_rng(seed)
    skus = [f"S{i:03d}" for i in range(n_ops)]
    line_of = [f"M{1 + i % lines}" for i in range(n_ops)]
    family = rng.choice(FAMILIES, n_ops)
    rate = rng.uniform(8, 40, n_ops)
    routes = pd.DataFrame(
        {
            "sku": skus * 2,
            "resource_id": line_of + ["T1"] * n_ops,
            "units_per_hour": np.concatenate([rate, rate]),
            "setup_family": np.concatenate([family, family]),
        }
    )
    hours = rng.dirichlet(np.ones(n_ops)) * 80.0 * load
    mps = pd.DataFrame({"sku": skus, "week_start": WEEK, "make_units": hours * rate})
    res_ids = [f"M{k + 1}" for k in range(lines)] + ["T1"]
    resources = pd.DataFrame(
        {
            "resource_id": res_ids,
            "type": ["machine"] * lines + ["tooling"],
            "is_constraint": [True] + [False] * lines,
            "hours_per_day": 16,
            "days_per_week": 5,
        }
    )
    co = []
    for m in res_ids[:-1]:
        for i, f in enumerate(FAMILIES):
            for j, t in enumerate(FAMILIES):
                if f != t:
                    co.append((m, f, t, 15.0 + 10.0 * abs(i - j) + (25.0 if j < i else 0.0)))
    changeovers = pd.DataFrame(co, columns=["resource_id", "from_key", "to_key", "minutes"])
    day = rng.integers(0, 5, n_ops)
    dues = pd.DataFrame({"sku": skus, "week_start": WEEK, "due": WEEK + pd.to_timedelta(day * 24 + 21, unit="h")})
    return mps, routes, resources, changeovers, dues, res_ids


def score(jobs: pd.DataFrame) -> dict:
    t1 = jobs[jobs.resource_id == "T1"]
    per_op = jobs.drop_duplicates("operation_id") if "operation_id" in jobs else jobs
    return {
        "changeover_h": float(per_op.changeover_minutes.sum()) / 60.0,
        "late_h": float(per_op.tardiness_hours.sum()),
        "unscheduled_tool_h": float((t1.unscheduled_qty / t1.units_per_hour).sum()),
    }


def run(sizes, seeds, lines, load, limit) -> pd.DataFrame:
    rows = []
    for n in sizes:
        for seed in range(seeds):
            mps, routes, resources, changeovers, dues, res_ids = plant(n, lines, load, seed)
            alone = sequence_mps(
                mps, routes, resources, [WEEK], res_ids, changeovers=changeovers, dues=dues, time_limit_s=limit
            )
            apart = sync.synchronization_breaks(alone.jobs.assign(operation_id=alone.jobs.sku))
            out = {"ops": n, "seed": seed, "independent_ops_apart": apart.sku.nunique()}
            for name, t in (("ours", limit), ("ref10x", 10 * limit)):
                began = time.perf_counter()
                jobs, summary = sync.synchronize(
                    alone.jobs, resources, [WEEK], res_ids, changeovers=changeovers, time_limit_s=t
                )
                out[f"{name}_s"] = time.perf_counter() - began
                for k, v in score(jobs).items():
                    out[f"{name}_{k}"] = v
                out[f"{name}_cut"] = summary.search_cut.iloc[0]
                assert sync.synchronization_breaks(jobs).empty
            base, _ = sync.synchronize(alone.jobs, resources, [WEEK], res_ids, changeovers=changeovers, search=False)
            for k, v in score(base).items():
                out[f"fifo_{k}"] = v
            rows.append(out)
    return pd.DataFrame(rows)


def replay(warehouse: str, limits) -> None:
    """The production sequence of a cycle's warehouse again: its per-resource parts (the sequence
    asset's split on the warehouse's inputs), then the synchronized timetable at each limit."""
    from sop_pipeline.assets import supply
    from sop_pipeline.resources import ScenarioConfig, Warehouse

    keys = supply._ins(*supply.SEQUENCE_INPUTS)
    with Warehouse(path=warehouse).tables(read_only=True) as tables:
        inputs = {n: tables.read(*keys[n].key.path) for n in supply.SEQUENCE_INPUTS}
    out = list(supply.sequence__split(scenario=ScenarioConfig(), **inputs))
    parts = [o.value for o in out if o.output_name == "parts"]
    shared = next(o.value for o in out if o.output_name == "shared")
    alone = supply._sequence(parts[0], shared["resource_ids"])
    for limit in limits:
        began = time.perf_counter()
        timed = supply._synchronized(alone, shared["sync"], shared["resource_ids"], shared["weeks"], limit)
        jobs, summary = timed.jobs, timed.summary
        wall = time.perf_counter() - began
        by = summary.groupby("resource_id")[["run_hours", "changeover_hours_optimized", "wait_hours"]].sum()
        by["unscheduled_h"] = (jobs.unscheduled_qty / jobs.units_per_hour).groupby(jobs.resource_id).sum()
        print(f"limit {limit} s: {wall:.1f} s for {len(shared['weeks'])} weeks")
        print(by.round(1).to_markdown())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="*", type=int, default=[10, 40, 100, 180])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lines", type=int, default=2)
    parser.add_argument("--load", type=float, default=0.9, help="tool hours planned / 80")
    parser.add_argument("--limit", type=float, default=2.0)
    parser.add_argument("--warehouse", help="replay this cycle warehouse's sequence instead (warehouse.duckdb)")
    parser.add_argument("--limits", nargs="*", type=float, default=[2.0, 5.0], help="with --warehouse")
    args = parser.parse_args(argv)
    if args.warehouse:
        replay(args.warehouse, args.limits)
        return 0
    t = run(args.sizes, args.seeds, args.lines, args.load, args.limit)
    print(
        f"# {platform.node()} {platform.processor() or platform.machine()} {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    cost = {
        name: t[f"{name}_changeover_h"] + t[f"{name}_late_h"] + t[f"{name}_unscheduled_tool_h"]
        for name in ("fifo", "ours", "ref10x")
    }
    t = t.assign(fifo_cost=cost["fifo"], ours_cost=cost["ours"], ref10x_cost=cost["ref10x"])
    cols = [
        "independent_ops_apart",
        "fifo_cost",
        "ours_cost",
        "ref10x_cost",
        "ours_unscheduled_tool_h",
        "ours_s",
        "ref10x_s",
    ]
    agg = t.groupby("ops")[cols].mean().round(2)
    agg["ours_cut_work"] = t.groupby("ops")["ours_cut"].apply(lambda s: int((s == "work").sum()))
    print(agg.to_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
