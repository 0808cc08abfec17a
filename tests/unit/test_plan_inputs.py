"""The plan's inputs from warehouse frames equal the SQL they replaced (analytics.plan_inputs)."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import special

from sop_pipeline.analytics import plan_inputs, safety_stock

WEEK1, AS_OF, HORIZON_END = date(2026, 11, 16), date(2026, 11, 15), date(2027, 2, 14)


def _purchase_orders():
    return pd.DataFrame(
        {
            "po_id": ["P1", "P1", "P2", "P3", "P4", "P5"],
            "line": [1, 2, 1, 1, 1, 1],
            "sku": ["A", "A", "B", "B", "C", "A"],
            "qty": [10.0, 5.0, 8.0, 4.0, 3.0, 6.0],
            "promised_date": pd.to_datetime(
                ["2026-11-25", "2026-11-10", "2026-10-01", "2026-12-03", "2027-03-01", "2026-11-30"]
            ),
        }
    )


def _receipts():
    return pd.DataFrame({"po_id": ["P1", "P1", "P3"], "line": [1, 1, 1], "qty": [4.0, 2.5, 4.0]})


def test_scheduled_receipts_equal_the_sql():
    po, rc = _purchase_orders(), _receipts()
    con = duckdb.connect()
    con.execute("set threads = 1")
    con.register("purchase_orders", po)
    con.register("receipts", rc)
    expected = con.execute(
        """
        with received as (select po_id, line, sum(qty) as qty from receipts group by all)
        select po.sku, greatest(date_trunc('week', po.promised_date), cast(? as date)) as week_start,
               po.qty - coalesce(r.qty, 0) as units, po.po_id || '/' || po.line as order_id
        from purchase_orders po left join received r using (po_id, line)
        where po.qty - coalesce(r.qty, 0) > 0
          and po.promised_date >= cast(? as date) - ?::integer
          and date_trunc('week', po.promised_date) <= cast(? as date)
        order by po.sku, week_start, order_id""",
        [WEEK1, AS_OF, plan_inputs.OPEN_ORDER_GRACE_DAYS, HORIZON_END],
    ).df()
    got = plan_inputs.scheduled_receipts(po, rc, WEEK1, AS_OF, HORIZON_END)
    assert got.order_id.tolist() == ["P1/2", "P1/1", "P5/1"]  # P2 closed short, P3 received, P4 after the horizon
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert got.week_start.tolist() == list(pd.to_datetime(["2026-11-16", "2026-11-23", "2026-11-30"]))


def test_capacity_hours_and_bottleneck():
    capacity = pd.DataFrame(
        {
            "resource_id": ["M1", "M2", "M1", "M2"],
            "week_start": pd.to_datetime(["2026-11-16", "2026-11-16", "2026-11-23", "2026-11-23"]),
            "available_hours": [40.0, 30.0, 10.0, np.nan],
            "changeover_hours": [5.0, None, 12.0, 1.0],
            "load_pct": [50.0, 90.0, 70.0, 80.0],
        }
    )
    routings = pd.DataFrame({"sku": ["A", "B", "C"], "resource_id": ["M1", "M3", "M2"], "units_per_hour": [1.0, 2, 3]})
    critical, hours, bottleneck = plan_inputs.capacity_inputs(capacity, routings)
    assert critical.sku.tolist() == ["A", "C"] and bottleneck == "M2"
    assert hours.hours.tolist() == [35.0, 30.0, 0.0, 0.0]
    assert plan_inputs.capacity_inputs(capacity.iloc[:0], routings)[2] is None


def test_consensus_demand_prefers_consensus_and_adds_sensing():
    weeks = pd.to_datetime(["2026-11-16", "2026-11-23"])
    forecast = pd.DataFrame(
        {
            "sku": ["A", "A"],
            "week_start": weeks,
            "horizon_week": [1, 2],
            "units_p50": [10.0, 0.0],
            "revenue": [50.0, 0.0],
        }
    )
    consensus = pd.DataFrame({"sku": ["A", "A"], "week_start": [weeks[0]] * 2, "consensus_units": [12.0, 14.0]})
    sensing = pd.DataFrame({"sku": ["A"], "week_start": [weeks[1]], "sensed_units": [3.0], "baseline_units": [1.0]})
    demand = plan_inputs.consensus_demand(forecast, consensus, sensing, 13)
    assert demand.demand_units.tolist() == [13.0, 2.0]
    assert demand.demand_source.tolist() == ["consensus", "statistical+sensing"]
    assert demand.selling_price.iloc[0] == 5.0 and np.isnan(demand.selling_price.iloc[1])  # no price at 0 units


def test_priority_puts_class_first_then_margin_per_bottleneck_hour():
    items = pd.DataFrame({"sku": ["A", "B", "C"], "unit_price": [10.0, 10.0, 10.0], "unit_cost": [5.0, 2.0, 1.0]})
    abc = pd.DataFrame({"sku": ["A", "B"], "abc": ["A", "A"]})
    routings = pd.DataFrame({"sku": ["A", "B", "C"], "resource_id": ["M1"] * 3, "units_per_hour": [10.0, 1.0, 1.0]})
    priority = plan_inputs.plan_priority(items, abc, routings, "M1")
    assert priority.sort_values().index.tolist() == ["A", "B", "C"]


def _seasonal_policy(**overrides) -> pd.DataFrame:
    row = {
        "k": 2.7,  # the 156-week policy's factor: not used for the season's weeks
        "service_target": 0.9,
        "lead_time_mean_weeks": 2.0,
        "lead_time_sd_weeks": 0.0,
        "review_period_weeks": 1.0,
        "lifecycle": "active",
        "target_source": "default",
    }
    return pd.DataFrame([{"sku": sku, **row, **overrides.get(sku, {})} for sku in ("S", "Y", "M", "Q")])


def _band(sku: str, p50: list[float], sigma: list[float], model="between_seasons") -> pd.DataFrame:
    z90 = plan_inputs.Z90
    weeks = pd.date_range("2026-11-23", periods=len(p50), freq="7D")
    p50, sigma = np.asarray(p50, float), np.asarray(sigma, float)
    return pd.DataFrame(
        {
            "sku": sku,
            "week_start": weeks,
            "units_p10": p50 - z90 * sigma,
            "units_p50": p50,
            "units_p90": p50 + z90 * sigma,
            "model": model,
        }
    )


def test_seasonal_safety_stock_is_the_fill_rate_policy_of_each_weeks_protection_interval():
    """For a SKU forecast between seasons in every week: the item's fill-rate policy (its target, lead
    time, review period) on the demand of the P = L + R weeks that end with the week - on a flat
    stretch exactly the policy of a stationary item with that week's mean and spread, not the
    156-week policy's k. A year-round SKU, one between seasons in some weeks only, and one whose
    policy has no finite k get no row."""
    flat = _band("S", [100.0] * 6, [30.0] * 6)
    forecast = pd.concat(
        [
            flat,
            _band("Y", [10.0] * 6, [2.0] * 6, model="lightgbm"),
            _band("M", [10.0] * 6, [2.0] * 6).assign(model=["between_seasons"] * 5 + ["lightgbm"]),
            _band("Q", [10.0] * 6, [2.0] * 6),
        ]
    )
    policy = _seasonal_policy(Q={"k": np.nan})
    out = plan_inputs.seasonal_safety_stock(policy, forecast)
    assert set(out.sku) == {"S"} and list(out.week_start) == list(flat.week_start)
    stationary = safety_stock.safety_stock_policies(
        pd.DataFrame(
            {
                "mean_weekly_demand": [100.0],
                "sd_weekly_demand": [30.0],
                "lead_time_mean_weeks": [2.0],
                "lead_time_sd_weeks": [0.0],
                "review_period_weeks": [1.0],
                "service_target": [0.9],
            }
        ),
        service_type="fill_rate",
        exact_loss=True,
    )
    assert np.allclose(out.safety_stock_units, stationary.safety_stock_units.iloc[0])
    # 0.9 fill rate of 100 a week with sigma_DL = 30 x sqrt(3): k well below the 156-week policy's 2.7
    assert stationary.k.iloc[0] < 1.0
    assert plan_inputs.seasonal_safety_stock(policy, forecast.iloc[:0]).empty


def test_seasonal_safety_stock_rises_a_lead_time_ahead_and_falls_after_the_peak():
    """A season that opens in week 3: week t's buffer covers the spread of the P weeks that end with it,
    so it is below the week's own stationary figure while the protection interval still holds quiet
    weeks and above it on the way down; a longer lead time spreads it further. A run-out item holds
    none."""
    p50 = [5.0, 5.0, 100.0, 200.0, 200.0, 50.0, 5.0, 5.0]
    sigma = [2.0, 2.0, 40.0, 60.0, 60.0, 20.0, 2.0, 2.0]
    forecast = _band("S", p50, sigma)
    weekly = plan_inputs.seasonal_safety_stock(_seasonal_policy(), forecast).safety_stock_units.to_numpy()
    own = np.array(
        [
            plan_inputs.seasonal_safety_stock(_seasonal_policy(), _band("S", [m] * 8, [s] * 8)).safety_stock_units.iloc[
                0
            ]
            for m, s in zip(p50, sigma)
        ]
    )
    assert weekly[2] < own[2]  # the season's first week: weeks 1-2 were quiet
    assert weekly[5] > own[5] and weekly[6] > own[6]  # after the peak: the peak's spread is still in the interval
    assert weekly[0] == pytest.approx(own[0]) and weekly.argmax() in (3, 4, 5)
    longer = plan_inputs.seasonal_safety_stock(
        _seasonal_policy(S={"lead_time_mean_weeks": 4.0}), forecast
    ).safety_stock_units.to_numpy()
    assert longer[6] > weekly[6]
    run_out = plan_inputs.seasonal_safety_stock(_seasonal_policy(S={"lifecycle": "phase_out"}), forecast)
    assert (run_out.safety_stock_units == 0).all()


def test_protection_interval_sums_take_whole_weeks_back_then_the_fraction():
    keys = np.array(["a", "a", "a", "a", "b", "b"])
    mean = np.array([1.0, 2.0, 4.0, 8.0, 10.0, 20.0])
    mu, var = plan_inputs.protection_interval_sums(keys, mean, mean * 10, np.array([2.5] * 4 + [1.0] * 2))
    # a: week t + week t-1 + half of week t-2, weeks before the first taking the first's
    assert mu[:4].tolist() == [1 + 1 + 0.5, 2 + 1 + 0.5, 4 + 2 + 0.5, 8 + 4 + 1.0]
    assert mu[4:].tolist() == [10.0, 20.0] and np.allclose(var, mu * 10)


def test_seasonal_safety_stock_keeps_the_policys_minimum_cycle_service():
    """The floor the 156-week policy was computed with (its min_cycle_service column; NaN = none) is
    the seasonal weeks' too, whatever the function's default."""
    forecast = _band("S", [200.0] * 4, [20.0] * 4)  # a week's demand far above its spread: the floor binds
    floored = plan_inputs.seasonal_safety_stock(_seasonal_policy(S={"min_cycle_service": 0.6}), forecast)
    none = plan_inputs.seasonal_safety_stock(_seasonal_policy(S={"min_cycle_service": np.nan}), forecast)
    default = plan_inputs.seasonal_safety_stock(_seasonal_policy(), forecast)
    assert np.allclose(floored.safety_stock_units, default.safety_stock_units)
    assert (none.safety_stock_units < floored.safety_stock_units - 1.0).all()
    lower = plan_inputs.seasonal_safety_stock(_seasonal_policy(S={"min_cycle_service": 0.55}), forecast)
    assert (lower.safety_stock_units < floored.safety_stock_units).all()


def test_band_split_reads_a_normal_band_exactly_and_a_skewed_one_by_its_upper_half():
    """A normal's band gives back its mean and sd; a band skewed above its p50 (p10 1.5, p50 3.9,
    p90 97.5: a season that may open) gives the upper half's sd (p90 - p50) / 1.2816 and a mean
    well above the p50; one skewed below, a small upper sd and a mean below the p50."""
    z90 = plan_inputs.Z90
    mean, sd = plan_inputs.band_split([100 - z90 * 30, 0.0], [100.0, 0.0], [100 + z90 * 30, 0.0])
    assert mean[0] == pytest.approx(100.0) and sd[0] == pytest.approx(30.0)
    assert mean[1] == 0.0 and sd[1] == 0.0
    mean, sd = plan_inputs.band_split([1.5], [3.9], [97.5])
    assert sd[0] == pytest.approx((97.5 - 3.9) / z90)
    assert mean[0] == pytest.approx(3.9 + np.sqrt(2 / np.pi) * ((97.5 - 3.9) - (3.9 - 1.5)) / z90)
    mean, sd = plan_inputs.band_split([12.0], [34.1], [39.8])
    assert sd[0] == pytest.approx(5.7 / z90) and mean[0] < 34.1
    # out-of-order or negative quantiles are clipped, never a negative mean or NaN
    mean, sd = plan_inputs.band_split([-4.0], [2.0], [1.0])
    assert mean[0] >= 0 and sd[0] == 0.0


def test_seasonal_safety_stock_of_a_skewed_opening_week_stays_within_its_band():
    """Seed 227's SKU0147: week 1 between seasons with a band skewed far above its p50 (the season
    may open), then the season. Read as p50 3.9 with sd 37 (a gamma of shape 0.01) its week-1
    stock was 459 at P = 1, an order-up-to level 4.7 times the band's p90. Read as a split normal
    it is the fill-rate policy of the upper half (a normal of sd (p90 - p50) / 1.2816) with the
    band's mean as the demand whose 10% may go short: a level between the p50 and the p90."""
    p10 = [1.5, 30.0, 60.0, 70.0, 60.0, 30.0]
    p50 = [3.9, 60.0, 110.0, 130.0, 110.0, 60.0]
    p90 = [97.5, 95.0, 170.0, 200.0, 170.0, 95.0]
    forecast = pd.DataFrame(
        {
            "sku": "S",
            "week_start": pd.date_range("2026-11-23", periods=6, freq="7D"),
            "units_p10": p10,
            "units_p50": p50,
            "units_p90": p90,
            "model": "between_seasons",
        }
    )
    policy = _seasonal_policy(S={"lead_time_mean_weeks": 0.0})  # P = 1: week t's own band
    weekly = plan_inputs.seasonal_safety_stock(policy, forecast).safety_stock_units.to_numpy()
    assert 3.9 + 0.5 * (97.5 - 3.9) < weekly[0] + 3.9 < 97.5
    mean, sd = plan_inputs.band_split(p10[:1], p50[:1], p90[:1])
    alone = safety_stock.safety_stock_policies(
        pd.DataFrame(
            {
                "mean_weekly_demand": mean,
                "sd_weekly_demand": sd,
                "lead_time_mean_weeks": [0.0],
                "lead_time_sd_weeks": [0.0],
                "review_period_weeks": [1.0],
                "service_target": [0.9],
                "method": ["normal"],
            }
        ),
        service_type="fill_rate",
        exact_loss=True,
    ).safety_stock_units.iloc[0]
    assert weekly[0] == pytest.approx(alone)
    # the expected shortage above the level, by the split normal, is 10% of the band's mean
    k = weekly[0] / sd[0]
    assert sd[0] * safety_stock.standard_normal_loss(k) == pytest.approx(0.1 * mean[0], rel=0.05)


