"""The citizen's status page: no sign-in, no personal data, officers only by unit.

Once the service is over for them, the same page takes the citizen's one rating.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.dossier import RATING_COMMENT_MAX_LENGTH, AlreadyRated, DispatchMethod, Stage
from domain.errors import ConcurrentChange, DomainError, NotFound
from domain.fees import FeeSchedule
from projections.place_in_line import PlaceInLine, place_in_line
from projections.public_status import PublicStatus
from web import figures
from web.feedback import FeedbackPanel, feedback_panel
from web.i18n import locale_of, unit_name
from web.labels import PUBLIC_EVENTS, SATISFACTION, STAGES, Label, label
from web.services import Services
from web.sessions import client_address
from web.signatures import SignatureLine
from web.templating import render

_TOKEN_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_HEADERS = {"X-Robots-Tag": "noindex", "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer"}
# The status page itself may be kept by the citizen's own browser (never a shared cache),
# and is asked for again each time: unchanged, it is answered 304 with no body.
_PAGE_HEADERS = _HEADERS | {"Cache-Control": "private, no-cache"}
# Rendered pages kept per process, keyed by their ETag (see _page_version).
_PAGE_CACHE_SIZE = 2048
# The feedback form's idempotency key is fresh in every response, not once per cached page:
# the page is rendered with this slot and each response gets its own key in its place.
_REQUEST_KEY_SLOT = "request-key-slot-0c1f7a"
# A full comment, percent-encoded, is at most about 12 KB; nothing honest is larger.
_MAX_RATING_BODY = 64 * 1024
_TOO_LARGE = Label(
    f"Nội dung gửi quá dài; góp ý tối đa {RATING_COMMENT_MAX_LENGTH} ký tự.",
    f"What you sent is too long; a comment has at most {RATING_COMMENT_MAX_LENGTH} characters.",
)


_SLOW_DOWN = Label(
    "Bạn tra cứu quá nhiều lần trong thời gian ngắn. Vui lòng thử lại sau ít phút.",
    "Too many lookups in a short time. Please try again in a few minutes.")


@dataclass(frozen=True)
class PublicStepView:
    event: Label
    unit_name: str
    occurred_at: datetime


@dataclass(frozen=True)
class DueDateReason:
    received_on: date
    counted_from: date
    after_cutoff: bool
    working_days: int
    days_off: list[tuple[date, str]]


@dataclass(frozen=True)
class RatingEntry:
    """What the citizen chose and typed, kept when the rating is refused."""

    satisfaction: int | None = None
    came_back: bool = False
    unofficial_request: bool = False
    comment: str = ""

    @classmethod
    def of(cls, form: FormData) -> RatingEntry:
        try:
            satisfaction: int | None = int(str(form.get("satisfaction", "")))
        except ValueError:
            satisfaction = None
        return cls(satisfaction=satisfaction,
                   came_back=form.get("came_back") == "yes",
                   unofficial_request=form.get("unofficial_request") == "yes",
                   comment=str(form.get("comment", "")))


@dataclass(frozen=True)
class RatingPanel:
    url: str
    open: bool  # the form is shown
    thanked: bool  # rated: a thank-you instead of the form
    entered: RatingEntry
    levels: tuple[tuple[int, Label], ...] = tuple(sorted(SATISFACTION.items()))
    comment_max_length: int = RATING_COMMENT_MAX_LENGTH


@dataclass(frozen=True)
class PublicStatusPage:
    procedure_vi: str
    procedure_en: str
    stage: Label
    holder_unit_name: str
    due_date: date
    late: bool
    finished: bool
    postal_tracking_number: str | None
    postal_transit: str | None  # collected at the address → received at the counter
    result_online: bool  # an electronic result to download, after a one-time code
    extensions: int
    notice: dict[str, Any] | None
    due_date_reason: DueDateReason | None
    steps: list[PublicStepView]
    rating: RatingPanel
    signatures: list[SignatureLine]
    fee_schedule: FeeSchedule | None
    feedback: FeedbackPanel
    line: PlaceInLine | None
    amount_owed_vnd: int
    payable_online: bool  # the gateway is set up and something is owed
    returned_from_payment: bool
    pay_url: str


def _reason(basis: dict[str, Any]) -> DueDateReason | None:
    if not basis:
        return None
    return DueDateReason(
        received_on=date.fromisoformat(basis["received_on"]),
        counted_from=date.fromisoformat(basis["counted_from"]),
        after_cutoff=bool(basis["after_cutoff"]),
        working_days=int(basis["working_days"]),
        days_off=[(date.fromisoformat(d), name) for d, name in basis["days_off"]],
    )


def _page(status: PublicStatus, services: Services, token: str, *, thanked: bool = False,
          entered: RatingEntry | None = None, returned: bool = False) -> PublicStatusPage:
    directory = services.directory
    thanked = thanked or status.rated_at is not None
    procedure = directory.procedures.get(status.procedure_code)
    return PublicStatusPage(
        procedure_vi=procedure.name_vi if procedure else status.procedure_code,
        procedure_en=procedure.name_en if procedure else status.procedure_code,
        stage=label(STAGES, status.stage.value),
        holder_unit_name=unit_name(directory, status.holder_unit),
        due_date=status.due_date,
        late=status.is_late(services.today()),
        finished=status.result_ready_at is not None,
        postal_tracking_number=status.postal_tracking_number,
        postal_transit=figures.elapsed(status.postal_transit) if status.postal_transit else None,
        result_online=status.dispatch_method is DispatchMethod.ONLINE,
        extensions=status.extensions,
        notice=status.notice,
        due_date_reason=_reason(status.due_date_basis),
        steps=[
            PublicStepView(label(PUBLIC_EVENTS, s.kind), unit_name(directory, s.unit_code),
                           s.occurred_at)
            for s in reversed(status.steps)
        ],
        rating=RatingPanel(url=f"/t/{token}/rating", open=status.rateable and not thanked,
                           thanked=thanked, entered=entered or RatingEntry()),
        # Checked against the event store and the key register on every view, so a decision
        # or key changed behind hoso's back shows here at once.
        signatures=[SignatureLine.of(s, directory)
                    for s in services.app.decision_signatures(status.dossier_id)]
        if any(step.kind == "Signed" for step in status.steps) else [],
        fee_schedule=status.fee_schedule,
        feedback=feedback_panel(services, token, status.dossier_id),
        line=None if status.result_ready_at is not None else place_in_line(
            services.read_models.review, str(status.dossier_id), services.app.clock(),
            services.app.calendar),
        amount_owed_vnd=status.amount_owed_vnd,
        payable_online=services.vnpay is not None and status.amount_owed_vnd > 0
        and status.stage not in (Stage.DELIVERED, Stage.WITHDRAWN, Stage.NOT_RECEIVED),
        returned_from_payment=returned,
        pay_url=f"/t/{token}/pay",
    )


def find_status(services: Services, token: str) -> PublicStatus | None:
    """The public status a tracking token opens (this page's, and the API's)."""
    # Malformed and unknown tokens get the same answer.
    if 16 <= len(token) <= 64 and set(token) <= _TOKEN_CHARS:
        return services.read_models.public_status.find(token)
    return None


def _not_found(request: Request) -> Response:
    return render(request, "public/not_found.html", {}, status_code=404, headers=_HEADERS)


def _over_limit(request: Request, services: Services) -> Response | None:
    """The 429 page when this client has looked up too much lately; None otherwise."""
    allowed, retry_after = services.public_limit.allow(client_address(request.scope))
    if allowed:
        return None
    return render(request, "error.html", {"error": _SLOW_DOWN}, status_code=429,
                  headers=_HEADERS | {"Retry-After": str(retry_after)})


class RenderedPages:
    """The status pages rendered lately, by ETag: a bounded LRU, shared by the threads of one
    process. Counts its hits for the benchmark's honest hit rate."""

    def __init__(self, size: int = _PAGE_CACHE_SIZE) -> None:
        self.size = size
        self._pages: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, etag: str) -> bytes | None:
        with self._lock:
            body = self._pages.get(etag)
            if body is None:
                self.misses += 1
                return None
            self.hits += 1
            self._pages.move_to_end(etag)
            return body

    def put(self, etag: str, body: bytes) -> None:
        with self._lock:
            self._pages[etag] = body
            self._pages.move_to_end(etag)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)


