"""Fuzz the raw contract: malformed raw files never vanish and never crash.

Each case writes a small raw directory (a slice of the CI raw data: 300
customers and their rows) with one or more malformed files in it, builds only
staging (and the quarantine model), and asserts one of two outcomes:

- the build succeeds and every row of every file is accounted for, staged or
  quarantined with a reason (planted rows with the reason expected), or
- the build fails with a message that names the file and the problem, and no
  Python traceback.

Cases that succeed touch several tables in one build to keep the file fast;
the builds of all cases run two at a time (conftest.run_dbt, which also
reuses dbt's parse between builds).
"""

from __future__ import annotations

import csv
import io
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

SLICE_CUSTOMERS = 300
RAW_TABLES = (
    "customers",
    "orders",
    "products",
    "order_items",
    "events",
    "email_events",
    "support_tickets",
    "campaign_assignments",
)
KEY_COLUMNS = {
    "customers": ("customer_id",),
    "orders": ("order_id",),
    "products": ("product_id",),
    "order_items": ("order_item_id",),
    "events": ("event_id",),
    "email_events": ("email_event_id",),
    "support_tickets": ("ticket_id",),
    "campaign_assignments": ("campaign_id", "customer_id"),
}
# Staging only: the base models, the staging views, the quarantine model and
# the seeds they read, with the tests among them (raw_rows_reconcile
# included); relationships tests reach beyond staging. The guards before
# features (stg_shop__raw_table_loads) are left out: they would stop most
# of these deliberately malformed directories (tests/integration/
# test_guards.py tests them), and the staging views do not read them.
BUILD_ARGS = [
    "build",
    "--select",
    "+int_raw_rows_quarantined",
    "staging",
    "--exclude",
    "test_name:relationships",
    "stg_shop__raw_table_loads",
]
TRACEBACK = "Traceback (most recent call last)"


@pytest.fixture(scope="session")
def raw_slice(ci_raw_dir: Path, tmp_path_factory) -> Path:
    """The CI raw data of the first 300 customers, one parquet file a table."""
    target = tmp_path_factory.mktemp("raw_slice")
    with duckdb.connect() as connection:
        connection.execute(
            "create table slice_customers as select distinct customer_id "
            f"from read_parquet('{ci_raw_dir}/customers.parquet') "
            "where customer_id is not null "
            f"order by customer_id limit {SLICE_CUSTOMERS}"
        )
        for table in RAW_TABLES:
            source = f"read_parquet('{ci_raw_dir}/{table}.parquet')"
            if table == "products":
                query = f"select * from {source}"
            elif table == "order_items":
                query = (
                    f"select * from {source} where order_id in (select order_id "
                    f"from read_parquet('{target}/orders.parquet'))"
                )
            else:
                query = (
                    f"select * from {source} where trim(customer_id) in "
                    "(select customer_id from slice_customers)"
                )
            connection.execute(
                f"copy ({query}) to '{target}/{table}.parquet' (format parquet)"
            )
    return target


def _slice_rows(raw_slice: Path, table: str) -> tuple[list[str], list[list[str]]]:
    """Column names and rows (as text, '' for null) of one table of the slice."""
    with duckdb.connect() as connection:
        relation = connection.sql(
            f"select * from read_parquet('{raw_slice}/{table}.parquet')"
        )
        columns = relation.columns
        rows = [
            ["" if value is None else str(value) for value in row]
            for row in relation.fetchall()
        ]
    return columns, rows


def _planted(columns: list[str], template: list[str], **values: str) -> list[str]:
    """A copy of `template` with some columns replaced."""
    row = list(template)
    for name, value in values.items():
        row[columns.index(name)] = value
    return row


# A writer puts one malformed file into the raw directory and returns what
# the test expects of that table: rows in the file, and per planted row the
# (key, reason) expected, reason None for a staged row, key None for a row
# quarantined without a key.
@dataclass
class Planted:
    rows: int
    expected: list[tuple[str | None, str | None]] = field(default_factory=list)


