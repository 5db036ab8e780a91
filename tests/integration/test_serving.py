"""BI tools read the serving copy while builds run, and neither blocks the other.

A copy of the CI warehouse (its own file) gets a small build of the served
marts and publishes a serving copy (predictive_segments.serving). Then three
reader processes start and query in a loop until told to stop:

- hold: one read-only connection to the serving file, kept open throughout,
  as a BI tool's connection pool keeps it;
- reconnect: a new read-only connection per query;
- parquet: the Parquet folder, resolving its link once per query;

while two more builds run on the warehouse and publish: a refresh as
`make refresh` runs it (`dbt build --vars '{retrain: false}'`, every data
test) and a build of the served marts. Every build and publish must
succeed, no read may fail, and every read must be consistent within the
publication it saw (the customers of rpt_segment_summary, per summary level,
are the rows of fct_customer_segments, as published).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import sqlalchemy

from predictive_segments import serving

REFRESH_VARS = "{retrain: false}"
# The served marts only, from the copied warehouse's scores: a small build.
MARTS = ["run", "--select", "tag:serving", "--vars", REFRESH_VARS]
REFRESH = ["build", "--vars", REFRESH_VARS]
READER_MODES = ("hold", "reconnect", "parquet")
# Seconds a reader rests between queries (the builds need the two cores).
READER_PAUSE = 0.1
# A reader that never reports means a broken test setup, not a slow build.
READER_START_LIMIT = 120

READER = r"""
import json, os, sys, time, traceback
import duckdb

mode, database, parquet_dir, stop_file, out_file, pause = sys.argv[1:]
CONSISTENCY = '''
    select
        (select min(publication_id) from {serving_tables}) as publication_id,
        (select count(distinct publication_id) from {serving_tables})
            as publications,
        (select row_count from {serving_tables}
            where table_name = 'fct_customer_segments') as published_rows,
        (select count(*) from {fct_customer_segments}) as segmented,
        (select sum(customers) from {rpt_segment_summary}
            where summary_level = 'segment') as by_segment,
        (select sum(customers) from {rpt_segment_summary}
            where summary_level = 'micro_segment') as by_micro_segment
'''
TABLES = ("serving_tables", "fct_customer_segments", "rpt_segment_summary")
COLUMNS = ("publication_id", "publications", "published_rows", "segmented",
           "by_segment", "by_micro_segment")


def read(connection, names):
    (row,) = connection.execute(CONSISTENCY.format(**names)).fetchall()
    return dict(zip(COLUMNS, row))


held = duckdb.connect(database, read_only=True) if mode == "hold" else None
with open(out_file, "a") as out:
    while not os.path.exists(stop_file):
        started = time.time()
        try:
            if mode == "hold":
                row = read(held, {t: t for t in TABLES})
            elif mode == "reconnect":
                with duckdb.connect(database, read_only=True) as connection:
                    row = read(connection, {t: t for t in TABLES})
            else:
                folder = os.path.realpath(parquet_dir)
                names = {
                    t: f"read_parquet('{folder}/{t}/data.parquet')" for t in TABLES
                }
                with duckdb.connect() as connection:
                    row = read(connection, names)
        except Exception:
            row = {"error": traceback.format_exc()}
        row["started"] = started
        out.write(json.dumps(row, default=str) + "\n")
        out.flush()
        time.sleep(float(pause))
if held is not None:
    held.close()
