"""Tests of behavioral segmentation (predictive_segments.clustering).

The data are planted overlapping Gaussian blobs in a latent space that is
exponentiated (lognormal monetary value, order frequency, recency, sessions)
or passed through a logistic (premium share), so the model has to undo the
skew itself. The Bayes classifier that knows the planted means, spreads and
weights is the oracle: the model must come close to it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from threadpoolctl import threadpool_limits

from predictive_segments.clustering import SegmentModel, micro_segments
from predictive_segments.metrics import adjusted_rand

FEATURES = [
    "monetary_net",
    "orders_last_365d",
    "recency_days",
    "premium_spend_share",
    "sessions_last_90d",
]
ROLES = {
    "value": "monetary_net",
    "frequency": "orders_last_365d",
    "recency": "recency_days",
    "premium": "premium_spend_share",
    "engagement": "sessions_last_90d",
}
# Planted cluster centers in units of the within-cluster SD, one row per
# cluster: 0 high value / frequent / premium, 1 lapsed, 2 low value / engaged,
# 3 recently active / low engagement. Pairwise distances are 5.3-5.5 SD, so
# the blobs overlap: even the oracle mislabels about 1 % of customers.
CENTERS_SD = np.array(
    [
        [1.9, 1.8, -0.5, 1.9, 0.7],
        [-0.1, -1.4, 2.6, 0.2, -1.2],
        [-1.8, 0.3, -1.1, -1.7, 1.4],
        [0.0, -0.7, -2.5, 0.6, -2.9],
    ]
)
BASE = np.array([5.3, 1.3, 3.8, 0.0, 2.0])
SD = np.array([0.5, 0.4, 0.45, 0.5, 0.45])
MU = BASE + CENTERS_SD * SD
WEIGHTS = (0.2, 0.3, 0.25, 0.25)
N = 3000
FAST = {"sample_size": 1500, "n_init": 3, "seed": 0, "n_threads": 1}


def _to_frame(latent: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "monetary_net": np.exp(latent[:, 0]),
            "orders_last_365d": np.exp(latent[:, 1]),
            "recency_days": np.exp(latent[:, 2]),
            "premium_spend_share": 1.0 / (1.0 + np.exp(-latent[:, 3])),
            "sessions_last_90d": np.exp(latent[:, 4]),
        }
    )


def planted(
    n: int, seed: int, weights=WEIGHTS, clusters=(0, 1, 2, 3)
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Return features, planted cluster and latent values of ``n`` customers."""
    rng = np.random.default_rng(seed)
    y = rng.choice(np.asarray(clusters), size=n, p=np.asarray(weights))
    latent = MU[y] + rng.normal(size=(n, MU.shape[1])) * SD
    return _to_frame(latent), y, latent


def oracle(latent: np.ndarray, weights=WEIGHTS) -> np.ndarray:
    """Bayes-optimal cluster of each row, knowing the planted parameters."""
    logp = np.stack(
        [
            np.log(w) + norm.logpdf(latent, MU[c], SD).sum(axis=1)
            for c, w in enumerate(weights)
        ],
        axis=1,
    )
    return logp.argmax(axis=1)


@pytest.fixture(scope="module")
def data():
    return planted(N, seed=1)


@pytest.fixture(scope="module")
def kmeans_model(data):
    X, _, _ = data
    return SegmentModel(k_range=(2, 7), roles=ROLES, **FAST).fit(X)


@pytest.fixture(scope="module")
def gmm_model(data):
    X, _, _ = data
    return SegmentModel(k_range=(2, 6), method="gmm", roles=ROLES, **FAST).fit(X)


def _majority_map(pred: np.ndarray, truth: np.ndarray) -> dict[int, int]:
    """Planted cluster -> the segment id most of its rows got."""
    return {
        int(c): int(pd.Series(pred[truth == c]).mode().iloc[0])
        for c in np.unique(truth)
    }


# ------------------------------------------------------------------ recovery


