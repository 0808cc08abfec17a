"""Publish the marts for BI: a read-only DuckDB serving file and Parquet copies, atomically.

BI tools read `serving/sop.duckdb` (or `serving/parquet/<table>.parquet`), never the
warehouse. A cycle is published by writing everything aside and then switching:
1. `serving/.sop.duckdb.<id>.tmp` is built and checkpointed, then renamed over
   `serving/sop.duckdb` (`os.replace`, atomic on POSIX). A reader that had the old file
   open keeps reading the old copy; new connections see the new cycle.
2. Parquet files go to `serving/releases/<id>/`; when every file is written, the marker
   `releases/<id>/_COMPLETE` is written last, then the symlink `serving/parquet` is swapped to
   the release (symlink created aside, then renamed). Pruning keeps the current release and
   the newest `KEEP_RELEASES - 1` complete ones before it, for readers still on them; it orders
   releases by the sequence number in their marker, never by directory mtime.
3. History partitions (`serving/history/<table>/cycle=YYYY-MM-DD/`) are staged aside and moved
   into place after the switch.

An older cycle never replaces a newer one (a backfill replays past weeks after the current one was
published): serving/sop.duckdb and the Parquet release are replaced only when the cycle is on or
after the newest published cycle (`newest_published_cycle`: the current release's marker, else
`_publish_info`). An older cycle writes its history partitions only (`PublishReport.served` False,
`note` says so) and leaves the newer cycle served.

A failure before the switch leaves the previous cycle untouched (its temp files are removed).
A process killed mid-publish cannot clean up: the next publish first removes what a killed one
left behind (temp serving files and their `.wal`, staged history dirs, release dirs that were
never switched to). One publish at a time per serving dir (`serving/.publish.lock`).

Paths reach SQL only as bound parameters (`attach ?`, `copy ... to ?`).
`checksum` covers the data only (table names, column names and types, and every row, in a
canonical order), so the same warehouse always publishes the same checksum.
No Dagster import here.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import duckdb

KEEP_RELEASES = 2
PUBLISHED_SCHEMAS = ("marts",)
# Each cycle's copy of these marts is kept under serving/history/<table>/cycle=YYYY-MM-DD/.
HISTORY_MARTS = ("plan_of_record", "decision_log", "kpi_scorecard")
COMPLETE_MARKER = "_COMPLETE"
LOCK_FILE = ".publish.lock"


@dataclass
class PublishReport:
    cycle: str
    serving_file: Path
    parquet_dir: Path
    row_counts: dict[str, int] = field(default_factory=dict)
    checksum: str = ""
    release_id: str = ""
    recovered: list[str] = field(default_factory=list)  # debris of a killed publish, removed first
    served: bool = True  # False: an older cycle than the one served; only its history partitions were written
    newest_cycle: str | None = None  # the newest cycle published before this one (None: first publish)
    note: str = ""


def sql_string(value: str | os.PathLike) -> str:
    """A SQL string literal for `value` (single quotes doubled). Bind parameters where the
    statement allows them; use this only where it does not."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A quoted SQL identifier (double quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def published_tables(con: duckdb.DuckDBPyConnection, schemas=PUBLISHED_SCHEMAS) -> list[tuple[str, str]]:
    placeholders = ", ".join("?" for _ in schemas)
    return [
        tuple(r)
        for r in con.execute(
            f"select table_schema, table_name from information_schema.tables where table_schema in ({placeholders}) "
            f"and table_catalog = current_database() "
            f"order by table_schema, table_name",
            list(schemas),
        ).fetchall()
    ]


def _attach_warehouse(con: duckdb.DuckDBPyConnection, warehouse, schemas) -> None:
    """Attach the warehouse as catalog `wh` and `use` it. A DuckDB warehouse (a path, or a `Warehouse`
    without a dsn) is attached read-only as it is. A PostgreSQL warehouse (a `Warehouse` with a dsn) is
    read through its engine (`PostgresTables.read_arrow`: DuckDB's column types) into an in-memory
    `wh` holding the published schemas and `history`, so the serving file is built the same way from
    either engine."""
    if not getattr(warehouse, "dsn", ""):
        path = getattr(warehouse, "path", warehouse)
        con.execute("attach ? as wh (read_only)", [str(path)])
        con.execute("use wh")
        return
    con.execute("attach ':memory:' as wh")
    with warehouse.tables(read_only=True) as tables:
        for schema in dict.fromkeys([*schemas, "history"]):
            names = tables.table_names(schema)
            if names:
                con.execute(f"create schema if not exists wh.{sql_ident(schema)}")
            for table in names:
                con.register("_published_rows", tables.read_arrow(schema, table))
                try:
                    con.execute(
                        f"create table wh.{sql_ident(schema)}.{sql_ident(table)} as select * from _published_rows"
                    )
                finally:
                    con.unregister("_published_rows")
    con.execute("use wh")


