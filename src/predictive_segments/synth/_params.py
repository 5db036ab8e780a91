"""Constants and persona parameters of the demo-data simulator.

Time inside the simulator is a float number of days relative to the as-of
date T at 00:00 UTC (t = 0), so the prediction windows are [0, 90), [0, 30)
and [0, 365) and the raw extract holds everything with t < 0: it ends with
day T - 1, so T is the day after the last order day, the project's default
as_of_date.
"""

from __future__ import annotations

import numpy as np

#: 1 unit of the currency is worth this many euros (same as seeds/currency_rates.csv).
CURRENCY_RATES: dict[str, float] = {
    "EUR": 1.0,
    "USD": 0.92,
    "GBP": 1.17,
    "SEK": 0.088,
    "PLN": 0.23,
    "CHF": 1.05,
}

CHURN_WINDOW_DAYS = 90
PROPENSITY_WINDOW_DAYS = 30
CLV_HORIZON_DAYS = 365
UPLIFT_WINDOW_DAYS = 30

#: Reference time of the log-linear rate trends (days relative to T).
T_REF = -365.0

# ---------------------------------------------------------------- customers
COUNTRIES = np.array(["DE", "FR", "NL", "ES", "IT", "US", "GB", "SE", "PL", "CH"])
COUNTRY_P = np.array([0.28, 0.12, 0.08, 0.08, 0.08, 0.13, 0.10, 0.04, 0.06, 0.03])
COUNTRY_CURRENCY = np.array(
    ["EUR", "EUR", "EUR", "EUR", "EUR", "USD", "GBP", "SEK", "PLN", "CHF"]
)
# Rough local UTC offset in hours, used only to place orders at local day times.
COUNTRY_UTC_OFFSET = np.array([1, 1, 1, 1, 1, -5, 0, 1, 1, 1])

ACQUISITION_CHANNELS = np.array(
    ["organic", "paid_search", "social", "referral", "email", "affiliate"]
)
ACQUISITION_P = np.array([0.34, 0.24, 0.16, 0.10, 0.08, 0.08])

GENDERS = np.array(["female", "male", "diverse"])
GENDER_P = np.array([0.50, 0.49, 0.01])
GENDER_NULL_RATE = 0.03

EMAIL_DOMAINS = np.array(
    [
        "gmail.com",
        "outlook.com",
        "yahoo.com",
        "gmx.de",
        "web.de",
        "icloud.com",
        "hotmail.com",
        "orange.fr",
        "proton.me",
        "t-online.de",
    ]
)
EMAIL_DOMAIN_P = np.array([0.34, 0.14, 0.08, 0.10, 0.08, 0.09, 0.06, 0.05, 0.03, 0.03])
TEST_EMAIL_DOMAINS = np.array(["example.com", "test.invalid"])
TEST_ACCOUNT_RATE = 0.002

DEVICES = np.array(["desktop", "mobile", "tablet"])
DEVICE_P = np.array([0.45, 0.45, 0.10])

ORDER_CHANNELS = np.array(["web", "app", "store", "marketplace"])

# ---------------------------------------------------------------- products
CATEGORIES = np.array(
    [
        "electronics",
        "home",
        "fashion",
        "beauty",
        "sports",
        "books",
        "toys",
        "grocery",
    ]
)
PRICE_TIERS = np.array(["budget", "standard", "premium"])
N_PRODUCTS = 500

# ---------------------------------------------------------------- orders
P_CANCELLED = 0.02
P_ZERO_AMOUNT = 0.003
#: Share of generated orders that are completed with a positive amount.
Q_COMPLETED_POSITIVE = 1.0 - P_CANCELLED - P_ZERO_AMOUNT
#: Share of generated orders that every raw extract shows as orders (cancelled
#: ones are left out of orders-only extracts): the history the truth observes.
Q_OBSERVED = 1.0 - P_CANCELLED
P_REFUND = 0.03
P_FULL_REFUND = 0.7
#: Expected refunded share of a completed order's amount.
EXPECTED_REFUND_SHARE = P_REFUND * (P_FULL_REFUND + (1 - P_FULL_REFUND) * 0.5)
P_SIBLING_ORDER = 0.01
P_TZ_FORMAT = 0.02
TZ_SUFFIXES = np.array(["Z", "+01:00", "+02:00", "-04:00", "-05:00"])
TZ_OFFSET_MINUTES = np.array([0, 60, 120, -240, -300])
TZ_SUFFIX_P = np.array([0.4, 0.15, 0.2, 0.1, 0.15])

