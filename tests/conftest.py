"""Shared fixtures: demo extracts and one full `sop run` per test session (real Dagster, dbt, DuckDB).

The whole suite runs on 2 cores in parallel (`make test`: pytest-xdist, one file per work unit), so
the session's expensive fixtures are built once per test session, not once per worker: the first
process to need one builds it under a file lock in the folder the workers share and records it in
a JSON file; the others wait for the lock and read the record (`build_once`). The full cycles the
collected tests need (`small_cycle`, `items_and_pos_only`) start in the background as soon as the
tests are collected, while the tests that need no cycle run; and the files are ordered so that
those tests come first and the longest ones early (`pytest_collection_modifyitems`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.postgres import postgres_server  # noqa: F401  (a private PostgreSQL server)

REPO = Path(__file__).resolve().parents[1]


@dataclass
class CycleRun:
    extracts: Path
    data: Path
    stdout: str
    stderr: str
    returncode: int

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    @property
    def serving(self) -> Path:
        return self.data / "serving" / "sop.duckdb"


def sop(*args: str, env: dict | None = None, timeout: int = 1200) -> subprocess.CompletedProcess:
    """Run the real `sop` command line in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    for key in ("SOP_AS_OF", "SOP_EXTRACTS_DIR", "SOP_DATA_DIR", "DAGSTER_HOME", "SOP_WAREHOUSE"):
        if env is None or key not in env:
            full_env.pop(key, None)
    return subprocess.run(
        [sys.executable, "-m", "sop_pipeline.cli", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# A full cycle takes 2-3 minutes alone on 2 cores; under pytest-xdist several run at once (the
# session's shared ones start together), and a loaded machine stretches them further: the limit
# only catches a hang.
CYCLE_TIMEOUT_S = 3600


def materialize_on_copy(run: CycleRun, tmp_path: Path, assets_def, economics=None):
    """Materialize one asset (multi-asset) through Dagster on a copy of a cycle's warehouse, its
    inputs already there, with the base scenario and `economics` (an `Economics` resource, default
    the defaults); returns (result, the copy's path)."""
    import shutil

    import dagster as dg

    from sop_pipeline.io_manager import WarehouseIOManager
    from sop_pipeline.resources import Economics, ScenarioConfig, Warehouse

    path = tmp_path / "warehouse.duckdb"
    shutil.copy(run.warehouse, path)
    warehouse = Warehouse(path=str(path))
    upstream = [dg.AssetSpec(key) for key in assets_def.dependency_keys]
    result = dg.materialize(
        [assets_def, *upstream],
        raise_on_error=False,
        resources={
            "warehouse": warehouse,
            "warehouse_io_manager": WarehouseIOManager(warehouse=warehouse),
            "scenario": ScenarioConfig(),  # the base cycle
            "economics": economics or Economics(),
        },
    )
    return result, path


def run_cycle(extracts: Path, data: Path, *extra: str) -> CycleRun:
    proc = sop("run", "--extracts", str(extracts), "--data-dir", str(data), *extra, timeout=CYCLE_TIMEOUT_S)
    return CycleRun(extracts, data, proc.stdout, proc.stderr, proc.returncode)


# --------------------------------------------------------------------------- built once per session


def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every process of this test session shares: pytest's base temp dir, or under
    pytest-xdist the session's folder that holds each worker's own (`popen-gw<N>`)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_once(root: Path, name: str, build: Callable[[Path], dict]) -> dict:
    """`build(root / name)` once per test session, whichever process (xdist worker, or a background
    thread of one) asks first; the others wait for it and get the same JSON-able record.

    The lock is an flock on `root/name.lock`, held while building (the kernel drops it if the
    process dies, and the next one to ask then builds again); the record is `root/name.json`. A
    build that raised is recorded too, so every test that needs it fails with the same one line
    instead of building it again."""
    root.mkdir(parents=True, exist_ok=True)
    record = root / f"{name}.json"
    with open(root / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            try:
                outcome = {"value": build(root / name)}
            except Exception as exc:
                outcome = {"error": f"{type(exc).__name__}: {exc}"}
            partial = record.with_suffix(".partial")
            partial.write_text(json.dumps(outcome))
            partial.replace(record)
        outcome = json.loads(record.read_text())
    if "error" in outcome:
        pytest.fail(f"the session's {name} could not be built: {outcome['error']}", pytrace=False)
    return outcome["value"]


def _demo_extracts(workdir: Path) -> dict:
    from sop_pipeline.demo import generate

    generate(workdir / "extracts", size="small", seed=42)
    return {"extracts": str(workdir / "extracts")}


def _cycle_record(run: CycleRun) -> dict:
    return {**asdict(run), "extracts": str(run.extracts), "data": str(run.data)}


def _from_record(record: dict) -> CycleRun:
    return CycleRun(**{**record, "extracts": Path(record["extracts"]), "data": Path(record["data"])})


def shared_demo_extracts(root: Path) -> Path:
    return Path(build_once(root, "demo_extracts", _demo_extracts)["extracts"])


def _small_cycle(root: Path) -> Callable[[Path], dict]:
    def build(workdir: Path) -> dict:
        return _cycle_record(run_cycle(shared_demo_extracts(root), workdir / HOSTILE_DIR_NAME))

    return build


def _items_and_pos_only(root: Path) -> Callable[[Path], dict]:
    def build(workdir: Path) -> dict:
        extracts = _copy_some(shared_demo_extracts(root), workdir / "extracts", ["items", "pos_sales"])
        make_items_hostile(extracts / "items.csv")
        add_winter_item(extracts)
        return _cycle_record(run_cycle(extracts, workdir / "data"))

    return build


# the full cycles that session fixtures share: fixture name -> builder (given the shared root)
SHARED_CYCLES: dict[str, Callable[[Path], Callable[[Path], dict]]] = {
    "small_cycle": _small_cycle,
    "items_and_pos_only": _items_and_pos_only,
}


@pytest.fixture(scope="session")
def demo_extracts(tmp_path_factory) -> Path:
    """Small demo extracts, seed 42 (generated once per session)."""
    return shared_demo_extracts(shared_root(tmp_path_factory))


# Paths with quotes reach SQL (attach, copy, read_parquet), dbt's profile and the report: the
# session's main cycle runs in such a folder so every integration test proves they are quoted.
HOSTILE_DIR_NAME = 'it\'s a "test" dir'


@pytest.fixture(scope="session")
def small_cycle(demo_extracts, tmp_path_factory) -> CycleRun:
    """One full `sop run` on the small demo data, in a data dir named `it's a "test" dir`;
    integration tests read its outputs."""
    root = shared_root(tmp_path_factory)
    run = _from_record(build_once(root, "small_cycle", _small_cycle(root)))
    assert run.returncode == 0, f"sop run failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    return run


@pytest.fixture(scope="module")
def serving(small_cycle):
    """A read-only connection to the session cycle's serving file (a test file may define its own
    `serving`, e.g. on another cycle)."""
    con = duckdb.connect(str(small_cycle.serving), read_only=True)
    yield con
    con.close()


def _copy_some(src: Path, dst: Path, names: list[str] | None = None) -> Path:
    dst.mkdir(parents=True)
    for path in src.iterdir():
        if path.is_file() and (names is None or path.stem in names):
            shutil.copy(path, dst / path.name)
    return dst


@pytest.fixture
def copy_extracts(tmp_path):
    def _copy(src: Path, names: list[str] | None = None) -> Path:
        return _copy_some(src, tmp_path / "extracts", names)

    return _copy


@pytest.fixture(scope="session")
def items_and_pos_only(demo_extracts, tmp_path_factory) -> CycleRun:
    """One full run with only the required extracts (items, pos_sales), shared by the tests of
    the "no data" paths. Its items file is hostile too (HOSTILE_ITEMS): one SKU's key appears
    twice and two descriptions are Latin-1, so the same run proves that a duplicated master
    key and a badly encoded free-text value never stop the cycle."""
    root = shared_root(tmp_path_factory)
    return _from_record(build_once(root, "items_and_pos_only", _items_and_pos_only(root)))


# SKU whose key is duplicated, and SKUs whose description is re-encoded as Latin-1 (with an accent)
HOSTILE_ITEMS = {"duplicate": "SKU0040", "latin1": ("SKU0002", "SKU0003")}


def make_items_hostile(items_csv: Path) -> None:
    lines = items_csv.read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        sku, description, rest = line.split(",", 2) if line.count(",") >= 2 else (line, "", "")
        if sku in HOSTILE_ITEMS["latin1"]:
            line = f"{sku},{description} Caf\u00e9,{rest}"
        out.append(line)
        if sku == HOSTILE_ITEMS["duplicate"]:
            out.append(f"{sku},{description} (second copy),{rest}")
    items_csv.write_bytes(("\n".join(out) + "\n").encode("latin-1"))


# a seasonal line the demo does not have: sold only from December to February, quiet since March at
# the demo's as-of (2026-11-22), so at the cycle's origin it is between seasons, not inactive
WINTER_ITEM = "SKU0099"
WINTER_MONTHS = (12, 1, 2)


def add_winter_item(extracts: Path) -> None:
    """Appends WINTER_ITEM to items.csv and its POS rows (two stores, about 3 a day in its months, a
    fixed seed) to pos_sales.csv, within the POS history's dates (the as-of stays the same)."""
    import numpy as np
    import pandas as pd

    with open(extracts / "items.csv", "ab") as f:
        f.write(f"{WINTER_ITEM},Mulled Wine Spice 500ml,Beverages,Drinks,5.99,3.10,EA,buy,active\n".encode("ascii"))
    dates = pd.read_csv(extracts / "pos_sales.csv", usecols=["date"]).date
    days = pd.date_range(dates.min(), dates.max())
    days = days[days.month.isin(WINTER_MONTHS)]
    rng = np.random.default_rng(20261201)
    rows = [
        f"{d.date()},{store},{WINTER_ITEM},{u},{u * 5.99:.2f}"
        for store in ("S01", "S02")
        for d, u in zip(days, rng.poisson(3.0, len(days)))
        if u > 0
    ]
    with open(extracts / "pos_sales.csv", "a") as f:
        f.write("\n".join(rows) + "\n")


# --------------------------------------------------------------------------- order and prefetch

# Files that hold the suite's longest tests (a full `sop run` of their own, or more): each runs
# first within its group, so the last minutes of a parallel run hold short tests only. An
# ordering hint only: a file not listed runs in its group, in collection order.
LONGEST_FIRST = (
    "test_kpis.py",
    "test_reproducible.py",
    "test_backfill.py",
    "test_replay.py",
    "test_postgres_run.py",
    "test_postgres_warehouse.py",
    "test_dbt_metadata.py",
    "test_publish_failures.py",
    "test_plan_cycles.py",
    "test_docs.py",
    "test_meeting_pack.py",
)


def _needs_shared_cycle(item: pytest.Item) -> bool:
    return any(name in item.fixturenames for name in SHARED_CYCLES)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order whole files (each file stays together, in its own order; xdist hands out whole files),
    longest first, so that no worker waits and the last minutes hold short tests only:

    0. the longest files that need none of the shared cycles (they run while the shared cycles are
       built in the background, from the start of the session),
    1. the other integration / end-to-end files that need none (the cycles finish meanwhile),
    2. the files that need a shared cycle, the longest first,
    3. the unit tests, short ones that fill the end of the run on every worker.

    `--ff` / `--nf` keep their own order."""
    if config.getoption("failedfirst", False) or config.getoption("newfirst", False):
        return
    files: dict[Path, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.path, []).append(item)

    def rank(path: Path) -> tuple:
        hint = LONGEST_FIRST.index(path.name) if path.name in LONGEST_FIRST else len(LONGEST_FIRST)
        if any(_needs_shared_cycle(i) for i in files[path]):
            group = 2
        elif path.parent.name == "unit":
            group = 3
        else:
            group = 0 if path.name in LONGEST_FIRST else 1
        return (group, hint)

    order = sorted(files, key=rank)  # stable: collection order within equal ranks
    items[:] = [item for path in order for item in files[path]]


_prefetch: list[threading.Thread] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start building the shared cycles the collected tests need, each in a background thread
    (a `sop run` subprocess), while the tests that need none run. Every xdist worker collects the
    whole suite and starts the same threads: the first to take a cycle's lock builds it."""
    config = session.config
    if config.option.collectonly or not session.items:
        return
    root = shared_root(config._tmp_path_factory)  # pytest's own TempPathFactory (xdist reads it too)
    for name, builder in SHARED_CYCLES.items():
        if any(name in item.fixturenames for item in session.items):
            thread = threading.Thread(
                target=_prefetch_one, args=(root, name, builder(root)), name=f"prefetch {name}", daemon=True
            )
            thread.start()
            _prefetch.append(thread)


def _prefetch_one(root: Path, name: str, build: Callable[[Path], dict]) -> None:
    try:
        build_once(root, name, build)
    except BaseException:  # pytest.fail's exception: the fixture reports the recorded error
        pass


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Wait for the background builds: a worker that leaves while it builds a cycle would drop it
    for the worker waiting on it (which would then build it again)."""
    for thread in _prefetch:
        thread.join()
