"""Attached files: the catalogue's document lists, the content checks (hostile uploads),
the write-once encrypted store, scans at the counter, and who may open a file."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from starlette.testclient import TestClient

from domain.application import Attachment, HosoApplication
from domain.documents import UploadRefused, check_upload
from domain.dossier import Dossier
from domain.errors import AccessDenied
from domain.organisation import Directory
from domain.reading import Page, ReadingLog
from domain.signing import MemoryKeyVault
from projections.document_store import FileDocumentStore, UnreadableDocument
from projections.store import Store
from tests.conftest import PUBLIC_URL, FakeClock
from tests.document_samples import hostile_files, jpeg, pdf, png
from tests.helpers import APPLICANT, PROCEDURE
from tests.web_helpers import PASSWORD, sign_in_as
from web.accounts import StaffAccounts
from web.api.keys import Scope, partner_keys_on

HOSTILE = hostile_files()


@pytest.fixture
def documents_dir(tmp_path: Path) -> Path:
    return tmp_path / "documents"


@pytest.fixture
def app(store: Store, clock: FakeClock, documents_dir: Path) -> Iterator[HosoApplication]:
    """The application keeping files on disk, so a test can see that none were left."""
    application = HosoApplication(env=store.eventsourcing_env(), clock=clock,
                                  key_vault=MemoryKeyVault(),
                                  document_store=FileDocumentStore(documents_dir))
    yield application
    application.close()


def kept_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def checked(content: bytes, name: str) -> Attachment:
    return Attachment("Bản chụp CCCD", check_upload(io.BytesIO(content), name))


# ---- the catalogue ---------------------------------------------------------------------

def test_every_procedure_publishes_its_document_list() -> None:
    for procedure in Directory().procedures.values():
        assert procedure.document_list, procedure.code
        assert any(d.required for d in procedure.document_list)
        for requirement in procedure.document_list:
            assert requirement.name_vi and requirement.name_en and requirement.copies >= 1
            assert requirement.accepted
    criminal_record = Directory().procedure(PROCEDURE)
    assert criminal_record.online
    assert criminal_record.requirement("  bản chụp  cccd ") is not None
    assert criminal_record.outside_list(["Bản chụp CCCD", "Sổ hộ khẩu"]) == ["Sổ hộ khẩu"]


# ---- content checks --------------------------------------------------------------------

def test_good_files_pass_with_their_digest() -> None:
    for content, name in ((pdf(3), "to-khai.pdf"), (png(), "anh.png"), (jpeg(), "anh.JPG")):
        facts = check_upload(io.BytesIO(content), name).facts
        assert facts.sha256 == hashlib.sha256(content).hexdigest()
        assert facts.size == len(content)


def test_at_least_thirty_kinds_of_hostile_upload() -> None:
    assert len({h.kind for h in HOSTILE}) >= 30


@pytest.mark.parametrize("hostile", HOSTILE, ids=[h.kind for h in HOSTILE])
def test_hostile_upload_is_refused_in_words(hostile: Any) -> None:
    with pytest.raises(UploadRefused) as refused:
        check_upload(io.BytesIO(hostile.content), hostile.file_name, hostile.content_type)
    assert hostile.says in refused.value.en
    assert refused.value.vi.startswith("Tệp “")


def test_a_document_accepted_as_photo_only_refuses_a_pdf() -> None:
    photo = Directory().procedure(PROCEDURE).requirement("Ảnh chân dung")
    assert photo is not None
    with pytest.raises(UploadRefused, match="JPEG, PNG"):
        check_upload(io.BytesIO(pdf()), "anh.pdf", None, photo.accepted)


# ---- the store -------------------------------------------------------------------------

def test_store_is_content_addressed_write_once_and_encrypted(tmp_path: Path) -> None:
    key = base64.b64decode(base64.b64encode(b"k" * 32))
    store = FileDocumentStore(tmp_path, key)
    content = pdf(2, text="Nguyen Van A")
    digest = hashlib.sha256(content).hexdigest()
    assert store.put(io.BytesIO(content), digest) is True
    assert store.put(io.BytesIO(content), digest) is False  # never written twice
    [path] = [p for p in kept_files(tmp_path)]
    assert path.name == digest and path.parent.name == digest[2:4]
    assert b"Nguyen Van A" not in path.read_bytes()  # encrypted at rest
    assert b"".join(store.open(digest)) == content
    assert b"".join(FileDocumentStore(tmp_path, key).open(digest)) == content
    with pytest.raises(UnreadableDocument):
        b"".join(FileDocumentStore(tmp_path, b"x" * 32).open(digest))
    with pytest.raises(UnreadableDocument):
        b"".join(FileDocumentStore(tmp_path).open(digest))


def test_store_refuses_bytes_that_are_not_their_digest(tmp_path: Path) -> None:
    store = FileDocumentStore(tmp_path)
    with pytest.raises(RuntimeError):
        store.put(io.BytesIO(b"abc"), hashlib.sha256(b"abd").hexdigest())
    assert kept_files(tmp_path) == []


def test_plain_store_keeps_the_bytes_as_they_are(tmp_path: Path) -> None:
    store = FileDocumentStore(tmp_path)
    content = png()
    digest = hashlib.sha256(content).hexdigest()
    store.put(io.BytesIO(content), digest)
    assert b"".join(store.open(digest)) == content


# ---- the application -------------------------------------------------------------------

def receive(app: HosoApplication, attachments: list[Attachment]) -> Dossier:
    outcome = app.receive(actor_id="tiepnhan", procedure_code=PROCEDURE,
                          applicant_name=APPLICANT["applicant_name"],
                          applicant_phone=APPLICANT["applicant_phone"],
                          applicant_address=APPLICANT["applicant_address"],
                          documents=["Bản chụp CCCD"], attachments=attachments)
    return app.dossier(outcome.dossier_id)


def test_scans_at_the_counter_are_recorded_with_the_receipt(
        app: HosoApplication, documents_dir: Path) -> None:
    form, photo = pdf(), png()
    dossier = receive(app, [
        Attachment("Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp",
                   check_upload(io.BytesIO(form), "to-khai.pdf")),
        Attachment("Giấy xác nhận của công an phường",
                   check_upload(io.BytesIO(photo), "xac-nhan.png"))])
    events = list(app.repository.event_store.get(dossier.id))
    attached = [e for e in events if isinstance(e, Dossier.DocumentAttached)]
    assert [(e.document_type, e.outside_list, e.sha256) for e in attached] == [
        ("Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp", False, hashlib.sha256(form).hexdigest()),
        ("Giấy xác nhận của công an phường", True, hashlib.sha256(photo).hexdigest())]
    assert "bytes" not in vars(attached[0]) and attached[0].media_type == "application/pdf"
    assert len(kept_files(documents_dir)) == 2


def test_a_refused_receipt_leaves_no_file(app: HosoApplication, documents_dir: Path) -> None:
    with pytest.raises(AccessDenied):
        app.receive(actor_id="hctp", procedure_code=PROCEDURE, applicant_name="A",
                    applicant_phone="0901234567", applicant_address="B", documents=["x"],
                    attachments=[checked(pdf(), "a.pdf")])
    assert kept_files(documents_dir) == []


def test_who_may_open_a_file(app: HosoApplication) -> None:
    content = pdf(text="CCCD")
    dossier = receive(app, [checked(content, "cccd.pdf")])
    digest = hashlib.sha256(content).hexdigest()
    opened = app.open_document(dossier.id, digest, viewer_id="tiepnhan")
    assert b"".join(opened.chunks) == content
    assert app.readings("tiepnhan", ReadingLog.day_of(app.clock()))[-1].page == Page.DOCUMENT.value
    assert b"".join(app.open_document(dossier.id, digest, viewer_id="thanhtra").chunks)
    for outsider in ("hctp", "dkkd", "buudien"):  # not (yet) on its path
        with pytest.raises(AccessDenied):
            app.open_document(dossier.id, digest, viewer_id=outsider)
    app.transfer(dossier.id, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP")
    assert b"".join(app.open_document(dossier.id, digest, viewer_id="hctp").chunks) == content


# ---- through the web -------------------------------------------------------------------

@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("tiepnhan", "hctp", "thanhtra", **PUBLIC_URL)


def receive_form() -> dict[str, str | list[str]]:
    return {"procedure_code": PROCEDURE, "channel": "counter",
            "documents": ["Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp"], **APPLICANT}


def test_the_counter_scans_and_staff_open_the_files(web: TestClient, documents_dir: Path,
                                                    app: HosoApplication) -> None:
    sign_in_as(web, "tiepnhan", PASSWORD)
    form_pdf, id_pdf, photo = pdf(text="to khai"), pdf(2, text="cccd"), jpeg()
    receipt = web.post("/dossiers", data=receive_form(), files=[
        ("scan_0", ("to-khai.pdf", form_pdf, "application/pdf")),
        ("scan_1", ("cccd.pdf", id_pdf, "application/pdf")),
        ("scan_2", ("chan-dung.jpg", photo, "image/jpeg")),
        ("scan_other_type", (None, "Giấy ủy quyền")),
        ("scan_other", ("uy-quyen.png", png(), "image/png"))])
    assert receipt.status_code == 200, receipt.text
    dossier_id = str(receipt.url).split("/")[-2]
    page = web.get(f"/dossiers/{dossier_id}").text
    for name in ("to-khai.pdf", "cccd.pdf", "chan-dung.jpg", "uy-quyen.png"):
        assert name in page
    assert "Giấy ủy quyền" in page and "ngoài danh mục công bố" in page
    link = re.search(rf'href="(/dossiers/{dossier_id}/documents/[0-9a-f]{{64}})"', page)
    assert link
    download = web.get(link.group(1))
    assert download.status_code == 200 and download.content == form_pdf
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert len(kept_files(documents_dir)) == 4
    public = TestClient(web.app).get(f"/t/{app.tracking_token(UUID(dossier_id))}")
    assert public.status_code == 200
    assert "to-khai.pdf" not in public.text and "Tệp" not in public.text
    sign_in_as(web, "hctp", PASSWORD)  # not on its path yet
    assert web.get(link.group(1)).status_code == 403


def test_every_hostile_upload_at_the_counter_leaves_no_event_and_no_file(
        web: TestClient, documents_dir: Path, app: HosoApplication) -> None:
    sign_in_as(web, "tiepnhan", PASSWORD)
    before = app.recorder.max_notification_id()
    for hostile in HOSTILE:
        response = web.post("/dossiers", data=receive_form(), files=[
            ("scan_0", ("to-khai.pdf", pdf(text="to khai"), "application/pdf")),
            ("scan_1", (hostile.file_name, hostile.content,
                        hostile.content_type or "application/octet-stream"))])
        assert response.status_code == 422, hostile.kind
        assert "không được nhận" in response.text, hostile.kind
        assert app.recorder.max_notification_id() == before, hostile.kind
        assert kept_files(documents_dir) == [], hostile.kind


def test_an_upload_without_a_declared_length_or_too_large_is_refused_unread(
        web: TestClient) -> None:
    sign_in_as(web, "tiepnhan", PASSWORD)
    huge = web.post("/dossiers", content=b"x", headers={
        "content-type": "multipart/form-data; boundary=b",
        "content-length": str(500 * 1024 * 1024)})
    assert huge.status_code == 413
    assert "quá lớn" in huge.text


# ---- through the partner API -----------------------------------------------------------

@pytest.fixture
def partner(web: TestClient, app: HosoApplication,
            accounts: StaffAccounts) -> dict[str, str]:
    """The one-stop centre's reception system, allowed to attach files."""
    app.appoint_staff(admin_id="quantri", user_id="tthcc.scan", full_name="Máy quét TTHCC",
                      unit_code="TTHCC", roles=["reception"])
    secret = partner_keys_on(accounts.datastore).create(
        partner_id="tthcc.scan", name="Máy quét TTHCC", scopes=[Scope.ATTACH],
        now=app.clock()).secret_key
    return {"Authorization": f"Bearer {secret}"}


