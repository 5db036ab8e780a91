"""Tests of predictive_segments.metrics.

Small cases are computed by hand in the comments; larger ones compare with
independent formulas (Mann-Whitney for AUC, the accuracy ratio identity for
lift quality) and with an oracle that knows the planted treatment effect.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from predictive_segments import metrics as m

# --------------------------------------------------------------------------
# hand-computed cases


def test_roc_auc_hand():
    # positives 0.35, 0.8 vs negatives 0.1, 0.4: 3 of 4 pairs ordered -> 0.75
    assert m.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)


def test_pr_auc_hand():
    # ranking 1, 0, 1, 0: precision 1 at recall 0.5, 2/3 at recall 1
    ap = m.pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert ap == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_brier_and_log_loss_hand():
    assert m.brier([0, 1], [0.2, 0.6]) == pytest.approx((0.04 + 0.16) / 2)
    expected = -(math.log(0.8) + math.log(0.6)) / 2
    assert m.log_loss([1, 0], [0.8, 0.4]) == pytest.approx(expected)
    # a confident mistake is large but finite
    assert np.isfinite(m.log_loss([1, 0], [0.0, 1.0]))


def test_lift_quality_hand():
    # gains at x = .25 steps: 0, .5, .5, 1, 1 -> area .625, .125 above diagonal;
    # perfect model with base rate .5 has .25 above it -> 50 %
    assert m.lift_quality([1, 0, 1, 0], [4, 3, 2, 1]) == pytest.approx(50.0)


def test_mae_rmse_hand():
    assert m.mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert m.rmse([1, 2, 3], [2, 2, 5]) == pytest.approx(math.sqrt(5 / 3))


def test_qini_curve_and_coefficient_hand():
    # targeted in order: treated responder, treated non-responder, control
    # responder, control non-responder.
    # k=1: 1 - 0 = 1; k=2: 1 - 0 = 1 (no control yet); k=3: 1 - 1*2/1 = -1;
    # k=4: 1 - 1*2/2 = 0
    curve = m.qini_curve([1, 0, 1, 0], [1, 1, 0, 0], [4, 3, 2, 1])
    assert list(curve.columns) == ["fraction_targeted", "incremental_responders"]
    np.testing.assert_allclose(curve["fraction_targeted"], [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(curve["incremental_responders"], [0, 1, 1, -1, 0])
    # random line is 0 (total is 0); trapezoids .125 + .25 + 0 - .125 = .25, / 4
    assert m.qini_coefficient([1, 0, 1, 0], [1, 1, 0, 0], [4, 3, 2, 1]) == (
        pytest.approx(0.0625)
    )


def test_auuc_hand():
    # uplift curve: 0, 0, 0 (no control before k=3), (0.5 - 1) * .75, 0
    # area: .25 * (-.375) / 2 * 2 = -.09375
    assert m.auuc([1, 0, 1, 0], [1, 1, 0, 0], [4, 3, 2, 1]) == pytest.approx(-0.09375)


def test_adjusted_rand_hand():
    # contingency sum C(n_ij, 2) = 1, rows 2, columns 1, C(4, 2) = 6:
    # (1 - 2/6) / (1.5 - 2/6) = 4/7
    assert m.adjusted_rand([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)
    # names of labels do not matter
    assert m.adjusted_rand([1, 1, 2, 2, 3], ["b", "b", "a", "a", "c"]) == 1.0


def test_calibration_by_decile_hand():
    p = np.arange(20) / 20
    y = (np.arange(20) >= 14).astype(int)
    table = m.calibration_by_decile(y, p)
    assert list(table.columns) == [
        "decile",
        "mean_predicted",
        "observed_rate",
        "customers",
    ]
    assert table["decile"].tolist() == list(range(1, 11))
    assert table["customers"].tolist() == [2] * 10
    # decile 1 holds p = 0, .05; decile 10 holds .9, .95; 14, 15 split decile 8
    np.testing.assert_allclose(table["mean_predicted"], (p[::2] + p[1::2]) / 2)
    np.testing.assert_allclose(table["observed_rate"], [0] * 7 + [1] * 3)


# --------------------------------------------------------------------------
# properties on larger data


def test_roc_auc_equals_mann_whitney_with_ties():
    rng = np.random.default_rng(1)
    y = rng.random(3000) < 0.3
    s = np.round(y + rng.normal(size=3000), 1)  # many ties
    ranks = rankdata(s)
    n1, n0 = y.sum(), (~y).sum()
    mann_whitney = (ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    assert m.roc_auc(y, s) == pytest.approx(mann_whitney, rel=1e-12)


def test_lift_quality_perfect_inverted_random_and_ties():
    rng = np.random.default_rng(2)
    n = 200_000
    y = (rng.random(n) < 0.2).astype(int)
    assert m.lift_quality(y, y) == pytest.approx(100.0)
    assert m.lift_quality(y, -y) == pytest.approx(-100.0)
    # a constant score is exactly random: ties are interpolated
    assert m.lift_quality(y, np.zeros(n)) == pytest.approx(0.0, abs=1e-9)
    # random scores: the standard error is about 0.3 points at this size
    assert abs(m.lift_quality(y, rng.random(n))) < 1.5
    noisy = np.round(y + rng.normal(size=n), 1)
    lq = m.lift_quality(y, noisy)
    assert 0 < lq < 100
    assert m.lift_quality(y, -noisy) == pytest.approx(-lq)
    # the accuracy-ratio identity, ties included
    assert lq == pytest.approx(100 * (2 * m.roc_auc(y, noisy) - 1), rel=1e-9)


def test_pr_auc_random_is_base_rate():
    rng = np.random.default_rng(3)
    y = rng.random(100_000) < 0.1
    assert m.pr_auc(y, rng.random(100_000)) == pytest.approx(y.mean(), abs=0.01)
    assert m.pr_auc(y, y) == pytest.approx(1.0)


def test_calibration_of_true_probabilities():
    rng = np.random.default_rng(4)
    p = rng.beta(1, 4, size=100_000)
    y = rng.random(p.size) < p
    table = m.calibration_by_decile(y, p)
    assert table["customers"].sum() == p.size
    # 10 000 customers a decile: observed rate within 4 binomial s.e. (<= .02)
    np.testing.assert_allclose(
        table["observed_rate"], table["mean_predicted"], atol=0.02
    )
    assert table["mean_predicted"].is_monotonic_increasing


def test_decile_sizes_uneven_and_small():
    table = m.value_by_decile(np.ones(25), np.arange(25))
    assert table["customers"].sum() == 25
    assert table["customers"].max() - table["customers"].min() <= 1
    # decile 10 is the ceil(25 / 10) = 3 highest predictions
    assert table.loc[table["decile"] == 10, "mean_predicted"].item() == 23.0
    small = m.value_by_decile([1, 2, 3], [3, 2, 1])
    assert small["customers"].sum() == 3
    assert len(small) == 3


def test_top_decile_capture_perfect_equals_true_share():
    rng = np.random.default_rng(5)
    n = 10_003
    actual = rng.lognormal(3, 1.2, size=n) * (rng.random(n) < 0.6)
    k = math.ceil(n / 10)
    true_share = np.sort(actual)[-k:].sum() / actual.sum()
    assert m.top_decile_capture(actual, actual) == pytest.approx(true_share)
    # a noisy prediction captures less, a random one about 10 %
    noisy = actual * rng.lognormal(0, 1, size=n)
    assert m.top_decile_capture(actual, noisy) < true_share
    assert m.top_decile_capture(actual, rng.random(n)) == pytest.approx(0.1, abs=0.03)


def test_top_decile_capture_ties_by_position_and_matches_table():
    # all predictions tie: the first ceil(10/10) = 1 row is the top decile
    assert m.top_decile_capture(np.arange(10.0), np.zeros(10)) == 0.0
    assert m.top_decile_capture(np.arange(10.0)[::-1], np.zeros(10)) == (
        pytest.approx(9 / 45)
    )
    rng = np.random.default_rng(6)
    actual = rng.gamma(2, 50, size=997)
    predicted = np.round(actual + rng.normal(0, 40, size=997), -1)
    table = m.value_by_decile(actual, predicted)
    assert table["share_of_actual"].sum() == pytest.approx(1.0)
    assert table.loc[table["decile"] == 10, "share_of_actual"].item() == (
        pytest.approx(m.top_decile_capture(actual, predicted))
    )


def _randomized_trial(seed: int, n: int = 50_000):
    """A 50/50 randomized campaign with a treatment effect tau that varies."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    tau = np.clip(0.08 + 0.08 * x, -0.1, 0.3)
    base = 0.1 + 0.05 * rng.random(n)
    treated = (rng.random(n) < 0.5).astype(float)
    outcome = (rng.random(n) < base + treated * tau).astype(float)
    return outcome, treated, tau, rng.random(n)


