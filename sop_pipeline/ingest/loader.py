"""Read one extract file, validate it, load good rows to `raw.<extract>`, bad rows to
`quarantine.<extract>`. Pure library code: DuckDB + Great Expectations, no Dagster.

Steps, each of which either passes a row on or quarantines it with a reason:
1. **Structure** (stops the run): the file exists if required, is not empty, is UTF-8 at the
   header, is comma-separated, has every required column, no unnamed or duplicated column.
   Unreadable files stop the run too, and so does a quote that is never closed and swallows
   the lines after it.
2. **Reading** (`csvscan` + DuckDB `read_csv` with `store_rejects`): lines with the wrong
   number of fields (rule `csv_reject`) and a last line without a line break (rule `truncated`:
   the export was cut off) are quarantined, never repaired. Values that are not UTF-8 are
   decoded as Windows-1252: in free-text columns with a note, elsewhere the row fails rule
   `encoding`.
3. **Types** (DuckDB `TRY_CAST`): a value that is not a number/date/boolean where the contract
   says so is quarantined (rule `type`), naming the column and the value; dates in a foreign
   format (DD/MM/YYYY ...) are recognised and named.
4. **Great Expectations suite** (`expectations/<extract>.json`): not-null keys, unique keys,
   categories, ranges, references, dates after the as-of. The row rules are evaluated in DuckDB
   SQL generated from the suite (`rules.py`, every failing row, bounded memory); GX validates
   the same rows as the validator of record (`gx_check`): it runs every expectation the SQL
   does not translate, and where its count of failing rows differs from the SQL's, its rows
   are quarantined too. Failing rows get the expectation's `meta.reason`; rows whose only
   failure is "after as-of" are counted as excluded from the cycle (`rows_after_as_of`).
   Rows after the as-of are found first, by the contract: the extract's `event_date` and its
   `as_of_cuts` (e.g. unplanned downtime starting after the as-of, a deal's `created_date` or a
   production order's `created_at` after it); column-level masks of later facts (actuals,
   statuses, paid and delivered dates) are the staging models' (dbt_project/models/staging).
   A row referencing a quarantined master row (an item, a location ...) is quarantined with
   rule `master_quarantined` and the reason "item quarantined: <the item's reason>".
5. **Share** : if more than `max_quarantine_share` of the rows would be quarantined, the
   tables are written (so the rows can be inspected) and the run stops with one line naming
   the file, the rule and column that lost most rows, and the share.

Row accounting: rows_read = rows_loaded + rows_quarantined + rows_after_as_of, and every row
not loaded is in `quarantine.<extract>` with its source row number.
`source_row` is the line number in a CSV file (the header is line 1) where the row starts,
or the 1-based row number in a Parquet file.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime
from pathlib import Path

import duckdb
import pandas as pd

from sop_pipeline.contract import DUCKDB_TYPES, EXTRACTS, Extract
from sop_pipeline.ingest.csvscan import CsvScan, scan_csv
from sop_pipeline.ingest.extract_checks import run_checks
from sop_pipeline.ingest.rules import RowRule, parse_reference, translate
from sop_pipeline.ingest.rules import q as _q
from sop_pipeline.ingest.rules import sql_str as _sql_str

FILE_SUFFIXES = (".csv", ".parquet")
QUARANTINE_META = ("_raw_line", "_source_row", "_rules", "_columns", "_reasons")
RESERVED_COLUMNS = {"_source_row", "_bad_type", "_raw_line", "_rules", "_columns", "_reasons", "_rid"}
GARBLED_SHARE = 0.5  # more rejected lines than this share: the file is garbled, stop
# An extract losing more than this share of its rows to quarantine stops the run (the one default;
# `ingest_extract(max_quarantine_share=...)` and the setting SOP_MAX_QUARANTINE_SHARE override it).
MAX_QUARANTINE_SHARE = 0.2
# GX cross-checks the SQL rules on extracts up to this many rows (pandas memory); above it only
# the expectations the SQL does not translate run in GX, and a note says so. None: no cross-check
# at all (GX runs the expectations the SQL does not translate, and no note): the cycle's default
# (`sop_pipeline.assets.ingest.IngestConfig`), since every expectation of the default suites has
# its SQL and the cross-check cost a GX import and a second validation per extract.
GX_CHECK_MAX_ROWS = 1_000_000
# How a quarantined master row is named in its dependents' reason.
MASTER_NOUNS = {
    "items": "item",
    "locations": "location",
    "customers": "customer",
    "resources": "resource",
    "suppliers": "supplier",
    "production_orders": "production order",
    "sales_orders": "sales order",
    "purchase_orders": "purchase order",
}
_FAIL_COLS = ["_source_row", "rule", "column", "value", "reason"]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class StructuralError(Exception):
    """The extract cannot be read as the contract describes; the run must stop.

    The message is one line naming the file, the column and row (when there is one) and what to do.
    """

    def __init__(self, file: str | Path, problem: str, hint: str, column: str | None = None, row: int | None = None):
        self.file, self.problem, self.hint, self.column, self.row = str(file), problem, hint, column, row
        where = f"{self.file}" + (f", column '{column}'" if column else "") + (f", row {row}" if row else "")
        super().__init__(_one_line(f"{where}: {problem}. {hint}"))


class ValidationOutOfMemory(StructuralError):
    """DuckDB ran out of the memory its connection allows while validating (a capped private
    database, `ingest.warehouse`): the caller may validate again without the cap."""


class QuarantineShareError(StructuralError):
    """More rows would be quarantined than the allowed share: the run stops (tables are written)."""

    def __init__(self, *args, report: "IngestReport | None" = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.report = report


@dataclass
class IngestReport:
    extract: str
    status: str  # "loaded" or "absent"
    file: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_after_as_of: int = 0
    failures_by_rule: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    gx_expectations: int = 0  # expectations Great Expectations validated (no SQL, or the cross-check)

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_loaded + self.rows_quarantined + self.rows_after_as_of


def find_extract_file(extracts_dir: Path, name: str) -> Path | None:
    found = [extracts_dir / f"{name}{s}" for s in FILE_SUFFIXES if (extracts_dir / f"{name}{s}").exists()]
    if len(found) > 1:
        raise StructuralError(
            found[0],
            f"both {found[0].name} and {found[1].name} exist",
            "Keep exactly one file per extract (CSV or Parquet).",
        )
    return found[0] if found else None


# --------------------------------------------------------------------------- reading


def read_csv_header(path: Path) -> list[str]:
    """Column names from the first line, with clear errors for the usual export mistakes."""
    with open(path, "rb") as fh:
        first = fh.readline(1 << 20)
    if not first.strip():
        raise StructuralError(
            path, "the file is empty (no header line)", "Export the extract again with a header row of column names."
        )
    try:
        text = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise StructuralError(
            path, "the header line is not UTF-8 text", "Save the file as UTF-8 CSV (in Excel: 'CSV UTF-8').", row=1
        ) from None
    try:
        header = [h.strip() for h in next(csv.reader(io.StringIO(text)))]
    except (csv.Error, StopIteration):
        raise StructuralError(
            path,
            "the header line cannot be read as CSV",
            "Export the extract again with a header row of column names.",
            row=1,
        ) from None
    if len(header) == 1:
        for delim, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if delim in text:
                raise StructuralError(
                    path,
                    f"the file is {name}-separated, the contract expects commas",
                    "Export it as comma-separated CSV.",
                )
    for i, h in enumerate(header):
        if not h:
            raise StructuralError(
                path,
                f"column {i + 1} of the header has no name",
                "Name the column or drop it (a trailing comma in the header?).",
                row=1,
            )
        if h.lower() in RESERVED_COLUMNS:
            raise StructuralError(
                path, f"column name {h!r} is reserved for the loader", "Rename the column.", column=h, row=1
            )
    lowered = [h.lower() for h in header]
    dupes = sorted({h for h in header if lowered.count(h.lower()) > 1})
    if dupes:
        raise StructuralError(
            path,
            f"column {dupes[0]!r} appears more than once in the header (names are compared ignoring case)",
            "Rename or drop the duplicate column.",
            column=dupes[0],
            row=1,
        )
    return header


def check_columns(path: Path, extract: Extract, header: list[str]) -> list[str]:
    """Raise for a missing required column; return the optional columns that are missing."""
    for col in extract.column_names:
        if col not in header and col not in extract.optional:
            near = [h for h in header if h.lower().replace(" ", "_") == col]
            hint = (
                f"The header has {near[0]!r}: rename it to {col!r}."
                if near
                else f"Add the column (header found: {', '.join(header[:12])}{' ...' if len(header) > 12 else ''})."
            )
            raise StructuralError(path, f"required column '{col}' is missing", hint, column=col)
    return [c for c in extract.column_names if c not in header]


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """First value of a one-row query, with the result fully consumed (DuckDB 2 insists)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def free_text_columns(extract: Extract, header: list[str]) -> set[str]:
    """Columns whose text is only read by people: optional, non-key, not referenced, no category."""
    rule_cols = set(extract.key) | set(extract.not_null) | set(extract.references) | set(extract.categories)
    contract = {c for c in extract.optional if extract.columns[c] == "str" and c not in rule_cols}
    return contract | {h for h in header if h not in extract.columns}


