"""The plan_history extract seeds history.plan_of_record (sop_pipeline.assets.plan), on a real DuckDB.

Cycles earlier than the as-of that history does not hold are copied in; the current cycle, later
cycles and cycles the pipeline already wrote are left alone; the pipeline's own plan appends to
the same table afterwards; an absent extract adds nothing.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from sop_pipeline.assets.common import append_history
from sop_pipeline.assets.plan import _previous_plan, seed_history_from_extract

AS_OF = date(2026, 11, 22)


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("create schema staging")
    c.execute(
        "create table staging.stg_erp__items as select * from (values ('A', 'Snacks'), ('B', 'Dairy')) t(sku, family)"
    )
    c.execute("""create table staging.stg_sop__plan_history as select cycle_id::date as cycle_id, sku,
                 week_start::date as week_start, family, demand_units, supply_units, revenue,
                 date_trunc('week', week_start::date)::date as iso_week_start from (values
        ('2026-11-08', 'A', '2026-11-09', null, 10.0, 8.0, 50.0),
        ('2026-11-15', 'A', '2026-11-16', null, 12.0, 9.0, 60.0),
        ('2026-11-15', 'A', '2026-11-25', 'Snacks', 14.0, 11.0, 70.0),
        ('2026-11-15', 'B', '2026-11-23', 'Dairy (export)', 5.0, 5.0, 20.0),
        ('2026-11-22', 'A', '2026-11-23', null, 99.0, 99.0, 99.0))
        t(cycle_id, sku, week_start, family, demand_units, supply_units, revenue)""")
    yield c
    c.close()


def _history(con) -> pd.DataFrame:
    return con.execute(
        "select cycle_id, sku, family, week_start, horizon_week, demand_units, supply_units, "
        "revenue, supply_source from history.plan_of_record order by cycle_id, sku, week_start"
    ).df()


def test_earlier_cycles_are_seeded_with_iso_weeks_and_item_families(con):
    added = seed_history_from_extract(con, AS_OF, absent=set())
    assert added == [date(2026, 11, 8), date(2026, 11, 15)]
    h = _history(con)
    assert sorted(set(pd.to_datetime(h.cycle_id))) == [pd.Timestamp("2026-11-08"), pd.Timestamp("2026-11-15")]
    last = h[pd.to_datetime(h.cycle_id) == pd.Timestamp("2026-11-15")]
    assert list(last.sku) == ["A", "A", "B"]
    # a Wednesday week_start is taken to its Monday; horizon week counts from the cycle's week 1
    assert list(pd.to_datetime(last.week_start)) == [
        pd.Timestamp("2026-11-16"),
        pd.Timestamp("2026-11-23"),
        pd.Timestamp("2026-11-23"),
    ]
    assert list(last.horizon_week) == [1, 2, 2]
    assert list(last.family) == ["Snacks", "Snacks", "Dairy (export)"]  # empty family: the item master's
    assert (h.supply_source == "history").all()
    prev = _previous_plan(con, AS_OF)
    assert set(pd.to_datetime(prev.cycle_id)) == {pd.Timestamp("2026-11-15")}
    assert prev.supply_units.sum() == pytest.approx(9.0 + 11.0 + 5.0)


def test_cycles_history_holds_are_never_overwritten_and_the_plan_appends_after(con):
    own = pd.DataFrame(
        {
            "cycle_id": [date(2026, 11, 15)],
            "sku": ["A"],
            "family": ["Snacks"],
            "week_start": pd.to_datetime(["2026-11-16"]),
            "horizon_week": [1],
            "demand_units": [1.0],
            "revenue": [1.0],
            "supply_units": [1.0],
            "supply_source": ["make"],
            "notes": [""],
        }
    )
    append_history(con, "plan_of_record", own, date(2026, 11, 15))
    assert seed_history_from_extract(con, AS_OF, absent=set()) == [date(2026, 11, 8)]
    h = _history(con)
    mine = h[pd.to_datetime(h.cycle_id) == pd.Timestamp("2026-11-15")]
    assert list(mine.supply_units) == [1.0] and list(mine.supply_source) == ["make"]
    # the current cycle's plan (more columns) appends to the seeded table; a re-run seeds nothing
    plan = own.assign(cycle_id=AS_OF, week_start=pd.to_datetime(["2026-11-23"]), margin=0.5, decision_ids="")
    append_history(con, "plan_of_record", plan, AS_OF)
    assert seed_history_from_extract(con, AS_OF, absent=set()) == []
    assert con.execute("select count(distinct cycle_id) from history.plan_of_record").fetchone()[0] == 3
    assert con.execute("select count(*) from history.plan_of_record where cycle_id = ?", [AS_OF]).fetchone()[0] == 1


def test_the_current_and_later_cycles_are_not_seeded(con):
    seed_history_from_extract(con, date(2026, 11, 15), absent=set())
    h = _history(con)
    assert set(pd.to_datetime(h.cycle_id)) == {pd.Timestamp("2026-11-08")}


def test_absent_extract_seeds_nothing(con):
    assert seed_history_from_extract(con, AS_OF, absent={"plan_history"}) == []
    assert (
        con.execute("select count(*) from information_schema.tables where table_schema = 'history'").fetchone()[0] == 0
    )
