"""The cycle as a weekly partition: partition key <-> as-of, the mid-week cut (run config of meta/cycle)
and its one-line error outside the week, the backfill's cycles, and the partitioned definitions
(every asset, the schedule's week, the job's partition) of the real code location."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import dagster as dg
import duckdb
import pytest

from sop_pipeline.commands.backfill import plan_cycles
from sop_pipeline.partitions import (
    CYCLE_OP,
    CYCLE_PARTITIONS,
    FIRST_WEEK,
    CycleError,
    cycle_request,
    partition_end,
    partition_key_for,
    partition_window,
    partitioned,
    partitions_between,
    resolve_cycle,
)


def _never():
    raise AssertionError("a partitioned run never scans the extracts for its as-of")


@pytest.mark.parametrize(
    "as_of, key",
    [
        (date(2026, 11, 22), "2026-11-16"),  # the demo's as-of, a Sunday: the last day of its week
        (date(2026, 11, 16), "2026-11-16"),  # a Monday: the first day
        (date(2026, 3, 31), "2026-03-30"),  # tests/fixtures/kpi_case.py's Tuesday
        (date(2027, 1, 3), "2026-12-28"),  # a week across the new year (ISO week 53)
    ],
)
def test_partition_key_is_the_monday_of_the_as_of_week_and_agrees_with_dagster(as_of, key):
    assert partition_key_for(as_of) == key
    first, last = partition_window(key)
    assert first <= as_of <= last and (last - first).days == 6 and last.weekday() == 6
    window = CYCLE_PARTITIONS.time_window_for_partition_key(key)
    assert (window.start.date(), window.end.date()) == (first, partition_end(key) + timedelta(days=1))


def test_dates_before_the_first_partition_and_keys_that_are_not_mondays_are_refused():
    assert CYCLE_PARTITIONS.get_first_partition_window().start.date() == FIRST_WEEK
    with pytest.raises(CycleError, match="before the first cycle partition"):
        partition_key_for(date(2014, 12, 31))
    with pytest.raises(CycleError, match="must be a Monday"):
        partition_window("2026-11-18")


def test_a_partition_without_a_cut_is_as_of_its_sunday_and_a_cut_inside_the_week_is_kept():
    plain = resolve_cycle("2026-11-16", None, None, None, _never)
    assert (plain.as_of, plain.partition_key) == (date(2026, 11, 22), "2026-11-16")
    cut = resolve_cycle("2026-03-30", "2026-03-31", "SOP_AS_OF / --as-of", None, _never)
    assert (cut.as_of, cut.source) == (date(2026, 3, 31), "SOP_AS_OF / --as-of")
    # without a partition (an asset materialized on its own): SOP_AS_OF, else the extracts' last demand date
    assert resolve_cycle(None, None, None, date(2026, 1, 7), _never).as_of == date(2026, 1, 7)
    assert resolve_cycle(None, None, None, None, lambda: date(2026, 2, 1)).as_of == date(2026, 2, 1)


def test_a_cut_outside_the_partition_is_one_line_naming_the_partition_that_holds_it():
    with pytest.raises(CycleError) as err:
        resolve_cycle("2026-11-16", "2026-11-24", None, None, _never)
    message = str(err.value)
    assert "\n" not in message
    assert "as-of 2026-11-24" in message and "outside the cycle partition 2026-11-16" in message
    assert "2026-11-16 .. 2026-11-22" in message and "launch partition 2026-11-23" in message
    with pytest.raises(CycleError, match="must be a date like"):
        resolve_cycle("2026-11-16", "next tuesday", None, None, _never)


def test_cycle_request_cuts_the_partition_through_the_cycle_op_config():
    from sop_pipeline.assets.ingest import cycle

    key, config = cycle_request(date(2026, 3, 31), "SOP_AS_OF / --as-of")
    assert cycle.op.name == CYCLE_OP
    assert key == "2026-03-30"
    assert config == {"ops": {CYCLE_OP: {"config": {"as_of": "2026-03-31", "as_of_source": "SOP_AS_OF / --as-of"}}}}


def _cycle_run(tmp_path, key: str, config: dict | None):
    """The real meta/cycle asset, partitioned as in the job, materialized into a real warehouse."""
    from sop_pipeline.assets.ingest import cycle, extract_specs
    from sop_pipeline.resources import SopSettings, Warehouse

    resources = {
        "settings": SopSettings(
            extracts_dir=str(tmp_path / "no-extracts"), data_dir=str(tmp_path), expectations_dir=str(tmp_path)
        ),
        "warehouse": Warehouse(path=str(tmp_path / "warehouse.duckdb")),
    }
    return dg.materialize(
        [partitioned(cycle), *extract_specs],
        partition_key=key,
        run_config=config or {},
        resources=resources,
        raise_on_error=False,
    )


def test_the_cycle_asset_writes_the_partition_and_its_mid_week_cut_to_meta_cycle(tmp_path):
    key, config = cycle_request(date(2026, 3, 31), "SOP_AS_OF / --as-of")
    result = _cycle_run(tmp_path, key, config)
    assert result.success
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        row = con.execute("select as_of, week1_start, partition_key, as_of_source from meta.cycle").fetchall()
    assert row == [(date(2026, 3, 31), date(2026, 4, 6), "2026-03-30", "SOP_AS_OF / --as-of")]
    meta = result.asset_materializations_for_node(CYCLE_OP)[0].metadata
    assert meta["partition"].value == "2026-03-30" and meta["as_of"].value == "2026-03-31"


def test_the_cycle_asset_refuses_an_as_of_outside_its_partition_with_one_line(tmp_path):
    result = _cycle_run(tmp_path, "2026-11-16", {"ops": {CYCLE_OP: {"config": {"as_of": "2026-12-01"}}}})
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    description = failure.step_failure_data.user_failure_data.description
    assert "\n" not in description and "outside the cycle partition 2026-11-16" in description
    assert not (tmp_path / "warehouse.duckdb").exists()  # refused before anything is written


def test_partitions_between_and_the_backfill_cycles():
    assert partitions_between(date(2026, 11, 4), date(2026, 11, 22)) == ["2026-11-02", "2026-11-09", "2026-11-16"]
    with pytest.raises(CycleError, match="after --to"):
        partitions_between(date(2026, 11, 22), date(2026, 11, 1))
    # each cycle as of its Sunday; the last one cut at --to (a Wednesday) ...
    assert [a for a, _ in plan_cycles(date(2026, 11, 3), date(2026, 11, 18), date(2026, 11, 22))] == [
        date(2026, 11, 8),
        date(2026, 11, 15),
        date(2026, 11, 18),
    ]
    # ... and never past the last demand date in the extracts
    cycles = plan_cycles(date(2026, 11, 10), date(2026, 12, 31), date(2026, 11, 22))
    assert [a for a, _ in cycles] == [date(2026, 11, 15), date(2026, 11, 22)]
    with pytest.raises(CycleError, match="nothing to replay"):
        plan_cycles(date(2026, 12, 1), date(2026, 12, 31), date(2026, 11, 22))


@pytest.fixture(scope="module")
def defs():
    from sop_pipeline.cli import ensure_dbt_manifest

    ensure_dbt_manifest()
    from sop_pipeline.definitions import defs

    return defs


def test_every_asset_of_the_job_is_a_cycle_partition(defs):
    graph = defs.resolve_asset_graph()
    unpartitioned = sorted(
        k.to_user_string() for k in graph.materializable_asset_keys if graph.get(k).partitions_def != CYCLE_PARTITIONS
    )
    assert not unpartitioned, f"assets outside the cycle partitions: {unpartitioned}"
    assert defs.resolve_job_def("sop_cycle").partitions_def == CYCLE_PARTITIONS


def test_the_monday_schedule_runs_the_week_just_ended(defs):
    schedule = defs.resolve_schedule_def("weekly_sop_cycle")
    assert schedule.cron_schedule == "0 6 * * 1" and schedule.execution_timezone == "UTC"
    tick = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)
    with dg.build_schedule_context(scheduled_execution_time=tick) as context:
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-11-16"]  # as of Sunday 2026-11-22


def test_dagster_yaml_runs_one_cycle_at_a_time(tmp_path):
    """A backfill from the UI queues one run per week; the instance launches them one at a time."""
    import shutil

    from sop_pipeline.settings import REPO_ROOT

    shutil.copy(REPO_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        config = instance.get_concurrency_config()
    assert config.run_queue_config.max_concurrent_runs == 1
    assert config.pool_config.default_pool_limit == 1


def test_backfill_usage_errors_are_one_line(demo_extracts, tmp_path):
    from tests.conftest import sop

    args = ["--extracts", str(demo_extracts), "--data-dir", str(tmp_path / "data")]
    for first, last, said in (
        ("2026-11-22", "2026-11-01", "after --to 2026-11-01"),
        ("last week", "2026-11-01", "--from / --to must be a date like"),
        ("2027-01-04", "2027-02-01", "nothing to replay"),
    ):
        proc = sop("backfill", "--from", first, "--to", last, *args, timeout=120)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and said in lines[0], proc.stderr
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()
