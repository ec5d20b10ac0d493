"""The API's handlers: authenticate, parse the JSON, call one application command, answer
JSON. Mounted at ``PREFIX`` as an app of its own, so that even its 404s and 405s are JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain.application import Attachment, Outcome
from domain.dossier import Action, Dossier
from domain.errors import AccessDenied, DomainError, DossierNotFound, NoDossierToActOn, NotFound
from domain.requests import InvalidRequestKey, RequestKeyReused
from projections.public_status import PublicStatus
from web.api import PREFIX, errors
from web.api.auth import authenticate, request_key
from web.api.errors import ApiError
from web.api.keys import PartnerKey, Scope
from web.api.openapi import openapi_document
from web.api.payload import (
    COLLECTION,
    DELIVERY,
    DISPATCH,
    FAILED_DELIVERY,
    HANDOVER,
    MAX_BODY_BYTES,
    PICKUP,
    RETURN,
    SUBMISSION,
    TRANSFER,
    Shape,
    parse_json,
)
from web.documents import document_response, files_of, read_form, upload_size_refusal
from web.labels import PUBLIC_EVENTS, STAGES, label
from web.public import find_status
from web.security import STORE_UNAVAILABLE
from web.services import Services
from web.sessions import client_address
from web.signatures import SignatureLine

_PUBLIC_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length", "")
    too_large = ApiError(413, "too_large", "Nội dung gửi lên quá lớn (tối đa 64 KB).",
                         "The body is too large (at most 64 KB).")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))


async def _command(request: Request, scope: Scope,
                   shape: Shape) -> tuple[PartnerKey, str, dict[str, Any]]:
    """The caller's key, the request key and the body's fields, or the refusal."""
    key = await run_in_threadpool(authenticate, _services(request), request, scope)
    idempotency = request_key(request, key)
    if not _is_json(request.headers.get("content-type", "")):
        raise ApiError(415, "unsupported_media_type", "Hãy gửi JSON (Content-Type: "
                       "application/json).", "Send JSON (Content-Type: application/json).")
    return key, idempotency, shape.read("body", parse_json(await _body(request)))


def _dossier_id(request: Request) -> UUID:
    try:
        return UUID(request.path_params["dossier_id"])
    except ValueError:
        raise NoDossierToActOn() from None


async def _recorded(request: Request, call: Callable[[], Outcome], *,
                    on: tuple[UUID, Action, PartnerKey] | None = None) -> Outcome:
    """Run the command; a refusal about a dossier (``on``: its id, the action, the caller)
    the key may not act on is the one answer whatever the reason (NoDossierToActOn)."""
    services = _services(request)
    try:
        outcome = await run_in_threadpool(call)
    except (RequestKeyReused, InvalidRequestKey):
        raise  # about the caller's own key, not the dossier
    except DomainError:
        if on is not None:
            dossier_id, action, key = on
            if not await run_in_threadpool(services.app.may_act_on, dossier_id,
                                           actor_id=key.partner_id, action=action):
                raise NoDossierToActOn() from None
        raise
    # A status read right after the call shows it (as a clerk's next page does).
    await run_in_threadpool(services.read_models.wait, outcome.notification_id)
    return outcome


def _acted(outcome: Outcome, action: str) -> JSONResponse:
    return JSONResponse({"dossier_id": str(outcome.dossier_id), "action": action})


# ---- commands --------------------------------------------------------------------------

async def submit(request: Request) -> Response:
    key, idempotency, body = await _command(request, Scope.SUBMIT, SUBMISSION)
    services = _services(request)
    applicant = body["applicant"]
    outcome = await _recorded(request, lambda: services.app.receive(
        actor_id=key.partner_id, procedure_code=body["procedure_code"],
        applicant_name=applicant["name"], applicant_phone=applicant["phone"],
        applicant_address=applicant["address"],
        applicant_id_number=applicant.get("id_number", ""),
        applicant_email=applicant.get("email", ""), channel=body["channel"],
        documents=body["documents"], occurred_at=body.get("occurred_at"),
        idempotency_key=idempotency))
    dossier = await run_in_threadpool(services.app.dossier, outcome.dossier_id)
    return JSONResponse(_receipt(dossier, services), status_code=201)


def _receipt(dossier: Dossier, services: Services) -> dict[str, Any]:
    """What the partner gives the citizen: the code, the due date and the status link."""
    return {
        "dossier_id": str(dossier.id), "code": dossier.code,
        "procedure_code": dossier.procedure_code, "channel": dossier.channel.value,
        "receiving_unit": dossier.receiving_unit,
        "received_at": dossier.received_at.isoformat(),
        "due_date": dossier.due_date.isoformat(), "tracking_token": dossier.tracking_token,
        "status_url": services.public_link(dossier.tracking_token),
        "api_status_url": f"{PREFIX}/status/{dossier.tracking_token}",
    }


async def transfer(request: Request) -> Response:
    key, idempotency, body = await _command(request, Scope.TRANSFER, TRANSFER)
    dossier_id, app = _dossier_id(request), _services(request).app
    outcome = await _recorded(request, lambda: app.transfer(
        dossier_id, expected_version=None, actor_id=key.partner_id, to_unit=body["to_unit"],
        to_officer=body.get("to_officer"), note=body.get("note", ""),
        occurred_at=body.get("occurred_at"), request_key=idempotency),
        on=(dossier_id, Action.TRANSFER, key))
    return _acted(outcome, "transfer")


async def dispatch(request: Request) -> Response:
    key, idempotency, body = await _command(request, Scope.DISPATCH, DISPATCH)
    dossier_id, app = _dossier_id(request), _services(request).app
    outcome = await _recorded(request, lambda: app.dispatch(
        dossier_id, expected_version=None, actor_id=key.partner_id, method=body["method"],
        postal_tracking_number=body.get("postal_tracking_number"),
        occurred_at=body.get("occurred_at"), request_key=idempotency),
        on=(dossier_id, Action.DISPATCH, key))
    return _acted(outcome, "dispatch")


async def deliver(request: Request) -> Response:
    key, idempotency, body = await _command(request, Scope.DELIVER, DELIVERY)
    dossier_id, app = _dossier_id(request), _services(request).app
    outcome = await _recorded(request, lambda: app.deliver(
        dossier_id, expected_version=None, actor_id=key.partner_id,
        recipient_name=body["recipient_name"], occurred_at=body.get("occurred_at"),
        request_key=idempotency),
        on=(dossier_id, Action.DELIVER, key))
    return _acted(outcome, "deliver")


async def request_pickup(request: Request) -> Response:
    key, idempotency, body = await _command(request, Scope.PICKUP, PICKUP)
    services = _services(request)
    applicant = body["applicant"]
    outcome = await _recorded(request, lambda: services.app.request_pickup(
        actor_id=key.partner_id, procedure_code=body["procedure_code"],
        applicant_name=applicant["name"], applicant_phone=applicant["phone"],
        applicant_address=applicant["address"], applicant_email=applicant.get("email", ""),
        pickup_address=body.get("pickup_address", ""), documents=body.get("documents", []),
        occurred_at=body.get("occurred_at"), idempotency_key=idempotency))
    dossier = await run_in_threadpool(services.app.dossier, outcome.dossier_id)
    return JSONResponse(_receipt(dossier, services), status_code=201)


async def collect(request: Request) -> Response:
    key, idempotency, body = await _command(request, Scope.POST, COLLECTION)
    dossier_id, app = _dossier_id(request), _services(request).app
    outcome = await _recorded(request, lambda: app.collect(
        dossier_id, expected_version=None, actor_id=key.partner_id,
        postal_tracking_number=body["postal_tracking_number"], items=body["items"],
        occurred_at=body.get("occurred_at"), request_key=idempotency),
        on=(dossier_id, Action.COLLECT, key))
    return _acted(outcome, "collect")


async def hand_over(request: Request) -> Response:
    key, idempotency, body = await _command(request, Scope.POST, HANDOVER)
    dossier_id, app = _dossier_id(request), _services(request).app
    outcome = await _recorded(request, lambda: app.hand_over(
        dossier_id, expected_version=None, actor_id=key.partner_id,
        occurred_at=body.get("occurred_at"), request_key=idempotency),
        on=(dossier_id, Action.HAND_OVER, key))
    return _acted(outcome, "hand_over")


async def record_failed_delivery(request: Request) -> Response:
    key, idempotency, body = await _command(request, Scope.POST, FAILED_DELIVERY)
    dossier_id, app = _dossier_id(request), _services(request).app
    outcome = await _recorded(request, lambda: app.record_failed_delivery(
        dossier_id, expected_version=None, actor_id=key.partner_id, reason=body["reason"],
        occurred_at=body.get("occurred_at"), request_key=idempotency),
        on=(dossier_id, Action.RECORD_FAILED_DELIVERY, key))
    return _acted(outcome, "record_failed_delivery")


async def return_to_counter(request: Request) -> Response:
    key, idempotency, body = await _command(request, Scope.POST, RETURN)
    dossier_id, app = _dossier_id(request), _services(request).app
    outcome = await _recorded(request, lambda: app.return_to_counter(
        dossier_id, expected_version=None, actor_id=key.partner_id,
        occurred_at=body.get("occurred_at"), request_key=idempotency),
        on=(dossier_id, Action.RETURN_TO_COUNTER, key))
    return _acted(outcome, "return_to_counter")


# ---- the public status -------------------------------------------------------------------

def status(request: Request) -> Response:
    """What the citizen's status page shows, as JSON: no key, no personal data."""
    services = _services(request)
    allowed, retry_after = services.public_limit.allow(client_address(request.scope))
    if not allowed:
        raise ApiError(429, "rate_limited",
                       "Tra cứu quá nhiều lần trong thời gian ngắn; hãy thử lại sau ít phút.",
                       "Too many lookups in a short time; try again in a few minutes.",
                       _PUBLIC_HEADERS | {"Retry-After": str(retry_after)})
    found = find_status(services, request.path_params["token"])
    if found is None:
        raise ApiError(404, "not_found", "Không tìm thấy hồ sơ với mã tra cứu này.",
                       "No dossier has this tracking code.", _PUBLIC_HEADERS)
    return JSONResponse(_public_status(found, services), headers=_PUBLIC_HEADERS)


