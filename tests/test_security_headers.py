"""Headers on every response, templates that need no inline script or style, and the answer
given while the database is away (503 "try again", never a 500)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import OperationalError
from starlette.testclient import TestClient

from domain.application import HosoApplication
from projections.store import Dialect, Store
from tests.conftest import PUBLIC_URL
from tests.test_web import receive_form, receive_via_web, sign_in
from tests.web_helpers import read_in
from web.security import CONTENT_SECURITY_POLICY

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("tiepnhan", **PUBLIC_URL)


def test_every_kind_of_response_carries_the_security_headers(web: TestClient) -> None:
    sign_in(web, "tiepnhan")
    _, link = receive_via_web(web)
    paths = ["/signin", "/queue", "/dossiers", "/stats", "/log", "/static/hoso.css",
             "/no-such-page", link.replace("https://hoso.example.vn", ""), "/t/not-a-token"]
    for path in paths:
        response = web.get(path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert "script-src 'self'" in CONTENT_SECURITY_POLICY
        assert "unsafe" not in CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "no-referrer", path
        assert response.headers["strict-transport-security"].startswith("max-age="), path
        assert response.headers["x-frame-options"] == "DENY", path


def test_templates_have_no_inline_script_style_or_handlers() -> None:
    offences = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for pattern in (r"<script(?![^>]*\bsrc=)", r"<style", r"\sstyle=", r"\son[a-z]+=",
                        r"javascript:", r"hx-on"):
            offences += [f"{template.relative_to(TEMPLATES)}: {m.group(0)!r}"
                         for m in re.finditer(pattern, text)]
    assert offences == []


def test_htmx_is_configured_for_the_policy(web: TestClient) -> None:
    page = web.get("/signin").text
    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", page)
    assert config
    for setting in ('"includeIndicatorStyles":false', '"allowEval":false',
                    '"allowScriptTags":false', '"selfRequestsOnly":true',
                    '"historyCacheSize":0'):
        assert setting in config.group(1)


def test_a_store_error_is_a_503_try_again_page(web: TestClient, app: HosoApplication,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    sign_in(web, "tiepnhan")

    def unreachable(*_: object, **__: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(app, "receive", unreachable)
    response = web.post("/dossiers", data=receive_form())
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "không kết nối được cơ sở dữ liệu" in response.text
    read_in(web, "en")
    assert "cannot reach its database" in web.post("/dossiers", data=receive_form()).text


def _own_client_ports() -> set[int]:
    """Local TCP ports of this process's sockets (its database connections among them)."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_connections_killed_under_the_app_end_in_503_or_success_then_recover(
        web: TestClient, store: Store) -> None:
    if store.dialect is not Dialect.POSTGRESQL:
        pytest.skip("terminating server connections is a PostgreSQL test")
    sign_in(web, "tiepnhan")
    receive_via_web(web)
    with psycopg.connect(store.conninfo(), autocommit=True) as admin:
        # Only this process's connections: other tests (and benchmarks) share the database.
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE client_port = ANY(%s) AND pid <> pg_backend_pid()",
            (sorted(_own_client_ports()),)).fetchone()
    assert killed and killed[0] >= 1
    statuses = [web.get("/dossiers").status_code for _ in range(5)]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[-1] == 200, statuses
    assert web.post("/dossiers", data=receive_form()).status_code == 200


def test_unknown_and_malformed_tokens_look_the_same(web: TestClient) -> None:
    answers = [web.get(f"/t/{token}") for token in (
        "AAAAAAAAAAAAAAAAAAAAAA", "short", "%3Cscript%3E", "A" * 200, "%E2%80%AE", "a b")]
    assert {a.status_code for a in answers} == {404}
    assert len({a.text for a in answers}) == 1
    assert all(a.headers["x-robots-tag"] == "noindex" for a in answers)


def test_a_request_past_its_deadline_gets_503_and_reports_get_longer() -> None:
    import asyncio
    import time as clock

    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from web.security import DeadlineMiddleware

    def slow(_: object) -> PlainTextResponse:
        clock.sleep(0.6)
        return PlainTextResponse("late")

    inner = Starlette(routes=[Route("/slow", slow, methods=["GET", "POST"]),
                              Route("/red-flags", slow)])
    client = TestClient(DeadlineMiddleware(inner, seconds=0.2))
    started = clock.monotonic()
    late = client.get("/slow")
    assert late.status_code == 503 and late.headers["retry-after"]
    assert "thử lại" in late.text and clock.monotonic() - started < 0.6
    assert client.get("/red-flags").text == "late"  # a report gets its longer deadline
    # Files take their time to arrive and to be checked: an upload is not cut off.
    upload = client.post("/slow", files={"scan_0": ("a.pdf", b"%PDF-1.7", "application/pdf")})
    assert upload.status_code == 200 and upload.text == "late"
    assert asyncio.iscoroutinefunction(DeadlineMiddleware.__call__)


def test_forms_may_lead_to_the_payment_gateway_and_nowhere_else(
        serve: Callable[..., TestClient]) -> None:
    # The citizen's "pay" form is redirected to the gateway, and browsers hold a form's
    # redirects to form-action too (tests/browser/test_paying_online.py pays through it).
    web = serve(**PUBLIC_URL, HOSO_VNPAY_TMN_CODE="HOSOTEST", HOSO_VNPAY_HASH_SECRET="k",
                HOSO_VNPAY_PAYMENT_URL="https://sandbox.vnpayment.vn/paymentv2/vpcpay.html")
    policy = web.get("/stats").headers["content-security-policy"]
    assert policy.endswith("; form-action 'self' https://sandbox.vnpayment.vn")
    assert policy.removesuffix(" https://sandbox.vnpayment.vn") == CONTENT_SECURITY_POLICY
