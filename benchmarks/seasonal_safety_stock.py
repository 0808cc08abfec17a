"""Benchmark: does a seasonal item's safety stock give its fill-rate target over the season?

A seasonal item between seasons holds a safety stock week by week (the plan of record,
`plan_inputs.seasonal_safety_stock`). This script simulates the weekly plan those targets drive
and measures the fill rate it achieves, against the item's target, for these rules:

* `constant`: the 156-week fill-rate policy's one figure, held every week (what the plan held
  before any seasonal rule: the policy of a year that is mostly quiet weeks);
* `k x sqrt(P) x sigma_t` (the rule of a84b770): that policy's k on each week's own band;
* `fill-rate per week, p50 +- normal sd` (the rule of 5fc88a3): the fill-rate policy of each
  week's protection interval (the P weeks that end with it), with the item's own target, each
  week read as mean p50 and sd (p90 - p10) / 2.563;
* `fill-rate per week, band's 3 points` (the rule of 2922bdd): the same policy with each week's
  mean and sd read from its three quantiles (Swanson's 30-40-30, `three_point_moments` below)
  and the gap from the p50 the plan covers to that mean added (the minimum cycle service held
  above the p50);
* `fill-rate per week, split normal` (now, `plan_inputs.seasonal_safety_stock`): each week's band
  read as a split normal (`plan_inputs.band_split`); the stock above the p50 answers to the upper
  half, a normal of sd (p90 - p50) / 1.2816, and the fill rate's budget is (1 - target) of the
  band's mean. The three per-week rules agree on a symmetric band, so only "now" is shown there.

The simulated plan (`plan_inputs.simulate_weekly_plan`, lost sales; review every week, R = 1): at
the end of week s, order what brings the inventory position (on hand + open orders) up to the
forecast (p50) of weeks s+1 .. s+P plus week s+P's safety stock; it arrives at the start of week
s+P (lead time L = P - 1 whole weeks). Demand of week t is drawn from its band
(`plan_inputs.band_demand_paths`: quantile function linear between p10, p50 and p90, exponential
tails beyond with a normal's mean excess, clipped at 0): neither reading the rules make, and
independent weeks. Start: on hand = week 1's safety stock plus its p50, open orders = the forecast
of weeks 2 .. P. Fill rate = units sold / units demanded over all weeks; on hand = mean
end-of-week stock; left over = the stock at the end of the last week (after the season). "fill,
backorders" is the same plan and demand with shortages waiting for supply: the world of the
fill-rate formula, and of the plan's `seasonal_safety_stock_on_target` check.

Profiles: the demo's seasonal line (the 13-week forecast of SKU0027 on the small demo, seed 42:
season opens in week 2, peak 183 a week), a skewed opening (SKU0147 on the medium demo, seed 227:
week 1's band 1.5 / 3.9 / 97.5, the season may open that week), and a synthetic season (8 quiet
weeks at 5 a week, a 12-week bell to 200, 8 quiet weeks; sd 35% of the mean, at least 2,
symmetric), each at lead times of 0, 2 and 4 weeks and fill-rate targets of 90% and 98%. The
156-week policy of a profile is computed from a year of it (the season once, quiet weeks after).

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
from scipy import special

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

# SKU0147's 13-week forecast on the medium demo (seed 227): a band skewed far above its p50 in the
# week before the season opens and in its last week (the season may open early or run on)
SKEWED = np.array(
    [
        (1.45, 3.88, 97.50),
        (8.66, 27.04, 104.98),
        (71.17, 192.51, 284.37),
        (150.01, 374.50, 499.21),
        (167.87, 414.54, 547.12),
        (174.51, 431.02, 576.23),
        (188.54, 463.75, 615.73),
        (172.07, 411.00, 539.83),
        (157.49, 378.46, 495.56),
        (130.96, 308.07, 417.75),
        (118.13, 273.79, 364.73),
        (22.64, 63.00, 165.65),
        (3.26, 9.31, 74.37),
    ]
)


def synthetic() -> np.ndarray:
    weeks = np.arange(12)
    bell = 5.0 + 195.0 * np.sin(np.pi * (weeks + 0.5) / 12) ** 2
    mean = np.concatenate([np.full(8, 5.0), bell, np.full(8, 5.0)])
    sd = np.maximum(0.35 * mean, 2.0)
    return np.column_stack([mean - Z90 * sd, mean, mean + Z90 * sd])


def policy_row(band: np.ndarray, lead: float, target: float) -> pd.DataFrame:
    """The 156-week fill-rate policy of a year of the profile (its weeks once, quiet weeks after)."""
    mean, sd = three_point_moments(band[:, 0], band[:, 1], band[:, 2])
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


def three_point_moments(p10, p50, p90) -> tuple[np.ndarray, np.ndarray]:
    """Swanson's 30-40-30 reading of a band (the rule of 2922bdd): mass 0.3, 0.4 and 0.3 on p10, p50
    and p90, its variance scaled by 1 / (0.6 Z90^2) so that a normal's band gives its mean and sd."""
    q10, q50, q90 = plan_inputs.ordered_band(p10, p50, p90)
    mean = 0.3 * q10 + 0.4 * q50 + 0.3 * q90
    var = (0.3 * (q10 - mean) ** 2 + 0.4 * (q50 - mean) ** 2 + 0.3 * (q90 - mean) ** 2) / (0.6 * Z90**2)
    return mean, np.sqrt(var)


