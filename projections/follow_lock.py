"""Who may follow the log: one follower per store, and no rebuild while it follows.

Two locks. The *rebuild* lock: followers hold it shared, a rebuild needs it exclusively.
Without it, a rebuild that empties the read models while a server keeps applying new events
would resume from the server's position and silently skip everything before it. The
*follower* lock: the process that follows the log (``hoso project``, or ``hoso serve`` in
its single-process form) holds it exclusively, and a second follower is refused at start.
Two followers would apply the same events at once: each event is still applied exactly once
(the tracking record's key refuses the second), but the loser's subscription stops with an
``IntegrityError`` on every collision and is restarted, over and over.
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


class AlreadyFollowed(RuntimeError):
    pass


ALREADY_FOLLOWED = ("another process already follows this store's log (`hoso project`, or "
                    "`hoso serve` without --no-follow): run one follower per store")


class FollowLock:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._file: IO[bytes] | None = None
        self._follower_file: IO[bytes] | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._exclusive_follower = False
        self._key = zlib.crc32(f"hoso-follow:{store.schema}".encode())
        self._follower_key = zlib.crc32(f"hoso-follower:{store.schema}".encode())

    def _open(self) -> None:
        if self.store.dialect is Dialect.SQLITE:
            assert self.store.sqlite_path is not None
            self._file = open(f"{self.store.sqlite_path}.follow-lock", "ab")  # noqa: SIM115
        else:
            self._conn = psycopg.connect(self.store.conninfo(), autocommit=True)

    def hold_shared(self, *, sole_follower: bool = False) -> None:
        """For a follower: keeps a rebuild out. With ``sole_follower``, also the follower
        lock, refused with ``AlreadyFollowed`` while another process follows the log."""
        self._open()
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_SH)
        elif self._conn is not None:
            self._conn.execute("SELECT pg_advisory_lock_shared(%s)", (self._key,))
        if sole_follower and not self._take_follower_lock():
            self.release()
            raise AlreadyFollowed(ALREADY_FOLLOWED)
        self._exclusive_follower = sole_follower

    def _take_follower_lock(self) -> bool:
        if self.store.dialect is Dialect.SQLITE:
            assert self.store.sqlite_path is not None
            self._follower_file = open(  # noqa: SIM115
                f"{self.store.sqlite_path}.follower-lock", "ab")
            try:
                fcntl.flock(self._follower_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._follower_file.close()
                self._follower_file = None
                return False
            return True
        assert self._conn is not None
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)",
                                 (self._follower_key,)).fetchone()
        return bool(row and row[0])

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
        """Take the locks again if their session was lost (a database restart)."""
        if self.is_held():
            return True
        sole_follower = self._exclusive_follower
        self.release()
        try:
            self.hold_shared(sole_follower=sole_follower)
        except (psycopg.Error, OSError, AlreadyFollowed):
            self.release()
            self._exclusive_follower = sole_follower  # try again next time
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
            raise LogInUse("a server is following the log: stop `hoso serve` (and "
                           "`hoso project`) before rebuilding")

    def release(self) -> None:
        self._exclusive_follower = False
        for lock_file in (self._follower_file, self._file):
            if lock_file is not None:
                lock_file.close()  # closing drops the flock
        self._file = self._follower_file = None
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                # Unlock before closing: the server ends a closed session a moment later,
                # and a rebuild started in that moment would find the lock still held.
                self._conn.execute("SELECT pg_advisory_unlock_all()")
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
