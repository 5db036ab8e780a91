"""A real-export-shaped order log builds with default vars, as a new user's would.

The data (predictive_segments.synth real-export mode, CDNOW-like): one
acquisition cohort in early 1997, 18 months of orders only, dates without a
time of day, integer ids, $0 orders and refunds, many one-time buyers, and
customer ids written as NULL, \\N, N/A, ... by the export tool. The CSV file
is built in full with default vars; the same rows as Parquet (ids as
numbers, real nulls) are staged beside it and must stage the same orders.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from predictive_segments.synth import (
    NULL_SPELLINGS,
    RealExportConfig,
    generate_real_export,
    write_real_export,
)

TRACEBACK = "Traceback (most recent call last)"
CUSTOMERS = 4000
SEED = 11
STAGING = [
    "build",
    "--select",
    "+stg_shop__orders",
    "int_raw_rows_quarantined",
    "--exclude",
    "resource_type:test",
]


def _real_export_builds(run_dbt, tmp_path_factory, run_concurrently):
    result = generate_real_export(RealExportConfig(customers=CUSTOMERS, seed=SEED))

    def build(fmt: str, args: list[str]):
        work = tmp_path_factory.mktemp(f"real_export_{fmt}")
        raw_dir = work / "raw"
        write_real_export(result, raw_dir, fmt)
        db_path = work / "real_export.duckdb"
        return raw_dir, db_path, run_dbt(args, raw_dir, db_path, work)

    csv, parquet = run_concurrently(
        lambda: build("csv", ["build"]), lambda: build("parquet", STAGING)
    )
    return {"csv": csv, "parquet": parquet}


BACKGROUND = {"real_export_builds": _real_export_builds}


@pytest.fixture(scope="module")
def real_export_builds(background) -> dict:
    return background.result(_real_export_builds)


@pytest.fixture(scope="module")
def built(real_export_builds):
    raw_dir, db_path, result = real_export_builds["csv"]
    output = result.stdout + result.stderr
    assert TRACEBACK not in output
    assert result.returncode == 0, output[-6000:]
    manifest = json.loads((raw_dir / "truth" / "manifest.json").read_text())
    return db_path, manifest


def _one(db_path: Path, sql: str):
    with duckdb.connect(str(db_path), read_only=True) as connection:
        return connection.execute(sql).fetchall()[0]


def test_dates_before_2000_are_staged(built):
    db_path, manifest = built
    first, quarantined_for_dates = _one(
        db_path,
        "select min(ordered_date), (select count(*) from int_raw_rows_quarantined "
        "where reason like '%timestamp%') from stg_shop__orders",
    )
    assert first.isoformat() == manifest["first_order_date"] < "2000-01-01"
    assert quarantined_for_dates == 0


def test_null_like_ids_are_quarantined_as_missing_keys(built):
    db_path, manifest = built
    reasons = dict(
        duckdb.connect(str(db_path), read_only=True)
        .execute(
            "select reason, count(*) from int_raw_rows_quarantined "
            "where source_table = 'orders' group by 1"
        )
        .fetchall()
    )
    assert reasons == {"missing_key": manifest["null_id_rows"]}
    spellings = ", ".join(
        "'" + s.strip().lower().replace("'", "''") + "'" for s in NULL_SPELLINGS
    )
    (named_null,) = _one(
        db_path,
        f"select count(*) from dim_customers where lower(customer_id) in ({spellings})",
    )
    assert named_null == 0


def test_every_customer_with_an_order_is_scored(built):
    db_path, _ = built
    customers, no_clv, no_churn, no_purchase, segments = _one(
        db_path,
        "select count(*), count(*) - count(predicted_clv), "
        "count(*) - count(churn_probability), "
        "count(*) - count(purchase_probability), "
        "(select count(distinct segment_id) from fct_customer_segments) "
        "from fct_customer_scores",
    )
    # Every customer of the cohort ordered before the default as_of_date.
    assert customers == CUSTOMERS
    assert (no_clv, no_churn, no_purchase) == (0, 0, 0)
    assert segments >= 2


def test_parquet_with_numeric_ids_stages_the_same_orders(real_export_builds, built):
    csv_db, _ = built
    _, parquet_db, result = real_export_builds["parquet"]
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    query = (
        "select order_id, customer_id, ordered_at, amount, is_refund "
        "from stg_shop__orders order by order_id"
    )
    with duckdb.connect(str(csv_db), read_only=True) as connection:
        from_csv = connection.execute(query).fetchall()
    with duckdb.connect(str(parquet_db), read_only=True) as connection:
        from_parquet = connection.execute(query).fetchall()
    assert len(from_csv) > 0
    assert from_parquet == from_csv
