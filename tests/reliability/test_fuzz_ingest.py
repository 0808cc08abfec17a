"""Fuzzing the ingest with hostile versions of the demo extracts (issue 12).

Hypothesis mutates the small demo's items, pos_sales and sales_orders: wrong types, foreign
date formats, non-UTF-8 bytes, truncation, duplicates, NULL keys, extreme values, field
counts, quotes, extra and missing columns. Each case knows which rows it broke, so every outcome
is checked exactly:

* success: rows read = loaded + quarantined + after as-of, the quarantined rows are exactly the
  broken rows (and the dependents of broken items), none of them is in raw, no row is both
  loaded and quarantined;
* or a StructuralError whose message is one line naming the file (and the column/row the case
  broke), e.g. when more than 20% of the rows would be quarantined.

Driven at `ingest_extract` level on a real DuckDB connection with the real GX suites; a few
cases go through the real `sop run --groups ingest` (subprocess) and check the exit code and
that stderr has no traceback.
"""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from sop_pipeline.ingest import MAX_QUARANTINE_SHARE, StructuralError, detect_as_of, ingest_extract, load_suite
from sop_pipeline.settings import REPO_ROOT
from tests.conftest import run_cycle

SUITES = REPO_ROOT / "expectations"
SUBSET_EVERY = 100  # every 100th pos_sales / sales_orders row: ~1,200 and ~210 rows over all SKUs
# no shrinking phase: a failing case is reported as drawn (its labels and rows are in the note)
FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
OUTCOMES: list[tuple[str, str]] = []  # (case, outcome), printed at the end of the module


# --------------------------------------------------------------------------- the demo, small


