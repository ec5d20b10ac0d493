"""Officers' sealed signing keys in the ``signing_key_vault`` table, beside the accounts.

Kept out of the event store on purpose: a revoked key is deleted for good, and the store's
copies (backups, replicas, the transparency log) never hold even a sealed private key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from projections.read_model import PostgresAccess, SqlAccess, SQLiteAccess, open_datastore
from projections.store import Store


class SqlKeyVault(SqlAccess):
    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore

    def close(self) -> None:
        self.datastore.close()

    def put(self, key_id: str, sealed: bytes) -> None:
        with self._transaction(commit=True) as cursor:
            self._execute(
                cursor,
                "INSERT INTO {p}signing_key_vault (key_id, sealed, created_at) "
                "VALUES (%(k)s, %(s)s, %(t)s)",
                {"k": key_id, "s": sealed.decode("utf-8"), "t": datetime.now(UTC)},
            )

    def get(self, key_id: str) -> bytes | None:
        rows = self._select(
            "SELECT sealed FROM {p}signing_key_vault WHERE key_id = %(k)s", {"k": key_id})
        return str(rows[0]["sealed"]).encode("utf-8") if rows else None

    def discard(self, key_id: str) -> None:
        with self._transaction(commit=True) as cursor:
            self._execute(cursor, "DELETE FROM {p}signing_key_vault WHERE key_id = %(k)s",
                          {"k": key_id})


class SQLiteKeyVault(SqlKeyVault, SQLiteAccess):
    datastore: SQLiteDatastore


class PostgresKeyVault(SqlKeyVault, PostgresAccess):
    datastore: PostgresDatastore


def open_key_vault(store: Store) -> SqlKeyVault:
    datastore = open_datastore(store, "key_vault")
    if isinstance(datastore, SQLiteDatastore):
        return SQLiteKeyVault(datastore)
    return PostgresKeyVault(datastore)
