"""Fan-out of the heavy analytics inside a cycle run: one Dagster step per resource (or product family).

An asset that fans out is graph-backed (`dg.graph_asset`): a *split* op reads the asset's inputs from the
warehouse, prepares what every part shares and yields one `dg.DynamicOutput` per key (a resource id or
a family, `mapping_key` = the key made safe for Dagster); a *part* op is mapped over them (one step per
key, e.g. `changeover_estimate__part[M1]` in the run's timeline); a *combine* op collects the parts in
the split's order, concatenates them and writes the asset's table through the warehouse IO manager.
The parts are exactly the per-key loop of the unpartitioned code, so the table is identical (row for
row, same order) to the one-step version: tests/unit/test_fanout.py compares them, and the PostgreSQL
cycle test runs the whole cycle with two processes against the in-process DuckDB cycle.

Where the parts run is the executor's choice, not the asset's:

- `sop run` (default, any warehouse) and the DuckDB default: the in-process executor runs the steps one
  after another (DuckDB has one writer; the parts do not write the warehouse, only the combine op does).
- `sop run --processes N` with a PostgreSQL warehouse: the multiprocess executor runs up to N steps
  at once, so the parts of one asset (and independent assets) run in parallel. The part ops are not in
  the warehouse pool (they only compute), so an instance that limits the pool to 1 still runs them
  concurrently.
- A team server: the job's executor in the UI/daemon is the same multiprocess executor; a k8s or
  Celery executor (deploy/README.md) runs each step, and so each part, in its own pod/worker.

The values passed between the split, part and combine ops go through the IO manager `fanout_io`
(`FANOUT_IO`). On the DuckDB default every step runs in the run's own process, and it is
`HandoffIOManager`: each value is held in memory until its one consumer loads it, then released (Dagster's
in-memory IO manager would hold every part's value - at large the backtest's dense history and series
rows, >1 GB - until the run ends). On PostgreSQL, where steps may run in processes of their own, it is
Dagster's filesystem pickle manager in `<instance storage>/fanout/<run id>` (`fanout_files_io_manager`),
deleted when the run succeeds (`sop run` at once, the `fanout_files_cleanup` sensor for runs the UI or
the daemon launch; a failed run keeps them for a re-execution from failure); on a cluster, an object-store
IO manager such as dagster-aws's `s3_pickle_io_manager` (deploy/). The keys are data (the resources with a
changeover matrix, the families of the item master), so the fan-out is dynamic: a new family or line
needs no code or definition change, and a backfill of past weeks fans out over the keys of each week.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Callable, Iterable, Iterator

import dagster as dg
import numpy as np
import pandas as pd

from sop_pipeline.assets.common import WAREHOUSE_IO

FANOUT_IO = "fanout_io"  # the resource key of the IO manager that hands values from split to parts to combine
NO_PARTS = "none"  # the one mapping key when there is nothing to fan out (the combine op still runs)
ALL_FAMILIES = "all_families"  # the one mapping key of a per-family fan-out that is not split


def mapping_keys(values: Iterable[object]) -> list[tuple[str, object]]:
    """(Dagster mapping key, value) per distinct value, in first-seen order. Mapping keys allow only
    letters, digits and underscores: other characters become `_`, and a key two values would share
    gets the value's position appended, so every value keeps a key of its own."""
    out: list[tuple[str, object]] = []
    seen: set[str] = set()
    for n, value in enumerate(dict.fromkeys(values)):
        key = re.sub(r"[^A-Za-z0-9_]", "_", str(value)) or "_"
        if key in seen:
            key = f"{key}_{n}"
        seen.add(key)
        out.append((key, value))
    return out


def warehouse_ins(*names: str) -> dict[str, dg.In]:
    """Op inputs read whole from the warehouse (the graph asset's inputs, by parameter name)."""
    return {name: dg.In(input_manager_key=WAREHOUSE_IO) for name in names}


def concat_parts(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The parts as one table, in the split's order (empty parts dropped; no part: an empty table)."""
    frames = [p for p in parts if p is not None and len(p)]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)


def let_go(*values: object) -> None:
    """Empty step inputs the op is done with, in place. Dagster holds an op's input values in its own
    dict until the op returns, so rebinding the parameter frees nothing: a DataFrame keeps its
    columns (at large the backtest's history, ~0.4 GB) and a fan-in list keeps every part's value
    (at large the backtest's series rows, ~0.6 GB) while the combine op builds a second copy from
    them. Emptying the object itself - a DataFrame's columns dropped, a list or dict cleared - lets
    the memory go as soon as the op holds no other reference. Only for values the op received as
    its own (loaded for this step, or handed over by `HandoffIOManager`)."""
    for value in values:
        if isinstance(value, pd.DataFrame):
            for column in list(value.columns):  # `del`, not `drop(inplace=True)` (deprecated in pandas 3.1)
                del value[column]
        elif isinstance(value, (list, dict)):
            value.clear()
        elif value is not None:
            raise TypeError(f"let_go: cannot empty a {type(value).__name__} in place")


