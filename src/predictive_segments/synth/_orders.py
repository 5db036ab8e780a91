"""Simulate orders (including the future up to the CLV horizon) and campaigns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _params as P
from ._customers import Customers
from ._oracle import observe, uplift
from ._process import p_no_order, sample_nhpp
from ._util import SECONDS_PER_DAY, stream, time_of_day, to_seconds, with_time_of_day

STATUS_COMPLETED, STATUS_CANCELLED, STATUS_REFUNDED = 0, 1, 2
STATUSES = np.array(["completed", "cancelled", "refunded"])
#: Where an order comes from: a buyer's first order (certain, at the start of
#: the process), the purchase process (with campaign effects), a split-basket
#: sibling of another order, or a refund of an earlier order.
SOURCE_FIRST, SOURCE_RATE, SOURCE_SIBLING, SOURCE_REFUND = 0, 1, 2, 3


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
    source: np.ndarray  # SOURCE_* code

    @property
    def counted(self) -> np.ndarray:
        """Completed orders with a positive amount (the purchase outcome)."""
        return (self.status == STATUS_COMPLETED) & (self.cents > 0)

    @property
    def evidence(self) -> np.ndarray:
        """Orders that carry information about the purchase process: drawn
        from it and visible in every extract (not cancelled). First orders are
        certain and siblings and refunds follow other orders, so they tell
        nothing about it."""
        return (self.source == SOURCE_RATE) & (self.status == STATUS_COMPLETED)

    @property
    def first_seen(self) -> np.ndarray:
        """Buyers' first orders that are visible in every extract."""
        return (self.source == SOURCE_FIRST) & (self.status == STATUS_COMPLETED)

    @property
    def log_eur(self) -> np.ndarray:
        """log of the EUR amount of completed positive orders, else nan."""
        ok = (self.status == STATUS_COMPLETED) & (self.eur_cents > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(ok, np.log(np.maximum(self.eur_cents, 1) / 100.0), np.nan)


@dataclass
class Campaign:
    """One randomized campaign: assigned customers and the true uplift (filled
    in once all orders are known, see ``_uplift_truth``)."""

    campaign_id: str
    day: int
    cust: np.ndarray
    treated: np.ndarray
    true_uplift: np.ndarray | None = None
    latent_uplift: np.ndarray | None = None


CURRENCY_CODES = np.array(list(P.CURRENCY_RATES))
_RATE = np.array([P.CURRENCY_RATES[c] for c in CURRENCY_CODES])
_COUNTRY_CCY = np.array(
    [int(np.flatnonzero(CURRENCY_CODES == c)[0]) for c in P.COUNTRY_CURRENCY]
)


def _apply_campaign(
    cu: Customers,
    orders: tuple[np.ndarray, np.ndarray, np.ndarray],
    campaign_id: str,
    day: int,
    share: float,
    rng: np.random.Generator,
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], Campaign]:
    """Assign a campaign at random and realize its effect on the orders.

    ``orders`` is (customer, time, source). A treated customer alive at the
    assignment orders at its rate times the campaign multiplier during the
    window: its rate orders there are replaced by a draw at the new rate.
    """
    cust, t, source = orders
    a = float(day)
    end = a + P.UPLIFT_WINDOW_DAYS
    eligible = np.zeros(cu.n, dtype=bool)
    eligible[cust[t < a]] = True
    eligible &= ~cu.is_test
    assigned = eligible & (rng.random(cu.n) < share)
    treated_all = assigned & (rng.random(cu.n) < 0.5)
    members = np.flatnonzero(assigned)

    replaced = treated_all[cust] & (t >= a) & (t < end) & (source == SOURCE_RATE)
    cust, t, source = cust[~replaced], t[~replaced], source[~replaced]
    idx = np.flatnonzero(treated_all & (cu.dropout > a))
    r = cu.rates.take(idx)
    r.log0 = r.log0 + cu.effect_log[campaign_id][idx]
    row, t_new = sample_nhpp(
        r, np.full(idx.shape[0], a), np.minimum(end, cu.dropout[idx]), rng
    )
    c_new = idx[row]
    t_new = with_time_of_day(t_new, time_of_day(rng, cu.utc_offset[c_new]))
    campaign = Campaign(campaign_id, day, members, treated_all[members])
    out = (
        np.concatenate([cust, c_new]),
        np.concatenate([t, t_new]),
        np.concatenate([source, np.full(c_new.shape[0], SOURCE_RATE, np.int8)]),
    )
    return out, campaign


