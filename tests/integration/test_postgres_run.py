"""The whole cycle on a PostgreSQL warehouse: `sop run --warehouse postgresql://...` on the small
demo, against a real private server (tests/fixtures/postgres.py), equals the session's DuckDB run
of the same extracts (`small_cycle`).

- Every table of every warehouse schema (raw, quarantine, meta, staging, intermediate, analytics,
  history, marts) is in both warehouses with the same row count and columns, numeric sums within
  1e-6, text and dates exactly (`compare_with_duckdb`).
- The serving file (a DuckDB file on either engine, filled from PostgreSQL through the engine's
  reads) publishes the same tables with the same values, and the meeting pack is written.
- Nothing is written to a DuckDB warehouse file: no `warehouse.duckdb` in the data dir.
"""

from __future__ import annotations

import os
import uuid

import duckdb
import pytest

from sop_pipeline.warehouse_engines.compare import compare_tables
from sop_pipeline.warehouse_engines.duckdb_tables import DuckDBTables
from sop_pipeline.warehouse_engines.postgres import compare_with_duckdb, connect
from tests.conftest import run_cycle

pytestmark = pytest.mark.integration

SCHEMAS = ("raw", "quarantine", "meta", "staging", "intermediate", "analytics", "history", "marts")
# differ by design between two publishes: when and as which release, and the checksum over column types
# (PostgreSQL's numeric and DuckDB's HUGEINT/DECIMAL both serve as DOUBLE-compatible values)
PUBLISH_INFO = "_publish_info"


@pytest.fixture(scope="module")
def postgres_cycle(small_cycle, postgres_server, tmp_path_factory):
    """`sop run --warehouse <dsn>` on the small_cycle's extracts, in a database and data dir of its own
    (unique names: two xdist workers never share either)."""
    assert small_cycle.returncode == 0
    dsn = postgres_server.create_database(f"sop_run_{os.getpid()}_{uuid.uuid4().hex[:6]}")
    run = run_cycle(small_cycle.extracts, tmp_path_factory.mktemp("pg_cycle") / "data", "--warehouse", dsn)
    assert run.returncode == 0, f"sop run on PostgreSQL failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    return run, dsn


def test_a_cycle_on_postgres_builds_every_table_of_the_duckdb_cycle(small_cycle, postgres_cycle):
    run, dsn = postgres_cycle
    assert not (run.data / "warehouse.duckdb").exists(), "a PostgreSQL run wrote a DuckDB warehouse file"
    assert f"warehouse {dsn}" in run.stdout.splitlines()[-1]
    with connect(dsn) as con, con.cursor() as cur:
        cur.execute(
            "select table_schema, count(*) from information_schema.tables where table_schema = any(%s) group by 1",
            [list(SCHEMAS)],
        )
        counts = dict(cur.fetchall())
    assert set(counts) == set(SCHEMAS), counts
    assert counts["marts"] > 40 and counts["raw"] >= 29, counts
    diffs = compare_with_duckdb(small_cycle.warehouse, dsn, schemas=SCHEMAS)
    assert not diffs, "\n".join(diffs[:40])


def test_a_cycle_on_postgres_publishes_the_same_serving_file_and_pack(small_cycle, postgres_cycle):
    run, _ = postgres_cycle
    with (
        duckdb.connect(str(small_cycle.serving), read_only=True) as duck,
        duckdb.connect(str(run.serving), read_only=True) as pg,
    ):
        left, right = DuckDBTables(duck).table_names("main"), DuckDBTables(pg).table_names("main")
        assert left == right and len(left) > 40
        tables = [t for t in left if t != PUBLISH_INFO]
        diffs = compare_tables(DuckDBTables(duck), DuckDBTables(pg), "main", tables)
        # the served column types: a date stays a date, a count an integer
        types = "select table_name, column_name, data_type from information_schema.columns where table_name = ?"
        kinds = {
            name: (
                [r[2] for r in duck.execute(types, [name]).fetchall()],
                [r[2] for r in pg.execute(types, [name]).fetchall()],
            )
            for name in ("plan_of_record", "datapack_demand_forecast")
        }
        cycle = [
            duck.execute("select cycle from _publish_info").fetchone(),
            pg.execute("select cycle from _publish_info").fetchone(),
        ]
    assert not diffs, "\n".join(diffs[:40])
    for name, (d, p) in kinds.items():
        assert [k == "DATE" for k in d] == [k == "DATE" for k in p], (name, d, p)
        assert [k in ("VARCHAR",) for k in d] == [k in ("VARCHAR",) for k in p], (name, d, p)
    assert cycle[0] == cycle[1]
    packs = sorted(p.name for p in (run.data / "reports").glob("sop_pack_*.html"))
    assert packs == sorted(p.name for p in (small_cycle.data / "reports").glob("sop_pack_*.html")) and packs
