"""The demand assets' inputs and published shapes as DataFrame functions (pandas, no Dagster, no I/O).

`sop_pipeline.assets.demand` gets whole warehouse tables through the warehouse IO manager; these
functions take the columns and rows the analytics read (what the asset's SQL selected before),
and give the published tables their column types, so an empty table still has the types the
marts expect.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd

# columns of the staged extracts the demand analytics read, in the order they read them
PROMOTION_COLUMNS = [
    "promo_id",
    "sku",
    "location_or_customer",
    "start_date",
    "end_date",
    "discount_pct",
    "expected_units",
]
ORDER_COLUMNS = [
    "order_id",
    "line",
    "customer_id",
    "sku",
    "order_date",
    "requested_date",
    "requested_week_start",
    "qty",
    "unit_price",
    "status",
]
SALES_FORECAST_COLUMNS = ["snapshot_date", "sku", "week_start", "units", "forecast_source"]
HOCKEY_WEEK_COLUMNS = ["snapshot_date", "forecast_source", "sku", "week_start", "lag", "weeks_flagged"]
FLAG_COLUMNS = [
    "kind",
    "sku",
    "family",
    "week_start",
    "value",
    "expected",
    "reason",
    "snapshot_date",
    "forecast_source",
    "lag",
    "weeks_flagged",
    "ratio",
    "is_latest_snapshot",
]
FORECAST_HISTORY_COLUMNS = [
    "cycle_id",
    "sku",
    "family",
    "week_start",
    "lag",
    "units_p10",
    "units_p50",
    "units_p90",
    "model",
    "method",
]
OUTLIER_SHARE_LIMIT = 0.02  # outliers_are_rare: flagged SKU-weeks below this share
NAIVE_IMPROVEMENT_TARGET = 0.10  # beats_seasonal_naive: WAPE at least this much below seasonal naive
PROMOTIONS_ABSENT_NOTE = (
    " Note: the promotions extract is absent this cycle, so a promotion peak cannot be told apart from an outlier."
)


def staged(
    frame: pd.DataFrame, extract: str, absent: Iterable[str], columns: list[str] | None = None
) -> pd.DataFrame | None:
    """A staged extract's rows (``columns`` of them, or all), or None when the extract is absent this cycle."""
    if extract in set(absent):
        return None
    return frame if columns is None else frame[columns]


def weekly_history(demand_weekly: pd.DataFrame) -> pd.DataFrame:
    """int_demand_weekly in series order (sku, location, week_start), as the forecast and outlier
    detection read it; the model's grain makes the order total."""
    return demand_weekly.sort_values(["sku", "location", "week_start"], kind="stable").reset_index(drop=True)


def actuals(history: pd.DataFrame) -> pd.DataFrame:
    """Weekly units per SKU, summed over locations."""
    return history.groupby(["sku", "week_start"], as_index=False)["units"].sum()


def typed(frame: pd.DataFrame, floats=(), ints=(), bools=(), dates=(), texts=()) -> pd.DataFrame:
    """Explicit column types, so an empty table still has the types the marts expect."""
    out = frame.copy()
    for c in floats:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    for c in ints:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("Int64")
    for c in bools:
        out[c] = out[c].fillna(False).astype(bool)
    for c in dates:
        out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
    for c in texts:
        out[c] = out[c].astype(object).where(out[c].notna(), None).astype("string")
    return out


# --------------------------------------------------------------------------- outliers


def note_promotions_absent(flags: pd.DataFrame, absent: Iterable[str]) -> pd.DataFrame:
    """Outlier reasons say that a promotion peak cannot be told apart when the promotions extract is absent."""
    if "promotions" in set(absent) and len(flags):
        flags["reason"] = flags.reason + PROMOTIONS_ABSENT_NOTE
    return flags


def latest_snapshots(sales_forecast: pd.DataFrame | None) -> dict:
    """The latest snapshot date per forecast source ({} without a sales forecast)."""
    if sales_forecast is None or sales_forecast.empty:
        return {}
    return pd.to_datetime(sales_forecast.snapshot_date).groupby(sales_forecast.forecast_source).max().to_dict()


def flag_table(history_flags: pd.DataFrame, hockey: pd.DataFrame, latest: dict) -> pd.DataFrame:
    """One flag table for both kinds (analytics.demand_outliers); ``latest``: the latest snapshot
    date per forecast source."""
    h = history_flags.assign(kind="outlier", snapshot_date=pd.NaT, forecast_source=None, lag=None, weeks_flagged=1)
    k = hockey.assign(kind="hockey_stick")
    if len(k):
        k["is_latest_snapshot"] = k.snapshot_date == k.forecast_source.map(latest)
    out = pd.concat([h.assign(is_latest_snapshot=False), k], ignore_index=True)
    return typed(
        out.reindex(columns=FLAG_COLUMNS),
        floats=["value", "expected", "ratio"],
        ints=["lag", "weeks_flagged"],
        bools=["is_latest_snapshot"],
        dates=["week_start", "snapshot_date"],
        texts=["kind", "sku", "family", "reason", "forecast_source"],
    )


