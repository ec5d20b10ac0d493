"""Clerk pages: sign in, list, receive, act on a dossier, print the receipt.

Each handler parses the form, calls one application method, and renders a page or partial.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid4

from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.application import Attachment, DossierSnapshot, HistoryEntry, Outcome
from domain.documents import check_upload
from domain.dossier import CITIZEN, RESULT_DOCUMENT, Action, AttachmentPurpose
from domain.errors import AccessDenied, ConcurrentChange, DomainError, NotFound
from domain.fees import FeeSchedule, parse_amount
from domain.organisation import MediaType, Procedure, Staff
from domain.portal import PortalReport, portal_report
from domain.promise import Promise
from domain.reading import Page, ReadingNotRecorded
from web import figures
from web.documents import (
    document_response,
    read_form,
    scans_of,
    typed_files,
    upload_size_refusal,
    uploads,
)
from web.formatting import (
    filesize,
    local_date,
    local_time,
    parse_day,
    parse_local_datetime,
    typed,
    vnd,
)
from web.i18n import gettext as _
from web.i18n import ngettext, pick, unit_name
from web.labels import (
    DELIVERY_FAILURES,
    DISPATCH_METHODS,
    EVENTS,
    PAYMENT_METHODS,
    SATISFACTION,
    Label,
    label,
)
from web.qr import qr_svg
from web.services import Services
from web.templating import render

access_log = logging.getLogger("hoso.access")

_NOT_RECEPTION = AccessDenied("Đơn vị hoặc vai trò của bạn không tiếp nhận hồ sơ.",
                              "Your unit or role does not receive dossiers.")


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _signed_in_staff(request: Request) -> Staff | None:
    user = request.session.get("user")
    return services_of(request).directory.staff.get(user["id"]) if user else None


def _to_signin(request: Request) -> Response:
    target = quote(request.url.path)
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": f"/signin?next={target}"})
    return RedirectResponse(f"/signin?next={target}", status_code=303)


def staff_only(handler: Callable[[Request, Staff], Any]) -> Callable[[Request], Any]:
    """Pass the signed-in staff member to the handler, or send the visitor to sign in."""
    if inspect.iscoroutinefunction(handler):
        @wraps(handler)
        async def async_wrapper(request: Request) -> Response:
            # The directory may read the store: never on the event loop, which one slow
            # read (a database outage) would stop for every request.
            staff = await run_in_threadpool(_signed_in_staff, request)
            return await handler(request, staff) if staff else _to_signin(request)

        return async_wrapper

    @wraps(handler)
    def wrapper(request: Request) -> Response:
        staff = _signed_in_staff(request)
        return handler(request, staff) if staff else _to_signin(request)  # type: ignore[no-any-return]

    return wrapper


def refuse_access(request: Request, staff: Staff | None, error: DomainError) -> Response:
    """Every refused access is answered in words and logged."""
    access_log.warning("access refused: user=%s unit=%s %s %s: %s",
                       staff.user_id if staff else "-", staff.unit_code if staff else "-",
                       request.method, request.url.path, error.en)
    if staff is not None and "dossier_id" in request.path_params and is_htmx(request):
        # Refused an action on a dossier they may see: keep them on its panel.
        return _render_dossier(request, staff, error=error, status_code=403)
    return render(request, "error.html", {"error": error}, status_code=403)


def _load_snapshot(request: Request, staff: Staff,
                   page: Page = Page.DOSSIER) -> DossierSnapshot | Response:
    """The dossier as this staff member may see it, or the page that says why not.

    Opening a page (GET) is recorded as a reading; the panel sent back after an action is
    not, since the action itself is on record.
    """
    app = services_of(request).app
    try:
        if request.method == "GET":
            return app.open_dossier(dossier_id_of(request), viewer_id=staff.user_id, page=page)
        return app.snapshot(dossier_id_of(request), viewer_id=staff.user_id)
    except ReadingNotRecorded as unrecorded:
        return render(request, "error.html", {"error": unrecorded}, status_code=503)
    except NotFound as missing:
        return render(request, "error.html", {"error": missing}, status_code=404)
    except AccessDenied as denied:
        access_log.warning("access refused: user=%s unit=%s %s %s: %s", staff.user_id,
                           staff.unit_code, request.method, request.url.path, denied.en)
        return render(request, "error.html", {"error": denied}, status_code=403)


def safe_next(value: str | None) -> str:
    # Only paths on this site, never another host.
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return "/dossiers"


# ---- dossier list --------------------------------------------------------------------

@staff_only
def dossier_list(request: Request, staff: Staff) -> Response:
    services = services_of(request)
    scope = request.query_params.get("scope", "mine")
    stage = request.query_params.get("stage") or None
    code = (request.query_params.get("code") or "").strip() or None
    own_unit_only = staff.sees_only_the_post or (scope != "all" and not code)
    rows = services.read_models.dossier_list.dossiers(
        holder_unit=staff.unit_code if own_unit_only else None, stage=stage, code=code,
    )
    context = {
        "rows": rows, "scope": scope, "stage": stage, "code": code or "",
        "today": services.today(), "directory": services.directory,
        "can_receive": bool(services.directory.procedures_received_by(staff)),
    }
    if is_htmx(request):
        return render(request, "dossiers/_table.html", context)
    return render(request, "dossiers.html", context)


# ---- receive -------------------------------------------------------------------------

def _procedures_for(services: Services, staff: Staff) -> list[Procedure]:
    return services.directory.procedures_received_by(staff)


@staff_only
def receive_form(request: Request, staff: Staff) -> Response:
    services = services_of(request)
    procedures = _procedures_for(services, staff)
    if not procedures:
        return refuse_access(request, staff, _NOT_RECEPTION)
    chosen = services.directory.procedures.get(
        request.query_params.get("procedure_code", ""), procedures[0])
    context = {"procedures": procedures, "procedure": chosen,
               "form": {"request_id": uuid4().hex}}
    if is_htmx(request):
        return render(request, "receive/_documents.html", context)
    return render(request, "receive.html", context)


@staff_only
async def receive(request: Request, staff: Staff) -> Response:
    if (too_large := upload_size_refusal(request)) is not None:
        return render(request, "error.html", {"error": too_large}, status_code=413)
    form = await read_form(request)
    # Everything after reading the body may read the store: off the event loop, which one
    # slow read (a database outage) would stop for every request (tests/test_event_loop.py).
    return await run_in_threadpool(_receive, request, staff, form)


def _receive(request: Request, staff: Staff, form: FormData) -> Response:
    services = services_of(request)
    if not _procedures_for(services, staff):
        return refuse_access(request, staff, _NOT_RECEPTION)
    documents = form.getlist("documents") + str(form.get("other_documents", "")).splitlines()
    pickup_address = str(form.get("pickup_address", "")).strip()
    try:
        procedure = services.directory.procedure(str(form.get("procedure_code", "")))
        if pickup_address:
            # A citizen on the phone: the post collects the dossier; the counter receives it
            # when the post hands it over (the receipt is printed then).
            asked = services.app.request_pickup(
                actor_id=staff.user_id, procedure_code=procedure.code,
                applicant_name=str(form.get("applicant_name", "")),
                applicant_phone=str(form.get("applicant_phone", "")),
                applicant_address=str(form.get("applicant_address", "")),
                applicant_email=str(form.get("applicant_email", "")),
                pickup_address=pickup_address, documents=[str(d) for d in documents],
                idempotency_key=str(form.get("request_id", "")) or None)
            services.read_models.wait(asked.notification_id)
            return RedirectResponse(f"/dossiers/{asked.dossier_id}", status_code=303)
        outcome = services.app.receive(
            attachments=scans_of(form, procedure),
            actor_id=staff.user_id,
            procedure_code=str(form.get("procedure_code", "")),
            applicant_name=str(form.get("applicant_name", "")),
            applicant_phone=str(form.get("applicant_phone", "")),
            applicant_address=str(form.get("applicant_address", "")),
            applicant_id_number=str(form.get("applicant_id_number", "")),
            applicant_email=str(form.get("applicant_email", "")),
            channel=str(form.get("channel", "counter")),
            documents=[str(d) for d in documents],
            occurred_at=parse_local_datetime(str(form.get("occurred_at", ""))),
            idempotency_key=str(form.get("request_id", "")) or None,
        )
    except AccessDenied as denied:
        return refuse_access(request, staff, denied)
    except DomainError as error:
        procedures = _procedures_for(services, staff)
        chosen = services.directory.procedures.get(str(form.get("procedure_code", "")))
        return render(request, "receive.html", {
            "procedures": procedures, "procedure": chosen or procedures[0],
            "form": _form_values(form), "error": error,
        }, status_code=422)
    services.read_models.wait(outcome.notification_id)
    return RedirectResponse(f"/dossiers/{outcome.dossier_id}/receipt", status_code=303)


def _form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: str(v) for k, v in form.items()
                              if not isinstance(v, UploadFile)}
    values["documents"] = [str(d) for d in form.getlist("documents")]
    return values


# ---- one dossier ---------------------------------------------------------------------

@dataclass(frozen=True)
class PrintLink:
    href: str
    text: Label


@dataclass(frozen=True)
class HistoryRow:
    event: Label
    occurred_at: datetime
    recorded_at: datetime
    actor_name: str
    unit_name: str
    summary: str
    print_link: PrintLink | None = None


@dataclass(frozen=True)
class DossierPage:
    snapshot: DossierSnapshot
    procedure_vi: str
    procedure_en: str
    receiving_unit_name: str
    holder_unit_name: str
    holder_officer_name: str | None
    pending_from_name: str | None
    late: bool
    portal: PortalReport
    history: list[HistoryRow]
    actions: list[str]
    transfer_units: list[tuple[str, str]]
    suggested_unit: str | None
    officers: list[tuple[str, str]]
    public_link: str
    document_list: tuple[Any, ...] = ()
    # The result's verification page, for the QR printed on it: offered to the officer who
    # signs (to put on the result before signing it) and once a result is attached.
    verify_link: str | None = None
    verify_qr: str | None = None


def event_summary(kind: str, details: dict[str, Any], services: Services) -> Markup:
    """One line on what an event did, in the request's language (web/i18n.py); what people
    typed (notes, reasons, documents, names) is marked as written in Vietnamese."""
    d = services.directory

    def said(template: str, **values: object) -> Markup:
        return Markup(escape(template)) % values

    if kind == "Transferred":
        to = unit_name(d, details["to_unit"])
        officer = details.get("to_officer")
        text = said("→ %(to)s", to=to) + (
            said(" (%(name)s)", name=d.staff[officer].full_name) if officer in d.staff else "")
        if details.get("off_route"):
            text += said(" [%(off)s]", off=_("ngoài quy trình"))
        return text + (said(" — %(note)s", note=typed(details["note"]))
                       if details.get("note") else "")
    if kind == "Signed":
        return said(_("Số %(number)s: %(title)s"), number=details["decision_number"],
                    title=typed(details["decision_title"]))
    if kind == "Dispatched":
        method = pick(label(DISPATCH_METHODS, details["method"]))
        number = details.get("postal_tracking_number")
        return said("%(method)s", method=method) + (
            said(", " + _("mã bưu gửi %(number)s"), number=number) if number else "")
    if kind == "Delivered":
        return said(_("Người nhận: %(name)s"), name=typed(details["recipient_name"]))
    if kind == "CollectedByPost":
        return said(_("Mã bưu gửi %(number)s"), number=details["postal_tracking_number"]) + \
            said(": %(items)s", items=typed(", ".join(details["items"])))
    if kind in ("HandedToCounter", "ReturnedToCounter"):
        return said("→ %(to)s", to=unit_name(d, details["to_unit"]))
    if kind == "DeliveryRedirected":
        return typed(details["address"]) if details["address"] else Markup(escape(
            _("Nhận tại quầy")))
    if kind == "DeliveryAttemptFailed":
        return said(_("Lần %(attempt)s: %(reason)s"), attempt=details["attempt"],
                    reason=pick(label(DELIVERY_FAILURES, details["reason"])))
    if kind == "ReceivedFromPost":
        giver = d.staff[details["handed_over_by"]].full_name \
            if details["handed_over_by"] in d.staff else details["handed_over_by"]
        return said(_("Bưu điện giao: %(name)s; thời gian chuyển phát %(transit)s; hẹn trả "
                      "%(due)s"), name=giver, transit=_hours(details["transit"]),
                    due=local_date(details["due_date"]))
    if kind == "TransferAccepted":
        return said(_("Từ %(unit)s; thời gian đi đường %(transit)s; hạn bước này %(due)s"),
                    unit=unit_name(d, details["from_unit"]), transit=_hours(details["transit"]),
                    due=local_time(details["step_due_at"]))
    if kind == "SupplementRequested":
        outside = set(details.get("outside_list") or ())
        items = Markup(", ").join(
            typed(item) + (said(" [%(outside)s]", outside=_("ngoài danh mục công bố"))
                           if item in outside else "")
            for item in details["missing_items"])
        text = said(_("Lần %(number)s: %(items)s — %(reason)s"),
                    number=details["request_number"], items=items,
                    reason=typed(details["reason"]))
        return text + (said(" (" + _("lý do yêu cầu lại: %(why)s") + ")",
                            why=typed(details["justification"]))
                       if details.get("justification") else "")
    if kind == "SupplementProvided":
        return typed(", ".join(details["documents"])) + "; " + said(ngettext(
            "tạm dừng %(num)s ngày làm việc, hẹn trả mới %(due)s",
            "tạm dừng %(num)s ngày làm việc, hẹn trả mới %(due)s",
            details["paused_working_days"]), num=details["paused_working_days"],
            due=local_date(details["due_date"]))
    if kind == "Extended":
        return said(_("Hẹn trả %(before)s → %(after)s"),
                    before=local_date(details["previous_due_date"]),
                    after=local_date(details["due_date"])) + said(
            " — %(reason)s", reason=typed(details["reason"]))
    if kind == "Rejected":
        return typed(details["reasons"])
    if kind == "Rated":
        text = said("%(satisfaction)s (%(n)s/5)",
                    satisfaction=pick(SATISFACTION[details["satisfaction"]]),
                    n=details["satisfaction"])
        if details["came_back"]:
            text += "; " + _("phải đi lại nhiều lần")
        if details["unofficial_request"]:
            text += "; " + _("bị đòi hỏi ngoài quy định")
        return text + (said(" — “%(comment)s”", comment=typed(details["comment"]))
                       if details["comment"] else "")
    if kind == "Withdrawn":
        return typed(details["reason"])
    if kind == "DocumentAttached":
        text = typed(f"{details['document_type']}: {details['file_name']}") + said(
            " (%(size)s)", size=filesize(details["size"]))
        return text + (said(" [%(outside)s]", outside=_("ngoài danh mục công bố"))
                       if details["outside_list"]
                       and details.get("purpose") != AttachmentPurpose.RESULT.value else "")
    if kind == "PaymentRequested":
        return said("%(amount)s — ", amount=vnd(details["amount_vnd"])) + typed(
            details["reason"])
    if kind == "FeePaid":
        text = said(_("%(amount)s, %(method)s, số %(number)s"),
                    amount=vnd(details["amount_vnd"]),
                    method=pick(label(PAYMENT_METHODS, details["method"])),
                    number=details["receipt_number"])
        return text + (said("; " + ngettext(
            "tạm dừng %(num)s ngày làm việc, hẹn trả mới %(due)s",
            "tạm dừng %(num)s ngày làm việc, hẹn trả mới %(due)s",
            details["paused_working_days"]), num=details["paused_working_days"],
            due=local_date(details["due_date"])) if details["resumed"] else "")
    if kind == "FeeRefunded":
        return said(_("%(amount)s, phiếu chi số %(number)s — "), amount=vnd(details["amount_vnd"]),
                    number=details["receipt_number"]) + typed(details["reason"])
    if kind == "Received":
        return said(_("Mã hồ sơ %(code)s, hẹn trả %(due)s"), code=details["code"],
                    due=local_date(details["due_date"]))
    return Markup("")


def _hours(delta: timedelta) -> str:
    # Decimals as the page's language writes them ("6,4 giờ", "6.4 hours").
    return figures.elapsed(delta)


def _print_link(dossier_id: UUID, h: HistoryEntry) -> PrintLink | None:
    """The slip a step hands the citizen, to print from the history."""
    if h.kind == "Extended":
        return PrintLink(f"/dossiers/{dossier_id}/apology/{h.details['extension_number']}",
                         Label("In phiếu xin lỗi", "Print the apology letter"))
    if h.kind == "SupplementRequested":
        return PrintLink(f"/dossiers/{dossier_id}/supplement/{h.details['request_number']}",
                         Label("In phiếu yêu cầu bổ sung (mẫu 02)",
                               "Print the supplement request slip (form 02)"))
    if h.kind == "RefusedToReceive":
        return PrintLink(f"/dossiers/{dossier_id}/refusal",
                         Label("In phiếu từ chối tiếp nhận (mẫu 03)",
                               "Print the refusal to receive (form 03)"))
    if h.kind in _STOPPING:
        return PrintLink(f"/dossiers/{dossier_id}/stop-notice",
                         Label("In thông báo dừng giải quyết (mẫu 05)",
                               "Print the notice to stop processing (form 05)"))
    return None


# The steps after which a dossier is no longer processed (form 05 says why).
_STOPPING = ("Rejected", "Withdrawn")


def _dossier_page(services: Services, snapshot: DossierSnapshot) -> DossierPage:
    d = services.directory
    procedure = d.procedure(snapshot.procedure_code)
    return DossierPage(
        snapshot=snapshot,
        procedure_vi=procedure.name_vi,
        procedure_en=procedure.name_en,
        receiving_unit_name=unit_name(d, snapshot.receiving_unit),
        holder_unit_name=unit_name(d, snapshot.holder_unit),
        holder_officer_name=d.staff[snapshot.holder_officer].full_name
        if snapshot.holder_officer in d.staff else None,
        pending_from_name=unit_name(d, snapshot.pending_from_unit)
        if snapshot.pending_from_unit else None,
        late=snapshot.is_late(services.today()),
        portal=portal_report(snapshot.stage, overdue=snapshot.is_late(services.today()),
                             extensions=snapshot.extensions),
        history=[
            HistoryRow(
                event=label(EVENTS, h.kind), occurred_at=h.occurred_at, recorded_at=h.recorded_at,
                actor_name=d.staff[h.actor_id].full_name if h.actor_id in d.staff
                else _("Công dân") if h.actor_id == CITIZEN else h.actor_id,
                unit_name=unit_name(d, h.actor_unit),
                summary=event_summary(h.kind, h.details, services),
                print_link=_print_link(snapshot.id, h),
            )
            for h in reversed(snapshot.history)
        ],
        actions=[a.value for a in snapshot.allowed_actions],
        transfer_units=[(code, unit_name(d, code)) for code in snapshot.transfer_targets],
        suggested_unit=snapshot.suggested_transfer,
        officers=[(s.user_id, f"{s.full_name} — {unit_name(d, s.unit_code)}")
                  for s in d.staff.values()],
        public_link=services.public_link(snapshot.tracking_token),
        document_list=procedure.document_list,
        **_verification(services, snapshot),
    )


def _verification(services: Services, snapshot: DossierSnapshot) -> dict[str, str]:
    if Action.SIGN not in snapshot.allowed_actions and not any(
            a["purpose"] == AttachmentPurpose.RESULT.value for a in snapshot.attachments):
        return {}
    link = f"{services.public_url.rstrip('/')}/verify/{snapshot.id}"
    return {"verify_link": link, "verify_qr": qr_svg(link)}


def dossier_id_of(request: Request) -> UUID:
    try:
        return UUID(request.path_params["dossier_id"])
    except ValueError:
        raise NotFound("Không tìm thấy hồ sơ.", "Dossier not found.") from None


def _render_dossier(request: Request, staff: Staff, *, error: DomainError | None = None,
                    status_code: int = 200) -> Response:
    services = services_of(request)
    snapshot = _load_snapshot(request, staff)
    if isinstance(snapshot, Response):
        return snapshot
    page = _dossier_page(services, snapshot)
    template = "dossier/_panel.html" if is_htmx(request) else "dossier.html"
    return render(request, template, {"page": page, "error": error}, status_code=status_code)


@staff_only
def dossier(request: Request, staff: Staff) -> Response:
    return _render_dossier(request, staff)


def _expected_version(form: FormData) -> int | None:
    try:
        return int(str(form.get("version", "")))
    except ValueError:
        return None


def _lines(form: FormData, name: str) -> list[str]:
    return str(form.get(name, "")).splitlines()


def _date(form: FormData, name: str) -> date:
    try:
        return parse_day(str(form.get(name, "")))
    except ValueError:
        raise DomainError("Ngày không hợp lệ.", "The date is not valid.") from None


# A decision document is a signed PDF of a few pages; anything far larger is a mistake.
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


def _document(form: FormData, name: str) -> bytes | None:
    """The attached file's bytes (only its SHA-256 is recorded), or None if none."""
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    content = upload.file.read(MAX_DOCUMENT_BYTES + 1)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise DomainError("Tệp quyết định quá lớn (tối đa 20 MB).",
                          "The decision file is too large (at most 20 MB).")
    return content or None


