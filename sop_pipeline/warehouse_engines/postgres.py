"""PostgreSQL as the warehouse: the IO manager's table operations, and a copy from DuckDB.

`PostgresTables` has the methods of `sop_pipeline.io_manager.DuckDBTables` (read / replace /
describe) on one open psycopg connection. Tables are written with COPY (no engine-specific SQL
outside this module) and read back with DuckDB's pandas dtypes (dates and timestamps as
datetime64, NULL as NaN/None), so an asset sees the same DataFrame on either engine.

`copy_from_duckdb` puts the tables of a DuckDB warehouse file into a PostgreSQL database, with the
same schema.table names and column types; by default every schema but the ones dbt builds, i.e.
what dbt reads (raw extracts, meta, quarantine, analytics, history), so `dbt build --target
postgres` can run on a DuckDB cycle's inputs. `dbt_connection_vars` turns a DSN into the dbt vars
the `postgres` output of dbt_project/profiles.yml reads.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

PREVIEW_ROWS = 5
# The schemas dbt builds; everything else in a warehouse is an input of dbt (sources).
DBT_SCHEMAS = ("staging", "intermediate", "marts")
COPY_BATCH_ROWS = 50_000
CSV_CHUNK_ROWS = 100_000  # rows per CSV chunk written to COPY (a few MB at a time)


class PostgresWarehouseError(ValueError):
    """A DSN, table or value the PostgreSQL warehouse cannot take (one-line message)."""


class MissingTable(PostgresWarehouseError, LookupError):
    """The table asked for is not in the PostgreSQL warehouse (DuckDB raises CatalogException)."""


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _name(schema: str, table: str) -> str:
    return f"{_quoted(schema)}.{_quoted(table)}"


def is_postgres_dsn(value: str | None) -> bool:
    return bool(value) and value.split("://", 1)[0] in ("postgresql", "postgres")


def parse_dsn(dsn: str) -> dict[str, str | int]:
    """host, port, user, password, dbname of a `postgresql://user[:password]@host[:port]/db` DSN.

    The host may be a socket directory given as `?host=/path` (libpq's form).
    """
    if not is_postgres_dsn(dsn):
        raise PostgresWarehouseError(
            f"not a PostgreSQL DSN: {dsn!r} (expected postgresql://user[:password]@host[:port]/database)"
        )
    parts = urlsplit(dsn)
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    try:
        port = int(query.get("port") or parts.port or 5432)
    except ValueError:
        raise PostgresWarehouseError(f"PostgreSQL DSN {redact(dsn)}: the port is not a number") from None
    dbname = unquote(parts.path.lstrip("/")) or query.get("dbname") or ""
    if not dbname:
        raise PostgresWarehouseError(f"PostgreSQL DSN {redact(dsn)} names no database (…/database at the end)")
    return {
        "host": unquote(query.get("host") or parts.hostname or "localhost"),
        "port": port,
        "user": unquote(parts.username or query.get("user") or "postgres"),
        "password": unquote(parts.password or query.get("password") or ""),
        "dbname": dbname,
    }


def redact(dsn: str) -> str:
    """The DSN with its password replaced by ***, for messages."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", dsn)


def dbt_connection_vars(dsn: str) -> dict[str, str | int]:
    """The dbt vars of profiles.yml's `postgres` output (the password goes through the
    SOP_PG_PASSWORD environment variable instead, so it is never written into dbt's artifacts)."""
    c = parse_dsn(dsn)
    return {"pg_host": c["host"], "pg_port": c["port"], "pg_user": c["user"], "pg_dbname": c["dbname"]}


def connect(dsn: str, autocommit: bool = False):
    """A psycopg connection to the DSN; a failure is one line naming the server (no password)."""
    import os

    import psycopg

    # the password: in the DSN, else SOP_PG_PASSWORD (what dbt's profile reads), else libpq's own
    # PGPASSWORD / ~/.pgpass
    extra = {}
    if not parse_dsn(dsn)["password"] and os.environ.get("SOP_PG_PASSWORD"):
        extra["password"] = os.environ["SOP_PG_PASSWORD"]
    try:
        return psycopg.connect(dsn, autocommit=autocommit, **extra)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
        raise PostgresWarehouseError(f"cannot connect to the PostgreSQL warehouse {redact(dsn)}: {reason}") from None


