"""Degenerate data never crashes a training run: it yields insufficient_data.

Every `*_run(s)` function that a train_* dbt model calls is given data a
real warehouse can produce (a feature that is all null or constant, every
feature so, a single label class, a campaign without a control group, an
empty seed, a horizon without revenue) and must return registry rows whose
status says what happened and, unless approved, why.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from predictive_segments import churn, clustering, clv, lookalike, registry, uplift

AS_OF = pd.Timestamp("2024-06-30")
TRAINED_AT = dt.datetime(2024, 7, 1)
FEATURES = ["spend", "visits", "tenure"]


def _features(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "spend": rng.gamma(2.0, 50.0, n),
            "visits": rng.poisson(5, n).astype(float),
            "tenure": rng.integers(10, 900, n).astype(float),
        }
    )


def _blank(frame: pd.DataFrame, how: str, columns: list[str]) -> pd.DataFrame:
    """`frame` with `columns` all null (how="null") or constant ("constant")."""
    frame = frame.copy()
    for column in columns:
        frame[column] = np.nan if how == "null" else 1.0
    return frame


def _assert_rows(rows: list[dict], status: str, *words: str) -> None:
    assert rows, "no registry row"
    for row in rows:
        assert row["status"] == status, row["reason"]
        if status != registry.APPROVED:
            assert row["reason"]
            for word in words:
                assert word in row["reason"], row["reason"]


# -- churn / purchase propensity (churn.train_probability_run) --------------


@pytest.fixture(scope="module")
def label_examples() -> pd.DataFrame:
    """Two label windows of 600 customers; the label depends on spend."""
    rng = np.random.default_rng(1)
    frames = []
    for window_index, cutoff in ((2, "2024-03-31"), (1, "2024-05-31")):
        features = _features(600, rng)
        logit = (features["spend"] - 100) / 40
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{i:04d}" for i in range(600)],
                    "cutoff_date": pd.Timestamp(cutoff),
                    "window_index": window_index,
                    "is_churned": rng.random(600) < 1 / (1 + np.exp(-logit)),
                }
            ).join(features)
        )
    return pd.concat(frames, ignore_index=True)


def _train_label_model(examples: pd.DataFrame) -> list[dict]:
    return [
        churn.train_probability_run(
            examples,
            kind="churn",
            label_column="is_churned",
            as_of_date=AS_OF,
            run_id="run",
            trained_at=TRAINED_AT,
            min_auc=0.6,
            seed=3,
        )
    ]


@pytest.mark.parametrize("how", ["null", "constant"])
def test_label_model_drops_a_dead_feature(label_examples, how):
    rows = _train_label_model(_blank(label_examples, how, ["visits"]))
    _assert_rows(rows, registry.APPROVED)


def test_label_model_single_class_is_insufficient_data(label_examples):
    examples = label_examples.assign(is_churned=True)
    _assert_rows(
        _train_label_model(examples), registry.INSUFFICIENT_DATA, "single class"
    )


@pytest.mark.parametrize("how", ["null", "constant"])
def test_label_model_without_any_usable_feature_is_insufficient_data(
    label_examples, how
):
    rows = _train_label_model(_blank(label_examples, how, FEATURES))
    _assert_rows(rows, registry.INSUFFICIENT_DATA, "feature")


# -- behavioral segments (clustering.segmentation_run) ----------------------


@pytest.fixture(scope="module")
def segment_customers() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    centers = np.array([[20.0, 2.0, 100.0], [200.0, 10.0, 800.0], [80.0, 25.0, 400.0]])
    group = rng.integers(0, 3, 600)
    values = centers[group] * rng.lognormal(0, 0.15, (600, 3))
    return pd.DataFrame(values, columns=FEATURES).assign(
        customer_id=[f"c{i:04d}" for i in range(600)], cutoff_date=AS_OF
    )


def _segment(customers: pd.DataFrame) -> list[dict]:
    return [
        clustering.segmentation_run(
            customers,
            features=FEATURES,
            previous_artifact=None,
            as_of_date=AS_OF,
            run_id="run",
            trained_at=TRAINED_AT,
            k_range=(2, 4),
            min_silhouette=0.1,
            min_stability=0.5,
            seed=3,
        )
    ]


@pytest.mark.parametrize("how", ["null", "constant"])
def test_segments_skip_a_dead_feature(segment_customers, how):
    rows = _segment(_blank(segment_customers, how, ["visits"]))
    assert rows[0]["status"] in registry.STATUSES
    assert "visits" not in rows[0]["features"]


@pytest.mark.parametrize("how", ["null", "constant"])
def test_segments_without_usable_features_are_insufficient_data(segment_customers, how):
    rows = _segment(_blank(segment_customers, how, FEATURES))
    _assert_rows(rows, registry.INSUFFICIENT_DATA, "usable behavioral features")


def test_segments_of_no_customers_are_insufficient_data(segment_customers):
    _assert_rows(_segment(segment_customers.iloc[:0]), registry.INSUFFICIENT_DATA)


# -- uplift (uplift.uplift_runs) --------------------------------------------


@pytest.fixture(scope="module")
def campaign() -> pd.DataFrame:
    """One randomized campaign of 800 customers; treatment helps big spenders."""
    rng = np.random.default_rng(4)
    features = _features(800, rng)
    treated = rng.random(800) < 0.5
    rate = 0.15 + 0.15 * treated * (features["spend"] > 100)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(800)],
            "cutoff_date": AS_OF - pd.Timedelta(days=60),
            "campaign_id": "spring",
            "is_treated": treated,
            "has_converted": rng.random(800) < rate,
        }
    ).join(features)


def _uplift(examples: pd.DataFrame) -> list[dict]:
    return uplift.uplift_runs(
        examples,
        as_of_date=AS_OF,
        run_id="run",
        trained_at=TRAINED_AT,
        min_qini=0.0,
        min_per_arm=100,
        seed=3,
        n_folds=2,
    )


def test_campaign_without_control_group_is_insufficient_data(campaign):
    rows = _uplift(campaign.assign(is_treated=True))
    _assert_rows(rows, registry.INSUFFICIENT_DATA, "no control group")


def test_campaign_without_conversions_is_insufficient_data(campaign):
    rows = _uplift(campaign.assign(has_converted=False))
    _assert_rows(rows, registry.INSUFFICIENT_DATA)


@pytest.mark.parametrize("how", ["null", "constant"])
def test_campaign_without_usable_features_is_insufficient_data(campaign, how):
    rows = _uplift(_blank(campaign, how, FEATURES))
    _assert_rows(rows, registry.INSUFFICIENT_DATA, "no feature varies")


def test_campaign_with_a_dead_feature_trains(campaign):
    rows = _uplift(_blank(campaign, "null", ["visits"]))
    assert rows[0]["status"] in (registry.APPROVED, registry.REJECTED)


# -- lookalike (lookalike.lookalike_run) ------------------------------------


@pytest.fixture(scope="module")
def lookalike_customers() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    features = _features(3000, rng)
    return features.assign(
        customer_id=[f"c{i:04d}" for i in range(3000)],
        cutoff_date=AS_OF,
        predicted_clv=features["spend"] * rng.lognormal(0, 0.3, 3000),
    )


def _lookalike(
    customers: pd.DataFrame, is_seed: np.ndarray | None = None
) -> list[dict]:
    if is_seed is None:
        is_seed = lookalike.seed_from_value(customers["predicted_clv"].to_numpy(), 0.05)
    row, _ = lookalike.lookalike_run(
        customers,
        is_seed,
        features=FEATURES,
        as_of_date=AS_OF,
        run_id="run",
        trained_at=TRAINED_AT,
        min_top_tier_lift=2.0,
        seed=3,
    )
    return [row]


def test_lookalike_with_an_empty_seed_is_insufficient_data(lookalike_customers):
    empty = np.zeros(len(lookalike_customers), dtype=bool)
    _assert_rows(
        _lookalike(lookalike_customers, empty), registry.INSUFFICIENT_DATA, "seed"
    )


@pytest.mark.parametrize("how", ["null", "constant"])
def test_lookalike_without_usable_features_is_insufficient_data(
    lookalike_customers, how
):
    rows = _lookalike(_blank(lookalike_customers, how, FEATURES))
    _assert_rows(rows, registry.INSUFFICIENT_DATA, "feature")


# -- CLV (clv.train_clv_runs) -----------------------------------------------


@pytest.fixture(scope="module")
def clv_data() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two years of orders of 1,500 customers and their features a year ago."""
    rng = np.random.default_rng(6)
    n = 1500
    cutoff = AS_OF - pd.Timedelta(days=365)
    counts = rng.poisson(4, n) + 1
    customer = np.repeat(np.arange(n), counts)
    days = rng.integers(0, 730, customer.size)
    orders = pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in customer],
            "order_date": AS_OF - pd.to_timedelta(730 - days, unit="D"),
            "amount": rng.gamma(2.0, 30.0, customer.size).round(2),
        }
    ).sort_values(["customer_id", "order_date", "amount"], ignore_index=True)
    before = orders[orders["order_date"] < cutoff]
    after = orders[orders["order_date"] >= cutoff]
    examples = pd.DataFrame({"customer_id": [f"c{i:04d}" for i in range(n)]})
    examples = examples.merge(
        before.groupby("customer_id")
        .agg(order_count=("amount", "size"), monetary_net=("amount", "sum"))
        .reset_index(),
        how="left",
    ).merge(
        after.groupby("customer_id")
        .agg(window_revenue=("amount", "sum"))
        .reset_index(),
        how="left",
    )
    examples = examples.fillna({"order_count": 0, "window_revenue": 0.0})
    examples["cutoff_date"] = cutoff
    examples["has_full_history"] = True
    return orders, examples


def _clv(orders: pd.DataFrame, examples: pd.DataFrame) -> list[dict]:
    return clv.train_clv_runs(
        orders,
        examples,
        as_of_date=AS_OF,
        training_cutoff=AS_OF - pd.Timedelta(days=365),
        horizon_days=365,
        run_id="run",
        trained_at=TRAINED_AT,
        min_top_decile_capture=0.2,
        seed=3,
    )


def test_clv_without_orders_is_insufficient_data(clv_data):
    orders, examples = clv_data
    _assert_rows(_clv(orders.iloc[:0], examples.iloc[:0]), registry.INSUFFICIENT_DATA)


def test_clv_without_revenue_in_the_horizon_is_insufficient_data(clv_data):
    orders, examples = clv_data
    rows = _clv(orders, examples.assign(window_revenue=0.0))
    assert {row["status"] for row in rows} <= {
        registry.INSUFFICIENT_DATA,
        registry.REJECTED,
    }
