"""MPS -> production sequence: minimum runs, the MPS read from the plan, shift-calendar timing,
bought SKUs excluded, overflow reported, and the coherence checks (hand-checked numbers)."""

from __future__ import annotations

import pandas as pd
import pytest

from sop_pipeline.analytics.capacity import shift_calendar
from sop_pipeline.analytics.mps import (
    MpsError,
    bought_skus,
    changeover_estimate,
    merge_estimates,
    critical_resources,
    sequenced_resources,
    describe_breaks,
    hours_breaks,
    minimum_run_units,
    mps_from_plan,
    quantity_breaks,
    sequence_mps,
)
from sop_pipeline.analytics.sequencing import sequence_week

W1, W2 = pd.Timestamp("2026-03-02"), pd.Timestamp("2026-03-09")  # Mondays
TS = pd.Timestamp


def resources() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "resource_id": ["M1", "L1", "T1"],
            "type": ["machine", "labor", "tooling"],
            "is_constraint": [True, False, False],
            "hours_per_day": [16.0, 16.0, 16.0],
            "days_per_week": [5.0, 5.0, 5.0],
        }
    )


def routings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sku": ["A", "A", "B", "B", "C", "C"],
            "resource_id": ["M1", "T1", "M1", "T1", "M1", "T1"],
            "units_per_hour": [10.0, 20.0, 5.0, 25.0, 10.0, 10.0],
            "setup_family": list("XXYYXX"),
        }
    )


def changeovers() -> pd.DataFrame:
    return pd.DataFrame(
        {"resource_id": ["M1", "M1"], "from_key": ["X", "Y"], "to_key": ["Y", "X"], "minutes": [30.0, 90.0]}
    )


# --------------------------------------------------------------------------- minimum run


def test_minimum_run_from_history_quantile_else_one_machine_hour_and_overrides_win():
    orders = pd.DataFrame(
        {
            "sku": ["A"] * 6 + ["B"] * 2,
            "planned_qty": [100, 200, 300, 400, 500, 10, 70, 80],
            "status": ["completed"] * 5 + ["cancelled", "completed", "completed"],
        }
    )
    rout = pd.DataFrame(
        {"sku": ["A", "B", "B", "C"], "resource_id": ["M1", "M1", "L1", "L1"], "units_per_hour": [30.0, 12.0, 4.0, 6.0]}
    )
    out = minimum_run_units(rout, orders, resources=resources())
    # A: 10th percentile of 100..500 (the cancelled 10 ignored) = 100 + 0.4 x 100 = 140
    assert out["A"] == pytest.approx(140.0)
    # B: 2 orders < 3 -> one hour on its machine M1 (12/h), not on the labour pool L1 (4/h)
    assert out["B"] == pytest.approx(12.0)
    # C: no machine in its routing -> one hour at its slowest rate, L1 6/h
    assert out["C"] == pytest.approx(6.0)
    assert out.name == "min_run_units" and list(out.index) == ["A", "B", "C"]
    tuned = minimum_run_units(
        rout, orders, resources=resources(), quantile=0.5, fallback_hours=2.0, overrides={"C": 50.0}
    )
    assert tuned.to_dict() == pytest.approx({"A": 300.0, "B": 24.0, "C": 50.0})
    # no history at all: every SKU gets one run-hour at its slowest routing
    assert minimum_run_units(rout).to_dict() == pytest.approx({"A": 30.0, "B": 4.0, "C": 6.0})
    with pytest.raises(MpsError, match="quantile"):
        minimum_run_units(rout, orders, quantile=10)


# --------------------------------------------------------------------------- MPS and resources


