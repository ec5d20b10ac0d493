"""The rest of the lifecycle: acceptance, supplements, extensions, refusal, withdrawal."""

from __future__ import annotations

from datetime import date, timedelta

from domain.documents import FileFacts
from domain.dossier import Action, DispatchMethod, Dossier, Stage
from domain.organisation import MediaType
from domain.result_signature import SignatureVerdict
from domain.working_days import WorkingCalendar
from tests.helpers import unlocked
from tests.test_dossier import (
    NOW,
    POSTMAN,
    RECEPTION,
    SIGNER,
    SPECIALIST,
    at,
    d,
    new_events,
    received,
    refused,
    signed,
    transferred,
)

calendar = WorkingCalendar()
PROC = d.procedure("2.000488")


def at_specialist() -> Dossier:
    return transferred(received(), RECEPTION, "STP-HCTP", 1)


# ---- transfers and acceptance --------------------------------------------------------

def test_a_transfer_waits_for_acceptance_and_measures_transit() -> None:
    dossier = received()
    dossier.transfer(to_unit=d.unit("STP-HCTP"), to_officer=None, note="", actor=RECEPTION,
                     **at(1))
    assert dossier.allowed_actions(SPECIALIST) == [Action.ACCEPT_TRANSFER]
    with refused("đang chờ đơn vị STP-HCTP tiếp nhận"):
        dossier.request_supplement(procedure=PROC, missing_items=["x"], reason="y",
                                   justification="", actor=SPECIALIST, **at(2))
    dossier.collect_events()
    dossier.accept_transfer(actor=SPECIALIST, calendar=calendar, **at(26))
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.TransferAccepted)
    assert event.transferred_at == NOW + timedelta(hours=1)
    assert event.occurred_at - event.transferred_at == timedelta(hours=25)  # transit time
    # The specialist step is allotted 7 working days from acceptance (Tue 24 Nov is a
    # holiday, so from Mon 23 Nov + 1 day... accepted Tue 24 Nov 11:00 local).
    assert event.step_due_at.astimezone(d_tz()).date() == calendar.add_working_days(
        date(2026, 11, 24), 7)
    assert dossier.holder_officer == "hctp"


def d_tz():  # type: ignore[no-untyped-def]
    from domain.working_days import HCMC

    return HCMC


def test_accept_only_what_is_pending_and_only_at_the_receiving_unit() -> None:
    with refused("Không có lần chuyển hồ sơ nào đang chờ tiếp nhận"):
        received().accept_transfer(actor=RECEPTION, calendar=calendar, **at(1))
    dossier = received()
    dossier.transfer(to_unit=d.unit("STP-HCTP"), to_officer=None, note="", actor=RECEPTION,
                     **at(1))
    with refused("chỉ đơn vị đang giữ hồ sơ mới được thao tác"):
        dossier.accept_transfer(actor=RECEPTION, calendar=calendar, **at(2))


def test_off_route_transfers_need_a_note_and_are_marked() -> None:
    dossier = received()
    with refused("không nằm trong quy trình"):
        dossier.transfer(to_unit=d.unit("SXD-CPXD"), to_officer=None, note="", actor=RECEPTION,
                         **at(1))
    dossier.collect_events()
    dossier.transfer(to_unit=d.unit("SXD-CPXD"), to_officer=None, note="Xin ý kiến Sở Xây dựng",
                     actor=RECEPTION, **at(1))
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.Transferred)
    assert event.off_route and event.route_position is None
    on_route = received()
    on_route.collect_events()
    on_route.transfer(to_unit=d.unit("STP-HCTP"), to_officer=None, note="", actor=RECEPTION,
                      **at(1))
    [event] = new_events(on_route)
    assert isinstance(event, Dossier.Transferred)
    assert (event.off_route, event.route_position) == (False, 1)


def test_each_step_has_its_own_due_time() -> None:
    dossier = received()  # Monday 09:00 local; reception is allotted 4 working hours
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.Received)
    assert event.step_due_at is not None
    assert event.step_due_at.astimezone(d_tz()).strftime("%Y-%m-%d %H:%M") == "2026-11-23 14:30"
    assert [s["unit_code"] for s in event.route] == ["TTHCC", "STP-HCTP", "STP-BGD", "TTHCC"]


