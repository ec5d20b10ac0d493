"""What staff and citizens see of notifications: the email field at the counter, never on
the public page; the outbox's state on the administrators' page; the hoso commands."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

import cli
from domain.application import HosoApplication
from projections.runners import ReadModels
from projections.store import Dialect, Store
from tests.conftest import PUBLIC_URL
from tests.helpers import PROCEDURE, url_of, wait_for
from tests.notify_helpers import EMAIL, RecordingSender, deliverer, receive_with_email
from tests.web_helpers import PASSWORD, read_in, sign_in_as


@pytest.fixture
def web(store: Store, serve: Callable[..., TestClient],
        monkeypatch: pytest.MonkeyPatch) -> TestClient:
    if store.dialect is not Dialect.SQLITE:
        pytest.skip("the pages are the same on both stores")
    monkeypatch.delenv("HOSO_SMTP_URL", raising=False)
    return serve("tiepnhan", "quantri", **PUBLIC_URL)


def form(**changes: str) -> dict[str, object]:
    return {"procedure_code": PROCEDURE, "channel": "counter",
            "documents": ["Tờ khai"], "applicant_name": "Trần Thị Bích Ngọc",
            "applicant_phone": "0912345678", "applicant_address": "12 Nguyễn Huệ"} | changes


def test_the_counter_records_an_email_the_public_never_sees(web: TestClient) -> None:
    sign_in_as(web, "tiepnhan", PASSWORD)
    assert 'name="applicant_email"' in web.get("/dossiers/new").text
    refused = web.post("/dossiers", data=form(applicant_email="ngoc@gmail", request_id="a" * 32))
    assert refused.status_code == 422
    assert "Địa chỉ email không hợp lệ" in refused.text
    read_in(web, "en")
    assert "The email address is not valid" in web.post(
        "/dossiers", data=form(applicant_email="ngoc@gmail", request_id="a" * 32)).text
    read_in(web, "vi")
    assert 'value="ngoc@gmail"' in refused.text  # kept for the clerk to correct
    receipt = web.post("/dossiers", data=form(applicant_email=" Ngoc.Tran@Example.VN",
                                                request_id="b" * 32))
    assert receipt.status_code == 200
    dossier_id = str(receipt.url).split("/")[-2]
    assert "Ngoc.Tran@example.vn" in web.get(f"/dossiers/{dossier_id}").text
    link = re.search(r'href="https://hoso\.example\.vn(/t/[A-Za-z0-9_-]{22})"', receipt.text)
    assert link
    web.cookies.clear()
    public = web.get(link.group(1))
    assert public.status_code == 200
    assert "Ngoc.Tran" not in public.text and "@example.vn" not in public.text.lower()


def test_administrators_see_what_the_outbox_owes_and_what_failed(
        web: TestClient, store: Store, app: HosoApplication) -> None:
    models = ReadModels(store, app)
    try:
        outcome = receive_with_email(app)
        app.request_supplement(outcome.dossier_id, expected_version=None,
                               actor_id="tiepnhan", missing_items=["A"], reason="r")
        # The web app follows the log: its outbox follower writes the message.
        assert wait_for(lambda: len(models.outbox.messages()) == 1)
        deliverer(models, app, RecordingSender(failing=True)).run_once()
    finally:
        models.close()
    sign_in_as(web, "quantri", PASSWORD)
    page = web.get("/admin").text
    section = page[page.index('id="outbox"'):]
    assert "Email công dân</td><td>1</td><td>0</td><td>0</td>" in section
    assert app.dossier(outcome.dossier_id).code in section
    assert "ConnectionRefusedError: the mail server is down" in section
    assert "đang thử lại" in section
    assert EMAIL not in page  # the applicant's address is not needed to see the failure
    sign_in_as(web, "tiepnhan", PASSWORD)
    assert web.get("/admin").status_code == 403


def test_hoso_webhook_and_deliver_commands(store: Store, app: HosoApplication,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    if store.dialect is not Dialect.SQLITE:
        pytest.skip("the commands are the same on both stores")
    monkeypatch.setenv("HOSO_DATABASE_URL", url_of(store))
    monkeypatch.delenv("HOSO_SMTP_URL", raising=False)
    cli.main(["webhook", "add", "--partner", "vnpost", "--url",
              "https://partner.example.vn/hoso", "--unit", "BUUDIEN"])
    out = capsys.readouterr().out
    subscription_id = re.search(r"subscription ([0-9a-f]{16}) for vnpost", out)
    secret = re.search(r"signing secret \(shown once; give it to the partner\): (\S+)", out)
    assert subscription_id and secret
    cli.main(["webhook", "list"])
    listed = capsys.readouterr().out
    assert "vnpost  https://partner.example.vn/hoso  unit BUUDIEN" in listed
    assert secret.group(1) not in listed
    with pytest.raises(SystemExit, match="https://"):
        cli.main(["webhook", "add", "--partner", "x", "--url", "http://example.vn/",
                  "--unit", "BUUDIEN"])
    cli.main(["webhook", "remove", subscription_id.group(1)])
    cli.main(["webhook", "list"])
    assert "vnpost" not in capsys.readouterr().out.split("removed")[-1]
    with pytest.raises(SystemExit, match="no active subscription"):
        cli.main(["webhook", "remove", subscription_id.group(1)])
    cli.main(["deliver", "--once", "--retry-failed"])
    assert capsys.readouterr().out.splitlines() == [
        "0 messages given up are due again", "delivered 0, to retry 0, given up 0"]
    monkeypatch.setenv("HOSO_SMTP_URL", "smtp://hoso:m%E1%BA%ADt@mail.example.vn")
    for command in (["deliver", "--once"], ["project"]):
        with pytest.raises(SystemExit, match="HOSO_SMTP_URL: the user name and password"):
            cli.main(command)
