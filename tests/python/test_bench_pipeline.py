"""The pure parts of `make bench`: time -v parsing, phases, Markdown, and the
daily-file layout of the refresh measurement."""

from __future__ import annotations

import datetime as dt
import json
import os

import duckdb
import pytest

from predictive_segments.bench import (
    add_throughput,
    count_raw_rows,
    daily_raw_dir,
    deliver_new_day,
    group_phases,
    load_results,
    node_phase,
    parse_incremental_loads,
    parse_time_v,
    prepare_daily_raw,
    refresh_day,
    refresh_ratios,
    render_markdown,
    result_file_name,
    scale_label,
    staging_by_table,
)

TIME_V = """\
\tCommand being timed: ".venv/bin/dbt build --profiles-dir . --project-dir ."
\tUser time (seconds): 812.45
\tSystem time (seconds): 31.07
\tPercent of CPU this job got: 171%
\tElapsed (wall clock) time (h:mm:ss or m:ss): 8:12.34
\tAverage shared text size (kbytes): 0
\tMaximum resident set size (kbytes): 3145728
\tMajor (requiring I/O) page faults: 12
\tExit status: 0
"""

P = "predictive_segments"


def _node(path: str, language: str = "sql") -> dict:
    parts = path.removesuffix(".sql").removesuffix(".py").split("/")
    folders = parts[1:-1] if parts[0] == "models" else []
    return {
        "original_file_path": path,
        "fqn": [P, *folders, parts[-1]],
        "language": language,
    }


NODES = {
    f"model.{P}.base_shop__orders": _node("models/staging/base/base_shop__orders.sql"),
    f"model.{P}.stg_shop__orders": _node("models/staging/stg_shop__orders.sql"),
    f"model.{P}.int_events_sessionized": _node(
        "models/intermediate/int_events_sessionized.sql"
    ),
    f"model.{P}.feat_customers": _node("models/features/feat_customers.sql"),
    f"model.{P}.lbl_churn": _node("models/features/lbl_churn.sql"),
    f"model.{P}.ml_churn_examples": _node("models/ml/ml_churn_examples.sql"),
    f"model.{P}.train_churn": _node("python_models/train_churn.py", "python"),
    f"model.{P}.score_churn": _node("python_models/score_churn.py", "python"),
    f"model.{P}.train_clv": _node("python_models/train_clv.py", "python"),
    f"model.{P}.dim_customers": _node("models/marts/dim_customers.sql"),
    f"model.{P}.exp_customer_segments": _node(
        "models/exports/exp_customer_segments.sql"
    ),
}


def _result(unique_id: str, seconds: float, status: str = "success") -> dict:
    return {"unique_id": unique_id, "execution_time": seconds, "status": status}


RUN_RESULTS = {
    "elapsed_time": 20.0,
    "results": [
        _result(f"seed.{P}.currency_rates", 0.1),
        _result(f"model.{P}.base_shop__orders", 2.0),
        _result(f"model.{P}.stg_shop__orders", 0.5),
        _result(f"model.{P}.int_events_sessionized", 3.0),
        _result(f"model.{P}.feat_customers", 1.5),
        _result(f"model.{P}.lbl_churn", 0.5),
        _result(f"model.{P}.ml_churn_examples", 0.1),
        _result(f"model.{P}.score_churn", 1.0),
        _result(f"model.{P}.train_churn", 4.0),
        _result(f"model.{P}.train_clv", 6.0),
        _result(f"model.{P}.dim_customers", 0.75),
        _result(f"model.{P}.exp_customer_segments", 0.25),
        _result(f"snapshot.{P}.snap_customer_segments", 0.3),
        _result(f"test.{P}.unique_dim_customers_customer_id.abc", 0.2, "pass"),
        _result(f"test.{P}.not_null_dim_customers_customer_id.def", 0.3, "fail"),
        _result(f"operation.{P}.{P}-on-run-start-0", 0.05),
        _result(f"exposure.{P}.segment_overview", 0.0),
    ],
}


