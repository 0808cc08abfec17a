"""The meeting pack from a tiny hand-made serving file: agenda order, "no data" panels, escaping,
plotly.js inlined once, the `sop report` command and the Dagster asset."""

from __future__ import annotations

import argparse
import re
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from sop_pipeline.commands import report as report_cmd
from sop_pipeline.report import AGENDA, ReportError, build_meeting_pack, write_meeting_pack

CYCLE = "2026-11-22"
EVIL = "<script>alert('x')</script> & co"
SECTION_IDS = ["last-month", "demand-review", "supply-review", "reconciliation", "decision-log"]
MINUTES = [10, 15, 15, 10, 10]


def _write(con: duckdb.DuckDBPyConnection, name: str, df: pd.DataFrame) -> None:
    con.register("_df", df)
    con.execute(f'create table "{name}" as select * from _df')
    con.unregister("_df")


def _serving(path: Path, tables: dict[str, pd.DataFrame], cycle: str | None = CYCLE) -> Path:
    with duckdb.connect(str(path)) as con:
        if cycle:
            con.execute(
                "create table _publish_info as select ?::varchar as cycle, "
                "timestamptz '2026-11-23 06:00:00+00' as published_at, 'abc123' as checksum",
                [cycle],
            )
        for name, df in tables.items():
            _write(con, name, df)
    return path


@pytest.fixture
def some_marts() -> dict[str, pd.DataFrame]:
    """A few marts with a few rows; capacity, decisions, forecast and others are absent."""
    return {
        "kpi_last_month": pd.DataFrame(
            {
                "kpi": ["otif_pct", "inventory_turns", EVIL],
                "area": ["service", "cash", "cash"],
                "value": [88.7, 10.1, 5.0],
                "prior_month_value": [89.5, 10.2, 4.0],
                "target": [95.0, 8.0, None],
                "unit": ["%", "turns/year", "count"],
                "trend": ["down", "down", "up"],
                "trend_is_good": [False, False, None],
                "on_target": [False, True, None],
            }
        ),
        "kpi_alerts": pd.DataFrame(
            {
                "alert": ["service_low_inventory_high", "kpi_off_target"],
                "subject": ["Snacks", "otif_pct"],
                "family": ["Snacks", "ALL"],
                "severity": ["high", "high"],
                "message": [f"Snacks OTIF 85.8% with 52 days of supply {EVIL}", "otif_pct was 88.7"],
            }
        ),
        "datapack_finance_pvm": pd.DataFrame(
            {
                "month_start": pd.to_datetime(["2026-10-01"] * 3),
                "comparison": ["vs_plan", "vs_plan", "vs_prior_month"],
                "family": ["Snacks", "ALL", "ALL"],
                "level": ["family", "total", "total"],
                "revenue_base": [100.0, 100.0, 90.0],
                "price_effect": [-5.0, -5.0, 2.0],
                "volume_effect": [8.0, 8.0, 5.0],
                "mix_effect": [-1.0, -1.0, 5.0],
                "revenue_actual": [102.0, 102.0, 102.0],
            }
        ),
        "safety_stock_curve": pd.DataFrame(
            {
                "family": ["TOTAL"] * 3 + ["Snacks"] * 3,
                "service_level": [0.9, 0.95, 0.99] * 2,
                "safety_stock_value": [100.0, 150.0, 300.0, 50.0, 80.0, 160.0],
                "is_current": [False, True, False] * 2,
                "is_proposed": [False, False, True] * 2,
                "is_chosen": [None, None, None, True, False, False],
            }
        ),
        "data_quality_extracts": pd.DataFrame(
            {
                "extract": ["items", "pos_sales", "downtime"],
                "status": ["loaded", "loaded", "absent"],
                "rows_loaded": [10, 100, 0],
                "rows_quarantined": [0, 3, 0],
                "rows_after_as_of": [0, 5, 0],
            }
        ),
        "kpi_scorecard": pd.DataFrame(
            {  # present but missing the column `on_target`: reads as no data
                "grain": ["month"],
                "period_start": pd.to_datetime(["2026-10-01"]),
                "area": ["service"],
                "kpi": ["otif_pct"],
                "value": [88.7],
                "unit": ["%"],
            }
        ),
    }


@pytest.fixture
def pack(tmp_path, some_marts):
    serving = _serving(tmp_path / "sop.duckdb", some_marts)
    return write_meeting_pack(serving, tmp_path / "reports")


