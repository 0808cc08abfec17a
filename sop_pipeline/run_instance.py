"""The ephemeral Dagster instance of `sop run` / `sop backfill` without DAGSTER_HOME: Dagster's in-memory
instance, with an event log that keeps one SQLite connection for its life.

Dagster's `InMemoryEventLogStorage` (what `DagsterInstance.ephemeral()` uses) opens a new connection to
its in-memory SQLite database, and sets two PRAGMAs on it, for every statement it runs: ~14,000 times in
a small cycle (every event stored, every planned asset and check at run creation, each step's input data
versions and each check result's target materialization), at ~0.3-0.5 ms each. This storage runs the
same statements on the connection that Dagster's storage already holds for the database's life, one
transaction per call under the storage's lock as before; the tables, queries and results are Dagster's
own. Which tables and columns exist (asked before every asset check event and asset event) is asked once.
With DAGSTER_HOME set, runs record into that instance unchanged.
"""

import inspect
import sys
from contextlib import contextmanager

import dagster as dg
import sqlalchemy as db
from sqlalchemy.pool import NullPool

# Both speed-ups below lean on Dagster internals (constraints.txt pins the Dagster they were tested
# with). Should a Dagster the user installed move them, `sop run` still runs, on Dagster's own
# ephemeral instance and with its output capture, and says so once on stderr: slower, never broken.
try:
    from dagster._core.storage.event_log import InMemoryEventLogStorage
except ImportError:  # pragma: no cover - only on a Dagster that moved it
    InMemoryEventLogStorage = object


def _fallback(what: str, exc: BaseException | str) -> None:
    reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    print(f"sop: dagster {dg.__version__}: {what} ({reason})", file=sys.stderr)


class HeldConnectionEventLogStorage(InMemoryEventLogStorage):
    """`InMemoryEventLogStorage` whose statements all run on its one held connection."""

    def __init__(self, inst_data=None, preload=None):
        # the schema is created below and never changes: which tables and columns exist is asked once each
        # (Dagster asks before every asset check event and every asset event, each time on a new connection)
        self._tables: dict[str, bool] = {}
        self._asset_key_columns: dict[str, bool] = {}
        super().__init__(inst_data=inst_data, preload=preload)  # creates the database, its tables, a held connection
        # the held connection again, usable from any thread (a step's threads log events too; the lock
        # serializes them): opened before the first one closes, so the shared in-memory database lives on
        created = self._engine, self._held_conn
        self._engine = db.create_engine(created[0].url, poolclass=NullPool, connect_args={"check_same_thread": False})
        self._held_conn = self._engine.connect()
        created[1].close()
        created[0].dispose()
        with self._db_lock, self._held_conn.begin():
            self._held_conn.execute(db.text("PRAGMA foreign_keys=ON;")).close()
        self._tables.clear(), self._asset_key_columns.clear()  # nothing asked while the schema was being built

    def has_table(self, table_name: str) -> bool:
        if table_name not in self._tables:
            self._tables[table_name] = super().has_table(table_name)
        return self._tables[table_name]

    def _has_asset_key_col_on_connection(self, conn, column_name: str) -> bool:
        if column_name not in self._asset_key_columns:
            self._asset_key_columns[column_name] = super()._has_asset_key_col_on_connection(conn, column_name)
        return self._asset_key_columns[column_name]

    @contextmanager
    def _connect(self):
        with self._db_lock:
            conn = self._held_conn
            with conn.begin():
                yield conn


def ephemeral_instance() -> dg.DagsterInstance:
    """`DagsterInstance.ephemeral()` (dagster._core.instance.factory.create_ephemeral_instance) with
    `HeldConnectionEventLogStorage` as its event log; Dagster's own ephemeral instance (with a message on
    stderr) when this Dagster's internals no longer fit."""
    try:
        return _held_connection_instance()
    except Exception as exc:  # an import, a signature or a storage internal that moved
        _fallback("running on its own in-memory instance, without the held event-log connection", exc)
        return dg.DagsterInstance.ephemeral()


def _held_connection_instance() -> dg.DagsterInstance:
    from dagster._core.instance import InstanceType
    from dagster._core.launcher.sync_in_memory_run_launcher import SyncInMemoryRunLauncher
    from dagster._core.run_coordinator import DefaultRunCoordinator
    from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
    from dagster._core.storage.root import TemporaryLocalArtifactStorage
    from dagster._core.storage.runs import InMemoryRunStorage

    return dg.DagsterInstance(
        instance_type=InstanceType.EPHEMERAL,
        local_artifact_storage=TemporaryLocalArtifactStorage(),
        run_storage=InMemoryRunStorage(),
        event_storage=HeldConnectionEventLogStorage(),
        compute_log_manager=NoOpComputeLogManager(),
        run_coordinator=DefaultRunCoordinator(),
        run_launcher=SyncInMemoryRunLauncher(),
    )


@contextmanager
def outputs_not_kept():
    """`JobDefinition.execute_in_process` (how `sop run` runs the cycle in one process) keeps every
    step's output value - every asset's DataFrame, the fan-out's parts - in a dict until the run
    ends, for its result's `output_for_node`, which `sop run` never reads; so everything the cycle
    computed stayed in memory to the end. Inside this context it runs with that capture off
    (`core_execute_in_process(output_capturing_enabled=False)`, the path `execute_job` takes), and each
    value is freed once the IO manager has written it and no later step holds it. The result's
    events, success and materializations are unchanged; `output_for_node` is unavailable.

    On a Dagster whose call no longer fits (checked before the run, and again at the call) the run keeps
    Dagster's capture, more memory but the same results, and a message on stderr says so."""
    kept = "every step's output stays in memory to the end of the run"
    try:
        from dagster._core.execution import execute_in_process as module

        original = module.core_execute_in_process
        fits = "output_capturing_enabled" in inspect.signature(original).parameters
        if not fits:
            _fallback(kept, "core_execute_in_process has no output_capturing_enabled")
    except Exception as exc:
        _fallback(kept, exc)
        fits = False
    if not fits:
        yield
        return

    def without_capture(*args, **kwargs):
        if "output_capturing_enabled" not in kwargs:  # passed positionally: leave the call as it is
            _fallback(kept, "the flag is passed positionally")
            return original(*args, **kwargs)
        return original(*args, **{**kwargs, "output_capturing_enabled": False})

    module.core_execute_in_process = without_capture
    try:
        yield
    finally:
        module.core_execute_in_process = original
