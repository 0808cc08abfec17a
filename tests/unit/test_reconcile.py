"""Plan of record vs finance plan: weeks split into months by days, partial months pro-rated,
price-volume-mix adding up exactly, and the control totals (no leakage)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sop_pipeline.analytics import pvm
from sop_pipeline.analytics.reconcile import (
    CONTROL_COLUMNS,
    RECONCILIATION_COLUMNS,
    allocate_to_months,
    bridge_residual,
    control_totals,
    family_rollup,
    family_rows_residual,
    horizon_months,
    plan_inventory_value,
    plan_vs_finance,
    prorate_revenue_plan,
    week_month_shares,
)

EFFECTS = ["price_effect", "volume_effect", "mix_effect"]


def _plan(rows, supply_cost: dict | None = None) -> pd.DataFrame:
    """rows: (sku, family, week_start, units, price, unit_cost, projected inventory);
    supply_cost: {(sku, week_start): the row's expedite + alternate-resource cost}."""
    df = pd.DataFrame(
        rows, columns=["sku", "family", "week_start", "demand_units", "price", "cost", "projected_inventory_units"]
    )
    extra = [(supply_cost or {}).get((s, w), 0.0) for s, w in zip(df.sku, df.week_start)]
    df["week_start"] = pd.to_datetime(df["week_start"])
    df["revenue"] = df["demand_units"] * df["price"]
    df["margin"] = df["demand_units"] * (df["price"] - df["cost"])
    df["net_margin"] = df["margin"] - extra
    return df


# Two weeks: Mon 2026-11-23 (all 7 days in November) and Mon 2026-11-30 (1 day in Nov, 6 in Dec).
# Horizon = 23 Nov - 6 Dec: 8 days of November (of 30), 6 days of December (of 31).
PLAN = _plan(
    [
        ("A", "Snacks", "2026-11-23", 70.0, 10.0, 6.0, 30.0),
        ("A", "Snacks", "2026-11-30", 70.0, 10.0, 6.0, 20.0),
        ("B", "Dairy", "2026-11-23", 14.0, 5.0, 4.0, 5.0),
        ("B", "Dairy", "2026-11-30", 14.0, 5.0, 4.0, -3.0),  # projected stockout: counts as 0 at cost
    ],
    supply_cost={("B", "2026-11-30"): 7.0},  # an expedite: 1/7 of it in November, 6/7 in December
)
COSTS = pd.DataFrame({"sku": ["A", "B"], "unit_cost": [6.0, 4.0]})
FINANCE = pd.DataFrame(
    {
        "family": ["Snacks", "Dairy", "Snacks", "Dairy"],
        "month_start": pd.to_datetime(["2026-11-01", "2026-11-01", "2026-12-01", "2026-12-01"]),
        "units": [300.0, 60.0, 310.0, 62.0],
        "revenue": [3000.0, 330.0, 3410.0, 310.0],
    }
)


def test_a_week_across_two_months_is_split_by_its_days():
    shares = week_month_shares(pd.to_datetime(["2026-11-30"])).set_index("month_start")
    assert shares.loc[pd.Timestamp("2026-11-01"), "days"] == 1
    assert shares.loc[pd.Timestamp("2026-12-01"), "days"] == 6
    assert shares["share"].sum() == pytest.approx(1.0)

    months = allocate_to_months(PLAN).set_index(["sku", "month_start"])
    # A: week 1 all November (70 u), week 2: 1/7 November (10 u), 6/7 December (60 u)
    assert months.loc[("A", pd.Timestamp("2026-11-01")), "units"] == pytest.approx(80.0)
    assert months.loc[("A", pd.Timestamp("2026-12-01")), "units"] == pytest.approx(60.0)
    assert months.loc[("A", pd.Timestamp("2026-12-01")), "revenue"] == pytest.approx(600.0)
    assert months.loc[("A", pd.Timestamp("2026-12-01")), "margin"] == pytest.approx(240.0)
    assert months.loc[("B", pd.Timestamp("2026-11-01")), "units"] == pytest.approx(16.0)
    # nothing leaks: the months add up to the weekly plan
    assert months[["units", "revenue", "margin"]].sum().tolist() == pytest.approx(
        [PLAN.demand_units.sum(), PLAN.revenue.sum(), PLAN.margin.sum()]
    )


def test_first_and_last_month_are_partial_and_finance_is_pro_rated_to_their_days():
    months = horizon_months(PLAN.week_start).set_index("month_start")
    nov, dec = months.loc[pd.Timestamp("2026-11-01")], months.loc[pd.Timestamp("2026-12-01")]
    assert (nov.days_covered, nov.days_in_period) == (8, 30)
    assert (dec.days_covered, dec.days_in_period) == (6, 31)
    assert nov.first_day == pd.Timestamp("2026-11-23") and dec.last_day == pd.Timestamp("2026-12-06")
    assert dec.period_end == pd.Timestamp("2026-12-31")

    finance = prorate_revenue_plan(FINANCE, months.reset_index()).set_index(["family", "month_start"])
    assert finance.loc[("Snacks", pd.Timestamp("2026-11-01")), "revenue"] == pytest.approx(3000.0 * 8 / 30)  # 800
    assert finance.loc[("Snacks", pd.Timestamp("2026-12-01")), "revenue"] == pytest.approx(3410.0 * 6 / 31)  # 660
    assert finance.loc[("Dairy", pd.Timestamp("2026-12-01")), "units"] == pytest.approx(62.0 * 6 / 31)  # 12


def test_horizon_bridge_worked_example():
    # Plan of record over the 14 days: Snacks 140 u x 10 = 1400, Dairy 28 u x 5 = 140; T = 168, R = 1540.
    # Finance pro-rated: Snacks 80 + 60 = 140 u, 800 + 660 = 1460; Dairy 16 + 12 = 28 u, 88 + 60 = 148.
    #   P_fin: Snacks 1460/140, Dairy 148/28; T_fin = 168, R_fin = 1608.
    # Same units: volume 0, mix 0 (shares equal); price = 1540 - 1608 = -68
    #   (Snacks 1400 - 1460 = -60, Dairy 140 - 148 = -8).
    out = plan_vs_finance(PLAN, FINANCE)
    assert list(out.columns) == RECONCILIATION_COLUMNS
    horizon = out[out.period == "horizon"].set_index("family")
    total = horizon.loc["ALL"]
    assert total.level == "total" and bool(total.finance_plan_covered)
    assert (total.days_covered, total.days_in_period) == (14, 14)
    assert total.revenue_plan_of_record == pytest.approx(1540.0)
    assert total.revenue_finance_plan == pytest.approx(1608.0)
    assert total.price_effect == pytest.approx(-68.0)
    assert total.volume_effect == pytest.approx(0.0, abs=1e-9)
    assert total.mix_effect == pytest.approx(0.0, abs=1e-9)
    assert horizon.loc["Snacks", "price_effect"] == pytest.approx(-60.0)
    assert horizon.loc["Dairy", "price_effect"] == pytest.approx(-8.0)
    assert total.margin_plan_of_record == pytest.approx(140 * 4 + 28 * 1)
    assert total.net_margin_plan_of_record == pytest.approx(140 * 4 + 28 * 1 - 7)
    assert horizon.loc["Dairy", "net_margin_plan_of_record"] == pytest.approx(28 - 7)
    months = out[(out.period == "month") & (out.level == "total")].set_index("period_start")
    assert months.loc[pd.Timestamp("2026-12-01"), "margin_plan_of_record"] - months.loc[
        pd.Timestamp("2026-12-01"), "net_margin_plan_of_record"
    ] == pytest.approx(6.0)  # the expedite's week has 6 of its 7 days in December
    gross_only = plan_vs_finance(PLAN.drop(columns="net_margin"), FINANCE)  # a plan without supply costs
    assert (gross_only.net_margin_plan_of_record == gross_only.margin_plan_of_record).all()
    # the horizon's family rows are the same numbers pvm gives for the same inputs
    direct = pvm.pvm_bridge_family_plan(
        allocate_to_months(PLAN), prorate_revenue_plan(FINANCE, horizon_months(PLAN.week_start))
    )
    assert direct[EFFECTS].to_numpy() == pytest.approx(horizon.loc[["Dairy", "Snacks", "ALL"], EFFECTS].to_numpy())


def test_month_rows_bridge_each_month_and_add_up():
    out = plan_vs_finance(PLAN, FINANCE)
    months = out[out.period == "month"]
    assert sorted(months.period_start.unique()) == [pd.Timestamp("2026-11-01"), pd.Timestamp("2026-12-01")]
    dec = months[(months.period_start == pd.Timestamp("2026-12-01")) & (months.level == "total")].iloc[0]
    # December: plan of record Snacks 60 u 600, Dairy 12 u 60; finance Snacks 60 u 660, Dairy 12 u 60
    assert (dec.revenue_plan_of_record, dec.revenue_finance_plan) == pytest.approx((660.0, 720.0))
    assert dec.price_effect == pytest.approx(-60.0)
    assert bridge_residual(out) < 1e-9 and family_rows_residual(out) < 1e-9
    # plan of record revenue of the month rows adds up to the plan
    fam = months[months.level == "family"]
    assert fam.revenue_plan_of_record.sum() == pytest.approx(PLAN.revenue.sum())


def test_family_missing_from_finance_plan_lands_in_mix():
    finance = FINANCE[FINANCE.family == "Snacks"]
    out = plan_vs_finance(PLAN, finance)
    dairy = out[(out.period == "horizon") & (out.family == "Dairy")].iloc[0]
    assert dairy.revenue_finance_plan == 0.0 and dairy.units_finance_plan == 0.0
    assert dairy.price_effect == pytest.approx(0.0)
    assert dairy.volume_effect == pytest.approx(0.0)
    assert dairy.mix_effect == pytest.approx(140.0)  # its whole plan-of-record revenue
    assert bridge_residual(out) < 1e-9 and family_rows_residual(out) < 1e-9


def test_family_only_in_finance_plan_leaves_through_volume_and_mix():
    finance = pd.concat(
        [
            FINANCE,
            pd.DataFrame(
                {"family": ["Frozen"], "month_start": [pd.Timestamp("2026-12-01")], "units": [31.0], "revenue": [310.0]}
            ),
        ]
    )
    out = plan_vs_finance(PLAN, finance)
    frozen = out[(out.period == "horizon") & (out.family == "Frozen")].iloc[0]
    assert frozen.revenue_plan_of_record == 0.0 and frozen.margin_plan_of_record == 0.0
    assert frozen.revenue_finance_plan == pytest.approx(60.0)  # 310 x 6 / 31
    assert frozen.price_effect == 0.0
    assert frozen.volume_effect + frozen.mix_effect == pytest.approx(-60.0)


def test_a_month_finance_has_not_planned_is_shown_but_not_compared():
    finance = FINANCE[FINANCE.month_start == pd.Timestamp("2026-11-01")]
    out = plan_vs_finance(PLAN, finance)
    dec = out[(out.period == "month") & (out.period_start == pd.Timestamp("2026-12-01"))]
    assert not dec.finance_plan_covered.any()
    assert dec[["revenue_finance_plan", *EFFECTS]].isna().all().all()
    assert dec[dec.level == "total"].revenue_plan_of_record.iloc[0] == pytest.approx(660.0)
    horizon = out[(out.period == "horizon") & (out.level == "total")].iloc[0]
    assert (horizon.days_covered, horizon.days_in_period) == (8, 14) and not horizon.finance_plan_covered
    assert horizon.revenue_plan_of_record == pytest.approx(1540.0 - 660.0)  # November only
    assert horizon.last_day == pd.Timestamp("2026-11-30")
    # the month rows still hold the whole plan (no leakage), so the control reconciles
    controls = control_totals(PLAN, COSTS, reconciliation=out).set_index(["measure", "downstream"])
    assert bool(controls.loc[("revenue", "plan_reconciliation"), "reconciles"])


def test_no_finance_plan_for_the_horizon_gives_an_empty_table():
    assert plan_vs_finance(PLAN, FINANCE.iloc[0:0]).empty
    later = FINANCE.assign(month_start=pd.Timestamp("2027-06-01"))
    out = plan_vs_finance(PLAN, later)
    assert out.empty and list(out.columns) == RECONCILIATION_COLUMNS
    controls = control_totals(PLAN, COSTS, reconciliation=out)
    rec = controls[controls.downstream == "plan_reconciliation"]
    assert rec.reconciles.isna().all() and rec.notes.str.startswith("no data").all()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 12), st.floats(0, 500), st.floats(0.5, 40)),
        min_size=1,
        max_size=25,
    ),
    # finance plans whole units (or none): a plan of 6e-8 units for 1.00 would put the price at
    # 1.7e7 and the float error of price x units above the 1e-9 relative tolerance
    st.lists(
        st.tuples(
            st.sampled_from(["F1", "F2", "F3"]),
            st.integers(0, 4),
            st.one_of(st.just(0.0), st.floats(1, 5000)),
            st.floats(0, 90000),
        ),
        min_size=0,
        max_size=12,
    ),
    st.integers(0, 6),
)
def test_effects_add_up_exactly_for_any_plans(plan_rows, finance_rows, offset):
    family = {"a": "F1", "b": "F1", "c": "F2", "d": "F4"}
    start = pd.Timestamp("2026-10-26") + pd.Timedelta(days=offset)
    plan = _plan([(s, family[s], start + pd.Timedelta(weeks=w), u, p, p / 2, u) for s, w, u, p in plan_rows])
    finance = pd.DataFrame(finance_rows, columns=["family", "month", "units", "revenue"])
    finance["month_start"] = [pd.Timestamp("2026-10-01") + pd.DateOffset(months=m) for m in finance["month"]]
    out = plan_vs_finance(plan, finance)
    if out.empty:
        return
    scale = max(1.0, float(plan.revenue.sum()), float(finance.revenue.sum()))
    assert bridge_residual(out) < 1e-9 * scale
    assert family_rows_residual(out) < 1e-9 * scale
    months = out[(out.period == "month") & (out.level == "family")]
    assert months.revenue_plan_of_record.sum() == pytest.approx(plan.revenue.sum(), rel=1e-9, abs=1e-6)
    assert months.margin_plan_of_record.sum() == pytest.approx(plan.margin.sum(), rel=1e-9, abs=1e-6)