def _panel(html: str, panel_id: str) -> str:
    """The HTML of one panel: from its id to the next panel or section."""
    start = html.index(f'id="{panel_id}"')
    ends = [i for i in (html.find(mark, start + 1) for mark in ('class="panel', "<section", "</main>")) if i > 0]
    return html[start : min(ends)]


def test_writes_one_file_named_after_the_published_cycle(pack, tmp_path):
    assert pack.path == tmp_path / "reports" / f"sop_pack_{CYCLE}.html"
    assert pack.cycle == CYCLE and pack.errors == {}
    again = build_meeting_pack(tmp_path / "sop.duckdb", tmp_path / "again")
    assert again == tmp_path / "again" / f"sop_pack_{CYCLE}.html"


def test_sections_follow_the_agenda_with_time_boxes(pack):
    html = pack.path.read_text()
    assert re.findall(r'<section id="([^"]+)"', html) == SECTION_IDS == [a.section_id for a in AGENDA]
    for section_id, minutes in zip(SECTION_IDS, MINUTES):
        heading = re.search(rf'<section id="{section_id}"[^>]*><h2>(.*?)</h2>', html).group(1)
        assert f"{minutes} min" in heading
    assert sum(MINUTES) == 60 and "Agenda (60 min)" in html
    assert "Last month in a meme" in html and "Decision log" in html


def test_absent_marts_say_no_data(pack):
    html = pack.path.read_text()
    for panel_id in (
        "supply-capacity",
        "supply-sequence",
        "supply-suppliers",
        "decision-items",
        "decision-risk-board",
        "demand-forecast",
        "demand-accuracy",
        "reconciliation-margin",
        "reconciliation-cash",
        "reconciliation-plan-vs-finance",
    ):
        assert panel_id in pack.no_data
        assert "No data yet" in _panel(html, panel_id)
    assert "datapack_capacity is not published" in _panel(html, "supply-capacity")
    assert "kpi_scorecard has no column on_target" in _panel(html, "kpi-scorecard")
    for panel_id in ("kpi-tiles", "kpi-alerts", "reconciliation-pvm", "supply-service-curve"):
        assert panel_id not in pack.no_data and "No data yet" not in _panel(html, panel_id)


def test_present_marts_are_shown(pack):
    html = pack.path.read_text()
    assert 'id="kpi-otif_pct"' in html and "88.7%" in html and "target 95.0%" in html
    assert "arrow bad" in _panel(html, "kpi-otif_pct")  # down and trend_is_good false: red arrow
    assert "Service is low and inventory is high" in html
    assert "2 extracts loaded" in html and "1 absent" in html and "3 rows quarantined" in html and "downtime" in html
    assert set(pack.charts) == {"pvm-vs-plan", "pvm-vs-prior-month", "supply-service-curve"}
    for name in pack.charts:
        assert f'id="chart-{name}" data-chart="{name}"' in html and f'"plot-{name}"' in html
    assert '"type":"waterfall"' in html and '"measure":["absolute","relative","relative","relative","total"]' in html


def _plan_reconciliation() -> dict[str, pd.DataFrame]:
    """Horizon 23 Nov 2026 - 21 Feb 2027; finance has planned Nov-Jan but not Feb."""

    def rows(period, start, end, days, in_period, covered, fin, price, volume, mix, por):
        return [
            {
                "period": period,
                "period_start": pd.Timestamp(start),
                "period_end": pd.Timestamp(end),
                "days_covered": days,
                "days_in_period": in_period,
                "finance_plan_covered": covered,
                "family": family,
                "level": level,
                "revenue_finance_plan": f,
                "price_effect": p,
                "volume_effect": v,
                "mix_effect": m,
                "revenue_plan_of_record": r,
                "margin_plan_of_record": r / 2,
            }
            for family, level, f, p, v, m, r in zip(
                ["Snacks", "Dairy", "ALL"], ["family", "family", "total"], fin, price, volume, mix, por
            )
        ]

    bridge = pd.DataFrame(
        rows(
            "horizon",
            "2026-11-23",
            "2027-02-21",
            70,
            91,
            False,
            [900.0, 100.0, 1000.0],
            [10.0, -5.0, 5.0],
            [40.0, 5.0, 45.0],
            [-20.0, 20.0, 0.0],
            [930.0, 120.0, 1050.0],
        )
        + rows(
            "month",
            "2026-11-01",
            "2026-11-30",
            8,
            30,
            True,
            [90.0, 10.0, 100.0],
            [1.0, 0.0, 1.0],
            [4.0, 1.0, 5.0],
            [0.0, 0.0, 0.0],
            [95.0, 11.0, 106.0],
        )
        + rows(
            "month",
            "2027-02-01",
            "2027-02-28",
            21,
            28,
            False,
            [None] * 3,
            [None] * 3,
            [None] * 3,
            [None] * 3,
            [200.0, 30.0, 230.0],
        )
    )
    controls = pd.DataFrame(
        {
            "measure": ["revenue", "inventory_value_horizon_end"],
            "downstream": ["plan_of_record_family", "finance_cash_projection"],
            "plan_of_record_value": [1280.0, 5000.0],
            "downstream_value": [1280.0, 4990.0],
            "difference": [0.0, -10.0],
            "tolerance": [0.01, 0.01],
            "reconciles": [True, False],
            "notes": ["", ""],
        }
    )
    return {"plan_reconciliation": bridge, "plan_reconciliation_controls": controls}


