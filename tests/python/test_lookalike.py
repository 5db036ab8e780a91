"""Tests for predictive_segments.lookalike: planted seed recovery, out of fold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predictive_segments.lookalike import (
    TIERS,
    LookalikeModel,
    check_seed,
    lookalike_out_of_fold,
    lookalike_run,
    ranked_scores,
    score_latest_approved,
    seed_frame,
)
from predictive_segments.metrics import roc_auc

# One thread: the test machine is shared, and OpenMP threads that wait for
# each other under load make timings erratic.
NTHREAD = 1
# Small, fast boosters: the planted signal is strong.
PARAMS = {"num_boost_round": 50, "eta": 0.15}


def simulate(n: int = 8000, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Customers with a planted latent group that generates the seed.

    12 % of customers belong to the latent group (more orders, higher basket,
    more sessions); 20 % are registered users who never ordered (order count 0,
    basket value null). Half of the group members who ordered form the seed; the
    other half are the hidden lookalikes among the unlabeled.
    """
    rng = np.random.default_rng(seed)
    group = rng.random(n) < 0.12
    ordered = rng.random(n) < 0.8
    features = pd.DataFrame(
        {
            "orders": np.where(ordered, rng.poisson(np.where(group, 6, 2)), 0),
            "avg_basket": np.where(
                ordered, rng.normal(np.where(group, 80.0, 50.0), 15.0), np.nan
            ),
            "sessions_90d": rng.poisson(np.where(group, 12, 6)).astype(float),
            "tenure_days": rng.uniform(0, 700, n),
            "noise": rng.normal(size=n),
            "has_app": rng.random(n) < 0.3,
            "constant": 1.0,
            "all_null": np.nan,
        },
        index=pd.Index([f"c{i:05d}" for i in range(n)], name="customer_id"),
    )
    members = group & ordered
    is_seed = members & (rng.random(n) < 0.5)
    truth = {"group": members, "never_ordered": ~ordered}
    return features, is_seed, truth


@pytest.fixture(scope="module")
def planted():
    X, is_seed, truth = simulate()
    model = LookalikeModel(n_folds=5, seed=7, nthread=NTHREAD, params=PARAMS)
    scores = model.fit_score(X, is_seed)
    return X, is_seed, truth, model, scores


def test_check_seed_eligibility_and_warning():
    ok, reason, warning = check_seed(np.r_[np.ones(50), np.zeros(5000)].astype(bool))
    assert not ok
    assert "50" in reason and "100" in reason
    assert warning is None

    ok, reason, warning = check_seed(np.r_[np.ones(300), np.zeros(5000)] == 1)
    assert ok and reason is None
    assert "300" in warning

    ok, reason, warning = check_seed(np.r_[np.ones(2000), np.zeros(5000)] == 1)
    assert ok and reason is None and warning is None

    ok, reason, _ = check_seed(np.r_[np.ones(2000), np.zeros(20)] == 1)
    assert not ok and "outside the seed" in reason

    with pytest.raises(ValueError, match="0/1"):
        check_seed(np.array([1.0, np.nan, 0.0]))


def test_output_contract(planted):
    X, _, truth, _, scores = planted
    assert list(scores.columns) == [
        "lookalike_score",
        "lookalike_percentile",
        "lookalike_tier",
        "is_seed",
    ]
    assert scores.index.equals(X.index)
    assert scores["lookalike_score"].between(0, 1).all()
    # Registered users without orders (null basket) are scored like everyone.
    assert scores.loc[truth["never_ordered"], "lookalike_score"].notna().all()

    seed_rows = scores[scores["is_seed"]]
    rest = scores[~scores["is_seed"]]
    assert seed_rows["lookalike_percentile"].isna().all()
    assert seed_rows["lookalike_tier"].isna().all()
    assert rest["lookalike_percentile"].between(0, 100, inclusive="right").all()
    assert rest["lookalike_percentile"].max() == 100.0
    # Percentile is monotone in the score.
    ordered = rest.sort_values("lookalike_score")
    assert ordered["lookalike_percentile"].is_monotonic_increasing
    # Tier x holds the top x % of the non-seed ranking (ties may add a few).
    tiers = rest["lookalike_tier"]
    assert set(tiers.dropna().unique()) <= set(TIERS)
    for x in TIERS:
        share = ((tiers <= x) & tiers.notna()).sum() / len(rest)
        assert x / 100 <= share <= x / 100 + 0.005, (x, share)


