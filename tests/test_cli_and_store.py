"""The ``hoso`` command and HOSO_DATABASE_URL handling."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from eventsourcing.utils import get_topic

import cli
from domain.application import DOSSIER_EVENT_CLASSES, HosoApplication
from domain.dossier import Dossier, Stage
from projections.runners import ReadModels
from projections.store import Dialect, Store, StoreConfigError
from tests.helpers import url_of
from web.accounts import open_accounts


def test_store_urls() -> None:
    sqlite = Store.from_url("sqlite:///var/hoso.sqlite3")
    assert (sqlite.dialect, sqlite.sqlite_path) == (Dialect.SQLITE, Path("var/hoso.sqlite3"))
    assert Store.from_url("sqlite:////tmp/x.sqlite3").sqlite_path == Path("/tmp/x.sqlite3")
    pg = Store.from_url("postgresql://hoso:s%40cret@db.local:6543/hoso?schema=city")
    assert (pg.host, pg.port, pg.user, pg.password, pg.dbname, pg.schema) == (
        "db.local", 6543, "hoso", "s@cret", "hoso", "city")
    env = pg.eventsourcing_env()
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert env["POSTGRES_ENABLE_DB_FUNCTIONS"] == "n"
    assert env["CREATE_TABLE"] == "n"
    for bad in ("mysql://x/y", "sqlite://", "postgresql://host/",
                "postgresql://a:x/db", "postgresql://a,b/db?target_session_attrs=writable"):
        with pytest.raises(StoreConfigError):
            Store.from_url(bad)


def test_a_url_naming_a_primary_and_its_standby() -> None:
    """libpq's multi-host form: every connection goes to whichever node accepts writes."""
    ha = Store.from_url("postgresql://hoso:pw@db1:5432,db2:5433,[::1]/hoso?schema=city"
                        "&target_session_attrs=read-write")
    assert ha.hosts == (("db1", 5432), ("db2", 5433), ("::1", 5432))
    assert "host=db1,db2,::1 port=5432,5433,5432 " in ha.conninfo()
    assert "target_session_attrs=read-write" in ha.conninfo()
    env = ha.eventsourcing_env()
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db1,db2,::1", "5432,5433,5432")
    assert env["PERSISTENCE_MODULE"] == "projections.postgres_nodes:MultiNodeFactory"
    assert env["POSTGRES_TARGET_SESSION_ATTRS"] == "read-write"
    assert ha.on_node("db2", 5433).yoyo_url() == "postgresql+psycopg://hoso:pw@db2:5433/hoso?schema=city"
    assert ha.describe() == "PostgreSQL db1:5432,db2:5433,::1:5432/hoso (schema city, read-write)"
    single = Store.from_url("postgresql://hoso@db1/hoso")
    assert single.conninfo() == "host=db1 port=5432 user=hoso dbname=hoso"


def test_migrate_demo_and_rebuild_are_idempotent(store: Store, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOSO_DATABASE_URL", url_of(store))
    cli.main(["migrate"])
    assert "schema up to date" in capsys.readouterr().out
    # On PostgreSQL the first scenarios only, up to the first late one (11 walks + 3 online).
    count = 120 if store.dialect is Dialect.SQLITE else 14
    cli.main(["demo", "--dossiers", str(count), "--if-empty"])
    assert "password: hoso-demo" in capsys.readouterr().out
    app = HosoApplication(env=store.eventsourcing_env())
    events_after_first = app.recorder.max_notification_id()
    cli.main(["demo", "--dossiers", "12", "--if-empty"])
    assert "already has dossiers" in capsys.readouterr().out
    assert app.recorder.max_notification_id() == events_after_first

    models = ReadModels(store, app)
    rows = models.dossier_list.dossiers(limit=1000)
    today = app.clock().date()
    assert len(rows) == count
    if store.dialect is Dialect.SQLITE:  # the default demo reaches every stage and event
        assert {r.stage for r in rows} == set(Stage)
        kinds = {n.topic.rsplit(".", 1)[-1] for n in app.recorder.select_notifications(
            start=None, limit=100_000, topics=[get_topic(c) for c in DOSSIER_EVENT_CLASSES])}
        assert kinds == {c.__name__ for c in DOSSIER_EVENT_CLASSES}
        assert any(r.extensions for r in rows)  # late with an apology …
        assert any(r.is_late(today) and not r.extensions for r in rows)  # … and without
    assert any(r.is_late(today) for r in rows) and not all(r.is_late(today) for r in rows)
    stored = [app.repository.get(r.dossier_id) for r in rows]
    assert all(isinstance(d, Dossier) for d in stored)
    assert {d.stage for d in stored} == {r.stage for r in rows}
    assert open_accounts(store).verify("tiepnhan", "hoso-demo")

    cli.main(["rebuild"])
    assert "rebuilt from zero" in capsys.readouterr().out
    assert [r.dossier_id for r in models.dossier_list.dossiers(limit=1000)] == [
        r.dossier_id for r in rows]
    models.close()
    app.close()


def test_set_password(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    if store.dialect is not Dialect.SQLITE:
        pytest.skip("the command is the same on both stores")
    monkeypatch.setenv("HOSO_DATABASE_URL", f"sqlite:///{store.sqlite_path}")
    monkeypatch.setattr("sys.stdin", io.StringIO("mot-mat-khau-dai\n"))
    cli.main(["set-password", "hctp", "--stdin"])
    assert open_accounts(store).verify("hctp", "mot-mat-khau-dai")
    with pytest.raises(SystemExit, match="no staff member"):
        cli.main(["set-password", "nobody", "--stdin"])
