"""The audit page's log integrity section and the proof bundle download, as inspectors see
them, on both stores."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.transparency.bundle import check_bundle
from domain.transparency.check_bundle import main as check_bundle_main
from domain.transparency.checkpoint import NoteSigner
from domain.transparency.entry import leaf_hash
from domain.working_days import HCMC
from projections.store import Dialect, Store
from tests.conftest import FakeClock
from tests.helpers import receive, walk_to_delivered_by_post
from tests.test_transparency_log import _edit, _row, _set_state
from tests.web_helpers import PASSWORD, read_in, sign_in_as
from web.accounts import StaffAccounts
from web.app import create_app
from web.services import Services

SIGNER = NoteSigner.generate("hoso.local/log")


@pytest.fixture
def web(store: Store, app: HosoApplication, accounts: StaffAccounts,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("HOSO_LOG_SIGNING_KEY", SIGNER.skey)
    for user in ("tiepnhan", "hctp", "thanhtra"):
        accounts.set_password(user, PASSWORD)
    # Not following: each test decides when the log catches up and when a checkpoint is made.
    with TestClient(create_app(store, app, accounts, follow=False)) as client:
        yield client


def services(web: TestClient) -> Services:
    found: Services = web.app.state.services  # type: ignore[attr-defined]
    return found


def log_and_sign(web: TestClient, clock: FakeClock) -> None:
    services(web).read_models.catch_up()
    assert services(web).transparency.make_checkpoint(clock()) is not None


@pytest.fixture
def delivered(app: HosoApplication) -> UUID:
    receive(app)  # another dossier first, so leaf indexes are not versions
    dossier = receive(app).dossier_id
    walk_to_delivered_by_post(app, dossier)
    return dossier


def sign_in(client: TestClient, user: str) -> None:
    sign_in_as(client, user, PASSWORD)


def integrity(web: TestClient, dossier: UUID) -> str:
    response = web.get(f"/dossiers/{dossier}/audit")
    assert response.status_code == 200
    return response.text.split('id="log-integrity"')[1].split("</section>")[0]


def part(section: str, element_id: str) -> str:
    return re.search(rf'<[a-z]+[^>]*id="{element_id}"[^>]*>.*?</(p|div)>', section,
                     flags=re.S).group(0)  # type: ignore[union-attr]


def test_an_untouched_dossier_is_verified_and_in_the_checkpoint(
        web: TestClient, delivered: UUID, clock: FakeClock) -> None:
    log_and_sign(web, clock)
    sign_in(web, "thanhtra")
    section = integrity(web, delivered)
    assert "Toàn vẹn nhật ký" in section
    chain = part(section, "chain-status")
    assert "Đã xác minh" in chain and "10 sự kiện đang lưu" in chain
    read_in(web, "en")
    english = integrity(web, delivered)
    assert "Log integrity" in english and "Download proof bundle" in english
    assert "match the transparency log byte for byte" in part(english, "chain-status")
    read_in(web, "vi")
    inclusion = part(section, "inclusion-status")
    checkpoint = services(web).transparency.checkpoints.latest()
    assert checkpoint is not None
    assert "Đã xác minh" in inclusion
    assert f"10 mục của hồ sơ nằm trong điểm kiểm tra mới nhất ({checkpoint.tree_size} mục" in (
        inclusion)
    assert checkpoint.root_hash.hex()[:16] in inclusion
    assert 'role="alert"' not in section
    assert f'href="/dossiers/{delivered}/proof-bundle.json"' in section
    assert "Tải gói bằng chứng" in section


def test_no_checkpoint_and_not_yet_in_one(web: TestClient, delivered: UUID,
                                          app: HosoApplication, clock: FakeClock) -> None:
    services(web).read_models.catch_up()
    sign_in(web, "thanhtra")
    section = integrity(web, delivered)
    assert "Đã xác minh" in part(section, "chain-status")
    assert "Chưa có điểm kiểm tra nào được ký" in part(section, "inclusion-status")
    assert "proof-bundle.json" not in section
    refused = web.get(f"/dossiers/{delivered}/proof-bundle.json")
    assert refused.status_code == 404 and "Chưa có gói bằng chứng" in refused.text

    log_and_sign(web, clock)
    later = receive(app).dossier_id
    app.rate(app.dossier(delivered).tracking_token, delivered, satisfaction=5,
             came_back=False, unofficial_request=False, comment="Nhanh, gọn.")
    services(web).read_models.catch_up()
    newcomer = part(integrity(web, later), "inclusion-status")
    assert "Chưa có trong điểm kiểm tra" in newcomer
    read_in(web, "en")
    assert "Not yet in a checkpoint" in part(integrity(web, later), "inclusion-status")
    read_in(web, "vi")
    grown = part(integrity(web, delivered), "inclusion-status")
    assert "10 mục của hồ sơ nằm trong điểm kiểm tra" in grown
    assert "1 mục mới hơn chưa có trong điểm kiểm tra" in grown
    # Events the log has not reached yet are counted, not reported.
    app.transfer(later, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP")
    chain = part(integrity(web, later), "chain-status")
    assert "Đã xác minh" in chain and "1 sự kiện mới nhất sổ chưa kịp ghi" in chain


def test_a_stored_event_altered_behind_the_log_is_shown_loudly(
        web: TestClient, store: Store, delivered: UUID, clock: FakeClock) -> None:
    log_and_sign(web, clock)
    signed_at, signed = _row(store, delivered, 6)
    _set_state(store, signed_at, _edit(signed, decision_number="99/GIA"))
    sign_in(web, "thanhtra")
    section = integrity(web, delivered)
    chain = part(section, "chain-status")
    assert 'class="error" role="alert"' in chain
    assert "Hồ sơ này đã bị thay đổi sau khi ghi sổ" in chain
    assert "Phiên bản 6 (Ký duyệt kết quả): sự kiện đang lưu không còn khớp" in chain
    read_in(web, "en")
    assert "Version 6 (Decision signed): the stored event no longer matches" in part(
        integrity(web, delivered), "chain-status")
    read_in(web, "vi")
    assert chain.count("<li>") == 1
    # The log itself was not touched: its entries are still those signed.
    assert "Đã xác minh" in part(section, "inclusion-status")


def test_a_rewritten_log_no_longer_checks_against_the_checkpoint(
        web: TestClient, store: Store, delivered: UUID, clock: FakeClock) -> None:
    """Someone who can drop the triggers rewrites an entry and its leaf hash: the entry no
    longer reaches the signed root, which the key outside the database signed."""
    log_and_sign(web, clock)
    view = services(web).read_models.transparency_log
    entries = view.dossier_entries(delivered)
    forged = entries[0].entry.replace(b'"actor":"tiepnhan"', b'"actor":"hctp"')
    with view._transaction(commit=True) as cursor:
        if store.dialect is Dialect.SQLITE:
            view._execute(cursor, "DROP TRIGGER log_entry_no_update")
        else:
            view._execute(cursor, "ALTER TABLE {p}log_entry DISABLE TRIGGER log_entry_no_change")
        view._execute(cursor, "UPDATE {p}log_entry SET entry = %(e)s, leaf_hash = %(h)s "
                              "WHERE position = %(p)s",
                      {"e": forged.decode(), "h": leaf_hash(forged).hex(),
                       "p": entries[0].position})
    sign_in(web, "thanhtra")
    section = integrity(web, delivered)
    inclusion = part(section, "inclusion-status")
    assert 'role="alert"' in inclusion
    assert "Không xác minh được hồ sơ trong điểm kiểm tra đã ký" in inclusion
    assert re.search(r"version 1 \(leaf \d+\): the inclusion proof does not lead", inclusion)
    chain = part(section, "chain-status")
    assert "Phiên bản 1 (Tiếp nhận hồ sơ)" in chain and "Phiên bản 2" in chain


def readings(app: HosoApplication, clock: FakeClock, viewer: str) -> list[tuple[str, str]]:
    day = clock().astimezone(HCMC).date()
    return [(e.purpose, e.page) for e in app.readings(viewer, day)]


def test_the_bundle_is_for_inspectors_and_checks_offline(
        web: TestClient, delivered: UUID, app: HosoApplication, clock: FakeClock,
        tmp_path: Path) -> None:
    log_and_sign(web, clock)
    path = f"/dossiers/{delivered}/proof-bundle.json"
    sign_in(web, "hctp")
    refused = web.get(path)
    assert refused.status_code == 403
    assert "Chỉ thanh tra viên" in refused.text
    read_in(web, "en")
    assert "Only inspectors" in web.get(path).text
    read_in(web, "vi")
    assert readings(app, clock, "hctp") == []

    sign_in(web, "thanhtra")
    response = web.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    code = app.dossier(delivered).code
    assert response.headers["content-disposition"] == (
        f'attachment; filename="hoso-proof-{code}.json"')
    bundle = response.json()
    assert bundle["dossier_code"] == code and len(bundle["entries"]) == 10
    assert check_bundle(bundle, trusted_key=SIGNER.verifier.vkey).ok
    assert readings(app, clock, "thanhtra") == [("audit", "proof_bundle")]

    saved = tmp_path / "bundle.json"
    saved.write_bytes(response.content)
    out = io.StringIO()
    assert check_bundle_main([str(saved), "--key", SIGNER.verifier.vkey], out) == 0
    assert f"dossier:    {code}" in out.getvalue()
    tampered = json.loads(response.content)
    tampered["entries"][0]["leaf_index"] += 1
    saved.write_text(json.dumps(tampered))
    assert check_bundle_main([str(saved), "--key", SIGNER.verifier.vkey], io.StringIO()) == 1

    for missing in ("/dossiers/00000000-0000-0000-0000-000000000000/proof-bundle.json",
                    "/dossiers/not-a-uuid/proof-bundle.json"):
        assert web.get(missing).status_code == 404
    web.cookies.clear()
    stranger = web.get(path, follow_redirects=False)
    assert stranger.status_code == 303 and stranger.headers["location"].startswith("/signin")


def test_an_entry_slipped_into_the_log_stops_the_bundle(web: TestClient, delivered: UUID,
                                                         clock: FakeClock) -> None:
    log_and_sign(web, clock)  # the server now holds the tree of what it signed
    view = services(web).read_models.transparency_log
    entries = list(view.all_entries())
    with view._transaction(commit=True) as cursor:
        view._execute(cursor, "INSERT INTO {p}log_entry (position, dossier_id, version, entry, "
                              "leaf_hash, leaf_index) VALUES (%(p)s, %(d)s, 11, %(e)s, %(h)s, "
                              "%(i)s)",
                      {"p": entries[-1].position + 1000, "d": delivered, "e": "{}",
                       "h": leaf_hash(b"{}").hex(), "i": len(entries) + 1})
    gap = len(entries)
    sign_in(web, "thanhtra")
    section = integrity(web, delivered)
    inclusion = part(section, "inclusion-status")
    assert 'role="alert"' in inclusion
    assert f"the log has no leaf {gap}: the leaf indexes of its entries have a gap" in inclusion
    assert "Phiên bản 11" in part(section, "chain-status")
    refused = web.get(f"/dossiers/{delivered}/proof-bundle.json")
    assert refused.status_code == 409
    assert "Không lập được gói bằng chứng" in refused.text
    read_in(web, "en")
    assert "the leaf indexes of its entries have a gap" in web.get(
        f"/dossiers/{delivered}/proof-bundle.json").text
