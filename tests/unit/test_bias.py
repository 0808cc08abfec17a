"""Sales-forecast bias, tracking signal, the optimism flag and the optimism filter."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.analytics import bias as B

AS_OF = date(2026, 6, 28)  # Sunday; last complete week starts 2026-06-22
ITEMS = pd.DataFrame({"sku": ["A1", "A2", "B1"], "family": ["Alpha", "Alpha", "Beta"]})


def history_actuals(level=100.0, weeks=40) -> pd.DataFrame:
    mondays = pd.date_range(end="2026-06-22", periods=weeks, freq="7D")
    return pd.DataFrame([{"sku": s, "week_start": w, "units": level} for s in ITEMS.sku for w in mondays])


def submissions(factor: dict[str, float], snapshots=20, horizon=13, noise=0.0, seed=0) -> pd.DataFrame:
    """Weekly Monday snapshots; each SKU's forecast = factor x 100 (x lognormal noise)."""
    rng = np.random.default_rng(seed)
    snaps = pd.date_range(end="2026-06-22", periods=snapshots, freq="7D")
    rows = [
        {
            "snapshot_date": s,
            "sku": sku,
            "week_start": s + pd.Timedelta(weeks=h),
            "forecast_source": "sales",
            "units": 100 * factor[sku] * float(np.exp(rng.normal(0, noise))),
        }
        for s in snaps
        for sku in factor
        for h in range(1, horizon + 1)
    ]
    return pd.DataFrame(rows)


def test_tracking_signal_textbook_case():
    snaps = pd.DataFrame(
        {
            "forecast_source": "sales",
            "family": "Alpha",
            "weeks": 1,
            "snapshot_date": pd.date_range("2026-01-05", periods=4, freq="7D"),
            "forecast_units": [110.0, 110.0, 95.0, 110.0],
            "actual_units": [100.0] * 4,
        }
    )
    row = B._window_stats(snaps, ["forecast_source", "family"], B.BiasConfig()).iloc[0]
    assert row.bias == pytest.approx(25 / 400)
    assert row.mad_units == pytest.approx(35 / 4)
    assert row.tracking_signal == pytest.approx(25 / 8.75)
    assert not row.sales_optimism  # +6% is under the 10% threshold


def test_persistently_optimistic_family_is_flagged_and_others_are_not():
    sf = submissions({"A1": 1.25, "A2": 1.20, "B1": 1.0}, noise=0.05)
    out = B.forecast_bias(sf, history_actuals(), ITEMS, AS_OF)
    fam = out[out.level == "family"].set_index("family")
    assert fam.loc["Alpha", "sales_optimism"] and not fam.loc["Beta", "sales_optimism"]
    assert fam.loc["Alpha", "bias"] == pytest.approx(0.225, abs=0.03)
    assert fam.loc["Alpha", "snapshots"] == 13 and fam.loc["Alpha", "tracking_signal"] > 10
    assert "Persistently optimistic" in fam.loc["Alpha", "reason"]
    assert abs(fam.loc["Beta", "bias"]) < 0.05 and "Not flagged" in fam.loc["Beta", "reason"]
    sku = out[out.level == "sku"].set_index("sku")
    assert sku.sales_optimism.to_dict() == {"A1": True, "A2": True, "B1": False}


def test_one_wild_snapshot_is_not_persistent_optimism():
    sf = submissions({"A1": 1.0, "A2": 1.0, "B1": 1.0}, noise=0.05, seed=3)
    wild = sf.snapshot_date == sf.snapshot_date.max() - pd.Timedelta(weeks=13)
    sf.loc[wild & (sf.sku == "A1"), "units"] *= 5  # one wild submission, 13 matured weeks
    fam = B.forecast_bias(sf, history_actuals(), ITEMS, AS_OF).query("level == 'family'").set_index("family")
    alpha = fam.loc["Alpha"]
    assert alpha.bias > 0.10 and alpha.tracking_signal > 4  # bias and tracking signal alone would flag it
    assert alpha.snapshots_over < 2 / 3 * alpha.snapshots and not alpha.sales_optimism


