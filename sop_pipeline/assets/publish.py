"""Publish: the marts copied atomically to `serving/sop.duckdb` and `serving/parquet/`."""

import dagster as dg

from sop_pipeline.assets.common import OWNERS, markdown_table
from sop_pipeline.assets.dbt import MART_KEYS
from sop_pipeline.assets.exceptions import EXCEPTIONS, ISSUES  # marts written by Python after the dbt marts
from sop_pipeline.publish import publish
from sop_pipeline.resources import WAREHOUSE_POOL, SopSettings, Warehouse
from sop_pipeline.warehouse_engines import duckdb_hold


@dg.asset(
    key=["serving", "sop"],
    group_name="publish",
    kinds={"duckdb", "parquet"},
    pool=WAREHOUSE_POOL,
    owners=OWNERS["publish"],
    # + the Python marts of assets/scenario.py and assets/exceptions.py
    deps=[*MART_KEYS, dg.AssetKey(["marts", "scenario_compare"]), EXCEPTIONS, ISSUES],
    description="Read-only serving copy for BI: data/serving/sop.duckdb (one table per mart) and "
    "data/serving/parquet/<mart>.parquet, replaced atomically at the end of a successful "
    "cycle. Every dbt test (relationships included) has run in the dbt step that built "
    "its models, and a failed error-severity test stops the cycle there, so a failed "
    "run leaves the previous cycle readable. A cycle older than the one published (a backfill "
    "replaying past weeks) writes its history partitions (serving/history/<table>/cycle=...) only "
    "and leaves the newer cycle served (metadata `served` false, and a warning).",
)
def serving(context: dg.AssetExecutionContext, settings: SopSettings, warehouse: Warehouse) -> dg.MaterializeResult:
    s = settings.settings
    cycle = str(warehouse.as_of())
    with duckdb_hold.suspended(warehouse.path):  # publish attaches the file in its own DuckDB database
        report = publish(warehouse, s.serving_dir, cycle)  # DuckDB file or PostgreSQL: the serving file is DuckDB
    if report.recovered:
        context.log.warning(
            f"removed what an interrupted publish left in {s.serving_dir}: {', '.join(report.recovered)}"
        )
    if not report.served:
        context.log.warning(report.note)
    import pandas as pd

    counts = pd.DataFrame(sorted(report.row_counts.items()), columns=["table", "rows"])
    return dg.MaterializeResult(
        metadata={
            "cycle": cycle,
            "served": report.served,
            "served_cycle": cycle if report.served else (report.newest_cycle or ""),
            "note": report.note or "published: serving/ holds this cycle",
            "serving_file": dg.MetadataValue.path(str(report.serving_file)),
            "parquet_dir": dg.MetadataValue.path(str(report.parquet_dir)),
            "tables": len(report.row_counts),
            "checksum_sha256": report.checksum,
            "release_id": report.release_id,
            "row_counts": dg.MetadataValue.md(markdown_table(counts, max_rows=100)),
        }
    )


ASSETS = [serving]
