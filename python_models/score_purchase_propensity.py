"""Probability that each customer buys within propensity_window_days."""

import numpy as np

from predictive_segments import churn
from predictive_segments import features as feature_sets
from predictive_segments.scores import score_table


def model(dbt, session):
    registry_rows = dbt.ref("train_purchase_propensity").order("trained_at").df()
    features = dbt.ref("feat_customers").order("customer_id").df()
    # The BG/NBD rung of the ladder scores from the order history.
    orders = feature_sets.purchase_history(dbt.ref("stg_shop__orders"))
    scores = churn.score_probability_model(
        registry_rows,
        features,
        kind="purchase_propensity",
        eligible=np.ones(len(features), dtype=bool),
        orders=orders,
        ineligible_reason="",
    )
    scores.insert(1, "as_of_date", features["cutoff_date"].dt.date.to_numpy())
    scores = churn.published(scores, "purchase", with_reasons=False)
    return score_table(scores, "score_purchase_propensity")
