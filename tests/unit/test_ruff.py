"""`ruff check` and `ruff format --check` pass on the repository (settings in ruff.toml at the repo root)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _ruff_bin() -> str:
    try:
        from ruff.__main__ import find_ruff_bin
    except ImportError:
        pytest.skip("ruff is not installed in this environment: pip install -e '.[dev]' to lint")
    return str(find_ruff_bin())


def test_ruff_check_passes_on_the_repository():
    assert (REPO / "ruff.toml").is_file(), "ruff.toml is missing: the lint rules would be ruff's version defaults"
    result = subprocess.run(
        [_ruff_bin(), "check", "--no-cache", "--output-format", "concise", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"ruff check found problems:\n{result.stdout}{result.stderr}"


def test_ruff_format_check_passes_on_the_repository():
    result = subprocess.run(
        [_ruff_bin(), "format", "--check", "--no-cache", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"ruff format would change these files (run `ruff format .`):\n{result.stdout}"
