"""Database outage: PostgreSQL stopped abruptly (``pg_ctl stop -m immediate``: no goodbye to
any client) and started again, over and over, under load.

It runs on a PostgreSQL cluster of its own, made for the test, so stopping it troubles no
other test. Requests during the outage get the 503 "try again" page (never a 500, never a
hang), the server recovers by itself each time, and the clerks' retries — the same forms,
the same request keys — leave every acknowledged action recorded exactly once.
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from projections.migrate import migrate
from projections.store import Store
from tests.conftest import _as_postgres, _free_port, _start_throwaway_cluster
from tests.reliability.test_crash_mid_write import PASSWORD, SECONDS, Server, check, load
from web.accounts import open_accounts


class Cluster:
    def __init__(self) -> None:
        started = _start_throwaway_cluster()
        if started is None:
            pytest.skip("no PostgreSQL binaries to make a cluster of the test's own")
        self.url, self.datadir = started
        self.bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]).parent
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        self.outages = 0

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.datadir),
                                     "-w", "-l", str(self.datadir / "log"), *args]),
                       check=True, capture_output=True)

    def stop_abruptly(self) -> None:
        self._pg_ctl("-m", "immediate", "stop")
        self.outages += 1

    def start(self) -> None:
        self._pg_ctl("-o", f"'-p {self.port} -k {self.datadir} "
                           "-c listen_addresses=127.0.0.1'", "start")

    def remove(self) -> None:
        subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.datadir),
                                     "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(self.datadir, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    made = Cluster()
    try:
        yield made
    finally:
        made.remove()


@pytest.fixture
def served(cluster: Cluster, tmp_path: Path) -> Iterator[tuple[Store, Server]]:
    """`hoso serve` on the cluster, with two clerks' passwords set."""
    database_url = f"{cluster.url}?schema=hoso"
    store = Store.from_url(database_url)
    migrate(store)
    accounts = open_accounts(store)
    for user in ("tiepnhan", "hctp"):
        accounts.set_password(user, PASSWORD)
    accounts.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSO_")}
    env |= {"HOSO_DATABASE_URL": database_url, "HOSO_PUBLIC_URL": "https://hoso.example.vn",
            "PYTHONUNBUFFERED": "1"}
    server = Server(env, _free_port(), tmp_path / "serve.log")
    server.start()
    try:
        yield store, server
    finally:
        server.stop()


def test_outages_get_503_and_the_server_recovers_by_itself(
        cluster: Cluster, served: tuple[Store, Server]) -> None:
    store, server = served
    seen_503: list[str] = []

    def outage() -> None:
        cluster.stop_abruptly()
        # While it is down: a page in words, 503, quickly.
        started = time.monotonic()
        answer = httpx2.get(f"{server.base}/signin", timeout=20)
        if answer.status_code == 200:  # the sign-in page needs no database
            answer = httpx2.get(f"{server.base}/t/AAAAAAAAAAAAAAAAAAAAAA", timeout=20)
        assert time.monotonic() - started < 15, "a request hung during the outage"
        assert answer.status_code == 503, answer.text[:300]
        assert answer.headers["retry-after"]
        seen_503.append(answer.text)
        time.sleep(1.0)
        cluster.start()

    # Outages a few seconds apart: the clerks get work done between them.
    run, seconds = load(server.base, outage, pause=(2.0, 4.0), seconds=max(SECONDS, 30),
                        minimum_disturbances=2)
    # Recovered by itself: the log follower too (healthz checks it), within a few seconds.
    deadline = time.monotonic() + 30
    while httpx2.get(f"{server.base}/healthz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the server did not recover"
        time.sleep(0.2)
    server.stop()
    assert seen_503 and all("thử lại" in text for text in seen_503)
    figures = check(run, store, seconds, cluster.outages, minimum_disturbances=2)
    assert run.timeouts == 0, figures
    assert run.answers.get(503, 0) >= 1, figures
    print(f"\ndatabase outage (pg_ctl stop -m immediate, then start): {figures}")


def test_kills_and_outages_in_one_run(cluster: Cluster, served: tuple[Store, Server]) -> None:
    """The server SIGKILLed, PostgreSQL stopped abruptly, or both at once (the database first,
    so the server dies with writes failing), in a random order under load."""
    store, server = served
    rng = random.Random(11)
    chosen: Counter[str] = Counter()

    def disturb() -> None:
        what = rng.choice(("kill", "outage", "both"))
        chosen[what] += 1
        if what in ("outage", "both"):
            cluster.stop_abruptly()
        if what in ("kill", "both"):
            server.kill()
        if what in ("outage", "both"):
            time.sleep(rng.uniform(0.2, 1.5))
            cluster.start()
        if what in ("kill", "both"):
            server.start()  # waits for healthz: the store and the log follower answer

    run, seconds = load(server.base, disturb, pause=(1.0, 3.0), seconds=max(SECONDS, 30),
                        minimum_disturbances=4)
    server.stop()
    figures = check(run, store, seconds, server.kills + cluster.outages,
                    minimum_disturbances=4)
    assert run.timeouts == 0, figures
    assert chosen["both"] >= 1 or (chosen["kill"] >= 1 and chosen["outage"] >= 1), chosen
    print(f"\nkills and outages in one run ({dict(chosen)}; {server.kills} kills, "
          f"{cluster.outages} outages): {figures}")