Writer = Callable[[Path, Path], Planted]


def _write_csv(
    path: Path, columns: list[str], rows: list[list[str]], encoding: str = "utf-8"
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))


def empty_file(table: str, fmt: str) -> Writer:
    def write(raw_dir: Path, raw_slice: Path) -> Planted:
        (raw_dir / f"{table}.{fmt}").write_bytes(b"")
        return Planted(rows=0)

    return write


def header_only_csv(table: str) -> Writer:
    def write(raw_dir: Path, raw_slice: Path) -> Planted:
        columns, _ = _slice_rows(raw_slice, table)
        _write_csv(raw_dir / f"{table}.csv", columns, [])
        return Planted(rows=0)

    return write


def csv_with_planted_rows(
    table: str, planted: list[tuple[dict[str, str], str | None, str | None]]
) -> Writer:
    """The slice of `table` as CSV plus rows (values, expected key, reason)."""

    def write(raw_dir: Path, raw_slice: Path) -> Planted:
        columns, rows = _slice_rows(raw_slice, table)
        template = rows[0]
        extra = [_planted(columns, template, **values) for values, _, _ in planted]
        _write_csv(raw_dir / f"{table}.csv", columns, rows + extra)
        return Planted(
            rows=len(rows) + len(extra),
            expected=[(key, reason) for _, key, reason in planted],
        )

    return write


def parquet_with_planted_rows(
    table: str, planted_select: str, expected: list[tuple[str | None, str | None]]
) -> Writer:
    """The slice of `table` as parquet, its columns retyped or rows added.

    `planted_select` is a select over `slice` (the slice of the table) whose
    result is the file.
    """

    def write(raw_dir: Path, raw_slice: Path) -> Planted:
        target = raw_dir / f"{table}.parquet"
        with duckdb.connect() as connection:
            connection.execute(
                "create view slice as select * from "
                f"read_parquet('{raw_slice}/{table}.parquet')"
            )
            connection.execute(
                f"copy ({planted_select}) to '{target}' (format parquet)"
            )
            rows = connection.execute(
                f"select count(*) from read_parquet('{target}')"
            ).fetchall()[0][0]
        return Planted(rows=rows, expected=expected)

    return write


def duplicated_column_csv(table: str, column: str) -> Writer:
    def write(raw_dir: Path, raw_slice: Path) -> Planted:
        columns, rows = _slice_rows(raw_slice, table)
        index = columns.index(column)
        # The copy disagrees with the original: which one is meant?
        _write_csv(
            raw_dir / f"{table}.csv",
            [*columns, column],
            [[*row, row[index] + "0"] for row in rows],
        )
        return Planted(rows=len(rows))

    return write


def duplicated_column_parquet(table: str, column: str, duplicate: str) -> Writer:
    """The slice as parquet with `column` again as `duplicate` (pyarrow keeps
    duplicated names; DuckDB would rename them on write)."""

    def write(raw_dir: Path, raw_slice: Path) -> Planted:
        frame = pq.read_table(raw_slice / f"{table}.parquet")
        frame = frame.append_column(duplicate, frame.column(column))
        pq.write_table(frame, raw_dir / f"{table}.parquet")
        return Planted(rows=frame.num_rows)

    return write


def non_utf8_csv(table: str, column: str, value: str) -> Writer:
    """The slice as Latin-1 CSV: `value` (with non-ASCII letters) near the end."""

    def write(raw_dir: Path, raw_slice: Path) -> Planted:
        columns, rows = _slice_rows(raw_slice, table)
        rows[-2] = _planted(columns, rows[-2], **{column: value})
        _write_csv(raw_dir / f"{table}.csv", columns, rows, encoding="latin-1")
        return Planted(rows=len(rows))

    return write


