"""Empty and degenerate data never crash a train_ or score_ model.

Real exports can hold no usable order at all (every row refused by
staging), one customer, orders all on one day, amounts all 0 or negative,
labels of one class, or customers without any order. Then every train_
model appends ``insufficient_data`` rows whose reason says what is missing,
and every score_ model publishes its fixed schema (``scores.SCORE_SCHEMAS``)
with one row per customer and null scores with a note, exactly as when no
model is approved. A model approved by an earlier run keeps scoring the
degenerate customers without raising.

The frames are read from DuckDB tables with the column types of the
warehouse, through the same relation calls (``order``, ``project``,
``aggregate``, ``df``) as the dbt Python models, and the tests call the
package functions those models call; the last tests run every file of
``python_models/`` with a stand-in ``dbt`` object on such tables.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from predictive_segments import churn, clustering, clv, lookalike, registry, uplift
from predictive_segments import features as feature_sets
from predictive_segments.scores import SCORE_SCHEMAS, score_table

ROOT = Path(__file__).resolve().parents[2]
AS_OF = pd.Timestamp("2026-09-30")
TRAINED_AT = dt.datetime(2026, 10, 1)
RUN = "run-now"

# A subset of feat_customers with the warehouse's types (DECIMAL money,
# BIGINT counts, strings, booleans, bookkeeping timestamps).
FEATURE_TYPES = {
    "customer_id": "varchar",
    "cutoff_date": "date",
    "acquisition_channel": "varchar",
    "has_customer_record": "boolean",
    "tenure_days": "integer",
    "order_count": "bigint",
    "purchase_day_count": "bigint",
    "monetary_gross": "decimal(18,2)",
    "monetary_net": "decimal(18,2)",
    "orders_last_365d": "bigint",
    "recency_days": "integer",
    "avg_order_value": "double",
    "premium_spend_share": "double",
    "budget_spend_share": "double",
    "marketplace_order_share": "double",
    "sessions_last_90d": "bigint",
    "avg_events_per_session": "double",
    "is_unsubscribed": "boolean",
    "orders_max_source_at": "timestamp",
    "first_seen_at": "timestamp",
}
ORDER_TYPES = {
    "customer_id": "varchar",
    "ordered_date": "date",
    "revenue_amount": "decimal(18,2)",
    "is_cancelled": "boolean",
}
EXAMPLE_TYPES = {
    "ml_churn_examples": {
        "window_index": "integer",
        "as_of_date": "date",
        "is_churned": "boolean",
    },
    "ml_purchase_examples": {
        "window_index": "integer",
        "as_of_date": "date",
        "has_purchased": "boolean",
    },
    "ml_clv_examples": {
        "as_of_date": "date",
        "window_revenue": "decimal(18,2)",
        "has_full_history": "boolean",
    },
    "ml_prospect_examples": {
        "as_of_date": "date",
        "window_days": "integer",
        "window_order_count": "bigint",
        "window_revenue": "decimal(18,2)",
    },
    "ml_uplift_examples": {
        "campaign_id": "varchar",
        "is_treated": "boolean",
        "has_converted": "boolean",
        "window_revenue": "decimal(18,2)",
    },
}
ASSIGNMENT_TYPES = {
    "campaign_id": "varchar",
    "customer_id": "varchar",
    "assigned_at": "timestamp",
    "is_treated": "boolean",
}
SEGMENT_FEATURES = ["monetary_net", "orders_last_365d", "avg_order_value"]
MODEL_FEATURES = ["tenure_days", "order_count", "monetary_net", "sessions_last_90d"]


# ------------------------------------------------------------------ frames


def _table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    types: dict[str, str],
    frame: pd.DataFrame | None = None,
) -> duckdb.DuckDBPyRelation:
    """A DuckDB table ``name`` with ``types``, holding ``frame`` (may be empty)."""
    columns = ", ".join(f'"{c}" {t}' for c, t in types.items())
    con.execute(f'create or replace table "{name}" ({columns})')
    if frame is not None and len(frame):
        con.register("_rows", frame.reindex(columns=list(types)))
        con.execute(f'insert into "{name}" select * from _rows')
        con.unregister("_rows")
    return con.table(name)


def _read(
    types: dict[str, str], frame: pd.DataFrame | None, order: str
) -> pd.DataFrame:
    """``frame`` as a dbt Python model reads it: a typed table, ordered, .df()."""
    con = duckdb.connect()
    return _table(con, "t", types, frame).order(order).df()


def _ids(n: int, prefix: str = "c") -> list[str]:
    return [f"{prefix}{i:04d}" for i in range(n)]


def _features(n: int, cutoff: pd.Timestamp, seed: int = 0) -> pd.DataFrame:
    """Varied feature rows of ``n`` customers who all ordered."""
    rng = np.random.default_rng(seed)
    orders = rng.integers(1, 12, n)
    spend = np.round(rng.gamma(2.0, 40.0, n) * orders, 2)
    return pd.DataFrame(
        {
            "customer_id": _ids(n),
            "cutoff_date": cutoff,
            "acquisition_channel": rng.choice(["web", "app", "store"], n),
            "has_customer_record": True,
            "tenure_days": rng.integers(30, 900, n),
            "order_count": orders,
            "purchase_day_count": orders,
            "monetary_gross": spend,
            "monetary_net": spend,
            "orders_last_365d": orders,
            "recency_days": rng.integers(1, 300, n),
            "avg_order_value": spend / orders,
            "premium_spend_share": rng.random(n),
            "budget_spend_share": rng.random(n),
            "marketplace_order_share": rng.random(n),
            "sessions_last_90d": rng.poisson(4, n),
            "avg_events_per_session": rng.gamma(2.0, 3.0, n),
            "is_unsubscribed": rng.random(n) < 0.1,
            "orders_max_source_at": cutoff - pd.Timedelta(days=1),
            "first_seen_at": cutoff - pd.Timedelta(days=400),
        }
    )


def _without_orders(ids: list[str], cutoff: pd.Timestamp) -> pd.DataFrame:
    """Feature rows of registered customers who never ordered."""
    n = len(ids)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "cutoff_date": cutoff,
            "acquisition_channel": "web",
            "has_customer_record": True,
            "tenure_days": np.arange(n) + 10,
            "order_count": 0,
            "purchase_day_count": 0,
            "monetary_gross": 0.0,
            "monetary_net": 0.0,
            "orders_last_365d": 0,
            "sessions_last_90d": np.arange(n) % 5,
            "is_unsubscribed": False,
            "first_seen_at": cutoff - pd.Timedelta(days=100),
        }
    )


def _orders(customer_ids, dates, amounts) -> pd.DataFrame:
    """Staged orders (stg_shop__orders columns)."""
    customer_ids = list(customer_ids)
    return pd.DataFrame(
        {
            "customer_id": customer_ids,
            "ordered_date": pd.to_datetime(pd.Series(dates)).to_numpy(),
            "revenue_amount": np.broadcast_to(amounts, len(customer_ids)),
            "is_cancelled": False,
        }
    )


def _clv_orders(frame: pd.DataFrame | None) -> pd.DataFrame:
    """The orders as train_clv and score_clv read them."""
    con = duckdb.connect()
    return feature_sets.purchase_history(
        _table(con, "stg_shop__orders", ORDER_TYPES, frame)
    )


def _feat_customers(frame: pd.DataFrame | None) -> pd.DataFrame:
    return _read(FEATURE_TYPES, frame, "customer_id")


def _examples(name: str, frame: pd.DataFrame | None, order: str) -> pd.DataFrame:
    return _read({**FEATURE_TYPES, **EXAMPLE_TYPES[name]}, frame, order)


def _as_of_from_aggregate(frame: pd.DataFrame | None) -> pd.Timestamp | None:
    """as_of_date as train_clv and train_uplift compute it (a max() query)."""
    con = duckdb.connect()
    relation = _table(con, "feat_customers", FEATURE_TYPES, frame)
    return feature_sets.as_of_date(
        relation.aggregate("max(cutoff_date) as d").df()["d"]
    )


# ------------------------------------------------------------------ checks


def _assert_insufficient(rows: list[dict], *words: str) -> None:
    assert rows, "no registry row"
    for row in rows:
        assert row["status"] == registry.INSUFFICIENT_DATA, (
            row["model_kind"],
            row["status"],
            row["reason"],
        )
        assert row["artifact"] is None
        for word in words:
            assert word in row["reason"], row["reason"]
    registry.to_arrow(rows)  # the registry's fixed schema takes them


def _assert_table(
    frame: pd.DataFrame,
    model_name: str,
    customers: pd.DataFrame,
    null_columns: tuple[str, ...] = (),
    note_column: str | None = None,
) -> pa.Table:
    """The score table has its schema, one row per customer, and null scores."""
    table = score_table(frame, model_name)
    assert table.column_names == list(SCORE_SCHEMAS[model_name])
    assert table.num_rows == len(customers)
    assert table.column("customer_id").to_pylist() == list(customers["customer_id"])
    for column in null_columns:
        assert table.column(column).null_count == table.num_rows, column
    if note_column is not None and table.num_rows:
        notes = table.column(note_column).to_pylist()
        assert all(notes), notes
    return table


def _registry(rows: list[dict]) -> pd.DataFrame:
    """Registry rows as a score model reads them from the registry table."""
    return registry.to_arrow(rows).to_pandas().sort_values("trained_at")


def _earlier(rows: list[dict]) -> list[dict]:
    """Rows as trained by an earlier run (an hour before this one)."""
    stamp = TRAINED_AT - dt.timedelta(hours=1)
    return [{**row, "run_id": "run-earlier", "trained_at": stamp} for row in rows]


# Degenerate order histories, named after what they lack.
def _scenario(name: str) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(staged orders, feat_customers rows) of a degenerate warehouse."""
    if name == "nothing":
        return None, None
    if name == "one_customer":
        orders = _orders(["c0000"] * 2, ["2025-03-02"] * 2, [20.0, 5.0])
        return orders, _features(1, AS_OF)
    if name == "one_day":
        ids = _ids(600)
        return _orders(ids, ["2025-03-02"] * 600, 25.0), _features(600, AS_OF)
    if name == "one_day_is_as_of":
        ids = _ids(600)
        day = AS_OF - pd.Timedelta(days=1)
        return _orders(ids, [day] * 600, 25.0), _features(600, AS_OF)
    if name in ("zero_amounts", "negative_amounts"):
        rng = np.random.default_rng(3)
        ids = [f"c{i:04d}" for i in rng.integers(0, 600, 3000)]
        dates = AS_OF - pd.to_timedelta(rng.integers(1, 900, 3000), unit="D")
        amount = 0.0 if name == "zero_amounts" else -12.5
        return _orders(ids, dates, amount), _features(600, AS_OF)
    if name == "no_orders":
        return None, _without_orders(_ids(300), AS_OF)
    raise ValueError(name)