# ---------------------------------------------------------------------------------------------
# column types


_DUCKDB_TO_POSTGRES = {
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "UTINYINT": "smallint",
    "INTEGER": "integer",
    "USMALLINT": "integer",
    "BIGINT": "bigint",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric(20, 0)",
    "HUGEINT": "numeric(39, 0)",
    "UHUGEINT": "numeric(39, 0)",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "VARCHAR": "text",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "INTERVAL": "interval",
    "BLOB": "bytea",
    "UUID": "uuid",
    "JSON": "jsonb",
    # an all-NULL column of a DataFrame (an empty input, e.g. no capacity without routings)
    "NULL": "text",
    '"NULL"': "text",
}


def postgres_type_of_duckdb(duckdb_type: str, where: str = "") -> str:
    """The PostgreSQL column type of a DuckDB column type (DECIMAL(p,s) keeps p and s)."""
    t = duckdb_type.upper().strip()
    if t in _DUCKDB_TO_POSTGRES:
        return _DUCKDB_TO_POSTGRES[t]
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t)
    if m:
        return f"numeric({m.group(1)}, {m.group(2)})"
    if t.endswith("[]"):
        return postgres_type_of_duckdb(t[:-2], where) + "[]"
    raise PostgresWarehouseError(f"{where}: DuckDB type {duckdb_type} has no PostgreSQL column type here")


def postgres_type_of_series(series: pd.Series, where: str = "") -> str:
    """The PostgreSQL column type DuckDB would give this pandas column (as `create table as`)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return postgres_type_of_series(series.astype(dtype.categories.dtype), where)
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        size = getattr(dtype, "itemsize", 8)
        unsigned = pd.api.types.is_unsigned_integer_dtype(dtype)
        return {1: "smallint", 2: "integer" if unsigned else "smallint", 4: "bigint" if unsigned else "integer"}.get(
            size, "numeric(20, 0)" if unsigned else "bigint"
        )
    if pd.api.types.is_float_dtype(dtype):
        return "real" if getattr(dtype, "itemsize", 8) == 4 else "double precision"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "timestamptz"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "timestamp"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "interval"
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        values = series.dropna()
        kinds = {type(v) for v in values}
        if not kinds or kinds <= {str}:
            return "text"
        if kinds <= {bool, np.bool_}:
            return "boolean"
        if kinds <= {dt.date}:
            return "date"
        if kinds <= {dt.datetime, pd.Timestamp}:
            return "timestamp"
        if kinds <= {int, np.int64, np.int32}:
            return "bigint"
        if kinds <= {int, float, np.int64, np.float64}:
            return "double precision"
        if kinds <= {decimal.Decimal}:
            return "numeric"
        names = ", ".join(sorted(k.__name__ for k in kinds))
        raise PostgresWarehouseError(f"{where}: column {series.name!r} mixes value types ({names})")
    raise PostgresWarehouseError(
        f"{where}: column {series.name!r} has dtype {dtype}, which has no PostgreSQL type here"
    )


def _python_value(value):
    """A DataFrame cell as the Python value COPY writes (NaN/NaT/NA are NULL, as DuckDB reads them)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _column_values(series: pd.Series) -> list:
    """A column's cells as the Python values COPY writes, NULL for NaN/NaT/NA (column at a time)."""
    if pd.api.types.is_float_dtype(series.dtype) and not isinstance(series.dtype, pd.ArrowDtype):
        values = series.to_numpy(dtype="float64")
        return [None if v != v else v for v in values.tolist()]
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return [None if v is pd.NaT else v.to_pydatetime() for v in series.tolist()]
    if pd.api.types.is_integer_dtype(series.dtype) and not series.hasnans:
        return series.to_numpy().tolist()
    return [_python_value(v) for v in series.tolist()]


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return list(zip(*(_column_values(frame.iloc[:, i]) for i in range(frame.shape[1])))) if frame.shape[1] else []


