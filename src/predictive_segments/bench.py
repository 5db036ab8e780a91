"""Pipeline benchmark: time demo-data generation and `dbt build` per phase.

`make bench` (benchmarks/bench_pipeline.py) runs :func:`run_scale` for each
scale asked for, then :func:`render_markdown` over every result in the output
directory, so that runs at 100k, 300k and 1M customers read as one curve.

Figures and where they come from:

- wall time of a phase: the sum of dbt's ``execution_time`` over the phase's
  nodes in ``run_results.json``. dbt runs ``threads`` nodes at once, so phases
  overlap and their sum exceeds the build's ``elapsed_time`` (reported too);
- peak memory: the maximum resident set size of the generator process and of
  the ``dbt build`` process, from ``/usr/bin/time -v`` (or ``os.wait4`` when it
  is missing). dbt-duckdb runs DuckDB and the Python models inside the dbt
  process, so its peak is the build's peak; it is the peak of one process (the
  largest of it and its descendants), not a sum over processes;
- throughput: raw rows per second (all raw tables, counted with DuckDB) for
  generation, staging, intermediate and features; customers per second for the
  Python models and the marts.

Daily refresh (on by default; ``refresh=False`` skips it): the full build
runs on a copy of the raw layout where the event tables are directories of
daily files (docs/raw_contract.md, "Daily files and incremental loads"):
every other table hard-linked, ``events/part-000.parquet`` and
``email_events/part-000.parquet`` holding the rows received before the last
day D of the data, as of D - 1 with training. Then the day-D files
(``part-001.parquet``) arrive and a second ``dbt build`` with ``as_of_date: D,
retrain: false`` on the same warehouse is timed the same way: the event
tables load only the new files and the approved models score every customer.
Its figures and their ratio to the full build's are ``result["refresh"]``.

The pure parts (parsing, grouping, rendering, splitting the event tables)
take and return plain dicts, strings and files and are unit-tested; only
:func:`run_scale` and its helpers run processes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

# 2: raw_rows counts what the full build read (table directories included),
# generation.raw_rows_total what was generated; build.vars; refresh.
SCHEMA_VERSION = 2
TIME_BINARY = Path("/usr/bin/time")
RAW_SUFFIXES = (".parquet", ".csv")

# The event tables delivered as daily files, and the time that decides the
# day a row arrives (as tests/integration/test_incremental_refresh.py splits).
DAILY_EVENT_TABLES = {
    "events": "coalesce(received_at, occurred_at)",
    "email_events": "occurred_at",
}
TRUTH_DIR = "truth"
DAY_ONE_FILE = "part-000.parquet"
NEW_DAY_FILE = "part-001.parquet"
# Lines that macros/staging/incremental_raw_load.sql logs per event table.
INCREMENTAL_LOAD_LINE = re.compile(
    r"\b(?P<table>\w+): incremental load of (?P<new>\d+) new raw file\(s\); "
    r"(?P<reread>\d+) loaded file\(s\) read again"
)
RELOAD_LINE = re.compile(
    r"\b(?P<table>\w+): (?P<changed>\d+) raw file\(s\) read by an earlier "
    r"build changed"
)

# Model folders (fqn[1] / models/<folder>/) and their phase.
FOLDER_PHASES = {
    "staging": "staging",
    "intermediate": "intermediate",
    "features": "features",
    "ml": "ml views",
    "marts": "marts",
    "exports": "exports",
    "fixtures": "fixtures",
}
# Name prefixes, used when the manifest has no node for a result.
PREFIX_PHASES = (
    ("base_", "staging"),
    ("stg_", "staging"),
    ("int_", "intermediate"),
    ("feat_", "features"),
    ("lbl_", "features"),
    ("ml_", "ml views"),
    ("dim_", "marts"),
    ("fct_", "marts"),
    ("rpt_", "marts"),
    ("aud_", "marts"),
    ("exp_", "exports"),
    ("fixture_", "fixtures"),
)
PYTHON_PREFIXES = ("train_", "score_")
RESOURCE_PHASES = {
    "seed": "seeds",
    "snapshot": "snapshots",
    "test": "data tests",
    "unit_test": "unit tests",
    "operation": "hooks",
    "exposure": "exposures",
}
# Display order; Python models (one phase each) sit between "ml views" and
# "marts", phases not listed go last.
PHASES_BEFORE_PYTHON = ("seeds", "staging", "intermediate", "features", "ml views")
PHASES_AFTER_PYTHON = (
    "marts",
    "snapshots",
    "exports",
    "fixtures",
    "hooks",
    "exposures",
    "other models",
    "data tests",
    "unit tests",
)
RAW_ROW_PHASES = ("staging", "intermediate", "features")
CUSTOMER_PHASES = ("marts",)

TIME_FIELDS = {
    "Maximum resident set size (kbytes)": "max_rss_kb",
    "User time (seconds)": "user_s",
    "System time (seconds)": "system_s",
    "Percent of CPU this job got": "cpu_percent",
    "Elapsed (wall clock) time (h:mm:ss or m:ss)": "elapsed_s",
    "Exit status": "exit_status",
}


# --- pure parts -----------------------------------------------------------


def parse_time_v(text: str) -> dict[str, float | int]:
    """Figures of GNU ``/usr/bin/time -v`` output.

    Returns ``max_rss_kb`` (KiB), ``user_s``, ``system_s``, ``elapsed_s``
    (seconds), ``cpu_percent`` and ``exit_status``, for the fields present.
    Raises ValueError when the text has no maximum resident set size.
    """
    figures: dict[str, float | int] = {}
    for line in text.splitlines():
        label, sep, value = line.strip().rpartition(": ")
        if not sep or label not in TIME_FIELDS:
            continue
        key = TIME_FIELDS[label]
        value = value.strip()
        if key == "elapsed_s":
            figures[key] = _clock_seconds(value)
        elif key == "cpu_percent":
            figures[key] = int(value.rstrip("%")) if value.rstrip("%").isdigit() else 0
        elif key in ("max_rss_kb", "exit_status"):
            figures[key] = int(value)
        else:
            figures[key] = float(value)
    if "max_rss_kb" not in figures:
        raise ValueError(
            "no 'Maximum resident set size (kbytes)' line in the /usr/bin/time -v "
            "output; is /usr/bin/time GNU time?"
        )
    return figures


def _clock_seconds(text: str) -> float:
    """Seconds of an ``h:mm:ss`` or ``m:ss.ss`` clock."""
    seconds = 0.0
    for part in text.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def python_phase_key(name: str) -> tuple[str, int]:
    """Sort key of a Python model phase: by model, training before scoring."""
    for rank, prefix in enumerate(PYTHON_PREFIXES):
        if name.startswith(prefix):
            return name.removeprefix(prefix), rank
    return name, len(PYTHON_PREFIXES)


def phase_order(phases: Iterable[str]) -> list[str]:
    """``phases`` (deduplicated) in display order."""
    phases = set(phases)
    known = set(PHASES_BEFORE_PYTHON) | set(PHASES_AFTER_PYTHON)
    python = sorted(
        (p for p in phases if p.startswith(PYTHON_PREFIXES)), key=python_phase_key
    )
    other = sorted(p for p in phases if p not in known and p not in python)
    return [
        *(p for p in PHASES_BEFORE_PYTHON if p in phases),
        *python,
        *(p for p in PHASES_AFTER_PYTHON if p in phases),
        *other,
    ]


def node_phase(unique_id: str, node: Mapping[str, Any] | None) -> str:
    """The phase of one run result.

    Anything but a model by resource type (tests, seeds, snapshots, hooks,
    exposures); Python models each in
    a phase of their own name (``train_churn``, ``score_churn``...); SQL models
    by folder under models/ (staging includes staging/base), else by name
    prefix.
    """
    resource_type, _, rest = unique_id.partition(".")
    if resource_type != "model":
        return RESOURCE_PHASES.get(resource_type, f"{resource_type}s")
    name = rest.rpartition(".")[2]
    node = node or {}
    path = str(node.get("original_file_path") or "")
    if node.get("language") == "python" or path.endswith(".py"):
        return name
    fqn = node.get("fqn") or []
    folders = [*fqn[1:-1], *Path(path).parts[1:-1]]
    for folder in folders:
        if folder in FOLDER_PHASES:
            return FOLDER_PHASES[folder]
    if name.startswith(PYTHON_PREFIXES):
        return name
    for prefix, phase in PREFIX_PHASES:
        if name.startswith(prefix):
            return phase
    return "other models"


def group_phases(
    run_results: Mapping[str, Any], manifest_nodes: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Per phase: nodes, summed ``execution_time`` (s), slowest node, statuses.

    ``manifest_nodes`` is ``manifest.json``'s ``nodes`` (may be empty: phases
    then come from names). Phases are returned in display order.
    """
    phases: dict[str, dict[str, Any]] = {}
    for result in run_results.get("results", []):
        unique_id = result["unique_id"]
        phase = node_phase(unique_id, manifest_nodes.get(unique_id))
        seconds = float(result.get("execution_time") or 0.0)
        entry = phases.setdefault(
            phase,
            {
                "phase": phase,
                "nodes": 0,
                "seconds": 0.0,
                "slowest_node": None,
                "slowest_seconds": 0.0,
                "statuses": Counter(),
            },
        )
        entry["nodes"] += 1
        entry["seconds"] += seconds
        entry["statuses"][str(result.get("status"))] += 1
        if entry["slowest_node"] is None or seconds > entry["slowest_seconds"]:
            entry["slowest_node"] = unique_id.rpartition(".")[2]
            entry["slowest_seconds"] = seconds
    ordered = [phases[p] for p in phase_order(phases)]
    for entry in ordered:
        entry["statuses"] = dict(sorted(entry["statuses"].items()))
        entry["seconds"] = round(entry["seconds"], 3)
        entry["slowest_seconds"] = round(entry["slowest_seconds"], 3)
    return ordered


