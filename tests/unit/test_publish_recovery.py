"""Publish under hostile conditions, with real processes: a publish SIGKILLed mid-way leaves the
previous cycle readable and the next publish removes its debris; pruning keeps complete releases;
a reader polling while cycles are published only ever sees complete cycles."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from sop_pipeline.publish import COMPLETE_MARKER, KEEP_RELEASES, publish

N_TABLES = 40
ROWS = 2000
REPO = Path(__file__).resolve().parents[2]


def _warehouse(path: Path, cycle_no: int) -> Path:
    """40 marts, every row carrying the cycle number, plus a history mart."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts; create schema if not exists history")
        for i in range(N_TABLES):
            con.execute(
                f"create or replace table marts.t{i:02d} as select ?::int as cycle_no, range as k, "
                f"random() as v from range({ROWS})",
                [cycle_no],
            )
        con.execute(
            "create or replace table marts.plan_of_record as select ?::int as cycle_no, "
            "(date '2026-01-04' + 7 * ?::int) as cycle_id, 'A' as sku",
            [cycle_no, cycle_no],
        )
    return path


def _cycle(n: int) -> str:
    return f"2026-01-{4 + n:02d}"


def _check_complete(serving: Path) -> tuple[int, int]:
    """The cycle numbers of the serving file and of the Parquet release, each checked complete."""
    with duckdb.connect(str(serving / "sop.duckdb"), read_only=True) as con:
        per_table = con.execute(
            " union all ".join(f"select count(*), min(cycle_no), max(cycle_no) from t{i:02d}" for i in range(N_TABLES))
        ).fetchall()
    assert len(set(per_table)) == 1 and per_table[0][0] == ROWS and per_table[0][1] == per_table[0][2], per_table
    release = Path(os.path.realpath(serving / "parquet"))
    files = sorted(release.glob("t*.parquet"))
    assert len(files) == N_TABLES, f"{release.name}: {len(files)} of {N_TABLES} Parquet files"
    rows = duckdb.sql(
        "select count(*), min(cycle_no), max(cycle_no), count(distinct filename) from read_parquet(?, filename=true)",
        params=[[str(f) for f in files]],
    ).fetchall()[0]
    assert rows[0] == N_TABLES * ROWS and rows[1] == rows[2] and rows[3] == N_TABLES, rows
    return per_table[0][1], rows[1]


CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from sop_pipeline.publish import publish
    warehouse, serving, cycle, stop_at, paused = sys.argv[1:6]

    def step(name):
        if name == stop_at:
            Path(paused).write_text(name)
            time.sleep(600)  # the test SIGKILLs this process here

    publish(Path(warehouse), Path(serving), cycle, on_step=step)
