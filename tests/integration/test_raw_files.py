"""Raw files shaped like real exports (docs/raw_contract.md, top section).

Small raw directories (the 300-customer slice of test_raw_fuzz) hold tables
delivered the way other systems write them: names in any letter case,
gzip and zstd CSV, Hive-partitioned and nested folders with Spark's marker
files, a folder of mixed formats, a single file next to a folder. Staging
is built on them (staging only, as in test_raw_fuzz) and every row written
must be staged, quarantined or collapsed, no more and no less. Other
directories hold one table as two single files (the build stops unless var
raw_file_format picks one) or damaged files (the build stops with a message
naming the file). The builds run concurrently, two at a time
(conftest.run_dbt).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
from test_raw_fuzz import (
    BUILD_ARGS,
    RAW_TABLES,
    TRACEBACK,
    Planted,
    _assert_every_row_accounted,
    raw_slice,  # noqa: F401 - the fixture, used by builds
)

PARTS = 3


def _write(
    slice_dir: Path,
    table: str,
    target: Path,
    part: int | None = None,
    select: str = "*",
    where: str = "true",
) -> int:
    """Write rows of the slice of `table` to `target` (format from its name:
    .parquet, .csv, .csv.gz, .csv.zst, any letter case); `part` keeps one of
    PARTS disjoint parts of the rows. Returns the number of rows written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    name = target.name.lower()
    if name.endswith(".parquet"):
        options = "format parquet"
    else:
        compression = {".gz": "gzip", ".zst": "zstd"}.get(Path(name).suffix, "none")
        options = f"format csv, header true, compression {compression}"
    if part is not None:
        where = f"({where}) and hash(slice::varchar) % {PARTS} = {part}"
    query = (
        f"select {select} from read_parquet('{slice_dir}/{table}.parquet') "
        f"as slice where {where}"
    )
    with duckdb.connect() as connection:
        connection.execute(f"copy ({query}) to '{target}' ({options})")
        return connection.execute(f"select count(*) from ({query})").fetchone()[0]


def _copy_slice(slice_dir: Path, raw_dir: Path, tables: tuple[str, ...]) -> None:
    raw_dir.mkdir(parents=True, exist_ok=True)
    for table in tables:
        shutil.copy(slice_dir / f"{table}.parquet", raw_dir)


def _damage_parquet_footer(path: Path) -> None:
    """Overwrite a Parquet file's footer (its schema) with 0xff bytes, keeping
    its length and magic bytes: DuckDB says "don't know what type:"."""
    data = bytearray(path.read_bytes())
    footer_length = int.from_bytes(data[-8:-4], "little")
    data[-8 - footer_length : -8] = b"\xff" * footer_length
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@dataclass
class Build:
    raw_dir: Path
    db_path: Path
    result: subprocess.CompletedProcess
    planted: dict[str, Planted] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr


