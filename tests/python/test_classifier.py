"""Tests of predictive_segments.classifier (churn / propensity machinery).

The data are simulated from a logistic model with known coefficients, so the
model is compared with the oracle that scores every customer by the true
probability. Rows are split in order (train, then validation, then test), as
the earlier and later cutoffs of the real pipeline would be.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from predictive_segments import metrics
from predictive_segments.classifier import ProbabilityModel, check_eligibility

N_TRAIN, N_VALID, N_TEST = 12_000, 8_000, 20_000
LABELS = {"recency_days": "days since last order", "channel": "sign-up channel"}
# nthread=1: the test machine is shared, and two OpenMP threads fighting for
# busy cores are many times slower than one.
NTHREAD = 1


def _simulate(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features, labels and true probabilities of a planted logistic model.

    recency_days is the strongest driver (+1.5 log-odds per s.d.), orders
    lower the risk, channel shifts it, avg_order_value is missing when a
    customer has no orders and has no effect of its own; noise_a, noise_b
    have no effect; const is constant and all_null is always missing.
    """
    rng = np.random.default_rng(seed)
    recency = rng.gamma(2.0, 30.0, n)
    orders = rng.poisson(2.0, n).astype(float)
    aov = np.where(orders > 0, rng.lognormal(3.5, 0.5, n), np.nan)
    channel = rng.choice(
        np.array(["email", "web", "app", "store"], dtype=object),
        n,
        p=[0.3, 0.3, 0.3, 0.1],
    )
    channel[rng.random(n) < 0.05] = None
    logit = (
        -0.8
        + 1.5 * (recency - 60.0) / 42.0
        - 0.5 * (orders - 2.0)
        + 0.6 * (channel == "email")
        - 0.4 * (channel == "app")
    )
    prob = 1.0 / (1.0 + np.exp(-logit))
    y = (rng.random(n) < prob).astype(int)
    X = pd.DataFrame(
        {
            "recency_days": recency,
            "orders_last_90d": orders,
            "avg_order_value": aov,
            "channel": channel,
            "noise_a": rng.normal(size=n),
            "noise_b": rng.uniform(size=n),
            "const": 1.0,
            "all_null": np.nan,
        }
    )
    return X, y, prob


@pytest.fixture(scope="module")
def data():
    X, y, prob = _simulate(N_TRAIN + N_VALID + N_TEST, seed=11)
    a, b = N_TRAIN, N_TRAIN + N_VALID
    return {
        "train": (X.iloc[:a], y[:a]),
        "valid": (X.iloc[a:b], y[a:b]),
        "test": (X.iloc[b:], y[b:], prob[b:]),
    }


@pytest.fixture(scope="module")
def model(data):
    return ProbabilityModel(seed=0, nthread=NTHREAD).fit(*data["train"], *data["valid"])


@pytest.fixture(scope="module")
def test_reasons(model, data):
    # the contributions are the slow part of reasons: compute once
    return model.reasons(data["test"][0], labels=LABELS)


@pytest.fixture(scope="module")
def exact_reasons(model, data):
    return model.reasons(data["test"][0], labels=LABELS, contributions="exact")


# --------------------------------------------------------------------------
# eligibility


def test_eligibility():
    ok, reason = check_eligibility(np.r_[np.ones(150), np.zeros(500)])
    assert ok
    assert "150 positive" in reason

    ok, reason = check_eligibility(np.r_[np.ones(50), np.zeros(5000)])
    assert not ok
    assert reason == "only 50 positive training examples (need 100)"

    ok, reason = check_eligibility(np.zeros(1000))
    assert not ok
    assert "single class" in reason

    ok, reason = check_eligibility([True] * 300 + [False] * 20, min_negative=50)
    assert not ok
    assert "only 20 negative training examples (need 50)" in reason

    with pytest.raises(ValueError, match="0/1 labels"):
        check_eligibility([0, 1, 2])
    with pytest.raises(ValueError, match="missing labels"):
        check_eligibility([0, 1, np.nan])


# --------------------------------------------------------------------------
# recovery against the oracle


