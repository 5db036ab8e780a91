"""Primary behavioral segment of every customer as of as_of_date.

Segments smaller than max(var segment_min_share x customers,
var segment_min_count) on these customers are merged into their nearest
segment, or no segment is published (clustering.assign_segments).
"""

from predictive_segments import clustering
from predictive_segments.scores import score_table


def model(dbt, session):
    min_share = float(dbt.config.get("segment_min_share"))
    min_count = int(dbt.config.get("segment_min_count"))
    registry_rows = dbt.ref("train_segments").order("trained_at").df()
    customers = dbt.ref("feat_customers").order("customer_id").df()
    segments = clustering.assign_segments(
        registry_rows, customers, min_share=min_share, min_count=min_count
    )
    segments.insert(1, "as_of_date", customers["cutoff_date"].dt.date.to_numpy())
    return score_table(segments, "score_segments")
