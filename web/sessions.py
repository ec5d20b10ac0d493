"""Staff sessions kept on the server, and the record of sign-in attempts.

The browser holds only a random 256-bit id. Over HTTPS it travels in a ``__Host-`` cookie
(Secure, HttpOnly, SameSite=Lax, no Domain, Path=/); plain-HTTP development on 127.0.0.1
uses the same cookie without the prefix and the Secure flag, which browsers would refuse
there. The server keeps the id's SHA-256 with the session's data, so signing out ends a
session for good (not just in one browser), and a copy of the table opens nothing.

A session ends after ``IDLE`` without a request, ``ABSOLUTE`` after sign-in whatever
happens, at sign-out, or when its user signs in again in that browser (the id is rotated at
every sign-in, so an id planted before sign-in is worth nothing after it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from projections.read_model import (
    PostgresAccess,
    SqlAccess,
    SQLiteAccess,
    as_datetime,
    open_datastore,
)
from projections.store import Store
from web.security import STORE_UNAVAILABLE, store_unavailable

log = logging.getLogger(__name__)

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=10)  # a working day with its overtime, never overnight
# last_seen_at is written at most this often: not one write per page view.
TOUCH_EVERY = timedelta(minutes=1)
SECURE_COOKIE = "__Host-hoso_session"
PLAIN_COOKIE = "hoso_session"
SIGNED_IN_AT = "signed_in_at"  # set by the sign-in handler; a new value rotates the id
CSRF_KEY = "csrf"


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredSession:
    user_id: str
    data: dict[str, Any]
    created_at: datetime
    last_seen_at: datetime


class StaffSessions(SqlAccess):
    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore

    def close(self) -> None:
        self.datastore.close()

    # ---- sessions ----------------------------------------------------------------------

    def load(self, session_id: str, now: datetime) -> StoredSession | None:
        """The live session with this id; an expired one is ended on the way."""
        rows = self._select(
            "SELECT user_id, data, created_at, last_seen_at FROM {p}staff_session "
            "WHERE session_hash = %(h)s AND ended_at IS NULL", {"h": _hash(session_id)})
        if not rows:
            return None
        row = rows[0]
        created, seen = as_datetime(row["created_at"]), as_datetime(row["last_seen_at"])
        assert created is not None and seen is not None
        if now - created >= ABSOLUTE or now - seen >= IDLE:
            self.end(session_id, now, "expired: absolute" if now - created >= ABSOLUTE
                     else "expired: idle")
            return None
        return StoredSession(str(row["user_id"]), json.loads(str(row["data"])), created, seen)

    def create(self, data: dict[str, Any], now: datetime, address: str) -> str:
        session_id = secrets.token_urlsafe(32)
        user_id = str((data.get("user") or {}).get("id", ""))
        with self._transaction(commit=True) as cursor:
            self._execute(
                cursor,
                "INSERT INTO {p}staff_session (session_hash, user_id, data, address, "
                "created_at, last_seen_at) VALUES (%(h)s, %(u)s, %(d)s, %(a)s, %(t)s, %(t)s)",
                {"h": _hash(session_id), "u": user_id, "d": json.dumps(data), "a": address,
                 "t": now})
        return session_id

    def update(self, session_id: str, data: dict[str, Any], now: datetime) -> None:
        with self._transaction(commit=True) as cursor:
            self._execute(
                cursor,
                "UPDATE {p}staff_session SET data = %(d)s, last_seen_at = %(t)s "
                "WHERE session_hash = %(h)s AND ended_at IS NULL",
                {"h": _hash(session_id), "d": json.dumps(data), "t": now})

    def touch(self, session_id: str, now: datetime) -> None:
        with self._transaction(commit=True) as cursor:
            self._execute(
                cursor,
                "UPDATE {p}staff_session SET last_seen_at = %(t)s "
                "WHERE session_hash = %(h)s AND ended_at IS NULL",
                {"h": _hash(session_id), "t": now})

    def end(self, session_id: str, now: datetime, reason: str) -> None:
        with self._transaction(commit=True) as cursor:
            self._execute(
                cursor,
                "UPDATE {p}staff_session SET ended_at = %(t)s, end_reason = %(r)s "
                "WHERE session_hash = %(h)s AND ended_at IS NULL",
                {"h": _hash(session_id), "t": now, "r": reason})

    def live_sessions(self, user_id: str) -> int:
        rows = self._select(
            "SELECT count(*) AS n FROM {p}staff_session WHERE user_id = %(u)s "
            "AND ended_at IS NULL", {"u": user_id})
        return int(rows[0]["n"])

    # ---- sign-in attempts --------------------------------------------------------------

    def record_attempt(self, *, user_id: str, address: str, succeeded: bool, outcome: str,
                       now: datetime) -> None:
        with self._transaction(commit=True) as cursor:
            self._execute(
                cursor,
                "INSERT INTO {p}signin_attempt (user_id, address, succeeded, outcome, "
                "attempted_at) VALUES (%(u)s, %(a)s, %(s)s, %(o)s, %(t)s)",
                {"u": user_id[:200], "a": address, "s": succeeded, "o": outcome, "t": now})

    def failures_since(self, since: datetime, *, user_id: str | None = None,
                       address: str | None = None) -> int:
        column, value = ("user_id", user_id) if user_id is not None else ("address", address)
        rows = self._select(
            f"SELECT count(*) AS n FROM {{p}}signin_attempt WHERE {column} = %(v)s "
            "AND NOT succeeded AND attempted_at >= %(t)s", {"v": value, "t": since})
        return int(rows[0]["n"])

    def attempts(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._select(
            "SELECT user_id, address, succeeded, outcome, attempted_at FROM "
            "{p}signin_attempt ORDER BY id DESC LIMIT %(n)s", {"n": limit})


class SQLiteStaffSessions(StaffSessions, SQLiteAccess):
    datastore: SQLiteDatastore


class PostgresStaffSessions(StaffSessions, PostgresAccess):
    datastore: PostgresDatastore


def open_sessions(store: Store) -> StaffSessions:
    return sessions_on(open_datastore(store, "sessions"))


def sessions_on(datastore: SQLiteDatastore | PostgresDatastore) -> StaffSessions:
    """Sessions on a datastore already open (the web app shares its staff accounts' pool:
    one more pool per process would be one more set of connections for nothing)."""
    if isinstance(datastore, SQLiteDatastore):
        return SQLiteStaffSessions(datastore)
    return PostgresStaffSessions(datastore)


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "-"


class ServerSessionMiddleware:
    """``request.session`` backed by ``StaffSessions``; reads only when a cookie is sent
    (citizens' pages carry none and cost no query)."""

    def __init__(self, app: ASGIApp, sessions: StaffSessions,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.app = app
        self.sessions = sessions
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https"
        cookie = SECURE_COOKIE if secure else PLAIN_COOKIE
        session_id = HTTPConnection(scope).cookies.get(cookie)
        now = self.clock()
        try:
            stored = (await anyio.to_thread.run_sync(self.sessions.load, session_id, now)
                      if session_id else None)
        except STORE_UNAVAILABLE as error:
            response = await store_unavailable(Request(scope, receive), error)
            await response(scope, receive, send)
            return
        session: dict[str, Any] = dict(stored.data) if stored else {}
        before = json.dumps(session, sort_keys=True)
        scope["session"] = session

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                set_cookie = await anyio.to_thread.run_sync(self._persist, session_id, stored,
                                                            session, before, scope)
                if set_cookie is not None:
                    MutableHeaders(scope=message).append(
                        "set-cookie", self._cookie(cookie, set_cookie, secure))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _persist(self, session_id: str | None, stored: StoredSession | None,
                 session: dict[str, Any], before: str, scope: Scope) -> str | None:
        """Write what the handler changed; the cookie value to set ("" to delete), or None.

        The answer is already decided here: if the store fails now, the browser keeps the
        cookie it had (a sign-in then simply did not take; the clerk signs in again)."""
        try:
            return self._write(session_id, stored, session, before, scope)
        except STORE_UNAVAILABLE:
            log.warning("session not saved: the store is unavailable", exc_info=True)
            return None

    def _write(self, session_id: str | None, stored: StoredSession | None,
               session: dict[str, Any], before: str, scope: Scope) -> str | None:
        now = self.clock()
        changed = json.dumps(session, sort_keys=True) != before
        if stored is not None and session_id is not None:
            if not session:
                self.sessions.end(session_id, now, "signed out")
                return ""
            if session.get(SIGNED_IN_AT) != stored.data.get(SIGNED_IN_AT):
                self.sessions.end(session_id, now, "rotated at sign-in")
                return self._create(session, now, scope)
            if changed:
                self.sessions.update(session_id, session, now)
            elif now - stored.last_seen_at >= TOUCH_EVERY:
                self.sessions.touch(session_id, now)
            return None
        if session:
            return self._create(session, now, scope)
        return "" if session_id else None  # an unknown or expired id: forget it

    def _create(self, session: dict[str, Any], now: datetime, scope: Scope) -> str:
        # A new anti-forgery token with every new session id (web/csrf.py checks it).
        session[CSRF_KEY] = secrets.token_urlsafe(32)
        return self.sessions.create(session, now, client_address(scope))

    @staticmethod
    def _cookie(name: str, value: str, secure: bool) -> str:
        parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        if not value:
            parts.append("Max-Age=0")
        if secure:
            parts.append("Secure")
        return "; ".join(parts)
