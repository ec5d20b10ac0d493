"""Signed decisions: what an officer's key signs, how the key is kept, and how to check it.

This is a *system attestation*: it proves that the decision recorded in hoso is the one the
holder of a registered key approved, and that nobody changed it since. The legal signature
under Vietnamese law is the officer's certificate-backed signature on the decision document
itself; hoso records that document's SHA-256 in the statement when it is attached.

* The statement is a domain-separated RFC 8785 document (``STATEMENT_PREFIX`` then JCS), so a
  signature over it can never be mistaken for a signature over anything else hoso signs.
* Private keys never enter the event store or the log: each is sealed with the officer's
  passphrase (Argon2id, then AES-256-GCM bound to the key id) and kept in a ``KeyVault``
  outside them; the officer re-enters the passphrase every time they sign.
* Checking needs only the public key registered by an event in the log and the signed
  event's own fields.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from domain.errors import DomainError
from domain.transparency.jcs import format_time, jcs

STATEMENT_PREFIX = b"hoso-decision-signature/1\n"
KEY_ID_PREFIX = b"hoso-officer-key/1\n"
SEAL_FORMAT = "hoso-sealed-key/1"
MIN_PASSPHRASE = 12
# Argon2id at OWASP's second recommended setting (19 MiB, 2 passes): a guess costs the
# attacker what it costs the officer, about a tenth of a second.
_ARGON2 = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1, "hash_len": 32}


@dataclass(frozen=True)
class DecisionStatement:
    """Exactly what a decision's signature covers."""

    dossier_id: UUID
    version: int
    decision_number: str
    decision_title: str
    document_sha256: str | None
    unit: str
    key_id: str
    signed_at: datetime

    def message(self) -> bytes:
        return STATEMENT_PREFIX + jcs({
            "dossier_id": self.dossier_id,
            "version": self.version,
            "decision_number": self.decision_number,
            "decision_title": self.decision_title,
            "document_sha256": self.document_sha256,
            "unit": self.unit,
            "key_id": self.key_id,
            "signed_at": format_time(self.signed_at),
        })


def key_id_of(user_id: str, public_key: bytes) -> str:
    """``<user>+<16 hex>``: who the key belongs to, and a fingerprint of the key itself."""
    return f"{user_id}+{hashlib.sha256(KEY_ID_PREFIX + public_key).hexdigest()[:16]}"


def owner_of(key_id: str) -> str:
    return key_id.rpartition("+")[0]


def document_digest(document: bytes | None) -> str | None:
    return hashlib.sha256(document).hexdigest() if document else None


# ---- keys kept sealed ----------------------------------------------------------------------


class KeyVault(Protocol):
    """Where sealed private keys live: outside the event store, so a revoked key can be
    destroyed, and never in the log."""

    def put(self, key_id: str, sealed: bytes) -> None: ...

    def get(self, key_id: str) -> bytes | None: ...

    def discard(self, key_id: str) -> None: ...


class MemoryKeyVault:
    """A vault for tests and one-off scripts; keys vanish with the process."""

    def __init__(self) -> None:
        self._sealed: dict[str, bytes] = {}

    def put(self, key_id: str, sealed: bytes) -> None:
        self._sealed[key_id] = sealed

    def get(self, key_id: str) -> bytes | None:
        return self._sealed.get(key_id)

    def discard(self, key_id: str) -> None:
        self._sealed.pop(key_id, None)


class NoKeyVault:
    """The vault of an application built without one: it refuses, in words."""

    def _refuse(self) -> DomainError:
        return DomainError("Máy chủ này chưa được cấu hình kho khóa ký số.",
                           "This server has no signing-key vault configured.")

    def put(self, key_id: str, sealed: bytes) -> None:
        raise self._refuse()

    def get(self, key_id: str) -> bytes | None:
        raise self._refuse()

    def discard(self, key_id: str) -> None:
        raise self._refuse()


def require_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise DomainError(
            f"Mật khẩu khóa ký cần ít nhất {MIN_PASSPHRASE} ký tự.",
            f"The signing passphrase needs at least {MIN_PASSPHRASE} characters.")


@dataclass(frozen=True)
class NewKey:
    key_id: str
    public_key: bytes
    sealed: bytes


def generate_key(user_id: str, passphrase: str) -> NewKey:
    require_passphrase(passphrase)
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = key_id_of(user_id, public)
    return NewKey(key_id, public, _seal(private, key_id, passphrase))


