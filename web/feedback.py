"""Citizens' feedback (phản ánh, kiến nghị): sent and closed from the public page, answered by
the unit it is assigned to.

The answering unit's page shows what was written, the procedure and when — never the
dossier or the applicant (the projection's ``StaffCase`` carries neither).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.errors import AccessDenied, DomainError, NotFound
from domain.feedback import (
    ANSWER_TEXT_MAX_LENGTH,
    ANSWER_WORKING_DAYS,
    FEEDBACK_TEXT_MAX_LENGTH,
    Handler,
    may_answer,
)
from domain.organisation import Staff
from projections.feedback import (
    CitizenCase,
    FeedbackFigures,
    StaffCase,
    feedback_figures,
)
from web.clerk import refuse_access, services_of, staff_only
from web.i18n import unit_name
from web.labels import FEEDBACK_HANDLERS, FEEDBACK_STAGES, Label, label
from web.services import Services
from web.templating import render

_NOT_ANSWERING = AccessDenied(
    "Chỉ lãnh đạo cơ quan giải quyết và thanh tra trả lời phản ánh, kiến nghị.",
    "Only the heads of handling agencies and the inspectorate answer feedback.")


@dataclass(frozen=True)
class CitizenCaseView:
    feedback_id: UUID
    text: str
    received_at: datetime
    due_on: date
    stage: Label
    handler: Label
    escalated: bool
    answer: str | None
    answered_at: datetime | None
    closable: bool


@dataclass(frozen=True)
class FeedbackPanel:
    """The public page's feedback section: the dossier's cases and the form for a new one."""

    url: str
    cases: list[CitizenCaseView]
    text_max_length: int = FEEDBACK_TEXT_MAX_LENGTH
    answer_days: int = ANSWER_WORKING_DAYS


def feedback_panel(services: Services, token: str, dossier_id: UUID) -> FeedbackPanel:
    return FeedbackPanel(url=f"/t/{token}/feedback", cases=[
        _citizen_view(c) for c in services.read_models.feedback.of_dossier(dossier_id)])


def _citizen_view(case: CitizenCase) -> CitizenCaseView:
    return CitizenCaseView(
        case.feedback_id, case.text, case.received_at, case.due_on,
        label(FEEDBACK_STAGES, case.stage.value), label(FEEDBACK_HANDLERS, case.handler.value),
        case.escalated, case.answer, case.answered_at,
        closable=case.answer is not None and case.closed_at is None)


# ---- the answering unit --------------------------------------------------------------------


@dataclass(frozen=True)
class StaffCaseView:
    case: StaffCase
    procedure_name: str
    overdue: bool
    handler: Label


def _answers_feedback(staff: Staff) -> bool:
    return any(may_answer(staff, staff.unit_code, h) for h in Handler)


def _staff_page(request: Request, staff: Staff, *, error: DomainError | None = None,
                typed: dict[str, str] | None = None, status_code: int = 200) -> Response:
    services = services_of(request)
    if not _answers_feedback(staff):
        return refuse_access(request, staff, _NOT_ANSWERING)
    today = services.today()
    directory = services.directory
    cases = [StaffCaseView(c, _procedure_name(services, c.procedure_code),
                           c.is_overdue(today), label(FEEDBACK_HANDLERS, c.handler.value))
             for c in services.read_models.feedback.assigned_to(staff.unit_code)]
    return render(request, "feedback.html", {
        "cases": cases, "error": error, "typed": typed or {},
        "unit_name": unit_name(directory, staff.unit_code),
        "answer_max_length": ANSWER_TEXT_MAX_LENGTH}, status_code=status_code)


def _procedure_name(services: Services, code: str) -> str:
    from web.i18n import in_locale

    procedure = services.directory.procedures.get(code)
    return in_locale(procedure.name_vi, procedure.name_en) if procedure else code


@staff_only
def feedback_page(request: Request, staff: Staff) -> Response:
    return _staff_page(request, staff)


@staff_only
async def answer(request: Request, staff: Staff) -> Response:
    services = services_of(request)
    if not _answers_feedback(staff):
        return refuse_access(request, staff, _NOT_ANSWERING)
    form = await request.form()
    typed = str(form.get("answer", ""))
    try:
        feedback_id = UUID(request.path_params["feedback_id"])
    except ValueError:
        return await run_in_threadpool(_staff_page, request, staff, error=_NO_SUCH_CASE,
                                       status_code=404)
    error: DomainError
    try:
        outcome = await run_in_threadpool(
            lambda: services.app.answer_feedback(feedback_id, actor_id=staff.user_id,
                                                 answer=typed))
    except AccessDenied as denied:
        return refuse_access(request, staff, denied)
    except NotFound as missing:
        error, status_code = missing, 404
    except DomainError as refusal:
        error, status_code = refusal, 422
    else:
        await run_in_threadpool(services.read_models.wait_for_feedback,
                                outcome.notification_id)
        return RedirectResponse("/feedback", status_code=303)
    return await run_in_threadpool(lambda: _staff_page(
        request, staff, error=error, typed={str(feedback_id): typed}, status_code=status_code))


_NO_SUCH_CASE = DomainError("Không tìm thấy phản ánh, kiến nghị này.",
                            "This feedback was not found.")


# ---- handling times (analytics and the public statistics) ----------------------------------


@dataclass(frozen=True)
class FeedbackLine:
    unit_name: str
    figures: FeedbackFigures


def feedback_totals(services: Services, start: datetime,
                    end: datetime | None = None) -> FeedbackFigures:
    return feedback_figures(services.read_models.feedback.handled_cases(start, end),
                            services.app.calendar, services.today())


def feedback_by_unit(services: Services, start: datetime,
                     end: datetime | None = None) -> list[FeedbackLine]:
    """Per answering unit (where each case is now), then all of them."""
    cases = services.read_models.feedback.handled_cases(start, end)
    calendar, today = services.app.calendar, services.today()
    units = sorted({c.unit_code for c in cases})
    return [FeedbackLine(unit_name(services.directory, u), feedback_figures(
        [c for c in cases if c.unit_code == u], calendar, today)) for u in units]