def _csv_type(kind: pa.DataType) -> pa.DataType | None:
    """The Arrow type a column is written to COPY's CSV as (dictionaries as their values,
    timestamps in microseconds, PostgreSQL's precision), or None when it has no CSV form here
    (lists, durations, binary, ...): such a table is written row by row."""
    if pa.types.is_dictionary(kind):
        return _csv_type(kind.value_type)
    if pa.types.is_timestamp(kind):
        return pa.timestamp("us", tz=kind.tz)
    plain = (
        pa.types.is_boolean,
        pa.types.is_integer,
        pa.types.is_floating,
        pa.types.is_decimal,
        pa.types.is_string,
        pa.types.is_large_string,
        pa.types.is_date,
        pa.types.is_null,
    )
    return kind if any(test(kind) for test in plain) else None


def _arrow_for_csv(frame) -> pa.Table | None:
    """``frame`` (a DataFrame or an Arrow table) as an Arrow table whose every column COPY can read
    as CSV, holding the values the row-by-row path would write (a DataFrame's NaN/NaT/None as NULL,
    as `_python_value`; nanosecond timestamps to the nearest microsecond, as PostgreSQL reads
    them); None when a column cannot be (the caller then writes rows)."""
    if isinstance(frame, pd.DataFrame):
        arrays = []
        for i in range(frame.shape[1]):
            series = frame.iloc[:, i]
            if isinstance(series.dtype, pd.CategoricalDtype):
                series = series.astype(series.dtype.categories.dtype)
            try:
                arrays.append(pa.array(series, from_pandas=True))
            except (pa.ArrowException, TypeError, ValueError, OverflowError):
                return None  # mixed Python objects: the row path types each value
        table = pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(frame.shape[1])])
    else:
        table = frame.rename_columns([f"c{i}" for i in range(frame.num_columns)])
    types = [_csv_type(f.type) for f in table.schema]
    if any(t is None for t in types):
        return None
    for i, (field, kind) in enumerate(zip(table.schema, types)):
        column = table.column(i)
        if pa.types.is_timestamp(field.type) and field.type.unit == "ns":
            # to the nearest microsecond, as PostgreSQL reads a timestamp with more digits
            column = pc.round_temporal(column, multiple=1, unit="microsecond")
        if field.type != kind:
            table = table.set_column(i, field.name, column.cast(kind, safe=False))
    return table


def _copy_frame(cur, name: str, columns: list[tuple[str, str]], frame) -> int:
    """COPY ``frame``'s rows (a DataFrame or an Arrow table) into the table ``name``'s ``columns``.
    As CSV from Arrow's writer, ``CSV_CHUNK_ROWS`` rows at a time: no Python object per cell, so
    ~3x faster and the memory of one chunk instead of a tuple per row (benchmarks/postgres_copy.py).
    A frame with a column CSV cannot carry (lists, durations, mixed Python objects) is written row by
    row. Returns the rows."""
    import pyarrow.csv as pacsv

    names = ", ".join(_quoted(c) for c, _ in columns)
    table = _arrow_for_csv(frame)
    if table is None:
        rows = _frame_rows(frame)
        with cur.copy(f"copy {name} ({names}) from stdin") as copy:
            for row in rows:
                copy.write_row(row)
        return len(rows)
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    with cur.copy(f"copy {name} ({names}) from stdin (format csv)") as copy:
        for start in range(0, table.num_rows, CSV_CHUNK_ROWS):
            sink = pa.BufferOutputStream()
            pacsv.write_csv(table.slice(start, CSV_CHUNK_ROWS), sink, options)
            copy.write(sink.getvalue())
    return table.num_rows


# ---------------------------------------------------------------------------------------------
# tables


def _ensure_schema(cur, schema: str) -> None:
    """`create schema if not exists` that two processes may run at once (the multiprocess executor's
    ingest steps each write a `raw` table): the loser of the race on the catalog's unique index gets
    UniqueViolation instead of a no-op, so it is caught in a savepoint (the schema exists then)."""
    import psycopg

    cur.execute("select 1 from pg_namespace where nspname = %s", [schema])
    if cur.fetchone():
        return
    try:
        with cur.connection.transaction():  # a savepoint inside the caller's transaction
            cur.execute(f"create schema if not exists {_quoted(schema)}")
    except psycopg.errors.UniqueViolation:
        pass  # created by a concurrent transaction that committed meanwhile