def test_mps_uses_make_units_and_derives_it_for_an_older_plan():
    plan = pd.DataFrame(
        {
            "sku": ["A", "A", "B", "D"],
            "week_start": [W1, W2, W1, W1],
            "supply_units": [100.0, 50.0, 40.0, 30.0],
            "supply_source": ["frozen", "make", "buy", "frozen"],
            "make_units": [100.0, 50.0, 0.0, 0.0],
        }
    )
    assert mps_from_plan(plan).make_units.tolist() == [100.0, 50.0, 0.0, 0.0]
    # without make_units: make and frozen rows, but not of SKU D, bought after a decision
    source = pd.Series({"A": "make", "B": "buy", "D": "buy"})
    old = mps_from_plan(plan.drop(columns="make_units"), source)
    assert old.make_units.tolist() == [100.0, 50.0, 0.0, 0.0]
    assert bought_skus(source) == {"B", "D"}


def test_critical_resources_are_the_constraint_and_the_measured_bottleneck():
    cap = pd.DataFrame(
        {"resource_id": ["M1", "M1", "T1", "T1", "L1", "L1"], "load_pct": [90.0, 95.0, 105.0, 113.0, 60.0, 150.0]}
    )
    # mean load: M1 92.5, T1 109, L1 105 -> T1 is the bottleneck; M1 is declared
    assert critical_resources(resources(), cap) == ["M1", "T1"]
    assert critical_resources(resources(), cap[cap.resource_id != "T1"]) == ["M1", "L1"]
    assert critical_resources(resources()) == ["M1"]


def test_a_resource_taking_offloaded_work_from_a_sequenced_one_is_sequenced_too():
    cap = pd.DataFrame({"resource_id": ["M1", "T1", "L1"], "load_pct": [90.0, 109.0, 60.0]})
    with_t2 = pd.concat([resources(), resources().iloc[[2]].assign(resource_id="T2")], ignore_index=True)
    offloads = pd.DataFrame({"from_resource_id": ["T1", "T1", "L1", "T1"], "to_resource_id": ["T2", "T2", "M1", "X9"]})
    # T1 (the bottleneck) offloaded to T2: T2 is sequenced after the critical ones; L1's offload to
    # M1 adds nothing (L1 is not sequenced, M1 already is); X9 is no resource of the plant
    assert sequenced_resources(with_t2, cap, offloads) == ["M1", "T1", "T2"]
    assert sequenced_resources(with_t2, cap, offloads.iloc[:0]) == ["M1", "T1"]
    assert sequenced_resources(with_t2, cap, None) == ["M1", "T1"]
    # T2 appears only through an offload from a sequenced resource
    assert sequenced_resources(with_t2, cap[cap.resource_id != "T1"], offloads) == ["M1"]


# --------------------------------------------------------------------------- sequencing the MPS


