"""Safety stock and reorder points from demand variability and service targets.

The seed's fight "safety stock is too high/low" is settled by showing the service-vs-inventory
curve and logging the chosen point. This module holds the arithmetic; the Dagster asset only
reads tables and writes the results.

Units. Demand is in the item's base unit per week; lead times and review periods are in weeks
(``demand_variability`` converts ``lead_time_days`` / 7); money is in the one currency of the
extracts. The scalar :func:`safety_stock` works in any period as long as demand and lead time
use the same one.

Model (Silver, Pyke & Thomas, *Inventory and Production Management in Supply Chains*, 4th ed.,
ch. 6; Chopra & Meindl, *Supply Chain Management*, chapter on safety inventory):

* Protection interval ``P = L + R`` weeks: lead time ``L`` plus review period ``R`` (``R = 0``
  is continuous review). An order placed at a review must cover demand until the next order
  can arrive, ``L + R`` later.
* Lead-time demand (over ``P``) has mean ``mu_DL = E[D] * (E[L] + R)`` and standard deviation
  ``sigma_DL = sqrt((E[L] + R) * sigma_D**2 + E[D]**2 * sigma_L**2)`` (demand and lead time
  independent; ``R`` is fixed so it adds no lead-time variance).
* Cycle service level alpha (type 1, probability of no stockout per replenishment cycle):
  ``SS = z(alpha) * sigma_DL``.
* Fill rate beta (type 2, share of demand met from stock): the smallest ``k`` with
  ``sigma_DL * G(k) <= (1 - beta) * Q``, ``G(k) = phi(k) - k * (1 - Phi(k))`` the standard
  normal loss function, ``Q`` the order quantity; ``SS = k * sigma_DL``. This is the textbook
  backorder formula: the expected units short per cycle, ``sigma_DL * G(k)``, over the units
  demanded per cycle, ``Q``. It slightly over-counts shortage when ``Q`` is small against
  ``sigma_DL`` (backorders left from the previous cycle are counted again); ``exact_loss=True``
  uses ``sigma_DL * (G(k) - G(k + Q / sigma_DL))`` instead, exact for backorders.
* Reorder point ``ROP = mu_DL + SS``. Continuous review (``R = 0``) is the (s, Q) policy: order
  Q when the inventory position reaches ROP. Periodic review (``R > 0``, the pipeline's weekly
  cycle, R = 1 week) is the order-up-to policy (R, S) with ``S = ROP``: at every review, order
  S minus the inventory position, on average one review period's demand, so the fill rate's
  "Q" is ``E[D] * R`` (column ``order_qty_source == "review"``). Its exact backorder loss per
  review is ``E[(D(L+R) - S)+] - E[(D(L) - S)+]`` (``exact_loss=True``); the textbook drops the
  second term (shortage already counted in the previous period).
* Floors: ``k`` is returned raw (it is negative when ``Q`` is large against ``sigma_DL``, or the
  target is below 50 % for the cycle service). The safety stock is at least
  ``z(min(target, min_cycle_service)) * sigma_DL`` (``DEFAULT_MIN_CYCLE_SERVICE`` = 60 %; column
  ``min_cycle_service_binds``), so every item whose demand varies holds some at any target above
  50 % (KPI_DEFINITIONS "Protection period"), and ``safety_stock_units`` is floored at 0; the
  reorder point uses the floored value. A floored policy gives *more* service than the target;
  ``expected_cycle_service`` / ``expected_fill_rate`` report what the floored policy gives.

Distribution (column ``method``). ``"normal"`` for smooth demand; ``"gamma"`` (method of
moments on lead-time demand: shape ``mu_DL**2 / sigma_DL**2``, scale ``sigma_DL**2 / mu_DL``)
where a normal would put visible mass below zero or misfit the shape:

* the demand pattern is not "smooth" in Syntetos-Boylan terms, i.e. ADI > 1.32 (intermittent,
  lumpy; this includes every item with more than 50 % zero weeks, since ADI = 1 / (1 - zero
  share)) or CV^2 of non-zero weekly sizes > 0.49 (erratic, lumpy); or
* the lead-time demand's coefficient of variation ``sigma_DL / mu_DL`` exceeds 0.5 (a normal
  then has more than 2.3 % of its mass below zero).

With the gamma, alpha uses the gamma quantile and beta the gamma loss function
``E[(X - s)+] = a*theta*(1 - F(s; a + 1)) - s*(1 - F(s; a))``: never a negative demand.
Items with zero mean demand get ``method = "none"``: no safety stock, reorder point 0.

Run-out (column ``policy``). Items whose ``lifecycle`` is in ``RUN_OUT_LIFECYCLES`` (phase-out,
discontinued, obsolete) are being run down: unless a ``service_target`` decision names the SKU
itself (``target_source == "sku"``), they get **no safety stock** at any service level
(``policy = "run_out"``, ``k = 0``, reorder point = lead-time demand) and are left off the
service-vs-inventory curve's value. Holding buffer stock of an item that is going away is what
turns into the pending E&O of next quarter; ``expected_fill_rate`` / ``expected_cycle_service``
say what service the run-out still gives. Every other item has ``policy = "service_target"``.

Pipeline order: `demand_variability` (history -> variability inputs) -> `service_targets`
(ABC/XYZ defaults + `service_target_overrides` from the decision log) ->
`safety_stock_policies` (SS, ROP per stock point) and `service_inventory_curve` (the meeting's
chart, with annual holding + shortage cost per level: holding = value x ``holding_rate``,
shortage = expected units short x lost margin (price - cost) x ``goodwill_factor``; the
least-cost level is proposed only when it saves a material amount). `unprotected_items` is the
plan-coherence rule "SS > 0 for active A/B items with variable demand".
`sop_pipeline.analytics.safety_stock_sim.simulate_service` checks a policy by simulating the
same policy ((s, nQ) or (R, S)): with normal demand it lands within about 1 point of the target
(tests/unit/test_safety_stock.py). With lead-time variability the true lead-time demand is a
normal mixture with heavier tails, and the normal formula gives ~0.5 point less than its
target at sigma_L / L = 25 %.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special

from sop_pipeline.analytics import lifecycle
from sop_pipeline.analytics.columns import require_columns

ServiceType = Literal["cycle", "fill_rate"]
MethodChoice = Literal["auto", "normal", "gamma"]

WEEKS_PER_YEAR = 52.0
DAYS_PER_WEEK = 7.0

#: Lifecycle values (items extract) whose stock is run down: no safety stock (see "Run-out").
RUN_OUT_LIFECYCLES = lifecycle.RUN_OUT_LIFECYCLES

#: Review period of the pipeline's weekly planning run (weeks).
DEFAULT_REVIEW_PERIOD_WEEKS = 1.0
#: Annual holding cost as a share of unit cost (capital, storage, obsolescence): KPI_DEFINITIONS
#: "Service-target economics", holding cost = unit value x annual rate (default 25 %).
DEFAULT_HOLDING_RATE = 0.25
#: Cost of placing one replenishment order (currency per order), for EOQ.
DEFAULT_ORDER_COST = 50.0
#: Order quantity in weeks of demand when EOQ cannot be computed (no unit cost).
DEFAULT_COVER_WEEKS = 4.0
#: Goodwill factor on the lost margin: shortage cost per unit short = (price - cost) x this
#: (KPI_DEFINITIONS "Service-target economics"; 1 = the margin only, > 1 adds lost goodwill).
DEFAULT_GOODWILL_FACTOR = 1.0
#: A service-target proposal is raised only when the least-cost point saves at least this share
#: of the family's current annual cost (holding + shortage) ...
DEFAULT_MIN_SAVING_SHARE = 0.01
#: ... and at least this much money per year (currency/year).
DEFAULT_MIN_ANNUAL_SAVING = 100.0
#: Floor of every policy: the safety stock is at least z(min(target, this)) x sigma_DL, the normal
#: cycle-service safety stock at that level (probability of no stockout per replenishment cycle).
#: A fill-rate target can otherwise be met with SS <= 0 when demand per cycle is large against
#: sigma_DL (a stockout in every other cycle, small ones), and a skewed gamma's quantile can lie
#: below its mean; the plan-coherence rule "every active item whose demand varies carries SS > 0
#: at any target above 50 %" forbids both. 60 % keeps the fill-rate target the binding rule for
#: nearly every item of the demo (it binds for 1 of 19 A/B items; 75 % would for 11).
DEFAULT_MIN_CYCLE_SERVICE = 0.60
#: Fewest weeks with a forecast before forecast-error sd replaces demand sd.
MIN_FORECAST_WEEKS = 8

#: Syntetos-Boylan cut-offs (average inter-demand interval, squared CV of non-zero sizes).
ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
#: Items with more zero weeks than this are intermittent (implied by ADI > 1.32, kept explicit).
ZERO_SHARE_CUTOFF = 0.5
#: Lead-time-demand CV above which the normal is replaced by the gamma.
LTD_CV_CUTOFF = 0.5

#: Default service targets by ABC/XYZ class. A (top 80 % of revenue) gets the highest targets,
#: and within a letter X (stable, cheap to protect) above Z (volatile: each extra point costs
#: far more stock, so Z items get a lower default and are revisited in the meeting).
DEFAULT_SERVICE_TARGETS: dict[str, float] = {
    "AX": 0.98,
    "AY": 0.97,
    "AZ": 0.95,
    "BX": 0.96,
    "BY": 0.95,
    "BZ": 0.93,
    "CX": 0.94,
    "CY": 0.92,
    "CZ": 0.90,
}
#: Target for items whose class is unknown.
FALLBACK_SERVICE_TARGET = 0.95

#: Service levels of the service-vs-inventory curve: 50 % to 95 % in steps of 1 point, then
#: 95.1 % to 99.9 % in steps of 0.1 point (the cost curve is flat low and steep near the top).
SERVICE_LEVEL_GRID: tuple[float, ...] = tuple(
    [round(0.50 + 0.01 * i, 3) for i in range(46)] + [round(0.951 + 0.001 * i, 3) for i in range(49)]
)
#: Family label of the all-items curve.
TOTAL_FAMILY = "TOTAL"

_STOCK_POINT_EXTRA_KEYS = ("location",)
_OVERRIDE_LEVELS = ("sku", "family", "class", "abc")


class SafetyStockInputError(ValueError):
    """Input a planner must fix (the message says which item and which number)."""


# --------------------------------------------------------------------------- loss functions


def standard_normal_loss(k: np.ndarray | float) -> np.ndarray | float:
    """G(k) = E[(Z - k)+] for a standard normal Z: expected shortage in units of sigma."""
    k = np.asarray(k, dtype=float)
    out = np.exp(-0.5 * k * k) / math.sqrt(2.0 * math.pi) - k * special.ndtr(-k)
    return float(out) if out.ndim == 0 else out


def gamma_loss(x: np.ndarray | float, shape: np.ndarray | float, scale: np.ndarray | float) -> np.ndarray | float:
    """E[(X - x)+] for X ~ Gamma(shape, scale), in the units of X (x below 0 gives mean - x)."""
    x, shape, scale = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, shape, scale)))
    y = np.maximum(x / scale, 0.0)
    out = np.where(
        x <= 0, shape * scale - x, shape * scale * special.gammaincc(shape + 1.0, y) - x * special.gammaincc(shape, y)
    )
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class _LeadOnly:
    """Demand over the lead time alone (no review period), standardized by sigma_DL, for the
    order-up-to rows' exact loss: mean ``m``, sd ``s``; ``mp`` is mu_DL / sigma_DL; ``periodic``
    marks the rows it applies to (the others use the continuous-review term)."""

    periodic: np.ndarray
    mp: np.ndarray
    m: np.ndarray
    s: np.ndarray

    def take(self, idx: np.ndarray) -> "_LeadOnly":
        return _LeadOnly(self.periodic[idx], self.mp[idx], self.m[idx], self.s[idx])


def _lead_only_loss(x: np.ndarray, lead: _LeadOnly, is_gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E[(X_L - x)+] and P(X_L > x) for the standardized lead-time-only demand X_L (x standardized)."""
    m, s = lead.m, lead.s
    loss = np.maximum(m - x, 0.0)  # no variability: a fixed amount
    tail = (x < m).astype(float)
    var = s > 1e-12
    norm = var & ~is_gamma
    if norm.any():
        z = (x[norm] - m[norm]) / s[norm]
        loss[norm] = s[norm] * standard_normal_loss(z)
        tail[norm] = special.ndtr(-z)
    gam = var & is_gamma & (m > 0)
    if gam.any():
        a, theta = (m[gam] / s[gam]) ** 2, s[gam] ** 2 / m[gam]
        loss[gam] = gamma_loss(x[gam], a, theta)
        tail[gam] = np.where(x[gam] <= 0, 1.0, special.gammaincc(a, np.maximum(x[gam], 0.0) / theta))
    return loss, tail