def _create(cur, schema: str, table: str, columns: list[tuple[str, str]]) -> str:
    """Replace schema.table by an empty table of these (name, postgres type) columns; its quoted name."""
    name = _name(schema, table)
    _ensure_schema(cur, schema)
    # cascade: dbt's staging views over a raw table go with it; the next dbt build recreates them
    cur.execute(f"drop table if exists {name} cascade")
    cur.execute(f"create table {name} ({', '.join(f'{_quoted(c)} {t}' for c, t in columns)})")
    return name


def postgres_type_of_arrow(kind, where: str = "") -> str:
    """The PostgreSQL column type DuckDB's type would map to, for a pyarrow type (ingest writes the
    Arrow tables its private DuckDB built, so empty and all-NULL columns keep their types)."""
    t = pa.types
    if t.is_null(kind) or t.is_string(kind) or t.is_large_string(kind) or t.is_string_view(kind):
        return "text"
    if t.is_boolean(kind):
        return "boolean"
    if t.is_int8(kind) or t.is_int16(kind) or t.is_uint8(kind):
        return "smallint"
    if t.is_int32(kind) or t.is_uint16(kind):
        return "integer"
    if t.is_int64(kind) or t.is_uint32(kind):
        return "bigint"
    if t.is_uint64(kind):
        return "numeric(20, 0)"
    if t.is_float32(kind):
        return "real"
    if t.is_floating(kind):
        return "double precision"
    if t.is_decimal(kind):
        return f"numeric({kind.precision}, {kind.scale})"
    if t.is_date(kind):
        return "date"
    if t.is_timestamp(kind):
        return "timestamptz" if kind.tz else "timestamp"
    if t.is_time(kind):
        return "time"
    if t.is_duration(kind):
        return "interval"
    if t.is_binary(kind) or t.is_large_binary(kind):
        return "bytea"
    if t.is_list(kind) or t.is_large_list(kind):
        return postgres_type_of_arrow(kind.value_type, where) + "[]"
    raise PostgresWarehouseError(f"{where}: Arrow type {kind} has no PostgreSQL column type here")


def _columns(frame, where: str) -> list[tuple[str, str]]:
    """(name, PostgreSQL type) per column of a DataFrame or a pyarrow Table."""
    if isinstance(frame, pd.DataFrame):
        if frame.columns.duplicated().any():
            dup = frame.columns[frame.columns.duplicated()][0]
            raise PostgresWarehouseError(f"{where}: column {dup!r} appears twice")
        return [(str(c), postgres_type_of_series(frame[c], where)) for c in frame.columns]
    names = list(frame.column_names)
    if len(set(names)) != len(names):
        raise PostgresWarehouseError(f"{where}: a column appears twice in {names}")
    return [(f.name, postgres_type_of_arrow(f.type, f"{where}.{f.name}")) for f in frame.schema]


def _frame_rows(frame) -> list[tuple]:
    """The rows the row-by-row COPY writes, of a DataFrame or a pyarrow Table."""
    if isinstance(frame, pd.DataFrame):
        return _rows(frame)
    return list(zip(*(frame.column(i).to_pylist() for i in range(frame.num_columns)))) if frame.num_columns else []


# psycopg type OIDs of query results -> information_schema data_type names (_like_duckdb)
_TYPE_OF_OID = {
    16: "boolean",
    20: "bigint",
    21: "smallint",
    23: "integer",
    700: "real",
    701: "double precision",
    1700: "numeric",
    1082: "date",
    1114: "timestamp without time zone",
    1184: "timestamp with time zone",
}


