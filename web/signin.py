"""Staff sign-in and sign-out: the password, then the one-time code for accounts that use
a second factor (web/two_factor.py); limits on failures per account and per address; every
attempt recorded. Both are full page loads, never htmx."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.organisation import Directory, Staff
from web import two_factor
from web.clerk import safe_next, services_of
from web.labels import Label
from web.services import Services
from web.sessions import SIGNED_IN_AT, client_address
from web.templating import render


def signin_form(request: Request) -> Response:
    return render(request, "signin.html", {"next": safe_next(request.query_params.get("next"))})


SIGN_IN_WINDOW = timedelta(minutes=15)
SIGN_IN_FAILURES_PER_ACCOUNT = 5
SIGN_IN_FAILURES_PER_ADDRESS = 20
_TOO_MANY_SIGN_INS = Label(
    "Đăng nhập sai quá nhiều lần. Vui lòng đợi 15 phút rồi thử lại, hoặc liên hệ quản trị "
    "viên.",
    "Too many failed sign-ins. Please wait 15 minutes and try again, or contact an "
    "administrator.")


@dataclass(frozen=True)
class SignInRefused:
    status: int
    error: Label
    retry_after: int = 0


@dataclass(frozen=True)
class SignedIn:
    """Who signed in, with their unit's names: read from the directory in the thread pool,
    never on the event loop (tests/test_event_loop.py)."""
    staff: Staff
    unit_name: str
    unit_name_en: str

    @classmethod
    def of(cls, staff: Staff, directory: Directory) -> SignedIn:
        unit = directory.units.get(staff.unit_code)
        name = directory.unit_name(staff.unit_code)
        return cls(staff, name, unit.name_en if unit else name)


@dataclass(frozen=True)
class CodeNeeded:
    """The password was right and the account uses a second factor: ask for the code."""
    user_id: str


# What the session holds between a right password and the one-time code.
PENDING_SIGN_IN = "pending_sign_in"
_CODE_TOO_LATE = Label(
    "Đã quá 5 phút kể từ khi nhập mật khẩu. Vui lòng đăng nhập lại.",
    "More than 5 minutes have passed since the password was entered. Please sign in again.")


async def signin(request: Request) -> Response:
    form = await request.form()
    # No account name holds a NUL, and PostgreSQL text refuses one: dropped before anything.
    user_id = str(form.get("username", "")).replace("\x00", "").strip()[:200]
    password = str(form.get("password", ""))
    next_path = safe_next(str(form.get("next", "")))
    services = services_of(request)
    address = client_address(request.scope)
    # argon2 is deliberately slow and the attempt is recorded: keep both off the event loop.
    verdict = await run_in_threadpool(_check_sign_in, services, user_id, password, address)
    if isinstance(verdict, SignInRefused):
        return _refused(request, "signin.html", verdict,
                        {"next": next_path, "username": user_id})
    if isinstance(verdict, CodeNeeded):
        # A session with no user yet: it opens nothing but the code form, for five minutes.
        request.session.clear()
        request.session[PENDING_SIGN_IN] = {
            "user_id": verdict.user_id, "since": datetime.now(UTC).isoformat(),
            "next": next_path}
        return RedirectResponse("/signin/code", status_code=303)
    _begin_session(request, verdict)
    return RedirectResponse(next_path, status_code=303)


def signin_code_form(request: Request) -> Response:
    if _pending_sign_in(request) is None:
        return RedirectResponse("/signin", status_code=303)
    return render(request, "signin_code.html", {})


async def signin_code(request: Request) -> Response:
    form = await request.form()
    pending = _pending_sign_in(request)
    if pending is None:
        request.session.pop(PENDING_SIGN_IN, None)
        return render(request, "signin.html", {"next": "/dossiers", "error": _CODE_TOO_LATE},
                      status_code=401)
    user_id, next_path = pending
    verdict = await run_in_threadpool(_check_code, services_of(request), user_id,
                                      str(form.get("code", "")), client_address(request.scope))
    if isinstance(verdict, SignInRefused):
        return _refused(request, "signin_code.html", verdict, {})
    _begin_session(request, verdict)
    return RedirectResponse(next_path, status_code=303)


def _refused(request: Request, template: str, refusal: SignInRefused,
             context: dict[str, Any]) -> Response:
    return render(request, template, {**context, "error": refusal.error},
                  status_code=refusal.status,
                  headers={"Retry-After": str(refusal.retry_after)}
                  if refusal.retry_after else None)


def _pending_sign_in(request: Request) -> tuple[str, str] | None:
    """The user and the page to go to, while the password is less than 5 minutes old."""
    pending = request.session.get(PENDING_SIGN_IN)
    if not isinstance(pending, dict):
        return None
    try:
        since = datetime.fromisoformat(str(pending["since"]))
    except (KeyError, ValueError):
        return None
    if datetime.now(UTC) - since > two_factor.CODE_WAIT:
        return None
    return str(pending.get("user_id", "")), safe_next(str(pending.get("next", "")))


def _begin_session(request: Request, signed_in: SignedIn) -> None:
    staff, unit_name = signed_in.staff, signed_in.unit_name
    request.session.clear()
    request.session.update({
        SIGNED_IN_AT: datetime.now(UTC).isoformat(),  # a new value: a new session id
        "user": {
            "id": staff.user_id, "name": staff.full_name,
            "unit_name": unit_name,
            # The menu shows the unit in the page's language (web/i18n.py).
            "unit_name_en": signed_in.unit_name_en,
            # For the menu only; every route checks roles itself.
            "administers": staff.administers,
            "reviews": staff.may_review,
            "signs": staff.may_sign,
            "carries_the_post": staff.carries_the_post,
        },
    })


def _too_many_failures(services: Services, user_id: str, address: str,
                       now: datetime) -> SignInRefused | None:
    """Refused without checking anything once an account or an address has failed too
    often lately (wrong passwords and wrong codes alike); the refusal is recorded too."""
    sessions = services.sessions
    since = now - SIGN_IN_WINDOW
    if (sessions.failures_since(since, user_id=user_id) >= SIGN_IN_FAILURES_PER_ACCOUNT
            or sessions.failures_since(since, address=address)
            >= SIGN_IN_FAILURES_PER_ADDRESS):
        sessions.record_attempt(user_id=user_id, address=address, succeeded=False,
                                outcome="refused: too many failures", now=now)
        return SignInRefused(429, _TOO_MANY_SIGN_INS, int(SIGN_IN_WINDOW.total_seconds()))
    return None


def _check_sign_in(services: Services, user_id: str, password: str,
                   address: str) -> SignedIn | SignInRefused | CodeNeeded:
    """The staff member and their unit's name if the password is right (and the account
    has no second factor); else the refusal, or the code to ask for. Every attempt is
    recorded."""
    now = datetime.now(UTC)
    refusal = _too_many_failures(services, user_id, address, now)
    if refusal is not None:
        return refusal
    directory = services.directory
    ok = services.accounts.verify(user_id, password) and user_id in directory.staff
    if ok and services.accounts.uses_second_factor(user_id):
        services.sessions.record_attempt(
            user_id=user_id, address=address, succeeded=True,
            outcome="password right; one-time code asked", now=now)
        return CodeNeeded(user_id)
    services.sessions.record_attempt(
        user_id=user_id, address=address, succeeded=ok,
        outcome="signed in" if ok else "wrong user name or password", now=now)
    if ok:
        staff = directory.staff[user_id]
        return SignedIn.of(staff, directory)
    return SignInRefused(401, Label("Sai tên đăng nhập hoặc mật khẩu.",
                                    "Wrong user name or password."))


def _check_code(services: Services, user_id: str, code: str,
                address: str) -> SignedIn | SignInRefused:
    now = datetime.now(UTC)
    refusal = _too_many_failures(services, user_id, address, now)
    if refusal is not None:
        return refusal
    directory = services.directory
    ok = services.accounts.check_code(user_id, code, now) and user_id in directory.staff
    services.sessions.record_attempt(
        user_id=user_id, address=address, succeeded=ok,
        outcome="signed in with a one-time code" if ok else "wrong or reused one-time code",
        now=now)
    if ok:
        staff = directory.staff[user_id]
        return SignedIn.of(staff, directory)
    return SignInRefused(401, Label(
        "Mã xác thực không đúng hoặc đã dùng. Hãy nhập mã đang hiện trong ứng dụng xác thực.",
        "Wrong or already used code. Enter the code your authenticator app shows now."))


def signout(request: Request) -> Response:
    # Clearing the session ends it on the server too (web/sessions.py).
    request.session.clear()
    return RedirectResponse("/signin", status_code=303)