def test_qini_true_uplift_beats_random_and_matches_oracle():
    outcome, treated, tau, random_score = _randomized_trial(7)
    n = outcome.size
    q_true = m.qini_coefficient(outcome, treated, tau)
    q_random = m.qini_coefficient(outcome, treated, random_score)
    # across 30 simulated trials the random Qini had s.d. 0.0005 and the true
    # one was about 0.011
    assert abs(q_random) < 0.002
    assert q_true > q_random + 0.005
    assert m.qini_coefficient(outcome, treated, -tau) < -0.005
    # oracle: the expected incremental responders among the targeted treated
    # are the sum of their true effects
    order = np.argsort(-tau, kind="stable")
    x = np.arange(n + 1) / n
    q = np.r_[0.0, np.cumsum((treated * tau)[order])]
    oracle = np.trapezoid(q - x * q[-1], x) / n
    assert q_true == pytest.approx(oracle, abs=0.002)


def _qini_auc_score_reference(y, uplift, treatment):
    """scikit-uplift's qini_auc_score (negative_effect=True), written out:
    x in customers, one point per distinct score, areas by the trapezoid."""

    def curve(score):
        order = np.argsort(score, kind="mergesort")[::-1]
        ys, ts, ss = y[order], treatment[order], score[order]
        ends = np.r_[np.where(np.diff(ss))[0], ss.size - 1]
        n_t = np.cumsum(ts)[ends]
        r_t = np.cumsum(ys * ts)[ends]
        r_c = np.cumsum(ys * (1 - ts))[ends]
        n_all = ends + 1.0
        n_c = n_all - n_t
        q = r_t - r_c * np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c != 0)
        return np.r_[0.0, n_all], np.r_[0.0, q]

    x, q = curve(uplift)
    xp, qp = curve(y * treatment - y * (1 - treatment))
    baseline = np.trapezoid([0.0, qp[-1]], [0.0, xp[-1]])
    return (np.trapezoid(q, x) - baseline) / (np.trapezoid(qp, xp) - baseline)


