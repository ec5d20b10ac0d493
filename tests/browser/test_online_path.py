"""The online path, end to end in a real browser, on each store.

A citizen submits online with two PDFs and a photo, confirms the one-time code sent to her
phone (through a local SMPP gateway), and gets the tracking link at once. The counter
receives it from its own list; the specialist and the signing officer work it; the officer
attaches the result PDF signed by the test CA (PAdES, checked against the served app's
trust root); the counter sends it online. The citizen looks the dossier up by its code and
her phone, types the code texted to her, and downloads the very PDF. A second citizen's
submission is refused to receive with reasons, which her page shows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from domain.application import HosoApplication
from domain.sample_signature import SampleAuthority
from projections.key_vault import open_key_vault
from projections.store import Store
from tests.browser.support import PASSWORD, STAFF, save_screenshot
from tests.conftest import _free_port
from tests.document_samples import jpeg, pdf
from tests.helpers import SIGNING_PASSPHRASE, ensure_signing_key, url_of, wait_for
from tests.reliability.test_crash_mid_write import Server
from tests.smpp_server import SmppGateway
from web.accounts import open_accounts

DOSSIER_PAGE = re.compile(r"/dossiers/[0-9a-f-]{36}$")
CODE = re.compile(r"\): (\d{6})\.")  # "Ma xac nhan hoso (<purpose>): 123456."


class Served:
    def __init__(self, base: str, gateway: SmppGateway, result_pdf: bytes,
                 files: Path) -> None:
        self.base, self.gateway, self.result_pdf, self.files = base, gateway, result_pdf, files

    def code_sent_to(self, phone: str, after: int) -> str:
        """The one-time code in the newest text message to ``phone`` after the first
        ``after`` messages."""
        assert wait_for(lambda: any(m.destination_addr.endswith(phone[1:])
                                    for m in self.gateway.received[after:]), timeout=20)
        message = [m for m in self.gateway.received[after:]
                   if m.destination_addr.endswith(phone[1:])][-1]
        found = CODE.search(message.text)
        assert found, message.text
        return found.group(1)


@pytest.fixture
def served(store: Store, tmp_path: Path) -> Iterator[Served]:
    """``hoso serve`` on the test store, texting codes through a local SMPP gateway and
    trusting the test CA for electronic results."""
    authority = SampleAuthority("hoso test CA")
    roots = tmp_path / "trust-roots.pem"
    roots.write_bytes(authority.root_pem)
    # pyHanko signs through asyncio.run: not on this thread, where Playwright's loop runs.
    with ThreadPoolExecutor(1) as signer:
        result_pdf = signer.submit(authority.officer("Trần Thị Ký").sign,
                                   pdf(text="Phieu ly lich tu phap so 31")).result()
    files = tmp_path / "files"
    files.mkdir()
    (files / "to-khai.pdf").write_bytes(pdf(text="to khai Ngo Thi Lan"))
    (files / "cccd.pdf").write_bytes(pdf(2, text="cccd Ngo Thi Lan"))
    (files / "anh-chan-dung.jpg").write_bytes(jpeg())
    (files / "phieu-lltp.pdf").write_bytes(result_pdf)

    vault = open_key_vault(store)
    app = HosoApplication(env=store.eventsourcing_env(), key_vault=vault)
    accounts = open_accounts(store)
    try:
        for user in STAFF:
            accounts.set_password(user, PASSWORD)
        ensure_signing_key(app)
    finally:
        accounts.close()
        app.close()
        vault.close()
    gateway = SmppGateway()
    gateway.start()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSO_")}
    env |= {"HOSO_DATABASE_URL": url_of(store), "PYTHONUNBUFFERED": "1",
            "HOSO_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "HOSO_PUBLIC_RATE_LIMIT": "0",
            "HOSO_SMPP_URL": gateway.url, "HOSO_RESULT_TRUST_ROOTS": str(roots),
            "HOSO_DOCUMENTS_DIR": str(tmp_path / "documents")}
    server = Server(env, port, tmp_path / "serve.log")
    server.start()
    try:
        yield Served(server.base, gateway, result_pdf, files)
    finally:
        server.stop()
        gateway.stop()


@pytest.fixture
def sign_in(served: Served,
            new_context: Callable[..., BrowserContext]) -> Callable[[str], Page]:
    def signed_in(user: str) -> Page:
        page = new_context().new_page()
        page.goto(f"{served.base}/signin")
        page.get_by_label("Tên đăng nhập").fill(user)
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(lambda url: "/signin" not in url)
        return page

    return signed_in


def submit_online(citizen: Page, served: Served, *, name: str, phone: str, email: str,
                  screenshot: str | None = None) -> tuple[str, str]:
    """The citizen's whole submission; the dossier code and the tracking link."""
    citizen.goto(f"{served.base}/online")
    citizen.get_by_role("link", name="Cấp Phiếu lý lịch tư pháp").first.click()
    citizen.get_by_label("Email hoặc số điện thoại để nhận mã xác nhận").fill(phone)
    sent_before = len(served.gateway.received)
    citizen.get_by_role("button", name="Gửi mã xác nhận").click()
    code = served.code_sent_to(phone, sent_before)
    citizen.get_by_label("Họ và tên").fill(name)
    citizen.get_by_label("Số điện thoại").fill(phone)
    citizen.get_by_label("Email", exact=True).fill(email)
    citizen.get_by_label("Địa chỉ", exact=True).fill("18 Nguyễn Huệ, phường Sài Gòn, TP.HCM")
    scans = citizen.locator("input[type=file]")
    scans.nth(0).set_input_files(served.files / "to-khai.pdf")
    scans.nth(1).set_input_files(served.files / "cccd.pdf")
    scans.nth(2).set_input_files(served.files / "anh-chan-dung.jpg")
    citizen.get_by_label("Trực tuyến (tải về sau khi xác nhận mã; cần email)").check()
    citizen.get_by_label(re.compile("^Mã xác nhận đã gửi đến")).fill(code)
    if screenshot:
        save_screenshot(citizen, screenshot, docs=True)
    citizen.get_by_role("button", name="Nộp hồ sơ").click()
    expect(citizen.get_by_role("heading", level=1)).to_have_text("Đã nộp hồ sơ trực tuyến")
    dossier_code = citizen.locator("strong.code").inner_text()
    link = citizen.locator("a.tracking-link").get_attribute("href")
    assert link and link.startswith(f"{served.base}/t/")
    return dossier_code, link


