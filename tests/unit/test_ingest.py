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


def _ingest(con, folder: Path, name: str, as_of: date = AS_OF, **kwargs):
    """Ingest with no share limit unless given: these files have 2-3 rows, one bad row is 33-50%."""
    kwargs.setdefault("max_quarantine_share", None)
    return ingest_extract(con, name, folder, load_suite(SUITES, name), as_of, **kwargs)


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
    return con.execute(
        f"select _source_row, _rules, _columns, _reasons from quarantine.{name} order by _source_row"
    ).fetchall()


def _assert_balanced(con, report, name: str) -> None:
    raw = con.execute(f"select count(*) from raw.{name}").fetchall()[0][0]
    quarantined = con.execute(f"select count(*) from quarantine.{name}").fetchall()[0][0]
    assert report.balanced
    assert report.rows_read == raw + quarantined
    assert report.rows_loaded == raw


def test_clean_file_loads_every_row_typed(con, folder):
    report = _ingest(con, folder, "items")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (2, 2, 0)
    assert con.execute("select typeof(unit_price), _source_row from raw.items where sku='B'").fetchall() == [
        ("DOUBLE", 3)
    ]


# --- structural problems: the run stops, naming file and column --------------------------------


def test_missing_required_column_stops_naming_file_and_column(con, tmp_path):
    _write(
        tmp_path,
        "items.csv",
        "sku,description,family,category,unit_cost,uom,make_or_buy,lifecycle\nA,Apple,F1,C1,5,EA,make,active\n",
    )
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
    _write(
        folder,
        "pos_sales.csv",
        (POS_HEADER + "2025-01-02,S1,A,3,30\n").encode() + b"2025-01-03,S1,B,\xff\xfe,8\n" + b"2025-01-04,S1,B,2,8\n",
    )
    report = _ingest(con, folder, "pos_sales")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (3, 2, 1)
    [(row, rules, columns, reasons)] = _quarantine(con, "pos_sales")
    assert row == 3 and "encoding" in rules.split("; ") and columns.startswith("units")
    assert "'units' is not UTF-8 text" in reasons
    # the good row after the bad one keeps its own line number
    assert con.execute("select _source_row from raw.pos_sales order by 1").fetchall() == [(2,), (4,)]
    _assert_balanced(con, report, "pos_sales")


def test_unknown_category_and_maybe_decision_are_rejected_with_a_clear_reason(con, folder):
    _write(
        folder,
        "decisions.csv",
        "decision_id,cycle,kind,subject,value,approved,accountable,responsible,decided_at\n"
        "D1,2025-01-06,expedite,PO-1,yes,yes,Ops leader + Commercial leader,Master scheduler,2025-01-06 10:00:00\n"
        "D2,2025-01-06,freeze_window,weeks,4,maybe later,Ops leader + Commercial leader,Master scheduler,"
        "2025-01-06 10:05:00\n",
    )
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
    duckdb.sql(
        "select date '2025-01-02' as date, 'S1' as location, 'A' as sku, 3.0 as units, 30.0 as revenue "
        "union all select date '2025-01-03', 'S1', 'A', -1.0, 0.0"
    ).write_parquet(str(folder / "pos_sales.parquet"))
    report = _ingest(con, folder, "pos_sales")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (2, 1, 1)
    assert _quarantine(con, "pos_sales")[0][:2] == (2, "range")


# --- every failing row, however many (issue 12) ---------------------------------------------------


def test_ten_thousand_bad_rows_are_all_quarantined_and_none_loaded(con, folder):
    _ingest(con, folder, "items")
    good = [f"2025-01-{1 + i % 28:02d},G{i},A,1,10" for i in range(500)]
    negative = [f"2025-01-{1 + i % 28:02d},N{i},A,-1,10" for i in range(10_000)]
    unknown = [f"2025-01-{1 + i % 28:02d},U{i},ZZZ,1,10" for i in range(3_000)]
    _write(folder, "pos_sales.csv", POS_HEADER + "\n".join(good + negative + unknown) + "\n")
    report = _ingest(con, folder, "pos_sales")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (13_500, 500, 13_000)
    assert report.failures_by_rule == {"range": 10_000, "reference": 3_000}
    assert not [n for n in report.notes if "Great Expectations found" in n], report.notes  # GX agrees with SQL
    assert con.execute("select count(*) from raw.pos_sales where units < 0 or sku <> 'A'").fetchall() == [(0,)]
    assert con.execute("select min(_source_row), max(_source_row), count(*) from quarantine.pos_sales").fetchall() == [
        (502, 13_501, 13_000)
    ]
    _assert_balanced(con, report, "pos_sales")


