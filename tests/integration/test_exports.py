"""Exports (models/exports): the files equal the marts; each warehouse has its
own; hashed ids when asked, and the salt in no artifact.

The CI build writes its exports to the exports directory of its warehouse:
SEGMENTS_EXPORTS_DIR, else <warehouse stem>.exports/ next to the warehouse
file (macros/marts/exports.sql). The other tests build only the exports into
two copies of the CI warehouse in one folder (export_builds, started with the
session), so the CI files and warehouse are never written by tests. The
README's BI examples run here too.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
README = PROJECT_DIR / "README.md"
BI_SECTION = "## For BI users"
SALT = "test-salt-of-at-least-16-characters"
EXPORTS_ONLY = ["build", "--select", "models/exports"]
EXPORT_FILES = {
    "exp_audience_members": "exp_audience_members.parquet",
    "exp_audience_members_csv": "exp_audience_members.csv",
    "exp_customer_segments": "exp_customer_segments.parquet",
}

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
    """Where a build into `db_path` writes its exports (macros/marts/exports.sql)."""
    value = os.environ.get("SEGMENTS_EXPORTS_DIR")
    directory = Path(value) if value else db_path.with_name(db_path.stem + ".exports")
    return directory if directory.is_absolute() else PROJECT_DIR / directory


def _view_location(connection, view: str) -> Path:
    """The file the warehouse view `view` reads (dbt-duckdb writes it between
    single quotes, a quote in it doubled)."""
    (view_sql,) = connection.execute(
        "select sql from duckdb_views() where view_name = ?", [view]
    ).fetchone()
    (location,) = re.findall(r"read_\w+\('((?:[^']|'')+)'", view_sql)
    return Path(location.replace("''", "'"))


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
        written = _view_location(warehouse, model)
        # Absolute: the view reads its file wherever the warehouse is opened.
        assert written.is_absolute(), (model, written)
        assert written == path.resolve(), (model, written)
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


def _copy_warehouse(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    wal = source.with_name(source.name + ".wal")
    if wal.exists():
        shutil.copy(wal, target.with_name(target.name + ".wal"))
    return target


def _export_builds(
    ci_db_path, ci_raw_dir, run_dbt, run_concurrently, tmp_path_factory
) -> SimpleNamespace:
    """Only the exports, built into two copies of the CI warehouse in one
    folder with the default exports directory: prod.duckdb as is, past.duckdb
    (a past date's warehouse, say) with hashed ids and SALT; and past.duckdb's
    build without the salt, which must stop. The salt is set for dbt's
    environment only (run_dbt's env), never in this process's."""
    folder = tmp_path_factory.mktemp("export_builds")
    builds = SimpleNamespace(folder=folder, results={})
    hashed_args = [*EXPORTS_ONLY, "--vars", "{export_hash_customer_ids: true}"]
    plans = {
        "prod": (EXPORTS_ONLY, {}),
        "past": (hashed_args, {"SEGMENTS_EXPORT_SALT": SALT}),
        "no_salt": (hashed_args, {"SEGMENTS_EXPORT_SALT": None}),
    }
    for name in ("prod", "past"):
        _copy_warehouse(ci_db_path, folder / f"{name}.duckdb")

    def build(name: str) -> None:
        args, env = plans[name]
        db_path = folder / f"{'past' if name == 'no_salt' else name}.duckdb"
        env = {**env, "SEGMENTS_DB": str(db_path), "SEGMENTS_EXPORTS_DIR": None}
        work = tmp_path_factory.mktemp(f"dbt_{name}")
        builds.results[name] = (work, run_dbt(args, ci_raw_dir, db_path, work, env=env))

    # The refused build first: it must stop before writing past's exports.
    build("no_salt")
    run_concurrently(lambda: build("prod"), lambda: build("past"))
    return builds


BACKGROUND = {"export_builds": _export_builds}


@pytest.fixture(scope="module")
def export_builds(background) -> SimpleNamespace:
    builds = background.result(_export_builds)
    for name in ("prod", "past"):
        _, result = builds.results[name]
        assert result.returncode == 0, result.stdout[-4000:]
    return builds


@pytest.fixture(scope="module")
def hashed_exports(export_builds) -> Path:
    return export_builds.folder / "past.exports"


def test_a_build_without_the_salt_stops(export_builds):
    _, refused = export_builds.results["no_salt"]
    assert refused.returncode != 0
    assert "SEGMENTS_EXPORT_SALT" in refused.stdout, refused.stdout[-2000:]


def test_each_warehouse_has_its_own_exports(export_builds):
    folder = export_builds.folder
    assert not (folder / "exports").exists()
    for name, hashed in (("prod", False), ("past", True)):
        directory = folder / f"{name}.exports"
        with duckdb.connect(str(folder / f"{name}.duckdb"), read_only=True) as con:
            # Absolute: the views read their own files wherever the
            # warehouse is opened from.
            for model, file_name in EXPORT_FILES.items():
                location = _view_location(con, model)
                assert location.is_absolute(), (name, model, location)
                assert location == directory.resolve() / file_name, (name, model)
            flags = con.execute(
                "select distinct is_customer_id_hashed from exp_customer_segments"
            ).fetchall()
            rows = con.execute("select count(*) from exp_audience_members").fetchone()
        assert flags == [(hashed,)], name
        assert rows[0] > 0, name
    prod_ids = _ids(folder / "prod.exports" / "exp_customer_segments.parquet")
    past_ids = _ids(folder / "past.exports" / "exp_customer_segments.parquet")
    assert len(prod_ids) == len(past_ids) > 0
    assert not prod_ids & past_ids


def _ids(path: Path) -> set[str]:
    with duckdb.connect() as con:
        return {
            row[0]
            for row in con.execute(
                "select customer_id from read_parquet(?)", [str(path)]
            ).fetchall()
        }


def _files(*roots: Path) -> list[Path]:
    return [path for root in roots for path in root.rglob("*") if path.is_file()]


def test_the_salt_is_in_no_artifact_log_or_export(export_builds, warehouse):
    folder = export_builds.folder
    roots = [folder / "past.exports"]
    for name in ("past", "no_salt"):
        work, _ = export_builds.results[name]
        roots += [work / "target", work / "logs"]
    files = [*_files(*roots), folder / "past.duckdb"]
    secret = SALT.encode()
    forms = {
        "plain": secret,
        "hex": secret.hex().encode(),
        "base64": base64.b64encode(secret),
    }
    found = {
        (str(path), form)
        for path in files
        for form, needle in forms.items()
        if needle in path.read_bytes()
    }
    assert found == set()

    # The search reads what the build wrote: dbt's artifacts and log, the
    # compiled SQL (which names the function that supplies the salt at run
    # time) and the exports (the CSV holds the hashes as text).
    names = {path.name for path in files}
    assert {"manifest.json", "run_results.json", "dbt.log"} <= names
    assert any(
        b"segments_export_salt()" in path.read_bytes()
        for path in files
        if path.suffix == ".sql" and path.name.startswith("exp_")
    )
    (customer_id,) = warehouse.execute(
        "select min(customer_id) from fct_audience_members"
    ).fetchone()
    csv = folder / "past.exports" / "exp_audience_members.csv"
    assert _sha256(customer_id).encode() in csv.read_bytes()


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
    # BI tools and scripts read the serving copy (README, Connect a BI tool),
    # which the CI build publishes beside its warehouse.
    assert "warehouse.serving.duckdb" in example and "read_only=True" in example
    serving = ci_db_path.with_name(f"{ci_db_path.stem}.serving.duckdb")
    assert serving.exists()
    # The block sits in a list item: its lines are indented.
    code = textwrap.dedent(example).replace("warehouse.serving.duckdb", str(serving))
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
        sql = example.replace("'warehouse.exports/", f"'{exports}/")
        warehouse.execute(sql).fetchall()