_REJECT_WORDS = {
    "TOO MANY COLUMNS": "the line has more fields than the header (an unquoted comma in a value?)",
    "MISSING COLUMNS": "the line has fewer fields than the header",
    "UNQUOTED VALUE": "a quote in the line is not closed, or text follows a closing quote",
    "INVALID ENCODING": "the line is not UTF-8 text",
}


def _csv_source(path: Path, header: list[str], ignore_errors: bool = False) -> str:
    cols = "{" + ", ".join(f"{_sql_str(h)}: 'VARCHAR'" for h in header) + "}"
    tail = (
        "ignore_errors=true"
        if ignore_errors
        else "store_rejects=true, rejects_table='_rejects', rejects_scan='_reject_scans'"
    )
    return (
        f"read_csv({_sql_str(str(path))}, header=true, auto_detect=false, delim=',', quote='\"', "
        f"escape='\"', columns={cols}, {tail})"
    )


def _stage_csv(con: duckdb.DuckDBPyConnection, path: Path, extract: Extract) -> tuple[list[str], CsvScan]:
    header = read_csv_header(path)
    check_columns(path, extract, header)
    scan = scan_csv(path, header, free_text_columns(extract, header))
    try:
        try:
            con.execute(f"create temp table _read as select * from {_csv_source(scan.source, header)}")
        except duckdb.Error as exc:
            raise StructuralError(
                path, f"the file cannot be read as CSV ({exc})", "Check that it is a comma-separated UTF-8 text file."
            ) from None
    finally:
        scan.cleanup()
    con.execute("""create temp table _rej_d as
        select line::bigint as _source_row, arg_min(csv_line, column_idx) as _raw_line,
               arg_min(error_type::varchar, column_idx) as error_type,
               arg_min(error_message, column_idx) as message, min(column_idx)::bigint as column_idx
        from _rejects group by line""")
    con.execute("drop table if exists _rejects; drop table if exists _reject_scans")
    # Records are numbered in file order; `_breaks` says where blank lines or multi-line values shift
    # record numbers against the file's line numbers (and against DuckDB's, which skip the line
    # breaks inside quoted values): rejected lines get the file's line number here.
    con.register("_breaks_df", pd.DataFrame(scan.breaks, columns=["rec", "off", "doff"]))
    con.execute(
        "create temp table _breaks as select rec::bigint as rec, off::bigint as off, "
        "doff::bigint as doff, (rec + doff)::bigint as dline from _breaks_df"
    )
    con.unregister("_breaks_df")
    con.execute("""create temp table _rej as
        select r.* replace (r._source_row - b.doff + b.off as _source_row), r._source_row - b.doff as _rec
        from _rej_d r asof join _breaks b on r._source_row >= b.dline""")
    con.execute("drop table _rej_d")
    n_ok = _scalar(con, "select count(*) from _read")
    rejects = con.execute("select _source_row, error_type, column_idx, message from _rej order by 1").fetchall()
    for line, error_type, column_idx, _ in rejects:
        if error_type == "UNQUOTED VALUE" and line in scan.multiline:
            col = header[column_idx - 1] if column_idx and 0 < column_idx <= len(header) else None
            raise StructuralError(
                path,
                f"a quote opened in this line is never closed, so the "
                f"{scan.multiline[line] - line} line(s) after it cannot be read",
                'Close the quote (a quote inside a quoted value is written twice: "") and export again.',
                column=col,
                row=line,
            )
    if n_ok + len(rejects) != scan.n_records:
        raise StructuralError(
            path,
            f"the file's records could not be counted consistently ({scan.n_records} "
            f"records in the text, {n_ok + len(rejects)} read)",
            "Check line endings and quotes, or export the file again.",
        )
    if len(rejects) > 10 and len(rejects) > GARBLED_SHARE * scan.n_records:
        line, error_type, _, message = rejects[0]
        raise StructuralError(
            path,
            f"{len(rejects)} of {scan.n_records} lines cannot be read "
            f"(first at line {line}: {_REJECT_WORDS.get(error_type, message)})",
            "The file looks garbled or truncated: export it again.",
        )
    # Line numbers of the accepted rows: the records that were not rejected, in order.
    con.execute(f"""create temp table _line_map as
        with ok as (select range as rec from range(0, {scan.n_records}) anti join _rej on range = _rej._rec)
        select ok.rec + b.off as _source_row, row_number() over (order by ok.rec) - 1 as _rid
        from ok asof join _breaks b on ok.rec >= b.rec""")
    select_cols = ", ".join(_q(h) for h in header)
    con.execute(
        f"create temp table _src as select m._source_row, {select_cols} "
        f"from (select rowid as _rid, * from _read) r join _line_map m using (_rid)"
    )
    con.execute("drop table _line_map; drop table _read; drop table _breaks")
    # loader failures found while reading
    found, expected = "regexp_extract(message, 'Found: (\\d+)', 1)", "regexp_extract(message, 'Columns: (\\d+)', 1)"
    con.execute(
        f"""insert into _fail select _source_row, 'csv_reject',
            case when error_type in ('UNQUOTED VALUE', 'INVALID ENCODING') then coalesce(?[column_idx::bigint], '') else '' end,
            '',
            case error_type
              when 'TOO MANY COLUMNS' then 'wrong field count: the line has ' || {found} || ' fields, the header '
                   || {expected} || ' (an unquoted comma in a value?)'
              when 'MISSING COLUMNS' then 'wrong field count: the line has ' || {found} || ' fields, the header '
                   || {expected}
              when 'UNQUOTED VALUE' then ?
              when 'INVALID ENCODING' then ?
              else error_type || ': ' || message end, null
            from _rej""",
        [header, _REJECT_WORDS["UNQUOTED VALUE"], _REJECT_WORDS["INVALID ENCODING"]],
    )
    if scan.truncated:
        con.execute(
            "insert into _fail values (?, 'truncated', '', '', ?, null)",
            [
                scan.last_line,
                "the file ends in the middle of this line (no line break after it): "
                "the export looks cut off, so the row is not trusted",
            ],
        )
    if scan.encoding_failures:
        rows = [
            (line, "encoding", col, value, f"'{col}' is not UTF-8 text (read as Windows-1252 it is {value!r})")
            for line, items in scan.encoding_failures.items()
            for col, value in items
        ]
        con.register("_enc_df", pd.DataFrame(rows, columns=_FAIL_COLS))
        con.execute("insert into _fail select *, null from _enc_df")
        con.unregister("_enc_df")
    return header, scan


