"""Recording clerks' actions through the application service, against raw INSERT + COMMIT.

    make bench            # or: .venv/bin/python -m bench.record_actions --seconds 15

In a fresh PostgreSQL schema, clients walk dossiers along their route through
``HosoApplication`` — the same calls the clerk pages make: receive, transfer, accept,
sometimes a supplement request and its answer, sign (or, now and then, refuse), transfer
back, accept, dispatch, deliver — for a fixed time, timing every command. Then, as same-run
baselines on the same server:

- ``raw``: plain psycopg, one single-row ``INSERT … RETURNING notification_id`` per
  autocommit transaction, into a table with the library's columns, primary key and
  ``notification_id`` (bigserial, unique index), replaying exactly the rows the clients wrote
  (same topics, same payload sizes, fresh aggregate ids);
- ``library``: the library's own ``recorder.insert_events``, one event per transaction, with
  the same rows: its table lock, NOTIFY and pipelined insert, without anything of hoso's.

Each runs with one client, then with ``--threads`` clients (the library serialises writes on
PostgreSQL with an EXCLUSIVE table lock, so more clients need not help). Prints events/s and
per-command p50/p99, where the time of one command goes (reads vs. the insert vs. Python),
and merges everything into bench/results-<date>.json (key ``record_actions``).

Signing unseals the officer's key with Argon2id on every signature, a deliberate cost
(19 MiB, 2 passes: ~25 ms on the 2-core machine; see domain/signing.py). That cost has
nothing to do with recording, so the timed runs memoise the unsealed key (as if the officer
kept it unlocked), and ``sign`` is measured apart, with the real unsealing, as
``sign_with_argon2``. Receipts are dated over the last 30 days, so each day's code sequence
holds a day's worth; ``receive_by_day_sequence_length`` times receipts on days whose
sequence already holds 0-3,000 numbers. ``app_1_aggregate_cache`` repeats the single client
with the library's aggregate cache on (a setting). ``--profile FILE`` also runs
one client under cProfile (not timed) and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import pstats
import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.utils import get_topic
from psycopg import sql

import domain.application as application_module
from bench.common import (
    ProjectionWorker,
    bench_url,
    fresh_schema,
    machine,
    merge_results,
    own_peak_rss_mib,
    percentiles,
    print_table,
    ratio,
    schema_table,
)
from domain.application import HosoApplication, Outcome
from domain.dossier import DossierCodeSequence
from domain.working_days import HCMC
from projections.key_vault import open_key_vault
from projections.migrate import migrate
from projections.runners import PROJECTIONS
from projections.store import Dialect, Store

SCHEMA = "hoso_bench_record"
EVENTS_TABLE = "hoso_events"
RAW_TABLE = "raw_events"
PROCEDURE = "2.000488"  # TTHCC → STP-HCTP → STP-BGD → TTHCC (as in tests/helpers.py)
PASSPHRASE = "mật khẩu ký thử nghiệm cho bench"
TARGET = 0.5  # the issue: at least half the raw-insert rate
DAYS = 30  # receipts of the timed runs are spread over this many past days
PROBE_LENGTHS = (0, 300, 1000, 3000)


def receive(app: HosoApplication, occurred_at: datetime | None = None) -> Outcome:
    """The counter's receipt, as the clerk's form sends it (a fresh request key each)."""
    return app.receive(
        actor_id="tiepnhan", procedure_code=PROCEDURE, documents=["Tờ khai", "Bản chụp CCCD"],
        applicant_name="Trần Thị Bích Ngọc", applicant_phone="0912345678",
        applicant_address="12 Nguyễn Huệ, phường Sài Gòn, TP.HCM",
        applicant_id_number="079201001234", idempotency_key=uuid.uuid4().hex,
        occurred_at=occurred_at)


@dataclass
class Samples:
    """Latencies per command kind (ms), shared by a run's threads."""

    by_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def time(self, kind: str, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = call()
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.by_kind[kind].append(elapsed)
        return result

    def all(self) -> list[float]:
        return [s for samples in self.by_kind.values() for s in samples]


def walk(app: HosoApplication, rng: random.Random, samples: Samples) -> None:
    """One dossier from the counter to the citizen, as the clerks' pages record it.

    Receipts are dated over the last ``DAYS`` days (the counter records them as they happen;
    the rest follows now): a day's code sequence then holds a realistic number of receipts,
    where all of them on one day would make each receipt slower than the last (see
    ``sequence_probe``)."""
    t = samples.time
    when = app.clock() - timedelta(days=1 + rng.randrange(DAYS), minutes=rng.randrange(600))
    d: UUID = t("receive", lambda: receive(app, when)).dossier_id

    def hand_over(sender: str, unit: str, receiver: str) -> None:
        t("transfer", lambda: app.transfer(d, expected_version=None, actor_id=sender,
                                           to_unit=unit, note="Chuyển xử lý"))
        t("accept_transfer", lambda: app.accept_transfer(d, expected_version=None,
                                                         actor_id=receiver))

    hand_over("tiepnhan", "STP-HCTP", "hctp")
    if rng.random() < 0.15:
        t("request_supplement", lambda: app.request_supplement(
            d, expected_version=None, actor_id="hctp", missing_items=["Bản sao có chứng thực"],
            reason="Bản sao chưa chứng thực"))
        t("provide_supplement", lambda: app.provide_supplement(
            d, expected_version=None, actor_id="tiepnhan", documents=["Bản sao có chứng thực"]))
    hand_over("hctp", "STP-BGD", "gd.stp")
    if rng.random() < 0.05:
        t("reject", lambda: app.reject(d, expected_version=None, actor_id="gd.stp",
                                       reasons="Không đủ điều kiện"))
    else:
        t("sign", lambda: app.sign(d, expected_version=None, actor_id="gd.stp",
                                   decision_number=f"{rng.randint(1, 9999)}/PLLTP",
                                   decision_title="Phiếu lý lịch tư pháp",
                                   passphrase=PASSPHRASE))
    hand_over("gd.stp", "TTHCC", "tiepnhan")
    t("dispatch", lambda: app.dispatch(d, expected_version=None, actor_id="tiepnhan",
                                       method="counter_pickup"))
    t("deliver", lambda: app.deliver(d, expected_version=None, actor_id="tiepnhan",
                                     recipient_name="Trần Thị Bích Ngọc"))


def _count_after(conn: psycopg.Connection[Any], table: str, start: int) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE notification_id > %s").format(
        schema_table(SCHEMA, table)), (start,)).fetchone()
    return int(row[0]) if row else 0


