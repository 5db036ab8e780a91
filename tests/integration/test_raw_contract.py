"""The raw contract holds end to end: orders alone build, bad files fail clearly."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

REQUIRED_ORDER_COLUMNS = ["order_id", "customer_id", "ordered_at", "amount"]


def _write_orders(ci_raw_dir: Path, target: Path, columns: list[str], fmt: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    select = ", ".join(columns)
    source = ci_raw_dir / "orders.parquet"
    options = "(format parquet)" if fmt == "parquet" else "(format csv, header true)"
    with duckdb.connect() as connection:
        connection.execute(
            f"copy (select {select} from read_parquet('{source}')) "
            f"to '{target}' {options}"
        )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_orders_only_directory_builds_features(run_dbt, ci_raw_dir, tmp_path, fmt):
    raw_dir = tmp_path / "raw"
    _write_orders(ci_raw_dir, raw_dir / f"orders.{fmt}", REQUIRED_ORDER_COLUMNS, fmt)
    db_path = tmp_path / "orders_only.duckdb"

    result = run_dbt(["build"], raw_dir, db_path, tmp_path)

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
    run_dbt, ci_raw_dir, tmp_path
):
    raw_dir = tmp_path / "raw"
    _write_orders(
        ci_raw_dir,
        raw_dir / "orders.parquet",
        ["order_id", "ordered_at", "amount"],
        "parquet",
    )

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
