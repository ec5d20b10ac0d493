"""What sits on each desk: open dossiers by holder, with their step clocks.

One row per open dossier (delivered and withdrawn ones leave the queue). Rows are read in
due-date order — overdue dossiers have the earliest due dates, so they come first — with
keyset pagination, so a page costs the same at 100 or 100,000 open dossiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import singledispatch
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from domain.dossier import CITIZEN, DispatchMethod, Dossier, Stage, is_late
from domain.office_time import OfficeClock
from domain.postal import POSTAL_STAGES
from projections.changes import common_changes
from projections.dossier_projection import DossierProjection
from projections.phone_digest import DigestsPhones
from projections.read_model import (
    PostgresReadModel,
    ReadModel,
    SQLiteReadModel,
    as_date,
    as_datetime,
    row_change,
    row_delete,
)

PAGE_SIZE = 50


@dataclass(frozen=True)
class QueueRow:
    dossier_id: UUID
    version: int
    code: str
    procedure_code: str
    stage: Stage
    holder_unit: str
    holder_officer: str | None
    pending_from_unit: str | None
    arrived_at: datetime
    step_started_at: datetime | None
    step_due_at: datetime | None
    due_date: date
    received_at: datetime
    extensions: int
    result_ready_at: datetime | None
    paused_at: datetime | None
    # The post's side (issue 23): when the current postal leg began, failed delivery
    # attempts, the citizen's choice of the counter, the postal tracking number.
    postal_since: datetime | None = None
    failed_attempts: int = 0
    counter_chosen: bool = False
    postal_tracking_number: str | None = None

    def is_late(self, today: date) -> bool:
        return is_late(stage=self.stage, due_date=self.due_date,
                       result_ready_at=self.result_ready_at, paused_at=self.paused_at,
                       today=today)

    def step_used(self, now: datetime, clock: OfficeClock) -> float | None:
        """Share of the step's allowance used so far (1.0 = all of it), both counted in office
        time, as step due times are: a 4-hour step begun on Friday at 16:00 has used a
        quarter of it by 17:00, and none over the weekend."""
        if self.step_started_at is None or self.step_due_at is None:
            return None
        allowed = clock.hours(self.step_started_at, self.step_due_at)
        return clock.hours(self.step_started_at, now) / allowed if allowed > 0 else 1.0

    @property
    def cursor(self) -> str:
        return f"{self.due_date.isoformat()}|{self.received_at.isoformat()}|{self.dossier_id}"


@dataclass(frozen=True)
class QueueFilter:
    holder_unit: str | None = None
    holder_officer: str | None = None
    incoming: bool = False  # transfers not yet accepted, instead of what is on the desk
    procedure_code: str | None = None
    stage: str | None = None
    code: str | None = None
    phone: str | None = None
    after: str | None = None  # keyset cursor from QueueRow.cursor


_COLUMNS = ("dossier_id, version, code, procedure_code, stage, holder_unit, holder_officer, "
            "pending_from_unit, arrived_at, step_started_at, step_due_at, due_date, "
            "received_at, extensions, result_ready_at, paused_at, postal_since, "
            "failed_attempts, counter_chosen, postal_tracking_number")


class DeskQueueView(ReadModel, DigestsPhones):
    """Open dossiers by desk. A clerk finds a citizen's dossiers by phone through its keyed
    digest (projections/phone_digest.py): the queue stores no phone."""

    tracking_name = "desk_queue"
    tables = ("desk_queue",)

    def record(self, *, statement: tuple[str, dict[str, Any]], tracking: Tracking) -> None:
        self._write(tracking, statement)

    def page(self, f: QueueFilter, limit: int = PAGE_SIZE) -> list[QueueRow]:
        values = (f.holder_unit, f.holder_officer, f.procedure_code, f.stage, f.code, f.phone,
                  f.after)
        if any("\x00" in (v or "") for v in values):
            return []  # PostgreSQL refuses NUL in text; nothing can match it anyway
        clauses: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        if f.holder_unit:
            clauses.append("holder_unit = %(unit)s")
            params["unit"] = f.holder_unit
        if f.holder_officer:
            clauses.append("holder_officer = %(officer)s")
            params["officer"] = f.holder_officer
        if f.holder_unit or f.holder_officer:
            clauses.append("pending_from_unit IS NOT NULL" if f.incoming
                           else "pending_from_unit IS NULL")
        for column, value in (("procedure_code", f.procedure_code), ("stage", f.stage),
                              ("code", f.code)):
            if value:
                clauses.append(f"{column} = %({column})s")
                params[column] = value
        if f.phone:
            clauses.append("phone_hash = %(phone_hash)s")
            params["phone_hash"] = self.digest_phone(f.phone)
        if f.after:
            try:
                due, received, dossier_id = f.after.split("|")
                params |= {"a_due": date.fromisoformat(due),
                           "a_received": datetime.fromisoformat(received).astimezone(UTC),
                           "a_id": UUID(dossier_id)}
            except (ValueError, OverflowError):
                return []  # not a cursor this page made
            clauses.append("(due_date, received_at, dossier_id) > "
                           "(%(a_due)s, %(a_received)s, %(a_id)s)")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._select(
            f"SELECT {_COLUMNS} FROM {{p}}desk_queue {where} "
            "ORDER BY due_date, received_at, dossier_id LIMIT %(limit)s",
            params,
        )
        return [_queue_row(r) for r in rows]

    # ---- the post office's work list (issue 23) ------------------------------------------

    def postal_counts(self, unit: str, overdue_before: datetime) -> list[PostalCount]:
        """What the post at ``unit`` holds, counted by stage, attempts, the citizen's choice
        and whether its leg began before ``overdue_before`` — a few groups, which the domain
        sorts into its piles."""
        stages = ", ".join(f"'{s.value}'" for s in POSTAL_STAGES)  # fixed names, never input
        rows = self._select(
            "SELECT stage, failed_attempts, counter_chosen, "
            "CASE WHEN COALESCE(postal_since, arrived_at) < %(before)s THEN 1 ELSE 0 END "
            "AS overdue, COUNT(*) AS n FROM {p}desk_queue "
            f"WHERE holder_unit = %(unit)s AND stage IN ({stages}) "
            "GROUP BY stage, failed_attempts, counter_chosen, "
            "CASE WHEN COALESCE(postal_since, arrived_at) < %(before)s THEN 1 ELSE 0 END",
            {"unit": unit, "before": overdue_before})
        return [PostalCount(Stage(r["stage"]), int(r["failed_attempts"]),
                            bool(r["counter_chosen"]), bool(r["overdue"]), int(r["n"]))
                for r in rows]

    def postal_rows(self, unit: str, stage: Stage, limit: int) -> list[QueueRow]:
        """The dossiers the post at ``unit`` holds at ``stage``, the longest waiting first."""
        if "\x00" in unit:
            return []
        rows = self._select(
            f"SELECT {_COLUMNS} FROM {{p}}desk_queue "
            "WHERE holder_unit = %(unit)s AND stage = %(stage)s "
            "ORDER BY COALESCE(postal_since, arrived_at), dossier_id LIMIT %(limit)s",
            {"unit": unit, "stage": stage.value, "limit": limit})
        return [_queue_row(r) for r in rows]


@dataclass(frozen=True)
class PostalCount:
    stage: Stage
    failed_attempts: int
    counter_chosen: bool
    overdue: bool
    count: int


def _queue_row(r: dict[str, Any]) -> QueueRow:
    return QueueRow(
        dossier_id=UUID(str(r["dossier_id"])),
        version=int(r["version"]),
        code=r["code"],
        procedure_code=r["procedure_code"],
        stage=Stage(r["stage"]),
        holder_unit=r["holder_unit"],
        holder_officer=r["holder_officer"],
        pending_from_unit=r["pending_from_unit"],
        arrived_at=as_datetime(r["arrived_at"]),  # type: ignore[arg-type]
        step_started_at=as_datetime(r["step_started_at"]),
        step_due_at=as_datetime(r["step_due_at"]),
        due_date=as_date(r["due_date"]),  # type: ignore[arg-type]
        received_at=as_datetime(r["received_at"]),  # type: ignore[arg-type]
        extensions=int(r["extensions"]),
        result_ready_at=as_datetime(r["result_ready_at"]),
        paused_at=as_datetime(r["paused_at"]),
        postal_since=as_datetime(r["postal_since"]),
        failed_attempts=int(r["failed_attempts"]),
        counter_chosen=bool(r["counter_chosen"]),
        postal_tracking_number=r["postal_tracking_number"],
    )


class SQLiteDeskQueueView(DeskQueueView, SQLiteReadModel):
    pass


class PostgresDeskQueueView(DeskQueueView, PostgresReadModel):
    pass


class DeskQueueProjection(DossierProjection[DeskQueueView]):
    name = "desk_queue"

    def apply(self, e: Dossier.Event, tracking: Tracking) -> None:
        dossier_id = str(e.originator_id)
        if isinstance(e, Dossier.Delivered | Dossier.Withdrawn | Dossier.RefusedToReceive):
            statement = row_delete("desk_queue", "dossier_id", dossier_id)
        elif isinstance(e, Dossier.Rated):
            # Nothing on the desk changes, but a refusal rated before it is handed over is
            # still queued, and the accept button posts the version: a stale one would send
            # the clerk round a "reload and try again" loop. An UPDATE never brings back a
            # delivered dossier's row.
            statement = row_change("desk_queue", "dossier_id",
                                   {"dossier_id": dossier_id, "version": e.originator_version},
                                   created=False)
        else:
            row = {"dossier_id": dossier_id, "version": e.originator_version,
                   "updated_at": e.occurred_at} | common_changes(e) | _desk_changes(e)
            if isinstance(e, Dossier.Received):
                row["phone_hash"] = self.view.digest_phone(e.applicant["phone"])
            statement = row_change("desk_queue", "dossier_id", row,
                                   created=isinstance(e, Dossier.Received))
        self.view.record(statement=statement, tracking=tracking)


@singledispatch
def _desk_changes(e: Dossier.Event) -> dict[str, Any]:
    return {}


@_desk_changes.register
def _(e: Dossier.Received) -> dict[str, Any]:
    by_citizen = e.actor_id == CITIZEN  # an online submission: the counter's to check
    return {"code": e.code, "holder_officer": None if by_citizen else e.actor_id,
            "arrived_at": e.occurred_at,
            "step_started_at": None if by_citizen else e.occurred_at,
            "step_due_at": e.step_due_at}


@_desk_changes.register
def _(e: Dossier.AcceptedOnline) -> dict[str, Any]:
    return {"holder_officer": e.actor_id, "step_started_at": e.occurred_at,
            "step_due_at": e.step_due_at}


@_desk_changes.register
def _(e: Dossier.Transferred) -> dict[str, Any]:
    return {"holder_officer": e.to_officer,
            "pending_from_unit": e.from_unit if e.awaits_acceptance else None,
            "arrived_at": e.occurred_at, "step_started_at": None, "step_due_at": None}


@_desk_changes.register
def _(e: Dossier.TransferAccepted) -> dict[str, Any]:
    return {"holder_officer": e.actor_id, "pending_from_unit": None,
            "step_started_at": e.occurred_at, "step_due_at": e.step_due_at}


@_desk_changes.register
def _(e: Dossier.SupplementProvided) -> dict[str, Any]:
    return {"step_due_at": e.step_due_at}


@_desk_changes.register
def _(e: Dossier.PickupRequested) -> dict[str, Any]:
    # On the post office's list: to collect, at the time it was asked.
    return {"holder_officer": None, "arrived_at": e.occurred_at, "step_started_at": None,
            "step_due_at": None, "postal_since": e.occurred_at}


@_desk_changes.register
def _(e: Dossier.CollectedByPost) -> dict[str, Any]:
    return {"holder_officer": e.actor_id, "postal_since": e.occurred_at,
            "postal_tracking_number": e.postal_tracking_number}


@_desk_changes.register
def _(e: Dossier.DeliveryAttemptFailed) -> dict[str, Any]:
    # The next attempt's leg begins.
    return {"failed_attempts": e.attempt, "postal_since": e.occurred_at}


@_desk_changes.register
def _(e: Dossier.DeliveryRedirected) -> dict[str, Any]:
    changes: dict[str, Any] = {"postal_since": e.occurred_at}
    if e.address is None:
        changes["counter_chosen"] = 1  # to take back to the counter
    return changes


@_desk_changes.register
def _(e: Dossier.HandedToCounter) -> dict[str, Any]:
    # Like a transfer: on the counter's incoming list until it records its receipt.
    return {"holder_officer": None, "pending_from_unit": e.actor_unit,
            "arrived_at": e.occurred_at}


@_desk_changes.register
def _(e: Dossier.ReturnedToCounter) -> dict[str, Any]:
    return {"holder_officer": None}


@_desk_changes.register
def _(e: Dossier.ReceivedFromPost) -> dict[str, Any]:
    return {"holder_officer": e.actor_id, "pending_from_unit": None,
            "step_started_at": e.occurred_at, "step_due_at": e.step_due_at}


@_desk_changes.register
def _(e: Dossier.Dispatched) -> dict[str, Any]:
    changes: dict[str, Any] = {"holder_officer": None, "arrived_at": e.occurred_at,
                               "step_started_at": None, "step_due_at": None}
    if e.method == DispatchMethod.POST.value:
        changes |= {"postal_since": e.occurred_at, "failed_attempts": 0, "counter_chosen": 0,
                    "postal_tracking_number": e.postal_tracking_number}
    return changes
