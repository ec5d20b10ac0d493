"""Fixtures: a clean store per test, on SQLite and on PostgreSQL.

PostgreSQL comes from HOSO_TEST_POSTGRES_URL, else the server at 127.0.0.1:5432 (database
``test``), else a throwaway cluster started from the local PostgreSQL binaries. If none can be
had the PostgreSQL tests skip with the reason — except under CI=true, where that fails.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import hypothesis
import psycopg
import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from psycopg import sql
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.signing import MemoryKeyVault
from projections.migrate import migrate
from projections.store import Store
from web.accounts import StaffAccounts, open_accounts

DEFAULT_TEST_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"

# Property tests draw the same examples on every run and every machine (a seed derived from
# each test, no example database carried between runs): `make test` must not pass today and
# fail tomorrow on a draw. `make soak` explores with fresh random draws (HYPOTHESIS_PROFILE=
# explore) and keeps what failed in .hypothesis/ to replay it.
hypothesis.settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis.settings.register_profile("explore", derandomize=False)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


class FakeClock:
    """A settable clock, so tests decide what "now" is."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self.now += timedelta(**delta)
            return self.now


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(command)]


def _start_throwaway_cluster() -> tuple[str, Path] | None:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        return None
    bindir = Path(bins[-1]).parent
    datadir = Path(tempfile.mkdtemp(prefix="hoso-pg-"))
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres", "postgres")
    port = _free_port()
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(datadir), "-A", "trust",
                                 "-U", "postgres"]), check=True, capture_output=True)
    subprocess.run(_as_postgres([
        str(bindir / "pg_ctl"), "-D", str(datadir), "-w", "-l", str(datadir / "log"),
        "-o", f"'-p {port} -k {datadir} -c listen_addresses=127.0.0.1'", "start",
    ]), check=True, capture_output=True)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", datadir


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url = os.environ.get("HOSO_TEST_POSTGRES_URL")
    cluster: Path | None = None
    if not url:
        if _reachable(DEFAULT_TEST_POSTGRES):
            url = DEFAULT_TEST_POSTGRES
        else:
            started = None
            try:
                started = _start_throwaway_cluster()
            except (subprocess.CalledProcessError, OSError):
                started = None
            if started:
                url, cluster = started
    if not url or not _reachable(url):
        reason = "no PostgreSQL: set HOSO_TEST_POSTGRES_URL or start a server on 127.0.0.1:5432"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    yield url
    if cluster is not None:
        bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]).parent
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(cluster), "-m", "fast",
                                     "stop"]), capture_output=True)
        shutil.rmtree(cluster, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store of each kind."""
    if request.param == "sqlite":
        chosen = Store.from_url(f"sqlite:///{tmp_path / 'hoso.sqlite3'}")
        migrate(chosen)
        yield chosen
        return
    base = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid4().hex[:16]}"
    chosen = Store.from_url(f"{base}{'&' if '?' in base else '?'}schema={schema}&pool_size=1")
    migrate(chosen)
    yield chosen
    with psycopg.connect(chosen.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def clock() -> FakeClock:
    # A Monday morning in Ho Chi Minh City (02:00 UTC = 09:00 local).
    return FakeClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))


@pytest.fixture
def app(store: Store, clock: FakeClock) -> Iterator[HosoApplication]:
    application = HosoApplication(env=store.eventsourcing_env(), clock=clock,
                                  key_vault=MemoryKeyVault())
    yield application
    application.close()


@pytest.fixture
def accounts(store: Store) -> Iterator[StaffAccounts]:
    staff_accounts = open_accounts(store, hasher=PasswordHasher.from_parameters(CHEAPEST))
    yield staff_accounts
    staff_accounts.close()


PUBLIC_URL = {"HOSO_PUBLIC_URL": "https://hoso.example.vn"}


@pytest.fixture
def serve(store: Store, app: HosoApplication, accounts: StaffAccounts,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., TestClient]]:
    """The web app over the test store: ``serve("tiepnhan", "hctp", HOSO_X="1")`` sets those
    staff members' passwords (``web_helpers.PASSWORD``) and those settings, and starts it."""
    from tests.web_helpers import PASSWORD
    from web.app import create_app

    with ExitStack() as running:
        def start(*users: str, password: str = PASSWORD, **env: str) -> TestClient:
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            for user in users:
                accounts.set_password(user, password)
            return running.enter_context(TestClient(create_app(store, app, accounts)))

        yield start
