"""The prospect model of the short-history ladder (predictive_segments.prospects).

On the BG/NBD rung, customers who never bought get a purchase probability
and a CLV from a classifier of the first purchases of the prospects at a
past cutoff. The examples plant an engagement score that sets each
prospect's chance to buy, so the tests know the ranking to expect and how
well it can be done (the planted chance's own AUC).
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from test_ladder import _orders as ladder_orders

from predictive_segments import churn, clv, metrics, prospects, registry

AS_OF = pd.Timestamp("1997-10-01")
WINDOW = 136  # the prospect window of 9 months of orders: half the history
TRAINED_AT = dt.datetime(2026, 10, 1)


def _chance(engagement: np.ndarray) -> np.ndarray:
    """The planted chance of a first purchase in the window."""
    return 0.03 + 0.6 * engagement**2


CUTOFF = AS_OF - pd.Timedelta(days=WINDOW)


def _prospect_examples(n: int, seed: int, cutoff: pd.Timestamp = CUTOFF):
    """n prospects at ``cutoff``: engagement features, what they did after."""
    # A stream of its own: the models split their examples with
    # default_rng(seed), whose draws must not be the engagement's.
    rng = np.random.default_rng([seed, 1997])
    engagement = rng.random(n)
    bought = rng.random(n) < _chance(engagement)
    orders = np.where(bought, rng.poisson(0.5, n) + 1, 0)
    return pd.DataFrame(
        {
            "customer_id": [f"p{seed}-{i:05d}" for i in range(n)],
            "cutoff_date": cutoff,
            "sessions_last_30d": np.round(engagement * 20 + rng.normal(0, 1, n)),
            "days_since_signup": rng.integers(1, 400, n),
            "order_count": 0,
            "window_days": WINDOW,
            "window_order_count": orders,
            "window_revenue": np.round(orders * rng.gamma(3.0, 20.0, n), 2),
        }
    )


@pytest.fixture(scope="module")
def examples() -> pd.DataFrame:
    return _prospect_examples(4000, seed=1)


@pytest.fixture(scope="module")
def fitted(examples):
    return prospects.fit_prospects(examples, min_auc=0.6, seed=2)


def _oracle_auc(examples: pd.DataFrame) -> float:
    """How well the planted chance (read back from the sessions) ranks."""
    bought = examples["window_order_count"].to_numpy() > 0
    return metrics.roc_auc(
        bought, _chance((examples["sessions_last_30d"].to_numpy() / 20).clip(0, 1))
    )


def test_the_prospect_model_ranks_first_purchases_near_the_planted_chance(
    fitted, examples
):
    model, notes = fitted
    assert model is not None, notes.get("prospect_reason")
    fresh = _prospect_examples(4000, seed=9)
    bought = fresh["window_order_count"].to_numpy() > 0
    p = model.probability(fresh, WINDOW)
    # Within 0.03 of ranking by the planted chance on 4,000 new prospects;
    # on its own holdout quarter (1,000 prospects, an AUC standard error of
    # about 0.017) within 0.05 of the planted chance on all its examples.
    assert metrics.roc_auc(bought, p) > _oracle_auc(fresh) - 0.03
    assert notes["prospect_auc"] > _oracle_auc(examples) - 0.05
    # Calibrated: the mean probability is the share that bought (2 points).
    assert abs(p.mean() - bought.mean()) < 0.02
    assert notes["prospect_window_days"] == WINDOW
    assert notes["prospect_examples"] == 4000


def test_probability_over_other_windows_never_extrapolates_upwards(fitted):
    model, _ = fitted
    rows = _prospect_examples(50, seed=3)
    p = model.probability(rows, WINDOW)
    # Fewer days: a constant daily chance; more: the window's (a lower bound).
    assert np.allclose(model.probability(rows, WINDOW // 2), 1 - (1 - p) ** 0.5)
    assert np.array_equal(model.probability(rows, 2 * WINDOW), p)


def test_value_is_a_mixture_of_no_purchase_and_what_buyers_spent(fitted, examples):
    model, notes = fitted
    rows = _prospect_examples(500, seed=4)
    value = model.value(rows, WINDOW)
    p = model.probability(rows, WINDOW)
    spent = examples.loc[examples["window_order_count"] > 0, "window_revenue"]
    assert notes["prospect_value_mean"] == pytest.approx(spent.mean(), rel=0.01)
    assert np.allclose(value["predicted_clv"], p * model.revenue_quantiles.mean())
    # P10 and P50 are 0 while more than 90 % / 50 % never buy; P90 is then
    # the converting prospects' quantile (0.9 - (1 - p)) / p.
    low = p < 0.1
    assert (value.loc[low, "predicted_clv_p90"] == 0).all()
    high = p > 0.5
    assert high.any() and (value.loc[high, "predicted_clv_p90"] > 0).all()
    inner = (0.9 - (1 - p[high])) / p[high]
    assert np.allclose(
        value.loc[high, "predicted_clv_p90"],
        np.quantile(spent.clip(lower=0), inner),
        rtol=0.05,
    )
    ordered = value[["predicted_clv_p10", "predicted_clv_p50", "predicted_clv_p90"]]
    assert (ordered.diff(axis=1).iloc[:, 1:] >= -1e-9).all().all()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda e: e.iloc[:0], "no prospects at the prospect cutoff"),
        (lambda e: e.assign(window_order_count=0), "training"),
        (
            lambda e: e.assign(
                sessions_last_30d=np.random.default_rng(0).permutation(
                    e["sessions_last_30d"].to_numpy()
                ),
                days_since_signup=1,
            ),
            "below 0.6",
        ),
    ],
    ids=["no_prospects", "nobody_bought", "no_signal"],
)
def test_no_prospect_model_says_why(examples, change, words):
    model, notes = prospects.fit_prospects(change(examples), min_auc=0.6, seed=2)
    assert model is None
    assert words in notes["prospect_reason"]


def test_attach_and_split_round_trip(fitted, examples):
    model, notes = fitted
    row = registry.registry_row(
        kind="purchase_propensity",
        status=registry.APPROVED,
        reason=None,
        as_of_date=AS_OF,
        training_cutoff=AS_OF,
        parameters={"method": "bgnbd", "window_days": WINDOW},
        features=["frequency"],
        metrics={"auc": 0.7},
        fingerprint="f",
        artifact=b"bgnbd-bytes",
        run_id="run",
        trained_at=TRAINED_AT,
    )
    assert prospects.split(row["artifact"]) == (b"bgnbd-bytes", None)
    before = row["model_version"]
    prospects.attach(row, model, notes, examples)
    base, back = prospects.split(row["artifact"])
    assert base == b"bgnbd-bytes"
    rows = _prospect_examples(20, seed=5)
    assert np.array_equal(back.probability(rows, 30), model.probability(rows, 30))
    assert json.loads(row["metrics"])["prospect_model"] == prospects.PROSPECT_METHOD
    # Other prospects, another model: the version says so.
    assert row["model_version"] != before
    other = dict(row, artifact=b"bgnbd-bytes", data_fingerprint="f")
    prospects.attach(other, model, notes, examples.iloc[1:])
    assert other["model_version"] != row["model_version"]


@pytest.fixture(scope="module")
def nine_months() -> pd.DataFrame:
    return ladder_orders(months=9)


def _features_at_as_of(orders: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    buyers = sorted(orders["customer_id"].unique())[:200]
    known = pd.DataFrame(
        {
            "customer_id": buyers,
            "sessions_last_30d": 5.0,
            "days_since_signup": 100,
            "order_count": 1,
        }
    )
    frame = pd.concat([known, new.drop(columns=list(prospects.OUTCOME_COLUMNS))])
    return frame.assign(cutoff_date=AS_OF).reset_index(drop=True)


def _rung(orders: pd.DataFrame, kind: str, prospect_examples: pd.DataFrame) -> dict:
    """The registry row of ``kind`` trained without label windows: the rung."""
    empty = pd.DataFrame(
        columns=["customer_id", "cutoff_date", "window_index", "label", "as_of_date"]
    )
    return churn.train_family_run(
        empty,
        orders,
        kind=kind,
        label_column="label",
        window_days=273,
        as_of_date=AS_OF,
        run_id="run",
        trained_at=TRAINED_AT,
        min_auc=0.6,
        prospect_examples=prospect_examples,
    )


def _purchase_scores(row: dict, features: pd.DataFrame, orders: pd.DataFrame):
    return churn.score_probability_model(
        registry.to_arrow([row]).to_pandas(),
        features,
        kind="purchase_propensity",
        eligible=np.ones(len(features), dtype=bool),
        ineligible_reason="",
        orders=orders,
    )


def test_bgnbd_rung_scores_prospects_with_the_prospect_model(nine_months, examples):
    row = _rung(nine_months, "purchase_propensity", examples)
    assert row["status"] == registry.APPROVED, row["reason"]
    notes = json.loads(row["metrics"])
    assert notes["method"] == "bgnbd" and notes["prospect_model"] == "prospect_gbm"
    new = _prospect_examples(300, seed=6, cutoff=AS_OF)
    features = _features_at_as_of(nine_months, new)
    scores = _purchase_scores(row, features, nine_months)
    buyer = (features["order_count"] > 0).to_numpy()
    assert set(scores.loc[buyer, "method"]) == {"bgnbd"}
    assert set(scores.loc[~buyer, "method"]) == {"prospect_gbm"}
    assert scores["probability"].between(0, 1).all()
    assert set(scores["model_version"]) == {row["model_version"]}
    # Over the 273-day window, from the model of the 136-day one.
    model = prospects.split(row["artifact"])[1]
    assert np.allclose(
        scores.loc[~buyer, "probability"],
        model.probability(features[~buyer], 273),
    )
    # Churn never uses it: prospects are not churn's population.
    churn_row = _rung(nine_months, "churn", examples)
    assert "prospect_model" not in json.loads(churn_row["metrics"])


def test_without_a_prospect_model_the_note_says_why(nine_months, examples):
    row = _rung(nine_months, "purchase_propensity", examples.iloc[:0])
    features = _features_at_as_of(nine_months, _prospect_examples(5, 7, AS_OF))
    scores = _purchase_scores(row, features, nine_months)
    prospect = scores.iloc[-1]
    assert np.isnan(prospect["probability"])
    assert (
        "no prospect model: no prospects at the prospect cutoff"
        in (prospect["score_note"])
    )


def test_short_history_clv_values_prospects_with_the_prospect_model(
    nine_months, examples
):
    no_examples = pd.DataFrame(
        {
            "customer_id": pd.Series(dtype=str),
            "window_revenue": pd.Series(dtype=float),
            "has_full_history": pd.Series(dtype=bool),
        }
    )
    rows = clv.train_clv_runs(
        nine_months,
        no_examples,
        as_of_date=AS_OF,
        horizon_days=273,
        run_id="run",
        trained_at=TRAINED_AT,
        min_top_decile_capture=0.2,
        seed=1,
        prospect_examples=examples,
        prospect_min_auc=0.6,
    )
    bg = rows[0]
    assert bg["status"] == registry.APPROVED, bg["reason"]
    assert json.loads(bg["metrics"])["prospect_model"] == "prospect_gbm"
    new = _prospect_examples(300, seed=8, cutoff=AS_OF)
    features = _features_at_as_of(nine_months, new)
    scores = clv.score_clv(
        registry.to_arrow(rows).to_pandas(),
        nine_months,
        features,
        as_of_date=AS_OF,
        horizon_days=273,
    )
    buyer = (features["order_count"] > 0).to_numpy()
    assert set(scores.loc[buyer, "clv_method"]) == {"bgnbd_gamma_gamma"}
    assert set(scores.loc[~buyer, "clv_method"]) == {"prospect_gbm"}
    model = prospects.split(bg["artifact"])[1]
    expected = model.value(features[~buyer], 273)["predicted_clv"].to_numpy()
    assert np.allclose(scores.loc[~buyer, "predicted_clv"], expected)
    # More engaged prospects are worth more (planted).
    rho = pd.Series(expected).corr(new["sessions_last_30d"], method="spearman")
    assert rho > 0.8
    assert scores.loc[buyer, "p_alive"].notna().all()