def test_parse_time_v_reads_peak_memory_cpu_and_wall_time():
    figures = parse_time_v(TIME_V)
    assert figures["max_rss_kb"] == 3_145_728
    assert figures["user_s"] == pytest.approx(812.45)
    assert figures["system_s"] == pytest.approx(31.07)
    assert figures["cpu_percent"] == 171
    assert figures["elapsed_s"] == pytest.approx(8 * 60 + 12.34)
    assert figures["exit_status"] == 0


def test_parse_time_v_reads_hours_and_refuses_text_without_peak_memory():
    text = TIME_V.replace("8:12.34", "1:02:03")
    assert parse_time_v(text)["elapsed_s"] == pytest.approx(3723)
    with pytest.raises(ValueError, match="Maximum resident set size"):
        parse_time_v("Command exited with non-zero status 1\n")


def test_phases_group_nodes_by_folder_with_one_phase_per_python_model():
    phases = group_phases(RUN_RESULTS, NODES)
    by_name = {p["phase"]: p for p in phases}
    assert [p["phase"] for p in phases] == [
        "seeds",
        "staging",
        "intermediate",
        "features",
        "ml views",
        "train_churn",
        "score_churn",
        "train_clv",
        "marts",
        "snapshots",
        "exports",
        "hooks",
        "exposures",
        "data tests",
    ]
    assert by_name["staging"]["seconds"] == pytest.approx(2.5)  # base + stg
    assert by_name["staging"]["nodes"] == 2
    assert by_name["staging"]["slowest_node"] == "base_shop__orders"
    assert by_name["features"]["seconds"] == pytest.approx(2.0)  # feat + lbl
    assert by_name["data tests"]["seconds"] == pytest.approx(0.5)
    assert by_name["data tests"]["statuses"] == {"fail": 1, "pass": 1}
    total = sum(r["execution_time"] for r in RUN_RESULTS["results"])
    assert sum(p["seconds"] for p in phases) == pytest.approx(total)


def test_phases_come_from_names_when_the_manifest_lacks_the_node():
    phases = group_phases(RUN_RESULTS, {})
    assert [p["phase"] for p in phases] == [
        p["phase"] for p in group_phases(RUN_RESULTS, NODES)
    ]
    assert node_phase(f"model.{P}.something_else", None) == "other models"
    assert node_phase(f"unit_test.{P}.dim_customers.t", None) == "unit tests"


def test_throughput_is_raw_rows_for_sql_and_customers_for_python_models():
    phases = add_throughput(group_phases(RUN_RESULTS, NODES), 1_000_000, 10_000)
    by_name = {p["phase"]: p for p in phases}
    assert by_name["staging"]["throughput"] == pytest.approx(400_000)
    assert by_name["staging"]["throughput_unit"] == "raw rows/s"
    assert by_name["train_churn"]["throughput"] == pytest.approx(2_500)
    assert by_name["train_churn"]["throughput_unit"] == "customers/s"
    assert by_name["data tests"]["throughput"] is None


def test_staging_by_table_adds_base_and_staging_models():
    rows = staging_by_table(RUN_RESULTS, {"orders": 5_000, "events": 10})
    assert rows[0] == {
        "table": "orders",
        "rows": 5_000,
        "seconds": 2.5,
        "rows_per_s": 2_000.0,
    }
    assert rows[1]["rows_per_s"] is None  # no events model ran


@pytest.mark.parametrize(
    ("customers", "label"),
    [(100_000, "100k"), (1_000_000, "1M"), (300_000, "300k"), (2_500, "2.5k")],
)
def test_scale_label(customers, label):
    assert scale_label(customers) == label


def _bench_result(customers: int, factor: float, tests: bool = True) -> dict:
    phases = add_throughput(
        group_phases(
            {
                "results": [
                    {**r, "execution_time": r["execution_time"] * factor}
                    for r in RUN_RESULTS["results"]
                ]
            },
            NODES,
        ),
        customers * 10,
        customers,
    )
    return {
        "customers": customers,
        "seed": 42,
        "tests": tests,
        "machine": {"cores": 2, "ram_gib": 23.4, "segments_threads": "2"},
        "git": {"commit": "0123456789abcdef", "dirty": False},
        "raw_rows": {"orders": customers * 4, "events": customers * 6},
        "raw_rows_total": customers * 10,
        "generation": {"wall_s": 6.0 * factor, "max_rss_kb": 1024**2, "reused": False},
        "build": {
            "wall_s": 30.0 * factor,
            "elapsed_s": 20.0 * factor,
            "max_rss_kb": 2 * 1024**2,
            "user_s": 50.0 * factor,
            "system_s": 5.0 * factor,
            "exit_code": 0,
            "statuses": {"pass": 2, "success": 15},
        },
        "phases": phases,
        "slowest_nodes": [{"node": "train_clv", "phase": "train_clv", "seconds": 6.0}],
    }