def moments_rule(band: np.ndarray, pol: pd.DataFrame, mean: np.ndarray, sd: np.ndarray, gap: bool) -> np.ndarray:
    """An earlier per-week rule: the fill-rate policy (the module's smooth rule: normal, or gamma
    where a normal would put mass below 0) of each protection interval's mean and sd; with `gap`,
    plus the interval's mean less its p50 sum, at least the minimum cycle service above the p50."""
    p = float(pol.protection_weeks.iloc[0])
    keys = np.full(len(band), "S")
    mu_p, var_p = plan_inputs.protection_interval_sums(keys, mean, sd**2, np.full(len(band), p))
    points = pd.DataFrame(
        {
            "mean_weekly_demand": mu_p / p,
            "sd_weekly_demand": np.sqrt(var_p / p),
            "lead_time_mean_weeks": float(pol.lead_time_mean_weeks.iloc[0]),
            "lead_time_sd_weeks": 0.0,
            "review_period_weeks": 1.0,
            "service_target": float(pol.service_target.iloc[0]),
            "demand_pattern": "smooth",
        }
    )
    out = safety_stock.safety_stock_policies(points, service_type="fill_rate", exact_loss=True)
    units = out.safety_stock_units.to_numpy(float)
    if gap:
        median_p, _ = plan_inputs.protection_interval_sums(keys, band[:, 1], sd**2, np.full(len(band), p))
        level = min(float(pol.service_target.iloc[0]), safety_stock.DEFAULT_MIN_CYCLE_SERVICE)
        floor = max(float(special.ndtri(level)), 0.0) * out.sigma_dl_units.to_numpy(float)
        units = np.where(units > 0, np.maximum(units + mu_p - median_p, floor), units)
    return units


def targets(band: np.ndarray, lead: float, target: float) -> dict[str, np.ndarray]:
    pol = policy_row(band, lead, target)
    weeks = pd.date_range("2026-11-23", periods=len(band), freq="7D")
    forecast = pd.DataFrame(
        {"sku": "S", "week_start": weeks, "units_p10": band[:, 0], "units_p50": band[:, 1], "units_p90": band[:, 2]}
    ).assign(model="between_seasons")
    cols = ["sku", "k", "service_target", "lead_time_mean_weeks", "lead_time_sd_weeks", "review_period_weeks"]
    now = plan_inputs.seasonal_safety_stock(pol[cols], forecast).safety_stock_units.to_numpy()
    p = float(pol.protection_weeks.iloc[0])
    p10, p50, p90 = band[:, 0], band[:, 1], band[:, 2]
    normal = moments_rule(band, pol, np.maximum(p50, 0.0), np.maximum(p90 - p10, 0.0) / (2 * Z90), gap=False)
    three = moments_rule(band, pol, *three_point_moments(p10, p50, p90), gap=True)
    rules = {
        "constant": np.full(len(band), float(pol.safety_stock_units.iloc[0])),
        "k x sqrt(P) x sigma_t": float(pol.k.iloc[0]) * np.sqrt(p) * (p90 - p10) / (2 * Z90),
        "fill-rate per week, p50 +- normal sd": normal,
        "fill-rate per week, band's 3 points": three,
        "fill-rate per week, split normal (now)": now,
    }
    if np.allclose(normal, now) and np.allclose(three, now):  # a symmetric band: the readings agree
        del rules["fill-rate per week, p50 +- normal sd"], rules["fill-rate per week, band's 3 points"]
    return rules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    print(f"# {platform.machine()}, {platform.python_version()}, paths {args.paths}, seed {args.seed}", file=sys.stderr)
    started = time.perf_counter()
    rows = []
    profiles = {"demo SKU0027": DEMO, "skewed opening SKU0147": SKEWED, "synthetic bell": synthetic()}
    for name, band in profiles.items():
        for lead in (0, 2, 4):
            for target in (0.90, 0.98):
                for rule, ss in targets(band, float(lead), target).items():
                    rng = np.random.default_rng([args.seed, lead, int(target * 100)])
                    demand = plan_inputs.band_demand_paths(band[:, 0], band[:, 1], band[:, 2], args.paths, rng)
                    r = plan_inputs.simulate_weekly_plan(band[:, 1], ss, lead + 1, demand, backorders=False)
                    b = plan_inputs.simulate_weekly_plan(band[:, 1], ss, lead + 1, demand, backorders=True)
                    rows.append(
                        {
                            "profile": name,
                            "L (weeks)": lead,
                            "target": f"{target:.0%}",
                            "rule": rule,
                            "peak SS": round(float(ss.max()), 1),
                            "fill rate": f"{r['fill']:.1%}",
                            "gap (pts)": f"{100 * (r['fill'] - target):+.1f}",
                            "fill, backorders": f"{b['fill']:.1%}",
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
