"""Queues: what sits on my desk or my unit's, and what is on its way to us."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from domain.errors import DomainError
from domain.office_time import OfficeClock
from domain.organisation import Directory, Staff
from domain.text import clean_phone
from projections.desk_queue import PAGE_SIZE, QueueFilter, QueueRow
from web.clerk import is_htmx, services_of, staff_only
from web.i18n import unit_name
from web.labels import Label
from web.services import Services
from web.templating import render


@dataclass(frozen=True)
class QueueLine:
    """A queue row as a clerk reads it."""

    row: QueueRow
    procedure_name: Label
    holder_unit_name: str
    from_unit_name: str | None
    late: bool
    here_for: timedelta
    step_used_percent: int | None

    @property
    def bar(self) -> str:
        used = self.step_used_percent
        if used is None:
            return "none"
        return "red" if used >= 100 else "amber" if used >= 75 else "green"


def _line(row: QueueRow, d: Directory, now: datetime, today: date,
          clock: OfficeClock) -> QueueLine:
    used = row.step_used(now, clock)
    procedure = d.procedures.get(row.procedure_code)
    return QueueLine(
        row=row,
        procedure_name=(Label(procedure.name_vi, procedure.name_en) if procedure
                        else Label(row.procedure_code, row.procedure_code)),
        holder_unit_name=unit_name(d, row.holder_unit),
        from_unit_name=unit_name(d, row.pending_from_unit) if row.pending_from_unit else None,
        late=row.is_late(today),
        here_for=now - row.arrived_at,
        step_used_percent=None if used is None else round(used * 100),
    )


def search_terms(text: str) -> tuple[str | None, str | None]:
    """(code, phone): a dossier code, or an applicant's phone number."""
    text = text.strip()
    if not text:
        return None, None
    try:
        return None, clean_phone(text)
    except DomainError:
        return text, None


@staff_only
def queue(request: Request, staff: Staff) -> Response:
    services = services_of(request)
    params = request.query_params
    # The post office's results wait for the unit, held by no one in person: its agents land
    # on their unit's list, not on an empty desk.
    default_scope = "unit" if staff.sees_only_the_post else "desk"
    scope = params.get("scope") or default_scope
    scope = "unit" if scope == "unit" else "desk"
    code, phone = search_terms(params.get("q", ""))
    search = bool(code or phone)
    f = QueueFilter(
        # A search looks at every open dossier; otherwise my desk or my unit.
        holder_unit=staff.unit_code if not search or staff.sees_only_the_post else None,
        holder_officer=staff.user_id if scope == "desk" and not search else None,
        procedure_code=params.get("procedure") or None,
        stage=params.get("stage") or None,
        after=params.get("after") or None,
        code=code,
        phone=phone,
    )
    return _render(request, services, f, "queue.html", {
        "show_holder": search,
        "can_receive": bool(services.directory.procedures_received_by(staff)),
        "scope": scope, "q": params.get("q", ""), "procedure": f.procedure_code or "",
        "stage": f.stage or "",
    })


@staff_only
def incoming(request: Request, staff: Staff) -> Response:
    services = services_of(request)
    f = QueueFilter(holder_unit=staff.unit_code, incoming=True,
                    after=request.query_params.get("after") or None)
    return _render(request, services, f, "incoming.html", {"table_id": "incoming-table"})


def _render(request: Request, services: Services, f: QueueFilter, page: str,
            context: dict[str, object]) -> Response:
    now = services.now()
    rows = services.read_models.desk_queue.page(f, limit=PAGE_SIZE + 1)
    directory, today = services.directory, services.today()
    clock = OfficeClock(services.app.calendar)
    lines = [_line(r, directory, now, today, clock) for r in rows[:PAGE_SIZE]]
    next_cursor = rows[PAGE_SIZE - 1].cursor if len(rows) > PAGE_SIZE else None
    context = {"table_id": "queue-table"} | context | {"lines": lines, "next_cursor": next_cursor,
                         "procedures": list(services.directory.procedures.values()),
                         "path": request.url.path, "query": request.url.query}
    if is_htmx(request):
        name = "queue/_rows.html" if f.after else "queue/_table.html"
        return render(request, name, context)
    return render(request, page, context)
