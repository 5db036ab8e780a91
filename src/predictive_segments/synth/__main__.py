"""Command line: ``python -m predictive_segments.synth --customers N --out DIR``.

``--real-export`` writes a CDNOW-like orders export instead (see
``_real_export``): ``--customers 20000 --seed 7 --out DIR [--format csv]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

from ._generate import SynthConfig, generate
from ._real_export import (
    TIMES_OF_DAY,
    RealExportConfig,
    generate_real_export,
    write_real_export,
)
from ._write import FORMATS, write

_REAL_EXPORT_ONLY = ("months", "start", "time_of_day")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m predictive_segments.synth",
        description="Write synthetic raw tables (docs/raw_contract.md) and their "
        "truth to a directory.",
    )
    p.add_argument(
        "--customers",
        type=int,
        default=None,
        help="default 100000 (20000 with --real-export)",
    )
    p.add_argument("--seed", type=int, default=42, help="default 42")
    p.add_argument("--out", default="data/raw", help="default data/raw")
    p.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=date(2026, 9, 30),
        help="as-of date T, YYYY-MM-DD (default 2026-09-30): the data ends the "
        "day before, so T is the default as_of_date of a build",
    )
    p.add_argument("--history-days", type=int, default=730, help="default 730")
    p.add_argument(
        "--bad-row-rate",
        type=float,
        default=0.01,
        help="share of injected bad rows per table (default 0.01)",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="default parquet (csv with --real-export)",
    )
    p.add_argument(
        "--orders-only",
        action="store_true",
        help="write only orders with order_id, customer_id, ordered_at, amount (EUR)",
    )
    p.add_argument(
        "--skip-if-present",
        action="store_true",
        help="do nothing when OUT already holds data generated with these options",
    )
    real = p.add_argument_group(
        "real export",
        "a CDNOW-like orders export: one 1997 cohort, orders only, $0 orders, "
        "refunds, dates without a time, null ids written as text",
    )
    real.add_argument(
        "--real-export",
        action="store_true",
        help="write only orders.csv (or .parquet) shaped like a real export",
    )
    real.add_argument("--months", type=int, help="months of history (default 18)")
    real.add_argument(
        "--start",
        type=date.fromisoformat,
        help="first day of the export, YYYY-MM-DD (default 1997-01-01)",
    )
    real.add_argument(
        "--time-of-day",
        choices=TIMES_OF_DAY,
        help="none: dates only (default); noon: every order at 12:00:00",
    )
    args = p.parse_args(argv)
    if not args.real_export:
        given = [o for o in _REAL_EXPORT_ONLY if getattr(args, o) is not None]
        if given:
            flags = ", ".join("--" + o.replace("_", "-") for o in given)
            p.error(f"{flags} need --real-export")
    elif args.orders_only:
        p.error("--orders-only does not apply with --real-export (it writes orders)")
    return args


def _already_generated(out: str, config: SynthConfig, fmt: str) -> bool:
    """True when ``out`` holds a complete data set made with ``config``."""
    manifest_path = Path(out) / "truth" / "manifest.json"
    if not manifest_path.is_file():
        return False
    manifest = json.loads(manifest_path.read_text())
    wanted = {
        "customers": config.customers,
        "seed": config.seed,
        "as_of_date": config.as_of.isoformat(),
        "bad_row_rate": config.bad_row_rate,
        "orders_only": config.orders_only,
        "format": fmt,
    }
    if any(manifest.get(key) != value for key, value in wanted.items()):
        return False
    # Older versions wrote data that ends on as_of_date itself (their
    # manifest has no last_order_date): write it again, ending the day before.
    last = manifest.get("last_order_date", wanted["as_of_date"])
    if last is not None and last >= wanted["as_of_date"]:
        return False
    tables = manifest["raw_rows"]
    return all((Path(out) / f"{table}.{fmt}").is_file() for table in tables)


def _real_export_present(out: str, config: RealExportConfig, fmt: str) -> bool:
    """True when ``out`` holds a complete real export made with ``config``."""
    manifest_path = Path(out) / "truth" / "manifest.json"
    if not manifest_path.is_file():
        return False
    manifest = json.loads(manifest_path.read_text())
    return (
        manifest.get("mode") == "real_export"
        and manifest.get("config") == config.as_dict()
        and manifest.get("format") == fmt
        and (Path(out) / f"orders.{fmt}").is_file()
    )


def _main_real_export(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    fmt = args.format or "csv"
    options = {o: getattr(args, o) for o in _REAL_EXPORT_ONLY}
    options = {k: v for k, v in options.items() if v is not None}
    try:
        config = RealExportConfig(
            customers=20_000 if args.customers is None else args.customers,
            seed=args.seed,
            **options,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.skip_if_present and _real_export_present(args.out, config, fmt):
        print(
            f"real export in {args.out} is already there "
            f"({config.customers} customers, seed {config.seed})"
        )
        return 0
    result = generate_real_export(config)
    out = write_real_export(result, args.out, fmt)
    m = result.manifest
    print(
        f"wrote {out} in {time.perf_counter() - started:.1f}s: "
        f"orders={m['raw_rows']['orders']} from {m['first_order_date']} to "
        f"{m['last_order_date']}; one-time buyers {m['one_time_buyer_share']:.1%}, "
        f"mean order value {m['mean_order_value']}, null-like ids "
        f"{m['null_id_rows']}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the generator; returns the process exit code."""
    args = _parse_args(argv)
    if args.real_export:
        return _main_real_export(args)
    args.customers = 100_000 if args.customers is None else args.customers
    args.format = args.format or "parquet"
    started = time.perf_counter()
    try:
        config = SynthConfig(
            customers=args.customers,
            seed=args.seed,
            as_of=args.as_of,
            history_days=args.history_days,
            bad_row_rate=args.bad_row_rate,
            orders_only=args.orders_only,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.skip_if_present and _already_generated(args.out, config, args.format):
        print(
            f"demo data in {args.out} is already there "
            f"({config.customers} customers, seed {config.seed})"
        )
        return 0
    result = generate(config)
    out = write(result, args.out, args.format)
    rows = ", ".join(f"{k}={v}" for k, v in result.manifest["raw_rows"].items())
    oracle = result.manifest["oracle"]
    print(
        f"wrote {out} in {time.perf_counter() - started:.1f}s: {rows}; "
        f"oracle churn AUC {oracle['churn_auc']}, purchase AUC "
        f"{oracle['purchase_auc']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
