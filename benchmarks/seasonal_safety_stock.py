"""Benchmark: does a seasonal item's safety stock give its fill-rate target over the season?

A seasonal item between seasons holds a safety stock week by week (the plan of record,
`plan_inputs.seasonal_safety_stock`). This script simulates the weekly plan those targets drive
and measures the fill rate it achieves, against the item's target, for three rules:

* `constant`: the 156-week fill-rate policy's one figure, held every week (what the plan held
  before any seasonal rule: the policy of a year that is mostly quiet weeks);
* `k x sqrt(P) x sigma_t` (the rule of a84b770): that policy's k on each week's own band;
* `fill-rate per week` (now): the fill-rate policy of each week's protection interval (the P
  weeks that end with it), with the item's own target.

The simulated plan (lost sales; review every week, R = 1): at the end of week s, order what brings
the inventory position (on hand + open orders) up to the forecast demand of weeks s+1 .. s+P plus
week s+P's safety stock; it arrives at the start of week s+P (lead time L = P - 1 whole weeks).
Demand of week t is drawn from a gamma with the week's forecast mean (p50) and sd (the band's
(p90 - p10) / 2.563): not the normal the policy reads the band as, and independent weeks.
Start: on hand = week 1's safety stock plus its demand, open orders = the forecast of weeks
2 .. P. Fill rate = units sold / units demanded over all weeks; on hand = mean end-of-week stock;
left over = the stock at the end of the last week (after the season).

Profiles: the demo's seasonal line (the 13-week forecast of SKU0027 on the small demo, seed 42:
season opens in week 2, peak 183 a week, lead time 0.08 weeks -> L = 0), and a synthetic season
(8 quiet weeks at 5 a week, a 12-week bell to 200, 8 quiet weeks; sd 35% of the mean, at least 2),
each at lead times of 0, 2 and 4 weeks and fill-rate targets of 90% and 98%. The 156-week policy
of a profile is computed from a year of it (the season once, quiet weeks for the rest).

    .venv/bin/python benchmarks/seasonal_safety_stock.py [--paths 20000] [--seed 20261201]

Prints a markdown table; copy it into benchmarks/README.md with the machine and date.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sop_pipeline.analytics import plan_inputs, safety_stock  # noqa: E402

Z90 = plan_inputs.Z90
# SKU0027's 13-week forecast on the small demo (seed 42): p10, p50, p90 per week
DEMO = np.array(
    [
        (1.35, 3.92, 16.36),
        (12.05, 34.10, 39.78),
        (17.91, 47.11, 56.42),
        (42.65, 111.33, 141.13),
        (40.56, 108.44, 143.97),
        (57.30, 156.38, 191.66),
        (64.19, 176.63, 215.78),
        (65.71, 183.00, 228.75),
        (54.58, 152.61, 190.98),
        (36.31, 100.90, 136.23),
        (39.78, 108.26, 143.20),
        (21.54, 62.03, 80.45),
        (3.83, 10.76, 20.81),
    ]
)


def synthetic() -> tuple[np.ndarray, np.ndarray]:
    weeks = np.arange(12)
    bell = 5.0 + 195.0 * np.sin(np.pi * (weeks + 0.5) / 12) ** 2
    mean = np.concatenate([np.full(8, 5.0), bell, np.full(8, 5.0)])
    return mean, np.maximum(0.35 * mean, 2.0)


def demo() -> tuple[np.ndarray, np.ndarray]:
    return DEMO[:, 1], (DEMO[:, 2] - DEMO[:, 0]) / (2 * Z90)


def policy_row(mean: np.ndarray, sd: np.ndarray, lead: float, target: float) -> pd.DataFrame:
    """The 156-week fill-rate policy of a year of the profile (its weeks once, quiet weeks after)."""
    quiet = float(np.min(mean))
    year_mean = np.concatenate([mean, np.full(52 - len(mean), quiet)])
    year_sd = np.concatenate([sd, np.full(52 - len(sd), float(np.min(sd)))])
    m = year_mean.mean()
    s = np.sqrt(year_mean.var() + (year_sd**2).mean())
    point = pd.DataFrame(
        {
            "sku": ["S"],
            "mean_weekly_demand": [m],
            "sd_weekly_demand": [s],
            "lead_time_mean_weeks": [lead],
            "lead_time_sd_weeks": [0.0],
            "review_period_weeks": [1.0],
            "service_target": [target],
            "demand_pattern": ["intermittent"],
        }
    )
    return safety_stock.safety_stock_policies(point, service_type="fill_rate", exact_loss=True)


def targets(mean: np.ndarray, sd: np.ndarray, lead: float, target: float) -> dict[str, np.ndarray]:
    pol = policy_row(mean, sd, lead, target)
    weeks = pd.date_range("2026-11-23", periods=len(mean), freq="7D")
    forecast = pd.DataFrame(
        {
            "sku": "S",
            "week_start": weeks,
            "units_p10": mean - Z90 * sd,
            "units_p50": mean,
            "units_p90": mean + Z90 * sd,
            "model": "between_seasons",
        }
    )
    cols = ["sku", "k", "service_target", "lead_time_mean_weeks", "lead_time_sd_weeks", "review_period_weeks"]
    now = plan_inputs.seasonal_safety_stock(pol[cols], forecast).safety_stock_units.to_numpy()
    p = float(pol.protection_weeks.iloc[0])
    return {
        "constant": np.full(len(mean), float(pol.safety_stock_units.iloc[0])),
        "k x sqrt(P) x sigma_t": float(pol.k.iloc[0]) * np.sqrt(p) * sd,
        "fill-rate per week (now)": now,
    }


def simulate(mean: np.ndarray, sd: np.ndarray, ss: np.ndarray, lead: int, paths: int, rng) -> dict[str, float]:
    """The weekly plan of the module docstring over `paths` demand paths (lost sales)."""
    n, p = len(mean), lead + 1
    shape = (mean / np.maximum(sd, 1e-9)) ** 2
    scale = np.maximum(sd, 1e-9) ** 2 / np.maximum(mean, 1e-9)
    demand = rng.gamma(shape[None, :], scale[None, :], size=(paths, n))
    ext_mean = np.concatenate([mean, np.full(p, mean[-1])])
    ext_ss = np.concatenate([ss, np.full(p, ss[-1])])
    arriving = np.zeros((paths, n + p))
    arriving[:, 1:p] = mean[1:p]  # the forecast of weeks 2 .. P already on order
    on_hand = np.full(paths, ss[0] + mean[0])
    sold = np.zeros(paths)
    stock_sum = np.zeros(paths)
    for t in range(n):
        on_hand += arriving[:, t]
        s = np.minimum(on_hand, demand[:, t])
        sold += s
        on_hand -= s
        stock_sum += on_hand
        position = on_hand + arriving[:, t + 1 : t + p].sum(axis=1)
        up_to = ext_mean[t + 1 : t + 1 + p].sum() + ext_ss[t + p]  # covers weeks t+1 .. t+P
        arriving[:, t + p] = np.maximum(up_to - position, 0.0)
    return {
        "fill": float(sold.sum() / demand.sum()),
        "on_hand": float(stock_sum.mean() / n),
        "left": float(on_hand.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    print(f"# {platform.machine()}, {platform.python_version()}, paths {args.paths}, seed {args.seed}", file=sys.stderr)
    started = time.perf_counter()
    rows = []
    for name, (mean, sd) in {"demo SKU0027": demo(), "synthetic bell": synthetic()}.items():
        for lead in (0, 2, 4):
            for target in (0.90, 0.98):
                for rule, ss in targets(mean, sd, float(lead), target).items():
                    rng = np.random.default_rng([args.seed, lead, int(target * 100)])
                    r = simulate(mean, sd, ss, lead, args.paths, rng)
                    rows.append(
                        {
                            "profile": name,
                            "L (weeks)": lead,
                            "target": f"{target:.0%}",
                            "rule": rule,
                            "peak SS": round(float(ss.max()), 1),
                            "fill rate": f"{r['fill']:.1%}",
                            "gap (pts)": f"{100 * (r['fill'] - target):+.1f}",
                            "mean on hand": round(r["on_hand"], 1),
                            "left after": round(r["left"], 1),
                        }
                    )
    table = pd.DataFrame(rows)
    header = "| " + " | ".join(table.columns) + " |"
    print(header)
    print("|" + "|".join("---" for _ in table.columns) + "|")
    for r in table.itertuples(index=False):
        print("| " + " | ".join(str(v) for v in r) + " |")
    print(f"# {time.perf_counter() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
