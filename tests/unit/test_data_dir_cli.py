"""A data dir the pipeline cannot write is caught up front by the real `sop run`: one line, exit 2.

As root, chmod does not stop writes, so these use places that refuse writes to root too: a file
where the folder should be, a folder under a file, and sysfs (which never lets anyone create a
file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import sop


def _run(data_dir: Path, extracts: Path):
    proc = sop("run", "--extracts", str(extracts), "--data-dir", str(data_dir), timeout=120)
    lines = proc.stderr.strip().splitlines()
    return proc.returncode, lines, proc.stdout


def test_a_file_in_place_of_the_data_dir(tmp_path):
    data = tmp_path / "it's data"
    data.write_text("not a folder")
    code, lines, out = _run(data, tmp_path)
    assert code == 2 and out == ""
    assert lines == [f"sop: data dir {data} is not writable (it is a file, not a folder)"]


def test_a_data_dir_under_a_file(tmp_path):
    (tmp_path / "file").write_text("")
    data = tmp_path / "file" / "data"
    code, lines, _ = _run(data, tmp_path)
    assert code == 2
    assert lines == [f"sop: data dir {data} is not writable (Not a directory)"]


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")
def test_an_existing_data_dir_nobody_may_write(tmp_path):
    code, lines, _ = _run(Path("/sys/kernel"), tmp_path)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("sop: data dir /sys/kernel is not writable ("), lines
    assert "Traceback" not in "\n".join(lines)
