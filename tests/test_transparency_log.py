"""The transparency log: canonical entries, append-only tables, and ``hoso verify``."""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

import cli
from domain.application import HosoApplication
from domain.dossier import Dossier
from domain.transparency.entry import jcs, leaf_hash, log_entry
from domain.transparency.merkle import root as merkle_root
from projections.runners import ReadModels
from projections.store import Dialect, Store
from projections.verify import FindingKind, verify
from tests.conftest import FakeClock
from tests.helpers import APPLICANT, hand_over, receive, url_of, walk_to_signed

# The vector of docs/transparency-log.md.
VECTOR_ENTRY = (
    b'{"actor":"buudien","dossier_id":"3f1c6a2e-8d4b-5e7f-9a01-23456789abcd","fields":{},'
    b'"format":"hoso-log-entry/1","idempotency_key":null,'
    b'"occurred_at":"2026-11-24T02:40:00.000000Z","origin":"hoso.example/log",'
    b'"previous":"48f09141b471f7ac4812829db5785e7a0e83aa7978d4dc4caffb612d77bb8d04",'
    b'"private_digest":"632eb5394a3661f6ec71cb72e21eb2b3dd0e2185f96807ec791b634039c548d9",'
    b'"recorded_at":"2026-11-24T03:15:00.250000Z","type":"Delivered","unit":"BUUDIEN",'
    b'"version":12}'
)
VECTOR_LEAF = "64b6aa13315dd5155273771cd02e2b792f01a1ddd6726febc2f2c6263e190cbd"


def _vector_event(recipient: str) -> Dossier.Delivered:
    return Dossier.Delivered(  # type: ignore[call-arg]
        originator_id=UUID("3f1c6a2e-8d4b-5e7f-9a01-23456789abcd"), originator_version=12,
        timestamp=datetime(2026, 11, 24, 3, 15, 0, 250000, tzinfo=UTC),
        actor_id="buudien", actor_unit="BUUDIEN",
        occurred_at=datetime(2026, 11, 24, 2, 40, tzinfo=UTC), recipient_name=recipient)


def test_fixed_vector() -> None:
    previous = hashlib.sha256(b"hoso test previous").digest()
    # The vector is a /1 entry (Delivered has no free text: /2 differs only in its name).
    entry = log_entry(_vector_event("Trần Thị Bích Ngọc"), origin="hoso.example/log",
                      salt=b"hoso test salt", previous_leaf=previous,
                      entry_format="hoso-log-entry/1")
    assert entry == VECTOR_ENTRY
    assert leaf_hash(entry).hex() == VECTOR_LEAF
    assert hashlib.sha256(b"\x00" + entry).hexdigest() == VECTOR_LEAF
    # The private digest is SHA-256(salt ‖ JCS of the private fields), nothing more.
    private = jcs({"recipient_name": "Trần Thị Bích Ngọc"})
    assert json.loads(entry)["private_digest"] == hashlib.sha256(
        b"hoso test salt" + private).hexdigest()
    # Text is NFC-normalised: the same name typed decomposed gives the same entry.
    decomposed = unicodedata.normalize("NFD", "Trần Thị Bích Ngọc")
    assert decomposed != "Trần Thị Bích Ngọc"
    assert log_entry(_vector_event(decomposed), origin="hoso.example/log",
                     salt=b"hoso test salt", previous_leaf=previous,
                     entry_format="hoso-log-entry/1") == VECTOR_ENTRY


def test_the_documented_vector_is_the_tested_one() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "transparency-log.md").read_text()
    assert VECTOR_ENTRY.decode() in doc.splitlines()
    assert VECTOR_LEAF in doc and f"{len(VECTOR_ENTRY)} bytes" in doc


def test_jcs_rules() -> None:
    # Keys by UTF-16 code units: U+1F600 (surrogates D83D DE00) sorts before U+E000, the
    # other way round from code points. Controls escaped, nothing else escaped.
    assert jcs({"\ue000": 2, "\U0001f600": 1, "a": [True, None, "é\n\x01"]}) == (
        '{"a":[true,null,"é\\n\\u0001"],"\U0001f600":1,"\ue000":2}').encode()
    with pytest.raises(TypeError):
        jcs({"x": 1.5})
    with pytest.raises(ValueError):
        jcs(2**53)