def _std_loss(
    k: np.ndarray, q: np.ndarray, shape: np.ndarray, is_gamma: np.ndarray, exact: bool, lead: _LeadOnly | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Expected shortage per cycle / sigma_DL at reorder point mu + k*sigma, and d/dk of it.

    Normal: G(k) (minus G(k + q) when `exact`). Gamma with shape a: Y = X/theta ~ Gamma(a, 1)
    has mean a and sd sqrt(a), so the point is y = a + k*sqrt(a) and the loss is
    E[(Y - y)+] / sqrt(a). `q` is Q / sigma_DL.

    Rows marked periodic in `lead` (order-up-to level S = mu + k*sigma, reviewed every R): the
    exact shortage per review period is E[(D(L+R) - S)+] - E[(D(L) - S)+] (backorders already
    short at the start of the period are not counted again), so with `exact` the second term is
    the lead-time-only loss instead of the loss at S + Q.
    """

    def one(kk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f = np.empty_like(kk)
        df = np.empty_like(kk)
        n = ~is_gamma
        if n.any():
            f[n] = standard_normal_loss(kk[n])
            df[n] = -special.ndtr(-kk[n])
        if is_gamma.any():
            a = shape[is_gamma]
            y = a + kk[is_gamma] * np.sqrt(a)
            f[is_gamma] = gamma_loss(y, a, 1.0) / np.sqrt(a)
            df[is_gamma] = -special.gammaincc(a, np.maximum(y, 0.0))
        return f, df

    f, df = one(k)
    if exact:
        f2, df2 = one(k + q)
        if lead is not None and lead.periodic.any():
            p = lead.periodic
            loss_l, tail_l = _lead_only_loss(lead.mp[p] + k[p], lead.take(p), is_gamma[p])
            f2[p], df2[p] = loss_l, -tail_l
        f, df = f - f2, df - df2
    return np.maximum(f, 0.0), df


def _solve_decreasing(
    fun: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    target: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    max_iter: int = 200,
) -> np.ndarray:
    """Vectorized root of decreasing functions: f(x) = target, with f(lo) >= target >= f(hi).

    `fun(x, idx)` returns f and df/dx of the elements `idx` at `x`. Newton on log f (fast in
    the tails, where f decays like exp(-x^2/2)), kept inside the bracket by bisection whenever
    a step leaves it; converged elements drop out of the loop.
    """
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    x = np.clip(np.zeros_like(lo), lo, hi)
    log_t = np.log(target)
    idx = np.arange(len(x))
    for _ in range(max_iter):
        if not len(idx):
            break
        xi, lo_i, hi_i = x[idx], lo[idx], hi[idx]
        f, df = fun(xi, idx)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.log(f) - log_t[idx]
            converged = np.abs(h) < 1e-13
            above = h > 0
            lo_i = np.where(above, xi, lo_i)
            hi_i = np.where(above, hi_i, xi)
            x_new = xi - h * f / df
        bad = ~np.isfinite(x_new) | (x_new <= lo_i) | (x_new >= hi_i)
        x_new = np.where(converged, xi, np.where(bad, 0.5 * (lo_i + hi_i), x_new))
        settled = (
            converged
            | (np.abs(x_new - xi) < 1e-13 * np.maximum(1.0, np.abs(xi)))
            | (hi_i - lo_i < 1e-13 * np.maximum(1.0, np.abs(xi)))
        )
        x[idx], lo[idx], hi[idx] = x_new, lo_i, hi_i
        idx = idx[~settled]
    return x


def _solve_k(
    level: np.ndarray,
    fill_rate: bool,
    shape: np.ndarray,
    is_gamma: np.ndarray,
    q: np.ndarray,
    exact_loss: bool,
    lead: _LeadOnly | None = None,
) -> np.ndarray:
    """Raw safety factor k (SS = k * sigma_DL); `shape` is the gamma shape, `q` = Q / sigma_DL
    (for order-up-to rows, the demand per review period / sigma_DL)."""
    root_a = np.sqrt(shape)
    if not fill_rate:
        return np.where(is_gamma, (special.gammaincinv(shape, level) - shape) / root_a, special.ndtri(level))
    target = (1.0 - level) * q
    lo_normal = np.minimum(-target, special.ndtri(level) - q) - 1.0
    lo_gamma = np.minimum(-root_a - q, -target) - 1.0
    tail = np.clip(0.5 * target / root_a, 1e-300, 0.5)
    hi_gamma = (special.gammainccinv(shape + 1.0, tail) - shape) / root_a + 1.0
    lo = np.where(is_gamma, lo_gamma, lo_normal)
    if lead is not None:  # order-up-to: the loss tends to q only once S is below the lead-time demand too
        lo = np.where(lead.periodic, np.minimum(lo, lead.m - lead.mp - 8.0 * lead.s - 8.0), lo)
    hi = np.where(is_gamma, np.maximum(hi_gamma, lo + 1.0), 40.0)
    return _solve_decreasing(
        lambda k, i: _std_loss(k, q[i], shape[i], is_gamma[i], exact_loss, None if lead is None else lead.take(i)),
        target,
        lo,
        hi,
    )


# --------------------------------------------------------------------------- policy core


@dataclass(frozen=True)
class _Prepared:
    """Per stock point arrays shared by policies and curves (units in the docstrings above)."""

    protection: np.ndarray  # weeks (L + R)
    mean_ltd: np.ndarray  # units over the protection interval
    sigma_dl: np.ndarray  # units
    method: np.ndarray  # "normal" / "gamma" / "none"
    order_qty: np.ndarray  # units per order
    order_qty_source: np.ndarray
    annual_demand: np.ndarray  # units per year
    run_out: np.ndarray  # bool: phase-out item, no safety stock at any level
    periodic: np.ndarray  # bool: review period > 0, order-up-to policy (S = reorder point)
    mean_lt: np.ndarray  # units over the lead time alone (order-up-to exact loss)
    sigma_lt: np.ndarray  # units: sd of demand over the lead time alone

    @property
    def active(self) -> np.ndarray:
        """Stock points that need a distribution: some demand and some variability."""
        return (self.method != "none") & (self.sigma_dl > 0)

    def standardized(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For the active stock points: sigma_DL, gamma flag, gamma shape (mu/sigma)^2, Q / sigma_DL."""
        active = self.active
        sigma = self.sigma_dl[active]
        is_gamma = self.method[active] == "gamma"
        shape = np.where(is_gamma, (self.mean_ltd[active] / sigma) ** 2, 1.0)
        return sigma, is_gamma, shape, self.order_qty[active] / sigma

    def lead_only(self) -> _LeadOnly:
        """For the active stock points: the lead-time-only demand standardized by sigma_DL."""
        active = self.active
        sigma = self.sigma_dl[active]
        return _LeadOnly(
            self.periodic[active],
            self.mean_ltd[active] / sigma,
            self.mean_lt[active] / sigma,
            self.sigma_lt[active] / sigma,
        )


def _check_min_cycle_service(value: float | None) -> None:
    if value is not None and not (isinstance(value, (int, float)) and 0.0 < float(value) < 1.0):
        raise SafetyStockInputError(
            f"minimum cycle service is {value}: it must be strictly between 0 and 1 (e.g. 0.6), or None for no floor"
        )


def _policy_for_levels(
    prep: _Prepared,
    level: np.ndarray | float,
    service_type: ServiceType,
    exact_loss: bool,
    min_cycle_service: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw k, floored safety stock (units) and the floor flag of every stock point at service `level`.

    No variability gives k = z(alpha) for the cycle service and 0 for the fill rate; no demand
    ("none") gives k = 0. Safety stock is 0 for both. With `min_cycle_service`, the safety stock
    is at least z(min(level, min_cycle_service)) x sigma_DL (the normal cycle-service safety stock
    at that level; it binds for fill-rate targets met with little or no stock, and for skewed gamma
    items whose quantile lies below the mean); the flag marks the stock points where that floor
    is what sets the safety stock.
    """
    n = len(prep.mean_ltd)
    level = np.broadcast_to(np.asarray(level, dtype=float), (n,))
    fill = service_type == "fill_rate"
    k = np.zeros(n) if fill else special.ndtri(level)
    active = prep.active
    k_floor = np.full(n, -np.inf)
    if min_cycle_service is not None:
        k_floor = special.ndtri(np.minimum(level, float(min_cycle_service)))
    if active.any():
        sigma, is_gamma, shape, q = prep.standardized()
        k[active] = _solve_k(level[active], fill, shape, is_gamma, q, exact_loss, prep.lead_only())
    k[(prep.method == "none") | prep.run_out] = 0.0
    protected = active & ~prep.run_out
    floored = protected & (k_floor > k) & (k_floor > 0)
    safety_stock_units = np.where(protected, np.maximum(np.maximum(k, k_floor) * prep.sigma_dl, 0.0), 0.0)
    return k, safety_stock_units, floored


def _shortage_per_cycle(prep: _Prepared, safety_stock_units: np.ndarray, exact_loss: bool) -> np.ndarray:
    """Expected units short per replenishment cycle (per review period for order-up-to) at
    reorder point (order-up-to level) mu_DL + SS."""
    out = np.zeros(len(prep.mean_ltd))
    active = prep.active
    if active.any():
        sigma, is_gamma, shape, q = prep.standardized()
        out[active] = (
            sigma * _std_loss(safety_stock_units[active] / sigma, q, shape, is_gamma, exact_loss, prep.lead_only())[0]
        )
    return out


def _cycle_service(prep: _Prepared, safety_stock_units: np.ndarray) -> np.ndarray:
    """P(lead-time demand <= reorder point) of the floored policy."""
    out = np.ones(len(prep.mean_ltd))
    active = prep.active
    if active.any():
        sigma, is_gamma, shape, _ = prep.standardized()
        k = safety_stock_units[active] / sigma
        y = np.maximum(shape + k * np.sqrt(shape), 0.0)
        out[active] = np.where(is_gamma, special.gammainc(shape, y), special.ndtr(k))
    return out


def choose_method(
    mean_ltd: np.ndarray, sigma_dl: np.ndarray, demand_pattern: np.ndarray | None = None, method: MethodChoice = "auto"
) -> np.ndarray:
    """Distribution of lead-time demand per stock point: "normal", "gamma" or "none".

    "none" when mean lead-time demand is 0 (no demand: nothing to protect). Otherwise `method`
    unless it is "auto", which picks "gamma" when the demand pattern is not "smooth"
    (Syntetos-Boylan: ADI > 1.32 or CV^2 > 0.49) or when sigma_DL / mu_DL > 0.5, else "normal".
    """
    mean_ltd = np.asarray(mean_ltd, dtype=float)
    sigma_dl = np.asarray(sigma_dl, dtype=float)
    if method not in ("auto", "normal", "gamma"):
        raise SafetyStockInputError(f"unknown distribution {method!r}: use 'auto', 'normal' or 'gamma'")
    if method == "auto":
        with np.errstate(divide="ignore", invalid="ignore"):
            skewed = sigma_dl > LTD_CV_CUTOFF * mean_ltd
        if demand_pattern is not None:
            pattern = pd.Series(np.asarray(demand_pattern, dtype=object)).fillna("smooth").to_numpy()
            skewed = skewed | (pattern != "smooth")
        chosen = np.where(skewed, "gamma", "normal")
    else:
        chosen = np.full(len(mean_ltd), method)
    return np.where(mean_ltd > 0, chosen, "none").astype(object)


def _check_service_level(level: float, what: str = "service level") -> None:
    if not (isinstance(level, (int, float)) and 0.0 < float(level) < 1.0):
        raise SafetyStockInputError(
            f"{what} is {level}: a service level must be strictly between 0 and 1 (e.g. 0.95 for 95 %)"
        )


def _service_type(value: str) -> ServiceType:
    normal = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    if normal in ("cycle", "alpha", "cycle_service", "type1"):
        return "cycle"
    if normal in ("fill_rate", "beta", "fill", "type2"):
        return "fill_rate"
    raise SafetyStockInputError(
        f"unknown service type {value!r}: use 'cycle' (probability of no stockout "
        "per replenishment cycle) or 'fill_rate' (share of demand met from stock)"
    )


# --------------------------------------------------------------------------- one stock point


@dataclass(frozen=True)
class SafetyStockResult:
    """Safety stock of one item. Quantities in units, times in the caller's periods."""

    safety_stock: float  # units, floored at 0
    reorder_point: float  # units: mean lead-time demand + safety_stock
    k: float  # raw safety factor (z for cycle service), may be negative
    sigma_dl: float  # sd of demand over lead time + review period, units
    mean_lead_time_demand: float  # units over lead time + review period
    service_type: ServiceType
    service_level: float
    method: str  # "normal" / "gamma" / "none"
    order_qty: float | None  # units per order (fill rate; demand per review period for order-up-to)
    expected_cycle_service: float
    expected_fill_rate: float | None
    min_cycle_service_binds: bool = False  # the fill-rate policy is set by the minimum cycle service

    def to_dict(self) -> dict[str, float | str]:
        """The result as the `sop safety-stock --json` object."""
        return {
            "safety_stock": self.safety_stock,
            "reorder_point": self.reorder_point,
            "k": self.k,
            "service_type": self.service_type,
            "service_level": self.service_level,
            "sigma_dl": self.sigma_dl,
            "method": self.method,
        }


def safety_stock(
    mean_demand: float,
    sd_demand: float,
    mean_lead_time: float,
    sd_lead_time: float = 0.0,
    service_level: float = 0.95,
    service_type: str = "cycle",
    order_qty: float | None = None,
    review_period: float = 0.0,
    method: MethodChoice = "auto",
    exact_loss: bool = False,
    min_cycle_service: float | None = DEFAULT_MIN_CYCLE_SERVICE,
) -> SafetyStockResult:
    """Safety stock, reorder point and safety factor of one item.

    Args:
        mean_demand: mean demand per period (units/period).
        sd_demand: sd of demand (or of forecast error) per period (units).
        mean_lead_time: mean replenishment lead time (periods).
        sd_lead_time: sd of the lead time (periods).
        service_level: target in (0, 1): cycle service level alpha or fill rate beta.
        service_type: "cycle" (alpha, type 1) or "fill_rate" (beta, type 2).
        order_qty: units per order; required for the fill rate under continuous review, not
            allowed with a review period (the order-up-to policy orders one period's demand).
        review_period: periods between reviews (0 = continuous review, (s, Q)); above 0 the
            policy is order-up-to (R, S) with S = the reorder point, and the protection interval
            is lead time + review period.
        method: "auto" (gamma when sigma_DL / mu_DL > 0.5), "normal" or "gamma".
        exact_loss: fill rate with the exact backorder loss (G(k) - G(k + Q/sigma) for (s, Q),
            minus the lead-time-only loss for (R, S)) instead of G(k).
        min_cycle_service: the safety stock is at least z(min(service_level, this)) x sigma_DL
            (None: no floor; see ``DEFAULT_MIN_CYCLE_SERVICE``).
    """
    values = {
        "mean demand": mean_demand,
        "sd of demand": sd_demand,
        "mean lead time": mean_lead_time,
        "sd of lead time": sd_lead_time,
        "review period": review_period,
    }
    for name, value in values.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise SafetyStockInputError(f"{name} is {value}: it must be a number >= 0")
    _check_service_level(service_level)
    _check_min_cycle_service(min_cycle_service)
    kind = _service_type(service_type)
    if review_period > 0 and order_qty is not None:
        raise SafetyStockInputError(
            "an order quantity applies to continuous review only: with a review period "
            "the policy is order-up-to and each order is one period's demand"
        )
    if kind == "fill_rate" and review_period == 0:
        if order_qty is None:
            raise SafetyStockInputError(
                "a fill-rate target needs the order quantity (units per order): "
                "the share of demand short depends on how much each order covers"
            )
        if not isinstance(order_qty, (int, float)) or not math.isfinite(order_qty) or order_qty <= 0:
            raise SafetyStockInputError(f"order quantity is {order_qty}: it must be a number > 0")
    protection = mean_lead_time + review_period
    mean_ltd = mean_demand * protection
    sigma = math.sqrt(protection * sd_demand**2 + mean_demand**2 * sd_lead_time**2)
    periodic = review_period > 0
    if periodic:
        q = mean_demand * review_period
    else:
        q = float(order_qty) if order_qty is not None else max(mean_ltd, 1.0)
    prep = _Prepared(
        np.array([protection]),
        np.array([mean_ltd]),
        np.array([sigma]),
        choose_method(np.array([mean_ltd]), np.array([sigma]), method=method),
        np.array([q]),
        np.array(["given"]),
        np.array([mean_demand]),
        np.array([False]),
        np.array([periodic]),
        np.array([mean_demand * mean_lead_time]),
        np.array([math.sqrt(mean_lead_time * sd_demand**2 + mean_demand**2 * sd_lead_time**2)]),
    )
    k, ss, floored = _policy_for_levels(prep, np.array([float(service_level)]), kind, exact_loss, min_cycle_service)
    fill = None
    if order_qty is not None or (periodic and q > 0):
        fill = float(np.clip(1.0 - _shortage_per_cycle(prep, ss, exact_loss)[0] / q, 0.0, 1.0))
    return SafetyStockResult(
        safety_stock=float(ss[0]),
        reorder_point=float(mean_ltd + ss[0]),
        k=float(k[0]),
        sigma_dl=sigma,
        mean_lead_time_demand=mean_ltd,
        service_type=kind,
        service_level=float(service_level),
        method=str(prep.method[0]),
        order_qty=float(q) if (order_qty is not None or periodic) else None,
        expected_cycle_service=float(_cycle_service(prep, ss)[0]),
        expected_fill_rate=fill,
        min_cycle_service_binds=bool(floored[0]),
    )


# --------------------------------------------------------------------------- variability inputs


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """``require_columns`` raising this module's ``SafetyStockInputError`` (also used by safety_stock_sim)."""
    require_columns(frame, columns, what, error=SafetyStockInputError)


def _stock_point_keys(frame: pd.DataFrame) -> list[str]:
    """sku, plus location when the frame is by SKU-location."""
    return ["sku"] + [c for c in _STOCK_POINT_EXTRA_KEYS if c in frame.columns]


def _name_some(values: Sequence, limit: int = 5) -> str:
    values = list(dict.fromkeys(map(str, values)))
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def _who(frame: pd.DataFrame, rows: np.ndarray) -> str:
    """The SKUs of the flagged rows (row numbers when there is no sku column)."""
    return _name_some(frame.loc[rows, "sku"] if "sku" in frame.columns else np.flatnonzero(rows))


def demand_pattern(adi: np.ndarray, cv2_nonzero: np.ndarray) -> np.ndarray:
    """Syntetos-Boylan class: smooth, erratic (CV^2 > 0.49), intermittent (ADI > 1.32), lumpy (both).

    Items with no demand at all are "no_demand".
    """
    adi = np.asarray(adi, dtype=float)
    cv2 = np.nan_to_num(np.asarray(cv2_nonzero, dtype=float))
    sparse = adi > ADI_CUTOFF
    lumpy_sizes = cv2 > CV2_CUTOFF
    out = np.select(
        [~np.isfinite(adi), sparse & lumpy_sizes, sparse, lumpy_sizes],
        ["no_demand", "lumpy", "intermittent", "erratic"],
        "smooth",
    )
    return out.astype(object)


def demand_variability(
    demand: pd.DataFrame,
    lead_times: pd.DataFrame | None = None,
    *,
    sku_suppliers: pd.DataFrame | None = None,
    review_period_weeks: float = DEFAULT_REVIEW_PERIOD_WEEKS,
    default_lead_time_weeks: float | None = None,
    default_lead_time_sd_weeks: float | None = None,
    min_forecast_weeks: int = MIN_FORECAST_WEEKS,
) -> pd.DataFrame:
    """Variability inputs of safety stock per stock point (SKU, or SKU-location).

    Args:
        demand: weekly demand, columns ``sku, week_start, units`` (units/week), optional
            ``location`` (then one row per SKU-location) and ``forecast_units`` (the forecast
            made for that week, units). Several rows per key and week are summed. Weeks with no
            row after an item's first week count as zero demand; weeks before it do not count.
        lead_times: lead-time observations, ``lead_time_days`` plus ``sku`` or ``supplier_id``.
            By supplier needs ``sku_suppliers`` (``sku, supplier_id``); an item with several
            suppliers pools their observations.
        review_period_weeks: weeks between replenishment reviews (1 = weekly planning run).
        default_lead_time_weeks / default_lead_time_sd_weeks: for items without observations;
            default: the median over items that have them.
        min_forecast_weeks: fewest forecast weeks before the forecast-error sd is used.

    Returns:
        One row per stock point: keys, ``n_weeks``, ``mean_weekly_demand`` (units/week),
        ``sd_weekly_demand`` (units/week: sd of forecast error ``forecast_units - units`` when
        ``sd_source == "forecast_error"``, of weekly demand otherwise, ddof=1),
        ``mean_forecast_error`` (units/week, positive = over-forecast), ``sd_source``,
        ``zero_week_share``, ``adi`` (weeks per non-zero week), ``cv`` (sd / mean of weekly
        demand, the XYZ measure), ``cv2_nonzero`` (squared CV of non-zero weeks),
        ``demand_pattern``, ``is_intermittent`` (ADI > 1.32 or zero share > 0.5),
        ``lead_time_mean_weeks``, ``lead_time_sd_weeks``, ``lead_time_n_obs``,
        ``lead_time_source`` ("sku" / "supplier" / "default"), ``review_period_weeks``.
    """
    _require_columns(demand, ("sku", "week_start", "units"), "weekly demand")
    if review_period_weeks < 0 or not math.isfinite(review_period_weeks):
        raise SafetyStockInputError(f"review period is {review_period_weeks} weeks: it must be >= 0")
    keys = _stock_point_keys(demand)
    has_forecast = "forecast_units" in demand.columns
    frame = demand[keys + ["week_start", "units"] + (["forecast_units"] if has_forecast else [])].copy()
    frame["units"] = pd.to_numeric(frame["units"], errors="coerce")
    bad = frame["units"].isna() | (frame["units"] < 0)
    if bad.any():
        raise SafetyStockInputError(
            "weekly demand has missing or negative units for SKU(s) "
            f"{_who(frame, bad.to_numpy())}: fix or drop those rows"
        )
    if frame.empty:
        raise SafetyStockInputError("weekly demand is empty: no item to compute safety stock for")
    frame["week_start"] = pd.to_datetime(frame["week_start"])
    weeks = pd.date_range(frame["week_start"].min(), frame["week_start"].max(), freq="7D")
    week_idx = weeks.get_indexer(frame["week_start"])
    if (week_idx < 0).any():
        raise SafetyStockInputError(
            "week_start values are not 7 days apart (e.g. "
            f"{frame.loc[week_idx < 0, 'week_start'].iloc[0].date()}): "
            "use the Monday of each ISO week"
        )
    codes, points = pd.MultiIndex.from_frame(frame[keys]).factorize()
    points = points.set_names(keys)
    n_points, n_weeks = len(points), len(weeks)
    units = np.zeros((n_points, n_weeks))
    np.add.at(units, (codes, week_idx), frame["units"].to_numpy(float))
    first = np.full(n_points, n_weeks)
    np.minimum.at(first, codes, week_idx)
    active = np.arange(n_weeks)[None, :] >= first[:, None]
    n_active = active.sum(axis=1)

    mean = units.sum(axis=1) / n_active
    dev2 = np.where(active, (units - mean[:, None]) ** 2, 0.0)
    sd_demand = np.sqrt(dev2.sum(axis=1) / np.maximum(n_active - 1, 1))
    nonzero = active & (units > 0)
    n_nonzero = nonzero.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        adi = np.where(n_nonzero > 0, n_active / n_nonzero, np.inf)
        mean_nz = np.where(nonzero, units, 0.0).sum(axis=1) / n_nonzero
        var_nz = np.where(nonzero, (units - mean_nz[:, None]) ** 2, 0.0).sum(axis=1) / n_nonzero
        cv2_nonzero = np.where(n_nonzero > 0, var_nz / mean_nz**2, np.nan)
        cv = np.where(mean > 0, sd_demand / mean, np.nan)
    zero_share = 1.0 - n_nonzero / n_active

    sd = sd_demand.copy()
    source = np.full(n_points, "demand", dtype=object)
    mean_error = np.full(n_points, np.nan)
    if has_forecast:
        fc_rows = pd.to_numeric(frame["forecast_units"], errors="coerce").to_numpy(float)
        has = ~np.isnan(fc_rows)
        forecast = np.zeros((n_points, n_weeks))
        seen = np.zeros((n_points, n_weeks), dtype=bool)
        np.add.at(forecast, (codes[has], week_idx[has]), fc_rows[has])
        seen[codes[has], week_idx[has]] = True
        seen &= active
        n_err = seen.sum(axis=1)
        error = np.where(seen, forecast - units, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_error = np.where(n_err > 0, error.sum(axis=1) / n_err, np.nan)
            sd_error = np.sqrt(
                np.where(seen, (error - mean_error[:, None]) ** 2, 0.0).sum(axis=1) / np.maximum(n_err - 1, 1)
            )
        use = n_err >= max(int(min_forecast_weeks), 2)
        sd = np.where(use, sd_error, sd)
        source = np.where(use, "forecast_error", source).astype(object)

    pattern = demand_pattern(adi, cv2_nonzero)
    out = points.to_frame(index=False)
    out["n_weeks"] = n_active
    out["mean_weekly_demand"] = mean
    out["sd_weekly_demand"] = sd
    out["sd_source"] = source
    out["mean_forecast_error"] = mean_error
    out["zero_week_share"] = zero_share
    out["adi"] = np.where(np.isfinite(adi), adi, np.nan)
    out["cv"] = cv
    out["cv2_nonzero"] = cv2_nonzero
    out["demand_pattern"] = pattern
    out["is_intermittent"] = (adi > ADI_CUTOFF) | (zero_share > ZERO_SHARE_CUTOFF)
    lead = _lead_time_stats(lead_times, out["sku"], sku_suppliers, default_lead_time_weeks, default_lead_time_sd_weeks)
    out = out.merge(lead, on="sku", how="left")
    out["review_period_weeks"] = float(review_period_weeks)
    return out


def _lead_time_stats(
    lead_times: pd.DataFrame | None,
    skus: pd.Series,
    sku_suppliers: pd.DataFrame | None,
    default_mean: float | None,
    default_sd: float | None,
) -> pd.DataFrame:
    """Lead-time mean and sd (weeks) per SKU from observations in days, with defaults."""
    per_sku = pd.DataFrame(columns=["sku", "lead_time_mean_weeks", "lead_time_sd_weeks", "lead_time_n_obs"])
    source = "sku"
    if lead_times is not None and len(lead_times):
        _require_columns(lead_times, ("lead_time_days",), "lead-time observations")
        obs = lead_times.copy()
        obs["lead_time_days"] = pd.to_numeric(obs["lead_time_days"], errors="coerce")
        bad = obs["lead_time_days"].isna() | (obs["lead_time_days"] < 0)
        if bad.any():
            raise SafetyStockInputError(
                f"{int(bad.sum())} lead-time observation(s) are missing or negative: "
                "lead_time_days must be a number of days >= 0"
            )
        if "sku" not in obs.columns:
            supplier = next((c for c in ("supplier_id", "supplier") if c in obs.columns), None)
            if supplier is None:
                raise SafetyStockInputError("lead-time observations need a 'sku' or a 'supplier_id' column")
            if sku_suppliers is None or "sku" not in sku_suppliers.columns or supplier not in sku_suppliers.columns:
                raise SafetyStockInputError(
                    f"lead times are by {supplier}: pass sku_suppliers with columns "
                    f"sku and {supplier} to know which supplier serves which SKU"
                )
            obs = sku_suppliers[["sku", supplier]].drop_duplicates().merge(obs, on=supplier)
            source = "supplier"
        weeks = obs["lead_time_days"] / DAYS_PER_WEEK
        grouped = weeks.groupby(obs["sku"])
        per_sku = (
            pd.DataFrame(
                {
                    "lead_time_mean_weeks": grouped.mean(),
                    "lead_time_sd_weeks": grouped.std(ddof=1).fillna(0.0),
                    "lead_time_n_obs": grouped.size(),
                }
            )
            .rename_axis("sku")
            .reset_index()
        )
    if default_mean is None:
        if per_sku.empty:
            raise SafetyStockInputError(
                "no lead-time observations: pass default_lead_time_weeks (and default_lead_time_sd_weeks) for the items"
            )
        default_mean = float(per_sku["lead_time_mean_weeks"].median())
        if default_sd is None:
            default_sd = float(per_sku["lead_time_sd_weeks"].median())
    default_sd = 0.0 if default_sd is None else default_sd
    if default_mean < 0 or default_sd < 0:
        raise SafetyStockInputError("default lead time and its sd must be >= 0 weeks")
    out = pd.DataFrame({"sku": pd.unique(skus)}).merge(per_sku, on="sku", how="left")
    missing = out["lead_time_mean_weeks"].isna()
    out["lead_time_source"] = np.where(missing, "default", source)
    out.loc[missing, "lead_time_mean_weeks"] = default_mean
    out.loc[missing, "lead_time_sd_weeks"] = default_sd
    out["lead_time_n_obs"] = out["lead_time_n_obs"].fillna(0).astype(int)
    out["lead_time_mean_weeks"] = out["lead_time_mean_weeks"].astype(float)
    out["lead_time_sd_weeks"] = out["lead_time_sd_weeks"].astype(float)
    return out


# --------------------------------------------------------------------------- service targets


def _parse_target(subject: str, value) -> float:
    """A service target from 0.97, "0.97", "97%" or 97 (percent when above 1)."""
    text = str(value).strip()
    percent = text.endswith("%")
    try:
        number = float(text.rstrip("%").strip())
    except ValueError:
        raise SafetyStockInputError(f"service target for {subject!r} is {value!r}: write it as 0.97 or 97%") from None
    if percent or number > 1.0:
        number /= 100.0
    if not 0.0 < number < 1.0:
        raise SafetyStockInputError(
            f"service target for {subject!r} is {value!r}: a service level must be strictly between 0 and 100 %"
        )
    return number


def service_target_overrides(decisions: pd.DataFrame, *, cycle: str | date | None = None) -> dict[str, float]:
    """Service targets logged in the S&OP meeting, as an override mapping for `service_targets`.

    Reads rows of kind ``service_target`` with ``approved == "yes"`` (and ``cycle`` on or before
    the given cycle, if any); the latest decision per subject wins (by ``decided_at``, then
    ``cycle``). ``subject`` is a SKU, a family, an ABC/XYZ class ("AX"), an ABC letter ("A"),
    or one of those with a prefix ("sku:", "family:", "class:", "abc:"); ``value`` is 0.97 or 97%.
    """
    _require_columns(decisions, ("kind", "subject", "value", "approved"), "decisions")
    rows = decisions[
        (decisions["kind"].astype(str).str.strip() == "service_target")
        & (decisions["approved"].astype(str).str.strip().str.lower() == "yes")
    ].copy()
    if cycle is not None and "cycle" in rows.columns:
        rows = rows[pd.to_datetime(rows["cycle"]) <= pd.Timestamp(cycle)]
    order = [c for c in ("decided_at", "cycle") if c in rows.columns]
    if order:
        rows = rows.assign(**{c: pd.to_datetime(rows[c]) for c in order}).sort_values(order, kind="stable")
    latest = rows.drop_duplicates("subject", keep="last")
    return {str(s).strip(): _parse_target(str(s), v) for s, v in zip(latest["subject"], latest["value"])}


def _split_overrides(overrides: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Override keys per level; a plain key applies at every level, an explicit prefix wins."""
    explicit: dict[str, dict[str, float]] = {lvl: {} for lvl in _OVERRIDE_LEVELS}
    plain: dict[str, float] = {}
    for key, value in overrides.items():
        target = _parse_target(str(key), value)
        prefix, sep, name = str(key).partition(":")
        if sep and prefix.strip().lower() in _OVERRIDE_LEVELS:
            explicit[prefix.strip().lower()][name.strip()] = target
        else:
            plain[str(key).strip()] = target
    return {lvl: {**plain, **explicit[lvl]} for lvl in _OVERRIDE_LEVELS}


def service_targets(
    items: pd.DataFrame,
    overrides: Mapping[str, float] | None = None,
    *,
    defaults: Mapping[str, float] = DEFAULT_SERVICE_TARGETS,
    fallback: float = FALLBACK_SERVICE_TARGET,
) -> pd.DataFrame:
    """Service target per item from its ABC/XYZ class, with overrides from the decision log.

    Args:
        items: ``sku`` plus any of ``family``, ``abc_xyz`` (e.g. "AX"), ``abc_class`` and
            ``xyz_class`` (one row per stock point; other columns are kept).
        overrides: key -> target (0.97 or "97%"). Keys name a SKU, a family, a class ("AX") or
            an ABC letter ("A"), optionally prefixed ("sku:", "family:", "class:", "abc:");
            most specific wins: sku > family > class > abc letter > `defaults` > `fallback`.
        defaults: target per ABC/XYZ class (module default: ``DEFAULT_SERVICE_TARGETS``).

    Returns:
        ``items`` with ``abc_xyz``, ``service_target`` (0-1) and ``target_source`` ("sku",
        "family", "class", "abc", "default" or "fallback").
    """
    _require_columns(items, ("sku",), "items")
    _check_service_level(fallback, "fallback service target")
    default_map = {str(k).upper(): _parse_target(str(k), v) for k, v in defaults.items()}
    levels = _split_overrides(overrides or {})
    out = items.copy()
    if "abc_xyz" in out.columns:
        klass = out["abc_xyz"].astype("string").str.strip().str.upper()
    elif "abc_class" in out.columns:
        xyz = out["xyz_class"].astype("string") if "xyz_class" in out.columns else pd.Series("", index=out.index)
        klass = (out["abc_class"].astype("string").str.strip() + xyz.fillna("").str.strip()).str.upper()
    else:
        klass = pd.Series(pd.NA, index=out.index, dtype="string")
    abc = klass.str[:1]
    candidates = [
        ("sku", out["sku"].astype("string").str.strip().map(levels["sku"])),
        (
            "family",
            out["family"].astype("string").str.strip().map(levels["family"]) if "family" in out.columns else None,
        ),
        ("class", klass.map(levels["class"])),
        ("abc", abc.map(levels["abc"])),
        ("default", klass.map(default_map)),
    ]
    target = pd.Series(np.nan, index=out.index)
    source = pd.Series("fallback", index=out.index, dtype=object)
    for name, values in reversed(candidates):
        if values is None:
            continue
        hit = values.notna().to_numpy()
        target[hit] = values[hit].astype(float)
        source[hit] = name
    out["abc_xyz"] = klass
    out["service_target"] = target.fillna(fallback).astype(float)
    out["target_source"] = source
    return out


# --------------------------------------------------------------------------- policies per stock point


def economic_order_quantity(
    annual_demand_units: np.ndarray | float,
    unit_cost: np.ndarray | float,
    order_cost: float = DEFAULT_ORDER_COST,
    holding_rate: float = DEFAULT_HOLDING_RATE,
) -> np.ndarray | float:
    """EOQ = sqrt(2 * D * S / (h * c)) in units: D units/year, S currency/order, h 1/year, c currency/unit."""
    d = np.asarray(annual_demand_units, dtype=float)
    c = np.asarray(unit_cost, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sqrt(2.0 * d * order_cost / (holding_rate * c))
    return float(out) if out.ndim == 0 else out


def _optional_numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column as floats; NaN where missing or not a number, all NaN when absent."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(float)


_POLICY_INPUTS = ("mean_weekly_demand", "sd_weekly_demand", "lead_time_mean_weeks", "lead_time_sd_weeks")


def _prepare(
    stock_points: pd.DataFrame, method: MethodChoice, order_cost: float, holding_rate: float, cover_weeks: float
) -> _Prepared:
    _require_columns(stock_points, _POLICY_INPUTS, "safety-stock inputs")
    cols = {c: pd.to_numeric(stock_points[c], errors="coerce").to_numpy(float) for c in _POLICY_INPUTS}
    for name, values in cols.items():
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            raise SafetyStockInputError(
                f"{name} is missing or negative for SKU(s) {_who(stock_points, bad)}: it must be a number >= 0"
            )
    mean, sd = cols["mean_weekly_demand"], cols["sd_weekly_demand"]
    review = np.maximum(np.nan_to_num(_optional_numeric(stock_points, "review_period_weeks")), 0.0)
    lead, lead_sd = cols["lead_time_mean_weeks"], cols["lead_time_sd_weeks"]
    protection = lead + review
    mean_ltd = mean * protection
    sigma = np.sqrt(protection * sd**2 + mean**2 * lead_sd**2)
    if "method" in stock_points.columns:
        forced = stock_points["method"].astype(object).fillna("auto").to_numpy()
        bad = ~np.isin(forced, ["auto", "normal", "gamma", "none"])
        if bad.any():
            raise SafetyStockInputError(f"method {forced[bad][0]!r} is unknown: use auto, normal or gamma")
        auto = choose_method(mean_ltd, sigma, stock_points.get("demand_pattern"), method)
        chosen = np.where(forced == "auto", auto, forced)
        chosen = np.where(mean_ltd > 0, chosen, "none").astype(object)
    else:
        chosen = choose_method(mean_ltd, sigma, stock_points.get("demand_pattern"), method)
    annual = mean * WEEKS_PER_YEAR
    given = _optional_numeric(stock_points, "order_qty_units")
    eoq = np.asarray(
        economic_order_quantity(annual, _optional_numeric(stock_points, "unit_cost"), order_cost, holding_rate)
    )
    use_given = np.isfinite(given) & (given > 0)
    use_eoq = ~use_given & np.isfinite(eoq) & (eoq > 0)
    order_qty = np.where(use_given, given, np.where(use_eoq, eoq, cover_weeks * mean))
    q_source = np.where(use_given, "given", np.where(use_eoq, "eoq", "cover")).astype(object)
    periodic = review > 0  # order-up-to: each order is (on average) one review period's demand
    order_qty = np.where(periodic, mean * review, order_qty)
    q_source = np.where(periodic, "review", q_source).astype(object)
    run_out = np.zeros(len(stock_points), dtype=bool)
    if "lifecycle" in stock_points.columns:
        run_out = lifecycle.running_out(stock_points["lifecycle"])
        if "target_source" in stock_points.columns:  # a target decided for this very SKU wins
            run_out = run_out & (stock_points["target_source"].astype(str).to_numpy() != "sku")
    return _Prepared(
        protection,
        mean_ltd,
        sigma,
        chosen,
        order_qty,
        q_source,
        annual,
        run_out,
        periodic,
        mean * lead,
        np.sqrt(lead * sd**2 + mean**2 * lead_sd**2),
    )


def _levels(stock_points: pd.DataFrame, column: str) -> np.ndarray:
    _require_columns(stock_points, (column,), "safety-stock inputs")
    level = pd.to_numeric(stock_points[column], errors="coerce").to_numpy(float)
    bad = ~((level > 0) & (level < 1))
    if bad.any():
        raise SafetyStockInputError(
            f"{column} is missing or not strictly between 0 and 1 for SKU(s) "
            f"{_who(stock_points, bad)} (e.g. 0.95 for 95 %)"
        )
    return level


def safety_stock_policies(
    stock_points: pd.DataFrame,
    *,
    service_type: str = "cycle",
    target_column: str = "service_target",
    method: MethodChoice = "auto",
    exact_loss: bool = False,
    order_cost: float = DEFAULT_ORDER_COST,
    holding_rate: float = DEFAULT_HOLDING_RATE,
    cover_weeks: float = DEFAULT_COVER_WEEKS,
    min_cycle_service: float | None = DEFAULT_MIN_CYCLE_SERVICE,
) -> pd.DataFrame:
    """Safety stock and reorder point of every stock point (vectorized; see the module docstring).

    Args:
        stock_points: one row per SKU (or SKU-location) with ``mean_weekly_demand``,
            ``sd_weekly_demand`` (units/week), ``lead_time_mean_weeks``, ``lead_time_sd_weeks``,
            the target column (0-1), and optionally ``review_period_weeks`` (0 when absent:
            continuous review (s, Q); above 0: order-up-to (R, S), S = the reorder point, each
            order one review period's demand), ``unit_cost`` (currency/unit, for EOQ and value),
            ``order_qty_units`` (given Q, continuous review only), ``demand_pattern`` (for the auto method) and
            ``method`` (per-row "auto" / "normal" / "gamma") and ``lifecycle`` (run-out items
            get no safety stock, see the module docstring). Other columns are kept.
        service_type: "cycle" (alpha) or "fill_rate" (beta).
        target_column: column holding each row's service target.
        method: "auto" (the module's intermittency rule), "normal" or "gamma".
        exact_loss: fill rate with the exact backorder loss G(k) - G(k + Q/sigma_DL).
        order_cost, holding_rate, cover_weeks: EOQ inputs (currency/order, 1/year) and the
            fallback order quantity in weeks of demand when there is no unit cost.
        min_cycle_service: the safety stock is at least z(min(target, this)) x sigma_DL, so
            every item with variable demand and a target above 50 % holds some (None: no floor).

    Returns:
        ``stock_points`` plus ``service_type``, ``protection_weeks`` (L + R),
        ``lead_time_demand_units`` (mean over the protection interval), ``sigma_dl_units``,
        ``method``, ``policy`` ("service_target" / "run_out"), ``k`` (raw; 0 for run-out),
        ``safety_stock_units`` (floored at 0), ``reorder_point_units``,
        ``order_qty_units``, ``order_qty_source`` ("given" / "eoq" / "cover" / "review"),
        ``min_cycle_service_binds`` (the minimum cycle service, not the target, sets the
        safety stock), ``min_cycle_service`` (the floor used; NaN: none),
        ``expected_cycle_service`` and ``expected_fill_rate`` (of the floored policy, by the
        model) and ``safety_stock_value`` (currency; NaN without unit cost).
    """
    kind = _service_type(service_type)
    _check_min_cycle_service(min_cycle_service)
    level = _levels(stock_points, target_column)
    prep = _prepare(stock_points, method, order_cost, holding_rate, cover_weeks)
    k, ss, floored = _policy_for_levels(prep, level, kind, exact_loss, min_cycle_service)
    short = _shortage_per_cycle(prep, ss, exact_loss)
    out = stock_points.copy()
    out["service_type"] = kind
    out["protection_weeks"] = prep.protection
    out["lead_time_demand_units"] = prep.mean_ltd
    out["sigma_dl_units"] = prep.sigma_dl
    out["method"] = prep.method
    out["policy"] = np.where(prep.run_out, "run_out", "service_target")
    out["k"] = k
    out["safety_stock_units"] = ss
    out["reorder_point_units"] = prep.mean_ltd + ss
    out["order_qty_units"] = prep.order_qty
    out["order_qty_source"] = prep.order_qty_source
    out["min_cycle_service_binds"] = floored
    out["min_cycle_service"] = np.nan if min_cycle_service is None else float(min_cycle_service)
    out["expected_cycle_service"] = _cycle_service(prep, ss)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["expected_fill_rate"] = np.where(
            prep.method == "none", 1.0, np.clip(1.0 - short / prep.order_qty, 0.0, 1.0)
        )
    out["safety_stock_value"] = ss * _optional_numeric(stock_points, "unit_cost")
    return out


# --------------------------------------------------------------------------- service vs inventory curve


def shortage_cost_per_unit(stock_points: pd.DataFrame, goodwill_factor: float = DEFAULT_GOODWILL_FACTOR) -> np.ndarray:
    """Cost of one unit short (currency/unit): the lost margin (``unit_price`` - ``unit_cost``, at
    least 0) x `goodwill_factor`, or the row's ``shortage_cost_per_unit`` where that column is given."""
    if not (isinstance(goodwill_factor, (int, float)) and math.isfinite(goodwill_factor) and goodwill_factor >= 0):
        raise SafetyStockInputError(f"goodwill factor is {goodwill_factor}: it must be a number >= 0 (1 = margin only)")
    given = _optional_numeric(stock_points, "shortage_cost_per_unit")
    price, cost = _optional_numeric(stock_points, "unit_price"), _optional_numeric(stock_points, "unit_cost")
    margin = np.maximum(price - cost, 0.0) * float(goodwill_factor)
    out = np.where(np.isfinite(given), given, margin)
    bad = ~np.isfinite(out) | (out < 0)
    if bad.any():
        raise SafetyStockInputError(
            "unit_price (or shortage_cost_per_unit) is missing or negative for SKU(s) "
            f"{_who(stock_points, bad)}: the cost of a unit short is the lost margin"
        )
    return out


def service_inventory_curve(
    stock_points: pd.DataFrame,
    *,
    service_type: str = "cycle",
    grid: Sequence[float] = SERVICE_LEVEL_GRID,
    target_column: str = "service_target",
    method: MethodChoice = "auto",
    exact_loss: bool = False,
    holding_rate: float = DEFAULT_HOLDING_RATE,
    goodwill_factor: float = DEFAULT_GOODWILL_FACTOR,
    min_saving_share: float = DEFAULT_MIN_SAVING_SHARE,
    min_annual_saving: float = DEFAULT_MIN_ANNUAL_SAVING,
    min_cycle_service: float | None = DEFAULT_MIN_CYCLE_SERVICE,
    order_cost: float = DEFAULT_ORDER_COST,
    cover_weeks: float = DEFAULT_COVER_WEEKS,
) -> pd.DataFrame:
    """Safety-stock value and annual cost against service level per family and in total, with
    the current, least-cost and proposed points.

    For each level of `grid` every item of the family gets that target; the safety-stock value
    is sum(safety_stock_units x unit_cost) (currency). The current point is one extra row
    per family at the items' current targets: its ``service_level`` is the demand-weighted
    (annual units) mean target, its value the sum of the items' safety stock at their own
    targets (class-differentiated targets usually sit below the uniform curve).

    Annual cost of a point = holding cost of its safety stock (``holding_rate`` x value) +
    expected shortage cost (expected units short per cycle x cycles per year x cost per unit
    short, units short capped at annual demand). Cycles per year = annual demand / Q (52 / R for
    order-up-to: one per review). Cost per unit short = lost margin (unit_price - unit_cost) x
    `goodwill_factor` (see `shortage_cost_per_unit`). The least-cost point is the grid level with
    the lowest annual cost (the grid is fine near the top, where the curve bends); it is
    *proposed* only when it saves a material amount against today: at least `min_saving_share`
    of the family's current annual cost and at least `min_annual_saving` per year.

    Args:
        stock_points: the inputs of `safety_stock_policies` plus ``family``, ``unit_cost`` and
            ``unit_price`` (or ``shortage_cost_per_unit``).
        service_type, grid, target_column, method, exact_loss, min_cycle_service: as in
            `safety_stock_policies`.
        holding_rate: 1/year; goodwill_factor: multiplier on the lost margin.
        min_saving_share, min_annual_saving: the materiality threshold of a proposal.

    Returns:
        ``family`` (``TOTAL`` for all items), ``service_type``, ``service_level``,
        ``safety_stock_value`` (currency), ``holding_cost_per_year``,
        ``shortage_cost_per_year``, ``total_cost_per_year`` (currency/year),
        ``marginal_value_per_point`` (currency per +1 point of service from the previous grid
        level), ``annual_saving`` (today's total cost minus this point's, currency/year; 0 on
        the current row), ``is_current``, ``is_least_cost``, ``is_proposed`` (least cost and a
        material saving). Grid rows ascending, then the current row.
    """
    kind = _service_type(service_type)
    _check_min_cycle_service(min_cycle_service)
    _require_columns(stock_points, ("family", "unit_cost"), "safety-stock inputs for the curve")
    for name, value in (
        ("holding rate", holding_rate),
        ("minimum saving share", min_saving_share),
        ("minimum annual saving", min_annual_saving),
    ):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise SafetyStockInputError(f"{name} is {value}: it must be a number >= 0")
    grid_levels = np.array(sorted(set(float(g) for g in grid)))
    for g in grid_levels:
        _check_service_level(g, "curve grid level")
    current = _levels(stock_points, target_column)
    prep = _prepare(stock_points, method, order_cost, holding_rate, cover_weeks)
    cost = _optional_numeric(stock_points, "unit_cost")
    if (~np.isfinite(cost) | (cost < 0)).any():
        raise SafetyStockInputError(
            f"unit_cost is missing or negative for SKU(s) {_who(stock_points, ~(cost >= 0))}: the curve needs it"
        )
    short_cost = shortage_cost_per_unit(stock_points, goodwill_factor)
    family_codes, families = pd.factorize(stock_points["family"].astype(str), sort=True)
    n_fam, n, n_grid = len(families), len(stock_points), len(grid_levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        cycles_per_year = np.where(prep.order_qty > 0, prep.annual_demand / prep.order_qty, 0.0)

    def family_sums(
        p: _Prepared,
        level: np.ndarray,
        codes: np.ndarray,
        n_groups: int,
        unit_cost: np.ndarray,
        unit_short_cost: np.ndarray,
        cycles: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Safety-stock value and annual shortage cost per group (currency, currency/year)."""
        _, ss, _ = _policy_for_levels(p, level, kind, exact_loss, min_cycle_service)
        short_units = np.minimum(cycles * _shortage_per_cycle(p, ss, exact_loss), p.annual_demand)
        return (
            np.bincount(codes, ss * unit_cost, minlength=n_groups),
            np.bincount(codes, short_units * unit_short_cost, minlength=n_groups),
        )

    # grid levels in blocks: the stock points tiled over a block of levels, one group per (level, family)
    block = max(1, min(n_grid, 2_000_000 // max(n, 1)))
    value = np.zeros((n_grid, n_fam))
    shortage = np.zeros((n_grid, n_fam))
    for start in range(0, n_grid, block):
        levels = grid_levels[start : start + block]
        m = len(levels)
        tiled = _Prepared(*(np.tile(getattr(prep, f.name), m) for f in fields(_Prepared)))
        codes = np.tile(family_codes, m) + n_fam * np.repeat(np.arange(m), n)
        v, sh = family_sums(
            tiled,
            np.repeat(levels, n),
            codes,
            n_fam * m,
            np.tile(cost, m),
            np.tile(short_cost, m),
            np.tile(cycles_per_year, m),
        )
        value[start : start + m], shortage[start : start + m] = v.reshape(m, n_fam), sh.reshape(m, n_fam)
    value = np.column_stack([value, value.sum(axis=1)])  # (levels, families + total)
    shortage = np.column_stack([shortage, shortage.sum(axis=1)])
    holding = holding_rate * value
    total_cost = holding + shortage
    least = np.argmin(total_cost, axis=0)

    cur_value, cur_shortage = family_sums(prep, current, family_codes, n_fam, cost, short_cost, cycles_per_year)
    cur_value, cur_shortage = np.append(cur_value, cur_value.sum()), np.append(cur_shortage, cur_shortage.sum())
    cur_total = holding_rate * cur_value + cur_shortage
    saving = cur_total[None, :] - total_cost  # (levels, families + total)
    best_saving = saving[least, np.arange(n_fam + 1)]
    material = (best_saving > 0) & (best_saving >= min_saving_share * cur_total) & (best_saving >= min_annual_saving)
    weights = np.bincount(family_codes, prep.annual_demand, minlength=n_fam)
    weighted = np.bincount(family_codes, prep.annual_demand * current, minlength=n_fam)
    plain_mean = np.bincount(family_codes, current, minlength=n_fam) / np.maximum(
        np.bincount(family_codes, minlength=n_fam), 1
    )
    weights, weighted = np.append(weights, weights.sum()), np.append(weighted, weighted.sum())
    plain_mean = np.append(plain_mean, current.mean() if n else np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        cur_level = np.where(weights > 0, weighted / weights, plain_mean)
        marginal = np.vstack(
            [np.full((1, n_fam + 1), np.nan), np.diff(value, axis=0) / (100.0 * np.diff(grid_levels))[:, None]]
        )

    labels = list(map(str, families)) + [TOTAL_FAMILY]
    frames = []
    for j, family in enumerate(labels):
        is_least = np.arange(n_grid) == least[j]
        frames.append(
            pd.DataFrame(
                {
                    "family": family,
                    "service_type": kind,
                    "service_level": grid_levels,
                    "safety_stock_value": value[:, j],
                    "holding_cost_per_year": holding[:, j],
                    "shortage_cost_per_year": shortage[:, j],
                    "total_cost_per_year": total_cost[:, j],
                    "marginal_value_per_point": marginal[:, j],
                    "annual_saving": saving[:, j],
                    "is_current": False,
                    "is_least_cost": is_least,
                    "is_proposed": is_least & bool(material[j]),
                }
            )
        )
        frames.append(
            pd.DataFrame(
                {
                    "family": [family],
                    "service_type": kind,
                    "service_level": [cur_level[j]],
                    "safety_stock_value": [cur_value[j]],
                    "holding_cost_per_year": [holding_rate * cur_value[j]],
                    "shortage_cost_per_year": [cur_shortage[j]],
                    "total_cost_per_year": [cur_total[j]],
                    "marginal_value_per_point": [np.nan],
                    "annual_saving": [0.0],
                    "is_current": [True],
                    "is_least_cost": [False],
                    "is_proposed": [False],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- plan coherence

#: Lifecycle of the items the coherence rule "SS > 0 for active A/B items with variable demand" covers.
ACTIVE_LIFECYCLE = "active"
#: ABC letters the rule covers.
PROTECTED_ABC = ("A", "B")


def unprotected_items(policies: pd.DataFrame) -> pd.DataFrame:
    """Active A/B items whose demand varies but that carry no safety stock (KPI_DEFINITIONS "Plan
    coherence", "Protection period": every active item whose demand varies carries SS > 0).

    Args:
        policies: one service type's output of `safety_stock_policies` with ``lifecycle`` and
            ``abc_xyz`` (or ``abc``); "varies" = mean weekly demand > 0 and a standard deviation
            (of demand or of forecast error, ``sd_weekly_demand``, or the ``cv`` of weekly demand)
            above 0.

    Returns:
        The offending rows (``sku`` first), empty when the rule holds. Phase-out, discontinued
        and new items, C items and items without demand are outside the rule.
    """
    _require_columns(
        policies,
        ("sku", "lifecycle", "mean_weekly_demand", "sd_weekly_demand", "safety_stock_units"),
        "safety-stock policies",
    )
    abc_col = "abc_xyz" if "abc_xyz" in policies.columns else "abc"
    _require_columns(policies, (abc_col,), "safety-stock policies")
    abc = policies[abc_col].astype("string").str.strip().str.upper().str[:1]
    active = policies["lifecycle"].astype("string").str.strip().str.lower() == ACTIVE_LIFECYCLE
    mean = pd.to_numeric(policies["mean_weekly_demand"], errors="coerce").fillna(0.0)
    sd = pd.to_numeric(policies["sd_weekly_demand"], errors="coerce").fillna(0.0)
    cv = _optional_numeric(policies, "cv")
    varies = (mean > 0) & ((sd > 0) | (np.nan_to_num(cv) > 0))
    stock = pd.to_numeric(policies["safety_stock_units"], errors="coerce").fillna(0.0)
    bad = (abc.isin(PROTECTED_ABC).fillna(False) & active.fillna(False) & varies & ~(stock > 0)).to_numpy(bool)
    return policies.loc[bad].sort_values("sku")


# --------------------------------------------------------------------------- empirical-quantile option
#
# ``empirical_quantile``: the safety stock read off the forecast-error distribution itself instead of
# z x sigma_DL. For each backtest origin and SKU the errors (actual - forecast) of lags 1..n are
# summed: the error of the forecast over the next n weeks, as made at that origin (so the correlation
# of a forecast's errors across its weeks is in it). Over a protection interval P = L + R weeks that
# is not whole, the losses and quantiles of n = floor(P) and floor(P) + 1 are interpolated linearly
# (n = 0: no demand error); beyond the backtest's 13 lags the 13-week sums are scaled by sqrt(P / 13).
# Lead-time variability is added as D x sd_L x z on a fixed grid of normal quantiles (the same
# D^2 sd_L^2 term as sigma_DL). A SKU with fewer than ``MIN_ERROR_WINDOWS`` sums at some n uses the
# sums of its ABC/XYZ class relative to each SKU's mean weekly demand, times its own (then every
# SKU's); none at all: the sigma policy's row is kept (``ss_method`` sigma_fallback).
# Cycle service alpha: SS = the alpha quantile of the sums. Fill rate beta: the smallest SS with
# E[(X_P - SS)+] <= (1 - beta) x Q (Q = D x R under the weekly review), X_P the sums - the textbook
# loss form. ``exact_loss=True`` subtracts E[(X_L - SS)+] as the sigma policy's exact (R, S) form does;
# with ~26 sums per SKU the difference of two empirical losses is too noisy: simulated on the small
# demo's forecast errors it delivered 92.9 % fill rate against a 96.2 % target (the textbook form
# 96.6 %), so it is off by default. The same floor as the sigma policy: at least the
# min(target, min_cycle_service) quantile, and >= 0.

SIGMA_METHOD = "sigma"
EMPIRICAL_QUANTILE = "empirical_quantile"
SAFETY_STOCK_METHODS = (SIGMA_METHOD, EMPIRICAL_QUANTILE)
MIN_ERROR_WINDOWS = 12
_LT_Z = special.ndtri((np.arange(11) + 0.5) / 11)  # lead-time noise grid (normal quantiles)


def lead_time_error_sums(errors: pd.DataFrame, method: str = "lightgbm", max_lag: int = 13) -> pd.DataFrame:
    """``sku, origin, n, error_units``: per backtest origin and SKU, the sum of actual - forecast over
    lags 1..n (n = 1..max_lag), only where every lag up to n was scored at that origin.
    ``errors``: backtest rows (``origin, sku, lag, method, forecast_units, actual_units``)."""
    e = errors[(errors["method"] == method) & (errors["lag"].astype(int) <= max_lag)]
    if e.empty:
        return pd.DataFrame(columns=["sku", "origin", "n", "error_units"])
    e = e.assign(err=e["actual_units"].astype(float) - e["forecast_units"].astype(float), lag=e["lag"].astype(int))
    wide = e.pivot_table(index=["sku", "origin"], columns="lag", values="err", aggfunc="sum", observed=True)
    wide = wide.reindex(columns=range(1, max_lag + 1))
    sums = wide.cumsum(axis=1, skipna=False)
    out = sums.stack(future_stack=True).rename("error_units").reset_index().rename(columns={"lag": "n"})
    out = out[out.error_units.notna()]
    out["sku"] = out["sku"].astype(str)
    return out.reset_index(drop=True)


def _loss_table(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted sample and the empirical loss E[(X - x)+] at each of its points (piecewise linear between)."""
    x = np.sort(sample)
    tail = np.cumsum(x[::-1])[::-1]  # sum of x_j for j >= k
    k = np.arange(len(x))
    loss = (tail - x * (len(x) - k)) / len(x)
    return x, loss


def _loss_at(table: tuple[np.ndarray, np.ndarray], s: np.ndarray) -> np.ndarray:
    x, loss = table
    inside = np.interp(s, x, loss)
    return np.where(s < x[0], x.mean() - s, np.where(s > x[-1], 0.0, inside))


def _sample_at(n: int, own: dict, pool: dict, everyone: dict, mean: float, lt_noise: float) -> tuple[np.ndarray, str]:
    """Error sums over n weeks for one SKU (own, else class pool x mean, else everyone x mean) + lead-time noise."""
    scale = 1.0
    if n > 13:
        scale, n = math.sqrt(n / 13.0), 13
    if n <= 0:
        base, source = np.zeros(1), "own"
    elif len(own.get(n, ())) >= MIN_ERROR_WINDOWS:
        base, source = own[n], "own"
    elif len(pool.get(n, ())) >= MIN_ERROR_WINDOWS:
        base, source = pool[n] * mean, "class_pool"
    elif len(everyone.get(n, ())) >= 1:
        base, source = everyone[n] * mean, "all_pool"
    else:
        return np.zeros(0), "none"
    if lt_noise <= 0:
        return base * scale, source
    return (base[:, None] * scale + lt_noise * _LT_Z[None, :]).ravel(), source


def empirical_quantile_policies(
    policies: pd.DataFrame,
    error_sums: pd.DataFrame,
    *,
    min_cycle_service: float | None = DEFAULT_MIN_CYCLE_SERVICE,
    exact_loss: bool = False,
) -> pd.DataFrame:
    """The ``empirical_quantile`` option (see the section comment above): ``policies`` (the output of
    `safety_stock_policies`, one service type or both) with ``safety_stock_units``,
    ``reorder_point_units`` (= lead-time demand + SS), ``safety_stock_value`` and ``k`` (SS / sigma_DL)
    recomputed from ``error_sums`` (`lead_time_error_sums`), plus ``ss_method`` (empirical_quantile,
    empirical_quantile_class_pool / _all_pool, or sigma_fallback, run_out, none) and ``error_windows``
    (sums behind the SKU's one-week quantile). Run-out rows and rows without demand keep their policy."""
    out = policies.copy()
    out["ss_method"] = np.where(out["policy"] == "run_out", "run_out", np.where(out["method"] == "none", "none", ""))
    out["error_windows"] = 0
    sums = error_sums.assign(
        sku=error_sums["sku"].astype(str),
        n=pd.to_numeric(error_sums["n"]).astype("int64"),
        error_units=pd.to_numeric(error_sums["error_units"]).astype(float),
    )
    mean = out.drop_duplicates("sku").set_index("sku")["mean_weekly_demand"].astype(float)
    cls = out.drop_duplicates("sku").set_index("sku")["abc_xyz"].fillna("") if "abc_xyz" in out else None
    sums = sums[sums.sku.isin(mean.index)]
    sku_mean = mean.reindex(sums.sku).to_numpy(dtype=float)
    sums = sums.assign(rel=sums.error_units.to_numpy(float) / np.where(sku_mean > 0, sku_mean, np.nan))
    # per SKU and n its sums in row order (one grouping, not one per SKU)
    own: dict = {}
    err = sums.error_units.to_numpy(float)
    for (sku, n), rows in sums.groupby(["sku", "n"]).indices.items():
        own.setdefault(sku, {})[int(n)] = err[rows]
    valid = sums[np.isfinite(sums.rel)]
    everyone = {int(n): g.rel.to_numpy(float) for n, g in valid.groupby("n")}
    pools: dict = {}
    if cls is not None:
        for c, f in valid.assign(cls=valid.sku.map(cls)).groupby("cls"):
            pools[c] = {int(n): g.rel.to_numpy(float) for n, g in f.groupby("n")}
    review = _optional_numeric(out, "review_period_weeks")
    review = np.where(np.isfinite(review), review, 0.0)
    for i, r in enumerate(out.itertuples(index=False)):
        if out["ss_method"].iat[i]:
            continue
        d = float(r.mean_weekly_demand)
        lead, lead_sd, rv = float(r.lead_time_mean_weeks), float(r.lead_time_sd_weeks), float(review[i])
        noise = d * lead_sd
        sku_own = own.get(str(r.sku), {})
        pool = pools.get(cls.get(r.sku, "") if cls is not None else "", {})

        def mix(p: float):
            lo = int(math.floor(p))
            w = p - lo
            a, src_a = _sample_at(lo, sku_own, pool, everyone, d, noise)
            if w == 0:
                return (a, a, 0.0), src_a
            b, src_b = _sample_at(lo + 1, sku_own, pool, everyone, d, noise)
            return (a, b, w), src_b

        (pa, pb, pw), source = mix(lead + rv)
        if not len(pb) or not len(pa):
            out.iat[i, out.columns.get_loc("ss_method")] = "sigma_fallback"
            continue
        target = float(getattr(r, "service_target"))
        floor_level = min(target, min_cycle_service) if min_cycle_service is not None else None

        def quantile(level: float) -> float:
            return float((1 - pw) * np.quantile(pa, level) + pw * np.quantile(pb, level))

        if r.service_type == "cycle":
            ss = quantile(target)
        else:
            q = d * rv if rv > 0 else float(r.order_qty_units)
            tables = [(1 - pw, _loss_table(pa)), (pw, _loss_table(pb))]
            if rv > 0 and exact_loss:  # order-up-to: shortage per review = loss over L + R - loss over L
                (la, lb, lw), _ = mix(lead)
                if len(la) and len(lb):
                    tables += [(-(1 - lw), _loss_table(la)), (-lw, _loss_table(lb))]
            # the loss is piecewise linear between the samples' points: solve exactly on them
            cand = np.unique(np.concatenate([t[0] for _, t in tables]))
            short = sum(wt * _loss_at(t, cand) for wt, t in tables)
            thr = (1 - target) * q
            over = np.flatnonzero(short > thr)
            if not len(over):
                ss = float(cand[0])
            elif over[-1] + 1 >= len(cand):
                ss = float(cand[-1])
            else:
                k0 = over[-1]
                s0, s1, f0, f1 = cand[k0], cand[k0 + 1], short[k0], short[k0 + 1]
                ss = float(s0 + (f0 - thr) * (s1 - s0) / (f0 - f1)) if f0 > f1 else float(s1)
        if floor_level is not None and floor_level > 0.5:
            ss = max(ss, quantile(floor_level))
        ss = max(ss, 0.0)
        j = out.columns.get_loc
        out.iat[i, j("safety_stock_units")] = ss
        out.iat[i, j("ss_method")] = EMPIRICAL_QUANTILE + ("" if source == "own" else f"_{source}")
        out.iat[i, j("error_windows")] = len(sku_own.get(1, ()))
    sel = out["ss_method"].str.startswith(EMPIRICAL_QUANTILE).to_numpy()
    out.loc[sel, "reorder_point_units"] = out.loc[sel, "lead_time_demand_units"] + out.loc[sel, "safety_stock_units"]
    sigma = out.loc[sel, "sigma_dl_units"].astype(float)
    out.loc[sel, "k"] = np.where(sigma > 0, out.loc[sel, "safety_stock_units"] / sigma.where(sigma > 0), 0.0)
    out.loc[sel, "safety_stock_value"] = out.loc[sel, "safety_stock_units"] * _optional_numeric(out[sel], "unit_cost")
    return out