# ---------------------------------------------------------------- events
EVENT_TYPES = np.array(
    [
        "page_view",
        "product_view",
        "add_to_cart",
        "checkout",
        "pricing_view",
        "search",
        "docs_view",
    ]
)
BAD_EVENT_TYPES = np.array(["hover", "PAGEVIEW_V2", "scroll_depth"])
#: Event types that carry a product category.
EVENT_HAS_CATEGORY = np.array([False, True, True, True, False, True, False])

USER_AGENTS_BY_DEVICE: dict[str, list[str]] = {
    "desktop": [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/139.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.5 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:141.0) Gecko/20100101 "
        "Firefox/141.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/138.0.0.0 Safari/537.36",
    ],
    "mobile": [
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15"
        " (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/139.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/138.0.0.0 Mobile Safari/537.36",
    ],
    "tablet": [
        "Mozilla/5.0 (iPad; CPU OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/138.0.0.0 Safari/537.36",
    ],
}
BOT_USER_AGENTS = np.array(
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "python-requests/2.32.3 crawler",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    ]
)
P_LATE_ARRIVAL_SESSION = 0.004

# ---------------------------------------------------------------- tickets
TICKET_TOPICS = np.array(["billing", "delivery", "product", "account"])
TICKET_TOPIC_P = np.array([0.2, 0.4, 0.3, 0.1])

# ---------------------------------------------------------------- campaigns
#: (campaign_id, assignment day relative to T, share of eligible customers).
CAMPAIGNS: tuple[tuple[str, int, float], ...] = (
    ("summer_promo", -75, 0.35),
    ("winback", -45, 0.35),
)

# ---------------------------------------------------------------- personas
PERSONAS = np.array(
    [
        "loyal_high_value",
        "rising_value",
        "regular",
        "bargain_hunter",
        "at_risk",
        "one_time_buyer",
        "browser",
        "registered_no_orders",
    ]
)

