"""The deliverer as hoso runs it: the outbox of the store, the mail server of the settings,
and links to the public status page on ``HOSO_PUBLIC_URL``.

Built here, in the web layer, because the status link is the web app's address: the outbox
and the messages know a dossier, not where the site is served.
"""

from __future__ import annotations

import logging
import os

from domain.application import HosoApplication
from notify.deliverer import Deliverer, DeliveryLoop
from notify.senders import SMTP_URL_ENV, smtp_sender_from_environment
from projections.outbox import OutboxView
from projections.runners import ReadModels

log = logging.getLogger(__name__)

PUBLIC_URL_ENV = "HOSO_PUBLIC_URL"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
DELIVERY_SECONDS_ENV = "HOSO_DELIVERY_SECONDS"


def public_url_from_environment() -> str:
    return os.environ.get(PUBLIC_URL_ENV, DEFAULT_PUBLIC_URL)


def public_link(public_url: str, token: str) -> str:
    """What the receipt's QR code and every message to the citizen open."""
    return f"{public_url.rstrip('/')}/t/{token}"


def deliverer_from_environment(outbox: OutboxView, app: HosoApplication) -> Deliverer:
    email = smtp_sender_from_environment()
    if email is None:
        log.warning("%s is not set: emails to citizens wait in the outbox until it is",
                    SMTP_URL_ENV)
    public_url = public_url_from_environment()
    return Deliverer(
        outbox=outbox, email=email,
        status_link=lambda dossier_id: public_link(public_url, app.tracking_token(dossier_id)),
        directory=lambda: app.directory, clock=app.clock)


def delivery_loop_from_environment(read_models: ReadModels,
                                   app: HosoApplication) -> DeliveryLoop:
    interval = float(os.environ.get(DELIVERY_SECONDS_ENV, "5"))
    return DeliveryLoop(deliverer_from_environment(read_models.outbox, app), interval=interval)
