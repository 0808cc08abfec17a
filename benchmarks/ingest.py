"""Benchmark: demo generation + ingest (GX validation) + dbt staging, per demo size.

Measures wall time and peak memory (RSS of this process and its children, e.g. dbt) of
1. `sop demo` generation, 2. `sop run` restricted to the ingest and staging assets.
Baseline in the same run: DuckDB reading the same CSV files with no validation (the floor).

    .venv/bin/python benchmarks/ingest.py --sizes small medium [large]

Prints a markdown table; copy it into benchmarks/README.md with the machine and date.
"""

from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
SOP = [sys.executable, "-m", "sop_pipeline.cli"]

STAGE_SCRIPT = """
import os, sys, time
from sop_pipeline.cli import ensure_dbt_manifest
from sop_pipeline.settings import Settings
s = Settings.from_env(extracts_dir=sys.argv[1], data_dir=sys.argv[2])
os.environ.update(s.to_env())
ensure_dbt_manifest()
import dagster as dg
from sop_pipeline.definitions import defs
job = defs.resolve_job_def("sop_cycle")
sel = dg.AssetSelection.groups("extracts", "ingest", "staging").resolve(defs.resolve_asset_graph())
t = time.perf_counter()
res = job.execute_in_process(asset_selection=sorted(sel), raise_on_error=True)
print("ELAPSED", time.perf_counter() - t)
"""


def _run(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) of the child, stdout."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, peak, proc.stdout


def bench(size: str, workdir: Path) -> dict:
    extracts, data = workdir / size / "extracts", workdir / size / "data"
    gen_s, gen_mb, _ = _run([*SOP, "demo", "--size", size, "--out", str(extracts)])
    pos_rows = duckdb.sql(f"select count(*) from read_csv('{extracts}/pos_sales.csv')").fetchall()[0][0]
    all_rows = sum(duckdb.sql(f"select count(*) from read_csv('{p}')").fetchall()[0][0] for p in extracts.glob("*.csv"))
    t = time.perf_counter()
    for p in extracts.glob("*.csv"):
        duckdb.sql(f"select * from read_csv('{p}', all_varchar=true)").fetchall()
    floor_s = time.perf_counter() - t
    ingest_s, ingest_mb, out = _run([sys.executable, "-c", STAGE_SCRIPT, str(extracts), str(data)])
    inner = float(out.split("ELAPSED")[-1].split()[0])
    return {
        "size": size,
        "pos_rows": pos_rows,
        "all_rows": all_rows,
        "generate_s": gen_s,
        "floor_read_s": floor_s,
        "ingest_staging_s": inner,
        "process_s": ingest_s,
        "peak_rss_mb": max(gen_mb, ingest_mb),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["small", "medium"], choices=["small", "medium", "large"])
    ap.add_argument("--workdir", default=None, help="where to write extracts (default: a temp dir)")
    args = ap.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="sop_bench_"))
    rows = [bench(s, workdir) for s in args.sizes]
    print(
        f"\nmachine: {platform.processor() or platform.machine()}, {platform.system()} "
        f"{platform.release()}, python {platform.python_version()}"
    )
    print(
        "| size | POS rows | all rows | generate (s) | DuckDB read-only floor (s) | ingest + GX + staging (s) "
        "| process incl. imports (s) | peak RSS (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['size']} | {r['pos_rows']:,} | {r['all_rows']:,} | {r['generate_s']:.1f} | "
            f"{r['floor_read_s']:.1f} | {r['ingest_staging_s']:.1f} | {r['process_s']:.1f} | "
            f"{r['peak_rss_mb']:,.0f} |"
        )


if __name__ == "__main__":
    main()