def slowest_nodes(
    run_results: Mapping[str, Any], manifest_nodes: Mapping[str, Any], top: int = 15
) -> list[dict[str, Any]]:
    """The ``top`` nodes by ``execution_time``: name, phase, seconds."""
    rows = [
        {
            "node": r["unique_id"].rpartition(".")[2],
            "phase": node_phase(r["unique_id"], manifest_nodes.get(r["unique_id"])),
            "seconds": round(float(r.get("execution_time") or 0.0), 3),
        }
        for r in run_results.get("results", [])
    ]
    return sorted(rows, key=lambda row: -row["seconds"])[:top]


def staging_by_table(
    run_results: Mapping[str, Any], raw_rows: Mapping[str, int]
) -> list[dict[str, Any]]:
    """Per raw table: rows, seconds of base_shop__<t> + stg_shop__<t>, rows/s."""
    seconds = Counter()
    for result in run_results.get("results", []):
        name = result["unique_id"].rpartition(".")[2]
        for prefix in ("base_shop__", "stg_shop__"):
            if result["unique_id"].startswith("model.") and name.startswith(prefix):
                table = name.removeprefix(prefix)
                seconds[table] += float(result.get("execution_time") or 0.0)
    rows = []
    for table, count in raw_rows.items():
        spent = seconds.get(table, 0.0)
        rows.append(
            {
                "table": table,
                "rows": count,
                "seconds": round(spent, 3),
                "rows_per_s": round(count / spent, 1) if spent > 0 else None,
            }
        )
    return rows


def add_throughput(
    phases: list[dict[str, Any]], raw_rows_total: int, customers: int
) -> list[dict[str, Any]]:
    """Set ``throughput`` and ``throughput_unit`` on each phase (in place).

    Raw rows per second for staging, intermediate and features; customers per
    second for Python models and marts; none for the rest. Returns ``phases``.
    """
    for entry in phases:
        phase, seconds = entry["phase"], entry["seconds"]
        if phase in RAW_ROW_PHASES:
            amount, unit = raw_rows_total, "raw rows/s"
        elif phase.startswith(PYTHON_PREFIXES) or phase in CUSTOMER_PHASES:
            amount, unit = customers, "customers/s"
        else:
            amount, unit = None, None
        entry["throughput"] = (
            round(amount / seconds, 1) if amount is not None and seconds > 0 else None
        )
        entry["throughput_unit"] = unit
    return phases


