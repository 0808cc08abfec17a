"""The multiprocess executor's fork server, warmed once per run so a step's process does not rebuild the
job (start-up 5-9 s before, ~1.2 s median measured on medium at load 8-20) (issue 15 item 4).

`sop run --processes N` runs the cycle on Dagster's multiprocess executor with `start_method:
forkserver`: Python starts one fork server per launching process, which imports the
`preload_modules` (`definitions.FORKSERVER_PRELOAD`, this module last), and every step's process is
forked from it. What a step's process does before its step starts (dagster 1.13,
`MultiprocessExecutorChildProcessCommand.execute`): open the Dagster instance from its ref (which
imports the instance's storage classes: ~2 s of SQLAlchemy/alembic imports for the default SQLite
storage), build the execution plan and the run's context from the reconstructable job, i.e. call
`definitions.cycle_job(env)`, which built the whole code location again (~1-3 s, twice per step:
the plan and the context each ask for it). Measured on the small cycle at load ~7: 5-7 s a step.

Importing this module in the fork server does that work once, for every step the run forks:

- the run's settings and instance ref come from a file that `warm_for` writes around the launch
  (JSON, `<temp dir>/sop-forkserver-<uid>-<launching pid>.json`, removed again after the launch): the
  fork server is started by the launching process during the launch, so it finds the file by its
  parent's process id. No environment variable is set: the package never mutates `os.environ`;
- `cycle_job(env)` builds the job for those settings, and `definitions.cycle_job` keeps it
  (one per distinct settings), so a forked step gets it without rebuilding; the reconstructable
  job of the run (and its asset subset, for `sop run --groups`) resolves it here, so Dagster's own
  cache of it (`ReconstructableJob.get_definition`) is filled, and its run config schema built;
- the instance's storage classes (run, event log, schedule storage, compute log manager) are
  imported, so opening the instance in a step only connects.

A step whose settings differ from the warmed ones (another run from the same launching process)
just builds its own job: the warm-up changes how long a step takes to start, never what it runs.
Nothing here may raise: the fork server treats any error but ImportError in a preloaded module as
fatal, so a failed warm-up is reported in one line on stderr and the steps build what they need.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator


def spec_path(launcher_pid: int) -> Path:
    """Where the process `launcher_pid` leaves the run it launches for its fork server."""
    return Path(tempfile.gettempdir()) / f"sop-forkserver-{os.getuid()}-{launcher_pid}.json"


@contextlib.contextmanager
def warm_for(settings_env: dict[str, str], instance, selection=None) -> Iterator[None]:
    """While the block runs, the fork server that the launch starts warms up for these settings, this
    Dagster instance and this asset selection (None: the whole job): the run is written to
    `spec_path(<this process>)` and removed again after the block."""
    from dagster._serdes import serialize_value

    run = {
        "env": settings_env,
        "instance_ref": serialize_value(instance.get_ref()),
        "selection": None if selection is None else [list(key.path) for key in selection],
    }
    path = spec_path(os.getpid())
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(run))
    partial.replace(path)  # the fork server never reads half a file
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _import_storage(instance_ref_json: str) -> None:
    """Import the storage classes the instance ref names (what `DagsterInstance.from_ref` imports)."""
    from dagster._core.instance.ref import InstanceRef
    from dagster._serdes import deserialize_value

    ref = deserialize_value(instance_ref_json, InstanceRef)
    for name in dir(ref):
        data = getattr(ref, name, None)
        module = getattr(data, "module_name", None)
        if name.endswith("_data") and isinstance(module, str):
            importlib.import_module(module)
    importlib.import_module("dagster._core.storage.base_storage")


def warm(launcher_pid: int | None = None) -> None:
    """Build the run's job and import its instance's storage, in the fork server: the run the
    launching process (the fork server's parent, by default) left in `spec_path`. A no-op without
    that file, e.g. when this module is imported anywhere else."""
    try:
        spec = spec_path(os.getppid() if launcher_pid is None else launcher_pid).read_text()
    except OSError:
        return
    try:
        run = json.loads(spec)
        _import_storage(run["instance_ref"])
        import dagster as dg

        # the reconstructable job the steps get (as `sop run` builds it): its definition is kept by
        # Dagster per reconstructable job (ReconstructableJob.get_definition, an lru_cache), so a
        # forked step finds the job, its asset subset and its run config schema built
        job = dg.build_reconstructable_job(
            "sop_pipeline.definitions", "cycle_job", reconstructable_kwargs={"env": run["env"]}
        )
        if run.get("selection") is not None:
            # a frozenset, as the run stores it: the cache key hashes a set and a frozenset differently
            job = job.get_subset(asset_selection=frozenset(dg.AssetKey(path) for path in run["selection"]))
        job.get_definition().run_config_schema  # noqa: B018 - a property that builds and keeps the schema
    except Exception as exc:  # never fatal to the fork server; the steps build what they need
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"sop: fork server warm-up skipped ({type(exc).__name__}: {first})", file=sys.stderr)


warm()
