"""Uplift score and group of every customer for each campaign with an approved model."""

import pyarrow as pa

from predictive_segments import uplift


def model(dbt, session):
    registry_rows = dbt.ref("train_uplift").order("trained_at").df()
    features = dbt.ref("feat_customers").order("customer_id").df()
    scores = uplift.score_uplift(registry_rows, features)
    scores.insert(1, "as_of_date", features["cutoff_date"].max().date())
    return pa.Table.from_pandas(scores, preserve_index=False)