def _amount(form: FormData) -> int:
    amount = parse_amount(str(form.get("amount_vnd", "")))
    if amount is None:
        raise DomainError("Hãy ghi số tiền.", "Enter the amount.")
    return amount


def _result_file(form: FormData) -> Attachment | None:
    """The electronic result the signing officer attaches for the citizen: a PDF, checked
    by its bytes like every upload."""
    files = uploads(form, "result")
    if not files:
        return None
    return Attachment(RESULT_DOCUMENT, check_upload(
        files[0].file, files[0].filename or "", files[0].content_type, (MediaType.PDF,)))


def _command(form: FormData, action: Action) -> Callable[..., Outcome]:
    """The application call for one action, with its fields read from the form."""

    def text(name: str) -> str:
        return str(form.get(name, ""))

    commands: dict[Action, Callable[..., Outcome]] = {
        Action.ACCEPT_ONLINE: lambda app, dossier_id, **common: app.accept_online(
            dossier_id, **common),
        Action.REFUSE_TO_RECEIVE: lambda app, dossier_id, **common: app.refuse_to_receive(
            dossier_id, reasons=text("reasons"), **common),
        Action.ACCEPT_TRANSFER: lambda app, dossier_id, **common: app.accept_transfer(
            dossier_id, **common),
        Action.TRANSFER: lambda app, dossier_id, **common: app.transfer(
            dossier_id, to_unit=text("to_unit"), to_officer=text("to_officer") or None,
            note=text("note"), **common),
        Action.REQUEST_SUPPLEMENT: lambda app, dossier_id, **common: app.request_supplement(
            dossier_id,
            missing_items=[str(v) for v in form.getlist("listed_items")]
            + _lines(form, "missing_items"), reason=text("reason"),
            justification=text("justification"), **common),
        Action.PROVIDE_SUPPLEMENT: lambda app, dossier_id, **common: app.provide_supplement(
            dossier_id, documents=_lines(form, "documents"), **common),
        Action.EXTEND: lambda app, dossier_id, **common: app.extend(
            dossier_id, new_due_date=_date(form, "new_due_date"), reason=text("reason"),
            apology=text("apology"), **common),
        Action.SIGN: lambda app, dossier_id, **common: app.sign(
            dossier_id, decision_number=text("decision_number"),
            decision_title=text("decision_title"), passphrase=text("passphrase"),
            document=_document(form, "document"), result=_result_file(form), **common),
        Action.REJECT: lambda app, dossier_id, **common: app.reject(
            dossier_id, reasons=text("reasons"), **common),
        Action.WITHDRAW: lambda app, dossier_id, **common: app.withdraw(
            dossier_id, reason=text("reason"), **common),
        Action.DISPATCH: lambda app, dossier_id, **common: app.dispatch(
            dossier_id, method=text("method"),
            postal_tracking_number=text("postal_tracking_number") or None, **common),
        Action.DELIVER: lambda app, dossier_id, **common: app.deliver(
            dossier_id, recipient_name=text("recipient_name"), **common),
        Action.REQUEST_PAYMENT: lambda app, dossier_id, **common: app.request_payment(
            dossier_id, amount_vnd=_amount(form), reason=text("reason"), **common),
        Action.REFUND: lambda app, dossier_id, **common: app.refund(
            dossier_id, amount_vnd=_amount(form), reason=text("reason"),
            receipt_number=text("receipt_number"), **common),
        Action.RECORD_PAYMENT: lambda app, dossier_id, **common: app.record_payment(
            dossier_id, amount_vnd=_amount(form), method=text("method"),
            receipt_number=text("receipt_number"), **common),
        Action.COLLECT: lambda app, dossier_id, **common: app.collect(
            dossier_id, postal_tracking_number=text("postal_tracking_number"),
            items=_lines(form, "items"), **common),
        Action.HAND_OVER: lambda app, dossier_id, **common: app.hand_over(
            dossier_id, **common),
        Action.RECEIVE_FROM_POST: lambda app, dossier_id, **common: app.receive_from_post(
            dossier_id, **common),
        Action.RECORD_FAILED_DELIVERY: lambda app, dossier_id, **common:
        app.record_failed_delivery(dossier_id, reason=text("reason"), **common),
        Action.REDIRECT_DELIVERY: lambda app, dossier_id, **common: app.redirect_delivery(
            dossier_id, address=text("address").strip() or None, **common),
        Action.RETURN_TO_COUNTER: lambda app, dossier_id, **common: app.return_to_counter(
            dossier_id, **common),
    }
    return commands[action]


