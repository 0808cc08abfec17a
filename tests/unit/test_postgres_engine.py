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


# --- one setting selects the warehouse (SOP_WAREHOUSE / sop run --warehouse)


def test_sop_warehouse_selects_postgres_and_duckdb_stays_the_default(tmp_path):
    from sop_pipeline.definitions import resources_for
    from sop_pipeline.settings import Settings

    base = {"SOP_DATA_DIR": str(tmp_path)}
    for value in (None, "", "duckdb", "DuckDB"):
        s = Settings.from_env({**base, **({"SOP_WAREHOUSE": value} if value is not None else {})})
        assert (s.warehouse, s.dbt_target, s.warehouse_location) == ("", "local", str(tmp_path / "warehouse.duckdb"))
        assert set(s.dbt_vars()) == {"warehouse_path"} and "SOP_WAREHOUSE" not in s.to_env()
        res = resources_for(s)
        assert res["warehouse"].dsn == "" and res["dbt"].target is None and res["warehouse"].engine == "duckdb"
    dsn = "postgresql://planner@db.example.com:6543/sop_prod"
    s = Settings.from_env({**base, "SOP_WAREHOUSE": "postgresql://nobody@localhost/x"}, warehouse=dsn)  # CLI wins
    assert (s.warehouse_dsn, s.dbt_target) == (dsn, "postgres")
    assert s.dbt_vars() == {
        "warehouse_path": str(tmp_path / "warehouse.duckdb"),
        "pg_host": "db.example.com",
        "pg_port": "6543",
        "pg_user": "planner",
        "pg_dbname": "sop_prod",
    }
    assert s.to_env()["SOP_WAREHOUSE"] == dsn
    res = resources_for(s)
    assert (res["warehouse"].dsn, res["dbt"].target, res["warehouse"].engine) == (dsn, "postgres", "postgres")
    assert res["settings"].settings == s  # the resource gives every asset the same resolved settings
    with pytest.raises(RuntimeError, match=r"the warehouse is PostgreSQL \(postgresql://planner@db"):
        with res["warehouse"].connect():
            pass


@pytest.mark.parametrize(
    "value, message",
    [
        ("mysql://u@h/db", r"must be duckdb or postgresql://user@host:port/database, got 'mysql://u@h/db'"),
        ("postgresql://u@h:port/db", r"the port is not a number"),
        ("postgresql://u@h:5432/", r"names no database"),
        ("postgresql://u:hunter2@h:5432/db", r"u:\*\*\*@h:5432/db has a password in it: put it in SOP_PG_PASSWORD"),
    ],
)
def test_a_bad_sop_warehouse_is_one_line(tmp_path, value, message):
    from sop_pipeline.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match=message) as err:
        Settings.from_env({"SOP_DATA_DIR": str(tmp_path), "SOP_WAREHOUSE": value})
    assert "\n" not in str(err.value) and "hunter2" not in str(err.value)


def test_sop_run_with_a_bad_warehouse_exits_2_with_one_line(tmp_path, capsys):
    from sop_pipeline.cli import main

    assert main(["run", "--data-dir", str(tmp_path), "--warehouse", "postgresql://u:pw@h/db"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sop: SOP_WAREHOUSE / --warehouse") and ":pw@" not in err


# --- Python code issues no engine-specific SQL on the warehouse

# Modules whose SQL reaches the warehouse (either engine) must use portable SQL. Exempt by design:
# the engines' own modules (warehouse_engines/), the private in-memory DuckDB of validation
# (ingest/loader.py, rules.py, csvscan.py), and the serving file, which is DuckDB on either engine
# (publish.py, report/).
WAREHOUSE_SQL_MODULES = [
    "sop_pipeline/history.py",
    "sop_pipeline/io_manager.py",
    "sop_pipeline/resources.py",
    "sop_pipeline/ingest/warehouse.py",
    "sop_pipeline/cli.py",
    *[f"sop_pipeline/assets/{p.name}" for p in sorted(__import__("pathlib").Path("sop_pipeline/assets").glob("*.py"))],
]
DUCKDB_ONLY = [
    r"group\s+by\s+all",
    r"order\s+by\s+all",
    r"\w::\w",
    r"\barg_(max|min)\s*\(",
    r"\bby\s+name\b",
    r"create\s+or\s+replace",
    r"\bread_(csv|parquet)\w*\s*\(",
    r"\bqualify\b",
]


def test_python_on_the_warehouse_path_issues_no_duckdb_only_sql():
    import re

    from sop_pipeline.settings import REPO_ROOT

    found = []
    for module in WAREHOUSE_SQL_MODULES:
        path = REPO_ROOT / module
        if not path.exists():
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for pattern in DUCKDB_ONLY:
                if re.search(pattern, line, flags=re.IGNORECASE):
                    found.append(f"{module}:{n}: {line.strip()}")
    assert not found, "\n".join(found)
