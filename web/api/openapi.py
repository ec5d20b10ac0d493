"""The OpenAPI 3.1 document served at ``/api/v1/openapi.json``: the contract partners build
against, and what the schema tests generate their calls from. Request bodies come from the
same field rules the handlers read them with (``web/api/payload.py``)."""

from __future__ import annotations

from functools import cache
from typing import Any

from web.api import PREFIX
from web.api.auth import IDEMPOTENCY_KEY_PATTERN
from web.api.keys import Scope
from web.api.payload import (
    COLLECTION,
    DELIVERY,
    DISPATCH,
    FAILED_DELIVERY,
    HANDOVER,
    PICKUP,
    RETURN,
    SUBMISSION,
    TRANSFER,
    Shape,
)

_TEXT = {"type": "string"}
_NULLABLE_TEXT = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_DAY = {"type": "string", "format": "date"}

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message_vi", "message_en"],
        "properties": {
            "code": _TEXT,
            "message_vi": {"type": "string", "description": "Vietnamese, shown first"},
            "message_en": _TEXT,
        },
    }},
}

_UNIT = {
    "type": "object", "required": ["code", "name_vi", "name_en"],
    "properties": {"code": _TEXT, "name_vi": _TEXT, "name_en": _TEXT},
}

_RECEIPT = {
    "type": "object",
    "required": ["dossier_id", "code", "procedure_code", "channel", "receiving_unit",
                 "received_at", "due_date", "tracking_token", "status_url", "api_status_url"],
    "properties": {
        "dossier_id": {"type": "string", "format": "uuid"},
        "code": {"type": "string", "description": "The national dossier code, e.g. "
                 "000.00.01.H29-261124-0007"},
        "procedure_code": _TEXT,
        "channel": _TEXT,
        "receiving_unit": _TEXT,
        "received_at": _TIME,
        "due_date": _DAY,
        "tracking_token": {"type": "string", "description": "The citizen's key to the "
                           "public status; give it to the citizen only"},
        "status_url": {"type": "string", "description": "The citizen's status page"},
        "api_status_url": _TEXT,
    },
}

_ACTED = {
    "type": "object", "required": ["dossier_id", "action"],
    "properties": {"dossier_id": {"type": "string", "format": "uuid"},
                   "action": {"type": "string", "enum": ["transfer", "dispatch", "deliver",
                                                      "collect", "hand_over",
                                                      "record_failed_delivery",
                                                      "return_to_counter"]}},
}

