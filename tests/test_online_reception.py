"""How long the counter takes to answer online submissions (issue 16): measured in office
hours per receiving unit on /analytics, and a red flag for a counter sitting on them."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

from starlette.testclient import TestClient

from domain.application import Attachment, HosoApplication
from domain.documents import check_upload
from domain.office_time import OfficeClock
from domain.sample_pdf import simple_pdf
from projections.analytics import online_reception
from projections.runners import ReadModels
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import PROCEDURE
from tests.test_red_flags import Flags, codes, flags  # noqa: F401 (the fixture)
from tests.web_helpers import PASSWORD, sign_in_as


def submitted_online(app: HosoApplication, key: str) -> UUID:
    procedure = app.directory.procedure(PROCEDURE)
    return app.submit_online(
        procedure_code=PROCEDURE, applicant_name="Lâm Văn Phúc", applicant_phone="0971234561",
        applicant_address="TP.HCM", applicant_email="phuc@example.vn",
        result_delivery="counter",
        attachments=[Attachment(d.name_vi, check_upload(
            io.BytesIO(simple_pdf(1, text=f"{key} {n}")), f"{n}.pdf"))
            for n, d in enumerate(procedure.document_list) if d.required],
        confirm_contact=lambda _: None, idempotency_key=key).dossier_id


def test_the_counters_answer_time_is_measured_and_a_late_one_flagged(
        store: Store, app: HosoApplication, clock: FakeClock, flags: Flags,  # noqa: F811
        serve: Callable[..., TestClient]) -> None:
    # Monday 09:00: three online submissions.
    quick, slow, ignored = (submitted_online(app, f"online-{k}")
                            for k in ("quick", "slow", "ignored"))
    clock.advance(hours=2)  # 11:00: one received two office hours later
    app.accept_online(quick, expected_version=None, actor_id="tiepnhan")
    found = flags()
    assert found["online_waiting"].dossiers == []  # nobody has waited a working day yet
    # Wednesday 15:00 (Tuesday 24 Nov 2026 is Vietnam Cultural Day): one refused after about
    # 12 office hours, one still unanswered.
    clock.advance(days=2, hours=4)
    app.refuse_to_receive(slow, expected_version=None, actor_id="tiepnhan",
                          reasons="Ảnh chụp CCCD bị mờ.")
    found = flags()
    assert codes(found["online_waiting"]) == {str(slow), str(ignored)}
    details = {d.dossier_id: d.detail.vi for d in found["online_waiting"].dossiers}
    assert "bộ phận một cửa trả lời sau" in details[str(slow)]
    assert "bộ phận một cửa chưa trả lời sau" in details[str(ignored)]

    models = ReadModels(store, app)
    try:
        models.catch_up()
        rows = models.review.online_submissions(clock() - timedelta(days=7))
        [line] = online_reception(rows, OfficeClock(app.calendar), clock())
    finally:
        models.close()
    assert (line.unit_code, line.submitted, line.accepted, line.refused, line.waiting) == (
        "TTHCC", 3, 1, 1, 1)
    assert line.median_hours is not None and line.oldest_waiting_hours is not None
    assert 2.0 <= line.median_hours <= 12.5 and line.oldest_waiting_hours > 8.0

    web = serve("thanhtra")
    sign_in_as(web, "thanhtra", PASSWORD)
    page = web.get("/analytics").text
    table = page.split('id="online-figures"')[1].split("</section>")[0]
    assert "Hồ sơ nộp trực tuyến chờ bộ phận một cửa" in table
    assert "Trung tâm Phục vụ hành chính công TP.HCM" in table
    red = web.get("/red-flags").text
    assert "Hồ sơ trực tuyến chờ lâu" in red


def test_acceptance_sets_the_due_dates_the_analytics_judge_by(
        store: Store, app: HosoApplication, clock: FakeClock) -> None:
    """The review model keeps the due date and the counter's step deadline acceptance set
    (the clock starts then), not the ones computed at submission."""
    dossier = submitted_online(app, "online-late-accept")
    clock.advance(days=2, hours=4)  # accepted two days later: a later due date
    app.accept_online(dossier, expected_version=None, actor_id="tiepnhan")
    accepted = app.dossier(dossier)
    models = ReadModels(store, app)
    try:
        models.catch_up()
        [row] = models.review.rows("review_dossier", "dossier_id = %(d)s", {"d": str(dossier)})
        [step] = models.review.rows("review_step", "dossier_id = %(d)s AND left_at IS NULL",
                                    {"d": str(dossier)})
    finally:
        models.close()
    assert row["due_date"] == accepted.due_date and row["first_due_date"] == accepted.due_date
    assert step["step_due_at"] == accepted.step_due_at
