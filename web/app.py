"""The Starlette application: routes, sessions, error pages, and the read-model followers.

``hoso serve`` builds it with ``app_from_settings``; with several worker processes uvicorn
imports ``create_worker_app`` by name in each (they leave following the log and signing
checkpoints to a separate ``hoso project``). The parts come from bootstrap/.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bootstrap import application_for, store_of
from config.settings import Settings, SettingsError
from domain.application import HosoApplication
from domain.errors import DomainError
from notify.codes import code_sender
from projections.follow_lock import AlreadyFollowed
from projections.key_vault import open_key_vault
from projections.one_time_codes import code_book_on
from projections.projector import Projector
from projections.receipt_key import installation_receipt_key
from projections.runners import ReadModels
from projections.store import Store
from web import (
    account_security,
    admin,
    analytics,
    audit,
    clerk,
    counter,
    feedback,
    flag_cases,
    history,
    language,
    lookup,
    online,
    payments,
    post,
    public,
    queue,
    red_flags,
    signin,
    signing_keys,
    stats,
    tracking_book,
    transparency,
    verify,
)
from web.accounts import StaffAccounts, open_accounts
from web.api import PREFIX as API_PREFIX
from web.api import errors as api_errors
from web.api import is_api_path
from web.api.keys import partner_keys_on
from web.api.routes import create_api
from web.csrf import CsrfMiddleware
from web.delivery import delivery_loop
from web.i18n import LocaleMiddleware
from web.labels import Label
from web.proxies import ProxySettingError, parse_trusted_proxies
from web.rate_limit import RateLimitSettingError, api_limit, public_limit, storage_from_setting
from web.security import (
    STORE_UNAVAILABLE,
    DeadlineMiddleware,
    SecurityHeadersMiddleware,
    store_unavailable,
)
from web.services import Services
from web.sessions import ServerSessionMiddleware, sessions_on
from web.templating import render, templates
from web.vnpay import VnpaySettings

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


async def _not_found(request: Request, exc: Exception) -> Response:
    if is_api_path(request.url.path):
        # A path under the API that its mount does not take (a newline in it): still JSON.
        return await api_errors.http_error(request, exc)
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    if status == 405:
        return render(request, "error.html", {"error": Label(
            "Thao tác không hợp lệ.", "Method not allowed.")}, status_code=405)
    return render(request, "error.html", {"error": Label(
        "Không tìm thấy trang này.", "Page not found.")}, status_code=404)


async def _bad_request(request: Request, exc: Exception) -> Response:
    # Starlette's form parser refuses malformed bodies and oversized fields with a 400.
    return render(request, "error.html", {"error": Label(
        "Dữ liệu gửi lên không hợp lệ hoặc quá lớn; không có gì được ghi nhận.",
        "What was sent is malformed or too large; nothing was recorded.")}, status_code=400)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return render(request, "error.html", {"error": exc}, status_code=422)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    return render(request, "error.html", {"error": Label(
        "Hệ thống gặp lỗi. Thao tác của bạn có thể chưa được ghi nhận; vui lòng thử lại.",
        "Something went wrong. Your action may not have been recorded; please try again.")},
        status_code=500)


def home(request: Request) -> Response:
    user = request.session.get("user") or {}
    # Inspectors hold no dossiers: their desk is the red-flag page.
    if user.get("reviews") and not user.get("administers"):
        return RedirectResponse("/red-flags", status_code=303)
    # The post's agents: their own work list, in piles (collect, carry, deliver, return).
    if user.get("carries_the_post"):
        return RedirectResponse("/post", status_code=303)
    return RedirectResponse("/queue", status_code=303)


def healthz(request: Request) -> Response:
    services: Services = request.app.state.services
    if not services.read_models.healthy():
        return Response("read models are not following the log", status_code=503,
                        media_type="text/plain")
    return Response("ok", media_type="text/plain")


def create_app(
    store: Store | None = None,
    application: HosoApplication | None = None,
    accounts: StaffAccounts | None = None,
    *,
    follow: bool = True,
    read_store: Store | None = None,
    trusted_proxies: list[str] | None = None,
    settings: Settings | None = None,
) -> Starlette:
    """The web app on ``store``. With ``follow`` (one process serving alone) it keeps the read
    models up to date and signs checkpoints itself; without, another process (``hoso
    project``) does, and pages wait for it through the tracking rows. Page queries of the
    read models go to ``read_store`` (a read replica) when given. The client's address is
    taken from ``X-Forwarded-For`` only when the peer is one of ``trusted_proxies`` (default:
    ``HOSO_TRUSTED_PROXIES``, none when unset; web/proxies.py). ``settings`` are read from
    the environment when not given (tests that set a variable, then start the app)."""
    if settings is None:
        settings = Settings.from_environment()
    if trusted_proxies is None:
        trusted_proxies = parse_trusted_proxies(settings.trusted_proxies)
    templates.env.auto_reload = settings.template_reload
    store = store or store_of(settings)
    owns_application = application is None
    key_vault = open_key_vault(store) if owns_application else None
    application = application or application_for(store, settings, key_vault=key_vault)
    read_models = ReadModels(store, application, read_store=read_store, settings=settings)
    limits_storage = storage_from_setting(settings.rate_limit_storage)
    owns_accounts = accounts is None
    accounts = accounts or open_accounts(store)
    sessions = sessions_on(accounts.datastore)
    services = Services(
        app=application,
        read_models=read_models,
        accounts=accounts,
        sessions=sessions,
        public_url=settings.public_url,
        transparency=read_models.transparency(),
        partner_keys=partner_keys_on(accounts.datastore),
        codes=code_book_on(accounts.datastore),
        code_sender=code_sender(settings),
        public_limit=public_limit(settings, limits_storage),
        api_limit=api_limit(settings, limits_storage),
        settings=settings,
        vnpay=VnpaySettings.from_settings(settings),
        receipt_key=installation_receipt_key(store.sqlite_path, settings.receipt_signing_key),
    )
    if services.receipt_key is None:
        log.warning("HOSO_RECEIPT_SIGNING_KEY is not set: receipts' QR codes carry the link "
                    "without the agency's signed promise")
    # Checkpoints within a few minutes of new events, so what outsiders copy is never far
    # behind, and at local midnight exactly, closing the day.
    # The process that follows the log also sends what the outbox owes (hoso deliver can
    # run beside it: claims never overlap).
    projector = Projector(read_models, services.transparency, application.clock,
                          companions=[delivery_loop(read_models, application, settings)]
                          if follow else [])

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        application.check_store_readable()
        if follow:
            try:
                projector.start()
            except AlreadyFollowed as error:
                log.error("%s; start the web processes with `hoso serve --no-follow`", error)
                raise
        else:
            log.info("not following the log: `hoso project` keeps the read models up to date "
                     "and signs checkpoints")
        try:
            yield
        finally:
            projector.stop()
            read_models.close()
            if owns_accounts:
                accounts.close()
            if owns_application:
                application.close()
            if key_vault is not None:
                key_vault.close()

    routes = [
        Route("/", home),
        Route("/healthz", healthz),
        Route("/signin", signin.signin_form, methods=["GET"]),
        Route("/signin", signin.signin, methods=["POST"]),
        Route("/signin/code", signin.signin_code_form, methods=["GET"]),
        Route("/signin/code", signin.signin_code, methods=["POST"]),
        Route("/signout", signin.signout, methods=["POST"]),
        Route("/language", language.choose_language, methods=["POST"]),
        Route("/account/two-factor", account_security.two_factor_page, methods=["GET"]),
        Route("/account/two-factor/{step}", account_security.two_factor_step,
              methods=["POST"]),
        Route("/queue", queue.queue, methods=["GET"]),
        Route("/incoming", queue.incoming, methods=["GET"]),
        Route("/post", post.work_list, methods=["GET"]),
        Route("/counter", counter.counter, methods=["GET"]),
        Route("/admin", admin.admin_page, methods=["GET"]),
        Route("/signing-key", signing_keys.signing_key_page, methods=["GET"]),
        Route("/signing-key/register", signing_keys.register_key, methods=["POST"]),
        Route("/signing-key/revoke", signing_keys.revoke_key, methods=["POST"]),
        Route("/admin/{action}", admin.admin_action, methods=["POST"]),
        Route("/dossiers", clerk.dossier_list, methods=["GET"]),
        Route("/dossiers", clerk.receive, methods=["POST"]),
        Route("/dossiers/new", clerk.receive_form, methods=["GET"]),
        Route("/dossiers/{dossier_id}", clerk.dossier, methods=["GET"]),
        Route("/dossiers/{dossier_id}/receipt", clerk.receipt, methods=["GET"]),
        Route("/dossiers/{dossier_id}/apology/{number}", clerk.apology, methods=["GET"]),
        Route("/dossiers/{dossier_id}/refusal", clerk.refusal_slip, methods=["GET"]),
        Route("/dossiers/{dossier_id}/stop-notice", clerk.stop_notice, methods=["GET"]),
        Route("/tracking-book", tracking_book.tracking_book, methods=["GET"]),
        Route("/dossiers/{dossier_id}/supplement/{number}", clerk.supplement_slip,
              methods=["GET"]),
        Route("/dossiers/{dossier_id}/audit", audit.audit_trail, methods=["GET"]),
        Route("/dossiers/{dossier_id}/control-slip", audit.control_slip, methods=["GET"]),
        Route("/dossiers/{dossier_id}/proof-bundle.json", audit.proof_bundle, methods=["GET"]),
        Route("/dossiers/{dossier_id}/documents", clerk.attach, methods=["POST"]),
        Route("/dossiers/{dossier_id}/documents/{sha256}", clerk.open_document,
              methods=["GET"]),
        Route("/dossiers/{dossier_id}/{action}", clerk.act, methods=["POST"]),
        Route("/red-flags", red_flags.red_flag_page, methods=["GET"]),
        Route("/red-flags/cases", flag_cases.case_list, methods=["GET"]),
        Route("/red-flags/cases.csv", flag_cases.case_list_csv, methods=["GET"]),
        Route("/red-flags/cases/{case_id}", flag_cases.case_page, methods=["GET"]),
        Route("/red-flags/cases/{case_id}/report", flag_cases.case_report, methods=["GET"]),
        Route("/red-flags/cases/{case_id}/note", flag_cases.write_note, methods=["POST"]),
        Route("/red-flags/cases/{case_id}/close", flag_cases.close_case, methods=["POST"]),
        Route("/red-flags/{flag}.csv", red_flags.flag_csv, methods=["GET"]),
        Route("/red-flags/{flag}", red_flags.flag_page, methods=["GET"]),
        Route("/red-flags/{flag}/cases", flag_cases.open_case, methods=["POST"]),
        Route("/officers/{user_id}", history.officer_history, methods=["GET"]),
        Route("/units/{unit_code}", history.unit_history, methods=["GET"]),
        Route("/analytics", analytics.analytics, methods=["GET"]),
        Route("/analytics/{table}.csv", analytics.analytics_csv, methods=["GET"]),
        Route("/stats", stats.stats, methods=["GET"]),
        Route("/open-data/summary.csv", stats.open_data_summary, methods=["GET"]),
        Route("/open-data/fees.csv", stats.open_data_fees, methods=["GET"]),
        Route("/log", transparency.log_page, methods=["GET"]),
        Route("/log/checkpoint", transparency.latest_checkpoint, methods=["GET"]),
        Route("/log/key", transparency.verifier_key, methods=["GET"]),
        Route("/receipt-key", transparency.receipt_key, methods=["GET"]),
        Route("/log/checkpoints/{size:int}", transparency.checkpoint_of_size, methods=["GET"]),
        Route("/log/tile/{path:path}", transparency.tile, methods=["GET"]),
        Route("/online", online.procedures, methods=["GET"]),
        Route("/online/{code}", online.form, methods=["GET"]),
        Route("/online/{code}/code", online.send_code, methods=["POST"]),
        Route("/online/{code}", online.submit, methods=["POST"]),
        Route("/lookup", lookup.lookup_form, methods=["GET"]),
        Route("/lookup", lookup.lookup, methods=["POST"]),
        Route("/lookup/confirm", lookup.confirm, methods=["POST"]),
        Route("/lookup/result", lookup.download_result, methods=["POST"]),
        Route("/verify/{dossier_id}", verify.verification_page, methods=["GET"]),
        Route("/t/{token}", public.status_page, methods=["GET"]),
        Route("/t/{token}/rating", public.rate, methods=["POST"]),
        Route("/t/{token}/feedback", public.give_feedback, methods=["POST"]),
        Route("/t/{token}/feedback/{feedback_id}/close", public.close_feedback,
              methods=["POST"]),
        Route("/feedback", feedback.feedback_page, methods=["GET"]),
        Route("/feedback/{feedback_id}/answer", feedback.answer, methods=["POST"]),
        Route("/t/{token}/pay", payments.pay, methods=["POST"]),
        Route(payments.RETURN_PATH, payments.returned, methods=["GET"]),
        Route("/payments/vnpay/ipn", payments.notice, methods=["GET"]),
        Mount(API_PREFIX, app=create_api(services)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    web = Starlette(
        routes=routes,
        middleware=[
            # Outermost: everything inside, the limits included, sees the client's address.
            *([Middleware(ProxyHeadersMiddleware, trusted_hosts=trusted_proxies)]
              if trusted_proxies else []),
            Middleware(SecurityHeadersMiddleware,
                       form_targets=(services.vnpay.origin,) if services.vnpay else ()),
            Middleware(DeadlineMiddleware, seconds=settings.request_deadline),
            Middleware(ServerSessionMiddleware, sessions=sessions),
            Middleware(CsrfMiddleware),
            Middleware(LocaleMiddleware),
        ],
        exception_handlers={
            400: _bad_request, 404: _not_found, 405: _not_found,
            DomainError: _domain_error, 500: _server_error,
            **dict.fromkeys(STORE_UNAVAILABLE, store_unavailable),
        },
        lifespan=lifespan,
    )
    web.state.services = services
    return web


def check_web_settings(settings: Settings) -> None:
    """The web tier's settings: the trusted proxies, the rate limits and their storage.
    Raises ``SettingsError`` naming the first that cannot be read."""
    try:
        parse_trusted_proxies(settings.trusted_proxies)
        storage = storage_from_setting(settings.rate_limit_storage)
        public_limit(settings, storage)
        api_limit(settings, storage)
    except (ProxySettingError, RateLimitSettingError) as error:
        raise SettingsError(str(error)) from None


def app_from_settings(settings: Settings) -> Starlette:
    """The app as ``hoso serve`` runs it, on the store, replica and options ``settings``
    name (HOSO_FOLLOW=0: a separate ``hoso project`` follows the log)."""
    store = store_of(settings)
    return create_app(store, follow=settings.follow,
                      read_store=Store.read_replica(settings, store), settings=settings)


def create_app_from_environment() -> Starlette:
    """``uvicorn --factory web.app:create_app_from_environment``: settings read here, once."""
    return app_from_settings(Settings.from_environment())


def create_worker_app() -> Starlette:
    """A web process that leaves following the log to ``hoso project``: each of ``hoso serve
    --workers N``'s, or ``hoso serve --no-follow`` (uvicorn imports it by name)."""
    return app_from_settings(Settings.from_environment().but(follow=False))
