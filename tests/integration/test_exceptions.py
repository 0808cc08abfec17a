"""The exception workflow on the demo (issue 17 item 4), real Dagster + dbt + DuckDB, no mocks.

1. The session's small cycle (tests/conftest.py): the published `exceptions` mart has every status path
   (open, acknowledged and closed by the demo's exception_updates, aged > 1 cycle), owners from the
   raci extract, the risk board and the decision log, the rejected update, its history copy and the
   meeting pack's panel.
2. The next cycle, on a copy of that warehouse: meta.cycle moved one week on, one KPI alert's condition
   removed from its mart, then the real `exceptions` asset materialized: state comes from
   history.exceptions (the previous partition's copy), the alert closes as resolved, the others age.
"""

from __future__ import annotations

import shutil
from datetime import date

import dagster as dg
import duckdb
import pandas as pd
import pytest

from sop_pipeline.analytics.exceptions import exception_key

pytestmark = pytest.mark.integration

CYCLE, NEXT = date(2026, 11, 22), date(2026, 11, 29)
RISK = exception_key("risk", "supplier SUP03")
HOCKEY = exception_key("demand_flag", "hockey_stick:Beverages:SKU0020:2027-01-11")
OTIF = exception_key("kpi_alert", "kpi_off_target:otif_pct")


def _rows(con, sql: str) -> dict:
    df = con.execute(sql).df()
    for col in ("cycle_id", "first_raised_cycle", "last_seen_cycle", "closed_cycle"):
        df[col] = [None if pd.isna(v) else pd.Timestamp(v).date() for v in df[col]]
    return {r["exception_key"]: r for r in df.to_dict("records")}


def test_the_demo_fires_every_status_path_with_owners(small_cycle):
    with duckdb.connect(str(small_cycle.serving), read_only=True) as con:
        ex = _rows(con, "select * from exceptions")
        issues = con.execute("select source_row, column_name, value, reason from exception_update_issues").fetchall()
        history = con.execute("select cycle_id, count(*) from history_exceptions group by 1").fetchall()
        sources = {
            "kpi_alert": con.execute("select count(*) from kpi_alerts").fetchone()[0],
            "risk": con.execute("select count(*) from datapack_risk_board").fetchone()[0],
            "proposal": con.execute("select count(*) from decision_log where status = 'proposed'").fetchone()[0],
        }
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        if "purchase_requirements" in tables:  # the MRP's late components (issue 17 item 1)
            sources["late_purchase"] = con.execute(
                "select count(*) from (select distinct component_sku, supplier_id from purchase_requirements "
                "where late)"
            ).fetchone()[0]
    kinds = {}
    for r in ex.values():
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    for kind, n in sources.items():
        assert n > 0 and kinds.get(kind) == n, f"{kind}: {kinds.get(kind)} exceptions for {n} source items"
    assert kinds.get("infeasible_plan", 0) > 0 and kinds.get("demand_flag", 0) > 0
    # acknowledged by an update 9 days before the as-of: raised two cycles back, owner overridden
    risk = ex[RISK]
    assert (risk["status"], risk["age_weeks"], risk["first_raised_cycle"]) == (
        "acknowledged",
        2,
        date(2026, 11, 8),
    )
    assert (risk["owner"], risk["owner_source"]) == ("Buyer (SUP03 account)", "update")
    assert risk["status_reason"] == "acknowledged by procurement.lead"
    # closed by a person while the flag is still raised
    hockey = ex[HOCKEY]
    assert (hockey["status"], hockey["status_reason"], hockey["age_weeks"]) == (
        "closed",
        "closed by demand.planner.beverages",
        1,
    )
    # everything else is open, first raised this cycle; owners from RACI
    others = [r for k, r in ex.items() if k not in (RISK, HOCKEY)]
    assert others and all(r["status"] == "open" and r["age_weeks"] == 0 for r in others)
    owners = {(r["kind"], r["area"]): r["owner"] for r in others}
    assert owners[("proposal", "inventory")] == "Supply planner"  # the demo's raci extract
    assert owners[("infeasible_plan", "supply")] == "Master scheduler"
    assert {r["owner"] for r in others if r["kind"] == "risk"} == {"Maintenance"}  # the risk board's owner
    # the update of an unknown key is rejected naming row and column
    assert issues == [
        (
            4,
            "exception_key",
            "EX-000000000000",
            "exception_updates row 4, column exception_key: 'EX-000000000000' is not an exception of cycle "
            "2026-11-22 or of the previous cycle; update ignored",
        )
    ]
    assert [(str(c)[:10], n) for c, n in history] == [(str(CYCLE), len(ex))]
    html = (small_cycle.data / "reports" / f"sop_pack_{CYCLE}.html").read_text()
    start = html.index('id="decision-exceptions"')
    panel = html[start : html.index('class="panel', start + 1)]
    assert "Buyer (SUP03 account) (1)" in panel and "Master scheduler (" in panel
    assert panel.index("Buyer (SUP03 account)") < panel.index("Master scheduler (")  # oldest first
    assert f"{len(ex) - 1} open or acknowledged, 1 closed this cycle" in panel


def test_the_next_cycle_reads_history_ages_and_auto_closes(small_cycle, tmp_path):
    from sop_pipeline.assets.exceptions import EXCEPTIONS, exceptions
    from sop_pipeline.io_manager import WarehouseIOManager
    from sop_pipeline.resources import Warehouse

    path = tmp_path / "warehouse.duckdb"
    shutil.copy(small_cycle.warehouse, path)
    with duckdb.connect(str(path)) as con:
        before = _rows(con, "select * from marts.exceptions")
        con.execute("update meta.cycle set as_of = ?", [NEXT])
        con.execute("delete from marts.kpi_alerts where alert_id = 'kpi_off_target:otif_pct'")
    assert before[OTIF]["status"] == "open"

    warehouse = Warehouse(path=str(path))
    upstream = [dg.AssetSpec(key) for key in exceptions.dependency_keys]  # tables already there
    result = dg.materialize(
        [exceptions, *upstream],
        resources={"warehouse": warehouse, "warehouse_io_manager": WarehouseIOManager(warehouse=warehouse)},
        raise_on_error=False,
    )
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations() if e.asset_key == EXCEPTIONS}
    assert checks == dict.fromkeys(
        ["exception_keys_unique", "exceptions_cover_sources", "exception_ages_valid", "closed_exceptions_have_reason"],
        True,
    )
    with duckdb.connect(str(path), read_only=True) as con:
        after = _rows(con, "select * from marts.exceptions")
        cycles = dict(con.execute("select cycle_id, count(*) from history.exceptions group by 1").fetchall())
    assert set(after) == set(before)  # same conditions, same keys
    otif = after[OTIF]
    assert (otif["status"], otif["status_reason"], otif["age_weeks"]) == ("closed", "resolved", 1)
    assert (otif["last_seen_cycle"], otif["closed_cycle"]) == (CYCLE, NEXT), otif
    risk = after[RISK]
    assert (risk["status"], risk["age_weeks"], risk["owner"]) == ("acknowledged", 3, "Buyer (SUP03 account)")
    assert (after[HOCKEY]["status"], after[HOCKEY]["closed_cycle"]) == ("closed", CYCLE)
    for key, r in after.items():
        if key not in (OTIF, RISK, HOCKEY):
            assert (r["status"], r["first_raised_cycle"], r["age_weeks"], r["last_seen_cycle"]) == (
                "open",
                CYCLE,
                1,
                NEXT,
            ), key
    assert cycles == {CYCLE: len(before), NEXT: len(after)}
