"""Reliability of a build: idempotent, safe to kill, one build at a time.

One scenario on copies of the CI warehouse (no build from scratch), in the
order a module fixture runs it; each test checks one guarantee:

1. build A rebuilds a copy at its own as_of_date; while A runs, a second
   build on the same file must stop within seconds, with a message that names
   the holder, and leave A alone (test_concurrent_build_*);
2. build B starts on a copy of its own (while A still runs: the two are
   independent) and is killed with SIGKILL while a Python model trains:
   every mart must read as before the build (test_killed_build_*);
3. the next build on that copy (same path, so dbt's partial parse of B is
   reused) succeeds and leaves no __dbt_tmp / __dbt_backup relation behind
   (test_build_after_kill_*);
4. A and the build of step 3 started from the same warehouse and data: every
   mart, export and score_* table must hold the same rows, except the
   columns marked `meta: {run_metadata: true}` in the YAML (run ids and
   training timestamps), read from dbt's manifest, and doubles rounded to
   FLOAT_DIGITS decimals; of the run log rpt_model_quality only the serving
   rows (test_rebuild_*).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).with_name("dbt")
# Every model under these folders, and the score tables, is compared.
COMPARED_FOLDERS = ("models/marts/", "models/exports/")
COMPARED_PREFIX = "score_"
LEFTOVER_MARKERS = ("__dbt_tmp", "__dbt_backup")
FIRST_NODE_STARTED = re.compile(r"\d+ of \d+ START ")
PYTHON_MODEL_TRAINING = re.compile(r"START python \w+ model main\.train_clv ")
BUILD_TIMEOUT_SECONDS = 900
# Run logs: one row per training run (model registries). The training runs a
# killed build finished stay there (they happened), so two builds with and
# without a killed one between them compare the rows that serve.
RUN_LOG_FILTERS = {"rpt_model_quality": "is_serving"}
FLOAT_TYPES = ("DOUBLE", "FLOAT")
FLOAT_DIGITS = 12
DBT_FLAGS = ("--profiles-dir", ".", "--project-dir", ".")


@dataclass
class Build:
    """A dbt build running in the background on `db_path`."""

    process: subprocess.Popen
    work_dir: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def log(self) -> Path:
        return self.work_dir / "logs" / "dbt.log"

    def wait_for_log(self, pattern: re.Pattern, timeout: float = 600) -> None:
        """Wait until dbt's log matches `pattern`; fail if the build ends first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.exists() and pattern.search(
                self.log.read_text(errors="ignore")
            ):
                return
            if self.process.poll() is not None:
                pytest.fail(
                    f"the build ended (exit {self.process.returncode}) before its log "
                    f"showed {pattern.pattern!r}:\n{self.output()[-3000:]}"
                )
            time.sleep(0.2)
        pytest.fail(f"no {pattern.pattern!r} in {self.log} after {timeout} s")

    def wait(self) -> int:
        return self.process.wait(timeout=BUILD_TIMEOUT_SECONDS)

    def kill(self) -> None:
        """SIGKILL the whole process group: dbt and anything it started."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)

    def output(self) -> str:
        return (self.work_dir / "dbt.out").read_text(errors="ignore")


def _env(raw_dir: Path, db_path: Path, work_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SEGMENTS_RAW_DIR": str(raw_dir),
        "SEGMENTS_DB": str(db_path),
        "DBT_TARGET_PATH": str(work_dir / "target"),
        "DBT_LOG_PATH": str(work_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def build_command(dbt_vars: dict) -> list[str]:
    return [str(DBT), "build", "--vars", json.dumps(dbt_vars), *DBT_FLAGS]


def start_build(raw_dir: Path, db_path: Path, work_dir: Path, dbt_vars: dict) -> Build:
    """Start `dbt build --vars dbt_vars` in its own process group."""
    work_dir.mkdir(parents=True, exist_ok=True)
    log = work_dir / "logs" / "dbt.log"
    if log.exists():
        log.unlink()
    with open(work_dir / "dbt.out", "w") as out:
        process = subprocess.Popen(
            build_command(dbt_vars),
            cwd=PROJECT_DIR,
            env=_env(raw_dir, db_path, work_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Build(process, work_dir)


def copy_warehouse(source: Path, target: Path) -> None:
    """Copy a warehouse file (and a write-ahead log, if any) over `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".wal"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(target) + suffix).unlink()
        if Path(str(source) + suffix).exists():
            shutil.copyfile(str(source) + suffix, str(target) + suffix)


def is_compared(node: dict) -> bool:
    """The marts, exports and score tables: what readers see."""
    return node["original_file_path"].startswith(COMPARED_FOLDERS) or node[
        "name"
    ].startswith(COMPARED_PREFIX)


def compared_models(
    manifest: dict, keep: Callable[[dict], bool] = is_compared
) -> dict[str, set[str]]:
    """Relation name -> its run-metadata columns, for every built (not
    ephemeral, enabled) model for which ``keep(node)`` holds."""
    models = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or not node["config"].get("enabled", True):
            continue
        if node["config"].get("materialized") == "ephemeral" or not keep(node):
            continue
        models[node["alias"] or node["name"]] = {
            name
            for name, column in node["columns"].items()
            if (column.get("meta") or {}).get("run_metadata")
            or (column.get("config", {}).get("meta") or {}).get("run_metadata")
        }
    return models


def fingerprints(
    db_path: Path, models: dict[str, set[str]], ignore_metadata: bool
) -> dict[str, dict]:
    """Per relation: its columns, row count, an order-independent hash of its
    rows and one of each column (to name what differs), without the run
    metadata columns when `ignore_metadata`. Reads `db_path` read-only."""
    found = {}
    # Export views may name their files relative to the project root.
    with (
        contextlib.chdir(PROJECT_DIR),
        duckdb.connect(str(db_path), read_only=True) as db,
    ):
        for relation, metadata in sorted(models.items()):
            where = RUN_LOG_FILTERS.get(relation, "true") if ignore_metadata else "true"
            described = db.execute(f"describe {relation}").fetchall()
            columns = [row[0] for row in described]
            floats = {row[0] for row in described if row[1] in FLOAT_TYPES}
            compared = [c for c in columns if not (ignore_metadata and c in metadata)]
            # DuckDB sums doubles in parallel, in no fixed order: a mean may
            # differ in its last bits (1e-16) between equal builds.
            quoted = [
                f'round("{c}", {FLOAT_DIGITS})' if c in floats else f'"{c}"'
                for c in compared
            ]
            sums = ", ".join(f"sum(hash({c}))" for c in quoted)
            count, rows, *per_column = db.execute(
                f"select count(*), sum(hash(row({', '.join(quoted)}))), {sums} "
                f"from {relation} where {where}"
            ).fetchone()
            found[relation] = {
                "columns": columns,
                "rows": count,
                "row_hash": rows,
                "column_hashes": dict(zip(compared, per_column, strict=True)),
            }
    return found


def differences(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    """What differs between two sets of `fingerprints`, in words."""
    found = []
    for relation in sorted(set(before) | set(after)):
        if relation not in before or relation not in after:
            found.append(f"{relation}: only in one of the two warehouses")
            continue
        a, b = before[relation], after[relation]
        if a["columns"] != b["columns"]:
            found.append(f"{relation}: columns {a['columns']} != {b['columns']}")
            continue
        if a["rows"] != b["rows"]:
            found.append(f"{relation}: {a['rows']} rows before, {b['rows']} after")
        columns = [
            c
            for c in a["column_hashes"]
            if a["column_hashes"][c] != b["column_hashes"][c]
        ]
        if columns:
            found.append(f"{relation}: column(s) {', '.join(columns)} differ")
        elif a["row_hash"] != b["row_hash"]:
            found.append(f"{relation}: same column values, combined into other rows")
    return found


def leftover_relations(db_path: Path) -> list[str]:
    """Temporary or backup relations of dbt's materializations in `db_path`."""
    with duckdb.connect(str(db_path), read_only=True) as db:
        rows = db.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()
    return sorted(name for (name,) in rows if any(m in name for m in LEFTOVER_MARKERS))


@dataclass
class Scenario:
    """What the module fixture observed; the tests below check it."""

    source: Path
    raw_dir: Path
    dbt_vars: dict
    models: dict[str, set[str]] = field(default_factory=dict)
    first_exit: int | None = None
    first_output: str = ""
    second_exit: int | None = None
    second_output: str = ""
    second_seconds: float = 0.0
    first_running_when_second_ended: bool = False
    rebuilt: dict[str, dict] = field(default_factory=dict)
    killed_exit: int | None = None
    wal_after_kill: bool = False
    changed_by_kill: list[str] = field(default_factory=list)
    leftovers_after_kill: list[str] = field(default_factory=list)
    recovery_exit: int | None = None
    recovery_output: str = ""
    leftovers_after_recovery: list[str] = field(default_factory=list)
    recovered: dict[str, dict] = field(default_factory=dict)


@pytest.fixture(scope="module")
def scenario(ci_raw_dir: Path, tmp_path_factory) -> Scenario:
    source = Path(os.environ["SEGMENTS_CI_DB"])
    if not source.is_absolute():
        source = PROJECT_DIR / source
    with duckdb.connect(str(source), read_only=True) as db:
        (as_of_date,) = db.execute(
            "select max(as_of_date) from fct_customer_scores"
        ).fetchone()
    # The last build of `make ci-build` again: its as_of_date and vars.
    dbt_vars = {"as_of_date": as_of_date.isoformat(), "enable_test_fixtures": True}
    root = tmp_path_factory.mktemp("reliability")
    warehouse = root / "build" / "warehouse.duckdb"
    work_dir = root / "build"
    seen = Scenario(source=source, raw_dir=ci_raw_dir, dbt_vars=dbt_vars)

    # 1. Build A, and a second build on the same file while A runs.
    copy_warehouse(source, warehouse)
    first = start_build(ci_raw_dir, warehouse, work_dir, dbt_vars)
    first.wait_for_log(FIRST_NODE_STARTED)
    second_dir = root / "second"
    (second_dir / "target").mkdir(parents=True)
    # Reuse A's parse, as a second `dbt build` in the same project would.
    shutil.copy(work_dir / "target" / "partial_parse.msgpack", second_dir / "target")
    started = time.monotonic()
    second = subprocess.run(
        build_command(dbt_vars),
        cwd=PROJECT_DIR,
        env=_env(ci_raw_dir, warehouse, second_dir),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    seen.second_seconds = time.monotonic() - started
    seen.first_running_when_second_ended = first.process.poll() is None
    seen.second_exit, seen.second_output = (
        second.returncode,
        second.stdout + second.stderr,
    )

    # 2. Build B on a copy of its own, killed while a Python model trains.
    crash_dir = root / "crash"
    crashed_warehouse = crash_dir / "warehouse.duckdb"
    copy_warehouse(source, crashed_warehouse)
    crashed = start_build(ci_raw_dir, crashed_warehouse, crash_dir, dbt_vars)
    crashed.wait_for_log(PYTHON_MODEL_TRAINING)
    crashed.kill()
    seen.killed_exit = crashed.process.returncode
    seen.wal_after_kill = Path(str(crashed_warehouse) + ".wal").exists()
    # B wrote its manifest (the same nodes as A's) before running any node.
    killed_models = compared_models(
        json.loads((crash_dir / "target" / "manifest.json").read_text())
    )
    seen.changed_by_kill = differences(
        fingerprints(source, killed_models, ignore_metadata=False),
        fingerprints(crashed_warehouse, killed_models, ignore_metadata=False),
    )
    seen.leftovers_after_kill = leftover_relations(crashed_warehouse)

    # 3. The next build on it, while A may still run.
    recovery = start_build(ci_raw_dir, crashed_warehouse, crash_dir, dbt_vars)

    seen.first_exit, seen.first_output = first.wait(), first.output()
    if seen.first_exit != 0:
        recovery.kill()
        pytest.fail(f"build A failed:\n{seen.first_output[-5000:]}")
    manifest = json.loads((work_dir / "target" / "manifest.json").read_text())
    seen.models = compared_models(manifest)
    seen.rebuilt = fingerprints(warehouse, seen.models, ignore_metadata=True)
    seen.recovery_exit, seen.recovery_output = recovery.wait(), recovery.output()
    seen.leftovers_after_recovery = leftover_relations(crashed_warehouse)
    seen.recovered = fingerprints(crashed_warehouse, seen.models, ignore_metadata=True)
    return seen


def test_concurrent_build_stops_fast_with_a_clear_message(scenario: Scenario):
    assert scenario.second_exit != 0, scenario.second_output[-3000:]
    assert scenario.first_running_when_second_ended, (
        f"the second build took {scenario.second_seconds:.0f} s: it should stop "
        "before the first one ends"
    )
    output = scenario.second_output
    assert "Another process holds the warehouse" in output, output[-3000:]
    assert re.search(r"process \d+", output), output[-3000:]
    assert "Traceback" not in output, output[-3000:]


def test_concurrent_build_leaves_the_running_build_alone(scenario: Scenario):
    assert scenario.first_exit == 0, scenario.first_output[-5000:]
    assert "Another process holds the warehouse" not in scenario.first_output


def test_killed_build_leaves_every_mart_readable_and_unchanged(scenario: Scenario):
    assert scenario.killed_exit == -signal.SIGKILL
    assert scenario.changed_by_kill == []


def test_build_after_kill_succeeds_without_leftover_relations(scenario: Scenario):
    assert scenario.recovery_exit == 0, scenario.recovery_output[-5000:]
    assert scenario.leftovers_after_recovery == []


def test_rebuild_is_idempotent(scenario: Scenario):
    metadata = {m: c for m, c in scenario.models.items() if c}
    assert metadata, "no column is marked meta: {run_metadata: true}"
    found = differences(scenario.rebuilt, scenario.recovered)
    assert found == [], (
        "two builds from the same warehouse and data differ outside the run "
        f"metadata columns {metadata}:\n" + "\n".join(found)
    )