def test_planted_group_recovered(planted):
    _, is_seed, truth, model, scores = planted
    # Held-out seed members (hidden among the unlabeled) land in the top tier
    # far more often than its size: lift >= 3 required (random = 1).
    assert model.top_tier_lift_ >= 3.0, model.evaluation_
    # With about 95 held-out members the top 1 % expects one of them by chance,
    # so the top-tier lift alone is noisy; the 5 % tier (about 5 by chance)
    # must show the same lift.
    assert model.evaluation_["lift_by_tier"][5] >= 3.0, model.evaluation_
    # Top 10 % of the ranking should hold most held-out seed members (random: 10 %).
    assert model.recall_by_tier_[10] >= 0.5, model.recall_by_tier_
    recalls = [model.recall_by_tier_[x] for x in TIERS]
    assert recalls == sorted(recalls)
    assert model.evaluation_["heldout_seed"] == round(0.2 * is_seed.sum())

    # The hidden lookalikes (unlabeled group members) dominate the top tier,
    # against a base rate of about 6 % among the non-seed customers.
    rest = ~is_seed
    top = (scores["lookalike_tier"] == 1).fillna(False).to_numpy()
    base_rate = truth["group"][rest].mean()
    assert base_rate < 0.1
    assert truth["group"][top].mean() >= 0.7

    assert "constant" in model.dropped_features_
    assert "all_null" in model.dropped_features_
    assert "avg_basket" in model.features_


def test_scores_are_out_of_fold_label_flip():
    X, is_seed, _ = simulate(n=2000, seed=3)
    kwargs = {"seed": 5, "nthread": NTHREAD, "params": PARAMS, "holdout_share": 0.0}
    base = LookalikeModel(**kwargs, final_model=False).fit_score(X, is_seed)
    row = int(np.flatnonzero(~is_seed)[0])
    flipped = is_seed.copy()
    flipped[row] = True
    after = LookalikeModel(**kwargs, final_model=False).fit_score(X, flipped)
    # The flipped row is scored by a model that never saw it: bit-identical.
    assert after["lookalike_score"].iloc[row] == base["lookalike_score"].iloc[row]
    # ...while rows scored by models that trained on it did move (the check
    # has power: an in-sample score would change for the flipped row too).
    changed = (after["lookalike_score"] != base["lookalike_score"]).to_numpy()
    assert changed.sum() > 100


def test_random_seed_gives_chance_scores_out_of_fold():
    # A seed drawn at random carries no signal. Out-of-fold scores must not
    # separate it (AUC within 0.5 +- 0.1), whereas in-sample scores of the same
    # booster memorise the labels (AUC > 0.75): a memorising model would fail.
    X, _, _ = simulate(n=2000, seed=11)
    is_seed = np.random.default_rng(12345).random(len(X)) < 0.08
    deep = {"num_boost_round": 60, "eta": 0.3, "max_depth": 6, "min_child_weight": 1}
    model = LookalikeModel(seed=2, nthread=NTHREAD, params=deep, holdout_share=0.0)
    scores = model.fit_score(X, is_seed)
    oof_auc = roc_auc(is_seed, scores["lookalike_score"])
    in_sample_auc = roc_auc(is_seed, model.score(X))
    assert abs(oof_auc - 0.5) < 0.1, oof_auc
    assert in_sample_auc > 0.75, in_sample_auc


def test_determinism_and_round_trip(planted):
    X, is_seed, _, model, scores = planted
    again = LookalikeModel(n_folds=5, seed=7, nthread=NTHREAD, params=PARAMS)
    pd.testing.assert_frame_equal(again.fit_score(X, is_seed), scores)
    assert again.recall_by_tier_ == model.recall_by_tier_

    restored = LookalikeModel.from_bytes(model.to_bytes())
    np.testing.assert_array_equal(restored.score(X), model.score(X))
    assert restored.features_ == model.features_
    assert restored.recall_by_tier_ == model.recall_by_tier_
    assert restored.top_tier_lift_ == model.top_tier_lift_
    # Column order of new data does not matter; missing columns are an error.
    shuffled = X[list(reversed(X.columns))]
    np.testing.assert_array_equal(restored.score(shuffled), model.score(X))
    with pytest.raises(ValueError, match="lacks feature columns"):
        restored.score(X.drop(columns=["orders"]))


