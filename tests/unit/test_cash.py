"""Working capital on a tiny ledger: every number below is worked out by hand in the comments."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.analytics.cash import (
    PROJECTION_COLUMNS,
    WORKING_CAPITAL_COLUMNS,
    open_balance,
    project_working_capital,
    working_capital,
)

AS_OF = date(2025, 3, 31)  # prior month: 2025-02-28
NaT = None


@pytest.fixture
def ledger():
    ar = pd.DataFrame(
        [
            # doc_id, doc_date, amount, paid_date
            ("I1", "2025-01-15", 100.0, "2025-02-10"),  # closed at both dates
            ("I2", "2025-02-20", 200.0, "2025-03-15"),  # open 02-28, closed 03-31
            ("I3", "2025-03-10", 300.0, NaT),  # open 03-31
            ("I4", "2025-03-20", 400.0, "2025-04-05"),  # paid after as-of: still open 03-31
            ("I5", "2025-04-02", 999.0, NaT),  # issued after as-of: ignored
            ("I6", "2025-02-28", 50.0, "2025-02-28"),  # paid the day it was issued: not open on 02-28
        ],
        columns=["doc_id", "doc_date", "amount", "paid_date"],
    )
    # AR(03-31) = 300 + 400 = 700; AR(02-28) = 200
    ap = pd.DataFrame(
        [
            ("B1", "2025-02-01", 150.0, "2025-03-05"),  # open 02-28, closed 03-31
            ("B2", "2025-03-15", 250.0, NaT),  # open 03-31
        ],
        columns=["doc_id", "doc_date", "amount", "paid_date"],
    )
    # AP(03-31) = 250; AP(02-28) = 150
    days = pd.date_range("2024-01-01", "2025-04-30", freq="D")
    revenue = pd.DataFrame({"date": days, "revenue": np.where(days <= "2025-03-31", 10.0, 1e6)})  # 10 / day
    cogs = pd.DataFrame({"date": days, "cogs": np.where(days <= "2025-03-31", 6.0, 1e6)})  # 6 / day
    # inventory at cost: 600 from 2024-01-01 (two locations, 400 + 200), 900 from 2025-03-01
    inventory = pd.DataFrame(
        {
            "date": ["2024-01-01", "2024-01-01", "2025-03-01", "2025-04-15"],
            "inventory_value": [400.0, 200.0, 900.0, 5e6],
        }
    )
    return ar, ap, inventory, revenue, cogs


def test_open_balance_rules(ledger):
    ar, ap, *_ = ledger
    assert open_balance(ar, date(2025, 3, 31)) == 700.0
    assert open_balance(ar, date(2025, 2, 28)) == 200.0
    assert open_balance(ap, date(2025, 2, 28)) == 150.0


def test_working_capital_by_hand(ledger):
    out = working_capital(*ledger, as_of=AS_OF, days=30)
    assert list(out.columns) == WORKING_CAPITAL_COLUMNS
    assert out["point"].tolist() == ["as_of", "prior_month", "change"]
    now, prior, change = (out.iloc[i] for i in range(3))
    assert (now["date"], prior["date"], change["date"]) == (AS_OF, date(2025, 2, 28), AS_OF)

    # DSO = AR / revenue of 30 days x 30: 700 / 300 x 30 = 70; prior 200 / 300 x 30 = 20
    assert now["revenue_period"] == 300.0
    assert now["dso_days"] == pytest.approx(70.0)
    assert prior["dso_days"] == pytest.approx(20.0)
    # DPO = AP / COGS of 30 days x 30: 250 / 180 x 30 = 41.667; prior 150 / 180 x 30 = 25
    assert now["dpo_days"] == pytest.approx(250 / 180 * 30)
    assert prior["dpo_days"] == pytest.approx(25.0)
    # COGS of 12 months = 365 x 6 = 2190 at both dates.
    # Average inventory over 2024-04-01..2025-03-31: 334 days at 600 + 31 days at 900 = 625.479;
    # turns = 2190 / 625.479 = 3.501; DIO = 365 / turns = 625.479 / 6 = 104.247 days
    avg_now = (334 * 600 + 31 * 900) / 365
    assert now["cogs_12m"] == 2190.0
    assert now["avg_inventory_12m"] == pytest.approx(avg_now)
    assert now["inventory_turns"] == pytest.approx(2190 / avg_now)
    assert now["dio_days"] == pytest.approx(avg_now / 6)
    # prior: 2024-03-01..2025-02-28 all at 600 -> turns 3.65, DIO 100
    assert prior["inventory_turns"] == pytest.approx(3.65)
    assert prior["dio_days"] == pytest.approx(100.0)
    # CCC = DIO + DSO - DPO
    assert now["ccc_days"] == pytest.approx(avg_now / 6 + 70 - 250 / 180 * 30)
    assert prior["ccc_days"] == pytest.approx(95.0)
    # working capital = AR + inventory - AP: 700 + 900 - 250 = 1350; prior 200 + 600 - 150 = 650
    assert (now["inventory_value"], prior["inventory_value"]) == (900.0, 600.0)
    assert (now["working_capital"], prior["working_capital"]) == (1350.0, 650.0)
    # cash tied up = dAR 500 + dInventory 300 - dAP 100 = 700
    assert change["cash_tied_up"] == pytest.approx(700.0)
    assert change["dso_days"] == pytest.approx(50.0)
    assert np.isnan(now["cash_tied_up"]) and np.isnan(prior["cash_tied_up"])


def test_ratios_are_nan_without_denominator(ledger):
    ar, ap, inventory, revenue, cogs = ledger
    out = working_capital(ar, ap, inventory.iloc[:0], revenue.iloc[:0], cogs.iloc[:0], AS_OF)
    now = out.iloc[0]
    assert now["ar_value"] == 700.0
    assert np.isnan(now["dso_days"]) and np.isnan(now["dio_days"]) and np.isnan(now["inventory_value"])


def test_projection_holds_dso_and_dpo(ledger):
    planned = pd.DataFrame(
        {
            "week_start": ["2025-04-07", "2025-04-14", "2025-04-21"],
            "revenue": [70.0, 140.0, 70.0],  # 10, 20, 10 per day
            "cogs": [42.0, 42.0, 42.0],  # 6 per day
            "inventory_value": [900.0, 1000.0, 800.0],
        }
    )
    opening = {"ar_value": 700.0, "ap_value": 250.0, "inventory_value": 900.0}  # working capital 1350
    out = project_working_capital(planned, dso=10, dpo=7, opening=opening)
    assert list(out.columns) == PROJECTION_COLUMNS
    # AR = revenue of the last 10 days at each week end (Sunday):
    #   wk1: 7 d x 10 + 3 d before the plan at wk1's rate 10 = 100; wk2: 7 x 20 + 3 x 10 = 170;
    #   wk3: 7 x 10 + 3 x 20 = 130.  AP = COGS of the last 7 days = 42.
    assert out["ar_value"].tolist() == pytest.approx([100.0, 170.0, 130.0])
    assert out["ap_value"].tolist() == pytest.approx([42.0, 42.0, 42.0])
    # WC = AR + inventory - AP: 958, 1128, 888; cash tied up vs opening 1350: -392, +170, -240
    assert out["working_capital"].tolist() == pytest.approx([958.0, 1128.0, 888.0])
    assert out["cash_tied_up"].tolist() == pytest.approx([-392.0, 170.0, -240.0])
    assert out["cumulative_cash_tied_up"].tolist() == pytest.approx([-392.0, -222.0, -462.0])
    # forward DIO = inventory / daily COGS: 900 / 6, 1000 / 6, 800 / 6; CCC = DIO + 10 - 7
    assert out["dio_days"].tolist() == pytest.approx([150.0, 1000 / 6, 800 / 6])
    assert out["ccc_days"].tolist() == pytest.approx([153.0, 1000 / 6 + 3, 800 / 6 + 3])

    # With actuals before the plan (week of 03-31 at 30 / day): wk1 AR = 70 + 3 x 30 = 160
    history = pd.DataFrame({"week_start": ["2025-03-31"], "revenue": [210.0], "cogs": [42.0]})
    with_history = project_working_capital(planned, dso=10, dpo=7, history_weekly=history)
    assert with_history["ar_value"].iloc[0] == pytest.approx(160.0)
    assert np.isnan(with_history["cash_tied_up"].iloc[0])  # no opening balances given
    # Fractional DSO 10.5: wk1 AR = 70 + 3.5 x 10 = 105
    assert project_working_capital(planned, dso=10.5, dpo=7)["ar_value"].iloc[0] == pytest.approx(105.0)


def test_planner_readable_errors(ledger):
    ar, ap, inventory, revenue, cogs = ledger
    with pytest.raises(ValueError, match="missing column.*revenue"):
        working_capital(ar, ap, inventory, revenue.rename(columns={"revenue": "sales"}), cogs, AS_OF)
    with pytest.raises(ValueError, match="DSO and DPO"):
        project_working_capital(
            pd.DataFrame(columns=["week_start", "revenue", "cogs", "inventory_value"]), dso=-1, dpo=5
        )
