"""Predicted customer value over clv_horizon_days with P10/P50/P90 and P(alive)."""

from predictive_segments import clv
from predictive_segments import features as feature_sets
from predictive_segments.scores import score_table


def model(dbt, session):
    horizon_days = int(dbt.config.get("clv_horizon_days"))
    registry_rows = dbt.ref("train_clv").order("trained_at").df()
    features = dbt.ref("feat_customers").order("customer_id").df()
    # None when feat_customers is empty: score_clv then scores nobody.
    as_of_date = feature_sets.as_of_date(features["cutoff_date"])
    orders = feature_sets.purchase_history(dbt.ref("stg_shop__orders"))
    scores = clv.score_clv(
        registry_rows,
        orders,
        features,
        as_of_date=as_of_date,
        horizon_days=horizon_days,
    )
    scores.insert(1, "as_of_date", features["cutoff_date"].dt.date.to_numpy())
    scores["is_rising_value"] = clv.rising_value(
        features["monetary_net"].to_numpy(dtype=float),
        scores["predicted_clv"].to_numpy(dtype=float),
    )
    return score_table(scores, "score_clv")
