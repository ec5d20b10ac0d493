"""Partners' webhook subscriptions: who is told of which dossiers' status changes, and where.

A subscription names a partner (a string id; the partner API maps its keys onto these ids),
an address to POST to, a secret to sign with, and which dossiers: those of a unit (received,
routed or transferred there, or handed to it, like the post office) or of a procedure, or
both at once. It applies to events recorded from its creation on: subscribing never replays
the past.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from domain.errors import DomainError
from domain.organisation import Directory
from domain.text import clean_text

_PARTNER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# Loopback only may be plain HTTP: a partner on the same machine, or a test.
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
MIN_SECRET_LENGTH = 24


def new_secret() -> str:
    """256 random bits, the signing secret shared with the partner."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Subscription:
    id: str
    partner_id: str
    url: str
    secret: str
    unit_code: str | None
    procedure_code: str | None
    created_at: datetime
    removed_at: datetime | None = None

    @classmethod
    def cleaned(cls, *, partner_id: str, url: str, secret: str, unit_code: str | None,
                procedure_code: str | None, directory: Directory,
                created_at: datetime) -> Subscription:
        partner = (partner_id or "").strip().lower()
        if not _PARTNER_ID.match(partner):
            raise DomainError(
                "Mã đối tác chỉ gồm chữ thường, số, dấu chấm, gạch ngang, gạch dưới "
                "(tối đa 64 ký tự).",
                "A partner id has lower-case letters, digits, dots, dashes and underscores "
                "only (at most 64).")
        address = clean_text(url, label_vi="địa chỉ nhận webhook", label_en="webhook URL",
                             max_length=2000)
        parts = urlsplit(address)
        if not parts.hostname or parts.scheme not in ("https", "http") or (
                parts.scheme == "http" and parts.hostname not in _LOOPBACK):
            raise DomainError(
                "Địa chỉ nhận webhook phải là https:// (http:// chỉ cho máy cục bộ).",
                "The webhook URL must be https:// (plain http:// only on this machine).")
        if len(secret) < MIN_SECRET_LENGTH:
            raise DomainError(
                f"Khóa bí mật cần ít nhất {MIN_SECRET_LENGTH} ký tự.",
                f"The signing secret needs at least {MIN_SECRET_LENGTH} characters.")
        unit = (unit_code or "").strip() or None
        procedure = (procedure_code or "").strip() or None
        if unit is None and procedure is None:
            raise DomainError(
                "Hãy chọn đơn vị hoặc thủ tục mà đối tác theo dõi.",
                "Choose the unit or the procedure whose dossiers the partner follows.")
        if unit is not None:
            directory.unit(unit)  # refuses an unknown unit in words
        if procedure is not None:
            directory.procedure(procedure)
        return cls(id=secrets.token_hex(8), partner_id=partner, url=address, secret=secret,
                   unit_code=unit, procedure_code=procedure, created_at=created_at)
