"""The raw assets run as one Dagster step (`sop_pipeline.assets.ingest.raw`, a subsettable multi-asset):
one asset and one blocking row-accounting check per extract as before, a structural problem still named
by file and column, an extract that references a failed one still not loaded, and one raw asset can be
materialized alone (as from the UI)."""

from __future__ import annotations

import shutil

import pytest

from sop_pipeline.assets import ingest
from tests.fixtures.ingest import materialize_ingest

NAMES = ("items", "locations", "pos_sales")


@pytest.fixture
def extracts(demo_extracts, tmp_path):
    out = tmp_path / "extracts"
    out.mkdir()
    for name in NAMES:
        shutil.copy(demo_extracts / f"{name}.csv", out)
    return out


def _materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_one_step_names_the_broken_file_and_skips_what_references_it(extracts, tmp_path):
    lines = (extracts / "items.csv").read_text().splitlines()
    header = lines[0].split(",")
    drop = header.index("unit_price")
    (extracts / "items.csv").write_text(
        "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != drop) for line in lines) + "\n"
    )
    data = tmp_path / "data"
    result = materialize_ingest(extracts, data, [ingest.CYCLE_KEY, *[ingest.raw_key(n) for n in NAMES]])
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["raw"]  # every raw asset in one step
    description = failures[0].step_failure_data.user_failure_data.description
    assert "items.csv, column 'unit_price': required column 'unit_price' is missing" in description
    # locations references nothing and loads; pos_sales references items and does not
    assert _materialized(result) == {"meta/cycle", "raw/locations"}
    checks = {(e.asset_key.to_user_string(), e.passed, e.blocking) for e in result.get_asset_check_evaluations()}
    assert checks == {("raw/locations", True, True)}

    # one raw asset alone (the UI's "Materialize selected"): its step runs that extract only
    (extracts / "items.csv").write_text("\n".join(lines) + "\n")
    alone = materialize_ingest(extracts, data, [ingest.raw_key("items")])
    assert alone.success
    assert _materialized(alone) == {"raw/items"}
    assert [e.step_key for e in alone.all_events if e.event_type_value == "STEP_SUCCESS"] == ["raw"]
    assert [(e.asset_key.to_user_string(), e.passed) for e in alone.get_asset_check_evaluations()] == [
        ("raw/items", True)
    ]
