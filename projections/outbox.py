"""The outbox: every message owed to a citizen or a partner, written from the event log.

For each dossier event worth telling, one row per recipient — the applicant's email address
(remembered from the receipt) and each partner subscription matching the dossier — written
in the same transaction as the event's tracking record. So a message is never lost (the
event cannot be tracked without its rows) and never written twice (the event cannot be
tracked twice). Sending is a separate step (``notify/deliverer.py``) that claims due rows.

The outbox is a record, not a cache: like the transparency log, ``hoso rebuild`` never
empties it — a rebuild would otherwise owe, and send, every message again — and only lets
it catch up on events it has not seen.

Rows hold no more personal data than sending needs: the address, the dossier's code and the
facts of the message. Never the applicant's name, phone or identity number, nor the
tracking token (the deliverer reads it from the event store when it writes the link).
The address rests encrypted with the events' own key (``HOSO_CIPHER_KEY``, AES-GCM; in
clear only where the events are too, without a key), and is dropped once nothing more is
owed: from the dossier's row when its last step (delivered, withdrawn) is recorded, from a
message's row when it is delivered.
"""

from __future__ import annotations

import base64
import json
import re
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import singledispatch
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import Tracking
from eventsourcing.utils import Environment

from domain.dossier import MAX_DELIVERY_ATTEMPTS, DispatchMethod, Dossier
from domain.webhooks import Subscription
from projections.changes import common_changes
from projections.dossier_projection import DossierProjection
from projections.read_model import (
    Cursor,
    PostgresReadModel,
    ReadModel,
    Row,
    SQLiteReadModel,
    as_datetime,
    row_change,
)
from projections.store import cipher_settings


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class Status(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Notice(StrEnum):
    """What the applicant is told by email."""

    RECEIVED_ONLINE = "received_online"  # the counter received an online submission: receipt
    NOT_RECEIVED = "not_received"  # the counter refused to receive it, with reasons (form 03)
    SUPPLEMENT_REQUESTED = "supplement_requested"
    EXTENDED = "extended"  # the due date moved, with the apology
    READY_FOR_PICKUP = "ready_for_pickup"  # the result (or refusal letter) is at the counter
    DISPATCHED = "dispatched"  # sent by post
    READY_ONLINE = "ready_online"  # the electronic result awaits the citizen's download
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"  # the post will try again, or take it back
    DELIVERY_REDIRECTED = "delivery_redirected"  # the citizen's new choice, confirmed
    RETURNED_TO_COUNTER = "returned_to_counter"  # the result waits at the counter


_MESSAGE_NAMESPACE = uuid5(NAMESPACE_URL, "https://hoso.example/outbox-message")


SEALED = "aesgcm:"


class AddressSeal:
    """The applicant's email address at rest: sealed with HOSO_CIPHER_KEY (a fresh nonce each
    time), opened for sending. Without a key it stays as given, like the events themselves."""

    def __init__(self, settings: dict[str, str]) -> None:
        self._cipher = AESCipher(Environment(env=settings)) if settings else None

    def seal(self, address: str) -> str:
        if self._cipher is None or address.startswith(SEALED):
            return address
        return SEALED + base64.b64encode(self._cipher.encrypt(address.encode())).decode()

    def open(self, stored: str | None) -> str | None:
        if stored is None or not stored.startswith(SEALED):
            return stored  # no key, dropped (""), or written before addresses were sealed
        if self._cipher is None:
            raise RuntimeError("the outbox holds sealed addresses: set HOSO_CIPHER_KEY")
        return self._cipher.decrypt(base64.b64decode(stored[len(SEALED):])).decode()


# A dossier's last steps: after them no email is owed but the one they send.
_FINAL = (Dossier.Delivered, Dossier.Withdrawn)


def message_id(dossier_id: UUID, version: int, channel: Channel, recipient: str) -> UUID:
    """The same event and recipient always name the same message: its Message-ID or
    Hoso-Delivery-Id, which lets a receiver drop a copy sent again after a crash."""
    return uuid5(_MESSAGE_NAMESPACE, f"{dossier_id}/{version}/{channel.value}/{recipient}")


@dataclass(frozen=True)
class OutboxMessage:
    id: UUID
    position: int
    dossier_id: UUID
    version: int
    code: str
    channel: Channel
    recipient: str
    kind: str
    payload: str
    status: Status
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime

    @property
    def facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = json.loads(self.payload)
        return facts


def _message(row: Row, seal: AddressSeal) -> OutboxMessage:
    next_attempt_at, created_at = as_datetime(row["next_attempt_at"]), as_datetime(
        row["created_at"])
    assert next_attempt_at is not None and created_at is not None
    return OutboxMessage(
        id=UUID(str(row["id"])), position=int(row["position"]),
        dossier_id=UUID(str(row["dossier_id"])), version=int(row["version"]), code=row["code"],
        channel=Channel(row["channel"]), recipient=seal.open(row["recipient"]) or "",
        kind=row["kind"],
        payload=row["payload"], status=Status(row["status"]), attempts=int(row["attempts"]),
        next_attempt_at=next_attempt_at, last_error=row["last_error"],
        last_attempt_at=as_datetime(row["last_attempt_at"]),
        delivered_at=as_datetime(row["delivered_at"]), created_at=created_at)


def _subscription(row: Row) -> Subscription:
    created_at = as_datetime(row["created_at"])
    assert created_at is not None
    return Subscription(id=row["id"], partner_id=row["partner_id"], url=row["url"],
                        secret=row["secret"], unit_code=row["unit_code"],
                        procedure_code=row["procedure_code"], created_at=created_at,
                        removed_at=as_datetime(row["removed_at"]))


@dataclass(frozen=True)
class StatusCount:
    channel: str
    status: str
    count: int


def webhook_type(e: Dossier.Event) -> str:
    """``dossier.transfer_accepted`` for ``TransferAccepted``."""
    return "dossier." + re.sub(r"(?<!^)(?=[A-Z])", "_", type(e).__name__).lower()


class OutboxView(ReadModel):
    tracking_name = "outbox"
    # Nothing for a rebuild to empty: emptied, the outbox would be filled and sent again.
    tables = ()
    append_only = True
    _skip_locked: ClassVar[str] = ""

    def reset(self, application_name: str) -> None:
        raise RuntimeError("the outbox is a record of messages owed and sent; never rebuilt")

    # The store's cipher key (HOSO_CIPHER_KEY), given by ``open_view``.
    cipher_key: str | None = None

    @property
    def seal(self) -> AddressSeal:
        if not hasattr(self, "_address_seal"):
            self._address_seal = AddressSeal(cipher_settings(self.cipher_key))
        return self._address_seal

    def seal_clear_addresses(self) -> int:
        """Seal the addresses written in clear before they were sealed (``hoso migrate``
        does, when HOSO_CIPHER_KEY is set); how many."""
        if self.seal.seal("x") == "x":
            return 0
        sealed = 0
        with self._transaction(commit=True) as cursor:
            for table, key, column in (("outbox_dossier", "dossier_id", "email"),
                                       ("outbox_message", "id", "recipient")):
                only_email = " AND channel = 'email'" if table == "outbox_message" else ""
                self._execute(cursor, f"SELECT {key} AS k, {column} AS v FROM {{p}}{table} "
                              f"WHERE {column} IS NOT NULL AND {column} <> '' AND {column} "
                              f"NOT LIKE %(sealed)s{only_email}", {"sealed": SEALED + "%"})
                rows = [(r["k"], r["v"]) for r in cursor.fetchall()]
                for row_key, value in rows:
                    self._execute(cursor, f"UPDATE {{p}}{table} SET {column} = %(v)s "
                                  f"WHERE {key} = %(k)s", {"v": self.seal.seal(value),
                                                            "k": row_key})
                sealed += len(rows)
        return sealed

    def _pipeline(self, cursor: Cursor) -> AbstractContextManager[Any]:
        # Never pipelined: applying an event reads back the dossier's row and the matching
        # subscriptions in its own transaction.
        return nullcontext()

    # ---- applying events ---------------------------------------------------------------

    def record(self, e: Dossier.Event, tracking: Tracking) -> None:
        cursor = getattr(self._batch, "cursor", None)
        if cursor is not None:
            self._record(cursor, e, tracking)
            return
        with self._transaction(commit=True) as cursor:
            self._record(cursor, e, tracking)

    def _record(self, cursor: Cursor, e: Dossier.Event, tracking: Tracking) -> None:
        dossier_id = e.originator_id
        row: dict[str, Any] = {"dossier_id": dossier_id, "version": e.originator_version,
                               "updated_at": e.occurred_at} | common_changes(e)
        if isinstance(e, Dossier.Received):
            email = e.applicant.get("email") or None
            row |= {"code": e.code, "receiving_unit": e.receiving_unit,
                    "email": self.seal.seal(email) if email else None}
        statement, params = row_change("outbox_dossier", "dossier_id", row,
                                       created=isinstance(e, Dossier.Received))
        # The row as this event leaves it, in the same round trip.
        self._execute(cursor, statement + " RETURNING code, email, procedure_code, stage, "
                      "holder_unit, due_date", params)
        dossier = cursor.fetchone()
        if dossier is not None:
            dossier = dict(dossier) | {"email": self.seal.open(dossier["email"])}
        for unit in sorted(_units_reached(e)):
            self._execute(cursor, "INSERT INTO {p}outbox_dossier_unit (dossier_id, unit_code) "
                          "VALUES (%(d)s, %(u)s) ON CONFLICT DO NOTHING",
                          {"d": dossier_id, "u": unit})
        if dossier is not None:
            messages = self._email(e, tracking, dict(dossier)) + self._webhooks(
                cursor, e, tracking, dict(dossier))
            if messages:
                self._execute_many(
                    cursor,
                    "INSERT INTO {p}outbox_message (id, position, dossier_id, version, code, "
                    "channel, recipient, kind, payload, status, attempts, next_attempt_at, "
                    "created_at) VALUES (%(id)s, %(position)s, %(dossier_id)s, %(version)s, "
                    "%(code)s, %(channel)s, %(recipient)s, %(kind)s, %(payload)s, 'pending', "
                    "0, %(created_at)s, %(created_at)s)",
                    messages)
        if isinstance(e, _FINAL):
            # The last email owed is in its message row now: the dossier's copy goes.
            self._execute(cursor, "UPDATE {p}outbox_dossier SET email = NULL "
                          "WHERE dossier_id = %(d)s", {"d": dossier_id})
        self._track(cursor, tracking)

    def _base(self, e: Dossier.Event, tracking: Tracking, dossier: Row, channel: Channel,
              recipient: str) -> dict[str, Any]:
        return {"id": message_id(e.originator_id, e.originator_version, channel, recipient),
                "position": tracking.notification_id, "dossier_id": e.originator_id,
                "version": e.originator_version, "code": dossier["code"],
                "channel": channel.value, "recipient": recipient,
                # Due at once: the event's recording time.
                "created_at": e.timestamp}

    def _email(self, e: Dossier.Event, tracking: Tracking, dossier: Row) -> list[Row]:
        notice = _notice(e)
        if notice is None or not dossier["email"]:
            return []
        facts = {"procedure_code": dossier["procedure_code"],
                 "occurred_at": e.occurred_at.isoformat()} | _notice_facts(e)
        return [self._base(e, tracking, dossier, Channel.EMAIL, dossier["email"]) | {
            "recipient": self.seal.seal(dossier["email"]), "kind": notice.value,
            "payload": json.dumps(facts, ensure_ascii=False, sort_keys=True)}]

    def _webhooks(self, cursor: Cursor, e: Dossier.Event, tracking: Tracking,
                  dossier: Row) -> list[Row]:
        if isinstance(e, Dossier.Rated):
            return []  # the citizen's word about the service, not a status change
        self._execute(
            cursor,
            "SELECT id FROM {p}webhook_subscription s WHERE s.removed_at IS NULL "
            "AND s.created_at <= %(recorded)s "
            "AND (s.procedure_code IS NULL OR s.procedure_code = %(procedure)s) "
            "AND (s.unit_code IS NULL OR s.unit_code IN (SELECT unit_code FROM "
            "{p}outbox_dossier_unit WHERE dossier_id = %(d)s)) ORDER BY id",
            {"recorded": e.timestamp, "procedure": dossier["procedure_code"],
             "d": e.originator_id})
        rows = []
        for subscription_id in [str(r["id"]) for r in cursor.fetchall()]:
            base = self._base(e, tracking, dossier, Channel.WEBHOOK, subscription_id)
            due = dossier["due_date"]
            body = {
                "id": str(base["id"]), "type": webhook_type(e),
                "occurred_at": e.occurred_at.isoformat(),
                # Public facts only: what the citizen's own status page shows, by code.
                "dossier": {"code": dossier["code"],
                            "procedure_code": dossier["procedure_code"],
                            "stage": dossier["stage"], "holder_unit": dossier["holder_unit"],
                            "due_date": due if isinstance(due, str) else due.isoformat(),
                            "version": e.originator_version},
            }
            if facts := _webhook_facts(e):
                body["facts"] = facts
            # Serialised once, here: every retry sends the same bytes under the same id.
            rows.append(base | {"kind": body["type"], "payload": json.dumps(
                body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))})
        return rows

    # ---- delivering --------------------------------------------------------------------

    def claim(self, *, now: datetime, lease_until: datetime, limit: int,
              channels: tuple[Channel, ...] = tuple(Channel)) -> list[OutboxMessage]:
        """Take up to ``limit`` due messages for sending: each counts an attempt and is not
        due again before ``lease_until``, so no other deliverer takes it meanwhile — nor
        this one after a crash, until the lease is over (then it is sent again, with the
        same id). Committed at once: no transaction stays open while a message is sent."""
        # Fixed names from the enum, never input.
        among = ", ".join(f"'{Channel(c).value}'" for c in channels)
        with self._transaction(commit=True) as cursor:
            self._execute(
                cursor,
                "UPDATE {p}outbox_message SET attempts = attempts + 1, "
                "last_attempt_at = %(now)s, next_attempt_at = %(lease)s WHERE id IN ("
                "SELECT id FROM {p}outbox_message WHERE status = 'pending' AND "
                f"channel IN ({among}) AND "
                "next_attempt_at <= %(now)s ORDER BY next_attempt_at, position "
                f"LIMIT %(limit)s{self._skip_locked}) RETURNING *",
                {"now": now, "lease": lease_until, "limit": limit})
            claimed = [_message(dict(r), self.seal) for r in cursor.fetchall()]
        return sorted(claimed, key=lambda m: (m.position, m.recipient))

    def record_delivered(self, message: OutboxMessage, *, now: datetime) -> None:
        with self._transaction(commit=True) as cursor:
            # Nothing more is owed to this address for this message: it is dropped.
            self._execute(cursor, "UPDATE {p}outbox_message SET status = 'delivered', "
                          "delivered_at = %(now)s, recipient = CASE WHEN channel = 'email' "
                          "THEN '' ELSE recipient END WHERE id = %(id)s AND "
                          "status = 'pending'",
                          {"now": now, "id": message.id})

    def record_failure(self, message: OutboxMessage, *, error: str,
                       retry_at: datetime | None) -> None:
        """Due again at ``retry_at``, or given up (``failed``) when None."""
        with self._transaction(commit=True) as cursor:
            if retry_at is None:
                self._execute(cursor, "UPDATE {p}outbox_message SET status = 'failed', "
                              "last_error = %(error)s WHERE id = %(id)s AND status = 'pending'",
                              {"error": error[:1000], "id": message.id})
            else:
                self._execute(cursor, "UPDATE {p}outbox_message SET next_attempt_at = "
                              "%(at)s, last_error = %(error)s WHERE id = %(id)s AND "
                              "status = 'pending'",
                              {"at": retry_at, "error": error[:1000], "id": message.id})

    def retry_failed(self, *, now: datetime) -> int:
        """Give every message given up a fresh round of attempts (after a mail server was
        down longer than the retries last); how many. Their last error stays until then."""
        with self._transaction(commit=True) as cursor:
            self._execute(cursor, "UPDATE {p}outbox_message SET status = 'pending', "
                          "attempts = 0, next_attempt_at = %(now)s WHERE status = 'failed' "
                          "RETURNING id", {"now": now})
            return len(cursor.fetchall())

    # ---- reading -----------------------------------------------------------------------

    def messages(self, dossier_id: UUID | None = None) -> list[OutboxMessage]:
        where = "WHERE dossier_id = %(d)s " if dossier_id is not None else ""
        rows = self._select(f"SELECT * FROM {{p}}outbox_message {where}"
                            "ORDER BY position, channel, recipient", {"d": dossier_id})
        return [_message(r, self.seal) for r in rows]

    def counts(self) -> list[StatusCount]:
        rows = self._select("SELECT channel, status, count(*) AS n FROM {p}outbox_message "
                            "GROUP BY channel, status ORDER BY channel, status")
        return [StatusCount(r["channel"], r["status"], int(r["n"])) for r in rows]

    def problems(self, limit: int = 20) -> list[OutboxMessage]:
        """Messages given up, and those being retried, latest attempt first."""
        rows = self._select(
            "SELECT * FROM {p}outbox_message WHERE status <> 'delivered' AND last_error IS "
            "NOT NULL ORDER BY last_attempt_at DESC, position DESC LIMIT %(limit)s",
            {"limit": limit})
        return [_message(r, self.seal) for r in rows]

    # ---- partners' subscriptions --------------------------------------------------------

    def add_subscription(self, subscription: Subscription) -> None:
        with self._transaction(commit=True) as cursor:
            self._execute(
                cursor,
                "INSERT INTO {p}webhook_subscription (id, partner_id, url, secret, unit_code, "
                "procedure_code, created_at) VALUES (%(id)s, %(partner_id)s, %(url)s, "
                "%(secret)s, %(unit_code)s, %(procedure_code)s, %(created_at)s)",
                {"id": subscription.id, "partner_id": subscription.partner_id,
                 "url": subscription.url, "secret": subscription.secret,
                 "unit_code": subscription.unit_code,
                 "procedure_code": subscription.procedure_code,
                 "created_at": subscription.created_at})

    def remove_subscription(self, subscription_id: str, *, now: datetime) -> bool:
        """Stop matching new events; messages already owed to it fail unsent."""
        with self._transaction(commit=True) as cursor:
            self._execute(cursor, "UPDATE {p}webhook_subscription SET removed_at = %(now)s "
                          "WHERE id = %(id)s AND removed_at IS NULL RETURNING id",
                          {"now": now, "id": subscription_id})
            return cursor.fetchone() is not None

    def subscriptions(self, *, include_removed: bool = False) -> list[Subscription]:
        where = "" if include_removed else "WHERE removed_at IS NULL "
        rows = self._select(f"SELECT * FROM {{p}}webhook_subscription {where}"
                            "ORDER BY partner_id, created_at")
        return [_subscription(r) for r in rows]

    def subscription(self, subscription_id: str) -> Subscription | None:
        rows = self._select("SELECT * FROM {p}webhook_subscription WHERE id = %(id)s",
                            {"id": subscription_id})
        return _subscription(rows[0]) if rows else None