def test_plan_vs_finance_panel_shows_the_waterfall_families_and_control_totals(tmp_path):
    pack = write_meeting_pack(_serving(tmp_path / "sop.duckdb", _plan_reconciliation()), tmp_path)
    html = pack.path.read_text()
    assert pack.errors == {} and "reconciliation-plan-vs-finance" not in pack.no_data
    assert pack.charts == ["plan-vs-finance"]
    panel = _panel(html, "reconciliation-plan-vs-finance")
    assert 'data-chart="plan-vs-finance"' in panel and '"type":"waterfall"' in panel
    assert '"x":["Finance plan","Price","Volume","Mix","Plan of record"]' in panel
    assert '"y":[1000.0,5.0,45.0,0.0,1050.0]' in panel
    assert panel.index(">Dairy<") < panel.index(">Snacks<") < panel.index(">ALL<")  # families, then the total
    assert ">930<" in panel and ">+10<" in panel and ">-20<" in panel
    assert "Nov 2026 8/30 days" in panel and "Feb 2027 21/28 days" in panel
    assert "Not compared (finance has no plan for the month): Feb 2027" in panel
    assert "Inventory at cost, horizon end" in panel
    assert '<span class="badge bad">leaks</span>' in panel and '<span class="badge good">reconciles</span>' in panel


def test_plan_vs_finance_without_a_horizon_row_says_no_data(tmp_path):
    tables = _plan_reconciliation()
    tables["plan_reconciliation"] = tables["plan_reconciliation"].iloc[0:0]
    pack = write_meeting_pack(_serving(tmp_path / "sop.duckdb", tables), tmp_path)
    assert "reconciliation-plan-vs-finance" in pack.no_data and pack.errors == {}
    assert "plan_reconciliation has no rows this cycle" in _panel(
        pack.path.read_text(), "reconciliation-plan-vs-finance"
    )


def test_text_from_the_data_is_escaped(pack):
    html = pack.path.read_text()
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in html  # MarkupSafe's escapes


HOSTILE_DESCRIPTION = "Cr\u00e8me \"br\u00fbl\u00e9e\" <script>alert('sku')</script> & it's Caf\u00e9 </td></table>"


