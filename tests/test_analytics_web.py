"""Analytics pages for inspectors, and the public statistics anyone may read, on both stores."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.organisation import STAFF
from projections.runners import ReadModels
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import APPLICANT, PROCEDURE
from tests.test_analytics import Walk, local
from tests.web_helpers import PASSWORD, change_settings, sign_in_as
from web.accounts import StaffAccounts
from web.app import create_app

PERIOD = "from=2026-10-05&to=2026-10-23"


@pytest.fixture
def web(store: Store, app: HosoApplication, accounts: StaffAccounts, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.delenv("HOSO_MIN_SAMPLE", raising=False)
    for user in ("tiepnhan", "thanhtra", "quantri"):
        accounts.set_password(user, PASSWORD)
    clock.now = local(23, 10, 10)
    received = local(5, 10, 8)
    twice = Walk(app, received).at_specialist(local(5, 10, 9))
    twice.supplement(local(6, 10, 9), local(7, 10, 9)).supplement(
        local(7, 10, 10), local(8, 10, 9), justification="Bản sao bổ sung bị mờ")
    twice.sign(local(9, 10, 9))
    Walk(app, received).at_specialist(local(5, 10, 9)).sign(
        local(8, 10, 10)).delivered_and_rated(local(12, 10, 9), 4)
    Walk(app, received).at_specialist(local(5, 10, 9))
    Walk(app, local(22, 10, 9))
    models = ReadModels(store, app)
    models.catch_up()
    models.close()
    with TestClient(create_app(store, app, accounts)) as client:
        yield client


def sign_in(client: TestClient, user: str) -> None:
    sign_in_as(client, user, PASSWORD)


def parsed(response_text: str) -> list[list[str]]:
    assert response_text.startswith("\ufeff"), "Excel needs the byte-order mark"
    return list(csv.reader(io.StringIO(response_text[1:])))


def test_clerks_are_refused_and_strangers_sent_to_sign_in(web: TestClient) -> None:
    assert web.get("/analytics", follow_redirects=False).status_code == 303
    assert web.get("/analytics/units.csv", follow_redirects=False).status_code == 303
    sign_in(web, "tiepnhan")
    for path in ("/analytics", f"/analytics/units.csv?{PERIOD}"):
        refused = web.get(path)
        assert refused.status_code == 403
        assert "thanh tra và quản trị viên" in refused.text
    assert 'href="/analytics"' not in web.get("/queue").text


@pytest.mark.parametrize("user", ["thanhtra", "quantri"])
def test_inspectors_and_administrators_see_tables_and_charts(web: TestClient, user: str) -> None:
    sign_in(web, user)
    html = web.get(f"/analytics?{PERIOD}").text
    assert 'href="/analytics"' in html  # in the menu
    assert "Chỉ số theo Quyết định 766/QĐ-TTg" in html
    assert "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam" in html
    assert "Lê Thị Hoa" in html  # officers are named for inspectors
    assert html.count('<svg class="chart"') >= 3 and "<title>" in html
    assert "n=2" in html  # every rate beside its sample
    assert "mẫu quá nhỏ" in html  # 2 resolved dossiers are below the default 20
    assert "giờ làm việc" in html  # the measure is explained on the page
    assert 'href="/analytics/official-procedures.csv?from=2026-10-05&amp;to=2026-10-23"' in html


def test_a_small_minimum_sample_ranks(web: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    change_settings(web, min_sample=1)
    sign_in(web, "thanhtra")
    rows = parsed(web.get(f"/analytics/official-procedures.csv?{PERIOD}").text)
    assert rows[1][2] == "1"


def test_csv_exports_have_a_header_and_the_rows(web: TestClient) -> None:
    sign_in(web, "thanhtra")
    response = web.get(f"/analytics/official-procedures.csv?{PERIOD}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    header, *rows = parsed(response.text)
    assert header == [
        "Mã thủ tục / Procedure code", "Thủ tục / Procedure", "Hạng / Rank",
        "Đã giải quyết / Resolved (n)", "Đúng hạn QĐ 766 / On time 766 (share)",
        "Đúng hạn QĐ 766 / On time 766 (n)",
        "TG giải quyết TB QĐ 766 (ngày LV) / Average days 766",
        "Đúng hạn hoso / On time hoso (share)", "TG xử lý TB hoso (ngày LV) / Average days hoso",
    ]
    # Two resolved: one with two supplement requests (late for 766), one on time; 2 and 3
    # working days.
    [row] = rows
    assert row[:8] == [PROCEDURE, "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
                       "mẫu quá nhỏ / sample too small", "2", "0.5000", "2", "2.50", "1.0000"]

    steps = parsed(web.get(f"/analytics/steps.csv?{PERIOD}").text)
    assert steps[0][:4] == ["Mã thủ tục / Procedure code", "Bước / Step",
                            "Mã đơn vị / Unit code", "Bước quy trình / Route position"]
    assert {(r[2], r[3]) for r in steps[1:]} == {("TTHCC", "1"), ("STP-HCTP", "2"),
                                                 ("STP-BGD", "3"), ("TTHCC", "4")}
    for table in ("procedures", "units", "officers", "official-units", "weeks",
                  "distributions"):
        exported = parsed(web.get(f"/analytics/{table}.csv?{PERIOD}").text)
        assert len(exported) > 1 and all(len(r) == len(exported[0]) for r in exported), table
    assert web.get(f"/analytics/nothing.csv?{PERIOD}").status_code == 404


def test_filters_are_checked(web: TestClient) -> None:
    sign_in(web, "thanhtra")
    assert web.get("/analytics?from=23-10-2026").status_code == 400
    assert web.get("/analytics?from=2026-10-20&to=2026-10-01").status_code == 400
    assert web.get("/analytics?unit=NOWHERE").status_code == 400
    filtered = web.get(f"/analytics/units.csv?{PERIOD}&unit=STP-HCTP").text
    assert [r[0] for r in parsed(filtered)[1:]] == ["STP-HCTP"]


def test_public_statistics_show_figures_and_no_personal_data(web: TestClient) -> None:
    web.cookies.clear()
    page = web.get("/stats")
    assert page.status_code == 200
    html = page.text
    assert "10/2026" in html and "Trung tâm Phục vụ hành chính công TP.HCM" in html
    assert "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam" in html
    assert "50,0 %" in html and "n=2" in html
    assert '4,0 <span class="n">n=1</span>' in html  # one citizen rated 4 of 5
    assert '<svg class="chart"' in html
    data = web.get("/open-data/summary.csv")
    assert data.status_code == 200
    header, *rows = parsed(data.text)
    assert header[:7] == ["month", "receiving_unit_code", "receiving_unit_name",
                          "procedure_code", "procedure_name", "received", "resolved"]
    assert header[7:] == ["resolved_on_time_766", "on_time_share_766",
                          "average_handling_working_days_766", "ratings",
                          "average_satisfaction", "small_sample"]
    assert rows == [["2026-10", "TTHCC", "Trung tâm Phục vụ hành chính công TP.HCM", PROCEDURE,
                     "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam", "4", "2", "1",
                     "0.5000", "2.50", "1", "4.00", "true"]]
    private = [*APPLICANT.values(), *(s.full_name for s in STAFF), *(s.user_id for s in STAFF)]
    for text in (html, data.text):
        for value in private:
            assert value not in text, value
    # Linked from every page a citizen sees.
    assert 'href="/stats"' in web.get("/signin").text


def test_figures_follow_new_events(web: TestClient, app: HosoApplication,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    sign_in(web, "thanhtra")
    before = parsed(web.get(f"/analytics/official-units.csv?{PERIOD}").text)
    assert before[1][3] == "2"
    walk = Walk(app, local(5, 10, 8)).at_specialist(local(5, 10, 9)).sign(local(12, 10, 9))
    review = web.app.state.services.read_models.review  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while not review.has_tracking_id(app.name, walk.last) and time.monotonic() < deadline:
        time.sleep(0.02)
    # Within a minute the same figures are served again…
    assert parsed(web.get(f"/analytics/official-units.csv?{PERIOD}").text)[1][3] == "2"
    # …after it, the new event counts.
    change_settings(web, analytics_max_age=0)
    after = parsed(web.get(f"/analytics/official-units.csv?{PERIOD}").text)
    assert after[1][3] == "3"