def test_sql_rules_and_gx_give_the_same_quarantine(con, folder):
    """The SQL translation of the suite is checked against GX itself on the same rows."""
    _ingest(con, folder, "items")
    rows = [
        "2025-01-02,S1,A,1,10",
        "2025-01-02,S1,A,2,10",
        "2025-01-03,S1,,1,1",
        "2025-01-04,S2,B,-1,-5",
        "2025-01-05,S3,Q,1,1",
        "2025-01-06,S1,B,3,",
    ]
    _write(folder, "pos_sales.csv", POS_HEADER + "\n".join(rows) + "\n")
    quarantines = []
    for limit in (0, None, 10**6):  # SQL only (a note says GX was skipped), no cross-check, SQL cross-checked by GX
        report = _ingest(con, folder, "pos_sales", gx_check_max_rows=limit)
        quarantines.append((report.failures_by_rule, _quarantine(con, "pos_sales")))
        assert not [n for n in report.notes if "Great Expectations found" in n]
        assert any("cross-check skipped" in n for n in report.notes) == (limit == 0)
        assert (report.gx_expectations > 0) == bool(limit)  # every expectation here has its SQL
    assert quarantines[0] == quarantines[1] == quarantines[2]
    assert quarantines[0][0] == {"duplicate_key": 2, "not_null": 1, "range": 1, "reference": 1}


def test_expectation_without_sql_is_validated_by_gx_for_every_row(con, folder):
    suite = load_suite(SUITES, "items")
    suite["expectations"].append(
        {
            "type": "expect_column_value_lengths_to_be_between",
            "kwargs": {"column": "sku", "max_value": 3},
            "meta": {"sop_rule": "sku_length", "reason": "sku longer than 3 characters"},
        }
    )
    lines = [f"SKU{i:04d},Thing,F1,C1,10,5,EA,make,active" for i in range(300)]
    _write(folder, "items.csv", ITEMS + "\n".join(lines) + "\n")
    for cross_check in (None, 10**6):  # the cycle's default (no cross-check) and the cross-check
        report = ingest_extract(
            con, "items", folder, suite, AS_OF, max_quarantine_share=None, gx_check_max_rows=cross_check
        )
        assert report.failures_by_rule == {"sku_length": 300} and report.rows_loaded == 2
        checked = sum(e["type"] != "expect_column_to_exist" for e in suite["expectations"])
        assert report.gx_expectations == (1 if cross_check is None else checked)  # the one without SQL; all


# --- malformed CSV lines: quarantined, never repaired ---------------------------------------------


def test_truncated_last_line_is_quarantined_not_loaded(con, folder):
    _ingest(con, folder, "items")
    _write(folder, "pos_sales.csv", POS_HEADER + "2025-01-02,S1,A,3,30\n2025-01-03,S1,B,1,16")  # was 16.29
    report = _ingest(con, folder, "pos_sales")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (2, 1, 1)
    [(row, rules, _, reasons)] = _quarantine(con, "pos_sales")
    assert (row, rules) == (3, "truncated") and "cut off" in reasons
    assert con.execute("select count(*) from raw.pos_sales where revenue = 16").fetchall() == [(0,)]
    _assert_balanced(con, report, "pos_sales")


def test_short_last_line_without_newline_is_quarantined_as_truncated(con, folder):
    _ingest(con, folder, "items")
    _write(folder, "pos_sales.csv", POS_HEADER + "2025-01-02,S1,A,3,30\n2025-01-03,S1,B")
    report = _ingest(con, folder, "pos_sales")
    [(row, rules, _, reasons)] = _quarantine(con, "pos_sales")
    assert (row, rules) == (3, "csv_reject; truncated") and "3 fields, the header 5" in reasons
    _assert_balanced(con, report, "pos_sales")


