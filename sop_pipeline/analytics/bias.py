"""Bias of the sales/marketing forecast, the sales-optimism flag and the optimism filter.

Definitions (KPI_DEFINITIONS.md: bias = sum(F - A) / sum(A), tracking signal = cumulative
(F - A) / MAD):
    * Evaluated unit = a submitted snapshot x SKU (or family), over the snapshot's weeks that are
      complete at the as-of ("matured"): e = sum(F - A), a = sum(A). Actual A = POS units +
      B2B order units by requested week (int_demand_weekly, every location; 0 before a SKU's
      first sale).
    * Window = the last ``snapshots`` (13) snapshots with at least one matured week, per source
      (sales / marketing / consensus) and SKU or family.
    * bias = sum e / sum a; MAD = mean |e| over the window's snapshots; tracking signal = sum e /
      MAD (between -n and +n for n snapshots).
    * **Persistently optimistic** (flag ``sales_optimism``): over at least ``min_snapshots`` (4)
      snapshots, bias > +``bias_threshold`` (10%) **and** tracking signal > ``tracking_threshold``
      (4) **and** the forecast was above actual in at least ``min_share_over`` (2/3) of them - too
      high on average and consistently so. The last condition keeps one wild submission (which
      alone drives the tracking signal to n) from looking persistent.

Optimism filter (``consensus``): the latest submitted snapshot (source 'sales'; another source
for SKUs without a 'sales' row) is compared with the statistical forecast week by week. For a
SKU flagged optimistic (itself or its family), weeks where sales > statistical are shrunk by
``shrink`` (50%) toward the statistical forecast; weeks of an unsupported hockey stick in that
snapshot are replaced by the statistical forecast (100%). The amount shrunk is recorded per
SKU-week with the rule that applied; everything else passes through unchanged. SKUs without
a sales forecast take the statistical forecast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from sop_pipeline.analytics.forecasting import last_complete_week

BIAS_COLUMNS = [
    "level",
    "family",
    "sku",
    "forecast_source",
    "snapshots",
    "first_snapshot",
    "last_snapshot",
    "weeks",
    "forecast_units",
    "actual_units",
    "bias",
    "tracking_signal",
    "mad_units",
    "snapshots_over",
    "sales_optimism",
    "reason",
]
CONSENSUS_COLUMNS = [
    "sku",
    "family",
    "week_start",
    "horizon_week",
    "forecast_source",
    "snapshot_date",
    "sales_units",
    "statistical_units",
    "consensus_units",
    "shrunk_units",
    "rule",
]


@dataclass(frozen=True)
class BiasConfig:
    snapshots: int = 13
    min_snapshots: int = 4
    bias_threshold: float = 0.10
    tracking_threshold: float = 4.0
    min_share_over: float = 2 / 3
    shrink: float = 0.5


def _fmt(x: float) -> str:
    return f"{x:,.0f}"


def _prepare(sales_forecast: pd.DataFrame) -> pd.DataFrame:
    sf = sales_forecast[["snapshot_date", "sku", "week_start", "units", "forecast_source"]].copy()
    sf["snapshot_date"] = pd.to_datetime(sf["snapshot_date"])
    sf["week_start"] = pd.to_datetime(sf["week_start"])
    return sf


def snapshot_errors(
    sales_forecast: pd.DataFrame, actuals: pd.DataFrame, items: pd.DataFrame, as_of: date
) -> pd.DataFrame:
    """Forecast and actual units per source x snapshot x SKU over the snapshot's matured weeks."""
    sf = _prepare(sales_forecast)
    sf = sf[sf.week_start <= pd.Timestamp(last_complete_week(as_of))]
    act = actuals.assign(week_start=pd.to_datetime(actuals["week_start"]))
    act = act.groupby(["sku", "week_start"], as_index=False)["units"].sum().rename(columns={"units": "actual"})
    m = sf.merge(act, on=["sku", "week_start"], how="left")
    m["actual"] = m.actual.fillna(0.0)
    g = m.groupby(["forecast_source", "snapshot_date", "sku"], as_index=False).agg(
        forecast_units=("units", "sum"), actual_units=("actual", "sum"), weeks=("units", "size")
    )
    g["family"] = g.sku.map(items.set_index("sku")["family"])
    return g


