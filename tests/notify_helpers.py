"""Shared steps for the notification tests: a dossier walked through every notice, a sender
that records, and a deliverer on the test's clock."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from domain.application import HosoApplication, Outcome
from notify.deliverer import Deliverer, RetryPolicy
from notify.messages import Email
from notify.senders import Sender
from notify.webhooks import HttpPoster, Poster
from projections.runners import ReadModels
from tests.helpers import APPLICANT, PROCEDURE, hand_over, sign

EMAIL = "ngoc.tran@example.vn"
PUBLIC_URL = "https://hoso.example.vn"


def receive_with_email(app: HosoApplication, email: str = EMAIL) -> Outcome:
    return app.receive(actor_id="tiepnhan", procedure_code=PROCEDURE,
                       documents=["Tờ khai", "Bản chụp CCCD"], applicant_email=email,
                       **APPLICANT)


def walk_with_every_notice(app: HosoApplication, dossier_id: UUID) -> None:
    """Supplement requested and provided, deadline extended with an apology, signed, ready
    at the counter, handed over: four notices to the citizen."""
    app.request_supplement(dossier_id, expected_version=None, actor_id="tiepnhan",
                           missing_items=["Bản sao giấy khai sinh"],
                           reason="Thiếu giấy khai sinh")
    app.provide_supplement(dossier_id, expected_version=None, actor_id="tiepnhan",
                           documents=["Bản sao giấy khai sinh"])
    hand_over(app, dossier_id, "tiepnhan", "STP-HCTP", "hctp")
    app.extend(dossier_id, expected_version=None, actor_id="hctp",
               new_due_date=app.calendar.add_working_days(app.dossier(dossier_id).due_date, 3),
               reason="Cần xác minh thêm", apology="Chúng tôi thành thật xin lỗi ông/bà.")
    hand_over(app, dossier_id, "hctp", "STP-BGD", "gd.stp")
    sign(app, dossier_id)
    hand_over(app, dossier_id, "gd.stp", "TTHCC", "tiepnhan")
    app.dispatch(dossier_id, expected_version=None, actor_id="tiepnhan",
                 method="counter_pickup")
    app.deliver(dossier_id, expected_version=None, actor_id="tiepnhan",
                recipient_name="Trần Thị Bích Ngọc")


NOTICES = ["supplement_requested", "extended", "ready_for_pickup", "delivered"]


@dataclass
class RecordingSender:
    """A ``Sender`` that keeps what it was given; ``failing`` makes it raise instead."""

    sent: list[Email] = field(default_factory=list)
    failing: bool = False

    def send(self, email: Email) -> None:
        if self.failing:
            raise ConnectionRefusedError("the mail server is down")
        self.sent.append(email)


def deliverer(models: ReadModels, app: HosoApplication, email: Sender | None, *,
              webhooks: Poster | None = None, policy: RetryPolicy | None = None,
              unix_time: Callable[[], float] | None = None) -> Deliverer:
    """A deliverer on the application's (fake) clock, with a seeded jitter."""
    import time

    return Deliverer(
        outbox=models.outbox, email=email,
        status_link=lambda d: f"{PUBLIC_URL}/t/{app.tracking_token(d)}",
        directory=lambda: app.directory, clock=app.clock,
        webhooks=webhooks or HttpPoster(timeout=5), policy=policy or RetryPolicy(),
        rng=random.Random(8), unix_time=unix_time or time.time)
