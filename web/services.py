"""What the handlers need, built once per process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from config.settings import Settings
from domain.application import HosoApplication
from domain.one_time_codes import CodeBook
from domain.organisation import Directory
from domain.promise import Promise, sign
from domain.working_days import HCMC
from notify.codes import CodeSender
from projections.checkpoints import TransparencyLog
from projections.runners import ReadModels
from web.accounts import StaffAccounts
from web.api.keys import PartnerKeys
from web.delivery import public_link
from web.rate_limit import RateLimit
from web.sessions import StaffSessions
from web.vnpay import VnpaySettings


@dataclass
class Services:
    app: HosoApplication
    read_models: ReadModels
    accounts: StaffAccounts
    sessions: StaffSessions
    public_url: str
    transparency: TransparencyLog
    partner_keys: PartnerKeys
    codes: CodeBook
    code_sender: CodeSender
    public_limit: RateLimit
    api_limit: RateLimit
    settings: Settings
    # The payment gateway (web/vnpay.py); None: online payment is not offered.
    vnpay: VnpaySettings | None
    # The agency's key for the promise in the receipt's QR (domain/promise.py); None: the QR
    # carries the link alone (PostgreSQL without HOSO_RECEIPT_SIGNING_KEY).
    receipt_key: Ed25519PrivateKey | None = None

    @property
    def directory(self) -> Directory:
        return self.app.directory

    @property
    def now(self) -> Callable[[], datetime]:
        return self.app.clock

    def today(self) -> date:
        return self.app.clock().astimezone(HCMC).date()

    def lookup_match(self, code: str, contact: str) -> str | None:
        """The tracking token of the dossier with this code whose applicant gave this email
        or phone; None otherwise (the caller never tells which)."""
        found = self.lookup_dossier(code, contact)
        return found[1] if found else None

    def lookup_dossier(self, code: str, contact: str) -> tuple[UUID, str] | None:
        """The dossier (its id and tracking token) with this code whose applicant gave this
        email or phone; None otherwise."""
        for row in self.read_models.dossier_list.dossiers(code=code, limit=5):
            if row.code.upper() == code.upper():
                token = self.app.token_for_contact(row.dossier_id, contact)
                return (row.dossier_id, token) if token else None
        return None

    def public_link(self, token: str) -> str:
        return public_link(self.public_url, token)

    @property
    def receipt_key_url(self) -> str | None:
        """Where the key checking the printed promises is published, if they are signed."""
        return None if self.receipt_key is None else f"{self.public_url.rstrip('/')}/receipt-key"

    def promise_link(self, token: str, promise: Promise) -> str:
        """What a printed form's QR code carries: the public link, with the signed promise as
        its fragment when the installation has a receipt key."""
        link = self.public_link(token)
        return link if self.receipt_key is None else f"{link}#{sign(promise, self.receipt_key)}"
