"""Sending a one-time code to the email or phone a citizen gave.

Codes go out at once, not through the outbox: they are not dossier events, they are worth
nothing after ten minutes, and the citizen is waiting for them. An email goes through the
same SMTP sender as the notices; a phone number goes as a text message through the SMPP
gateway (``notify/sms.py``) when one is set, and is otherwise refused, asking for an email
address.
"""

from __future__ import annotations

import logging
import unicodedata
from typing import Protocol
from uuid import uuid4

from config.settings import Settings
from domain.errors import DomainError
from notify.messages import Email
from notify.senders import Sender, smtp_sender

log = logging.getLogger(__name__)


class TextSender(Protocol):
    def send_text(self, phone: str, text: str) -> None:
        """Send a short message to a phone number, or raise."""


class CodeSender(Protocol):
    def send_code(self, contact: str, code: str, purpose_vi: str, purpose_en: str) -> None:
        """Deliver the code to an email address or phone number, or raise DomainError."""


def code_text(code: str, purpose_vi: str, purpose_en: str) -> str:
    return (f"Mã xác nhận hoso: {code} ({purpose_vi}; hiệu lực 10 phút, không chia sẻ mã "
            f"này).\nhoso confirmation code: {code} ({purpose_en}; valid for 10 minutes, do "
            "not share it).")


def sms_text(code: str, purpose_vi: str) -> str:
    """One text message (160 GSM characters): Vietnamese without diacritics, as operators'
    brand-name messages are written, since one accented letter makes it UCS-2 (70 a part)."""
    return (f"Ma xac nhan hoso ({without_diacritics(purpose_vi)}): {code}. Hieu luc 10 phut; "
            "khong chia se ma nay.")


def without_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class CannotSend(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "Chưa gửi được mã xác nhận; vui lòng thử lại sau ít phút hoặc dùng địa chỉ khác.",
            "The confirmation code could not be sent; try again in a few minutes or use "
            "another address.")


class NoTextMessages(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "Hiện chưa gửi được mã xác nhận qua tin nhắn điện thoại; vui lòng nhập địa chỉ "
            "email.",
            "Confirmation codes cannot be sent by text message yet; please give an email "
            "address.")


class ContactCodeSender:
    def __init__(self, email: Sender | None, sms: TextSender | None) -> None:
        self.email = email
        self.sms = sms

    def send_code(self, contact: str, code: str, purpose_vi: str, purpose_en: str) -> None:
        text = code_text(code, purpose_vi, purpose_en)
        try:
            if "@" in contact:
                if self.email is None:
                    raise CannotSend()
                self.email.send(Email(key=uuid4(), to=contact,
                                      subject="Mã xác nhận / Confirmation code", text=text))
            else:
                if self.sms is None:
                    raise NoTextMessages()
                self.sms.send_text(contact, sms_text(code, purpose_vi))
        except DomainError:
            raise
        except Exception:
            # Never the address or the code in the log.
            log.warning("a one-time code could not be sent", exc_info=True)
            raise CannotSend() from None


def code_sender(settings: Settings) -> ContactCodeSender:
    from notify.sms import sms_sender

    return ContactCodeSender(smtp_sender(settings), sms_sender(settings))