def stage_file(con: duckdb.DuckDBPyConnection, path: Path, extract: Extract) -> tuple[list[str], CsvScan | None]:
    """Load the file as text into temp table `_src(_source_row, <columns>...)` and its unreadable
    lines into `_rej(_source_row, _raw_line, ...)`, with their failures in `_fail`."""
    con.execute(
        "drop table if exists _src; drop table if exists _read; drop table if exists _rej; "
        "drop table if exists _line_map; drop table if exists _breaks"
    )
    if path.suffix == ".csv":
        return _stage_csv(con, path, extract)
    # Parquet: keep it typed by the contract below, via text, so both formats share one path.
    try:
        header = [
            r[0]
            for r in con.execute(
                f"select column_name from (describe select * from read_parquet({_sql_str(str(path))}))"
            ).fetchall()
        ]
        for h in header:
            if h.lower() in RESERVED_COLUMNS:
                raise StructuralError(
                    path, f"column name {h!r} is reserved for the loader", "Rename the column.", column=h
                )
        check_columns(path, extract, header)
        casts = ", ".join(f"cast({_q(h)} as varchar) as {_q(h)}" for h in header)
        con.execute(
            f"create temp table _src as select row_number() over () as _source_row, {casts} "
            f"from read_parquet({_sql_str(str(path))})"
        )
    except duckdb.Error as exc:
        raise StructuralError(
            path, f"the file cannot be read as Parquet ({exc})", "Check that the file is a valid Parquet file."
        ) from None
    con.execute(
        "create temp table _rej (_source_row BIGINT, _raw_line VARCHAR, error_type VARCHAR, "
        "message VARCHAR, column_idx BIGINT)"
    )
    return header, None


# --------------------------------------------------------------------------- typing

