"""What a newcomer's walk through every page found (issue 20), one test per defect: each
failed before its fix."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from tests.conftest import PUBLIC_URL, FakeClock
from tests.helpers import receive, walk_to_signed
from tests.test_rating_web import GOOD, delivered, shown
from tests.test_web import receive_form
from tests.web_helpers import PASSWORD, read_in, sign_in_as
from web import formatting, i18n


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("tiepnhan", "hctp", "gd.stp", "buudien", **PUBLIC_URL)


def test_the_post_office_agent_lands_on_the_results_waiting_for_delivery(
        web: TestClient, app: HosoApplication) -> None:
    """Results handed to the post are held by the post office, by no one in person: the agent
    lands on the post's own work list, where they wait to be delivered (it was an empty desk;
    then the unit's list; since issue 23 the post's piles)."""
    codes = []
    for _ in range(3):
        dossier_id = receive(app).dossier_id
        walk_to_signed(app, dossier_id)
        shown(web, app.dispatch(dossier_id, expected_version=None, actor_id="tiepnhan",
                                method="post", postal_tracking_number="EB123456789VN"))
        codes.append(app.dossier(dossier_id).code)
    sign_in_as(web, "buudien", PASSWORD)
    landing = web.get("/")
    assert landing.status_code == 200
    for code in codes:
        assert code in landing.text
    assert "Cần phát kết quả (3)" in landing.text


def test_the_thanks_for_a_rating_is_said_once_in_english(web: TestClient,
                                                          app: HosoApplication) -> None:
    _, path = delivered(web, app)
    read_in(web, "en")
    page = web.post(f"{path}/rating", data=GOOD).text
    assert page.count("Thank you for your rating!") == 1
    assert "Your opinion helps us serve you better." in page


def test_a_weekend_inside_tet_is_named_tet_in_english_too() -> None:
    """6–7 Feb 2027 fall on a Saturday and a Sunday inside Tết: the Vietnamese names Tết, and
    so must the English (it said "Saturday", "Sunday")."""
    with i18n.using("en"):
        saturday = formatting.day_off(date(2027, 2, 6), "Tết Nguyên Đán")
        sunday = formatting.day_off(date(2027, 2, 7), "Tết Nguyên Đán")
        plain_saturday = formatting.day_off(date(2027, 3, 6), "Thứ Bảy")
    assert "Lunar New Year" in saturday and "Lunar New Year" in sunday
    assert plain_saturday == "Saturday"


def test_the_cut_off_says_treated_as_received_on_the_next_working_day(
        web: TestClient, app: HosoApplication, clock: FakeClock) -> None:
    """Received on Friday after 15:00: treated as received on Monday, which is not counted (it
    read "counted from Monday", which a reader takes to include Monday)."""
    clock.now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # Friday 16:00 in Ho Chi Minh City
    outcome = receive(app)
    path = f"/t/{app.dossier(outcome.dossier_id).tracking_token}"
    shown(web, outcome)
    citizen = TestClient(web.app)
    vi = " ".join(citizen.get(path).text.split())
    assert re.search(r"Tiếp nhận ngày 27/11/2026, sau 15 giờ, nên coi như tiếp nhận ngày "
                     r"30/11/2026 \(ngày làm việc tiếp theo\), ngày này không tính\.", vi)
    read_in(citizen, "en")
    en = " ".join(citizen.get(path).text.split())
    assert re.search(r"after the 15:00 cut-off, so treated as received on 30 Nov 2026 \(the "
                     r"next working day\), which is not counted\.", en)


def test_dates_are_typed_day_first_whatever_the_browser_language(
        web: TestClient, app: HosoApplication) -> None:
    """The browser's own date pickers follow the browser's locale (mm/dd/yyyy in an English
    one): date fields are text, day first, with the form as the hint, and what is typed day
    first is what is recorded."""
    sign_in_as(web, "tiepnhan", PASSWORD)
    form = web.get("/dossiers/new").text
    assert 'type="datetime-local"' not in form and 'type="date"' not in form
    assert 'name="occurred_at"' in form and 'placeholder="dd/mm/yyyy hh:mm"' in form
    response = web.post("/dossiers", data=receive_form(occurred_at="23/11/2026 08:30"))
    assert response.status_code == 200, response.text
    dossier_id = str(response.url).split("/")[-2]
    received = app.dossier(UUID(dossier_id))
    assert received.received_at == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)  # 08:30 local
    panel = web.get(f"/dossiers/{dossier_id}").text
    assert 'type="datetime-local"' not in panel and 'type="date"' not in panel
    assert formatting.parse_day("15/12/2026") == date(2026, 12, 15)


def test_the_link_under_the_qr_code_never_breaks_inside_the_token(web: TestClient) -> None:
    sign_in_as(web, "tiepnhan", PASSWORD)
    response = web.post("/dossiers", data=receive_form())
    link = re.search(r'<a href="(https://hoso\.example\.vn/t/([A-Za-z0-9_-]{22}))" '
                     r'class="link-text">(.*?)</a>', response.text)
    assert link, "the receipt prints the public link"
    assert (f'<span class="unbroken">https://hoso.example.vn/t/</span><wbr>'
            f'<span class="unbroken">{link.group(2)}</span>') == link.group(3)
    css = (Path(__file__).resolve().parent.parent / "web" / "static" / "hoso.css").read_text()
    assert re.search(r"\.link-text \.unbroken \{ white-space:nowrap; \}", css)
    assert not re.search(r"\.link-text \{[^}]*break-all", css)


def test_the_control_slip_is_form_06_with_the_national_header(
        serve: Callable[..., TestClient], app: HosoApplication) -> None:
    """Circular 03/2025/TT-VPCP, Annex I, form 06: the issuing agency, the national name and
    motto, and the form's number, in the reader's language."""
    web = serve("thanhtra", **PUBLIC_URL)
    dossier_id = receive(app).dossier_id
    sign_in_as(web, "thanhtra", PASSWORD)
    slip = web.get(f"/dossiers/{dossier_id}/control-slip").text
    head = slip.split('<article class="slip">')[1].split("<dl")[0]
    assert "Mẫu số 06 — Thông tư 03/2025/TT-VPCP" in head
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in head and "Độc lập - Tự do - Hạnh phúc" in head
    assert "Trung tâm Phục vụ hành chính công TP.HCM" in head  # the agency
    read_in(web, "en")
    english = web.get(f"/dossiers/{dossier_id}/control-slip").text
    head = english.split('<article class="slip">')[1].split("<dl")[0]
    assert "Form 06 — Circular 03/2025/TT-VPCP" in head
    assert "SOCIALIST REPUBLIC OF VIET NAM" in head
    assert "Independence - Freedom - Happiness" in head
