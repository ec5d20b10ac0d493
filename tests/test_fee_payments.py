"""Issue 19.2: fees paid at the counter as dossier events, and financial obligations fixed
during processing (portal status 6) for which the clock waits exactly as for documents."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.dossier import Action, Dossier, Stage
from domain.errors import DomainError
from domain.organisation import Directory
from domain.portal import PortalStatus, portal_report
from domain.working_days import WorkingCalendar
from tests.conftest import PUBLIC_URL, FakeClock
from tests.helpers import APPLICANT, PROCEDURE, hand_over, receive
from tests.test_dossier import RECEPTION, SPECIALIST, at, new_events, received, refused, transferred
from tests.web_helpers import PASSWORD, read_in, sign_in_as

calendar = WorkingCalendar()
PROCEDURE_OF = Directory().procedure(PROCEDURE)
NBSP = "\u00a0"


def test_the_counter_records_the_fee_due_at_reception() -> None:
    dossier = received()
    assert dossier.amount_owed_vnd == 200_000
    assert Action.RECORD_PAYMENT in dossier.allowed_actions(RECEPTION)
    dossier.collect_events()
    dossier.record_payment(amount_vnd=200_000, method=_cash(), receipt_number="BL-0001",
                           actor=RECEPTION, calendar=calendar, **at(0.1))
    [paid] = new_events(dossier)
    assert isinstance(paid, Dossier.FeePaid)
    assert (paid.amount_vnd, paid.method, paid.receipt_number, paid.resumed) == (
        200_000, "cash", "BL-0001", False)
    assert dossier.amount_owed_vnd == 0
    assert dossier.stage is Stage.RECEIVED
    with refused("Không có khoản phí"):
        dossier.record_payment(amount_vnd=1, method=_cash(), receipt_number="BL-0002",
                               actor=RECEPTION, calendar=calendar, **at(0.2))


def test_payments_are_whole_dong_with_a_receipt_number() -> None:
    dossier = received()
    for amount in (0, -5, 1.5):
        with refused("Số tiền"):
            dossier.record_payment(amount_vnd=amount, method=_cash(),  # type: ignore[arg-type]
                                   receipt_number="BL-1", actor=RECEPTION, calendar=calendar,
                                   **at(0.1))
    with refused("số biên lai"):
        dossier.record_payment(amount_vnd=200_000, method=_cash(), receipt_number=" ",
                               actor=RECEPTION, calendar=calendar, **at(0.1))


def test_an_obligation_requested_midway_moves_the_due_date_by_the_days_waited() -> None:
    dossier = transferred(received(), RECEPTION, "STP-HCTP", 1)
    dossier.record_payment(amount_vnd=200_000, method=_cash(), receipt_number="BL-7",
                           actor=RECEPTION, calendar=calendar, **at(1.5))
    step_due = dossier.step_due_at
    assert step_due is not None
    dossier.collect_events()
    dossier.request_payment(amount_vnd=1_250_000, reason="Lệ phí trước bạ theo thông báo thuế",
                            actor=SPECIALIST, **at(2))
    assert dossier.stage is Stage.AWAITING_PAYMENT
    assert portal_report(dossier.stage, overdue=False, extensions=0).status \
        is PortalStatus.FINANCIAL_OBLIGATION_REQUESTED == 6
    assert portal_report(dossier.stage, overdue=False, extensions=0).paused
    with refused("đang chờ nộp nghĩa vụ tài chính; chưa thể ký"):
        dossier.sign(decision_number="1", decision_title="x", actor=SPECIALIST,
                     unlock_key=lambda: None, **at(3))  # type: ignore[arg-type,return-value]
    with refused("đang chờ công dân nộp nghĩa vụ tài chính"):
        dossier.request_supplement(missing_items=["x"], reason="y", justification="",
                                   actor=SPECIALIST, procedure=PROCEDURE_OF, **at(3))
    # A part payment changes nothing on the clock.
    dossier.record_payment(amount_vnd=250_000, method=_cash(), receipt_number="BL-8",
                           actor=RECEPTION, calendar=calendar, **at(24))
    assert dossier.stage is Stage.AWAITING_PAYMENT and dossier.amount_owed_vnd == 1_000_000
    # Paid in full on Friday 27 Nov: Mon 23 → Fri 27 is 3 working days (24 Nov a holiday).
    dossier.record_payment(amount_vnd=1_000_000, method=_online(), receipt_number="VNP-1",
                           actor=RECEPTION, calendar=calendar, **at(24 * 4))
    requested, part, settled = new_events(dossier)
    assert isinstance(requested, Dossier.PaymentRequested)
    assert isinstance(part, Dossier.FeePaid) and not part.resumed
    assert isinstance(settled, Dossier.FeePaid) and settled.resumed
    assert settled.paused_working_days == 3
    assert settled.due_date == calendar.add_working_days(date(2026, 12, 8), 3)
    assert dossier.due_date == settled.due_date
    assert dossier.step_due_at is not None and dossier.step_due_at > step_due
    assert dossier.stage is Stage.IN_PROGRESS and dossier.paused_at is None


def test_the_same_wait_for_documents_and_for_a_payment_moves_the_same_days() -> None:
    """One mechanism: a supplement awaited as long as a payment moves the due date alike."""
    by_documents = transferred(received(), RECEPTION, "STP-HCTP", 1)
    by_documents.request_supplement(missing_items=["x"], reason="y", justification="",
                                    actor=SPECIALIST, procedure=PROCEDURE_OF, **at(2))
    by_documents.provide_supplement(documents=["x"], actor=RECEPTION, calendar=calendar,
                                    **at(24 * 7))
    by_payment = transferred(received(), RECEPTION, "STP-HCTP", 1)
    by_payment.request_payment(amount_vnd=200_000 + 5, reason="y", actor=SPECIALIST, **at(2))
    by_payment.record_payment(amount_vnd=400_005, method=_cash(), receipt_number="1",
                              actor=RECEPTION, calendar=calendar, **at(24 * 7))
    assert (by_payment.due_date, by_payment.step_due_at) == (
        by_documents.due_date, by_documents.step_due_at)


def test_only_the_holder_requests_and_only_the_counter_records() -> None:
    dossier = transferred(received(), RECEPTION, "STP-HCTP", 1)
    with refused("chỉ đơn vị đang giữ hồ sơ"):
        dossier.request_payment(amount_vnd=1, reason="y", actor=RECEPTION, **at(2))
    with refused("Vai trò của bạn"):
        dossier.record_payment(amount_vnd=1, method=_cash(), receipt_number="1",
                               actor=SPECIALIST, calendar=calendar, **at(2))


def test_payments_replay_identically() -> None:
    dossier = transferred(received(), RECEPTION, "STP-HCTP", 1)
    dossier.request_payment(amount_vnd=10_000, reason="y", actor=SPECIALIST, **at(2))
    dossier.record_payment(amount_vnd=210_000, method=_cash(), receipt_number="1",
                           actor=RECEPTION, calendar=calendar, **at(30))
    events = dossier.collect_events()
    rebuilt = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert rebuilt is not None and rebuilt.__dict__ == dossier.__dict__


def _cash():  # type: ignore[no-untyped-def]
    from domain.dossier import PaymentMethod
    return PaymentMethod.CASH


def _online():  # type: ignore[no-untyped-def]
    from domain.dossier import PaymentMethod
    return PaymentMethod.ONLINE


# ---- through the application, on both stores -----------------------------------------

def test_application_records_payments_once_per_request_key(app: HosoApplication,
                                                           clock: FakeClock) -> None:
    outcome = receive(app)
    first = app.record_payment(outcome.dossier_id, expected_version=1, actor_id="tiepnhan",
                               amount_vnd=200_000, method="cash", receipt_number="BL-1",
                               request_key="k" * 32)
    again = app.record_payment(outcome.dossier_id, expected_version=1, actor_id="tiepnhan",
                               amount_vnd=200_000, method="cash", receipt_number="BL-1",
                               request_key="k" * 32)
    assert first.dossier_id == again.dossier_id
    assert app.dossier(outcome.dossier_id).payments[0]["receipt_number"] == "BL-1"
    assert len(app.dossier(outcome.dossier_id).payments) == 1
    with pytest.raises(DomainError, match="hình thức nộp"):
        app.record_payment(outcome.dossier_id, expected_version=None, actor_id="tiepnhan",
                           amount_vnd=1, method="cheque", receipt_number="x")


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("tiepnhan", "hctp", **PUBLIC_URL)


def test_the_citizen_reads_what_to_pay_and_the_clock_waits(web: TestClient,
                                                           app: HosoApplication,
                                                           clock: FakeClock) -> None:
    sign_in_as(web, "tiepnhan", PASSWORD)
    receipt = web.post("/dossiers", data={
        "procedure_code": PROCEDURE, "channel": "counter", "documents": ["Tờ khai"],
        **APPLICANT})
    dossier_id = str(receipt.url).split("/")[-2]
    link = re.search(r'href="https://hoso\.example\.vn(/t/[A-Za-z0-9_-]{22})"', receipt.text)
    assert link
    from uuid import UUID
    hand_over(app, UUID(dossier_id), "tiepnhan", "STP-HCTP", "hctp")
    sign_in_as(web, "hctp", PASSWORD)
    version = re.search(r'name="version" value="(\d+)"', web.get(f"/dossiers/{dossier_id}").text)
    assert version
    panel = web.post(f"/dossiers/{dossier_id}/request_payment", data={
        "version": version.group(1), "amount_vnd": "1.250.000",
        "reason": "Lệ phí trước bạ theo thông báo số 12/TB-CCT"})
    assert panel.status_code == 200, panel.text
    assert "Chờ thực hiện nghĩa vụ tài chính" in panel.text
    assert "Mã trạng thái 6" in panel.text
    citizen = TestClient(web.app)
    page = citizen.get(link.group(1)).text
    assert f"1.250.000{NBSP}₫" in page and "thông báo số 12/TB-CCT" in page
    assert "tạm dừng cho đến khi bạn nộp đủ" in page
    read_in(citizen, "en")
    assert "Waiting for a financial obligation to be paid" in citizen.get(link.group(1)).text
    clock.advance(days=4)
    sign_in_as(web, "tiepnhan", PASSWORD)
    version = re.search(r'name="version" value="(\d+)"', web.get(f"/dossiers/{dossier_id}").text)
    assert version
    paid = web.post(f"/dossiers/{dossier_id}/record_payment", data={
        "version": version.group(1), "amount_vnd": "1.450.000", "method": "cash",
        "receipt_number": "BL-0042"})
    assert paid.status_code == 200, paid.text
    assert "BL-0042" in paid.text and "Đang giải quyết" in paid.text
    page = TestClient(web.app).get(link.group(1)).text
    assert "tạm dừng cho đến khi bạn nộp đủ" not in page
    assert "11/12/2026" in page  # 8 Dec + the 3 working days waited
