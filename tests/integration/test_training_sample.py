"""Training rows for a seeded sample of customers, scoring rows for everyone.

var training_max_customers caps the customers that get feature and label rows
at the training cutoffs (int_feature_population). The CI data has about 5,000
customers, below the default cap, so the CI warehouse holds every customer;
this module builds the feature and label tables again with a cap of
SAMPLE_SIZE and compares them with the CI warehouse: the cap decides who gets
a training row, never what the row holds, and changes nothing at as_of_date
or at the campaign cutoffs.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

SAMPLE_SIZE = 1000
TRAINING_TABLES = ["feat_customers_training", "lbl_churn", "lbl_purchase", "lbl_clv"]
UNCHANGED_TABLES = ["feat_customers", "feat_customers_at_campaigns"]
SELECTED = [*TRAINING_TABLES, *UNCHANGED_TABLES, "int_feature_population"]


def _capped_build(run_dbt, ci_raw_dir: Path, tmp_path_factory) -> Path:
    """The feature and label tables (with their data tests) built with
    training_max_customers = SAMPLE_SIZE; returns the database."""
    work = tmp_path_factory.mktemp("training_sample")
    db_path = work / "capped.duckdb"
    selection = [f"+{name}" for name in SELECTED]
    result = run_dbt(
        [
            "build",
            "--select",
            *selection,
            # Only the tests whose every parent is built here.
            "--indirect-selection",
            "cautious",
            "--vars",
            json.dumps({"training_max_customers": SAMPLE_SIZE}),
        ],
        ci_raw_dir,
        db_path,
        work,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    return db_path


# One build: it starts with the test session (conftest.Background).
BACKGROUND = {"capped": _capped_build}


@pytest.fixture(scope="module")
def capped(background, ci_db_path: Path):
    """The capped build, with the CI warehouse attached as `ci`."""
    db_path = background.result(_capped_build)
    con = duckdb.connect(str(db_path), read_only=True)
    con.execute(f"attach '{ci_db_path}' as ci (read_only)")
    yield con
    con.close()


def _training_customers(con, catalog: str) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            f"select distinct customer_id from {catalog}.main.feat_customers_training"
        ).fetchall()
    }


def test_the_cap_binds_on_the_ci_data(capped):
    """Precondition: the CI warehouse trains on more customers than the cap."""
    assert len(_training_customers(capped, "ci")) > 2 * SAMPLE_SIZE


def test_at_most_the_cap_and_the_same_customers_at_every_cutoff(capped):
    sampled = _training_customers(capped, "capped")
    assert 0 < len(sampled) <= SAMPLE_SIZE
    population = {
        row[0]
        for row in capped.execute(
            "select distinct customer_id from int_feature_population "
            "where is_training_sample"
        ).fetchall()
    }
    assert len(population) == SAMPLE_SIZE
    assert sampled <= population
    # Each cutoff holds every sampled customer known before it, as the
    # uncapped CI warehouse does for all its customers.
    missing = capped.execute(
        """
        select ci_rows.cutoff_date, count(*)
        from ci.main.feat_customers_training as ci_rows
        inner join int_feature_population as population
            on
                ci_rows.customer_id = population.customer_id
                and ci_rows.cutoff_date = population.cutoff_date
        anti join feat_customers_training as capped_rows
            on
                ci_rows.customer_id = capped_rows.customer_id
                and ci_rows.cutoff_date = capped_rows.cutoff_date
        group by all
        """
    ).fetchall()
    assert missing == []


def test_the_sample_is_spread_over_the_customers(capped):
    """Drawn in a pseudo-random order of the ids: the sampled share of the
    training rows with and without a purchase history is alike (each within
    10 points of the overall share), and the sample is not the first ids in
    sort order (a random draw holds about SAMPLE_SIZE / customers of them;
    fewer than half is asserted)."""
    shares = dict(
        capped.execute(
            """
            select
                ci_rows.order_count > 0 as has_ordered,
                avg(
                    case when capped_rows.customer_id is not null then 1.0 else 0 end
                )
            from ci.main.feat_customers_training as ci_rows
            left join feat_customers_training as capped_rows
                on
                    ci_rows.customer_id = capped_rows.customer_id
                    and ci_rows.cutoff_date = capped_rows.cutoff_date
            group by all
            """
        ).fetchall()
    )
    overall = capped.execute(
        """
        select
            (select count(*) from feat_customers_training) * 1.0
            / (select count(*) from ci.main.feat_customers_training)
        """
    ).fetchall()[0][0]
    assert set(shares) == {True, False}, shares
    for has_ordered, share in shares.items():
        assert abs(share - overall) < 0.10, (has_ordered, share, overall)
    among_first_ids = capped.execute(
        f"""
        select count(*)
        from (
            select customer_id from ci.main.feat_customers
            order by customer_id
            limit {SAMPLE_SIZE}
        ) as first_ids
        semi join int_feature_population as population
            on
                first_ids.customer_id = population.customer_id
                and population.is_training_sample
        """
    ).fetchall()[0][0]
    assert among_first_ids < SAMPLE_SIZE / 2, among_first_ids


@pytest.mark.parametrize("table", TRAINING_TABLES)
def test_sampled_rows_equal_the_uncapped_rows(capped, table):
    """The cap picks rows; every column of a picked row is what the CI
    warehouse computed for it."""
    rows = capped.execute(f"select count(*) from {table}").fetchall()[0][0]
    assert rows > 0
    differing = capped.execute(
        f"""
        select count(*) from (
            select * from {table}
            except all
            select ci_rows.*
            from ci.main.{table} as ci_rows
            semi join {table} as capped_rows
                on
                    ci_rows.customer_id = capped_rows.customer_id
                    and ci_rows.cutoff_date = capped_rows.cutoff_date
        )
        """
    ).fetchall()[0][0]
    assert differing == 0


@pytest.mark.parametrize("table", UNCHANGED_TABLES)
def test_scoring_and_campaign_rows_are_not_sampled(capped, table):
    only_one_side = capped.execute(
        f"""
        select count(*) from (
            (select * from {table} except all select * from ci.main.{table})
            union all
            (select * from ci.main.{table} except all select * from {table})
        )
        """
    ).fetchall()[0][0]
    assert only_one_side == 0


def test_campaign_rows_are_the_participants(capped):
    """Features at a campaign cutoff exist for the customers assigned that
    day (the uplift models' examples), and for no one else."""
    unmatched = capped.execute(
        """
        with participants as (
            select distinct
                assignments.customer_id,
                cast(assignments.assigned_at as date) as cutoff_date
            from stg_shop__campaign_assignments as assignments
            inner join int_customers_unified as customers
                on assignments.customer_id = customers.customer_id
            where
                not customers.is_test_account
                and (
                    customers.first_seen_at
                    < cast(cast(assignments.assigned_at as date) as timestamp)
                    or customers.first_seen_at is null
                )
                and cast(assignments.assigned_at as date) in (
                    select distinct cutoff_date from feat_customers_at_campaigns
                )
        ),
        features as (
            select customer_id, cutoff_date from feat_customers_at_campaigns
        )
        select
            (
                select count(*)
                from (select * from participants except select * from features)
            ),
            (
                select count(*)
                from (select * from features except select * from participants)
            ),
            (select count(*) from features)
        """
    ).fetchall()[0]
    assert unmatched[2] > 0
    assert unmatched[:2] == (0, 0)


@pytest.mark.parametrize("value", [0, "many"])
def test_a_cap_that_is_not_a_whole_number_stops_with_its_name(
    run_dbt, ci_raw_dir: Path, tmp_path, value
):
    result = run_dbt(
        ["parse", "--vars", json.dumps({"training_max_customers": value})],
        ci_raw_dir,
        tmp_path / "parse.duckdb",
        tmp_path,
    )
    assert result.returncode != 0
    assert (
        f"var training_max_customers must be a whole number of customers, "
        f"at least 1 (got '{value}')" in result.stdout
    ), result.stdout[-3000:]
