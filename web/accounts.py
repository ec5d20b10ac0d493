"""Staff sign-in: argon2id password hashes in the ``staff_account`` table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from projections.read_model import PostgresAccess, SqlAccess, SQLiteAccess, open_datastore
from projections.store import Store

# Verifying against this when the account is unknown keeps sign-in time the same for
# unknown and known user names.
_DUMMY_PASSWORD = "not-a-real-password"


class StaffAccounts(SqlAccess):
    def __init__(self, datastore: Any, hasher: PasswordHasher | None = None) -> None:
        self.datastore = datastore
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash = self.hasher.hash(_DUMMY_PASSWORD)

    def close(self) -> None:
        self.datastore.close()

    def set_password(self, user_id: str, password: str) -> None:
        if len(password) < 8:
            raise ValueError("password must have at least 8 characters")
        params = {"u": user_id, "h": self.hasher.hash(password), "t": datetime.now(UTC)}
        with self._transaction(commit=True) as cursor:
            self._execute(cursor, "DELETE FROM {p}staff_account WHERE user_id = %(u)s", params)
            self._execute(
                cursor,
                "INSERT INTO {p}staff_account (user_id, password_hash, created_at) "
                "VALUES (%(u)s, %(h)s, %(t)s)",
                params,
            )

    def has_account(self, user_id: str) -> bool:
        return bool(self._select(
            "SELECT 1 FROM {p}staff_account WHERE user_id = %(u)s", {"u": user_id}
        ))

    def verify(self, user_id: str, password: str) -> bool:
        if "\x00" in user_id:  # PostgreSQL refuses NUL in text; no account has one
            user_id = ""
        rows = self._select(
            "SELECT password_hash FROM {p}staff_account WHERE user_id = %(u)s", {"u": user_id}
        )
        stored = rows[0]["password_hash"] if rows else self._dummy_hash
        try:
            self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
        return bool(rows)


class SQLiteStaffAccounts(StaffAccounts, SQLiteAccess):
    datastore: SQLiteDatastore


class PostgresStaffAccounts(StaffAccounts, PostgresAccess):
    datastore: PostgresDatastore


def open_accounts(store: Store, hasher: PasswordHasher | None = None) -> StaffAccounts:
    datastore = open_datastore(store, "accounts")
    if isinstance(datastore, SQLiteDatastore):
        return SQLiteStaffAccounts(datastore, hasher)
    return PostgresStaffAccounts(datastore, hasher)