def test_inventory_at_cost_floors_projected_stockouts_at_zero():
    value = plan_inventory_value(PLAN, COSTS)
    assert value.loc[pd.Timestamp("2026-11-23")] == pytest.approx(30 * 6 + 5 * 4)
    assert value.loc[pd.Timestamp("2026-11-30")] == pytest.approx(20 * 6 + 0)
    with pytest.raises(ValueError, match="no unit cost for SKU"):
        plan_inventory_value(PLAN, COSTS.iloc[:1])


def _cash(inventory_end: float, cogs: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "week_start": pd.to_datetime(["2026-11-23", "2026-11-30"]),
            "cogs": [cogs / 2, cogs / 2],
            "inventory_value": [200.0, inventory_end],
        }
    )


def _rollup(plan: pd.DataFrame) -> pd.DataFrame:
    return plan.groupby(["family", "week_start"], as_index=False)[
        ["demand_units", "revenue", "margin", "net_margin"]
    ].sum()


def test_family_rollup_is_the_marts_rule_and_keeps_every_row():
    import duckdb

    plan = pd.concat([PLAN, PLAN.iloc[:1].assign(family=None, revenue=7.0)], ignore_index=True)
    ours = family_rollup(plan)
    with duckdb.connect() as con:
        con.register("plan_of_record", plan)
        mart = con.execute(
            "select family, week_start, sum(demand_units) as demand_units, sum(revenue) as revenue, "
            "sum(margin) as margin, sum(net_margin) as net_margin from plan_of_record group by family, week_start "
            "order by family nulls last, week_start"
        ).df()
    assert list(ours.columns) == ["family", "week_start", "demand_units", "revenue", "margin", "net_margin"]
    keys = plan[["family", "week_start"]].drop_duplicates()
    assert list(ours.family) == list(keys.family) and list(ours.week_start) == list(keys.week_start)
    ours = ours.sort_values(["family", "week_start"], na_position="last").reset_index(drop=True)
    pd.testing.assert_frame_equal(ours, mart, check_dtype=False, check_exact=True)  # the same bits
    assert ours.revenue.sum() == pytest.approx(plan.revenue.sum())  # the family-less row is kept


