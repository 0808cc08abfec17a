"""Ingest against the warehouse: the cycle row, read -> validate -> write of one extract, the log.

Pure library code (DuckDB + GX, no Dagster): `sop_pipeline.assets.ingest` calls these with its
`Warehouse` resource (anything with a `connect(read_only=False, parallel=False)` context manager
that yields a DuckDB connection to the warehouse file).

`load_extract` never holds the warehouse while it validates:

1. **read** (short, read-only): the cycle's as-of and the tables the extract's suite references
   (`raw.<ref>`, `quarantine.<ref>`: a row referencing a missing or quarantined master is
   quarantined), copied into a private in-memory DuckDB;
2. **validate** (no warehouse connection): `loader.ingest_extract` on that private database
   (file staging, types, the suite in SQL and Great Expectations): it builds `raw.<extract>`,
   `quarantine.<extract>` and the extract's `quarantine.issues` rows there;
3. **write** (short): those tables replace the warehouse's (Arrow, types kept), the extract's
   issues replace its previous ones, and its row of `meta.ingest_log` is written; the counts the
   row-accounting check compares are read back from the warehouse.

The rows, types and order written are those `ingest_extract` writes on the warehouse connection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from sop_pipeline.ingest.loader import (
    GX_CHECK_MAX_ROWS,
    MAX_QUARANTINE_SHARE,
    IngestReport,
    QuarantineShareError,
    StructuralError,
    ensure_schemas,
    ingest_extract,
)
from sop_pipeline.ingest.rules import parse_reference
from sop_pipeline.ingest.rules import q as _q

INGEST_LOG_DDL = (
    "create table if not exists meta.ingest_log (extract VARCHAR, status VARCHAR, file VARCHAR, "
    "rows_read BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT, rows_after_as_of BIGINT, "
    "failures_by_rule VARCHAR, notes VARCHAR)"
)
SAMPLE_ROWS = 10


# --------------------------------------------------------------------------- the cycle


def write_cycle(
    warehouse,
    as_of: date,
    week0_start: date,
    week1_start: date,
    horizon_end: date,
    horizon_weeks: int,
    as_of_source: str,
    partition_key: str | None = None,
) -> None:
    """Create the ingest schemas and replace meta.cycle with the cycle's one row (partition_key: the
    cycle's weekly Dagster partition, null when materialized without one)."""
    with warehouse.connect() as con:
        ensure_schemas(con)
        con.execute(
            "create or replace table meta.cycle as select ?::date as cycle_id, ?::date as as_of, "
            "?::date as week0_start, ?::date as week1_start, ?::date as horizon_end, "
            "?::integer as horizon_weeks, ? as as_of_source, ?::varchar as partition_key",
            [as_of, as_of, week0_start, week1_start, horizon_end, horizon_weeks, as_of_source, partition_key],
        )


def cycle_as_of(con: duckdb.DuckDBPyConnection) -> date:
    """The as-of date of meta.cycle."""
    return con.execute("select as_of from meta.cycle").fetchall()[0][0]


# --------------------------------------------------------------------------- one extract


@dataclass
class LoadResult:
    """What the raw asset reports: the loader's report, the warehouse's counts after the write
    (rows in raw.<extract>, in quarantine.<extract>, distinct source rows over both) and the first
    quarantine issues."""

    report: IngestReport
    raw_rows: int
    quarantine_rows: int
    distinct_source_rows: int
    sample: pd.DataFrame


def referenced_extracts(suite: dict) -> list[str]:
    """Extracts the suite's reference checks read (`meta.references`, `$PARAMETER` ref__<extract>__<column>)."""
    found: list[str] = []
    for exp in suite.get("expectations", []):
        ref = (exp.get("meta") or {}).get("references")
        value_set = (exp.get("kwargs") or {}).get("value_set")
        targets = [ref[0]] if ref else []
        if isinstance(value_set, dict):
            target = parse_reference(str(value_set.get("$PARAMETER", "")))
            targets += [target[0]] if target else []
        for target in targets:
            if target not in found:
                found.append(target)
    return found


def _read_references(con: duckdb.DuckDBPyConnection, extracts: list[str]) -> dict[tuple[str, str], object]:
    """The warehouse's raw.<ref> and quarantine.<ref> tables that exist, as Arrow tables."""
    tables = {}
    for ref in extracts:
        for schema in ("raw", "quarantine"):
            if con.execute(
                "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                [schema, ref],
            ).fetchall()[0][0]:
                tables[(schema, ref)] = con.sql(f"select * from {schema}.{_q(ref)}").to_arrow_table()
    return tables


def _copy_in(con: duckdb.DuckDBPyConnection, tables: dict[tuple[str, str], object]) -> None:
    """Create each (schema, table) from its Arrow table on `con`."""
    for (schema, table), rows in tables.items():
        con.execute(f"create schema if not exists {_q(schema)}")
        con.register("_ingest_rows", rows)
        try:
            con.execute(f"create or replace table {_q(schema)}.{_q(table)} as select * from _ingest_rows")
        finally:
            con.unregister("_ingest_rows")