_PUBLIC_STATUS = {
    "type": "object",
    "required": ["procedure", "stage", "holder_unit", "received_at", "due_date", "late",
                 "result_ready", "postal_tracking_number", "extensions", "notice", "steps",
                 "signatures"],
    "properties": {
        "procedure": _UNIT,
        "stage": {"type": "object", "required": ["code", "vi", "en"],
                  "properties": {"code": _TEXT, "vi": _TEXT, "en": _TEXT}},
        "holder_unit": _UNIT,
        "received_at": _TIME,
        "due_date": _DAY,
        "late": {"type": "boolean"},
        "result_ready": {"type": "boolean"},
        "postal_tracking_number": _NULLABLE_TEXT,
        "postal_transit_minutes": {"type": ["integer", "null"], "minimum": 0,
                                   "description": "Collected at the citizen's address → "
                                   "received at the counter (not processing time)"},
        "extensions": {"type": "integer", "minimum": 0},
        "notice": {"type": ["object", "null"], "description": "What the citizen must know "
                   "now: documents to bring, why it was refused or delayed"},
        "steps": {"type": "array", "items": {
            "type": "object", "required": ["event", "vi", "en", "unit", "occurred_at"],
            "properties": {"event": _TEXT, "vi": _TEXT, "en": _TEXT, "unit": _UNIT,
                           "occurred_at": _TIME},
        }},
        "signatures": {"type": "array", "description": "Each decision's signature, checked "
                       "at this call against the key register", "items": {
            "type": "object",
            "required": ["decision_number", "unit_name", "signed_at", "valid", "verdict_vi",
                         "verdict_en"],
            "properties": {"decision_number": _TEXT, "unit_name": _TEXT, "signed_at": _TIME,
                           "valid": {"type": "boolean"}, "verdict_vi": _TEXT,
                           "verdict_en": _TEXT},
        }},
    },
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_COMMAND_ERRORS = {
    "400": _error("Malformed: not JSON, a field of the wrong type or length, or no valid "
                  "Idempotency-Key"),
    "401": _error("No API key, or one unknown or revoked"),
    "403": _error("The key's scope does not allow this call"),
    "409": _error("The Idempotency-Key was used for another request, or the dossier "
                  "changed at the same moment"),
    "413": _error("The body is larger than 64 KB"),
    "415": _error("Not JSON"),
    "422": _error("Refused by the rules, in words (not possible now, a unit or procedure "
                  "that does not exist, text not allowed)"),
    "429": _error("Too many calls with this key"),
    "503": _error("The database is unavailable: retry with the same Idempotency-Key"),
}

_READ_ERRORS = {
    "401": _error("No API key, or one unknown or revoked"),
    "403": _error("The key's scope does not allow this call"),
    "404": _error("No such dossier or file, or a dossier this key may not read: one answer "
                  "whatever the reason"),
    "429": _error("Too many calls with this key"),
    "503": _error("The database is unavailable"),
}

_DOCUMENTS: dict[str, Any] = {
    "type": "object", "required": ["dossier_id", "documents"],
    "properties": {
        "dossier_id": {"type": "string", "format": "uuid"},
        "documents": {"type": "array", "items": {
            "type": "object",
            "required": ["document_type", "outside_list", "purpose", "file_name",
                         "media_type", "size", "sha256", "attached_at"],
            "properties": {
                "document_type": {"type": "string"},
                "outside_list": {"type": "boolean"},
                "purpose": {"type": "string",
                            "enum": ["received", "online", "supplement", "result"]},
                "file_name": {"type": "string"},
                "media_type": {"type": "string"},
                "size": {"type": "integer"},
                "sha256": {"type": "string"},
                "attached_at": {"type": "string", "format": "date-time"},
            }}},
    },
}

_ATTACHED: dict[str, Any] = {
    "type": "object", "required": ["dossier_id", "documents"],
    "properties": {
        "dossier_id": {"type": "string", "format": "uuid"},
        "documents": {"type": "array", "items": {
            "type": "object",
            "required": ["document_type", "file_name", "media_type", "size", "sha256"],
            "properties": {
                "document_type": {"type": "string"},
                "file_name": {"type": "string"},
                "media_type": {"type": "string"},
                "size": {"type": "integer"},
                "sha256": {"type": "string"},
            }}},
    },
}

_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": True,
    "description": "A key of the caller's choosing for this request (e.g. a UUID). Sent "
                   "again — a retry, concurrently or later — it records nothing new and "
                   "answers as the first time; with another body it is refused (409).",
    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
}

_DOSSIER_ID = {"name": "dossier_id", "in": "path", "required": True,
               "schema": {"type": "string", "format": "uuid"}}


def _command(summary: str, scope: Scope, body: Shape, ok: dict[str, Any],
             ok_status: str = "200", path_dossier: bool = True) -> dict[str, Any]:
    responses = {ok_status: ok, **_COMMAND_ERRORS}
    if path_dossier:
        responses["404"] = _error(
            "No such dossier, or one this key may not act on (another unit holds it, the "
            "partner's role does not allow the action, or its state refuses it): one answer "
            "whatever the reason")
    return {"post": {
        "summary": summary,
        "description": f"Scope: `{scope.value}`. Recorded in the partner's name.",
        "security": [{"partnerKey": []}],
        "parameters": [_IDEMPOTENCY_KEY] + ([_DOSSIER_ID] if path_dossier else []),
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": body.schema()}}},
        "responses": responses,
    }}


