"""The citizen's "submit online" path (dịch vụ công trực tuyến), no sign-in.

1. ``/online``: the procedures offered online.
2. ``/online/<code>``: the email or phone to confirm; a one-time code is sent to it.
3. The same page then asks for everything else — the applicant, a file for each document of
   the published list, how to receive the result — and the code; one POST submits it all.
   Nothing is kept before that POST succeeds (an abandoned form leaves only an expiring code
   digest), and a double submit returns the first submission (the form's request id).
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from domain.dossier import ResultDelivery
from domain.errors import DomainError, NotFound
from domain.one_time_codes import CodePurpose
from domain.organisation import Procedure
from domain.text import clean_email, clean_phone
from web.documents import read_form, scans_of, upload_size_refusal
from web.labels import Label
from web.services import Services
from web.sessions import client_address
from web.templating import render

HEADERS = {"X-Robots-Tag": "noindex", "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer"}
_SLOW_DOWN = Label("Bạn thao tác quá nhiều lần trong thời gian ngắn. Vui lòng thử lại sau.",
                   "Too many attempts in a short time. Please try again later.")


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _online_procedure(services: Services, code: str) -> Procedure:
    procedure = services.directory.procedure(code)
    if not procedure.online:
        raise NotFound("Thủ tục này chưa nhận hồ sơ trực tuyến.",
                       "This procedure is not offered online.")
    return procedure


def limited(request: Request, services: Services, key: str | None = None) -> Response | None:
    """Over the public limit: per client address, or per ``key`` (a dossier code, a contact)."""
    allowed, retry_after = services.public_limit.allow(key or client_address(request.scope))
    if allowed:
        return None
    return render(request, "error.html", {"error": _SLOW_DOWN}, status_code=429,
                  headers=HEADERS | {"Retry-After": str(retry_after)})


def procedures(request: Request) -> Response:
    services = services_of(request)
    offered = [p for p in services.directory.procedures.values() if p.online]
    return render(request, "online/procedures.html", {"procedures": offered},
                  headers=HEADERS)


def contact_of(value: str) -> str:
    """An email address or a phone number, cleaned; refused when it is neither."""
    value = value.strip()
    if "@" in value:
        email = clean_email(value)
        if email:
            return email
    return clean_phone(value)


def form(request: Request) -> Response:
    services = services_of(request)
    try:
        procedure = _online_procedure(services, request.path_params["code"])
    except NotFound as missing:
        return render(request, "error.html", {"error": missing}, status_code=404,
                      headers=HEADERS)
    return render(request, "online/form.html", {"procedure": procedure, "form": {}},
                  headers=HEADERS)


async def send_code(request: Request) -> Response:
    form_data = await request.form(max_files=0, max_fields=20)
    return await run_in_threadpool(_send_code, request, form_data)


def _send_code(request: Request, form_data: FormData) -> Response:
    services = services_of(request)
    if (slow := limited(request, services)) is not None:
        return slow
    values = {k: str(v) for k, v in form_data.items()}
    try:
        procedure = _online_procedure(services, request.path_params["code"])
    except NotFound as missing:
        return render(request, "error.html", {"error": missing}, status_code=404,
                      headers=HEADERS)
    try:
        contact = contact_of(values.get("contact", ""))
        challenge = services.codes.issue(CodePurpose.SUBMIT, contact, services.now())
        services.code_sender.send_code(contact, challenge.code, "nộp hồ sơ trực tuyến",
                                       "online submission")
    except DomainError as error:
        return render(request, "online/form.html", {
            "procedure": procedure, "form": values, "error": error}, status_code=422,
            headers=HEADERS)
    return render(request, "online/form.html", {
        "procedure": procedure, "contact": contact, "challenge_id": challenge.challenge_id,
        "form": {"request_id": uuid4().hex,
                 "applicant_email" if "@" in contact else "applicant_phone": contact},
    }, headers=HEADERS)


async def submit(request: Request) -> Response:
    if (too_large := upload_size_refusal(request)) is not None:
        return render(request, "error.html", {"error": too_large}, status_code=413,
                      headers=HEADERS)
    form_data = await read_form(request)
    return await run_in_threadpool(_submit, request, form_data)


def _submit(request: Request, form_data: FormData) -> Response:
    services = services_of(request)
    if (slow := limited(request, services)) is not None:
        return slow
    try:
        procedure = _online_procedure(services, request.path_params["code"])
    except NotFound as missing:
        return render(request, "error.html", {"error": missing}, status_code=404,
                      headers=HEADERS)
    values: dict[str, Any] = {k: str(v) for k, v in form_data.items() if isinstance(v, str)}
    contact = values.get("contact", "")
    challenge_id = values.get("challenge_id", "")

    def confirm(addresses: list[str]) -> None:
        if contact not in addresses:
            raise DomainError("Email hoặc số điện thoại khác với địa chỉ đã nhận mã.",
                              "The email or phone differs from the one the code was sent to.")
        services.codes.spend(challenge_id, values.get("code", ""), CodePurpose.SUBMIT,
                             contact, services.now())

    try:
        outcome = services.app.submit_online(
            procedure_code=procedure.code,
            applicant_name=values.get("applicant_name", ""),
            applicant_phone=values.get("applicant_phone", ""),
            applicant_address=values.get("applicant_address", ""),
            applicant_id_number=values.get("applicant_id_number", ""),
            applicant_email=values.get("applicant_email", ""),
            result_delivery=values.get("result_delivery", ResultDelivery.COUNTER.value),
            postal_address=values.get("postal_address", ""),
            attachments=scans_of(form_data, procedure), confirm_contact=confirm,
            idempotency_key=values.get("request_id", ""))
    except DomainError as error:
        return render(request, "online/form.html", {
            "procedure": procedure, "form": values, "contact": contact,
            "challenge_id": challenge_id, "error": error}, status_code=422, headers=HEADERS)
    services.read_models.wait(outcome.notification_id)
    dossier = services.app.dossier(outcome.dossier_id)
    link = services.public_link(dossier.tracking_token)
    return render(request, "online/submitted.html", {
        "code": dossier.code, "link": link, "procedure": procedure}, headers=HEADERS)