class _Text(HTMLParser):
    """The visible text of a fragment (what a browser shows)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def _visible(fragment: str) -> str:
    parser = _Text()
    parser.feed(fragment)
    return "".join(parser.parts)


def test_a_hostile_sku_description_is_escaped_in_every_panel_that_shows_it(tmp_path):
    """Quotes, a <script> tag, markup that would close the table and Latin-1 letters in a SKU's
    description come out escaped (shown as text, never as markup) in the substitutions table, the E&O
    reasons, the deals detail and a KPI tile, through the Jinja2 templates' autoescaping."""
    substitutions = pd.DataFrame(
        {
            "promo_id": ["PR1"],
            "sku": ["SKU0002"],
            "description": [HOSTILE_DESCRIPTION],
            "substitute_sku": ["SKU0003"],
            "units": [40],
        }
    )
    eo = pd.DataFrame(
        {
            "sku": ["SKU0002"],
            "family": ["Snacks"],
            "excess_units": [5.0],
            "obsolete_units": [0.0],
            "value": [12.5],
            "reason": [HOSTILE_DESCRIPTION],
        }
    )
    review = _demand_review().assign(detail=HOSTILE_DESCRIPTION)
    tiles = pd.DataFrame(
        {
            "kpi": [HOSTILE_DESCRIPTION],
            "area": ["service"],
            "value": [1.0],
            "prior_month_value": [2.0],
            "target": [None],
            "unit": [HOSTILE_DESCRIPTION],
            "trend": ["down"],
            "trend_is_good": [None],
            "on_target": [None],
        }
    )
    serving = _serving(
        tmp_path / "sop.duckdb",
        {"substitution_plan": substitutions, "datapack_eo": eo, "demand_review": review, "kpi_last_month": tiles},
    )
    pack = write_meeting_pack(serving, tmp_path)
    html = pack.path.read_text(encoding="utf-8")
    assert pack.errors == {}
    assert "<script>alert('sku')" not in html and "</td></table> " not in html
    escaped = (
        "Cr\u00e8me &#34;br\u00fbl\u00e9e&#34; &lt;script&gt;alert(&#39;sku&#39;)&lt;/script&gt; &amp; "
        "it&#39;s Caf\u00e9 &lt;/td&gt;&lt;/table&gt;"
    )
    for panel_id in ("decision-substitutions", "supply-eo", "demand-promotions", "kpi-tiles"):
        panel = _panel(html, panel_id)
        assert escaped in panel, panel_id
        assert HOSTILE_DESCRIPTION in _visible(panel), panel_id  # the reader sees the text as it was
    tile = _panel(html, "kpi-tiles")
    assert 'id="kpi-Cr\u00e8me &#34;br\u00fbl\u00e9e&#34; &lt;script&gt;' in tile  # in an attribute too
    # the table it sits in still has its rows and columns: nothing was closed early
    subs = _panel(html, "decision-substitutions")
    assert subs.count("<tr>") == 2 and subs.count("</table>") == 1


def test_templates_autoescape_and_ship_with_the_package():
    from importlib.resources import files

    from sop_pipeline.report.templating import ENV, macros

    assert ENV.autoescape is True
    assert str(macros("components.html.j2").badge("<b>&", "good")) == '<span class="badge good">&lt;b&gt;&amp;</span>'
    shipped = {p.name for p in (files("sop_pipeline.report") / "templates").iterdir()}
    assert {
        "pack.html.j2",
        "components.html.j2",
        "last_month.html.j2",
        "demand.html.j2",
        "reconciliation.html.j2",
        "decisions.html.j2",
    } <= shipped
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert '"report/templates/*.html.j2"' in pyproject


def test_plotly_js_is_inlined_exactly_once_and_nothing_is_fetched(pack):
    html = pack.path.read_text()
    bundle = get_plotlyjs()
    assert html.count(bundle[:120]) == 1 and html.count(bundle) == 1
    assert html.count("plotly.js v") == 1
    rest = html.replace(bundle, "")  # the bundle itself names CDNs (geo maps) the pack never uses
    assert "cdn.plot.ly" not in rest and not re.search(r"<script[^>]+src=", rest)
    assert "<link" not in rest and "@import" not in rest and "fonts.googleapis" not in rest


def test_an_empty_serving_file_degrades_to_no_data_everywhere(tmp_path):
    pack = write_meeting_pack(_serving(tmp_path / "sop.duckdb", {}), tmp_path)
    html = pack.path.read_text()
    assert pack.errors == {} and pack.charts == []
    assert re.findall(r'<section id="([^"]+)"', html) == SECTION_IDS
    assert len(pack.no_data) >= 15 and html.count("No data yet") >= 15
    assert html.count("plotly.js v") == 1


def test_decisions_need_a_yes_or_no_with_owners(tmp_path):
    decisions = pd.DataFrame(
        {
            "decision_id": ["D1", "D2"],
            "cycle": [CYCLE, "2026-11-15"],
            "kind": ["expedite", "service_target"],
            "subject": ["SKU0001", "Snacks"],
            "value": ["air freight 2 pallets", "0.97"],
            "approved": [None, "yes"],
            "accountable": ["Ops leader", "Commercial leader"],
            "responsible": ["Master scheduler", "Demand planner"],
            "status": ["proposed", "approved"],
            "effect": ["+2 days of cover", "applied"],
        }
    )
    pack = write_meeting_pack(_serving(tmp_path / "sop.duckdb", {"decision_log": decisions}), tmp_path)
    panel = _panel(pack.path.read_text(), "decision-items")
    assert "Needs a yes/no today (1)" in panel and "\u2610 Yes \u2610 No" in panel
    assert "Ops leader" in panel and "Master scheduler" in panel and "Expedite" in panel