def test_kmeans_recovers_planted_k_and_partition(data, kmeans_model):
    X, y, latent = data
    oracle_ari = adjusted_rand(y, oracle(latent))
    ari = adjusted_rand(y, kmeans_model.predict(X))
    assert kmeans_model.k_ == 4
    # Silhouette must prefer 4 clearly over its neighbours (measured ~0.43 vs
    # <= 0.36): margin 0.03.
    scores = kmeans_model.k_scores_
    assert scores[4] > max(v for k, v in scores.items() if k != 4) + 0.03
    assert kmeans_model.silhouette_ == pytest.approx(scores[4])
    # Oracle ARI ~0.97 on these overlapping blobs; the model may lose 0.03.
    assert ari >= 0.9
    assert ari >= oracle_ari - 0.03


def test_silhouettes_of_all_k_in_one_pass_equal_sklearn(data, kmeans_model):
    """The shared-distance silhouette equals sklearn's silhouette_score for
    each labelling, including a singleton cluster and a single cluster."""
    from sklearn.metrics import silhouette_score

    from predictive_segments.clustering import _silhouettes

    X, y, _ = data
    z = kmeans_model.transform(X)[:1000]
    rng = np.random.default_rng(5)
    labellings = [y[:1000], kmeans_model.predict(X)[:1000], rng.integers(0, 6, 1000)]
    singleton = np.zeros(1000, dtype=int)
    singleton[7] = 1
    labellings.append(singleton)
    got = _silhouettes(z, [*labellings, np.zeros(1000, dtype=int)])
    want = [silhouette_score(z, labels) for labels in labellings]
    np.testing.assert_allclose(got[:-1], want, rtol=0, atol=1e-12)
    assert got[-1] == -1.0


def test_gmm_recovers_planted_k_and_partition(data, gmm_model):
    X, y, latent = data
    ari = adjusted_rand(y, gmm_model.predict(X))
    assert gmm_model.k_ == 4
    assert min(gmm_model.k_scores_, key=gmm_model.k_scores_.get) == 4
    assert ari >= 0.9
    assert ari >= adjusted_rand(y, oracle(latent)) - 0.03
    restored = SegmentModel.from_bytes(gmm_model.to_bytes())
    np.testing.assert_array_equal(restored.predict(X), gmm_model.predict(X))


def test_preprocessing_logs_skewed_columns_and_survives_nulls_and_outliers(
    data, kmeans_model
):
    X, _, _ = data
    # The four lognormal columns are right-skewed; the bounded share is not.
    assert sorted(kmeans_model.log_features_) == sorted(
        set(FEATURES) - {"premium_spend_share"}
    )
    z = kmeans_model.transform(X)
    assert np.allclose(z.mean(axis=0), 0, atol=0.05)
    odd = X.head(3).copy()
    odd["monetary_net"] = [np.nan, 1e12, -5.0]
    z_odd = kmeans_model.transform(odd)
    assert np.isfinite(z_odd).all()
    # Clipped at the training 1st/99th percentile: no further out than the
    # most extreme training value.
    assert z_odd[1, 0] <= z[:, 0].max() + 1e-12
    assert z_odd[2, 0] >= z[:, 0].min() - 1e-12
    assert set(kmeans_model.predict(odd)) <= set(kmeans_model.ids_)


def test_nullable_warehouse_dtypes_accepted(data, kmeans_model):
    # DuckDB hands pandas nullable Int64 / Float64 columns with <NA>.
    X, _, _ = data
    X = X.head(400)
    orders = np.round(X["orders_last_365d"]).astype(int)
    as_float = X.assign(orders_last_365d=orders.astype(float))
    as_float.loc[as_float.index[:40], "orders_last_365d"] = np.nan
    nullable = as_float.astype({"orders_last_365d": "Int64", "monetary_net": "Float64"})
    assert nullable["orders_last_365d"].isna().sum() == 40
    np.testing.assert_array_equal(
        kmeans_model.predict(nullable), kmeans_model.predict(as_float)
    )