def open_from_online_list(clerk: Page, code: str) -> None:
    clerk.get_by_role("link", name="Hồ sơ trực tuyến").click()
    clerk.get_by_role("link", name=code).click()
    clerk.wait_for_url(DOSSIER_PAGE)


def act(clerk: Page, action: str, fill: Callable[[Locator], object], recorded: str, *,
        newest: int = 0) -> None:
    """Open the action on the dossier page, fill its form, send it; wait for the history."""
    heading = re.compile(f"^{re.escape(action)}$")
    form = clerk.locator("#dossier-panel details").filter(
        has=clerk.locator("summary", has_text=heading)).locator("form")
    if not form.is_visible():
        clerk.locator("#dossier-panel summary", has_text=heading).click()
    fill(form)
    form.get_by_role("button", name=action, exact=True).click()
    expect(clerk.locator("#dossier-panel ol.history li").nth(newest)).to_contain_text(recorded)


def transfer_to(unit: str) -> Callable[[Locator], object]:
    return lambda form: form.get_by_label("Chuyển đến đơn vị").select_option(unit)


def accept_from_incoming(clerk: Page, code: str) -> None:
    clerk.get_by_role("link", name="Hồ sơ đến").click()
    clerk.locator("tr", has_text=code).get_by_role("button", name="Nhận hồ sơ").click()
    clerk.wait_for_url(DOSSIER_PAGE)
    expect(clerk.locator("ol.history li").first).to_contain_text("Nhận hồ sơ chuyển đến")


def nothing(_: Locator) -> None:
    pass


