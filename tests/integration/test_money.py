"""Money from raw text to staging: DECIMAL all the way, refunds netted by one
rule, and a default currency that is logged when orders has no currency.

docs/raw_contract.md ("Types", "orders") states the rules. Each build writes
a small raw directory (orders and order_items as CSV, text amounts as real
exports write them) and builds staging with its tests (BUILD_ARGS: `--select
+stg_shop__orders +stg_shop__order_items`, the dbt unit test
stg_shop__orders_money_and_refund_netting included).

A double reads `1.005` as 1.00499999..., so rounding it to the cent gives
1.00: every exact value below fails when money goes through a double.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

# Staging of orders and order_items with every test whose parents are all
# built (cautious: not the relationships tests that reach beyond staging).
BUILD_ARGS = [
    "build",
    "--select",
    "+stg_shop__orders",
    "+stg_shop__order_items",
    "int_raw_rows_quarantined",
    "--indirect-selection",
    "cautious",
]
ORDER_COLUMNS = [
    "order_id",
    "customer_id",
    "ordered_at",
    "amount",
    "currency",
    "status",
    "channel",
]
# Valid rows around the planted ones, so that the few planted bad rows stay
# under var max_quarantined_share (the guard before features).
FILLER_ORDERS = 120
NO_CURRENCY_LOG = "orders has no currency column: amounts read as"

# order_id: (amount, currency, status) as written in the raw file, and the
# staged (amount, revenue_amount, is_refund, is_cancelled) expected.
PLANTED_ORDERS = {
    "m-half-cent": (("1.005", "EUR", "completed"), ("1.01", "1.01", False, False)),
    "m-half-cent-2": (("2.675", "EUR", ""), ("2.68", "2.68", False, False)),
    "m-negative-half-cent": (("-1.005", "EUR", ""), ("-1.01", "-1.01", True, False)),
    "m-usd-tie": (("3.375", "usd", "completed"), ("3.11", "3.11", False, False)),
    "m-exponent": (("1e2", "EUR", "completed"), ("100.00", "100.00", False, False)),
    "m-spaces": ((" 7.125 ", "EUR", "completed"), ("7.13", "7.13", False, False)),
    "m-no-currency-value": (("4.445", "", "completed"), ("4.45", "4.45", False, False)),
    "m-free": (("0", "EUR", "completed"), ("0.00", "0.00", False, False)),
    "m-refund-record": (
        ("-12.50", "EUR", "refunded"),
        ("-12.50", "-12.50", True, False),
    ),
    "m-negative-completed": (
        ("-3", "EUR", "completed"),
        ("-3.00", "-3.00", True, False),
    ),
    "m-refunded-positive": (
        ("30.00", "EUR", "refunded"),
        ("30.00", "0.00", True, False),
    ),
    "m-refunded-zero": (("0", "EUR", "refunded"), ("0.00", "0.00", True, False)),
    "m-cancelled": (("20.00", "EUR", "cancelled"), ("20.00", "0.00", False, True)),
    "m-cancelled-negative": (
        ("-5", "EUR", "cancelled"),
        ("-5.00", "0.00", False, True),
    ),
}
# order_id: (amount, reason): still quarantined as before money became DECIMAL.
QUARANTINED_ORDERS = {
    "m-nan": ("nan", "absurd_amount"),
    "m-inf": ("-inf", "absurd_amount"),
    "m-huge": ("1e308", "absurd_amount"),
    "m-text": ("12,50", "invalid_amount"),
}
# order_item_id: (order_id, quantity, unit_price) and the staged
# local_unit_price (a string) or the quarantine reason.
PLANTED_ITEMS = {
    "i-half-cent": (("m-half-cent", "1", "1.005"), "1.01"),
    "i-half-cent-2": (("m-half-cent-2", "2", "2.675"), "2.68"),
    "i-usd": (("m-usd-tie", "1", "3.375"), "3.38"),
    "i-no-price": (("m-half-cent", "1", ""), None),
    "i-nan": (("m-half-cent", "1", "nan"), "absurd_amount"),
    "i-huge": (("m-half-cent", "3", "99999999999999999999999"), "absurd_amount"),
    "i-line-total": (("m-half-cent", "3", "40000"), "absurd_amount"),
    "i-text": (("m-half-cent", "1", "abc"), "invalid_amount"),
}


def _write_csv(path: Path, columns: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


def _ordered_at(number: int) -> str:
    return f"2025-{1 + number % 6:02d}-{1 + number % 27:02d} 10:00:00"


def _write_raw(raw_dir: Path, with_currency: bool) -> None:
    """orders.csv (with or without its currency column) and order_items.csv."""
    raw_dir.mkdir(parents=True)
    rows = [
        [
            f"f-{number}",
            f"c-{number % 40}",
            _ordered_at(number),
            "10.00",
            "EUR",
            "completed",
            "web",
        ]
        for number in range(FILLER_ORDERS)
    ]
    for number, (order_id, ((amount, currency, status), _)) in enumerate(
        PLANTED_ORDERS.items()
    ):
        rows.append(
            [order_id, "c-1", _ordered_at(number), amount, currency, status, "web"]
        )
    for number, (order_id, (amount, _)) in enumerate(QUARANTINED_ORDERS.items()):
        rows.append(
            [order_id, "c-2", _ordered_at(number), amount, "EUR", "completed", "app"]
        )
    columns = list(ORDER_COLUMNS)
    if not with_currency:
        index = columns.index("currency")
        columns.pop(index)
        rows = [row[:index] + row[index + 1 :] for row in rows]
    _write_csv(raw_dir / "orders.csv", columns, rows)

    items = [
        [f"fi-{number}", f"f-{number}", "p-1", "1", "10.00"]
        for number in range(FILLER_ORDERS)
    ]
    for item_id, ((order_id, quantity, price), _) in PLANTED_ITEMS.items():
        items.append([item_id, order_id, "p-1", quantity, price])
    _write_csv(
        raw_dir / "order_items.csv",
        ["order_item_id", "order_id", "product_id", "quantity", "unit_price"],
        items,
    )


@pytest.fixture(scope="module")
def money_builds(run_dbt, run_concurrently, tmp_path_factory) -> dict:
    """{name: (db_path, result)}: the raw files with a currency column, and
    without it (default and var default_currency usd), built concurrently."""

    def build(name: str, with_currency: bool, extra: list[str]):
        work = tmp_path_factory.mktemp(f"money_{name}")
        _write_raw(work / "raw", with_currency)
        db_path = work / "money.duckdb"
        result = run_dbt([*BUILD_ARGS, *extra], work / "raw", db_path, work)
        return db_path, result

    names = {
        "with_currency": (True, []),
        "no_currency": (False, []),
        "no_currency_usd": (False, ["--vars", "{default_currency: usd}"]),
    }
    results = run_concurrently(
        *(
            lambda name=name, spec=spec: build(name, *spec)
            for name, spec in names.items()
        )
    )
    return dict(zip(names, results, strict=True))


def _built(money_builds: dict, name: str) -> Path:
    db_path, result = money_builds[name]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    return db_path


def _query(db_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_money_columns_are_decimal(money_builds):
    db_path = _built(money_builds, "with_currency")
    types = dict(
        _query(
            db_path,
            "select table_name || '.' || column_name, data_type "
            "from information_schema.columns where column_name in "
            "('local_amount', 'amount', 'revenue_amount', 'local_unit_price', "
            "'_amount_decimal', '_unit_price_decimal')",
        )
    )
    assert types == {
        "stg_shop__orders.local_amount": "DECIMAL(18,2)",
        "stg_shop__orders.amount": "DECIMAL(18,2)",
        "stg_shop__orders.revenue_amount": "DECIMAL(18,2)",
        "stg_shop__order_items.local_unit_price": "DECIMAL(18,2)",
        "base_shop__orders._amount_decimal": "DECIMAL(38,6)",
        "base_shop__order_items._unit_price_decimal": "DECIMAL(38,6)",
    }


def test_amounts_round_half_away_from_zero_and_refunds_net_by_one_rule(
    money_builds,
):
    db_path = _built(money_builds, "with_currency")
    staged = {
        row[0]: row[1:]
        for row in _query(
            db_path,
            "select order_id, amount, revenue_amount, is_refund, is_cancelled "
            "from stg_shop__orders where order_id like 'm-%'",
        )
    }
    expected = {
        order_id: (Decimal(amount), Decimal(revenue), is_refund, is_cancelled)
        for order_id, (
            _,
            (amount, revenue, is_refund, is_cancelled),
        ) in PLANTED_ORDERS.items()
    }
    assert staged == expected


def test_statuses_and_currencies_as_documented(money_builds):
    db_path = _built(money_builds, "with_currency")
    staged = dict(
        _query(
            db_path,
            "select order_id, order_status || ' ' || currency_code "
            "from stg_shop__orders where order_id in ('m-half-cent-2', "
            "'m-negative-half-cent', 'm-usd-tie', 'm-no-currency-value')",
        )
    )
    assert staged == {
        "m-half-cent-2": "completed EUR",
        "m-negative-half-cent": "refunded EUR",
        "m-usd-tie": "completed USD",
        "m-no-currency-value": "completed EUR",
    }


def test_unreadable_and_absurd_amounts_are_still_quarantined(money_builds):
    db_path = _built(money_builds, "with_currency")
    orders = dict(
        _query(
            db_path,
            "select order_id, _quarantine_reason from base_shop__orders "
            "where order_id in ('m-nan', 'm-inf', 'm-huge', 'm-text')",
        )
    )
    assert orders == {
        order_id: reason for order_id, (_, reason) in QUARANTINED_ORDERS.items()
    }
    items = dict(
        _query(
            db_path,
            "select base.order_item_id, coalesce(base._quarantine_reason, "
            "cast(stg.local_unit_price as varchar)) "
            "from base_shop__order_items as base "
            "left join stg_shop__order_items as stg using (order_item_id) "
            "where base.order_item_id like 'i-%'",
        )
    )
    assert items == {item_id: value for item_id, (_, value) in PLANTED_ITEMS.items()}


def test_orders_total_without_double_rounding(money_builds):
    """Sums stay exact decimals: 120 x 10.00 + the planted revenue."""
    db_path = _built(money_builds, "with_currency")
    (total,) = _query(db_path, "select sum(revenue_amount) from stg_shop__orders")[0]
    planted = sum(Decimal(v[1][1]) for v in PLANTED_ORDERS.values())
    assert total == Decimal("10.00") * FILLER_ORDERS + planted


def test_present_currency_column_logs_nothing(money_builds):
    _built(money_builds, "with_currency")
    assert NO_CURRENCY_LOG not in money_builds["with_currency"][1].stdout


def test_missing_currency_column_reads_reporting_currency_and_says_so(
    money_builds,
):
    db_path = _built(money_builds, "no_currency")
    stdout = money_builds["no_currency"][1].stdout
    assert stdout.count(f"{NO_CURRENCY_LOG} EUR (var default_currency unset") == 1
    rows = dict(
        _query(
            db_path,
            "select currency_code, count(*) from stg_shop__orders group by 1",
        )
    )
    staged = FILLER_ORDERS + len(PLANTED_ORDERS)
    assert rows == {"EUR": staged}
    (amount,) = _query(
        db_path, "select amount from stg_shop__orders where order_id = 'm-usd-tie'"
    )[0]
    assert amount == Decimal("3.38")


def test_var_default_currency_applies_when_the_column_is_missing(money_builds):
    db_path = _built(money_builds, "no_currency_usd")
    stdout = money_builds["no_currency_usd"][1].stdout
    assert stdout.count(f"{NO_CURRENCY_LOG} USD (var default_currency)") == 1
    rows = dict(
        _query(
            db_path,
            "select order_id, currency_code || ' ' || cast(amount as varchar) "
            "from stg_shop__orders where order_id in ('f-0', 'm-usd-tie')",
        )
    )
    # 10.00 USD x 0.92; 3.375 USD x 0.92 = 3.105 -> 3.11.
    assert rows == {"f-0": "USD 9.20", "m-usd-tie": "USD 3.11"}
