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
import pyarrow as pa
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


def _wide_frame(n: int) -> pd.DataFrame:
    """Every column kind the pipeline writes, over several COPY chunks (CSV_CHUNK_ROWS)."""
    rng = np.random.default_rng(7)
    k = np.arange(n)
    price = rng.gamma(2.0, 10.0, n)
    price[::97] = np.nan
    price[5], price[6] = np.inf, -np.inf
    text = np.array(['say "hi", ok', "", "line\nbreak", "tab\there", "naïve ✓", "\\N", "NULL", "x"], dtype=object)
    return pd.DataFrame(
        {
            "i8": (k % 100).astype("int8"),
            "u32": (k % 7).astype("uint32"),
            "i64": k.astype("int64") * 3_000_000_000,
            "f32": rng.random(n).astype("float32"),
            "price": price,
            "maybe": pd.array(np.where(k % 5 == 0, None, k % 11), dtype="Int64"),
            "flag": k % 3 == 0,
            "maybe_flag": pd.array(np.where(k % 4 == 0, None, k % 2 == 0), dtype="boolean"),
            "ts": (pd.Timestamp("2026-01-05 06:07:08.123456") + pd.to_timedelta(k, unit="h")).astype("datetime64[us]"),
            "ts_utc": pd.Timestamp("2026-01-05", tz="UTC") + pd.to_timedelta(k, unit="min"),
            "day": [dt.date(2026, 1, 1) + dt.timedelta(days=int(x % 400)) if x % 13 else None for x in k],
            "text": np.where(k % 17 == 0, None, text[k % len(text)]),
            "family": pd.Categorical(np.array(["F1", "F2", "F3"])[k % 3]),
        }
    )


def test_copy_as_csv_writes_what_the_row_path_writes(postgres_server, monkeypatch):
    """Tables are written as CSV from Arrow (`_copy_frame`); the same frame written row by row (the
    path for columns CSV cannot carry) reads back identical, every kind of column, over several chunks."""
    from sop_pipeline.warehouse_engines import postgres as P

    frame = _wide_frame(P.CSV_CHUNK_ROWS * 2 + 17)
    arrow = pa.Table.from_pandas(frame.drop(columns=["family"]), preserve_index=False)
    arrow = arrow.set_column(
        arrow.schema.get_field_index("price"), "price", pa.array(frame["price"], from_pandas=False)
    )
    with connect(postgres_server.create_database("csv_copy")) as con:
        tables = PostgresTables(con)
        tables.replace("analytics", "as_csv", frame)
        tables.replace("raw", "as_csv", arrow)  # NaN in an Arrow float column stays NaN (not NULL)
        assert P._arrow_for_csv(frame) is not None and P._arrow_for_csv(arrow) is not None
        with monkeypatch.context() as m:
            m.setattr(P, "_arrow_for_csv", lambda frame: None)
            tables.replace("analytics", "as_rows", frame)
            tables.replace("raw", "as_rows", arrow)
        con.commit()
        for schema in ("analytics", "raw"):
            csv, rows = tables.read(schema, "as_csv"), tables.read(schema, "as_rows")
            pd.testing.assert_frame_equal(csv, rows)
        got = tables.read("analytics", "as_csv")
        nan_rows = tables.query("select count(*) as n from raw.as_csv where price = 'NaN'::float8")
        # reads come back through COPY ... TO STDOUT as CSV too: the same frames and Arrow tables as
        # fetching rows
        assert P._copy_out(con.cursor(), "select * from analytics.as_csv", tables._types("analytics", "as_csv"))
        read_csv = {
            (s, t): (tables.read(s, t), tables.read_arrow(s, t)) for s in ("analytics", "raw") for t in ("as_csv",)
        }
        with monkeypatch.context() as m:
            m.setattr(P, "_copy_out", lambda cur, sql, types: None)
            for (schema, table), (frame_csv, arrow_csv) in read_csv.items():
                pd.testing.assert_frame_equal(frame_csv, tables.read(schema, table))
                arrow_rows = tables.read_arrow(schema, table)
                assert arrow_csv.schema == arrow_rows.schema
                pd.testing.assert_frame_equal(arrow_csv.to_pandas(), arrow_rows.to_pandas())  # NaN-aware
                assert [c.null_count for c in arrow_csv.columns] == [c.null_count for c in arrow_rows.columns]
    assert len(got) == len(frame)
    assert got["text"].isna().sum() == frame["text"].isna().sum() and (got["text"] == "").sum() > 0
    assert got["ts"].iloc[0] == pd.Timestamp("2026-01-05 06:07:08.123456")
    assert np.isinf(got["price"]).sum() == 2 and got["price"].isna().sum() == frame["price"].isna().sum()
    assert int(nan_rows["n"].iloc[0]) == int(frame["price"].isna().sum())
    assert got["family"].tolist()[:3] == ["F1", "F2", "F3"]


