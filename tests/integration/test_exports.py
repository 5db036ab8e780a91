"""Exports (models/exports): the files equal the marts; hashed ids when asked.

The CI build writes its exports to var exports_dir: SEGMENTS_EXPORTS_DIR, else
exports/ next to the warehouse file (dbt_project.yml). The hashing test builds
only the exports into a copy of the CI warehouse, so the CI files and
warehouse are never written by tests. The README's BI examples run here too.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
README = PROJECT_DIR / "README.md"
BI_SECTION = "## For BI users"
SALT = "test-salt-of-at-least-16-characters"

AUDIENCE_COLUMNS = [
    "audience_id",
    "customer_id",
    "audience_name",
    "is_customer_id_hashed",
    "as_of_date",
]
AUDIENCE_TYPES = {
    "audience_id": "varchar",
    "customer_id": "varchar",
    "audience_name": "varchar",
    "is_customer_id_hashed": "boolean",
    "as_of_date": "date",
}
# The audience export as the marts give it, ids not hashed.
AUDIENCES_FROM_MARTS = """
    select
        members.audience_id,
        members.customer_id,
        audiences.audience_name,
        false as is_customer_id_hashed,
        members.as_of_date
    from fct_audience_members as members
    inner join dim_audiences as audiences
        on members.audience_id = audiences.audience_id
"""


def _exports_dir(db_path: Path) -> Path:
    """Where a build into `db_path` writes its exports (dbt_project.yml)."""
    value = os.environ.get("SEGMENTS_EXPORTS_DIR")
    directory = Path(value) if value else db_path.parent / "exports"
    return directory if directory.is_absolute() else PROJECT_DIR / directory


@pytest.fixture(scope="session")
def ci_exports(ci_db_path, warehouse) -> dict[str, Path]:
    """The CI build's export files by model, checked against the warehouse views."""
    directory = _exports_dir(ci_db_path)
    files = {
        "exp_audience_members": directory / "exp_audience_members.parquet",
        "exp_audience_members_csv": directory / "exp_audience_members.csv",
        "exp_customer_segments": directory / "exp_customer_segments.parquet",
    }
    for model, path in files.items():
        assert path.is_file(), f"{path} not found: run `make ci-build`"
        (view_sql,) = warehouse.execute(
            "select sql from duckdb_views() where view_name = ?", [model]
        ).fetchone()
        (location,) = re.findall(r"read_\w+\('([^']+)'", view_sql)
        written = Path(location)
        if not written.is_absolute():
            written = PROJECT_DIR / written
        assert written.resolve() == path.resolve(), (model, view_sql)
    return files


def _read(path: Path) -> str:
    """SQL reading an export file as a BI tool would, typed as documented."""
    if path.suffix == ".csv":
        columns = ", ".join(f"'{k}': '{v}'" for k, v in AUDIENCE_TYPES.items())
        return f"read_csv('{path}', header = true, columns = {{{columns}}})"
    return f"read_parquet('{path}')"


def _difference(warehouse, left: str, right: str) -> tuple[int, int]:
    """Rows of `left` not in `right` and of `right` not in `left` (bags)."""
    return warehouse.execute(
        f"select (select count(*) from ({left} except all {right})), "
        f"(select count(*) from ({right} except all {left}))"
    ).fetchone()


@pytest.mark.parametrize("model", ["exp_audience_members", "exp_audience_members_csv"])
def test_audience_export_equals_the_marts(warehouse, ci_exports, model):
    path = ci_exports[model]
    columns = ", ".join(AUDIENCE_COLUMNS)
    exported = f"select {columns} from {_read(path)}"
    expected = f"select {columns} from ({AUDIENCES_FROM_MARTS})"

    (mart_rows,) = warehouse.execute(f"select count(*) from ({expected})").fetchone()
    (file_rows,) = warehouse.execute(f"select count(*) from ({exported})").fetchone()
    assert mart_rows > 0, "no audience members in the CI warehouse: nothing checked"
    assert file_rows == mart_rows
    assert _difference(warehouse, exported, expected) == (0, 0)


