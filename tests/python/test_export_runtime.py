"""export_runtime: DuckDB reads the export salt and absolute paths at run time."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb
import pytest

from predictive_segments.export_runtime import (
    ABSOLUTE_PATH_FUNCTION,
    MIN_SALT_LENGTH,
    SALT_FUNCTION,
    SALT_PROBLEM_FUNCTION,
    SALT_VARIABLE,
    Plugin,
    salt_problem,
)

SALT = "a-salt-for-the-unit-tests-0123456789"


@pytest.fixture
def connection():
    con = duckdb.connect()
    Plugin("export_runtime", {}).configure_connection(con)
    yield con
    con.close()


def test_the_salt_hashes_as_sha256_of_salt_colon_id(connection, monkeypatch):
    monkeypatch.setenv(SALT_VARIABLE, SALT)
    ids = ["C1", "c-2", "it's 3"]
    rows = connection.execute(
        f"select customer_id, sha256({SALT_FUNCTION}() || ':' || customer_id), "
        f"{SALT_PROBLEM_FUNCTION}() from unnest(?) as ids (customer_id)",
        [ids],
    ).fetchall()
    expected = [
        (i, hashlib.sha256(f"{SALT}:{i}".encode()).hexdigest(), None) for i in ids
    ]
    assert sorted(rows) == sorted(expected)


@pytest.mark.parametrize("salt", [None, "", "x" * (MIN_SALT_LENGTH - 1)])
def test_a_missing_or_short_salt_is_refused_without_showing_it(
    connection, monkeypatch, salt
):
    if salt is None:
        monkeypatch.delenv(SALT_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(SALT_VARIABLE, salt)
    (problem,) = connection.execute(f"select {SALT_PROBLEM_FUNCTION}()").fetchone()
    assert problem is not None and SALT_VARIABLE in problem
    if salt:
        assert salt not in problem
    with pytest.raises(duckdb.Error, match=SALT_VARIABLE):
        connection.execute(f"select {SALT_FUNCTION}()").fetchall()


def test_a_long_enough_salt_has_no_problem():
    assert salt_problem("x" * MIN_SALT_LENGTH) is None


def test_paths_are_made_absolute_against_the_working_directory(connection):
    rows = connection.execute(
        f"select {ABSOLUTE_PATH_FUNCTION}(p) from unnest(?) as paths (p)",
        [["exports", "/tmp/it's here/../x", None]],
    ).fetchall()
    assert rows == [
        (str(Path(os.getcwd()) / "exports"),),
        ("/tmp/x",),
        (None,),
    ]