"""


def _publish(db_path: Path, target: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "predictive_segments.serving",
            "publish",
            "--db",
            str(db_path),
            "--target-path",
            str(target),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def _reads(out_file: Path) -> list[dict]:
    if not out_file.exists():
        return []
    return [json.loads(line) for line in out_file.read_text().splitlines()]


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + READER_START_LIMIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no reader report: {what}")
        time.sleep(0.2)


def _serving_builds(run_dbt, ci_db_path, ci_raw_dir, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("serving")
    db_path = work / "shop.duckdb"
    shutil.copyfile(ci_db_path, db_path)
    target = work / "target"
    paths = serving.ServingPaths.for_warehouse(db_path)
    steps = []

    def build_and_publish(args: list[str]) -> None:
        started = time.monotonic()
        result = run_dbt(args, ci_raw_dir, db_path, work)
        built = time.monotonic()
        published = _publish(db_path, target) if result.returncode == 0 else None
        steps.append(
            {
                "args": args,
                "build": result,
                "publish": published,
                "build_seconds": built - started,
                "publish_seconds": time.monotonic() - built,
                "published_at": time.time(),
            }
        )

    build_and_publish(MARTS)
    stop_file = work / "stop"
    out_files = {mode: work / f"reader_{mode}.jsonl" for mode in READER_MODES}
    readers = {
        mode: subprocess.Popen(
            [
                sys.executable,
                "-c",
                READER,
                mode,
                str(paths.database),
                str(paths.parquet_dir),
                str(stop_file),
                str(out_files[mode]),
                str(READER_PAUSE),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode in READER_MODES
    }
    try:
        if steps[0]["publish"] is not None:
            _wait_for(
                lambda: all(_reads(out) for out in out_files.values()),
                "first read",
            )
            build_and_publish(REFRESH)
            build_and_publish(MARTS)
            # The fresh readers are stopped once they have read after the
            # last publish (the held one never will).
            last = steps[-1]["published_at"]
            _wait_for(
                lambda: all(
                    any(read["started"] > last for read in _reads(out_files[mode]))
                    for mode in ("reconnect", "parquet")
                ),
                "read after the last publish",
            )
    finally:
        stop_file.touch()
        stderr = {mode: reader.communicate()[1] for mode, reader in readers.items()}
    return {
        "db_path": db_path,
        "target": target,
        "paths": paths,
        "steps": steps,
        "reads": {mode: _reads(out) for mode, out in out_files.items()},
        "reader_exit": {mode: reader.returncode for mode, reader in readers.items()},
        "reader_stderr": stderr,
    }


BACKGROUND = {"serving_builds": _serving_builds}


@pytest.fixture(scope="module")
def serving_builds(background) -> dict:
    return background.result(_serving_builds)


def _publication_ids(steps: list[dict]) -> list[str]:
    return [
        line.split("publication ")[1].split(")")[0]
        for step in steps
        for line in step["publish"].stdout.splitlines()
        if line.startswith("Serving copy published")
    ]


def test_every_build_and_publish_succeeds(serving_builds):
    steps = serving_builds["steps"]
    assert [step["args"] for step in steps] == [MARTS, REFRESH, MARTS]
    for step in steps:
        build = step["build"]
        assert build.returncode == 0, (build.stdout + build.stderr)[-6000:]
        publish = step["publish"]
        assert publish.returncode == 0, publish.stdout + publish.stderr
        paths = serving_builds["paths"]
        assert str(paths.database) in publish.stdout
        assert str(paths.parquet_dir) in publish.stdout
    assert len(set(_publication_ids(steps))) == len(steps)
    print(
        "\nbuild, publish seconds: "
        + ", ".join(
            f"{' '.join(s['args'][:1])} {s['build_seconds']:.0f}, "
            f"{s['publish_seconds']:.1f}"
            for s in steps
        )
    )


def test_readers_never_fail_and_stay_consistent(serving_builds):
    reads = serving_builds["reads"]
    assert serving_builds["reader_exit"] == dict.fromkeys(READER_MODES, 0), (
        serving_builds["reader_stderr"]
    )
    for mode, rows in reads.items():
        errors = [row["error"] for row in rows if "error" in row]
        assert not errors, f"{mode}: {len(errors)} failed reads, first:\n{errors[0]}"
        assert rows, mode
        for row in rows:
            assert row["publications"] == 1, (mode, row)
            assert row["segmented"] > 0, (mode, row)
            assert (
                row["segmented"]
                == row["published_rows"]
                == row["by_segment"]
                == row["by_micro_segment"]
            ), (mode, row)
    print("\nreads per reader: " + ", ".join(f"{m} {len(r)}" for m, r in reads.items()))


def test_a_held_connection_keeps_its_snapshot_and_new_ones_see_each_publish(
    serving_builds,
):
    ids = _publication_ids(serving_builds["steps"])
    reads = serving_builds["reads"]
    last_publish = serving_builds["steps"][-1]["published_at"]
    held = {row["publication_id"] for row in reads["hold"]}
    assert held == {ids[0]}
    # Held across both later builds and publishes.
    assert max(row["started"] for row in reads["hold"]) > last_publish
    for mode in ("reconnect", "parquet"):
        seen = [row["publication_id"] for row in reads[mode]]
        # In publish order, each publication a contiguous run of reads.
        runs = [
            pid
            for index, pid in enumerate(seen)
            if index == 0 or pid != seen[index - 1]
        ]
        assert runs == ids, mode


def test_the_serving_copy_holds_the_tagged_models_in_duckdb_and_parquet(
    serving_builds,
):
    manifest = json.loads((serving_builds["target"] / "manifest.json").read_text())
    expected = {table.name for table in serving.served_tables(manifest)}
    assert {"dim_audiences", "fct_audience_members", "rpt_segment_summary"} <= expected
    assert all(name.startswith(("dim_", "fct_", "rpt_")) for name in expected)
    paths = serving_builds["paths"]
    with duckdb.connect(str(paths.database), read_only=True) as copy:
        tables = {
            row[0]
            for row in copy.execute("select table_name from duckdb_tables()").fetchall()
        }
        assert tables == {*expected, serving.PUBLICATION_TABLE}
        assert not os.path.isabs(os.readlink(paths.parquet_dir))
        for name in tables:
            parquet = f"read_parquet('{paths.parquet_dir / name / 'data.parquet'}')"
            difference = copy.execute(
                f"select count(*) from ((from {name} except all from {parquet}) "
                f"union all (from {parquet} except all from {name}))"
            ).fetchall()
            assert difference == [(0,)], name
    leftovers = [
        entry.name for entry in paths.database.parent.iterdir() if ".tmp-" in entry.name
    ]
    assert leftovers == []


def test_the_sqlalchemy_recipe_reads_the_serving_copy(serving_builds):
    database = serving_builds["paths"].database
    engine = sqlalchemy.create_engine(
        f"duckdb:///{database.resolve()}", connect_args={"read_only": True}
    )
    try:
        with engine.connect() as connection:
            names = set(sqlalchemy.inspect(connection).get_table_names())
            customers = connection.execute(
                sqlalchemy.text(
                    "select sum(customers) from rpt_segment_summary "
                    "where summary_level = 'segment'"
                )
            ).scalar_one()
            segmented = connection.execute(
                sqlalchemy.text("select count(*) from fct_customer_segments")
            ).scalar_one()
    finally:
        engine.dispose()
    assert {"fct_customer_segments", "rpt_segment_summary"} <= names
    assert customers == segmented > 0