def test_cycle_must_be_the_published_one(tmp_path, some_marts):
    serving = _serving(tmp_path / "sop.duckdb", some_marts)
    with pytest.raises(ReportError, match="published cycle 2026-11-22, not 2026-11-15"):
        build_meeting_pack(serving, tmp_path, cycle="2026-11-15")
    assert build_meeting_pack(serving, tmp_path, cycle=CYCLE).name == f"sop_pack_{CYCLE}.html"
    with pytest.raises(ReportError, match="not found"):
        build_meeting_pack(tmp_path / "missing.duckdb", tmp_path)


def test_without_publish_info_the_cycle_must_be_given(tmp_path):
    serving = _serving(tmp_path / "sop.duckdb", {}, cycle=None)
    with pytest.raises(ReportError, match="cycle is unknown"):
        build_meeting_pack(serving, tmp_path)
    assert build_meeting_pack(serving, tmp_path, cycle="2026-01-04").name == "sop_pack_2026-01-04.html"


# ---- `sop report` --------------------------------------------------------------------------------


def _cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sop")
    report_cmd.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["report", *argv])


def test_command_writes_the_pack_under_reports_and_prints_its_path(tmp_path, some_marts, capsys, monkeypatch):
    (tmp_path / "serving").mkdir()
    _serving(tmp_path / "serving" / "sop.duckdb", some_marts)
    monkeypatch.setenv("SOP_DATA_DIR", str(tmp_path))
    assert report_cmd.run(_cli()) == 0
    out = capsys.readouterr().out.strip()
    assert out == str(tmp_path / "reports" / f"sop_pack_{CYCLE}.html") and Path(out).is_file()
    assert report_cmd.run(_cli("--data-dir", str(tmp_path), "--out", str(tmp_path / "elsewhere"))) == 0
    assert (tmp_path / "elsewhere" / f"sop_pack_{CYCLE}.html").is_file()


def test_command_exits_2_without_a_serving_file_or_for_another_cycle(tmp_path, some_marts, capsys):
    assert report_cmd.run(_cli("--data-dir", str(tmp_path))) == 2
    assert "no published cycle" in capsys.readouterr().err
    (tmp_path / "serving").mkdir()
    _serving(tmp_path / "serving" / "sop.duckdb", some_marts)
    assert report_cmd.run(_cli("--data-dir", str(tmp_path), "--cycle", "2026-11-15")) == 2
    err = capsys.readouterr().err
    assert "2026-11-22" in err and "2026-11-15" in err


def test_command_help_explains_each_option(capsys):
    with pytest.raises(SystemExit):
        _cli("--help")
    text = capsys.readouterr().out
    for option in ("--cycle", "--data-dir", "--out", "SOP_DATA_DIR", "reports/"):
        assert option in text


# ---- Dagster asset -------------------------------------------------------------------------------


def test_asset_materializes_with_path_link_and_sections(tmp_path, some_marts):
    import dagster as dg

    from sop_pipeline.assets.report import meeting_pack
    from sop_pipeline.resources import SopSettings

    (tmp_path / "serving").mkdir()
    _serving(tmp_path / "serving" / "sop.duckdb", some_marts)
    settings = SopSettings(
        extracts_dir=str(tmp_path / "extracts"), data_dir=str(tmp_path), expectations_dir=str(tmp_path / "expectations")
    )
    result = dg.materialize([meeting_pack], resources={"settings": settings})
    assert result.success
    meta = result.asset_materializations_for_node("reports__meeting_pack")[0].metadata
    path = tmp_path / "reports" / f"sop_pack_{CYCLE}.html"
    assert meta["path"].value == str(path) and path.is_file()
    assert meta["link"].value == path.as_uri()
    assert meta["sections_rendered"].value == SECTION_IDS
    assert "supply-capacity" in meta["no_data_panels"].value
    assert meta["size_kb"].value > 100


