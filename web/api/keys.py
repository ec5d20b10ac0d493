"""Partners' API keys in the ``partner_key`` table.

A key is ``hoso_<key id>_<secret>``: the id (64 random bits, shown in listings and used to
revoke) finds the row, and the SHA-256 of the whole key is compared in constant time. The
secret has 256 random bits and is shown once, when the key is made; the table holds only the
hash, so a copy of it opens nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from domain.dossier import (
    ACTION_ROLES,
    ATTACHING_ROLES,
    DOCUMENT_READERS,
    PICKUP_REQUEST_ROLES,
    Action,
)
from domain.organisation import RECEIVING_ROLES, Role, Staff
from projections.read_model import PostgresAccess, SqlAccess, SQLiteAccess, as_datetime

_KEY = re.compile(r"hoso_([0-9a-f]{16})_[A-Za-z0-9_-]{43}")


class Scope(StrEnum):
    """What a key may do; the directory member it acts as must also be allowed by the
    dossier's own rules (role, unit, state), which the aggregate checks as for staff."""

    SUBMIT = "submit"
    TRANSFER = "transfer"
    DISPATCH = "dispatch"
    DELIVER = "deliver"
    PICKUP = "pickup"  # ask the post to collect a dossier at the citizen's address
    POST = "post"  # the post's own steps: collection, hand-over at the counter
    DOCUMENTS = "documents"  # list and download a dossier's attached files
    ATTACH = "attach"  # upload files to a dossier, checked as the counter's scans


# The roles that may take each scope's action at all (the dossier's rules decide the rest).
SCOPE_ROLES: dict[Scope, frozenset[Role]] = {
    Scope.SUBMIT: RECEIVING_ROLES,
    Scope.TRANSFER: ACTION_ROLES[Action.TRANSFER],
    Scope.DISPATCH: ACTION_ROLES[Action.DISPATCH],
    Scope.DELIVER: ACTION_ROLES[Action.DELIVER],
    Scope.PICKUP: PICKUP_REQUEST_ROLES,
    Scope.POST: (ACTION_ROLES[Action.COLLECT] | ACTION_ROLES[Action.HAND_OVER]
                 | ACTION_ROLES[Action.RECORD_FAILED_DELIVERY]
                 | ACTION_ROLES[Action.RETURN_TO_COUNTER]),
    Scope.DOCUMENTS: DOCUMENT_READERS,
    Scope.ATTACH: ATTACHING_ROLES,
}


def unusable_scopes(scopes: Iterable[Scope], member: Staff) -> list[Scope]:
    """Scopes the member's roles can never use: every such call would be refused (403)."""
    return sorted(s for s in scopes if not member.roles & SCOPE_ROLES[s])


def parse_scopes(text: str) -> frozenset[Scope]:
    """``"dispatch,deliver"`` → the scopes; ValueError naming what is not one."""
    names = {part.strip() for part in text.split(",") if part.strip()}
    unknown = names - {s.value for s in Scope}
    if unknown or not names:
        raise ValueError(f"scopes are a comma-separated choice of "
                         f"{', '.join(s.value for s in Scope)}; got {text!r}")
    return frozenset(Scope(n) for n in names)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class PartnerKey:
    key_id: str
    partner_id: str  # the directory member the partner acts as
    name: str
    scopes: frozenset[Scope]
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class NewKey:
    key: PartnerKey
    secret_key: str  # the whole key, shown once


class PartnerKeys(SqlAccess):
    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore

    def close(self) -> None:
        self.datastore.close()

    def create(self, *, partner_id: str, name: str, scopes: Iterable[Scope],
               now: datetime) -> NewKey:
        key_id = secrets.token_hex(8)
        secret_key = f"hoso_{key_id}_{secrets.token_urlsafe(32)}"
        chosen = frozenset(scopes)
        with self._transaction(commit=True) as cursor:
            self._execute(
                cursor,
                "INSERT INTO {p}partner_key (key_id, key_hash, partner_id, name, scopes, "
                "created_at) VALUES (%(k)s, %(h)s, %(p)s, %(n)s, %(s)s, %(t)s)",
                {"k": key_id, "h": _hash(secret_key), "p": partner_id, "n": name,
                 "s": ",".join(sorted(chosen)), "t": now})
        return NewKey(PartnerKey(key_id, partner_id, name, chosen, now, None), secret_key)

    def revoke(self, key_id: str, now: datetime) -> bool:
        """True if the key was live and is now revoked."""
        with self._transaction(commit=True) as cursor:
            self._execute(
                cursor,
                "UPDATE {p}partner_key SET revoked_at = %(t)s WHERE key_id = %(k)s "
                "AND revoked_at IS NULL RETURNING key_id", {"k": key_id, "t": now})
            return bool(cursor.fetchall())

    def listing(self) -> list[PartnerKey]:
        return [_key(row) for row in self._select(
            "SELECT key_id, partner_id, name, scopes, created_at, revoked_at "
            "FROM {p}partner_key ORDER BY created_at, key_id")]

    def authenticate(self, presented: str) -> PartnerKey | None:
        """The live key ``presented`` is, or None (malformed, unknown, wrong or revoked)."""
        match = _KEY.fullmatch(presented)
        if match is None:  # nothing else reaches the database (PostgreSQL refuses NUL)
            return None
        rows = self._select(
            "SELECT key_id, key_hash, partner_id, name, scopes, created_at, revoked_at "
            "FROM {p}partner_key WHERE key_id = %(k)s", {"k": match.group(1)})
        if not rows or not hmac.compare_digest(_hash(presented), str(rows[0]["key_hash"])):
            return None
        key = _key(rows[0])
        return key if key.revoked_at is None else None


def _key(row: dict[str, Any]) -> PartnerKey:
    created = as_datetime(row["created_at"])
    assert created is not None
    return PartnerKey(
        key_id=str(row["key_id"]), partner_id=str(row["partner_id"]), name=str(row["name"]),
        scopes=frozenset(Scope(s) for s in str(row["scopes"]).split(",") if s),
        created_at=created, revoked_at=as_datetime(row["revoked_at"]))


class SQLitePartnerKeys(PartnerKeys, SQLiteAccess):
    datastore: SQLiteDatastore


class PostgresPartnerKeys(PartnerKeys, PostgresAccess):
    datastore: PostgresDatastore


def partner_keys_on(datastore: SQLiteDatastore | PostgresDatastore) -> PartnerKeys:
    """Keys on a datastore already open (the web app shares its staff accounts' pool)."""
    if isinstance(datastore, SQLiteDatastore):
        return SQLitePartnerKeys(datastore)
    return PostgresPartnerKeys(datastore)