def _unit(code: str, services: Services) -> dict[str, str]:
    unit = services.directory.units.get(code)
    return {"code": code, "name_vi": unit.name_vi if unit else code,
            "name_en": unit.name_en if unit else code}


def _public_status(found: PublicStatus, services: Services) -> dict[str, Any]:
    procedure = services.directory.procedures.get(found.procedure_code)
    stage = label(STAGES, found.stage.value)
    return {
        "procedure": {"code": found.procedure_code,
                      "name_vi": procedure.name_vi if procedure else found.procedure_code,
                      "name_en": procedure.name_en if procedure else found.procedure_code},
        "stage": {"code": found.stage.value, "vi": stage.vi, "en": stage.en},
        "holder_unit": _unit(found.holder_unit, services),
        "received_at": found.received_at.isoformat(),
        "due_date": found.due_date.isoformat(),
        "late": found.is_late(services.today()),
        "result_ready": found.result_ready_at is not None,
        "postal_tracking_number": found.postal_tracking_number,
        "postal_transit_minutes": None if found.postal_transit is None
        else int(found.postal_transit.total_seconds() // 60),
        "extensions": found.extensions,
        "notice": found.notice,
        "steps": [
            {"event": step.kind, "vi": label(PUBLIC_EVENTS, step.kind).vi,
             "en": label(PUBLIC_EVENTS, step.kind).en,
             "unit": _unit(step.unit_code, services),
             "occurred_at": step.occurred_at.isoformat()}
            for step in found.steps
        ],
        # As the public page: each decision's signature checked now, the unit only.
        "signatures": [
            {"decision_number": line.decision_number, "unit_name": line.unit_name,
             "signed_at": line.signed_at.isoformat(), "valid": line.valid,
             "verdict_vi": line.verdict.vi, "verdict_en": line.verdict.en}
            for line in (SignatureLine.of(s, services.directory)
                         for s in services.app.decision_signatures(found.dossier_id))
        ] if any(step.kind == "Signed" for step in found.steps) else [],
    }


# ---- documents ---------------------------------------------------------------------------

def documents(request: Request) -> Response:
    """A dossier's attached files (what, never the bytes), in the partner's name."""
    services = _services(request)
    key = authenticate(services, request, Scope.DOCUMENTS)
    dossier_id = _dossier_id(request)
    try:
        attached = services.app.documents_of(dossier_id, viewer_id=key.partner_id)
    except (AccessDenied, NotFound):
        raise NoDossierToActOn() from None
    return JSONResponse({"dossier_id": str(dossier_id), "documents": [
        _document_entry(a) for a in attached]}, headers={"Cache-Control": "private, no-store"})


def document(request: Request) -> Response:
    """One attached file, by its digest; the opening is recorded in the partner's name
    before a byte is sent."""
    services = _services(request)
    key = authenticate(services, request, Scope.DOCUMENTS)
    dossier_id = _dossier_id(request)
    try:
        opened = services.app.open_document(dossier_id, request.path_params["sha256"],
                                            viewer_id=key.partner_id)
    except (AccessDenied, DossierNotFound):
        raise NoDossierToActOn() from None
    except NotFound as missing:  # no such file on this dossier
        raise ApiError(404, "not_found", missing.vi, missing.en) from None
    return document_response(opened)


async def attach(request: Request) -> Response:
    """Files for a dossier (multipart/form-data: ``document_type`` and ``file`` parts), each
    checked by its bytes exactly as the counter's scans; all kept or none, in the partner's
    name. A dossier the key may not attach to gets the one 404."""
    services = _services(request)
    key = await run_in_threadpool(authenticate, services, request, Scope.ATTACH)
    idempotency = request_key(request, key)
    dossier_id = _dossier_id(request)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type",
                       "Hãy gửi tệp dạng multipart/form-data (trường document_type và file).",
                       "Send the files as multipart/form-data (fields document_type and "
                       "file).")
    if (too_large := upload_size_refusal(request)) is not None:
        raise ApiError(413, "too_large", too_large.vi, too_large.en)
    form = await read_form(request)

    checked: list[Attachment] = []

    def attach_files() -> Outcome:
        try:
            checked.extend(files_of(form))
            return services.app.attach_documents(
                dossier_id, expected_version=None, actor_id=key.partner_id,
                attachments=checked, request_key=idempotency)
        except (RequestKeyReused, InvalidRequestKey):
            raise
        except DomainError:
            if not services.app.may_attach_to(dossier_id, actor_id=key.partner_id):
                raise NoDossierToActOn() from None
            raise

    outcome = await run_in_threadpool(attach_files)
    await run_in_threadpool(services.read_models.wait, outcome.notification_id)
    return JSONResponse({"dossier_id": str(dossier_id), "documents": [
        {"document_type": a.document_type, "file_name": a.file.facts.file_name,
         "media_type": a.file.facts.media_type.value, "size": a.file.facts.size,
         "sha256": a.file.facts.sha256} for a in checked]}, status_code=201,
        headers={"Cache-Control": "no-store"})