def _max_id(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(
        schema_table(SCHEMA, table))).fetchone()
    return int(row[0]) if row else 0


def _unapplied(conn: psycopg.Connection[Any]) -> int:
    """Events some read model has yet to apply (each counts only the topics it follows)."""
    total = 0
    for kind in PROJECTIONS:
        tracking = schema_table(SCHEMA, f"{kind.views[Dialect.POSTGRESQL].tracking_name}_tracking")
        row = conn.execute(sql.SQL(
            "SELECT count(*) FROM {} WHERE notification_id > "
            "(SELECT coalesce(max(notification_id), 0) FROM {}) AND topic = ANY(%s)").format(
            schema_table(SCHEMA, EVENTS_TABLE), tracking),
            (list(kind.projection.topics),)).fetchone()
        total += int(row[0]) if row else 0
    return total


def _sequence_length(conn: psycopg.Connection[Any]) -> int:
    """Events of the longest code sequence (the receiving agency's, today)."""
    row = conn.execute(sql.SQL("SELECT coalesce(max(originator_version), 0) FROM {} "
                               "WHERE topic = %s").format(schema_table(SCHEMA, EVENTS_TABLE)),
                       (f"{get_topic(DossierCodeSequence)}.Issued",)).fetchone()
    return int(row[0]) if row else 0


