"""Red flags taken up as cases on the inspector's desk: opening one on a flag's file or
officer, the case's page (notes, closing with an outcome), the list of cases and its CSV, and a
case's printable A4 report for a disciplinary file.

Reviewers only, and never the officer a case is about (``domain.flag_case.may_work_on``): the
read model leaves their cases out of what they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.errors import AccessDenied, DomainError, NotFound
from domain.flag_case import FlagCase, FlagCaseNotFound, Outcome, Subject, may_work_on
from domain.organisation import Directory, Staff
from projections.flag_cases import CaseEntry, CaseRow
from projections.red_flags import Period, Thresholds, dossier_facts, officer_facts
from web.analytics import csv_response
from web.audit import EventRow, event_row
from web.clerk import refuse_access, services_of, staff_only
from web.formatting import local_time
from web.i18n import gettext as _
from web.i18n import in_locale, pick, unit_name
from web.labels import Label
from web.red_flags import (
    CASE_OUTCOMES,
    NOT_A_REVIEWER,
    NoSuchFlag,
    flag_texts,
    open_desk,
    parse_period,
    thresholds_of,
)
from web.services import Services
from web.templating import render

STATES: dict[str, Label] = {
    "open": Label("Đang xem xét", "Under review"),
    "closed": Label("Đã đóng", "Closed"),
}
ENTRY_KINDS: dict[str, Label] = {
    "opened": Label("Mở vụ việc", "Case opened"),
    "note": Label("Ghi chú", "Note"),
    "closed": Label("Đóng vụ việc", "Case closed"),
    "reopened": Label("Mở lại vì có dữ kiện mới", "Reopened on new facts"),
}
NOT_ON_THE_FLAG = DomainError(
    "Cảnh báo này không còn nêu hồ sơ hay cán bộ đó trong kỳ đã chọn; hãy tải lại trang.",
    "This flag no longer names that file or officer in the chosen period; reload the page.")


@dataclass(frozen=True)
class CaseLine:
    """A case as the list and the case's page show it."""

    case_id: UUID
    flag_key: str
    flag: Label
    subject: Subject
    subject_id: str
    subject_name: str  # the dossier's code or the officer's name
    procedure: str
    opened_at: datetime
    outcome: Label | None
    closed_at: datetime | None
    version: int

    @property
    def is_open(self) -> bool:
        return self.outcome is None


@dataclass(frozen=True)
class EntryLine:
    kind: Label
    actor: str
    text: str | None  # a note, as typed
    outcome: Label | None
    at: datetime


def _dossiers(services: Services, ids: list[str]) -> dict[str, dict[str, str]]:
    """Code and procedure of the dossiers some cases are about, from the review model."""
    if not ids:
        return {}
    names = {f"d{n}": UUID(i) for n, i in enumerate(ids)}
    rows = services.read_models.review.rows(
        "review_dossier", "dossier_id IN (" + ", ".join(f"%({k})s" for k in names) + ")",
        names)
    return {str(r["dossier_id"]): {"code": str(r["code"]),
                                   "procedure_code": str(r["procedure_code"])} for r in rows}


def _person(d: Directory, user_id: str) -> str:
    member = d.staff.get(user_id)
    return member.full_name if member else _("(cán bộ không còn trong danh bạ)")


def _lines(services: Services, cases: list[CaseRow]) -> list[CaseLine]:
    d = services.directory
    texts = flag_texts(thresholds_of(services))
    dossiers = _dossiers(services, [c.subject_id for c in cases
                                    if c.subject is Subject.DOSSIER])
    lines = []
    for c in cases:
        procedure = ""
        if c.subject is Subject.DOSSIER:
            row = dossiers.get(c.subject_id, {})
            name = row.get("code", _("(hồ sơ không tìm thấy)"))
            p = d.procedures.get(row.get("procedure_code", ""))
            procedure = in_locale(p.name_vi, p.name_en) if p else ""
        else:
            name = _person(d, c.subject_id)
            member = d.staff.get(c.subject_id)
            procedure = unit_name(d, member.unit_code) if member else ""
        flag = texts[c.flag_kind][0] if c.flag_kind in texts else Label(c.flag_kind,
                                                                         c.flag_kind)
        lines.append(CaseLine(c.case_id, c.flag_kind, flag, c.subject, c.subject_id, name,
                              procedure, c.opened_at,
                              CASE_OUTCOMES[c.outcome.value] if c.outcome else None,
                              c.closed_at, c.version))
    return lines


def _entries(services: Services, entries: list[CaseEntry]) -> list[EntryLine]:
    d = services.directory
    return [EntryLine(ENTRY_KINDS[e.kind], _person(d, e.actor_id),
                      e.text if e.kind == "note" else None,
                      CASE_OUTCOMES.get(e.text or "") if e.kind == "closed" else None, e.at)
            for e in entries]


