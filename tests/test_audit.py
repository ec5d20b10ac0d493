"""Inspectors' audit trail, replay, diff, control slip and the record of readings, on both
stores."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from domain.application import DossierSnapshot, HosoApplication
from domain.audit import DossierState, Span, Verdict, office_hours_between
from domain.dossier import Stage
from domain.errors import AccessDenied, DomainError, NotFound
from domain.office_time import OfficeClock
from domain.reading import ReadingLog, ReadingNotRecorded
from domain.working_days import HCMC, WorkingCalendar
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import receive, sign

STATE_FIELDS = [f.name for f in fields(DossierState)]


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=HCMC)


def shown(snapshot: DossierSnapshot) -> dict[str, Any]:
    return {name: getattr(snapshot, name) for name in STATE_FIELDS}


def state(value: DossierState | None) -> dict[str, Any]:
    assert value is not None
    return {name: getattr(value, name) for name in STATE_FIELDS}


def today(clock: FakeClock) -> Any:
    return clock().astimezone(HCMC).date()


def _walk(app: HosoApplication, d: UUID) -> list[Callable[[], object]]:
    """Commands along the whole route, with a supplement requested and provided."""
    return [
        lambda: app.transfer(d, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP"),
        lambda: app.accept_transfer(d, expected_version=None, actor_id="hctp"),
        lambda: app.request_supplement(d, expected_version=None, actor_id="hctp",
                                       missing_items=["Bản sao CCCD có chứng thực"],
                                       reason="Bản chụp không rõ"),
        lambda: app.provide_supplement(d, expected_version=None, actor_id="tiepnhan",
                                       documents=["Bản sao CCCD có chứng thực"]),
        lambda: app.transfer(d, expected_version=None, actor_id="hctp", to_unit="STP-BGD",
                             note="Trình ký"),
        lambda: app.accept_transfer(d, expected_version=None, actor_id="gd.stp"),
        lambda: sign(app, d, decision_title="Phiếu LLTP số 1"),
        lambda: app.transfer(d, expected_version=None, actor_id="gd.stp", to_unit="TTHCC"),
        lambda: app.accept_transfer(d, expected_version=None, actor_id="tiepnhan"),
        lambda: app.dispatch(d, expected_version=None, actor_id="tiepnhan",
                             method="counter_pickup"),
        lambda: app.deliver(d, expected_version=None, actor_id="tiepnhan",
                            recipient_name="Trần Thị Bích Ngọc"),
    ]


def test_replay_at_each_recorded_moment_is_what_the_page_showed_then(
        app: HosoApplication, clock: FakeClock) -> None:
    dossier_id = receive(app).dossier_id
    seen: list[tuple[datetime, DossierSnapshot]] = [
        (clock(), app.open_dossier(dossier_id, viewer_id="tiepnhan"))]
    for command in _walk(app, dossier_id):
        clock.advance(hours=2)
        command()
        seen.append((clock(), app.open_dossier(dossier_id, viewer_id="thanhtra")))
    assert seen[-1][1].stage is Stage.DELIVERED

    for position, (moment, snapshot) in enumerate(seen, start=1):
        trail = app.audit_trail(dossier_id, inspector_id="thanhtra", as_of=moment)
        assert trail.as_of.position == position
        assert state(trail.as_of.state) == shown(snapshot), f"at event {position}"
        # Between two steps the record still showed the earlier one.
        between = app.audit_trail(dossier_id, inspector_id="thanhtra",
                                  as_of=moment + timedelta(hours=1))
        assert state(between.as_of.state) == shown(snapshot)
        by_position = app.audit_trail(dossier_id, inspector_id="thanhtra", as_of=position)
        assert state(by_position.as_of.state) == shown(snapshot)

    before = app.audit_trail(dossier_id, inspector_id="thanhtra",
                             as_of=seen[0][0] - timedelta(microseconds=1))
    assert before.as_of.state is None and before.as_of.position == 0
    assert before.as_of.message is not None
    assert "Hồ sơ chưa tồn tại vào thời điểm này" in before.as_of.message.vi
    assert "did not exist yet" in before.as_of.message.en
    assert app.audit_trail(dossier_id, inspector_id="thanhtra", as_of=0).as_of.state is None


def test_the_trail_lists_every_event_with_actor_unit_and_both_times(
        app: HosoApplication, clock: FakeClock) -> None:
    dossier_id = receive(app).dossier_id
    clock.advance(minutes=30)
    app.transfer(dossier_id, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP",
                 occurred_at=clock() - timedelta(minutes=10))  # reported ten minutes late
    trail = app.audit_trail(dossier_id, inspector_id="thanhtra")
    assert [(e.position, e.kind) for e in trail.events] == [(1, "Received"), (2, "Transferred")]
    received, transferred = trail.events
    assert (received.actor_id, received.actor_name) == ("tiepnhan", "Nguyễn Thị Lan")
    assert received.actor_unit == "TTHCC"
    assert received.unit_name == "Trung tâm Phục vụ hành chính công TP.HCM"
    assert transferred.recorded_at == clock()
    assert transferred.occurred_at == clock() - timedelta(minutes=10)
    assert trail.as_of.position == 2 and trail.compare_to is None and trail.diff is None
    assert trail.code == "000.00.01.H29-261123-0001"


def test_diff_lists_exactly_the_fields_that_changed(app: HosoApplication,
                                                   clock: FakeClock) -> None:
    dossier_id = receive(app).dossier_id
    received_at = clock()
    clock.advance(hours=1)
    app.transfer(dossier_id, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP")
    trail = app.audit_trail(dossier_id, inspector_id="thanhtra", as_of=received_at,
                            compare_to=clock())
    assert trail.diff is not None
    changes = {c.name: (c.before, c.after) for c in trail.diff}
    assert changes == {
        "holder_unit": ("TTHCC", "STP-HCTP"),
        "holder_officer": ("tiepnhan", None),
        "stage": (Stage.RECEIVED, Stage.IN_PROGRESS),
        "step_due_at": (local("2026-11-23T14:30"), None),
        "pending_from_unit": (None, "TTHCC"),
    }
    # Whichever moment comes first, the diff reads earlier → later.
    backwards = app.audit_trail(dossier_id, inspector_id="thanhtra", as_of=2, compare_to=1)
    assert backwards.diff == trail.diff
    same = app.audit_trail(dossier_id, inspector_id="thanhtra", as_of=2, compare_to=2)
    assert same.diff == []
    nothing_yet = app.audit_trail(dossier_id, inspector_id="thanhtra", as_of=2, compare_to=0)
    assert nothing_yet.diff is None
    assert nothing_yet.compare_to is not None and nothing_yet.compare_to.message is not None


def test_control_slip_one_row_per_handoff_with_on_time_and_late_steps(
        app: HosoApplication, clock: FakeClock) -> None:
    d = receive(app).dossier_id  # Monday 23/11 09:00; reception step due 14:30
    clock.advance(hours=1)
    app.transfer(d, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP")
    clock.advance(hours=1)
    app.accept_transfer(d, expected_version=None, actor_id="hctp")  # 7 working days
    clock.advance(days=1)
    app.transfer(d, expected_version=None, actor_id="hctp", to_unit="STP-BGD", note="Trình ký")
    clock.advance(hours=1)
    app.accept_transfer(d, expected_version=None, actor_id="gd.stp")  # due Thu 26/11 17:00
    clock.advance(days=7)  # Tuesday 01/12: late
    sign(app, d, decision_title="Phiếu LLTP")
    app.transfer(d, expected_version=None, actor_id="gd.stp", to_unit="TTHCC")
    clock.advance(minutes=30)
    app.accept_transfer(d, expected_version=None, actor_id="tiepnhan")
    clock.advance(minutes=30)
    app.dispatch(d, expected_version=None, actor_id="tiepnhan", method="post",
                 postal_tracking_number="EB123456789VN")
    clock.advance(days=1)
    app.deliver(d, expected_version=None, actor_id="buudien",
                recipient_name="Trần Thị Bích Ngọc")

    slip = app.control_slip(d, inspector_id="thanhtra")
    rows = [(r.kind, r.giver.officer_id, r.giver.unit_code,
             r.receiver.officer_id if r.receiver else "?",
             r.receiver.unit_code if r.receiver else "?", r.verdict) for r in slip.rows]
    assert rows == [
        ("Received", None, None, "tiepnhan", "TTHCC", None),
        ("Transferred", "tiepnhan", "TTHCC", "hctp", "STP-HCTP", Verdict.ON_TIME),
        ("Transferred", "hctp", "STP-HCTP", "gd.stp", "STP-BGD", Verdict.EARLY),
        ("Transferred", "gd.stp", "STP-BGD", "tiepnhan", "TTHCC", Verdict.LATE),
        ("Dispatched", "tiepnhan", "TTHCC", None, "BUUDIEN", Verdict.ON_TIME),
        ("Delivered", "buudien", "BUUDIEN", None, None, Verdict.EARLY),
    ]
    assert [r.number for r in slip.rows] == [1, 2, 3, 4, 5, 6]
    first, to_specialist, to_leader, back, _, delivered = slip.rows
    assert first.giver.officer_name == "Trần Thị Bích Ngọc"  # the citizen hands it in
    assert to_specialist.due_at == local("2026-11-23T14:30")
    assert to_specialist.handed_at == local("2026-11-23T10:00")
    assert to_specialist.received_at == local("2026-11-23T11:00")
    assert to_leader.due_at == local("2026-12-03T17:00")  # 24/11 is a public holiday
    assert back.due_at == local("2026-11-26T17:00")
    assert [e.kind for e in back.during] == ["Signed"]
    assert delivered.receiver is not None
    assert delivered.receiver.officer_name == "Trần Thị Bích Ngọc"
    assert delivered.due_at == local("2026-12-08T17:00")  # the result's due date

    trail = app.audit_trail(d, inspector_id="thanhtra")
    desk, transit = trail.events[1].timing, trail.events[2].timing
    assert desk is not None and transit is not None
    assert (desk.span, desk.office_hours, desk.verdict) == (Span.DESK, 1.0, Verdict.ON_TIME)
    assert (transit.span, transit.office_hours, transit.verdict) == (Span.TRANSIT, 1.0, None)
    assert trail.events[2].starts_step_due_at == local("2026-12-03T17:00")


def test_a_transfer_not_yet_accepted_has_no_receiver(app: HosoApplication,
                                                   clock: FakeClock) -> None:
    d = receive(app).dossier_id
    clock.advance(hours=1)
    app.transfer(d, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP")
    last = app.control_slip(d, inspector_id="thanhtra").rows[-1]
    assert (last.receiver, last.received_at) == (None, None)


def test_office_hours_skip_nights_lunch_and_weekends() -> None:
    calendar = WorkingCalendar()
    friday, monday = local("2026-11-27T16:00"), local("2026-11-30T08:30")
    assert office_hours_between(OfficeClock(calendar), friday, monday) == 2.0
    assert office_hours_between(OfficeClock(calendar), local("2026-11-23T11:00"),
                                local("2026-11-23T13:30")) == 1.0
    assert office_hours_between(OfficeClock(calendar), monday, friday) == 0.0


def _readings(app: HosoApplication, viewer: str, clock: FakeClock) -> list[tuple[str, str, str]]:
    return [(e.dossier_id, e.purpose, e.page) for e in app.readings(viewer, today(clock))]


def test_each_view_records_one_reading_with_its_purpose(app: HosoApplication,
                                                       clock: FakeClock) -> None:
    d = receive(app).dossier_id
    app.snapshot(d, viewer_id="hctp")  # a query for a command's page, not an opening
    assert _readings(app, "hctp", clock) == []
    app.open_dossier(d, viewer_id="hctp")
    assert _readings(app, "hctp", clock) == [(str(d), "work", "dossier")]
    [opened] = app.readings("hctp", today(clock))
    assert (opened.viewer_id, opened.viewer_unit, opened.opened_at) == ("hctp", "STP-HCTP",
                                                                        clock())
    app.audit_trail(d, inspector_id="thanhtra")
    app.control_slip(d, inspector_id="thanhtra")
    app.open_dossier(d, viewer_id="thanhtra")
    assert _readings(app, "thanhtra", clock) == [
        (str(d), "audit", "audit_trail"), (str(d), "audit", "control_slip"),
        (str(d), "audit", "dossier")]
    # An administrator may audit too; browsing a dossier page is not auditing.
    app.audit_trail(d, inspector_id="quantri")
    app.open_dossier(d, viewer_id="quantri")
    assert _readings(app, "quantri", clock) == [(str(d), "audit", "audit_trail"),
                                               (str(d), "work", "dossier")]
    # Another day, another log.
    clock.advance(days=1)
    app.open_dossier(d, viewer_id="hctp")
    assert len(app.readings("hctp", today(clock))) == 1


def test_only_reviewers_audit_and_refusals_record_nothing(app: HosoApplication,
                                                         clock: FakeClock) -> None:
    d = receive(app).dossier_id
    for clerk in ("tiepnhan", "hctp", "buudien"):
        with pytest.raises(AccessDenied, match="Chỉ thanh tra viên"):
            app.audit_trail(d, inspector_id=clerk)
        with pytest.raises(AccessDenied, match="Chỉ thanh tra viên"):
            app.control_slip(d, inspector_id=clerk)
        assert _readings(app, clerk, clock) == []
    with pytest.raises(NotFound, match="Không tìm thấy hồ sơ"):
        app.audit_trail(uuid4(), inspector_id="thanhtra")
    with pytest.raises(NotFound):  # an id of something that is not a dossier
        app.audit_trail(ReadingLog.create_id("tiepnhan", today(clock)),
                        inspector_id="thanhtra")
    with pytest.raises(DomainError, match="Vị trí phải từ 0 đến 1"):
        app.audit_trail(d, inspector_id="thanhtra", as_of=2)
    assert _readings(app, "thanhtra", clock) == []


def test_a_reading_that_cannot_be_recorded_fails_loudly(app: HosoApplication,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    d = receive(app).dossier_id
    save = app.save

    def conflicting(*objects: Any, **kwargs: Any) -> Any:
        if any(isinstance(o, ReadingLog) for o in objects):
            raise IntegrityError("another tab wrote first")
        return save(*objects, **kwargs)

    monkeypatch.setattr(app, "save", conflicting)
    with pytest.raises(ReadingNotRecorded, match="chưa ghi được lượt xem"):
        app.open_dossier(d, viewer_id="tiepnhan")
    with pytest.raises(ReadingNotRecorded):
        app.audit_trail(d, inspector_id="thanhtra")


def test_one_viewer_in_several_tabs_loses_no_reading(store: Store, clock: FakeClock) -> None:
    apps = [HosoApplication(env=store.eventsourcing_env(), clock=clock) for _ in range(4)]
    d = receive(apps[0]).dossier_id
    errors: list[Exception] = []
    start = threading.Barrier(len(apps))

    def tab(app: HosoApplication) -> None:
        start.wait()
        try:
            app.open_dossier(d, viewer_id="hctp")
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=tab, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    readings = apps[0].readings("hctp", today(clock))
    assert len(readings) == 4
    assert [e.originator_version for e in apps[0].repository.event_store.get(
        ReadingLog.create_id("hctp", today(clock)))] == [1, 2, 3, 4, 5]
    for a in apps:
        a.close()


def test_a_repeated_receipt_waits_on_a_dossier_event_not_on_a_reading(
        app: HosoApplication) -> None:
    first = app.receive(actor_id="tiepnhan", procedure_code="2.000488", applicant_name="A",
                        applicant_phone="0901234567", applicant_address="B",
                        documents=["Tờ khai"], idempotency_key="receipt-key-0001")
    app.open_dossier(first.dossier_id, viewer_id="tiepnhan")
    again = app.receive(actor_id="tiepnhan", procedure_code="2.000488", applicant_name="A",
                        applicant_phone="0901234567", applicant_address="B",
                        documents=["Tờ khai"], idempotency_key="receipt-key-0001")
    assert again.dossier_id == first.dossier_id
    [notification] = app.recorder.select_notifications(start=again.notification_id, limit=1)
    assert ".dossier:Dossier." in notification.topic


def test_a_moment_must_carry_its_time_zone(app: HosoApplication) -> None:
    d = receive(app).dossier_id
    with pytest.raises(ValueError, match="timezone-aware"):
        app.audit_trail(d, inspector_id="thanhtra", as_of=datetime(2026, 11, 23, 9, 0))
    aware = app.audit_trail(d, inspector_id="thanhtra", as_of=datetime(2030, 1, 1, tzinfo=UTC))
    assert aware.as_of.position == 1
