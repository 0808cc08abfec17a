"""Alternate resources on the demo (issue 17, item 2), on the session's small cycle.

The demo's tooling set T1 is the plant's bottleneck; setup family A's SKUs may also run on the
older spare set T2 (routings priority 2, alternate_for T1, 60% of the T1 rate, 16 h a week).
Where T1 is full, the plan makes their units on T2 before moving or cutting them: the offloads
are in plan_offloads, the decision log (kind offload) and the pack's supply section; every
resource stays within its hours (T2's own hours included); the sequence of the bottleneck T1
makes what the plan left on T1, and T2, which took work off a sequenced resource, is sequenced too
and makes what was moved to it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.integration.test_meeting_pack_panels import parse_panels

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def offloads(serving) -> pd.DataFrame:
    out = serving.execute("select * from plan_offloads").df()
    return out.assign(week_start=pd.to_datetime(out.week_start))


@pytest.fixture(scope="module")
def routings(small_cycle) -> pd.DataFrame:
    return pd.read_csv(small_cycle.extracts / "routings.csv")


def test_the_spare_tooling_set_takes_work_off_the_full_bottleneck(offloads, routings):
    assert len(offloads), "no offload on the demo: T2 is never used"
    alts = routings[routings.priority > 1]
    assert set(zip(offloads.sku, offloads.from_resource_id, offloads.to_resource_id)) <= set(
        zip(alts.sku, alts.alternate_for, alts.resource_id)
    )
    rate = routings.set_index(["sku", "resource_id"]).units_per_hour
    cost = routings.set_index(["sku", "resource_id"]).cost_per_hour
    for r in offloads.itertuples():
        assert r.units > 0
        assert r.from_hours == pytest.approx(r.units / rate[(r.sku, r.from_resource_id)])
        assert r.to_hours == pytest.approx(r.units / rate[(r.sku, r.to_resource_id)])
        per_unit = cost[(r.sku, r.to_resource_id)] / rate[(r.sku, r.to_resource_id)] - (
            cost[(r.sku, r.from_resource_id)] / rate[(r.sku, r.from_resource_id)]
        )
        assert r.extra_cost == pytest.approx(r.units * per_unit)


def test_every_resource_stays_within_its_hours_with_the_offloads(small_cycle, serving, offloads, routings):
    plan = serving.execute(
        "select sku, week_start, make_units, supply_source, notes from plan_of_record where make_units > 0"
    ).df()
    plan["week_start"] = pd.to_datetime(plan.week_start)
    with duckdb.connect(str(small_cycle.warehouse), read_only=True) as wh:
        cap = wh.execute(
            "select resource_id, week_start, available_hours, changeover_hours from analytics.capacity"
        ).df()
    cap["week_start"] = pd.to_datetime(cap.week_start)
    primary = routings[routings.priority == 1][["sku", "resource_id", "units_per_hour"]]
    use = plan.merge(primary, on="sku").assign(hours=lambda d: d.make_units / d.units_per_hour)
    moved = pd.concat(
        [
            offloads[["from_resource_id", "week_start"]]
            .rename(columns={"from_resource_id": "resource_id"})
            .assign(hours=-offloads.from_hours),
            offloads[["to_resource_id", "week_start"]]
            .rename(columns={"to_resource_id": "resource_id"})
            .assign(hours=offloads.to_hours),
        ]
    )
    load = (
        pd.concat([use[["resource_id", "week_start", "hours"]], moved])
        .groupby(["resource_id", "week_start"])
        .hours.sum()
    )
    load = cap.merge(load.reset_index(), on=["resource_id", "week_start"], how="left").fillna({"hours": 0.0})
    frozen = set(plan.week_start[plan.supply_source == "frozen"])
    free = load[~load.week_start.isin(frozen)]
    limit = (free.available_hours - free.changeover_hours).clip(lower=0)  # the hours the plan may use
    over = free[free.hours > limit + 1e-6]
    assert over.empty, over
    # the alternate took only what its primary could not: the primary was full in those weeks
    t = load.set_index(["resource_id", "week_start"])
    for (src, week), _ in offloads.groupby(["from_resource_id", "week_start"]):
        row = t.loc[(src, week)]
        assert row.hours == pytest.approx(row.available_hours - row.changeover_hours, abs=1e-3)
    # and said so on the plan row
    notes = plan.set_index(["sku", "week_start"]).notes
    for r in offloads.itertuples():
        assert f"from {r.from_resource_id} to {r.to_resource_id}" in notes[(r.sku, r.week_start)]


def test_each_offload_is_in_the_decision_log(serving, offloads):
    log = serving.execute("select * from decision_log where kind = 'offload'").df()
    assert len(log) == len(offloads)
    assert (log.status == "applied").all() and (log.responsible == "Master scheduler").all()
    expected = {
        f"{r.sku} {r.week_start.date().isoformat()}: {r.from_resource_id}->{r.to_resource_id}"
        for r in offloads.itertuples()
    }
    assert set(log.subject) == expected
    logged_cost = log.effect.str.removeprefix("extra cost ").str.replace(",", "").astype(float).sum()
    assert logged_cost == pytest.approx(offloads.extra_cost.sum(), abs=len(log))


def test_the_bottleneck_sequence_makes_what_the_plan_left_on_it(serving, offloads):
    seq = serving.execute(
        "select resource_id, sku, week_start, sum(qty) as qty from production_sequence group by all"
    ).df()
    seq["week_start"] = pd.to_datetime(seq.week_start)
    plan = serving.execute("select sku, week_start, make_units from plan_of_record").df()
    plan["week_start"] = pd.to_datetime(plan.week_start)
    on = offloads.merge(plan, on=["sku", "week_start"])
    sequenced = seq.set_index(["resource_id", "sku", "week_start"]).qty
    on_sequence = set(seq.resource_id)  # the critical resources and the alternates they offloaded to
    # MPS = sequence: work moved off a sequenced resource is sequenced on the resource that took it
    assert set(offloads.to_resource_id[offloads.from_resource_id.isin(on_sequence)]) <= on_sequence
    checked = 0
    for r in on.itertuples():
        if r.from_resource_id in on_sequence:  # what stayed on the primary (0: no job there)
            assert sequenced.get((r.from_resource_id, r.sku, r.week_start), 0.0) == pytest.approx(
                r.make_units - r.units
            )
            checked += 1
        if r.to_resource_id in on_sequence:
            assert sequenced.get((r.to_resource_id, r.sku, r.week_start), 0.0) == pytest.approx(r.units)
    assert checked, "the primary resource of the offloads is not sequenced"


def test_the_pack_supply_section_shows_the_offloads(small_cycle, offloads):
    packs = sorted((small_cycle.data / "reports").glob("sop_pack_*.html"))
    panel = parse_panels(Path(packs[-1]).read_text(encoding="utf-8"))["supply-offloads"]
    assert not panel.no_data and panel.tables
    assert set(panel.tables[0].column("SKU")) <= set(offloads.sku)
    assert set(panel.tables[0].column("To")) == set(offloads.to_resource_id)