def publish(
    warehouse_path,
    serving_dir: Path,
    cycle: str,
    schemas=PUBLISHED_SCHEMAS,
    on_step: Callable[[str], None] | None = None,
) -> PublishReport:
    """Copy the published schemas to the serving file and Parquet, then switch atomically.

    `warehouse_path`: the DuckDB warehouse file, or the `Warehouse` resource (DuckDB or PostgreSQL;
    `_attach_warehouse`). The serving file is DuckDB whatever the warehouse engine.

    `on_step(name)` is called at each stage ("table:<name>" after each mart is written,
    "staged" when everything is written aside, "switched_file" after the serving file is
    replaced, "switched" after the Parquet symlink is swapped); progress logging, and the tests
    that kill or fail a publish at a given stage, use it.
    """
    step = on_step or (lambda _name: None)
    serving_dir.mkdir(parents=True, exist_ok=True)
    with _publish_lock(serving_dir):
        report = PublishReport(cycle, serving_dir / "sop.duckdb", serving_dir / "parquet")
        report.recovered = recover(serving_dir)
        report.newest_cycle = newest_published_cycle(serving_dir)
        if report.newest_cycle is not None and cycle < report.newest_cycle:
            return _publish_history_only(warehouse_path, serving_dir, report, schemas)
        release_id = f"{cycle}_{uuid.uuid4().hex[:8]}"
        report.release_id = release_id
        tmp_file = serving_dir / f".sop.duckdb.{release_id}.tmp"
        release_dir = serving_dir / "releases" / release_id
        staged_history: list[tuple[Path, Path]] = []
        try:
            release_dir.mkdir(parents=True)
            with duckdb.connect() as con:
                con.execute("attach ? as serving", [str(tmp_file)])
                _attach_warehouse(con, warehouse_path, schemas)
                tables = published_tables(con, schemas)
                for schema, table in tables:
                    target = f"serving.main.{sql_ident(table)}"
                    con.execute(f"create table {target} as select * from {sql_ident(schema)}.{sql_ident(table)}")
                    report.row_counts[table] = int(con.execute(f"select count(*) from {target}").fetchall()[0][0])
                    con.execute(f"copy {target} to ? (format parquet)", [str(release_dir / f"{table}.parquet")])
                    step(f"table:{table}")
                history = [t for _, t in published_tables(con, ("history",))]
                for table in history:  # every cycle kept by the pipeline (warehouse schema history)
                    target = f"serving.main.{sql_ident('history_' + table)}"
                    con.execute(f"create table {target} as select * from history.{sql_ident(table)}")
                    report.row_counts[f"history_{table}"] = int(
                        con.execute(f"select count(*) from {target}").fetchall()[0][0]
                    )
                staged_history = _stage_history(
                    con, serving_dir, cycle, release_id, [t for _, t in tables if t in HISTORY_MARTS]
                )
                report.checksum = data_checksum(con, "serving")
                con.execute(
                    "create table serving.main._publish_info as select ?::varchar as cycle, "
                    "current_timestamp as published_at, ?::varchar as release_id, "
                    "?::varchar as checksum",
                    [cycle, release_id, report.checksum],
                )
                con.execute("checkpoint serving")
                con.execute("detach serving")
            _write_marker(release_dir, cycle, release_id, report.checksum)
            step("staged")
            os.replace(tmp_file, report.serving_file)
            step("switched_file")
            _swap_symlink(report.parquet_dir, release_dir)
            step("switched")
            _commit_history(staged_history)
        except BaseException:
            tmp_file.unlink(missing_ok=True)
            Path(f"{tmp_file}.wal").unlink(missing_ok=True)
            if _current_release(serving_dir) != release_dir.resolve():
                shutil.rmtree(release_dir, ignore_errors=True)
            for staged, _ in staged_history:
                shutil.rmtree(staged, ignore_errors=True)
            raise
        _prune_releases(serving_dir)
    return report


