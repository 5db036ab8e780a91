"""Point-in-time feature tables: shape, population and time boundaries."""

from __future__ import annotations

import datetime as dt

SENSITIVE = {"gender", "birth_year", "country_code", "country", "email_domain"}
NOT_FEATURES = {"customer_id", "cutoff_date", "first_seen_at", "has_customer_record"}


def _columns(warehouse, table: str) -> list[str]:
    return [row[0] for row in warehouse.execute(f"describe {table}").fetchall()]


def test_feat_customers_has_at_least_forty_features(warehouse):
    features = [
        column
        for column in _columns(warehouse, "feat_customers")
        if column not in NOT_FEATURES and not column.endswith("_max_source_at")
    ]
    assert len(features) >= 40, features


def test_sensitive_attributes_are_not_features(warehouse):
    for table in ("feat_customers", "feat_customers_training"):
        assert SENSITIVE.isdisjoint(_columns(warehouse, table)), table


def test_default_as_of_date_is_the_day_after_the_last_order_day(warehouse, ci_manifest):
    # The CI warehouse is built as of the default as_of_date (make ci-build),
    # which is the demo data's as-of date: its data ends the day before.
    (last_day,) = warehouse.execute(
        "select max(ordered_date) from stg_shop__orders"
    ).fetchone()
    cutoffs = warehouse.execute(
        "select distinct cutoff_date from feat_customers"
    ).fetchall()
    as_of = last_day + dt.timedelta(days=1)
    assert cutoffs == [(as_of,)]
    assert ci_manifest["as_of_date"] == as_of.isoformat()
    # So the last day's purchases are in the features and in dim_customers.
    buyers, last_seen, recent = warehouse.execute(
        f"""
        select
            (select count(distinct customer_id) from stg_shop__orders
                where ordered_date = date '{last_day}'
                    and not is_cancelled and revenue_amount > 0),
            (select count(*) from dim_customers
                where cast(last_ordered_at as date) = date '{last_day}'),
            (select count(*) from feat_customers where recency_days = 1)
        """
    ).fetchone()
    assert buyers > 0
    assert last_seen == buyers
    assert recent == buyers


def test_one_row_per_known_non_test_customer(warehouse):
    expected = warehouse.execute(
        """
        select count(*) from int_customers_unified
        where not is_test_account
            and (first_seen_at < (select max(cutoff_date) from feat_customers)
                or first_seen_at is null)
        """
    ).fetchall()[0][0]
    actual, distinct = warehouse.execute(
        "select count(*), count(distinct customer_id) from feat_customers"
    ).fetchall()[0]
    assert actual == distinct == expected


def test_training_cutoffs_precede_as_of_by_each_window(warehouse, ci_manifest):
    as_of = dt.date.fromisoformat(ci_manifest["as_of_date"])
    windows = ci_manifest["windows"]
    # Two consecutive past windows for the classifiers, one CLV horizon.
    expected = {
        as_of - dt.timedelta(days=windows[name] * index)
        for name, count in (
            ("churn_window_days", 2),
            ("propensity_window_days", 2),
            ("clv_horizon_days", 1),
        )
        for index in range(1, count + 1)
    }
    cutoffs = {
        row[0]
        for row in warehouse.execute(
            "select distinct cutoff_date from feat_customers_training"
        ).fetchall()
    }
    assert cutoffs == expected


def test_churn_labels_match_orders_in_the_window(warehouse):
    # Recompute the label from staged orders independently of the macro.
    mismatches = warehouse.execute(
        """
        with windowed as (
            select
                labels.customer_id,
                labels.is_churned,
                count(orders.order_id) filter (
                    where orders.ordered_date >= labels.cutoff_date
                        and orders.ordered_date < labels.window_end_date
                        and not orders.is_cancelled and orders.revenue_amount > 0
                ) as purchases_in_window,
                count(orders.order_id) filter (
                    where orders.ordered_date < labels.cutoff_date
                        and not orders.is_cancelled and orders.revenue_amount > 0
                ) as purchases_before
            from lbl_churn as labels
            left join stg_shop__orders as orders using (customer_id)
            group by all
        )
        select count(*) from windowed
        where is_churned != (purchases_before > 0 and purchases_in_window = 0)
        """
    ).fetchall()[0][0]
    churned, total = warehouse.execute(
        "select count(*) filter (where is_churned), count(*) from lbl_churn"
    ).fetchall()[0]
    assert mismatches == 0
    assert 0 < churned < total


def test_campaign_features_see_the_history_before_each_assignment(warehouse):
    """The uplift models learn from features as of each assignment date: the
    order count there equals the purchases staged before that date."""
    rows = warehouse.execute(
        """
        with purchases as (
            select
                features.cutoff_date,
                features.customer_id,
                features.order_count,
                count(orders.order_id) as purchases_before
            from feat_customers_at_campaigns as features
            left join stg_shop__orders as orders
                on
                    features.customer_id = orders.customer_id
                    and orders.ordered_at < features.cutoff_date
                    and not orders.is_cancelled
                    and orders.revenue_amount > 0
            group by all
        )
        select
            cutoff_date,
            count(*) filter (where order_count > 0),
            count(*) filter (where order_count != purchases_before)
        from purchases
        group by cutoff_date
        """
    ).fetchall()
    assert rows, "no campaign cutoff"
    for cutoff, with_orders, mismatched in rows:
        assert with_orders > 0, cutoff
        assert mismatched == 0, (cutoff, mismatched)