def test_markdown_has_a_row_per_phase_and_two_columns_per_scale():
    text = render_markdown([_bench_result(1_000_000, 10.0), _bench_result(100_000, 1)])
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| phase | 100k s"))
    assert header == "| phase | 100k s | 100k s/1k | 1M s | 1M s/1k |"
    # Ten times the customers in ten times the time: equal s/1k (linear).
    assert "| train_clv | 6.0 | 0.060 | 60.0 | 0.060 |" in lines
    assert "| staging | 2.5 | 0.025 | 25.0 | 0.025 |" in lines
    assert "| **dbt build elapsed** | 20.0 | 0.200 | 200.0 | 0.200 |" in (lines)
    assert "| **dbt CPU (user + system)** | 55.0 | 0.550 | 550.0 | 0.550 |" in lines
    assert "| **generation CPU (user + system)** | - | - | - | - |" in lines
    assert "| **peak memory dbt build, GiB** | 2.00 | 20.5 | 2.00 | 2.0 |" in lines
    assert "| staging | raw rows/s | 400,000 | 400,000 |" in lines
    assert "| **total** | 1,000,000 | 10,000,000 |" in lines
    assert "## Slowest nodes at 1M" in lines
    for line in lines:
        if line.startswith("|"):
            assert line.endswith("|")


def test_markdown_keeps_runs_without_tests_apart_and_shows_missing_phases():
    without_tests = _bench_result(100_000, 1, tests=False)
    without_tests["phases"] = [
        p for p in without_tests["phases"] if p["phase"] != "data tests"
    ]
    text = render_markdown([without_tests, _bench_result(100_000, 1)])
    assert "| phase | 100k s | 100k s/1k | 100k (no tests) s |" in text
    assert "| data tests | 0.5 (failed) | 0.005 | - | - |" in text  # one fails
    assert render_markdown([]).startswith("No benchmark results yet")


def test_load_results_reads_every_bench_file(tmp_path):
    for customers in (100_000, 300_000):
        path = tmp_path / result_file_name(customers, tests=True)
        path.write_text(json.dumps(_bench_result(customers, 1)))
    (tmp_path / result_file_name(100_000, tests=False)).write_text(
        json.dumps(_bench_result(100_000, 1, tests=False))
    )
    (tmp_path / "bench.md").write_text("old")
    loaded = load_results(tmp_path)
    assert sorted((r["customers"], r["tests"]) for r in loaded) == [
        (100_000, False),
        (100_000, True),
        (300_000, True),
    ]


def test_markdown_says_when_a_build_failed_and_its_phases_were_skipped():
    failed = _bench_result(100_000, 1)
    failed["build"].update(exit_code=1, statuses={"error": 1, "skipped": 2})
    for phase in failed["phases"]:
        if phase["phase"] == "marts":
            phase.update(seconds=0.0, statuses={"skipped": 1})
    text = render_markdown([failed])
    assert "**The dbt build at 100k failed** (exit 1: error 1, skipped 2)" in text
    assert "| marts | skipped | - |" in text


# --- daily refresh ---------------------------------------------------------

# The last day of the tiny data set; the generator's as-of date is the next.
DAY = dt.date(2026, 9, 30)


