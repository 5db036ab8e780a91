"""Train, evaluate and gate the purchase-propensity model; appends a registry row."""

import datetime as dt

from predictive_segments import churn, registry
from predictive_segments import features as feature_sets


def model(dbt, session):
    if not registry.as_bool(dbt.config.get("retrain")):
        # Serve the models already in the registry: read nothing else.
        return registry.skip_training(
            dbt, session, "train_purchase_propensity", "purchase_propensity"
        )
    # The as_of_date of the features: the examples are empty when the history
    # is shorter than the label windows, and the ladder still needs it.
    # A dbt.ref inside a subscript is not seen by dbt's parser: assign first.
    cutoff_dates = dbt.ref("feat_customers").aggregate("max(cutoff_date) as d")
    examples = dbt.ref("ml_purchase_examples").order("customer_id, cutoff_date").df()
    # The non-cancelled orders: the BG/NBD rung of the ladder reads them
    # when the history is too short for the supervised label windows.
    orders = feature_sets.purchase_history(dbt.ref("stg_shop__orders"))
    # ... and learns from past prospects to score those who never bought.
    prospects = dbt.ref("ml_prospect_examples")
    row = churn.train_family_run(
        examples,
        orders,
        kind="purchase_propensity",
        label_column="has_purchased",
        window_days=int(dbt.config.get("window_days")),
        as_of_date=feature_sets.as_of_date(cutoff_dates.df()["d"]),
        run_id=dbt.config.get("run_id"),
        trained_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        min_auc=float(dbt.config.get("min_auc")),
        seed=int(dbt.config.get("seed")),
        nthread=int(dbt.config.get("nthread")),
        min_class_examples=int(dbt.config.get("min_class_examples")),
        shuffle_labels=registry.as_bool(dbt.config.get("shuffle_training_labels")),
        prospect_examples=lambda: prospects.order("customer_id").df(),
    )
    return registry.to_arrow([row])
