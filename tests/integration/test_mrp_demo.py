"""MRP on the demo cycle (issue 17 item 1): the demo BOM has a multipack level (3 levels), a dated
engineering change (versions A -> B inside the horizon), a retired row and a component that cannot
arrive in time, so every MRP path fires; the published marts agree with the plan of record and with
each other, and the pack's supply section lists the late components. Reuses the session's cycle."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from sop_pipeline.analytics import mrp
from tests.integration.test_meeting_pack_panels import parse_panels

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bom(small_cycle):
    with duckdb.connect(str(small_cycle.warehouse), read_only=True) as con:
        return con.execute("select * from staging.stg_erp__bom").df()


def _df(con, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


def test_three_levels_and_the_version_change_by_date(serving, bom):
    req = _df(serving, "select * from component_requirements")
    peg = _df(serving, "select * from mrp_pegging")
    assert req.low_level_code.max() >= 2, "the demo BOM should have 3 levels (multipack -> single -> component)"
    level2_parents = set(req[req.low_level_code == 2].parents.str.split(", ").explode()) - {""}
    assert level2_parents & set(bom.component_sku) & set(bom.parent_sku)  # some driven by a sub-assembly
    switch = pd.Timestamp(bom[bom.bom_version == "B"].effective_from.iloc[0])
    a = peg[peg.bom_version == "A"]
    b = peg[peg.bom_version == "B"]
    assert len(a) and len(b), "both BOM versions should be used inside the horizon"
    assert (pd.to_datetime(a.need_week_start) < switch).all() and (pd.to_datetime(b.need_week_start) >= switch).all()
    assert not (peg.bom_version == "0").any(), "a BOM row that ended before the as-of was used"
    assert (abs(peg.gross_units - peg.parent_units * peg.qty_per) < 1e-6 * (1 + peg.gross_units)).all()


def test_balance_holds_and_gross_equals_pegging(serving):
    req = _df(serving, "select * from component_requirements")
    assert mrp.balance_breaks(req).empty
    assert (req.projected_on_hand_units >= -1e-6).all()
    peg = _df(serving, "select component_sku, need_week_start, sum(gross_units) g from mrp_pegging group by all")
    both = req[req.gross_units > 0].merge(
        peg, left_on=["component_sku", "week_start"], right_on=["component_sku", "need_week_start"], how="left"
    )
    assert (abs(both.gross_units - both.g) < 1e-6 * (1 + both.g)).all()


def test_every_make_unit_of_a_top_level_parent_is_exploded(serving, bom):
    plan = _df(serving, "select sku, sum(make_units) make from plan_of_record group by sku")
    peg = _df(serving, "select parent_sku, component_sku, sum(parent_units) units from mrp_pegging group by all")
    undated = bom[bom.effective_from.isna() & bom.effective_to.isna()]
    top = set(undated.parent_sku) - set(bom.component_sku)
    checked = 0
    for r in undated[undated.parent_sku.isin(top)].itertuples():
        make = float(plan.loc[plan.sku == r.parent_sku, "make"].sum())
        got = peg[(peg.parent_sku == r.parent_sku) & (peg.component_sku == r.component_sku)].units.sum()
        assert abs(got - make) < 1e-6 * (1 + make), (r.parent_sku, r.component_sku, got, make)
        checked += make > 0
    assert checked > 0


def test_late_components_are_flagged_and_listed_in_the_pack(serving, small_cycle):
    as_of = serving.execute("select cast(cycle as date) from _publish_info").fetchone()[0]
    pur = _df(serving, "select * from purchase_requirements")
    assert len(pur) and pur.supplier_id.notna().all()
    assert (pur.late == (pd.to_datetime(pur.release_date) < pd.Timestamp(as_of))).all()
    late = pur[pur.late]
    assert len(late), "the demo should have a component that cannot arrive in time"
    assert (pd.to_datetime(late.earliest_arrival_date) > pd.to_datetime(late.need_week_start)).all()
    assert {"supplier_otif_pct", "supplier_risk_signals", "at_risk"} <= set(pur.columns)
    packs = sorted((small_cycle.data / "reports").glob("sop_pack_*.html"))
    panel = parse_panels(Path(packs[-1]).read_text(encoding="utf-8"))["supply-late-components"]
    assert not panel.no_data
    first = late.sort_values(["days_late", "need_week_start", "component_sku"], ascending=[False, True, True])
    assert panel.tables[0].column("Component")[0] == first.component_sku.iloc[0]


def test_mrp_checks_are_blocking_and_pass_through_dagster(small_cycle, tmp_path):
    """The MRP asset alone on a copy of the cycle's warehouse (its inputs already there): both checks
    are blocking, pass, and the asset writes the same rows the cycle published."""
    from sop_pipeline.assets import supply
    from tests.conftest import materialize_on_copy

    result, path = materialize_on_copy(small_cycle, tmp_path, supply.mrp_assets)
    assert result.success
    evals = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evals) == {"component_balance", "every_make_row_exploded"}
    assert all(e.passed and e.blocking for e in evals.values())
    assert "every row holds" in evals["component_balance"].description
    with (
        duckdb.connect(str(path), read_only=True) as con,
        duckdb.connect(str(small_cycle.serving), read_only=True) as sv,
    ):
        for table in ("component_requirements", "purchase_requirements", "mrp_pegging"):
            ours = con.execute(f"select count(*) from analytics.{table}").fetchone()[0]
            assert ours == sv.execute(f"select count(*) from {table}").fetchone()[0] and ours > 0, table