class SQLiteOutboxView(OutboxView, SQLiteReadModel):
    pass  # one writer at a time: the claim's UPDATE … RETURNING is the lock


class PostgresOutboxView(OutboxView, PostgresReadModel):
    # Two deliverers never claim the same row, and neither waits for the other's rows.
    _skip_locked = " FOR UPDATE SKIP LOCKED"

    def _pipeline(self, cursor: Cursor) -> AbstractContextManager[Any]:
        return nullcontext()


class OutboxProjection(DossierProjection[OutboxView]):
    name = "outbox"

    def apply(self, e: Dossier.Event, tracking: Tracking) -> None:
        self.view.record(e, tracking)


def _units_reached(e: Dossier.Event) -> set[str]:
    """Units a dossier reaches with this event: a partner following a unit hears of it."""
    if isinstance(e, Dossier.Received):
        return {e.receiving_unit} | {step["unit_code"] for step in e.route}
    if isinstance(e, Dossier.Transferred):
        return {e.to_unit}
    if isinstance(e, Dossier.Dispatched):
        return {e.holder_unit}  # the post office, for a result sent by post
    if isinstance(e, Dossier.PickupRequested):
        return {e.post_office}  # the post office collects it: it hears of every leg
    return set()


def _webhook_facts(e: Dossier.Event) -> dict[str, Any]:
    """What a partner needs of a postal event beyond the dossier's stage: never the address,
    never the applicant."""
    if isinstance(e, Dossier.DeliveryAttemptFailed):
        return {"attempt": e.attempt, "reason": e.reason}
    if isinstance(e, Dossier.DeliveryRedirected):
        return {"to_counter": e.address is None}
    if isinstance(e, Dossier.ReturnedToCounter):
        return {"failed_attempts": e.failed_attempts, "to_unit": e.to_unit}
    if isinstance(e, Dossier.HandedToCounter):
        return {"to_unit": e.to_unit}
    if isinstance(e, Dossier.ReceivedFromPost):
        return {"from_unit": e.from_unit}
    return {}


