"""The plan's inventory policy around `safety_stock`: which inputs make a stock point, which service
type the plan uses, how the simulation validates the policies and which curve point the meeting chose.

Pure pandas: frames in (the warehouse tables the Dagster assets load), frames and numbers out.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from sop_pipeline.analytics import plan as plan_lib, safety_stock as ss

# The service definition the plan uses: fill rate (beta), the share of demand met from stock -
# the one planners and customers feel. Both types are computed and kept in analytics.safety_stock.
PLAN_SERVICE_TYPE = "fill_rate"
# Order quantity under continuous review (review_period_weeks = 0 in the config): one week of
# demand. Under the weekly review the policy is order-up-to and each order is a week's demand.
ORDER_COVER_WEEKS = 1.0
# Without purchase orders/receipts or production orders there is no observed lead time: one week
# is assumed (lead_time_source says so in analytics.safety_stock).
DEFAULT_LEAD_TIME_WEEKS = 1.0
# The forecast whose one-week-ahead error measures demand variability (backtest method and lag).
ERROR_FORECAST_METHOD = "lightgbm"
ERROR_FORECAST_LAG = 1

SIM_TOLERANCE_PP = 1.5  # issue bar: simulated fill rate within +-1.5 points of the target (A and B items)
SIM_WITHIN_SHARE = 0.99  # the check passes when 99 % of A/B items are (simulation noise and the
#                          normal/gamma shape gap leave a few of thousands just outside)
SIM_MAX_STOCK_POINTS = 3000  # the simulation check covers A/B items first, then C, up to this many


def weekly_demand_with_forecast(demand_weekly: pd.DataFrame, backtest: pd.DataFrame) -> pd.DataFrame:
    """Weekly demand per SKU (``sku, week_start, units``; stock-out weeks already out) with the
    one-week-ahead backtest forecast made for that week (``forecast_units``, units; NaN where the
    backtest has none), in the order of ``demand_weekly``."""
    lag1 = backtest[(backtest["method"] == ERROR_FORECAST_METHOD) & (backtest["lag"] == ERROR_FORECAST_LAG)]
    lag1 = (
        lag1.assign(week_start=pd.to_datetime(lag1["week_start"]).dt.normalize())
        .groupby(["sku", "week_start"], as_index=False, sort=False)["forecast_units"]
        .sum()
    )
    lag1["week_start"] = lag1["week_start"].astype(demand_weekly["week_start"].dtype)
    return demand_weekly[["sku", "week_start", "units"]].merge(lag1, on=["sku", "week_start"], how="left")


def decision_log(decisions: pd.DataFrame) -> pd.DataFrame:
    """The staged decision log (stg_sop__decisions) with the column names of `ss.service_target_overrides`."""
    return decisions.rename(columns={"cycle_date": "cycle", "decision_value": "value"})[
        ["cycle", "kind", "subject", "value", "approved", "decided_at"]
    ]


def stock_points(
    demand_weekly: pd.DataFrame,
    backtest: pd.DataFrame,
    lead_times: pd.DataFrame,
    items: pd.DataFrame,
    abc_xyz: pd.DataFrame,
    decisions: pd.DataFrame,
    as_of: date,
    review_period_weeks: float = ss.DEFAULT_REVIEW_PERIOD_WEEKS,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Variability inputs + class + service target + cost and price per SKU (demand summed over locations).

    Variability of the one-week-ahead forecast error where the backtest has it (>= 8 weeks per SKU),
    of demand otherwise (KPI: "preferably of the forecast error"). Lead times in days per
    observation (``sku, lead_time_days``); none at all -> DEFAULT_LEAD_TIME_WEEKS, sd 0. Service
    targets by ABC/XYZ class, overridden by approved service_target decisions of cycles up to
    ``as_of``. Returns the stock points and the overrides applied ({"family:X" or sku: target}).
    """
    demand = weekly_demand_with_forecast(demand_weekly, backtest)
    observed = len(lead_times) > 0
    lead_times, switched = sourced_lead_times(lead_times, items, decisions, as_of)
    points = ss.demand_variability(
        demand,
        lead_times if observed else None,
        review_period_weeks=review_period_weeks,
        default_lead_time_weeks=None if observed else DEFAULT_LEAD_TIME_WEEKS,
        default_lead_time_sd_weeks=None if observed else 0.0,
    )
    if switched:
        pooled = points.sku.map(switched)
        points["lead_time_source"] = pooled.where(pooled.notna(), points.lead_time_source)
    classed = items[["sku", "family", "unit_cost", "unit_price", "lifecycle", "make_or_buy"]].merge(
        abc_xyz[["sku", "abc_xyz"]], on="sku", how="left"
    )
    log = decision_log(decisions)
    overrides = ss.service_target_overrides(log, cycle=as_of) if len(log) else {}
    targets = ss.service_targets(classed, overrides)
    points = points.merge(targets, on="sku", how="inner")
    points["order_qty_units"] = points.mean_weekly_demand * ORDER_COVER_WEEKS  # continuous review only
    return points, overrides


