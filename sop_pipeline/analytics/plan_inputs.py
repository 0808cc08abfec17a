"""What the plan of record is made from, out of warehouse frames: consensus demand, the hours of the
critical resources, open purchase orders as scheduled receipts, usable and expiring stock, the
priority order in which capacity is given out, the safety stock of a seasonal item week by week
(``seasonal_safety_stock``), and the decisions the pipeline proposes.

Pure pandas; sums and means equal the SQL they replaced (`aggregate`). Units, hours and weeks as named.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from sop_pipeline.analytics import safety_stock as ss_lib
from sop_pipeline.analytics.aggregate import sql_sum
from sop_pipeline.analytics.forecasting import MODEL_SEASONAL
from sop_pipeline.analytics.safety_stock_sim import stream_seed

# A PO line promised more than this many days before the cycle and still not fully received is
# taken as closed short (suppliers rarely deliver a shortfall a month late), not as on order.
OPEN_ORDER_GRACE_DAYS = 28
# Capacity goes to ABC class first (A, B, C, unclassified), then to the higher margin per hour of
# the bottleneck within a class.
ABC_PRIORITY = {"A": 0, "B": 1, "C": 2}
UNCLASSIFIED_PRIORITY = 3
CLASS_WEIGHT = 1e9
# The forecast models whose SKUs get a safety stock week by week
SEASONAL_MODELS = (MODEL_SEASONAL,)
Z90 = 1.2815515655446004  # the standard normal's 90% quantile: p10-p90 spans 2 x Z90 standard deviations


def _monday(days: pd.Series) -> pd.Series:
    days = pd.to_datetime(days)
    return days.dt.normalize() - pd.to_timedelta(days.dt.day_of_week, unit="D")


def _sql_mean(frame: pd.DataFrame, by: list[str], column: str, name: str) -> pd.DataFrame:
    """SQL avg: the left-to-right sum of the non-null values / their count."""
    sums = sql_sum(frame, by, {name: column})
    counts = frame.groupby(by, sort=False, dropna=False)[column].count().to_numpy()
    sums[name] = np.where(counts > 0, sums[name].to_numpy() / np.maximum(counts, 1), np.nan)
    return sums


def consensus_demand(
    forecast: pd.DataFrame, consensus: pd.DataFrame, sensing: pd.DataFrame, horizon_weeks: int
) -> pd.DataFrame:
    """Units per SKU x horizon week: the consensus (sales input through the optimism filter) where
    there is one, else the statistical p50; weeks 1-6 get the sensing adjustment on top. The
    selling price is the forecast's (its revenue / units: last non-promotion price, less the
    discount in promotion weeks), so forecast and plan revenue share one price basis."""
    fc = forecast[forecast["horizon_week"].between(1, horizon_weeks)]
    units = fc["units_p50"]
    fc = (
        fc[["sku", "week_start", "horizon_week", "units_p50"]]
        .assign(selling_price=fc["revenue"] / units.where(units != 0))
        .reset_index(drop=True)
    )
    cons = _sql_mean(consensus, ["sku", "week_start"], "consensus_units", "consensus_units")
    delta = sensing.assign(sensing_delta=sensing["sensed_units"] - sensing["baseline_units"])
    sensed = sql_sum(delta, ["sku", "week_start"], ["sensing_delta"])
    d = fc.merge(cons, on=["sku", "week_start"], how="left").merge(sensed, on=["sku", "week_start"], how="left")
    d["demand_units"] = (d.consensus_units.fillna(d.units_p50) + d.sensing_delta.fillna(0.0)).clip(lower=0.0)
    d["demand_source"] = np.where(d.consensus_units.notna(), "consensus", "statistical") + np.where(
        d.sensing_delta.fillna(0) != 0, "+sensing", ""
    )
    d["decision_ids"] = ""
    return d[["sku", "week_start", "horizon_week", "demand_units", "demand_source", "decision_ids", "selling_price"]]


def planned_demand(consumption: pd.DataFrame, horizon_weeks: int) -> pd.DataFrame:
    """The plan of record's demand per SKU x horizon week from the forecast-consumption table
    (`analytics.consumption`; built on `consensus_demand` with the approved overrides applied):
    remaining forecast + booked orders (never less than what is booked), the overrides that set the
    week as its decision ids and the forecast's selling price. Same columns as `consensus_demand`."""
    c = consumption[consumption["horizon_week"].between(1, horizon_weeks)]
    d = pd.DataFrame(
        {
            "sku": c["sku"].to_numpy(),
            "week_start": pd.to_datetime(c["week_start"]).astype("datetime64[us]").to_numpy(),
            "horizon_week": c["horizon_week"].astype(int).to_numpy(),
            "demand_units": c["planned_demand_units"].astype(float).to_numpy(),
            "demand_source": c["demand_source"].astype(str).to_numpy(),
            "decision_ids": c["override_ids"].fillna("").astype(str).to_numpy(),
            "selling_price": c["selling_price"].astype(float).to_numpy(),
        }
    )
    return d.sort_values(["sku", "week_start"], kind="stable", ignore_index=True)


