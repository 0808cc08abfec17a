"""Demand planners' overrides of the consensus forecast, disaggregated to SKU-weeks.

An override (the optional `forecast_overrides` extract) sets the consensus of one level for a range
of weeks: ``level`` ``sku`` (key = the SKU), ``family`` (key = the family) or ``total`` (key empty:
every SKU); ``mode`` ``units`` (``value`` = units *per week* at that level) or ``pct`` (``value`` =
per cent change of that level's pre-override consensus, e.g. ``-10``); ``week_from``..``week_to``
(any day of the first and last week, both included; weeks outside the 13-week horizon are ignored).

**Rule (lower level first).** Each horizon week is resolved bottom up:

1. *SKU overrides* set their SKU's week: ``value`` units, or the SKU's pre-override consensus x
   (1 + value/100).
2. *Family overrides* set the family's week. SKUs of the family that a SKU override already set
   keep their value (``L`` units in all), and so do SKUs being run down (a phase-out, discontinued
   or obsolete lifecycle, `run_out`: a family or total override never puts demand back on an item
   being retired; only a SKU override names one). The other SKUs, the *free* ones, share
   ``R`` in proportion to the override's profile:
   - ``units``: ``R = value - L``, so the family total equals ``value``. When ``L > value`` the
     free SKUs get 0 and the family ends ``L - value`` above the override (the log says so);
   - ``pct``: ``R`` = the free SKUs' pre-override consensus x (1 + value/100): the per cent
     changes what the override sets. The SKUs kept are not made up for: a +5% on the total over
     a family cut 10% at family level is +5% on the other families, not the +5% of the total
     pushed onto them (which, on the demo, would be +20%).
   When every SKU of the family is kept the family override changes nothing that week.
3. *Total overrides* do the same over every SKU, keeping the SKUs set at steps 1 and 2.

Two overrides of the same level and key that cover the same week: the one created last wins that
week (ties: the larger override_id); the other is ``superseded`` there. Only approved overrides
apply; the others are listed with status ``not approved``.

**Profiles** (the share each free SKU gets of ``T - L`` in a week): ``statistical`` (default: the
statistical p50 forecast of the week), ``consensus`` (the pre-override consensus of the week),
``last_year`` (the SKU's sales - POS + B2B shipments - in the week 52 weeks earlier) and ``flat``
(equal shares). When the named profile is zero for every free SKU of the group (no history a year
ago, a zero forecast), the statistical profile is used, then equal shares.

Pure pandas/numpy; no Dagster import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

LEVELS = ("sku", "family", "total")
MODES = ("units", "pct")
PROFILES = ("statistical", "consensus", "last_year", "flat")
DEFAULT_PROFILE = "statistical"
LAST_YEAR_WEEKS = 52

OVERRIDE_COLUMNS = [
    "override_id",
    "level",
    "key",
    "week_from",
    "week_to",
    "mode",
    "value",
    "profile",
    "reason",
    "author",
    "approved",
    "created_at",
]
LOG_COLUMNS = [
    *OVERRIDE_COLUMNS,
    "status",
    "sku_weeks",
    "weeks",
    "base_units",
    "override_units",
    "delta_units",
    "note",
]
WATERFALL_COLUMNS = [
    "sku",
    "family",
    "week_start",
    "horizon_week",
    "statistical_units",
    "base_units",
    "override_delta_units",
    "consensus_units",
    "override_ids",
    "override_level",
]


@dataclass
class OverrideResult:
    waterfall: pd.DataFrame  # one row per SKU-week: WATERFALL_COLUMNS
    log: pd.DataFrame  # one row per override: LOG_COLUMNS


def _monday(values: pd.Series) -> pd.Series:
    days = pd.to_datetime(values, errors="coerce")
    return (days.dt.normalize() - pd.to_timedelta(days.dt.day_of_week, unit="D")).astype("datetime64[us]")


def _truthy(values: pd.Series) -> pd.Series:
    return values.map(lambda v: str(v).strip().lower() in {"true", "yes", "1", "y", "t"} if pd.notna(v) else False)


def normalize(overrides: pd.DataFrame | None) -> pd.DataFrame:
    """The extract with every contract column, typed: week_from/week_to as Mondays, approved as bool,
    profile defaulted to ``statistical``, key empty for ``total``."""
    if overrides is None:
        overrides = pd.DataFrame(columns=OVERRIDE_COLUMNS)
    o = overrides.reindex(columns=OVERRIDE_COLUMNS).copy()
    o["override_id"] = o["override_id"].astype(str)
    o["level"] = o["level"].astype(str).str.strip().str.lower()
    o["key"] = o["key"].where(o["key"].notna(), "").astype(str).str.strip()
    o.loc[o.level == "total", "key"] = ""
    o["mode"] = o["mode"].astype(str).str.strip().str.lower()
    o["value"] = pd.to_numeric(o["value"], errors="coerce").astype(float)
    profile = o["profile"].where(o["profile"].notna(), "").astype(str).str.strip().str.lower()
    o["profile"] = profile.where(profile != "", DEFAULT_PROFILE)
    o["approved"] = _truthy(o["approved"]).astype(bool)
    o["week_from"] = _monday(o["week_from"])
    o["week_to"] = _monday(o["week_to"])
    o["created_at"] = pd.to_datetime(o["created_at"], errors="coerce")
    return o.reset_index(drop=True)


def _profile_weights(
    name: str, skus: np.ndarray, week: pd.Timestamp, stat: dict, base: dict, last_year: dict
) -> np.ndarray:
    """Weights of `skus` in `week` for profile `name`, falling back to statistical, then equal."""
    chain = {
        "statistical": ["statistical"],
        "consensus": ["consensus", "statistical"],
        "last_year": ["last_year", "statistical"],
        "flat": [],
    }.get(name, ["statistical"])
    sources = {"statistical": stat, "consensus": base, "last_year": last_year}
    for source in chain:
        series = sources[source]
        w = np.array([max(float(series.get((s, week), 0.0)), 0.0) for s in skus])
        if w.sum() > 0:
            return w / w.sum()
    return np.full(len(skus), 1.0 / len(skus)) if len(skus) else np.zeros(0)


def apply_overrides(
    base: pd.DataFrame,
    overrides: pd.DataFrame | None,
    families: pd.Series,
    history: pd.DataFrame | None = None,
    run_out: Iterable[str] = (),
) -> OverrideResult:
    """Apply the approved overrides to the consensus (module docstring: lower level first).

    Args:
        base: one row per SKU x horizon week: ``sku, week_start, horizon_week, statistical_units``
            (the statistical p50) and ``base_units`` (the consensus before overrides).
        overrides: the `forecast_overrides` extract (OVERRIDE_COLUMNS); None or empty: no overrides.
        families: family per SKU (index sku).
        history: weekly sales ``sku, week_start, units`` (rows of a SKU-week are summed) for ``last_year``.
        run_out: SKUs being run down (lifecycle.RUN_OUT_LIFECYCLES): they keep their consensus
            under family and total overrides; a SKU override still sets them.

    Returns the SKU-week waterfall (statistical, pre-override consensus, override delta, consensus,
    the override that set the week and its level) and one log row per override.
    """
    run_out = set(run_out)
    b = base.copy()
    b["week_start"] = pd.to_datetime(b["week_start"]).astype("datetime64[us]")
    b["family"] = b["sku"].map(families).fillna("")
    b = b.sort_values(["sku", "week_start"], kind="stable", ignore_index=True)
    o = normalize(overrides)
    weeks = sorted(b["week_start"].unique())
    week_set = set(weeks)
    skus_by_family = b.drop_duplicates("sku").groupby("family").sku.apply(lambda s: s.to_numpy())
    all_skus = b["sku"].drop_duplicates().to_numpy()
    keys = list(zip(b["sku"], b["week_start"]))
    stat = dict(zip(keys, b["statistical_units"].fillna(0.0).to_numpy(float)))
    base_units = dict(zip(keys, b["base_units"].fillna(0.0).to_numpy(float)))
    last_year: dict[tuple, float] = {}
    if history is not None and len(history):
        h = history.assign(
            week_start=(pd.to_datetime(history["week_start"]) + pd.Timedelta(weeks=LAST_YEAR_WEEKS)).astype(
                "datetime64[us]"
            )
        )
        last_year = h.groupby(["sku", "week_start"]).units.sum().to_dict()

    value = dict(base_units)
    setter: dict[tuple, tuple[str, str]] = {}  # (sku, week) -> (override_id, level)
    status = pd.Series("", index=o.index, dtype=object)
    note = pd.Series("", index=o.index, dtype=object)
    cells: dict[int, list[tuple]] = {i: [] for i in o.index}
    base_sum = pd.Series(0.0, index=o.index)
    for i, r in o.iterrows():
        if not r.approved:
            status[i] = "not approved"
        elif r.level not in LEVELS or r["mode"] not in MODES or not np.isfinite(r.value):
            status[i] = "not applied: invalid level, mode or value"
        elif r.level == "sku" and r.key not in set(all_skus):
            status[i] = f"not applied: SKU {r.key} has no forecast in the horizon"
        elif r.level == "family" and r.key not in skus_by_family.index:
            status[i] = f"not applied: family {r.key} has no SKU in the horizon"
        elif pd.isna(r.week_from) or pd.isna(r.week_to) or r.week_to < r.week_from:
            status[i] = "not applied: week_to is before week_from"
        elif not any(r.week_from <= w <= r.week_to for w in weeks):
            status[i] = "not applied: outside the horizon"

    live = o[status == ""].copy()
    # same level + key + week: the override created last wins (ties: larger id)
    live = live.sort_values(["created_at", "override_id"], kind="stable", na_position="first")
    winner: dict[tuple, int] = {}
    for i, r in live.iterrows():
        for w in weeks:
            if r.week_from <= w <= r.week_to:
                winner[(r.level, r.key, w)] = i  # later rows overwrite earlier ones

    superseded_by: dict[int, set[str]] = {}
    for i, r in live.iterrows():
        for w in weeks:
            if r.week_from <= w <= r.week_to and winner[(r.level, r.key, w)] != i:
                superseded_by.setdefault(i, set()).add(o.override_id[winner[(r.level, r.key, w)]])

    def members(level: str, key: str) -> np.ndarray:
        return np.array([key]) if level == "sku" else (skus_by_family[key] if level == "family" else all_skus)

    for level in LEVELS:
        for (lvl, key, w), i in sorted(winner.items(), key=lambda kv: (str(kv[0][1]), kv[0][2])):
            if lvl != level or w not in week_set:
                continue
            r = o.loc[i]
            group = members(level, key)
            locked = [s for s in group if (s, w) in setter]
            retiring = (
                [s for s in group if (s, w) not in setter and s in run_out and (s, w) in base_units]
                if level != "sku"
                else []
            )
            # SKUs of the group with a row that week (a SKU in the item master without a forecast row,
            # or absent at a backtest origin, takes no share)
            free = np.array([s for s in group if (s, w) not in setter and s not in retiring and (s, w) in base_units])
            kept = float(sum(value[(s, w)] for s in locked + retiring))
            if len(free) == 0:
                note[i] += f"{w.date()}: every SKU set by lower-level overrides or run down; "
                continue
            if r["mode"] == "units":
                rest = max(float(r.value), 0.0) - kept
                if rest < 0:
                    note[i] += f"{w.date()}: lower-level overrides exceed the target by {-rest:,.1f} units; "
                    rest = 0.0
            else:  # pct: of what the override sets (the free SKUs), the kept ones not made up for
                rest = max(float(sum(base_units[(s, w)] for s in free)) * (1 + float(r.value) / 100), 0.0)
            shares = _profile_weights(r.profile, free, w, stat, base_units, last_year)
            for s, share in zip(free, shares):
                value[(s, w)] = rest * share
                setter[(s, w)] = (r.override_id, level)
                cells[i].append((s, w))
                base_sum[i] += base_units[(s, w)]
            if locked:
                note[i] += f"{w.date()}: {len(locked)} SKU(s) kept at their lower-level override; "
            if retiring:
                note[i] += f"{w.date()}: {len(retiring)} SKU(s) being run down kept at their consensus; "

    log = o.copy()
    for i in o.index:
        if status[i]:
            continue
        applied = cells[i]
        if not applied:
            status[i] = "superseded" if i in superseded_by else "not applied: every SKU-week set at a lower level"
        else:
            status[i] = "applied"
        if i in superseded_by:
            note[i] += "superseded in some weeks by " + ", ".join(sorted(superseded_by[i])) + "; "
    log["status"] = status
    log["sku_weeks"] = [len(cells[i]) for i in o.index]
    log["weeks"] = [len({w for _, w in cells[i]}) for i in o.index]
    log["base_units"] = base_sum
    log["override_units"] = [float(sum(value[c] for c in cells[i])) for i in o.index]
    log["delta_units"] = log["override_units"] - log["base_units"]
    log["note"] = note.str.rstrip("; ")
    log = log.reindex(columns=LOG_COLUMNS).sort_values("override_id", kind="stable", ignore_index=True)

    wf = b[["sku", "family", "week_start", "horizon_week", "statistical_units", "base_units"]].copy()
    wf["consensus_units"] = [value[k] for k in keys]
    wf["override_delta_units"] = wf["consensus_units"] - wf["base_units"]
    wf["override_ids"] = [setter.get(k, ("", ""))[0] for k in keys]
    wf["override_level"] = [setter.get(k, ("", ""))[1] for k in keys]
    return OverrideResult(waterfall=wf[WATERFALL_COLUMNS], log=log)


def waterfall_breaks(waterfall: pd.DataFrame, log: pd.DataFrame, tol: float = 1e-6) -> list[str]:
    """What breaks the override arithmetic (empty = holds): consensus = base + delta on every row,
    no negative consensus, a week without an applied override keeps its base, and each applied
    override's units equal the consensus of the SKU-weeks it set."""
    wf = waterfall
    out = []
    bad = (wf.consensus_units - (wf.base_units + wf.override_delta_units)).abs() > tol
    out += [f"{r.sku} {pd.Timestamp(r.week_start).date()}: consensus != base + override" for r in wf[bad].itertuples()]
    out += [
        f"{r.sku} {pd.Timestamp(r.week_start).date()}: negative consensus"
        for r in wf[wf.consensus_units < -tol].itertuples()
    ]
    untouched = (wf.override_ids == "") & (wf.override_delta_units.abs() > tol)
    out += [
        f"{r.sku} {pd.Timestamp(r.week_start).date()}: changed without an override" for r in wf[untouched].itertuples()
    ]
    by_id = wf[wf.override_ids != ""].groupby("override_ids").consensus_units.sum()
    for r in log[log.status == "applied"].itertuples():
        if abs(by_id.get(r.override_id, 0.0) - r.override_units) > tol * max(1.0, abs(r.override_units)):
            out.append(f"override {r.override_id}: logged units differ from the waterfall")
    return out