def test_segment_export_equals_fct_customer_segments(warehouse, ci_exports):
    path = ci_exports["exp_customer_segments"]
    mart_columns = [
        row[0] for row in warehouse.execute("describe fct_customer_segments").fetchall()
    ]
    file_columns = [
        row[0]
        for row in warehouse.execute(f"describe select * from {_read(path)}").fetchall()
    ]
    assert file_columns == [*mart_columns[:-1], "is_customer_id_hashed", "as_of_date"]

    columns = ", ".join(mart_columns)
    exported = f"select {columns} from {_read(path)}"
    expected = f"select {columns} from fct_customer_segments"
    assert _difference(warehouse, exported, expected) == (0, 0)
    (rows, hashed) = warehouse.execute(
        f"select count(*), count(*) filter (where is_customer_id_hashed) "
        f"from {_read(path)}"
    ).fetchone()
    assert (
        rows
        == warehouse.execute("select count(*) from fct_customer_segments").fetchone()[0]
    )
    assert hashed == 0


def _sha256(customer_id: str) -> str:
    return hashlib.sha256(f"{SALT}:{customer_id}".encode()).hexdigest()


@pytest.fixture(scope="module")
def hashed_exports(ci_db_path, ci_raw_dir, run_dbt, tmp_path_factory) -> Path:
    """Build only the exports, hashed, into a copy of the CI warehouse."""
    work = tmp_path_factory.mktemp("hashed_exports")
    db_path = work / "ci.duckdb"
    shutil.copy(ci_db_path, db_path)
    wal = ci_db_path.with_name(ci_db_path.name + ".wal")
    if wal.exists():
        shutil.copy(wal, work / "ci.duckdb.wal")
    exports = work / "exports"
    args = [
        "build",
        "--select",
        "models/exports",
        "--vars",
        f"{{export_hash_customer_ids: true, exports_dir: '{exports}'}}",
    ]

    # Builds may run in other threads: set the salt for dbt's environment
    # only (run_dbt's env), never in this process's.
    unsalted = {"SEGMENTS_EXPORT_SALT": None}
    refused = run_dbt(args, ci_raw_dir, db_path, work / "no_salt", env=unsalted)
    salted = {"SEGMENTS_EXPORT_SALT": SALT}
    result = run_dbt(args, ci_raw_dir, db_path, work / "hashed", env=salted)
    assert refused.returncode != 0
    assert "SEGMENTS_EXPORT_SALT" in refused.stdout, refused.stdout[-2000:]
    assert result.returncode == 0, result.stdout[-4000:]
    return exports


def test_hashed_ids_are_the_salted_sha256_of_the_raw_ids(warehouse, hashed_exports):
    raw = warehouse.execute(
        "select customer_id, segment_id from fct_customer_segments"
    ).fetchall()
    hashed = warehouse.execute(
        "select customer_id, segment_id, is_customer_id_hashed "
        f"from read_parquet('{hashed_exports / 'exp_customer_segments.parquet'}')"
    ).fetchall()

    # Deterministic: a fixed function of the salt and the id, in every build.
    assert sorted((_sha256(c), s, True) for c, s in raw) == sorted(hashed)
    assert not {c for c, _ in raw} & {c for c, _, _ in hashed}
    assert all(re.fullmatch(r"[0-9a-f]{64}", c) for c, _, _ in hashed)


@pytest.mark.parametrize(
    "file_name", ["exp_audience_members.parquet", "exp_audience_members.csv"]
)
def test_hashed_audience_export_hides_the_raw_ids(warehouse, hashed_exports, file_name):
    raw = warehouse.execute(
        "select audience_id, customer_id from fct_audience_members"
    ).fetchall()
    hashed = warehouse.execute(
        "select audience_id, customer_id, is_customer_id_hashed "
        f"from {_read(hashed_exports / file_name)}"
    ).fetchall()

    assert sorted((a, _sha256(c), True) for a, c in raw) == sorted(hashed)
    assert not {c for _, c in raw} & {c for _, c, _ in hashed}


def _bi_section() -> str:
    text = README.read_text(encoding="utf-8")
    assert BI_SECTION in text, f"README.md has no section {BI_SECTION!r}"
    section = text.split(BI_SECTION, 1)[1]
    return re.split(r"\n## ", section, maxsplit=1)[0]


def _code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _bi_section(), flags=re.DOTALL)


def test_readme_python_example_runs_on_a_plain_duckdb_client(ci_db_path, ci_exports):
    (example,) = _code_blocks("python")
    assert "warehouse.duckdb" in example and "read_only=True" in example
    code = example.replace("warehouse.duckdb", str(ci_db_path))
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip()


def test_readme_sql_examples_run_on_the_warehouse(warehouse, ci_db_path, ci_exports):
    examples = _code_blocks("sql")
    assert len(examples) >= 5
    exports = _exports_dir(ci_db_path)
    for example in examples:
        sql = example.replace("'exports/", f"'{exports}/")
        warehouse.execute(sql).fetchall()