# One row per persona, in the order of PERSONAS. Rates are per day, money in EUR.
#
# The truth of the demo data is what the best possible model could predict
# from the observable data (see ``_oracle``): it knows these tables but not a
# customer's persona, its individual draws or whether it is still alive. To
# keep that oracle exact and fast, every individual draw either enters the
# likelihood of the order history in closed form (the purchase rate: gamma;
# the order value level: normal) or takes a few known values (the decline
# start of at_risk customers, a grid); all else is set per persona.
#
# buyer: the first order follows the signup within hours (most shops register
# at the first checkout); otherwise orders come only from the rate.
# lam: mean purchase rate; lam_shape: gamma shape of its spread across customers.
# g: log growth of the rate per year; life: mean lifetime in days (constant
# dropout hazard 1 / life). declines: the customer's engagement starts to
# decline at a time drawn from DECLINE_STARTS; decline_k: decay per day of the
# rates after it; decline_life: mean remaining lifetime after it.
# aov: median mean order value, aov_sd: log sd of that across customers,
# aov_g: log growth of the order value per year, order_sd: log sd per order.
# tiers: base probabilities budget/standard/premium; prem_g: premium logit
# growth per year. ch_*: Dirichlet weights of the customer's order channel mix
# (one-time buyers come mostly through marketplaces). sess: browse sessions
# per day, depth: mean events per session, cart: add-to-cart share of browse
# events. open/click: e-mail rates.
# ticket: tickets per order, csat: mean score. effect: (summer, winback) log
# multiplier of the purchase rate of a living customer while treated (at_risk
# customers are the persuadables of the winback campaign).
PERSONA_PARAMS: dict[str, np.ndarray] = {
    # columns: loyal, rising, regular, bargain, at_risk, one_time, browser, no_orders
    "share": np.array([0.07, 0.08, 0.22, 0.14, 0.12, 0.14, 0.10, 0.13]),
    "buyer": np.array([1, 1, 1, 1, 1, 1, 0, 0], dtype=bool),
    "lam": np.array([1 / 25, 1 / 80, 1 / 80, 1 / 28, 1 / 40, 1 / 1500, 1 / 400, 0.0]),
    "lam_shape": np.array([3.0, 3.0, 1.6, 2.5, 2.5, 1.0, 1.2, 1.0]),
    "g": np.array([0.0, 0.6, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    "life": np.array([3000, 2500, 900, 1300, 2000, 60, 1500, 800]),
    "declines": np.array([0, 0, 0, 0, 1, 0, 0, 0], dtype=bool),
    "decline_k": np.array([0, 0, 0, 0, 1 / 70, 0, 0, 0]),
    "decline_life": np.array([1, 1, 1, 1, 80, 1, 1, 1]),
    "aov": np.array([95.0, 65.0, 48.0, 19.0, 58.0, 42.0, 38.0, 40.0]),
    "aov_sd": np.array([0.3, 0.3, 0.35, 0.3, 0.35, 0.5, 0.4, 0.4]),
    "aov_g": np.array([0.0, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    "order_sd": np.array([0.45, 0.45, 0.5, 0.4, 0.5, 0.55, 0.5, 0.5]),
    "tier_budget": np.array([0.05, 0.20, 0.35, 0.85, 0.35, 0.40, 0.35, 0.35]),
    "tier_standard": np.array([0.35, 0.50, 0.50, 0.14, 0.50, 0.45, 0.50, 0.50]),
    "tier_premium": np.array([0.60, 0.30, 0.15, 0.01, 0.15, 0.15, 0.15, 0.15]),
    "prem_g": np.array([0.0, 1.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    "ch_web": np.array([5.0, 5.0, 5.0, 5.0, 5.0, 1.5, 5.0, 5.0]),
    "ch_app": np.array([3.0, 3.0, 3.0, 3.0, 3.0, 0.4, 3.0, 3.0]),
    "ch_store": np.array([1.2, 1.2, 1.2, 1.2, 1.2, 0.4, 1.2, 1.2]),
    "ch_marketplace": np.array([0.8, 0.8, 0.8, 0.8, 0.8, 6.0, 0.8, 0.8]),
    "sess": np.array([1 / 30, 1 / 35, 1 / 60, 1 / 30, 1 / 35, 1 / 300, 1 / 4, 1 / 200]),
    "depth": np.array([4.0, 4.5, 3.5, 4.0, 3.5, 3.0, 7.0, 3.0]),
    "cart": np.array([0.08, 0.08, 0.07, 0.12, 0.07, 0.05, 0.12, 0.05]),
    "email": np.array([1 / 60, 1 / 60, 1 / 70, 1 / 50, 1 / 60, 1 / 90, 1 / 70, 1 / 90]),
    "open": np.array([0.45, 0.38, 0.24, 0.50, 0.34, 0.12, 0.22, 0.14]),
    "click": np.array([0.25, 0.30, 0.15, 0.32, 0.15, 0.08, 0.12, 0.08]),
    "unsub": np.array([0.001, 0.002, 0.003, 0.002, 0.006, 0.006, 0.003, 0.006]),
    "ticket": np.array([0.03, 0.04, 0.04, 0.03, 0.10, 0.05, 0.05, 0.0]),
    "csat": np.array([4.4, 4.2, 4.0, 3.9, 3.0, 3.8, 3.9, 3.8]),
    "effect_summer": np.array([0.0, -0.7, 0.1, 0.6, 0.4, 0.0, 0.0, 0.0]),
    "effect_winback": np.array([0.0, -0.5, 0.15, 0.35, 1.1, 0.0, 0.0, 0.0]),
}

#: Personas that differ in behavioral style (price tier, order value and
#: frequency, channel, browsing): a behavioral segmentation should recover
#: them. regular, rising_value and at_risk share that style and differ in
#: their trajectory (growth, decline), which the CLV, rising-value and churn
#: models express rather than the segments.
BEHAVIORAL_PERSONAS = (
    "loyal_high_value",
    "bargain_hunter",
    "browser",
    "one_time_buyer",
    "registered_no_orders",
)

#: Log multiplier of the purchase rate while treated, per campaign and persona.
CAMPAIGN_EFFECTS: dict[str, np.ndarray] = {
    cid: PERSONA_PARAMS[f"effect_{cid.split('_')[0]}"] for cid, _, _ in CAMPAIGNS
}

#: Possible decline starts (days relative to T) of declining personas, equally
#: likely: a grid, so that the oracle can sum over them exactly. 0 means the
#: decline starts with the prediction windows.
DECLINE_STARTS = np.arange(-210.0, 1.0, 30.0)
#: Mean delay (days) of a buyer's first order after the signup.
FIRST_ORDER_DELAY_DAYS = 0.06