# PostgreSQL data_type -> the Arrow type of the column DuckDB would have (read_arrow)
_ARROW_OF_POSTGRES = {
    "boolean": pa.bool_(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "real": pa.float32(),
    "double precision": pa.float64(),
    "numeric": pa.float64(),
    "date": pa.date32(),
    "timestamp without time zone": pa.timestamp("us"),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "text": pa.string(),
    "character varying": pa.string(),
}


def _copy_out(cur, sql: str, types: list[tuple[str, str]]) -> pa.Table | None:
    """The rows of ``sql`` (its columns: ``types``, (name, PostgreSQL type)) as an Arrow table of
    the ``_ARROW_OF_POSTGRES`` types, read with ``COPY (sql) TO STDOUT`` as CSV into a temporary
    file and parsed by Arrow's CSV reader: no Python object per cell (the memory of the file and
    the table instead of a tuple per row). None when a column's type has no CSV parse here
    (arrays, intervals, ...): the caller fetches rows."""
    import tempfile

    import pyarrow.csv as pacsv

    kinds = [_ARROW_OF_POSTGRES.get(t) for _, t in types]
    if not types or any(k is None for k in kinds):
        return None
    names = [f"c{i}" for i in range(len(types))]
    with tempfile.TemporaryFile() as spool:
        with cur.copy(f"copy ({sql}) to stdout (format csv)") as copy:
            for chunk in copy:
                spool.write(chunk)
        if spool.tell() == 0:
            table = pa.table({n: pa.array([], type=k) for n, k in zip(names, kinds)})
        else:
            spool.seek(0)
            table = pacsv.read_csv(
                spool,
                read_options=pacsv.ReadOptions(column_names=names),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict(zip(names, kinds)),
                    null_values=[""],  # NULL is an unquoted empty field; "" (quoted) is an empty string
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                    true_values=["t"],
                    false_values=["f"],
                ),
            )
    return table.rename_columns([c for c, _ in types])