def _threads(count: int, work: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=work, args=(n,), name=f"bench-client-{n}")
               for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run_app(app: HosoApplication, conn: psycopg.Connection[Any], clients: int,
            seconds: float) -> dict[str, Any]:
    """Clients walking dossiers for ``seconds``; events/s and per-command latencies."""
    samples = Samples()
    start_id = _max_id(conn, EVENTS_TABLE)
    deadline = time.perf_counter() + seconds
    dossiers = [0] * clients
    errors: list[BaseException] = []

    def work(n: int) -> None:
        rng = random.Random(1000 + n)
        try:
            while time.perf_counter() < deadline:
                walk(app, rng, samples)
                dossiers[n] += 1
        except BaseException as error:  # reported after the run
            errors.append(error)

    with RecorderMeter(app) as meter:
        started = time.perf_counter()
        _threads(clients, work)
        elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    events = _count_after(conn, EVENTS_TABLE, start_id)
    commands = len(samples.all())
    return {
        "clients": clients, "seconds": round(elapsed, 2), "dossiers": sum(dossiers),
        "notification_ids": [start_id + 1, _max_id(conn, EVENTS_TABLE)],
        "commands": commands, "events": events,
        "events_per_s": round(events / elapsed, 1),
        "commands_per_s": round(commands / elapsed, 1),
        "latency_all_commands": percentiles(samples.all()),
        "latency_by_command": {k: percentiles(v) for k, v in sorted(samples.by_kind.items())},
        # Summed over the clients' threads: with several, the shares are of their total.
        "per_command": meter.parts(commands, sum(samples.all()) / 1000),
        "write_conflicts_retried": meter.conflicts,
        "longest_code_sequence_events": _sequence_length(conn),
    }


def recorded_rows(conn: psycopg.Connection[Any], ids: Sequence[int]
                  ) -> list[tuple[UUID, int, str, bytes]]:
    """The rows one run of the application wrote, in log order: the baselines replay them."""
    return [(r[0], int(r[1]), str(r[2]), bytes(r[3])) for r in conn.execute(sql.SQL(
        "SELECT originator_id, originator_version, topic, state FROM {} "
        "WHERE notification_id BETWEEN %s AND %s ORDER BY notification_id").format(
        schema_table(SCHEMA, EVENTS_TABLE)), tuple(ids)).fetchall()]


def _replayed(rows: Sequence[tuple[UUID, int, str, bytes]], n: int, clients: int
              ) -> Callable[[], tuple[UUID, int, str, bytes]]:
    """Client ``n``'s share of the rows, over and over, each pass with fresh aggregate ids
    (so versions follow on as they did, and no key repeats)."""
    mine = list(rows[n::clients]) or list(rows)
    ids: dict[UUID, UUID] = {}
    position = [0]

    def next_row() -> tuple[UUID, int, str, bytes]:
        if position[0] == len(mine):
            position[0] = 0
            ids.clear()
        originator, version, topic, state = mine[position[0]]
        position[0] += 1
        new = ids.setdefault(originator, uuid.uuid4())
        return new, version, topic, state

    return next_row


def run_raw(store: Store, rows: Sequence[tuple[UUID, int, str, bytes]], clients: int,
            seconds: float) -> dict[str, Any]:
    """Single-row INSERT + COMMIT (autocommit), each client on its own connection."""
    insert = sql.SQL("INSERT INTO {} (originator_id, originator_version, topic, state) "
                     "VALUES (%s, %s, %s, %s) RETURNING notification_id").format(
        schema_table(SCHEMA, RAW_TABLE))
    samples = Samples()
    deadline = time.perf_counter() + seconds

    def work(n: int) -> None:
        next_row = _replayed(rows, n, clients)
        with psycopg.connect(store.conninfo(), autocommit=True) as conn, conn.cursor() as cur:
            while time.perf_counter() < deadline:
                row = next_row()
                samples.time("insert", lambda r=row: (  # type: ignore[misc]
                    cur.execute(insert, r, prepare=True), cur.fetchone()))

    started = time.perf_counter()
    _threads(clients, work)
    elapsed = time.perf_counter() - started
    events = len(samples.all())
    return {"clients": clients, "seconds": round(elapsed, 2), "events": events,
            "events_per_s": round(events / elapsed, 1),
            "latency": percentiles(samples.all())}


