"""The lookalike run's one out-of-fold pass, before its gate.

Every customer scored by the fold model that did not train on them, with the
seed and the seed members held out for the evaluation. train_lookalike
evaluates and gates this pass; score_lookalike publishes it when approved.
Not for BI: unapproved scores live here. With var retrain false there is no
pass: only the seed, unscored, which score_lookalike ranks the latest
approved model's scores against.
"""

from predictive_segments import features as feature_sets
from predictive_segments import lookalike, registry
from predictive_segments.scores import score_table


def model(dbt, session):
    share = float(dbt.config.get("lookalike_seed_share"))
    features = registry.as_list(dbt.config.get("lookalike_features"))
    retrain = registry.as_bool(dbt.config.get("retrain"))
    customers = dbt.ref("feat_customers")
    if not retrain:
        customers = customers.project("customer_id, cutoff_date")
    customers = customers.order("customer_id").df()
    value = dbt.ref("score_clv").project("customer_id, predicted_clv").df()
    customers = customers.merge(value, on="customer_id", how="left", validate="1:1")
    # The top predicted CLV; realized revenue when no CLV model serves.
    values, _ = lookalike.seed_values(customers)
    is_seed = lookalike.seed_from_value(values, share)
    if retrain:
        # An empty list means every model feature (the seed's own value excluded).
        features = features or feature_sets.feature_columns(
            c for c in customers.columns if c != "predicted_clv"
        )
        out = lookalike.lookalike_out_of_fold(
            customers,
            is_seed,
            features=[c for c in features if c in customers.columns],
            seed=int(dbt.config.get("seed")),
            nthread=int(dbt.config.get("nthread")),
            max_unlabeled_rows=int(dbt.config.get("lookalike_max_unlabeled_rows")),
        )
    else:
        out = lookalike.seed_frame(customers["customer_id"], is_seed)
    out["as_of_date"] = customers["cutoff_date"].dt.date.to_numpy()
    return score_table(out, "score_lookalike_oof")
