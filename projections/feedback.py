"""Citizens' feedback cases as a table: the assignee's list, the citizen's page, the handling
times in analytics and the public statistics.

Rows read for staff never carry the dossier's id (``StaffCase``): the official concerned must
not learn who complained. Only ``of_dossier`` (the citizen's own page) selects by it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from domain.application import HosoApplication
from domain.errors import DomainError
from domain.feedback import FEEDBACK_EVENT_CLASSES, Feedback, FeedbackStage, Handler
from domain.working_days import HCMC, WorkingCalendar
from projections.read_model import (
    PostgresReadModel,
    ReadModel,
    Row,
    SQLiteReadModel,
    as_date,
    as_datetime,
    row_change,
)


@dataclass(frozen=True)
class StaffCase:
    """A case as whoever answers it sees it: what was written, the procedure and when."""

    feedback_id: UUID
    version: int
    procedure_code: str
    about_payment: bool
    text: str
    received_at: datetime
    due_on: date
    unit_code: str
    handler: Handler
    escalated_at: datetime | None
    answer: str | None
    answered_at: datetime | None

    def is_overdue(self, today: date) -> bool:
        return self.answered_at is None and today > self.due_on


@dataclass(frozen=True)
class CitizenCase:
    """A case on the citizen's own page."""

    feedback_id: UUID
    text: str
    received_at: datetime
    due_on: date
    handler: Handler
    escalated: bool
    answer: str | None
    answered_at: datetime | None
    closed_at: datetime | None

    @property
    def stage(self) -> FeedbackStage:
        if self.closed_at is not None:
            return FeedbackStage.CLOSED
        if self.answered_at is not None:
            return FeedbackStage.ANSWERED
        return FeedbackStage.ASSIGNED


@dataclass(frozen=True)
class HandledCase:
    """What the handling-time figures need: no text, no dossier."""

    procedure_code: str
    unit_code: str
    handler: Handler
    received_at: datetime
    due_on: date
    escalated: bool
    answered_at: datetime | None


_NEVER = datetime(9999, 1, 1, tzinfo=HCMC)
_STAFF_COLUMNS = ("feedback_id, version, procedure_code, about_payment, text, received_at, "
                  "due_on, unit_code, handler, escalated_at, answer, answered_at")


def _staff_case(r: Row) -> StaffCase:
    return StaffCase(
        UUID(str(r["feedback_id"])), int(r["version"]), r["procedure_code"],
        bool(r["about_payment"]), r["text"], _moment(r["received_at"]), _day(r["due_on"]),
        r["unit_code"], Handler(r["handler"]), as_datetime(r["escalated_at"]), r["answer"],
        as_datetime(r["answered_at"]))


def _moment(value: Any) -> datetime:
    moment = as_datetime(value)
    assert moment is not None
    return moment


def _day(value: Any) -> date:
    day = as_date(value)
    assert day is not None
    return day


class FeedbackView(ReadModel):
    tracking_name = "feedback"
    tables = ("feedback_case",)

    def change(self, row: dict[str, Any], tracking: Tracking, *, created: bool = False) -> None:
        self._write(tracking, row_change("feedback_case", "feedback_id", row, created=created))

    def assigned_to(self, unit_code: str, limit: int = 200) -> list[StaffCase]:
        """The unit's cases: unanswered first (oldest deadline first), then the latest
        answered."""
        rows = self._select(
            f"SELECT {_STAFF_COLUMNS} FROM {{p}}feedback_case WHERE unit_code = %(unit)s "
            "ORDER BY answered_at IS NOT NULL, due_on, received_at LIMIT %(limit)s",
            {"unit": unit_code, "limit": limit})
        return [_staff_case(r) for r in rows]

    def case(self, feedback_id: UUID) -> StaffCase | None:
        rows = self._select(
            f"SELECT {_STAFF_COLUMNS} FROM {{p}}feedback_case WHERE feedback_id = %(id)s",
            {"id": feedback_id})
        return _staff_case(rows[0]) if rows else None

    def of_dossier(self, dossier_id: UUID) -> list[CitizenCase]:
        rows = self._select(
            "SELECT feedback_id, text, received_at, due_on, handler, escalated_at, answer, "
            "answered_at, closed_at FROM {p}feedback_case WHERE dossier_id = %(d)s "
            "ORDER BY received_at", {"d": dossier_id})
        return [CitizenCase(UUID(str(r["feedback_id"])), r["text"], _moment(r["received_at"]),
                            _day(r["due_on"]), Handler(r["handler"]),
                            r["escalated_at"] is not None, r["answer"],
                            as_datetime(r["answered_at"]), as_datetime(r["closed_at"]))
                for r in rows]

    def overdue(self, today: date) -> list[UUID]:
        """Unanswered cases past their deadline still with an agency's head."""
        rows = self._select(
            "SELECT feedback_id FROM {p}feedback_case WHERE answered_at IS NULL "
            "AND due_on < %(today)s AND handler = %(head)s ORDER BY due_on",
            {"today": today, "head": Handler.HEAD.value})
        return [UUID(str(r["feedback_id"])) for r in rows]

    def handled_cases(self, since: datetime, until: datetime | None = None
                      ) -> list[HandledCase]:
        """Cases received in [since, until)."""
        rows = self._select(
            "SELECT procedure_code, unit_code, handler, received_at, due_on, escalated_at, "
            "answered_at FROM {p}feedback_case WHERE received_at >= %(since)s "
            "AND received_at < %(until)s ORDER BY received_at",
            {"since": since, "until": until or _NEVER})
        return [HandledCase(r["procedure_code"], r["unit_code"], Handler(r["handler"]),
                            _moment(r["received_at"]), _day(r["due_on"]),
                            r["escalated_at"] is not None, as_datetime(r["answered_at"]))
                for r in rows]


