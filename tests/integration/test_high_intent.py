"""Event-triggered membership: the high_intent audience follows recent sessions.

A customer with an abandoned cart (a session with add_to_cart and no
checkout) or a pricing page view in a session started 1 to N days before
as_of_date (var high_intent_days) is high intent: `is_high_intent` and
`high_intent_reason` in fct_customer_segments, a member of audience
high_intent in fct_audience_members. One warehouse is built twice from the
CI raw data plus planted sessions of customers without any session near the
dates used:

1. as of D: the planted customers with a qualifying session in the window
   enter, with the right reason; sessions outside the window, with a
   checkout, on or after D, or received on or after D do not count;
2. as of D + N + 1 (a refresh, no new events for them): they have left, and
   the customer whose abandoned cart came after D has entered.

In both builds the members must be exactly the customers an independent
computation over the staged events finds (stg_shop__events, sessions as
known before the as-of date), so nobody without a qualifying session is in.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import duckdb
import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
# D: inside the CI data (orders, events and training windows on both sides of
# both as-of dates), so both builds are ordinary builds.
DAYS_BEFORE_DATA_END = 20
# Only what fct_customer_segments and fct_audience_members need (the score
# models train: the marts depend on them); no data tests, no snapshot.
BUILD = [
    "build",
    "--select",
    "+fct_customer_segments",
    "+fct_audience_members",
    "--indirect-selection",
    "cautious",
    "--exclude",
    "resource_type:test",
]
BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/139.0.0.0 Safari/537.36"
)
ABANDONED_CART = ["page_view", "product_view", "add_to_cart"]
PURCHASE = ["page_view", "product_view", "add_to_cart", "checkout"]
PRICING = ["page_view", "pricing_view"]


class Scenario(NamedTuple):
    """A planted customer: sessions as (event types, days after D, time of
    day, seconds until received) for a window of N days, and the expected
    high_intent_reason as of D and as of D + N + 1 (None: not high intent)."""

    sessions: Callable[[int], list[tuple[list[str], int, str, int]]]
    reason_as_of_d: str | None
    reason_refreshed: str | None


SCENARIOS = {
    "cart_2_days_before": Scenario(
        lambda n: [(ABANDONED_CART, -2, "10:00", 0)], "cart_abandonment", None
    ),
    "pricing_2_days_before": Scenario(
        lambda n: [(PRICING, -2, "15:30", 0)], "pricing_views", None
    ),
    # A cart abandoned exactly N days before D still counts; with a pricing
    # view in another session, the reason is both.
    "cart_n_days_before_and_pricing": Scenario(
        lambda n: [(ABANDONED_CART, -n, "09:00", 0), (PRICING, -3, "20:00", 0)],
        "both",
        None,
    ),
    "cart_n_plus_1_days_before": Scenario(
        lambda n: [(ABANDONED_CART, -(n + 1), "12:00", 0)], None, None
    ),
    "cart_checked_out": Scenario(lambda n: [(PURCHASE, -2, "11:00", 0)], None, None),
    # Point in time: a session at D 00:00 or after D is not known as of D...
    "cart_at_as_of_midnight": Scenario(
        lambda n: [(ABANDONED_CART, 0, "00:00", 0)], None, None
    ),
    # ... and one after D enters on the next refresh while it is recent.
    "cart_2_days_after": Scenario(
        lambda n: [(ABANDONED_CART, 2, "10:00", 0)], None, "cart_abandonment"
    ),
    # Happened the evening before D but received on D: not known as of D.
    "cart_received_on_as_of_date": Scenario(
        lambda n: [(ABANDONED_CART, -1, "23:50", 3600)], None, None
    ),
}


def _high_intent_days() -> int:
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    return int(project["vars"]["high_intent_days"])


def _quiet_customers(raw_dir: Path, start: dt.date, end: dt.date, count: int):
    """`count` registered, non-test customers with orders well before `start`
    and no event at all from `start` to `end`: not high intent on their own."""
    with duckdb.connect() as connection:
        rows = connection.execute(
            f"""
            select customers.customer_id
            from read_parquet('{raw_dir}/customers.parquet') as customers
            where
                regexp_full_match(customers.customer_id, 'C[0-9]+')
                and customers.signed_up_at < date '{start}' - interval 90 day
                and customers.email_domain
                    not in ('example.com', 'test.invalid')
                and customers.customer_id in (
                    select customer_id
                    from read_parquet('{raw_dir}/orders.parquet')
                    where try_cast(ordered_at as timestamp)
                        < date '{start}' - interval 60 day
                )
                and customers.customer_id not in (
                    select customer_id
                    from read_parquet('{raw_dir}/events.parquet')
                    where
                        customer_id is not null
                        and occurred_at >= date '{start}'
                        and occurred_at < date '{end}'
                )
            group by customers.customer_id
            having count(*) = 1
            order by customers.customer_id
            limit {count}
            """
        ).fetchall()
    assert len(rows) == count, f"only {len(rows)} quiet customers found"
    return [customer_id for (customer_id,) in rows]


def _planted_events(customers: dict[str, str], as_of: dt.date, n: int) -> list:
    rows = []
    for name, scenario in SCENARIOS.items():
        for session_number, (event_types, days, time_of_day, delay) in enumerate(
            scenario.sessions(n)
        ):
            session_id = f"HI-{name}-{session_number}"
            started = dt.datetime.combine(
                as_of + dt.timedelta(days=days), dt.time.fromisoformat(time_of_day)
            )
            for index, event_type in enumerate(event_types):
                occurred = started + dt.timedelta(seconds=30 * index)
                category = "books" if event_type != "page_view" else None
                rows.append(
                    (
                        f"{session_id}-{index}",
                        session_id,
                        customers[name],
                        event_type,
                        category,
                        "desktop",
                        BROWSER,
                        occurred,
                        occurred + dt.timedelta(seconds=5 + delay),
                    )
                )
    return rows


def _raw_with_planted_sessions(source: Path, target: Path, events: list) -> None:
    """`source`'s raw files in `target`, the events with `events` appended."""
    target.mkdir(parents=True)
    for path in source.glob("*.parquet"):
        if path.name != "events.parquet":
            (target / path.name).symlink_to(path)
    with duckdb.connect() as connection:
        connection.execute(
            f"create table events as select * from '{source}/events.parquet'"
        )
        connection.executemany(
            "insert into events values (?, ?, ?, ?, ?, ?, ?, ?, ?)", events
        )
        connection.execute(f"copy events to '{target}/events.parquet' (format parquet)")