def test_seasonal_safety_stock_of_a_band_skewed_below_its_median_keeps_the_minimum_cycle_service():
    """The demo's line as its season opens: p10 12.0, p50 34.1, p90 39.8, a band skewed far below its
    p50. The plan covers the p50, already above the 90% fill rate's level (the upper half's sd is
    4.4), so the fill rate alone asks for none; the minimum cycle service (60%) keeps z(0.6) x that
    sd above the p50, as for every item whose demand varies, and no more."""
    forecast = pd.DataFrame(
        {
            "sku": "S",
            "week_start": pd.date_range("2026-11-23", periods=3, freq="7D"),
            "units_p10": [12.0, 12.0, 12.0],
            "units_p50": [34.1, 34.1, 34.1],
            "units_p90": [39.8, 39.8, 39.8],
            "model": "between_seasons",
        }
    )
    policy = _seasonal_policy(S={"lead_time_mean_weeks": 0.0})  # P = 1
    weekly = plan_inputs.seasonal_safety_stock(policy, forecast).safety_stock_units.to_numpy()
    _, sd = plan_inputs.band_split([12.0], [34.1], [39.8])
    assert weekly == pytest.approx(np.full(3, special.ndtri(0.6) * sd[0]))
    assert (weekly > 0).all() and (34.1 + weekly < 39.8).all()
    none = plan_inputs.seasonal_safety_stock(policy, forecast, min_cycle_service=None)
    assert (none.safety_stock_units == 0).all()  # without a floor, none


