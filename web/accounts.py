"""Staff sign-in: argon2id password hashes in ``staff_account``, and the optional second
factor's secrets in ``staff_totp`` (web/two_factor.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from projections.read_model import PostgresAccess, SqlAccess, SQLiteAccess, open_datastore
from projections.store import Store
from web import two_factor

# Verifying against this when the account is unknown keeps sign-in time the same for
# unknown and known user names.
_DUMMY_PASSWORD = "not-a-real-password"


MIN_PASSWORD_LENGTH = 8


def check_password(password: str) -> None:
    """Raises ValueError for a password too weak to set (checked before anything is done)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")


class StaffAccounts(SqlAccess):
    def __init__(self, datastore: Any, hasher: PasswordHasher | None = None) -> None:
        self.datastore = datastore
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash = self.hasher.hash(_DUMMY_PASSWORD)

    def close(self) -> None:
        self.datastore.close()

    def set_password(self, user_id: str, password: str) -> None:
        check_password(password)
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
        if "\x00" in user_id:  # PostgreSQL refuses NUL in text; no account has one
            return False
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


    # ---- the optional second factor ------------------------------------------------------

    def second_factor(self, user_id: str) -> SecondFactor | None:
        rows = self._select(
            "SELECT secret, confirmed_at FROM {p}staff_totp WHERE user_id = %(u)s",
            {"u": user_id})
        if not rows:
            return None
        row = rows[0]
        return SecondFactor(str(row["secret"]), row["confirmed_at"] is not None)

    def uses_second_factor(self, user_id: str) -> bool:
        factor = self.second_factor(user_id)
        return factor is not None and factor.confirmed

    def begin_second_factor(self, user_id: str, now: datetime) -> str:
        """A new secret for the staff member's app, not in force until a code confirms it.
        Refused while a confirmed one is in force: turning it off needs a code first."""
        secret = two_factor.new_secret()
        with self._transaction(commit=True) as cursor:
            self._execute(cursor, "DELETE FROM {p}staff_totp WHERE user_id = %(u)s "
                          "AND confirmed_at IS NULL", {"u": user_id})
            self._execute(
                cursor,
                "INSERT INTO {p}staff_totp (user_id, secret, created_at) "
                "VALUES (%(u)s, %(s)s, %(t)s)", {"u": user_id, "s": secret, "t": now})
        return secret

    def confirm_second_factor(self, user_id: str, code: str, now: datetime) -> bool:
        """Put the enrolment in force if the code is the app's; False if not."""
        return self._spend_code(
            user_id, code, now, confirmed=False,
            statement="UPDATE {p}staff_totp SET confirmed_at = %(t)s, last_step = %(s)s "
                      "WHERE user_id = %(u)s AND secret = %(k)s AND confirmed_at IS NULL "
                      "RETURNING user_id")

    def check_code(self, user_id: str, code: str, now: datetime) -> bool:
        """True once for a right code: the step is stored in the same statement that checks
        it is newer than the last one used, so a code seen over a shoulder, or sent twice,
        is refused the second time."""
        return self._spend_code(
            user_id, code, now, confirmed=True,
            statement="UPDATE {p}staff_totp SET last_step = %(s)s WHERE user_id = %(u)s "
                      "AND secret = %(k)s AND confirmed_at IS NOT NULL AND last_step < %(s)s "
                      "RETURNING user_id")

    def _spend_code(self, user_id: str, code: str, now: datetime, *, confirmed: bool,
                    statement: str) -> bool:
        """Run ``statement`` with the code's step if the code is right for the user's secret
        (confirmed or still enrolling); True if it changed the row."""
        factor = self.second_factor(user_id)
        if factor is None or factor.confirmed is not confirmed:
            return False
        step = two_factor.matching_step(factor.secret, code, now)
        if step is None:
            return False
        with self._transaction(commit=True) as cursor:
            self._execute(cursor, statement,
                          {"u": user_id, "k": factor.secret, "t": now, "s": step})
            return cursor.fetchone() is not None

    def remove_second_factor(self, user_id: str) -> bool:
        with self._transaction(commit=True) as cursor:
            self._execute(cursor, "DELETE FROM {p}staff_totp WHERE user_id = %(u)s "
                          "RETURNING user_id", {"u": user_id})
            return bool(cursor.fetchall())


@dataclass(frozen=True)
class SecondFactor:
    secret: str
    confirmed: bool


class SQLiteStaffAccounts(StaffAccounts, SQLiteAccess):
    datastore: SQLiteDatastore


class PostgresStaffAccounts(StaffAccounts, PostgresAccess):
    datastore: PostgresDatastore


def open_accounts(store: Store, hasher: PasswordHasher | None = None) -> StaffAccounts:
    datastore = open_datastore(store, "accounts")
    if isinstance(datastore, SQLiteDatastore):
        return SQLiteStaffAccounts(datastore, hasher)
    return PostgresStaffAccounts(datastore, hasher)
