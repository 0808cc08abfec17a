"""Paths and cycle settings, read from the environment once and validated.

| variable | default | meaning |
|---|---|---|
| SOP_EXTRACTS_DIR | data/extracts | folder of extract files, one per table (items.csv or items.parquet) |
| SOP_DATA_DIR | data | where warehouse.duckdb, serving/ and reports/ go |
| SOP_AS_OF | (last date in the extracts) | cycle date: the plan is made as if today were this date; `sop run` materializes the weekly cycle partition holding it, cut at it (sop_pipeline.partitions) |
| SOP_DEMO_SIZE | small | demo generator size for `make run` |
| SOP_EXPECTATIONS_DIR | <repo>/expectations | Great Expectations suites, one JSON per extract |
| SOP_MAX_QUARANTINE_SHARE | 0.2 | an extract that would lose more than this share of its rows to quarantine stops the run |
| SOP_WAREHOUSE | (the DuckDB file <data dir>/warehouse.duckdb) | `postgresql://user@host:port/database`: the warehouse is that PostgreSQL database (password from SOP_PG_PASSWORD or ~/.pgpass, never in the URL); `duckdb` or empty: the embedded file |

Relative paths are resolved against the current working directory. Only this module reads
the environment; resources and the CLI pass `Settings` on. The one exception is the PostgreSQL
password, SOP_PG_PASSWORD: it is read where a connection is made (warehouse_engines.postgres.connect
and dbt's profile), so it never enters `Settings`, resource config or the UI. Nothing in the package writes the
environment: dbt gets the warehouse path as a dbt var (`--vars {warehouse_path: ...}`, read by
dbt_project/profiles.yml; on PostgreSQL `pg_host` / `pg_port` / `pg_user` / `pg_dbname` and the
`postgres` target, `dbt_target`) and its own target dir under the data dir (`dbt_target_dir`).

Why the resources get resolved values rather than `dg.EnvVar`s: several settings are derived from
others (the extracts folder defaults to `<data dir>/extracts`; the warehouse file, serving folder,
reports and dbt target all live under the data dir; relative paths resolve against the directory
`sop`/`dagster dev` started in). `dg.EnvVar` would resolve each resource field on its own at run
launch, so a variable changed between code-location load and launch could give a run the new
data dir but the old warehouse path. Reading the environment once here, validating it and passing
the result on keeps every derived path consistent; the Dagster UI shows the resolved values in
each resource's config.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DEMO_SIZES = ("small", "medium", "large", "xlarge")


def dbt_executable() -> str:
    """dbt of this interpreter's environment (the venv), so no PATH setup is needed; else PATH."""
    for folder in (Path(sys.prefix) / "bin", Path(sys.executable).parent):
        if (folder / "dbt").exists():
            return str(folder / "dbt")
    return shutil.which("dbt") or "dbt"


class SettingsError(ValueError):
    """A setting has a value the pipeline cannot use."""


