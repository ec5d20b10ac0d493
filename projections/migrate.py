"""``hoso migrate``: the library's own tables first, then hoso's SQL migrations."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql
from yoyo import get_backend, read_migrations

from config.settings import Settings
from domain.application import HosoApplication
from projections.follow_lock import FollowLock
from projections.runners import PROJECTIONS, open_outbox, open_view
from projections.store import Dialect, Store
from projections.transparency_log import TransparencyLogProjection, TransparencyLogView

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def migrate(store: Store, settings: Settings | None = None) -> list[str]:
    """Bring the store's schema up to date; the ids of the SQL migrations applied now.
    ``settings`` name the log's origin and salt (a new store fixes them); defaults when
    not given."""
    settings = settings or Settings()
    if store.dialect is Dialect.SQLITE:
        assert store.sqlite_path is not None
        store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    else:
        with psycopg.connect(store.conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(store.schema))
            )
            if store.more_hosts:
                # yoyo takes one host: the node libpq found accepting writes.
                store = store.on_node(conn.info.host, conn.info.port)
    # The event store and tracking tables, created by the library's own DDL.
    app = HosoApplication(env=store.eventsourcing_env(create_tables=True))
    app.close()
    for kind in PROJECTIONS:
        view = open_view(store, kind, settings, create_tables=True)
        view.datastore.close()  # type: ignore[attr-defined]
    backend = get_backend(store.yoyo_url())
    migrations = read_migrations(str(MIGRATIONS / store.dialect.value))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    # Addresses an earlier version wrote in clear, sealed now that a key may be set (SQL
    # cannot: the key is not in the database). Nothing to do without HOSO_CIPHER_KEY.
    outbox = open_outbox(store, settings)
    try:
        outbox.seal_clear_addresses()
    finally:
        outbox.close()
    backfill_log(store, settings)
    return [m.id for m in pending]


def backfill_log(store: Store, settings: Settings | None = None) -> int:
    """Log, once, the events of every aggregate the transparency log did not cover before
    (docs/transparency-log.md, *Upgrading a store*); how many entries were added."""
    kind = next(k for k in PROJECTIONS if k.projection is TransparencyLogProjection)
    view = open_view(store, kind, settings or Settings())
    try:
        assert isinstance(view, TransparencyLogView)
        if view.backfilled():
            return 0
        lock = FollowLock(store)
        lock.hold_exclusive()  # no follower may log new events meanwhile
        app = HosoApplication(env=store.eventsourcing_env())
        try:
            return view.backfill(app)
        finally:
            app.close()
            lock.release()
    finally:
        view.datastore.close()  # type: ignore[attr-defined]