@pytest.mark.parametrize(
    "line, words",
    [
        ("2025-01-03,S1,B,1,8,extra", "6 fields, the header 5"),
        ("2025-01-03,S1,B,1", "4 fields, the header 5"),
        ('2025-01-03,S1,"B,1,8', "quote"),
    ],
)
def test_malformed_line_is_quarantined_with_its_text(con, folder, line, words):
    _ingest(con, folder, "items")
    _write(folder, "pos_sales.csv", POS_HEADER + "2025-01-02,S1,A,3,30\n" + line + "\n")
    report = _ingest(con, folder, "pos_sales")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (2, 1, 1)
    [(row, rules, _, reasons)] = _quarantine(con, "pos_sales")
    assert (row, rules) == (3, "csv_reject") and words in reasons
    assert con.execute("select _raw_line from quarantine.pos_sales").fetchall()[0][0].startswith(line)
    _assert_balanced(con, report, "pos_sales")


def test_unterminated_quote_that_swallows_lines_stops_naming_row_and_column(con, folder):
    _ingest(con, folder, "items")
    _write(folder, "pos_sales.csv", POS_HEADER + '2025-01-02,"S1,A,3,30\n2025-01-03,S1,B,1,8\n2025-01-04,S1,B,1,8\n')
    with pytest.raises(StructuralError) as err:
        _ingest(con, folder, "pos_sales")
    assert "pos_sales.csv, column 'location', row 2: a quote opened in this line is never closed" in str(err.value)
    assert "\n" not in str(err.value)


def test_blank_lines_and_multiline_values_keep_true_line_numbers(con, folder):
    _write(
        folder,
        "items.csv",
        ITEMS + "\n" + 'C,"two\nlines",F1,C1,1,1,EA,make,active\n\nD,Dd,F1,C1,-1,1,EA,make,active\n',
    )
    report = _ingest(con, folder, "items")
    assert report.rows_read == 4 and report.rows_loaded == 3
    assert con.execute("select sku, _source_row from raw.items order by 2").fetchall() == [("A", 2), ("B", 3), ("C", 5)]
    assert [r[:2] for r in _quarantine(con, "items")] == [(8, "range")]


def test_rejected_line_after_a_multiline_value_keeps_its_true_line_number(con, tmp_path):
    # DuckDB numbers lines without the line breaks inside quoted values; the quarantine must not
    _write(
        tmp_path,
        "items.csv",
        ITEMS + 'C,"two\nlines",F1,C1,1,1,EA,make,active\nD,Dd,F1\n\nE,Ee,F1,C1,1,1,EA,make,active\nF,Ff',
    )
    report = _ingest(con, tmp_path, "items")
    assert [r[:2] for r in _quarantine(con, "items")] == [(6, "csv_reject"), (9, "csv_reject; truncated")]
    assert con.execute("select sku, _source_row from raw.items order by 2").fetchall() == [
        ("A", 2),
        ("B", 3),
        ("C", 4),
        ("E", 8),
    ]
    _assert_balanced(con, report, "items")


# --- dependent rows follow their master; encodings; dates -----------------------------------------


def test_duplicate_item_quarantines_both_and_its_dependent_rows(con, tmp_path):
    _write(tmp_path, "items.csv", ITEMS + "A,Apple again,F1,C1,10,5,EA,make,active\n")
    items = _ingest(con, tmp_path, "items")
    assert items.rows_loaded == 1
    reasons = [r[3] for r in _quarantine(con, "items")]
    assert all("2 rows share it (rows 2, 4), all quarantined" in r for r in reasons)
    _write(tmp_path, "pos_sales.csv", POS_HEADER + "2025-01-02,S1,A,3,30\n2025-01-02,S1,B,1,4\n")
    report = _ingest(con, tmp_path, "pos_sales")
    [(row, rules, columns, reason)] = _quarantine(con, "pos_sales")
    assert (row, rules, columns) == (2, "master_quarantined", "sku")
    assert reason.startswith("item quarantined: duplicate key: another row has the same sku")
    assert con.execute("select sku from raw.pos_sales").fetchall() == [("B",)]
    _assert_balanced(con, report, "pos_sales")


