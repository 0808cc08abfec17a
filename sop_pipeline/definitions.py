"""The one Definitions object of the sop-pipeline code location.

Each S&OP area module in `sop_pipeline.assets` exposes `ASSETS` (asset definitions and specs)
and optionally `CHECKS` (asset checks) and `SENSORS`; this file only assembles them.
"""

import importlib

import dagster as dg

from sop_pipeline.resources import SopSettings, Warehouse
from sop_pipeline.settings import Settings

AREA_MODULES = ["ingest", "dbt", "demand", "inventory", "supply", "finance", "risk", "plan", "reconcile", "report", "publish"]
_modules = []
for _name in AREA_MODULES:
    try:
        _modules.append(importlib.import_module(f"sop_pipeline.assets.{_name}"))
    except ModuleNotFoundError as exc:  # an area not built yet
        if exc.name != f"sop_pipeline.assets.{_name}":
            raise

settings = Settings.from_env()

sop_cycle = dg.define_asset_job(
    "sop_cycle", selection=dg.AssetSelection.all(), executor_def=dg.in_process_executor,
    description="The weekly S&OP cycle: ingest, data pack, AI callouts, plan of record, publish.",
)

defs = dg.Definitions(
    assets=[a for m in _modules for a in getattr(m, "ASSETS", [])],
    asset_checks=[c for m in _modules for c in getattr(m, "CHECKS", [])],
    sensors=[s for m in _modules for s in getattr(m, "SENSORS", [])],
    jobs=[sop_cycle],
    schedules=[dg.ScheduleDefinition(name="weekly_sop_cycle", job=sop_cycle, cron_schedule="0 6 * * 1",
                                     description="Monday 06:00: the weekly cycle.")],
    resources={
        "settings": SopSettings.from_settings(settings),
        "warehouse": Warehouse(path=str(settings.warehouse_path)),
        "dbt": importlib.import_module("sop_pipeline.assets.dbt").dbt_resource(),
    },
    executor=dg.in_process_executor,
)