SCENARIOS = [
    "nothing",
    "one_customer",
    "one_day",
    "one_day_is_as_of",
    "zero_amounts",
    "negative_amounts",
    "no_orders",
]


# ------------------------------------------------------------------ CLV


@pytest.fixture(scope="module")
def approved_clv_rows() -> list[dict]:
    """BG/NBD and GBM rows approved by an earlier run on ordinary data."""
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
    )
    before = orders[orders["order_date"] < cutoff]
    after = orders[orders["order_date"] >= cutoff]
    examples = _features(n, cutoff)[["customer_id", "cutoff_date", *MODEL_FEATURES]]
    examples = examples.drop(columns=["order_count", "monetary_net"]).merge(
        before.groupby("customer_id")
        .agg(order_count=("amount", "size"), monetary_net=("amount", "sum"))
        .reset_index(),
        how="left",
    )
    revenue = after.groupby("customer_id")["amount"].sum()
    examples["window_revenue"] = examples["customer_id"].map(revenue).fillna(0.0)
    examples["has_full_history"] = True
    rows = clv.train_clv_runs(
        orders,
        examples.fillna({"order_count": 0, "monetary_net": 0.0}),
        as_of_date=AS_OF,
        training_cutoff=cutoff,
        horizon_days=365,
        run_id="run-earlier",
        trained_at=TRAINED_AT - dt.timedelta(hours=1),
        min_top_decile_capture=0.0,
        seed=3,
    )
    assert [row["status"] for row in rows] == [registry.APPROVED] * 3
    return rows


