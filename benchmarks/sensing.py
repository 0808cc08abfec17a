"""Learned demand sensing (issue 16 item 5): what it costs and what it gains, on a cycle's warehouse.

Reads the tables the demand_sensing asset reads (forecast_location, demand_backtest, sales orders,
promotions, POS by family and day) from a finished cycle's warehouse, then, back to back and
alternating ``--repeat`` times:
    * baseline: the booking-curve rule alone (``sensing.sense``), as before the learned model;
    * with learned: the rule + ``sensing_model.learn`` + ``apply`` (what the asset runs now).
Prints the seconds of each, the machine load, and the per-lag WAPE table (sensing_gain) for the
default model and the variants tried (``--variants``).

    python benchmarks/sensing.py --data-dir /tmp/x [--repeat 3] [--variants]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import duckdb
import pandas as pd

from sop_pipeline.analytics import demand_inputs as inputs
from sop_pipeline.analytics import sensing
from sop_pipeline.analytics import sensing_model as M

VARIANTS = {
    "default (anchor rule, max_bin 16, early stopping)": {},
    "anchor statistical": {"anchor": "statistical"},
    "max_bin 255": {"max_bin": 255},
    "no early stopping (120 rounds), max_bin 255": {"max_bin": 255, "validation_share": 0.0},
}


def load(data_dir: Path) -> dict:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    q = lambda sql: con.execute(sql).df()  # noqa: E731
    out = {
        "as_of": pd.Timestamp(q("select as_of from meta.cycle").as_of.iloc[0]).date(),
        "location": q("select * from analytics.demand_forecast_location"),
        "backtest": q("select * from analytics.demand_backtest"),
        "orders": q("select * from staging.stg_erp__sales_orders")[inputs.ORDER_COLUMNS],
        "promotions": q("select * from staging.stg_crm__promotions")[inputs.PROMOTION_COLUMNS],
        "pos": q("select * from intermediate.int_pos_family_daily"),
    }
    con.close()
    return out


def rule_only(t: dict) -> pd.DataFrame:
    return sensing.sense(t["location"], t["as_of"], orders=t["orders"], promotions=t["promotions"])


def with_learned(t: dict, config: M.LearnedSensingConfig = M.LearnedSensingConfig()):
    rule = rule_only(t)
    res = M.learn(t["backtest"], M.cycle_rows(rule, t["as_of"]), t["orders"], t["pos"], t["promotions"], config)
    return M.apply(rule, res, t["as_of"]), res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--variants", action="store_true")
    args = ap.parse_args()
    t = load(args.data_dir)
    print(f"as-of {t['as_of']}, backtest rows {len(t['backtest']):,}, load average {os.getloadavg()}")
    base, full = [], []
    for _ in range(args.repeat):
        s = time.perf_counter()
        rule_only(t)
        base.append(time.perf_counter() - s)
        s = time.perf_counter()
        out, res = with_learned(t)
        full.append(time.perf_counter() - s)
    print(f"rule only:    {' '.join(f'{x:.2f}' for x in base)} s")
    print(f"with learned: {' '.join(f'{x:.2f}' for x in full)} s  (fits {res.fits}, train rows {res.train_rows})")
    print(f"added (median): {sorted(full)[len(full) // 2] - sorted(base)[len(base) // 2]:.2f} s")
    print(f"load average after: {os.getloadavg()}")
    print(out.groupby("method").size().to_string())
    variants = VARIANTS if args.variants else {"default": {}}
    for name, kw in variants.items():
        _, r = with_learned(t, dataclasses.replace(M.LearnedSensingConfig(), **kw))
        g = r.gain
        print(f"\n{name}")
        print("| lag | WAPE statistical | WAPE rule | WAPE learned | chosen | gain (pts) | n |")
        print("|---|---|---|---|---|---|---|")
        for row in g.itertuples():
            print(
                f"| {row.lag} | {100 * row.wape_statistical:.1f}% | {100 * row.wape_rule:.1f}% | "
                f"{100 * row.wape_learned:.1f}% | {row.chosen} | {row.gain_points:+.2f} | {row.n} |"
            )


if __name__ == "__main__":
    main()
