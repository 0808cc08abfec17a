"""Capacity arithmetic, downtime split at week boundaries, bottleneck, skills and cross-training."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from sop_pipeline.analytics.capacity import (
    CapacityError,
    availability_factors,
    calendar_hours,
    cross_train_plan,
    downtime_by_week,
    labor_requirements,
    qualified_hours,
    skill_matrix,
    unrouted_skus,
    weekly_capacity,
)

W1, W2, W3 = date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)
TS = pd.Timestamp


def resources() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "resource_id": ["M1", "L1", "T1"],
            "type": ["machine", "labor", "tooling"],
            "hours_per_day": [16.0, 8.0, 24.0],
            "days_per_week": [5.0, 5.0, 7.0],
        }
    )


def test_downtime_spanning_week_boundary_is_split():
    events = pd.DataFrame(
        {
            "resource_id": ["M1", "M1", "M1"],
            "start": [TS("2026-03-08 20:00"), TS("2026-03-10 08:00"), TS("2026-03-03 06:00")],
            "end": [TS("2026-03-09 04:00"), TS("2026-03-10 09:30"), TS("2026-03-03 07:00")],
            "planned": [True, False, False],
        }
    )
    out = downtime_by_week(events, [W1, W2, W3]).set_index("week_start")
    assert out.loc[TS(W1), "planned_hours"] == pytest.approx(4.0)  # Sunday 20:00-24:00
    assert out.loc[TS(W2), "planned_hours"] == pytest.approx(4.0)  # Monday 00:00-04:00
    assert out.loc[TS(W1), "unplanned_hours"] == pytest.approx(1.0)
    assert out.loc[TS(W2), "unplanned_hours"] == pytest.approx(1.5)
    assert out.loc[TS(W3), ["planned_hours", "unplanned_hours"]].tolist() == [0.0, 0.0]


def test_event_spanning_several_weeks():
    events = pd.DataFrame(
        {"resource_id": ["T1"], "start": [TS("2026-03-06 00:00")], "end": [TS("2026-03-17 00:00")], "kind": ["planned"]}
    )
    out = downtime_by_week(events).set_index("week_start")["planned_hours"]
    assert out.tolist() == [72.0, 168.0, 24.0]
    assert out.sum() == pytest.approx(11 * 24)


def test_weekly_capacity_arithmetic_with_planned_downtime_across_boundary():
    planned = pd.DataFrame(
        {
            "sku": ["A", "A", "B"],
            "week_start": [W1, W2, TS("2026-03-11")],  # Wednesday -> W2
            "units": [600.0, 300.0, 200.0],
        }
    )
    routings = pd.DataFrame(
        {
            "sku": ["A", "A", "B", "B"],
            "resource_id": ["M1", "L1", "M1", "T1"],
            "units_per_hour": [10.0, 20.0, 5.0, 50.0],
        }
    )
    downtime = pd.DataFrame(
        {"resource_id": ["M1"], "start": [TS("2026-03-08 20:00")], "end": [TS("2026-03-09 04:00")], "planned": [True]}
    )
    changeovers = pd.DataFrame({"resource_id": ["M1"], "week_start": [W2], "changeover_hours": [6.0]})
    cap = weekly_capacity(
        resources(),
        planned,
        routings,
        [W1, W2],
        downtime=downtime,
        availability={"M1": 0.9},
        changeover_hours=changeovers,
    )
    m1 = cap[cap.resource_id == "M1"].set_index("week_start")
    # W1: (80 - 4) x 0.9 = 68.4 available; 600 / 10 = 60 h required
    assert m1.loc[TS(W1), "available_hours"] == pytest.approx(68.4)
    assert m1.loc[TS(W1), "required_hours"] == pytest.approx(60.0)
    assert m1.loc[TS(W1), "load_pct"] == pytest.approx(100 * 60 / 68.4)
    # W2: (80 - 4) x 0.9 = 68.4; 300 / 10 + 200 / 5 = 70 run + 6 changeover
    assert m1.loc[TS(W2), "run_hours"] == pytest.approx(70.0)
    assert m1.loc[TS(W2), "changeover_hours"] == pytest.approx(6.0)
    assert m1.loc[TS(W2), "required_hours"] == pytest.approx(76.0)
    l1 = cap[cap.resource_id == "L1"].set_index("week_start")
    assert l1.loc[TS(W1), "available_hours"] == pytest.approx(40.0)
    assert l1.loc[TS(W1), "required_hours"] == pytest.approx(30.0)
    assert list(cap.columns[:3]) == ["resource_id", "type", "week_start"]
    assert {"available_hours", "required_hours", "changeover_hours", "load_pct", "is_bottleneck"} <= set(cap.columns)


def test_bottleneck_switches_between_resource_types():
    planned = pd.DataFrame({"sku": ["A", "B"], "week_start": [W1, W2], "units": [700.0, 700.0]})
    # A is machine-heavy, B is labour-heavy
    routings = pd.DataFrame(
        {
            "sku": ["A", "A", "B", "B"],
            "resource_id": ["M1", "L1", "M1", "L1"],
            "units_per_hour": [10.0, 100.0, 100.0, 20.0],
        }
    )
    cap = weekly_capacity(resources(), planned, routings, [W1, W2, W3])
    bottleneck = cap[cap.is_bottleneck].set_index("week_start")
    assert bottleneck.loc[TS(W1), "resource_id"] == "M1" and bottleneck.loc[TS(W1), "type"] == "machine"
    assert bottleneck.loc[TS(W2), "resource_id"] == "L1" and bottleneck.loc[TS(W2), "type"] == "labor"
    assert TS(W3) not in bottleneck.index  # nothing loaded
    assert cap.groupby("week_start")["is_bottleneck"].sum().tolist() == [1, 1, 0]


def test_calendar_overrides_and_zero_available_means_infinite_load():
    cal = pd.DataFrame({"resource_id": ["M1"] * 2, "date": [TS("2026-03-02"), TS("2026-03-03")], "hours": [8.0, 4.0]})
    hours = calendar_hours(resources(), [W1, W2], cal).set_index(["resource_id", "week_start"])["calendar_hours"]
    assert hours[("M1", TS(W1))] == 12.0 and hours[("M1", TS(W2))] == 0.0 and hours[("L1", TS(W2))] == 40.0
    planned = pd.DataFrame({"sku": ["A"], "week_start": [W2], "units": [10.0]})
    routings = pd.DataFrame({"sku": ["A"], "resource_id": ["M1"], "units_per_hour": [10.0]})
    cap = weekly_capacity(resources(), planned, routings, [W2], calendar=cal)
    assert cap.set_index("resource_id").loc["M1", "load_pct"] == float("inf")


def test_availability_factor_from_history():
    events = pd.DataFrame(
        {
            "resource_id": ["M1", "M1"],
            "start": [TS("2026-03-02 08:00"), TS("2026-03-09 08:00")],
            "end": [TS("2026-03-02 16:00"), TS("2026-03-09 12:00")],
            "planned": [True, False],
        }
    )
    factors = availability_factors(events, resources(), [W1, W2])
    # open hours = (80 - 8) + 80 = 152; unplanned 4 -> 1 - 4/152
    assert factors["M1"] == pytest.approx(1 - 4 / 152)
    assert factors["L1"] == 1.0


def test_bad_inputs_raise_planner_messages():
    planned = pd.DataFrame({"sku": ["A"], "week_start": [W1], "units": [1.0]})
    with pytest.raises(CapacityError, match="units_per_hour"):
        weekly_capacity(
            resources(), planned, pd.DataFrame({"sku": ["A"], "resource_id": ["M1"], "units_per_hour": [0.0]}), [W1]
        )
    with pytest.raises(CapacityError, match="not a Monday"):
        calendar_hours(resources(), [date(2026, 3, 3)])
    assert unrouted_skus(planned, pd.DataFrame({"sku": ["B"], "resource_id": ["M1"]})) == ["A"]


# --------------------------------------------------------------------------- skills


def skills() -> pd.DataFrame:
    rows = []
    levels = {  # employee: (shift, hours, L1, M1)
        "E1": ("A", 40.0, 3, 3),
        "E2": ("A", 40.0, 2, 1),
        "E3": ("B", 40.0, 2, 0),
        "E4": ("B", 32.0, 3, 1),
        "E5": ("B", 40.0, 2, 2),
    }
    for e, (shift, hours, l1, m1) in levels.items():
        rows += [(e, "L1", l1, shift, hours), (e, "M1", m1, shift, hours)]
    return pd.DataFrame(rows, columns=["employee_id", "resource_id", "level", "shift", "hours_per_week"])


def test_skill_matrix_and_qualified_hours():
    matrix = skill_matrix(skills())
    assert list(matrix.columns) == ["employee_id", "resource_id", "level", "shift", "hours_per_week", "qualified"]
    assert matrix.set_index(["employee_id", "resource_id"]).loc[("E2", "M1"), "qualified"] == False  # noqa: E712
    q = qualified_hours(skills()).set_index(["resource_id", "shift"])
    assert q.loc[("M1", "A"), "qualified_hours"] == 40.0 and q.loc[("M1", "B"), "qualified_hours"] == 40.0
    assert q.loc[("L1", "B"), "qualified_hours"] == 112.0 and q.loc[("L1", "B"), "qualified_headcount"] == 3


def test_cross_train_plan_covers_shortfall_without_creating_one():
    # shift B: M1 needs 60 h, only E5 (40 h) qualified; L1 needs 50 h of E3/E4/E5 (112 h in all)
    required = pd.DataFrame(
        {"resource_id": ["M1", "L1"], "shift": ["B", "B"], "week_start": [W2, W2], "required_hours": [60.0, 50.0]}
    )
    result = cross_train_plan(skills(), required, time_limit_s=5)
    cov = result.coverage.set_index("resource_id")
    assert cov.loc["M1", "shortfall_hours_before"] == pytest.approx(20.0)
    assert cov.loc["M1", "shortfall_hours_after"] == 0.0
    assert cov.loc["L1", "shortfall_hours_after"] == 0.0
    plan = result.plan
    assert len(plan) == 1  # one training is enough
    row = plan.iloc[0]
    assert row["to_resource"] == "M1" and row["shift"] == "B"
    assert row["employee_id"] == "E4"  # level 1 preferred over E3 at level 0
    assert row["from_resource"] == "L1"
    assert row["hours_unlocked"] == pytest.approx(20.0)
    assert row["week_needed"] == TS(W2)
    assert list(plan.columns[:4]) == ["employee_id", "shift", "from_resource", "to_resource"]
    assert {"hours_unlocked", "week_needed"} <= set(plan.columns)
    assert result.uncovered_hours == 0.0


def test_cross_train_plan_never_moves_people_into_a_new_shortfall():
    # shift B total 112 h; M1 60 + L1 70 = 130 h needed: 18 h stay short whatever we train
    required = pd.DataFrame(
        {"resource_id": ["M1", "L1"], "shift": ["B", "B"], "week_start": [W2, W2], "required_hours": [60.0, 70.0]}
    )
    result = cross_train_plan(skills(), required, time_limit_s=5)
    cov = result.coverage.set_index("resource_id")
    for r in ("M1", "L1"):
        assert cov.loc[r, "shortfall_hours_after"] <= cov.loc[r, "shortfall_hours_before"] + 1e-9
    assert result.uncovered_hours == pytest.approx(18.0)


def test_no_shortfall_no_plan_and_even_shift_split():
    capacity = pd.DataFrame(
        {
            "resource_id": ["M1", "X9"],
            "type": ["machine", "machine"],
            "week_start": [TS(W1), TS(W1)],
            "required_hours": [40.0, 99.0],
        }
    )
    required = labor_requirements(capacity, skills())
    assert required["resource_id"].tolist() == ["M1"]  # X9 needs no skilled operator
    result = cross_train_plan(skills(), required, time_limit_s=5)
    assert result.plan.empty
    cov = result.coverage
    assert cov["required_hours"].tolist() == [20.0, 20.0]  # split evenly over shifts A and B
    assert (cov["shortfall_hours_after"] == 0).all()


def test_inconsistent_employee_rows_are_rejected():
    bad = skills()
    bad.loc[0, "hours_per_week"] = 10.0
    with pytest.raises(CapacityError, match="E1"):
        skill_matrix(bad)


# --------------------------------------------------------------------------- shift calendar


def test_shift_calendar_16h_x_5d_less_planned_downtime_maps_hours_to_shift_times():
    from sop_pipeline.analytics.capacity import shift_calendar

    events = pd.DataFrame(
        {
            "resource_id": ["M1", "M1"],
            "start": [TS("2026-03-03 10:00"), TS("2026-03-04 12:00")],
            "end": [TS("2026-03-03 14:00"), TS("2026-03-04 13:00")],
            "planned": [True, False],
        }
    )
    cal = shift_calendar(W1, 16, 5, events)
    # 16 x 5 = 80 h less the 4 h planned block; the unplanned hour is left to the availability factor
    assert cal.hours == pytest.approx(76.0)
    assert cal.windows[:3] == (
        (TS("2026-03-02 06:00"), TS("2026-03-02 22:00")),
        (TS("2026-03-03 06:00"), TS("2026-03-03 10:00")),
        (TS("2026-03-03 14:00"), TS("2026-03-03 22:00")),
    )
    assert cal.end == TS("2026-03-06 22:00")
    # a boundary starts the next shift ("start") or closes the last one ("end")
    assert cal.at([0, 16, 20, 21.5], "start").tolist() == [
        TS("2026-03-02 06:00"),
        TS("2026-03-03 06:00"),
        TS("2026-03-03 14:00"),
        TS("2026-03-03 15:30"),
    ]
    assert cal.at([16, 20, 76], "end").tolist() == [
        TS("2026-03-02 22:00"),
        TS("2026-03-03 10:00"),
        TS("2026-03-06 22:00"),
    ]
    assert cal.at([76.5], "end").isna().all()  # beyond the week: no time, never stretched
    assert cal.offset(
        [TS("2026-03-02 00:00"), TS("2026-03-03 12:00"), TS("2026-03-03 15:30"), TS("2026-03-08 00:00")]
    ).tolist() == pytest.approx([0.0, 20.0, 21.5, 76.0])


def test_shift_calendar_shift_start_24h_days_and_partial_days():
    from sop_pipeline.analytics.capacity import CapacityError, WorkCalendar, shift_calendar

    assert shift_calendar(W1, 24, 7).windows[0] == (TS("2026-03-02 00:00"), TS("2026-03-03 00:00"))
    assert shift_calendar(W1, 24, 7).hours == 168.0
    late = shift_calendar(W1, 8, 2, shift_start_hour=14)  # 14:00-22:00
    assert late.windows == (
        (TS("2026-03-02 14:00"), TS("2026-03-02 22:00")),
        (TS("2026-03-03 14:00"), TS("2026-03-03 22:00")),
    )
    assert shift_calendar(W1, 20, 1, shift_start_hour=6).windows[0][0] == TS("2026-03-02 04:00")  # ends by midnight
    half = shift_calendar(W1, 16, 5.5)
    assert half.hours == 88.0 and half.windows[-1] == (TS("2026-03-07 06:00"), TS("2026-03-07 14:00"))
    assert WorkCalendar.continuous(W1, 30).at([30], "end").tolist() == [TS("2026-03-03 06:00")]
    with pytest.raises(CapacityError, match="not a Monday"):
        shift_calendar(TS("2026-03-03"), 16, 5)
