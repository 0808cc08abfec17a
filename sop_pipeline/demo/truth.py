"""Ground truth of what the generator injected, written to ``<out>/_truth/`` (never read by the pipeline)."""

from __future__ import annotations

import pandas as pd

from .config import Calendar
from .demand import Anomalies
from .items import SEASON_DAYS, Catalog
from .procurement import Purchasing
from .writer import ExtractWriter

README = """# Demo data ground truth

Written by `sop_pipeline.demo.generate` next to the extracts. The pipeline never reads this
folder; tests compare the pipeline's detections with it. Dates are ISO `YYYY-MM-DD`; weeks are
ISO weeks starting on Monday.

## pos_outliers.csv
`outlier_id, sku, week_start, factor`: for one week (Monday `week_start` to Sunday) the POS
units of `sku` at **every** store are `factor` (3-6) x their normal level (drawn as Poisson of
factor x expected units; revenue follows units at the shelf price). Only SKUs
selling >= 20 units/week, never in a promotion or post-promo dip week (+-1 week), never in a
stockout spell week, not in the first 30 or last 13 weeks of history. About one per 8 SKUs.

## optimistic_families.csv
`family, optimism_pct`: the `sales` forecast of every SKU in the family is persistently
`optimism_pct` percent above expected demand (20 = +20%), so summed over any weeks it exceeds
realised demand (POS units + sales-order qty by requested week, cancelled lines excluded) by
about that much. Other families are unbiased at family level (SKU-level bias is centred per
family, so the split inside a family is off: mix error). The extra `marketing` forecast of
one family is not part of this truth.

## hockey_sticks.csv
`snapshot_date, sku, first_week_start, factor, run_rate_units`: in that sales-forecast
snapshot, weeks 8-13 ahead (from `first_week_start`) were set to `factor` (2.5-4) x the
recent run-rate (`run_rate_units` = mean weekly POS + order units of the 8 weeks before the
snapshot), with no promotion, booked order or CRM opportunity behind it. Weeks 1-7 of the
snapshot are normal. One of them is in the latest snapshot (the current cycle).

## stockouts.csv
`sku, location, date_from, date_to` (inclusive): store stock was zero, so POS is censored
(no rows) and `inventory_lots` shows the SKU at that store with qty 0 on every snapshot
Sunday inside the spell (each spell contains at least one). A-items (by revenue) only.

## keying_errors.csv
`extract, key, column_name, rule, value`: rows keyed wrongly on purpose and appended to the
extracts (each with a key of its own, so no other row is touched): ingest must quarantine each,
under that rule and column, and nothing else. An opportunity whose probability was typed as a
percent (60), one in a CRM stage outside the contract ("verbal"), and a purchase-order line to a
supplier missing from the supplier master. Key: `opportunity_id`, or `po_id/line`.

## seasonal_items.csv
`sku, season_start, season_end`: the SKU sells only in a 12-week season each year (a sine arch
peaking at 2.5x its scale, nothing between seasons); the dates are its next season, which opens
in the forecast horizon (horizon week 2). Its last 13 weeks of history sold nothing, as did the
same weeks of the two years before, so a pipeline that takes "no demand in 13 weeks" for
"inactive" forecasts it 0 just as its season opens. Made, always listed, never promoted and never
touched by another injected anomaly. About 1% of finished goods, at least one.

## supplier_drift.csv
`supplier_id, drift_start, disruption_date, lead_time_days_before, lead_time_days_after`:
the supplier's actual lead time (order date -> first receipt) grows linearly from
`drift_start` to `disruption_date` (a `risk_events` row of kind `supplier` on that date) and
stays `lead_time_days_after` for orders placed after it. `lead_time_days_before` is the
realised mean over the 26 weeks before drift_start. Promised dates keep the quoted lead time,
so the supplier's receipts get increasingly late against promise.
"""


def write_truth(
    writer: ExtractWriter, cat: Catalog, anomalies: Anomalies, hockey: pd.DataFrame, pur: Purchasing, cal: Calendar
) -> None:
    """All truth files and the README."""
    fg_sku = cat.fg.sku.to_numpy()
    out = anomalies.outliers
    writer.write_truth(
        "pos_outliers",
        pd.DataFrame(
            {
                "outlier_id": [f"OUT{i + 1:03d}" for i in range(len(out))],
                "sku": fg_sku[out.sku_idx],
                "week_start": cal.week_start(out.week),
                "factor": out.factor.to_numpy(),
            }
        ),
    )
    writer.write_truth("optimistic_families", anomalies.optimistic[["family", "optimism_pct"]])
    writer.write_truth("hockey_sticks", hockey)
    so = anomalies.stockouts
    writer.write_truth(
        "stockouts",
        pd.DataFrame(
            {
                "sku": fg_sku[so.sku_idx],
                "location": [cat.stores[i] for i in so.store_idx],
                "date_from": cal.dates(so.start_day),
                "date_to": cal.dates(so.end_day),
            }
        ),
    )
    seasonal = cat.fg[cat.fg.season_open >= 0]
    start = seasonal.season_open.to_numpy()
    writer.write_truth(
        "seasonal_items",
        pd.DataFrame(
            {
                "sku": seasonal.sku.to_numpy(),
                "season_start": cal.dates(start),
                "season_end": cal.dates(start + SEASON_DAYS - 1),
            }
        ),
    )
    writer.write_truth("supplier_drift", pur.drift)
    writer.write_text("README.md", README)