@pytest.fixture
def models(store: Store, app: HosoApplication) -> Iterator[ReadModels]:
    read_models = ReadModels(store, app)
    yield read_models
    read_models.close()


def _entries(models: ReadModels) -> list[tuple[int, bytes, bytes]]:
    return [(e.position, e.entry, e.leaf_hash) for e in models.transparency_log.all_entries()]


def test_private_data_never_logged_and_chain_links(app: HosoApplication,
                                                   models: ReadModels) -> None:
    outcome = receive(app)
    walk_to_signed(app, outcome.dossier_id)
    models.catch_up()
    dossier = app.dossier(outcome.dossier_id)
    entries = models.transparency_log.dossier_entries(outcome.dossier_id)
    assert [e.version for e in entries] == list(range(1, 9))
    text = b"".join(e.entry for e in entries).decode()
    for secret in [*APPLICANT.values(), dossier.tracking_token, "0912345678"]:
        assert secret not in text
    first = json.loads(entries[0].entry)
    assert first["type"] == "Received" and first["previous"] is None
    assert first["fields"]["code"] == dossier.code and first["idempotency_key"]
    assert len(first["private_digest"]) == 64
    for before, after in itertools.pairwise(entries):
        assert json.loads(after.entry)["previous"] == before.leaf_hash.hex()
        assert leaf_hash(after.entry) == after.leaf_hash


def test_chain_links_across_batches_and_interleaved_dossiers(
        app: HosoApplication, models: ReadModels) -> None:
    # A batch remembers each dossier's latest leaf and sends its entries at the end: an entry
    # must still link to the one before it whether that was written in the same batch (not
    # yet sent) or in an earlier, committed one.
    from projections.runners import catch_up
    from projections.transparency_log import TransparencyLogProjection

    first, second = receive(app).dossier_id, receive(app).dossier_id
    hand_over(app, first, "tiepnhan", "STP-HCTP", "hctp")
    walk_to_signed(app, second)
    projection = TransparencyLogProjection(view=models.transparency_log)
    batches = []
    while applied := catch_up(app, projection, limit=3):
        batches.append(applied)
    assert len(batches) > 3
    for dossier_id in (first, second):
        entries = models.transparency_log.dossier_entries(dossier_id)
        assert [e.version for e in entries] == list(range(1, len(entries) + 1))
        assert json.loads(entries[0].entry)["previous"] is None
        for before, after in itertools.pairwise(entries):
            assert json.loads(after.entry)["previous"] == before.leaf_hash.hex()
    report = verify(app, models.transparency_log)
    assert report.ok, report.findings


def test_rebuild_leaves_the_log_untouched(app: HosoApplication, models: ReadModels) -> None:
    receive(app)
    walk_to_signed(app, receive(app).dossier_id)
    models.catch_up()
    before = _entries(models)
    # And the signing officer's keyring (opened, key registered) and the day's code
    # sequence (started, two numbers issued).
    assert len(before) == 9 + 2 + 3
    models.rebuild()
    assert _entries(models) == before
    with pytest.raises(RuntimeError, match="append-only"):
        models.transparency_log.reset(app.name)


def test_log_tables_refuse_update_and_delete(app: HosoApplication, models: ReadModels) -> None:
    receive(app)
    models.catch_up()
    view = models.transparency_log
    for statement in ("UPDATE {p}log_entry SET entry = 'x'", "DELETE FROM {p}log_entry",
                      "UPDATE {p}log_settings SET salt = '00'", "DELETE FROM {p}log_settings"):
        with pytest.raises(Exception, match="append-only"), view._transaction(
                commit=True) as cursor:
            view._execute(cursor, statement)
    assert len(_entries(models)) == 3  # the receipt, its code sequence started and issued


# ---- tampering with the library's own rows ---------------------------------------------


