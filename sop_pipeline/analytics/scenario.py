"""What-if scenarios: declared changes to the cycle's inputs, and base vs scenario side by side.

Pure pandas, no Dagster. A scenario is the same cycle on the same extracts with a few inputs
changed; the Dagster assets call one function of this module at each input it changes (the
`scenario` resource, `sop_pipeline.resources.ScenarioConfig`, carries the changes as run config):

* ``apply_demand``: the consensus before overrides (``analytics/demand_review``), per SKU x horizon
  week: units x (1 + change_pct / 100) for the SKUs of the change (``sku``, ``family`` or
  ``family: "*"``) in its weeks. The most specific change wins (SKU over family over ``*``). Approved
  overrides and booked orders then act as in the base cycle.
* ``apply_resource_hours``: available hours per resource-week of the capacity table
  (``analytics/capacity``) + ``hours_per_week_delta`` in the change's weeks (never below 0); load %
  and the weekly bottleneck are recomputed. The plan fits its supply into these hours.
* ``apply_lead_times``: the replenishment lead-time observations (days) of the SKUs bought from the
  supplier (its supplier on the SKU's latest purchase order): ``lead_time_days`` moves each SKU's
  mean there (the spread of the observations is kept), ``lead_time_delta_days`` adds to every
  observation. Safety stock and the plan's supplier lead time follow.
* ``scenario_decisions``: a service target (global, ABC class, ABC/XYZ class, family or SKU) and a
  make-vs-buy choice become approved decisions of the cycle (kind ``service_target`` /
  ``make_vs_buy``, decided at the as-of, id ``scenario:<name>:<n>``), appended to the decision log
  that the safety stock, capacity, sequence and plan read, so they act exactly as a meeting's
  decision would (and show in the scenario's decision log).

``parse_change_file`` reads the YAML change file and validates it: every problem is one line naming
the file, the line and the key. ``figures`` computes the compared figures from a cycle's published
tables, ``compare`` puts base and scenario side by side (the ``scenario_compare`` mart).
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from sop_pipeline.analytics.capacity import mark_load


HORIZON_WEEKS = 13
SECTIONS = ("demand", "resources", "suppliers", "service_targets", "make_vs_buy")
# key -> (required, kind) per section; kinds: str, num, weeks
FIELDS = {
    "demand": {"family": (False, "str"), "sku": (False, "str"), "change_pct": (True, "num"), "weeks": (False, "weeks")},
    "resources": {"resource_id": (True, "str"), "hours_per_week_delta": (True, "num"), "weeks": (False, "weeks")},
    "suppliers": {
        "supplier_id": (True, "str"),
        "lead_time_days": (False, "num"),
        "lead_time_delta_days": (False, "num"),
    },
    "service_targets": {
        "target_pct": (True, "num"),
        "class": (False, "str"),
        "family": (False, "str"),
        "sku": (False, "str"),
    },
    "make_vs_buy": {"sku": (True, "str"), "choice": (True, "str")},
}
ALIASES = {"service_target": "service_targets", "supplier_lead_times": "suppliers", "lead_times": "suppliers"}


class ScenarioError(ValueError):
    """A change file or a scenario change the pipeline cannot use (one line: file, line, key)."""


# --------------------------------------------------------------------------- change file


def _plain(node, lines: dict, path: tuple):
    """A composed YAML node as plain Python values, recording each value's line (1-based) by path."""
    import yaml

    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            out[key] = _plain(value_node, lines, (*path, key))
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(v, lines, (*path, i)) for i, v in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def parse_change_file(path: str | Path, name: str = "") -> dict:
    """The change file at ``path`` as a validated spec (``validate``); ScenarioError names the file,
    the line and the key of the first problem."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"change file {path}: cannot be read ({exc.strerror or exc})") from None
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(f"change file {path}{where}: not valid YAML ({problem})") from None
    lines: dict = {}
    raw = {} if node is None else _plain(node, lines, ())
    return validate(raw, name=name, source=f"change file {path}", lines=lines)


def validate(raw, name: str = "", source: str = "scenario run config", lines: dict | None = None) -> dict:
    """The changes as a normalized spec: {"name", "demand": [...], "resources": [...], ...}, each item
    with every key of its section (None where not given) and ``weeks`` as [from, to] (1-13)."""
    lines = lines or {}

    def fail(path: tuple, message: str):
        line = lines.get(path) or lines.get(path[:-1]) or lines.get(path[:1])
        where = f" line {line}" if line else ""
        key = _path_text(path)
        raise ScenarioError(f"{source}{where}: {key}: {message}" if key else f"{source}{where}: {message}")

    if not isinstance(raw, dict):
        fail((), "expected a mapping of sections (demand, resources, suppliers, service_targets, make_vs_buy)")
    spec = {"name": name, **{s: [] for s in SECTIONS}}
    for section, items in raw.items():
        canonical = ALIASES.get(section, section)
        if canonical == "name":
            spec["name"] = spec["name"] or str(items)
            continue
        if canonical not in SECTIONS:
            fail((section,), f"unknown section; expected one of {', '.join(SECTIONS)}")
        if items is None:
            continue
        if isinstance(items, dict):  # one change without the list dash
            items = [items]
            lines.update({(section, 0, *k[1:]): v for k, v in list(lines.items()) if k[:1] == (section,)})
        if not isinstance(items, list):
            fail((section,), "expected a list of changes")
        for i, item in enumerate(items):
            here = (section, i)
            if not isinstance(item, dict):
                fail(here, "expected a mapping like `- key: value`")
            spec[canonical].append(_validate_item(canonical, item, here, fail))
    if not any(spec[s] for s in SECTIONS):
        fail((), "no changes: give at least one of " + ", ".join(SECTIONS))
    return spec


def _path_text(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _validate_item(section: str, item: dict, here: tuple, fail) -> dict:
    fields = FIELDS[section]
    out = {}
    for key, value in item.items():
        if key not in fields:
            fail((*here, key), f"unknown key; {section} changes take {', '.join(fields)}")
    for key, (required, kind) in fields.items():
        value = item.get(key)
        if value is None:
            if required:
                fail(here, f"missing key {key}")
            out[key] = None
            continue
        out[key] = _typed(value, kind, (*here, key), fail)
    if section == "demand":
        if (out["family"] is None) == (out["sku"] is None):
            fail(here, 'give exactly one of sku or family (family: "*" for every SKU)')
        if out["change_pct"] <= -100:
            fail((*here, "change_pct"), f"must be above -100 (a demand cannot go below 0), got {out['change_pct']}")
    if section == "suppliers" and (out["lead_time_days"] is None) == (out["lead_time_delta_days"] is None):
        fail(here, "give exactly one of lead_time_days or lead_time_delta_days")
    if section == "suppliers" and out["lead_time_days"] is not None and out["lead_time_days"] < 0:
        fail((*here, "lead_time_days"), f"must be 0 or more, got {out['lead_time_days']}")
    if section == "service_targets":
        if sum(out[k] is not None for k in ("class", "family", "sku")) > 1:
            fail(here, "give at most one of class, family or sku (none: every item)")
        if not 50 <= out["target_pct"] < 100:
            fail((*here, "target_pct"), f"must be a service level in per cent, 50 <= x < 100, got {out['target_pct']}")
    if section == "make_vs_buy":
        choice = out["choice"].strip().lower()
        if choice not in ("make", "buy"):
            fail((*here, "choice"), f"must be make or buy, got {out['choice']!r}")
        out["choice"] = choice
    return out


def _typed(value, kind: str, path: tuple, fail):
    if kind == "str":
        if isinstance(value, (dict, list)):
            fail(path, f"expected a name, got {value!r}")
        return str(value).strip()
    if kind == "num":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            fail(path, f"expected a number, got {value!r}")
        return float(value)
    # weeks: [from, to] horizon weeks, or one week
    pair = [value, value] if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        not isinstance(pair, list)
        or len(pair) != 2
        or not all(isinstance(w, int) and not isinstance(w, bool) for w in pair)
        or not 1 <= pair[0] <= pair[1] <= HORIZON_WEEKS
    ):
        fail(path, f"expected [from, to] horizon weeks, 1 <= from <= to <= {HORIZON_WEEKS}, got {value!r}")
    return [int(pair[0]), int(pair[1])]


def is_empty(spec: dict | None) -> bool:
    return not spec or not any(spec.get(s) for s in SECTIONS)


def check_names(spec: dict, families, skus, resources, suppliers, source: str = "") -> None:
    """ScenarioError when a change names a family, SKU, resource or supplier the cycle does not
    have (``None`` for a collection: not checked)."""
    checks = [
        ("demand", "family", families, {"*"}),
        ("demand", "sku", skus, set()),
        ("resources", "resource_id", resources, set()),
        ("suppliers", "supplier_id", suppliers, set()),
        ("service_targets", "family", families, set()),
        ("service_targets", "sku", skus, set()),
        ("make_vs_buy", "sku", skus, set()),
    ]
    for section, key, known, extra in checks:
        if known is None:
            continue
        known = {str(k) for k in known if k is not None and not (isinstance(k, float) and math.isnan(k))}
        for i, item in enumerate(spec.get(section) or []):
            value = item.get(key)
            if value is not None and value not in known | extra:
                sample = ", ".join(sorted(known)[:8]) + (" ..." if len(known) > 8 else "")
                where = source or f"scenario {spec.get('name') or ''}".strip()
                raise ScenarioError(
                    f"{where}: {section}[{i}].{key}: {value!r} is not in this cycle's data (known: {sample})"
                )


# --------------------------------------------------------------------------- hooks


def _in_weeks(horizon_week: pd.Series, weeks) -> pd.Series:
    if weeks is None:
        return pd.Series(True, index=horizon_week.index)
    return horizon_week.between(weeks[0], weeks[1])


def demand_factors(frame: pd.DataFrame, families: pd.Series, spec: dict | None) -> pd.Series:
    """Per row of ``frame`` (sku, horizon_week): the demand factor of the scenario (1 where no change
    applies); the most specific change wins: sku > family > "*", later changes of one level over
    earlier ones."""
    factor = pd.Series(1.0, index=frame.index)
    if is_empty(spec):
        return factor
    family = frame["sku"].map(families)
    rank = pd.Series(-1, index=frame.index)
    for change in spec.get("demand") or []:
        if change["sku"] is not None:
            level, hit = 2, frame["sku"] == change["sku"]
        elif change["family"] == "*":
            level, hit = 0, pd.Series(True, index=frame.index)
        else:
            level, hit = 1, family == change["family"]
        hit = hit & _in_weeks(frame["horizon_week"], change["weeks"]) & (rank <= level)
        factor[hit] = 1.0 + change["change_pct"] / 100.0
        rank[hit] = level
    return factor


def apply_demand(consensus: pd.DataFrame, families: pd.Series, spec: dict | None) -> pd.DataFrame:
    """The consensus before overrides (sku, week_start, horizon_week, demand_units, demand_source, ...)
    with the scenario's demand changes; changed rows' demand_source gets "+scenario"."""
    if is_empty(spec) or not spec.get("demand"):
        return consensus
    out = consensus.copy()
    factor = demand_factors(out, families, spec)
    out["demand_units"] = out["demand_units"].astype(float) * factor.to_numpy()
    if "demand_source" in out:
        out["demand_source"] = out["demand_source"].where(factor == 1.0, out["demand_source"] + "+scenario")
    return out


def apply_resource_hours(capacity: pd.DataFrame, horizon: list, spec: dict | None) -> pd.DataFrame:
    """The capacity table (resource_id, week_start, available_hours, required_hours, load_pct,
    is_bottleneck) with hours_per_week_delta added to the available hours in the change's weeks
    (``horizon``: the week starts of horizon weeks 1..13); load % and the weekly bottleneck
    recomputed by the capacity rule (highest load, first resource on ties)."""
    if is_empty(spec) or not spec.get("resources") or capacity.empty:
        return capacity
    cap = capacity.copy()
    week_no = {pd.Timestamp(w).normalize(): i + 1 for i, w in enumerate(horizon)}
    horizon_week = pd.to_datetime(cap["week_start"]).dt.normalize().map(week_no)
    for change in spec["resources"]:
        hit = (cap["resource_id"] == change["resource_id"]) & _in_weeks(horizon_week, change["weeks"])
        cap.loc[hit, "available_hours"] = (cap.loc[hit, "available_hours"] + change["hours_per_week_delta"]).clip(
            lower=0.0
        )
    return mark_load(cap)


def apply_shift_calendar(resources: pd.DataFrame, spec: dict | None) -> pd.DataFrame:
    """The resources' shift calendar (resource_id, hours_per_day, days_per_week) for the production
    sequence: a resource with more hours in the scenario works that many hours more a week (the
    positive deltas of its changes, as days_per_week + delta / hours_per_day, at most 7 days), so the
    plan, which may now use them, still fits the calendar it is sequenced on. Fewer hours leave the
    calendar as it is (the plan already has fewer)."""
    if is_empty(spec) or not spec.get("resources") or resources.empty:
        return resources
    extra: dict[str, float] = {}
    for change in spec["resources"]:
        if change["hours_per_week_delta"] > 0:
            extra[change["resource_id"]] = extra.get(change["resource_id"], 0.0) + change["hours_per_week_delta"]
    out = resources.copy()
    hours = out["resource_id"].map(extra).fillna(0.0)
    per_day = pd.to_numeric(out["hours_per_day"]).astype(float)
    days = pd.to_numeric(out["days_per_week"]).astype(float)
    out["days_per_week"] = np.where(per_day > 0, np.minimum(7.0, days + hours / per_day.where(per_day > 0)), days)
    return out


def main_suppliers(purchase_orders: pd.DataFrame) -> pd.Series:
    """sku -> supplier of its latest purchase order (order date, then PO id)."""
    if purchase_orders is None or purchase_orders.empty:
        return pd.Series(dtype=object)
    po = purchase_orders.sort_values(["sku", "order_date", "po_id"], kind="stable")
    return po.drop_duplicates("sku", keep="last").set_index("sku")["supplier_id"].astype(str)


def apply_lead_times(
    lead_times: pd.DataFrame, purchase_orders: pd.DataFrame, bought: set, spec: dict | None
) -> pd.DataFrame:
    """Lead-time observations (sku, lead_time_days) with the supplier changes applied to the bought
    SKUs (``bought``) whose main supplier is the change's: lead_time_days sets the SKU's mean (each
    observation shifted by the same amount, never below 0), lead_time_delta_days adds to each."""
    if is_empty(spec) or not spec.get("suppliers") or lead_times.empty:
        return lead_times
    out = lead_times.copy()
    out["lead_time_days"] = out["lead_time_days"].astype(float)
    supplier = out["sku"].map(main_suppliers(purchase_orders))
    for change in spec["suppliers"]:
        hit = (supplier == change["supplier_id"]) & out["sku"].isin(bought)
        if change["lead_time_delta_days"] is not None:
            out.loc[hit, "lead_time_days"] += change["lead_time_delta_days"]
        else:
            mean = out.loc[hit].groupby("sku")["lead_time_days"].transform("mean")
            out.loc[hit, "lead_time_days"] += change["lead_time_days"] - mean
        out.loc[hit, "lead_time_days"] = out.loc[hit, "lead_time_days"].clip(lower=0.0)
    return out


def scenario_decisions(decisions: pd.DataFrame, as_of, spec: dict | None) -> pd.DataFrame:
    """The staged decision log (stg_sop__decisions columns) plus the scenario's service targets and
    make-vs-buy choices as approved decisions of the cycle, decided at the as-of (so they are the
    latest of their subject)."""
    if is_empty(spec) or not (spec.get("service_targets") or spec.get("make_vs_buy")):
        return decisions
    name = spec.get("name") or "scenario"
    rows = []
    for change in spec.get("service_targets") or []:
        if change["sku"] is not None:
            subjects = [f"sku:{change['sku']}"]
        elif change["family"] is not None:
            subjects = [f"family:{change['family']}"]
        elif change["class"] is not None:
            klass = change["class"].upper()
            subjects = [f"abc:{klass}" if len(klass) == 1 else f"class:{klass}"]
        else:  # every item: each ABC letter
            subjects = ["abc:A", "abc:B", "abc:C"]
        rows += [("service_target", s, f"{change['target_pct']:g}%") for s in subjects]
    rows += [("make_vs_buy", c["sku"], c["choice"]) for c in spec.get("make_vs_buy") or []]
    as_of = pd.Timestamp(as_of)
    added = pd.DataFrame(
        {
            "kind": [r[0] for r in rows],
            "subject": [r[1] for r in rows],
            "decision_value": [r[2] for r in rows],
            "approved": "yes",
            "accountable": f"scenario {name}",
            "responsible": f"scenario {name}",
            "decided_at": as_of + pd.Timedelta(hours=23, minutes=59),
            "cycle_date": as_of,
            "is_approved": True,
            "week_start": as_of - pd.Timedelta(days=as_of.weekday()),
            "decision_id": [f"scenario:{name}:{i + 1}" for i in range(len(rows))],
        }
    )
    for column in added.columns:  # the staged columns' types (dates stay dates, timestamps timestamps)
        if column not in decisions.columns or not len(decisions):
            continue
        sample = decisions[column].dropna()
        if decisions[column].dtype == object and len(sample) and type(sample.iloc[0]) is date:
            added[column] = [pd.Timestamp(v).date() for v in added[column]]
            continue
        try:
            added[column] = added[column].astype(decisions[column].dtype)
        except (TypeError, ValueError):
            pass
    columns = list(decisions.columns) + ["decision_id"] * ("decision_id" not in decisions.columns)
    added = added.reindex(columns=columns)
    return pd.concat([decisions.reindex(columns=columns), added], ignore_index=True) if len(decisions) else added


def stock_point_inputs(
    lead_times: pd.DataFrame, decisions: pd.DataFrame, purchase_orders: pd.DataFrame, items: pd.DataFrame, as_of, spec
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The safety stock's lead-time observations and decision log with the scenario's supplier lead
    times, service targets and make-vs-buy choices (the SKUs bought after the scenario's choices)."""
    if is_empty(spec):
        return lead_times, decisions
    decisions = scenario_decisions(decisions, as_of, spec)
    source = items.set_index("sku")["make_or_buy"].fillna("make").str.lower()
    for change in spec.get("make_vs_buy") or []:
        source[change["sku"]] = change["choice"]
    return apply_lead_times(lead_times, purchase_orders, set(source[source == "buy"].index), spec), decisions