def rendered_pages(request: Request) -> RenderedPages:
    """This app's cache of status pages (one per app: tests run several in one process)."""
    state = request.app.state
    pages: RenderedPages | None = getattr(state, "rendered_pages", None)
    if pages is None:
        pages = state.rendered_pages = RenderedPages()
    return pages


def _page_version(request: Request, services: Services, token: str,
                  page: PublicStatusPage) -> str:
    """The ETag: a digest of the view the template receives and of what else the rendering
    reads — the language, the session (a signed-in officer's page carries their menu and
    token), the query (the payment-return notice; the language form's way back names it) and
    the minute (hours at the desk, late or not).

    Keyed on the page's own content rather than on the store's head, so a citizen's page stays
    cached while other dossiers move (at a city's ~350 events/s a head-keyed copy would be
    stale before it is asked for again) and still changes with anything it shows: its own
    events, its feedback, its place in line, the signature verdicts checked on this view (a
    key revoked or an event edited behind hoso's back), the directory's names.
    """
    session = request.scope.get("session") or {}
    parts: list[object] = [
        token, locale_of(request), request.url.query,
        session.get("user"), session.get("csrf"),
        services.app.clock().replace(second=0, microsecond=0).isoformat(),
        page,
    ]
    return f'"{hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()}"'


