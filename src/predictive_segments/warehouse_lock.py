"""dbt-duckdb plugin: a build refuses a warehouse that another process holds.

DuckDB lets one process write a database file; any other process that opens
it, even read-only, fails while it does. Without this plugin a second
`dbt build` on a warehouse in use ends in a long Python traceback around
DuckDB's "Could not set lock on file". With it (profiles.yml `plugins:`) the
build stops before anything runs, with one message that says who holds the
warehouse and what to do.

The check opens the file once and closes it before dbt-duckdb connects, so
it also replays a write-ahead log left by a killed build (DuckDB would on
dbt's connect anyway). Before it, a warehouse whose file name holds a quote
is refused with what to do (check_warehouse_name): dbt-duckdb cannot quote
the database name DuckDB derives from it.
"""

from __future__ import annotations

import os
import re
from typing import Any

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin

LOCK_ERROR_MARKER = "Could not set lock on file"
# Paths that are not a local file: nothing to lock.
_NOT_A_FILE_PREFIXES = (":memory:", "md:", "motherduck:")


_HOLDER = re.compile(
    r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)"
)


class WarehouseInUseError(RuntimeError):
    """Another process holds the warehouse file.

    A RuntimeError: dbt-duckdb reports it as a connection failure (dbt's
    "Database Error" with this message, no traceback).
    """


def in_use_message(path: str, duckdb_message: str) -> str:
    """What to tell the user when `path` is locked (DuckDB's own words kept)."""
    match = _HOLDER.search(duckdb_message)
    holder = f"process {match['pid']}, {match['program']}" if match else duckdb_message
    return (
        f"Another process holds the warehouse {path} ({holder}): most likely "
        "another dbt build, or a client that keeps it open. One process at a "
        "time may open a DuckDB file while it is written, so this build stopped "
        "before running anything and changed nothing. Wait for the other build "
        "to finish (or close the client) and run again; to read while a build "
        "runs, read the serving copy (README, Connect a BI tool)."
    )


def check_not_in_use(path: str) -> None:
    """Raise WarehouseInUseError when another process holds the file at `path`."""
    if not path or path.startswith(_NOT_A_FILE_PREFIXES):
        return
    try:
        probe = duckdb.connect(path, read_only=False)
    except duckdb.IOException as error:
        if LOCK_ERROR_MARKER not in str(error):
            raise
        raise WarehouseInUseError(in_use_message(path, str(error))) from None
    probe.close()


class WarehouseNameError(RuntimeError):
    """The warehouse file's name cannot be a DuckDB database name in dbt-duckdb."""


def check_warehouse_name(path: str) -> None:
    """Raise WarehouseNameError when the file name of `path` holds a quote.

    DuckDB names the database after the file (its stem), and dbt-duckdb's own
    macros (list_schemas, check_schema_exists) write that name between single
    quotes without escaping it: a build into "it's.duckdb" would stop with a
    parser error before anything runs. Folders may hold quotes and spaces.
    """
    if not path or path.startswith(_NOT_A_FILE_PREFIXES):
        return
    name = os.path.basename(path)
    if "'" in name or '"' in name:
        raise WarehouseNameError(
            f"The warehouse file name {name!r} (SEGMENTS_DB={path}) holds a quote: "
            "DuckDB names the database after the file and dbt-duckdb cannot quote "
            "that name. Rename the file (its folder may hold quotes and spaces), "
            "e.g. SEGMENTS_DB="
            + os.path.join(
                os.path.dirname(path), name.replace("'", "").replace('"', "")
            )
            + "."
        )


class Plugin(BasePlugin):
    """Checks the warehouse's name and lock just before dbt-duckdb opens it."""

    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        check_warehouse_name(creds.path)
        check_not_in_use(creds.path)