def _clv_examples(orders: pd.DataFrame | None, features: pd.DataFrame | None):
    """ml_clv_examples: the customers at the CLV cutoff with their window revenue."""
    if features is None:
        return _examples("ml_clv_examples", None, "customer_id")
    cutoff = AS_OF - pd.Timedelta(days=365)
    frame = features.assign(cutoff_date=cutoff, as_of_date=AS_OF)
    revenue = pd.Series(dtype=float)
    first = None
    if orders is not None:
        dates = pd.to_datetime(orders["ordered_date"])
        window = orders[(dates >= cutoff) & (dates < AS_OF)]
        revenue = window.groupby("customer_id")["revenue_amount"].sum()
        first = dates.min()
    frame["window_revenue"] = frame["customer_id"].map(revenue).fillna(0.0)
    frame["has_full_history"] = first is not None and first < cutoff
    return _examples("ml_clv_examples", frame, "customer_id")


def _train_clv(orders, examples, as_of_date, **kwargs) -> list[dict]:
    return clv.train_clv_runs(
        orders,
        examples,
        as_of_date=as_of_date,
        horizon_days=365,
        run_id=RUN,
        trained_at=TRAINED_AT,
        min_top_decile_capture=0.2,
        seed=3,
        **kwargs,
    )


CLV_REASONS = {
    "nothing": ("no customers", "as_of_date"),
    "one_customer": ("all 1 customers ordered on one day", "no repeat purchases"),
    "one_day": ("all 600 customers ordered on one day", "no repeat purchases"),
    "one_day_is_as_of": ("no customers with orders before 2025-09-30",),
    "zero_amounts": ("every order amount", "is 0"),
    "negative_amounts": ("every order amount", "0 or negative"),
    "no_orders": ("no orders",),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_clv_on_degenerate_data(name, approved_clv_rows):
    raw_orders, raw_features = _scenario(name)
    orders = _clv_orders(raw_orders)
    features = _feat_customers(raw_features)
    as_of_date = _as_of_from_aggregate(raw_features)
    rows = _train_clv(orders, _clv_examples(raw_orders, raw_features), as_of_date)
    assert [row["model_kind"] for row in rows] == list(clv.CLV_KINDS)
    _assert_insufficient(rows)
    for word in CLV_REASONS[name]:
        assert word in rows[0]["reason"], rows[0]["reason"]

    score_as_of = feature_sets.as_of_date(features["cutoff_date"])
    for history, null in ((rows, True), (_earlier(approved_clv_rows) + rows, False)):
        scores = clv.score_clv(
            _registry(history),
            orders,
            features,
            as_of_date=score_as_of,
            horizon_days=365,
        )
        scores.insert(1, "as_of_date", features["cutoff_date"].dt.date.to_numpy())
        scores["is_rising_value"] = clv.rising_value(
            features["monetary_net"].to_numpy(dtype=float),
            scores["predicted_clv"].to_numpy(dtype=float),
        )
        nulls = (*clv.CLV_COLUMNS, "p_alive") if null else ()
        _assert_table(
            scores, "score_clv", features, nulls, "clv_score_note" if null else None
        )
        if null and len(features):
            assert set(scores["clv_score_note"]) == {"no approved CLV model"}


def _nat_as_of_date() -> pd.Timestamp:
    """max(cutoff_date) of an empty feat_customers, read as train_clv read it."""
    relation = _table(duckdb.connect(), "feat_customers", FEATURE_TYPES)
    return relation.aggregate("max(cutoff_date) as d").df()["d"][0]


def test_train_clv_with_the_nat_of_an_empty_feature_table():
    """The reported crash: 'NaTType' object has no attribute 'normalize'."""
    nat = _nat_as_of_date()
    assert nat is pd.NaT
    rows = _train_clv(
        _clv_orders(None),
        _clv_examples(None, None),
        nat,
        training_cutoff=nat - dt.timedelta(days=365),
    )
    _assert_insufficient(rows, "no customers", "as_of_date")
    assert rows[0]["as_of_date"] is None


def test_score_clv_with_the_nat_of_an_empty_feature_table(approved_clv_rows):
    """An approved model and no as_of_date: nobody to score, no crash."""
    nat = _nat_as_of_date()
    features = _feat_customers(None)
    scores = clv.score_clv(
        _registry(_earlier(approved_clv_rows)),
        _clv_orders(None),
        features,
        as_of_date=nat,
        horizon_days=365,
    )
    assert scores.empty
    assert list(scores.columns)[:5] == ["customer_id", *clv.CLV_COLUMNS]
    with pytest.raises(ValueError, match="cutoff date is missing"):
        clv.summary_from_orders(_clv_orders(None), nat)


def test_clv_backtest_without_net_revenue_is_insufficient(approved_clv_rows):
    """Holdout customers with a history whose net revenue is not positive
    (refunds, or only new customers bought) leave nothing to backtest."""
    rng = np.random.default_rng(8)
    n = 900
    ids = _ids(n)
    customer = np.repeat(np.arange(n), 3)
    dates = AS_OF - pd.to_timedelta(rng.integers(366, 900, customer.size), unit="D")
    orders = _clv_orders(_orders([ids[i] for i in customer], dates, 30.0))
    features = _features(n, AS_OF - pd.Timedelta(days=365))
    examples = features.assign(
        as_of_date=AS_OF,
        window_revenue=np.where(np.arange(n) % 40 == 0, 10.0, -5.0),
        has_full_history=True,
    )
    examples = _examples("ml_clv_examples", examples, "customer_id")
    rows = _train_clv(orders, examples, AS_OF)
    _assert_insufficient(rows)
    assert "no net revenue" in rows[0]["reason"]


def test_clv_gbm_without_a_varying_feature_is_insufficient():
    rng = np.random.default_rng(9)
    n = 900
    ids = _ids(n)
    customer = np.repeat(np.arange(n), 4)
    dates = AS_OF - pd.to_timedelta(rng.integers(1, 900, customer.size), unit="D")
    amounts = rng.gamma(2.0, 30.0, customer.size).round(2)
    raw = _orders([ids[i] for i in customer], dates, amounts)
    frame = _without_orders(ids, AS_OF - pd.Timedelta(days=365))
    frame["sessions_last_90d"] = 1
    frame["tenure_days"] = 100
    examples = _clv_examples(raw, frame.assign(cutoff_date=AS_OF))
    rows = _train_clv(_clv_orders(raw), examples, AS_OF)
    assert rows[1]["status"] == registry.INSUFFICIENT_DATA
    assert "features varies" in rows[1]["reason"]


# ------------------------------------------------------ churn and propensity


def _label_examples(
    name: str, features_at: dict[int, pd.DataFrame], labels: dict[int, np.ndarray]
) -> pd.DataFrame:
    label = "is_churned" if name == "ml_churn_examples" else "has_purchased"
    frames = [
        frame.assign(window_index=window, as_of_date=AS_OF, **{label: labels[window]})
        for window, frame in features_at.items()
    ]
    return _examples(name, pd.concat(frames), "customer_id, cutoff_date")


@pytest.fixture(scope="module")
def approved_churn_row() -> dict:
    rng = np.random.default_rng(1)
    features_at, labels = {}, {}
    for window, days in ((2, 180), (1, 90)):
        frame = _features(800, AS_OF - pd.Timedelta(days=days), seed=window)
        logit = (frame["recency_days"] - 150) / 40
        features_at[window] = frame
        labels[window] = rng.random(800) < 1 / (1 + np.exp(-logit))
    row = _train_churn(
        _label_examples("ml_churn_examples", features_at, labels), _clv_orders(None)
    )
    assert row["status"] == registry.APPROVED, row["reason"]
    return row


def _train_churn(
    examples: pd.DataFrame,
    orders: pd.DataFrame,
    kind: str = "churn",
    label: str = "is_churned",
) -> dict:
    """A training run as train_churn makes it: supervised, then the ladder."""
    return churn.train_family_run(
        examples,
        orders,
        kind=kind,
        label_column=label,
        window_days=90,
        as_of_date=feature_sets.as_of_date(examples["as_of_date"]),
        run_id=RUN,
        trained_at=TRAINED_AT,
        min_auc=0.6,
        seed=3,
    )


def _churn_cases(name: str) -> pd.DataFrame:
    if name == "nothing":
        return _examples("ml_churn_examples", None, "customer_id, cutoff_date")
    if name == "one_customer":
        return _label_examples(
            "ml_churn_examples",
            {w: _features(1, AS_OF - pd.Timedelta(days=90 * w)) for w in (1, 2)},
            {1: np.array([True]), 2: np.array([False])},
        )
    if name == "single_class":
        return _label_examples(
            "ml_churn_examples",
            {w: _features(500, AS_OF - pd.Timedelta(days=90 * w), w) for w in (1, 2)},
            {1: np.zeros(500, dtype=bool), 2: np.zeros(500, dtype=bool)},
        )
    if name == "one_day":
        # Everybody bought once on one day: every feature is one constant.
        labels = np.arange(500) % 2 == 0
        frames = {}
        for window in (1, 2):
            frame = _without_orders(_ids(500), AS_OF - pd.Timedelta(days=90 * window))
            frame[["order_count", "purchase_day_count", "orders_last_365d"]] = 1
            frame[["monetary_gross", "monetary_net"]] = 25.0
            frame[["tenure_days", "sessions_last_90d"]] = 10
            frame["recency_days"] = 5
            frames[window] = frame
        return _label_examples("ml_churn_examples", frames, {1: labels, 2: labels})
    raise ValueError(name)


CHURN_REASONS = {
    "nothing": ("no training examples", "BG/NBD: no as_of_date"),
    "one_customer": ("single class", "BG/NBD: "),
    "single_class": ("single class", "all 500 are 0", "BG/NBD: "),
    "one_day": ("none of the", "features varies", "BG/NBD: "),
}
#: The order history beside each churn case (a _scenario of the CLV tests):
#: the BG/NBD rung of the ladder reads it and must refuse it too.
CHURN_ORDERS = {
    "nothing": "nothing",
    "one_customer": "one_customer",
    "single_class": "negative_amounts",
    "one_day": "one_day",
}


@pytest.mark.parametrize("name", list(CHURN_REASONS))
def test_churn_and_propensity_on_degenerate_data(name, approved_churn_row):
    examples = _churn_cases(name)
    orders = _clv_orders(_scenario(CHURN_ORDERS[name])[0])
    row = _train_churn(examples, orders)
    _assert_insufficient([row], *CHURN_REASONS[name])
    purchase = examples.rename(columns={"is_churned": "has_purchased"})
    purchase_row = _train_churn(
        purchase, orders, "purchase_propensity", "has_purchased"
    )
    _assert_insufficient([purchase_row], *CHURN_REASONS[name])

    for features in (
        _feat_customers(None),
        _feat_customers(_features(1, AS_OF)),
        _feat_customers(_without_orders(_ids(40), AS_OF)),
    ):
        for history, null in (
            ([row], True),
            ([_earlier([approved_churn_row])[0], row], False),
        ):
            scores = churn.score_probability_model(
                _registry(history),
                features,
                kind="churn",
                eligible=(features["order_count"] > 0).to_numpy(),
                ineligible_reason="no purchase before as_of_date: churn is undefined",
                with_reasons=True,
                orders=orders,
            )
            scores.insert(1, "as_of_date", features["cutoff_date"].dt.date.to_numpy())
            scores = churn.published(scores, "churn", with_reasons=True)
            bought = bool((features["order_count"] > 0).any())
            nulls = ("churn_probability",) if null or not bought else ()
            _assert_table(scores, "score_churn", features, nulls)
            if null and len(features):
                assert (
                    scores["churn_score_note"].str.contains("insufficient_data").all()
                )


# ------------------------------------------------------------------ segments


@pytest.fixture(scope="module")
def approved_segment_row() -> dict:
    rng = np.random.default_rng(2)
    centers = np.array([[20.0, 2.0, 10.0], [900.0, 10.0, 90.0], [300.0, 25.0, 12.0]])
    group = rng.integers(0, 3, 600)
    values = centers[group] * rng.lognormal(0, 0.15, (600, 3))
    customers = pd.DataFrame(values, columns=SEGMENT_FEATURES).assign(
        customer_id=_ids(600), cutoff_date=AS_OF
    )
    row = _segment(customers, run_id="run-earlier")
    assert row["status"] == registry.APPROVED, row["reason"]
    return row


def _segment(customers: pd.DataFrame, run_id: str = RUN) -> dict:
    return clustering.segmentation_run(
        customers,
        features=SEGMENT_FEATURES,
        previous_artifact=None,
        as_of_date=feature_sets.as_of_date(customers["cutoff_date"]),
        run_id=run_id,
        trained_at=TRAINED_AT,
        k_range=(2, 4),
        min_silhouette=0.1,
        min_stability=0.5,
        seed=3,
    )


SEGMENT_REASONS = {
    "nothing": ("no customers",),
    "one_customer": ("usable behavioral features", "1 active customers"),
    "one_day_is_as_of": ("usable behavioral features", "do not vary"),
    "no_orders": ("usable behavioral features", "do not vary"),
}


@pytest.mark.parametrize("name", list(SEGMENT_REASONS))
def test_segments_on_degenerate_data(name, approved_segment_row):
    _, raw_features = _scenario(name)
    if name == "one_day_is_as_of":
        # Everybody's one order, on one day: one value per feature.
        raw_features = _without_orders(_ids(600), AS_OF)
        raw_features[["orders_last_365d", "order_count"]] = 1
        raw_features[["monetary_net", "avg_order_value"]] = 25.0
    con = duckdb.connect()
    table = _table(con, "feat_customers", FEATURE_TYPES, raw_features)
    columns = [c for c in ["customer_id", "cutoff_date", *SEGMENT_FEATURES]]
    customers = table.project(", ".join(columns)).order("customer_id").df()
    row = _segment(customers)
    _assert_insufficient([row], *SEGMENT_REASONS[name])

    features = table.order("customer_id").df()
    for history, null in (
        ([row], True),
        ([*_earlier([approved_segment_row]), row], False),
    ):
        segments = clustering.assign_segments(_registry(history), features)
        segments.insert(1, "as_of_date", features["cutoff_date"].dt.date.to_numpy())
        nulls = ("segment_id", "segment_name") if null else ()
        _assert_table(segments, "score_segments", features, nulls, None)
        if null and len(features):
            assert segments["segment_note"].str.contains("insufficient_data").all()
        # score_micro_segments crosses the assigned segments with the bands.
        assigned = segments["segment_id"].notna().to_numpy()
        out = segments[["customer_id", "as_of_date"]].copy()
        out["micro_segment"] = pd.Series(None, index=out.index, dtype=object)
        if assigned.any():
            out.loc[assigned, "micro_segment"] = clustering.micro_segments(
                segments.loc[assigned, "segment_id"].to_numpy(dtype=object),
                np.full(int(assigned.sum()), "unscored", dtype=object),
                np.full(int(assigned.sum()), "unscored", dtype=object),
                min_size=100,
            )
        _assert_table(out, "score_micro_segments", features)


# ------------------------------------------------------------------ lookalike


@pytest.fixture(scope="module")
def approved_lookalike_row() -> dict:
    customers = _features(3000, AS_OF, seed=5)
    value = customers["monetary_net"].to_numpy() * np.random.default_rng(5).lognormal(
        0, 0.3, 3000
    )
    is_seed = lookalike.seed_from_value(value, 0.05)
    row, _ = lookalike.lookalike_run(
        customers,
        is_seed,
        features=MODEL_FEATURES,
        as_of_date=AS_OF,
        run_id="run-earlier",
        trained_at=TRAINED_AT - dt.timedelta(hours=1),
        min_top_tier_lift=1.0,
        seed=3,
    )
    assert row["status"] == registry.APPROVED, row["reason"]
    return row


LOOKALIKE_REASONS = {
    "nothing": ("no customers",),
    "one_customer": ("seed is empty",),
    "no_orders": ("seed is empty", "predicted CLV"),
    "same_value": ("seed is empty", "same value"),
}


@pytest.mark.parametrize("name", list(LOOKALIKE_REASONS))
def test_lookalike_on_degenerate_data(name, approved_lookalike_row):
    if name == "same_value":
        raw_features = _features(3000, AS_OF)
    else:
        raw_features = _scenario(name)[1]
    con = duckdb.connect()
    feat = _table(con, "feat_customers", FEATURE_TYPES, raw_features)
    customers = feat.order("customer_id").df()
    # score_clv: null without an approved CLV model; BG/NBD's 0 for everybody
    # without a purchase history.
    value = np.full(len(customers), np.nan if name == "no_orders" else 0.0)
    is_seed = lookalike.seed_from_value(value, 0.05)
    assert not is_seed.any()
    features = feature_sets.feature_columns(customers.columns)
    oof = lookalike.lookalike_out_of_fold(customers, is_seed, features=features, seed=3)
    oof["as_of_date"] = customers["cutoff_date"].dt.date.to_numpy()
    _assert_table(oof, "score_lookalike_oof", customers, ("lookalike_score",))

    row, scores = lookalike.lookalike_run(
        customers,
        oof["is_lookalike_seed"].to_numpy(dtype=bool),
        features=[c for c in features if c in customers.columns],
        as_of_date=feature_sets.as_of_date(customers["cutoff_date"]),
        run_id=RUN,
        trained_at=TRAINED_AT,
        min_top_tier_lift=2.0,
        seed=3,
        out_of_fold=oof,
    )
    assert scores is None
    _assert_insufficient([row], *LOOKALIKE_REASONS[name])

    # retrain false: the latest approved final model, if any, scores everyone.
    for history, null in (
        ([row], True),
        ([*_earlier([approved_lookalike_row]), row], False),
    ):
        out = oof[["customer_id", "as_of_date", "is_lookalike_seed"]].copy()
        published = lookalike.score_latest_approved(
            _registry(history), customers, is_seed
        )
        for column in published.columns:
            out[column] = published[column].to_numpy()
        nulls = ("lookalike_score", "lookalike_percentile") if null else ()
        _assert_table(out, "score_lookalike", customers, nulls)
        if null and len(customers):
            assert out["lookalike_note"].str.contains("insufficient_data").all()
    ranked = lookalike.ranked_scores(np.zeros(len(customers)), is_seed)
    assert len(ranked) == len(customers)


# ------------------------------------------------------------------ uplift


@pytest.fixture(scope="module")
def approved_uplift_rows() -> list[dict]:
    rng = np.random.default_rng(4)
    frame = _features(1200, AS_OF - pd.Timedelta(days=60), seed=4)
    treated = rng.random(1200) < 0.5
    rate = 0.1 + 0.4 * treated * (
        frame["monetary_net"] > frame["monetary_net"].median()
    )
    examples = frame.assign(
        campaign_id="spring",
        is_treated=treated,
        has_converted=rng.random(1200) < rate,
        window_revenue=0.0,
    )
    rows = _uplift(
        _examples("ml_uplift_examples", examples, "campaign_id, customer_id"),
        assignment_count=1200,
        min_per_arm=100,
    )
    assert [row["status"] for row in rows] == [registry.APPROVED]
    return _earlier(rows)


def _uplift(examples: pd.DataFrame, **kwargs) -> list[dict]:
    return uplift.uplift_runs(
        examples,
        as_of_date=AS_OF,
        run_id=RUN,
        trained_at=TRAINED_AT,
        min_qini=0.0,
        seed=3,
        n_folds=2,
        **kwargs,
    )


def _campaign(n: int, treated, converted, constant: bool = False) -> pd.DataFrame:
    frame = _features(n, AS_OF - pd.Timedelta(days=60), seed=7)
    if constant:
        frame = _without_orders(_ids(n), AS_OF - pd.Timedelta(days=60))
        frame[["sessions_last_90d", "tenure_days"]] = 2
    examples = frame.assign(
        campaign_id="autumn",
        is_treated=treated,
        has_converted=converted,
        window_revenue=0.0,
    )
    return _examples("ml_uplift_examples", examples, "campaign_id, customer_id")


UPLIFT_CASES = {
    "no_assignments": (lambda: _campaign(0, [], []), 0, ("no campaign assignments",)),
    "no_complete_window": (
        lambda: _campaign(0, [], []),
        50,
        ("no randomized campaign",),
    ),
    "one_customer": (
        lambda: _campaign(1, [True], [True]),
        1,
        ("1 treated, 0 control",),
    ),
    "no_converter": (
        lambda: _campaign(600, np.arange(600) % 2 == 0, False),
        600,
        ("outcome 0", "no contrast"),
    ),
    "no_control_group": (
        lambda: _campaign(600, True, np.arange(600) % 3 == 0),
        600,
        ("no control group",),
    ),
    "constant_features": (
        lambda: _campaign(
            600, np.arange(600) % 2 == 0, np.arange(600) % 3 == 0, constant=True
        ),
        600,
        ("no feature varies",),
    ),
}


@pytest.mark.parametrize("name", list(UPLIFT_CASES))
def test_uplift_on_degenerate_data(name, approved_uplift_rows):
    make, assignments, words = UPLIFT_CASES[name]
    rows = _uplift(make(), assignment_count=assignments, min_per_arm=100)
    _assert_insufficient(rows, *words)

    empty_schema = {"customer_id", "campaign_id", "uplift_score", "uplift_group"}
    for raw_features in (None, _features(1, AS_OF), _without_orders(_ids(30), AS_OF)):
        features = _feat_customers(raw_features)
        for history in (rows, approved_uplift_rows + rows):
            scores = uplift.score_uplift(_registry(history), features)
            assert empty_schema <= set(scores.columns)
            scores.insert(
                1, "as_of_date", feature_sets.as_of_date(features["cutoff_date"])
            )
            table = score_table(scores, "score_uplift")
            assert table.column_names == list(SCORE_SCHEMAS["score_uplift"])
            # One row per customer and campaign with an approved model: none
            # for this run's insufficient campaign.
            approved = 1 if history is not rows else 0
            assert table.num_rows == approved * len(features)


def test_uplift_runs_without_assignment_count_return_no_row():
    assert _uplift(_campaign(0, [], [])) == []


# ------------------------------------------------------------------ helpers


def test_as_of_date_of_an_empty_feature_table_is_none():
    assert feature_sets.as_of_date(pd.Series([], dtype="datetime64[us]")) is None
    assert feature_sets.as_of_date(pd.Series([pd.NaT])) is None
    assert feature_sets.as_of_date([None]) is None
    dates = pd.Series(pd.to_datetime(["2024-01-02", "2024-03-04"]))
    assert feature_sets.as_of_date(dates) == pd.Timestamp("2024-03-04")


def test_varying_columns():
    frame = pd.DataFrame(
        {
            "null": [np.nan, np.nan],
            "constant": [1.0, 1.0],
            "constant_or_null": [1.0, np.nan],
            "text": ["a", "b"],
            "same_text": ["a", "a"],
        }
    )
    assert feature_sets.varying_columns(frame, list(frame.columns)) == [
        "constant_or_null",
        "text",
    ]


def test_seed_of_equal_values_is_empty():
    assert not lookalike.seed_from_value(np.zeros(5000), 0.05).any()
    assert not lookalike.seed_from_value(np.full(5000, np.nan), 0.05).any()
    assert not lookalike.seed_from_value(np.zeros(0), 0.05).any()
    assert lookalike.seed_from_value(np.arange(5000.0), 0.05).sum() == 250


# -------------------------------------------- the dbt Python models themselves


class _Config:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, key: str, default: object = None) -> object:
        return self.values.get(key, default)


