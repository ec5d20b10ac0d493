"""The column changes every dossier read model makes for an event, written once.

They mirror the aggregate's stage rules in SQL-friendly form; a projection adds its own
columns on top.
"""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from domain.dossier import CITIZEN, DispatchMethod, Dossier, Stage, stage_after_dispatch
from projections.read_model import SqlExpression

# A transfer keeps "signed", "rejected" and "awaiting supplement"; otherwise the dossier is
# being processed.
_WAITING = f"('{Stage.AWAITING_SUPPLEMENT.value}', '{Stage.AWAITING_PAYMENT.value}')"
STAGE_AFTER_TRANSFER = SqlExpression(
    f"CASE WHEN result_ready_at IS NULL AND stage NOT IN {_WAITING} "
    f"THEN '{Stage.IN_PROGRESS.value}' ELSE stage END"
)
# A paused dossier moved to another desk resumes there as "in progress".
PAUSED_STAGE_AFTER_TRANSFER = SqlExpression(
    f"CASE WHEN stage IN {_WAITING} AND result_ready_at IS NULL "
    f"THEN '{Stage.IN_PROGRESS.value}' ELSE paused_from_stage END"
)
# SET expressions see the row as it was, so this remembers the stage being paused.
STAGE_BEFORE_PAUSE = SqlExpression("stage")
STAGE_AFTER_PAUSE = SqlExpression(f"COALESCE(paused_from_stage, '{Stage.IN_PROGRESS.value}')")


@singledispatch
def common_changes(event: Dossier.Event) -> dict[str, Any]:
    return {}


@common_changes.register
def _(e: Dossier.Received) -> dict[str, Any]:
    stage = Stage.SUBMITTED_ONLINE if e.actor_id == CITIZEN else Stage.RECEIVED
    return {"procedure_code": e.procedure_code, "stage": stage.value,
            "holder_unit": e.receiving_unit, "due_date": e.due_date,
            "received_at": e.occurred_at}


@common_changes.register
def _(e: Dossier.AcceptedOnline) -> dict[str, Any]:
    return {"stage": Stage.RECEIVED.value, "due_date": e.due_date}


@common_changes.register
def _(e: Dossier.RefusedToReceive) -> dict[str, Any]:
    return {"stage": Stage.NOT_RECEIVED.value}


@common_changes.register
def _(e: Dossier.Transferred) -> dict[str, Any]:
    return {"holder_unit": e.to_unit, "stage": STAGE_AFTER_TRANSFER,
            "paused_from_stage": PAUSED_STAGE_AFTER_TRANSFER}


@common_changes.register
def _(e: Dossier.SupplementRequested) -> dict[str, Any]:
    return {"paused_from_stage": STAGE_BEFORE_PAUSE, "paused_at": e.occurred_at,
            "stage": Stage.AWAITING_SUPPLEMENT.value}


@common_changes.register
def _(e: Dossier.SupplementProvided) -> dict[str, Any]:
    return {"stage": STAGE_AFTER_PAUSE, "paused_from_stage": None, "paused_at": None,
            "due_date": e.due_date}


@common_changes.register
def _(e: Dossier.PaymentRequested) -> dict[str, Any]:
    return {"paused_from_stage": STAGE_BEFORE_PAUSE, "paused_at": e.occurred_at,
            "stage": Stage.AWAITING_PAYMENT.value}


@common_changes.register
def _(e: Dossier.FeePaid) -> dict[str, Any]:
    if not e.resumed:
        return {}
    return {"stage": STAGE_AFTER_PAUSE, "paused_from_stage": None, "paused_at": None,
            "due_date": e.due_date}


@common_changes.register
def _(e: Dossier.Extended) -> dict[str, Any]:
    return {"due_date": e.due_date, "extensions": e.extension_number}


@common_changes.register
def _(e: Dossier.Signed) -> dict[str, Any]:
    return {"stage": Stage.SIGNED.value, "result_ready_at": e.occurred_at}


@common_changes.register
def _(e: Dossier.Rejected) -> dict[str, Any]:
    # A refusal ends any wait for documents.
    return {"stage": Stage.REJECTED.value, "result_ready_at": e.occurred_at,
            "paused_from_stage": None, "paused_at": None}


@common_changes.register
def _(e: Dossier.Withdrawn) -> dict[str, Any]:
    return {"stage": Stage.WITHDRAWN.value, "paused_from_stage": None, "paused_at": None}


@common_changes.register
def _(e: Dossier.Dispatched) -> dict[str, Any]:
    return {"holder_unit": e.holder_unit,
            "stage": stage_after_dispatch(DispatchMethod(e.method)).value}


@common_changes.register
def _(e: Dossier.Delivered) -> dict[str, Any]:
    return {"stage": Stage.DELIVERED.value}


@common_changes.register
def _(e: Dossier.PickupRequested) -> dict[str, Any]:
    return {"stage": Stage.AWAITING_COLLECTION.value, "holder_unit": e.post_office}


@common_changes.register
def _(e: Dossier.CollectedByPost) -> dict[str, Any]:
    return {"stage": Stage.COLLECTED.value}


@common_changes.register
def _(e: Dossier.HandedToCounter) -> dict[str, Any]:
    return {"stage": Stage.HANDED_TO_COUNTER.value, "holder_unit": e.to_unit}


@common_changes.register
def _(e: Dossier.ReturnedToCounter) -> dict[str, Any]:
    return {"stage": Stage.AWAITING_PICKUP.value, "holder_unit": e.to_unit}


@common_changes.register
def _(e: Dossier.ReceivedFromPost) -> dict[str, Any]:
    # The processing clock starts at the counter's receipt, not at the request.
    return {"stage": Stage.RECEIVED.value, "due_date": e.due_date,
            "received_at": e.occurred_at}


@common_changes.register
def _(e: Dossier.Rated) -> dict[str, Any]:
    # The citizen's rating moves nothing: no stage, no holder, no clock.
    return {}
