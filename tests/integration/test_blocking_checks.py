"""The blocking checks through Dagster: they pass on real data, and when the data is broken
they fail, name what broke and stop what is downstream.

The real assets run on real files (ingest) or a real model fit (forecast). To see a check
fail, one fault is injected *after* the real step did its work (a loaded row deleted, a
forecast value made negative, a week dropped): the code under test is the check, and the
fault stands for the bug it exists to catch.
"""

from __future__ import annotations

import shutil
from datetime import date

import dagster as dg
import duckdb
import pandas as pd
import pytest

from sop_pipeline.analytics import backtest
from sop_pipeline.assets import demand, ingest
from sop_pipeline.io_manager import WarehouseIOManager
from sop_pipeline.assets.fanout import FANOUT_IO, handoff_io_manager
from sop_pipeline.resources import Warehouse
from tests.fixtures.ingest import materialize_ingest
from tests.unit.test_forecasting import AS_OF, make_history

# --------------------------------------------------------------------------- row accounting

INGEST_SELECTION = [ingest.CYCLE_KEY, ingest.raw_key("items"), ingest.raw_key("locations"), ingest.raw_key("pos_sales")]


def _check(result, key: dg.AssetKey, name: str):
    evals = [e for e in result.get_asset_check_evaluations() if e.asset_key == key and e.check_name == name]
    assert len(evals) == 1, f"no {name} evaluation for {key.to_user_string()}"
    return evals[0]


@pytest.fixture(scope="module")
def ingest_extracts(demo_extracts, tmp_path_factory):
    out = tmp_path_factory.mktemp("blocking") / "extracts"
    out.mkdir()
    for name in ("items", "locations", "pos_sales"):
        shutil.copy(demo_extracts / f"{name}.csv", out)
    return out


def test_row_accounting_holds_on_real_extracts(ingest_extracts, tmp_path):
    result = materialize_ingest(ingest_extracts, tmp_path / "data", INGEST_SELECTION)
    assert result.success
    for name in ("items", "locations", "pos_sales"):
        ev = _check(result, ingest.raw_key(name), "row_accounting")
        assert ev.passed and ev.blocking
        assert ev.description.startswith(f"row accounting {name}: holds (")


def test_row_accounting_fails_names_the_extract_and_blocks_downstream(ingest_extracts, tmp_path, monkeypatch):
    from sop_pipeline.ingest import warehouse as ingest_warehouse

    real = ingest_warehouse.ingest_extract

    def loses_a_row(con, name, *args, **kwargs):  # the bug the check is for: a row vanishes on the way
        report = real(con, name, *args, **kwargs)
        if name == "items":
            con.execute("delete from raw.items where _source_row = (select max(_source_row) from raw.items)")
        return report

    monkeypatch.setattr(ingest_warehouse, "ingest_extract", loses_a_row)
    result = materialize_ingest(ingest_extracts, tmp_path / "data", INGEST_SELECTION)
    assert not result.success
    ev = _check(result, ingest.raw_key("items"), "row_accounting")
    assert not ev.passed and ev.blocking
    assert ev.description.startswith("row accounting items (")
    assert "1 row(s) missing" in ev.description and "raw.items has" in ev.description
    # raw/pos_sales references items: it must not have run on the broken load
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert ingest.raw_key("pos_sales") not in materialized
    assert ingest.raw_key("items") in materialized  # the tables stay there to inspect


# --------------------------------------------------------------------------- forecast


@pytest.fixture(scope="module")
def forecast_warehouse(tmp_path_factory) -> str:
    """A warehouse with what demand_forecast reads: the cycle, the ingest log (promotions absent,
    so its staged table is empty) and cleansed weekly history (synthetic: 6 SKUs x 2 stores x 2 years)."""
    path = str(tmp_path_factory.mktemp("fc") / "warehouse.duckdb")
    history, _ = make_history(n_skus=6, weeks=104)
    history = history.assign(week_start=pd.to_datetime(history.week_start), is_censored=False, is_outlier=False)
    con = duckdb.connect(path)
    con.execute("create schema meta; create schema analytics; create schema staging")
    con.execute("create table meta.cycle as select ?::date as as_of", [AS_OF])
    con.execute("create table meta.ingest_log as select 'promotions' as extract, 'absent' as status")
    con.execute(
        "create table staging.stg_crm__promotions (promo_id VARCHAR, sku VARCHAR, location_or_customer "
        "VARCHAR, discount_pct DOUBLE, expected_units DOUBLE, start_date DATE, end_date DATE)"
    )
    con.register("h", history)
    con.execute("create table analytics.demand_history_clean as select * from h")
    # the method selection and calibration demand_forecast reads: a real (short) backtest of the same history
    bt_result = backtest.backtest(
        history.drop(columns=["units_clean", "is_censored", "is_outlier"]).assign(
            week_start=lambda d: d.week_start.dt.date
        ),
        AS_OF,
        config=backtest.BacktestConfig(origins=8, sensing=False),
    )
    con.register("sel", bt_result.selection.assign(cycle_id=AS_OF))
    con.register("cal", bt_result.calibration.table.assign(cycle_id=AS_OF))
    con.execute("create table analytics.forecast_method_selection as select * from sel")
    con.execute("create table analytics.forecast_calibration as select * from cal")
    con.close()
    return path


