"""Ingest against the warehouse: the cycle row, read -> validate -> write of one extract, the log.

Pure library code (DuckDB + GX, no Dagster): `sop_pipeline.assets.ingest` calls these with its
`Warehouse` resource. Every warehouse read and write goes through the engine's table operations
(`Warehouse.tables()`: DuckDB file or PostgreSQL, sop_pipeline.warehouse_engines); validation runs
on a private in-memory DuckDB whatever the warehouse. (A stand-in with only a DuckDB `connect()`
works too: the unit tests count its connections.)

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
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from sop_pipeline.ingest.loader import (
    GX_CHECK_MAX_ROWS,
    MAX_QUARANTINE_SHARE,
    IngestReport,
    QuarantineShareError,
    StructuralError,
    ValidationOutOfMemory,
    ingest_extract,
)
from sop_pipeline.ingest.rules import parse_reference
from sop_pipeline.ingest.rules import q as _q
from sop_pipeline.warehouse_engines.duckdb_tables import DuckDBTables

# meta.ingest_log and quarantine.issues: the columns and types both engines get
INGEST_LOG_SCHEMA = pa.schema(
    [
        ("extract", pa.string()),
        ("status", pa.string()),
        ("file", pa.string()),
        ("rows_read", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("rows_after_as_of", pa.int64()),
        ("failures_by_rule", pa.string()),
        ("notes", pa.string()),
    ]
)
ISSUES_SCHEMA = pa.schema(
    [
        ("extract", pa.string()),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("rule", pa.string()),
        ("column_name", pa.string()),
        ("value", pa.string()),
        ("reason", pa.string()),
    ]
)
CYCLE_SCHEMA = pa.schema(
    [
        ("cycle_id", pa.date32()),
        ("as_of", pa.date32()),
        ("week0_start", pa.date32()),
        ("week1_start", pa.date32()),
        ("horizon_end", pa.date32()),
        ("horizon_weeks", pa.int32()),
        ("as_of_source", pa.string()),
        ("partition_key", pa.string()),
    ]
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
    """Replace meta.cycle with the cycle's one row, through the warehouse's engine (partition_key: the
    cycle's weekly Dagster partition, null when materialized without one). The raw and quarantine
    schemas and quarantine.issues are created by the first extract written."""
    row = [as_of, as_of, week0_start, week1_start, horizon_end, horizon_weeks, as_of_source, partition_key]
    frame = pa.Table.from_pylist([dict(zip(CYCLE_SCHEMA.names, row))], schema=CYCLE_SCHEMA)
    with _tables(warehouse) as tables:
        tables.replace("meta", "cycle", frame)


def cycle_as_of(tables) -> date:
    """The as-of date of meta.cycle."""
    tables = _ops(tables)
    return pd.Timestamp(tables.query("select as_of from meta.cycle")["as_of"].iloc[0]).date()


def _ops(tables):
    """Table operations; a bare DuckDB connection (tests, the one-connection loader) gets DuckDB's."""
    return DuckDBTables(tables) if isinstance(tables, duckdb.DuckDBPyConnection) else tables


@contextmanager
def _tables(warehouse, read_only: bool = False, parallel: bool = False):
    """The warehouse engine's table operations (`Warehouse.tables`); a DuckDB-only stand-in with just
    `connect()` (the unit tests' counting fake) gets `DuckDBTables` on its connection."""
    if hasattr(warehouse, "tables"):
        with warehouse.tables(read_only=read_only, parallel=parallel) as tables:
            yield tables
    else:
        with warehouse.connect(read_only=read_only, parallel=parallel) as con:
            yield DuckDBTables(con)


# --------------------------------------------------------------------------- one extract

# The private validation database's memory cap: above it DuckDB spills to a temporary folder, so
# the ingest of a large extract (17.5M POS rows at `large`: _src, _typed, _cycle and raw.<extract>
# are each a full copy) stays bounded instead of growing with the file. Measured at large (POS,
# one process): uncapped 3.92 GB peak / 74.7 s CPU; a 1 GB cap 2.05 GB / 118.0 s (the spilling);
# a 2 GB cap 2.32 GB / 70.7 s, no slower than uncapped (benchmarks/README.md).
SCRATCH_MEMORY_LIMIT = "2GB"


@contextmanager
def _scratch(limit: str | None):
    """The private in-memory DuckDB that validates one extract, capped at `limit` (None: DuckDB's
    default) and spilling to its own temporary folder (removed when done). An operator DuckDB cannot
    spill (a window over one key shared by very many rows) fails at the cap: `load_extract` then
    validates again without it."""
    with tempfile.TemporaryDirectory(prefix="sop_ingest_") as spill:
        config = {"temp_directory": spill} | ({"memory_limit": limit} if limit else {})
        with duckdb.connect(config=config) as con:
            yield con


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


def _read_references(tables, extracts: list[str]) -> dict[tuple[str, str], object]:
    """The warehouse's raw.<ref> and quarantine.<ref> tables that exist, as Arrow tables."""
    return {
        (schema, ref): tables.read_arrow(schema, ref)
        for ref in extracts
        for schema in ("raw", "quarantine")
        if tables.exists(schema, ref)
    }


def _copy_in(con: duckdb.DuckDBPyConnection, tables: dict[tuple[str, str], object]) -> None:
    """Create each (schema, table) from its Arrow table on `con` (the private DuckDB)."""
    for (schema, table), rows in tables.items():
        DuckDBTables(con).replace(schema, table, rows)


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


def _write(tables, name: str, built: dict, issues) -> None:
    """Replace the extract's tables and quarantine.issues rows in the warehouse (through its engine)."""
    tables = _ops(tables)
    for (schema, table), rows in built.items():
        tables.replace(schema, table, rows)
    rows = issues if issues is not None else ISSUES_SCHEMA.empty_table()
    tables.replace_rows("quarantine", "issues", rows.cast(ISSUES_SCHEMA), "extract", name)


def _log(tables, report: IngestReport) -> None:
    """Replace the extract's row of meta.ingest_log."""
    tables = _ops(tables)
    row = [
        report.extract,
        report.status,
        report.file,
        report.rows_read,
        report.rows_loaded,
        report.rows_quarantined,
        report.rows_after_as_of,
        json.dumps(report.failures_by_rule, sort_keys=True),
        " | ".join(report.notes),
    ]
    frame = pa.Table.from_pylist([dict(zip(INGEST_LOG_SCHEMA.names, row))], schema=INGEST_LOG_SCHEMA)
    tables.replace_rows("meta", "ingest_log", frame, "extract", report.extract)


def _counts(tables, name: str) -> tuple[int, int, int]:
    tables = _ops(tables)
    t = _q(name)
    row = tables.query(
        f"select (select count(*) from raw.{t}) as raw_rows, (select count(*) from quarantine.{t}) as q_rows, "
        f"(select count(distinct _source_row) from (select _source_row from raw.{t} union all "
        f"select _source_row from quarantine.{t}) as source_rows) as distinct_rows"
    ).iloc[0]
    return int(row.raw_rows), int(row.q_rows), int(row.distinct_rows)


def _sample(tables, name: str) -> pd.DataFrame:
    tables = _ops(tables)
    return tables.query(
        'select source_row as "row", rule, column_name as "column", value, reason from quarantine.issues '
        f"where extract = ? order by source_row, rule, column_name limit {SAMPLE_ROWS}",
        [name],
    )


def load_extract(
    warehouse,
    name: str,
    extracts_dir: Path,
    suite: dict,
    max_quarantine_share: float | None = MAX_QUARANTINE_SHARE,
    gx_check_max_rows: int | None = GX_CHECK_MAX_ROWS,
) -> LoadResult:
    """Read -> validate -> write one extract (module docstring); the as-of is meta.cycle's.

    Raises what `ingest_extract` raises: StructuralError (nothing written but the removal of the
    extract's previous issues) and QuarantineShareError (the tables are written first, so the rows
    can be inspected, and the log row is not).
    """
    with _tables(warehouse, read_only=True) as tables:
        as_of = cycle_as_of(tables)
        references = _read_references(tables, referenced_extracts(suite))
    for limit in (SCRATCH_MEMORY_LIMIT, None):
        with _scratch(limit) as scratch:  # private: validation holds no warehouse connection
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
                built, issues = _built(scratch, name)
                with _tables(warehouse, parallel=True) as tables:
                    _write(tables, name, built, issues)
                raise
            except ValidationOutOfMemory:
                if limit is not None:
                    continue  # an operator that cannot spill (e.g. a key shared by very many rows): again, uncapped
                with _tables(warehouse, parallel=True) as tables:
                    _write(tables, name, {}, None)
                raise
            except StructuralError:
                with _tables(warehouse, parallel=True) as tables:
                    _write(tables, name, {}, None)
                raise
            if limit is None:
                report.notes.append(
                    f"validated without the {SCRATCH_MEMORY_LIMIT} memory cap: DuckDB could not spill the work to disk"
                )
            built, issues = _built(scratch, name)
            break
    # ingest sums no floats: DuckDB may use every core (parallel=True)
    with _tables(warehouse, parallel=True) as tables:
        _write(tables, name, built, issues)
        _log(tables, report)
        raw_rows, quarantine_rows, distinct_rows = _counts(tables, name)
        sample = _sample(tables, name)
    return LoadResult(report, raw_rows, quarantine_rows, distinct_rows, sample)


# --------------------------------------------------------------------------- the cycle's summary


def ingest_summary(warehouse) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(meta.ingest_log by extract, quarantined rows per extract x rule x column, most first)."""
    with _tables(warehouse, read_only=True) as tables:
        log = tables.query("select * from meta.ingest_log order by extract")
        issues = tables.query(
            "select extract, rule, column_name, count(*) as rows from quarantine.issues "
            "group by extract, rule, column_name order by rows desc, extract, rule, column_name"
        )
    return log, issues