def test_due_date_counts_from_the_next_working_day_after_the_cutoff() -> None:
    before = received(at=NOW)  # 09:00 local
    after = received(at=NOW + timedelta(hours=7))  # 16:00 local, after the 15:00 cut-off
    assert before.due_date == date(2026, 12, 8)
    assert after.due_date == date(2026, 12, 9)
    assert after.due_date_basis["after_cutoff"] is True
    assert after.due_date_basis["counted_from"] == "2026-11-25"  # 24 Nov is a holiday
    assert ["2026-11-28", "Thứ Bảy"] in after.due_date_basis["days_off"]


# ---- supplements ---------------------------------------------------------------------

def test_a_supplement_pauses_the_clock_and_resumes_it() -> None:
    dossier = at_specialist()
    dossier.collect_events()
    dossier.request_supplement(procedure=PROC, missing_items=["Bản sao hộ khẩu"],
                               reason="Thiếu giấy tờ", justification="", actor=SPECIALIST,
                               **at(2))
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.SupplementRequested)
    assert (event.request_number, event.missing_items) == (1, ["Bản sao hộ khẩu"])
    assert dossier.stage is Stage.AWAITING_SUPPLEMENT
    with refused("đang chờ bổ sung; chưa thể ký"):
        dossier.sign(decision_number="1", decision_title="x", actor=SIGNER,
                     unlock_key=unlocked(SIGNER.user_id), **at(3))
    # The citizen comes back to the counter three working days later (Thu 26 Nov... 24 Nov
    # is a holiday, so Mon 23 → Fri 27 Nov is 3 working days).
    dossier.provide_supplement(documents=["Bản sao hộ khẩu"], actor=RECEPTION,
                               calendar=calendar, **at(24 * 4))
    provided = new_events(dossier)[-1]
    assert isinstance(provided, Dossier.SupplementProvided)
    assert provided.paused_working_days == 3
    assert provided.due_date == calendar.add_working_days(date(2026, 12, 8), 3)
    assert dossier.stage is Stage.IN_PROGRESS
    assert "Bản sao hộ khẩu" in dossier.documents


def test_a_second_supplement_request_needs_a_justification() -> None:
    dossier = at_specialist()
    dossier.request_supplement(procedure=PROC, missing_items=["A"], reason="r", justification="",
                               actor=SPECIALIST, **at(2))
    dossier.provide_supplement(documents=["A"], actor=SPECIALIST, calendar=calendar, **at(3))
    with refused("lý do yêu cầu bổ sung lần nữa"):
        dossier.request_supplement(procedure=PROC, missing_items=["B"], reason="r",
                                   justification=" ", actor=SPECIALIST, **at(4))
    dossier.collect_events()
    dossier.request_supplement(procedure=PROC, missing_items=["B"], reason="r",
                               justification="Giấy tờ A đã hết hạn sau khi bổ sung",
                               actor=SPECIALIST, **at(4))
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.SupplementRequested)
    assert event.request_number == 2 and event.justification


def test_a_supplement_request_marks_what_is_outside_the_published_list() -> None:
    dossier = at_specialist()
    dossier.collect_events()
    dossier.request_supplement(
        procedure=PROC, missing_items=["bản chụp  cccd", "Giấy xác nhận của công an phường",
                                       "Bản chụp CCCD"],
        reason="Thiếu", justification="", actor=SPECIALIST, **at(2))
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.SupplementRequested)
    # A pick from the list is written as the list writes it, once; the rest as typed.
    assert event.missing_items == ["Bản chụp CCCD", "Giấy xác nhận của công an phường"]
    assert event.outside_list == ["Giấy xác nhận của công an phường"]


