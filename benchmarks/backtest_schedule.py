"""The backtest's refit schedule against refitting at every origin (issue 15 item 1).

    python benchmarks/backtest_schedule.py [--sizes small medium] [--every 1 4 8] [--workdir DIR]
    python benchmarks/backtest_schedule.py --calibration-weeks 0 52 [--sizes ...] [--repeat 2]

Runs the pipeline's rolling-origin backtest (``analytics.backtest.backtest``, 26 weekly origins)
on the same weekly history (``benchmarks/forecast.py``'s seeded demo extracts and history) with
the model refitted every k-th origin for each k of ``--every`` (1 = the full rolling origin), and
prints WAPE and bias per method, the difference from k = 1 in WAPE points, model fits and
seconds. Only the ML methods depend on k: the sales forecast and the seasonal naive are scored
on the same rows whatever the schedule.

``--calibration-weeks W ...``: instead, the default backtest with its calibration origins spanning
W weeks (0 = the 26 weekly origins only, as before 2026-12-01; 52 = the pipeline's default: 13
older origins scored for the calibration only), alternated ``--repeat`` times in one process (the
cost of the calibration origins, with the baseline in the same run): fits, seconds, WAPE, the
selection's forward WAPE (unchanged by construction) and the calibration's forward band. The
process's peak RSS is in the ``#`` lines; it only grows, so compare peaks with one span per run.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


from forecast import END, backtest_inputs  # noqa: E402


def run(size: str, every: list[int], workdir: Path) -> list[dict]:
    from sop_pipeline.analytics import backtest as bt

    history, promos, sales, orders = backtest_inputs(size, workdir)
    rows = []
    for k in every:
        started = time.perf_counter()
        cfg = replace(bt.BacktestConfig(), retrain_every=k, calibration_weeks=0)  # the schedule alone
        result = bt.backtest(history, END, promos, sales, orders, config=cfg)
        summary = result.summary.set_index("method")
        row = {"size": size, "every": k, "fits": result.fits, "seconds": time.perf_counter() - started}
        for m in bt.METHODS:
            if m in summary.index:
                row[f"wape_{m}"] = float(summary.at[m, "wape"])
                row[f"bias_{m}"] = float(summary.at[m, "bias"]) if "bias" in summary else float("nan")
        row["selection_wape"] = result.selection_wape
        rows.append(row)
        print(f"# {row}", file=sys.stderr, flush=True)
    return rows


def run_calibration(size: str, spans: list[int], repeat: int, workdir: Path) -> list[dict]:
    """The default backtest with its calibration origins spanning each of ``spans`` weeks, alternated."""
    import resource

    from sop_pipeline.analytics import backtest as bt

    history, promos, sales, orders = backtest_inputs(size, workdir)
    rows = []
    for rep in range(repeat):
        for span in spans:
            started = time.perf_counter()
            cfg = replace(bt.BacktestConfig(), calibration_weeks=span)
            result = bt.backtest(history, END, promos, sales, orders, config=cfg)
            cal = result.calibration.table
            w = cal["rows"] / cal["rows"].sum()
            row = {
                "size": size,
                "calibration_weeks": span,
                "repeat": rep,
                "fits": result.fits,
                "seconds": time.perf_counter() - started,
                "wape_lightgbm": float(result.summary.set_index("method").at["lightgbm", "wape"]),
                "selection_wape": float(result.selection_wape.get("selected", float("nan"))),
                "forward_band": float((cal["band_coverage"] * w).sum()),
                "max_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
            }
            rows.append(row)
            print(f"# {row}", file=sys.stderr, flush=True)
            del result, cal  # else the last run's rows are held while the next one runs
    return rows


def calibration_table(rows: list[dict]) -> str:
    lines = [
        "| size | calibration weeks | fits | seconds (each run) | WAPE lightgbm | selection WAPE (forward) "
        "| band, older half's quantiles on the newer |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    by: dict = {}
    for r in rows:
        by.setdefault((r["size"], r["calibration_weeks"]), []).append(r)
    for (size, span), rs in by.items():
        r = rs[0]
        secs = " / ".join(f"{x['seconds']:.1f}" for x in rs)
        lines.append(
            f"| {size} | {span} | {r['fits']} | {secs} | {r['wape_lightgbm']:.4f} | {r['selection_wape']:.4f} "
            f"| {r['forward_band']:.1%} |"
        )
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    lines = [
        "| size | refit every | fits | WAPE lightgbm | vs every origin (points) | WAPE lightgbm_sensed | "
        "vs every origin (points) | WAPE sales | WAPE naive | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    full = {r["size"]: r for r in rows if r["every"] == 1}
    for r in rows:
        f = full.get(r["size"])

        def diff(m, r=r, f=f):
            return f"{100 * (r[f'wape_{m}'] - f[f'wape_{m}']):+.2f}" if f else ""

        lines.append(
            f"| {r['size']} | {r['every']} | {r['fits']} | {r['wape_lightgbm']:.4f} | {diff('lightgbm')} "
            f"| {r['wape_lightgbm_sensed']:.4f} | {diff('lightgbm_sensed')} | {r['wape_sales_forecast']:.4f} "
            f"| {r['wape_seasonal_naive']:.4f} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="*", default=["small", "medium"])
    p.add_argument("--every", nargs="*", type=int, default=[1, 4, 8])
    p.add_argument("--workdir", default="/tmp/sop_bench_forecast")
    p.add_argument("--calibration-weeks", nargs="*", type=int, default=None, help="compare calibration spans instead")
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    if args.calibration_weeks:
        spans = args.calibration_weeks
        rows = [r for size in args.sizes for r in run_calibration(size, spans, args.repeat, Path(args.workdir))]
        print(calibration_table(rows))
        return
    rows = [r for size in args.sizes for r in run(size, args.every, Path(args.workdir))]
    print(table(rows))


if __name__ == "__main__":
    main()
