"""Whole-file row checks that a Great Expectations row rule cannot express (they look at several
rows at once), run by the loader after the suite on the rows still in the cycle. Each check returns
the failing rows with the rule, column, value and reason; the loader quarantines them exactly like
suite failures (quarantine.<extract>, quarantine.issues, the data_quality_issues mart).

An extract names its checks in the contract (`Extract.checks`). No Dagster and no GX import here.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pandas as pd

from sop_pipeline.analytics.mrp import bom_problems
from sop_pipeline.contract import Extract
from sop_pipeline.ingest.rules import q


def _bom_structure(rows: pd.DataFrame) -> pd.DataFrame:
    """BOM cycles, windows that end before they start, the same parent/component on overlapping dates."""
    return bom_problems(rows.rename(columns={"_source_row": "source_row"}))


# name -> (columns it reads, check)
CHECKS: dict[str, tuple[tuple[str, ...], Callable[[pd.DataFrame], pd.DataFrame]]] = {
    "bom_structure": (("parent_sku", "component_sku", "effective_from", "effective_to"), _bom_structure),
}


def run_checks(con: duckdb.DuckDBPyConnection, extract: Extract) -> list[str]:
    """Add the failing rows of the extract's checks to `_fail` (rows of `_cycle` not failed yet)."""
    notes = []
    for name in extract.checks:
        columns, check = CHECKS[name]
        cols = ", ".join(q(c) for c in columns)
        rows = con.execute(
            f"select _source_row, {cols} from _cycle where _source_row not in (select _source_row from _fail) "
            "order by _source_row"
        ).df()
        bad = check(rows) if len(rows) else pd.DataFrame()
        if bad.empty:
            continue
        bad = bad.rename(columns={"source_row": "_source_row"})[["_source_row", "rule", "column", "value", "reason"]]
        con.register("_check_df", bad)
        con.execute('insert into _fail select _source_row, rule, "column", value, reason, null from _check_df')
        con.unregister("_check_df")
        notes.append(f"{name}: {bad._source_row.nunique()} row(s) quarantined")
    return notes