# --------------------------------------------------------------------------- compare

COMPARE_COLUMNS = [
    "scenario",
    "cycle_id",
    "scope",
    "key",
    "metric",
    "unit",
    "base_value",
    "scenario_value",
    "delta",
    "delta_pct",
]
# metric -> unit, in display order
METRICS = {
    "demand_units": "units",
    "revenue": "money",
    "margin": "money",
    "net_margin": "money",
    "projected_fill_rate_pct": "%",
    "stockout_sku_weeks": "SKU-weeks",
    "cut_units": "units",
    "built_ahead_units": "units",
    "inventory_value_end": "money",
    "working_capital_end": "money",
    "cash_tied_up_13w": "money",
    "available_hours_13w": "hours",
    "capacity_load_pct": "%",
    "planned_hours_13w": "hours",
    "plan_load_pct": "%",
}


def _fill_rate(plan: pd.DataFrame) -> pd.DataFrame:
    """Per SKU-week the units of demand not met in their week: the growth of the backlog (negative
    projected inventory) over the week, at most the week's demand."""
    p = plan.sort_values(["sku", "horizon_week"], kind="stable")
    backlog = (-p["projected_inventory_units"].astype(float)).clip(lower=0.0)
    before = backlog.groupby(p["sku"]).shift(1).fillna(0.0)
    unmet = np.minimum((backlog - before).clip(lower=0.0), p["demand_units"].astype(float).clip(lower=0.0))
    return p.assign(unmet_units=unmet)


