"""The inspectors' pages as users see them, on both stores."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from uuid import UUID

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.working_days import HCMC
from tests.conftest import FakeClock
from tests.helpers import receive, sign
from tests.web_helpers import PASSWORD, read_in, sign_in_as

CODE = "000.00.01.H29-261123-0001"


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("tiepnhan", "hctp", "gd.stp", "thanhtra", "quantri")


@pytest.fixture
def dossier(app: HosoApplication, clock: FakeClock) -> str:
    """Received Monday 23/11 09:00; sent on at 10:00, accepted at 11:00, sent to be signed on
    Wednesday and signed a week late."""
    d = receive(app).dossier_id
    clock.advance(hours=1)
    app.transfer(d, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP")
    clock.advance(hours=1)
    app.accept_transfer(d, expected_version=None, actor_id="hctp")
    clock.advance(days=2)
    app.transfer(d, expected_version=None, actor_id="hctp", to_unit="STP-BGD", note="Trình ký")
    clock.advance(hours=1)
    app.accept_transfer(d, expected_version=None, actor_id="gd.stp")
    clock.advance(days=8)
    sign(app, d, decision_title="Phiếu LLTP")
    outcome = app.transfer(d, expected_version=None, actor_id="gd.stp", to_unit="TTHCC")
    return str(outcome.dossier_id)


def sign_in(client: TestClient, user: str) -> None:
    sign_in_as(client, user, PASSWORD)


def readings(app: HosoApplication, clock: FakeClock, viewer: str) -> list[tuple[str, str]]:
    day = clock().astimezone(HCMC).date()
    return [(e.purpose, e.page) for e in app.readings(viewer, day)]


def test_inspector_reads_every_event_and_nothing_to_act_on(web: TestClient, dossier: str,
                                                          app: HosoApplication,
                                                          clock: FakeClock) -> None:
    sign_in(web, "thanhtra")
    page = web.get(f"/dossiers/{dossier}")
    assert page.status_code == 200
    assert f"/dossiers/{dossier}/audit" in page.text
    assert f"/dossiers/{dossier}/control-slip" in page.text
    assert 'href="/dossiers?scope=all"' in page.text  # the inspector's way in

    response = web.get(f"/dossiers/{dossier}/audit")
    assert response.status_code == 200
    html = response.text
    assert f"Nhật ký kiểm tra hồ sơ {CODE}" in html
    assert "Lượt xem này đã được ghi lại" in html
    rows = re.findall(r"<tr class=\"[^\"]*\">\s*<td data-label=\"#\">(\d+)</td>", html)
    assert rows == [str(n) for n in range(1, 8)]
    for event in ("Tiếp nhận hồ sơ", "Chuyển hồ sơ", "Nhận hồ sơ chuyển đến", "Ký duyệt kết quả"):
        assert event in html
    assert "Lê Thị Hoa" in html and "Phạm Văn Đức" in html
    assert "Thời gian tại đơn vị" in html and "Thời gian đi đường" in html
    assert "Quá hạn" in html and "Đúng hạn" in html
    assert "ghi nhận 10:00:00 23/11/2026" in html  # recording time, to the second
    # Read only: the only forms that post are signing out and the header's language switch.
    posting = re.findall(r"<form[^>]*method=\"post\"[^>]*>", html)
    assert posting and all('action="/signout"' in f or 'action="/language"' in f
                           for f in posting)
    assert "hx-post" not in html
    assert readings(app, clock, "thanhtra") == [("audit", "dossier"), ("audit", "audit_trail")]


def test_state_as_of_a_moment_typed_in_local_time(web: TestClient, dossier: str) -> None:
    sign_in(web, "thanhtra")
    between = web.get(f"/dossiers/{dossier}/audit", params={"as_of": "2026-11-23T10:30"})
    assert between.status_code == 200
    state = between.text.split('id="audit-state"')[1].split("</section>")[0]
    assert "Gồm 2/7 sự kiện" in state
    assert "Chờ nhận, chuyển từ" in state and "Đang giải quyết" in state
    # The minute typed counts to its end: the event recorded at 10:00 is in.
    at_ten = web.get(f"/dossiers/{dossier}/audit", params={"as_of": "2026-11-23T10:00"}).text
    assert "Gồm 2/7 sự kiện" in at_ten
    at_nine_seconds = web.get(f"/dossiers/{dossier}/audit",
                              params={"as_of": "2026-11-23T09:59:59"}).text
    assert "Gồm 1/7 sự kiện" in at_nine_seconds
    before = web.get(f"/dossiers/{dossier}/audit", params={"as_of": "2026-11-22T09:00"})
    assert before.status_code == 200
    assert "Hồ sơ chưa tồn tại vào thời điểm này" in before.text
    read_in(web, "en")
    assert "did not exist yet" in web.get(f"/dossiers/{dossier}/audit",
                                          params={"as_of": "2026-11-22T09:00"}).text


def test_the_slider_and_the_diff(web: TestClient, dossier: str) -> None:
    sign_in(web, "thanhtra")
    page = web.get(f"/dossiers/{dossier}/audit", params={"position": "1"}).text
    assert 'type="range" name="position" min="0" max="7" value="1"' in page
    assert "Trạng thái sau sự kiện thứ 1" in page
    assert f"/dossiers/{dossier}/audit?position=2" in page  # "later", without JavaScript
    partial = web.get(f"/dossiers/{dossier}/audit", params={"position": "3"},
                      headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith('<div id="audit-replay">')
    assert "<html" not in partial.text and "Trạng thái sau sự kiện thứ 3" in partial.text

    diff = web.get(f"/dossiers/{dossier}/audit",
                   params={"position": "2", "compare_position": "1"}).text
    section = diff.split('id="audit-diff"')[1].split("</section>")[0]
    changed = re.findall(r'<td data-label="Trường">([^<]+)</td>', section)
    assert changed == ["Đơn vị đang giữ", "Cán bộ đang giữ", "Giai đoạn", "Hạn bước hiện tại",
                       "Chờ nhận, chuyển từ"]
    # Units and staff by name; not their codes and sign-in ids (issue 20).
    assert 'class="after">Phòng Hành chính tư pháp – Sở Tư pháp</td>' in section
    assert 'class="before">Nguyễn Thị Lan</td>' in section
    assert "STP-HCTP" not in section and "tiepnhan" not in section
    by_time = web.get(f"/dossiers/{dossier}/audit", params={
        "as_of": "2026-11-23T10:00", "compare_to": "2026-11-23T09:00"}).text
    assert by_time.split('id="audit-diff"')[1].split("</section>")[0].count("<tr>") == 6


@pytest.mark.parametrize(("params", "message"), [
    ({"as_of": "hôm qua"}, "Thời điểm không hợp lệ"),
    ({"as_of": "0001-01-01T00:00"}, "ngoài khoảng"),
    ({"as_of": "9999-12-31T23:59"}, "ngoài khoảng"),
    ({"compare_to": "2026-13-45T99:99"}, "Thời điểm không hợp lệ"),
    ({"position": "abc"}, "Vị trí trên thanh thời gian không hợp lệ"),
    ({"position": "-1"}, "Vị trí trên thanh thời gian không hợp lệ"),
    ({"position": "999"}, "Vị trí phải từ 0 đến 7"),
    ({"compare_position": "9"}, "Vị trí phải từ 0 đến 7"),
])
def test_hostile_moments_get_a_message_and_the_current_trail(
        web: TestClient, dossier: str, params: dict[str, str], message: str) -> None:
    sign_in(web, "thanhtra")
    response = web.get(f"/dossiers/{dossier}/audit", params=params)
    assert response.status_code == 422
    assert message in response.text
    assert "Gồm 7/7 sự kiện" in response.text


def test_unknown_dossiers_are_404(web: TestClient) -> None:
    sign_in(web, "thanhtra")
    for path in ("/dossiers/00000000-0000-0000-0000-000000000000/audit",
                 "/dossiers/not-a-uuid/audit",
                 "/dossiers/00000000-0000-0000-0000-000000000000/control-slip",
                 "/dossiers/not-a-uuid/control-slip"):
        response = web.get(path)
        assert response.status_code == 404, path
        assert "Không tìm thấy hồ sơ" in response.text


def test_control_slip_prints_one_row_per_handoff(web: TestClient, dossier: str,
                                                 app: HosoApplication,
                                                 clock: FakeClock) -> None:
    sign_in(web, "thanhtra")
    response = web.get(f"/dossiers/{dossier}/control-slip")
    assert response.status_code == 200
    html = response.text
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in html
    for column in ("Tên cơ quan giao, nhận hồ sơ", "Thời gian giao, nhận hồ sơ",
                   "Kết quả giải quyết hồ sơ", "(trước hạn/đúng hạn/quá hạn)", "Ghi chú"):
        assert column in html
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    assert len(rows) == 4
    assert 'Công dân: <span lang="vi">Trần Thị Bích Ngọc</span>' in rows[0]
    assert "Nguyễn Thị Lan" in rows[0]
    assert "Giao: 10:00 23/11/2026" in rows[1] and "Nhận: 11:00 23/11/2026" in rows[1]
    assert "Đúng hạn" in rows[1] and "Hạn: 14:30 23/11/2026" in rows[1]
    assert "Trước hạn" in rows[2] and "Trình ký" in rows[2]
    assert "Quá hạn" in rows[3] and "Ký duyệt kết quả" in rows[3]
    assert "Chưa nhận" in rows[3]  # the file is on its way back to the counter
    assert "data-print" in html and "/static/audit.css" in html
    assert readings(app, clock, "thanhtra") == [("audit", "control_slip")]


def test_other_staff_get_403_in_words(web: TestClient, dossier: str, app: HosoApplication,
                                      clock: FakeClock,
                                      caplog: pytest.LogCaptureFixture) -> None:
    sign_in(web, "hctp")
    for path in (f"/dossiers/{dossier}/audit", f"/dossiers/{dossier}/control-slip"):
        response = web.get(path)
        assert response.status_code == 403
        assert "Chỉ thanh tra viên" in response.text
        read_in(web, "en")
        assert "Only inspectors" in web.get(path).text
        read_in(web, "vi")
    refused = web.get(f"/dossiers/{dossier}/audit", headers={"HX-Request": "true"})
    assert refused.status_code == 403 and "Trần Thị Bích Ngọc" not in refused.text
    assert "access refused: user=hctp" in caplog.text
    assert readings(app, clock, "hctp") == []
    page = web.get(f"/dossiers/{dossier}")
    assert f"/dossiers/{dossier}/audit" not in page.text
    # An administrator may audit (the red-flag pages link here).
    sign_in(web, "quantri")
    assert web.get(f"/dossiers/{dossier}/audit").status_code == 200


def test_staff_readings_are_recorded_but_not_the_panel_after_an_action(
        web: TestClient, app: HosoApplication, clock: FakeClock) -> None:
    d = receive(app).dossier_id
    sign_in(web, "tiepnhan")
    assert web.get(f"/dossiers/{d}").status_code == 200
    assert web.get(f"/dossiers/{d}/receipt").status_code == 200
    acted = web.post(f"/dossiers/{d}/transfer", data={"version": "1", "to_unit": "STP-HCTP"},
                     headers={"HX-Request": "true"})
    assert acted.status_code == 200
    assert readings(app, clock, "tiepnhan") == [("work", "dossier"), ("work", "receipt")]
    [first, _] = app.readings("tiepnhan", clock().astimezone(HCMC).date())
    assert UUID(first.dossier_id) == d and first.viewer_unit == "TTHCC"


@pytest.mark.parametrize("path", ["/dossiers/00000000-0000-0000-0000-000000000000/audit",
                                  "/dossiers/00000000-0000-0000-0000-000000000000/control-slip"])
def test_strangers_are_sent_to_sign_in(web: TestClient, path: str) -> None:
    response = web.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=")


def test_the_audit_page_lists_who_opened_the_file(web: TestClient, dossier: str,
                                                  app: HosoApplication) -> None:
    sign_in(web, "hctp")
    assert web.get(f"/dossiers/{dossier}").status_code == 200
    sign_in(web, "thanhtra")
    models = web.app.state.services.read_models  # type: ignore[attr-defined]
    assert web.get(f"/dossiers/{dossier}/audit").status_code == 200
    # The readings model follows on its own; wait until it has the clerk's and this view.
    deadline = time.monotonic() + 10
    while len(models.readings.readings_of(dossier)) < 2:
        assert time.monotonic() < deadline, "readings never arrived"
        time.sleep(0.02)
    section = web.get(f"/dossiers/{dossier}/audit").text.split('id="readings"')[1].split(
        "</section>")[0]
    assert "Lê Thị Hoa" in section and "Công việc" in section  # the specialist, at work
    assert "Mai Văn Chính" in section and "Thanh tra" in section  # the inspector, auditing