def test_controls_reconcile_when_everything_comes_from_the_plan():
    cogs = float((PLAN.demand_units * PLAN.cost).sum())  # 140 x 6 + 28 x 4 = 952
    controls = control_totals(
        PLAN,
        COSTS,
        reconciliation=plan_vs_finance(PLAN, FINANCE),
        family_rollup=_rollup(PLAN),
        cash_projection=_cash(120.0, cogs),
    )
    assert list(controls.columns) == CONTROL_COLUMNS
    assert len(controls) == 10 and controls.reconciles.all()
    assert controls.difference.abs().max() < 1e-9
    inv = controls.set_index("measure").loc["inventory_value_horizon_end"]
    assert (inv.plan_of_record_value, inv.downstream_value) == (120.0, 120.0)
    assert controls.set_index(["measure", "downstream"]).loc[
        ("cogs", "finance_cash_projection"), "plan_of_record_value"
    ] == pytest.approx(952.0)


def test_controls_catch_leakage():
    cogs = float((PLAN.demand_units * PLAN.cost).sum())
    rollup = _rollup(PLAN[PLAN.family == "Snacks"])  # a family dropped by the roll-up
    controls = control_totals(PLAN, COSTS, family_rollup=rollup, cash_projection=_cash(120.0 - 0.5, cogs))
    c = controls.set_index(["measure", "downstream"])
    assert not c.loc[("revenue", "plan_of_record_family"), "reconciles"]
    assert c.loc[("revenue", "plan_of_record_family"), "difference"] == pytest.approx(-140.0)
    assert not c.loc[("inventory_value_horizon_end", "finance_cash_projection"), "reconciles"]
    assert c.loc[("inventory_value_horizon_end", "finance_cash_projection"), "difference"] == pytest.approx(-0.5)
    assert c.loc[("cogs", "finance_cash_projection"), "reconciles"]
    lost = control_totals(PLAN, COSTS, family_rollup=_rollup(PLAN).assign(net_margin=lambda d: d.margin))
    n = lost.set_index(["measure", "downstream"]).loc[("net_margin", "plan_of_record_family")]
    assert not n.reconciles and n.difference == pytest.approx(7.0)  # the supply cost dropped on the way
    empty_rollup = control_totals(PLAN, COSTS, family_rollup=rollup.iloc[0:0]).set_index(["measure", "downstream"])
    assert not empty_rollup.loc[("revenue", "plan_of_record_family"), "reconciles"]  # lost, not "no data"


