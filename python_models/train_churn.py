"""Train, evaluate and gate the churn model; appends one row to its registry."""

import datetime as dt

from predictive_segments import churn, registry
from predictive_segments import features as feature_sets


def model(dbt, session):
    if not registry.as_bool(dbt.config.get("retrain")):
        # Serve the models already in the registry: read nothing else.
        return registry.skip_training(dbt, session, "train_churn", "churn")
    examples = dbt.ref("ml_churn_examples").order("customer_id, cutoff_date").df()
    row = churn.train_probability_run(
        examples,
        kind="churn",
        label_column="is_churned",
        as_of_date=feature_sets.as_of_date(examples["as_of_date"]),
        run_id=dbt.config.get("run_id"),
        trained_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        min_auc=float(dbt.config.get("min_auc")),
        seed=int(dbt.config.get("seed")),
        nthread=int(dbt.config.get("nthread")),
        min_class_examples=int(dbt.config.get("min_class_examples")),
        shuffle_labels=registry.as_bool(dbt.config.get("shuffle_training_labels")),
    )
    return registry.to_arrow([row])
