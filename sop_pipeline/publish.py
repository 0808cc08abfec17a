"""Publish the marts for BI: a read-only DuckDB serving file and Parquet copies, atomically.

BI tools read `serving/sop.duckdb` (or `serving/parquet/<table>.parquet`), never the
warehouse. A cycle is published by writing everything aside and then switching:
1. `serving/.sop.duckdb.<id>.tmp` is built and checkpointed, then renamed over
   `serving/sop.duckdb` (`os.replace`, atomic on POSIX). A reader that had the old file
   open keeps reading the old copy; new connections see the new cycle.
2. Parquet files go to `serving/releases/<id>/`, then the symlink `serving/parquet` is
   swapped to it (symlink created aside, then renamed). Older releases are pruned, keeping
   the last `KEEP_RELEASES` for readers still on them.
A failure before the switch leaves the previous cycle untouched (temp files are removed).
No Dagster import here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

KEEP_RELEASES = 2
PUBLISHED_SCHEMAS = ("marts",)
# Each cycle's copy of these marts is kept under serving/history/<table>/cycle=YYYY-MM-DD/.
HISTORY_MARTS = ("plan_of_record", "decision_log", "kpi_scorecard")


@dataclass
class PublishReport:
    cycle: str
    serving_file: Path
    parquet_dir: Path
    row_counts: dict[str, int] = field(default_factory=dict)
    checksum: str = ""


def published_tables(con: duckdb.DuckDBPyConnection, schemas=PUBLISHED_SCHEMAS) -> list[tuple[str, str]]:
    placeholders = ", ".join("?" for _ in schemas)
    return [tuple(r) for r in con.execute(
        f"select table_schema, table_name from information_schema.tables where table_schema in ({placeholders}) "
        f"and table_catalog = current_database() "
        f"order by table_schema, table_name", list(schemas)).fetchall()]


def publish(warehouse_path: Path, serving_dir: Path, cycle: str, schemas=PUBLISHED_SCHEMAS,
            _fail_before_switch: bool = False) -> PublishReport:
    """Copy the published schemas to the serving file and Parquet, then switch atomically.

    `_fail_before_switch` exists for the test that proves a failed publish leaves the previous
    cycle readable.
    """
    serving_dir.mkdir(parents=True, exist_ok=True)
    release_id = f"{cycle}_{uuid.uuid4().hex[:8]}"
    tmp_file = serving_dir / f".sop.duckdb.{release_id}.tmp"
    release_dir = serving_dir / "releases" / release_id
    report = PublishReport(cycle, serving_dir / "sop.duckdb", serving_dir / "parquet")
    staged_history: list[tuple[Path, Path]] = []
    try:
        release_dir.mkdir(parents=True)
        digest = hashlib.sha256()
        with duckdb.connect() as con:
            con.execute(f"attach '{warehouse_path}' as wh (read_only)")
            con.execute(f"attach '{tmp_file}' as serving")
            con.execute("use wh")
            tables = published_tables(con, schemas)
            for schema, table in tables:
                con.execute(f'create table serving.main."{table}" as select * from "{schema}"."{table}"')
                n = con.execute(f'select count(*) from serving.main."{table}"').fetchall()[0][0]
                report.row_counts[table] = int(n)
                pq = release_dir / f"{table}.parquet"
                con.execute(f"copy serving.main.\"{table}\" to '{pq}' (format parquet)")
                digest.update(table.encode() + b"\0" + pq.read_bytes())
            history = [t for s_, t in published_tables(con, ("history",))]
            for table in history:  # every cycle kept by the pipeline (warehouse schema history)
                con.execute(f'create table serving.main."history_{table}" as select * from history."{table}"')
                report.row_counts[f"history_{table}"] = int(
                    con.execute(f'select count(*) from serving.main."history_{table}"').fetchall()[0][0])
            staged_history = _stage_history(con, serving_dir, cycle, release_id,
                                            [t for _, t in tables if t in HISTORY_MARTS])
            con.execute("create table serving.main._publish_info as select ?::varchar as cycle, "
                        "current_timestamp as published_at, ?::varchar as release_id, ?::varchar as checksum",
                        [cycle, release_id, digest.hexdigest()])
            con.execute("checkpoint serving")
            con.execute("detach serving")
        report.checksum = digest.hexdigest()
        if _fail_before_switch:
            raise RuntimeError("simulated failure before the switch")
        os.replace(tmp_file, report.serving_file)
        _swap_symlink(report.parquet_dir, release_dir)
        _commit_history(staged_history)
    except BaseException:
        tmp_file.unlink(missing_ok=True)
        Path(f"{tmp_file}.wal").unlink(missing_ok=True)
        shutil.rmtree(release_dir, ignore_errors=True)
        for staged, _ in staged_history:
            shutil.rmtree(staged, ignore_errors=True)
        raise
    _prune_releases(serving_dir / "releases", keep=release_dir)
    return report


def _stage_history(con: duckdb.DuckDBPyConnection, serving_dir: Path, cycle: str, release_id: str,
                   tables: list[str]) -> list[tuple[Path, Path]]:
    """Write this cycle's history partitions aside: [(staged dir, final dir)]."""
    staged = []
    for table in tables:
        final = serving_dir / "history" / table / f"cycle={cycle}"
        tmp = final.with_name(f".{final.name}.{release_id}")
        tmp.mkdir(parents=True, exist_ok=True)
        con.execute(f"copy serving.main.\"{table}\" to '{tmp / (table + '.parquet')}' (format parquet)")
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


def _prune_releases(releases: Path, keep: Path) -> None:
    old = sorted((p for p in releases.iterdir() if p.is_dir() and p != keep), key=lambda p: p.stat().st_mtime)
    for path in old[: max(0, len(old) - (KEEP_RELEASES - 1))]:
        shutil.rmtree(path, ignore_errors=True)