def hockey_weeks(flags: pd.DataFrame) -> pd.DataFrame:
    """The hockey-stick weeks of analytics.demand_outliers (the consensus replaces them)."""
    return flags.loc[flags.kind == "hockey_stick", HOCKEY_WEEK_COLUMNS].reset_index(drop=True)


def outlier_share(flags: pd.DataFrame, history: pd.DataFrame) -> float:
    """Outlier flags per SKU-week of history (outliers_are_rare passes below OUTLIER_SHARE_LIMIT)."""
    weeks = int(history.groupby(["sku", "week_start"]).ngroups) or 1
    return len(flags) / weeks


# --------------------------------------------------------------------------- forecast


def published_forecast(frame: pd.DataFrame, as_of: date, horizon_only: bool = False) -> pd.DataFrame:
    """A forecast frame as published: the cycle_id first, dates typed; ``horizon_only`` drops week 0."""
    out = frame[frame.horizon_week >= 1].copy() if horizon_only else frame.copy()
    out.insert(0, "cycle_id", as_of)
    return typed(out, dates=["cycle_id", "week_start"])


def forecast_history_rows(sku_forecast: pd.DataFrame) -> pd.DataFrame:
    """This cycle's rows of analytics.forecast_history (SKU x week x lag) from the published SKU forecast."""
    rows = sku_forecast[
        ["cycle_id", "sku", "family", "week_start", "horizon_week", "units_p10", "units_p50", "units_p90", "model"]
    ].rename(columns={"horizon_week": "lag"})
    return rows.assign(method="lightgbm", week_start=pd.to_datetime(rows.week_start).dt.date)


# --------------------------------------------------------------------------- sensing

SENSING_TYPES = dict(
    floats=[
        "baseline_units",
        "sensed_units",
        "delta_units",
        "delta_pct",
        "b2b_baseline_units",
        "b2b_booked_units",
        "b2b_usual_booked_share",
        "week0_pos_units",
    ],
    ints=["horizon_week"],
    dates=["cycle_id", "week_start"],
    texts=["sku", "family", "signals_used", "signals_missing", "reason"],
)


def nowcast_pos(
    pos_week0: pd.DataFrame, pos_family_daily: pd.DataFrame, as_of: date, absent: Iterable[str]
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(week-0 POS rows, daily POS by family) for the nowcast, or (None, None) when there is none to
    make: the pos_sales extract is absent, or the as-of is a Sunday (week 0 is complete)."""
    if "pos_sales" in set(absent) or as_of.weekday() == 6:
        return None, None
    return pos_week0, pos_family_daily


# --------------------------------------------------------------------------- bias + consensus

NO_SALES_FORECAST_RULE = "no sales forecast (sales_forecast extract absent): statistical forecast"
BIAS_TYPES = dict(
    floats=[
        "forecast_units",
        "actual_units",
        "bias",
        "tracking_signal",
        "mad_units",
        "latest_sales_units_13w",
        "statistical_units_13w",
        "latest_gap_to_statistical",
    ],
    ints=["snapshots", "weeks", "snapshots_over"],
    bools=["sales_optimism"],
    dates=["cycle_id", "first_snapshot", "last_snapshot"],
    texts=["level", "family", "sku", "forecast_source", "reason"],
)
CONSENSUS_TYPES = dict(
    floats=["sales_units", "statistical_units", "consensus_units", "shrunk_units"],
    ints=["horizon_week"],
    dates=["cycle_id", "week_start", "snapshot_date"],
    texts=["sku", "family", "forecast_source", "rule"],
)


def with_statistical_gap(bias_table: pd.DataFrame, gap: pd.DataFrame) -> pd.DataFrame:
    """The bias table with the latest submission's 13-week units, the statistical forecast's and their gap."""
    return bias_table.merge(
        gap[["level", "family", "sku", "sales_units", "statistical_units", "gap"]].rename(
            columns={
                "sales_units": "latest_sales_units_13w",
                "statistical_units": "statistical_units_13w",
                "gap": "latest_gap_to_statistical",
            }
        ),
        on=["level", "family", "sku"],
        how="left",
    )


# --------------------------------------------------------------------------- backtest

BACKTEST_TYPES = dict(
    floats=["forecast_units", "actual_units"],
    ints=["lag"],
    dates=["cycle_id", "origin", "week_start"],
    texts=["sku", "family", "method"],
)


def wape_by_method(summary: pd.DataFrame) -> dict[str, float]:
    """Backtest WAPE per method (NaN for a method without one)."""
    s = summary.set_index("method") if len(summary) else pd.DataFrame(columns=["wape", "bias"])
    return {
        m: float(s.wape.get(m, np.nan)) for m in ("lightgbm", "seasonal_naive", "sales_forecast", "lightgbm_sensed")
    }


def improvement_vs_naive(wape: dict[str, float]) -> float:
    """1 - WAPE(ML) / WAPE(seasonal naive); NaN without a naive WAPE above 0."""
    naive = wape["seasonal_naive"]
    return 1 - wape["lightgbm"] / naive if naive > 0 else float("nan")


def beats_naive(improvement: float) -> bool:
    return bool(np.isfinite(improvement) and improvement >= NAIVE_IMPROVEMENT_TARGET)