def test_auc_and_brier_close_to_oracle(model, data):
    X, y, prob = data["test"]
    predicted = model.predict_proba(X)
    assert predicted.shape == (len(X),)
    assert ((predicted >= 0) & (predicted <= 1)).all()
    auc, oracle_auc = metrics.roc_auc(y, predicted), metrics.roc_auc(y, prob)
    brier, oracle_brier = metrics.brier(y, predicted), metrics.brier(y, prob)
    print(f"AUC {auc:.4f} (oracle {oracle_auc:.4f}); ", end="")
    print(f"Brier {brier:.4f} (oracle {oracle_brier:.4f})")
    # over 8 simulated data sets the AUC gap was <= 0.006, the Brier gap <= 0.003
    assert auc > oracle_auc - 0.02
    assert brier < oracle_brier + 0.006


def test_calibration(model, data):
    X, y, _ = data["test"]
    report = model.evaluate(X, y)
    print(
        f"mean predicted {report['mean_predicted']:.4f}, "
        f"observed {report['base_rate']:.4f}"
    )
    # test-set noise alone is about 0.0035 (s.e. of a rate at n = 20 000)
    assert report["mean_predicted"] == pytest.approx(report["base_rate"], abs=0.02)
    table = pd.DataFrame(report["calibration_by_decile"])
    assert table["customers"].sum() == len(y)
    # 2 000 customers a decile: binomial s.e. <= 0.011, plus calibration noise
    gap = (table["mean_predicted"] - table["observed_rate"]).abs()
    assert gap.max() < 0.06
    assert table["observed_rate"].is_monotonic_increasing


def test_evaluate_matches_metrics(model, data):
    X, y, _ = data["test"]
    report = model.evaluate(X, y)
    p = model.predict_proba(X)
    assert report["auc"] == metrics.roc_auc(y, p)
    assert report["pr_auc"] == metrics.pr_auc(y, p)
    assert report["brier"] == metrics.brier(y, p)
    assert report["log_loss"] == metrics.log_loss(y, p)
    assert report["lift_quality"] == metrics.lift_quality(y, p)
    assert report["customers"] == len(y)
    assert set(report["calibration_by_decile"][0]) == {
        "decile",
        "mean_predicted",
        "observed_rate",
        "customers",
    }


def test_platt_calibration(data):
    X, y, prob = data["test"]
    platt = ProbabilityModel(seed=0, nthread=NTHREAD, calibration="platt")
    platt.fit(*data["train"], *data["valid"])
    p = platt.predict_proba(X)
    assert p.mean() == pytest.approx(y.mean(), abs=0.02)
    assert metrics.roc_auc(y, p) > metrics.roc_auc(y, prob) - 0.02
    clone = ProbabilityModel.from_bytes(platt.to_bytes())
    assert np.array_equal(clone.predict_proba(X), p)


# --------------------------------------------------------------------------
# features and explanations


def test_constant_and_all_null_features_dropped(model, data):
    assert model.dropped_features_ == {
        "const": "constant in training (always 1.0)",
        "all_null": "all values missing (or infinite) in training",
    }
    assert "const" not in model.feature_names_
    assert "all_null" not in model.feature_names_
    # a feature missing only sometimes is kept: its missingness is informative
    assert "avg_order_value" in model.feature_names_
    X, _, _ = data["test"]
    # dropped columns are not needed at prediction time
    full = model.predict_proba(X)
    assert np.array_equal(
        model.predict_proba(X.drop(columns=["const", "all_null"])), full
    )


def test_feature_importance(model):
    table = model.feature_importance()
    assert list(table.columns) == ["feature", "total_gain", "gain_share"]
    assert table["feature"].iloc[0] == "recency_days"
    assert set(table["feature"].iloc[-2:]) == {"noise_a", "noise_b"}
    assert table["gain_share"].sum() == pytest.approx(1.0)


def test_top_reason_is_strongest_feature(model, data, test_reasons):
    X, _, _ = data["test"]
    X_train, _ = data["train"]
    reasons = test_reasons
    assert reasons.index.equals(X.index)
    first = reasons.str.split("; ").str[0]
    extreme = X["recency_days"] > X_train["recency_days"].quantile(0.98)
    share = (first[extreme] == "days since last order high").mean()
    print(f"top reason is recency for {share:.1%} of {extreme.sum()} extreme rows")
    assert share > 0.95
    # the most recent customers are never churn risks because of recency
    recent = X["recency_days"] < X_train["recency_days"].quantile(0.05)
    assert not reasons[recent].str.contains("days since last order").any()
    # pure-noise features are rarely the main reason (7.4 % of rows with the
    # default approximate contributions, 4.4 % with exact ones: Saabas credits
    # the deep, noise-fitting splits more)
    assert first.str.startswith("noise_").mean() < 0.10
    counts = reasons.str.split("; ").map(len)
    assert counts.max() <= 3
    assert model.reasons(X.iloc[:50], top_k=1).str.split("; ").map(len).max() == 1


