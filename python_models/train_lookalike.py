"""Evaluate and gate this run's lookalike pass; appends a registry row.

The out-of-fold scores come from score_lookalike_oof (fitted once per run);
this model measures the held-out seed's recall per tier on them and, at the
CLV training cutoff (ml_clv_examples), what the lookalikes of a seed then went
on to spend; applies both gates and fits the final model kept as the artifact.
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
    seed = int(dbt.config.get("seed"))
    nthread = int(dbt.config.get("nthread"))
    max_unlabeled_rows = int(dbt.config.get("lookalike_max_unlabeled_rows"))
    past = dbt.ref("ml_clv_examples").order("customer_id").df()
    future_value = lookalike.future_value_check(
        past,
        features=features,
        seed_share=float(dbt.config.get("lookalike_seed_share")),
        horizon_days=int(dbt.config.get("clv_horizon_days")),
        seed=seed,
        nthread=nthread,
        max_unlabeled_rows=max_unlabeled_rows,
    )
    value = dbt.ref("score_clv").project("customer_id, predicted_clv").df()
    scored = customers[["customer_id", "monetary_net"]].merge(
        value, on="customer_id", how="left", validate="1:1"
    )
    future_value["seed_value"] = lookalike.seed_values(scored)[1]
    row, _ = lookalike.lookalike_run(
        customers,
        oof["is_lookalike_seed"].to_numpy(dtype=bool),
        features=[c for c in features if c in customers.columns],
        as_of_date=feature_sets.as_of_date(customers["cutoff_date"]),
        run_id=dbt.config.get("run_id"),
        trained_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        min_top_tier_lift=float(dbt.config.get("lookalike_min_top_tier_lift")),
        seed=seed,
        nthread=nthread,
        max_unlabeled_rows=max_unlabeled_rows,
        out_of_fold=oof,
        future_value=future_value,
        min_future_value_lift=float(dbt.config.get("lookalike_min_future_value_lift")),
    )
    return registry.to_arrow([row])
