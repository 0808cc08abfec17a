"""`sop sequence`: good matrices, --tour, --start, JSON output and every bad-matrix class -> exit 2."""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys

import numpy as np
import pytest

from sop_pipeline.commands import sequence as cmd

KEYS = ["clear", "amber", "brown", "black", "red"]


def write(tmp_path, text: str, name: str = "m.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def matrix_csv(keys, values, corner="from/to") -> str:
    lines = [",".join([corner, *keys])]
    lines += [",".join([k, *[str(v) for v in row]]) for k, row in zip(keys, values)]
    return "\n".join(lines) + "\n"


def run(argv) -> int:
    parser = argparse.ArgumentParser(prog="sop")
    cmd.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sequence", *argv])
    return cmd.run(args)


def values(n=5, seed=0):
    rng = np.random.default_rng(seed)
    m = rng.integers(1, 60, (n, n))
    np.fill_diagonal(m, 0)
    return m


def best(m, tour, start=None):
    n = len(m)
    out = None
    for p in itertools.permutations(range(n)):
        if (tour and p[0] != 0) or (start is not None and p[0] != start):
            continue
        c = sum(m[a][b] for a, b in zip(p, p[1:])) + (m[p[-1]][p[0]] if tour else 0)
        out = c if out is None else min(out, c)
    return out


def test_good_matrix_json(tmp_path, capsys):
    m = values()
    path = write(tmp_path, matrix_csv(KEYS, m))
    assert run(["--changeovers", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(out["sequence"]) == sorted(KEYS)
    assert out["total_changeover"] == best(m, tour=False)
    assert out["optimal"] is True and isinstance(out["seconds"], float)


def test_tour_and_start(tmp_path, capsys):
    m = values(seed=3)
    path = write(tmp_path, matrix_csv(KEYS, m))
    assert run(["--changeovers", str(path), "--tour", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sequence"][0] == "clear" and out["total_changeover"] == best(m, tour=True)
    assert run(["--changeovers", str(path), "--start", "brown", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sequence"][0] == "brown" and out["total_changeover"] == best(m, tour=False, start=2)


def test_text_output_and_empty_diagonal(tmp_path, capsys):
    text = "item,A,B,C\nA,,10,20\nB,5,,10\nC,1,2,-\n"
    assert run(["--changeovers", str(write(tmp_path, text)), "--tour"]) == 0
    out = capsys.readouterr().out
    assert "tour (3 items): A -> " in out and out.splitlines()[0].endswith("-> A")
    assert "total changeover: 21 (proven optimal" in out  # A->B->C->A = 10 + 10 + 1 (A->C->B->A = 27)


def test_columns_in_other_order_are_aligned(tmp_path, capsys):
    text = "x,B,A\nA,10,0\nB,0,1\n"
    assert run(["--changeovers", str(write(tmp_path, text)), "--start", "B", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sequence"] == ["B", "A"] and out["total_changeover"] == 1


@pytest.mark.parametrize(
    "text,needle",
    [
        ("x,A,B,C\nA,0,1,2\nB,1,0,2\n", "not square"),
        ("x,A,B\nA,0,1\nC,1,0\n", "row(s) C have no column"),
        ("x,A,B\nA,0,-3\nB,1,0\n", "row 'A', column 'B' is negative"),
        ("x,A,B\nA,0,fast\nB,1,0\n", "row 'A', column 'B' is not a number"),
        ("x,A,B\nA,0,1\nB,,0\n", "row 'B', column 'A' is not a number"),
        ("x,A,B\nA,0,1\nB,1\n", "row 'B' has 1 value"),
        ("x,A,A\nA,0,1\nA,1,0\n", "appears twice"),
        ("", "empty"),
    ],
)
def test_bad_matrices_exit_2_with_one_line(tmp_path, capsys, text, needle):
    path = write(tmp_path, text)
    assert run(["--changeovers", str(path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and err.startswith("sop sequence: ")


def test_unknown_start_and_missing_file_exit_2(tmp_path, capsys):
    path = write(tmp_path, matrix_csv(KEYS, values()))
    assert run(["--changeovers", str(path), "--start", "purple"]) == 2
    assert "--start 'purple' is not an item" in capsys.readouterr().err
    assert run(["--changeovers", str(tmp_path / "nope.csv")]) == 2
    assert "not found" in capsys.readouterr().err


def test_module_entry_point(tmp_path):
    path = write(tmp_path, matrix_csv(KEYS, values()))
    proc = subprocess.run(
        [sys.executable, "-m", "sop_pipeline.commands.sequence", "--changeovers", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["sequence"]


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cmd.main(["--help"])
    assert exit_info.value.code == 0
    helptext = capsys.readouterr().out
    assert "usage: sop sequence" in helptext
    for option in ("--changeovers", "--start", "--tour", "--time-limit", "--json", "--seed"):
        assert option in helptext
