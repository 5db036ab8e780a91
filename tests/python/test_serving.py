"""The serving copy: what is published, how it is swapped, what a failure leaves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import sqlalchemy

from predictive_segments import serving

SERVED = ("dim_things", "fct_thing_events", "rpt_things")


def _node(name: str, tags: list[str], materialized: str = "table", **extra) -> dict:
    return {
        "resource_type": extra.pop("resource_type", "model"),
        "name": name,
        "alias": name,
        "schema": "main",
        "tags": tags,
        "config": {"enabled": True, "materialized": materialized},
        **extra,
    }


MANIFEST = {
    "nodes": {
        "model.p.dim_things": _node("dim_things", ["marts", "serving"]),
        "model.p.fct_thing_events": _node("fct_thing_events", ["marts", "serving"]),
        # A view: served as a table.
        "model.p.rpt_things": _node("rpt_things", ["serving"], "view"),
        "model.p.stg_things": _node("stg_things", ["staging"], "view"),
        "model.p.int_ephemeral": _node("int_ephemeral", ["serving"], "ephemeral"),
        "test.p.unique_dim_things": _node(
            "unique_dim_things", ["serving"], resource_type="test"
        ),
    }
}


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            """
            create table stg_things as
                select range::varchar as thing_id, range * 1.5 as weight
                from range(40);
            create table dim_things as
                select thing_id, cast(weight as decimal(18, 2)) as weight,
                    range % 3 = 0 as is_round,
                    timestamptz '2024-01-01 00:00:00+00'
                        + to_days(cast(range as integer)) as seen_at
                from stg_things positional join range(40);
            create table fct_thing_events as
                select thing_id, range as event_number
                from dim_things cross join range(3);
            create view rpt_things as
                select is_round, count(*) as things, sum(weight) as weight
                from dim_things group by all;
            comment on table dim_things is 'One row per thing';
            comment on column dim_things.weight is 'Weight in kg';
            """
        )
    return path


def _publish(warehouse: Path, tables=None) -> serving.Publication:
    paths = serving.ServingPaths.for_warehouse(warehouse)
    return serving.publish(warehouse, tables or serving.served_tables(MANIFEST), paths)


def _entries(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


def _served_ids(database: Path) -> set[str]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return {
            row[0]
            for row in connection.execute(
                f"select publication_id from {serving.PUBLICATION_TABLE}"
            ).fetchall()
        }


def _read_in_new_process(database: Path, sql: str) -> list:
    """`sql` on a fresh connection in another process (DuckDB caches one
    database per path and process, so a new connection in this process would
    reuse one still open)."""
    script = (
        "import duckdb, json, sys\n"
        "with duckdb.connect(sys.argv[1], read_only=True) as c:\n"
        "    print(json.dumps(c.execute(sys.argv[2]).fetchall(), default=str))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(database), sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout)


def test_served_tables_are_the_models_tagged_serving():
    names = [table.name for table in serving.served_tables(MANIFEST)]
    assert names == sorted(SERVED)


def test_served_tables_refuse_a_manifest_without_any_and_duplicate_names():
    with pytest.raises(serving.PublishError, match=r"No model .* tagged serving"):
        serving.served_tables({"nodes": {"model.p.a": _node("a", ["marts"])}})
    twin = _node("dim_things", ["serving"], schema="other")
    manifest = {"nodes": {**MANIFEST["nodes"], "model.p.twin": twin}}
    with pytest.raises(serving.PublishError, match=r"Two models .* dim_things"):
        serving.served_tables(manifest)


def test_paths_sit_beside_the_warehouse_unless_overridden(tmp_path: Path):
    paths = serving.ServingPaths.for_warehouse(tmp_path / "warehouse.duckdb")
    assert paths.database == tmp_path / "warehouse.serving.duckdb"
    assert paths.parquet_dir == tmp_path / "warehouse.serving"
    moved = serving.ServingPaths.for_warehouse(
        tmp_path / "warehouse.duckdb", tmp_path / "bi" / "segments.duckdb"
    )
    assert moved.parquet_dir == tmp_path / "bi" / "segments"
    with pytest.raises(serving.PublishError, match="is the warehouse itself"):
        serving.ServingPaths.for_warehouse(tmp_path / "w.duckdb", tmp_path / "w.duckdb")


def test_publish_copies_every_served_table_as_a_table(warehouse: Path):
    publication = _publish(warehouse)
    with duckdb.connect(str(publication.paths.database), read_only=True) as copy:
        tables = {
            row[0]
            for row in copy.execute("select table_name from duckdb_tables()").fetchall()
        }
        views = copy.execute(
            "select count(*) from duckdb_views() where not internal"
        ).fetchall()[0]
        comments = copy.execute(
            "select comment from duckdb_tables() where table_name = 'dim_things' "
            "union all select comment from duckdb_columns() "
            "where table_name = 'dim_things' and column_name = 'weight'"
        ).fetchall()
        counts = dict(
            copy.execute(
                f"select table_name, row_count from {serving.PUBLICATION_TABLE}"
            ).fetchall()
        )
        copied = {
            name: copy.sql(f"from {name} order by all").fetchall() for name in SERVED
        }
    assert tables == {*SERVED, serving.PUBLICATION_TABLE}
    assert views == (0,)
    assert comments == [("One row per thing",), ("Weight in kg",)]
    with duckdb.connect(str(warehouse), read_only=True) as source:
        for name in SERVED:
            rows = source.sql(f"from {name} order by all").fetchall()
            assert copied[name] == rows
            assert counts[name] == len(rows) == publication.row_counts[name]


def test_parquet_equals_the_duckdb_copy_with_relative_paths(warehouse: Path):
    publication = _publish(warehouse)
    paths = publication.paths
    link = os.readlink(paths.parquet_dir)
    assert not os.path.isabs(link)
    assert _entries(paths.parquet_dir) == {*SERVED, serving.PUBLICATION_TABLE}
    with duckdb.connect(str(paths.database), read_only=True) as copy:
        for name in [*SERVED, serving.PUBLICATION_TABLE]:
            folder = paths.parquet_dir / name
            assert _entries(folder) == {serving.PARQUET_FILE}
            parquet = f"read_parquet('{folder / serving.PARQUET_FILE}')"
            assert (
                copy.sql(f"describe {name}").fetchall()
                == copy.sql(f"describe select * from {parquet}").fetchall()
            )
            difference = copy.execute(
                f"select count(*) from ((from {name} except all from {parquet}) "
                f"union all (from {parquet} except all from {name}))"
            ).fetchall()[0]
            assert difference == (0,)
            assert (
                copy.execute(f"select count(*) from {parquet}").fetchall()[0][0]
                == copy.execute(f"select count(*) from {name}").fetchall()[0][0]
            )


def test_publish_swaps_atomically_and_leaves_no_temporary_file(warehouse: Path):
    first = _publish(warehouse)
    paths = first.paths
    beside = {
        "warehouse.duckdb",
        "warehouse.serving.duckdb",
        "warehouse.serving",
        "warehouse.serving.versions",
    }
    assert _entries(warehouse.parent) == beside
    assert _entries(paths.versions_dir) == {first.publication_id}

    # A reader holding the first copy keeps reading it while the next is
    # published; a new connection opens the new one.
    holder = duckdb.connect(str(paths.database), read_only=True)
    with duckdb.connect(str(warehouse)) as writer:
        writer.execute("insert into dim_things select * from dim_things limit 5")
    second = _publish(warehouse)
    third = _publish(warehouse)
    count = "select count(*) from dim_things"
    assert holder.execute(count).fetchall()[0] == (40,)
    assert holder.execute(
        f"select distinct publication_id from {serving.PUBLICATION_TABLE}"
    ).fetchall() == [(first.publication_id,)]
    holder.close()
    assert _read_in_new_process(paths.database, count) == [[45]]
    assert _served_ids(paths.database) == {third.publication_id}

    assert _entries(warehouse.parent) == beside
    # The current Parquet publication and the previous one (for readers that
    # resolved the link just before the swap).
    assert _entries(paths.versions_dir) == {
        second.publication_id,
        third.publication_id,
    }
    assert Path(os.readlink(paths.parquet_dir)).name == third.publication_id


def _assert_previous_publication_intact(warehouse: Path, previous) -> None:
    paths = previous.paths
    assert _served_ids(paths.database) == {previous.publication_id}
    assert Path(os.readlink(paths.parquet_dir)).name == previous.publication_id
    assert _entries(paths.versions_dir) == {previous.publication_id}
    assert _entries(warehouse.parent) == {
        "warehouse.duckdb",
        "warehouse.serving.duckdb",
        "warehouse.serving",
        "warehouse.serving.versions",
    }


def test_failure_while_copying_leaves_the_previous_copy(warehouse: Path):
    previous = _publish(warehouse)
    # rpt_things now fails when read, after dim_things was copied.
    with duckdb.connect(str(warehouse)) as writer:
        writer.execute(
            "create or replace view rpt_things as "
            "select error('rpt_things is broken') as things"
        )
    with pytest.raises(duckdb.Error, match="rpt_things is broken"):
        _publish(warehouse)
    _assert_previous_publication_intact(warehouse, previous)


def test_failure_at_the_last_swap_restores_the_parquet_link(
    warehouse: Path, monkeypatch
):
    previous = _publish(warehouse)
    real_replace = os.replace

    def replace(source, target):
        if Path(target) == previous.paths.database:
            raise OSError("disk full")
        return real_replace(source, target)

    monkeypatch.setattr(serving.os, "replace", replace)
    with pytest.raises(OSError, match="disk full"):
        _publish(warehouse)
    monkeypatch.undo()
    _assert_previous_publication_intact(warehouse, previous)


def test_a_missing_table_publishes_nothing(warehouse: Path):
    tables = [*serving.served_tables(MANIFEST), serving.ServedTable("x", "main", "x")]
    with pytest.raises(serving.PublishError, match="has no x: build them first"):
        _publish(warehouse, tables)
    assert _entries(warehouse.parent) == {
        "warehouse.duckdb",
        "warehouse.serving.versions",
    }
    assert _entries(warehouse.parent / "warehouse.serving.versions") == set()


def test_a_warehouse_being_written_publishes_nothing_and_says_why(warehouse: Path):
    previous = _publish(warehouse)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('open', "
            "flush=True); sys.stdin.read()",
            str(warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "open"
        with pytest.raises(serving.PublishError, match="Another process writes"):
            _publish(warehouse)
    finally:
        writer.communicate("")
    _assert_previous_publication_intact(warehouse, previous)


def test_temporaries_of_a_killed_publish_are_removed(warehouse: Path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    left = warehouse.with_name(f"warehouse.serving.duckdb.tmp-{pid}-0123abcd")
    left.write_bytes(b"partial")
    Path(f"{left}.wal").write_bytes(b"partial")
    live = warehouse.with_name(f"warehouse.serving.duckdb.tmp-{os.getpid()}-0123abcd")
    live.write_bytes(b"another publish at work")
    _publish(warehouse)
    assert not left.exists() and not Path(f"{left}.wal").exists()
    assert live.exists()


@pytest.mark.parametrize(
    ("status", "published"),
    [
        ("success", True),
        ("pass", True),
        ("warn", True),
        ("error", False),
        ("fail", False),
        ("skipped", False),
    ],
)
def test_only_a_successful_build_is_published(
    warehouse, tmp_path, capsys, status, published
):
    target = tmp_path / "target"
    target.mkdir()
    (target / "manifest.json").write_text(json.dumps(MANIFEST))
    results = [
        {"unique_id": "model.p.dim_things", "status": "success"},
        {"unique_id": "test.p.unique_dim_things", "status": status},
    ]
    (target / "run_results.json").write_text(json.dumps({"results": results}))
    code = serving.main(
        ["publish", "--db", str(warehouse), "--target-path", str(target)]
    )
    output = capsys.readouterr()
    serving_db = tmp_path / "warehouse.serving.duckdb"
    assert (code == 0) is published
    assert serving_db.exists() is published
    if published:
        assert str(serving_db) in output.out
        assert f"{tmp_path / 'warehouse.serving'}/<table>/data.parquet" in output.out
    else:
        assert "test.p.unique_dim_things" in output.err
        assert "nothing was published" in output.err


def test_the_sqlalchemy_recipe_reads_and_reconnects_to_the_new_copy(warehouse):
    first = _publish(warehouse)
    # README, Connect a BI tool: duckdb_engine, absolute path, read-only.
    engine = sqlalchemy.create_engine(
        f"duckdb:///{first.paths.database.resolve()}",
        connect_args={"read_only": True},
    )
    query = sqlalchemy.text(
        f"select distinct publication_id from {serving.PUBLICATION_TABLE}"
    )
    with engine.connect() as connection:
        assert set(sqlalchemy.inspect(connection).get_table_names()) == {
            *SERVED,
            serving.PUBLICATION_TABLE,
        }
        assert connection.execute(query).scalar_one() == first.publication_id
        # A pooled connection stays open while the next copy is published...
        second = _publish(warehouse)
        assert connection.execute(query).scalar_one() == first.publication_id
    # ...and a pool recycled (pool_recycle, or dispose) opens the new one.
    engine.dispose()
    with engine.connect() as connection:
        assert connection.execute(query).scalar_one() == second.publication_id
    engine.dispose()
    # With NullPool every query's connection closes: the next publication is
    # read without recycling anything.
    unpooled = sqlalchemy.create_engine(
        f"duckdb:///{first.paths.database.resolve()}",
        connect_args={"read_only": True},
        poolclass=sqlalchemy.pool.NullPool,
    )
    with unpooled.connect() as connection:
        assert connection.execute(query).scalar_one() == second.publication_id
    third = _publish(warehouse)
    with unpooled.connect() as connection:
        assert connection.execute(query).scalar_one() == third.publication_id
