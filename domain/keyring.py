"""An officer's signing keys, registered and revoked by events that the transparency log keeps.

One keyring per officer, so two officers registering keys at once never conflict. Only the
public half of a key is ever in an event; the sealed private half is in the key vault.
"""

from __future__ import annotations

import base64
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import AccessDenied, DomainError
from domain.organisation import Role, Staff
from domain.signing import RegisteredKey
from domain.text import clean_text


class OfficerKeyring(Aggregate):
    class Event(Aggregate.Event):
        # The same who/when fields as a dossier event, so the log treats both alike.
        actor_id: str
        actor_unit: str
        occurred_at: datetime

    class Opened(Event, Aggregate.Created):
        user_id: str

    class KeyRegistered(Event):
        key_id: str
        public_key: str  # raw Ed25519, base64
        unit_code: str

    class KeyRevoked(Event):
        key_id: str
        reason: str

    @staticmethod
    def create_id(user_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"https://hoso.example/officer-keyring/{user_id}")

    @classmethod
    def open(cls, *, officer: Staff, recorded_at: datetime) -> OfficerKeyring:
        return cls(user_id=officer.user_id, actor_id=officer.user_id,
                   actor_unit=officer.unit_code, occurred_at=recorded_at, timestamp=recorded_at)

    @event(Opened)
    def __init__(self, *, user_id: str, actor_id: str, actor_unit: str,
                 occurred_at: datetime, timestamp: datetime) -> None:
        self.user_id = user_id
        self.keys: dict[str, RegisteredKey] = {}

    @property
    def active_key(self) -> RegisteredKey | None:
        active = [k for k in self.keys.values() if k.revoked_at is None]
        return active[-1] if active else None

    # ---- commands ------------------------------------------------------------------------

    def register(self, *, officer: Staff, key_id: str, public_key: bytes,
                 recorded_at: datetime) -> None:
        if officer.user_id != self.user_id:
            raise AccessDenied("Chỉ chính cán bộ mới đăng ký được khóa ký của mình.",
                               "Only the officer can register their own signing key.")
        if not officer.may_sign:
            raise AccessDenied("Chỉ người có thẩm quyền ký mới đăng ký khóa ký.",
                               "Only signing officers register signing keys.")
        if self.active_key is not None:
            raise DomainError(
                "Bạn đã có khóa ký đang dùng; hãy thu hồi khóa đó trước khi đăng ký khóa mới.",
                "You already have a signing key in use; revoke it before registering a new one.")
        self._key_registered(
            actor_id=officer.user_id, actor_unit=officer.unit_code, occurred_at=recorded_at,
            timestamp=recorded_at, key_id=key_id,
            public_key=base64.b64encode(public_key).decode("ascii"),
            unit_code=officer.unit_code)

    @event(KeyRegistered)
    def _key_registered(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                        timestamp: datetime, key_id: str, public_key: str,
                        unit_code: str) -> None:
        self.keys[key_id] = RegisteredKey(
            key_id=key_id, user_id=self.user_id, unit_code=unit_code,
            public_key=base64.b64decode(public_key), registered_at=occurred_at)

    def revoke(self, *, by: Staff, key_id: str, reason: str, recorded_at: datetime) -> None:
        if by.user_id != self.user_id and Role.ADMINISTRATOR not in by.roles:
            raise AccessDenied("Chỉ chính cán bộ hoặc quản trị viên mới thu hồi được khóa ký.",
                               "Only the officer or an administrator can revoke a signing key.")
        key = self.keys.get(key_id)
        if key is None:
            raise DomainError("Không có khóa ký này.", "There is no such signing key.")
        if key.revoked_at is not None:
            raise DomainError("Khóa ký này đã bị thu hồi.", "This signing key is already revoked.")
        self._key_revoked(
            actor_id=by.user_id, actor_unit=by.unit_code, occurred_at=recorded_at,
            timestamp=recorded_at, key_id=key_id,
            reason=clean_text(reason, label_vi="lý do thu hồi", label_en="reason",
                              max_length=500))

    @event(KeyRevoked)
    def _key_revoked(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                     timestamp: datetime, key_id: str, reason: str) -> None:
        key = self.keys[key_id]
        self.keys[key_id] = RegisteredKey(
            key_id=key.key_id, user_id=key.user_id, unit_code=key.unit_code,
            public_key=key.public_key, registered_at=key.registered_at,
            revoked_at=occurred_at, revoke_reason=reason)


# What the transparency log records of the keyrings: every event.
KEYRING_EVENT_CLASSES: tuple[type[OfficerKeyring.Event], ...] = (
    OfficerKeyring.Opened, OfficerKeyring.KeyRegistered, OfficerKeyring.KeyRevoked)

