"""Working hours: the schedule lines and when interception is allowed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.routing import Interception, InterceptionSettings, ResponsibleFinder, parse_hours


def interception(**options: object) -> Interception:
    settings = InterceptionSettings(enabled=True, timezone="Europe/Moscow", **options)  # type: ignore[arg-type]
    return Interception(settings, ResponsibleFinder([], settings))


def moscow(text: str) -> datetime:
    """A Moscow wall-clock time (UTC+3) as an aware UTC datetime."""
    local = datetime.fromisoformat(text)
    return local.replace(tzinfo=UTC) - (datetime(2000, 1, 1, 3) - datetime(2000, 1, 1))


def test_a_day_range_covers_each_day_in_it() -> None:
    assert parse_hours("mon-fri 09:00-18:00").days == frozenset({0, 1, 2, 3, 4})


def test_a_range_may_wrap_over_the_week_end() -> None:
    assert parse_hours("sat-mon 10:00-14:00").days == frozenset({5, 6, 0})


def test_a_nonsense_line_is_refused_with_an_example() -> None:
    with pytest.raises(ValueError, match="mon-fri 09:00-18:00"):
        parse_hours("weekdays 9-18")


def test_working_time_inside_the_schedule_is_working() -> None:
    # 2026-11-23 is a Monday
    assert interception(working_hours=("mon-fri 09:00-18:00",)).working(moscow("2026-11-23T10:00:00"))


def test_the_end_of_the_range_is_outside_it() -> None:
    assert not interception(working_hours=("mon-fri 09:00-18:00",)).working(moscow("2026-11-23T18:00:00"))


def test_a_weekend_is_outside_a_weekday_schedule() -> None:
    assert not interception(working_hours=("mon-fri 09:00-18:00",)).working(moscow("2026-11-22T12:00:00"))


def test_the_schedule_is_read_in_its_timezone() -> None:
    # 07:30 UTC is 10:30 in Moscow
    hours = interception(working_hours=("mon-fri 09:00-10:00",))
    assert not hours.working(datetime(2026, 11, 23, 7, 30, tzinfo=UTC))


def test_a_holiday_is_never_working_time() -> None:
    assert not interception(holidays=("2026-11-23",)).working(moscow("2026-11-23T12:00:00"))


def test_no_schedule_means_always() -> None:
    assert interception().working(moscow("2026-11-22T03:00:00"))


def test_midnight_may_end_a_range() -> None:
    assert interception(working_hours=("sun 20:00-24:00",)).working(moscow("2026-11-22T23:59:00"))