def test_sequence_carries_exactly_the_mps_on_each_resource_at_its_rate_and_never_a_bought_sku():
    mps = pd.DataFrame(
        {"sku": ["A", "B", "C", "A"], "week_start": [W1, W1, W1, W2], "make_units": [100.0, 50.0, 30.0, 200.0]}
    )
    out = sequence_mps(
        mps,
        routings(),
        resources(),
        [W1, W2],
        ["M1", "T1"],
        bought={"C"},
        changeovers=changeovers(),
        current_setup={"M1": "X"},
        time_limit_s=1.0,
    )
    seq = out.jobs
    # C is bought (a make_vs_buy decision) although the plan (wrongly) still makes 30: never sequenced
    assert "C" not in set(seq.sku)
    assert out.excluded[["sku", "make_units"]].values.tolist() == [["C", 30.0]]
    per = seq.groupby(["resource_id", "week_start", "sku"]).qty.sum()
    assert per.to_dict() == {
        ("M1", W1, "A"): 100.0,
        ("M1", W1, "B"): 50.0,
        ("M1", W2, "A"): 200.0,
        ("T1", W1, "A"): 100.0,
        ("T1", W1, "B"): 50.0,
        ("T1", W2, "A"): 200.0,
    }
    # each resource's own rate: A 100 / 10 = 10 h on M1, 100 / 20 = 5 h on T1; B 50/5 = 10 h, 50/25 = 2 h
    hours = seq.set_index(["resource_id", "week_start", "sku"]).run_hours
    assert hours[("M1", W1, "A")] == pytest.approx(10.0) and hours[("T1", W1, "A")] == pytest.approx(5.0)
    assert hours[("M1", W1, "B")] == pytest.approx(10.0) and hours[("T1", W1, "B")] == pytest.approx(2.0)
    # M1 week 1 from setup X: A (X) first, then the X->Y changeover (30 min), then B
    m1 = seq[(seq.resource_id == "M1") & (seq.week_start == W1)].sort_values("position")
    assert m1.sku.tolist() == ["A", "B"]
    assert m1.changeover_minutes.tolist() == [0.0, 30.0]
    assert m1.start.tolist() == [TS("2026-03-02 06:00"), TS("2026-03-02 16:30")]
    assert m1.end.tolist() == [TS("2026-03-02 16:00"), TS("2026-03-03 10:30")]  # 5.5 h Monday + 4.5 h Tuesday
    # T1 has no changeover matrix: due-date order, zero changeovers
    t1 = seq[seq.resource_id == "T1"]
    assert t1.changeover_minutes.sum() == 0.0
    assert seq.unscheduled_qty.sum() == 0.0 and seq.fits.all()
    s = out.summary.set_index(["resource_id", "week_start"])
    assert s.loc[("M1", W1), "planned_units"] == 150.0 and s.loc[("M1", W1), "available_hours"] == 80.0
    assert s.loc[("M1", W1), "required_hours"] == pytest.approx(20.5)
    # the checks: quantities agree except for the bought SKU the plan still makes (named per resource)
    breaks = quantity_breaks(seq, mps, routings(), ["M1", "T1"], [W1, W2])
    assert breaks[["resource_id", "sku", "plan_make_units", "sequenced_units"]].values.tolist() == [
        ["M1", "C", 30.0, 0.0],
        ["T1", "C", 30.0, 0.0],
    ]
    assert "M1 C week of 2026-03-02" in describe_breaks(breaks, "sequenced quantity = plan make quantity")
    coherent = mps.assign(make_units=[100.0, 50.0, 0.0, 200.0])
    assert quantity_breaks(seq, coherent, routings(), ["M1", "T1"], [W1, W2]).empty


def test_quantity_breaks_name_short_missing_and_unplanned_jobs():
    mps = pd.DataFrame({"sku": ["A", "B"], "week_start": [W1, W1], "make_units": [100.0, 50.0]})
    seq = pd.DataFrame({"resource_id": ["M1", "M1"], "sku": ["A", "C"], "week_start": [W1, W1], "qty": [90.0, 5.0]})
    b = quantity_breaks(seq, mps, routings(), ["M1"])
    assert b[["sku", "plan_make_units", "sequenced_units"]].values.tolist() == [
        ["A", 100.0, 90.0],
        ["B", 50.0, 0.0],
        ["C", 0.0, 5.0],
    ]
    ok = seq.assign(sku=["A", "B"], qty=[100.0, 50.0 + 1e-9])  # float noise is no break
    assert quantity_breaks(ok, mps, routings(), ["M1"]).empty


