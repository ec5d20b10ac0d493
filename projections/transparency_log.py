"""The transparency log: one canonical entry per dossier event, exactly once, in global order.

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

import os
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.dossier import Dossier
from domain.keyring import KEYRING_EVENT_CLASSES, OfficerKeyring
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


class LogSettingsConflict(RuntimeError):
    pass


@dataclass(frozen=True)
class LogSettings:
    origin: str
    salt: bytes


@dataclass(frozen=True)
class LoggedEntry:
    position: int
    dossier_id: UUID
    version: int
    entry: bytes
    leaf_hash: bytes


def _logged(row: Row) -> LoggedEntry:
    return LoggedEntry(int(row["position"]), UUID(str(row["dossier_id"])), int(row["version"]),
                       str(row["entry"]).encode("utf-8"), bytes.fromhex(str(row["leaf_hash"])))


class TransparencyLogView(ReadModel):
    tracking_name = "transparency_log"
    # Nothing for a rebuild to empty: the log is the record itself.
    tables = ()
    append_only = True

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
        wanted_origin = os.environ.get("HOSO_LOG_ORIGIN")
        wanted_salt = os.environ.get("HOSO_LOG_SALT")
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
        # Before the batch takes the writer: SQLite has one, and settings() needs it.
        self.settings()
        with super().batch():
            state = self._batch
            # A dossier's latest leaf written in this batch, and the rows not yet sent: a
            # catch-up then reads each dossier's previous leaf once per batch and sends every
            # entry in one executemany, not two round trips an event.
            state.leaves, state.pending = {}, []
            try:
                yield
                if state.pending:
                    self._insert_entries(state.cursor, state.pending)
            finally:
                state.leaves = state.pending = None

    def append(self, event: LoggedEvent, tracking: Tracking) -> None:
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
        row = {"position": tracking.notification_id, "dossier_id": dossier_id,
               "version": event.originator_version, "entry": entry.decode("utf-8"),
               "leaf": leaf.hex()}
        if leaves is None or pending is None:
            self._insert_entries(cursor, [row])
        else:
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
            "INSERT INTO {p}log_entry (position, dossier_id, version, entry, leaf_hash) "
            "VALUES (%(position)s, %(dossier_id)s, %(version)s, %(entry)s, %(leaf)s)",
            rows,
        )

    def entries(self, *, after: int = 0, limit: int = 1000) -> list[LoggedEntry]:
        """Logged entries in log order, from just after ``after``."""
        rows = self._select(
            "SELECT position, dossier_id, version, entry, leaf_hash FROM {p}log_entry "
            "WHERE position > %(after)s ORDER BY position LIMIT %(limit)s",
            {"after": after, "limit": limit},
        )
        return [_logged(r) for r in rows]

    def dossier_entries(self, dossier_id: UUID) -> list[LoggedEntry]:
        rows = self._select(
            "SELECT position, dossier_id, version, entry, leaf_hash FROM {p}log_entry "
            "WHERE dossier_id = %(d)s ORDER BY version", {"d": dossier_id})
        return [_logged(r) for r in rows]

    def all_entries(self, batch: int = 1000) -> Iterator[LoggedEntry]:
        after = 0
        while chunk := self.entries(after=after, limit=batch):
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
    """Every dossier event, and every event of the officers' keyrings: a signature is only
    as trustworthy as the record of which keys were in force when."""

    name = "transparency_log"
    topics = DossierProjection.topics + tuple(get_topic(c) for c in KEYRING_EVENT_CLASSES)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if not isinstance(domain_event, Dossier.Event | OfficerKeyring.Event):
            raise TypeError(f"{self.name} does not handle {type(domain_event).__qualname__}")
        self.view.append(domain_event, tracking)

    def apply(self, e: Dossier.Event, tracking: Tracking) -> None:
        self.view.append(e, tracking)