def ragged_csv(table: str) -> Writer:
    """Some rows have a field too few, one a field too many."""

    def write(raw_dir: Path, raw_slice: Path) -> Planted:
        columns, rows = _slice_rows(raw_slice, table)
        lines = [",".join(columns)]
        for number, row in enumerate(rows):
            if number in (10, 11):
                row = row[:-1]
            elif number == 12:
                row = [*row, "extra"]
            lines.append(",".join(row))
        (raw_dir / f"{table}.csv").write_text("\n".join(lines) + "\n")
        return Planted(rows=len(rows))

    return write


def not_parquet(table: str) -> Writer:
    def write(raw_dir: Path, raw_slice: Path) -> Planted:
        (raw_dir / f"{table}.parquet").write_text("order_id,amount\n1,2\n")
        return Planted(rows=1)

    return write


@dataclass
class Case:
    name: str
    writers: dict[str, Writer]
    # Fails: substrings the output must contain ({path} is the file's path),
    # case-insensitive. Builds: None.
    message: list[str] | None = None


def _customer(index: int) -> str:
    return f"C{index:08d}"


CASES = [
    Case(
        "empty_orders_csv",
        {"orders": empty_file("orders", "csv")},
        message=["{path}", "is empty"],
    ),
    Case(
        "empty_customers_parquet",
        {"customers": empty_file("customers", "parquet")},
        message=["{path}", "is empty"],
    ),
    Case(
        "header_only_orders_and_events_csv",
        {"orders": header_only_csv("orders"), "events": header_only_csv("events")},
    ),
    Case(
        "wrong_types",
        {
            "orders": csv_with_planted_rows(
                "orders",
                [
                    (
                        {"order_id": "fuzz-o1", "amount": "abc"},
                        "fuzz-o1",
                        "invalid_amount",
                    ),
                    (
                        {"order_id": "fuzz-o2", "amount": "12,50"},
                        "fuzz-o2",
                        "invalid_amount",
                    ),
                    (
                        {"order_id": "fuzz-o3", "amount": "true"},
                        "fuzz-o3",
                        "invalid_amount",
                    ),
                    (
                        {"order_id": "fuzz-o4", "ordered_at": "yesterday"},
                        "fuzz-o4",
                        "invalid_timestamp",
                    ),
                    (
                        {"order_id": "fuzz-o5", "ordered_at": "2024-13-45"},
                        "fuzz-o5",
                        "invalid_timestamp",
                    ),
                    (
                        {"order_id": "fuzz-o6", "ordered_at": "1711000000"},
                        "fuzz-o6",
                        "invalid_timestamp",
                    ),
                    ({"order_id": "1.5e3", "amount": "12.5"}, "1.5e3", None),
                ],
            ),
            # Physical types the contract does not expect.
            "order_items": parquet_with_planted_rows(
                "order_items",
                "select order_item_id, order_id, product_id, "
                "case when order_item_id = (select min(order_item_id) from slice) "
                "then 'two' else cast(quantity as varchar) end as quantity, "
                "unit_price > 0 as unit_price from slice",
                [],
            ),
            "events": parquet_with_planted_rows(
                "events",
                "select * replace (epoch(occurred_at)::bigint as occurred_at, "
                "[received_at] as received_at) from slice",
                [],
            ),
        },
    ),
    Case(
        "all_null_required_columns",
        {
            "orders": parquet_with_planted_rows(
                "orders",
                "select * replace (null as customer_id) from slice",
                [],
            ),
            "customers": parquet_with_planted_rows(
                "customers",
                "select * replace (cast(null as varchar) as customer_id) from slice",
                [],
            ),
            "email_events": parquet_with_planted_rows(
                "email_events",
                "select * replace (null as occurred_at) from slice",
                [],
            ),
        },
    ),
    Case(
        "duplicated_column_orders_csv",
        {"orders": duplicated_column_csv("orders", "amount")},
        message=["{path}", "amount", "more than once"],
    ),
    Case(
        "duplicated_column_events_parquet",
        {"events": duplicated_column_parquet("events", "event_type", "Event_Type")},
        message=["{path}", "event_type", "more than once"],
    ),
    Case(
        "non_utf8_orders_csv",
        {"orders": non_utf8_csv("orders", "channel", "bücher")},
        message=["{path}", "utf-8"],
    ),
    Case(
        "non_utf8_customers_csv",
        {"customers": non_utf8_csv("customers", "country", "Österreich")},
        message=["{path}", "utf-8"],
    ),
    Case(
        "ragged_orders_csv",
        {"orders": ragged_csv("orders")},
        message=["{path}", "number of fields"],
    ),
    Case(
        "not_a_parquet_orders_file",
        {"orders": not_parquet("orders")},
        message=["{path}", "parquet"],
    ),
    Case(
        "absurd_numbers",
        {
            "orders": csv_with_planted_rows(
                "orders",
                [
                    (
                        {"order_id": f"fuzz-o{number}", "amount": amount},
                        f"fuzz-o{number}",
                        reason,
                    )
                    for number, (amount, reason) in enumerate(
                        [
                            ("1e308", "absurd_amount"),
                            ("-1e400", "absurd_amount"),
                            ("inf", "absurd_amount"),
                            ("nan", "absurd_amount"),
                            ("99999999999999999999999", "absurd_amount"),
                            ("100000", "absurd_amount"),
                            ("1e-300", None),
                            ("99999.99", None),
                        ]
                    )
                ],
            ),
            "order_items": csv_with_planted_rows(
                "order_items",
                [
                    (
                        {
                            "order_item_id": f"fuzz-i{number}",
                            "quantity": quantity,
                            "unit_price": price,
                        },
                        f"fuzz-i{number}",
                        reason,
                    )
                    for number, (quantity, price, reason) in enumerate(
                        [
                            ("1e12", "", "invalid_quantity"),
                            ("2147483648", "", "invalid_quantity"),
                            ("-5", "1", "invalid_quantity"),
                            ("0.5", "1", "invalid_quantity"),
                            ("1", "1e300", "absurd_amount"),
                            ("1", "nan", "absurd_amount"),
                        ]
                    )
                ],
            ),
            "customers": csv_with_planted_rows(
                "customers",
                [
                    (
                        {"customer_id": f"fuzz-c{number}", "birth_year": year},
                        f"fuzz-c{number}",
                        reason,
                    )
                    for number, (year, reason) in enumerate(
                        [
                            ("1e12", "invalid_birth_year"),
                            ("-1", "invalid_birth_year"),
                            ("1985.5", "invalid_birth_year"),
                            ("99999", "invalid_birth_year"),
                            ("1985.0", None),
                        ]
                    )
                ],
            ),
            "support_tickets": csv_with_planted_rows(
                "support_tickets",
                [
                    (
                        {"ticket_id": f"fuzz-t{number}", "csat_score": score},
                        f"fuzz-t{number}",
                        reason,
                    )
                    for number, (score, reason) in enumerate(
                        [
                            ("1e12", "invalid_csat_score"),
                            ("4.5", "invalid_csat_score"),
                            ("nan", "invalid_csat_score"),
                            ("5", None),
                        ]
                    )
                ],
            ),
            "products": csv_with_planted_rows(
                "products",
                [
                    (
                        {"product_id": f"fuzz-p{number}", "margin_rate": rate},
                        f"fuzz-p{number}",
                        reason,
                    )
                    for number, (rate, reason) in enumerate(
                        [
                            ("inf", "invalid_margin_rate"),
                            ("nan", "invalid_margin_rate"),
                            ("1e300", "invalid_margin_rate"),
                            ("-0", None),
                        ]
                    )
                ],
            ),
        },
    ),
    Case(
        "dates_in_1900_and_2200",
        {
            "orders": csv_with_planted_rows(
                "orders",
                [
                    (
                        {"order_id": f"fuzz-o{number}", "ordered_at": value},
                        f"fuzz-o{number}",
                        reason,
                    )
                    for number, (value, reason) in enumerate(
                        [
                            ("1900-01-01 00:00:00", "timestamp_out_of_range"),
                            ("1899-12-31T23:00:00-05:00", "timestamp_out_of_range"),
                            ("2200-01-01", "timestamp_out_of_range"),
                            ("9999-12-31 23:59:59", "timestamp_out_of_range"),
                            ("infinity", "timestamp_out_of_range"),
                            ("294300-01-01", "invalid_timestamp"),
                            ("2024-02-30", "invalid_timestamp"),
                        ]
                    )
                ],
            ),
            "customers": parquet_with_planted_rows(
                "customers",
                "select * from slice union all by name "
                "select 'fuzz-c1' as customer_id, "
                "timestamp '1900-01-01' as signed_up_at union all by name "
                "select 'fuzz-c2' as customer_id, "
                "timestamp '2200-01-01' as signed_up_at union all by name "
                "select 'fuzz-c3' as customer_id, 1899 as birth_year",
                [
                    ("fuzz-c1", "timestamp_out_of_range"),
                    ("fuzz-c2", "timestamp_out_of_range"),
                    ("fuzz-c3", "invalid_birth_year"),
                ],
            ),
            "events": parquet_with_planted_rows(
                "events",
                "select * from slice union all by name "
                "select 'fuzz-e1' as event_id, 's1' as session_id, "
                "'page_view' as event_type, "
                "timestamp '2200-01-01' as occurred_at union all by name "
                "select 'fuzz-e2' as event_id, 's1' as session_id, "
                "'page_view' as event_type, timestamp '2024-01-01' as occurred_at, "
                "timestamp '1900-01-01' as received_at",
                [
                    ("fuzz-e1", "timestamp_out_of_range"),
                    ("fuzz-e2", "timestamp_out_of_range"),
                ],
            ),
        },
    ),
    Case(
        "ids_with_unicode_and_whitespace",
        {
            "customers": csv_with_planted_rows(
                "customers",
                [
                    ({"customer_id": "fuzz-ü-客户-😀"}, "fuzz-ü-客户-😀", None),
                    ({"customer_id": "\u3000"}, None, "missing_key"),
                ],
            ),
            "orders": csv_with_planted_rows(
                "orders",
                [
                    ({"order_id": " fuzz-o1 "}, "fuzz-o1", None),
                    ({"order_id": "\tfuzz-o2\r\n"}, "fuzz-o2", None),
                    ({"order_id": "\u00a0fuzz-o3\u200b"}, "fuzz-o3", None),
                    ({"order_id": "fuzz-ö-订单-🛒"}, "fuzz-ö-订单-🛒", None),
                    (
                        {"order_id": "fuzz-o5", "customer_id": " fuzz-ü-客户-😀\t"},
                        "fuzz-o5",
                        None,
                    ),
                    (
                        {"order_id": "fuzz-o6", "customer_id": "fuzz-nobody"},
                        "fuzz-o6",
                        "unknown_customer",
                    ),
                    ({"order_id": "\t"}, None, "missing_key"),
                    ({"order_id": "\u2003\u00a0"}, None, "missing_key"),
                ],
            ),
        },
    ),
]