_TYPE_WORDS = {
    "float": "a number",
    "int": "a whole number",
    "date": "a date (YYYY-MM-DD)",
    "timestamp": "a timestamp (YYYY-MM-DD HH:MM:SS)",
    "bool": "true or false",
}
_CONTRACT_FORMAT = {"date": "YYYY-MM-DD", "timestamp": "YYYY-MM-DD HH:MM:SS"}
_TRUE = "('true','t','1','yes','y')"
_FALSE = "('false','f','0','no','n')"
_TIME = r"(\s+\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(\s*[AaPp][Mm])?)?"
# (regex, separator, format if the first part is the day, format if the second part is the day)
_DATE_PATTERNS = [
    (r"\d{1,2}/\d{1,2}/\d{4}", "/", "DD/MM/YYYY", "MM/DD/YYYY"),
    (r"\d{1,2}\.\d{1,2}\.\d{4}", ".", "DD.MM.YYYY", "MM.DD.YYYY"),
    (r"\d{1,2}-\d{1,2}-\d{4}", "-", "DD-MM-YYYY", "MM-DD-YYYY"),
    (r"\d{1,2}/\d{1,2}/\d{2}", "/", "DD/MM/YY", "MM/DD/YY"),
    (r"\d{4}/\d{1,2}/\d{1,2}", None, "YYYY/MM/DD", None),
    (r"\d{4}\.\d{1,2}\.\d{1,2}", None, "YYYY.MM.DD", None),
    (r"\d{8}", None, "YYYYMMDD", None),
    (r"\d{1,2}[ -][A-Za-z]{3}[ -]\d{2,4}", None, "DD-Mon-YYYY", None),
]


def _typed_expr(col: str, typ: str) -> str:
    raw = f"nullif(trim({_q(col)}), '')"
    if typ == "str":
        return raw
    if typ == "bool":
        return f"case when lower({raw}) in {_TRUE} then true when lower({raw}) in {_FALSE} then false end"
    expr = f"try_cast({raw} as {DUCKDB_TYPES[typ]})"
    if typ == "float":
        expr = f"case when isfinite({expr}) then {expr} end"
    return expr


def date_format_hint(con: duckdb.DuckDBPyConnection, source: str, col: str, typ: str) -> tuple[str, str] | None:
    """(regex, format name) of the foreign date format most of the unreadable values of `col` in
    `source` (a table or SQL source) follow, or None."""
    raw = f"nullif(trim({_q(col)}), '')"
    bad = f"{raw} is not null and {_typed_expr(col, typ)} is null"
    parts = []
    for i, (pattern, sep, _, _) in enumerate(_DATE_PATTERNS):
        rx = _sql_str(f"{pattern}{_TIME}")
        first = second = "0"
        if sep:
            date_part = f"split_part({raw}, ' ', 1)"
            first = f"max(try_cast(split_part({date_part}, {_sql_str(sep)}, 1) as int)) filter (regexp_full_match({raw}, {rx}))"
            second = f"max(try_cast(split_part({date_part}, {_sql_str(sep)}, 2) as int)) filter (regexp_full_match({raw}, {rx}))"
        parts.append(f"count(*) filter (regexp_full_match({raw}, {rx})) as n{i}, {first} as a{i}, {second} as b{i}")
    row = con.execute(f"select {', '.join(parts)} from (select * from {source} where {bad} limit 100000)").fetchall()[0]
    best = max(range(len(_DATE_PATTERNS)), key=lambda i: row[3 * i] or 0)
    if not row[3 * best]:
        return None
    pattern, sep, day_first, month_first = _DATE_PATTERNS[best]
    name = day_first
    if sep:
        a, b = row[3 * best + 1] or 0, row[3 * best + 2] or 0
        if a <= 12 < b:
            name = month_first
        elif a <= 12 and b <= 12:
            name = f"{day_first} or {month_first}"
    return f"{pattern}{_TIME}", name


def date_format_message(extract: str, col: str, typ: str, fmt: str) -> str:
    return f"dates in {extract}.{col} look like {fmt}; the contract is {_CONTRACT_FORMAT[typ]}"


def type_rows(con: duckdb.DuckDBPyConnection, extract: Extract, header: list[str]) -> list[str]:
    """Create temp table `_typed` with contract-typed columns plus `_bad_type`, and add a `type`
    failure to `_fail` per unreadable value. Returns the extra (non-contract) columns, kept as text."""
    present = set(header)
    extras = [h for h in header if h not in extract.columns]
    typed, errors = [], []
    for col, typ in extract.columns.items():
        if col not in present:
            typed.append(f"cast(null as {DUCKDB_TYPES[typ]}) as {_q(col)}")
            continue
        typed.append(f"{_typed_expr(col, typ)} as {_q(col)}")
        if typ != "str":
            errors.append((col, typ, f"nullif(trim({_q(col)}), '') is not null and {_typed_expr(col, typ)} is null"))
    extra_sql = "".join(f", {_q(e)}" for e in extras)
    bad = " or ".join(f"({cond})" for _, _, cond in errors) or "false"
    con.execute("drop table if exists _typed")
    con.execute(
        f"create temp table _typed as select _source_row, {', '.join(typed)}{extra_sql}, "
        f"coalesce({bad}, false) as _bad_type from _src"
    )
    counts = con.execute(
        f"select {', '.join(f'count(*) filter ({c})' for _, _, c in errors) or '0'} from _src"
    ).fetchall()[0]
    for (col, typ, cond), count in zip(errors, counts):
        if not count:
            continue
        raw = f"trim({_q(col)})"
        reason = _sql_str(f"'{col}' is not {_TYPE_WORDS[typ]}")
        if typ in _CONTRACT_FORMAT:
            hint = date_format_hint(con, "_src", col, typ)
            if hint:
                reason = (
                    f"case when regexp_full_match({raw}, {_sql_str(hint[0])}) then "
                    f"{_sql_str(date_format_message(extract.name, col, typ, hint[1]))} else {reason} end"
                )
        con.execute(
            f"insert into _fail select _source_row, 'type', {_sql_str(col)}, {raw}, {reason}, null "
            f"from _src where {cond}"
        )
    return extras


# --------------------------------------------------------------------------- suite rules

_GX = {}


def _gx_batch(df: pd.DataFrame):
    """A GX batch over `df`, reusing one ephemeral context per process."""
    import great_expectations as gx

    if "definition" not in _GX:
        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = {"globally": False, "metric_calculations": False}
        source = ctx.data_sources.add_pandas("sop_extracts")
        _GX["definition"] = source.add_dataframe_asset("extract").add_batch_definition_whole_dataframe("all")
    return _GX["definition"].get_batch(batch_parameters={"dataframe": df})


