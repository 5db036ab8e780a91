"""Which columns of the feature tables are model features, and how to name them.

The feature tables (`feat_customers`, `feat_customers_training`) carry keys and
bookkeeping columns next to the features; models must never learn from those
(a cutoff date or a source timestamp would leak time). Sensitive attributes
never reach the feature tables at all, and are refused here as a second guard.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

# Keys and bookkeeping of the feature tables: never features.
NON_FEATURE_COLUMNS = frozenset(
    {"customer_id", "cutoff_date", "as_of_date", "first_seen_at", "window_index"}
)
NON_FEATURE_SUFFIXES = ("_max_source_at",)
# Kept for fairness monitoring only; a model that sees one is refused.
SENSITIVE_COLUMNS = frozenset(
    {"gender", "birth_year", "age", "age_band", "country_code"}
)

# Readable names for reasons and segment profiles ("why is this customer at risk").
FEATURE_LABELS: dict[str, str] = {
    "tenure_days": "customer tenure",
    "days_since_signup": "days since sign-up",
    "acquisition_channel": "acquisition channel",
    "has_customer_record": "registered account",
    "order_count": "number of purchases",
    "purchase_day_count": "days with a purchase",
    "refund_count": "number of refunds",
    "cancelled_order_count": "cancelled orders",
    "zero_amount_order_count": "free orders",
    "monetary_gross": "total spend",
    "monetary_net": "spend net of refunds",
    "refund_amount": "refunded amount",
    "refund_rate": "refund rate",
    "avg_order_value": "average order value",
    "max_order_value": "largest order",
    "stddev_order_value": "order value spread",
    "recency_days": "days since last purchase",
    "first_purchase_days_ago": "days since first purchase",
    "orders_last_30d": "purchases in the last 30 days",
    "orders_last_90d": "purchases in the last 90 days",
    "orders_prev_90d": "purchases 91-180 days ago",
    "orders_last_365d": "purchases in the last year",
    "revenue_last_30d": "spend in the last 30 days",
    "revenue_last_90d": "spend in the last 90 days",
    "revenue_prev_90d": "spend 91-180 days ago",
    "revenue_last_365d": "spend in the last year",
    "spend_trend_90d": "spend trend",
    "order_trend_90d": "purchase frequency trend",
    "avg_order_value_last_90d": "recent average order value",
    "aov_trend": "order value trend",
    "mean_interpurchase_days": "usual days between purchases",
    "stddev_interpurchase_days": "irregularity of purchases",
    "last_interpurchase_days": "last gap between purchases",
    "cadence_trend": "purchase cadence trend",
    "recency_to_cadence_ratio": "overdue versus usual cadence",
    "orders_per_month": "purchases per month",
    "app_order_share": "share of app orders",
    "store_order_share": "share of store orders",
    "marketplace_order_share": "share of marketplace orders",
    "itemized_order_count": "orders with line items",
    "units_per_order": "units per order",
    "distinct_categories": "categories bought",
    "new_categories_last_90d": "new categories in the last 90 days",
    "category_entropy": "category spread",
    "category_switch_rate": "category switching",
    "premium_spend_share": "premium share of spend",
    "budget_spend_share": "budget share of spend",
    "premium_spend_share_last_90d": "recent premium share",
    "premium_share_trend": "premium exploration trend",
    "avg_margin_rate": "average margin",
    "session_count": "sessions",
    "sessions_last_30d": "sessions in the last 30 days",
    "sessions_prev_60d": "sessions 31-90 days ago",
    "sessions_last_90d": "sessions in the last 90 days",
    "engagement_velocity": "engagement trend",
    "avg_events_per_session": "session depth",
    "avg_product_views_per_session": "product views per session",
    "avg_categories_per_session": "categories per session",
    "product_views_last_30d": "recent product views",
    "pricing_views_last_30d": "recent pricing page views",
    "docs_views_last_30d": "recent help page views",
    "searches_last_30d": "recent searches",
    "add_to_carts_last_30d": "recent add-to-carts",
    "abandoned_carts_last_30d": "recently abandoned carts",
    "cart_abandonment_rate": "cart abandonment rate",
    "session_conversion_rate": "session conversion rate",
    "days_since_last_session": "days since last visit",
    "mobile_session_share": "share of mobile sessions",
    "tablet_session_share": "share of tablet sessions",
    "emails_delivered": "e-mails received",
    "emails_delivered_last_90d": "recent e-mails received",
    "email_open_rate_90d": "e-mail open rate",
    "email_click_rate_90d": "e-mail click rate",
    "email_open_rate_trend": "e-mail open trend",
    "is_unsubscribed": "unsubscribed from e-mail",
    "days_since_last_email_open": "days since last e-mail open",
    "ticket_count": "support tickets",
    "tickets_last_90d": "recent support tickets",
    "open_ticket_count": "open support tickets",
    "low_csat_ticket_count": "poorly rated support tickets",
    "avg_csat_score": "support satisfaction",
    "days_since_last_ticket": "days since last support ticket",
}


def feature_columns(columns: Iterable[str]) -> list[str]:
    """The model features among ``columns``, in the given order.

    Raises ValueError when a sensitive attribute is among them: it must not
    reach a model (remove it from the feature table).
    """
    columns = list(columns)
    sensitive = sorted(SENSITIVE_COLUMNS.intersection(columns))
    if sensitive:
        raise ValueError(
            f"sensitive attributes {', '.join(sensitive)} must not be model "
            "features; they belong in dim tables for fairness monitoring only"
        )
    return [
        column
        for column in columns
        if column not in NON_FEATURE_COLUMNS
        and not column.endswith(NON_FEATURE_SUFFIXES)
    ]


def feature_label(column: str) -> str:
    """Readable name of a feature column (the column name when none is known)."""
    return FEATURE_LABELS.get(column, column.replace("_", " "))


def as_of_date(dates: object) -> pd.Timestamp | None:
    """The as-of date of a feature table: the latest of its ``dates``.

    ``dates`` is a column of dates (its ``cutoff_date``, or the one value of
    a ``max(cutoff_date)`` query). Returns a Timestamp, or None when there
    is no date at all (an empty table: no customers), so that a model never
    computes with the NaT that ``max()`` of an empty column gives.
    """
    values = pd.to_datetime(pd.Series(dates)).dropna()
    if values.empty:
        return None
    return values.max()


def varying_columns(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The ``columns`` of ``frame`` a model can learn from, in the given order.

    A column is left out when it is all null or one constant value; a
    constant with some nulls is kept (being null says something, e.g. no
    order yet).
    """
    kept = []
    for column in columns:
        present = frame[column].dropna()
        if present.empty:
            continue
        if len(present) < len(frame) or bool((present != present.iloc[0]).any()):
            kept.append(column)
    return kept


def purchase_history(staged_orders: Any) -> pd.DataFrame:
    """The non-cancelled orders of ``stg_shop__orders``, as BG/NBD reads them.

    ``staged_orders`` is the relation a dbt Python model gets from
    ``dbt.ref("stg_shop__orders")`` (written in the model file, where dbt
    sees the dependency). Returns DataFrame[customer_id, order_date,
    amount] sorted by customer, date and amount (net revenue: refunds are
    negative), as ``clv.summary_from_orders`` and the ladder read them.
    """
    return (
        staged_orders.filter("not is_cancelled")
        .project("customer_id, ordered_date as order_date, revenue_amount as amount")
        .order("customer_id, order_date, amount")
        .df()
    )
