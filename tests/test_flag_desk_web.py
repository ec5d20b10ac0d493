"""The inspector's desk (issue 24): the summary, a flag's files, cases opened, written on and
closed from the pages, the exports and the printable report — as inspectors see them, on both
stores."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from uuid import UUID

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.flag_case import FlagCase, Subject
from tests.conftest import FakeClock
from tests.helpers import hand_over, receive
from tests.test_web import sign_in
from tests.web_helpers import change_settings, read_in


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("thanhtra", "quantri", "tiepnhan", "hctp")


def settle(client: TestClient, notification_id: int) -> None:
    assert client.app.state.services.read_models.wait(notification_id, timeout=10)  # type: ignore[attr-defined]


def bounce(app: HosoApplication, times: int = 3) -> UUID:
    """A file sent back and forth between the specialists and the board ``times`` times."""
    d = receive(app).dossier_id
    hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp")
    units = [("hctp", "STP-BGD", "gd.stp"), ("gd.stp", "STP-HCTP", "hctp")]
    for n in range(times):
        sender, unit, receiver = units[n % 2]
        app.transfer(d, expected_version=None, actor_id=sender, to_unit=unit,
                     note="Trả lại để bổ sung ý kiến")
        app.accept_transfer(d, expected_version=None, actor_id=receiver)
    return d


def row_of(page: str, key: str) -> str:
    return re.split(f'<tr id="{key}"[^>]*>', page)[1].split("</tr>")[0]


def cells(row: str) -> list[str]:
    """The row's cells as a reader sees them: text only, spaces collapsed."""
    return [" ".join(re.sub(r"<[^>]+>", " ", c).split())
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_the_summary_counts_each_flag_against_the_previous_period(
        web: TestClient, app: HosoApplication, clock: FakeClock) -> None:
    sideways = receive(app).dossier_id
    app.transfer(sideways, expected_version=None, actor_id="tiepnhan", to_unit="STC-DKKD",
                 note="Xin ý kiến phối hợp")
    clock.advance(days=100)  # the next period: two off-route files, none the period before
    for _ in range(2):
        d = receive(app).dossier_id
        outcome = app.transfer(d, expected_version=None, actor_id="tiepnhan",
                               to_unit="STC-DKKD", note="Phối hợp")
    settle(web, outcome.notification_id)
    sign_in(web, "thanhtra")
    page = web.get("/red-flags")
    assert page.status_code == 200
    off_route = cells(row_of(page.text, "off_route"))
    assert off_route[0].startswith("Chuyển ngoài quy trình")
    assert off_route[1:4] == ["2", "1", "▲ tăng 1"]
    assert off_route[4] == "chưa có vụ việc đóng"
    assert cells(row_of(page.text, "ping_pong"))[1:4] == ["0", "0", "không đổi"]
    assert "2 hồ sơ tiếp nhận trong kỳ" in page.text  # files received in the period
    assert '<svg class="chart"' in page.text and "Số cảnh báo theo loại trong kỳ" in page.text
    # Below the minimum sample nobody is ranked: the rate reads "sample too small", with n.
    units = page.text.split("Đơn vị có nhiều hồ sơ bị cảnh báo")[1].split("</section>")[0]
    assert "Trung tâm Phục vụ hành chính công" in units and "mẫu quá nhỏ" in units
    assert "%</td>" not in units
    read_in(web, "en")
    english = web.get("/red-flags").text
    assert cells(row_of(english, "off_route"))[1:4] == ["2", "1", "▲ up 1"]
    assert "no case closed yet" in cells(row_of(english, "off_route"))[4]


def test_a_ranked_rate_shows_its_n(serve: Callable[..., TestClient],
                                   app: HosoApplication) -> None:
    web = serve("thanhtra", HOSO_MIN_SAMPLE="2")
    receive(app)  # a file nobody flagged
    for _ in range(2):
        d = receive(app).dossier_id
        outcome = app.transfer(d, expected_version=None, actor_id="tiepnhan",
                               to_unit="STC-DKKD", note="Phối hợp")
    settle(web, outcome.notification_id)
    sign_in(web, "thanhtra")
    page = web.get("/red-flags").text
    officers = page.split("Cán bộ có nhiều hồ sơ bị cảnh báo")[1].split("</section>")[0]
    # Nguyễn Thị Lan received all three files; two were flagged: 67% of n = 3.
    assert re.search(r"Nguyễn Thị Lan.*?<td[^>]*>2</td><td[^>]*>3</td><td[^>]*>67%</td>",
                     officers, re.S)
    assert "Tỷ lệ hồ sơ bị cảnh báo theo đơn vị (n ≥ 2)" in page


def test_a_flag_drills_down_to_its_files_filtered_and_paginated(
        web: TestClient, app: HosoApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = []
    for _ in range(3):
        d = receive(app).dossier_id
        ids.append(d)
        outcome = app.transfer(d, expected_version=None, actor_id="tiepnhan",
                               to_unit="STC-DKKD", note="Phối hợp")
    settle(web, outcome.notification_id)
    sign_in(web, "thanhtra")
    summary = web.get("/red-flags").text
    link = re.search(r'href="(/red-flags/off_route\?[^"]+)"', summary)
    assert link
    page = web.get(link.group(1).replace("&amp;", "&"))
    assert page.status_code == 200
    codes = [app.dossier(d).code for d in ids]
    for d, code in zip(ids, codes, strict=True):
        assert f'<a href="/dossiers/{d}/audit">{code}</a>' in page.text
    assert "3 hồ sơ" in page.text
    assert "Phòng Đăng ký kinh doanh" in page.text  # where it went, by name
    # Filtered by officer (the clerk who received them all), procedure and unit.
    assert all(c in web.get("/red-flags/off_route?officer=tiepnhan").text for c in codes)
    assert not any(c in web.get("/red-flags/off_route?officer=hctp").text for c in codes)
    assert not any(c in web.get("/red-flags/off_route?procedure=NONE").text for c in codes)
    assert not any(c in web.get("/red-flags/off_route?unit=STP-HCTP").text for c in codes)
    # Paginated.
    monkeypatch.setattr("web.red_flags.PER_PAGE", 2)
    first = web.get("/red-flags/off_route").text
    assert "trang 1 / 2" in first and sum(c in first for c in codes) == 2
    second = web.get("/red-flags/off_route?page=2").text
    assert sum(c in second for c in codes) == 1 and 'rel="prev"' in second
    # A file's line opens its audit trail.
    assert web.get(f"/dossiers/{ids[0]}/audit").status_code == 200
    assert web.get("/red-flags/no-such-flag").status_code == 404
    read_in(web, "en")
    assert "Transfers off the route" in web.get("/red-flags/off_route").text


def open_case_on(web: TestClient, flag: str, subject: str, subject_id: str) -> str:
    opened = web.post(f"/red-flags/{flag}/cases",
                      data={"subject": subject, "subject_id": subject_id},
                      follow_redirects=False)
    assert opened.status_code == 303, opened.text
    location = opened.headers["location"]
    assert location.startswith("/red-flags/cases/")
    return location


def test_a_flag_becomes_a_case_closed_with_an_outcome_and_reopened_on_new_facts(
        web: TestClient, app: HosoApplication) -> None:
    d = bounce(app)
    settle(web, app.recorder.max_notification_id() or 0)
    code = app.dossier(d).code
    sign_in(web, "thanhtra")
    change_settings(web, analytics_max_age=0)  # flags as of the last event, not a minute ago
    case_path = open_case_on(web, "ping_pong", "dossier", str(d))
    case = web.get(case_path).text
    assert "Vụ việc: Chuyển qua lại" in case and code in case and "Đang xem xét" in case
    # Opening it again finds the same open case.
    assert open_case_on(web, "ping_pong", "dossier", str(d)) == case_path
    refused = web.post(f"{case_path}/close", data={"outcome": "warning"})
    assert refused.status_code == 422
    assert "Hãy ghi ít nhất một ghi chú" in refused.text
    noted = web.post(f"{case_path}/note", data={"note": "Đơn vị giải trình: thiếu ý kiến."})
    assert noted.status_code == 200
    assert "Đơn vị giải trình: thiếu ý kiến." in noted.text
    closed = web.post(f"{case_path}/close", data={"outcome": "warning"})
    assert "Đã đóng: Nhắc nhở, cảnh cáo" in closed.text
    assert 'name="note"' not in closed.text  # closed: nothing more to write
    # Closed on these facts: the flag no longer lists the file.
    assert code not in web.get("/red-flags/ping_pong").text
    assert cells(row_of(web.get("/red-flags").text, "ping_pong"))[1] == "0"
    refused_again = web.post("/red-flags/ping_pong/cases",
                             data={"subject": "dossier", "subject_id": str(d)})
    assert refused_again.status_code == 422
    # A fourth transfer: new facts, the flag is raised again and the same case reopens.
    settle(web, app.transfer(d, expected_version=None, actor_id="gd.stp", to_unit="STP-HCTP",
                             note="Trả lại lần nữa").notification_id)
    flag_page = web.get("/red-flags/ping_pong").text
    assert code in flag_page and "Mở lại vụ việc" in flag_page
    assert open_case_on(web, "ping_pong", "dossier", str(d)) == case_path
    reopened = web.get(case_path).text
    assert "Mở lại vì có dữ kiện mới" in reopened and "Đang xem xét" in reopened
    read_in(web, "en")
    english = web.get(case_path).text
    assert "Reopened on new facts" in english and "Case closed" in english
    assert "Warning" in english


def test_false_alarms_are_shown_beside_the_threshold(web: TestClient,
                                                     app: HosoApplication) -> None:
    d = bounce(app)
    settle(web, app.recorder.max_notification_id() or 0)
    sign_in(web, "thanhtra")
    case_path = open_case_on(web, "ping_pong", "dossier", str(d))
    web.post(f"{case_path}/close", data={"outcome": "false_alarm"})  # no note needed
    row = cells(row_of(web.get("/red-flags").text, "ping_pong"))
    assert row[0].startswith("Chuyển qua lại Ngưỡng")  # the threshold, in the same cell…
    assert "từ 3 lần trở lên" in row[0]
    assert row[4] == "100% của 1 vụ việc đã đóng"  # …and beside it the false alarms
    assert "Cảnh báo nhầm: 100% của 1 vụ việc đã đóng." in web.get("/red-flags/ping_pong").text


def test_the_officer_concerned_never_sees_their_case(web: TestClient,
                                                     app: HosoApplication) -> None:
    app.open_flag_case(actor_id="quantri", flag_kind="off_hours",
                       subject=Subject.OFFICER,
                       subject_id="thanhtra", facts_fingerprint="f")
    outcome = app.open_flag_case(
        actor_id="thanhtra", flag_kind="off_hours",
        subject=Subject.OFFICER, subject_id="hctp",
        facts_fingerprint="f")
    assert web.app.state.services.read_models.wait_for_flag_case(outcome.notification_id)  # type: ignore[attr-defined]
    about_thanhtra = FlagCase.create_id(
        "off_hours", "officer", "thanhtra")
    sign_in(web, "quantri")
    listed = web.get("/red-flags/cases").text
    assert "Trần Văn Minh" in listed or "2 vụ việc" in listed
    assert web.get(f"/red-flags/cases/{about_thanhtra}").status_code == 200
    sign_in(web, "thanhtra")
    assert "1 vụ việc" in web.get("/red-flags/cases").text
    assert web.get(f"/red-flags/cases/{about_thanhtra}").status_code == 404
    assert web.get(f"/red-flags/cases/{about_thanhtra}/report").status_code == 404
    assert web.post(f"/red-flags/cases/{about_thanhtra}/note",
                    data={"note": "Tôi giải thích."}).status_code == 404
    assert str(about_thanhtra) not in web.get("/red-flags/cases.csv").text
    sign_in(web, "hctp")
    assert web.get("/red-flags/cases").status_code == 403


def test_exports_and_the_printable_report(web: TestClient, app: HosoApplication) -> None:
    d = bounce(app)
    settle(web, app.recorder.max_notification_id() or 0)
    code = app.dossier(d).code
    sign_in(web, "thanhtra")
    flag_csv = web.get("/red-flags/ping_pong.csv")
    assert flag_csv.status_code == 200
    assert flag_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(flag_csv.text.lstrip("\ufeff"))))
    assert rows[0][:2] == ["Mã hồ sơ / Code", "Thủ tục / Procedure"]
    assert rows[1][0] == code and "3 lần chuyển qua lại" in rows[1][3]
    case_path = open_case_on(web, "ping_pong", "dossier", str(d))
    web.post(f"{case_path}/note", data={"note": "Đã làm việc với hai phòng."})
    web.post(f"{case_path}/close", data={"outcome": "referred"})
    cases_csv = list(csv.reader(io.StringIO(web.get("/red-flags/cases.csv").text.lstrip(
        "\ufeff"))))
    assert cases_csv[0][0] == "Cảnh báo / Flag"
    assert cases_csv[1][0] == "Chuyển qua lại" and cases_csv[1][2] == code
    assert cases_csv[1][5] == "Chuyển xử lý kỷ luật hoặc cơ quan chức năng"
    report = web.get(f"{case_path}/report")
    assert report.status_code == 200
    text = report.text
    assert 'class="case-report"' in text and "BÁO CÁO VỤ VIỆC TỪ CẢNH BÁO RỦI RO" in text
    assert code in text and "Đã làm việc với hai phòng." in text
    assert "Chuyển xử lý kỷ luật hoặc cơ quan chức năng" in text
    # The file's timeline, from its audit trail: received, then each transfer and acceptance.
    trail = text.split("2. Diễn biến hồ sơ theo nhật ký kiểm tra")[1].split("</table>")[0]
    assert trail.count("<tr>") == 1 + 1 + 2 * 4  # header, received, four hand-overs
    read_in(web, "en")
    english = web.get(f"{case_path}/report").text
    assert "REPORT ON A CASE FROM A RED FLAG" in english and "Referred for discipline" in english
