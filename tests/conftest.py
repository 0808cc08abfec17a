"""Shared fixtures: demo extracts and one full `sop run` per test session (real Dagster, dbt, DuckDB)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
    for key in ("SOP_AS_OF", "SOP_EXTRACTS_DIR", "SOP_DATA_DIR"):
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


def run_cycle(extracts: Path, data: Path, *extra: str) -> CycleRun:
    proc = sop("run", "--extracts", str(extracts), "--data-dir", str(data), *extra)
    return CycleRun(extracts, data, proc.stdout, proc.stderr, proc.returncode)


@pytest.fixture(scope="session")
def demo_extracts(tmp_path_factory) -> Path:
    """Small demo extracts, seed 42 (generated once per session)."""
    from sop_pipeline.demo import generate

    out = tmp_path_factory.mktemp("demo") / "extracts"
    generate(out, size="small", seed=42)
    return out


# Paths with quotes reach SQL (attach, copy, read_parquet), dbt's profile and the report: the
# session's main cycle runs in such a folder so every integration test proves they are quoted.
HOSTILE_DIR_NAME = 'it\'s a "test" dir'


@pytest.fixture(scope="session")
def small_cycle(demo_extracts, tmp_path_factory) -> CycleRun:
    """One full `sop run` on the small demo data, in a data dir named `it's a "test" dir`;
    integration tests read its outputs."""
    run = run_cycle(demo_extracts, tmp_path_factory.mktemp("cycle") / HOSTILE_DIR_NAME)
    assert run.returncode == 0, f"sop run failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    return run


def _copy_some(src: Path, dst: Path, names: list[str] | None = None) -> Path:
    dst.mkdir()
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
    root = tmp_path_factory.mktemp("items_pos")
    extracts = _copy_some(demo_extracts, root / "extracts", ["items", "pos_sales"])
    make_items_hostile(extracts / "items.csv")
    return run_cycle(extracts, root / "data")


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
