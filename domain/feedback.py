"""A citizen's feedback (*phản ánh, kiến nghị*) about a dossier: a case of its own that
gets an answer.

Sent from the public page with the dossier's tracking token, it is assigned at once to the
head of the agency handling the procedure — or to the inspectorate when it names an
unofficial payment, since the head may be the one it is about. It has its own deadline in
working days; unanswered by then it is escalated to the inspectorate with a few more days.
The answer shows on the citizen's page; the citizen closes the case once they have read it.

Whoever answers sees what was written, the procedure and when — never which dossier or who:
the official concerned must not learn who complained. Only the events keep the dossier's
id (private in the transparency log), so the citizen's page can find its own cases.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import AccessDenied, DomainError, NotFound
from domain.organisation import Directory, Procedure, Role, Staff, Unit, UnitKind
from domain.text import clean_text
from domain.working_days import HCMC, WorkingCalendar

# Decree 20/2008/NĐ-CP (on receiving and handling feedback on administrative regulations)
# gives the agency 10 working days to handle a phản ánh, kiến nghị; hoso holds itself to it.
ANSWER_WORKING_DAYS = 10
# Escalated unanswered: the inspectorate gets this many more working days from the day it
# takes the case over.
ESCALATED_WORKING_DAYS = 5
FEEDBACK_TEXT_MAX_LENGTH = 2000
ANSWER_TEXT_MAX_LENGTH = 4000
CITIZEN = "citizen"

_NAMESPACE = uuid5(NAMESPACE_URL, "https://hoso.example/feedback")


class Handler(StrEnum):
    """Who answers: the agency's head, or the inspectorate."""

    HEAD = "head"
    INSPECTORATE = "inspectorate"


def inspectorate(directory: Directory) -> Unit:
    return next(u for u in directory.units.values() if u.kind is UnitKind.OVERSIGHT)


def handler_for(procedure: Procedure, directory: Directory,
                about_unofficial_payment: bool) -> tuple[Unit, Handler]:
    """The unit that answers: the inspectorate for an unofficial payment (or when the
    procedure's route has no head), else the head (leadership unit) on the procedure's
    route."""
    if not about_unofficial_payment:
        for code in procedure.route_units:
            unit = directory.units.get(code)
            if unit is not None and unit.kind is UnitKind.LEADERSHIP:
                return unit, Handler.HEAD
    return inspectorate(directory), Handler.INSPECTORATE


def may_answer(staff: Staff, unit_code: str, handler: Handler) -> bool:
    """The one rule for who answers a case assigned to ``unit_code``."""
    wanted = Role.INSPECTOR if handler is Handler.INSPECTORATE else Role.SIGNING_OFFICER
    return staff.unit_code == unit_code and wanted in staff.roles


class FeedbackNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Không tìm thấy phản ánh, kiến nghị này.",
                         "This feedback was not found.")


class FeedbackStage(StrEnum):
    ASSIGNED = "assigned"
    ANSWERED = "answered"
    CLOSED = "closed"