def _window_stats(snap: pd.DataFrame, keys: list[str], cfg: BiasConfig) -> pd.DataFrame:
    """Bias, MAD and tracking signal over each entity's last ``cfg.snapshots`` snapshots."""
    snap = snap.sort_values([*keys, "snapshot_date"], ascending=[True] * len(keys) + [False])
    snap = snap[snap.groupby(keys, observed=True).cumcount() < cfg.snapshots].copy()
    snap["err"] = snap.forecast_units - snap.actual_units
    snap["abs_err"] = snap.err.abs()
    snap["over"] = snap.err > 0
    g = snap.groupby(keys, as_index=False, observed=True).agg(
        snapshots=("snapshot_date", "size"),
        first_snapshot=("snapshot_date", "min"),
        last_snapshot=("snapshot_date", "max"),
        weeks=("weeks", "sum"),
        forecast_units=("forecast_units", "sum"),
        actual_units=("actual_units", "sum"),
        err=("err", "sum"),
        mad_units=("abs_err", "mean"),
        snapshots_over=("over", "sum"),
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        g["bias"] = np.where(g.actual_units > 0, g.err / g.actual_units, np.nan)
        g["tracking_signal"] = np.where(g.mad_units > 0, g.err / g.mad_units, 0.0)
    g["sales_optimism"] = (
        (g.bias > cfg.bias_threshold)
        & (g.tracking_signal > cfg.tracking_threshold)
        & (g.snapshots >= cfg.min_snapshots)
        & (g.snapshots_over >= cfg.min_share_over * g.snapshots - 1e-9)
    )
    return g.drop(columns="err")


def forecast_bias(
    sales_forecast: pd.DataFrame | None,
    actuals: pd.DataFrame,
    items: pd.DataFrame,
    as_of: date,
    config: BiasConfig = BiasConfig(),
) -> pd.DataFrame:
    """Bias and tracking signal per source x family and per source x SKU (see module docstring)."""
    if sales_forecast is None or sales_forecast.empty:
        return pd.DataFrame(columns=BIAS_COLUMNS)
    snap = snapshot_errors(sales_forecast, actuals, items, as_of)
    if snap.empty:
        return pd.DataFrame(columns=BIAS_COLUMNS)
    fam_snap = snap.groupby(["forecast_source", "family", "snapshot_date"], as_index=False, observed=True)[
        ["forecast_units", "actual_units", "weeks"]
    ].sum()
    fam = _window_stats(fam_snap, ["forecast_source", "family"], config).assign(level="family", sku=None)
    sku = _window_stats(snap, ["forecast_source", "family", "sku"], config).assign(level="sku")
    out = pd.concat([fam, sku], ignore_index=True)
    out["reason"] = [_bias_reason(r, config) for r in out.itertuples(index=False)]
    return (
        out[BIAS_COLUMNS]
        .sort_values(["level", "forecast_source", "family", "sku"], na_position="first")
        .reset_index(drop=True)
    )


def _bias_reason(r, cfg: BiasConfig) -> str:
    who = f"{r.family} (family)" if r.level == "family" else f"{r.sku} ({r.family})"
    bias = "n/a" if pd.isna(r.bias) else f"{r.bias:+.0%}"
    head = (
        f"{r.forecast_source.capitalize()} forecast for {who}: {bias} bias over the last {r.snapshots} snapshots "
        f"({_fmt(r.forecast_units)} forecast vs {_fmt(r.actual_units)} actual units over {r.weeks} matured "
        f"snapshot-weeks), above actual in {r.snapshots_over} of {r.snapshots}, tracking signal "
        f"{r.tracking_signal:+.1f}."
    )
    if r.sales_optimism:
        return (
            head + f" Persistently optimistic (bias > {cfg.bias_threshold:+.0%}, tracking signal > "
            f"{cfg.tracking_threshold:.0f}, above actual in at least {cfg.min_share_over:.0%} of snapshots): the "
            f"consensus shrinks its excess over the statistical forecast by {cfg.shrink:.0%}."
        )
    return head + " Not flagged."


def latest_snapshot(sales_forecast: pd.DataFrame | None, as_of: date) -> pd.DataFrame:
    """The latest snapshot on or before the as-of per SKU: 'sales' rows, other sources only for
    SKUs without a 'sales' row in that snapshot date."""
    if sales_forecast is None or sales_forecast.empty:
        return pd.DataFrame(columns=["snapshot_date", "sku", "week_start", "units", "forecast_source"])
    sf = _prepare(sales_forecast)
    sf = sf[sf.snapshot_date <= pd.Timestamp(as_of)]
    last = sf.groupby("sku")["snapshot_date"].transform("max")
    sf = sf[sf.snapshot_date == last]
    rank = sf.forecast_source.map({"sales": 0, "consensus": 1, "marketing": 2}).fillna(3)
    best = rank.groupby(sf.sku).transform("min")
    return sf[rank == best].reset_index(drop=True)


def compare_with_statistical(
    sales_forecast: pd.DataFrame | None, statistical: pd.DataFrame, as_of: date
) -> pd.DataFrame:
    """Latest sales submission vs the statistical forecast over the horizon, per SKU and family.

    statistical: SKU-level forecast (sku, family, week_start, units_p50). Returns level, family,
    sku, snapshot_date, forecast_source, sales_units, statistical_units, gap (sales / stat - 1).
    """
    cols = ["level", "family", "sku", "snapshot_date", "forecast_source", "sales_units", "statistical_units", "gap"]
    latest = latest_snapshot(sales_forecast, as_of)
    if latest.empty or statistical.empty:
        return pd.DataFrame(columns=cols)
    stat = statistical.assign(week_start=pd.to_datetime(statistical["week_start"]))
    m = latest.merge(stat[["sku", "family", "week_start", "units_p50"]], on=["sku", "week_start"], how="inner")
    sku = (
        m.groupby(["family", "sku", "snapshot_date", "forecast_source"], as_index=False)
        .agg(sales_units=("units", "sum"), statistical_units=("units_p50", "sum"))
        .assign(level="sku")
    )
    fam = (
        m.groupby(["family"], as_index=False)
        .agg(
            sales_units=("units", "sum"),
            statistical_units=("units_p50", "sum"),
            snapshot_date=("snapshot_date", "max"),
            forecast_source=("forecast_source", "first"),
        )
        .assign(level="family", sku=None)
    )
    out = pd.concat([fam, sku], ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["gap"] = np.where(out.statistical_units > 0, out.sales_units / out.statistical_units - 1, np.nan)
    return out[cols]


def consensus(
    sales_forecast: pd.DataFrame | None,
    statistical: pd.DataFrame,
    bias: pd.DataFrame,
    hockey_sticks: pd.DataFrame | None,
    as_of: date,
    config: BiasConfig = BiasConfig(),
    use_filter: bool = True,
) -> pd.DataFrame:
    """Consensus units per SKU x horizon week with the optimism filter (see module docstring).

    statistical: SKU-level forecast (sku, family, week_start, horizon_week, units_p50).
    bias: output of ``forecast_bias``. hockey_sticks: output of outliers.detect_hockey_sticks.
    """
    stat = statistical.assign(week_start=pd.to_datetime(statistical["week_start"]))
    stat = stat[stat.horizon_week >= 1][["sku", "family", "week_start", "horizon_week", "units_p50"]]
    latest = latest_snapshot(sales_forecast, as_of)
    m = stat.merge(latest.rename(columns={"units": "sales_units"}), on=["sku", "week_start"], how="left")
    m = m.rename(columns={"units_p50": "statistical_units"})
    has_sales = m.sales_units.notna()
    m["consensus_units"] = np.where(has_sales, m.sales_units, m.statistical_units)
    m["shrink"] = 0.0
    m["rule"] = np.where(has_sales, "sales forecast kept", "no sales forecast: statistical forecast")
    if use_filter and len(bias):
        flagged = bias[bias.sales_optimism.astype(bool)]
        fam_flag = set(
            zip(
                flagged.loc[flagged.level == "family", "forecast_source"],
                flagged.loc[flagged.level == "family", "family"],
            )
        )
        sku_flag = set(
            zip(flagged.loc[flagged.level == "sku", "forecast_source"], flagged.loc[flagged.level == "sku", "sku"])
        )
        opt = np.array(
            [(s, f) in fam_flag or (s, k) in sku_flag for s, f, k in zip(m.forecast_source, m.family, m.sku)],
            dtype=bool,
        )
        over = has_sales & (m.sales_units > m.statistical_units)
        hit = opt & over.to_numpy()
        m.loc[hit, "shrink"] = config.shrink
        m.loc[hit, "rule"] = (
            f"optimism filter: flagged sales_optimism, excess over statistical shrunk {config.shrink:.0%}"
        )
    if use_filter and hockey_sticks is not None and len(hockey_sticks) and len(latest):
        hs = hockey_sticks.assign(
            snapshot_date=pd.to_datetime(hockey_sticks["snapshot_date"]),
            week_start=pd.to_datetime(hockey_sticks["week_start"]),
        )
        weeks = hs.loc[hs.index.repeat(hs.weeks_flagged)].copy()
        weeks["week_start"] = weeks.week_start + pd.to_timedelta(7 * weeks.groupby(level=0).cumcount(), unit="D")
        key = set(zip(weeks.snapshot_date, weeks.forecast_source, weeks.sku, weeks.week_start))
        hit = np.array(
            [(d, s, k, w) in key for d, s, k, w in zip(m.snapshot_date, m.forecast_source, m.sku, m.week_start)],
            dtype=bool,
        )
        hit &= (has_sales & (m.sales_units > m.statistical_units)).to_numpy()
        m.loc[hit, "shrink"] = 1.0
        m.loc[hit, "rule"] = "unsupported hockey stick: statistical forecast used"
    m["consensus_units"] = np.where(
        has_sales, m.sales_units - m.shrink * (m.sales_units - m.statistical_units), m.statistical_units
    )
    m["shrunk_units"] = np.where(has_sales, m.sales_units - m.consensus_units, 0.0)
    return m[CONSENSUS_COLUMNS].sort_values(["sku", "week_start"]).reset_index(drop=True)