def _notice(e: Dossier.Event) -> Notice | None:
    if isinstance(e, Dossier.AcceptedOnline):
        return Notice.RECEIVED_ONLINE
    if isinstance(e, Dossier.RefusedToReceive):
        return Notice.NOT_RECEIVED
    if isinstance(e, Dossier.SupplementRequested):
        return Notice.SUPPLEMENT_REQUESTED
    if isinstance(e, Dossier.Extended):
        return Notice.EXTENDED
    if isinstance(e, Dossier.Dispatched):
        return (Notice.DISPATCHED if e.method == DispatchMethod.POST.value
                else Notice.READY_ONLINE if e.method == DispatchMethod.ONLINE.value
                else Notice.READY_FOR_PICKUP)
    if isinstance(e, Dossier.Delivered):
        return Notice.DELIVERED
    if isinstance(e, Dossier.DeliveryAttemptFailed):
        return Notice.DELIVERY_FAILED
    if isinstance(e, Dossier.DeliveryRedirected):
        return Notice.DELIVERY_REDIRECTED
    if isinstance(e, Dossier.ReturnedToCounter):
        return Notice.RETURNED_TO_COUNTER
    return None


@singledispatch
def _notice_facts(e: Dossier.Event) -> dict[str, Any]:
    return {}


@_notice_facts.register
def _(e: Dossier.AcceptedOnline) -> dict[str, Any]:
    # The receipt (form 01) as text: where and when it was received, the day of the result.
    return {"unit_code": e.actor_unit, "due_date": e.due_date.isoformat(),
            "processing_days": e.processing_days, "submitted_at": e.submitted_at.isoformat()}