def test_latin1_in_free_text_is_repaired_with_a_warning_not_quarantined(con, tmp_path):
    _write(
        tmp_path,
        "items.csv",
        ITEMS.encode()
        + "C,Crème brûlée,F1,C1,3,1,EA,make,active\n".encode("cp1252")
        + "D,Café,F1,C1,3,1,EA,make,active\n".encode("latin-1"),
    )
    report = _ingest(con, tmp_path, "items")
    assert (report.rows_loaded, report.rows_quarantined) == (4, 0)
    assert con.execute("select description from raw.items where sku in ('C', 'D') order by sku").fetchall() == [
        ("Crème brûlée",),
        ("Café",),
    ]
    [warning] = report.warnings
    assert "repaired 2 value(s) of 'description'" in warning and "Windows-1252" in warning and "row 4" in warning


def test_latin1_in_a_key_quarantines_that_row_naming_the_column(con, tmp_path):
    _write(tmp_path, "items.csv", ITEMS.encode() + "Ç1,Thing,F1,C1,3,1,EA,make,active\n".encode("latin-1"))
    report = _ingest(con, tmp_path, "items")
    [(row, rules, columns, reasons)] = _quarantine(con, "items")
    assert (row, rules, columns) == (4, "encoding", "sku") and "'sku' is not UTF-8 text" in reasons
    _assert_balanced(con, report, "items")


def test_day_first_dates_are_recognised_and_stop_the_run(con, folder):
    _ingest(con, folder, "items")
    _write(folder, "pos_sales.csv", POS_HEADER + "".join(f"{d:02d}/01/2025,S1,A,1,10\n" for d in range(1, 29)))
    message = "dates in pos_sales.date look like DD/MM/YYYY; the contract is YYYY-MM-DD"
    with pytest.raises(StructuralError, match=message) as err:
        detect_as_of(folder)
    assert err.value.column == "date" and "pos_sales.csv" in str(err.value)
    with pytest.raises(StructuralError) as err:  # SOP_AS_OF set instead: the share limit stops it
        _ingest(con, folder, "pos_sales", max_quarantine_share=0.2)
    text = str(err.value)
    assert "pos_sales.csv, column 'date'" in text and "28 of 28 rows (100%)" in text and message in text
    assert "\n" not in text
    assert con.execute("select count(*) from quarantine.pos_sales").fetchall() == [(28,)]  # kept to inspect


def test_quarantine_share_is_a_parameter_with_one_default(con, folder):
    from sop_pipeline.ingest.loader import MAX_QUARANTINE_SHARE

    assert MAX_QUARANTINE_SHARE == 0.2
    _ingest(con, folder, "items")
    rows = ["2025-01-02,S1,A,1,10", "2025-01-03,S1,A,1,10", "2025-01-04,S1,A,1,10", "2025-01-05,S1,A,-1,10"]
    _write(folder, "pos_sales.csv", POS_HEADER + "\n".join(rows) + "\n")
    with pytest.raises(StructuralError, match=r"1 of 4 rows \(25%\).*more than the 20% allowed.*'range' on 'units'"):
        ingest_extract(con, "pos_sales", folder, load_suite(SUITES, "pos_sales"), AS_OF)
    report = _ingest(con, folder, "pos_sales", max_quarantine_share=0.25)
    assert report.rows_quarantined == 1


@pytest.mark.parametrize(
    "header, words",
    [
        ("sku,description,family,category,unit_price,unit_cost,uom,make_or_buy,lifecycle,", "has no name"),
        ("sku,description,family,category,unit_price,unit_cost,uom,make_or_buy,lifecycle,SKU", "more than once"),
        ("sku,description,family,category,unit_price,unit_cost,uom,make_or_buy,lifecycle,_source_row", "reserved"),
    ],
)
def test_hostile_headers_stop_with_one_line(con, tmp_path, header, words):
    _write(tmp_path, "items.csv", header + "\nA,Apple,F1,C1,10,5,EA,make,active,x\n")
    with pytest.raises(StructuralError, match=words) as err:
        _ingest(con, tmp_path, "items")
    assert "items.csv" in str(err.value) and "\n" not in str(err.value)


# --- row-level as-of cuts beyond the event date (contract `as_of_cuts`) -------------------------