@dataclass
class Table:
    name: str
    header: list[str]
    rows: list[list[str]]

    def text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.header)
        w.writerows(self.rows)
        return buf.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    from sop_pipeline.demo import generate

    out = tmp_path_factory.mktemp("fuzz_demo") / "extracts"
    generate(out, size="small", seed=42)
    tables = {}
    for name in ("items", "locations", "customers", "pos_sales", "sales_orders"):
        with open(out / f"{name}.csv", newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        body = rows[1:] if name not in ("pos_sales", "sales_orders") else rows[1::SUBSET_EVERY]
        tables[name] = Table(name, rows[0], body)
    yield {"dir": out, "tables": tables, "as_of": detect_as_of(out)}
    lines = "\n".join(f"  {case:60s} -> {outcome}" for case, outcome in OUTCOMES)
    print(f"\nfuzz cases ({len(OUTCOMES)}):\n{lines}")


# --------------------------------------------------------------------------- mutations


@dataclass
class Case:
    name: str
    table: Table
    data: bytes = b""
    broken: set[int] = field(default_factory=set)  # source rows that must be quarantined
    broken_skus: set[str] = field(default_factory=set)  # items broken: their dependents follow
    after: set[int] = field(default_factory=set)  # rows that must be excluded as after as-of
    structural: str | None = None  # expected words of a StructuralError
    column: str | None = None  # ... and the column it must name
    labels: list[str] = field(default_factory=list)


SPEC = {  # per extract: numeric, date, key-ish not-null, free text, category columns
    "items": dict(
        numeric=["unit_price", "unit_cost"],
        date=[],
        notnull=["sku", "family"],
        text=["description"],
        category={"make_or_buy": "maybe", "lifecycle": "zombie"},
        key=["sku"],
        ref=["sku"],
    ),
    "pos_sales": dict(
        numeric=["units", "revenue"],
        date=["date"],
        notnull=["date", "location", "sku"],
        text=[],
        category={},
        key=["date", "location", "sku"],
        ref=["sku", "location"],
    ),
    "sales_orders": dict(
        numeric=["qty", "unit_price"],
        date=["order_date", "requested_date"],
        notnull=["order_id", "line", "sku", "order_date", "qty"],
        text=[],
        category={"status": "SHIPPED?"},
        key=["order_id", "line"],
        ref=["sku", "customer_id"],
    ),
}

ROW_KINDS = [
    "type",
    "date_format",
    "encoding_key",
    "encoding_text",
    "null_key",
    "extreme_bad",
    "extreme_ok",
    "negative",
    "category",
    "unknown_ref",
    "future",
    "field_count",
    "quote_in_value",
]


def _line(i: int) -> int:
    return i + 2  # body index -> source row (header is line 1)


def mutate(
    table: Table,
    draw_rows: list[tuple[str, int, int]],
    duplicates: list[int],
    truncate: int | None,
    file_kind: str | None,
) -> Case:
    """Apply row mutations (kind, row, variant), appended duplicates, truncation, file-level change."""
    spec = SPEC[table.name]
    header = list(table.header)
    rows = [list(r) for r in table.rows]
    case = Case(table.name, table)
    raw_override: dict[int, bytes] = {}
    col = header.index
    for kind, i, variant in draw_rows:
        row = rows[i]
        line = _line(i)
        case.labels.append(kind)
        if table.name == "items" and kind not in ("encoding_text", "extreme_ok", "quote_in_value"):
            case.broken_skus.add(table.rows[i][col("sku")])
        if kind == "type":
            c = spec["numeric"][variant % len(spec["numeric"])]
            row[col(c)] = ["abc", "1,5", "12 units", "--3", "1.2.3"][variant % 5]
            case.broken.add(line)
        elif kind == "date_format":
            if not spec["date"]:
                c = spec["numeric"][0]
                row[col(c)] = "n/a"
            else:
                c = spec["date"][variant % len(spec["date"])]
                y, m, d = (row[col(c)] or "2025-01-15").split("-")
                row[col(c)] = [f"{d}/{m}/{y}", f"{m}/{d}/{y}", f"{d}.{m}.{y}", f"{y}{m}{d}"][variant % 4]
            case.broken.add(line)
        elif kind == "encoding_key":
            c = spec["ref"][0]
            raw_override[i] = ("\x00ENC\x00", c)  # marker: encode this field as Latin-1 below
            row[col(c)] = row[col(c)] + "é"
            case.broken.add(line)
        elif kind == "encoding_text":
            if spec["text"]:
                row[col(spec["text"][0])] = "Crème brûlée façon grand-mère"
                raw_override[i] = ("\x00ENC\x00", spec["text"][0])  # repaired, loaded
            else:
                case.labels[-1] = "encoding_key"
                c = spec["ref"][0]
                raw_override[i] = ("\x00ENC\x00", c)
                row[col(c)] = row[col(c)] + "ü"
                case.broken.add(line)
        elif kind == "null_key":
            c = spec["notnull"][variant % len(spec["notnull"])]
            row[col(c)] = ["", "  "][variant % 2]
            case.broken.add(line)
            if table.name == "items" and c == "sku":
                pass  # the SKU vanishes: its dependents fail the reference rule
        elif kind == "extreme_bad":
            c = spec["numeric"][variant % len(spec["numeric"])]
            row[col(c)] = ["1e400", "NaN", "inf", "-inf", "1e309"][variant % 5]
            case.broken.add(line)
        elif kind == "extreme_ok":
            c = spec["numeric"][variant % len(spec["numeric"])]
            row[col(c)] = ["1e300", "0", "123456789012.5", "0.000001"][variant % 4]
        elif kind == "negative":
            c = spec["numeric"][variant % len(spec["numeric"])]
            row[col(c)] = "-" + (row[col(c)] or "1").lstrip("-")
            if row[col(c)] in ("-0", "-0.0"):
                row[col(c)] = "-1"
            case.broken.add(line)
        elif kind == "category":
            if spec["category"]:
                c, bad = sorted(spec["category"].items())[variant % len(spec["category"])]
                row[col(c)] = bad
            else:
                row[col(spec["numeric"][0])] = "lots"
            case.broken.add(line)
        elif kind == "unknown_ref":
            if table.name == "items":
                row[col("unit_price")] = "-5"  # items reference nothing: make it a range failure
            else:
                row[col(spec["ref"][variant % len(spec["ref"])])] = "NOPE-404"
            case.broken.add(line)
        elif kind == "future":
            if spec["date"] and table.name != "items":
                c = {"pos_sales": "date", "sales_orders": "order_date"}[table.name]
                row[col(c)] = "2099-01-01"
                case.after.add(line)
            else:
                row[col(spec["numeric"][0])] = "-1"
                case.broken.add(line)
        elif kind == "field_count":
            raw_override[i] = ("\x00FIELDS\x00", variant % 2)
            case.broken.add(line)
        elif kind == "quote_in_value":
            if spec["text"]:
                # legal CSV quoting (a line break inside a value, except on the last line: it may be cut)
                row[col(spec["text"][0])] = 'He said "hi", then, left' + ("\nthe room" if i < len(rows) - 1 else "")
            else:
                row[col(spec["numeric"][0])] = '"7"'  # quotes inside a number: a type failure
                case.broken.add(line)
    copy_of = {}
    for j, i in enumerate(duplicates):
        rows.append(list(rows[i]))
        copy_of[len(rows) - 1] = i
        if _line(i) not in case.after:
            case.broken |= {_line(i), len(rows) + 1}
        else:
            case.after.add(len(rows) + 1)
        case.labels.append("duplicate")
        if table.name == "items":
            case.broken_skus.add(rows[i][col("sku")])
    # serialise row by row (some rows need bytes that are not UTF-8 or a wrong field count)
    out = io.BytesIO()
    out.write((",".join(header) + "\n").encode())
    for i, row in enumerate(rows):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(row)
        text = buf.getvalue()
        special = raw_override.get(i)
        if special and special[0] == "\x00ENC\x00":
            out.write(text.encode("latin-1", errors="replace"))
        elif special and special[0] == "\x00FIELDS\x00":
            out.write((text.rstrip("\n") + ",extra\n" if special[1] else ",".join(row[:-1]) + "\n").encode())
        else:
            out.write(text.encode())
    data = out.getvalue()
    # multi-line quoted values shift later line numbers: recompute from the bytes
    starts = _record_lines(data)
    remap = {_line(i): starts[i] for i in range(len(rows))}
    case.broken = {remap[r] for r in case.broken}
    case.after = {remap[r] for r in case.after}
    if truncate is not None and rows:
        last_start = data.rstrip(b"\n").rfind(b"\n") + 1
        last = data[last_start:].rstrip(b"\n")
        if len(last) > 1:
            cut = 1 + truncate % (len(last) - 1)
            data = data[:last_start] + last[:cut]
            case.broken.add(starts[len(rows) - 1])
            if len(rows) - 1 in copy_of:  # the cut copy no longer duplicates its original
                case.broken.discard(starts[copy_of[len(rows) - 1]])
            if table.name == "items":
                case.broken_skus.add(rows[-1][col("sku")])
            case.after.discard(starts[len(rows) - 1])
            case.labels.append("truncated")
    if file_kind:
        data = file_level(case, data, file_kind)
    case.data = data
    return case


def _record_lines(data: bytes) -> list[int]:
    reader = csv.reader(io.StringIO(data.decode("latin-1"), newline=""))
    next(reader)
    starts, end = [], reader.line_num
    for fields in reader:
        start, end = end + 1, reader.line_num
        if fields:
            starts.append(start)
    return starts


def file_level(case: Case, data: bytes, kind: str) -> bytes:
    """Whole-file changes: extra columns (kept), missing columns (optional: fine; required: stop)."""
    case.labels.append(kind)
    lines = data.split(b"\n")
    header = lines[0].decode().split(",")
    extract = case.table.name
    if kind == "extra_column":
        return b"\n".join([lines[0] + b",note"] + [ln + b",x" if ln else ln for ln in lines[1:]])
    if kind == "missing_required":
        drop = {"items": "family", "pos_sales": "units", "sales_orders": "qty"}[extract]
        case.structural, case.column = f"required column '{drop}' is missing", drop
    elif kind == "missing_optional":
        if extract != "items":
            return data
        drop = "description"
    else:
        return data
    idx = header.index(drop)
    rows = list(csv.reader(io.StringIO(data.decode("latin-1"), newline="")))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows:
        w.writerow(r[:idx] + r[idx + 1 :] if len(r) > idx else r)
    text = buf.getvalue()
    if not data.endswith(b"\n"):
        text = text.rstrip("\n")
    return text.encode("latin-1")


# --------------------------------------------------------------------------- running one case


def _ingest(con, folder: Path, name: str, as_of):
    return ingest_extract(con, name, folder, load_suite(SUITES, name), as_of)


def _setup(tmp: Path, demo: dict, mutated: Case) -> Path:
    folder = tmp
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, table in demo["tables"].items():
        (folder / f"{name}.csv").write_text(table.text())
    (folder / f"{mutated.name}.csv").write_bytes(mutated.data)
    return folder


def _assert_one_line(err: StructuralError, case: Case) -> str:
    text = str(err)
    assert "\n" not in text and "Traceback" not in text, text
    assert f"{case.name}.csv" in text, text
    return text


@pytest.fixture(scope="module")
def masters(demo, tmp_path_factory):
    """One warehouse with the clean masters (items, locations, customers), shared by the cases."""
    folder = tmp_path_factory.mktemp("masters")
    for name in ("items", "locations", "customers"):
        (folder / f"{name}.csv").write_text(demo["tables"][name].text())
    con = duckdb.connect()
    for name in ("locations", "customers", "items"):
        _ingest(con, folder, name, demo["as_of"])
    yield con, folder
    con.close()


def run_case(case: Case, demo: dict, tmp: Path, masters) -> str:
    folder = _setup(tmp, demo, case)
    con, clean = masters
    try:
        expected_share = len(case.broken) / max(1, len(case.table.rows) + sum(lb == "duplicate" for lb in case.labels))
        try:
            report = _ingest(con, folder, case.name, demo["as_of"])
        except StructuralError as err:
            text = _assert_one_line(err, case)
            if case.structural:
                assert case.structural in text and f"column '{case.column}'" in text, text
                return f"StructuralError: {case.structural}"
            assert expected_share > MAX_QUARANTINE_SHARE, (text, sorted(case.broken))
            assert "would be quarantined" in text and "column '" in text or "rule 'csv_reject'" in text, text
            return f"stopped: {expected_share:.0%} broken > {MAX_QUARANTINE_SHARE:.0%}"
        assert case.structural is None, f"expected a StructuralError: {case.structural}"
        assert expected_share <= MAX_QUARANTINE_SHARE, (expected_share, report)
        assert not [n for n in report.notes if "Great Expectations found" in n], report.notes  # GX agrees with SQL
        _check_accounting(con, case.name, report, case.broken, case.after)
        outcome = f"ok: {report.rows_quarantined} quarantined, {report.rows_after_as_of} after as-of"
        if "encoding_text" in case.labels and "missing_optional" not in case.labels:
            assert any("Windows-1252" in w for w in report.warnings), report.notes
        if case.name == "items":
            outcome += "; " + _check_dependents(con, folder, case, demo)
        return outcome
    finally:
        if case.name == "items":  # put the clean item master back for the next case
            _ingest(con, clean, "items", demo["as_of"])


def _check_accounting(con, name: str, report, broken: set[int], after: set[int]) -> None:
    raw = {r[0] for r in con.execute(f"select _source_row from raw.{name}").fetchall()}
    bad = {
        r[0] for r in con.execute(f"select _source_row from quarantine.{name} where _rules <> 'after_as_of'").fetchall()
    }
    late = {
        r[0] for r in con.execute(f"select _source_row from quarantine.{name} where _rules = 'after_as_of'").fetchall()
    }
    assert report.balanced, report
    assert report.rows_read == len(raw) + len(bad) + len(late)
    assert (report.rows_loaded, report.rows_quarantined, report.rows_after_as_of) == (len(raw), len(bad), len(late))
    assert not raw & (bad | late), "a row both loaded and quarantined"
    assert bad == broken, (sorted(bad - broken)[:5], sorted(broken - bad)[:5])
    assert late == after
    n_issues = con.execute(
        "select count(distinct source_row) from quarantine.issues where extract = ?", [name]
    ).fetchall()[0][0]
    assert n_issues == len(bad) + len(late)


def _check_dependents(con, folder: Path, case: Case, demo: dict) -> str:
    """Items were broken: the POS rows of those SKUs are quarantined, the rest loaded."""
    pos = demo["tables"]["pos_sales"]
    sku_col = pos.header.index("sku")
    expected = {_line(i) for i, r in enumerate(pos.rows) if r[sku_col] in case.broken_skus}
    share = len(expected) / len(pos.rows)
    try:
        report = _ingest(con, folder, "pos_sales", demo["as_of"])
    except StructuralError as err:
        text = str(err)
        assert share > MAX_QUARANTINE_SHARE and "\n" not in text and "pos_sales.csv" in text, text
        return f"pos_sales stopped ({share:.0%} dependents)"
    assert share <= MAX_QUARANTINE_SHARE
    _check_accounting(con, "pos_sales", report, expected, set())
    if expected:
        reasons = con.execute("select distinct _rules from quarantine.pos_sales").fetchall()
        assert {r[0] for r in reasons} <= {"master_quarantined", "reference"}, reasons
    return f"pos_sales {len(expected)} dependents quarantined"


# --------------------------------------------------------------------------- the fuzz test

row_mutation = st.tuples(st.sampled_from(ROW_KINDS), st.integers(0, 10**6), st.integers(0, 20))


@st.composite
def cases(draw, demo):
    name = draw(st.sampled_from(["items", "pos_sales", "sales_orders"]))
    table = demo["tables"][name]
    n = len(table.rows)
    many = draw(st.booleans()) and draw(st.booleans())  # a quarter of the cases break many rows
    k = draw(st.integers(1, max(1, n // 3) if many else 4))
    muts = draw(st.lists(row_mutation, min_size=k, max_size=k))
    used, rows = set(), []
    for kind, r, variant in muts:
        i = r % n
        while i in used:
            i = (i + 1) % n
        used.add(i)
        rows.append((kind, i, variant))
    free = [i for i in range(n) if i not in used]
    dups = draw(st.lists(st.sampled_from(free), max_size=2, unique=True)) if free else []
    truncate = draw(st.integers(0, 200)) if draw(st.integers(0, 3)) == 0 else None
    file_kind = draw(st.sampled_from([None] * 6 + ["extra_column", "missing_optional", "missing_required"]))
    return mutate(table, rows, dups, truncate, file_kind)


def test_fuzz_ingest(demo, masters, tmp_path):
    @FUZZ
    @given(data=st.data())
    def check(data):
        case = data.draw(cases(demo))
        note(
            f"case {case.name}: {case.labels}, broken rows {sorted(case.broken)}, "
            f"broken skus {sorted(case.broken_skus)}, last bytes {case.data[-300:]!r}"
        )
        outcome = run_case(case, demo, tmp_path / "case", masters)
        OUTCOMES.append((f"{case.name}: {', '.join(sorted(set(case.labels)))} ({len(case.broken)} broken)", outcome))

    check()


# --------------------------------------------------------------------------- fixed hostile cases


def _fixed(demo, tmp_path, name: str, data: bytes) -> Case:
    return Case(name, demo["tables"][name], data=data)


def test_duplicate_item_key_then_its_pos_rows_follow(demo, masters, tmp_path):
    items = demo["tables"]["items"]
    case = mutate(items, [], [3], None, None)
    outcome = run_case(case, demo, tmp_path / "case", masters)
    assert "dependents quarantined" in outcome
    OUTCOMES.append(("items: duplicate key (fixed)", outcome))


def test_whole_file_in_latin1_free_text_repaired(demo, masters, tmp_path):
    items = demo["tables"]["items"]
    case = Case("items", items, data=items.text().replace("Lemonade", "Limonade à l'été").encode("cp1252"))
    outcome = run_case(case, demo, tmp_path / "case", masters)
    assert outcome.startswith("ok: 0 quarantined")
    OUTCOMES.append(("items: cp1252 accents in descriptions", outcome))


@pytest.mark.parametrize(
    "garbage, words",
    [
        (b"\x00\x01\x02binary\xff\xfe" * 50, "header"),
        (b"date;location;sku;units;revenue\n2025-01-01;S01;SKU0001;1;1\n", "semicolon-separated"),
        (b"date,location,sku,units,revenue\n" + b'2025-01-01,"S01,SKU0001,1,1\n' * 30, "never closed"),
        (b"\xef\xbb\xbfdate,location,sku,units,revenue\n", None),  # BOM + header only: 0 rows, fine
    ],
)
def test_garbage_files_stop_with_one_line_or_load_nothing(demo, tmp_path, garbage, words):
    case = _fixed(demo, tmp_path, "pos_sales", garbage)
    folder = _setup(tmp_path / "case", demo, case)
    con = duckdb.connect()
    _ingest(con, folder, "items", demo["as_of"])
    if words is None:
        report = _ingest(con, folder, "pos_sales", demo["as_of"])
        assert report.rows_read == 0 and report.balanced
        OUTCOMES.append(("pos_sales: header only with BOM", "ok: 0 rows"))
        return
    with pytest.raises(StructuralError) as err:
        _ingest(con, folder, "pos_sales", demo["as_of"])
    _assert_one_line(err.value, case)
    assert words in str(err.value)
    OUTCOMES.append((f"pos_sales: garbage ({words})", "StructuralError"))


# --------------------------------------------------------------------------- the real CLI


def _cli_folder(demo, tmp_path: Path, pos: bytes | None = None, items: bytes | None = None) -> Path:
    folder = tmp_path / "extracts"
    folder.mkdir()
    shutil.copy(demo["dir"] / "items.csv", folder / "items.csv")
    shutil.copy(demo["dir"] / "pos_sales.csv", folder / "pos_sales.csv")
    if pos is not None:
        (folder / "pos_sales.csv").write_bytes(pos)
    if items is not None:
        (folder / "items.csv").write_bytes(items)
    return folder


def test_cli_day_first_dates_exit_1_with_the_format_named(demo, tmp_path):
    text = (demo["dir"] / "pos_sales.csv").read_text().splitlines()
    rows = [text[0]] + [f"{ln[8:10]}/{ln[5:7]}/{ln[0:4]}{ln[10:]}" for ln in text[1:]]
    folder = _cli_folder(demo, tmp_path, pos=("\n".join(rows) + "\n").encode())
    run = run_cycle(folder, tmp_path / "data", "--groups", "ingest")
    assert run.returncode == 1, run.stdout[-2000:]
    assert "dates in pos_sales.date look like DD/MM/YYYY; the contract is YYYY-MM-DD" in run.stderr
    assert "Traceback" not in run.stderr
    OUTCOMES.append(("CLI: pos_sales dates DD/MM/YYYY", "exit 1, format named"))


def test_cli_duplicate_item_and_truncated_pos_exit_0_with_everything_accounted(demo, tmp_path):
    items = (demo["dir"] / "items.csv").read_bytes()
    dup = items.splitlines()[5]
    pos = (demo["dir"] / "pos_sales.csv").read_bytes()
    folder = _cli_folder(demo, tmp_path, items=items + dup + b"\n", pos=pos.rstrip(b"\n")[:-3])
    run = run_cycle(folder, tmp_path / "data", "--groups", "ingest")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    sku = dup.split(b",")[0].decode()
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from quarantine.items where sku = ?", [sku]).fetchall() == [(2,)]
        loaded = con.execute("select count(*) from raw.pos_sales where sku = ?", [sku]).fetchall()[0][0]
        follow = con.execute(
            "select count(*) from quarantine.pos_sales where _rules = 'master_quarantined' "
            "and _reasons like 'item quarantined: duplicate key%'"
        ).fetchall()[0][0]
        truncated = con.execute("select count(*) from quarantine.pos_sales where _rules like '%truncated%'").fetchall()[
            0
        ][0]
        log = con.execute(
            "select rows_read, rows_loaded, rows_quarantined, rows_after_as_of from meta.ingest_log "
            "where extract = 'pos_sales'"
        ).fetchall()[0]
    assert loaded == 0 and follow > 0 and truncated == 1
    assert log[0] == log[1] + log[2] + log[3]
    OUTCOMES.append(("CLI: duplicate item + truncated pos_sales", f"exit 0, {follow} POS rows follow the item"))


def test_many_broken_rows_stop_the_run_naming_file_column_and_share(demo, masters, tmp_path):
    pos = demo["tables"]["pos_sales"]
    n = len(pos.rows)
    case = mutate(pos, [("negative", i, 0) for i in range(0, n, 3)], [], None, None)  # a third of the rows
    outcome = run_case(case, demo, tmp_path / "case", masters)
    assert outcome.startswith("stopped: 33% broken")
    con, _ = masters
    assert con.execute("select count(*) from quarantine.pos_sales").fetchall() == [(len(case.broken),)]  # kept
    OUTCOMES.append(("pos_sales: a third of the rows negative (fixed)", outcome))
