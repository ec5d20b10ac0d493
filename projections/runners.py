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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, Subscription, Tracking
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.projection import Projection
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.utils import Environment

from config.settings import Settings
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
from projections.feedback import (
    FeedbackProjection,
    FeedbackView,
    PostgresFeedbackView,
    SQLiteFeedbackView,
)
from projections.flag_cases import (
    FlagCaseProjection,
    FlagCaseView,
    PostgresFlagCaseView,
    SQLiteFlagCaseView,
)
from projections.follow_lock import FollowLock
from projections.outbox import (
    OutboxProjection,
    OutboxView,
    PostgresOutboxView,
    SQLiteOutboxView,
)
from projections.phone_digest import DigestsPhones, PhoneDigest
from projections.public_status import (
    PostgresPublicStatusView,
    PublicStatusProjection,
    PublicStatusView,
    SQLitePublicStatusView,
)
from projections.read_model import ReadModel, open_datastore
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
from projections.witnessing import configured_witnesses

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
    ProjectionKind(FeedbackProjection,
                   {Dialect.SQLITE: SQLiteFeedbackView,
                    Dialect.POSTGRESQL: PostgresFeedbackView}),
    ProjectionKind(FlagCaseProjection,
                   {Dialect.SQLITE: SQLiteFlagCaseView,
                    Dialect.POSTGRESQL: PostgresFlagCaseView}),
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


Datastore = SQLiteDatastore | PostgresDatastore


def open_checkpoints(store: Store, datastore: Datastore | None = None) -> CheckpointView:
    view_class = SQLiteCheckpointView if store.dialect is Dialect.SQLITE else PostgresCheckpointView
    if datastore is not None:
        shared = view_class.on(datastore)
        assert isinstance(shared, CheckpointView)
        return shared
    env = Environment("log_checkpoints", store.eventsourcing_env())
    factory = InfrastructureFactory[Any].construct(env)
    view = factory.tracking_recorder(view_class)
    assert isinstance(view, CheckpointView)
    return view


def open_view(store: Store, kind: ProjectionKind, settings: Settings, *,
              create_tables: bool = False, datastore: Datastore | None = None) -> ReadModel:
    """A read model on ``store``: on ``datastore`` (a pool the process shares) when given,
    else on a pool of its own; with the keys ``settings`` name for the models holding
    digests, sealed addresses or the log."""
    if datastore is not None:
        view = kind.views[store.dialect].on(datastore)
    else:
        env = Environment(kind.projection.name,
                          store.eventsourcing_env(create_tables=create_tables))
        factory = InfrastructureFactory[Any].construct(env)
        view = factory.tracking_recorder(kind.views[store.dialect])
    if isinstance(view, DigestsPhones):
        view.phone_digest = PhoneDigest(store.sqlite_path, key_text=settings.phone_key,
                                        key_file_path=settings.phone_key_file)
    if isinstance(view, OutboxView):
        view.cipher_key = store.cipher_key
    if isinstance(view, TransparencyLogView):
        view.wanted_origin, view.wanted_salt = settings.log_origin, settings.log_salt
    return view


def open_outbox(store: Store, settings: Settings) -> OutboxView:
    """The outbox alone, for the commands that only send or subscribe (``hoso deliver``,
    ``hoso webhook``): one pool, not one per read model."""
    view = open_view(store, _KINDS[OutboxProjection.name], settings)
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


def _is_lock_contention(error: BaseException) -> bool:
    """SQLite's "database is locked" (or busy), however the library wrapped it."""
    while error is not None:
        if "database is locked" in str(error) or "database is busy" in str(error):
            return True
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return False


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
            except Exception as error:
                # Never skip an event: log, wait, and retry from the tracked position.
                if _is_lock_contention(error):
                    # Another writer held SQLite's lock past the busy timeout: expected under
                    # load, and retried; one line, not a traceback.
                    log.warning("projection %s waited for the database lock; retrying",
                                self.projection.name)
                else:
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