def test_a_citizen_submits_online_and_downloads_the_signed_result(
        served: Served, sign_in: Callable[[str], Page],
        new_context: Callable[..., BrowserContext]) -> None:
    citizen = new_context().new_page()
    phone = "0903111222"
    code, link = submit_online(citizen, served, name="Ngô Thị Lan", phone=phone,
                               email="lan.ngo@example.vn", screenshot="online-form.png")
    citizen.goto(link)
    expect(citizen.get_by_role("heading", level=1)).to_have_text(
        "Đã nộp trực tuyến, chờ tiếp nhận")
    expect(citizen.locator("main")).not_to_contain_text("Ngô Thị Lan")

    counter = sign_in("tiepnhan")
    open_from_online_list(counter, code)
    panel = counter.locator("#dossier-panel")
    expect(panel).to_contain_text("Mã trạng thái 1")
    for name in ("to-khai.pdf", "cccd.pdf", "anh-chan-dung.jpg"):
        expect(panel.locator("ul.attachments")).to_contain_text(name)
    act(counter, "Tiếp nhận hồ sơ trực tuyến", nothing, "Tiếp nhận hồ sơ trực tuyến")
    expect(panel).to_contain_text("Mã trạng thái 2")
    act(counter, "Chuyển hồ sơ", transfer_to("STP-HCTP"), "Chuyển hồ sơ")

    specialist = sign_in("hctp")
    accept_from_incoming(specialist, code)
    act(specialist, "Chuyển hồ sơ", transfer_to("STP-BGD"), "Chuyển hồ sơ")

    officer = sign_in("gd.stp")
    accept_from_incoming(officer, code)

    def sign(form: Locator) -> None:
        form.get_by_label("Số quyết định").fill("31/PLLTP")
        form.get_by_label("Trích yếu").fill("Cấp Phiếu lý lịch tư pháp số 31")
        form.get_by_label(re.compile("^Kết quả điện tử")).set_input_files(
            served.files / "phieu-lltp.pdf")
        form.get_by_label("Mật khẩu khóa ký").fill(SIGNING_PASSPHRASE)

    act(officer, "Ký duyệt", sign, "Ký duyệt kết quả", newest=1)  # then the file's step
    expect(officer.locator("#dossier-panel ul.attachments")).to_contain_text("phieu-lltp.pdf")
    act(officer, "Chuyển hồ sơ", transfer_to("TTHCC"), "Chuyển hồ sơ")

    accept_from_incoming(counter, code)
    act(counter, "Trả kết quả", lambda form: form.get_by_role(
        "radio", name="Trực tuyến (công dân tải về sau khi nhập mã xác nhận)").check(),
        "Trả kết quả / gửi đi")

    # The QR's page says how to get the result but never hands it out.
    citizen.goto(link)
    expect(citizen.locator("main")).to_contain_text("Kết quả điện tử")
    expect(citizen.locator("form[action='/lookup/result']")).to_have_count(0)

    citizen.goto(f"{served.base}/lookup")
    citizen.get_by_label("Mã hồ sơ").fill(code)
    citizen.get_by_label("Email hoặc số điện thoại").fill(phone)
    sent_before = len(served.gateway.received)
    citizen.get_by_role("button", name="Gửi mã xác nhận").click()
    citizen.get_by_label("Mã xác nhận").fill(served.code_sent_to(phone, sent_before))
    citizen.get_by_role("button", name="Xem hồ sơ").click()
    expect(citizen.get_by_role("heading", level=1)).to_have_text(
        f"Kết quả điện tử của hồ sơ {code}")
    save_screenshot(citizen, "online-result.png", docs=True)
    with citizen.expect_download() as downloading:
        citizen.get_by_role("button", name="Tải kết quả (PDF)").click()
    download = downloading.value
    assert download.suggested_filename == "phieu-lltp.pdf"
    assert Path(download.path()).read_bytes() == served.result_pdf

    # The first download is the delivery: the citizen's page says so (once the read models
    # have applied it: a download is a file, no page waits for them).
    citizen.goto(link)
    assert wait_for(lambda: citizen.reload() is not None and citizen.get_by_role(
        "heading", level=1).inner_text().strip() == "Đã trả kết quả", timeout=20)
    expect(citizen.locator("ol.timeline")).to_contain_text("Đã tải kết quả điện tử")


def test_an_online_submission_is_refused_to_receive_with_reasons(
        served: Served, sign_in: Callable[[str], Page],
        new_context: Callable[..., BrowserContext]) -> None:
    citizen = new_context().new_page()
    code, link = submit_online(citizen, served, name="Phạm Văn Hùng", phone="0903444555",
                               email="hung.pham@example.vn")
    counter = sign_in("tiepnhan")
    open_from_online_list(counter, code)
    act(counter, "Từ chối tiếp nhận", lambda form: form.get_by_label(
        re.compile("^Lý do từ chối tiếp nhận")).fill("Ảnh chân dung không rõ mặt; chụp lại."),
        "Từ chối tiếp nhận hồ sơ trực tuyến")
    expect(counter.locator("#dossier-panel")).to_contain_text("Mã trạng thái 3")
    # Form 03 is linked from its step.
    counter.get_by_role("link", name="In phiếu từ chối tiếp nhận (mẫu 03)").click()
    expect(counter.get_by_role("heading", level=1)).to_have_text(
        "PHIẾU TỪ CHỐI TIẾP NHẬN HỒ SƠ")
    expect(counter.locator("article")).to_contain_text("Ảnh chân dung không rõ mặt")
    citizen.goto(link)
    expect(citizen.locator("main")).to_contain_text("Hồ sơ trực tuyến không được tiếp nhận.")
    expect(citizen.locator("main")).to_contain_text("Ảnh chân dung không rõ mặt")
    assert httpx2.get(link, timeout=5).status_code == 200
