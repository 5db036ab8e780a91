"""Fixtures for tests that read the CI warehouse or run their own dbt builds.

`make integration` builds the CI warehouse first and passes its location in
SEGMENTS_CI_DB / SEGMENTS_CI_RAW_DIR. Tests that build use their own DuckDB
file (only one process may write a DuckDB file).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).with_name("dbt")
REQUIRED_ORDER_COLUMNS = ("order_id", "customer_id", "ordered_at", "amount")


def _required_path(variable: str) -> Path:
    value = os.environ.get(variable)
    if not value:
        pytest.fail(f"{variable} is not set: run these tests with `make integration`")
    path = Path(value)
    if not path.is_absolute():
        path = PROJECT_DIR / path
    if not path.exists():
        pytest.fail(f"{variable}={value} does not exist: run `make ci-build` first")
    return path


@pytest.fixture(scope="session")
def ci_raw_dir() -> Path:
    return _required_path("SEGMENTS_CI_RAW_DIR")


@pytest.fixture(scope="session")
def ci_manifest(ci_raw_dir: Path) -> dict:
    return json.loads((ci_raw_dir / "truth" / "manifest.json").read_text())


@pytest.fixture(scope="session")
def warehouse():
    connection = duckdb.connect(str(_required_path("SEGMENTS_CI_DB")), read_only=True)
    yield connection
    connection.close()


def _run_dbt(
    args: list[str], raw_dir: Path, db_path: Path, work_dir: Path
) -> subprocess.CompletedProcess:
    """Run dbt on this project against `raw_dir`, building into `db_path`."""
    env = {
        **os.environ,
        "SEGMENTS_RAW_DIR": str(raw_dir),
        "SEGMENTS_DB": str(db_path),
        "DBT_TARGET_PATH": str(work_dir / "target"),
        "DBT_LOG_PATH": str(work_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return subprocess.run(
        [str(DBT), *args, "--profiles-dir", ".", "--project-dir", "."],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="session")
def run_dbt():
    """`run_dbt(args, raw_dir, db_path, work_dir)` runs dbt on this project."""
    return _run_dbt


@pytest.fixture(scope="session")
def write_orders(ci_raw_dir: Path):
    """`write_orders(target, columns=REQUIRED_ORDER_COLUMNS, fmt="parquet")`.

    Writes those columns of the CI orders to `target` (parquet or csv): an
    orders-only raw file.
    """

    def write(
        target: Path,
        columns: Sequence[str] = REQUIRED_ORDER_COLUMNS,
        fmt: str = "parquet",
    ) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        source = ci_raw_dir / "orders.parquet"
        options = "format parquet" if fmt == "parquet" else "format csv, header true"
        with duckdb.connect() as connection:
            connection.execute(
                f"copy (select {', '.join(columns)} from read_parquet('{source}')) "
                f"to '{target}' ({options})"
            )

    return write
