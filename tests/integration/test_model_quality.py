"""Proofs on demo data: the published scores against the planted truth.

The oracle scores each customer with the generator's truth: the best
prediction from what is observable at as_of_date (see synth/_oracle.py).
Margins are the project's acceptance margins, fixed before measuring; the
comparisons are one-sided because behavioral features the oracle does not use
can let a model edge past it.
"""

from __future__ import annotations

import pandas as pd
import pytest

from predictive_segments.metrics import roc_auc, top_decile_capture

AUC_MARGIN = 0.03  # model AUC >= oracle AUC - 0.03
CAPTURE_MARGIN = 0.05  # top-decile revenue capture within 5 points of the oracle


@pytest.fixture(scope="module")
def truth(ci_raw_dir) -> pd.DataFrame:
    return pd.read_parquet(ci_raw_dir / "truth" / "customers.parquet")


def _scored(warehouse, truth, sql: str) -> pd.DataFrame:
    return warehouse.execute(sql).df().merge(truth, on="customer_id", validate="1:1")


def test_churn_auc_is_within_margin_of_the_oracle(warehouse, truth):
    scored = _scored(
        warehouse,
        truth,
        "select customer_id, churn_probability from score_churn "
        "where churn_probability is not null",
    )
    assert len(scored) > 1000
    model = roc_auc(scored["churned_in_window"], scored["churn_probability"])
    oracle = roc_auc(scored["churned_in_window"], scored["true_churn_probability"])
    assert model >= oracle - AUC_MARGIN, (model, oracle)


def test_purchase_propensity_auc_is_within_margin_of_the_oracle(warehouse, truth):
    scored = _scored(
        warehouse,
        truth,
        "select customer_id, purchase_probability from score_purchase_propensity "
        "where purchase_probability is not null",
    )
    assert len(scored) > 1000
    model = roc_auc(scored["purchased_in_window"], scored["purchase_probability"])
    oracle = roc_auc(scored["purchased_in_window"], scored["true_purchase_probability"])
    assert model >= oracle - AUC_MARGIN, (model, oracle)


def test_clv_top_decile_capture_is_within_margin_of_the_oracle(warehouse, truth):
    scored = _scored(
        warehouse, truth, "select customer_id, predicted_clv from score_clv"
    )
    # Net revenue can be negative (refunds); capture is a share of what was spent.
    realized = scored["realized_revenue_eur_horizon"].clip(lower=0)
    model = top_decile_capture(realized, scored["predicted_clv"].fillna(0))
    oracle = top_decile_capture(realized, scored["true_expected_revenue_eur"])
    assert model >= oracle - CAPTURE_MARGIN, (model, oracle)
