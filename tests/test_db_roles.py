"""Issue 17, item 6: on PostgreSQL the serving role (``hoso serving-role``) runs the app —
receives, follows the log, signs a checkpoint, verifies, serves pages — and cannot rewrite
the record: its UPDATE, DELETE, TRUNCATE, DROP TRIGGER, ALTER and DROP on the event store,
the log and the checkpoints fail, and nothing changed."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql
from starlette.testclient import TestClient

from cli import main
from domain.application import HosoApplication
from domain.transparency.checkpoint import NoteSigner
from projections.roles import RoleError, grant_serving_role
from projections.runners import ReadModels
from projections.store import Dialect, Store
from tests.conftest import FakeClock
from tests.helpers import receive, url_of
from tests.web_helpers import PASSWORD, sign_in_as
from web.accounts import open_accounts
from web.app import create_app

SIGNER = NoteSigner.generate("hoso.local/log")


@pytest.fixture
def serving(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The test store as the serving role sees it (made by the command, as the owner)."""
    if store.dialect is not Dialect.POSTGRESQL:
        pytest.skip("roles are PostgreSQL's")
    role = f"hoso_serve_{uuid4().hex[:10]}"
    monkeypatch.setenv("HOSO_DATABASE_URL", url_of(store))
    monkeypatch.setenv("HOSO_LOG_SIGNING_KEY", SIGNER.skey)
    main(["serving-role", role])
    try:
        yield dataclasses.replace(store, user=role, pool_size=1)
    finally:
        with psycopg.connect(store.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def events_table(store: Store) -> str:
    app = HosoApplication(env=store.eventsourcing_env())
    try:
        return str(app.recorder.events_table_name)  # type: ignore[attr-defined]
    finally:
        app.close()


def test_the_app_runs_as_the_serving_role(serving: Store, clock: FakeClock,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    app = HosoApplication(env=serving.eventsourcing_env(), clock=clock)
    models = ReadModels(serving, app)
    accounts = open_accounts(serving)
    try:
        dossier = receive(app).dossier_id
        models.catch_up()  # every read model, the transparency log and the outbox
        accounts.set_password("tiepnhan", PASSWORD)
        with TestClient(create_app(serving, app, accounts)) as web:
            sign_in_as(web, "tiepnhan", PASSWORD)  # a session and an attempt recorded
            assert web.get(f"/dossiers/{dossier}").status_code == 200  # a reading recorded
            token = app.tracking_token(dossier)
            assert web.get(f"/t/{token}").status_code == 200
    finally:
        accounts.close()
        models.close()
        app.close()
    monkeypatch.setenv("HOSO_DATABASE_URL", url_of(serving))
    capsys.readouterr()
    main(["checkpoint"])  # a checkpoint appended by the serving role
    assert "hoso.local/log" in capsys.readouterr().out
    main(["verify"])  # and no finding on the clean store
    assert "0 failed" in capsys.readouterr().out


ATTACKS = [
    "UPDATE {table} SET {column} = {column}",
    "DELETE FROM {table}",
    "TRUNCATE {table}",
    "ALTER TABLE {table} DISABLE TRIGGER ALL",
    "ALTER TABLE {table} ADD COLUMN forged text",
    "DROP TABLE {table}",
]


def test_the_serving_role_cannot_rewrite_the_record(serving: Store, store: Store,
                                                    clock: FakeClock) -> None:
    app = HosoApplication(env=store.eventsourcing_env(), clock=clock)
    models = ReadModels(store, app)
    try:
        receive(app)
        models.catch_up()
    finally:
        models.close()
        app.close()
    main(["checkpoint"])  # as the owner (the fixture named it and the signing key)
    record = {events_table(store): "topic", "log_entry": "entry", "log_checkpoint": "note",
              "log_settings": "origin"}
    attacks = [a.format(table=f"{store.schema}.{t}", column=c)
               for t, c in record.items() for a in ATTACKS]
    attacks += [f"DROP TRIGGER {trigger} ON {store.schema}.{table}" for trigger, table in (
        ("log_entry_no_change", "log_entry"), ("log_entry_no_truncate", "log_entry"),
        ("log_settings_no_change", "log_settings"),
        (f"{events_table(store)}_owner_only", events_table(store)))]

    def counts() -> dict[str, int]:
        with psycopg.connect(store.conninfo()) as conn:
            return {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(store.schema, t))).fetchone()[0]  # type: ignore[index]
                for t in record}

    before = counts()
    assert all(before.values()), before
    succeeded = []
    for attack in attacks:
        with psycopg.connect(serving.conninfo(), autocommit=True) as conn:
            try:
                conn.execute(attack)  # type: ignore[arg-type]
            except psycopg.Error:
                continue
            succeeded.append(attack)
    assert succeeded == []
    assert counts() == before


def test_the_command_refuses_sqlite_and_the_owner_itself(tmp_path: object,
                                                         store: Store) -> None:
    with pytest.raises(RoleError):
        grant_serving_role(Store.from_url("sqlite:///var/x.sqlite3"), "serve")
    if store.dialect is Dialect.POSTGRESQL:
        with pytest.raises(RoleError):
            grant_serving_role(store, store.user)