class HandoffIOManager(dg.IOManager):
    """Values handed from one step to the next inside the run's process: held until their one consumer
    (a part, or the combine op) loads them, then dropped, so a part's inputs and outputs are freed as
    soon as the next step has them. Only for executors that run every step in one process (the DuckDB
    default); a value loaded twice (a re-execution) is an error naming the step."""

    def __init__(self) -> None:
        self._values: dict[tuple, object] = {}

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        self._values[tuple(context.get_identifier())] = obj

    def load_input(self, context: dg.InputContext):
        key = tuple(context.upstream_output.get_identifier())
        if key not in self._values:
            raise dg.Failure(
                f"fan-out value {'/'.join(map(str, key[1:]))} was already handed over or never made in this "
                "process: the fan-out's steps run in one process on the DuckDB warehouse; re-run the cycle"
            )
        return self._values.pop(key)


@dg.io_manager
def handoff_io_manager(_init_context) -> HandoffIOManager:
    return HandoffIOManager()


FANOUT_DIR = "fanout"  # under the Dagster instance's storage folder: <storage>/fanout/<run id>/<step>/<output>


def fanout_files_dir(instance: dg.DagsterInstance) -> Path:
    """Where `fanout_files_io_manager` keeps the fan-out's values of every run of ``instance``."""
    return Path(instance.storage_directory()) / FANOUT_DIR


@dg.io_manager(description="The fan-out's values as pickles under <instance storage>/fanout/<run id>.")
def fanout_files_io_manager(init_context: dg.InitResourceContext):
    """Dagster's filesystem pickles, in a folder of their own per run (`FANOUT_DIR`), so that
    `remove_run_files` can delete a finished run's values and nothing else (the storage folder also
    holds the instance's compute logs)."""
    base = fanout_files_dir(init_context.instance)
    return dg.FilesystemIOManager(base_dir=str(base)).create_io_manager(init_context)


def remove_run_files(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    """Delete the fan-out values of a successful run and of the runs it re-executed (its parent and
    root: a re-execution from failure reads their values, so a failed run keeps them until then).
    At large the backtest's and forecast's values are ~1 GB a run; without this they would pile up
    in a server's instance storage. Returns the run ids whose folder was removed."""
    base = fanout_files_dir(instance)
    removed = []
    for run_id in dict.fromkeys(r for r in (run.run_id, run.parent_run_id, run.root_run_id) if r):
        folder = base / run_id
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(run_id)
    return removed


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="fanout_files_cleanup",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Deletes a successful run's fan-out values (and those of the runs it re-executed) from "
    "<instance storage>/fanout: on a PostgreSQL warehouse the values between a fan-out's split, parts and "
    "combine are pickles, ~1 GB per run at large. A failed run keeps them for a re-execution from failure.",
)
def fanout_files_cleanup(context: dg.RunStatusSensorContext):
    removed = remove_run_files(context.instance, context.dagster_run)
    if not removed:
        return dg.SkipReason(f"run {context.dagster_run.run_id} left no fan-out values (DuckDB hand-off, or gone)")
    context.log.info(f"removed the fan-out values of run(s) {', '.join(removed)}")
    return None


SENSORS = [fanout_files_cleanup]


def fanout_io_manager(warehouse_dsn: str):
    """`fanout_io` for a warehouse: the in-process hand-off on DuckDB, the filesystem pickles (one folder
    per run, deleted when the run succeeds) on PostgreSQL."""
    return fanout_files_io_manager if warehouse_dsn else handoff_io_manager


# executors that run every step in the run's own process: the job's in-process executor, and the one
# `JobDefinition.execute_in_process` swaps in whatever the job's executor (how `sop run` runs on DuckDB)
IN_PROCESS_EXECUTORS = frozenset({dg.in_process_executor.name, "execute_in_process_executor"})


def parts_per_family(context: dg.OpExecutionContext) -> bool:
    """True when the run's steps run in processes of their own (the multiprocess executor of
    `sop run --processes N` and of UI runs on PostgreSQL, a k8s or Celery executor): then the
    backtest is scored in one part per product family, which run side by side. On an in-process
    executor (the DuckDB default) the parts would run one after another, and each family's part
    pays the per-origin fixed cost of the forecast and the scoring again (measured on the small demo,
    5 families: 10.4 -> 16.6 s), so there it is one part holding every family (`family_parts`)."""
    executor = context.job_def.executor_def.name
    if executor in IN_PROCESS_EXECUTORS:
        return False
    if executor == dg.multi_or_in_process_executor.name:
        config = (context.run_config.get("execution") or {}).get("config") or {}
        return "in_process" not in config
    return True


def family_parts(
    families: list[tuple[object, np.ndarray]], part: Callable[[int, np.ndarray], object], whole: object
) -> Iterator[dg.DynamicOutput]:
    """The `parts` outputs of a per-family split: `part(n, rows)` for the n-th family (mapping key: the
    family) when there are several, else the one value `whole` (mapping key `ALL_FAMILIES`)."""
    if len(families) > 1:
        keys = mapping_keys(family for family, _ in families)
        for n, ((key, _), (_, rows)) in enumerate(zip(keys, families)):
            yield dg.DynamicOutput(part(n, rows), output_name="parts", mapping_key=key)
    else:
        yield dg.DynamicOutput(whole, output_name="parts", mapping_key=ALL_FAMILIES)
