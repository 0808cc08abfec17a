"""Benchmark: the cycle on a PostgreSQL warehouse in one process vs on N processes (the fan-out).

Starts a private PostgreSQL server (the Debian package's initdb/pg_ctl, as the tests do:
tests/fixtures/postgres.py), writes the demo extracts once, then runs, back to back in the same
invocation, `sop run --warehouse postgresql://... --processes P` for each P of `--processes`
(default `1 2`: the baseline is the in-process executor, the same code and the same server), each
into a fresh database and data dir, `--repeat` times. Per run: wall seconds of the child, the time
`sop run` reports, CPU seconds of the `sop run` process tree and the PostgreSQL server's CPU seconds
during the run, the seconds of the fanned-out assets (first step start to combine end, from the
run's step log), each step's process start-up (STEP_WORKER_STARTING -> STEP_START in the run's event
log: median, sum, and the longest, which is a first step waiting for the fork server's preload) and
the load average at the start and end.

The process tree's CPU: with `--processes` > 1 the steps run in children of the multiprocess
executor's fork server, which the `sop run` process does not wait for; this script makes itself a
child subreaper (prctl PR_SET_CHILD_SUBREAPER) and reaps every descendant after the run, so
RUSAGE_CHILDREN counts them all.

    .venv/bin/python benchmarks/fanout.py [--size medium] [--processes 1 2] [--repeat 1] [--work-dir DIR]

Run it under the machine-wide lock: `flock /tmp/sop-bench.lock .venv/bin/python benchmarks/fanout.py`.
Prints a markdown table; copy it into benchmarks/README.md with the machine, date and load.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.postgres_cycle import _server_cpu, demo_and_server, new_database  # noqa: E402

SOP = [sys.executable, "-m", "sop_pipeline.cli"]
PR_SET_CHILD_SUBREAPER = 36
# step-name prefixes of the fan-out graphs
FANNED = ("changeover_estimate", "sequence", "backtest", "forecast", "safety_stock")


def _reap_all() -> None:
    """Wait for every orphaned descendant (the fork server and its children) reparented to us."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _step_profile(home: Path) -> dict:
    """From the run's Dagster instance (a fresh SQLite one per run in DAGSTER_HOME): seconds from the
    first step start to the last step end of each fan-out, its part steps, and the number of steps."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_runs(limit=1)[0]
        stats = instance.get_run_step_stats(run.run_id)
        starting, started = {}, {}
        for record in instance.get_records_for_run(run.run_id, limit=1_000_000).records:
            event = record.event_log_entry.dagster_event
            if event is not None and event.event_type_value == "STEP_WORKER_STARTING":
                starting[event.step_key] = record.event_log_entry.timestamp
            elif event is not None and event.event_type_value == "STEP_START":
                started[event.step_key] = record.event_log_entry.timestamp
    out: dict = {"steps": len(stats)}
    # a step's process start-up (multiprocess executor only): STEP_WORKER_STARTING -> STEP_START
    gaps = sorted(started[k] - starting[k] for k in started if k in starting)
    if gaps:
        out["startup_median"] = gaps[len(gaps) // 2]
        out["startup_sum"] = sum(gaps)
        out["startup_first"] = max(gaps)  # the first steps wait for the fork server's preload
    for name in FANNED:
        mine = [s for s in stats if f".{name}__" in s.step_key and s.start_time and s.end_time]
        if mine:
            out[name] = max(s.end_time for s in mine) - min(s.start_time for s in mine)
            out[f"{name}_parts"] = sum("__part[" in s.step_key for s in mine)
    return out


def _run(extracts: Path, data: Path, dsn: str, processes: int, server_dir: Path) -> dict:
    load_start = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = _server_cpu(server_dir)
    args = [*SOP, "run", "--extracts", str(extracts), "--data-dir", str(data), "--warehouse", dsn]
    args += ["--processes", str(processes)]
    env = {k: v for k, v in os.environ.items() if k not in ("SOP_WAREHOUSE", "SOP_AS_OF", "SOP_DATA_DIR")}
    home = data.parent / f"{data.name}_dagster_home"  # a fresh SQLite instance: the run's step timings
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env["DAGSTER_HOME"] = str(home)
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    _reap_all()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"sop run --processes {processes} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    done = re.search(r"done in ([0-9.]+) s", proc.stdout)
    return {
        "processes": processes,
        "wall": wall,
        "job": float(done.group(1)) if done else float("nan"),
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "server_cpu": _server_cpu(server_dir) - server_before,
        "peak_rss_gb": after.ru_maxrss / 1024**2,
        "fanned": _step_profile(home),
        "load_start": load_start,
        "load_end": os.getloadavg()[0],
    }


def _startup(fanned: dict) -> str:
    if "startup_median" not in fanned:
        return "- (in-process)"
    return f"{fanned['startup_median']:.2f} / {fanned['startup_sum']:.1f} / {fanned['startup_first']:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="sop-bench-fanout-"))
    rows = []
    with demo_and_server(work, args.size) as (extracts, server):
        # after the server's start: its postmaster (daemonized by pg_ctl) must not become our child
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        for n in range(args.repeat):
            for processes in args.processes:
                data = work / args.size / f"data_p{processes}_{n}"
                shutil.rmtree(data, ignore_errors=True)
                row = _run(extracts, data, new_database(server), processes, server.datadir)
                rows.append(row)
                print(f"{row}", file=sys.stderr, flush=True)
    print(f"\n{platform.node()} ({os.cpu_count()} cores), {datetime.now():%Y-%m-%d %H:%M}, size {args.size}\n")
    print(
        "| run | processes | wall s | `sop run` job s | CPU s (sop run tree) | CPU s (PostgreSQL server) | "
        "steps | step start-up s: median / sum / longest | changeover estimate s (parts) | sequence s (parts) | "
        "backtest s (parts) | forecast s (parts) | safety stock s (parts) | load start / end |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for i, r in enumerate(rows, 1):
        f = r["fanned"]
        print(
            f"| {i} | {r['processes']} | {r['wall']:.1f} | {r['job']:.1f} | {r['cpu']:.1f} | {r['server_cpu']:.1f} | "
            f"{f.get('steps', 0)} | {_startup(f)} | {f.get('changeover_estimate', float('nan')):.1f} ({f.get('changeover_estimate_parts', 0)}) | "
            f"{f.get('sequence', float('nan')):.1f} ({f.get('sequence_parts', 0)}) | "
            f"{f.get('backtest', float('nan')):.1f} ({f.get('backtest_parts', 0)}) | "
            f"{f.get('forecast', float('nan')):.1f} ({f.get('forecast_parts', 0)}) | "
            f"{f.get('safety_stock', float('nan')):.1f} ({f.get('safety_stock_parts', 0)}) | "
            f"{r['load_start']:.1f} / {r['load_end']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