class PostgresTables:
    """Read, replace and describe whole tables on one open psycopg connection.

    `replace` runs in the connection's transaction: commit (or leave the `with connect(...)`
    block) to publish it; a reader sees the old table or the new one, never half of it.
    """

    def __init__(self, con):
        self.con = con

    engine = "postgres"

    def _types(self, schema: str, table: str) -> list[tuple[str, str]]:
        with self.con.cursor() as cur:
            cur.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = %s and table_name = %s order by ordinal_position",
                [schema, table],
            )
            types = cur.fetchall()
        if not types:
            raise MissingTable(f"{schema}.{table} is not in the PostgreSQL warehouse")
        return types

    def read(self, schema: str, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        types = self._types(schema, table)
        if columns:
            kinds = dict(types)
            types = [(c, kinds[c]) for c in columns if c in kinds]
        sql = f"select {', '.join(_quoted(c) for c, _ in types)} from {_name(schema, table)}"
        with self.con.cursor() as cur:
            arrow = _copy_out(cur, sql, types)
            if arrow is not None:
                frame = arrow.to_pandas(integer_object_nulls=True, date_as_object=True)
            else:
                cur.execute(sql)
                frame = pd.DataFrame(cur.fetchall(), columns=[c for c, _ in types])
        return _like_duckdb(frame, dict(types))

    def read_arrow(self, schema: str, table: str):
        """The table as a pyarrow Table whose column types are DuckDB's for the PostgreSQL types (date
        stays a date, integers keep their width, numeric becomes double), so a DuckDB file filled from
        it (publish's serving file) has the column types a DuckDB warehouse would give."""
        types = self._types(schema, table)
        sql = f"select * from {_name(schema, table)}"
        with self.con.cursor() as cur:
            arrow = _copy_out(cur, sql, types)
            if arrow is not None:
                return arrow
            cur.execute(sql)
            rows = cur.fetchall()
        arrays = []
        for i, (column, pg_type) in enumerate(types):
            values = [r[i] for r in rows]
            kind = _ARROW_OF_POSTGRES.get(pg_type)
            if kind is None:
                kind = pa.string()
                values = [None if v is None else str(v) for v in values]
            elif pa.types.is_floating(kind):
                values = [None if v is None else float(v) for v in values]
            arrays.append(pa.array(values, type=kind))
        return pa.Table.from_arrays(arrays, names=[c for c, _ in types])

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """A portable SQL read with `?` placeholders (see duckdb_tables), as a DataFrame with DuckDB's
        dtypes."""
        text = sql.replace("%", "%%").replace("?", "%s") if params else sql
        with self.con.cursor() as cur:
            cur.execute(text, params or None)
            names = [d.name for d in cur.description]
            types = {d.name: _TYPE_OF_OID.get(d.type_code, "text") for d in cur.description}
            frame = pd.DataFrame(cur.fetchall(), columns=names)
        return _like_duckdb(frame, types)

    def exists(self, schema: str, table: str) -> bool:
        with self.con.cursor() as cur:
            cur.execute(
                "select count(*) from information_schema.tables where table_schema = %s and table_name = %s",
                [schema, table],
            )
            return bool(cur.fetchone()[0])

    def table_names(self, schema: str) -> list[str]:
        with self.con.cursor() as cur:
            cur.execute(
                "select table_name from information_schema.tables where table_schema = %s order by table_name",
                [schema],
            )
            return [r[0] for r in cur.fetchall()]

    def count(self, schema: str, table: str) -> int:
        with self.con.cursor() as cur:
            cur.execute(f"select count(*) from {_name(schema, table)}")
            return int(cur.fetchone()[0])

    def delete_rows(self, schema: str, table: str, column: str, value) -> None:
        """Delete the rows whose ``column`` = ``value`` (nothing when the table does not exist)."""
        if self.exists(schema, table):
            with self.con.cursor() as cur:
                cur.execute(f"delete from {_name(schema, table)} where {_quoted(column)} = %s", [_python_value(value)])

    def replace(self, schema: str, table: str, frame) -> None:
        """Replace schema.table by the rows of `frame` (a DataFrame, typed as DuckDB would type it, or a
        pyarrow Table, typed from its schema)."""
        columns = _columns(frame, f"{schema}.{table}")
        with self.con.cursor() as cur:
            name = _create(cur, schema, table, columns)
            if columns:
                _copy_frame(cur, name, columns, frame)

    def replace_rows(self, schema: str, table: str, frame, column: str, value) -> None:
        """Replace the rows of ``table`` whose ``column`` = ``value`` with ``frame`` and keep all others
        (one cycle of a history table), atomically. The table is created from the frame's columns when
        it does not exist; columns the frame has and the table lacks are added (older rows get NULL)."""
        where = f"{schema}.{table}"
        if column not in list(frame.columns if isinstance(frame, pd.DataFrame) else frame.column_names):
            raise PostgresWarehouseError(f"{where}: the rows to replace have no {column!r} column")
        columns = _columns(frame, where)
        name = _name(schema, table)
        with self.con.transaction(), self.con.cursor() as cur:
            # writers of one shared table (every ingest step writes its row of meta.ingest_log) take
            # turns until commit, so two processes never race on creating it or on its rows
            cur.execute("select pg_advisory_xact_lock(hashtext(%s))", [f"sop.replace_rows:{where}"])
            _ensure_schema(cur, schema)
            cur.execute(f"create table if not exists {name} ({', '.join(f'{_quoted(c)} {t}' for c, t in columns)})")
            cur.execute(
                "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
                [schema, table],
            )
            have = {r[0] for r in cur.fetchall()}
            for c, t in columns:
                if c not in have:
                    cur.execute(f"alter table {name} add column {_quoted(c)} {t}")
            cur.execute(f"delete from {name} where {_quoted(column)} = %s", [_python_value(value)])
            if columns:
                _copy_frame(cur, name, columns, frame)

    def cycles(self, schema: str, table: str, column: str = "cycle_id") -> tuple[int, int]:
        """(distinct values of ``column``, rows) of a history table."""
        with self.con.cursor() as cur:
            cur.execute(f"select count(distinct {_quoted(column)}), count(*) from {_name(schema, table)}")
            n, rows = cur.fetchone()
        return int(n), int(rows)

    def describe(self, schema: str, table: str, preview_rows: int = PREVIEW_ROWS) -> dict:
        import dagster as dg

        from sop_pipeline.assets.common import markdown_table

        with self.con.cursor() as cur:
            cur.execute(f"select count(*) from {_name(schema, table)}")
            rows = cur.fetchone()[0]
        preview = self.query(f"select * from {_name(schema, table)} limit {int(preview_rows)}")
        return {
            "dagster/row_count": dg.MetadataValue.int(int(rows)),
            "preview": dg.MetadataValue.md(markdown_table(preview)),
        }


_INTEGER_DTYPES = {"smallint": "int16", "integer": "int32", "bigint": "int64"}


def _like_duckdb(frame: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    """The dtypes DuckDB's `.df()` gives the same columns: dates and timestamps as datetime64[us],
    integers as int16/32/64 (nullable Int16/32/64 when a value is NULL), doubles and numeric as
    float64, booleans as bool (nullable boolean when a value is NULL)."""
    for column, pg_type in types.items():
        s = frame[column]
        nulls = bool(s.isna().any())
        if pg_type in ("date", "timestamp without time zone"):
            frame[column] = pd.to_datetime(s).astype("datetime64[us]")
        elif pg_type == "timestamp with time zone":
            frame[column] = pd.to_datetime(s, utc=True)
        elif pg_type in _INTEGER_DTYPES:
            dtype = _INTEGER_DTYPES[pg_type]
            frame[column] = s.astype(dtype.capitalize() if nulls else dtype)
        elif pg_type in ("real", "double precision", "numeric"):
            frame[column] = pd.to_numeric(s, errors="coerce").astype("float64")
        elif pg_type == "boolean":
            frame[column] = s.astype("boolean" if nulls else bool)
    return frame


def copy_from_duckdb(
    duckdb_path: str | Path,
    dsn: str,
    schemas: list[str] | None = None,
    exclude: tuple[str, ...] = DBT_SCHEMAS,
) -> dict[str, int]:
    """Copy tables of a DuckDB warehouse file into PostgreSQL (same schema.table names and column
    types, rows via COPY); one transaction, so a failure leaves the database as it was.

    `schemas` lists the schemas to copy; by default every table except those dbt builds in the
    `exclude` schemas (the project's models, from its manifest). Returns {schema.table: rows copied}.
    """
    import duckdb

    path = Path(duckdb_path)
    if not path.exists():
        raise PostgresWarehouseError(f"no DuckDB warehouse at {path}")
    copied: dict[str, int] = {}
    with duckdb.connect(str(path), read_only=True) as src, connect(dsn) as dst:
        tables = src.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_catalog = current_database() "
            "order by table_schema, table_name"
        ).fetchall()
        built = dbt_built_tables() if schemas is None else set()
        for schema, table in tables:
            if schemas is not None and schema not in schemas:
                continue
            # by default: every table dbt does not build, including Python-written tables in a dbt
            # schema (marts.exceptions, marts.scenario_compare: written after the dbt marts step)
            if schemas is None and schema in exclude and (schema, table) in built:
                continue
            where = f"{path.name}: {schema}.{table}"
            columns = [
                (c, postgres_type_of_duckdb(t, f"{where}.{c}"))
                for c, t in src.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = ? and table_name = ? and table_catalog = current_database() "
                    "order by ordinal_position",
                    [schema, table],
                ).fetchall()
            ]
            reader = src.sql(f"select * from {_name(schema, table)}").to_arrow_reader(COPY_BATCH_ROWS)
            with dst.cursor() as cur:
                name = _create(cur, schema, table, columns)
                # one Arrow batch in memory at a time, each through `_copy_frame` (CSV, or rows for lists)
                copied[f"{schema}.{table}"] = sum(
                    _copy_frame(cur, name, columns, pa.Table.from_batches([batch], schema=reader.schema))
                    for batch in reader
                    if columns
                )
    return copied


