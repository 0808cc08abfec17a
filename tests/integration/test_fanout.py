"""The fan-out of the heavy analytics (sop_pipeline/assets/fanout.py) changes no number: on the session's
small cycle, the tables the per-resource parts wrote equal what one call over every resource gives
(the unpartitioned code), row for row and in the same order. The split ops run on the cycle's own
warehouse inputs; the one-step results are computed here with the same analytics functions.

The PostgreSQL cycle test (test_postgres_run.py) runs the whole cycle with two processes and compares
every table with the in-process DuckDB cycle.
"""

from __future__ import annotations

import pandas as pd
import pytest

from sop_pipeline.analytics import mps
from sop_pipeline.assets import supply
from sop_pipeline.resources import ScenarioConfig, Warehouse

pytestmark = pytest.mark.integration


def _inputs(small_cycle, names) -> dict[str, pd.DataFrame]:
    keys = supply._ins(*names)
    with Warehouse(path=str(small_cycle.warehouse)).tables(read_only=True) as tables:
        return {name: tables.read(*keys[name].key.path) for name in names}


def _table(small_cycle, table: str) -> pd.DataFrame:
    with Warehouse(path=str(small_cycle.warehouse)).tables(read_only=True) as tables:
        return tables.read("analytics", table)


def _same(fanned: pd.DataFrame, whole: pd.DataFrame, columns: list[str]) -> None:
    """The same rows in the same order (dates compared as dates, numbers to 1e-9)."""
    a, b = fanned[columns].reset_index(drop=True), whole[columns].reset_index(drop=True)
    for c in columns:
        if "week_start" in c or c in ("start", "end", "due"):
            a[c], b[c] = pd.to_datetime(a[c]).astype("datetime64[ns]"), pd.to_datetime(b[c]).astype("datetime64[ns]")
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-9, atol=1e-9)


def test_changeover_estimate_per_resource_equals_one_call_over_every_resource(small_cycle):
    assert small_cycle.returncode == 0
    inputs = _inputs(small_cycle, supply.CHANGEOVER_INPUTS)
    parts = list(supply.changeover_estimate__split(scenario=ScenarioConfig(), **inputs))
    assert len(parts) >= 2, "the demo should fan out over at least two resources with a changeover matrix"
    first = parts[0].value
    whole = supply._changeover_estimate(first, supply._resources(inputs["resources"]))  # every resource
    fanned = _table(small_cycle, "changeover_estimate")
    assert len(whole) and len(fanned) == len(whole)
    own = whole[whole.changeovers_of == whole.resource_id]  # a resource's own matrix; the rest are held (T1, L1)
    assert sorted({p.mapping_key for p in parts}) == sorted(set(own.resource_id))
    assert set(whole.resource_id) > set(own.resource_id)
    _same(fanned, whole, supply.CHANGEOVER_COLUMNS)


def test_production_sequence_per_resource_equals_one_call_over_every_resource(small_cycle):
    assert small_cycle.returncode == 0
    inputs = _inputs(small_cycle, supply.SEQUENCE_INPUTS)
    out = list(supply.sequence__split(scenario=ScenarioConfig(), **inputs))
    parts = [o for o in out if o.output_name == "parts"]
    shared = next(o.value for o in out if o.output_name == "shared")
    assert len(parts) == len(shared["resource_ids"]) >= 2
    whole = supply._sequence(parts[0].value, shared["resource_ids"])  # the one-step loop over every resource
    whole = supply._synchronized(whole, shared["sync"], shared["resource_ids"], shared["weeks"])  # one timetable
    seq = _table(small_cycle, "production_sequence")
    assert len(whole.jobs) and len(seq) == len(whole.jobs)
    _same(seq, whole.jobs, [c for c in mps.SEQUENCE_COLUMNS if c in seq])
    summary = _table(small_cycle, "sequence_summary")
    _same(summary, whole.summary, [c for c in mps.SUMMARY_COLUMNS if c in summary])


def test_concurrent_writers_on_postgres_create_schemas_and_shared_tables_once(postgres_server):
    """Steps of a multiprocess run write at once: each ingest step creates `raw` if missing and writes its
    row of the shared meta.ingest_log. Eight writers started together on a fresh database all succeed
    (before: 'duplicate key value violates unique constraint pg_namespace_nspname_index')."""
    import threading
    import uuid

    from sop_pipeline.warehouse_engines.postgres import PostgresTables, connect

    dsn = postgres_server.create_database(f"fanout_{uuid.uuid4().hex[:8]}")
    start, errors = threading.Barrier(8), []

    def write(n: int) -> None:
        try:
            with connect(dsn) as con:
                tables = PostgresTables(con)
                start.wait()
                tables.replace("raw", f"extract_{n}", pd.DataFrame({"x": [n]}))
                tables.replace_rows(
                    "meta", "log", pd.DataFrame({"extract": [f"e{n}"], "rows": [n]}), "extract", f"e{n}"
                )
                con.commit()
        except Exception as exc:  # collected: the assertion names them
            errors.append(f"{n}: {type(exc).__name__}: {str(exc).splitlines()[0]}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with connect(dsn) as con:
        tables = PostgresTables(con)
        assert sorted(tables.read("meta", "log").extract) == [f"e{n}" for n in range(8)]
        assert all(tables.read("raw", f"extract_{n}").x.tolist() == [n] for n in range(8))