def _bell_forecast(sku: str = "S") -> pd.DataFrame:
    """A 13-week season: a bell to 200 a week, sd 35% of the mean (at least 2), symmetric bands."""
    weeks = np.arange(13)
    mean = 5.0 + 195.0 * np.sin(np.pi * (weeks + 0.5) / 13) ** 2
    sd = np.maximum(0.35 * mean, 2.0)
    return _band(sku, list(mean), list(sd))


@pytest.mark.parametrize("lead", [0.0, 2.0])
def test_the_seasonal_safety_stock_simulates_to_its_fill_rate_target_and_none_falls_short(lead):
    """The week-by-week stock of a season with symmetric bands, simulated over demand drawn from
    its bands (backorders, weekly order-up-to), gives its 90% fill rate within 1.5 points at P = 1
    and is not short of it at P = 3; the same plan with no safety stock falls short and is flagged."""
    forecast = _bell_forecast()
    policy = _seasonal_policy(S={"lead_time_mean_weeks": lead})
    weekly = plan_inputs.seasonal_safety_stock(policy, forecast)
    sim = plan_inputs.seasonal_fill_simulation(policy, forecast, weekly).set_index("sku")
    assert sim.at["S", "protection_weeks"] == lead + 1
    assert sim.at["S", "sim_gap_pp"] > -plan_inputs.SEASONAL_SIM_TOLERANCE_PP
    if lead == 0:
        assert abs(sim.at["S", "sim_gap_pp"]) <= plan_inputs.SEASONAL_SIM_TOLERANCE_PP and sim.at["S", "on_target"]
    bare = plan_inputs.seasonal_fill_simulation(policy, forecast, weekly.assign(safety_stock_units=0.0))
    assert bare.sim_gap_pp.iloc[0] < -plan_inputs.SEASONAL_SIM_TOLERANCE_PP and not bare.on_target.iloc[0]
    # deterministic: the same seed gives the same figure, another seed a close one
    again = plan_inputs.seasonal_fill_simulation(policy, forecast, weekly)
    assert again.sim_fill_rate.iloc[0] == sim.at["S", "sim_fill_rate"]
    other = plan_inputs.seasonal_fill_simulation(policy, forecast, weekly, seed=11)
    assert abs(other.sim_fill_rate.iloc[0] - sim.at["S", "sim_fill_rate"]) < 0.01


def test_simulated_fill_with_backorders_lets_a_backlog_take_the_next_weeks_stock():
    """P = 2, no safety stock, p50 10 a week, demand 15, 10, 10. Week 1 is 5 short. With backorders
    the 5 wait: week 2's 10 on order pays them first, so week 2 meets 5 of its 10, and the order-up-to
    of week 3 (position -5 + 15 on order) brings 15, which covers week 3: 25 of 35 met on time. Lost
    sales drop the 5: weeks 2 and 3 meet 10 each, 30 of 35."""
    demand = np.array([[15.0, 10.0, 10.0]])
    p50 = np.full(3, 10.0)
    back = plan_inputs.simulate_weekly_plan(p50, np.zeros(3), 2, demand, backorders=True)
    lost = plan_inputs.simulate_weekly_plan(p50, np.zeros(3), 2, demand, backorders=False)
    assert back["fill"] == pytest.approx(25 / 35) and lost["fill"] == pytest.approx(30 / 35)
    assert back["left"] == pytest.approx(0.0) and lost["left"] == pytest.approx(0.0)