def test_absent_downstreams_say_no_data_instead_of_failing():
    controls = control_totals(
        PLAN,
        COSTS,
        reconciliation=None,
        family_rollup=None,
        cash_projection=pd.DataFrame(columns=["week_start", "cogs", "inventory_value"]),
    )
    assert controls.reconciles.isna().all()
    assert controls.notes.str.startswith("no data").all()
    assert np.isnan(controls.difference).all()


# ---- the Dagster asset on a hand-made warehouse --------------------------------------------------


def _warehouse(path, revenue_plan: pd.DataFrame | None, cash: pd.DataFrame | None):
    """No mart in it: the asset rolls the plan up to families itself (no mart feeds Python). ``cash``
    None: the cash projection had no data (finance_cash_projection writes an empty table)."""
    import duckdb

    plan = PLAN.drop(columns=["price", "cost"])
    tables = {
        "analytics.plan_of_record": plan,
        "staging.stg_erp__items": COSTS,
        "staging.stg_finance__revenue_plan": revenue_plan if revenue_plan is not None else FINANCE.iloc[0:0],
        "meta.ingest_log": pd.DataFrame(
            {"extract": ["items", "revenue_plan"], "status": ["loaded", "absent" if revenue_plan is None else "loaded"]}
        ),
    }
    tables["analytics.finance_cash_projection"] = (
        cash
        if cash is not None
        else pd.DataFrame(
            {
                "week_start": pd.Series(dtype="datetime64[us]"),
                "cogs": pd.Series(dtype=float),
                "inventory_value": pd.Series(dtype=float),
            }
        )
    )
    with duckdb.connect(str(path)) as con:
        for name, df in tables.items():
            con.execute(f"create schema if not exists {name.split('.')[0]}")
            con.register("_df", df)
            con.execute(f"create table {name} as select * from _df")
            con.unregister("_df")
    return path


