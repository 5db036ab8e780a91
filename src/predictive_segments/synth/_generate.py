"""Orchestrate the simulation: raw tables, injected bad rows, truth, manifest."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import _params as P
from ._activity import (
    BOT_UA_CODES,
    EMAIL_EVENT_TYPE_VALUES,
    EVENT_TYPE_VALUES,
    UA_VALUES,
    simulate_email,
    simulate_events,
    simulate_tickets,
)
from ._customers import Customers, draw_customers
from ._inject import inject, replace, same_dict
from ._oracle import observe, predict
from ._orders import (
    CURRENCY_CODES,
    STATUS_CANCELLED,
    STATUS_COMPLETED,
    STATUS_REFUNDED,
    STATUSES,
    Campaign,
    Orders,
    simulate_orders,
)
from ._process import expected_value_integral, p_no_order
from ._util import (
    SECONDS_PER_DAY,
    dict_array,
    id_array,
    money_text,
    roc_auc,
    sample_rows,
    stream,
    ts_array,
    ts_text,
)

RAW_TABLES = (
    "orders",
    "customers",
    "products",
    "order_items",
    "events",
    "email_events",
    "support_tickets",
    "campaign_assignments",
)

#: Columns of each raw table, exactly as in docs/raw_contract.md.
RAW_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": (
        "order_id",
        "customer_id",
        "ordered_at",
        "amount",
        "currency",
        "status",
        "channel",
    ),
    "customers": (
        "customer_id",
        "signed_up_at",
        "country",
        "acquisition_channel",
        "birth_year",
        "gender",
        "email_domain",
    ),
    "products": ("product_id", "category", "price_tier", "margin_rate"),
    "order_items": (
        "order_item_id",
        "order_id",
        "product_id",
        "quantity",
        "unit_price",
    ),
    "events": (
        "event_id",
        "session_id",
        "customer_id",
        "event_type",
        "category",
        "device",
        "user_agent",
        "occurred_at",
        "received_at",
    ),
    "email_events": (
        "email_event_id",
        "customer_id",
        "email_campaign_id",
        "event_type",
        "occurred_at",
    ),
    "support_tickets": (
        "ticket_id",
        "customer_id",
        "topic",
        "opened_at",
        "closed_at",
        "csat_score",
    ),
    "campaign_assignments": (
        "campaign_id",
        "customer_id",
        "assigned_at",
        "treatment_group",
    ),
}
ORDERS_ONLY_COLUMNS = ("order_id", "customer_id", "ordered_at", "amount")

_CURRENCY_VALUES = np.array([*CURRENCY_CODES, "XXX"])
_CUSTOMER_ID_WIDTH = 8
_ORDER_ID_WIDTH = 9


@dataclass(frozen=True)
class SynthConfig:
    """Settings of one synthetic data set.

    ``as_of`` is the as-of date T; the raw data ends with day T - 1, so T is
    the project's default as_of_date (the day after the last order day),
    and the simulation runs ``history_days`` before T to 365 days after it.
    ``bad_row_rate`` is the share of injected bad rows per table.
    """

    customers: int = 100_000
    seed: int = 42
    as_of: date = date(2026, 9, 30)
    history_days: int = 730
    bad_row_rate: float = 0.01
    orders_only: bool = False

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ValueError(f"customers must be >= 1, got {self.customers}")
        if self.history_days < 60:
            raise ValueError(f"history_days must be >= 60, got {self.history_days}")
        if not 0.0 <= self.bad_row_rate < 0.5:
            raise ValueError(
                f"bad_row_rate must be in [0, 0.5), got {self.bad_row_rate}"
            )


@dataclass
class SynthResult:
    """Raw tables (name -> Arrow table), truth tables and the manifest dict."""

    config: SynthConfig
    tables: dict[str, pa.Table]
    truth: dict[str, pa.Table]
    manifest: dict = field(default_factory=dict)


def _epoch(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


class _Counter:
    """Hands out fresh consecutive integers for new keys."""

    def __init__(self, start: int) -> None:
        self.next = start

    def take(self, k: int) -> np.ndarray:
        out = np.arange(self.next, self.next + k)
        self.next += k
        return out


def _customer_ids(cust: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return id_array("C", cust, _CUSTOMER_ID_WIDTH, null)


# ---------------------------------------------------------------- customers
def _customers_table(cu: Customers, t_epoch: int) -> pa.Table:
    signed = t_epoch + np.round(cu.signup * SECONDS_PER_DAY).astype(np.int64)
    domains = np.concatenate([P.EMAIL_DOMAINS, P.TEST_EMAIL_DOMAINS])
    return pa.table(
        {
            "customer_id": _customer_ids(np.arange(cu.n)),
            "signed_up_at": ts_array(signed),
            "country": dict_array(cu.country, P.COUNTRIES),
            "acquisition_channel": dict_array(cu.acquisition, P.ACQUISITION_CHANNELS),
            "birth_year": pa.array(cu.birth_year, pa.int32()),
            "gender": dict_array(np.maximum(cu.gender, 0), P.GENDERS, cu.gender < 0),
            "email_domain": dict_array(cu.email_domain, domains),
        }
    )


def _inject_customers(table, cu, rate, rng):
    def conflict(rows, src, rng):
        country = (
            cu.country[src] + rng.integers(1, len(P.COUNTRIES), src.shape[0])
        ) % (len(P.COUNTRIES))
        return replace(rows, "country", same_dict(rows, "country", country))

    return inject(
        table,
        rate,
        {"exact_duplicate": 0.6, "duplicate_id_conflict": 0.4},
        {"exact_duplicate": lambda r, s, g: r, "duplicate_id_conflict": conflict},
        ~cu.is_test,
        rng,
    )


# ---------------------------------------------------------------- orders
@dataclass
class _WrittenOrders:
    idx: np.ndarray  # indices into Orders of the written rows, in row order
    table: pa.Table
    tz_code: np.ndarray  # -1 default format, else index into TZ_SUFFIXES
    epoch: np.ndarray


def _orders_table(
    orders: Orders,
    written: np.ndarray,
    is_test: np.ndarray,
    t_epoch: int,
    orders_only: bool,
    rng: np.random.Generator,
) -> _WrittenOrders:
    idx = np.flatnonzero(written)
    n = idx.shape[0]
    epoch = t_epoch + orders.sec[idx]
    # Only normal customers' orders get other formats, so none is quarantined.
    tz = np.where(
        (rng.random(n) < P.P_TZ_FORMAT) & ~is_test[orders.cust[idx]],
        rng.choice(len(P.TZ_SUFFIXES), size=n, p=P.TZ_SUFFIX_P),
        -1,
    )
    ordered_at = ts_text(epoch)
    k = np.flatnonzero(tz >= 0)
    if k.size:
        local = epoch[k] + P.TZ_OFFSET_MINUTES[tz[k]] * 60
        text = pc.replace_substring(ts_text(local), " ", "T")
        text = pc.binary_join_element_wise(
            text, pa.array(P.TZ_SUFFIXES[tz[k]].tolist()), ""
        )
        mask = np.zeros(n, bool)
        mask[k] = True
        ordered_at = pc.replace_with_mask(ordered_at, pa.array(mask), text)
    cents = orders.eur_cents[idx] if orders_only else orders.cents[idx]
    cols = {
        "order_id": id_array("O", np.arange(n), _ORDER_ID_WIDTH),
        "customer_id": _customer_ids(orders.cust[idx]),
        "ordered_at": ordered_at,
        "amount": money_text(cents),
    }
    if not orders_only:
        cols["currency"] = dict_array(orders.currency[idx], _CURRENCY_VALUES)
        cols["status"] = dict_array(orders.status[idx], STATUSES)
        cols["channel"] = dict_array(orders.channel[idx], P.ORDER_CHANNELS)
    return _WrittenOrders(idx, pa.table(cols), tz, epoch)


def _inject_orders(wo: _WrittenOrders, orders: Orders, cu: Customers, cfg, rng):
    idx = wo.idx
    n = idx.shape[0]
    cents_all = orders.eur_cents if cfg.orders_only else orders.cents
    cents = cents_all[idx]
    days = (wo.epoch // SECONDS_PER_DAY).astype("datetime64[D]")
    feb29 = (days.astype("datetime64[M]") - days.astype("datetime64[Y]")).astype(
        int
    ) == 1
    feb29 &= (days - days.astype("datetime64[M]")).astype(int) == 28
    eligible = (
        ~cu.is_test[orders.cust[idx]]
        & (wo.tz_code < 0)
        & (orders.status[idx] == STATUS_COMPLETED)
        & (cents > 0)
        & (orders.sec[idx] < -2 * SECONDS_PER_DAY)
        & ~feb29
    )
    fresh = _Counter(n)

    def fresh_ids(rows):
        ids = fresh.take(rows.num_rows)
        return replace(rows, "order_id", id_array("O", ids, _ORDER_ID_WIDTH))

    def pick(values, k):
        return pa.array(np.array(values)[rng.integers(0, len(values), k)].tolist())

    def conflict(rows, src, rng):
        k = src.shape[0]
        factor = rng.uniform(0.7, 1.3, k)
        new = np.maximum(np.round(cents[src] * factor), 1).astype(np.int64)
        new = np.where(new == cents[src], new + 1, new)
        later = wo.epoch[src] + rng.integers(0, 6 * 3600, k) * (rng.random(k) < 0.7)
        rows = replace(rows, "amount", money_text(new))
        return replace(rows, "ordered_at", ts_text(later))

    def missing_key(rows, src, rng):
        rows = fresh_ids(rows)
        null_cust = rng.random(src.shape[0]) < 0.6
        cust = orders.cust[idx[src]]
        rows = replace(rows, "customer_id", _customer_ids(cust, null_cust))
        oid = rows.column("order_id").combine_chunks()
        null_oid = pa.array(~null_cust)
        return replace(
            rows, "order_id", pc.if_else(null_oid, pa.scalar(None, pa.string()), oid)
        )

    def invalid_amount(rows, src, rng):
        bad = ["N/A", "12,3x", "abc", "1.2.3", "EUR 12", "--5"]
        return replace(fresh_ids(rows), "amount", pick(bad, src.shape[0]))

    def absurd_amount(rows, src, rng):
        bad = ["9999999.99", "2500000.00", "12345678.90", "100000000.00"]
        return replace(fresh_ids(rows), "amount", pick(bad, src.shape[0]))

    def out_of_range(rows, src, rng):
        k = src.shape[0]
        year = np.where(rng.random(k) < 0.85, rng.integers(2090, 2100, k), 1900)
        text = rows.column("ordered_at").combine_chunks()
        new = pc.binary_join_element_wise(
            pc.cast(pa.array(year), pa.string()), pc.utf8_slice_codeunits(text, 4), ""
        )
        return replace(fresh_ids(rows), "ordered_at", new)

    def invalid_ts(rows, src, rng):
        bad = [
            "not a date",
            "31/02/2026",
            "2026-02-30 10:00:00",
            "2026-13-01 08:00:00",
            "yesterday",
        ]
        return replace(fresh_ids(rows), "ordered_at", pick(bad, src.shape[0]))

    def unknown_currency(rows, src, rng):
        xxx = np.full(src.shape[0], len(CURRENCY_CODES))
        return replace(fresh_ids(rows), "currency", same_dict(rows, "currency", xxx))

    def unknown_customer(rows, src, rng):
        ghost = cu.n + 1 + rng.choice(10 * cu.n + 100, src.shape[0], replace=False)
        return replace(fresh_ids(rows), "customer_id", _customer_ids(ghost))

    weights = {
        "exact_duplicate": 0.22,
        "duplicate_id_conflict": 0.12,
        "missing_key": 0.10,
        "invalid_amount": 0.10,
        "absurd_amount": 0.08,
        "timestamp_out_of_range": 0.10,
        "invalid_timestamp": 0.10,
        "unknown_currency": 0.08,
        "unknown_customer": 0.10,
    }
    makers = {
        "exact_duplicate": lambda r, s, g: r,
        "duplicate_id_conflict": conflict,
        "missing_key": missing_key,
        "invalid_amount": invalid_amount,
        "absurd_amount": absurd_amount,
        "timestamp_out_of_range": out_of_range,
        "invalid_timestamp": invalid_ts,
        "unknown_currency": unknown_currency,
        "unknown_customer": unknown_customer,
    }
    if cfg.orders_only:
        del weights["unknown_currency"], weights["unknown_customer"]
    return inject(wo.table, cfg.bad_row_rate, weights, makers, eligible, rng)


# ---------------------------------------------------------------- products
def _products(seed: int) -> tuple[pa.Table, np.ndarray, np.ndarray, np.ndarray]:
    """Products table plus group offsets/sizes by (category, tier)."""
    rng = stream(seed, "products")
    n_cat, n_tier = len(P.CATEGORIES), len(P.PRICE_TIERS)
    groups = n_cat * n_tier
    n_extra = P.N_PRODUCTS - groups
    extra = rng.integers(0, n_cat, n_extra) * n_tier + rng.choice(
        n_tier, size=n_extra, p=[0.35, 0.45, 0.20]
    )
    group = np.concatenate([np.arange(groups), extra])
    group = group[rng.permutation(group.shape[0])]
    cat, tier = group // n_tier, group % n_tier
    margin_lo, margin_span = np.array([0.12, 0.22, 0.35]), np.array([0.18, 0.2, 0.27])
    margin = np.round(
        margin_lo[tier] + rng.random(group.shape[0]) * margin_span[tier], 3
    )
    table = pa.table(
        {
            "product_id": id_array("P", np.arange(1, group.shape[0] + 1), 5),
            "category": pa.array(P.CATEGORIES[cat].tolist()),
            "price_tier": pa.array(P.PRICE_TIERS[tier].tolist()),
            "margin_rate": pa.array(margin),
        }
    )
    by_group = np.argsort(group, kind="stable")
    size = np.bincount(group, minlength=groups)
    offset = np.concatenate([[0], np.cumsum(size)[:-1]])
    return table, by_group, offset, size


def _order_items(
    orders: Orders, wo: _WrittenOrders, cu: Customers, seed: int, products
) -> tuple[pa.Table, np.ndarray]:
    """Order lines of written completed/cancelled orders and a test-account
    mask per line; line totals add up to the order amount exactly."""
    rng = stream(seed, "order_items")
    _, by_group, offset, size = products
    rows = np.flatnonzero(orders.status[wo.idx] != STATUS_REFUNDED)
    oi = wo.idx[rows]
    n_lines = 1 + np.minimum(rng.poisson(0.7, rows.shape[0]), 4)
    line_row = np.repeat(np.arange(rows.shape[0]), n_lines)
    first = np.ones(line_row.shape[0], bool)
    first[1:] = line_row[1:] != line_row[:-1]
    cust = orders.cust[oi][line_row]
    t = orders.sec[oi][line_row] / SECONDS_PER_DAY
    cat = sample_rows(rng, cu.affinity_cum, cust)
    logit = cu.tier_logit[cust].copy()
    logit[:, 2] += cu.prem_g[cust] * (t - P.T_REF)
    prob = np.exp(logit - logit.max(axis=1, keepdims=True))
    cum = np.cumsum(prob / prob.sum(axis=1, keepdims=True), axis=1)
    tier = np.minimum((cum < rng.random(cum.shape[0])[:, None]).sum(axis=1), 2)
    group = cat * len(P.PRICE_TIERS) + tier
    pick = (rng.random(group.shape[0]) * size[group]).astype(np.int64)
    product = by_group[offset[group] + pick]

    qty = np.where(
        rng.random(line_row.shape[0]) < 0.8, 1, rng.integers(2, 4, len(cust))
    )
    qty = np.where(first, 1, qty)
    total = orders.cents[oi]
    share = rng.exponential(1.0, line_row.shape[0])
    share /= np.bincount(line_row, share)[line_row]
    line = np.floor(share * total[line_row] / qty).astype(np.int64) * qty
    rest = total - np.bincount(line_row, line, minlength=rows.shape[0]).astype(np.int64)
    line = np.where(first, line + rest[line_row], line)
    unit = np.round(line / qty) / 100.0
    order_ids = wo.table.column("order_id").take(pa.array(rows[line_row]))
    table = pa.table(
        {
            "order_item_id": id_array("L", np.arange(line_row.shape[0]), 10),
            "order_id": order_ids,
            "product_id": id_array("P", product + 1, 5),
            "quantity": pa.array(qty.astype(np.int32)),
            "unit_price": pa.array(unit),
        }
    )
    return table, cu.is_test[cust]


# ---------------------------------------------------------------- events
def _events_table(ev, t_epoch: int, cu: Customers, rate: float, rng):
    n = ev.session.shape[0]
    known = ev.cust >= 0
    table = pa.table(
        {
            "event_id": id_array("E", np.arange(n)),
            "session_id": id_array("S", ev.session),
            "customer_id": _customer_ids(np.maximum(ev.cust, 0), ~known),
            "event_type": dict_array(ev.etype, EVENT_TYPE_VALUES),
            "category": dict_array(
                np.maximum(ev.category, 0), P.CATEGORIES, ev.category < 0
            ),
            "device": dict_array(ev.device, P.DEVICES),
            "user_agent": dict_array(ev.ua, UA_VALUES),
            "occurred_at": ts_array(t_epoch + ev.occurred),
            "received_at": ts_array(t_epoch + ev.received),
        }
    )
    test = known & cu.is_test[np.maximum(ev.cust, 0)]
    fresh = _Counter(n)
    fresh_session = _Counter(int(ev.session.max()) + 1 if n else 0)

    def fresh_ids(rows):
        return replace(rows, "event_id", id_array("E", fresh.take(rows.num_rows)))

    def unknown_type(rows, src, rng):
        codes = len(P.EVENT_TYPES) + rng.integers(0, len(P.BAD_EVENT_TYPES), len(src))
        return replace(
            fresh_ids(rows), "event_type", same_dict(rows, "event_type", codes)
        )

    def bot(rows, src, rng):
        k = src.shape[0]
        rows = fresh_ids(rows)
        sess = fresh_session.take(k)[0] + np.arange(k) // 4
        rows = replace(rows, "session_id", id_array("S", sess))
        rows = replace(rows, "customer_id", pa.nulls(k, pa.string()))
        ua = BOT_UA_CODES[rng.integers(0, BOT_UA_CODES.shape[0], k)]
        return replace(rows, "user_agent", same_dict(rows, "user_agent", ua))

    def out_of_range(rows, src, rng):
        k = src.shape[0]
        shift = (_epoch(date(2095, 1, 1)) - t_epoch) + rng.integers(
            0, 360 * SECONDS_PER_DAY, k
        )
        rows = fresh_ids(rows)
        rows = replace(
            rows, "occurred_at", ts_array(t_epoch + ev.occurred[src] + shift)
        )
        return replace(
            rows, "received_at", ts_array(t_epoch + ev.received[src] + shift)
        )

    table, counts = inject(
        table,
        rate,
        {
            "exact_duplicate": 0.4,
            "unknown_event_type": 0.2,
            "bot_traffic": 0.25,
            "timestamp_out_of_range": 0.15,
        },
        {
            "exact_duplicate": lambda r, s, g: r,
            "unknown_event_type": unknown_type,
            "bot_traffic": bot,
            "timestamp_out_of_range": out_of_range,
        },
        ~test & ~ev.late,
        rng,
    )
    counts["test_account"] = int(test.sum())
    return table, counts, int(ev.late.sum())


def _email_table(em, t_epoch: int, cu: Customers, rate: float, rng):
    n = em.cust.shape[0]
    send_epoch = t_epoch + (em.send_day * SECONDS_PER_DAY).astype(np.int64)
    days, inverse = np.unique(send_epoch, return_inverse=True)
    names = pc.binary_join_element_wise(
        "nl-", pc.cast(pc.cast(ts_array(days), pa.date32()), pa.string()), ""
    )
    table = pa.table(
        {
            "email_event_id": id_array("M", np.arange(n)),
            "customer_id": _customer_ids(em.cust),
            "email_campaign_id": pa.DictionaryArray.from_arrays(
                pa.array(inverse.astype(np.int32)), names
            ),
            "event_type": dict_array(em.etype, EMAIL_EVENT_TYPE_VALUES),
            "occurred_at": ts_array(t_epoch + em.occurred),
        }
    )
    test = cu.is_test[em.cust]
    fresh = _Counter(n)

    def unknown(rows, src, rng):
        rows = replace(rows, "email_event_id", id_array("M", fresh.take(src.shape[0])))
        codes = np.full(src.shape[0], len(EMAIL_EVENT_TYPE_VALUES) - 1)
        return replace(rows, "event_type", same_dict(rows, "event_type", codes))

    table, counts = inject(
        table,
        rate,
        {"exact_duplicate": 0.7, "unknown_event_type": 0.3},
        {"exact_duplicate": lambda r, s, g: r, "unknown_event_type": unknown},
        ~test,
        rng,
    )
    counts["test_account"] = int(test.sum())
    return table, counts


def _tickets_table(tk, t_epoch: int, cu: Customers, rate: float, rng):
    n = tk.cust.shape[0]
    table = pa.table(
        {
            "ticket_id": id_array("T", np.arange(n), 7),
            "customer_id": _customer_ids(tk.cust),
            "topic": dict_array(tk.topic, P.TICKET_TOPICS),
            "opened_at": ts_array(t_epoch + tk.opened),
            "closed_at": ts_array(t_epoch + tk.closed, tk.is_open),
            "csat_score": pa.array(tk.csat.astype(np.int32), mask=tk.csat == 0),
        }
    )
    test = cu.is_test[tk.cust]
    table, counts = _dup_only(table, rate, ~test, rng)
    counts["test_account"] = int(test.sum())
    return table, counts


def _dup_only(table: pa.Table, rate: float, eligible: np.ndarray, rng):
    return inject(
        table,
        rate,
        {"exact_duplicate": 1.0},
        {"exact_duplicate": lambda r, s, g: r},
        eligible,
        rng,
    )


def _campaign_table(campaigns: list[Campaign], t_epoch: int) -> pa.Table:
    parts = []
    for c in campaigns:
        k = c.cust.shape[0]
        parts.append(
            pa.table(
                {
                    "campaign_id": pa.array([c.campaign_id] * k),
                    "customer_id": _customer_ids(c.cust),
                    "assigned_at": ts_array(
                        np.full(k, t_epoch + c.day * SECONDS_PER_DAY, np.int64)
                    ),
                    "treatment_group": pa.array(
                        np.where(c.treated, "treatment", "control").tolist()
                    ),
                }
            )
        )
    return pa.concat_tables(parts)


# ---------------------------------------------------------------- truth
def _truth_customers(
    cu: Customers, orders: Orders, campaigns: list[Campaign], history_days: int
) -> pa.Table:
    """One row per customer: the planted parameters, the truth and outcomes.

    The ``true_*`` probabilities and the expected revenue are the best
    possible prediction at T: the posterior predictive given the observable
    data (signup, orders before T, campaign assignments) and the generative
    model, integrating over the persona, the individual rate and order value
    levels and whether the customer is still alive (``alive_probability``);
    see ``_oracle``. The ``latent_*`` columns are the same given the hidden
    parameters and alive state, which no model can know.
    """
    n = cu.n
    q = P.Q_COMPLETED_POSITIVE
    h0 = -float(history_days)
    t = orders.sec / SECONDS_PER_DAY
    treated = np.zeros((n, len(campaigns)), bool)
    for j, c in enumerate(campaigns):
        treated[c.cust[c.treated], j] = True
    hist = observe(
        orders.cust,
        t,
        orders.evidence,
        orders.first_seen,
        orders.log_eur,
        cu.signup,
        treated,
        0.0,
        h0,
    )
    windows = (P.CHURN_WINDOW_DAYS, P.PROPENSITY_WINDOW_DAYS)
    oracle = predict(hist, windows, P.CLV_HORIZON_DAYS)

    # Given the latent state and parameters.
    alive = cu.dropout > 0
    pending = np.isfinite(cu.first_order) & (cu.first_order >= 0)
    zeros = np.zeros(n)
    latent = {}
    for window in windows:
        living = p_no_order(cu.rates, cu.hazard, zeros, window, q)
        p = np.where(alive, living, 1.0)
        latent[window] = np.where(pending, (1 - q) * p, p)
    log_aov_t = cu.log_aov_ref + cu.aov_g * (0 - P.T_REF)
    factor = (1 + P.P_SIBLING_ORDER) * q * (1 - P.EXPECTED_REFUND_SHARE)
    ev = expected_value_integral(
        cu.rates, cu.hazard, cu.log_aov_ref, cu.aov_g, 0.0, P.CLV_HORIZON_DAYS
    )
    latent_rev = np.where(alive, factor * ev, 0.0) + np.where(
        pending, q * (1 - P.EXPECTED_REFUND_SHARE) * np.exp(log_aov_t), 0
    )

    counted = orders.counted
    h0s = -history_days * SECONDS_PER_DAY
    day = SECONDS_PER_DAY

    def count(mask):
        return np.bincount(orders.cust[mask], minlength=n)

    before = count(counted & (orders.sec >= h0s) & (orders.sec < 0))
    in90 = count(counted & (orders.sec >= 0) & (orders.sec < P.CHURN_WINDOW_DAYS * day))
    in30 = count(
        counted & (orders.sec >= 0) & (orders.sec < P.PROPENSITY_WINDOW_DAYS * day)
    )
    in_horizon = (orders.sec >= 0) & (orders.sec < P.CLV_HORIZON_DAYS * day)
    rev = (orders.status != STATUS_CANCELLED) & in_horizon
    realized = np.bincount(orders.cust[rev], orders.eur_cents[rev], minlength=n) / 100
    rate_t = np.exp(cu.rates.log_rate(np.zeros(n)))
    mu_t = cu.hazard.at(np.zeros(n))

    return pa.table(
        {
            "customer_id": _customer_ids(np.arange(n)),
            "persona": pa.array(P.PERSONAS[cu.persona].tolist()),
            "is_test_account": pa.array(cu.is_test),
            "purchase_rate_per_day": pa.array(rate_t),
            "dropout_rate_per_day": pa.array(mu_t),
            "expected_lifetime_days": pa.array(1.0 / mu_t),
            "decline_started_days_before_as_of": pa.array(
                -cu.rates.c, mask=~np.isfinite(cu.rates.c)
            ),
            # null when the dropout lies beyond the simulated horizon
            "dropout_days_after_as_of": pa.array(
                cu.dropout, mask=cu.dropout >= P.CLV_HORIZON_DAYS
            ),
            "mean_order_value_eur": pa.array(np.exp(log_aov_t)),
            "n_orders_before_as_of": pa.array(before.astype(np.int32)),
            "is_alive_at_as_of": pa.array(alive),
            "alive_probability": pa.array(oracle.p_alive),
            "true_churn_probability": pa.array(oracle.p_no_order[P.CHURN_WINDOW_DAYS]),
            "churned_in_window": pa.array(in90 == 0),
            "true_purchase_probability": pa.array(
                1.0 - oracle.p_no_order[P.PROPENSITY_WINDOW_DAYS]
            ),
            "purchased_in_window": pa.array(in30 > 0),
            "true_expected_revenue_eur": pa.array(oracle.expected_revenue_eur),
            "realized_revenue_eur_horizon": pa.array(realized),
            "latent_churn_probability": pa.array(latent[P.CHURN_WINDOW_DAYS]),
            "latent_purchase_probability": pa.array(
                1.0 - latent[P.PROPENSITY_WINDOW_DAYS]
            ),
            "latent_expected_revenue_eur": pa.array(latent_rev),
        }
    )


def _truth_treatment(cu: Customers, orders: Orders, campaigns) -> pa.Table:
    parts = []
    day = SECONDS_PER_DAY
    for c in campaigns:
        lo, hi = c.day * day, (c.day + P.UPLIFT_WINDOW_DAYS) * day
        win = (orders.sec >= lo) & (orders.sec < hi)
        conv = np.bincount(orders.cust[win & orders.counted], minlength=cu.n)
        rv = win & (orders.status != STATUS_CANCELLED)
        rev = np.bincount(orders.cust[rv], orders.eur_cents[rv], minlength=cu.n) / 100
        k = c.cust.shape[0]
        parts.append(
            pa.table(
                {
                    "campaign_id": pa.array([c.campaign_id] * k),
                    "customer_id": _customer_ids(c.cust),
                    "persona": pa.array(P.PERSONAS[cu.persona[c.cust]].tolist()),
                    "treatment_group": pa.array(
                        np.where(c.treated, "treatment", "control").tolist()
                    ),
                    "true_uplift": pa.array(c.true_uplift),
                    "latent_uplift": pa.array(c.latent_uplift),
                    "converted": pa.array(conv[c.cust] > 0),
                    "revenue_in_window_eur": pa.array(rev[c.cust]),
                }
            )
        )
    return pa.concat_tables(parts)


# ---------------------------------------------------------------- main
def generate(config: SynthConfig) -> SynthResult:
    """Simulate one data set in memory.

    Returns a ``SynthResult`` with the raw tables (only ``orders`` when
    ``config.orders_only``), the truth tables ``customers``,
    ``treatment_effects`` and ``timezone_rows``, and the manifest. Money in
    the truth is in EUR; times in raw tables are naive UTC.
    """
    started = time.perf_counter()
    cfg = config
    t_epoch = _epoch(cfg.as_of)
    h0s = -cfg.history_days * SECONDS_PER_DAY
    rng = stream(cfg.seed, "inject")

    cu = draw_customers(cfg.customers, cfg.seed, cfg.history_days)
    orders, campaigns = simulate_orders(cu, cfg.seed, cfg.history_days)
    # The raw data ends before T, where the truth's windows start.
    written = (orders.sec >= h0s) & (orders.sec < 0)
    if cfg.orders_only:
        written &= ~cu.is_test[orders.cust] & (orders.status != STATUS_CANCELLED)

    tables: dict[str, pa.Table] = {}
    bad: dict[str, dict[str, int]] = {}
    wo = _orders_table(
        orders, written, cu.is_test, t_epoch, cfg.orders_only, stream(cfg.seed, "tz")
    )
    tables["orders"], bad["orders"] = _inject_orders(wo, orders, cu, cfg, rng)
    n_test_orders = int(cu.is_test[orders.cust[wo.idx]].sum())
    bad["orders"]["test_account"] = 0 if cfg.orders_only else n_test_orders
    flags: dict[str, dict[str, int]] = {
        "orders": {"mixed_timezone": int((wo.tz_code >= 0).sum())}
    }

    if not cfg.orders_only:
        customers = _customers_table(cu, t_epoch)
        tables["customers"], bad["customers"] = _inject_customers(
            customers, cu, cfg.bad_row_rate, rng
        )
        flags["customers"] = {"test_account": int(cu.is_test.sum())}
        products = _products(cfg.seed)
        tables["products"], bad["products"] = _dup_only(
            products[0], cfg.bad_row_rate, np.ones(products[0].num_rows, bool), rng
        )
        items, test_lines = _order_items(orders, wo, cu, cfg.seed, products)
        tables["order_items"], bad["order_items"] = _dup_only(
            items, cfg.bad_row_rate, ~test_lines, rng
        )
        bad["order_items"]["test_account"] = int(test_lines.sum())
        ev = simulate_events(cu, orders, written, cfg.seed, cfg.history_days)
        tables["events"], bad["events"], n_late = _events_table(
            ev, t_epoch, cu, cfg.bad_row_rate, rng
        )
        del ev
        flags["events"] = {"late_arrival": n_late}
        em = simulate_email(cu, cfg.seed, cfg.history_days)
        tables["email_events"], bad["email_events"] = _email_table(
            em, t_epoch, cu, cfg.bad_row_rate, rng
        )
        tk = simulate_tickets(cu, orders, written, cfg.seed, cfg.history_days)
        tables["support_tickets"], bad["support_tickets"] = _tickets_table(
            tk, t_epoch, cu, cfg.bad_row_rate, rng
        )
        camp = _campaign_table(campaigns, t_epoch)
        tables["campaign_assignments"], bad["campaign_assignments"] = _dup_only(
            camp, cfg.bad_row_rate, np.ones(camp.num_rows, bool), rng
        )

    truth_customers = _truth_customers(cu, orders, campaigns, cfg.history_days)
    tz_rows = np.flatnonzero(wo.tz_code >= 0)
    truth = {
        "customers": truth_customers,
        "treatment_effects": _truth_treatment(cu, orders, campaigns),
        "timezone_rows": pa.table(
            {
                "order_id": wo.table.column("order_id").take(pa.array(tz_rows)),
                "ordered_at_raw": wo.table.column("ordered_at").take(pa.array(tz_rows)),
                "true_ordered_at_utc": ts_array(wo.epoch[tz_rows]),
            }
        ),
    }

    tc = truth_customers
    scored = ~cu.is_test & (tc.column("n_orders_before_as_of").to_numpy() > 0)
    churn_auc = roc_auc(
        tc.column("true_churn_probability").to_numpy()[scored],
        tc.column("churned_in_window").to_numpy()[scored],
    )
    purchase_auc = roc_auc(
        tc.column("true_purchase_probability").to_numpy()[scored],
        tc.column("purchased_in_window").to_numpy()[scored],
    )
    shares = np.bincount(cu.persona, minlength=len(P.PERSONAS)) / cu.n
    history_start = cfg.as_of - timedelta(days=cfg.history_days)
    # Test accounts' orders are quarantined; injected rows are older or invalid.
    staged_epoch = wo.epoch[~cu.is_test[orders.cust[wo.idx]]]
    last_order_date = (
        datetime.fromtimestamp(int(staged_epoch.max()), UTC).date().isoformat()
        if staged_epoch.size
        else None
    )
    manifest = {
        "seed": cfg.seed,
        "customers": cfg.customers,
        "as_of_date": cfg.as_of.isoformat(),
        "last_order_date": last_order_date,
        "history_start": history_start.isoformat(),
        "orders_only": cfg.orders_only,
        "bad_row_rate": cfg.bad_row_rate,
        "windows": {
            "churn_window_days": P.CHURN_WINDOW_DAYS,
            "propensity_window_days": P.PROPENSITY_WINDOW_DAYS,
            "clv_horizon_days": P.CLV_HORIZON_DAYS,
            "uplift_window_days": P.UPLIFT_WINDOW_DAYS,
        },
        "currency_rates": dict(P.CURRENCY_RATES),
        "campaigns": [
            {
                "campaign_id": c.campaign_id,
                "assigned_at": (cfg.as_of + timedelta(days=c.day)).isoformat()
                + " 00:00:00",
                "assigned": int(c.cust.shape[0]),
                "treated": int(c.treated.sum()),
            }
            for c in campaigns
        ],
        "raw_rows": {name: t.num_rows for name, t in tables.items()},
        "bad_rows": bad,
        "flags": flags,
        "oracle": {
            "churn_auc": round(churn_auc, 4),
            "purchase_auc": round(purchase_auc, 4),
            "scored_customers": int(scored.sum()),
            "churn_rate": round(
                float(tc.column("churned_in_window").to_numpy()[scored].mean()), 4
            ),
        },
        "persona_shares": {
            str(p): round(float(s), 4) for p, s in zip(P.PERSONAS, shares, strict=True)
        },
        "generation_seconds": round(time.perf_counter() - started, 2),
    }
    return SynthResult(cfg, tables, truth, manifest)