def _case_id(request: Request) -> UUID:
    try:
        return UUID(request.path_params["case_id"])
    except ValueError:
        raise FlagCaseNotFound() from None


def _case_line(services: Services, staff: Staff, case_id: UUID) -> CaseLine:
    row = services.read_models.flag_cases.case(case_id, staff.user_id)
    if row is None:
        raise FlagCaseNotFound()
    return _lines(services, [row])[0]


# ---- opening a case on a flag ----------------------------------------------------------------

@staff_only
async def open_case(request: Request, staff: Staff) -> Response:
    """Take up a flag on one of its files or officers: a new case, the same subject's open
    case, or its closed case reopened on new facts."""
    services = services_of(request)
    if not staff.may_review:
        return refuse_access(request, staff, NOT_A_REVIEWER)
    form = await request.form()
    key = request.path_params["flag"]
    subject_id = str(form.get("subject_id", ""))
    try:
        subject = Subject(str(form.get("subject", "")))
    except ValueError:
        subject = Subject.DOSSIER
    try:
        period = parse_period(request, services.today())
        if key not in flag_texts(Thresholds()):
            raise NoSuchFlag()
        facts = await run_in_threadpool(_facts, request, key, period, subject, subject_id)
        existing = await run_in_threadpool(
            services.read_models.flag_cases.case, FlagCase.create_id(key, subject, subject_id),
            staff.user_id)
        if existing is not None and existing.outcome is None:
            return RedirectResponse(f"/red-flags/cases/{existing.case_id}", status_code=303)
        outcome = await run_in_threadpool(lambda: services.app.open_flag_case(
            actor_id=staff.user_id, flag_kind=key, subject=subject, subject_id=subject_id,
            facts_fingerprint=facts))
    except AccessDenied as denied:
        return refuse_access(request, staff, denied)
    except NotFound as missing:
        return render(request, "error.html", {"error": missing}, status_code=404)
    except DomainError as refusal:
        return render(request, "error.html", {"error": refusal}, status_code=422)
    await run_in_threadpool(services.read_models.wait_for_flag_case, outcome.notification_id)
    return RedirectResponse(f"/red-flags/cases/{outcome.case_id}", status_code=303)


def _facts(request: Request, key: str, period: Period, subject: Subject,
           subject_id: str) -> str:
    """The facts the flag stands on for this subject, as the flag computes them now (never
    taken from the form)."""
    services = services_of(request)
    desk = open_desk(request, period, thresholds_of(services))
    # The flag less what closed cases settled: a file raised for several steps is opened on
    # its first line not yet settled.
    flag = next((f for f in desk.flags if f.key == key), None)
    if flag is not None and subject is Subject.DOSSIER:
        lines = [x for x in flag.dossiers if x.dossier_id == subject_id]
        if lines:
            return dossier_facts(key, lines[0])
    if flag is not None and subject is Subject.OFFICER:
        rate = next((o for o in flag.officers if o.officer_id == subject_id), None)
        if rate is not None:
            return officer_facts(key, rate)
    raise NOT_ON_THE_FLAG


# ---- the list of cases -----------------------------------------------------------------------

def _chosen_cases(request: Request, services: Services, staff: Staff) -> tuple[
        list[CaseLine], str, str]:
    flag = request.query_params.get("flag") or ""
    state = request.query_params.get("state") or ""
    rows = services.read_models.flag_cases.cases_for(
        staff.user_id, flag if flag in flag_texts(Thresholds()) else None)
    if state in STATES:
        rows = [c for c in rows if (c.outcome is None) == (state == "open")]
    return _lines(services, rows), flag, state


@staff_only
def case_list(request: Request, staff: Staff) -> Response:
    if not staff.may_review:
        return refuse_access(request, staff, NOT_A_REVIEWER)
    services = services_of(request)
    lines, flag, state = _chosen_cases(request, services, staff)
    texts = flag_texts(thresholds_of(services))
    return render(request, "flag_cases.html", {
        "cases": lines, "flag": flag, "state": state, "states": STATES,
        "flags": [(k, v[0]) for k, v in texts.items()],
        "query": urlencode({k: v for k, v in (("flag", flag), ("state", state)) if v})})


