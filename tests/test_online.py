"""The citizen's online submission: one-time code, files, status 1; the counter accepts
(status 2, due date from acceptance) or refuses to receive with reasons (status 3)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.one_time_codes import MAX_ATTEMPTS
from domain.result_signature import ResultTrust
from domain.sample_signature import SampleAuthority
from domain.signing import MemoryKeyVault
from notify.codes import ContactCodeSender
from notify.sms import SmppSender, SmppSettings
from projections.document_store import FileDocumentStore
from projections.store import Store
from tests.conftest import PUBLIC_URL, FakeClock
from tests.document_samples import jpeg, pdf
from tests.helpers import PROCEDURE, SIGNING_PASSPHRASE, ensure_signing_key, hand_over
from tests.smpp_server import SmppGateway
from tests.web_helpers import PASSWORD, sign_in_as
from web.accounts import StaffAccounts


class RecordingCodeSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send_code(self, contact: str, code: str, purpose_vi: str, purpose_en: str) -> None:
        self.sent.append((contact, code))


@pytest.fixture
def app(store: Store, clock: FakeClock, tmp_path: Path) -> Any:
    application = HosoApplication(env=store.eventsourcing_env(), clock=clock,
                                  key_vault=MemoryKeyVault(),
                                  document_store=FileDocumentStore(tmp_path / "documents"))
    yield application
    application.close()


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("tiepnhan", **PUBLIC_URL)


@pytest.fixture
def codes(web: TestClient) -> RecordingCodeSender:
    sender = RecordingCodeSender()
    web.app.state.services.code_sender = sender  # type: ignore[attr-defined]
    return sender


CITIZEN = {"applicant_name": "Lê Văn Tám", "applicant_phone": "0912345678",
           "applicant_email": "tam@example.vn", "applicant_address": "12 Lý Tự Trọng, Q1",
           "result_delivery": "online"}


def ask_code(citizen: TestClient, contact: str = "tam@example.vn") -> dict[str, str]:
    page = citizen.post(f"/online/{PROCEDURE}/code", data={"contact": contact})
    assert page.status_code == 200, page.text
    hidden = dict(re.findall(r'name="(challenge_id|request_id|contact)" value="([^"]*)"',
                             page.text))
    assert set(hidden) == {"challenge_id", "request_id", "contact"}
    return hidden


def files(text: str = "") -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("scan_0", ("to-khai.pdf", pdf(text=f"to khai {text}"), "application/pdf")),
            ("scan_1", ("cccd.pdf", pdf(2, text=f"cccd {text}"), "application/pdf")),
            ("scan_2", ("anh.jpg", jpeg(), "image/jpeg"))]


def submit(citizen: TestClient, hidden: dict[str, str], code: str, *, text: str = "",
           **overrides: str) -> Any:
    return citizen.post(f"/online/{PROCEDURE}", data={**hidden, **CITIZEN, "code": code,
                                                      **overrides}, files=files(text))


def test_citizen_submits_online_and_the_counter_accepts(
        web: TestClient, codes: RecordingCodeSender, app: HosoApplication,
        clock: FakeClock) -> None:
    citizen = TestClient(web.app)
    assert "Cấp Phiếu lý lịch tư pháp" in citizen.get("/online").text
    hidden = ask_code(citizen)
    [(contact, code)] = codes.sent
    assert contact == "tam@example.vn" and re.fullmatch(r"\d{6}", code)
    done = submit(citizen, hidden, code)
    assert done.status_code == 200, done.text
    link = re.search(r'href="https://hoso\.example\.vn(/t/[A-Za-z0-9_-]{22})"', done.text)
    assert link and "000.00.01.H29-261123-0001" in done.text
    again = submit(citizen, hidden, code)  # the same form sent twice: the same dossier
    assert again.status_code == 200 and "000.00.01.H29-261123-0001" in again.text
    public = citizen.get(link.group(1)).text
    assert "Đã nộp trực tuyến, chờ tiếp nhận" in public and "Lê Văn Tám" not in public

    clock.advance(days=2)  # Wednesday: the due date counts from the counter's acceptance
    sign_in_as(web, "tiepnhan", PASSWORD)
    queue = web.get("/dossiers?stage=submitted_online").text
    assert "000.00.01.H29-261123-0001" in queue
    dossier_id = re.search(r'href="/dossiers/([0-9a-f-]{36})"', queue).group(1)
    page = web.get(f"/dossiers/{dossier_id}").text
    assert "Mã trạng thái 1" in page and "to-khai.pdf" in page and "anh.jpg" in page
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    accepted = web.post(f"/dossiers/{dossier_id}/accept_online", data={"version": version})
    assert accepted.status_code == 200, accepted.text
    assert "Mã trạng thái 2" in accepted.text
    assert "09/12/2026" in accepted.text  # 10 working days from Wednesday 25 Nov
    assert "Bộ phận một cửa đã tiếp nhận hồ sơ" in citizen.get(link.group(1)).text


def test_a_submission_refused_to_receive_shows_its_reasons(
        web: TestClient, codes: RecordingCodeSender) -> None:
    citizen = TestClient(web.app)
    hidden = ask_code(citizen)
    done = submit(citizen, hidden, codes.sent[-1][1])
    link = re.search(r'href="https://hoso\.example\.vn(/t/[A-Za-z0-9_-]{22})"', done.text)
    sign_in_as(web, "tiepnhan", PASSWORD)
    queue = web.get("/dossiers?stage=submitted_online").text
    dossier_id = re.search(r'href="/dossiers/([0-9a-f-]{36})"', queue).group(1)
    version = re.search(r'name="version" value="(\d+)"',
                        web.get(f"/dossiers/{dossier_id}").text).group(1)
    refused = web.post(f"/dossiers/{dossier_id}/refuse_to_receive", data={
        "version": version, "reasons": "Ảnh CCCD bị mờ, không đọc được số."})
    assert refused.status_code == 200, refused.text
    assert "Mã trạng thái 3" in refused.text
    public = citizen.get(link.group(1)).text
    assert "Hồ sơ trực tuyến không được tiếp nhận" in public
    assert "Ảnh CCCD bị mờ" in public


def test_codes_are_spent_once_and_guesses_are_limited(
        web: TestClient, codes: RecordingCodeSender, app: HosoApplication) -> None:
    citizen = TestClient(web.app)
    hidden = ask_code(citizen)
    code = codes.sent[-1][1]
    before = app.recorder.max_notification_id() or 0
    missing = citizen.post(f"/online/{PROCEDURE}", data={**hidden, **CITIZEN, "code": code},
                           files=files()[:1])
    assert missing.status_code == 422 and "Hãy tải lên" in missing.text
    assert (app.recorder.max_notification_id() or 0) == before  # nothing kept, the code not spent
    assert submit(citizen, hidden, code).status_code == 200
    reused = submit(citizen, {**hidden, "request_id": "another-request-0001"}, code,
                    text="x")
    assert reused.status_code == 422 and "đã được dùng" in reused.text

    hidden = ask_code(citizen)
    right = codes.sent[-1][1]
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(MAX_ATTEMPTS):
        assert submit(citizen, hidden, wrong, text="y").status_code == 422
    assert submit(citizen, hidden, right, text="y").status_code == 422  # locked out
    assert app.recorder.max_notification_id() > before


def test_code_sending_is_limited_per_address(web: TestClient,
                                             codes: RecordingCodeSender) -> None:
    citizen = TestClient(web.app)
    for _ in range(5):
        ask_code(citizen, "0912345678")
    refused = citizen.post(f"/online/{PROCEDURE}/code", data={"contact": "0912345678"})
    assert refused.status_code == 422 and "quá nhiều mã" in refused.text


def test_lookup_by_code_and_contact_opens_the_public_page(
        web: TestClient, codes: RecordingCodeSender) -> None:
    citizen = TestClient(web.app)
    hidden = ask_code(citizen)
    done = submit(citizen, hidden, codes.sent[-1][1])
    link = re.search(r'href="https://hoso\.example\.vn(/t/[A-Za-z0-9_-]{22})"', done.text)
    sent_before = len(codes.sent)

    other = TestClient(web.app)  # another browser, without the link
    asked = other.post("/lookup", data={"dossier_code": "000.00.01.h29-261123-0001",
                                        "contact": "0912 345 678"})
    assert asked.status_code == 200
    assert len(codes.sent) == sent_before + 1 and codes.sent[-1][0] == "0912345678"
    challenge = re.search(r'name="challenge_id" value="([^"]+)"', asked.text).group(1)
    opened = other.post("/lookup/confirm", data={
        "challenge_id": challenge, "dossier_code": "000.00.01.H29-261123-0001",
        "contact": "0912345678", "code": codes.sent[-1][1]}, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == link.group(1)
    reused = other.post("/lookup/confirm", data={
        "challenge_id": challenge, "dossier_code": "000.00.01.H29-261123-0001",
        "contact": "0912345678", "code": codes.sent[-1][1]}, follow_redirects=False)
    assert reused.status_code == 422

    # Unknown code or another phone: the same answer, and nothing is sent.
    for code, contact in (("000.00.01.H29-261123-0099", "0912345678"),
                          ("000.00.01.H29-261123-0001", "0987654321")):
        answer = other.post("/lookup", data={"dossier_code": code, "contact": contact})
        assert answer.status_code == 200
        assert "Nếu mã hồ sơ và email hoặc số điện thoại khớp" in answer.text
    assert len(codes.sent) == sent_before + 1


def test_a_code_by_text_message_through_the_smpp_gateway(web: TestClient) -> None:
    gateway = SmppGateway(refuse="submit").start()
    try:
        web.app.state.services.code_sender = ContactCodeSender(  # type: ignore[attr-defined]
            None, SmppSender(SmppSettings.from_url(gateway.url, "hoso")))
        citizen = TestClient(web.app)
        # The gateway refuses: the citizen is told to try again, what they typed is kept.
        down = citizen.post(f"/online/{PROCEDURE}/code", data={"contact": "0912345678"})
        assert down.status_code == 422 and "Chưa gửi được mã xác nhận" in down.text
        assert 'value="0912345678"' in down.text and 'name="challenge_id"' not in down.text
        gateway.refuse = None
        hidden = ask_code(citizen, "0912345678")
        [sms] = gateway.received
        assert sms.destination_addr == "84912345678"
        code = re.search(r"\): (\d{6})\.", sms.text).group(1)
        done = submit(citizen, hidden, code, applicant_email="", result_delivery="counter")
        assert done.status_code == 200, done.text
        assert "000.00.01.H29-261123-0001" in done.text
    finally:
        gateway.stop()


def test_the_electronic_result_is_downloaded_after_a_one_time_code(
        web: TestClient, codes: RecordingCodeSender, app: HosoApplication,
        accounts: StaffAccounts) -> None:
    citizen = TestClient(web.app)
    done = submit(citizen, ask_code(citizen), "")  # no code: refused
    assert done.status_code == 422
    done = submit(citizen, ask_code(citizen), codes.sent[-1][1])
    status_link = re.search(r'href="https://hoso\.example\.vn(/t/[A-Za-z0-9_-]{22})"',
                            done.text).group(1)
    sign_in_as(web, "tiepnhan", PASSWORD)
    queue = web.get("/dossiers?stage=submitted_online").text
    dossier_id = UUID(re.search(r'href="/dossiers/([0-9a-f-]{36})"', queue).group(1))
    app.accept_online(dossier_id, expected_version=None, actor_id="tiepnhan")
    hand_over(app, dossier_id, "tiepnhan", "STP-HCTP", "hctp")
    hand_over(app, dossier_id, "hctp", "STP-BGD", "gd.stp")

    # The signing officer attaches the result PDF with the signature, through the form.
    ensure_signing_key(app, "gd.stp")
    accounts.set_password("gd.stp", PASSWORD)
    sign_in_as(web, "gd.stp", PASSWORD)
    page = web.get(f"/dossiers/{dossier_id}").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    authority = SampleAuthority("Test CA")
    app.result_trust = ResultTrust((authority.root,))
    result_pdf = authority.officer("Trần Thị Ký").sign(pdf(text="Phieu ly lich tu phap so 15"))
    signed = web.post(f"/dossiers/{dossier_id}/sign", data={
        "version": version, "decision_number": "15/PLLTP", "decision_title": "Phiếu LLTP",
        "passphrase": SIGNING_PASSPHRASE},
        files={"result": ("phieu-lltp.pdf", result_pdf, "application/pdf")})
    assert signed.status_code == 200, signed.text
    assert "Kết quả giải quyết thủ tục hành chính (bản điện tử)" in signed.text
    hand_over(app, dossier_id, "gd.stp", "TTHCC", "tiepnhan")
    app.dispatch(dossier_id, expected_version=None, actor_id="tiepnhan", method="online")
    # The served app follows the log itself: wait for it rather than apply beside it (two
    # appliers of one event collide on PostgreSQL).
    models = web.app.state.services.read_models  # type: ignore[attr-defined]
    assert models.wait(app.recorder.max_notification_id() or 0)

    # The status page (the QR) says how to get it, and does not hand it out.
    status = citizen.get(status_link).text
    assert "Kết quả điện tử" in status and "/lookup/result" not in status

    asked = citizen.post("/lookup", data={"dossier_code": "000.00.01.H29-261123-0001",
                                          "contact": "tam@example.vn"})
    challenge = re.search(r'name="challenge_id" value="([^"]+)"', asked.text).group(1)
    ready = citizen.post("/lookup/confirm", data={
        "challenge_id": challenge, "dossier_code": "000.00.01.H29-261123-0001",
        "contact": "tam@example.vn", "code": codes.sent[-1][1]}, follow_redirects=False)
    assert ready.status_code == 200 and "Tải kết quả (PDF)" in ready.text
    grant = dict(re.findall(r'name="(dossier_id|challenge_id|grant)" value="([^"]+)"',
                            ready.text))
    downloaded = citizen.post("/lookup/result", data=grant)
    assert downloaded.status_code == 200 and downloaded.content == result_pdf
    assert "phieu-lltp.pdf" in downloaded.headers["content-disposition"]
    again = citizen.post("/lookup/result", data=grant)  # the grant is spent
    assert again.status_code == 422 and not again.content.startswith(b"%PDF")
    forged = citizen.post("/lookup/result", data={**grant, "grant": "000000"})
    assert forged.status_code == 422

    kinds = [type(e).__name__ for e in app.repository.event_store.get(dossier_id)]
    assert kinds[-2:] == ["ResultDownloaded", "Delivered"]  # the first download delivers it
    assert app.dossier(dossier_id).delivered_at is not None
