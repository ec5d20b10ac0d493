"""The citizen's status page: what the QR code on the receipt opens.

Keyed by a hash of the tracking token, so the read model never holds the token itself, and
holding only codes of units — never the applicant's data or an officer's name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import singledispatch
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from domain.dossier import (
    CITIZEN,
    DispatchMethod,
    Dossier,
    PaymentMethod,
    Stage,
    is_late,
    is_rateable,
)
from domain.fees import FeeSchedule, amount_owed
from projections.changes import common_changes
from projections.dossier_projection import DossierProjection
from projections.read_model import (
    PostgresReadModel,
    ReadModel,
    SqlExpression,
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
    dossier_id: UUID  # for the page's own commands (the rating); never shown
    procedure_code: str
    stage: Stage
    holder_unit: str
    due_date: date
    received_at: datetime
    result_ready_at: datetime | None
    dispatch_method: DispatchMethod | None
    postal_tracking_number: str | None
    delivered_at: datetime | None
    paused_at: datetime | None
    extensions: int
    due_date_basis: dict[str, Any]
    notice: dict[str, Any] | None
    steps: list[PublicStep]
    rated_at: datetime | None
    fee_schedule: FeeSchedule | None = None
    amount_due_vnd: int = 0
    amount_paid_vnd: int = 0

    @property
    def amount_owed_vnd(self) -> int:
        return amount_owed(self.amount_due_vnd, self.amount_paid_vnd, ended_without_result=(
            self.stage in (Stage.WITHDRAWN, Stage.NOT_RECEIVED)
            or any(s.kind == "Rejected" for s in self.steps)))

    def is_late(self, today: date) -> bool:
        return is_late(stage=self.stage, due_date=self.due_date,
                       result_ready_at=self.result_ready_at, paused_at=self.paused_at,
                       today=today)

    @property
    def postal_transit(self) -> timedelta | None:
        """From the post's collection at the citizen's address to the counter's receipt."""
        collected = next((s.occurred_at for s in self.steps if s.kind == "CollectedByPost"),
                         None)
        received = next((s.occurred_at for s in self.steps if s.kind == "ReceivedFromPost"),
                        None)
        return received - collected if collected and received else None

    @property
    def rateable(self) -> bool:
        return is_rateable(stage=self.stage,
                           rejected=any(s.kind == "Rejected" for s in self.steps),
                           rated=self.rated_at is not None)


class PublicStatusView(ReadModel):
    tracking_name = "public_status"
    tables = ("public_status_step", "public_status")

    def record(
        self, *, dossier_id: str, version: int, kind: str, unit_code: str,
        occurred_at: datetime, changes: dict[str, Any], tracking: Tracking,
        created: bool = False, on_timeline: bool = True, replaces_previous: bool = False,
    ) -> None:
        row = {"dossier_id": dossier_id, "version": version, "updated_at": occurred_at} | changes
        step = {
            "dossier_id": dossier_id, "version": version, "kind": kind,
            "unit_code": unit_code, "occurred_at": occurred_at,
        }
        statements = [row_change("public_status", "dossier_id", row, created=created)]
        if replaces_previous:
            statements.append((
                "DELETE FROM {p}public_status_step WHERE dossier_id = %(dossier_id)s "
                "AND version = %(previous)s", {"dossier_id": dossier_id, "previous": version - 1}))
        if on_timeline:
            statements.append((
                # The step shows the stage the dossier reached with this event.
                "INSERT INTO {p}public_status_step "
                "(dossier_id, version, kind, stage, unit_code, occurred_at) "
                "SELECT dossier_id, %(version)s, %(kind)s, stage, %(unit_code)s, %(occurred_at)s "
                "FROM {p}public_status WHERE dossier_id = %(dossier_id)s",
                step,
            ))
        self._write(tracking, *statements)

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
            dossier_id=UUID(str(row["dossier_id"])),
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
            paused_at=as_datetime(row["paused_at"]),
            extensions=int(row["extensions"]),
            due_date_basis=json.loads(row["due_date_basis"] or "{}"),
            notice=json.loads(row["citizen_notice"]) if row["citizen_notice"] else None,
            steps=[
                PublicStep(s["kind"], s["stage"], s["unit_code"],
                           as_datetime(s["occurred_at"]))  # type: ignore[arg-type]
                for s in steps
            ],
            rated_at=as_datetime(row["rated_at"]),
            fee_schedule=FeeSchedule.of(json.loads(row["fee_schedule"]))
            if row["fee_schedule"] else None,
            amount_due_vnd=int(row["amount_due_vnd"]),
            amount_paid_vnd=int(row["amount_paid_vnd"]),
        )


class SQLitePublicStatusView(PublicStatusView, SQLiteReadModel):
    pass


class PostgresPublicStatusView(PublicStatusView, PostgresReadModel):
    pass


