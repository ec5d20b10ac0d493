"""Signed checkpoints: made, published, kept by outsiders, and what they catch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import cli
from domain.application import HosoApplication
from domain.transparency.checkpoint import NoteSigner, open_checkpoint
from domain.transparency.entry import log_entry
from domain.transparency.merkle import leaf_hash, verify_consistency
from projections.checkpoints import check_checkpoints
from projections.runners import ReadModels
from projections.store import Dialect, Store
from tests.helpers import receive, url_of, walk_to_signed
from tests.test_transparency_log import _edit, _row, _set_state
from web.app import create_app

SIGNER = NoteSigner.generate("hoso.local/log")


@pytest.fixture
def signed(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HOSO_LOG_SIGNING_KEY", SIGNER.skey)
    monkeypatch.setenv("HOSO_DATABASE_URL", url_of(store))
    yield


def checkpoint(capsys: pytest.CaptureFixture[str]) -> str:
    cli.main(["checkpoint"])
    return capsys.readouterr().out


def verify_exit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        cli.main(["verify", *args])
    except SystemExit as stop:
        return int(stop.code or 0), capsys.readouterr().out
    return 0, capsys.readouterr().out


def test_checkpoints_are_signed_published_and_grow_consistently(
        signed: None, store: Store, app: HosoApplication, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    walk_to_signed(app, receive(app).dossier_id)
    first_note = checkpoint(capsys)
    first = open_checkpoint(first_note, SIGNER.verifier.vkey, origin="hoso.local/log")
    # 8 dossier events, 2 of the signing officer's keyring, 2 of the day's code sequence
    assert first.size == 12
    with TestClient(create_app(store, app, follow=False)) as web:
        assert web.get("/log/checkpoint").text == first_note
        assert web.get("/log/key").text.strip() == SIGNER.verifier.vkey
        page = web.get("/log")
        assert "Sổ nhật ký minh bạch" in page.text and "hoso.local/log\n12\n" in page.text
    kept = tmp_path / "kept-by-the-press.txt"
    kept.write_text(first_note)
    assert "has not grown" in checkpoint(capsys)

    receive(app)
    second = open_checkpoint(checkpoint(capsys), SIGNER.verifier)
    models = ReadModels(store, app)
    stored = models.transparency().checkpoints.checkpoints()
    models.close()
    assert [c.tree_size for c in stored] == [12, 14] and stored[1].previous_size == 12
    assert verify_consistency(12, 14, first.root, second.root, stored[1].consistency_proof)

    code, out = verify_exit(capsys, "--against", str(kept))
    assert code == 0, out
    assert "3 checkpoints checked, 0 failed" in out


def test_a_rewritten_tail_is_caught_only_by_a_checkpoint_kept_outside(
        signed: None, store: Store, app: HosoApplication, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    dossier = receive(app).dossier_id
    walk_to_signed(app, dossier)
    kept = tmp_path / "kept.txt"
    kept.write_text(checkpoint(capsys))

    # Someone who can drop triggers rewrites the last event (who signed), recomputes its log
    # entry and leaf hash so event, entry and chain agree, and removes the stored checkpoints.
    version = app.dossier(dossier).version
    position, state = _row(store, dossier, version)
    _set_state(store, position, _edit(state, actor_id="tiepnhan2"))
    models = ReadModels(store, app)
    view = models.transparency_log
    entries = view.dossier_entries(dossier)
    settings = view.settings()
    tampered = list(app.repository.event_store.get(dossier))[-1]
    forged = log_entry(tampered, origin=settings.origin, salt=settings.salt,  # type: ignore[arg-type]
                       previous_leaf=entries[-2].leaf_hash)
    with view._transaction(commit=True) as cursor:
        if store.dialect is Dialect.SQLITE:
            for trigger in ("log_entry_no_update", "log_checkpoint_no_delete"):
                view._execute(cursor, f"DROP TRIGGER {trigger}")
        else:
            view._execute(cursor, "ALTER TABLE {p}log_entry DISABLE TRIGGER log_entry_no_change")
            view._execute(cursor, "ALTER TABLE {p}log_checkpoint "
                                  "DISABLE TRIGGER log_checkpoint_no_change")
        view._execute(cursor, "UPDATE {p}log_entry SET entry = %(e)s, leaf_hash = %(h)s "
                              "WHERE position = %(p)s",
                      {"e": forged.decode(), "h": leaf_hash(forged).hex(),
                       "p": entries[-1].position})
        view._execute(cursor, "DELETE FROM {p}log_checkpoint")
    models.close()

    code, out = verify_exit(capsys)
    assert code == 0, out  # the store alone cannot tell: that is why checkpoints leave it
    code, out = verify_exit(capsys, "--against", str(kept))
    assert code == 1
    assert "the log's first 12 entries no longer have the signed root" in out


def test_forged_and_outgrown_checkpoints_are_reported() -> None:
    leaves = [leaf_hash(bytes([n])) for n in range(5)]
    from domain.transparency.checkpoint import sign_checkpoint
    from domain.transparency.merkle import root

    def note(size: int, signer: NoteSigner = SIGNER, leaves_: Any = leaves) -> str:
        return sign_checkpoint("hoso.local/log", size, root(leaves_[:size]), signer)

    verifier = SIGNER.verifier
    assert check_checkpoints(leaves, [("a", note(3)), ("b", note(5))], verifier,
                             "hoso.local/log") == []
    impostor = NoteSigner.generate("hoso.local/log")
    problems = check_checkpoints(leaves[:4], [("forged", note(3, impostor)), ("old", note(5))],
                                 verifier, "hoso.local/log")
    assert problems[0].startswith("checkpoint forged: not a valid signed checkpoint")
    assert "signed for 5 entries, but the log now holds 4 — entries were removed" in problems[1]
    swapped = [leaves[1], leaves[0], *leaves[2:]]
    assert "history was rewritten" in check_checkpoints(swapped, [("c", note(5))], verifier,
                                                        "hoso.local/log")[0]
