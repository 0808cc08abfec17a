"""The exception workflow (analytics/exceptions.py) on hand-made cycles: keys, owners, status across
cycles (raised, acknowledged by an update, aged, auto-closed when the condition is gone), rejected
updates and the blocking rules."""

from __future__ import annotations

import pandas as pd
import pytest

from sop_pipeline.analytics import exceptions as ex

C1, C2, C3, C4 = (pd.Timestamp(d) for d in ("2026-11-01", "2026-11-08", "2026-11-15", "2026-11-22"))


def _alerts(*subjects):
    return pd.DataFrame(
        {
            "alert_id": [f"kpi_off_target:{s}" for s in subjects],
            "alert": "kpi_off_target",
            "subject": list(subjects),
            "severity": "high",
            "message": [f"{s} off target" for s in subjects],
        }
    )


def _plan(rows):
    return pd.DataFrame(rows, columns=["sku", "horizon_week", "cut_units", "service_risk", "resource_id"])


def _updates(rows):
    return pd.DataFrame(
        rows, columns=["exception_key", "status", "owner", "note", "updated_by", "updated_at", "source_row"]
    )


def _cycle(cycle, prior, updates=None, **sources):
    cands = ex.candidates(**sources)
    out, issues = ex.carry_forward(cands, ex.assign_owner(cands), prior, updates, cycle)
    assert ex.exception_breaks(out, cands) == []
    return out.set_index("exception_key", drop=False), issues


def test_the_key_is_the_kind_and_natural_key_never_the_cycle():
    a = ex.from_kpi_alerts(_alerts("otif_pct")).exception_key.iloc[0]
    assert a == ex.exception_key("kpi_alert", "kpi_off_target:otif_pct")
    assert a != ex.exception_key("kpi_alert", "kpi_off_target:fill_rate_pct")
    assert a != ex.exception_key("risk", "kpi_off_target:otif_pct")
    assert a.startswith("EX-") and len(a) == 15


def test_raised_acknowledged_aged_then_closed_when_the_condition_is_gone():
    key = ex.exception_key("kpi_alert", "kpi_off_target:otif_pct")
    # cycle 1: raised, open, age 0
    c1, _ = _cycle(C1, None, kpi_alerts=_alerts("otif_pct"))
    assert c1.loc[key, "status"] == "open" and c1.loc[key, "age_weeks"] == 0
    assert c1.loc[key, "first_raised_cycle"] == C1.date() and c1.loc[key, "owner"] == ex.DEFAULT_RACI[("kpi", "*")]
    # acknowledged during the week after cycle 1; cycle 2: still there -> acknowledged, age 1
    upd = _updates([(key, "acknowledged", None, "looking at it", "ana", "2026-11-03 09:00", 2)])
    c2, issues = _cycle(C2, c1.reset_index(drop=True), upd, kpi_alerts=_alerts("otif_pct"))
    assert issues.empty
    row = c2.loc[key]
    assert (row.status, row.age_weeks, row.first_raised_cycle, row.last_seen_cycle) == (
        "acknowledged",
        1,
        C1.date(),
        C2.date(),
    )
    assert row.status_reason == "acknowledged by ana" and row.note == "looking at it"
    # cycle 3: the alert is gone -> closed as resolved, still age 2, last seen in cycle 2
    c3, _ = _cycle(C3, c2.reset_index(drop=True), upd, kpi_alerts=_alerts())
    row = c3.loc[key]
    assert (row.status, row.status_reason, row.age_weeks) == ("closed", "resolved", 2)
    assert row.last_seen_cycle == C2.date() and row.closed_cycle == C3
    # cycle 4: still gone -> no longer listed; back in cycle 5 -> raised anew, the old update no longer applies
    c4, _ = _cycle(C4, c3.reset_index(drop=True), upd, kpi_alerts=_alerts())
    assert key not in c4.index
    c5, _ = _cycle(C4 + pd.Timedelta(days=7), c3.reset_index(drop=True), upd, kpi_alerts=_alerts("otif_pct"))
    assert (c5.loc[key, "status"], c5.loc[key, "age_weeks"]) == ("open", 0)