def _page_response(body: bytes, etag: str) -> Response:
    fresh = body.replace(_REQUEST_KEY_SLOT.encode(), uuid4().hex.encode())
    return Response(fresh, media_type="text/html",
                    headers={"Vary": "Cookie", "ETag": etag, **_PAGE_HEADERS})


def status_page(request: Request) -> Response:
    """The page, or 304 when the citizen's copy is still what it would show (the lookup is
    counted against the rate limit either way)."""
    services: Services = request.app.state.services
    if (refused := _over_limit(request, services)) is not None:
        return refused
    token = request.path_params["token"]
    status = find_status(services, token)
    if status is None:
        return _not_found(request)
    page = _page(status, services, token,
                 returned=request.query_params.get("payment") == "returned")
    etag = _page_version(request, services, token, page)
    if etag in (tag.strip() for tag in request.headers.get("if-none-match", "").split(",")):
        return Response(status_code=304,
                        headers={"Vary": "Cookie", "ETag": etag, **_PAGE_HEADERS})
    pages = rendered_pages(request)
    body = pages.get(etag)
    if body is None:
        rendered = render(request, "public/status.html",
                          {"page": page, "new_request_key": lambda: _REQUEST_KEY_SLOT})
        body = bytes(rendered.body)
        pages.put(etag, body)
    return _page_response(body, etag)


def _render_rating(request: Request, page: PublicStatusPage, error: DomainError | Label | None,
                   status_code: int) -> Response:
    if request.headers.get("HX-Request") == "true":
        return render(request, "public/_rating.html", {"rating": page.rating, "error": error},
                      status_code=status_code, headers=_HEADERS)
    return render(request, "public/status.html", {"page": page, "error": error},
                  status_code=status_code, headers=_HEADERS)


