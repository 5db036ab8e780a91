"""Churn probability and top reasons per customer with a purchase history."""

from predictive_segments import churn
from predictive_segments import features as feature_sets
from predictive_segments.scores import score_table


def model(dbt, session):
    registry_rows = dbt.ref("train_churn").order("trained_at").df()
    features = dbt.ref("feat_customers").order("customer_id").df()
    # The BG/NBD rung of the ladder scores from the order history.
    orders = feature_sets.purchase_history(dbt.ref("stg_shop__orders"))
    scores = churn.score_probability_model(
        registry_rows,
        features,
        kind="churn",
        eligible=(features["order_count"] > 0).to_numpy(),
        orders=orders,
        ineligible_reason="no purchase before as_of_date: churn is undefined",
        with_reasons=True,
    )
    scores.insert(1, "as_of_date", features["cutoff_date"].dt.date.to_numpy())
    scores = churn.published(scores, "churn", with_reasons=True)
    return score_table(scores, "score_churn")
