"""From the counter to the citizen's phone, in a real browser.

A clerk receives a dossier through the form and prints the receipt; the QR code, decoded from
a screenshot of that receipt, opens the citizen's page in a profile that never signed in. As
the file moves on — transferred, accepted, signed with the officer's passphrase — the
citizen's page, reloaded, says so. The clerks' screens update in place through htmx, without
a page load.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import httpx2
from playwright.sync_api import Locator, Page, Request, expect

from tests.browser.support import Site, decode_qr, save_screenshot
from tests.helpers import PROCEDURE, SIGNING_PASSPHRASE
from tests.test_receipt_promise import checked

DOSSIER_PAGE = re.compile(r"/dossiers/[0-9a-f-]{36}$")
RECEIPT_PAGE = re.compile(r"/dossiers/[0-9a-f-]{36}/receipt$")
# Set on `window` before an htmx update and read after it: a page load would lose it.
MARKER = "window.hosoMarker"


def receive_at_counter(clerk: Page, *, name: str, phone: str) -> None:
    """The reception clerk fills in the receive form and submits it: the receipt follows."""
    clerk.get_by_role("link", name="Tiếp nhận").click()
    clerk.get_by_label("Thủ tục").select_option(PROCEDURE)
    expect(clerk.locator("#documents")).to_contain_text(
        "Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp")
    clerk.get_by_label("Họ và tên").fill(name)
    clerk.get_by_label("Số điện thoại").fill(phone)
    clerk.get_by_label("Địa chỉ").fill("45 Lê Lợi, phường Bến Thành, TP.HCM")
    clerk.get_by_role("button", name="Tiếp nhận và in phiếu hẹn").click()
    clerk.wait_for_url(RECEIPT_PAGE)
    expect(clerk.get_by_role("heading", level=1)).to_have_text(
        "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ")


def printed_pages(pdf: bytes) -> int:
    # Chromium writes each page's dictionary in the clear: "/Type /Page" (not "/Pages").
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


# Sheet sizes in PDF points (1/72 inch), as Chromium writes each page's MediaBox.
_SIZES = {(420, 595): "A5", (595, 842): "A4", (842, 595): "A4 landscape"}
# The forms' sheets: the receipt on A5, the tracking book on A4 across, the others on A4.
SHEETS = {"01": "A5", "07": "A4 landscape"}


def sheet_sizes(pdf: bytes) -> set[str]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    return {_SIZES.get((round(float(w)), round(float(h))), f"{w!r}×{h!r}") for w, h in boxes}


def a_phone() -> str:
    # Each test's own applicant, so a search by phone finds only this test's dossier.
    return "0912" + "".join(random.choices("0123456789", k=6))


def stage_of(citizen: Page) -> Locator:
    return citizen.get_by_role("heading", level=1)


def act_in_panel(clerk: Page, action: str, fill: Callable[[Locator], object]) -> Request:
    """Open the action on the dossier page, fill its form, send it; the panel is replaced by
    htmx. Returns the request that was sent."""
    form = clerk.locator("#dossier-panel details").filter(
        has=clerk.locator("summary", has_text=re.compile(f"^{action}"))).locator("form")
    if not form.is_visible():
        clerk.locator("#dossier-panel summary", has_text=re.compile(f"^{action}")).click()
    fill(form)
    clerk.evaluate(f"{MARKER} = 'no page load'")
    with clerk.expect_request(lambda r: r.method == "POST" and "/dossiers/" in r.url) as sent:
        form.get_by_role("button", name=action, exact=True).click()
    expect(clerk.locator("#dossier-panel ol.history li").first).to_contain_text(
        {"Chuyển hồ sơ": "Chuyển hồ sơ", "Ký duyệt": "Ký duyệt kết quả"}[action])
    assert clerk.evaluate(MARKER) == "no page load"
    return sent.value


def accept_from_incoming(clerk: Page, code: str) -> None:
    clerk.get_by_role("link", name="Hồ sơ đến").click()
    clerk.locator("tr", has_text=code).get_by_role("button", name="Nhận hồ sơ").click()
    clerk.wait_for_url(DOSSIER_PAGE)
    expect(clerk.locator("ol.history li").first).to_contain_text("Nhận hồ sơ chuyển đến")


def test_the_receipt_qr_code_opens_the_citizens_page(
        site: Site, signed_in: Callable[[str], Page], citizen: Page) -> None:
    clerk = signed_in("tiepnhan")
    receive_at_counter(clerk, name="Phan Thị Thu Trang", phone=a_phone())
    # "In phiếu" prints through hoso.js (the CSP allows no inline handler): catch the call.
    clerk.evaluate("window.print = () => { window.hosoPrinted = true; }")
    clerk.get_by_role("button", name="In phiếu").click()
    assert clerk.evaluate("window.hosoPrinted") is True
    # Printed as the stylesheet asks (A5), the receipt is one sheet.
    assert printed_pages(clerk.pdf(prefer_css_page_size=True)) == 1
    # What the printer gets, as a picture: the print stylesheet (no menu, no buttons) on an A5
    # sheet, 148 × 210 mm at 96 px to the inch, with the stylesheet's 10 mm page margins.
    clerk.set_viewport_size({"width": 560, "height": 794})
    clerk.emulate_media(media="print")
    clerk.evaluate("document.body.style.padding = '38px'")
    receipt = save_screenshot(clerk, "receipt.png", docs=True)

    scanned = decode_qr(receipt)
    assert len(scanned) == 1, f"zbarimg found {scanned} in {receipt}"
    # The link, and in its fragment the agency's promise, checked against the published key
    # as tests/test_receipt_promise.py does.
    link = scanned[0].split("#")[0]
    assert re.fullmatch(rf"{re.escape(site.base)}/t/[A-Za-z0-9_-]{{20,}}", link)
    published = httpx2.get(f"{site.base}/receipt-key", timeout=5).text
    expect(clerk.locator(".receipt dd.code")).to_have_text(checked(scanned[0], published)["code"])
    links = [link]
    # The link printed under the code is the one in it.
    expect(clerk.locator("figure.qr a")).to_have_text(links[0])

    citizen.goto(links[0])
    expect(stage_of(citizen)).to_have_text("Đã tiếp nhận")
    expect(citizen.locator("ol.timeline")).to_contain_text("Hồ sơ đã được tiếp nhận")
    # The citizen reads it in English through the header's switch, then back in Vietnamese.
    citizen.get_by_role("button", name="English").click()
    citizen.wait_for_url(links[0])
    expect(stage_of(citizen)).to_have_text("Received")
    expect(citizen.locator("html")).to_have_attribute("lang", "en")
    expect(citizen.locator("ol.timeline")).to_contain_text("Dossier received")
    citizen.get_by_role("button", name="Tiếng Việt").click()
    citizen.wait_for_url(links[0])
    expect(stage_of(citizen)).to_have_text("Đã tiếp nhận")
    expect(citizen.locator("main")).not_to_contain_text("Phan Thị Thu Trang")
    expect(citizen.get_by_role("button", name="Đăng xuất")).to_have_count(0)


def test_the_citizens_page_follows_the_file_until_it_is_signed(
        site: Site, signed_in: Callable[[str], Page], citizen: Page) -> None:
    counter = signed_in("tiepnhan")
    receive_at_counter(counter, name="Đỗ Minh Khôi", phone=a_phone())
    counter.locator(".no-print").get_by_role("link", name="Hồ sơ").click()
    counter.wait_for_url(DOSSIER_PAGE)
    code = counter.locator("#dossier-panel h1").inner_text()
    public_link = counter.get_by_role("link", name="Trang tra cứu công khai").get_attribute(
        "href")
    assert public_link is not None and public_link.startswith(f"{site.base}/t/")
    citizen.goto(public_link)
    expect(stage_of(citizen)).to_have_text("Đã tiếp nhận")
    now_at = citizen.locator("dt:has-text('Đang ở') + dd")
    expect(now_at).to_have_text("Trung tâm Phục vụ hành chính công TP.HCM")

    sent = act_in_panel(counter, "Chuyển hồ sơ",
                        lambda form: form.get_by_label("Chuyển đến đơn vị").select_option(
                            "STP-HCTP"))
    assert sent.headers.get("hx-request") == "true"
    citizen.reload()
    expect(stage_of(citizen)).to_have_text("Đang giải quyết")
    expect(now_at).to_have_text("Phòng Hành chính tư pháp – Sở Tư pháp")

    specialist = signed_in("hctp")
    accept_from_incoming(specialist, code)
    act_in_panel(specialist, "Chuyển hồ sơ",
                 lambda form: form.get_by_label("Chuyển đến đơn vị").select_option("STP-BGD"))
    citizen.reload()
    expect(now_at).to_have_text("Ban Giám đốc Sở Tư pháp")
    expect(citizen.locator(".signature")).to_have_count(0)

    officer = signed_in("gd.stp")
    accept_from_incoming(officer, code)

    def sign(form: Locator) -> None:
        form.get_by_label("Số quyết định").fill("27/QĐ-STP")
        form.get_by_label("Trích yếu").fill("Cấp Phiếu lý lịch tư pháp số 27")
        form.get_by_label("Mật khẩu khóa ký").fill(SIGNING_PASSPHRASE)

    act_in_panel(officer, "Ký duyệt", sign)
    expect(officer.locator("#dossier-panel dd.stage")).to_contain_text("Đã có kết quả (đã ký)")
    save_screenshot(officer, "dossier-clerk.png", docs=True)

    citizen.reload()
    expect(stage_of(citizen)).to_have_text("Đã có kết quả (đã ký)")
    expect(citizen.locator(".signature")).to_contain_text(
        "Quyết định số 27/QĐ-STP ký bởi Ban Giám đốc Sở Tư pháp")
    expect(citizen.locator(".signature")).to_contain_text("chữ ký hợp lệ")
    expect(citizen.locator("ol.timeline li").first).to_contain_text("Kết quả đã được ký")


def test_the_counter_search_answers_in_place_without_a_page_load(
        site: Site, signed_in: Callable[[str], Page]) -> None:
    clerk = signed_in("tiepnhan")
    clerk.get_by_role("link", name="Quầy").click()
    clerk.evaluate(f"{MARKER} = 'no page load'")
    search = clerk.get_by_label("Mã hồ sơ hoặc số điện thoại")
    search.fill(site.received_code)
    with clerk.expect_request(lambda r: "/counter?q=" in r.url) as sent:
        search.press("Enter")
    assert sent.value.headers.get("hx-request") == "true"
    results = clerk.locator("#counter-results")
    expect(results.get_by_role("heading", level=2)).to_contain_text(site.received_code)
    expect(results).to_contain_text("Đã tiếp nhận")
    assert clerk.evaluate(MARKER) == "no page load"
    # htmx pushed the search into the address bar: a reload shows the same results …
    expect(clerk).to_have_url(re.compile(r"/counter\?q="))
    clerk.reload()
    expect(results.get_by_role("heading", level=2)).to_contain_text(site.received_code)
    # … and a real page load does lose the marker, so the check above can fail.
    assert clerk.evaluate(MARKER) is None


def test_each_official_form_prints_on_one_page(site: Site,
                                               signed_in: Callable[[str], Page]) -> None:
    """Forms 01–07 of Circular 03/2025/TT-VPCP: the national header, the form number,
    signature blocks, one sheet of the form's size (form 06, the control slip, is printed by
    the inspector: its handoffs are signed by the events they record)."""
    clerk = signed_in("hctp")
    counter = signed_in("tiepnhan")
    inspector = signed_in("thanhtra")
    assert [number for number, _ in site.forms] == ["01", "02", "03", "04", "05", "06", "07"]
    for number, path in site.forms:
        page = (counter if number in ("01", "03", "07")
                else inspector if number == "06" else clerk)
        page.goto(site.base + path)
        expect(page.locator(".form-number")).to_contain_text(f"Mẫu số {number}")
        expect(page.locator(".national-name")).to_have_text(
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
        if number not in ("06", "07"):
            expect(page.locator(".signatures")).to_contain_text("(Ký và ghi rõ họ tên)")
        pdf = page.pdf(prefer_css_page_size=True)
        assert printed_pages(pdf) == 1, number
        assert sheet_sizes(pdf) == {SHEETS.get(number, "A4")}, number
