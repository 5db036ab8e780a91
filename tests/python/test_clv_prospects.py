"""Prospects (signed up, never bought) get a CLV from what is known about them.

BG/NBD only models customers with a purchase: to it a prospect is worth 0.
When it serves, the run's GBM values the prospects from their features
(clv._prospects_filled), and the BG/NBD row's metrics say so. The data plant
an engagement score that sets each prospect's chance to buy in the horizon,
so the test knows who should rank first.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from predictive_segments import clv, metrics, registry

AS_OF = pd.Timestamp("2026-01-01")
HORIZON = 365
TRAINED_AT = dt.datetime(2026, 1, 2)


def _customers(rng: np.random.Generator, prefix: str, n: int) -> pd.DataFrame:
    """n customers: engagement in [0, 1], a buyer flag and a spend scale."""
    return pd.DataFrame(
        {
            "customer_id": [f"{prefix}{i:05d}" for i in range(n)],
            "engagement": rng.random(n),
            "is_buyer": rng.random(n) < 0.6,
            "scale": rng.gamma(2.0, 30.0, n),
        }
    )


def _converts(rng: np.random.Generator, engagement: np.ndarray) -> np.ndarray:
    """The planted chance of a prospect's first purchase in the horizon."""
    return rng.random(engagement.size) < 0.02 + 0.5 * engagement**2


def _orders(rng, customers, start, end, converted) -> pd.DataFrame:
    """Buyers order at random from ``start`` (once at least before ``end``);
    converted prospects from ``end`` on (their first purchases, in the
    horizon after it)."""
    rows = []
    for row, new in zip(customers.itertuples(), converted, strict=True):
        if row.is_buyer:
            n = rng.poisson(4) + 1
            days = rng.integers(0, (end - start).days + HORIZON, n)
            days[0] = rng.integers(0, (end - start).days)  # bought before end
            rows += [(row.customer_id, start + pd.Timedelta(days=int(d))) for d in days]
        elif new:
            days = rng.integers(0, HORIZON, rng.poisson(1) + 1)
            rows += [(row.customer_id, end + pd.Timedelta(days=int(d))) for d in days]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date"])
    scale = customers.set_index("customer_id")["scale"]
    frame["amount"] = (
        rng.gamma(4.0, 1.0, len(frame)) * scale.loc[frame["customer_id"]].to_numpy() / 4
    ).round(2)
    return frame


def _features(customers: pd.DataFrame, orders: pd.DataFrame, cutoff) -> pd.DataFrame:
    """What the feature tables know at ``cutoff``: orders before it, engagement."""
    before = orders[orders["order_date"] < cutoff]
    known = before.groupby("customer_id").agg(
        order_count=("amount", "size"), monetary_net=("amount", "sum")
    )
    out = customers[["customer_id", "engagement"]].merge(
        known.reset_index(), how="left"
    )
    out = out.fillna({"order_count": 0, "monetary_net": 0.0})
    out["cutoff_date"] = cutoff
    return out


@pytest.fixture(scope="module")
def run():
    """A CLV training run on 6,000 customers a horizon before AS_OF, and the
    features at AS_OF of 2,000 new prospects with their planted chances."""
    rng = np.random.default_rng(17)
    cutoff = AS_OF - pd.Timedelta(days=HORIZON)
    start = cutoff - pd.Timedelta(days=730)
    customers = _customers(rng, "c", 6000)
    converted = _converts(rng, customers["engagement"].to_numpy())
    prospect = ~customers["is_buyer"].to_numpy()
    # The planted chance ranks the prospects this well (the AUC to match).
    oracle_auc = metrics.roc_auc(
        converted[prospect], 0.5 * customers["engagement"].to_numpy()[prospect] ** 2
    )
    converted &= prospect
    orders = _orders(rng, customers, start, cutoff, converted)
    orders = orders[orders["order_date"] < AS_OF]
    examples = _features(customers, orders, cutoff)
    after = orders[orders["order_date"] >= cutoff].groupby("customer_id")["amount"]
    examples["window_revenue"] = (
        examples["customer_id"].map(after.sum()).fillna(0.0).to_numpy()
    )
    examples["has_full_history"] = True
    rows = clv.train_clv_runs(
        orders,
        examples,
        as_of_date=AS_OF,
        horizon_days=HORIZON,
        run_id="run",
        trained_at=TRAINED_AT,
        min_top_decile_capture=0.2,
        seed=3,
    )
    new = _customers(rng, "p", 2000).assign(is_buyer=False)
    chance = 0.02 + 0.5 * new["engagement"].to_numpy() ** 2
    serving = pd.concat(
        [_features(customers, orders, AS_OF), _features(new, orders, AS_OF)],
        ignore_index=True,
    )
    return {
        "rows": rows,
        "orders": orders,
        "serving": serving,
        "chance": chance,
        "oracle_auc": oracle_auc,
    }


def _by_kind(rows) -> dict[str, dict]:
    return {row["model_kind"]: row for row in rows}


def _bgnbd_serving(rows) -> pd.DataFrame:
    """The run's registry rows with BG/NBD marked as the served model."""
    frame = registry.to_arrow(rows).to_pandas()
    frame["metrics"] = [
        json.dumps({**json.loads(m), "selected": kind == "clv_bgnbd"})
        for kind, m in zip(frame["model_kind"], frame["metrics"], strict=True)
    ]
    return frame


