"""Administration: units, staff and procedures, changed through the organisation register."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.errors import AccessDenied, DomainError
from domain.fees import parse_amount
from domain.organisation import Role, Staff, UnitKind
from projections.outbox import Channel, Status
from web.accounts import MIN_PASSWORD_LENGTH, check_password
from web.clerk import refuse_access, services_of, staff_only
from web.formatting import vnd
from web.i18n import gettext as _
from web.i18n import in_locale, pick
from web.labels import ROLES, Label, label
from web.services import Services
from web.templating import render

_NOT_ADMIN = AccessDenied("Trang quản trị chỉ dành cho quản trị viên.",
                          "The administration page is for administrators.")


@dataclass(frozen=True)
class RegisterEntry:
    occurred_at: datetime
    admin_id: str
    summary: str


@dataclass(frozen=True)
class OutboxRow:
    channel: Label
    pending: int
    delivered: int
    failed: int


@dataclass(frozen=True)
class ProblemRow:
    last_attempt_at: datetime | None
    channel: Label
    kind: str
    code: str
    recipient: str  # the partner for a webhook; never the citizen's address
    attempts: int
    given_up: bool
    error: str


@dataclass(frozen=True)
class SubscriptionRow:
    partner_id: str
    url: str
    follows: str
    created_at: datetime


_CHANNELS = {Channel.EMAIL: Label("Email công dân", "Citizens' email"),
             Channel.WEBHOOK: Label("Webhook đối tác", "Partners' webhooks")}


def _outbox(services: Services) -> dict[str, object]:
    """What the outbox owes and what failed: for administrators only (this page's rule)."""
    outbox = services.read_models.outbox
    counts = {(c.channel, c.status): c.count for c in outbox.counts()}
    partners = {s.id: s.partner_id for s in outbox.subscriptions(include_removed=True)}
    return {
        "outbox_rows": [OutboxRow(label, *(counts.get((channel.value, status.value), 0)
                                           for status in Status))
                        for channel, label in _CHANNELS.items()],
        "outbox_problems": [
            ProblemRow(m.last_attempt_at, _CHANNELS[m.channel], m.kind, m.code,
                       partners.get(m.recipient, "?") if m.channel is Channel.WEBHOOK
                       else _("người nộp"), m.attempts, m.status is Status.FAILED,
                       m.last_error or "")
            for m in outbox.problems()],
        "subscriptions": [
            SubscriptionRow(s.partner_id, s.url, ", ".join(
                v for v in (s.unit_code, s.procedure_code) if v), s.created_at)
            for s in outbox.subscriptions()],
    }


def _page(request: Request, error: DomainError | Label | None = None,
          status_code: int = 200) -> Response:
    services = services_of(request)
    d = services.directory
    history = [
        RegisterEntry(e.occurred_at, e.actor_id, _summary(e.__dict__, type(e).__name__))
        for e in reversed(services.app.register_history())
    ]
    return render(request, "admin.html", {
        "units": list(d.units.values()), "staff": list(d.staff.values()),
        "procedures": list(d.procedures.values()), "roles": [r.value for r in Role],
        "kinds": [k.value for k in UnitKind], "history": history, "error": error,
        "unit_names": {u.code: in_locale(u.name_vi, u.name_en) for u in d.units.values()},
    } | _outbox(services), status_code=status_code)


def _summary(details: dict[str, object], kind: str) -> str:
    if kind == "StaffAppointed":
        return _("Bổ nhiệm/cập nhật %(user)s (%(name)s) tại %(unit)s, vai trò %(roles)s") % {
            "user": details["user_id"], "name": details["full_name"],
            "unit": details["unit_code"],
            "roles": ", ".join(pick(label(ROLES, str(r)))
                               for r in details["roles"])}  # type: ignore[attr-defined]
    if kind == "StaffDeactivated":
        return _("Vô hiệu hóa %(user)s: %(reason)s") % {
            "user": details["user_id"], "reason": details["reason"]}
    if kind == "UnitAdded":
        return _("Thêm đơn vị %(code)s — %(name)s") % {
            "code": details["code"], "name": details["name_vi"]}
    if kind == "ProcessingTimeSet":
        return _("Thời hạn thủ tục %(code)s: %(days)s ngày làm việc (%(basis)s)") % {
            "code": details["procedure_code"], "days": details["processing_days"],
            "basis": details["legal_basis"]}
    if kind == "FeeScheduleSet":
        amount = details["amount_vnd"]
        return _("Lệ phí thủ tục %(code)s: %(fee)s (%(basis)s)") % {
            "code": details["procedure_code"],
            "fee": vnd(amount) if isinstance(amount, int)
            else in_locale(str(details["rule_vi"]), str(details["rule_en"])),
            "basis": details["legal_basis"]}
    return kind


@staff_only
def admin_page(request: Request, staff: Staff) -> Response:
    if not staff.administers:
        return refuse_access(request, staff, _NOT_ADMIN)
    return _page(request)


@staff_only
async def admin_action(request: Request, staff: Staff) -> Response:
    if not staff.administers:
        return refuse_access(request, staff, _NOT_ADMIN)
    form = await request.form()
    # The rest reads and writes the store: off the event loop (tests/test_event_loop.py).
    return await run_in_threadpool(_admin_action, request, staff, form)


def _admin_action(request: Request, staff: Staff, form: FormData) -> Response:
    services = services_of(request)
    app = services.app

    def text(name: str) -> str:
        return str(form.get(name, "")).strip()

    def days() -> int:
        try:
            return int(text("processing_days"))
        except ValueError:
            raise DomainError("Thời hạn phải là số ngày.", "Enter a number of days.") from None

    actions = {
        "appoint": lambda: app.appoint_staff(
            admin_id=staff.user_id, user_id=text("user_id"), full_name=text("full_name"),
            unit_code=text("unit_code"), roles=[str(r) for r in form.getlist("roles")]),
        "deactivate": lambda: app.deactivate_staff(
            admin_id=staff.user_id, user_id=text("user_id"), reason=text("reason")),
        "add_unit": lambda: app.add_unit(
            admin_id=staff.user_id, code=text("code"), agency_code=text("agency_code"),
            name_vi=text("name_vi"), name_en=text("name_en"), kind=text("kind")),
        "processing_time": lambda: app.set_processing_time(
            admin_id=staff.user_id, procedure_code=text("procedure_code"),
            processing_days=days(), legal_basis=text("legal_basis")),
        "fee_schedule": lambda: app.set_fee_schedule(
            admin_id=staff.user_id, procedure_code=text("procedure_code"),
            amount_vnd=parse_amount(text("amount_vnd")), legal_basis=text("legal_basis"),
            rule_vi=text("rule_vi"), rule_en=text("rule_en"),
            exemptions_vi=text("exemptions_vi"), exemptions_en=text("exemptions_en")),
    }
    action = actions.get(request.path_params["action"])
    if action is None:
        return _page(request, Label("Thao tác không tồn tại.", "There is no such action."), 404)
    password = text("password") if request.path_params["action"] == "appoint" else ""
    try:
        # Before the appointment: a refused password must not leave an appointed member
        # behind without one.
        if password:
            check_password(password)
    except ValueError:
        return _page(request, Label(
            f"Mật khẩu cần ít nhất {MIN_PASSWORD_LENGTH} ký tự.",
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters."), 422)
    try:
        action()
        if password:
            services.accounts.set_password(text("user_id").lower(), password)
    except AccessDenied as denied:
        return refuse_access(request, staff, denied)
    except DomainError as error:
        return _page(request, error, 422)
    return RedirectResponse("/admin", status_code=303)
