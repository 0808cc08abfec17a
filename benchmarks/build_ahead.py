"""Build-ahead in the plan of record: what it saves and what it costs, against the plan without it.

    python benchmarks/build_ahead.py [--sizes 50 500 5000] [--seeds 1 2 3]

Synthetic plans (not the demo generator's): n made SKUs over 13 weeks on two shared resources (a
tooling bottleneck and a labour pool), demand with a per-SKU level, noise and a mid-horizon peak
(weeks 8-11 at 1.3-1.6x), bottleneck hours sized to 95% of the mean weekly need (so the peak
weeks are short and the early weeks have room), minimum runs of 0-2 weeks of demand, shelf lives
of 45-540 days (build-ahead within a third of them), a quarter of the SKUs at a thin margin. Each
plan runs through ``plan.supply_plan_and_offloads`` twice in the same process:

* baseline: ``build_ahead_weeks`` = 0 for every SKU (the plan before build-ahead: what does not fit
  moves to a later week or is cut);
* build-ahead: the SKUs' own limits.

Per run: units short (sum over SKU-weeks of the backorder, max(0, -projected)), stockout SKU-weeks,
units built ahead, inventory carried (sum of positive projected inventory), seconds, and the
``avoidable_shortfalls`` rows of each plan (the plan's check; the baseline's show what it left),
and the build-ahead rounds run ("(cap)": stopped at ``BUILD_AHEAD_ROUNDS`` with more to place).

    python benchmarks/build_ahead.py --warehouse data/warehouse.duckdb [--warehouse ...]

does the same on a cycle's warehouse (a `sop run`'s): the plan asset alone through Dagster on a
copy, twice (baseline: the planner with every SKU's build-ahead limit at 0 weeks), with the
blocking check's verdict and the plan's rows outside the frozen weeks.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sop_pipeline.analytics import plan  # noqa: E402
from tests.fixtures.plans import plan_random, random_plan_inputs as instance  # noqa: E402


def run(inst: dict, limit: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    t0 = time.perf_counter()
    p, offloads = plan_random(inst, limit)
    return p, offloads, time.perf_counter() - t0


def figures(inst: dict, p: pd.DataFrame, offloads: pd.DataFrame, seconds: float, limit: pd.Series) -> dict:
    avoidable = plan.avoidable_shortfalls(
        p, inst["items"], inst["routings"], inst["hours"], offloads, inst["min_lot"], build_ahead_weeks=inst["limit"]
    )
    load = plan.resource_load(p, inst["routings"], inst["hours"], offloads)
    return {
        "units_short": float((-p.projected_inventory_units).clip(lower=0).sum()),
        "stockout_weeks": int((p.service_risk == "stockout").sum()),
        "built_ahead": float(p.built_ahead_units.sum()),
        "inventory": float(p.projected_inventory_units.clip(lower=0).sum()),
        "avoidable": len(avoidable),
        "over_hours": int((load.planned_hours > load.available_hours + 1e-6).sum()),
        "seconds": seconds,
        "rounds": f"{p.attrs.get('build_ahead_rounds', 0)}{'' if p.attrs.get('build_ahead_settled', True) else ' (cap)'}",
    }


def on_warehouse(path: Path) -> None:
    """The plan asset on copies of a cycle's warehouse, with and without build-ahead."""
    import shutil
    import tempfile

    import dagster as dg
    import duckdb

    from sop_pipeline.assets import plan as plan_assets
    from sop_pipeline.io_manager import WarehouseIOManager
    from sop_pipeline.resources import Economics, ScenarioConfig, Warehouse

    real = plan.supply_plan_and_offloads

    def without(*args, **kwargs):
        kwargs["build_ahead_weeks"] = pd.Series(0.0, index=pd.Index(args[0].sku.unique()))
        return real(*args, **kwargs)

    row = {}
    for name, planner in (("baseline", without), ("build-ahead", real)):
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "warehouse.duckdb"
            shutil.copy(path, copy)
            warehouse = Warehouse(path=str(copy))
            plan.supply_plan_and_offloads = planner
            t0 = time.perf_counter()
            result = dg.materialize(
                [plan_assets.plan_of_record, *[dg.AssetSpec(k) for k in plan_assets.plan_of_record.dependency_keys]],
                raise_on_error=False,
                resources={
                    "warehouse": warehouse,
                    "warehouse_io_manager": WarehouseIOManager(warehouse=warehouse),
                    "scenario": ScenarioConfig(),
                    "economics": Economics(),
                },
            )
            seconds = time.perf_counter() - t0
            plan.supply_plan_and_offloads = real
            check = {e.check_name: e for e in result.get_asset_check_evaluations()}["no_avoidable_shortfall"]
            with duckdb.connect(str(copy), read_only=True) as con:
                p = con.execute("select * from analytics.plan_of_record").df()
        free = p[p.supply_source != "frozen"]
        row[name] = {
            "short_weeks": int(((free.moved_out_units + free.cut_units) > 1e-6).sum()),
            "units_short": float((-free.projected_inventory_units).clip(lower=0).sum()),
            "stockouts": int((free.service_risk == "stockout").sum()),
            "built": float(p.built_ahead_units.sum()),
            "inventory": float(p.projected_inventory_units.clip(lower=0).sum()),
            "check": f"{'passed' if check.passed else 'FAILED'} ({check.metadata['rows_breaking'].value} rows)",
            "seconds": seconds,
        }
    b, a = row["baseline"], row["build-ahead"]
    print(
        f"| {path} | {b['short_weeks']} / {a['short_weeks']} | {b['units_short']:,.0f} / {a['units_short']:,.0f} "
        f"| {b['stockouts']} / {a['stockouts']} | {a['built']:,.0f} | {b['inventory']:,.0f} / {a['inventory']:,.0f} "
        f"| {b['check']} / {a['check']} | {b['seconds']:.1f} / {a['seconds']:.1f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500, 5000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--warehouse", type=Path, nargs="*", default=[])
    args = parser.parse_args(argv)
    if args.warehouse:
        print(
            "| warehouse | SKU-weeks short of capacity (unfrozen): baseline / build-ahead | units short | stockout "
            "SKU-weeks | units built ahead | inventory carried | check no_avoidable_shortfall | seconds (plan asset) |"
        )
        print("|---|---|---|---|---:|---|---|---|")
        for path in args.warehouse:
            on_warehouse(path)
        return 0
    print(
        "| SKUs | seed | units short: baseline / build-ahead | stockout SKU-weeks | units built ahead "
        "| inventory carried (unit-weeks) | avoidable shortfalls | resource-weeks over | seconds | rounds |"
    )
    print("|---:|---:|---|---|---:|---|---|---|---|---:|")
    for n in args.sizes:
        for seed in args.seeds:
            inst = instance(n, seed)
            base = figures(inst, *run(inst, pd.Series(0.0, index=inst["limit"].index)), None)
            ahead = figures(inst, *run(inst, inst["limit"]), None)
            print(
                f"| {n:,} | {seed} | {base['units_short']:,.0f} / {ahead['units_short']:,.0f} "
                f"| {base['stockout_weeks']} / {ahead['stockout_weeks']} | {ahead['built_ahead']:,.0f} "
                f"| {base['inventory']:,.0f} / {ahead['inventory']:,.0f} | {base['avoidable']} / {ahead['avoidable']} "
                f"| {base['over_hours']} / {ahead['over_hours']} | {base['seconds']:.2f} / {ahead['seconds']:.2f} | {ahead['rounds']} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