def test_marts_still_to_come_render_when_published(tmp_path):
    """Capacity, sequencing, suppliers, risk board, plan of record and the SKU forecast (rolled up to
    family when the family mart is absent) render as charts and tables without errors."""
    weeks = pd.date_range("2026-11-23", periods=3, freq="7D")
    capacity = pd.DataFrame(
        {
            "resource_id": ["M1"] * 3 + ["L1"] * 3,
            "type": ["machine"] * 3 + ["labor"] * 3,
            "week_start": list(weeks) * 2,
            "available_hours": [80.0] * 6,
            "required_hours": [90.0, 70.0, 60.0, 40.0, 50.0, 30.0],
            "changeover_hours": [6.0, 5.0, 4.0, 0.0, 0.0, 0.0],
            "load_pct": [112.5, 87.5, 75.0, 50.0, 62.5, 37.5],
            "is_bottleneck": [True, True, False, False, False, False],
        }
    )
    sequence = pd.DataFrame(
        {
            "resource_id": ["M1", "M1"],
            "week_start": weeks[:2],
            "changeover_hours_fifo": [9.0, 8.0],
            "changeover_hours_optimized": [6.0, 5.0],
            "oee_fifo": [0.61, 0.63],
            "oee_optimized": [0.66, 0.67],
            "late_orders": [2, 1],
        }
    )
    forecast = pd.DataFrame(
        {
            "sku": ["S1", "S1", "S2", "S2"],
            "family": ["Snacks"] * 4,
            "week_start": list(weeks[:2]) * 2,
            "horizon_week": [1, 2] * 2,
            "units_p10": [8.0, 9.0, 18.0, 19.0],
            "units_p50": [10.0, 11.0, 20.0, 22.0],
            "units_p90": [13.0, 14.0, 23.0, 26.0],
            "revenue": [30.0, 33.0, 40.0, 44.0],
            "sensed_units": [11.0, 11.0, 20.0, 22.0],
            "model": ["lightgbm"] * 4,
        }
    )
    tables = {
        "datapack_capacity": capacity,
        "sequence_summary": sequence,
        "datapack_demand_forecast": forecast,
        "datapack_abc_xyz": pd.DataFrame(
            {
                "sku": ["S1", "S2"],
                "family": ["Snacks"] * 2,
                "abc": ["A", "B"],
                "xyz": ["X", None],
                "revenue_12m": [1000.0, 500.0],
                "mean_weekly_units": [8.0, 30.0],
            }
        ),
        "datapack_supplier_performance": pd.DataFrame(
            {"supplier_id": ["SUP1", "SUP2"], "otif_pct": [71.0, 96.0], "lead_time_days": [40.5, 21.0]}
        ),
        "datapack_risk_board": pd.DataFrame(
            {
                "rank": [1],
                "kind": ["supplier"],
                "entity_id": ["SUP1"],
                "signal": ["drift"],
                "probability": [0.8],
                "impact_value": [1000.0],
                "expected_impact": [800.0],
                "mitigation": ["Pull in POs"],
                "owner": ["Procurement"],
            }
        ),
        "plan_of_record_family": pd.DataFrame(
            {
                "family": ["Snacks", "Snacks"],
                "week_start": weeks[:2],
                "demand_units": [100.0, 120.0],
                "supply_units": [90.0, 120.0],
                "revenue": [300.0, 360.0],
                "projected_inventory_units": [40.0, 25.0],
                "safety_stock_units": [30.0, 30.0],
                "skus_at_risk": [0, 1],
            }
        ),
        "substitution_plan": pd.DataFrame({"promo_id": pd.Series([], dtype=str), "sku": pd.Series([], dtype=str)}),
    }
    pack = write_meeting_pack(_serving(tmp_path / "sop.duckdb", tables), tmp_path)
    html = pack.path.read_text()
    assert pack.errors == {}
    assert {"supply-capacity", "supply-sequence", "demand-forecast"} <= set(pack.charts)
    for panel_id in (
        "supply-capacity",
        "supply-sequence",
        "supply-suppliers",
        "decision-risk-board",
        "decision-plan-of-record",
        "demand-forecast",
        "demand-top-movers",
        "demand-abc-xyz",
    ):
        assert panel_id not in pack.no_data, panel_id
    assert "\u2605 M1" in html  # the bottleneck is starred
    assert "saves 6.0 changeover hours" in _panel(html, "supply-sequence")
    assert _panel(html, "supply-suppliers").index("SUP1") < _panel(html, "supply-suppliers").index("SUP2")
    assert "Pull in POs" in _panel(html, "decision-risk-board") and "80%" in _panel(html, "decision-risk-board")
    plan = _panel(html, "decision-plan-of-record")  # 13-week sums by family; inventory at the last week
    assert ">220<" in plan and ">210<" in plan and ">660<" in plan and ">25<" in plan
    assert "decision-substitutions" not in pack.no_data  # published without rows: nothing to decide
    assert "no substitutes" in _panel(html, "decision-substitutions")
    assert "decision-plan-changes" in pack.no_data and "plan_changes is not published" in html


