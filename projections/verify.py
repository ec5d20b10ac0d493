"""``hoso verify``: does the event store still say what the transparency log recorded?

Every stored event, whatever its aggregate, is read again in notification order and its
entry recomputed with the same code the projection used, then compared with the entry logged
at that position. The stored log is checked on its own as well: each entry's leaf hash, its
place in the tree, and each stream's chain of ``previous`` links and versions. Snapshots are
checked against the events they stand for, and recording times must not go backwards.

Findings, each with the dossier's code (or the stream's name):

* **modified** — the stored event no longer gives the logged entry (or cannot be read);
* **deleted** — a logged entry whose event is gone from the store;
* **inserted** — an event with no log entry at a position the log has already passed, or
  one claiming a version of its dossier that is already logged elsewhere;
* **reordered** — an event holding what was logged for another version of its dossier (two
  events swapped), or a stored chain whose versions or ``previous`` links are out of order;
* **backdated** — an event recorded earlier than one stored before it (more than
  ``CLOCK_TOLERANCE`` earlier: concurrent commands read the clock before they queue to save);
* **snapshot** — a stored snapshot that is not the state its events give at its version.

Events after the log's tracked position are *pending*, not findings: the projection has not
reached them yet (it logs every dossier event up to the position it tracks, and that position
and the entries commit together). What is appended at the end of the store is therefore
trusted from the moment it is logged — signed checkpoints of the log are what then stop
anyone rewriting it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.utils import resolve_topic

from domain.application import HosoApplication
from domain.dossier import Dossier
from domain.keyring import OfficerKeyring
from domain.transparency.entry import LoggedEvent, aggregate_of, jcs, leaf_hash, log_entry
from domain.transparency.merkle import EMPTY_ROOT, CompactRange
from projections.dossier_projection import DossierProjection
from projections.transparency_log import (
    LoggedEntry,
    LogSettings,
    TransparencyLogProjection,
    TransparencyLogView,
)

BATCH = 1000
# How much earlier than the event stored before it an event may say it was recorded: a
# command reads the clock, then waits its turn to save (PostgreSQL serialises the inserts),
# so two commands a moment apart may be stored in the other order. A back-dated forgery
# moves an event by hours or days.
CLOCK_TOLERANCE = timedelta(seconds=60)


class FindingKind(StrEnum):
    MODIFIED = "modified"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    BACKDATED = "backdated"
    SNAPSHOT = "snapshot"


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    position: int
    dossier_id: UUID
    dossier_code: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} #{self.position} {self.dossier_code}: {self.detail}"


@dataclass
class VerifyReport:
    tracked_position: int
    events_checked: int = 0
    entries_checked: int = 0
    pending: int = 0
    findings: list[Finding] = field(default_factory=list)
    # The RFC 9162 tree head over the stored log's leaves in log order, each leaf checked
    # against its entry's bytes: what signed checkpoints are to be compared with.
    tree_size: int = 0
    root: bytes = EMPTY_ROOT

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        counts = {kind: sum(f.kind is kind for f in self.findings) for kind in FindingKind}
        found = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "no findings"
        return (f"{self.events_checked} events and {self.entries_checked} log entries checked "
                f"up to position {self.tracked_position}; {self.pending} pending; "
                f"tree size {self.tree_size}, root {self.root.hex()}; {found}")


# Called with each stored leaf's index in the tree and its hash, in log order: where the
# checkpoint check plugs in (a checkpoint of size n must have the root of leaves [0, n)).
LeafSink = Callable[[int, bytes], None]


def _parse(entry: bytes) -> dict[str, Any]:
    parsed = json.loads(entry)
    if not isinstance(parsed, dict):
        raise ValueError("a log entry is a JSON object")
    return parsed


def _body(parsed: dict[str, Any]) -> bytes:
    """What an event says, apart from where it sits in its dossier's chain."""
    return jcs({k: v for k, v in parsed.items() if k not in ("version", "previous")})


def _broken_link(logged: LoggedEntry, parsed: dict[str, Any],
                 before: LoggedEntry | None) -> str | None:
    """Why a stored entry does not follow its dossier's entry before it, if it does not."""
    expected_version = before.version + 1 if before else 1
    expected_previous = before.leaf_hash.hex() if before else None
    if logged.version != expected_version or parsed.get("version") != logged.version:
        return (f"logged as version {logged.version} after version "
                f"{before.version if before else 'none'}")
    if parsed.get("previous") != expected_previous:
        return f"version {logged.version} does not link to the entry before it"
    return None