@staff_only
async def act(request: Request, staff: Staff) -> Response:
    form = await request.form()
    return await run_in_threadpool(_act, request, staff, form)  # off the event loop


def _act(request: Request, staff: Staff, form: FormData) -> Response:
    try:
        action = Action(request.path_params["action"])
    except ValueError:
        return render(request, "error.html", {"error": Label(
            "Thao tác không tồn tại.", "There is no such action.")}, status_code=404)
    services = services_of(request)
    command = _command(form, action)
    return _answer_dossier_command(request, staff, lambda: command(
        services.app, dossier_id_of(request), expected_version=_expected_version(form),
        actor_id=staff.user_id,
        occurred_at=parse_local_datetime(str(form.get("occurred_at", ""))),
        request_key=str(form.get("request_key", "")) or None,
    ))


def _answer_dossier_command(request: Request, staff: Staff,
                            run: Callable[[], Outcome]) -> Response:
    """Run one command on the dossier of the page and answer as every dossier action does:
    a refused access logged (403), a stale page asked to reload (409), a missing dossier
    (404), a refusal in words on the dossier's panel (422); else the panel once the read
    models have the change (htmx), or the dossier's page."""
    try:
        outcome = run()
    except AccessDenied as denied:
        return refuse_access(request, staff, denied)
    except ConcurrentChange as conflict:
        return _render_dossier(request, staff, error=conflict, status_code=409)
    except NotFound as missing:
        return render(request, "error.html", {"error": missing}, status_code=404)
    except DomainError as refusal:
        return _render_dossier(request, staff, error=refusal, status_code=422)
    services_of(request).read_models.wait(outcome.notification_id)
    if is_htmx(request):
        return _render_dossier(request, staff)
    return RedirectResponse(f"/dossiers/{outcome.dossier_id}", status_code=303)


