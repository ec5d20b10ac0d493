"""The deliverer as hoso runs it: the outbox of the store, the mail server of the settings,
and links to the public status page on ``HOSO_PUBLIC_URL``.

Built here, in the web layer, because the status link is the web app's address: the outbox
and the messages know a dossier, not where the site is served.
"""

from __future__ import annotations

import logging

from config.settings import Settings
from domain.application import HosoApplication
from notify.deliverer import Deliverer, DeliveryLoop
from notify.senders import SMTP_URL_ENV, smtp_sender
from projections.outbox import OutboxView
from projections.runners import ReadModels

log = logging.getLogger(__name__)

def public_link(public_url: str, token: str) -> str:
    """What the receipt's QR code and every message to the citizen open."""
    return f"{public_url.rstrip('/')}/t/{token}"


def deliverer(outbox: OutboxView, app: HosoApplication, settings: Settings) -> Deliverer:
    email = smtp_sender(settings)
    if email is None:
        log.warning("%s is not set: emails to citizens wait in the outbox until it is",
                    SMTP_URL_ENV)
    public_url = settings.public_url
    return Deliverer(
        outbox=outbox, email=email,
        status_link=lambda dossier_id: public_link(public_url, app.tracking_token(dossier_id)),
        directory=lambda: app.directory, clock=app.clock)


def delivery_loop(read_models: ReadModels, app: HosoApplication,
                  settings: Settings) -> DeliveryLoop:
    return DeliveryLoop(deliverer(read_models.outbox, app, settings),
                        interval=settings.delivery_seconds)
