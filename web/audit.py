"""Inspectors' pages: a dossier's audit trail with its replay and log integrity, the control
slip, and the dossier's proof bundle.

Read only: these pages carry no action forms. Each view (a bundle download too) is recorded
by the application before anything is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from babel.numbers import format_decimal
from markupsafe import Markup, escape
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from domain.audit import (
    AuditEvent,
    AuditTrail,
    ControlSlip,
    FieldChange,
    Handoff,
    MomentState,
    Party,
    Span,
    StepTiming,
    Verdict,
    require_reviewer,
)
from domain.dossier import CITIZEN, Channel, DispatchMethod, Stage
from domain.errors import AccessDenied, DomainError, NotFound
from domain.organisation import Directory, Staff
from domain.reading import Page, ReadingNotRecorded
from domain.transparency.bundle import BundleCheck, check_bundle
from projections.checkpoints import DossierProof
from projections.verify import DossierChain, DossierFinding, FindingKind, verify_dossier
from web.clerk import (
    access_log,
    dossier_id_of,
    event_summary,
    is_htmx,
    services_of,
    staff_only,
)
from web.formatting import (
    datetime_local_input,
    local_date,
    local_time,
    parse_local_datetime,
    typed,
)
from web.i18n import current_locale, in_locale, pick, unit_name
from web.i18n import gettext as _
from web.labels import CHANNELS, DISPATCH_METHODS, EVENTS, PAGES, STAGES, Label, label
from web.services import Services
from web.signatures import SignatureLine
from web.templating import render

# What each state field is called on screen (same names as DossierState's fields).
FIELDS: dict[str, Label] = {
    "code": Label("Mã hồ sơ", "Code"),
    "procedure_code": Label("Thủ tục", "Procedure"),
    "applicant": Label("Người nộp", "Applicant"),
    "channel": Label("Kênh tiếp nhận", "Channel"),
    "documents": Label("Giấy tờ", "Documents"),
    "receiving_unit": Label("Nơi tiếp nhận", "Received at unit"),
    "holder_unit": Label("Đơn vị đang giữ", "Held by unit"),
    "holder_officer": Label("Cán bộ đang giữ", "Held by officer"),
    "stage": Label("Giai đoạn", "Stage"),
    "received_at": Label("Tiếp nhận lúc", "Received at"),
    "due_date": Label("Hẹn trả", "Due date"),
    "decision_number": Label("Số quyết định", "Decision number"),
    "decision_title": Label("Trích yếu quyết định", "Decision title"),
    "signed_at": Label("Ký lúc", "Signed at"),
    "rejected_at": Label("Từ chối lúc", "Refused at"),
    "rejection_reasons": Label("Lý do từ chối", "Reasons for refusal"),
    "step_due_at": Label("Hạn bước hiện tại", "Current step due"),
    "pending_from_unit": Label("Chờ nhận, chuyển từ", "Awaiting acceptance, sent by"),
    "supplement_requests": Label("Số lần yêu cầu bổ sung", "Supplement requests"),
    "paused_at": Label("Tạm dừng từ", "Paused since"),
    "extensions": Label("Số lần gia hạn", "Extensions"),
    "dispatch_method": Label("Cách trả kết quả", "Dispatch method"),
    "postal_tracking_number": Label("Mã bưu gửi", "Postal tracking number"),
    "recipient_name": Label("Người nhận kết quả", "Recipient"),
    "delivered_at": Label("Trao kết quả lúc", "Delivered at"),
    "pickup_address": Label("Địa chỉ bưu điện lấy hồ sơ", "Pick-up address"),
    "collected_at": Label("Bưu điện lấy hồ sơ lúc", "Collected by the post at"),
    "postal_transit": Label("Thời gian chuyển phát đến quầy", "Postal transit to the counter"),
}

SPANS: dict[str, Label] = {
    Span.DESK: Label("Thời gian tại đơn vị", "Desk time"),
    Span.TRANSIT: Label("Thời gian đi đường", "Transit time"),
    Span.POSTAL: Label("Thời gian chuyển phát bưu chính", "Postal transit"),
    Span.HANDOUT: Label("Thời gian trả kết quả", "Hand-out time"),
}

VERDICTS: dict[str, Label] = {
    Verdict.EARLY: Label("Trước hạn", "Ahead of time"),
    Verdict.ON_TIME: Label("Đúng hạn", "On time"),
    Verdict.LATE: Label("Quá hạn", "Late"),
}

# The oldest and newest moment a person could mean; anything else is a typing mistake.
_EARLIEST, _LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


# ---- view objects ------------------------------------------------------------------------

@dataclass(frozen=True)
class TimingView:
    span: Label
    unit_name: str
    office_hours: str
    elapsed: str
    due_at: datetime | None
    verdict: Label | None
    late: bool


@dataclass(frozen=True)
class EventRow:
    position: int
    event: Label
    actor_name: str
    actor_id: str
    unit_name: str
    occurred_at: datetime
    recorded_at: str  # to the second: several events are often recorded in one minute
    summary: str
    timing: TimingView | None
    starts_step_due_at: datetime | None
    included: bool  # already recorded at the chosen moment


@dataclass(frozen=True)
class FieldRow:
    label: Label
    value: str


@dataclass(frozen=True)
class DiffRow:
    label: Label
    before: str
    after: str


@dataclass(frozen=True)
class MomentView:
    requested: str | None  # the moment asked for; None when chosen on the slider
    position: int
    recorded_at: str | None  # when the last event included was recorded
    fields: list[FieldRow]
    message: DomainError | None


@dataclass(frozen=True)
class AuditPage:
    dossier_id: UUID
    code: str
    procedure_vi: str
    procedure_en: str
    events: list[EventRow]
    as_of: MomentView
    compare_to: MomentView | None
    diff: list[DiffRow] | None
    first_recorded_at: str
    last_recorded_at: str
    inputs: dict[str, str]  # what was typed, to show it again
    previous_link: str | None  # the slider's neighbours, for use without JavaScript
    next_link: str | None


@dataclass(frozen=True)
class SlipRow:
    number: int
    giver: str
    receiver: str
    handed_at: datetime
    received_at: datetime | None
    due_at: datetime | None
    due_is_date: bool
    verdict: Label | None
    late: bool
    notes: list[str]


@dataclass(frozen=True)
class SlipPage:
    dossier_id: UUID
    code: str
    procedure_name: str
    receiving_unit_name: str
    applicant_name: str
    received_at: datetime
    due_date: date
    rows: list[SlipRow]
    printed_at: datetime


class Inclusion(StrEnum):
    """Where the dossier stands against the latest signed checkpoint."""

    VERIFIED = "verified"
    FAILED = "failed"
    NOT_YET = "not_yet"  # its entries are newer than the latest checkpoint
    NO_CHECKPOINT = "no_checkpoint"
    UNCHECKED = "unchecked"  # no verifier key to check the signature with


@dataclass(frozen=True)
class ChainProblem:
    what: Label
    detail: str  # the verifier's own words, for whoever digs further


@dataclass(frozen=True)
class ChainView:
    ok: bool
    events: int
    pending: int
    problems: list[ChainProblem]


@dataclass(frozen=True)
class InclusionView:
    state: Inclusion
    tree_size: int | None
    made_at: datetime | None
    root_prefix: str | None
    covered: int  # the dossier's entries in the checkpoint
    logged: int
    problems: list[str]  # the offline verifier's lines, word for word


@dataclass(frozen=True)
class IntegrityView:
    chain: ChainView
    inclusion: InclusionView
    bundle_link: str | None


# ---- formatting --------------------------------------------------------------------------

def local_seconds(value: datetime | None) -> str:
    return local_time(value, seconds=True)


def _value(name: str, value: Any, d: Directory) -> str:
    if value is None or value == "":
        return "—"
    # Units and people by their names, in the reader's language; codes and sign-in names are
    # the system's, not the reader's.
    if name in {"receiving_unit", "holder_unit", "pending_from_unit"}:
        return unit_name(d, value)
    if name == "holder_officer":
        return _person(d, value)
    if name == "procedure_code":
        procedure = d.procedures.get(value)
        if procedure is None:
            return str(value)
        return f"{in_locale(procedure.name_vi, procedure.name_en)} ({value})"
    if isinstance(value, Stage):
        return pick(label(STAGES, value.value))
    if isinstance(value, Channel):
        return pick(label(CHANNELS, value.value))
    if isinstance(value, DispatchMethod):
        return pick(label(DISPATCH_METHODS, value.value))
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, date):
        return local_date(value)
    # What is left is what people typed (applicant, documents, reasons, notes, recipients).
    if isinstance(value, dict):
        return typed(" · ".join(str(v) for v in value.values() if v))
    if isinstance(value, list):
        return typed("; ".join(str(v) for v in value))
    return typed(value)


def _decimal(value: float) -> str:
    return format_decimal(round(value, 1), format="0.0", locale=current_locale())


def _office_hours(hours: float) -> str:
    text = _("%(n)s giờ hành chính") % {"n": _decimal(hours)}
    if hours >= 8:
        text += " (≈ " + _("%(n)s ngày làm việc") % {"n": _decimal(hours / 8)} + ")"
    return text


def _elapsed(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours >= 24:
        return _("%(n)s ngày thực tế") % {"n": _decimal(hours / 24)}
    return _("%(n)s giờ thực tế") % {"n": _decimal(hours)}


def _timing(t: StepTiming, d: Directory) -> TimingView:
    return TimingView(
        span=SPANS[t.span], unit_name=unit_name(d, t.unit_code),
        office_hours=_office_hours(t.office_hours), elapsed=_elapsed(t.elapsed),
        due_at=t.due_at, verdict=VERDICTS[t.verdict] if t.verdict else None,
        late=t.verdict is Verdict.LATE,
    )


def _moment_view(m: MomentState, d: Directory) -> MomentView:
    rows = [] if m.state is None else [
        FieldRow(FIELDS[name], _value(name, getattr(m.state, name), d)) for name in FIELDS
    ]
    return MomentView(local_seconds(m.requested) if m.requested else None, m.position,
                      local_seconds(m.recorded_at) if m.recorded_at else None, rows, m.message)


def _diff(changes: list[FieldChange], d: Directory) -> list[DiffRow]:
    return [DiffRow(FIELDS.get(c.name, Label(c.name, c.name)), _value(c.name, c.before, d),
                    _value(c.name, c.after, d)) for c in changes]


def event_row(e: AuditEvent, services: Services, position: int) -> EventRow:
    d = services.directory
    return EventRow(
        position=e.position, event=label(EVENTS, e.kind), actor_name=_person(d, e.actor_id),
        actor_id=e.actor_id, unit_name=unit_name(d, e.actor_unit), occurred_at=e.occurred_at,
        recorded_at=local_seconds(e.recorded_at),
        summary=event_summary(e.kind, e.details, services),
        timing=_timing(e.timing, d) if e.timing else None,
        starts_step_due_at=e.starts_step_due_at, included=e.position <= position,
    )


def _link(dossier_id: UUID, **params: str | int) -> str:
    return f"/dossiers/{dossier_id}/audit?{urlencode(params)}"


def _audit_page(trail: AuditTrail, services: Services, inputs: dict[str, str]) -> AuditPage:
    d = services.directory
    procedure = d.procedures.get(trail.procedure_code)
    position = trail.as_of.position
    keep = {k: v for k, v in inputs.items() if k in ("compare_to", "compare_position") and v}
    return AuditPage(
        dossier_id=trail.dossier_id, code=trail.code,
        procedure_vi=procedure.name_vi if procedure else trail.procedure_code,
        procedure_en=procedure.name_en if procedure else trail.procedure_code,
        events=[event_row(e, services, position) for e in trail.events],
        as_of=_moment_view(trail.as_of, d),
        compare_to=_moment_view(trail.compare_to, d) if trail.compare_to else None,
        diff=_diff(trail.diff, d) if trail.diff is not None else None,
        first_recorded_at=local_seconds(trail.events[0].recorded_at),
        last_recorded_at=local_seconds(trail.events[-1].recorded_at),
        inputs=inputs,
        previous_link=_link(trail.dossier_id, position=position - 1, **keep)
        if position > 0 else None,
        next_link=_link(trail.dossier_id, position=position + 1, **keep)
        if position < len(trail.events) else None,
    )


def _person(d: Directory, user_id: str | None) -> str:
    """A member of staff by name; the citizen as "the citizen", in the reader's language."""
    if user_id == CITIZEN:
        return _("Công dân")
    member = d.staff.get(user_id or "")
    return member.full_name if member else (user_id or "")


