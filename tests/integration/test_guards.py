"""Guards before features: wrong data stops the build, never passes green.

Each case writes an orders-only raw directory made from the CI orders, runs
a full `dbt build` into its own warehouse and asserts one of two outcomes:
the build stops in stg_shop__raw_table_loads with a message that names the
cause and what to change (and nothing after staging exists), or it goes on
with the rows accounted for. Cases run two builds at a time (conftest).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

TRACEBACK = "Traceback (most recent call last)"
GUARD = "stg_shop__raw_table_loads"
NULL_SPELLINGS = ("NULL", "\\N", "None", "N/A", "NA", "nan", "-", "undefined")
# Relations a stopped build must not have written (one per layer after staging).
AFTER_STAGING = (
    "stg_shop__orders",
    "int_customers_unified",
    "feat_customers",
    "train_clv",
    "fct_customer_segments",
)
BUILD_DAY = dt.datetime.now(dt.UTC).date()


def _orders_select(ci_raw_dir: Path) -> str:
    return (
        "select order_id, customer_id, ordered_at, amount from "
        f"read_parquet('{ci_raw_dir}/orders.parquet')"
    )


def _write(select: str, target: Path) -> int:
    """Write the rows of `select` to `target` (Parquet); their count."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as connection:
        connection.execute(f"copy ({select}) to '{target}' (format parquet)")
        return connection.execute(
            f"select count(*) from read_parquet('{target}')"
        ).fetchall()[0][0]


def _relations(db_path: Path) -> set[str]:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        return {
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables"
            ).fetchall()
        }


def _output(result) -> str:
    return result.stdout + result.stderr


def _assert_stopped_before_features(result, db_path: Path) -> str:
    output = _output(result)
    assert result.returncode != 0, output[-3000:]
    assert TRACEBACK not in output
    assert f"Compilation Error in model {GUARD}" in output, output[-3000:]
    assert "The raw data did not pass the checks before features" in output
    written = _relations(db_path) & set(AFTER_STAGING)
    assert not written, f"a stopped build wrote {written}"
    # The refused rows can be read.
    assert "int_raw_rows_quarantined" in _relations(db_path)
    return output


@dataclass
class Case:
    """One build: how to make its raw orders and the --vars to use."""

    select: Callable[[str], str]
    variables: dict


def _build(run_dbt, ci_raw_dir, tmp_path_factory, name: str, case: Case):
    work = tmp_path_factory.mktemp(f"guard_{name}")
    raw_dir = work / "raw"
    rows = _write(case.select(_orders_select(ci_raw_dir)), raw_dir / "orders.parquet")
    args = ["build"]
    if case.variables:
        args += ["--vars", json.dumps(case.variables)]
    db_path = work / "guard.duckdb"
    return rows, db_path, run_dbt(args, raw_dir, db_path, work)


def _first_order_date(ci_raw_dir: Path) -> dt.date:
    with duckdb.connect() as connection:
        return connection.execute(
            "select min(try_cast(ordered_at as date)) from "
            f"read_parquet('{ci_raw_dir}/orders.parquet') "
            "where try_cast(ordered_at as date) >= date '2000-01-01'"
        ).fetchall()[0][0]


def _last_order_date(ci_raw_dir: Path) -> dt.date:
    with duckdb.connect() as connection:
        return connection.execute(
            "select max(try_cast(ordered_at as date)) from "
            f"read_parquet('{ci_raw_dir}/orders.parquet') "
            f"where try_cast(ordered_at as date) <= date '{BUILD_DAY}'"
        ).fetchall()[0][0]


def _ending_now(select: str) -> str:
    """The orders of `select`, all moved by one interval so that the last
    purchase was a minute ago: the last order day is today."""
    minute_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    now = f"timestamp '{minute_ago:%Y-%m-%d %H:%M:%S}'"
    return f"""
        with orders as (
            select *, try_cast(ordered_at as timestamp) as ts from ({select})
        ),

        last_purchase as (
            select max(ts) as last_ts from orders
            where ts <= {now} and try_cast(amount as double) > 0
        )

        select * exclude (ts, last_ts) replace (
            coalesce(
                strftime(ts + ({now} - last_ts), '%Y-%m-%d %H:%M:%S'), ordered_at
            ) as ordered_at
        )
        from orders cross join last_purchase
    """