def _mismatch(event: LoggedEvent, logged: LoggedEntry, settings: LogSettings,
              logged_bodies: Callable[[], dict[bytes, int]]) -> tuple[FindingKind, str] | None:
    """How a stored event differs from its logged entry, if it does.

    The entry is recomputed chained on the previous leaf as logged (the link itself is
    checked on the stored log alone), so one altered event is one finding, not a cascade
    down the rest of its dossier. ``logged_bodies`` is only called on a mismatch, to tell an
    event swapped with another version from one edited.
    """
    parsed = _parse(logged.entry)
    previous = parsed.get("previous")
    # Recomputed in the format it was logged in: entries of /1 stay /1 (an unknown format
    # is a mismatch, raised as a ValueError).
    logged_format = parsed.get("format")
    entry = log_entry(event, origin=settings.origin, salt=settings.salt,
                      previous_leaf=bytes.fromhex(previous) if previous else None,
                      entry_format=logged_format if isinstance(logged_format, str) else None)
    if entry == logged.entry:
        return None
    version = event.originator_version
    elsewhere = logged_bodies().get(_body(_parse(entry)))
    if elsewhere is not None and elsewhere != version:
        return (FindingKind.REORDERED,
                f"version {version} holds what was logged as version {elsewhere}")
    return (FindingKind.MODIFIED,
            f"version {version} ({type(event).__name__}) differs from its log entry")


