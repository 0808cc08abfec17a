"""Promo substitution plan: when a promotion's demand cannot be supplied in time (the plan moved
or cut units of the promoted SKU in promo weeks), propose substitute SKUs of the same family
that have stock above their safety stock (or free plan supply) in those weeks, with a timeline.
Proposals are decisions awaiting approval: "Sales approves the script before the email blast".
Pure pandas; no Dagster.
"""

from __future__ import annotations

import pandas as pd

SUBSTITUTION_COLUMNS = ["promo_id", "sku", "substitute_sku", "units", "available_from", "reason", "status"]
# smallest substitution worth proposing (units): less rounds to nothing in the meeting
MIN_SUBSTITUTE_UNITS = 0.5


def substitution_plan(plan: pd.DataFrame, promotions: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Proposed substitutes for promo units the plan cannot supply.

    Args:
        plan: plan of record rows ``[sku, family, week_start, moved_out_units, cut_units,
            projected_inventory_units, safety_stock_units]`` (units per week).
        promotions: ``[promo_id, sku, start_date, end_date]``.
        items: ``[sku, family, lifecycle]``; phase-out items are never proposed... as the
            promoted SKU's replacement they are fine, as substitutes they are skipped.

    Returns ``SUBSTITUTION_COLUMNS``: one row per (promo, short week, substitute), units capped by
    the substitute's spare stock (projected inventory above safety stock) that week;
    ``available_from`` = the week start; status ``proposed``.
    """
    if plan.empty or promotions is None or promotions.empty:
        return pd.DataFrame(columns=SUBSTITUTION_COLUMNS)
    p = plan[["sku", "family", "week_start"]].copy()  # only what is read: the loops below are per row
    p["week_start"] = pd.to_datetime(p.week_start)
    p["short_units"] = plan.moved_out_units + plan.cut_units
    p["spare_units"] = (plan.projected_inventory_units - plan.safety_stock_units).clip(lower=0)
    active = set(items.loc[items.lifecycle.fillna("active") != "phase_out", "sku"])
    # each SKU's rows, and the possible substitutes per family and week (spare stock, not phasing
    # out) best first, found once: filtering the whole plan per promotion and per short week took
    # ~12 s at large (1,464 promotions x 39,000 plan rows)
    by_sku = p.groupby("sku", sort=False).indices  # row positions, ascending
    pool = p[(p.spare_units >= MIN_SUBSTITUTE_UNITS) & p.sku.isin(active)]
    spare = {
        key: rows.sort_values(["spare_units", "sku"], ascending=[False, True])
        for key, rows in pool.groupby(["family", "week_start"], sort=False)
    }
    none = p.iloc[:0]
    rows = []
    for promo in promotions.itertuples():
        start, end = pd.Timestamp(promo.start_date), pd.Timestamp(promo.end_date)
        own = p.iloc[by_sku.get(promo.sku, [])]
        short = own[(own.short_units > 0) & (own.week_start + pd.Timedelta(days=6) >= start) & (own.week_start <= end)]
        for week in short.itertuples():
            candidates = spare.get((week.family, week.week_start), none)
            candidates = candidates[candidates.sku != promo.sku]
            need = week.short_units
            for cand in candidates.itertuples():
                if need < MIN_SUBSTITUTE_UNITS:
                    break
                units = min(need, cand.spare_units)
                rows.append(
                    (
                        promo.promo_id,
                        promo.sku,
                        cand.sku,
                        round(float(units), 1),
                        week.week_start.date(),
                        f"{promo.sku} is {week.short_units:,.0f} units short in the promo week of "
                        f"{week.week_start.date()} (constraint full); {cand.sku} has "
                        f"{cand.spare_units:,.0f} units above safety stock",
                        "proposed",
                    )
                )
                need -= units
            if need >= MIN_SUBSTITUTE_UNITS:
                rows.append(
                    (
                        promo.promo_id,
                        promo.sku,
                        None,
                        round(float(need), 1),
                        week.week_start.date(),
                        f"no substitute with spare stock in {week.family}: {need:,.0f} units of the "
                        f"promo cannot be served - reduce the promo or expedite",
                        "proposed",
                    )
                )
    return pd.DataFrame(rows, columns=SUBSTITUTION_COLUMNS)
