"""Fit and gate the lookalike model on this run's seed; appends a registry row."""

import datetime as dt

from predictive_segments import features as feature_sets
from predictive_segments import lookalike, registry


def model(dbt, session):
    share = float(dbt.config.get("lookalike_seed_share"))
    features = registry.as_list(dbt.config.get("lookalike_features"))
    customers = dbt.ref("feat_customers").order("customer_id").df()
    value = dbt.ref("score_clv").project("customer_id, predicted_clv").df()
    customers = customers.merge(value, on="customer_id", how="left", validate="1:1")
    # An empty list means every model feature (the seed's own value excluded).
    features = features or feature_sets.feature_columns(
        c for c in customers.columns if c != "predicted_clv"
    )
    is_seed = lookalike.seed_from_value(customers["predicted_clv"].to_numpy(), share)
    row, _ = lookalike.lookalike_run(
        customers,
        is_seed,
        features=[c for c in features if c in customers.columns],
        as_of_date=customers["cutoff_date"].max(),
        run_id=dbt.config.get("run_id"),
        trained_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        min_top_tier_lift=float(dbt.config.get("lookalike_min_top_tier_lift")),
        seed=int(dbt.config.get("seed")),
        nthread=int(dbt.config.get("nthread")),
    )
    return registry.to_arrow([row])
