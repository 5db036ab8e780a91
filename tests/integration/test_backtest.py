"""The score history and the backtest of published scores (rpt_model_backtest).

One DuckDB file is built at D = the demo data's as-of date minus
DAYS_BEFORE_AS_OF, then at the as-of date A, into one warehouse, as weekly
builds do. The backtest of the scores published at D is recomputed here
from the history rows and the staged orders (scikit-learn's AUC, the
package's top-decile capture) and must match to 1e-9. Then the history's
guarantees: re-running it at A replaces A's rows with equal ones, and a
build at the earlier D leaves A's rows untouched.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from predictive_segments import metrics

# 30 days: the purchase window (30) has just elapsed at A, the churn (90)
# and CLV (365) windows have not, so both kinds of rows are checked; and the
# purchase outcomes at D are the newest purchase labels of the build at A.
DAYS_BEFORE_AS_OF = 30
TOLERANCE = 1e-9
SELECT = [
    "--select",
    "+rpt_model_quality",
    "+fct_customer_score_history",
    "--exclude",
    "resource_type:test",
]
BACKTESTED = ["purchase_propensity", "churn", "clv"]
HEADLINE = {"purchase_propensity": "auc", "churn": "auc", "clv": "top_decile_capture"}
BACKTEST_COLUMNS = [
    "backtest_from_as_of_date",
    "backtest_model_version",
    "backtest_metric_name",
    "backtest_metric_value",
    "backtest_customers",
    "backtest_window_days",
    "backtest_days_elapsed",
    "backtest_is_window_complete",
]


def _frame(db_path: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        return connection.execute(sql).df()


def _history(db_path: Path) -> pd.DataFrame:
    return _frame(
        db_path,
        "select * from fct_customer_score_history order by as_of_date, customer_id",
    )


def _build(run_dbt, ci_raw_dir, db_path, work, as_of: dt.date, args=None) -> None:
    variables = ["--vars", json.dumps({"as_of_date": as_of.isoformat()})]
    result = run_dbt(
        [*(args or ["build", *SELECT]), *variables],
        ci_raw_dir,
        db_path,
        work / as_of.isoformat(),
    )
    assert result.returncode == 0, result.stdout[-4000:]


def _builds(run_dbt, ci_raw_dir, ci_manifest, tmp_path_factory):
    """Tables read after each step: builds at D and A, the history re-run at
    A, a build at D again. Returns {step: {name: frame}} and the dates."""
    as_of = dt.date.fromisoformat(ci_manifest["as_of_date"])
    earlier = as_of - dt.timedelta(days=DAYS_BEFORE_AS_OF)
    work = tmp_path_factory.mktemp("backtest")
    db_path = work / "backtest.duckdb"
    steps = {}

    def read(step: str) -> None:
        steps[step] = {
            "history": _history(db_path),
            "backtest": _frame(
                db_path,
                "select * from rpt_model_backtest "
                "order by scored_as_of_date, model_family, metric_name",
            ),
            "quality": _frame(
                db_path,
                "select * from rpt_model_quality "
                "order by registry_model, model_kind, run_id",
            ),
            "code_versions": set(
                _frame(
                    db_path,
                    "select distinct code_version from train_churn "
                    "union select distinct code_version from train_clv",
                )["code_version"]
            ),
        }

    _build(run_dbt, ci_raw_dir, db_path, work, earlier)
    read("earlier")
    _build(run_dbt, ci_raw_dir, db_path, work, as_of)
    read("as_of")
    steps["as_of"]["orders"] = _frame(
        db_path,
        "select customer_id, ordered_date, revenue_amount, is_cancelled "
        "from stg_shop__orders",
    )
    steps["as_of"]["purchase_labels"] = _frame(
        db_path,
        f"select customer_id, has_purchased from lbl_purchase "
        f"where cutoff_date = date '{earlier}'",
    )
    rerun = [
        "run",
        "--select",
        "fct_customer_score_history",
        "rpt_model_backtest",
        "rpt_model_quality",
    ]
    _build(run_dbt, ci_raw_dir, db_path, work, as_of, rerun)
    read("rerun")
    _build(run_dbt, ci_raw_dir, db_path, work, earlier)
    read("earlier_again")
    return {"steps": steps, "as_of": as_of, "earlier": earlier}


# Four builds in a row: they start with the test session (conftest.Background).
BACKGROUND = {"builds": _builds}


@pytest.fixture(scope="module")
def builds(background):
    """_builds, run in the background from the start of the session."""
    return background.result(_builds)


def expected_backtest(
    history: pd.DataFrame, orders: pd.DataFrame, scored: dt.date, as_of: dt.date
) -> dict[tuple[str, str], dict]:
    """The backtest of the scores published at `scored`, computed in pandas.

    A purchase is a non-cancelled order with positive revenue; revenue is
    net (refunds negative, cancelled orders 0). Only orders before `as_of`
    count. Keys: (model_family, metric_name).
    """
    rows = history[history["as_of_date"] == pd.Timestamp(scored)]
    rows = rows.sort_values("customer_id").reset_index(drop=True)
    orders = orders[orders["ordered_date"] < pd.Timestamp(as_of)]
    purchases = orders[~orders["is_cancelled"] & (orders["revenue_amount"] > 0)]
    elapsed = (as_of - scored).days
    start = pd.Timestamp(scored)

    def window_end(days: int) -> pd.Timestamp:
        return start + pd.Timedelta(days=days)

    def in_window(frame: pd.DataFrame, days: int) -> pd.DataFrame:
        dates = frame["ordered_date"]
        return frame[(dates >= start) & (dates < window_end(days))]

    def per_customer(series: pd.Series) -> np.ndarray:
        return series.reindex(rows["customer_id"]).fillna(0).to_numpy()

    def figures(window: int, value, customers: int, positives: int) -> dict:
        return {
            "metric_value": value,
            "customers": customers,
            "positive_customers": positives,
            "window_days": window,
            "days_elapsed": elapsed,
            "is_window_complete": elapsed >= window,
            "outcome_end_date": min(window_end(window), pd.Timestamp(as_of)),
        }

    expected = {}
    window = int(rows["propensity_window_days"].iloc[0])
    bought = per_customer(in_window(purchases, window).groupby("customer_id").size())
    scored_rows = rows["purchase_probability"].notna().to_numpy()
    y = bought[scored_rows] > 0
    expected["purchase_propensity", "auc"] = figures(
        window,
        roc_auc_score(y, rows.loc[scored_rows, "purchase_probability"]),
        int(scored_rows.sum()),
        int(y.sum()),
    )

    window = int(rows["churn_window_days"].iloc[0])
    before = per_customer(
        purchases[purchases["ordered_date"] < start].groupby("customer_id").size()
    )
    bought = per_customer(in_window(purchases, window).groupby("customer_id").size())
    population = rows["churn_probability"].notna().to_numpy() & (before > 0)
    y = bought[population] == 0
    expected["churn", "auc"] = figures(
        window,
        roc_auc_score(y, rows.loc[population, "churn_probability"]),
        int(population.sum()),
        int(y.sum()),
    )

    window = int(rows["clv_horizon_days"].iloc[0])
    revenue = per_customer(
        in_window(orders, window).groupby("customer_id")["revenue_amount"].sum()
    )
    scored_rows = rows["predicted_clv"].notna().to_numpy()
    realized = revenue[scored_rows].astype(float)
    predicted = rows.loc[scored_rows, "predicted_clv"].astype(float).to_numpy()
    positives = int((realized > 0).sum())
    share = min(elapsed, window) / window
    expected["clv", "top_decile_capture"] = figures(
        window,
        metrics.top_decile_capture(realized, predicted),
        len(realized),
        positives,
    )
    expected["clv", "realized_to_predicted_revenue"] = figures(
        window, realized.sum() / (predicted.sum() * share), len(realized), positives
    )
    return expected


def _reported(backtest: pd.DataFrame, scored: dt.date) -> dict[tuple[str, str], dict]:
    rows = backtest[backtest["scored_as_of_date"] == pd.Timestamp(scored)]
    return {
        (row["model_family"], row["metric_name"]): row.to_dict()
        for _, row in rows.iterrows()
    }


def _assert_matches(reported: dict, expected: dict) -> None:
    assert sorted(reported) == sorted(expected)
    for key, figures in expected.items():
        row = reported[key]
        assert row["metric_value"] == pytest.approx(
            figures["metric_value"], abs=TOLERANCE
        ), key
        for column in [c for c in figures if c != "metric_value"]:
            assert row[column] == figures[column], (key, column)


def test_one_as_of_date_gives_no_backtest(builds):
    """A warehouse built at one date: nothing has happened since its scores."""
    earlier = builds["steps"]["earlier"]
    assert len(earlier["history"]) > 0
    assert earlier["backtest"].empty
    assert earlier["quality"][BACKTEST_COLUMNS].isna().all().all()


def test_history_keeps_every_date_with_the_published_scores(builds):
    history = builds["steps"]["as_of"]["history"]
    dates = sorted(history["as_of_date"].dt.date.unique())
    assert dates == [builds["earlier"], builds["as_of"]]
    assert not history.duplicated(["as_of_date", "customer_id"]).any()
    for column in ["churn_probability", "purchase_probability", "predicted_clv"]:
        assert history[column].notna().sum() > 1000, column
    earlier = builds["steps"]["earlier"]["history"]
    # The build at A did not touch the rows of D.
    pd.testing.assert_frame_equal(
        history[history["as_of_date"] == pd.Timestamp(builds["earlier"])].reset_index(
            drop=True
        ),
        earlier,
    )


def test_backtest_equals_an_independent_computation(builds):
    step = builds["steps"]["as_of"]
    expected = expected_backtest(
        step["history"], step["orders"], builds["earlier"], builds["as_of"]
    )
    reported = _reported(step["backtest"], builds["earlier"])
    _assert_matches(reported, expected)
    assert set(step["backtest"]["scored_as_of_date"].dt.date) == {builds["earlier"]}
    # Model versions: those published at D.
    history = step["history"]
    at_d = history[history["as_of_date"] == pd.Timestamp(builds["earlier"])]
    for family, column in [
        ("purchase_propensity", "purchase_model_version"),
        ("churn", "churn_model_version"),
        ("clv", "clv_model_version"),
    ]:
        version = reported[family, HEADLINE[family]]["model_version"]
        assert {version} == set(at_d[column].dropna()), family


def test_purchase_outcome_is_the_purchase_label(builds):
    """At D = A - propensity window, a purchase in the backtest is exactly
    lbl_purchase's has_purchased for the window starting on D."""
    step = builds["steps"]["as_of"]
    labels = step["purchase_labels"]
    assert len(labels) > 1000
    row = _reported(step["backtest"], builds["earlier"])["purchase_propensity", "auc"]
    assert row["is_window_complete"]
    scored = step["history"]
    scored = scored[
        (scored["as_of_date"] == pd.Timestamp(builds["earlier"]))
        & scored["purchase_probability"].notna()
    ]
    labelled = labels[labels["customer_id"].isin(scored["customer_id"])]
    assert len(labelled) == len(scored)
    assert int(labelled["has_purchased"].sum()) == row["positive_customers"]


