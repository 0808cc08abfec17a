"""Learned demand sensing: a LightGBM model for horizon weeks 1-6, used per lag only where the
rolling-origin backtest shows it beats the booking-curve rule (``sensing.sense``).

Target. The model learns the *ratio* actual / the booking-curve rule's sensed units of a SKU-week
(the *anchor*; ``anchor="statistical"`` makes it the statistical forecast), with LightGBM's L1
objective and each row weighted by its anchor units: the weighted absolute error of the ratio is
then exactly the absolute error in units (|w x r_hat - w x r| = |sensed - actual|), so training
minimises the numerator of WAPE, the error the choice is judged on. Sensed units = predicted ratio
x anchor (ratio clipped to [0, ``max_ratio``]). Anchoring on the rule (not the statistical
forecast) means the model learns what the rule leaves over: without a signal it stays near the
rule instead of re-learning the booking curve from a few thousand rows (on the small demo the
statistical anchor lost to the rule at every lag, ``benchmarks/README.md``). A SKU-week whose
anchor is below ``min_baseline_units`` keeps the rule's units (a ratio of nothing is no
forecast); the backtest applies the same fallback, so what is scored is what is used.

Regularisation. The number of boosting rounds is picked by early stopping on the latest quarter of
the training rows' target weeks, then the model is refitted on all of them; features are binned
coarsely (``max_bin`` 16) so that the scale and the family x origin features (POS pace, season
index) cannot single out rows and fit their noise. Both make the model fall back towards the rule
where the signals carry nothing.

Features (all known at the origin; nothing after it):
    * ``lag`` (horizon week 1-6) and ``days_ahead`` (week start - origin, days);
    * ``log_baseline``: log1p of the statistical forecast (scale; intermittent vs fast movers);
    * ``booked_ratio``: B2B order lines booked for the week *with an order date on or before the
      origin* (not cancelled), over the statistical forecast;
    * ``usual_booked_share``: the booking curve's share of a week's B2B units usually booked that
      many days ahead (``sensing.booking_curve`` at the origin), and ``booked_vs_usual`` = booked /
      (usual share x statistical);
    * ``rule_ratio``: the booking-curve rule's sensed units over the statistical forecast (with
      ``log_baseline``, the statistical forecast as a feature);
    * ``pos_pace``: the family's POS of the origin's week so far (Monday to the origin; the whole
      week when the origin is a Sunday) over the usual units by that weekday (mean week of the
      ``pace_weeks`` weeks before x the share of a week sold by that weekday in them), minus 1;
    * ``promo_discount``: the deepest discount of a promotion on the SKU covering the week (0 none;
      promotions are planned ahead, so known at the origin as in the forecast);
    * ``season_index``: the family's POS in the same week a year earlier over its mean week in the
      ``season_base_weeks`` weeks before the origin a year earlier (last year's move from the
      origin to the target week).

Training rows are the rolling-origin backtest's SKU-weeks at lags 1-6 (``demand_backtest``:
statistical = ``lightgbm``, rule = ``lightgbm_sensed``, which replays the booking-curve rule
with the orders booked by each origin). The week-0 POS nowcast and its pace nudge are not
replayed in the backtest, so week 0 stays on the rule and is not scored here (at a mid-week
as-of the cycle's rule units of weeks 1-2 include the pace nudge, so the anchor does too).

Evaluation (the choice per lag). Origins oldest first; at each origin the model is fitted only
on the rows whose week is complete at that origin (their actuals were known then), refitted every
``retrain_every`` origins, and scored on the origin's rows. Per lag the WAPE of statistical,
rule and learned is measured on the same rows; the learned model is used at a lag only where its
WAPE is strictly lower than the rule's. The cycle's model is then fitted on every backtest row
and predicts the cycle's weeks 1-6 at the as-of.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import lightgbm as lgb
import numpy as np
import pandas as pd

from sop_pipeline.analytics import sensing
from sop_pipeline.analytics.forecasting import last_complete_week

FEATURES = [
    "lag",
    "days_ahead",
    "log_baseline",
    "booked_ratio",
    "usual_booked_share",
    "booked_vs_usual",
    "rule_ratio",
    "pos_pace",
    "promo_discount",
    "season_index",
]
ROW_COLUMNS = ["origin", "sku", "family", "week_start", "lag", "baseline_units", "rule_units"]
GAIN_COLUMNS = [
    "lag",
    "wape_statistical",
    "wape_rule",
    "wape_learned",
    "chosen",
    "gain_points",
    "chosen_gain_vs_statistical_points",
    "n",
    "origins",
    "actual_units",
]
METHOD_RULE, METHOD_LEARNED = "rule", "learned"


@dataclass(frozen=True)
class LearnedSensingConfig:
    max_lag: int = 6
    retrain_every: int = 4
    min_train_rows: int = 200
    min_train_origins: int = 3
    num_boost_round: int = 120
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_in_leaf: int = 20
    max_ratio: float = 4.0
    min_baseline_units: float = 0.5
    pace_weeks: int = 8
    season_base_weeks: int = 4
    seed: int = 7
    anchor: str = "rule"  # the units the ratio target is relative to: "rule" or "statistical"
    validation_share: float = 0.25  # latest target weeks held out to pick the boosting rounds
    early_stopping_rounds: int = 10
    max_bin: int = 16  # coarse bins: scale and family x origin features cannot act as row identifiers
    feature_fraction: float = 1.0
    lambda_l2: float = 0.0
    max_train_rows: int = 100_000


@dataclass
class LearnedSensing:
    gain: pd.DataFrame  # GAIN_COLUMNS, one row per lag 1..max_lag
    chosen: dict[int, str]  # lag -> 'rule' | 'learned'
    sensed: pd.DataFrame | None  # the cycle's rows (sku, week_start, learned_units), None without a model
    train_rows: int
    fits: int
    note: str  # why there is no learned model, or ''


# --------------------------------------------------------------------------- rows + features


def backtest_rows(backtest: pd.DataFrame, max_lag: int = 6) -> pd.DataFrame:
    """The backtest's SKU-weeks at lags 1..max_lag, one row each: origin, sku, family, week_start,
    lag, baseline_units (statistical), rule_units (the rule; = statistical when the backtest has no
    sensed rows, i.e. no orders) and actual_units."""
    cols = [*ROW_COLUMNS, "actual_units"]
    if backtest is None or backtest.empty:
        return pd.DataFrame(columns=cols)
    b = backtest[backtest["method"].isin(["lightgbm", "lightgbm_sensed"]) & backtest["lag"].between(1, max_lag)].assign(
        origin=lambda d: pd.to_datetime(d["origin"]), week_start=lambda d: pd.to_datetime(d["week_start"])
    )
    keys = ["origin", "sku", "family", "week_start", "lag"]
    wide = b.pivot_table(index=keys, columns="method", values="forecast_units", aggfunc="sum", observed=True)
    if "lightgbm" not in wide:
        return pd.DataFrame(columns=cols)
    actual = b.groupby(keys, observed=True)["actual_units"].first()
    out = pd.DataFrame(
        {
            "baseline_units": wide["lightgbm"],
            "rule_units": wide["lightgbm_sensed"] if "lightgbm_sensed" in wide else wide["lightgbm"],
        }
    ).join(actual)
    out = out.dropna(subset=["baseline_units"]).reset_index()
    out["rule_units"] = out.rule_units.fillna(out.baseline_units)
    out["lag"] = out.lag.astype(int)
    return out[cols].sort_values(["origin", "sku", "week_start"]).reset_index(drop=True)


def booked_by_origin(rows: pd.DataFrame, orders: pd.DataFrame | None) -> np.ndarray:
    """Per row: B2B units booked for (sku, week_start) by order lines dated on or before the row's
    origin (not cancelled). Orders booked after the origin never count."""
    if orders is None or orders.empty or rows.empty:
        return np.zeros(len(rows))
    o = orders[orders["status"] != "cancelled"].dropna(subset=["requested_week_start", "order_date"])
    o = pd.DataFrame(
        {
            "sku": o["sku"].astype(str).to_numpy(),
            "week_start": pd.to_datetime(o["requested_week_start"]).to_numpy(),
            "order_date": pd.to_datetime(o["order_date"]).to_numpy(),
            "qty": o["qty"].to_numpy(dtype=float),
        }
    )
    r = pd.DataFrame(
        {
            "row": np.arange(len(rows)),
            "sku": rows["sku"].astype(str).to_numpy(),
            "week_start": pd.to_datetime(rows["week_start"]).to_numpy(),
            "origin": pd.to_datetime(rows["origin"]).to_numpy(),
        }
    )
    m = r.merge(o, on=["sku", "week_start"], how="inner")
    m = m[m.order_date <= m.origin]
    booked = m.groupby("row")["qty"].sum()
    return booked.reindex(np.arange(len(rows))).fillna(0.0).to_numpy()


def _family_daily(pos_family_daily: pd.DataFrame | None) -> pd.DataFrame | None:
    if pos_family_daily is None or pos_family_daily.empty:
        return None
    return pos_family_daily.assign(sales_date=pd.to_datetime(pos_family_daily["sales_date"]))[
        ["family", "sales_date", "units"]
    ]


def pos_pace(pos_family_daily: pd.DataFrame | None, origin: date, weeks: int = 8, prepared: bool = False) -> pd.Series:
    """Per family at ``origin``: POS units of the origin's week so far over the usual units by that
    weekday (see module doc), minus 1. Only days on or before the origin are read. ``prepared``:
    the frame is already ``_family_daily``'s (prepared once for many origins)."""
    d = pos_family_daily if prepared else _family_daily(pos_family_daily)
    if d is None:
        return pd.Series(dtype=float)
    origin_ts = pd.Timestamp(origin)
    monday = origin_ts - pd.Timedelta(days=origin.weekday())
    d = d[d.sales_date <= origin_ts]
    now = d[d.sales_date >= monday].groupby("family")["units"].sum()
    before = d[(d.sales_date < monday) & (d.sales_date >= monday - pd.Timedelta(weeks=weeks))]
    if before.empty:
        return pd.Series(dtype=float)
    n_weeks = max(1, before.sales_date.dt.to_period("W").nunique())
    mean_week = before.groupby("family")["units"].sum() / n_weeks
    upto = before[before.sales_date.dt.day_of_week <= origin.weekday()].groupby("family")["units"].sum()
    share = (upto / before.groupby("family")["units"].sum()).fillna((origin.weekday() + 1) / 7)
    expected = mean_week * share
    pace = now.reindex(expected.index).fillna(0.0) / expected - 1
    return pace.replace([np.inf, -np.inf], np.nan)


