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

The values passed between the split, part and combine ops go through the job's `io_manager` (Dagster's
filesystem pickle manager under the instance's storage folder by default; on a cluster, an object-store
IO manager such as dagster-aws's `s3_pickle_io_manager`). The keys are data (the resources with a
changeover matrix, the families of the item master), so the fan-out is dynamic: a new family or line
needs no code or definition change, and a backfill of past weeks fans out over the keys of each week.
"""

from __future__ import annotations

import re
from typing import Iterable

import dagster as dg
import pandas as pd

from sop_pipeline.assets.common import WAREHOUSE_IO

NO_PARTS = "none"  # the one mapping key when there is nothing to fan out (the combine op still runs)


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
