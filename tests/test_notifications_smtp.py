"""Citizens' emails through a real SMTP server on this machine (aiosmtpd): what arrives, to
whom, once; and what happens while the server is down."""

from __future__ import annotations

import email
import email.policy
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from ipaddress import ip_address
from pathlib import Path
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
    encrypted: bool = False
    login: str | None = None

    @property
    def text(self) -> str:
        return str(self.message.get_content())


class Mailbox:
    def __init__(self) -> None:
        self.received: list[Received] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        login = getattr(session.auth_data, "login", None)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message,
                                      encrypted=session.ssl is not None,
                                      login=login.decode() if login else None))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int, **options: Any) -> None:
        self.port = port
        self.mailbox = Mailbox()
        self.options = options
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port,
                                      **self.options)
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
        # Vietnamese first, English second, and no "-- " line (a signature to mail clients,
        # which would fold the English part away).
        assert mail.text.index("Kính gửi ông/bà") < mail.text.index("Dear applicant")
        assert "-- " not in mail.text.splitlines()
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


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, as a mail server inside a ministry's network might have."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert, private = directory / "mail.pem", directory / "mail.key"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, private


def test_starttls_is_used_when_offered_and_the_login_goes_over_it(
        app: HosoApplication, models: ReadModels, tmp_path: Path) -> None:
    from aiosmtpd.smtp import AuthResult

    cert, key = _self_signed(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        ok = (auth_data.login, auth_data.password) == (b"hoso", b"mat-khau-smtp")
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    # The server refuses mail before STARTTLS, and a login before TLS.
    server = SmtpServer(_free_port(), tls_context=server_tls, require_starttls=True,
                        authenticator=authenticate, auth_require_tls=True)
    server.start()
    try:
        outcome = receive_with_email(app)
        app.request_supplement(outcome.dossier_id, expected_version=None,
                               actor_id="tiepnhan", missing_items=["A"], reason="r")
        models.catch_up()
        settings = SmtpSettings.from_url(
            f"smtp://hoso:mat-khau-smtp@127.0.0.1:{server.port}", MAIL_FROM)
        trusting = ssl.create_default_context(cafile=str(cert))
        assert deliverer(models, app, SmtpSender(settings, tls=trusting)).run_once(
            ).delivered == 1
        [mail] = server.mailbox.received
        assert (mail.encrypted, mail.login, mail.recipients) == (True, "hoso", [EMAIL])
    finally:
        server.stop()


def test_a_certificate_that_is_not_trusted_is_not_sent_to(app: HosoApplication,
                                                          models: ReadModels,
                                                          tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    server = SmtpServer(_free_port(), tls_context=server_tls, require_starttls=True)
    server.start()
    try:
        outcome = receive_with_email(app)
        app.request_supplement(outcome.dossier_id, expected_version=None,
                               actor_id="tiepnhan", missing_items=["A"], reason="r")
        models.catch_up()
        # The system's authorities only: the self-signed server is refused, and retried.
        assert deliverer(models, app, sender(server.port)).run_once().retried == 1
        [message] = models.outbox.messages(outcome.dossier_id)
        assert "CERTIFICATE_VERIFY_FAILED" in (message.last_error or "")
        assert server.mailbox.received == []
    finally:
        server.stop()


def test_mail_settings_are_checked_at_start() -> None:
    settings = SmtpSettings.from_url("smtps://u%40x:p%3Aw@mail.example.vn", MAIL_FROM)
    assert (settings.host, settings.port, settings.implicit_tls, settings.user,
            settings.password) == ("mail.example.vn", 465, True, "u@x", "p:w")
    assert SmtpSettings.from_url("smtp://mail.example.vn", MAIL_FROM).port == 25
    for url, mail_from in (("http://mail.example.vn", MAIL_FROM), ("smtp://", MAIL_FROM),
                           ("smtp://mail.example.vn", "no-address"),
                           # smtplib would send these credentials as ASCII, and fail.
                           ("smtp://hoso:m%E1%BA%ADt@mail.example.vn", MAIL_FROM)):
        with pytest.raises(ValueError):
            SmtpSettings.from_url(url, mail_from)