class Feedback(Aggregate):
    """One citizen's feedback on one dossier, from receipt to closing."""

    class Received(Aggregate.Created):
        request_key: str
        dossier_id: str
        procedure_code: str
        about_unofficial_payment: bool
        text: str
        received_at: datetime
        due_on: date

    class Assigned(Aggregate.Event):
        unit_code: str
        handler: str
        due_on: date
        assigned_at: datetime

    class Answered(Aggregate.Event):
        answer: str
        actor_id: str
        actor_unit: str
        answered_at: datetime

    class Closed(Aggregate.Event):
        closed_at: datetime

    class Escalated(Aggregate.Event):
        from_unit: str
        unit_code: str
        handler: str
        due_on: date
        escalated_at: datetime

    @staticmethod
    def create_id(dossier_id: str, request_key: str) -> UUID:
        """One case per form sent: sending the same form twice finds the first."""
        return uuid5(_NAMESPACE, f"{dossier_id}/{request_key}")

    @classmethod
    def submit(cls, *, request_key: str, dossier_id: UUID, procedure: Procedure,
               about_unofficial_payment: bool, text: str, directory: Directory,
               calendar: WorkingCalendar, now: datetime) -> Feedback:
        """Receive a citizen's feedback and assign it: computes the text, the deadline and
        the handler, then records both events."""
        cleaned = clean_text(text, label_vi="nội dung phản ánh, kiến nghị",
                             label_en="feedback", max_length=FEEDBACK_TEXT_MAX_LENGTH)
        due_on = calendar.due_date(now, ANSWER_WORKING_DAYS).due
        case = cls(request_key=request_key, dossier_id=str(dossier_id),
                   procedure_code=procedure.code,
                   about_unofficial_payment=about_unofficial_payment, text=cleaned,
                   received_at=now, due_on=due_on, timestamp=now)
        unit, handler = handler_for(procedure, directory, about_unofficial_payment)
        case._assigned(unit_code=unit.code, handler=handler.value, due_on=due_on,
                       assigned_at=now, timestamp=now)
        return case

    @event(Received)
    def __init__(self, *, request_key: str, dossier_id: str, procedure_code: str,
                 about_unofficial_payment: bool, text: str, received_at: datetime,
                 due_on: date, timestamp: datetime) -> None:
        self.dossier_id = UUID(dossier_id)
        self.procedure_code = procedure_code
        self.about_unofficial_payment = about_unofficial_payment
        self.text = text
        self.received_at = received_at
        self.due_on = due_on
        self.unit_code = ""
        self.handler = Handler.HEAD
        self.answer: str | None = None
        self.answered_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.escalated_at: datetime | None = None

    @property
    def stage(self) -> FeedbackStage:
        if self.closed_at is not None:
            return FeedbackStage.CLOSED
        if self.answered_at is not None:
            return FeedbackStage.ANSWERED
        return FeedbackStage.ASSIGNED

    def is_overdue(self, today: date) -> bool:
        return self.answered_at is None and today > self.due_on

    # ---- commands ------------------------------------------------------------------------

    def answer_as(self, staff: Staff, answer: str, now: datetime) -> None:
        if not may_answer(staff, self.unit_code, self.handler):
            raise AccessDenied(
                "Phản ánh, kiến nghị này do đơn vị khác trả lời.",
                "Another unit answers this feedback.")
        if self.answered_at is not None:
            raise DomainError("Phản ánh, kiến nghị này đã được trả lời.",
                              "This feedback has already been answered.")
        cleaned = clean_text(answer, label_vi="nội dung trả lời", label_en="answer",
                             max_length=ANSWER_TEXT_MAX_LENGTH)
        self._answered(answer=cleaned, actor_id=staff.user_id, actor_unit=staff.unit_code,
                       answered_at=now, timestamp=now)

    def close_by_citizen(self, dossier_token: str, tracking_token: str, now: datetime) -> None:
        """The citizen has read the answer (only the dossier's token holder may close)."""
        if not secrets.compare_digest(dossier_token.encode(), tracking_token.encode()):
            raise FeedbackNotFound()
        if self.closed_at is not None:
            raise DomainError("Phản ánh, kiến nghị này đã đóng.", "This feedback is closed.")
        if self.answered_at is None:
            raise DomainError(
                "Bạn có thể đóng phản ánh, kiến nghị sau khi nhận được trả lời.",
                "You can close the feedback once it has been answered.")
        self._closed(closed_at=now, timestamp=now)

    def escalate(self, directory: Directory, calendar: WorkingCalendar, now: datetime) -> None:
        """Unanswered past its deadline: to the inspectorate, with a new deadline."""
        if not self.is_overdue(now.astimezone(HCMC).date()):
            raise DomainError("Phản ánh, kiến nghị này chưa quá hạn trả lời.",
                              "This feedback is not overdue.")
        if self.handler is Handler.INSPECTORATE:
            raise DomainError("Phản ánh, kiến nghị này đã do thanh tra giải quyết.",
                              "The inspectorate already handles this feedback.")
        target = inspectorate(directory)
        self._escalated(from_unit=self.unit_code, unit_code=target.code,
                        handler=Handler.INSPECTORATE.value,
                        due_on=calendar.due_date(now, ESCALATED_WORKING_DAYS).due,
                        escalated_at=now, timestamp=now)

    # ---- events: assign only -------------------------------------------------------------

    @event(Assigned)
    def _assigned(self, *, unit_code: str, handler: str, due_on: date,
                  assigned_at: datetime, timestamp: datetime) -> None:
        self.unit_code = unit_code
        self.handler = Handler(handler)
        self.due_on = due_on

    @event(Answered)
    def _answered(self, *, answer: str, actor_id: str, actor_unit: str,
                  answered_at: datetime, timestamp: datetime) -> None:
        self.answer = answer
        self.answered_at = answered_at

    @event(Closed)
    def _closed(self, *, closed_at: datetime, timestamp: datetime) -> None:
        self.closed_at = closed_at

    @event(Escalated)
    def _escalated(self, *, from_unit: str, unit_code: str, handler: str, due_on: date,
                   escalated_at: datetime, timestamp: datetime) -> None:
        self.unit_code = unit_code
        self.handler = Handler(handler)
        self.due_on = due_on
        self.escalated_at = escalated_at


FEEDBACK_EVENT_CLASSES: tuple[type[Aggregate.Event], ...] = (
    Feedback.Received, Feedback.Assigned, Feedback.Answered, Feedback.Closed,
    Feedback.Escalated)