# ---- attached files ----------------------------------------------------------------

@staff_only
def open_document(request: Request, staff: Staff) -> Response:
    """One attached file, for staff with a part in the dossier and inspectors; recorded."""
    try:
        opened = services_of(request).app.open_document(
            dossier_id_of(request), request.path_params["sha256"], viewer_id=staff.user_id)
    except ReadingNotRecorded as unrecorded:
        return render(request, "error.html", {"error": unrecorded}, status_code=503)
    except AccessDenied as denied:
        return refuse_access(request, staff, denied)
    except NotFound as missing:
        return render(request, "error.html", {"error": missing}, status_code=404)
    return document_response(opened)


@staff_only
async def attach(request: Request, staff: Staff) -> Response:
    if (too_large := upload_size_refusal(request)) is not None:
        return render(request, "error.html", {"error": too_large}, status_code=413)
    form = await read_form(request)
    return await run_in_threadpool(_attach, request, staff, form)


def _attach(request: Request, staff: Staff, form: FormData) -> Response:
    services = services_of(request)

    def attach_files() -> Outcome:
        dossier_id = dossier_id_of(request)
        snapshot = services.app.snapshot(dossier_id, viewer_id=staff.user_id)
        procedure = services.directory.procedure(snapshot.procedure_code)
        return services.app.attach_documents(
            dossier_id, expected_version=_expected_version(form), actor_id=staff.user_id,
            attachments=typed_files(form, procedure),
            request_key=str(form.get("request_key", "")) or None)

    return _answer_dossier_command(request, staff, attach_files)


