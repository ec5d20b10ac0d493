"""`make run` says what matters (issue 20, defect 8): no flood of migration steps, and on
SQLite a read model takes the write lock up front instead of failing on "database is locked"
with a traceback; when the lock is busy past the timeout, one line says so."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError

from domain.application import HosoApplication
from projections import runners
from projections.runners import ReadModels
from projections.store import Dialect, Store

ROOT = Path(__file__).resolve().parent.parent


def test_migrating_a_new_store_prints_one_line(tmp_path: Path) -> None:
    environment = os.environ | {"HOSO_DATABASE_URL": f"sqlite:///{tmp_path / 'hoso.sqlite3'}"}
    done = subprocess.run([sys.executable, "-m", "cli", "migrate"], cwd=ROOT,
                          env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == []  # yoyo's ~100 "applying step" lines
    [line] = done.stdout.splitlines()
    assert "applied 0001_read_models" in line


def test_a_read_model_takes_the_sqlite_write_lock_when_it_begins(
        store: Store, app: HosoApplication) -> None:
    """With the library's plain BEGIN the lock came at the first write: an event committed by
    the application between the read model's reading and its writing made that write fail at
    once ("database is locked"). Taken at BEGIN, another writer waits for it instead."""
    if store.dialect is not Dialect.SQLITE:
        pytest.skip("PostgreSQL has row locks and no database lock")
    models = ReadModels(store, app)
    try:
        view = models.dossier_list
        with view._transaction(commit=True) as cursor:
            cursor.execute("SELECT COUNT(*) FROM dossier_list")
            other = sqlite3.connect(str(store.sqlite_path), timeout=0.1, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
    finally:
        models.close()


def test_a_busy_lock_is_one_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    tried = threading.Event()

    def locked(app: object, projection: object) -> int:
        tried.set()
        try:
            raise sqlite3.OperationalError("database is locked")
        except sqlite3.OperationalError as error:
            raise OperationalError(error) from error

    monkeypatch.setattr(runners, "catch_up", locked)

    class Named:
        name = "dossier_list"

    with caplog.at_level(logging.WARNING, logger=runners.log.name):
        runner = runners.PollingRunner(object(), Named(), interval=0.01)  # type: ignore[arg-type]
        assert tried.wait(5)
        runner.stop()
    [record, *_] = [r for r in caplog.records if r.name == runners.log.name]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage() == "projection dossier_list waited for the database lock; retrying"
