"""One open DuckDB database per warehouse file for an in-process run (`sop run`, `sop backfill`).

Opening the warehouse file costs ~60 ms (DuckDB loads the catalog: ~500 tables and views), and
closing a connection that wrote costs a checkpoint on top. The IO manager, ingest and the asset
checks open a short connection for every input, output and check: ~320 per small cycle, ~20 s of
a ~80 s job. While `hold(path)` is active, `Warehouse.tables()` / `connect()` hand out cursors of
one database kept open for the run instead (each cursor is its own DuckDB connection: its own
transaction, closed when the block ends), so the file is opened once.

The file is released (closed, checkpointed) whenever something outside this process's database
needs it:

- `suspended(path)`: around a dbt step (the dbt process opens the file itself) and publish (which
  attaches the file read-only in a second in-memory database); inside it connections are short
  again, as without a hold;
- after a cursor's block, when the open database holds more than `MAX_HELD_BYTES` of DuckDB
  memory (a large extract or table read): memory stays bounded as with short connections;
- when the hold ends (the end of the run, failed or not).

Only one process uses the file during such a run (one run at a time, the in-process executor runs
one step at a time), so the run's process keeping the file's lock between steps changes nothing
for other writers; a BI tool reads `serving/sop.duckdb`, never the warehouse. Runs launched from
the Dagster UI (a process per step) do not hold: each step opens short connections as before.

Settings: a read-only request gets a cursor of the read-write database (DuckDB refuses a second
configuration of the same file in one process); `threads` is a database-wide setting, so each
cursor sets it as a fresh connection had it (1, or DuckDB's default for `parallel=True`).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import duckdb

MAX_HELD_BYTES = 256 * 1024 * 1024  # DuckDB memory the held database may keep between cursors

_lock = threading.RLock()
_active: dict[str, int] = {}  # file -> nesting depth of hold() (suspended() sets it to 0)
_open: dict[str, duckdb.DuckDBPyConnection] = {}  # file -> its held database


def _key(path) -> str:
    return str(Path(path).resolve())


def holding(path) -> bool:
    """Whether connections to `path` are cursors of a held database (inside `hold`, not suspended)."""
    return _active.get(_key(path), 0) > 0


@contextmanager
def hold(path) -> Iterator[None]:
    """Keep `path` open between connections until the block ends (nested holds share it)."""
    key = _key(path)
    with _lock:
        _active[key] = _active.get(key, 0) + 1
    try:
        yield
    finally:
        with _lock:
            _active[key] = max(_active.get(key, 1) - 1, 0)
            if not _active[key]:
                del _active[key]
                release(path)


@contextmanager
def suspended(path) -> Iterator[None]:
    """Close the held database of `path` (checkpointed) and open short connections until the block
    ends: another process or another in-process DuckDB database is about to open the file."""
    key = _key(path)
    with _lock:
        depth = _active.pop(key, 0)
        release(path)
    try:
        yield
    finally:
        with _lock:
            if depth:
                _active[key] = _active.get(key, 0) + depth


def release(path) -> None:
    """Close the held database of `path`, if open (DuckDB checkpoints it)."""
    with _lock:
        con = _open.pop(_key(path), None)
    if con is not None:
        con.close()


@contextmanager
def cursor(
    path, open_database: Callable[[], duckdb.DuckDBPyConnection], threads: int, parallel: bool
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of the held database of `path`, opened with `open_database()` (read-write) the first time."""
    key = _key(path)
    with _lock:
        database = _open.get(key)
        if database is None:
            database = _open[key] = open_database()
        con = database.cursor()
    try:
        con.execute("reset threads" if parallel else f"set threads = {int(threads)}")
        yield con
    finally:
        try:
            used = con.execute("select coalesce(sum(memory_usage_bytes), 0) from duckdb_memory()").fetchone()[0]
        except duckdb.Error:
            used = 0
        con.close()
        if used > MAX_HELD_BYTES:
            release(path)