def test_bad_input_messages():
    X, is_seed, _ = simulate(n=3000, seed=2)
    model = LookalikeModel(nthread=1, params=PARAMS)
    with pytest.raises(ValueError, match="non-numeric"):
        model.fit_score(X.assign(segment="a"), is_seed)
    with pytest.raises(ValueError, match="one seed flag per customer"):
        model.fit_score(X, is_seed[:-1])
    with pytest.raises(ValueError, match="at least 100"):
        model.fit_score(X, np.zeros(len(X), dtype=bool))
    with pytest.raises(ValueError, match="infinite"):
        model.fit_score(X.assign(noise=np.inf), is_seed)
    with pytest.raises(ValueError, match="constructor"):
        LookalikeModel(params={"seed": 3})
    with pytest.raises(ValueError, match="format"):
        LookalikeModel.from_bytes(b'{"format": "other"}')


def test_capped_unlabeled_rows_keep_the_ranking():
    # Boosters trained on a weighted sample of the unlabeled rows (here 1,500
    # of about 6,000 per fold) must still find the planted group: the same
    # lift gate as the full fit, and deterministic.
    X, is_seed, truth = simulate(n=8000, seed=1)
    kwargs = {"n_folds": 5, "seed": 7, "nthread": NTHREAD, "params": PARAMS}
    capped = LookalikeModel(**kwargs, max_unlabeled_rows=1500)
    scores = capped.fit_score(X, is_seed)
    assert capped.top_tier_lift_ >= 3.0, capped.evaluation_
    assert capped.evaluation_["lift_by_tier"][5] >= 3.0, capped.evaluation_
    top = (scores["lookalike_tier"] == 1).fillna(False).to_numpy()
    assert truth["group"][top].mean() >= 0.7
    again = LookalikeModel(**kwargs, max_unlabeled_rows=1500).fit_score(X, is_seed)
    pd.testing.assert_frame_equal(again, scores)
    # The cap changes the fit (it is applied), and survives serialization.
    full = LookalikeModel(**kwargs).fit_score(X, is_seed)
    assert not np.array_equal(full["lookalike_score"], scores["lookalike_score"])
    restored = LookalikeModel.from_bytes(capped.to_bytes())
    assert restored.max_unlabeled_rows == 1500
    with pytest.raises(ValueError, match="max_unlabeled_rows"):
        LookalikeModel(max_unlabeled_rows=0)


def test_run_reuses_the_out_of_fold_pass():
    # train_lookalike evaluates the pass score_lookalike_oof made: the registry
    # row and scores equal those of a run that fits the folds itself.
    X, is_seed, _ = simulate(n=3000, seed=4)
    customers = X.reset_index()
    features = [c for c in X.columns]
    common = {
        "features": features,
        "as_of_date": "2026-01-01",
        "run_id": "r",
        "trained_at": None,
        "min_top_tier_lift": 2.0,
        "seed": 3,
        "nthread": NTHREAD,
        "max_unlabeled_rows": 1000,
    }
    row, scores = lookalike_run(customers, is_seed, **common)
    oof = lookalike_out_of_fold(
        customers,
        is_seed,
        features=features,
        seed=3,
        nthread=NTHREAD,
        max_unlabeled_rows=1000,
    )
    assert oof["is_heldout_seed"].sum() == round(0.2 * is_seed.sum())
    assert not (oof["is_heldout_seed"] & ~oof["is_lookalike_seed"]).any()
    reused_row, reused_scores = lookalike_run(
        customers, is_seed, **common, out_of_fold=oof
    )
    assert reused_row["metrics"] == row["metrics"]
    assert reused_row["status"] == row["status"]
    pd.testing.assert_frame_equal(reused_scores, scores)
    with pytest.raises(ValueError, match="same customers"):
        lookalike_run(customers, ~is_seed, **common, out_of_fold=oof)


def _registry(*rows: dict, trained_at: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows))
    frame["trained_at"] = pd.to_datetime(trained_at)
    return frame