@_notice_facts.register
def _(e: Dossier.RefusedToReceive) -> dict[str, Any]:
    return {"unit_code": e.actor_unit, "reasons": e.reasons}


@_notice_facts.register
def _(e: Dossier.SupplementRequested) -> dict[str, Any]:
    return {"missing_items": e.missing_items, "reason": e.reason}


@_notice_facts.register
def _(e: Dossier.Extended) -> dict[str, Any]:
    return {"previous_due_date": e.previous_due_date.isoformat(),
            "due_date": e.due_date.isoformat(), "apology": e.apology}


@_notice_facts.register
def _(e: Dossier.Dispatched) -> dict[str, Any]:
    return {"unit_code": e.holder_unit, "postal_tracking_number": e.postal_tracking_number}


@_notice_facts.register
def _(e: Dossier.DeliveryAttemptFailed) -> dict[str, Any]:
    return {"reason": e.reason, "attempt": e.attempt,
            "attempts_left": MAX_DELIVERY_ATTEMPTS - e.attempt}


@_notice_facts.register
def _(e: Dossier.DeliveryRedirected) -> dict[str, Any]:
    # Whether it goes to a new address, never the address itself: an email is not sealed.
    return {"to_counter": e.address is None}


@_notice_facts.register
def _(e: Dossier.ReturnedToCounter) -> dict[str, Any]:
    return {"unit_code": e.to_unit}
