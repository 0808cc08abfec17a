"""The extracts sensor's decision (sop_pipeline.ingest.arrival.decide): complete, settled, new."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sop_pipeline.ingest.arrival import (
    Cursor,
    FileStat,
    content_hash,
    decide,
    extract_files,
    missing_required,
    snapshot,
)

NOW = 1_800_000_000 * 10**9  # ns
OLD = NOW - 3600 * 10**9


def _files(*names: str, mtime_ns: int = OLD, size: int = 100) -> list[FileStat]:
    return [FileStat(n, size, mtime_ns) for n in names]


def _hasher(calls: list):
    def h(names):
        calls.append(list(names))
        return "h-" + "-".join(names)

    return h


def _settled(files, cursor=None, calls=None):
    """Two ticks on the same folder: the second sees it unchanged."""
    calls = [] if calls is None else calls
    first = decide("/x", files, cursor or Cursor(), NOW, _hasher(calls))
    return first, decide("/x", files, first.cursor, NOW + 30 * 10**9, _hasher(calls))


def test_missing_folder_says_so():
    d = decide("/nowhere", None, Cursor(launched=["a"]), NOW, _hasher([]))
    assert d.run_key is None and "extracts folder /nowhere does not exist" in d.skip_reason
    assert d.cursor.launched == ["a"]


def test_missing_required_extracts_are_named():
    d = decide("/x", _files("pos_sales.csv", "bom.csv", "notes.txt"), Cursor(), NOW, _hasher([]))
    assert d.run_key is None
    assert "items (items.csv or items.parquet) missing" in d.skip_reason
    assert "2 of" in d.skip_reason
    d = decide("/x", _files("items.csv"), Cursor(), NOW, _hasher([]))
    assert "one of pos_sales or sales_orders (demand history) missing" in d.skip_reason
    assert missing_required({"items", "sales_orders"}) == []


def test_one_file_per_extract():
    d = decide("/x", _files("items.csv", "items.parquet", "pos_sales.csv"), Cursor(), NOW, _hasher([]))
    assert "items.csv and items.parquet both exist" in d.skip_reason
    assert extract_files(_files("items.csv", "items.csv.part", "x_items.csv", "pos_sales.parquet")) == {
        "items": ["items.csv"],
        "pos_sales": ["pos_sales.parquet"],
    }


def test_recently_modified_file_means_still_being_written():
    files = _files("items.csv", "pos_sales.csv") + [FileStat("sales_orders.csv.part", 10, NOW - 5 * 10**9)]
    d = decide("/x", files, Cursor(), NOW, _hasher([]))
    assert d.run_key is None
    assert "still being written" in d.skip_reason and "sales_orders.csv.part (modified 5 s ago)" in d.skip_reason
    future = _files("items.csv", "pos_sales.csv", mtime_ns=NOW + 120 * 10**9)
    assert "in the future" in decide("/x", future, Cursor(), NOW, _hasher([])).skip_reason


def test_size_change_between_ticks_waits_even_when_mtimes_are_old():
    # a writer that keeps old modification times (cp -p): only the size shows the change
    first = decide("/x", _files("items.csv", "pos_sales.csv", size=100), Cursor(), NOW, _hasher([]))
    assert first.run_key is None and "differ from the previous check" in first.skip_reason
    second = decide("/x", _files("items.csv", "pos_sales.csv", size=200), first.cursor, NOW, _hasher([]))
    assert second.run_key is None and "differ from the previous check" in second.skip_reason
    third = decide("/x", _files("items.csv", "pos_sales.csv", size=200), second.cursor, NOW, _hasher([]))
    assert third.run_key is not None


def test_settled_complete_set_launches_once_with_the_hash_as_run_key():
    calls = []
    files = _files("items.csv", "pos_sales.csv", "bom.csv", "readme.txt")
    first, second = _settled(files, calls=calls)
    assert first.run_key is None
    assert second.run_key == "h-bom.csv-items.csv-pos_sales.csv" and second.skip_reason is None
    assert second.files == ("bom.csv", "items.csv", "pos_sales.csv")  # readme.txt is not part of the set
    third = decide("/x", files, second.cursor, NOW + 60 * 10**9, _hasher(calls))
    assert third.run_key is None and third.skip_reason.startswith("already processed")
    assert calls == [["bom.csv", "items.csv", "pos_sales.csv"]]  # hashed once, then from the cursor


def test_new_content_launches_again_and_old_content_does_not():
    a = _files("items.csv", "pos_sales.csv", size=100)
    b = _files("items.csv", "pos_sales.csv", size=101)
    hashes = iter(["hash-a", "hash-b", "hash-a"])
    cur = Cursor()
    launched = []
    for files in (a, b, a):
        for _ in range(2):
            d = decide("/x", files, cur, NOW, lambda names: next(hashes))
            cur = d.cursor
            if d.run_key:
                launched.append(d.run_key)
    assert launched == ["hash-a", "hash-b"]
    assert cur.launched == ["hash-a", "hash-b"]


def test_cursor_round_trips_and_survives_garbage():
    c = Cursor("fp", "h", ["x", "y"])
    assert Cursor.from_json(c.to_json()) == c
    assert Cursor.from_json("not json") == Cursor()
    assert Cursor.from_json(None) == Cursor()
    assert Cursor.from_json("[1, 2]") == Cursor()


def test_snapshot_and_content_hash_on_real_files(tmp_path: Path):
    assert snapshot(tmp_path / "missing") is None
    (tmp_path / "items.csv").write_text("sku\nA\n")
    (tmp_path / "pos_sales.csv").write_text("date\n")
    (tmp_path / "_truth").mkdir()
    (tmp_path / "_truth" / "x.csv").write_text("ignored")
    files = snapshot(tmp_path)
    assert [f.name for f in files] == ["items.csv", "pos_sales.csv"]
    h1 = content_hash(tmp_path, ["pos_sales.csv", "items.csv"])
    assert h1 == content_hash(tmp_path, ["items.csv", "pos_sales.csv"]) and len(h1) == 64
    old = time.time() - 3600
    os.utime(tmp_path / "items.csv", (old, old))  # same bytes, other mtime: same hash
    assert content_hash(tmp_path, ["items.csv", "pos_sales.csv"]) == h1
    (tmp_path / "items.csv").write_text("sku\nB\n")  # same size, other bytes: other hash
    assert content_hash(tmp_path, ["items.csv", "pos_sales.csv"]) != h1