def test_a_supplement_request_from_the_list_only_has_nothing_outside_it() -> None:
    dossier = at_specialist()
    dossier.collect_events()
    dossier.request_supplement(procedure=PROC, missing_items=["Ảnh chân dung"], reason="r",
                               justification="", actor=SPECIALIST, **at(2))
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.SupplementRequested)
    assert event.outside_list == []


def test_a_supplement_request_recorded_before_the_list_was_checked_reads_unchecked() -> None:
    state = {"missing_items": ["A"], "reason": "r", "justification": "", "request_number": 1}
    Dossier.SupplementRequested.upcast_v1_v2(state)
    assert state["outside_list"] is None  # not "nothing outside": it was never checked


def test_supplement_refusals() -> None:
    with refused("không có yêu cầu bổ sung nào đang chờ"):
        at_specialist().provide_supplement(documents=["A"], actor=SPECIALIST,
                                           calendar=calendar, **at(2))
    with refused("ghi đủ một lần tất cả giấy tờ"):
        at_specialist().request_supplement(procedure=PROC, missing_items=[" "], reason="r",
                                           justification="", actor=SPECIALIST, **at(2))


# ---- extension with apology ----------------------------------------------------------

def test_extend_with_an_apology() -> None:
    dossier = at_specialist()
    dossier.collect_events()
    dossier.extend(new_due_date=date(2026, 12, 15), reason="Cần xác minh thêm",
                   apology="Kính gửi ông/bà, chúng tôi xin lỗi…", actor=SPECIALIST,
                   calendar=calendar, **at(2))
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.Extended)
    assert (event.previous_due_date, event.due_date, event.extension_number) == (
        date(2026, 12, 8), date(2026, 12, 15), 1)
    assert dossier.due_date == date(2026, 12, 15)


def test_extension_refusals() -> None:
    with refused("Ngày hẹn mới phải sau ngày hẹn hiện tại"):
        at_specialist().extend(new_due_date=date(2026, 12, 1), reason="r", apology="a",
                               actor=SPECIALIST, calendar=calendar, **at(2))
    with refused("nội dung thư xin lỗi"):
        at_specialist().extend(new_due_date=date(2026, 12, 15), reason="r", apology="",
                               actor=SPECIALIST, calendar=calendar, **at(2))
    late = at_specialist()
    with refused("Đã quá ngày hẹn trả"):
        late.extend(new_due_date=date(2026, 12, 21), reason="r", apology="a", actor=SPECIALIST,
                    calendar=calendar, **at(24 * 17))  # 10 Dec, after the 8 Dec due date


# ---- refusal and withdrawal ----------------------------------------------------------

def test_a_refusal_is_dispatched_and_delivered_like_a_result() -> None:
    dossier = at_specialist()
    dossier.reject(reasons="Hồ sơ không thuộc thẩm quyền giải quyết", actor=SPECIALIST,
                   **at(2))
    assert dossier.stage is Stage.REJECTED
    with refused("đã bị từ chối; không thể ký"):
        dossier.sign(decision_number="1", decision_title="x", actor=SIGNER,
                     unlock_key=unlocked(SIGNER.user_id), **at(3))
    dossier.transfer(to_unit=d.unit("TTHCC"), to_officer=None, note="Trả văn bản từ chối",
                     actor=SPECIALIST, **at(3))
    dossier.accept_transfer(actor=RECEPTION, calendar=calendar, **at(3.5))
    assert dossier.stage is Stage.REJECTED
    dossier.dispatch(method=DispatchMethod.POST, postal_tracking_number="EB1VN",
                     post_office=d.post_office(), actor=RECEPTION, **at(4))
    dossier.deliver(recipient_name="Lê Văn Tám", actor=POSTMAN, **at(30))
    assert dossier.stage is Stage.DELIVERED


def test_only_specialists_and_signers_refuse() -> None:
    with refused("Vai trò của bạn không được thực hiện thao tác này"):
        received().reject(reasons="x", actor=RECEPTION, **at(1))