def parse_as_of(value: str | date | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise SettingsError(f"SOP_AS_OF / --as-of must be a date like 2026-11-22, got {value!r}") from None


def parse_share(value: float | str) -> float:
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = float("nan")
    if not 0.0 <= share <= 1.0:
        raise SettingsError(f"SOP_MAX_QUARANTINE_SHARE must be a share between 0 and 1 (e.g. 0.2), got {value!r}")
    return share


def parse_warehouse(value: str | None) -> str:
    """ "" for the embedded DuckDB file (empty or `duckdb`), else the PostgreSQL DSN, checked."""
    text = (value or "").strip()
    if text.lower() in ("", "duckdb"):
        return ""
    from sop_pipeline.warehouse_engines.postgres import PostgresWarehouseError, parse_dsn, redact

    if not text.startswith(("postgresql://", "postgres://")):
        raise SettingsError(
            f"SOP_WAREHOUSE / --warehouse must be duckdb or postgresql://user@host:port/database, got {text!r}"
        )
    try:
        parts = parse_dsn(text)
    except PostgresWarehouseError as exc:
        raise SettingsError(f"SOP_WAREHOUSE / --warehouse: {exc}") from None
    if parts["password"]:
        raise SettingsError(
            f"SOP_WAREHOUSE / --warehouse {redact(text)} has a password in it: put it in SOP_PG_PASSWORD "
            "(or ~/.pgpass) instead, so it never shows in run configs and logs"
        )
    return text


@dataclass(frozen=True)
class Settings:
    extracts_dir: Path
    data_dir: Path
    as_of: date | None = None
    demo_size: str = "small"
    expectations_dir: Path = REPO_ROOT / "expectations"
    max_quarantine_share: float | str = 0.2
    # "" = the embedded DuckDB file; else a postgresql:// DSN without a password (parse_warehouse)
    warehouse: str = ""

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB warehouse file (unused when `warehouse_dsn` is set)."""
        return self.data_dir / "warehouse.duckdb"

    @property
    def warehouse_dsn(self) -> str:
        """The PostgreSQL warehouse's DSN, "" for the embedded DuckDB file."""
        return self.warehouse

    @property
    def warehouse_location(self) -> str:
        """Where the warehouse is, for messages."""
        return self.warehouse or str(self.warehouse_path)

    @property
    def dbt_target(self) -> str:
        """The output of dbt_project/profiles.yml the dbt steps use."""
        return "postgres" if self.warehouse else "local"

    @property
    def serving_dir(self) -> Path:
        return self.data_dir / "serving"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def dbt_target_dir(self) -> Path:
        """dbt's artifacts (run_results.json, partial parse state, logs) for this data dir: two runs
        in different data dirs never share a target dir."""
        return self.data_dir / "dbt" / "target"

    def dbt_vars(self) -> dict[str, str]:
        """The dbt vars of this cycle (profiles.yml reads `warehouse_path`, and on PostgreSQL the
        connection's pg_host, pg_port, pg_user, pg_dbname)."""
        out = {"warehouse_path": str(self.warehouse_path)}
        if self.warehouse:
            from sop_pipeline.warehouse_engines.postgres import dbt_connection_vars

            out.update({k: str(v) for k, v in dbt_connection_vars(self.warehouse).items()})
        return out

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Settings":
        env = os.environ if env is None else env
        data_dir = Path(env.get("SOP_DATA_DIR") or "data")
        values = dict(
            extracts_dir=Path(env.get("SOP_EXTRACTS_DIR") or data_dir / "extracts"),
            data_dir=data_dir,
            as_of=env.get("SOP_AS_OF") or None,
            demo_size=env.get("SOP_DEMO_SIZE") or "small",
            expectations_dir=Path(env.get("SOP_EXPECTATIONS_DIR") or REPO_ROOT / "expectations"),
            max_quarantine_share=env.get("SOP_MAX_QUARANTINE_SHARE") or 0.2,
            warehouse=env.get("SOP_WAREHOUSE") or "",
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values).validated()

    def validated(self) -> "Settings":
        if self.demo_size not in DEMO_SIZES:
            raise SettingsError(f"SOP_DEMO_SIZE must be one of {', '.join(DEMO_SIZES)}, got {self.demo_size!r}")
        return replace(
            self,
            extracts_dir=Path(self.extracts_dir).expanduser().resolve(),
            data_dir=Path(self.data_dir).expanduser().resolve(),
            expectations_dir=Path(self.expectations_dir).expanduser().resolve(),
            as_of=parse_as_of(self.as_of),
            max_quarantine_share=parse_share(self.max_quarantine_share),
            warehouse=parse_warehouse(self.warehouse),
        )

    def check_writable(self) -> "Settings":
        """Fail up front, with one line, when the data dir cannot be created or written to
        (instead of a traceback from whichever step writes first)."""
        d = self.data_dir
        if d.exists() and not d.is_dir():
            raise SettingsError(f"data dir {d} is not writable (it is a file, not a folder)")
        probe = d / f".sop-write-probe.{os.getpid()}"
        try:
            d.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            where = f": {exc.filename}" if exc.filename and str(exc.filename) != str(d) else ""
            raise SettingsError(f"data dir {d} is not writable ({reason}{where})") from None
        return self

    def to_env(self) -> dict[str, str]:
        """The same settings as environment variables, for a child process started with
        `env={**os.environ, **settings.to_env()}` (tests, benchmarks); the package never writes
        them into its own environment."""
        env = {
            "SOP_EXTRACTS_DIR": str(self.extracts_dir),
            "SOP_DATA_DIR": str(self.data_dir),
            "SOP_DEMO_SIZE": self.demo_size,
            "SOP_EXPECTATIONS_DIR": str(self.expectations_dir),
            "SOP_MAX_QUARANTINE_SHARE": str(self.max_quarantine_share),
            "SOP_WAREHOUSE_PATH": str(self.warehouse_path),
        }
        if self.warehouse:
            env["SOP_WAREHOUSE"] = self.warehouse
        if self.as_of:
            env["SOP_AS_OF"] = self.as_of.isoformat()
        return env
