"""Fit, evaluate and gate one uplift model per randomized campaign; appends rows."""

import datetime as dt

from predictive_segments import registry, uplift


def model(dbt, session):
    if not registry.as_bool(dbt.config.get("retrain")):
        # Serve the models already in the registry: read nothing else.
        return registry.skip_training(dbt, session, "train_uplift", "uplift")
    min_qini = float(dbt.config.get("uplift_min_qini"))
    min_per_arm = int(dbt.config.get("min_customers_per_arm"))
    as_of_date = (
        dbt.ref("feat_customers").aggregate("max(cutoff_date) as d").df()["d"][0]
    )
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
    )
    if not rows:
        assignments = dbt.ref("stg_shop__campaign_assignments")
        has_assignments = assignments.aggregate("count(*) as n").df()["n"][0] > 0
        reason = (
            "no randomized campaign with a complete outcome window"
            if has_assignments
            else "no campaign assignments: campaign_assignments is missing or empty "
            "in the raw data"
        )
        rows = [
            registry.registry_row(
                kind="uplift",
                status=registry.INSUFFICIENT_DATA,
                reason=reason,
                as_of_date=as_of_date,
                training_cutoff=None,
                parameters={},
                features=[],
                metrics={},
                fingerprint=registry.data_fingerprint(examples),
                artifact=None,
                run_id=dbt.config.get("run_id"),
                trained_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            )
        ]
    return registry.to_arrow(rows)