def test_withdrawal_at_the_counter_wherever_the_file_is() -> None:
    dossier = at_specialist()
    dossier.collect_events()
    dossier.withdraw(reason="Công dân có đơn xin rút hồ sơ", actor=RECEPTION, **at(2))
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.Withdrawn)
    assert dossier.stage is Stage.WITHDRAWN
    with refused("đã được rút theo yêu cầu của công dân"):
        dossier.transfer(to_unit=d.unit("TTHCC"), to_officer=None, note="", actor=SPECIALIST,
                         **at(3))


def test_no_withdrawal_once_there_is_a_result() -> None:
    dossier = at_specialist()
    dossier.reject(reasons="r", actor=SPECIALIST, **at(2))
    with refused("đã có kết quả; không thể rút"):
        dossier.withdraw(reason="x", actor=RECEPTION, **at(3))


def test_post_agents_only_deliver() -> None:
    assert received().allowed_actions(POSTMAN) == []


def test_a_paused_dossier_is_not_late_while_the_citizen_has_the_turn() -> None:
    from domain.dossier import is_late

    dossier = at_specialist()
    dossier.request_supplement(procedure=PROC, missing_items=["A"], reason="r", justification="",
                               actor=SPECIALIST, **at(2))
    long_after = date(2027, 1, 15)
    assert not is_late(stage=dossier.stage, due_date=dossier.due_date,
                       result_ready_at=None, paused_at=dossier.paused_at, today=long_after)
    assert is_late(stage=Stage.IN_PROGRESS, due_date=dossier.due_date, result_ready_at=None,
                   paused_at=None, today=long_after)
    assert not is_late(stage=Stage.WITHDRAWN, due_date=dossier.due_date, result_ready_at=None,
                       paused_at=None, today=long_after)


def test_extension_dates_must_be_plausible_working_days() -> None:
    with refused("là ngày nghỉ"):
        at_specialist().extend(new_due_date=date(2026, 12, 12), reason="r", apology="a",
                               actor=SPECIALIST, calendar=calendar, **at(2))  # a Saturday
    with refused("quá xa"):
        at_specialist().extend(new_due_date=date(9999, 12, 31), reason="r", apology="a",
                               actor=SPECIALIST, calendar=calendar, **at(2))


def test_a_refusal_ends_the_wait_for_documents() -> None:
    dossier = at_specialist()
    dossier.request_supplement(procedure=PROC, missing_items=["A"], reason="r", justification="",
                               actor=SPECIALIST, **at(2))
    dossier.reject(reasons="Không đủ điều kiện", actor=SPECIALIST, **at(3))
    assert not dossier.awaiting_supplement
    with refused("không có yêu cầu bổ sung nào đang chờ"):
        dossier.provide_supplement(documents=["A"], actor=RECEPTION, calendar=calendar,
                                   **at(4))


def test_a_paused_dossier_moved_on_resumes_in_progress() -> None:
    dossier = received()
    dossier.request_supplement(procedure=PROC, missing_items=["A"], reason="r", justification="",
                               actor=RECEPTION, **at(1))
    transferred(dossier, RECEPTION, "STP-HCTP", 2)
    assert dossier.stage is Stage.AWAITING_SUPPLEMENT
    dossier.provide_supplement(documents=["A"], actor=RECEPTION, calendar=calendar, **at(3))
    assert dossier.stage is Stage.IN_PROGRESS


def test_the_counter_acts_for_the_citizen_even_while_a_transfer_is_pending() -> None:
    dossier = at_specialist()
    dossier.request_supplement(procedure=PROC, missing_items=["A"], reason="r", justification="",
                               actor=SPECIALIST, **at(2))
    dossier.transfer(to_unit=d.unit("STP-BGD"), to_officer=None, note="", actor=SPECIALIST,
                     **at(3))
    assert dossier.allowed_actions(RECEPTION) == [Action.PROVIDE_SUPPLEMENT, Action.WITHDRAW,
                                                  Action.RECORD_PAYMENT]
    dossier.provide_supplement(documents=["A"], actor=RECEPTION, calendar=calendar, **at(4))
    assert dossier.pending_from_unit == "STP-HCTP"  # still waits for STP-BGD to accept


