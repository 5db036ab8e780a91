"""Staging accounts for every raw row, as the demo-data generator planted them."""

from __future__ import annotations

import pandas as pd
import pytest

# Generator classes that staging collapses instead of quarantining.
COLLAPSED_CLASSES = {"exact_duplicate"}


def _actual_counts(warehouse, table: str) -> dict[str, int]:
    quarantined = warehouse.execute(
        "select reason, count(*) from int_raw_rows_quarantined "
        "where source_table = ? group by reason",
        [table],
    ).fetchall()
    collapsed = warehouse.execute(
        f"select count(*) from base_shop__{table} "
        "where _row_status = 'collapsed_duplicate'"
    ).fetchall()[0][0]
    counts = dict(quarantined)
    if collapsed:
        counts["exact_duplicate"] = collapsed
    return counts


def test_manifest_covers_every_raw_table(ci_manifest):
    assert set(ci_manifest["bad_rows"]) >= {"orders", "events", "customers"}


@pytest.mark.parametrize(
    "table",
    [
        "orders",
        "customers",
        "products",
        "order_items",
        "events",
        "email_events",
        "support_tickets",
        "campaign_assignments",
    ],
)
def test_quarantine_counts_equal_generator_manifest(warehouse, ci_manifest, table):
    planted = {
        reason: count
        for reason, count in ci_manifest["bad_rows"].get(table, {}).items()
        if count
    }
    assert _actual_counts(warehouse, table) == planted


def test_raw_rows_equal_staged_quarantined_and_collapsed(warehouse, ci_manifest):
    for table, raw_rows in ci_manifest["raw_rows"].items():
        staged = warehouse.execute(
            f"select count(*) from stg_shop__{table}"
        ).fetchall()[0][0]
        accounted = staged + sum(_actual_counts(warehouse, table).values())
        assert accounted == raw_rows, table


def test_mixed_time_zone_orders_are_staged_at_their_utc_instant(
    warehouse, ci_raw_dir, ci_manifest
):
    truth = pd.read_parquet(ci_raw_dir / "truth" / "timezone_rows.parquet")
    assert len(truth) == ci_manifest["flags"]["orders"]["mixed_timezone"] > 0
    warehouse.register("timezone_truth", truth)
    mismatched, missing = warehouse.execute(
        """
        select
            count(*) filter (where orders.ordered_at is not null
                and orders.ordered_at != timezone_truth.true_ordered_at_utc),
            count(*) filter (where orders.ordered_at is null)
        from timezone_truth
        left join stg_shop__orders as orders using (order_id)
        """
    ).fetchall()[0]
    warehouse.unregister("timezone_truth")
    assert mismatched == 0
    # Rows in other formats may carry a planted defect too; none may vanish.
    assert missing == 0


def test_late_events_are_staged_and_flagged(warehouse, ci_manifest):
    flagged = warehouse.execute(
        "select count(*) from stg_shop__events where is_late_arrival"
    ).fetchall()[0][0]
    assert flagged == ci_manifest["flags"]["events"]["late_arrival"] > 0


def test_test_accounts_are_flagged_not_lost(warehouse, ci_manifest):
    flagged = warehouse.execute(
        "select count(*) from stg_shop__customers where is_test_account"
    ).fetchall()[0][0]
    assert flagged == ci_manifest["flags"]["customers"]["test_account"] > 0