def test_ids_ordered_by_value_and_centroids_in_raw_units(data, kmeans_model):
    X, y, _ = data
    ids = kmeans_model.ids_
    assert ids == [1, 2, 3, 4]
    cents = kmeans_model.centroids_
    assert list(cents.index) == ids
    assert list(cents.columns) == FEATURES
    prof = kmeans_model.profile(X, kmeans_model.predict(X))
    assert prof["monetary_net_mean"].is_monotonic_decreasing
    # The planted high-value cluster is id 1; its raw centroid sits near its
    # planted geometric center exp(mu) (within 15 %).
    hv = _majority_map(kmeans_model.predict(X), y)[0]
    assert hv == 1
    assert cents.loc[1, "monetary_net"] == pytest.approx(np.exp(MU[0, 0]), rel=0.15)


def test_profile_sizes_shares_and_means(data, kmeans_model):
    X, _, _ = data
    labels = kmeans_model.predict(X)
    prof = kmeans_model.profile(X, labels)
    assert prof["customers"].sum() == len(X)
    assert prof["share"].sum() == pytest.approx(1.0)
    expected = X.groupby(labels).mean()
    for f in FEATURES:
        np.testing.assert_allclose(prof[f"{f}_mean"], expected[f].to_numpy())
        np.testing.assert_allclose(
            prof[f"{f}_index"], expected[f].to_numpy() / X[f].mean()
        )
    assert list(prof["segment_name"]) == [
        kmeans_model.segment_names_[s] for s in prof["segment_id"]
    ]


def test_names_are_meaningful_unique_and_deterministic(data, kmeans_model):
    X, y, _ = data
    names = kmeans_model.segment_names_
    assert sorted(names) == kmeans_model.ids_
    assert len(set(names.values())) == len(names)
    seg_of = _majority_map(kmeans_model.predict(X), y)
    assert names[seg_of[0]].startswith("High value")
    assert "frequent" in names[seg_of[0]] and "premium" in names[seg_of[0]]
    assert names[seg_of[1]].startswith("Lapsed")
    assert names[seg_of[2]].startswith("Low value")
    assert "highly engaged" in names[seg_of[2]]
    # A low premium share is not called "budget": only budget_spend_share is.
    assert not any("budget" in n for n in names.values())
    assert "low engagement" in names[seg_of[3]]
    again = SegmentModel(k_range=(2, 7), roles=ROLES, **FAST).fit(X)
    assert again.segment_names_ == names


def test_names_unique_when_segments_look_alike():
    # Two well-separated blobs differing only in a feature without a role,
    # plus two identical in role features: role words alone would collide.
    rng = np.random.default_rng(3)
    centers = np.array([[0, 0, 0], [0, 0, 8], [6, 0, 0], [6, 0, 8]], dtype=float)
    y = rng.integers(0, 4, size=800)
    X = pd.DataFrame(
        centers[y] + rng.normal(size=(800, 3)),
        columns=["monetary_net", "orders_last_365d", "widget_clicks"],
    )
    m = SegmentModel(k_range=(4, 4), roles={"value": "monetary_net"}, **FAST).fit(X)
    names = list(m.segment_names_.values())
    assert len(set(names)) == 4


# ------------------------------------------------------------- stable ids


def _perturbed(X: pd.DataFrame, y: np.ndarray, seed: int):
    """Return a refit data set: 5 % of rows moved from the largest planted
    cluster to the smallest (fresh draws), every value jittered by +-1 %, and
    the rows shuffled so the clusters appear in another order."""
    rng = np.random.default_rng(seed)
    latent = np.log(X.to_numpy())
    latent[:, 3] = np.log(X["premium_spend_share"] / (1 - X["premium_spend_share"]))
    y2 = y.copy()
    changed = rng.choice(np.flatnonzero(y == 1), size=int(0.05 * len(y)), replace=False)
    y2[changed] = 0
    latent[changed] = MU[0] + rng.normal(size=(changed.size, MU.shape[1])) * SD
    latent += rng.normal(scale=0.01, size=latent.shape)
    order = rng.permutation(len(y))
    return _to_frame(latent[order]), y2[order]


