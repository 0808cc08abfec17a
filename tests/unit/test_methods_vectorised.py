"""The candidate recursions (methods._ses, tsb, croston_sba, adida, theta) in their blocked,
branch-free form give exactly the numbers of the straightforward per-cell implementations they
replaced (kept below as the reference), on random series with intermittent demand, missing weeks,
late starts, never-sold and constant series, across block boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from sop_pipeline.analytics import methods as M


# ----------------------------------------------------------------- reference (the previous code)


def _ref_ses(y, alphas=M.SES_ALPHAS):
    n, T = y.shape
    a = alphas[None, :]
    level = np.full((n, len(alphas)), np.nan)
    sse = np.zeros_like(level)
    for t in range(T):
        x = y[:, t][:, None]
        ok = ~np.isnan(x)
        started = ~np.isnan(level)
        upd = ok & started
        err = np.where(upd, x - level, 0.0)
        sse += err**2
        level = np.where(upd, level + a * err, np.where(ok & ~started, x, level))
    best = np.argmin(sse, axis=1)
    return level[np.arange(n), best], alphas[best]


def _ref_croston(units, horizons):
    y = units[:, -M.FIT_WEEKS :]
    n, T = y.shape
    a = M.TSB_ALPHAS[None, :]
    k = a.shape[1]
    obs = ~np.isnan(y)
    nz = obs & (y > 0)
    z = np.full((n, k), np.nan)
    p = np.full((n, k), np.nan)
    since = np.ones((n, 1))
    sse = np.zeros((n, k))
    for t in range(T):
        x = y[:, t][:, None]
        ok, d = obs[:, t][:, None], nz[:, t][:, None]
        f = np.where(np.isnan(z), 0.0, (1 - a / 2) * z / np.where(np.isnan(p), 1.0, p))
        sse += np.where(ok & ~np.isnan(z), (np.nan_to_num(x) - f) ** 2, 0.0)
        first = d & np.isnan(z)
        z = np.where(first, x, np.where(d, z + a * (x - z), z))
        p = np.where(first, since, np.where(d, p + a * (since - p), p))
        since = np.where(d, 1.0, np.where(ok, since + 1, since))
    best = np.argmin(sse, axis=1)
    ab = M.TSB_ALPHAS[best]
    zb, pb = z[np.arange(n), best], p[np.arange(n), best]
    f = np.where(np.isnan(zb), 0.0, (1 - ab / 2) * np.nan_to_num(zb) / np.where(np.isnan(pb), 1.0, pb))
    return np.repeat(f[:, None], len(horizons), axis=1)


def _ref_tsb(units, horizons):
    y = units[:, -M.FIT_WEEKS :]
    n, T = y.shape
    ap = np.repeat(M.TSB_ALPHAS, len(M.TSB_ALPHAS))[None, :]
    az = np.tile(M.TSB_ALPHAS, len(M.TSB_ALPHAS))[None, :]
    k = ap.shape[1]
    obs = ~np.isnan(y)
    nz = obs & (y > 0)
    p0 = nz.sum(axis=1) / np.maximum(obs.sum(axis=1), 1)
    z0 = np.where(nz.any(axis=1), np.nansum(np.where(nz, y, 0.0), axis=1) / np.maximum(nz.sum(axis=1), 1), 0.0)
    p = np.repeat(p0[:, None], k, axis=1)
    z = np.repeat(z0[:, None], k, axis=1)
    sse = np.zeros((n, k))
    for t in range(T):
        x = y[:, t][:, None]
        ok = ~np.isnan(x)
        xv = np.where(ok, x, 0.0)
        sse += np.where(ok, (xv - p * z) ** 2, 0.0)
        d = (xv > 0).astype(float)
        p = np.where(ok, p + ap * (d - p), p)
        z = np.where(ok & (xv > 0), z + az * (xv - z), z)
    best = np.argmin(sse, axis=1)
    f = (p * z)[np.arange(n), best]
    return np.repeat(f[:, None], len(horizons), axis=1)


# ----------------------------------------------------------------- data


def _series(n: int, T: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.6, 5, n)[:, None]
    sell = rng.random((n, T)) < rng.uniform(0.05, 1.0, n)[:, None]  # smooth to very intermittent
    u = rng.poisson(lam, (n, T)).astype(float) * sell
    u[rng.random((n, T)) < 0.04] = np.nan  # missing weeks
    late = rng.random(n) < 0.2
    for i in np.flatnonzero(late):  # series that start late (NaN before the first row)
        u[i, : rng.integers(1, T)] = np.nan
    u[0] = np.nan  # never observed
    u[1] = 0.0  # observed, never sold
    u[2] = 7.0  # constant: every constant ties, the first wins in both
    u[3, :-1] = np.nan  # one observed week
    u[4, -1] = np.nan  # the last week missing
    u[5] = np.where(np.arange(T) % 9 == 0, 3.5, 0.0)  # regular intermittent
    return u


@pytest.mark.parametrize("seed,T", [(0, 110), (1, 104), (2, 40), (3, 9)])
def test_candidate_recursions_equal_the_per_cell_reference_exactly(seed, T, monkeypatch):
    monkeypatch.setattr(M, "BLOCK_ROWS", 256)
    n = 2 * M.BLOCK_ROWS + 157  # three blocks, the last partial
    u = _series(n, T, seed)
    hs = np.arange(1, 14)
    y = u[:, -M.FIT_WEEKS :]
    level, alpha = M._ses(y)
    ref_level, ref_alpha = _ref_ses(y)
    np.testing.assert_array_equal(level, ref_level)
    np.testing.assert_array_equal(alpha, ref_alpha)
    np.testing.assert_array_equal(M.tsb(u, hs), _ref_tsb(u, hs))
    np.testing.assert_array_equal(M.croston_sba(u, hs), _ref_croston(u, hs))
    # adida and theta run on _ses: equal to themselves with the reference SES swapped in
    lgb = np.repeat(np.nan_to_num(u[:, -1:]), len(hs), axis=1) * 0.9
    fast = {"adida": M.adida(u, hs), "theta": M.theta(u, hs), "cand": M.candidates(u, hs, lgb)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(M, "_ses", _ref_ses)
        mp.setattr(M, "tsb", _ref_tsb)
        mp.setattr(M, "croston_sba", _ref_croston)
        np.testing.assert_array_equal(fast["adida"], M.adida(u, hs))
        np.testing.assert_array_equal(fast["theta"], M.theta(u, hs))
        ref = M.candidates(u, hs, lgb)
    assert set(ref) == set(fast["cand"])
    for name in ref:
        np.testing.assert_array_equal(fast["cand"][name], ref[name], err_msg=name)


def test_the_reference_is_not_trivially_equal():
    """The comparison has teeth: the recursions pick different constants across series, and a
    one-ulp change of the data moves some forecasts."""
    u = _series(500, 104, 5)
    _, alpha = M._ses(u)
    assert len(np.unique(alpha)) >= 3
    f = M.tsb(u, np.arange(1, 3))[:, 0]
    assert len(np.unique(np.round(f, 6))) > 100
    v = u.copy()
    v[10:, 50] = np.nextafter(v[10:, 50], np.inf)
    assert not np.array_equal(
        M.croston_sba(v, np.arange(1, 3)), M.croston_sba(u, np.arange(1, 3))
    ) or not np.array_equal(M.tsb(v, np.arange(1, 3)), M.tsb(u, np.arange(1, 3)))
