"""Webhooks out, to a partner's server on this machine that checks every signature: signed,
retried until a 2xx, recorded; and the verifier a partner would use."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from domain.application import HosoApplication
from domain.webhooks import Subscription, new_secret
from notify.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    HttpPoster,
    signature,
    verify_signature,
)
from projections.outbox import Channel, Status
from projections.runners import ReadModels
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import APPLICANT, receive, url_of, wait_for, walk_to_delivered_by_post
from tests.notify_helpers import RecordingSender, deliverer

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Delivery:
    delivery_id: str
    verified: bool
    body: dict[str, Any]
    answered: int


@dataclass
class Partner:
    """A partner's receiver: checks the signature with its copy of the secret, answers the
    scripted statuses in turn (then 200), and keeps what it got. ``delay`` holds the answer
    back before the work is done; ``answer_after`` after (a partner that processed the
    delivery but whose answer never reached hoso)."""

    secret: str
    answers: list[int] = field(default_factory=list)
    delay: float = 0.0
    answer_after: float = 0.0
    deliveries: list[Delivery] = field(default_factory=list)
    url: str = ""

    def handle(self, headers: Any, raw: bytes) -> int:
        time.sleep(self.delay)
        verified = verify_signature(self.secret, headers.get(SIGNATURE_HEADER, ""), raw,
                                    now=time.time())
        answer = self.answers.pop(0) if self.answers else 200
        if not verified:
            answer = 401
        self.deliveries.append(Delivery(headers.get(DELIVERY_HEADER, ""), verified,
                                        json.loads(raw), answer))
        time.sleep(self.answer_after)
        return answer


@pytest.fixture
def partner() -> Iterator[Partner]:
    receiver = Partner(secret=new_secret())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            status = receiver.handle(self.headers, raw)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hoso/events"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def models(store: Store, app: HosoApplication) -> Iterator[ReadModels]:
    read_models = ReadModels(store, app)
    yield read_models
    read_models.close()


def subscribe(models: ReadModels, app: HosoApplication, partner: Partner,
              unit: str = "BUUDIEN") -> Subscription:
    subscription = Subscription.cleaned(
        partner_id="vnpost", url=partner.url, secret=partner.secret, unit_code=unit,
        procedure_code=None, directory=app.directory, created_at=app.clock())
    models.outbox.add_subscription(subscription)
    return subscription


def test_the_post_office_hears_of_what_it_carries(app: HosoApplication, models: ReadModels,
                                                  partner: Partner) -> None:
    subscribe(models, app, partner)
    dossier = receive(app).dossier_id
    walk_to_delivered_by_post(app, dossier)
    models.catch_up()
    assert deliverer(models, app, RecordingSender()).run_once().delivered == 2
    assert [(d.verified, d.answered, d.body["type"]) for d in partner.deliveries] == [
        (True, 200, "dossier.dispatched"), (True, 200, "dossier.delivered")]
    rows = [m for m in models.outbox.messages(dossier) if m.channel is Channel.WEBHOOK]
    assert [d.delivery_id for d in partner.deliveries] == [str(r.id) for r in rows]
    assert [d.body for d in partner.deliveries] == [json.loads(r.payload) for r in rows]
    code = app.dossier(dossier).code
    assert partner.deliveries[0].body["dossier"] == {
        "code": code, "procedure_code": "2.000488", "stage": "in_postal_transit",
        "holder_unit": "BUUDIEN", "due_date": app.dossier(dossier).due_date.isoformat(),
        "version": 9}
    sent = json.dumps([d.body for d in partner.deliveries], ensure_ascii=False)
    for private in [*APPLICANT.values(), app.dossier(dossier).tracking_token]:
        assert private not in sent
    assert {r.status for r in models.outbox.messages(dossier)} == {Status.DELIVERED}
    assert deliverer(models, app, RecordingSender()).run_once().attempted == 0


def test_a_failing_receiver_gets_the_same_delivery_until_it_answers_2xx(
        app: HosoApplication, models: ReadModels, partner: Partner, clock: FakeClock) -> None:
    subscribe(models, app, partner, unit="TTHCC")
    partner.answers = [500, 500, 200]
    dossier = receive(app).dossier_id
    models.catch_up()
    send = deliverer(models, app, RecordingSender())
    for expected in ("retried", "retried", "delivered"):
        done = send.run_once()
        assert getattr(done, expected) == 1
        [message] = models.outbox.messages(dossier)
        if expected == "retried":
            assert message.last_error == "WebhookRefused: HTTP 500"
            clock.advance(seconds=(message.next_attempt_at - clock()).total_seconds())
    assert (message.status, message.attempts) == (Status.DELIVERED, 3)
    assert [(d.delivery_id, d.verified, d.answered) for d in partner.deliveries] == [
        (str(message.id), True, 500), (str(message.id), True, 500),
        (str(message.id), True, 200)]


def test_a_slow_receiver_times_out_and_is_tried_again(app: HosoApplication,
                                                      models: ReadModels,
                                                      partner: Partner) -> None:
    from notify.deliverer import Deliverer

    subscribe(models, app, partner, unit="TTHCC")
    partner.delay = 1.5
    dossier = receive(app).dossier_id
    models.catch_up()
    send: Deliverer = deliverer(models, app, None, webhooks=HttpPoster(timeout=0.3))
    assert send.run_once().retried == 1
    [message] = models.outbox.messages(dossier)
    assert "timed out" in (message.last_error or "")
    assert message.status is Status.PENDING


def test_a_removed_subscription_is_sent_nothing_more(app: HosoApplication,
                                                     models: ReadModels, partner: Partner,
                                                     clock: FakeClock) -> None:
    subscription = subscribe(models, app, partner, unit="TTHCC")
    dossier = receive(app).dossier_id
    models.catch_up()
    clock.advance(minutes=1)
    assert models.outbox.remove_subscription(subscription.id, now=clock())
    assert not models.outbox.remove_subscription(subscription.id, now=clock())
    assert deliverer(models, app, None).run_once().failed == 1
    [message] = models.outbox.messages(dossier)
    assert (message.status, message.last_error) == (Status.FAILED,
                                                    "the subscription was removed")
    assert partner.deliveries == []


def test_a_deliverer_killed_before_recording_sends_again_with_the_same_id(
        store: Store, app: HosoApplication, models: ReadModels, partner: Partner,
        clock: FakeClock, tmp_path: Path) -> None:
    """A real `hoso deliver` process, SIGKILLed after the partner processed the delivery and
    before its answer arrived: hoso cannot know it was received, and sends it again after
    the lease — under the same Hoso-Delivery-Id, which the partner uses to drop the copy."""
    subscribe(models, app, partner, unit="TTHCC")
    dossier = receive(app).dossier_id
    models.catch_up()
    partner.answer_after = 30
    log = (tmp_path / "deliver.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "deliver", "--interval", "0.2"],
        cwd=ROOT, env=os.environ | {"HOSO_DATABASE_URL": url_of(store)}, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    try:
        assert wait_for(lambda: len(partner.deliveries) == 1, timeout=30), (
            tmp_path / "deliver.log").read_text()
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    [message] = models.outbox.messages(dossier)
    assert (message.status, message.attempts) == (Status.PENDING, 1)
    partner.answer_after = 0
    clock.now = datetime.now(UTC) + timedelta(minutes=11)  # the dead process's lease is over
    assert deliverer(models, app, None).run_once().delivered == 1
    first, second = partner.deliveries
    assert first.delivery_id == second.delivery_id == str(message.id)
    assert first.body == second.body and first.verified and second.verified
    [message] = models.outbox.messages(dossier)
    assert (message.status, message.attempts) == (Status.DELIVERED, 2)


def test_the_verifier_a_partner_uses() -> None:
    secret, body, now = new_secret(), b'{"id":"x","type":"dossier.signed"}', time.time()
    header = signature(secret, int(now), body)
    assert header.startswith(f"t={int(now)},v1=") and len(header.rpartition("=")[2]) == 64
    assert verify_signature(secret, header, body, now=now)
    assert not verify_signature(new_secret(), header, body, now=now)  # wrong secret
    assert not verify_signature(secret, header, body.replace(b"signed", b"rejected"), now=now)
    assert not verify_signature(secret, header, body, now=now + 301)  # a replay, later
    assert not verify_signature(secret, header, body, now=now - 301)
    assert verify_signature(secret, header, body, now=now + 299)
    rotated = f"{header},v1={'0' * 64}"  # a second signature, e.g. while secrets rotate
    assert verify_signature(secret, rotated, body, now=now)
    for malformed in ("", "v1=abc", f"t=abc,v1={header[-64:]}", f"t={int(now)}",
                      f"t={int(now)},t={int(now)},{header.split(',')[1]}"):
        assert not verify_signature(secret, malformed, body, now=now)
