"""The result's verification page: the QR printed on the electronic result opens a public
page with the file's digest, who signed it and when, and whether the transparency log's
signed checkpoint vouches for it — and nothing personal."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from starlette.testclient import TestClient

from domain.application import Attachment, HosoApplication
from domain.documents import check_upload
from domain.result_signature import ResultTrust
from domain.sample_signature import SampleAuthority
from domain.signing import MemoryKeyVault
from domain.transparency.checkpoint import NoteSigner
from projections.document_store import FileDocumentStore
from projections.store import Store
from tests.conftest import FakeClock
from tests.document_samples import pdf
from tests.helpers import (
    APPLICANT,
    SIGNING_PASSPHRASE,
    ensure_signing_key,
    hand_over,
    receive,
)
from tests.web_helpers import PASSWORD, sign_in_as
from web.accounts import StaffAccounts
from web.app import create_app
from web.services import Services

SIGNER = NoteSigner.generate("hoso.local/log")
CITY = SampleAuthority("Test CA Sở Tư pháp")


@pytest.fixture
def app(store: Store, clock: FakeClock, tmp_path: Path) -> Iterator[HosoApplication]:
    application = HosoApplication(env=store.eventsourcing_env(), clock=clock,
                                  key_vault=MemoryKeyVault(),
                                  document_store=FileDocumentStore(tmp_path / "documents"),
                                  result_trust=ResultTrust((CITY.root,)))
    yield application
    application.close()


@pytest.fixture
def web(store: Store, app: HosoApplication, accounts: StaffAccounts,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("HOSO_LOG_SIGNING_KEY", SIGNER.skey)
    monkeypatch.setenv("HOSO_PUBLIC_URL", "https://hoso.example.vn")
    for user in ("gd.stp", "hctp"):
        accounts.set_password(user, PASSWORD)
    # Not following: the test decides when the log catches up and a checkpoint is made.
    with TestClient(create_app(store, app, accounts, follow=False)) as client:
        yield client


def services(web: TestClient) -> Services:
    found: Services = web.app.state.services  # type: ignore[attr-defined]
    return found


def signed_with_result(app: HosoApplication) -> tuple[UUID, bytes]:
    receive(app)  # another dossier first, so leaf indexes are not versions
    dossier = receive(app).dossier_id
    hand_over(app, dossier, "tiepnhan", "STP-HCTP", "hctp")
    hand_over(app, dossier, "hctp", "STP-BGD", "gd.stp")
    ensure_signing_key(app, "gd.stp")
    result = CITY.officer("Trần Thị Ký").sign(pdf(text="Phieu ly lich tu phap so 15"))
    app.sign(dossier, expected_version=None, actor_id="gd.stp", decision_number="15/PLLTP",
             decision_title="Phiếu LLTP", passphrase=SIGNING_PASSPHRASE,
             result=Attachment("Kết quả", check_upload(io.BytesIO(result), "phieu.pdf")))
    return dossier, result


def test_the_qr_on_the_result_opens_a_page_anyone_can_check_it_with(
        web: TestClient, app: HosoApplication, clock: FakeClock) -> None:
    dossier, result = signed_with_result(app)
    digest = hashlib.sha256(result).hexdigest()
    # The signing officer's page offers the QR (and its link) to put on the result.
    sign_in_as(web, "gd.stp", PASSWORD)
    page = web.get(f"/dossiers/{dossier}").text
    link = f"https://hoso.example.vn/verify/{dossier}"
    assert "Mã QR xác minh kết quả điện tử" in page and link in page and "<svg" in page
    # The result is no document the citizen hands in: never "outside the published list".
    assert "phieu.pdf" in page and "ngoài danh mục công bố" not in page

    anyone = TestClient(web.app)
    services(web).read_models.catch_up()
    pending = anyone.get(f"/verify/{dossier}")
    assert pending.status_code == 200
    assert digest in pending.text and "Chưa xác nhận" in pending.text
    assert "chưa có điểm kiểm tra đã ký" in pending.text

    assert services(web).transparency.make_checkpoint(clock()) is not None
    checked = anyone.get(f"/verify/{dossier}")
    text = checked.text
    assert checked.status_code == 200 and checked.headers["x-robots-tag"] == "noindex"
    assert digest in text and "Số 15/PLLTP" in text
    assert "Ban Giám đốc Sở Tư pháp" in text
    assert "Trần Thị Ký" in text and "Test CA Sở Tư pháp" in text  # the certificate's names
    assert re.search(r'<span class="badge ok">Khớp</span>', text)
    assert "Mục ghi số" in text
    for private in [*APPLICANT.values(), app.dossier(dossier).tracking_token]:
        assert private not in text
    anyone.cookies.set("hoso_lang", "en")
    english = anyone.get(f"/verify/{dossier}").text
    assert "entry is in a signed checkpoint of the transparency log" in english
    assert "Signing unit" in english and "Xác minh" not in english


def test_no_result_and_unknown_ids_get_one_answer(web: TestClient,
                                                  app: HosoApplication) -> None:
    unsigned = receive(app).dossier_id
    anyone = TestClient(web.app)
    answers = [anyone.get(path) for path in (f"/verify/{unsigned}", f"/verify/{uuid4()}",
                                             "/verify/not-a-uuid")]
    assert [a.status_code for a in answers] == [404] * 3
    assert len({a.text for a in answers}) == 1
    assert "Không tìm thấy kết quả" in answers[0].text
