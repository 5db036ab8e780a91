"""raw_file_check: damaged raw files are named, good ones pass, cheaply."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from predictive_segments.raw_file_check import (
    FUNCTION_NAME,
    Plugin,
    raw_file_problem,
)

ROWS = 5_000


def _table() -> pa.Table:
    return pa.table(
        {
            "order_id": [f"O{i}" for i in range(ROWS)],
            "amount": [float(i) for i in range(ROWS)],
        }
    )


def _csv_bytes() -> bytes:
    lines = ["order_id,amount"] + [f"O{i},{i}.5" for i in range(ROWS)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def parquet_file(tmp_path: Path) -> Path:
    path = tmp_path / "orders.parquet"
    pq.write_table(_table(), path)
    return path


def _compressed(tmp_path: Path, name: str, codec: str) -> Path:
    path = tmp_path / name
    with pa.output_stream(path, compression=codec) as stream:
        stream.write(_csv_bytes())
    return path


def _cut(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def test_good_files_have_no_problem(tmp_path: Path, parquet_file: Path) -> None:
    plain = tmp_path / "orders.csv"
    plain.write_bytes(_csv_bytes())
    multi_member = tmp_path / "part-1.csv.gz"
    multi_member.write_bytes(gzip.compress(b"order_id\nO1\n") + gzip.compress(b"O2\n"))
    for path in (
        parquet_file,
        plain,
        multi_member,
        _compressed(tmp_path, "orders.csv.gz", "gzip"),
        _compressed(tmp_path, "ORDERS.CSV.GZ", "gzip"),
        _compressed(tmp_path, "orders.csv.zst", "zstd"),
    ):
        assert raw_file_problem(str(path)) is None, path


def test_missing_empty_and_null_are_left_to_raw_table(tmp_path: Path) -> None:
    empty = tmp_path / "orders.parquet"
    empty.write_bytes(b"")
    assert raw_file_problem(str(empty)) is None
    assert raw_file_problem(str(tmp_path / "absent.parquet")) is None
    assert raw_file_problem(None) is None


@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_truncated_parquet_is_named(parquet_file: Path, keep: float) -> None:
    _cut(parquet_file, keep)
    problem = raw_file_problem(str(parquet_file))
    assert problem is not None
    assert problem.startswith(f"Raw file {parquet_file} cannot be read as Parquet (")
    assert "Copy or export the file again" in problem


def test_damaged_footer_message_is_one_printable_line(parquet_file: Path) -> None:
    data = bytearray(parquet_file.read_bytes())
    footer_length = int.from_bytes(data[-8:-4], "little")
    data[-8 - footer_length : -8] = b"\xff" * footer_length
    parquet_file.write_bytes(bytes(data))
    problem = raw_file_problem(str(parquet_file))
    assert problem is not None
    assert f"Raw file {parquet_file} cannot be read as Parquet" in problem
    assert problem.isprintable()


def test_text_named_parquet_is_named(tmp_path: Path) -> None:
    path = tmp_path / "Orders.Parquet"
    path.write_text("order_id,amount\nO1,2\n")
    problem = raw_file_problem(str(path))
    assert problem is not None and "not a Parquet file" in problem


@pytest.mark.parametrize(
    ("name", "codec"), [("orders.csv.gz", "gzip"), ("orders.csv.zst", "zstd")]
)
def test_truncated_compressed_csv_is_named(
    tmp_path: Path, name: str, codec: str
) -> None:
    path = _cut(_compressed(tmp_path, name, codec))
    problem = raw_file_problem(str(path))
    assert problem is not None
    assert problem.startswith(f"Raw file {path} is not a complete {codec} file (")


def test_plain_text_named_gz_is_named(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(_csv_bytes())
    problem = raw_file_problem(str(path))
    assert problem is not None and "is not a complete gzip file" in problem


def test_plugin_registers_the_sql_function(tmp_path: Path, parquet_file: Path) -> None:
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(parquet_file.read_bytes()[:100])
    connection = duckdb.connect()
    try:
        Plugin("raw_file_check", {}).configure_connection(connection)
        rows = connection.execute(
            f"select {FUNCTION_NAME}(path) from unnest(?) as paths (path)",
            [[str(parquet_file), str(damaged), None]],
        ).fetchall()
    finally:
        connection.close()
    assert rows[0] == (None,)
    assert rows[1][0].startswith(f"Raw file {damaged} cannot be read as Parquet")
    assert rows[2] == (None,)
