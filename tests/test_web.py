"""Clerk and citizen pages through Starlette's test client, on both stores."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from tests.conftest import PUBLIC_URL
from tests.helpers import APPLICANT, PROCEDURE, SIGNING_PASSPHRASE
from tests.web_helpers import PASSWORD, sign_in_as
from web.accounts import StaffAccounts


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("tiepnhan", "hctp", "gd.stp", "buudien", "dkkd", **PUBLIC_URL)


def sign_in(client: TestClient, user: str) -> None:
    sign_in_as(client, user, PASSWORD)


def receive_form(**overrides: Any) -> dict[str, Any]:
    return {"procedure_code": PROCEDURE, "channel": "counter",
            "documents": ["Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp", "Bản chụp CCCD"],
            **APPLICANT, **overrides}


def receive_via_web(client: TestClient) -> tuple[str, str]:
    """Receive a dossier; the dossier id and the public link printed in the QR code."""
    response = client.post("/dossiers", data=receive_form())
    assert response.status_code == 200
    dossier_id = str(response.url).split("/")[-2]
    link = re.search(r'href="(https://hoso\.example\.vn/t/[A-Za-z0-9_-]{22})"', response.text)
    assert link, "receipt must print the public link"
    return dossier_id, link.group(1)


def public_path(link: str) -> str:
    return link.replace("https://hoso.example.vn", "")


def stage_heading(html: str) -> str:
    match = re.search(r'<h1 id="status-heading" class="stage">(.*?)</h1>', html)
    assert match
    return match.group(1)


def version_of(client: TestClient, dossier_id: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', client.get(f"/dossiers/{dossier_id}").text)
    assert match
    return match.group(1)


def test_staff_pages_need_sign_in(web: TestClient) -> None:
    response = web.get("/dossiers", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=/dossiers"
    wrong = web.post("/signin", data={"username": "tiepnhan", "password": "sai"})
    assert wrong.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in wrong.text
    unknown = web.post("/signin", data={"username": "ai-do", "password": PASSWORD})
    assert unknown.status_code == 401


def test_sign_in_does_not_redirect_off_site(web: TestClient) -> None:
    response = web.post("/signin", data={"username": "tiepnhan", "password": PASSWORD,
                                         "next": "//evil.example/x"}, follow_redirects=False)
    assert response.headers["location"] == "/dossiers"


def test_receipt_shows_code_due_date_documents_and_qr(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    response = web.post("/dossiers", data=receive_form())
    assert response.status_code == 200
    html = response.text
    assert re.search(r"000\.00\.01\.H29-261123-0001", html)
    assert "08/12/2026" in html  # 10 working days from Monday 23 Nov 2026
    assert "Bản chụp CCCD" in html
    assert "<svg" in html and "<path" in html
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in html


def test_receive_form_shows_refusals_and_keeps_input(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    response = web.post("/dossiers", data=receive_form(applicant_phone="12"))
    assert response.status_code == 422
    assert "Số điện thoại không hợp lệ" in response.text
    assert APPLICANT["applicant_address"] in response.text


def test_walk_to_delivery_and_the_citizen_sees_each_stage(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    dossier_id, link = receive_via_web(web)
    citizen = TestClient(web.app)
    assert stage_heading(citizen.get(public_path(link)).text) == "Đã tiếp nhận"

    steps = [
        ("tiepnhan", "transfer", {"to_unit": "STP-HCTP"}, "Đang giải quyết"),
        ("hctp", "accept_transfer", {}, "Đang giải quyết"),
        ("hctp", "transfer", {"to_unit": "STP-BGD", "note": "Trình ký"}, "Đang giải quyết"),
        ("gd.stp", "accept_transfer", {}, "Đang giải quyết"),
        ("gd.stp", "sign", {"decision_number": "15/PLLTP", "decision_title": "Phiếu LLTP",
                            "passphrase": SIGNING_PASSPHRASE},
         "Đã có kết quả (đã ký)"),
        ("gd.stp", "transfer", {"to_unit": "TTHCC"}, "Đã có kết quả (đã ký)"),
        ("tiepnhan", "accept_transfer", {}, "Đã có kết quả (đã ký)"),
        ("tiepnhan", "dispatch", {"method": "post", "postal_tracking_number": "EB123456789VN"},
         "Kết quả đang chuyển qua bưu điện"),
        ("buudien", "deliver", {"recipient_name": "Trần Thị Bích Ngọc"}, "Đã trả kết quả"),
    ]
    sign_in(web, "gd.stp")
    registered = web.post("/signing-key/register", data={
        "passphrase": SIGNING_PASSPHRASE, "passphrase_again": SIGNING_PASSPHRASE})
    assert "Đã đăng ký khóa ký mới" in registered.text
    for user, action, fields, public_stage in steps:
        sign_in(web, user)
        version = version_of(web, dossier_id)
        response = web.post(f"/dossiers/{dossier_id}/{action}",
                            data={"version": version, **fields})
        assert response.status_code == 200, response.text
        # No stale page: the public page shows the action right after the click.
        assert stage_heading(citizen.get(public_path(link)).text) == public_stage

    page = citizen.get(public_path(link)).text
    assert "EB123456789VN" in page
    assert page.count("<li>") == 10  # every step on the timeline
    assert "Công dân đã nhận kết quả" in page and "Vì sao hẹn ngày này?" in page
    assert re.search(r"Quyết định số 15/PLLTP ký bởi Ban Giám đốc[^<]*— <strong>chữ ký hợp lệ",
                     page), page
    sign_in(web, "tiepnhan")
    assert "Bạn không có thao tác nào" in web.get(f"/dossiers/{dossier_id}").text


def test_public_page_shows_no_personal_data(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    dossier_id, link = receive_via_web(web)
    web.post(f"/dossiers/{dossier_id}/transfer",
             data={"version": "1", "to_unit": "STP-HCTP", "to_officer": "hctp"})
    response = TestClient(web.app).get(public_path(link))
    assert response.status_code == 200
    for private in [*APPLICANT.values(), "Nguyễn Thị Lan", "Lê Thị Hoa", "tiepnhan", "hctp"]:
        assert private not in response.text
    assert response.headers["x-robots-tag"] == "noindex"
    # Kept by the citizen's browser only, and asked for again each time (ETag, 304).
    assert response.headers["cache-control"] == "private, no-cache"
    assert 'name="robots" content="noindex' in response.text


@pytest.mark.parametrize("token", ["AAAAAAAAAAAAAAAAAAAAAA", "short", "x" * 300, "%3Cscript%3E"])
def test_unknown_tokens_get_a_friendly_404(web: TestClient, token: str) -> None:
    response = TestClient(web.app).get(f"/t/{token}")
    assert response.status_code == 404
    assert "Không tìm thấy hồ sơ" in response.text


def test_the_code_alone_does_not_open_the_public_page(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    receive_via_web(web)
    response = TestClient(web.app).get("/t/000.00.01.H29-261123-0001")
    assert response.status_code == 404


def test_refused_actions_are_explained_never_500(web: TestClient,
                                                caplog: pytest.LogCaptureFixture) -> None:
    sign_in(web, "tiepnhan")
    dossier_id, _ = receive_via_web(web)
    sign_in(web, "dkkd")
    response = web.post(f"/dossiers/{dossier_id}/transfer",
                        data={"version": "1", "to_unit": "STC-BGD"})
    assert response.status_code == 403
    assert "chỉ đơn vị đang giữ hồ sơ mới được thao tác" in response.text
    assert "access refused: user=dkkd" in caplog.text
    sign_in(web, "tiepnhan")
    response = web.post(f"/dossiers/{dossier_id}/sign",
                        data={"version": "1", "decision_number": "1", "decision_title": "x"})
    assert response.status_code == 403
    assert "không có thẩm quyền ký" in response.text
    response = web.post(f"/dossiers/{dossier_id}/dispatch",
                        data={"version": "1", "method": "counter_pickup"})
    assert response.status_code == 422  # not refused access: just not possible yet
    assert "chưa có kết quả" in response.text
    response = web.post(f"/dossiers/{dossier_id}/fly", data={"version": "1"})
    assert response.status_code == 404
    response = web.post("/dossiers/not-a-uuid/transfer", data={"to_unit": "STP-HCTP"})
    assert response.status_code == 404
    response = web.post(f"/dossiers/{dossier_id}/transfer",
                        data={"version": "1", "to_unit": "STP-HCTP",
                              "occurred_at": "next tuesday"})
    assert response.status_code == 422
    assert "Thời điểm không hợp lệ" in response.text


def test_a_stale_form_gets_the_reload_message(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    dossier_id, _ = receive_via_web(web)
    first = web.post(f"/dossiers/{dossier_id}/transfer",
                     data={"version": "1", "to_unit": "STP-HCTP"})
    assert first.status_code == 200
    second = web.post(f"/dossiers/{dossier_id}/transfer",
                      data={"version": "1", "to_unit": "STC-DKKD"})
    assert second.status_code == 409
    assert "Vui lòng tải lại trang" in second.text


def test_htmx_actions_get_the_panel_partial(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    dossier_id, _ = receive_via_web(web)
    response = web.post(f"/dossiers/{dossier_id}/transfer",
                        data={"version": "1", "to_unit": "STP-HCTP"},
                        headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="dossier-panel">')
    assert "<html" not in response.text
    assert "Phòng Hành chính tư pháp" in response.text


def test_dossier_list_shows_my_unit_and_filters(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    dossier_id, _ = receive_via_web(web)
    listing = web.get("/dossiers").text
    assert "000.00.01.H29-261123-0001" in listing
    web.post(f"/dossiers/{dossier_id}/transfer", data={"version": "1", "to_unit": "STP-HCTP"})
    assert "000.00.01.H29-261123-0001" not in web.get("/dossiers").text
    assert "000.00.01.H29-261123-0001" in web.get("/dossiers?scope=all").text
    partial = web.get("/dossiers?scope=all&stage=in_progress", headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<div id="dossier-table"')
    sign_in(web, "hctp")
    assert "000.00.01.H29-261123-0001" in web.get("/dossiers").text


def test_cross_site_posts_are_refused(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    response = web.post("/dossiers", data=receive_form(),
                        headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    response = web.post("/dossiers", data=receive_form(), headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert "000.00.01.H29-261123-0001" not in web.get("/dossiers?scope=all").text


def test_roles_are_checked_per_route(web: TestClient, accounts: StaffAccounts,
                                     caplog: pytest.LogCaptureFixture) -> None:
    accounts.set_password("thanhtra", PASSWORD)
    sign_in(web, "tiepnhan")
    dossier_id, _ = receive_via_web(web)
    # The post office sees only what was handed to the post.
    sign_in(web, "buudien")
    assert web.get(f"/dossiers/{dossier_id}").status_code == 403
    assert web.get(f"/dossiers/{dossier_id}/receipt").status_code == 403
    assert "000.00.01.H29-261123-0001" not in web.get("/dossiers?scope=all").text
    assert web.get("/dossiers/new").status_code == 403
    # Inspectors read; they are offered no action and cannot receive.
    sign_in(web, "thanhtra")
    page = web.get(f"/dossiers/{dossier_id}")
    assert page.status_code == 200 and "Bạn không có thao tác nào" in page.text
    assert web.post("/dossiers", data=receive_form()).status_code == 403
    refused = web.post(f"/dossiers/{dossier_id}/transfer",
                       data={"version": "1", "to_unit": "STP-HCTP"})
    assert refused.status_code == 403
    assert "access refused: user=thanhtra" in caplog.text


def test_a_unit_that_does_not_receive_gets_no_receive_form(web: TestClient) -> None:
    sign_in(web, "hctp")
    response = web.get("/dossiers/new")
    assert response.status_code == 403
    assert "không tiếp nhận hồ sơ" in response.text
    refused = web.post("/dossiers", data=receive_form(procedure_code="zz"))
    assert refused.status_code == 403
    assert "không tiếp nhận hồ sơ" in refused.text


def test_a_double_submitted_receipt_makes_one_dossier(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    request_id = re.search(r'name="request_id" value="([0-9a-f]{32})"',
                           web.get("/dossiers/new").text)
    assert request_id
    form = receive_form(request_id=request_id.group(1))
    first, second = web.post("/dossiers", data=form), web.post("/dossiers", data=form)
    assert first.url == second.url  # both land on the same receipt
    listing = web.get("/dossiers").text
    assert listing.count("000.00.01.H29-261123-") == 1


def test_nul_bytes_in_queries_are_no_match_not_500(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    assert web.get("/dossiers", params={"code": "a\x00b"}).status_code == 200
    assert web.get("/dossiers", params={"stage": "a\x00b"}).status_code == 200
    assert web.post("/signin", data={"username": "a\x00", "password": "x"}).status_code == 401


def test_sign_out_ends_the_session(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    web.post("/signout")
    assert web.get("/dossiers", follow_redirects=False).status_code == 303


def test_my_desk_queue_and_incoming(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    dossier_id, _ = receive_via_web(web)
    desk = web.get("/queue")
    assert desk.status_code == 200 and "000.00.01.H29-261123-0001" in desk.text
    assert 'role="meter"' in desk.text
    assert web.post(f"/dossiers/{dossier_id}/transfer",
                    data={"version": "1", "to_unit": "STP-HCTP"}).status_code == 200
    assert "000.00.01.H29-261123-0001" not in web.get("/queue").text
    sign_in(web, "hctp")
    assert "000.00.01.H29-261123-0001" not in web.get("/queue?scope=unit").text
    incoming = web.get("/incoming").text
    assert "000.00.01.H29-261123-0001" in incoming and "Nhận hồ sơ" in incoming
    opened = web.post(f"/dossiers/{dossier_id}/accept_transfer", data={"version": "2"})
    assert opened.status_code == 200 and "Hạn bước này" in opened.text
    assert "thời gian đi đường 0,0 giờ" in opened.text  # the page's own decimal comma
    assert "000.00.01.H29-261123-0001" not in web.get("/incoming").text
    assert "000.00.01.H29-261123-0001" in web.get("/queue").text
    # A counter clerk finds the citizen's dossier by phone wherever it is.
    sign_in(web, "tiepnhan")
    found = web.get("/queue", params={"q": APPLICANT["applicant_phone"]})
    assert "000.00.01.H29-261123-0001" in found.text
    partial = web.get("/queue", headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<div id="queue-table"')


def test_extension_prints_an_apology_letter(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    dossier_id, link = receive_via_web(web)
    response = web.post(f"/dossiers/{dossier_id}/extend", data={
        "version": "1", "new_due_date": "2026-12-15", "reason": "Cần xác minh thêm",
        "apology": "Chúng tôi thành thật xin lỗi ông/bà."})
    assert response.status_code == 200
    assert f"/dossiers/{dossier_id}/apology/1" in response.text
    letter = web.get(f"/dossiers/{dossier_id}/apology/1").text
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in letter
    assert "15/12/2026" in letter and "08/12/2026" in letter
    assert APPLICANT["applicant_name"] in letter
    assert web.get(f"/dossiers/{dossier_id}/apology/2").status_code == 404
    public = TestClient(web.app).get(public_path(link)).text
    assert "Cơ quan xin lỗi vì chậm trả kết quả" in public and "15/12/2026" in public
    assert "Chúng tôi thành thật xin lỗi ông/bà." not in public  # the letter itself is private


def test_supplement_request_is_shown_to_the_citizen(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    dossier_id, link = receive_via_web(web)
    response = web.post(f"/dossiers/{dossier_id}/request_supplement", data={
        "version": "1", "missing_items": "Bản sao sổ hộ khẩu\nẢnh 4x6",
        "reason": "Thiếu giấy tờ theo quy định", "justification": ""})
    assert response.status_code == 200
    public = TestClient(web.app).get(public_path(link)).text
    assert stage_heading(public) == "Chờ bổ sung giấy tờ"
    assert "Bản sao sổ hộ khẩu" in public and "Ảnh 4x6" in public
    again = web.post(f"/dossiers/{dossier_id}/provide_supplement",
                     data={"version": "2", "documents": "Bản sao sổ hộ khẩu\nẢnh 4x6"})
    assert again.status_code == 200
    second = web.post(f"/dossiers/{dossier_id}/request_supplement", data={
        "version": "3", "missing_items": "Giấy khác", "reason": "x", "justification": ""})
    assert second.status_code == 422
    assert "lý do yêu cầu bổ sung lần nữa" in second.text


def test_a_supplement_picked_from_the_list_and_one_typed_outside_it(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    dossier_id, link = receive_via_web(web)
    form = web.get(f"/dossiers/{dossier_id}").text
    assert 'name="listed_items" value="Bản chụp CCCD"' in form  # the published list, to pick
    response = web.post(f"/dossiers/{dossier_id}/request_supplement", data={
        "version": "1", "listed_items": ["Bản chụp CCCD"],
        "missing_items": "Giấy xác nhận của công an phường",
        "reason": "Bản chụp không rõ", "justification": ""})
    assert response.status_code == 200
    assert f"/dossiers/{dossier_id}/supplement/1" in response.text
    public = TestClient(web.app).get(public_path(link)).text
    items = re.findall(r"<li><span lang=\"vi\">(.*?)</span>(.*?)</li>", public)
    assert [(name, "ngoài danh mục công bố" in mark) for name, mark in items] == [
        ("Bản chụp CCCD", False), ("Giấy xác nhận của công an phường", True)]
    slip = web.get(f"/dossiers/{dossier_id}/supplement/1").text
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in slip
    assert re.search(r"Giấy xác nhận của công an phường</span> <strong[^>]*>ngoài danh mục "
                     r"công bố", slip)
    assert not re.search(r"Bản chụp CCCD</span> <strong", slip)
    assert web.get(f"/dossiers/{dossier_id}/supplement/2").status_code == 404


def test_counter_finds_by_phone_and_hands_out_the_result(web: TestClient, app: HosoApplication
                                                         ) -> None:
    from uuid import UUID

    from tests.helpers import walk_to_signed

    sign_in(web, "tiepnhan")
    dossier_id, link = receive_via_web(web)
    walk_to_signed(app, UUID(dossier_id))
    dispatched = app.dispatch(UUID(dossier_id), expected_version=None, actor_id="tiepnhan",
                              method="counter_pickup")
    assert web.app.state.services.read_models.wait(dispatched.notification_id, timeout=10)
    found = web.get("/counter", params={"q": "0912 345 678"})
    assert found.status_code == 200
    assert "000.00.01.H29-261123-0001" in found.text and 'name="recipient_name"' in found.text
    version = re.search(r'name="version" value="(\d+)"', found.text)
    assert version
    handed = web.post(f"/dossiers/{dossier_id}/deliver",
                      data={"version": version.group(1), "recipient_name": "Trần Thị Bích Ngọc"})
    assert handed.status_code == 200
    assert stage_heading(TestClient(web.app).get(public_path(link)).text) == "Đã trả kết quả"
    assert "Không tìm thấy hồ sơ đang mở" in web.get("/counter", params={"q": "0912345678"}).text
    sign_in(web, "hctp")
    assert web.get("/counter").status_code == 403


STAFF_PAGES = ["/queue", "/incoming", "/counter", "/dossiers", "/dossiers/new",
               "/dossiers/00000000-0000-0000-0000-000000000000",
               "/dossiers/00000000-0000-0000-0000-000000000000/receipt",
               "/dossiers/00000000-0000-0000-0000-000000000000/apology/1"]


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_staff_pages_send_strangers_to_sign_in(web: TestClient, path: str) -> None:
    response = web.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=")


def test_staff_actions_need_sign_in(web: TestClient) -> None:
    for path in ["/dossiers", "/dossiers/00000000-0000-0000-0000-000000000000/transfer"]:
        response = web.post(path, data={}, follow_redirects=False)
        assert response.status_code == 303


@pytest.mark.parametrize("cursor", [
    "2026-12-01|0001-01-01T00:00:00+07:00|00000000-0000-0000-0000-000000000000",
    "2026-12-01|9999-12-31T23:00:00-05:00|00000000-0000-0000-0000-000000000000",
    "garbage", "a|b|c",
])
def test_crafted_queue_cursors_are_harmless(web: TestClient, cursor: str) -> None:
    sign_in(web, "tiepnhan")
    assert web.get("/queue", params={"after": cursor}).status_code == 200
    assert web.get("/incoming", params={"after": cursor}).status_code == 200


def test_administration_page(web: TestClient, accounts: StaffAccounts) -> None:
    accounts.set_password("quantri", PASSWORD)
    sign_in(web, "tiepnhan")
    assert web.get("/admin").status_code == 403
    assert web.post("/admin/appoint", data={"user_id": "x"}).status_code == 403
    sign_in(web, "quantri")
    assert web.get("/admin").status_code == 200
    response = web.post("/admin/appoint", data={
        "user_id": "tiepnhan9", "full_name": "Đinh Thị Chín", "unit_code": "TTHCC",
        "roles": ["reception"], "password": "mat-khau-moi-9"})
    assert response.status_code == 200 and "Đinh Thị Chín" in response.text
    assert "Bổ nhiệm/cập nhật tiepnhan9" in response.text
    refused = web.post("/admin/processing_time", data={
        "procedure_code": "2.000488", "processing_days": "many", "legal_basis": "x"})
    assert refused.status_code == 422 and "Thời hạn phải là số ngày" in refused.text
    # A password too short refuses the whole form: nobody is appointed without one.
    short = web.post("/admin/appoint", data={
        "user_id": "tiepnhan10", "full_name": "Đinh Văn Mười", "unit_code": "TTHCC",
        "roles": ["reception"], "password": "ngan"})
    assert short.status_code == 422 and "Mật khẩu cần ít nhất 8 ký tự" in short.text
    assert "Đinh Văn Mười" not in web.get("/admin").text
    web.cookies.clear()
    assert web.post("/signin", data={"username": "tiepnhan9",
                                     "password": "mat-khau-moi-9"}).status_code == 200
    assert "Đinh Thị Chín" in web.get("/queue").text


def test_a_refused_htmx_action_on_a_dossier_one_may_not_see_is_a_plain_403(
        web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    dossier_id, _ = receive_via_web(web)
    sign_in(web, "buudien")
    response = web.post(f"/dossiers/{dossier_id}/deliver",
                        data={"version": "1", "recipient_name": "A"},
                        headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert "Applicant" not in response.text and APPLICANT["applicant_name"] not in response.text


def test_the_transfer_list_offers_no_unit_the_domain_refuses(web: TestClient) -> None:
    """The page used to offer the City Inspectorate, which ``transfer`` refuses."""
    sign_in(web, "tiepnhan")
    dossier_id, _link = receive_via_web(web)
    page = web.get(f"/dossiers/{dossier_id}").text
    transfer_list = page.split('name="to_unit"')[1].split("</select>")[0]
    offered = re.findall(r'<option value="([^"]+)"', transfer_list)
    assert "STP-HCTP" in offered
    assert "TTRA" not in offered and "Thanh tra Thành phố" not in transfer_list
    assert "BUUDIEN" not in offered