class _Dbt:
    """What a dbt-duckdb Python model is given: refs are DuckDB relations."""

    is_incremental = False
    this = None

    def __init__(self, con: duckdb.DuckDBPyConnection, config: dict[str, str]):
        self.con = con
        self.config = _Config(config)

    def ref(self, name: str) -> duckdb.DuckDBPyRelation:
        return self.con.table(name)


def _config() -> dict[str, str]:
    project_vars = yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"]
    values = {k: str(v) for k, v in project_vars.items() if v is not None}
    values.update(
        run_id=RUN,
        seed=str(project_vars["model_seed"]),
        nthread="1",
        min_auc="0.65",
        prospect_min_auc="0.65",
        window_days=str(project_vars["churn_window_days"]),
        shuffle_training_labels="false",
        retrain="true",
    )
    return values


def _model(name: str):
    spec = importlib.util.spec_from_file_location(
        f"python_models_{name}", ROOT / "python_models" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# In dependency order; int_customer_scores_banded is SQL, stood in for here.
PYTHON_MODELS = [
    "train_churn",
    "train_purchase_propensity",
    "train_clv",
    "train_segments",
    "train_uplift",
    "score_churn",
    "score_purchase_propensity",
    "score_clv",
    "score_segments",
    "score_uplift",
    "score_lookalike_oof",
    "train_lookalike",
    "score_lookalike",
    "score_micro_segments",
]


def _warehouse(name: str) -> duckdb.DuckDBPyConnection:
    raw_orders, raw_features = _scenario(name)
    con = duckdb.connect()
    _table(con, "feat_customers", FEATURE_TYPES, raw_features)
    _table(con, "stg_shop__orders", ORDER_TYPES, raw_orders)
    _table(con, "stg_shop__campaign_assignments", ASSIGNMENT_TYPES)
    examples = {}
    if raw_features is not None:
        examples["ml_clv_examples"] = _clv_examples(raw_orders, raw_features)
        purchase = pd.concat(
            raw_features.assign(
                cutoff_date=AS_OF - pd.Timedelta(days=30 * w),
                window_index=w,
                as_of_date=AS_OF,
                has_purchased=False,
            )
            for w in (1, 2)
        )
        examples["ml_purchase_examples"] = purchase
        # The customers without a purchase, none of whom bought since.
        examples["ml_prospect_examples"] = raw_features[
            raw_features["order_count"].fillna(0) == 0
        ].assign(
            cutoff_date=AS_OF - pd.Timedelta(days=180),
            as_of_date=AS_OF,
            window_days=180,
            window_order_count=0,
            window_revenue=0.0,
        )
    for table, extra in EXAMPLE_TYPES.items():
        _table(con, table, {**FEATURE_TYPES, **extra}, examples.get(table))
    return con


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_python_model_runs_on_degenerate_data(name):
    con = _warehouse(name)
    dbt = _Dbt(con, _config())
    customers = con.table("feat_customers").order("customer_id").df()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model_name in PYTHON_MODELS:
            if model_name == "score_micro_segments":
                con.execute(
                    """
                    create or replace table int_customer_scores_banded as
                    select
                        customer_id, as_of_date, segment_id,
                        'unscored' as value_tier, 'unscored' as churn_risk_band
                    from score_segments
                    """
                )
            table = _model(model_name).model(dbt, con)
            con.register(f"_{model_name}", table)
            con.execute(f"create table {model_name} as select * from _{model_name}")
            if model_name.startswith("train_"):
                frame = table.to_pandas()
                assert len(frame), model_name
                assert frame["status"].isin(registry.STATUSES).all()
                unapproved = frame[frame["status"] != registry.APPROVED]
                assert unapproved["reason"].notna().all(), model_name
            elif model_name != "score_uplift":
                assert table.column_names == list(SCORE_SCHEMAS[model_name])
                assert table.column("customer_id").to_pylist() == list(
                    customers["customer_id"]
                ), model_name
    registry_rows = pd.concat(
        con.table(m).df() for m in PYTHON_MODELS if m.startswith("train_")
    )
    insufficient = registry_rows[registry_rows["status"] == registry.INSUFFICIENT_DATA]
    assert {"clv_bgnbd", "clv_gbm", "lookalike"} <= set(insufficient["model_kind"])
    if name == "nothing":
        assert (registry_rows["status"] == registry.INSUFFICIENT_DATA).all()
        assert registry_rows["as_of_date"].isna().all()
