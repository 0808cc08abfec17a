"""Plan coherence across seeds and sizes: run the whole cycle on several demo data sets and
report each coherence rule's share of rows that hold (KPI_DEFINITIONS.md "Plan coherence").

    python benchmarks/coherence.py --runs small:42 small:7 medium:42 [--keep DIR]

For each run: `sop demo --size S --seed N`, `sop run`, then the pipeline's own rule functions on
the published plan (the same ones its blocking asset checks call) and, when the shared checker
`../shared/tools/plan_coherence.py` is present, its six lines too (an independent reading of the
serving file). Prints one markdown row per run; the results table is in benchmarks/README.md.
A run whose blocking check fails stops before publish: the row then says which check failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED_CHECKER = REPO.parent / "shared" / "tools" / "plan_coherence.py"


def sop(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sop_pipeline.cli", *args], cwd=REPO, capture_output=True, text=True)


def rule_shares(data: Path) -> dict[str, str]:
    """Share of rows holding each rule, from the warehouse the run left (pipeline functions)."""
    from sop_pipeline.analytics import mps, plan as plan_lib

    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        plan = con.execute("select * from analytics.plan_of_record").df()
        usable = (
            con.execute("select sku, sum(usable_units) as units from intermediate.int_usable_stock group by sku")
            .df()
            .set_index("sku")
            .units
        )
        seq = con.execute("select * from analytics.production_sequence").df()
        ss = con.execute("select * from analytics.safety_stock").df()
        routings = con.execute("select sku, resource_id, units_per_hour from staging.stg_mes__routings").df()
        tables = set(
            con.execute("select table_schema || '.' || table_name from information_schema.tables").df().iloc[:, 0]
        )
        offloads = (
            con.execute("select * from analytics.plan_offloads").df() if "analytics.plan_offloads" in tables else None
        )
        alternates = (
            con.execute("select sku, resource_id, units_per_hour from staging.stg_mes__routing_alternates").df()
            if "staging.stg_mes__routing_alternates" in tables
            else routings.iloc[:0]
        )
    out = {}
    balance = plan_lib.balance_breaks(plan, usable)
    out["balance"] = f"{len(plan) - len(balance)}/{len(plan)}"
    start = plan_lib.start_stock_breaks(plan, usable)
    skus = plan.sku.nunique()
    out["start_stock"] = f"{skus - len(start)}/{skus}"
    # per sequenced resource: every routed SKU-week's sequenced units = the plan's make units
    resources = sorted(seq.resource_id.astype(str).unique()) if len(seq) else []
    schedule = plan[["sku", "week_start", "make_units"]]
    if offloads is not None and len(offloads):  # as the pipeline: the MPS per resource, alternates included
        schedule = mps.mps_by_resource(schedule, routings, offloads)
        routings = pd.concat([routings, alternates], ignore_index=True)
    breaks = mps.quantity_breaks(seq, schedule, routings, resources, sorted(plan.week_start.unique()))
    if "resource_id" in schedule:
        routed = schedule[schedule.resource_id.isin(resources) & (schedule.make_units > 0)]
    else:
        routed = routings[routings.resource_id.isin(resources)].merge(schedule[schedule.make_units > 0], on="sku")
    keys = {(r, k, pd.Timestamp(w)) for r, k, w in zip(routed.resource_id, routed.sku, routed.week_start)}
    keys |= (
        {(r, k, pd.Timestamp(w)) for r, k, w in zip(seq.resource_id, seq.sku, seq.week_start)} if len(seq) else set()
    )
    out["seq_vs_plan (resource-SKU-weeks)"] = f"{len(keys) - len(breaks)}/{len(keys)}"
    bought = set(plan.loc[plan.supply_source == "buy", "sku"])
    out["no_buy_seq"] = f"{len(seq) - int(seq.sku.isin(bought).sum())}/{len(seq)}"
    from sop_pipeline.analytics.safety_stock import unprotected_items

    fill = ss[ss.service_type == "fill_rate"] if "service_type" in ss else ss
    abc = fill["abc_xyz" if "abc_xyz" in fill else "abc"].astype(str).str[:1]
    rule_rows = fill[abc.isin(["A", "B"]) & (fill.lifecycle.astype(str) == "active") & (fill.mean_weekly_demand > 0)]
    out["ss > 0 (rows)"] = f"{len(rule_rows) - len(unprotected_items(fill))}/{len(rule_rows)}"
    return out


def shared_checker(serving: Path, extracts: Path) -> str:
    if not SHARED_CHECKER.exists():
        return "n/a"
    proc = subprocess.run(
        [sys.executable, str(SHARED_CHECKER), str(serving), str(extracts)], capture_output=True, text=True
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    return lines[-1] if lines else proc.stderr.strip()[-200:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs",
        nargs="+",
        default=["small:42", "small:7", "medium:42"],
        help="SIZE:SEED pairs (default small:42 small:7 medium:42)",
    )
    parser.add_argument("--keep", metavar="DIR", help="keep the data sets here (default: a temp folder)")
    args = parser.parse_args(argv)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="sop-coherence-"))
    print(
        "| run | wall (s) | result | balance | start stock | sequence = plan | no bought SKU sequenced | "
        "SS > 0 | shared checker |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for run in args.runs:
        size, seed = run.split(":")
        extracts, data = root / run.replace(":", "_") / "extracts", root / run.replace(":", "_") / "data"
        sop("demo", "--size", size, "--seed", seed, "--out", str(extracts))
        started = time.perf_counter()
        proc = sop("run", "--extracts", str(extracts), "--data-dir", str(data))
        wall = time.perf_counter() - started
        failed = [ln.strip() for ln in proc.stdout.splitlines() if "check FAILED" in ln]
        result = "published" if proc.returncode == 0 else "stopped: " + ("; ".join(failed) or proc.stderr[-200:])
        try:
            shares = rule_shares(data)
        except Exception as exc:  # a run that stopped early has no plan to read
            shares = {"error": f"{type(exc).__name__}: {exc}"}
        checker = shared_checker(data / "serving" / "sop.duckdb", extracts) if proc.returncode == 0 else "-"
        cells = [
            shares.get(k, "-")
            for k in ("balance", "start_stock", "seq_vs_plan (resource-SKU-weeks)", "no_buy_seq", "ss > 0 (rows)")
        ]
        print(f"| {size} seed {seed} | {wall:.0f} | {result} | " + " | ".join(cells) + f" | {checker} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
