"""The closed-form/quadrature truth of the latent process matches simulation."""

from __future__ import annotations

import numpy as np
import pytest

from predictive_segments.synth._params import T_REF
from predictive_segments.synth._process import (
    Hazard,
    Rates,
    expected_value_integral,
    p_no_order,
    sample_bursty,
)

N = 40_000  # replicates of each of the three customer types below
WINDOW = 90.0


def _customers():
    """Three types, each repeated N times: steady, growing, declining from t=30."""
    k = np.repeat(np.arange(3), N)
    log0 = np.log(np.array([1 / 30, 1 / 60, 1 / 20]))[k]
    g = np.array([0.0, 1.0 / 365, 0.0])[k]
    c = np.array([np.inf, np.inf, 30.0])[k]
    decay = np.array([0.0, 0.0, 1 / 50])[k]
    mu0 = np.array([1 / 700, 1 / 400, 1 / 900])[k]
    mu1 = np.array([0.0, 0.0, 1 / 60])[k]
    shape = np.array([1.0, 0.6, 2.0])[k]
    return k, Rates(log0, g, c, decay), Hazard(mu0, mu1, c), shape


def test_p_no_order_matches_monte_carlo():
    k, rates, hazard, shape = _customers()
    n = k.shape[0]
    rng = np.random.default_rng(5)
    t0 = np.zeros(n)
    dropout = hazard.draw_dropout(t0, rng)
    burst = rng.gamma(shape[:, None], 1.0, (n, 1)) / shape[:, None]
    q = 0.95
    row, _ = sample_bursty(rates, t0, np.minimum(dropout, WINDOW), rng, burst, 0)
    counted = rng.random(row.shape[0]) < q
    none = np.bincount(row[counted], minlength=n) == 0
    p = p_no_order(rates, hazard, t0, WINDOW, q, shape)
    for kind in range(3):
        sel = k == kind
        assert p[sel].mean() == pytest.approx(none[sel].mean(), abs=0.01)
    assert 0.2 < p.mean() < 0.9  # the check is not trivial


def test_treatment_multiplier_and_additive_rate_lower_p_no_order():
    _, rates, hazard, shape = _customers()
    t0 = np.zeros(rates.log0.shape[0])
    base = p_no_order(rates, hazard, t0, 30.0, 1.0, shape)
    more = p_no_order(rates, hazard, t0, 30.0, 1.0, shape, mult=1.5, add=0.01)
    less = p_no_order(rates, hazard, t0, 30.0, 1.0, shape, mult=0.5)
    assert (more < base).all() and (less > base).all()


def test_expected_value_integral_matches_numeric_integration():
    _, rates, hazard, _ = _customers()
    idx = np.array([0, N, 2 * N])
    r = rates.take(idx)
    h = Hazard(hazard.mu0[idx], hazard.mu1[idx], hazard.c[idx])
    log_value = np.log(np.array([50.0, 80.0, 30.0]))
    value_g = np.array([0.0, 0.3 / 365, 0.0])
    closed = expected_value_integral(r, h, log_value, value_g, 0.0, 365.0)
    grid = np.linspace(0.0, 365.0, 200_001)[None, :]
    col = Rates(r.log0[:, None], r.g[:, None], r.c[:, None], r.k[:, None])
    hcol = Hazard(h.mu0[:, None], h.mu1[:, None], h.c[:, None])
    integrand = (
        np.exp(col.log_rate(grid))
        * np.exp(log_value[:, None] + value_g[:, None] * (grid - T_REF))
        * np.exp(-hcol.cumulative(np.zeros((3, 1)), grid))
    )
    numeric = np.trapezoid(integrand, grid, axis=1)
    np.testing.assert_allclose(closed, numeric, rtol=1e-4)