@staff_only
def case_list_csv(request: Request, staff: Staff) -> Response:
    if not staff.may_review:
        return refuse_access(request, staff, NOT_A_REVIEWER)
    services = services_of(request)
    lines, _flag, _state = _chosen_cases(request, services, staff)
    header = ["Cảnh báo / Flag", "Đối tượng / Subject", "Hồ sơ hoặc cán bộ / File or officer",
              "Thủ tục hoặc đơn vị / Procedure or unit", "Mở lúc / Opened",
              "Kết quả / Outcome", "Đóng lúc / Closed", "Vụ việc / Case"]
    rows = [[pick(c.flag),
             _("Hồ sơ") if c.subject is Subject.DOSSIER else _("Cán bộ"),
             c.subject_name, c.procedure, local_time(c.opened_at),
             pick(c.outcome) if c.outcome else pick(STATES["open"]),
             local_time(c.closed_at) if c.closed_at else "",
             f"/red-flags/cases/{c.case_id}"] for c in lines]
    return csv_response(header, rows, f"hoso-cases-{services.today()}.csv")


# ---- one case --------------------------------------------------------------------------------

def _case_context(services: Services, staff: Staff, case_id: UUID) -> dict[str, object]:
    case = _case_line(services, staff, case_id)
    texts = flag_texts(thresholds_of(services))
    return {"case": case, "explanation": texts[case.flag_key][1] if case.flag_key in texts
            else None,
            "entries": _entries(services, services.read_models.flag_cases.timeline(case_id)),
            "outcomes": CASE_OUTCOMES, "may_work": may_work_on(staff, case.subject,
                                                               case.subject_id)}


@staff_only
def case_page(request: Request, staff: Staff) -> Response:
    if not staff.may_review:
        return refuse_access(request, staff, NOT_A_REVIEWER)
    return _show_case(request, staff, None, 200)


def _show_case(request: Request, staff: Staff, error: DomainError | None, status_code: int,
               typed: str = "") -> Response:
    services = services_of(request)
    try:
        context = _case_context(services, staff, _case_id(request))
    except NotFound as missing:
        return render(request, "error.html", {"error": missing}, status_code=404)
    return render(request, "flag_case.html", {**context, "error": error, "typed": typed},
                  status_code=status_code)


async def _act(request: Request, staff: Staff, what: str) -> Response:
    if not staff.may_review:
        return refuse_access(request, staff, NOT_A_REVIEWER)
    form = await request.form()
    # Everything after the body in the thread pool: the read model and the store block.
    return await run_in_threadpool(_record, request, staff, what, form)


def _record(request: Request, staff: Staff, what: str, form: FormData) -> Response:
    services = services_of(request)
    typed = str(form.get("note", ""))
    try:
        case_id = _case_id(request)
        # The officer concerned cannot find their case: to them it does not exist.
        if services.read_models.flag_cases.case(case_id, staff.user_id) is None:
            raise FlagCaseNotFound()
        if what == "note":
            outcome = services.app.write_flag_case_note(case_id, actor_id=staff.user_id,
                                                        note=typed)
        else:
            outcome = services.app.close_flag_case(
                case_id, actor_id=staff.user_id, outcome=str(form.get("outcome", "")))
    except AccessDenied as denied:
        return refuse_access(request, staff, denied)
    except NotFound as missing:
        return render(request, "error.html", {"error": missing}, status_code=404)
    except DomainError as refusal:
        return _show_case(request, staff, refusal, 422, typed)
    services.read_models.wait_for_flag_case(outcome.notification_id)
    return RedirectResponse(f"/red-flags/cases/{case_id}", status_code=303)


@staff_only
async def write_note(request: Request, staff: Staff) -> Response:
    return await _act(request, staff, "note")


@staff_only
async def close_case(request: Request, staff: Staff) -> Response:
    return await _act(request, staff, "close")


# ---- the printable report --------------------------------------------------------------------

@staff_only
def case_report(request: Request, staff: Staff) -> Response:
    """One case on A4 for a disciplinary file: the facts, the file's timeline from its audit
    trail (the view is recorded like any audit), the notes and the outcome."""
    if not staff.may_review:
        return refuse_access(request, staff, NOT_A_REVIEWER)
    services = services_of(request)
    try:
        case_id = _case_id(request)
        context = _case_context(services, staff, case_id)
    except NotFound as missing:
        return render(request, "error.html", {"error": missing}, status_code=404)
    case = context["case"]
    assert isinstance(case, CaseLine)
    trail: list[EventRow] = []
    if case.subject is Subject.DOSSIER:
        try:
            audit = services.app.audit_trail(UUID(case.subject_id), inspector_id=staff.user_id)
        except (DomainError, ValueError):
            audit = None
        if audit is not None:
            trail = [event_row(e, services, len(audit.events)) for e in audit.events]
    return render(request, "flag_case_report.html", {
        **context, "trail": trail, "printed_by": staff.full_name,
        "printed_at": services.now(), "outcome_states": Outcome})
