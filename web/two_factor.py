"""Optional second factor for staff: the six-digit codes of an authenticator app.

Time-based one-time codes (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), the kind every
authenticator app reads from a QR code. A code is accepted for its own step and one step
either side (phone clocks drift), and never twice: the accepted step is stored and a code of
that step or an earlier one is refused (``StaffAccounts.check_code``).
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

import pyotp

ISSUER = "hoso"
DIGITS = 6
# Between a right password and the code: long enough to unlock a phone, short enough that a
# half-signed-in browser left open is worth nothing.
CODE_WAIT = timedelta(minutes=5)


def new_secret() -> str:
    """160 random bits in base32, as RFC 4226 recommends and the apps expect."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, user_id: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user_id, issuer_name=ISSUER)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def normalised(code: str) -> str | None:
    """The six digits of what was typed (spaces and a middle dash allowed), or None."""
    digits = code.replace(" ", "").replace("-", "").strip()
    if len(digits) != DIGITS or not (digits.isascii() and digits.isdigit()):
        return None
    return digits


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The 30-second step whose code this is (now, or one step either side), or None."""
    digits = normalised(code)
    if digits is None:
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for offset in (0, -1, 1):
        if hmac.compare_digest(totp.at(now, counter_offset=offset), digits):
            return step + offset
    return None
