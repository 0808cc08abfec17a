"""Publish: the marts copied atomically to `serving/sop.duckdb` and `serving/parquet/`."""

from pathlib import Path

import os

import dagster as dg
from dagster_dbt import DbtCliResource

from sop_pipeline.assets.common import OWNERS, markdown_table
from sop_pipeline.assets.dbt import sop_dbt_models
from sop_pipeline.publish import failed_tests, integrity_failure_message, publish
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
        raise dg.Failure(description=_integrity_message(integrity))
    report = publish(Path(warehouse.path), s.serving_dir, cycle)
    if report.recovered:
        context.log.warning(f"removed what an interrupted publish left in {s.serving_dir}: "
                            f"{', '.join(report.recovered)}")
    import pandas as pd

    counts = pd.DataFrame(sorted(report.row_counts.items()), columns=["table", "rows"])
    return dg.MaterializeResult(metadata={
        "cycle": cycle,
        "serving_file": dg.MetadataValue.path(str(report.serving_file)),
        "parquet_dir": dg.MetadataValue.path(str(report.parquet_dir)),
        "tables": len(report.row_counts),
        "checksum_sha256": report.checksum,
        "release_id": report.release_id,
        "row_counts": dg.MetadataValue.md(markdown_table(counts, max_rows=100)),
    })

def _integrity_message(integrity) -> str:
    """Name every failed test, its table, column and failing row count (dbt's run_results.json)."""
    try:
        run_results = integrity.get_artifact("run_results.json")
    except Exception:  # dbt stopped before writing it (e.g. a project error)
        run_results = {}
    try:
        manifest = integrity.get_artifact("manifest.json")
    except Exception:
        manifest = getattr(integrity, "manifest", None)
    fallback = ""
    if not run_results.get("results"):
        errors = [e.raw_event["info"].get("msg", "") for e in integrity.stream_raw_events()
                  if e.raw_event["info"].get("level") == "error"]
        fallback = " ".join(m.strip() for m in errors if m.strip())[:1000]
    return integrity_failure_message(failed_tests(run_results, manifest), fallback) + " See the dbt log."


ASSETS = [serving]