def capacity_inputs(capacity: pd.DataFrame, routings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """Routings on every critical resource of the supply review's capacity table (machines, labour
    pools, tooling), the hours each has left for production per week (available hours minus the
    optimized sequence's changeover hours, never below 0) and the horizon's bottleneck (highest mean
    load, then resource id). Empty frames when the capacity table is empty: then nothing is cut."""
    empty = (
        pd.DataFrame(columns=["sku", "resource_id", "units_per_hour"]),
        pd.DataFrame(columns=["resource_id", "week_start", "hours"]),
        None,
    )
    if capacity.empty:
        return empty
    left = capacity["available_hours"] - capacity["changeover_hours"].fillna(0)
    hours = pd.DataFrame(
        {
            "resource_id": capacity["resource_id"],
            "week_start": pd.to_datetime(capacity["week_start"]).dt.normalize().astype("datetime64[us]"),
            "hours": left.fillna(0).clip(lower=0),
        }
    )
    critical = routings[routings["resource_id"].isin(set(capacity["resource_id"]))]
    critical = critical[["sku", "resource_id", "units_per_hour"]].reset_index(drop=True)
    load = _sql_mean(capacity, ["resource_id"], "load_pct", "mean_load_pct")
    load = load.sort_values(
        ["mean_load_pct", "resource_id"], ascending=[False, True], na_position="last", kind="stable"
    )
    return critical, hours, (load.resource_id.iloc[0] if len(load) else None)


def scheduled_receipts(
    purchase_orders: pd.DataFrame, receipts: pd.DataFrame, week1_start: date, as_of: date, horizon_end: date
) -> pd.DataFrame:
    """Open purchase-order lines (ordered - received > 0) as receipts at their promised week;
    overdue ones (promised within OPEN_ORDER_GRACE_DAYS of the as-of) in week 1. Columns sku,
    week_start, units, order_id (``PO_ID/LINE``), by SKU, week and order."""
    received = sql_sum(receipts, ["po_id", "line"], {"received": "qty"})
    po = purchase_orders.merge(received, on=["po_id", "line"], how="left")
    promised = pd.to_datetime(po["promised_date"])
    promised_week = _monday(promised)
    out = pd.DataFrame(
        {
            "sku": po["sku"],
            "week_start": promised_week.where(promised_week > pd.Timestamp(week1_start), pd.Timestamp(week1_start)),
            "units": po["qty"] - po["received"].fillna(0),
            "order_id": po["po_id"].astype(str) + "/" + po["line"].astype(str),
        }
    )
    keep = (
        (out.units > 0)
        & (promised >= pd.Timestamp(as_of - timedelta(days=OPEN_ORDER_GRACE_DAYS)))
        & (promised_week <= pd.Timestamp(horizon_end))
    )
    out = out[keep].sort_values(["sku", "week_start", "order_id"], kind="stable", ignore_index=True)
    out["week_start"] = out["week_start"].astype("datetime64[us]")
    return out


def usable_stock_by_sku(usable_stock: pd.DataFrame) -> pd.Series:
    """Usable units per SKU (available, unexpired lots of the last snapshot on or before the as-of)."""
    return sql_sum(usable_stock, ["sku"], {"units": "usable_units"}).set_index("sku").units


def expiring_stock(usable_stock: pd.DataFrame) -> pd.DataFrame:
    """Usable units that expire inside the horizon, per SKU and expiry week: ``sku, week_start, units``."""
    rows = usable_stock[usable_stock["expiring_in_horizon_units"] > 0]
    return sql_sum(rows, ["sku", "expiry_week_start"], {"units": "expiring_in_horizon_units"}).rename(
        columns={"expiry_week_start": "week_start"}
    )


# A unit built ahead keeps at least two thirds of its shelf life for the customer (a common
# retail minimum-remaining-life rule), so the plan holds it at most a third of its life.
BUILD_AHEAD_LIFE_SHARE = 1 / 3


def build_ahead_weeks(usable_stock: pd.DataFrame) -> pd.Series:
    """Weeks a SKU may be built ahead of the week it is for, from its lots' shelf life (median days
    from receipt to expiry, ``shelf_life_days`` of int_usable_stock): a third of it
    (``BUILD_AHEAD_LIFE_SHARE``), in whole weeks. SKUs with no dated lot are not listed (no limit)."""
    if "shelf_life_days" not in usable_stock:
        return pd.Series(dtype=float)
    life = pd.to_numeric(usable_stock["shelf_life_days"], errors="coerce")
    days = life.groupby(usable_stock["sku"]).median().dropna()
    return np.floor(days * BUILD_AHEAD_LIFE_SHARE / 7.0)


def plan_priority(items: pd.DataFrame, abc: pd.DataFrame, routings: pd.DataFrame, bottleneck: str | None) -> pd.Series:
    """Order in which capacity is given out, per SKU of the item master (lower first): ABC class
    (A, B, C, unclassified) x CLASS_WEIGHT, less the margin per bottleneck hour (unit price - unit
    cost) x the slowest bottleneck routing rate (units/hour; 0 without a routing there)."""
    rates = routings[routings.resource_id == bottleneck].groupby("sku").units_per_hour.min()
    margin_per_hour = (items.set_index("sku").unit_price - items.set_index("sku").unit_cost) * rates.reindex(
        items.sku
    ).fillna(0).to_numpy()
    return abc.set_index("sku").abc.map(ABC_PRIORITY).reindex(items.sku).fillna(
        UNCLASSIFIED_PRIORITY
    ) * CLASS_WEIGHT - margin_per_hour.fillna(0)


def promotions_in_horizon(promotions: pd.DataFrame, week1_start: date, horizon_end: date) -> pd.DataFrame:
    """Promotions that overlap the horizon: ``promo_id, sku, start_date, end_date``."""
    overlap = (pd.to_datetime(promotions["end_date"]) >= pd.Timestamp(week1_start)) & (
        pd.to_datetime(promotions["start_date"]) <= pd.Timestamp(horizon_end)
    )
    return promotions.loc[overlap, ["promo_id", "sku", "start_date", "end_date"]].reset_index(drop=True)


def proposals(
    plan: pd.DataFrame,
    subs: pd.DataFrame,
    receipts: pd.DataFrame,
    curve: pd.DataFrame,
    expedite_cost: float | None,
    cancellations: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Decisions the pipeline proposes this cycle (awaiting yes/no in the meeting): substitutions
    (one per substitute pair, promotions of a SKU summed), service targets at the curve's proposed
    point (``curve``: safety_stock_curve), buying what cannot be made, expedites, and cancelling the
    approved expedites the plan does not need (``cancellations``: ``subject, effect``; value
    ``cancel``, which `plan.apply_expedites` reads once approved)."""
    pairs = subs[subs.substitute_sku.fillna("").astype(str) != ""]
    pairs = pairs.groupby(["sku", "substitute_sku"], as_index=False, sort=True).agg(
        units=("units", "sum"),
        available_from=("available_from", "min"),
        promos=("promo_id", "nunique"),
        reason=("reason", "first"),
    )
    rows = [
        (
            "substitution",
            f"{r.sku}->{r.substitute_sku}",
            f"{r.units:g} units from {r.available_from}",
            r.reason + (f" ({r.promos} promotions)" if r.promos > 1 else ""),
        )
        for r in pairs.itertuples()
    ]
    curve = curve.loc[
        curve["family"].notna() & (curve["family"] != "TOTAL"),
        ["family", "service_level", "is_current", "is_proposed", "annual_saving"],
    ]
    current = curve[curve.is_current.astype(bool)].set_index("family").service_level
    # is_proposed is set only where the least-cost point saves a material amount a year
    for r in curve[curve.is_proposed.fillna(False).astype(bool)].itertuples():
        if r.family in current:
            rows.append(
                (
                    "service_target",
                    f"family:{r.family}",
                    f"{r.service_level:g}",
                    f"least-cost point of the service-vs-inventory curve: saves {r.annual_saving:,.0f} a year "
                    f"of holding + shortage cost (today {current[r.family]:.3f})",
                )
            )
    cut = plan[plan.cut_units >= 0.5].groupby("sku").cut_units.sum()
    for sku, units in cut.items():
        rows.append(("make_vs_buy", sku, "buy", f"{units:,.0f} units cannot be made in the horizon: buy them"))
    rows += expedite_proposals(plan, receipts, expedite_cost)
    if cancellations is not None:
        rows += [("expedite", r.subject, "cancel", r.effect) for r in cancellations.itertuples()]
    return pd.DataFrame(rows, columns=["kind", "subject", "value", "effect"])


def expedite_proposals(plan: pd.DataFrame, receipts: pd.DataFrame, typical_cost: float | None) -> list[tuple]:
    """A bought SKU short inside its supplier lead time: propose expediting its next open order
    (or an expedited new order when none is open), dated the first short week."""
    short = plan[plan.notes.str.startswith("inside the supplier lead time") & (plan.service_risk == "stockout")]
    rows = []
    for sku, weeks in short.groupby("sku"):
        first = pd.Timestamp(weeks.week_start.min())
        units = float(-weeks.projected_inventory_units.min())
        later = receipts[(receipts.sku == sku) & (pd.to_datetime(receipts.week_start) > first)]
        subject = str(later.order_id.iloc[0]) if len(later) else f"sku:{sku}"
        cost = f"{typical_cost:.0f} by {first.date()}" if typical_cost else f"by {first.date()}"
        rows.append(
            (
                "expedite",
                subject,
                cost,
                f"{sku} runs {units:,.0f} units short inside the supplier lead time from the week of "
                f"{first.date()}: expedite {'the open order' if len(later) else 'a new order'}",
            )
        )
    return rows


def seasonal_safety_stock(
    policy: pd.DataFrame,
    forecast: pd.DataFrame,
    *,
    exact_loss: bool = True,
    min_cycle_service: float | None = ss_lib.DEFAULT_MIN_CYCLE_SERVICE,
) -> pd.DataFrame:
    """Safety stock per SKU and horizon week for a seasonal item between its seasons.

    An item's safety stock (``analytics.safety_stock``) is one number from the spread of its
    156 weeks of demand. For a seasonal line, most of those weeks are its quiet ones. Held all
    horizon, that number does not follow the season: too little at the peak, and a heap of stock
    after the season ends, which sits unsold for most of a year and may expire. Its safety factor
    is the quiet year's too: the fill rate sets k so that the expected shortage sigma x G(k) is
    (1 - target) of the demand per review, and over 156 mostly quiet weeks that demand is small
    against the spread, so k is large (2.7 on the demo's line; its season's weeks need about 0.3).

    So a SKU whose forecast is ``between_seasons`` in every horizon week gets, in week t, the
    fill-rate policy (``safety_stock.safety_stock_policies``: the item's own service target, lead
    time and review period; the pipeline's exact backorder loss and minimum cycle service) of the
    demand the week's stock has to cover:

    * each week's band is read as a split normal (``band_split``): the normal of sd
      ``(p90 - p50) / 1.2816`` above its p50 and of sd ``(p50 - p10) / 1.2816`` below it. The plan
      covers the p50, so the stock above it answers to the upper half alone: for a stock level
      ``S`` above the p50 the expected shortage is ``sigma_hi x G((S - p50) / sigma_hi)``, exactly a
      normal's. A band skewed above its p50 (the week a season may open) then gets the stock its
      upside needs; one skewed below (p50 near p90) little, as the p50 already covers most weeks.
      Reading the band as one normal (p50, ``(p90 - p10) / 2.563``) or by a mean and sd (three
      points) spreads one side's width over both and misses the target on every skewed band
      (``benchmarks/seasonal_safety_stock.py``);
    * week t's protection interval is the P = L + R weeks that end with it (supply for week t is
      committed P weeks ahead): the sum of their split-normal means ``mu_P,t`` (the fill rate's
      budget is (1 - target) of the mean demand) and ``sigma_P,t`` = the root of the sum of their
      ``sigma_hi^2`` (the earliest weighted by P's fraction; weeks before the horizon take week
      1's);
    * the policy (normal: the upper half is one) has mean weekly demand ``mu_P,t / P`` and weekly
      sd ``sigma_P,t / sqrt(P)``: its safety factor k solves ``sigma_DL x loss(k)`` = (1 - target)
      of the mean demand per review, and the week's safety stock is ``k x sigma_DL`` above the
      interval's p50 (the plan's p50 plus its safety stock is the reorder level). Exact for a
      split-normal band at P = 1; over more weeks the sum's upper tail is read the same way. The
      minimum cycle service holds as for every item (at least ``z(min(target, floor)) x
      sigma_DL`` above the p50), so an item whose demand varies always holds some.

    Every other SKU, and one whose policy row has no finite ``k`` (e.g. the empirical-quantile
    policy), keeps its constant safety stock (no row here). A run-out item holds none.

    Args:
        policy: the fill-rate rows of ``analytics.safety_stock``, one per SKU: ``[sku, k,
            service_target, lead_time_mean_weeks, lead_time_sd_weeks, review_period_weeks]``
            (+ ``lifecycle`` and ``target_source``, for run-out items, and ``min_cycle_service``:
            the floor the policy was computed with replaces the argument).
        forecast: the SKU forecast ``[sku, week_start, units_p10, units_p50, units_p90, model]``.
        exact_loss, min_cycle_service: as ``safety_stock.safety_stock_policies``.

    Returns:
        ``[sku, week_start, safety_stock_units, min_cycle_service_binds]`` for the seasonal SKUs'
        weeks (the flag: the minimum cycle service, not the target, sets the week's stock).
    """
    out_cols = ["sku", "week_start", "safety_stock_units", "min_cycle_service_binds"]
    if forecast.empty or policy.empty:
        return pd.DataFrame(columns=out_cols)
    seasonal = forecast.groupby("sku")["model"].agg(lambda m: m.isin(SEASONAL_MODELS).all())
    p = policy.drop_duplicates("sku").set_index("sku")
    with_k = p.index[np.isfinite(pd.to_numeric(p["k"], errors="coerce").to_numpy(float))]
    f = forecast[forecast["sku"].isin(seasonal.index[seasonal]) & forecast["sku"].isin(with_k)].copy()
    if f.empty:
        return pd.DataFrame(columns=out_cols)
    f["week_start"] = pd.to_datetime(f["week_start"])
    f = f.sort_values(["sku", "week_start"], kind="stable").reset_index(drop=True)
    rows = p.loc[f["sku"]]
    mean, sigma = band_split(f["units_p10"], f["units_p50"], f["units_p90"])
    lead = rows["lead_time_mean_weeks"].astype(float).fillna(0.0).to_numpy()
    review = rows["review_period_weeks"].astype(float).fillna(0.0).to_numpy()
    protection = np.maximum(lead + review, 0.0)
    per_week = np.where(protection > 0, protection, 1.0)
    mu_p, var_p = protection_interval_sums(f["sku"].to_numpy(), mean, sigma**2, per_week)
    points = pd.DataFrame(
        {
            "mean_weekly_demand": mu_p / per_week,
            "sd_weekly_demand": np.sqrt(var_p / per_week),
            "lead_time_mean_weeks": lead,
            "lead_time_sd_weeks": rows["lead_time_sd_weeks"].astype(float).fillna(0.0).to_numpy(),
            "review_period_weeks": review,
            "service_target": rows["service_target"].astype(float).to_numpy(),
            "method": "normal",  # the band's upper half is a normal: never the gamma of a small mean
        }
    )
    for extra in ("lifecycle", "target_source"):
        if extra in rows:
            points[extra] = rows[extra].to_numpy()
    if "min_cycle_service" in rows:  # the floor the policy itself was computed with (NaN: none)
        floors = pd.to_numeric(rows["min_cycle_service"], errors="coerce").drop_duplicates()
        if len(floors) == 1:
            floor = floors.iloc[0]
            min_cycle_service = None if pd.isna(floor) else float(floor)
    policies = ss_lib.safety_stock_policies(
        points, service_type="fill_rate", exact_loss=exact_loss, min_cycle_service=min_cycle_service
    )
    units = policies["safety_stock_units"].to_numpy(float)
    binds = policies["min_cycle_service_binds"].to_numpy(bool)
    ok = np.isfinite(units)
    return pd.DataFrame(
        {
            "sku": f["sku"].to_numpy()[ok],
            "week_start": f["week_start"].to_numpy()[ok],
            "safety_stock_units": units[ok],
            "min_cycle_service_binds": binds[ok],
        },
        columns=out_cols,
    )


def ordered_band(p10, p50, p90) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A forecast band's quantiles as arrays, clipped at 0 and put in order (p10 <= p50 <= p90)."""
    q10, q50, q90 = (np.maximum(np.asarray(q, float), 0.0) for q in (p10, p50, p90))
    q50 = np.maximum(q50, q10)
    return q10, q50, np.maximum(q90, q50)


def band_split(p10, p50, p90) -> tuple[np.ndarray, np.ndarray]:
    """A forecast band ``p10 <= p50 <= p90`` (clipped at 0) read as a split normal: the normal of sd
    ``(p50 - p10) / Z90`` below its p50 and of sd ``(p90 - p50) / Z90`` above it (each half holds
    half the mass, so both quantiles are met exactly). Returns its mean, ``p50 + sqrt(2 / pi) x
    (sd_hi - sd_lo)``, and the upper half's sd ``sd_hi``: what a stock level above the p50 answers
    to. A symmetric band gives its p50 and ``(p90 - p10) / 2.563``."""
    q10, q50, q90 = ordered_band(p10, p50, p90)
    sd_lo = (q50 - q10) / Z90
    sd_hi = (q90 - q50) / Z90
    return np.maximum(q50 + np.sqrt(2.0 / np.pi) * (sd_hi - sd_lo), 0.0), sd_hi


def protection_interval_sums(
    keys: np.ndarray, mean: np.ndarray, variance: np.ndarray, protection: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row (weeks of one key consecutive and in order): the sums of ``mean`` and ``variance``
    over the ``protection`` weeks that end with the row's week - whole weeks back from it, then the
    fraction of the next; a week before the key's first takes the first's values."""
    mu, var = np.zeros(len(keys)), np.zeros(len(keys))
    cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1 if len(keys) else np.array([], dtype=int)
    bounds = np.concatenate([[0], cuts, [len(keys)]]).astype(int)
    for start, stop in zip(bounds[:-1], bounds[1:]):
        n_p = float(protection[start]) if stop > start else 0.0
        full = int(np.floor(n_p + 1e-12))
        weights = [1.0] * full + ([n_p - full] if n_p - full > 1e-12 else [])
        rows = np.arange(start, stop)
        for back, w in enumerate(weights):
            src = np.maximum(rows - back, start)
            mu[rows] += w * mean[src]
            var[rows] += w * variance[src]
    return mu, var


def band_demand_paths(p10, p50, p90, paths: int, rng: np.random.Generator) -> np.ndarray:
    """Demand paths (``paths`` x weeks) drawn from each week's forecast band: its quantile function
    linear between p10, p50 and p90, with exponential tails beyond them whose mean excess is a
    normal's (0.369 x the p50's distance), clipped at 0; weeks independent. Neither reading of the
    band that ``band_split`` or the p50 makes, so a rule is not judged on its own model."""
    q10, q50, q90 = ordered_band(p10, p50, p90)
    u = rng.random((paths, len(q50)))
    lo = q10 - 0.369 * (q50 - q10) * np.log(0.1 / np.maximum(u, 1e-12))
    mid_lo = q10 + (q50 - q10) * (u - 0.1) / 0.4
    mid_hi = q50 + (q90 - q50) * (u - 0.5) / 0.4
    hi = q90 - 0.369 * (q90 - q50) * np.log(np.maximum(1 - u, 1e-12) / 0.1)
    d = np.where(u < 0.1, lo, np.where(u < 0.5, mid_lo, np.where(u < 0.9, mid_hi, hi)))
    return np.maximum(d, 0.0)


def simulate_weekly_plan(
    p50: np.ndarray, safety_stock: np.ndarray, protection_weeks: int, demand: np.ndarray, *, backorders: bool
) -> dict[str, float]:
    """The weekly plan a week-by-week safety stock drives, over demand paths (``paths`` x weeks).

    Review every week: at the end of week s, order what brings the inventory position (on hand, less
    any backlog, plus open orders) up to the p50 of weeks s+1 .. s+P plus week s+P's safety stock;
    it arrives at the start of week s+P (P = ``protection_weeks`` = L + R, R = 1). Start: on hand =
    week 1's p50 plus its safety stock, the p50 of weeks 2 .. P on order. ``backorders``: demand not
    met from stock waits for supply (the world of the fill-rate formula); else it is lost.

    Returns the fill rate (demand met from stock on hand in its week / demand), the mean end-of-week
    stock on hand and the stock on hand after the last week.
    """
    paths, n = demand.shape
    p = max(int(protection_weeks), 1)
    forecast = np.asarray(p50, float)
    ss = np.asarray(safety_stock, float)
    ext_f = np.concatenate([forecast, np.full(p, forecast[-1])])
    ext_ss = np.concatenate([ss, np.full(p, ss[-1])])
    arriving = np.zeros((paths, n + p))
    arriving[:, 1:p] = forecast[1:p]
    net = np.full(paths, ss[0] + forecast[0])  # on hand less backlog
    met = np.zeros(paths)
    stock_sum = np.zeros(paths)
    for t in range(n):
        net += arriving[:, t]
        served = np.minimum(np.maximum(net, 0.0), demand[:, t])
        met += served
        net -= demand[:, t] if backorders else served
        stock_sum += np.maximum(net, 0.0)
        position = net + arriving[:, t + 1 : t + p].sum(axis=1)
        up_to = ext_f[t + 1 : t + 1 + p].sum() + ext_ss[t + p]
        arriving[:, t + p] = np.maximum(up_to - position, 0.0)
    total = float(demand.sum())
    return {
        "fill": float(met.sum() / total) if total > 0 else 1.0,
        "on_hand": float(stock_sum.mean() / n),
        "left": float(np.maximum(net, 0.0).mean()),
    }


SEASONAL_SIM_PATHS = 4000
SEASONAL_SIM_TOLERANCE_PP = 1.5


def seasonal_fill_simulation(
    policy: pd.DataFrame,
    forecast: pd.DataFrame,
    weekly: pd.DataFrame,
    *,
    paths: int = SEASONAL_SIM_PATHS,
    seed: int = 7,
) -> pd.DataFrame:
    """The fill rate a seasonal item's week-by-week safety stock (``seasonal_safety_stock``) gives
    over its horizon, simulated (``simulate_weekly_plan``, backorders, as the stationary policy's
    validation) on demand drawn from its forecast band (``band_demand_paths``), P = L + R rounded to
    whole weeks. One row per SKU: ``[sku, service_target, protection_weeks, sim_fill_rate, sim_gap_pp,
    peak_safety_stock_units, sim_avg_on_hand_units, min_cycle_service_binds, on_target]``; each SKU
    draws from a stream of its own. ``on_target``: no more than ``SEASONAL_SIM_TOLERANCE_PP`` short of
    its target, nor over it unless the minimum cycle service sets some week's stock (the rule of the
    stationary policies' validation)."""
    cols = [
        "sku",
        "service_target",
        "protection_weeks",
        "sim_fill_rate",
        "sim_gap_pp",
        "peak_safety_stock_units",
        "sim_avg_on_hand_units",
        "min_cycle_service_binds",
        "on_target",
    ]
    if weekly.empty:
        return pd.DataFrame(columns=cols)
    p = policy.drop_duplicates("sku").set_index("sku")
    f = forecast[forecast["sku"].isin(weekly["sku"].unique())][
        ["sku", "week_start", "units_p10", "units_p50", "units_p90"]
    ]
    f = f.assign(week_start=pd.to_datetime(f["week_start"]))
    w = weekly.assign(week_start=pd.to_datetime(weekly["week_start"])).merge(f, on=["sku", "week_start"], how="inner")
    rows = []
    for sku, band in w.sort_values(["sku", "week_start"], kind="stable").groupby("sku", sort=True):
        if sku not in p.index:
            continue
        target = float(p.at[sku, "service_target"])
        lead = float(np.nan_to_num(float(p.at[sku, "lead_time_mean_weeks"])))
        review = float(np.nan_to_num(float(p.at[sku, "review_period_weeks"]))) if "review_period_weeks" in p else 1.0
        weeks = max(int(round(lead + max(review, 1.0))), 1)
        rng = np.random.default_rng(stream_seed(seed, sku))
        demand = band_demand_paths(band["units_p10"], band["units_p50"], band["units_p90"], paths, rng)
        r = simulate_weekly_plan(
            np.maximum(band["units_p50"].to_numpy(float), 0.0),
            band["safety_stock_units"].to_numpy(float),
            weeks,
            demand,
            backorders=True,
        )
        gap = 100 * (r["fill"] - target)
        binds = bool(band["min_cycle_service_binds"].astype(bool).any()) if "min_cycle_service_binds" in band else False
        rows.append(
            {
                "sku": sku,
                "service_target": target,
                "protection_weeks": weeks,
                "sim_fill_rate": r["fill"],
                "sim_gap_pp": gap,
                "peak_safety_stock_units": float(band["safety_stock_units"].max()),
                "sim_avg_on_hand_units": r["on_hand"],
                "min_cycle_service_binds": binds,
                "on_target": bool(gap >= -SEASONAL_SIM_TOLERANCE_PP and (gap <= SEASONAL_SIM_TOLERANCE_PP or binds)),
            }
        )
    return pd.DataFrame(rows, columns=cols)
