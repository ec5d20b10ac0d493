"""The reception counter: find the citizen's dossier and act, in as few keystrokes as possible.

Type a dossier code or the citizen's phone, press Enter; each dossier found shows only the
counter actions open on it now (hand out the result, take in missing documents).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from domain.application import DossierSnapshot
from domain.dossier import Action
from domain.errors import AccessDenied
from domain.organisation import Staff
from projections.desk_queue import QueueFilter
from web.clerk import is_htmx, refuse_access, services_of, staff_only
from web.i18n import unit_name
from web.labels import Label
from web.queue import search_terms
from web.templating import render

COUNTER_ACTIONS = (Action.DELIVER, Action.PROVIDE_SUPPLEMENT, Action.ACCEPT_TRANSFER,
                   Action.DISPATCH)
_NOT_COUNTER = AccessDenied("Màn hình quầy dành cho cán bộ tiếp nhận.",
                            "The counter screen is for reception clerks.")


@dataclass(frozen=True)
class CounterCard:
    snapshot: DossierSnapshot
    procedure: Label
    holder_unit_name: str
    actions: list[str]


@staff_only
def counter(request: Request, staff: Staff) -> Response:
    if not staff.serves_the_counter:
        return refuse_access(request, staff, _NOT_COUNTER)
    services = services_of(request)
    q = request.query_params.get("q", "")
    code, phone = search_terms(q)
    cards: list[CounterCard] = []
    if code or phone:
        rows = services.read_models.desk_queue.page(QueueFilter(code=code, phone=phone),
                                                    limit=10)
        for row in rows:
            snapshot = services.app.snapshot(row.dossier_id, viewer_id=staff.user_id)
            procedure = services.directory.procedure(snapshot.procedure_code)
            cards.append(CounterCard(
                snapshot=snapshot,
                procedure=Label(procedure.name_vi, procedure.name_en),
                holder_unit_name=unit_name(services.directory, snapshot.holder_unit),
                actions=[a.value for a in snapshot.allowed_actions if a in COUNTER_ACTIONS],
            ))
    context = {"q": q, "cards": cards, "searched": bool(code or phone)}
    if is_htmx(request):
        return render(request, "counter/_results.html", context)
    return render(request, "counter.html", context)