def _materialize(path):
    import dagster as dg

    from sop_pipeline.assets.reconcile import plan_reconciliation
    from sop_pipeline.io_manager import WarehouseIOManager
    from sop_pipeline.resources import Warehouse

    warehouse = Warehouse(path=str(path))
    upstream = [dg.AssetSpec(key) for key in plan_reconciliation.dependency_keys]  # tables already there
    result = dg.materialize(
        [plan_reconciliation, *upstream],
        resources={"warehouse": warehouse, "warehouse_io_manager": WarehouseIOManager(warehouse=warehouse)},
        raise_on_error=False,
    )
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    meta = {m.asset_key.path[-1]: m.metadata for m in result.asset_materializations_for_node("plan_reconciliation")}
    return checks, meta


def test_asset_writes_both_tables_and_the_checks_pass(tmp_path):
    import duckdb

    cogs = float((PLAN.demand_units * PLAN.cost).sum())
    checks, meta = _materialize(_warehouse(tmp_path / "w.duckdb", FINANCE, _cash(120.0, cogs)))
    assert checks["plan_revenue_reconciles_with_finance_bridge"].passed
    assert checks["working_capital_reconciles"].passed
    assert meta["plan_reconciliation"]["horizon_price_effect"].value == pytest.approx(-68.0)
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from analytics.plan_reconciliation").fetchone()[0] == 9
        assert con.execute("select bool_and(reconciles) from analytics.plan_reconciliation_controls").fetchone()[0]
        assert (
            con.execute(
                "select count(*) from analytics.plan_reconciliation_controls where downstream = "
                "'plan_of_record_family' and reconciles"
            ).fetchone()[0]
            == 4
        )


