"""Item master (finished goods and components), locations and B2B customers.

Finished goods (FG) carry the demand parameters the rest of the generator uses: ``scale``
(expected units per store per day at the end of history, lognormal so a few SKUs carry most
revenue), price and cost in currency per unit, and lifecycle days (launch / phase-out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import Calendar, Size, rng_for, round_money

# name, category, shelf life in days (None = non-perishable), season peak (day of year),
# product / variant / pack words for descriptions
FAMILIES = (
    (
        "Snacks",
        "Food",
        270,
        350,
        ("Potato Chips", "Pretzels", "Crackers", "Popcorn", "Tortilla Chips", "Trail Mix"),
        ("Sea Salt", "BBQ", "Cheddar", "Sour Cream", "Original", "Chili Lime"),
        ("150g", "200g", "300g", "Family Pack"),
    ),
    (
        "Beverages",
        "Drinks",
        365,
        196,
        ("Sparkling Water", "Cola", "Iced Tea", "Orange Juice", "Energy Drink", "Lemonade"),
        ("Lemon", "Zero", "Peach", "Original", "Berry", "Mint"),
        ("330ml", "500ml", "1L", "6x330ml"),
    ),
    (
        "Dairy",
        "Fresh",
        45,
        110,
        ("Greek Yogurt", "Milk", "Butter", "Cheddar Block", "Cream Cheese", "Kefir"),
        ("Plain", "Vanilla", "Light", "Organic", "Strawberry", "Salted"),
        ("150g", "500g", "1L", "2L"),
    ),
    (
        "Frozen",
        "Frozen",
        540,
        190,
        ("Pizza", "Ice Cream", "Fries", "Veg Mix", "Fish Fillets", "Dumplings"),
        ("Margherita", "Vanilla", "Crinkle Cut", "Garden", "Lemon Pepper", "Pork"),
        ("400g", "750g", "1kg", "Multipack"),
    ),
    (
        "Household",
        "Non-food",
        None,
        60,
        ("Dish Soap", "Laundry Pods", "Surface Spray", "Paper Towels", "Trash Bags", "Sponges"),
        ("Lemon", "Fresh", "Unscented", "Lavender", "Heavy Duty", "Eco"),
        ("500ml", "24ct", "750ml", "6 Rolls"),
    ),
)
FAMILY_NAMES = tuple(f[0] for f in FAMILIES)
# seasonal lines: a few made, always-listed finished goods sell only in a yearly season (a holiday
# or summer line) and nothing between seasons. The season opens in the forecast horizon, so every
# demo cycle forecasts and plans an item whose last 13 weeks sold nothing (forecasting.between_seasons)
SEASONAL_SHARE = 0.01  # of finished goods (at least one)
SEASON_OPENS_AFTER_DAYS = 7  # the next season opens this many days after the history's end (horizon week 2)
SEASON_DAYS = 84  # the season lasts 12 weeks a year
SEASON_PEAK = 2.5  # demand at the season's peak, x the item's scale
FAMILY_WEIGHTS = np.array([0.26, 0.24, 0.2, 0.16, 0.14])
COMPONENT_FAMILY = "Components"
# component kind, category, uom, unit cost range (currency per uom)
COMPONENT_KINDS = (
    ("Carton", "Packaging", "EA", (0.05, 0.30)),
    ("Label", "Packaging", "EA", (0.01, 0.05)),
    ("Bottle", "Packaging", "EA", (0.08, 0.40)),
    ("Film", "Packaging", "EA", (0.02, 0.10)),
    ("Base ingredient", "Materials", "KG", (0.80, 4.00)),
    ("Flavor concentrate", "Materials", "KG", (4.00, 15.0)),
)
REGIONS = ("North", "South", "East", "West")
SEGMENTS = (("Key account", 0.15, 60), ("Mid-market", 0.35, 45), ("Small business", 0.50, 30))  # name, share, terms
CHANNELS = ("Wholesale", "Foodservice", "Distributor", "E-commerce")
_NAME_A = (
    "Northwind",
    "Bluebird",
    "Summit",
    "Harbor",
    "Evergreen",
    "Redwood",
    "Silverline",
    "Golden Gate",
    "Lakeside",
    "Prairie",
    "Cedar",
    "Maple",
    "Ironwood",
    "Sunrise",
    "Riverbend",
    "Oakridge",
    "Pinecrest",
    "Highland",
    "Coastal",
    "Metro",
)
_NAME_B = (
    "Foods",
    "Grocers",
    "Market",
    "Wholesale",
    "Trading",
    "Provisions",
    "Distributors",
    "Catering",
    "Supply",
    "Retail",
)


@dataclass
class Catalog:
    """Items, locations and customers, plus per-FG demand parameters."""

    fg: pd.DataFrame  # one row per finished good, index 0..n_fg-1 (see make_finished_goods)
    components: pd.DataFrame
    stores: list[str]
    dcs: list[str]
    store_dc: np.ndarray  # DC index serving each store
    customers: pd.DataFrame

    @property
    def n_fg(self) -> int:
        return len(self.fg)

    def items_extract(self) -> dict:
        """The `items` extract: FG then components."""
        fg, cp = self.fg, self.components
        return {
            "sku": np.concatenate([fg.sku, cp.sku]),
            "description": np.concatenate([fg.description, cp.description]),
            "family": np.concatenate([fg.family, np.full(len(cp), COMPONENT_FAMILY)]),
            "category": np.concatenate([fg.category, cp.category]),
            "unit_price": np.concatenate([fg.unit_price, cp.unit_price]),
            "unit_cost": np.concatenate([fg.unit_cost, cp.unit_cost]),
            "uom": np.concatenate([np.full(len(fg), "EA"), cp.uom]),
            "make_or_buy": np.concatenate([fg.make_or_buy, np.full(len(cp), "buy")]),
            "lifecycle": np.concatenate([fg.lifecycle, np.full(len(cp), "active")]),
        }

    def locations_extract(self) -> dict:
        """Stores, DCs and the plant with their regions."""
        store_regions = [REGIONS[i % len(REGIONS)] for i in range(len(self.stores))]
        dc_regions = [REGIONS[i % len(REGIONS)] for i in range(len(self.dcs))]
        return {
            "location": self.stores + self.dcs + ["P1"],
            "type": ["store"] * len(self.stores) + ["dc"] * len(self.dcs) + ["plant"],
            "region": store_regions + dc_regions + ["Central"],
        }


def make_finished_goods(size: Size, cal: Calendar, seed: int) -> pd.DataFrame:
    """Finished goods with demand parameters.

    Columns: sku, family, fam (family index), category, description, scale (units/store/day),
    unit_price / unit_cost (currency/unit, at end of history), make_or_buy, lifecycle,
    launch_day, ramp_days, phase_start, phase_stop (day indices; -1 / n_ext when not applicable),
    full_from / full_to (day range where the lifecycle multiplier is exactly 1; empty for a seasonal
    item), season_open (a day its season opens, every 365.25 days; -1 for a year-round item).
    """
    rng = rng_for(seed, "items")
    n, D, ext = size.skus, cal.n_days, cal.ext_days
    fam = np.concatenate([np.arange(len(FAMILIES)), rng.choice(len(FAMILIES), n - len(FAMILIES), p=FAMILY_WEIGHTS)])
    fam = rng.permutation(fam)
    scale = np.clip(np.exp(rng.normal(np.log(1.2), 1.5, n)), 0.03, 60.0)
    price = round_money(np.clip(np.round(np.exp(rng.normal(np.log(4.5), 0.6, n)), 1) - 0.01, 0.79, 59.99))
    cost = round_money(price * rng.uniform(0.45, 0.75, n))
    make_or_buy = np.where(rng.random(n) < 0.25, "buy", "make")

    launch = np.full(n, -1)
    ramp = np.zeros(n, dtype=np.int64)
    phase_start = np.full(n, ext)
    phase_stop = np.full(n, ext)
    lifecycle = np.full(n, "active", dtype=object)
    n_new, n_old_launch, n_phase = max(1, round(0.06 * n)), max(1, round(0.05 * n)), max(1, round(0.07 * n))
    order = rng.permutation(n)
    new, old_launch = order[:n_new], order[n_new : n_new + n_old_launch]
    phased = order[n_new + n_old_launch : n_new + n_old_launch + n_phase]
    launch[new] = rng.integers(D - 210, D - 35, n_new)
    lifecycle[new] = "new"
    launch[old_launch] = rng.integers(120, D - 250, n_old_launch)
    launched = np.concatenate([new, old_launch])  # launches are not the biggest sellers
    scale[launched] = np.minimum(scale[launched], np.quantile(scale, 0.7))
    ramp[new] = rng.integers(28, 71, n_new)
    ramp[old_launch] = rng.integers(28, 71, n_old_launch)
    phase_start[phased] = rng.integers(D - 320, D - 140, n_phase)
    phase_stop[phased] = np.minimum(phase_start[phased] + 7 * rng.integers(8, 17, n_phase), D - 14)
    lifecycle[phased] = "phase_out"

    words = [FAMILIES[f] for f in fam]
    pick = rng.integers(0, 6, (n, 3))
    description = [f"{w[4][p[0]]} {w[5][p[1]]} {w[6][p[2] % 4]}" for w, p in zip(words, pick)]
    out = pd.DataFrame(
        {
            "sku": [f"SKU{i + 1:04d}" for i in range(n)],
            "family": [w[0] for w in words],
            "fam": fam,
            "category": [w[1] for w in words],
            "description": description,
            "scale": scale,
            "unit_price": price,
            "unit_cost": cost,
            "make_or_buy": make_or_buy,
            "lifecycle": lifecycle,
            "launch_day": launch,
            "ramp_days": ramp,
            "phase_start": phase_start,
            "phase_stop": phase_stop,
            "full_from": np.where(launch >= 0, launch + ramp, 0),
            "full_to": phase_start,
            "shelf_life": [w[2] if w[2] is not None else -1 for w in words],
        }
    )
    return _seasonal(out, cal, seed)


def _seasonal(fg: pd.DataFrame, cal: Calendar, seed: int) -> pd.DataFrame:
    """Mark ``SEASONAL_SHARE`` of the finished goods seasonal (from a random stream of its own).

    Picked among active, made items listed over the whole history (no launch, no phase-out) of middling
    size (40th-80th percentile of scale): a line the plant makes ahead of its season. Such an item has
    no day at a constant lifecycle multiplier (``full_from = full_to = n_ext``), so promotions,
    anomalies and the short promotion, which need one, leave it alone.
    """
    rng = rng_for(seed, "seasonal")
    n, ext = len(fg), cal.ext_days
    scale = fg.scale.to_numpy()
    lo, hi = np.quantile(scale, [0.4, 0.8])
    cand = np.flatnonzero(
        (fg.lifecycle.to_numpy() == "active")
        & (fg.launch_day.to_numpy() < 0)
        & (fg.phase_start.to_numpy() >= ext)
        & (fg.make_or_buy.to_numpy() == "make")
        & (scale >= lo)
        & (scale <= hi)
    )
    pick = np.sort(rng.choice(cand, min(max(1, round(SEASONAL_SHARE * n)), len(cand)), replace=False))
    fg["season_open"] = -1
    fg.loc[pick, "season_open"] = cal.n_days + SEASON_OPENS_AFTER_DAYS
    fg.loc[pick, ["full_from", "full_to"]] = ext
    fg.loc[pick, "description"] = "Seasonal " + fg.description[pick]
    return fg


def make_components(fg: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Bought components (packaging and materials) numbered after the finished goods."""
    rng = rng_for(seed, "components")
    n_make = int((fg.make_or_buy == "make").sum())
    n = max(8, round(0.3 * n_make))
    kind = np.concatenate([np.arange(len(COMPONENT_KINDS)), rng.integers(0, len(COMPONENT_KINDS), n - 6)])
    lo = np.array([COMPONENT_KINDS[k][3][0] for k in kind])
    hi = np.array([COMPONENT_KINDS[k][3][1] for k in kind])
    cost = np.maximum(round_money(np.exp(rng.uniform(np.log(lo), np.log(hi)))), 0.01)
    first = len(fg) + 1
    return pd.DataFrame(
        {
            "sku": [f"SKU{first + i:04d}" for i in range(n)],
            "kind": kind,
            "description": [f"{COMPONENT_KINDS[k][0]} C-{i + 1:03d}" for i, k in enumerate(kind)],
            "category": [COMPONENT_KINDS[k][1] for k in kind],
            "uom": [COMPONENT_KINDS[k][2] for k in kind],
            "unit_cost": cost,
            "unit_price": cost,  # transfer price: components are not sold
        }
    )


