"""The whole cycle on a PostgreSQL warehouse: `sop run --warehouse postgresql://...` on the small
demo, against a real private server (tests/fixtures/postgres.py), equals the session's DuckDB run
of the same extracts (`small_cycle`).

- Every table of every warehouse schema (raw, quarantine, meta, staging, intermediate, analytics,
  history, marts) is in both warehouses with the same row count and columns, numeric sums within
  1e-6, text and dates exactly (`compare_with_duckdb`).
- The serving file (a DuckDB file on either engine, filled from PostgreSQL through the engine's
  reads) publishes the same tables with the same values, and the meeting pack is written.
- Nothing is written to a DuckDB warehouse file: no `warehouse.duckdb` in the data dir.
- The run records into a Dagster instance on PostgreSQL storage (`deploy/dagster.postgres.yaml`
  in `$DAGSTER_HOME`, dagster-postgres), as a team running the UI and daemon on a server would:
  the run, every asset's materialization for the cycle partition and the check results are there.
- The run uses two processes (`sop run --processes 2`, Dagster's multiprocess executor): the fan-out
  parts of the heavy analytics (sop_pipeline/assets/fanout.py, one step per resource) run in child
  processes of their own, and the tables still equal the in-process DuckDB cycle's.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid

import duckdb
import pytest

from sop_pipeline.warehouse_engines.compare import compare_tables
from sop_pipeline.warehouse_engines.duckdb_tables import DuckDBTables
from sop_pipeline.warehouse_engines.postgres import compare_with_duckdb, connect
from sop_pipeline.settings import REPO_ROOT
from tests.conftest import CYCLE_TIMEOUT_S, CycleRun, sop

pytestmark = pytest.mark.integration

SCHEMAS = ("raw", "quarantine", "meta", "staging", "intermediate", "analytics", "history", "marts")
# differ by design between two publishes: when and as which release, and the checksum over column types
# (PostgreSQL's numeric and DuckDB's HUGEINT/DECIMAL both serve as DOUBLE-compatible values)
PUBLISH_INFO = "_publish_info"


@pytest.fixture(scope="module")
def postgres_cycle(small_cycle, postgres_server, tmp_path_factory):
    """`sop run --warehouse <dsn>` on the small_cycle's extracts, in a database and data dir of its own
    (unique names: two xdist workers never share either), recording into a Dagster instance whose
    storage is another database of the same server."""
    assert small_cycle.returncode == 0
    suffix = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    dsn = postgres_server.create_database(f"sop_run_{suffix}")
    instance_dsn = postgres_server.create_database(f"dagster_{suffix}")
    instance_env = {
        "SOP_DAGSTER_PG_HOST": "127.0.0.1",
        "SOP_DAGSTER_PG_PORT": str(postgres_server.port),
        "SOP_DAGSTER_PG_USER": postgres_server.user,
        "SOP_DAGSTER_PG_DB": f"dagster_{suffix}",
    }
    root = tmp_path_factory.mktemp("pg_cycle")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
    data = root / "data"
    proc = sop(
        "run",
        *("--extracts", str(small_cycle.extracts), "--data-dir", str(data), "--warehouse", dsn),
        *("--processes", "2"),
        env={"DAGSTER_HOME": str(home), **instance_env},
        timeout=CYCLE_TIMEOUT_S,
    )
    run = CycleRun(small_cycle.extracts, data, proc.stdout, proc.stderr, proc.returncode)
    assert run.returncode == 0, f"sop run on PostgreSQL failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    return run, dsn, home, instance_dsn, instance_env


def test_a_cycle_on_postgres_builds_every_table_of_the_duckdb_cycle(small_cycle, postgres_cycle):
    run, dsn, *_ = postgres_cycle
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
    run, *_ = postgres_cycle
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


def test_the_run_is_recorded_in_a_dagster_instance_on_postgres(postgres_cycle, monkeypatch):
    import dagster as dg

    run, _, home, instance_dsn, instance_env = postgres_cycle
    for name, value in instance_env.items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        runs = instance.get_runs()
        assert [(r.job_name, r.status) for r in runs] == [("sop_cycle", dg.DagsterRunStatus.SUCCESS)]
        partition = runs[0].tags["dagster/partition"]
        records = instance.fetch_materializations(dg.AssetKey(["marts", "plan_of_record"]), limit=5).records
        assert [r.partition_key for r in records] == [partition]
        checks = instance.get_records_for_run(runs[0].run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        assert len(checks.records) > 100
        # the multiprocess executor: each step in a process of its own, a part per resource (family) of each fan-out
        starts = instance.get_records_for_run(runs[0].run_id, of_type=dg.DagsterEventType.STEP_START).records
        pids = {r.event_log_entry.dagster_event.pid for r in starts}
        parts = sorted(r.event_log_entry.step_key for r in starts if "__part[" in r.event_log_entry.step_key)
        assert len(pids) > 10, f"steps ran in {len(pids)} processes"
        for fanned in ("changeover_estimate__part[", "sequence__part[", "backtest__part[", "forecast__part["):
            assert sum(fanned in k for k in parts) >= 2, parts
        # the backtest, the forecast and the safety stock's simulations: one part per product family of
        # the demo (the tables equal the DuckDB cycle's above, which ran each as one part)
        for fanned in ("backtest__part[", "forecast__part[", "safety_stock__part["):
            families = {k.split("[", 1)[1].rstrip("]") for k in parts if fanned in k}
            assert families == {"Beverages", "Dairy", "Frozen", "Household", "Snacks"}, (fanned, families)
        # the parts' values went through pickles in the instance's storage, deleted once the run succeeded
        fanout_dir = home / "storage" / "fanout"
        assert fanout_dir.is_dir() and not any(fanout_dir.iterdir()), list(fanout_dir.rglob("*"))[:5]
    # the tables are in the instance's own database, not in the warehouse's
    with connect(instance_dsn) as con, con.cursor() as cur:
        cur.execute("select count(*) from runs")
        assert cur.fetchone()[0] == 1


def test_dbt_runs_without_jit_and_analyzes_each_table_on_postgres_only(small_cycle, postgres_cycle):
    """dbt_project.yml's hooks (macros postgres_session, analyze_table): on PostgreSQL every model
    sets jit off for dbt's session and every table model is analyzed once built; on DuckDB both
    render empty and nothing runs."""
    run = postgres_cycle[0]

    def dbt_log(data) -> str:
        return "".join(p.read_text() for p in (data / "dbt").rglob("dbt.log"))

    pg = dbt_log(run.data)
    assert "set jit = off" in pg
    assert re.search(r'analyze \\"[^"\\]+\\"\.\\"marts\\"\.\\"kpi_scorecard\\"', pg), "kpi_scorecard not analyzed"
    assert re.search(r'analyze \\"[^"\\]+\\"\.\\"intermediate\\"\.\\"int_demand_weekly\\"', pg)
    local = dbt_log(small_cycle.data)
    assert local and "set jit" not in local and "analyze " not in local


def test_consecutive_cycles_on_postgres_read_the_previous_cycles_selection(demo_extracts, postgres_server, tmp_path):
    # the backtest reads the previous cycle's class defaults from history.forecast_method_selection
    # (portable SQL on the warehouse's table operations): two weekly cycles on PostgreSQL keep the
    # intermittent default where the fixed prior would flip it, as on DuckDB (test_backfill.py)
    dsn = postgres_server.create_database(f"consecutive_{uuid.uuid4().hex[:8]}")
    proc = sop(
        "backfill", "--from", "2026-11-01", "--to", "2026-11-08", "--extracts", str(demo_extracts),
        "--data-dir", str(tmp_path / "data"), "--warehouse", dsn, timeout=3 * CYCLE_TIMEOUT_S,
    )  # fmt: skip
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    with connect(dsn) as con:
        rows = con.execute(
            "select cast(cycle_id as date), intermittency, min(default_method), max(default_method) "
            "from history.forecast_method_selection group by 1, 2 order by 1, 2"
        ).fetchall()
    by = {(str(c), cls): (lo, hi) for c, cls, lo, hi in rows}
    median = ("combination_median", "combination_median")
    assert by[("2026-11-01", "intermittent")] == by[("2026-11-08", "intermittent")] == median
    assert by[("2026-11-01", "smooth")] == by[("2026-11-08", "smooth")]
