"""No published segment is below the minimum size (clustering.assign_segments).

The segment model is fitted on a training sample; on the customers it then
scores a segment can hold fewer than max(segment_min_share x customers,
segment_min_count) of them. Such a segment is merged into its nearest one, and
when fewer than two segments would reach the minimum none is published, with
a note that says why in the user's words.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from predictive_segments import registry
from predictive_segments.clustering import (
    SegmentModel,
    assign_segments,
    merge_small_segments,
    segment_min_size,
)

FEATURES = ["monetary_net", "orders_last_365d", "recency_days"]
TRAINED_AT = dt.datetime(2025, 3, 1, 12)


def _customers(sizes: list[int], seed: int = 0) -> pd.DataFrame:
    """Well separated blobs of the given sizes, in raw feature units."""
    rng = np.random.default_rng(seed)
    centers = np.array(
        [[400.0, 8.0, 10.0], [60.0, 1.0, 300.0], [150.0, 3.0, 90.0], [900.0, 2.0, 40.0]]
    )
    blocks = [
        centers[i] * np.exp(rng.normal(0, 0.08, size=(size, 3)))
        for i, size in enumerate(sizes)
    ]
    frame = pd.DataFrame(np.vstack(blocks), columns=FEATURES)
    frame.insert(0, "customer_id", [f"c{i:05d}" for i in range(len(frame))])
    return frame


def _registry(customers: pd.DataFrame, k: int) -> pd.DataFrame:
    """An approved segment registry row with a model of k segments."""
    model = SegmentModel(k_range=(k, k), n_init=3, seed=0, n_threads=1)
    model.fit(customers[FEATURES])
    row = registry.registry_row(
        kind="segments",
        status=registry.APPROVED,
        reason=None,
        as_of_date=dt.date(2025, 3, 1),
        training_cutoff=dt.date(2025, 3, 1),
        parameters={"k_range": [k, k]},
        features=FEATURES,
        metrics={"k": k},
        fingerprint="f",
        artifact=model.to_bytes(),
        run_id="run",
        trained_at=TRAINED_AT,
    )
    return registry.to_arrow([row]).to_pandas()


@pytest.mark.parametrize(
    ("customers", "share", "count", "expected"),
    [(363, 0.01, 100, 100), (20_000, 0.01, 100, 200), (20_050, 0.01, 100, 201)],
)
def test_min_size_is_the_larger_of_share_and_count(customers, share, count, expected):
    assert segment_min_size(customers, share, count) == expected


@pytest.mark.parametrize(("share", "count"), [(1.5, 100), (-0.1, 100), (0.01, -1)])
def test_min_size_rejects_bad_vars(share, count):
    with pytest.raises(ValueError, match="segment_min_share and segment_min_count"):
        segment_min_size(100, share, count)


def test_merge_goes_to_the_nearest_segment_smallest_first():
    rng = np.random.default_rng(1)
    z = np.vstack(
        [
            rng.normal(0.0, 0.1, (150, 2)),
            rng.normal(5.0, 0.1, (93, 2)),
            rng.normal(5.5, 0.1, (120, 2)),
            rng.normal(-5.0, 0.1, (10, 2)),
        ]
    )
    ids = np.repeat([1, 2, 3, 4], [150, 93, 120, 10])
    merged, merged_into = merge_small_segments(z, ids, 100)
    # 4 (10 rows) goes first, into 1, its nearest; then 2 (93) into 3.
    assert merged_into == {4: 1, 2: 3}
    assert dict(zip(*np.unique(merged, return_counts=True), strict=True)) == {
        1: 160,
        3: 213,
    }
    # Nothing to merge: unchanged.
    same, none = merge_small_segments(z, ids, 10)
    np.testing.assert_array_equal(same, ids)
    assert none == {}


def test_merge_stops_at_one_segment():
    z = np.array([[0.0], [0.1], [5.0]])
    merged, merged_into = merge_small_segments(z, np.array([1, 1, 2]), 5)
    np.testing.assert_array_equal(merged, [1, 1, 1])
    assert merged_into == {2: 1}
    with pytest.raises(ValueError, match="one row per id"):
        merge_small_segments(np.zeros((2, 1)), np.array([1, 1, 2]), 5)


def test_segments_below_the_minimum_are_merged_into_their_nearest():
    # Trained where the small blob is large enough to be a segment, applied
    # to customers where it holds 60: below min_count 100.
    registry_rows = _registry(_customers([300, 300, 300]), k=3)
    customers = _customers([400, 250, 60], seed=2)
    plain = assign_segments(registry_rows, customers)
    assert plain["segment_id"].value_counts().min() < 100
    out = assign_segments(registry_rows, customers, min_share=0.01, min_count=100)
    sizes = out["segment_id"].value_counts()
    assert len(sizes) == 2
    assert sizes.min() >= 100
    small = plain["segment_id"].value_counts().idxmin()
    moved = plain["segment_id"] == small
    target = out.loc[moved, "segment_id"].iloc[0]
    assert (out.loc[moved, "segment_id"] == target).all()
    assert (
        out.loc[moved, "segment_note"]
        .str.contains(
            f"segment {small} .* is below the minimum of 100 "
            f"\\(var segment_min_count\\): merged into segment {target}"
        )
        .all()
    )
    assert out.loc[~moved, "segment_note"].isna().all()
    # The others keep their segment, and the name follows the segment.
    assert (out.loc[~moved, "segment_id"] == plain.loc[~moved, "segment_id"]).all()
    names = out.groupby("segment_id")["segment_name"].nunique()
    assert (names == 1).all()
    # Deterministic.
    again = assign_segments(registry_rows, customers, min_share=0.01, min_count=100)
    pd.testing.assert_frame_equal(out, again)


def test_the_share_rule_applies_on_large_populations():
    registry_rows = _registry(_customers([300, 300, 300]), k=3)
    customers = _customers([1200, 1200, 150], seed=3)
    out = assign_segments(registry_rows, customers, min_share=0.1, min_count=100)
    assert out["segment_id"].value_counts().min() >= 255
    note = out["segment_note"].dropna().iloc[0]
    assert "var segment_min_share 0.1 x 2550 customers" in note


def test_too_few_customers_for_one_segment_publish_none_with_the_reason():
    registry_rows = _registry(_customers([300, 300, 300]), k=3)
    customers = _customers([50, 30, 13], seed=4)
    out = assign_segments(registry_rows, customers, min_share=0.01, min_count=100)
    assert out["segment_id"].isna().all()
    assert out["segment_name"].isna().all()
    assert out["segment_model_version"].isna().all()
    assert (
        out["segment_note"]
        == "segments not published: only 93 customers, and a segment needs at "
        "least 100 (var segment_min_count)"
    ).all()


def test_one_segment_left_after_merging_publishes_none():
    registry_rows = _registry(_customers([300, 300, 300]), k=3)
    customers = _customers([120, 40, 30], seed=5)
    out = assign_segments(registry_rows, customers, min_share=0.01, min_count=100)
    assert out["segment_id"].isna().all()
    note = out["segment_note"].iloc[0]
    assert note.startswith("segments not published: on 190 customers only one")
    assert "(at least 200 customers)" in note


def test_without_a_minimum_the_model_assigns_as_predicted():
    registry_rows = _registry(_customers([300, 300, 300]), k=3)
    customers = _customers([40, 30, 10], seed=6)
    out = assign_segments(registry_rows, customers)
    model = SegmentModel.from_bytes(bytes(registry_rows["artifact"].iloc[0]))
    np.testing.assert_array_equal(
        out["segment_id"].to_numpy(dtype=np.int64), model.predict(customers)
    )
    assert out["segment_note"].isna().all()


def test_no_approved_model_says_why():
    out = assign_segments(
        registry.to_arrow([]).to_pandas(),
        _customers([10]),
        min_share=0.01,
        min_count=100,
    )
    assert out["segment_id"].isna().all()
    assert (out["segment_note"] == "no segments model has been trained yet").all()
