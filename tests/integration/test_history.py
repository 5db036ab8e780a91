"""Segment history: the snapshot, rpt_segment_migration and their guards.

`make ci-build` builds the CI warehouse at two weekly as_of_dates
(predictive_segments.simulate_weeks), so the history here is real: two
trainings, two scorings, one week apart.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Where make ci-build writes dbt's artifacts (its DBT_TARGET_PATH).
CI_DBT_TARGET = os.environ.get("SEGMENTS_CI_DBT_TARGET", "target/ci/dbt")

STATE_COLUMNS = [
    "segment_id",
    "segment_name",
    "value_tier",
    "churn_risk_band",
    "lifecycle_stage",
]


def _history(warehouse) -> pd.DataFrame:
    return warehouse.execute("select * from snap_customer_segments").df()


def _state_at(history: pd.DataFrame, date: pd.Timestamp) -> pd.DataFrame:
    valid = (history["dbt_valid_from"] <= date) & (
        history["dbt_valid_to"].isna() | (history["dbt_valid_to"] > date)
    )
    return history.loc[valid].set_index("customer_id")


def test_history_holds_both_weekly_builds(warehouse):
    history = _history(warehouse)
    dates = sorted(history["dbt_valid_from"].unique())
    assert len(dates) >= 2, (
        f"expected the weekly as_of_dates of make ci-build, got {dates}"
    )
    assert {later - earlier for earlier, later in itertools.pairwise(dates)} == {
        pd.Timedelta(days=7)
    }
    (current_as_of,) = warehouse.execute(
        "select distinct cast(as_of_date as timestamp) from fct_customer_segments"
    ).fetchall()[0]
    assert pd.Timestamp(current_as_of) == dates[-1]
    # One row per customer at each date.
    for date in dates:
        assert _state_at(history, date).index.is_unique


def test_current_history_rows_equal_the_segment_mart(warehouse):
    history = _history(warehouse)
    current = history.loc[history["dbt_valid_to"].isna()].set_index("customer_id")
    mart = (
        warehouse.execute("select * from fct_customer_segments")
        .df()
        .set_index("customer_id")
    )
    assert current.index.is_unique
    assert set(current.index) == set(mart.index)
    columns = [*STATE_COLUMNS, "micro_segment"]
    pd.testing.assert_frame_equal(
        current.loc[mart.index, columns], mart[columns], check_dtype=False
    )


def test_unchanged_customers_keep_their_row(warehouse):
    """SCD2: a customer whose state did not change has one row, not one per build."""
    history = _history(warehouse)
    dates = sorted(history["dbt_valid_from"].unique())
    earlier, newer = _state_at(history, dates[-2]), _state_at(history, dates[-1])
    both = earlier.index.intersection(newer.index)
    check_columns = [c for c in history.columns if c.startswith("is_in_")] + [
        *STATE_COLUMNS,
        "micro_segment",
    ]
    same = (
        earlier.loc[both, check_columns]
        .fillna("<null>")
        .eq(newer.loc[both, check_columns].fillna("<null>"))
        .all(axis=1)
    )
    assert same.any() and (~same).any(), "a week should change some customers, not all"
    opened = history.loc[history["dbt_valid_from"] == dates[-1], "customer_id"]
    closed = history.loc[history["dbt_valid_to"] == dates[-1], "customer_id"]
    changed = set(same[~same].index)
    assert set(opened) - set(newer.index.difference(earlier.index)) == changed
    assert set(closed) == changed


def test_migration_matrix_matches_the_history(warehouse):
    history = _history(warehouse)
    dates = sorted(history["dbt_valid_from"].unique())
    earlier, newer = _state_at(history, dates[-2]), _state_at(history, dates[-1])
    pairs = newer[["segment_id", "segment_name"]].join(
        earlier[["segment_id"]].rename(columns={"segment_id": "from_segment_id"}),
        how="left",
    )
    pairs["is_new_customer"] = ~pairs.index.isin(earlier.index)
    expected = (
        pairs.fillna({"from_segment_id": "<null>", "segment_id": "<null>"})
        .groupby(["is_new_customer", "from_segment_id", "segment_id"])
        .size()
        .rename("customers")
        .sort_index()
    )
    migration = warehouse.execute("select * from rpt_segment_migration").df()
    assert (migration["days_between"] == 7).all()
    assert migration["from_as_of_date"].nunique() == len(dates) - 1
    migration = migration.loc[migration["is_latest"]]
    assert not migration.empty
    actual = (
        migration.fillna({"from_segment_id": "<null>", "to_segment_id": "<null>"})
        .rename(columns={"to_segment_id": "segment_id"})
        .groupby(["is_new_customer", "from_segment_id", "segment_id"])["customers"]
        .sum()
        .sort_index()
    )
    pd.testing.assert_series_equal(actual, expected, check_dtype=False)
    # Each row of the matrix (a from segment) sums to 1.
    row_sums = migration.groupby(["is_new_customer", "from_segment_id"], dropna=False)[
        "share_of_from"
    ].sum()
    assert row_sums.sub(1).abs().max() < 1e-9


def test_stability_test_ran_on_real_history(warehouse):
    """The CI build's segment_stability test compared the two weekly builds."""
    history = _history(warehouse)
    dates = sorted(history["dbt_valid_from"].unique())
    earlier, newer = _state_at(history, dates[-2]), _state_at(history, dates[-1])
    compared = earlier.loc[earlier["segment_id"].notna()]
    kept = newer["segment_id"].reindex(compared.index).eq(compared["segment_id"]).mean()
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    min_share = project["vars"]["segment_stability_min_share"]
    assert kept >= min_share, (
        f"only {kept:.1%} kept their segment between weekly builds"
    )

    # simulate_weeks keeps each build's run_results.json under its as_of_date.
    kept_results = f"run_results.{dates[-1].date().isoformat()}.json"
    run_results = json.loads((PROJECT_DIR / CI_DBT_TARGET / kept_results).read_text())
    stability = [
        result
        for result in run_results["results"]
        if result["unique_id"].startswith(
            "test.predictive_segments.segment_stability_snap_"
        )
    ]
    assert len(stability) == 1 and stability[0]["status"] == "pass"


