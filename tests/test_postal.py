"""Issue 23: the postal channel — a dossier collected at the citizen's address, handed to
the counter and received there; the rules on the aggregate, then the application and read
models on both stores."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication, Outcome
from domain.dossier import (
    MAX_DELIVERY_ATTEMPTS,
    Action,
    Actor,
    Applicant,
    DeliveryFailure,
    Dossier,
    Stage,
)
from domain.errors import AccessDenied
from domain.working_days import WorkingCalendar
from projections.desk_queue import QueueFilter
from projections.runners import ReadModels
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import receive, wait_for, walk_to_delivered_by_post, walk_to_signed
from tests.notify_helpers import RecordingSender, deliverer
from tests.test_api import Api
from tests.test_dossier import NOW, POSTMAN, RECEPTION, SPECIALIST, at, d, new_events, refused
from tests.test_red_flags import Flags, codes, flags  # noqa: F401 (the fixture)
from tests.test_webhooks import Partner, partner, subscribe  # noqa: F401 (the fixture)
from web.accounts import StaffAccounts
from web.api.keys import Scope, partner_keys_on
from web.app import create_app

calendar = WorkingCalendar()
ADDRESS = "18 Nguyễn Huệ, Quận 1, TP.HCM"


def requested(actor: Actor = RECEPTION) -> Dossier:
    return Dossier.request_pickup(
        procedure=d.procedure("2.000488"),
        applicant=Applicant.cleaned("Lê Văn Tám", "0901 234 567", "5 Lý Tự Trọng, TP.HCM"),
        address=ADDRESS, documents=["Tờ khai"], actor=actor, post_office=d.post_office(),
        receiving_unit=d.unit("TTHCC"), occurred_at=NOW, recorded_at=NOW, sequence_number=3,
        calendar=calendar, idempotency_key=uuid4().hex)


def test_a_pickup_goes_to_the_post_then_the_counter_and_the_clock_starts_at_receipt() -> None:
    dossier = requested()
    assert (dossier.stage, dossier.holder_unit) == (Stage.AWAITING_COLLECTION, "BUUDIEN")
    assert dossier.allowed_actions(POSTMAN) == [Action.COLLECT]
    assert dossier.allowed_actions(RECEPTION) == []
    dossier.collect(postal_tracking_number="ep123vn", items=["Tờ khai", "Bản chụp CCCD"],
                    actor=POSTMAN, **at(2))
    assert dossier.postal_tracking_number == "EP123VN"
    assert dossier.allowed_actions(POSTMAN) == [Action.HAND_OVER]
    dossier.hand_over(actor=POSTMAN, **at(30))
    assert (dossier.stage, dossier.holder_unit, dossier.pending_from_unit) == (
        Stage.HANDED_TO_COUNTER, "TTHCC", "BUUDIEN")
    assert dossier.allowed_actions(RECEPTION) == [Action.RECEIVE_FROM_POST]
    assert dossier.allowed_actions(POSTMAN) == []
    dossier.collect_events()
    dossier.receive_from_post(actor=RECEPTION, procedure=d.procedure("2.000488"),
                              calendar=calendar, **at(31))
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.ReceivedFromPost)
    # Both sides of the hand-over are named: the post agent on this event, the clerk as actor.
    assert (event.handed_over_by, event.actor_id) == ("buudien", "tiepnhan")
    assert dossier.postal_transit == timedelta(hours=29)
    # The due date counts from the counter's receipt (Tuesday 10:00), not the request.
    assert event.due_date == calendar.due_date(
        NOW + timedelta(hours=31), d.procedure("2.000488").processing_days,
        d.procedure("2.000488").rules.cutoff).due
    assert dossier.stage is Stage.RECEIVED and Action.TRANSFER in dossier.allowed_actions(
        RECEPTION)


def test_each_postal_step_only_in_its_turn_and_by_its_side() -> None:
    dossier = requested()
    with refused("chưa đến lấy hồ sơ"):
        dossier.hand_over(actor=POSTMAN, **at(1))
    # The counter's clerk is not the post: the collection is the post's to record.
    with pytest.raises(AccessDenied):
        dossier.collect(postal_tracking_number="EP1VN", items=["x"], actor=RECEPTION, **at(1))
    with refused("Hãy ghi các giấy tờ đã nhận"):
        dossier.collect(postal_tracking_number="EP1VN", items=[" "], actor=POSTMAN, **at(1))
    with refused("Mã bưu gửi chỉ gồm chữ và số"):
        dossier.collect(postal_tracking_number="EP 1", items=["x"], actor=POSTMAN, **at(1))
    with refused("không phải hồ sơ bưu điện"):
        from tests.test_dossier import received

        received().receive_from_post(actor=RECEPTION, procedure=d.procedure("2.000488"),
                                     calendar=calendar, **at(1))
    with refused("chưa đến lấy hồ sơ"):
        dossier.transfer(to_unit=d.unit("STP-HCTP"), to_officer=None, note="", actor=POSTMAN,
                         **at(1))


def test_who_may_ask_for_a_pickup() -> None:
    assert requested(POSTMAN).received_by == "buudien"
    with pytest.raises(AccessDenied):
        requested(SPECIALIST)


# ---- the application and read models, on both stores ------------------------------------

@pytest.fixture
def models(store: Store, app: HosoApplication) -> Iterator[ReadModels]:
    read_models = ReadModels(store, app)
    yield read_models
    read_models.close()


def ask(app: HosoApplication, key: str = "pickup-1", actor_id: str = "tiepnhan") -> Outcome:
    return app.request_pickup(
        actor_id=actor_id, procedure_code="2.000488", applicant_name="Trần Thị Hoa",
        applicant_phone="0912345678", applicant_address="9 Pasteur, Q.1",
        pickup_address=ADDRESS, documents=["Tờ khai"], idempotency_key=key)


def walk_to_receipt(app: HosoApplication, clock: FakeClock, dossier_id: UUID) -> None:
    clock.advance(hours=2)
    app.collect(dossier_id, expected_version=None, actor_id="buudien",
                postal_tracking_number="EP555VN", items=["Tờ khai"])
    clock.advance(hours=3)
    app.hand_over(dossier_id, expected_version=None, actor_id="buudien")
    clock.advance(minutes=30)
    app.receive_from_post(dossier_id, expected_version=None, actor_id="tiepnhan")


def test_a_pickup_on_the_store_and_in_every_read_model(app: HosoApplication, clock: FakeClock,
                                                      models: ReadModels) -> None:
    first = ask(app)
    assert ask(app).dossier_id == first.dossier_id  # the same request again: one dossier
    dossier_id = first.dossier_id
    models.catch_up()
    post_list = models.desk_queue.page(QueueFilter(holder_unit="BUUDIEN"))
    assert [(r.dossier_id, r.stage) for r in post_list] == [
        (dossier_id, Stage.AWAITING_COLLECTION)]
    token = app.tracking_token(dossier_id)
    walk_to_receipt(app, clock, dossier_id)
    models.catch_up()
    status = models.public_status.find(token)
    assert status is not None
    assert [s.kind for s in status.steps] == [
        "PickupRequested", "CollectedByPost", "HandedToCounter", "ReceivedFromPost"]
    assert status.postal_transit == timedelta(hours=3, minutes=30)
    assert status.postal_tracking_number == "EP555VN"
    dossier = app.dossier(dossier_id)
    assert (status.stage, status.due_date, status.received_at) == (
        Stage.RECEIVED, dossier.due_date, dossier.accepted_at)
    # The address is the citizen's: in the sealed events only, never in a read model.
    for view in models.views.values():
        for table in view.tables:
            assert "Nguyễn Huệ" not in repr(view._select(f"SELECT * FROM {{p}}{table}"))
    [row] = models.review._select("SELECT * FROM {p}review_dossier")
    assert row["failed_attempts"] == 0 and row["collected_at"] is not None
    steps = models.review._select(
        "SELECT unit_code, accepted_at, left_at FROM {p}review_step ORDER BY arrived_at")
    assert [s["unit_code"] for s in steps] == ["BUUDIEN", "TTHCC"]


def test_postal_steps_are_idempotent_and_refused_in_words(app: HosoApplication,
                                                           clock: FakeClock) -> None:
    dossier_id = ask(app).dossier_id
    clock.advance(hours=1)
    first, again = (app.collect(dossier_id, expected_version=None, actor_id="buudien",
                                postal_tracking_number="EP1VN", items=["Tờ khai"],
                                request_key="collect-key-1") for _ in range(2))
    assert first.dossier_id == again.dossier_id and app.dossier(dossier_id).version == 3
    with refused("đang trên đường"):
        app.receive_from_post(dossier_id, expected_version=None, actor_id="tiepnhan")


# ---- the post office's system through the partner API ------------------------------------

@pytest.fixture
def post_api(store: Store, app: HosoApplication, accounts: StaffAccounts,
             clock: FakeClock) -> Iterator[Api]:
    app.appoint_staff(admin_id="quantri", user_id="vnpost", full_name="Bưu điện Việt Nam",
                      unit_code="BUUDIEN", roles=["post_agent"])
    keys = partner_keys_on(accounts.datastore)
    secret = keys.create(partner_id="vnpost", name="VNPost",
                         scopes=[Scope.PICKUP, Scope.POST, Scope.DELIVER],
                         now=clock()).secret_key
    with TestClient(create_app(store, app, accounts)) as client:
        yield Api(client, {"vnpost": secret}, keys)


def test_the_post_offices_system_walks_a_pickup_to_the_counter(
        post_api: Api, app: HosoApplication, clock: FakeClock) -> None:
    body = {"procedure_code": "2.000488",
            "applicant": {"name": "Phạm Thị Lan", "phone": "0987654321",
                          "address": "3 Hai Bà Trưng, Q.1"},
            "pickup_address": ADDRESS, "documents": ["Tờ khai"]}
    asked = post_api.post("/pickups", "vnpost", body, idempotency_key="vnpost-pickup-1")
    assert asked.status_code == 201, asked.text
    again = post_api.post("/pickups", "vnpost", body, idempotency_key="vnpost-pickup-1")
    assert again.json()["dossier_id"] == asked.json()["dossier_id"]
    dossier_id = UUID(asked.json()["dossier_id"])
    clock.advance(hours=1)
    collected = post_api.post(f"/dossiers/{dossier_id}/collection", "vnpost",
                              {"postal_tracking_number": "EP9VN", "items": ["Tờ khai"]})
    assert collected.json() == {"dossier_id": str(dossier_id), "action": "collect"}
    # Out of turn: the dossier's own rule, in words.
    early = post_api.post(f"/dossiers/{dossier_id}/delivery", "vnpost",
                          {"recipient_name": "A"})
    assert early.status_code == 422
    assert "trên đường" in early.json()["error"]["message_vi"]
    clock.advance(hours=2)
    handed = post_api.post(f"/dossiers/{dossier_id}/handover", "vnpost", {})
    assert handed.status_code == 200, handed.text
    clock.advance(minutes=15)
    app.receive_from_post(dossier_id, expected_version=None, actor_id="tiepnhan")

    def status() -> Any:
        return post_api.client.get(asked.json()["api_status_url"]).json()

    assert wait_for(lambda: status()["postal_transit_minutes"] == 135)
    shown = status()
    assert [s["event"] for s in shown["steps"]] == [
        "PickupRequested", "CollectedByPost", "HandedToCounter", "ReceivedFromPost"]
    assert "Nguyễn Huệ" not in repr(shown)
    events = [e for e in app.repository.event_store.get(dossier_id)
              if isinstance(e, Dossier.Event)]
    assert [e.actor_id for e in events] == ["vnpost"] * 4 + ["tiepnhan"]


# ---- nothing lost: the inspector's red flags ----------------------------------------------

def test_a_parcel_never_received_and_a_result_never_delivered_are_red_flags(
        app: HosoApplication, clock: FakeClock, flags: Flags) -> None:  # noqa: F811
    left, received = ask(app, "pickup-left").dossier_id, ask(app, "pickup-taken").dossier_id
    walk_to_receipt(app, clock, received)
    clock.advance(minutes=5)
    app.collect(left, expected_version=None, actor_id="buudien",
                postal_tracking_number="EP7VN", items=["Tờ khai"])
    app.hand_over(left, expected_version=None, actor_id="buudien")
    lost, delivered = receive(app).dossier_id, receive(app).dossier_id
    walk_to_delivered_by_post(app, delivered)
    walk_to_signed(app, lost)
    app.dispatch(lost, expected_version=None, actor_id="tiepnhan", method="post",
                 postal_tracking_number="EB55VN")
    clock.advance(days=3)
    found = flags()
    # Left at the counter three days ago, never received there: the counter's side is missing.
    assert codes(found["long_transit"]) == {str(left)}
    assert "BUUDIEN → TTHCC — chưa được tiếp nhận" in found["long_transit"].dossiers[0].detail.vi
    assert found["lost_in_the_post"].dossiers == []  # three working days: not yet
    clock.advance(days=7)
    found = flags()
    assert codes(found["lost_in_the_post"]) == {str(lost)}
    assert "ngày làm việc chưa có xác nhận đã trao" in (
        found["lost_in_the_post"].dossiers[0].detail.vi)


# ---- a delivery that fails (issue 23.2) -----------------------------------------------------

def test_failed_attempts_then_the_return_to_the_counter_each_in_its_turn() -> None:
    from tests.test_dossier import dispatched_by_post

    dossier = dispatched_by_post()
    assert dossier.allowed_actions(POSTMAN) == [Action.DELIVER, Action.RECORD_FAILED_DELIVERY]
    assert Action.REDIRECT_DELIVERY in dossier.allowed_actions(RECEPTION)
    with refused("Chỉ chuyển trả sau lần phát thứ 3"):
        dossier.return_to_counter(actor=POSTMAN, **at(6))
    with pytest.raises(AccessDenied):  # the counter does not record the post's attempts
        dossier.record_failed_delivery(reason=DeliveryFailure.NOBODY_HOME, actor=RECEPTION,
                                       **at(6))
    for hour, reason in enumerate(DeliveryFailure, start=6):
        dossier.record_failed_delivery(reason=reason, actor=POSTMAN, **at(hour))
    assert dossier.failed_attempts == MAX_DELIVERY_ATTEMPTS == 3
    # After the last attempt the post may only take the result back.
    assert dossier.allowed_actions(POSTMAN) == [Action.RETURN_TO_COUNTER]
    with refused("Đã phát không thành công 3 lần"):
        dossier.deliver(recipient_name="A", actor=POSTMAN, **at(10))
    dossier.return_to_counter(actor=POSTMAN, **at(10))
    assert (dossier.stage, dossier.holder_unit) == (Stage.AWAITING_PICKUP, "TTHCC")
    assert dossier.allowed_actions(RECEPTION)[0] is Action.DELIVER
    with refused("không ở bưu điện"):
        dossier.redirect_delivery(address=None, actor=RECEPTION, **at(11))


def test_the_citizen_chooses_the_counter_or_a_new_address() -> None:
    from tests.test_dossier import dispatched_by_post

    moved, to_counter = dispatched_by_post(), dispatched_by_post()
    moved.record_failed_delivery(reason=DeliveryFailure.WRONG_ADDRESS, actor=POSTMAN, **at(6))
    moved.redirect_delivery(address=" 7 Lê Duẩn, Q.1 ", actor=RECEPTION, **at(7))
    assert moved.delivery_address == "7 Lê Duẩn, Q.1"
    moved.deliver(recipient_name="Lê Văn Tám", actor=POSTMAN, **at(8))  # the second attempt
    to_counter.redirect_delivery(address=None, actor=RECEPTION, **at(6))
    with refused("chọn nhận tại quầy"):
        to_counter.deliver(recipient_name="A", actor=POSTMAN, **at(7))
    to_counter.return_to_counter(actor=POSTMAN, **at(7))  # no failed attempt needed
    assert to_counter.stage is Stage.AWAITING_PICKUP


def test_a_failed_delivery_on_the_store_tells_the_citizen_and_fills_the_review(
        app: HosoApplication, clock: FakeClock, models: ReadModels) -> None:
    dossier_id = app.receive(actor_id="tiepnhan", procedure_code="2.000488",
                             documents=["Tờ khai"], applicant_name="Trần Thị Hoa",
                             applicant_phone="0912345678", applicant_address="9 Pasteur, Q.1",
                             applicant_email="dan@example.vn").dossier_id
    walk_to_signed(app, dossier_id)
    app.dispatch(dossier_id, expected_version=None, actor_id="tiepnhan", method="post",
                 postal_tracking_number="EB77VN")
    clock.advance(hours=20)
    first, again = (app.record_failed_delivery(
        dossier_id, expected_version=None, actor_id="buudien", reason="nobody_home",
        request_key="attempt-1") for _ in range(2))
    assert first == again and app.dossier(dossier_id).failed_attempts == 1
    with refused("lý do phát không thành công"):
        app.record_failed_delivery(dossier_id, expected_version=None, actor_id="buudien",
                                   reason="dog")
    app.redirect_delivery(dossier_id, expected_version=None, actor_id="tiepnhan", address=None)
    clock.advance(hours=2)
    app.return_to_counter(dossier_id, expected_version=None, actor_id="buudien")
    models.catch_up()
    [row] = models.review._select("SELECT * FROM {p}review_dossier")
    assert row["failed_attempts"] == 1 and row["returned_at"] is not None
    counter = models.desk_queue.page(QueueFilter(holder_unit="TTHCC"))
    assert [(r.dossier_id, r.stage) for r in counter] == [(dossier_id, Stage.AWAITING_PICKUP)]
    kinds = [m.kind for m in models.outbox.messages(dossier_id) if m.channel.value == "email"]
    assert kinds[-3:] == ["delivery_failed", "delivery_redirected", "returned_to_counter"]
    told = [m for m in models.outbox.messages(dossier_id) if m.kind == "delivery_failed"]
    assert told[0].facts["attempts_left"] == 2


def test_the_post_offices_system_records_a_failed_attempt_and_the_return(
        post_api: Api, app: HosoApplication, clock: FakeClock) -> None:
    dossier_id = receive(app).dossier_id
    walk_to_signed(app, dossier_id)
    app.dispatch(dossier_id, expected_version=None, actor_id="tiepnhan", method="post",
                 postal_tracking_number="EB88VN")
    clock.advance(hours=4)
    path = f"/dossiers/{dossier_id}/failed-delivery"
    wrong = post_api.post(path, "vnpost", {"reason": "dog"})
    assert wrong.status_code == 400  # not one of the reasons the schema offers
    first, again = (post_api.post(path, "vnpost", {"reason": "refused"},
                                  idempotency_key="vnpost-attempt-1") for _ in range(2))
    assert first.json() == again.json() == {"dossier_id": str(dossier_id),
                                            "action": "record_failed_delivery"}
    early = post_api.post(f"/dossiers/{dossier_id}/return", "vnpost", {})
    assert early.status_code == 422 and "lần phát thứ 3" in early.json()["error"]["message_vi"]
    for _second_and_third in range(2):
        clock.advance(hours=20)
        assert post_api.post(path, "vnpost", {"reason": "nobody_home"}).status_code == 200
    back = post_api.post(f"/dossiers/{dossier_id}/return", "vnpost", {})
    assert back.status_code == 200, back.text
    dossier = app.dossier(dossier_id)
    assert (dossier.failed_attempts, dossier.stage) == (3, Stage.AWAITING_PICKUP)
    events = [e for e in app.repository.event_store.get(dossier_id)
              if isinstance(e, Dossier.DeliveryAttemptFailed | Dossier.ReturnedToCounter)]
    assert [e.actor_id for e in events] == ["vnpost"] * 4


# ---- the whole postal path through the post office's key (issue 23: done when) ----------

def test_the_post_offices_key_walks_the_whole_postal_path(
        post_api: Api, app: HosoApplication, clock: FakeClock) -> None:
    """Pick-up → the counter's receipt → processing → dispatch by post → a failed attempt →
    the second attempt delivered: every postal leg through the post office's key, the rest by
    the clerks, each leg named on its event and shown on the status the API serves."""
    body = {"procedure_code": "2.000488",
            "applicant": {"name": "Đỗ Văn Hùng", "phone": "0977000111",
                          "address": "12 Lê Lợi, Q.1"},
            "pickup_address": ADDRESS, "documents": ["Tờ khai"]}
    asked = post_api.post("/pickups", "vnpost", body, idempotency_key="walk-pickup")
    assert asked.status_code == 201, asked.text
    dossier_id = UUID(asked.json()["dossier_id"])
    clock.advance(hours=1)
    steps = [("/collection", {"postal_tracking_number": "EP100VN", "items": ["Tờ khai"]}),
             ("/handover", {})]
    for path, sent in steps:
        answer = post_api.post(f"/dossiers/{dossier_id}{path}", "vnpost", sent,
                               idempotency_key=f"walk{path}")
        assert answer.status_code == 200, answer.text
        clock.advance(hours=2)
    app.receive_from_post(dossier_id, expected_version=None, actor_id="tiepnhan")
    walk_to_signed(app, dossier_id)
    app.dispatch(dossier_id, expected_version=None, actor_id="tiepnhan", method="post",
                 postal_tracking_number="EB200VN")
    clock.advance(hours=20)
    failed = post_api.post(f"/dossiers/{dossier_id}/failed-delivery", "vnpost",
                           {"reason": "nobody_home"}, idempotency_key="walk-attempt-1")
    assert failed.status_code == 200, failed.text
    # The same attempt sent again (a lost answer) is the same attempt, not a second one.
    assert post_api.post(f"/dossiers/{dossier_id}/failed-delivery", "vnpost",
                         {"reason": "nobody_home"},
                         idempotency_key="walk-attempt-1").json() == failed.json()
    clock.advance(hours=20)
    delivered = post_api.post(f"/dossiers/{dossier_id}/delivery", "vnpost",
                              {"recipient_name": "Đỗ Văn Hùng"},
                              idempotency_key="walk-attempt-2")
    assert delivered.status_code == 200, delivered.text

    def status() -> Any:
        return post_api.client.get(asked.json()["api_status_url"]).json()

    assert wait_for(lambda: status()["stage"]["code"] == "delivered")
    shown = status()
    assert [s["event"] for s in shown["steps"]] == [
        "PickupRequested", "CollectedByPost", "HandedToCounter", "ReceivedFromPost",
        "Transferred", "TransferAccepted", "Transferred", "TransferAccepted", "Signed",
        "Transferred", "TransferAccepted", "Dispatched", "DeliveryAttemptFailed",
        "Delivered"]
    assert shown["postal_transit_minutes"] == 240  # collected at +1 h, received at +5 h
    dossier = app.dossier(dossier_id)
    assert (dossier.stage, dossier.failed_attempts) == (Stage.DELIVERED, 1)
    # The processing clock runs from the counter's receipt, not from the request.
    assert dossier.collected_at is not None and dossier.accepted_at is not None
    assert dossier.accepted_at - dossier.collected_at == timedelta(hours=4)
    assert dossier.due_date == calendar.due_date(
        dossier.accepted_at, d.procedure("2.000488").processing_days,
        d.procedure("2.000488").rules.cutoff).due
    events = [e for e in app.repository.event_store.get(dossier_id)
              if isinstance(e, Dossier.Event)]
    by_post = [type(e).__name__ for e in events if e.actor_id == "vnpost"]
    assert by_post == ["Received", "PickupRequested", "CollectedByPost", "HandedToCounter",
                       "DeliveryAttemptFailed", "Delivered"]
    [receipt] = [e for e in events if isinstance(e, Dossier.ReceivedFromPost)]
    assert (receipt.handed_over_by, receipt.actor_id) == ("vnpost", "tiepnhan")


# ---- the post office's own work list (issue 23.3) -----------------------------------------

def test_a_postal_leg_is_overdue_after_the_next_working_day_and_the_cut_off_says_the_same(
) -> None:
    from datetime import date, datetime

    from domain.postal import PostalTask, is_overdue, leg_due, overdue_before, postal_task
    from domain.working_days import HCMC

    before_tet = datetime(2027, 2, 3, 16, 0, tzinfo=HCMC)  # the last working day before Tết
    assert leg_due(before_tet, calendar) == date(2027, 2, 11)  # Tết 2027: 4–10 Feb off
    assert not is_overdue(before_tet, date(2027, 2, 11), calendar)
    assert is_overdue(before_tet, date(2027, 2, 12), calendar)
    # The one moment the work list's SQL compares with agrees with the rule, every day.
    for day in range(60):
        today = date(2027, 1, 20) + timedelta(days=day)
        cut = overdue_before(today, calendar)
        for hours in range(0, 24 * 20, 7):
            since = datetime(2027, 1, 10, tzinfo=HCMC) + timedelta(hours=hours)
            assert is_overdue(since, today, calendar) == (since < cut), (since, today)
    assert [postal_task(s, n, chosen) for s, n, chosen in [
        (Stage.AWAITING_COLLECTION, 0, False), (Stage.COLLECTED, 0, False),
        (Stage.HANDED_TO_COUNTER, 0, False), (Stage.IN_POSTAL_TRANSIT, 0, False),
        (Stage.IN_POSTAL_TRANSIT, 2, False), (Stage.IN_POSTAL_TRANSIT, 3, False),
        (Stage.IN_POSTAL_TRANSIT, 0, True)]] == [
        PostalTask.TO_COLLECT, PostalTask.IN_TRANSIT, None, PostalTask.TO_DELIVER,
        PostalTask.FAILED, PostalTask.TO_RETURN, PostalTask.TO_RETURN]


def _posted(app: HosoApplication, number: str) -> UUID:
    dossier_id = receive(app).dossier_id
    walk_to_signed(app, dossier_id)
    app.dispatch(dossier_id, expected_version=None, actor_id="tiepnhan", method="post",
                 postal_tracking_number=number)
    return dossier_id


def test_the_post_office_sees_its_work_in_piles_with_counts_the_overdue_first(
        serve: Any, app: HosoApplication, clock: FakeClock) -> None:
    from tests.web_helpers import PASSWORD, sign_in_as

    web = serve("buudien", "tiepnhan")
    # Asked on Monday 23 November: due by the end of the next working day, Wednesday 25 (the
    # 24th is a day off), so overdue on Thursday.
    old = ask(app, "pickup-old").dossier_id
    clock.advance(days=3)
    new = ask(app, "pickup-new").dossier_id
    carried = ask(app, "pickup-carried").dossier_id
    app.collect(carried, expected_version=None, actor_id="buudien",
                postal_tracking_number="EP31VN", items=["Tờ khai"])
    left = ask(app, "pickup-left").dossier_id  # handed over: the counter's now, not the post's
    app.collect(left, expected_version=None, actor_id="buudien",
                postal_tracking_number="EP32VN", items=["Tờ khai"])
    app.hand_over(left, expected_version=None, actor_id="buudien")
    to_deliver, failed, to_return = (_posted(app, n) for n in ("EB1VN", "EB2VN", "EB3VN"))
    app.record_failed_delivery(failed, expected_version=None, actor_id="buudien",
                               reason="wrong_address")
    last = app.redirect_delivery(to_return, expected_version=None, actor_id="tiepnhan",
                                 address=None)
    assert web.app.state.services.read_models.wait(last.notification_id, timeout=10)  # type: ignore[attr-defined]
    sign_in_as(web, "buudien", PASSWORD)
    page = web.get("/", follow_redirects=True)
    assert page.status_code == 200 and page.url.path == "/post"
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert "6 hồ sơ, 1 quá hạn" in text, text
    for pile in ("Cần đến lấy hồ sơ: 2 1 quá hạn", "Đang chuyển đến bộ phận một cửa: 1",
                 "Cần phát kết quả: 1", "Phát không thành công, phát lại: 1",
                 "Cần chuyển trả bộ phận một cửa: 1"):
        assert pile in text
    code = {i: app.dossier(i).code for i in (old, new, carried, left, to_deliver, failed,
                                             to_return)}
    assert code[left] not in page.text
    # Overdue first in its pile, each pile under its own heading.
    sections = {m.group(1): m.group(2) for m in re.finditer(
        r'<section id="(\w+)">(.*?)</section>', page.text, re.S)}
    assert sections["to_collect"].index(code[old]) < sections["to_collect"].index(code[new])
    assert 'class="late"' in sections["to_collect"].split(code[new])[0]
    assert code[carried] in sections["in_transit"] and "EP31VN" in sections["in_transit"]
    assert code[to_deliver] in sections["to_deliver"]
    assert "đã phát không thành công 1 lần" in sections["failed"]
    assert "công dân chọn nhận tại quầy" in sections["to_return"]
    # In English, the same counts.
    web.post("/language", data={"lang": "en"})
    english = web.get("/post").text
    assert "To collect: <span class=\"count\">2</span>" in english
    # The counter's clerk has no such list.
    sign_in_as(web, "tiepnhan", PASSWORD)
    assert web.get("/post").status_code == 403


# ---- webhooks: the post office's system hears of every postal leg -------------------------

def test_a_partner_following_the_post_hears_of_every_leg_from_pick_up_to_delivery(
        app: HosoApplication, clock: FakeClock, models: ReadModels,
        partner: Partner) -> None:  # noqa: F811
    subscribe(models, app, partner, unit="BUUDIEN")
    dossier_id = ask(app, "pickup-heard").dossier_id
    walk_to_receipt(app, clock, dossier_id)
    walk_to_signed(app, dossier_id)
    app.dispatch(dossier_id, expected_version=None, actor_id="tiepnhan", method="post",
                 postal_tracking_number="EB300VN")
    app.record_failed_delivery(dossier_id, expected_version=None, actor_id="buudien",
                               reason="refused")
    app.deliver(dossier_id, expected_version=None, actor_id="buudien",
                recipient_name="Trần Thị Hoa")
    models.catch_up()
    deliverer(models, app, RecordingSender()).run_once()
    bodies = [d.body for d in partner.deliveries if d.verified and d.answered == 200]
    assert [b["type"] for b in bodies] == [
        "dossier.pickup_requested", "dossier.collected_by_post", "dossier.handed_to_counter",
        "dossier.received_from_post", "dossier.transferred", "dossier.transfer_accepted",
        "dossier.transferred", "dossier.transfer_accepted", "dossier.signed",
        "dossier.transferred", "dossier.transfer_accepted", "dossier.dispatched",
        "dossier.delivery_attempt_failed", "dossier.delivered"]
    by_type = {b["type"]: b for b in bodies}
    assert by_type["dossier.delivery_attempt_failed"]["facts"] == {"attempt": 1,
                                                                   "reason": "refused"}
    assert by_type["dossier.received_from_post"]["facts"] == {"from_unit": "BUUDIEN"}
    assert by_type["dossier.pickup_requested"]["dossier"]["stage"] == "awaiting_collection"
    sent = json.dumps(bodies, ensure_ascii=False)
    for private in ("Nguyễn Huệ", "Trần Thị Hoa", "0912345678", "9 Pasteur"):
        assert private not in sent


# ---- analytics and public statistics (issue 23) -------------------------------------------

def test_postal_share_transit_times_failed_first_attempts_and_returns_are_published(
        serve: Any, app: HosoApplication, clock: FakeClock) -> None:
    from datetime import datetime

    from tests.web_helpers import PASSWORD, sign_in_as

    web = serve("thanhtra")
    walk_to_receipt(app, clock, ask(app, "pickup-counted").dossier_id)  # 3 h 30 in transit
    failed_then_delivered, delivered, returned = (
        _posted(app, n) for n in ("EB41VN", "EB42VN", "EB43VN"))
    app.record_failed_delivery(failed_then_delivered, expected_version=None,
                               actor_id="buudien", reason="nobody_home")
    app.redirect_delivery(returned, expected_version=None, actor_id="tiepnhan", address=None)
    app.return_to_counter(returned, expected_version=None, actor_id="buudien")
    clock.advance(hours=6)
    app.deliver(delivered, expected_version=None, actor_id="buudien", recipient_name="A")
    clock.advance(hours=20)
    last = app.deliver(failed_then_delivered, expected_version=None, actor_id="buudien",
                       recipient_name="B")
    models = web.app.state.services.read_models  # type: ignore[attr-defined]
    assert models.wait(last.notification_id, timeout=10)
    since = datetime(2026, 11, 1, tzinfo=clock().tzinfo)
    [tthcc] = models.review.postal_totals(since)
    assert (tthcc.received, tthcc.received_by_post, tthcc.posted, tthcc.failed_first,
            tthcc.returned) == (4, 1, 3, 1, 1)
    assert tthcc.transit_in == (3.5, 3.5)
    assert tthcc.delivery == (16.0, 26.0)  # 6 h and 26 h: the median between, 90th the longer
    public = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", web.get("/stats").text))
    assert "Dịch vụ bưu chính công ích" in public
    for shown in ("1 / 4", "3,5 giờ", "16 giờ", "26 giờ", "1 (33"):
        assert shown in public, shown
    sign_in_as(web, "thanhtra", PASSWORD)
    web.post("/language", data={"lang": "en"})
    analytics = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", web.get("/analytics").text))
    for shown in ("The public postal service", "1 / 4", "3.5 h", "26 h"):
        assert shown in analytics, shown


def test_the_counter_receives_what_the_post_handed_over_from_its_incoming_list(
        serve: Any, app: HosoApplication, clock: FakeClock) -> None:
    """The incoming list's button records the counter's receipt of a parcel from the post (it
    asked to accept a transfer, which such a dossier never had)."""
    from tests.web_helpers import PASSWORD, sign_in_as

    web = serve("tiepnhan")
    dossier_id = ask(app, "pickup-incoming").dossier_id
    app.collect(dossier_id, expected_version=None, actor_id="buudien",
                postal_tracking_number="EP51VN", items=["Tờ khai"])
    clock.advance(hours=1)
    last = app.hand_over(dossier_id, expected_version=None, actor_id="buudien")
    assert web.app.state.services.read_models.wait(last.notification_id, timeout=10)  # type: ignore[attr-defined]
    sign_in_as(web, "tiepnhan", PASSWORD)
    incoming = web.get("/incoming").text
    action = f"/dossiers/{dossier_id}/receive_from_post"
    assert f'action="{action}"' in incoming
    form = incoming.split(f'action="{action}"')[1].split("</form>")[0]
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    answer = web.post(action, data=fields)
    assert answer.status_code in (200, 303), answer.text
    assert app.dossier(dossier_id).stage is Stage.RECEIVED


def test_a_clerk_asks_the_post_to_collect_for_a_citizen_on_the_phone(
        serve: Any, app: HosoApplication) -> None:
    from tests.test_web import receive_form
    from tests.web_helpers import PASSWORD, sign_in_as

    web = serve("tiepnhan", "buudien")
    sign_in_as(web, "tiepnhan", PASSWORD)
    form = receive_form(pickup_address=ADDRESS, request_id="phone-pickup-1")
    asked = web.post("/dossiers", data=form)
    assert asked.status_code == 200 and asked.url.path.startswith("/dossiers/"), asked.text
    assert web.post("/dossiers", data=form).url.path == asked.url.path  # a double click
    dossier = app.dossier(UUID(asked.url.path.split("/")[-1]))
    assert (dossier.stage, dossier.holder_unit, dossier.pickup_address, dossier.received_by) == (
        Stage.AWAITING_COLLECTION, "BUUDIEN", ADDRESS, "tiepnhan")
    assert "Chờ bưu điện đến lấy hồ sơ" in asked.text
    sign_in_as(web, "buudien", PASSWORD)
    assert dossier.code in web.get("/post").text.split('id="to_collect"')[1].split("</section>")[0]
