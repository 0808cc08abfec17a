"""The extracts sensor of the real code location, ticked with `build_sensor_context` on real
demo extract files in a temporary folder."""

from __future__ import annotations

import os
import shutil
import time
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from sop_pipeline.cli import ensure_dbt_manifest
from sop_pipeline.ingest.arrival import SETTLE_SECONDS, content_hash
from sop_pipeline.resources import SopSettings
from sop_pipeline.settings import REPO_ROOT


@pytest.fixture(scope="module")
def defs():
    ensure_dbt_manifest()
    from sop_pipeline.definitions import defs

    return defs


class Ticker:
    """Ticks the sensor of the real Definitions on `folder`, carrying the cursor like the daemon."""

    def __init__(self, defs, folder: Path, tmp: Path):
        self.sensor = defs.resolve_sensor_def("extracts_sensor")
        self.defs, self.cursor = defs, None
        self.resources = {
            "settings": SopSettings(
                extracts_dir=str(folder), data_dir=str(tmp / "data"), expectations_dir=str(REPO_ROOT / "expectations")
            )
        }

    def tick(self):
        ctx = dg.build_sensor_context(
            cursor=self.cursor, definitions=self.defs, resources=self.resources, sensor_name="extracts_sensor"
        )
        data = self.sensor.evaluate_tick(ctx)
        self.cursor = data.cursor
        return data


def _age(folder: Path, seconds: float = 2 * SETTLE_SECONDS) -> None:
    then = time.time() - seconds
    for p in folder.iterdir():
        os.utime(p, (then, then))


def test_sensor_is_stopped_by_default_and_targets_the_cycle(defs):
    sensor = defs.resolve_sensor_def("extracts_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert sensor.job_name == "sop_cycle"
    assert sensor.description.startswith("Stopped by default")


def test_sensor_skips_with_reasons_then_launches_a_complete_set_once(defs, demo_extracts, tmp_path):
    folder = tmp_path / "extracts"
    ticker = Ticker(defs, folder, tmp_path)

    data = ticker.tick()
    assert not data.run_requests and "does not exist" in data.skip_message and str(folder) in data.skip_message

    folder.mkdir()
    shutil.copy(demo_extracts / "pos_sales.csv", folder)
    data = ticker.tick()
    assert not data.run_requests
    assert "waiting for required extracts" in data.skip_message and "items (items.csv" in data.skip_message

    for p in demo_extracts.iterdir():  # the rest lands now: modified seconds ago
        if p.is_file():
            shutil.copy(p, folder)
    data = ticker.tick()
    assert not data.run_requests and "still being written" in data.skip_message

    _age(folder)  # nothing changed for longer than the settle time
    data = ticker.tick()
    assert not data.run_requests and "differ from the previous check" in data.skip_message
    started = time.perf_counter()
    data = ticker.tick()
    tick_seconds = time.perf_counter() - started
    names = sorted(p.name for p in folder.iterdir())
    expected = content_hash(folder, names)
    assert [r.run_key for r in data.run_requests] == [expected]
    request = data.run_requests[0]
    assert request.tags["sop/extracts_hash"] == expected and request.tags["sop/extracts_dir"] == str(folder)
    # the cycle partition holding the last demand date (Sunday 2026-11-22), cut there
    assert request.partition_key == "2026-11-16" and request.tags["sop/as_of"] == "2026-11-22"
    assert request.run_config["ops"]["meta__cycle"]["config"]["as_of"] == "2026-11-22"
    print(f"\nsensor tick that hashes and launches the small set ({len(names)} files): {tick_seconds:.2f}s")

    data = ticker.tick()
    assert not data.run_requests and data.skip_message.startswith("already processed")

    lines = (folder / "risk_events.csv").read_text().splitlines()  # a corrected extract: new content, new run
    (folder / "risk_events.csv").write_text("\n".join(lines[:-1]) + "\n")
    _age(folder)
    assert not ticker.tick().run_requests  # changed since the last tick: wait one more
    data = ticker.tick()
    assert [r.run_key for r in data.run_requests] == [content_hash(folder, names)] != [expected]


def test_sensor_waits_for_the_week_of_the_last_demand_date_to_end(defs, demo_extracts, tmp_path):
    folder = tmp_path / "extracts"
    folder.mkdir()
    shutil.copy(demo_extracts / "items.csv", folder)
    lines = (demo_extracts / "pos_sales.csv").read_text().splitlines()
    today = date.today().isoformat()  # the running week's partition exists only once the week is over
    (folder / "pos_sales.csv").write_text("\n".join([lines[0], today + lines[1][10:]]) + "\n")
    _age(folder)
    ticker = Ticker(defs, folder, tmp_path)
    ticker.tick()  # first sight of the folder
    data = ticker.tick()
    assert not data.run_requests and f"the extracts run to {today}, in the week" in data.skip_message
    assert "has not ended yet" in data.skip_message and f"sop run --as-of {today}" in data.skip_message
    assert not ticker.tick().skip_message.startswith("already processed")  # not taken as launched
