"""What every read-model table needs from its store, written once for SQLite and PostgreSQL.

A read model is an eventsourcing tracking recorder: the rows it writes for an event and the
tracking record of that event commit in one transaction, so each event is applied exactly once.
Queries are written in PostgreSQL's ``%(name)s`` style with ``{p}`` before table names; the
SQLite flavour rewrites them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Protocol
from uuid import UUID

from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import (
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteTrackingRecorder,
    SQLiteTransaction,
)
from eventsourcing.utils import Environment

from projections.store import Store

Row = dict[str, Any]


class Cursor(Protocol):
    def execute(self, statement: Any, params: Any = ...) -> Any: ...
    def fetchall(self) -> Any: ...
    def fetchone(self) -> Any: ...
    def executemany(self, statement: Any, params_seq: Any) -> Any: ...


class SqlAccess:
    """Statements in one style for both stores; subclasses bind it to a library datastore."""

    def _sql(self, statement: str) -> str:
        raise NotImplementedError

    def _param(self, value: Any) -> Any:
        raise NotImplementedError

    @contextmanager
    def _transaction(self, *, commit: bool) -> Iterator[Cursor]:
        raise NotImplementedError
        yield

    def _execute(self, cursor: Cursor, statement: str, params: Mapping[str, Any] = {}) -> None:
        cursor.execute(self._sql(statement), {k: self._param(v) for k, v in params.items()})

    def _execute_many(self, cursor: Cursor, statement: str,
                      rows: Sequence[Mapping[str, Any]]) -> None:
        cursor.executemany(self._sql(statement),
                           [{k: self._param(v) for k, v in row.items()} for row in rows])

    def _select(self, statement: str, params: Mapping[str, Any] = {}) -> list[Row]:
        with self._transaction(commit=False) as cursor:
            self._execute(cursor, statement, params)
            return [dict(row) for row in cursor.fetchall()]


_NAMED_PARAM = re.compile(r"%\((\w+)\)s")


class SQLiteAccess(SqlAccess):
    datastore: SQLiteDatastore

    def _sql(self, statement: str) -> str:
        return _NAMED_PARAM.sub(r":\1", statement.replace("{p}", ""))

    def _param(self, value: Any) -> Any:
        if isinstance(value, datetime):
            # One offset for every stored time, so text order is time order.
            return value.astimezone(UTC).isoformat(timespec="microseconds")
        if isinstance(value, date | UUID):
            return str(value)
        return value

    @contextmanager
    def _transaction(self, *, commit: bool) -> Iterator[Cursor]:
        if not commit:
            with self.datastore.transaction(commit=False) as cursor:
                yield cursor
            return
        with (self.datastore.get_connection(commit=True) as connection,
              _WriteTransaction(connection, commit=True) as cursor, cursor):
            yield cursor


class _WriteTransaction(SQLiteTransaction):
    """A writing transaction that takes SQLite's write lock at BEGIN (``BEGIN IMMEDIATE``).

    The library's plain ``BEGIN`` takes it at the first write: a read model reading its rows
    and then writing, while the application committed an event in between, was refused at
    once ("database is locked": its snapshot is stale, so waiting cannot help). Taken up
    front, the lock is waited for (the busy timeout) and what is then read is current."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor


class PostgresAccess(SqlAccess):
    datastore: PostgresDatastore

    def _sql(self, statement: str) -> str:
        return statement.replace("{p}", f'"{self.datastore.schema}".')

    def _param(self, value: Any) -> Any:
        return str(value) if isinstance(value, UUID) else value

    @contextmanager
    def _transaction(self, *, commit: bool) -> Iterator[Cursor]:
        with self.datastore.transaction(commit=commit) as cursor:
            yield cursor


