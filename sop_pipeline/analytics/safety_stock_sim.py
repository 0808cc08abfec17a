"""Simulation check of (s, Q) and order-up-to (R, S) policies: does the computed reorder point give the target?

`simulate_service` replays an (s, nQ) or (R, S) policy for every stock point at once (numpy arrays over
stock points x paths; the loop runs over time steps only) and reports the achieved fill rate
(share of demand met from stock) and cycle service level (share of replenishment cycles
without a stockout).

Model, chosen to match the assumptions of the safety-stock formulas:

* **Backorders.** Unmet demand is backordered and served from the next receipt, as the normal
  and gamma formulas assume. Per step, units short = increase of the backorder level.
* **Time.** Each week is split into `substeps_per_week` steps (default 7, days); lead times
  are drawn per order (``"normal"`` truncated at 0, or ``"lognormal"`` with the same mean and
  sd). Under continuous review the receipt lands at the nearest step boundary; under
  order-up-to it lands at its exact time inside its step (the step's demand before it comes
  first), so a lead time shorter than a step (a made item's 17 hours) is not rounded to a day.
  Orders may cross unless ``orders_cross=False``.
* **Review.** With ``review_period_weeks == 0`` the review is continuous, (s, nQ): the order
  (the smallest multiple of Q that lifts the inventory position above s) is placed at the
  moment the position reaches s. With ``review_period_weeks = R > 0`` the policy is
  order-up-to (R, S), as `safety_stock_policies` computes it for a review period: the position
  is checked at the end of every R weeks and raised to S = ``reorder_point_units`` (the order
  is S - position, whatever Q says). The formulas protect L + R: a receipt must cover demand
  until the next one, one review and one lead time after its order.
* **Demand.** ``"normal"``: Brownian demand, i.e. i.i.d. N(mu/m, sigma^2/m) per step for m
  steps a week, so weekly demand is N(mu, sigma^2) and demand over any lead time has the
  formula's N(mu L, sigma^2 L). The moment s is reached inside a step comes from the Brownian
  bridge between the step's two ends (see `_brownian_passage`), so there is no undershoot: a
  straight line inside each step would overshoot s by about sigma^2 / (2 mu) units per order.
  A step can be negative (a return, which first clears backorders), as the normal model
  allows. ``"gamma"``: i.i.d. Gamma per step with the weekly mean and variance, never
  negative, moving in lumps, so continuous review undershoots s (by about the weekly
  variance / (2 x mean)) and the simulated service of lumpy items falls below a formula that
  ignores it. ``"bootstrap"``: each simulated week is a week drawn at random from the stock
  point's own history, spread evenly over its steps (same undershoot for lumpy items).
* **Statistics.** A cycle ends at a receipt and has a stockout when the net inventory just
  before the receipt is negative. Fill rate = 1 - units short / units demanded. Counting
  starts after `warmup_weeks`; paths of one stock point are pooled.
"""

from __future__ import annotations

import math
import zlib
from typing import Literal

import numpy as np
import pandas as pd

from sop_pipeline.analytics.safety_stock import (
    SafetyStockInputError,
    _optional_numeric,
    _require_columns,
    _stock_point_keys,
)

DemandModel = Literal["normal", "gamma", "bootstrap", "auto"]
LeadTimeModel = Literal["normal", "lognormal"]

_SIM_INPUTS = (
    "mean_weekly_demand",
    "sd_weekly_demand",
    "lead_time_mean_weeks",
    "lead_time_sd_weeks",
    "reorder_point_units",
    "order_qty_units",
)
_CHUNK_WEEKS = 64


def stream_seed(seed: int, label: object) -> np.random.SeedSequence:
    """The seed of one random stream of the simulation (e.g. a product family's): fixed by the run's
    seed and the label's text, whatever else is simulated with it."""
    return np.random.SeedSequence([int(seed), zlib.crc32(str(label).encode())])