def dbt_built_tables() -> set[tuple[str, str]]:
    """(schema, table) of every model the dbt project builds, from its manifest (built if absent)."""
    import json

    from sop_pipeline.cli import ensure_dbt_manifest

    manifest = json.loads(ensure_dbt_manifest().read_text())
    return {
        (node["schema"], node.get("alias") or node["name"])
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed", "snapshot")
    }


def dbt_build(dsn: str, target_path: str | Path, select: str | None = None, extra_vars: dict | None = None):
    """`dbt build --target postgres` of the project (or of `select`) against the DSN's database;
    dbt's artifacts and log go to `target_path`. Returns the finished subprocess (check returncode;
    its stdout is dbt's log)."""
    import json
    import os
    import subprocess

    from sop_pipeline.settings import DBT_PROJECT_DIR, dbt_executable

    target = Path(target_path)
    target.mkdir(parents=True, exist_ok=True)
    password = parse_dsn(dsn)["password"]
    env = {**os.environ, "SOP_PG_PASSWORD": str(password)} if password else dict(os.environ)
    cmd = [
        dbt_executable(),
        "build",
        "--target",
        "postgres",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(target),
        "--vars",
        json.dumps({**dbt_connection_vars(dsn), **(extra_vars or {})}),
    ]
    if select:
        cmd += ["--select", select]
    return subprocess.run(cmd, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)