def _write_raw(raw_dir):
    """A tiny generated data set: orders, events, e-mail events, truth."""
    raw_dir.mkdir()
    (raw_dir / "truth").mkdir()
    (raw_dir / "truth" / "manifest.json").write_text(
        json.dumps(
            {"as_of_date": (DAY + dt.timedelta(days=1)).isoformat(), "customers": 3}
        )
    )
    with duckdb.connect() as db:
        db.execute(
            f"""copy (select * from (values ('c1'), ('c2'), ('c3')) t(customer_id))
            to '{raw_dir / "truth" / "customers.parquet"}'"""
        )
        db.execute(
            f"""copy (select * from (values
                ('o1', 'c1', '2026-09-29 10:00:00'),
                ('o2', 'c2', '2026-09-30 11:00:00')
            ) t(order_id, customer_id, ordered_at))
            to '{raw_dir / "orders.parquet"}'"""
        )
        # event_id: which file each row belongs in (old: day 1, new: day 2).
        db.execute(
            f"""copy (select
                event_id,
                cast(occurred_at as timestamp) as occurred_at,
                cast(received_at as timestamp) as received_at
            from (values
                ('old-before', '2026-09-28 09:00', '2026-09-28 09:01'),
                ('old-last-second', '2026-09-29 23:59:59', null),
                ('old-no-time', null, null),
                ('new-late-arrival', '2026-09-29 22:00', '2026-09-30 01:00'),
                ('new-on-day', '2026-09-30 00:00', null),
                ('new-future', '2095-11-23 00:00', null)
            ) t(event_id, occurred_at, received_at))
            to '{raw_dir / "events.parquet"}'"""
        )
        db.execute(
            f"""copy (select * from (values
                ('old-mail', timestamp '2026-09-29 08:00'),
                ('new-mail', timestamp '2026-09-30 08:00')
            ) t(email_event_id, occurred_at))
            to '{raw_dir / "email_events.parquet"}'"""
        )


def _ids(path, column="event_id"):
    with duckdb.connect() as db:
        rows = db.execute(f"select {column} from read_parquet('{path}')").fetchall()
    return sorted(row[0] for row in rows)


def test_daily_layout_links_other_tables_and_keeps_events_before_the_day(tmp_path):
    raw = tmp_path / "customers_3_seed_1"
    _write_raw(raw)
    daily = daily_raw_dir(raw)
    assert daily == tmp_path / "customers_3_seed_1_daily"
    made = prepare_daily_raw(raw, daily, refresh_day(raw))
    assert made["linked"] == ["orders.parquet"]
    assert made["day_one_rows"] == {"events": 3, "email_events": 1}
    # Linked, not copied: the same file (hard link) or a link to it.
    linked = daily / "orders.parquet"
    assert os.path.samefile(linked, raw / "orders.parquet")
    assert sorted(p.name for p in daily.iterdir()) == [
        "email_events",
        "events",
        "orders.parquet",
    ]
    assert [p.name for p in (daily / "events").iterdir()] == ["part-000.parquet"]
    assert _ids(daily / "events" / "part-000.parquet") == [
        "old-before",
        "old-last-second",
        "old-no-time",
    ]
    assert _ids(daily / "email_events" / "part-000.parquet", "email_event_id") == [
        "old-mail"
    ]


def test_new_day_files_hold_the_rest_and_the_counts_add_up(tmp_path):
    raw = tmp_path / "raw"
    _write_raw(raw)
    daily = daily_raw_dir(raw)
    prepare_daily_raw(raw, daily, DAY)
    assert count_raw_rows(daily) == {"email_events": 1, "events": 3, "orders": 2}
    new_rows = deliver_new_day(raw, daily, DAY)
    assert new_rows == {"events": 3, "email_events": 1}
    assert _ids(daily / "events" / "part-001.parquet") == [
        "new-future",
        "new-late-arrival",  # occurred the day before, received on the day
        "new-on-day",
    ]
    assert _ids(daily / "email_events" / "part-001.parquet", "email_event_id") == [
        "new-mail"
    ]
    # Every generated row in exactly one file; truth/ is not a raw table.
    assert count_raw_rows(daily) == count_raw_rows(raw)
    assert count_raw_rows(raw) == {"email_events": 2, "events": 6, "orders": 2}


def test_daily_layout_is_made_anew_and_never_over_the_raw_data(tmp_path):
    raw = tmp_path / "raw"
    _write_raw(raw)
    daily = daily_raw_dir(raw)
    prepare_daily_raw(raw, daily, DAY)
    deliver_new_day(raw, daily, DAY)
    prepare_daily_raw(raw, daily, DAY)  # a second benchmark run
    assert not (daily / "events" / "part-001.parquet").exists()
    assert (raw / "orders.parquet").is_file()
    with pytest.raises(ValueError, match="would replace the raw data"):
        prepare_daily_raw(raw, raw, DAY)


