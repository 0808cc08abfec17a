"""The raw assets' Great Expectations cross-check (IngestConfig.gx_cross_check_max_rows) through Dagster:
off by default (every expectation of the default suites has its SQL), on by run config, and the
same rows loaded and quarantined either way."""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import pytest

from sop_pipeline.assets import ingest
from sop_pipeline.resources import SopSettings, Warehouse
from sop_pipeline.settings import REPO_ROOT

NAMES = ("items", "locations", "pos_sales")


@pytest.fixture(scope="module")
def extracts(demo_extracts, tmp_path_factory):
    out = tmp_path_factory.mktemp("gx_cross_check") / "extracts"
    out.mkdir()
    for name in NAMES:
        shutil.copy(demo_extracts / f"{name}.csv", out)
    return out


def _ingest(extracts, data, cross_check: int | None):
    resources = {
        "settings": SopSettings(
            extracts_dir=str(extracts), data_dir=str(data), expectations_dir=str(REPO_ROOT / "expectations")
        ),
        "warehouse": Warehouse(path=str(data / "warehouse.duckdb")),
    }
    config = {"ops": {"raw": {"config": {"gx_cross_check_max_rows": cross_check}}}}  # every raw asset's (one step)
    result = dg.materialize(
        [*ingest.extract_specs, ingest.cycle, *ingest.raw_assets],
        selection=[ingest.CYCLE_KEY, *[ingest.raw_key(n) for n in NAMES]],
        resources=resources,
        run_config=config if cross_check is not None else None,
    )
    assert result.success
    gx = {
        e.asset_key.path[-1]: e.materialization.metadata["gx_expectations"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[0] == "raw"
    }
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        tables = {
            (schema, n): con.execute(f"select * exclude (_source_row) from {schema}.{n} order by all").fetchall()
            for n in NAMES
            for schema in ("raw", "quarantine")
        }
        issues = con.execute("select * from quarantine.issues order by all").fetchall()
    return gx, tables, issues


def test_cross_check_is_off_by_default_and_changes_no_row(extracts, tmp_path):
    gx_off, tables_off, issues_off = _ingest(extracts, tmp_path / "off", None)
    gx_on, tables_on, issues_on = _ingest(extracts, tmp_path / "on", 10**6)
    assert gx_off == {n: 0 for n in NAMES}  # no expectation went to GX: a cycle does not import it
    assert all(gx_on[n] > 0 for n in NAMES), gx_on  # run config: GX validated every SQL rule again
    assert tables_off == tables_on and issues_off == issues_on
    assert sum(len(rows) for (schema, _), rows in tables_on.items() if schema == "raw") > 0
