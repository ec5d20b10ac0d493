"""The citizen's status page: no sign-in, no personal data, officers only by unit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from projections.public_status import PublicStatus
from web.labels import PUBLIC_EVENTS, STAGES, Label, label
from web.services import Services
from web.templating import render

_TOKEN_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class PublicStepView:
    event: Label
    unit_name: str
    occurred_at: datetime


@dataclass(frozen=True)
class DueDateReason:
    received_on: date
    counted_from: date
    after_cutoff: bool
    working_days: int
    days_off: list[tuple[date, str]]


@dataclass(frozen=True)
class PublicStatusPage:
    procedure_vi: str
    procedure_en: str
    stage: Label
    holder_unit_name: str
    due_date: date
    late: bool
    finished: bool
    postal_tracking_number: str | None
    extensions: int
    notice: dict[str, Any] | None
    due_date_reason: DueDateReason | None
    steps: list[PublicStepView]


def _reason(basis: dict[str, Any]) -> DueDateReason | None:
    if not basis:
        return None
    return DueDateReason(
        received_on=date.fromisoformat(basis["received_on"]),
        counted_from=date.fromisoformat(basis["counted_from"]),
        after_cutoff=bool(basis["after_cutoff"]),
        working_days=int(basis["working_days"]),
        days_off=[(date.fromisoformat(d), name) for d, name in basis["days_off"]],
    )


def _page(status: PublicStatus, services: Services) -> PublicStatusPage:
    directory = services.directory
    procedure = directory.procedures.get(status.procedure_code)
    return PublicStatusPage(
        procedure_vi=procedure.name_vi if procedure else status.procedure_code,
        procedure_en=procedure.name_en if procedure else status.procedure_code,
        stage=label(STAGES, status.stage.value),
        holder_unit_name=directory.unit_name(status.holder_unit),
        due_date=status.due_date,
        late=status.is_late(services.today()),
        finished=status.result_ready_at is not None,
        postal_tracking_number=status.postal_tracking_number,
        extensions=status.extensions,
        notice=status.notice,
        due_date_reason=_reason(status.due_date_basis),
        steps=[
            PublicStepView(label(PUBLIC_EVENTS, s.kind), directory.unit_name(s.unit_code),
                           s.occurred_at)
            for s in reversed(status.steps)
        ],
    )


def status_page(request: Request) -> Response:
    services: Services = request.app.state.services
    token = request.path_params["token"]
    # Malformed and unknown tokens get the same answer.
    status = None
    if 16 <= len(token) <= 64 and set(token) <= _TOKEN_CHARS:
        status = services.read_models.public_status.find(token)
    headers = {"X-Robots-Tag": "noindex", "Cache-Control": "no-store",
               "Referrer-Policy": "no-referrer"}
    if status is None:
        return render(request, "public/not_found.html", {}, status_code=404, headers=headers)
    return render(request, "public/status.html", {"page": _page(status, services)},
                  headers=headers)