def _state(db_path: Path, as_of: dt.date, n: int) -> dict:
    """What one build published, and what the staged events say it should."""
    with duckdb.connect(str(db_path), read_only=True) as connection:
        segments = dict(
            connection.execute(
                "select customer_id, high_intent_reason from fct_customer_segments "
                "where is_high_intent"
            ).fetchall()
        )
        flagged = connection.execute(
            "select count(*) from fct_customer_segments "
            "where is_high_intent is distinct from (high_intent_reason is not null)"
        ).fetchall()[0][0]
        members = {
            customer_id
            for (customer_id,) in connection.execute(
                "select customer_id from fct_audience_members "
                "where audience_id = 'high_intent'"
            ).fetchall()
        }
        dates = connection.execute(
            "select distinct as_of_date from fct_customer_segments"
        ).fetchall()
        population = {
            customer_id
            for (customer_id,) in connection.execute(
                "select customer_id from fct_customer_segments"
            ).fetchall()
        }
        # Independent of int_events_sessionized and the feature models: each
        # session from its staged events that occurred and were received
        # before D, counted when it started 1 to N days before D.
        expected = dict(
            connection.execute(
                f"""
                with known as (
                    select *
                    from stg_shop__events
                    where
                        customer_id is not null
                        and occurred_at < timestamp '{as_of}'
                        and received_at < timestamp '{as_of}'
                ),
                sessions as (
                    select
                        session_id,
                        min(customer_id) as customer_id,
                        min(occurred_at) as started_at,
                        count(*) filter (where event_type = 'add_to_cart') > 0
                        and count(*) filter (where event_type = 'checkout') = 0
                            as is_abandoned,
                        count(*) filter (where event_type = 'pricing_view') > 0
                            as has_pricing_view
                    from known
                    group by session_id
                ),
                recent as (
                    select
                        customer_id,
                        bool_or(is_abandoned) as has_abandoned_cart,
                        bool_or(has_pricing_view) as has_pricing_view
                    from sessions
                    where
                        cast(started_at as date)
                        >= date '{as_of}' - interval {n} day
                    group by customer_id
                )
                select
                    customer_id,
                    case
                        when has_abandoned_cart and has_pricing_view then 'both'
                        when has_abandoned_cart then 'cart_abandonment'
                        else 'pricing_views'
                    end
                from recent
                where has_abandoned_cart or has_pricing_view
                """
            ).fetchall()
        )
    expected = {c: r for c, r in expected.items() if c in population}
    return {
        "segments": segments,
        "members": members,
        "flag_without_reason": flagged,
        "dates": dates,
        "population": population,
        "expected": expected,
    }


