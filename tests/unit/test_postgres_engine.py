"""The PostgreSQL engine's pure parts (no server): DSNs, column types, the warehouse comparison.
The parts that talk to a server are in tests/integration/test_postgres_warehouse.py."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from sop_pipeline.warehouse_engines.compare import differences, summarize
from sop_pipeline.warehouse_engines.postgres import (
    PostgresWarehouseError,
    dbt_connection_vars,
    parse_dsn,
    postgres_type_of_duckdb,
    postgres_type_of_series,
    redact,
)


def test_a_dsn_gives_the_dbt_connection_and_never_shows_its_password():
    dsn = "postgresql://planner:s3cr%40t@db.example.com:6543/sop_prod"
    assert parse_dsn(dsn) == {
        "host": "db.example.com",
        "port": 6543,
        "user": "planner",
        "password": "s3cr@t",
        "dbname": "sop_prod",
    }
    assert dbt_connection_vars(dsn) == {
        "pg_host": "db.example.com",
        "pg_port": 6543,
        "pg_user": "planner",
        "pg_dbname": "sop_prod",
    }
    assert redact(dsn) == "postgresql://planner:***@db.example.com:6543/sop_prod"
    socket = parse_dsn("postgres://postgres@/sop?host=/var/run/postgresql")
    assert (socket["host"], socket["port"], socket["password"]) == ("/var/run/postgresql", 5432, "")


@pytest.mark.parametrize(
    "dsn, message",
    [
        ("mysql://u@h/db", "not a PostgreSQL DSN"),
        ("postgresql://u:pw@h:port/db", "the port is not a number"),
        ("postgresql://u:pw@h:5432/", "names no database"),
    ],
)
def test_a_bad_dsn_is_a_one_line_error_without_the_password(dsn, message):
    with pytest.raises(PostgresWarehouseError, match=message) as err:
        parse_dsn(dsn)
    assert "\n" not in str(err.value)
    assert ":pw@" not in str(err.value)


def test_column_types_follow_duckdb():
    assert postgres_type_of_duckdb("DOUBLE") == "double precision"
    assert postgres_type_of_duckdb("DECIMAL(18,3)") == "numeric(18, 3)"
    assert postgres_type_of_duckdb("VARCHAR[]") == "text[]"
    assert postgres_type_of_duckdb('"NULL"') == "text"  # an all-NULL column of an empty output
    with pytest.raises(PostgresWarehouseError, match=r"raw\.x\.c: DuckDB type MAP\(VARCHAR, INTEGER\)"):
        postgres_type_of_duckdb("MAP(VARCHAR, INTEGER)", "raw.x.c")
    frame = pd.DataFrame(
        {
            "i": pd.array([1, None], dtype="Int64"),
            "d": [dt.date(2026, 1, 1), None],
            "s": ["a", None],
            "b": [True, False],
            "mixed": ["a", 1],
        }
    )
    assert [postgres_type_of_series(frame[c]) for c in "idsb"] == ["bigint", "date", "text", "boolean"]
    with pytest.raises(PostgresWarehouseError, match=r"t: column 'mixed' mixes value types \(int, str\)"):
        postgres_type_of_series(frame["mixed"], "t")


def test_the_comparison_has_teeth():
    base = pd.DataFrame({"sku": ["A", "B"], "units": [1.0, 2.0], "week": pd.to_datetime(["2026-01-05"] * 2)})
    assert differences(summarize(base), summarize(base.iloc[::-1]), "t") == []  # row order is free
    off = base.assign(units=[1.0, 2.000002])
    assert differences(summarize(base), summarize(off), "t") == ["t.units: sum 3.0 vs 3.000002 (difference -2e-06)"]
    assert differences(summarize(base), summarize(base.assign(units=[1.0, 2.0000001])), "t") == []
    renamed = base.assign(sku=["A", "C"])
    assert differences(summarize(base), summarize(renamed), "t") == ["t.sku: values differ, e.g. ['B'] vs ['C']"]
    assert differences(summarize(base), summarize(base.head(1)), "t")[0] == "t: 2 rows vs 1"
    nulls = base.assign(units=[1.0, None])
    assert "t.units: 0 NULLs vs 1" in differences(summarize(base), summarize(nulls), "t")
    as_text = base.assign(units=["1.0", "2.0"])
    assert differences(summarize(base), summarize(as_text), "t") == ["t.units: sum column vs values column"]