def sourced_lead_times(
    lead_times: pd.DataFrame, items: pd.DataFrame, decisions: pd.DataFrame, as_of: date
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The lead-time observations (``sku, lead_time_days``) of the way each SKU is sourced at
    ``as_of`` (`plan.sourcing_as_of`: the item master, or the latest approved make_vs_buy decision).

    ``lead_times``: every observation with its ``kind`` (buy: order to receipt; make: release to
    completion; without a kind column, all count as the SKU's own). A SKU with observations of its
    kind uses them. One with none of its kind - a made item an approved decision gave to a
    co-packer, bought since but not yet received - takes the observations of the items its family
    sources that way, pooled (all such items when the family has none): the lead time it will see,
    not the release-to-completion days of the line it left; with none of that kind anywhere it
    keeps its own of the other kind. Returns the observations and, per pooled SKU, its
    ``lead_time_source`` (``family_buy`` / ``all_buy`` / ``family_make`` / ``all_make``)."""
    if "kind" not in lead_times.columns or lead_times.empty:
        return lead_times[["sku", "lead_time_days"]], {}
    source = plan_lib.sourcing_as_of(items, decisions, as_of)
    obs = lead_times.assign(kind=lead_times["kind"].astype(str).str.lower(), sku=lead_times["sku"].astype(str))
    way = obs.sku.map(source).fillna(obs.kind)
    own = obs[obs.kind == way]
    has_own = set(own.sku)
    family = items.drop_duplicates("sku").set_index("sku")["family"]
    pooled, labels = [], {}
    for sku in sorted(set(obs.sku) - has_own):
        kind = source.get(sku)
        if kind is None:
            continue
        peers = own[own.kind == kind]
        scope = "family"
        mine = peers[peers.sku.map(family) == family.get(sku)]
        if mine.empty:
            scope, mine = "all", peers
        if mine.empty:
            pooled.append(obs[obs.sku == sku])  # nothing of that kind anywhere: its own of the other kind
            continue
        pooled.append(mine.assign(sku=sku))
        labels[sku] = f"{scope}_{kind}"
    out = pd.concat([own, *pooled], ignore_index=True)[["sku", "lead_time_days"]]
    return out, labels


def simulation_sample(policies: pd.DataFrame) -> pd.DataFrame:
    """Stock points to simulate: every A and B item, then C items, at most SIM_MAX_STOCK_POINTS
    (a seeded sample of C beyond that) so the check stays seconds long at 30k SKU-locations.
    In SKU order: the simulation's random draws go to stock points by position, so the sample must
    not depend on the row order its input table was read in (which differs between warehouse engines)."""
    policies = policies.sort_values("sku", kind="stable")
    abc = policies.abc_xyz.fillna("C").str[:1]
    ab, c = policies[abc.isin(["A", "B"])], policies[~abc.isin(["A", "B"])]
    room = max(SIM_MAX_STOCK_POINTS - len(ab), 0)
    return pd.concat([ab.head(SIM_MAX_STOCK_POINTS), c.sample(min(room, len(c)), random_state=0)])


def simulation_gaps(validation: pd.DataFrame) -> dict:
    """How far the simulated fill rate of A and B items (policy service_target) is from target, in
    points: median |gap|, worst shortfall and excess, share within SIM_TOLERANCE_PP, the items off,
    and whether the check passes. Run-out (phase-out) items hold no safety stock by design: they
    have no target to meet; a policy set by the minimum cycle service (or floored at 0)
    over-delivers its fill rate by design, so only a shortfall counts against it."""
    ab = validation[validation.abc_xyz.fillna("").str[:1].isin(["A", "B"]) & (validation.policy == "service_target")]
    median_gap = float(ab.sim_gap_pp.abs().median()) if len(ab) else 0.0
    worst_shortfall = float(-ab.sim_gap_pp.min()) if len(ab) else 0.0
    on_target = (ab.safety_stock_units > 0) & ~ab.min_cycle_service_binds.fillna(False).astype(bool)
    worst_excess = float(ab[on_target].sim_gap_pp.max()) if on_target.any() else 0.0
    off = (ab.sim_gap_pp < -SIM_TOLERANCE_PP) | (on_target & (ab.sim_gap_pp > SIM_TOLERANCE_PP))
    within_share = 1.0 - float(off.mean()) if len(ab) else 1.0
    return {
        "passed": median_gap <= SIM_TOLERANCE_PP and within_share >= SIM_WITHIN_SHARE,
        "median_abs_gap_pp": median_gap,
        "worst_shortfall_pp": worst_shortfall,
        "worst_excess_pp": worst_excess,
        "items": len(ab),
        "within_share": within_share,
        "items_off": ab[off].sort_values("sim_gap_pp"),
    }


def mark_chosen_points(curve: pd.DataFrame, overrides: dict[str, float]) -> pd.DataFrame:
    """Add ``chosen_level`` (the family's decided service target) and ``is_chosen`` (the grid level
    nearest it, per family, the current point left out) to a service-inventory curve."""
    curve = curve.copy()
    chosen = {k.removeprefix("family:"): v for k, v in overrides.items()}
    level = curve.family.map(chosen)
    curve["chosen_level"] = level
    distance = (curve.service_level - level).abs().where(~curve.is_current.astype(bool))
    nearest = distance.groupby(curve.family).transform("min")
    curve["is_chosen"] = (distance == nearest) & level.notna()
    return curve


def least_cost_points(curve: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The least-cost point per family, and the families whose least cost sits at the top of the
    service grid (the cost is still falling there: the true optimum is at or above that level)."""
    least = curve[curve.is_least_cost.astype(bool)][
        ["family", "service_level", "safety_stock_value", "total_cost_per_year", "annual_saving", "is_proposed"]
    ]
    at_top = least[least.service_level >= max(ss.SERVICE_LEVEL_GRID) - 1e-12].family.tolist()
    return least, at_top
