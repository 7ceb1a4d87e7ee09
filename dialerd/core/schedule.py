"""When a campaign may dial: weekly hours, dated exceptions, holidays and run windows.

Rules (feature reference §1 and §4): hours are a weekly schedule in the campaign's time
zone, each interval closed at its start and open at its end, so ``09:00-18:00`` allows the
first call at 09:00:00 and the last at 17:59:59. A dated exception replaces that day's
weekly hours (closed all day, or open only in its own interval). A public holiday closes
the day unless an exception opens it. When run windows exist, a day outside all of them
is closed; without any, every day may dial. A campaign's informational start and end
dates play no part. Time zones come from ``zoneinfo``, so daylight-saving changes are
applied per day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from dialerd.core.model import BusinessHours, RunWindow, ScheduleException

_MIDNIGHT = dt.time(0, 0)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A campaign's dialling calendar, ready for repeated checks."""

    timezone: str
    hours: tuple[BusinessHours, ...]
    exceptions: Mapping[dt.date, ScheduleException] = field(default_factory=dict)
    holidays: frozenset[dt.date] = frozenset()
    windows: tuple[RunWindow, ...] = ()

    @classmethod
    def build(
        cls,
        timezone: str,
        hours: Iterable[BusinessHours],
        exceptions: Iterable[ScheduleException] = (),
        holidays: Iterable[dt.date] = (),
        windows: Iterable[RunWindow] = (),
    ) -> Schedule:
        """Assemble a schedule from stored rows."""
        return cls(
            timezone,
            tuple(hours),
            {e.day: e for e in exceptions},
            frozenset(holidays),
            tuple(windows),
        )

    @property
    def zone(self) -> ZoneInfo:
        """The campaign's time zone."""
        return ZoneInfo(self.timezone)

    def intervals_on(self, day: dt.date) -> list[tuple[dt.time, dt.time | None]]:
        """The open intervals of a local date; an end of ``None`` means midnight."""
        if self.windows and not any(w.start <= day <= w.end for w in self.windows):
            return []
        exc = self.exceptions.get(day)
        if exc is not None:
            if exc.closed or exc.start is None or exc.end is None:
                return []
            return [(exc.start, None if exc.end == _MIDNIGHT else exc.end)]
        if day in self.holidays:
            return []
        return sorted(
            (h.start, None if h.end == _MIDNIGHT else h.end)
            for h in self.hours
            if h.weekday == day.weekday()
        )

    def is_open(self, wall_now: dt.datetime) -> bool:
        """Whether the campaign may dial at this instant."""
        local = wall_now.astimezone(self.zone)
        t = local.time().replace(tzinfo=None)
        return any(
            start <= t and (end is None or t < end)
            for start, end in self.intervals_on(local.date())
        )

    def next_change(self, wall_now: dt.datetime, *, days: int = 8) -> dt.datetime | None:
        """The next instant the schedule opens or closes (to wake the engine), if any."""
        zone = self.zone
        first = wall_now.astimezone(zone).date()
        edges: list[dt.datetime] = []
        for offset in range(days + 1):
            day = first + dt.timedelta(days=offset)
            for start, end in self.intervals_on(day):
                edges.append(dt.datetime.combine(day, start, zone))
                closing = (day + dt.timedelta(days=1), _MIDNIGHT) if end is None else (day, end)
                edges.append(dt.datetime.combine(*closing, zone))
        return min((e for e in edges if e > wall_now), default=None)


@dataclass(frozen=True, slots=True)
class LocalHours:
    """The hours a called party may be called at, in their own time zone (end exclusive).

    The US rule is 08:00 to 21:00 local time; other regimes and campaigns may be stricter.
    """

    start: dt.time = dt.time(8, 0)
    end: dt.time = dt.time(21, 0)
    weekdays: frozenset[int] = frozenset(range(7))

    def allows(self, wall_now: dt.datetime, zones: Iterable[str]) -> bool:
        """True only if the instant is permitted in *every* zone the number may be in."""
        names = list(zones)
        if not names:
            return False
        for name in names:
            local = wall_now.astimezone(ZoneInfo(name))
            t = local.time().replace(tzinfo=None)
            end_ok = t < self.end or self.end == _MIDNIGHT
            if local.weekday() not in self.weekdays or not (self.start <= t and end_ok):
                return False
        return True

    def next_allowed(
        self, wall_now: dt.datetime, zones: Iterable[str], *, step_min: int = 15, days: int = 8
    ) -> dt.datetime | None:
        """The first quarter-hour from ``wall_now`` at which every zone allows a call."""
        names = list(zones)
        if not names:
            return None
        moment = wall_now.replace(second=0, microsecond=0)
        moment += dt.timedelta(minutes=step_min - moment.minute % step_min)
        for _ in range(days * 24 * 60 // step_min):
            if self.allows(moment, names):
                return moment
            moment += dt.timedelta(minutes=step_min)
        return None