def _document_entry(a: dict[str, Any]) -> dict[str, Any]:
    return {"document_type": a["document_type"], "outside_list": a["outside_list"],
            "purpose": a["purpose"], "file_name": a["file_name"],
            "media_type": a["media_type"], "size": a["size"], "sha256": a["sha256"],
            "attached_at": a["attached_at"].isoformat()}


def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


def create_api(services: Services) -> Starlette:
    api = Starlette(
        routes=[
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/dossiers", submit, methods=["POST"]),
            Route("/dossiers/{dossier_id}/transfers", transfer, methods=["POST"]),
            Route("/dossiers/{dossier_id}/dispatch", dispatch, methods=["POST"]),
            Route("/dossiers/{dossier_id}/delivery", deliver, methods=["POST"]),
            Route("/pickups", request_pickup, methods=["POST"]),
            Route("/dossiers/{dossier_id}/collection", collect, methods=["POST"]),
            Route("/dossiers/{dossier_id}/handover", hand_over, methods=["POST"]),
            Route("/dossiers/{dossier_id}/failed-delivery", record_failed_delivery,
                  methods=["POST"]),
            Route("/dossiers/{dossier_id}/return", return_to_counter, methods=["POST"]),
            Route("/status/{token}", status, methods=["GET"]),
            Route("/dossiers/{dossier_id}/documents", documents, methods=["GET"]),
            Route("/dossiers/{dossier_id}/documents", attach, methods=["POST"]),
            Route("/dossiers/{dossier_id}/documents/{sha256}", document, methods=["GET"]),
        ],
        exception_handlers={
            ApiError: errors.api_error,
            DomainError: errors.domain_error,
            HTTPException: errors.http_error,
            **dict.fromkeys(STORE_UNAVAILABLE, errors.store_unavailable),
            500: errors.server_error,
        },
    )
    api.state.services = services
    return api
