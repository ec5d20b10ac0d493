"""No personal data and no tracking token in what `hoso serve` writes to its log."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import quote_plus

import httpx2
import pytest

from domain.application import HosoApplication
from projections.migrate import migrate
from projections.store import Store
from tests.conftest import _free_port
from tests.helpers import APPLICANT, receive, url_of, wait_for
from tests.reliability.test_crash_mid_write import Server
from tests.web_helpers import PASSWORD
from web.accounts import open_accounts
from web.log_privacy import RedactPersonalData, redact


@pytest.mark.parametrize(("line", "expected"), [
    ('127.0.0.1:5 - "GET /counter?q=0912345678 HTTP/1.1" 200',
     '127.0.0.1:5 - "GET /counter?… HTTP/1.1" 200'),
    ("GET /t/Zk3_9-aQ1bC2dE3fG4hI5j", "GET /t/…"),
    ("POST /t/Zk3_9-aQ1bC2dE3fG4hI5j/rating", "POST /t/…/rating"),
    ("GET /api/v1/status/Zk3_9-aQ1bC2dE3fG4hI5j HTTP/1.1", "GET /api/v1/status/… HTTP/1.1"),
    ("GET /dossiers?scope=all&q=Tr%E1%BA%A7n", "GET /dossiers?…"),
    ("GET /queue", "GET /queue"),
])
def test_redaction(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_the_filter_rewrites_arguments_before_any_handler_formats_them() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/dossiers?q=Ngọc", "1.1", 200), None)
    assert RedactPersonalData().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "GET /dossiers?… HTTP/1.1" 200'


def test_a_served_session_logs_no_name_phone_id_number_or_token(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'hoso.sqlite3'}")
    migrate(store)
    app = HosoApplication(env=store.eventsourcing_env())
    accounts = open_accounts(store)
    try:
        dossier = app.dossier(receive(app).dossier_id)
        accounts.set_password("tiepnhan", PASSWORD)
    finally:
        accounts.close()
        app.close()
    env = {**os.environ, "HOSO_DATABASE_URL": url_of(store)}
    server = Server(env, _free_port(), tmp_path / "serve.log")
    server.start()
    try:
        citizen = httpx2.Client(base_url=server.base, timeout=20)
        # The server's own log follower fills the read models just after it starts.
        assert wait_for(lambda: citizen.get(f"/t/{dossier.tracking_token}").status_code
                           == 200)
        clerk = httpx2.Client(base_url=server.base, timeout=20)
        assert clerk.post("/signin", data={"username": "tiepnhan",
                                           "password": PASSWORD}).status_code == 303
        # The counter finds a file by the applicant's phone; a clerk may type anything else.
        assert wait_for(lambda: dossier.code in clerk.get(
            "/counter", params={"q": APPLICANT["applicant_phone"]}).text)
        for typed in (APPLICANT["applicant_name"], APPLICANT["applicant_id_number"]):
            assert clerk.get("/counter", params={"q": typed}).status_code == 200
        # A refusal is logged with its path (web/clerk.py): the audit trail is inspectors'.
        assert clerk.get(f"/dossiers/{dossier.id}/audit").status_code == 403
    finally:
        server.stop()
    log = (tmp_path / "serve.log").read_text(encoding="utf-8")
    # The requests were logged …
    assert '"GET /t/… HTTP/1.1" 200' in log
    assert log.count('"GET /counter?… HTTP/1.1" 200') >= 3
    assert "access refused: user=tiepnhan" in log
    # … and nothing that names the citizen or opens their page.
    for secret in (dossier.tracking_token, APPLICANT["applicant_phone"],
                   APPLICANT["applicant_id_number"], APPLICANT["applicant_name"],
                   quote_plus(APPLICANT["applicant_name"]), "Ngọc", "Ng%E1%BB%8Dc"):
        assert secret not in log