def _forecast(path: str) -> dg.ExecuteInProcessResult:
    warehouse = Warehouse(path=path)
    upstream = [dg.AssetSpec(key) for key in demand.demand_forecast.dependency_keys]  # tables already there
    return dg.materialize(
        [demand.demand_forecast, *upstream],
        raise_on_error=False,
        resources={
            "warehouse": warehouse,
            "warehouse_io_manager": WarehouseIOManager(warehouse=warehouse),
            FANOUT_IO: handoff_io_manager,  # the forecast's split -> part -> combine hand-off
        },
    )


def _history_rows(path: str) -> int:
    with duckdb.connect(path, read_only=True) as con:
        if not con.execute(
            "select count(*) from information_schema.tables where table_schema = 'analytics' "
            "and table_name = 'forecast_history'"
        ).fetchall()[0][0]:
            return 0
        return con.execute("select count(*) from analytics.forecast_history").fetchall()[0][0]


def test_forecast_checks_pass_on_a_real_fit(forecast_warehouse):
    result = _forecast(forecast_warehouse)
    assert result.success
    for name in ("non_negative_and_finite", "thirteen_weeks_per_sku"):
        ev = _check(result, demand.FORECAST, name)
        assert ev.passed and ev.blocking and "holds on every SKU-week" in ev.description
    ev = _check(result, demand.FORECAST, "sku_is_sum_of_locations")
    assert ev.passed and ev.blocking
    assert _history_rows(forecast_warehouse) == 6 * 13


def test_forecast_checks_fail_naming_sku_and_week(forecast_warehouse, monkeypatch):
    real = demand.forecasting.finish  # the combine step's result (series rows + roll-ups)
    week5 = date(2026, 12, 21)

    def broken(*args, **kwargs):  # a negative p50 and a missing week, in both published tables
        result = real(*args, **kwargs)
        for attr in ("sku", "location"):
            frame = getattr(result, attr).copy()
            frame.loc[(frame.sku == "SKU002") & (frame.horizon_week == 3), "units_p50"] = -4.0
            setattr(result, attr, frame[~((frame.sku == "SKU004") & (frame.horizon_week == 5))])
        return result

    monkeypatch.setattr(demand.forecasting, "finish", broken)
    before = _history_rows(forecast_warehouse)
    result = _forecast(forecast_warehouse)
    assert not result.success
    values = _check(result, demand.FORECAST, "non_negative_and_finite")
    assert not values.passed and values.blocking
    assert "(demand_forecast)" in values.description
    assert "SKU002 week of 2026-12-07: units_p50=-4 is negative" in values.description
    assert "SKU002 S01 week of 2026-12-07" in values.description  # the location table too
    horizon = _check(result, demand.FORECAST, "thirteen_weeks_per_sku")
    assert not horizon.passed
    assert f"SKU004 week of {week5}: no forecast row (gap in the horizon, week 5)" in horizon.description
    print(f"\n{values.description}\n{horizon.description}")
    assert _history_rows(forecast_warehouse) == before  # a stopped forecast is not kept for accuracy by lag


def test_sku_forecast_must_be_the_sum_of_its_locations(forecast_warehouse, monkeypatch):
    real = demand.forecasting.finish

    def drifted(*args, **kwargs):  # the SKU table no longer adds up to its locations in one week
        result = real(*args, **kwargs)
        sku = result.sku.copy()
        sku.loc[(sku.sku == "SKU001") & (sku.horizon_week == 2), "units_p50"] += 5.0
        result.sku = sku
        return result

    monkeypatch.setattr(demand.forecasting, "finish", drifted)
    result = _forecast(forecast_warehouse)
    assert not result.success
    ev = _check(result, demand.FORECAST, "sku_is_sum_of_locations")
    assert not ev.passed and ev.blocking
    assert "SKU SKU001 week 2026-11-30" in ev.description and "over its locations" in ev.description
