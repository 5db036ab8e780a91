"""Model quality against the planted truth of a generated data set.

Each function reads the published tables of a built warehouse (a DuckDB
connection) and the generator's truth (``<raw dir>/truth``) and returns the
model's figure next to the oracle's (or the planted structure's) on the same
customers. The integration tests assert the acceptance margins on them;
``benchmarks/model_proofs.py`` prints them for any scale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..metrics import adjusted_rand, qini_coefficient, roc_auc, top_decile_capture
from ._params import BEHAVIORAL_PERSONAS


def read_truth(raw_dir: Path | str) -> pd.DataFrame:
    """The truth per customer written next to the raw tables."""
    return pd.read_parquet(Path(raw_dir) / "truth" / "customers.parquet")


def _scored(connection: Any, truth: pd.DataFrame, sql: str) -> pd.DataFrame:
    published = connection.execute(sql).df()
    return published.merge(truth, on="customer_id", validate="1:1")


def _auc(
    connection: Any, truth: pd.DataFrame, table: str, score: str, kind: str
) -> dict[str, float]:
    label = {"churn": "churned_in_window", "purchase": "purchased_in_window"}[kind]
    scored = _scored(
        connection,
        truth,
        f"select customer_id, {score} from {table} where {score} is not null",
    )
    return {
        "customers": len(scored),
        "model": roc_auc(scored[label], scored[score]),
        "oracle": roc_auc(scored[label], scored[f"true_{kind}_probability"]),
    }


def churn_auc(connection: Any, truth: pd.DataFrame) -> dict[str, float]:
    """AUC of churn_probability and of the true churn probability."""
    return _auc(connection, truth, "score_churn", "churn_probability", "churn")


def purchase_auc(connection: Any, truth: pd.DataFrame) -> dict[str, float]:
    """AUC of purchase_probability and of the true purchase probability."""
    return _auc(
        connection,
        truth,
        "score_purchase_propensity",
        "purchase_probability",
        "purchase",
    )


def clv_capture(connection: Any, truth: pd.DataFrame) -> dict[str, float]:
    """Share of the realized horizon revenue in the top decile by predicted
    CLV, and by the true expected revenue."""
    scored = _scored(
        connection, truth, "select customer_id, predicted_clv from score_clv"
    )
    # Net revenue can be negative (refunds); capture is a share of what was spent.
    realized = scored["realized_revenue_eur_horizon"].clip(lower=0)
    return {
        "customers": len(scored),
        "model": top_decile_capture(realized, scored["predicted_clv"].fillna(0)),
        "oracle": top_decile_capture(realized, scored["true_expected_revenue_eur"]),
    }


def segments_ari(connection: Any, truth: pd.DataFrame) -> dict[str, float]:
    """Adjusted Rand index of segment_id vs the planted behavioral personas
    (customers of other personas left out; see BEHAVIORAL_PERSONAS)."""
    scored = _scored(
        connection, truth, "select customer_id, segment_id from score_segments"
    )
    behavioral = scored[scored["persona"].isin(BEHAVIORAL_PERSONAS)]
    if behavioral["segment_id"].isna().any():
        raise ValueError("score_segments has customers without a segment")
    return {
        "customers": len(behavioral),
        "personas": int(behavioral["persona"].nunique()),
        "model": adjusted_rand(behavioral["persona"], behavioral["segment_id"]),
    }


def lookalike_rising_lift(connection: Any, truth: pd.DataFrame) -> dict[str, float]:
    """Share of the rising-value persona in the top lookalike tier (1 %) over
    its share among all candidates (customers outside the seed)."""
    scored = _scored(
        connection,
        truth,
        "select customer_id, is_lookalike_seed, lookalike_tier from score_lookalike",
    )
    candidates = scored[~scored["is_lookalike_seed"]]
    top_tier = candidates[candidates["lookalike_tier"] == 1]
    base = (candidates["persona"] == "rising_value").mean()
    share = (top_tier["persona"] == "rising_value").mean() if len(top_tier) else 0.0
    return {
        "candidates": len(candidates),
        "top_tier": len(top_tier),
        "model": float(share / base) if base else float("nan"),
    }


def uplift_qini(connection: Any, raw_dir: Path | str) -> dict[str, dict[str, float]]:
    """Per campaign of the latest training run: the registry's out-of-fold
    Qini coefficient (every participant scored by a model not trained on it)
    and the oracle's Qini (true treatment effect) on the same participants."""
    effects = pd.read_parquet(Path(raw_dir) / "truth" / "treatment_effects.parquet")
    examples = connection.execute(
        "select campaign_id, customer_id, is_treated, has_converted "
        "from ml_uplift_examples"
    ).df()
    runs = connection.execute(
        "select model_kind, status, metrics from train_uplift "
        "where run_id = (select run_id from train_uplift order by trained_at desc "
        "limit 1) order by model_kind"
    ).df()
    out: dict[str, dict[str, float]] = {}
    for run in runs.itertuples():
        if not run.model_kind.startswith("uplift:"):
            continue
        campaign = run.model_kind.split(":", 1)[1]
        metrics = json.loads(run.metrics)
        rows = examples[examples["campaign_id"] == campaign].merge(
            effects, on=["campaign_id", "customer_id"], validate="1:1"
        )
        out[campaign] = {
            "status": run.status,
            "participants": len(rows),
            "model": metrics.get("qini_coefficient"),
            "oracle": qini_coefficient(
                rows["has_converted"].astype(int),
                rows["is_treated"].astype(int),
                rows["true_uplift"],
            ),
        }
    return out
