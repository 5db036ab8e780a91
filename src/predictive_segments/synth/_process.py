"""The latent purchase process and its closed-form / quadrature probabilities.

Each customer has a purchase rate (orders per day) that is log-linear in time
with one kink: ``log rate(t) = log_rate_ref + g (t - T_REF) - k max(0, t - c)``
(g: growth per day, c: start of a decline, k: decay per day after c), and a
dropout hazard that is ``mu0`` before c and ``mu0 + mu1`` after it (a
Pareto/NBD-like lifetime with a change point). While alive the customer orders
as a non-homogeneous Poisson process; after dropout never again.

Earlier versions redrew an activity level every 90 days and let customers
order sporadically after their dropout, only to keep an oracle that knew the
alive state from being too good. The truth is now what can be inferred from
the observable history (``_oracle``), which is hard enough without them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._params import T_REF

_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)


@dataclass
class Rates:
    """Per-customer parameters of a log-linear rate with a decline kink.

    ``log0`` is the log rate per day at T_REF (``-inf`` for a zero rate), ``g``
    the growth per day, ``c`` the decline start in days relative to T (``inf``
    when there is none) and ``k`` the decay per day after c.
    """

    log0: np.ndarray
    g: np.ndarray
    c: np.ndarray
    k: np.ndarray

    def take(self, idx: np.ndarray) -> Rates:
        """Return the rates of the customers ``idx`` (one row per index)."""
        return Rates(self.log0[idx], self.g[idx], self.c[idx], self.k[idx])

    def log_rate(self, t: np.ndarray) -> np.ndarray:
        """Return the log rate per day at times ``t`` (days, broadcast)."""
        with np.errstate(invalid="ignore"):
            over = np.maximum(0.0, t - self.c)
        over = np.where(np.isfinite(over), over, 0.0)
        return self.log0 + self.g * (t - T_REF) - self.k * over

    def log_max(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Return the maximum of the log rate over [lo, hi] (kink or an end)."""
        kink = np.clip(self.c, lo, hi)
        return np.maximum(
            np.maximum(self.log_rate(lo), self.log_rate(hi)), self.log_rate(kink)
        )

    def integral(self, ta: np.ndarray, tb: np.ndarray) -> np.ndarray:
        """Return the integral of the rate over [ta, tb] (expected events)."""
        split = np.clip(self.c, ta, tb)
        first = _int_loglinear(self.log_rate(ta), self.g, split - ta)
        second = _int_loglinear(self.log_rate(split), self.g - self.k, tb - split)
        return first + second


def _exprel(x: np.ndarray) -> np.ndarray:
    """(exp(x) - 1) / x, 1 at 0 (expm1 keeps it exact near 0)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.divide(np.expm1(x), x, out=np.ones_like(x), where=x != 0)


def _int_loglinear(log_start: np.ndarray, slope: np.ndarray, length: np.ndarray):
    """Integral of exp(log_start + slope u) for u in [0, length]."""
    length = np.maximum(length, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        val = np.exp(log_start) * length * _exprel(slope * length)
    return np.where(length > 0, val, 0.0)


@dataclass
class Hazard:
    """Dropout hazard per day: ``mu0`` before ``c``, ``mu0 + mu1`` from c on."""

    mu0: np.ndarray
    mu1: np.ndarray
    c: np.ndarray

    def take(self, idx: np.ndarray) -> Hazard:
        """Return the hazards of the customers ``idx`` (one row per index)."""
        return Hazard(self.mu0[idx], self.mu1[idx], self.c[idx])

    def cumulative(self, ta: np.ndarray, tb: np.ndarray) -> np.ndarray:
        """Return the integrated hazard over [ta, tb]."""
        late = np.maximum(0.0, tb - np.maximum(self.c, ta))
        late = np.where(np.isfinite(late), late, 0.0)
        return self.mu0 * (tb - ta) + self.mu1 * late

    def at(self, t: np.ndarray) -> np.ndarray:
        """Return the hazard per day at times ``t``."""
        return self.mu0 + self.mu1 * (t >= self.c)

    def draw_dropout(self, start: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return dropout times (days) of customers alive from ``start`` on."""
        e = rng.exponential(1.0, start.shape[0])
        c_eff = np.maximum(self.c, start)
        before = self.mu0 * (c_eff - start)  # inf when there is no decline
        early = start + e / self.mu0
        with np.errstate(invalid="ignore"):
            late = c_eff + (e - before) / (self.mu0 + self.mu1)
        return np.where(e <= before, early, late)


