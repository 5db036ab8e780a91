"""dbt-duckdb plugin: a damaged raw file stops staging with a message naming it.

DuckDB reports a Parquet file with a damaged footer as "don't know what
type:" without naming the file, and reads a truncated .csv.zst file up to
where it was cut without a word. With this plugin (profiles.yml `plugins:`)
every DuckDB connection of a build has the SQL function
`raw_file_problem(path)`: null for a file that can be read, otherwise a
message that names the file and says what to do. The macro raw_table
(macros/raw/raw_table.sql) calls it on every raw file before reading it and
stops the build with the message.

The check is cheap where it can be: a Parquet file is checked by reading its
footer (the schema and row group list, a few kilobytes), not its rows; a
compressed CSV file (.csv.gz, .csv.zst) is decompressed once to its end
without being parsed, because only its end shows whether it is complete.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from dbt.adapters.duckdb.plugins import BasePlugin

FUNCTION_NAME = "raw_file_problem"
# Compressed CSV files by their (lowercase) extension: pyarrow's codec name.
COMPRESSED_CSV = {".csv.gz": "gzip", ".csv.zst": "zstd"}
_CHUNK_BYTES = 4 << 20
_WHAT_TO_DO = (
    "Copy or export the file again (or remove it if it does not belong to the "
    "table); see docs/raw_contract.md."
)


def _one_line(error: BaseException) -> str:
    """The error's text on one line, without the control bytes that a thrift
    error copies from the damaged file."""
    printable = "".join(c if c.isprintable() else " " for c in str(error))
    text = " ".join(printable.split()).rstrip(":. ")
    return text or type(error).__name__


def parquet_problem(path: str) -> str | None:
    """The message for a Parquet file whose footer cannot be read, or None."""
    try:
        pq.ParquetFile(path).metadata  # noqa: B018 - reading it is the check
    except (OSError, ValueError, pa.ArrowException) as error:
        return (
            f"Raw file {path} cannot be read as Parquet ({_one_line(error)}): "
            "it is damaged or not a Parquet file, most often cut short by an "
            "interrupted copy or download, or copied while it was still being "
            f"written. {_WHAT_TO_DO}"
        )
    return None


def compressed_csv_problem(path: str, codec: str) -> str | None:
    """The message for a compressed CSV file that does not decompress to its
    end (truncated or damaged), or None."""
    try:
        with pa.input_stream(path, compression=codec) as stream:
            while stream.read(_CHUNK_BYTES):
                pass
    except (OSError, ValueError, pa.ArrowException) as error:
        return (
            f"Raw file {path} is not a complete {codec} file ({_one_line(error)}): "
            "it was most often cut short by an interrupted copy or download, "
            f"or copied while it was still being written. {_WHAT_TO_DO}"
        )
    return None


def raw_file_problem(path: str | None) -> str | None:
    """What is wrong with the raw file at `path`, as a message for the user
    that names the file and says what to do; None when it can be read (or is
    not this check's business: a missing or empty file, a plain CSV file,
    which raw_table and DuckDB report themselves)."""
    if not path:
        return None
    try:
        if os.path.getsize(path) == 0:
            return None
    except OSError:
        return None
    name = path.lower()
    if name.endswith(".parquet"):
        return parquet_problem(path)
    for extension, codec in COMPRESSED_CSV.items():
        if name.endswith(extension):
            return compressed_csv_problem(path, codec)
    return None


class Plugin(BasePlugin):
    """Registers raw_file_problem(path) on every connection of the build."""

    def configure_connection(self, conn: Any) -> None:
        conn.create_function(
            FUNCTION_NAME,
            raw_file_problem,
            ["VARCHAR"],
            "VARCHAR",
            # It returns null for a good file, which DuckDB's default null
            # handling refuses.
            null_handling="special",
            side_effects=True,
        )
