"""Fixtures for tests that read the CI warehouse or run their own dbt builds.

`make integration` builds the CI warehouse first and passes its location in
SEGMENTS_CI_DB / SEGMENTS_CI_RAW_DIR. Tests that build use their own DuckDB
file (only one process may write a DuckDB file).

Speed (the machine has two cores, a dbt parse costs ~15 s): run_dbt builds
in one of DBT_SLOTS fixed workspaces so that dbt reuses its parse
(DbtWorkspaces), two builds at a time; fixtures run independent builds
concurrently (run_concurrently), and modules list long series of builds in
BACKGROUND so that they start with the session (Background).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import pytest
import yaml

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
def ci_db_path() -> Path:
    return _required_path("SEGMENTS_CI_DB")


@pytest.fixture(scope="session")
def warehouse(ci_db_path: Path):
    """A read-only connection to the CI warehouse, for the main thread: work
    in a thread opens its own (duckdb.connect(ci_db_path, read_only=True))."""
    connection = duckdb.connect(str(ci_db_path), read_only=True)
    yield connection
    connection.close()


# dbt parses the project (~15-20 s) unless it finds a partial parse of the
# same project made with the same --vars and the same profile, warehouse path
# included (dbt's profile hash); raw or export paths that differ only re-parse
# the files that read them. So every build runs in one of a few fixed
# workspaces: the test's database file is moved to the workspace's path for
# the build and back afterwards, and each workspace keeps dbt's partial parse
# per --vars, copied into the build's target directory (work_dir/target, with
# every other artifact) before the build and back after it. DBT_SLOTS
# workspaces build at the same time.
DBT_SLOTS = 2
WORKSPACE_DB = "warehouse.duckdb"
PARTIAL_PARSE = "partial_parse.msgpack"
_DB_SUFFIXES = ("", ".wal")


def _move_database(source: Path, target: Path) -> None:
    """Move a DuckDB file and its write-ahead log (if any) over `target`."""
    for suffix in _DB_SUFFIXES:
        with contextlib.suppress(FileNotFoundError):
            Path(str(target) + suffix).unlink()
        if Path(str(source) + suffix).exists():
            shutil.move(str(source) + suffix, str(target) + suffix)


def _vars_key(args: Sequence[str]) -> str:
    """The --vars of `args` as dbt compares them for a partial parse."""
    value = "{}"
    for index, arg in enumerate(args):
        if arg == "--vars" and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith("--vars="):
            value = arg.removeprefix("--vars=")
    parsed = yaml.safe_load(value) or {}
    text = json.dumps(parsed, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class DbtWorkspaces:
    """DBT_SLOTS fixed places to run dbt in, each with its partial parses."""

    def __init__(self, root: Path, count: int = DBT_SLOTS):
        self.root = root
        self._free = [root / f"slot{index}" for index in range(count)]
        self._parsed: dict[Path, set[str]] = {slot: set() for slot in self._free}
        self._changed = threading.Condition()
        for slot in self._free:
            slot.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def take(self, key: str):
        """A free workspace, preferably one that has parsed with `key` before."""
        with self._changed:
            self._changed.wait_for(lambda: self._free)
            slot = next((s for s in self._free if key in self._parsed[s]), None)
            slot = slot or self._free[0]
            self._free.remove(slot)
        try:
            yield slot
        finally:
            with self._changed:
                self._parsed[slot].add(key)
                self._free.append(slot)
                self._changed.notify()

    def run(
        self,
        args: list[str],
        raw_dir: Path,
        db_path: Path,
        work_dir: Path,
        env: dict[str, str | None] | None = None,
    ) -> subprocess.CompletedProcess:
        key = _vars_key(args)
        db_path = Path(db_path)
        target = Path(work_dir) / "target"
        # env SEGMENTS_DB: the warehouse's own path is under test (exports
        # beside it, quoting): built where it is, dbt parses anew.
        in_place = bool((env or {}).get("SEGMENTS_DB"))
        with self.take(key) as slot:
            workspace_db = slot / WORKSPACE_DB
            if not in_place:
                _move_database(db_path, workspace_db)
            parsed = slot / "parsed" / key / PARTIAL_PARSE
            if parsed.exists() and not in_place:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(parsed, target / PARTIAL_PARSE)
            environment = {
                # Exports go next to the test's database, as without
                # workspaces: <stem>.exports (macros/marts/exports.sql).
                "SEGMENTS_EXPORTS_DIR": str(
                    db_path.with_name(db_path.stem + ".exports")
                ),
                **os.environ,
                "SEGMENTS_RAW_DIR": str(raw_dir),
                "SEGMENTS_DB": str(workspace_db),
                "DBT_TARGET_PATH": str(target),
                "DBT_LOG_PATH": str(work_dir / "logs"),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            }
            for name, value in (env or {}).items():
                if value is None:
                    environment.pop(name, None)
                else:
                    environment[name] = value
            try:
                return subprocess.run(
                    [str(DBT), *args, "--profiles-dir", ".", "--project-dir", "."],
                    cwd=PROJECT_DIR,
                    env=environment,
                    capture_output=True,
                    text=True,
                    timeout=900,
                    check=False,
                )
            finally:
                if not in_place:
                    db_path.parent.mkdir(parents=True, exist_ok=True)
                    _move_database(workspace_db, db_path)
                if (target / PARTIAL_PARSE).exists() and not in_place:
                    parsed.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(target / PARTIAL_PARSE, parsed)


@pytest.fixture(scope="session")
def dbt_workspaces(tmp_path_factory) -> DbtWorkspaces:
    return DbtWorkspaces(tmp_path_factory.mktemp("dbt_workspaces"))


@pytest.fixture(scope="session")
def run_dbt(dbt_workspaces: DbtWorkspaces):
    """`run_dbt(args, raw_dir, db_path, work_dir, env=None)` runs dbt on this
    project against `raw_dir`, building into `db_path` (created if missing);
    `env` adds environment variables (None: unset one); with SEGMENTS_DB in
    `env` dbt builds that file where it is (db_path is then not used).
    Thread-safe: at most DBT_SLOTS builds run at once."""
    return dbt_workspaces.run


def _run_concurrently(*calls: Callable[[], object]) -> list:
    """Call each of `calls` in its own thread; their results, in order (the
    first exception raised, if any). Builds through run_dbt still run at most
    DBT_SLOTS at a time."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


