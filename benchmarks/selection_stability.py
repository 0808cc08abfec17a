"""Week-to-week stability of the method selection (issue 16 item 4): the pipeline's backtest at
consecutive weekly as-of dates, each cycle's class defaults tested against the fixed prior (as
before 2026-12-01) or against the previous cycle's defaults (the incumbent, as the pipeline does now).

    python benchmarks/selection_stability.py [--sizes small medium] [--weeks 6] [--workdir DIR]

For each size, the demo's weekly history (``benchmarks/forecast.py``'s seeded extracts) is cut at
each of the last ``--weeks`` Sundays up to the demo's as-of; the backtest (``analytics.backtest``,
26 weekly origins) runs once per cycle, and both rules select from its series rows
(``methods.select``: the fixed prior, or ``prior=methods.incumbent(previous cycle's selection)``).
Prints, per cycle, each rule's class defaults and how many series changed method since the
previous cycle, and a total per rule.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402

from forecast import END, backtest_inputs  # noqa: E402


def run(size: str, weeks: int, workdir: Path) -> list[dict]:
    from sop_pipeline.analytics import backtest as bt
    from sop_pipeline.analytics import methods

    history, promos, _, _ = backtest_inputs(size, workdir)
    week = pd.to_datetime(history.week_start)
    rows, previous = [], {"fixed prior": None, "incumbent": None}
    for k in range(weeks - 1, -1, -1):
        as_of = END - pd.Timedelta(weeks=k).to_pytimedelta()
        cut = history[week <= pd.Timestamp(as_of) - pd.Timedelta(days=6)]
        started = time.perf_counter()
        res = bt.backtest(cut, as_of, promotions=promos, config=bt.BacktestConfig(sensing=False))
        seconds = time.perf_counter() - started
        for rule, prev in previous.items():
            prior = methods.incumbent(prev) if rule == "incumbent" else None
            sel = methods.select(res.series, prior=prior)
            row = {"size": size, "as_of": as_of, "rule": rule, "series": len(sel), "seconds": round(seconds, 1)}
            row["defaults"] = ", ".join(
                f"{c}: {m}" for c, m in sorted(sel.groupby("intermittency").default_method.first().items())
            )
            if prev is not None:
                j = sel.set_index(["sku", "location"]).join(
                    prev.set_index(["sku", "location"])[["method"]], rsuffix="_prev", how="inner"
                )
                row["changed"] = int((j.method != j.method_prev).sum())
            rows.append(row)
            previous[rule] = sel
            print(f"# {row}", file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| size | as-of | rule | class defaults | series that changed method since the previous cycle |",
        "|---|---|---|---|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['size']} | {r['as_of']} | {r['rule']} | {r['defaults']} | {r.get('changed', '')} |")
    totals = {}
    for r in rows:
        if "changed" in r:
            key = (r["size"], r["rule"])
            n, weeks = totals.get(key, (0, 0))
            totals[key] = (n + r["changed"], weeks + 1)
    lines.append("")
    for (size, rule), (n, weeks) in totals.items():
        lines.append(f"- {size}, {rule}: {n} method changes over {weeks} weekly cycles")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="*", default=["small"])
    p.add_argument("--weeks", type=int, default=6, help="consecutive weekly cycles, ending at the demo's as-of")
    p.add_argument("--workdir", default="/tmp/sop_bench_forecast")
    args = p.parse_args()
    rows = []
    for size in args.sizes:
        rows += run(size, args.weeks, Path(args.workdir))
    print(table(rows))


if __name__ == "__main__":
    main()
