"""Dagster resources: the cycle settings and the warehouse (DuckDB file, one writer at a time; or PostgreSQL).

Assets never read environment variables: they get paths from `SopSettings`, connections
from `Warehouse`. All assets that write the warehouse share the Dagster concurrency pool
`WAREHOUSE_POOL` (limit 1 in dagster.yaml) and the job runs in-process, so no two steps
ever hold the DuckDB write lock at once.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Iterator

import dagster as dg
import duckdb

from sop_pipeline.analytics.safety_stock import DEFAULT_GOODWILL_FACTOR, DEFAULT_HOLDING_RATE
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
    warehouse: str = ""  # SOP_WAREHOUSE: "" = the DuckDB file, else the PostgreSQL DSN (no password)

    @classmethod
    def from_settings(cls, settings: Settings) -> "SopSettings":
        return cls(
            extracts_dir=str(settings.extracts_dir),
            data_dir=str(settings.data_dir),
            expectations_dir=str(settings.expectations_dir),
            as_of=settings.as_of.isoformat() if settings.as_of else None,
            max_quarantine_share=settings.max_quarantine_share,
            warehouse=settings.warehouse,
        )

    @property
    def settings(self) -> Settings:
        return Settings(
            extracts_dir=Path(self.extracts_dir),
            data_dir=Path(self.data_dir),
            expectations_dir=Path(self.expectations_dir),
            as_of=self.as_of,
            max_quarantine_share=self.max_quarantine_share,
            warehouse=self.warehouse,
        ).validated()


class Warehouse(dg.ConfigurableResource):
    """The warehouse: the embedded DuckDB file (`path`), or a PostgreSQL database (`dsn`, from
    SOP_WAREHOUSE / `sop run --warehouse`).

    `tables()` gives the engine's table operations on a short-lived connection (read, replace,
    replace_rows, portable `query`, ...; sop_pipeline.warehouse_engines): ingest, the IO manager,
    history and publish go through it, so none of them issues engine-specific SQL. `connect()` is
    the DuckDB file's own connection, for DuckDB-only tools (the ingest tests' fakes, benchmarks);
    on a PostgreSQL warehouse it refuses, naming the server."""

    path: str
    lock_timeout_seconds: float = 60.0
    # DuckDB sums doubles in whatever order its threads finish: one thread makes every aggregate
    # the analytics read bit-identical from run to run (the serving tables are compared byte for
    # byte). Bulk work that computes no float aggregates (ingest) may ask for `parallel=True`.
    threads: int = 1
    # postgresql://user@host:port/database (no password: SOP_PG_PASSWORD or ~/.pgpass): the
    # warehouse is this PostgreSQL database instead of the DuckDB file.
    dsn: str = ""

    @property
    def engine(self) -> str:
        return "postgres" if self.dsn else "duckdb"

    @property
    def location(self) -> str:
        """Where the warehouse is, for messages (a DSN without its password)."""
        if self.dsn:
            from sop_pipeline.warehouse_engines.postgres import redact

            return redact(self.dsn)
        return self.path

    @contextmanager
    def tables(self, read_only: bool = False, parallel: bool = False) -> Iterator:
        """The engine's table operations (`DuckDBTables` or `PostgresTables`) on a short-lived
        connection; on PostgreSQL one transaction, committed when the block ends without an error,
        else rolled back."""
        if self.dsn:
            from sop_pipeline.warehouse_engines import postgres

            with postgres.connect(self.dsn) as con:
                con.read_only = read_only
                yield postgres.PostgresTables(con)
        else:
            from sop_pipeline.warehouse_engines.duckdb_tables import DuckDBTables

            with self._duckdb(read_only=read_only, parallel=parallel) as con:
                yield DuckDBTables(con)

    @contextmanager
    def connect(self, read_only: bool = False, parallel: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.dsn:
            raise RuntimeError(
                f"the warehouse is PostgreSQL ({self.location}): a DuckDB connection to it was asked for; "
                "use Warehouse.tables()"
            )
        with self._duckdb(read_only=read_only, parallel=parallel) as con:
            yield con

    @contextmanager
    def _duckdb(self, read_only: bool = False, parallel: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        from sop_pipeline.warehouse_engines import duckdb_hold

        if duckdb_hold.holding(self.path):  # an in-process run keeps the file open (duckdb_hold)
            with duckdb_hold.cursor(self.path, self._open_duckdb, self.threads, parallel) as con:
                yield con
            return
        con = self._open_duckdb(read_only=read_only, parallel=parallel)
        try:
            yield con
        finally:
            con.close()

    def _open_duckdb(self, read_only: bool = False, parallel: bool = True) -> duckdb.DuckDBPyConnection:
        """A new connection to the DuckDB file, waiting up to `lock_timeout_seconds` for another
        process's write lock."""
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_seconds
        while True:
            try:
                con = duckdb.connect(self.path, read_only=read_only)
                if not parallel:
                    con.execute(f"set threads = {int(self.threads)}")
                return con
            except duckdb.IOException as exc:  # another process holds the write lock
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"The warehouse {self.path} is locked by another process "
                        f"(a second run, or a tool with the file open for writing). BI tools should "
                        f"read data/serving/sop.duckdb instead. DuckDB said: {exc}"
                    ) from None
                time.sleep(1.0)

    def as_of(self) -> date:
        """The cycle date recorded by the `cycle` asset."""
        import pandas as pd

        with self.tables(read_only=True) as tables:
            frame = tables.read("meta", "cycle") if tables.exists("meta", "cycle") else None
        if frame is None or frame.empty:
            raise RuntimeError("meta.cycle is empty: materialize the `cycle` asset first")
        return pd.Timestamp(frame["as_of"].iloc[0]).date()