class LogFollower:
    """One subscription to the store's log (LISTEN/NOTIFY) that applies each event to every
    read model taking its topic, each in its own transaction with its own tracking record.

    One LISTEN session and one decode per event for all the read models, on the process's
    own application and pools: a library runner per read model would bring an application,
    a pool and a LISTEN session each (about 30 sessions for one following process, which ran
    the test suite's PostgreSQL out of connections). It starts from the lowest tracked
    position and skips, per read model, what that model has already applied; so a
    restarted follower resumes exactly where each one stopped.
    """

    def __init__(self, app: HosoApplication, projections: Sequence[Projection[Any]]) -> None:
        self.app = app
        self.projections = tuple(projections)
        self.positions = {p.name: p.view.max_tracking_id(app.name) or 0
                          for p in self.projections}
        topics = [set(p.topics) for p in self.projections]
        wanted = () if any(not t for t in topics) else tuple(sorted(set().union(*topics)))
        start = min(self.positions.values(), default=0)
        self.error: BaseException | None = None
        self.interrupted = threading.Event()
        self._subscription: Subscription[Any] = app.recorder.subscribe(
            gt=start or None, topics=wanted)
        self._subscription.__enter__()
        self._thread = threading.Thread(target=self._run, name="hoso-log-follower",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        name = self.app.name
        try:
            for notification in self._subscription:
                event = None
                for projection in self.projections:
                    if (notification.id <= self.positions[projection.name]
                            or (projection.topics and notification.topic
                                not in projection.topics)):
                        continue
                    if event is None:
                        event = self.app.mapper.to_domain_event(notification)
                    projection.process_event(event, Tracking(name, notification.id))
                    self.positions[projection.name] = notification.id
        except BaseException as error:
            self.error = error
        finally:
            self.interrupted.set()

    def close(self) -> None:
        self._subscription.stop()
        self._thread.join(timeout=10)
        try:
            self._subscription.__exit__(None, None, None)
        except Exception as error:  # it already stopped on that error; closing goes on
            log.warning("log subscription stopped with %r", error)


class ReadModels:
    """The read models one process queries, and (optionally) keeps up to date.

    ``views`` are on ``store`` (the primary) and are what events are applied to;
    ``read_views`` are what pages query: on ``read_store`` (a read replica) when one is
    given, else the same objects. The read views open at once (a bad store fails here, not
    on the first page); the primary's copies of replicated ones only when first used, so a
    web process reading from a replica opens no pools it never uses. All the read models on
    one store share one pool (``Store.pool_size`` connections, growing under load).
    """

    def __init__(self, store: Store, app: HosoApplication,
                 read_store: Store | None = None, *, settings: Settings | None = None) -> None:
        self.store = store
        self.app = app
        self.read_store = read_store
        # The keys and names the read models need; tests and benchmarks that build read
        # models by hand (not through bootstrap) get the environment's.
        self.settings = settings if settings is not None else Settings.from_environment()
        self._opened: dict[tuple[str, bool], ReadModel] = {}
        self._pools: dict[bool, Datastore] = {}
        self._open_lock = threading.Lock()
        self.read_views  # noqa: B018
        self._follower: LogFollower | None = None
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
                self._opened[key] = open_view(store, kind, self.settings,
                                              datastore=self._pool(on_replica))
            return self._opened[key]

    def _pool(self, on_replica: bool) -> Datastore:
        """The one pool of this process on the primary store, or on the replica."""
        if on_replica not in self._pools:
            store = self.read_store if on_replica else self.store
            assert store is not None
            self._pools[on_replica] = open_datastore(store, "read_models")
        return self._pools[on_replica]

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
    def feedback(self) -> FeedbackView:
        view = self._read(FeedbackProjection)
        assert isinstance(view, FeedbackView)
        return view

    @property
    def flag_cases(self) -> FlagCaseView:
        view = self._read(FlagCaseProjection)
        assert isinstance(view, FlagCaseView)
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
        with self._open_lock:
            checkpoints = open_checkpoints(self.store, self._pool(on_replica=False))
        return TransparencyLog(origin=origin, checkpoints=checkpoints,
                               signer=installation_signer(origin, self.store.sqlite_path,
                                                          self.settings.log_signing_key),
                               witnesses=configured_witnesses(self.settings.witnesses))

    def follow(self) -> None:
        """Start keeping every read model up to date in background threads.

        Raises ``AlreadyFollowed`` if another process follows this store's log.
        """
        self._stopping.clear()
        self._follow_lock.hold_shared(sole_follower=True)
        if self.store.dialect is Dialect.POSTGRESQL:
            self._follower = self._subscribe()
            self._supervisor = threading.Thread(target=self._supervise, name="hoso-supervisor",
                                                daemon=True)
            self._supervisor.start()
        else:
            for kind in PROJECTIONS:
                view = self.views[kind.projection.name]
                self._pollers.append(PollingRunner(self.app, kind.projection(view=view)))

    def _subscribe(self) -> LogFollower:
        return LogFollower(self.app, [kind.projection(view=self.views[kind.projection.name])
                                      for kind in PROJECTIONS])

    def _supervise(self) -> None:
        """Restart the log follower when it stopped (lost connection, database restart…).

        The subscription ends on its first error; the read models would silently fall
        behind. A new one resumes from the tracked positions, so nothing is skipped or
        applied twice.
        """
        backoff = 1.0
        while not self._stopping.wait(backoff):
            if not self._follow_lock.ensure_held():
                log.error("lost the follow lock and could not take it again; retrying")
            follower = self._follower
            if follower is None or not follower.interrupted.is_set() or self._stopping.is_set():
                continue
            log.error("the read models stopped following the log (%r); restarting",
                      follower.error)
            follower.close()
            try:
                self._follower = self._subscribe()
                backoff = 1.0
            except Exception:
                log.exception("could not follow the log again")
                backoff = min(backoff * 2, 30.0)

    def healthy(self) -> bool:
        """False while the read models are not following the log."""
        follower = self._follower
        if self.store.dialect is not Dialect.POSTGRESQL or self._supervisor is None:
            return True
        return (self._follow_lock.is_held() and follower is not None
                and not follower.interrupted.is_set())

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=10)
            self._supervisor = None
        if self._follower is not None:
            self._follower.close()
            self._follower = None
        for poller in self._pollers:
            poller.stop()
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
        return self._wait_for([view for k in PROJECTIONS
                               if issubclass(k.projection, DossierProjection)
                               and not (view := self._view(k, read=True)).append_only],
                              notification_id, timeout)

    def wait_for_feedback(self, notification_id: int, timeout: float = 3.0) -> bool:
        """Like ``wait``, for a feedback event's position and the feedback read model."""
        return self._wait_for([self._view(_KINDS[FeedbackProjection.name], read=True)],
                              notification_id, timeout)

    def wait_for_flag_case(self, notification_id: int, timeout: float = 3.0) -> bool:
        """Like ``wait``, for a red flag case's event and the cases' read model."""
        return self._wait_for([self._view(_KINDS[FlagCaseProjection.name], read=True)],
                              notification_id, timeout)

    def _wait_for(self, pending: list[ReadModel], notification_id: int,
                  timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for poller in self._pollers:
            poller.wake()
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
        if self._follower is not None or self._pollers:
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
            pools = list(self._pools.values())
            self._pools.clear()
            self._opened.clear()
        for pool in pools:
            pool.close()


@contextmanager
def following(models: ReadModels) -> Iterator[ReadModels]:
    models.follow()
    try:
        yield models
    finally:
        models.stop()
