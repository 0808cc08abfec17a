"""duckdb_hold: an in-process run opens the warehouse file once, and lets go of it for other processes."""

import subprocess
import sys

import duckdb
import pandas as pd
import pytest

from sop_pipeline.resources import Warehouse
from sop_pipeline.warehouse_engines import duckdb_hold

OPEN_ELSEWHERE = "import duckdb, sys; duckdb.connect(sys.argv[1]).execute('select count(*) from t').fetchall()"


def _other_process_can_open(path) -> bool:
    """Whether a second process can open the file read-write (DuckDB's file lock)."""
    done = subprocess.run([sys.executable, "-c", OPEN_ELSEWHERE, str(path)], capture_output=True, text=True)
    if done.returncode and "lock" not in done.stderr.lower():
        raise AssertionError(done.stderr)
    return done.returncode == 0


@pytest.fixture
def warehouse(tmp_path):
    wh = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    with wh.tables() as tables:
        tables.replace("main", "t", pd.DataFrame({"x": [1, 2, 3]}))
    return wh


def test_connections_inside_a_hold_share_one_open_database(warehouse, monkeypatch):
    opened = []
    real = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: opened.append(a) or real(*a, **k))
    with duckdb_hold.hold(warehouse.path):
        for _ in range(5):
            with warehouse.tables() as tables:
                tables.replace("main", "t", pd.DataFrame({"x": [1, 2, 3, 4]}))
            with warehouse.tables(read_only=True) as tables:  # read-only: a cursor of the same database
                assert len(tables.read("main", "t")) == 4
        assert len(opened) == 1
        assert not _other_process_can_open(warehouse.path)  # held: the run's process has the file
        with duckdb_hold.suspended(warehouse.path):  # a dbt step / publish: closed and checkpointed
            assert _other_process_can_open(warehouse.path)
            with warehouse.tables(read_only=True) as tables:  # short connections meanwhile
                assert len(tables.read("main", "t")) == 4
        assert duckdb_hold.holding(warehouse.path)
        with warehouse.tables() as tables:
            assert len(tables.read("main", "t")) == 4
    assert not duckdb_hold.holding(warehouse.path)
    assert _other_process_can_open(warehouse.path)  # the hold's end closed the file
    assert len(opened) == 3  # the hold, the suspended block's read, the reopen after it


def test_a_cursor_sets_threads_as_a_fresh_connection_would(warehouse):
    def threads(con):
        return con.execute("select current_setting('threads')").fetchone()[0]

    with duckdb.connect() as fresh:
        default = threads(fresh)
    with duckdb_hold.hold(warehouse.path):
        with warehouse.connect() as con:
            assert threads(con) == 1  # one thread: float sums identical from run to run
        with warehouse.connect(parallel=True) as con:
            assert threads(con) == default  # ingest's bulk writes: DuckDB's default
        with warehouse.connect() as con:
            assert threads(con) == 1


def test_a_held_database_that_grew_is_closed_after_the_block(warehouse, monkeypatch):
    monkeypatch.setattr(duckdb_hold, "MAX_HELD_BYTES", -1)  # every block counts as large
    with duckdb_hold.hold(warehouse.path):
        with warehouse.tables() as tables:
            tables.read("main", "t")
        assert _other_process_can_open(warehouse.path)  # released at once: memory stays bounded
        with warehouse.tables() as tables:  # and reopened on demand
            assert len(tables.read("main", "t")) == 3


def test_a_failed_block_leaves_the_hold_usable(warehouse):
    with duckdb_hold.hold(warehouse.path):
        with pytest.raises(duckdb.CatalogException):
            with warehouse.connect() as con:
                con.execute("select * from no_such_table")
        with warehouse.connect() as con:
            assert con.execute("select count(*) from t").fetchone()[0] == 3
    assert _other_process_can_open(warehouse.path)
