"""The synchronized production sequence: an operation holds its line and its tooling together."""

from __future__ import annotations

import pandas as pd
import pytest

from sop_pipeline.analytics.mps import sequence_mps, sequenced_resources
from sop_pipeline.analytics.synchronize import synchronization_breaks, synchronize

W1 = pd.Timestamp("2026-03-02")  # a Monday


def routings() -> pd.DataFrame:
    # A, B on line M1, C on line M2; every SKU needs the one format tooling set T1
    return pd.DataFrame(
        {
            "sku": ["A", "A", "B", "B", "C", "C"],
            "resource_id": ["M1", "T1", "M1", "T1", "M2", "T1"],
            "units_per_hour": [10.0, 10.0, 10.0, 10.0, 20.0, 20.0],
            "setup_family": ["X", "X", "Y", "Y", "X", "X"],
        }
    )


def resources(t2_days: float = 2) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "resource_id": ["M1", "M2", "T1", "T2", "L1"],
            "type": ["machine", "machine", "tooling", "tooling", "labor"],
            "is_constraint": [True, False, False, False, False],
            "hours_per_day": [16, 16, 16, 8, 16],
            "days_per_week": [5, 5, 5, t2_days, 5],
        }
    )


def changeovers() -> pd.DataFrame:
    return pd.DataFrame(
        {"resource_id": ["M1", "M1"], "from_key": ["X", "Y"], "to_key": ["Y", "X"], "minutes": [60.0, 60.0]}
    )


def timed(mps: pd.DataFrame, rids=("M1", "M2", "T1"), routes=None, offloads=None, res=None, **kw):
    routes = routings() if routes is None else routes
    res = resources() if res is None else res
    alone = sequence_mps(mps, routes, res, [W1], list(rids), changeovers=changeovers(), **kw)
    jobs, summary = synchronize(alone.jobs, res, [W1], list(rids), changeovers=changeovers(), offloads=offloads, **kw)
    return alone, jobs, summary


def mps_of(units: dict) -> pd.DataFrame:
    return pd.DataFrame({"sku": list(units), "week_start": W1, "make_units": list(units.values())})


def test_each_resource_alone_is_not_one_timetable_and_the_check_says_so():
    alone, jobs, _ = timed(mps_of({"A": 100.0, "B": 100.0, "C": 400.0}))
    # alone, T1 runs A at the week's first hour while M1 runs it after other work: not executable
    with_ops = alone.jobs.assign(operation_id=alone.jobs.sku)
    assert (synchronization_breaks(with_ops).issue.str.contains("together")).any()
    assert synchronization_breaks(jobs).empty


def test_an_operation_holds_line_and_tool_together_and_the_tool_runs_one_job_at_a_time():
    _, jobs, summary = timed(mps_of({"A": 100.0, "B": 100.0, "C": 400.0}))
    for _, op in jobs.groupby("operation_id"):
        assert op.start.nunique() == 1 and op.end.nunique() == 1
    t1 = jobs[jobs.resource_id == "T1"].sort_values("start")
    assert (t1.start.iloc[1:].to_numpy() >= t1.end.iloc[:-1].to_numpy()).all()
    assert set(t1.sku) == {"A", "B", "C"} and t1.held_with.tolist().count("M1") == 2
    # 10 + 10 + 20 tool hours + one changeover X->Y on M1, which holds T1 as well
    t1_sum = summary.set_index("resource_id").loc["T1"]
    assert t1_sum.run_hours == pytest.approx(40.0)
    assert t1_sum.changeover_hours_optimized == pytest.approx(1.0)
    assert t1_sum.unscheduled_units == 0 and bool(t1_sum.fits)
    # quantities are the MPS's on every resource
    assert jobs.groupby(["resource_id", "sku"]).qty.sum().to_dict() == {
        ("M1", "A"): 100.0,
        ("M1", "B"): 100.0,
        ("M2", "C"): 400.0,
        ("T1", "A"): 100.0,
        ("T1", "B"): 100.0,
        ("T1", "C"): 400.0,
    }