def test_serving_rows_carry_the_latest_backtest(builds):
    step = builds["steps"]["as_of"]
    quality, backtest = step["quality"], step["backtest"]
    with_backtest = quality[quality["backtest_metric_name"].notna()]
    assert sorted(with_backtest["model_family"]) == sorted(BACKTESTED)
    assert with_backtest["is_serving"].all()
    for _, row in with_backtest.iterrows():
        family = row["model_family"]
        [source] = backtest[
            (backtest["model_family"] == family)
            & (backtest["metric_name"] == HEADLINE[family])
        ].to_dict("records")
        assert row["backtest_metric_name"] == HEADLINE[family] == row["headline_metric"]
        assert row["backtest_from_as_of_date"] == source["scored_as_of_date"]
        for column in [
            "model_version",
            "metric_value",
            "customers",
            "window_days",
            "days_elapsed",
            "is_window_complete",
        ]:
            assert row[f"backtest_{column}"] == source[column], (family, column)
    others = quality[quality["backtest_metric_name"].isna()]
    assert others[BACKTEST_COLUMNS].isna().all().all()


def test_rerun_at_the_same_date_replaces_its_rows_with_equal_ones(builds):
    before, after = builds["steps"]["as_of"], builds["steps"]["rerun"]
    columns = [c for c in before["history"].columns if c != "run_id"]
    pd.testing.assert_frame_equal(before["history"][columns], after["history"][columns])
    at_as_of = after["history"]["as_of_date"] == pd.Timestamp(builds["as_of"])
    # A's rows were rewritten by the re-run, D's were not.
    rewritten = after["history"].loc[at_as_of, "run_id"]
    assert not rewritten.isin(before["history"]["run_id"]).any()
    pd.testing.assert_frame_equal(
        after["history"][~at_as_of], before["history"][~at_as_of]
    )
    pd.testing.assert_frame_equal(before["backtest"], after["backtest"])


