"""Scenarios: `scenario_compare`, the base cycle and a what-if scenario side by side.

A scenario (`sop scenario run`) is the `sop_cycle` job with the `scenario` resource's run config
(`sop_pipeline.resources.ScenarioConfig`): the assets that read a changed input apply it through
`analytics.scenario`. After the marts, this asset computes the compared figures of the scenario's
own marts (plan_of_record, datapack_capacity, datapack_cash_projection) and of the base cycle's
published serving file (`base_serving_file`), and writes `marts.scenario_compare`, which publish
copies into the scenario's serving file. In a base cycle (no scenario) the table is empty.

Why a Python asset and not a dbt model: the base figures live in another DuckDB file (the base
data dir's serving file), which the dbt project does not read, and the figures are computed by the
same function on both sides (`analytics.scenario.figures`), so base and scenario cannot drift.
"""

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from sop_pipeline.analytics import scenario as scenario_lib
from sop_pipeline.assets.common import OWNERS, WAREHOUSE_IO, as_of_date, markdown_table, table_in
from sop_pipeline.resources import WAREHOUSE_POOL, ScenarioConfig

COMPARE = dg.AssetKey(["marts", "scenario_compare"])
FIGURE_TABLES = ("plan_of_record", "datapack_capacity", "datapack_cash_projection", "sequence_summary")


def read_serving_figures(serving_file: str | Path, cycle_id) -> pd.DataFrame:
    """The compared figures of the cycle published in ``serving_file`` (a read-only DuckDB file);
    ScenarioError when it is missing or serves another cycle."""
    import duckdb

    path = Path(serving_file)
    if not path.exists():
        raise scenario_lib.ScenarioError(
            f"base serving file {path} does not exist: run the base cycle first (sop run --data-dir ...)"
        )
    con = duckdb.connect(str(path), read_only=True)
    try:
        served = con.execute("select cycle from _publish_info").fetchone()[0]
        if str(served) != str(cycle_id):
            raise scenario_lib.ScenarioError(
                f"base serving file {path} serves cycle {served}, the scenario is cycle {cycle_id}: "
                "re-run the base cycle, or run the scenario with --as-of of the base"
            )
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        frames = {t: con.execute(f"select * from {t}").df() if t in tables else None for t in FIGURE_TABLES}
    finally:
        con.close()
    return scenario_lib.figures(*(frames[t] if frames[t] is not None else pd.DataFrame() for t in FIGURE_TABLES))


@dg.asset(
    key=COMPARE,
    group_name="plan",
    owners=OWNERS["plan"],
    kinds={"python", "duckdb"},
    io_manager_key=WAREHOUSE_IO,
    ins={
        "cycle": table_in("meta", "cycle"),
        "plan_of_record": table_in("marts", "plan_of_record"),
        "plan_of_record_family": table_in("marts", "plan_of_record_family"),
        "datapack_capacity": table_in("marts", "datapack_capacity"),
        "datapack_cash_projection": table_in("marts", "datapack_cash_projection"),
        "sequence_summary": table_in("marts", "sequence_summary"),
    },
    pool=WAREHOUSE_POOL,
    description="Scenario vs base side by side (a `sop scenario run`; empty in a base cycle): per family and in "
    "total demand units, revenue, margin, net margin, projected fill rate, stockout SKU-weeks, cut units and "
    "inventory value at the end of the horizon; in total working capital and cash tied up; per resource available "
    "hours, the plan's hours and load %. Base figures from the base data dir's serving file, scenario "
    "figures from this cycle's marts, both by analytics.scenario.figures; delta and delta %.",
    check_specs=[
        dg.AssetCheckSpec(
            "scenario_compare_reconciles",
            asset=COMPARE,
            blocking=True,
            description="The scenario's demand units, revenue, margin and net margin per family and in total equal "
            "its plan_of_record_family; the families and the total agree (sum of families = total).",
        )
    ],
)
def scenario_compare(
    scenario: ScenarioConfig,
    cycle: pd.DataFrame,
    plan_of_record: pd.DataFrame,
    plan_of_record_family: pd.DataFrame,
    datapack_capacity: pd.DataFrame,
    datapack_cash_projection: pd.DataFrame,
    sequence_summary: pd.DataFrame,
):
    spec = scenario.spec()
    cycle_id = as_of_date(cycle)
    if spec is None:
        out = scenario_lib.empty_compare()
        yield dg.Output(out, metadata={"scenario": "none (base cycle)", "rows": 0})
        yield dg.AssetCheckResult(check_name="scenario_compare_reconciles", passed=True, description="base cycle")
        return
    mine = scenario_lib.figures(plan_of_record, datapack_capacity, datapack_cash_projection, sequence_summary)
    try:
        base = read_serving_figures(scenario.base_serving_file, cycle_id)
    except scenario_lib.ScenarioError as exc:
        raise dg.Failure(description=str(exc)) from None
    out = scenario_lib.compare(base, mine, spec["name"], cycle_id)
    breaks = reconcile_breaks(out, plan_of_record_family)
    totals = out[out.scope == "total"][["metric", "base_value", "scenario_value", "delta", "delta_pct"]]
    yield dg.Output(
        out,
        metadata={
            "scenario": spec["name"],
            "base_serving_file": dg.MetadataValue.path(scenario.base_serving_file),
            "rows": len(out),
            "totals": dg.MetadataValue.md(markdown_table(totals, 20)),
        },
    )
    yield dg.AssetCheckResult(
        check_name="scenario_compare_reconciles",
        passed=not breaks,
        description="scenario figures agree with plan_of_record_family"
        if not breaks
        else f"scenario_compare: {len(breaks)} figure(s) disagree: {'; '.join(breaks[:5])}",
    )


def reconcile_breaks(compare: pd.DataFrame, family_plan: pd.DataFrame) -> list[str]:
    """Where the scenario's demand units, revenue, margin or net margin (per family, total) differ
    from plan_of_record_family, or the families do not add up to the total."""
    breaks = []
    metrics = ["demand_units", "revenue", "margin"] + (["net_margin"] if "net_margin" in family_plan else [])
    fam = family_plan.groupby("family")[metrics].sum()
    for metric in metrics:
        rows = compare[compare.metric == metric]
        families = rows[rows.scope == "family"].set_index("key")["scenario_value"]
        expected = fam[metric].reindex(families.index)
        for key in families.index:
            if not np.isclose(families[key], expected.get(key, np.nan), rtol=1e-9, atol=1e-6):
                breaks.append(f"{metric} of {key}: {families[key]:.6g} vs plan_of_record_family {expected.get(key)}")
        total = rows[rows.scope == "total"]["scenario_value"]
        if len(total) and not np.isclose(total.iloc[0], families.sum(), rtol=1e-9, atol=1e-6):
            breaks.append(f"{metric}: total {total.iloc[0]:.6g} != sum of families {families.sum():.6g}")
    return breaks


ASSETS = [scenario_compare]
