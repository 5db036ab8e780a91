"""Primary behavioral segment of every customer as of as_of_date."""

from predictive_segments import clustering
from predictive_segments.scores import score_table


def model(dbt, session):
    registry_rows = dbt.ref("train_segments").order("trained_at").df()
    customers = dbt.ref("feat_customers").order("customer_id").df()
    segments = clustering.assign_segments(registry_rows, customers)
    segments.insert(1, "as_of_date", customers["cutoff_date"].dt.date.to_numpy())
    return score_table(segments, "score_segments")
