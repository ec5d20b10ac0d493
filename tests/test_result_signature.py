"""The electronic result's PAdES signature: checked with pyHanko against the configured trust
roots (a test CA made here), the verdict recorded in ``Signed``; a result unsigned, altered
after signing, or signed under another authority is refused, leaving no event and no file."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from bootstrap import application_for, check
from config.settings import Settings, SettingsError
from domain.application import Attachment, HosoApplication
from domain.documents import check_upload
from domain.dossier import RESULT_DOCUMENT, Dossier
from domain.errors import DomainError
from domain.result_signature import ResultSignatureRefused, ResultTrust
from domain.sample_pdf import simple_pdf
from domain.sample_signature import SampleAuthority, SampleSigner
from domain.signing import MemoryKeyVault
from projections.document_store import FileDocumentStore
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import SIGNING_PASSPHRASE, ensure_signing_key, hand_over, receive

CITY = SampleAuthority("Test CA Sở Tư pháp")
OFFICER = CITY.officer("Trần Thị Ký")
STRANGER = SampleAuthority("Some Other CA").officer("Trần Thị Ký")
TRUST = ResultTrust((CITY.root,))


@pytest.fixture(scope="module")
def signed_pdf() -> bytes:
    return OFFICER.sign(simple_pdf(1, text="Phieu ly lich tu phap 15"))


def _tampered(pdf: bytes) -> bytes:
    at = pdf.index(b"Phieu ly lich tu phap 15")
    return pdf[:at] + b"Phieu ly lich tu phap 16" + pdf[at + 24:]


def test_a_result_signed_under_the_trust_root_gets_its_verdict(signed_pdf: bytes) -> None:
    source = io.BytesIO(signed_pdf)
    verdict = TRUST.verify(source)
    assert source.tell() == 0  # left where the document store will read it
    assert verdict.verdict == "valid"
    assert "Trần Thị Ký" in verdict.signer and "Test CA Sở Tư pháp" in verdict.issuer
    assert len(verdict.certificate_sha256) == 64 and verdict.signing_time


@pytest.mark.parametrize(("case", "words"), [
    ("tampered", "thay đổi sau khi ký"),
    ("untrusted", "không do tổ chức chứng thực tin cậy"),
    ("expired", "không do tổ chức chứng thực tin cậy"),
    ("unsigned", "không có chữ ký số"),
    ("appended", "thêm vào sau chữ ký"),
])
def test_a_result_that_fails_its_check_is_refused_in_words(
        signed_pdf: bytes, case: str, words: str) -> None:
    pdf = {
        "tampered": lambda: _tampered(signed_pdf),
        "untrusted": lambda: STRANGER.sign(simple_pdf(1)),
        "expired": lambda: _expired().sign(simple_pdf(1)),
        "unsigned": lambda: simple_pdf(1),
        "appended": lambda: _updated_after_signing(signed_pdf),
    }[case]()
    with pytest.raises(ResultSignatureRefused, match=words) as refused:
        TRUST.verify(io.BytesIO(pdf))
    assert refused.value.en.startswith("The electronic result's digital signature")


def _updated_after_signing(pdf: bytes) -> bytes:
    """An incremental update written after the signature (a revision it does not cover)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.root["/Lang"] = generic.TextStringObject("vi")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _expired() -> SampleSigner:
    return CITY.officer("Hết Hạn", expired=True)


def test_without_a_trust_root_electronic_results_are_refused(signed_pdf: bytes) -> None:
    with pytest.raises(DomainError, match="Chưa cấu hình chứng thư gốc") as refused:
        ResultTrust().verify(io.BytesIO(signed_pdf))
    assert "No trust root" in refused.value.en


