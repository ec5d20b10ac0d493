"""Sending what the outbox owes: claim due messages, send, record delivered or failed.

A claim counts an attempt and leases the message (``lease``) in a transaction of its own;
the message is sent with no transaction open; then its outcome is recorded. A failed
attempt is due again after an exponential backoff with jitter (1 min, 2, 4 … capped at 1 h);
after ``max_attempts`` it is given up (``failed``) for an administrator to look at.

Exactly once is not possible across a network: if the process dies after the receiver
accepted a message and before "delivered" is recorded, the lease runs out and the message
is sent again — with the same ``Message-ID`` / ``Hoso-Delivery-Id``, so the receiver can
drop the copy. At least once, with a stable id for deduplication: that is the guarantee.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from domain.organisation import Directory
from notify.messages import compose_email
from notify.senders import PermanentFailure, Sender
from notify.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, HttpPoster, Poster, signature
from projections.outbox import Channel, OutboxMessage, OutboxView

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    first: timedelta = timedelta(minutes=1)
    longest: timedelta = timedelta(hours=1)
    max_attempts: int = 8  # 1+2+4+8+16+32+60 min of waits: about two and a half hours
    jitter: float = 0.2  # ± a fifth, so messages failed together do not retry together

    def retry_at(self, attempts: int, now: datetime, rng: random.Random) -> datetime | None:
        """When the next attempt is due after ``attempts`` failed ones; None to give up."""
        if attempts >= self.max_attempts:
            return None
        wait = min(self.first * 2 ** (attempts - 1), self.longest)
        return now + wait * rng.uniform(1 - self.jitter, 1 + self.jitter)


@dataclass
class Round:
    delivered: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        return self.delivered + self.retried + self.failed


@dataclass
class Deliverer:
    outbox: OutboxView
    email: Sender | None  # None: no mail server set; emails wait in the outbox
    status_link: Callable[[UUID], str]
    directory: Callable[[], Directory]
    clock: Callable[[], datetime]
    webhooks: Poster = field(default_factory=HttpPoster)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    rng: random.Random = field(default_factory=random.Random)
    # Longer than a batch can take to send (each send times out within 20 s).
    lease: timedelta = timedelta(minutes=10)
    batch: int = 10
    # Signature timestamps are for the receiver's clock: always the real time.
    unix_time: Callable[[], float] = time.time

    @property
    def channels(self) -> tuple[Channel, ...]:
        return (Channel.EMAIL, Channel.WEBHOOK) if self.email is not None else (
            Channel.WEBHOOK,)

    def run_once(self) -> Round:
        """Send every message due now; how it went."""
        done = Round()
        while claimed := self.outbox.claim(now=self.clock(), lease_until=self.clock()
                                           + self.lease, limit=self.batch,
                                           channels=self.channels):
            for message in claimed:
                self._attempt(message, done)
            if len(claimed) < self.batch:
                break
        return done

    def _attempt(self, message: OutboxMessage, done: Round) -> None:
        try:
            self._send(message)
        except PermanentFailure as error:
            self._failed(message, _without_address(f"{error}", message), None, done)
        except Exception as error:  # any failure to hand over: try again later
            retry_at = self.policy.retry_at(message.attempts, self.clock(), self.rng)
            self._failed(message, _without_address(f"{type(error).__name__}: {error}",
                                                   message), retry_at, done)
        else:
            self.outbox.record_delivered(message, now=self.clock())
            done.delivered += 1
            log.info("delivered %s %s for %s (attempt %s)", message.channel.value,
                     message.kind, message.code, message.attempts)

    def _failed(self, message: OutboxMessage, error: str, retry_at: datetime | None,
                done: Round) -> None:
        self.outbox.record_failure(message, error=error, retry_at=retry_at)
        if retry_at is None:
            done.failed += 1
            log.error("gave up %s %s for %s after %s attempts: %s", message.channel.value,
                      message.kind, message.code, message.attempts, error)
        else:
            done.retried += 1
            log.warning("could not deliver %s %s for %s (attempt %s, next at %s): %s",
                        message.channel.value, message.kind, message.code, message.attempts,
                        retry_at.isoformat(timespec="seconds"), error)

    def _send(self, message: OutboxMessage) -> None:
        if message.channel is Channel.EMAIL:
            assert self.email is not None
            self.email.send(compose_email(message, link=self.status_link(message.dossier_id),
                                          directory=self.directory()))
            return
        subscription = self.outbox.subscription(message.recipient)
        if subscription is None or subscription.removed_at is not None:
            raise PermanentFailure("the subscription was removed")
        body = message.payload.encode("utf-8")
        json.loads(body)  # stored by the outbox itself; a broken row is a bug, said loudly
        self.webhooks.post(subscription.url, body, {
            SIGNATURE_HEADER: signature(subscription.secret, int(self.unix_time()), body),
            DELIVERY_HEADER: str(message.id),
        })


def _without_address(error: str, message: OutboxMessage) -> str:
    """A mail server's refusal often quotes the address (``{'ngoc@…': (450, …)}``, ``550
    <ngoc@…> unknown``): the error goes to the log and the administrators' page, which
    need the reason, not the citizen's address."""
    if message.channel is not Channel.EMAIL:
        return error
    return re.sub(re.escape(message.recipient), "<applicant>", error, flags=re.IGNORECASE)


class DeliveryLoop:
    """A thread running ``Deliverer.run_once`` every ``interval`` seconds until stopped; a
    failed round (the database away) is logged and the next one tries again."""

    def __init__(self, deliverer: Deliverer, interval: float = 5.0) -> None:
        self.deliverer = deliverer
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="hoso-deliverer")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.deliverer.run_once()
            except Exception:
                log.exception("delivery round failed; the next one tries again")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)