def test_refit_with_previous_keeps_ids_and_without_may_permute():
    # Ids ordered by size (no value feature): the planted sizes are 30/27/22/21
    # % and the refit data move 5 % of rows from the largest to the smallest
    # cluster, which reorders the sizes, so unmatched ids get permuted.
    X, y, _ = planted(N, seed=5, weights=(0.21, 0.3, 0.27, 0.22))
    roles = {"recency": "recency_days", "engagement": "sessions_last_90d"}
    first = SegmentModel(k_range=(4, 4), roles=roles, **FAST).fit(X)
    X2, _ = _perturbed(X, y, seed=6)

    matched = SegmentModel(k_range=(4, 4), roles=roles, **FAST).fit(X2, previous=first)
    unmatched = SegmentModel(k_range=(4, 4), roles=roles, **FAST).fit(X2)

    before = first.predict(X2)
    same_matched = float(np.mean(matched.predict(X2) == before))
    same_unmatched = float(np.mean(unmatched.predict(X2) == before))
    assert same_matched >= 0.95
    # Same partition (ARI ~0.99) but other ids for most rows.
    assert adjusted_rand(unmatched.predict(X2), before) >= 0.9
    assert same_unmatched < 0.6
    assert matched.vanished_ids_ == []
    assert matched.ids_ == first.ids_
    assert max(matched.match_distances_.values()) < 0.5


def test_refit_with_value_ordering_and_auto_k_keeps_ids(data, kmeans_model):
    X, y, _ = data
    X2, _ = _perturbed(X, y, seed=7)
    refit = SegmentModel(k_range=(2, 7), roles=ROLES, **FAST).fit(
        X2, previous=kmeans_model
    )
    assert refit.k_ == kmeans_model.k_
    assert np.mean(refit.predict(X2) == kmeans_model.predict(X2)) >= 0.95


def test_new_clusters_get_new_ids_and_vanished_ids_are_recorded():
    settings = {"roles": ROLES, **FAST}
    X3, _, _ = planted(N, seed=8, weights=(0.3, 0.4, 0.3), clusters=(0, 1, 2))
    three = SegmentModel(k_range=(3, 3), **settings).fit(X3)

    X4, y4, _ = planted(N, seed=9)
    four = SegmentModel(k_range=(4, 4), **settings).fit(X4, previous=three)
    old = y4 != 3
    assert np.mean(four.predict(X4)[old] == three.predict(X4)[old]) >= 0.95
    new_id = _majority_map(four.predict(X4), y4)[3]
    assert new_id == three.max_id_ever_ + 1 == 4
    assert four.vanished_ids_ == []

    # Planted cluster 3 (the newest, highest id) disappears: its id is
    # recorded as vanished ...
    X5, _, _ = planted(N, seed=10, weights=(0.3, 0.4, 0.3), clusters=(0, 1, 2))
    back = SegmentModel(k_range=(3, 3), **settings).fit(X5, previous=four)
    assert back.vanished_ids_ == [new_id]
    assert back.ids_ == [1, 2, 3]
    assert back.max_id_ever_ == 4
    # ... and never reused: when the cluster comes back it gets a fresh id.
    again = SegmentModel(k_range=(4, 4), **settings).fit(X4, previous=back)
    seg_of = _majority_map(again.predict(X4), y4)
    assert seg_of[3] == 5
    assert [seg_of[c] for c in (0, 1, 2)] == [
        _majority_map(four.predict(X4), y4)[c] for c in (0, 1, 2)
    ]