@contextmanager
def _raw(store: Store) -> Iterator[tuple[Any, str, str]]:
    """A plain connection to the event table, with the table name and the id column."""
    if store.dialect is Dialect.SQLITE:
        conn = sqlite3.connect(str(store.sqlite_path))
        try:
            yield conn, "stored_events", "rowid"
            conn.commit()
        finally:
            conn.close()
    else:
        with psycopg.connect(store.conninfo()) as pg:
            yield pg, f'"{store.schema}".hoso_events', "notification_id"


def _q(store: Store, statement: str) -> str:
    return statement if store.dialect is Dialect.SQLITE else statement.replace("?", "%s")


def _id(store: Store, dossier_id: UUID) -> str:
    # The library keeps SQLite's ids as 32 hex digits, PostgreSQL's as uuid.
    return dossier_id.hex if store.dialect is Dialect.SQLITE else str(dossier_id)


def _row(store: Store, dossier_id: UUID, version: int) -> tuple[int, bytes]:
    with _raw(store) as (conn, table, nid):
        row = conn.execute(_q(store, f"SELECT {nid}, state FROM {table} "
                                     "WHERE originator_id = ? AND originator_version = ?"),
                           (_id(store, dossier_id), version)).fetchone()
    return int(row[0]), bytes(row[1])


def _set_state(store: Store, position: int, state: bytes) -> None:
    with _raw(store) as (conn, table, nid):
        conn.execute(_q(store, f"UPDATE {table} SET state = ? WHERE {nid} = ?"),
                     (state, position))


def _edit(state: bytes, **changes: Any) -> bytes:
    parsed = json.loads(state)
    for key, value in changes.items():
        if isinstance(value, dict):
            parsed[key] = parsed[key] | value
        else:
            parsed[key] = value
    return json.dumps(parsed).encode()


