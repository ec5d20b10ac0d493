"""One canonical log entry per dossier event: the bytes the transparency log hashes.

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
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from domain.dossier import Dossier
from domain.transparency.merkle import leaf_hash

__all__ = ["ENTRY_FORMAT", "PRIVATE_FIELDS", "format_time", "jcs", "leaf_hash", "log_entry"]

# Changing anything in the layout below means a new format name, never a silent change: old
# entries must still be recomputed exactly as they were written.
ENTRY_FORMAT = "hoso-log-entry/1"

# Personal data or secrets, per event type: the applicant (name, phone, address, identity
# number), the tracking token (whoever holds it opens the status page), the name of whoever
# collected the result, and the citizen's free-text comment.
PRIVATE_FIELDS: Mapping[str, frozenset[str]] = {
    "Received": frozenset({"applicant", "tracking_token"}),
    "Delivered": frozenset({"recipient_name"}),
    "Rated": frozenset({"comment"}),
}

# The library's envelope and the fields the entry carries under names of its own.
_ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})
_OWN_KEYS = frozenset({"actor_id", "actor_unit", "occurred_at", "idempotency_key"})

# JCS numbers are IEEE doubles: larger integers would not survive a round trip elsewhere.
_MAX_SAFE_INTEGER = 2**53 - 1


def format_time(moment: datetime) -> str:
    """One fixed format for every time: UTC, microseconds, ``Z``."""
    if moment.tzinfo is None:
        raise ValueError("a log entry's times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value: Any) -> Any:
    """The JSON value an event field becomes (NFC text, UTC times, ISO dates)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} is beyond JCS's exact range")
        return value
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        plain: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys are text, got {key!r}")
            name = unicodedata.normalize("NFC", key)
            if name in plain:
                raise ValueError(f"two keys become {name!r} once NFC-normalised")
            plain[name] = _plain(item)
        return plain
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    # Floats included: their JCS form needs ECMAScript's shortest round trip, and no event
    # has one. A new field type must be given a canonical form here before it is logged.
    raise TypeError(f"no canonical form for {type(value).__name__} in a log entry")


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                  "\r": "\\r", "\t": "\\t"}


def _string(text: str) -> str:
    # RFC 8785 §3.2.2.2: only '"', '\' and controls are escaped, the latter in short form
    # where JSON has one, else as lowercase \u00xx; everything else is written as itself.
    out = ['"']
    for char in text:
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif char < " ":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _utf16_key(name: str) -> bytes:
    return name.encode("utf-16-be", "surrogatepass")


def _serialize(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ",".join(_serialize(item) for item in value) + "]"
    if isinstance(value, dict):
        # RFC 8785 §3.2.3: members sorted by the UTF-16 code units of their names.
        members = sorted(value.items(), key=lambda member: _utf16_key(member[0]))
        return "{" + ",".join(f"{_string(k)}:{_serialize(v)}" for k, v in members) + "}"
    raise TypeError(f"no canonical form for {type(value).__name__}")


def jcs(value: Any) -> bytes:
    """RFC 8785 canonical JSON of ``value`` (NFC-normalised first), as UTF-8."""
    # "strict" refuses lone surrogates, which no UTF-8 reader would accept either.
    return _serialize(_plain(value)).encode("utf-8")


def event_type(event: Dossier.Event) -> str:
    return type(event).__name__


def log_entry(event: Dossier.Event, *, origin: str, salt: bytes,
              previous_leaf: bytes | None) -> bytes:
    """The canonical entry for one dossier event; ``previous_leaf`` is the leaf hash of the
    dossier's previous entry (None for its first), so one dossier's chain checks alone."""
    kind = event_type(event)
    state = {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
    private_names = PRIVATE_FIELDS.get(kind, frozenset())
    private = {k: v for k, v in state.items() if k in private_names}
    public = {k: v for k, v in state.items() if k not in private_names and k not in _OWN_KEYS}
    digest = hashlib.sha256(salt + jcs(private)).hexdigest() if private_names else None
    return jcs({
        "format": ENTRY_FORMAT,
        "origin": origin,
        "dossier_id": event.originator_id,
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