def _prepare_raw_dir(case: Case, raw_slice: Path, raw_dir: Path) -> dict[str, Planted]:
    raw_dir.mkdir()
    for table in RAW_TABLES:
        if table not in case.writers:
            shutil.copy(raw_slice / f"{table}.parquet", raw_dir)
    return {table: writer(raw_dir, raw_slice) for table, writer in case.writers.items()}


def _raw_file(raw_dir: Path, table: str) -> Path:
    return next(raw_dir.glob(f"{table}.*"))


def _assert_fails_clearly(case: Case, result, raw_dir: Path) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, (
        f"{case.name}: expected the build to fail, it passed:\n{output[-3000:]}"
    )
    assert TRACEBACK not in output, f"{case.name}: a traceback:\n{output[-6000:]}"
    (table,) = case.writers
    path = str(_raw_file(raw_dir, table))
    for expected in case.message or []:
        text = expected.format(path=path)
        assert text.lower() in output.lower(), (
            f"{case.name}: the output does not say {text!r}:\n{output[-6000:]}"
        )


def _assert_every_row_accounted(
    case: Case, planted: dict[str, Planted], db_path: Path
) -> None:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        for table, expected in planted.items():
            staged = connection.execute(
                f"select count(*) from stg_shop__{table}"
            ).fetchall()[0][0]
            collapsed = connection.execute(
                f"select count(*) from base_shop__{table} "
                "where _row_status = 'collapsed_duplicate'"
            ).fetchall()[0][0]
            quarantined = connection.execute(
                "select row_key, reason from int_raw_rows_quarantined "
                "where source_table = ?",
                [table],
            ).fetchall()
            assert all(reason for _, reason in quarantined), (case.name, table)
            assert staged + len(quarantined) + collapsed == expected.rows, (
                f"{case.name}: {table} has {expected.rows} raw rows but "
                f"{staged} staged + {len(quarantined)} quarantined + "
                f"{collapsed} collapsed"
            )
            if not expected.expected:
                continue
            (key_column,) = KEY_COLUMNS[table]
            staged_keys = {
                key
                for (key,) in connection.execute(
                    f"select {key_column} from stg_shop__{table}"
                ).fetchall()
            }
            wanted_quarantine = Counter(
                (key or "", reason)
                for key, reason in expected.expected
                if reason is not None
            )
            missing = wanted_quarantine - Counter(quarantined)
            assert not missing, f"{case.name}: {table} did not quarantine {missing}"
            not_staged = {
                key
                for key, reason in expected.expected
                if reason is None and key not in staged_keys
            }
            assert not not_staged, f"{case.name}: {table} did not stage {not_staged}"


