"""The desk queue: events in → rows out, in the order clerks work them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from domain.application import HosoApplication
from domain.dossier import Stage
from domain.office_time import OfficeClock
from projections.desk_queue import QueueFilter
from projections.runners import ReadModels
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import APPLICANT, hand_over, receive, walk_to_delivered_by_post


@pytest.fixture
def models(store: Store, app: HosoApplication) -> Iterator[ReadModels]:
    read_models = ReadModels(store, app)
    yield read_models
    read_models.close()


def codes(rows: list) -> list[str]:  # type: ignore[type-arg]
    return [r.code[-4:] for r in rows]


def test_overdue_first_then_by_due_date(app: HosoApplication, models: ReadModels,
                                        clock: FakeClock) -> None:
    passport = app.receive(actor_id="xnc", procedure_code="2.002206", applicant_name="A",
                           applicant_phone="0901234567", applicant_address="B",
                           documents=["x"])  # 8 working days
    criminal_record = receive(app)  # 10 working days
    clock.advance(days=-20)  # an old dossier, received three weeks ago: overdue by now
    old = receive(app)
    clock.advance(days=20)
    models.catch_up()
    at_counter = models.desk_queue.page(QueueFilter(holder_unit="TTHCC"))
    assert [r.dossier_id for r in at_counter] == [old.dossier_id, criminal_record.dossier_id]
    today = clock().date()
    assert [r.is_late(today) for r in at_counter] == [True, False]
    assert [r.dossier_id for r in models.desk_queue.page(QueueFilter(holder_unit="PA08"))] == [
        passport.dossier_id]


def test_transfers_wait_in_incoming_until_accepted(app: HosoApplication,
                                                   models: ReadModels) -> None:
    outcome = receive(app)
    app.transfer(outcome.dossier_id, expected_version=None, actor_id="tiepnhan",
                 to_unit="STP-HCTP")
    models.catch_up()
    incoming = models.desk_queue.page(QueueFilter(holder_unit="STP-HCTP", incoming=True))
    assert [(r.dossier_id, r.pending_from_unit) for r in incoming] == [
        (outcome.dossier_id, "TTHCC")]
    assert models.desk_queue.page(QueueFilter(holder_unit="STP-HCTP")) == []
    assert models.desk_queue.page(QueueFilter(holder_unit="TTHCC")) == []
    app.accept_transfer(outcome.dossier_id, expected_version=None, actor_id="hctp")
    models.catch_up()
    [row] = models.desk_queue.page(QueueFilter(holder_officer="hctp"))
    assert row.pending_from_unit is None and row.step_due_at is not None
    assert models.desk_queue.page(QueueFilter(holder_unit="STP-HCTP", incoming=True)) == []


def test_step_allowance_used(app: HosoApplication, models: ReadModels, clock: FakeClock) -> None:
    outcome = receive(app)  # reception is allotted 4 working hours from 09:00
    models.catch_up()
    [row] = models.desk_queue.page(QueueFilter(holder_unit="TTHCC"))
    office = OfficeClock(app.calendar)
    assert row.step_used(clock(), office) == pytest.approx(0.0)
    # 11:45: 2½ office hours of 4 used; the lunch break and the evening use none.
    assert row.step_used(clock() + timedelta(hours=2, minutes=45), office) == pytest.approx(0.625)
    assert row.step_used(clock() + timedelta(hours=4), office) == pytest.approx(0.625)
    assert row.step_used(clock() + timedelta(days=1), office) > 1.0
    del outcome


def test_step_time_is_office_time_over_a_weekend(app: HosoApplication, models: ReadModels,
                                                 clock: FakeClock) -> None:
    """A 4-hour step begun on Friday at 16:00 has used a quarter of it at 17:00 (not the 1.5 %
    of clock time to Monday 10:30), and no more by Monday at 07:30."""
    clock.now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # Friday 16:00 in Ho Chi Minh City
    receive(app)
    models.catch_up()
    [row] = models.desk_queue.page(QueueFilter(holder_unit="TTHCC"))
    office = OfficeClock(app.calendar)
    assert row.step_used(clock.now + timedelta(hours=1), office) == pytest.approx(0.25)
    monday_morning = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
    assert row.step_used(monday_morning, office) == pytest.approx(0.25)


def test_closed_dossiers_leave_the_queue(app: HosoApplication, models: ReadModels) -> None:
    delivered = receive(app)
    walk_to_delivered_by_post(app, delivered.dossier_id)
    withdrawn = receive(app)
    app.withdraw(withdrawn.dossier_id, expected_version=None, actor_id="tiepnhan",
                 reason="Công dân xin rút")
    waiting = receive(app)
    hand_over(app, waiting.dossier_id, "tiepnhan", "STP-HCTP", "hctp")
    app.request_supplement(waiting.dossier_id, expected_version=None, actor_id="hctp",
                           missing_items=["Bản sao CCCD"], reason="Thiếu")
    models.catch_up()
    everything = models.desk_queue.page(QueueFilter())
    assert [(r.dossier_id, r.stage) for r in everything] == [
        (waiting.dossier_id, Stage.AWAITING_SUPPLEMENT)]
    app.provide_supplement(waiting.dossier_id, expected_version=None, actor_id="tiepnhan",
                           documents=["Bản sao CCCD"])
    models.catch_up()
    [row] = models.desk_queue.page(QueueFilter())
    assert row.stage is Stage.IN_PROGRESS  # back to where it was before the pause


def test_search_by_code_or_phone(app: HosoApplication, models: ReadModels) -> None:
    mine = receive(app)
    app.receive(actor_id="tiepnhan", procedure_code="2.000488", applicant_name="B",
                applicant_phone="0987654321", applicant_address="C", documents=["x"])
    models.catch_up()
    by_phone = models.desk_queue.page(QueueFilter(phone=APPLICANT["applicant_phone"]))
    assert [r.dossier_id for r in by_phone] == [mine.dossier_id]
    code = app.dossier(mine.dossier_id).code
    assert [r.code for r in models.desk_queue.page(QueueFilter(code=code))] == [code]
    text = repr(models.views["desk_queue"]._select("SELECT * FROM {p}desk_queue"))
    assert APPLICANT["applicant_phone"] not in text and APPLICANT["applicant_name"] not in text


def test_keyset_pages_cover_everything_once(app: HosoApplication, models: ReadModels,
                                            clock: FakeClock) -> None:
    for _ in range(7):
        receive(app)
        clock.advance(minutes=1)
    models.catch_up()
    seen, after = [], None
    while page := models.desk_queue.page(QueueFilter(holder_unit="TTHCC", after=after),
                                         limit=3):
        seen += codes(page)
        after = page[-1].cursor
    assert seen == ["0001", "0002", "0003", "0004", "0005", "0006", "0007"]
    assert models.desk_queue.page(QueueFilter(after="not|a|cursor")) == []
