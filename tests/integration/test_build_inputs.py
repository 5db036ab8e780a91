"""What a build takes from its environment reaches SQL safely, and a failing
on-run-start hook stops the build before any model runs.

- Paths: a raw directory and a warehouse whose paths hold a quote and a space
  (the quote in the warehouse's folder: see check_warehouse_name) build
  staging and the exports (into a copy of the CI warehouse, so only those
  run), reading the raw files and writing the exports beside the warehouse
  (every path and var goes into SQL through sql_string() or a validating
  macro).
- Vars: a var that would end up in SQL unchecked stops with a message that
  names it.
- Hooks: with an exports directory that cannot be created, on-run-start fails
  and every selected node is skipped (dbt_project.yml flags:
  skip_nodes_if_on_run_start_fails).

The three builds start with the session (BACKGROUND).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

QUOTED_SELECTION = ["build", "--select", "models/staging", "models/exports"]
EXPORT_FILES = (
    "exp_audience_members.parquet",
    "exp_audience_members.csv",
    "exp_customer_segments.parquet",
)


def _input_builds(
    ci_db_path, ci_raw_dir, run_dbt, run_concurrently, tmp_path_factory
) -> SimpleNamespace:
    work = tmp_path_factory.mktemp("build_inputs")
    builds = SimpleNamespace(work=work)

    def quoted() -> None:
        folder = work / "it's a folder"
        raw_dir = folder / "raw data's files"
        shutil.copytree(ci_raw_dir, raw_dir, ignore=shutil.ignore_patterns("truth"))
        # A quote in the file name itself is refused before the build
        # (warehouse_lock.check_warehouse_name): dbt-duckdb cannot quote the
        # database name DuckDB derives from it.
        db_path = folder / "the warehouse copy.duckdb"
        shutil.copy(ci_db_path, db_path)
        wal = ci_db_path.with_name(ci_db_path.name + ".wal")
        if wal.exists():
            shutil.copy(wal, db_path.with_name(db_path.name + ".wal"))
        env = {"SEGMENTS_DB": str(db_path), "SEGMENTS_EXPORTS_DIR": None}
        result = run_dbt(QUOTED_SELECTION, raw_dir, db_path, work / "quoted", env=env)
        builds.quoted = SimpleNamespace(raw_dir=raw_dir, db_path=db_path, result=result)

    def bad_var() -> None:
        args = [
            "compile",
            "--select",
            "base_shop__orders",
            "--vars",
            "{max_order_amount: '1) or (1 = 1'}",
        ]
        db_path = work / "bad_var.duckdb"
        builds.bad_var = run_dbt(args, ci_raw_dir, db_path, work / "bad_var")

    def failing_hook() -> None:
        db_path = work / "hook.duckdb"
        # The exports directory is created one level deep: its parent is missing.
        env = {"SEGMENTS_EXPORTS_DIR": str(work / "missing" / "exports")}
        args = ["build", "--select", "base_shop__products", "stg_shop__products"]
        result = run_dbt(args, ci_raw_dir, db_path, work / "hook", env=env)
        builds.hook = SimpleNamespace(db_path=db_path, result=result)

    run_concurrently(quoted, bad_var, failing_hook)
    return builds


BACKGROUND = {"input_builds": _input_builds}


@pytest.fixture(scope="module")
def input_builds(background) -> SimpleNamespace:
    return background.result(_input_builds)


def test_paths_with_a_quote_and_a_space_build(input_builds):
    quoted = input_builds.quoted
    assert quoted.result.returncode == 0, quoted.result.stdout[-4000:]
    exports = quoted.db_path.with_suffix(".exports")
    with duckdb.connect(str(quoted.db_path), read_only=True) as con:
        read_from = {
            row[0]
            for row in con.execute(
                "select distinct _source_file from base_shop__events"
            ).fetchall()
        }
        exported = con.execute("select count(*) from exp_customer_segments").fetchone()
        customers = con.execute("select count(*) from fct_customer_segments").fetchone()
    # Staging read the raw files from the quoted directory...
    assert read_from
    assert all(Path(path).parent == quoted.raw_dir for path in read_from), read_from
    # ... and the exports went beside the quoted warehouse, read by its views.
    for file_name in EXPORT_FILES:
        assert (exports / file_name).is_file(), file_name
    assert exported == customers
    assert exported[0] > 0


def test_a_var_that_is_not_a_number_stops_with_its_name(input_builds):
    result = input_builds.bad_var
    assert result.returncode != 0
    assert "var max_order_amount must be a number" in result.stdout, result.stdout[
        -2000:
    ]


def test_a_failing_on_run_start_hook_skips_every_node(input_builds):
    hook = input_builds.hook
    assert hook.result.returncode != 0
    work = Path(hook.db_path).parent / "hook"
    results = json.loads((work / "target" / "run_results.json").read_text())
    statuses = {
        result["unique_id"].split(".")[-1]: result["status"]
        for result in results["results"]
    }
    hooks = {k: v for k, v in statuses.items() if "on-run-start" in k}
    nodes = {k: v for k, v in statuses.items() if "on-run" not in k}
    assert "error" in hooks.values(), statuses
    # The selected models were part of the run, and none of them ran.
    assert {"base_shop__products", "stg_shop__products"} <= set(nodes), statuses
    assert set(nodes.values()) == {"skipped"}, statuses
    with duckdb.connect(str(hook.db_path), read_only=True) as con:
        relations = con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'main'"
        ).fetchall()
    assert relations == []