# ---- receipt -------------------------------------------------------------------------

@dataclass(frozen=True)
class Receipt:
    code: str
    procedure_vi: str
    procedure_en: str
    receiving_unit_name: str
    received_at: datetime
    due_date: date
    documents: list[str]
    applicant_name: str
    channel: str
    public_link: str
    qr_svg: str
    clerk_name: str
    fee_schedule: FeeSchedule | None
    # Where the key checking the promise in the QR code is published (domain/promise.py);
    # None when the code carries the link alone.
    promise_key_url: str | None


@staff_only
def receipt(request: Request, staff: Staff) -> Response:
    services = services_of(request)
    snapshot = _load_snapshot(request, staff, Page.RECEIPT)
    if isinstance(snapshot, Response):
        return snapshot
    d = services.directory
    procedure = d.procedure(snapshot.procedure_code)
    link = services.public_link(snapshot.tracking_token)
    received = snapshot.history[0]
    promise = services.promise_link(snapshot.tracking_token, Promise.printed(
        snapshot, due_date=snapshot.due_date, extension=snapshot.extensions))
    return render(request, "receipt.html", {"receipt": Receipt(
        code=snapshot.code, procedure_vi=procedure.name_vi, procedure_en=procedure.name_en,
        receiving_unit_name=unit_name(d, snapshot.receiving_unit),
        received_at=snapshot.received_at, due_date=snapshot.due_date,
        documents=snapshot.documents, applicant_name=snapshot.applicant["name"],
        channel=snapshot.channel.value, public_link=link, qr_svg=qr_svg(promise),
        clerk_name=d.staff[received.actor_id].full_name
        if received.actor_id in d.staff else received.actor_id,
        fee_schedule=snapshot.fee_schedule, promise_key_url=services.receipt_key_url,
    ), "dossier_id": snapshot.id})