def make_customers(size: Size, seed: int) -> pd.DataFrame:
    """B2B customers: id, name, segment, channel, payment terms (days), size weight, discount."""
    rng = rng_for(seed, "customers")
    n = size.customers
    combos = rng.permutation(len(_NAME_A) * len(_NAME_B))[:n]
    seg = rng.choice(len(SEGMENTS), n, p=[s[1] for s in SEGMENTS])
    seg[0] = 0  # at least one key account
    weight = np.array([4.5, 1.5, 0.5])[seg] * rng.uniform(0.6, 1.4, n)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i + 1:03d}" for i in range(n)],
            "name": [f"{_NAME_A[c // len(_NAME_B)]} {_NAME_B[c % len(_NAME_B)]}" for c in combos],
            "segment": [SEGMENTS[s][0] for s in seg],
            "channel": rng.choice(CHANNELS, n),
            "seg": seg,
            "terms_days": np.array([s[2] for s in SEGMENTS])[seg],
            "weight": weight,
            "discount": np.array([0.25, 0.18, 0.10])[seg],
            "pay_delay_mean": rng.choice([-2.0, 3.0, 8.0, 18.0], n, p=[0.2, 0.4, 0.3, 0.1]),
        }
    )


def make_catalog(size: Size, cal: Calendar, seed: int) -> Catalog:
    """Everything master-data-like in one object."""
    fg = make_finished_goods(size, cal, seed)
    stores = [f"S{i + 1:02d}" for i in range(size.stores)]
    dcs = [f"DC{i + 1}" for i in range(size.dcs)]
    return Catalog(
        fg=fg,
        components=make_components(fg, seed),
        stores=stores,
        dcs=dcs,
        store_dc=np.arange(size.stores) % size.dcs,
        customers=make_customers(size, seed),
    )
