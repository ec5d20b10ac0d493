"""One-time codes sent to a citizen: the rules (length, life, attempts, how often).

A code proves that whoever types it reads the email or phone it was sent to. Six digits,
valid for ten minutes, five wrong tries, spent by its first right use: a guessed or reused
code ends in a refusal, never in a second submission or a second look. How often codes are
sent to one address (or about one dossier) is limited too, so nobody can flood a phone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from domain.errors import DomainError

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5
# Codes sent for one subject (an address, or a dossier code) within the window.
MAX_CODES_PER_WINDOW = 5
SEND_WINDOW = timedelta(hours=1)


class CodePurpose(StrEnum):
    SUBMIT = "submit"  # confirm the contact of an online submission
    LOOKUP = "lookup"  # open a dossier's page by its code and the contact given
    DOWNLOAD = "download"  # download an electronic result


def subject_hash(purpose: CodePurpose, subject: str) -> str:
    return hashlib.sha256(f"{purpose.value}\0{subject.strip().casefold()}".encode()).hexdigest()


def code_hash(challenge_id: str, code: str) -> str:
    return hashlib.sha256(f"{challenge_id}\0{code}".encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def same_code(challenge_id: str, typed: str, stored_hash: str) -> bool:
    return hmac.compare_digest(code_hash(challenge_id, typed.strip()), stored_hash)


@dataclass(frozen=True)
class Challenge:
    """A code sent: the id travels with the form, the code by email or SMS."""

    challenge_id: str
    code: str
    expires_at: datetime


class CodeRefused(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "Mã xác nhận không đúng, đã hết hạn hoặc đã được dùng. Hãy yêu cầu mã mới.",
            "The confirmation code is wrong, has expired or was already used. Ask for a new "
            "one.")


class TooManyCodes(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "Đã gửi quá nhiều mã xác nhận; vui lòng thử lại sau một giờ.",
            "Too many confirmation codes were sent; please try again in an hour.")


class CodeBook(Protocol):
    """Where codes are kept (as digests) between sending and typing."""

    def issue(self, purpose: CodePurpose, subject: str, now: datetime) -> Challenge:
        """A new code for ``subject``; ``TooManyCodes`` past the sending limit."""

    def spend(self, challenge_id: str, code: str, purpose: CodePurpose, subject: str,
              now: datetime) -> None:
        """Accept the code once, or raise ``CodeRefused`` (counting the wrong try)."""