def test_build_at_an_earlier_date_keeps_later_rows(builds):
    """Rebuilding D after A: D's rows are replaced by equal ones, A's stay
    as they were, and the backtest as of D reads no later date."""
    steps = builds["steps"]
    # Equal inputs give equal scores, model versions included, unless the
    # package changed between the builds.
    code = steps["earlier_again"]["code_versions"]
    assert len(code) == 1, f"the package changed between the builds: {code}"
    before, after = steps["rerun"]["history"], steps["earlier_again"]["history"]
    later = pd.Timestamp(builds["as_of"])
    pd.testing.assert_frame_equal(
        after[after["as_of_date"] == later].reset_index(drop=True),
        before[before["as_of_date"] == later].reset_index(drop=True),
    )
    columns = [c for c in after.columns if c != "run_id"]
    pd.testing.assert_frame_equal(
        after.loc[after["as_of_date"] < later, columns].reset_index(drop=True),
        steps["earlier"]["history"][columns],
    )
    assert steps["earlier_again"]["backtest"].empty
    assert steps["earlier_again"]["quality"][BACKTEST_COLUMNS].isna().all().all()


def test_ci_warehouse_backtest_equals_an_independent_computation(warehouse):
    """The CI warehouse (weekly builds): every earlier date of its history
    recomputed; with one as_of_date only, no backtest at all."""
    [(as_of,)] = warehouse.execute(
        "select max(as_of_date) from fct_customer_scores"
    ).fetchall()
    history = warehouse.execute("select * from fct_customer_score_history").df()
    backtest = warehouse.execute("select * from rpt_model_backtest").df()
    orders = warehouse.execute(
        "select customer_id, ordered_date, revenue_amount, is_cancelled "
        "from stg_shop__orders"
    ).df()
    earlier = sorted(d for d in history["as_of_date"].dt.date.unique() if d < as_of)
    assert sorted(backtest["scored_as_of_date"].dt.date.unique()) == earlier
    for scored in earlier:
        _assert_matches(
            _reported(backtest, scored),
            expected_backtest(history, orders, scored, as_of),
        )
