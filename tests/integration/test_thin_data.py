"""Thin real data: a build too small to model says why, and stays green.

Two orders-only raw directories cut from the CI orders (clean rows only, so
the quarantine guard lets them through; as_of_date is left to its default,
the day after the last day of the data):

- 50 customers: every model family is insufficient_data. The build exits 0,
  the marts carry each family's status and the registry's reason, and the
  coverage test says in its own words why no customer has a segment.
- 1,000 customers of the last 6.5 months: the segment model is fitted
  with a segment below segment_min_count (100), and no published
  segment is smaller than max(segment_min_share x customers,
  segment_min_count): smaller ones are merged into their nearest, or no
  segment is published and the marts say why.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import duckdb
import pytest

BUILD_DAY = dt.datetime.now(dt.UTC).date()
FEW_CUSTOMERS = 50
LAST_MONTHS_CUSTOMERS = 1000
SEGMENT_MIN_SHARE = 0.01
SEGMENT_MIN_COUNT = 100
# fct_customer_scores: the status and note columns of each family and the
# words its note uses.
SCORE_FAMILIES = {
    "clv": ("CLV", "train_clv"),
    "churn": ("churn", "train_churn"),
    "purchase": ("purchase propensity", "train_purchase_propensity"),
    "lookalike": ("lookalike", "train_lookalike"),
    "uplift": ("uplift", "train_uplift"),
}
TRACEBACK = "Traceback (most recent call last)"


def _clean_orders(ci_raw_dir: Path) -> str:
    """The CI orders that pass staging: one row per order id, a real
    timestamp up to today, a positive amount and a customer."""
    return f"""
        select order_id, customer_id, ordered_at, amount
        from read_parquet('{ci_raw_dir}/orders.parquet')
        where
            try_cast(ordered_at as timestamp)
                between timestamp '2000-01-01' and timestamp '{BUILD_DAY}'
            and try_cast(amount as double) > 0
            and nullif(trim(customer_id), '') is not null
            and lower(trim(customer_id)) not in ('null', 'none', 'nan', 'n/a')
            and nullif(trim(order_id), '') is not null
        qualify count(*) over (partition by order_id) = 1
    """


def _write(select: str, target: Path) -> int:
    """Write the rows of `select` to `target` (Parquet); the customers."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as connection:
        connection.execute(f"copy ({select}) to '{target}' (format parquet)")
        return connection.execute(
            f"select count(distinct customer_id) from read_parquet('{target}')"
        ).fetchall()[0][0]


def _few_customers(ci_raw_dir: Path) -> str:
    clean = _clean_orders(ci_raw_dir)
    return f"""
        with clean as ({clean}),
        chosen as (
            select distinct customer_id from clean
            order by hash(customer_id), customer_id
            limit {FEW_CUSTOMERS}
        )
        select clean.* from clean
        where clean.customer_id in (select customer_id from chosen)
    """


def _last_months(ci_raw_dir: Path) -> str:
    """The clean orders of the last 6.5 months (198 days) of the data, of
    LAST_MONTHS_CUSTOMERS customers: k-means makes a segment of fewer than
    segment_min_count of them."""
    clean = _clean_orders(ci_raw_dir)
    return f"""
        with clean as ({clean}),
        recent as (
            select * from clean
            where
                cast(ordered_at as timestamp)
                >= (select max(cast(ordered_at as timestamp)) from clean)
                - interval 198 days
        ),
        chosen as (
            select distinct customer_id from recent
            order by hash(customer_id), customer_id
            limit {LAST_MONTHS_CUSTOMERS}
        )
        select recent.* from recent
        where recent.customer_id in (select customer_id from chosen)
    """


def _build(run_dbt, tmp_path_factory, name: str, select: str):
    work = tmp_path_factory.mktemp(name)
    raw_dir = work / "raw"
    customers = _write(select, raw_dir / "orders.parquet")
    db_path = work / f"{name}.duckdb"
    return customers, db_path, run_dbt(["build"], raw_dir, db_path, work)


def _thin_builds(run_dbt, ci_raw_dir, tmp_path_factory, run_concurrently) -> dict:
    cases = {
        "few_customers": _few_customers(ci_raw_dir),
        "last_months": _last_months(ci_raw_dir),
    }
    builds = run_concurrently(
        *(
            lambda name=name, select=select: _build(
                run_dbt, tmp_path_factory, name, select
            )
            for name, select in cases.items()
        )
    )
    return dict(zip(cases, builds, strict=True))


BACKGROUND = {"thin_builds": _thin_builds}


@pytest.fixture(scope="module")
def thin_builds(background) -> dict:
    return background.result(_thin_builds)


def _output(result) -> str:
    return result.stdout + result.stderr


def _assert_green(result) -> str:
    output = _output(result)
    assert result.returncode == 0, output[-4000:]
    assert TRACEBACK not in output
    return output


