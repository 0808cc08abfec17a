"""Ingest: one test per class of bad input (real DuckDB, real Great Expectations suites).

Every test checks the promise of the issue: a structural problem stops with a message naming
the file and the column; a bad row is quarantined with its rule, column and source row, and
rows read = rows loaded + quarantined + after as-of (nothing lost).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from sop_pipeline.ingest import StructuralError, detect_as_of, ingest_extract, load_suite
from sop_pipeline.settings import REPO_ROOT

SUITES = REPO_ROOT / "expectations"
AS_OF = date(2025, 1, 31)
ITEMS = (
    "sku,description,family,category,unit_price,unit_cost,uom,make_or_buy,lifecycle\n"
    "A,Apple,F1,C1,10,5,EA,make,active\n"
    "B,Banana,F1,C1,4,2,EA,buy,new\n"
)
POS_HEADER = "date,location,sku,units,revenue\n"


def _write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _ingest(con, folder: Path, name: str, as_of: date = AS_OF):
    return ingest_extract(con, name, folder, load_suite(SUITES, name), as_of)


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _write(tmp_path, "items.csv", ITEMS)
    return tmp_path


def _quarantine(con, name: str) -> list[tuple]:
    return con.execute(f"select _source_row, _rules, _columns, _reasons from quarantine.{name} "
                       f"order by _source_row").fetchall()


def _assert_balanced(con, report, name: str) -> None:
    raw = con.execute(f"select count(*) from raw.{name}").fetchall()[0][0]
    quarantined = con.execute(f"select count(*) from quarantine.{name}").fetchall()[0][0]
    assert report.balanced
    assert report.rows_read == raw + quarantined
    assert report.rows_loaded == raw


def test_clean_file_loads_every_row_typed(con, folder):
    report = _ingest(con, folder, "items")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (2, 2, 0)
    assert con.execute("select typeof(unit_price), _source_row from raw.items where sku='B'").fetchall() == \
        [("DOUBLE", 3)]


# --- structural problems: the run stops, naming file and column --------------------------------

def test_missing_required_column_stops_naming_file_and_column(con, tmp_path):
    _write(tmp_path, "items.csv", "sku,description,family,category,unit_cost,uom,make_or_buy,lifecycle\n"
                                  "A,Apple,F1,C1,5,EA,make,active\n")
    with pytest.raises(StructuralError) as err:
        _ingest(con, tmp_path, "items")
    assert err.value.column == "unit_price"
    assert "items.csv" in str(err.value) and "unit_price" in str(err.value)


def test_misnamed_column_gets_a_rename_hint(con, tmp_path):
    _write(tmp_path, "items.csv", ITEMS.replace("unit_price", "Unit Price"))
    with pytest.raises(StructuralError, match="rename it to 'unit_price'"):
        _ingest(con, tmp_path, "items")


def test_empty_file_stops(con, folder):
    _write(folder, "pos_sales.csv", "")
    with pytest.raises(StructuralError, match=r"pos_sales\.csv: the file is empty"):
        _ingest(con, folder, "pos_sales")


def test_wrong_delimiter_stops_with_what_to_do(con, folder):
    _write(folder, "pos_sales.csv", "date;location;sku;units;revenue\n2025-01-02;S1;A;3;30\n")
    with pytest.raises(StructuralError, match="semicolon-separated.*comma-separated"):
        _ingest(con, folder, "pos_sales")


def test_required_extract_missing_stops(con, tmp_path):
    with pytest.raises(StructuralError, match="required extract 'items' is missing"):
        _ingest(con, tmp_path, "items")


def test_garbled_file_stops(con, folder):
    garbage = POS_HEADER + "".join(f"x{i}\n" for i in range(40))  # every line has 1 field of 5
    _write(folder, "pos_sales.csv", garbage)
    with pytest.raises(StructuralError, match="garbled"):
        _ingest(con, folder, "pos_sales")


def test_csv_and_parquet_of_the_same_extract_is_ambiguous(con, folder):
    duckdb.sql("select 'A' as sku").write_parquet(str(folder / "items.parquet"))
    with pytest.raises(StructuralError, match="both items.csv and items.parquet"):
        _ingest(con, folder, "items")


# --- row problems: quarantined with rule, column and source row ----------------------------------

def test_wrong_type_is_quarantined_naming_column_and_value(con, folder):
    _ingest(con, folder, "items")
    _write(folder, "pos_sales.csv", POS_HEADER + "2025-01-02,S1,A,3,30\n2025-01-03,S1,A,three,30\n")
    report = _ingest(con, folder, "pos_sales")
    assert (report.rows_loaded, report.rows_quarantined) == (1, 1)
    [(row, rules, columns, reasons)] = _quarantine(con, "pos_sales")
    assert (row, rules, columns) == (3, "type", "units")
    assert "'units' is not a number" in reasons and "three" in reasons
    _assert_balanced(con, report, "pos_sales")


def test_duplicate_key_quarantines_both_rows(con, tmp_path):
    _write(tmp_path, "items.csv", ITEMS + "A,Apple again,F1,C1,10,5,EA,make,active\n")
    report = _ingest(con, tmp_path, "items")
    assert report.rows_loaded == 1
    assert [(r[0], r[1]) for r in _quarantine(con, "items")] == [(2, "duplicate_key"), (4, "duplicate_key")]
    _assert_balanced(con, report, "items")


def test_negative_quantity_is_quarantined(con, folder):
    _ingest(con, folder, "items")
    _write(folder, "pos_sales.csv", POS_HEADER + "2025-01-02,S1,A,-3,30\n2025-01-03,S1,B,2,8\n")
    report = _ingest(con, folder, "pos_sales")
    [(row, rules, columns, reasons)] = _quarantine(con, "pos_sales")
    assert (row, rules, columns) == (2, "range", "units")
    assert "must not be negative" in reasons
    _assert_balanced(con, report, "pos_sales")


def test_unknown_sku_is_quarantined_as_reference_failure(con, folder):
    _ingest(con, folder, "items")
    _write(folder, "pos_sales.csv", POS_HEADER + "2025-01-02,S1,A,3,30\n2025-01-02,S1,ZZZ,1,9\n")
    report = _ingest(con, folder, "pos_sales")
    [(row, rules, columns, reasons)] = _quarantine(con, "pos_sales")
    assert (row, rules, columns) == (3, "reference", "sku")
    assert "not a known sku in items" in reasons and "ZZZ" in reasons
    _assert_balanced(con, report, "pos_sales")


def test_future_date_is_excluded_from_the_cycle_and_counted(con, folder):
    _ingest(con, folder, "items")
    _write(folder, "pos_sales.csv", POS_HEADER + "2025-01-02,S1,A,3,30\n2099-01-01,S1,A,1,10\n")
    as_of = detect_as_of(folder)
    assert as_of == date(2025, 1, 2)  # the 2099 typo does not become the cycle date
    report = _ingest(con, folder, "pos_sales", as_of=as_of)
    assert (report.rows_loaded, report.rows_quarantined, report.rows_after_as_of) == (1, 0, 1)
    [(row, rules, _, reasons)] = _quarantine(con, "pos_sales")
    assert (row, rules) == (3, "after_as_of") and "2099-01-01" in reasons
    _assert_balanced(con, report, "pos_sales")


def test_non_utf8_bytes_quarantine_the_line_not_the_file(con, folder):
    _ingest(con, folder, "items")
    _write(folder, "pos_sales.csv", (POS_HEADER + "2025-01-02,S1,A,3,30\n").encode()
           + b"2025-01-03,S1,B,\xff\xfe,8\n" + b"2025-01-04,S1,B,2,8\n")
    report = _ingest(con, folder, "pos_sales")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (3, 2, 1)
    [(row, rules, _, reasons)] = _quarantine(con, "pos_sales")
    assert (row, rules) == (3, "csv_reject") and "unicode" in reasons.lower()
    # the good row after the bad one keeps its own line number
    assert con.execute("select _source_row from raw.pos_sales order by 1").fetchall() == [(2,), (4,)]
    _assert_balanced(con, report, "pos_sales")


def test_unknown_category_and_maybe_decision_are_rejected_with_a_clear_reason(con, folder):
    _write(folder, "decisions.csv",
           "decision_id,cycle,kind,subject,value,approved,accountable,responsible,decided_at\n"
           "D1,2025-01-06,expedite,PO-1,yes,yes,Ops leader + Commercial leader,Master scheduler,2025-01-06 10:00:00\n"
           "D2,2025-01-06,freeze_window,weeks,4,maybe later,Ops leader + Commercial leader,Master scheduler,"
           "2025-01-06 10:05:00\n")
    report = _ingest(con, folder, "decisions")
    [(row, rules, columns, reasons)] = _quarantine(con, "decisions")
    assert (row, rules, columns) == (3, "category", "approved")
    assert "must be one of yes, no" in reasons and "maybe later" in reasons
    assert report.notes == ["extra columns kept as text: decision_id"]
    _assert_balanced(con, report, "decisions")


def test_optional_extract_absent_gives_empty_tables(con, folder):
    report = _ingest(con, folder, "downtime")
    assert report.status == "absent" and report.rows_read == 0
    assert con.execute("select count(*) from raw.downtime").fetchall() == [(0,)]
    assert [c[0] for c in con.execute("describe raw.downtime").fetchall()][:2] == ["resource_id", "start"]


def test_parquet_extract_loads_like_csv(con, folder):
    _ingest(con, folder, "items")
    duckdb.sql("select date '2025-01-02' as date, 'S1' as location, 'A' as sku, 3.0 as units, 30.0 as revenue "
               "union all select date '2025-01-03', 'S1', 'A', -1.0, 0.0").write_parquet(
        str(folder / "pos_sales.parquet"))
    report = _ingest(con, folder, "pos_sales")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (2, 1, 1)
    assert _quarantine(con, "pos_sales")[0][:2] == (2, "range")