def test_nanosecond_timestamps_go_to_the_nearest_microsecond(postgres_server):
    """PostgreSQL keeps microseconds and reads a text timestamp with more digits to the nearest one:
    the CSV path does the same, from a DataFrame and from an Arrow table."""
    ns = pd.DataFrame({"ts": pd.to_datetime(["2026-01-05 06:07:08.123456789", "2026-01-05 06:07:08.123456400", None])})
    with connect(postgres_server.create_database("ns_timestamps")) as con:
        tables = PostgresTables(con)
        tables.replace("analytics", "ns", ns)
        tables.replace("raw", "ns", pa.Table.from_pandas(ns, preserve_index=False))
        con.commit()
        for schema in ("analytics", "raw"):
            got = tables.query(f"select ts::text as ts from {schema}.ns")["ts"].tolist()
            assert got[:2] == ["2026-01-05 06:07:08.123457", "2026-01-05 06:07:08.123456"] and pd.isna(got[2])


def test_columns_csv_cannot_carry_are_written_row_by_row(postgres_server):
    """A list column (Arrow) has no CSV form: the table goes row by row, and reads back whole."""
    from sop_pipeline.warehouse_engines import postgres as P

    table = pa.table({"sku": ["A", "B"], "weeks": pa.array([[1, 2], []], type=pa.list_(pa.int64()))})
    assert P._arrow_for_csv(table) is None
    with connect(postgres_server.create_database("row_path")) as con:
        PostgresTables(con).replace("raw", "lists", table)
        con.commit()
        got = PostgresTables(con).query("select sku, cardinality(weeks) as n from raw.lists order by sku")
    assert got["n"].tolist() == [2, 0]


def test_copy_from_duckdb_moves_plain_and_list_columns(postgres_server, tmp_path):
    """`copy_from_duckdb` streams a table as CSV batches (more rows than one batch here) and a table
    with a list column row by row; both arrive whole."""
    from sop_pipeline.warehouse_engines import postgres as P

    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        n = P.COPY_BATCH_ROWS * 2 + 3
        con.execute(
            f"create table raw.big as select i as id, i * 0.5 as units, 'S' || (i % 7) as store, "
            f"date '2026-01-05' + (i % 30)::int as day from range({n}) t(i)"
        )
        con.execute("create table raw.lists as select * from (values ('A', [1, 2]), ('B', [])) t(sku, weeks)")
    dsn = postgres_server.create_database("copy_from_duckdb")
    copied = P.copy_from_duckdb(path, dsn, schemas=["raw"])
    assert copied == {"raw.big": n, "raw.lists": 2}
    with connect(dsn) as con:
        tables = PostgresTables(con)
        big = tables.query(
            "select count(*) as n, sum(units) as u, count(distinct store) as s, max(day) as d from raw.big"
        )
        lists = tables.query("select sku, cardinality(weeks) as k from raw.lists order by sku")
    assert int(big.n.iloc[0]) == n and big.u.iloc[0] == pytest.approx(0.5 * n * (n - 1) / 2)
    assert int(big.s.iloc[0]) == 7 and str(big.d.iloc[0])[:10] == "2026-02-03"
    assert lists.k.tolist() == [2, 0]