def scale_label(customers: int) -> str:
    """``100000`` -> ``100k``, ``1000000`` -> ``1M``, ``2500`` -> ``2.5k``."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if customers >= size:
            return f"{customers / size:g}{suffix}"
    return str(customers)


def result_label(result: Mapping[str, Any]) -> str:
    """Column label of one benchmark result: scale, and whether tests ran."""
    label = scale_label(int(result["customers"]))
    return label if result.get("tests", True) else f"{label} (no tests)"


def result_file_name(customers: int, tests: bool) -> str:
    """``bench_<customers>.json`` (``bench_<customers>_no_tests.json``)."""
    return f"bench_{customers}{'' if tests else '_no_tests'}.json"


# --- daily refresh: raw layout and figures --------------------------------


def refresh_day(raw_dir: Path) -> dt.date:
    """The last day D of generated demo data: the day before its truth
    manifest's as-of date T.

    The generator's data end with D, and T (the day after the last staged
    order) is the project's default ``as_of_date``: the daily refresh
    delivers D's files to a warehouse built as of D and builds as of T.
    Raises RuntimeError when the manifest is missing (not demo data).
    """
    manifest = raw_dir / TRUTH_DIR / "manifest.json"
    try:
        as_of = dt.date.fromisoformat(json.loads(manifest.read_text())["as_of_date"])
        return as_of - dt.timedelta(days=1)
    except (OSError, KeyError, ValueError) as exc:
        raise RuntimeError(
            f"no as_of_date in {manifest} ({exc}): the daily refresh needs demo "
            "data from predictive_segments.synth; run with --no-refresh"
        ) from exc


def daily_raw_dir(raw_dir: Path) -> Path:
    """Where the daily-file layout of ``raw_dir`` goes: ``<raw_dir>_daily``."""
    return raw_dir.with_name(raw_dir.name + "_daily")


def _event_file(source_dir: Path, table: str) -> Path | None:
    """The generated Parquet file of an event table, None when there is none."""
    path = source_dir / f"{table}.parquet"
    if path.is_file():
        return path
    if (source_dir / f"{table}.csv").is_file():
        raise RuntimeError(
            f"{source_dir / table}.csv: the daily refresh splits Parquet event "
            "files only; generate Parquet demo data or run with --no-refresh"
        )
    return None


def _write_event_day(
    source: Path, target: Path, time_expression: str, day: dt.date, *, new: bool
) -> int:
    """Rows of ``source`` that arrived on or after ``day`` (``new``) or before it
    (and those without a time) into the Parquet file ``target``; their count."""
    import duckdb

    arrived = (
        f"{time_expression} >= date '{day.isoformat()}'"
        if new
        else f"{time_expression} < date '{day.isoformat()}' "
        f"or {time_expression} is null"
    )
    source_literal = str(source).replace("'", "''")
    target_literal = str(target).replace("'", "''")
    target.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as connection:
        [(rows,)] = connection.execute(
            f"copy (select * from read_parquet('{source_literal}') where {arrived}) "
            f"to '{target_literal}' (format parquet)"
        ).fetchall()
    return int(rows)


def prepare_daily_raw(
    source_dir: Path, daily_dir: Path, day: dt.date
) -> dict[str, Any]:
    """Day-1 raw layout of ``source_dir`` in ``daily_dir`` (made anew).

    Every raw file but the event tables is hard-linked (symlinked when a hard
    link is impossible), never copied; each event table becomes a directory
    ``<table>/`` holding ``part-000.parquet``: the rows received before
    ``day`` and those without a time. Returns ``linked`` (file names),
    ``link_method`` and ``day_one_rows`` (rows per event table).
    """
    if daily_dir.resolve() == source_dir.resolve():
        raise ValueError(f"the daily layout would replace the raw data {source_dir}")
    if daily_dir.exists():
        shutil.rmtree(daily_dir)
    daily_dir.mkdir(parents=True)
    linked, methods = [], set()
    for path in sorted(source_dir.iterdir()):
        if not path.is_file() or path.suffix not in RAW_SUFFIXES:
            continue
        if path.stem in DAILY_EVENT_TABLES:
            continue
        target = daily_dir / path.name
        try:
            os.link(path, target)
            methods.add("hard link")
        except OSError:
            target.symlink_to(path.resolve())
            methods.add("symlink")
        linked.append(path.name)
    day_one_rows = {}
    for table, time_expression in DAILY_EVENT_TABLES.items():
        source = _event_file(source_dir, table)
        if source is not None:
            target = daily_dir / table / DAY_ONE_FILE
            day_one_rows[table] = _write_event_day(
                source, target, time_expression, day, new=False
            )
    return {
        "linked": linked,
        "link_method": " and ".join(sorted(methods)) or None,
        "day_one_rows": day_one_rows,
    }


def deliver_new_day(source_dir: Path, daily_dir: Path, day: dt.date) -> dict[str, int]:
    """Add day ``day``'s files to the layout of :func:`prepare_daily_raw`.

    Writes ``<table>/part-001.parquet``: the rows of each event table that
    arrived on or after ``day`` (possibly none: the file then holds only the
    schema, as a loader's empty day would). Returns rows per event table.
    """
    rows = {}
    for table, time_expression in DAILY_EVENT_TABLES.items():
        source = _event_file(source_dir, table)
        if source is not None:
            target = daily_dir / table / NEW_DAY_FILE
            rows[table] = _write_event_day(
                source, target, time_expression, day, new=True
            )
    return rows


def parse_incremental_loads(log_text: str) -> dict[str, dict[str, Any]]:
    """How each event table was loaded, from a ``dbt build``'s output.

    Per table: ``new_files`` and ``reread_files`` (loaded files read again for
    keys seen again or rechecked) of an incremental load, or ``reloaded`` True
    when a file read before had changed and the table was reloaded
    completely. Tables without such a line (a full build) are absent.
    """
    loads: dict[str, dict[str, Any]] = {}
    for line in log_text.splitlines():
        if match := INCREMENTAL_LOAD_LINE.search(line):
            loads[match["table"]] = {
                "new_files": int(match["new"]),
                "reread_files": int(match["reread"]),
                "reloaded": False,
            }
        elif match := RELOAD_LINE.search(line):
            loads[match["table"]] = {
                "changed_files": int(match["changed"]),
                "reloaded": True,
            }
    return dict(sorted(loads.items()))


def refresh_ratios(
    full: Mapping[str, Any], refresh: Mapping[str, Any]
) -> dict[str, float | None]:
    """Refresh / full build of the measured figures (None when one is missing).

    ``wall_s``: the dbt process, parsing included; ``elapsed_s``: dbt's own
    build time; ``cpu_s``: user + system; ``max_rss_kb``: peak memory.
    """

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else round(a / b, 4)

    ratios = {
        key: ratio(refresh.get(key), full.get(key))
        for key in ("wall_s", "elapsed_s", "max_rss_kb")
    }
    ratios["cpu_s"] = ratio(_cpu_seconds(refresh), _cpu_seconds(full))
    return ratios


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 1000 else f"{value:,.1f}"


def _per_1k(value: float | None, customers: int, digits: int = 3) -> str:
    if value is None or customers <= 0:
        return "-"
    return f"{value / (customers / 1000):,.{digits}f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _gib(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / 1024**2:,.2f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append(
        "| "
        + " | ".join("---" if i == 0 else "---:" for i in range(len(header)))
        + " |"
    )
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def render_markdown(results: Sequence[Mapping[str, Any]]) -> str:
    """Markdown tables of benchmark results, one column group per scale.

    ``results`` are the dicts written by :func:`run_scale`, in any order;
    columns go by customers (runs without tests after those with). Returns
    the text, ending with a newline.
    """
    results = sorted(results, key=lambda r: (not r.get("tests", True), r["customers"]))
    if not results:
        return "No benchmark results yet: run `make bench`.\n"
    lines = ["# Pipeline benchmark", "", *_machine_lines(results)]
    for result in results:
        build = result["build"]
        if build.get("exit_code") != 0:
            lines.append(
                f"\n**The dbt build at {result_label(result)} failed** (exit "
                f"{build.get('exit_code')}: {_statuses(build)}): nodes after the "
                "failure were skipped and their phases read `skipped`."
            )
        refresh_build = (result.get("refresh") or {}).get("build") or {}
        if refresh_build and refresh_build.get("exit_code") != 0:
            lines.append(
                f"\n**The daily refresh at {result_label(result)} failed** (exit "
                f"{refresh_build.get('exit_code')}: {_statuses(refresh_build)}); "
                f"see {result.get('run_dir', '<run dir>')}/refresh.log."
            )
    sections: list[tuple[str, Callable[[Sequence[Mapping[str, Any]]], list[str]]]] = [
        ("Wall time per phase", _time_table)
    ]
    if len({r["customers"] for r in results if r.get("tests", True)}) > 1:
        sections.append(("Scaling curve", _scaling_curve))
    if any(r.get("refresh") for r in results):
        sections.append(("Daily refresh", _refresh_tables))
    sections += [
        ("Throughput", _throughput_table),
        ("Raw rows", _raw_rows_table),
        ("Runs", _runs_table),
    ]
    for title, table in sections:
        lines += ["", f"## {title}", "", *table(results)]
    largest = max(results, key=lambda r: r["customers"])
    lines += ["", f"## Slowest nodes at {result_label(largest)}", ""]
    rows = [
        [n["node"], n["phase"], _seconds(n["seconds"])]
        for n in largest.get("slowest_nodes", [])
    ]
    lines += _table(["node", "phase", "s"], rows)
    return "\n".join(lines) + "\n"


def _phases(results: Sequence[Mapping[str, Any]]) -> list[str]:
    return phase_order(x["phase"] for r in results for x in r["phases"])


def _time_table(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """Seconds and seconds per 1k customers per phase, then totals and memory."""
    header = ["phase"]
    for label in map(result_label, results):
        header += [f"{label} s", f"{label} s/1k"]
    rows = []
    for phase in _phases(results):
        row = [phase]
        for result in results:
            entry = next((p for p in result["phases"] if p["phase"] == phase), None)
            if entry and set(entry.get("statuses", {})) == {"skipped"}:
                row += ["skipped", "-"]
                continue
            value = entry["seconds"] if entry else None
            failed = entry and {"error", "fail"} & set(entry.get("statuses", {}))
            flag = " (failed)" if failed else ""
            row += [_seconds(value) + flag, _per_1k(value, result["customers"])]
        rows.append(row)

    def summary(name: str, values: Iterable[float | None]) -> list[str]:
        row = [f"**{name}**"]
        for result, value in zip(results, values, strict=True):
            row += [_seconds(value), _per_1k(value, result["customers"])]
        return row

    builds = [r["build"] for r in results]
    generations = [r["generation"] for r in results]
    both = [
        None
        if None in (g.get("wall_s"), b.get("wall_s"))
        else g["wall_s"] + b["wall_s"]
        for g, b in zip(generations, builds, strict=True)
    ]
    rows += [
        summary(
            "sum of phases", [sum(p["seconds"] for p in r["phases"]) for r in results]
        ),
        summary("dbt build elapsed", [b.get("elapsed_s") for b in builds]),
        summary("dbt process wall (with parsing)", [b.get("wall_s") for b in builds]),
        summary("generation wall", [g.get("wall_s") for g in generations]),
        summary("generation + dbt wall", both),
        summary("dbt CPU (user + system)", map(_cpu_seconds, builds)),
        summary("generation CPU (user + system)", map(_cpu_seconds, generations)),
    ]
    for name, figures in (
        ("peak memory dbt build, GiB", builds),
        ("peak memory generation, GiB", generations),
    ):
        row = [f"**{name}**"]
        for result, figure in zip(results, figures, strict=True):
            kib = figure.get("max_rss_kb")
            mib = None if kib is None else kib / 1024
            row += [_gib(kib), _per_1k(mib, result["customers"], 1)]
        rows.append(row)
    notes = [
        "Seconds (`s`) and seconds per 1,000 customers (`s/1k`: equal across "
        "scales means linear). A phase's time is the sum of dbt's "
        "`execution_time` over its nodes (`run_results.json`); dbt runs "
        "`threads` nodes at once, so phases overlap and their sum exceeds the "
        "build's elapsed time. CPU time (user + system) is what a busy "
        "machine inflates least: compare it when the load average was high. "
        "Peak memory: maximum resident set size of one "
        "process (GiB; `s/1k` column: MiB per 1,000 customers); dbt-duckdb "
        "runs DuckDB and the Python models inside the dbt process, so the dbt "
        "build's peak is the build's peak.",
        "",
    ]
    return notes + _table(header, rows)


CURVE_WIDTH = 40


def _scaling_curve(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The full build's elapsed time and CPU time against customers (runs with
    data tests), as bars, each with its cost per customer relative to the
    smallest scale's: 1.00x throughout is linear growth."""
    runs = [r for r in results if r.get("tests", True)]
    runs = sorted(
        {r["customers"]: r for r in runs}.values(), key=lambda r: r["customers"]
    )
    lines = [
        "The full `dbt build` (data tests included) per scale. Bars: elapsed "
        f"seconds, {CURVE_WIDTH} characters for the largest. `x linear`: seconds "
        "per customer relative to the smallest scale's (1.00x: the cost grows in "
        "proportion to the customers; above: faster than linear).",
        "",
        "```text",
        f"{'customers':>11}  {'elapsed s':>9}  {'x linear':>8}  {'CPU s':>7}  "
        f"{'x linear':>8}",
    ]
    smallest = runs[0]
    largest_elapsed = max(r["build"].get("elapsed_s") or 0 for r in runs) or 1

    def relative(value: float | None, base: float | None, result) -> str:
        if value is None or not base:
            return "-"
        per_customer = value / result["customers"]
        return f"{per_customer / (base / smallest['customers']):.2f}x"

    for result in runs:
        elapsed = result["build"].get("elapsed_s")
        cpu = _cpu_seconds(result["build"])
        bar = "#" * max(1, round((elapsed or 0) / largest_elapsed * CURVE_WIDTH))
        lines.append(
            f"{result['customers']:>11,}  {_seconds(elapsed):>9}  "
            f"{relative(elapsed, smallest['build'].get('elapsed_s'), result):>8}  "
            f"{_seconds(cpu):>7}  "
            f"{relative(cpu, _cpu_seconds(smallest['build']), result):>8}  {bar}"
        )
    return [*lines, "```"]


def _yes_no(flag: bool | None) -> str | None:
    return None if flag is None else ("yes" if flag else "no")


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:,.1f} %"


