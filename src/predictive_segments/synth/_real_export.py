"""A real-export-shaped orders table (CDNOW-like), with the truth behind it.

The default generator makes rich, recent, clean-ish data; real users bring
order logs like the classic CDNOW data set: one acquisition cohort (first
purchases only in the first weeks), about 18 months from 1997, orders only,
many one-time buyers, heavy-tailed spend with $0 orders and refunds, dates
without a time of day, plain integer ids, and nulls written as text.

Purchases follow the BG/NBD story (Fader, Hardie & Lee 2005): each customer
buys at a Poisson rate ``lambda ~ Gamma(r, alpha)`` (days) and after each
repeat purchase drops out for good with probability ``p ~ Beta(a, b)``; each
purchase is worth ``Gamma(p_spend, nu)`` with ``nu ~ Gamma(q, v)``. The
defaults are close to the published CDNOW estimates (r 0.243, alpha 4.41
weeks, a 0.793, b 2.426; p 6.25, q 3.74, v 15.44): r is a little higher so
that about 47 % (not 50 %) of the customers never return in 18 months, and v
a little lower so that the mean order value stays near 35. Two things
BG/NBD + Gamma-Gamma ignore, so that a supervised model can beat them: the
purchase rate rises by ``december_lift`` in December, and each
repeat purchase is worth ``(1 + spend_trend)`` times the previous one (capped
after 20 repeats).
"""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._generate import SynthResult
from ._util import money_text
from ._write import FORMATS, write

#: How export tools write a missing customer id, cycled through in order.
NULL_SPELLINGS = ("NULL", "\\N", "None", "N/A", "NA", "nan", "-", "undefined", "")
TIMES_OF_DAY = ("none", "noon")
FUTURE_DAYS = 365  # simulated after the export ends, for truth only
_TREND_CAP = 20  # repeat purchases after which spend stops growing
_REFUND_MAX_DELAY_DAYS = 30


