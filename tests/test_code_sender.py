"""Sending a one-time code: what the citizen is told when it cannot go out."""

from __future__ import annotations

from typing import Any

import pytest

from notify.codes import CannotSend, ContactCodeSender, NoTextMessages


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> None:
        self.sent.append(message)

    def send_text(self, phone: str, text: str) -> None:
        self.sent.append((phone, text))


def test_an_email_address_gets_its_code_by_email() -> None:
    email = Recorder()
    ContactCodeSender(email, None).send_code("dan@example.vn", "123456", "nộp hồ sơ",
                                             "submission")  # type: ignore[arg-type]
    assert email.sent and email.sent[0].to == "dan@example.vn"
    assert "123456" in email.sent[0].text


def test_a_phone_number_without_an_sms_gateway_is_asked_for_an_email_instead() -> None:
    email = Recorder()
    with pytest.raises(NoTextMessages) as refused:
        ContactCodeSender(email, None).send_code("0901234567", "123456", "nộp hồ sơ",  # type: ignore[arg-type]
                                                 "submission")
    assert "email" in refused.value.vi and "email address" in refused.value.en
    assert email.sent == []


def test_a_phone_number_goes_by_text_when_a_gateway_is_there() -> None:
    sms = Recorder()
    ContactCodeSender(None, sms).send_code("0901234567", "123456", "tra cứu", "look-up")
    assert sms.sent[0][0] == "0901234567" and "123456" in sms.sent[0][1]


def test_a_sender_that_fails_is_a_try_again_never_the_address_in_words() -> None:
    class Broken:
        def send(self, message: Any) -> None:
            raise OSError("connection refused by smtp.example.vn for dan@example.vn")

    with pytest.raises(CannotSend) as refused:
        ContactCodeSender(Broken(), None).send_code("dan@example.vn", "123456", "nộp hồ sơ",  # type: ignore[arg-type]
                                                    "submission")
    assert "dan@example.vn" not in refused.value.vi + refused.value.en