def test_previous_with_other_features_rejected(data, kmeans_model):
    X, _, _ = data
    with pytest.raises(ValueError, match="same features"):
        SegmentModel(k_range=(3, 3), **FAST).fit(
            X.drop(columns="premium_spend_share"), previous=kmeans_model
        )


# ---------------------------------------------------------------- quality


def test_bootstrap_stability_high_on_structure_low_on_noise(data, kmeans_model):
    X, _, _ = data
    stable = kmeans_model.bootstrap_stability(X, n_boot=3, sample_size=1000, seed=1)
    rng = np.random.default_rng(2)
    noise = pd.DataFrame(rng.normal(size=(N, 5)), columns=list("abcde"))
    blob = SegmentModel(k_range=(4, 4), **FAST).fit(noise)
    unstable = blob.bootstrap_stability(noise, n_boot=3, sample_size=1000, seed=1)
    # Measured ~0.97 vs ~0.3 (a round blob has no preferred 4-way split).
    assert stable >= 0.9
    assert unstable <= 0.7
    assert kmeans_model.bootstrap_stability(
        X, n_boot=3, sample_size=1000, seed=1
    ) == pytest.approx(stable, abs=0)


# ---------------------------------------------- determinism, serialization


def test_fit_is_deterministic_bit_for_bit(data, kmeans_model):
    X, _, _ = data
    again = SegmentModel(k_range=(2, 7), roles=ROLES, **FAST).fit(X)
    assert again.to_bytes() == kmeans_model.to_bytes()
    np.testing.assert_array_equal(again.predict(X), kmeans_model.predict(X))


@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_fit_does_not_depend_on_callers_thread_pool(data, method):
    # KMeans results change with the OpenMP thread count; the model pins its
    # own (n_threads), so the caller's setting must not matter.
    X, _, _ = data
    blobs = []
    for outer in (1, 2):
        with threadpool_limits(outer):
            model = SegmentModel(k_range=(4, 4), method=method, **FAST)
            blobs.append(model.fit(X).to_bytes())
    assert blobs[0] == blobs[1]


def test_round_trip_gives_identical_model(data, kmeans_model):
    X, _, _ = data
    blob = kmeans_model.to_bytes()
    assert b"pickle" not in blob and blob.lstrip().startswith(b"{")
    restored = SegmentModel.from_bytes(blob)
    np.testing.assert_array_equal(restored.predict(X), kmeans_model.predict(X))
    pd.testing.assert_frame_equal(restored.centroids_, kmeans_model.centroids_)
    assert restored.segment_names_ == kmeans_model.segment_names_
    assert restored.to_bytes() == blob
    # A restored model can serve as ``previous``.
    refit = SegmentModel(k_range=(4, 4), roles=ROLES, **FAST).fit(X, previous=restored)
    np.testing.assert_array_equal(refit.predict(X), kmeans_model.predict(X))


def test_from_bytes_rejects_other_documents():
    with pytest.raises(ValueError, match="not a SegmentModel"):
        SegmentModel.from_bytes(b'{"format": "something else"}')


# -------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "column", ["gender", "birth_year", "age", "country", "customer_age_band", "Gender"]
)
def test_sensitive_columns_rejected(data, column):
    X, _, _ = data
    bad = X.assign(**{column: 1.0})
    with pytest.raises(ValueError, match="sensitive"):
        SegmentModel(k_range=(3, 3), **FAST).fit(bad)


def test_lookalike_names_are_not_sensitive(data):
    X, _, _ = data
    ok = X.assign(page_views=1.0, usage_days=2.0, average_basket=3.0)
    SegmentModel(k_range=(3, 3), **FAST).fit(ok)


