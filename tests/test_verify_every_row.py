"""``hoso verify`` covers every stored event, whatever its aggregate (issues 25 and 17.1).

Which row an insider edits must not decide whether it is caught. On a demo store (with a
register change, readings and a keyed request, so every aggregate is there), rows of the
event table are picked at random and, one at a time, one value in a row's state has its
meaning changed (a letter added to a text, a number moved by one, a flag flipped, a field
removed — the library's own ``originator_topic`` included), or the row is deleted, swapped
with another row of its aggregate, or given another topic. Each must be reported at that
row's position; the row is then put back, and the untouched store gives no finding.

``make test`` tries ``HOSO_TAMPER_TRIALS`` draws (default 100 per store) on a demo of 10
dossiers; ``make soak`` (``HOSO_TAMPER_TRIALS=all HOSO_TAMPER_DOSSIERS=120``) attacks every
row of the full demo store once, the attack drawn per row. The counts tried and caught
per aggregate are printed (``pytest -s``) and written to
``var/test-artifacts/tamper-<store>.json``.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import random
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent, Tracking

from domain.application import HosoApplication
from domain.bulk_demo import load_bulk_demo
from domain.demo import CLUSTER, SCENARIOS, load_demo
from domain.transparency.entry import OWN_FORMATS, STREAMS, log_entry
from projections.migrate import migrate
from projections.runners import ReadModels
from projections.store import Dialect, Store
from projections.transparency_log import (
    TOPICS_LOGGED_FROM_THE_START,
    LogNotBackfilled,
    TransparencyLogProjection,
    TransparencyLogView,
)
from projections.verify import FindingKind, verify
from tests.conftest import FakeClock

ROOT = Path(__file__).resolve().parent.parent
ATTACKS = ("edit", "delete", "swap", "topic")
# The demo's first scenarios, one dossier each (about 90 events): each draw runs the whole
# of `hoso verify`, so the store is kept small and the draws many.
DEMO_DOSSIERS = int(os.environ.get("HOSO_TAMPER_DOSSIERS", "10"))


@dataclass
class Row:
    id: int
    originator_id: Any
    version: int
    topic: str
    state: bytes

    @property
    def aggregate(self) -> str:
        return self.topic.split(":")[-1].split(".")[0]


@contextmanager
def _raw(store: Store) -> Iterator[tuple[Any, str, str, str]]:
    """A plain connection to the event table: (connection, table, id column, placeholder)."""
    if store.dialect is Dialect.SQLITE:
        conn = sqlite3.connect(str(store.sqlite_path))
        try:
            yield conn, "stored_events", "rowid", "?"
            conn.commit()
        finally:
            conn.close()
    else:
        with psycopg.connect(store.conninfo()) as pg:
            yield pg, f'"{store.schema}".hoso_events', "notification_id", "%s"


def _rows(store: Store) -> list[Row]:
    with _raw(store) as (conn, table, nid, _):
        found = conn.execute(f"SELECT {nid}, originator_id, originator_version, topic, state "
                             f"FROM {table} ORDER BY {nid}").fetchall()
    return [Row(int(r[0]), r[1], int(r[2]), str(r[3]), bytes(r[4])) for r in found]


def _put(store: Store, rows: list[Row], *, delete: list[Row] = ()) -> None:  # type: ignore[assignment]
    """Write these rows back as given (by id), after deleting ``delete``."""
    with _raw(store) as (conn, table, nid, q):
        for row in delete:
            conn.execute(f"DELETE FROM {table} WHERE {nid} = {q}", (row.id,))
        for row in rows:
            conn.execute(f"DELETE FROM {table} WHERE {nid} = {q}", (row.id,))
        for row in rows:
            conn.execute(f"INSERT INTO {table} ({nid}, originator_id, originator_version, "
                         f"topic, state) VALUES ({q}, {q}, {q}, {q}, {q})",
                         (row.id, row.originator_id, row.version, row.topic, row.state))


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    yield path, value


def _read(app: HosoApplication, row: Row, state: bytes) -> dict[str, Any] | None:
    """What the application reads from the row with this state (None: it cannot)."""
    try:
        event = app.mapper.to_domain_event(StoredEvent(
            UUID(str(row.originator_id)), row.version, row.topic, state))
    except Exception:
        return None
    return dict(vars(event))


def _changed_meaning(app: HosoApplication, row: Row,
                     rng: random.Random) -> tuple[bytes, str] | None:
    """One value of the state with its meaning changed, and what was done. An edit the
    application reads exactly as before (the library's ``class_version`` moved up, or down
    past an upcaster that only fills a missing field) changes the encoding, not the
    meaning: the log covers content, not bytes (docs/transparency-log.md)."""
    state = row.state
    parsed = json.loads(state)
    # Nulls are left alone: a field absent and a field null say the same.
    candidates = [(path, value) for path, value in _leaves(parsed)
                  if path and value is not None]
    if not candidates:
        return None
    path, value = rng.choice(candidates)
    parent = parsed
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if rng.random() < 0.2 and isinstance(parent, dict):
        del parent[last]
        what = f"removed {'.'.join(map(str, path))}"
    elif isinstance(value, bool):
        parent[last] = not value
        what = f"flipped {'.'.join(map(str, path))}"
    elif isinstance(value, int):
        parent[last] = value + rng.choice((-1, 1))
        what = f"moved {'.'.join(map(str, path))} by one"
    elif isinstance(value, str):
        parent[last] = value + rng.choice("aăbđx")
        what = f"a letter added to {'.'.join(map(str, path))}"
    elif isinstance(parent, dict):
        del parent[last]
        what = f"removed {'.'.join(map(str, path))}"
    else:
        return None
    changed = json.dumps(parsed, ensure_ascii=False).encode()
    read = _read(app, row, changed)
    if read is not None and read == _read(app, row, state):
        return None
    return changed, what


@pytest.fixture
def demo(store: Store, app: HosoApplication, clock: FakeClock) -> Iterator[ReadModels]:
    load_demo(app, dossiers=DEMO_DOSSIERS)
    clock.advance(days=1)
    app.appoint_staff(admin_id="quantri", user_id="moi.cb", full_name="Lê Văn Mới",
                      unit_code="STP-HCTP", roles=["specialist"])
    some = app.receive(actor_id="tiepnhan", procedure_code="2.000488",
                       applicant_name="Phạm Thị Thử", applicant_phone="0901234567",
                       applicant_address="1 Lê Lợi", documents=["Tờ khai"]).dossier_id
    app.transfer(some, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP",
                 request_key="tamper-test-request-key")
    app.open_dossier(some, viewer_id="hctp")
    app.open_dossier(some, viewer_id="thanhtra")
    models = ReadModels(store, app)
    models.catch_up()
    yield models
    models.close()


def _trials(rows: list[Row], rng: random.Random) -> list[tuple[Row, str]]:
    """Every row once (``HOSO_TAMPER_TRIALS=all``), or that many draws: an aggregate
    first, evenly, then one of its rows, so the rare ones are tried too."""
    wanted = os.environ.get("HOSO_TAMPER_TRIALS", "100")
    if wanted == "all":
        return [(row, rng.choice(ATTACKS)) for row in rows]
    by_aggregate: dict[str, list[Row]] = {}
    for row in rows:
        by_aggregate.setdefault(row.aggregate, []).append(row)
    kinds = sorted(by_aggregate)
    return [(rng.choice(by_aggregate[rng.choice(kinds)]), rng.choice(ATTACKS))
            for _ in range(int(wanted))]


def test_every_changed_row_is_reported_where_it_is(store: Store, app: HosoApplication,
                                                   demo: ReadModels) -> None:
    rows = _rows(store)
    # Every aggregate is in the demo store, and every row is logged and verifies.
    assert {row.aggregate for row in rows} == {
        cls.__name__ for cls in (*OWN_FORMATS, *STREAMS)}
    report = verify(app, demo.transparency_log)
    assert report.ok, report.findings[:5]
    assert report.events_checked == report.entries_checked == len(rows)
    by_stream: dict[Any, list[Row]] = {}
    for row in rows:
        by_stream.setdefault(row.originator_id, []).append(row)
    topics_of: dict[str, list[str]] = {}
    for row in rows:
        topics_of.setdefault(row.aggregate, [])
        if row.topic not in topics_of[row.aggregate]:
            topics_of[row.aggregate].append(row.topic)
    rng = random.Random(25)
    tried: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    missed: list[str] = []
    for row, attack in _trials(rows, rng):
        changed: list[Row] = []
        deleted: list[Row] = []
        where = {row.id}
        if attack == "edit":
            edit = _changed_meaning(app, row, rng)
            if edit is None:
                continue
            changed = [Row(row.id, row.originator_id, row.version, row.topic, edit[0])]
            what = edit[1]
        elif attack == "delete":
            deleted, what = [row], "deleted"
        elif attack == "swap":
            others = [o for o in by_stream[row.originator_id]
                      if (o.topic, o.state) != (row.topic, row.state)]
            if not others:
                continue
            other = rng.choice(others)
            changed = [Row(row.id, row.originator_id, row.version, other.topic, other.state),
                       Row(other.id, other.originator_id, other.version, row.topic, row.state)]
            where, what = {row.id, other.id}, f"swapped with #{other.id}"
        else:
            choices = [t for t in topics_of[row.aggregate] if t != row.topic]
            new_topic = rng.choice(choices) if choices and rng.random() < 0.7 \
                else row.topic + "x"
            changed = [Row(row.id, row.originator_id, row.version, new_topic, row.state)]
            what = f"topic made {new_topic}"
        tried[row.aggregate] += 1
        _put(store, changed, delete=deleted)
        try:
            report = verify(app, demo.transparency_log)
        finally:
            originals = [r for r in rows if r.id in where]
            _put(store, originals)
        if {f.position for f in report.findings} & where:
            caught[row.aggregate] += 1
        else:
            missed.append(f"#{row.id} {row.topic} v{row.version}: {what} — "
                          f"{[str(f) for f in report.findings]}")
    counts = {aggregate: {"tried": tried[aggregate], "caught": caught[aggregate]}
              for aggregate in sorted(tried)}
    print(f"\n{store.dialect.value}: {json.dumps(counts)}")
    artifacts = ROOT / "var" / "test-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / f"tamper-{store.dialect.value}.json").write_text(json.dumps(counts, indent=2))
    assert not missed, "\n".join(missed[:20])
    assert sum(tried.values()) >= 60
    clean = verify(app, demo.transparency_log)
    assert clean.ok, clean.findings[:5]


# ---- an aggregate added later, and a store begun before the log covered every aggregate ----


def _aggregates() -> set[type[Aggregate]]:
    for module in pkgutil.walk_packages([str(ROOT / "domain")], "domain."):
        importlib.import_module(module.name)
    found: set[type[Aggregate]] = set()
    todo = list(Aggregate.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("domain."):
            found.add(cls)
        todo += cls.__subclasses__()
    return found


def test_every_aggregate_is_named_in_the_log() -> None:
    """A new aggregate must say which of its fields the public log may show: until it is
    named in ``STREAMS`` its events are logged with every field private, and this fails."""
    assert _aggregates() == set(OWN_FORMATS) | set(STREAMS)


def test_an_aggregate_not_named_is_logged_with_every_field_private() -> None:
    class Unnamed(Aggregate):
        @event("Begun")
        def __init__(self, secret: str, timestamp: datetime) -> None:
            self.secret = secret

    begun = Unnamed(secret="Nguyễn Văn A", timestamp=datetime(2026, 11, 23, tzinfo=UTC))
    entry = json.loads(log_entry(begun.collect_events()[0], origin="o", salt=b"s",
                                 previous_leaf=None))
    assert entry["stream"] == "Unnamed" and entry["fields"] == {}
    assert entry["private_digest"] and "Nguyễn" not in json.dumps(entry, ensure_ascii=False)


def _drop_backfill_mark(store: Store) -> None:
    """Make the store look as if it was begun before the log covered every aggregate."""
    if store.dialect is Dialect.SQLITE:
        with sqlite3.connect(str(store.sqlite_path)) as conn:
            conn.execute("DROP TRIGGER log_backfill_no_delete")
            conn.execute("DELETE FROM log_backfill")
    else:
        with psycopg.connect(store.conninfo()) as pg:
            pg.execute(f'ALTER TABLE "{store.schema}".log_backfill '
                       "DISABLE TRIGGER log_backfill_no_change")
            pg.execute(f'DELETE FROM "{store.schema}".log_backfill')


def test_a_store_logged_before_is_backfilled_after_every_signed_leaf(
        store: Store, app: HosoApplication, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: only dossier and keyring events were logged. `hoso migrate` logs the others
    once, at the end of the tree: a checkpoint signed before stays consistent, and verify
    then finds every event logged."""
    _drop_backfill_mark(store)
    dossier = app.receive(actor_id="tiepnhan", procedure_code="2.000488",
                          applicant_name="Phạm Thị Thử", applicant_phone="0901234567",
                          applicant_address="1 Lê Lợi", documents=["Tờ khai"]).dossier_id
    app.open_dossier(dossier, viewer_id="hctp")
    app.transfer(dossier, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP")
    old_topics = tuple(TOPICS_LOGGED_FROM_THE_START)
    models = ReadModels(store, app)
    try:
        with monkeypatch.context() as before:
            before.setattr(TransparencyLogProjection, "topics", old_topics)
            before.setattr(TransparencyLogView, "backfilled", lambda self: True)
            models.catch_up()
        log = models.transparency_log
        log.__dict__.pop("_backfilled", None)
        assert [json.loads(e.entry)["type"] for e in log.all_entries()] == [
            "Received", "Transferred"]
        stale = verify(app, log)
        assert {f.kind for f in stale.findings} == {FindingKind.INSERTED}
        assert len(stale.findings) == 4  # the code sequence's two, the reading log's two
        old_leaves = [e.leaf_hash for e in log.all_entries()]
        with pytest.raises(LogNotBackfilled):
            log.append(next(iter(app.repository.event_store.get(dossier))),  # type: ignore[arg-type]
                       Tracking(app.name, 10_000))
    finally:
        models.close()

    migrate(store)
    models = ReadModels(store, app)
    try:
        log = models.transparency_log
        entries = list(log.all_entries())
        assert [e.leaf_hash for e in entries[:2]] == old_leaves
        assert [json.loads(e.entry)["type"] for e in entries[2:]] == [
            "Started", "Issued", "Started", "DossierOpened"]
        assert [e.position for e in entries[2:]] == sorted(e.position for e in entries[2:])
        report = verify(app, log)
        assert report.ok, report.findings
        assert report.tree_size == 6
        # Later events are logged as they come, after the backfilled ones.
        app.open_dossier(dossier, viewer_id="hctp")
        models.catch_up()
        assert verify(app, log).ok and verify(app, log).tree_size == 7
        assert migrate(store) == [] and verify(app, log).tree_size == 7  # once only
    finally:
        models.close()


def test_log_checkpoint_refuses_truncate_and_delete(store: Store) -> None:
    """Issue 17.4: TRUNCATE is not a row change, so row triggers never saw it."""
    statements = ["DELETE FROM {t}"]
    if store.dialect is Dialect.POSTGRESQL:
        statements.append("TRUNCATE {t}")
    # A row in each, so that row triggers have something to refuse.
    rows = ["INSERT INTO {p}log_checkpoint (tree_size, root_hash, note, previous_size, "
            "consistency_proof, made_at) VALUES (1, 'aa', 'note', NULL, '', "
            "'2026-11-23T02:00:00+00:00')",
            "INSERT INTO {p}log_entry (position, dossier_id, version, entry, leaf_hash, "
            "leaf_index) VALUES (1, '00000000-0000-0000-0000-000000000001', 1, '{{}}', 'aa', 0)"]
    if store.dialect is Dialect.SQLITE:
        with sqlite3.connect(str(store.sqlite_path)) as conn:
            for row in rows:
                conn.execute(row.format(p=""))
    else:
        with psycopg.connect(store.conninfo()) as pg:
            for row in rows:
                pg.execute(row.format(p=f'"{store.schema}".'))
    for table in ("log_checkpoint", "log_entry", "log_backfill"):
        for statement in statements:
            if store.dialect is Dialect.SQLITE:
                conn = sqlite3.connect(str(store.sqlite_path))
                try:
                    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                        conn.execute(statement.format(t=table))
                finally:
                    conn.close()
            else:
                with psycopg.connect(store.conninfo()) as pg, pytest.raises(
                        psycopg.Error, match="append-only"):
                    pg.execute(statement.format(t=f'"{store.schema}".{table}'))


def test_an_insider_granting_roles_or_deleting_a_reading_is_caught(
        store: Store, app: HosoApplication) -> None:
    """Issue 17.1's attacks: a specialist's roles widened to administrator and inspector in
    the register's stored event, and a DossierOpened reading deleted."""
    app.appoint_staff(admin_id="quantri", user_id="moi.cb", full_name="Lê Văn Mới",
                      unit_code="STP-HCTP", roles=["specialist"])
    some = app.receive(actor_id="tiepnhan", procedure_code="2.000488",
                       applicant_name="Phạm Thị Thử", applicant_phone="0901234567",
                       applicant_address="1 Lê Lợi", documents=["Tờ khai"]).dossier_id
    app.open_dossier(some, viewer_id="hctp")
    models = ReadModels(store, app)
    try:
        models.catch_up()
        assert verify(app, models.transparency_log).ok
        rows = _rows(store)
        appointed = next(r for r in rows if r.topic.endswith("StaffAppointed"))
        reading = next(r for r in rows if r.topic.endswith("DossierOpened"))
        state = json.loads(appointed.state)
        state["roles"] = sorted({*state["roles"], "administrator", "inspector"})
        _put(store, [Row(appointed.id, appointed.originator_id, appointed.version,
                         appointed.topic, json.dumps(state).encode())], delete=[reading])
        report = verify(app, models.transparency_log)
        assert {(f.kind, f.position) for f in report.findings} == {
            (FindingKind.MODIFIED, appointed.id), (FindingKind.DELETED, reading.id)}
    finally:
        models.close()


def test_an_event_dated_back_and_appended_at_the_end_is_reported(
        store: Store, app: HosoApplication, clock: FakeClock) -> None:
    """Issue 17.5: an insider appends an event dated days back (the clock set back, or a row
    written with an old timestamp); the log logs it like any other, every hash agrees, and
    only its recording time, earlier than those stored before it, gives it away."""
    dossier = app.receive(actor_id="tiepnhan", procedure_code="2.000488",
                          applicant_name="Phạm Thị Thử", applicant_phone="0901234567",
                          applicant_address="1 Lê Lợi", documents=["Tờ khai"]).dossier_id
    clock.advance(minutes=30)
    app.transfer(dossier, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP")
    clock.advance(seconds=-30)  # two commands queued a moment apart: within the tolerance
    app.open_dossier(dossier, viewer_id="tiepnhan")
    models = ReadModels(store, app)
    try:
        models.catch_up()
        assert verify(app, models.transparency_log).ok
        # A reading dated three days back: as if an inspector had opened the file then.
        clock.advance(days=-3)
        app.open_dossier(dossier, viewer_id="thanhtra")
        forged = app.recorder.max_notification_id()
        models.catch_up()
        report = verify(app, models.transparency_log)
    finally:
        models.close()
    # The reading log of that day starts and records the opening: both dated back, both
    # reported where they are, and nothing before them.
    assert [(f.kind, f.position) for f in report.findings] == [
        (FindingKind.BACKDATED, forged - 1), (FindingKind.BACKDATED, forged)], report.findings
    assert "DossierOpened" in report.findings[1].detail


# The loader is the same on both stores (the small demo runs on both): SQLite only.
@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_the_bulk_demo_records_in_time_order(store: Store, app: HosoApplication) -> None:
    """The bulk demo walks each dossier to its end before the next, and adds the desk's month
    through the application: it saves what was recorded in recording order, so hoso verify
    finds nothing dated back (issue 17.5)."""
    load_bulk_demo(app, dossiers=CLUSTER + len(SCENARIOS) + 6, days=45, batch_events=200)
    models = ReadModels(store, app)
    try:
        models.catch_up()
        report = verify(app, models.transparency_log)
    finally:
        models.close()
    assert report.ok, [str(f) for f in report.findings[:5]]
    assert report.events_checked > 500