def _stopping_cases(ci_raw_dir: Path) -> dict[str, Case]:
    first = _first_order_date(ci_raw_dir)
    last = _last_order_date(ci_raw_dir)
    shift = "interval 29 years"
    return {
        # Case 1 of issue 14: a 1990s log with the old default bound.
        "old_dates_below_min_valid_date": Case(
            lambda s: (
                "select * replace (coalesce(strftime(try_cast(ordered_at "
                f"as timestamp) - {shift}, '%Y-%m-%d %H:%M:%S'), ordered_at) "
                f"as ordered_at) from ({s})"
            ),
            {"min_valid_date": "2000-01-01"},
        ),
        # Null-like ids beyond the share: quarantined and counted, and too
        # many of them stop the build.
        "null_like_ids_above_share": Case(
            lambda s: (
                "select * replace (case when hash(order_id) % 100 < 8 "
                f"then {_spelling_case('order_id')} else customer_id end "
                f"as customer_id) from ({s})"
            ),
            {},
        ),
        "as_of_date_in_the_future": Case(
            lambda s: s,
            {"as_of_date": (BUILD_DAY + dt.timedelta(days=214)).isoformat()},
        ),
        "as_of_date_after_the_data": Case(
            lambda s: s,
            {"as_of_date": (last + dt.timedelta(days=30)).isoformat()},
        ),
        "as_of_date_before_the_first_order": Case(
            lambda s: s, {"as_of_date": first.isoformat()}
        ),
        "as_of_date_not_a_date": Case(lambda s: s, {"as_of_date": "2026-02-30"}),
        "as_of_date_with_a_quote": Case(lambda s: s, {"as_of_date": "2026-09-3'0"}),
        # Goes on: the default as_of_date, tomorrow, is not in the future.
        "last_order_today": Case(_ending_now, {}),
    }


def _spelling_case(key: str) -> str:
    """SQL: one of NULL_SPELLINGS, chosen by the hash of `key`."""
    whens = " ".join(
        f"when {index} then '{spelling}'"
        for index, spelling in enumerate(NULL_SPELLINGS)
    )
    return f"case hash({key}) % {len(NULL_SPELLINGS)} {whens} end"


def _stopping_builds(run_dbt, ci_raw_dir, tmp_path_factory, run_concurrently):
    cases = _stopping_cases(ci_raw_dir)
    results = run_concurrently(
        *(
            lambda name=name, case=case: _build(
                run_dbt, ci_raw_dir, tmp_path_factory, name, case
            )
            for name, case in cases.items()
        )
    )
    return dict(zip(cases, results, strict=True))


BACKGROUND = {"stopping_builds": _stopping_builds}


@pytest.fixture(scope="module")
def stopping_builds(background) -> dict:
    return background.result(_stopping_builds)


def test_every_model_after_staging_waits_for_the_guards(ci_db_path: Path):
    # The guards stop everything after staging only if every model that
    # reads staged rows is downstream of stg_shop__raw_table_loads.
    manifest = json.loads((ci_db_path.parent / "dbt" / "manifest.json").read_text())
    nodes = {**manifest["nodes"], **manifest.get("snapshots", {})}
    guard = f"model.predictive_segments.{GUARD}"
    parents = {
        unique_id: node["depends_on"]["nodes"]
        for unique_id, node in nodes.items()
        if node["resource_type"] in ("model", "snapshot")
    }

    def ancestors(unique_id: str, seen: set[str]) -> set[str]:
        for parent in parents.get(unique_id, []):
            if parent not in seen:
                seen.add(parent)
                ancestors(parent, seen)
        return seen

    allowed = {guard, "model.predictive_segments.int_raw_rows_quarantined"}
    unguarded = []
    for unique_id in parents:
        name = unique_id.split(".")[-1]
        if unique_id in allowed or name.startswith("base_shop__"):
            continue
        if nodes[unique_id].get("config", {}).get("enabled") is False:
            continue
        found = ancestors(unique_id, set())
        reads_staging = any(".base_shop__" in a for a in found)
        if reads_staging and guard not in found:
            unguarded.append(unique_id)
    assert not unguarded, f"not downstream of {GUARD}: {unguarded}"