def test_bad_input_messages(data, kmeans_model):
    X, _, _ = data
    with pytest.raises(ValueError, match="non-numeric"):
        SegmentModel(k_range=(3, 3), **FAST).fit(X.assign(channel="web"))
    with pytest.raises(ValueError, match="infinite"):
        SegmentModel(k_range=(3, 3), **FAST).fit(X.assign(x=np.inf))
    with pytest.raises(ValueError, match="null for every row"):
        SegmentModel(k_range=(3, 3), **FAST).fit(X.assign(x=np.nan))
    with pytest.raises(ValueError, match="no column"):
        kmeans_model.predict(X.drop(columns="recency_days"))
    small = SegmentModel(k_range=(3, 10), **FAST)
    with pytest.raises(ValueError, match="too few"):
        small.fit(X.head(small.min_rows() - 1))
    with pytest.raises(ValueError, match="unknown roles"):
        SegmentModel(roles={"loyalty": "x"})
    with pytest.raises(ValueError, match="not fitted"):
        SegmentModel().predict(X)


# ----------------------------------------------------------- micro segments


def test_micro_segments_small_hand_case():
    seg = [1] * 8 + [1] * 3 + [2] * 5 + [2] * 4 + [2] + [3] * 2
    tier = ["high"] * 8 + ["low"] * 2 + ["mid"] + ["high"] * 5 + ["low"] * 4
    tier += ["mid", "low", "low"]
    band = ["low"] * 23
    out = micro_segments(seg, tier, band, min_size=3)
    # Segment 1: 2 + 1 small rows merge into a 3-row "other".
    # Segment 2: "other" has 1 row, so the smallest kept cell (4) joins it.
    # Segment 3: smaller than min_size as a whole.
    expected = (
        ["1-high-low"] * 8
        + ["1-other"] * 3
        + ["2-high-low"] * 5
        + ["2-other"] * 5
        + ["3"] * 2
    )
    assert out.tolist() == expected


def test_micro_segments_respect_min_size_and_are_deterministic():
    rng = np.random.default_rng(11)
    n = 5000
    seg = rng.choice([1, 2, 3, 4, 7], size=n, p=[0.4, 0.3, 0.2, 0.095, 0.005])
    tier = rng.choice(["high", "mid", "low"], size=n, p=[0.1, 0.3, 0.6]).astype(object)
    band = rng.choice(["high", "medium", "low"], size=n, p=[0.05, 0.25, 0.7])
    tier[:50] = None  # unknown tier
    min_size = 40
    out = micro_segments(seg, tier, band, min_size)
    counts = pd.Series(out).value_counts()
    seg_sizes = pd.Series(seg).value_counts()
    for label, count in counts.items():
        parts = label.split("-")
        assert int(parts[0]) in seg_sizes.index
        if count < min_size:
            # Only a whole segment smaller than min_size may stay small.
            assert parts == [label] and seg_sizes[int(label)] < min_size
    for lab, s, t, b in itertools.islice(zip(out, seg, tier, band, strict=True), 500):
        parts = lab.split("-")
        assert parts[0] == str(s)
        if len(parts) == 3:
            assert parts[1] == ("unknown" if t is None else t) and parts[2] == b
    # Cells with >= min_size rows are never merged when "other" is large
    # enough on its own.
    raw = pd.Series([f"{s}-{t}-{b}" for s, t, b in zip(seg, tier, band, strict=True)])
    assert any(c.startswith("1-") and c.endswith("-other") for c in counts.index)
    big = raw.value_counts()
    big = big[big >= 4 * min_size]
    assert set(big.index) <= set(counts.index)
    # Deterministic, and independent of row order.
    np.testing.assert_array_equal(micro_segments(seg, tier, band, min_size), out)
    perm = rng.permutation(n)
    np.testing.assert_array_equal(
        micro_segments(seg[perm], tier[perm], band[perm], min_size), out[perm]
    )


def test_micro_segments_bad_input():
    with pytest.raises(ValueError, match="min_size"):
        micro_segments([1], ["a"], ["b"], 0)
    with pytest.raises(ValueError, match="entries"):
        micro_segments([1, 2], ["a"], ["b", "c"], 1)
    with pytest.raises(ValueError, match="must not contain '-'"):
        micro_segments([1], ["very-high"], ["b"], 1)
