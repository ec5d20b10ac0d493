"""Sending a one-time code to the email or phone a citizen gave.

Codes go out at once, not through the outbox: they are not dossier events, they are worth
nothing after ten minutes, and the citizen is waiting for them. An email goes through the
same SMTP sender as the notices; a phone number needs an SMS sender, which is not wired in
yet (``notify/sms.py``): until then a phone number is refused, asking for an email address.
"""

from __future__ import annotations

import logging
from typing import Protocol
from uuid import uuid4

from domain.errors import DomainError
from notify.messages import Email
from notify.senders import Sender, smtp_sender_from_environment

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
                self.sms.send_text(contact, text)
        except DomainError:
            raise
        except Exception:
            # Never the address or the code in the log.
            log.warning("a one-time code could not be sent", exc_info=True)
            raise CannotSend() from None


def code_sender_from_environment() -> ContactCodeSender:
    from notify.sms import sms_sender_from_environment

    return ContactCodeSender(smtp_sender_from_environment(), sms_sender_from_environment())
