"""Cleaning free text typed by clerks before it becomes part of an immutable event."""

from __future__ import annotations

import re
import unicodedata

from domain.errors import DomainError

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(
    value: str | None, *, label_vi: str, label_en: str, max_length: int, required: bool = True
) -> str:
    """NFC-normalised, trimmed text; refuses control characters and over-long input."""
    text = unicodedata.normalize("NFC", (value or "").strip())
    if required and not text:
        raise DomainError(f"Vui lòng nhập {label_vi}.", f"Please enter the {label_en}.")
    if len(text) > max_length:
        raise DomainError(
            f"{label_vi.capitalize()} quá dài (tối đa {max_length} ký tự).",
            f"The {label_en} is too long (at most {max_length} characters).",
        )
    if _CONTROL.search(text):
        raise DomainError(
            f"{label_vi.capitalize()} chứa ký tự không hợp lệ.",
            f"The {label_en} contains characters that are not allowed.",
        )
    return text


_PHONE = re.compile(r"^(?:\+84|0)\d{9,10}$")


def clean_phone(value: str | None) -> str:
    phone = re.sub(r"[\s.\-()]", "", value or "")
    if not _PHONE.match(phone):
        raise DomainError(
            "Số điện thoại không hợp lệ (ví dụ: 0901234567).",
            "The phone number is not valid (for example 0901234567).",
        )
    return phone


# One address, as mail servers accept it: no display name, no spaces, a dotted domain.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")


def clean_email(value: str | None) -> str:
    """An optional email address, trimmed, its domain lower-cased; "" when none was given.

    Only plain ASCII addresses: an address the outbox cannot send to would fail every retry
    and the citizen would never be told, so it is refused at the counter instead.
    """
    email = (value or "").strip()
    if not email:
        return ""
    local, _, domain = email.rpartition("@")
    email = f"{local}@{domain.lower()}"
    if len(email) > 254 or len(local) > 64 or not _EMAIL.match(email) or ".." in email:
        raise DomainError(
            "Địa chỉ email không hợp lệ (ví dụ: ten@example.com); để trống nếu công dân "
            "không có.",
            "The email address is not valid (for example name@example.com); leave it empty "
            "if the citizen has none.",
        )
    return email