def _demand_review() -> pd.DataFrame:
    """demand_review as the mart publishes it: the row type is in `item`."""
    rows = [
        ("top_mover_vs_last_year", "S1", "Snacks", None, None, 120.0, 100.0, 20.0, "up", None, None),
        ("top_mover_vs_last_cycle", "S2", "Dairy", None, None, 50.0, 80.0, -30.0, "down", None, None),
        ("promotion", "S1", "Snacks", "PR1", "2026-12-01", 40.0, None, None, None, "promo PR1 at ALL, 10% off", None),
        (
            "lost_deal",
            "S3",
            "Dairy",
            "OP1",
            "2026-11-20",
            500.0,
            None,
            None,
            None,
            "C1: lost, probability 0%",
            "2026-11-15",
        ),
        (
            "new_win",
            "Snacks",
            "Snacks",
            "OP2",
            "2026-11-18",
            300.0,
            None,
            None,
            None,
            "C2: won, probability 100%",
            "2026-11-15",
        ),
        (
            "open_deal",
            "S2",
            "Dairy",
            "OP3",
            "2027-01-10",
            200.0,
            None,
            None,
            None,
            "C3: open, probability 60%",
            "2026-11-15",
        ),
    ]
    df = pd.DataFrame(
        rows,
        columns=[
            "item",
            "sku",
            "family",
            "reference",
            "date_from",
            "units",
            "units_before",
            "units_change",
            "direction",
            "detail",
            "window_start",
        ],
    )
    return df.assign(
        date_from=pd.to_datetime(df.date_from),
        date_to=pd.to_datetime(df.date_from),
        window_start=pd.to_datetime(df.window_start),
    )


def test_demand_review_rows_land_in_their_panel_by_item(tmp_path):
    """Promotions and deals (item promotion / lost_deal / new_win / open_deal) fill their panel; only
    top movers go to Top movers."""
    pack = write_meeting_pack(_serving(tmp_path / "sop.duckdb", {"demand_review": _demand_review()}), tmp_path)
    html = pack.path.read_text()
    assert "demand-promotions" not in pack.no_data and "demand-top-movers" not in pack.no_data
    deals, movers = _panel(html, "demand-promotions"), _panel(html, "demand-top-movers")
    for ref in ("PR1", "OP1", "OP2", "OP3"):
        assert f">{ref}<" in deals and ref not in movers
    assert ">Lost deal<" in deals and ">New win<" in deals and ">Open deal<" in deals and ">Promotion<" in deals
    assert "Lost deal: 1, New win: 1" in deals and "closed since the last cycle (2026-11-15)" in deals
    assert ">vs last year<" in movers and ">vs last cycle<" in movers and ">-30<" in movers
    assert "promo PR1" not in movers


def test_deals_panel_says_when_nothing_was_lost_or_won(tmp_path):
    review = _demand_review()
    review = review[~review["item"].isin(["lost_deal", "new_win"])]
    pack = write_meeting_pack(_serving(tmp_path / "sop.duckdb", {"demand_review": review}), tmp_path)
    deals = _panel(pack.path.read_text(), "demand-promotions")
    assert "No CRM deal was lost or won since the last cycle (2026-11-15)" in deals
    assert "Lost deal: 0, New win: 0, Open deal: 1" in deals


