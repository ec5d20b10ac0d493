"""Sending a one-time code: what the citizen is told when it cannot go out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from config.settings import Settings
from notify.codes import CannotSend, ContactCodeSender, NoTextMessages
from notify.sms import SmppSender, SmppSettings
from notify.sms import sms_sender as sender_of
from tests.smpp_server import SmppGateway


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
    ContactCodeSender(None, sms).send_code("0901234567", "123456", "tra cứu",  # type: ignore[arg-type]
                                           "look-up")
    assert sms.sent[0][0] == "0901234567" and "123456" in sms.sent[0][1]


def test_a_sender_that_fails_is_a_try_again_never_the_address_in_words() -> None:
    class Broken:
        def send(self, message: Any) -> None:
            raise OSError("connection refused by smtp.example.vn for dan@example.vn")

    with pytest.raises(CannotSend) as refused:
        ContactCodeSender(Broken(), None).send_code("dan@example.vn", "123456", "nộp hồ sơ",  # type: ignore[arg-type]
                                                    "submission")
    assert "dan@example.vn" not in refused.value.vi + refused.value.en


# ---- through an SMPP gateway (tests/smpp_server.py speaks the protocol) ----------------

@pytest.fixture
def gateway() -> Iterator[SmppGateway]:
    server = SmppGateway().start()
    yield server
    server.stop()


def sms_sender(url: str) -> ContactCodeSender:
    return ContactCodeSender(None, SmppSender(SmppSettings.from_url(url, "UBND-HCM")))


def test_a_code_for_a_phone_goes_out_as_a_text_message_over_smpp(gateway: SmppGateway) -> None:
    sms_sender(gateway.url).send_code("0901234567", "482913", "tra cứu hồ sơ",
                                      "look up a dossier")
    [message] = gateway.received
    assert (message.system_id, message.destination_addr, message.source_addr) == (
        "hoso", "84901234567", "UBND-HCM")
    assert message.data_coding == 0  # the default alphabet: one part of 160 characters
    assert message.text == ("Ma xac nhan hoso (tra cuu ho so): 482913. Hieu luc 10 phut; "
                            "khong chia se ma nay.")
    assert gateway.commands == ["bind_transmitter", "submit_sm", "unbind"]


def test_a_long_or_accented_text_is_split_and_sent_in_ucs2(gateway: SmppGateway) -> None:
    text = "Mã xác nhận: 482913. " * 6  # accented, longer than one UCS-2 part (70)
    SmppSender(SmppSettings.from_url(gateway.url, "hoso")).send_text("+84901234567", text)
    assert [m.data_coding for m in gateway.received] == [8, 8]
    assert gateway.received[0].destination_addr == "84901234567"


@pytest.mark.parametrize("refuse", ["bind", "submit"])
def test_a_gateway_that_refuses_is_a_clear_try_again(
        gateway: SmppGateway, refuse: str, caplog: pytest.LogCaptureFixture) -> None:
    gateway.refuse = refuse
    with pytest.raises(CannotSend) as refused:
        sms_sender(gateway.url).send_code("0901234567", "482913", "nộp hồ sơ", "submission")
    assert "thử lại sau ít phút" in refused.value.vi
    assert gateway.received == []
    assert "0901234567" not in caplog.text and "482913" not in caplog.text


def test_a_gateway_that_is_down_is_a_clear_try_again(gateway: SmppGateway) -> None:
    url = gateway.url
    gateway.stop()
    with pytest.raises(CannotSend):
        sms_sender(url).send_code("0901234567", "482913", "nộp hồ sơ", "submission")


def test_the_gateway_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOSO_SMPP_URL", raising=False)
    # No gateway: phones are asked for an email.
    assert sender_of(Settings.from_environment()) is None
    monkeypatch.setenv("HOSO_SMPP_URL", "smpp://hoso:pw@sms.example.vn")
    monkeypatch.setenv("HOSO_SMPP_SOURCE", "UBND-HCM")
    sender = sender_of(Settings.from_environment())
    assert sender is not None and (sender.settings.host, sender.settings.port,
                                   sender.settings.source) == ("sms.example.vn", 2775,
                                                               "UBND-HCM")
    for wrong in ("http://hoso:pw@sms.example.vn", "smpp://sms.example.vn",
                  "smpp://hoso:a-long-password@sms.example.vn"):
        with pytest.raises(ValueError, match="HOSO_SMPP_URL"):
            SmppSettings.from_url(wrong, "hoso")