@pytest.fixture
def warehouse_copy(tmp_path: Path) -> Path:
    source = Path(os.environ["SEGMENTS_CI_DB"])
    if not source.is_absolute():
        source = PROJECT_DIR / source
    target = tmp_path / "history.duckdb"
    shutil.copy(source, target)
    return target


def test_build_before_the_history_stops_before_writing(
    warehouse, warehouse_copy, ci_raw_dir, run_dbt, tmp_path
):
    def contents(path: Path) -> tuple:
        with duckdb.connect(str(path), read_only=True) as connection:
            return tuple(
                connection.execute(
                    f"select count(*), sum(hash(t)) from {table} as t"
                ).fetchall()[0]
                for table in ("snap_customer_segments", "fct_customer_segments")
            )

    before = contents(warehouse_copy)
    (newest,) = warehouse.execute(
        "select cast(max(dbt_valid_from) as date) from snap_customer_segments"
    ).fetchall()[0]
    earlier = (newest - pd.Timedelta(days=30)).isoformat()
    result = run_dbt(
        ["build", "--vars", f'{{as_of_date: "{earlier}"}}'],
        ci_raw_dir,
        warehouse_copy,
        tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"already holds history up to as_of_date {newest.isoformat()}" in output, (
        output[-3000:]
    )
    assert contents(warehouse_copy) == before

    # The same date again: nothing changed, so no new history row.
    snapshot = ["build", "--select", "snap_customer_segments"]
    snapshot += ["--vars", f'{{as_of_date: "{newest.isoformat()}"}}']
    result = run_dbt(snapshot, ci_raw_dir, warehouse_copy, tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert contents(warehouse_copy) == before

    # Rebuilding the newest date with other segments (after a fix, say)
    # replaces what that date recorded: one state per customer and date (the
    # build's unique test passes), and rebuilding the original segments
    # restores the history exactly.
    with duckdb.connect(str(warehouse_copy)) as connection:
        connection.execute("create table kept as select * from fct_customer_segments")
        connection.execute(
            "update fct_customer_segments set segment_id = 'moved' where customer_id "
            "in (select customer_id from fct_customer_segments "
            "order by customer_id limit 10)"
        )
    result = run_dbt(snapshot, ci_raw_dir, warehouse_copy, tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    with duckdb.connect(str(warehouse_copy)) as connection:
        moved = connection.execute(
            "select count(*) from snap_customer_segments "
            "where segment_id = 'moved' and dbt_valid_to is null"
        ).fetchall()[0][0]
        connection.execute("delete from fct_customer_segments")
        connection.execute("insert into fct_customer_segments select * from kept")
        connection.execute("drop table kept")
    assert moved == 10
    result = run_dbt(snapshot, ci_raw_dir, warehouse_copy, tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert contents(warehouse_copy) == before
