"""Dagster resources: the cycle settings and the DuckDB warehouse (one writer at a time).

Assets never read environment variables: they get paths from `SopSettings`, connections
from `Warehouse`. All assets that write the warehouse share the Dagster concurrency pool
`WAREHOUSE_POOL` (limit 1 in dagster.yaml) and the job runs in-process, so no two steps
ever hold the DuckDB write lock at once.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Iterator

import dagster as dg
import duckdb

from sop_pipeline.settings import Settings

WAREHOUSE_POOL = "duckdb_warehouse"


class SopSettings(dg.ConfigurableResource):
    """Where the extracts, warehouse, serving file and reports live, and the cycle date.

    `as_of` (SOP_AS_OF) picks the cycle partition for `sop run` and the extracts sensor; inside a
    partitioned run the as-of comes from the partition (its Sunday) or the meta/cycle run config
    (a mid-week cut), never from here (sop_pipeline.partitions)."""

    extracts_dir: str
    data_dir: str
    expectations_dir: str
    as_of: str | None = None
    max_quarantine_share: float = 0.2

    @classmethod
    def from_settings(cls, settings: Settings) -> "SopSettings":
        return cls(
            extracts_dir=str(settings.extracts_dir),
            data_dir=str(settings.data_dir),
            expectations_dir=str(settings.expectations_dir),
            as_of=settings.as_of.isoformat() if settings.as_of else None,
            max_quarantine_share=settings.max_quarantine_share,
        )

    @property
    def settings(self) -> Settings:
        return Settings(
            extracts_dir=Path(self.extracts_dir),
            data_dir=Path(self.data_dir),
            expectations_dir=Path(self.expectations_dir),
            as_of=self.as_of,
            max_quarantine_share=self.max_quarantine_share,
        ).validated()


class Warehouse(dg.ConfigurableResource):
    """The embedded DuckDB warehouse file. Use `connect()` for a short-lived connection."""

    path: str
    lock_timeout_seconds: float = 60.0
    # DuckDB sums doubles in whatever order its threads finish: one thread makes every aggregate
    # the analytics read bit-identical from run to run (the serving tables are compared byte for
    # byte). Bulk work that computes no float aggregates (ingest) may ask for `parallel=True`.
    threads: int = 1
    # postgresql://user@host:port/database: the IO manager keeps its tables in this PostgreSQL
    # database instead of the DuckDB file (sop_pipeline.io_manager.warehouse_tables). Only the IO
    # manager so far: `connect()` is always the DuckDB file (ingest, history, publish; README).
    dsn: str = ""

    @property
    def location(self) -> str:
        """Where the IO manager's tables are, for messages (a DSN without its password)."""
        if self.dsn:
            from sop_pipeline.warehouse_engines.postgres import redact

            return redact(self.dsn)
        return self.path

    @contextmanager
    def connect(self, read_only: bool = False, parallel: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_seconds
        while True:
            try:
                con = duckdb.connect(self.path, read_only=read_only)
                if not parallel:
                    con.execute(f"set threads = {int(self.threads)}")
                break
            except duckdb.IOException as exc:  # another process holds the write lock
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"The warehouse {self.path} is locked by another process "
                        f"(a second run, or a tool with the file open for writing). BI tools should "
                        f"read data/serving/sop.duckdb instead. DuckDB said: {exc}"
                    ) from None
                time.sleep(1.0)
        try:
            yield con
        finally:
            con.close()

    def as_of(self) -> date:
        """The cycle date recorded by the `cycle` asset."""
        with self.connect(read_only=True) as con:
            rows = con.execute("select as_of from meta.cycle").fetchall()
        if not rows:
            raise RuntimeError("meta.cycle is empty: materialize the `cycle` asset first")
        return rows[0][0]