class _Verifier:
    """Two passes over the log and one over the event store, each streamed in position order:
    memory grows with the number of dossiers, not of events."""

    def __init__(self, app: HosoApplication, log: TransparencyLogView) -> None:
        self.app = app
        self.log = log
        self.settings = log.settings()
        self.report = VerifyReport(tracked_position=log.max_tracking_id(app.name) or 0)
        self.codes: dict[UUID, str] = {}
        # Each dossier's last logged version: a later event may not claim one up to it.
        self.logged_head: dict[UUID, int] = {}
        # Bodies of the logged entries of the few dossiers with a mismatch, for telling a
        # swap from an edit.
        self.bodies: dict[UUID, dict[bytes, int]] = {}
        # The latest recording time met so far in log order, and where.
        self.latest_recorded: tuple[datetime, int] | None = None

    def find(self, kind: FindingKind, position: int, dossier_id: UUID, detail: str) -> None:
        code = self.codes.get(dossier_id, str(dossier_id))
        self.report.findings.append(Finding(kind, position, dossier_id, code, detail))

    def check_log(self, on_leaf: LeafSink | None) -> None:
        """The stored log alone: leaf hashes, versions and previous links, the tree head."""
        last: dict[UUID, LoggedEntry] = {}
        tree = CompactRange()
        for logged in self.log.all_entries(BATCH):
            self.report.entries_checked += 1
            if logged.leaf_index != tree.size:
                self.find(FindingKind.REORDERED, logged.position, logged.dossier_id,
                          f"logged as leaf {logged.leaf_index} where leaf {tree.size} was due")
            if on_leaf:
                on_leaf(tree.size, logged.leaf_hash)
            tree.append(logged.leaf_hash)
            try:
                parsed = _parse(logged.entry)
            except ValueError:
                self.find(FindingKind.MODIFIED, logged.position, logged.dossier_id,
                          "the logged entry is no longer JSON")
                continue
            if logged.version == 1:
                self.codes[logged.dossier_id] = _stream_name(parsed)
            self.logged_head[logged.dossier_id] = max(
                logged.version, self.logged_head.get(logged.dossier_id, 0))
            if leaf_hash(logged.entry) != logged.leaf_hash:
                self.find(FindingKind.MODIFIED, logged.position, logged.dossier_id,
                          "the logged entry no longer matches its leaf hash")
            if (broken := _broken_link(logged, parsed, last.get(logged.dossier_id))):
                self.find(FindingKind.REORDERED, logged.position, logged.dossier_id, broken)
            last[logged.dossier_id] = logged
        self.report.tree_size, self.report.root = tree.size, tree.root()

    def check_events(self, progress: Callable[[int], None] | None) -> None:
        """Every dossier event against the entry at its position (a merge of two streams)."""
        entries = iter(self.log.entries_by_position(BATCH))
        pending_entry = next(entries, None)
        after = 0
        while batch := self.app.recorder.select_notifications(
                start=after, limit=BATCH, topics=TransparencyLogProjection.topics,
                inclusive_of_start=False):
            for notification in batch:
                while pending_entry is not None and pending_entry.position < notification.id:
                    self.deleted(pending_entry)
                    pending_entry = next(entries, None)
                logged = None
                if pending_entry is not None and pending_entry.position == notification.id:
                    logged, pending_entry = pending_entry, next(entries, None)
                self.check_event(notification, logged)
            if progress:
                progress(batch[-1].id - after)
            after = batch[-1].id
        while pending_entry is not None:
            self.deleted(pending_entry)
            pending_entry = next(entries, None)

    def deleted(self, logged: LoggedEntry) -> None:
        self.find(FindingKind.DELETED, logged.position, logged.dossier_id,
                  f"version {logged.version} is logged but its event is gone")

    def check_event(self, notification: Any, logged: LoggedEntry | None) -> None:
        position = int(notification.id)
        dossier_id = UUID(str(notification.originator_id))
        version = int(notification.originator_version)
        if position > self.report.tracked_position:
            self.report.pending += 1
            if version <= self.logged_head.get(dossier_id, 0):
                self.find(FindingKind.INSERTED, position, dossier_id,
                          f"version {version} is already in the log at another position")
            return
        self.report.events_checked += 1
        try:
            event = self.app.mapper.to_domain_event(notification)
            if not isinstance(event, Aggregate.Event):
                raise TypeError(f"not an aggregate's event: {type(event).__qualname__}")
            _check_topic(event)
        except Exception as error:  # a damaged payload is a finding, not a crash
            kind = FindingKind.MODIFIED if logged else FindingKind.INSERTED
            self.find(kind, position, dossier_id,
                      f"version {version} cannot be read ({type(error).__name__}: {error})")
            return
        if isinstance(event, Dossier.Received):
            self.codes.setdefault(dossier_id, str(getattr(event, "code", dossier_id)))
        elif isinstance(event, OfficerKeyring.Opened):
            self.codes.setdefault(dossier_id, f"keyring {getattr(event, 'user_id', '')}")
        if logged is None:
            self.find(FindingKind.INSERTED, position, dossier_id,
                      f"version {version} was never logged")
            return
        if (logged.dossier_id, logged.version) != (dossier_id, version):
            self.find(FindingKind.MODIFIED, position, dossier_id,
                      f"version {version} sits where version {logged.version} of "
                      f"{self.codes.get(logged.dossier_id, logged.dossier_id)} was logged")
            return
        try:
            mismatch = _mismatch(event, logged, self.settings,
                                 lambda: self.logged_bodies(dossier_id))
        except (AttributeError, TypeError, ValueError) as error:
            # A field removed or given a value no entry can hold: read, but not the event
            # that was logged.
            mismatch = (FindingKind.MODIFIED,
                        f"version {version} ({type(event).__name__}) no longer gives a log "
                        f"entry ({type(error).__name__}: {error})")
        if mismatch is not None:
            kind, detail = mismatch
            self.find(kind, position, dossier_id, detail)
        else:  # an event that is what was logged may still have been dated back
            self.check_time(position, dossier_id, event)

    def check_time(self, position: int, stream_id: UUID, event: LoggedEvent) -> None:
        """Recording times in log order: an event appended now but dated in the past is a
        forgery that every hash would otherwise accept."""
        recorded = getattr(event, "timestamp", None)
        if not isinstance(recorded, datetime):
            return
        latest = self.latest_recorded
        if latest is not None and recorded < latest[0] - CLOCK_TOLERANCE:
            self.find(FindingKind.BACKDATED, position, stream_id,
                      f"version {event.originator_version} ({type(event).__name__}) says it "
                      f"was recorded at {recorded.isoformat()}, before #{latest[1]}, stored "
                      f"earlier, was recorded ({latest[0].isoformat()})")
        if latest is None or recorded > latest[0]:
            self.latest_recorded = (recorded, position)

    def check_snapshots(self) -> None:
        """Each stored snapshot against the state its events give at its version: a forged
        snapshot would otherwise change what the application reads (a code sequence's last
        number, a day's readings) while every event still verifies."""
        store = self.app.snapshots
        if store is None:
            return
        for stream_id in _snapshotted_streams(self.app):
            name = self.codes.get(stream_id, str(stream_id))
            try:
                snapshots = {s.originator_version: s for s in store.get(stream_id)
                             if isinstance(s, Snapshot)}
            except Exception as error:  # unreadable: a finding, not a crash
                self.find(FindingKind.SNAPSHOT, 0, stream_id,
                          f"a snapshot of {name} cannot be read ({type(error).__name__})")
                continue
            aggregate: Any = None
            try:
                for event in self.app.events.get(stream_id):
                    aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
                    snapshot = snapshots.pop(event.originator_version, None)
                    if snapshot is not None and not _same_state(snapshot, aggregate):
                        self.find(FindingKind.SNAPSHOT, 0, stream_id,
                                  f"the snapshot at version {snapshot.originator_version} is "
                                  "not the state its events give")
            except Exception as error:
                self.find(FindingKind.SNAPSHOT, 0, stream_id,
                          f"the events of {name} cannot be replayed ({type(error).__name__})")
                continue
            for version in snapshots:
                self.find(FindingKind.SNAPSHOT, 0, stream_id,
                          f"a snapshot at version {version}, which no event reaches")

    def logged_bodies(self, dossier_id: UUID) -> dict[bytes, int]:
        if dossier_id not in self.bodies:
            self.bodies[dossier_id] = {_body(_parse(e.entry)): e.version
                                       for e in self.log.dossier_entries(dossier_id)}
        return self.bodies[dossier_id]


