"""Do two warehouses hold the same tables? Row counts, numeric sums, exact text and dates.

Engine-neutral: it compares DataFrames as the IO manager reads them (`DuckDBTables.read`,
`PostgresTables.read`), so the same check covers a DuckDB run and a PostgreSQL run of a cycle.
"""

from __future__ import annotations

import math

import pandas as pd

SUM_TOLERANCE = 1e-6


def summarize(frame: pd.DataFrame) -> dict:
    """Row count; per numeric column its sum and NULL count; per other column its values, sorted
    (as text, NULL as None) - a multiset compare, independent of row order."""
    out: dict = {"rows": len(frame), "columns": {}}
    for column in frame.columns:
        s = frame[column]
        if pd.api.types.is_bool_dtype(s.dtype):
            s = s.astype("float64")
        if pd.api.types.is_numeric_dtype(s.dtype):
            values = pd.to_numeric(s, errors="coerce").astype("float64")
            out["columns"][column] = ("sum", float(values.sum(skipna=True)), int(values.isna().sum()))
        else:
            texts = [None if pd.isna(v) else _text(v) for v in s.tolist()]
            out["columns"][column] = ("values", sorted(texts, key=lambda v: (v is None, v or "")))
    return out


def _text(value) -> str:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def differences(left: dict, right: dict, table: str, tolerance: float = SUM_TOLERANCE) -> list[str]:
    """One line per difference between two `summarize` results of the same table."""
    out = []
    if left["rows"] != right["rows"]:
        out.append(f"{table}: {left['rows']} rows vs {right['rows']}")
    lc, rc = left["columns"], right["columns"]
    if list(lc) != list(rc):
        out.append(f"{table}: columns {list(lc)} vs {list(rc)}")
    for column in [c for c in lc if c in rc]:
        a, b = lc[column], rc[column]
        where = f"{table}.{column}"
        if a[0] != b[0]:
            out.append(f"{where}: {a[0]} column vs {b[0]} column")
        elif a[0] == "sum":
            if a[2] != b[2]:
                out.append(f"{where}: {a[2]} NULLs vs {b[2]}")
            if not math.isclose(a[1], b[1], rel_tol=0, abs_tol=tolerance) and not (
                math.isnan(a[1]) and math.isnan(b[1])
            ):
                out.append(f"{where}: sum {a[1]!r} vs {b[1]!r} (difference {a[1] - b[1]:.3g})")
        elif a[1] != b[1]:
            first = next(i for i, (x, y) in enumerate(zip(a[1], b[1])) if x != y) if len(a[1]) == len(b[1]) else 0
            sample = (a[1][first : first + 1], b[1][first : first + 1]) if a[1] and b[1] else (a[1][:1], b[1][:1])
            out.append(f"{where}: values differ, e.g. {sample[0]} vs {sample[1]}")
    return out


def compare_tables(left_tables, right_tables, schema: str, tables: list[str], tolerance: float = SUM_TOLERANCE):
    """Differences between the same tables read through two engines' table objects (anything with
    `read(schema, table)`); an empty list means they agree."""
    out = []
    for table in tables:
        out += differences(
            summarize(left_tables.read(schema, table)),
            summarize(right_tables.read(schema, table)),
            f"{schema}.{table}",
            tolerance,
        )
    return out
