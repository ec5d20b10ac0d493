"""A red flag taken up as a case on the inspector's desk: opened on one flag's subject (a
dossier or an officer), written on, and closed with an outcome.

A flag is a reason to look, not a verdict; the case records what the inspectorate made of
it. There is one case per flag and subject, for good: its ``fingerprint`` names the facts
it was opened on (see :func:`fingerprint`). Closed, the flag is not raised again for the
same facts; when the facts change (another late file, one more transfer) the flag is raised
again and opening it reopens the same case, so its history stays in one place.

Inspectors and administrators read and write cases; the officer a case is about never does
(:func:`may_work_on`), even when they are an inspector themselves.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import AccessDenied, DomainError, NotFound
from domain.organisation import Staff
from domain.text import clean_text

NOTE_MAX_LENGTH = 4000
_NAMESPACE = uuid5(NAMESPACE_URL, "https://hoso.example/flag-case")


class Subject(StrEnum):
    """What a flag is raised on."""

    DOSSIER = "dossier"
    OFFICER = "officer"


class Outcome(StrEnum):
    """How a case ends."""

    EXPLAINED = "explained"  # there was a good reason, on the record
    WARNING = "warning"  # the officer was warned
    REFERRED = "referred"  # handed on for discipline or to the police
    FALSE_ALARM = "false_alarm"  # the flag should not have been raised


class FlagCaseNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Không tìm thấy vụ việc này.", "This case was not found.")


def fingerprint(facts: str) -> str:
    """The facts a flag was raised on, as a short digest: equal facts, equal fingerprints.
    The facts are the flag's own explanation (codes and ids, no names), so a changed fact
    (a longer stay, another supplement request) is a new fingerprint."""
    return hashlib.sha256(facts.encode()).hexdigest()[:32]


def may_work_on(staff: Staff, subject: Subject, subject_id: str) -> bool:
    """The one rule for who reads and writes a case: reviewers, but never the officer it is
    about."""
    return staff.may_review and not (subject is Subject.OFFICER and subject_id == staff.user_id)


def _refuse_unless_allowed(staff: Staff, subject: Subject, subject_id: str) -> None:
    if not may_work_on(staff, subject, subject_id):
        raise AccessDenied("Chỉ thanh tra khác (không phải người bị nêu) được xử lý vụ việc này.",
                           "Only other inspectors (not the person concerned) may work on "
                           "this case.")


class FlagCase(Aggregate):
    """One flag on one subject, through every time it was opened and closed."""

    class Opened(Aggregate.Created):
        flag_kind: str
        subject: str
        subject_id: str
        fingerprint: str
        actor_id: str
        opened_at: datetime

    class NoteWritten(Aggregate.Event):
        note: str
        actor_id: str
        written_at: datetime

    class Closed(Aggregate.Event):
        outcome: str
        actor_id: str
        closed_at: datetime

    class Reopened(Aggregate.Event):
        fingerprint: str
        actor_id: str
        reopened_at: datetime

    @staticmethod
    def create_id(flag_kind: str, subject: str, subject_id: str) -> UUID:
        """One case per flag and subject: opening it twice finds the first."""
        return uuid5(_NAMESPACE, f"{flag_kind}/{Subject(subject).value}/{subject_id}")

    @classmethod
    def open(cls, *, flag_kind: str, subject: Subject, subject_id: str, facts_fingerprint: str,
             staff: Staff, now: datetime) -> FlagCase:
        _refuse_unless_allowed(staff, subject, subject_id)
        return cls(flag_kind=flag_kind, subject=subject.value, subject_id=subject_id,
                   fingerprint=facts_fingerprint, actor_id=staff.user_id, opened_at=now,
                   timestamp=now)

    @event(Opened)
    def __init__(self, *, flag_kind: str, subject: str, subject_id: str, fingerprint: str,
                 actor_id: str, opened_at: datetime, timestamp: datetime) -> None:
        self.flag_kind = flag_kind
        self.subject = Subject(subject)
        self.subject_id = subject_id
        self.fingerprint = fingerprint
        self.opened_at = opened_at
        self.outcome: Outcome | None = None
        self.closed_at: datetime | None = None
        self.notes: list[tuple[str, str, datetime]] = []

    @property
    def is_open(self) -> bool:
        return self.outcome is None

    def settles(self, facts_fingerprint: str) -> bool:
        """Closed on these very facts: the flag is not raised again for them."""
        return not self.is_open and self.fingerprint == facts_fingerprint

    # ---- commands ------------------------------------------------------------------------

    def reopen(self, facts_fingerprint: str, staff: Staff, now: datetime) -> None:
        """Open again on new facts (the flag was raised again after the case was closed)."""
        _refuse_unless_allowed(staff, self.subject, self.subject_id)
        if self.is_open:
            raise DomainError("Vụ việc này đang mở.", "This case is already open.")
        if self.settles(facts_fingerprint):
            raise DomainError(
                "Vụ việc này đã đóng với đúng các dữ kiện này; chỉ mở lại khi có dữ kiện mới.",
                "This case was closed on these very facts; it reopens only on new facts.")
        self._reopened(fingerprint=facts_fingerprint, actor_id=staff.user_id,
                       reopened_at=now, timestamp=now)

    def write_note(self, note: str, staff: Staff, now: datetime) -> None:
        _refuse_unless_allowed(staff, self.subject, self.subject_id)
        if not self.is_open:
            raise DomainError("Vụ việc đã đóng; mở lại để ghi thêm.",
                              "The case is closed; reopen it to write more.")
        cleaned = clean_text(note, label_vi="ghi chú", label_en="note",
                             max_length=NOTE_MAX_LENGTH)
        self._note_written(note=cleaned, actor_id=staff.user_id, written_at=now,
                           timestamp=now)

    def close(self, outcome: str, staff: Staff, now: datetime) -> None:
        _refuse_unless_allowed(staff, self.subject, self.subject_id)
        if not self.is_open:
            raise DomainError("Vụ việc này đã đóng.", "This case is already closed.")
        try:
            chosen = Outcome(outcome)
        except ValueError:
            raise DomainError("Hãy chọn kết quả xử lý vụ việc.",
                              "Choose the case's outcome.") from None
        if not self.notes and chosen is not Outcome.FALSE_ALARM:
            raise DomainError(
                "Hãy ghi ít nhất một ghi chú giải thích trước khi đóng với kết quả này.",
                "Write at least one note explaining it before closing with this outcome.")
        self._closed(outcome=chosen.value, actor_id=staff.user_id, closed_at=now,
                     timestamp=now)

    # ---- events: assign only -------------------------------------------------------------

    @event(NoteWritten)
    def _note_written(self, *, note: str, actor_id: str, written_at: datetime,
                      timestamp: datetime) -> None:
        self.notes.append((actor_id, note, written_at))

    @event(Closed)
    def _closed(self, *, outcome: str, actor_id: str, closed_at: datetime,
                timestamp: datetime) -> None:
        self.outcome = Outcome(outcome)
        self.closed_at = closed_at

    @event(Reopened)
    def _reopened(self, *, fingerprint: str, actor_id: str, reopened_at: datetime,
                  timestamp: datetime) -> None:
        self.fingerprint = fingerprint
        self.outcome = None
        self.closed_at = None


FLAG_CASE_EVENT_CLASSES: tuple[type[Aggregate.Event], ...] = (
    FlagCase.Opened, FlagCase.NoteWritten, FlagCase.Closed, FlagCase.Reopened)