def _reference_state(con: duckdb.DuckDBPyConnection, ref_extract: str) -> str:
    """'absent' (no table or nothing in the file), or 'present'."""
    exists = _scalar(
        con, "select count(*) from information_schema.tables where table_schema='raw' and table_name=?", [ref_extract]
    )
    if not exists:
        return "absent"
    loaded = _scalar(con, f"select count(*) from (select 1 from raw.{_q(ref_extract)} limit 1)")
    quarantined = 0
    if _scalar(
        con,
        "select count(*) from information_schema.tables where table_schema='quarantine' and table_name=?",
        [ref_extract],
    ):
        quarantined = _scalar(con, f"select count(*) from (select 1 from quarantine.{_q(ref_extract)} limit 1)")
    return "present" if loaded or quarantined else "absent"


def active_expectations(con: duckdb.DuckDBPyConnection, suite: dict) -> tuple[list[dict], list[str]]:
    """Drop expectations whose reference extract is absent this cycle; say which were skipped."""
    active, skipped = [], []
    for exp in suite["expectations"]:
        ref = exp.get("meta", {}).get("references")
        value_set = exp.get("kwargs", {}).get("value_set")
        if not ref and isinstance(value_set, dict):
            ref = parse_reference(str(value_set.get("$PARAMETER", "")))
        if ref and _reference_state(con, ref[0]) == "absent":
            skipped.append(f"reference check on '{exp['kwargs'].get('column')}' skipped: {ref[0]} is absent")
            continue
        active.append(exp)
    return active, skipped


def reference_values(con: duckdb.DuckDBPyConnection, expectations: list[dict]) -> dict[str, list]:
    """GX parameters `ref__<extract>__<column>`: the loaded keys of each referenced extract."""
    params = {}
    for exp in expectations:
        value_set = exp.get("kwargs", {}).get("value_set")
        if not isinstance(value_set, dict):
            continue
        name = str(value_set.get("$PARAMETER", ""))
        target = parse_reference(name)
        if target is None or name in params:
            continue
        ref_extract, ref_col = target
        params[name] = [
            r[0]
            for r in con.execute(
                f"select distinct {_q(ref_col)} from raw.{_q(ref_extract)} where {_q(ref_col)} is not null"
            ).fetchall()
        ]
    return params


def gx_parameters(as_of: date, references: dict[str, list]) -> dict:
    """Suite parameters: as-of (end of that day, so timestamps on the as-of day pass) and key sets."""
    return {"as_of": pd.Timestamp(datetime.combine(as_of, dtime.max)), **references}


def _rule_of(exp: dict) -> tuple[str, str, str]:
    meta = exp.get("meta") or {}
    kwargs = exp.get("kwargs", {})
    column = kwargs.get("column") or ",".join(kwargs.get("column_list") or [])
    return meta.get("sop_rule", exp.get("type", "")), column, meta.get("reason", exp.get("type", ""))


def _insert_sql_rule(con: duckdb.DuckDBPyConnection, idx: int, exp: dict, rule: RowRule) -> None:
    sop_rule, column, reason = _rule_of(exp)
    if rule.reference is None:
        if sop_rule == "duplicate_key":
            # say which rows share the key: every one of them is quarantined
            base = rule.sql().replace(" as value from _cycle c", " as value, c._source_row as r from _cycle c", 1)
            con.execute(
                f"""insert into _fail
                select _source_row, ?, ?, value,
                       ? || '; ' || count(*) over w || ' rows share it (rows '
                         || array_to_string(list_slice(list(r) over w, 1, 10), ', ')
                         || case when count(*) over w > 10 then ', ...' else '' end || '), all quarantined', ?
                from ({base}) window w as (partition by value order by r
                                           rows between unbounded preceding and unbounded following)""",
                [sop_rule, column, reason, idx],
            )
            return
        con.execute(
            f"insert into _fail select _source_row, ?, ?, value, ?, ? from ({rule.sql()})",
            [sop_rule, column, reason, idx],
        )
        return
    ref_extract, ref_col = rule.reference
    noun = MASTER_NOUNS.get(ref_extract, f"{ref_extract} row")
    has_quarantine = _scalar(
        con,
        "select count(*) from information_schema.tables where table_schema='quarantine' and table_name=?",
        [ref_extract],
    )
    masters = (
        (
            f"select trim(cast({_q(ref_col)} as varchar)) as k, string_agg(distinct _reasons, '; ') as reasons "
            f"from quarantine.{_q(ref_extract)} where {_q(ref_col)} is not null "
            f"and coalesce(_rules, '') <> 'after_as_of' group by 1"
        )
        if has_quarantine
        else "select null::varchar as k, null::varchar as reasons where false"
    )
    con.execute(
        f"""insert into _fail
        select f._source_row, case when m.reasons is null then ? else 'master_quarantined' end, ?, f.value,
               case when m.reasons is null then ? else ? || m.reasons end, ?
        from ({rule.sql()}) f
        anti join (select distinct cast({_q(ref_col)} as varchar) as k from raw.{_q(ref_extract)}) r on r.k = f.value
        left join ({masters}) m on m.k = f.value""",
        [sop_rule, column, reason, f"{noun} quarantined: ", idx],
    )


