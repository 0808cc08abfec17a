"""Read one extract file, validate it, load good rows to `raw.<extract>`, bad rows to
`quarantine.<extract>`. Pure library code: DuckDB + Great Expectations, no Dagster.

Steps, each of which either passes a row on or quarantines it with a reason:
1. **Structure** (stops the run): the file exists if required, is not empty, is UTF-8 at the
   header, is comma-separated, has every required column. Unreadable files stop the run too.
2. **Reading** (DuckDB `read_csv` with `store_rejects`): lines with the wrong number of fields
   or invalid UTF-8 bytes are quarantined with DuckDB's reason (rule `csv_reject`).
3. **Types** (DuckDB `TRY_CAST`): a value that is not a number/date/boolean where the contract
   says so is quarantined (rule `type`), naming the column and the value.
4. **Great Expectations suite** (`expectations/<extract>.json`): not-null keys, unique keys,
   categories, ranges, references, dates after the as-of. Failing rows are quarantined with
   the expectation's `meta.reason`; rows whose only failure is "after as-of" are counted as
   excluded from the cycle (`rows_after_as_of`), not as bad data.

Row accounting: rows_read = rows_loaded + rows_quarantined + rows_after_as_of, and every row
not loaded is in `quarantine.<extract>` with its source row number.
`source_row` is the line number in a CSV file (the header is line 1) or the 1-based row
number in a Parquet file.
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
from sop_pipeline.ingest.suites import reference_parameter

FILE_SUFFIXES = (".csv", ".parquet")
QUARANTINE_META = ("_raw_line", "_source_row", "_rules", "_columns", "_reasons")
GARBLED_SHARE = 0.5  # more rejected lines than this share: the file is garbled, stop


class StructuralError(Exception):
    """The extract cannot be read as the contract describes; the run must stop.

    The message names the file, the column (when there is one) and what to do.
    """

    def __init__(self, file: str | Path, problem: str, hint: str, column: str | None = None):
        self.file, self.problem, self.hint, self.column = str(file), problem, hint, column
        where = f"{self.file}" + (f", column '{column}'" if column else "")
        super().__init__(f"{where}: {problem}. {hint}")


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
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_loaded + self.rows_quarantined + self.rows_after_as_of


def find_extract_file(extracts_dir: Path, name: str) -> Path | None:
    found = [extracts_dir / f"{name}{s}" for s in FILE_SUFFIXES if (extracts_dir / f"{name}{s}").exists()]
    if len(found) > 1:
        raise StructuralError(found[0], f"both {found[0].name} and {found[1].name} exist",
                              "Keep exactly one file per extract (CSV or Parquet).")
    return found[0] if found else None


# --------------------------------------------------------------------------- reading

def read_csv_header(path: Path) -> list[str]:
    """Column names from the first line, with clear errors for the usual export mistakes."""
    with open(path, "rb") as fh:
        first = fh.readline(1 << 20)
    if not first.strip():
        raise StructuralError(path, "the file is empty (no header line)",
                              "Export the extract again with a header row of column names.")
    try:
        text = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise StructuralError(path, "the header line is not UTF-8 text",
                              "Save the file as UTF-8 CSV (in Excel: 'CSV UTF-8').") from None
    header = [h.strip() for h in next(csv.reader(io.StringIO(text)))]
    if len(header) == 1:
        for delim, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if delim in text:
                raise StructuralError(path, f"the file is {name}-separated, the contract expects commas",
                                      "Export it as comma-separated CSV.")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise StructuralError(path, f"column {dupes[0]!r} appears more than once in the header",
                              "Rename or drop the duplicate column.", column=dupes[0])
    return header


def check_columns(path: Path, extract: Extract, header: list[str]) -> list[str]:
    """Raise for a missing required column; return the optional columns that are missing."""
    for col in extract.column_names:
        if col not in header and col not in extract.optional:
            near = [h for h in header if h.lower().replace(" ", "_") == col]
            hint = (f"The header has {near[0]!r}: rename it to {col!r}." if near else
                    f"Add the column (header found: {', '.join(header[:12])}{' ...' if len(header) > 12 else ''}).")
            raise StructuralError(path, f"required column '{col}' is missing", hint, column=col)
    return [c for c in extract.column_names if c not in header]


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """First value of a one-row query, with the result fully consumed (DuckDB 2 insists)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def stage_file(con: duckdb.DuckDBPyConnection, path: Path, extract: Extract) -> tuple[list[str], pd.DataFrame]:
    """Load the file as text into temp table `_src(_source_row, <columns>...)`.

    Returns (header, rejected lines as DataFrame[_source_row, _raw_line, reason]).
    """
    con.execute("drop table if exists _src; drop table if exists _read")
    if path.suffix == ".csv":
        header = read_csv_header(path)
        check_columns(path, extract, header)
        cols = "{" + ", ".join(f"{_sql_str(h)}: 'VARCHAR'" for h in header) + "}"
        try:
            con.execute(
                f"create temp table _read as select * from read_csv({_sql_str(str(path))}, header=true, "
                f"auto_detect=false, delim=',', quote='\"', escape='\"', columns={cols}, "
                f"store_rejects=true, rejects_table='_rejects', rejects_scan='_reject_scans')")
        except duckdb.Error as exc:
            raise StructuralError(path, f"the file cannot be read as CSV ({exc})",
                                  "Check that it is a comma-separated UTF-8 text file.") from None
        rejects = con.execute(
            "select line::bigint as _source_row, csv_line as _raw_line, "
            "error_type::varchar || ': ' || error_message as reason from _rejects order by line").df()
        con.execute("drop table if exists _rejects; drop table if exists _reject_scans")
        n_ok = _scalar(con, "select count(*) from _read")
        # Accepted rows keep file order; their line numbers are the lines that were not rejected.
        lines = pd.Index(range(2, 2 + n_ok + len(rejects))).difference(rejects["_source_row"])
        con.execute("create temp table _line_map as select unnest(?::bigint[]) as _source_row, "
                    "generate_subscripts(?::bigint[], 1) - 1 as _rid", [lines.tolist(), lines.tolist()])
        select_cols = ", ".join(_q(h) for h in header)
        con.execute(f"create temp table _src as select m._source_row, {select_cols} "
                    f"from (select rowid as _rid, * from _read) r join _line_map m using (_rid)")
        con.execute("drop table _line_map; drop table _read")
        if len(rejects) and len(rejects) > GARBLED_SHARE * (n_ok + len(rejects)) and len(rejects) > 10:
            first = rejects.iloc[0]
            raise StructuralError(path, f"{len(rejects)} of {n_ok + len(rejects)} lines cannot be read "
                                        f"(first at line {first._source_row}: {first.reason})",
                                  "The file looks garbled or truncated: export it again.")
        return header, rejects
    # Parquet: keep it typed by the contract below, via text, so both formats share one path.
    try:
        header = [r[0] for r in con.execute(
            f"select name from parquet_schema({_sql_str(str(path))}) where num_children is null").fetchall()]
        check_columns(path, extract, header)
        casts = ", ".join(f"cast({_q(h)} as varchar) as {_q(h)}" for h in header)
        con.execute(f"create temp table _src as select row_number() over () as _source_row, {casts} "
                    f"from read_parquet({_sql_str(str(path))})")
    except duckdb.Error as exc:
        raise StructuralError(path, f"the file cannot be read as Parquet ({exc})",
                              "Check that the file is a valid Parquet file.") from None
    return header, pd.DataFrame(columns=["_source_row", "_raw_line", "reason"])