def test_serving_without_retraining_scores_with_the_latest_approved_model(
    monkeypatch,
):
    # retrain false: the final model of the newest approved run scores
    # everyone, ranked like an out-of-fold pass; a newer rejected run and an
    # older approved one do not serve; nothing is fitted.
    X, is_seed, _ = simulate(n=3000, seed=5)
    customers = X.reset_index()
    common = {
        "features": list(X.columns),
        "as_of_date": "2026-01-01",
        "run_id": "r",
        "trained_at": None,
        "min_top_tier_lift": 2.0,
        "nthread": NTHREAD,
        "max_unlabeled_rows": 1000,
    }
    older, _ = lookalike_run(customers, is_seed, seed=1, **common)
    serving, _ = lookalike_run(customers, is_seed, seed=2, **common)
    assert older["status"] == serving["status"] == "approved"
    assert older["model_version"] != serving["model_version"]
    rejected = {**serving, "status": "rejected", "model_version": "newer"}
    rows = _registry(
        older, serving, rejected, trained_at=["2026-01-01", "2026-01-02", "2026-01-03"]
    )
    # Same seed mask as at training, shuffled rows: rows are matched by position.
    order = np.random.default_rng(0).permutation(len(customers))
    shuffled = customers.iloc[order].reset_index(drop=True)

    def no_fitting(*args, **kwargs):
        raise AssertionError("a model was fitted")

    monkeypatch.setattr(LookalikeModel, "_train", no_fitting)
    out = score_latest_approved(rows, shuffled, is_seed[order])
    final = LookalikeModel.from_bytes(serving["artifact"])
    expected = ranked_scores(final.score(shuffled), is_seed[order])
    assert list(out.columns) == [
        "lookalike_score",
        "lookalike_percentile",
        "lookalike_tier",
        "lookalike_model_version",
        "lookalike_note",
    ]
    np.testing.assert_array_equal(out["lookalike_score"], expected["lookalike_score"])
    np.testing.assert_array_equal(
        out["lookalike_percentile"], expected["lookalike_percentile"]
    )
    pd.testing.assert_series_equal(
        out["lookalike_tier"], expected["lookalike_tier"], check_names=False
    )
    assert (out["lookalike_model_version"] == serving["model_version"]).all()
    assert out["lookalike_note"].isna().all()
    seed = is_seed[order]
    assert out.loc[seed, "lookalike_tier"].isna().all()
    assert out.loc[seed, "lookalike_percentile"].isna().all()
    # Every tier is filled among the non-seed customers, 10 % in all.
    tiers = out.loc[~seed, "lookalike_tier"]
    assert set(tiers.dropna()) == set(TIERS)
    assert tiers.notna().sum() == pytest.approx(0.1 * (~seed).sum(), abs=2)
    # Deterministic: a second build on the same data gives the same scores.
    pd.testing.assert_frame_equal(
        score_latest_approved(rows, shuffled, is_seed[order]), out
    )


def test_serving_without_an_approved_model_says_why():
    X, is_seed, _ = simulate(n=400, seed=6)
    customers = X.reset_index()
    rows = _registry(
        {
            "model_kind": "lookalike",
            "model_version": "v1",
            "status": "insufficient_data",
            "reason": "seed has 20 customers",
            "artifact": None,
        },
        trained_at=["2026-01-01"],
    )
    out = score_latest_approved(rows, customers, is_seed)
    assert len(out) == len(customers)
    assert out[["lookalike_score", "lookalike_percentile"]].isna().all().all()
    assert out["lookalike_tier"].isna().all()
    assert out["lookalike_model_version"].isna().all()
    assert (
        out["lookalike_note"]
        == "no approved lookalike model: the latest run was insufficient_data "
        "(seed has 20 customers)"
    ).all()
    never = score_latest_approved(rows.iloc[:0], customers, is_seed)
    assert (never["lookalike_note"] == "no lookalike model has been trained yet").all()
    with pytest.raises(ValueError, match="one seed flag per customer"):
        score_latest_approved(rows, customers, is_seed[:-1])


def test_serving_stops_when_a_trained_feature_is_gone():
    X, is_seed, _ = simulate(n=3000, seed=8)
    customers = X.reset_index()
    row, _ = lookalike_run(
        customers,
        is_seed,
        features=list(X.columns),
        as_of_date="2026-01-01",
        run_id="r",
        trained_at=None,
        min_top_tier_lift=0.0,
        seed=1,
        nthread=NTHREAD,
    )
    assert row["status"] == "approved"
    rows = _registry(row, trained_at=["2026-01-01"])
    with pytest.raises(ValueError, match=r"lacks feature columns.*retrain true"):
        score_latest_approved(rows, customers.drop(columns="orders"), is_seed)


