"""Read models: events in → rows out, exactly once, and rebuild equals incremental."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from domain.application import HosoApplication
from domain.dossier import Stage
from projections.public_status import PublicStatusProjection
from projections.runners import PROJECTIONS, ReadModels, following
from projections.store import Dialect, Store
from tests.conftest import FakeClock
from tests.helpers import APPLICANT, receive, walk_to_delivered_by_post, walk_to_signed


@pytest.fixture
def models(store: Store, app: HosoApplication) -> Any:
    read_models = ReadModels(store, app)
    yield read_models
    read_models.close()


def _dump(models: ReadModels) -> dict[str, list[dict[str, Any]]]:
    tables = {}
    for view in models.views.values():
        for table in view.tables:
            rows = view._select(f"SELECT * FROM {{p}}{table}")
            tables[table] = sorted((dict(r) for r in rows), key=lambda r: repr(sorted(r.items())))
    return tables


def test_public_status_follows_the_dossier(app: HosoApplication, models: ReadModels) -> None:
    outcome = receive(app)
    token = app.dossier(outcome.dossier_id).tracking_token
    models.catch_up()
    status = models.public_status.find(token)
    assert status is not None
    assert (status.stage, status.holder_unit, status.procedure_code) == (
        Stage.RECEIVED, "TTHCC", "2.000488")
    walk_to_signed(app, outcome.dossier_id)
    models.catch_up()
    status = models.public_status.find(token)
    assert status is not None
    # Returned to the counter after signing: still "signed", now held by the counter.
    assert (status.stage, status.holder_unit) == (Stage.SIGNED, "TTHCC")
    assert [(s.kind, s.stage, s.unit_code) for s in status.steps] == [
        ("Received", "received", "TTHCC"),
        ("Transferred", "in_progress", "STP-HCTP"),
        ("TransferAccepted", "in_progress", "STP-HCTP"),
        ("Transferred", "in_progress", "STP-BGD"),
        ("TransferAccepted", "in_progress", "STP-BGD"),
        ("Signed", "signed", "STP-BGD"),
        ("Transferred", "signed", "TTHCC"),
        ("TransferAccepted", "signed", "TTHCC"),
    ]
    assert models.public_status.find("not-a-token-at-all-xx") is None


def test_dossier_list_rows_and_filters(app: HosoApplication, models: ReadModels,
                                       clock: FakeClock) -> None:
    first = receive(app)
    clock.advance(minutes=5)
    second = receive(app)
    app.transfer(second.dossier_id, expected_version=None, actor_id="tiepnhan",
                 to_unit="STP-HCTP")
    models.catch_up()
    at_counter = models.dossier_list.dossiers(holder_unit="TTHCC")
    assert [r.dossier_id for r in at_counter] == [first.dossier_id]
    everything = models.dossier_list.dossiers()
    assert [r.dossier_id for r in everything] == [first.dossier_id, second.dossier_id]
    assert everything[1].stage is Stage.IN_PROGRESS and everything[1].holder_unit == "STP-HCTP"
    code = app.dossier(second.dossier_id).code
    assert [r.code for r in models.dossier_list.dossiers(code=code)] == [code]
    assert models.dossier_list.dossiers(stage="in_progress")[0].code == code


def test_rebuild_from_zero_equals_incremental(app: HosoApplication, models: ReadModels,
                                              clock: FakeClock) -> None:
    for n in range(4):
        outcome = receive(app)
        clock.advance(minutes=7)
        if n % 2:
            walk_to_delivered_by_post(app, outcome.dossier_id)
        else:
            walk_to_signed(app, outcome.dossier_id)
    with following(models):
        # Incremental: the followers apply events as they are recorded.
        last = receive(app)
        assert models.wait(last.notification_id, timeout=10)
    incremental = _dump(models)
    assert len(incremental["public_status"]) == 5
    applied = models.rebuild()
    # Every read model, every dossier event: receipt, 3 hand-overs of 2 events, signing,
    # and for half of them dispatch and delivery; then the last receipt.
    assert applied == len(PROJECTIONS) * (4 * 8 + 2 * 2 + 1)
    assert _dump(models) == incremental


def test_each_event_is_applied_exactly_once(app: HosoApplication, models: ReadModels) -> None:
    outcome = receive(app)
    models.catch_up()
    before = _dump(models)
    projection = PublicStatusProjection(view=models.public_status)
    [notification] = app.recorder.select_notifications(start=outcome.notification_id, limit=1)
    with pytest.raises(IntegrityError):
        projection.process_event(app.mapper.to_domain_event(notification),
                                 Tracking(app.name, notification.id))
    assert _dump(models) == before
    assert models.catch_up() == 0


def test_public_read_model_holds_no_personal_data(app: HosoApplication,
                                                  models: ReadModels) -> None:
    outcome = receive(app)
    walk_to_delivered_by_post(app, outcome.dossier_id)
    models.catch_up()
    text = repr(_dump(models)["public_status"]) + repr(_dump(models)["public_status_step"])
    dossier = app.dossier(outcome.dossier_id)
    for private in [*APPLICANT.values(), dossier.tracking_token, "Trần Thị Bích Ngọc",
                    "tiepnhan", "gd.stp", "buudien"]:
        assert private not in text


def test_wait_reports_a_read_model_that_lags(app: HosoApplication, models: ReadModels) -> None:
    outcome = receive(app)
    assert models.wait(outcome.notification_id, timeout=0.2) is False
    models.catch_up()
    assert models.wait(outcome.notification_id, timeout=0.2) is True


def test_a_follower_that_loses_its_connection_is_restarted(
        store: Store, app: HosoApplication, models: ReadModels) -> None:
    if store.dialect is not Dialect.POSTGRESQL:
        pytest.skip("SQLite followers poll and retry in place")
    import time

    import psycopg

    with following(models):
        first = receive(app)
        assert models.wait(first.notification_id, timeout=10)
        # Kill every LISTEN session, as a database restart would.
        with psycopg.connect(store.conninfo(), autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE query ILIKE 'LISTEN%%' AND pid <> pg_backend_pid()")
        deadline = time.monotonic() + 20
        while models.healthy() and time.monotonic() < deadline:
            time.sleep(0.05)  # the runners notice they lost the connection
        second = receive(app)
        assert models.wait(second.notification_id, timeout=20), "read models must recover"
        assert models.healthy()
        assert len(models.dossier_list.dossiers()) == 2


def test_no_rebuild_while_another_process_follows(store: Store, app: HosoApplication,
                                                  models: ReadModels) -> None:
    from projections.follow_lock import LogInUse

    other_server = ReadModels(store, app)
    receive(app)
    with following(other_server), pytest.raises(LogInUse, match="stop `hoso serve`"):
        models.rebuild()
    other_server.close()
    assert models.rebuild() == len(PROJECTIONS)  # once nobody follows, it runs
