"""The JSON bodies the API takes: each field's rule written once, read by the handlers and
published in the OpenAPI document (``web/api/openapi.py``), so the two cannot drift apart.

Only shape is checked here (types, lengths, patterns, no unknown fields); what the text
means — a phone number, a name without control characters, a unit that exists, an action
allowed now — is the domain's to judge, in its own words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain.dossier import MAX_DELIVERY_ATTEMPTS, DeliveryFailure
from web.api.errors import ApiError, malformed

# Larger than any honest body (50 documents of 300 characters, a 1,000-character note).
MAX_BODY_BYTES = 64 * 1024


class Spec(Protocol):
    def schema(self) -> dict[str, Any]: ...

    def read(self, name: str, value: Any) -> Any: ...


def _wrong(name: str, vi: str, en: str) -> ApiError:
    return malformed(f"Trường “{name}”: {vi}.", f"Field “{name}”: {en}.")


@dataclass(frozen=True)
class Text:
    max_length: int
    min_length: int = 0
    pattern: str | None = None
    description: str = ""

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "maxLength": self.max_length,
                                  "description": self.description}
        if self.min_length:
            schema["minLength"] = self.min_length
        if self.pattern:
            schema["pattern"] = self.pattern
        return schema

    def read(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise _wrong(name, "phải là chuỗi ký tự", "must be a string")
        if not self.min_length <= len(value) <= self.max_length:
            raise _wrong(name, f"dài từ {self.min_length} đến {self.max_length} ký tự",
                         f"must have {self.min_length} to {self.max_length} characters")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise _wrong(name, "không đúng định dạng", "does not have the expected form")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800"): no text can hold it
            raise _wrong(name, "không phải văn bản Unicode hợp lệ",
                         "is not valid Unicode text") from None
        return value


@dataclass(frozen=True)
class Choice:
    values: tuple[str, ...]
    description: str = ""

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values), "description": self.description}

    def read(self, name: str, value: Any) -> str:
        if value not in self.values:
            raise _wrong(name, f"chỉ nhận {', '.join(self.values)}",
                         f"must be one of {', '.join(self.values)}")
        return str(value)


@dataclass(frozen=True)
class TextList:
    item: Text
    max_items: int
    min_items: int = 0
    description: str = ""

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": self.item.schema(), "minItems": self.min_items,
                "maxItems": self.max_items, "description": self.description}

    def read(self, name: str, value: Any) -> list[str]:
        if not isinstance(value, list):
            raise _wrong(name, "phải là danh sách", "must be a list")
        if not self.min_items <= len(value) <= self.max_items:
            raise _wrong(name, f"có từ {self.min_items} đến {self.max_items} mục",
                         f"must have {self.min_items} to {self.max_items} items")
        return [self.item.read(f"{name}[{i}]", v) for i, v in enumerate(value)]


@dataclass(frozen=True)
class Moment:
    """A time with its offset (RFC 3339), e.g. 2026-11-24T09:30:00+07:00."""

    description: str = ""

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date-time", "maxLength": 40,
                "description": self.description}

    def read(self, name: str, value: Any) -> datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise _wrong(name, "phải là thời điểm dạng 2026-11-24T09:30:00+07:00",
                         "must be a time like 2026-11-24T09:30:00+07:00")
        try:
            # RFC 3339 allows a lower-case "t" and "z", which fromisoformat does not.
            moment = datetime.fromisoformat(value.upper())
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise _wrong(name, "phải là thời điểm có múi giờ, dạng 2026-11-24T09:30:00+07:00",
                         "must be a time with its offset, like 2026-11-24T09:30:00+07:00")
        return moment


@dataclass(frozen=True)
class Shape:
    """A JSON object with these fields and no others."""

    fields: Mapping[str, Spec]
    required: frozenset[str] = frozenset()
    description: str = ""
    name: str = field(default="body")

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object", "additionalProperties": False, "description": self.description,
            "properties": {n: spec.schema() for n, spec in self.fields.items()},
            "required": sorted(self.required),
        }

    def read(self, name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _wrong(name, "phải là đối tượng JSON", "must be a JSON object")
        unknown = sorted(set(value) - set(self.fields))
        if unknown:
            raise _wrong(name, f"không có trường {', '.join(unknown)}",
                         f"has no field {', '.join(unknown)}")
        missing = sorted(self.required - set(value))
        if missing:
            raise _wrong(name, f"thiếu {', '.join(missing)}", f"lacks {', '.join(missing)}")
        return {n: spec.read(n if name == "body" else f"{name}.{n}", value[n])
                for n, spec in self.fields.items() if n in value}


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    """The body as JSON, or a 400 saying it is not."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, NaN, nested too deep
        raise malformed("Nội dung gửi lên không phải JSON hợp lệ (UTF-8).",
                        "The body is not valid JSON (UTF-8).") from None


