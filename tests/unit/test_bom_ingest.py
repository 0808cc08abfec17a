"""Bad BOM rows are quarantined at ingest with a reason (real DuckDB, real GX suite): a cycle, an
unknown component, zero or negative qty_per, the same parent and component on overlapping dates."""

from __future__ import annotations

from datetime import date

import duckdb

from sop_pipeline.ingest import ingest_extract, load_suite
from sop_pipeline.settings import REPO_ROOT

SUITES = REPO_ROOT / "expectations"
AS_OF = date(2026, 11, 22)
ITEMS = "sku,description,family,category,unit_price,unit_cost,uom,make_or_buy,lifecycle\n" + "".join(
    f"{s},{s},F,C,1,1,EA,{mb},active\n" for s, mb in [("A", "make"), ("B", "make"), ("C", "make"), ("K", "buy")]
)


def test_bad_bom_rows_are_quarantined_with_file_row_column_and_reason(tmp_path):
    (tmp_path / "items.csv").write_text(ITEMS)
    (tmp_path / "bom.csv").write_text(
        "parent_sku,component_sku,qty_per,effective_from,effective_to,bom_version\n"
        "A,B,1,,,v1\n"  # 2: A -> B -> C -> A is a cycle
        "B,C,2,,,v1\n"  # 3
        "C,A,1,,,v1\n"  # 4
        "A,K,0,,,v1\n"  # 5: zero qty_per
        "B,K,-1,,,v1\n"  # 6: negative
        "A,NOPE,1,,,v1\n"  # 7: unknown component
        "C,K,1,,2026-12-31,v1\n"  # 8 and 9 overlap in December: duplicates
        "C,K,2,2026-12-01,,v2\n"  # 9
        "B,K,1,,2026-11-30,v1\n"  # 10: fine
        "B,K,1,2026-12-01,,v2\n"  # 11: fine (the version after row 10)
    )
    with duckdb.connect() as con:
        ingest_extract(con, "items", tmp_path, load_suite(SUITES, "items"), AS_OF)
        report = ingest_extract(con, "bom", tmp_path, load_suite(SUITES, "bom"), AS_OF, max_quarantine_share=None)
        quarantined = con.execute(
            "select _source_row, _rules, _columns, _reasons from quarantine.bom order by 1"
        ).fetchall()
        loaded = con.execute("select _source_row, bom_version, effective_from from raw.bom order by 1").fetchall()
        issues = con.execute("select distinct source_file from quarantine.issues where extract = 'bom'").fetchall()
    assert [r[0] for r in loaded] == [10, 11]
    assert loaded[1][2] == date(2026, 12, 1)
    by_row = {r[0]: r for r in quarantined}
    assert sorted(by_row) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert by_row[2][1] == "bom_cycle" and "BOM cycle: A -> B -> C -> A" in by_row[2][3]
    assert by_row[5][1:3] == ("range", "qty_per") and "must be above 0" in by_row[5][3]
    assert by_row[6][1:3] == ("range", "qty_per")
    assert by_row[7][1:3] == ("reference", "component_sku") and "NOPE" in by_row[7][3]
    assert by_row[8][1] == "duplicate_key" and "row(s) 9" in by_row[8][3]
    assert report.rows_read == report.rows_loaded + report.rows_quarantined == 10
    assert issues == [(str(tmp_path / "bom.csv"),)]


def test_bom_without_the_optional_columns_loads_as_before(tmp_path):
    (tmp_path / "items.csv").write_text(ITEMS)
    (tmp_path / "bom.csv").write_text("parent_sku,component_sku,qty_per\nA,K,2\nB,K,1\nA,K,3\n")
    with duckdb.connect() as con:
        ingest_extract(con, "items", tmp_path, load_suite(SUITES, "items"), AS_OF)
        report = ingest_extract(con, "bom", tmp_path, load_suite(SUITES, "bom"), AS_OF, max_quarantine_share=None)
        rules = con.execute("select _source_row, _rules from quarantine.bom order by 1").fetchall()
    assert report.rows_loaded == 1 and rules == [(2, "duplicate_key"), (4, "duplicate_key")]
    assert any("optional column 'effective_from' absent" in n for n in report.notes)
