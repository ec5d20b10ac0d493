"""Read models: events in → rows out, exactly once, and rebuild equals incremental."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from domain.application import HosoApplication
from domain.dossier import Stage
from domain.signing import MemoryKeyVault
from projections.dossier_projection import DossierProjection
from projections.public_status import PublicStatusProjection
from projections.runners import PROJECTIONS, ReadModels, following
from projections.store import Dialect, Store
from tests.conftest import FakeClock
from tests.helpers import APPLICANT, receive, wait_for, walk_to_delivered_by_post, walk_to_signed

# The transparency log and the outbox are append-only: a rebuild leaves them as they are,
# applying nothing again.
DOSSIER_MODELS = sum(issubclass(k.projection, DossierProjection)
                     and not k.views[Dialect.SQLITE].append_only for k in PROJECTIONS)


@pytest.fixture
def models(store: Store, app: HosoApplication) -> Any:
    read_models = ReadModels(store, app)
    yield read_models
    read_models.close()


@pytest.fixture
def named(store: Store, clock: FakeClock,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[HosoApplication, ReadModels, str]]:
    """An application and read models whose PostgreSQL sessions carry this test's name, so
    that only they are killed or counted (other tests run in parallel). Made after the name
    is set: the log follower listens on the application's own pool."""
    name = f"hoso-{store.schema}"
    monkeypatch.setenv("PGAPPNAME", name)
    application = HosoApplication(env=store.eventsourcing_env(), clock=clock,
                                  key_vault=MemoryKeyVault())
    read_models = ReadModels(store, application)
    yield application, read_models, name
    read_models.close()
    application.close()


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
        app.open_dossier(last.dossier_id, viewer_id="tiepnhan")
        assert models.wait(last.notification_id, timeout=10)
        assert wait_for(lambda: len(models.readings._select(
            "SELECT * FROM {p}review_reading")) == 1)
        # Nor does wait() cover the transparency log or the outbox, which a rebuild only
        # lets catch up.
        assert wait_for(lambda: models.transparency_log.has_tracking_id(
            app.name, last.notification_id))
        assert wait_for(lambda: models.outbox.has_tracking_id(app.name, last.notification_id))
    incremental = _dump(models)
    assert len(incremental["public_status"]) == 5
    assert len(incremental["review_reading"]) == 1
    applied = models.rebuild()
    # Every dossier read model, every dossier event: receipt, 3 hand-overs of 2 events,
    # signing, and for half of them dispatch and delivery; then the last receipt; and the
    # one reading.
    assert applied == DOSSIER_MODELS * (4 * 8 + 2 * 2 + 1) + 1
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
        store: Store, named: tuple[HosoApplication, ReadModels, str]) -> None:
    if store.dialect is not Dialect.POSTGRESQL:
        pytest.skip("SQLite followers poll and retry in place")

    import psycopg

    app, models, _ = named
    with following(models):
        first = receive(app)
        assert models.wait(first.notification_id, timeout=10)
        # Kill this test's LISTEN sessions, as a database restart would.
        with psycopg.connect(store.conninfo(), autocommit=True) as conn:
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE query ILIKE 'LISTEN%%' AND application_name = %s",
                (f"hoso-{store.schema}",)).fetchone()
        assert killed and killed[0] >= 1
        deadline = time.monotonic() + 20
        while models.healthy() and time.monotonic() < deadline:
            time.sleep(0.05)  # the runners notice they lost the connection
        second = receive(app)
        assert models.wait(second.notification_id, timeout=20), "read models must recover"
        # Followers notice the lost session one by one; every one must come back.
        assert wait_for(models.healthy, timeout=20)
        assert len(models.dossier_list.dossiers()) == 2


def test_restarted_followers_leave_no_connections_behind(
        store: Store, named: tuple[HosoApplication, ReadModels, str]) -> None:
    """Each database restart restarts every follower; a 10-minute outage soak ran out of
    connections when the stopped followers' read-model pools stayed open."""
    if store.dialect is not Dialect.POSTGRESQL:
        pytest.skip("SQLite followers poll and retry in place")

    import psycopg

    app, models, name = named

    def sessions(conn: psycopg.Connection[Any]) -> int:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                           (name,)).fetchone()
        return int(row[0]) if row else 0

    counts = []
    with following(models), psycopg.connect(store.conninfo(), autocommit=True) as conn:
        for _ in range(3):
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE query ILIKE 'LISTEN%%' AND application_name = %s", (name,))
            deadline = time.monotonic() + 20
            while models.healthy() and time.monotonic() < deadline:
                time.sleep(0.05)
            outcome = receive(app)
            assert models.wait(outcome.notification_id, timeout=20)
            assert wait_for(models.healthy, timeout=20)
            time.sleep(0.5)  # closed pools' sessions end
            counts.append(sessions(conn))
    assert counts[-1] <= counts[0] + 2, counts


