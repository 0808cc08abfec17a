"""How often can ANY forecast meet issue 16 item 7's two bars? The true model, as a yardstick.

Item 7 asks, per public history (a "set" of n weekly series, the last 13 weeks held out), that
(a) our WAPE be <= the best of statsforecast's AutoETS, AutoTheta, AutoARIMA and CrostonOptimized on
that set, and (b) our p10-p90 band cover 70-90% of the actuals. This script measures how often the
**data-generating model itself** - the best forecast there is - meets each bar, on sets simulated
from a local-level model (a random walk seen through noise: the model simple exponential smoothing
is optimal for, and one every statsforecast model above can represent):

    level(t) = level(t-1) + eta(t),  eta ~ N(0, q * s^2);  y(t) = level(t) + eps(t),  eps ~ N(0, s^2)

* the true forecast is the Kalman filter with the true variances (its mean, and its exact
  predictive normal's 10% and 90% quantiles);
* the four statsforecast models are fitted on the same 100 weeks (season length 1, as
  benchmarks/forecast.py uses for histories shorter than two years) and forecast 13 weeks;
* per set: met = true WAPE <= min of the four models' WAPE; band = true p10-p90 coverage within
  [70%, 90%]; beats_each = the share of the four single models the true forecast is at least as
  accurate as. Averaged over ``--sets`` sets per (series per set, q).

The result bounds what the bar can mean: where the true model meets it on, say, 30% of sets, no
method can be expected to meet it "on any history". Nothing here touches the pipeline.

``--real-sets WORKDIR`` (the band bar only, for the 17 public sets of ``forecast.py --real``): the
series of a real set share shocks (weather, holidays, the market), so the 13 x n actuals of a set
are fewer independent draws than they look. Per set it measures the cross-series correlation rho of
**our pipeline's own backtest errors** (rolling origins before the holdout: scaled residuals of each
series' chosen method, correlated across series over the same (origin, lag) cells; nothing after
the holdout's origin), and, for reference, of our holdout errors. It then simulates the local-level
model with a common share rho in both its shocks (``simulate``'s equicorrelated version), and gives
the probability that the *true* model's p10-p90 lands within 70-90% on a set of that many series.
The sum over the sets is how many a calibrated forecast would be expected to meet the band bar on.

    PYTHONPATH=<bench extra> .venv/bin/python benchmarks/forecast_bar.py [--sets 200] [--seed 20261130]
    PYTHONPATH=<bench extra> .venv/bin/python benchmarks/forecast_bar.py --real-sets /tmp/sop_bench_forecast
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

TRAIN, HORIZON = 100, 13
LEVEL, NOISE_SD = 200.0, 10.0
MODELS = ("AutoETS", "AutoTheta", "AutoARIMA", "CrostonOptimized")


def simulate(rng: np.random.Generator, series: int, q: float) -> np.ndarray:
    """``series`` local-level paths of TRAIN + HORIZON weeks (rows)."""
    level = LEVEL + np.cumsum(rng.normal(0.0, np.sqrt(q) * NOISE_SD, (series, TRAIN + HORIZON)), axis=1)
    return level + rng.normal(0.0, NOISE_SD, level.shape)


def simulate_correlated(rng: np.random.Generator, sets: int, series: int, q: float, rho: float) -> np.ndarray:
    """``sets`` sets of ``series`` local-level paths (sets x series rows, set-major) whose level steps
    and noise each share a common factor with weight rho (pairwise correlation rho, the same
    marginal model as ``simulate``)."""
    t = TRAIN + HORIZON
    a, b = np.sqrt(rho), np.sqrt(1.0 - rho)

    def shocks(sd: float) -> np.ndarray:
        common = rng.normal(0.0, sd, (sets, 1, t))
        return (a * common + b * rng.normal(0.0, sd, (sets, series, t))).reshape(sets * series, t)

    level = LEVEL + np.cumsum(shocks(np.sqrt(q) * NOISE_SD), axis=1)
    return level + shocks(NOISE_SD)


def band_probability(rng: np.random.Generator, series: int, q: float, rho: float, sets: int) -> float:
    """Share of simulated sets on which the true model's p10-p90 covers 70-90% of the set's actuals."""
    hits, done = 0, 0
    chunk = max(1, 40_000 // series)
    while done < sets:
        k = min(chunk, sets - done)
        y = simulate_correlated(rng, k, series, q, rho)
        _, lo, hi = true_forecast(y[:, :TRAIN], q)
        test = y[:, TRAIN:]
        cover = ((test >= lo) & (test <= hi)).reshape(k, series * HORIZON).mean(axis=1)
        hits += int(((cover >= 0.7 - 1e-9) & (cover <= 0.9 + 1e-9)).sum())
        done += k
    return hits / sets


def _mean_offdiagonal(frame: pd.DataFrame, min_periods: int) -> float:
    """Mean pairwise correlation of the columns (pairs with at least ``min_periods`` common rows)."""
    if frame.shape[1] < 2:
        return np.nan
    c = frame.corr(min_periods=min_periods).to_numpy()
    upper = c[np.triu_indices_from(c, k=1)]
    upper = upper[np.isfinite(upper)]
    return float(upper.mean()) if len(upper) else np.nan


def real_set_correlations(workdir: Path) -> pd.DataFrame:
    """Per public set of ``forecast.py --real`` (its training files and our holdout forecasts in
    ``workdir``): series, our band coverage, rho of our backtest errors and of our holdout errors."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from forecast import HORIZON as H, band_coverage, real_datasets  # noqa: E402 (the benchmark's own data)

    from sop_pipeline.analytics import backtest as bt, methods

    rows = []
    for name, history in real_datasets().items():
        origin_monday = history.week_start.max() - pd.Timedelta(weeks=H)
        as_of = (origin_monday + pd.Timedelta(days=6)).date()
        train = history[history.week_start <= origin_monday]
        res = bt.backtest(
            train.assign(week_start=pd.to_datetime(train.week_start).dt.date),
            as_of,
            config=bt.BacktestConfig(sensing=False),
        )
        r = res.series
        f = methods.chosen_forecast(r, res.selection)
        ok = r["scale"].to_numpy(dtype=float) > 0
        resid = pd.DataFrame(
            {
                "cell": r["origin"].astype(str).to_numpy() + "|" + r["lag"].astype(str).to_numpy(),
                "series": r["sku"].astype(str).to_numpy() + "|" + r["location"].astype(str).to_numpy(),
                "e": (r["actual"].to_numpy(dtype=float) - f) / np.where(ok, r["scale"].to_numpy(dtype=float), np.nan),
            }
        ).dropna()
        rho_bt = _mean_offdiagonal(resid.pivot_table(index="cell", columns="series", values="e"), 30)
        ours = pd.read_parquet(workdir / f"real_{name}_ours_ours.parquet")
        actual = history[history.week_start > origin_monday][["sku", "location", "week_start", "units"]]
        m = actual.merge(ours.assign(week_start=pd.to_datetime(ours.week_start)), on=["sku", "location", "week_start"])
        level = train.groupby(["sku", "location"]).units.mean().rename("level").reset_index()
        m = m.merge(level, on=["sku", "location"])
        m["e"] = (m.units - m.f) / m.level.where(m.level > 0)
        m["series"] = m.sku.astype(str) + "|" + m.location.astype(str)
        rho_holdout = _mean_offdiagonal(m.pivot_table(index="week_start", columns="series", values="e"), 8)
        cover = band_coverage(m)["band"]
        rows.append(
            {
                "data": name,
                "series": int(history.groupby(["sku", "location"]).ngroups),
                "our_band": cover,
                "rho_backtest": rho_bt,
                "rho_holdout": rho_holdout,
            }
        )
        print(f"# {rows[-1]}", file=sys.stderr)
    return pd.DataFrame(rows)


