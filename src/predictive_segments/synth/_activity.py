"""Simulate web/app events, e-mail events and support tickets before day T."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _params as P
from ._customers import Customers
from ._orders import STATUS_REFUNDED, Orders
from ._process import Rates, sample_nhpp
from ._util import (
    SECONDS_PER_DAY,
    group_starts,
    sample_rows,
    stream,
    time_of_day,
    with_time_of_day,
)

KIND_BROWSE, KIND_ORDER, KIND_RESEARCH, KIND_ANON = 0, 1, 2, 3
_ET = {name: i for i, name in enumerate(P.EVENT_TYPES)}

UA_VALUES = np.array(
    [ua for dev in P.DEVICES for ua in P.USER_AGENTS_BY_DEVICE[dev]]
    + list(P.BOT_USER_AGENTS)
)
_UA_SIZE = np.array([len(P.USER_AGENTS_BY_DEVICE[d]) for d in P.DEVICES])
_UA_OFFSET = np.concatenate([[0], np.cumsum(_UA_SIZE)[:-1]])
BOT_UA_CODES = np.arange(_UA_SIZE.sum(), UA_VALUES.shape[0])
EVENT_TYPE_VALUES = np.concatenate([P.EVENT_TYPES, P.BAD_EVENT_TYPES])


@dataclass
class Events:
    """Event rows (numpy, sorted by session start); seconds relative to T."""

    session: np.ndarray
    cust: np.ndarray  # -1 = anonymous
    etype: np.ndarray
    category: np.ndarray  # -1 = null
    device: np.ndarray
    ua: np.ndarray
    occurred: np.ndarray
    received: np.ndarray
    late: np.ndarray


def _choice(rng: np.random.Generator, p: dict[str, float], n: int) -> np.ndarray:
    codes = np.array([_ET[k] for k in p])
    w = np.array(list(p.values()))
    return codes[rng.choice(codes.shape[0], size=n, p=w / w.sum())]


def simulate_events(
    cu: Customers, orders: Orders, written: np.ndarray, seed: int, history_days: int
) -> Events:
    """Simulate sessions and their events with ``occurred`` in [T - history, T).

    Sessions come from a browsing process that follows the customer's
    engagement (declining for decliners, low after dropout), from checkouts of
    web/app orders, from research visits (pricing/docs) days before orders and
    from anonymous visitors. Only rows received before T (the raw data ends
    with day T - 1) are returned.
    """
    rng = stream(seed, "events")
    h0 = -float(history_days)
    n = cu.n

    # Browsing while alive follows engagement; after dropout a trickle.
    r = cu.rates
    alive_rates = Rates(np.log(0.5 * cu.sess_rate), 0.5 * r.g, r.c, r.k)
    lo = np.maximum(cu.signup, h0)
    c_a, t_a = sample_nhpp(alive_rates, lo, np.minimum(cu.dropout, 0.0), rng)
    dead_rates = Rates(
        np.log(cu.sess_rate * 0.03), np.zeros(n), np.full(n, np.inf), np.zeros(n)
    )
    c_d, t_d = sample_nhpp(dead_rates, np.maximum(cu.dropout, lo), np.zeros(n), rng)
    c_b = np.concatenate([c_a, c_d])
    t_b = with_time_of_day(
        np.concatenate([t_a, t_d]),
        time_of_day(rng, cu.utc_offset[c_b]),
        lower=cu.signup[c_b],
    )

    # Checkout sessions of web/app orders and research visits before orders.
    w = np.flatnonzero(written & (orders.status != STATUS_REFUNDED))
    web = w[orders.channel[w] <= 1]
    c_o, t_o = orders.cust[web], orders.sec[web] / SECONDS_PER_DAY
    app = orders.channel[web] == 1
    res = w[rng.random(w.shape[0]) < 0.25]
    c_r = orders.cust[res]
    t_r = orders.sec[res] / SECONDS_PER_DAY - rng.uniform(0.3, 6.0, res.shape[0])
    ok = t_r >= np.maximum(cu.signup[c_r], h0)
    c_r, t_r = c_r[ok], t_r[ok]

    n_anon = round(0.3 * n)
    t_n = rng.uniform(h0, 0.0, n_anon)
    t_n = with_time_of_day(t_n, time_of_day(rng, np.ones(n_anon)))

    s_cust = np.concatenate([c_b, c_o, c_r, np.full(n_anon, -1)])
    s_kind = np.concatenate(
        [
            np.full(c_b.shape[0], KIND_BROWSE),
            np.full(c_o.shape[0], KIND_ORDER),
            np.full(c_r.shape[0], KIND_RESEARCH),
            np.full(n_anon, KIND_ANON),
        ]
    ).astype(np.int8)
    s_t = np.concatenate([t_b, t_o, t_r, t_n])
    order = np.argsort(s_t, kind="stable")
    s_cust, s_kind, s_t = s_cust[order], s_kind[order], s_t[order]
    s_app = np.concatenate(
        [np.zeros(c_b.shape[0], bool), app, np.zeros(c_r.shape[0] + n_anon, bool)]
    )[order]
    n_s = s_cust.shape[0]
    known = s_cust >= 0
    cs = np.where(known, s_cust, 0)

    device = np.where(
        known & (rng.random(n_s) < 0.75),
        cu.device[cs],
        rng.choice(len(P.DEVICES), size=n_s, p=P.DEVICE_P),
    )
    device = np.where(s_app, 1, device)
    ua = _UA_OFFSET[device] + (rng.random(n_s) * _UA_SIZE[device]).astype(np.int64)

    depth = np.where(known, cu.depth[cs], 2.0)
    n_ev = np.select(
        [s_kind == KIND_BROWSE, s_kind == KIND_ORDER, s_kind == KIND_RESEARCH],
        [
            1 + rng.poisson(np.maximum(depth - 1, 0.0)),
            3 + rng.poisson(0.6, n_s),
            2 + rng.poisson(1.0, n_s),
        ],
        1 + rng.poisson(1.0, n_s),
    )

    # Events.
    e_s = np.repeat(np.arange(n_s), n_ev)
    n_e = e_s.shape[0]
    start_idx = group_starts(e_s)
    pos = np.arange(n_e) - start_idx
    last = pos == n_ev[e_s] - 1
    kind = s_kind[e_s]
    e_cust = s_cust[e_s]
    etype = np.empty(n_e, dtype=np.int8)

    m = kind == KIND_BROWSE
    k_b = np.flatnonzero(m)
    etype[k_b] = _choice(
        rng,
        {
            "page_view": 0.24,
            "product_view": 0.48,
            "pricing_view": 0.04,
            "search": 0.20,
            "docs_view": 0.04,
        },
        k_b.shape[0],
    )
    cart = rng.random(k_b.shape[0]) < cu.cart[np.maximum(e_cust[k_b], 0)]
    etype[k_b[cart]] = _ET["add_to_cart"]
    k_o = np.flatnonzero(kind == KIND_ORDER)
    etype[k_o] = _choice(
        rng, {"product_view": 0.7, "search": 0.2, "page_view": 0.1}, k_o.shape[0]
    )
    etype[k_o[last[k_o]]] = _ET["checkout"]
    before_last = np.zeros(n_e, bool)
    before_last[:-1] = last[1:]
    etype[k_o[before_last[k_o]]] = _ET["add_to_cart"]
    k_r = np.flatnonzero(kind == KIND_RESEARCH)
    etype[k_r] = _choice(
        rng,
        {
            "product_view": 0.3,
            "pricing_view": 0.35,
            "docs_view": 0.2,
            "search": 0.1,
            "page_view": 0.05,
        },
        k_r.shape[0],
    )
    k_n = np.flatnonzero(kind == KIND_ANON)
    etype[k_n] = _choice(
        rng,
        {
            "page_view": 0.44,
            "product_view": 0.35,
            "search": 0.12,
            "pricing_view": 0.04,
            "docs_view": 0.02,
            "add_to_cart": 0.03,
        },
        k_n.shape[0],
    )
    first = pos == 0
    etype[first & ((kind == KIND_BROWSE) | (kind == KIND_ORDER))] = _ET["page_view"]

    has_cat = P.EVENT_HAS_CATEGORY[etype]
    category = np.full(n_e, -1, dtype=np.int8)
    kc = np.flatnonzero(has_cat & (e_cust >= 0))
    category[kc] = sample_rows(rng, cu.affinity_cum, e_cust[kc])
    ka = np.flatnonzero(has_cat & (e_cust < 0))
    category[ka] = rng.integers(0, len(P.CATEGORIES), ka.shape[0])

    gaps = np.round(rng.exponential(50.0, n_e)).astype(np.int64) + 1
    gaps[first] = 0
    off = np.cumsum(gaps)
    off -= off[start_idx]
    duration = off[np.flatnonzero(last)]
    s_sec = np.round(s_t * SECONDS_PER_DAY).astype(np.int64)
    lead = rng.integers(3, 40, n_s)
    s_sec = np.where(s_kind == KIND_ORDER, s_sec - duration - lead, s_sec)
    occurred = s_sec[e_s] + off

    # Only normal customers' sessions arrive late, so that every late row is
    # staged (test accounts' rows are quarantined) and the manifest's count
    # of them is what staging flags.
    late_s = (rng.random(n_s) < P.P_LATE_ARRIVAL_SESSION) & known & ~cu.is_test[cs]
    late_delay = rng.integers(3 * SECONDS_PER_DAY, 20 * SECONDS_PER_DAY, n_s)
    delay = np.round(rng.exponential(20.0, n_e)).astype(np.int64) + 1
    delay = np.where(late_s[e_s], late_delay[e_s] + delay, delay)
    received = occurred + delay

    keep = (occurred >= h0 * SECONDS_PER_DAY) & (received < 0)
    return Events(
        session=e_s[keep],
        cust=e_cust[keep],
        etype=etype[keep],
        category=category[keep],
        device=device[e_s][keep].astype(np.int8),
        ua=ua[e_s][keep].astype(np.int32),
        occurred=occurred[keep],
        received=received[keep],
        late=late_s[e_s][keep],
    )


@dataclass
class EmailEvents:
    """E-mail event rows sorted by time; seconds relative to T."""

    cust: np.ndarray
    send_day: np.ndarray  # day (relative to T) of the send = campaign
    etype: np.ndarray  # index into EMAIL_EVENT_TYPES (+ bad ones)
    occurred: np.ndarray


EMAIL_EVENT_TYPES = np.array(["delivered", "open", "click", "unsubscribe"])
EMAIL_EVENT_TYPE_VALUES = np.array([*EMAIL_EVENT_TYPES, "bounce_soft"])


def simulate_email(cu: Customers, seed: int, history_days: int) -> EmailEvents:
    """Simulate weekly newsletter deliveries, opens, clicks and unsubscribes.

    Open rates follow the customer's engagement (declining after a decline
    start, low after dropout); unsubscribing stops later deliveries.
    """
    rng = stream(seed, "email")
    h0 = -float(history_days)
    lo = np.maximum(cu.signup, h0)
    counts = rng.poisson(cu.email_rate * np.maximum(-lo, 0.0))
    cust = np.repeat(np.arange(cu.n), counts)
    week = np.floor((lo[cust] - rng.random(cust.shape[0]) * lo[cust] - h0) / 7)
    key = np.unique(cust.astype(np.int64) * 100_000 + week.astype(np.int64))
    cust, week = key // 100_000, key % 100_000
    send_day = h0 + 7 * week  # Mondays-ish; send at ~09:00 UTC
    t_del = send_day + 0.375 + rng.uniform(0.0, 0.08, cust.shape[0])
    ok = (t_del >= cu.signup[cust]) & (t_del < 0.0)
    cust, send_day, t_del = cust[ok], send_day[ok], t_del[ok]
    n = cust.shape[0]

    r = cu.rates.take(cust)
    with np.errstate(invalid="ignore"):
        over = np.nan_to_num(np.maximum(0.0, t_del - r.c), posinf=0.0)
    engaged = np.exp(-r.k * over) * np.where(t_del > cu.dropout[cust], 0.25, 1.0)
    opened = rng.random(n) < cu.open_rate[cust] * engaged
    t_open = t_del + rng.exponential(0.3, n)
    clicked = opened & (rng.random(n) < cu.click_rate[cust])
    t_click = t_open + rng.exponential(4 / 1440, n)
    declined = t_del > r.c
    unsub = rng.random(n) < cu.unsub_rate[cust] * np.where(declined, 3.0, 1.0)
    t_unsub = np.where(opened, t_open, t_del) + rng.exponential(0.02, n)

    # Deliveries after the first unsubscribe never happen.
    first_unsub = np.full(cu.n, np.inf)
    np.minimum.at(first_unsub, cust[unsub], t_unsub[unsub])
    sent = t_del < first_unsub[cust]
    unsub &= sent

    parts = [
        (sent, t_del, 0),
        (sent & opened, t_open, 1),
        (sent & clicked, t_click, 2),
        (unsub, t_unsub, 3),
    ]
    e_cust = np.concatenate([cust[m] for m, _, _ in parts])
    e_day = np.concatenate([send_day[m] for m, _, _ in parts])
    e_type = np.concatenate([np.full(int(m.sum()), c, np.int8) for m, _, c in parts])
    e_sec = np.concatenate(
        [np.round(t[m] * SECONDS_PER_DAY).astype(np.int64) for m, t, _ in parts]
    )
    keep = e_sec < 0
    order = np.argsort(e_sec[keep], kind="stable")
    return EmailEvents(
        cust=e_cust[keep][order],
        send_day=e_day[keep][order],
        etype=e_type[keep][order],
        occurred=e_sec[keep][order],
    )


@dataclass
class Tickets:
    """Support tickets sorted by opening time; seconds relative to T."""

    cust: np.ndarray
    topic: np.ndarray
    opened: np.ndarray
    closed: np.ndarray  # 0 when still open
    is_open: np.ndarray  # not closed before T
    csat: np.ndarray  # 0 = not rated


def simulate_tickets(
    cu: Customers, orders: Orders, written: np.ndarray, seed: int, history_days: int
) -> Tickets:
    """Simulate support tickets after orders plus a few account tickets.

    Decliners open more tickets after their decline starts and rate them
    worse, so bad CSAT goes with churn.
    """
    rng = stream(seed, "tickets")
    h0 = -float(history_days)
    w = np.flatnonzero(written & (orders.status != STATUS_REFUNDED))
    o_cust = orders.cust[w]
    o_t = orders.sec[w] / SECONDS_PER_DAY
    declined = o_t >= cu.rates.c[o_cust]
    p = cu.ticket_rate[o_cust] * np.where(declined, 2.5, 1.0)
    hit = rng.random(w.shape[0]) < p
    c1 = o_cust[hit]
    t1 = o_t[hit] + rng.uniform(0.3, 8.0, c1.shape[0])
    topic1 = rng.choice(3, size=c1.shape[0], p=[0.25, 0.42, 0.33])
    topic1 = np.array([0, 1, 2])[topic1]

    lo = np.maximum(cu.signup, h0)
    n_acc = rng.poisson(0.03 * np.maximum(-lo, 0.0) / 365.0)
    c2 = np.repeat(np.arange(cu.n), n_acc)
    t2 = lo[c2] - rng.random(c2.shape[0]) * lo[c2]
    topic2 = np.full(c2.shape[0], 3)

    cust = np.concatenate([c1, c2])
    t = np.concatenate([t1, t2])
    topic = np.concatenate([topic1, topic2]).astype(np.int8)
    opened = np.round(t * SECONDS_PER_DAY).astype(np.int64)
    keep = opened < 0
    cust, t, topic, opened = cust[keep], t[keep], topic[keep], opened[keep]
    n = cust.shape[0]
    dur = np.round(rng.lognormal(np.log(1.0), 0.9, n) * SECONDS_PER_DAY).astype(
        np.int64
    )
    closed = opened + dur + 60
    is_open = closed >= 0
    closed = np.where(is_open, 0, closed)
    rated = ~is_open & (rng.random(n) < 0.55)
    mean = (
        cu.csat[cust]
        - 1.2 * (t >= cu.rates.c[cust])
        - 0.3 * (topic == 1)
        - 0.8 * (t >= cu.dropout[cust])
    )
    score = np.clip(np.round(rng.normal(mean, 0.9)), 1, 5).astype(np.int8)
    csat = np.where(rated, score, 0).astype(np.int8)
    order = np.argsort(opened, kind="stable")
    return Tickets(
        cust=cust[order],
        topic=topic[order],
        opened=opened[order],
        closed=closed[order],
        is_open=is_open[order],
        csat=csat[order],
    )