def test_times_fall_inside_the_common_shifts_and_the_changeover_holds_both():
    _, jobs, _ = timed(mps_of({"A": 100.0, "B": 100.0}), rids=("M1", "T1"))
    b = jobs[jobs.sku == "B"]
    assert (b.changeover_minutes == 60.0).all()  # on M1 and on the tool it holds
    for t in pd.concat([jobs.start, jobs.end, jobs.changeover_start]):
        assert 6 <= t.hour + t.minute / 60 <= 22  # shifts 06:00-22:00
    first = jobs[jobs.position == 1]
    assert (first.start == W1 + pd.Timedelta(hours=6)).all()


def test_offloaded_units_run_with_the_alternate_tool_in_both_calendars():
    routes = routings()
    alt = pd.DataFrame(
        {"sku": ["A"], "resource_id": ["T2"], "units_per_hour": [5.0], "setup_family": ["X"]}
    )  # the spare tooling set is slower
    mps = pd.DataFrame(
        {
            "sku": ["A", "A", "A"],
            "week_start": W1,
            "resource_id": ["M1", "T1", "T2"],
            "make_units": [300.0, 200.0, 100.0],
        }
    )
    offloads = pd.DataFrame({"from_resource_id": ["T1"], "to_resource_id": ["T2"]})
    _, jobs, summary = timed(
        mps, rids=("M1", "T1", "T2"), routes=pd.concat([routes, alt], ignore_index=True), offloads=offloads
    )
    assert synchronization_breaks(jobs).empty
    m1 = jobs[jobs.resource_id == "M1"]
    assert sorted(m1.qty) == [100.0, 200.0] and m1.job_id.nunique() == 2
    with_t2 = jobs[jobs.held_with.fillna("").str.contains("T2") | (jobs.resource_id == "T2")]
    assert len(with_t2) == 2 and with_t2.start.nunique() == 1
    # 100 units at T2's 5/h = 20 h: M1 is held that long, inside T2's Monday-Tuesday 06:00-14:00
    assert (with_t2.end - with_t2.start).iloc[0] > pd.Timedelta(hours=20)
    for t in pd.concat([with_t2.start, with_t2.end]):
        assert t.day_of_week <= 1 and 6 <= t.hour + t.minute / 60 <= 14
    assert summary.set_index("resource_id").loc["M1", "run_hours"] == pytest.approx(30.0)  # plan hours


def test_work_beyond_the_week_is_unscheduled_never_stretched_and_units_are_kept():
    # 90 tool hours on T1 (80 a week): some work must stay unscheduled
    _, jobs, summary = timed(mps_of({"A": 400.0, "B": 300.0, "C": 400.0}))
    assert jobs.groupby("resource_id").qty.sum().to_dict() == {"M1": 700.0, "M2": 400.0, "T1": 1100.0}
    assert summary.set_index("resource_id").loc["T1", "unscheduled_units"] > 0
    made = jobs.dropna(subset=["end"])
    assert (made.end <= W1 + pd.Timedelta(days=4, hours=22)).all()
    assert (jobs.scheduled_qty + jobs.unscheduled_qty == jobs.qty).all()


def test_same_week_gives_the_same_timetable():
    a = timed(mps_of({"A": 120.0, "B": 90.0, "C": 300.0}))[1]
    b = timed(mps_of({"A": 120.0, "B": 90.0, "C": 300.0}))[1]
    pd.testing.assert_frame_equal(a, b)


def test_a_tool_shared_by_two_lines_brings_the_other_line_into_the_sequence():
    res = resources()
    routes = pd.concat(
        [routings(), pd.DataFrame({"sku": ["A", "C"], "resource_id": ["L1", "L1"], "units_per_hour": 3.0})]
    )
    # M1 is the declared constraint; T1 is the measured bottleneck; M2 shares T1; L1 is a pool
    cap = pd.DataFrame({"resource_id": ["T1", "M1"], "load_pct": [95.0, 60.0]})
    assert sequenced_resources(res, cap, None, routes) == ["M1", "T1", "M2"]
    assert sequenced_resources(res, cap) == ["M1", "T1"]
