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

The pure parts (parsing, grouping, rendering) take and return plain dicts and
strings and are unit-tested; only :func:`run_scale` and its helpers run
processes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
TIME_BINARY = Path("/usr/bin/time")
RAW_SUFFIXES = (".parquet", ".csv")

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
    sections = (
        ("Wall time per phase", _time_table),
        ("Throughput", _throughput_table),
        ("Raw rows", _raw_rows_table),
        ("Runs", _runs_table),
    )
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
                value = result["raw_rows_total"] / seconds if seconds else None
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
        "segments_memory_limit": os.environ.get("SEGMENTS_MEMORY_LIMIT", "14GB"),
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
    """Rows per raw file (``<table>.parquet`` / ``.csv``) in ``raw_dir``."""
    import duckdb

    counts = {}
    with duckdb.connect() as connection:
        for path in sorted(raw_dir.iterdir()):
            if path.suffix not in RAW_SUFFIXES or not path.is_file():
                continue
            reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
            literal = str(path).replace("'", "''")
            [(count,)] = connection.execute(
                f"select count(*) from {reader}('{literal}')"
            ).fetchall()
            counts[path.stem] = int(count)
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


def run_scale(
    customers: int,
    *,
    seed: int,
    out_dir: Path,
    data_dir: Path,
    project_dir: Path,
    tests: bool = True,
    regenerate: bool = False,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Generate (or reuse) demo data, build it with dbt, write the result.

    Data go to ``data_dir/customers_<n>_seed_<seed>``; the warehouse, dbt's
    target and logs, and the time reports to ``out_dir/<n>[_no_tests]/``; the
    result to ``out_dir/bench_<n>[_no_tests].json``, which is also returned.
    """
    python = Path(sys.executable)
    dbt = python.with_name("dbt")
    raw_dir = (data_dir / f"customers_{customers}_seed_{seed}").resolve()
    run_dir = (out_dir / f"{customers}{'' if tests else '_no_tests'}").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    raw_dir.parent.mkdir(parents=True, exist_ok=True)
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    load_before = list(os.getloadavg())

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
    manifest = raw_dir / "truth" / "manifest.json"
    written_before = manifest.stat().st_mtime_ns if manifest.is_file() else None
    echo(f"[bench {scale_label(customers)}] generating demo data into {raw_dir}")
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
    raw_rows = count_raw_rows(raw_dir)

    db_path = run_dir / "warehouse.duckdb"
    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(run_dir / "exports", ignore_errors=True)
    target = run_dir / "dbt"
    (target / "run_results.json").unlink(missing_ok=True)
    env = {
        **base_env,
        "SEGMENTS_RAW_DIR": str(raw_dir),
        "SEGMENTS_DB": str(db_path),
        "SEGMENTS_EXPORTS_DIR": str(run_dir / "exports"),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(run_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    build = [str(dbt), "build", "--profiles-dir", ".", "--project-dir", "."]
    if not tests:
        build += ["--exclude-resource-type", "test", "unit_test"]
    echo(
        f"[bench {scale_label(customers)}] dbt build into {db_path} "
        f"(log: {run_dir / 'dbt.log'})"
    )
    figures = run_measured(
        build,
        cwd=project_dir,
        env=env,
        log=run_dir / "dbt.log",
        time_log=run_dir / "dbt.time.txt",
    )
    figures["command"] = build
    results_path = target / "run_results.json"
    if not results_path.is_file():
        raise RuntimeError(
            f"dbt build wrote no run_results.json (exit {figures['exit_code']}); "
            f"see {run_dir / 'dbt.log'}"
        )
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

    raw_total = sum(raw_rows.values())
    result = {
        "schema_version": SCHEMA_VERSION,
        "customers": customers,
        "seed": seed,
        "tests": tests,
        "started_at": started_at,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "git": git_info(project_dir),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "project_dir": str(project_dir),
        "raw_dir": str(raw_dir),
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
        ],
    }
    (out_dir / result_file_name(customers, tests)).write_text(
        json.dumps(result, indent=2) + "\n"
    )
    return result


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