def received_at_counter(app: HosoApplication) -> UUID:
    return app.receive(actor_id="tiepnhan", procedure_code=PROCEDURE,
                       documents=["Bản chụp CCCD"], **APPLICANT).dossier_id


def test_a_partner_attaches_files_checked_as_the_counters(
        web: TestClient, partner: dict[str, str], app: HosoApplication,
        documents_dir: Path) -> None:
    dossier = received_at_counter(app)
    scan = pdf(2, text="cccd")
    sent = web.post(f"/api/v1/dossiers/{dossier}/documents",
                    headers=partner | {"Idempotency-Key": "scan-0001"},
                    data={"document_type": "Bản chụp CCCD"},
                    files=[("file", ("cccd.pdf", scan, "application/pdf"))])
    assert sent.status_code == 201, sent.text
    [entry] = sent.json()["documents"]
    assert entry["sha256"] == hashlib.sha256(scan).hexdigest()
    attached = app.dossier(dossier).attachments
    assert [(a["document_type"], a["file_name"], a["attached_by"]) for a in attached] == [
        ("Bản chụp CCCD", "cccd.pdf", "tthcc.scan")]
    # The same call again records nothing new and answers as the first time.
    again = web.post(f"/api/v1/dossiers/{dossier}/documents",
                     headers=partner | {"Idempotency-Key": "scan-0001"},
                     data={"document_type": "Bản chụp CCCD"},
                     files=[("file", ("cccd.pdf", scan, "application/pdf"))])
    assert again.status_code == 201 and again.json() == sent.json()
    assert len(app.dossier(dossier).attachments) == 1
    assert len(kept_files(documents_dir)) == 1
    # Not multipart; no such dossier.
    json_body = web.post(f"/api/v1/dossiers/{dossier}/documents",
                         headers=partner | {"Idempotency-Key": "scan-0002"}, json={})
    assert json_body.status_code == 415
    unknown = web.post(f"/api/v1/dossiers/{uuid4()}/documents",
                       headers=partner | {"Idempotency-Key": "scan-0003"},
                       data={"document_type": "Bản chụp CCCD"},
                       files=[("file", ("x.pdf", pdf(text="x"), "application/pdf"))])
    assert unknown.status_code == 404 and unknown.json()["error"]["message_en"]
    assert len(kept_files(documents_dir)) == 1


def test_every_hostile_upload_through_the_api_leaves_no_event_and_no_file(
        web: TestClient, partner: dict[str, str], app: HosoApplication,
        documents_dir: Path) -> None:
    dossier = received_at_counter(app)
    before = app.recorder.max_notification_id()
    for number, hostile in enumerate(HOSTILE):
        response = web.post(
            f"/api/v1/dossiers/{dossier}/documents",
            headers=partner | {"Idempotency-Key": f"hostile-{number:04d}"},
            data={"document_type": "Bản chụp CCCD"},
            files=[("file", ("to-khai.pdf", pdf(text="to khai"), "application/pdf")),
                   ("file", (hostile.file_name, hostile.content,
                             hostile.content_type or "application/octet-stream"))])
        assert response.status_code == 422, (hostile.kind, response.text[:300])
        error = response.json()["error"]
        assert "không được nhận" in error["message_vi"], hostile.kind
        assert error["message_en"], hostile.kind
        assert app.recorder.max_notification_id() == before, hostile.kind
        assert kept_files(documents_dir) == [], hostile.kind
