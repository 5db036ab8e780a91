"""Command line: ``python -m predictive_segments.synth --customers N --out DIR``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

from ._generate import SynthConfig, generate
from ._write import FORMATS, write


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m predictive_segments.synth",
        description="Write synthetic raw tables (docs/raw_contract.md) and their "
        "truth to a directory.",
    )
    p.add_argument("--customers", type=int, default=100_000, help="default 100000")
    p.add_argument("--seed", type=int, default=42, help="default 42")
    p.add_argument("--out", default="data/raw", help="default data/raw")
    p.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=date(2026, 9, 30),
        help="as-of date T, YYYY-MM-DD (default 2026-09-30)",
    )
    p.add_argument("--history-days", type=int, default=730, help="default 730")
    p.add_argument(
        "--bad-row-rate",
        type=float,
        default=0.01,
        help="share of injected bad rows per table (default 0.01)",
    )
    p.add_argument("--format", choices=FORMATS, default="parquet")
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
    return p.parse_args(argv)


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
    tables = manifest["raw_rows"]
    return all((Path(out) / f"{table}.{fmt}").is_file() for table in tables)


def main(argv: list[str] | None = None) -> int:
    """Run the generator; returns the process exit code."""
    args = _parse_args(argv)
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