def newest_published_cycle(serving_dir: Path) -> str | None:
    """The cycle (YYYY-MM-DD) serving/ publishes now: the current Parquet release's marker, else the
    serving file's `_publish_info`; None before the first publish."""
    current = _current_release(serving_dir)
    if current is not None:
        try:
            return str(json.loads((current / COMPLETE_MARKER).read_text())["cycle"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    serving_file = serving_dir / "sop.duckdb"
    if not serving_file.exists():
        return None
    try:
        with duckdb.connect(str(serving_file), read_only=True) as con:
            rows = con.execute("select max(cycle) from _publish_info").fetchall()
    except duckdb.Error:
        return None
    return str(rows[0][0]) if rows and rows[0][0] is not None else None


def _publish_history_only(
    warehouse_path, serving_dir: Path, report: PublishReport, schemas=PUBLISHED_SCHEMAS
) -> PublishReport:
    """An older cycle (a backfill's replay): its history partitions only; the newer cycle stays served."""
    report.served = False
    report.note = (
        f"cycle {report.cycle} is older than the published cycle {report.newest_cycle}: kept its history "
        f"partitions only (serving/history/<table>/cycle={report.cycle}/); serving/sop.duckdb and parquet/ "
        f"still publish {report.newest_cycle}"
    )
    release_id = f"{report.cycle}_{uuid.uuid4().hex[:8]}"
    report.release_id = ""
    staged: list[tuple[Path, Path]] = []
    try:
        with duckdb.connect() as con:
            _attach_warehouse(con, warehouse_path, schemas)
            tables = [t for _, t in published_tables(con) if t in HISTORY_MARTS]
            staged = _stage_history(con, serving_dir, report.cycle, release_id, tables, source="marts")
            for table in tables:
                report.row_counts[table] = int(
                    con.execute(f"select count(*) from marts.{sql_ident(table)}").fetchall()[0][0]
                )
        _commit_history(staged)
    except BaseException:
        for tmp, _ in staged:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


# --- dbt build results ----------------------------------------------------------------


@dataclass
class FailedTest:
    """One failed (or errored) dbt test, from run_results.json and the manifest."""

    test: str  # the test's node name
    kind: str  # relationships, not_null, unique, ...
    table: str  # the model the test is attached to (schema.name when known)
    column: str | None
    status: str  # fail | error
    failures: int | None  # rows that failed (None when the test errored)
    message: str  # dbt's message
    to: str | None = None  # relationships: the referenced model
    field: str | None = None  # relationships: the referenced column
    unique_id: str | None = None  # dbt's node id
    example: str | None = None  # one offending value, when the test's rows were read back (assets/dbt.py)

    def describe(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        if self.status == "error":
            first = self.message.strip().splitlines()[0] if self.message.strip() else "error"
            return f"{self.kind} test on {where} could not run: {first} (test {self.test})"
        rows = "?" if self.failures is None else f"{self.failures:,}"
        noun = "row" if self.failures == 1 else "rows"
        if self.kind == "relationships" and self.to:
            return f"{where}: {rows} {noun} with a {self.column} not found in {self.to}.{self.field} (test {self.test})"
        example = f", e.g. {self.example}" if self.example is not None else ""
        return f"{self.kind} test on {where}: {rows} {noun} failed{example} (test {self.test})"


def _ref_name(text: str | None) -> str | None:
    """`ref('stg_erp__items')` -> `stg_erp__items` (other text unchanged)."""
    if not text:
        return text
    inner = text.strip()
    if inner.startswith("ref(") and inner.endswith(")"):
        args = [a.strip().strip("'\"") for a in inner[4:-1].split(",")]
        return args[-1] if args else inner
    return inner


def failed_tests(run_results: dict, manifest: dict | None) -> list[FailedTest]:
    """Every test of a dbt invocation that failed or errored, with its table, column and row count."""
    nodes = (manifest or {}).get("nodes", {})
    out = []
    for result in run_results.get("results", []):
        uid = result.get("unique_id", "")
        if not uid.startswith("test.") or result.get("status") not in ("fail", "error"):
            continue
        node = nodes.get(uid, {})
        meta = node.get("test_metadata") or {}
        kwargs = meta.get("kwargs") or {}
        attached = nodes.get(node.get("attached_node") or "", {})
        table = attached.get("alias") or attached.get("name") or _ref_name(kwargs.get("model")) or "?"
        if attached.get("schema"):
            table = f"{attached['schema']}.{table}"
        out.append(
            FailedTest(
                test=node.get("name") or (uid.split(".")[2] if uid.count(".") >= 2 else uid),
                kind=meta.get("name") or "data",
                table=table,
                column=node.get("column_name") or kwargs.get("column_name"),
                status=result["status"],
                failures=result.get("failures") if result["status"] == "fail" else None,
                message=result.get("message") or "",
                to=_ref_name(kwargs.get("to")),
                field=kwargs.get("field"),
                unique_id=uid,
            )
        )
    return out


def failed_models(run_results: dict, manifest: dict | None) -> list[str]:
    """One line per model (or seed, snapshot) that errored in a dbt invocation: schema.name and
    the first line of dbt's message."""
    nodes = (manifest or {}).get("nodes", {})
    out = []
    for result in run_results.get("results", []):
        uid = result.get("unique_id", "")
        if uid.startswith("test.") or result.get("status") != "error":
            continue
        node = nodes.get(uid, {})
        name = node.get("alias") or node.get("name") or uid.split(".")[-1]
        where = f"{node['schema']}.{name}" if node.get("schema") else name
        lines = (result.get("message") or "").strip().splitlines()
        out.append(f"{uid.split('.')[0]} {where} failed: {lines[0] if lines else 'error'}")
    return out


def build_failure_message(
    step: str,
    failures: list[FailedTest],
    run_results: dict | None = None,
    manifest: dict | None = None,
    fallback: str = "",
) -> str:
    """The one message a failed dbt build gives: every failed test with table, column and rows,
    and every model that errored; `fallback` (dbt's error lines) when dbt reported neither."""
    models = failed_models(run_results or {}, manifest)
    parts = []
    if failures:
        n = len(failures)
        parts.append(f"{n} dbt test{'s' if n != 1 else ''} failed: " + "; ".join(f.describe() for f in failures))
    if models:
        parts.append("; ".join(models))
    if not parts:
        parts.append(f"dbt said: {fallback}" if fallback else "dbt reported no failed test or model; see the dbt log")
    return f"{step} stopped the cycle: {'; '.join(parts)}. Not published: the previous cycle stays in serving/."


# --- checksum -------------------------------------------------------------------------------


def data_checksum(con: duckdb.DuckDBPyConnection, catalog: str, exclude: tuple[str, ...] = ("_publish_info",)) -> str:
    """sha256 over every table of `catalog`.main: its name, column names and types, row count,
    and the md5 of each row's text, sorted (so row order and file layout do not matter)."""
    digest = hashlib.sha256()
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_catalog = ? and table_schema = 'main' "
            "order by table_name",
            [catalog],
        ).fetchall()
        if r[0] not in exclude
    ]
    for table in tables:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns where table_catalog = ? "
            "and table_schema = 'main' and table_name = ? order by ordinal_position",
            [catalog, table],
        ).fetchall()
        relation = f"{sql_ident(catalog)}.main.{sql_ident(table)}"
        n = con.execute(f"select count(*) from {relation}").fetchall()[0][0]
        digest.update(json.dumps([table, columns, n]).encode() + b"\n")
        cursor = con.execute(f"select md5(t::varchar) as h from {relation} as t order by h")
        while rows := cursor.fetchmany(65536):
            digest.update("".join(r[0] for r in rows).encode())
    return digest.hexdigest()