def compare_with_duckdb(duckdb_path: str | Path, dsn: str, schemas: tuple[str, ...] = DBT_SCHEMAS) -> list[str]:
    """One line per difference between the dbt-built tables of a DuckDB warehouse and a PostgreSQL
    one (a table missing on either side, row counts, columns, sums beyond 1e-6, text and dates)."""
    import duckdb

    from sop_pipeline.io_manager import DuckDBTables
    from sop_pipeline.warehouse_engines.compare import compare_tables

    out: list[str] = []
    with duckdb.connect(str(duckdb_path), read_only=True) as duck, connect(dsn) as pg:
        for schema in schemas:
            listing = "select table_name from information_schema.tables where table_schema = {} order by 1"
            left = [r[0] for r in duck.execute(listing.format("?"), [schema]).fetchall()]
            with pg.cursor() as cur:
                cur.execute(listing.format("%s"), [schema])
                right = [r[0] for r in cur.fetchall()]
            out += [f"{schema}.{t}: only in DuckDB" for t in left if t not in right]
            out += [f"{schema}.{t}: only in PostgreSQL" for t in right if t not in left]
            both = [t for t in left if t in right]
            out += compare_tables(DuckDBTables(duck), PostgresTables(pg), schema, both)
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m sop_pipeline.warehouse_engines.postgres --data-dir DIR --dsn postgresql://...`:
    copy a finished DuckDB cycle's dbt inputs into PostgreSQL, `dbt build --target postgres` there
    and compare every staging, intermediate and mart table with the DuckDB cycle's."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m sop_pipeline.warehouse_engines.postgres",
        description="Build a DuckDB cycle's marts on PostgreSQL with the same dbt project and compare them.",
    )
    parser.add_argument("--data-dir", required=True, help="data dir of a finished `sop run` (has warehouse.duckdb)")
    parser.add_argument("--dsn", required=True, help="postgresql://user[:password]@host[:port]/database")
    parser.add_argument("--no-compare", action="store_true", help="build only, do not compare with DuckDB")
    args = parser.parse_args(argv)
    warehouse = Path(args.data_dir) / "warehouse.duckdb"
    try:
        copied = copy_from_duckdb(warehouse, args.dsn)
        print(f"copied {len(copied)} tables ({sum(copied.values())} rows) from {warehouse} to {redact(args.dsn)}")
        build = dbt_build(args.dsn, Path(args.data_dir) / "dbt" / "target" / "postgres")
        if build.returncode != 0:
            failed = [line.strip() for line in build.stdout.splitlines() if " ERROR " in line or "FAIL " in line]
            print(f"dbt build --target postgres failed: {failed[0] if failed else 'see the dbt log'}", file=sys.stderr)
            print(f"dbt log: {Path(args.data_dir) / 'dbt' / 'target' / 'postgres' / 'dbt.log'}", file=sys.stderr)
            return 1
        print("dbt build --target postgres: every model and test passed")
        if args.no_compare:
            return 0
        diffs = compare_with_duckdb(warehouse, args.dsn)
    except PostgresWarehouseError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for line in diffs:
        print(line)
    print(f"{len(diffs)} differences from the DuckDB warehouse" if diffs else "same tables as the DuckDB warehouse")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
