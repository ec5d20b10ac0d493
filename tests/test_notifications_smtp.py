"""Citizens' emails through a real SMTP server on this machine (aiosmtpd): what arrives, to
whom, once; and what happens while the server is down."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from domain.application import HosoApplication
from notify.senders import SmtpSender, SmtpSettings
from projections.outbox import Channel, Status
from projections.runners import ReadModels
from projections.store import Store
from tests.conftest import FakeClock, _free_port
from tests.helpers import APPLICANT, walk_to_delivered_by_post
from tests.notify_helpers import (
    EMAIL,
    PUBLIC_URL,
    deliverer,
    receive_with_email,
    walk_with_every_notice,
)

MAIL_FROM = "thongbao@hcm.gov.vn"


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        return str(self.message.get_content())


class Mailbox:
    def __init__(self) -> None:
        self.received: list[Received] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.mailbox = Mailbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(_free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def models(store: Store, app: HosoApplication) -> Iterator[ReadModels]:
    read_models = ReadModels(store, app)
    yield read_models
    read_models.close()


def sender(port: int) -> SmtpSender:
    return SmtpSender(SmtpSettings.from_url(f"smtp://127.0.0.1:{port}", MAIL_FROM))


def test_the_citizen_is_told_each_step_once(app: HosoApplication, models: ReadModels,
                                            smtp: SmtpServer) -> None:
    at_counter = receive_with_email(app).dossier_id
    walk_with_every_notice(app, at_counter)
    by_post = receive_with_email(app, "khach.hang@example.com").dossier_id
    walk_to_delivered_by_post(app, by_post)
    models.catch_up()
    done = deliverer(models, app, sender(smtp.port)).run_once()
    assert (done.delivered, done.retried, done.failed) == (6, 0, 0)
    # Nothing is due any more: a second round sends nothing.
    assert deliverer(models, app, sender(smtp.port)).run_once().attempted == 0
    mails = smtp.mailbox.received
    assert [(m.mail_from, m.recipients) for m in mails] == (
        [(MAIL_FROM, [EMAIL])] * 4 + [(MAIL_FROM, ["khach.hang@example.com"])] * 2)
    code = app.dossier(at_counter).code
    subjects = [str(m.message["Subject"]) for m in mails]
    for subject, words in zip(subjects, [
            "cần bổ sung giấy tờ", "thư xin lỗi và hẹn lại", "kết quả đã sẵn sàng",
            "kết quả đã được trao", "đã gửi qua bưu điện", "kết quả đã được trao"], strict=True):
        assert words in subject
    assert all(s.startswith(f"Hồ sơ {code}:") for s in subjects[:4])
    link = f"{PUBLIC_URL}/t/{app.dossier(at_counter).tracking_token}"
    assert all(link in m.text for m in mails[:4])
    assert f"{PUBLIC_URL}/t/{app.dossier(by_post).tracking_token}" in mails[4].text
    # What the citizen needs to know, in Vietnamese first, then English.
    supplement, apology, ready, handed = (m.text for m in mails[:4])
    assert "Bản sao giấy khai sinh" in supplement and "Thiếu giấy khai sinh" in supplement
    assert "Chúng tôi thành thật xin lỗi ông/bà." in apology
    assert "tại Trung tâm Phục vụ hành chính công TP.HCM" in ready
    assert "at HCMC Public Administrative Service Centre" in ready
    assert ready.index("Kết quả giải quyết hồ sơ") < ready.index("The result of your")
    assert "EB123456789VN" in mails[4].text
    assert "If neither you nor someone you sent received it" in handed
    for mail in mails:
        text = mail.text + str(mail.message)
        for private in APPLICANT.values():  # name, phone, address, identity number
            assert private not in text
    # Each message's id is its outbox row's: a copy sent again would be recognisable.
    rows = [m for m in models.outbox.messages() if m.channel is Channel.EMAIL]
    assert [str(m.message["Message-ID"]) for m in mails] == [
        f"<{r.id}@hcm.gov.vn>" for r in sorted(rows, key=lambda r: r.position)]
    assert {r.status for r in rows} == {Status.DELIVERED}


def test_a_server_that_is_down_is_tried_again_later(app: HosoApplication, models: ReadModels,
                                                    clock: FakeClock) -> None:
    outcome = receive_with_email(app)
    app.request_supplement(outcome.dossier_id, expected_version=None, actor_id="tiepnhan",
                           missing_items=["A"], reason="r")
    models.catch_up()
    server = SmtpServer(_free_port())  # not started: nothing listens there yet
    send = deliverer(models, app, sender(server.port))
    assert send.run_once().retried == 1
    [message] = models.outbox.messages(outcome.dossier_id)
    assert message.status is Status.PENDING and message.attempts == 1
    assert "Connection" in (message.last_error or "")
    server.start()
    try:
        assert send.run_once().attempted == 0  # backing off
        assert server.mailbox.received == []
        clock.advance(minutes=2)
        assert send.run_once().delivered == 1
        [mail] = server.mailbox.received
        assert mail.recipients == [EMAIL] and "cần bổ sung" in str(mail.message["Subject"])
        [message] = models.outbox.messages(outcome.dossier_id)
        assert (message.status, message.attempts) == (Status.DELIVERED, 2)
        assert message.delivered_at == clock()
    finally:
        server.stop()
