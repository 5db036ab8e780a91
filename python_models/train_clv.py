"""Backtest BG/NBD + Gamma-Gamma and the quantile GBM; appends two registry rows."""

import datetime as dt

from predictive_segments import clv, registry
from predictive_segments import features as feature_sets


def model(dbt, session):
    if not registry.as_bool(dbt.config.get("retrain")):
        # Serve the models already in the registry: read nothing else.
        return registry.skip_training(dbt, session, "train_clv", "CLV")
    horizon_days = int(dbt.config.get("clv_horizon_days"))
    min_capture = float(dbt.config.get("min_top_decile_capture"))
    # None when feat_customers is empty: train_clv_runs then says so.
    # A dbt.ref inside a subscript is not seen by dbt's parser: assign first.
    cutoff_dates = dbt.ref("feat_customers").aggregate("max(cutoff_date) as d")
    as_of_date = feature_sets.as_of_date(cutoff_dates.df()["d"])
    orders = feature_sets.purchase_history(dbt.ref("stg_shop__orders"))
    examples = dbt.ref("ml_clv_examples").order("customer_id").df()
    # Values the customers without a purchase when BG/NBD serves alone.
    prospects = dbt.ref("ml_prospect_examples")
    rows = clv.train_clv_runs(
        orders,
        examples,
        as_of_date=as_of_date,
        horizon_days=horizon_days,
        run_id=dbt.config.get("run_id"),
        trained_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        min_top_decile_capture=min_capture,
        seed=int(dbt.config.get("seed")),
        nthread=int(dbt.config.get("nthread")),
        max_training_customers=int(dbt.config.get("clv_max_training_customers")),
        max_quantile_training_customers=int(
            dbt.config.get("clv_max_quantile_training_customers")
        ),
        prospect_examples=lambda: prospects.order("customer_id").df(),
        prospect_min_auc=float(dbt.config.get("prospect_min_auc")),
        prospect_min_class_examples=int(dbt.config.get("min_class_examples")),
    )
    return registry.to_arrow(rows)
