"""Forecast value added (FVA): did each step of the forecast process make the forecast better?

The steps, in process order, each scored on the same SKU-weeks (KPI_DEFINITIONS.md: WAPE =
sum |A - F| / sum A, bias = sum (F - A) / sum A, at SKU x week grain, lag k = forecast made k weeks
before the week it predicts):

1. ``naive`` - *seasonal* naive: the SKU's units of the same week 52 weeks earlier, else the last
   complete week's units (the backtest's ``seasonal_naive``);
2. ``statistical`` - the global LightGBM forecast as the backtest re-ran it at each origin (before
   sensing; the backtest's ``lightgbm``);
3. ``sales_input`` - the CRM sales forecast submitted k weeks before the week (the backtest's
   ``sales_forecast``: source ``sales``, another source only without one);
4. ``override`` - statistical + the planners' overrides: every approved override of the
   `forecast_overrides` extract created on or before the origin is replayed on that origin's
   statistical forecast with the cycle's own rule (`analytics.overrides.apply_overrides`: lower level
   first, family/total spread by their profile); SKU-weeks no override touched keep the statistical;
5. ``consensus`` - the plan of record's demand of the cycle at that origin (history.plan_of_record:
   the pipeline's own earlier cycles and the `plan_history` extract it was seeded from).

Scope. Per family (and ``All families``) x lag bucket (1, 2-4, 5-8, 9-13) every step is scored on
the same rows: the backtest's origin x SKU x week rows, restricted to those with a consensus when the
group has any consensus history (so the five errors are comparable). A step with no history in a
group - no sales forecast, no override that changed a forecast there, no plan of record at those
origins and lags - is listed as ``missing`` with the reason, never as zero.

FVA of a step = WAPE of the step before it (``compared_with``) - its own WAPE, in percentage points:
positive = the step added value, negative = it destroyed value. The step before is the one it builds
on (``BUILDS_ON``): statistical on naive; sales input and override each on statistical (both adjust
the statistical forecast); consensus on override - or, where that step is missing, the next one back
that was scored. ``fva_vs_naive_points`` compares with the naive step. Pure pandas/numpy; no Dagster
import.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sop_pipeline.analytics import overrides as overrides_lib

ALL_FAMILIES = "All families"
STEPS = ("naive", "statistical", "sales_input", "override", "consensus")
# the backtest method behind each step scored straight from the backtest
BACKTEST_METHOD = {"naive": "seasonal_naive", "statistical": "lightgbm", "sales_input": "sales_forecast"}
STEP_SOURCE = {
    "naive": "seasonal naive (same week 52 weeks earlier, else last week)",
    "statistical": "LightGBM statistical forecast (backtest, before sensing)",
    "sales_input": "CRM sales forecast at the same lag",
    "override": "statistical + approved overrides known at the origin",
    "consensus": "plan of record's demand (plan history)",
}
MISSING_REASON = {
    "naive": "no backtest rows for this family at these lags",
    "statistical": "no backtest rows for this family at these lags",
    "sales_input": "no CRM sales forecast snapshot at these lags (sales_forecast extract absent or empty)",
    "override": "no approved override known at a backtest origin changed this family's forecast at these lags",
    "consensus": "no plan of record in history (plan_history extract or earlier cycles) at these origins and lags",
}
# the step each one builds on (FVA compares with the first of these that was scored): the sales input
# and the overrides both adjust the statistical forecast; the consensus is agreed on the overridden one
BUILDS_ON = {
    "naive": (),
    "statistical": ("naive",),
    "sales_input": ("statistical", "naive"),
    "override": ("statistical", "naive"),
    "consensus": ("override", "statistical", "naive"),
}
LAG_BUCKETS = ((1, 1), (2, 4), (5, 8), (9, 13))
FVA_COLUMNS = [
    "family",
    "lag_bucket",
    "lag_from",
    "lag_to",
    "step_order",
    "step",
    "source",
    "status",
    "reason",
    "sku_weeks",
    "origins",
    "actual_units",
    "forecast_units",
    "abs_error_units",
    "wape_pct",
    "bias_pct",
    "compared_with",
    "fva_points",
    "fva_vs_naive_points",
    "verdict",
]


def lag_bucket(lag: pd.Series) -> pd.DataFrame:
    """(lag_from, lag_to, label) of each lag: 1, 2-4, 5-8, 9-13; any other lag is its own bucket."""
    lag = lag.astype(int)
    lo = lag.copy()
    hi = lag.copy()
    for a, b in LAG_BUCKETS:
        inside = (lag >= a) & (lag <= b)
        lo[inside], hi[inside] = a, b
    label = np.where(lo == hi, lo.astype(str), lo.astype(str) + "-" + hi.astype(str))
    return pd.DataFrame({"lag_from": lo.to_numpy(), "lag_to": hi.to_numpy(), "lag_bucket": label}, index=lag.index)


def step_frame(
    errors: pd.DataFrame,
    plans: pd.DataFrame | None = None,
    overrides: pd.DataFrame | None = None,
    families: pd.Series | None = None,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per backtest origin x SKU x week with the actual and each step's forecast (NaN where the
    step has none) and ``override_changed`` (an override set the SKU-week).

    errors: backtest rows (``origin, sku, family, week_start, lag, method, forecast_units, actual_units``).
    plans: plan-of-record history ``cycle_id, sku, week_start, demand_units`` (cycles before the as-of).
    overrides: the `forecast_overrides` extract (``overrides.OVERRIDE_COLUMNS``) or None.
    families: family per SKU (index sku); default: the backtest's families.
    history: weekly sales ``sku, week_start, units`` (an override's ``last_year`` profile).
    """
    keys = ["origin", "sku", "family", "week_start", "lag"]
    if errors.empty:
        return pd.DataFrame(columns=[*keys, "actual", *STEPS, "override_changed"])
    e = errors.assign(origin=pd.to_datetime(errors["origin"]), week_start=pd.to_datetime(errors["week_start"]))
    wide = e.pivot_table(index=keys, columns="method", values="forecast_units", aggfunc="first", observed=True)
    actual = e.groupby(keys, observed=True)["actual_units"].first()
    out = wide.reindex(columns=list(BACKTEST_METHOD.values())).rename(
        columns={m: s for s, m in BACKTEST_METHOD.items()}
    )
    out["actual"] = actual.reindex(out.index).to_numpy()
    out = out.reset_index()
    out["family"] = out["family"].astype(str)
    out["sku"] = out["sku"].astype(str)
    out["lag"] = out["lag"].astype(int)
    out = out[out["statistical"].notna()].sort_values(keys, kind="stable", ignore_index=True)
    if families is None:
        families = out.drop_duplicates("sku").set_index("sku")["family"]
    out["override"], out["override_changed"] = replay_overrides(out, overrides, families, history)
    out["consensus"] = np.nan
    if plans is not None and len(plans):
        p = plans.assign(
            origin=pd.to_datetime(plans["cycle_id"]),
            week_start=pd.to_datetime(plans["week_start"]),
            sku=plans["sku"].astype(str),
        )
        p = p.groupby(["origin", "sku", "week_start"], as_index=False)["demand_units"].sum()
        got = p.set_index(["origin", "sku", "week_start"])["demand_units"]
        idx = pd.MultiIndex.from_arrays([out.origin, out.sku, out.week_start])
        out["consensus"] = got.reindex(idx).to_numpy()
    return out


