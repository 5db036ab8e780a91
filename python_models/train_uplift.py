"""Fit, evaluate and gate one uplift model per randomized campaign; appends rows."""

import datetime as dt

from predictive_segments import features as feature_sets
from predictive_segments import registry, uplift


def model(dbt, session):
    if not registry.as_bool(dbt.config.get("retrain")):
        # Serve the models already in the registry: read nothing else.
        return registry.skip_training(dbt, session, "train_uplift", "uplift")
    min_qini = float(dbt.config.get("uplift_min_qini"))
    min_per_arm = int(dbt.config.get("min_customers_per_arm"))
    # A dbt.ref inside a subscript is not seen by dbt's parser: assign first.
    cutoff_dates = dbt.ref("feat_customers").aggregate("max(cutoff_date) as d")
    as_of_date = feature_sets.as_of_date(cutoff_dates.df()["d"])
    assignments = dbt.ref("stg_shop__campaign_assignments").aggregate("count(*) as n")
    examples = dbt.ref("ml_uplift_examples").order("campaign_id, customer_id").df()
    rows = uplift.uplift_runs(
        examples,
        as_of_date=as_of_date,
        run_id=dbt.config.get("run_id"),
        trained_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        min_qini=min_qini,
        min_per_arm=min_per_arm,
        seed=int(dbt.config.get("seed")),
        nthread=int(dbt.config.get("nthread")),
        max_training_customers=int(dbt.config.get("uplift_max_training_customers")),
        # Says why there is no campaign to train on, when there is none.
        assignment_count=int(assignments.df()["n"][0]),
    )
    return registry.to_arrow(rows)
