"""Fit the behavioral segment model on all customers; appends a registry row.

Customers without orders are segmented too (browsers, dormant registrations):
their missing order features are imputed by the model like any other gap.

Ids stay stable across runs: the new clusters are matched to those of the
latest approved model in this registry.
"""

import datetime as dt

from predictive_segments import clustering, registry
from predictive_segments import features as feature_sets


def model(dbt, session):
    if not registry.as_bool(dbt.config.get("retrain")):
        # Serve the models already in the registry: read nothing else.
        return registry.skip_training(dbt, session, "train_segments", "segments")
    # dbt finds config keys by reading dbt.config.get calls: keep them plain.
    features = registry.as_list(dbt.config.get("segment_features"))
    k_range = registry.as_list(dbt.config.get("segment_k_range"))
    table = dbt.ref("feat_customers")
    columns = [
        c for c in ["customer_id", "cutoff_date", *features] if c in table.columns
    ]
    customers = table.project(", ".join(columns)).order("customer_id").df()
    previous = None
    if dbt.is_incremental:
        history = session.sql(f"select * from {dbt.this} order by trained_at").df()
        serving = registry.latest_approved(history, "segments")
        previous = None if serving is None else bytes(serving["artifact"])
    row = clustering.segmentation_run(
        customers,
        features=features,
        previous_artifact=previous,
        as_of_date=feature_sets.as_of_date(customers["cutoff_date"]),
        run_id=dbt.config.get("run_id"),
        trained_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        k_range=(int(k_range[0]), int(k_range[1])),
        min_silhouette=float(dbt.config.get("min_silhouette")),
        min_stability=float(dbt.config.get("min_segment_stability")),
        training_sample_size=int(dbt.config.get("segment_max_training_customers")),
        seed=int(dbt.config.get("seed")),
        n_threads=int(dbt.config.get("nthread")),
    )
    return registry.to_arrow([row])