def _high_intent_builds(run_dbt, ci_raw_dir, ci_manifest, tmp_path_factory):
    """(N, planted customers by scenario, state as of D, state as of D+N+1)."""
    n = _high_intent_days()
    as_of = dt.date.fromisoformat(ci_manifest["as_of_date"]) - dt.timedelta(
        days=DAYS_BEFORE_DATA_END
    )
    refresh = as_of + dt.timedelta(days=n + 1)
    names = list(SCENARIOS)
    quiet = _quiet_customers(
        ci_raw_dir,
        as_of - dt.timedelta(days=n + 3),
        refresh + dt.timedelta(days=1),
        len(names),
    )
    customers = dict(zip(names, quiet, strict=True))
    work = tmp_path_factory.mktemp("high_intent")
    raw_dir = work / "raw"
    _raw_with_planted_sessions(
        ci_raw_dir, raw_dir, _planted_events(customers, as_of, n)
    )
    db_path = work / "warehouse.duckdb"
    states = []
    for date in (as_of, refresh):
        variables = ["--vars", json.dumps({"as_of_date": date.isoformat()})]
        result = run_dbt([*BUILD, *variables], raw_dir, db_path, work / "dbt")
        assert result.returncode == 0, result.stdout[-4000:]
        states.append(_state(db_path, date, n))
    for state, date in zip(states, (as_of, refresh), strict=True):
        assert state["dates"] == [(date,)], state["dates"]
        missing = set(customers.values()) - state["population"]
        assert not missing, f"planted customers not in the marts: {missing}"
    return n, customers, states[0], states[1]


# Two builds: they start with the test session (conftest.Background).
BACKGROUND = {"high_intent_builds": _high_intent_builds}


@pytest.fixture(scope="module")
def high_intent_builds(background):
    """(N, planted customers by scenario, state as of D, state as of D+N+1)."""
    return background.result(_high_intent_builds)


def _reasons(state: dict, customers: dict[str, str]) -> dict[str, str | None]:
    return {name: state["segments"].get(c) for name, c in customers.items()}


def test_recent_abandoned_cart_or_pricing_view_enters_with_its_reason(
    high_intent_builds,
):
    """As of D: in with the right reason exactly when a planted session is a
    qualifying one started 1 to N days before D; a checkout, a session N+1
    days before, at D 00:00, after D or received on D does not count."""
    _, customers, as_of_d, _ = high_intent_builds
    expected = {name: s.reason_as_of_d for name, s in SCENARIOS.items()}
    assert _reasons(as_of_d, customers) == expected
    entered = {c for name, c in customers.items() if expected[name]}
    assert entered <= as_of_d["members"]
    assert not (set(customers.values()) - entered) & as_of_d["members"]


def test_lapsed_signals_leave_and_new_ones_enter_on_refresh(high_intent_builds):
    """As of D+N+1, with no new events for them: the customers of D have
    left; the cart abandoned 2 days after D now counts (N-1 days before)."""
    _, customers, as_of_d, refreshed = high_intent_builds
    expected = {name: s.reason_refreshed for name, s in SCENARIOS.items()}
    assert _reasons(refreshed, customers) == expected
    left = {c for name, c in customers.items() if SCENARIOS[name].reason_as_of_d}
    assert left and left <= as_of_d["members"]
    assert not left & refreshed["members"]
    assert customers["cart_2_days_after"] in refreshed["members"]


@pytest.mark.parametrize("build", [2, 3], ids=["as_of_d", "refreshed"])
def test_members_are_exactly_the_customers_with_a_qualifying_session(
    high_intent_builds, build
):
    """The audience, the flag and the reason match a computation over the
    staged events: nobody without a qualifying session in the window is in,
    nobody with one is out. Both builds have many members (not only the
    planted ones), so the comparison covers real data."""
    state = high_intent_builds[build]
    assert len(state["expected"]) >= 50, len(state["expected"])
    assert state["flag_without_reason"] == 0
    assert state["segments"] == state["expected"]
    assert state["members"] == set(state["expected"])
