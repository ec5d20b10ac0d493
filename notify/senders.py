"""How a message to a citizen leaves hoso: a ``Sender`` for each channel.

Email over SMTP now; an SMS or Zalo sender is another class with the same ``send``. A sender
raises on failure: ``PermanentFailure`` when trying again cannot help (the server refused
the address), anything else to be retried later.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol
from urllib.parse import unquote, urlsplit

from config.settings import Settings
from notify.messages import Email

log = logging.getLogger(__name__)

SMTP_URL_ENV = "HOSO_SMTP_URL"
MAIL_FROM_ENV = "HOSO_MAIL_FROM"


class PermanentFailure(Exception):
    """Sending again would fail the same way: give the message up at once."""


class Sender(Protocol):
    def send(self, email: Email) -> None:
        """Hand the message over, or raise."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    implicit_tls: bool  # smtps://: TLS from the first byte; smtp://: STARTTLS when offered
    user: str
    password: str
    mail_from: str
    timeout: float = 20.0

    @classmethod
    def from_url(cls, url: str, mail_from: str) -> SmtpSettings:
        """``smtp://[user:password@]host[:port]`` or ``smtps://…``."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"{SMTP_URL_ENV} must look like smtp://host:port or "
                             "smtps://user:password@host:465")
        if "@" not in mail_from:
            raise ValueError(f"{MAIL_FROM_ENV} must be an address, e.g. hoso@example.gov.vn")
        implicit = parts.scheme == "smtps"
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        if not (user + password).isascii():
            # smtplib sends AUTH credentials as ASCII: a "mật khẩu" would fail every message.
            raise ValueError(f"{SMTP_URL_ENV}: the user name and password must be ASCII")
        return cls(host=parts.hostname, port=parts.port or (465 if implicit else 25),
                   implicit_tls=implicit, user=user, password=password, mail_from=mail_from)


class SmtpSender:
    """One SMTP session per message: notices are few (a handful a dossier), and a session
    kept open would have to survive the server's idle timeouts between them."""

    def __init__(self, settings: SmtpSettings, tls: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.domain = settings.mail_from.rpartition("@")[2]
        # The system's trusted authorities and host name checks, unless told otherwise (a
        # test server's own certificate).
        self.tls = tls or ssl.create_default_context()

    def message(self, email: Email) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = formatdate(usegmt=True)
        # Derived from the outbox row: a copy sent again after a crash has the same id, so a
        # mail client (or the citizen) can tell it is the same message.
        message["Message-ID"] = f"<{email.key}@{self.domain}>"
        message["Auto-Submitted"] = "auto-generated"  # no out-of-office replies, please
        message["Content-Language"] = "vi, en"
        message.set_content(email.text)  # UTF-8 plain text
        return message

    def send(self, email: Email) -> None:
        s = self.settings
        context = self.tls
        smtp: smtplib.SMTP = (
            smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
            if s.implicit_tls else smtplib.SMTP(s.host, s.port, timeout=s.timeout))
        with smtp:
            smtp.ehlo()
            if not s.implicit_tls and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.user:
                smtp.login(s.user, s.password)
            try:
                smtp.send_message(self.message(email), from_addr=s.mail_from,
                                  to_addrs=[email.to])
            except smtplib.SMTPRecipientsRefused as refused:
                codes = [code for code, _ in refused.recipients.values()]
                if all(500 <= code < 600 for code in codes):
                    raise PermanentFailure(f"the mail server refused the address ({codes})"
                                           ) from None
                raise


def smtp_sender(settings: Settings) -> SmtpSender | None:
    """The SMTP sender ``HOSO_SMTP_URL`` and ``HOSO_MAIL_FROM`` describe; None when no
    server is set (emails then wait in the outbox until one is). A malformed URL or sender
    raises ``ValueError`` naming the setting."""
    if not settings.smtp_url:
        return None
    return SmtpSender(SmtpSettings.from_url(settings.smtp_url, settings.mail_from))