def _party(p: Party | None, d: Directory) -> str:
    if p is None:
        return _("Chưa nhận")
    if p.unit_code is None:
        return Markup(escape(_("Công dân: %(name)s"))) % {"name": typed(p.officer_name)}
    unit = unit_name(d, p.unit_code)
    return f"{p.officer_name} — {unit}" if p.officer_name else unit


def _notes(h: Handoff, services: Services) -> list[str]:
    notes = []
    if h.kind == "Transferred":
        if h.handoff.details.get("off_route"):
            notes.append(_("Ngoài quy trình"))
        if h.handoff.details.get("note"):
            notes.append(typed(h.handoff.details["note"]))
    if h.kind == "Dispatched":
        notes.append(event_summary(h.kind, h.handoff.details, services))
    if h.kind == "Withdrawn":
        notes.append(Markup(escape(_("Rút hồ sơ: %(reason)s")))
                     % {"reason": typed(h.handoff.details["reason"])})
    for e in h.during:
        text = event_summary(e.kind, e.details, services)
        notes.append(escape(pick(label(EVENTS, e.kind))) + (Markup(": ") + text if text else ""))
    return notes


def _slip_page(slip: ControlSlip, services: Services) -> SlipPage:
    d = services.directory
    procedure = d.procedures.get(slip.procedure_code)
    return SlipPage(
        dossier_id=slip.dossier_id, code=slip.code,
        procedure_name=(in_locale(procedure.name_vi, procedure.name_en) if procedure
                        else slip.procedure_code),
        receiving_unit_name=unit_name(d, slip.receiving_unit), applicant_name=slip.applicant_name,
        received_at=slip.received_at, due_date=slip.due_date,
        rows=[SlipRow(
            number=h.number, giver=_party(h.giver, d), receiver=_party(h.receiver, d),
            handed_at=h.handed_at, received_at=h.received_at, due_at=h.due_at,
            due_is_date=h.kind == "Delivered",
            verdict=VERDICTS[h.verdict] if h.verdict else None,
            late=h.verdict is Verdict.LATE, notes=_notes(h, services),
        ) for h in slip.rows],
        printed_at=services.now(),
    )


