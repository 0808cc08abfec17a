"""PostgreSQL as a second warehouse, on a real private server (tests/fixtures/postgres.py).

- `PostgresTables` (the IO manager's read / replace / describe on PostgreSQL) gives back the
  DataFrame DuckDB's `DuckDBTables` gives for the same input: same columns, dtypes and values.
- Moving a DuckDB cycle to PostgreSQL (`python -m sop_pipeline.warehouse_engines.postgres`): the
  items + POS only cycle's dbt inputs (raw, meta, quarantine, analytics, history; its empty analytics
  outputs have untyped columns) are copied into PostgreSQL, `dbt build --target postgres` runs every
  model and test, and every staging, intermediate and mart table equals the DuckDB cycle's (same row
  count and columns, numeric sums within 1e-6, text and dates exactly).

The whole small-demo cycle run on PostgreSQL (`sop run --warehouse`) is test_postgres_run.py.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest

from sop_pipeline.io_manager import DuckDBTables
from sop_pipeline.warehouse_engines.postgres import (
    PostgresTables,
    PostgresWarehouseError,
    connect,
)
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sku": ["A", "B", None],
            "units": [1, 2, 3],
            "big": np.array([2**40, -1, 0], dtype="int64"),
            "small": np.array([1, 2, 3], dtype="int32"),
            "maybe_units": pd.array([1, None, 3], dtype="Int64"),
            "price": [1.5, np.nan, 1e-300],
            "flag": [True, False, True],
            "maybe_flag": pd.array([True, None, False], dtype="boolean"),
            "week_start": pd.to_datetime(["2026-01-05", "2026-01-12", None]).astype("datetime64[us]"),
            "as_of": [dt.date(2026, 1, 1), None, dt.date(2026, 2, 1)],
            "note": ['it\'s "quoted"', "tab\tand\nnewline", "\\backslash"],
        }
    )


def test_postgres_tables_give_back_what_duckdb_tables_give(postgres_server):
    frame = _frame()
    with duckdb.connect() as con:
        duck = DuckDBTables(con)
        duck.replace("analytics", "sample", frame)
        expected = duck.read("analytics", "sample")
    with connect(postgres_server.create_database("io_roundtrip")) as con:
        tables = PostgresTables(con)
        tables.replace("analytics", "sample", frame)
        tables.replace("analytics", "sample", frame)  # replacing is idempotent
        con.commit()
        got = tables.read("analytics", "sample")
        meta = tables.describe("analytics", "sample", preview_rows=2)
    pd.testing.assert_frame_equal(got, expected)
    assert meta["dagster/row_count"].value == 3
    assert "it's" in meta["preview"].value


def test_unknown_table_and_unreachable_server_are_one_line_errors(postgres_server):
    with connect(postgres_server.dsn()) as con:
        with pytest.raises(PostgresWarehouseError, match=r"^analytics\.nope is not in the PostgreSQL warehouse$"):
            PostgresTables(con).read("analytics", "nope")
    closed = f"postgresql://sop:secret@127.0.0.1:{postgres_server.port + 1}/sop"
    with pytest.raises(PostgresWarehouseError) as err:
        connect(closed)
    message = str(err.value)
    assert "\n" not in message and "secret" not in message and "sop:***@" in message


def test_the_build_command_on_the_items_and_pos_only_cycle(items_and_pos_only, postgres_server):
    """The same through `python -m sop_pipeline.warehouse_engines.postgres`, on the cycle with only
    the required extracts (hostile items): its empty analytics outputs have untyped columns."""
    assert items_and_pos_only.returncode == 0, items_and_pos_only.stdout[-3000:]
    dsn = postgres_server.create_database("items_and_pos_only")
    proc = subprocess.run(
        [sys.executable, "-m", "sop_pipeline.warehouse_engines.postgres", "--data-dir", str(items_and_pos_only.data)]
        + ["--dsn", dsn],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1] == "same tables as the DuckDB warehouse"
    missing = subprocess.run(
        [sys.executable, "-m", "sop_pipeline.warehouse_engines.postgres", "--data-dir", "/nonexistent", "--dsn", dsn],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and missing.stderr == "no DuckDB warehouse at /nonexistent/warehouse.duckdb\n"


def test_replace_rows_replaces_one_cycle_and_keeps_the_others(postgres_server):
    def cycle(day: str, units: list[float], **extra) -> pd.DataFrame:
        frame = pd.DataFrame({"cycle_id": [dt.date.fromisoformat(day)] * len(units), "units": units})
        return frame.assign(**extra)

    with connect(postgres_server.create_database("history_rows")) as con:
        tables = PostgresTables(con)
        tables.replace_rows("history", "plan", cycle("2026-01-04", [1.0, 2.0]), "cycle_id", dt.date(2026, 1, 4))
        tables.replace_rows("history", "plan", cycle("2026-01-11", [5.0]), "cycle_id", dt.date(2026, 1, 11))
        # a re-run of the first cycle replaces its rows only, and may bring a new column
        rerun = cycle("2026-01-04", [3.0], family=["F1"])
        tables.replace_rows("history", "plan", rerun, "cycle_id", dt.date(2026, 1, 4))
        con.commit()
        assert tables.cycles("history", "plan") == (2, 2)
        got = tables.read("history", "plan").sort_values("cycle_id", ignore_index=True)
    assert got["units"].tolist() == [3.0, 5.0]
    assert got["family"].tolist()[0] == "F1" and pd.isna(got["family"].tolist()[1])
    assert [d.date().isoformat() for d in got["cycle_id"]] == ["2026-01-04", "2026-01-11"]
