"""The Definitions of the sop-pipeline code location, built from one `Settings` object.

Each S&OP area module in `sop_pipeline.assets` exposes `ASSETS` (asset definitions and specs)
and optionally `CHECKS` (asset checks) and `SENSORS`; `build_defs(settings)` assembles them and
gives the job its resources from the settings: `sop run` calls it with the settings of its
command line, and the module-level `defs` (what `dagster dev` / workspace.yaml load) is
`build_defs(Settings.from_env())`, the SOP_* environment variables read once, validated, with
their defaults. Nothing here (or anywhere in the package) writes the environment: dbt gets the
warehouse path from the `settings` resource as a dbt var.

The cycle is a weekly partition (`sop_pipeline.partitions`): `build_defs` gives every executable
asset `CYCLE_PARTITIONS` here, in one place, so no asset of the job can be left out (a multi-asset's
outputs cannot carry a partitions definition of their own, and the dbt assets would otherwise get
dagster-dbt's single-run backfill policy, which would build many cycles in one dbt run). The area
modules' own definitions stay unpartitioned, so a test can materialize one asset without a partition.
The schedule is built from the partitioned job: Monday 06:00, the week just ended.

Executor: on the embedded DuckDB warehouse the job runs in-process (one writer: every step, the
fan-out parts of `sop_pipeline.assets.fanout` included, one after another). On a PostgreSQL warehouse
(SOP_WAREHOUSE=postgresql://...) the job's executor is `multi_or_in_process_executor`: runs launched
from the UI, the schedule or the sensor run each step in its own process (the fan-out parts of a
heavy asset in parallel, up to `max_concurrent`), and `sop run --processes N` does the same from the
command line (`cycle_job`, the reconstructable job the executor's child processes load).
"""

import importlib

import dagster as dg

from sop_pipeline.assets import fanout
from sop_pipeline.partitions import partitioned
from sop_pipeline.resources import Economics, ScenarioConfig, SopSettings, Warehouse
from sop_pipeline.settings import Settings

AREA_MODULES = [
    "ingest",
    "dbt",
    "demand",
    "demand_review",
    "inventory",
    "supply",
    "finance",
    "risk",
    "plan",
    "reconcile",
    "exceptions",
    "report",
    "publish",
    "scenario",
]
_modules = []
for _name in AREA_MODULES:
    try:
        _modules.append(importlib.import_module(f"sop_pipeline.assets.{_name}"))
    except ModuleNotFoundError as exc:  # an area not built yet
        if exc.name != f"sop_pipeline.assets.{_name}":
            raise


def resources_for(settings: Settings) -> dict:
    """The job's resources, all from `settings`."""
    from sop_pipeline.assets.fanout import FANOUT_IO, fanout_io_manager
    from sop_pipeline.io_manager import WarehouseIOManager

    # SOP_WAREHOUSE picks the engine: the DuckDB file, or a PostgreSQL database (dbt's `postgres` target)
    warehouse = Warehouse(path=str(settings.warehouse_path), dsn=settings.warehouse_dsn)
    target = settings.dbt_target if settings.dbt_target != "local" else None
    dbt = importlib.import_module("sop_pipeline.assets.dbt").dbt_resource(target)
    return {
        "settings": SopSettings.from_settings(settings),
        "warehouse": warehouse,
        "warehouse_io_manager": WarehouseIOManager(warehouse=warehouse),  # assets.common.WAREHOUSE_IO
        "dbt": dbt,
        "scenario": ScenarioConfig(),  # a what-if run sets it in run config (`sop scenario run`)
        "economics": Economics(),  # one holding rate and goodwill factor for inventory and the plan
        FANOUT_IO: fanout_io_manager(settings.warehouse_dsn),  # values between the fan-out's steps
    }


def executor_for(settings: Settings):
    """In-process on DuckDB (one writer); multiprocess by default on PostgreSQL, in-process on request
    (run config `execution: {config: {in_process: {}}}`)."""
    return dg.multi_or_in_process_executor if settings.warehouse_dsn else dg.in_process_executor


# imported once by the multiprocess executor's fork server, so a step's process starts with them loaded
# instead of importing them itself (GX alone takes seconds per ingest step); a missing one is skipped
FORKSERVER_PRELOAD = [
    "sop_pipeline.definitions",
    "great_expectations",
    "sop_pipeline.ingest.loader",
    "lightgbm",
    "scipy.stats",
    "ortools.sat.python.cp_model",
    "psycopg",
    "sop_pipeline.commands.forkserver",  # last: builds the run's job once (commands/forkserver.py)
]


def multiprocess_run_config(processes: int) -> dict:
    """The run config of a cycle run on `processes` processes: the multiprocess executor, its children
    forked from a server that imported the code location and the heavy libraries once (forkserver,
    `FORKSERVER_PRELOAD`) instead of a fresh interpreter importing Dagster, GX, dbt and pandas per step."""
    start = {"forkserver": {"preload_modules": FORKSERVER_PRELOAD}}
    return {"execution": {"config": {"multiprocess": {"max_concurrent": processes, "start_method": start}}}}


def cycle_job(env: dict[str, str]) -> dg.JobDefinition:
    """The `sop_cycle` job of the settings ``env`` (Settings.to_env() of the launching `sop run`): the
    reconstructable job that the multiprocess executor's child processes load (dg.build_reconstructable_job
    with this function and ``env``), so every step runs with the launching command's settings. Kept per
    distinct ``env`` (the last few): a step forked from the warmed fork server (commands/forkserver.py)
    finds its job built instead of building the code location again."""
    key = tuple(sorted(env.items()))
    if key not in _CYCLE_JOBS:
        while len(_CYCLE_JOBS) >= 4:
            _CYCLE_JOBS.pop(next(iter(_CYCLE_JOBS)))
        _CYCLE_JOBS[key] = build_defs(Settings.from_env(dict(env))).resolve_job_def("sop_cycle")
    return _CYCLE_JOBS[key]


_CYCLE_JOBS: dict[tuple, dg.JobDefinition] = {}


def build_defs(settings: Settings, executor: dg.ExecutorDefinition | None = None) -> dg.Definitions:
    """The code location for ``settings``; ``executor`` replaces the job's executor (a cluster
    deployment's code location passes dagster-k8s's or dagster-celery's: deploy/README.md)."""
    executor = executor or executor_for(settings)
    sop_cycle = dg.define_asset_job(
        "sop_cycle",
        selection=dg.AssetSelection.all(),
        executor_def=executor,
        description="The weekly S&OP cycle: ingest, data pack, AI callouts, plan of record, publish. One run per "
        "cycle partition (the ISO week, Monday..Sunday; as-of = its Sunday, or the run config's mid-week cut).",
    )
    return dg.Definitions(
        assets=[partitioned(a) for m in _modules for a in getattr(m, "ASSETS", [])],
        asset_checks=[c for m in _modules for c in getattr(m, "CHECKS", [])],
        sensors=[s for m in (*_modules, fanout) for s in getattr(m, "SENSORS", [])],
        jobs=[sop_cycle],
        schedules=[
            dg.build_schedule_from_partitioned_job(
                sop_cycle,
                name="weekly_sop_cycle",
                minute_of_hour=0,
                hour_of_day=6,
                day_of_week=1,
                description="Monday 06:00: the cycle of the week just ended (its partition, as of its Sunday).",
            )
        ],
        resources=resources_for(settings),
        executor=executor,
    )


settings = Settings.from_env()
defs = build_defs(settings)