# ---- log integrity -----------------------------------------------------------------------

_FINDINGS: dict[str, Label] = {
    FindingKind.MODIFIED: Label(
        "sự kiện đang lưu không còn khớp với mục đã ghi trong sổ nhật ký (bị sửa)",
        "the stored event no longer matches its log entry (modified)"),
    FindingKind.DELETED: Label(
        "đã ghi trong sổ nhật ký nhưng sự kiện đã bị xóa khỏi kho (bị xóa)",
        "logged, but its event is gone from the store (deleted)"),
    FindingKind.INSERTED: Label(
        "có trong kho nhưng chưa từng được ghi vào sổ nhật ký (bị chèn)",
        "in the store but never logged (inserted)"),
    FindingKind.REORDERED: Label(
        "sai thứ tự hoặc không nối với mục trước nó (bị đảo)",
        "out of order, or not linked to the entry before it (reordered)"),
}


def _chain_problem(f: DossierFinding) -> ChainProblem:
    kind = label(EVENTS, f.event_type) if f.event_type else Label("không đọc được",
                                                                  "unreadable")
    what = _FINDINGS[f.kind]
    return ChainProblem(
        Label(f"Phiên bản {f.version} ({kind.vi}): {what.vi}.",
              f"Version {f.version} ({kind.en}): {what.en}."), f.detail)


