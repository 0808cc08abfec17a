"""Benchmark: the same cycle on the embedded DuckDB warehouse and on PostgreSQL, back to back.

Starts a private PostgreSQL server (the Debian package's initdb/pg_ctl, as the tests do:
tests/fixtures/postgres.py), writes the demo extracts once, then alternates
`sop run --extracts X --data-dir <fresh>` (DuckDB) and the same with `--warehouse postgresql://...`
(a fresh database each time), `--repeat` times each. Per run: wall seconds of the child, the time
`sop run` reports, CPU seconds of the `sop run` process tree (the child and the processes it waited
for, e.g. dbt) and, on PostgreSQL, the server's CPU seconds during the run (postmaster + backends,
reaped ones included), which the DuckDB run has inside its own process.

    .venv/bin/python benchmarks/postgres_cycle.py [--size small] [--repeat 2] [--work-dir DIR]

Prints a markdown table; copy it into benchmarks/README.md with the machine, date and load.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(REPO / "benchmarks"))

from cycle import run_measured  # noqa: E402
from tests.fixtures.postgres import _find_bindir, start_server, stop_server  # noqa: E402

SOP = [sys.executable, "-m", "sop_pipeline.cli"]
TICKS = os.sysconf("SC_CLK_TCK")


def _server_cpu(datadir: Path) -> float:
    """CPU seconds of the server: the postmaster (with its reaped backends) and its live children."""
    pid = int((datadir / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid, ut, st, cut, cst = int(fields[1]), *(int(fields[i]) for i in (11, 12, 13, 14))
        if int(proc.name) == pid:
            total += (ut + st + cut + cst) / TICKS
        elif ppid == pid:
            total += (ut + st) / TICKS
    return total


def _run(extracts: Path, data: Path, warehouse: str | None, server_dir: Path | None) -> dict:
    server_before = _server_cpu(server_dir) if server_dir else 0.0
    args = [*SOP, "run", "--extracts", str(extracts), "--data-dir", str(data)]
    if warehouse:
        args += ["--warehouse", warehouse]
    env = {k: v for k, v in os.environ.items() if k not in ("SOP_WAREHOUSE", "SOP_AS_OF", "SOP_DATA_DIR")}
    data.parent.mkdir(parents=True, exist_ok=True)
    run = run_measured(args, data.parent / f"{data.name}_stdout.txt", env=env)
    if run["returncode"] != 0:
        raise SystemExit(f"sop run failed ({'postgres' if warehouse else 'duckdb'}):\n{run['stderr'][-3000:]}")
    done = re.search(r"done in ([0-9.]+) s", "\n".join(line for _, line in run["lines"]))
    return {
        "engine": "PostgreSQL" if warehouse else "DuckDB",
        "wall": run["wall_s"],
        "job": float(done.group(1)) if done else float("nan"),
        "cpu": run["cpu_s"],
        "peak_gb": max((b for _, b in run["samples"]), default=0) / 1e9,
        "server_cpu": (_server_cpu(server_dir) - server_before) if server_dir else 0.0,
        "load": os.getloadavg()[0],
    }


@contextmanager
def demo_and_server(work: Path, size: str) -> Iterator[tuple[Path, object]]:
    """The seeded demo extracts of `size` under `work` (made once, then reused) and a private
    PostgreSQL server for the block (stopped and removed after it)."""
    bindir = _find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL binaries not found (apt-get install postgresql)")
    extracts = work / size / "extracts"
    if not extracts.exists():
        subprocess.run([*SOP, "demo", "--size", size, "--out", str(extracts)], cwd=REPO, check=True)
    root = Path(tempfile.mkdtemp(prefix="sop-bench-pgserver-"))
    server, owner = start_server(bindir, root)
    try:
        yield extracts, server
    finally:
        stop_server(server, owner)
        shutil.rmtree(root, ignore_errors=True)


def new_database(server) -> str:
    """A new, empty database on `server` for one run: its DSN."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.dsn(), autocommit=True) as con:
        con.execute(f'create database "{name}"')
    return server.dsn(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="sop-bench-pg-"))
    rows = []
    with demo_and_server(work, args.size) as (extracts, server):
        for n in range(args.repeat):
            for engine in ("duckdb", "postgres"):
                data = work / args.size / f"data_{engine}_{n}"
                shutil.rmtree(data, ignore_errors=True)
                dsn = new_database(server) if engine == "postgres" else None
                row = _run(extracts, data, dsn, server.datadir if dsn else None)
                rows.append(row)
                print(
                    f"{row['engine']}: wall {row['wall']:.1f} s, job {row['job']:.1f} s, "
                    f"CPU {row['cpu']:.1f} s + server {row['server_cpu']:.1f} s, load {row['load']:.1f}",
                    file=sys.stderr,
                    flush=True,
                )
    print(f"\n{platform.node()} ({os.cpu_count()} cores), {datetime.now():%Y-%m-%d %H:%M}, size {args.size}\n")
    print(
        "| run | engine | wall s | `sop run` job s | CPU s (sop run tree) | CPU s (PostgreSQL server) "
        "| peak RSS, sop run tree (GB) | load (1 min) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for i, r in enumerate(rows, 1):
        print(
            f"| {i} | {r['engine']} | {r['wall']:.1f} | {r['job']:.1f} | {r['cpu']:.1f} | "
            f"{r['server_cpu']:.1f} | {r['peak_gb']:.2f} | {r['load']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