@pytest.fixture(scope="session")
def run_concurrently():
    """`run_concurrently(*calls)`: each call in its own thread; the results."""
    return _run_concurrently


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


def _orders_only_builds(run_dbt, write_orders, tmp_path_factory) -> dict:
    """`{fmt: (raw_dir, db_path, result)}`: a full build (data tests included)
    on a raw directory of the required order columns alone, as orders.csv and
    as orders.parquet, built concurrently."""

    def build(fmt: str) -> tuple[Path, Path, subprocess.CompletedProcess]:
        work = tmp_path_factory.mktemp(f"orders_only_{fmt}")
        raw_dir = work / "raw"
        write_orders(raw_dir / f"orders.{fmt}", fmt=fmt)
        db_path = work / "orders_only.duckdb"
        return raw_dir, db_path, run_dbt(["build"], raw_dir, db_path, work)

    formats = ("csv", "parquet")
    builds = _run_concurrently(*(lambda fmt=fmt: build(fmt) for fmt in formats))
    return dict(zip(formats, builds, strict=True))


# Work of the fixtures above that starts with the session (Background).
BACKGROUND = {"orders_only_builds": _orders_only_builds}


@pytest.fixture(scope="session")
def orders_only_builds(background) -> dict:
    """_orders_only_builds, shared by test_raw_contract and test_point_in_time."""
    return background.result(_orders_only_builds)


class Background:
    """Work of module fixtures that starts when the test session starts.

    A test module (or this file) lists it as
    `BACKGROUND = {"fixture_name": function}`;
    when a selected test of that module uses the fixture, `function` runs in
    a thread from the start of the session on, its arguments the session
    fixtures of the same names, and the fixture returns
    `background.result(function)`: its return value, or the exception it
    raised. So long series of builds (test_backtest, test_model_quality) run
    while other modules test; run_dbt keeps builds DBT_SLOTS at a time.
    """

    def __init__(self) -> None:
        # A thread per job: run_dbt limits how many builds run at once.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=32)
        self._futures: dict[Callable, concurrent.futures.Future] = {}

    def start(self, function: Callable, arguments: dict) -> None:
        self._futures[function] = self._pool.submit(function, **arguments)

    def result(self, function: Callable):
        if function not in self._futures:
            raise RuntimeError(
                f"{function.__name__} was not started: list it in its module's "
                "BACKGROUND under the name of the fixture that uses it"
            )
        return self._futures[function].result()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session", autouse=True)
def background(request):
    """Starts the BACKGROUND work that the selected tests need (see Background)."""
    jobs = Background()
    started = set()
    for item in request.session.items:
        module = getattr(item, "module", None)
        listed = {**BACKGROUND, **getattr(module, "BACKGROUND", {})}
        for name, function in listed.items():
            if name in item.fixturenames and function not in started:
                started.add(function)
                parameters = inspect.signature(function).parameters
                jobs.start(
                    function, {p: request.getfixturevalue(p) for p in parameters}
                )
    yield jobs
    jobs.shutdown()
