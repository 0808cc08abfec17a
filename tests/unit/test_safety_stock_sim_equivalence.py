"""The safety-stock simulation's per-step shortcuts change no number: `simulate_service` against its
previous implementation (kept below as the reference) on random stock points - continuous review
and order-up-to with several review periods, lead times shorter than a step, zero lead-time sd,
every demand model, orders crossing or not - compared exactly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.analytics.safety_stock import (
    SafetyStockInputError,
    _optional_numeric,
    _require_columns,
    _stock_point_keys,
)
from sop_pipeline.analytics.safety_stock_sim import (
    _CHUNK_WEEKS,
    DemandModel,
    LeadTimeModel,
    _SIM_INPUTS,
    _history_matrix,
    simulate_service,
)


def _policies(seed: int, review: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = 14
    mean = rng.gamma(2.0, 30.0, n)
    mean[0] = 0.0  # no demand: NaN row
    policies = pd.DataFrame(
        {
            "sku": [f"P{i:02d}" for i in range(n)],
            "mean_weekly_demand": mean,
            "sd_weekly_demand": mean * rng.uniform(0.0, 1.2, n),
            "lead_time_mean_weeks": rng.choice([0.1, 0.5, 1.0, 2.0, 3.5], n),
            "lead_time_sd_weeks": rng.choice([0.0, 0.2, 0.6], n),
            "reorder_point_units": mean * rng.uniform(1.0, 4.0, n),
            "order_qty_units": np.maximum(mean * rng.uniform(0.3, 2.0, n), 1.0),
            "review_period_weeks": rng.choice(review, n),
            "method": rng.choice(["normal", "gamma"], n),
            "service_type": rng.choice(["cycle", "fill_rate"], n),
            "service_target": rng.choice([0.9, 0.95, 0.98], n),
        }
    )
    weeks = pd.date_range("2024-01-01", periods=60, freq="7D")
    history = pd.DataFrame(
        {
            "sku": np.repeat(policies.sku.to_numpy(), len(weeks)),
            "week_start": np.tile(weeks, n),
            "units": rng.poisson(np.repeat(mean, len(weeks))).astype(float) * (rng.random(n * len(weeks)) < 0.7),
        }
    )
    return policies, history


@pytest.mark.parametrize(
    "review",
    [[1.0], [0.0], [0.0, 1.0, 2.0], [1.0, 2.0, 0.5]],
    ids=["weekly", "continuous", "mixed", "periods"],
)
@pytest.mark.parametrize("demand_model", ["normal", "gamma", "auto", "bootstrap"])
def test_simulation_is_its_previous_implementation_to_the_bit(review, demand_model):
    policies, history = _policies(len(review) * 7 + len(demand_model), review)
    for cross, lead_model, seed in ((True, "normal", 3), (False, "lognormal", 4)):
        kwargs = dict(
            weeks=70,
            paths=3,
            warmup_weeks=5,
            demand_model=demand_model,
            demand_history=history,
            lead_time_model=lead_model,
            orders_cross=cross,
            seed=seed,
        )
        got = simulate_service(policies, **kwargs)
        want = reference_simulate_service(policies, **kwargs)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert got["sim_cycles"].fillna(0).gt(0).sum() >= len(policies) - 1  # the stock points did reorder


def _reference_lead_time_steps(rng, mean, sd, model, cap):
    if model == "normal":
        draw = mean + sd * rng.standard_normal(len(mean))
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            s2 = np.log1p(np.where(mean > 0, (sd / mean) ** 2, 0.0))
        draw = np.where(
            mean > 0,
            np.exp(np.log(np.maximum(mean, 1e-300)) - 0.5 * s2 + np.sqrt(s2) * rng.standard_normal(len(mean))),
            0.0,
        )
    return np.clip(draw, 0.0, cap)


def _reference_brownian_passage(rng, gap, demand, sd):
    end = gap - demand
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        reach = np.where(end <= 0, 1.0, np.where(sd > 0, np.exp(-2.0 * gap * end / sd**2), 0.0))
    out = np.full(len(gap), np.nan)
    maybe = np.flatnonzero(reach > 1e-12)
    if not len(maybe):
        return out
    hit = maybe[rng.random(len(maybe)) < reach[maybe]]
    g, e, s_ = gap[hit], np.abs(end[hit]), sd[hit]
    with np.errstate(divide="ignore", invalid="ignore"):
        linear = np.clip(g / demand[hit], 0.0, 1.0)
        ratio = rng.wald(np.where(e > 0, g / np.maximum(e, 1e-300), 1.0), np.maximum((g / s_) ** 2, 1e-300))
    bridge = np.where(e > 0, ratio / (1.0 + ratio), 1.0)
    out[hit] = np.where(g <= 0, 0.0, np.where(s_ > 0, bridge, linear))
    return out


@pytest.mark.parametrize(
    "review",
    [[1.0], [0.0], [0.0, 1.0, 2.0]],
    ids=["weekly", "continuous", "mixed"],
)
@pytest.mark.parametrize("demand_model", ["normal", "gamma", "auto", "bootstrap"])
def test_a_family_simulated_alone_gets_the_numbers_it_gets_with_the_others(review, demand_model):
    # streams per family (`simulate_service(streams=...)`): simulating each family's stock points in
    # a step of its own (the fan-out) gives the numbers of one call over all of them, bit for bit -
    # every random call site (demand, receipt bridge, beta split, Brownian passage, lead times)
    policies, history = _policies(len(review) * 11 + len(demand_model), review)
    policies["family"] = np.array(["Dairy", "Snacks", "Frozen"])[np.arange(len(policies)) % 3]
    for cross, lead_model, seed in ((True, "normal", 5), (False, "lognormal", 6)):
        kwargs = dict(
            weeks=60,
            paths=3,
            warmup_weeks=4,
            demand_model=demand_model,
            demand_history=history,
            lead_time_model=lead_model,
            orders_cross=cross,
            seed=seed,
        )
        together = simulate_service(policies, streams=policies["family"], **kwargs)
        alone = pd.concat(
            [simulate_service(part, streams=part["family"], **kwargs) for _, part in policies.groupby("family")]
        ).loc[together.index]
        pd.testing.assert_frame_equal(together, alone, check_exact=True)
        # the streams are not the one stream: the families' draws differ from it
        assert not together.equals(simulate_service(policies, **kwargs))


def reference_simulate_service(
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
) -> pd.DataFrame:
    """simulate_service as of 8975a73 (a scan of every row each step), kept as the reference."""
    _require_columns(policies, _SIM_INPUTS, "policies to simulate")
    if demand_model not in ("normal", "gamma", "bootstrap", "auto"):
        raise SafetyStockInputError(f"unknown demand model {demand_model!r}: use normal, gamma, bootstrap or auto")
    if lead_time_model not in ("normal", "lognormal"):
        raise SafetyStockInputError(f"unknown lead-time model {lead_time_model!r}: use normal or lognormal")
    if weeks < 1 or paths < 1 or warmup_weeks < 0 or substeps_per_week < 1:
        raise SafetyStockInputError("weeks, paths and substeps_per_week must be >= 1 and warmup_weeks >= 0")
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
    rng = np.random.default_rng(seed)

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
        draws = rng.gamma(
            np.where(np.isfinite(shape), shape, 1.0), np.maximum(g_scale[idx], 1e-300), size=(n_steps, len(idx))
        )
        return np.where(np.isfinite(shape), draws, mu[idx])

    def demand_chunk(n_weeks: int) -> np.ndarray:
        """Demand per step for the next n_weeks weeks, shape (n_weeks * m, n)."""
        if demand_model == "normal":
            return mu + sd * rng.standard_normal((n_weeks * m, n))
        if demand_model == "gamma":
            return gamma_steps(n_weeks * m, np.arange(n))
        if demand_model == "auto":
            out = mu + sd * rng.standard_normal((n_weeks * m, n))
            if len(gamma_idx):
                out[:, gamma_idx] = gamma_steps(n_weeks * m, gamma_idx)
            return out
        pick = (rng.random((n_weeks, n)) * hist_len).astype(np.int64)
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
    total_weeks = int(warmup_weeks) + int(weeks)
    warm_step = int(warmup_weeks) * m
    step = 0
    for chunk_start in range(0, total_weeks, _CHUNK_WEEKS):
        chunk = demand_chunk(min(_CHUNK_WEEKS, total_weeks - chunk_start))
        for d in chunk:
            counting = step >= warm_step
            slot = step % horizon
            d_net = d  # demand after this step's receipts
            due = pipeline_due[slot]
            if due.any():
                split = np.flatnonzero(due & (pipeline_frac[slot] > 0))
                if len(split):
                    # a receipt inside the step: the demand before it comes first (for Brownian demand, the
                    # bridge between the step's two ends), so a lead time shorter than a step is not rounded
                    f = pipeline_frac[slot, split]
                    before = f * d[split]
                    bridge = brownian_rows[split]
                    if bridge.any():
                        j = split[bridge]
                        before[bridge] += np.sqrt(f[bridge] * (1.0 - f[bridge])) * sd[j] * rng.standard_normal(len(j))
                    lumps = gamma_rows[split] & np.isfinite(
                        g_shape[split] if gamma_rows.any() else np.zeros(len(split))
                    )
                    if lumps.any():  # gamma steps: the part before the receipt is d x Beta(f a, (1 - f) a)
                        j, fj = split[lumps], f[lumps]
                        before[lumps] = d[j] * rng.beta(
                            np.maximum(fj * g_shape[j], 1e-12), np.maximum((1.0 - fj) * g_shape[j], 1e-12)
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
            hit_at = np.full(n, np.nan)  # fraction of the step at which s is reached
            if brownian:
                hit_at[cont_idx] = _reference_brownian_passage(
                    rng, position[cont_idx] - s[cont_idx], d[cont_idx], sd[cont_idx]
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
            reviewing = continuous | ((step + 1) % np.maximum(review_steps, 1) == 0)
            order = reviewing & np.where(continuous, (position <= s) | np.isfinite(hit_at), position < s)
            if order.any():
                idx = series[order]
                up_to = ~continuous[idx]  # (R, S): raise the position to S exactly
                lots = np.where(
                    up_to,
                    (s[idx] - position[idx]) / q[idx],
                    np.floor(np.maximum(s[idx] - position[idx], 0.0) / q[idx]) + 1.0,
                )
                with np.errstate(divide="ignore", invalid="ignore"):
                    crossing = np.clip((position_before[idx] - s[idx]) / d[idx], 0.0, 1.0)
                crossing = np.where(np.isfinite(hit_at[idx]), hit_at[idx], np.nan_to_num(crossing, nan=1.0))
                placed = step + np.where(continuous[idx], crossing, 1.0)
                lead = _reference_lead_time_steps(rng, lt_mean[idx], lt_sd[idx], lead_time_model, lt_cap[idx])
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
    return out