# ---- apology letter --------------------------------------------------------------------

@dataclass(frozen=True)
class ApologyLetter:
    code: str
    procedure_vi: str
    unit_name: str
    applicant_name: str
    received_at: datetime
    previous_due_date: date
    new_due_date: date
    reason: str
    apology: str
    issued_at: datetime
    officer_name: str
    extension_number: int
    # The QR code of the new promise (the new due date, signed like the receipt's).
    qr_svg: str
    promise_key_url: str | None


@staff_only
def apology(request: Request, staff: Staff) -> Response:
    """The printable *phiếu xin lỗi và hẹn lại ngày trả kết quả* for one extension."""
    services = services_of(request)
    snapshot = _load_snapshot(request, staff, Page.APOLOGY)
    if isinstance(snapshot, Response):
        return snapshot
    number = request.path_params["number"]
    extension = next((h for h in snapshot.history if h.kind == "Extended"
                      and str(h.details["extension_number"]) == number), None)
    if extension is None:
        return render(request, "error.html", {"error": Label(
            "Hồ sơ không có lần gia hạn này.", "This dossier has no such extension.")},
            status_code=404)
    d = services.directory
    return render(request, "apology.html", {"letter": ApologyLetter(
        code=snapshot.code, procedure_vi=d.procedure(snapshot.procedure_code).name_vi,
        unit_name=unit_name(d, extension.actor_unit), applicant_name=snapshot.applicant["name"],
        received_at=snapshot.received_at,
        previous_due_date=extension.details["previous_due_date"],
        new_due_date=extension.details["due_date"], reason=extension.details["reason"],
        apology=extension.details["apology"], issued_at=extension.occurred_at,
        officer_name=d.staff[extension.actor_id].full_name
        if extension.actor_id in d.staff else extension.actor_id,
        extension_number=extension.details["extension_number"],
        qr_svg=qr_svg(services.promise_link(snapshot.tracking_token, Promise.printed(
            snapshot, due_date=extension.details["due_date"],
            extension=extension.details["extension_number"]))),
        promise_key_url=services.receipt_key_url,
    ), "dossier_id": snapshot.id})