class PublicStatusProjection(DossierProjection[PublicStatusView]):
    name = "public_status"

    def apply(self, e: Dossier.Event, tracking: Tracking) -> None:
        self.view.record(
            dossier_id=str(e.originator_id), version=e.originator_version,
            kind=_public_kind(e), unit_code=_unit_shown(e), occurred_at=e.occurred_at,
            changes=common_changes(e) | _public_changes(e), tracking=tracking,
            created=isinstance(e, Dossier.Received),
            # The timeline tells what the administration did. The rating is the citizen's
            # word about it, not a step of it; and anyone the link was shared with (a
            # relative, a go-between who "helped") would learn from it whether and when
            # the citizen rated. The page only swaps the form for a thank-you.
            # Attached files are the staff's working papers: never on the public page.
            on_timeline=not isinstance(e, Dossier.Rated | Dossier.DocumentAttached),
            # A pick-up request is registered, not received: its step stands for both.
            replaces_previous=isinstance(e, Dossier.PickupRequested),
        )


def _public_kind(e: Dossier.Event) -> str:
    """The step as the citizen reads it: their own online submission is not yet a receipt."""
    if isinstance(e, Dossier.Received) and e.actor_id == CITIZEN:
        return "SubmittedOnline"
    if isinstance(e, Dossier.FeePaid) and e.method == PaymentMethod.ONLINE.value:
        return "PaidOnline"  # the gateway's confirmed notice, not a clerk's entry
    return type(e).__name__


def _unit_shown(e: Dossier.Event) -> str:
    """The unit a citizen sees beside the step: where the file went, or who acted."""
    if isinstance(e, Dossier.Received):
        return e.receiving_unit
    if isinstance(e, Dossier.Transferred):
        return e.to_unit
    if isinstance(e, Dossier.Dispatched):
        return e.holder_unit
    if isinstance(e, Dossier.PickupRequested):
        return e.post_office
    if isinstance(e, Dossier.HandedToCounter | Dossier.ReturnedToCounter):
        return e.to_unit
    return e.actor_unit


@singledispatch
def _public_changes(e: Dossier.Event) -> dict[str, Any]:
    return {}


@_public_changes.register
def _(e: Dossier.Received) -> dict[str, Any]:
    return {"token_hash": token_hash(e.tracking_token),
            "due_date_basis": json.dumps(e.due_date_basis, ensure_ascii=False),
            "fee_schedule": json.dumps(e.fee, ensure_ascii=False) if e.fee else None,
            "amount_due_vnd": _due_at_reception(e.fee)}


def _due_at_reception(fee: dict[str, Any] | None) -> int:
    schedule = FeeSchedule.of(fee)
    return schedule.due_at_reception if schedule else 0


@_public_changes.register
def _(e: Dossier.SupplementRequested) -> dict[str, Any]:
    return {"citizen_notice": json.dumps(
        {"kind": "supplement", "items": e.missing_items, "reason": e.reason,
         "outside": e.outside_list or []},
        ensure_ascii=False)}


@_public_changes.register
def _(e: Dossier.SupplementProvided) -> dict[str, Any]:
    return {"citizen_notice": None}


@_public_changes.register
def _(e: Dossier.PaymentRequested) -> dict[str, Any]:
    return {"citizen_notice": json.dumps(
        {"kind": "payment", "amount_vnd": e.amount_vnd, "reason": e.reason},
        ensure_ascii=False),
        "amount_due_vnd": SqlExpression(f"amount_due_vnd + {int(e.amount_vnd)}")}


@_public_changes.register
def _(e: Dossier.FeePaid) -> dict[str, Any]:
    paid = {"amount_paid_vnd": SqlExpression(f"amount_paid_vnd + {int(e.amount_vnd)}")}
    return paid | ({"citizen_notice": None} if e.resumed else {})


@_public_changes.register
def _(e: Dossier.FeeRefunded) -> dict[str, Any]:
    return {"amount_paid_vnd": SqlExpression(f"amount_paid_vnd - {int(e.amount_vnd)}")}


@_public_changes.register
def _(e: Dossier.Extended) -> dict[str, Any]:
    return {"citizen_notice": json.dumps(
        {"kind": "extended", "reason": e.reason, "previous_due_date": str(e.previous_due_date)},
        ensure_ascii=False)}


@_public_changes.register
def _(e: Dossier.Rejected) -> dict[str, Any]:
    return {"citizen_notice": json.dumps({"kind": "rejected", "reason": e.reasons},
                                         ensure_ascii=False)}


@_public_changes.register
def _(e: Dossier.RefusedToReceive) -> dict[str, Any]:
    return {"citizen_notice": json.dumps({"kind": "not_received", "reason": e.reasons},
                                         ensure_ascii=False)}


@_public_changes.register
def _(e: Dossier.Dispatched) -> dict[str, Any]:
    return {"dispatch_method": e.method, "postal_tracking_number": e.postal_tracking_number}


@_public_changes.register
def _(e: Dossier.CollectedByPost) -> dict[str, Any]:
    return {"postal_tracking_number": e.postal_tracking_number}


@_public_changes.register
def _(e: Dossier.Delivered) -> dict[str, Any]:
    return {"delivered_at": e.occurred_at}


@_public_changes.register
def _(e: Dossier.Rated) -> dict[str, Any]:
    # When only: what the citizen said is for staff and inspectors, never the public page.
    return {"rated_at": e.occurred_at}
