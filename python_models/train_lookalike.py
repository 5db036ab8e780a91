"""Evaluate and gate this run's lookalike pass; appends a registry row.

The out-of-fold scores come from score_lookalike_oof (fitted once per run);
this model measures the held-out seed's recall per tier on them, applies the
gate and fits the final model kept as the artifact.
"""

import datetime as dt

from predictive_segments import features as feature_sets
from predictive_segments import lookalike, registry


def model(dbt, session):
    if not registry.as_bool(dbt.config.get("retrain")):
        # Serve the models already in the registry: read nothing else.
        return registry.skip_training(dbt, session, "train_lookalike", "lookalike")
    features = registry.as_list(dbt.config.get("lookalike_features"))
    customers = dbt.ref("feat_customers").order("customer_id").df()
    oof = dbt.ref("score_lookalike_oof").order("customer_id").df()
    features = features or feature_sets.feature_columns(customers.columns)
    row, _ = lookalike.lookalike_run(
        customers,
        oof["is_lookalike_seed"].to_numpy(dtype=bool),
        features=[c for c in features if c in customers.columns],
        as_of_date=feature_sets.as_of_date(customers["cutoff_date"]),
        run_id=dbt.config.get("run_id"),
        trained_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        min_top_tier_lift=float(dbt.config.get("lookalike_min_top_tier_lift")),
        seed=int(dbt.config.get("seed")),
        nthread=int(dbt.config.get("nthread")),
        max_unlabeled_rows=int(dbt.config.get("lookalike_max_unlabeled_rows")),
        out_of_fold=oof,
    )
    return registry.to_arrow([row])
