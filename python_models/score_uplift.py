"""Uplift score and group of every customer for each campaign with an approved model."""

from predictive_segments import features as feature_sets
from predictive_segments import uplift
from predictive_segments.scores import score_table


def model(dbt, session):
    registry_rows = dbt.ref("train_uplift").order("trained_at").df()
    features = dbt.ref("feat_customers").order("customer_id").df()
    scores = uplift.score_uplift(registry_rows, features)
    scores.insert(1, "as_of_date", feature_sets.as_of_date(features["cutoff_date"]))
    return score_table(scores, "score_uplift")
