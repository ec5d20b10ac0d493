"""Getting back in without the QR code: the dossier code and the email or phone given,
then a one-time code sent there, opens the same public page as the QR.

The answer never tells whether a dossier code exists or matches: a code is "sent" either
way (only a real match receives one), and the confirmation form looks the same. Requests
are limited per client address, per dossier code and per contact.
"""

from __future__ import annotations

from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.errors import DomainError
from domain.one_time_codes import CodePurpose, CodeRefused
from web.documents import document_response
from web.labels import Label
from web.online import HEADERS, contact_of, limited, services_of
from web.templating import render

_NO_MATCH_SENT = Label(
    "Nếu mã hồ sơ và email hoặc số điện thoại khớp với hồ sơ, mã xác nhận đã được gửi đến đó.",
    "If the dossier code and the email or phone match a dossier, a confirmation code was "
    "sent there.")


def _subject(code: str, contact: str) -> str:
    return f"{code.strip().upper()}|{contact}"


def lookup_form(request: Request) -> Response:
    return render(request, "online/lookup.html", {"form": {}}, headers=HEADERS)


async def lookup(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=20)
    return await run_in_threadpool(_lookup, request, form)


def _lookup(request: Request, form: FormData) -> Response:
    services = services_of(request)
    values = {k: str(v) for k, v in form.items()}
    code = values.get("dossier_code", "").strip().upper()[:40]
    if (slow := limited(request, services, f"lookup-code:{code}")) is not None:
        return slow
    try:
        contact = contact_of(values.get("contact", ""))
        if (slow := limited(request, services, f"lookup-contact:{contact}")) is not None:
            return slow
        challenge = services.codes.issue(CodePurpose.LOOKUP, _subject(code, contact),
                                         services.now())
        if services.lookup_match(code, contact) is not None:
            services.code_sender.send_code(contact, challenge.code, "tra cứu hồ sơ " + code,
                                           "look up dossier " + code)
    except DomainError as error:
        return render(request, "online/lookup.html", {"form": values, "error": error},
                      status_code=422, headers=HEADERS)
    return render(request, "online/lookup.html", {
        "form": values, "challenge_id": challenge.challenge_id, "notice": _NO_MATCH_SENT,
        "dossier_code": code, "contact": contact}, headers=HEADERS)


async def confirm(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=20)
    return await run_in_threadpool(_confirm, request, form)


def _confirm(request: Request, form: FormData) -> Response:
    services = services_of(request)
    if (slow := limited(request, services)) is not None:
        return slow
    values = {k: str(v) for k, v in form.items()}
    code = values.get("dossier_code", "").strip().upper()[:40]
    contact = values.get("contact", "")
    try:
        services.codes.spend(values.get("challenge_id", ""), values.get("code", ""),
                             CodePurpose.LOOKUP, _subject(code, contact), services.now())
        found = services.lookup_dossier(code, contact)
        if found is None:
            raise CodeRefused()  # a lucky guess on a code never sent opens nothing
    except DomainError as error:
        return render(request, "online/lookup.html", {
            "form": values, "challenge_id": values.get("challenge_id", ""),
            "dossier_code": code, "contact": contact, "error": error},
            status_code=422, headers=HEADERS)
    dossier_id, token = found
    if not services.app.has_online_result(dossier_id):
        return RedirectResponse(f"/t/{token}", status_code=303, headers=HEADERS)
    # The code just typed proves the contact: it earns one download, on a grant of its own
    # (spent by the download), so the status page's QR token alone never hands it out.
    grant = services.codes.issue(CodePurpose.DOWNLOAD, str(dossier_id), services.now())
    return render(request, "online/result.html", {
        "dossier_code": code, "dossier_id": dossier_id, "status_link": f"/t/{token}",
        "challenge_id": grant.challenge_id, "grant": grant.code}, headers=HEADERS)


async def download_result(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    return await run_in_threadpool(_download_result, request, form)


def _download_result(request: Request, form: FormData) -> Response:
    """The electronic result, once per grant earned by a one-time code; recorded as a
    download (the first is the delivery) before a byte is sent."""
    services = services_of(request)
    values = {k: str(v) for k, v in form.items()}
    try:
        dossier_id = UUID(values.get("dossier_id", ""))
    except ValueError:
        dossier_id = UUID(int=0)
    # Limited per dossier: a grant is needed anyway, and a household behind one address
    # downloading its results should not use up the address's look-ups.
    if (slow := limited(request, services, f"download:{dossier_id}")) is not None:
        return slow
    try:
        services.codes.spend(values.get("challenge_id", ""), values.get("grant", ""),
                             CodePurpose.DOWNLOAD, str(dossier_id), services.now())
        opened = services.app.download_result(dossier_id)
    except DomainError as error:
        return render(request, "online/lookup.html", {"form": {}, "error": error},
                      status_code=422, headers=HEADERS)
    return document_response(opened)
