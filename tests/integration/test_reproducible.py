"""Same extracts, same warehouse: a second full `sop run` on the small demo publishes serving
tables identical row for row (a hash over each table's sorted rows) and the same data checksum.

Plan flags compare with a tolerance, the forecast is pinned to deterministic LightGBM, and the
publish checksum covers the data only, so nothing in the serving file depends on the run.
"""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import run_cycle

pytestmark = pytest.mark.integration

# columns that record when and as what a run published, not what it published
RUN_STAMPS = {"_publish_info": ("published_at", "release_id")}


def table_fingerprints(serving) -> dict[str, tuple[int, str]]:
    """Row count and md5 over the sorted text of every row, per serving table."""
    with duckdb.connect(str(serving), read_only=True) as con:
        tables = [
            r[0] for r in con.execute("select table_name from information_schema.tables order by table_name").fetchall()
        ]
        out = {}
        for table in tables:
            cols = [
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns where table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
                if r[0] not in RUN_STAMPS.get(table, ())
            ]
            select = ", ".join('"' + c.replace('"', '""') + '"' for c in cols)
            out[table] = con.execute(
                f"select count(*), md5(coalesce(string_agg(x, chr(10) order by x), '')) "
                f'from (select cast(row({select}) as varchar) as x from "{table}")'
            ).fetchone()
    return out


def test_two_runs_on_the_same_extracts_publish_identical_tables(demo_extracts, tmp_path, request):
    # this test's own run first, the session's after (getfixturevalue): the run need not wait for
    # the session's cycle, which is built meanwhile (tests/conftest.py)
    again = run_cycle(demo_extracts, tmp_path / "data")
    assert again.returncode == 0, f"{again.stdout[-3000:]}\n{again.stderr[-3000:]}"
    small_cycle = request.getfixturevalue("small_cycle")
    assert small_cycle.extracts == demo_extracts
    first, second = table_fingerprints(small_cycle.serving), table_fingerprints(again.serving)
    assert set(first) == set(second)
    different = sorted(t for t in first if first[t] != second[t])
    assert not different, f"tables that differ between two runs: {different}"
    with (
        duckdb.connect(str(small_cycle.serving), read_only=True) as a,
        duckdb.connect(str(again.serving), read_only=True) as b,
    ):
        checksum = "select checksum from _publish_info"
        assert a.execute(checksum).fetchone()[0] == b.execute(checksum).fetchone()[0]
