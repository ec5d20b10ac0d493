"""Scale-out: one follower per store, web processes that do not follow, a read replica, and
two real `hoso serve` processes beside one `hoso project` on one PostgreSQL schema."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

import cli
from config.settings import Settings
from domain.application import HosoApplication
from domain.transparency.checkpoint import NoteSigner, open_checkpoint
from projections.follow_lock import AlreadyFollowed, LogInUse
from projections.runners import ReadModels
from projections.store import Dialect, Store, StoreConfigError
from tests.conftest import _free_port
from tests.helpers import APPLICANT, PROCEDURE, receive, url_of
from tests.web_helpers import PASSWORD, sign_in_as
from web.accounts import StaffAccounts
from web.app import create_app_from_environment

ROOT = Path(__file__).resolve().parent.parent
SIGNER = NoteSigner.generate("hoso.local/log")


def poll(condition: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            return result
        time.sleep(0.05)
    return result


# ---- one follower per store ------------------------------------------------------------

def test_a_second_follower_is_refused(store: Store, app: HosoApplication) -> None:
    first, second = ReadModels(store, app), ReadModels(store, app)
    try:
        first.follow()
        with pytest.raises(AlreadyFollowed, match="one follower per store"):
            second.follow()
        # The refused one still reads, and waits on what the follower applies.
        outcome = receive(app)
        assert second.wait(outcome.notification_id, timeout=10)
        assert len(second.dossier_list.dossiers()) == 1
        # Nor may anyone rebuild while it follows; once it stops, another may follow.
        with pytest.raises(LogInUse):
            second.rebuild()
        first.stop()
        second.follow()
    finally:
        first.close()
        second.close()


def test_serve_refuses_what_cannot_work(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSO_DATABASE_URL", url_of(store))
    monkeypatch.delenv("HOSO_READ_DATABASE_URL", raising=False)
    monkeypatch.delenv("HOSO_FOLLOW", raising=False)
    started: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run",
                        lambda target, **kw: started.append(kw | {"app": target}))
    follows, leaves_it = "web.app:create_app_from_environment", "web.app:create_worker_app"
    if store.dialect is Dialect.SQLITE:
        with pytest.raises(SystemExit, match="SQLite serves from one process"):
            cli.main(["serve", "--workers", "2"])
        monkeypatch.setenv("HOSO_READ_DATABASE_URL", url_of(store))
        with pytest.raises(SystemExit, match="SQLite has no read replicas"):
            cli.main(["serve"])
        monkeypatch.delenv("HOSO_READ_DATABASE_URL")
    else:
        # Sessions live in the database: any worker knows a sign-in made on another.
        cli.main(["serve", "--workers", "3"])
        assert started[-1]["workers"] == 3 and started[-1]["app"] == leaves_it
    cli.main(["serve"])  # one process follows by itself …
    assert started[-1]["workers"] == 1 and started[-1]["app"] == follows
    cli.main(["serve", "--no-follow"])  # … unless told `hoso project` does
    assert started[-1]["app"] == leaves_it
    assert started[-1]["factory"] is True
    assert "HOSO_FOLLOW" not in os.environ  # the command line changes no setting
    assert all(kw["workers"] >= 1 for kw in started)
    assert len(started) == (3 if store.dialect is Dialect.POSTGRESQL else 2)


# ---- a read replica ----------------------------------------------------------------------

def test_pages_read_from_the_read_replica(store: Store, accounts: StaffAccounts,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    if store.dialect is not Dialect.POSTGRESQL:
        pytest.skip("SQLite has no read replicas")
    # No replica here: the same schema, told apart by its pool settings.
    monkeypatch.setenv("HOSO_DATABASE_URL", url_of(store, pool_size=1, max_overflow=8))
    monkeypatch.setenv("HOSO_READ_DATABASE_URL", url_of(store, pool_size=1, max_overflow=2))
    monkeypatch.setenv("HOSO_FOLLOW", "1")
    accounts.set_password("tiepnhan", PASSWORD)
    web = create_app_from_environment()
    models: ReadModels = web.state.services.read_models
    assert models.read_store is not None and models.read_store.max_overflow == 2

    def pool_max(view: Any) -> int:
        return int(view.datastore.pool.max_size)

    for name, view in models.read_views.items():
        # The transparency log is checked against the event store, and the outbox is read
        # by its own sender: both read on the primary.
        assert pool_max(view) == (9 if name in ("transparency_log", "outbox") else 3), name
    assert models.public_status is models.read_views["public_status"]
    waited_on: list[int] = []
    replica_queue = models.read_views["desk_queue"]
    checked = replica_queue.has_tracking_id

    def spy(application_name: str, notification_id: int) -> bool:
        waited_on.append(notification_id)
        return checked(application_name, notification_id)

    monkeypatch.setattr(replica_queue, "has_tracking_id", spy)
    with TestClient(web) as client:
        # The follower applies on the primary (pool max 9), and pages wait on the replica.
        assert all(pool_max(view) == 9 for view in models.views.values())
        sign_in_as(client, "tiepnhan", PASSWORD)
        response = client.post("/dossiers", data=receive_form())
        assert response.status_code == 200 and "Phiếu hẹn" in response.text
        assert waited_on, "wait() must look at the replica's tracking rows"
        code = re.search(r'<dd class="code">([^<]+)</dd>', response.text)
        assert code and code.group(1) in client.get("/queue").text


def test_a_read_replica_needs_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    primary = Store.from_url("postgresql://hoso@db/hoso")
    monkeypatch.delenv("HOSO_READ_DATABASE_URL", raising=False)
    assert Store.read_replica(Settings.from_environment(), primary) is None
    monkeypatch.setenv("HOSO_READ_DATABASE_URL", "postgresql://hoso@replica/hoso?schema=city")
    replica = Store.read_replica(Settings.from_environment(), primary)
    assert replica is not None and (replica.host, replica.schema) == ("replica", "city")
    monkeypatch.setenv("HOSO_READ_DATABASE_URL", "sqlite:///var/copy.sqlite3")
    with pytest.raises(StoreConfigError):
        Store.read_replica(Settings.from_environment(), primary)


# ---- real processes ---------------------------------------------------------------------

def receive_form() -> dict[str, Any]:
    return {"procedure_code": PROCEDURE, "channel": "counter",
            "documents": ["Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp", "Bản chụp CCCD"],
            **APPLICANT}


class Processes:
    """Real `hoso` processes, each in its own process group (uvicorn's workers included),
    all ended at teardown whatever happened."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        out = (self.logs / f"{name}.log").open("wb")
        self.started[name] = subprocess.Popen(
            [sys.executable, "-m", "cli", *args], cwd=ROOT, env=self.env,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def logs_text(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)[-3000:]}" for name in self.started)

    def stop(self, name: str, timeout: float = 10) -> int:
        process = self.started[name]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            return process.wait(5)

    def stop_all(self) -> None:
        for process in self.started.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name in self.started:
            self.stop(name)


@pytest.fixture
def processes(store: Store, tmp_path: Path) -> Iterator[Processes]:
    if store.dialect is not Dialect.POSTGRESQL:
        pytest.skip("several processes on one store: PostgreSQL (SQLite serves alone)")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HOSO_") and k not in ("PGAPPNAME",)}
    env |= {
        "HOSO_DATABASE_URL": url_of(store, pool_size=1),
        "HOSO_PUBLIC_URL": "https://hoso.example.vn",
        "HOSO_LOG_SIGNING_KEY": SIGNER.skey,
        "HOSO_CHECKPOINT_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    running = Processes(env, tmp_path)
    try:
        yield running
    finally:
        running.stop_all()


def signed_in(base: str, user: str) -> httpx2.Client:
    client = httpx2.Client(base_url=base, follow_redirects=True, timeout=10)
    sign_in_as(client, user, PASSWORD)
    return client


def test_two_web_processes_and_one_projector_share_one_store(
        processes: Processes, accounts: StaffAccounts) -> None:
    for user in ("tiepnhan", "hctp"):
        accounts.set_password(user, PASSWORD)
    port_a, port_b = _free_port(), _free_port()
    processes.start("web-a", "serve", "--port", str(port_a), "--no-follow")
    processes.start("web-b", "serve", "--port", str(port_b), "--workers", "2")
    processes.start("project", "project")
    a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"

    def up(base: str) -> bool:
        try:
            return httpx2.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx2.HTTPError:
            return False

    assert poll(lambda: up(a) and up(b), timeout=60), processes.logs_text()
    assert poll(lambda: "hoso project: following" in processes.log("project"), timeout=10), \
        processes.logs_text()

    # Received on A. Its wait() sees the projector's tracking rows: the list has it at once.
    clerk_a = signed_in(a, "tiepnhan")
    receipt = clerk_a.post("/dossiers", data=receive_form())
    assert receipt.status_code == 200 and "Phiếu hẹn" in receipt.text, receipt.text
    dossier_id = str(receipt.url).split("/")[-2]
    code = re.search(r'<dd class="code">([^<]+)</dd>', receipt.text)
    token = re.search(r"https://hoso\.example\.vn/t/([A-Za-z0-9_-]{22})", receipt.text)
    assert code and token
    assert code.group(1) in clerk_a.get("/dossiers").text
    assert "did not reach" not in processes.log("web-a")

    # Seen on B: the dossier page, the unit's queue, the citizen's page.
    clerk_b = signed_in(b, "tiepnhan")
    assert poll(lambda: code.group(1) in clerk_b.get("/queue").text), processes.logs_text()
    page = clerk_b.get(f"/dossiers/{dossier_id}")
    assert page.status_code == 200 and code.group(1) in page.text
    citizen_b = httpx2.Client(base_url=b, timeout=10)
    assert "Đã tiếp nhận" in citizen_b.get(f"/t/{token.group(1)}").text

    # Transferred on B (one of its two workers), seen on A by the receiving specialist.
    version = re.search(r'name="version" value="(\d+)"', page.text)
    assert version
    moved = clerk_b.post(f"/dossiers/{dossier_id}/transfer",
                         data={"version": version.group(1), "to_unit": "STP-HCTP"})
    assert moved.status_code == 200, moved.text
    specialist_a = signed_in(a, "hctp")
    assert poll(lambda: code.group(1) in specialist_a.get("/incoming").text), \
        processes.logs_text()
    assert "Đang giải quyết" in httpx2.get(f"{a}/t/{token.group(1)}", timeout=10).text

    # The projector, not the web processes, signs checkpoints of the log.
    def checkpoint_size() -> int:
        response = citizen_b.get("/log/checkpoint")
        if response.status_code != 200:
            return 0
        return open_checkpoint(response.text, SIGNER.verifier).size

    # Both events logged and signed, within a few of its 1-second rounds.
    assert poll(lambda: checkpoint_size() >= 2), processes.logs_text()
    for client in (clerk_a, clerk_b, citizen_b, specialist_a):
        client.close()

    # A clean stop on SIGTERM, saying where it stopped.
    assert processes.stop("project") == 0, processes.logs_text()
    project_log = processes.log("project")
    assert "resuming from the tracked positions" in project_log
    assert "SIGTERM received" in project_log and "hoso project stopped" in project_log
    for web in ("web-a", "web-b"):
        assert "Traceback" not in processes.log(web), processes.logs_text()
