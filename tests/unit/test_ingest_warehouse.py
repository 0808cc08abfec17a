"""sop_pipeline.ingest.warehouse: read -> validate -> write writes what the one-connection loader
writes, and holds no warehouse connection while the file is validated."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from sop_pipeline.ingest import QuarantineShareError, StructuralError, ingest_extract, load_suite
from sop_pipeline.ingest import warehouse as ingest_warehouse
from sop_pipeline.settings import REPO_ROOT

SUITES = REPO_ROOT / "expectations"
AS_OF = date(2025, 1, 31)
ITEMS = (
    "sku,description,family,category,unit_price,unit_cost,uom,make_or_buy,lifecycle\n"
    "A,Apple,F1,C1,10,5,EA,make,active\n"
    "B,Banana,F1,C1,4,2,EA,buy,new\n"
    ",NoKey,F1,C1,4,2,EA,buy,new\n"
)
LOCATIONS = "location,name,type,region\nS1,Store 1,store,North\n"
POS = (
    "date,location,sku,units,revenue\n"
    "2025-01-10,S1,A,3,30\n"
    "2025-01-11,S1,Z,1,10\n"  # unknown item
    "2025-01-12,S9,B,2,8\n"  # unknown location
    "2025-02-03,S1,B,1,4\n"  # after the as-of
    "2025-01-13,S1,A,oops,1\n"
)  # not a number


_POS_HEADER = "date,location,sku,units,revenue\n"


class Warehouse:
    """The Warehouse resource's connect(), counting open connections."""

    def __init__(self, path: Path):
        self.path, self.open = str(path), 0

    @contextmanager
    def connect(self, read_only: bool = False, parallel: bool = False):
        con = duckdb.connect(self.path, read_only=read_only)
        self.open += 1
        try:
            yield con
        finally:
            self.open -= 1
            con.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "extracts"
    out.mkdir()
    for name, text in {"items": ITEMS, "locations": LOCATIONS, "pos_sales": POS}.items():
        (out / f"{name}.csv").write_text(text)
    return out


def _cycle(warehouse: Warehouse) -> None:
    ingest_warehouse.write_cycle(
        warehouse, AS_OF, date(2025, 1, 27), date(2025, 2, 3), date(2025, 5, 4), 13, "SOP_AS_OF"
    )


def _tables(path: str) -> dict[str, tuple]:
    with duckdb.connect(path, read_only=True) as con:
        names = [
            f"{s}.{t}"
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables where table_schema in "
                "('raw', 'quarantine', 'meta') and table_name <> 'cycle' order by 1, 2"
            ).fetchall()
        ]
        return {
            n: (con.execute(f"describe {n}").fetchall(), con.execute(f"select * from {n}").fetchall()) for n in names
        }


