"""Primary behavioral segment of every customer as of as_of_date."""

import pyarrow as pa

from predictive_segments import clustering


def model(dbt, session):
    registry_rows = dbt.ref("train_segments").order("trained_at").df()
    customers = dbt.ref("feat_customers").order("customer_id").df()
    segments = clustering.assign_segments(registry_rows, customers)
    segments.insert(1, "as_of_date", customers["cutoff_date"].dt.date.to_numpy())
    return pa.Table.from_pandas(segments, preserve_index=False)
