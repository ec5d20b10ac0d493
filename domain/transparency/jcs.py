"""RFC 8785 (JCS) canonical JSON: the bytes hoso hashes and signs.

Anyone can rebuild these bytes from the same values with any JCS implementation. Text is
NFC-normalised first, times are UTC with microseconds, and only the value types hoso's
events hold have a canonical form: a new type must be given one here before it is logged.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

__all__ = ["format_time", "jcs"]

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


def _reference_string(text: str) -> str:
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


# The standard library's C encoder (non-ASCII kept as itself) escapes exactly as RFC 8785 asks,
# about 12x faster than the loop above, which stays as the readable rule it is tested against
# (tests/test_transparency_log.py, every code point).
_string: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]


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