def verify(app: HosoApplication, log: TransparencyLogView,
           progress: Callable[[int], None] | None = None,
           on_leaf: LeafSink | None = None) -> VerifyReport:
    """Check the whole event store against the transparency log; every finding reported."""
    verifier = _Verifier(app, log)
    verifier.check_log(on_leaf)
    verifier.check_events(progress)
    verifier.check_snapshots()
    verifier.report.findings.sort(key=lambda f: (f.position, f.kind))
    return verifier.report


def _stream_name(parsed: dict[str, Any]) -> str:
    """How findings name a stream, from its first entry: a dossier's code, an officer's
    keyring, or the stream's kind and what its first event says (viewer and day…)."""
    fields = parsed.get("fields")
    fields = fields if isinstance(fields, dict) else {}
    if parsed.get("type") == "Received" and "code" in fields:
        return str(fields["code"])
    if "keyring_id" in parsed:
        return f"keyring {fields.get('user_id', '')}"
    said = " ".join(str(fields[k]) for k in sorted(fields) if not isinstance(fields[k], dict))
    return f"{parsed.get('stream', 'stream')} {said}".strip()


def _check_topic(event: LoggedEvent) -> None:
    """A created event names its aggregate's class (``originator_topic``), which the entry
    does not carry: an edit to it leaves every entry intact and the aggregate unreadable."""
    topic = getattr(event, "originator_topic", None)
    if topic is None:
        if event.originator_version == 1:  # every aggregate's first event creates it
            raise ValueError("the created event names no aggregate")
        return
    expected = aggregate_of(event)
    if expected is None or not isinstance(topic, str) or resolve_topic(topic) is not expected:
        raise ValueError(f"the created event names {topic!r} as its aggregate")


def _snapshotted_streams(app: HosoApplication) -> list[UUID]:
    """Every stream that has a stored snapshot (from the library's snapshot table)."""
    assert app.snapshots is not None
    recorder: Any = app.snapshots.recorder
    schema = getattr(recorder.datastore, "schema", None)
    table = f'"{schema}"."{recorder.events_table_name}"' if schema \
        else recorder.events_table_name
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT DISTINCT originator_id FROM {table}")
        rows = cursor.fetchall()
    return sorted(UUID(str(row["originator_id"])) for row in rows)


def _same_state(snapshot: Snapshot, aggregate: Aggregate) -> bool:
    taken = Snapshot.take(aggregate)  # type: ignore[arg-type]
    return bool(taken.topic == snapshot.topic and taken.state == snapshot.state)


