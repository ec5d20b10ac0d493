"""Red flags: for each, a history that should raise it and one that should not."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.application import HosoApplication
from domain.working_days import HCMC
from projections.red_flags import Period, RedFlag, ReviewData, Thresholds, red_flags
from projections.runners import ReadModels
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import (
    APPLICANT,
    PROCEDURE,
    hand_over,
    receive,
    walk_to_delivered_by_post,
    walk_to_signed,
)

Flags = Callable[..., dict[str, RedFlag]]
SMALL = Thresholds(min_sample=3, broker_dossiers=3, broker_suspicious=1,
                   queue_jump_grace=timedelta(hours=4), queue_jump_min_overtaken=2)


@pytest.fixture
def flags(store: Store, app: HosoApplication, clock: FakeClock) -> Iterator[Flags]:
    models = ReadModels(store, app)

    def compute(thresholds: Thresholds = SMALL, **period: Any) -> dict[str, RedFlag]:
        models.catch_up()
        today = clock().astimezone(HCMC).date()
        window = Period(period.get("start", today - timedelta(days=120)),
                        period.get("end", today + timedelta(days=1)), period.get("unit"))
        data = ReviewData.load(models.review, window, clock(), None, models.readings)
        return {f.key: f for f in red_flags(data, thresholds)}

    yield compute
    models.close()


def codes(flag: RedFlag) -> set[str]:
    return {d.dossier_id for d in flag.dossiers}


def at(clock: FakeClock, **delta: float) -> datetime:
    return clock.advance(**delta)


def transfer(app: HosoApplication, d: UUID, actor: str, to_unit: str, **kw: Any) -> None:
    app.transfer(d, expected_version=None, actor_id=actor, to_unit=to_unit, **kw)


def accept(app: HosoApplication, d: UUID, actor: str) -> None:
    app.accept_transfer(d, expected_version=None, actor_id=actor)


def ask_supplement(app: HosoApplication, d: UUID, justification: str = "") -> None:
    app.request_supplement(d, expected_version=None, actor_id="hctp",
                           missing_items=["Bản sao CCCD có chứng thực"],
                           reason="Bản chụp không rõ", justification=justification)


def provide(app: HosoApplication, d: UUID) -> None:
    app.provide_supplement(d, expected_version=None, actor_id="tiepnhan",
                           documents=["Bản sao CCCD có chứng thực"])


def test_a_dossier_held_far_beyond_its_allowance_is_stuck(app: HosoApplication, clock: FakeClock,
                                                          flags: Flags) -> None:
    prompt = receive(app).dossier_id
    hand_over(app, prompt, "tiepnhan", "STP-HCTP", "hctp")
    slow = receive(app).dossier_id
    hand_over(app, slow, "tiepnhan", "STP-HCTP", "hctp")
    clock.advance(days=2)
    transfer(app, prompt, "hctp", "STP-BGD")  # 2 days of a 7-working-day allowance
    clock.advance(days=30)  # the other stays a month: far more than twice its allowance
    stuck = flags()["stuck"]
    assert codes(stuck) == {str(slow)}
    assert "vẫn đang nằm tại đây" in stuck.dossiers[0].detail.vi


def test_a_file_finished_ahead_of_older_waiting_files_is_queue_jumping(
        app: HosoApplication, clock: FakeClock, flags: Flags) -> None:
    older = []
    for _ in range(3):
        d = receive(app).dossier_id
        hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp")
        older.append(d)
        clock.advance(hours=1)
    clock.advance(hours=5)
    favoured = receive(app).dossier_id
    hand_over(app, favoured, "tiepnhan", "STP-HCTP", "hctp")
    clock.advance(hours=1)
    transfer(app, favoured, "hctp", "STP-BGD")  # ahead of three older files still waiting
    result = flags()["queue_jumping"]
    assert codes(result) == {str(favoured)}
    assert "3 hồ sơ cùng thủ tục đến trước vẫn đang chờ" in result.dossiers[0].detail.vi
    assert [(o.officer_id, o.flagged) for o in result.officers] == [("hctp", 1)]
    # The older ones finishing later does not make them jumpers.
    clock.advance(hours=1)
    for d in older:
        transfer(app, d, "hctp", "STP-BGD")
    assert codes(flags()["queue_jumping"]) == {str(favoured)}


def test_in_order_handling_is_not_queue_jumping(app: HosoApplication, clock: FakeClock,
                                                flags: Flags) -> None:
    files = []
    for _ in range(4):
        d = receive(app).dossier_id
        hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp")
        files.append(d)
        clock.advance(hours=6)
    for d in files:
        transfer(app, d, "hctp", "STP-BGD")
        clock.advance(hours=1)
    assert flags()["queue_jumping"].dossiers == []


def test_a_second_supplement_request_is_flagged(app: HosoApplication, clock: FakeClock,
                                                flags: Flags) -> None:
    once, twice = receive(app).dossier_id, receive(app).dossier_id
    for d in (once, twice):
        hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp")
        ask_supplement(app, d)
        clock.advance(hours=2)
        provide(app, d)
    ask_supplement(app, twice, justification="Bản sao bổ sung vẫn bị mờ")
    result = flags()["repeated_supplements"]
    assert codes(result) == {str(twice)}
    assert result.dossiers[0].detail.vi == "2 lần yêu cầu bổ sung (có giải trình)"


def test_an_officer_asking_for_supplements_far_more_than_colleagues(
        app: HosoApplication, clock: FakeClock, flags: Flags) -> None:
    app.appoint_staff(admin_id="quantri", user_id="hctp2", full_name="Lê Văn Tín",
                      unit_code="STP-HCTP", roles=["specialist"])
    for _ in range(4):
        d = receive(app).dossier_id
        hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp")
        ask_supplement(app, d)  # hctp asks on every file
        d = receive(app).dossier_id
        hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp2")
        transfer(app, d, "hctp2", "STP-BGD")  # hctp2 deals with every file as it is
    rates = flags()["supplement_rates"]
    assert [(o.officer_id, o.flagged, o.sample, o.rate) for o in rates.officers] == [
        ("hctp", 4, 4, 1.0)]
    # With fewer files than the minimum on either side, nobody is compared.
    assert flags(Thresholds(min_sample=5))["supplement_rates"].officers == []


def test_late_without_apology_and_due_dates_moved_twice(
        app: HosoApplication, clock: FakeClock, flags: Flags) -> None:
    silent = receive(app).dossier_id
    apologised = receive(app).dossier_id
    hand_over(app, apologised, "tiepnhan", "STP-HCTP", "hctp")
    due = app.dossier(apologised).due_date
    for _n in (1, 2):
        due = app.calendar.add_working_days(due, 3)
        app.extend(apologised, expected_version=None, actor_id="hctp", new_due_date=due,
                   reason="Cần xác minh thêm", apology="Chúng tôi xin lỗi ông/bà.")
    clock.advance(days=25)  # past the first due date (10 working days), before the moved one
    found = flags()
    assert codes(found["late_without_apology"]) == {str(silent)}
    assert "chưa có phiếu xin lỗi" in found["late_without_apology"].dossiers[0].detail.vi
    assert codes(found["moved_more_than_once"]) == {str(apologised)}


def test_a_result_on_time_is_not_late(app: HosoApplication, clock: FakeClock,
                                      flags: Flags) -> None:
    d = receive(app).dossier_id
    walk_to_signed(app, d)
    clock.advance(days=40)
    assert flags()["late_without_apology"].dossiers == []


def test_a_few_very_fast_files_from_a_slow_officer_are_possible_favours(
        app: HosoApplication, clock: FakeClock, flags: Flags) -> None:
    usual = []
    for _ in range(9):
        d = receive(app).dossier_id
        hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp")
        usual.append(d)
    fast = receive(app).dossier_id
    hand_over(app, fast, "tiepnhan", "STP-HCTP", "hctp")
    clock.advance(minutes=30)
    transfer(app, fast, "hctp", "STP-BGD")  # half an hour, against three days for the rest
    clock.advance(days=3)
    for d in usual:
        transfer(app, d, "hctp", "STP-BGD")
    thresholds = Thresholds(min_sample=10, favour_max_share=0.15)
    result = flags(thresholds)["favours"]
    assert codes(result) == {str(fast)}
    assert "1/10 hồ sơ nhanh bất thường" in result.dossiers[0].detail.vi
    # Too few files to know what "usual" is: no flag.
    assert flags(Thresholds(min_sample=11))["favours"].dossiers == []


def test_off_route_ping_pong_and_long_transit(app: HosoApplication, clock: FakeClock,
                                              flags: Flags) -> None:
    bounced = receive(app).dossier_id
    hand_over(app, bounced, "tiepnhan", "STP-HCTP", "hctp")
    hand_over(app, bounced, "hctp", "STP-BGD", "gd.stp")
    transfer(app, bounced, "gd.stp", "STP-HCTP", note="Trả lại để bổ sung ý kiến")
    accept(app, bounced, "hctp")
    transfer(app, bounced, "hctp", "STP-BGD", note="Trình ký lại")
    accept(app, bounced, "gd.stp")
    sideways = receive(app).dossier_id
    transfer(app, sideways, "tiepnhan", "STC-DKKD", note="Xin ý kiến phối hợp")
    clock.advance(days=3)  # nobody at STC-DKKD opens it
    prompt = receive(app).dossier_id
    hand_over(app, prompt, "tiepnhan", "STP-HCTP", "hctp")
    found = flags()
    assert codes(found["off_route"]) == {str(sideways), str(bounced)}
    assert codes(found["ping_pong"]) == {str(bounced)}
    assert "3 lần chuyển qua lại giữa STP-BGD và STP-HCTP" in (
        found["ping_pong"].dossiers[0].detail.vi)
    assert codes(found["long_transit"]) == {str(sideways)}
    assert "chưa được tiếp nhận" in found["long_transit"].dossiers[0].detail.vi


def test_back_dated_reports_and_out_of_order_business_times(
        app: HosoApplication, clock: FakeClock, flags: Flags) -> None:
    late_report, honest = receive(app).dossier_id, receive(app).dossier_id
    clock.advance(days=3)
    # Recorded today, said to have happened three days ago.
    app.transfer(late_report, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP",
                 occurred_at=clock() - timedelta(days=3) + timedelta(minutes=5))
    # Recorded twenty minutes after the fact: ordinary.
    app.transfer(honest, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP",
                 occurred_at=clock() - timedelta(minutes=20))
    # A record from before the rule existed: a step said to precede the one before it.
    legacy = receive(app).dossier_id
    dossier = app.dossier(legacy)
    dossier._transferred(actor_id="tiepnhan", actor_unit="TTHCC",
                         occurred_at=clock() - timedelta(hours=2), timestamp=clock(),
                         from_unit="TTHCC",
                         to_unit="STP-HCTP", to_officer=None, note="", off_route=False,
                         route_position=1, awaits_acceptance=True)
    app.save(dossier)
    found = flags()
    assert codes(found["backdated"]) == {str(late_report)}
    assert "Transferred" in found["backdated"].dossiers[0].detail.vi
    assert codes(found["out_of_order"]) == {str(legacy)}


def test_a_supplement_request_just_before_the_due_date_is_clock_gaming(
        app: HosoApplication, clock: FakeClock, flags: Flags) -> None:
    gamed, early = receive(app).dossier_id, receive(app).dossier_id
    for d in (gamed, early):
        hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp")
    ask_supplement(app, early)
    due = app.dossier(gamed).due_date
    eve = datetime.combine(due, datetime.min.time(), tzinfo=HCMC).replace(hour=10)
    clock.now = eve
    ask_supplement(app, gamed)
    result = flags()["clock_gaming"]
    assert codes(result) == {str(gamed)}
    assert f"sát hạn trả {due:%d/%m/%Y}" in result.dossiers[0].detail.vi


def test_one_phone_behind_many_dossiers_some_fast_is_a_possible_broker(
        app: HosoApplication, clock: FakeClock, flags: Flags) -> None:
    broker_files = []
    for n in range(3):
        d = app.receive(actor_id="tiepnhan", procedure_code=PROCEDURE, documents=["Tờ khai"],
                        **(APPLICANT | {"applicant_name": f"Người thứ {n}"})).dossier_id
        broker_files.append(d)
    others = []
    for n in range(3):
        d = app.receive(actor_id="tiepnhan", procedure_code=PROCEDURE, documents=["Tờ khai"],
                        **(APPLICANT | {"applicant_phone": f"090000000{n}"})).dossier_id
        others.append(d)
    for d in others + broker_files[:2]:
        hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp")
    clock.advance(hours=6)
    jumper = broker_files[2]
    hand_over(app, jumper, "tiepnhan", "STP-HCTP", "hctp")
    clock.advance(minutes=30)
    transfer(app, jumper, "hctp", "STP-BGD")  # ahead of five waiting files
    result = flags()["brokers"]
    assert codes(result) == {str(d) for d in broker_files}
    assert all("Cùng một số điện thoại trên 3 hồ sơ" in d.detail.vi for d in result.dossiers)


def test_actions_outside_office_hours(app: HosoApplication, clock: FakeClock,
                                      flags: Flags) -> None:
    day = receive(app).dossier_id
    clock.now = datetime(2026, 11, 28, 21, 0, tzinfo=HCMC)  # a Saturday night
    night = receive(app, actor_id="tiepnhan2").dossier_id
    result = flags()["off_hours"]
    assert codes(result) == {str(night)}
    assert [(o.officer_id, o.flagged) for o in result.officers] == [("tiepnhan2", 1)]
    assert str(day) not in codes(result)


def test_the_period_and_unit_filters(app: HosoApplication, clock: FakeClock,
                                     flags: Flags) -> None:
    d = receive(app).dossier_id
    transfer(app, d, "tiepnhan", "STC-DKKD", note="Phối hợp")
    today = clock().astimezone(HCMC).date()
    assert codes(flags()["off_route"]) == {str(d)}
    assert flags(start=today + timedelta(days=1), end=today + timedelta(days=2))[
        "off_route"].dossiers == []
    assert flags(unit="STP-HCTP")["off_route"].dossiers == []
    assert codes(flags(unit="STC-DKKD")["off_route"]) == {str(d)}


def test_rates_below_the_minimum_sample_are_not_ranked(app: HosoApplication, clock: FakeClock,
                                                       flags: Flags) -> None:
    for _ in range(2):
        d = receive(app).dossier_id
        hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp")
        clock.advance(hours=6)
    late_comer = receive(app).dossier_id
    hand_over(app, late_comer, "tiepnhan", "STP-HCTP", "hctp")
    transfer(app, late_comer, "hctp", "STP-BGD")
    officers = flags(replace(SMALL, min_sample=20))["queue_jumping"].officers
    assert [(o.officer_id, o.flagged, o.sample, o.rate) for o in officers] == [
        ("hctp", 1, 1, None)]


def test_complaints_in_a_rating_are_flagged(app: HosoApplication, clock: FakeClock,
                                            flags: Flags) -> None:
    unhappy, happy = receive(app).dossier_id, receive(app).dossier_id
    for d in (unhappy, happy):
        walk_to_delivered_by_post(app, d)
    app.rate(app.dossier(unhappy).tracking_token, unhappy, satisfaction=2, came_back=True,
             unofficial_request=True, comment="Phải lên ba lần")
    app.rate(app.dossier(happy).tracking_token, happy, satisfaction=5, came_back=False,
             unofficial_request=False, comment="")
    result = flags()["bad_ratings"]
    assert codes(result) == {str(unhappy)}
    assert result.dossiers[0].detail.vi == ("Công dân đánh giá: phải đi lại nhiều lần, "
                                         "bị đòi hỏi ngoài quy định")


def test_reading_a_dossier_one_has_no_part_in(app: HosoApplication, clock: FakeClock,
                                              flags: Flags) -> None:
    d = receive(app).dossier_id
    hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp")
    app.open_dossier(d, viewer_id="hctp")  # holds it
    app.open_dossier(d, viewer_id="tiepnhan2")  # a colleague of the unit that received it
    app.audit_trail(d, inspector_id="thanhtra")  # oversight is not curiosity
    clock.advance(minutes=5)
    app.open_dossier(d, viewer_id="dkkd")  # another department altogether
    result = flags()["reading_without_a_part"]
    assert codes(result) == {str(d)}
    assert "dkkd (STC-DKKD) mở hồ sơ" in result.dossiers[0].detail.vi
    assert [(o.officer_id, o.flagged) for o in result.officers] == [("dkkd", 1)]


def test_a_supplement_asking_for_papers_outside_the_published_list_is_counted_per_officer(
        app: HosoApplication, clock: FakeClock, flags: Flags) -> None:
    listed, outside = receive(app).dossier_id, receive(app).dossier_id
    for d in (listed, outside):
        hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp")
    app.request_supplement(listed, expected_version=None, actor_id="hctp",
                           missing_items=["Bản chụp CCCD"], reason="Bản chụp không rõ")
    app.request_supplement(outside, expected_version=None, actor_id="hctp",
                           missing_items=["Bản chụp CCCD", "Giấy xác nhận của công an phường"],
                           reason="Cần xác nhận")
    result = flags()["supplements_outside_list"]
    assert codes(result) == {str(outside)}
    assert result.dossiers[0].detail.vi == (
        "Yêu cầu bổ sung lần 1 có 1 giấy tờ ngoài danh mục công bố, bởi hctp")
    assert [(o.officer_id, o.flagged, o.sample, o.rate) for o in result.officers] == [
        ("hctp", 1, 2, None)]  # 2 requests: below the sample a rate is compared from


def test_supplements_picked_from_the_published_list_raise_no_flag(
        app: HosoApplication, clock: FakeClock, flags: Flags) -> None:
    d = receive(app).dossier_id
    hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp")
    app.request_supplement(d, expected_version=None, actor_id="hctp",
                           missing_items=["bản chụp cccd", "Ảnh chân dung"], reason="Thiếu")
    result = flags()["supplements_outside_list"]
    assert (result.dossiers, result.officers) == ([], [])
