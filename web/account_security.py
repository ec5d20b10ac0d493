"""My account's second factor: turn on an authenticator app's one-time codes, or off.

Optional for every staff member. Turning it on shows a QR code of a new secret and puts it in
force only once a code from the app proves the app has it; turning it off needs a current
code, so a session left open is not enough to remove it. A lost phone is an administrator's
``hoso reset-second-factor USER``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.organisation import Staff
from web import two_factor
from web.clerk import services_of, staff_only
from web.labels import Label
from web.qr import qr_svg
from web.templating import render

_WRONG_CODE = Label(
    "Mã không đúng. Hãy nhập mã đang hiện trong ứng dụng xác thực (mỗi mã dùng một lần).",
    "Wrong code. Enter the code your authenticator app shows now (each code works once).")
_DONE = {
    "on": Label("Đã bật xác thực hai bước. Từ lần đăng nhập sau, hoso sẽ hỏi mã.",
                "Two-step sign-in is on. From your next sign-in, hoso asks for a code."),
    "off": Label("Đã tắt xác thực hai bước.", "Two-step sign-in is off."),
}


@dataclass(frozen=True)
class Enrolment:
    """What the page shows while a new secret waits for its first code."""
    qr_svg: str
    secret: str


def _page(request: Request, staff: Staff, *, error: Label | None = None,
          status_code: int = 200) -> Response:
    factor = services_of(request).accounts.second_factor(staff.user_id)
    enrolment = None
    if factor is not None and not factor.confirmed:
        enrolment = Enrolment(
            qr_svg(two_factor.provisioning_uri(factor.secret, staff.user_id)),
            two_factor.grouped(factor.secret))
    done = _DONE.get(request.query_params.get("done", ""))
    return render(request, "two_factor.html", {
        "in_force": factor is not None and factor.confirmed, "enrolment": enrolment,
        "error": error, "done": done,
    }, status_code=status_code)


@staff_only
def two_factor_page(request: Request, staff: Staff) -> Response:
    return _page(request, staff)


@staff_only
async def two_factor_step(request: Request, staff: Staff) -> Response:
    step = request.path_params["step"]
    form = await request.form()
    code = str(form.get("code", ""))
    accounts = services_of(request).accounts
    now = datetime.now(UTC)
    if step == "begin":
        if await run_in_threadpool(accounts.uses_second_factor, staff.user_id):
            return RedirectResponse("/account/two-factor", status_code=303)
        await run_in_threadpool(accounts.begin_second_factor, staff.user_id, now)
        return RedirectResponse("/account/two-factor", status_code=303)
    if step == "confirm":
        if await run_in_threadpool(accounts.confirm_second_factor, staff.user_id, code, now):
            return RedirectResponse("/account/two-factor?done=on", status_code=303)
    elif step == "remove":
        if await run_in_threadpool(accounts.check_code, staff.user_id, code, now):
            await run_in_threadpool(accounts.remove_second_factor, staff.user_id)
            return RedirectResponse("/account/two-factor?done=off", status_code=303)
    else:
        return render(request, "error.html", {"error": Label(
            "Không có thao tác này.", "No such action.")}, status_code=404)
    return await run_in_threadpool(_page, request, staff, error=_WRONG_CODE, status_code=422)