class SQLiteFeedbackView(FeedbackView, SQLiteReadModel):
    pass


class PostgresFeedbackView(FeedbackView, PostgresReadModel):
    pass


class FeedbackProjection(Projection[FeedbackView]):
    name = "feedback"
    topics = tuple(get_topic(c) for c in FEEDBACK_EVENT_CLASSES)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        e = domain_event
        key = {"feedback_id": e.originator_id, "version": e.originator_version}
        if isinstance(e, Feedback.Received):
            self.view.change(key | {
                "dossier_id": UUID(e.dossier_id), "procedure_code": e.procedure_code,
                "about_payment": e.about_unofficial_payment, "text": e.text,
                "received_at": e.received_at, "due_on": e.due_on}, tracking, created=True)
        elif isinstance(e, Feedback.Assigned):
            self.view.change(key | {"unit_code": e.unit_code, "handler": e.handler,
                                    "due_on": e.due_on}, tracking)
        elif isinstance(e, Feedback.Answered):
            self.view.change(key | {"answer": e.answer, "answered_by": e.actor_id,
                                    "answered_unit": e.actor_unit,
                                    "answered_at": e.answered_at}, tracking)
        elif isinstance(e, Feedback.Closed):
            self.view.change(key | {"closed_at": e.closed_at}, tracking)
        elif isinstance(e, Feedback.Escalated):
            self.view.change(key | {"unit_code": e.unit_code, "handler": e.handler,
                                    "from_unit": e.from_unit, "due_on": e.due_on,
                                    "escalated_at": e.escalated_at}, tracking)
        else:
            raise TypeError(f"feedback does not handle {type(e).__qualname__}")


def escalate_overdue(app: HosoApplication, view: FeedbackView) -> int:
    """Hand every case the read model finds overdue to the inspectorate (``hoso
    escalate-feedback``, run daily); how many were escalated. The case itself decides: one
    answered since the read model was written is refused, and left alone."""
    today = app.clock().astimezone(HCMC).date()
    escalated = 0
    for feedback_id in view.overdue(today):
        try:
            app.escalate_feedback(feedback_id)
        except DomainError:
            continue
        escalated += 1
    return escalated


@dataclass(frozen=True)
class FeedbackFigures:
    """How citizens' feedback was handled: counts and working days to an answer."""

    received: int
    answered: int
    answered_on_time: int  # answered no later than its (last) deadline
    escalated: int
    open_overdue: int
    median_days: float | None  # working days from receipt to answer, receipt day not counted
    p90_days: float | None


def feedback_figures(cases: list[HandledCase], calendar: WorkingCalendar,
                     today: date) -> FeedbackFigures:
    days = sorted(calendar.working_days_between(c.received_at.astimezone(HCMC).date(),
                                                c.answered_at.astimezone(HCMC).date())
                  for c in cases if c.answered_at is not None)
    return FeedbackFigures(
        received=len(cases),
        answered=len(days),
        answered_on_time=sum(1 for c in cases if c.answered_at is not None
                             and c.answered_at.astimezone(HCMC).date() <= c.due_on),
        escalated=sum(1 for c in cases if c.escalated),
        open_overdue=sum(1 for c in cases if c.answered_at is None and today > c.due_on),
        median_days=_percentile(days, 0.5), p90_days=_percentile(days, 0.9))


def _percentile(ordered: list[int], share: float) -> float | None:
    """The nearest-rank percentile (a value that occurred), None for no values."""
    if not ordered:
        return None
    return float(ordered[max(0, math.ceil(share * len(ordered)) - 1)])