def replay_overrides(
    rows: pd.DataFrame, overrides: pd.DataFrame | None, families: pd.Series, history: pd.DataFrame | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(override units, changed) per row of ``rows`` (origin, sku, week_start, lag, statistical): at each
    origin the approved overrides created on or before it and covering one of its weeks are applied to
    its statistical forecast by `overrides.apply_overrides`; other rows keep the statistical."""
    units = rows["statistical"].to_numpy(dtype=float).copy()
    changed = np.zeros(len(rows), dtype=bool)
    o = overrides_lib.normalize(overrides)
    o = o[o["approved"] & o["created_at"].notna()]
    if o.empty or rows.empty:
        return units, changed
    created = o["created_at"].dt.normalize()
    if history is not None and len(history):
        history = history.assign(week_start=pd.to_datetime(history["week_start"]))
    year = pd.Timedelta(weeks=overrides_lib.LAST_YEAR_WEEKS)
    for origin, frame in rows.groupby("origin", sort=True):
        first, last = frame.week_start.min(), frame.week_start.max()
        known = o[(created <= origin) & (o.week_to >= first) & (o.week_from <= last)]
        if known.empty:
            continue
        # only the weeks a last_year profile reads (52 weeks before these), and only when one is used
        ly = None
        if history is not None and len(history) and (known["profile"] == "last_year").any():
            ly = history[(history.week_start >= first - year) & (history.week_start <= last - year)]
        base = pd.DataFrame(
            {
                "sku": frame.sku.to_numpy(),
                "week_start": frame.week_start.to_numpy(),
                "horizon_week": frame.lag.to_numpy(),
                "statistical_units": frame.statistical.to_numpy(dtype=float),
                "base_units": frame.statistical.to_numpy(dtype=float),
            }
        )
        wf = overrides_lib.apply_overrides(base, known, families, history=ly).waterfall
        wf = wf.set_index(["sku", "week_start"])
        idx = pd.MultiIndex.from_arrays([frame.sku, frame.week_start.astype("datetime64[us]")])
        pos = frame.index.to_numpy()
        units[pos] = wf["consensus_units"].reindex(idx).to_numpy(dtype=float)
        changed[pos] = (wf["override_ids"].reindex(idx) != "").to_numpy()
    return units, changed


def _score(actual: np.ndarray, forecast: np.ndarray) -> dict:
    a = float(actual.sum())
    f = float(forecast.sum())
    abs_err = float(np.abs(forecast - actual).sum())
    return {
        "actual_units": a,
        "forecast_units": f,
        "abs_error_units": abs_err,
        "wape_pct": 100.0 * abs_err / a if a > 0 else np.nan,
        "bias_pct": 100.0 * (f - a) / a if a > 0 else np.nan,
    }


def _group_rows(g: pd.DataFrame, family: str, bucket: tuple) -> list[dict]:
    present = {
        "naive": g["naive"].notna().any(),
        "statistical": True,
        "sales_input": g["sales_input"].notna().any(),
        "consensus": g["consensus"].notna().any(),
    }
    scope = g[g["consensus"].notna()] if present["consensus"] else g
    for s in ("naive", "sales_input"):
        if present[s]:
            scope = scope[scope[s].notna()]
    present["override"] = bool(scope["override_changed"].any())
    lag_from, lag_to, label = bucket
    out = []
    wapes: dict[str, float] = {}  # the steps scored so far
    for order, step in enumerate(STEPS, start=1):
        row = {
            "family": family,
            "lag_bucket": label,
            "lag_from": lag_from,
            "lag_to": lag_to,
            "step_order": order,
            "step": step,
            "source": STEP_SOURCE[step],
            "sku_weeks": int(len(scope)),
            "origins": int(scope["origin"].nunique()),
        }
        if not present[step]:
            out.append({**row, "status": "missing", "reason": MISSING_REASON[step], "sku_weeks": 0, "origins": 0})
            continue
        score = _score(scope["actual"].to_numpy(dtype=float), scope[step].to_numpy(dtype=float))
        if not np.isfinite(score["wape_pct"]):
            out.append({**row, "status": "missing", "reason": "no actual demand in these weeks", **score})
            continue
        row = {**row, "status": "scored", "reason": "", **score}
        before = next((b for b in BUILDS_ON[step] if b in wapes), None)
        if before is not None:
            row["compared_with"] = before
            row["fva_points"] = wapes[before] - score["wape_pct"]
        if step != "naive" and "naive" in wapes:
            row["fva_vs_naive_points"] = wapes["naive"] - score["wape_pct"]
        wapes[step] = score["wape_pct"]
        out.append(row)
    return out


def forecast_value_added(steps: pd.DataFrame, tol_points: float = 0.05) -> pd.DataFrame:
    """FVA_COLUMNS per family (and ``All families``) x lag bucket x step from a ``step_frame``.

    ``verdict``: ``added`` / ``destroyed`` when the step's FVA is above / below +-``tol_points``
    percentage points, ``no change`` within it, empty for the first scored step or a missing one."""
    if steps.empty:
        return pd.DataFrame(columns=FVA_COLUMNS)
    s = pd.concat([steps, lag_bucket(steps["lag"])], axis=1)
    records: list[dict] = []
    groups = [(str(f), g) for f, g in s.groupby("family", sort=True)] + [(ALL_FAMILIES, s)]
    for family, fam_rows in groups:
        for (lo, hi, label), g in fam_rows.groupby(["lag_from", "lag_to", "lag_bucket"], sort=True):
            records += _group_rows(g, family, (int(lo), int(hi), str(label)))
    out = pd.DataFrame.from_records(records).reindex(columns=FVA_COLUMNS)
    fva = out["fva_points"]
    out["verdict"] = np.select(
        [fva > tol_points, fva < -tol_points, fva.notna()], ["added", "destroyed", "no change"], default=""
    )
    out["compared_with"] = out["compared_with"].fillna("")
    out["reason"] = out["reason"].fillna("")
    return out.sort_values(["family", "lag_from", "step_order"], kind="stable", ignore_index=True)


def fva_breaks(table: pd.DataFrame, tol: float = 1e-9) -> list[str]:
    """What breaks the FVA arithmetic (empty = holds): a scored step has a finite WAPE >= 0; a missing
    one has no WAPE and a reason; FVA = WAPE of ``compared_with`` - WAPE of the step (same family and lag
    bucket), and FVA vs naive = WAPE of naive - WAPE of the step."""
    out = []
    t = table
    scored = t.status == "scored"
    wape = pd.to_numeric(t.wape_pct, errors="coerce")
    bad = scored & ~(np.isfinite(wape) & (wape >= 0))
    out += [f"{r.family} lag {r.lag_bucket} {r.step}: WAPE {r.wape_pct} not in [0, inf)" for r in t[bad].itertuples()]
    bad = ~scored & (wape.notna() | (t.reason.fillna("") == ""))
    out += [
        f"{r.family} lag {r.lag_bucket} {r.step}: missing without a reason or with a WAPE" for r in t[bad].itertuples()
    ]
    lookup = t[scored].set_index(["family", "lag_bucket", "step"])["wape_pct"]
    for r in t[scored].itertuples():
        for col, base in (("fva_points", r.compared_with), ("fva_vs_naive_points", "naive")):
            value = getattr(r, col)
            if not base or (col == "fva_vs_naive_points" and r.step == "naive"):
                continue
            ref = lookup.get((r.family, r.lag_bucket, base), np.nan)
            if pd.isna(value) != pd.isna(ref) or (pd.notna(value) and abs(value - (ref - r.wape_pct)) > tol):
                out.append(f"{r.family} lag {r.lag_bucket} {r.step}: {col} {value} != WAPE({base}) - WAPE({r.step})")
    return out