def suite_failures(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    suite: dict,
    as_of: date,
    path: Path,
    gx_check_max_rows: int | None = GX_CHECK_MAX_ROWS,
    stats: dict | None = None,
) -> list[str]:
    """Evaluate the suite on `_cycle`: SQL for the rules it translates, GX for the rest and as the
    cross-check (up to `gx_check_max_rows` rows; None: no cross-check). Adds failures to `_fail`;
    returns notes; `stats["gx_expectations"]`: how many expectations GX validated."""
    expectations, notes = active_expectations(con, suite)
    as_of_param = gx_parameters(as_of, {})
    present = set(r[0] for r in con.execute("select column_name from (describe _cycle)").fetchall())
    columns = {c: t for c, t in extract.columns.items()}
    for c in present - set(columns) - {"_source_row", "_bad_type"}:
        columns[c] = "str"
    sql_rules: dict[int, RowRule] = {}
    to_gx: list[int] = []
    for i, exp in enumerate(expectations):
        sop_rule, column, reason = _rule_of(exp)
        if exp.get("type") == "expect_column_to_exist":
            col = exp.get("kwargs", {}).get("column")
            if col not in present:
                raise StructuralError(
                    path, reason, "Add the column to the file or change the suite in expectations/.", column=col
                )
            continue
        if sop_rule == "after_as_of" and extract.event_date and column == extract.event_date:
            continue  # applied by the loader before the suite (rows after the as-of are not in _cycle)
        rule = translate(exp, columns, as_of_param)
        if rule is None:
            to_gx.append(i)
        else:
            sql_rules[i] = rule
            _insert_sql_rule(con, i, exp, rule)
    n_cycle = _scalar(con, "select count(*) from _cycle")
    if not n_cycle or not expectations:
        return notes
    if gx_check_max_rows is None:  # no cross-check: GX validates what the SQL does not translate
        indices = to_gx
    elif n_cycle > gx_check_max_rows:
        if sql_rules:
            notes.append(
                f"Great Expectations cross-check skipped above {gx_check_max_rows:,} rows "
                f"({n_cycle:,}): the suite's row rules ran in DuckDB"
            )
        indices = to_gx
    else:
        indices = [
            i
            for i, e in enumerate(expectations)
            if e.get("type") != "expect_column_to_exist" and (i in sql_rules or i in to_gx)
        ]
    if stats is not None:
        stats["gx_expectations"] = len(indices)
    if indices:
        notes += _gx_validate(con, extract, [expectations[i] for i in indices], indices, sql_rules, as_of, path)
    return notes


def _gx_validate(
    con,
    extract: Extract,
    expectations: list[dict],
    indices: list[int],
    sql_rules: dict[int, RowRule],
    as_of: date,
    path: Path,
) -> list[str]:
    """Validate `_cycle` with GX (the validator of record). Expectations without SQL add their failing
    rows; for the others GX's count must equal the SQL's, else GX's rows are added too."""
    from sop_pipeline.ingest.suites import to_gx_suite

    needed: list[str] = []
    for exp in expectations:
        kw = exp.get("kwargs", {})
        for c in ([kw.get("column")] if kw.get("column") else []) + list(kw.get("column_list") or []):
            if c not in needed:
                needed.append(c)
    present = set(r[0] for r in con.execute("select column_name from (describe _cycle)").fetchall())
    if any(c not in present for c in needed) or any(e.get("type", "").startswith("expect_table") for e in expectations):
        needed = [c for c in present if c not in ("_bad_type",)]
    needed = [c for c in needed if c != "_source_row"]
    df = con.execute(f"select _source_row{''.join(', ' + _q(c) for c in needed)} from _cycle").df()
    df = df.set_index("_source_row", drop=False)
    params = gx_parameters(as_of, reference_values(con, expectations))
    tagged = [{**e, "meta": {**(e.get("meta") or {}), "_sop_idx": idx}} for e, idx in zip(expectations, indices)]
    result = _gx_batch(df).validate(
        to_gx_suite({"name": extract.name, "expectations": tagged}),
        result_format={"result_format": "COMPLETE", "partial_unexpected_count": 0},
        expectation_parameters=params,
    )
    sql_counts = dict(
        con.execute("select _exp, count(distinct _source_row) from _fail where _exp is not null group by 1").fetchall()
    )
    notes, records = [], []
    for res in result.results:
        cfg = res.expectation_config
        meta = dict(cfg.meta or {})
        idx = meta.pop("_sop_idx")
        exp = {"type": cfg.type, "kwargs": cfg.kwargs, "meta": meta}
        sop_rule, column, reason = _rule_of(exp)
        if res.exception_info and res.exception_info.get("raised_exception"):
            raise StructuralError(
                path,
                f"expectation {cfg.type} failed to run ({res.exception_info.get('exception_message')})",
                "Fix the suite in expectations/ or the column it checks.",
                column=column,
            )
        if cfg.type.startswith("expect_table") and not res.success:
            raise StructuralError(path, reason, "Fix the file or change the suite in expectations/.", column=column)
        unexpected = int(res.result.get("unexpected_count") or 0)
        if idx in sql_rules:
            if unexpected == sql_counts.get(idx, 0):
                continue
            notes.append(
                f"{sop_rule} on '{column}': Great Expectations found {unexpected} failing rows, the SQL "
                f"rules {sql_counts.get(idx, 0)}; the rows of both are quarantined"
            )
        if res.success:
            continue  # e.g. `mostly`: the expectation passes as a whole, nothing to quarantine
        index = res.result.get("unexpected_index_list") or []
        if not index and unexpected:
            raise StructuralError(path, f"{cfg.type} on {column} failed for the whole table", reason, column=column)
        cols = [c for c in column.split(",") if c in df.columns]
        for item in index:
            row = int(item["_source_row"] if isinstance(item, dict) else item)
            value = ", ".join(_show(df.at[row, c]) for c in cols) if cols else ""
            records.append((row, sop_rule, column, value, reason, idx))
    if records:
        con.register("_gx_df", pd.DataFrame(records, columns=_FAIL_COLS + ["_exp"]))
        con.execute(
            "insert into _fail select g.* from _gx_df g anti join _fail f "
            "on f._source_row = g._source_row and f._exp = g._exp"
        )
        con.unregister("_gx_df")
    return notes


