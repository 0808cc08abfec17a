"""Plant P1: resources, routings, changeovers, production orders, downtime, OEE inputs, skills.

Time on a machine runs on a *working clock*: 16 hours a day (06:00-22:00), Monday-Saturday
(Saturday = overtime), so one week = 96 clock hours. Each week the orders of a machine are
sequenced light -> dark by setup family (A, B, ...); an order occupies [unplanned downtime
attached to it] + changeover + run. Planned maintenance sits at the start of its week.
The planned schedule uses standard durations; the actual one adds breakdowns, slower runs and
longer changeovers, so a few orders finish in a later week (schedule adherence < 100%).
`resource_time` is derived from the same actual clock, so OEE = availability x performance x
quality is consistent with orders and downtime (~60-80% on M1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import Calendar, expand_ranges, rng_for
from .items import Catalog

DAY_H = 16.0  # working clock hours per day
WEEK_H = 96.0  # Monday-Saturday
SHIFT_START_H = 6
MAX_ORDER_H = 20.0  # largest production order, in ideal machine hours
STANDARD_PERF = 0.9  # planners plan run time at 90% of the ideal rate
UTIL = {"M1": 0.70, "M2": 0.65}  # average ideal run hours / 80 regular hours
PEAK_UTIL = 0.95  # ... but at most this in the busiest 8 weeks
RESOURCES = (  # id, type, name, is_constraint, hours_per_day, days_per_week
    ("M1", "machine", "Filler line 1", True, 16.0, 5.0),
    ("M2", "machine", "Packing line 2", False, 16.0, 5.0),
    ("L1", "labor", "Line operators", False, 16.0, 5.0),
    ("T1", "tooling", "Format tooling set", False, 16.0, 5.0),
    # an older spare set, free one shift on two days a week: the alternate of T1 for setup family A
    ("T2", "tooling", "Spare format tooling set (older)", False, 8.0, 2.0),
)
# Routing costs per running hour (cost_per_unit is left empty: 0). The spare tooling set T2 runs
# setup family A's formats at ALTERNATE_RATE x the T1 rate (priority 2, alternate_for T1).
COST_PER_HOUR = {"M1": 120.0, "M2": 90.0, "L1": 35.0, "T1": 15.0, "T2": 40.0}
ALTERNATE_FAMILY = "A"
ALTERNATE_RATE = 0.6
MACHINES = ("M1", "M2")
PLANNED_REASONS = ("Preventive maintenance", "Sanitation", "Calibration")
UNPLANNED_REASONS = (
    "Jam",
    "Motor fault",
    "Sensor failure",
    "Electrical fault",
    "Conveyor breakdown",
    "Material starvation",
)
RESCHEDULE_REASONS = (
    "Rush order",
    "Capacity rebalance",
    "Machine breakdown",
    "Material shortage",
    "Customer request",
    "Quality hold",
)


@dataclass
class Plant:
    make: np.ndarray  # FG indices of make SKUs
    machine: np.ndarray  # per make SKU: 0 = M1, 1 = M2
    setup: np.ndarray  # per make SKU: setup family index (0 = lightest)
    rate: np.ndarray  # per make SKU: ideal units/hour on its machine
    crew: np.ndarray  # per make SKU: operators needed while running
    families: list[str]  # setup family names
    changeover: np.ndarray  # (2, n_setup, n_setup) minutes, from x to


@dataclass
class Production:
    orders: pd.DataFrame
    downtime: pd.DataFrame
    resource_time: pd.DataFrame


def make_plant(cat: Catalog, demand_wk: np.ndarray, cal: Calendar, seed: int) -> Plant:
    """Assign make SKUs to M1/M2 and setup families; size rates so M1 is the loaded constraint."""
    rng = rng_for(seed, "plant")
    make = np.flatnonzero(cat.fg.make_or_buy.to_numpy() == "make")
    n = len(make)
    machine = (rng.random(n) < 0.35).astype(np.int64)
    n_setup = int(rng.choice([4, 5, 6]))
    setup = rng.integers(0, n_setup, n)
    raw = rng.uniform(0.7, 1.3, n)
    rate = np.zeros(n)
    for m, name in enumerate(MACHINES):
        sel = machine == m
        hours = (demand_wk[make[sel], : cal.weeks + 4] / raw[sel, None]).sum(axis=0)  # at rate = raw
        peak = np.convolve(hours, np.ones(8) / 8, mode="valid").max()  # busiest 8 weeks
        recent = hours[cal.weeks - 52 : cal.weeks].mean()  # the plant is sized for the last year
        c = max(recent / (UTIL[name] * 80.0), peak / (PEAK_UTIL * 80.0))
        rate[sel] = raw[sel] * c
    rate = np.where(rate >= 10, np.round(rate), np.maximum(np.round(rate, 1), 0.5))
    i, j = np.meshgrid(np.arange(n_setup), np.arange(n_setup), indexing="ij")
    light_to_dark = 10 + 8 * (j - i) + rng.uniform(0, 5, (2, n_setup, n_setup))
    dark_to_light = 40 + 25 * (i - j) + rng.uniform(0, 10, (2, n_setup, n_setup))
    minutes = np.where(j > i, light_to_dark, np.where(j < i, dark_to_light, 0.0))
    minutes[1] *= 0.6
    minutes = np.round(minutes / 5) * 5
    return Plant(
        make=make,
        machine=machine,
        setup=setup,
        rate=rate,
        crew=rng.integers(2, 4, n),
        families=[chr(ord("A") + f) for f in range(n_setup)],
        changeover=minutes,
    )


# --------------------------------------------------------------------------- orders and clock


def _balanced_phases(cycle: np.ndarray, hours_wk: np.ndarray, machine: np.ndarray) -> np.ndarray:
    """Start week (mod cycle) per SKU, chosen greedily (biggest first) to level each machine's weekly load."""
    phase = np.zeros(len(cycle), dtype=np.int64)
    for m in np.unique(machine):
        load = np.zeros(8)  # hours by week mod 8 (cycles divide 8)
        idx = np.flatnonzero(machine == m)
        for i in idx[np.argsort(-(hours_wk[idx] * cycle[idx]), kind="stable")]:
            k = int(cycle[i])
            p = int(np.argmin([load[q::k].max() for q in range(k)]))
            phase[i] = p
            load[p::k] += hours_wk[i] * k
    return phase