def test_qini_normalized_is_one_for_the_perfect_ranking_and_zero_at_random():
    outcome, treated, tau, random_score = _randomized_trial(9)
    perfect = outcome * treated - outcome * (1 - treated)
    assert m.qini_normalized(outcome, treated, perfect) == pytest.approx(1.0)
    # The s.d. of a random score's normalized Qini is about 0.01 here.
    assert abs(m.qini_normalized(outcome, treated, random_score)) < 0.03
    assert m.qini_normalized(outcome, treated, -perfect) < -0.5
    true = m.qini_normalized(outcome, treated, tau)
    assert 0 < true < 1
    # The coefficient over the perfect coefficient, as scikit-uplift defines it.
    for score in (tau, random_score, np.round(tau, 2)):
        assert m.qini_normalized(outcome, treated, score) == pytest.approx(
            _qini_auc_score_reference(outcome, score, treated), rel=1e-9
        )


def test_qini_normalized_without_responders_is_nan():
    treated = np.array([1.0, 0.0, 1.0, 0.0])
    assert math.isnan(m.qini_normalized(np.zeros(4), treated, [0.1, 0.2, 0.3, 0.4]))


def test_auuc_true_uplift_beats_random():
    outcome, treated, tau, random_score = _randomized_trial(8)
    a_true = m.auuc(outcome, treated, tau)
    a_random = m.auuc(outcome, treated, random_score)
    # random targeting: effect grows linearly with x, area = ATE / 2
    # (s.d. across trials about 0.002)
    assert a_random == pytest.approx(tau.mean() / 2, abs=0.008)
    assert a_true > a_random + 0.01


def test_metrics_accept_series_and_booleans():
    y = pd.Series([True, False, True, False])
    s = pd.Series([0.9, 0.2, 0.6, 0.4])
    assert m.roc_auc(y, s) == 1.0
    assert m.brier(y.astype("Int64"), s) == pytest.approx(
        np.mean((s - y.astype(float)) ** 2)
    )


# --------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    "func",
    [m.roc_auc, m.pr_auc, m.brier, m.log_loss, m.lift_quality, m.mae, m.rmse],
)
def test_length_mismatch(func):
    with pytest.raises(ValueError, match="same length"):
        func([0, 1, 0], [0.1, 0.2])


@pytest.mark.parametrize(
    "func",
    [m.roc_auc, m.brier, m.lift_quality, m.calibration_by_decile, m.mae],
)
def test_nan_rejected(func):
    with pytest.raises(ValueError, match="missing or infinite"):
        func([0, 1, 0, 1], [0.1, np.nan, 0.3, 0.4])


def test_non_binary_and_single_class_and_bad_probabilities():
    with pytest.raises(ValueError, match="binary labels"):
        m.roc_auc([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="both classes"):
        m.roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="both classes"):
        m.lift_quality([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="at least one positive"):
        m.pr_auc([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        m.brier([0, 1], [0.1, 1.2])
    with pytest.raises(ValueError, match="empty"):
        m.mae([], [])
    with pytest.raises(ValueError, match="numeric"):
        m.mae(["a", "b"], [1, 2])
    with pytest.raises(ValueError, match="positive total"):
        m.top_decile_capture([0, 0], [1, 2])
    with pytest.raises(ValueError, match="missing labels"):
        m.adjusted_rand([1, None, 2], [1, 1, 2])


def test_uplift_validation():
    with pytest.raises(ValueError, match="Qini needs a binary outcome"):
        m.qini_coefficient([0, 3.5, 1, 0], [1, 1, 0, 0], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="Qini needs a binary outcome"):
        m.qini_curve([0, 3.5, 1, 0], [1, 1, 0, 0], [1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"treated.*control"):
        m.qini_coefficient([0, 1, 1, 0], [1, 1, 1, 1], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="same length"):
        m.auuc([0, 1, 1], [1, 0, 1, 0], [1, 2, 3, 4])
    # auuc accepts a continuous outcome (e.g. revenue)
    assert np.isfinite(m.auuc([0, 3.5, 1, 0], [1, 1, 0, 0], [1, 2, 3, 4]))