def _wrapping_key(passphrase: str, salt: bytes) -> bytes:
    return hash_secret_raw(passphrase.encode("utf-8"), salt, type=Type.ID, **_ARGON2)


def _seal(private: Ed25519PrivateKey, key_id: str, passphrase: str) -> bytes:
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    raw = private.private_bytes_raw()
    # The key id as associated data: a sealed key copied under another id will not open.
    ciphertext = AESGCM(_wrapping_key(passphrase, salt)).encrypt(nonce, raw, key_id.encode())
    return json.dumps({"format": SEAL_FORMAT, "kdf": "argon2id", **_ARGON2,
                       "salt": _b64(salt), "nonce": _b64(nonce),
                       "ciphertext": _b64(ciphertext)}).encode()


def unseal(sealed: bytes, key_id: str, passphrase: str) -> Ed25519PrivateKey:
    """The private key, or a refusal when the passphrase is wrong."""
    sealed_key = json.loads(sealed)
    if sealed_key.get("format") != SEAL_FORMAT:
        raise ValueError(f"not a sealed hoso key: {sealed_key.get('format')!r}")
    wrapping = _wrapping_key(passphrase, base64.b64decode(sealed_key["salt"]))
    try:
        raw = AESGCM(wrapping).decrypt(base64.b64decode(sealed_key["nonce"]),
                                       base64.b64decode(sealed_key["ciphertext"]),
                                       key_id.encode())
    except InvalidTag:
        raise DomainError("Mật khẩu khóa ký không đúng.",
                          "The signing passphrase is wrong.") from None
    return Ed25519PrivateKey.from_private_bytes(raw)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# ---- checking a signature ------------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredKey:
    """A public key as the log registered (and perhaps revoked) it."""

    key_id: str
    user_id: str
    unit_code: str
    public_key: bytes
    registered_at: datetime
    revoked_at: datetime | None = None
    revoke_reason: str = ""


class SignatureStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    REVOKED = "revoked"  # the key was revoked before the decision was signed
    UNKNOWN_KEY = "unknown_key"
    NOT_YET_REGISTERED = "not_yet_registered"
    UNSIGNED = "unsigned"  # signed before hoso recorded signatures

    @property
    def is_valid(self) -> bool:
        return self is SignatureStatus.VALID


def check_signature(statement: DecisionStatement, signature: bytes | None,
                    key: RegisteredKey | None) -> SignatureStatus:
    """Is ``signature`` a valid signature of ``statement`` by a key in force at its time?"""
    if signature is None:
        return SignatureStatus.UNSIGNED
    if key is None or key.key_id != statement.key_id:
        return SignatureStatus.UNKNOWN_KEY
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(signature,
                                                                  statement.message())
    except (InvalidSignature, ValueError):
        return SignatureStatus.INVALID
    if statement.signed_at < key.registered_at:
        return SignatureStatus.NOT_YET_REGISTERED
    if key.revoked_at is not None and key.revoked_at <= statement.signed_at:
        return SignatureStatus.REVOKED
    return SignatureStatus.VALID


@dataclass(frozen=True)
class DecisionSignature:
    """A recorded decision's signature as checked now: what the pages show."""

    status: SignatureStatus
    unit_code: str
    decision_number: str
    signed_at: datetime
    key_id: str | None
    signer_id: str | None
    document_sha256: str | None
    key_revoked_at: datetime | None

    @classmethod
    def checked(cls, statement: DecisionStatement | None, signature: bytes | None, *,
                unit_code: str, decision_number: str, signed_at: datetime,
                key: RegisteredKey | None) -> DecisionSignature:
        status = (check_signature(statement, signature, key) if statement is not None
                  else SignatureStatus.UNSIGNED)
        return cls(status=status, unit_code=unit_code, decision_number=decision_number,
                   signed_at=signed_at, key_id=statement.key_id if statement else None,
                   signer_id=owner_of(statement.key_id) if statement else None,
                   document_sha256=statement.document_sha256 if statement else None,
                   key_revoked_at=key.revoked_at if key else None)


@dataclass(frozen=True)
class UnlockedKey:
    """An officer's private key, opened with their passphrase for one signing."""

    key_id: str
    private: Ed25519PrivateKey

    def sign(self, statement: DecisionStatement) -> bytes:
        if statement.key_id != self.key_id:
            raise ValueError("a statement names the key that signs it")
        return self.private.sign(statement.message())