def test_no_rebuild_while_another_process_follows(store: Store, app: HosoApplication,
                                                  models: ReadModels) -> None:
    from projections.follow_lock import LogInUse

    other_server = ReadModels(store, app)
    receive(app)
    with following(other_server), pytest.raises(LogInUse, match="stop `hoso serve`"):
        models.rebuild()
    other_server.close()
    # Whether the other server's log follower got to the event before it stopped is a race:
    # catch up first, so that the rebuild's count is exact.
    models.catch_up()
    assert models.rebuild() == DOSSIER_MODELS  # once nobody follows, it runs


def _tricky_histories(app: HosoApplication) -> list[Any]:
    from tests.helpers import hand_over

    ids = []
    # A supplement requested at the counter, then the file moves on before it arrives.
    a = receive(app).dossier_id
    app.request_supplement(a, expected_version=None, actor_id="tiepnhan",
                           missing_items=["A"], reason="r")
    hand_over(app, a, "tiepnhan", "STP-HCTP", "hctp")
    app.provide_supplement(a, expected_version=None, actor_id="tiepnhan", documents=["A"])
    ids.append(a)
    # Refused while waiting for documents, returned and sent by post.
    b = receive(app).dossier_id
    hand_over(app, b, "tiepnhan", "STP-HCTP", "hctp")
    app.request_supplement(b, expected_version=None, actor_id="hctp", missing_items=["A"],
                           reason="r")
    app.reject(b, expected_version=None, actor_id="hctp", reasons="Không đủ điều kiện")
    hand_over(app, b, "hctp", "TTHCC", "tiepnhan")
    app.dispatch(b, expected_version=None, actor_id="tiepnhan", method="post",
                 postal_tracking_number="EB1VN")
    ids.append(b)
    # Extended, then paused, then withdrawn at the counter while a transfer is pending.
    c = receive(app).dossier_id
    hand_over(app, c, "tiepnhan", "STP-HCTP", "hctp")
    app.extend(c, expected_version=None, actor_id="hctp",
               new_due_date=app.calendar.add_working_days(app.dossier(c).due_date, 3),
               reason="r", apology="a")
    app.request_supplement(c, expected_version=None, actor_id="hctp", missing_items=["A"],
                           reason="r")
    app.transfer(c, expected_version=None, actor_id="hctp", to_unit="STP-BGD")
    ids.append(c)
    d = receive(app).dossier_id
    hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp")
    app.request_supplement(d, expected_version=None, actor_id="hctp", missing_items=["A"],
                           reason="r")
    app.withdraw(d, expected_version=None, actor_id="tiepnhan", reason="Công dân xin rút")
    ids.append(d)
    return ids


def test_read_models_agree_with_the_aggregate(app: HosoApplication, models: ReadModels,
                                              clock: FakeClock) -> None:
    from projections.desk_queue import QueueFilter

    ids = _tricky_histories(app)
    models.catch_up()
    listed = {r.dossier_id: r for r in models.dossier_list.dossiers(limit=100)}
    queued = {r.dossier_id: r for r in models.desk_queue.page(QueueFilter(), limit=100)}
    today = clock().date()
    for dossier_id in ids:
        dossier = app.dossier(dossier_id)
        status = models.public_status.find(dossier.tracking_token)
        assert status is not None
        for row in (listed[dossier_id], status):
            assert (row.stage, row.holder_unit, row.due_date) == (
                dossier.stage, dossier.holder_unit, dossier.due_date), dossier_id
        snapshot = app.snapshot(dossier_id, viewer_id="tiepnhan")
        assert status.is_late(today) == snapshot.is_late(today)
        if dossier.stage in (Stage.WITHDRAWN, Stage.DELIVERED):
            assert dossier_id not in queued
        else:
            row = queued[dossier_id]
            assert (row.stage, row.holder_unit, row.pending_from_unit, row.step_due_at) == (
                dossier.stage, dossier.holder_unit, dossier.pending_from_unit,
                dossier.step_due_at)
    assert app.dossier(ids[0]).stage is Stage.IN_PROGRESS
    assert app.dossier(ids[1]).stage is Stage.IN_POSTAL_TRANSIT


def test_the_follow_lock_is_taken_again_after_a_database_restart(
        store: Store, named: tuple[HosoApplication, ReadModels, str]) -> None:
    if store.dialect is not Dialect.POSTGRESQL:
        pytest.skip("SQLite's lock is a file lock held by the process")

    import psycopg

    from projections.follow_lock import AlreadyFollowed, FollowLock, LogInUse

    _, models, _ = named
    with following(models):
        with psycopg.connect(store.conninfo(), autocommit=True) as conn:
            # One session holds both advisory locks (rebuild guard, sole follower).
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM (SELECT DISTINCT l.pid "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND a.application_name = %s) AS holders",
                (f"hoso-{store.schema}",)).fetchone()
        assert killed and killed[0] == 1
        time.sleep(3)  # the supervisor looks every second
        rebuild_lock = FollowLock(store)
        with pytest.raises(LogInUse):
            rebuild_lock.hold_exclusive()
        with pytest.raises(AlreadyFollowed):  # and still the only follower
            FollowLock(store).hold_shared(sole_follower=True)