""")


def _start_child(warehouse: Path, serving: Path, cycle: str, stop_at: str, paused: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(warehouse), str(serving), cycle, stop_at, str(paused)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"publisher exited {proc.returncode} before pausing: {proc.stderr.read()[-3000:]}")
        assert time.monotonic() < deadline, "publisher never reached its kill point"
        time.sleep(0.02)


def _debris(serving: Path, published: set[str]) -> list[str]:
    """Temp files, staged history and release dirs never switched to (not in `published`)."""
    names = [
        p.name
        for p in serving.iterdir()
        if p.name.startswith(".sop.duckdb.") or (p.name.startswith(".parquet.") and p.is_symlink())
    ]
    names += [f"history/{p.parent.name}/{p.name}" for p in serving.glob("history/*/.cycle=*")]
    names += [f"releases/{p.name}" for p in (serving / "releases").iterdir() if p.name not in published]
    return sorted(names)


def _current(serving: Path) -> str:
    return Path(os.path.realpath(serving / "parquet")).name


@pytest.mark.parametrize("stop_at", ["table:t05", "staged", "switched_file"])
def test_a_publish_killed_midway_leaves_a_readable_cycle_and_the_next_publish_cleans_up(tmp_path, stop_at):
    wh, serving = tmp_path / "w.duckdb", tmp_path / 'it\'s a "test" dir' / "serving"
    publish(_warehouse(wh, 1), serving, _cycle(1))
    published = {_current(serving)}
    publish(_warehouse(wh, 2), serving, _cycle(2))
    assert _check_complete(serving) == (2, 2)
    previous = _current(serving)
    published.add(previous)

    _warehouse(wh, 3)
    paused = tmp_path / "paused"
    child = _start_child(wh, serving, _cycle(3), stop_at, paused)
    try:
        _wait_for(paused, child)
        during = _check_complete(serving)  # readable while the publisher is mid-way
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    after_kill = _check_complete(serving)
    if stop_at == "switched_file":  # the serving file switched, the Parquet symlink not yet
        assert during == after_kill == (3, 2)
    else:
        assert during == after_kill == (2, 2)
    left = _debris(serving, published)
    assert left, "the kill left debris behind (otherwise this test proves nothing)"
    if stop_at == "table:t05":
        assert any(n.endswith(".tmp") for n in left) and any(n.startswith("releases/") for n in left), left
        incomplete = [serving / n for n in left if n.startswith("releases/")][0]
        assert len(list(incomplete.glob("t*.parquet"))) == 6 and not (incomplete / COMPLETE_MARKER).exists()

    report = publish(_warehouse(wh, 4), serving, _cycle(4))
    assert sorted(report.recovered) == left
    current = _current(serving)
    assert _debris(serving, published | {current}) == []
    assert _check_complete(serving) == (4, 4)
    releases = sorted(p.name for p in (serving / "releases").iterdir())
    assert len(releases) == KEEP_RELEASES
    assert sorted(releases) == sorted([previous, current]), (
        "the last complete release before this one is kept for its readers"
    )
    assert all((serving / "releases" / r / COMPLETE_MARKER).exists() for r in releases)
    assert sorted(p.name for p in (serving / "history/plan_of_record").iterdir()) == [
        f"cycle={_cycle(n)}" for n in (1, 2, 4)
    ]  # the killed cycle 3 never reached history


def test_a_kill_while_history_is_moved_into_place_loses_no_cycle(tmp_path):
    """Killed between moving a history partition aside and moving the new one in: the next publish
    puts the old partition back."""
    wh, serving = tmp_path / "w.duckdb", tmp_path / "serving"
    publish(_warehouse(wh, 1), serving, _cycle(1))
    part = serving / "history/plan_of_record" / f"cycle={_cycle(1)}"
    aside = part.with_name(f".{part.name}.old")
    os.replace(part, aside)  # the state _commit_history leaves when killed between its two renames
    report = publish(_warehouse(wh, 2), serving, _cycle(2))
    assert f"history/plan_of_record/{part.name} (restored)" in report.recovered
    assert part.is_dir() and not aside.exists()
    assert duckdb.sql(
        "select cycle_no from read_parquet(?)", params=[str(part / "plan_of_record.parquet")]
    ).fetchall() == [(1,)]


def test_pruning_keeps_complete_releases_by_completion_order_not_mtime(tmp_path):
    wh, serving = tmp_path / "w.duckdb", tmp_path / "serving"
    names = []
    for n in (1, 2, 3):
        publish(_warehouse(wh, n), serving, _cycle(n))
        names.append(_current(serving))
    releases = serving / "releases"
    assert sorted(p.name for p in releases.iterdir()) == sorted(names[1:])
    os.utime(releases / names[1], (1, 1))  # an old mtime does not make the predecessor prunable
    os.utime(releases / names[2], (1, 1))
    publish(_warehouse(wh, 4), serving, _cycle(4))
    assert sorted(p.name for p in releases.iterdir()) == sorted([names[2], _current(serving)])


READER = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    import duckdb
    serving, stop, n_tables, rows = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    seen_file, seen_parquet, errors, reads = set(), set(), [], 0
    while not stop.exists():
        try:
            with duckdb.connect(str(serving / "sop.duckdb"), read_only=True) as con:
                got = con.execute(" union all ".join(
                    f"select count(*), min(cycle_no), max(cycle_no) from t{i:02d}" for i in range(n_tables))).fetchall()
                info = con.execute("select cycle from _publish_info").fetchall()
            if len(set(got)) != 1 or got[0][0] != rows or got[0][1] != got[0][2] or len(info) != 1:
                errors.append(f"serving file mixes cycles or is short: {sorted(set(got))}")
            seen_file.add(got[0][1])
            release = Path(os.path.realpath(serving / "parquet"))  # resolve the symlink once per read
            files = sorted(release.glob("t*.parquet"))
            if len(files) != n_tables:
                errors.append(f"{release.name}: {len(files)} of {n_tables} Parquet files")
                continue
            c = duckdb.sql("select count(*), min(cycle_no), max(cycle_no) from read_parquet(?)",
                           params=[[str(f) for f in files]]).fetchall()[0]
            if c[0] != n_tables * rows or c[1] != c[2]:
                errors.append(f"parquet release {release.name} mixes cycles or is short: {c}")
            seen_parquet.add(c[1])
            reads += 1
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    print(json.dumps({"reads": reads, "errors": errors[:20], "n_errors": len(errors),
                      "file_cycles": sorted(seen_file), "parquet_cycles": sorted(seen_parquet)}))
""")


def test_a_reader_polling_during_publishes_sees_only_complete_cycles(tmp_path):
    wh, serving = tmp_path / "w.duckdb", tmp_path / "serving"
    publish(_warehouse(wh, 1), serving, _cycle(1))
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(serving), str(stop), str(N_TABLES), str(ROWS)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        for n in range(2, 7):
            publish(_warehouse(wh, n), serving, _cycle(n))
        time.sleep(0.5)
    finally:
        stop.write_text("stop")
        out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err[-3000:]
    result = json.loads(out)
    assert result["n_errors"] == 0, result["errors"]
    assert result["reads"] >= 10, result
    assert len(result["file_cycles"]) >= 3 and len(result["parquet_cycles"]) >= 3, (
        f"the reader saw too few cycles to prove anything: {result}"
    )
    assert set(result["file_cycles"]) <= set(range(1, 7)) and result["file_cycles"][-1] == 6
