"""Office time between moments, for pages that measure hundreds of thousands of stays.

Office hours are ``OFFICE_HOURS`` on working days in Asia/Ho_Chi_Minh; one running total of
office seconds per day makes each measure two look-ups however long the interval.
"""

from __future__ import annotations

import threading
import weakref
from datetime import date, datetime, timedelta

from domain.working_days import HCMC, OFFICE_HOURS, WorkingCalendar

_WINDOWS = tuple(
    (opens.hour * 3600 + opens.minute * 60, closes.hour * 3600 + closes.minute * 60)
    for opens, closes in OFFICE_HOURS
)
_OFFICE_DAY_SECONDS = float(sum(closes - opens for opens, closes in _WINDOWS))
_DAY = 86400
# Ho Chi Minh City has kept UTC+7 since 1975, so local days are plain arithmetic on epoch
# seconds: no time-zone look-up per measure (a page makes hundreds of thousands).
_OFFSET = (datetime(2000, 1, 1, tzinfo=HCMC).utcoffset() or timedelta()).total_seconds()
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def day_number(seconds: float) -> int:
    """The local day (days since 1970-01-01 in Ho Chi Minh City) of an epoch second."""
    return int((seconds + _OFFSET) // _DAY)


def day_of(number: int) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + number)


def number_of(day: date) -> int:
    return day.toordinal() - _EPOCH_ORDINAL


class OfficeClock:
    """Office time and working days between moments, from a running total per day.

    Each measure is two look-ups however long the interval, instead of a walk over the days:
    a page measures hundreds of thousands of stays.
    """

    def __init__(self, calendar: WorkingCalendar | None = None) -> None:
        self.calendar = calendar or WorkingCalendar()
        self._first = 0  # day number of index 0
        self._before: list[float] = []  # office seconds from the first day to each day's start
        self._working: list[bool] = []

    def _index(self, day: int) -> int:
        if not self._before or day < self._first:
            # A year of slack before, so an earlier day rarely forces a recount.
            self._first, self._before, self._working = day - 366, [0.0], []
        index = day - self._first
        before, working = self._before, self._working
        while len(working) <= index:
            is_working = self.calendar.is_working_day(day_of(self._first + len(working)))
            working.append(is_working)
            before.append(before[-1] + (_OFFICE_DAY_SECONDS if is_working else 0.0))
        return index

    def _seconds(self, moment: float) -> float:
        local = moment + _OFFSET
        day = int(local // _DAY)
        index = day - self._first
        if not 0 <= index < len(self._working):
            index = self._index(day)
        total = self._before[index]
        if self._working[index]:
            clock = local - day * _DAY
            for opens, closes in _WINDOWS:
                if clock > opens:
                    total += min(clock, closes) - opens
        return total

    def seconds_between(self, start: float, end: float) -> float:
        """Office seconds in [start, end] (epoch seconds); 0 when end is not after start."""
        if end <= start:
            return 0.0
        self._index(day_number(start))  # the earlier day first: a recount keeps both valid
        return self._seconds(end) - self._seconds(start)

    def hours(self, start: datetime, end: datetime) -> float:
        return self.seconds_between(start.timestamp(), end.timestamp()) / 3600

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end], as ``WorkingCalendar.working_days_between``."""
        if end <= start:
            return 0
        first = self._index(number_of(start))
        last = self._index(number_of(end))  # later, so never a recount
        return round((self._before[last + 1] - self._before[first + 1]) / _OFFICE_DAY_SECONDS)



_CLOCKS = threading.local()


def office_clock(calendar: WorkingCalendar) -> OfficeClock:
    """This thread's clock for the calendar, kept between calls: a new clock counts a year of
    days before its first measure (about 1 ms), which a page asked for thousands of times a
    minute should not pay on every view. Per thread because the clock's running totals are
    extended in place."""
    clocks: weakref.WeakKeyDictionary[WorkingCalendar, OfficeClock] | None = getattr(
        _CLOCKS, "by_calendar", None)
    if clocks is None:
        clocks = _CLOCKS.by_calendar = weakref.WeakKeyDictionary()
    clock = clocks.get(calendar)
    if clock is None:
        clock = clocks[calendar] = OfficeClock(calendar)
    return clock
