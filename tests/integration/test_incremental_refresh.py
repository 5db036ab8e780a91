"""Daily refresh: incremental staging equals a full rebuild.

One scenario on the CI data, with events and email_events delivered as
directories of daily files (docs/raw_contract.md), in the order a module
fixture runs it:

1. day 1: the files received before the last day of the data; warehouse A
   is built at as_of_date = that last day, training the models;
2. B is a copy of A. Day 2 arrives: one new file per event table, holding the
   last day's rows plus planted rows that test the incremental logic (exact
   copies of old events, later versions of old event ids, a copy of an old
   e-mail event), and the customers file now marks one customer with many
   old events as a test account;
3. A is refreshed: `dbt build` (with every data test) at the day after the
   last day (the default as_of_date, so the features read the last day's
   rows), var retrain false, so the base tables read only the new files;
4. B is rebuilt from scratch on the same files: `dbt build --full-refresh`,
   same vars.

Every staging, intermediate, feature, score, mart and export relation of A
must equal B's, except the columns marked `meta: {run_metadata: true}`
(load times, run ids). Then a day-1 file is rewritten in place: the next
incremental build of A must reload the table and again equal a full rebuild.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
from test_reliability import (
    compared_models,
    copy_warehouse,
    differences,
    fingerprints,
)

EVENT_TABLES = ("events", "email_events")
# Models not compared: negative-test fixtures (they hold planted failures).
SKIPPED_FOLDERS = ("models/fixtures/",)
PLANTED_COPIES = 3
PLANTED_CONFLICTS = 3
RELOAD_SELECTION = (
    "base_shop__events",
    "stg_shop__events",
    "int_sessions",
    "int_events_sessionized",
)


@dataclass
class Scenario:
    raw_dir: Path
    as_of_date: dt.date
    test_account_customer: str
    conflict_ids: list[str]
    copy_ids: list[str]
    last_day_rows: int
    outputs: dict[str, str] = field(default_factory=dict)
    refreshed: dict[str, dict] = field(default_factory=dict)
    rebuilt: dict[str, dict] = field(default_factory=dict)
    reloaded: dict[str, dict] = field(default_factory=dict)
    rebuilt_after_rewrite: dict[str, dict] = field(default_factory=dict)
    loads_before_refresh: dict[str, int] = field(default_factory=dict)
    rows_loaded_by_refresh: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    copies: list[tuple] = field(default_factory=list)
    conflicts: list[tuple] = field(default_factory=list)
    test_account_rows: tuple = ()


def is_built_model(node: dict) -> bool:
    """Every model but the negative fixtures."""
    return not node["original_file_path"].startswith(SKIPPED_FOLDERS)


def split_raw_data(ci_raw_dir: Path, raw_dir: Path, day: dt.date) -> None:
    """Day-1 raw data: every file but the event tables as is; the event
    tables as a directory with the rows received before `day`."""
    raw_dir.mkdir(parents=True)
    for path in ci_raw_dir.glob("*.parquet"):
        if path.stem not in EVENT_TABLES:
            shutil.copy(path, raw_dir / path.name)
    with duckdb.connect() as db:
        for table, time in (
            ("events", "coalesce(received_at, occurred_at)"),
            ("email_events", "occurred_at"),
        ):
            (raw_dir / table).mkdir()
            db.execute(
                f"copy (select * from read_parquet('{ci_raw_dir / table}.parquet') "
                f"where {time} < date '{day}' or {time} is null) "
                f"to '{raw_dir / table / 'part-000.parquet'}'"
            )


def deliver_day_two(ci_raw_dir: Path, raw_dir: Path, day: dt.date) -> dict:
    """Day-2 files, with planted rows; returns what was planted."""
    events = f"read_parquet('{ci_raw_dir / 'events.parquet'}')"
    emails = f"read_parquet('{ci_raw_dir / 'email_events.parquet'}')"
    old = f"coalesce(received_at, occurred_at) < date '{day}' - 10"
    with duckdb.connect() as db:
        copies = f"""
            select * from {events}
            where {old} and event_id is not null and customer_id is not null
            order by event_id limit {PLANTED_COPIES}"""
        conflicts = f"""
            select * replace (
                occurred_at + interval 1 minute as occurred_at,
                'checkout' as event_type
            )
            from {events}
            where {old} and event_id is not null and event_type <> 'checkout'
                and customer_id is not null
            order by event_id desc limit {PLANTED_CONFLICTS}"""
        copy_ids = [
            r[0] for r in db.execute(f"select event_id from ({copies})").fetchall()
        ]
        conflict_ids = [
            r[0] for r in db.execute(f"select event_id from ({conflicts})").fetchall()
        ]
        db.execute(
            f"""copy (
                select * from {events}
                where coalesce(received_at, occurred_at) >= date '{day}'
                union all select * from ({copies})
                union all select * from ({conflicts})
            ) to '{raw_dir / "events" / "part-001.parquet"}'"""
        )
        db.execute(
            f"""copy (
                select * from {emails} where occurred_at >= date '{day}'
                union all (
                    select * from {emails}
                    where occurred_at < date '{day}' - 10
                    order by email_event_id limit 2
                )
            ) to '{raw_dir / "email_events" / "part-001.parquet"}'"""
        )
        (customer,) = db.execute(
            f"""select customer_id from {events}
            where {old} and customer_id is not null
            group by customer_id order by count(*) desc, customer_id limit 1"""
        ).fetchone()
        customers = raw_dir / "customers.parquet"
        db.execute(
            f"""copy (
                select * replace (
                    case when customer_id = '{customer}' then 'example.com'
                    else email_domain end as email_domain
                )
                from read_parquet('{ci_raw_dir / "customers.parquet"}')
            ) to '{customers}'"""
        )
        (last_day_rows,) = db.execute(
            f"select count(*) from {events} "
            f"where coalesce(received_at, occurred_at) >= date '{day}'"
        ).fetchone()
    return {
        "test_account_customer": customer,
        "copy_ids": copy_ids,
        "conflict_ids": conflict_ids,
        "last_day_rows": last_day_rows,
    }


def loads(db_path: Path) -> dict[str, int]:
    """Rows per _loaded_at in base_shop__events, newest last."""
    with duckdb.connect(str(db_path), read_only=True) as db:
        return dict(
            db.execute(
                "select cast(_loaded_at as varchar), count(*) from base_shop__events "
                "group by 1 order by 1"
            ).fetchall()
        )


def _scenario(ci_raw_dir: Path, ci_db_path: Path, run_dbt, tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    raw_dir = root / "raw"
    # The CI warehouse's as_of_date is the default one, the day after the
    # last order day: that last day is day 2.
    with duckdb.connect(str(ci_db_path), read_only=True) as warehouse:
        (as_of,) = warehouse.execute(
            "select max(as_of_date) from fct_customer_scores"
        ).fetchone()
    day = as_of - dt.timedelta(1)
    split_raw_data(ci_raw_dir, raw_dir, day)
    a, b = root / "a" / "warehouse.duckdb", root / "b" / "warehouse.duckdb"

    def build(db: Path, name: str, *args: str, as_of: dt.date, retrain: bool) -> str:
        dbt_vars = {"as_of_date": as_of.isoformat(), "retrain": retrain}
        result = run_dbt(
            ["build", "--vars", json.dumps(dbt_vars), *args], raw_dir, db, db.parent
        )
        output = result.stdout + result.stderr
        if result.returncode != 0:
            pytest.fail(f"build {name} failed:\n{output[-6000:]}")
        return output

    # 1. Day 1, with training.
    build(
        a,
        "day 1",
        "--exclude",
        "resource_type:test",
        as_of=day,
        retrain=True,
    )
    copy_warehouse(a, b)
    planted = deliver_day_two(ci_raw_dir, raw_dir, day)
    seen = Scenario(raw_dir=raw_dir, as_of_date=as_of, **planted)
    seen.loads_before_refresh = loads(a)

    # 2. The refresh of A, with every data test; 3. B from scratch.
    seen.outputs["refresh"] = build(a, "refresh", as_of=as_of, retrain=False)
    after = loads(a)
    seen.rows_loaded_by_refresh = {
        k: v for k, v in after.items() if k not in seen.loads_before_refresh
    }
    seen.outputs["full"] = build(
        b,
        "full refresh",
        "--full-refresh",
        "--exclude",
        "resource_type:test",
        as_of=as_of,
        retrain=False,
    )
    manifest = json.loads((b.parent / "target" / "manifest.json").read_text())
    models = compared_models(manifest, keep=is_built_model)
    seen.refreshed = fingerprints(a, models, ignore_metadata=True)
    seen.rebuilt = fingerprints(b, models, ignore_metadata=True)
    with duckdb.connect(str(a), read_only=True) as db:
        for table in ("base_shop__events", "base_shop__email_events"):
            (seen.rows[table],) = db.execute(f"select count(*) from {table}").fetchone()
        seen.copies = db.execute(
            "select event_id, list(_row_status order by _row_status) from "
            "base_shop__events where event_id in ? group by 1",
            [seen.copy_ids],
        ).fetchall()
        seen.conflicts = db.execute(
            "select event_id, event_type from stg_shop__events where event_id in ?",
            [seen.conflict_ids],
        ).fetchall()
        seen.test_account_rows = db.execute(
            "select count(*) filter (_row_status = 'staged'), "
            "count(*) filter (_quarantine_reason = 'test_account') "
            "from base_shop__events where customer_id = ?",
            [seen.test_account_customer],
        ).fetchone()

    # 4. A day-1 file rewritten in place (a loader re-exported it without its
    # first rows): the incremental build must reload, B rebuilds.
    part = raw_dir / "events" / "part-000.parquet"
    with duckdb.connect() as db:
        db.execute(
            f"copy (select * from read_parquet('{part}') offset 100) "
            f"to '{part}.new' (format parquet)"
        )
    Path(f"{part}.new").replace(part)
    # The event tables and what sessionizes them: the rest was compared above.
    selection = ["--select", *RELOAD_SELECTION, "--exclude", "resource_type:test"]
    seen.outputs["reload"] = build(a, "reload", *selection, as_of=as_of, retrain=False)
    build(
        b,
        "rebuild after rewrite",
        "--full-refresh",
        *selection,
        as_of=as_of,
        retrain=False,
    )
    reload_models = {name: models[name] for name in RELOAD_SELECTION}
    seen.reloaded = fingerprints(a, reload_models, ignore_metadata=True)
    seen.rebuilt_after_rewrite = fingerprints(b, reload_models, ignore_metadata=True)
    return seen


# Three builds: they start with the test session (conftest.Background).
BACKGROUND = {"scenario": _scenario}


@pytest.fixture(scope="module")
def scenario(background) -> Scenario:
    return background.result(_scenario)


def test_refresh_reads_only_the_new_files(scenario: Scenario):
    output = scenario.outputs["refresh"]
    for table in EVENT_TABLES:
        assert f"{table}: incremental load of 1 new raw file(s)" in output, output[
            -4000:
        ]
    # Old rows keep their load time: only the new file's rows and the old
    # rows of keys seen again or rechecked were classified again.
    assert len(scenario.rows_loaded_by_refresh) == 1
    reloaded = sum(scenario.rows_loaded_by_refresh.values())
    # Day 2 holds the last day of the data, which the refresh's as_of_date
    # (the day after it) reads.
    assert scenario.last_day_rows > 0
    assert scenario.last_day_rows < reloaded < 0.1 * scenario.rows["base_shop__events"]


def test_refresh_equals_a_full_rebuild(scenario: Scenario):
    assert set(scenario.refreshed) == set(scenario.rebuilt)
    assert "base_shop__events" in scenario.refreshed
    assert "fct_customer_segments" in scenario.refreshed
    assert differences(scenario.rebuilt, scenario.refreshed) == []


def test_refresh_settles_old_and_new_rows_like_a_full_build(scenario: Scenario):
    """The planted rows, as refreshed in A (equal to B by the test above)."""
    assert len(scenario.copies) == PLANTED_COPIES
    for event_id, statuses in scenario.copies:
        assert "collapsed_duplicate" in statuses, (event_id, statuses)
    # The later version of each conflicting id wins (it is a checkout).
    assert sorted(scenario.conflicts) == sorted(
        (i, "checkout") for i in scenario.conflict_ids
    )
    staged, quarantined = scenario.test_account_rows
    assert staged == 0 and quarantined > 0


def test_refresh_passes_every_data_test(scenario: Scenario):
    output = scenario.outputs["refresh"]
    assert "ERROR=0" in output, output[-4000:]


def test_rewritten_file_reloads_the_table(scenario: Scenario):
    output = scenario.outputs["reload"]
    assert "events: 1 raw file(s) read by an earlier build changed" in output, output[
        -4000:
    ]
    assert differences(scenario.rebuilt_after_rewrite, scenario.reloaded) == []
    assert (
        scenario.reloaded["base_shop__events"]["rows"]
        == scenario.rows["base_shop__events"] - 100
    )
