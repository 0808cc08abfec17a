"""The backtest's refit schedule against refitting at every origin (issue 15 item 1).

    python benchmarks/backtest_schedule.py [--sizes small medium] [--every 1 4 8] [--workdir DIR]

Runs the pipeline's rolling-origin backtest (``analytics.backtest.backtest``, 26 weekly origins)
on the same weekly history (``benchmarks/forecast.py``'s seeded demo extracts and history) with
the model refitted every k-th origin for each k of ``--every`` (1 = the full rolling origin), and
prints WAPE and bias per method, the difference from k = 1 in WAPE points, model fits and
seconds. Only the ML methods depend on k: the sales forecast and the seasonal naive are scored
on the same rows whatever the schedule.
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
        result = bt.backtest(history, END, promos, sales, orders, config=replace(bt.BacktestConfig(), retrain_every=k))
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
    args = p.parse_args()
    rows = [r for size in args.sizes for r in run(size, args.every, Path(args.workdir))]
    print(table(rows))


if __name__ == "__main__":
    main()