@dataclass(frozen=True)
class DossierFinding:
    kind: FindingKind
    version: int
    detail: str  # as ``hoso verify`` words it
    event_type: str | None = None  # Received, Transferred…, when it can be read


@dataclass(frozen=True)
class DossierChain:
    """One dossier's stored events against its logged entries: ``hoso verify`` for one file."""

    events: int
    logged: int
    pending: int  # events the log has not reached yet
    findings: list[DossierFinding]

    @property
    def ok(self) -> bool:
        return not self.findings


def verify_dossier(app: HosoApplication, log: TransparencyLogView,
                   dossier_id: UUID) -> DossierChain:
    """Recompute each of the dossier's entries from the event store, with the log's settings
    and the same code as ``verify``, and compare them with the entries logged; check the
    stored chain alone too. Never raises on what it reads: damage is a finding."""
    settings = log.settings()
    # The tracked position first, then the entries, then the events: each read sees at least
    # what the one before did, so an event logged meanwhile is never taken for a deleted one.
    tracked = log.max_tracking_id(app.name) or 0
    logged = log.dossier_entries(dossier_id)
    records = app.recorder.select_events(dossier_id)
    findings = _stored_chain_findings(logged)
    by_version = {entry.version: entry for entry in logged}
    bodies: dict[bytes, int] = {}

    def logged_bodies() -> dict[bytes, int]:
        if not bodies:
            bodies.update({_body(_parse(e.entry)): e.version for e in logged})
        return bodies

    unlogged: list[int] = []
    for record in records:
        version = int(record.originator_version)
        entry = by_version.pop(version, None)
        try:
            event = app.mapper.to_domain_event(record)
            if not isinstance(event, Dossier.Event):
                raise TypeError(f"not a dossier event: {type(event).__qualname__}")
        except Exception as error:  # a damaged payload is a finding, not a crash
            findings.append(DossierFinding(
                FindingKind.MODIFIED if entry else FindingKind.INSERTED, version,
                f"version {version} cannot be read ({type(error).__name__})"))
            continue
        if entry is None:
            unlogged.append(version)
            continue
        try:
            mismatch = _mismatch(event, entry, settings, logged_bodies)
        except ValueError:  # the logged entry is no longer JSON: it was edited
            mismatch = (FindingKind.MODIFIED, f"version {version}'s log entry cannot be read")
        if mismatch is not None:
            findings.append(DossierFinding(mismatch[0], version, mismatch[1],
                                           type(event).__name__))
    findings += [DossierFinding(FindingKind.DELETED, entry.version,
                                f"version {entry.version} is logged but its event is gone",
                                _logged_type(entry))
                 for entry in by_version.values()]
    pending = 0
    if unlogged and _log_caught_up(app, tracked):
        findings += [DossierFinding(FindingKind.INSERTED, version,
                                    f"version {version} was never logged")
                     for version in unlogged]
    else:
        pending = len(unlogged)
    findings.sort(key=lambda f: (f.version, f.kind))
    return DossierChain(events=len(records), logged=len(logged), pending=pending,
                        findings=findings)


def _stored_chain_findings(logged: list[LoggedEntry]) -> list[DossierFinding]:
    findings = []
    before: LoggedEntry | None = None
    for entry in logged:
        kind = _logged_type(entry)
        if leaf_hash(entry.entry) != entry.leaf_hash:
            findings.append(DossierFinding(FindingKind.MODIFIED, entry.version,
                                           "the logged entry no longer matches its leaf hash",
                                           kind))
        try:
            broken = _broken_link(entry, _parse(entry.entry), before)
        except ValueError:
            broken = f"version {entry.version}'s log entry cannot be read"
        if broken:
            findings.append(DossierFinding(FindingKind.REORDERED, entry.version, broken, kind))
        before = entry
    return findings


def _logged_type(entry: LoggedEntry) -> str | None:
    try:
        kind = _parse(entry.entry).get("type")
    except ValueError:
        return None
    return kind if isinstance(kind, str) else None


def _log_caught_up(app: HosoApplication, tracked: int) -> bool:
    """No dossier event beyond the log's position: an event it has not logged never will be,
    so it was slipped in behind the log's back."""
    return not app.recorder.select_notifications(
        start=tracked, limit=1, topics=DossierProjection.topics, inclusive_of_start=False)
