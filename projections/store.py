"""Which store hoso uses: ``HOSO_DATABASE_URL`` mapped onto the eventsourcing settings.

``sqlite:///var/hoso.sqlite3`` (relative) or ``sqlite:////abs/path.sqlite3``;
``postgresql://user:password@host:5432/dbname`` with an optional ``?schema=name``.

``HOSO_READ_DATABASE_URL`` (optional, PostgreSQL only) names a read replica of that store:
the read models' page queries go there, while commands, the event store and the processes
that write the read models use ``HOSO_DATABASE_URL``.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

DEFAULT_DATABASE_URL = "sqlite:///var/hoso.sqlite3"


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class StoreConfigError(ValueError):
    pass


CIPHER_KEY_ENV = "HOSO_CIPHER_KEY"


def cipher_settings() -> dict[str, str]:
    """The library's AES-GCM cipher over every stored event's state, when HOSO_CIPHER_KEY
    holds a key (base64 of 16, 24 or 32 bytes: ``hoso cipher-key`` makes one).

    Events then rest encrypted, personal data included; topics, ids and versions stay clear
    (the projections select by topic). Set it before the first event: a store begun without a
    key cannot be read with one, nor the other way round (``check_cipher`` says so at start).
    """
    key = os.environ.get(CIPHER_KEY_ENV, "").strip()
    if not key:
        return {}
    try:
        length = len(base64.b64decode(key, validate=True))
    except ValueError:
        length = 0
    if length not in (16, 24, 32):
        raise StoreConfigError(f"{CIPHER_KEY_ENV} must be the base64 of a 16, 24 or 32-byte key")
    return {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher", "CIPHER_KEY": key}


@dataclass(frozen=True)
class Store:
    dialect: Dialect
    sqlite_path: Path | None = None
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""
    schema: str = "public"
    # Each pool opens this many connections up front and grows by up to ``max_overflow``
    # under load; a process has several pools (application, each read model, accounts).
    pool_size: int = 2
    max_overflow: int = 8

    @classmethod
    def from_url(cls, url: str) -> Store:
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            raw = unquote(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else ""
            if not raw:
                raise StoreConfigError(f"SQLite URL needs a file path: {url!r}")
            return cls(Dialect.SQLITE, sqlite_path=Path(raw))
        if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
            query = parse_qs(parts.query)
            dbname = parts.path.lstrip("/")
            if not dbname:
                raise StoreConfigError(f"PostgreSQL URL needs a database name: {url!r}")
            return cls(
                Dialect.POSTGRESQL,
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 5432,
                user=unquote(parts.username or "postgres"),
                password=unquote(parts.password or ""),
                dbname=dbname,
                schema=query.get("schema", ["public"])[0],
                pool_size=int(query.get("pool_size", ["2"])[0]),
                max_overflow=int(query.get("max_overflow", ["8"])[0]),
            )
        raise StoreConfigError(
            f"HOSO_DATABASE_URL must start with sqlite:/// or postgresql://, got {url!r}"
        )

    @classmethod
    def from_environment(cls) -> Store:
        return cls.from_url(os.environ.get("HOSO_DATABASE_URL") or DEFAULT_DATABASE_URL)

    @classmethod
    def read_replica_from_environment(cls, primary: Store) -> Store | None:
        """The store page queries read from (``HOSO_READ_DATABASE_URL``), or None to read
        from ``primary``."""
        url = os.environ.get("HOSO_READ_DATABASE_URL")
        if not url:
            return None
        replica = cls.from_url(url)
        if Dialect.SQLITE in (primary.dialect, replica.dialect):
            raise StoreConfigError(
                "HOSO_READ_DATABASE_URL needs PostgreSQL for both stores (a replica of "
                "HOSO_DATABASE_URL); SQLite has no read replicas: leave it unset")
        return replica

    def eventsourcing_env(self, *, create_tables: bool = False) -> dict[str, str]:
        """Settings for the library's infrastructure factory (application and views)."""
        env = {"CREATE_TABLE": "y" if create_tables else "n"} | cipher_settings()
        if self.dialect is Dialect.SQLITE:
            assert self.sqlite_path is not None
            env |= {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.sqlite_path),
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        else:
            env |= {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_HOST": self.host,
                "POSTGRES_PORT": str(self.port),
                "POSTGRES_USER": self.user,
                "POSTGRES_PASSWORD": self.password,
                "POSTGRES_DBNAME": self.dbname,
                "POSTGRES_SCHEMA": self.schema,
                "POSTGRES_POOL_SIZE": str(self.pool_size),
                "POSTGRES_MAX_OVERFLOW": str(self.max_overflow),
                # Also how long a request waits for a pooled connection. Shorter waits made
                # busy pools (pool_size=1 under a loaded machine) fail; the web tier's own
                # request deadline (web/security.py) answers 503 within 8 s anyway.
                "POSTGRES_CONNECT_TIMEOUT": "10",
                # Kept off on purpose: with DB functions on, subscriptions skipped events
                # under concurrent writers (see shared notes).
                "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            }
        return env

    def conninfo(self) -> str:
        """A libpq connection string (PostgreSQL only)."""
        return (
            f"host={self.host} port={self.port} user={self.user} dbname={self.dbname}"
            + (f" password={self.password}" if self.password else "")
        )

    def yoyo_url(self) -> str:
        if self.dialect is Dialect.SQLITE:
            assert self.sqlite_path is not None
            return f"sqlite:///{self.sqlite_path.resolve()}"
        auth = quote(self.user, safe="") + (
            ":" + quote(self.password, safe="") if self.password else ""
        )
        return (
            f"postgresql+psycopg://{auth}@{self.host}:{self.port}/{self.dbname}"
            f"?schema={self.schema}"
        )

    def describe(self) -> str:
        if self.dialect is Dialect.SQLITE:
            return f"SQLite {self.sqlite_path}"
        return f"PostgreSQL {self.host}:{self.port}/{self.dbname} (schema {self.schema})"
