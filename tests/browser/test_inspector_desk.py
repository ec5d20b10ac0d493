"""The inspector's desk in a real browser (issue 24): from the summary to a flag's files, a
case opened on one of them, a note written, the case closed with an outcome, and its report
printed on A4."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import httpx2
import pytest
from playwright.sync_api import Browser, Page, expect

from domain.application import HosoApplication
from projections.migrate import migrate
from projections.store import Store
from tests.browser.conftest import TIMEOUT_MS, _wait_for
from tests.browser.support import DESKTOP, PASSWORD, save_screenshot
from tests.browser.test_counter_to_citizen import printed_pages
from tests.conftest import _free_port
from tests.helpers import receive, url_of
from tests.reliability.test_crash_mid_write import Server
from web.accounts import open_accounts

# An A4 sheet in PostScript points (210 × 297 mm), as the PDF's MediaBox gives it.
A4_POINTS = (595.3, 841.9)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A served hoso with one file sent off the route (a red flag); the base address and the
    file's code."""
    tmp = tmp_path_factory.mktemp("browser-desk")
    store = Store.from_url(f"sqlite:///{tmp / 'hoso.sqlite3'}")
    migrate(store)
    app = HosoApplication(env=store.eventsourcing_env())
    accounts = open_accounts(store)
    try:
        accounts.set_password("thanhtra", PASSWORD)
        dossier_id = receive(app).dossier_id
        app.transfer(dossier_id, expected_version=None, actor_id="tiepnhan",
                     to_unit="STC-DKKD", note="Xin ý kiến phối hợp")
        code = app.dossier(dossier_id).code
    finally:
        accounts.close()
        app.close()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSO_")}
    env |= {"HOSO_DATABASE_URL": url_of(store), "PYTHONUNBUFFERED": "1"}
    server = Server(env, port, tmp / "serve.log")
    server.start()
    try:
        # The server's own follower fills the read models just after it starts.
        _wait_for(lambda: httpx2.get(f"{server.base}/healthz", timeout=5).status_code == 200,
                  "the server")
        yield server.base, code
    finally:
        server.stop()


def inspector(browser: Browser, base: str) -> Page:
    context = browser.new_context(viewport=DESKTOP, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{base}/signin")
    page.get_by_label("Tên đăng nhập").fill("thanhtra")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(lambda url: "/signin" not in url)
    return page


def media_box(pdf: bytes) -> tuple[float, float]:
    match = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert match, "the PDF names its page size"
    return float(match.group(1)), float(match.group(2))


def test_a_flag_from_the_summary_to_a_closed_case_and_its_printed_report(
        desk: tuple[str, str], browser: Browser) -> None:
    base, code = desk
    page = inspector(browser, base)
    # Inspectors land on the desk; the read models may still be catching up just after start.
    _wait_for(lambda: page.goto(f"{base}/red-flags") is not None and page.locator(
        "#off_route td").nth(1).inner_text().strip() == "1", "the off-route flag", 30)
    save_screenshot(page, "red-flags-summary.png", full_page=False)
    expect(page.locator("svg.chart").first).to_be_visible()
    page.locator("#off_route").get_by_role("link", name="Chuyển ngoài quy trình").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Chuyển ngoài quy trình")
    row = page.locator("table.flag-files tr", has_text=code)
    expect(row.get_by_role("link", name=code)).to_have_attribute("href", re.compile("/audit$"))
    row.get_by_role("button", name="Mở vụ việc").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Vụ việc: Chuyển ngoài quy trình")
    expect(page.locator(".case-state")).to_have_text("Đang xem xét")
    page.get_by_label("Ghi chú mới").fill("Đơn vị giải trình: cần ý kiến phòng đăng ký.")
    page.get_by_role("button", name="Ghi lại").click()
    expect(page.locator(".case-timeline")).to_contain_text(
        "Đơn vị giải trình: cần ý kiến phòng đăng ký.")
    page.get_by_label("Đã giải trình").check()
    page.get_by_role("button", name="Đóng vụ việc").click()
    expect(page.locator(".case-state")).to_contain_text("Đã đóng: Đã giải trình")
    expect(page.get_by_label("Ghi chú mới")).to_have_count(0)

    # Closed on these facts: the flag no longer counts the file.
    page.goto(f"{base}/red-flags")
    expect(page.locator("#off_route td").nth(1)).to_have_text("0")
    page.goto(f"{base}/red-flags/cases")
    page.get_by_role("link", name="Chuyển ngoài quy trình").click()
    page.get_by_role("link", name="Báo cáo để in").click()

    report = page.locator(".case-report")
    expect(report).to_contain_text(code)
    expect(report).to_contain_text("Đơn vị giải trình: cần ý kiến phòng đăng ký.")
    expect(report).to_contain_text("Kết quả: Đã giải trình")
    expect(report.locator("table.book").first).to_contain_text("Chuyển hồ sơ")
    # "In báo cáo" prints through hoso.js (the CSP allows no inline handler): catch the call.
    page.evaluate("window.print = () => { window.hosoPrinted = true; }")
    page.get_by_role("button", name="In báo cáo").click()
    assert page.evaluate("window.hosoPrinted") is True
    pdf = page.pdf(prefer_css_page_size=True)
    assert printed_pages(pdf) >= 1
    width, height = media_box(pdf)
    assert abs(width - A4_POINTS[0]) < 2 and abs(height - A4_POINTS[1]) < 2, (width, height)
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()  # no menu on paper
    expect(page.get_by_role("button", name="In báo cáo")).to_be_hidden()
    save_screenshot(page, "case-report-print.png")