# ---- supplement request slip (form 02) -------------------------------------------------

@dataclass(frozen=True)
class SlipItem:
    name: str
    outside_list: bool


@dataclass(frozen=True)
class SupplementSlip:
    code: str
    procedure_vi: str
    unit_name: str
    applicant_name: str
    received_at: datetime
    items: list[SlipItem]
    reason: str
    justification: str
    request_number: int
    issued_at: datetime
    officer_name: str


@staff_only
def supplement_slip(request: Request, staff: Staff) -> Response:
    """The printable *phiếu yêu cầu bổ sung, hoàn thiện hồ sơ* (form 02) for one request;
    items outside the procedure's published list are marked as such, as on the citizen's
    page."""
    services = services_of(request)
    snapshot = _load_snapshot(request, staff, Page.SUPPLEMENT_SLIP)
    if isinstance(snapshot, Response):
        return snapshot
    number = request.path_params["number"]
    asked = next((h for h in snapshot.history if h.kind == "SupplementRequested"
                  and str(h.details["request_number"]) == number), None)
    if asked is None:
        return render(request, "error.html", {"error": Label(
            "Hồ sơ không có lần yêu cầu bổ sung này.",
            "This dossier has no such supplement request.")}, status_code=404)
    d = services.directory
    outside = set(asked.details.get("outside_list") or ())
    return render(request, "supplement_slip.html", {"slip": SupplementSlip(
        code=snapshot.code, procedure_vi=d.procedure(snapshot.procedure_code).name_vi,
        unit_name=unit_name(d, asked.actor_unit), applicant_name=snapshot.applicant["name"],
        received_at=snapshot.received_at,
        items=[SlipItem(i, i in outside) for i in asked.details["missing_items"]],
        reason=asked.details["reason"], justification=asked.details["justification"],
        request_number=asked.details["request_number"], issued_at=asked.occurred_at,
        officer_name=d.staff[asked.actor_id].full_name
        if asked.actor_id in d.staff else asked.actor_id,
    ), "dossier_id": snapshot.id})


