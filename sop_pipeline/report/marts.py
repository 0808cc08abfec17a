"""Read-only access to the published marts of `serving/sop.duckdb`.

Every section asks for a table and the columns it needs; a table that is not published yet,
or lacks a column, reads as an empty DataFrame and `why_empty` says which, so the section can
show a "no data yet" panel instead of failing.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb
import pandas as pd


class ReportError(RuntimeError):
    """The meeting pack cannot be built; the message says why in planner terms."""


class Marts:
    """The tables of one serving file, looked up once in information_schema."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        rows = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_catalog = current_database() and table_schema = 'main' "
            "order by table_name, ordinal_position"
        ).fetchall()
        self.columns: dict[str, list[str]] = {}
        for table, column in rows:
            self.columns.setdefault(table, []).append(column)
        self.used: set[str] = set()

    def has(self, table: str, *columns: str) -> bool:
        return table in self.columns and all(c in self.columns[table] for c in columns)

    def read(
        self,
        table: str,
        columns: tuple[str, ...] | list[str] = (),
        optional: tuple[str, ...] = (),
        where: str = "",
        order_by: str = "",
    ) -> pd.DataFrame:
        """Rows of `table`: the required `columns` (all columns when empty) plus those of `optional`
        the table has; empty when the table or a required column is missing."""
        if not self.has(table, *columns):
            return pd.DataFrame(columns=list(columns))
        self.used.add(table)
        wanted = list(columns) + [c for c in self.optional(table, optional) if c not in columns]
        select = ", ".join(f'"{c}"' for c in wanted) if columns else "*"
        sql = f'select {select} from "{table}"'
        sql += f" where {where}" if where else ""
        sql += f" order by {order_by}" if order_by else ""
        return self.con.execute(sql).df()

    def optional(self, table: str, wanted: tuple[str, ...]) -> list[str]:
        """The columns of `wanted` that `table` has, in the order given."""
        return [c for c in wanted if c in self.columns.get(table, [])]

    def why_empty(self, table: str, columns: tuple[str, ...] | list[str] = ()) -> str:
        if table not in self.columns:
            return f"mart {table} is not published in this serving file yet"
        missing = [c for c in columns if c not in self.columns[table]]
        if missing:
            return f"mart {table} has no column {', '.join(missing)}"
        return f"mart {table} has no rows this cycle"


@contextmanager
def open_marts(serving_db: Path) -> Iterator[Marts]:
    """Open the serving file read-only; if another process holds it, read a private copy."""
    serving_db = Path(serving_db)
    if not serving_db.is_file():
        raise ReportError(f"serving file {serving_db} not found: run `sop run` first to publish a cycle")
    tmp_dir = None
    try:
        try:
            con = duckdb.connect(str(serving_db), read_only=True)
        except (duckdb.IOException, duckdb.ConnectionException):
            tmp_dir = tempfile.mkdtemp(prefix="sop_report_")
            copy = Path(tmp_dir) / serving_db.name
            shutil.copy2(serving_db, copy)
            con = duckdb.connect(str(copy), read_only=True)
        try:
            yield Marts(con)
        finally:
            con.close()
    finally:
        if tmp_dir:
            shutil.rmtree(tmp_dir, ignore_errors=True)


def publish_info(marts: Marts) -> dict:
    """cycle, published_at and checksum of the serving file ({} when `_publish_info` is absent)."""
    df = marts.read("_publish_info", ("cycle",), optional=("published_at", "checksum"))
    return {} if df.empty else {k: v for k, v in df.iloc[0].items() if not _missing(v)}


def _missing(value) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
