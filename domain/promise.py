"""A promise the citizen holds: the receipt's QR code carries, beside the link to the public
page, a compact statement of what the agency promised, signed with the agency's key.

The statement is the RFC 8785 canonical JSON of

    {"code": <dossier code>, "proc": <procedure code>, "recv": <received at, local time to the
     minute, +07:00>, "due": <due date, ISO>, "docs": [<documents handed in>],
     "fee": <whole đồng due at reception, 0 when none, null when fixed during processing>,
     "ext": <extensions recorded so far: 0 on the first receipt>}

and the signature is Ed25519 over ``hoso-receipt-promise/1\\n`` followed by those bytes, so
nothing else hoso signs can be taken for it. The QR code's text is the public link with the
fragment ``#<base64url statement>.<base64url signature>`` (no padding): a phone opens the
link as before (browsers never send a fragment to the server), and any reader holding the
published key (``/receipt-key``, PEM) can check the statement with no network. Each extension
issues a new statement — the new due date, ``ext`` one more — printed with the apology and
new appointment (form 04); docs/signed-decisions.md shows how to check one by hand.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from domain.fees import FeeSchedule
from domain.transparency.jcs import jcs
from domain.working_days import HCMC

if TYPE_CHECKING:
    from domain.application import DossierSnapshot

__all__ = ["PREFIX", "BrokenPromise", "Promise", "read_signed", "sign"]

PREFIX = b"hoso-receipt-promise/1\n"


class BrokenPromise(ValueError):
    """A statement that cannot be read, or whose signature does not verify."""


@dataclass(frozen=True)
class Promise:
    """What one printed form (the receipt, or an apology with its new date) promises."""

    code: str
    procedure_code: str
    received_at: datetime
    due_date: date
    documents: tuple[str, ...]
    fee_vnd: int | None
    extension: int

    @classmethod
    def printed(cls, snapshot: DossierSnapshot, *, due_date: date, extension: int) -> Promise:
        """What a form printed for ``snapshot`` promises: the receipt's facts, with the due
        date after ``extension`` extensions (the receipt: all so far; form 04: its own)."""
        return cls.of(code=snapshot.code, procedure_code=snapshot.procedure_code,
                      received_at=snapshot.received_at, due_date=due_date,
                      documents=snapshot.documents, fee_schedule=snapshot.fee_schedule,
                      extension=extension)

    @classmethod
    def of(cls, *, code: str, procedure_code: str, received_at: datetime, due_date: date,
           documents: Sequence[str], fee_schedule: FeeSchedule | None,
           extension: int) -> Promise:
        """The promise a form prints: no fee schedule is no fee (0), a fee fixed during
        processing is ``None``."""
        fee = 0 if fee_schedule is None else fee_schedule.amount_vnd
        return cls(code=code, procedure_code=procedure_code, received_at=received_at,
                   due_date=due_date, documents=tuple(documents), fee_vnd=fee,
                   extension=extension)

    def as_dict(self) -> dict[str, Any]:
        received = self.received_at.astimezone(HCMC).strftime("%Y-%m-%dT%H:%M+07:00")
        return {"code": self.code, "proc": self.procedure_code, "recv": received,
                "due": self.due_date.isoformat(), "docs": list(self.documents),
                "fee": self.fee_vnd, "ext": self.extension}

    def statement(self) -> bytes:
        """The canonical bytes the QR code carries."""
        return jcs(self.as_dict())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise BrokenPromise("not base64url") from None


def sign(promise: Promise, key: Ed25519PrivateKey) -> str:
    """``<statement>.<signature>``, both base64url: the QR link's fragment."""
    statement = promise.statement()
    return f"{_b64(statement)}.{_b64(key.sign(PREFIX + statement))}"


def read_signed(signed: str, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The statement in ``signed`` (a fragment, or the whole scanned link), once its signature
    verifies against ``public_key``; raises ``BrokenPromise`` otherwise."""
    signed = signed.rsplit("#", 1)[-1]
    statement_text, _, signature_text = signed.partition(".")
    statement, signature = _unb64(statement_text), _unb64(signature_text)
    try:
        public_key.verify(signature, PREFIX + statement)
    except InvalidSignature:
        raise BrokenPromise("the signature does not verify against this key") from None
    value = json.loads(statement)
    if not isinstance(value, dict):
        raise BrokenPromise("a statement is a JSON object")
    return value