def test_bgnbd_row_values_its_prospects_with_the_gbm(run):
    rows = _by_kind(run["rows"])
    assert rows["clv_gbm"]["status"] == registry.APPROVED, rows["clv_gbm"]["reason"]
    bg = json.loads(rows["clv_bgnbd"]["metrics"])
    assert bg["prospect_model"] == "clv_gbm"
    assert bg["prospect_model_version"] == rows["clv_gbm"]["model_version"]
    assert bg["prospect_customers"] > 300
    # Engagement plants who converts: the GBM ranks the holdout's prospects
    # nearly as well as the planted chance ranks all of them (margin 0.05:
    # about two standard errors of an AUC on ~700 prospects).
    assert bg["prospect_purchase_auc"] > run["oracle_auc"] - 0.05
    # BG/NBD alone gives them 0, so its own metrics stay beside the served.
    alone = bg["bgnbd_alone"]
    assert alone["top_decile_capture"] <= bg["top_decile_capture"] + 1e-12
    # The prospects' realized revenue was predicted as 0 by BG/NBD alone:
    # filling them raises the prediction by what the GBM gives them.
    assert bg["prospect_predicted_mean"] > 0
    assert bg["aggregate_error"] > alone["aggregate_error"]


def test_served_bgnbd_scores_prospects_by_their_planted_chance(run):
    frame = _bgnbd_serving(run["rows"])
    serving = run["serving"]
    scores = clv.score_clv(
        frame, run["orders"], serving, as_of_date=AS_OF, horizon_days=HORIZON
    )
    version = frame.loc[frame["model_kind"] == "clv_bgnbd", "model_version"].item()
    assert set(scores["clv_model_version"]) == {version}
    prospects = (serving["order_count"] == 0).to_numpy()
    assert set(scores.loc[prospects, "clv_method"]) == {"gbm"}
    assert set(scores.loc[~prospects, "clv_method"]) == {"bgnbd_gamma_gamma"}
    assert scores.loc[prospects, "clv_score_note"].str.contains("GBM").all()
    new = serving["customer_id"].str.startswith("p").to_numpy()
    value = scores.loc[new, "predicted_clv"].to_numpy(dtype=float)
    assert (value >= 0).all() and value.std() > 0
    # Rank agreement with the planted chance of buying (margin: 0 at random).
    rho = pd.Series(value).corr(pd.Series(run["chance"]), method="spearman")
    assert rho > 0.6
    # Quantiles stay ordered.
    for low, high in (("p10", "p50"), ("p50", "p90")):
        assert (
            scores[f"predicted_clv_{low}"] <= scores[f"predicted_clv_{high}"] + 1e-9
        ).all()


def test_without_an_approved_gbm_prospects_stay_at_zero(run):
    # Training: a rejected GBM values no prospect.
    bg_holdout = pd.DataFrame({c: [5.0, np.nan, 7.0] for c in clv.CLV_COLUMNS})
    gbm_holdout = pd.DataFrame({c: [1.0, 2.0, 3.0] for c in clv.CLV_COLUMNS})
    for status in (registry.REJECTED, registry.INSUFFICIENT_DATA):
        notes: dict = {}
        filled = clv._prospects_filled(
            bg_holdout,
            gbm_holdout,
            {"status": status, "model_version": "v"},
            np.array([4.0, 1.0, 9.0]),
            notes,
        )
        assert filled["predicted_clv"].tolist() == [5.0, 0.0, 7.0]
        assert notes["prospect_model"] is None and notes["prospect_customers"] == 1
    # Serving: a BG/NBD row without a prospect model gives prospects 0.
    frame = _bgnbd_serving(run["rows"])
    frame["metrics"] = [
        json.dumps({**json.loads(m), "prospect_model": None}) for m in frame["metrics"]
    ]
    scores = clv.score_clv(
        frame, run["orders"], run["serving"], as_of_date=AS_OF, horizon_days=HORIZON
    )
    prospects = (run["serving"]["order_count"] == 0).to_numpy()
    assert (scores.loc[prospects, "predicted_clv"] == 0).all()
    assert set(scores.loc[prospects, "clv_method"]) == {"bgnbd_gamma_gamma"}
    assert scores.loc[prospects, "clv_score_note"].str.contains("BG/NBD").all()


def test_prospect_metrics_read_the_holdout():
    actual = np.array([0.0, 0.0, 10.0, 30.0])
    predicted = pd.DataFrame({"predicted_clv": [1.0, 2.0, 3.0, 4.0]})
    out = clv._prospect_metrics(actual, predicted)
    assert out["prospect_realized_mean"] == pytest.approx(10.0)
    assert out["prospect_predicted_mean"] == pytest.approx(2.5)
    assert out["prospect_purchase_auc"] == pytest.approx(
        metrics.roc_auc(actual > 0, predicted["predicted_clv"])
    )
    none = clv._prospect_metrics(np.zeros(3), predicted.iloc[:3])
    assert none["prospect_purchase_auc"] is None