def _show(value) -> str:
    if value is None or (not isinstance(value, (str, list, tuple, dict)) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat(sep=" ")
    return str(value)


# --------------------------------------------------------------------------- loading


def _create_empty(con: duckdb.DuckDBPyConnection, extract: Extract) -> None:
    typed = ", ".join(f"{_q(c)} {DUCKDB_TYPES[t]}" for c, t in extract.columns.items())
    text = ", ".join(f"{_q(c)} VARCHAR" for c in extract.columns)
    con.execute(f"create or replace table raw.{_q(extract.name)} ({typed}, _source_row BIGINT)")
    con.execute(
        f"create or replace table quarantine.{_q(extract.name)} ({text}, _raw_line VARCHAR, "
        f"_source_row BIGINT, _rules VARCHAR, _columns VARCHAR, _reasons VARCHAR)"
    )


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create schema if not exists raw; create schema if not exists quarantine; create schema if not exists meta"
    )
    con.execute(
        "create table if not exists quarantine.issues (extract VARCHAR, source_file VARCHAR, "
        "source_row BIGINT, rule VARCHAR, column_name VARCHAR, value VARCHAR, reason VARCHAR)"
    )


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "drop table if exists _cycle; drop table if exists _src; drop table if exists _typed; "
        "drop table if exists _rej; drop table if exists _fail; drop table if exists _read; "
        "drop table if exists _line_map; drop table if exists _breaks; drop table if exists _rejects; "
        "drop table if exists _reject_scans; drop table if exists _rej_d"
    )


def ingest_extract(
    con: duckdb.DuckDBPyConnection,
    name: str,
    extracts_dir: Path,
    suite: dict,
    as_of: date,
    max_quarantine_share: float | None = MAX_QUARANTINE_SHARE,
    gx_check_max_rows: int | None = GX_CHECK_MAX_ROWS,
) -> IngestReport:
    """Validate and load one extract into `raw.<name>` / `quarantine.<name>` on `con`.

    Raises StructuralError (one line: file, column, row) when the file cannot be read as the
    contract says, and QuarantineShareError when more than `max_quarantine_share` of its rows
    would be quarantined (None: no limit); the tables are written before that error.
    """
    started = time.perf_counter()
    extract = EXTRACTS[name]
    ensure_schemas(con)
    con.execute("delete from quarantine.issues where extract = ?", [name])
    path = find_extract_file(extracts_dir, name)
    if path is None:
        if extract.required:
            raise StructuralError(
                extracts_dir / f"{name}.csv",
                f"the required extract '{name}' is missing",
                f"Put {name}.csv or {name}.parquet in {extracts_dir}.",
            )
        _create_empty(con, extract)
        return IngestReport(
            name,
            "absent",
            notes=[f"{name} is absent: sections that need it will say 'no data'"],
            seconds=time.perf_counter() - started,
        )
    _drop_temp(con)
    con.execute(
        'create temp table _fail (_source_row BIGINT, rule VARCHAR, "column" VARCHAR, value VARCHAR, '
        "reason VARCHAR, _exp INTEGER)"
    )
    try:
        return _ingest(con, extract, path, suite, as_of, max_quarantine_share, gx_check_max_rows, started)
    except duckdb.OutOfMemoryException as exc:
        raise ValidationOutOfMemory(
            path,
            f"the file could not be validated within DuckDB's memory limit ({exc})",
            "Raise the memory limit or split the file.",
        ) from None
    except (duckdb.Error, csv.Error, OSError, UnicodeError) as exc:
        # never a traceback for a hostile file: one line naming the file and what failed
        raise StructuralError(
            path,
            f"the file could not be validated ({type(exc).__name__}: {exc})",
            "Check the file (and the suite in expectations/ if it was edited).",
        ) from None
    finally:
        _drop_temp(con)


def _ingest(
    con,
    extract: Extract,
    path: Path,
    suite: dict,
    as_of: date,
    max_share: float | None,
    gx_check_max_rows: int | None,
    started: float,
) -> IngestReport:
    name = extract.name
    header, scan = stage_file(con, path, extract)
    missing_optional = [c for c in extract.column_names if c not in header]
    extras = type_rows(con, extract, header)
    warnings = []
    if scan is not None and scan.repaired:
        by_col: dict[str, list] = {}
        for line, col, value in scan.repaired:
            by_col.setdefault(col, []).append((line, value))
        for col, items in by_col.items():
            line, value = items[0]
            warnings.append(
                f"repaired {len(items)} value(s) of '{col}' that were not UTF-8 by reading them as "
                f"Windows-1252 (first at row {line}: {value!r}); save the file as UTF-8 to avoid this"
            )

    # As-of exclusion in SQL (it can be millions of rows for a backtest cycle).
    in_cycle = "not _bad_type and _source_row not in (select _source_row from _fail)"
    as_of_end = gx_parameters(as_of, {})["as_of"].isoformat(sep=" ")
    cuts = ([(extract.event_date, "", "dated after the cycle's as-of")] if extract.event_date else []) + [
        (cut.column, cut.when, cut.reason or f"'{cut.column}' after the cycle's as-of") for cut in extract.as_of_cuts
    ]
    for column, when, reason in cuts:
        # a row known only after the as-of: excluded from the cycle and counted (rows_after_as_of)
        after = f"{_q(column)} > timestamp '{as_of_end}'" + (f" and ({when})" if when else "")
        con.execute(
            f"insert into _fail select _source_row, 'after_as_of', ?, cast({_q(column)} as varchar), ?, "
            f"null from _typed where {in_cycle} and {after}",
            [column, f"{reason} {as_of}: excluded from this cycle"],
        )
    con.execute(f"create temp table _cycle as select * from _typed where {in_cycle}")
    stats: dict = {}
    notes = suite_failures(con, extract, suite, as_of, path, gx_check_max_rows, stats)
    notes += run_checks(con, extract)  # whole-file checks of the contract (BOM cycles ...)
    con.execute("drop table _cycle")

    _write_raw(con, extract, extras)
    _write_quarantine(con, extract, header, extras)
    con.execute(
        'insert into quarantine.issues select ?, ?, _source_row, rule, "column", value, reason '
        "from _fail order by _source_row, rule",
        [name, str(path)],
    )

    rows_read = _scalar(con, "select count(*) from _src") + _scalar(con, "select count(*) from _rej")
    rows_loaded = _scalar(con, f"select count(*) from raw.{_q(name)}")
    n_bad, n_after = con.execute(
        "select count(*) filter (where not after_only), count(*) filter (where after_only) from "
        "(select _source_row, bool_and(rule = 'after_as_of') as after_only from _fail group by 1)"
    ).fetchall()[0]
    by_rule = con.execute("select rule, count(distinct _source_row) from _fail group by 1 order by 1").fetchall()
    report = IngestReport(
        name,
        "loaded",
        file=str(path),
        rows_read=rows_read,
        rows_loaded=rows_loaded,
        rows_quarantined=n_bad,
        rows_after_as_of=n_after,
        failures_by_rule={str(k): int(v) for k, v in by_rule},
        notes=warnings
        + notes
        + [f"optional column '{c}' absent: loaded as empty" for c in missing_optional]
        + ([f"extra columns kept as text: {', '.join(extras)}"] if extras else []),
        warnings=warnings,
        gx_expectations=stats.get("gx_expectations", 0),
    )
    report.seconds = time.perf_counter() - started
    if max_share is not None and rows_read and n_bad > max_share * rows_read:
        rule, column, count, first, reason = con.execute(
            'select rule, "column", count(distinct _source_row) n, min(_source_row), min(reason) from _fail '
            "where rule <> 'after_as_of' group by 1, 2 order by n desc, 1, 2 limit 1"
        ).fetchall()[0]
        raise QuarantineShareError(
            path,
            f"{n_bad:,} of {rows_read:,} rows ({n_bad / rows_read:.0%}) would be quarantined, more than the "
            f"{max_share:.0%} allowed; most by rule '{rule}'{f' on {column!r}' if column else ''} "
            f"({count:,} rows, first at row {first}: {reason})",
            f"Fix the file and run again (the rows are in quarantine.{name}), or raise SOP_MAX_QUARANTINE_SHARE.",
            column=column.split(",")[0] if column else None,
            report=report,
        )
    return report


