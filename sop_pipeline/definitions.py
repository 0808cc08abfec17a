"""The one Definitions object of the sop-pipeline code location."""

import dagster as dg

from sop_pipeline.assets import dbt, ingest, publish
from sop_pipeline.resources import SopSettings, Warehouse
from sop_pipeline.settings import Settings

settings = Settings.from_env()

sop_cycle = dg.define_asset_job(
    "sop_cycle", selection=dg.AssetSelection.all(), executor_def=dg.in_process_executor,
    description="The weekly S&OP cycle: ingest, data pack, AI callouts, plan of record, publish.",
)

defs = dg.Definitions(
    assets=[*ingest.extract_specs, ingest.cycle, *ingest.raw_assets, ingest.ingest_summary,
            dbt.sop_dbt_models, publish.serving],
    jobs=[sop_cycle],
    schedules=[dg.ScheduleDefinition(name="weekly_sop_cycle", job=sop_cycle, cron_schedule="0 6 * * 1",
                                     description="Monday 06:00: the weekly cycle.")],
    resources={
        "settings": SopSettings.from_settings(settings),
        "warehouse": Warehouse(path=str(settings.warehouse_path)),
        "dbt": dbt.dbt_resource(),
    },
    executor=dg.in_process_executor,
)
