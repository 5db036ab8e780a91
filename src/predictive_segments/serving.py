"""Publish what BI tools read to a serving copy that no build ever blocks.

DuckDB lets one process open a database file while it is written: during a
build no reader can open the warehouse, and a dashboard that keeps a
connection to it makes the next build fail. So after a successful build this
module copies the models tagged ``serving`` (dbt_project.yml: every mart,
audiences included) to a second DuckDB file beside the warehouse, and each of
them to Parquet, and readers open those instead::

    warehouse.duckdb                      written by dbt, read by nobody else
    warehouse.serving.duckdb              every served table (views as tables)
    warehouse.serving/<table>/data.parquet  the same tables as files

Both are published atomically. The DuckDB copy is written under a temporary
name in the same directory and renamed over the previous one (``os.replace``):
a reader that has the previous file open keeps reading it (its open file
stays on disk until it closes), a new connection opens the new file, and the
build never waits for a reader. ``warehouse.serving`` is a relative symbolic
link to one complete folder of Parquet files under ``warehouse.serving.versions/``,
replaced the same way; the previous folder is kept until the next publish.
A failed build publishes nothing: ``make build`` and ``make refresh`` publish
only after dbt succeeds, and this module refuses when dbt's run_results.json
records an error, a failed test or a skipped node. A failed publish removes
what it wrote and leaves the previous copy as it was.

After a plain ``dbt build``, run (SEGMENTS_DB, DBT_TARGET_PATH as for dbt)::

    python -m predictive_segments.serving publish

``SEGMENTS_SERVING_DB`` (or ``--serving-db``) moves the serving copy; the
Parquet folder is its path without ``.duckdb``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

SERVING_TAG = "serving"
# Publication metadata, itself served: one row per table of the publication.
PUBLICATION_TABLE = "serving_tables"
PARQUET_FILE = "data.parquet"
# dbt run_results statuses of a build that must not be served.
FAILED_STATUSES = frozenset({"error", "fail", "runtime error", "skipped"})
# Alias of the serving copy inside the publishing connection.
_COPY = "__serving_copy"
_TEMP_MARK = ".tmp-"
_TEMP_NAME = re.compile(re.escape(_TEMP_MARK) + r"(?P<pid>\d+)-[0-9a-f]+$")


class PublishError(RuntimeError):
    """Nothing was published: the message says why and what to do."""


@dataclass(frozen=True)
class ServedTable:
    """A model to publish: its relation in the warehouse, its name when served."""

    name: str
    schema: str
    identifier: str


@dataclass(frozen=True)
class ServingPaths:
    """Where a warehouse's serving copy lives."""

    database: Path
    parquet_dir: Path

    @property
    def versions_dir(self) -> Path:
        """Complete Parquet publications; `parquet_dir` links to the newest."""
        return self.parquet_dir.with_name(self.parquet_dir.name + ".versions")

    @classmethod
    def for_warehouse(
        cls, warehouse: Path, serving_db: Path | None = None
    ) -> ServingPaths:
        """Paths beside `warehouse` (x.duckdb -> x.serving.duckdb, x.serving/),
        or at `serving_db` (its Parquet folder: its path without .duckdb)."""
        if serving_db is None:
            stem = warehouse.name.removesuffix(".duckdb")
            serving_db = warehouse.with_name(f"{stem}.serving.duckdb")
        if serving_db.resolve() == warehouse.resolve():
            raise PublishError(
                f"The serving copy {serving_db} is the warehouse itself: set "
                "SEGMENTS_SERVING_DB to another file (or leave it unset)"
            )
        folder = serving_db.name.removesuffix(".duckdb")
        if folder == serving_db.name:
            folder += ".parquet"
        return cls(database=serving_db, parquet_dir=serving_db.with_name(folder))


@dataclass(frozen=True)
class Publication:
    """What one publish wrote: its id, paths and rows per table."""

    publication_id: str
    paths: ServingPaths
    row_counts: dict[str, int]