# ---- refusal to receive (form 03) and notice to stop processing (form 05) ----------------

@dataclass(frozen=True)
class StopNotice:
    """Form 03 or 05: a dossier that will not be (further) processed, and why."""

    form_number: str
    code: str
    procedure_vi: str
    unit_name: str
    applicant_name: str
    received_at: datetime
    reasons: str
    withdrawn: bool
    issued_at: datetime
    officer_name: str


def _stop_notice(request: Request, staff: Staff, page: Page, kinds: tuple[str, ...],
                 template: str, missing: Label) -> Response:
    services = services_of(request)
    snapshot = _load_snapshot(request, staff, page)
    if isinstance(snapshot, Response):
        return snapshot
    step = next((h for h in reversed(snapshot.history) if h.kind in kinds), None)
    if step is None:
        return render(request, "error.html", {"error": missing}, status_code=404)
    d = services.directory
    return render(request, template, {"notice": StopNotice(
        form_number="03" if page is Page.REFUSAL_SLIP else "05",
        code=snapshot.code, procedure_vi=d.procedure(snapshot.procedure_code).name_vi,
        unit_name=unit_name(d, step.actor_unit), applicant_name=snapshot.applicant["name"],
        received_at=step.details.get("submitted_at") or snapshot.received_at,
        reasons=step.details.get("reasons") or step.details.get("reason") or "",
        withdrawn=step.kind == "Withdrawn", issued_at=step.occurred_at,
        officer_name=d.staff[step.actor_id].full_name
        if step.actor_id in d.staff else step.actor_id,
    ), "dossier_id": snapshot.id})


@staff_only
def refusal_slip(request: Request, staff: Staff) -> Response:
    """The printable *phiếu từ chối tiếp nhận hồ sơ* (form 03) of an online submission."""
    return _stop_notice(request, staff, Page.REFUSAL_SLIP, ("RefusedToReceive",),
                        "refusal_slip.html", Label(
                            "Hồ sơ này không bị từ chối tiếp nhận.",
                            "This dossier was not refused at reception."))


@staff_only
def stop_notice(request: Request, staff: Staff) -> Response:
    """The printable notice to stop processing (form 05): refused on its merits or
    withdrawn by the citizen."""
    return _stop_notice(request, staff, Page.STOP_NOTICE, _STOPPING, "stop_notice.html",
                        Label("Hồ sơ này không dừng giải quyết.",
                              "This dossier's processing has not stopped."))
