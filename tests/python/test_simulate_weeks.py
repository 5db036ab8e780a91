"""The date and vars logic of `make simulate-weeks`."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest

from predictive_segments.simulate_weeks import build_vars, parse_vars, weekly_dates


def test_weekly_dates_end_on_the_end_date_oldest_first():
    end = dt.date(2026, 9, 30)
    dates = weekly_dates(end, weeks=4, step_days=7)
    assert dates[-1] == end
    assert dates == sorted(dates)
    assert {later - earlier for earlier, later in itertools.pairwise(dates)} == {
        dt.timedelta(days=7)
    }
    assert len(dates) == 4
    assert weekly_dates(end, weeks=1, step_days=7) == [end]


@pytest.mark.parametrize(("weeks", "step_days"), [(0, 7), (3, 0), (-1, 7)])
def test_weekly_dates_refuse_nonsense(weeks, step_days):
    with pytest.raises(ValueError, match="must be at least 1"):
        weekly_dates(dt.date(2026, 9, 30), weeks=weeks, step_days=step_days)


def test_build_vars_sets_the_date_and_keeps_the_rest():
    text = build_vars({"enable_test_fixtures": True}, dt.date(2026, 9, 23))
    expected = {"as_of_date": "2026-09-23", "enable_test_fixtures": True}
    assert json.loads(text) == expected


def test_parse_vars_reads_yaml_and_refuses_as_of_date():
    assert parse_vars("{enable_test_fixtures: true}") == {"enable_test_fixtures": True}
    assert parse_vars("") == {}
    with pytest.raises(SystemExit, match="as_of_date"):
        parse_vars("{as_of_date: '2026-01-01'}")
    with pytest.raises(SystemExit, match="mapping"):
        parse_vars("[1, 2]")
