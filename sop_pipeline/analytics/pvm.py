"""Price-volume-mix revenue bridge and margin by family (KPI_DEFINITIONS.md, "Finance bridge").

With P = price (revenue / units), Q = units per SKU, T = total units, m = Q / T, a = actual,
p = plan (or a = current, p = prior period):

* price effect  = sum over SKUs of (P_a - P_p) x Q_a
* volume effect = (T_a - T_p) x sum(P_p x m_p)
* mix effect    = T_a x sum(P_p x (m_a - m_p))

and price + volume + mix = revenue_a - revenue_p exactly. Proof: sum(P_p m_p) = R_p / T_p, so
volume + mix = T_a sum(P_p m_a) - T_p sum(P_p m_p) = sum(P_p Q_a) - R_p, and price adds
sum(P_a Q_a) - sum(P_p Q_a) = R_a - sum(P_p Q_a).

Edge rules (state them in the mart docs):

* **One-sided SKUs.** A SKU absent from the plan (or with 0 plan units) has Q_p = 0 and takes
  P_p = P_a, so its price effect is 0 and its whole revenue P_a x Q_a lands in **mix** ("new items
  land in mix"). A SKU absent from the actuals has Q_a = 0: price effect 0, its plan revenue
  leaves through volume and mix. The identity holds for any P_p of a SKU with m_p = 0, as long as
  the same P_p is used in price and mix, which is what the code does.
* **Revenue without units** (credit notes, rebates, a plan line with revenue but 0 units) has no
  price; it is booked to the **price** effect (+ on the actual side, - on the plan side), which
  keeps the bridge exact. Without such rows the formulas are exactly the ones above.
* **Zero plan units** (empty plan, a brand-new family): sum(P_p m_p) is taken as 0, so volume = 0
  and the actual revenue lands in mix. **Zero actual units**: everything leaves through volume.
* Less than ``MIN_UNITS`` (1e-9) units per SKU counts as 0 units (no meaningful price).
* Units must be >= 0 per SKU after summing; net negative units (returns larger than sales) are
  an error because a price per unit means nothing there.

**Family bridge vs total bridge.** A bridge per family uses mix shares *within* the family; the
total bridge uses shares across all SKUs. Price effects add up across families, but volume and mix
do not: the total volume effect values every unit at the portfolio's average plan price, the
family volume effects at each family's own. The difference is the **between-group mix** (selling
more of a pricier family): ``sum(family volume) - total volume = total mix - sum(family mix) =
T_a x sum over families F of P̄_p,F x (M_a,F - M_p,F)`` with M = the family's share of all
units and P̄_p,F its plan average price. `pvm_bridge` returns the family rows, one
``between_groups`` row carrying that term (volume -X, mix +X, price 0, revenue 0) and the
``total`` row, so every effect column of the family rows plus the between row adds up to the
total row, and the waterfall chart closes either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sop_pipeline.analytics.columns import require_columns

EFFECT_COLUMNS = ["price_effect", "volume_effect", "mix_effect"]
BRIDGE_COLUMNS = [
    "level",
    "units_actual",
    "units_plan",
    "revenue_actual",
    "revenue_plan",
    "price_effect",
    "volume_effect",
    "mix_effect",
    "total_difference",
]
MARGIN_COLUMNS = ["family", "level", "units", "revenue", "cogs", "margin", "margin_pct"]
MIN_UNITS = 1e-9  # fewer units than this per SKU count as none (their revenue is "revenue without units")


def _side_rows(frame: pd.DataFrame, key: str, labels: Sequence[str], what: str) -> pd.DataFrame:
    """Validated copy of one side: numeric units/revenue, one label value per key."""
    require_columns(frame, [key, "units", "revenue", *labels], what)
    data = frame[[key, *labels, "units", "revenue"]].copy()
    data["units"] = pd.to_numeric(data["units"]).fillna(0.0).astype(float)
    data["revenue"] = pd.to_numeric(data["revenue"]).fillna(0.0).astype(float)
    if labels:
        pairs = data[[key, *labels]].drop_duplicates()
        bad = pairs.loc[pairs[key].duplicated(), key].unique()
        if len(bad):
            raise ValueError(
                f"{what}: {key} {', '.join(map(str, bad[:5]))} appear(s) under more than one "
                f"{'/'.join(labels)}; map every {key} to one {'/'.join(labels)} before the bridge"
            )
    return data


def _merge_sides(actual: pd.DataFrame, plan: pd.DataFrame, key: str, labels: Sequence[str]) -> pd.DataFrame:
    """One row per key (sorted) with q_a, r_a, q_p, r_p summed (0 where a side has no row) and the labels."""
    a = _side_rows(actual, key, labels, "actual")
    p = _side_rows(plan, key, labels, "plan")
    rows = pd.concat(
        [
            a.assign(q_a=a["units"], r_a=a["revenue"], q_p=0.0, r_p=0.0),
            p.assign(q_a=0.0, r_a=0.0, q_p=p["units"], r_p=p["revenue"]),
        ],
        ignore_index=True,
    )
    merged = rows.groupby(key, sort=True)[["q_a", "r_a", "q_p", "r_p"]].sum()
    if labels:
        pairs = rows[[key, *labels]].drop_duplicates()
        clash = pairs.loc[pairs[key].duplicated(), key].unique()
        if len(clash):
            raise ValueError(
                f"{key} {', '.join(map(str, clash[:5]))} has a different {'/'.join(labels)} in actual "
                f"and plan; use the same item master for both sides"
            )
        merged = merged.join(pairs.set_index(key))
    for side, column in (("actual", "q_a"), ("plan", "q_p")):
        negative = merged.index[merged[column] < 0]
        if len(negative):
            raise ValueError(
                f"{side}: net negative units for {key} {', '.join(map(str, negative[:5]))}; "
                f"net returns against sales (or drop the rows) before the bridge"
            )
    return merged.rename_axis(key).reset_index()


def _contributions(q_a: np.ndarray, r_a: np.ndarray, q_p: np.ndarray, r_p: np.ndarray) -> dict[str, np.ndarray]:
    """Each row's contribution to the bridge computed over exactly these rows.

    price_i = R_a,i - P_p,i Q_a,i - (plan revenue without plan units)_i
    volume_i = (T_a - T_p) x P_p,i m_p,i
    mix_i = P_p,i Q_a,i - T_a x P_p,i m_p,i
    Summed over rows these are the KPI formulas; per row they add up to R_a,i - R_p,i.
    """
    q_a = np.where(q_a > MIN_UNITS, q_a, 0.0)
    q_p = np.where(q_p > MIN_UNITS, q_p, 0.0)
    total_a, total_p = q_a.sum(), q_p.sum()
    price_a = np.where(q_a > 0, r_a / np.where(q_a > 0, q_a, 1.0), 0.0)
    price_p = np.where(q_p > 0, r_p / np.where(q_p > 0, q_p, 1.0), price_a)
    plan_revenue_with_units = np.where(q_p > 0, r_p, 0.0)
    plan_weight = plan_revenue_with_units / total_p if total_p > 0 else np.zeros_like(r_p)  # P_p x m_p
    return {
        "price_actual": price_a,
        "price_plan": price_p,
        "price_effect": r_a - price_p * q_a - (r_p - plan_revenue_with_units),
        "volume_effect": (total_a - total_p) * plan_weight,
        "mix_effect": price_p * q_a - total_a * plan_weight,
    }


def _bridge_row(rows: pd.DataFrame) -> dict[str, float]:
    """The bridge over these rows (one level: shares taken within ``rows``)."""
    q_a, r_a = rows["q_a"].to_numpy(float), rows["r_a"].to_numpy(float)
    q_p, r_p = rows["q_p"].to_numpy(float), rows["r_p"].to_numpy(float)
    parts = _contributions(q_a, r_a, q_p, r_p)
    return {
        "units_actual": q_a.sum(),
        "units_plan": q_p.sum(),
        "revenue_actual": r_a.sum(),
        "revenue_plan": r_p.sum(),
        **{c: float(parts[c].sum()) for c in EFFECT_COLUMNS},
        "total_difference": r_a.sum() - r_p.sum(),
    }


def pvm_bridge(actual: pd.DataFrame, plan: pd.DataFrame, group_cols: Sequence[str] | None = None) -> pd.DataFrame:
    """Price-volume-mix bridge from plan (or prior period) revenue to actual revenue.

    Args:
        actual: ``[sku, units, revenue]`` (+ ``group_cols``) for the period; several rows per SKU
            are summed. Units in base unit, revenue in currency.
        plan: same columns for the plan or the comparison period.
        group_cols: e.g. ``["family"]``; each SKU must have one value per group column, the same
            on both sides. ``None``: only the total bridge.

    Returns:
        Columns ``[*group_cols, level, units_actual, units_plan, revenue_actual, revenue_plan,
        price_effect, volume_effect, mix_effect, total_difference]`` (currency). Rows:
        ``level == "group"`` one per group (mix shares within the group), sorted by group;
        ``"between_groups"`` (only with group_cols; price 0, volume -X, mix +X, revenues 0:
        the mix between groups, see module docstring); ``"total"`` (mix across all SKUs).
        Group columns are missing (None/NaN) on the last two rows. In every row price + volume + mix
        = total_difference = revenue_actual - revenue_plan, and every numeric column of the
        group rows plus the between row sums to the total row.
    """
    labels = list(group_cols or [])
    merged = _merge_sides(actual, plan, "sku", labels)
    total = _bridge_row(merged)
    rows: list[dict] = []
    if labels:
        for key, part in merged.groupby(labels, sort=True, dropna=False):
            key = key if isinstance(key, tuple) else (key,)
            rows.append({**dict(zip(labels, key)), "level": "group", **_bridge_row(part)})
        between = {c: 0.0 for c in BRIDGE_COLUMNS[1:]}
        for effect in ("volume_effect", "mix_effect"):
            between[effect] = total[effect] - sum(r[effect] for r in rows)
        rows.append({**{c: None for c in labels}, "level": "between_groups", **between})
    rows.append({**{c: None for c in labels}, "level": "total", **total})
    return pd.DataFrame(rows, columns=[*labels, *BRIDGE_COLUMNS])


def pvm_sku_contributions(
    actual: pd.DataFrame, plan: pd.DataFrame, group_cols: Sequence[str] | None = None
) -> pd.DataFrame:
    """Each SKU's contribution to the *total* bridge (the "top movers" behind the waterfall).

    Returns ``[sku, *group_cols, units_actual, units_plan, revenue_actual, revenue_plan,
    price_actual, price_plan, price_effect, volume_effect, mix_effect, total_difference]``:
    prices in currency/unit (``price_plan`` of a new item is its actual price, see module rules),
    effects in currency. Summed over SKUs the effects equal the ``total`` row of `pvm_bridge`; per
    SKU price + volume + mix = revenue_actual - revenue_plan. Sorted by |total_difference| desc.
    """
    labels = list(group_cols or [])
    merged = _merge_sides(actual, plan, "sku", labels)
    parts = _contributions(*(merged[c].to_numpy(float) for c in ("q_a", "r_a", "q_p", "r_p")))
    out = merged[["sku", *labels]].copy()
    out["units_actual"], out["units_plan"] = merged["q_a"], merged["q_p"]
    out["revenue_actual"], out["revenue_plan"] = merged["r_a"], merged["r_p"]
    for name, values in parts.items():
        out[name] = values
    out["total_difference"] = out["revenue_actual"] - out["revenue_plan"]
    order = out["total_difference"].abs().sort_values(ascending=False, kind="mergesort").index
    return out.loc[order].reset_index(drop=True)


def pvm_bridge_family_plan(actual_by_sku: pd.DataFrame, plan_by_family: pd.DataFrame) -> pd.DataFrame:
    """Price-volume-mix against a plan that only exists per family (finance's revenue_plan).

    The family plays the role of the SKU in the formulas: P = family revenue / family units,
    m = family units / all units. Filter both frames to the same period first (e.g. one month of
    revenue_plan and the actual sales of that month); several rows per family are summed.
    Note that a shift of SKU mix *inside* a family changes the family's average price and so shows
    up here as price effect: a SKU-level plan is needed to separate it.

    Args:
        actual_by_sku: ``[sku, family, units, revenue]`` actual sales of the period.
        plan_by_family: ``[family, units, revenue]`` plan of the same period.

    Returns:
        ``[family, level, units_actual, units_plan, revenue_actual, revenue_plan, price_effect,
        volume_effect, mix_effect, total_difference]``: one ``level == "family"`` row per family
        with the family's *contribution* to the family-grain bridge (price = R_a - P_p Q_a;
        volume = (T_a - T_p) P_p m_p; mix = P_p Q_a - T_a P_p m_p), then the ``total`` row
        (family None). Rows add up to the total row, and each row's effects add up to its
        total_difference, exactly (float rounding). Families with no plan land in mix.
    """
    require_columns(actual_by_sku, ["sku", "family", "units", "revenue"], "actual sales by SKU")
    require_columns(plan_by_family, ["family", "units", "revenue"], "revenue plan by family")
    merged = _merge_sides(actual_by_sku, plan_by_family, "family", [])
    parts = _contributions(*(merged[c].to_numpy(float) for c in ("q_a", "r_a", "q_p", "r_p")))
    out = pd.DataFrame(
        {
            "family": merged["family"],
            "level": "family",
            "units_actual": merged["q_a"],
            "units_plan": merged["q_p"],
            "revenue_actual": merged["r_a"],
            "revenue_plan": merged["r_p"],
            **{c: parts[c] for c in EFFECT_COLUMNS},
        }
    )
    out["total_difference"] = out["revenue_actual"] - out["revenue_plan"]
    total = {"family": None, "level": "total", **out[BRIDGE_COLUMNS[1:]].sum().to_dict()}
    return pd.concat([out, pd.DataFrame([total])], ignore_index=True)[["family", *BRIDGE_COLUMNS]]


def _unit_cost_series(unit_cost: pd.DataFrame | pd.Series | Mapping[str, float]) -> pd.Series:
    if isinstance(unit_cost, pd.DataFrame):
        require_columns(unit_cost, ["sku", "unit_cost"], "unit cost table")
        return unit_cost.drop_duplicates("sku", keep="last").set_index("sku")["unit_cost"].astype(float)
    if isinstance(unit_cost, pd.Series):
        return unit_cost.astype(float)
    return pd.Series(dict(unit_cost), dtype=float)


def margin_by_family(sales: pd.DataFrame, unit_cost: pd.DataFrame | pd.Series | Mapping[str, float]) -> pd.DataFrame:
    """Revenue, cost of goods sold and gross margin per family.

    cogs = sum(units x unit_cost); margin = revenue - cogs; margin_pct = 100 x margin / revenue
    (percent of revenue, NaN when revenue is 0). Standard cost per unit from the item master.

    Args:
        sales: ``[sku, family, units, revenue]`` (units in base unit, revenue in currency).
        unit_cost: ``[sku, unit_cost]`` frame, or a Series / mapping sku -> currency per unit.

    Returns:
        ``[family, level, units, revenue, cogs, margin, margin_pct]``: one ``level == "group"``
        row per family (sorted), then a ``total`` row (family None).

    Raises:
        ValueError: a sold SKU has no unit cost (the margin would be overstated).
    """
    require_columns(sales, ["sku", "family", "units", "revenue"], "sales")
    cost = _unit_cost_series(unit_cost)
    data = sales[["sku", "family", "units", "revenue"]].copy()
    data["units"] = pd.to_numeric(data["units"]).fillna(0.0).astype(float)
    data["revenue"] = pd.to_numeric(data["revenue"]).fillna(0.0).astype(float)
    data["unit_cost"] = data["sku"].map(cost)
    missing = data.loc[data["unit_cost"].isna() & (data["units"] != 0), "sku"].unique()
    if len(missing):
        raise ValueError(
            f"no unit cost for SKU(s) {', '.join(map(str, missing[:10]))}"
            f"{' ...' if len(missing) > 10 else ''}; add them to the item master (unit_cost)"
        )
    data["cogs"] = data["units"] * data["unit_cost"].fillna(0.0)
    out = data.groupby("family", sort=True)[["units", "revenue", "cogs"]].sum().reset_index()
    out.insert(1, "level", "group")
    total = {"family": None, "level": "total", **out[["units", "revenue", "cogs"]].sum().to_dict()}
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    out["margin"] = out["revenue"] - out["cogs"]
    out["margin_pct"] = (100.0 * out["margin"] / out["revenue"]).where(out["revenue"] != 0)
    return out[MARGIN_COLUMNS]
