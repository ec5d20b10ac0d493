"""A citizen's feedback (phản ánh, kiến nghị): its whole life on both stores, and its rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.errors import AccessDenied, DomainError
from domain.feedback import Feedback, Handler
from domain.organisation import Directory
from domain.working_days import WorkingCalendar
from projections.feedback import escalate_overdue
from tests.conftest import FakeClock
from tests.helpers import APPLICANT, receive
from tests.web_helpers import PASSWORD, sign_in_as
from web.feedback import feedback_totals

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday, 09:00 in Ho Chi Minh City
DIRECTORY = Directory()


def submitted(about_payment: bool = False) -> Feedback:
    return Feedback.submit(
        request_key=uuid4().hex, dossier_id=uuid4(),
        procedure=DIRECTORY.procedure("2.000488"), about_unofficial_payment=about_payment,
        text="Hồ sơ chậm, không ai trả lời điện thoại.", directory=DIRECTORY,
        calendar=WorkingCalendar(), now=NOW)


def test_a_case_goes_to_the_agency_head_or_to_the_inspectorate_for_a_payment() -> None:
    head = submitted()
    assert (head.unit_code, head.handler) == ("STP-BGD", Handler.HEAD)
    # 10 working days, the receipt day and 24/11 (Vietnamese Culture Day) not counted
    assert str(head.due_on) == "2026-12-08"
    payment = submitted(about_payment=True)
    assert (payment.unit_code, payment.handler) == ("TTRA", Handler.INSPECTORATE)


def test_only_the_assigned_unit_answers_and_only_an_overdue_case_escalates() -> None:
    case = submitted()
    with pytest.raises(AccessDenied) as other_unit:
        case.answer_as(DIRECTORY.member("gd.stc"), "Đã xử lý.", NOW)
    assert other_unit.value.en == "Another unit answers this feedback."
    with pytest.raises(DomainError) as early:
        case.escalate(DIRECTORY, WorkingCalendar(), NOW)
    assert early.value.en == "This feedback is not overdue."
    with pytest.raises(DomainError) as unanswered:
        case.close_by_citizen("t", "t", NOW)
    assert "once it has been answered" in unanswered.value.en


def feedback_rows(html: str) -> list[list[str]]:
    """The cells of the feedback figures' table, as a reader sees them."""
    section = html.split('id="feedback-figures"', 1)[1].split("</section>", 1)[0]
    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[" ".join(re.sub(r"<[^>]+>", " ", cell).split())
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def _case_id(html: str) -> str:
    match = re.search(r'/feedback/([0-9a-f-]{36})/answer', html)
    assert match, "the answering unit's page has an answer form"
    return match.group(1)


def test_a_complaint_s_whole_life(serve: Callable[..., TestClient], app: HosoApplication,
                                  clock: FakeClock) -> None:
    web = serve("gd.stp", "thanhtra", "tiepnhan")
    received = receive(app)
    dossier = app.dossier(received.dossier_id)
    assert web.app.state.services.read_models.wait(received.notification_id)  # type: ignore[attr-defined]
    page = f"/t/{dossier.tracking_token}"

    # The citizen writes from the public page (a double submit is one case).
    form = {"text": "Đã quá hẹn mà chưa có kết quả.", "request_key": "k" * 32}
    sent = web.post(f"{page}/feedback", data=form, follow_redirects=False)
    assert sent.status_code == 303
    web.post(f"{page}/feedback", data=form, follow_redirects=False)
    shown = web.get(page).text
    assert shown.count("Đã quá hẹn mà chưa có kết quả.") == 1
    assert "Đang chờ trả lời" in shown and "08/12/2026" in shown
    empty = web.post(f"{page}/feedback", data={"text": " ", "request_key": "e" * 32})
    assert empty.status_code == 422 and "Vui lòng nhập nội dung phản ánh" in empty.text

    # The agency's head sees what was written, never the dossier or who wrote it.
    sign_in_as(web, "gd.stp", PASSWORD)
    desk = web.get("/feedback").text
    assert "Đã quá hẹn mà chưa có kết quả." in desk
    for personal in (dossier.code, APPLICANT["applicant_name"], APPLICANT["applicant_phone"],
                     str(dossier.id)):
        assert personal not in desk
    case_id = _case_id(desk)
    # The clerk who received the file (the official concerned) reads neither the case nor, on
    # the dossier's own pages, that a complaint was made.
    sign_in_as(web, "tiepnhan", PASSWORD)
    assert web.get("/feedback").status_code == 403
    for path in ("", "/receipt"):
        staff_page = web.get(f"/dossiers/{dossier.id}{path}")
        assert staff_page.status_code == 200
        assert "Đã quá hẹn mà chưa có kết quả." not in staff_page.text
        assert "phản ánh" not in staff_page.text.lower()
    assert web.post(f"/feedback/{case_id}/answer", data={"answer": "x"}).status_code == 403
    sign_in_as(web, "gd.stp", PASSWORD)
    clock.advance(days=2)  # answered on Wednesday 25/11: one working day (24/11 is a day off)
    answered = web.post(f"/feedback/{case_id}/answer",
                        data={"answer": "Xin lỗi ông/bà; kết quả trả ngày 25/11."},
                        follow_redirects=False)
    assert answered.status_code == 303

    # The answer shows on the citizen's page; they close the case.
    web.cookies.clear()
    web.headers.pop("X-CSRF-Token", None)
    shown = web.get(page).text
    assert "Xin lỗi ông/bà; kết quả trả ngày 25/11." in shown and "Đã trả lời" in shown
    closed = web.post(f"{page}/feedback/{case_id}/close", follow_redirects=False)
    assert closed.status_code == 303
    assert "Đã đóng" in web.get(page).text
    assert web.post(f"{page}/feedback/{case_id}/close").status_code == 422
    assert web.post(f"/t/{'x' * 22}/feedback/{case_id}/close").status_code == 404

    # A second case goes unanswered past its deadline: escalated to the inspectorate.
    web.post(f"{page}/feedback", data={"text": "Vẫn chưa có.", "request_key": "m" * 32})
    models = web.app.state.services.read_models  # type: ignore[attr-defined]
    clock.advance(days=16)
    assert escalate_overdue(app, models.feedback) == 1
    assert escalate_overdue(app, models.feedback) == 0  # once
    # The server follows the log itself: wait for it to apply the escalation (the last event).
    assert models.wait_for_feedback(app.recorder.max_notification_id() or 0)
    assert "đã chuyển lên thanh tra" in web.get(page).text
    sign_in_as(web, "thanhtra", PASSWORD)
    desk = web.get("/feedback").text
    assert "Vẫn chưa có." in desk and "Chuyển lên do quá hạn" in desk
    assert dossier.code not in desk

    # Handling times: one answered on time in one working day, one escalated — counted as
    # the figures say, and shown in the inspectors' analytics and the public statistics
    # (received, answered, on time, median and 90% in working days, escalated, overdue).
    figures = feedback_totals(web.app.state.services, NOW)  # type: ignore[attr-defined]
    assert (figures.received, figures.answered, figures.answered_on_time, figures.escalated,
            figures.median_days, figures.p90_days) == (2, 1, 1, 1, 1.0, 1.0)
    analytics = web.get("/analytics?from=2026-11-01&to=2026-12-31").text
    assert feedback_rows(analytics) == [
        ["Ban Giám đốc Sở Tư pháp", "1", "1", "1", "1,0", "1,0", "0", "0"],
        ["Thanh tra Thành phố", "1", "0", "0", "—", "—", "1", "0"]]
    web.cookies.clear()
    assert feedback_rows(web.get("/stats").text) == [
        ["Toàn thành phố", "2", "1", "1", "1,0", "1,0", "1", "0"]]
