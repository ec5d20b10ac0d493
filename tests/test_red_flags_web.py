"""The red-flag page, as inspectors and others see it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from tests.conftest import FakeClock
from tests.helpers import receive
from tests.test_web import sign_in
from tests.web_helpers import change_settings, read_in


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("thanhtra", "quantri", "tiepnhan")


def settle(client: TestClient, notification_id: int) -> None:
    assert client.app.state.services.read_models.wait(notification_id, timeout=10)  # type: ignore[attr-defined]


def test_an_inspector_sees_an_off_route_transfer_explained(
        web: TestClient, app: HosoApplication) -> None:
    d = receive(app)
    outcome = app.transfer(d.dossier_id, expected_version=None, actor_id="tiepnhan",
                           to_unit="STC-DKKD", note="Xin ý kiến phối hợp")
    settle(web, outcome.notification_id)
    sign_in(web, "thanhtra")
    page = web.get("/red-flags")
    assert page.status_code == 200
    flag_page = web.get("/red-flags/off_route").text
    section = flag_page.split('class="list flag-files"')[1]
    code = app.dossier(d.dossier_id).code
    assert f'<a href="/dossiers/{d.dossier_id}/audit">{code}</a>' in section
    # Units by name, in the reader's language (issue 20: not by their codes).
    assert ("Chuyển Trung tâm Phục vụ hành chính công TP.HCM → Phòng Đăng ký kinh doanh – Sở "
            "Tài chính ngoài quy trình lúc") in section
    assert "không nằm trong quy trình của thủ tục" in flag_page  # the explanation
    assert "1 hồ sơ tiếp nhận trong kỳ" in page.text  # the summary
    read_in(web, "en")
    english = web.get("/red-flags/off_route").text.split('class="list flag-files"')[1]
    assert re.search(r"Sent HCMC Public Administrative Service Centre → .+ off the route at "
                     r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d", english)


def test_the_unit_filter_and_an_empty_period(web: TestClient, app: HosoApplication,
                                             clock: FakeClock) -> None:
    d = receive(app)
    outcome = app.transfer(d.dossier_id, expected_version=None, actor_id="tiepnhan",
                           to_unit="STC-DKKD", note="Phối hợp")
    settle(web, outcome.notification_id)
    sign_in(web, "quantri")
    code = app.dossier(d.dossier_id).code
    assert code in web.get("/red-flags/off_route?unit=STC-DKKD").text
    assert code not in web.get("/red-flags/off_route?unit=STP-HCTP").text
    empty = web.get("/red-flags?from=2020-01-01&to=2020-02-01")
    assert "0 hồ sơ tiếp nhận trong kỳ" in empty.text
    assert code not in web.get("/red-flags/off_route?from=2020-01-01&to=2020-02-01").text


def test_bad_dates_are_refused_in_words(web: TestClient) -> None:
    sign_in(web, "thanhtra")
    page = web.get("/red-flags?from=hôm-qua")
    assert page.status_code == 400
    assert "không phải là ngày hợp lệ" in page.text
    backwards = web.get("/red-flags?from=2026-11-20&to=2026-11-01")
    assert backwards.status_code == 400
    assert "Ngày kết thúc phải sau ngày bắt đầu" in backwards.text


def test_clerks_and_strangers_may_not_see_red_flags(web: TestClient) -> None:
    stranger = web.get("/red-flags", follow_redirects=False)
    assert stranger.status_code == 303
    assert stranger.headers["location"].startswith("/signin")
    sign_in(web, "tiepnhan")
    refused = web.get("/red-flags")
    assert refused.status_code == 403
    assert "dành cho thanh tra và quản trị viên" in refused.text
    assert 'href="/red-flags"' not in refused.text.split("<main")[0]  # not in a clerk's menu


def test_an_officers_history_lists_what_they_did_in_the_period(
        web: TestClient, app: HosoApplication, clock: FakeClock) -> None:
    first = receive(app)
    clock.advance(days=2)
    second = receive(app)
    outcome = app.transfer(second.dossier_id, expected_version=None, actor_id="tiepnhan",
                           to_unit="STP-HCTP")
    settle(web, outcome.notification_id)
    sign_in(web, "thanhtra")
    page = web.get("/officers/tiepnhan")
    assert page.status_code == 200
    assert "Lịch sử thao tác của Nguyễn Thị Lan" in page.text
    assert "<li>Tiếp nhận hồ sơ: 2</li>" in page.text
    assert "<li>Chuyển hồ sơ: 1</li>" in page.text
    read_in(web, "en")
    english = web.get("/officers/tiepnhan").text
    assert "<li>Dossier received: 2</li>" in english
    assert "<li>Dossier transferred: 1</li>" in english
    read_in(web, "vi")
    codes = [app.dossier(d.dossier_id).code for d in (first, second)]
    # Newest first; a period that ends before the second receipt shows only the first.
    assert page.text.index(codes[1]) < page.text.index(codes[0])
    day_one = clock().date() - timedelta(days=2)
    narrow = web.get(f"/officers/tiepnhan?from={day_one}&to={day_one}")
    assert codes[0] in narrow.text and codes[1] not in narrow.text
    unit = web.get("/units/STP-HCTP")
    assert "Không có thao tác nào trong kỳ" in unit.text  # nobody there acted yet
    assert web.get("/officers/nobody").status_code == 404
    sign_in(web, "tiepnhan")
    assert web.get("/officers/tiepnhan").status_code == 403


def test_the_minimum_sample_setting_reaches_the_red_flags_too(
        web: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """HOSO_MIN_SAMPLE used to change the analytics' ranking and not the red flags' rules."""
    sign_in(web, "thanhtra")
    assert "ít nhất 20 hồ sơ" in web.get("/red-flags").text
    change_settings(web, min_sample=7)
    page = web.get("/red-flags?from=2026-01-01&to=2026-12-31").text
    assert "ít nhất 7 hồ sơ" in page and "ít nhất 20 hồ sơ" not in page
