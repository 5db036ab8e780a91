"""Lookalikes of the top-value seed: out-of-fold similarity, percentile and tier.

Fits the positive-unlabeled model on this run's data (scores are out of fold,
so they are recomputed every run), appends nothing: the registry row of the
same fit is written by train_lookalike, which this model reads to publish
only when that fit was approved.
"""

import pandas as pd

from predictive_segments import features as feature_sets
from predictive_segments import lookalike, registry
from predictive_segments.scores import score_table


def model(dbt, session):
    share = float(dbt.config.get("lookalike_seed_share"))
    features = registry.as_list(dbt.config.get("lookalike_features"))
    run_id = dbt.config.get("run_id")
    runs = dbt.ref("train_lookalike").order("trained_at").df()
    customers = dbt.ref("feat_customers").order("customer_id").df()
    value = dbt.ref("score_clv").project("customer_id, predicted_clv").df()
    customers = customers.merge(value, on="customer_id", how="left", validate="1:1")
    # An empty list means every model feature (the seed's own value excluded).
    features = features or feature_sets.feature_columns(
        c for c in customers.columns if c != "predicted_clv"
    )
    is_seed = lookalike.seed_from_value(customers["predicted_clv"].to_numpy(), share)
    out = pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "as_of_date": customers["cutoff_date"].dt.date,
            "is_lookalike_seed": is_seed,
        }
    )
    current = runs[runs["run_id"] == run_id]
    if len(current) and current["status"].iloc[-1] == registry.APPROVED:
        columns = [c for c in features if c in customers.columns]
        _, scores = lookalike.lookalike_run(
            customers,
            is_seed,
            features=columns,
            as_of_date=customers["cutoff_date"].max(),
            run_id=run_id,
            trained_at=None,
            min_top_tier_lift=0.0,
            seed=int(dbt.config.get("seed")),
            nthread=int(dbt.config.get("nthread")),
        )
        out["lookalike_score"] = scores["lookalike_score"].to_numpy()
        out["lookalike_percentile"] = scores["lookalike_percentile"].to_numpy()
        out["lookalike_tier"] = scores["lookalike_tier"].to_numpy()
        out["lookalike_model_version"] = current["model_version"].iloc[-1]
        out["lookalike_note"] = None
    else:
        note = "no lookalike run in this build"
        if len(current):
            note = (
                f"lookalike {current['status'].iloc[-1]}: {current['reason'].iloc[-1]}"
            )
        out["lookalike_score"] = None
        out["lookalike_percentile"] = None
        out["lookalike_tier"] = None
        out["lookalike_model_version"] = None
        out["lookalike_note"] = note
    return score_table(out, "score_lookalike")
