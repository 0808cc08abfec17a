"""Seeded, realistic synthetic extracts for every table of the contract.

    from sop_pipeline.demo import generate, SIZES
    rows = generate("data/extracts", size="small", seed=42, fmt="csv")

writes ``<out_dir>/<extract>.csv`` (or ``.parquet``) for every extract in
``sop_pipeline.contract.EXTRACTS`` plus ground truth in ``<out_dir>/_truth/`` (see its
README.md), and returns rows written per extract. Same seed + size + end_date gives
byte-identical files. History: 156 ISO weeks of daily data ending on ``end_date`` (a Sunday).

Modules: ``config`` (sizes, calendar, random streams), ``items`` (item master, locations,
customers), ``demand`` (latent demand, promotions, anomalies, POS), ``orders`` (CRM, sales
orders, shipments), ``forecast`` (forecast snapshots, revenue plan), ``inventory`` (lots),
``plant`` (resources ... skills), ``procurement`` (suppliers, BOM, POs, receipts), ``finance``
(AR/AP, expedites, risks, decisions), ``plan_history`` (last week's plan of record), ``overrides`` (demand planners' forecast
overrides), ``truth`` and
``writer``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from . import demand, finance, forecast, inventory, keying, orders, overrides, plan_history, plant, procurement
from . import exceptions as exception_extracts
from sop_pipeline.contract import EXTRACTS

from .config import SIZES, Calendar, Size
from .items import make_catalog
from .truth import write_truth
from .writer import ExtractWriter

__all__ = ["generate", "SIZES", "Size"]

DEFAULT_END_DATE = date(2026, 11, 22)


def generate(
    out_dir: str | Path, size: str = "small", seed: int = 42, fmt: str = "csv", end_date: date = DEFAULT_END_DATE
) -> dict[str, int]:
    """Write every contract extract (and `_truth/`) to ``out_dir``; returns rows per extract."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    sz, cal = SIZES[size], Calendar(end=end_date)
    w = ExtractWriter(out_dir, fmt)

    cat = make_catalog(sz, cal, seed)
    w.write("items", cat.items_extract())
    w.write("locations", cat.locations_extract())
    w.write("customers", orders.customers_extract(cat))

    model = demand.build_demand_model(cat, cal, seed)
    promos = demand.schedule_promotions(cat, model, cal, seed)
    anomalies = demand.plan_anomalies(cat, model, promos, cal, sz, seed)
    with w.open_stream("pos_sales") as sink:
        pos = demand.simulate_pos(cat, model, promos, anomalies, cal, sz, seed, sink)
    book = orders.make_order_book(cat, model, anomalies, cal, seed)
    # the plant is sized on weeks before the extra promotion, so it is the same with or without it
    pl = plant.make_plant(cat, forecast.expected_weekly(model, pos, book), cal, seed)
    promos = demand.add_short_promotion(promos, pos, cat, model, anomalies, pl.make, pl.rate, cal)
    w.write("promotions", demand.promotions_extract(promos, cat, cal))

    w.write("sales_orders", orders.sales_orders_extract(book, cat, cal))
    w.write("shipments", orders.shipments_extract(book, cal))
    opportunities = orders.opportunities_extract(book, cat, cal, seed)

    fc, hockey = forecast.sales_forecast(cat, model, pos, book, anomalies, cal, seed)
    w.write("sales_forecast", fc)
    w.write("revenue_plan", forecast.revenue_plan(cat, model, pos, book, cal, seed))
    fg_lots = inventory.inventory_lots(cat, model, book, anomalies, cal, sz, seed)

    demand_wk = forecast.expected_weekly(model, pos, book)
    pur = procurement.make_purchasing(cat, pl, demand_wk, cal, sz, seed)
    # the plant's component stock: what the receipts leave after the BOM's use
    use = procurement.component_need(cat, pur.bom, demand_wk)
    w.write(
        "inventory_lots",
        inventory.with_component_lots(fg_lots, inventory.component_lots(cat, pur.receipts, use, cal, sz)),
    )
    prod = plant.simulate_production(pl, demand_wk, cat, cal, seed)
    w.write("resources", plant.resources_extract())
    w.write("routings", plant.routings_extract(pl, cat))
    w.write("changeovers", plant.changeovers_extract(pl))
    w.write("production_orders", plant.production_orders_extract(prod, cat, pl, cal))
    w.write("schedule_changes", plant.schedule_changes(prod, cal, pur.drift_days, seed))
    w.write("downtime", plant.downtime_extract(prod, cal))
    w.write("resource_time", plant.resource_time_extract(prod))
    horizon_units = demand_wk[pl.make, cal.weeks : cal.weeks + 13]
    skills = plant.skills_extract(sz, seed, l1_hours_needed=float(plant.routed_hours(pl, horizon_units)["L1"].mean()))
    w.write("skills", skills)
    w.write("suppliers", procurement.suppliers_extract(pur))
    # three keyed-wrong rows (a percent in a probability, an unknown CRM stage, an unknown supplier):
    # appended, so everything else loads as before and the quarantine shows on every demo run
    opportunities, purchase_orders, keyed = keying.append_keying_errors(
        opportunities, procurement.purchase_orders_extract(pur, cal), cal
    )
    w.write("opportunities", opportunities)
    w.write("purchase_orders", purchase_orders)
    w.write("receipts", procurement.receipts_extract(pur, cal))
    w.write("bom", procurement.bom_extract(pur, cat, cal))

    ex = finance.expedites(book, pur, prod, anomalies, cat, cal, seed)
    w.write("ar_items", finance.ar_items(book, cat, cal, seed))
    w.write("ap_items", finance.ap_items(pur, cal, seed))
    w.write("expedites", finance.expedites_extract(ex, cal))
    w.write("risk_events", finance.risk_events(pur, cal, seed))
    w.write("decisions", finance.decisions(cat, ex, cal, seed, pur), extra_front={"decision_id": "str"})
    qualified_l1 = float(skills["hours_per_week"][(skills["resource_id"] == "L1") & (skills["level"] >= 2)].sum())
    last_plan = plan_history.previous_plan(cat, fc, pl, prod, pur, qualified_l1, cal)
    # + the consensus of the 25 cycles before it (forecast value added scores the consensus step)
    past = plan_history.past_plans(cat, fc, demand_wk, anomalies.optimistic.fam.to_numpy(), cal)
    w.write("plan_history", {k: np.concatenate([past[k], last_plan[k]]) for k in last_plan})
    w.write("forecast_overrides", overrides.forecast_overrides(cat, demand_wk, book, cal))
    w.write("raci", exception_extracts.raci())
    w.write("exception_updates", exception_extracts.exception_updates(cat, hockey, pur.drift, cal))

    write_truth(w, cat, anomalies, hockey, pur, cal)
    w.write_truth("keying_errors", keyed)
    return {name: w.rows[name] for name in EXTRACTS}