# --- recovery and pruning -------------------------------------------------------------------


@contextmanager
def _publish_lock(serving_dir: Path) -> Iterator[None]:
    """One publish per serving dir. The kernel drops the lock when its holder dies, so a killed
    publish never blocks the next one."""
    with open(serving_dir / LOCK_FILE, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def recover(serving_dir: Path) -> list[str]:
    """Remove what a killed publish left behind; return the names removed (or restored).

    Call with the publish lock held. Removes temp serving files and their `.wal`, temp
    symlinks, staged history dirs, and release dirs never switched to: incomplete ones (no
    marker) and complete ones newer than the current release (killed between marker and switch).
    A history partition a kill left moved aside (`.cycle=X.old` with no `cycle=X`) is restored.
    """
    done: list[str] = []
    if not serving_dir.is_dir():
        return done
    for path in serving_dir.iterdir():
        name = path.name
        if name.startswith(".sop.duckdb.") and (name.endswith(".tmp") or name.endswith(".tmp.wal")):
            path.unlink(missing_ok=True)
            done.append(name)
        elif name.startswith(".parquet.") and path.is_symlink():
            path.unlink(missing_ok=True)
            done.append(name)
    history = serving_dir / "history"
    if history.is_dir():
        for table_dir in (p for p in history.iterdir() if p.is_dir()):
            for path in list(table_dir.iterdir()):
                if not path.name.startswith(".cycle="):
                    continue
                if path.name.endswith(".old"):
                    final = table_dir / path.name[1 : -len(".old")]
                    if not final.exists():
                        os.replace(path, final)
                        done.append(f"history/{table_dir.name}/{final.name} (restored)")
                        continue
                shutil.rmtree(path, ignore_errors=True)
                done.append(f"history/{table_dir.name}/{path.name}")
    releases = serving_dir / "releases"
    if releases.is_dir():
        current = _current_release(serving_dir)
        current_seq = _marker_seq(current) if current else None
        for path in releases.iterdir():
            if not path.is_dir() or path.resolve() == current:
                continue
            seq = _marker_seq(path)
            if seq is None or (current_seq is not None and seq > current_seq):
                shutil.rmtree(path, ignore_errors=True)
                done.append(f"releases/{path.name}")
    return done


def _write_marker(release_dir: Path, cycle: str, release_id: str, checksum: str) -> None:
    """The release's last file: written aside and renamed, so it exists only whole."""
    body = json.dumps(
        {
            "cycle": cycle,
            "release_id": release_id,
            "checksum": checksum,
            "seq": time.time_ns(),
            "files": sorted(p.name for p in release_dir.glob("*.parquet")),
        }
    )
    tmp = release_dir / f".{COMPLETE_MARKER}.tmp"
    with open(tmp, "w") as fh:
        fh.write(body)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, release_dir / COMPLETE_MARKER)