def _chain_view(chain: DossierChain) -> ChainView:
    return ChainView(ok=chain.ok, events=chain.events, pending=chain.pending,
                     problems=[_chain_problem(f) for f in chain.findings])


def _inclusion_state(proof: DossierProof, check: BundleCheck | None) -> Inclusion:
    if proof.problem is not None or (check is not None and not check.ok):
        return Inclusion.FAILED
    if proof.checkpoint is None:
        return Inclusion.NO_CHECKPOINT
    if proof.covered == 0:
        return Inclusion.NOT_YET
    return Inclusion.VERIFIED if check is not None else Inclusion.UNCHECKED


def _inclusion_view(proof: DossierProof, check: BundleCheck | None) -> InclusionView:
    checkpoint = proof.checkpoint
    problems = [proof.problem] if proof.problem else check.failures if check else []
    return InclusionView(
        state=_inclusion_state(proof, check),
        tree_size=checkpoint.tree_size if checkpoint else None,
        made_at=checkpoint.made_at if checkpoint else None,
        root_prefix=checkpoint.root_hash.hex()[:16] if checkpoint else None,
        covered=proof.covered, logged=proof.logged, problems=problems)


def _integrity(services: Services, dossier_id: UUID, code: str) -> IntegrityView:
    """The dossier's events recomputed against its log entries, and those entries checked
    against the latest checkpoint exactly as an outsider checks the downloaded bundle, with
    the installation's key (kept outside the database)."""
    chain = verify_dossier(services.app, services.read_models.transparency_log, dossier_id)
    log = services.transparency
    proof = log.dossier_proof(dossier_id, code)
    check = (check_bundle(proof.bundle, trusted_key=log.verifier_key)
             if proof.bundle is not None else None)
    return IntegrityView(
        chain=_chain_view(chain), inclusion=_inclusion_view(proof, check),
        bundle_link=f"/dossiers/{dossier_id}/proof-bundle.json"
        if proof.bundle is not None else None)