def sample_nhpp(
    rates: Rates,
    lo: np.ndarray,
    hi: np.ndarray,
    rng: np.random.Generator,
    scale: np.ndarray | float = 1.0,
    add: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample a Poisson process with rate ``scale * rate(t) + add`` on [lo, hi).

    Uses thinning against the per-row maximum rate. Returns ``(row, t)``: the
    index into the input rows and the event times in days, grouped by row and
    sorted by time within a row.
    """
    n = lo.shape[0]
    length = np.maximum(hi - lo, 0.0)
    scale = np.broadcast_to(np.asarray(scale, dtype=float), (n,))
    add = np.broadcast_to(np.asarray(add, dtype=float), (n,))
    with np.errstate(over="ignore", invalid="ignore"):
        peak = scale * np.exp(rates.log_max(lo, np.maximum(hi, lo))) + add
    peak = np.where(length > 0, np.nan_to_num(peak, nan=0.0), 0.0)
    counts = rng.poisson(peak * length)
    row = np.repeat(np.arange(n), counts)
    t = lo[row] + rng.random(row.shape[0]) * length[row]
    rate = scale[row] * np.exp(rates.take(row).log_rate(t)) + add[row]
    keep = rng.random(row.shape[0]) * peak[row] < rate
    row, t = row[keep], t[keep]
    order = np.lexsort((t, row))
    return row[order], t[order]


def p_no_order(
    rates: Rates,
    hazard: Hazard,
    t0: np.ndarray,
    window: float,
    q: float,
    mix_shape: np.ndarray | None = None,
    mix_rate: np.ndarray | None = None,
    chunk: int = 200_000,
) -> np.ndarray:
    """P(no counted order in [t0, t0 + window)) for customers alive at t0.

    Counted orders arrive at ``q * rate(t)`` per day until the dropout. With
    ``mix_shape``/``mix_rate`` the rate is multiplied by an unknown
    Z ~ Gamma(mix_shape, rate=mix_rate) (e.g. the posterior of a customer's
    rate level), so the Poisson part averages to ``(1 + x / rate) ** -shape``.
    Integrates over the dropout time with Gauss-Legendre quadrature on both
    sides of the change point. Returns probabilities in [0, 1].
    """
    n = t0.shape[0]
    out = np.empty(n)
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        r = Rates(
            rates.log0[sl, None],
            rates.g[sl, None],
            rates.c[sl, None],
            rates.k[sl, None],
        )
        h = Hazard(hazard.mu0[sl, None], hazard.mu1[sl, None], hazard.c[sl, None])
        a = t0[sl, None]
        if mix_shape is None:
            shape = rate = None
        else:
            shape, rate = mix_shape[sl, None], mix_rate[sl, None]
        kink = np.clip(h.c - a, 0.0, window)

        def survivor(u, r=r, h=h, a=a, shape=shape, rate=rate):
            x = q * r.integral(a, a + u)
            poisson = np.exp(-x) if shape is None else (1.0 + x / rate) ** (-shape)
            return poisson * np.exp(-h.cumulative(a, a + u))

        total = survivor(np.full_like(kink, window))[:, 0]
        pieces = [(kink, np.full_like(kink, window))]
        if np.any(kink > 0):
            pieces.insert(0, (np.zeros_like(kink), kink))
        for lo_u, hi_u in pieces:
            half = (hi_u - lo_u) / 2
            u = lo_u + half * (_GL_X[None, :] + 1)
            # Gauss-Legendre nodes are interior, so the hazard is the piece's value
            hz = h.at(a + u)
            total += np.sum(half * _GL_W[None, :] * hz * survivor(u), axis=1)
        out[sl] = total
    return np.clip(out, 0.0, 1.0)


def expected_value_integral(
    rates: Rates,
    hazard: Hazard,
    log_value0: np.ndarray,
    value_g: np.ndarray,
    t0: float,
    horizon: float,
) -> np.ndarray:
    """Integral over [t0, t0 + horizon) of rate(t) * value(t) * P(alive at t).

    ``value(t) = exp(log_value0 + value_g (t - T_REF))``; alive at t0 is given.
    The rate and the hazard must share their change point (``rates.c`` is
    ``hazard.c``; use k = 0 for a rate without a kink).
    Closed form (the integrand is log-linear on both sides of the change
    point). Returns expected value per customer, in the units of value.
    """
    n = log_value0.shape[0]
    a = np.full(n, float(t0))
    b = a + horizon
    split = np.clip(rates.c, a, b)

    def log_integrand(t):
        return (
            rates.log_rate(t)
            + log_value0
            + value_g * (t - T_REF)
            - hazard.cumulative(a, t)
        )

    slope1 = rates.g + value_g - hazard.mu0
    slope2 = slope1 - rates.k - hazard.mu1
    first = _int_loglinear(log_integrand(a), slope1, split - a)
    second = _int_loglinear(log_integrand(split), slope2, b - split)
    return first + second