def test_refresh_day_needs_the_generator_manifest(tmp_path):
    raw = tmp_path / "raw"
    _write_raw(raw)
    assert refresh_day(raw) == DAY
    (raw / "truth" / "manifest.json").unlink()
    with pytest.raises(RuntimeError, match="--no-refresh"):
        refresh_day(raw)


REFRESH_LOG = "\n".join(
    [
        "04:30:01  1 of 240 START sql incremental model main.base_shop__events [RUN]",
        "04:30:02  events: incremental load of 1 new raw file(s); 2 loaded file(s) "
        "read again for keys seen again or to recheck.",
        "04:30:02  email_events: incremental load of 1 new raw file(s); 0 loaded "
        "file(s) read again for keys seen again or to recheck.",
        "04:30:03  1 of 240 OK created sql incremental model main.base_shop__events",
    ]
)


def test_incremental_loads_are_read_from_the_log():
    assert parse_incremental_loads(REFRESH_LOG) == {
        "email_events": {"new_files": 1, "reread_files": 0, "reloaded": False},
        "events": {"new_files": 1, "reread_files": 2, "reloaded": False},
    }
    reload = (
        "04:30:02  events: 1 raw file(s) read by an earlier build changed or "
        "disappeared (/raw/events/part-000.parquet): reloading events completely."
    )
    assert parse_incremental_loads(reload) == {
        "events": {"changed_files": 1, "reloaded": True}
    }
    assert parse_incremental_loads("Completed successfully\n") == {}


def test_refresh_ratios_divide_refresh_by_full_build():
    full = {"wall_s": 100.0, "elapsed_s": 80.0, "user_s": 150.0, "system_s": 10.0}
    refresh = {"wall_s": 15.0, "elapsed_s": 8.0, "user_s": 14.0, "system_s": 2.0}
    full["max_rss_kb"], refresh["max_rss_kb"] = 4_000_000, 1_000_000
    assert refresh_ratios(full, refresh) == {
        "wall_s": 0.15,
        "elapsed_s": 0.1,
        "max_rss_kb": 0.25,
        "cpu_s": 0.1,
    }
    assert refresh_ratios({"wall_s": 0}, {"wall_s": 5.0})["wall_s"] is None
    assert refresh_ratios(full, {})["cpu_s"] is None


def _with_refresh(result: dict, factor: float = 0.2) -> dict:
    """``result`` with a daily refresh ``factor`` times as long as its build."""
    build = result["build"]
    result["build"] = {
        **build,
        "as_of_date": "2026-09-29",
        "vars": {"as_of_date": "2026-09-29", "retrain": True},
    }
    result["raw_rows"]["email_events"] = 1_000
    phases = [
        {**p, "seconds": round(p["seconds"] * factor, 3)}
        for p in result["phases"]
        if not p["phase"].startswith("train_")
    ]
    refresh_build = {
        key: build[key] * factor
        for key in ("wall_s", "elapsed_s", "user_s", "system_s")
    }
    refresh_build.update(
        max_rss_kb=build["max_rss_kb"] // 2,
        exit_code=0,
        statuses={"pass": 2, "success": 12},
        vars={"as_of_date": "2026-09-30", "retrain": False},
    )
    result["refresh"] = {
        "as_of_date": "2026-09-30",
        "new_raw_rows": {"events": 3_000, "email_events": 0},
        "new_raw_rows_total": 3_000,
        "build": refresh_build,
        "phases": phases,
        "incremental_loads": parse_incremental_loads(REFRESH_LOG),
        "slowest_nodes": [
            {"node": "score_clv", "phase": "score_clv", "seconds": 2.0 * factor}
        ],
        "ratio": refresh_ratios(build, refresh_build),
    }
    return result


