"""Working-day arithmetic in Asia/Ho_Chi_Minh.

Public holidays (Tết included) and swapped working Saturdays come from the maintained
``holidays`` library. Government decisions announced after a library release can be added
as overrides without waiting for a new version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

HCMC = ZoneInfo("Asia/Ho_Chi_Minh")


class WorkingCalendar:
    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        # True: a working day by decision (e.g. a swapped Saturday); False: a day off.
        self._overrides = dict(overrides or {})
        self._holidays = holidays.country_holidays("VN", language="vi")
        self._working: dict[date, bool] = {}

    def is_working_day(self, day: date) -> bool:
        if day in self._overrides:
            return self._overrides[day]
        # Analytics ask about the same few hundred days millions of times.
        known = self._working.get(day)
        if known is None:
            known = self._working[day] = bool(self._holidays.is_working_day(day))
        return known

    def holiday_name(self, day: date) -> str | None:
        name = self._holidays.get(day)
        return str(name) if name else None

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself never counts)."""
        if days < 0:
            raise ValueError("days must not be negative")
        day = start
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return day

    def next_working_day(self, day: date) -> date:
        return self.add_working_days(day, 1)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count

    def day_off_name(self, day: date) -> str:
        return self.holiday_name(day) or ("Thứ Bảy" if day.weekday() == 5 else
                                          "Chủ nhật" if day.weekday() == 6 else "Ngày nghỉ")

    def due_date(
        self, received_at: datetime, processing_days: int, cutoff: time | None = None
    ) -> DueDate:
        """The appointment date for a dossier received at ``received_at``.

        A dossier received on a day off, or after ``cutoff`` on a working day, counts as
        received on the next working day; the receipt day itself never counts.
        """
        local = received_at.astimezone(HCMC)
        received_on = local.date()
        after_cutoff = cutoff is not None and local.time() > cutoff
        counted_from = received_on
        if after_cutoff or not self.is_working_day(received_on):
            counted_from = self.next_working_day(received_on)
        due = self.add_working_days(counted_from, processing_days)
        days_off = []
        day = counted_from
        while day < due:
            day += timedelta(days=1)
            if not self.is_working_day(day):
                days_off.append((day, self.day_off_name(day)))
        return DueDate(due, received_on, counted_from, after_cutoff, processing_days,
                       tuple(days_off))

    def end_of_working_day(self, day: date) -> datetime:
        return datetime.combine(day, END_OF_DAY, tzinfo=HCMC)

    def add_working_days_from(self, start: datetime, days: int) -> datetime:
        """End of office hours on the ``days``-th working day after ``start``'s day."""
        return self.end_of_working_day(self.add_working_days(start.astimezone(HCMC).date(), days))

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` office hours after ``start`` (days off and nights skipped)."""
        remaining = timedelta(hours=hours)
        cursor = start.astimezone(HCMC)
        while True:
            day = cursor.date()
            if self.is_working_day(day):
                for opens, closes in OFFICE_HOURS:
                    window_start = datetime.combine(day, opens, tzinfo=HCMC)
                    window_end = datetime.combine(day, closes, tzinfo=HCMC)
                    if cursor >= window_end:
                        continue
                    begin = max(cursor, window_start)
                    available = window_end - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
                    cursor = window_end
            cursor = datetime.combine(day + timedelta(days=1), time(0), tzinfo=HCMC)


# Office hours used for allotments counted in working hours (Ho Chi Minh City time).
OFFICE_HOURS: tuple[tuple[time, time], ...] = (
    (time(7, 30), time(11, 30)),
    (time(13, 0), time(17, 0)),
)
END_OF_DAY = time(17, 0)


@dataclass(frozen=True)
class DueDate:
    """An appointment date and how it was computed, for "why is my due date X?"."""

    due: date
    received_on: date
    counted_from: date  # the day treated as the day of receipt
    after_cutoff: bool
    working_days: int
    days_off: tuple[tuple[date, str], ...]  # skipped days between counted_from and due

    def as_dict(self) -> dict[str, object]:
        return {
            "received_on": self.received_on.isoformat(),
            "counted_from": self.counted_from.isoformat(),
            "after_cutoff": self.after_cutoff,
            "working_days": self.working_days,
            "days_off": [[d.isoformat(), name] for d, name in self.days_off],
        }
