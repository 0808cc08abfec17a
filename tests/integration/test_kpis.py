"""KPIs on a hand-made extract set with answers computed by hand (tests/fixtures/kpi_case.py).

Runs the real `sop run` (Dagster + GX + dbt + DuckDB) once for the module.
"""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import run_cycle
from tests.fixtures.kpi_case import AS_OF, write_kpi_case

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def serving(tmp_path_factory):
    root = tmp_path_factory.mktemp("kpi_case")
    run = run_cycle(write_kpi_case(root / "extracts"), root / "data", "--as-of", AS_OF)
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    con = duckdb.connect(str(run.serving), read_only=True)
    yield con
    con.close()


def _month(con, kpi: str) -> float:
    rows = con.execute(
        "select value from kpi_scorecard where grain='month' and periods_ago=1 and kpi=?", [kpi]
    ).fetchall()
    assert rows, kpi
    return rows[0][0]


def test_last_month_is_march(serving):
    assert {
        r[0].isoformat() for r in serving.execute("select distinct month_start from kpi_last_month").fetchall()
    } == {"2026-03-01"}


@pytest.mark.parametrize(
    "kpi, expected",
    [
        ("otif_pct", 50.0),
        ("fill_rate_pct", 50.0),
        ("schedule_adherence_pct", 50.0),
        ("scrap_pct", 3.0),
        ("expedite_usd", 350.0),
        ("reschedules_per_week", 3 * 7 / 31),
    ],
)
def test_monthly_kpi_matches_hand_computation(serving, kpi, expected):
    assert _month(serving, kpi) == pytest.approx(expected, abs=1e-9)


def test_changeover_is_not_read_from_an_order_paused_over_a_weekend(serving):
    """W0 runs Friday to Monday; its weekend is a pause, not 20 h of changeover (kpi_case.py)."""
    rows = dict(
        serving.execute(
            "select cast(week_start as date)::varchar, changeover_hours_actual from kpi_changeover_weekly "
            "where resource_id = 'M1' and week_start in ('2026-02-16', '2026-02-23')"
        ).fetchall()
    )
    assert rows == {"2026-02-16": pytest.approx(1.0), "2026-02-23": pytest.approx(0.5)}


def test_revenue_vs_plan(serving):
    rows = dict(serving.execute("select kpi, value from kpi_last_month").fetchall())
    assert rows["revenue"] == pytest.approx(3070.0)
    assert rows["revenue_vs_plan_pct"] == pytest.approx(100 * (3070 - 3400) / 3400)


def test_price_volume_mix_vs_plan_adds_up_to_the_gap(serving):
    # family grain: F1 actual 155 + 20 shipped (O1-1 10, O2-1 6, O3-1 2 -> 18) units ... the bridge must
    # explain exactly 3,070 - 3,400 = -330 in total
    total = serving.execute(
        "select revenue_actual, revenue_base, price_effect + volume_effect + mix_effect "
        "from datapack_finance_pvm where comparison='vs_plan' and level='total'"
    ).fetchall()
    assert total == [(pytest.approx(3070.0), pytest.approx(3400.0), pytest.approx(-330.0))]


def test_absent_sections_say_no_data_rather_than_fail(serving):
    status = dict(serving.execute("select extract, status from data_quality_extracts").fetchall())
    assert status["downtime"] == "absent" and status["inventory_lots"] == "absent"
    notes = serving.execute("select notes from datapack_cash where point='as_of'").fetchall()[0][0]
    assert "no data" in notes and "inventory_lots" in notes
