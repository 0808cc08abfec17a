"""A few keying errors appended to the demo's extracts, so ingest's quarantine shows on every demo run.

Real ERP and CRM extracts always carry some rows a person keyed wrongly. The demo appends three, each
a new row (its own key), so every row the demo loaded before still loads and every number downstream
is the same; only the data-quality marts, the pack's data-quality header and `sop run`'s summary see
them. Written to ``_truth/keying_errors.csv`` (extract, key, column, rule, value).

- ``opportunities``: a deal whose win probability was typed as a percent (60 in a 0-1 field): range;
- ``opportunities``: a deal in a CRM stage outside the contract's statuses ("verbal"): category;
- ``purchase_orders``: a line to a supplier that is not in the supplier master: reference.

The fuzz tests (tests/reliability) mutate items, pos_sales and sales_orders and count what ingest
quarantines there: those three extracts stay clean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import Calendar

UNKNOWN_SUPPLIER = "SUP99"


def _next_id(ids: np.ndarray) -> str:
    """The id after the largest one, in the same format (prefix + zero-padded number)."""
    last = str(max(ids))
    digits = len(last) - len(last.rstrip("0123456789"))
    return f"{last[:-digits]}{int(last[-digits:]) + 1:0{digits}d}"


def _append(extract: dict, rows: list[dict]) -> dict:
    out = {}
    for col, values in extract.items():
        extra = np.array([r[col] for r in rows], dtype=np.asarray(values).dtype)
        out[col] = np.concatenate([np.asarray(values), extra])
    return out


def append_keying_errors(opportunities: dict, purchase_orders: dict, cal: Calendar) -> tuple[dict, dict, pd.DataFrame]:
    """The two extracts with the keying errors appended, and their truth table."""
    end = cal.end64
    opp_a = _next_id(opportunities["opportunity_id"])
    opp_b = _next_id(np.array([opp_a]))
    open_deal = int(np.flatnonzero(opportunities["status"] == "open")[-1])  # the latest open deal's customer, item
    deal = {col: values[open_deal] for col, values in opportunities.items()}
    common = {"status_date": np.datetime64("NaT"), "created_date": end - np.timedelta64(3, "D")}
    opp_rows = [
        {
            **deal,
            **common,
            "opportunity_id": opp_a,
            "expected_date": end + np.timedelta64(25, "D"),
            "probability": 60.0,
        },
        {**deal, **common, "opportunity_id": opp_b, "expected_date": end + np.timedelta64(39, "D"), "status": "verbal"},
    ]
    po_id = _next_id(purchase_orders["po_id"])
    last = {col: values[-1] for col, values in purchase_orders.items()}
    po_rows = [
        {
            **last,
            "po_id": po_id,
            "line": 1,
            "supplier_id": UNKNOWN_SUPPLIER,
            "order_date": end - np.timedelta64(2, "D"),
            "promised_date": end + np.timedelta64(30, "D"),
        }
    ]
    truth = pd.DataFrame(
        {
            "extract": ["opportunities", "opportunities", "purchase_orders"],
            "key": [opp_a, opp_b, f"{po_id}/1"],
            "column_name": ["probability", "status", "supplier_id"],
            "rule": ["range", "category", "reference"],
            "value": ["60", "verbal", UNKNOWN_SUPPLIER],
        }
    )
    return _append(opportunities, opp_rows), _append(purchase_orders, po_rows), truth