def test_old_dates_below_min_valid_date_stop_with_the_var_to_change(stopping_builds):
    rows, db_path, result = stopping_builds["old_dates_below_min_valid_date"]
    output = _assert_stopped_before_features(result, db_path)
    with duckdb.connect(str(db_path), read_only=True) as connection:
        statuses = dict(
            connection.execute(
                "select _row_status, count(*) from base_shop__orders group by 1"
            ).fetchall()
        )
    # Every order is refused (the CI orders start after 2021, minus 29
    # years) but the exact copies, which are collapsed into them.
    assert "staged" not in statuses
    quarantined = statuses["quarantined"]
    assert quarantined + statuses.get("collapsed_duplicate", 0) == rows
    share = 100 * quarantined / rows
    assert f"orders: {quarantined:,} of {rows:,} rows ({share:.1f} %)" in output
    assert "timestamp_out_of_range" in output
    with duckdb.connect(str(db_path), read_only=True) as connection:
        early, earliest, latest = connection.execute(
            "select count(*), min(ordered_at)::date, max(ordered_at)::date "
            "from base_shop__orders where _quarantine_reason = "
            "'timestamp_out_of_range' and ordered_at < date '2000-01-01'"
        ).fetchall()[0]
    assert (
        f"{early:,} before var min_valid_date (2000-01-01), from {earliest} to "
        f"{latest}: lower min_valid_date if your history starts earlier"
    ) in output
    assert "max_quarantined_share (0.05)" in output


def test_null_like_ids_are_missing_keys_and_too_many_stop(stopping_builds):
    rows, db_path, result = stopping_builds["null_like_ids_above_share"]
    output = _assert_stopped_before_features(result, db_path)
    with duckdb.connect(str(db_path), read_only=True) as connection:
        staged_null_like = connection.execute(
            "select count(*) from base_shop__orders where _row_status = 'staged' "
            "and lower(customer_id) in ("
            + ", ".join(f"'{s.lower()}'" for s in NULL_SPELLINGS)
            + ")"
        ).fetchall()[0][0]
        missing_key = connection.execute(
            "select count(*) from int_raw_rows_quarantined "
            "where source_table = 'orders' and reason = 'missing_key'"
        ).fetchall()[0][0]
    assert staged_null_like == 0
    # About 8 % of the rows were planted (hash % 100 < 8), on top of the CI
    # data's own missing keys.
    assert missing_key > 0.06 * rows
    assert "missing_key" in output
    assert "var null_like_values" in output


def test_as_of_date_in_the_future_stops(stopping_builds):
    _, db_path, result = stopping_builds["as_of_date_in_the_future"]
    output = _assert_stopped_before_features(result, db_path)
    assert "is in the future" in output
    assert f"this build runs on {BUILD_DAY.isoformat()}" in output
    assert "leave as_of_date unset" in output


def test_as_of_date_after_the_data_stops(stopping_builds, ci_raw_dir):
    _, db_path, result = stopping_builds["as_of_date_after_the_data"]
    output = _assert_stopped_before_features(result, db_path)
    last = _last_order_date(ci_raw_dir)
    assert "29 days after the data ends" in output
    assert f"last order {last.isoformat()}" in output
    assert "as_of_date_max_days_after_data" in output
    default = last + dt.timedelta(days=1)
    assert f"(default: the day after the last order, {default.isoformat()})" in output


