"""Draw customers: attributes, persona and latent behavior parameters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _params as P
from ._process import Hazard, Rates
from ._util import stream, time_of_day


@dataclass
class Customers:
    """Per-customer arrays (index = customer number, customer_id order).

    Times are days relative to T. ``start`` is when the purchase process and
    the lifetime begin (the first order for buyers, the signup otherwise).
    """

    n: int
    persona: np.ndarray
    is_test: np.ndarray
    signup: np.ndarray
    first_order: np.ndarray  # nan for non-buyers
    start: np.ndarray
    dropout: np.ndarray
    rates: Rates
    hazard: Hazard
    log_aov_ref: np.ndarray
    aov_g: np.ndarray
    order_sd: np.ndarray
    country: np.ndarray
    acquisition: np.ndarray
    birth_year: np.ndarray
    gender: np.ndarray  # -1 = null
    email_domain: np.ndarray  # index into EMAIL_DOMAINS + TEST_EMAIL_DOMAINS
    device: np.ndarray
    channel_cum: np.ndarray
    affinity_cum: np.ndarray
    tier_logit: np.ndarray
    prem_g: np.ndarray
    sess_rate: np.ndarray
    depth: np.ndarray
    cart: np.ndarray
    email_rate: np.ndarray
    open_rate: np.ndarray
    click_rate: np.ndarray
    unsub_rate: np.ndarray
    ticket_rate: np.ndarray
    csat: np.ndarray
    effect_log: dict[str, np.ndarray]

    @property
    def utc_offset(self) -> np.ndarray:
        """Rough local UTC offset in hours of each customer's country."""
        return P.COUNTRY_UTC_OFFSET[self.country]


def _gamma_mean1(rng: np.random.Generator, shape: np.ndarray) -> np.ndarray:
    return rng.gamma(shape, 1.0 / shape)


def draw_customers(n: int, seed: int, history_days: int) -> Customers:
    """Draw ``n`` customers, numbered in signup order."""
    rng = stream(seed, "customers")
    pp = P.PERSONA_PARAMS
    h0 = -float(history_days)

    persona = rng.choice(len(P.PERSONAS), size=n, p=pp["share"] / pp["share"].sum())

    # Signups: some before the history started, the rest growing over it,
    # all before T (the raw data ends with day T - 1).
    before = rng.random(n) < 0.18
    span = -h0
    signup = np.where(
        before,
        h0 - rng.random(n) * 1095.0,
        h0 + span * rng.random(n) ** 0.75,
    )
    country = rng.choice(len(P.COUNTRIES), size=n, p=P.COUNTRY_P)
    signup = np.minimum(
        np.floor(signup) + time_of_day(rng, P.COUNTRY_UTC_OFFSET[country]), -1e-4
    )
    order = np.argsort(signup, kind="stable")
    persona, signup, country = persona[order], signup[order], country[order]

    def par(name: str) -> np.ndarray:
        return pp[name][persona]

    is_test = rng.random(n) < P.TEST_ACCOUNT_RATE
    acquisition = rng.choice(len(P.ACQUISITION_CHANNELS), size=n, p=P.ACQUISITION_P)
    # Sensitive attributes: independent of persona; birth year shifts mildly
    # with country only.
    birth_year = np.clip(
        np.round(1984 + (country >= 5) * 1.5 + rng.normal(0, 13, n)), 1940, 2008
    ).astype(np.int32)
    gender = rng.choice(len(P.GENDERS), size=n, p=P.GENDER_P)
    gender = np.where(rng.random(n) < P.GENDER_NULL_RATE, -1, gender)
    domain = rng.choice(len(P.EMAIL_DOMAINS), size=n, p=P.EMAIL_DOMAIN_P)
    test_domain = len(P.EMAIL_DOMAINS) + rng.integers(0, 2, n)
    email_domain = np.where(is_test, test_domain, domain)
    young = birth_year > 1990
    device_p = np.where(young[:, None], [0.35, 0.55, 0.10], P.DEVICE_P)
    device = (device_p.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1)

    # Purchase process (see PERSONA_PARAMS for why most of it is per persona).
    buyer = par("buyer")
    lam = par("lam") * _gamma_mean1(rng, par("lam_shape"))
    with np.errstate(divide="ignore"):
        log0 = np.log(lam)
    g = par("g") / 365.0
    declines = par("declines")
    c = np.where(
        declines,
        P.DECLINE_STARTS[rng.integers(0, P.DECLINE_STARTS.shape[0], n)],
        np.inf,
    )
    k = np.where(declines, par("decline_k"), 0.0)
    mu1 = np.where(declines, 1.0 / par("decline_life"), 0.0)
    mu0 = 1.0 / par("life")
    rates = Rates(log0, g, c, k)
    hazard = Hazard(mu0, mu1, c)

    first_order = np.where(
        buyer, signup + rng.exponential(P.FIRST_ORDER_DELAY_DAYS, n), np.nan
    )
    start = np.where(buyer, first_order, signup)
    dropout = hazard.draw_dropout(start, rng)

    # Spend.
    log_aov_ref = np.log(par("aov")) + rng.normal(0.0, par("aov_sd"))
    aov_g = par("aov_g") / 365.0
    order_sd = par("order_sd")

    # Preferences.
    channel_w = rng.gamma(
        np.stack([par(f"ch_{c}") for c in P.ORDER_CHANNELS], axis=1), 1.0
    )
    channel_p = channel_w / channel_w.sum(axis=1, keepdims=True)
    affinity = rng.gamma(0.6, 1.0, (n, len(P.CATEGORIES)))
    affinity /= affinity.sum(axis=1, keepdims=True)
    tiers = np.stack([par("tier_budget"), par("tier_standard"), par("tier_premium")], 1)
    tier_logit = np.log(tiers) + rng.normal(0.0, 0.3, (n, 3))
    prem_g = par("prem_g") * np.exp(rng.normal(0.0, 0.2, n)) / 365.0

    # Engagement.
    sess_rate = par("sess") * _gamma_mean1(rng, np.full(n, 4.0))
    open_rate = np.clip(par("open") * _gamma_mean1(rng, np.full(n, 5.0)), 0.0, 0.95)
    click_rate = np.clip(par("click") * _gamma_mean1(rng, np.full(n, 5.0)), 0.0, 0.9)
    csat = par("csat") + rng.normal(0.0, 0.5, n)

    effect_log = {cid: eff[persona] for cid, eff in P.CAMPAIGN_EFFECTS.items()}
    return Customers(
        n=n,
        persona=persona,
        is_test=is_test,
        signup=signup,
        first_order=first_order,
        start=start,
        dropout=dropout,
        rates=rates,
        hazard=hazard,
        log_aov_ref=log_aov_ref,
        aov_g=aov_g,
        order_sd=order_sd,
        country=country,
        acquisition=acquisition,
        birth_year=birth_year,
        gender=gender,
        email_domain=email_domain,
        device=device,
        channel_cum=channel_p.cumsum(axis=1),
        affinity_cum=affinity.cumsum(axis=1).astype(np.float32),
        tier_logit=tier_logit,
        prem_g=prem_g,
        sess_rate=sess_rate,
        depth=par("depth"),
        cart=par("cart"),
        email_rate=par("email"),
        open_rate=open_rate,
        click_rate=click_rate,
        unsub_rate=par("unsub"),
        ticket_rate=par("ticket"),
        csat=csat,
        effect_log=effect_log,
    )