class _Streams:
    """The simulation's random draws, by series (stock point x path). Without labels: one generator,
    ``default_rng(seed)``, drawn exactly as the simulation always drew. With a label per series (e.g.
    its product family): one generator per label (`stream_seed`), and every draw for a set of
    series is split by label, each label's part drawn from its own generator in series order. A
    label's series then get the same numbers whether they are simulated alone or with others - what
    lets the simulation run per family in parallel steps and still give one process's numbers.
    A part with no series draws nothing (numpy does not advance a generator for a size-0 draw)."""

    def __init__(self, seed: int, labels: np.ndarray | None, n: int):
        if labels is None:
            self.rngs = [np.random.default_rng(seed)]
            self.stream = np.zeros(n, dtype=np.int64)
        else:
            codes, uniques = pd.factorize(pd.Series(labels, dtype=object).astype(str), sort=True)
            self.rngs = [np.random.default_rng(stream_seed(seed, u)) for u in uniques]
            self.stream = np.asarray(codes, dtype=np.int64)
        self.n = n
        # each stream's series as a slice where they are contiguous (simulate_service orders them so):
        # a draw for every series then fills column blocks, not scattered columns
        self.block: list[slice | None] = []
        for k in range(len(self.rngs)):
            at = np.flatnonzero(self.stream == k)
            contiguous = len(at) and at[-1] - at[0] + 1 == len(at)
            self.block.append(slice(int(at[0]), int(at[-1]) + 1) if contiguous else None)

    def _draw(self, idx: np.ndarray | None, rows: int | None, fn) -> np.ndarray:
        """fn(generator, positions, count) per stream, placed at its positions (columns when ``rows``)."""
        size = self.n if idx is None else len(idx)
        if len(self.rngs) == 1:  # the one stream: drawn as the simulation always drew
            return fn(self.rngs[0], slice(None), size)
        out = np.empty((rows, size) if rows is not None else size)
        of = self.stream if idx is None else self.stream[idx]
        for k, rng in enumerate(self.rngs):
            at = self.block[k] if idx is None and self.block[k] is not None else np.flatnonzero(of == k)
            count = at.stop - at.start if isinstance(at, slice) else len(at)
            if count:
                out[(slice(None), at) if rows is not None else at] = fn(rng, at, count)
        return out

    def normal(self, idx: np.ndarray | None = None, rows: int | None = None) -> np.ndarray:
        return self._draw(idx, rows, lambda rng, at, k: rng.standard_normal((rows, k) if rows is not None else k))

    def uniform(self, idx: np.ndarray | None = None, rows: int | None = None) -> np.ndarray:
        return self._draw(idx, rows, lambda rng, at, k: rng.random((rows, k) if rows is not None else k))

    def gamma(self, shape: np.ndarray, scale: np.ndarray, idx: np.ndarray, rows: int) -> np.ndarray:
        """(rows, len(idx)) draws, column j with shape[j] and scale[j]."""
        return self._draw(idx, rows, lambda rng, at, k: rng.gamma(shape[at], scale[at], size=(rows, k)))

    def beta(self, a: np.ndarray, b: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return self._draw(idx, None, lambda rng, at, k: rng.beta(a[at], b[at]))

    def wald(self, mean: np.ndarray, scale: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return self._draw(idx, None, lambda rng, at, k: rng.wald(mean[at], scale[at]))


def _lead_time_steps(
    z: np.ndarray, mean: np.ndarray, sd: np.ndarray, model: LeadTimeModel, cap: np.ndarray
) -> np.ndarray:
    """One lead time per order, in (fractional) steps, within [0, cap]; z: a standard normal draw per order."""
    if model == "normal":
        draw = mean + sd * z
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            s2 = np.log1p(np.where(mean > 0, (sd / mean) ** 2, 0.0))
        draw = np.where(
            mean > 0,
            np.exp(np.log(np.maximum(mean, 1e-300)) - 0.5 * s2 + np.sqrt(s2) * z),
            0.0,
        )
    return np.clip(draw, 0.0, cap)


def _brownian_passage(
    streams: _Streams, series: np.ndarray, gap: np.ndarray, demand: np.ndarray, sd: np.ndarray
) -> np.ndarray:
    """When, within a step of Brownian demand, the inventory position first reaches s.

    `series`: the simulation's series these rows are (their random streams).
    `gap` = position - s at the start of the step (units), `demand` = the step's demand (the
    Brownian increment, already drawn), `sd` its standard deviation. Returns the fraction of the
    step at which s is reached, NaN where it is not. Exact for Brownian motion with drift: the
    path between the two ends is a Brownian bridge, which reaches s with probability 1 when it
    ends at or below s and exp(-2 * gap * end / sd^2) when it ends at `end` above s; given a
    passage, t / (1 - t) is inverse Gaussian with mean gap / |end| and shape (gap / sd)^2.
    """
    end = gap - demand
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        reach = np.where(end <= 0, 1.0, np.where(sd > 0, np.exp(-2.0 * gap * end / sd**2), 0.0))
    out = np.full(len(gap), np.nan)
    maybe = np.flatnonzero(reach > 1e-12)
    if not len(maybe):
        return out
    hit = maybe[streams.uniform(series[maybe]) < reach[maybe]]
    g, e, s_ = gap[hit], np.abs(end[hit]), sd[hit]
    with np.errstate(divide="ignore", invalid="ignore"):
        linear = np.clip(g / demand[hit], 0.0, 1.0)  # deterministic demand: straight line
        ratio = streams.wald(
            np.where(e > 0, g / np.maximum(e, 1e-300), 1.0), np.maximum((g / s_) ** 2, 1e-300), series[hit]
        )
    bridge = np.where(e > 0, ratio / (1.0 + ratio), 1.0)
    out[hit] = np.where(g <= 0, 0.0, np.where(s_ > 0, bridge, linear))
    return out


def _history_matrix(history: pd.DataFrame, keys: list[str], points: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Weekly demand per stock point as a NaN-padded matrix (points x weeks) and each row's length."""
    _require_columns(history, keys + ["units"], "demand history for the bootstrap")
    units = pd.to_numeric(history["units"], errors="coerce")
    if units.isna().any() or (units < 0).any():
        raise SafetyStockInputError("demand history has missing or negative units: fix those rows first")
    order = history.assign(units=units)
    if "week_start" in order.columns:
        order = order.sort_values("week_start", kind="stable")
    grouped = order.groupby(keys, sort=False)["units"].apply(lambda s: s.to_numpy(float))
    index = pd.MultiIndex.from_frame(points[keys])
    series = grouped.reindex(index) if len(keys) > 1 else grouped.reindex(points[keys[0]])
    missing = series.isna().to_numpy()
    if missing.any():
        raise SafetyStockInputError(
            "no demand history for stock point(s) "
            f"{', '.join(map(str, points.loc[missing, 'sku'].head(5)))}: "
            "the bootstrap needs at least one week per item"
        )
    lengths = np.array([len(s) for s in series])
    matrix = np.full((len(series), lengths.max()), np.nan)
    for row, values in enumerate(series):
        matrix[row, : len(values)] = values
    return matrix, lengths


def simulate_service(
    policies: pd.DataFrame,
    *,
    weeks: int = 2000,
    paths: int = 8,
    warmup_weeks: int = 52,
    demand_model: DemandModel = "normal",
    demand_history: pd.DataFrame | None = None,
    lead_time_model: LeadTimeModel = "normal",
    substeps_per_week: int = 7,
    orders_cross: bool = True,
    seed: int = 0,
    streams: pd.Series | np.ndarray | None = None,
) -> pd.DataFrame:
    """Achieved fill rate and cycle service of each stock point's (s, nQ) or (R, S) policy, by simulation.

    Args:
        policies: one row per stock point with ``mean_weekly_demand``, ``sd_weekly_demand``
            (units/week), ``lead_time_mean_weeks``, ``lead_time_sd_weeks``,
            ``reorder_point_units`` (s; S for order-up-to) and ``order_qty_units`` (Q), optional
            ``review_period_weeks`` (0 or absent: continuous (s, nQ); R > 0: order-up-to (R, S)
            with S = the reorder point) - e.g. the output of
            `safety_stock_policies`. Key columns (``sku``, ``location``) and ``service_type`` /
            ``service_target`` are carried over.
        weeks: simulated weeks per path, after `warmup_weeks`.
        paths: independent paths per stock point (results pool them).
        demand_model: "normal", "gamma" (both from the weekly mean/sd), "auto" (gamma for rows
            whose ``method`` is "gamma", as the formula assumed, normal otherwise) or "bootstrap" (weeks
            resampled from `demand_history`: ``sku`` [, ``location``], ``week_start``, ``units``).
        lead_time_model: "normal" (truncated at 0) or "lognormal", with the row's mean and sd.
        substeps_per_week: time steps per week.
        orders_cross: True (default): each order's lead time is drawn independently, so a later
            order may arrive first. False: receipts come in the order they were placed (a
            supplier or line delivering first in, first out); an order that would overtake
            waits for the one before it.
        seed: random seed; the same inputs and seed give the same numbers.
        streams: optional label per stock point (e.g. its product family): each label's stock points
            draw from a random stream of their own (`stream_seed(seed, label)`), so simulating a
            label's stock points alone gives the numbers they get here (`_Streams`). None: one
            stream for all, as the draws depend on the stock points before them.

    Returns:
        Keys, ``service_type`` / ``service_target`` if given, ``sim_fill_rate`` (share of
        demand met from stock), ``sim_cycle_service`` (share of cycles without stockout),
        ``sim_cycles`` (cycles counted), ``sim_avg_on_hand_units``, ``sim_avg_backorder_units``
        (time averages) and, with a target, ``sim_gap_pp`` (achieved minus target, in
        percentage points, for the row's service type). Rows with no demand get NaN.
    """
    _require_columns(policies, _SIM_INPUTS, "policies to simulate")
    if demand_model not in ("normal", "gamma", "bootstrap", "auto"):
        raise SafetyStockInputError(f"unknown demand model {demand_model!r}: use normal, gamma, bootstrap or auto")
    if lead_time_model not in ("normal", "lognormal"):
        raise SafetyStockInputError(f"unknown lead-time model {lead_time_model!r}: use normal or lognormal")
    if weeks < 1 or paths < 1 or warmup_weeks < 0 or substeps_per_week < 1:
        raise SafetyStockInputError("weeks, paths and substeps_per_week must be >= 1 and warmup_weeks >= 0")
    restore, stream_of = None, None
    if streams is not None:
        # each stream's stock points side by side (their order within the stream kept: the draws follow
        # it), so a draw for every series fills column blocks; the rows go back in order at the end
        stream_of = pd.Series(np.asarray(streams, dtype=object)).astype(str).to_numpy()
        order = np.argsort(pd.factorize(stream_of, sort=True)[0], kind="stable")
        policies, stream_of, restore = policies.iloc[order], stream_of[order], np.argsort(order)
    cols = {c: pd.to_numeric(policies[c], errors="coerce").to_numpy(float) for c in _SIM_INPUTS}
    if any((~np.isfinite(v)).any() for v in cols.values()):
        raise SafetyStockInputError("policies to simulate have missing numbers: compute the policies first")
    m = int(substeps_per_week)
    review = np.nan_to_num(_optional_numeric(policies, "review_period_weeks"))
    live = (cols["mean_weekly_demand"] > 0) & (cols["order_qty_units"] > 0)
    n_points = len(policies)
    keys = _stock_point_keys(policies)

    def per_series(values: np.ndarray) -> np.ndarray:
        return np.repeat(values[live], paths)

    n = int(live.sum()) * paths
    mu, sd = per_series(cols["mean_weekly_demand"]) / m, per_series(cols["sd_weekly_demand"]) / math.sqrt(m)
    s, q = per_series(cols["reorder_point_units"]), per_series(cols["order_qty_units"])
    lt_mean = per_series(cols["lead_time_mean_weeks"]) * m
    lt_sd = per_series(cols["lead_time_sd_weeks"]) * m
    lt_cap = lt_mean + 8.0 * lt_sd + 1.0
    review_steps = np.rint(per_series(review) * m).astype(np.int64)
    continuous = review_steps <= 0
    horizon = int(np.ceil(lt_cap.max())) + 2 if n else 2
    draws = _Streams(seed, None if stream_of is None else per_series(stream_of), n)

    if demand_model == "bootstrap":
        if demand_history is None:
            raise SafetyStockInputError("the bootstrap demand model needs demand_history (weekly units per item)")
        matrix, lengths = _history_matrix(demand_history, keys, policies.loc[live].reset_index(drop=True))
        hist_rows = np.repeat(np.arange(int(live.sum())), paths)
        hist_len = lengths[hist_rows]
    # "auto": gamma steps for the rows whose formula used the gamma (column method), Brownian otherwise
    if demand_model == "auto":
        methods = policies["method"].astype(str).to_numpy() if "method" in policies.columns else None
        gamma_rows = per_series(methods == "gamma") if methods is not None else np.zeros(n, dtype=bool)
    else:
        gamma_rows = np.full(n, demand_model == "gamma")
    if gamma_rows.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            g_shape = np.where(sd > 0, (mu / sd) ** 2, np.inf)
            g_scale = np.where(sd > 0, sd**2 / mu, 0.0)
    gamma_idx = np.flatnonzero(gamma_rows)

    brownian_rows = ~gamma_rows if demand_model in ("normal", "auto") else np.zeros(n, dtype=bool)
    brownian = bool(brownian_rows.any())
    cont_idx = np.flatnonzero(continuous & brownian_rows)

    def gamma_steps(n_steps: int, idx: np.ndarray) -> np.ndarray:
        shape = g_shape[idx]
        drawn = draws.gamma(np.where(np.isfinite(shape), shape, 1.0), np.maximum(g_scale[idx], 1e-300), idx, n_steps)
        return np.where(np.isfinite(shape), drawn, mu[idx])

    def demand_chunk(n_weeks: int) -> np.ndarray:
        """Demand per step for the next n_weeks weeks, shape (n_weeks * m, n)."""
        if demand_model == "normal":
            return mu + sd * draws.normal(rows=n_weeks * m)
        if demand_model == "gamma":
            return gamma_steps(n_weeks * m, np.arange(n))
        if demand_model == "auto":
            out = mu + sd * draws.normal(rows=n_weeks * m)
            if len(gamma_idx):
                out[:, gamma_idx] = gamma_steps(n_weeks * m, gamma_idx)
            return out
        pick = (draws.uniform(rows=n_weeks) * hist_len).astype(np.int64)
        weekly = matrix[hist_rows, pick] / m
        return np.repeat(weekly, m, axis=0)

    net = np.where(continuous, s + q, s)  # net inventory (on hand - backorders), units
    position = net.copy()  # inventory position (net + on order), units
    pipeline_qty = np.zeros((horizon, n))
    pipeline_due = np.zeros((horizon, n), dtype=bool)
    pipeline_frac = np.zeros((horizon, n))  # order-up-to receipts: when inside their step (0 = at its start)
    short = np.zeros(n)
    demanded = np.zeros(n)
    on_hand = np.zeros(n)
    backorder = np.zeros(n)
    cycles = np.zeros(n)
    last_arrival = np.zeros(n)
    stockout_cycles = np.zeros(n)
    series = np.arange(n)
    # per-step bookkeeping that does not touch the numbers: a slot with a receipt due (instead of
    # scanning its row), the steps at which some stock point reviews (no order can be placed at
    # the others unless the review is continuous), and the Brownian passage only where it can
    # happen (it draws nothing when no stock point is under continuous review)
    slot_due = np.zeros(horizon, dtype=bool)
    review_mod = np.maximum(review_steps, 1)
    any_continuous = bool(continuous.any())
    periods = sorted({int(p) for p in review_mod[~continuous]})
    passage = brownian and len(cont_idx) > 0
    has_gamma = bool(gamma_rows.any())
    total_weeks = int(warmup_weeks) + int(weeks)
    warm_step = int(warmup_weeks) * m
    step = 0
    for chunk_start in range(0, total_weeks, _CHUNK_WEEKS):
        chunk = demand_chunk(min(_CHUNK_WEEKS, total_weeks - chunk_start))
        for d in chunk:
            counting = step >= warm_step
            slot = step % horizon
            d_net = d  # demand after this step's receipts
            if slot_due[slot]:
                due = pipeline_due[slot]
                split = np.flatnonzero(due & (pipeline_frac[slot] > 0))
                if len(split):
                    # a receipt inside the step: the demand before it comes first (for Brownian demand, the
                    # bridge between the step's two ends), so a lead time shorter than a step is not rounded
                    f = pipeline_frac[slot, split]
                    before = f * d[split]
                    bridge = brownian_rows[split]
                    if bridge.any():
                        j = split[bridge]
                        before[bridge] += np.sqrt(f[bridge] * (1.0 - f[bridge])) * sd[j] * draws.normal(j)
                    lumps = gamma_rows[split] & np.isfinite(g_shape[split]) if has_gamma else None
                    # gamma steps: the part before the receipt is d x Beta(f a, (1 - f) a)
                    if lumps is not None and lumps.any():
                        j, fj = split[lumps], f[lumps]
                        before[lumps] = d[j] * draws.beta(
                            np.maximum(fj * g_shape[j], 1e-12), np.maximum((1.0 - fj) * g_shape[j], 1e-12), j
                        )
                    backorder_0 = np.maximum(-net[split], 0.0)
                    net[split] -= before
                    if counting:
                        short[split] += np.maximum(-net[split], 0.0) - backorder_0
                        demanded[split] += before
                    d_net = d.copy()
                    d_net[split] -= before
                    pipeline_frac[slot, split] = 0.0
                if counting:
                    cycles += due
                    stockout_cycles += due & (net < 0)
                net += pipeline_qty[slot]
                pipeline_qty[slot] = 0.0
                pipeline_due[slot] = False
                slot_due[slot] = False
            hit_at = None  # fraction of the step at which s is reached (continuous review, Brownian demand)
            if passage:
                hit_at = np.full(n, np.nan)
                hit_at[cont_idx] = _brownian_passage(
                    draws, cont_idx, position[cont_idx] - s[cont_idx], d[cont_idx], sd[cont_idx]
                )
            backorder_before = np.maximum(-net, 0.0)
            net -= d_net
            backorder_after = np.maximum(-net, 0.0)
            if counting:
                short += backorder_after - backorder_before
                demanded += d_net
                on_hand += np.maximum(net, 0.0)
                backorder += backorder_after
            position_before = position
            position = position - d
            if any_continuous or any((step + 1) % p == 0 for p in periods):
                reviewing = continuous | ((step + 1) % review_mod == 0)
                reached = position <= s if hit_at is None else (position <= s) | np.isfinite(hit_at)
                order = reviewing & np.where(continuous, reached, position < s)
            else:
                order = None
            if order is not None and order.any():
                idx = series[order]
                up_to = ~continuous[idx]  # (R, S): raise the position to S exactly
                lots = np.where(
                    up_to,
                    (s[idx] - position[idx]) / q[idx],
                    np.floor(np.maximum(s[idx] - position[idx], 0.0) / q[idx]) + 1.0,
                )
                with np.errstate(divide="ignore", invalid="ignore"):
                    crossing = np.clip((position_before[idx] - s[idx]) / d[idx], 0.0, 1.0)
                crossing = np.nan_to_num(crossing, nan=1.0)
                if hit_at is not None:
                    crossing = np.where(np.isfinite(hit_at[idx]), hit_at[idx], crossing)
                placed = step + np.where(continuous[idx], crossing, 1.0)
                lead = _lead_time_steps(draws.normal(idx), lt_mean[idx], lt_sd[idx], lead_time_model, lt_cap[idx])
                # continuous review: the receipt lands at the nearest step boundary; order-up-to (orders
                # placed at the end of a step): at its exact time, inside the step it falls in
                when = np.where(
                    up_to, np.maximum(placed + lead, step + 1.0), np.maximum(np.rint(placed + lead), step + 1.0)
                )
                if not orders_cross:
                    when = np.maximum(when, last_arrival[idx])
                    last_arrival[idx] = when
                arrival = np.floor(when).astype(np.int64)
                frac = when - arrival
                at = arrival % horizon
                pipeline_frac[at, idx] = np.where(pipeline_due[at, idx], np.minimum(pipeline_frac[at, idx], frac), frac)
                pipeline_qty[at, idx] += lots * q[idx]
                pipeline_due[at, idx] = True
                slot_due[at] = True
                position[idx] += lots * q[idx]
            step += 1

    def pooled(values: np.ndarray) -> np.ndarray:
        out = np.full(n_points, np.nan)
        out[live] = values.reshape(-1, paths).sum(axis=1)
        return out

    steps_counted = float(weeks * m * paths)
    out = policies[[c for c in keys + ["service_type", "service_target"] if c in policies.columns]].copy()
    total_demand, total_cycles = pooled(demanded), pooled(cycles)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["sim_fill_rate"] = np.clip(1.0 - pooled(short) / total_demand, 0.0, 1.0)
        out["sim_cycle_service"] = 1.0 - pooled(stockout_cycles) / total_cycles
    out["sim_cycles"] = total_cycles
    out["sim_avg_on_hand_units"] = pooled(on_hand) / steps_counted
    out["sim_avg_backorder_units"] = pooled(backorder) / steps_counted
    if {"service_type", "service_target"} <= set(policies.columns):
        achieved = np.where(
            policies["service_type"].astype(str).to_numpy() == "fill_rate",
            out["sim_fill_rate"],
            out["sim_cycle_service"],
        )
        out["sim_gap_pp"] = 100.0 * (achieved - pd.to_numeric(policies["service_target"], errors="coerce"))
    return out if restore is None else out.iloc[restore]


# --------------------------------------------------------------------------- sigma vs empirical quantile

COMPARE_COLUMNS = [
    "world",
    "ss_policy",
    "abc",
    "items",
    "service_target_pct",
    "sim_fill_rate_pct",
    "sim_cycle_service_pct",
    "median_abs_gap_pp",
    "short_items_pct",
    "safety_stock_units",
    "safety_stock_value",
    "sim_avg_on_hand_units",
]
SHORT_TOLERANCE_PP = 1.5


def error_world_history(
    backtest: pd.DataFrame, policies: pd.DataFrame, lag: int = 1, method: str = "lightgbm"
) -> pd.DataFrame:
    """Weekly demand of the "forecast errors" world: each SKU's mean weekly demand + one of its one-week-ahead
    backtest errors (actual - forecast), floored at 0 - the weeks the bootstrap resamples (``sku, week_start,
    units``). SKUs without errors are left out."""
    e = backtest[(backtest["method"] == method) & (backtest["lag"].astype(int) == lag)]
    e = e.assign(sku=e["sku"].astype(str), err=e["actual_units"].astype(float) - e["forecast_units"].astype(float))
    e = e.groupby(["sku", "week_start"], as_index=False)["err"].sum()
    mean = policies.drop_duplicates("sku").set_index("sku")["mean_weekly_demand"].astype(float)
    e = e[e.sku.isin(mean.index)]
    e["units"] = np.maximum(mean.reindex(e.sku).to_numpy() + e.err.to_numpy(), 0.0)
    return e[["sku", "week_start", "units"]]


def _summary(sim: pd.DataFrame, plan: pd.DataFrame, world: str, name: str) -> list[dict]:
    m = sim[["sku", "sim_fill_rate", "sim_cycle_service", "sim_avg_on_hand_units"]].merge(
        plan[["sku", "abc_xyz", "service_target", "policy", "safety_stock_units", "safety_stock_value"]], on="sku"
    )
    m = m[(m.policy == "service_target") & m.sim_fill_rate.notna()]
    m["abc"] = m.abc_xyz.fillna("C").str[:1]
    rows = []
    for abc, g in [("A+B", m[m.abc.isin(["A", "B"])]), ("all", m)]:
        gap = 100 * (g.sim_fill_rate - g.service_target)
        rows.append(
            {
                "world": world,
                "ss_policy": name,
                "abc": abc,
                "items": len(g),
                "service_target_pct": 100 * float(g.service_target.mean()) if len(g) else np.nan,
                "sim_fill_rate_pct": 100 * float(g.sim_fill_rate.mean()) if len(g) else np.nan,
                "sim_cycle_service_pct": 100 * float(g.sim_cycle_service.mean()) if len(g) else np.nan,
                "median_abs_gap_pp": float(gap.abs().median()) if len(g) else np.nan,
                "short_items_pct": 100 * float((gap < -SHORT_TOLERANCE_PP).mean()) if len(g) else np.nan,
                "safety_stock_units": float(g.safety_stock_units.sum()),
                "safety_stock_value": float(g.safety_stock_value.sum()),
                "sim_avg_on_hand_units": float(g.sim_avg_on_hand_units.sum()),
            }
        )
    return rows


COMPARE_WORLDS = ("forecast_errors", "model")
COMPARE_WEEKS, COMPARE_PATHS, COMPARE_SEED = 1000, 4, 11


def compare_points(plans: dict[str, pd.DataFrame], error_history: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per named plan (``{"sigma": ..., "empirical_quantile": ...}``, `safety_stock_policies` rows of one
    service type), the stock points the sigma-vs-quantile comparison simulates: those with a policy and
    with forecast errors in ``error_history``, in SKU order (the same points for every plan and world)."""
    have = set(error_history.sku.astype(str))
    out = {}
    for name, plan in plans.items():
        p = plan[(plan.method != "none") & plan.sku.astype(str).isin(have)].sort_values("sku", kind="stable")
        if not p.empty:
            out[name] = p
    return out


def simulate_compare(
    points: dict[str, pd.DataFrame],
    error_history: pd.DataFrame,
    *,
    weeks: int = COMPARE_WEEKS,
    paths: int = COMPARE_PATHS,
    seed: int = COMPARE_SEED,
    streams: str | None = None,
) -> dict[tuple[str, str], pd.DataFrame]:
    """`simulate_service` of each plan's points (`compare_points`) in two worlds: {(world, plan): rows}.
    ``forecast_errors``: weeks resampled from `error_world_history` (the demand the forecast actually
    missed by); ``model``: normal/gamma from the weekly mean and sd, as the validation check. Weekly
    order-up-to, receipts in order, the same seed for every plan. ``streams``: a column of the points
    (e.g. "family") whose values get random streams of their own, so a subset of the points (one
    family) simulated alone gets the rows it gets here."""
    sims = {}
    for world in COMPARE_WORLDS:
        for name, p in points.items():
            sims[(world, name)] = simulate_service(
                p,
                weeks=weeks,
                paths=paths,
                seed=seed,
                orders_cross=False,
                demand_model="bootstrap" if world == "forecast_errors" else "auto",
                demand_history=error_history if world == "forecast_errors" else None,
                streams=p[streams] if streams else None,
            )
    return sims


def summarize_compare(points: dict[str, pd.DataFrame], sims: dict[tuple[str, str], pd.DataFrame]) -> pd.DataFrame:
    """COMPARE_COLUMNS from the simulations of `simulate_compare`: one row per world x plan x (``A+B``,
    ``all``), in world, plan order (fill-rate gap = simulated - target, in points; short = more than
    1.5 points below target)."""
    rows: list[dict] = []
    for world in COMPARE_WORLDS:
        for name, p in points.items():
            if (world, name) in sims:
                rows += _summary(sims[(world, name)], p, world, name)
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)