def run_library(app: HosoApplication, rows: Sequence[tuple[UUID, int, str, bytes]],
                clients: int, seconds: float) -> dict[str, Any]:
    """The library's recorder alone: ``insert_events`` with one stored event a call."""
    samples = Samples()
    deadline = time.perf_counter() + seconds
    recorder = app.recorder

    def work(n: int) -> None:
        next_row = _replayed(rows, n, clients)
        while time.perf_counter() < deadline:
            originator, version, topic, state = next_row()
            event = StoredEvent(originator_id=originator, originator_version=version,
                                topic=topic, state=state)
            samples.time("insert_events", lambda e=event: recorder.insert_events([e]))  # type: ignore[misc]

    started = time.perf_counter()
    _threads(clients, work)
    elapsed = time.perf_counter() - started
    events = len(samples.all())
    return {"clients": clients, "seconds": round(elapsed, 2), "events": events,
            "events_per_s": round(events / elapsed, 1),
            "latency": percentiles(samples.all())}


class RecorderMeter:
    """Time spent inside the recorder's reads and writes, and the writes refused because
    another client saved the same aggregate version first (a receipt's code number)."""

    METHODS = ("insert_events", "select_events", "select_notifications",
               "max_notification_id")

    def __init__(self, app: HosoApplication) -> None:
        self.recorder = app.recorder
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.conflicts = 0
        self.lock = threading.Lock()

    def __enter__(self) -> RecorderMeter:
        for name in self.METHODS:
            original = getattr(self.recorder, name)

            @functools.wraps(original)
            def metered(*args: Any, _name: str = name, _original: Any = original,
                        **kwargs: Any) -> Any:
                started = time.perf_counter()
                conflict = False
                try:
                    return _original(*args, **kwargs)
                except IntegrityError:
                    conflict = True
                    raise
                finally:
                    elapsed = time.perf_counter() - started
                    with self.lock:
                        self.seconds[_name] += elapsed
                        self.calls[_name] += 1
                        self.conflicts += conflict

            setattr(self.recorder, name, metered)
        return self

    def __exit__(self, *_: object) -> None:
        for name in self.METHODS:
            delattr(self.recorder, name)  # back to the class's method

    def parts(self, commands: int, busy_s: float) -> dict[str, Any]:
        """Per command: calls, milliseconds and share of the commands' time, for each
        recorder method, and what is left (Python: hoso's domain, transcoding, the pool)."""
        commands = commands or 1
        parts: dict[str, Any] = {
            name: {"calls_per_command": round(self.calls[name] / commands, 2),
                   "ms_per_command": round(self.seconds[name] * 1000 / commands, 3),
                   "share": round(self.seconds[name] / busy_s, 3) if busy_s else 0.0}
            for name in self.METHODS if self.calls[name]
        }
        rest = busy_s - sum(self.seconds.values())
        parts["outside_recorder"] = {"ms_per_command": round(rest * 1000 / commands, 3),
                                     "share": round(rest / busy_s, 3) if busy_s else 0.0}
        return parts


def profile(app: HosoApplication, seconds: float, path: str) -> str:
    """One client in this thread (cProfile sees only its own thread), not timed."""
    rng, samples = random.Random(7), Samples()
    deadline = time.perf_counter() + seconds
    profiler = cProfile.Profile()
    profiler.enable()
    while time.perf_counter() < deadline:
        walk(app, rng, samples)
    profiler.disable()
    profiler.dump_stats(path)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
    return out.getvalue()


