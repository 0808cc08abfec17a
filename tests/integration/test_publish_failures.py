"""Publish through the real `sop run` on a copy of the session's cycle (data dir with quotes in its
name): republishing the same warehouse gives the same checksum, and a cross-model (relationships)
dbt test and a model's column rules (one column_rules test) that fail in the dbt step building the
marts stop the cycle there, with a message naming the test, table, column and failing rows (and an
example value of the failing column), and leave the previous cycle published."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from tests.conftest import HOSTILE_DIR_NAME, run_cycle

pytestmark = pytest.mark.integration


def _info(serving):
    with duckdb.connect(str(serving), read_only=True) as con:
        return con.execute("select cycle, release_id, checksum from _publish_info").fetchall()[0]


def test_republish_gives_the_same_checksum_and_a_failed_integrity_test_is_named(small_cycle, tmp_path):
    assert "'" in str(small_cycle.data) and '"' in str(small_cycle.data)
    cycle, release, checksum = _info(small_cycle.serving)
    data = tmp_path / HOSTILE_DIR_NAME
    shutil.copytree(small_cycle.data, data, ignore=shutil.ignore_patterns("dagster_home"))

    again = run_cycle(small_cycle.extracts, data, "--groups", "publish")
    assert again.returncode == 0, f"{again.stdout[-3000:]}\n{again.stderr[-3000:]}"
    cycle2, release2, checksum2 = _info(again.serving)
    assert (cycle2, checksum2) == (cycle, checksum) and release2 != release, "same data, same checksum"

    # three rows for SKUs the item master does not know, in the Python output the mart copies, with
    # an XYZ class that does not exist
    with duckdb.connect(str(again.warehouse)) as con:
        con.execute(
            "insert into analytics.abc_xyz select t.* replace ('NO-SUCH-' || n as sku, 0.0 as revenue_12m, "
            "0.0 as revenue_share, 'C' as abc, 'Q' as xyz) from (select * from analytics.abc_xyz where abc = 'C' "
            "limit 1) as t, range(1, 4) as r(n)"
        )
    failed = run_cycle(small_cycle.extracts, data, "--groups", "demand_review,publish")
    assert failed.returncode == 1
    assert "FAILED at sop_dbt_marts" in failed.stderr, failed.stderr[-3000:]
    assert "dbt build of the marts stopped the cycle: 2 dbt tests failed: " in failed.stderr, failed.stderr[-3000:]
    assert (
        "marts.datapack_abc_xyz.sku: 3 rows with a sku not found in stg_erp__items.sku "
        "(test relationships_datapack_abc_xyz_sku__sku__ref_stg_erp__items_)" in failed.stderr
    ), failed.stderr[-3000:]
    assert (
        "accepted_values test on marts.datapack_abc_xyz.xyz: 3 rows failed, e.g. Q (test column_rules_datapack_abc_xyz)"
        in failed.stderr
    ), failed.stderr[-3000:]
    assert "()" not in failed.stderr and "Traceback" not in failed.stderr
    assert "serving/sop" not in failed.stdout, "publish must not run after a failed dbt test"
    assert _info(failed.serving) == (cycle2, release2, checksum2), "the previous cycle stays published"
