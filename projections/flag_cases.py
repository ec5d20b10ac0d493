"""Red flags' cases as tables: the inspector's desk (each flag's open and closed cases, the
share dismissed as false alarms), which flags are settled for the facts they were closed on,
and each case's timeline.

Only reviewers read these rows, and never the officer a case is about: ``CaseRow``s are
selected for a viewer (:meth:`FlagCaseView.cases_for`), which leaves out the cases naming them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from domain.flag_case import FLAG_CASE_EVENT_CLASSES, FlagCase, Outcome, Subject
from projections.read_model import (
    PostgresReadModel,
    ReadModel,
    Row,
    SQLiteReadModel,
    as_datetime,
    row_change,
)


@dataclass(frozen=True)
class CaseRow:
    case_id: UUID
    version: int
    flag_kind: str
    subject: Subject
    subject_id: str
    fingerprint: str
    opened_at: datetime
    outcome: Outcome | None
    closed_at: datetime | None


@dataclass(frozen=True)
class CaseEntry:
    """One thing that happened to a case: opened, a note, closed (text: the outcome),
    reopened."""

    kind: str
    actor_id: str
    text: str | None
    at: datetime


@dataclass(frozen=True)
class FalseAlarms:
    """A flag's closed cases and how many of them were dismissed as false alarms."""

    closed: int
    false_alarms: int

    @property
    def share(self) -> float | None:
        return self.false_alarms / self.closed if self.closed else None


_COLUMNS = ("case_id, version, flag_kind, subject, subject_id, fingerprint, opened_at, "
            "outcome, closed_at")


def _case(r: Row) -> CaseRow:
    opened_at = as_datetime(r["opened_at"])
    assert opened_at is not None
    return CaseRow(UUID(str(r["case_id"])), int(r["version"]), r["flag_kind"],
                   Subject(r["subject"]), r["subject_id"], r["fingerprint"], opened_at,
                   Outcome(r["outcome"]) if r["outcome"] else None,
                   as_datetime(r["closed_at"]))


class FlagCaseView(ReadModel):
    tracking_name = "flag_cases"
    tables = ("flag_case", "flag_case_entry")

    def change(self, row: dict[str, Any], entry: dict[str, Any], tracking: Tracking, *,
               created: bool = False) -> None:
        self._write(tracking, row_change("flag_case", "case_id", row, created=created),
                    row_change("flag_case_entry", "", entry, created=True))

    def cases_for(self, viewer_id: str, flag_kind: str | None = None) -> list[CaseRow]:
        """The cases a reviewer may read (all but those about them), open ones first."""
        where = "NOT (subject = %(officer)s AND subject_id = %(viewer)s)"
        if flag_kind is not None:
            where += " AND flag_kind = %(kind)s"
        rows = self._select(
            f"SELECT {_COLUMNS} FROM {{p}}flag_case WHERE {where} "
            "ORDER BY closed_at IS NOT NULL, opened_at DESC",
            {"officer": Subject.OFFICER.value, "viewer": viewer_id, "kind": flag_kind})
        return [_case(r) for r in rows]

    def case(self, case_id: UUID, viewer_id: str) -> CaseRow | None:
        return next((c for c in self._cases_where("case_id = %(id)s", {"id": case_id})
                     if not (c.subject is Subject.OFFICER and c.subject_id == viewer_id)), None)

    def timeline(self, case_id: UUID) -> list[CaseEntry]:
        rows = self._select(
            "SELECT kind, actor_id, text, at FROM {p}flag_case_entry WHERE case_id = %(id)s "
            "ORDER BY version", {"id": case_id})
        return [CaseEntry(r["kind"], r["actor_id"], r["text"], _moment(r["at"])) for r in rows]

    def settled(self) -> set[tuple[str, str, str, str]]:
        """(flag, subject, subject id, fingerprint) of every closed case: these flags are
        not raised again for the same facts."""
        rows = self._select(
            "SELECT flag_kind, subject, subject_id, fingerprint FROM {p}flag_case "
            "WHERE closed_at IS NOT NULL")
        return {(r["flag_kind"], r["subject"], r["subject_id"], r["fingerprint"])
                for r in rows}

    def false_alarms(self) -> dict[str, FalseAlarms]:
        """Per flag: its closed cases, and how many were dismissed as false alarms."""
        rows = self._select(
            "SELECT flag_kind, COUNT(*) AS closed, "
            "SUM(CASE WHEN outcome = %(fa)s THEN 1 ELSE 0 END) AS false_alarms "
            "FROM {p}flag_case WHERE closed_at IS NOT NULL GROUP BY flag_kind",
            {"fa": Outcome.FALSE_ALARM.value})
        return {r["flag_kind"]: FalseAlarms(int(r["closed"]), int(r["false_alarms"] or 0))
                for r in rows}

    def _cases_where(self, where: str, params: dict[str, Any]) -> list[CaseRow]:
        return [_case(r) for r in self._select(
            f"SELECT {_COLUMNS} FROM {{p}}flag_case WHERE {where}", params)]


def _moment(value: Any) -> datetime:
    moment = as_datetime(value)
    assert moment is not None
    return moment


class SQLiteFlagCaseView(FlagCaseView, SQLiteReadModel):
    pass


class PostgresFlagCaseView(FlagCaseView, PostgresReadModel):
    pass


class FlagCaseProjection(Projection[FlagCaseView]):
    name = "flag_cases"
    topics = tuple(get_topic(c) for c in FLAG_CASE_EVENT_CLASSES)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        e = domain_event
        key = {"case_id": e.originator_id, "version": e.originator_version}
        if isinstance(e, FlagCase.Opened):
            self.view.change(key | {
                "flag_kind": e.flag_kind, "subject": e.subject, "subject_id": e.subject_id,
                "fingerprint": e.fingerprint, "opened_at": e.opened_at},
                key | {"kind": "opened", "actor_id": e.actor_id, "text": None,
                       "at": e.opened_at}, tracking, created=True)
        elif isinstance(e, FlagCase.NoteWritten):
            self.view.change(key, key | {"kind": "note", "actor_id": e.actor_id,
                                         "text": e.note, "at": e.written_at}, tracking)
        elif isinstance(e, FlagCase.Closed):
            self.view.change(key | {"outcome": e.outcome, "closed_at": e.closed_at},
                             key | {"kind": "closed", "actor_id": e.actor_id,
                                    "text": e.outcome, "at": e.closed_at}, tracking)
        elif isinstance(e, FlagCase.Reopened):
            self.view.change(key | {"fingerprint": e.fingerprint, "outcome": None,
                                    "closed_at": None},
                             key | {"kind": "reopened", "actor_id": e.actor_id, "text": None,
                                    "at": e.reopened_at}, tracking)
        else:
            raise TypeError(f"flag cases do not handle {type(e).__qualname__}")