def test_seed_frame_is_the_unscored_pass():
    is_seed = np.array([True, False, False])
    frame = seed_frame(pd.Series(["a", "b", "c"]), is_seed)
    assert list(frame.columns) == [
        "customer_id",
        "is_lookalike_seed",
        "is_heldout_seed",
        "lookalike_score",
    ]
    assert frame["customer_id"].tolist() == ["a", "b", "c"]
    assert frame["is_lookalike_seed"].tolist() == [True, False, False]
    assert not frame["is_heldout_seed"].any()
    assert frame["lookalike_score"].isna().all()
    with pytest.raises(ValueError, match="one seed flag per customer"):
        seed_frame(pd.Series(["a", "b"]), is_seed)


# ------------------------------------------------ future value at a past cutoff


def _past_customers(n: int, informative: bool, seed: int = 0) -> pd.DataFrame:
    """Customers at a past cutoff: a latent appetite drives the revenue so far,
    the revenue after the cutoff and, when ``informative``, the behaviour
    features (else the features are noise)."""
    rng = np.random.default_rng(seed)
    appetite = rng.gamma(1.0, 1.0, n)
    signal = appetite if informative else rng.gamma(1.0, 1.0, n)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in range(n)],
            "cutoff_date": pd.Timestamp("2025-09-30"),
            "monetary_net": np.round(rng.poisson(3 * appetite) * 40.0, 2),
            "sessions": rng.poisson(4 * signal),
            "categories": rng.poisson(2 * signal),
            "window_revenue": np.round(rng.poisson(2 * appetite) * 40.0, 2),
            "has_full_history": True,
        }
    )


def test_future_value_lift_finds_customers_who_go_on_to_spend():
    from predictive_segments.lookalike import FUTURE_VALUE_TIER, future_value_check

    kwargs = {
        "features": ["monetary_net", "sessions", "categories"],
        "seed_share": 0.05,
        "horizon_days": 365,
        "seed": 3,
    }
    found = future_value_check(_past_customers(4000, informative=True), **kwargs)
    # Planted: the top 5 % of appetite spend about 4x the average; the
    # lookalikes share the appetite through the features, so their tier
    # must bring well above the non-seed average (gate default 1.5).
    assert found["future_value_lift"] > 2.0, found
    assert found["future_value_tier"] == FUTURE_VALUE_TIER
    assert found["future_value_cutoff"] == "2025-09-30"
    by_tier = found["future_value_lift_by_tier"]
    assert set(by_tier) == {"1", "2", "5", "10"}
    assert by_tier["1"] >= by_tier["10"] > 1.0
    # The same seed with features that carry no appetite: chance (lift 1)
    # within sampling noise, below the default gate of 1.5.
    blind = future_value_check(_past_customers(4000, informative=False), **kwargs)
    assert blind["future_value_lift"] < 1.5, blind


def test_future_value_is_not_measured_without_a_full_window():
    from predictive_segments.lookalike import future_value_check

    kwargs = {"features": ["sessions"], "seed_share": 0.05, "horizon_days": 365}
    short = _past_customers(500, informative=True).assign(has_full_history=False)
    result = future_value_check(short, **kwargs)
    assert result["future_value_lift"] is None
    assert "no full 365-day window" in result["future_value_note"]
    empty = future_value_check(short.iloc[:0], **kwargs)
    assert empty["future_value_lift"] is None
    assert "no customers at a past cutoff" in empty["future_value_note"]


def test_the_gate_uses_future_value_when_it_was_measured():
    import json

    X, is_seed, _ = simulate(n=3000, seed=4)
    common = {
        "features": list(X.columns),
        "as_of_date": "2026-01-01",
        "run_id": "r",
        "trained_at": None,
        "min_top_tier_lift": 2.0,
        "min_future_value_lift": 1.5,
        "seed": 3,
        "nthread": NTHREAD,
        "max_unlabeled_rows": 1000,
    }
    customers = X.reset_index()
    measured = {"future_value_lift": 1.2, "future_value_tier": 5}
    row, _ = lookalike_run(customers, is_seed, **common, future_value=measured)
    assert row["status"] == "rejected"
    assert "future_value_lift 1.2 < gate 1.5" in row["reason"]
    unmeasured = {"future_value_lift": None, "future_value_note": "no window"}
    row, _ = lookalike_run(customers, is_seed, **common, future_value=unmeasured)
    # The planted seed is found (top-tier lift far above 2): approved on it.
    assert row["status"] == "approved", row["reason"]
    assert json.loads(row["metrics"])["future_value_note"] == "no window"
