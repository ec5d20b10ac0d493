"""Failover on a real cluster: pg_auto_failover's monitor, a primary and a synchronous
standby (tests/reliability/failover_cluster.py), hoso on a multi-host URL
(``host=a,b target_session_attrs=read-write``). The primary's host is killed (SIGKILL of its
pg_autoctl and its postmaster), the monitor has the standby promoted, and hoso carries on by
itself: its pools' new connections find the new primary, the log follower resumes from its
tracked position there, pages answer 503 with Retry-After meanwhile, never 500.

``make test`` runs a short form (HOSO_FAILOVERS, default 2 failovers under load, one more
before); ``make soak`` a long one (12 under load). The figures are printed (run with ``-s``).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import httpx2
import psycopg
import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.transparency.checkpoint import NoteSigner
from projections.dossier_projection import DossierProjection
from projections.migrate import migrate
from projections.review import ReviewProjection
from projections.runners import ReadModels, open_checkpoints
from projections.store import Store
from tests.conftest import _free_port
from tests.helpers import receive
from tests.reliability.failover_cluster import AutoFailoverCluster
from tests.reliability.test_crash_mid_write import PASSWORD, ROOT, Server, check, load
from tests.web_helpers import sign_in_as
from web.accounts import open_accounts
from web.app import create_app

FAILOVERS = int(os.environ.get("HOSO_FAILOVERS", "2"))
CLIENTS = 6
SIGNER = NoteSigner.generate("hoso.local/log")


@pytest.fixture(scope="module")
def cluster() -> Iterator[AutoFailoverCluster]:
    made = AutoFailoverCluster()
    try:
        made.start()
        yield made
    finally:
        made.remove()


def _store(cluster: AutoFailoverCluster) -> Store:
    store = Store.from_url(cluster.url(f"t_{uuid4().hex[:12]}"))
    migrate(store)
    accounts = open_accounts(store, hasher=PasswordHasher.from_parameters(CHEAPEST))
    for user in ("tiepnhan", "hctp"):
        accounts.set_password(user, PASSWORD)
    accounts.close()
    return store


def _until(condition: object, what: str, timeout: float = 60) -> float:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def test_hoso_records_again_by_itself_after_the_standby_is_promoted(
        cluster: AutoFailoverCluster) -> None:
    store = _store(cluster)
    app = HosoApplication(env=store.eventsourcing_env())
    models = ReadModels(store, app)
    try:
        with TestClient(create_app(store, app)) as client:
            before = receive(app)
            assert models.wait(before.notification_id, timeout=30)
            token = app.tracking_token(before.dossier_id)
            assert client.get(f"/t/{token}").status_code == 200

            old = cluster.kill_primary()
            # No primary for a few seconds: the public page answers in words and asks to
            # come back (503, Retry-After), or waits and answers — never a 500.
            answers: Counter[int] = Counter()
            while True:
                page = client.get(f"/t/{token}")
                answers[page.status_code] += 1
                assert page.status_code in (200, 503), page.text[:500]
                if page.status_code == 503:
                    assert page.headers["retry-after"]
                    assert "thử lại" in page.text
                try:
                    after = receive(app)  # the same application object, not a new one
                    break
                except Exception:  # the store is away: hoso must recover by itself
                    time.sleep(0.1)
            recovered_in = time.monotonic() - cluster.killed_at

            # Nothing acknowledged before the kill was lost (the standby confirmed it).
            assert app.repository.get(before.dossier_id).version == 1
            # The log follower resumed on the new primary: the new dossier's page shows.
            assert models.wait(after.notification_id, timeout=30)
            assert client.get(f"/t/{app.tracking_token(after.dossier_id)}").status_code == 200
            _until(lambda: client.get("/healthz").status_code == 200, "healthz", 30)
            cluster.rejoin(old)
    finally:
        models.close()
        app.close()
    print(f"\nfailover (kill the primary's host): writes again after {recovered_in:.1f} s; "
          f"public page answers during the switch: {dict(answers)}")


def test_pages_read_the_standby_and_wait_for_its_replay(
        cluster: AutoFailoverCluster, caplog: pytest.LogCaptureFixture) -> None:
    """HOSO_READ_DATABASE_URL on the real standby: a page after a clerk's action shows the
    action (the wait reads the standby's own tracking rows); with the standby's replay paused,
    the lag outlasts the wait: logged, and the clerk still gets the answer, not an error."""
    store = _store(cluster)
    standby = cluster.node_in("secondary")
    read_store = Store.from_url(
        f"postgresql://postgres@127.0.0.1:{standby.port}/hoso?schema={store.schema}")
    app = HosoApplication(env=store.eventsourcing_env())
    models = ReadModels(store, app, read_store=read_store)
    try:
        with TestClient(create_app(store, app, read_store=read_store)) as client, \
                psycopg.connect(read_store.conninfo(), autocommit=True) as replica:
            assert replica.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
            sign_in_as(client, "tiepnhan", PASSWORD)
            dossier = receive(app)
            assert models.wait(dossier.notification_id, timeout=30)
            token = app.tracking_token(dossier.dossier_id)

            def transfer(version: int) -> None:
                answer = client.post(f"/dossiers/{dossier.dossier_id}/transfer", data={
                    "version": str(version), "request_key": uuid4().hex,
                    "to_unit": "STP-HCTP", "note": "Chuyển xử lý"}, follow_redirects=False)
                assert answer.status_code == 303, answer.text[:500]

            before = client.get(f"/t/{token}")
            assert before.status_code == 200
            assert "Phòng Hành chính tư pháp" not in before.text
            transfer(1)  # the page right after shows it: the wait read the standby's rows
            after = client.get(f"/t/{token}")
            assert "Phòng Hành chính tư pháp" in after.text, after.text
            # Accepted by the unit, then back to the counter: with replay paused the standby
            # lags beyond the wait, which is logged; the answer is still the clerk's 303.
            replica.execute("SELECT pg_wal_replay_pause()")
            try:
                caplog.clear()
                sign_in_as(client, "hctp", PASSWORD)
                answer = client.post(f"/dossiers/{dossier.dossier_id}/accept_transfer", data={
                    "version": "2", "request_key": uuid4().hex}, follow_redirects=False)
                assert answer.status_code == 303, answer.text[:500]
                assert any("did not reach" in r.getMessage() for r in caplog.records)
                assert client.get(f"/t/{token}").status_code == 200  # a page, stale
            finally:
                replica.execute("SELECT pg_wal_replay_resume()")
            assert models.wait(_last_dossier_event(app), timeout=30)  # replayed: caught up
            assert "Phòng Hành chính tư pháp" in client.get(f"/t/{token}").text
    finally:
        models.close()
        app.close()


def _last_dossier_event(app: HosoApplication) -> int:
    notifications = app.recorder.select_notifications(
        start=None, limit=1_000_000, topics=list(DossierProjection.topics))
    return notifications[-1].id if notifications else 0


def test_failover_under_load_loses_and_duplicates_nothing(
        cluster: AutoFailoverCluster, tmp_path: Path) -> None:
    """6 clerks recording through `hoso serve`; the primary killed at random moments."""
    store = _store(cluster)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSO_")}
    env |= {"HOSO_DATABASE_URL": cluster.url(store.schema),
            "HOSO_PUBLIC_URL": "https://hoso.example.vn", "HOSO_LOG_SIGNING_KEY": SIGNER.skey,
            "HOSO_CHECKPOINT_SECONDS": "1", "PYTHONUNBUFFERED": "1"}
    server = Server(env, _free_port(), tmp_path / "serve.log")
    server.start()
    checkpoints = open_checkpoints(store)
    rng = random.Random(22)
    kills: list[float] = []
    signed_before_first: list[int] = []
    signed_after_each: list[int] = []

    def fail_over_at_random_moments() -> None:
        _until(lambda: len(checkpoints.checkpoints()) >= 1, "a first checkpoint")
        signed_before_first.append(len(checkpoints.checkpoints()))
        for _ in range(FAILOVERS):
            time.sleep(rng.uniform(0.5, 3.0))
            old = cluster.kill_primary()
            kills.append(cluster.killed_at)
            cluster.wait_for_promotion(old)
            cluster.rejoin(old)
            count = len(checkpoints.checkpoints())
            # A checkpoint signed on the new primary after this failover.
            _until(lambda count=count: len(checkpoints.checkpoints()) > count,  # type: ignore[misc]
                   "a checkpoint after the failover")
            signed_after_each.append(len(checkpoints.checkpoints()))
        time.sleep(1.0)  # the clerks work on the last primary a little

    try:
        # One disturbance, 0.1 s in, which fails over FAILOVERS times at random moments.
        run, seconds = load(server.base, fail_over_at_random_moments, pause=(0.1, 0.1),
                            seconds=1.0, clients_count=CLIENTS, minimum_disturbances=1)
        # The follower in `hoso serve` resumed from its tracked position on each new primary
        # and caught up by itself (nothing here applies events before this check).
        app = HosoApplication(env=store.eventsourcing_env())
        models = ReadModels(store, app)
        try:
            last = _last_dossier_event(app)
            _until(lambda: (models.positions()[ReviewProjection.name] or 0) >= last,
                   "the served follower to catch up", 30)
        finally:
            models.close()
            app.close()
        assert httpx2.get(f"{server.base}/healthz", timeout=5).status_code == 200
    finally:
        server.stop()
        checkpoints.datastore.close()  # type: ignore[attr-defined]

    figures = check(run, store, seconds, len(kills), minimum_disturbances=FAILOVERS,
                    clients_count=CLIENTS)
    # Time to recover, per failover: from the kill to the first action acknowledged whose
    # request was sent after it.
    recoveries = [min(answered for sent, answered, status in run.answered
                      if status == 303 and sent >= killed) - killed for killed in kills]
    verified = subprocess.run([sys.executable, "-m", "cli", "verify"], cwd=ROOT,
                              env=env,
                              capture_output=True, text=True, timeout=300)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert ", 0 failed" in verified.stdout, verified.stdout
    assert signed_before_first[0] >= 1 and len(signed_after_each) == FAILOVERS
    promotions = cluster.failovers[-FAILOVERS:]
    print(f"\nfailover under load ({CLIENTS} clients, {FAILOVERS} failovers): {figures}; "
          f"standby writable after the kill: median {statistics.median(promotions):.1f} s, "
          f"worst {max(promotions):.1f} s; clerks recording again: median "
          f"{statistics.median(recoveries):.1f} s, worst {max(recoveries):.1f} s; "
          f"{verified.stdout.strip().splitlines()[-1]}")
