"""Officer and unit histories: everything one person, or one unit, did in a period."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from domain.errors import DomainError, NotFound
from domain.organisation import Staff
from projections.red_flags import Period
from web.clerk import refuse_access, services_of, staff_only
from web.i18n import unit_name
from web.labels import EVENTS, Label, label
from web.red_flags import NOT_A_REVIEWER, parse_period
from web.templating import render

# More than a page can sensibly show; the period can always be narrowed.
MOST_ACTIONS = 1000


@dataclass(frozen=True)
class ActionLine:
    occurred_at: datetime
    recorded_at: datetime
    event: Label
    dossier_id: str
    code: str
    procedure_code: str
    actor_name: str
    unit_name: str
    off_hours: bool


@dataclass(frozen=True)
class HistoryPage:
    title: Label
    path: str
    period: Period
    actions: list[ActionLine]
    counts: list[tuple[Label, int]]
    truncated: bool

    @property
    def last_day(self) -> date:
        return self.period.end - timedelta(days=1)


def _history(request: Request, staff: Staff, *, officer: str | None,
             unit: str | None) -> Response:
    if not staff.may_review:
        return refuse_access(request, staff, NOT_A_REVIEWER)
    services = services_of(request)
    d = services.directory
    if officer is not None and officer not in d.staff:
        error = NotFound("Không có cán bộ này.", "No such officer.")
        return render(request, "error.html", {"error": error}, status_code=404)
    if unit is not None and unit not in d.units:
        error = NotFound("Không có đơn vị này.", "No such unit.")
        return render(request, "error.html", {"error": error}, status_code=404)
    title = (Label(f"Lịch sử thao tác của {d.staff[officer].full_name}",
                   f"Everything {d.staff[officer].full_name} did") if officer else
             Label(f"Lịch sử thao tác của {unit_name(d, unit or '')}",
                   f"Everything done at {unit_name(d, unit or '')}"))
    try:
        period = parse_period(request, services.today())
    except DomainError as error:
        return render(request, "history.html", {"page": None, "error": error, "title": title},
                      status_code=400)
    rows = services.read_models.review.actions(
        officer=officer, unit=unit, start=period.start_utc(), end=period.end_utc(),
        limit=MOST_ACTIONS + 1)
    lines = [
        ActionLine(
            occurred_at=r["occurred_at"], recorded_at=r["recorded_at"],
            event=label(EVENTS, r["kind"]), dossier_id=r["dossier_id"], code=r["code"],
            procedure_code=r["procedure_code"],
            actor_name=d.staff[r["actor_id"]].full_name if r["actor_id"] in d.staff
            else r["actor_id"],
            unit_name=unit_name(d, r["actor_unit"]), off_hours=bool(r["off_hours"]),
        )
        for r in rows[:MOST_ACTIONS]
    ]
    counts = Counter(r["kind"] for r in rows[:MOST_ACTIONS])
    page = HistoryPage(title=title, path=request.url.path, period=period, actions=lines,
                       counts=[(label(EVENTS, k), n) for k, n in counts.most_common()],
                       truncated=len(rows) > MOST_ACTIONS)
    return render(request, "history.html", {"page": page, "error": None, "title": title})


@staff_only
async def officer_history(request: Request, staff: Staff) -> Response:
    return await run_in_threadpool(_history, request, staff,
                                   officer=request.path_params["user_id"], unit=None)


@staff_only
async def unit_history(request: Request, staff: Staff) -> Response:
    return await run_in_threadpool(_history, request, staff, officer=None,
                                   unit=request.path_params["unit_code"])
