"""My signing key: a signing officer registers a key (sealed with a passphrase) or revokes it.

An administrator may revoke anyone's key (an officer who left, a passphrase given away);
nobody can register a key for someone else, since only its owner knows the passphrase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.errors import AccessDenied, DomainError
from domain.organisation import Staff
from domain.signing import RegisteredKey
from web.clerk import refuse_access, services_of, staff_only
from web.labels import Label
from web.templating import render

_NOT_A_SIGNER = AccessDenied(
    "Trang khóa ký dành cho người có thẩm quyền ký và quản trị viên.",
    "The signing-key page is for signing officers and administrators.")


@dataclass(frozen=True)
class KeyRow:
    key_id: str
    user_id: str
    unit_code: str
    registered_at: datetime
    revoked_at: datetime | None
    revoke_reason: str

    @classmethod
    def of(cls, key: RegisteredKey) -> KeyRow:
        return cls(key.key_id, key.user_id, key.unit_code, key.registered_at, key.revoked_at,
                   key.revoke_reason)


def _may_use(staff: Staff) -> bool:
    return staff.may_manage_signing_keys


def _page(request: Request, staff: Staff, *, error: DomainError | Label | None = None,
          done: Label | None = None, status_code: int = 200) -> Response:
    app = services_of(request).app
    mine = [KeyRow.of(k) for k in app.signing_keys(staff.user_id)]
    # Administrators revoke others' keys: they see every signing officer's.
    others = ([KeyRow.of(k) for s in services_of(request).directory.staff.values()
               if s.may_sign and s.user_id != staff.user_id for k in app.signing_keys(s.user_id)]
              if staff.administers else [])
    return render(request, "signing_key.html", {
        "mine": list(reversed(mine)), "others": others, "may_register": staff.may_sign
        and all(k.revoked_at is not None for k in mine), "error": error, "done": done,
    }, status_code=status_code)


@staff_only
def signing_key_page(request: Request, staff: Staff) -> Response:
    if not _may_use(staff):
        return refuse_access(request, staff, _NOT_A_SIGNER)
    return _page(request, staff)


@staff_only
async def register_key(request: Request, staff: Staff) -> Response:
    if not _may_use(staff):
        return refuse_access(request, staff, _NOT_A_SIGNER)
    form = await request.form()
    passphrase = str(form.get("passphrase", ""))
    if passphrase != str(form.get("passphrase_again", "")):
        return await run_in_threadpool(
            _page, request, staff, status_code=422,
            error=Label("Hai lần nhập mật khẩu khóa ký không khớp.",
                        "The two passphrases do not match."))
    try:
        await run_in_threadpool(services_of(request).app.register_signing_key,
                                officer_id=staff.user_id, passphrase=passphrase)
    except AccessDenied as denied:
        return refuse_access(request, staff, denied)
    except DomainError as refusal:
        return await run_in_threadpool(_page, request, staff, error=refusal, status_code=422)
    return RedirectResponse("/signing-key?registered=1", status_code=303)


@staff_only
async def revoke_key(request: Request, staff: Staff) -> Response:
    if not _may_use(staff):
        return refuse_access(request, staff, _NOT_A_SIGNER)
    form = await request.form()
    try:
        await run_in_threadpool(services_of(request).app.revoke_signing_key,
                                actor_id=staff.user_id, key_id=str(form.get("key_id", "")),
                                reason=str(form.get("reason", "")))
    except AccessDenied as denied:
        return refuse_access(request, staff, denied)
    except DomainError as refusal:
        return await run_in_threadpool(_page, request, staff, error=refusal, status_code=422)
    return RedirectResponse("/signing-key?revoked=1", status_code=303)