def test_verify_finds_each_kind_of_tampering(store: Store, app: HosoApplication,
                                              models: ReadModels, clock: FakeClock,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    a = receive(app).dossier_id
    walk_to_signed(app, a)
    b = receive(app).dossier_id
    # A row of another kind, later removed: leaves a hole in the notification ids where a
    # forger could slip an event in "in the past".
    with _raw(store) as (conn, table, nid):
        conn.execute(_q(store, f"INSERT INTO {table} (originator_id, originator_version, "
                               "topic, state) VALUES (?, 1, 'tests:Gap', ?)"),
                     ("00000000-0000-0000-0000-000000000001", b"{}"))
        gap = conn.execute(_q(store, f"SELECT {nid} FROM {table} WHERE topic = 'tests:Gap'"),
                           ()).fetchone()[0]
    c = receive(app).dossier_id
    with _raw(store) as (conn, table, nid):  # after c, so SQLite does not reuse the id
        conn.execute(_q(store, f"DELETE FROM {table} WHERE {nid} = ?"), (gap,))
    clock.advance(minutes=5)
    models.catch_up()
    report = verify(app, models.transparency_log)
    assert report.ok, report.findings
    # + the keyring, the day's code sequence (started, three numbers)
    assert report.entries_checked == report.events_checked == 10 + 2 + 4
    monkeypatch.setenv("HOSO_DATABASE_URL", url_of(store))
    cli.main(["verify"])
    assert "no findings" in capsys.readouterr().out

    code_a, code_b = app.dossier(a).code, app.dossier(b).code
    # Modified: a value in the signed decision; and the applicant's phone (private data).
    signed_at, signed = _row(store, a, 6)
    _set_state(store, signed_at, _edit(signed, decision_number="99/GIA"))
    received_at, received = _row(store, b, 1)
    _set_state(store, received_at, _edit(received, applicant={"phone": "0900000000"}))
    # Reordered: the two first transfers of A swap their payloads.
    first_at, first = _row(store, a, 2)
    second_at, second = _row(store, a, 4)
    _set_state(store, first_at, second)
    _set_state(store, second_at, first)
    # Deleted: A's last event.
    last_at, _ = _row(store, a, 8)
    # Inserted: a copy of a transfer as A's version 9, in the hole.
    with _raw(store) as (conn, table, nid):
        conn.execute(_q(store, f"DELETE FROM {table} WHERE {nid} = ?"), (last_at,))
        topic = conn.execute(_q(store, f"SELECT topic FROM {table} WHERE {nid} = ?"),
                             (first_at,)).fetchone()[0]
        conn.execute(_q(store, f"INSERT INTO {table} ({nid}, originator_id, "
                               "originator_version, topic, state) VALUES (?, ?, 9, ?, ?)"),
                     (gap, _id(store, a), topic, first))

    report = verify(app, models.transparency_log)
    found = {(f.kind, f.position, f.dossier_code) for f in report.findings}
    assert found == {
        (FindingKind.MODIFIED, signed_at, code_a),
        (FindingKind.MODIFIED, received_at, code_b),
        (FindingKind.REORDERED, first_at, code_a),
        (FindingKind.REORDERED, second_at, code_a),
        (FindingKind.DELETED, last_at, code_a),
        (FindingKind.INSERTED, gap, code_a),
    }
    assert not report.ok
    assert app.dossier(c).code not in {f.dossier_code for f in report.findings}

    with pytest.raises(SystemExit) as exit_:
        cli.main(["verify"])
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert f"deleted #{last_at} {code_a}" in out and f"modified #{received_at} {code_b}" in out
    assert "2 modified, 1 deleted, 1 inserted, 2 reordered" in out


def test_events_beyond_the_log_are_pending(app: HosoApplication, models: ReadModels) -> None:
    receive(app)
    models.catch_up()
    receive(app)
    report = verify(app, models.transparency_log)
    # The receipt and its number: the code sequence's first event and the dossier's.
    assert report.ok and report.pending == 2 and report.events_checked == 3


def test_verify_finds_a_rewritten_log(store: Store, app: HosoApplication,
                                      models: ReadModels) -> None:
    """Someone with rights to drop the triggers rewrites an entry and its leaf hash alike:
    the event no longer matches, and the dossier's next entry no longer links to it."""
    dossier = receive(app).dossier_id
    walk_to_signed(app, dossier)
    models.catch_up()
    every = list(models.transparency_log.all_entries())
    entries = models.transparency_log.dossier_entries(dossier)
    clean = verify(app, models.transparency_log, on_leaf=lambda i, leaf: None)
    assert clean.ok and clean.tree_size == 8 + 2 + 2  # + the keyring, the code sequence
    assert clean.root == merkle_root([e.leaf_hash for e in every])
    first = entries[0]
    forged = first.entry.replace(b'"actor":"tiepnhan"', b'"actor":"hctp"')
    view = models.transparency_log
    with view._transaction(commit=True) as cursor:
        if store.dialect is Dialect.SQLITE:
            view._execute(cursor, "DROP TRIGGER log_entry_no_update")
        else:
            view._execute(cursor, "ALTER TABLE {p}log_entry DISABLE TRIGGER log_entry_no_change")
        view._execute(cursor, "UPDATE {p}log_entry SET entry = %(e)s, leaf_hash = %(h)s "
                              "WHERE position = %(p)s",
                      {"e": forged.decode(), "h": leaf_hash(forged).hex(), "p": first.position})
    report = verify(app, models.transparency_log)
    code = app.dossier(dossier).code
    assert {(f.kind, f.position, f.dossier_code) for f in report.findings} == {
        (FindingKind.MODIFIED, first.position, code),
        (FindingKind.REORDERED, entries[1].position, code),
    }
    assert report.root != clean.root


def test_the_fast_string_encoder_follows_the_rfc_rule_for_every_code_point() -> None:
    from domain.transparency import jcs as canonical

    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    for start in range(0, len(every), 4096):
        chunk = every[start:start + 4096]
        assert canonical._string(chunk) == canonical._reference_string(chunk)
    for char in ('"', "\\", "\x00", "\x1f", "\x7f", "\u2028", "é", "\U0001f600"):
        assert canonical._string(char) == canonical._reference_string(char)