def test_shift_calendar_bounds_the_sequence_and_overflow_is_unscheduled_not_stretched():
    # one 16 h day (Monday 06:00-22:00); A 10 h, then B 10 h of which 6 h fit
    cal = shift_calendar(W1, 16.0, 1.0)
    jobs = pd.DataFrame(
        {
            "job_id": ["JA", "JB"],
            "sku": ["A", "B"],
            "qty": [100.0, 50.0],
            "run_hours": [10.0, 10.0],
            "due": [TS("2026-03-02 16:00"), TS("2026-03-02 22:00")],
            "min_run_units": [0.0, 20.0],
        }
    )
    res = sequence_week(jobs, pd.DataFrame(columns=["from_key", "to_key", "minutes"]), W1, calendar=cal)
    b = res.jobs.set_index("sku")
    assert b.loc["A", "end"] == TS("2026-03-02 16:00") and b.loc["A", "fits_in_week"]
    # B: 6 of 10 h fit -> 30 of 50 units (>= the 20-unit minimum run) until the shift closes at 22:00
    assert b.loc["B", "scheduled_qty"] == pytest.approx(30.0) and b.loc["B", "unscheduled_qty"] == pytest.approx(20.0)
    assert b.loc["B", "end"] == TS("2026-03-02 22:00") and not b.loc["B", "fits_in_week"]
    s = res.summary
    assert (s["available_hours"], s["required_hours"], s["fits"]) == (16.0, 20.0, False)
    assert s["unscheduled_units"] == pytest.approx(20.0) and s["jobs_unscheduled"] == 1
    # a 40-unit minimum run: the 30 units that would fit are not run at all
    strict = sequence_week(jobs.assign(min_run_units=[0.0, 40.0]), pd.DataFrame(), W1, calendar=cal)
    jb = strict.jobs.set_index("sku").loc["B"]
    assert jb["scheduled_qty"] == 0.0 and jb["unscheduled_qty"] == 50.0 and pd.isna(jb["start"])
    # no timestamp anywhere outside 06:00-22:00
    for frame in (res.jobs, strict.jobs):
        times = pd.concat([frame.start.dropna(), frame.end.dropna()])
        assert ((times >= TS("2026-03-02 06:00")) & (times <= TS("2026-03-02 22:00"))).all()


def test_sequence_week_times_jobs_across_shifts_and_around_planned_downtime():
    # 16 h x 5 days, planned downtime Tuesday 10:00-14:00: windows Mon 06-22, Tue 06-10, Tue 14-22, ...
    downtime = pd.DataFrame({"start": [TS("2026-03-03 10:00")], "end": [TS("2026-03-03 14:00")], "planned": [True]})
    cal = shift_calendar(W1, 16.0, 5.0, downtime)
    jobs = pd.DataFrame(
        {
            "job_id": ["J1", "J2", "J3"],
            "sku": ["A", "B", "C"],
            "qty": [1.0, 1.0, 1.0],
            "run_hours": [10.0, 10.0, 10.0],
            "due": [W1 + pd.Timedelta(days=d) for d in (1, 2, 3)],
        }
    )
    res = sequence_week(jobs, pd.DataFrame(), W1, calendar=cal)
    j = res.jobs.set_index("job_id")
    assert (j.loc["J1", "start"], j.loc["J1", "end"]) == (TS("2026-03-02 06:00"), TS("2026-03-02 16:00"))
    # J2: 6 h Monday until 22:00, 4 h Tuesday 06:00-10:00
    assert (j.loc["J2", "start"], j.loc["J2", "end"]) == (TS("2026-03-02 16:00"), TS("2026-03-03 10:00"))
    # J3 starts after the downtime at 14:00: 8 h to 22:00, 2 h Wednesday 06:00-08:00
    assert (j.loc["J3", "start"], j.loc["J3", "end"]) == (TS("2026-03-03 14:00"), TS("2026-03-04 08:00"))
    assert res.summary["available_hours"] == 76.0 and res.summary["fits"]
    assert not j.late.any()  # J3 due Thursday 00:00, done Wednesday 08:00
    with pytest.raises(Exception, match="differs from the calendar"):
        sequence_week(jobs, pd.DataFrame(), W1, 80.0, calendar=cal)


def test_hours_breaks_fail_only_when_the_plan_exceeds_the_calendar():
    summary = pd.DataFrame(
        {
            "resource_id": ["M1", "M1", "T1"],
            "week_start": [W1, W2, W1],
            "run_hours": [90.0, 70.0, 60.0],
            "changeover_hours_optimized": [2.0, 10.0, 0.0],
            "available_hours": [76.0, 76.0, 80.0],
            "unscheduled_units": [140.0, 40.0, 0.0],
        }
    )
    over, overflow = hours_breaks(summary)
    assert over[["resource_id", "week_start"]].values.tolist() == [["M1", W1]]
    assert overflow[["resource_id", "week_start"]].values.tolist() == [["M1", W1], ["M1", W2]]
    over_frozen, _ = hours_breaks(summary, exempt_weeks=[W1])  # an approved freeze window
    assert over_frozen.empty