def _uplift_truth(cu: Customers, orders: Orders, campaigns: list[Campaign], h0: float):
    """Set ``true_uplift`` of each campaign: P(>= 1 counted order in the window
    | treated) - same | control, given what is observable when it starts (the
    orders before it and earlier assignments; see ``_oracle``), and
    ``latent_uplift``, the same given the hidden state (alive or not, the
    customer's own rate and campaign response)."""
    t = orders.sec / SECONDS_PER_DAY
    q, w = P.Q_COMPLETED_POSITIVE, P.UPLIFT_WINDOW_DAYS
    for j, c in enumerate(campaigns):
        m = c.cust
        rates, hazard = cu.rates.take(m), cu.hazard.take(m)
        start = np.full(m.shape[0], float(c.day))
        control = p_no_order(rates, hazard, start, w, q)
        rates.log0 = rates.log0 + cu.effect_log[c.campaign_id][m]
        treated_p = p_no_order(rates, hazard, start, w, q)
        c.latent_uplift = np.where(cu.dropout[m] > c.day, control - treated_p, 0.0)
        pos = np.full(cu.n, -1)
        pos[m] = np.arange(m.shape[0])
        mine = (pos[orders.cust] >= 0) & (t < c.day)
        treated = np.zeros((m.shape[0], j), bool)
        for i, earlier in enumerate(campaigns[:j]):
            treated[:, i] = np.isin(m, earlier.cust[earlier.treated])
        hist = observe(
            pos[orders.cust[mine]],
            t[mine],
            orders.evidence[mine],
            orders.first_seen[mine],
            orders.log_eur[mine],
            cu.signup[m],
            treated,
            float(c.day),
            h0,
        )
        c.true_uplift = uplift(hist, j)


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
    c_rep, t_rep = sample_nhpp(cu.rates, lo, hi, rng)
    t_rep = with_time_of_day(
        t_rep, time_of_day(rng, cu.utc_offset[c_rep]), lower=cu.start[c_rep]
    )
    cust = np.concatenate([c_first, c_rep])
    t = np.concatenate([t_first, t_rep])
    source = np.concatenate(
        [np.full(c_first.shape[0], SOURCE_FIRST), np.full(c_rep.shape[0], SOURCE_RATE)]
    ).astype(np.int8)

    campaigns = []
    for campaign_id, day, share in P.CAMPAIGNS:
        (cust, t, source), campaign = _apply_campaign(
            cu, (cust, t, source), campaign_id, day, share, rng
        )
        campaigns.append(campaign)

    # A few orders come with a second one shortly after (split baskets).
    sib = rng.random(cust.shape[0]) < P.P_SIBLING_ORDER
    source = np.concatenate([source, np.full(int(sib.sum()), SOURCE_SIBLING)])
    cust = np.concatenate([cust, cust[sib]])
    t = np.concatenate([t, t[sib] + rng.uniform(2 / 1440, 3 / 24, int(sib.sum()))])

    # At least one order falls on day T - 1, the last day of the raw data, for
    # any realistic size: T is then the default as_of_date (the day after the
    # last order day).
    on_last_day = (t >= -1) & (t < 0) & ~cu.is_test[cust]
    if not on_last_day.any() and cu.n >= 1:
        alive = np.flatnonzero(
            (cu.start < -0.5) & (cu.dropout > -0.5) & np.isfinite(cu.first_order)
        )
        alive = alive[~cu.is_test[alive]]
        if alive.size:
            cust = np.append(cust, alive[0])
            t = np.append(t, -0.5)
            source = np.append(source, SOURCE_RATE).astype(np.int8)

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
    all_source = np.concatenate([source, np.full(parent.shape[0], SOURCE_REFUND)])

    sec = to_seconds(all_t)
    order = np.argsort(sec, kind="stable")
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.shape[0])
    parent_sorted = all_parent[order]
    parent_sorted = np.where(parent_sorted >= 0, inverse[parent_sorted], -1)
    cents_sorted = all_cents[order]
    ccy_sorted = all_ccy[order]
    eur_cents = np.round(cents_sorted * _RATE[ccy_sorted]).astype(np.int64)
    orders = Orders(
        cust=all_cust[order],
        sec=sec[order],
        status=all_status[order],
        eur_cents=eur_cents,
        cents=cents_sorted,
        currency=ccy_sorted,
        channel=all_channel[order],
        parent=parent_sorted,
        source=all_source[order].astype(np.int8),
    )
    _uplift_truth(cu, orders, campaigns, h0)
    return orders, campaigns
