"""Lookalikes of the top-value seed: similarity, percentile and tier.

Publishes this run's out-of-fold pass (score_lookalike_oof) ranked among the
non-seed customers, only when train_lookalike approved it. The scores are
out of fold, so they are recomputed every run that retrains. With var
retrain false nothing is fitted: the final model of the latest approved run
scores every customer, ranked against the seed of score_lookalike_oof.
"""

from predictive_segments import lookalike, registry
from predictive_segments.scores import score_table


def model(dbt, session):
    run_id = dbt.config.get("run_id")
    runs = dbt.ref("train_lookalike").order("trained_at").df()
    oof = dbt.ref("score_lookalike_oof").order("customer_id").df()
    out = oof[["customer_id", "as_of_date", "is_lookalike_seed"]].copy()
    if not registry.as_bool(dbt.config.get("retrain")):
        customers = oof[["customer_id"]].merge(
            dbt.ref("feat_customers").df(), on="customer_id", how="left", validate="1:1"
        )
        scores = lookalike.score_latest_approved(
            runs, customers, oof["is_lookalike_seed"].to_numpy(dtype=bool)
        )
        for column in scores.columns:
            out[column] = scores[column].to_numpy()
        return score_table(out, "score_lookalike")
    current = runs[runs["run_id"] == run_id]
    if len(current) and current["status"].iloc[-1] == registry.APPROVED:
        scores = lookalike.ranked_scores(
            oof["lookalike_score"].to_numpy(dtype=float),
            oof["is_lookalike_seed"].to_numpy(dtype=bool),
        )
        out["lookalike_score"] = scores["lookalike_score"].to_numpy()
        out["lookalike_percentile"] = scores["lookalike_percentile"].to_numpy()
        out["lookalike_tier"] = scores["lookalike_tier"].to_numpy()
        out["lookalike_model_version"] = current["model_version"].iloc[-1]
        out["lookalike_note"] = None
    else:
        note = "no lookalike run in this build"
        if len(current):
            note = (
                f"lookalike {current['status'].iloc[-1]}: {current['reason'].iloc[-1]}"
            )
        out["lookalike_score"] = None
        out["lookalike_percentile"] = None
        out["lookalike_tier"] = None
        out["lookalike_model_version"] = None
        out["lookalike_note"] = note
    return score_table(out, "score_lookalike")
