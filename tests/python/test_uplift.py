"""Tests for predictive_segments.uplift: planted heterogeneous effects vs the oracle."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from predictive_segments.metrics import qini_coefficient
from predictive_segments.uplift import (
    GROUPS,
    TLearner,
    UpliftChoice,
    XLearner,
    check_arms,
    choose_uplift_model,
    cross_fitted_uplift,
    uplift_groups,
    uplift_model_from_bytes,
    uplift_runs,
)

# One thread: the test machine is shared, and OpenMP threads that wait for
# each other under load make timings erratic.
NTHREAD = 1
PERSUADABLE_EFFECT = 0.15
SLEEPING_DOG_EFFECT = -0.10
# Fewer, larger boosting steps where the default settings are not under test.
FAST = {"num_boost_round": 100, "eta": 0.1}


def simulate_trial(n: int, seed: int) -> dict:
    """A randomized campaign (50 % treated) with a planted heterogeneous effect.

    Persuadables (x0 > 0.5, about 31 %) convert 15 points more when contacted;
    sleeping dogs (x1 > 0.7 among the rest, about 17 %) 10 points less; the
    others are unaffected. The baseline conversion depends on x2 plus noise the
    features do not explain (about 25 % on average).
    """
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{j}": rng.normal(size=n) for j in range(6)})
    persuadable = X["x0"].to_numpy() > 0.5
    sleeping_dog = (X["x1"].to_numpy() > 0.7) & ~persuadable
    noise = rng.normal(scale=0.5, size=n)
    baseline = 1.0 / (1.0 + np.exp(-(-1.2 + 0.8 * X["x2"].to_numpy() + noise)))
    effect = np.where(
        persuadable,
        PERSUADABLE_EFFECT,
        np.where(sleeping_dog, SLEEPING_DOG_EFFECT, 0.0),
    )
    treated = (rng.random(n) < 0.5).astype(int)
    p = np.clip(baseline + treated * effect, 0.0, 1.0)
    converted = (rng.random(n) < p).astype(int)
    revenue = converted * rng.gamma(4.0, 15.0, size=n)
    return {
        "X": X,
        "treated": treated,
        "converted": converted,
        "revenue": revenue,
        "effect": effect,
        "persuadable": persuadable,
        "sleeping_dog": sleeping_dog,
    }


@pytest.fixture(scope="module")
def trial():
    return simulate_trial(8000, seed=1)


@pytest.fixture(scope="module")
def test_trial():
    # An independent held-out campaign from the same population.
    return simulate_trial(8000, seed=2)


@pytest.fixture(scope="module")
def chosen(trial):
    return choose_uplift_model(
        trial["X"], trial["treated"], trial["converted"], seed=3, nthread=NTHREAD
    )


def test_check_arms():
    ok, reason = check_arms(np.ones(5000))
    assert not ok and "no control group" in reason
    ok, reason = check_arms(np.r_[np.ones(50), np.zeros(50)])
    assert not ok and "50 treated and 50 control" in reason and "100" in reason
    ok, reason = check_arms(np.r_[np.ones(500), np.zeros(400)])
    assert ok and "500 treated and 400 control" in reason
    flat = np.r_[np.ones(500), np.zeros(400)]
    ok, reason = check_arms(flat, outcome=np.r_[np.ones(500), np.zeros(400)])
    assert not ok and "no contrast" in reason
    with pytest.raises(ValueError, match="0/1"):
        check_arms(np.array([0, 1, 2]))


def test_not_eligible_campaigns_raise_clear_errors(trial):
    X, y = trial["X"], trial["converted"]
    with pytest.raises(ValueError, match="no control group"):
        choose_uplift_model(X, np.ones(len(X), dtype=int), y)
    small = np.r_[np.ones(50), np.zeros(50)].astype(int)
    with pytest.raises(ValueError, match="at least 100 per arm"):
        choose_uplift_model(X.iloc[:100], small, y[:100])


def test_qini_needs_binary_outcome(trial):
    X, t = trial["X"], trial["treated"]
    with pytest.raises(ValueError, match="Qini needs a binary outcome"):
        choose_uplift_model(X, t, trial["revenue"])
    with pytest.raises(ValueError, match="Qini needs a binary outcome"):
        qini_coefficient(trial["revenue"], t, np.zeros(len(t)))


def test_chosen_model_close_to_oracle(chosen, trial, test_trial):
    model, report, _ = chosen
    X, t, y = test_trial["X"], test_trial["treated"], test_trial["converted"]
    model_qini = qini_coefficient(y, t, model.predict_uplift(X))
    oracle_qini = qini_coefficient(y, t, test_trial["effect"])
    # The simulated campaign must have something to find.
    assert oracle_qini > 0.005, oracle_qini
    # Margin: at least 60 % of the oracle's Qini on a campaign the model never
    # saw, so at least 0.003 incremental converters per customer above random.
    assert model_qini >= 0.6 * oracle_qini, (model_qini, oracle_qini)

    assert report["chosen"] in ("t_learner", "x_learner")
    best = report["models"][report["chosen"]]
    other = next(v for k, v in report["models"].items() if k != report["chosen"])
    assert best["qini_coefficient"] >= other["qini_coefficient"]
    assert best["auuc"] > report["random"]["auuc"]
    assert "binary" in report["qini_outcome"]
    assert report["n_folds"] == 4
    assert report["n_rows"] == len(trial["X"])
    assert "out-of-fold over all 8000 participants" in report["evaluation"]
    assert not {"n_train", "n_holdout", "holdout_share"} & set(report)


def test_cross_fitted_qini_close_to_oracle_on_same_rows(chosen, trial):
    """The proof the registry metric allows: same rows, true effects as oracle."""
    model, report, out_of_fold = chosen
    t, y = trial["treated"], trial["converted"]
    assert isinstance(chosen, UpliftChoice) and chosen.model is model
    best = report["models"][report["chosen"]]
    # The reported Qini is the Qini of the returned out-of-fold predictions.
    assert best["qini_coefficient"] == qini_coefficient(y, t, out_of_fold)
    oracle_qini = qini_coefficient(y, t, trial["effect"])
    assert oracle_qini > 0.005, oracle_qini
    # Margin: 60 % of the oracle's Qini on the very rows it was computed on
    # (about 0.8 today), and 0.003 incremental converters per customer above
    # random targeting.
    assert best["qini_coefficient"] >= 0.6 * oracle_qini, (best, oracle_qini)
    assert best["qini_coefficient"] > report["random"]["qini_coefficient"] + 0.003
    # Random scores over all rows have a Qini near 0.
    assert abs(report["random"]["qini_coefficient"]) < 0.003, report["random"]


def test_out_of_fold_predictions_cover_every_row(chosen, trial):
    _, report, out_of_fold = chosen
    assert out_of_fold.shape == (len(trial["X"]),)
    assert np.isfinite(out_of_fold).all()
    # One model per fold: as many distinct predictions as rows, not a constant.
    assert np.unique(out_of_fold).size > 0.9 * out_of_fold.size
    # Out-of-fold predictions are not the refitted model's in-sample ones.
    in_sample = chosen.model.predict_uplift(trial["X"])
    assert not np.array_equal(in_sample, out_of_fold)
    assert report["n_rows"] == out_of_fold.size


def test_out_of_fold_prediction_ignores_own_outcome(trial):
    """Each row is predicted by models that never saw it.

    The folds are stratified by arm and conversion, so the conversion flag is
    held fixed and one converter's revenue is changed: its own out-of-fold
    uplift must not move, while rows in other folds (whose models were trained
    on it) do, which shows the change reaches the training data.
    """
    rows = slice(0, 3000)
    X, t = trial["X"].iloc[rows], trial["treated"][rows]
    converted, revenue = trial["converted"][rows], trial["revenue"][rows].copy()
    i = int(np.flatnonzero((converted == 1) & (t == 1))[0])
    kwargs = {"nthread": NTHREAD, "seed": 2, "conversion": converted}
    for kind, params in (("t_learner", FAST), ("x_learner", {"num_boost_round": 40})):
        before = cross_fitted_uplift(X, t, revenue, kind, params=params, **kwargs)
        changed = revenue.copy()
        changed[i] = 5000.0
        after = cross_fitted_uplift(X, t, changed, kind, params=params, **kwargs)
        assert after[i] == before[i], kind
        moved = np.flatnonzero(after != before)
        assert moved.size > 0.5 * len(X), (kind, moved.size)
        assert i not in moved


def test_cross_fitted_uplift_matches_choice(trial):
    rows = slice(0, 3000)
    X, t, y = trial["X"].iloc[rows], trial["treated"][rows], trial["converted"][rows]
    small = {"num_boost_round": 40, "eta": 0.1}
    choice = choose_uplift_model(X, t, y, seed=6, nthread=NTHREAD, params=small)
    for kind in ("t_learner", "x_learner"):
        oof = cross_fitted_uplift(X, t, y, kind, seed=6, nthread=NTHREAD, params=small)
        # The selection trains the T-learner as the X-learner's first stage;
        # fitting it alone gives the same predictions, bit for bit.
        assert choice.report["models"][kind]["qini_coefficient"] == (
            qini_coefficient(y, t, oof)
        )
        if kind == choice.report["chosen"]:
            np.testing.assert_array_equal(oof, choice.out_of_fold_uplift)
    # Other folds (another seed) give other predictions.
    other = cross_fitted_uplift(X, t, y, seed=7, nthread=NTHREAD, params=small)
    assert not np.array_equal(
        other, cross_fitted_uplift(X, t, y, seed=6, nthread=NTHREAD, params=small)
    )


def test_capped_training_rows(trial):
    """With max_training_rows every model trains on a seeded sample of at most
    that many rows, yet every row is still scored out of fold."""
    from predictive_segments.uplift import _capped_rows

    rows = slice(0, 3000)
    X, t, y = trial["X"].iloc[rows], trial["treated"][rows], trial["converted"][rows]
    small = {"num_boost_round": 40, "eta": 0.1}
    kwargs = {"seed": 6, "nthread": NTHREAD, "params": small}
    capped = choose_uplift_model(X, t, y, max_training_rows=1000, **kwargs)
    assert capped.report["max_training_rows"] == 1000
    assert capped.report["refit_rows"] == 1000
    assert capped.report["n_rows"] == 3000
    assert np.isfinite(capped.out_of_fold_uplift).all()
    np.testing.assert_array_equal(
        capped.out_of_fold_uplift,
        cross_fitted_uplift(
            X, t, y, capped.report["chosen"], max_training_rows=1000, **kwargs
        ),
    )
    again = choose_uplift_model(X, t, y, max_training_rows=1000, **kwargs)
    np.testing.assert_array_equal(again.out_of_fold_uplift, capped.out_of_fold_uplift)
    assert again.model.to_bytes() == capped.model.to_bytes()
    full = choose_uplift_model(X, t, y, **kwargs)
    assert full.report["refit_rows"] == 3000
    assert not np.array_equal(full.out_of_fold_uplift, capped.out_of_fold_uplift)
    # A cap above the row count changes nothing.
    loose = choose_uplift_model(X, t, y, max_training_rows=3000, **kwargs)
    np.testing.assert_array_equal(loose.out_of_fold_uplift, full.out_of_fold_uplift)
    assert loose.model.to_bytes() == full.model.to_bytes()
    # The sample: sorted, without repeats, from the given rows, seeded.
    pool = np.arange(10, 5000, 3)
    picked = _capped_rows(pool, 200, seed=6, draw=1)
    assert picked.size == 200 and np.all(np.diff(picked) > 0)
    assert np.isin(picked, pool).all()
    np.testing.assert_array_equal(picked, _capped_rows(pool, 200, seed=6, draw=1))
    assert not np.array_equal(picked, _capped_rows(pool, 200, seed=6, draw=2))
    assert _capped_rows(pool, None, seed=6, draw=1) is pool
    for bad in (1, True, 2.5):
        with pytest.raises(ValueError, match="max_training_rows"):
            choose_uplift_model(X, t, y, max_training_rows=bad, **kwargs)


def test_groups_recover_planted_subgroups(chosen, test_trial):
    model, _, _ = chosen
    X = test_trial["X"]
    arms = model.predict_arms(X)
    groups = uplift_groups(
        arms["p_treated"], arms["p_control"], model.predict_uplift(X)
    )
    assert set(groups) <= set(GROUPS)
    dog_share = np.mean(groups[test_trial["sleeping_dog"]] == "sleeping dog")
    persuaded_share = np.mean(groups[test_trial["persuadable"]] == "persuadable")
    # Majority required (random labelling would give about 1/4); persuadables,
    # the larger effect, must be recovered more reliably.
    assert dog_share > 0.5, dog_share
    assert persuaded_share > 0.8, persuaded_share


def test_uplift_groups_rules():
    p_treated = np.array([0.40, 0.10, 0.60, 0.05])
    p_control = np.array([0.20, 0.25, 0.59, 0.05])
    uplift = p_treated - p_control
    # Default baseline threshold: mean p_control = 0.2725.
    groups = uplift_groups(p_treated, p_control, uplift, threshold=0.05)
    assert list(groups) == ["persuadable", "sleeping dog", "sure thing", "lost cause"]
    # An explicit baseline threshold moves customers between sure thing and
    # lost cause only.
    high = uplift_groups(p_treated, p_control, uplift, 0.05, baseline_threshold=0.7)
    assert high[2] == "lost cause"
    with pytest.raises(ValueError, match="missing or infinite"):
        uplift_groups(np.array([np.nan]), np.array([0.1]), np.array([0.0]))


def test_t_learner_arms_match_planted_rates(trial, test_trial):
    model = TLearner(seed=1, nthread=NTHREAD, params=FAST).fit(
        trial["X"], trial["treated"], trial["converted"]
    )
    arms = model.predict_arms(test_trial["X"])
    uplift = model.predict_uplift(test_trial["X"])
    np.testing.assert_allclose(uplift, arms["p_treated"] - arms["p_control"])
    # Mean predicted uplift per planted subgroup is near its planted effect.
    for mask, effect in (
        (test_trial["persuadable"], PERSUADABLE_EFFECT),
        (test_trial["sleeping_dog"], SLEEPING_DOG_EFFECT),
    ):
        assert abs(uplift[mask].mean() - effect) < 0.05, (effect, uplift[mask].mean())


def test_revenue_outcome(trial, test_trial):
    X, t = trial["X"], trial["treated"]
    model = XLearner(seed=1, nthread=NTHREAD, params=FAST, propensity=0.5)
    model.fit(X, t, trial["revenue"])
    assert model.binary_ is False
    uplift = model.predict_uplift(test_trial["X"])
    # Planted revenue effect = conversion effect x mean order value (60 EUR).
    persuadable = uplift[test_trial["persuadable"]].mean()
    assert 0.15 * 60 * 0.5 < persuadable < 0.15 * 60 * 1.5, persuadable
    # Choosing a revenue model needs the conversion flag for the Qini.
    small = {"num_boost_round": 60, "eta": 0.1}
    _, report, oof = choose_uplift_model(
        X,
        t,
        trial["revenue"],
        seed=4,
        nthread=NTHREAD,
        conversion=trial["converted"],
        params=small,
    )
    assert report["qini_outcome"].startswith("conversion")
    assert "continuous" in report["auuc_outcome"]
    # Out-of-fold revenue uplift, in EUR: far outside the -1..1 of a probability.
    assert oof.shape == (len(X),) and np.abs(oof).max() > 1.0


def test_determinism_and_round_trip(trial, test_trial):
    X, t, y = trial["X"], trial["treated"], trial["converted"]
    params = {"num_boost_round": 60}
    Xte = test_trial["X"]
    for cls in (TLearner, XLearner):
        first = cls(seed=9, nthread=NTHREAD, params=params).fit(X, t, y)
        second = cls(seed=9, nthread=NTHREAD, params=params).fit(X, t, y)
        np.testing.assert_array_equal(
            first.predict_uplift(Xte), second.predict_uplift(Xte)
        )
        restored = uplift_model_from_bytes(first.to_bytes())
        assert type(restored) is cls
        np.testing.assert_array_equal(
            restored.predict_uplift(Xte), first.predict_uplift(Xte)
        )
        pd.testing.assert_frame_equal(
            restored.predict_arms(Xte), first.predict_arms(Xte)
        )
        assert cls.from_bytes(first.to_bytes()).to_bytes() == first.to_bytes()
    with pytest.raises(ValueError, match="not a t_learner"):
        TLearner.from_bytes(XLearner(nthread=1, params=params).fit(X, t, y).to_bytes())


@pytest.mark.parametrize("cls", [TLearner, XLearner])
@pytest.mark.parametrize("outcome", ["converted", "revenue"])
def test_predict_is_arms_and_uplift_at_once(trial, test_trial, cls, outcome):
    """predict() gives exactly predict_arms() and predict_uplift(), row for row."""
    model = cls(seed=2, nthread=NTHREAD, params={"num_boost_round": 30}).fit(
        trial["X"], trial["treated"], trial[outcome]
    )
    # A shuffled index: the result must follow X's rows and index.
    Xte = test_trial["X"].sample(frac=1.0, random_state=0)
    both = model.predict(Xte)
    assert list(both.columns) == ["p_treated", "p_control", "uplift"]
    pd.testing.assert_index_equal(both.index, Xte.index)
    pd.testing.assert_frame_equal(
        both[["p_treated", "p_control"]], model.predict_arms(Xte)
    )
    np.testing.assert_array_equal(both["uplift"].to_numpy(), model.predict_uplift(Xte))
    if cls is TLearner:
        np.testing.assert_array_equal(
            both["uplift"].to_numpy(),
            (both["p_treated"] - both["p_control"]).to_numpy(),
        )


def test_choose_is_deterministic(trial):
    args = (trial["X"], trial["treated"], trial["converted"])
    small = {"num_boost_round": 40, "eta": 0.1}
    model, report, oof = choose_uplift_model(
        *args, seed=5, nthread=NTHREAD, params=small
    )
    again_model, again_report, again_oof = choose_uplift_model(
        *args, seed=5, nthread=NTHREAD, params=small
    )
    assert again_report == report
    assert again_model.to_bytes() == model.to_bytes()
    np.testing.assert_array_equal(again_oof, oof)
    # Another seed gives other folds, hence other out-of-fold predictions.
    _, other_report, other_oof = choose_uplift_model(
        *args, seed=6, nthread=NTHREAD, params=small
    )
    assert not np.array_equal(other_oof, oof)
    assert other_report["models"] != report["models"]


def test_cross_fitting_needs_enough_rows_per_fold(trial):
    X, t, y = trial["X"], trial["treated"], trial["converted"]
    for bad in (1, 0, 2.5, True):
        with pytest.raises(ValueError, match="n_folds"):
            choose_uplift_model(X, t, y, n_folds=bad, nthread=NTHREAD)
    with pytest.raises(ValueError, match="n_folds"):
        check_arms(t, n_folds=1)
    # Five control converters: too few for 4 folds of at least two each.
    control_converters = np.flatnonzero((t == 0) & (y == 1))
    few = y.copy()
    few[control_converters[5:]] = 0
    with pytest.raises(ValueError, match="control arm has 5 converters; 4-fold"):
        choose_uplift_model(X, t, few, nthread=NTHREAD)
    ok, reason = check_arms(t, outcome=few, n_folds=4)
    assert not ok and "at least 8 per arm" in reason
    # Two folds need only four of each.
    assert check_arms(t, outcome=few, n_folds=2)[0]
    # Without an outcome, arms are counted.
    ok, reason = check_arms(np.r_[np.ones(7), np.zeros(9)], 1, n_folds=4)
    assert not ok and "treated arm has 7 customers" in reason
    with pytest.raises(ValueError, match="kind='s_learner'"):
        cross_fitted_uplift(X, t, y, "s_learner")
    with pytest.raises(ValueError, match="pass conversion="):
        cross_fitted_uplift(X, t, trial["revenue"])
    with pytest.raises(ValueError, match="one value per customer row"):
        cross_fitted_uplift(X, t[:-1], y[:-1])


def _examples(trial, rows: slice, campaign_id: str) -> pd.DataFrame:
    X = trial["X"].iloc[rows].reset_index(drop=True)
    return X.assign(
        customer_id=[f"{campaign_id}-{i:05d}" for i in range(len(X))],
        cutoff_date=pd.Timestamp("2024-03-01"),
        campaign_id=campaign_id,
        is_treated=trial["treated"][rows].astype(bool),
        has_converted=trial["converted"][rows].astype(bool),
        window_revenue=trial["revenue"][rows],
    )


def test_uplift_runs_record_out_of_fold_metrics(trial):
    spring = _examples(trial, slice(0, 1200), "spring")
    # A campaign with too few control converters for the folds.
    summer = _examples(trial, slice(1200, 1600), "summer")
    control_buyers = summer.index[~summer["is_treated"] & summer["has_converted"]]
    summer.loc[control_buyers[3:], "has_converted"] = False
    rows = uplift_runs(
        pd.concat([spring, summer], ignore_index=True),
        as_of_date=pd.Timestamp("2024-04-01"),
        run_id="test",
        trained_at=pd.Timestamp("2024-04-01"),
        min_qini=-1.0,
        min_per_arm=50,
        nthread=NTHREAD,
    )
    by_kind = {row["model_kind"]: row for row in rows}
    spring_row = by_kind["uplift:spring"]
    metrics = json.loads(spring_row["metrics"])
    assert spring_row["artifact"] is not None
    assert metrics["n_folds"] == 4 and metrics["n_rows"] == 1200
    assert "out-of-fold over all 1200 participants" in metrics["evaluation"]
    chosen = metrics["models"][metrics["chosen"]]
    assert metrics["qini_coefficient"] == chosen["qini_coefficient"]
    assert json.loads(spring_row["parameters"])["n_folds"] == 4
    summer_row = by_kind["uplift:summer"]
    assert summer_row["status"] == "insufficient_data"
    assert summer_row["artifact"] is None
    assert "control arm has 3 converters" in summer_row["reason"]


def test_bad_input_messages(trial):
    X, t, y = trial["X"], trial["treated"], trial["converted"]
    with pytest.raises(ValueError, match="one value per customer row"):
        TLearner(nthread=1).fit(X, t[:-1], y)
    with pytest.raises(ValueError, match="non-numeric"):
        TLearner(nthread=1).fit(X.assign(region="north"), t, y)
    with pytest.raises(ValueError, match="outcome_type='binary'"):
        TLearner(nthread=1, outcome_type="binary").fit(X, t, trial["revenue"])
    with pytest.raises(ValueError, match="propensity"):
        XLearner(propensity=1.0)
    with pytest.raises(ValueError, match="not fitted"):
        TLearner().predict_uplift(X)