def test_revenue_bridge_panel_walks_forecast_to_plan_to_finance(tmp_path):
    steps = [
        "forecast",
        "volume",
        "price_promotion_weeks",
        "price_other_weeks",
        "plan_of_record",
        "finance_price",
        "finance_volume",
        "finance_mix",
        "finance_plan",
    ]
    amounts = [100.0, 5.0, 2.0, 13.0, 120.0, -4.0, -6.0, 1.0, 111.0]
    bridge = pd.DataFrame(
        {
            "step_order": range(1, 10),
            "step": steps,
            "kind": ["total" if s in ("forecast", "plan_of_record", "finance_plan") else "effect" for s in steps],
            "amount": amounts,
            "description": [f"why {s}" for s in steps],
        }
    )
    pack = write_meeting_pack(_serving(tmp_path / "sop.duckdb", {"plan_revenue_bridge": bridge}), tmp_path)
    panel = _panel(pack.path.read_text(), "reconciliation-revenue-bridge")
    assert pack.errors == {} and "revenue-bridge" in pack.charts
    assert (
        '"measure":["absolute","relative","relative","relative","total","relative","relative","relative","total"]'
    ) in panel
    assert ">+13<" in panel and ">120<" in panel and ">-6<" in panel and "why price_other_weeks" in panel


def test_scorecard_names_the_resource_of_supply_kpis(tmp_path):
    months = pd.to_datetime(["2026-09-01", "2026-10-01"])
    scorecard = pd.DataFrame(
        {
            "grain": ["month"] * 6,
            "period_start": list(months) * 3,
            "area": ["efficiency"] * 6,
            "kpi": ["oee_constraint_pct"] * 2 + ["oee_bottleneck_pct"] * 2 + ["changeover_vs_plan_pct"] * 2,
            "subject": ["declared constraint M1"] * 2
            + ["measured bottleneck T1 (tooling): no OEE data"] * 2
            + ["declared constraint M1"] * 2,
            "value": [70.0, 72.0, None, None, 110.0, 120.0],
            "unit": ["%", "%", "%", "%", "% of plan", "% of plan"],
            "on_target": [False, False, None, None, True, False],
        }
    )
    pack = write_meeting_pack(_serving(tmp_path / "sop.duckdb", {"kpi_scorecard": scorecard}), tmp_path)
    panel = _panel(pack.path.read_text(), "kpi-scorecard")
    assert "OEE on declared constraint" in panel and "OEE on measured bottleneck" in panel
    assert "measured bottleneck T1 (tooling): no OEE data" in panel and "Changeover hours vs plan" in panel
    assert panel.count("declared constraint M1") == 2


def test_data_quality_header_says_why_rows_were_quarantined(tmp_path, some_marts):
    marts = dict(some_marts)
    marts["data_quality_extracts"] = pd.DataFrame(
        {
            "extract": ["items", "pos_sales"],
            "status": ["loaded", "loaded"],
            "rows_loaded": [38, 900],
            "rows_quarantined": [2, 95],
            "rows_after_as_of": [0, 4],
        }
    )
    marts["data_quality_issues"] = pd.DataFrame(
        {
            "extract": ["items", "pos_sales", "pos_sales", "pos_sales"],
            "rule": ["duplicate_key", "master_quarantined", "range", "after_as_of"],
            "column_name": ["sku", "sku", "units", "date"],
            "rows_affected": [2, 92, 3, 4],
        }
    )
    html = write_meeting_pack(_serving(tmp_path / "sop.duckdb", marts), tmp_path / "reports").path.read_text()
    header = html[html.index('id="data-quality"') :]
    header = header[: header.index("</div>")]
    assert "items 2 (duplicated key 2)" in header
    assert "pos_sales 95 (its item/master quarantined 92; out of range 3)" in header
    assert "after_as_of" not in header


def test_plan_changes_panel_shows_signed_unit_and_revenue_changes(tmp_path, some_marts):
    marts = dict(some_marts)
    marts["plan_changes"] = pd.DataFrame(
        {
            "family": ["Snacks", "Drinks"],
            "previous_cycle_id": pd.to_datetime(["2026-11-15"] * 2),
            "units_change": [120.4, -35.0],
            "revenue_change": [310.0, -99.5],
            "decision_ids": ["D-1", ""],
            "signals": ["promo", ""],
        }
    )
    written = write_meeting_pack(_serving(tmp_path / "sop.duckdb", marts), tmp_path / "reports")
    html = _panel(written.path.read_text(), "decision-plan-changes")
    assert not written.errors, written.errors
    assert "+120" in html and "-35" in html and "+310" in html and "-100" in html
    assert "no data" not in html.lower()