def _family_weekly(pos_family_daily: pd.DataFrame | None) -> pd.Series | None:
    d = _family_daily(pos_family_daily)
    if d is None:
        return None
    week = d.sales_date - pd.to_timedelta(d.sales_date.dt.day_of_week, unit="D")
    return d.assign(week_start=week).groupby(["family", "week_start"])["units"].sum()


def season_index(
    weekly: pd.Series | None, families: pd.Series, weeks: pd.Series, origins: pd.Series, base_weeks: int = 4
) -> np.ndarray:
    """Per row: the family's units in the target week a year earlier over its mean week in the
    ``base_weeks`` complete weeks before the origin a year earlier (NaN without that history)."""
    if weekly is None or not len(families):
        return np.full(len(families), np.nan)
    fam = families.astype(str).to_numpy()
    ly = pd.to_datetime(weeks).to_numpy() - np.timedelta64(52 * 7, "D")
    top = weekly.reindex(pd.MultiIndex.from_arrays([fam, ly])).to_numpy(dtype=float)
    last = pd.Series(
        [pd.Timestamp(last_complete_week(o.date())) for o in pd.to_datetime(origins)], dtype="datetime64[ns]"
    ).to_numpy() - np.timedelta64(52 * 7, "D")
    base = np.zeros(len(fam))
    count = np.zeros(len(fam))
    for k in range(base_weeks):
        v = weekly.reindex(pd.MultiIndex.from_arrays([fam, last - np.timedelta64(7 * k, "D")])).to_numpy(dtype=float)
        base += np.nan_to_num(v)
        count += np.isfinite(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = top / (base / count)
    return np.where(np.isfinite(out), out, np.nan)


def promo_discount(rows: pd.DataFrame, promotions: pd.DataFrame | None) -> np.ndarray:
    """Per row: the deepest discount of a promotion on the SKU overlapping the week (0 when none)."""
    if promotions is None or promotions.empty or rows.empty:
        return np.zeros(len(rows))
    p = promotions.dropna(subset=["sku", "start_date", "end_date"])
    p = pd.DataFrame(
        {
            "sku": p["sku"].astype(str).to_numpy(),
            "start": pd.to_datetime(p["start_date"]).to_numpy(),
            "end": pd.to_datetime(p["end_date"]).to_numpy(),
            "disc": p["discount_pct"].fillna(0.0).to_numpy(dtype=float),
        }
    )
    keys = (
        rows[["sku", "week_start"]]
        .drop_duplicates()
        .assign(sku=lambda d: d.sku.astype(str), week_start=lambda d: pd.to_datetime(d.week_start))
    )
    m = keys.merge(p, on="sku", how="inner")
    m = m[(m.start <= m.week_start + pd.Timedelta(days=6)) & (m.end >= m.week_start)]
    best = m.groupby(["sku", "week_start"])["disc"].max()
    got = best.reindex(pd.MultiIndex.from_arrays([rows.sku.astype(str), pd.to_datetime(rows.week_start)]))
    return np.nan_to_num(got.to_numpy(dtype=float), nan=0.0)


def features(
    rows: pd.DataFrame,
    orders: pd.DataFrame | None,
    pos_family_daily: pd.DataFrame | None,
    promotions: pd.DataFrame | None,
    config: LearnedSensingConfig = LearnedSensingConfig(),
) -> pd.DataFrame:
    """The FEATURES of each row (ROW_COLUMNS), each computed from what was known at its origin."""
    r = rows.reset_index(drop=True)
    origin = pd.to_datetime(r["origin"])
    week = pd.to_datetime(r["week_start"])
    base = r["baseline_units"].to_numpy(dtype=float)
    denom = np.maximum(base, config.min_baseline_units)
    booked = booked_by_origin(r, orders)
    share = np.full(len(r), np.nan)
    pace = np.full(len(r), np.nan)
    days = (week - origin).dt.days.to_numpy()
    # the order lines and the daily POS prepared once, not once per origin (the same rows per origin)
    live = sensing.live_orders(orders) if orders is not None and len(orders) else None
    daily = _family_daily(pos_family_daily)
    for o, idx in r.groupby(origin, sort=True).indices.items():
        od = pd.Timestamp(o).date()
        if live is not None:
            uniq = sorted(set(days[idx].tolist()))
            curve = sensing.booking_curve(None, od, uniq, live=live)
            share[idx] = curve.reindex(days[idx]).to_numpy(dtype=float)
        pc = pos_pace(daily, od, config.pace_weeks, prepared=True)
        if len(pc):
            pace[idx] = r.family.iloc[idx].astype(str).map(pc).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        vs_usual = np.where(share * denom > 0, booked / (share * denom), np.nan)
    return pd.DataFrame(
        {
            "lag": r["lag"].to_numpy(dtype=float),
            "days_ahead": days.astype(float),
            "log_baseline": np.log1p(np.maximum(base, 0.0)),
            "booked_ratio": booked / denom,
            "usual_booked_share": share,
            "booked_vs_usual": vs_usual,
            "rule_ratio": r["rule_units"].to_numpy(dtype=float) / denom,
            "pos_pace": pace,
            "promo_discount": promo_discount(r, promotions),
            "season_index": season_index(
                _family_weekly(pos_family_daily), r.family, week, origin, config.season_base_weeks
            ),
        }
    )[FEATURES]


# --------------------------------------------------------------------------- model


def anchor_units(rows: pd.DataFrame, config: LearnedSensingConfig) -> np.ndarray:
    """The units the learned ratio multiplies (``config.anchor``): the rule's or the statistical forecast."""
    column = "rule_units" if config.anchor == "rule" else "baseline_units"
    return rows[column].to_numpy(dtype=float)


def fit(
    x: pd.DataFrame,
    baseline: np.ndarray,
    actual: np.ndarray,
    config: LearnedSensingConfig,
    weeks: np.ndarray | None = None,
) -> lgb.Booster:
    """LightGBM on ratio = actual / baseline, L1 objective weighted by the baseline (module doc).

    With ``weeks`` (each row's target week), the number of boosting rounds is chosen by early
    stopping on the latest ``validation_share`` of the target weeks (trained on the earlier weeks
    only, so no week is on both sides), then the model is refitted on every row with that many
    rounds. Without a signal the rounds stay few and the model stays near the anchor."""
    base = np.maximum(np.asarray(baseline, dtype=float), config.min_baseline_units)
    ratio = np.clip(np.asarray(actual, dtype=float) / base, 0.0, config.max_ratio)
    features = x[FEATURES].to_numpy(dtype=float)
    if len(features) > config.max_train_rows:  # a fixed-seed sample bounds the cost at scale
        keep = np.sort(np.random.default_rng(config.seed).choice(len(features), config.max_train_rows, replace=False))
        features, base, ratio = features[keep], base[keep], ratio[keep]
        weeks = None if weeks is None else np.asarray(weeks)[keep]
    params = {
        "objective": "l1",
        "metric": "l1",
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_data_in_leaf": config.min_data_in_leaf,
        "seed": config.seed,
        "num_threads": 1,
        "deterministic": True,
        "force_col_wise": True,
        "verbose": -1,
        "max_bin": config.max_bin,
        "feature_fraction": config.feature_fraction,
        "feature_fraction_seed": config.seed,
        "lambda_l2": config.lambda_l2,
    }
    rounds = config.num_boost_round
    if weeks is not None and config.validation_share > 0:
        w = np.asarray(weeks, dtype="datetime64[ns]")
        distinct = np.unique(w)
        cut = distinct[int(np.floor(len(distinct) * (1 - config.validation_share)))] if len(distinct) > 1 else None
        valid = w >= cut if cut is not None else np.zeros(len(w), dtype=bool)
        if valid.sum() >= config.min_data_in_leaf and (~valid).sum() >= 2 * config.min_data_in_leaf:
            train_set = lgb.Dataset(features[~valid], label=ratio[~valid], weight=base[~valid])
            valid_set = lgb.Dataset(features[valid], label=ratio[valid], weight=base[valid], reference=train_set)
            probe = lgb.train(
                params,
                train_set,
                num_boost_round=config.num_boost_round,
                valid_sets=[valid_set],
                callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
            )
            rounds = max(1, probe.best_iteration)
    data = lgb.Dataset(features, label=ratio, weight=base, feature_name=FEATURES)
    return lgb.train(params, data, num_boost_round=rounds)


def predict(
    model: lgb.Booster, x: pd.DataFrame, baseline: np.ndarray, rule: np.ndarray, config: LearnedSensingConfig
) -> np.ndarray:
    """Learned sensed units: ratio x baseline; the rule's units where the baseline is below
    ``min_baseline_units``. Never negative."""
    base = np.asarray(baseline, dtype=float)
    ratio = np.clip(model.predict(x[FEATURES].to_numpy(dtype=float), num_threads=1), 0.0, config.max_ratio)
    out = np.where(base >= config.min_baseline_units, ratio * base, np.asarray(rule, dtype=float))
    return np.maximum(out, 0.0)


def _wape(f: np.ndarray, a: np.ndarray) -> float:
    total = float(np.sum(a))
    return float(np.sum(np.abs(f - a)) / total) if total > 0 else float("nan")


def rolling_evaluation(
    rows: pd.DataFrame, x: pd.DataFrame, config: LearnedSensingConfig = LearnedSensingConfig()
) -> tuple[pd.DataFrame, int]:
    """Out-of-sample learned units per row (NaN where no model existed yet at its origin) and the
    number of fits: at each origin the model is trained only on rows whose week is complete then."""
    origin = pd.to_datetime(rows["origin"]).to_numpy()
    week = pd.to_datetime(rows["week_start"]).to_numpy()
    base = anchor_units(rows, config)
    rule = rows["rule_units"].to_numpy(dtype=float)
    actual = rows["actual_units"].to_numpy(dtype=float)
    learned = np.full(len(rows), np.nan)
    model, since, fits = None, 0, 0
    for o in np.unique(origin):
        since += 1
        if model is None or since >= config.retrain_every:
            known = week <= np.datetime64(last_complete_week(pd.Timestamp(o).date()))
            if known.sum() >= config.min_train_rows and len(np.unique(origin[known])) >= config.min_train_origins:
                model, since, fits = fit(x[known], base[known], actual[known], config, week[known]), 0, fits + 1
        if model is None:
            continue
        at = origin == o
        learned[at] = predict(model, x[at], base[at], rule[at], config)
    return pd.DataFrame({"learned_units": learned}), fits


def gain_table(rows: pd.DataFrame, learned: np.ndarray, max_lag: int = 6) -> pd.DataFrame:
    """Per lag 1..max_lag on the rows the learned model could be scored on: WAPE of statistical,
    rule and learned, the choice (learned only when strictly lower than the rule) and the gain."""
    scored = rows.assign(learned_units=learned)
    scored = scored[np.isfinite(scored.learned_units)]
    out = []
    for lag in range(1, max_lag + 1):
        g = scored[scored.lag == lag]
        a = g.actual_units.to_numpy(dtype=float)
        w_stat = _wape(g.baseline_units.to_numpy(dtype=float), a) if len(g) else np.nan
        w_rule = _wape(g.rule_units.to_numpy(dtype=float), a) if len(g) else np.nan
        w_learn = _wape(g.learned_units.to_numpy(dtype=float), a) if len(g) else np.nan
        out.append(
            {
                "lag": lag,
                "wape_statistical": w_stat,
                "wape_rule": w_rule,
                "wape_learned": w_learn,
                "n": len(g),
                "origins": int(g.origin.nunique()) if len(g) else 0,
                "actual_units": float(a.sum()),
            }
        )
    return choose(pd.DataFrame(out))


def choose(gain: pd.DataFrame) -> pd.DataFrame:
    """Adds chosen ('learned' only where wape_learned < wape_rule, both finite; else 'rule'), gain_points
    (rule - learned, WAPE points) and the chosen method's gain over the statistical forecast."""
    g = gain.copy()
    learned_wins = np.isfinite(g.wape_learned) & np.isfinite(g.wape_rule) & (g.wape_learned < g.wape_rule)
    g["chosen"] = np.where(learned_wins, METHOD_LEARNED, METHOD_RULE)
    g["gain_points"] = 100 * (g.wape_rule - g.wape_learned)
    chosen_wape = np.where(learned_wins, g.wape_learned, g.wape_rule)
    g["chosen_gain_vs_statistical_points"] = 100 * (g.wape_statistical - chosen_wape)
    g["n"] = g.n.astype(int)
    g["origins"] = g.origins.astype(int)
    return g[GAIN_COLUMNS]


def choice_breaks(gain: pd.DataFrame) -> list[str]:
    """Lags whose chosen method is not the lower-error one (the blocking check's findings)."""
    expected = choose(gain[[c for c in gain.columns if c not in ("chosen",)]])["chosen"].to_numpy()
    bad = gain.chosen.to_numpy() != expected
    return [
        f"lag {r.lag}: chose {r.chosen} with WAPE rule {r.wape_rule:.3f} vs learned {r.wape_learned:.3f}"
        for r in gain[bad].itertuples()
    ]


def method_breaks(sensed: pd.DataFrame, chosen: dict[int, str]) -> list[str]:
    """SKU-weeks of lags 1..6 whose sensed units do not use the method chosen for their lag."""
    lag = sensed.horizon_week.astype(int)
    expected = lag.map(chosen)
    bad = sensed[expected.notna() & (sensed.method != expected)]
    return [
        f"{r.sku} week {pd.Timestamp(r.week_start).date()} (lag {r.horizon_week}): sensed by {r.method}, "
        f"but the backtest chose {chosen[int(r.horizon_week)]}"
        for r in bad.head(5).itertuples()
    ] + ([f"... {len(bad) - 5} more SKU-weeks"] if len(bad) > 5 else [])


def learn(
    backtest: pd.DataFrame,
    cycle_rows: pd.DataFrame,
    orders: pd.DataFrame | None,
    pos_family_daily: pd.DataFrame | None,
    promotions: pd.DataFrame | None,
    config: LearnedSensingConfig = LearnedSensingConfig(),
) -> LearnedSensing:
    """Backtest the learned model per lag, then fit it on every backtest row and predict the cycle.

    cycle_rows: the cycle's SKU-weeks 1..max_lag at the as-of (ROW_COLUMNS: origin = the as-of,
    baseline_units = the statistical forecast, rule_units = the rule's sensed units).
    """
    rows = backtest_rows(backtest, config.max_lag)
    empty_gain = choose(
        pd.DataFrame(
            {
                "lag": range(1, config.max_lag + 1),
                "wape_statistical": np.nan,
                "wape_rule": np.nan,
                "wape_learned": np.nan,
                "n": 0,
                "origins": 0,
                "actual_units": 0.0,
            }
        )
    )
    if len(rows) < config.min_train_rows or rows.origin.nunique() < config.min_train_origins:
        return LearnedSensing(
            empty_gain, {}, None, len(rows), 0, f"too few backtest rows at lags 1-{config.max_lag} ({len(rows)})"
        )
    x = features(rows, orders, pos_family_daily, promotions, config)
    learned, fits = rolling_evaluation(rows, x, config)
    gain = gain_table(rows, learned.learned_units.to_numpy(), config.max_lag)
    # rule-only lags also carry the rule's and statistical WAPE on all their backtest rows
    chosen = dict(zip(gain.lag.astype(int), gain.chosen))
    sensed = None
    if cycle_rows is not None and len(cycle_rows):
        model = fit(x, anchor_units(rows, config), rows.actual_units.to_numpy(), config, rows.week_start.to_numpy())
        fits += 1
        cx = features(cycle_rows, orders, pos_family_daily, promotions, config)
        units = predict(model, cx, anchor_units(cycle_rows, config), cycle_rows.rule_units.to_numpy(), config)
        sensed = cycle_rows[["sku", "week_start", "lag"]].assign(learned_units=units).reset_index(drop=True)
    return LearnedSensing(gain, chosen, sensed, len(rows), fits, "")


def apply(sensed: pd.DataFrame, result: LearnedSensing, as_of: date) -> pd.DataFrame:
    """The rule's sensing table with the learned units on the lags where the learned model won:
    adds ``method`` ('rule' | 'learned') and ``rule_units``; delta and reason follow the units used."""
    out = sensed.copy()
    out["rule_units"] = out["sensed_units"]
    out["method"] = METHOD_RULE
    if result.sensed is None or not len(out):
        return out
    lags = {lag for lag, m in result.chosen.items() if m == METHOD_LEARNED}
    if not lags:
        return out
    got = result.sensed.set_index(["sku", "week_start"])["learned_units"]
    key = pd.MultiIndex.from_arrays([out.sku.astype(str), pd.to_datetime(out.week_start)])
    learned = got.reindex(key).to_numpy(dtype=float)
    use = out.horizon_week.isin(lags).to_numpy() & np.isfinite(learned)
    if not use.any():
        return out
    out.loc[use, "sensed_units"] = learned[use]
    out.loc[use, "method"] = METHOD_LEARNED
    out["delta_units"] = out.sensed_units - out.baseline_units
    with np.errstate(divide="ignore", invalid="ignore"):
        out["delta_pct"] = np.where(out.baseline_units > 0, out.delta_units / out.baseline_units, np.nan)
    g = result.gain.set_index("lag")
    texts = []
    for k, r in zip(np.flatnonzero(use), out[use].itertuples()):
        w = g.loc[int(r.horizon_week)]
        texts.append(
            (
                k,
                f"Learned sensing (LightGBM; at lag {int(r.horizon_week)} its backtest WAPE "
                f"{w.wape_learned:.1%} beats the booking-curve rule's {w.wape_rule:.1%}): "
                f"{r.sensed_units:,.0f} units vs the rule's {r.rule_units:,.0f}. Rule: ",
            )
        )
    reason = out["reason"].to_numpy(dtype=object).copy()
    for k, text in texts:
        reason[k] = text + str(reason[k])
    out["reason"] = reason
    return out


def cycle_rows(sensed: pd.DataFrame, as_of: date, max_lag: int = 6) -> pd.DataFrame:
    """The cycle's SKU-weeks 1..max_lag from the rule's sensing table, as the model's rows."""
    s = sensed[sensed.horizon_week.between(1, max_lag)]
    return pd.DataFrame(
        {
            "origin": pd.Timestamp(as_of),
            "sku": s.sku.astype(str).to_numpy(),
            "family": s.family.astype(str).to_numpy(),
            "week_start": pd.to_datetime(s.week_start).to_numpy(),
            "lag": s.horizon_week.astype(int).to_numpy(),
            "baseline_units": s.baseline_units.to_numpy(dtype=float),
            "rule_units": s.sensed_units.to_numpy(dtype=float),
        }
    ).reset_index(drop=True)


def outside_window_breaks(sensed: pd.DataFrame, forecast: pd.DataFrame, max_lag: int = 6) -> list[str]:
    """Sensing may change weeks 0..max_lag only: a sensed row beyond it, or a baseline that is not the
    published statistical forecast of its SKU-week (weeks 1..max_lag), is a break."""
    problems = [
        f"{r.sku} week {pd.Timestamp(r.week_start).date()} (horizon week {r.horizon_week}) is sensed outside weeks 0-{max_lag}"
        for r in sensed[sensed.horizon_week > max_lag].head(5).itertuples()
    ]
    f = forecast.assign(week_start=pd.to_datetime(forecast.week_start)).set_index(["sku", "week_start"])["units_p50"]
    s = sensed[sensed.horizon_week.between(1, max_lag)]
    stat = f.reindex(pd.MultiIndex.from_arrays([s.sku, pd.to_datetime(s.week_start)])).to_numpy(dtype=float)
    off = ~np.isclose(s.baseline_units.to_numpy(dtype=float), stat, rtol=1e-6, atol=1e-3)
    problems += [
        f"{r.sku} week {pd.Timestamp(r.week_start).date()}: sensing baseline {r.baseline_units:,.2f} is not the "
        f"statistical forecast {v:,.2f}"
        for r, v in list(zip(s[off].itertuples(), stat[off]))[:5]
    ]
    return problems


__all__ = [
    "FEATURES",
    "GAIN_COLUMNS",
    "LearnedSensing",
    "LearnedSensingConfig",
    "apply",
    "backtest_rows",
    "booked_by_origin",
    "choice_breaks",
    "choose",
    "cycle_rows",
    "features",
    "gain_table",
    "learn",
    "method_breaks",
    "outside_window_breaks",
    "pos_pace",
    "promo_discount",
    "rolling_evaluation",
    "season_index",
]
