"""`make bench`: time demo-data generation and `dbt build` per phase and scale.

For each number of customers given, generates the demo data into its own
directory (reused when already there for that size and seed), builds it with
`dbt build` into its own DuckDB file under the output directory, and writes
`bench_<customers>.json` there. Unless --no-refresh, that build reads the
event tables as daily files up to the day before the last, and a daily
refresh follows on the same warehouse (the last day's files, `retrain: false`),
timed too and compared with the full build. Then renders every result in the
output directory (earlier scales included) as `bench.md` and prints it, so
runs at several scales read as one curve. What each figure means:
src/predictive_segments/bench.py.

    .venv/bin/python benchmarks/bench_pipeline.py --customers 100000 300000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from predictive_segments.bench import load_results, render_markdown, run_scale

PROJECT_DIR = Path(__file__).resolve().parents[1]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="benchmarks/bench_pipeline.py",
        description="Benchmark demo-data generation and dbt build per phase.",
    )
    p.add_argument(
        "--customers",
        type=int,
        nargs="+",
        default=[100_000],
        help="one or more scales, in customers (default 100000)",
    )
    p.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("target/bench"),
        help="warehouses, dbt artifacts, bench_*.json and bench.md "
        "(default target/bench)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data/bench"),
        help="demo data, one directory per scale and seed, kept by `make clean` "
        "(default data/bench)",
    )
    p.add_argument(
        "--no-tests",
        action="store_true",
        help="build without data tests (--exclude-resource-type test unit_test)",
    )
    p.add_argument(
        "--no-refresh",
        action="store_true",
        help="skip the daily refresh: build the generated files as they are, "
        "once (default: build the day before the last from daily event files, "
        "then time the refresh with the last day's files)",
    )
    p.add_argument(
        "--regenerate",
        action="store_true",
        help="generate the demo data even when it is there (times generation)",
    )
    p.add_argument(
        "--project-dir",
        type=Path,
        default=PROJECT_DIR,
        help="dbt project to benchmark (default: this checkout), e.g. a clean "
        "`git clone --shared` of a commit; its src/ goes first on PYTHONPATH",
    )
    p.add_argument(
        "--render-only",
        action="store_true",
        help="run nothing: render bench.md from the bench_*.json in --out",
    )
    args = p.parse_args(argv)
    if any(n < 1 for n in args.customers):
        p.error("--customers: every scale must be at least 1 customer")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the process exit code."""
    args = _parse_args(argv)
    out_dir = args.out if args.out.is_absolute() else PROJECT_DIR / args.out
    data_dir = (
        args.data_dir if args.data_dir.is_absolute() else PROJECT_DIR / args.data_dir
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    exit_code = 0
    if not args.render_only:
        for customers in args.customers:
            try:
                result = run_scale(
                    customers,
                    seed=args.seed,
                    out_dir=out_dir,
                    data_dir=data_dir,
                    project_dir=args.project_dir.resolve(),
                    tests=not args.no_tests,
                    regenerate=args.regenerate,
                    refresh=not args.no_refresh,
                    echo=lambda text: print(text, flush=True),
                )
            except RuntimeError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            build = result["build"]
            if build["exit_code"] != 0:
                print(
                    f"warning: dbt build exited {build['exit_code']} at {customers} "
                    f"customers ({build['statuses']}); see {result['run_dir']}/dbt.log",
                    file=sys.stderr,
                )
                exit_code = 1
            refresh = (result.get("refresh") or {}).get("build")
            if refresh and refresh["exit_code"] != 0:
                print(
                    f"warning: the daily refresh exited {refresh['exit_code']} at "
                    f"{customers} customers ({refresh.get('statuses', {})}); see "
                    f"{result['run_dir']}/refresh.log",
                    file=sys.stderr,
                )
                exit_code = 1
            (out_dir / "bench.md").write_text(render_markdown(load_results(out_dir)))
    markdown = render_markdown(load_results(out_dir))
    (out_dir / "bench.md").write_text(markdown)
    print(markdown, end="")
    print(f"\nwritten: {out_dir / 'bench.md'} and {out_dir}/bench_*.json")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
