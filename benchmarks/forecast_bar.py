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

    PYTHONPATH=<bench extra> .venv/bin/python benchmarks/forecast_bar.py [--sets 200] [--seed 20261130]
"""

from __future__ import annotations

import argparse
import platform
import time

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
    args = ap.parse_args()
    t0 = time.time()
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