def _phase_cell(phases: Sequence[Mapping[str, Any]], phase: str) -> str:
    """Seconds of ``phase`` in a build's phases, flagged when it failed."""
    entry = next((p for p in phases if p["phase"] == phase), None)
    if entry is None:
        return "-"
    statuses = set(entry.get("statuses", {}))
    if statuses == {"skipped"}:
        return "skipped"
    flag = " (failed)" if {"error", "fail"} & statuses else ""
    return _seconds(entry["seconds"]) + flag


def _loads_text(loads: Mapping[str, Mapping[str, Any]]) -> str:
    if not loads:
        return "-"
    parts = []
    for table, load in loads.items():
        if load.get("reloaded"):
            parts.append(f"{table}: reloaded")
        else:
            parts.append(
                f"{table}: {load.get('new_files')} new, "
                f"{load.get('reread_files')} read again"
            )
    return "; ".join(parts)


def _refresh_tables(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """Full build vs daily refresh per scale: totals, raw rows, phases."""
    results = [r for r in results if r.get("refresh")]
    header = [""]
    for label in map(result_label, results):
        header += [f"{label} full", f"{label} refresh", f"{label} refresh/full"]

    def row(
        name: str,
        full: Callable[[Mapping[str, Any]], Any],
        refresh: Callable[[Mapping[str, Any]], Any],
        show: Callable[[Any], str],
        ratio: bool = True,
    ) -> list[str]:
        cells = [name]
        for result in results:
            refreshed = result["refresh"]
            a = full(result)
            b = refresh(refreshed) if refreshed.get("build") else None
            share = b / a if ratio and a and b is not None else None
            cells += [show(a), show(b), _percent(share) if ratio else ""]
        return cells

    def text(value: Any) -> str:
        return "-" if value is None else str(value)

    def count(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    def build_of(result: Mapping[str, Any]) -> Mapping[str, Any]:
        return result["build"]

    def refresh_build(refreshed: Mapping[str, Any]) -> Mapping[str, Any]:
        return refreshed["build"]

    rows = [
        row(
            "as_of_date",
            lambda r: build_of(r).get("as_of_date") or "day after the last order",
            lambda x: x.get("as_of_date"),
            text,
            ratio=False,
        ),
        row(
            "retrain",
            lambda r: _yes_no((build_of(r).get("vars") or {}).get("retrain", True)),
            lambda x: _yes_no((refresh_build(x).get("vars") or {}).get("retrain")),
            text,
            ratio=False,
        ),
    ]
    for name, key in (
        ("dbt process wall (with parsing), s", "wall_s"),
        ("dbt build elapsed, s", "elapsed_s"),
    ):
        rows.append(
            row(
                name,
                lambda r, key=key: build_of(r).get(key),
                lambda x, key=key: refresh_build(x).get(key),
                _seconds,
            )
        )
    rows.append(
        row(
            "dbt CPU (user + system), s",
            lambda r: _cpu_seconds(build_of(r)),
            lambda x: _cpu_seconds(refresh_build(x)),
            _seconds,
        )
    )
    rows.append(
        row(
            "peak memory, GiB",
            lambda r: build_of(r).get("max_rss_kb"),
            lambda x: refresh_build(x).get("max_rss_kb"),
            _gib,
        )
    )
    for table in DAILY_EVENT_TABLES:
        rows.append(
            row(
                f"raw rows of `{table}` files read",
                lambda r, table=table: r["raw_rows"].get(table),
                lambda x, table=table: (x.get("new_raw_rows") or {}).get(table),
                count,
            )
        )
    rows += [
        row(
            "incremental loads",
            lambda r: "full load",
            lambda x: _loads_text(x.get("incremental_loads") or {}),
            text,
            ratio=False,
        ),
        row(
            "dbt exit code",
            lambda r: build_of(r).get("exit_code"),
            lambda x: refresh_build(x).get("exit_code"),
            text,
            ratio=False,
        ),
        row(
            "dbt statuses",
            lambda r: _statuses(build_of(r)),
            lambda x: _statuses(refresh_build(x)),
            text,
            ratio=False,
        ),
    ]
    skipped = [
        f"{result_label(r)}: {r['refresh']['skipped']}"
        for r in results
        if r["refresh"].get("skipped")
    ]
    notes = [
        "Full build: `dbt build` of a new warehouse on the raw data with the "
        "events and e-mail events delivered as daily files, those received "
        "before the last day D of the data (`<table>/part-000.parquet`), as "
        "of D - 1, training every model: the build of the tables above. "
        "Refresh: day D's files (`part-001.parquet`) arrive and "
        "`dbt build --vars '{as_of_date: D, retrain: false}'` runs on the same "
        "warehouse: the event tables read only the new files, sessions are "
        "recomputed where events arrived, features are built at D only and "
        "the approved models score every customer. Both builds run the data "
        "tests unless the scale says `(no tests)`. The refresh's process wall "
        "includes a full parse (its vars differ from the full build's); "
        "`dbt build elapsed` does not. Raw rows: the rows of the event files "
        "each build received (full: day-1 files; refresh: the new files); "
        "incremental loads: new files and loaded files read again for keys "
        "seen again, from the refresh's log.",
        *(f"Refresh not run at {text}." for text in skipped),
        "",
    ]
    phase_header = ["phase"]
    for label in map(result_label, results):
        phase_header += [f"{label} full s", f"{label} refresh s"]
    phases = phase_order(
        p["phase"]
        for r in results
        for p in [*r["phases"], *(r["refresh"].get("phases") or [])]
    )
    phase_rows = [
        [
            phase,
            *(
                cell
                for r in results
                for cell in (
                    _phase_cell(r["phases"], phase),
                    _phase_cell(r["refresh"].get("phases") or [], phase),
                )
            ),
        ]
        for phase in phases
    ]
    lines = [
        *notes,
        *_table(header, rows),
        "",
        "Seconds per phase (sum of dbt's `execution_time` over the phase's "
        "nodes, as above):",
        "",
        *_table(phase_header, phase_rows),
    ]
    measured = [r for r in results if r["refresh"].get("slowest_nodes")]
    if measured:
        largest = max(measured, key=lambda r: r["customers"])
        lines += [
            "",
            f"Slowest nodes of the refresh at {result_label(largest)}:",
            "",
            *_table(
                ["node", "phase", "s"],
                (
                    [n["node"], n["phase"], _seconds(n["seconds"])]
                    for n in largest["refresh"]["slowest_nodes"]
                ),
            ),
        ]
    return lines


def _cpu_seconds(figures: Mapping[str, Any]) -> float | None:
    """User + system CPU seconds of a measured process, if measured."""
    if figures.get("user_s") is None or figures.get("system_s") is None:
        return None
    return figures["user_s"] + figures["system_s"]


def _throughput_table(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """Raw rows or customers per second per phase and scale."""
    rows = []
    for phase in ["generation", "dbt build", *_phases(results)]:
        units, values = set(), []
        for result in results:
            if phase in ("generation", "dbt build"):
                figures = result["generation" if phase == "generation" else "build"]
                seconds = figures.get(
                    "wall_s" if phase == "generation" else "elapsed_s"
                )
                # Generation: the rows generated; the build: those it read.
                raw_total = (
                    figures.get("raw_rows_total", result["raw_rows_total"])
                    if phase == "generation"
                    else result["raw_rows_total"]
                )
                value = raw_total / seconds if seconds else None
                unit = "raw rows/s"
            else:
                entry = next((p for p in result["phases"] if p["phase"] == phase), {})
                value, unit = entry.get("throughput"), entry.get("throughput_unit")
            values.append(value)
            if unit:
                units.add(unit)
        if units:
            rows.append([phase, " / ".join(sorted(units)), *map(_rate, values)])
    notes = [
        "Raw rows: every row of every raw table (below); customers: the "
        "customers generated. `dbt build`: raw rows over the build's elapsed time.",
        "",
    ]
    return notes + _table(["phase", "unit", *map(result_label, results)], rows)


def _raw_rows_table(results: Sequence[Mapping[str, Any]]) -> list[str]:
    tables = list(dict.fromkeys(t for r in results for t in r["raw_rows"]))
    rows = [[t, *(f"{r['raw_rows'].get(t, 0):,}" for r in results)] for t in tables]
    rows.append(["**total**", *(f"{r['raw_rows_total']:,}" for r in results)])
    return _table(["table", *map(result_label, results)], rows)


def _runs_table(results: Sequence[Mapping[str, Any]]) -> list[str]:
    def each(format_one: Callable[[Mapping[str, Any]], str]) -> list[str]:
        return [format_one(r) for r in results]

    rows = [
        ["customers", *each(lambda r: f"{r['customers']:,}")],
        ["seed", *each(lambda r: str(r["seed"]))],
        ["data tests", *each(lambda r: "yes" if r.get("tests", True) else "no")],
        ["dbt threads", *each(lambda r: str(r["machine"].get("segments_threads")))],
        ["raw layout", *each(lambda r: r.get("raw_layout", "one file per table"))],
        [
            "as_of_date",
            *each(lambda r: r["build"].get("as_of_date") or "day after the last order"),
        ],
        ["dbt exit code", *each(lambda r: str(r["build"].get("exit_code")))],
        ["dbt statuses", *each(lambda r: _statuses(r["build"]))],
        [
            "demo data",
            *each(lambda r: "reused" if r["generation"].get("reused") else "generated"),
        ],
        [
            "load average before",
            *each(
                lambda r: (
                    " ".join(f"{x:.2f}" for x in r.get("load_average_before", []))
                    or "-"
                )
            ),
        ],
        ["started (UTC)", *each(lambda r: str(r.get("started_at", "-")))],
        ["commit", *each(_commit)],
    ]
    return _table(["", *map(result_label, results)], rows)


def _statuses(build: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in build.get("statuses", {}).items()) or "-"


def _commit(result: Mapping[str, Any]) -> str:
    git = result.get("git") or {}
    commit = str(git.get("commit") or "-")[:10]
    return f"{commit} (dirty)" if git.get("dirty") else commit


def _machine_lines(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per distinct machine and software of ``results``."""
    texts = []
    for result in results:
        m = result["machine"]
        text = (
            f"Machine: {m.get('cores')} cores, {m.get('ram_gib')} GiB RAM, "
            f"{m.get('platform')}; Python {m.get('python')}, DuckDB "
            f"{m.get('duckdb')}, dbt-core {m.get('dbt_core')}, dbt-duckdb "
            f"{m.get('dbt_duckdb')}; SEGMENTS_THREADS={m.get('segments_threads')}, "
            f"SEGMENTS_MEMORY_LIMIT={m.get('segments_memory_limit')}."
        )
        if text not in texts:
            texts.append(text)
    return texts


def load_results(out_dir: Path) -> list[dict[str, Any]]:
    """Every ``bench_*.json`` in ``out_dir`` (the latest run per scale)."""
    return [json.loads(p.read_text()) for p in sorted(out_dir.glob("bench_*.json"))]


# --- running --------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """Cores, RAM (GiB), platform and the versions that matter."""

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError, AttributeError):
        ram = None
    return {
        "cores": os.cpu_count(),
        "ram_gib": None if ram is None else round(ram, 1),
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "duckdb": version("duckdb"),
        "dbt_core": version("dbt-core"),
        "dbt_duckdb": version("dbt-duckdb"),
        "segments_threads": os.environ.get("SEGMENTS_THREADS", "2"),
        "segments_memory_limit": os.environ.get("SEGMENTS_MEMORY_LIMIT", "4GB"),
    }


def git_info(project_dir: Path) -> dict[str, Any]:
    """The commit checked out in ``project_dir`` and whether the tree is dirty."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=project_dir,
                capture_output=True,
                text=True,
                check=True,
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return done.stdout.strip()

    status = git("status", "--porcelain")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(status)}


def count_raw_rows(raw_dir: Path) -> dict[str, int]:
    """Rows per raw table in ``raw_dir``, as the project reads them.

    A table is a file ``<table>.parquet`` (or ``.csv``; Parquet wins) and/or a
    directory ``<table>/`` of such files (docs/raw_contract.md): its rows are
    the sum over them. The generator's ``truth/`` directory is not a table.
    """
    import duckdb

    files: dict[str, list[Path]] = {}
    for path in sorted(raw_dir.iterdir()):
        if path.is_file() and path.suffix in RAW_SUFFIXES:
            if path.suffix == ".csv" and path.with_suffix(".parquet").is_file():
                continue
            files.setdefault(path.stem, []).append(path)
        elif path.is_dir() and path.name != TRUTH_DIR:
            parts = [
                part
                for part in sorted(path.iterdir())
                if part.is_file() and part.suffix in RAW_SUFFIXES
            ]
            if parts:
                files.setdefault(path.name, []).extend(parts)
    counts = {}
    with duckdb.connect() as connection:
        for table in sorted(files):
            counts[table] = 0
            for path in files[table]:
                reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
                literal = str(path).replace("'", "''")
                [(count,)] = connection.execute(
                    f"select count(*) from {reader}('{literal}')"
                ).fetchall()
                counts[table] += int(count)
    return counts


def run_measured(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    time_log: Path,
) -> dict[str, Any]:
    """Run ``command`` with output to ``log``; its wall time and resources.

    Under ``/usr/bin/time -v`` (its report kept in ``time_log``) when present,
    else rusage from ``os.wait4``. Returns ``exit_code``, ``wall_s``,
    ``max_rss_kb`` (KiB), ``user_s``, ``system_s`` and ``rss_method``.
    """
    use_time = TIME_BINARY.is_file() and os.access(TIME_BINARY, os.X_OK)
    full = (
        [str(TIME_BINARY), "-v", "-o", str(time_log), *command]
        if use_time
        else list(command)
    )
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(
            full, cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    figures: dict[str, Any] = {
        "exit_code": process.returncode,
        "wall_s": round(wall, 3),
    }
    if use_time:
        parsed = parse_time_v(time_log.read_text())
        figures.update(
            max_rss_kb=parsed["max_rss_kb"],
            user_s=parsed.get("user_s"),
            system_s=parsed.get("system_s"),
            rss_method="/usr/bin/time -v",
        )
        if "exit_status" in parsed:
            figures["exit_code"] = parsed["exit_status"]
    else:
        figures.update(
            max_rss_kb=int(usage.ru_maxrss),
            user_s=round(usage.ru_utime, 3),
            system_s=round(usage.ru_stime, 3),
            rss_method="os.wait4 rusage",
        )
    return figures


def _timed_dbt_build(
    command: Sequence[str],
    *,
    project_dir: Path,
    env: Mapping[str, str],
    run_dir: Path,
    name: str,
    target: Path,
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
    """Run one measured ``dbt build``; its figures, run results and nodes.

    Output goes to ``run_dir/<name>.log`` and the time report to
    ``run_dir/<name>.time.txt``. The run results are None when dbt wrote none
    (it failed before running a node).
    """
    (target / "run_results.json").unlink(missing_ok=True)
    figures = run_measured(
        command,
        cwd=project_dir,
        env={**env, "DBT_TARGET_PATH": str(target)},
        log=run_dir / f"{name}.log",
        time_log=run_dir / f"{name}.time.txt",
    )
    figures["command"] = list(command)
    results_path = target / "run_results.json"
    if not results_path.is_file():
        return figures, None, {}
    run_results = json.loads(results_path.read_text())
    manifest_path = target / "manifest.json"
    nodes = (
        json.loads(manifest_path.read_text()).get("nodes", {})
        if manifest_path.is_file()
        else {}
    )
    figures["elapsed_s"] = round(float(run_results.get("elapsed_time") or 0.0), 3)
    figures["statuses"] = dict(
        sorted(Counter(r["status"] for r in run_results["results"]).items())
    )
    return figures, run_results, nodes


def _dbt_build_command(
    dbt: Path, tests: bool, dbt_vars: Mapping[str, Any] | None
) -> list[str]:
    command = [str(dbt), "build", "--profiles-dir", ".", "--project-dir", "."]
    if dbt_vars:
        command += ["--vars", json.dumps(dict(dbt_vars))]
    if not tests:
        command += ["--exclude-resource-type", "test", "unit_test"]
    return command


def run_scale(
    customers: int,
    *,
    seed: int,
    out_dir: Path,
    data_dir: Path,
    project_dir: Path,
    tests: bool = True,
    regenerate: bool = False,
    refresh: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Generate (or reuse) demo data, build it with dbt, write the result.

    Data go to ``data_dir/customers_<n>_seed_<seed>``; the warehouse, dbt's
    target and logs, and the time reports to ``out_dir/<n>[_no_tests]/``; the
    result to ``out_dir/bench_<n>[_no_tests].json``, which is also returned.

    With ``refresh`` the full build runs on the daily-file layout
    (``<data dir>_daily``, :func:`prepare_daily_raw`) as of the day before the
    last, then the last day's files arrive and the daily refresh is measured
    on the same warehouse (``result["refresh"]``; the module docstring says
    how). Without it the full build reads the generated files as they are, as
    of the default ``as_of_date``.
    """
    python = Path(sys.executable)
    dbt = python.with_name("dbt")
    raw_dir = (data_dir / f"customers_{customers}_seed_{seed}").resolve()
    run_dir = (out_dir / f"{customers}{'' if tests else '_no_tests'}").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    raw_dir.parent.mkdir(parents=True, exist_ok=True)
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    load_before = list(os.getloadavg())
    label = f"[bench {scale_label(customers)}]"

    # The package of the project benchmarked, before the one installed in the
    # virtual environment (dbt-duckdb appends module_paths to sys.path).
    base_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(project_dir / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    generate = [
        str(python), "-m", "predictive_segments.synth", "--customers", str(customers),
        "--seed", str(seed), "--out", str(raw_dir),
    ]  # fmt: skip
    if not regenerate:
        generate.append("--skip-if-present")
    manifest = raw_dir / TRUTH_DIR / "manifest.json"
    written_before = manifest.stat().st_mtime_ns if manifest.is_file() else None
    echo(f"{label} generating demo data into {raw_dir}")
    generation = run_measured(
        generate,
        cwd=project_dir,
        env=base_env,
        log=run_dir / "generation.log",
        time_log=run_dir / "generation.time.txt",
    )
    log_text = (run_dir / "generation.log").read_text()
    if generation["exit_code"] != 0:
        raise RuntimeError(
            f"the demo-data generator failed (exit {generation['exit_code']}); "
            f"see {run_dir / 'generation.log'}:\n{log_text[-2000:]}"
        )
    # --skip-if-present leaves the manifest of reused data untouched.
    generation["reused"] = written_before == manifest.stat().st_mtime_ns
    generation["command"] = generate
    generation["measured_at"] = started_at
    if generation["reused"]:
        generation.update(
            _earlier_generation(out_dir, customers, seed) or {"wall_s": None}
        )
    generation["raw_rows_total"] = sum(count_raw_rows(raw_dir).values())

    # The raw data the full build reads: as generated, or the day-1 layout.
    build_raw_dir, full_vars, daily, day = raw_dir, None, None, None
    if refresh:
        day = refresh_day(raw_dir)
        build_raw_dir = daily_raw_dir(raw_dir)
        echo(
            f"{label} daily layout in {build_raw_dir}: event files received "
            f"before {day}"
        )
        daily = prepare_daily_raw(raw_dir, build_raw_dir, day)
        # Everything before D is known: the full build is as of D.
        full_vars = {"as_of_date": day.isoformat(), "retrain": True}
    raw_rows = count_raw_rows(build_raw_dir)

    db_path = run_dir / "warehouse.duckdb"
    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(run_dir / "exports", ignore_errors=True)
    target = run_dir / "dbt"
    env = {
        **base_env,
        "SEGMENTS_RAW_DIR": str(build_raw_dir),
        "SEGMENTS_DB": str(db_path),
        "SEGMENTS_EXPORTS_DIR": str(run_dir / "exports"),
        "DBT_LOG_PATH": str(run_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    echo(f"{label} dbt build into {db_path} (log: {run_dir / 'dbt.log'})")
    figures, run_results, nodes = _timed_dbt_build(
        _dbt_build_command(dbt, tests, full_vars),
        project_dir=project_dir,
        env=env,
        run_dir=run_dir,
        name="dbt",
        target=target,
    )
    if run_results is None:
        raise RuntimeError(
            f"dbt build wrote no run_results.json (exit {figures['exit_code']}); "
            f"see {run_dir / 'dbt.log'}"
        )
    figures["vars"] = full_vars or {}
    figures["as_of_date"] = (full_vars or {}).get("as_of_date")

    raw_total = sum(raw_rows.values())
    result = {
        "schema_version": SCHEMA_VERSION,
        "customers": customers,
        "seed": seed,
        "tests": tests,
        "started_at": started_at,
        "machine": machine_info(),
        "git": git_info(project_dir),
        "load_average_before": [round(x, 2) for x in load_before],
        "project_dir": str(project_dir),
        "raw_dir": str(build_raw_dir),
        "generated_raw_dir": str(raw_dir),
        "raw_layout": ("daily event files, day 1" if refresh else "one file per table"),
        "run_dir": str(run_dir),
        "raw_rows": raw_rows,
        "raw_rows_total": raw_total,
        "generation": generation,
        "build": figures,
        "phases": add_throughput(
            group_phases(run_results, nodes), raw_total, customers
        ),
        "staging_by_table": staging_by_table(run_results, raw_rows),
        "slowest_nodes": slowest_nodes(run_results, nodes),
        "notes": [
            "phase seconds: sum of dbt execution_time per node; with several dbt "
            "threads phases overlap, see build.elapsed_s for the build's elapsed time",
            "max_rss_kb: peak resident set size of one process (the largest of it "
            "and its descendants, not a sum); dbt-duckdb runs DuckDB and the Python "
            "models in the dbt process, so the dbt build's peak is the build's peak",
            "python model throughput: generated customers per second",
            "raw_rows: rows of the raw files the full build read; "
            "generation.raw_rows_total: rows generated",
        ],
    }
    if day is not None:
        result["refresh"] = _run_refresh(
            figures,
            raw_dir=raw_dir,
            daily_dir=build_raw_dir,
            day=day,
            daily=daily or {},
            dbt=dbt,
            tests=tests,
            project_dir=project_dir,
            env=env,
            run_dir=run_dir,
            full_target=target,
            echo=lambda text: echo(f"{label} {text}"),
        )
    result["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    (out_dir / result_file_name(customers, tests)).write_text(
        json.dumps(result, indent=2) + "\n"
    )
    return result


def _run_refresh(
    full: Mapping[str, Any],
    *,
    raw_dir: Path,
    daily_dir: Path,
    day: dt.date,
    daily: Mapping[str, Any],
    dbt: Path,
    tests: bool,
    project_dir: Path,
    env: Mapping[str, str],
    run_dir: Path,
    full_target: Path,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    """Deliver day ``day``'s event files and time the daily refresh build.

    Returns the ``refresh`` part of a result: the day, the new files and their
    rows, the build's figures, phases, slowest nodes, the incremental loads
    its log reports and the ratios to the full build ``full``; or only
    ``skipped`` (why) when the full build failed.
    """
    # D's files arrive; the refresh is as of the day after D (the default).
    as_of = day + dt.timedelta(days=1)
    refresh: dict[str, Any] = {
        "as_of_date": as_of.isoformat(),
        "raw_dir": str(daily_dir),
        "link_method": daily.get("link_method"),
        "day_one_raw_rows": dict(daily.get("day_one_rows") or {}),
    }
    if full.get("exit_code") != 0:
        refresh["skipped"] = "the full build failed"
        return refresh
    new_rows = deliver_new_day(raw_dir, daily_dir, day)
    refresh["new_files"] = {
        table: str(daily_dir / table / NEW_DAY_FILE) for table in new_rows
    }
    refresh["new_raw_rows"] = new_rows
    refresh["new_raw_rows_total"] = sum(new_rows.values())
    target = run_dir / "dbt_refresh"
    target.mkdir(parents=True, exist_ok=True)
    # What a daily job finds in its target directory: the last build's parse.
    partial_parse = full_target / "partial_parse.msgpack"
    if partial_parse.is_file():
        shutil.copy2(partial_parse, target / partial_parse.name)
    refresh_vars = {"as_of_date": as_of.isoformat(), "retrain": False}
    echo(
        f"daily refresh: {refresh['new_raw_rows_total']:,} new raw rows, dbt build "
        f"as of {as_of} without retraining (log: {run_dir / 'refresh.log'})"
    )
    figures, run_results, nodes = _timed_dbt_build(
        _dbt_build_command(dbt, tests, refresh_vars),
        project_dir=project_dir,
        env=env,
        run_dir=run_dir,
        name="refresh",
        target=target,
    )
    figures["vars"] = refresh_vars
    refresh["build"] = figures
    refresh["incremental_loads"] = parse_incremental_loads(
        (run_dir / "refresh.log").read_text(errors="replace")
    )
    if run_results is not None:
        refresh["phases"] = group_phases(run_results, nodes)
        refresh["slowest_nodes"] = slowest_nodes(run_results, nodes, top=10)
    refresh["ratio"] = refresh_ratios(full, figures)
    return refresh


def _earlier_generation(
    out_dir: Path, customers: int, seed: int
) -> dict[str, Any] | None:
    """Generation figures of an earlier run that generated this data set."""
    for tests in (True, False):
        path = out_dir / result_file_name(customers, tests)
        if not path.is_file():
            continue
        earlier = json.loads(path.read_text())
        generation = earlier.get("generation", {})
        if earlier.get("seed") != seed or generation.get("wall_s") is None:
            continue
        return {
            key: generation.get(key)
            for key in ("wall_s", "max_rss_kb", "user_s", "system_s", "rss_method")
        } | {"measured_at": generation.get("measured_at", earlier.get("started_at"))}
    return None
