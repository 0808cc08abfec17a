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
"""

import importlib

import dagster as dg

from sop_pipeline.partitions import partitioned
from sop_pipeline.resources import ScenarioConfig, SopSettings, Warehouse
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
    }


def build_defs(settings: Settings) -> dg.Definitions:
    sop_cycle = dg.define_asset_job(
        "sop_cycle",
        selection=dg.AssetSelection.all(),
        executor_def=dg.in_process_executor,
        description="The weekly S&OP cycle: ingest, data pack, AI callouts, plan of record, publish. One run per "
        "cycle partition (the ISO week, Monday..Sunday; as-of = its Sunday, or the run config's mid-week cut).",
    )
    return dg.Definitions(
        assets=[partitioned(a) for m in _modules for a in getattr(m, "ASSETS", [])],
        asset_checks=[c for m in _modules for c in getattr(m, "CHECKS", [])],
        sensors=[s for m in _modules for s in getattr(m, "SENSORS", [])],
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
        executor=dg.in_process_executor,
    )


settings = Settings.from_env()
defs = build_defs(settings)
