"""Rules of the blocking asset checks: what counts as a break, and one line naming it.

Pure functions (pandas, no Dagster, no I/O): `sop_pipeline.assets.ingest` and
`sop_pipeline.assets.demand` count and read, call these and turn the result into an
`AssetCheckResult` whose description names what broke (extract, SKU, week), like the plan's
checks (`analytics.plan.describe_breaks`). Each check is blocking: when it fails, the assets
downstream and the publish step do not run, and the previous cycle stays served.

* **Row accounting** (`row_accounting_breaks`): every row the loader read from an extract file
  is in the warehouse exactly once, either loaded (`raw.<extract>`) or quarantined
  (`quarantine.<extract>`, which also holds the rows excluded as after the as-of), and the
  loader's own report agrees with the tables.
* **Forecast values** (`forecast_value_breaks`): no negative, NaN or infinite units or revenue,
  and p10 <= p50 <= p90 wherever the quantiles are published.
* **Forecast horizon** (`forecast_horizon_breaks`): one row per series x week, for every week of
  the horizon (no gap, no duplicate, nothing outside it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Sequence

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------- row accounting


@dataclass(frozen=True)
class RowCounts:
    """One extract's counts: the loader's report (`rows_*`) and the warehouse after loading.

    ``raw_rows`` / ``quarantine_rows``: rows in `raw.<extract>` / `quarantine.<extract>`;
    ``distinct_source_rows``: distinct source row numbers over both tables (None: not counted).
    """

    extract: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_after_as_of: int
    raw_rows: int
    quarantine_rows: int
    distinct_source_rows: int | None = None
    file: str | None = None


def row_accounting_breaks(c: RowCounts) -> list[str]:
    """What does not add up for one extract, in words (empty: every row is accounted for)."""
    breaks = []
    in_warehouse = c.raw_rows + c.quarantine_rows
    if c.rows_read != in_warehouse:
        gap = c.rows_read - in_warehouse
        breaks.append(
            f"{c.rows_read:,} rows read but {c.raw_rows:,} loaded + {c.quarantine_rows:,} quarantined = "
            f"{in_warehouse:,} in the warehouse ({abs(gap):,} row(s) {'missing' if gap > 0 else 'too many'})"
        )
    if c.distinct_source_rows is not None and c.distinct_source_rows != in_warehouse:
        twice = in_warehouse - c.distinct_source_rows
        breaks.append(
            f"{twice:,} source row(s) are in the warehouse more than once (loaded and quarantined, or loaded twice)"
        )
    if c.raw_rows != c.rows_loaded:
        breaks.append(f"the loader reported {c.rows_loaded:,} rows loaded but raw.{c.extract} has {c.raw_rows:,}")
    expected_q = c.rows_quarantined + c.rows_after_as_of
    if c.quarantine_rows != expected_q:
        breaks.append(
            f"the loader reported {c.rows_quarantined:,} quarantined + {c.rows_after_as_of:,} after the "
            f"as-of = {expected_q:,} but quarantine.{c.extract} has {c.quarantine_rows:,}"
        )
    return breaks


def describe_row_accounting(c: RowCounts, breaks: Sequence[str] | None = None) -> str:
    """One line for the check's description: holds, or the extract, its file and what broke."""
    breaks = row_accounting_breaks(c) if breaks is None else breaks
    if not breaks:
        return (
            f"row accounting {c.extract}: holds ({c.rows_read:,} read = {c.raw_rows:,} loaded + "
            f"{c.quarantine_rows:,} quarantined)"
        )
    where = f" ({c.file})" if c.file else ""
    return f"row accounting {c.extract}{where}: " + "; ".join(breaks)


def ingest_log_breaks(log: pd.DataFrame, expected: Sequence[str]) -> list[str]:
    """The ingest log (one row per extract: rows_read, rows_loaded, rows_quarantined,
    rows_after_as_of) against the contract's extracts: which are missing, which do not add up."""
    breaks = []
    missing = sorted(set(expected) - set(log["extract"]))
    if missing:
        breaks.append(f"no ingest log row for {', '.join(missing)}")
    dup = sorted(log.loc[log.extract.duplicated(), "extract"].unique())
    if dup:
        breaks.append(f"more than one ingest log row for {', '.join(dup)}")
    for r in log.itertuples():
        total = r.rows_loaded + r.rows_quarantined + r.rows_after_as_of
        if r.rows_read != total:
            breaks.append(
                f"{r.extract}: {r.rows_read:,} read but {r.rows_loaded:,} loaded + {r.rows_quarantined:,} "
                f"quarantined + {r.rows_after_as_of:,} after the as-of = {total:,}"
            )
    return breaks


# --------------------------------------------------------------------------- forecast sanity

QUANTILES = ("units_p10", "units_p50", "units_p90")
NON_NEGATIVE = ("units_p10", "units_p50", "units_p90", "revenue")


def _label(row, series: Sequence[str]) -> str:
    return " ".join(str(getattr(row, c)) for c in series)


