"""Benchmark: writing and reading a table of the PostgreSQL warehouse, COPY as CSV vs row by row.

`PostgresTables.replace` writes a table with COPY. Since 2026-11-30 the rows go as CSV from
Arrow's writer, 100,000 rows at a time (`postgres._copy_frame`); the row-by-row path (a Python
tuple per row, `copy.write_row`) is kept for columns CSV cannot carry, and is the baseline here:
the same process forces it by making `_arrow_for_csv` return None. Input: a pos_sales-like table
(date, store, SKU, units, revenue with 1% NULL, promo flag, source row) as a pyarrow Table (what
ingest writes) or a pandas DataFrame (what the IO manager writes). Each (path, kind, rows) runs
in its own child process, so its seconds and peak RSS growth are its own. Reads (``read``, the
IO manager's DataFrame, and ``read_arrow``) go through ``COPY (select ...) TO STDOUT`` as CSV
parsed by Arrow (`postgres._copy_out`) against fetching rows. Starts a private
PostgreSQL server (tests/fixtures/postgres.py).

    .venv/bin/python benchmarks/postgres_copy.py [--rows 1000000 3000000] [--repeat 2]

Prints a markdown table; copy it into benchmarks/README.md with the machine and date.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.postgres import _find_bindir, start_server, stop_server  # noqa: E402

CHILD = r"""
import json, resource, sys, time
import numpy as np, pandas as pd, pyarrow as pa, pyarrow.compute
from sop_pipeline.warehouse_engines import postgres as P
dsn, n, kind, path, op = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
if path == "rows":  # the row-by-row paths (the baseline)
    P._arrow_for_csv = lambda frame: None
    P._copy_out = lambda cur, sql, types: None
if op == "read":  # the table the CSV write made, read back as the IO manager reads (kind: frame or arrow)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    with P.connect(dsn) as con:
        tables = P.PostgresTables(con)
        got = tables.read("bench", f"pos_csv_{kind}") if kind == "frame" else tables.read_arrow("bench", f"pos_csv_{kind}")
    seconds = time.perf_counter() - t
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    units = got["units"].sum() if kind == "frame" else pa.compute.sum(got["units"]).as_py()
    revenue = int(got["net_revenue"].notna().sum()) if kind == "frame" else len(got) - got["net_revenue"].null_count
    print(json.dumps({"seconds": seconds, "rss_growth_mb": grown, "check": [float(len(got)), float(units), float(revenue)]}))
    sys.exit(0)
rng = np.random.default_rng(0)
frame = pd.DataFrame({
    "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D"),
    "store_id": np.array([f"S{i:04d}" for i in range(500)], dtype=object)[rng.integers(0, 500, n)],
    "sku": np.array([f"SKU{i:05d}" for i in range(3000)], dtype=object)[rng.integers(0, 3000, n)],
    "units": rng.poisson(3, n).astype(float),
    "net_revenue": np.where(rng.random(n) < 0.01, np.nan, rng.gamma(2, 10, n)),
    "is_promo": rng.random(n) < 0.1,
    "_source_row": np.arange(n, dtype=np.int64),
})
data = pa.Table.from_pandas(frame, preserve_index=False) if kind == "arrow" else frame
del frame
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
with P.connect(dsn) as con:
    P.PostgresTables(con).replace("bench", f"pos_{path}_{kind}", data)
    con.commit()
seconds = time.perf_counter() - t
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
with P.connect(dsn) as con, con.cursor() as cur:
    cur.execute(f"select count(*), sum(units), count(net_revenue) from bench.pos_{path}_{kind}")
    check = [float(x) for x in cur.fetchone()]
print(json.dumps({"seconds": seconds, "rss_growth_mb": grown, "check": check}))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", nargs="*", type=int, default=[1_000_000, 3_000_000])
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sop_pg_copy_"))
    server, owner = start_server(_find_bindir(), root)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    lines = [
        f"PostgreSQL COPY, {datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f} at the start\n",
        "| operation | rows | path | seconds (best of %d) | peak RSS growth (MB) | same table |" % args.repeat,
        "|---|---:|---|---:|---:|---|",
    ]
    try:
        for n in args.rows:
            for op, kind in (("write", "arrow"), ("write", "frame"), ("read", "arrow"), ("read", "frame")):
                got = {}
                for _ in range(args.repeat):
                    for path in ("rows", "csv"):  # alternating, the baseline first
                        out = subprocess.run(
                            [sys.executable, "-c", CHILD, server.dsn(), str(n), kind, path, op],
                            capture_output=True, text=True, env=env, check=True,
                        ).stdout  # fmt: skip
                        r = json.loads(out.strip().splitlines()[-1])
                        best = got.get(path)
                        got[path] = r if best is None or r["seconds"] < best["seconds"] else best
                same = "yes" if got["rows"]["check"] == got["csv"]["check"] else "NO"
                for path in ("rows", "csv"):
                    r = got[path]
                    label = "row by row (before)" if path == "rows" else "COPY as CSV, Arrow"
                    what = {"write": "replace", "read": "read_arrow" if kind == "arrow" else "read"}[op]
                    source = ("a pyarrow Table" if kind == "arrow" else "a DataFrame") if op == "write" else ""
                    lines.append(
                        f"| {what} {source} | {n:,} | {label} "
                        f"| {r['seconds']:.2f} | {r['rss_growth_mb']:,.0f} | {same} |"
                    )
    finally:
        stop_server(server, owner)
        shutil.rmtree(root, ignore_errors=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