def _marker_seq(release_dir: Path) -> int | None:
    """The completion sequence of a release, or None when it is incomplete."""
    try:
        return int(json.loads((release_dir / COMPLETE_MARKER).read_text())["seq"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _current_release(serving_dir: Path) -> Path | None:
    link = serving_dir / "parquet"
    if not link.is_symlink():
        return None
    return (link.parent / os.readlink(link)).resolve()


def _prune_releases(serving_dir: Path, keep: int = KEEP_RELEASES) -> list[str]:
    """Keep the current release and the newest `keep - 1` complete releases completed before it."""
    releases = serving_dir / "releases"
    current = _current_release(serving_dir)
    if current is None or not releases.is_dir():
        return []
    current_seq = _marker_seq(current)
    older = []
    for path in releases.iterdir():
        seq = _marker_seq(path) if path.is_dir() and path.resolve() != current else None
        if seq is not None and (current_seq is None or seq < current_seq):
            older.append((seq, path))
    removed = []
    for _, path in sorted(older, reverse=True)[max(0, keep - 1) :]:
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed


# --- history and the switch -----------------------------------------------------------------


def _stage_history(
    con: duckdb.DuckDBPyConnection,
    serving_dir: Path,
    cycle: str,
    release_id: str,
    tables: list[str],
    source: str = "serving.main",
) -> list[tuple[Path, Path]]:
    """Write this cycle's history partitions aside (from `source`.<table>): [(staged dir, final dir)]."""
    staged = []
    for table in tables:
        final = serving_dir / "history" / table / f"cycle={cycle}"
        tmp = final.with_name(f".{final.name}.{release_id}")
        tmp.mkdir(parents=True, exist_ok=True)
        con.execute(f"copy {source}.{sql_ident(table)} to ? (format parquet)", [str(tmp / f"{table}.parquet")])
        staged.append((tmp, final))
    return staged


def _commit_history(staged: list[tuple[Path, Path]]) -> None:
    """Replace each cycle partition with its staged copy (a re-run replaces that cycle only)."""
    for tmp, final in staged:
        old = final.with_name(f".{final.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)


def _swap_symlink(link: Path, target: Path) -> None:
    if link.exists() and not link.is_symlink():  # an old plain directory from a manual copy
        shutil.rmtree(link)
    tmp_link = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}")
    tmp_link.symlink_to(target.relative_to(link.parent), target_is_directory=True)
    os.replace(tmp_link, link)