# --------------------------------------------------------------------------- typing

_TYPE_WORDS = {"float": "a number", "int": "a whole number", "date": "a date (YYYY-MM-DD)",
               "timestamp": "a timestamp (YYYY-MM-DD HH:MM:SS)", "bool": "true or false"}
_TRUE = "('true','t','1','yes','y')"
_FALSE = "('false','f','0','no','n')"


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


def type_rows(con: duckdb.DuckDBPyConnection, extract: Extract, header: list[str]) -> list[str]:
    """Create temp table `_typed` with contract-typed columns plus `_type_errors` text.

    Returns the extra (non-contract) column names, kept as text.
    """
    present = set(header)
    extras = [h for h in header if h not in extract.columns]
    typed, errors = [], []
    for col, typ in extract.columns.items():
        if col not in present:
            typed.append(f"cast(null as {DUCKDB_TYPES[typ]}) as {_q(col)}")
            continue
        typed.append(f"{_typed_expr(col, typ)} as {_q(col)}")
        if typ != "str":
            raw = f"nullif(trim({_q(col)}), '')"
            errors.append(f"case when {raw} is not null and {_typed_expr(col, typ)} is null then "
                          f"'{col}|' || {raw} end")
    extra_sql = "".join(f", {_q(e)}" for e in extras)
    err_sql = f"concat_ws(chr(30), {', '.join(errors)})" if errors else "''"
    con.execute("drop table if exists _typed")
    con.execute(f"create temp table _typed as select _source_row, {', '.join(typed)}{extra_sql}, "
                f"nullif({err_sql}, '') as _type_errors from _src")
    return extras