def served_tables(manifest: dict, tag: str = SERVING_TAG) -> list[ServedTable]:
    """The enabled models tagged `tag` in dbt's manifest, by name.

    Ephemeral models (no relation) are left out; two served models with the
    same relation name in different schemas would collide in the copy and
    raise PublishError.
    """
    tables: dict[str, ServedTable] = {}
    for node in manifest.get("nodes", {}).values():
        config = node.get("config", {})
        if (
            node.get("resource_type") != "model"
            or tag not in node.get("tags", [])
            or not config.get("enabled", True)
            or config.get("materialized") == "ephemeral"
        ):
            continue
        identifier = node.get("alias") or node["name"]
        if identifier in tables or identifier == PUBLICATION_TABLE:
            raise PublishError(
                f"Two models tagged {tag} are named {identifier}: give one "
                "another alias (the serving copy has one schema)"
            )
        tables[identifier] = ServedTable(identifier, node["schema"], identifier)
    if not tables:
        raise PublishError(
            f"No model in the manifest is tagged {tag}: tag what BI tools read "
            "(dbt_project.yml, models: marts: +tags) and run dbt build"
        )
    return sorted(tables.values(), key=lambda table: table.name)


def check_build_succeeded(run_results: dict) -> None:
    """Raise PublishError when dbt's last run recorded a failure."""
    failed = [
        f"{result.get('unique_id', '?')} ({result.get('status')})"
        for result in run_results.get("results", [])
        if str(result.get("status", "")).lower() in FAILED_STATUSES
    ]
    if failed:
        shown = ", ".join(failed[:5]) + (" ..." if len(failed) > 5 else "")
        raise PublishError(
            f"The last dbt run did not succeed ({len(failed)} failed or skipped: "
            f"{shown}), so nothing was published and readers keep the previous "
            "copy. Fix the build and run it again."
        )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _temp_path(path: Path) -> Path:
    """A name beside `path` that no other publish uses (pid for clean-up)."""
    return path.with_name(
        f"{path.name}{_TEMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_stale_temporaries(paths: ServingPaths) -> list[Path]:
    """Remove what a killed publish left (temporary names of dead processes)."""
    removed = []
    for folder, prefix in (
        (paths.database.parent, paths.database.name),
        (paths.parquet_dir.parent, paths.parquet_dir.name),
        (paths.versions_dir, ""),
    ):
        if not folder.is_dir():
            continue
        for candidate in folder.iterdir():
            if not candidate.name.startswith(prefix):
                continue
            match = _TEMP_NAME.search(candidate.name.removesuffix(".wal"))
            if match and not _pid_alive(int(match["pid"])):
                _remove(candidate)
                removed.append(candidate)
    return removed


def _copy_comments(connection, table: ServedTable) -> None:
    """Carry the table and column descriptions (dbt persist_docs) over."""
    where = "database_name = current_database() and schema_name = ? and "
    target = f"{_COPY}.main.{_quote(table.name)}"
    comment = connection.execute(
        f"select comment from duckdb_tables() where {where} table_name = ?",
        [table.schema, table.identifier],
    ).fetchall()
    if comment and comment[0][0]:
        connection.execute(f"comment on table {target} is {_literal(comment[0][0])}")
    columns = connection.execute(
        f"select column_name, comment from duckdb_columns() where {where} "
        "table_name = ? and comment is not null",
        [table.schema, table.identifier],
    ).fetchall()
    for column, text in columns:
        connection.execute(
            f"comment on column {target}.{_quote(column)} is {_literal(text)}"
        )


def _open_read_only(warehouse: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as error:
        if "Could not set lock" not in str(error):
            raise
        raise PublishError(
            f"Another process writes the warehouse {warehouse} (DuckDB: {error}). "
            "Publish after that build has finished: it publishes by itself when "
            "run by make."
        ) from None


def _write_copy(
    warehouse: Path,
    tables: Sequence[ServedTable],
    database: Path,
    parquet_dir: Path,
    publication_id: str,
) -> dict[str, int]:
    """Write every table to the DuckDB file `database` and to Parquet under
    `parquet_dir`; the rows per table."""
    published_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    counts: dict[str, int] = {}
    with _open_read_only(warehouse) as connection:
        connection.execute(f"attach {_literal(str(database))} as {_COPY} (read_write)")
        existing = {
            (schema, name)
            for schema, name in connection.execute(
                "select schema_name, table_name from duckdb_tables() "
                "where database_name = current_database() union all "
                "select schema_name, view_name from duckdb_views() "
                "where database_name = current_database()"
            ).fetchall()
        }
        missing = [t.name for t in tables if (t.schema, t.identifier) not in existing]
        if missing:
            raise PublishError(
                f"{warehouse} has no {', '.join(missing)}: build them first "
                "(dbt build), then publish"
            )
        for table in tables:
            source = f"{_quote(table.schema)}.{_quote(table.identifier)}"
            connection.execute(
                f"create table {_COPY}.main.{_quote(table.name)} as "
                f"select * from {source}"
            )
            _copy_comments(connection, table)
            (counts[table.name],) = connection.execute(
                f"select count(*) from {_COPY}.main.{_quote(table.name)}"
            ).fetchall()[0]
        connection.execute(
            f"create table {_COPY}.main.{PUBLICATION_TABLE} ("
            "table_name varchar, row_count bigint, publication_id varchar, "
            "published_at timestamp)"
        )
        connection.executemany(
            f"insert into {_COPY}.main.{PUBLICATION_TABLE} values (?, ?, ?, ?)",
            [
                (name, rows, publication_id, published_at)
                for name, rows in counts.items()
            ],
        )
        connection.execute(
            f"comment on table {_COPY}.main.{PUBLICATION_TABLE} is "
            "'One row per table of this serving copy: rows, publication id and "
            "when it was published (UTC) by predictive_segments.serving.'"
        )
        for name in [*counts, PUBLICATION_TABLE]:
            folder = parquet_dir / name
            folder.mkdir(parents=True)
            connection.execute(
                f"copy {_COPY}.main.{_quote(name)} to "
                f"{_literal(str(folder / PARQUET_FILE))} (format parquet)"
            )
        connection.execute(f"checkpoint {_COPY}")
        connection.execute(f"detach {_COPY}")
    return counts


def _swap_link(link: Path, target_name: str) -> None:
    """Point the symbolic link `link` at `target_name` (relative) atomically."""
    if link.exists() and not link.is_symlink():
        raise PublishError(
            f"{link} is a folder, not the link that publish maintains: move it "
            "away and publish again"
        )
    temp = _temp_path(link)
    os.symlink(target_name, temp)
    try:
        os.replace(temp, link)
    except BaseException:
        _remove(temp)
        raise


def _restore_link(link: Path, previous: str | None) -> None:
    """Point `link` back at `previous` (None: remove it): a publish failed."""
    if previous is None:
        _remove(link)
    else:
        _swap_link(link, previous)


def _prune_versions(paths: ServingPaths, keep: Sequence[str]) -> None:
    """Remove Parquet publications other than `keep` (current and previous)."""
    for version in paths.versions_dir.iterdir():
        if version.name not in keep and not _TEMP_NAME.search(version.name):
            _remove(version)


def publish(
    warehouse: Path,
    tables: Sequence[ServedTable],
    paths: ServingPaths,
) -> Publication:
    """Copy `tables` of `warehouse` to the serving copy and its Parquet folder.

    Each is replaced atomically; on any error every temporary file is
    removed, the previous copy is left as it was, and the error is raised.
    """
    if not warehouse.is_file():
        raise PublishError(f"No warehouse at {warehouse}: build it first (make build)")
    paths.database.parent.mkdir(parents=True, exist_ok=True)
    paths.versions_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(paths)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    publication_id = f"{stamp}-{uuid.uuid4().hex[:8]}"
    temp_db = _temp_path(paths.database)
    temp_version = _temp_path(paths.versions_dir / publication_id)
    version = paths.versions_dir / publication_id
    previous = (
        os.readlink(paths.parquet_dir) if paths.parquet_dir.is_symlink() else None
    )
    linked = False
    try:
        counts = _write_copy(warehouse, tables, temp_db, temp_version, publication_id)
        os.replace(temp_version, version)
        _swap_link(
            paths.parquet_dir, os.path.relpath(version, paths.parquet_dir.parent)
        )
        linked = True
        # Last, as the one step that cannot be undone.
        os.replace(temp_db, paths.database)
    except BaseException:
        if linked:
            _restore_link(paths.parquet_dir, previous)
        for leftover in (temp_db, Path(f"{temp_db}.wal"), temp_version, version):
            _remove(leftover)
        raise
    keep = [publication_id] + ([Path(previous).name] if previous else [])
    _prune_versions(paths, keep)
    return Publication(publication_id, paths, counts)


def _path_from(value: str | None, variable: str, base: Path) -> Path | None:
    if not value:
        return None
    if value == ":memory:" or value.startswith(("md:", "motherduck:")):
        raise PublishError(f"{variable}={value} is not a file: nothing to publish")
    path = Path(value)
    return path if path.is_absolute() else base / path


def _read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise PublishError(
            f"No {path} ({what}): run dbt build first, or pass --target-path "
            "(DBT_TARGET_PATH) of the build to publish"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser(
        "publish", help="publish the served tables of the last successful build"
    )
    command.add_argument(
        "--db", help="warehouse file (default: SEGMENTS_DB, else warehouse.duckdb)"
    )
    command.add_argument(
        "--serving-db",
        help="serving copy (default: SEGMENTS_SERVING_DB, else <warehouse>"
        ".serving.duckdb); Parquet in its path without .duckdb",
    )
    command.add_argument(
        "--target-path",
        help="dbt target folder of the build (manifest.json, run_results.json; "
        "default: DBT_TARGET_PATH, else target)",
    )
    command.add_argument("--project-dir", type=Path, default=Path.cwd())
    command.add_argument(
        "--force",
        action="store_true",
        help="publish even when run_results.json records a failure",
    )
    args = parser.parse_args(argv)

    project = args.project_dir
    try:
        warehouse = _path_from(
            args.db or os.environ.get("SEGMENTS_DB") or "warehouse.duckdb",
            "SEGMENTS_DB",
            project,
        )
        serving_db = _path_from(
            args.serving_db or os.environ.get("SEGMENTS_SERVING_DB"),
            "SEGMENTS_SERVING_DB",
            project,
        )
        target = _path_from(
            args.target_path or os.environ.get("DBT_TARGET_PATH") or "target",
            "DBT_TARGET_PATH",
            project,
        )
        if not args.force:
            check_build_succeeded(
                _read_json(target / "run_results.json", "dbt's run results")
            )
        tables = served_tables(_read_json(target / "manifest.json", "dbt's manifest"))
        paths = ServingPaths.for_warehouse(warehouse, serving_db)
        publication = publish(warehouse, tables, paths)
    except PublishError as error:
        print(f"Serving copy not published: {error}", file=sys.stderr)
        return 1
    rows = sum(publication.row_counts.values())
    print(
        f"Serving copy published ({len(publication.row_counts)} tables, {rows} rows, "
        f"publication {publication.publication_id}):\n"
        f"  DuckDB:  {paths.database}  (open it read-only; builds never lock it)\n"
        f"  Parquet: {paths.parquet_dir}/<table>/{PARQUET_FILE}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