def _write_raw(con, extract: Extract, extras: list[str]) -> None:
    cols = ", ".join(_q(c) for c in extract.column_names + extras)
    con.execute(
        f"create or replace table raw.{_q(extract.name)} as select {cols}, _source_row from _typed t "
        f"where not _bad_type and not exists (select 1 from _fail f where f._source_row = t._source_row) "
        f"order by _source_row"
    )


def _write_quarantine(con, extract: Extract, header: list[str], extras: list[str]) -> None:
    """Bad rows with their original text, one row per source row, all reasons joined."""
    text_cols = ", ".join(
        (f"s.{_q(c)}" if c in header else f"null::varchar as {_q(c)}") for c in extract.column_names + extras
    )
    con.execute(f"""
        create or replace table quarantine.{_q(extract.name)} as
        with reasons as (
            select _source_row, string_agg(distinct rule, '; ' order by rule) as _rules,
                   string_agg(distinct "column", '; ' order by "column") as _columns,
                   string_agg(reason || case when value <> '' then ' (value: ' || value || ')' else '' end,
                              '; ' order by rule) as _reasons
            from _fail group by _source_row)
        select {text_cols}, rj._raw_line, r._source_row, r._rules, nullif(r._columns, '') as _columns, r._reasons
        from reasons r
        left join _src s using (_source_row)
        left join _rej rj using (_source_row)
        order by r._source_row""")


def detect_as_of(extracts_dir: Path, today: date | None = None) -> date:
    """Default cycle date: the last event date in the demand extracts that is not in the future.

    Dates after `today` (the machine's date) are treated as typos and ignored here; the rows
    carrying them are then excluded as "after as-of" by validation. Dates in a foreign format
    (DD/MM/YYYY ...) stop the run with a message that names the format.
    """
    return demand_date_range(extracts_dir, today)[1]


def demand_date_range(extracts_dir: Path, today: date | None = None) -> tuple[date, date]:
    """(first, last) event date in the demand extracts (pos_sales, sales_orders), the last one
    not after `today` (see `detect_as_of`)."""
    today = today or date.today()
    found, firsts, problems = [], [], []
    with duckdb.connect() as con:
        for name in ("pos_sales", "sales_orders"):
            path = find_extract_file(extracts_dir, name)
            if path is None:
                continue
            col = EXTRACTS[name].event_date
            if path.suffix == ".csv":
                header = read_csv_header(path)
                check_columns(path, EXTRACTS[name], header)
                src = _csv_source(path, header, ignore_errors=True)
            else:
                src = f"read_parquet({_sql_str(str(path))})"
            try:
                con.execute(
                    f"create or replace temp table _dates as select cast({_q(col)} as varchar) as {_q(col)} from {src}"
                )
            except duckdb.Error as exc:
                raise StructuralError(path, f"the file cannot be read ({exc})", "Export it again.") from None
            value, n_values, first, earliest = con.execute(
                f"select max(d) filter (where d <= ?), count(v), arg_min(v, v is null), min(d) from "
                f"(select try_cast(trim({_q(col)}) as date) d, nullif(trim({_q(col)}), '') v from _dates)",
                [today],
            ).fetchall()[0]
            if value is not None:
                found.append(value)
                firsts.append(earliest)
                continue
            hint = date_format_hint(con, "_dates", col, "date")
            if hint:
                raise StructuralError(
                    path,
                    date_format_message(name, col, "date", hint[1]),
                    "Export the dates as YYYY-MM-DD (ISO), or set SOP_AS_OF and fix the file.",
                    column=col,
                )
            if n_values:
                problems.append((path, col, first))
    if not found:
        if problems:
            path, col, first = problems[0]
            raise StructuralError(
                path,
                f"no value of '{col}' is a date YYYY-MM-DD on or before today (first value: {first!r})",
                "Export the dates as YYYY-MM-DD (ISO).",
                column=col,
            )
        raise StructuralError(
            extracts_dir,
            "no dated demand rows found in pos_sales or sales_orders",
            "Provide pos_sales or sales_orders with dates, or set SOP_AS_OF.",
        )
    return min(firsts), max(found)