def type_failures(con: duckdb.DuckDBPyConnection, extract: Extract) -> pd.DataFrame:
    rows = con.execute("select _source_row, _type_errors from _typed where _type_errors is not null").fetchall()
    records = []
    for source_row, text in rows:
        for item in text.split(chr(30)):
            col, _, value = item.partition("|")
            records.append((source_row, "type", col, value,
                            f"'{col}' is not {_TYPE_WORDS[extract.columns[col]]}"))
    return pd.DataFrame(records, columns=["_source_row", "rule", "column", "value", "reason"])


# --------------------------------------------------------------------------- GX

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


def active_expectations(suite: dict, parameters: dict) -> tuple[list[dict], list[str]]:
    """Drop expectations whose reference extract is absent this cycle; say which were skipped."""
    active, skipped = [], []
    for exp in suite["expectations"]:
        ref = exp.get("meta", {}).get("references")
        if ref and reference_parameter(*ref) not in parameters:
            skipped.append(f"reference check on '{exp['kwargs'].get('column')}' skipped: {ref[0]} is absent")
            continue
        active.append(exp)
    return active, skipped


def gx_failures(df: pd.DataFrame, suite: dict, parameters: dict, path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Validate `df` (index = source row) with the suite; one row per (source row, failed rule)."""
    from sop_pipeline.ingest.suites import to_gx_suite

    expectations, notes = active_expectations(suite, parameters)
    if not expectations or df.empty:
        return pd.DataFrame(columns=["_source_row", "rule", "column", "value", "reason"]), notes
    gx_suite = to_gx_suite({**suite, "expectations": expectations})
    result = _gx_batch(df).validate(
        gx_suite, result_format={"result_format": "COMPLETE", "partial_unexpected_count": 0},
        expectation_parameters=parameters)
    records = []
    for res in result.results:
        cfg = res.expectation_config
        meta = cfg.meta or {}
        column = cfg.kwargs.get("column") or ",".join(cfg.kwargs.get("column_list") or [])
        if res.exception_info and res.exception_info.get("raised_exception"):
            raise StructuralError(path, f"expectation {cfg.type} failed to run "
                                        f"({res.exception_info.get('exception_message')})",
                                  "Fix the suite in expectations/ or the column it checks.", column=column)
        if res.success:
            continue
        if meta.get("sop_rule") == "structure" or cfg.type.startswith("expect_table"):
            raise StructuralError(path, meta.get("reason", f"{cfg.type} failed"),
                                  "Add the column to the file or change the suite in expectations/.", column=column)
        index = res.result.get("unexpected_index_list") or []
        values = res.result.get("unexpected_list") or [None] * len(index)
        reason = meta.get("reason", cfg.type)
        for idx, value in zip(index, values):
            row = idx["_source_row"] if isinstance(idx, dict) else idx
            records.append((int(row), meta.get("sop_rule", cfg.type), column, _show(value), reason))
        if not index and res.result.get("unexpected_count"):
            raise StructuralError(path, f"{cfg.type} on {column} failed for the whole table", reason, column=column)
    return pd.DataFrame(records, columns=["_source_row", "rule", "column", "value", "reason"]), notes


def _show(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_show(v) for v in value)
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat(sep=" ")
    if isinstance(value, dict):
        return ", ".join(f"{k}={_show(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def gx_parameters(as_of: date, references: dict[str, list]) -> dict:
    """Suite parameters: as-of (end of that day, so timestamps on the as-of day pass) and key sets."""
    return {"as_of": pd.Timestamp(datetime.combine(as_of, dtime.max)), **references}


# --------------------------------------------------------------------------- loading

def _create_empty(con: duckdb.DuckDBPyConnection, extract: Extract) -> None:
    typed = ", ".join(f"{_q(c)} {DUCKDB_TYPES[t]}" for c, t in extract.columns.items())
    text = ", ".join(f"{_q(c)} VARCHAR" for c in extract.columns)
    con.execute(f"create or replace table raw.{_q(extract.name)} ({typed}, _source_row BIGINT)")
    con.execute(f"create or replace table quarantine.{_q(extract.name)} ({text}, _raw_line VARCHAR, "
                f"_source_row BIGINT, _rules VARCHAR, _columns VARCHAR, _reasons VARCHAR)")


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw; create schema if not exists quarantine; "
                "create schema if not exists meta")
    con.execute("create table if not exists quarantine.issues (extract VARCHAR, source_file VARCHAR, "
                "source_row BIGINT, rule VARCHAR, column_name VARCHAR, value VARCHAR, reason VARCHAR)")


def reference_values(con: duckdb.DuckDBPyConnection, extract: Extract) -> dict[str, list]:
    """Valid keys of the extracts this one references, for those loaded with rows this cycle."""
    params = {}
    for ref_extract, ref_col in set(extract.references.values()):
        exists = _scalar(con, "select count(*) from information_schema.tables where table_schema='raw' "
                             "and table_name=?", [ref_extract])
        if not exists:
            continue
        values = [r[0] for r in con.execute(
            f"select distinct {_q(ref_col)} from raw.{_q(ref_extract)} where {_q(ref_col)} is not null").fetchall()]
        if values:
            params[reference_parameter(ref_extract, ref_col)] = values
    return params


def ingest_extract(con: duckdb.DuckDBPyConnection, name: str, extracts_dir: Path, suite: dict,
                   as_of: date) -> IngestReport:
    """Validate and load one extract into `raw.<name>` / `quarantine.<name>` on `con`."""
    started = time.perf_counter()
    extract = EXTRACTS[name]
    ensure_schemas(con)
    con.execute("delete from quarantine.issues where extract = ?", [name])
    path = find_extract_file(extracts_dir, name)
    if path is None:
        if extract.required:
            raise StructuralError(extracts_dir / f"{name}.csv", f"the required extract '{name}' is missing",
                                  f"Put {name}.csv or {name}.parquet in {extracts_dir}.")
        _create_empty(con, extract)
        return IngestReport(name, "absent", notes=[f"{name} is absent: sections that need it will say 'no data'"],
                            seconds=time.perf_counter() - started)

    header, rejects = stage_file(con, path, extract)
    missing_optional = [c for c in extract.column_names if c not in header]
    extras = type_rows(con, extract, header)
    failures = [type_failures(con, extract)]
    if len(rejects):
        failures.append(pd.DataFrame({"_source_row": rejects["_source_row"], "rule": "csv_reject",
                                      "column": "", "value": "", "reason": rejects["reason"]}))

    # As-of exclusion in SQL (it can be millions of rows for a backtest cycle); GX keeps the
    # same rule in the suite as a guard, and sees only the rows of this cycle.
    in_cycle = "_type_errors is null"
    if extract.event_date:
        as_of_end = gx_parameters(as_of, {})["as_of"].isoformat(sep=" ")
        after = f"{_q(extract.event_date)} > timestamp '{as_of_end}'"
        failures.append(con.execute(
            f"select _source_row, 'after_as_of' as rule, ? as \"column\", "
            f"cast({_q(extract.event_date)} as varchar) as value, ? as reason "
            f"from _typed where {in_cycle} and {after}",
            [extract.event_date, f"dated after the cycle's as-of {as_of}: excluded from this cycle"]).df())
        in_cycle += f" and not coalesce({after}, false)"
    cols = ", ".join(_q(c) for c in extract.column_names)
    df = con.execute(f"select _source_row, {cols} from _typed where {in_cycle}").df()
    df = df.set_index("_source_row", drop=False)
    references = reference_values(con, extract)
    gx_fail, notes = gx_failures(df, suite, gx_parameters(as_of, references), path)
    del df
    failures.append(gx_fail)
    fail = pd.concat(failures, ignore_index=True)
    fail[["rule", "column", "value", "reason"]] = fail[["rule", "column", "value", "reason"]].fillna("")
    fail = fail.astype(
        {"_source_row": "int64", "rule": str, "column": str, "value": str, "reason": str})

    # A row only "after as-of" is excluded from the cycle; any other failure makes it bad data.
    rules_per_row = fail.groupby("_source_row")["rule"].agg(lambda r: set(r))
    after_only = rules_per_row[rules_per_row.apply(lambda r: r == {"after_as_of"})].index
    con.register("_fail", fail)
    _write_raw(con, extract, extras)
    _write_quarantine(con, extract, header, extras, rejects)
    con.execute("insert into quarantine.issues select ?, ?, _source_row, rule, \"column\", value, reason "
                "from _fail order by _source_row, rule", [name, str(path)])
    con.unregister("_fail")

    rows_read = _scalar(con, "select count(*) from _src") + len(rejects)
    rows_loaded = _scalar(con, f"select count(*) from raw.{_q(name)}")
    n_bad = int(rules_per_row.size)
    report = IngestReport(
        name, "loaded", file=str(path), rows_read=rows_read, rows_loaded=rows_loaded,
        rows_quarantined=n_bad - len(after_only), rows_after_as_of=len(after_only),
        failures_by_rule={str(k): int(v) for k, v in fail.groupby("rule")["_source_row"].nunique().items()},
        notes=notes + [f"optional column '{c}' absent: loaded as empty" for c in missing_optional]
        + ([f"extra columns kept as text: {', '.join(extras)}"] if extras else []),
    )
    con.execute("drop table if exists _src; drop table if exists _typed")
    report.seconds = time.perf_counter() - started
    return report


def _write_raw(con, extract: Extract, extras: list[str]) -> None:
    cols = ", ".join(_q(c) for c in extract.column_names + extras)
    con.execute(f"create or replace table raw.{_q(extract.name)} as select {cols}, _source_row from _typed "
                f"where _type_errors is null and _source_row not in (select _source_row from _fail) "
                f"order by _source_row")


def _write_quarantine(con, extract: Extract, header: list[str], extras: list[str], rejects: pd.DataFrame) -> None:
    """Bad rows with their original text, one row per source row, all reasons joined."""
    text_cols = ", ".join(
        (f"s.{_q(c)}" if c in header else f"null::varchar as {_q(c)}") for c in extract.column_names + extras)
    con.register("_rejects_df", rejects)
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
        left join _rejects_df rj using (_source_row)
        order by r._source_row""")
    con.unregister("_rejects_df")