def test_same_tables_as_the_one_connection_loader(folder, tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    _cycle(warehouse)
    for name in ("items", "locations", "pos_sales", "promotions"):  # promotions: absent
        result = ingest_warehouse.load_extract(
            warehouse, name, folder, load_suite(SUITES, name), max_quarantine_share=None
        )
        assert result.raw_rows == result.report.rows_loaded
        assert result.quarantine_rows == result.report.rows_quarantined + result.report.rows_after_as_of
    direct = str(tmp_path / "direct.duckdb")
    with duckdb.connect(direct) as con:
        for name in ("items", "locations", "pos_sales", "promotions"):
            report = ingest_extract(con, name, folder, load_suite(SUITES, name), AS_OF, max_quarantine_share=None)
            ingest_warehouse._log(con, report)
    ours, theirs = _tables(warehouse.path), _tables(direct)
    assert set(ours) == set(theirs)
    for table in theirs:
        assert ours[table][0] == theirs[table][0], table  # types
        assert ours[table][1] == theirs[table][1], table  # rows, in order
    rules = {r[3] for r in theirs["quarantine.issues"][1] if r[0] == "pos_sales"}
    assert {"after_as_of", "type"} <= rules and len(rules) >= 3  # and the two unknown references


def test_no_warehouse_connection_while_validating(folder, tmp_path, monkeypatch):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    _cycle(warehouse)
    seen = []
    real = ingest_warehouse.ingest_extract

    def validating(con, *args, **kwargs):
        seen.append(warehouse.open)
        return real(con, *args, **kwargs)

    monkeypatch.setattr(ingest_warehouse, "ingest_extract", validating)
    for name in ("items", "locations", "pos_sales"):
        ingest_warehouse.load_extract(warehouse, name, folder, load_suite(SUITES, name), max_quarantine_share=None)
    assert seen == [0, 0, 0]


def test_quarantine_share_error_writes_the_tables_first(folder, tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    _cycle(warehouse)
    for name in ("items", "locations"):
        ingest_warehouse.load_extract(warehouse, name, folder, load_suite(SUITES, name), max_quarantine_share=None)
    with pytest.raises(QuarantineShareError):
        ingest_warehouse.load_extract(
            warehouse, "pos_sales", folder, load_suite(SUITES, "pos_sales"), max_quarantine_share=0.1
        )
    with duckdb.connect(warehouse.path, read_only=True) as con:
        assert con.execute("select count(*) from quarantine.pos_sales").fetchall()[0][0] >= 3
        assert con.execute("select count(*) from quarantine.issues where extract = 'pos_sales'").fetchall()[0][0]
        assert not con.execute("select count(*) from meta.ingest_log where extract = 'pos_sales'").fetchall()[0][0]


def test_structural_error_clears_the_extracts_issues(folder, tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    _cycle(warehouse)
    ingest_warehouse.load_extract(warehouse, "items", folder, load_suite(SUITES, "items"), max_quarantine_share=None)
    (folder / "items.csv").write_text("sku;description\nA;Apple\n")
    with pytest.raises(StructuralError):
        ingest_warehouse.load_extract(warehouse, "items", folder, load_suite(SUITES, "items"))
    with duckdb.connect(warehouse.path, read_only=True) as con:
        assert not con.execute("select count(*) from quarantine.issues where extract = 'items'").fetchall()[0][0]


def test_referenced_extracts_of_a_suite():
    assert ingest_warehouse.referenced_extracts(load_suite(SUITES, "pos_sales")) == ["items", "locations"]
    assert ingest_warehouse.referenced_extracts(load_suite(SUITES, "items")) == []


def test_a_hostile_file_quarantines_the_same_rows_when_validation_spills_to_disk(folder, tmp_path, monkeypatch):
    """Validation runs in a memory-capped private DuckDB that spills to disk (bounded memory for a large
    extract): validated under a small cap (no uncapped retry), a hostile file gives the raw, quarantine
    and issues rows of the uncapped one-connection loader, row for row."""
    lines = []
    for i in range(120_000):
        day = f"2025-01-{1 + i % 28:02d}"
        kind = i % 10
        if kind == 1:
            lines.append(f"{day},S1,A,-{i % 7 + 1},10")  # negative units
        elif kind == 2:
            lines.append(f"{day},S1,ZZ{i % 50},1,10")  # unknown item
        elif kind == 3:
            lines.append(f"{day},S1,A,x{i},1")  # not a number
        elif kind == 4:
            lines.append(f"2025-03-{1 + i % 28:02d},S1,B,1,4")  # after the as-of
        elif kind == 5:
            lines.append(f"{day},S1,A,1,10,extra")  # wrong number of fields
        else:  # one key per row over 25 years of days, but kinds 0 and 9 of a group of ten share theirs
            store, sku = {0: ("S1", "A"), 6: ("S1", "B"), 7: ("S2", "A"), 8: ("S2", "B"), 9: ("S1", "A")}[kind]
            lines.append(f"{date(2000, 1, 1) + timedelta(days=i // 10)},{store},{sku},{i % 5},{i % 5 * 10}")
    (folder / "pos_sales.csv").write_text(_POS_HEADER + "\n".join(lines) + "\n2025-01-02,S1,A,3")
    limits = []
    real = ingest_warehouse.ingest_extract

    def validating(con, *args, **kwargs):
        limits.append(con.execute("select current_setting('memory_limit')").fetchall()[0][0])
        return real(con, *args, **kwargs)

    monkeypatch.setattr(ingest_warehouse, "ingest_extract", validating)
    monkeypatch.setattr(ingest_warehouse, "SCRATCH_MEMORY_LIMIT", "96MB")
    warehouse = Warehouse(tmp_path / "w.duckdb")
    _cycle(warehouse)
    for name in ("items", "locations", "pos_sales"):
        ingest_warehouse.load_extract(warehouse, name, folder, load_suite(SUITES, name), max_quarantine_share=None)
    assert len(limits) == 3 and all(limit.endswith("MiB") and float(limit.split()[0]) < 100 for limit in limits), limits
    direct = str(tmp_path / "direct.duckdb")
    with duckdb.connect(direct) as con:
        for name in ("items", "locations", "pos_sales"):
            report = real(con, name, folder, load_suite(SUITES, name), AS_OF, max_quarantine_share=None)
            ingest_warehouse._log(con, report)
    ours, theirs = _tables(warehouse.path), _tables(direct)
    assert set(ours) == set(theirs)
    for table in theirs:
        assert ours[table] == theirs[table], table  # types, rows and order
    rules = {r[3] for r in theirs["quarantine.issues"][1] if r[0] == "pos_sales"}
    assert {"range", "reference", "type", "after_as_of", "csv_reject", "duplicate_key", "truncated"} <= rules, rules
    assert "memory cap" not in str(ours["meta.ingest_log"])  # the capped validation did it


def test_validation_that_cannot_fit_the_cap_runs_again_uncapped(folder, tmp_path, monkeypatch):
    """One key shared by 40,000 rows: DuckDB cannot spill the window naming the rows that share it, so
    at a cap of a few MB it runs out of memory; the extract is validated again without the cap (a note
    says so) and loads what the uncapped loader loads."""
    rows = "".join(f"2025-01-10,S1,A,{i % 9},{i % 9 * 10}\n" for i in range(40_000))
    (folder / "pos_sales.csv").write_text(_POS_HEADER + rows)
    monkeypatch.setattr(ingest_warehouse, "SCRATCH_MEMORY_LIMIT", "8MB")
    warehouse = Warehouse(tmp_path / "w.duckdb")
    _cycle(warehouse)
    for name in ("items", "locations"):
        ingest_warehouse.load_extract(warehouse, name, folder, load_suite(SUITES, name), max_quarantine_share=None)
    result = ingest_warehouse.load_extract(
        warehouse, "pos_sales", folder, load_suite(SUITES, "pos_sales"), max_quarantine_share=None
    )
    assert result.report.failures_by_rule == {"duplicate_key": 40_000}
    assert any("without the 8MB memory cap" in n for n in result.report.notes), result.report.notes