def _rows(db_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_few_customers_build_green_and_every_family_says_why(thin_builds):
    customers, db_path, result = thin_builds["few_customers"]
    assert customers == FEW_CUSTOMERS
    _assert_green(result)
    for prefix, (label, registry) in SCORE_FAMILIES.items():
        rows = _rows(
            db_path,
            f"select {prefix}_status, {prefix}_note, count(*) "
            "from main.fct_customer_scores group by all",
        )
        assert len(rows) == 1, (prefix, rows)
        status, note, count = rows[0]
        assert (status, count) == ("insufficient_data", FEW_CUSTOMERS), (prefix, rows)
        # "(as of <date>)" follows the registry when its row has a date.
        assert note.startswith(f"{label} not scored: the latest run of {registry} "), (
            note
        )
        assert "was insufficient_data: " in note
        # The reason is the registry's, word for word.
        reasons = _rows(
            db_path,
            f"select reason from main.{registry} where status = 'insufficient_data'",
        )
        assert any(reason in note for (reason,) in reasons), (note, reasons)
    scores = _rows(
        db_path,
        "select count(predicted_clv), count(churn_probability), "
        "count(purchase_probability), count(lookalike_score), "
        "count(uplift_score) from main.fct_customer_scores",
    )
    assert scores == [(0, 0, 0, 0, 0)]


def test_few_customers_segments_say_why_in_the_mart_and_the_test(thin_builds):
    _, db_path, result = thin_builds["few_customers"]
    output = _assert_green(result)
    rows = _rows(
        db_path,
        "select segment_status, segment_note, count(*), count(segment_id), "
        "count(micro_segment) from main.fct_customer_segments group by all",
    )
    assert len(rows) == 1, rows
    status, note, count, assigned, micro = rows[0]
    assert (status, count, assigned, micro) == (
        "insufficient_data",
        FEW_CUSTOMERS,
        0,
        0,
    )
    (reason,) = _rows(
        db_path,
        "select reason from main.train_segments order by trained_at desc limit 1",
    )[0]
    assert note.startswith("segments not scored: the latest run of train_segments")
    assert note.endswith(f"was insufficient_data: {reason}")
    # The coverage test passes and says why, in one line of its own.
    lines = [
        line
        for line in output.splitlines()
        if "covers_population on fct_customer_segments: " in line
    ]
    assert len(lines) == 1, lines
    assert (
        f"segment_id is null for all {FEW_CUSTOMERS} customers because "
        f"segment_status is insufficient_data: {note}; see segment_note"
    ) in lines[0]
    assert f"Got {FEW_CUSTOMERS} results" not in output
    # So does the size test: there is no segment to size.
    assert "min_group_size on fct_customer_segments.segment_id: segment_id is " in (
        output
    )
    # rpt_model_quality lists the same runs.
    statuses = _rows(
        db_path,
        "select distinct status from main.rpt_model_quality "
        "where model_family = 'segments'",
    )
    assert statuses == [("insufficient_data",)]


def test_no_published_segment_is_below_the_minimum_size(thin_builds):
    _, db_path, result = thin_builds["last_months"]
    _assert_green(result)
    population = _rows(db_path, "select count(*) from main.fct_customer_segments")[0][0]
    minimum = max(SEGMENT_MIN_SHARE * population, SEGMENT_MIN_COUNT)
    sizes = dict(
        _rows(
            db_path,
            "select segment_id, count(*) from main.fct_customer_segments "
            "where segment_id is not null group by all",
        )
    )
    (status,) = {
        row[0]
        for row in _rows(
            db_path, "select distinct segment_status from main.fct_customer_segments"
        )
    }
    # What the fitted model made of these customers (its training sample is
    # all of them): at least one segment below the minimum, so the rule
    # had work to do.
    metrics = json.loads(
        _rows(
            db_path,
            "select metrics from main.train_segments "
            "where status = 'approved' order by trained_at desc limit 1",
        )[0][0]
    )
    fitted = {
        segment: round(share * metrics["customers"])
        for segment, share in metrics["segment_shares"].items()
    }
    assert metrics["customers"] == population
    assert min(fitted.values()) < minimum, fitted
    if status == "scored":
        assert len(sizes) >= 2
        assert min(sizes.values()) >= minimum, sizes
        merged = _rows(
            db_path,
            "select segment_id, segment_note from main.fct_customer_segments "
            "where segment_note is not null",
        )
        assert merged
        for segment_id, note in merged:
            match = re.fullmatch(
                r"segment (\d+) \((\d+) customers\) is below the minimum of "
                r"(\d+) \(var segment_min_\w+.*\): merged into segment (\d+), "
                r"its nearest",
                note,
            )
            assert match, note
            assert int(match.group(2)) < minimum
            assert match.group(4) == segment_id
            assert match.group(1) not in sizes
    else:
        assert status == "insufficient_data"
        assert sizes == {}
        (note,) = {
            row[0]
            for row in _rows(
                db_path, "select distinct segment_note from main.fct_customer_segments"
            )
        }
        assert note.startswith("segments not published: "), note
        assert "var segment_min_" in note
