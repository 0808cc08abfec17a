"""The extract contract (DESIGN.md, "Extract contract") as data.

One entry per extract: its columns with their types, the key that must be unique, the
columns that must not be null, allowed categories, value ranges, references to other
extracts and the *event date* column that the as-of rule applies to.

This module is the single source for three things: the loader's typed casts
(`sop_pipeline.ingest`), the Great Expectations suites in `expectations/` (generated from
here by `sop expectations`, then kept in git and editable), and the demo generator's
column order. No Dagster or GX import here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Logical types -> DuckDB types used by the loader's TRY_CAST.
DUCKDB_TYPES = {
    "str": "VARCHAR",
    "float": "DOUBLE",
    "int": "BIGINT",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "bool": "BOOLEAN",
}


@dataclass(frozen=True)
class AsOfCut:
    """A row is unknown at the cycle's as-of (excluded from the cycle, counted as after the as-of)
    when `column` is after the end of the as-of day and `when` holds.

    `when` is a SQL condition on the contract-typed row (empty: always). A null `column` never
    cuts, so a cut on an optional column does nothing for files without it.
    """

    column: str
    when: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Extract:
    name: str
    grain: str
    columns: dict[str, str]
    key: tuple[str, ...] = ()
    required: bool = False
    not_null: tuple[str, ...] = ()
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # column -> (min, max); None means open on that side
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    # column -> (extract, column) it must reference
    references: dict[str, tuple[str, str]] = field(default_factory=dict)
    # the date that says when a row "happened": rows after the cycle's as-of are excluded
    event_date: str | None = None
    # further row-level as-of cuts: rows these rules say became known after the as-of are
    # excluded and counted like rows after the event date (see `AsOfCut`)
    as_of_cuts: tuple[AsOfCut, ...] = ()
    # columns a file may leave out: they are added as NULL (and reported), not an error
    optional: tuple[str, ...] = ()
    description: str = ""
    # numeric columns that must be strictly above 0 (suite: between, min 0, strict_min)
    positive: tuple[str, ...] = ()
    # whole-file row checks run after the suite (names in sop_pipeline.ingest.extract_checks.CHECKS),
    # e.g. BOM cycles: their failing rows are quarantined with a reason like any suite rule
    checks: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)


def _x(name: str, grain: str, columns: str, **kw) -> Extract:
    """Build an Extract from a compact 'col:type col:type' column spec."""
    cols = {}
    for token in columns.split():
        col, _, typ = token.partition(":")
        cols[col] = typ or "str"
    key = tuple(kw.pop("key", ()))
    not_null = tuple(dict.fromkeys(tuple(kw.pop("not_null", ())) + key))
    return Extract(name=name, grain=grain, columns=cols, key=key, not_null=not_null, **kw)


SKU = ("items", "sku")
RES = ("resources", "resource_id")
LOC = ("locations", "location")
QTY0 = (0.0, None)
PCT01 = (0.0, 1.0)

EXTRACTS: dict[str, Extract] = {
    e.name: e
    for e in [
        _x(
            "items",
            "sku",
            "sku description family category unit_price:float unit_cost:float uom make_or_buy lifecycle",
            key=["sku"],
            required=True,
            optional=["description", "uom", "category"],
            not_null=["family", "unit_price", "unit_cost"],
            categories={"make_or_buy": ("make", "buy"), "lifecycle": ("active", "new", "phase_out")},
            ranges={"unit_price": QTY0, "unit_cost": QTY0},
            description="Item master: one row per SKU with family, price and cost.",
        ),
        _x(
            "locations",
            "location",
            "location type region",
            key=["location"],
            optional=["region"],
            categories={"type": ("plant", "dc", "store")},
            description="Plants, distribution centres and stores.",
        ),
        _x(
            "customers",
            "customer",
            "customer_id name segment channel",
            key=["customer_id"],
            optional=["name", "segment", "channel"],
            description="B2B customers.",
        ),
        _x(
            "pos_sales",
            "date x location x sku",
            "date:date location sku units:float revenue:float",
            key=["date", "location", "sku"],
            ranges={"units": QTY0, "revenue": QTY0},
            references={"sku": SKU, "location": LOC},
            event_date="date",
            description="Daily point-of-sale units and revenue by store and SKU.",
        ),
        _x(
            "sales_orders",
            "order line",
            "order_id line:int customer_id sku order_date:date requested_date:date promised_date:date "
            "qty:float unit_price:float status",
            key=["order_id", "line"],
            not_null=["sku", "order_date", "qty"],
            categories={"status": ("open", "shipped", "partially_shipped", "cancelled")},
            ranges={"qty": QTY0, "unit_price": QTY0},
            references={"sku": SKU, "customer_id": ("customers", "customer_id")},
            event_date="order_date",
            description="B2B sales order lines. As of the cycle: lines ordered after the as-of are excluded; the "
            "status is derived from the shipments on or before the as-of and never ahead of the "
            "file's: shipped if they cover the quantity, partially_shipped if any, else open "
            "(cancelled as in the file: the contract has no cancellation date).",
        ),
        _x(
            "shipments",
            "delivery",
            "order_id line:int ship_date:date delivered_date:date qty:float",
            not_null=["order_id", "line", "ship_date", "qty"],
            ranges={"qty": QTY0},
            event_date="ship_date",
            description="Deliveries against order lines (partial shipments allowed). As of the "
            "cycle: shipped after the as-of is excluded; a delivered_date after "
            "the as-of is empty (not yet delivered).",
        ),
        _x(
            "sales_forecast",
            "snapshot x sku x week",
            "snapshot_date:date sku week_start:date units:float source",
            key=["snapshot_date", "sku", "week_start", "source"],
            ranges={"units": QTY0},
            categories={"source": ("sales", "marketing", "consensus")},
            references={"sku": SKU},
            event_date="snapshot_date",
            description="Submitted sales/marketing forecast snapshots.",
        ),
        _x(
            "promotions",
            "promo x sku",
            "promo_id sku location_or_customer start_date:date end_date:date discount_pct:float expected_units:float",
            key=["promo_id", "sku"],
            not_null=["start_date", "end_date"],
            ranges={"discount_pct": PCT01, "expected_units": QTY0},
            references={"sku": SKU},
            description="Planned and past promotions.",
        ),
        _x(
            "opportunities",
            "CRM deal",
            "opportunity_id customer_id sku_or_family expected_date:date qty:float probability:float status "
            "status_date:date created_date:date",
            key=["opportunity_id"],
            ranges={"qty": QTY0, "probability": PCT01},
            optional=["status_date", "created_date"],
            categories={"status": ("open", "won", "lost")},
            as_of_cuts=(AsOfCut("created_date", reason="created after the cycle's as-of"),),
            description="CRM pipeline deals. As of the cycle: a deal whose optional created_date is after the "
            "as-of is excluded; a won/lost status is known from its optional status_date (after "
            "the as-of: still 'open'); without status_date, a won/lost deal whose expected_date is "
            "after the as-of is 'open' (the status is taken to be set by the expected date).",
        ),
        _x(
            "inventory_lots",
            "snapshot x location x lot",
            "snapshot_date:date location sku lot_id qty:float receipt_date:date expiry_date:date status",
            key=["snapshot_date", "location", "sku", "lot_id"],
            ranges={"qty": QTY0},
            categories={"status": ("available", "hold")},
            references={"sku": SKU, "location": LOC},
            event_date="snapshot_date",
            description="Inventory on hand by lot. receipt_date to expiry_date is the lot's shelf life: the plan "
            "builds a SKU ahead of a full week by at most a third of its median (lots without both dates: no limit).",
        ),
        _x(
            "production_orders",
            "order",
            "order_id sku resource_id planned_start:timestamp planned_end:timestamp actual_start:timestamp "
            "actual_end:timestamp planned_qty:float good_qty:float scrap_qty:float status created_at:timestamp",
            key=["order_id"],
            not_null=["sku", "resource_id", "planned_start", "planned_qty"],
            optional=["created_at"],
            ranges={"planned_qty": QTY0, "good_qty": QTY0, "scrap_qty": QTY0},
            categories={"status": ("planned", "released", "in_progress", "completed", "cancelled")},
            references={"sku": SKU, "resource_id": RES},
            as_of_cuts=(AsOfCut("created_at", reason="created after the cycle's as-of"),),
            description="Production (work) orders. As of the cycle: an order whose optional created_at is after "
            "the as-of is excluded (without it, every order is known, planned ones in advance); "
            "actual_start/actual_end after the as-of are empty, good_qty/scrap_qty are empty when "
            "either is, and the status is derived: completed only if actual_end is on or before the "
            "as-of, in_progress if started by then, else released (planned and cancelled as in "
            "the file).",
        ),
        _x(
            "schedule_changes",
            "change",
            "order_id changed_at:timestamp old_start:timestamp new_start:timestamp reason",
            not_null=["order_id", "changed_at"],
            references={"order_id": ("production_orders", "order_id")},
            optional=["reason", "old_start", "new_start"],
            event_date="changed_at",
            description="Reschedules of production orders.",
        ),
        _x(
            "resources",
            "resource",
            "resource_id type name is_constraint:bool hours_per_day:float days_per_week:float",
            key=["resource_id"],
            not_null=["type"],
            categories={"type": ("machine", "labor", "tooling")},
            ranges={"hours_per_day": (0.0, 24.0), "days_per_week": (0.0, 7.0)},
            description="Machines, labour pools and tooling.",
        ),
        _x(
            "routings",
            "sku x resource",
            "sku resource_id units_per_hour:float setup_family priority:int alternate_for cost_per_hour:float "
            "cost_per_unit:float",
            key=["sku", "resource_id"],
            optional=["priority", "alternate_for", "cost_per_hour", "cost_per_unit"],
            ranges={
                "units_per_hour": (0.0, None),
                "priority": (1.0, None),
                "cost_per_hour": QTY0,
                "cost_per_unit": QTY0,
            },
            references={"sku": SKU, "resource_id": RES, "alternate_for": RES},
            description="Which resources a SKU uses, at what rate. Optional alternates: priority 1 (or empty) is "
            "the primary routing; a row with priority 2, 3, ... is an alternate resource that can take over the "
            "work of the primary resource named in alternate_for (empty: the SKU's only primary resource), at its "
            "own rate; cost_per_hour and cost_per_unit (empty: 0) price a unit on the resource.",
        ),
        _x(
            "changeovers",
            "resource x from x to",
            "resource_id from_key to_key minutes:float",
            key=["resource_id", "from_key", "to_key"],
            ranges={"minutes": QTY0},
            references={"resource_id": RES},
            description="Sequence-dependent changeover minutes.",
        ),
        _x(
            "downtime",
            "event",
            "resource_id start:timestamp end:timestamp planned:bool reason recorded_at:timestamp",
            not_null=["resource_id", "start", "end", "planned"],
            references={"resource_id": RES},
            optional=["reason", "recorded_at"],
            as_of_cuts=(
                AsOfCut("start", when="not planned", reason="unplanned downtime starting after the cycle's as-of"),
                AsOfCut("recorded_at", when="planned", reason="planned downtime recorded after the cycle's as-of"),
            ),
            description="Planned and unplanned downtime events. As of the cycle: unplanned events starting after "
            "the as-of are excluded and one spanning it ends at the as-of; planned (future) downtime "
            "is known in advance and kept, unless its optional recorded_at is after the as-of (recorded_at of "
            "unplanned events is not used: they are known from their start).",
        ),
        _x(
            "resource_time",
            "day x resource",
            "date:date resource_id planned_hours:float run_hours:float ideal_units:float total_units:float "
            "good_units:float",
            key=["date", "resource_id"],
            ranges={
                "planned_hours": (0.0, 24.0),
                "run_hours": (0.0, 24.0),
                "ideal_units": QTY0,
                "total_units": QTY0,
                "good_units": QTY0,
            },
            references={"resource_id": RES},
            event_date="date",
            description="Daily OEE inputs per resource.",
        ),
        _x(
            "skills",
            "person x skill",
            "employee_id resource_id level:int shift hours_per_week:float",
            key=["employee_id", "resource_id"],
            ranges={"level": (0, 3), "hours_per_week": (0.0, 80.0)},
            references={"resource_id": RES},
            description="Skill matrix: who can run what.",
        ),
        _x(
            "suppliers",
            "supplier",
            "supplier_id name country route",
            key=["supplier_id"],
            optional=["name", "country"],
            description="Suppliers and their shipping route.",
        ),
        _x(
            "purchase_orders",
            "PO line",
            "po_id line:int supplier_id sku order_date:date promised_date:date qty:float unit_cost:float",
            key=["po_id", "line"],
            not_null=["supplier_id", "sku", "order_date", "qty"],
            ranges={"qty": QTY0, "unit_cost": QTY0},
            references={"sku": SKU, "supplier_id": ("suppliers", "supplier_id")},
            event_date="order_date",
            description="Purchase order lines.",
        ),
        _x(
            "receipts",
            "receipt",
            "po_id line:int receipt_date:date qty:float",
            not_null=["po_id", "line", "receipt_date", "qty"],
            ranges={"qty": QTY0},
            event_date="receipt_date",
            description="Goods receipts against PO lines (partial receipts allowed).",
        ),
        _x(
            "bom",
            "parent x component x effective dates",
            "parent_sku component_sku qty_per:float effective_from:date effective_to:date bom_version",
            not_null=["parent_sku", "component_sku", "qty_per"],
            optional=["effective_from", "effective_to", "bom_version"],
            positive=("qty_per",),
            references={"parent_sku": SKU, "component_sku": SKU},
            checks=("bom_structure",),
            description="Bill of materials: qty_per units of the component per unit of the parent, multi-level "
            "(a component may have its own BOM). Optional effective_from / effective_to (inclusive; empty = open) "
            "and bom_version: a row is used for requirements on the days it is in force, so the version in force "
            "at the as-of plans week 1 and a dated engineering change switches inside the horizon. Quarantined: "
            "zero or negative qty_per, an unknown parent or component, a cycle (an item containing itself through "
            "the BOM), a window that ends before it starts, and the same parent and component on overlapping dates.",
        ),
        _x(
            "ar_items",
            "invoice",
            "doc_id party_id doc_date:date due_date:date amount:float paid_date:date",
            key=["doc_id"],
            not_null=["doc_date", "amount"],
            event_date="doc_date",
            description="Accounts receivable invoices. As of the cycle: dated after the as-of is excluded; a "
            "paid_date after the as-of is empty (unpaid as of the as-of).",
        ),
        _x(
            "ap_items",
            "invoice",
            "doc_id party_id doc_date:date due_date:date amount:float paid_date:date",
            key=["doc_id"],
            not_null=["doc_date", "amount"],
            event_date="doc_date",
            description="Accounts payable invoices. As of the cycle: dated after the as-of is excluded; a "
            "paid_date after the as-of is empty (unpaid as of the as-of).",
        ),
        _x(
            "expedites",
            "event",
            "expedite_id date:date sku order_id reason cost:float approved",
            key=["expedite_id"],
            not_null=["date", "cost"],
            ranges={"cost": QTY0},
            optional=["sku", "order_id", "reason"],
            categories={"approved": ("yes", "no")},
            references={"sku": SKU},
            event_date="date",
            description="Expedite events and their cost.",
        ),
        _x(
            "revenue_plan",
            "month x family",
            "month:date family units:float revenue:float",
            key=["month", "family"],
            ranges={"units": QTY0, "revenue": QTY0},
            description="Finance's revenue plan by month and family.",
        ),
        _x(
            "risk_events",
            "event",
            "event_id date:date kind entity_id description",
            key=["event_id"],
            not_null=["date", "kind"],
            categories={"kind": ("supplier", "route", "asset")},
            optional=["description"],
            event_date="date",
            description="Known risk events (disruptions, alerts).",
        ),
        _x(
            "decisions",
            "decision",
            "cycle:date kind subject value approved accountable responsible decided_at:timestamp",
            key=["cycle", "kind", "subject"],
            not_null=["approved"],
            categories={
                "kind": ("freeze_window", "substitution", "make_vs_buy", "expedite", "service_target"),
                "approved": ("yes", "no"),
            },
            event_date="decided_at",
            description="Decisions logged in earlier S&OP meetings (yes/no only).",
        ),
        _x(
            "plan_history",
            "cycle x sku x week",
            "cycle_id:date sku week_start:date demand_units:float supply_units:float revenue:float family",
            key=["cycle_id", "sku", "week_start"],
            optional=["family"],
            ranges={"demand_units": QTY0, "supply_units": QTY0, "revenue": QTY0},
            references={"sku": SKU},
            event_date="cycle_id",
            description="Plans of record published before this pipeline kept history (e.g. the last meeting's "
            "plan or the previous tool's export): seed history for the freeze window and plan changes.",
        ),
        _x(
            "forecast_overrides",
            "override",
            "override_id level key week_from:date week_to:date mode value:float profile reason author approved:bool "
            "created_at:timestamp",
            key=["override_id"],
            not_null=["level", "week_from", "week_to", "mode", "value", "approved", "created_at"],
            categories={
                "level": ("sku", "family", "total"),
                "mode": ("units", "pct"),
                "profile": ("statistical", "consensus", "last_year", "flat"),
            },
            ranges={"value": (-100.0, None)},
            optional=["key", "profile", "reason", "author"],
            event_date="created_at",
            description="Demand planners' overrides of the consensus forecast: level sku|family|total (key = the "
            "SKU or family; empty for total), weeks week_from..week_to, mode units (value = units per week at "
            "that level) or pct (value = per cent change, >= -100), the profile that spreads a family or total "
            "override over its SKUs (statistical by default, consensus, last_year or flat), reason, author and "
            "the approved flag (only approved overrides apply). As of the cycle: created after the as-of is "
            "excluded. The rule (lower level first) is in sop_pipeline/analytics/overrides.py.",
        ),
        # --- exception workflow (issue 17 item 4): sop_pipeline/analytics/exceptions.py
        _x(
            "exception_updates",
            "update",
            "exception_key status owner note updated_by updated_at:timestamp",
            key=["exception_key", "updated_at"],
            not_null=["status"],
            categories={"status": ("open", "acknowledged", "closed")},
            optional=["owner", "note", "updated_by"],
            event_date="updated_at",
            description="Status changes to the exceptions mart, made by people between cycles: exception_key (from "
            "the published `exceptions`), status open|acknowledged|closed, an optional owner override, note, "
            "updated_by and updated_at. The latest update of a key wins; the file may hold every update so far or "
            "only the new ones (the previous cycle's status carries over). As of the cycle: updates after the "
            "as-of are excluded. A key that is no exception of this or the previous cycle is listed in "
            "`exception_update_issues`, not applied.",
        ),
        _x(
            "raci",
            "area x kind",
            "area kind owner",
            key=["area", "kind"],
            not_null=["owner"],
            categories={
                "area": ("kpi", "demand", "inventory", "supply", "plan", "risk", "procurement", "finance"),
                "kind": (
                    "*",
                    "kpi_alert",
                    "risk",
                    "demand_flag",
                    "proposal",
                    "infeasible_plan",
                    "demand_plan_control",
                    "late_purchase",
                ),
            },
            description="Who owns the exceptions of an S&OP area (the Responsible of its RACI): area, exception "
            "kind (* = every kind of the area) and owner. Optional: without it (or for an area it leaves out) the "
            "risk board's owner, the decision log's Responsible, then the default RACI of the seed article apply "
            "(sop_pipeline/analytics/exceptions.py, DEFAULT_RACI).",
        ),
    ]
}

# At least one of these must be present (with `items`).
DEMAND_EXTRACTS = ("pos_sales", "sales_orders")
