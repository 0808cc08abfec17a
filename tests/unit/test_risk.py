"""Risk signals: CUSUM arithmetic, drift timing on seeded synthetic suppliers, hand-made OTIF /
route / downtime / event cases, impact arithmetic and the top-5 board."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.analytics.risk import (
    BOARD_COLUMNS,
    SIGNAL_COLUMNS,
    RiskSettings,
    alarm_probability,
    asset_downtime_trend,
    cusum_upper,
    open_risk_events,
    po_lines_as_of,
    revenue_at_risk,
    risk_board,
    risk_signals,
    root_cause_of,
    root_causes,
    route_delays,
    sku_exposure_map,
    supplier_lead_time_drift,
    supplier_otif_decline,
    weekly_unplanned_downtime,
)

DISRUPTION = pd.Timestamp("2025-06-15")  # a Sunday; horizon week 1 starts Monday 2025-06-16


def synthetic_supplier(
    supplier_id: str,
    seed: int,
    drift: bool = False,
    base_days: float = 21.0,
    sd_days: float = 3.0,
    lines_per_day: float = 0.6,
    extra_days: float = 12.0,
    drift_weeks: int = 11,
) -> pd.DataFrame:
    """PO lines from 110 weeks before to 4 weeks after the disruption, ~4 lines a week.

    Lead time ~ N(21, 3) days, promised = order + 21 days. With ``drift`` the lead time of lines
    due after (disruption - drift_weeks) ramps up linearly to +``extra_days`` at the disruption.
    """
    rng = np.random.default_rng(seed)
    days = pd.date_range(DISRUPTION - pd.Timedelta(weeks=110), DISRUPTION + pd.Timedelta(weeks=4))
    order = pd.DatetimeIndex(np.repeat(days.to_numpy(), rng.poisson(lines_per_day, len(days))))
    lead = np.round(rng.normal(base_days, sd_days, len(order)))
    if drift:
        start = DISRUPTION - pd.Timedelta(weeks=drift_weeks)
        due = order + pd.Timedelta(days=base_days)
        lead = lead + np.round(extra_days * np.clip((due - start).days / (DISRUPTION - start).days, 0, 1))
    return pd.DataFrame(
        {
            "supplier_id": supplier_id,
            "sku": f"C-{supplier_id}",
            "po_id": [f"{supplier_id}-{i}" for i in range(len(order))],
            "line": 1,
            "order_date": order,
            "promised_date": order + pd.Timedelta(days=base_days),
            "receipt_date": order + pd.to_timedelta(lead, unit="D"),
            "qty_ordered": 100.0,
            "qty_received": 100.0,
        }
    )


# ----------------------------------------------------------------------------- CUSUM


def test_cusum_by_hand():
    # S = max(0, S + z - k), k = .5: z 0 -> 0; 1 -> .5; 2 -> 2.0; 3 -> 4.5 (> h = 3: alarm at index 3); 0 -> 4.0
    stats, first = cusum_upper([0.0, 1.0, 2.0, 3.0, 0.0], k=0.5, h=3.0)
    assert stats.tolist() == pytest.approx([0.0, 0.5, 2.0, 4.5, 4.0])
    assert first == 3
    assert cusum_upper([0.4] * 100, k=0.5, h=5.0)[1] is None  # below the allowance never accumulates
    assert alarm_probability(5.0, 5.0) == pytest.approx(0.5)
    assert alarm_probability(7.0, 5.0) == pytest.approx(1 / (1 + math.exp(-2)))


# ----------------------------------------------------------------------------- drift


def test_drift_alarm_fires_before_the_disruption_without_look_ahead():
    lines = synthetic_supplier("SUP-D", seed=7, drift=True)
    out = supplier_lead_time_drift(lines, DISRUPTION.date()).iloc[0]
    assert out["alarm"] and out["status"] == "alarm"
    alarm = pd.Timestamp(out["first_alarm_date"])
    assert alarm < DISRUPTION
    assert alarm >= DISRUPTION - pd.Timedelta(weeks=11)  # not before the drift started
    assert DISRUPTION - alarm >= pd.Timedelta(weeks=3)  # early enough to act on
    assert out["baseline_lead_time_days"] == pytest.approx(21.0, abs=0.5)
    assert out["shift_days"] > 4.0
    # no look-ahead: rows after as-of change nothing
    known = lines[(lines["order_date"] <= DISRUPTION)].copy()
    known.loc[known["receipt_date"] > DISRUPTION, ["receipt_date"]] = pd.NaT
    known.loc[known["receipt_date"].isna(), "qty_received"] = 0.0
    pd.testing.assert_frame_equal(
        supplier_lead_time_drift(known, DISRUPTION.date()), supplier_lead_time_drift(lines, DISRUPTION.date())
    )
    # before the drift begins there is nothing to see
    early = supplier_lead_time_drift(lines, (DISRUPTION - pd.Timedelta(weeks=12)).date()).iloc[0]
    assert not early["alarm"]


def test_stable_suppliers_rarely_alarm():
    stable = pd.concat([synthetic_supplier(f"S{i:02d}", seed=100 + i) for i in range(20)], ignore_index=True)
    # a wild receipt after as-of must not matter
    stable.loc[stable["receipt_date"] > DISRUPTION, "receipt_date"] += pd.Timedelta(days=90)
    out = supplier_lead_time_drift(stable, DISRUPTION.date())
    assert len(out) == 20 and (out["status"] != "insufficient history").all()
    # CUSUM k = .5, h = 5: in-control run length ~465 weeks -> ~5% per supplier in 26 weeks
    assert out["alarm"].sum() <= 2
    assert out["shift_days"].abs().max() < 2.0


def test_short_history_is_reported_not_guessed():
    lines = synthetic_supplier("NEW", seed=3)
    recent = lines[lines["order_date"] > DISRUPTION - pd.Timedelta(weeks=20)]
    out = supplier_lead_time_drift(recent, DISRUPTION.date()).iloc[0]
    assert out["status"] == "insufficient history" and not out["alarm"]


def test_po_lines_as_of_sums_partial_receipts():
    pos = pd.DataFrame(
        {
            "po_id": ["P1", "P1", "P2"],
            "line": [1, 2, 1],
            "supplier_id": "S1",
            "sku": ["A", "B", "A"],
            "order_date": ["2025-01-01", "2025-01-01", "2025-03-01"],
            "promised_date": ["2025-01-20", "2025-01-20", "2025-03-20"],
            "qty": [100.0, 50.0, 10.0],
        }
    )
    receipts = pd.DataFrame(
        {
            "po_id": ["P1", "P1", "P1", "P2"],
            "line": [1, 1, 2, 1],
            "receipt_date": ["2025-01-18", "2025-01-25", "2025-02-01", "2025-04-02"],
            "qty": [60.0, 40.0, 50.0, 10.0],
        }
    )
    out = po_lines_as_of(pos, receipts, date(2025, 3, 31)).set_index(["po_id", "line"])
    assert out.loc[("P1", 1), "qty_received"] == 100.0
    assert out.loc[("P1", 1), "receipt_date"] == pd.Timestamp("2025-01-25")  # the last receipt
    assert pd.isna(out.loc[("P2", 1), "receipt_date"]) and out.loc[("P2", 1), "qty_received"] == 0.0


# ----------------------------------------------------------------------------- OTIF and routes

AS_OF = pd.Timestamp("2025-06-15")


def _line(supplier: str, promised_days_ago: int, late_days: int | None, qty_received: float = 10.0) -> dict:
    """A PO line promised ``promised_days_ago`` before AS_OF; late_days None = nothing received."""
    promised = AS_OF - pd.Timedelta(days=promised_days_ago)
    return {
        "supplier_id": supplier,
        "sku": f"C-{supplier}",
        "po_id": f"{supplier}-{promised_days_ago}-{late_days}",
        "line": 1,
        "order_date": promised - pd.Timedelta(days=21),
        "promised_date": promised,
        "receipt_date": None if late_days is None else promised + pd.Timedelta(days=late_days),
        "qty_ordered": 10.0,
        "qty_received": 0.0 if late_days is None else qty_received,
    }


@pytest.fixture
def otif_lines() -> pd.DataFrame:
    rows = []
    for s in ("S1", "S2"):
        rows += [_line(s, 70 + 7 * i, 0) for i in range(20)]  # baseline: 20 lines, all OTIF
    # S1 recent (promised within 56 days): 4 OTIF, 1 on time but short, 3 received 5 days late,
    # 2 open and 10 days past due, 1 promised in the future (not due, not counted)
    rows += [_line("S1", 20 + i, 0) for i in range(4)] + [_line("S1", 30, -2, qty_received=8.0)]
    rows += [_line("S1", 40 + i, 5) for i in range(3)] + [_line("S1", 10, None), _line("S1", 10, None)]
    rows += [_line("S1", -5, None)]
    rows += [_line("S2", 20 + i, 0) for i in range(10)]  # S2 recent: 10 / 10 OTIF
    return pd.DataFrame(rows)


def test_otif_decline_by_hand(otif_lines):
    out = supplier_otif_decline(otif_lines, AS_OF.date()).set_index("supplier_id")
    s1 = out.loc["S1"]
    # recent OTIF 4 / 10 = .4 vs baseline 20 / 20 = 1 -> decline .6
    assert (s1["lines_recent"], s1["lines_baseline"]) == (10, 20)
    assert s1["otif_recent"] == pytest.approx(0.4)
    assert s1["otif_decline"] == pytest.approx(0.6)
    # pooled miss share 6 / 30 = .2; se = sqrt(.2 x .8 x (1/10 + 1/20)) = .1549; z = .6 / .1549 = 3.873
    assert s1["z"] == pytest.approx(0.6 / math.sqrt(0.2 * 0.8 * 0.15))
    # days late of the misses: short-but-on-time 0, three at 5, two open at 10 -> 35 / 6
    assert s1["mean_days_late_recent"] == pytest.approx(35 / 6)
    assert s1["flagged"] and not out.loc["S2", "flagged"]


def test_route_delays_by_hand(otif_lines):
    suppliers = pd.DataFrame({"supplier_id": ["S1", "S2"], "route": ["SEA-1", "ROAD-2"]})
    out = route_delays(otif_lines, suppliers, AS_OF.date()).set_index("route")
    sea = out.loc["SEA-1"]
    # late (timing only): 3 received late + 2 open past due = 5 of 10; the short line was on time
    assert sea["late_share_recent"] == pytest.approx(0.5) and sea["late_share_baseline"] == 0.0
    assert sea["mean_days_late_recent"] == pytest.approx((3 * 5 + 2 * 10) / 5)
    assert sea["flagged"] and not out.loc["ROAD-2", "flagged"]


# ----------------------------------------------------------------------------- downtime

DT_AS_OF = date(2025, 6, 29)  # Sunday: 52 full weeks, last one starting 2025-06-23


def _downtime() -> pd.DataFrame:
    weeks = pd.date_range("2024-07-01", "2025-06-23", freq="7D")  # the 52 window Mondays
    rows = []
    for i, monday in enumerate(weeks):
        rows.append(("M1", monday + pd.Timedelta(hours=10), 2.0, False))  # 2 h unplanned every week
        rows.append(("M2", monday + pd.Timedelta(hours=10), 2.0, False))
        rows.append(("M1", monday + pd.Timedelta(hours=30), 12.0, True))  # planned: ignored
        if i >= 44:  # M1: last 8 weeks 6 h unplanned instead of 2
            rows.append(("M1", monday + pd.Timedelta(days=2), 4.0, False))
    frame = pd.DataFrame(rows, columns=["resource_id", "start", "hours", "planned"])
    frame["end"] = frame["start"] + pd.to_timedelta(frame["hours"], unit="h")
    return frame.drop(columns="hours")


def test_weekly_downtime_splits_events_across_weeks():
    events = pd.DataFrame(
        {
            "resource_id": ["M9", "M9"],
            "start": ["2025-06-22 20:00", "2025-06-29 22:00"],
            "end": ["2025-06-23 04:00", None],
            "planned": ["false", "False"],
        }
    )
    out = weekly_unplanned_downtime(events, DT_AS_OF, weeks=2).set_index("week_start")["downtime_hours"]
    # 20:00 Sun -> 04:00 Mon: 4 h in each week; the open event runs to the end of the as-of day: 2 h
    assert out.loc[pd.Timestamp("2025-06-16")] == pytest.approx(4.0)
    assert out.loc[pd.Timestamp("2025-06-23")] == pytest.approx(4.0 + 2.0)


def test_downtime_trend_and_alarm_by_hand():
    out = asset_downtime_trend(_downtime(), DT_AS_OF).set_index("resource_id")
    m1, m2 = out.loc["M1"], out.loc["M2"]
    # prior 39 weeks: 2 h each, sd 0 -> floored at 1 h. Recent 13 weeks: 5 x 2 h then 8 x 6 h.
    assert m1["mean_prior_hours"] == pytest.approx(2.0)
    assert m1["mean_recent_hours"] == pytest.approx((5 * 2 + 8 * 6) / 13)
    # z = (6 - 2) / 1 = 4 (cap 4): S = 3.5, then 7.0 > 5 -> alarm in the 2nd week at 6 h (week 46,
    # Monday 2025-05-12); reported on its Sunday 2025-05-18
    assert m1["alarm"] and m1["first_alarm_date"] == date(2025, 5, 18)
    assert m1["slope_recent"] > 0 and m1["slope_prior"] == pytest.approx(0.0, abs=1e-9)
    assert not m2["alarm"] and m2["cusum"] == 0.0


# ----------------------------------------------------------------------------- events, exposure, impact


def test_open_risk_events_window():
    events = pd.DataFrame(
        {
            "event_id": ["E1", "E2", "E3"],
            "date": ["2025-05-18", "2025-05-19", "2025-06-20"],
            "kind": "route",
            "entity_id": "SEA-1",
            "description": ["old", "in", "future"],
        }
    )
    # 4 weeks up to 2025-06-15: 2025-05-18 < date <= 2025-06-15
    out = open_risk_events(events, AS_OF.date(), weeks=4)
    assert out["event_id"].tolist() == ["E2"] and out["age_days"].tolist() == [27]


def test_exposure_map_follows_the_bom():
    pos = pd.DataFrame({"sku": ["C1", "C2"], "supplier_id": ["S1", "S2"]})
    suppliers = pd.DataFrame({"supplier_id": ["S1", "S2"], "route": ["SEA-1", "ROAD-2"]})
    routings = pd.DataFrame({"sku": ["FG1"], "resource_id": ["M1"]})
    bom = pd.DataFrame({"parent_sku": ["FG1", "FG2"], "component_sku": ["C1", "FG1"]})
    out = sku_exposure_map(pos, suppliers, routings, bom)
    exposed = lambda kind, entity: set(out[(out["kind"] == kind) & (out["entity_id"] == entity)]["sku"])  # noqa: E731
    assert exposed("supplier", "S1") == {"C1", "FG1", "FG2"}  # two BOM levels up
    assert exposed("route", "SEA-1") == {"C1", "FG1", "FG2"}
    assert exposed("asset", "M1") == {"FG1", "FG2"}
    assert exposed("supplier", "S2") == {"C2"}


def test_revenue_at_risk_pro_rata():
    forecast = pd.DataFrame(
        {
            "sku": ["FG1", "FG1", "FG2"],
            "week_start": ["2025-06-16", "2025-06-23", "2025-06-16"],
            "revenue": [700.0, 1400.0, 7000.0],
        }
    )
    # from Mon 06-16: 7 days x 100 + 3 days x 200 = 1300; 3.5 days -> 350; FG2 not asked for
    assert revenue_at_risk(forecast, ["FG1"], date(2025, 6, 16), 10) == pytest.approx(1300.0)
    assert revenue_at_risk(forecast, ["FG1"], date(2025, 6, 16), 3.5) == pytest.approx(350.0)
    # starting Thursday 06-19: 4 days x 100 + 3 days x 200 = 1000
    assert revenue_at_risk(forecast, ["FG1"], date(2025, 6, 19), 7) == pytest.approx(1000.0)
    assert revenue_at_risk(forecast, [], date(2025, 6, 16), 10) == 0.0


# ----------------------------------------------------------------------------- signals and board


def test_risk_signals_and_board():
    drifting = synthetic_supplier("SUP-D", seed=7, drift=True)
    stable = synthetic_supplier("SUP-S", seed=9)  # its CUSUM stays below h (~1 in 20 stable suppliers alarm by chance)
    po_lines = pd.concat([drifting, stable], ignore_index=True)
    suppliers = pd.DataFrame({"supplier_id": ["SUP-D", "SUP-S"], "route": ["SEA-1", "ROAD-2"]})
    events = pd.DataFrame(
        {
            "event_id": ["E7"],
            "date": ["2025-06-08"],
            "kind": "supplier",
            "entity_id": "SUP-S",
            "description": "fire at supplier plant",
        }
    )
    exposure = pd.DataFrame({"sku": ["FG-D", "FG-S"], "kind": "supplier", "entity_id": ["SUP-D", "SUP-S"]})
    weeks = pd.date_range("2025-06-16", periods=13, freq="7D")
    forecast = pd.DataFrame(
        {"sku": np.repeat(["FG-D", "FG-S"], 13), "week_start": list(weeks) * 2, "revenue": 700.0}
    )  # 100 per day each
    signals = risk_signals(
        DISRUPTION.date(),
        po_lines=po_lines,
        suppliers=suppliers,
        risk_events=events,
        forecast_revenue=forecast,
        sku_exposure=exposure,
    )
    assert list(signals.columns) == SIGNAL_COLUMNS
    drift = signals[signals["signal"] == "drift"].iloc[0]
    assert (drift["kind"], drift["entity_id"], drift["owner"]) == ("supplier", "SUP-D", "Procurement")
    assert drift["detected_on"] < DISRUPTION.date()
    assert 0.0 <= drift["probability"] <= 1.0
    assert drift["impact_value"] == pytest.approx(100.0 * drift["exposure_days"])  # 100 / day x shift days
    assert drift["expected_impact"] == pytest.approx(drift["probability"] * drift["impact_value"])
    assert "Pull in open POs" in drift["mitigation"]
    event = signals[signals["signal"] == "event"].iloc[0]
    # age 7 d: p = .8 x .5 ** (7 / 28) = .6727; impact 28 days x 100 = 2800
    assert event["signal_id"] == "event-E7"
    assert event["probability"] == pytest.approx(0.8 * 0.5**0.25)
    assert event["impact_value"] == pytest.approx(2800.0)
    assert event["expected_impact"] == pytest.approx(0.8 * 0.5**0.25 * 2800.0)
    assert not ((signals["entity_id"] == "SUP-S") & (signals["signal"] == "drift")).any()

    board = risk_board(signals, top=5)
    assert list(board.columns) == BOARD_COLUMNS
    assert board["rank"].tolist() == list(range(1, len(board) + 1))
    assert board["expected_impact"].is_monotonic_decreasing


def test_board_orders_by_expected_impact_unknown_last():
    base = {
        "kind": "supplier",
        "signal": "event",
        "detected_on": date(2025, 6, 1),
        "exposure_days": 7.0,
        "mitigation": "m",
        "owner": "Procurement",
        "detail": "",
    }
    rows = [
        ("a", "S1", 0.5, 100.0, 50.0),
        ("b", "S1", 0.9, 100.0, 90.0),
        ("c", "S2", 0.9, np.nan, np.nan),
        ("d", "S3", 0.1, 700.0, 70.0),
    ]
    signals = pd.DataFrame(
        [
            {
                **base,
                "signal_id": sid,
                "entity_id": entity,
                "probability": p,
                "impact_value": impact,
                "expected_impact": expected,
            }
            for sid, entity, p, impact, expected in rows
        ]
    )
    assert risk_board(signals, top=5, by_root_cause=False)["signal_id"].tolist() == ["b", "d", "a", "c"]
    assert risk_board(signals, top=2, by_root_cause=False)["signal_id"].tolist() == ["b", "d"]
    assert risk_board(signals, one_per_entity=True)["signal_id"].tolist() == ["b", "d", "c"]
    # without root_cause each kind and entity is its own root cause: S1's weaker signal supports its stronger one
    board = risk_board(signals)
    assert board["signal_id"].tolist() == ["b", "d", "c"]
    assert board.set_index("signal_id").loc["b", "supporting"] == "event S1"


def test_board_takes_one_line_per_root_cause():
    """A supplier's drift, its OTIF decline and the route only it uses are one root cause: the
    strongest signal leads, the others are supporting evidence; a shared route stays its own."""
    base = {"detected_on": date(2025, 6, 1), "exposure_days": 7.0, "mitigation": "m", "owner": "o", "detail": ""}
    rows = [
        ("drift-S1", "supplier", "S1", "drift", 0.9, 1000.0),
        ("otif-S1", "supplier", "S1", "otif_decline", 1.0, 800.0),
        ("route-SEA", "route", "SEA", "route_delay", 1.0, 950.0),
        ("route-AIR", "route", "AIR", "route_delay", 1.0, 300.0),
        ("dt-M1", "asset", "M1", "downtime_trend", 0.9, 100.0),
        ("ev-M1", "asset", "M1", "event", 0.5, 500.0),
    ]
    signals = pd.DataFrame(
        [
            {
                **base,
                "signal_id": sid,
                "kind": kind,
                "entity_id": entity,
                "signal": sig,
                "probability": p,
                "impact_value": impact / p,
                "expected_impact": impact,
            }
            for sid, kind, entity, sig, p, impact in rows
        ]
    )
    suppliers = pd.DataFrame({"supplier_id": ["S1", "S2", "S3"], "route": ["SEA", "AIR", "AIR"]})
    causes = root_causes(suppliers)
    assert causes == {("route", "SEA"): "supplier S1"}
    signals["root_cause"] = [root_cause_of(k, e, causes) for k, e in zip(signals.kind, signals.entity_id)]
    board = risk_board(signals)
    assert board["signal_id"].tolist() == ["drift-S1", "ev-M1", "route-AIR"]
    assert board["root_cause"].tolist() == ["supplier S1", "asset M1", "route AIR"]
    assert board["supporting"].tolist() == ["route_delay SEA; otif_decline S1", "downtime_trend M1", ""]
    assert board["rank"].tolist() == [1, 2, 3]


def test_missing_extracts_give_no_signals_and_unknown_impact():
    assert risk_signals(AS_OF.date()).empty
    events = pd.DataFrame({"event_id": ["E1"], "date": ["2025-06-10"], "kind": "asset", "entity_id": "M1"})
    out = risk_signals(AS_OF.date(), risk_events=events)
    assert out.iloc[0]["owner"] == "Maintenance" and np.isnan(out.iloc[0]["impact_value"])
    with pytest.raises(ValueError, match="kind 'weather'"):
        risk_signals(AS_OF.date(), risk_events=events.assign(kind="weather"))


def test_settings_are_respected():
    lines = synthetic_supplier("SUP-D", seed=7, drift=True)
    strict = supplier_lead_time_drift(lines, DISRUPTION.date(), RiskSettings(cusum_h=1e9)).iloc[0]
    assert not strict["alarm"]