def test_a_step_started_during_the_pause_loses_only_its_part() -> None:
    dossier = received()
    # Paused Monday 23 Nov at the counter; transferred and accepted on Friday 27 Nov.
    dossier.request_supplement(procedure=PROC, missing_items=["A"], reason="r", justification="",
                               actor=RECEPTION, **at(1))
    transferred(dossier, RECEPTION, "STP-HCTP", 24 * 4)
    step_due_before = dossier.step_due_at
    assert step_due_before is not None
    # Provided on Monday 30 Nov: the specialist step ran 1 working day of the pause.
    dossier.provide_supplement(documents=["A"], actor=RECEPTION, calendar=calendar,
                               **at(24 * 7))
    assert dossier.step_due_at is not None
    assert (dossier.step_due_at.date() - step_due_before.date()).days == 1


# ---- the electronic result ---------------------------------------------------------------

RESULT = FileFacts("phieu-lltp.pdf", MediaType.PDF, 2048, "ab" * 32)
VERDICT = SignatureVerdict("valid", "Common Name: Trần Thị Ký, Country: VN", "Test CA",
                           "cd" * 32, "2026-11-23T10:00:00+00:00")


def signed_with_result(result: FileFacts = RESULT) -> Dossier:
    dossier = transferred(transferred(received(), RECEPTION, "STP-HCTP", 1), SPECIALIST,
                          "STP-BGD", 2)
    dossier.sign(decision_number="12/QĐ", decision_title="Phiếu LLTP", actor=SIGNER,
                 unlock_key=unlocked(SIGNER.user_id), result=result,
                 check_result=lambda: VERDICT, procedure=PROC, **at(3))
    return transferred(dossier, SIGNER, "TTHCC", 4)


def test_the_signed_result_is_attached_and_its_digest_signed() -> None:
    dossier = signed_with_result()
    signed_event, attached = [e for e in new_events(dossier)
                              if isinstance(e, Dossier.Signed | Dossier.DocumentAttached)]
    assert isinstance(signed_event, Dossier.Signed)
    assert signed_event.document_sha256 == RESULT.sha256
    assert signed_event.result_signature == VERDICT.as_dict()
    assert isinstance(attached, Dossier.DocumentAttached)
    assert (attached.purpose, attached.sha256, attached.actor_id) == (
        "result", RESULT.sha256, SIGNER.user_id)
    with refused("phải là tệp PDF"):
        signed_with_result(FileFacts("anh.jpg", MediaType.JPEG, 10, "cd" * 32))


def test_an_online_result_is_delivered_by_its_first_download_only() -> None:
    dossier = signed_with_result()
    dossier.dispatch(method=DispatchMethod.ONLINE, postal_tracking_number=None,
                     post_office=d.post_office(), actor=RECEPTION, **at(5))
    assert dossier.stage is Stage.AWAITING_PICKUP
    with refused("khi công dân tải về lần đầu"):
        dossier.deliver(recipient_name="x", actor=RECEPTION, **at(6))
    dossier.collect_events()
    assert dossier.download_result(**at(30))["sha256"] == RESULT.sha256
    first = new_events(dossier)
    assert [type(e).__name__ for e in first] == ["ResultDownloaded", "Delivered"]
    assert dossier.stage is Stage.DELIVERED and first[-1].actor_id == "citizen"
    dossier.collect_events()
    dossier.download_result(**at(31))  # once more: recorded, not delivered twice
    assert [type(e).__name__ for e in new_events(dossier)] == ["ResultDownloaded"]


def test_no_online_dispatch_without_a_result_and_no_download_without_one() -> None:
    with refused("Chưa có kết quả điện tử"):
        signed().dispatch(method=DispatchMethod.ONLINE, postal_tracking_number=None,
                          post_office=d.post_office(), actor=RECEPTION, **at(5))
    at_counter = signed_with_result()
    at_counter.dispatch(method=DispatchMethod.COUNTER_PICKUP, postal_tracking_number=None,
                        post_office=d.post_office(), actor=RECEPTION, **at(5))
    with refused("không có kết quả để tải về"):
        at_counter.download_result(**at(6))