@dataclass
class Outcome:
    """One case's build: its raw directory, what was planted, the database."""

    raw_dir: Path
    planted: dict[str, Planted]
    db_path: Path
    result: object


@pytest.fixture(scope="module")
def outcomes(raw_slice: Path, run_dbt, run_concurrently, tmp_path_factory) -> dict:
    """Case name -> its Outcome, or the exception its preparation or build
    raised. Each case has its own raw directory and build; the builds run
    concurrently (conftest.run_dbt: two at a time)."""

    def build(case: Case) -> Outcome | Exception:
        try:
            work = tmp_path_factory.mktemp(case.name)
            raw_dir = work / "raw"
            planted = _prepare_raw_dir(case, raw_slice, raw_dir)
            db_path = work / f"{case.name}.duckdb"
            result = run_dbt(BUILD_ARGS, raw_dir, db_path, work)
            return Outcome(raw_dir, planted, db_path, result)
        except Exception as error:  # reported by the case's own test
            return error

    results = run_concurrently(*(lambda case=case: build(case) for case in CASES))
    return {case.name: result for case, result in zip(CASES, results, strict=True)}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_malformed_raw_file_is_quarantined_or_fails_clearly(
    case: Case, outcomes: dict
) -> None:
    outcome = outcomes[case.name]
    if isinstance(outcome, Exception):
        raise outcome
    raw_dir, planted, db_path, result = (
        outcome.raw_dir,
        outcome.planted,
        outcome.db_path,
        outcome.result,
    )

    if case.message is not None:
        _assert_fails_clearly(case, result, raw_dir)
        return
    output = result.stdout + result.stderr
    assert TRACEBACK not in output, f"{case.name}: a traceback:\n{output[-6000:]}"
    assert result.returncode == 0, f"{case.name}: the build failed:\n{output[-6000:]}"
    _assert_every_row_accounted(case, planted, db_path)