def _built(scratch: duckdb.DuckDBPyConnection, name: str) -> tuple[dict[tuple[str, str], object], object]:
    """The extract's raw and quarantine tables and its quarantine.issues rows from the private database."""
    tables = {
        (schema, name): scratch.sql(f"select * from {schema}.{_q(name)}").to_arrow_table()
        for schema in ("raw", "quarantine")
        if scratch.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
        ).fetchall()[0][0]
    }
    issues = scratch.sql("select * from quarantine.issues where extract = ?", params=[name]).to_arrow_table()
    return tables, issues


def _write(con: duckdb.DuckDBPyConnection, name: str, tables: dict, issues) -> None:
    """Replace the extract's tables and quarantine.issues rows in the warehouse."""
    ensure_schemas(con)
    con.execute("delete from quarantine.issues where extract = ?", [name])
    _copy_in(con, tables)
    if issues is not None and issues.num_rows:
        con.register("_ingest_issues", issues)
        try:
            con.execute("insert into quarantine.issues select * from _ingest_issues")
        finally:
            con.unregister("_ingest_issues")


def _log(con: duckdb.DuckDBPyConnection, report: IngestReport) -> None:
    """Replace the extract's row of meta.ingest_log."""
    con.execute(INGEST_LOG_DDL)
    con.execute("delete from meta.ingest_log where extract = ?", [report.extract])
    con.execute(
        "insert into meta.ingest_log values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            report.extract,
            report.status,
            report.file,
            report.rows_read,
            report.rows_loaded,
            report.rows_quarantined,
            report.rows_after_as_of,
            json.dumps(report.failures_by_rule, sort_keys=True),
            " | ".join(report.notes),
        ],
    )


def _counts(con: duckdb.DuckDBPyConnection, name: str) -> tuple[int, int, int]:
    t = _q(name)
    return tuple(
        int(v)
        for v in con.execute(
            f"select (select count(*) from raw.{t}), (select count(*) from quarantine.{t}), "
            f"(select count(distinct _source_row) from (select _source_row from raw.{t} union all "
            f"select _source_row from quarantine.{t}))"
        ).fetchall()[0]
    )


def _sample(con: duckdb.DuckDBPyConnection, name: str) -> pd.DataFrame:
    return con.execute(
        "select source_row as row, rule, column_name as column, value, reason from quarantine.issues "
        f"where extract = ? order by source_row limit {SAMPLE_ROWS}",
        [name],
    ).df()


def load_extract(
    warehouse,
    name: str,
    extracts_dir: Path,
    suite: dict,
    max_quarantine_share: float | None = MAX_QUARANTINE_SHARE,
    gx_check_max_rows: int = GX_CHECK_MAX_ROWS,
) -> LoadResult:
    """Read -> validate -> write one extract (module docstring); the as-of is meta.cycle's.

    Raises what `ingest_extract` raises: StructuralError (nothing written but the removal of the
    extract's previous issues) and QuarantineShareError (the tables are written first, so the rows
    can be inspected, and the log row is not).
    """
    with warehouse.connect(read_only=True) as con:
        as_of = cycle_as_of(con)
        references = _read_references(con, referenced_extracts(suite))
    with duckdb.connect() as scratch:  # private: validation holds no warehouse connection
        _copy_in(scratch, references)
        try:
            report = ingest_extract(
                scratch,
                name,
                extracts_dir,
                suite,
                as_of,
                max_quarantine_share=max_quarantine_share,
                gx_check_max_rows=gx_check_max_rows,
            )
        except QuarantineShareError:
            tables, issues = _built(scratch, name)
            with warehouse.connect(parallel=True) as con:
                _write(con, name, tables, issues)
            raise
        except StructuralError:
            with warehouse.connect(parallel=True) as con:
                _write(con, name, {}, None)
            raise
        tables, issues = _built(scratch, name)
    # ingest sums no floats: DuckDB may use every core (parallel=True)
    with warehouse.connect(parallel=True) as con:
        _write(con, name, tables, issues)
        _log(con, report)
        raw_rows, quarantine_rows, distinct_rows = _counts(con, name)
        sample = _sample(con, name)
    return LoadResult(report, raw_rows, quarantine_rows, distinct_rows, sample)


# --------------------------------------------------------------------------- the cycle's summary


def ingest_summary(warehouse) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(meta.ingest_log by extract, quarantined rows per extract x rule x column, most first)."""
    with warehouse.connect() as con:
        log = con.execute("select * from meta.ingest_log order by extract").df()
        issues = con.execute(
            "select extract, rule, column_name, count(*) as rows from quarantine.issues group by all order by rows desc"
        ).df()
    return log, issues
