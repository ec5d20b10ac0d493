"""Keeping the read models up to date, and rebuilding them from zero.

On PostgreSQL the library's ``ProjectionRunner`` follows the log through its subscription
(LISTEN/NOTIFY). SQLite has no subscription, so a thread polls the notification log from the
position the read model has reached. Both apply each event exactly once: the read model's rows
and its tracking record commit together.

Exactly one process follows the log of a store (``FollowLock``): ``hoso serve`` in its
single-process form, or ``hoso project`` beside web processes started with ``--no-follow``.
Those only query the read models, and after a command wait until the follower's tracking
rows show the event applied (``ReadModels.wait``), which works across processes. Queries may
go to a read replica (``read_store``); applying always goes to the primary store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.projection import Projection, ProjectionRunner
from eventsourcing.utils import Environment

from domain.application import HosoApplication
from projections.checkpoints import (
    CheckpointView,
    PostgresCheckpointView,
    SQLiteCheckpointView,
    TransparencyLog,
    installation_signer,
)
from projections.desk_queue import (
    DeskQueueProjection,
    DeskQueueView,
    PostgresDeskQueueView,
    SQLiteDeskQueueView,
)
from projections.dossier_list import (
    DossierListProjection,
    DossierListView,
    PostgresDossierListView,
    SQLiteDossierListView,
)
from projections.dossier_projection import DossierProjection
from projections.follow_lock import FollowLock
from projections.outbox import (
    OutboxProjection,
    OutboxView,
    PostgresOutboxView,
    SQLiteOutboxView,
)
from projections.public_status import (
    PostgresPublicStatusView,
    PublicStatusProjection,
    PublicStatusView,
    SQLitePublicStatusView,
)
from projections.read_model import ReadModel
from projections.readings import (
    PostgresReadingView,
    ReadingProjection,
    ReadingView,
    SQLiteReadingView,
)
from projections.review import (
    PostgresReviewView,
    ReviewProjection,
    ReviewView,
    SQLiteReviewView,
)
from projections.store import Dialect, Store
from projections.transparency_log import (
    PostgresTransparencyLogView,
    SQLiteTransparencyLogView,
    TransparencyLogProjection,
    TransparencyLogView,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 500


@dataclass(frozen=True)
class ProjectionKind:
    projection: type[Projection[Any]]
    views: dict[Dialect, type[ReadModel]]
    # Its pages may read from a read replica. Not the transparency log: its integrity checks
    # compare it with the event store and the checkpoints, all read from the primary, and a
    # lagging copy would look like entries missing.
    replica_reads: bool = True


PROJECTIONS: tuple[ProjectionKind, ...] = (
    ProjectionKind(PublicStatusProjection,
                   {Dialect.SQLITE: SQLitePublicStatusView,
                    Dialect.POSTGRESQL: PostgresPublicStatusView}),
    ProjectionKind(DossierListProjection,
                   {Dialect.SQLITE: SQLiteDossierListView,
                    Dialect.POSTGRESQL: PostgresDossierListView}),
    ProjectionKind(DeskQueueProjection,
                   {Dialect.SQLITE: SQLiteDeskQueueView,
                    Dialect.POSTGRESQL: PostgresDeskQueueView}),
    ProjectionKind(ReviewProjection,
                   {Dialect.SQLITE: SQLiteReviewView,
                    Dialect.POSTGRESQL: PostgresReviewView}),
    ProjectionKind(ReadingProjection,
                   {Dialect.SQLITE: SQLiteReadingView,
                    Dialect.POSTGRESQL: PostgresReadingView}),
    ProjectionKind(TransparencyLogProjection,
                   {Dialect.SQLITE: SQLiteTransparencyLogView,
                    Dialect.POSTGRESQL: PostgresTransparencyLogView},
                   replica_reads=False),
    # Messages owed to citizens and partners: written on the primary, read by the deliverer
    # and the administrators' page from there too (a replica's copy would lag its sending).
    ProjectionKind(OutboxProjection,
                   {Dialect.SQLITE: SQLiteOutboxView,
                    Dialect.POSTGRESQL: PostgresOutboxView},
                   replica_reads=False),
)

_KINDS = {kind.projection.name: kind for kind in PROJECTIONS}


def open_checkpoints(store: Store) -> CheckpointView:
    env = Environment("log_checkpoints", store.eventsourcing_env())
    factory = InfrastructureFactory[Any].construct(env)
    view = factory.tracking_recorder(
        SQLiteCheckpointView if store.dialect is Dialect.SQLITE else PostgresCheckpointView)
    assert isinstance(view, CheckpointView)
    return view


def open_view(store: Store, kind: ProjectionKind, *, create_tables: bool = False) -> ReadModel:
    env = Environment(kind.projection.name, store.eventsourcing_env(create_tables=create_tables))
    factory = InfrastructureFactory[Any].construct(env)
    return factory.tracking_recorder(kind.views[store.dialect])


def open_outbox(store: Store) -> OutboxView:
    """The outbox alone, for the commands that only send or subscribe (``hoso deliver``,
    ``hoso webhook``): one pool, not one per read model."""
    view = open_view(store, _KINDS[OutboxProjection.name])
    assert isinstance(view, OutboxView)
    return view


def catch_up(
    app: HosoApplication, projection: Projection[Any], *, limit: int = BATCH_SIZE,
    on_event: Callable[[], None] | None = None,
) -> int:
    """Apply the next batch of events the projection has not seen; how many were applied."""
    view = projection.view
    start = view.max_tracking_id(app.name)
    notifications = app.recorder.select_notifications(
        start=start, limit=limit, topics=projection.topics, inclusive_of_start=False
    )
    with view.batch():
        for notification in notifications:
            event = app.mapper.to_domain_event(notification)
            projection.process_event(event, Tracking(app.name, notification.id))
            if on_event:
                on_event()
    return len(notifications)


class PollingRunner:
    """Follows the log by polling; for SQLite, whose recorder offers no subscription."""

    def __init__(self, app: HosoApplication, projection: Projection[Any],
                 interval: float = 0.05) -> None:
        self.app = app
        self.projection = projection
        self.interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"hoso-{projection.name}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        backoff = self.interval
        while not self._stop.is_set():
            try:
                while catch_up(self.app, self.projection) and not self._stop.is_set():
                    pass
                backoff = self.interval
            except Exception:
                # Never skip an event: log, wait, and retry from the tracked position.
                log.exception("projection %s failed; retrying", self.projection.name)
                backoff = min(backoff * 2, 5.0)
            self._wake.wait(backoff)
            self._wake.clear()

    def wake(self) -> None:
        """Look at the log now: this process has just written to it."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)