def _smooth(x: np.ndarray, width: int = 5) -> np.ndarray:
    """Centred moving average along weeks (promotion peaks are pre-built, not made in their week)."""
    pad = np.pad(x, ((0, 0), (width // 2, width // 2)), mode="edge")
    cs = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(pad, axis=1)], axis=1)
    return (cs[:, width:] - cs[:, :-width]) / width


def _order_plan(plant: Plant, demand_wk: np.ndarray, cal: Calendar, rng: np.random.Generator) -> pd.DataFrame:
    """Production orders per make SKU every k weeks, through 4 weeks ahead.

    k by volume rank (1, 2, 4 or 8 weeks), shortened while an order would need more than
    ``MAX_ORDER_H`` ideal machine hours; an order still bigger than that is split. Start weeks
    are staggered to level the load of each machine.
    """
    live = demand_wk[plant.make, : cal.weeks + 4]
    live = np.where(live > 0, live, np.nan)  # weeks the SKU is on sale (launches, phase-outs)
    avg = np.nan_to_num(np.nanmean(live, axis=1))  # units/week
    hours_wk = np.nan_to_num(np.nanquantile(live, 0.9, axis=1)) / plant.rate  # a busy week
    rank = np.argsort(np.argsort(-avg, kind="stable"), kind="stable") / max(len(avg), 1)
    cycle = np.select([rank < 0.1, rank < 0.3, rank < 0.6], [1, 2, 4], 8)
    while np.any((cycle > 1) & (cycle * hours_wk > MAX_ORDER_H)):
        cycle = np.where((cycle > 1) & (cycle * hours_wk > MAX_ORDER_H), cycle // 2, cycle)
    phase = _balanced_phases(cycle, hours_wk, plant.machine)
    n_weeks = cal.weeks + 4
    cs = np.concatenate([np.zeros((len(avg), 1)), np.cumsum(_smooth(demand_wk[plant.make]), axis=1)], axis=1)
    i, w = np.meshgrid(np.arange(len(avg)), np.arange(n_weeks), indexing="ij")
    sel = (w - phase[:, None]) % cycle[:, None] == 0
    i, w = i[sel], w[sel]
    need = (cs[i, w + cycle[i]] - cs[i, w]) * rng.uniform(0.95, 1.08, len(i))
    keep = need >= 1.0
    i, w, need = i[keep], w[keep], need[keep]
    splits = np.maximum(np.ceil(need / plant.rate[i] / MAX_ORDER_H), 1).astype(np.int64)
    piece = np.repeat(np.arange(len(i)), splits)
    i, w, need = i[piece], w[piece], need[piece] / splits[piece]
    orders = pd.DataFrame(
        {
            "mk": i,
            "week": w,
            "machine": plant.machine[i],
            "setup": plant.setup[i],
            "qty": np.maximum(np.ceil(need / 10) * 10, 10),
        }
    )
    return orders.sort_values(["machine", "week", "setup", "mk"], kind="stable").reset_index(drop=True)


def _clock(orders: pd.DataFrame, pre: np.ndarray, dur: np.ndarray, pm_hours: np.ndarray, n_weeks: int):
    """Lay orders of one machine on the working clock, week by week (a late week pushes the next).

    Returns (segment start per order, PM start per week) in clock hours; an order's segment is
    ``pre`` (downtime hit just before it) + ``dur`` (changeover + run).
    """
    week = orders.week.to_numpy()
    bounds = np.searchsorted(week, np.arange(n_weeks + 1))
    seg = pre + dur
    begin = np.zeros(len(orders))
    pm_start = np.zeros(n_weeks)
    cursor = 0.0
    for w in range(n_weeks):
        cursor = max(cursor, WEEK_H * w)
        pm_start[w] = cursor
        cursor += pm_hours[w]
        a, b = bounds[w], bounds[w + 1]
        if b > a:
            steps = np.cumsum(seg[a:b])
            begin[a:b] = cursor + np.concatenate([[0.0], steps[:-1]])
            cursor += steps[-1]
    return begin, pm_start


def clock_to_ts(cal: Calendar, hours: np.ndarray, end: bool = False) -> np.ndarray:
    """Working-clock hours -> datetime64[s] (Mon-Sat, 06:00-22:00), rounded to the minute.

    With ``end=True`` a time exactly at the close of a working day maps to 22:00 of that day
    (not 06:00 of the next one), for the ends of intervals.
    """
    hours = np.asarray(hours, dtype=float)
    g = np.floor(hours / DAY_H + 1e-9).astype(np.int64)
    if end:
        g = np.maximum(np.ceil(hours / DAY_H - 1e-9).astype(np.int64) - 1, 0)
    day = 7 * (g // 6) + g % 6
    minutes = np.round((SHIFT_START_H + hours - DAY_H * g) * 60).astype(np.int64)
    return cal.dates(day).astype("datetime64[s]") + (minutes * 60).astype("timedelta64[s]")


def _pm_plan(cal: Calendar, rng: np.random.Generator) -> np.ndarray:
    """(2, ext weeks) planned-maintenance hours at the start of the week, every 4-8 weeks per machine."""
    n_weeks = cal.weeks + 13
    out = np.zeros((2, n_weeks))
    for m, gaps in enumerate(((4, 7), (5, 9))):
        w = int(rng.integers(0, 4))
        while w < n_weeks:
            out[m, w] = rng.integers(4, 9)
            w += int(rng.integers(*gaps))
    return out


def _breakdowns(orders: pd.DataFrame, m: int, cal: Calendar, rng: np.random.Generator) -> pd.DataFrame:
    """Unplanned downtime hitting a random order of the week (``order_pos`` = row in ``orders``).

    Poisson events per week: 0.6 on M2; on M1 0.7, climbing to 3.5 over the last 20 weeks.
    Durations lognormal around 1.2 h (0.25-8 h, quarter hours).
    """
    W = cal.weeks
    weeks = np.arange(W)
    rate = np.full(W, 0.6) if m else 0.7 + 2.8 * np.clip((weeks - (W - 20)) / 20, 0, 1)
    week = np.repeat(weeks, rng.poisson(rate))
    first = np.searchsorted(orders.week.to_numpy(), week, side="left")
    last = np.searchsorted(orders.week.to_numpy(), week, side="right")
    has = last > first
    week, first, last = week[has], first[has], last[has]
    pos = first + np.floor(rng.random(len(week)) * (last - first)).astype(np.int64)
    hours = np.clip(np.round(rng.lognormal(np.log(1.2), 0.6, len(week)) * 4) / 4, 0.25, 8.0)
    return (
        pd.DataFrame({"order_pos": pos, "hours": hours, "reason": rng.choice(UNPLANNED_REASONS, len(week))})
        .sort_values("order_pos", kind="stable")
        .reset_index(drop=True)
    )


def simulate_production(plant: Plant, demand_wk: np.ndarray, cat: Catalog, cal: Calendar, seed: int) -> Production:
    """Production orders (planned + actual), downtime events and daily resource_time for M1 and M2."""
    rng = rng_for(seed, "production")
    orders = _order_plan(plant, demand_wk, cal, rng)
    pm = _pm_plan(cal, rng)
    per_machine, downtime, rtime = [], [], []
    for m in range(2):
        o = orders[orders.machine == m].reset_index(drop=True)
        o, dt, rt = _machine_history(plant, o, m, pm[m], cal, rng)
        per_machine.append(o)
        downtime.append(dt)
        rtime.append(rt)
    orders = pd.concat(per_machine, ignore_index=True)
    orders = orders.sort_values(["planned_start_h", "machine"], kind="stable").reset_index(drop=True)
    orders["order_id"] = [f"WO{i + 1:06d}" for i in range(len(orders))]
    orders = _statuses(orders, cal)
    downtime = pd.concat(downtime, ignore_index=True).sort_values(["start", "resource_id"], kind="stable")
    rtime = pd.concat(rtime, ignore_index=True).sort_values(["date", "resource_id"], kind="stable")
    return Production(
        orders=orders, downtime=downtime.reset_index(drop=True), resource_time=rtime.reset_index(drop=True)
    )


def _machine_history(
    plant: Plant, o: pd.DataFrame, m: int, pm: np.ndarray, cal: Calendar, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Planned and actual clock of one machine; its downtime events and daily OEE inputs.

    Hours are working-clock hours; quantities are units. Actuals exist for history weeks only.
    """
    n, W = len(o), cal.weeks
    rate = plant.rate[o.mk.to_numpy()]
    setup = o.setup.to_numpy()
    prev = np.concatenate([setup[:1], setup[:-1]])
    co_plan = plant.changeover[m, prev, setup] / 60.0
    run_plan = o.qty.to_numpy() / (rate * STANDARD_PERF)
    pm_plan = pm[: W + 4]
    plan_begin, _ = _clock(o, np.zeros(n), co_plan + run_plan, pm_plan, W + 4)

    hist = (o.week.to_numpy() < W) & (rng.random(n) >= 0.01)  # 1% cancelled before start
    short = rng.random(n) < 0.06
    good = np.round(o.qty.to_numpy() * np.where(short, rng.uniform(0.75, 0.94, n), rng.uniform(0.97, 1.01, n)))
    scrap_rate = rng.uniform(0.01, 0.04, n) + (0.005 if m == 0 else 0.0)
    scrap = np.round(good * scrap_rate / (1 - scrap_rate))
    run_act = (good + scrap) / (rate * rng.uniform(0.86, 0.96, n))
    co_act = co_plan * rng.uniform(0.9, 1.5, n)
    h_idx = np.flatnonzero(hist)
    hits = _breakdowns(o.iloc[h_idx].reset_index(drop=True), m, cal, rng)
    hits["order_pos"] = h_idx[hits.order_pos.to_numpy()]
    pre = np.bincount(hits.order_pos, hits.hours, minlength=n)
    act_begin, pm_start = _clock(o.iloc[h_idx], pre[h_idx], (co_act + run_act)[h_idx], pm[:W], W)
    begin = np.full(n, np.nan)
    begin[h_idx] = act_begin
    act_start = begin + pre
    run_start = act_start + co_act
    o = o.assign(
        planned_start_h=plan_begin,
        planned_end_h=plan_begin + co_plan + run_plan,
        actual_start_h=act_start,
        actual_end_h=run_start + run_act,
        run_start_h=run_start,
        good=np.where(hist, good, 0.0),
        scrap=np.where(hist, scrap, 0.0),
        resource_id=MACHINES[m],
        rate=rate,
    )
    dt = _downtime_events(hits, begin, pm_start, pm, m, cal, rng)
    rt = _resource_time(o.iloc[h_idx], pm_start, pm[:W], dt, m, cal)
    return o, dt, rt


def _downtime_events(
    hits: pd.DataFrame,
    begin: np.ndarray,
    pm_start: np.ndarray,
    pm: np.ndarray,
    m: int,
    cal: Calendar,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Unplanned events at their clock position; planned maintenance (history and 13 weeks ahead)."""
    W = cal.weeks
    offset = hits.groupby("order_pos").hours.cumsum().to_numpy() - hits.hours.to_numpy()
    u_start = begin[hits.order_pos.to_numpy()] + offset
    pm_weeks = np.flatnonzero(pm > 0)
    p_start = np.where(pm_weeks < W, pm_start[np.minimum(pm_weeks, W - 1)], WEEK_H * pm_weeks)
    start_h = np.concatenate([u_start, p_start])
    hours = np.concatenate([hits.hours.to_numpy(), pm[pm_weeks]])
    reasons = np.concatenate([hits.reason.to_numpy(), rng.choice(PLANNED_REASONS, len(pm_weeks), p=[0.6, 0.25, 0.15])])
    planned = np.arange(len(start_h)) >= len(hits)
    row, g, ov = _spread(start_h, start_h + hours)  # an event crossing the night is one row per day
    seg_start = np.maximum(start_h[row], DAY_H * g)
    first = np.concatenate([[True], row[1:] != row[:-1]]) if len(row) else np.zeros(0, dtype=bool)
    return pd.DataFrame(
        {
            "resource_id": MACHINES[m],
            "start": clock_to_ts(cal, seg_start),
            "end": clock_to_ts(cal, seg_start + ov, end=True),
            "planned": planned[row],
            "reason": reasons[row],
            "start_h": seg_start,
            "hours": ov,
            "event_hours": hours[row],
            "first_segment": first,
        }
    )


def _spread(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split clock intervals [a, b) over working days: (interval row, clock day, overlap hours)."""
    ok = b > a
    g0 = np.floor(a / DAY_H).astype(np.int64)
    g1 = np.floor((b - 1e-9) / DAY_H).astype(np.int64)
    row, g = expand_ranges(g0, np.where(ok, g1 - g0 + 1, 0))
    ov = np.minimum(b[row], DAY_H * (g + 1)) - np.maximum(a[row], DAY_H * g)
    return row, g, np.maximum(ov, 0.0)


def _per_day(a: np.ndarray, b: np.ndarray, n_g: int) -> np.ndarray:
    """Hours of intervals [a, b) falling on each of the first n_g working days."""
    _, g, ov = _spread(a, b)
    return np.bincount(g[g < n_g], ov[g < n_g], n_g)


def _resource_time(
    o: pd.DataFrame, pm_start: np.ndarray, pm: np.ndarray, dt: pd.DataFrame, m: int, cal: Calendar
) -> pd.DataFrame:
    """Daily planned/run hours and ideal/total/good units of one machine, history days only.

    Weekdays: planned = 16 h minus planned maintenance; Saturdays appear only when overtime was
    worked (planned = hours busy). ideal_units = run hours x ideal rate.
    """
    n_g = 6 * cal.weeks
    run_a, run_b = o.run_start_h.to_numpy(), o.actual_end_h.to_numpy()
    row, g, ov = _spread(run_a, run_b)
    keep = g < n_g
    row, g, ov = row[keep], g[keep], ov[keep]
    frac = ov / np.maximum(run_b - run_a, 1e-9)[row]
    run_h = np.bincount(g, ov, n_g)
    ideal = np.bincount(g, ov * o.rate.to_numpy()[row], n_g)
    total = np.bincount(g, frac * (o.good + o.scrap).to_numpy()[row], n_g)
    good = np.bincount(g, frac * o.good.to_numpy()[row], n_g)
    pm_h = _per_day(pm_start, pm_start + pm, n_g)
    unplanned = dt[~dt.planned.to_numpy()]
    busy = (
        _per_day(o.actual_start_h.to_numpy(), o.actual_end_h.to_numpy(), n_g)
        + pm_h
        + _per_day(unplanned.start_h.to_numpy(), (unplanned.start_h + unplanned.hours).to_numpy(), n_g)
    )
    saturday = np.arange(n_g) % 6 == 5
    planned = np.where(saturday, np.minimum(np.ceil(busy * 2) / 2, DAY_H), DAY_H - pm_h)
    keep = ~saturday | (busy > 0)
    gi = np.flatnonzero(keep)
    return pd.DataFrame(
        {
            "date": cal.dates(7 * (gi // 6) + gi % 6),
            "resource_id": MACHINES[m],
            "planned_hours": np.round(planned[gi], 2),
            "run_hours": np.round(np.minimum(run_h[gi], planned[gi]), 2),
            "ideal_units": np.round(ideal[gi]),
            "total_units": np.round(total[gi]),
            "good_units": np.round(good[gi]),
        }
    )


def _statuses(orders: pd.DataFrame, cal: Calendar) -> pd.DataFrame:
    """completed / in_progress / released / planned / cancelled as seen at the end of end_date.

    In-progress orders report the good and scrap units made so far; not-started ones none.
    """
    now_h = WEEK_H * cal.weeks  # the clock at Monday 06:00 after end_date (nothing runs on Sundays)
    W = cal.weeks
    week = orders.week.to_numpy()
    a_start, a_end, r_start = (orders[c].to_numpy() for c in ("actual_start_h", "actual_end_h", "run_start_h"))
    hist = week < W
    cancelled = hist & np.isnan(a_start)
    started = ~cancelled & hist & (a_start < now_h)
    done = started & (a_end <= now_h)
    orders["status"] = np.select(
        [cancelled, done, started, week <= W], ["cancelled", "completed", "in_progress", "released"], "planned"
    )
    made = np.where(
        done, 1.0, np.where(started, np.clip((now_h - r_start) / np.maximum(a_end - r_start, 1e-9), 0, 1), 0.0)
    )
    orders["good"] = np.round(orders.good.to_numpy() * made)
    orders["scrap"] = np.round(orders.scrap.to_numpy() * made)
    orders["actual_start_h"] = np.where(started, a_start, np.nan)
    orders["actual_end_h"] = np.where(done, a_end, np.nan)
    return orders


def production_orders_extract(prod: Production, cat: Catalog, plant: Plant, cal: Calendar) -> dict:
    o = prod.orders

    def ts(col, end=False):
        return np.where(o[col].isna(), np.datetime64("NaT"), clock_to_ts(cal, o[col].fillna(0).to_numpy(), end))

    # created (released to the shop floor) 7 days before its planned start, at the latest at the end
    # of end_date: every order the extract holds is known at end_date
    planned = ts("planned_start_h")
    created = np.minimum(planned - np.timedelta64(7, "D"), (cal.end64 + 1).astype("datetime64[s]") - 1)
    return {
        "order_id": o.order_id.to_numpy(),
        "sku": cat.fg.sku.to_numpy()[plant.make[o.mk.to_numpy()]],
        "resource_id": o.resource_id.to_numpy(),
        "planned_start": planned,
        "planned_end": ts("planned_end_h", True),
        "actual_start": ts("actual_start_h"),
        "actual_end": ts("actual_end_h", True),
        "planned_qty": o.qty.to_numpy(),
        "good_qty": o.good.to_numpy(),
        "scrap_qty": o.scrap.to_numpy(),
        "status": o.status.to_numpy(),
        "created_at": created,
    }


def downtime_extract(prod: Production, cal: Calendar) -> dict:
    """Downtime events. recorded_at: an unplanned event when it ends; planned maintenance when it was
    scheduled, 4 weeks ahead, at the latest at the end of end_date (the horizon's PM is known)."""
    d = prod.downtime
    out = {c: d[c].to_numpy() for c in ("resource_id", "start", "end", "planned", "reason")}
    last = (cal.end64 + 1).astype("datetime64[s]") - 1
    out["recorded_at"] = np.where(out["planned"], np.minimum(out["start"] - np.timedelta64(28, "D"), last), out["end"])
    return out


def resource_time_extract(prod: Production) -> dict:
    r = prod.resource_time
    return {c: r[c].to_numpy() for c in r.columns}


def resources_extract() -> dict:
    cols = ("resource_id", "type", "name", "is_constraint", "hours_per_day", "days_per_week")
    return {c: np.array([r[i] for r in RESOURCES]) for i, c in enumerate(cols)}


def routings_extract(plant: Plant, cat: Catalog) -> dict:
    """Each make SKU on its machine, on the L1 labour pool (units per labour hour) and T1 tooling
    (priority 1, the primary routing), then the alternates: setup family A's SKUs may run on the
    spare tooling set T2 instead of T1 at 60% of the rate (priority 2). Costs per running hour."""
    n = len(plant.make)
    sku = cat.fg.sku.to_numpy()[plant.make]
    machine = np.array(MACHINES)[plant.machine]
    labour = np.round(plant.rate / plant.crew, 2)
    sf = np.array(plant.families)[plant.setup]
    resource = np.stack([machine, np.full(n, "L1"), np.full(n, "T1")], axis=1).ravel()
    alt = np.flatnonzero(sf == ALTERNATE_FAMILY)
    m = len(alt)
    return {
        "sku": np.concatenate([np.repeat(sku, 3), sku[alt]]),
        "resource_id": np.concatenate([resource, np.full(m, "T2")]),
        "units_per_hour": np.concatenate(
            [np.stack([plant.rate, labour, plant.rate], axis=1).ravel(), np.round(ALTERNATE_RATE * plant.rate[alt], 1)]
        ),
        "setup_family": np.concatenate([np.repeat(sf, 3), sf[alt]]),
        "priority": np.concatenate([np.ones(3 * n, dtype=np.int64), np.full(m, 2, dtype=np.int64)]),
        "alternate_for": np.array([None] * (3 * n) + ["T1"] * m, dtype=object),
        "cost_per_hour": np.array([COST_PER_HOUR[r] for r in resource] + [COST_PER_HOUR["T2"]] * m),
        "cost_per_unit": None,
    }


def changeovers_extract(plant: Plant) -> dict:
    """Sequence-dependent minutes by setup family, per machine (asymmetric, zero diagonal)."""
    k = len(plant.families)
    m, i, j = np.meshgrid(np.arange(2), np.arange(k), np.arange(k), indexing="ij")
    fam = np.array(plant.families)
    return {
        "resource_id": np.array(MACHINES)[m.ravel()],
        "from_key": fam[i.ravel()],
        "to_key": fam[j.ravel()],
        "minutes": plant.changeover.ravel(),
    }


def schedule_changes(prod: Production, cal: Calendar, disruption: tuple[int, int], seed: int) -> dict:
    """A few reschedules per week (more, mostly material shortages, around the supplier disruption).

    ``disruption`` = (first, last) day index of the supplier trouble window. old_start is where the
    order was before the change, new_start its (current) planned start; changed_at 1-7 days before.
    """
    rng = rng_for(seed, "schedule-changes")
    o = prod.orders[prod.orders.status != "cancelled"]
    W = cal.weeks
    per_week = np.bincount(o.week, minlength=W + 4)
    lam = np.full(W + 4, 2.0 + np.log2(1.0 + per_week.mean() / 10.0))
    weeks = np.arange(W + 4)
    trouble = (7 * weeks + 6 >= disruption[0]) & (7 * weeks <= disruption[1])
    lam[trouble] *= 2.0
    picks = []
    for w in weeks:  # one draw per week (~160), not per order
        cand = np.flatnonzero(o.week.to_numpy() == w)
        n = min(int(rng.poisson(lam[w])), len(cand))
        picks.append(np.sort(rng.choice(cand, n, replace=False)))
    idx = np.concatenate(picks).astype(np.int64)
    sel = o.iloc[idx]
    new = clock_to_ts(cal, sel.planned_start_h.to_numpy())
    shift = rng.choice([-3, -2, -1, 1, 2, 3, 7], len(sel)).astype("timedelta64[D]")
    changed = (new.astype("datetime64[D]") - rng.integers(1, 8, len(sel)).astype("timedelta64[D]")).astype(
        "datetime64[s]"
    ) + (rng.integers(8 * 60, 17 * 60, len(sel)) * 60).astype("timedelta64[s]")
    in_trouble = trouble[sel.week.to_numpy()]
    normal_p = [0.25, 0.25, 0.2, 0.1, 0.15, 0.05]
    trouble_p = [0.1, 0.1, 0.1, 0.6, 0.05, 0.05]
    reason = np.where(
        in_trouble,
        rng.choice(RESCHEDULE_REASONS, len(sel), p=trouble_p),
        rng.choice(RESCHEDULE_REASONS, len(sel), p=normal_p),
    )
    now = (cal.end64 + 1).astype("datetime64[s]")
    keep = (changed < now) & (changed >= cal.start64.astype("datetime64[s]"))
    out = pd.DataFrame(
        {
            "order_id": sel.order_id.to_numpy(),
            "changed_at": changed,
            "old_start": new - shift,
            "new_start": new,
            "reason": reason,
        }
    )[keep]
    out = out.sort_values(["changed_at", "order_id"], kind="stable")
    return {c: out[c].to_numpy() for c in out.columns}


def routed_hours(plant: Plant, units: np.ndarray) -> dict[str, np.ndarray]:
    """Hours per week on each routed resource for make-SKU units (n_make, weeks), at the routings'
    rates: the machine's ideal rate on M1/M2 and T1, rate / crew per labour hour on L1."""
    machine_h = units / plant.rate[:, None]
    return {
        "M1": machine_h[plant.machine == 0].sum(axis=0),
        "M2": machine_h[plant.machine == 1].sum(axis=0),
        "T1": machine_h.sum(axis=0),
        "L1": (units / np.round(plant.rate / plant.crew, 2)[:, None]).sum(axis=0),
    }


def skills_extract(size, seed: int, l1_hours_needed: float | None = None) -> dict:
    """Skill matrix: every employee x (L1, M1, M2) with level 0-3. Few people can run M1 (scarce).

    Shift B is short of qualified line operators: when ``l1_hours_needed`` (line-operator hours a
    week over both shifts, e.g. the horizon's mean from :func:`routed_hours`) is given, shift B
    keeps level 2-3 on L1 only for as many people as cover 80% of its half; the others drop to
    level 1 (in training), so the cross-training plan has a real gap to close.
    """
    rng = rng_for(seed, "skills")
    n = size.employees
    shift = np.where(rng.permutation(n) < (n + 1) // 2, "A", "B")
    hours = rng.choice([40.0, 32.0, 24.0], n, p=[0.75, 0.15, 0.10])
    l1 = rng.choice([1, 2, 3], n, p=[0.2, 0.5, 0.3])
    m2 = rng.choice([0, 1], n, p=[0.4, 0.6])
    m2[rng.choice(n, n // 2, replace=False)] = rng.choice([2, 3], n // 2, p=[0.7, 0.3])  # half run M2
    m1 = rng.choice([0, 1], n, p=[0.6, 0.4])
    n_m1 = max(2, n // 8)  # qualified M1 operators (level 2-3): mostly shift A, one on shift B
    a_staff, b_staff = np.flatnonzero(shift == "A"), np.flatnonzero(shift == "B")
    qualified = np.concatenate([rng.choice(a_staff, n_m1 - 1, replace=False), rng.choice(b_staff, 1)])
    m1[qualified] = rng.choice([2, 3], n_m1, p=[0.6, 0.4])
    if l1_hours_needed is not None:
        covered = 0.0
        for i in b_staff:  # in employee order: the first ones keep their L1 qualification
            if l1[i] >= 2 and covered + hours[i] > 0.8 * l1_hours_needed / 2:
                l1[i] = 1
            covered += hours[i] if l1[i] >= 2 else 0.0
    emp = np.array([f"E{i + 1:03d}" for i in range(n)])
    return {
        "employee_id": np.repeat(emp, 3),
        "resource_id": np.tile(["L1", "M1", "M2"], n),
        "level": np.stack([l1, m1, m2], axis=1).ravel(),
        "shift": np.repeat(shift, 3),
        "hours_per_week": np.repeat(hours, 3),
    }
