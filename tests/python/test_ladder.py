"""The short-history ladder (predictive_segments.ladder): BG/NBD serves churn,
purchase propensity and CLV when the history is too short for their label
windows, is backtested on the longest window the history allows, and its
probabilities match the planted process."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from predictive_segments import churn, clv, ladder, metrics, registry
from predictive_segments.synth import RealExportConfig, generate_real_export

# The planted BG/NBD + Gamma-Gamma process (CDNOW-like parameters).
TRUTH = {"r": 0.27, "alpha": 33.0, "a": 0.793, "b": 2.426}
SPEND = {"p": 6.25, "q": 3.74, "v": 14.5}
TRAINED_AT = dt.datetime(2026, 10, 1)


def _fitted_truth() -> clv.BetaGeometricNBD:
    model = clv.BetaGeometricNBD()
    model.params_ = dict(TRUTH)
    return model


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    """20,000 customers of the planted process and what they do in 90 days."""
    return clv.simulate_clv_customers(
        20_000, np.linspace(30, 270, 20_000), 90, **TRUTH, **SPEND, seed=5
    )


def test_p_no_purchase_matches_the_simulated_share_without_a_purchase(simulated):
    p_none = _fitted_truth().p_no_purchase(
        90, simulated["frequency"], simulated["recency_days"], simulated["age_days"]
    )
    observed = (simulated["future_transactions"] == 0).to_numpy()
    # Calibration: within 0.015 overall and within 0.04 in every decile of
    # the predicted probability (2,000 customers each: 2 standard errors).
    assert abs(p_none.mean() - observed.mean()) < 0.015
    table = metrics.calibration_by_decile(observed.astype(int), p_none)
    gaps = (table["mean_predicted"] - table["observed_rate"]).abs()
    assert gaps.max() < 0.04, table
    assert metrics.roc_auc(observed.astype(int), p_none) > 0.7


def test_p_no_purchase_agrees_with_expected_transactions_at_the_limits(simulated):
    model = _fitted_truth()
    columns = (simulated["frequency"], simulated["recency_days"], simulated["age_days"])
    assert np.allclose(model.p_no_purchase(0, *columns), 1.0)
    alive = model.p_alive(*columns)
    # Over a very long horizon every living customer buys again.
    assert np.allclose(model.p_no_purchase(1e40, *columns), 1.0 - alive, atol=1e-6)
    # More time, fewer customers without a purchase.
    assert (
        model.p_no_purchase(30, *columns) >= model.p_no_purchase(60, *columns)
    ).all()


def test_median_days_to_next_purchase_is_where_a_purchase_becomes_likely(simulated):
    model = _fitted_truth()
    columns = (simulated["frequency"], simulated["recency_days"], simulated["age_days"])
    days = model.median_days_to_next_purchase(*columns)
    alive = model.p_alive(*columns)
    assert np.isnan(days[alive <= 0.5]).all()
    likely = alive > 0.5
    assert likely.any() and (days[likely] > 0).all()
    frame = simulated[likely]
    p_none = np.array(
        [
            model.p_no_purchase(d, [f], [t], [a])[0]
            for d, f, t, a in zip(
                days[likely][:200],
                frame["frequency"][:200],
                frame["recency_days"][:200],
                frame["age_days"][:200],
                strict=True,
            )
        ]
    )
    assert np.allclose(p_none, 0.5, atol=1e-9)


def _orders(
    months: int, customers: int = 3000, seed: int = 3, cohort_weeks: int = 12
) -> pd.DataFrame:
    """A real-export-shaped order log (one 1997 cohort), as the models read it."""
    config = RealExportConfig(
        customers=customers,
        months=months,
        seed=seed,
        null_id_rate=0,
        cohort_weeks=cohort_weeks,
    )
    table = generate_real_export(config).tables["orders"].to_pandas()
    return pd.DataFrame(
        {
            "customer_id": table["customer_id"].astype(str),
            "order_date": pd.to_datetime(table["ordered_at"]),
            "amount": table["amount"],
        }
    ).sort_values(["customer_id", "order_date", "amount"], ignore_index=True)


def test_backtest_window_is_the_longest_the_history_allows():
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "order_date": pd.to_datetime(["2020-01-01", "2020-03-01", "2020-01-01"]),
            "amount": [10.0, 5.0, 0.0],
        }
    )
    # 100 days from the first purchase: half of them validate.
    window = ladder.backtest_window(orders, "2020-04-10", 273)
    assert window == ladder.Backtest(pd.Timestamp("2020-02-20"), 50)
    # A full window when the history holds two.
    window = ladder.backtest_window(orders, "2020-04-10", 30)
    assert window == ladder.Backtest(pd.Timestamp("2020-03-11"), 30)
    too_short = ladder.backtest_window(orders, "2020-01-20", 90)
    assert isinstance(too_short, str) and "19 days" in too_short
    assert ladder.backtest_window(orders.iloc[:0], "2020-01-20", 90) == "no orders"
    refunds = orders.assign(amount=-1.0)
    assert "no purchase before" in ladder.backtest_window(refunds, "2020-04-10", 30)


@pytest.fixture(scope="module")
def nine_months() -> pd.DataFrame:
    return _orders(months=9)


@pytest.mark.parametrize(
    ("kind", "event"), [("churn", "no_purchase"), ("purchase_propensity", "purchase")]
)
def test_the_bgnbd_rung_serves_when_label_windows_are_missing(nine_months, kind, event):
    as_of = pd.Timestamp("1997-10-01")
    empty = pd.DataFrame(
        columns=["customer_id", "cutoff_date", "window_index", "label", "as_of_date"]
    )
    row = churn.train_family_run(
        empty,
        nine_months,
        kind=kind,
        label_column="label",
        window_days=273,
        as_of_date=as_of,
        run_id="run",
        trained_at=TRAINED_AT,
        min_auc=0.65,
    )
    assert row["status"] == registry.APPROVED, row["reason"]
    parameters, row_metrics = json.loads(row["parameters"]), json.loads(row["metrics"])
    assert parameters["method"] == row_metrics["method"] == ladder.BGNBD_METHOD
    # 273 days of history: the second half validates.
    assert row_metrics["validated_horizon_days"] == 136
    assert "no training examples" in row_metrics["supervised_reason"]
    assert row_metrics["auc"] >= 0.65
    assert pd.Timestamp(row["training_cutoff"]) == as_of - pd.Timedelta(days=136)

    registry_rows = registry.to_arrow([row]).to_pandas()
    customers = [*sorted(nine_months["customer_id"].unique())[:50], "prospect"]
    features = pd.DataFrame(
        {
            "customer_id": customers,
            "cutoff_date": as_of,
            "order_count": [1] * 50 + [0],
        }
    )
    scores = churn.score_probability_model(
        registry_rows,
        features,
        kind=kind,
        eligible=np.ones(len(features), dtype=bool),
        ineligible_reason="",
        with_reasons=True,
        orders=nine_months,
    )
    assert scores["probability"].iloc[:50].between(0, 1).all()
    assert set(scores["method"].iloc[:50]) == {"bgnbd"}
    assert scores["reasons"].iloc[:50].str.contains("days ago").all()
    prospect = scores.iloc[50]
    assert np.isnan(prospect["probability"]) and prospect["method"] is None
    assert "no purchase yet" in prospect["score_note"]
    # The served probability is the BG/NBD's over the full window.
    summary = clv.summary_from_orders(nine_months, as_of).set_index("customer_id")
    model = clv.BetaGeometricNBD.from_bytes(bytes(row["artifact"]))
    rows = summary.loc[customers[:50]]
    p_none = model.p_no_purchase(
        273, rows["frequency"], rows["recency_days"], rows["age_days"]
    )
    expected = p_none if event == "no_purchase" else 1 - p_none
    assert np.allclose(scores["probability"].iloc[:50], expected)


def test_a_rejected_supervised_model_does_not_fall_back(nine_months):
    """The ladder is for missing history: weak models stay rejected."""
    rng = np.random.default_rng(0)
    frames = []
    for window, cutoff in ((2, "1997-04-01"), (1, "1997-07-01")):
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(800)],
                    "cutoff_date": pd.Timestamp(cutoff),
                    "window_index": window,
                    "noise": rng.normal(size=800),
                    "label": rng.random(800) < 0.5,
                    "as_of_date": pd.Timestamp("1997-10-01"),
                }
            )
        )
    row = churn.train_family_run(
        pd.concat(frames, ignore_index=True),
        nine_months,
        kind="churn",
        label_column="label",
        window_days=90,
        as_of_date=pd.Timestamp("1997-10-01"),
        run_id="run",
        trained_at=TRAINED_AT,
        min_auc=0.65,
    )
    assert row["status"] == registry.REJECTED
    assert json.loads(row["parameters"])["method"] == ladder.SUPERVISED_METHOD


def test_too_short_for_any_rung_says_why_for_both():
    orders = _orders(months=1, customers=400, cohort_weeks=2)
    row = churn.train_family_run(
        pd.DataFrame(
            columns=[
                "customer_id",
                "cutoff_date",
                "window_index",
                "label",
                "as_of_date",
            ]
        ),
        orders,
        kind="churn",
        label_column="label",
        window_days=90,
        as_of_date=pd.Timestamp("1997-02-01"),
        run_id="run",
        trained_at=TRAINED_AT,
        min_auc=0.65,
    )
    assert row["status"] == registry.INSUFFICIENT_DATA
    assert row["reason"].startswith("supervised: no training examples")
    assert "; BG/NBD: " in row["reason"]
    assert row["artifact"] is None


def test_clv_is_validated_on_the_longest_backtest_when_the_horizon_does_not_fit(
    nine_months,
):
    as_of = pd.Timestamp("1997-10-01")
    examples = pd.DataFrame(
        {
            "customer_id": pd.Series(dtype=str),
            "window_revenue": pd.Series(dtype=float),
            "has_full_history": pd.Series(dtype=bool),
        }
    )
    rows = clv.train_clv_runs(
        nine_months,
        examples,
        as_of_date=as_of,
        horizon_days=273,
        run_id="run",
        trained_at=TRAINED_AT,
        min_top_decile_capture=0.2,
        seed=1,
    )
    bg, gbm, blend = rows
    assert bg["status"] == registry.APPROVED, bg["reason"]
    bg_metrics = json.loads(bg["metrics"])
    assert bg_metrics["method"] == "bgnbd_gamma_gamma"
    assert bg_metrics["validated_horizon_days"] == 136
    assert bg_metrics["selected"] is True
    assert (
        "no customers with orders before 1997-01-01"
        in bg_metrics["full_horizon_reason"]
    )
    # Backtest: customers with a purchase before the cutoff, realized value
    # in the 136 days after it.
    cutoff = as_of - pd.Timedelta(days=136)
    assert pd.Timestamp(bg["training_cutoff"]) == cutoff
    known = clv.summary_from_orders(nine_months, cutoff)
    assert bg_metrics["customers"] == len(known)
    realized = ladder.realized_after(nine_months, cutoff, 136)
    assert bg_metrics["actual_total"] == pytest.approx(
        realized.loc[
            realized["customer_id"].isin(known["customer_id"]), "revenue"
        ].sum()
    )
    assert gbm["status"] == registry.INSUFFICIENT_DATA
    assert json.loads(gbm["metrics"])["method"] == "gbm"
    assert blend["status"] == registry.INSUFFICIENT_DATA
    assert "clv_gbm did not" in blend["reason"]