def test_changeover_estimate_covers_resources_with_a_matrix():
    planned = pd.DataFrame({"sku": ["A", "B"], "week_start": [W1, W1], "units": [100.0, 50.0]})
    est = changeover_estimate(
        planned, routings(), resources(), [W1, W2], changeovers=changeovers(), current_setup={"M1": "X"}
    )
    # M1's sequence (T1 has no matrix): X (current) -> A, then X->Y 30 min -> B; week 2 has no volume
    assert est[["resource_id", "week_start", "jobs", "setup_families"]].iloc[:1].values.tolist() == [["M1", W1, 2, 2]]
    assert est.run_hours.iloc[0] == pytest.approx(20.0)
    # the changeover to B holds B's whole routing: the tooling T1 reserves the same 0.5 h
    assert est[["resource_id", "changeovers_of"]].values.tolist() == [["M1", "M1"], ["T1", "M1"]]
    assert est.changeover_hours.tolist() == [pytest.approx(0.5), pytest.approx(0.5)]
    assert est.jobs.isna().tolist() == [False, True]  # T1 has no sequence of its own here


def test_estimates_of_several_lines_add_up_on_a_shared_tool():
    # one call per line (the fan-out's parts) merged = one call over both lines
    routes = pd.DataFrame(
        {
            "sku": ["A", "A", "B", "B", "C", "C", "D", "D"],
            "resource_id": ["M1", "T1", "M1", "T1", "M2", "T1", "M2", "T1"],
            "units_per_hour": 10.0,
            "setup_family": list("XXYYXXYY"),
        }
    )
    res = pd.DataFrame(
        {"resource_id": ["M1", "M2", "T1"], "hours_per_day": 16, "days_per_week": 5, "is_constraint": False}
    )
    co = pd.concat([changeovers(), changeovers().assign(resource_id="M2")], ignore_index=True)
    planned = pd.DataFrame({"sku": list("ABCD"), "week_start": W1, "units": [100.0, 50.0, 80.0, 40.0]})
    kw = dict(changeovers=co, current_setup={"M1": "X", "M2": "X"})
    whole = changeover_estimate(planned, routes, res, [W1], **kw)
    parts = [changeover_estimate(planned, routes, res[res.resource_id == r], [W1], **kw) for r in ("M1", "M2")]
    merged = merge_estimates(pd.concat(parts, ignore_index=True))
    pd.testing.assert_frame_equal(whole, merged)
    t1 = whole.set_index("resource_id").loc["T1"]
    lines = whole.set_index("resource_id").loc[["M1", "M2"], "changeover_hours"].sum()
    assert t1.changeover_hours == pytest.approx(lines) and lines > 0
    assert t1.changeovers_of == "M1, M2"


def test_checks_on_an_empty_sequence_and_plan():
    # a cycle without resources/routings: nothing sequenced, nothing to break
    empty_seq = pd.DataFrame(columns=["resource_id", "sku", "week_start", "qty"])
    empty_mps = pd.DataFrame(
        {
            "sku": pd.Series(dtype=object),
            "week_start": pd.Series(dtype="datetime64[us]"),
            "make_units": pd.Series(dtype=float),
        }
    )
    no_routings = pd.DataFrame(columns=["sku", "resource_id", "units_per_hour"])
    assert quantity_breaks(empty_seq, empty_mps, no_routings, []).empty
    # an empty sequence against a plan that makes something: every planned SKU-week is named
    mps = pd.DataFrame({"sku": ["A"], "week_start": [W1], "make_units": [100.0]})
    b = quantity_breaks(empty_seq, mps, routings(), ["M1"])
    assert b[["resource_id", "sku", "plan_make_units", "sequenced_units"]].values.tolist() == [["M1", "A", 100.0, 0.0]]
