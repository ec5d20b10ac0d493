"""Shared steps for tests: receive a dossier and walk it along its route."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.application import HosoApplication, Outcome
from domain.dossier import Dossier
from domain.signing import UnlockedKey, key_id_of
from projections.store import Dialect, Store

PROCEDURE = "2.000488"  # criminal record certificate: TTHCC → STP-HCTP → STP-BGD → TTHCC
APPLICANT = {
    "applicant_name": "Trần Thị Bích Ngọc",
    "applicant_phone": "0912345678",
    "applicant_address": "12 Nguyễn Huệ, phường Sài Gòn, TP.HCM",
    "applicant_id_number": "079201001234",
}


def receive(app: HosoApplication, actor_id: str = "tiepnhan") -> Outcome:
    return app.receive(actor_id=actor_id, procedure_code=PROCEDURE,
                       documents=["Tờ khai", "Bản chụp CCCD"], **APPLICANT)


def hand_over(app: HosoApplication, dossier_id: UUID, sender: str, to_unit: str,
              receiver: str) -> Outcome:
    """A transfer and its acceptance by the receiving unit."""
    app.transfer(dossier_id, expected_version=None, actor_id=sender, to_unit=to_unit)
    return app.accept_transfer(dossier_id, expected_version=None, actor_id=receiver)


_TEST_KEYS: dict[str, UnlockedKey] = {}


def unlocked(user_id: str) -> Callable[[], UnlockedKey]:
    """A key for aggregate tests, which sign without an application or a vault."""
    if user_id not in _TEST_KEYS:
        private = Ed25519PrivateKey.generate()
        _TEST_KEYS[user_id] = UnlockedKey(
            key_id_of(user_id, private.public_key().public_bytes_raw()), private)
    return lambda: _TEST_KEYS[user_id]


SIGNING_PASSPHRASE = "mật khẩu ký thử nghiệm"


def ensure_signing_key(app: HosoApplication, officer_id: str = "gd.stp") -> None:
    if not any(k.revoked_at is None for k in app.signing_keys(officer_id)):
        app.register_signing_key(officer_id=officer_id, passphrase=SIGNING_PASSPHRASE)


def sign(app: HosoApplication, dossier_id: UUID, *, actor_id: str = "gd.stp",
         expected_version: int | None = None, decision_number: str = "15/PLLTP",
         decision_title: str = "Phiếu lý lịch tư pháp số 1", document: bytes | None = None,
         occurred_at: datetime | None = None) -> Outcome:
    """Sign as the officer would: with their registered key, unlocked by the passphrase."""
    ensure_signing_key(app, actor_id)
    return app.sign(dossier_id, expected_version=expected_version, actor_id=actor_id,
                    decision_number=decision_number, decision_title=decision_title,
                    passphrase=SIGNING_PASSPHRASE, document=document, occurred_at=occurred_at)


def walk_to_signed(app: HosoApplication, dossier_id: UUID) -> None:
    hand_over(app, dossier_id, "tiepnhan", "STP-HCTP", "hctp")
    hand_over(app, dossier_id, "hctp", "STP-BGD", "gd.stp")
    sign(app, dossier_id)
    hand_over(app, dossier_id, "gd.stp", "TTHCC", "tiepnhan")


def walk_to_delivered_by_post(app: HosoApplication, dossier_id: UUID) -> Outcome:
    walk_to_signed(app, dossier_id)
    app.dispatch(dossier_id, expected_version=None, actor_id="tiepnhan", method="post",
                 postal_tracking_number="EB123456789VN")
    return app.deliver(dossier_id, expected_version=None, actor_id="buudien",
                       recipient_name="Trần Thị Bích Ngọc")


def transfers(app: HosoApplication, dossier_id: UUID) -> int:
    """How many Transferred events the dossier has: what a double submit must not double."""
    return sum(isinstance(e, Dossier.Transferred)
               for e in app.repository.event_store.get(dossier_id))


def url_of(store: Store, **query: Any) -> str:
    """The HOSO_DATABASE_URL that names this test store (for the ``hoso`` command)."""
    if store.dialect is Dialect.SQLITE:
        return f"sqlite:///{store.sqlite_path}"
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return (f"postgresql://{store.user}@{store.host}:{store.port}/{store.dbname}"
            f"?schema={store.schema}{extra}")


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