def test_markdown_daily_refresh_section_compares_both_builds_per_scale():
    small = _with_refresh(_bench_result(100_000, 1))
    large = _with_refresh(_bench_result(1_000_000, 10.0), factor=0.1)
    lines = render_markdown([large, small]).splitlines()
    assert "## Daily refresh" in lines
    assert lines.index("## Daily refresh") < lines.index("## Throughput")
    assert (
        "|  | 100k full | 100k refresh | 100k refresh/full | 1M full | 1M refresh "
        "| 1M refresh/full |"
    ) in lines
    assert (
        "| as_of_date | 2026-09-29 | 2026-09-30 |  | 2026-09-29 | 2026-09-30 |  |"
    ) in lines
    assert "| retrain | yes | no |  | yes | no |  |" in lines
    assert (
        "| dbt process wall (with parsing), s | 30.0 | 6.0 | 20.0 % "
        "| 300.0 | 30.0 | 10.0 % |"
    ) in lines
    assert "| dbt CPU (user + system), s | 55.0 | 11.0 | 20.0 % |" in " ".join(lines)
    assert "| peak memory, GiB | 2.00 | 1.00 | 50.0 % |" in " ".join(lines)
    assert (
        "| raw rows of `events` files read | 600,000 | 3,000 | 0.5 % "
        "| 6,000,000 | 3,000 | 0.1 % |"
    ) in lines
    assert "| raw rows of `email_events` files read | 1,000 | 0 | 0.0 % |" in (
        " ".join(lines)
    )
    assert (
        "| incremental loads | full load | email_events: 1 new, 0 read again; "
        "events: 1 new, 2 read again |  |"
    ) in " ".join(lines)
    # Phases: both builds side by side; training only in the full build.
    assert (
        "| phase | 100k full s | 100k refresh s | 1M full s | 1M refresh s |" in lines
    )
    assert "| train_churn | 4.0 | - | 40.0 | - |" in lines
    assert "| score_churn | 1.0 | 0.2 | 10.0 | 1.0 |" in lines
    assert "| raw layout | one file per table | one file per table |" in lines
    assert "Slowest nodes of the refresh at 1M:" in lines
    assert "| score_clv | score_clv | 0.2 |" in lines
    for line in lines:
        if line.startswith("|"):
            assert line.endswith("|")


def test_markdown_has_no_refresh_section_without_refresh_and_flags_failures():
    plain = _bench_result(100_000, 1)
    assert "Daily refresh" not in render_markdown([plain])
    failed = _with_refresh(_bench_result(100_000, 1))
    failed["refresh"]["build"].update(exit_code=1, statuses={"error": 1})
    failed["run_dir"] = "/out/100000"
    text = render_markdown([failed])
    assert "**The daily refresh at 100k failed** (exit 1: error 1)" in text
    assert "| dbt exit code | 0 | 1 |  |" in text
    skipped = _bench_result(300_000, 1)
    skipped["refresh"] = {
        "as_of_date": "2026-09-30",
        "skipped": "the full build failed",
    }
    text = render_markdown([skipped])
    assert "Refresh not run at 300k: the full build failed." in text
    assert "| dbt process wall (with parsing), s | 30.0 | - | - |" in text


def test_scaling_curve_shows_cost_per_customer_relative_to_the_smallest_scale():
    # 300k at 3.3x the 100k time (10 % above linear), 1M at 10x (linear).
    results = [
        _bench_result(100_000, 1),
        _bench_result(300_000, 3.3),
        _bench_result(1_000_000, 10.0),
    ]
    lines = render_markdown(results).splitlines()
    start = lines.index("## Scaling curve")
    curve = lines[lines.index("```text", start) + 1 : lines.index("```", start + 3)]
    rows = {int(line.split()[0].replace(",", "")): line.split() for line in curve[1:]}
    assert set(rows) == {100_000, 300_000, 1_000_000}
    assert rows[100_000][1:5] == ["20.0", "1.00x", "55.0", "1.00x"]
    assert rows[300_000][1:5] == ["66.0", "1.10x", "181.5", "1.10x"]
    assert rows[1_000_000][1:5] == ["200.0", "1.00x", "550.0", "1.00x"]
    # Bars are proportional to the elapsed time, the largest CURVE_WIDTH long.
    assert len(rows[1_000_000][5]) == 40
    assert len(rows[100_000][5]) == 4


def test_no_scaling_curve_for_one_scale():
    assert "Scaling curve" not in render_markdown([_bench_result(100_000, 1)])