def _share(part, whole) -> float:
    return 100.0 * float(part) / float(whole) if whole and whole > 0 else 0.0


def figures(
    plan: pd.DataFrame, capacity: pd.DataFrame, cash: pd.DataFrame, sequence: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The compared figures of one cycle from its published tables (plan_of_record,
    datapack_capacity, datapack_cash_projection): rows scope (family | total | resource), key,
    metric, value.

    Per family and total: demand units, revenue, margin and (where the plan has it) net margin -
    margin less the plan's expedite and alternate-resource costs - over the 13 weeks; projected fill rate
    (% of demand met in its week on the plan's projection: a backlog that grows in a week counts as
    unmet); stockout SKU-weeks (service_risk stockout); cut units; units built ahead (where the plan
    has the column); inventory value at cost at the end
    of week 13 (positive projected inventory x unit cost, the cost being (revenue - margin) / demand
    units of the SKU). Total only: working capital at week 13 and cash tied up over the horizon
    (datapack_cash_projection). Per resource: available hours and the supply review's load %
    (datapack_capacity: required hours of the statistical forecast's make volume + changeovers /
    available); the plan of record's hours (datapack_capacity.plan_hours: its run hours + the
    changeover reserve, every resource; from a serving file without that column, the sequenced
    resources' hours in sequence_summary) and plan load % = those / available hours, the load the
    pack's capacity heatmap shows."""
    rows = []
    if len(plan):
        p = _fill_rate(plan)
        demand = p.groupby("sku")["demand_units"].sum()
        cost = (
            (p.groupby("sku")["revenue"].sum() - p.groupby("sku")["margin"].sum()) / demand.where(demand > 0)
        ).fillna(0.0)
        last = p[p["horizon_week"] == p["horizon_week"].max()]
        p["inventory_value_end"] = np.where(
            p.index.isin(last.index),
            p["projected_inventory_units"].astype(float).clip(lower=0.0) * p["sku"].map(cost).fillna(0.0),
            0.0,
        )
        p["stockout"] = (p["service_risk"] == "stockout").astype(int)
        money = ["demand_units", "revenue", "margin"] + (["net_margin"] if "net_margin" in p else [])
        units = ["cut_units"] + (["built_ahead_units"] if "built_ahead_units" in p else [])
        for scope, group in [("family", p.groupby("family")), ("total", p.assign(_all="total").groupby("_all"))]:
            agg = group.agg(
                **{c: (c, "sum") for c in money},
                unmet=("unmet_units", "sum"),
                stockout_sku_weeks=("stockout", "sum"),
                **{c: (c, "sum") for c in units},
                inventory_value_end=("inventory_value_end", "sum"),
            )
            agg["projected_fill_rate_pct"] = np.where(
                agg.demand_units > 0, 100 * (1 - agg.unmet / agg.demand_units.where(agg.demand_units > 0)), 100.0
            )
            for key, r in agg.iterrows():
                for metric in (
                    *money,
                    "projected_fill_rate_pct",
                    "stockout_sku_weeks",
                    *units,
                    "inventory_value_end",
                ):
                    rows.append((scope, str(key), metric, float(r[metric])))
    if len(cash):
        c = cash.sort_values("week_start")
        rows.append(("total", "total", "working_capital_end", float(c["working_capital"].iloc[-1])))
        rows.append(("total", "total", "cash_tied_up_13w", float(c["cash_tied_up"].sum())))
    if len(capacity):
        available = capacity.groupby("resource_id")["available_hours"].sum()
        required = capacity.groupby("resource_id")["required_hours"].sum()
        if "plan_hours" in capacity and capacity["plan_hours"].notna().any():  # the plan's load, every resource
            planned = capacity.groupby("resource_id")["plan_hours"].sum()
        elif sequence is not None and len(sequence):  # a serving file from before plan_hours: the sequence's
            planned = sequence.groupby("resource_id")["required_hours"].sum()
        else:
            planned = pd.Series(dtype=float)
        for rid, hours in available.items():
            rows.append(("resource", str(rid), "available_hours_13w", float(hours)))
            rows.append(("resource", str(rid), "capacity_load_pct", _share(required.get(rid, 0.0), hours)))
            if rid in planned.index:
                rows.append(("resource", str(rid), "planned_hours_13w", float(planned[rid])))
                rows.append(("resource", str(rid), "plan_load_pct", _share(planned[rid], hours)))
    return pd.DataFrame(rows, columns=["scope", "key", "metric", "value"])


def compare(base: pd.DataFrame, scenario: pd.DataFrame, name: str, cycle_id) -> pd.DataFrame:
    """Base and scenario figures (``figures``) side by side: one row per scope, key and metric of
    either, delta = scenario - base and delta % of the base (empty when the base is 0)."""
    keys = ["scope", "key", "metric"]
    both = base.merge(scenario, on=keys, how="outer", suffixes=("_base", "_scenario"))
    out = pd.DataFrame(
        {
            "scenario": name,
            "cycle_id": cycle_id,
            "scope": both["scope"],
            "key": both["key"],
            "metric": both["metric"],
            "unit": both["metric"].map(METRICS),
            "base_value": both["value_base"].astype(float),
            "scenario_value": both["value_scenario"].astype(float),
        }
    )
    out["delta"] = out["scenario_value"] - out["base_value"]
    out["delta_pct"] = np.where(
        out["base_value"].abs() > 1e-12,
        100 * out["delta"] / out["base_value"].abs().where(out["base_value"] != 0),
        np.nan,
    )
    order = {m: i for i, m in enumerate(METRICS)}
    scope_order = {"total": 0, "family": 1, "resource": 2}
    out = out.assign(_s=out["scope"].map(scope_order), _m=out["metric"].map(order))
    out = out.sort_values(["_s", "key", "_m"], kind="stable").drop(columns=["_s", "_m"]).reset_index(drop=True)
    return out[COMPARE_COLUMNS]


def empty_compare() -> pd.DataFrame:
    return pd.DataFrame(
        {
            c: pd.Series(dtype=float if c in ("base_value", "scenario_value", "delta", "delta_pct") else object)
            for c in COMPARE_COLUMNS
        }
    )
