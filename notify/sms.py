"""SMS for one-time codes: no gateway is wired in yet (issue 16 asks for SMPP).

Until one is, there is no SMS sender: a citizen who gives a phone number for a one-time code
is asked, in words, for an email address instead (``notify/codes.py``), rather than told to
try again later.
"""

from __future__ import annotations

from notify.codes import TextSender


def sms_sender_from_environment() -> TextSender | None:
    return None