@cache
def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hoso partner API",
            "version": "1",
            "description": "For partner systems — the post office, the national public-"
                           "service portal, other agencies' systems: submit dossiers, record "
                           "transfers, dispatch and delivery, read a dossier's public status. "
                           "Every state-changing call needs a partner key (scoped) and an "
                           "Idempotency-Key. Errors: {\"error\": {\"code\", \"message_vi\", "
                           "\"message_en\"}}.",
        },
        "paths": {
            f"{PREFIX}/dossiers": _command(
                "Submit a dossier received online or at a post office", Scope.SUBMIT,
                SUBMISSION, _json(_RECEIPT, "Received (the same answer for a repeat)"),
                ok_status="201", path_dossier=False),
            f"{PREFIX}/dossiers/{{dossier_id}}/transfers": _command(
                "Record a transfer to another unit", Scope.TRANSFER, TRANSFER,
                _json(_ACTED, "Recorded")),
            f"{PREFIX}/dossiers/{{dossier_id}}/dispatch": _command(
                "Record the result's dispatch", Scope.DISPATCH, DISPATCH,
                _json(_ACTED, "Recorded")),
            f"{PREFIX}/dossiers/{{dossier_id}}/delivery": _command(
                "Record the result's delivery to the citizen", Scope.DELIVER, DELIVERY,
                _json(_ACTED, "Recorded")),
            f"{PREFIX}/pickups": _command(
                "Ask the post to collect a dossier at an address", Scope.PICKUP, PICKUP,
                _json(_RECEIPT, "Registered (the same answer for a repeat)"),
                ok_status="201", path_dossier=False),
            f"{PREFIX}/dossiers/{{dossier_id}}/collection": _command(
                "Record the post's collection at the address", Scope.POST, COLLECTION,
                _json(_ACTED, "Recorded")),
            f"{PREFIX}/dossiers/{{dossier_id}}/handover": _command(
                "Record the post's hand-over at the counter", Scope.POST, HANDOVER,
                _json(_ACTED, "Recorded")),
            f"{PREFIX}/dossiers/{{dossier_id}}/failed-delivery": _command(
                "Record a delivery attempt that failed", Scope.POST, FAILED_DELIVERY,
                _json(_ACTED, "Recorded")),
            f"{PREFIX}/dossiers/{{dossier_id}}/return": _command(
                "Record the undelivered result's return to the counter", Scope.POST, RETURN,
                _json(_ACTED, "Recorded")),
            f"{PREFIX}/dossiers/{{dossier_id}}/documents": {"get": {
                "summary": "List a dossier's attached files (never their bytes)",
                "description": "Scope: `documents`. The listing is recorded as a reading in "
                               "the partner's name. A read: no Idempotency-Key.",
                "security": [{"partnerKey": []}],
                "parameters": [_DOSSIER_ID],
                "responses": {"200": _json(_DOCUMENTS, "The files"), **_READ_ERRORS},
            }, "post": {
                "summary": "Attach files to a dossier",
                "description": "Scope: `attach`. Recorded in the partner's name, one "
                               "DocumentAttached event a file, all or none. Each file is "
                               "checked by its bytes as the counter's scans are: PDF, JPEG or "
                               "PNG, at most 20 MB and 20 files; a refused file leaves no "
                               "event and no file.",
                "security": [{"partnerKey": []}],
                "parameters": [_IDEMPOTENCY_KEY, _DOSSIER_ID],
                "requestBody": {"required": True, "content": {"multipart/form-data": {
                    "schema": {"type": "object", "required": ["document_type", "file"],
                               "properties": {
                                   "document_type": {
                                       "type": "string", "description": "A line of the "
                                       "procedure's document list, or typed (kept outside "
                                       "the list)"},
                                   "file": {"type": "array", "items": {
                                       "type": "string", "format": "binary"}}}}}}},
                "responses": {"201": _json(_ATTACHED, "Attached"), **_COMMAND_ERRORS,
                              "413": _error("Larger than 20 files of 20 MB"),
                              "415": _error("Not multipart/form-data"),
                              "404": _error("No such dossier, or one this key may not "
                                            "attach to: one answer whatever the reason")},
            }},
            f"{PREFIX}/dossiers/{{dossier_id}}/documents/{{sha256}}": {"get": {
                "summary": "Download one attached file by its SHA-256",
                "description": "Scope: `documents`. The opening is recorded as a reading in "
                               "the partner's name before a byte is sent.",
                "security": [{"partnerKey": []}],
                "parameters": [_DOSSIER_ID, {"name": "sha256", "in": "path", "required": True,
                                             "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The file (PDF, JPEG or PNG)", "content": {
                    media: {"schema": {"type": "string", "format": "binary"}}
                    for media in ("application/pdf", "image/jpeg", "image/png")}},
                    **_READ_ERRORS},
            }},
            f"{PREFIX}/status/{{token}}": {"get": {
                "summary": "A dossier's public status, by the citizen's tracking token",
                "description": "No key needed; no personal data. Limited per client.",
                "security": [],
                "parameters": [{"name": "token", "in": "path", "required": True,
                                "description": "From the receipt's QR code",
                                "schema": {"type": "string",
                                           "pattern": "^[A-Za-z0-9_-]{16,64}$"}}],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/PublicStatus"}, "Found"),
                    "404": _error("No dossier has this token"),
                    "429": _error("Too many lookups from this client"),
                    "503": _error("The database is unavailable"),
                },
            }},
        },
        "components": {
            "securitySchemes": {"partnerKey": {
                "type": "http", "scheme": "bearer",
                "description": "A partner key (`hoso partner-key create`), scoped to actions",
            }},
            "schemas": {"Error": _ERROR, "PublicStatus": _PUBLIC_STATUS},
        },
    }