def sequence_probe(app: HosoApplication, receipts: int = 20) -> dict[str, Any]:
    """``receive`` on a day whose code sequence already holds N numbers: each receipt
    rebuilds the agency's sequence for the day from all its events."""
    agency = app.directory.unit("TTHCC").agency_code
    out: dict[str, Any] = {}
    for i, length in enumerate(PROBE_LENGTHS):
        when = (app.clock() - timedelta(days=DAYS + 5 + i)).replace(hour=3)  # 10:00 in HCMC
        sequence = DossierCodeSequence(agency, when.astimezone(HCMC).date(), timestamp=when)
        for _ in range(length):
            sequence.issue(when)
        app.save(sequence)
        samples = Samples()
        for _ in range(receipts):
            samples.time("receive", lambda w=when: receive(app, w))  # type: ignore[misc]
        out[str(length)] = percentiles(samples.all())
    return out


def real_signatures(app: HosoApplication, count: int) -> dict[str, Any]:
    """``sign`` with the officer's key unsealed by Argon2id every time, as in production."""
    samples = Samples()
    for _ in range(count):
        d = receive(app).dossier_id
        for sender, unit, receiver in (("tiepnhan", "STP-HCTP", "hctp"),
                                       ("hctp", "STP-BGD", "gd.stp")):
            app.transfer(d, expected_version=None, actor_id=sender, to_unit=unit)
            app.accept_transfer(d, expected_version=None, actor_id=receiver)
        samples.time("sign", lambda d=d: app.sign(  # type: ignore[misc]
            d, expected_version=None, actor_id="gd.stp", decision_number="1/PLLTP",
            decision_title="Phiếu lý lịch tư pháp", passphrase=PASSPHRASE))
    return percentiles(samples.all())