def test_asset_check_fails_when_the_cash_projection_leaks(tmp_path):
    cogs = float((PLAN.demand_units * PLAN.cost).sum())
    checks, _ = _materialize(_warehouse(tmp_path / "w.duckdb", FINANCE, _cash(119.0, cogs)))
    assert checks["plan_revenue_reconciles_with_finance_bridge"].passed
    wc = checks["working_capital_reconciles"]
    assert not wc.passed and "inventory_value_horizon_end" in wc.metadata["failed"].value
    assert wc.blocking, "a cash projection that does not close stops the cycle before the marts"


def test_absent_revenue_plan_and_cash_projection_pass_with_a_note(tmp_path):
    import duckdb

    checks, meta = _materialize(_warehouse(tmp_path / "w.duckdb", None, None))
    for name in ("plan_revenue_reconciles_with_finance_bridge", "working_capital_reconciles"):
        assert checks[name].passed and "no data" in checks[name].metadata["notes"].value
    assert meta["plan_reconciliation"]["notes"].value == "no data: revenue_plan extract absent"
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from analytics.plan_reconciliation").fetchone()[0] == 0
        types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns where table_name = 'plan_reconciliation'"
            ).fetchall()
        )
        assert types["price_effect"] == "DOUBLE" and types["period_start"].startswith("TIMESTAMP")


def test_inputs_take_the_columns_and_finance_months_the_sql_took():
    from sop_pipeline.analytics.reconcile import no_data_note, reconciliation_inputs

    revenue_plan = pd.DataFrame(
        {
            "plan_month": [None, None],
            "family": ["Snacks", "Drinks"],
            "units": [1.0, 2.0],
            "revenue": [3.0, 4.0],
            "month_start": pd.to_datetime([None, "2026-12-01"]),
            "source_row": [1, 2],
        }
    )
    plan, costs, months, cash = reconciliation_inputs(
        PLAN.assign(extra=1), COSTS.assign(family="x"), revenue_plan, None
    )
    assert cash is None and list(costs.columns) == ["sku", "unit_cost"]
    assert "extra" not in plan.columns
    assert months.family.tolist() == ["Drinks"] and list(months.columns) == [
        "family",
        "month_start",
        "units",
        "revenue",
    ]
    assert list(months.index) == [0]
    assert no_data_note(pd.DataFrame(), plan, True) == "no data: revenue_plan extract absent"
    assert no_data_note(pd.DataFrame(), plan.iloc[0:0], False) == "no data: the plan of record is empty"
    assert no_data_note(pd.DataFrame({"a": [1]}), plan, True) == ""
