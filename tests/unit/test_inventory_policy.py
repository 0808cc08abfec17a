"""The plan's inventory policy around safety stock: stock-point inputs, simulation gaps, chosen curve points."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from sop_pipeline.analytics import inventory_policy as policy


def test_forecast_joined_to_demand_by_sku_and_week_in_demand_order():
    demand = pd.DataFrame(
        {
            "sku": ["B", "A", "A"],
            "units": [5.0, 3.0, 4.0],
            "week_start": pd.to_datetime(["2026-01-05", "2026-01-05", "2026-01-12"]),
        }
    )
    backtest = pd.DataFrame(
        {
            "sku": ["A", "A", "A", "B"],
            "method": ["lightgbm", "lightgbm", "naive", "lightgbm"],
            "lag": [1, 2, 1, 1],
            "week_start": pd.to_datetime(["2026-01-12", "2026-01-05", "2026-01-05", "2026-01-19"]),
            "forecast_units": [4.5, 9.0, 9.0, 9.0],
        }
    )
    out = policy.weekly_demand_with_forecast(demand, backtest)
    assert out.sku.tolist() == ["B", "A", "A"]
    assert out.forecast_units.isna().tolist() == [True, True, False]
    assert out.forecast_units.iloc[2] == 4.5


def test_decision_log_renamed_for_the_overrides():
    staged = pd.DataFrame(
        {
            "cycle_date": ["2026-01-05"],
            "kind": ["service_target"],
            "subject": ["family:F1"],
            "decision_value": ["0.97"],
            "approved": ["yes"],
            "decided_at": ["2026-01-05 10:00"],
            "accountable": ["x"],
        }
    )
    assert list(policy.decision_log(staged).columns) == ["cycle", "kind", "subject", "value", "approved", "decided_at"]


def test_chosen_point_is_the_grid_level_nearest_the_decided_target():
    curve = pd.DataFrame(
        {
            "family": ["F1"] * 4 + ["F2"] * 2,
            "service_level": [0.95, 0.96, 0.97, 0.965, 0.95, 0.99],
            "is_current": [False, False, False, True, False, False],
        }
    )
    out = policy.mark_chosen_points(curve, {"family:F1": 0.964})
    assert out.is_chosen.tolist() == [False, True, False, False, False, False]  # the current point is skipped
    assert out.chosen_level.iloc[0] == 0.964 and out.chosen_level.iloc[4:].isna().all()
    assert "is_chosen" not in curve.columns  # the input is left alone


def _validation(gaps, abc="A", binds=False):
    return pd.DataFrame(
        {
            "sku": [f"S{i}" for i in range(len(gaps))],
            "abc_xyz": [abc + "X"] * len(gaps),
            "policy": ["service_target"] * len(gaps),
            "sim_gap_pp": gaps,
            "safety_stock_units": [10.0] * len(gaps),
            "min_cycle_service_binds": [binds] * len(gaps),
        }
    )


def test_simulation_gaps_pass_within_tolerance_and_list_items_off():
    ok = policy.simulation_gaps(_validation([0.2, -0.5, 1.0]))
    assert ok["passed"] and ok["items"] == 3 and ok["items_off"].empty
    assert ok["median_abs_gap_pp"] == pytest.approx(0.5)
    short = policy.simulation_gaps(_validation([0.2, -3.0, 0.1]))
    assert not short["passed"] and short["items_off"].sku.tolist() == ["S1"]
    assert short["worst_shortfall_pp"] == pytest.approx(3.0)


def test_excess_fill_rate_counts_only_where_the_target_sets_safety_stock():
    assert not policy.simulation_gaps(_validation([0.1, 4.0, 0.2]))["passed"]
    assert policy.simulation_gaps(_validation([0.1, 4.0, 0.2], binds=True))["passed"]
    assert policy.simulation_gaps(_validation([5.0, -5.0], abc="C"))["items"] == 0


def test_lead_times_follow_how_the_item_is_sourced_now():
    """A made item an approved decision gave to a co-packer (B) has no purchase observations yet:
    it takes its family's bought items' (A: 40 and 44 days; C, bought since a decision: 9), pooled,
    not its release-to-completion days; one with purchase observations of its own (C) keeps them;
    an item of a family without bought items (D) pools every bought item's; a decision of a cycle
    after the as-of, or not approved, counts for nothing (E) - the plan's own sourcing rule."""
    items = pd.DataFrame(
        {
            "sku": ["A", "B", "C", "D", "E"],
            "family": ["F", "F", "F", "G", "F"],
            "make_or_buy": ["buy", "make", "make", "make", "make"],
        }
    )
    obs = pd.DataFrame(
        {
            "sku": ["A", "A", "B", "B", "C", "C", "D", "E"],
            "kind": ["buy", "buy", "make", "make", "make", "buy", "make", "make"],
            "lead_time_days": [40.0, 44.0, 0.5, 0.7, 0.6, 9.0, 0.4, 0.3],
        }
    )
    decisions = pd.DataFrame(
        {
            "cycle_date": pd.to_datetime(["2026-06-07", "2026-07-05", "2026-09-27", "2026-10-25", "2026-11-29"]),
            "kind": ["make_vs_buy"] * 5,
            "subject": ["B", "C", "D", "E", "E"],
            "decision_value": ["buy", "buy", "buy", "buy", "buy"],
            "approved": ["yes", "yes", "yes", "no", "yes"],
            "decided_at": pd.to_datetime(["2026-06-09", "2026-07-07", "2026-09-29", "2026-10-27", "2026-12-01"]),
        }
    )
    out, labels = policy.sourced_lead_times(obs, items, decisions, date(2026, 11, 22))
    days = out.groupby("sku").lead_time_days.apply(sorted).to_dict()
    assert days["B"] == [9.0, 40.0, 44.0] and labels["B"] == "family_buy"
    assert days["C"] == [9.0] and "C" not in labels
    assert days["D"] == [9.0, 40.0, 44.0] and labels["D"] == "all_buy"
    assert days["E"] == [0.3] and "E" not in labels
    assert days["A"] == [40.0, 44.0]
    # without kinds every observation is the SKU's own
    plain, none = policy.sourced_lead_times(obs.drop(columns="kind"), items, decisions, date(2026, 11, 22))
    assert len(plain) == len(obs) and none == {}