def test_a_person_closes_an_exception_and_it_stays_closed_while_the_condition_stays():
    plan = _plan([("A", 1, 0.0, "ok", "M1"), ("B", 2, 40.0, "stockout", "M1"), ("B", 3, 10.0, "stockout", "M1")])
    key = ex.exception_key("infeasible_plan", "B")
    c1, _ = _cycle(C1, None, plan=plan)
    assert list(c1.index) == [key]  # A has no cut and no stockout
    assert c1.loc[key, "message"] == "B: 50 units cut (M1 full through the horizon); stockout in 2 week(s) from week 2"
    assert c1.loc[key, "severity"] == "high" and c1.loc[key, "owner"] == "Master scheduler"
    upd = _updates([(key, "closed", "Plant lead", "accepted: promo cut", "bo", "2026-11-04", 7)])
    c2, _ = _cycle(C2, c1.reset_index(drop=True), upd, plan=plan)
    assert (c2.loc[key, "status"], c2.loc[key, "status_reason"]) == ("closed", "closed by bo")
    assert (c2.loc[key, "owner"], c2.loc[key, "owner_source"], c2.loc[key, "closed_cycle"]) == (
        "Plant lead",
        "update",
        C2,
    )
    # next cycle, no new update in the (delta) file: the close and the owner carry over
    c3, _ = _cycle(C3, c2.reset_index(drop=True), None, plan=plan)
    assert (c3.loc[key, "status"], c3.loc[key, "owner"], c3.loc[key, "closed_cycle"]) == (
        "closed",
        "Plant lead",
        C2,
    )
    assert c3.loc[key, "age_weeks"] == 2


def test_unknown_keys_are_rejected_naming_row_and_column():
    key = ex.exception_key("kpi_alert", "kpi_off_target:otif_pct")
    upd = _updates(
        [
            (key, "acknowledged", None, None, "ana", "2026-11-02", 2),
            ("EX-nope", "closed", None, None, "x", "2026-11-02", 3),
        ]
    )
    c2, issues = _cycle(C2, None, upd, kpi_alerts=_alerts("otif_pct"))
    assert issues.to_dict("records") == [
        {
            "extract": "exception_updates",
            "source_row": 3,
            "column_name": "exception_key",
            "value": "EX-nope",
            "reason": "exception_updates row 3, column exception_key: 'EX-nope' is not an exception of cycle "
            "2026-11-08 or of the previous cycle; update ignored",
        }
    ]
    # first seen this cycle but answered on 2026-11-02 (the week after cycle 2026-11-01): raised then, age 1
    assert (c2.loc[key, "first_raised_cycle"], c2.loc[key, "age_weeks"], c2.loc[key, "status"]) == (
        C1.date(),
        1,
        "acknowledged",
    )


def test_owner_from_raci_extract_then_source_then_default():
    board = pd.DataFrame(
        {
            "rank": [1, 3],
            "kind": ["supplier", "asset"],
            "entity_id": ["S1", "M2"],
            "signal": ["otif_decline", "downtime_trend"],
            "root_cause": ["supplier S1", "asset M2"],
            "detail": ["", ""],
            "mitigation": ["dual source", ""],
            "owner": ["Procurement", "Maintenance"],
        }
    )
    cands = ex.candidates(risk_board=board, kpi_alerts=_alerts("otif_pct"))
    owners = dict(zip(cands.subject, ex.assign_owner(cands)))
    assert owners == {"S1": "Procurement", "M2": "Maintenance", "otif_pct": "Ops leader + Commercial leader"}
    raci = pd.DataFrame({"area": ["risk", "kpi"], "kind": ["*", "kpi_alert"], "owner": ["Head of procurement", "COO"]})
    owners = dict(zip(cands.subject, ex.assign_owner(cands, raci)))
    assert owners == {"S1": "Head of procurement", "M2": "Head of procurement", "otif_pct": "COO"}
    sev = dict(zip(cands.subject, cands.severity))
    assert sev == {"S1": "high", "M2": "medium", "otif_pct": "high"}


def test_proposals_and_late_purchases_and_controls():
    log = pd.DataFrame(
        {
            "status": ["proposed", "approved"],
            "kind": ["make_vs_buy", "expedite"],
            "subject": ["SKU1", "SKU2"],
            "value": ["buy", "yes"],
            "effect": ["buys 100 units", ""],
            "responsible": ["Master scheduler", "Master scheduler"],
        }
    )
    req = pd.DataFrame(
        {"component_sku": ["C1", "C1", "C2"], "supplier_id": ["S1", "S1", "S2"], "is_late": [True, True, False]}
    )
    controls = pd.DataFrame(
        {
            "family": ["F1", "F2"],
            "week_start": ["2026-11-23", "2026-11-23"],
            "planned_demand_units": [100.0, 50.0],
            "difference_units": [0.0, 5.0],
        }
    )
    cands = ex.candidates(decision_log=log, purchase_requirements=req, demand_plan_controls=controls)
    assert sorted(zip(cands.kind, cands.natural_key)) == [
        ("demand_plan_control", "F2:2026-11-23"),
        ("late_purchase", "C1:S1"),
        ("proposal", "make_vs_buy:SKU1"),
    ]
    # no late flag yet (the MRP output without it): no late purchases
    assert ex.from_late_purchases(req.drop(columns="is_late")).empty