# ---- reading the moments from the query ----------------------------------------------------

def _moment(params: QueryParams, position_name: str, time_name: str) -> datetime | int | None:
    """A position from the slider, or a datetime-local field as the end of the minute (or
    second) typed: an event shown as recorded at 14:30 is part of the record "at 14:30"."""
    position = (params.get(position_name) or "").strip()
    if position:
        if not position.isdigit() or len(position) > 6:
            raise DomainError("Vị trí trên thanh thời gian không hợp lệ.",
                              "The position on the time slider is not valid.")
        return int(position)
    text = (params.get(time_name) or "").strip()
    moment = parse_local_datetime(text)
    if moment is None:
        return None
    try:
        in_range = _EARLIEST <= moment <= _LATEST
    except OverflowError:
        in_range = False
    if not in_range:
        raise DomainError("Thời điểm nằm ngoài khoảng có thể có hồ sơ.",
                          "That moment is outside any time a dossier could exist.")
    clock_part = text.partition("T")[2] or text.partition(" ")[2]
    if clock_part.count(":") < 2:
        return moment + timedelta(minutes=1, microseconds=-1)
    if "." not in clock_part:
        return moment + timedelta(seconds=1, microseconds=-1)
    return moment


def _refused(request: Request, staff: Staff, error: DomainError) -> Response:
    access_log.warning("access refused: user=%s unit=%s %s %s: %s", staff.user_id,
                       staff.unit_code, request.method, request.url.path, error.en)
    return render(request, "error.html", {"error": error}, status_code=403)


def _failed(request: Request, staff: Staff, error: DomainError) -> Response | None:
    """The page for errors that show no dossier at all, or None for a bad moment."""
    if isinstance(error, AccessDenied):
        return _refused(request, staff, error)
    if isinstance(error, NotFound):
        return render(request, "error.html", {"error": error}, status_code=404)
    if isinstance(error, ReadingNotRecorded):
        return render(request, "error.html", {"error": error}, status_code=503)
    return None


@dataclass(frozen=True)
class ReadingLine:
    opened_at: datetime
    viewer_name: str
    unit_name: str
    purpose: str
    page: str


def _readings(services: Services, dossier_id: UUID) -> list[ReadingLine]:
    """Who opened this file (the readings read model may trail the last second's views)."""
    d = services.directory
    return [
        ReadingLine(opened_at=r["opened_at"],
                    viewer_name=d.staff[r["viewer_id"]].full_name if r["viewer_id"] in d.staff
                    else r["viewer_id"],
                    unit_name=unit_name(d, r["viewer_unit"]), purpose=r["purpose"],
                    page=pick(label(PAGES, r["page"])))
        for r in services.read_models.readings.readings_of(str(dossier_id))
    ]


