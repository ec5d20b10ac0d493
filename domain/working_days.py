"""Working-day arithmetic in Asia/Ho_Chi_Minh.

Public holidays (Tết included) and swapped working Saturdays come from the maintained
``holidays`` library. Government decisions announced after a library release can be added
as overrides without waiting for a new version.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays

HCMC = ZoneInfo("Asia/Ho_Chi_Minh")


class WorkingCalendar:
    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        # True: a working day by decision (e.g. a swapped Saturday); False: a day off.
        self._overrides = dict(overrides or {})
        self._holidays = holidays.country_holidays("VN")

    def is_working_day(self, day: date) -> bool:
        if day in self._overrides:
            return self._overrides[day]
        return bool(self._holidays.is_working_day(day))

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

    def due_date(self, received_at: datetime, processing_days: int) -> date:
        """The appointment date for a dossier received at ``received_at``."""
        local_day = received_at.astimezone(HCMC).date()
        return self.add_working_days(local_day, processing_days)
