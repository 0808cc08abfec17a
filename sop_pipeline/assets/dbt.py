"""The dbt project (staging, intermediate, marts) as Dagster assets, wired once here.

Asset keys and groups come from the dbt folder (fqn), not from model names:
`models/staging/x.sql` -> key `staging/x`, group `staging`;
`models/marts/<area>/x.sql` -> key `marts/x`, group `<area>`.
Sources map to the Python assets that write them through `meta.dagster.asset_key` in YAML.

The cycle runs dbt twice: `sop_dbt_staging` (staging + intermediate, read by the Python analytics)
and `sop_dbt_marts` (the marts, which read the analytics). No Python asset reads a mart, so each is
one step, and every dbt test runs in the step that builds its models: `--indirect-selection
buildable` also selects tests whose other parents are upstream of the selection (a mart's
relationships test to a staging model). A failing error-severity test stops the step with a
message naming the test, table, column and failing rows (dbt's run_results.json).

dbt gets the warehouse path as a dbt var and writes its artifacts under the data dir
(`Settings.dbt_target_dir`): nothing is passed through this process's environment, and two runs
in different data dirs never share a target dir.

Start-up costs kept off the critical path: meta/cycle starts a warm dbt server for the data dir
(`start_dbt`, sop_pipeline/dbt_server.py) that imports dbt and parses the project with the cycle's
vars while ingest runs; both dbt steps of an in-process run go through it, so neither starts a dbt
process nor parses. Row counts and column schemas come from two DuckDB queries per step
(`_warehouse_metadata`), not from dbt's adapter in this process.
"""

import dataclasses
import importlib.metadata
import json
import shutil
import sys
import threading
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster._utils import pushd
from dagster_dbt.core.dbt_event_iterator import DbtEventIterator  # not re-exported by dagster_dbt 0.29
from packaging import version
from pydantic import PrivateAttr

from sop_pipeline import dbt_server
from sop_pipeline.assets.common import OWNERS
from sop_pipeline.publish import FailedTest, build_failure_message, failed_tests
from sop_pipeline.resources import WAREHOUSE_POOL, SopSettings
from sop_pipeline.settings import DBT_PROJECT_DIR, Settings, dbt_executable
from sop_pipeline.warehouse_engines import duckdb_hold

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()

# dbt selections of the two steps; together they cover every model exactly once (tests/unit).
STAGING_SELECT = "path:models/staging path:models/intermediate"
MARTS_SELECT = "path:models/marts"
PARTIAL_PARSE = "partial_parse.msgpack"


class SopDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([self._folders(dbt_resource_props)[0], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        folders = self._folders(dbt_resource_props)
        if folders[0] == "marts" and len(folders) > 1:
            return folders[1]
        return folders[0]

    def get_owners(self, dbt_resource_props: Mapping[str, Any]):
        return OWNERS.get(self.get_group_name(dbt_resource_props) or "", OWNERS["staging"])

    @staticmethod
    def _folders(props: Mapping[str, Any]) -> list[str]:
        # fqn = [project, folder, (subfolder...), model]
        fqn = props.get("fqn") or ["sop", "models", props["name"]]
        return list(fqn[1:-1]) or ["models"]


def _target_path(context: dg.AssetExecutionContext, settings: SopSettings) -> Path:
    """This step's dbt target dir under the data dir (one per step, reused from run to run). A step
    without partial-parse state takes the warm server's (`dbt_server.PARSE_DIR`), else a sibling
    step's, for when it runs dbt's CLI: dbt checks it against the project files itself and re-parses
    when stale."""
    root = settings.settings.dbt_target_dir
    target = root / context.op_execution_context.op.name
    target.mkdir(parents=True, exist_ok=True)
    (target / "run_results.json").unlink(missing_ok=True)  # never report a previous run's failures
    if not (target / PARTIAL_PARSE).exists():
        donors = sorted(root.glob(f"*/{PARTIAL_PARSE}"), key=lambda p: p.stat().st_mtime, reverse=True)
        if donors:
            shutil.copy(donors[0], target / PARTIAL_PARSE)
    return target


def _vars_arg(settings: Settings) -> str:
    """The `--vars` of every dbt invocation of a cycle: dbt's partial-parse state check hashes it, and
    the warm server's manifest serves only invocations with this exact string."""
    return json.dumps(settings.dbt_vars())


def start_dbt(settings: Settings) -> bool:
    """Start the warm dbt server for this data dir (sop_pipeline/dbt_server.py): dbt imported and the
    project parsed with the cycle's vars on the other core while ingest runs, so that neither dbt
    step starts a dbt process or parses (~3.5 s of CPU each, 7-9 s of wall time under load). Returns
    whether a server runs. The dbt steps use it when it runs in their process (`sop run`'s in-process
    executor); otherwise they run dbt's CLI, from the server's partial-parse state."""
    return (
        dbt_server.start(
            settings.dbt_target_dir,
            _vars_arg(settings),
            settings.dbt_target if settings.dbt_target != "local" else None,
            DBT_PROJECT_DIR,
            dbt_executable(),
        )
        is not None
    )


def start_dbt_for_run(context: dg.AssetExecutionContext, settings: Settings) -> bool:
    """`start_dbt` when this run materializes a dbt asset (a run of ingest alone starts nothing)."""
    keys = context.run.asset_selection or context.job_def.asset_layer.selected_asset_keys
    return not DBT_KEYS.isdisjoint(keys) and start_dbt(settings)


def _dbt_for_step(dbt: DbtCliResource, settings: Settings) -> DbtCliResource:
    """The dbt resource this step runs: through this process's warm server when it has one for the
    cycle's vars and the resource's target, else as configured."""
    server = dbt_server.running(settings.dbt_target_dir, _vars_arg(settings), dbt.target or None)
    if server is None or not isinstance(dbt, SopDbtCliResource):
        return dbt
    executable, *flags = server.command
    flags += dbt.global_config_flags
    return dbt.model_copy(update={"dbt_executable": executable, "global_config_flags": flags})


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: SopSettings, step: str):
    """`dbt build` of this step's models and all their tests; stops the run on a failed test."""
    s = settings.settings
    # the dbt process opens the warehouse file itself: an in-process run's held database is closed
    # (checkpointed) first, and this step's own queries use short connections (duckdb_hold)
    with duckdb_hold.suspended(s.warehouse_path):
        yield from _build_suspended(context, dbt, settings, step)


def _build_suspended(context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: SopSettings, step: str):
    s = settings.settings
    target = _target_path(context, settings)
    args = ["build", "--vars", _vars_arg(s), "--indirect-selection", "buildable"]
    invocation = _dbt_for_step(dbt, s).cli(args, context=context, target_path=target, raise_on_error=False)
    _warm_imports()
    on_duckdb_file = _targets_duckdb_file(dbt, args)
    if not on_duckdb_file and invocation.adapter is None and isinstance(dbt, SopDbtCliResource):
        invocation.adapter = dbt.adapter_for(args)  # while dbt starts: its output waits in the pipe
    # Row counts (tables) and column schemas are read once dbt has exited, since DuckDB has a single
    # writer. `is_successful()` first reads all of dbt's output and waits for it to exit (a blocking
    # read); `stream()` then replays the events. Streaming straight into dagster-dbt's metadata
    # fetchers would make dagster's `imap` poll an empty queue for the whole dbt run, two threads
    # busy-waiting on a core that dbt needs (21 s of CPU per step on the small demo). On the DuckDB
    # file (the default target) the metadata of every model of the step comes from two queries
    # (`_warehouse_metadata`); on another target through dagster-dbt's per-model fetchers on dbt's
    # adapter in this process. Column lineage (sqlglot over every model's SQL) is left out: on the
    # small demo's marts step it took 31 s of the metadata threads' time against 6 s for the schemas.
    try:
        invocation.is_successful()
        offending = _column_rule_failures(invocation, s)
        if on_duckdb_file:
            events = _with_warehouse_metadata(invocation, s.warehouse_path)
        else:
            events = _with_table_metadata(invocation)
        yield from _with_offending_columns(events, offending)
    finally:
        _close_adapter(invocation)
    if not invocation.is_successful():
        raise dg.Failure(description=_failure_message(invocation, step, offending))


BUILT = (dg.Output, dg.AssetMaterialization)

# Imported by analytics functions when first called (sop_pipeline.analytics.capacity, .sequencing):
# OR-Tools' CP-SAT and routing modules, ~1 s of import (3 s under load). While dbt runs, this process
# only waits for it, so a dbt step imports them in a background thread.
WARM_IMPORTS = (
    "ortools.sat.python.cp_model",
    "ortools.constraint_solver.pywrapcp",
    "ortools.constraint_solver.routing_enums_pb2",
)
_warmed = threading.Event()


def _warm_imports() -> None:
    """Import WARM_IMPORTS in a daemon thread, once per process (an import that fails here fails
    again, with its message, where the analytics import it)."""
    if _warmed.is_set():
        return
    _warmed.set()

    def work():
        for name in WARM_IMPORTS:
            try:
                importlib.import_module(name)
            except Exception:
                pass

    threading.Thread(target=work, name="sop-warm-imports", daemon=True).start()


def _targets_duckdb_file(dbt: DbtCliResource, args: list[str]) -> bool:
    """Whether this dbt invocation builds into the DuckDB warehouse file (profiles.yml's default
    target `local`), whose path the settings know."""
    target = args[args.index("--target") + 1] if "--target" in args else dbt.target
    return target in (None, "", "local")


def _with_warehouse_metadata(invocation, warehouse: Path) -> Iterator:
    """dbt's events in dbt's order, each model's with the metadata dagster-dbt's `fetch_row_counts()`
    and `fetch_column_metadata()` attach (same keys: `dagster/column_schema`, and for a table - not
    a view, whose query dagster-dbt does not run - `dagster/row_count` and `dagster/storage_kind`),
    read from the DuckDB file in two queries for the whole step instead of one connection and
    query per model. Column types are DuckDB's own names (VARCHAR, DECIMAL(18,2) ...)."""
    events = list(invocation.stream())
    nodes = invocation.manifest["nodes"]
    ids = [e.metadata["unique_id"].text for e in events if isinstance(e, BUILT) and "unique_id" in e.metadata]
    built = {i: nodes[i] for i in ids if i in nodes}  # a node the loaded manifest lacks: no metadata
    metadata = _warehouse_metadata(warehouse, list(built.values())) if built else {}
    for event in events:
        if isinstance(event, BUILT) and "unique_id" in event.metadata:
            extra = metadata.get(event.metadata["unique_id"].text)
            if extra:
                event = event.with_metadata({**event.metadata, **extra})
        yield event


def _relation(node: Mapping[str, Any]) -> tuple[str, str]:
    return node["schema"].lower(), (node.get("alias") or node["name"]).lower()


def _warehouse_metadata(warehouse: Path, nodes: list[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """unique_id -> column schema (every node) and row count (tables) of dbt's models, from one
    `duckdb_columns()` query and one query counting every table's rows. A model missing in the
    warehouse gets nothing (as dagster-dbt: a warning, no metadata)."""
    import duckdb

    wanted = {_relation(n): n for n in nodes}
    tables = [n for n in nodes if n["config"].get("materialized") != "view"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns: dict[tuple[str, str], list[dg.TableColumn]] = {}
        for schema, table, column, data_type in con.execute(
            "select schema_name, table_name, column_name, data_type from duckdb_columns() "
            "where database_name = current_database() order by schema_name, table_name, column_index"
        ).fetchall():
            key = (schema.lower(), table.lower())
            if key in wanted:
                columns.setdefault(key, []).append(dg.TableColumn(name=column, type=data_type or "?"))
        present = [n for n in tables if _relation(n) in columns]
        counts = {}
        if present:
            sql = " union all ".join(
                f"select {i} as i, count(*) as n from {_quoted(n['schema'])}.{_quoted(n.get('alias') or n['name'])}"
                for i, n in enumerate(present)
            )
            counts = {present[i]["unique_id"]: n for i, n in con.execute(sql).fetchall()}
    out: dict[str, dict[str, Any]] = {}
    for key, node in wanted.items():
        if key not in columns:
            dg.get_dagster_logger().warning(f"dbt model {node['unique_id']} not found in {warehouse}: no metadata")
            continue
        meta: dict[str, Any] = {"dagster/column_schema": dg.TableSchema(columns=columns[key])}
        if node["unique_id"] in counts:
            meta["dagster/row_count"] = int(counts[node["unique_id"]])
            meta["dagster/storage_kind"] = "duckdb"
        out[node["unique_id"]] = meta
    return out


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _with_table_metadata(invocation) -> Iterator:
    """dbt's events in dbt's order, each model's with its row count (tables; dagster-dbt skips
    views) and column schema from dagster-dbt's `fetch_row_counts()` and `fetch_column_metadata()`
    on dbt's adapter (targets other than the DuckDB file). Only the models' events go through them:
    a test's event has no table, and fetching "its" columns cost a failed query per test (391 of the
    473 events)."""
    events = list(invocation.stream())
    built = [e for e in events if isinstance(e, BUILT)]
    enriched = iter(
        DbtEventIterator(iter(built), invocation).fetch_row_counts().fetch_column_metadata(with_column_lineage=False)
    )
    for event in events:
        yield next(enriched) if isinstance(event, BUILT) else event


def _close_adapter(invocation) -> None:
    """Close the read-only DuckDB connection the metadata queries opened: dbt-duckdb keeps it open
    for the life of the process, and DuckDB then refuses the next step's read-write connection to
    the same file ("different configuration than existing connections")."""
    adapter = getattr(invocation, "adapter", None)
    if adapter is None:
        return
    try:
        adapter.cleanup_connections()
    except Exception:  # best effort: the environment below is what holds the file
        pass
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    with DuckDBConnectionManager._LOCK:
        env, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
        if env is not None:
            env.close()


def _run_results(invocation) -> dict:
    try:
        return invocation.get_artifact("run_results.json")
    except Exception:  # dbt stopped before writing it (e.g. a project error)
        return {}


# The generic test (dbt_project/macros/test_column_rules.sql) that checks a model's not-null, unique,
# accepted-values and key rules in one dbt node; its query returns one row per failing rule and column.
COLUMN_RULES = "column_rules"


def _column_rule_failures(invocation, settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """`column_rule_failures` of this invocation, on the cycle's warehouse."""
    from sop_pipeline.resources import Warehouse

    warehouse = Warehouse(path=str(settings.warehouse_path), dsn=settings.warehouse_dsn)
    return column_rule_failures(_run_results(invocation), getattr(invocation, "manifest", None), warehouse)


def column_rule_failures(run_results: dict, manifest: dict | None, warehouse) -> dict[str, list[dict[str, Any]]]:
    """unique_id -> the failing rules (rule, column_name, failing_rows, example) of every column_rules
    test that failed (or warned) in a dbt invocation, from its compiled query run again on the
    warehouse (a `resources.Warehouse`; dbt itself keeps only the failure count). No query when none
    failed; a query that cannot run leaves the test out (its message then gives dbt's count only)."""
    nodes = (manifest or {}).get("nodes", {})
    failed = [
        r
        for r in run_results.get("results", [])
        if r.get("status") in ("fail", "warn")
        and r.get("compiled_code")
        and (nodes.get(r.get("unique_id", ""), {}).get("test_metadata") or {}).get("name") == COLUMN_RULES
    ]
    out: dict[str, list[dict[str, Any]]] = {}
    if not failed:
        return out
    try:
        with warehouse.tables(read_only=True) as tables:
            for result in failed:
                out[result["unique_id"]] = [
                    {
                        "rule": str(row["rule"]),
                        "column_name": str(row["column_name"]),
                        "failing_rows": int(row["failing_rows"]),
                        "example": None if pd.isna(row["example"]) else str(row["example"]),
                    }
                    for row in tables.query(result["compiled_code"]).to_dict("records")
                ]
    except Exception as exc:  # the message falls back to dbt's count
        dg.get_dagster_logger().warning(f"could not list the failing columns of a {COLUMN_RULES} test: {exc}")
    return out


def expand_rule_failures(failures: list[FailedTest], offending: Mapping[str, list[dict[str, Any]]]) -> list[FailedTest]:
    """A failed column_rules test as one FailedTest per failing rule and column (kind = the rule,
    e.g. not_null; rows and an example value of that column); other tests as they are."""
    out = []
    for test in failures:
        rules = offending.get(test.unique_id or "")
        if not rules:
            out.append(test)
            continue
        for rule in rules:
            out.append(
                dataclasses.replace(
                    test,
                    kind=rule["rule"],
                    column=rule["column_name"],
                    failures=rule["failing_rows"],
                    example=rule["example"],
                )
            )
    return out


def _describe_rule(rule: Mapping[str, Any]) -> str:
    example = f" (e.g. {rule['example']})" if rule.get("example") is not None else ""
    return f"{rule['rule']} {rule['column_name']}: {rule['failing_rows']:,} rows{example}"


def _with_offending_columns(events, offending: Mapping[str, list[dict[str, Any]]]) -> Iterator:
    """The events, a failed column_rules check's result with the failing rules and columns as
    metadata (`failing_columns`, one line each: rule, column, rows, an example value)."""
    for event in events:
        if offending and isinstance(event, dg.AssetCheckResult) and "unique_id" in event.metadata:
            rules = offending.get(event.metadata["unique_id"].text)
            if rules:
                event = event.with_metadata(
                    {
                        **event.metadata,
                        "failing_columns": dg.MetadataValue.md("\n".join(f"- {_describe_rule(r)}" for r in rules)),
                    }
                )
        yield event


def _failure_message(invocation, step: str, offending: Mapping[str, list[dict[str, Any]]] | None = None) -> str:
    """Every failed test with its table, column and failing rows, else the models that errored (a
    failed column_rules test: one entry per failing rule and column)."""
    run_results = _run_results(invocation)
    manifest = getattr(invocation, "manifest", None)
    fallback = ""
    if not any(r.get("status") in ("fail", "error") for r in run_results.get("results", [])):
        errors = [
            e.raw_event["info"].get("msg", "")
            for e in invocation.stream_raw_events()
            if e.raw_event["info"].get("level") == "error"
        ]
        fallback = " ".join(m.strip() for m in errors if m.strip())[:1000]
    failures = expand_rule_failures(failed_tests(run_results, manifest), offending or {})
    return (
        build_failure_message(step, failures, run_results, manifest, fallback)
        + f" dbt log: {invocation.target_path / 'dbt.log'}"
    )


_COMMON = dict(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=SopDbtTranslator(),
    pool=WAREHOUSE_POOL,
)


@dbt_assets(select=STAGING_SELECT, name="sop_dbt_staging", **_COMMON)
def sop_dbt_staging(context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: SopSettings):
    """dbt build of staging + intermediate (models and their tests), against the cycle's warehouse."""
    yield from _build(context, dbt, settings, "dbt build of staging + intermediate")


@dbt_assets(select=MARTS_SELECT, name="sop_dbt_marts", **_COMMON)
def sop_dbt_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: SopSettings):
    """dbt build of the marts (models and their tests, relationships to staging included)."""
    yield from _build(context, dbt, settings, "dbt build of the marts")


DBT_ASSETS = [sop_dbt_staging, sop_dbt_marts]
DBT_KEYS = frozenset(k for a in DBT_ASSETS for k in a.keys)
MART_KEYS = sorted((k for k in sop_dbt_marts.keys), key=lambda k: k.path)


class SopDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource, minus start-up costs on the way to dbt:

    - its `dbt --version` subprocess (a whole dbt start-up, ~3 s of CPU, once per run) when the dbt
      it runs is this interpreter's own: the version is then that of the dbt-core package here;
    - its in-process dbt adapter (profile, project, every macro parsed: ~1.7 s of CPU, and the dbt
      imports the first time), which `cli()` builds before it starts dbt, and only to read row
      counts and column schemas once dbt has exited: on the DuckDB file `_build` reads them without
      it; on another target it has it built by `adapter_for` while dbt runs, once per run (both
      steps pass the same dbt arguments; `_close_adapter` closes only its connections, which it
      reopens on demand). A `cli()` call for arguments `adapter_for` has not seen gets no adapter.
    """

    _adapters: dict = PrivateAttr(default_factory=dict)  # dbt arguments -> adapter, for one run

    @cached_property
    def _cli_version(self) -> version.Version:
        own = (Path(sys.prefix) / "bin", Path(sys.executable).parent)
        if Path(self.dbt_executable).parent in own:  # also the warm dbt server's client (`python`)
            try:
                return version.parse(importlib.metadata.version("dbt-core"))
            except importlib.metadata.PackageNotFoundError:
                pass
        return DbtCliResource._cli_version.func(self)

    def _initialize_dbt_core_adapter(self, args):
        return self._adapters.get(tuple(args))

    def adapter_for(self, args: list[str]):
        """The in-process dbt adapter for these dbt arguments (built on the first call of the run),
        or None when dbt's configuration cannot be loaded here (as dagster-dbt: a warning, no
        metadata)."""
        key = tuple(args)
        if key not in self._adapters:
            try:
                with pushd(str(self.project_dir)):  # as `cli()` builds it
                    self._adapters[key] = DbtCliResource._initialize_dbt_core_adapter(self, args)
            except Exception as exc:
                dg.get_dagster_logger().warning(f"no dbt adapter in this process (no row counts, schemas): {exc}")
                self._adapters[key] = None
        return self._adapters[key]


def dbt_resource(target: str | None = None) -> DbtCliResource:
    """The dbt resource; `target`: the profiles.yml output (None: its default, `local` DuckDB;
    `postgres` for a PostgreSQL warehouse, Settings.dbt_target)."""
    return SopDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable(), target=target)


ASSETS = DBT_ASSETS
