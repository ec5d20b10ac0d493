"""One canonical log entry per stored event: the bytes the transparency log hashes.

Every aggregate's events are logged — dossiers, officers' keyrings, the organisation
register, reading logs, code sequences, handled requests — because each of them carries
authority or evidence that later decisions trust. A new aggregate must be named in
``STREAMS`` (a test fails until it is); until then its events are still logged, with every
field in the private digest.

The entry is a small JSON document in RFC 8785 (JCS) canonical form, so anyone can rebuild it
from the event's published fields with any JCS implementation and get the same bytes — the
library's own stored bytes (JSON of its choosing, perhaps compressed or encrypted one day) are
never what is hashed. Format, field by field, and a test vector: docs/transparency-log.md.

Personal data never enters the entry: the private fields of an event are replaced by
``SHA-256(salt ‖ JCS(private fields))``, the salt being the installation's secret so that
a phone number cannot be found by trying them all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate

from domain.dossier import Dossier, DossierCodeSequence
from domain.feedback import Feedback
from domain.flag_case import FlagCase
from domain.keyring import OfficerKeyring
from domain.reading import ReadingLog
from domain.register import OrganisationRegister
from domain.requests import HandledRequest
from domain.transparency.jcs import format_time, jcs
from domain.transparency.merkle import leaf_hash

__all__ = ["ENTRY_FORMAT", "ENTRY_FORMAT_V2", "FREE_TEXT", "KEYRING_ENTRY_FORMAT",
           "KEYRING_ENTRY_FORMAT_V2", "PRIVATE_FIELDS", "STREAMS",
           "STREAM_ENTRY_FORMAT", "LoggedEvent", "StreamKind", "aggregate_of", "format_time",
           "jcs", "leaf_hash", "log_entry"]

# Changing anything in the layout below means a new format name, never a silent change: old
# entries must still be recomputed exactly as they were written.
ENTRY_FORMAT = "hoso-log-entry/1"
# Officers' signing keys: the same layout, the stream named ``keyring_id``.
KEYRING_ENTRY_FORMAT = "hoso-log-keyring-entry/1"
# The same layouts with free text private (``FREE_TEXT``): what new entries are written in.
ENTRY_FORMAT_V2 = "hoso-log-entry/2"
KEYRING_ENTRY_FORMAT_V2 = "hoso-log-keyring-entry/2"

# Every other aggregate's events: the stream's kind and id instead of a dossier's.
STREAM_ENTRY_FORMAT = "hoso-log-stream-entry/1"

# Any stored event: every aggregate's events are logged.
LoggedEvent = Aggregate.Event


@dataclass(frozen=True)
class StreamKind:
    """How one aggregate's events are logged: its name in the entries, and the fields shown
    as they are. Every other field goes into the salted private digest, so a field added
    later is private until someone decides otherwise."""

    name: str
    public: frozenset[str]


# The aggregates logged in the stream format, with what of theirs may be published: codes,
# units, roles, counts and times, never a person's name, free text, a request's key or a
# fingerprint of personal data. Which dossier a member of staff opened stays private too:
# an inspector's interest must not tip anyone off.
STREAMS: Mapping[type[Aggregate], StreamKind] = {
    DossierCodeSequence: StreamKind("code_sequence", frozenset({
        "agency_code", "day", "number"})),
    OrganisationRegister: StreamKind("register", frozenset({
        "actor_id", "occurred_at", "user_id", "unit_code", "roles", "code", "agency_code",
        "name_vi", "name_en", "kind", "procedure_code", "processing_days", "amount_vnd"})),
    ReadingLog: StreamKind("reading_log", frozenset({
        "viewer_id", "day", "viewer_unit", "purpose", "page", "opened_at"})),
    HandledRequest: StreamKind("handled_request", frozenset({
        "actor_id", "action", "dossier_version"})),
    # A citizen's feedback: which dossier (and so who) and what either side wrote stay in
    # the private digest; the public sees the procedure, who handles it, and when.
    Feedback: StreamKind("feedback", frozenset({
        "procedure_code", "about_unofficial_payment", "received_at", "due_on", "unit_code",
        "handler", "assigned_at", "actor_id", "actor_unit", "answered_at", "closed_at",
        "from_unit", "escalated_at"})),
    # A red flag's case: the flag, the outcome and when are public; which dossier or officer
    # it is about, the facts' fingerprint, who worked on it and what they wrote stay in the
    # private digest — a case must not tip anyone off, nor name an officer not yet heard.
    FlagCase: StreamKind("flag_case", frozenset({
        "flag_kind", "subject", "opened_at", "written_at", "outcome", "closed_at",
        "reopened_at"})),
}
# Logged in the formats of their own (below).
OWN_FORMATS: tuple[type[Aggregate], ...] = (Dossier, OfficerKeyring)


def aggregate_of(event: Aggregate.Event) -> type[Aggregate] | None:
    """The aggregate class an event belongs to (each has its own ``Event`` base)."""
    for aggregate in (*OWN_FORMATS, *STREAMS):
        if isinstance(event, aggregate.Event):
            return aggregate
    return None

# Personal data or secrets, per event type: the applicant (name, phone, address, identity
# number), the tracking token (whoever holds it opens the status page), the name of whoever
# collected the result, and the citizen's free-text comment.
PRIVATE_FIELDS: Mapping[str, frozenset[str]] = {
    "Received": frozenset({"applicant", "tracking_token"}),
    "Delivered": frozenset({"recipient_name"}),
    "Rated": frozenset({"comment"}),
    # A file's name may carry the citizen's name; its digest is what the log vouches for.
    "DocumentAttached": frozenset({"file_name"}),
    # Where the post collects the dossier: the citizen's address.
    "PickupRequested": frozenset({"address"}),
}

# Since format /2: what clerks and officers type in their own words (one transfer note held a
# citizen's name), file names, and the post's tracking number, go into the private digest
# too. Entries logged as /1 are still recomputed as /1. The citizen's page reads the events
# themselves, not the log, so it still shows the reasons and notes the citizen must read.
FREE_TEXT: Mapping[str, frozenset[str]] = {
    "Received": frozenset({"documents"}),
    "Transferred": frozenset({"note"}),
    "SupplementRequested": frozenset({"missing_items", "reason", "justification",
                                      "outside_list"}),
    "PaymentRequested": frozenset({"reason"}),
    "SupplementProvided": frozenset({"documents"}),
    "Extended": frozenset({"reason", "apology"}),
    "Signed": frozenset({"decision_title"}),
    "Rejected": frozenset({"reasons"}),
    "Withdrawn": frozenset({"reason"}),
    "Dispatched": frozenset({"postal_tracking_number"}),
    "CollectedByPost": frozenset({"postal_tracking_number", "items"}),
    "DocumentAttached": frozenset({"document_type", "file_name"}),
    "KeyRevoked": frozenset({"reason"}),
}

# Fields added to an event type after entries of it were logged: left out while null, so
# those earlier entries recompute byte for byte.
LATER_FIELDS: Mapping[str, frozenset[str]] = {
    "Signed": frozenset({"document_sha256", "key_id", "signature", "result_signature"}),
    "Received": frozenset({"fee"}),
    "SupplementRequested": frozenset({"outside_list"}),
}

# The library's envelope and the fields the entry carries under names of its own.
_ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})
_OWN_KEYS = frozenset({"actor_id", "actor_unit", "occurred_at", "idempotency_key"})


def event_type(event: LoggedEvent) -> str:
    return type(event).__name__


def log_entry(event: LoggedEvent, *, origin: str, salt: bytes,
              previous_leaf: bytes | None, entry_format: str | None = None) -> bytes:
    """The canonical entry for one event; ``previous_leaf`` is the leaf hash of the stream's
    previous entry (None for its first), so one dossier's (or stream's) chain checks
    alone. ``entry_format``: the format an entry was logged in, to recompute it (default:
    the current one, for new entries)."""
    if not isinstance(event, Dossier.Event | OfficerKeyring.Event):
        return _stream_entry(event, origin=origin, salt=salt, previous_leaf=previous_leaf)
    is_dossier = isinstance(event, Dossier.Event)
    first, current = ((ENTRY_FORMAT, ENTRY_FORMAT_V2) if is_dossier
                      else (KEYRING_ENTRY_FORMAT, KEYRING_ENTRY_FORMAT_V2))
    chosen = entry_format or current
    if chosen not in (first, current):
        raise ValueError(f"unknown entry format {chosen!r} for a {type(event).__qualname__}")
    kind = event_type(event)
    later = LATER_FIELDS.get(kind, frozenset())
    state = {k: v for k, v in vars(event).items()
             if k not in _ENVELOPE and not (k in later and v is None)}
    private_names = PRIVATE_FIELDS.get(kind, frozenset())
    if chosen == current:
        private_names = private_names | FREE_TEXT.get(kind, frozenset())
    private = {k: v for k, v in state.items() if k in private_names}
    public = {k: v for k, v in state.items() if k not in private_names and k not in _OWN_KEYS}
    digest = hashlib.sha256(salt + jcs(private)).hexdigest() if private_names else None
    return jcs({
        "format": chosen,
        "origin": origin,
        "dossier_id" if is_dossier else "keyring_id": event.originator_id,
        "version": event.originator_version,
        "type": kind,
        "occurred_at": event.occurred_at,
        "recorded_at": event.timestamp,
        "actor": event.actor_id,
        "unit": event.actor_unit,
        "fields": public,
        "private_digest": digest,
        "idempotency_key": state.get("idempotency_key") or None,
        "previous": previous_leaf.hex() if previous_leaf is not None else None,
    })


def _stream_entry(event: Aggregate.Event, *, origin: str, salt: bytes,
                  previous_leaf: bytes | None) -> bytes:
    aggregate = aggregate_of(event)
    stream = STREAMS.get(aggregate) if aggregate is not None else None
    state: dict[str, Any] = {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
    public_names = stream.public if stream is not None else frozenset()
    private = {k: v for k, v in state.items() if k not in public_names}
    return jcs({
        "format": STREAM_ENTRY_FORMAT,
        "origin": origin,
        # An aggregate not yet named in STREAMS: its class, so the entry still says what
        # it is (a test fails until it is named).
        "stream": stream.name if stream is not None
        else type(event).__qualname__.split(".")[-2],
        "stream_id": event.originator_id,
        "version": event.originator_version,
        "type": event_type(event),
        "recorded_at": event.timestamp,
        "fields": {k: v for k, v in state.items() if k in public_names},
        "private_digest": hashlib.sha256(salt + jcs(private)).hexdigest() if private else None,
        "previous": previous_leaf.hex() if previous_leaf is not None else None,
    })