def test_reasons_name_categories_and_missing(model, data):
    X = data["test"][0].iloc[:4000]
    reasons = model.reasons(X, labels=LABELS, min_contribution=0.0, top_k=6)
    email = (X["channel"] == "email").to_numpy()
    # e-mail sign-ups have +0.6 log-odds planted
    assert reasons[email].str.contains("sign-up channel: email").mean() > 0.9
    assert not reasons[~email].str.contains("sign-up channel: email").any()


def test_unseen_category_and_column_order(model, data):
    X, _, _ = data["test"]
    rows = X.iloc[:200].copy()
    unseen = rows.assign(channel="tiktok")
    missing = rows.assign(channel=None)
    p_unseen = model.predict_proba(unseen)
    assert np.array_equal(p_unseen, model.predict_proba(missing))
    assert model.reasons(unseen).str.len().min() >= 0
    # columns are matched by name; extra columns are ignored
    shuffled = rows[rows.columns[::-1]].assign(extra=1.0)
    assert np.array_equal(model.predict_proba(shuffled), model.predict_proba(rows))


def _contributions(model, X, approx):
    """Per-feature log-odds contributions straight from xgboost (rows, features)."""
    dmatrix = xgb.DMatrix(model._encode(X), missing=np.nan)
    raw = model._booster.predict(
        dmatrix, pred_contribs=True, approx_contribs=approx
    ).astype(np.float64)
    owners = np.asarray(model._encoded_owner, dtype=object)
    return pd.DataFrame(
        {
            name: raw[:, :-1][:, owners == name].sum(axis=1)
            for name in model.feature_names_
        },
        index=X.index,
    )


def _reference_reasons(model, X, labels, contributions, top_k, min_contribution):
    """Reasons row by row, the plain way: the meaning the fast code must keep."""
    values = _contributions(model, X, approx=contributions == "approx")
    texts = []
    for (_, row), (_, contrib) in zip(X.iterrows(), values.iterrows(), strict=True):
        ranked = sorted(range(len(contrib)), key=lambda j: (-contrib.iloc[j], j))[
            :top_k
        ]
        phrases = []
        for j in ranked:
            if not contrib.iloc[j] > max(min_contribution, 0.0):
                break
            name = model.feature_names_[j]
            label = labels.get(name, name)
            value = row[name]
            if pd.isna(value):
                phrases.append(f"{label} missing")
            elif name in model.categories_:
                phrases.append(f"{label}: {value}")
            else:
                median = model.medians_[name]
                word = (
                    "high" if value > median else "low" if value < median else "typical"
                )
                phrases.append(f"{label} {word}")
        texts.append("; ".join(phrases))
    return pd.Series(texts, index=X.index, name="reasons", dtype=object)


def _reason_features(model, reasons, labels):
    """The features named in each row's reasons (list of lists, in order)."""
    by_label = {labels.get(n, n): n for n in model.feature_names_}
    named = []
    for text in reasons:
        row = []
        for phrase in filter(None, text.split("; ")):
            label = (
                phrase.split(": ")[0] if ": " in phrase else phrase.rsplit(" ", 1)[0]
            )
            row.append(by_label[label])
        named.append(row)
    return named


@pytest.mark.parametrize("contributions", ["approx", "exact"])
@pytest.mark.parametrize(
    ("top_k", "min_contribution"), [(3, 0.05), (1, 0.05), (2, 0.0), (10, -1.0)]
)
def test_reasons_match_row_by_row_reference(
    model, data, contributions, top_k, min_contribution
):
    X = data["test"][0].iloc[:400].copy()
    X.iloc[:40, X.columns.get_loc("channel")] = "tiktok"  # unseen category
    X.iloc[40:60, X.columns.get_loc("recency_days")] = np.nan
    X.iloc[60:70, X.columns.get_loc("noise_a")] = model.medians_["noise_a"]
    X.index = np.arange(len(X))[::-1] * 7  # a non-default index is kept
    expected = _reference_reasons(
        model, X, LABELS, contributions, top_k, min_contribution
    )
    got = model.reasons(
        X,
        labels=LABELS,
        top_k=top_k,
        min_contribution=min_contribution,
        contributions=contributions,
        chunk_rows=97,
    )
    pd.testing.assert_series_equal(got, expected)
    if top_k == 10:  # every feature that raises the risk: every phrase kind
        for phrase in (
            "sign-up channel: email",
            "days since last order missing",
            "noise_a typical",
            "days since last order high",
            "orders_last_90d low",
        ):
            assert got.str.contains(phrase).any(), phrase


