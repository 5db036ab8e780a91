"""Proofs on demo data: the published scores against the planted truth.

The oracle scores each customer with the generator's truth: the best
prediction from what is observable at as_of_date (see synth/_oracle.py).
Margins are the project's acceptance margins, fixed before measuring; the
comparisons are one-sided because behavioral features the oracle does not use
can let a model edge past it. The figures come from synth/proofs.py, which
benchmarks/model_proofs.py prints at any scale.
"""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb
import pandas as pd
import pytest

from predictive_segments.metrics import qini_coefficient
from predictive_segments.synth import proofs
from predictive_segments.synth._params import BEHAVIORAL_PERSONAS

AUC_MARGIN = 0.03  # model AUC >= oracle AUC - 0.03
CAPTURE_MARGIN = 0.05  # top-decile revenue capture within 5 points of the oracle
MIN_PERSONA_ARI = 0.6  # segments vs planted behavioral personas
MIN_RISING_LIFT = 3.0  # rising-value share in the top lookalike tier / base share
MIN_QINI_SHARE = 0.6  # out-of-fold Qini >= 60 % of the oracle's on the same rows
MIN_QINI_MARGIN = 0.002  # and above 0 by at least this (incremental buyers/customer)
# A Qini coefficient on the ~1,200 participants per campaign of the CI data is
# dominated by outcome noise (a score correlated 0.5 with the true effect can
# land anywhere in +-0.007), so the uplift proof has its own larger data set:
# about 11,000 participants per campaign.
UPLIFT_CUSTOMERS = 50_000
UPLIFT_SEED = 11


@pytest.fixture(scope="module")
def truth(ci_raw_dir) -> pd.DataFrame:
    return proofs.read_truth(ci_raw_dir)


def test_churn_auc_is_within_margin_of_the_oracle(warehouse, truth):
    figures = proofs.churn_auc(warehouse, truth)
    assert figures["customers"] > 1000
    assert figures["model"] >= figures["oracle"] - AUC_MARGIN, figures


def test_purchase_propensity_auc_is_within_margin_of_the_oracle(warehouse, truth):
    figures = proofs.purchase_auc(warehouse, truth)
    assert figures["customers"] > 1000
    assert figures["model"] >= figures["oracle"] - AUC_MARGIN, figures


def test_clv_top_decile_capture_is_within_margin_of_the_oracle(warehouse, truth):
    figures = proofs.clv_capture(warehouse, truth)
    assert figures["model"] >= figures["oracle"] - CAPTURE_MARGIN, figures


def test_segments_recover_the_behavioral_personas(warehouse, truth):
    figures = proofs.segments_ari(warehouse, truth)
    assert figures["personas"] == len(BEHAVIORAL_PERSONAS)
    assert figures["model"] >= MIN_PERSONA_ARI, figures


def test_lookalikes_of_top_value_over_represent_rising_value(warehouse, truth):
    """Outside the seed (top predicted CLV), the customers growing into top
    value are what a lookalike audience should find first."""
    figures = proofs.lookalike_rising_lift(warehouse, truth)
    assert figures["top_tier"] >= 0.005 * figures["candidates"], figures
    assert figures["model"] >= MIN_RISING_LIFT, figures


def _uplift_build(run_dbt, tmp_path_factory):
    """Demo data of UPLIFT_CUSTOMERS customers, built up to train_uplift."""
    work = tmp_path_factory.mktemp("uplift")
    raw_dir, db_path = work / "raw", work / "uplift.duckdb"
    scale = ["--customers", str(UPLIFT_CUSTOMERS), "--seed", str(UPLIFT_SEED)]
    subprocess.run(
        [sys.executable, "-m", "predictive_segments.synth", "--out", raw_dir, *scale],
        check=True,
        capture_output=True,
    )
    result = run_dbt(
        ["build", "--select", "+train_uplift", "--exclude", "resource_type:test"],
        raw_dir,
        db_path,
        work,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    return db_path, raw_dir


# Generation and build take minutes: they start with the test session
# (conftest.Background).
BACKGROUND = {"uplift_build": _uplift_build}


@pytest.fixture(scope="module")
def uplift_build(background):
    """A connection to _uplift_build's warehouse, and its raw directory."""
    db_path, raw_dir = background.result(_uplift_build)
    connection = duckdb.connect(str(db_path), read_only=True)
    yield connection, raw_dir
    connection.close()


def test_uplift_qini_is_close_to_the_oracle(uplift_build):
    """Every randomized campaign with planted heterogeneous effects: the
    registry's out-of-fold Qini against the oracle's on the same customers."""
    connection, raw_dir = uplift_build
    campaigns = proofs.uplift_qini(connection, raw_dir)
    assert campaigns, "no uplift run in the registry"
    for campaign, figures in campaigns.items():
        assert figures["oracle"] > MIN_QINI_MARGIN, (campaign, figures)
        assert figures["model"] >= MIN_QINI_SHARE * figures["oracle"], (
            campaign,
            figures,
        )
        assert figures["model"] >= MIN_QINI_MARGIN, (campaign, figures)


def test_normalized_qini_is_over_the_perfect_ranking(uplift_build):
    """The registry's qini_normalized of each campaign (published as
    rpt_model_quality.qini_normalized): its out-of-fold Qini over the Qini
    of the perfect ranking (treated converters first, control converters
    last) of the same participants."""
    connection, _ = uplift_build
    examples = connection.execute(
        "select campaign_id, is_treated, has_converted from ml_uplift_examples"
    ).df()
    runs = connection.execute(
        "select model_kind, metrics from train_uplift "
        "where run_id = (select run_id from train_uplift order by trained_at desc "
        "limit 1) and model_kind like 'uplift:%'"
    ).df()
    assert len(runs)
    for run in runs.itertuples():
        metrics = json.loads(run.metrics)
        rows = examples[examples["campaign_id"] == run.model_kind.split(":", 1)[1]]
        y = rows["has_converted"].to_numpy(dtype=float)
        t = rows["is_treated"].to_numpy(dtype=float)
        perfect = qini_coefficient(y, t, y * t - y * (1 - t))
        assert metrics["qini_normalized"] == pytest.approx(
            metrics["qini_coefficient"] / perfect, rel=1e-9
        )
        assert metrics["qini_normalized"] <= 1
