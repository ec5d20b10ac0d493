"""The transparency log: one canonical entry per stored event, exactly once, in global order.

Every aggregate's events are logged (dossiers, keyrings, the register, reading logs, code
sequences, handled requests, and any added later): which row an insider edits must not
decide whether ``hoso verify`` catches it.

An entry's ``position`` is its event's notification id; its ``leaf_index`` is its place in
the Merkle tree. They run in the same order, except for the entries a store logged when it
was upgraded to log every aggregate (``backfill``): those events predate the upgrade, but
their entries were appended at the end of the tree, after every leaf already signed.

Unlike the other read models this one is a record, not a cache: it is append-only (the
database refuses UPDATE and DELETE on ``log_entry``), a rebuild leaves it alone, and
``hoso verify`` compares it with the event store. Each entry links to the leaf hash of the
dossier's previous entry, read inside the transaction that writes the new one, so the chain
needs no cache of its own.

The log's origin and salt are kept in the store (``log_settings``, written once by the first
process that needs them): they must live as long as the entries, or no entry could be
recomputed. ``HOSO_LOG_ORIGIN`` and ``HOSO_LOG_SALT`` (hex) choose them for a new store; set
later to other values they stop the log rather than fork it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.application import HosoApplication
from domain.dossier import Dossier
from domain.keyring import KEYRING_EVENT_CLASSES
from domain.transparency.entry import LoggedEvent, leaf_hash, log_entry
from projections.dossier_projection import DossierProjection
from projections.read_model import (
    Cursor,
    PostgresReadModel,
    ReadModel,
    Row,
    SQLiteReadModel,
)

DEFAULT_ORIGIN = "hoso.local/log"
SALT_BYTES = 32


# What the log covered before it covered every aggregate: events of these topics at or
# before the tracked position were logged as they came; any other was not, and is
# backfilled once, when the store is migrated.
TOPICS_LOGGED_FROM_THE_START = frozenset(
    DossierProjection.topics + tuple(get_topic(c) for c in KEYRING_EVENT_CLASSES))


class LogSettingsConflict(RuntimeError):
    pass


class LogNotBackfilled(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "the transparency log has not yet logged the events stored before it covered "
            "every aggregate: run `hoso migrate` (with no server following the log) first")


@dataclass(frozen=True)
class LogSettings:
    origin: str
    salt: bytes


@dataclass(frozen=True)
class LoggedEntry:
    position: int
    dossier_id: UUID  # the stream's id: a dossier's, a keyring's, a reading log's…
    version: int
    entry: bytes
    leaf_hash: bytes
    leaf_index: int = -1


_COLUMNS = "position, dossier_id, version, entry, leaf_hash, leaf_index"


def _logged(row: Row) -> LoggedEntry:
    return LoggedEntry(int(row["position"]), UUID(str(row["dossier_id"])), int(row["version"]),
                       str(row["entry"]).encode("utf-8"), bytes.fromhex(str(row["leaf_hash"])),
                       int(row["leaf_index"]))


class TransparencyLogView(ReadModel):
    tracking_name = "transparency_log"
    # Nothing for a rebuild to empty: the log is the record itself.
    tables = ()
    append_only = True

    # The origin and salt this installation asks for (HOSO_LOG_ORIGIN, HOSO_LOG_SALT), given
    # by ``open_view``; the store's first event fixes them for good.
    wanted_origin: str | None = None
    wanted_salt: str | None = None

    def reset(self, application_name: str) -> None:
        raise RuntimeError("the transparency log is append-only and is never rebuilt")

    def settings(self) -> LogSettings:
        """The log's origin and salt, made in their own committed transaction the first time
        (cached only once committed: a rolled-back salt must never sign an entry)."""
        cached = self.__dict__.get("_settings")
        if cached is None:
            with self._transaction(commit=True) as cursor:
                loaded = self._load_settings(cursor)
            cached = self.__dict__["_settings"] = loaded
        assert isinstance(cached, LogSettings)
        return cached

    def _load_settings(self, cursor: Cursor) -> LogSettings:
        wanted_origin, wanted_salt = self.wanted_origin, self.wanted_salt
        # Two processes starting at once: the first row wins, both then read it.
        self._execute(
            cursor,
            "INSERT INTO {p}log_settings (id, origin, salt) "
            "VALUES (1, %(origin)s, %(salt)s) ON CONFLICT (id) DO NOTHING",
            {"origin": wanted_origin or DEFAULT_ORIGIN,
             "salt": bytes.fromhex(wanted_salt).hex() if wanted_salt
             else secrets.token_bytes(SALT_BYTES).hex()},
        )
        self._execute(cursor, "SELECT origin, salt FROM {p}log_settings WHERE id = 1")
        row = cursor.fetchone()
        stored = LogSettings(str(row["origin"]), bytes.fromhex(str(row["salt"])))
        if wanted_origin and wanted_origin != stored.origin:
            raise LogSettingsConflict(
                f"HOSO_LOG_ORIGIN is {wanted_origin!r} but the log was begun as "
                f"{stored.origin!r}")
        if wanted_salt and bytes.fromhex(wanted_salt) != stored.salt:
            raise LogSettingsConflict("HOSO_LOG_SALT differs from the salt the log was begun with")
        return stored

    def _pipeline(self, cursor: Cursor) -> AbstractContextManager[Any]:
        # Never pipelined: each entry reads its dossier's previous leaf back from the batch's
        # cursor, and a pipelined cursor could hand back an earlier statement's result.
        return nullcontext()

    @contextmanager
    def batch(self) -> Iterator[None]:
        # Before the batch takes the writer: SQLite has one, and settings() needs it (and
        # a pool of one connection, held by the batch, would have none to spare).
        self.settings()
        self.backfilled()
        with super().batch():
            state = self._batch
            # A dossier's latest leaf written in this batch, and the rows not yet sent: a
            # catch-up then reads each dossier's previous leaf once per batch and sends every
            # entry in one executemany, not two round trips an event.
            state.leaves, state.pending, state.next_index = {}, [], None
            try:
                yield
                if state.pending:
                    self._insert_entries(state.cursor, state.pending)
            finally:
                state.leaves = state.pending = state.next_index = None

    def backfilled(self) -> bool:
        """Whether the events stored before the log covered every aggregate are logged (on
        a store begun since, there were none)."""
        if not self.__dict__.get("_backfilled"):
            rows = self._select("SELECT count(*) AS n FROM {p}log_backfill")
            self.__dict__["_backfilled"] = bool(rows[0]["n"])
        return bool(self.__dict__["_backfilled"])

    def backfill(self, app: HosoApplication, now: datetime | None = None) -> int:
        """Log, once, every event stored before the log covered every aggregate.

        Those events lie at or before the tracked position, among events already logged:
        their entries go at the end of the tree (after every leaf already signed, so old
        checkpoints stay consistent), in position order, each stream chained as usual. The
        tracked position does not move. Run by ``hoso migrate`` with no follower running;
        how many entries were added.
        """
        if self.backfilled():
            return 0
        settings = self.settings()
        tracked = self.max_tracking_id(app.name) or 0
        added = 0
        with self._transaction(commit=True) as cursor:
            leaves: dict[UUID, bytes] = {}
            next_index = self._next_index(cursor)
            after = 0
            while batch := app.recorder.select_notifications(
                    start=after, limit=1000, stop=tracked, inclusive_of_start=False):
                rows = []
                for notification in batch:
                    if notification.topic in TOPICS_LOGGED_FROM_THE_START:
                        continue  # logged as it came, or a finding for `hoso verify`
                    event = app.mapper.to_domain_event(notification)
                    if not isinstance(event, Aggregate.Event):
                        raise TypeError(f"not an aggregate's event: {notification.topic}")
                    stream = event.originator_id
                    previous = leaves.get(stream) or self._latest_leaf(cursor, stream)
                    entry = log_entry(event, origin=settings.origin, salt=settings.salt,
                                      previous_leaf=previous)
                    leaves[stream] = leaf_hash(entry)
                    rows.append({"position": notification.id, "dossier_id": stream,
                                 "version": event.originator_version,
                                 "entry": entry.decode("utf-8"),
                                 "leaf": leaves[stream].hex(), "leaf_index": next_index})
                    next_index += 1
                if rows:
                    self._insert_entries(cursor, rows)
                    added += len(rows)
                after = batch[-1].id
            self._execute(
                cursor,
                "INSERT INTO {p}log_backfill (id, through_position, entries, done_at) "
                "VALUES (1, %(through)s, %(entries)s, %(done_at)s)",
                {"through": tracked, "entries": added,
                 "done_at": (now or datetime.now(UTC)).isoformat()})
        self.__dict__["_backfilled"] = True
        return added

    def _next_index(self, cursor: Cursor) -> int:
        self._execute(cursor, "SELECT max(leaf_index) AS n FROM {p}log_entry")
        row = cursor.fetchone()
        return 0 if row is None or row["n"] is None else int(row["n"]) + 1

    def append(self, event: LoggedEvent, tracking: Tracking) -> None:
        if not self.backfilled():
            raise LogNotBackfilled()
        settings = self.settings()
        cursor = getattr(self._batch, "cursor", None)
        if cursor is not None:
            self._append(cursor, settings, event, tracking)
            return
        with self._transaction(commit=True) as cursor:
            self._append(cursor, settings, event, tracking)

    def _append(self, cursor: Cursor, settings: LogSettings, event: LoggedEvent,
                tracking: Tracking) -> None:
        batch = self._batch
        leaves: dict[UUID, bytes] | None = getattr(batch, "leaves", None)
        pending: list[dict[str, Any]] | None = getattr(batch, "pending", None)
        dossier_id = event.originator_id
        previous = leaves.get(dossier_id) if leaves is not None else None
        if previous is None:
            previous = self._latest_leaf(cursor, dossier_id)
        entry = log_entry(event, origin=settings.origin, salt=settings.salt,
                          previous_leaf=previous)
        leaf = leaf_hash(entry)
        next_index = getattr(batch, "next_index", None)
        if next_index is None:
            next_index = self._next_index(cursor)
        row = {"position": tracking.notification_id, "dossier_id": dossier_id,
               "version": event.originator_version, "entry": entry.decode("utf-8"),
               "leaf": leaf.hex(), "leaf_index": next_index}
        if leaves is None or pending is None:
            self._insert_entries(cursor, [row])
        else:
            batch.next_index = next_index + 1
            leaves[dossier_id] = leaf
            pending.append(row)
        self._track(cursor, tracking)

    def _latest_leaf(self, cursor: Cursor, dossier_id: UUID) -> bytes | None:
        # Read in the writing transaction: the previous entry is the one this transaction
        # (or an earlier, committed one) wrote, never one a concurrent writer is about to.
        # Inside a batch only dossiers the batch has not logged yet come here, so entries
        # still waiting to be sent are never the ones missed.
        self._execute(
            cursor,
            "SELECT leaf_hash FROM {p}log_entry WHERE dossier_id = %(d)s "
            "ORDER BY version DESC LIMIT 1",
            {"d": dossier_id},
        )
        row = cursor.fetchone()
        return bytes.fromhex(str(row["leaf_hash"])) if row else None

    def _insert_entries(self, cursor: Cursor, rows: list[dict[str, Any]]) -> None:
        self._execute_many(
            cursor,
            "INSERT INTO {p}log_entry (position, dossier_id, version, entry, leaf_hash, "
            "leaf_index) VALUES (%(position)s, %(dossier_id)s, %(version)s, %(entry)s, "
            "%(leaf)s, %(leaf_index)s)",
            rows,
        )

    def entries(self, *, after: int = -1, limit: int = 1000) -> list[LoggedEntry]:
        """Logged entries in tree order, from just after leaf index ``after``."""
        rows = self._select(
            f"SELECT {_COLUMNS} FROM {{p}}log_entry "
            "WHERE leaf_index > %(after)s ORDER BY leaf_index LIMIT %(limit)s",
            {"after": after, "limit": limit},
        )
        return [_logged(r) for r in rows]

    def dossier_entries(self, dossier_id: UUID) -> list[LoggedEntry]:
        rows = self._select(
            f"SELECT {_COLUMNS} FROM {{p}}log_entry "
            "WHERE dossier_id = %(d)s ORDER BY version", {"d": dossier_id})
        return [_logged(r) for r in rows]

    def all_entries(self, batch: int = 1000) -> Iterator[LoggedEntry]:
        """Every entry in tree order (the order checkpoints sign)."""
        after = -1
        while chunk := self.entries(after=after, limit=batch):
            yield from chunk
            after = chunk[-1].leaf_index

    def entries_by_position(self, batch: int = 1000) -> Iterator[LoggedEntry]:
        """Every entry in its event's order (for matching them with the stored events)."""
        after = 0
        while chunk := [_logged(r) for r in self._select(
                f"SELECT {_COLUMNS} FROM {{p}}log_entry WHERE position > %(after)s "
                "ORDER BY position LIMIT %(limit)s", {"after": after, "limit": batch})]:
            yield from chunk
            after = chunk[-1].position

    def count(self) -> int:
        rows = self._select("SELECT count(*) AS n FROM {p}log_entry")
        return int(rows[0]["n"])


class SQLiteTransparencyLogView(TransparencyLogView, SQLiteReadModel):
    pass


class PostgresTransparencyLogView(TransparencyLogView, PostgresReadModel):
    pass


class TransparencyLogProjection(DossierProjection[TransparencyLogView]):
    """Every stored event, whatever its aggregate: a register change gives rights, a reading
    raises a red flag, a keyring says which keys were in force, a code sequence keeps codes
    unique — each as much evidence as a dossier's own events."""

    name = "transparency_log"
    topics = ()  # every topic

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if not isinstance(domain_event, Aggregate.Event):
            raise TypeError(f"{self.name} does not handle {type(domain_event).__qualname__}")
        self.view.append(domain_event, tracking)

    def apply(self, e: Dossier.Event, tracking: Tracking) -> None:
        self.view.append(e, tracking)
