"""Events at rest encrypted with the library's cipher when HOSO_CIPHER_KEY is set."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import psycopg
import pytest
from eventsourcing.cryptography import AESCipher

from config.settings import Settings
from domain.application import HosoApplication, StoreUnreadable
from domain.signing import MemoryKeyVault
from domain.transparency.entry import leaf_hash
from projections.runners import ReadModels
from projections.store import Dialect, Store, StoreConfigError
from projections.verify import verify
from tests.conftest import FakeClock
from tests.helpers import APPLICANT, receive, walk_to_signed


def _stored_states(store: Store) -> list[bytes]:
    if store.dialect is Dialect.SQLITE:
        with sqlite3.connect(store.sqlite_path) as conn:  # type: ignore[arg-type]
            return [bytes(r[0]) for r in conn.execute("SELECT state FROM stored_events")]
    with psycopg.connect(store.conninfo()) as conn:
        return [bytes(r[0]) for r in conn.execute(
            f'SELECT state FROM "{store.schema}".hoso_events')]


def test_personal_data_rests_encrypted_and_reads_back(
        store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    store = replace(store, cipher_key=AESCipher.create_key(32))
    app = HosoApplication(env=store.eventsourcing_env(), clock=clock,
                          key_vault=MemoryKeyVault())
    models = ReadModels(store, app)
    try:
        app.check_store_readable()
        dossier_id = receive(app).dossier_id
        walk_to_signed(app, dossier_id)
        states = _stored_states(store)
        assert len(states) >= 8
        for secret in (APPLICANT["applicant_name"], APPLICANT["applicant_phone"],
                       APPLICANT["applicant_address"]):
            assert all(secret.encode() not in s for s in states), secret
        # Not JSON any more (a ciphertext's first byte is "{" once in 256: not a test of it).
        assert all(b"Received" not in s and not _is_json(s) for s in states)
        dossier = app.dossier(dossier_id)
        assert dossier.applicant["name"] == APPLICANT["applicant_name"]
        # The transparency log hashes canonical entries, not stored bytes: unaffected.
        models.catch_up()
        assert verify(app, models.transparency_log).ok
        entries = models.transparency_log.dossier_entries(dossier_id)
        assert all(leaf_hash(e.entry) == e.leaf_hash for e in entries)
    finally:
        models.close()
        app.close()
    # Another key, or none, cannot read the store: said at start, not page after page.
    for other in (AESCipher.create_key(32), ""):
        reader = HosoApplication(
            env=replace(store, cipher_key=other or None).eventsourcing_env(), clock=clock)
        try:
            with pytest.raises(StoreUnreadable, match="HOSO_CIPHER_KEY"):
                reader.check_store_readable()
        finally:
            reader.close()


@pytest.mark.parametrize("key", ["not base64!", "c2hvcnQ="])
def test_a_malformed_key_is_refused(store: Store, monkeypatch: pytest.MonkeyPatch,
                                    key: str) -> None:
    with pytest.raises(StoreConfigError, match="HOSO_CIPHER_KEY"):
        replace(store, cipher_key=key).eventsourcing_env()
    monkeypatch.setenv("HOSO_CIPHER_KEY", key)  # and as a setting, at start
    with pytest.raises(StoreConfigError, match="HOSO_CIPHER_KEY"):
        Store.from_settings(Settings.from_environment())


def _is_json(state: bytes) -> bool:
    try:
        json.loads(state)
    except ValueError:  # UnicodeDecodeError included
        return False
    return True