# --------------------------------------------------------------------------- scenarios (issue 17 item 3)


class DemandChange(dg.Config):
    """Demand of a SKU, a family or every SKU (family "*") x (1 + change_pct / 100) in weeks [from, to]."""

    family: str | None = None
    sku: str | None = None
    change_pct: float
    weeks: list[int] | None = None


class ResourceHoursChange(dg.Config):
    """Available hours of a resource + hours_per_week_delta in weeks [from, to] (default: all 13)."""

    resource_id: str
    hours_per_week_delta: float
    weeks: list[int] | None = None


class SupplierLeadTimeChange(dg.Config):
    """Lead time of the SKUs bought from a supplier: set to lead_time_days, or + lead_time_delta_days."""

    supplier_id: str
    lead_time_days: float | None = None
    lead_time_delta_days: float | None = None


class ServiceTargetChange(dg.Config):
    """A service target in per cent for every item, an ABC or ABC/XYZ class, a family or a SKU."""

    target_pct: float
    abc_class: str | None = None  # "A" or "AX" (the change file's `class`)
    family: str | None = None
    sku: str | None = None


class MakeBuyChange(dg.Config):
    """A SKU made or bought in the scenario."""

    sku: str
    choice: str


class ScenarioConfig(dg.ConfigurableResource):
    """The what-if changes of a scenario run (`sop scenario run`); empty (the default) = the base cycle.

    The same `sop_cycle` job with this resource's run config is a scenario: in the Dagster UI,
    `resources: {scenario: {config: {name: snacks_plus10, base_serving_file: .../serving/sop.duckdb,
    demand: [{family: Snacks, change_pct: 10, weeks: [1, 13]}], resources: [{resource_id: T1,
    hours_per_week_delta: 8}]}}}`. The assets that read a changed input call
    `sop_pipeline.analytics.scenario` with `spec()`; `scenario_compare` reads the base figures from
    `base_serving_file`."""

    name: str = ""
    base_serving_file: str = ""
    demand: list[DemandChange] = []
    resources: list[ResourceHoursChange] = []
    suppliers: list[SupplierLeadTimeChange] = []
    service_targets: list[ServiceTargetChange] = []
    make_vs_buy: list[MakeBuyChange] = []

    def spec(self) -> dict | None:
        """The changes, validated and normalized (analytics.scenario.validate); None for the base cycle."""
        from sop_pipeline.analytics import scenario as scenario_lib

        raw = {
            "demand": [c.model_dump() for c in self.demand],
            "resources": [c.model_dump() for c in self.resources],
            "suppliers": [c.model_dump() for c in self.suppliers],
            "service_targets": [
                {("class" if k == "abc_class" else k): v for k, v in c.model_dump().items()}
                for c in self.service_targets
            ],
            "make_vs_buy": [c.model_dump() for c in self.make_vs_buy],
        }
        raw = {s: [{k: v for k, v in item.items() if v is not None} for item in items] for s, items in raw.items()}
        if not any(raw.values()):
            return None
        try:
            return scenario_lib.validate(raw, name=self.name or "scenario", source=f"scenario {self.name} run config")
        except scenario_lib.ScenarioError as exc:
            raise dg.Failure(description=str(exc)) from None

    @classmethod
    def from_spec(cls, spec: dict, base_serving_file: str = "") -> "ScenarioConfig":
        return cls(**cls.run_config(spec, base_serving_file))

    @staticmethod
    def run_config(spec: dict, base_serving_file: str = "") -> dict:
        """The resource's config for a validated spec (what `sop scenario run` passes as run config)."""
        out = {"name": spec.get("name") or "scenario", "base_serving_file": base_serving_file}
        for section in ("demand", "resources", "suppliers", "service_targets", "make_vs_buy"):
            items = [
                {("abc_class" if k == "class" else k): v for k, v in item.items() if v is not None}
                for item in spec.get(section) or []
            ]
            if items:
                out[section] = items
        return out


# --------------------------------------------------------------------------- planning economics


class Economics(dg.ConfigurableResource):
    """The one holding rate and goodwill factor of the cycle (KPI_DEFINITIONS "Service-target
    economics"), shared by every asset that prices stock against shortage: the safety-stock policy
    (its order quantity), the service-vs-inventory curve and the plan of record's build-ahead.

    Set once in run config, e.g. `resources: {economics: {config: {holding_rate: 0.3}}}`; a plan
    never builds ahead at one rate while the curve prices its service targets at another."""

    holding_rate: float = DEFAULT_HOLDING_RATE  # 1/year of the unit cost
    goodwill_factor: float = DEFAULT_GOODWILL_FACTOR  # shortage cost per unit short = (price - cost) x this

    def validated(self) -> "Economics":
        """Itself, or a `dg.Failure` naming the setting out of range: the holding rate must be > 0
        (free stock makes every order quantity and service target unbounded), the goodwill factor >= 0."""
        for name, value, floor in (
            ("holding_rate", self.holding_rate, "> 0"),
            ("goodwill_factor", self.goodwill_factor, ">= 0"),
        ):
            if not (math.isfinite(value) and (value > 0 if floor == "> 0" else value >= 0)):
                raise dg.Failure(
                    description=f"economics.{name} is {value}: it must be a finite number {floor} "
                    "(run config resources.economics.config)"
                )
        return self