def forecast_value_breaks(
    fc: pd.DataFrame, series: Sequence[str] = ("sku",), columns: Sequence[str] = NON_NEGATIVE, tolerance: float = 1e-9
) -> pd.DataFrame:
    """Rows whose units or revenue are negative, NaN or infinite, or whose quantiles are out of
    order (p10 <= p50 <= p90, for the quantile columns present). One row per break:
    ``*series, week_start, problem``, in the order of the frame."""
    cols = [c for c in columns if c in fc.columns]
    out = []
    for c in cols:
        v = pd.to_numeric(fc[c], errors="coerce").to_numpy(dtype=float)
        for mask, what in (
            (np.isnan(v), "is NaN"),
            (np.isinf(v), "is infinite"),
            (np.isfinite(v) & (v < -tolerance), "is negative"),
        ):
            if mask.any():
                bad = fc.loc[mask, [*series, "week_start"]].copy()
                bad["problem"] = [f"{c}={x:g} {what}" if np.isfinite(x) else f"{c} {what}" for x in v[mask]]
                bad["_order"] = np.flatnonzero(mask)
                out.append(bad)
    present = [q for q in QUANTILES if q in fc.columns]
    for lo, hi in zip(present, present[1:]):
        a = pd.to_numeric(fc[lo], errors="coerce").to_numpy(dtype=float)
        b = pd.to_numeric(fc[hi], errors="coerce").to_numpy(dtype=float)
        mask = np.isfinite(a) & np.isfinite(b) & (a > b + tolerance)
        if mask.any():
            bad = fc.loc[mask, [*series, "week_start"]].copy()
            bad["problem"] = [f"{lo}={x:g} > {hi}={y:g}" for x, y in zip(a[mask], b[mask])]
            bad["_order"] = np.flatnonzero(mask)
            out.append(bad)
    if not out:
        return pd.DataFrame(columns=[*series, "week_start", "problem"])
    return pd.concat(out).sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def forecast_horizon_breaks(
    fc: pd.DataFrame, week1_start: date, horizon_weeks: int = 13, series: Sequence[str] = ("sku",)
) -> pd.DataFrame:
    """Series x week problems of the horizon: every series must have exactly one row for each
    of the `horizon_weeks` Mondays from `week1_start`, and no row outside them. Where the frame
    has `horizon_week`, it must match the week (1 = `week1_start`). One row per break:
    ``*series, week_start, problem`` (week_start NaT for a forecast with no rows at all)."""
    cols = [*series, "week_start", "problem"]
    if fc.empty:
        return pd.DataFrame(
            [{**{c: "(all)" for c in series}, "week_start": pd.NaT, "problem": "the forecast has no rows"}],
            columns=cols,
        )
    week1 = pd.Timestamp(week1_start)
    expected = pd.DatetimeIndex([week1 + pd.Timedelta(weeks=k) for k in range(horizon_weeks)])
    weeks = pd.to_datetime(fc["week_start"]).dt.tz_localize(None).dt.normalize()
    frame = fc[list(series)].assign(week_start=weeks.to_numpy())
    out = []
    counts = frame.groupby([*series, "week_start"], dropna=False).size().rename("n").reset_index()
    dup = counts[counts.n > 1]
    out += [
        {
            **{c: getattr(r, c) for c in series},
            "week_start": r.week_start,
            "problem": f"{r.n} rows for one week (expected 1)",
        }
        for r in dup.itertuples()
    ]
    outside = counts[~counts.week_start.isin(expected)]
    out += [
        {
            **{c: getattr(r, c) for c in series},
            "week_start": r.week_start,
            "problem": f"week outside the horizon {week1.date()} .. {(expected[-1]).date()}",
        }
        for r in outside.itertuples()
    ]
    keys = counts[list(series)].drop_duplicates()
    grid = keys.merge(pd.DataFrame({"week_start": expected}), how="cross")
    gaps = grid.merge(counts, on=[*series, "week_start"], how="left")
    gaps = gaps[gaps.n.isna()]
    out += [
        {
            **{c: getattr(r, c) for c in series},
            "week_start": r.week_start,
            "problem": f"no forecast row (gap in the horizon, week {(r.week_start - week1).days // 7 + 1})",
        }
        for r in gaps.itertuples()
    ]
    if "horizon_week" in fc.columns:
        want = ((weeks - week1).dt.days // 7 + 1).to_numpy()
        got = pd.to_numeric(fc["horizon_week"], errors="coerce").to_numpy(dtype=float)
        mask = got != want
        if mask.any():
            bad = frame[mask]
            out += [
                {
                    **{c: getattr(r, c) for c in series},
                    "week_start": r.week_start,
                    "problem": f"horizon_week={g:g} but the week is horizon week {w}",
                }
                for r, g, w in zip(bad.itertuples(), got[mask], want[mask])
            ]
    if not out:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(out, columns=cols).sort_values([*series, "week_start"], kind="stable").reset_index(drop=True)


def describe_forecast_breaks(breaks: pd.DataFrame, what: str, series: Sequence[str] = ("sku",), limit: int = 5) -> str:
    """One line naming the first series and weeks that break a rule (for asset checks)."""
    if breaks.empty:
        return f"{what}: holds on every row"
    shown = "; ".join(
        f"{_label(r, series)}"
        + (f" week of {pd.Timestamp(r.week_start).date()}" if pd.notna(r.week_start) else "")
        + f": {r.problem}"
        for r in breaks.head(limit).itertuples()
    )
    more = f" (+{len(breaks) - limit} more)" if len(breaks) > limit else ""
    return f"{what}: {len(breaks)} break(s): {shown}{more}"
