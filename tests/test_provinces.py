"""Provinces that add up: two province stores feed one national statistics database through
PostgreSQL's logical replication (a publication of the review model's public columns in each
province, a subscription per province in the national database), and the public statistics
page served from the national database counts both.

It runs on a PostgreSQL cluster of its own, started with ``wal_level = logical`` (the shared
test server is not). The figures (replication delay, WAL a paused subscription keeps on its
province) are printed with ``-s`` and quoted in docs/operations.md.
"""

from __future__ import annotations

import csv
import glob
import io
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from starlette.testclient import TestClient

import cli
from domain.application import HosoApplication
from domain.signing import MemoryKeyVault
from projections.migrate import migrate
from projections.national import (
    prepare_national,
    publish_statistics,
    subscribe_province,
    subscription_lag,
)
from projections.runners import ReadModels
from projections.store import Store
from tests.conftest import FakeClock, _as_postgres, _free_port
from tests.helpers import hand_over, receive
from web.app import create_app


@pytest.fixture(scope="module")
def logical_cluster() -> Iterator[str]:
    """A cluster whose WAL carries logical changes; its base URL (no database)."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.skip("no PostgreSQL binaries to make a cluster with wal_level = logical")
    bindir = Path(bins[-1]).parent
    datadir = Path(tempfile.mkdtemp(prefix="hoso-provinces-"))
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres", "postgres")
    port = _free_port()
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(datadir), "-A", "trust",
                                 "-U", "postgres"]), check=True, capture_output=True)
    options = (f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1 -c wal_level=logical "
               "-c max_replication_slots=10 -c max_wal_senders=10 -c fsync=off")
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(datadir), "-w", "-l",
                                 str(datadir / "log"), "-o", f"'{options}'", "start"]),
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(datadir), "-m",
                                     "immediate", "stop"]), capture_output=True)
        shutil.rmtree(datadir, ignore_errors=True)


def _store(base: str, database: str) -> Store:
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    store = Store.from_url(f"{base}/{database}?schema=hoso&pool_size=1")
    migrate(store)
    return store


def _rows(store: Store) -> int:
    with psycopg.connect(store.conninfo()) as conn:
        row = conn.execute("SELECT count(*) FROM hoso.review_dossier").fetchone()
    return int(row[0]) if row else 0


def _until(condition: object, timeout: float = 60) -> float:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < timeout, "replication did not arrive"
        time.sleep(0.02)
    return time.monotonic() - started


class Province:
    def __init__(self, store: Store, clock: FakeClock) -> None:
        self.store = store
        self.app = HosoApplication(env=store.eventsourcing_env(), clock=clock,
                                   key_vault=MemoryKeyVault())
        self.models = ReadModels(store, self.app)

    def record(self, dossiers: int) -> None:
        for _ in range(dossiers):
            dossier = receive(self.app).dossier_id
            hand_over(self.app, dossier, "tiepnhan", "STP-HCTP", "hctp")
        self.models.catch_up()  # what the province's follower does

    def close(self) -> None:
        self.models.close()
        self.app.close()


def test_two_provinces_add_up_in_the_national_statistics(
        logical_cluster: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    north, south = (Province(_store(logical_cluster, name), clock)
                    for name in ("province_north", "province_south"))
    national = _store(logical_cluster, "national")
    try:
        prepare_national(national)
        north.record(3)  # before the subscriptions: copied when they start
        publish_statistics(north.store)
        subscribe_province(national, "north", north.store, same_cluster=True)
        # The same through the command an operator runs.
        south_url = f"{logical_cluster}/province_south?schema=hoso"
        monkeypatch.setenv("HOSO_DATABASE_URL", south_url)
        cli.main(["national", "publish"])
        monkeypatch.setenv("HOSO_DATABASE_URL", f"{logical_cluster}/national?schema=hoso")
        cli.main(["national", "subscribe", "south", south_url, "--same-cluster"])
        initial_copy = _until(lambda: _rows(national) == 3)
        south.record(2)
        _until(lambda: _rows(national) == 5)
        delays = []  # steady state: one dossier at a time, from its commit to the national row
        for expected in range(6, 11):
            north.record(1)
            delays.append(_until(lambda expected=expected: _rows(national) == expected))

        # A national outage: the provinces go on; their slots keep the WAL until it is back.
        with psycopg.connect(national.conninfo(), autocommit=True) as conn:
            conn.execute("ALTER SUBSCRIPTION hoso_national_south DISABLE")
        south.record(20)
        retained = subscription_lag(national)["hoso_national_south"]
        cli.main(["national", "lag"])
        assert "hoso_national_south: " in capsys.readouterr().out
        with psycopg.connect(national.conninfo(), autocommit=True) as conn:
            conn.execute("ALTER SUBSCRIPTION hoso_national_south ENABLE")
        caught_up = _until(lambda: _rows(national) == 30)

        # Nothing that could name a person left the provinces.
        with psycopg.connect(national.conninfo()) as conn:
            assert conn.execute("SELECT count(*) FROM hoso.review_dossier WHERE code IS NOT NULL"
                                " OR phone_hash IS NOT NULL OR result_by IS NOT NULL"
                                ).fetchone() == (0,)

        # The public statistics, served from the national database, count both provinces.
        with TestClient(create_app(national, follow=False)) as client:
            assert client.get("/stats").status_code == 200
            summary = client.get("/open-data/summary.csv")
            assert summary.status_code == 200
            received = sum(int(row["received"])
                           for row in csv.DictReader(io.StringIO(summary.text)))
        assert received == 30 == _rows(north.store) + _rows(south.store)
        with capsys.disabled():
            print(f"\nprovinces: initial copy of 3 rows {initial_copy:.2f} s; a new dossier "
                  f"reached the national database in {statistics.median(delays):.2f} s (median, "
                  f"worst {max(delays):.2f} s); 20 dossiers' WAL kept by a "
                  f"disabled subscription: {retained} bytes ({retained // 20} per dossier), "
                  f"caught up {caught_up:.2f} s after it was enabled")
    finally:
        north.close()
        south.close()