_WHEN = Moment("When it happened, if earlier than the call (a report sent late); "
               "at most 90 days back. Default: now.")
_USER_ID = r"^[a-z0-9][a-z0-9._-]{2,39}$"
_UNIT_CODE = r"^[A-Z0-9][A-Z0-9-]{1,19}$"

APPLICANT = Shape(
    {
        "name": Text(200, 1, description="Full name"),
        "phone": Text(30, 1, description="Vietnamese phone number, e.g. 0901234567"),
        "address": Text(500, 1, description="Postal address"),
        "id_number": Text(20, description="Identity document number (optional)"),
        "email": Text(254, description="Where to send the applicant's notices (optional): "
                                       "supplement needed, delayed, ready, sent, delivered"),
    },
    required=frozenset({"name", "phone", "address"}),
    description="The applicant: personal data, never shown on the public status.",
    name="applicant",
)

SUBMISSION = Shape(
    {
        "procedure_code": Text(20, 1, pattern=r"^[0-9A-Za-z.]{1,20}$",
                               description="National procedure code, e.g. 2.000488"),
        "channel": Choice(("online", "post_office"),
                          "Where the citizen handed the dossier in"),
        "applicant": APPLICANT,
        "documents": TextList(Text(300, 1), max_items=50, min_items=1,
                              description="Documents handed in"),
        "occurred_at": _WHEN,
    },
    required=frozenset({"procedure_code", "channel", "applicant", "documents"}),
    description="A dossier received online or at a post office, for the procedure's "
                "one-stop reception unit.",
)

TRANSFER = Shape(
    {
        "to_unit": Text(20, 2, pattern=_UNIT_CODE, description="Receiving unit's code"),
        "to_officer": Text(40, 3, pattern=_USER_ID,
                           description="An officer of the receiving unit (optional)"),
        "note": Text(1000, description="Required when the unit is off the procedure's route"),
        "occurred_at": _WHEN,
    },
    required=frozenset({"to_unit"}),
    description="The dossier handed on to another unit, which accepts it in hoso.",
)

DISPATCH = Shape(
    {
        "method": Choice(("post", "counter_pickup", "online"),
                         "How the result goes to the citizen (online: the signed result PDF, "
                         "downloaded after a one-time code)"),
        "postal_tracking_number": Text(30, description="The post's tracking number "
                                       "(required by post), e.g. EB123456789VN"),
        "occurred_at": _WHEN,
    },
    required=frozenset({"method"}),
    description="The result handed out: to the post, or to the counter for pick-up.",
)

DELIVERY = Shape(
    {
        "recipient_name": Text(200, 1, description="Who received the result"),
        "occurred_at": _WHEN,
    },
    required=frozenset({"recipient_name"}),
    description="The result delivered to the citizen.",
)

PICKUP = Shape(
    {
        "procedure_code": SUBMISSION.fields["procedure_code"],
        "applicant": APPLICANT,
        "pickup_address": Text(500, description="Where the post collects the dossier "
                               "(default: the applicant's address); personal data"),
        "documents": TextList(Text(300, 1), max_items=50,
                              description="What the citizen says they will hand over"),
        "occurred_at": _WHEN,
    },
    required=frozenset({"procedure_code", "applicant"}),
    description="Ask the post to collect a dossier at an address and bring it to the "
                "procedure's counter; the processing clock starts at the counter's receipt.",
)

COLLECTION = Shape(
    {
        "postal_tracking_number": Text(30, 1, description="The post's tracking number, "
                                       "e.g. EB123456789VN"),
        "items": TextList(Text(300, 1), max_items=50, min_items=1,
                          description="What was collected"),
        "occurred_at": _WHEN,
    },
    required=frozenset({"postal_tracking_number", "items"}),
    description="The post collected the dossier at the address.",
)

FAILED_DELIVERY = Shape(
    {"reason": Choice(tuple(f.value for f in DeliveryFailure),
                      description="Why the result could not be handed over"),
     "occurred_at": _WHEN},
    required=frozenset({"reason"}),
    description="The post could not hand the result over at the address (at most "
                f"{MAX_DELIVERY_ATTEMPTS} attempts).",
)

RETURN = Shape(
    {"occurred_at": _WHEN},
    description="The post brought the undelivered result back to the counter.",
)

HANDOVER = Shape(
    {"occurred_at": _WHEN},
    description="The post left the dossier at the counter, which records its receipt.",
)