def test_the_trust_roots_setting_is_read_and_checked(tmp_path: Path) -> None:
    bundle = tmp_path / "roots.pem"
    bundle.write_bytes(CITY.root_pem + SampleAuthority("Second root").root_pem)
    store = check(Settings(database_url=f"sqlite:///{tmp_path / 'a.sqlite3'}",
                           result_trust_roots=bundle))
    app = application_for(store, Settings(result_trust_roots=bundle))
    try:
        assert len(app.result_trust.roots) == 2
    finally:
        app.close()
    (tmp_path / "junk.pem").write_bytes(b"not a certificate")
    for path in (tmp_path / "junk.pem", tmp_path / "missing.pem"):
        with pytest.raises(SettingsError, match="HOSO_RESULT_TRUST_ROOTS"):
            check(Settings(database_url=f"sqlite:///{tmp_path / 'a.sqlite3'}",
                           result_trust_roots=path))


def test_a_version_2_signed_event_reads_without_a_verdict() -> None:
    state = {"decision_number": "1", "document_sha256": None, "key_id": None,
             "signature": None}
    Dossier.Signed.upcast_v2_v3(state)
    assert state["result_signature"] is None


# ---- through the application, on both stores -------------------------------------------

@pytest.fixture
def app(store: Store, clock: FakeClock, tmp_path: Path) -> Iterator[HosoApplication]:
    application = HosoApplication(env=store.eventsourcing_env(), clock=clock,
                                  key_vault=MemoryKeyVault(), result_trust=TRUST,
                                  document_store=FileDocumentStore(tmp_path / "documents"))
    yield application
    application.close()


def _at_the_signing_officer(app: HosoApplication) -> UUID:
    dossier_id = receive(app).dossier_id
    hand_over(app, dossier_id, "tiepnhan", "STP-HCTP", "hctp")
    hand_over(app, dossier_id, "hctp", "STP-BGD", "gd.stp")
    ensure_signing_key(app, "gd.stp")
    return dossier_id


def _sign(app: HosoApplication, dossier_id: UUID, pdf: bytes) -> object:
    return app.sign(dossier_id, expected_version=None, actor_id="gd.stp",
                    decision_number="15/PLLTP", decision_title="Phiếu LLTP",
                    passphrase=SIGNING_PASSPHRASE, result=Attachment(
                        RESULT_DOCUMENT, check_upload(io.BytesIO(pdf), "phieu-lltp.pdf")))


def test_the_application_records_the_verdict_or_refuses_leaving_nothing(
        app: HosoApplication, signed_pdf: bytes, tmp_path: Path) -> None:
    refused_id = _at_the_signing_officer(app)
    before = list(app.repository.event_store.get(refused_id))
    tampered = _tampered(signed_pdf)
    with pytest.raises(ResultSignatureRefused):
        _sign(app, refused_id, tampered)
    assert list(app.repository.event_store.get(refused_id)) == before
    assert not [f for f in (tmp_path / "documents").rglob("*") if f.is_file()]

    dossier_id = _at_the_signing_officer(app)
    _sign(app, dossier_id, signed_pdf)
    signed = [e for e in app.repository.event_store.get(dossier_id)
              if isinstance(e, Dossier.Signed)][-1]
    assert signed.result_signature is not None
    assert signed.result_signature["verdict"] == "valid"
    assert "Trần Thị Ký" in signed.result_signature["signer"]
    assert signed.document_sha256 == app.dossier(dossier_id).electronic_result["sha256"]
    assert app.documents.exists(signed.document_sha256)


def test_the_log_entry_carries_the_verdict_and_old_entries_recompute_unchanged(
        app: HosoApplication, signed_pdf: bytes) -> None:
    from domain.transparency.entry import log_entry
    from tests.helpers import sign

    def entry_of_signed(dossier_id: UUID) -> bytes:
        event = [e for e in app.repository.event_store.get(dossier_id)
                 if isinstance(e, Dossier.Signed)][-1]
        return log_entry(event, origin="hoso.test/log", salt=b"s", previous_leaf=None)

    paper = _at_the_signing_officer(app)
    sign(app, paper)
    assert b"result_signature" not in entry_of_signed(paper)  # as before version 3
    electronic = _at_the_signing_officer(app)
    _sign(app, electronic, signed_pdf)
    assert b'"result_signature":{' in entry_of_signed(electronic)
