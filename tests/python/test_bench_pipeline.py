"""The pure parts of `make bench`: time -v parsing, phases, Markdown."""

from __future__ import annotations

import json

import pytest

from predictive_segments.bench import (
    add_throughput,
    group_phases,
    load_results,
    node_phase,
    parse_time_v,
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
