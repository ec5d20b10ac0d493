"""The post office's own work: what it must do next with each dossier it holds, and by when.

A dossier the post holds is in one of five piles — to collect at the citizen's address, in
transit to the counter, to deliver, failed (to try again), to take back to the counter — and
each postal leg is due by the end of the working day after it began (a pick-up asked on
Friday is collected by Monday evening; a result that failed on Monday is tried again by
Tuesday evening). Older than that, it is overdue and comes first on the post's list.
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from domain.dossier import MAX_DELIVERY_ATTEMPTS, Stage
from domain.working_days import HCMC, WorkingCalendar

# Each postal leg is due by the end of this many working days after the day it began.
POSTAL_LEG_WORKING_DAYS = 1


class PostalTask(StrEnum):
    TO_COLLECT = "to_collect"  # asked to collect at the citizen's address
    IN_TRANSIT = "in_transit"  # collected, on its way to the counter
    TO_DELIVER = "to_deliver"  # a result sent by post, not yet tried
    FAILED = "failed"  # tried and failed, to be tried again
    TO_RETURN = "to_return"  # to take back to the counter: last attempt failed, or the
    # citizen chose the counter


# The stages in which the post holds a dossier.
POSTAL_STAGES = (Stage.AWAITING_COLLECTION, Stage.COLLECTED, Stage.IN_POSTAL_TRANSIT)


def postal_task(stage: Stage, failed_attempts: int, counter_chosen: bool) -> PostalTask | None:
    """The post's next task with a dossier at ``stage``, or None if it holds none."""
    if stage is Stage.AWAITING_COLLECTION:
        return PostalTask.TO_COLLECT
    if stage is Stage.COLLECTED:
        return PostalTask.IN_TRANSIT
    if stage is not Stage.IN_POSTAL_TRANSIT:
        return None
    if counter_chosen or failed_attempts >= MAX_DELIVERY_ATTEMPTS:
        return PostalTask.TO_RETURN
    return PostalTask.FAILED if failed_attempts else PostalTask.TO_DELIVER


def leg_due(since: datetime, calendar: WorkingCalendar) -> date:
    """The day a postal leg begun at ``since`` is due by (its end)."""
    return calendar.add_working_days(since.astimezone(HCMC).date(), POSTAL_LEG_WORKING_DAYS)


def overdue_before(today: date, calendar: WorkingCalendar) -> datetime:
    """The moment before which a postal leg begun is overdue ``today``: the start of the
    last working day before today (``leg_due`` of anything begun earlier is before today)."""
    day = today
    for _ in range(POSTAL_LEG_WORKING_DAYS):
        day = _previous_working_day(day, calendar)
    return datetime.combine(day, time(), tzinfo=HCMC)


def is_overdue(since: datetime, today: date, calendar: WorkingCalendar) -> bool:
    return leg_due(since, calendar) < today


def _previous_working_day(day: date, calendar: WorkingCalendar) -> date:
    day = date.fromordinal(day.toordinal() - 1)
    while not calendar.is_working_day(day):
        day = date.fromordinal(day.toordinal() - 1)
    return day