def _exports_layout(slice_dir: Path, raw_dir: Path) -> tuple[dict, dict]:
    """Every table in a shape of a real export; rows written per table."""
    rows: dict[str, int] = {}
    notes: dict[str, object] = {}
    rows["orders"] = _write(slice_dir, "orders", raw_dir / "ORDERS.csv")
    # Not a data file's name: not read, named in a warning.
    _write(slice_dir, "orders", raw_dir / "orders.backup.parquet", part=0)
    rows["customers"] = _write(slice_dir, "customers", raw_dir / "customers.CSV.GZ")
    rows["products"] = _write(slice_dir, "products", raw_dir / "Products.Parquet")
    rows["order_items"] = _write(
        slice_dir, "order_items", raw_dir / "order_items.csv.zst"
    )

    # Hive partitions (day is no contract column: ignored) with Spark's
    # marker files, a staging folder of an unfinished write, and a stray file.
    events = raw_dir / "Events"
    rows["events"] = sum(
        _write(
            slice_dir,
            "events",
            events / f"day=2026-01-0{part + 1}/part-0.parquet",
            part,
        )
        for part in range(PARTS)
    )
    (events / "_SUCCESS").write_bytes(b"")
    (events / ".part-0.parquet.crc").write_bytes(b"crc")
    (events / "day=2026-01-01" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    _write(slice_dir, "events", events / "_temporary/0/part-9.parquet", part=0)
    (events / "notes.txt").write_text("exported by the nightly job\n")
    notes["events_files"] = PARTS

    # Mixed formats in one folder; a partition key that is a contract column
    # absent from its files (read as the column) and one present in its
    # files (the file's values win).
    email = raw_dir / "email_events"
    opened = _write(
        slice_dir,
        "email_events",
        email / "event_type=open/part-0.parquet",
        select="* exclude (event_type)",
        where="event_type = 'open'",
    )
    not_open = "event_type is distinct from 'open'"
    rows["email_events"] = (
        opened
        + _write(
            slice_dir,
            "email_events",
            email / "customer_id=nobody/part-1.parquet",
            part=0,
            where=not_open,
        )
        + _write(
            slice_dir, "email_events", email / "Part-2.CSV", part=1, where=not_open
        )
        + _write(
            slice_dir,
            "email_events",
            email / "nested/part-3.csv.gz",
            part=2,
            where=not_open,
        )
    )
    notes["opened"] = opened

    # Spark's output folder, named like a file.
    tickets = raw_dir / "support_tickets.parquet"
    rows["support_tickets"] = sum(
        _write(
            slice_dir,
            "support_tickets",
            tickets / f"part-0000{part}.snappy.parquet",
            part,
        )
        for part in range(PARTS)
    )
    (tickets / "_SUCCESS").write_bytes(b"")

    # A single file and a folder: read together.
    rows["campaign_assignments"] = _write(
        slice_dir, "campaign_assignments", raw_dir / "campaign_assignments.parquet", 0
    ) + sum(
        _write(
            slice_dir,
            "campaign_assignments",
            raw_dir / f"campaign_assignments/2026-01-0{part}.parquet",
            part,
        )
        for part in (1, 2)
    )
    return {table: Planted(rows=count) for table, count in rows.items()}, notes


def _deliver_next_day(slice_dir: Path, raw_dir: Path) -> dict[str, int]:
    """A new Hive partition of events and a new CSV file of email_events,
    new ids; rows written per table."""
    return {
        "events": _write(
            slice_dir,
            "events",
            raw_dir / "Events/day=2026-01-04/part-0.parquet",
            part=0,
            select="* replace (event_id || '-next' as event_id)",
        ),
        "email_events": _write(
            slice_dir,
            "email_events",
            raw_dir / "email_events/day2/Part-4.CSV.GZ",
            part=0,
            select="* replace (email_event_id || '-next' as email_event_id)",
        ),
    }


def exports_build(run_dbt, slice_dir: Path, work: Path) -> tuple[Build, Build]:
    """The exports layout built from scratch, then again incrementally after
    the next day's files arrive."""
    raw_dir = work / "raw"
    planted, notes = _exports_layout(slice_dir, raw_dir)
    db_path = work / "exports.duckdb"
    first = Build(raw_dir, db_path, run_dbt(BUILD_ARGS, raw_dir, db_path, work))
    first.planted, first.notes = planted, notes
    if first.result.returncode != 0:
        return first, first
    # The next build writes to db_path: the first one's tables, as they were.
    first.db_path = work / "exports_first.duckdb"
    shutil.copyfile(db_path, first.db_path)
    before = {table: planted[table].rows for table in planted}
    added = _deliver_next_day(slice_dir, raw_dir)
    second = Build(raw_dir, db_path, run_dbt(BUILD_ARGS, raw_dir, db_path, work))
    second.planted = {
        table: Planted(rows=before[table] + added.get(table, 0)) for table in planted
    }
    second.notes = {"added": added}
    return first, second


def format_var_build(run_dbt, slice_dir: Path, work: Path) -> Build:
    """orders.csv (every row) and Orders.parquet (a third), var
    raw_file_format csv: the CSV file is read."""
    raw_dir = work / "raw"
    _copy_slice(slice_dir, raw_dir, tuple(t for t in RAW_TABLES if t != "orders"))
    rows = _write(slice_dir, "orders", raw_dir / "orders.csv")
    _write(slice_dir, "orders", raw_dir / "Orders.parquet", part=0)
    db_path = work / "format_var.duckdb"
    args = [*BUILD_ARGS, "--vars", "{raw_file_format: csv}"]
    build = Build(raw_dir, db_path, run_dbt(args, raw_dir, db_path, work))
    build.planted = {"orders": Planted(rows=rows)}
    return build


def two_files_build(run_dbt, slice_dir: Path, work: Path) -> Build:
    """Two tables delivered twice, no var: customers.csv and
    CUSTOMERS.parquet, products.csv and products.csv.gz."""
    raw_dir = work / "raw"
    _copy_slice(slice_dir, raw_dir, tuple(t for t in RAW_TABLES if t != "customers"))
    (raw_dir / "products.parquet").unlink()
    _write(slice_dir, "customers", raw_dir / "customers.csv")
    _write(slice_dir, "customers", raw_dir / "CUSTOMERS.parquet")
    _write(slice_dir, "products", raw_dir / "products.csv")
    _write(slice_dir, "products", raw_dir / "products.csv.gz")
    db_path = work / "two_files.duckdb"
    return Build(raw_dir, db_path, run_dbt(BUILD_ARGS, raw_dir, db_path, work))


def damaged_files_build(run_dbt, slice_dir: Path, work: Path) -> Build:
    """A truncated customers.csv.gz; a folder products/ with a good file and
    one whose Parquet footer is damaged."""
    raw_dir = work / "raw"
    _copy_slice(slice_dir, raw_dir, tuple(t for t in RAW_TABLES if t != "customers"))
    (raw_dir / "products.parquet").unlink()
    _write(slice_dir, "customers", raw_dir / "customers.csv.gz")
    _truncate(raw_dir / "customers.csv.gz")
    _write(slice_dir, "products", raw_dir / "products/part-0.parquet", part=0)
    damaged = raw_dir / "products/part-1.parquet"
    _write(slice_dir, "products", damaged, part=1)
    _damage_parquet_footer(damaged)
    db_path = work / "damaged.duckdb"
    return Build(raw_dir, db_path, run_dbt(BUILD_ARGS, raw_dir, db_path, work))


@pytest.fixture(scope="module")
def builds(raw_slice: Path, run_dbt, run_concurrently, tmp_path_factory) -> dict:  # noqa: F811
    """Name -> Build (or the exception its preparation or build raised)."""
    jobs = {
        "exports": exports_build,
        "format_var": format_var_build,
        "two_files": two_files_build,
        "damaged": damaged_files_build,
    }

    def run(name: str):
        try:
            return jobs[name](run_dbt, raw_slice, tmp_path_factory.mktemp(name))
        except Exception as error:  # reported by the tests that use it
            return error

    results = run_concurrently(*(lambda name=name: run(name) for name in jobs))
    return dict(zip(jobs, results, strict=True))


def _build(builds: dict, name: str):
    outcome = builds[name]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _assert_succeeded(build: Build) -> None:
    assert TRACEBACK not in build.output, build.output[-6000:]
    assert build.result.returncode == 0, build.output[-6000:]


def _assert_failed_saying(build: Build, *texts: str) -> None:
    assert build.result.returncode != 0, build.output[-3000:]
    assert TRACEBACK not in build.output, build.output[-6000:]
    flat = " ".join(build.output.split())
    for text in texts:
        assert text in flat, (
            f"the output does not say {text!r}:\n{build.output[-6000:]}"
        )


def test_export_shaped_files_are_all_read(builds: dict) -> None:
    first, _ = _build(builds, "exports")
    _assert_succeeded(first)
    _assert_every_row_accounted(
        SimpleNamespace(name="exports"), first.planted, first.db_path
    )
    with duckdb.connect(str(first.db_path), read_only=True) as connection:
        event_files = connection.execute(
            "select count(distinct _source_file) from base_shop__events"
        ).fetchone()[0]
        assert event_files == first.notes["events_files"]


def test_stray_files_are_named_and_marker_files_skipped(builds: dict) -> None:
    first, _ = _build(builds, "exports")
    _assert_succeeded(first)
    flat = " ".join(first.output.split())
    assert "1 file(s) of the table orders are not read: orders.backup.parquet" in flat
    assert "1 file(s) of the table events are not read: Events/notes.txt" in flat
    for skipped in ("_SUCCESS", ".crc", ".DS_Store", "_temporary"):
        assert skipped not in flat, skipped


def test_partition_key_fills_only_an_absent_contract_column(builds: dict) -> None:
    first, _ = _build(builds, "exports")
    _assert_succeeded(first)
    with duckdb.connect(str(first.db_path), read_only=True) as connection:
        opened = connection.execute(
            "select count(*), count(*) filter (where event_type = 'open') "
            "from base_shop__email_events where _source_file like ?",
            ["%/event_type=open/%"],
        ).fetchone()
        assert opened == (first.notes["opened"], first.notes["opened"])
        from_nobody_folder = connection.execute(
            "select count(*), count(*) filter (where customer_id = 'nobody') "
            "from base_shop__email_events where _source_file like ?",
            ["%/customer_id=nobody/%"],
        ).fetchone()
        assert from_nobody_folder[0] > 0
        assert from_nobody_folder[1] == 0


def test_new_partition_and_new_names_load_incrementally(builds: dict) -> None:
    first, second = _build(builds, "exports")
    _assert_succeeded(first)
    _assert_succeeded(second)
    assert second is not first
    for table, added in second.notes["added"].items():
        assert added > 0
        assert f"{table}: incremental load of 1 new raw file(s)" in second.output
    _assert_every_row_accounted(
        SimpleNamespace(name="exports, next day"), second.planted, second.db_path
    )


def test_raw_file_format_var_picks_one_file_and_logs_the_other(builds: dict) -> None:
    build = _build(builds, "format_var")
    _assert_succeeded(build)
    flat = " ".join(build.output.split())
    assert "orders: reading orders.csv and ignoring Orders.parquet" in flat
    assert "raw_file_format = 'csv'" in flat
    _assert_every_row_accounted(
        SimpleNamespace(name="format_var"), build.planted, build.db_path
    )


def test_two_single_files_of_a_table_stop_the_build(builds: dict) -> None:
    build = _build(builds, "two_files")
    raw_dir = build.raw_dir
    _assert_failed_saying(
        build,
        f"Raw directory {raw_dir} holds more than one file for the table "
        "customers: CUSTOMERS.parquet, customers.csv.",
        f"Raw directory {raw_dir} holds more than one file for the table "
        "products: products.csv, products.csv.gz.",
        "Remove all but one, or set var raw_file_format to 'parquet' or 'csv'",
    )


def test_damaged_files_are_named(builds: dict) -> None:
    build = _build(builds, "damaged")
    raw_dir = build.raw_dir
    _assert_failed_saying(
        build,
        f"Raw file {raw_dir}/customers.csv.gz is not a complete gzip file",
        f"Raw file {raw_dir}/products/part-1.parquet cannot be read as Parquet",
        "Copy or export the file again",
    )
    assert f"{raw_dir}/products/part-0.parquet cannot" not in build.output
    assert os.path.getsize(raw_dir / "products/part-1.parquet") > 0
