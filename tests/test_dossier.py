"""Given events → when a command → then events, on the aggregate alone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from domain.dossier import (
    Action,
    Actor,
    Applicant,
    Channel,
    DispatchMethod,
    Dossier,
    Stage,
)
from domain.errors import DomainError
from domain.organisation import Directory
from domain.working_days import WorkingCalendar
from tests.helpers import unlocked

d = Directory()
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 09:00 in Ho Chi Minh City
RECEPTION = Actor.of(d.member("tiepnhan"))
SPECIALIST = Actor.of(d.member("hctp"))
SIGNER = Actor.of(d.member("gd.stp"))
POSTMAN = Actor.of(d.member("buudien"))
OTHER_DEPT = Actor.of(d.member("dkkd"))


def received(number: int = 7, at: datetime = NOW) -> Dossier:
    return Dossier.receive(
        procedure=d.procedure("2.000488"),
        applicant=Applicant.cleaned("Lê Văn Tám", "0901 234 567", "5 Lý Tự Trọng, TP.HCM"),
        channel=Channel.COUNTER,
        documents=["Tờ khai", "  ", "Bản chụp CCCD"],
        actor=RECEPTION,
        receiving_unit=d.unit("TTHCC"),
        occurred_at=at,
        recorded_at=at,
        sequence_number=number,
        calendar=WorkingCalendar(),
        idempotency_key=uuid4().hex,
    )


def at(hours: float) -> dict[str, datetime]:
    when = NOW + timedelta(hours=hours)
    return {"occurred_at": when, "recorded_at": when}


ACCEPTED_BY = {"TTHCC": RECEPTION, "STP-HCTP": SPECIALIST, "STP-BGD": SIGNER}


def transferred(dossier: Dossier, actor: Actor, to: str, hours: float) -> Dossier:
    """Transferred, and accepted by the receiving unit a few minutes later."""
    dossier.transfer(to_unit=d.unit(to), to_officer=None, note="", actor=actor, **at(hours))
    dossier.accept_transfer(actor=ACCEPTED_BY[to], calendar=WorkingCalendar(),
                            **at(hours + 0.1))
    return dossier


def signed() -> Dossier:
    dossier = transferred(transferred(received(), RECEPTION, "STP-HCTP", 1), SPECIALIST,
                          "STP-BGD", 2)
    dossier.sign(decision_number="12/QĐ", decision_title="Phiếu LLTP", actor=SIGNER,
                 unlock_key=unlocked(SIGNER.user_id), **at(3))
    return transferred(dossier, SIGNER, "TTHCC", 4)


def dispatched_by_post() -> Dossier:
    dossier = signed()
    dossier.dispatch(method=DispatchMethod.POST, postal_tracking_number="eb123456789vn",
                     post_office=d.post_office(), actor=RECEPTION, **at(5))
    return dossier


def delivered() -> Dossier:
    dossier = dispatched_by_post()
    dossier.deliver(recipient_name="Lê Văn Tám", actor=POSTMAN, **at(30))
    return dossier


def new_events(dossier: Dossier) -> list[Dossier.Event]:
    return [e for e in dossier.collect_events() if isinstance(e, Dossier.Event)]


def refused(match: str):  # type: ignore[no-untyped-def]
    return pytest.raises(DomainError, match=match)


# ---- happy paths ---------------------------------------------------------------------

def test_receive_computes_code_due_date_and_token() -> None:
    dossier = received(number=7)
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.Received)
    assert event.code == "000.00.01.H29-261123-0007"
    # 10 working days from Monday 23 Nov 2026, skipping Culture Day (24 Nov) and weekends.
    assert event.due_date == date(2026, 12, 8)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", event.tracking_token)  # 128 bits, URL-safe
    assert event.documents == ["Tờ khai", "Bản chụp CCCD"]
    assert event.applicant["phone"] == "0901234567"
    assert (event.actor_id, event.actor_unit) == ("tiepnhan", "TTHCC")
    assert dossier.stage is Stage.RECEIVED and dossier.holder_unit == "TTHCC"


def test_tokens_are_unique_and_codes_use_the_local_day() -> None:
    late_evening_utc = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # 01:00 on the 24th locally
    dossier = received(number=1, at=late_evening_utc)
    assert dossier.code == "000.00.01.H29-261124-0001"
    assert len({received().tracking_token for _ in range(50)}) == 50


def test_transfer_moves_the_dossier() -> None:
    dossier = received()
    dossier.collect_events()
    dossier.transfer(to_unit=d.unit("STP-HCTP"), to_officer=d.member("hctp"),
                     note="Chuyển xử lý", actor=RECEPTION, **at(1))
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.Transferred)
    assert (event.from_unit, event.to_unit, event.to_officer) == ("TTHCC", "STP-HCTP", "hctp")
    assert dossier.stage is Stage.IN_PROGRESS and dossier.holder_unit == "STP-HCTP"


def test_sign_records_the_decision() -> None:
    dossier = transferred(transferred(received(), RECEPTION, "STP-HCTP", 1), SPECIALIST,
                          "STP-BGD", 2)
    dossier.collect_events()
    dossier.sign(decision_number=" 12/QĐ ", decision_title="Phiếu LLTP", actor=SIGNER,
                 unlock_key=unlocked(SIGNER.user_id), **at(3))
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.Signed)
    assert (event.decision_number, event.actor_id) == ("12/QĐ", "gd.stp")
    assert dossier.stage is Stage.SIGNED


def test_returning_a_signed_result_keeps_the_signed_stage() -> None:
    assert signed().stage is Stage.SIGNED


def test_dispatch_by_post_hands_the_dossier_to_the_post_office() -> None:
    dossier = dispatched_by_post()
    event = new_events(dossier)[-1]
    assert isinstance(event, Dossier.Dispatched)
    assert (event.method, event.postal_tracking_number, event.holder_unit) == (
        "post", "EB123456789VN", "BUUDIEN")
    assert dossier.stage is Stage.IN_POSTAL_TRANSIT


def test_dispatch_for_pickup_stays_at_the_counter() -> None:
    dossier = signed()
    dossier.dispatch(method=DispatchMethod.COUNTER_PICKUP, postal_tracking_number=None,
                     post_office=d.post_office(), actor=RECEPTION, **at(5))
    assert dossier.stage is Stage.AWAITING_PICKUP and dossier.holder_unit == "TTHCC"


def test_delivery_reported_late_keeps_when_it_happened() -> None:
    dossier = dispatched_by_post()
    happened = NOW + timedelta(hours=20)
    dossier.deliver(recipient_name="Lê Văn Tám", actor=POSTMAN, occurred_at=happened,
                    recorded_at=NOW + timedelta(hours=48))
    event = new_events(dossier)[-1]
    assert isinstance(event, Dossier.Delivered)
    assert event.occurred_at == happened
    assert dossier.stage is Stage.DELIVERED


def test_a_rebuilt_dossier_is_identical() -> None:
    dossier = delivered()
    events = dossier.collect_events()
    rebuilt = None
    for event in events:
        rebuilt = event.mutate(rebuilt)
    assert rebuilt is not None
    assert rebuilt.__dict__ == dossier.__dict__


def test_allowed_actions_follow_the_rules() -> None:
    dossier = received()
    # The criminal record fee (200.000 ₫) is owed until the counter records it.
    assert dossier.allowed_actions(RECEPTION) == [
        Action.TRANSFER, Action.REQUEST_SUPPLEMENT, Action.EXTEND, Action.WITHDRAW,
        Action.REQUEST_PAYMENT, Action.RECORD_PAYMENT]
    assert dossier.allowed_actions(SPECIALIST) == []
    assert signed().allowed_actions(RECEPTION) == [Action.DISPATCH, Action.TRANSFER,
                                                   Action.RECORD_PAYMENT]
    assert dispatched_by_post().allowed_actions(POSTMAN) == [
        Action.DELIVER, Action.RECORD_FAILED_DELIVERY]
    # The step's own next action first: the signing officer is offered the signature, not the
    # transfer that would send the file back unsigned.
    at_the_signer = transferred(transferred(received(), RECEPTION, "STP-HCTP", 1), SPECIALIST,
                                "STP-BGD", 2)
    assert at_the_signer.allowed_actions(SIGNER)[0] is Action.SIGN
    assert delivered().allowed_actions(POSTMAN) == []


# ---- refusals ------------------------------------------------------------------------

def test_only_the_holding_unit_may_act() -> None:
    with refused("chỉ đơn vị đang giữ hồ sơ mới được thao tác"):
        transferred(received(), OTHER_DEPT, "STC-BGD", 1)


def test_only_an_entitled_officer_signs() -> None:
    dossier = transferred(received(), RECEPTION, "STP-HCTP", 1)
    with refused("không có thẩm quyền ký"):
        dossier.sign(decision_number="1", decision_title="x", actor=SPECIALIST,
                     unlock_key=unlocked(SPECIALIST.user_id), **at(2))


def test_nothing_is_signed_twice() -> None:
    dossier = signed()
    with refused(r"đã được ký \(quyết định số 12/QĐ\); không thể ký lại"):
        dossier.sign(decision_number="13", decision_title="x", actor=SIGNER,
                     unlock_key=unlocked(SIGNER.user_id), **at(6))


def test_dispatch_only_after_signing() -> None:
    dossier = received()
    with refused("chưa có kết quả .* nên chưa thể trả"):
        dossier.dispatch(method=DispatchMethod.COUNTER_PICKUP, postal_tracking_number=None,
                         post_office=d.post_office(), actor=RECEPTION, **at(1))


def test_dispatch_only_once() -> None:
    dossier = dispatched_by_post()
    with refused("Kết quả đã được gửi đi rồi"):
        dossier.dispatch(method=DispatchMethod.POST, postal_tracking_number="EB1VN",
                         post_office=d.post_office(), actor=POSTMAN, **at(6))


def test_post_needs_a_tracking_number() -> None:
    with refused("Vui lòng nhập mã bưu gửi"):
        signed().dispatch(method=DispatchMethod.POST, postal_tracking_number="",
                          post_office=d.post_office(), actor=RECEPTION, **at(5))
    with refused("chỉ gồm chữ và số"):
        signed().dispatch(method=DispatchMethod.POST, postal_tracking_number="EB-1 <b>",
                          post_office=d.post_office(), actor=RECEPTION, **at(5))


def test_delivery_only_after_dispatch() -> None:
    with refused("chưa được gửi đi nên chưa thể ghi nhận đã trao"):
        signed().deliver(recipient_name="A", actor=RECEPTION, **at(5))


@pytest.mark.parametrize("action", list(Action))
def test_nothing_after_delivery(action: Action) -> None:
    dossier = delivered()
    with refused("đã trả kết quả cho công dân; không thể thao tác thêm"):
        if action is Action.TRANSFER:
            dossier.transfer(to_unit=d.unit("TTHCC"), to_officer=None, note="", actor=POSTMAN,
                             **at(31))
        elif action is Action.SIGN:
            dossier.sign(decision_number="1", decision_title="x", actor=POSTMAN,
                         unlock_key=unlocked(POSTMAN.user_id), **at(31))
        elif action is Action.DISPATCH:
            dossier.dispatch(method=DispatchMethod.POST, postal_tracking_number="EB1",
                             post_office=d.post_office(), actor=POSTMAN, **at(31))
        else:
            dossier.deliver(recipient_name="A", actor=POSTMAN, **at(31))


def test_no_transfer_after_dispatch() -> None:
    with refused("không thể chuyển hồ sơ nữa"):
        transferred(dispatched_by_post(), POSTMAN, "TTHCC", 6)


def test_transfer_targets_are_checked() -> None:
    with refused("đang ở chính đơn vị này"):
        transferred(received(), RECEPTION, "TTHCC", 1)
    with refused("hãy dùng “Trả kết quả qua bưu điện”"):
        transferred(received(), RECEPTION, "BUUDIEN", 1)
    with refused("không thuộc đơn vị nhận"):
        received().transfer(to_unit=d.unit("STP-HCTP"), to_officer=d.member("dkkd"), note="",
                            actor=RECEPTION, **at(1))


def test_times_must_be_plausible() -> None:
    with refused("không thể ở tương lai"):
        received().transfer(to_unit=d.unit("STP-HCTP"), to_officer=None, note="",
                            actor=RECEPTION, occurred_at=NOW + timedelta(hours=2),
                            recorded_at=NOW + timedelta(hours=1))
    with refused("không thể sớm hơn bước trước"):
        received().transfer(to_unit=d.unit("STP-HCTP"), to_officer=None, note="",
                            actor=RECEPTION, occurred_at=NOW - timedelta(hours=1),
                            recorded_at=NOW)


def test_only_a_reception_unit_receives_its_procedures() -> None:
    with refused("Chỉ bộ phận một cửa mới tiếp nhận hồ sơ"):
        Dossier.receive(procedure=d.procedure("2.000488"),
                        applicant=Applicant.cleaned("A", "0901234567", "B"),
                        channel=Channel.COUNTER, documents=["x"], actor=SPECIALIST,
                        receiving_unit=d.unit("STP-HCTP"), occurred_at=NOW, recorded_at=NOW,
                        sequence_number=1, calendar=WorkingCalendar(),
                        idempotency_key=uuid4().hex)
    xnc = Actor.of(d.member("xnc"))
    with refused("không tiếp nhận tại đơn vị của bạn"):
        Dossier.receive(procedure=d.procedure("2.000488"),
                        applicant=Applicant.cleaned("A", "0901234567", "B"),
                        channel=Channel.COUNTER, documents=["x"], actor=xnc,
                        receiving_unit=d.unit("PA08"), occurred_at=NOW, recorded_at=NOW,
                        sequence_number=1, calendar=WorkingCalendar(),
                        idempotency_key=uuid4().hex)


def test_receipt_needs_documents_and_clean_applicant_data() -> None:
    with refused("ít nhất một giấy tờ"):
        Dossier.receive(procedure=d.procedure("2.000488"),
                        applicant=Applicant.cleaned("A", "0901234567", "B"),
                        channel=Channel.COUNTER, documents=[" "], actor=RECEPTION,
                        receiving_unit=d.unit("TTHCC"), occurred_at=NOW, recorded_at=NOW,
                        sequence_number=1, calendar=WorkingCalendar(),
                        idempotency_key=uuid4().hex)
    with refused("Số điện thoại không hợp lệ"):
        Applicant.cleaned("A", "12345", "B")
    with refused("Vui lòng nhập họ tên người nộp"):
        Applicant.cleaned("  ", "0901234567", "B")
    with refused("chứa ký tự không hợp lệ"):
        Applicant.cleaned("A\x00B", "0901234567", "B")
    with refused("quá dài"):
        Applicant.cleaned("A" * 201, "0901234567", "B")
