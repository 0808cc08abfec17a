"""The S&OP cycle as a weekly Dagster partition.

Every asset of the `sop_cycle` job is partitioned by `CYCLE_PARTITIONS`: one partition per ISO week
(Monday..Sunday, key = the Monday, e.g. `2026-11-16`), from `FIRST_WEEK` (2015-01-05, early enough
for any real plan history). A cycle's as-of date is its partition's last day (the Sunday) unless the
run cuts it mid-week: the `meta/cycle` asset's run config `as_of` (a date inside the partition's
week). `sop run` (and the extracts sensor) materialize the partition holding the as-of date (given,
or the last demand date in the extracts) with that cut; the weekly schedule materializes the week
just ended with its Sunday as the as-of; `sop backfill` replays past weeks in order.

Pure date mapping (partition key <-> as-of) plus the partitions definition; the warehouse tables keep
one copy of each cycle's history (`sop_pipeline.io_manager`, `sop/history`), keyed by the cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import dagster as dg

FIRST_WEEK = date(2015, 1, 5)  # a Monday: the first cycle partition
CYCLE_PARTITIONS = dg.WeeklyPartitionsDefinition(start_date=FIRST_WEEK.isoformat(), day_offset=1)
CYCLE_OP = "meta__cycle"  # the op of the meta/cycle asset (its run config carries the mid-week cut)

SOURCE_PARTITION_END = "partition end (Sunday)"
SOURCE_AS_OF = "SOP_AS_OF / --as-of"
SOURCE_DETECTED = "last demand date in extracts"


class CycleError(ValueError):
    """An as-of date that no cycle partition can hold (one line, for the user)."""


def week_start(day: date) -> date:
    """The Monday of the ISO week holding ``day``."""
    return day - timedelta(days=day.weekday())


def partition_key_for(as_of: date) -> str:
    """The key of the weekly partition holding ``as_of`` (its Monday)."""
    monday = week_start(as_of)
    if monday < FIRST_WEEK:
        raise CycleError(
            f"as-of {as_of} is before the first cycle partition (week of {FIRST_WEEK}); "
            f"choose an as-of on or after {FIRST_WEEK}"
        )
    return monday.isoformat()


def partition_window(key: str) -> tuple[date, date]:
    """(first day, last day) of a partition: Monday .. Sunday."""
    try:
        start = date.fromisoformat(key)
    except ValueError:
        raise CycleError(f"cycle partition key must be a Monday like 2026-11-16, got {key!r}") from None
    if start.weekday() != 0 or start < FIRST_WEEK:
        raise CycleError(f"cycle partition key must be a Monday on or after {FIRST_WEEK}, got {key}")
    return start, start + timedelta(days=6)


def partition_end(key: str) -> date:
    """A partition's as-of when it is not cut mid-week: its Sunday."""
    return partition_window(key)[1]


def partitions_between(first: date, last: date) -> list[str]:
    """The keys of every weekly partition from the one holding ``first`` to the one holding ``last``, in order."""
    if last < first:
        raise CycleError(f"--from {first} is after --to {last}")
    keys, monday = [], date.fromisoformat(partition_key_for(first))
    while monday <= last:
        keys.append(monday.isoformat())
        monday += timedelta(days=7)
    return keys


def loading_time(key: str) -> datetime:
    """A time at which the partition ``key`` exists for Dagster (the end of its week): the current
    week's partition only exists once the week is over (the schedule's rule), so a mid-week cut of
    the running week is launched at this effective time (`dg.partition_loading_context`)."""
    end = datetime.combine(partition_end(key) + timedelta(days=1), time(), tzinfo=timezone.utc)
    return max(end, datetime.now(timezone.utc))


@dataclass(frozen=True)
class CycleDate:
    as_of: date
    source: str
    partition_key: str | None


def resolve_cycle(
    partition_key: str | None,
    config_as_of: str | None,
    config_source: str | None,
    settings_as_of: date | None,
    detect,
) -> CycleDate:
    """The cycle's as-of date.

    In a partitioned run: the run config's ``as_of`` (a mid-week cut; it must lie inside the
    partition's week, else `CycleError`), else the partition's Sunday. Without a partition (an asset
    materialized on its own): the run config's as-of, else SOP_AS_OF, else ``detect()`` (the last
    demand date in the extracts), as before partitions.
    """
    cut = _parse(config_as_of) if config_as_of else None
    if partition_key is not None:
        first, last = partition_window(partition_key)
        if cut is None:
            return CycleDate(last, config_source or SOURCE_PARTITION_END, partition_key)
        if not first <= cut <= last:
            raise CycleError(
                f"as-of {cut} (run config of {CYCLE_OP}) is outside the cycle partition {partition_key} "
                f"({first} .. {last}): launch partition {partition_key_for(cut)} for it, or choose an as-of "
                f"from {first} to {last}"
            )
        return CycleDate(cut, config_source or "run config (mid-week cut)", partition_key)
    if cut is not None:
        return CycleDate(cut, config_source or "run config", None)
    if settings_as_of is not None:
        return CycleDate(settings_as_of, SOURCE_AS_OF, None)
    return CycleDate(detect(), SOURCE_DETECTED, None)


def _parse(value: str) -> date:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise CycleError(f"as-of (run config of {CYCLE_OP}) must be a date like 2026-11-22, got {value!r}") from None


def cycle_run_config(as_of: date, source: str) -> dict:
    """The run config that cuts a partition's cycle at ``as_of`` (any day of its week)."""
    return {"ops": {CYCLE_OP: {"config": {"as_of": as_of.isoformat(), "as_of_source": source}}}}


def cycle_request(as_of: date, source: str) -> tuple[str, dict]:
    """(partition key, run config) of the cycle as of ``as_of``: the partition holding it, cut there."""
    return partition_key_for(as_of), cycle_run_config(as_of, source)


def partitioned(assets_def):
    """An asset definition (or spec) of the cycle with `CYCLE_PARTITIONS` on every asset."""
    if isinstance(assets_def, dg.AssetSpec):
        return assets_def
    if isinstance(assets_def, dg.AssetsDefinition) and assets_def.is_executable:
        return assets_def.map_asset_specs(lambda spec: spec.replace_attributes(partitions_def=CYCLE_PARTITIONS))
    return assets_def