async def rate(request: Request) -> Response:
    """The citizen's rating: parse, one application call, the page again with thanks or
    with the refusal in words."""
    services: Services = request.app.state.services
    if (refused := _over_limit(request, services)) is not None:
        return refused
    token = request.path_params["token"]
    status = await run_in_threadpool(find_status, services, token)
    if status is None:
        return _not_found(request)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > _MAX_RATING_BODY:
        return _render_rating(request, await run_in_threadpool(_page, status, services, token),
                              _TOO_LARGE, 413)
    entered = RatingEntry.of(await request.form())
    try:
        outcome = await run_in_threadpool(
            lambda: services.app.rate(
                token, status.dossier_id,
                # Not a number at all: refused in the same words as a level out of range.
                satisfaction=entered.satisfaction or 0,
                came_back=entered.came_back, unofficial_request=entered.unofficial_request,
                comment=entered.comment,
            )
        )
    except NotFound:
        return _not_found(request)
    except AlreadyRated as already:
        return _render_rating(request, await run_in_threadpool(
            lambda: _page(status, services, token, thanked=True)), already, 409)
    except ConcurrentChange as conflict:
        return _render_rating(request, await run_in_threadpool(
            lambda: _page(status, services, token, entered=entered)), conflict, 409)
    except DomainError as refusal:
        return _render_rating(request, await run_in_threadpool(
            lambda: _page(status, services, token, entered=entered)), refusal, 400)
    await run_in_threadpool(services.read_models.wait, outcome.notification_id)
    fresh = await run_in_threadpool(find_status, services, token)
    # Thanked even if the read model has not caught up yet: the rating is saved.
    return _render_rating(request, await run_in_threadpool(
        lambda: _page(fresh or status, services, token, thanked=True)), None, 200)


async def public_answer(request: Request, status: PublicStatus | None, token: str,
                        error: DomainError | None, status_code: int, *,
                        typed: str = "") -> Response:
    """The public page after a feedback form: not found, or the page with the refusal in
    the feedback section and what the citizen typed kept."""
    if status is None:
        return _not_found(request)
    services: Services = request.app.state.services
    page = await run_in_threadpool(_page, status, services, token)
    return render(request, "public/status.html",
                  {"page": page, "feedback_error": error, "feedback_typed": typed},
                  status_code=status_code, headers=_HEADERS)


async def give_feedback(request: Request) -> Response:
    """The citizen's feedback from the public page: one call, then the page again."""
    services: Services = request.app.state.services
    if (refused := _over_limit(request, services)) is not None:
        return refused
    token = request.path_params["token"]
    status = await run_in_threadpool(find_status, services, token)
    if status is None:
        return await public_answer(request, None, token, None, 404)
    form = await request.form()
    try:
        outcome = await run_in_threadpool(lambda: services.app.give_feedback(
            token, status.dossier_id, text=str(form.get("text", "")),
            about_unofficial_payment=form.get("unofficial_payment") == "yes",
            request_key=str(form.get("request_key", ""))))
    except NotFound:
        return await public_answer(request, None, token, None, 404)
    except DomainError as refusal:
        return await public_answer(request, status, token, refusal, 422,
                                   typed=str(form.get("text", "")))
    await run_in_threadpool(services.read_models.wait_for_feedback, outcome.notification_id)
    return RedirectResponse(f"/t/{token}#feedback", status_code=303)


async def close_feedback(request: Request) -> Response:
    """The citizen has read the answer and closes the case."""
    services: Services = request.app.state.services
    if (refused := _over_limit(request, services)) is not None:
        return refused
    token = request.path_params["token"]
    status = await run_in_threadpool(find_status, services, token)
    try:
        feedback_id = UUID(request.path_params["feedback_id"])
    except ValueError:
        status = None
    if status is None:
        return await public_answer(request, None, token, None, 404)
    try:
        outcome = await run_in_threadpool(
            services.app.close_feedback, token, status.dossier_id, feedback_id)
    except NotFound:
        return await public_answer(request, None, token, None, 404)
    except DomainError as refusal:
        return await public_answer(request, status, token, refusal, 422)
    await run_in_threadpool(services.read_models.wait_for_feedback, outcome.notification_id)
    return RedirectResponse(f"/t/{token}#feedback", status_code=303)