def test_breaks_name_what_is_wrong():
    cands = ex.candidates(kpi_alerts=_alerts("otif_pct", "fill_rate_pct"))
    out, _ = ex.carry_forward(cands, ex.assign_owner(cands), None, None, C1)
    assert ex.exception_breaks(out, cands) == []
    bad = pd.concat([out, out.iloc[[0]]]).reset_index(drop=True)
    bad.loc[1, "age_weeks"] = -1
    bad.loc[1, "status"] = "closed"
    breaks = ex.exception_breaks(bad, cands)
    assert any("appear more than once" in b for b in breaks)
    assert any("not listed exactly once" in b for b in breaks)
    assert any("negative age" in b for b in breaks)
    assert any("without a reason" in b for b in breaks)


@pytest.mark.parametrize(
    "day,sunday", [("2026-11-22", "2026-11-22"), ("2026-11-23 08:00", "2026-11-22"), ("2026-11-28", "2026-11-22")]
)
def test_an_update_answers_the_cycle_of_the_sunday_before_it(day, sunday):
    assert ex.answered_cycle(day) == pd.Timestamp(sunday)


def test_a_bad_status_or_an_update_after_the_as_of_never_reaches_the_workflow(tmp_path):
    """Ingest (real DuckDB + the GX suite): a status outside open/acknowledged/closed is quarantined naming
    row and column; an update after the as-of is cut; the good row loads."""
    from datetime import date

    import duckdb

    from sop_pipeline.ingest import ingest_extract, load_suite
    from sop_pipeline.settings import REPO_ROOT

    (tmp_path / "exception_updates.csv").write_text(
        "exception_key,status,owner,note,updated_by,updated_at\n"
        "EX-aaaaaaaaaaaa,acknowledged,,on it,ana,2025-01-20 09:00:00\n"
        "EX-bbbbbbbbbbbb,done,,,bo,2025-01-21 09:00:00\n"
        "EX-cccccccccccc,closed,,,bo,2025-02-03 09:00:00\n"
    )
    con = duckdb.connect()
    suite = load_suite(REPO_ROOT / "expectations", "exception_updates")
    report = ingest_extract(con, "exception_updates", tmp_path, suite, date(2025, 1, 31), max_quarantine_share=None)
    rows = con.execute(
        "select _source_row, _rules, _columns, _reasons from quarantine.exception_updates order by _source_row"
    ).fetchall()
    assert rows == [
        (3, "category", "status", "'status' must be one of open, acknowledged, closed (value: done)"),
        (
            4,
            "after_as_of",
            "updated_at",
            "dated after the cycle's as-of 2025-01-31: excluded from this cycle (value: 2025-02-03 09:00:00)",
        ),
    ]
    assert con.execute("select exception_key from raw.exception_updates").fetchall() == [("EX-aaaaaaaaaaaa",)]
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined, report.rows_after_as_of) == (3, 1, 1, 1)


def test_the_pack_lists_open_exceptions_by_owner_oldest_first(tmp_path):
    from sop_pipeline.report import write_meeting_pack
    from tests.unit.test_report import _panel, _serving

    cands = ex.candidates(
        kpi_alerts=_alerts("otif_pct", "fill_rate_pct"),
        plan=_plan([("B", 2, 40.0, "stockout", "M1"), ("C", 1, 5.0, "ok", "M1")]),
    )
    keys = dict(zip(cands.natural_key, cands.exception_key))
    upd = _updates(
        [
            (keys["B"], "acknowledged", None, "", "bo", "2026-11-05", 2),  # answered cycle 2026-11-01: age 3
            (keys["kpi_off_target:fill_rate_pct"], "closed", None, "", "ana", "2026-11-20", 3),
        ]
    )
    out, _ = ex.carry_forward(cands, ex.assign_owner(cands), None, upd, C4)
    pack = write_meeting_pack(_serving(tmp_path / "sop.duckdb", {"exceptions": out}), tmp_path)
    html = _panel(pack.path.read_text(), "decision-exceptions")
    # Master scheduler owns the oldest (B, raised 2026-11-01) so comes first; B before C inside it
    assert html.index("Master scheduler (2)") < html.index("Ops leader + Commercial leader (1)")
    assert html.index("B: 40 units cut") < html.index("C: 5 units cut")
    assert "otif_pct was" not in html and "otif_pct off target" in html and "fill_rate_pct off target" not in html
    assert "3 open or acknowledged, 1 closed this cycle" in html and "acknowledged" in html
    assert "decision-exceptions" not in pack.no_data
    empty = write_meeting_pack(_serving(tmp_path / "e.duckdb", {}), tmp_path / "e")
    assert "decision-exceptions" in empty.no_data
