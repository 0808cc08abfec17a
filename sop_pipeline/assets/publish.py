"""Publish: the marts copied atomically to `serving/sop.duckdb` and `serving/parquet/`."""

from pathlib import Path

import os

import dagster as dg
from dagster_dbt import DbtCliResource

from sop_pipeline.assets.common import OWNERS, markdown_table
from sop_pipeline.assets.dbt import sop_dbt_models
from sop_pipeline.publish import publish
from sop_pipeline.resources import WAREHOUSE_POOL, SopSettings, Warehouse

MART_KEYS = sorted((k for k in sop_dbt_models.keys if k.path[0] == "marts"), key=lambda k: k.path)

@dg.asset(
    key=["serving", "sop"], group_name="publish", kinds={"duckdb", "parquet"}, pool=WAREHOUSE_POOL,
    owners=OWNERS["publish"], deps=MART_KEYS,
    description="Read-only serving copy for BI: data/serving/sop.duckdb (one table per mart) and "
                "data/serving/parquet/<mart>.parquet, replaced atomically at the end of a successful "
                "cycle after the cross-model (relationships) dbt tests pass; a failed run leaves the "
                "previous cycle readable.",
)
def serving(context: dg.AssetExecutionContext, settings: SopSettings, warehouse: Warehouse,
            dbt: DbtCliResource) -> dg.MaterializeResult:
    s = settings.settings
    cycle = str(warehouse.as_of())
    # Tests that join two models (relationships) cannot run inside the dbt steps Dagster splits
    # around the Python assets; run them all here, on the finished warehouse, before BI sees it.
    os.environ.update(s.to_env())
    integrity = dbt.cli(["test", "--select", "test_name:relationships", "--indirect-selection", "eager"],
                        raise_on_error=False)
    integrity.wait()
    if not integrity.is_successful():
        failed = [e.raw_event["data"]["node_info"]["node_name"] for e in integrity.stream_raw_events()
                  if e.raw_event["info"]["name"] == "LogTestResult"
                  and e.raw_event["data"].get("status") in ("fail", "error")]
        raise dg.Failure(description=f"Not published: cross-model integrity tests failed ({', '.join(failed)}); "
                                     f"the previous cycle stays in serving/. See the dbt log.")
    report = publish(Path(warehouse.path), s.serving_dir, cycle)
    import pandas as pd

    counts = pd.DataFrame(sorted(report.row_counts.items()), columns=["table", "rows"])
    return dg.MaterializeResult(metadata={
        "cycle": cycle,
        "serving_file": dg.MetadataValue.path(str(report.serving_file)),
        "parquet_dir": dg.MetadataValue.path(str(report.parquet_dir)),
        "tables": len(report.row_counts),
        "checksum_sha256": report.checksum,
        "row_counts": dg.MetadataValue.md(markdown_table(counts, max_rows=100)),
    })

ASSETS = [serving]
