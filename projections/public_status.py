"""The citizen's status page: what the QR code on the receipt opens.

Keyed by a hash of the tracking token, so the read model never holds the token itself, and
holding only codes of units — never the applicant's data or an officer's name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from domain.application import DOSSIER_EVENT_CLASSES
from domain.dossier import DispatchMethod, Dossier, Stage, is_late, stage_after_dispatch
from domain.working_days import HCMC
from projections.read_model import (
    STAGE_AFTER_TRANSFER,
    PostgresReadModel,
    ReadModel,
    SQLiteReadModel,
    as_date,
    as_datetime,
    row_change,
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class PublicStep:
    kind: str
    stage: str
    unit_code: str
    occurred_at: datetime


@dataclass(frozen=True)
class PublicStatus:
    procedure_code: str
    stage: Stage
    holder_unit: str
    due_date: date
    received_at: datetime
    result_ready_at: datetime | None
    dispatch_method: DispatchMethod | None
    postal_tracking_number: str | None
    delivered_at: datetime | None
    steps: list[PublicStep]

    def is_late(self, today: date) -> bool:
        ready = self.result_ready_at.astimezone(HCMC).date() if self.result_ready_at else None
        return is_late(self.due_date, ready, today)


class PublicStatusView(ReadModel):
    tracking_name = "public_status"
    tables = ("public_status_step", "public_status")

    def record(
        self, *, dossier_id: str, version: int, kind: str, unit_code: str,
        occurred_at: datetime, changes: dict[str, Any], tracking: Tracking,
        created: bool = False,
    ) -> None:
        row = {"dossier_id": dossier_id, "version": version, "updated_at": occurred_at} | changes
        step = {
            "dossier_id": dossier_id, "version": version, "kind": kind,
            "unit_code": unit_code, "occurred_at": occurred_at,
        }
        self._write(
            tracking,
            row_change("public_status", "dossier_id", row, created=created),
            (
                # The step shows the stage the dossier reached with this event.
                "INSERT INTO {p}public_status_step "
                "(dossier_id, version, kind, stage, unit_code, occurred_at) "
                "SELECT dossier_id, %(version)s, %(kind)s, stage, %(unit_code)s, %(occurred_at)s "
                "FROM {p}public_status WHERE dossier_id = %(dossier_id)s",
                step,
            ),
        )

    def find(self, token: str) -> PublicStatus | None:
        rows = self._select(
            "SELECT * FROM {p}public_status WHERE token_hash = %(h)s", {"h": token_hash(token)}
        )
        if not rows:
            return None
        row = rows[0]
        steps = self._select(
            "SELECT kind, stage, unit_code, occurred_at FROM {p}public_status_step "
            "WHERE dossier_id = %(d)s ORDER BY version",
            {"d": row["dossier_id"]},
        )
        received_at = as_datetime(row["received_at"])
        due_date = as_date(row["due_date"])
        assert received_at is not None and due_date is not None
        return PublicStatus(
            procedure_code=row["procedure_code"],
            stage=Stage(row["stage"]),
            holder_unit=row["holder_unit"],
            due_date=due_date,
            received_at=received_at,
            result_ready_at=as_datetime(row["result_ready_at"]),
            dispatch_method=DispatchMethod(row["dispatch_method"])
            if row["dispatch_method"] else None,
            postal_tracking_number=row["postal_tracking_number"],
            delivered_at=as_datetime(row["delivered_at"]),
            steps=[
                PublicStep(s["kind"], s["stage"], s["unit_code"],
                           as_datetime(s["occurred_at"]))  # type: ignore[arg-type]
                for s in steps
            ],
        )


class SQLitePublicStatusView(PublicStatusView, SQLiteReadModel):
    pass


class PostgresPublicStatusView(PublicStatusView, PostgresReadModel):
    pass


class PublicStatusProjection(Projection[PublicStatusView]):
    name = "public_status"
    topics = tuple(get_topic(c) for c in DOSSIER_EVENT_CLASSES)

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        raise TypeError(f"public_status does not handle {type(domain_event).__qualname__}")

    def _record(self, e: Dossier.Event, tracking: Tracking, unit_code: str,
                changes: dict[str, Any], *, created: bool = False) -> None:
        self.view.record(
            dossier_id=str(e.originator_id), version=e.originator_version,
            kind=type(e).__name__, unit_code=unit_code, occurred_at=e.occurred_at,
            changes=changes, tracking=tracking, created=created,
        )

    @process_event.register
    def _received(self, e: Dossier.Received, tracking: Tracking) -> None:
        self._record(e, tracking, e.receiving_unit, {
            "token_hash": token_hash(e.tracking_token),
            "procedure_code": e.procedure_code,
            "stage": Stage.RECEIVED.value,
            "holder_unit": e.receiving_unit,
            "due_date": e.due_date,
            "received_at": e.occurred_at,
        }, created=True)

    @process_event.register
    def _transferred(self, e: Dossier.Transferred, tracking: Tracking) -> None:
        # A transfer after signing (returning the result to the counter) keeps the stage.
        self._record(e, tracking, e.to_unit, {
            "holder_unit": e.to_unit,
            "stage": STAGE_AFTER_TRANSFER,
        })

    @process_event.register
    def _signed(self, e: Dossier.Signed, tracking: Tracking) -> None:
        self._record(e, tracking, e.actor_unit,
                     {"stage": Stage.SIGNED.value, "result_ready_at": e.occurred_at})

    @process_event.register
    def _dispatched(self, e: Dossier.Dispatched, tracking: Tracking) -> None:
        self._record(e, tracking, e.holder_unit, {
            "stage": stage_after_dispatch(DispatchMethod(e.method)).value,
            "holder_unit": e.holder_unit,
            "dispatch_method": e.method,
            "postal_tracking_number": e.postal_tracking_number,
        })

    @process_event.register
    def _delivered(self, e: Dossier.Delivered, tracking: Tracking) -> None:
        self._record(e, tracking, e.actor_unit,
                     {"stage": Stage.DELIVERED.value, "delivered_at": e.occurred_at})