def test_reasons_push_probability_up(model, data, test_reasons):
    X = data["test"][0]
    contrib = _contributions(model, X, approx=True).to_numpy()
    named = _reason_features(model, test_reasons, LABELS)
    position = {name: j for j, name in enumerate(model.feature_names_)}
    for i, names in enumerate(named):
        chosen = [contrib[i, position[n]] for n in names]
        # every reason raises the log-odds by more than min_contribution ...
        assert all(c > 0.05 for c in chosen)
        # ... strongest first, and no feature left out is stronger
        assert chosen == sorted(chosen, reverse=True)
        rest = np.delete(contrib[i], [position[n] for n in names])
        assert len(names) == 3 or (rest <= 0.05).all()
        if names:
            assert (rest <= chosen[-1]).all()
    # a customer without a feature raising the log-odds by more than 0.05
    # gets no reason at all
    assert (test_reasons == "").any()
    assert ((contrib > 0.05).any(axis=1) == (test_reasons != "").to_numpy()).all()


def test_approx_reasons_agree_with_exact(model, data, test_reasons, exact_reasons):
    X = data["test"][0]
    first_approx = test_reasons.str.split("; ").str[0]
    first_exact = exact_reasons.str.split("; ").str[0]
    with_reason = (exact_reasons != "").to_numpy()
    agree = (first_approx == first_exact)[with_reason].mean()
    print(f"main reason agrees with exact SHAP for {agree:.1%} of customers")
    assert agree > 0.9  # measured 96.5 %
    assert first_exact.str.startswith("noise_").mean() < 0.05
    # where the planted strongest driver is extreme, both name it first
    X_train, _ = data["train"]
    extreme = (X["recency_days"] > X_train["recency_days"].quantile(0.98)).to_numpy()
    assert extreme.sum() > 50
    assert (first_approx[extreme] == "days since last order high").all()
    assert (first_exact[extreme] == "days since last order high").all()


def test_planted_dominant_feature_is_main_reason_either_way():
    # One driver dominates (+2 log-odds per unit), one feature is weak, one is
    # noise and one takes a second value in a single row, so no tree can split
    # on it (min_child_weight) and its contribution is exactly zero.
    rng = np.random.default_rng(4)
    n = 6000
    X = pd.DataFrame(
        {
            "driver": rng.normal(size=n),
            "weak": rng.normal(size=n),
            "noise": rng.normal(size=n),
            "rare": np.r_[1.0, np.zeros(n - 1)],
        }
    )
    logit = 2.0 * X["driver"] + 0.3 * X["weak"]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).to_numpy().astype(int)
    planted = ProbabilityModel(
        params={"num_boost_round": 60, "early_stopping_rounds": 60},
        seed=1,
        nthread=NTHREAD,
    ).fit(X.iloc[:3000], y[:3000], X.iloc[3000:], y[3000:])
    scored = X.iloc[3000:]
    high = (scored["driver"] > 1.0).to_numpy()
    assert high.sum() > 300
    for contributions in ("approx", "exact"):
        reasons = planted.reasons(scored, contributions=contributions)
        first = reasons.str.split("; ").str[0]
        assert (first[high] == "driver high").all()
        # features that never move the log-odds are never reasons
        everything = planted.reasons(
            scored, top_k=4, min_contribution=0.0, contributions=contributions
        )
        assert not everything.str.contains("rare").any()
        contrib = _contributions(planted, scored, approx=contributions == "approx")
        assert (contrib["rare"] == 0.0).all()
        named = _reason_features(planted, everything, {})
        positive = contrib > 0.0
        assert [sorted(names) for names in named] == [
            sorted(positive.columns[row]) for row in positive.to_numpy()
        ]


