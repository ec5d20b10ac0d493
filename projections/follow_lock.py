"""A lock that keeps ``hoso rebuild`` from running while any process follows the log.

Followers hold it shared; a rebuild needs it exclusively. Without it, a rebuild that empties
the read models while a server keeps applying new events would resume from the server's
position and silently skip everything before it.
"""

from __future__ import annotations

import contextlib
import fcntl
import zlib
from typing import IO, Any

import psycopg

from projections.store import Dialect, Store


class LogInUse(RuntimeError):
    pass


class FollowLock:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._file: IO[bytes] | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._key = zlib.crc32(f"hoso-follow:{store.schema}".encode())

    def _open(self) -> None:
        if self.store.dialect is Dialect.SQLITE:
            assert self.store.sqlite_path is not None
            self._file = open(f"{self.store.sqlite_path}.follow-lock", "ab")  # noqa: SIM115
        else:
            self._conn = psycopg.connect(self.store.conninfo(), autocommit=True)

    def hold_shared(self) -> None:
        """For a follower: many may follow at once."""
        self._open()
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_SH)
        elif self._conn is not None:
            self._conn.execute("SELECT pg_advisory_lock_shared(%s)", (self._key,))

    def is_held(self) -> bool:
        if self._file is not None:
            return not self._file.closed
        if self._conn is None or self._conn.closed:
            return False
        try:
            self._conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def ensure_held(self) -> bool:
        """Take the shared lock again if its session was lost (a database restart)."""
        if self.is_held():
            return True
        self.release()
        try:
            self.hold_shared()
        except (psycopg.Error, OSError):
            self.release()
            return False
        return True

    def hold_exclusive(self) -> None:
        """For a rebuild: refuses at once if anyone follows the log."""
        self._open()
        taken = True
        if self._file is not None:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                taken = False
        elif self._conn is not None:
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
            taken = bool(row and row[0])
        if not taken:
            self.release()
            raise LogInUse("a server is following the log: stop `hoso serve` before rebuilding")

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                # Unlock before closing: the server ends a closed session a moment later,
                # and a rebuild started in that moment would find the lock still held.
                self._conn.execute("SELECT pg_advisory_unlock_all()")
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
