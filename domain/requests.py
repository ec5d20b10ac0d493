"""Requests already handled: an idempotency key for every state-changing dossier command.

A form carries a fresh key each time it is shown. The command's events and a
``HandledRequest`` named by that key are saved in one transaction, so a repeat of the key — a
double click, two tabs, a retry after the answer was lost — finds the request already handled
and gets the first answer instead of a second event or a "someone else changed it" refusal.
The same key sent for a different action (another dossier, another user, other fields) is
refused: it can only be a bug or a forgery.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError

_NAMESPACE = uuid5(NAMESPACE_URL, "https://hoso.example/handled-request")
KEY_LENGTHS = range(8, 101)


class InvalidRequestKey(DomainError):
    def __init__(self) -> None:
        super().__init__("Mã yêu cầu không hợp lệ; hãy tải lại biểu mẫu.",
                         "The request key is not valid; reload the form.")


class RequestKeyReused(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "Mã yêu cầu này đã được dùng cho một thao tác khác. Hãy tải lại trang rồi thực "
            "hiện lại.",
            "This request key was already used for a different action. Reload the page and "
            "try again.")


def check_key(key: str) -> str:
    if len(key) not in KEY_LENGTHS or not key.isascii() or not key.isprintable():
        raise InvalidRequestKey()
    return key


@dataclass(frozen=True)
class Request:
    """What a key stands for: who asked for which action on which dossier, with which fields
    (as a digest: the fields may hold personal data, which this record must not)."""

    key: str
    actor_id: str
    action: str
    dossier_id: UUID
    fingerprint: str

    @classmethod
    def of(cls, key: str, *, actor_id: str, action: str, dossier_id: UUID,
           fields: dict[str, Any]) -> Request:
        canonical = json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False)
        return cls(check_key(key), actor_id, action, dossier_id,
                   hashlib.sha256(canonical.encode("utf-8")).hexdigest())


class HandledRequest(Aggregate):
    @staticmethod
    def create_id(key: str) -> UUID:
        return uuid5(_NAMESPACE, key)

    @event("Handled")
    def __init__(self, key: str, actor_id: str, action: str, dossier_id: UUID,
                 fingerprint: str, dossier_version: int, timestamp: datetime) -> None:
        self.key = key
        self.actor_id = actor_id
        self.action = action
        self.dossier_id = dossier_id
        self.fingerprint = fingerprint
        self.dossier_version = dossier_version

    @classmethod
    def record(cls, request: Request, dossier_version: int, *,
               recorded_at: datetime) -> HandledRequest:
        return cls(key=request.key, actor_id=request.actor_id, action=request.action,
                   dossier_id=request.dossier_id, fingerprint=request.fingerprint,
                   dossier_version=dossier_version, timestamp=recorded_at)

    def confirm_repeat(self, request: Request) -> None:
        """Accept ``request`` as this one sent again; refuse another sent with its key."""
        if (self.actor_id, self.action, self.dossier_id, self.fingerprint) != (
                request.actor_id, request.action, request.dossier_id, request.fingerprint):
            raise RequestKeyReused()
