"""The tracking book (*sổ theo dõi hồ sơ*, form 07 of Circular 03/2025/TT-VPCP): one line per
dossier received on a day at a one-stop counter, printed across an A4 sheet.

Reception clerks see their counter's book; inspectors and administrators every counter's.
Lines carry codes, procedures, units and dates — no applicant (the dossier's page has them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from starlette.requests import Request
from starlette.responses import Response

from domain.errors import AccessDenied
from domain.organisation import Staff
from domain.working_days import HCMC
from projections.dossier_list import DossierListRow
from web.clerk import refuse_access, services_of, staff_only
from web.formatting import parse_day
from web.i18n import in_locale, unit_name
from web.labels import STAGES, Label, label
from web.templating import render

_NOT_A_COUNTER = AccessDenied(
    "Sổ theo dõi hồ sơ dành cho bộ phận một cửa và thanh tra.",
    "The tracking book is for the one-stop counters and inspectors.")


@dataclass(frozen=True)
class BookLine:
    number: int
    row: DossierListRow
    procedure_name: str
    receiving_unit_name: str
    holder_unit_name: str
    stage: Label
    late: bool


@staff_only
def tracking_book(request: Request, staff: Staff) -> Response:
    if not (staff.serves_the_counter or staff.may_review):
        return refuse_access(request, staff, _NOT_A_COUNTER)
    services = services_of(request)
    d = services.directory
    try:
        day = parse_day(request.query_params.get("day", "")) \
            if request.query_params.get("day") else services.today()
    except ValueError:
        day = services.today()
    start = datetime.combine(day, time(0), tzinfo=HCMC)
    rows = services.read_models.dossier_list.received_between(start, start + timedelta(days=1))
    today = services.today()
    lines: list[BookLine] = []
    for row in rows:
        procedure = d.procedures.get(row.procedure_code)
        receiving = procedure.reception_unit if procedure else ""
        if staff.serves_the_counter and not staff.may_review and receiving != staff.unit_code:
            continue
        lines.append(BookLine(
            len(lines) + 1, row,
            in_locale(procedure.name_vi, procedure.name_en) if procedure else row.procedure_code,
            unit_name(d, receiving), unit_name(d, row.holder_unit),
            label(STAGES, row.stage.value), row.is_late(today)))
    agency = unit_name(d, staff.unit_code) if staff.serves_the_counter else ""
    return render(request, "tracking_book.html", {
        "lines": lines, "day": day, "agency": agency, "previous": day - timedelta(days=1),
        "next": day + timedelta(days=1) if day < today else None})