def test_default_as_of_date_after_an_order_today_is_not_the_future(
    stopping_builds,
):
    # The last order is a minute old: the default as_of_date is tomorrow, the
    # day after the build, which the guards accept, and today's orders count.
    _, db_path, result = stopping_builds["last_order_today"]
    output = _output(result)
    assert result.returncode == 0, output[-3000:]
    assert TRACEBACK not in output
    with duckdb.connect(str(db_path), read_only=True) as connection:
        last_day, cutoffs, buyers, last_seen = connection.execute(
            """
            with last_day as (select max(ordered_date) as d from stg_shop__orders)
            select
                (select d from last_day),
                (select list(distinct cutoff_date) from feat_customers),
                (select count(distinct customer_id) from stg_shop__orders
                    where ordered_date = (select d from last_day)
                        and not is_cancelled and revenue_amount > 0),
                (select count(*) from dim_customers
                    where cast(last_ordered_at as date) = (select d from last_day))
            """
        ).fetchone()
    assert last_day >= BUILD_DAY
    assert cutoffs == [last_day + dt.timedelta(days=1)]
    assert last_seen == buyers > 0


def test_as_of_date_before_the_first_order_stops(stopping_builds, ci_raw_dir):
    _, db_path, result = stopping_builds["as_of_date_before_the_first_order"]
    output = _assert_stopped_before_features(result, db_path)
    first = _first_order_date(ci_raw_dir)
    assert f"on or before the first order ({first.isoformat()})" in output


@pytest.mark.parametrize(
    ("case", "value"),
    [
        ("as_of_date_not_a_date", "2026-02-30"),
        ("as_of_date_with_a_quote", "2026-09-3'0"),
    ],
)
def test_as_of_date_that_is_not_a_date_names_the_var(stopping_builds, case, value):
    _, _, result = stopping_builds[case]
    output = _output(result)
    assert result.returncode != 0
    assert TRACEBACK not in output
    assert "var as_of_date must be a date written YYYY-MM-DD" in output
    assert f"got {value}." in output
    assert "unconverted data remains" not in output


def test_a_partial_export_stops_until_the_change_is_accepted(
    run_dbt, ci_raw_dir, tmp_path
):
    raw_dir = tmp_path / "raw"
    db_path = tmp_path / "volume.duckdb"
    orders = raw_dir / "orders.parquet"
    staging = ["build", "--select", f"+{GUARD}", "--exclude", "resource_type:test"]
    full_rows = _write(_orders_select(ci_raw_dir), orders)
    first = run_dbt(staging, raw_dir, db_path, tmp_path)
    assert first.returncode == 0, _output(first)[-3000:]

    # 30 % of the orders (case 6 of issue 14): the full build stops.
    partial_rows = _write(
        f"select * from ({_orders_select(ci_raw_dir)}) where hash(order_id) % 10 < 3",
        orders,
    )
    stopped = run_dbt(["build"], raw_dir, db_path, tmp_path)
    output = _assert_stopped_before_features(stopped, db_path)
    drop = 100 * (1 - partial_rows / full_rows)
    assert f"orders has {partial_rows:,} raw rows, {drop:.1f} % fewer" in output
    assert f"than the {full_rows:,} of the previous build" in output
    assert "accept_volume_change: true" in output

    # The newest order moving backwards stops too, even with more rows.
    _write(
        f"select * from ({_orders_select(ci_raw_dir)}) "
        "where try_cast(ordered_at as date) < "
        f"date '{_last_order_date(ci_raw_dir)}' - interval 10 days",
        orders,
    )
    older = run_dbt(staging, raw_dir, db_path, tmp_path)
    assert older.returncode != 0
    assert "older than" in _output(older)

    accepted = run_dbt(
        [*staging, "--vars", '{"accept_volume_change": true}'],
        raw_dir,
        db_path,
        tmp_path,
    )
    assert accepted.returncode == 0, _output(accepted)[-3000:]
    assert "accepted: var accept_volume_change is true" in _output(accepted)
    with duckdb.connect(str(db_path), read_only=True) as connection:
        statuses = connection.execute(
            f"select check_status, count(*) from {GUARD} "
            "where source_table = 'orders' group by 1 order by 1"
        ).fetchall()
    # Stopped builds wrote no row; the accepted one is marked.
    assert statuses == [("accepted_change", 1), ("passed", 1)]
