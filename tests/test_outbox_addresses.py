"""Issue 17, item 8: the applicant's email in the outbox rests encrypted with the cipher key
and is dropped once nothing more is owed — read from the raw tables, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from eventsourcing.cryptography import AESCipher

from domain.application import HosoApplication
from projections.migrate import migrate
from projections.outbox import Channel
from projections.runners import ReadModels
from projections.store import Store
from tests.conftest import FakeClock
from tests.notify_helpers import (
    EMAIL,
    RecordingSender,
    deliverer,
    receive_with_email,
    walk_with_every_notice,
)


@pytest.fixture
def models(store: Store, app: HosoApplication) -> Iterator[ReadModels]:
    """The read models of a store whose key (HOSO_CIPHER_KEY) seals the outbox's addresses."""
    read_models = ReadModels(replace(store, cipher_key=AESCipher.create_key(32)), app)
    yield read_models
    read_models.close()


def raw_outbox(models: ReadModels) -> str:
    """Every stored row of the two tables that held the address, as text."""
    outbox = models.outbox
    return repr(outbox._select("SELECT * FROM {p}outbox_dossier")) + repr(
        outbox._select("SELECT * FROM {p}outbox_message"))


def email_rows(models: ReadModels) -> list[dict[str, object]]:
    return models.outbox._select(
        "SELECT recipient, status FROM {p}outbox_message WHERE channel = 'email'")


def test_the_address_rests_encrypted_and_is_opened_only_to_send(
        app: HosoApplication, models: ReadModels) -> None:
    outcome = receive_with_email(app)
    app.request_supplement(outcome.dossier_id, expected_version=None, actor_id="tiepnhan",
                           missing_items=["Bản sao CCCD"], reason="thiếu giấy tờ")
    models.catch_up()
    stored = raw_outbox(models)
    assert EMAIL not in stored and EMAIL.split("@")[0] not in stored
    assert "aesgcm:" in stored
    [owed] = [m for m in models.outbox.messages(outcome.dossier_id)
              if m.channel is Channel.EMAIL]
    assert owed.recipient == EMAIL
    sender = RecordingSender()
    assert deliverer(models, app, sender).run_once().delivered >= 1
    assert [e.to for e in sender.sent] == [EMAIL]


def test_the_address_is_dropped_once_nothing_more_is_owed(
        app: HosoApplication, models: ReadModels, clock: FakeClock) -> None:
    outcome = receive_with_email(app)
    walk_with_every_notice(app, outcome.dossier_id)  # … to the hand-over: the last notice
    models.catch_up()
    [dossier] = models.outbox._select("SELECT email FROM {p}outbox_dossier")
    assert dossier["email"] is None  # the dossier's last step is recorded
    assert {r["status"] for r in email_rows(models)} == {"pending"}
    assert all(str(r["recipient"]).startswith("aesgcm:") for r in email_rows(models))
    sender = RecordingSender()
    deliverer(models, app, sender).run_once()
    assert len(sender.sent) == len(email_rows(models)) and {e.to for e in sender.sent} == {
        EMAIL}
    assert {(r["recipient"], r["status"]) for r in email_rows(models)} == {("", "delivered")}
    assert EMAIL not in raw_outbox(models) and "aesgcm:" not in raw_outbox(models)


def test_migrate_seals_and_drops_what_an_earlier_version_left_in_clear(
        app: HosoApplication, models: ReadModels, store: Store) -> None:
    owed = receive_with_email(app)
    app.request_supplement(owed.dossier_id, expected_version=None, actor_id="tiepnhan",
                           missing_items=["Bản sao CCCD"], reason="thiếu giấy tờ")
    done = receive_with_email(app, "xong@example.vn")
    walk_with_every_notice(app, done.dossier_id)
    models.catch_up()
    outbox = models.outbox
    with outbox._transaction(commit=True) as cursor:  # the tables as the old version left them
        outbox._execute(cursor, "UPDATE {p}outbox_dossier SET email = %(e)s", {"e": EMAIL})
        outbox._execute(cursor, "UPDATE {p}outbox_message SET recipient = %(e)s "
                        "WHERE channel = 'email'", {"e": EMAIL})
        outbox._execute(cursor, "UPDATE {p}outbox_message SET status = 'delivered' "
                        "WHERE dossier_id = %(d)s", {"d": done.dossier_id})
        outbox._execute(cursor, "DELETE FROM {p}_yoyo_migration WHERE migration_id = %(m)s",
                        {"m": "0038_outbox_addresses_dropped"})
    assert EMAIL in raw_outbox(models)
    assert migrate(models.store) == ["0038_outbox_addresses_dropped"]
    assert EMAIL not in raw_outbox(models)
    rows = outbox._select("SELECT dossier_id, email FROM {p}outbox_dossier")
    assert {str(r["dossier_id"]): r["email"] is None for r in rows} == {
        str(owed.dossier_id): False, str(done.dossier_id): True}
    assert [m.recipient for m in outbox.messages(owed.dossier_id)
            if m.channel is Channel.EMAIL] == [EMAIL]
