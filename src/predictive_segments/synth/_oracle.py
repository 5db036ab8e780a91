"""The oracle: the best possible prediction from what is observable.

The truth the tests compare models with must be achievable. A truth computed
from the latent state (is the customer still alive? what is its persona, its
purchase rate?) is not: no model sees that state, and on the demo data such an
oracle beat any model by 0.05-0.08 AUC. This module computes instead the
posterior predictive given

* what an observer has at time ``t0``: the signup time, the orders in
  ``[h0, t0)`` (times and amounts; cancelled orders, siblings and refunds
  carry no information about the purchase process and are left out) and the
  campaign assignments;
* the generative model itself (PERSONA_PARAMS and the purchase process of
  ``_process``), which serves as the prior.

It integrates over everything else: the persona, the customer's purchase
rate level (gamma prior, integrated in closed form), its order value level
(normal prior, closed form), the decline start of declining personas (a grid
of equally likely values, summed exactly), the dropout time (before the
history, between the last order and t0 - Gauss-Legendre on a variable that
flattens the integrand - or after t0) and, for the prediction, the dropout
in the window (quadrature) and the Poisson orders. One hypothesis row per
(customer, persona, decline start, first-order branch); rows are weighted by
prior x likelihood of the history and their predictions averaged.

Buyers' first orders follow the signup within hours, so an order right after
the signup tells buyers from browsers; when the signup is before the history,
both are possible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from . import _params as P
from ._process import Hazard, Rates, _exprel, expected_value_integral

_TAU_X, _TAU_W = np.polynomial.legendre.leggauss(6)
_WIN_X, _WIN_W = np.polynomial.legendre.leggauss(4)
_PP = P.PERSONA_PARAMS
_N_PERSONAS = len(P.PERSONAS)
_CHUNK = 20_000


@dataclass
class History:
    """What is observable about each customer at ``t0`` (days relative to T).

    ``first``: time of the first order when it is seen right after a signup
    inside the history (nan otherwise). ``n``/``last``: number and time of the
    last order drawn from the purchase process (rate orders); ``sum_d`` the
    sum of their ``t - T_REF``, ``excess[:, j]`` the sum of
    ``max(0, t - DECLINE_STARTS[j])``, ``n_win[:, w]`` the count inside the
    window of campaign w. ``treated[:, w]``: treated in campaign w (the window
    starts before t0). ``amount``: n, sum y, sum y^2, sum d, sum d^2, sum y d
    over orders with a positive amount (y = log EUR, d = t - T_REF).
    """

    t0: float
    h0: float
    signup: np.ndarray
    first: np.ndarray
    n: np.ndarray
    last: np.ndarray
    sum_d: np.ndarray
    excess: np.ndarray
    n_win: np.ndarray
    treated: np.ndarray
    amount: np.ndarray


def campaign_windows(t0: float) -> list[tuple[float, float, np.ndarray]]:
    """(start, end, log multiplier per persona) of the campaigns started
    before t0."""
    out = []
    for cid, day, _ in P.CAMPAIGNS:
        if day < t0:
            end = float(day + P.UPLIFT_WINDOW_DAYS)
            out.append((float(day), end, P.CAMPAIGN_EFFECTS[cid]))
    return out


def observe(
    cust: np.ndarray,
    t: np.ndarray,
    rate_order: np.ndarray,
    first_order: np.ndarray,
    log_eur: np.ndarray,
    signup: np.ndarray,
    treated: np.ndarray,
    t0: float,
    h0: float,
) -> History:
    """Summarize observed orders into a ``History``.

    ``cust`` (index into ``signup``), ``t`` (days), ``rate_order`` (drawn from
    the purchase process, not cancelled), ``first_order`` (a buyer's first
    order, not cancelled) and ``log_eur`` (log amount in EUR, nan when not
    positive) describe the orders; only those in ``[h0, t0)`` are used.
    ``treated``: (customers, campaigns started before t0) booleans.
    """
    n_c = signup.shape[0]
    seen = (t >= h0) & (t < t0)

    def total(mask, weights=None):
        w = None if weights is None else weights[mask]
        return np.bincount(cust[mask], w, minlength=n_c).astype(float)

    ev = seen & rate_order
    d = t - P.T_REF
    last = np.full(n_c, -np.inf)
    np.maximum.at(last, cust[ev], t[ev])
    first = np.full(n_c, np.nan)
    fo = seen & first_order
    first[cust[fo]] = t[fo]
    excess = np.stack(
        [total(ev, np.maximum(t - c, 0.0)) for c in P.DECLINE_STARTS], axis=1
    )
    wins = campaign_windows(t0)
    n_win = np.zeros((n_c, len(wins)))
    for w, (lo, hi, _) in enumerate(wins):
        n_win[:, w] = total(ev & (t >= lo) & (t < hi))
    am = seen & np.isfinite(log_eur)
    y = np.where(am, log_eur, 0.0)
    stats = (None, y, y * y, d, d * d, y * d)
    amount = np.stack([total(am, w) for w in stats], axis=1)
    return History(
        t0=float(t0),
        h0=float(h0),
        signup=signup.astype(float),
        first=first,
        n=total(ev),
        last=last,
        sum_d=total(ev, d),
        excess=excess,
        n_win=n_win,
        treated=treated.reshape(n_c, len(wins)).astype(bool),
        amount=amount,
    )


# ---------------------------------------------------------------- rows
@dataclass
class _Rows:
    """Hypothesis rows of one chunk of customers (see the module docstring)."""

    cust: np.ndarray  # index within the chunk
    persona: np.ndarray
    c: np.ndarray  # decline start, inf when none
    s0: np.ndarray  # start of the purchase process
    pending: np.ndarray  # first order still to come (process starts at t0)
    weight: np.ndarray  # posterior weight (sums to 1 per customer)
    p_alive: np.ndarray  # P(alive at t0 | history, row)
    shape: np.ndarray  # gamma posterior of the rate level given alive
    rate: np.ndarray
    log_value: np.ndarray  # log E[order value] at T_REF (posterior)


def _hypotheses(h: History, idx: np.ndarray):
    """Enumerate (customer, persona, decline start, branch, log prior) rows."""
    t0, h0 = h.t0, h.h0
    signup, first, n = h.signup[idx], h.first[idx], h.n[idx]
    k = idx.shape[0]
    buyer = _PP["buyer"]
    share = _PP["share"] / _PP["share"].sum()
    has_first = np.isfinite(first)
    in_history = signup >= h0
    since = np.maximum(t0 - signup, 0.0)
    p_pend = np.exp(-since / P.FIRST_ORDER_DELAY_DAYS)
    parts = []
    for p in range(_N_PERSONAS):
        if buyer[p]:
            # normal branch: first order seen, cancelled, or before the history
            with np.errstate(divide="ignore"):
                f_log = np.where(
                    has_first,
                    0.0,
                    np.where(
                        in_history,
                        np.log(
                            P.P_CANCELLED * -np.expm1(-since / P.FIRST_ORDER_DELAY_DAYS)
                        ),
                        0.0,
                    ),
                )
            s0 = np.where(has_first, first, signup)
            parts.append((p, s0, f_log, np.zeros(k, bool)))
            # pending branch: the first order is still to come (left out
            # when that is negligible, i.e. the signup is days before t0)
            possible = ~has_first & in_history & (n == 0) & (p_pend > 1e-12)
            with np.errstate(divide="ignore"):
                pend_log = np.where(possible, np.log(p_pend), -np.inf)
            parts.append((p, np.full(k, t0), pend_log, np.ones(k, bool)))
        else:
            f_log = np.where(has_first, -np.inf, 0.0)
            parts.append((p, signup, f_log, np.zeros(k, bool)))
    cust, persona, s0, log_prior, pending, c, ci = [], [], [], [], [], [], []
    local = np.arange(k)
    for p, s, f_log, pend in parts:
        ok = np.isfinite(f_log)
        if _PP["declines"][p]:
            starts = P.DECLINE_STARTS
            w = np.log(share[p] / starts.shape[0])
        else:
            starts = np.array([np.inf])
            w = np.log(share[p])
        for j, cv in enumerate(starts):
            cust.append(local[ok])
            persona.append(np.full(int(ok.sum()), p))
            s0.append(s[ok])
            log_prior.append(w + f_log[ok])
            pending.append(pend[ok])
            c.append(np.full(int(ok.sum()), cv))
            ci.append(np.full(int(ok.sum()), j if np.isfinite(cv) else -1))
    out = [np.concatenate(v) for v in (cust, persona, s0, log_prior, pending, c, ci)]
    order = np.argsort(out[0], kind="stable")
    return [v[order] for v in out]


class _Phi:
    """Integrated relative rate phi (rate / rate level) of hypothesis rows.

    ``phi(t) = exp(g (t - T_REF) - k max(0, t - c))``, times the campaign
    multiplier inside the window of a campaign the customer was treated in.
    ``integral(t)`` is its integral from T_REF. Methods take ``t`` with one
    row (1-d) or one row of nodes (2-d) per hypothesis row; rows with a flat
    shape (no growth, no decline) and untreated rows skip the work.
    """

    def __init__(self, g, k, c, windows, treated, persona):
        self.args = (g, k, c, windows, treated, persona)
        self.g, self.k, self.c = g, k, c
        self.bent = np.flatnonzero((g != 0) | np.isfinite(c))
        self.grows = np.flatnonzero(g != 0)
        self.declines = np.flatnonzero(np.isfinite(c))
        gd, cd = g[self.declines], c[self.declines]
        self.ec = np.exp(gd * (cd - P.T_REF))
        self.win = []
        n = g.shape[0]
        for w, (lo, hi, eff) in enumerate(windows):
            rows = np.flatnonzero(treated[:, w])
            if rows.size:
                b_lo = self.base(np.full(n, lo))[rows]
                b_hi = self.base(np.full(n, hi))[rows]
                mult = np.exp(eff[persona[rows]])
                self.win.append((rows, lo, hi, mult, b_lo, b_hi))

    def take(self, rows: np.ndarray) -> _Phi:
        """The same for the hypothesis rows ``rows``."""
        g, k, c, windows, treated, persona = self.args
        return _Phi(g[rows], k[rows], c[rows], windows, treated[rows], persona[rows])

    @staticmethod
    def _col(x, like):
        return x if like.ndim == 1 else x[:, None]

    def base(self, t):
        """Integral of the rate shape without campaigns from T_REF to t."""
        out = t - P.T_REF
        col = self._col
        d = self.declines
        if d.size:
            td = t[d]
            c = col(self.c[d], td)
            over = np.maximum(td - c, 0.0)
            slope = col(self.g[d] - self.k[d], td)
            out[d] = np.minimum(td, c) - P.T_REF
            out[d] += col(self.ec, td) * over * _exprel(slope * over)
        g = self.grows
        if g.size:
            x = np.minimum(t[g], col(self.c[g], t[g])) - P.T_REF
            out[g] += x * (_exprel(col(self.g[g], x) * x) - 1.0)
        return out

    def integral(self, t):
        """Integral of phi from T_REF to t (with the campaign windows)."""
        b = self.base(t)
        out = b.copy() if self.win else b
        for rows, lo, hi, mult, b_lo, b_hi in self.win:
            tr = t[rows]
            bl, bh, m = (self._col(v, tr) for v in (b_lo, b_hi, mult))
            inner = np.where(tr <= lo, bl, np.where(tr >= hi, bh, b[rows]))
            out[rows] += (m - 1.0) * (inner - bl)
        return out

    def at(self, t):
        """phi(t), right-continuous."""
        out = np.ones_like(t)
        b = self.bent
        if b.size:
            tb = t[b]
            g, k, c = (self._col(v, tb) for v in (self.g[b], self.k[b], self.c[b]))
            out[b] = np.exp(g * (tb - P.T_REF) - k * np.maximum(tb - c, 0.0))
        for rows, lo, hi, mult, _, _ in self.win:
            tr = t[rows]
            out[rows] *= np.where((tr >= lo) & (tr < hi), self._col(mult, tr), 1.0)
        return out


def _hazard_cum(mu0, mu1, c, s, t):
    """Integrated dropout hazard over [s, t] (broadcast)."""
    return mu0 * (t - s) + mu1 * np.maximum(t - np.maximum(c, s), 0.0)


def _lse_rows(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """log(sum(exp(values))) per group (rows grouped contiguously)."""
    peak = np.full(n_groups, -np.inf)
    np.maximum.at(peak, group, values)
    safe = np.where(np.isfinite(peak), peak, 0.0)
    total = np.bincount(group, np.exp(values - safe[group]), minlength=n_groups)
    with np.errstate(divide="ignore"):
        return safe + np.log(total)


def _amount_loglik(h: History, idx, cust, persona):
    """Log marginal likelihood of the order amounts and the posterior of the
    log order value level per row (normal-normal conjugacy)."""
    a = h.amount[idx][cust]
    n, sy, syy, sd, sdd, syd = (a[:, j] for j in range(6))
    v = _PP["aov_g"][persona] / 365.0
    sig2 = _PP["order_sd"][persona] ** 2
    tau2 = _PP["aov_sd"][persona] ** 2
    m = np.log(_PP["aov"][persona])
    c0 = sig2 / 2 - m  # z - m = y - v d + sig2 / 2 - m
    s1 = sy - v * sd + n * c0
    s2 = syy + v * v * sdd + n * c0 * c0 - 2 * v * syd + 2 * c0 * sy - 2 * v * c0 * sd
    ll = (
        -0.5 * n * np.log(2 * np.pi * sig2)
        - 0.5 * np.log1p(n * tau2 / sig2)
        - (s2 - tau2 * s1 * s1 / (sig2 + n * tau2)) / (2 * sig2)
    )
    prec = 1 / tau2 + n / sig2
    post_mean = m + (s1 / sig2) / prec
    return ll, post_mean + 0.5 / prec


def _tau_integral(phi, mu0, mu1, c, s0, m, beta, f_a, x0, x1):
    """log of the integral over tau in [x0, x1] (no change point inside) of
    hazard(tau) * S(tau) * (beta + q Phi(a, tau)) ** -m: the likelihood of a
    dropout at tau, up to the factor common to all tau.

    The integrand falls off like an exponential (the survival) times a power
    law (the orders that did not come). Its log-derivative is matched at both
    ends by a generalized Pareto shape ``(1 + b (tau - x0)) ** -p``, and the
    Gauss-Legendre nodes are placed in the variable whose derivative is that
    shape, where the integrand is nearly flat: a few nodes are enough.
    """
    q = P.Q_OBSERVED
    length = x1 - x0
    hz = mu0 + np.where(x0 >= c, mu1, 0.0)
    k0 = hz + m * q * phi.at(x0) / (beta + q * (phi.integral(x0) - f_a))
    k1 = hz + m * q * phi.at(x1) / (beta + q * (phi.integral(x1) - f_a))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        b = (k0 / k1 - 1) / length
        pareto = np.abs(b * length) > 1e-6
        par, exp = np.flatnonzero(pareto), np.flatnonzero(~pareto)
        bp, kp, lp = b[par], k0[par], length[par]
        rho = 1 - kp / bp  # 1 - p
        rho = np.where(np.abs(rho) < 1e-9, 1e-9, rho)
        ke, le = k0[exp], length[exp]
        big = np.empty_like(length)
        big[par] = np.expm1(rho * np.log1p(bp * lp)) / (bp * rho)
        big[exp] = -np.expm1(-ke * le) / ke
        v = big[:, None] * (_TAU_X[None, :] + 1) / 2
        d = np.empty_like(v)
        jac = np.empty_like(v)
        bp, rho, ke = bp[:, None], rho[:, None], ke[:, None]
        d[par] = np.expm1(np.log1p(bp * rho * v[par]) / rho) / bp
        jac[par] = (1 - rho) * np.log1p(bp * d[par])
        d[exp] = -np.log1p(-ke * v[exp]) / ke
        jac[exp] = ke * d[exp]
        d = np.minimum(d, length[:, None])
        tau = x0[:, None] + d
        col = _Phi._col
        val = (
            np.log(hz)[:, None]
            - _hazard_cum(col(mu0, tau), col(mu1, tau), col(c, tau), col(s0, tau), tau)
            - col(m, tau)
            * np.log(col(beta, tau) + q * (phi.integral(tau) - col(f_a, tau)))
            + jac
            + np.log(big[:, None] * _TAU_W[None, :] / 2)
        )
        peak = val.max(axis=1)
        out = peak + np.log(np.exp(val - peak[:, None]).sum(axis=1))
    return np.where(length > 0, out, -np.inf)


def _rows(h: History, idx: np.ndarray) -> _Rows:
    """Hypothesis rows of customers ``idx`` with posterior weights."""
    t0, h0, q = h.t0, h.h0, P.Q_OBSERVED
    cust, persona, s0, log_prior, pending, c, ci = _hypotheses(h, idx)
    k_rows = cust.shape[0]
    n = h.n[idx][cust]
    last = h.last[idx][cust]
    lam = _PP["lam"][persona]
    zero_rate = lam == 0
    r = _PP["lam_shape"][persona]
    beta = r / np.where(zero_rate, 1.0, lam)
    g = _PP["g"][persona] / 365.0
    kk = _PP["decline_k"][persona] * np.isfinite(c)
    mu0 = 1.0 / _PP["life"][persona]
    mu1 = np.where(np.isfinite(c), 1.0 / _PP["decline_life"][persona], 0.0)
    windows = campaign_windows(t0)
    treated = h.treated[idx][cust]
    phi = _Phi(g, kk, c, windows, treated, persona)
    started = s0 < t0
    a = np.minimum(np.maximum(s0, h0), t0)

    # log C: everything of the likelihood but the integrated rate
    excess = np.where(ci >= 0, h.excess[idx][cust, np.maximum(ci, 0)], 0.0)
    log_phi_orders = g * h.sum_d[idx][cust] - kk * excess
    for w, (_, _, eff) in enumerate(windows):
        log_phi_orders += treated[:, w] * h.n_win[idx][cust, w] * eff[persona]
    log_c = (
        n * np.log(q) + log_phi_orders + gammaln(r + n) - gammaln(r) + r * np.log(beta)
    )
    f_a = phi.integral(a)
    phi_tot = phi.integral(np.full(k_rows, t0)) - f_a
    m = r + n
    h_tot = _hazard_cum(mu0, mu1, c, s0, t0)
    log_alive = log_c - m * np.log(beta + q * phi_tot) - h_tot

    # dropout between the last order (or the history start) and t0, in
    # pieces on both sides of the change point
    lo = np.where(n > 0, np.maximum(last, a), a)
    split = np.flatnonzero((c > lo) & (c < t0))
    main_lo = lo.copy()
    main_lo[split] = c[split]
    log_j = _tau_integral(
        phi, mu0, mu1, c, s0, m, beta, f_a, main_lo, np.full(k_rows, t0)
    )
    if split.size:
        sub = (mu0, mu1, c, s0, m, beta, f_a, lo)
        extra = _tau_integral(phi.take(split), *(v[split] for v in sub), c[split])
        log_j[split] = np.logaddexp(log_j[split], extra)
    log_dead = log_c + log_j
    # dropout before the history (then there can be no rate orders in it)
    with np.errstate(divide="ignore"):
        h_pre = np.maximum(_hazard_cum(mu0, mu1, c, s0, a), 0.0)
        log_pre = np.where(n == 0, np.log(-np.expm1(-h_pre)), -np.inf)
    log_lik = np.logaddexp(np.logaddexp(log_alive, log_dead), log_pre)
    with np.errstate(invalid="ignore"):
        p_alive = np.exp(log_alive - log_lik)

    # special cases: no purchase process, or not started yet
    p_alive = np.where(zero_rate, np.exp(-h_tot), p_alive)
    log_lik = np.where(zero_rate | ~started, np.where(n == 0, 0.0, -np.inf), log_lik)
    p_alive = np.where(started, p_alive, 1.0)
    p_alive = np.nan_to_num(p_alive, nan=0.0)
    shape = m
    rate = np.where(started, beta + q * phi_tot, beta)

    amount_ll, log_value = _amount_loglik(h, idx, cust, persona)
    log_w = log_prior + log_lik + amount_ll
    log_w = np.where(np.isfinite(log_w), log_w, -np.inf)
    norm = _lse_rows(log_w, cust, idx.shape[0])
    weight = np.nan_to_num(np.exp(log_w - norm[cust]))
    return _Rows(cust, persona, c, s0, pending, weight, p_alive, shape, rate, log_value)


def _p_none_alive(rows: _Rows, t0: float, window: float, log_mults=(None,)):
    """P(no counted order in [t0, t0 + window) | alive at t0, row), with the
    rate level from the row's posterior, for each log multiplier of the rate
    in ``log_mults`` (None: no treatment). Returns one array per multiplier."""
    q = P.Q_COMPLETED_POSITIVE
    persona, c = rows.persona, rows.c
    k = c.shape[0]
    g = _PP["g"][persona] / 365.0
    kk = _PP["decline_k"][persona] * np.isfinite(c)
    mu0 = 1.0 / _PP["life"][persona]
    mu1 = np.where(np.isfinite(c), 1.0 / _PP["decline_life"][persona], 0.0)
    mults = [np.ones(k) if lm is None else np.exp(lm) for lm in log_mults]
    phi = _Phi(g, kk, c, [], np.zeros((k, 0), bool), persona)
    f0 = phi.base(np.full(k, t0))
    start = np.full(k, t0)
    end = start + window

    def poisson(sel, ph, t):
        x = ph.base(t) - _Phi._col(f0[sel], t)
        shape, rate = (_Phi._col(v[sel], t) for v in (rows.shape, rows.rate))
        return [
            np.exp(-shape * np.log1p(q * _Phi._col(mu[sel], t) * x / rate))
            for mu in mults
        ]

    def piece(sel, ph, x0, x1):
        half = (x1 - x0) / 2
        tt = x0[:, None] + half[:, None] * (_WIN_X[None, :] + 1)
        hz = mu0[sel] + np.where(x0 >= c[sel], mu1[sel], 0.0)
        cols = (v[sel][:, None] for v in (mu0, mu1, c))
        surv = _WIN_W[None, :] * np.exp(-_hazard_cum(*cols, t0, tt))
        return [hz * half * (surv * p).sum(axis=1) for p in poisson(sel, ph, tt)]

    every = slice(None)
    survive = np.exp(-_hazard_cum(mu0, mu1, c, t0, end))
    totals = [survive * p for p in poisson(every, phi, end)]
    split = np.flatnonzero((c > t0) & (c < end))
    main_lo = start.copy()
    main_lo[split] = c[split]
    for total, add in zip(totals, piece(every, phi, main_lo, end), strict=True):
        total += add
    if split.size:
        extra = piece(split, phi.take(split), start[split], c[split])
        for total, add in zip(totals, extra, strict=True):
            total[split] += add
    zero_rate = _PP["lam"][persona] == 0
    return [np.where(zero_rate, 1.0, np.clip(t, 0.0, 1.0)) for t in totals]


@dataclass
class Prediction:
    """Posterior predictive per customer at t0 (see ``predict``)."""

    p_alive: np.ndarray
    p_no_order: dict[int, np.ndarray]
    expected_revenue_eur: np.ndarray


def predict(h: History, windows: tuple[int, ...], horizon: float) -> Prediction:
    """Posterior predictive of every customer of ``h`` at ``h.t0``.

    Returns P(alive at t0), P(no counted order in [t0, t0 + w)) for each
    window w (days) and the expected net revenue (EUR, refunds deducted,
    split-basket siblings included) in [t0, t0 + horizon).
    """
    n_c = h.signup.shape[0]
    out_alive = np.empty(n_c)
    out_none = {w: np.empty(n_c) for w in windows}
    out_rev = np.empty(n_c)
    q = P.Q_COMPLETED_POSITIVE
    factor = (1 + P.P_SIBLING_ORDER) * q * (1 - P.EXPECTED_REFUND_SHARE)
    for lo in range(0, n_c, _CHUNK):
        idx = np.arange(lo, min(n_c, lo + _CHUNK))
        rows = _rows(h, idx)
        k = idx.shape[0]

        def agg(x, rows=rows, k=k):
            return np.bincount(rows.cust, rows.weight * x, minlength=k)

        pend = rows.pending
        out_alive[idx] = agg(rows.p_alive)
        for w in windows:
            (alive,) = _p_none_alive(rows, h.t0, w)
            p = rows.p_alive * alive + (1 - rows.p_alive)
            out_none[w][idx] = agg(np.where(pend, (1 - q) * alive, p))
        persona, c = rows.persona, rows.c
        zero_rate = _PP["lam"][persona] == 0
        with np.errstate(divide="ignore"):
            log_level = np.log(np.where(zero_rate, 0.0, rows.shape / rows.rate))
        rates = Rates(
            log_level,
            _PP["g"][persona] / 365.0,
            c,
            _PP["decline_k"][persona] * np.isfinite(c),
        )
        hazard = Hazard(
            1.0 / _PP["life"][persona],
            np.where(np.isfinite(c), 1.0 / _PP["decline_life"][persona], 0.0),
            c,
        )
        value_g = _PP["aov_g"][persona] / 365.0
        ev = factor * expected_value_integral(
            rates, hazard, rows.log_value, value_g, h.t0, horizon
        )
        first = (
            q
            * (1 - P.EXPECTED_REFUND_SHARE)
            * np.exp(rows.log_value + value_g * (h.t0 - P.T_REF))
        )
        out_rev[idx] = agg(rows.p_alive * np.nan_to_num(ev) + np.where(pend, first, 0))
    return Prediction(out_alive, out_none, out_rev)


def uplift(h: History, campaign: int) -> np.ndarray:
    """True uplift of campaign ``campaign`` (index into P.CAMPAIGNS) started
    at ``h.t0``: P(>= 1 counted order in its window | treated) - same |
    control, per customer of ``h``, given what is observable at the start.
    """
    cid, _, _ = P.CAMPAIGNS[campaign]
    eff = P.CAMPAIGN_EFFECTS[cid]
    n_c = h.signup.shape[0]
    out = np.empty(n_c)
    for lo in range(0, n_c, _CHUNK):
        idx = np.arange(lo, min(n_c, lo + _CHUNK))
        rows = _rows(h, idx)
        w = P.UPLIFT_WINDOW_DAYS
        control, treated = _p_none_alive(rows, h.t0, w, (None, eff[rows.persona]))
        out[idx] = np.bincount(
            rows.cust,
            rows.weight * rows.p_alive * (control - treated),
            minlength=idx.shape[0],
        )
    return out