@dataclass
class Follower:
    kind: ProjectionKind
    runner: ProjectionRunner[Any, Any]


def _close_runner(runner: ProjectionRunner[Any, Any]) -> None:
    try:
        runner.__exit__(None, None, None)
    except Exception as error:  # it already stopped; closing must go on
        log.warning("runner stopped with %r", error)
    # The library's runner closes its application but not the view it made: without this,
    # each restart after a database outage left a pool of connections open, and a
    # 10-minute outage soak ran the database out of them (the log follower then never
    # came back).
    try:
        runner.view.close()
    except Exception as error:
        log.warning("a stopped read model's connections did not close: %r", error)


class ReadModels:
    """The read models one process queries, and (optionally) keeps up to date.

    ``views`` are on ``store`` (the primary) and are what events are applied to;
    ``read_views`` are what pages query: on ``read_store`` (a read replica) when one is
    given, else the same objects. The read views open at once (a bad store fails here, not
    on the first page); the primary's copies of replicated ones only when first used, so a
    web process reading from a replica opens no pools it never uses.
    """

    def __init__(self, store: Store, app: HosoApplication,
                 read_store: Store | None = None) -> None:
        self.store = store
        self.app = app
        self.read_store = read_store
        self._opened: dict[tuple[str, bool], ReadModel] = {}
        self._open_lock = threading.Lock()
        self.read_views  # noqa: B018
        self._followers: list[Follower] = []
        self._pollers: list[PollingRunner] = []
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._follow_lock = FollowLock(store)

    def _view(self, kind: ProjectionKind, *, read: bool) -> ReadModel:
        on_replica = read and kind.replica_reads and self.read_store is not None
        key = (kind.projection.name, on_replica)
        with self._open_lock:
            if key not in self._opened:
                store = self.read_store if on_replica else self.store
                assert store is not None
                self._opened[key] = open_view(store, kind)
            return self._opened[key]

    @property
    def views(self) -> dict[str, ReadModel]:
        """Every read model on the primary store: what events are applied to."""
        return {kind.projection.name: self._view(kind, read=False) for kind in PROJECTIONS}

    @property
    def read_views(self) -> dict[str, ReadModel]:
        """Every read model where pages query it (the read replica, if any)."""
        return {kind.projection.name: self._view(kind, read=True) for kind in PROJECTIONS}

    def _read(self, projection: type[Projection[Any]]) -> ReadModel:
        return self._view(_KINDS[projection.name], read=True)

    def positions(self) -> dict[str, int | None]:
        """How far each read model has applied the log (its tracked position)."""
        return {name: view.max_tracking_id(self.app.name) for name, view in self.views.items()}

    @property
    def public_status(self) -> PublicStatusView:
        view = self._read(PublicStatusProjection)
        assert isinstance(view, PublicStatusView)
        return view

    @property
    def desk_queue(self) -> DeskQueueView:
        view = self._read(DeskQueueProjection)
        assert isinstance(view, DeskQueueView)
        return view

    @property
    def dossier_list(self) -> DossierListView:
        view = self._read(DossierListProjection)
        assert isinstance(view, DossierListView)
        return view

    @property
    def review(self) -> ReviewView:
        view = self._read(ReviewProjection)
        assert isinstance(view, ReviewView)
        return view

    @property
    def readings(self) -> ReadingView:
        view = self._read(ReadingProjection)
        assert isinstance(view, ReadingView)
        return view

    @property
    def transparency_log(self) -> TransparencyLogView:
        view = self._read(TransparencyLogProjection)
        assert isinstance(view, TransparencyLogView)
        return view

    @property
    def outbox(self) -> OutboxView:
        view = self._read(OutboxProjection)
        assert isinstance(view, OutboxView)
        return view

    def transparency(self) -> TransparencyLog:
        """The log's origin, the installation's key and its checkpoints."""
        origin = self.transparency_log.settings().origin
        return TransparencyLog(origin=origin, checkpoints=open_checkpoints(self.store),
                               signer=installation_signer(origin, self.store.sqlite_path))

    def follow(self) -> None:
        """Start keeping every read model up to date in background threads.

        Raises ``AlreadyFollowed`` if another process follows this store's log.
        """
        self._stopping.clear()
        self._follow_lock.hold_shared(sole_follower=True)
        for kind in PROJECTIONS:
            if self.store.dialect is Dialect.POSTGRESQL:
                self._followers.append(self._subscribe(kind))
            else:
                view = self.views[kind.projection.name]
                self._pollers.append(PollingRunner(self.app, kind.projection(view=view)))
        if self._followers:
            self._supervisor = threading.Thread(target=self._supervise, name="hoso-supervisor",
                                                daemon=True)
            self._supervisor.start()

    def _subscribe(self, kind: ProjectionKind) -> Follower:
        runner: ProjectionRunner[Any, Any] = ProjectionRunner(
            application_class=HosoApplication,
            projection_class=kind.projection,
            view_class=kind.views[Dialect.POSTGRESQL],
            env=self.store.eventsourcing_env(),
        )
        return Follower(kind, runner.__enter__())

    def _supervise(self) -> None:
        """Restart a subscription that stopped (lost connection, database restart…).

        The library's runner ends its thread on the first error; the read model would
        silently fall behind. A new runner resumes from the tracked position, so nothing is
        skipped or applied twice.
        """
        backoff = 1.0
        while not self._stopping.wait(backoff):
            if not self._follow_lock.ensure_held():
                log.error("lost the follow lock and could not take it again; retrying")
            for i, follower in enumerate(self._followers):
                if not follower.runner.is_interrupted.is_set() or self._stopping.is_set():
                    continue
                log.error("read model %s stopped following the log (%r); restarting",
                          follower.kind.projection.name, follower.runner._thread_error)
                _close_runner(follower.runner)
                try:
                    self._followers[i] = self._subscribe(follower.kind)
                    backoff = 1.0
                except Exception:
                    log.exception("could not restart %s", follower.kind.projection.name)
                    backoff = min(backoff * 2, 30.0)

    def healthy(self) -> bool:
        """False while a read model is not following the log."""
        return (not self._followers or self._follow_lock.is_held()) and all(
            not f.runner.is_interrupted.is_set() for f in self._followers)

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=10)
            self._supervisor = None
        for follower in self._followers:
            _close_runner(follower.runner)
        for poller in self._pollers:
            poller.stop()
        self._followers.clear()
        self._pollers.clear()
        self._follow_lock.release()

    def wait(self, notification_id: int, timeout: float = 3.0) -> bool:
        """Block until every dossier read model has applied the dossier event at
        ``notification_id``; False on timeout.

        It reads the tracking rows, so the follower may be this process or another
        (``hoso project``); with a read replica it reads the replica's rows, which is what
        the next page shows, and replica lag beyond ``timeout`` shows as a timeout (logged).
        Read models of other events (who read what) never record a dossier event's
        position, so they are not waited for; nor is the transparency log, which no page
        reads back. Polls from 2 ms up (the library's own wait starts at 100 ms, which a
        clerk would feel on every click).
        """
        deadline = time.monotonic() + timeout
        for poller in self._pollers:
            poller.wake()
        pending = [view for k in PROJECTIONS
                   if issubclass(k.projection, DossierProjection)
                   and not (view := self._view(k, read=True)).append_only]
        interval = 0.002
        while pending:
            pending = [v for v in pending if not v.has_tracking_id(self.app.name, notification_id)]
            if not pending:
                return True
            if time.monotonic() >= deadline:
                log.warning("read models did not reach %s within %ss", notification_id, timeout)
                return False
            time.sleep(interval)
            interval = min(interval * 2, 0.1)
        return True

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Empty every read model and apply the whole log again; how many events applied.

        The transparency log and the outbox are append-only and are not emptied: they only
        catch up on the events they have not seen yet (a rebuilt outbox would send every
        message again).

        Run it with no other process following the log (stop ``hoso serve`` first): a
        follower applying the same events at the same time would collide with it.
        """
        if self._followers or self._pollers:
            raise RuntimeError("stop following the log before rebuilding")
        lock = FollowLock(self.store)
        lock.hold_exclusive()
        try:
            for view in self.views.values():
                if not view.append_only:
                    view.reset(self.app.name)
            return self.catch_up(progress)
        finally:
            lock.release()

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Apply every event the read models have not seen yet; how many were applied."""
        applied = 0
        for kind in PROJECTIONS:
            projection = kind.projection(view=self.views[kind.projection.name])
            while batch := catch_up(self.app, projection, limit=1000):
                applied += batch
                if progress:
                    progress(batch)
        return applied

    def close(self) -> None:
        self.stop()
        with self._open_lock:
            opened = list(self._opened.values())
            self._opened.clear()
        for view in opened:
            view.close()


@contextmanager
def following(models: ReadModels) -> Iterator[ReadModels]:
    models.follow()
    try:
        yield models
    finally:
        models.stop()
