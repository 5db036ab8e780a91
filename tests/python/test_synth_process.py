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
    sample_nhpp,
)

N = 40_000  # replicates of each of the three customer types below
WINDOW = 90.0


def _customers():
    """Three types, each repeated N times: steady, growing, declining from t=30,
    with a gamma shape for an unknown rate level."""
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
    """With the rate level unknown (gamma, as in a posterior) and without."""
    k, rates, hazard, shape = _customers()
    n = k.shape[0]
    rng = np.random.default_rng(5)
    t0 = np.zeros(n)
    dropout = hazard.draw_dropout(t0, rng)
    rate = shape * np.array([1.0, 0.5, 2.0])[k]  # mean level 1, 2, 0.5
    level = rng.gamma(shape, 1.0 / rate)
    q = 0.95
    for mixed in (False, True):
        r = Rates(rates.log0 + (np.log(level) if mixed else 0.0), *_rest(rates))
        row, _ = sample_nhpp(r, t0, np.minimum(dropout, WINDOW), rng)
        counted = rng.random(row.shape[0]) < q
        none = np.bincount(row[counted], minlength=n) == 0
        mix = (shape, rate) if mixed else (None, None)
        p = p_no_order(rates, hazard, t0, WINDOW, q, *mix)
        for kind in range(3):
            sel = k == kind
            assert p[sel].mean() == pytest.approx(none[sel].mean(), abs=0.01)
        assert 0.05 < p.mean() < 0.9  # the check is not trivial


def _rest(rates):
    return rates.g, rates.c, rates.k


def test_uncertain_or_lower_rate_raises_p_no_order():
    _, rates, hazard, shape = _customers()
    t0 = np.zeros(rates.log0.shape[0])
    known = p_no_order(rates, hazard, t0, 30.0, 1.0)
    unsure = p_no_order(rates, hazard, t0, 30.0, 1.0, shape, shape)  # mean 1
    lower = p_no_order(Rates(rates.log0 - 0.5, *_rest(rates)), hazard, t0, 30.0, 1.0)
    assert (unsure > known).all() and (lower > known).all()


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