RESOURCES = "resource_id,type,name,is_constraint,hours_per_day,days_per_week\nM1,machine,Line 1,true,16,5\n"


def test_downtime_unplanned_after_the_as_of_is_excluded_planned_future_kept_unless_recorded_later(con, folder):
    _write(folder, "resources.csv", RESOURCES)
    _ingest(con, folder, "resources")
    _write(
        folder,
        "downtime.csv",
        "resource_id,start,end,planned,reason,recorded_at\n"
        "M1,2025-01-30 06:00,2025-01-30 08:00,false,Jam,\n"  # before: kept
        "M1,2025-01-31 22:00,2025-02-01 03:00,false,Jam,\n"  # spans the as-of: kept (staging clips it)
        "M1,2025-02-01 06:00,2025-02-01 08:00,false,Jam,\n"  # unplanned, later: excluded
        "M1,2025-02-10 06:00,2025-02-10 12:00,true,PM,2025-01-15 09:00\n"  # planned ahead: kept
        "M1,2025-02-10 06:00,2025-02-10 12:00,true,Audit,2025-02-03 09:00\n"  # recorded later: excluded
        "M1,2025-02-12 06:00,2025-02-12 12:00,true,PM,\n"  # planned, no recorded_at: kept
        "M1,2025-01-31 20:00,2025-01-31 21:00,false,Jam,2025-02-02 08:00\n",
    )  # unplanned: known from its start
    report = _ingest(con, folder, "downtime")
    assert (report.rows_loaded, report.rows_quarantined, report.rows_after_as_of) == (5, 0, 2)
    rows = _quarantine(con, "downtime")
    assert [(r[0], r[1], r[2]) for r in rows] == [(4, "after_as_of", "start"), (6, "after_as_of", "recorded_at")]
    assert "unplanned downtime starting after" in rows[0][3] and "planned downtime recorded after" in rows[1][3]
    _assert_balanced(con, report, "downtime")


def test_deal_created_after_the_as_of_is_excluded_and_files_without_the_column_load_every_deal(con, folder):
    header = "opportunity_id,customer_id,sku_or_family,expected_date,qty,probability,status"
    _write(
        folder,
        "opportunities.csv",
        header + ",created_date,status_date\n"
        "O1,C1,F1,2025-03-01,10,0.5,open,2025-01-10,\n"
        "O2,C1,F1,2025-03-01,10,1,won,2025-01-10,2025-02-05\n"  # won later: kept (staging says open)
        "O3,C1,F1,2025-03-01,10,0.5,open,2025-02-02,\n",
    )  # created later: excluded
    report = _ingest(con, folder, "opportunities")
    assert (report.rows_loaded, report.rows_after_as_of) == (2, 1)
    assert [(r[0], r[2]) for r in _quarantine(con, "opportunities")] == [(4, "created_date")]
    _write(folder, "opportunities.csv", header + "\nO1,C1,F1,2025-03-01,10,0.5,open\nO3,C1,F1,2025-03-01,10,0.5,open\n")
    report = _ingest(con, folder, "opportunities")
    assert (report.rows_loaded, report.rows_after_as_of) == (2, 0)
    assert "optional column 'created_date' absent: loaded as empty" in report.notes


def test_production_order_created_after_the_as_of_is_excluded(con, folder):
    _write(folder, "resources.csv", RESOURCES)
    _ingest(con, folder, "resources")
    _write(
        folder,
        "production_orders.csv",
        "order_id,sku,resource_id,planned_start,planned_end,actual_start,actual_end,planned_qty,good_qty,"
        "scrap_qty,status,created_at\n"
        "W1,A,M1,2025-02-03 06:00,2025-02-03 14:00,,,100,0,0,planned,2025-01-20 08:00\n"
        "W2,A,M1,2025-02-04 06:00,2025-02-04 14:00,,,100,0,0,planned,2025-02-01 08:00\n"
        "W3,A,M1,2025-02-05 06:00,2025-02-05 14:00,,,100,0,0,planned,\n",
    )
    report = _ingest(con, folder, "production_orders")
    assert (report.rows_loaded, report.rows_after_as_of) == (2, 1)
    assert [(r[0], r[2]) for r in _quarantine(con, "production_orders")] == [(3, "created_at")]
