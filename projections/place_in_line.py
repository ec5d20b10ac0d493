"""Where a dossier is in line at its current desk, for the citizen's page.

Computed from the review read model's stays at desks (``review_step``) and dossiers
(``review_dossier``): only counts and office times leave here — no code, no applicant, no
officer. Dossiers waiting for the citizen's missing documents are not in line.

- **position**: 1 + the open files of the same procedure at the same desk that arrived
  there before this one (of how many are open there now);
- **overtaken**: files of the same procedure received after this one that left this desk
  while it was waiting there — what a citizen who suspects queue jumping wants to know;
- **range**: the median and 90th percentile of the office hours the last stays of the same
  procedure at that desk took, and the moments this stay would end if it took as long —
  an honest range, not a promise; with fewer than ``MIN_SAMPLE`` stays, none is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.office_time import OfficeClock, office_clock
from domain.working_days import WorkingCalendar
from projections.review import ReviewView

RECENT_STAYS = 50
MIN_SAMPLE = 5

_NOT_PAUSED = ("dossier_id NOT IN (SELECT dossier_id FROM {p}review_pause "
               "WHERE provided_at IS NULL)")


@dataclass(frozen=True)
class StepRange:
    median_hours: float
    p90_hours: float
    sample: int
    median_done_at: datetime  # when this stay ends if it takes the median
    p90_done_at: datetime


@dataclass(frozen=True)
class PlaceInLine:
    unit_code: str
    position: int  # 1 = next
    waiting: int  # open files of the procedure at the desk, this one included
    overtaken: int  # received later, left this desk first
    hours_here: float  # office hours since it arrived at this desk
    range: StepRange | None


def place_in_line(view: ReviewView, dossier_id: str, now: datetime,
                  calendar: WorkingCalendar) -> PlaceInLine | None:
    """None when the dossier is at no desk (finished, paused, or not yet received)."""
    mine = view.rows("review_step", f"dossier_id = %(d)s AND left_at IS NULL AND {_NOT_PAUSED}",
                     {"d": dossier_id}, order="arrived_at DESC")
    dossier = view.rows("review_dossier", "dossier_id = %(d)s", {"d": dossier_id})
    if not mine or not dossier or dossier[0]["result_ready_at"] is not None:
        return None
    step, received_at = mine[0], dossier[0]["received_at"]
    desk = {"u": step["unit_code"], "p": step["procedure_code"], "a": step["arrived_at"],
            "r": received_at}
    open_here = view.rows(
        "review_step", f"unit_code = %(u)s AND procedure_code = %(p)s AND left_at IS NULL "
        f"AND {_NOT_PAUSED}", desk)
    ahead = sum(1 for s in open_here if (s["arrived_at"], s["dossier_id"])
                < (step["arrived_at"], str(dossier_id)))
    overtaken = view.rows(
        "review_step", "unit_code = %(u)s AND procedure_code = %(p)s AND left_at > %(a)s "
        "AND dossier_id IN (SELECT dossier_id FROM {p}review_dossier "
        "WHERE received_at > %(r)s)", desk)
    recent = view.rows("review_step", "unit_code = %(u)s AND procedure_code = %(p)s "
                       "AND left_at IS NOT NULL", desk, order=f"left_at DESC LIMIT {RECENT_STAYS}")
    clock = office_clock(calendar)
    return PlaceInLine(
        unit_code=step["unit_code"], position=ahead + 1, waiting=len(open_here),
        overtaken=len({s["dossier_id"] for s in overtaken}),
        hours_here=clock.hours(step["arrived_at"], now),
        range=_range(recent, step["arrived_at"], clock, calendar))


def _range(recent: list[dict[str, Any]], arrived_at: datetime, clock: OfficeClock,
           calendar: WorkingCalendar) -> StepRange | None:
    hours = sorted(clock.hours(s["arrived_at"], s["left_at"]) for s in recent)
    if len(hours) < MIN_SAMPLE:
        return None
    median, p90 = _nearest_rank(hours, 0.5), _nearest_rank(hours, 0.9)
    return StepRange(median, p90, len(hours), calendar.add_working_hours(arrived_at, median),
                     calendar.add_working_hours(arrived_at, p90))


def _nearest_rank(ordered: list[float], share: float) -> float:
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]
