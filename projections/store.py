"""Which store hoso uses: ``HOSO_DATABASE_URL`` mapped onto the eventsourcing settings.

``sqlite:///var/hoso.sqlite3`` (relative) or ``sqlite:////abs/path.sqlite3``;
``postgresql://user:password@host:5432/dbname`` with an optional ``?schema=name``.

A PostgreSQL primary with a standby names every node, as libpq does:
``postgresql://hoso@db1:5432,db2:5432/hoso?target_session_attrs=read-write``. Every
connection (each pool's, the follow lock's, the migrations') then tries the hosts in turn and
keeps the one that accepts writes, so after the failover tool promotes the standby the pools'
new connections land on it by themselves (docs/operations.md).

``HOSO_READ_DATABASE_URL`` (optional, PostgreSQL only) names a read replica of that store:
the read models' page queries go there, while commands, the event store and the processes
that write the read models use ``HOSO_DATABASE_URL``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from config.settings import Settings


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class StoreConfigError(ValueError):
    pass


CIPHER_KEY_ENV = "HOSO_CIPHER_KEY"


def cipher_settings(key: str | None) -> dict[str, str]:
    """The library's AES-GCM cipher over every stored event's state, when ``key``
    (HOSO_CIPHER_KEY) holds one (base64 of 16, 24 or 32 bytes: ``hoso cipher-key`` makes one).

    Events then rest encrypted, personal data included; topics, ids and versions stay clear
    (the projections select by topic). Set it before the first event: a store begun without a
    key cannot be read with one, nor the other way round (``check_cipher`` says so at start).
    """
    key = (key or "").strip()
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
    # The other nodes of a multi-host URL, after (host, port) above; and libpq's
    # target_session_attrs ("read-write": the primary, wherever it is now; "prefer-standby"
    # for a read replica URL naming several nodes).
    more_hosts: tuple[tuple[str, int], ...] = ()
    target_session_attrs: str = ""
    # What the stored events (and attached files, and the outbox's addresses) are sealed
    # with: part of what it takes to read this store (HOSO_CIPHER_KEY). Never printed.
    cipher_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str, *, cipher_key: str | None = None) -> Store:
        store = cls._parse_url(url)
        return replace(store, cipher_key=cipher_key) if cipher_key else store

    @classmethod
    def _parse_url(cls, url: str) -> Store:
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
            # urlsplit reads one host: a multi-host netloc ("a:5432,b:5433") is split here.
            userinfo, _, hostlist = parts.netloc.rpartition("@")
            user, _, password = userinfo.partition(":")
            hosts = [_host_and_port(item, url) for item in hostlist.split(",")]
            attrs = query.get("target_session_attrs", [""])[0]
            if attrs not in _SESSION_ATTRS:
                raise StoreConfigError(f"target_session_attrs must be one of "
                                       f"{', '.join(sorted(_SESSION_ATTRS - {''}))}: {url!r}")
            return cls(
                Dialect.POSTGRESQL,
                host=hosts[0][0],
                port=hosts[0][1],
                user=unquote(user or "postgres"),
                password=unquote(password),
                dbname=dbname,
                schema=query.get("schema", ["public"])[0],
                pool_size=int(query.get("pool_size", ["2"])[0]),
                max_overflow=int(query.get("max_overflow", ["8"])[0]),
                more_hosts=tuple(hosts[1:]),
                target_session_attrs=attrs,
            )
        raise StoreConfigError(
            f"HOSO_DATABASE_URL must start with sqlite:/// or postgresql://, got {url!r}"
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """HOSO_DATABASE_URL with HOSO_CIPHER_KEY; a malformed key is said here, at start."""
        store = cls.from_url(settings.database_url, cipher_key=settings.cipher_key)
        cipher_settings(store.cipher_key)
        return store

    @classmethod
    def read_replica(cls, settings: Settings, primary: Store) -> Store | None:
        """The store page queries read from (``HOSO_READ_DATABASE_URL``), or None to read
        from ``primary``."""
        url = settings.read_database_url
        if not url:
            return None
        replica = cls.from_url(url, cipher_key=primary.cipher_key)
        if Dialect.SQLITE in (primary.dialect, replica.dialect):
            raise StoreConfigError(
                "HOSO_READ_DATABASE_URL needs PostgreSQL for both stores (a replica of "
                "HOSO_DATABASE_URL); SQLite has no read replicas: leave it unset")
        return replica

    @property
    def hosts(self) -> tuple[tuple[str, int], ...]:
        return ((self.host, self.port), *self.more_hosts)

    @property
    def libpq_host(self) -> str:
        """libpq's ``host``: every node, comma-separated (one for a single server)."""
        return ",".join(host for host, _ in self.hosts)

    @property
    def libpq_port(self) -> str:
        return ",".join(str(port) for _, port in self.hosts)

    def on_node(self, host: str, port: int) -> Store:
        """The same store on one node only (for tools that take a single host: yoyo)."""
        return replace(self, host=host, port=port, more_hosts=(), target_session_attrs="")

    def eventsourcing_env(self, *, create_tables: bool = False) -> dict[str, str]:
        """Settings for the library's infrastructure factory (application and views)."""
        env = {"CREATE_TABLE": "y" if create_tables else "n"} | cipher_settings(self.cipher_key)
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
                "POSTGRES_HOST": self.libpq_host,
                "POSTGRES_PORT": self.libpq_port,
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
            if self.target_session_attrs:
                # The library passes no target_session_attrs to libpq: a factory of ours adds
                # it to every pool it makes. And each connection is checked as it leaves the
                # pool: after a failover the pooled ones all point at the dead node, and a
                # check costs one round trip where a dead connection costs the request.
                env |= {"PERSISTENCE_MODULE": "projections.postgres_nodes:MultiNodeFactory",
                        "POSTGRES_TARGET_SESSION_ATTRS": self.target_session_attrs,
                        "POSTGRES_PRE_PING": "y"}
        return env

    def conninfo(self) -> str:
        """A libpq connection string (PostgreSQL only)."""
        return (
            f"host={self.libpq_host} port={self.libpq_port} user={self.user} "
            f"dbname={self.dbname}"
            + (f" password={self.password}" if self.password else "")
            + (f" target_session_attrs={self.target_session_attrs} connect_timeout="
               f"{NODE_CONNECT_TIMEOUT}" if self.target_session_attrs else "")
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
        nodes = ",".join(f"{host}:{port}" for host, port in self.hosts)
        attrs = f", {self.target_session_attrs}" if self.target_session_attrs else ""
        return f"PostgreSQL {nodes}/{self.dbname} (schema {self.schema}{attrs})"


# libpq's session attributes hoso accepts in a URL ("" = not given: any node).
_SESSION_ATTRS = {"", "any", "read-write", "read-only", "primary", "standby", "prefer-standby"}
# Seconds libpq gives each node of a multi-host URL to answer before trying the next: a
# powered-off host answers nothing, and the next node must be tried well within a request.
NODE_CONNECT_TIMEOUT = 3


def _host_and_port(item: str, url: str) -> tuple[str, int]:
    host, port = item, ""
    if item.startswith("["):  # [::1]:5432
        host, _, rest = item[1:].partition("]")
        port = rest.removeprefix(":")
    elif ":" in item:
        host, _, port = item.rpartition(":")
    if port and not port.isdigit():
        raise StoreConfigError(f"PostgreSQL URL has a bad port {port!r}: {url!r}")
    return unquote(host) or "127.0.0.1", int(port or 5432)
