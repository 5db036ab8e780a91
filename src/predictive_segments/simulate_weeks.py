"""Build the warehouse at several weekly as_of_dates to accumulate history.

`make simulate-weeks` runs this on the demo data: it builds the warehouse
(SEGMENTS_DB, from SEGMENTS_RAW_DIR) at `--weeks` as_of_dates `--step-days`
apart, oldest first, ending at the default as_of_date (the day after the last
staged order date, so that the last day's orders are in the features) or
`--end-date`. Each build trains and scores as of its date, so the
segment snapshot (snap_customer_segments) records how customers move, and
rpt_segment_migration and the segment_stability test see real history (dbt's
run_results.json of each build is kept as run_results.<as_of_date>.json). Point
in time: a build as of an earlier date reads only data before that date, so
weeks simulated on one raw data set equal weekly builds on the data as it
arrived.

Builds before the last one skip the data tests (`--exclude
resource_type:test`); the last one runs them all (`--test-every-week` runs
them at every date). History only moves forward: `--replace-history` drops
the snapshots and the models tagged history (fct_customer_score_history)
first and full-refreshes the first build;
without it, a warehouse whose history is newer than the first date stops
with dbt's error (assert_history_moves_forward). After the last build
the serving copy that BI tools read is published (predictive_segments.serving):
only a build that ran the data tests is served.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb

from predictive_segments import serving

DBT = Path(sys.executable).with_name("dbt")


def weekly_dates(end_date: dt.date, weeks: int, step_days: int) -> list[dt.date]:
    """`weeks` dates `step_days` apart, oldest first, the last one `end_date`."""
    if weeks < 1:
        raise ValueError(f"--weeks must be at least 1, got {weeks}")
    if step_days < 1:
        raise ValueError(f"--step-days must be at least 1, got {step_days}")
    return [
        end_date - dt.timedelta(days=step_days * back)
        for back in range(weeks - 1, -1, -1)
    ]


def build_vars(extra: dict, as_of_date: dt.date) -> str:
    """The --vars argument: `extra` with as_of_date set (JSON is valid YAML)."""
    return json.dumps({**extra, "as_of_date": as_of_date.isoformat()}, sort_keys=True)


def parse_vars(text: str) -> dict:
    """--vars given to this script: a JSON or YAML mapping."""
    import yaml

    value = yaml.safe_load(text) if text else {}
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SystemExit(
            f"--vars must be a mapping such as '{{key: value}}', got {text!r}"
        )
    if "as_of_date" in value:
        raise SystemExit(
            "--vars must not set as_of_date: use --end-date and --step-days"
        )
    return value


class Warehouse:
    """dbt commands and queries on one warehouse (SEGMENTS_DB)."""

    def __init__(self, project_dir: Path, db_path: Path):
        self.project_dir = project_dir
        self.db_path = db_path

    def dbt(self, args: Sequence[str]) -> None:
        command = [str(DBT), *args, "--profiles-dir", ".", "--project-dir", "."]
        print("+ dbt " + " ".join(args), flush=True)
        completed = subprocess.run(command, cwd=self.project_dir, check=False)
        if completed.returncode != 0:
            raise SystemExit(
                f"dbt {args[0]} failed (exit {completed.returncode}); "
                "see the dbt output above"
            )

    def keep_run_results(self, as_of_date: dt.date) -> Path:
        """Copy dbt's run_results.json to run_results.<as_of_date>.json beside it."""
        target = Path(os.environ.get("DBT_TARGET_PATH") or "target")
        if not target.is_absolute():
            target = self.project_dir / target
        kept = target / f"run_results.{as_of_date.isoformat()}.json"
        shutil.copyfile(target / "run_results.json", kept)
        return kept

    def publish(self) -> None:
        """Publish the serving copy of the warehouse (predictive_segments.serving)
        from the last build's manifest and run results; stop when it fails."""
        arguments = ["--db", str(self.db_path), "--project-dir", str(self.project_dir)]
        if serving.main(["publish", *arguments]) != 0:
            raise SystemExit("publishing the serving copy failed; see above")

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.db_path), read_only=True) as connection:
            return connection.execute(sql).fetchall()

    def execute(self, sql: str) -> None:
        with duckdb.connect(str(self.db_path)) as connection:
            connection.execute(sql)

    def default_as_of_date(self) -> dt.date:
        """The default as_of_date: the day after the last staged order date."""
        self.dbt(
            [
                "build",
                "--select",
                "+stg_shop__orders",
                "--exclude",
                "resource_type:test",
            ]
        )
        (last,) = self.query("select max(ordered_date) from stg_shop__orders")[0]
        if last is None:
            raise SystemExit(
                "No valid orders were staged, so there is no default end date: check "
                "int_raw_rows_quarantined or pass --end-date YYYY-MM-DD"
            )
        return last + dt.timedelta(days=1)

    def drop_history(self) -> None:
        """Drop the recorded history: every snapshot and model tagged history."""
        listing = subprocess.run(
            [
                str(DBT),
                "ls",
                "--select",
                "resource_type:snapshot",
                "tag:history",
                "--resource-type",
                "snapshot",
                "model",
                "--output",
                "json",
                "--output-keys",
                "name",
                "schema",
                "--profiles-dir",
                ".",
                "--project-dir",
                ".",
                "--quiet",
            ],
            cwd=self.project_dir,
            check=True,
            capture_output=True,
            text=True,
        )
        nodes = [
            json.loads(line)
            for line in listing.stdout.splitlines()
            if line.startswith("{")
        ]
        if not nodes:
            raise SystemExit("dbt ls found no snapshot or history model to drop")
        if not self.db_path.exists():
            return
        for node in nodes:
            print(f"dropping history {node['schema']}.{node['name']}", flush=True)
            self.execute(f'drop table if exists "{node["schema"]}"."{node["name"]}"')