def _add_months(d: date, months: int) -> date:
    """The date ``months`` calendar months after ``d`` (day clipped to the month)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class RealExportConfig:
    """Settings of one real-export-shaped data set.

    Orders run from ``start`` for ``months`` calendar months; every customer
    makes a first purchase in the first ``cohort_weeks`` weeks. Rates are
    shares of written rows: $0 orders and refunds are extra rows of a
    customer's purchases, null-id rows are extra guest orders (at least one
    per spelling in ``NULL_SPELLINGS`` when the rate is above 0), and
    ``split_order_rate`` of purchases are written as two orders on one day.
    ``time_of_day`` "none" writes dates, "noon" dates at 12:00:00. Purchase
    process: ``r``, ``alpha`` (days), ``a``,
    ``b`` of BG/NBD; spend: ``p_spend``, ``q``, ``v`` of Gamma-Gamma (money).
    """

    customers: int = 20_000
    seed: int = 42
    start: date = date(1997, 1, 1)
    months: int = 18
    cohort_weeks: int = 12
    null_id_rate: float = 0.005
    zero_amount_rate: float = 0.02
    refund_rate: float = 0.01
    split_order_rate: float = 0.03
    time_of_day: str = "none"
    r: float = 0.27
    alpha: float = 33.0
    a: float = 0.793
    b: float = 2.426
    p_spend: float = 6.25
    q: float = 3.74
    v: float = 14.5
    december_lift: float = 1.6
    spend_trend: float = 0.03

    def __post_init__(self) -> None:
        if not isinstance(self.customers, int) or self.customers < 1:
            raise ValueError(f"customers must be an integer >= 1, got {self.customers}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed}")
        if not isinstance(self.start, date) or hasattr(self.start, "hour"):
            raise ValueError(f"start must be a date, got {self.start!r}")
        if not 1 <= self.months <= 600:
            raise ValueError(f"months must be in 1..600, got {self.months}")
        days = (self.end - self.start).days
        if not 1 <= self.cohort_weeks * 7 <= days:
            raise ValueError(
                f"cohort_weeks must be >= 1 and fit in the {days} days of "
                f"history ({self.months} months), got {self.cohort_weeks}"
            )
        for name in ("null_id_rate", "zero_amount_rate", "refund_rate"):
            if not 0.0 <= getattr(self, name) <= 0.2:
                raise ValueError(
                    f"{name} must be in [0, 0.2], got {getattr(self, name)}"
                )
        if not 0.0 <= self.split_order_rate <= 0.5:
            raise ValueError(
                f"split_order_rate must be in [0, 0.5], got {self.split_order_rate}"
            )
        if self.time_of_day not in TIMES_OF_DAY:
            raise ValueError(
                f"time_of_day must be one of {TIMES_OF_DAY}, got {self.time_of_day!r}"
            )
        for name in ("r", "alpha", "a", "b", "p_spend", "v", "december_lift"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a number > 0, got {value}")
        if not (np.isfinite(self.q) and self.q > 1):
            raise ValueError(f"q must be > 1 (finite mean spend), got {self.q}")
        if not 0.0 <= self.spend_trend < 1.0:
            raise ValueError(f"spend_trend must be in [0, 1), got {self.spend_trend}")

    @property
    def end(self) -> date:
        """First day after the export (exclusive end)."""
        return _add_months(self.start, self.months)

    @property
    def cohort_end(self) -> date:
        """Last day on which a customer can make a first purchase."""
        return self.start + timedelta(days=self.cohort_weeks * 7 - 1)

    def as_dict(self) -> dict:
        """JSON-ready settings (dates as ISO text), as stored in the manifest."""
        out = asdict(self)
        out["start"] = self.start.isoformat()
        return out


@dataclass
class _Purchases:
    cust: np.ndarray  # customer index (0-based, in order of first purchase)
    day: np.ndarray  # days since start
    repeat: np.ndarray  # 0 for the first purchase, j for the j-th repeat
    cents: np.ndarray


def _simulate(cfg: RealExportConfig, rng: np.random.Generator):
    """Latent parameters and all purchases until ``FUTURE_DAYS`` after the end.

    Returns (lam, drop_p, mean_spend, repeats_allowed, purchases).
    """
    n = cfg.customers
    horizon = (cfg.end - cfg.start).days + FUTURE_DAYS
    first = np.sort(rng.random(n)) * cfg.cohort_weeks * 7  # ids follow first buys
    lam = rng.gamma(cfg.r, 1.0 / cfg.alpha, n)
    drop_p = np.clip(rng.beta(cfg.a, cfg.b, n), 1e-12, 1.0)
    k = rng.geometric(drop_p)  # repeat purchases before dropping out
    nu = rng.gamma(cfg.q, 1.0 / cfg.v, n)

    # Seasonal Poisson process by thinning a process at the peak rate.
    peak = max(cfg.december_lift, 1.0)
    span = horizon - first
    n_cand = rng.poisson(lam * peak * span)
    cust = np.repeat(np.arange(n), n_cand)
    t = first[cust] + rng.random(cust.shape[0]) * span[cust]
    day = np.floor(t).astype(np.int64)
    month = (np.datetime64(cfg.start) + day).astype("datetime64[M]").astype(int) % 12
    lift = np.where(month == 11, cfg.december_lift, 1.0)
    keep = rng.random(cust.shape[0]) < lift / peak
    cust, t, day = cust[keep], t[keep], day[keep]
    order = np.lexsort((t, cust))
    cust, day = cust[order], day[order]
    starts = np.searchsorted(cust, cust, side="left")
    repeat = np.arange(cust.shape[0]) - starts + 1
    alive = repeat <= k[cust]
    cust, day, repeat = cust[alive], day[alive], repeat[alive]

    cust = np.concatenate([np.arange(n), cust])
    day = np.concatenate([np.floor(first).astype(np.int64), day])
    repeat = np.concatenate([np.zeros(n, np.int64), repeat])
    order = np.lexsort((repeat, cust))
    cust, day, repeat = cust[order], day[order], repeat[order]
    growth = (1.0 + cfg.spend_trend) ** np.minimum(repeat, _TREND_CAP)
    value = rng.gamma(cfg.p_spend, 1.0, cust.shape[0]) / nu[cust] * growth
    cents = np.maximum(np.round(value * 100), 1).astype(np.int64)
    return lam, drop_p, cfg.p_spend / nu, k, _Purchases(cust, day, repeat, cents)


def _rows(cfg: RealExportConfig, pur: _Purchases, rng: np.random.Generator):
    """Written order rows: purchases (some split in two), $0 orders, refunds
    and rows without a customer. Returns (customer index or -1, day, cents,
    null spelling index or -1), sorted into order-id order."""
    n_days = (cfg.end - cfg.start).days
    w = pur.day < n_days
    cust, day, cents = pur.cust[w], pur.day[w], pur.cents[w]
    m = cust.shape[0]

    split = rng.random(m) < cfg.split_order_rate
    share = rng.uniform(0.2, 0.8, m)
    part = np.minimum(np.maximum(np.round(cents * share), 1), cents - 1).astype(
        np.int64
    )
    split &= cents >= 2
    base_cents = np.where(split, cents - part, cents)

    zero = np.flatnonzero(rng.random(m) < cfg.zero_amount_rate)
    refund = np.flatnonzero(rng.random(m) < cfg.refund_rate)
    full = rng.random(refund.shape[0]) < 0.5
    frac = np.where(full, 1.0, rng.uniform(0.1, 0.9, refund.shape[0]))
    refund_cents = -np.maximum(np.round(cents[refund] * frac), 1).astype(np.int64)
    delay = rng.integers(0, _REFUND_MAX_DELAY_DAYS + 1, refund.shape[0])
    refund_day = np.minimum(day[refund] + delay, n_days - 1)

    s = np.flatnonzero(split)
    cust_all = np.concatenate([cust, cust[s], cust[zero], cust[refund]])
    day_all = np.concatenate([day, day[s], day[zero], refund_day])
    cents_all = np.concatenate(
        [base_cents, part[s], np.zeros(zero.shape[0], np.int64), refund_cents]
    )

    rows = cust_all.shape[0]
    k_null = 0
    if cfg.null_id_rate > 0:
        wanted = round(cfg.null_id_rate * rows / (1.0 - cfg.null_id_rate))
        k_null = max(wanted, len(NULL_SPELLINGS))
    nu = rng.gamma(cfg.q, 1.0 / cfg.v, k_null)
    guest = np.maximum(np.round(rng.gamma(cfg.p_spend, 1.0, k_null) / nu * 100), 1)
    cust_all = np.concatenate([cust_all, np.full(k_null, -1)])
    day_all = np.concatenate([day_all, rng.integers(0, n_days, k_null)])
    cents_all = np.concatenate([cents_all, guest.astype(np.int64)])
    spelling = np.concatenate(
        [np.full(rows, -1), np.arange(k_null) % len(NULL_SPELLINGS)]
    )
    # Order ids count up with the date; orders of one day come in random order.
    order = np.lexsort((rng.random(day_all.shape[0]), day_all))
    return cust_all[order], day_all[order], cents_all[order], spelling[order]


def _date_text(cfg: RealExportConfig, day: np.ndarray) -> pa.Array:
    epoch_day = (np.datetime64(cfg.start) + day).astype("datetime64[D]").astype(int)
    text = pc.cast(pa.array(epoch_day.astype(np.int32), pa.date32()), pa.string())
    if cfg.time_of_day == "noon":
        text = pc.binary_join_element_wise(text, " 12:00:00", "")
    return text


def _truth_customers(cfg, lam, drop_p, mean_spend, k, pur: _Purchases) -> pa.Table:
    n = cfg.customers
    n_days = (cfg.end - cfg.start).days
    seen = pur.day < n_days
    future = ~seen & (pur.day < n_days + FUTURE_DAYS)
    last_repeat = np.zeros(n, np.int64)
    np.maximum.at(last_repeat, pur.cust[seen], pur.repeat[seen])
    return pa.table(
        {
            "customer_id": pa.array(np.arange(1, n + 1), pa.int64()),
            "purchase_rate_per_day": pa.array(lam),
            "dropout_probability": pa.array(drop_p),
            "mean_spend": pa.array(mean_spend),
            "repeats_before_dropout": pa.array(k.astype(np.int64)),
            "n_purchases": pa.array(np.bincount(pur.cust[seen], minlength=n)),
            # dropout follows the k-th repeat purchase at once
            "is_alive_at_end": pa.array(last_repeat < k),
            "purchases_next_365d": pa.array(np.bincount(pur.cust[future], minlength=n)),
            "revenue_next_365d": pa.array(
                np.bincount(pur.cust[future], pur.cents[future], minlength=n) / 100
            ),
        }
    )


def generate_real_export(config: RealExportConfig) -> SynthResult:
    """Simulate one real-export-shaped data set in memory.

    Returns a ``SynthResult`` whose ``orders`` table is typed for Parquet
    (integer ids, customer_id null on the planted rows, ``ordered_at`` as
    date text, amount as a double in money units); ``write_real_export``
    turns it into CSV text. Truth: ``customers`` (true parameters per
    customer id; ``mean_spend`` is the expected value of a first purchase)
    and ``null_id_rows`` (order ids and the null spelling of each).
    """
    cfg = config
    rng = np.random.default_rng(cfg.seed)
    lam, drop_p, mean_spend, k, pur = _simulate(cfg, rng)
    cust, day, cents, spelling = _rows(cfg, pur, rng)
    rows = cust.shape[0]
    order_id = np.arange(1, rows + 1, dtype=np.int64)
    orders = pa.table(
        {
            "order_id": pa.array(order_id),
            "customer_id": pa.array(cust + 1, pa.int64(), mask=cust < 0),
            "ordered_at": _date_text(cfg, day),
            "amount": pa.array(cents / 100.0),
        }
    )
    null_rows = np.flatnonzero(spelling >= 0)
    null_table = pa.table(
        {
            "order_id": pa.array(order_id[null_rows]),
            "customer_id_raw": pa.array(
                [NULL_SPELLINGS[i] for i in spelling[null_rows]], pa.string()
            ),
        }
    )
    known = cust >= 0
    paid = known & (cents > 0)
    days_per_customer = np.bincount(
        np.unique(cust[paid] * (day.max() + 1) + day[paid]) // (day.max() + 1),
        minlength=cfg.customers,
    )
    first_day = np.full(cfg.customers, np.iinfo(np.int64).max)
    np.minimum.at(first_day, cust[known], day[known])
    dates = _date_text(
        replace(cfg, time_of_day="none"), np.array([day.min(), day.max()])
    )
    manifest = {
        "mode": "real_export",
        "seed": cfg.seed,
        "customers": cfg.customers,
        "config": cfg.as_dict(),
        "raw_rows": {"orders": rows},
        "null_id_rows": int(null_rows.shape[0]),
        "null_id_spellings": sorted({NULL_SPELLINGS[i] for i in spelling[null_rows]}),
        "first_order_date": dates[0].as_py(),
        "last_order_date": dates[1].as_py(),
        "end_date": (cfg.end - timedelta(days=1)).isoformat(),
        # The truth's next 365 days start here; a build's default as_of_date
        # (the day after the last order day) is this date when the export's
        # last day has orders, as it has at realistic sizes.
        "as_of_date": cfg.end.isoformat(),
        "cohort_end_date": cfg.cohort_end.isoformat(),
        "last_first_purchase_date": (
            cfg.start + timedelta(days=int(first_day.max()))
        ).isoformat(),
        "zero_amount_rows": int((cents == 0).sum()),
        "negative_amount_rows": int((cents < 0).sum()),
        "one_time_buyer_share": round(float((days_per_customer == 1).mean()), 4),
        "mean_order_value": round(float(cents[cents > 0].mean() / 100), 2),
        "population": {
            "r": cfg.r,
            "alpha_days": cfg.alpha,
            "a": cfg.a,
            "b": cfg.b,
            "mean_purchase_rate_per_day": cfg.r / cfg.alpha,
            "mean_dropout_probability": cfg.a / (cfg.a + cfg.b),
            "p_spend": cfg.p_spend,
            "q": cfg.q,
            "v": cfg.v,
            "mean_spend": cfg.p_spend * cfg.v / (cfg.q - 1.0),
        },
    }
    truth = {
        "customers": _truth_customers(cfg, lam, drop_p, mean_spend, k, pur),
        "null_id_rows": null_table,
    }
    return SynthResult(cfg, {"orders": orders}, truth, manifest)  # type: ignore[arg-type]


def csv_orders(result: SynthResult) -> pa.Table:
    """The orders table as an export tool writes it: text ids with the planted
    null spellings, amounts as text with two decimals."""
    orders = result.tables["orders"]
    nulls = result.truth["null_id_rows"]
    cust = pc.cast(orders.column("customer_id"), pa.string()).combine_chunks()
    rows = np.searchsorted(
        orders.column("order_id").to_numpy(), nulls.column("order_id").to_numpy()
    )
    mask = np.zeros(orders.num_rows, bool)
    mask[rows] = True
    spelled = pc.replace_with_mask(
        cust, pa.array(mask), nulls.column("customer_id_raw").combine_chunks()
    )
    cents = np.round(orders.column("amount").to_numpy() * 100).astype(np.int64)
    return orders.set_column(1, "customer_id", spelled).set_column(
        3, "amount", money_text(cents)
    )


def write_real_export(
    result: SynthResult, out_dir: str | Path, fmt: str = "csv"
) -> Path:
    """Write ``orders.<fmt>`` and ``truth/`` atomically (see ``write``); CSV
    values are written unquoted, as export tools do. Returns ``out_dir``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    tables = {"orders": csv_orders(result)} if fmt == "csv" else result.tables
    out = replace(result, tables=tables)
    return write(out, out_dir, fmt, csv_quoting="none")