def create_raw_table(conn: psycopg.Connection[Any]) -> None:
    """The library's table, column for column (see eventsourcing.postgres)."""
    conn.execute(sql.SQL(
        "CREATE TABLE {table} (originator_id uuid NOT NULL, originator_version bigint NOT NULL,"
        " topic text, state bytea, notification_id bigserial,"
        " PRIMARY KEY (originator_id, originator_version))").format(
        table=schema_table(SCHEMA, RAW_TABLE)))
    conn.execute(sql.SQL("CREATE UNIQUE INDEX ON {} (notification_id)").format(
        schema_table(SCHEMA, RAW_TABLE)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each timed run")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--signatures", type=int, default=10,
                        help="signatures timed with the real Argon2id unsealing")
    parser.add_argument("--profile", metavar="FILE",
                        help="also run one client under cProfile, stats to FILE")
    parser.add_argument("--url", default=bench_url())
    args = parser.parse_args()

    store = Store.from_url(f"{args.url}?schema={SCHEMA}&pool_size={args.threads + 1}"
                           f"&max_overflow={args.threads}")
    fresh_schema(store)
    migrate(store)
    vault = open_key_vault(store)
    app = HosoApplication(env=store.eventsourcing_env(), key_vault=vault)
    app.register_signing_key(officer_id="gd.stp", passphrase=PASSPHRASE)
    conn = psycopg.connect(store.conninfo(), autocommit=True)
    create_raw_table(conn)

    sign_real = real_signatures(app, args.signatures)
    # From here on the key is unsealed once (Argon2id is not what is measured).
    application_module.unseal = functools.lru_cache(maxsize=8)(  # type: ignore[assignment]
        application_module.unseal)
    rng = random.Random(1)
    for _ in range(3):  # warm-up: prepared statements, caches, the day's code sequence
        walk(app, rng, Samples())

    runs: dict[str, dict[str, Any]] = {}
    rows: list[tuple[UUID, int, str, bytes]] = []
    # First, one client with a projection worker (hoso project) following in its own
    # process, as in production: its memory, how far behind it falls, and what sharing the
    # two cores with it costs. Before the baselines, which write rows no projection should
    # see; the headline runs below have the machine to themselves, like the baselines.
    print("1 client(s) with a projection worker following …", flush=True)
    with psycopg.connect(store.conninfo(), autocommit=True) as lag_conn, \
            ProjectionWorker(f"{args.url}?schema={SCHEMA}",
                             functools.partial(_unapplied, lag_conn)) as follower:
        runs["app_1_with_projection_worker"] = run_app(app, conn, 1, args.seconds)
        worker = follower.finish()
    for clients in (1, args.threads):
        print(f"{clients} client(s): application …", flush=True)
        runs[f"app_{clients}"] = run_app(app, conn, clients, args.seconds)
        # Both baselines replay the single client's rows (the library's own table gets
        # the library run's copies, so they are not read back from it later).
        rows = rows or recorded_rows(conn, runs["app_1"]["notification_ids"])
        print(f"{clients} client(s): raw INSERT …", flush=True)
        runs[f"raw_{clients}"] = run_raw(store, rows, clients, args.seconds)
        print(f"{clients} client(s): library insert_events …", flush=True)
        runs[f"library_{clients}"] = run_library(app, rows, clients, args.seconds)
    # A setting, not a code change: the library's aggregate cache (fast-forwarded from the
    # store on each get), to see what rebuilding aggregates from all their events costs.
    print("1 client, application with AGGREGATE_CACHE_MAXSIZE …", flush=True)
    cached = HosoApplication(env=store.eventsourcing_env() | {
        "AGGREGATE_CACHE_MAXSIZE": "10000"}, key_vault=vault)
    for _ in range(3):
        walk(cached, rng, Samples())
    runs["app_1_aggregate_cache"] = run_app(cached, conn, 1, args.seconds)
    cached.close()
    print("receipts on a day with a long code sequence …", flush=True)
    probe = sequence_probe(app)
    profile_text = profile(app, min(args.seconds, 10.0), args.profile) \
        if args.profile else None
    rss = own_peak_rss_mib()
    payloads = [len(r[3]) for r in rows]
    conn.close()
    app.close()
    vault.close()

    headline = []
    for clients in (1, args.threads):
        a, r, lib = runs[f"app_{clients}"], runs[f"raw_{clients}"], runs[f"library_{clients}"]
        value = ratio(a["events_per_s"], r["events_per_s"])
        headline.append({
            "what": f"events/s recorded through HosoApplication, {clients} client(s)",
            "figure": a["events_per_s"], "unit": "events/s",
            "baseline": r["events_per_s"],
            "baseline_what": f"raw single-row INSERT + COMMIT, {clients} client(s)",
            "ratio": value, "target": f">= {TARGET}", "met": value >= TARGET,
            "library_insert_events_per_s": lib["events_per_s"],
            "ratio_to_library_insert": ratio(a["events_per_s"], lib["events_per_s"]),
        })
    headline.append({"what": "recording client (this process) peak RSS", "figure": rss,
                     "unit": "MiB", "baseline": None, "ratio": None, "target": None,
                     "met": None})
    headline.append({"what": "projection worker (hoso project) peak RSS while 1 client "
                             "records", "figure": worker["peak_rss_mib"], "unit": "MiB",
                     "baseline": None, "ratio": None, "target": None, "met": None})
    one = headline[0]
    result: dict[str, Any] = {
        "benchmark": "recording actions through HosoApplication vs raw INSERT + COMMIT "
                     "(PostgreSQL)",
        "figure": {"events_per_s": one["figure"],
                   "latency_all_commands": runs["app_1"]["latency_all_commands"]},
        "baseline": {"name": "raw psycopg single-row INSERT + COMMIT into a table like the "
                             "library's, same payloads", "events_per_s": one["baseline"],
                     "latency": runs["raw_1"]["latency"]},
        "ratio": one["ratio"],
        "headline": headline,
        "runs": runs,
        "sign_with_argon2": sign_real,
        "receive_by_day_sequence_length": probe,
        "payload_bytes": percentiles([float(p) for p in payloads]) | {
            "max": max(payloads, default=0)},
        "recording_client_peak_rss_mib": rss,
        "projection_worker": worker,
        "settings": {"seconds_per_run": args.seconds, "threads": args.threads,
                     "mix": "receive, transfer+accept, 15% supplement request+answer, "
                            "transfer+accept, 95% sign / 5% reject, transfer+accept, "
                            "dispatch, deliver",
                     "sign_unseal": "memoised in timed runs; see sign_with_argon2"},
        "machine": machine(),
    }
    out = merge_results("record_actions", result)

    rows_out: list[tuple[str, str]] = []
    for h, clients in zip(headline[:2], (1, args.threads), strict=True):
        a = runs[f"app_{clients}"]
        lib = runs[f"library_{clients}"]
        rows_out += [
            (f"app, {clients} client(s)",
             f"{a['events_per_s']:,.0f} events/s ({a['commands_per_s']:,.0f} commands/s), "
             f"p50 {a['latency_all_commands']['p50_ms']} ms, "
             f"p99 {a['latency_all_commands']['p99_ms']} ms per command; "
             f"{a['write_conflicts_retried']} write conflicts retried"),
            (f"library insert_events, {clients}",
             f"{lib['events_per_s']:,.0f} events/s, p50 {lib['latency']['p50_ms']} ms"),
            (f"raw INSERT+COMMIT, {clients}",
             f"{h['baseline']:,.0f} events/s, p50 "
             f"{runs[f'raw_{clients}']['latency']['p50_ms']} ms"),
            (f"ratio app/raw, {clients}",
             f"{h['ratio']} (target >= {TARGET}: {'met' if h['met'] else 'MISSED'}); "
             f"app/library {h['ratio_to_library_insert']}"),
        ]
    for kind, lat in runs["app_1"]["latency_by_command"].items():
        rows_out.append((f"  {kind}", f"p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms "
                                      f"(n={lat['n']})"))
    c = runs["app_1_aggregate_cache"]
    rows_out.append(("app, 1, AGGREGATE_CACHE_MAXSIZE",
                     f"{c['events_per_s']:,.0f} events/s, p50 "
                     f"{c['latency_all_commands']['p50_ms']} ms per command "
                     f"(×{ratio(c['events_per_s'], runs['app_1']['events_per_s'])} of app, 1)"))
    rows_out.append(("receive vs. the day's receipts",
                     ", ".join(f"{n}: {lat['p50_ms']} ms" for n, lat in probe.items())))
    rows_out.append(("  sign (real Argon2id)", f"p50 {sign_real['p50_ms']} ms, "
                                              f"p99 {sign_real['p99_ms']} ms"))
    for name, part in runs["app_1"]["per_command"].items():
        calls = part.get("calls_per_command")
        rows_out.append((f"  per command: {name}",
                         (f"{calls} calls, " if calls is not None else "")
                         + f"{part['ms_per_command']} ms ({part['share']:.0%})"))
    rows_out.append(("recording client peak RSS", f"{rss} MiB"))
    w = runs["app_1_with_projection_worker"]
    rows_out.append(("app, 1, worker following",
                     f"{w['events_per_s']:,.0f} events/s, p50 "
                     f"{w['latency_all_commands']['p50_ms']} ms per command"))
    rows_out.append(("projection worker (1 client)",
                     f"peak RSS {worker['peak_rss_mib']} MiB, at most "
                     f"{worker['max_lag_events']} events behind, caught up "
                     f"{worker['seconds_to_catch_up_after_load']} s after the load"))
    print_table(rows_out)
    if profile_text:
        print(profile_text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
