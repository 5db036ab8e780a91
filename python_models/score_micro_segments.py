"""Micro-segment of every customer: primary segment x value tier x churn-risk band.

The tier and band are the rule-based labels of int_customer_scores_banded;
clustering.micro_segments crosses them and merges cells smaller than
var micro_segment_min_size. Customers without a segment (no approved segment
model) get no micro-segment.
"""

import pandas as pd

from predictive_segments import clustering
from predictive_segments.scores import score_table


def model(dbt, session):
    min_size = int(dbt.config.get("micro_segment_min_size"))
    customers = (
        dbt.ref("int_customer_scores_banded")
        .project("customer_id, as_of_date, segment_id, value_tier, churn_risk_band")
        .order("customer_id")
        .df()
    )
    out = customers[["customer_id", "as_of_date"]].copy()
    out["micro_segment"] = pd.Series(None, index=out.index, dtype=object)
    assigned = customers["segment_id"].notna().to_numpy()
    if assigned.any():
        out.loc[assigned, "micro_segment"] = clustering.micro_segments(
            customers.loc[assigned, "segment_id"].to_numpy(dtype=object),
            customers.loc[assigned, "value_tier"].to_numpy(dtype=object),
            customers.loc[assigned, "churn_risk_band"].to_numpy(dtype=object),
            min_size=min_size,
        )
    return score_table(out, "score_micro_segments")