# ---- handlers ----------------------------------------------------------------------------

@staff_only
def audit_trail(request: Request, staff: Staff) -> Response:
    services = services_of(request)
    params = request.query_params
    inputs = {k: params.get(k, "") for k in ("as_of", "compare_to", "position",
                                             "compare_position")}
    problem: DomainError | None = None
    try:
        dossier_id = dossier_id_of(request)
        as_of = _moment(params, "position", "as_of")
        compare_to = _moment(params, "compare_position", "compare_to")
    except NotFound as missing:
        return render(request, "error.html", {"error": missing}, status_code=404)
    except DomainError as bad_input:
        problem, as_of, compare_to = bad_input, None, None
    try:
        trail = services.app.audit_trail(dossier_id, inspector_id=staff.user_id, as_of=as_of,
                                         compare_to=compare_to)
    except DomainError as error:
        if (failure := _failed(request, staff, error)) is not None:
            return failure
        problem = error  # a position beyond the dossier's events: show it as it is now
        try:
            trail = services.app.audit_trail(dossier_id, inspector_id=staff.user_id)
        except DomainError as again:
            return _failed(request, staff, again) or render(
                request, "error.html", {"error": again}, status_code=422)
    page = _audit_page(trail, services, inputs)
    whole_page = not is_htmx(request)
    context = {"page": page, "error": problem,
               "now_input": datetime_local_input(services.now()),
               "readings": _readings(services, dossier_id) if whole_page else [],
               "integrity": _integrity(services, dossier_id, trail.code) if whole_page
               else None,
               "signatures": [SignatureLine.of(s, services.directory)
                              for s in services.app.decision_signatures(dossier_id)]
               if whole_page else []}
    template = "audit.html" if whole_page else "audit/_replay.html"
    return render(request, template, context, status_code=422 if problem else 200)


@staff_only
def control_slip(request: Request, staff: Staff) -> Response:
    services = services_of(request)
    try:
        slip = services.app.control_slip(dossier_id_of(request), inspector_id=staff.user_id)
    except DomainError as error:
        return _failed(request, staff, error) or render(
            request, "error.html", {"error": error}, status_code=422)
    return render(request, "control_slip.html", {"slip": _slip_page(slip, services)})


_NO_BUNDLE = DomainError(
    "Chưa có gói bằng chứng: chưa có mục nào của hồ sơ này nằm trong một điểm kiểm tra đã ký. "
    "Vui lòng thử lại sau khi điểm kiểm tra tiếp theo được ký.",
    "No proof bundle yet: none of this dossier's log entries is in a signed checkpoint. "
    "Please try again once the next checkpoint is signed.")


@staff_only
def proof_bundle(request: Request, staff: Staff) -> Response:
    """The dossier's proof bundle, for ``python -m domain.transparency.check_bundle``; the
    same readers as the audit trail, and recorded like it."""
    services = services_of(request)
    try:
        dossier_id = dossier_id_of(request)
        require_reviewer(staff)
        snapshot = services.app.open_dossier(dossier_id, viewer_id=staff.user_id,
                                             page=Page.PROOF_BUNDLE)
    except DomainError as error:
        return _failed(request, staff, error) or render(
            request, "error.html", {"error": error}, status_code=422)
    proof = services.transparency.dossier_proof(dossier_id, snapshot.code)
    if proof.problem is not None:
        return render(request, "error.html", {"error": DomainError(
            "Không lập được gói bằng chứng: sổ nhật ký không còn như lúc ký "
            "(xem mục Toàn vẹn nhật ký của trang thanh tra).",
            f"No proof bundle can be made: {proof.problem}.")}, status_code=409)
    if proof.bundle is None:
        return render(request, "error.html", {"error": _NO_BUNDLE}, status_code=404)
    return Response(proof.bundle_json(), media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="hoso-proof-{snapshot.code}.json"'})