def detect_as_of(extracts_dir: Path, today: date | None = None) -> date:
    """Default cycle date: the last event date in the demand extracts that is not in the future.

    Dates after `today` (the machine's date) are treated as typos and ignored here; the rows
    carrying them are then excluded as "after as-of" by validation.
    """
    today = today or date.today()
    found = []
    with duckdb.connect() as con:
        for name in ("pos_sales", "sales_orders"):
            path = find_extract_file(extracts_dir, name)
            if path is None:
                continue
            col = EXTRACTS[name].event_date
            if path.suffix == ".csv":
                header = read_csv_header(path)
                check_columns(path, EXTRACTS[name], header)
                cols = "{" + ", ".join(f"{_sql_str(h)}: 'VARCHAR'" for h in header) + "}"
                src = (f"read_csv({_sql_str(str(path))}, header=true, auto_detect=false, delim=',', "
                       f"quote='\"', escape='\"', columns={cols}, ignore_errors=true)")
            else:
                src = f"read_parquet({_sql_str(str(path))})"
            value = _scalar(con, f"select max(d) from (select try_cast(trim(cast({_q(col)} as varchar)) as date) d "
                                 f"from {src}) where d <= ?", [today])
            if value is not None:
                found.append(value)
    if not found:
        raise StructuralError(extracts_dir, "no dated demand rows found in pos_sales or sales_orders",
                              "Provide pos_sales or sales_orders with dates, or set SOP_AS_OF.")
    return max(found)
