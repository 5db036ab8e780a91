"""The raw contract holds end to end: orders alone build, bad files fail clearly."""

from __future__ import annotations

import duckdb
import pytest


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_orders_only_directory_builds_features(orders_only_builds, fmt):
    # The parquet build is also the one test_point_in_time's orders-only
    # tests read (conftest.orders_only_builds).
    raw_dir, db_path, result = orders_only_builds[fmt]

    assert result.returncode == 0, result.stdout[-4000:]
    with duckdb.connect(str(db_path), read_only=True) as connection:
        customers, with_orders = connection.execute(
            "select count(*), count(*) filter (where order_count > 0) "
            "from feat_customers"
        ).fetchall()[0]
        orders_file = raw_dir / f"orders.{fmt}"
        raw_customers = connection.execute(
            f"select count(distinct customer_id) from read_{fmt}('{orders_file}')"
        ).fetchall()[0][0]
    assert customers > 0
    assert with_orders > 0
    # Every feature row belongs to a customer present in the orders file.
    assert customers <= raw_customers


def test_missing_required_column_names_file_column_and_found_columns(
    run_dbt, write_orders, tmp_path
):
    raw_dir = tmp_path / "raw"
    write_orders(raw_dir / "orders.parquet", ["order_id", "ordered_at", "amount"])

    result = run_dbt(["build"], raw_dir, tmp_path / "missing.duckdb", tmp_path)

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"Raw file {raw_dir}/orders.parquet has no column customer_id" in output
    assert "(found: order_id, ordered_at, amount)" in output


def test_missing_required_file_says_where_it_looked(run_dbt, tmp_path):
    raw_dir = tmp_path / "empty_raw"
    raw_dir.mkdir()

    result = run_dbt(["build"], raw_dir, tmp_path / "nofile.duckdb", tmp_path)

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Required raw file orders.parquet (or orders.csv) was not found" in output
    assert str(raw_dir) in output