class ReadModel(SqlAccess, TrackingRecorder):
    """A read model's rows and its tracking record, written together."""

    tracking_name: ClassVar[str] = ""
    # Tables emptied by a rebuild, children first.
    tables: ClassVar[tuple[str, ...]] = ()
    # A record rather than a cache (the transparency log): never reset, never rebuilt.
    append_only: ClassVar[bool] = False

    @classmethod
    def on(cls, datastore: Any) -> ReadModel:
        """This read model on ``datastore``: a pool the process shares with its other read
        models (one pool per process and store, not one per read model)."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the view's connections: its own pool, or the pool it shares (then every
        read model on that pool is closed with it)."""
        self.datastore.close()  # type: ignore[attr-defined]

    def _track(self, cursor: Cursor, tracking: Tracking) -> None:
        batch = self._batch
        if getattr(batch, "cursor", None) is not cursor:
            self._insert_tracking(cursor, tracking)  # type: ignore[attr-defined]
            return
        # In a batch only the first position and the last are written: the first at once
        # (refused if already applied, and its row lock makes a concurrent batch wait, then
        # be refused), the last just before the commit. Positions in between only have to
        # increase, which is checked here: the same guarantee as one record per event, without
        # a round trip (and an update of the same row) per event.
        last: Tracking | None = batch.last
        if last is None:
            self._insert_tracking_in_batch(cursor, tracking)
        elif (tracking.application_name != last.application_name
              or tracking.notification_id <= last.notification_id):
            raise IntegrityError(f"Tracking {tracking.application_name} "
                                 f"{tracking.notification_id} out of order in a batch after "
                                 f"{last.application_name} {last.notification_id}")
        else:
            batch.unwritten = tracking
        batch.last = tracking

    @property
    def _batch(self) -> threading.local:
        if "_batch_local" not in self.__dict__:
            self.__dict__["_batch_local"] = threading.local()
        return self.__dict__["_batch_local"]  # type: ignore[no-any-return]

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Apply many events in one transaction (catching up, rebuilding).

        Rows and tracking records still commit together: a failure rolls back the whole
        batch, and the next attempt starts again from the last committed position.
        """
        batch = self._batch
        with self._transaction(commit=True) as cursor, self._pipeline(cursor):
            batch.cursor, batch.last, batch.unwritten = cursor, None, None
            try:
                yield
                if batch.unwritten is not None:
                    self._insert_tracking_in_batch(cursor, batch.unwritten)
            finally:
                batch.cursor = batch.last = batch.unwritten = None

    def _pipeline(self, cursor: Cursor) -> AbstractContextManager[Any]:
        """Statements of a batch sent without waiting for each one's answer, where the store
        can (errors then surface at the end of the batch, which rolls back as a whole)."""
        return nullcontext()

    def _insert_tracking_in_batch(self, cursor: Cursor, tracking: Tracking) -> None:
        self._insert_tracking(cursor, tracking)  # type: ignore[attr-defined]

    def _write(self, tracking: Tracking, *statements: tuple[str, Mapping[str, Any]]) -> None:
        cursor = getattr(self._batch, "cursor", None)
        if cursor is not None:
            self._apply(cursor, tracking, statements)
            return
        with self._transaction(commit=True) as cursor:
            self._apply(cursor, tracking, statements)

    def _apply(self, cursor: Cursor, tracking: Tracking,
               statements: tuple[tuple[str, Mapping[str, Any]], ...]) -> None:
        for statement, params in statements:
            self._execute(cursor, statement, params)
        self._track(cursor, tracking)

    def reset(self, application_name: str) -> None:
        """Forget every row and the position reached, so the next run rebuilds from zero."""
        with self._transaction(commit=True) as cursor:
            for table in self.tables:
                self._execute(cursor, f"DELETE FROM {{p}}{table}")
            self._execute(
                cursor,
                f"DELETE FROM {{p}}{self.tracking_name}_tracking WHERE application_name = %(a)s",
                {"a": application_name},
            )


@dataclass(frozen=True)
class SqlExpression:
    """A column value computed by the database from the row's current values."""

    sql: str


def row_delete(table: str, key: str, value: Any) -> tuple[str, dict[str, Any]]:
    return f"DELETE FROM {{p}}{table} WHERE {key} = %({key})s", {key: value}


def row_change(
    table: str, key: str, row: Mapping[str, Any], *, created: bool
) -> tuple[str, dict[str, Any]]:
    """An INSERT of a new row, or an UPDATE of the row whose ``key`` column matches."""
    params = {c: v for c, v in row.items() if not isinstance(v, SqlExpression)}
    if created:
        columns = ", ".join(row)
        values = ", ".join(f"%({c})s" for c in row)
        return f"INSERT INTO {{p}}{table} ({columns}) VALUES ({values})", params
    assignments = ", ".join(
        f"{c} = {v.sql}" if isinstance(v, SqlExpression) else f"{c} = %({c})s"
        for c, v in row.items()
        if c != key
    )
    return f"UPDATE {{p}}{table} SET {assignments} WHERE {key} = %({key})s", params


class SQLiteReadModel(ReadModel, SQLiteAccess, SQLiteTrackingRecorder):
    @classmethod
    def on(cls, datastore: Any) -> ReadModel:
        return cls(datastore=datastore)

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        # The library names SQLite's tracking table "tracking" for everyone; two read models
        # in one file would share a row, so each gets its own table.
        table = f"{self.tracking_name}_tracking"
        self.insert_tracking_statement = (
            f"INSERT INTO {table} VALUES (:application_name, :notification_id) "
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = :notification_id "
            f"WHERE {table}.notification_id < :notification_id RETURNING notification_id"
        )
        self.select_max_tracking_id_statement = (
            f"SELECT MAX(notification_id) FROM {table} WHERE application_name=?"
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {self.tracking_name}_tracking ("
            "application_name TEXT, notification_id INTEGER, "
            "PRIMARY KEY (application_name)) WITHOUT ROWID"
        ]


class PostgresReadModel(ReadModel, PostgresAccess, PostgresTrackingRecorder):
    @classmethod
    def on(cls, datastore: Any) -> ReadModel:
        # The table the library's factory would name after the read model's environment.
        return cls(datastore=datastore, tracking_table_name=f"{cls.tracking_name}_tracking")

    def _pipeline(self, cursor: Cursor) -> AbstractContextManager[Any]:
        # Inside the batch's transaction (BEGIN … COMMIT), so still one transaction. Nothing
        # in a batch may read a result back from the batch's own cursor: in pipeline mode a
        # cursor that ran several statements can still hold an earlier one's result when the
        # next fetch comes (psycopg fetches only when the cursor has no result yet).
        pipeline: AbstractContextManager[Any] = cursor.connection.pipeline()  # type: ignore[attr-defined]
        return pipeline

    def _insert_tracking_in_batch(self, cursor: Cursor, tracking: Tracking) -> None:
        # The library reads the upsert's RETURNING row: on a cursor of its own, which has no
        # earlier result to mistake for it (see _pipeline).
        with cursor.connection.cursor() as own:  # type: ignore[attr-defined]
            self._insert_tracking(own, tracking)  # type: ignore[attr-defined]


def as_date(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def as_datetime(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def open_datastore(store: Store, name: str) -> SQLiteDatastore | PostgresDatastore:
    """A datastore (its own connection pool) on ``store`` for hoso's own tables beside the
    read models: staff accounts, sessions, the key vault."""
    factory = InfrastructureFactory[Any].construct(Environment(name, store.eventsourcing_env()))
    datastore = factory.datastore  # type: ignore[attr-defined]
    assert isinstance(datastore, SQLiteDatastore | PostgresDatastore)
    return datastore