def test_only_matured_weeks_count_and_missing_input_gives_empty_table():
    sf = submissions({"A1": 1.5, "A2": 1.5, "B1": 1.5}, snapshots=2)
    out = B.forecast_bias(sf, history_actuals(), ITEMS, AS_OF)
    fam = out[out.level == "family"].set_index("family")
    assert fam.loc["Alpha", "snapshots"] == 1  # the latest snapshot has no complete week yet
    assert not fam.sales_optimism.any()  # fewer than 4 snapshots
    assert B.forecast_bias(None, history_actuals(), ITEMS, AS_OF).empty


def stat_forecast(units=100.0) -> pd.DataFrame:
    weeks = pd.date_range("2026-06-29", periods=13, freq="7D")
    return pd.DataFrame(
        [
            {"sku": s, "family": f, "week_start": w, "horizon_week": k + 1, "units_p50": units}
            for s, f in zip(ITEMS.sku, ITEMS.family)
            for k, w in enumerate(weeks)
        ]
    )


def test_consensus_shrinks_flagged_input_and_replaces_hockey_weeks():
    sf = submissions({"A1": 1.4, "A2": 0.8, "B1": 1.0}, snapshots=20)
    sf.loc[
        (sf.sku == "B1") & (sf.snapshot_date == sf.snapshot_date.max()) & (sf.week_start >= pd.Timestamp("2026-08-17")),
        "units",
    ] = 300
    bias = B.forecast_bias(sf, history_actuals(), ITEMS, AS_OF)
    hockey = pd.DataFrame(
        {
            "snapshot_date": [sf.snapshot_date.max()],
            "forecast_source": ["sales"],
            "sku": ["B1"],
            "week_start": [pd.Timestamp("2026-08-17")],
            "weeks_flagged": [6],
        }
    )
    cons = B.consensus(sf, stat_forecast(), bias, hockey, AS_OF).set_index(["sku", "horizon_week"])
    a1 = cons.loc["A1"]
    assert np.allclose(a1.sales_units, 140) and np.allclose(a1.consensus_units, 120)
    assert np.allclose(a1.shrunk_units, 20) and a1.rule.str.startswith("optimism filter").all()
    a2 = cons.loc["A2"]  # same flagged family, but below the statistical forecast: kept
    assert np.allclose(a2.consensus_units, 80) and (a2.shrunk_units == 0).all()
    b1 = cons.loc["B1"]
    assert np.allclose(b1.loc[1:7, "consensus_units"], 100) and (b1.loc[1:7, "shrunk_units"] == 0).all()
    assert np.allclose(b1.loc[8:13, "consensus_units"], 100) and np.allclose(b1.loc[8:13, "shrunk_units"], 200)
    assert b1.loc[8:13, "rule"].str.contains("hockey").all()


def test_consensus_without_sales_forecast_is_the_statistical_forecast():
    cons = B.consensus(None, stat_forecast(90.0), pd.DataFrame(columns=B.BIAS_COLUMNS), None, AS_OF)
    assert len(cons) == 39 and (cons.consensus_units == 90).all() and cons.sales_units.isna().all()
    assert cons.rule.str.contains("no sales forecast").all()


def test_latest_submission_gap_to_statistical():
    sf = submissions({"A1": 1.3, "A2": 1.1, "B1": 1.0}, snapshots=3)
    gap = B.compare_with_statistical(sf, stat_forecast(), AS_OF)
    fam = gap[gap.level == "family"].set_index("family")
    assert fam.loc["Alpha", "gap"] == pytest.approx(0.2) and fam.loc["Beta", "gap"] == pytest.approx(0.0)
    assert (gap[gap.level == "sku"].set_index("sku").loc["A1", "sales_units"]) == pytest.approx(130 * 13)
