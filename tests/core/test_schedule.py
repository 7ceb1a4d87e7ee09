"""Campaign calendars and called-party hours, with literal times."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dialerd.core.model import BusinessHours, RunWindow, ScheduleException
from dialerd.core.schedule import LocalHours, Schedule

NY = ZoneInfo("America/New_York")
WEEKDAYS_9_TO_6 = tuple(BusinessHours(d, dt.time(9), dt.time(18)) for d in range(5))


def at(y: int, m: int, d: int, h: int, mi: int = 0, s: int = 0) -> dt.datetime:
    """A New York wall-clock instant."""
    return dt.datetime(y, m, d, h, mi, s, tzinfo=NY)


def test_the_interval_includes_its_start_and_excludes_its_end() -> None:
    """09:00-18:00 allows 09:00:00 and 17:59:59 but not 08:59:59 or 18:00:00."""
    s = Schedule.build("America/New_York", WEEKDAYS_9_TO_6)
    assert s.is_open(at(2026, 11, 2, 9, 0, 0))
    assert s.is_open(at(2026, 11, 2, 17, 59, 59))
    assert not s.is_open(at(2026, 11, 2, 8, 59, 59))
    assert not s.is_open(at(2026, 11, 2, 18, 0, 0))
    assert not s.is_open(at(2026, 11, 1, 12))  # a Sunday


def test_hours_are_read_in_the_campaign_zone() -> None:
    """An instant given in UTC is judged by the campaign's local clock."""
    s = Schedule.build("America/New_York", WEEKDAYS_9_TO_6)
    assert s.is_open(dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC))  # 09:00 EST
    assert not s.is_open(dt.datetime(2026, 11, 2, 13, 59, tzinfo=dt.UTC))


def test_holidays_close_unless_an_exception_opens() -> None:
    """A public holiday is closed; an exception for that date wins over it."""
    thanksgiving = dt.date(2026, 11, 26)
    s = Schedule.build("America/New_York", WEEKDAYS_9_TO_6, holidays=[thanksgiving])
    assert not s.is_open(at(2026, 11, 26, 12))
    opened = Schedule.build(
        "America/New_York",
        WEEKDAYS_9_TO_6,
        exceptions=[ScheduleException(thanksgiving, False, dt.time(10), dt.time(12))],
        holidays=[thanksgiving],
    )
    assert opened.is_open(at(2026, 11, 26, 11))
    assert not opened.is_open(at(2026, 11, 26, 12))


def test_a_closed_exception_closes_a_working_day() -> None:
    """A closed exception removes the day's weekly hours."""
    s = Schedule.build(
        "America/New_York",
        WEEKDAYS_9_TO_6,
        exceptions=[ScheduleException(dt.date(2026, 11, 3), True)],
    )
    assert not s.is_open(at(2026, 11, 3, 12))
    assert s.is_open(at(2026, 11, 4, 12))


def test_run_windows_limit_the_dates() -> None:
    """With run windows, only their dates (inclusive) may dial."""
    s = Schedule.build(
        "America/New_York",
        WEEKDAYS_9_TO_6,
        windows=[RunWindow(1, dt.date(2026, 11, 3), dt.date(2026, 11, 4))],
    )
    assert not s.is_open(at(2026, 11, 2, 12))
    assert s.is_open(at(2026, 11, 3, 12))
    assert s.is_open(at(2026, 11, 4, 12))
    assert not s.is_open(at(2026, 11, 5, 12))


def test_midnight_ends_are_the_end_of_the_day() -> None:
    """An interval ending at 24:00 stays open until the last second of the day."""
    s = Schedule.build("UTC", [BusinessHours(0, dt.time(20), dt.time(0))])
    assert s.is_open(dt.datetime(2026, 11, 2, 23, 59, 59, tzinfo=dt.UTC))
    assert not s.is_open(dt.datetime(2026, 11, 3, 0, 0, tzinfo=dt.UTC))


def test_next_change_is_the_next_opening_or_closing() -> None:
    """After hours, the engine is woken at the next opening; inside, at the closing."""
    s = Schedule.build("America/New_York", WEEKDAYS_9_TO_6)
    assert s.next_change(at(2026, 11, 2, 12)) == at(2026, 11, 2, 18)
    assert s.next_change(at(2026, 11, 2, 18)) == at(2026, 11, 3, 9)
    assert s.next_change(at(2026, 11, 6, 19)) == at(2026, 11, 9, 9)  # Friday evening
    assert Schedule.build("UTC", ()).next_change(at(2026, 11, 2, 12)) is None


def test_daylight_saving_change_keeps_local_hours() -> None:
    """On the Monday after the clocks change, 09:00 local is a different UTC hour."""
    s = Schedule.build("America/New_York", WEEKDAYS_9_TO_6)
    assert s.is_open(dt.datetime(2026, 10, 26, 13, 0, tzinfo=dt.UTC))  # 09:00 EDT
    assert not s.is_open(dt.datetime(2026, 11, 2, 13, 0, tzinfo=dt.UTC))  # 08:00 EST


def test_local_hours_must_hold_in_every_zone() -> None:
    """A number that may be in several zones is callable only when all of them allow it."""
    hours = LocalHours()
    noon_ny = at(2026, 11, 2, 12)
    assert hours.allows(noon_ny, ["America/New_York"])
    eight_am_ny = at(2026, 11, 2, 8)  # 05:00 in Los Angeles
    assert hours.allows(eight_am_ny, ["America/New_York"])
    assert not hours.allows(eight_am_ny, ["America/New_York", "America/Los_Angeles"])
    assert not hours.allows(at(2026, 11, 2, 21), ["America/New_York"])
    assert not hours.allows(noon_ny, [])


def test_next_allowed_is_the_first_quarter_hour_open_everywhere() -> None:
    """The retry time for a number out of hours is when every zone it may be in opens."""
    hours = LocalHours()
    six_am_ny = at(2026, 11, 2, 6, 5)
    assert hours.next_allowed(six_am_ny, ["America/New_York"]) == at(2026, 11, 2, 8)
    both = hours.next_allowed(six_am_ny, ["America/New_York", "America/Los_Angeles"])
    assert both == at(2026, 11, 2, 11)
    assert hours.next_allowed(six_am_ny, []) is None
