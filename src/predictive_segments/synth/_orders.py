"""Simulate orders (including the future up to the CLV horizon) and campaigns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _params as P
from ._customers import Customers
from ._process import Rates, p_no_order, sample_bursty, sample_nhpp
from ._util import stream, time_of_day, to_seconds, with_time_of_day

STATUS_COMPLETED, STATUS_CANCELLED, STATUS_REFUNDED = 0, 1, 2
STATUSES = np.array(["completed", "cancelled", "refunded"])


@dataclass
class Orders:
    """All simulated orders sorted by time; ``sec`` is seconds relative to T."""

    cust: np.ndarray
    sec: np.ndarray
    status: np.ndarray
    eur_cents: np.ndarray  # EUR amount in cents (signed)
    cents: np.ndarray  # amount in the order currency, cents (signed)
    currency: np.ndarray  # index into CURRENCY_CODES
    channel: np.ndarray
    parent: np.ndarray  # refunded order's index (into this array) or -1

    @property
    def counted(self) -> np.ndarray:
        """Completed orders with a positive amount (the purchase outcome)."""
        return (self.status == STATUS_COMPLETED) & (self.cents > 0)


@dataclass
class Campaign:
    """One randomized campaign: assigned customers and their truth."""

    campaign_id: str
    day: int
    cust: np.ndarray
    treated: np.ndarray
    true_uplift: np.ndarray


CURRENCY_CODES = np.array(list(P.CURRENCY_RATES))
_RATE = np.array([P.CURRENCY_RATES[c] for c in CURRENCY_CODES])
_COUNTRY_CCY = np.array(
    [int(np.flatnonzero(CURRENCY_CODES == c)[0]) for c in P.COUNTRY_CURRENCY]
)


def _apply_campaign(
    cu: Customers,
    cust: np.ndarray,
    t: np.ndarray,
    campaign_id: str,
    day: int,
    share: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, Campaign]:
    """Assign a campaign at random and realize its effect on the orders."""
    a = float(day)
    eligible = np.zeros(cu.n, dtype=bool)
    eligible[cust[t < a]] = True
    eligible &= ~cu.is_test
    assigned = eligible & (rng.random(cu.n) < share)
    treated_all = assigned & (rng.random(cu.n) < 0.5)
    members = np.flatnonzero(assigned)
    alive = cu.dropout[members] > a
    mult = np.exp(cu.effect_log[campaign_id][members])
    add = cu.effect_add[members]

    # Truth: P(>= 1 counted order in the window | treated) - same | control.
    rates, hazard = cu.rates.take(members), cu.hazard.take(members)
    t0 = np.full(members.shape[0], a)
    q = P.Q_COMPLETED_POSITIVE
    shape = cu.burst_shape[members]
    lap = cu.lapsed_rate[members]
    w = P.UPLIFT_WINDOW_DAYS
    p0 = p_no_order(rates, hazard, t0, w, q, shape, lapsed=lap)
    p1 = p_no_order(rates, hazard, t0, w, q, shape, mult, add, lapsed=lap)
    uplift = np.where(alive, p0 - p1, 0.0)

    # Realize: thin the orders of treated customers whose rate drops ...
    end = a + P.UPLIFT_WINDOW_DAYS
    m_all = np.ones(cu.n)
    m_all[members] = mult
    in_win = treated_all[cust] & (t >= a) & (t < end)
    drop = in_win & (rng.random(cust.shape[0]) >= np.minimum(m_all[cust], 1.0))
    cust, t = cust[~drop], t[~drop]
    # ... and add orders for those whose rate rises.
    treated_alive = treated_all[members] & alive
    idx = members[treated_alive]
    w_hi = np.minimum(end, cu.dropout[idx])
    row, t_new = sample_bursty(
        cu.rates.take(idx),
        np.full(idx.shape[0], a),
        w_hi,
        rng,
        cu.burst,
        cu.burst_j0,
        cust=idx,
        scale=np.maximum(mult[treated_alive] - 1.0, 0.0),
    )
    # The additive part (interest revived by the campaign) is not bursty.
    n_add = rng.poisson(add[treated_alive] * np.maximum(w_hi - a, 0.0))
    row_add = np.repeat(np.arange(idx.shape[0]), n_add)
    t_add = a + rng.random(row_add.shape[0]) * (w_hi[row_add] - a)
    c_new = idx[np.concatenate([row, row_add])]
    t_new = np.concatenate([t_new, t_add])
    t_new = with_time_of_day(t_new, time_of_day(rng, cu.utc_offset[c_new]))
    campaign = Campaign(campaign_id, day, members, treated_all[members], uplift)
    return np.concatenate([cust, c_new]), np.concatenate([t, t_new]), campaign


def simulate_orders(
    cu: Customers, seed: int, history_days: int
) -> tuple[Orders, list[Campaign]]:
    """Simulate every order in [T - history_days, T + 365 days).

    Returns the orders sorted by time and the campaigns with their truth.
    """
    rng = stream(seed, "orders")
    h0 = -float(history_days)
    horizon = float(P.CLV_HORIZON_DAYS)

    # First orders of buyers follow the signup within hours.
    has_first = np.isfinite(cu.first_order) & (cu.first_order >= h0)
    has_first &= cu.first_order < horizon
    c_first = np.flatnonzero(has_first)
    t_first = cu.first_order[c_first]

    lo = np.maximum(cu.start, h0)
    hi = np.minimum(cu.dropout, horizon)
    c_rep, t_rep = sample_bursty(cu.rates, lo, hi, rng, cu.burst, cu.burst_j0)
    t_rep = with_time_of_day(
        t_rep, time_of_day(rng, cu.utc_offset[c_rep]), lower=cu.start[c_rep]
    )
    # Lapsed customers still order now and then.
    n = cu.n
    lapsed = Rates(
        np.log(np.maximum(cu.lapsed_rate, 1e-300)),
        np.zeros(n),
        np.full(n, np.inf),
        np.zeros(n),
    )
    c_lap, t_lap = sample_nhpp(
        lapsed, np.maximum(cu.dropout, h0), np.full(n, horizon), rng
    )
    t_lap = with_time_of_day(t_lap, time_of_day(rng, cu.utc_offset[c_lap]))
    cust = np.concatenate([c_first, c_rep, c_lap])
    t = np.concatenate([t_first, t_rep, t_lap])

    campaigns = []
    for campaign_id, day, share in P.CAMPAIGNS:
        cust, t, campaign = _apply_campaign(cu, cust, t, campaign_id, day, share, rng)
        campaigns.append(campaign)

    # A few orders come with a second one shortly after (split baskets).
    sib = rng.random(cust.shape[0]) < P.P_SIBLING_ORDER
    cust = np.concatenate([cust, cust[sib]])
    t = np.concatenate([t, t[sib] + rng.uniform(2 / 1440, 3 / 24, int(sib.sum()))])

    # At least one order falls on day T for any realistic size.
    on_t = (t >= 0) & (t < 1) & ~cu.is_test[cust]
    if not on_t.any() and cu.n >= 1:
        alive = np.flatnonzero((cu.dropout > 0.5) & np.isfinite(cu.first_order))
        alive = alive[~cu.is_test[alive]]
        if alive.size:
            cust = np.append(cust, alive[0])
            t = np.append(t, 0.5)

    n = cust.shape[0]
    u = rng.random(n)
    status = np.where(u < P.P_CANCELLED, STATUS_CANCELLED, STATUS_COMPLETED)
    zero = (u >= P.P_CANCELLED) & (u < P.P_CANCELLED + P.P_ZERO_AMOUNT)
    sd = cu.order_sd[cust]
    log_eur = (
        cu.log_aov_ref[cust]
        + cu.aov_g[cust] * (t - P.T_REF)
        - sd**2 / 2
        + sd * rng.standard_normal(n)
    )
    eur = np.exp(log_eur)
    ccy = _COUNTRY_CCY[cu.country[cust]]
    cents = np.maximum(np.round(eur / _RATE[ccy] * 100.0), 1).astype(np.int64)
    cents = np.where(zero, 0, cents)
    channel = (cu.channel_cum[cust] < rng.random(n)[:, None]).sum(axis=1)
    channel = np.minimum(channel, len(P.ORDER_CHANNELS) - 1)

    # Refunds: separate negative orders a few days after a completed order.
    ref = (status == STATUS_COMPLETED) & (cents > 0) & (rng.random(n) < P.P_REFUND)
    parent = np.flatnonzero(ref)
    share = np.where(
        rng.random(parent.shape[0]) < P.P_FULL_REFUND,
        1.0,
        rng.uniform(0.2, 0.8, parent.shape[0]),
    )
    r_cents = -np.maximum(np.round(cents[parent] * share), 1).astype(np.int64)
    r_t = t[parent] + rng.uniform(2.0, 14.0, parent.shape[0])

    all_cust = np.concatenate([cust, cust[parent]])
    all_t = np.concatenate([t, r_t])
    all_status = np.concatenate(
        [status, np.full(parent.shape[0], STATUS_REFUNDED)]
    ).astype(np.int8)
    all_cents = np.concatenate([cents, r_cents])
    all_ccy = np.concatenate([ccy, ccy[parent]])
    all_channel = np.concatenate([channel, channel[parent]])
    all_parent = np.concatenate([np.full(n, -1), parent])

    sec = to_seconds(all_t)
    order = np.argsort(sec, kind="stable")
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.shape[0])
    parent_sorted = all_parent[order]
    parent_sorted = np.where(parent_sorted >= 0, inverse[parent_sorted], -1)
    cents_sorted = all_cents[order]
    ccy_sorted = all_ccy[order]
    eur_cents = np.round(cents_sorted * _RATE[ccy_sorted]).astype(np.int64)
    return (
        Orders(
            cust=all_cust[order],
            sec=sec[order],
            status=all_status[order],
            eur_cents=eur_cents,
            cents=cents_sorted,
            currency=ccy_sorted,
            channel=all_channel[order],
            parent=parent_sorted,
        ),
        campaigns,
    )