def migration_summary(warehouse: Warehouse) -> list[tuple]:
    """(from, to, customers compared, share that kept their segment) per pair."""
    return warehouse.query(
        """
        select
            from_as_of_date,
            to_as_of_date,
            sum(customers) filter (where not is_new_customer) as compared,
            sum(customers) filter (where is_stay)
                / sum(customers) filter (where not is_new_customer) as kept_share,
            sum(customers) filter (where is_new_customer) as new_customers
        from rpt_segment_migration
        group by all
        order by from_as_of_date
        """
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--weeks", type=int, default=4, help="number of builds (default 4)"
    )
    parser.add_argument("--step-days", type=int, default=7, help="days between builds")
    parser.add_argument(
        "--end-date",
        type=dt.date.fromisoformat,
        help="as_of_date of the last build (default: the day after the last "
        "staged order date, as a build without as_of_date)",
    )
    parser.add_argument("--vars", default="", help="extra dbt vars for every build")
    parser.add_argument(
        "--replace-history",
        action="store_true",
        help="drop the recorded history first and full-refresh the first build",
    )
    parser.add_argument(
        "--test-every-week",
        action="store_true",
        help="run the data tests at every date, not only at the last one",
    )
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)

    db_value = os.environ.get("SEGMENTS_DB")
    if not db_value or db_value == ":memory:":
        raise SystemExit(
            "Set SEGMENTS_DB to the warehouse file to build (make does it)"
        )
    db_path = Path(db_value)
    if not db_path.is_absolute():
        db_path = args.project_dir / db_path
    extra_vars = parse_vars(args.vars)
    warehouse = Warehouse(args.project_dir, db_path)

    if args.replace_history:
        warehouse.drop_history()
    end_date = args.end_date or warehouse.default_as_of_date()
    dates = weekly_dates(end_date, args.weeks, args.step_days)
    print("as_of_dates: " + ", ".join(date.isoformat() for date in dates), flush=True)

    for index, as_of_date in enumerate(dates):
        command = ["build", "--vars", build_vars(extra_vars, as_of_date)]
        if index == 0 and args.replace_history:
            command.append("--full-refresh")
        if index < len(dates) - 1 and not args.test_every_week:
            command += ["--exclude", "resource_type:test"]
        warehouse.dbt(command)
        warehouse.keep_run_results(as_of_date)
    warehouse.publish()

    print("\nSegment migration (rpt_segment_migration):")
    print(f"{'from':<12} {'to':<12} {'compared':>9} {'kept':>7} {'new':>6}")
    for from_date, to_date, compared, kept_share, new_customers in migration_summary(
        warehouse
    ):
        print(
            f"{from_date.isoformat():<12} {to_date.isoformat():<12} {compared or 0:>9} "
            f"{(kept_share or 0):>7.1%} {new_customers or 0:>6}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
