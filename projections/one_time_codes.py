"""One-time codes kept in the store's own table (``one_time_code``), as digests only.

Spending is one UPDATE guarded by ``spent_at IS NULL`` and the attempt count, so two
requests typing the same right code at once spend it once: the second is refused.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from eventsourcing.sqlite import SQLiteDatastore

from domain.one_time_codes import (
    CODE_LIFETIME,
    MAX_ATTEMPTS,
    MAX_CODES_PER_WINDOW,
    SEND_WINDOW,
    Challenge,
    CodePurpose,
    CodeRefused,
    TooManyCodes,
    code_hash,
    new_code,
    same_code,
    subject_hash,
)
from projections.read_model import PostgresAccess, SqlAccess, SQLiteAccess, open_datastore
from projections.store import Store


class SqlCodeBook(SqlAccess):
    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore

    def close(self) -> None:
        self.datastore.close()

    def issue(self, purpose: CodePurpose, subject: str, now: datetime) -> Challenge:
        subject_digest = subject_hash(purpose, subject)
        with self._transaction(commit=True) as cursor:
            self._execute(cursor, "SELECT COUNT(*) AS n FROM {p}one_time_code WHERE "
                          "purpose = %(purpose)s AND subject_hash = %(subject)s AND "
                          "created_at > %(since)s",
                          {"purpose": purpose.value, "subject": subject_digest,
                           "since": now - SEND_WINDOW})
            if int(dict(cursor.fetchone())["n"]) >= MAX_CODES_PER_WINDOW:
                raise TooManyCodes()
            challenge_id = secrets.token_urlsafe(16)
            code = new_code()
            expires = now + CODE_LIFETIME
            self._execute(cursor, "INSERT INTO {p}one_time_code (challenge_id, purpose, "
                          "subject_hash, code_hash, attempts, created_at, expires_at) VALUES "
                          "(%(id)s, %(purpose)s, %(subject)s, %(code)s, 0, %(now)s, "
                          "%(expires)s)",
                          {"id": challenge_id, "purpose": purpose.value,
                           "subject": subject_digest, "code": code_hash(challenge_id, code),
                           "now": now, "expires": expires})
        return Challenge(challenge_id, code, expires)

    def spend(self, challenge_id: str, code: str, purpose: CodePurpose, subject: str,
              now: datetime) -> None:
        rows = self._select(
            "SELECT code_hash FROM {p}one_time_code WHERE challenge_id = %(id)s AND "
            "purpose = %(purpose)s AND subject_hash = %(subject)s AND spent_at IS NULL AND "
            "attempts < %(max)s AND expires_at > %(now)s",
            {"id": challenge_id[:64], "purpose": purpose.value,
             "subject": subject_hash(purpose, subject), "max": MAX_ATTEMPTS, "now": now})
        right = bool(rows) and same_code(challenge_id, code, str(rows[0]["code_hash"]))
        with self._transaction(commit=True) as cursor:
            if right:
                self._execute(cursor, "UPDATE {p}one_time_code SET spent_at = %(now)s, "
                              "attempts = attempts + 1 WHERE challenge_id = %(id)s AND "
                              "spent_at IS NULL AND attempts < %(max)s RETURNING challenge_id",
                              {"now": now, "id": challenge_id, "max": MAX_ATTEMPTS})
                if cursor.fetchall():
                    return
            else:
                self._execute(cursor, "UPDATE {p}one_time_code SET attempts = attempts + 1 "
                              "WHERE challenge_id = %(id)s", {"id": challenge_id[:64]})
        raise CodeRefused()


class SQLiteCodeBook(SqlCodeBook, SQLiteAccess):
    pass


class PostgresCodeBook(SqlCodeBook, PostgresAccess):
    pass


def code_book_on(datastore: Any) -> SqlCodeBook:
    """On a datastore already open (the web app shares its staff accounts' pool)."""
    if isinstance(datastore, SQLiteDatastore):
        return SQLiteCodeBook(datastore)
    return PostgresCodeBook(datastore)


def open_code_book(store: Store) -> SqlCodeBook:
    return code_book_on(open_datastore(store, "one_time_codes"))