def test_reasons_deterministic_and_row_independent(model, data, test_reasons):
    X = data["test"][0].iloc[:3000]
    expected = test_reasons.iloc[:3000]
    assert model.reasons(X, labels=LABELS).equals(expected)
    assert model.reasons(X, labels=LABELS, chunk_rows=256).equals(expected)
    # a row's reasons do not depend on the other rows nor on their order
    shuffled = X.sample(frac=1.0, random_state=3)
    got = model.reasons(shuffled, labels=LABELS, chunk_rows=500)
    assert got.equals(expected.loc[shuffled.index])
    one = model.reasons(X.iloc[[17]], labels=LABELS)
    assert one.iloc[0] == expected.iloc[17]
    empty = model.reasons(X.iloc[:0])
    assert empty.empty
    assert empty.index.equals(X.index[:0])


def test_reasons_bad_arguments(model, data):
    X = data["test"][0].iloc[:10]
    with pytest.raises(ValueError, match="contributions must be one of"):
        model.reasons(X, contributions="shap")
    with pytest.raises(ValueError, match="chunk_rows must be >= 1"):
        model.reasons(X, chunk_rows=0)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        model.reasons(X, top_k=0)
    with pytest.raises(ValueError, match=r"lacks 1 columns.*recency_days"):
        model.reasons(X.drop(columns=["recency_days"]))
    with pytest.raises(ValueError, match=r"lacks 1 columns.*recency_days"):
        model.reasons(X.iloc[:0].drop(columns=["recency_days"]))


# --------------------------------------------------------------------------
# determinism and serialization


def test_determinism(data):
    X_train, y_train = data["train"]
    X_valid, y_valid = data["valid"]
    X_test, _, _ = data["test"]
    small = (X_train.iloc[:4000], y_train[:4000], X_valid.iloc[:2000], y_valid[:2000])
    a = ProbabilityModel(seed=5, nthread=NTHREAD).fit(*small).predict_proba(X_test)
    b = ProbabilityModel(seed=5, nthread=NTHREAD).fit(*small).predict_proba(X_test)
    c = ProbabilityModel(seed=6, nthread=NTHREAD).fit(*small).predict_proba(X_test)
    assert np.array_equal(a, b)
    # the seed drives the subsampling, so another seed gives another model
    assert not np.array_equal(a, c)


def test_round_trip(model, data, test_reasons):
    X = data["test"][0]
    blob = model.to_bytes()
    clone = ProbabilityModel.from_bytes(blob)
    assert np.array_equal(clone.predict_proba(X), model.predict_proba(X))
    head = X.iloc[:3000]
    assert clone.reasons(head, labels=LABELS).equals(test_reasons.iloc[:3000])
    pd.testing.assert_frame_equal(
        clone.feature_importance(), model.feature_importance()
    )
    assert clone.dropped_features_ == model.dropped_features_
    assert clone.to_bytes() == blob
    with pytest.raises(ValueError, match="not a serialized ProbabilityModel"):
        ProbabilityModel.from_bytes(b"{}")


# --------------------------------------------------------------------------
# bad input


def test_bad_input(model, data):
    X_train, y_train = data["train"]
    X_valid, y_valid = data["valid"]
    X_test, _, _ = data["test"]
    with pytest.raises(ValueError, match=r"lacks 1 columns.*recency_days"):
        model.predict_proba(X_test.drop(columns=["recency_days"]))
    with pytest.raises(ValueError, match="holds text"):
        model.predict_proba(X_test.assign(noise_a="x"))
    with pytest.raises(ValueError, match="y_train has 10 labels"):
        ProbabilityModel().fit(X_train, y_train[:10], X_valid, y_valid)
    with pytest.raises(ValueError, match=r"single class.*check_eligibility"):
        ProbabilityModel().fit(X_train, y_train, X_valid, np.zeros(len(X_valid)))
    with pytest.raises(ValueError, match="date/time"):
        ProbabilityModel().fit(
            X_train.assign(signed_up=pd.Timestamp("2026-01-01")),
            y_train,
            X_valid,
            y_valid,
        )
    with pytest.raises(ValueError, match="no usable features"):
        ProbabilityModel().fit(X_train[["const"]], y_train, X_valid, y_valid)
    with pytest.raises(ValueError, match="calibration must be one of"):
        ProbabilityModel(calibration="beta")
    with pytest.raises(ValueError, match="may not set seed"):
        ProbabilityModel(params={"seed": 3})
    with pytest.raises(ValueError, match="not fitted"):
        ProbabilityModel().predict_proba(X_test)
    with pytest.raises(ValueError, match="DataFrame"):
        model.predict_proba(X_test.to_numpy())
