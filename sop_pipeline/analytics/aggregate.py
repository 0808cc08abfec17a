"""Grouped sums in pandas that equal the warehouse's SQL `sum(...) group by ...` to the last bit.

DuckDB on one thread (the warehouse's setting) adds a group's doubles left to right in row order,
starting from zero, skips NULLs, gives NULL to a group without a value, and lists the groups in the
order they first appear. pandas' own `groupby().sum()` uses compensated (Kahan) summation and
sorted groups: more exact, but a different last bit, and the published tables are compared byte
for byte from run to run. The analytics that replaced SQL aggregates use these functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def sql_sum(frame: pd.DataFrame, by: Sequence[str], columns: Sequence[str] | dict[str, str]) -> pd.DataFrame:
    """One row per group of `by` (first-appearance order, NULL keys a group of their own) with the
    sum of each column, added left to right in row order, NULLs skipped, NaN where a group has no
    value. `columns` is a list of column names, or {output name: input column}."""
    by = list(by)
    named = dict(columns) if isinstance(columns, dict) else {c: c for c in columns}
    groups = frame[by].drop_duplicates(ignore_index=True)
    codes = frame.groupby(by, sort=False, dropna=False).ngroup().to_numpy()
    for out_name, column in named.items():
        groups[out_name] = _sequential_sums(frame[column], codes, len(groups))
    return groups


def sql_total(values: pd.Series) -> float | None:
    """The SQL `sum(values)`: left to right in row order, NULLs skipped, None when there is no value."""
    total = _sequential_sums(values, np.zeros(len(values), dtype=np.intp), 1)[0]
    return None if np.isnan(total) else float(total)


def _sequential_sums(values: pd.Series, codes: np.ndarray, n_groups: int) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    present = ~np.isnan(numbers)
    sums = np.zeros(n_groups)
    np.add.at(sums, codes[present], numbers[present])  # unbuffered: each group in row order
    sums[np.bincount(codes[present], minlength=n_groups) == 0] = np.nan
    return sums


def sql_median(frame: pd.DataFrame, by: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """One row per group of `by` (first-appearance order) with the SQL `median` of each column:
    NULLs skipped, an even count interpolated as lower + (upper - lower) x 0.5 (DuckDB's
    quantile_cont), NaN where a group has no value."""
    by = list(by)
    groups = frame[by].drop_duplicates(ignore_index=True)
    codes = frame.groupby(by, sort=False, dropna=False).ngroup().to_numpy()
    for column in columns:
        numbers = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        medians = np.full(len(groups), np.nan)
        for group, values in pd.Series(numbers).groupby(codes, sort=True):
            values = np.sort(values.to_numpy()[~np.isnan(values.to_numpy())])
            if len(values):
                position = (len(values) - 1) * 0.5
                lower, upper = values[int(np.floor(position))], values[int(np.ceil(position))]
                medians[group] = lower if lower == upper else lower + (upper - lower) * (position - np.floor(position))
        groups[column] = medians
    return groups
