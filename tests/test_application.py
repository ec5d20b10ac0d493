"""The application service on both stores: commands, persistence, concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta
from uuid import UUID

import pytest

from domain.application import SNAPSHOT_INTERVAL, HosoApplication
from domain.dossier import Dossier, DossierCodeSequence, Stage
from domain.errors import ConcurrentChange, DomainError, NotFound
from domain.requests import RequestKeyReused
from domain.working_days import HCMC
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import receive, walk_to_delivered_by_post


def test_a_dossier_walks_to_delivery_and_every_event_is_stored(app: HosoApplication) -> None:
    outcome = receive(app)
    walk_to_delivered_by_post(app, outcome.dossier_id)
    stored = list(app.repository.event_store.get(outcome.dossier_id))
    assert [type(e).__name__ for e in stored] == [
        "Received", "Transferred", "TransferAccepted", "Transferred", "TransferAccepted",
        "Signed", "Transferred", "TransferAccepted", "Dispatched", "Delivered",
    ]
    assert [e.originator_version for e in stored] == list(range(1, 11))
    assert app.dossier(outcome.dossier_id).stage is Stage.DELIVERED


def test_outcome_names_the_log_position_of_the_dossier_event(app: HosoApplication) -> None:
    first = receive(app)
    second = app.transfer(first.dossier_id, expected_version=1, actor_id="tiepnhan",
                          to_unit="STP-HCTP")
    assert second.notification_id > first.notification_id
    [last] = app.recorder.select_notifications(start=second.notification_id, limit=1)
    assert last.topic.endswith("Dossier.Transferred")


def test_codes_count_up_per_agency_and_day(app: HosoApplication, clock: FakeClock) -> None:
    codes = [app.dossier(receive(app).dossier_id).code for _ in range(3)]
    assert codes == [f"000.00.01.H29-261123-000{n}" for n in (1, 2, 3)]
    passport = app.receive(actor_id="xnc", procedure_code="2.002206", applicant_name="A",
                           applicant_phone="0901234567", applicant_address="B",
                           documents=["Tờ khai"])
    assert app.dossier(passport.dossier_id).code == "000.00.30.H29-261123-0001"
    clock.advance(days=1)
    assert app.dossier(receive(app).dossier_id).code == "000.00.01.H29-261124-0001"


def test_concurrent_receipts_never_share_a_code(store: Store, clock: FakeClock) -> None:
    apps = [HosoApplication(env=store.eventsourcing_env(), clock=clock) for _ in range(4)]
    codes: list[str] = []
    errors: list[Exception] = []
    start = threading.Barrier(len(apps))

    def clerk(app: HosoApplication) -> None:
        start.wait()
        for _ in range(5):
            try:
                codes.append(app.dossier(receive(app).dossier_id).code)
            except Exception as error:
                errors.append(error)

    threads = [threading.Thread(target=clerk, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a in apps:
        a.close()
    assert errors == []
    assert sorted(codes) == [f"000.00.01.H29-261123-{n:04d}" for n in range(1, 21)]


def test_a_stale_page_gets_a_reload_message(app: HosoApplication) -> None:
    outcome = receive(app)
    app.transfer(outcome.dossier_id, expected_version=1, actor_id="tiepnhan", to_unit="STP-HCTP")
    with pytest.raises(ConcurrentChange, match="vừa được người khác cập nhật"):
        app.transfer(outcome.dossier_id, expected_version=1, actor_id="tiepnhan",
                     to_unit="STC-DKKD")
    assert app.dossier(outcome.dossier_id).version == 2


def test_two_clerks_at_once_one_wins_and_nothing_is_lost(store: Store, clock: FakeClock) -> None:
    seed = HosoApplication(env=store.eventsourcing_env(), clock=clock)
    outcome = receive(seed)
    apps = [HosoApplication(env=store.eventsourcing_env(), clock=clock) for _ in range(6)]
    results: list[str] = []
    start = threading.Barrier(len(apps))

    def clerk(app: HosoApplication) -> None:
        start.wait()
        try:
            app.transfer(outcome.dossier_id, expected_version=1, actor_id="tiepnhan",
                         to_unit="STP-HCTP")
            results.append("won")
        except ConcurrentChange:
            results.append("conflict")

    threads = [threading.Thread(target=clerk, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 5 + ["won"]
    stored = list(seed.repository.event_store.get(outcome.dossier_id))
    assert [e.originator_version for e in stored] == [1, 2]
    for a in [seed, *apps]:
        a.close()


def test_unknown_things_are_refused_in_words(app: HosoApplication) -> None:
    from uuid import uuid4

    with pytest.raises(NotFound, match="Không tìm thấy hồ sơ"):
        app.transfer(uuid4(), expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP")
    outcome = receive(app)
    with pytest.raises(NotFound, match="Không có đơn vị mã “NOPE”"):
        app.transfer(outcome.dossier_id, expected_version=None, actor_id="tiepnhan",
                     to_unit="NOPE")
    with pytest.raises(NotFound, match="Không có thủ tục mã"):
        app.receive(actor_id="tiepnhan", procedure_code="9.999", applicant_name="A",
                    applicant_phone="0901234567", applicant_address="B", documents=["x"])
    with pytest.raises(DomainError, match="không hợp lệ cho cách trả kết quả"):
        app.dispatch(outcome.dossier_id, expected_version=None, actor_id="tiepnhan",
                     method="pigeon")


def test_backdated_reports_keep_their_time(app: HosoApplication, clock: FakeClock) -> None:
    outcome = receive(app)
    received_at = clock()
    clock.advance(hours=3)
    app.transfer(outcome.dossier_id, expected_version=None, actor_id="tiepnhan",
                 to_unit="STP-HCTP", occurred_at=received_at + timedelta(hours=1))
    events = list(app.repository.event_store.get(outcome.dossier_id))
    assert isinstance(events[-1], Dossier.Transferred)
    assert events[-1].occurred_at == received_at + timedelta(hours=1)
    assert events[-1].timestamp > events[-1].occurred_at  # recorded later than it happened


def test_snapshot_lists_only_actions_open_to_the_viewer(app: HosoApplication) -> None:
    outcome = receive(app)
    assert [a.value for a in app.snapshot(outcome.dossier_id, viewer_id="tiepnhan")
            .allowed_actions] == ["transfer", "request_supplement", "extend", "withdraw",
                                  "request_payment", "record_payment"]
    assert app.snapshot(outcome.dossier_id, viewer_id="hctp").allowed_actions == []


def test_a_receipt_key_sent_with_another_receipt_is_refused(app: HosoApplication) -> None:
    """A repeat is the same receipt (text as typed, before cleaning, included); anything
    else sent with its key is a bug or a forgery, never an answer about another dossier."""
    receipt = {"actor_id": "tiepnhan", "procedure_code": "2.000488", "applicant_name": "A",
               "applicant_phone": "0901234567", "applicant_address": "B",
               "documents": ["Tờ khai"], "idempotency_key": "form-reused-01"}
    first = app.receive(**receipt)  # type: ignore[arg-type]
    again = app.receive(**receipt | {"applicant_name": " A ",  # type: ignore[arg-type]
                                     "documents": ["Tờ khai", " "]})
    assert again.dossier_id == first.dossier_id
    for other in ({"applicant_name": "B"}, {"documents": ["Tờ khai", "CCCD"]},
                  {"channel": "online"}, {"actor_id": "tiepnhan2"},
                  {"occurred_at": app.clock() - timedelta(hours=1)}):
        with pytest.raises(RequestKeyReused):
            app.receive(**receipt | other)  # type: ignore[arg-type]
    assert len([n for n in app.recorder.select_notifications(start=1, limit=100)
                if n.topic.endswith("Dossier.Received")]) == 1


def test_the_same_receipt_twice_is_one_dossier(store: Store, clock: FakeClock) -> None:
    apps = [HosoApplication(env=store.eventsourcing_env(), clock=clock) for _ in range(4)]
    outcomes: list[object] = []
    start = threading.Barrier(len(apps))

    def double_click(app: HosoApplication) -> None:
        start.wait()
        outcomes.append(app.receive(actor_id="tiepnhan", procedure_code="2.000488",
                                    applicant_name="A", applicant_phone="0901234567",
                                    applicant_address="B", documents=["x"],
                                    idempotency_key="form-7f3a9c2e"))

    threads = [threading.Thread(target=double_click, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({o.dossier_id for o in outcomes}) == 1  # type: ignore[attr-defined]
    received = [n for n in apps[0].recorder.select_notifications(start=None, limit=100)
                if n.topic.endswith("Dossier.Received")]
    assert len(received) == 1
    again = receive(apps[0])  # a new form gets a new dossier and the next number
    assert apps[0].dossier(again.dossier_id).code.endswith("-0002")
    for a in apps:
        a.close()


def _day_sequence_id(app: HosoApplication, clock: FakeClock) -> UUID:
    agency = app.directory.member("tiepnhan").unit_code
    return DossierCodeSequence.create_id(app.directory.unit(agency).agency_code,
                                         clock().astimezone(HCMC).date())


def test_a_days_code_sequence_is_snapshotted(app: HosoApplication, clock: FakeClock) -> None:
    # Without snapshots the 3,000th receipt of a day replayed 3,000 events.
    codes = [app.dossier(receive(app).dossier_id).code for _ in range(SNAPSHOT_INTERVAL + 5)]
    assert len(set(codes)) == len(codes)
    sequence_id = _day_sequence_id(app, clock)
    assert app.snapshots is not None
    assert [s.originator_version for s in app.snapshots.get(sequence_id)] == [
        SNAPSHOT_INTERVAL]
    sequence: object = app.repository.get(sequence_id)
    assert isinstance(sequence, DossierCodeSequence)
    assert sequence.last_number == SNAPSHOT_INTERVAL + 5


def test_acting_on_a_dossier_never_looks_in_the_snapshot_store(
        app: HosoApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    # Dossiers are never snapshotted; a snapshot lookup per read cost recording ~15 %.
    outcome = receive(app)
    assert app.snapshots is not None
    looked_up: list[UUID] = []
    real_get = app.snapshots.get

    def counting_get(originator_id: UUID, *args: object, **kwargs: object) -> object:
        looked_up.append(originator_id)
        return real_get(originator_id, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(app.snapshots, "get", counting_get)
    app.transfer(outcome.dossier_id, expected_version=1, actor_id="tiepnhan",
                 to_unit="STP-HCTP")
    app.accept_transfer(outcome.dossier_id, expected_version=2, actor_id="hctp")
    assert app.dossier(outcome.dossier_id).version == 3
    assert outcome.dossier_id not in looked_up


def test_a_snapshot_that_cannot_be_written_does_not_fail_the_receipt(
        app: HosoApplication, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    assert app.snapshots is not None

    def broken(*_: object, **__: object) -> None:
        raise OSError("snapshot store unavailable")

    monkeypatch.setattr(app.snapshots, "put", broken)
    outcomes = [receive(app) for _ in range(SNAPSHOT_INTERVAL)]
    # The receipt that reached the interval is recorded and answered like the others.
    last = app.dossier(outcomes[-1].dossier_id)
    assert last.code
    sequence: object = app.repository.get(_day_sequence_id(app, clock))
    assert isinstance(sequence, DossierCodeSequence)
    assert sequence.last_number == SNAPSHOT_INTERVAL
    assert list(app.snapshots.get(_day_sequence_id(app, clock))) == []


def test_the_units_offered_for_transfer_are_exactly_those_transfer_accepts(
        app: HosoApplication) -> None:
    """One rule, asked two ways: every unit of the directory is either offered and accepted,
    or not offered and refused in words."""
    for unit in app.directory.units.values():
        dossier_id = receive(app).dossier_id
        snapshot = app.snapshot(dossier_id, viewer_id="tiepnhan")
        try:
            app.transfer(dossier_id, expected_version=None, actor_id="tiepnhan",
                         to_unit=unit.code, note="ngoài quy trình")
        except DomainError as refusal:
            assert unit.code not in snapshot.transfer_targets, (unit.code, str(refusal))
        else:
            assert unit.code in snapshot.transfer_targets, unit.code
    # The receiving counter's next step on the criminal-record route is the justice office.
    assert app.snapshot(receive(app).dossier_id, viewer_id="tiepnhan").suggested_transfer \
        == "STP-HCTP"
