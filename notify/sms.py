"""SMS through an SMPP gateway (slice to come); None until ``HOSO_SMPP_URL`` is set."""

from __future__ import annotations

from notify.codes import TextSender


def sms_sender_from_environment() -> TextSender | None:
    return None
