"""Fees and charges (*lệ phí, phí*) a procedure carries by law, and what the citizen paid.

Money is always an exact integer number of đồng (VND has no minor unit in use): never a
float, never a string with separators. How an amount is written for a reader is the pages'
business (``web/formatting.vnd``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.errors import DomainError
from domain.text import clean_text

# No procedure's fee comes near this; beyond it an amount is surely a typing mistake.
MAX_AMOUNT_VND = 10_000_000_000


@dataclass(frozen=True)
class FeeSchedule:
    """A procedure's published fee: a fixed amount due at reception, or a rule by which the
    amount is fixed during processing (a financial obligation, portal status 6), with the
    legal basis and who is exempted."""

    amount_vnd: int | None  # due at reception; None when the amount is fixed later
    legal_basis: str
    rule_vi: str = ""  # how the amount is fixed, when it is not a fixed amount
    rule_en: str = ""
    exemptions_vi: str = ""
    exemptions_en: str = ""

    @property
    def due_at_reception(self) -> int:
        return self.amount_vnd or 0

    @property
    def fixed_later(self) -> bool:
        return self.amount_vnd is None

    def as_dict(self) -> dict[str, Any]:
        return {"amount_vnd": self.amount_vnd, "legal_basis": self.legal_basis,
                "rule_vi": self.rule_vi, "rule_en": self.rule_en,
                "exemptions_vi": self.exemptions_vi, "exemptions_en": self.exemptions_en}

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> FeeSchedule | None:
        if data is None:
            return None
        return cls(amount_vnd=data["amount_vnd"], legal_basis=data["legal_basis"],
                   rule_vi=data.get("rule_vi", ""), rule_en=data.get("rule_en", ""),
                   exemptions_vi=data.get("exemptions_vi", ""),
                   exemptions_en=data.get("exemptions_en", ""))

    @classmethod
    def cleaned(cls, *, amount_vnd: int | None, legal_basis: str, rule_vi: str = "",
                rule_en: str = "", exemptions_vi: str = "",
                exemptions_en: str = "") -> FeeSchedule:
        """A schedule as an administrator typed it, refused in words when it makes no sense:
        an amount or a rule (both languages), always a legal basis."""
        if amount_vnd is not None:
            check_amount(amount_vnd, allow_zero=True)
        rule_vi = clean_text(rule_vi, label_vi="cách xác định mức thu",
                             label_en="rule (Vietnamese)", max_length=500, required=False)
        rule_en = clean_text(rule_en, label_vi="cách xác định mức thu (tiếng Anh)",
                             label_en="rule (English)", max_length=500, required=False)
        if amount_vnd is None and not (rule_vi and rule_en):
            raise DomainError(
                "Hãy ghi mức thu (đồng) hoặc cách xác định mức thu, bằng cả hai thứ tiếng.",
                "Give the amount (in đồng) or the rule that fixes it, in both languages.")
        return cls(
            amount_vnd=amount_vnd,
            legal_basis=clean_text(legal_basis, label_vi="căn cứ pháp lý",
                                   label_en="legal basis", max_length=300),
            rule_vi=rule_vi, rule_en=rule_en,
            exemptions_vi=clean_text(exemptions_vi, label_vi="đối tượng miễn, giảm",
                                     label_en="exemptions (Vietnamese)", max_length=500,
                                     required=False),
            exemptions_en=clean_text(exemptions_en, label_vi="đối tượng miễn, giảm (tiếng Anh)",
                                     label_en="exemptions (English)", max_length=500,
                                     required=False),
        )


def check_amount(amount_vnd: int, *, allow_zero: bool = False) -> int:
    """An amount of đồng as the domain accepts it: a whole number, positive (or zero for a
    free procedure), not absurdly large."""
    if isinstance(amount_vnd, bool) or not isinstance(amount_vnd, int):
        raise DomainError("Số tiền phải là số nguyên đồng.", "An amount is a whole number of đồng.")
    if amount_vnd < (0 if allow_zero else 1) or amount_vnd > MAX_AMOUNT_VND:
        raise DomainError("Số tiền không hợp lệ.", "The amount is not valid.")
    return amount_vnd


def parse_amount(text: str) -> int | None:
    """An amount typed in a form — digits, with dots, commas or spaces between thousands as
    people write them (1.250.000, 1,250,000) — or None when left empty. A decimal part is
    refused rather than guessed."""
    text = text.strip().removesuffix("₫").removesuffix("đ").removeprefix("VND").strip()
    if not text:
        return None
    digits = text.replace(".", "").replace(",", "").replace(" ", "").replace("\u00a0", "")
    if not digits.isdigit() or not _grouped(text):
        raise DomainError("Số tiền ghi bằng chữ số, ví dụ 1.250.000.",
                          "Write the amount in digits, e.g. 1,250,000.")
    return check_amount(int(digits), allow_zero=True)


def _grouped(text: str) -> bool:
    """Thousands separators in the right places only (so "1.5" is not read as 15)."""
    for separator in (".", ",", " ", "\u00a0"):
        if separator in text:
            head, *groups = text.split(separator)
            return 1 <= len(head) <= 3 and all(len(g) == 3 for g in groups)
    return True


def amount_owed(due_vnd: int, paid_vnd: int, *, ended_without_result: bool = False) -> int:
    """What is still owed when ``due_vnd`` was asked in all and ``paid_vnd`` kept (paid less
    refunded): never below zero (an overpayment is a red flag and a refund, not a credit),
    and nothing once the dossier was refused, withdrawn or not received."""
    return 0 if ended_without_result else max(0, due_vnd - paid_vnd)


# ---- online payment orders ------------------------------------------------------------
# An order names the dossier and the version whose amount owed it pays, plus a random
# attempt suffix (a gateway refuses an order reference twice, and a failed attempt may be
# retried). No event is recorded for an order: what it must cost is the amount owed at that
# version, which the events already say; only the gateway's confirmed notice is recorded.

_ORDER_REF = re.compile(r"^([0-9a-f]{32})V(\d{1,9})N([0-9a-z]{1,16})$")


def order_ref(dossier_id: UUID, version: int, attempt: str) -> str:
    return f"{dossier_id.hex}V{version}N{attempt}"


def parse_order_ref(ref: str) -> tuple[UUID, int] | None:
    """The dossier and version an order reference pays for, or None when it is not one."""
    match = _ORDER_REF.match(ref)
    return (UUID(match.group(1)), int(match.group(2))) if match else None


def same_order(one: str, other: str) -> bool:
    """Two attempts at paying for the same dossier version."""
    return bool(one) and parse_order_ref(one) == parse_order_ref(other)


class PaymentOrderUnknown(DomainError):
    def __init__(self) -> None:
        super().__init__("Không có lệnh thanh toán này.", "There is no such payment order.")


class PaymentAlreadyConfirmed(DomainError):
    def __init__(self) -> None:
        super().__init__("Lệnh thanh toán này đã được ghi nhận.",
                         "This payment order was already confirmed.")


class PaymentAmountWrong(DomainError):
    def __init__(self) -> None:
        super().__init__("Số tiền thanh toán không khớp với số tiền phải nộp.",
                         "The amount paid does not match the amount owed.")