def real_sets_table(workdir: Path, sets: int, seed: int, qs: tuple[float, ...]) -> pd.DataFrame:
    """``real_set_correlations`` with, per q, the chance that a calibrated forecast (the true model)
    meets the band bar on a set of that size, without (rho 0) and with its backtest rho."""
    out = real_set_correlations(workdir)
    rng = np.random.default_rng(seed)
    for q in qs:
        for label, rho in (("rho0", np.zeros(len(out))), ("rho", out["rho_backtest"].fillna(0.0).clip(0.0, 0.95))):
            out[f"p_{label}_q{q:g}"] = [
                band_probability(rng, int(n), q, float(r), sets) for n, r in zip(out.series, rho)
            ]
    return out


def true_forecast(train: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kalman filter with the true variances: (mean, p10, p90), each series x HORIZON."""
    ve, vn = NOISE_SD**2, q * NOISE_SD**2
    a, p = train[:, 0].copy(), np.full(len(train), ve)
    for t in range(1, train.shape[1]):
        p = p + vn
        k = p / (p + ve)
        a = a + k * (train[:, t] - a)
        p = (1.0 - k) * p
    h = np.arange(1, HORIZON + 1)
    sd = np.sqrt(p[:, None] + h[None, :] * vn + ve)
    mean = np.repeat(a[:, None], HORIZON, axis=1)
    return mean, mean + norm.ppf(0.1) * sd, mean + norm.ppf(0.9) * sd


def fitted_models(train: np.ndarray) -> dict[str, np.ndarray]:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, CrostonOptimized

    n = len(train)
    df = pd.DataFrame(
        {"unique_id": np.repeat(np.arange(n), TRAIN), "ds": np.tile(np.arange(TRAIN), n), "y": train.ravel()}
    )
    models = [AutoETS(season_length=1), AutoTheta(season_length=1), AutoARIMA(season_length=1), CrostonOptimized()]
    fc = StatsForecast(models=models, freq=1, n_jobs=-1).forecast(df=df, h=HORIZON)
    fc = fc.sort_values(["unique_id", "ds"])
    return {m: fc[m].to_numpy().reshape(n, HORIZON) for m in MODELS}


def run(sets: int, seed: int, sizes: tuple[int, ...], qs: tuple[float, ...]) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        for q in qs:
            y = np.concatenate([simulate(rng, n, q) for _ in range(sets)])
            train, test = y[:, :TRAIN], y[:, TRAIN:]
            mean, lo, hi = true_forecast(train, q)
            fits = fitted_models(train)
            for s in range(sets):
                rows_of = slice(s * n, (s + 1) * n)
                actual = test[rows_of]
                scale = np.abs(actual).sum()
                ours = np.abs(actual - mean[rows_of]).sum() / scale
                theirs = [np.abs(actual - fits[m][rows_of]).sum() / scale for m in MODELS]
                cover = float(((actual >= lo[rows_of]) & (actual <= hi[rows_of])).mean())
                rows.append(
                    {
                        "series": n,
                        "q": q,
                        "met": ours <= min(theirs),
                        "band": 0.7 <= cover <= 0.9,
                        "coverage": cover,
                        "beats_each": float(np.mean([ours <= t for t in theirs])),
                    }
                )
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 10, 20])
    ap.add_argument("--q", type=float, nargs="+", default=[0.05, 0.5])
    ap.add_argument(
        "--real-sets",
        type=Path,
        default=None,
        metavar="WORKDIR",
        help="the band bar on the public sets of a finished `forecast.py --real --workdir WORKDIR` run",
    )
    args = ap.parse_args()
    t0 = time.time()
    if args.real_sets is not None:
        out = real_sets_table(args.real_sets, args.sets, args.seed, tuple(args.q))
        print(f"machine: {platform.machine()}, {platform.python_version()}; {time.time() - t0:.0f} s; seed {args.seed}")
        print(out.to_markdown(index=False, floatfmt=".3f"))
        totals = out.filter(like="p_").sum()
        print(
            f"\nsets meeting the band bar: ours {int(out.our_band.between(0.7 - 1e-9, 0.9 + 1e-9).sum())} of {len(out)}"
        )
        print("expected for a calibrated forecast: " + ", ".join(f"{k} {v:.1f}" for k, v in totals.items()))
        return
    out = run(args.sets, args.seed, tuple(args.sizes), tuple(args.q))
    table = (
        out.groupby(["series", "q"])
        .agg(
            sets=("met", "size"),
            true_model_meets_accuracy=("met", "mean"),
            true_model_meets_band=("band", "mean"),
            mean_coverage=("coverage", "mean"),
            share_of_single_models_beaten=("beats_each", "mean"),
        )
        .reset_index()
    )
    print(f"machine: {platform.machine()}, {platform.python_version()}; {time.time() - t0:.0f} s; seed {args.seed}")
    print(table.to_markdown(index=False, floatfmt=("g", "g", "g", ".3f", ".3f", ".3f", ".3f")))


if __name__ == "__main__":
    main()
