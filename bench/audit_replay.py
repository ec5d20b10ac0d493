"""Audit replay of one dossier in a store of 1,000 events, and in one of 1,000,000.

    make bench            # or: .venv/bin/python -m bench.audit_replay --events 1000000

The cost of replaying a dossier must grow with the dossier, not with the store. Two PostgreSQL
schemas are filled the same way, one up to ``--small`` events (1,000), one up to ``--events``
(1,000,000):

- target dossiers recorded through ``HosoApplication`` (``--targets`` typical ones — received,
  passed on and accepted, a supplement asked for and brought, signed, handed back,
  dispatched, delivered: about 13 events — and one long one passed back and forth
  ``--long-hops`` times), one command of each at a time;
- between those commands, filler: copies of the targets' own events (same topics, same
  payloads) under fresh dossier ids, COPYed straight into the event table. So each target's
  events lie far apart in the table, as a real dossier's do among the others recorded
  meanwhile.

Then, on each store in turn and in the same order, it times
``HosoApplication.audit_trail(id, as_of=<the moment of the dossier's middle event>)`` (which
also records the inspector's reading) and ``repository.get(id, version=<middle>)``; and,
through a real uvicorn process serving hoso over that store (read models not followed: the
filler is not for them), the audit page's replay panel (``HX-Request``), with the server's
peak RSS. The figure is the large store's median, the baseline the small store's; the ratio
should be about 1 (target within 1.5×). ``--reuse`` keeps the large schema a previous run
filled. Merges its results into bench/results-<date>.json (key ``audit_replay``).
"""

from __future__ import annotations

import argparse
import http.client
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import psycopg
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from psycopg import sql
from starlette.applications import Starlette
from tqdm import tqdm

from bench.common import (
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
from bench.public_page_load import Server
from domain.application import HosoApplication
from domain.dossier import Dossier
from domain.reading import Page, ReadingLog
from projections.key_vault import open_key_vault
from projections.migrate import migrate
from projections.store import Store
from web.accounts import open_accounts
from web.app import create_app

SMALL_SCHEMA = "hoso_bench_audit_small"
LARGE_SCHEMA = "hoso_bench_audit"
EVENTS_TABLE = "hoso_events"
TARGETS_TABLE = "bench_targets"
PROCEDURE = "2.000488"  # TTHCC → STP-HCTP → STP-BGD → TTHCC
PASSPHRASE = "mật khẩu ký thử nghiệm cho bench"
INSPECTOR = "thanhtra"
PASSWORD = "bench-password"
TARGET = 1.5  # the issue: the large store's replay within 1.5× of the small store's


def audit_server_app() -> Starlette:
    """hoso as ``hoso serve`` builds it, without following the log (``uvicorn --factory``)."""
    return create_app(follow=False)


Step = Callable[[], object]


def receipt(app: HosoApplication, ids: list[UUID]) -> Step:
    def receive() -> None:
        ids.append(app.receive(
            actor_id="tiepnhan", procedure_code=PROCEDURE, documents=["Tờ khai", "Bản chụp CCCD"],
            applicant_name="Trần Thị Bích Ngọc", applicant_phone="0912345678",
            applicant_address="12 Nguyễn Huệ, phường Sài Gòn, TP.HCM",
            applicant_id_number="079201001234", idempotency_key=uuid.uuid4().hex).dossier_id)

    return receive


def typical_walk(app: HosoApplication, rng: random.Random, ids: list[UUID] | None = None
                 ) -> Iterator[Step]:
    """One command at a time: received (unless ``ids`` already names the dossier), then the
    usual way with one supplement request. The last step returns the dossier's id."""
    if ids is None:
        ids = []
        yield receipt(app, ids)
    known = ids

    def hand_over(sender: str, unit: str, receiver: str) -> Iterator[Step]:
        yield lambda: app.transfer(known[0], expected_version=None, actor_id=sender,
                                   to_unit=unit, note="Chuyển xử lý")
        yield lambda: app.accept_transfer(known[0], expected_version=None, actor_id=receiver)

    yield from hand_over("tiepnhan", "STP-HCTP", "hctp")
    yield lambda: app.request_supplement(known[0], expected_version=None, actor_id="hctp",
                                         missing_items=["Bản sao có chứng thực"],
                                         reason="Bản sao chưa chứng thực")
    yield lambda: app.provide_supplement(known[0], expected_version=None, actor_id="tiepnhan",
                                         documents=["Bản sao có chứng thực"])
    yield from hand_over("hctp", "STP-BGD", "gd.stp")
    yield lambda: app.sign(known[0], expected_version=None, actor_id="gd.stp",
                           decision_number=f"{rng.randint(1, 9999)}/PLLTP",
                           decision_title="Phiếu lý lịch tư pháp", passphrase=PASSPHRASE)
    yield from hand_over("gd.stp", "TTHCC", "tiepnhan")
    yield lambda: app.dispatch(known[0], expected_version=None, actor_id="tiepnhan",
                               method="counter_pickup")
    yield lambda: app.deliver(known[0], expected_version=None, actor_id="tiepnhan",
                              recipient_name="Trần Thị Bích Ngọc")
    yield lambda: known[0]


def long_walk(app: HosoApplication, rng: random.Random, hops: int) -> Iterator[Step]:
    """A dossier passed back and forth between the counter and the specialists ``hops``
    times before going the usual way: 2 events a hop."""
    ids: list[UUID] = []
    yield receipt(app, ids)
    for hop in range(hops):
        sender, unit, receiver = (("tiepnhan", "STP-HCTP", "hctp") if hop % 2 == 0
                                  else ("hctp", "TTHCC", "tiepnhan"))
        yield lambda s=sender, u=unit: app.transfer(  # type: ignore[misc]
            ids[0], expected_version=None, actor_id=s, to_unit=u, note="Trả lại")
        yield lambda r=receiver: app.accept_transfer(  # type: ignore[misc]
            ids[0], expected_version=None, actor_id=r)
    if hops % 2:  # end at the counter, where the usual walk goes on
        yield lambda: app.transfer(ids[0], expected_version=None, actor_id="hctp",
                                   to_unit="TTHCC")
        yield lambda: app.accept_transfer(ids[0], expected_version=None, actor_id="tiepnhan")
    yield from typical_walk(app, rng, ids)


class Filler:
    """Copies of the targets' events under fresh ids, COPYed into the event table."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = psycopg.connect(store.conninfo(), autocommit=True)
        self.shapes: list[list[tuple[int, str, bytes]]] = []
        self.copied = 0

    def learn(self, dossier_ids: list[UUID]) -> None:
        """The shapes to copy: the targets' events so far (each dossier a shape)."""
        rows = self.conn.execute(sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version").format(
            schema_table(self.store.schema, EVENTS_TABLE)), (dossier_ids,)).fetchall()
        shapes: dict[UUID, list[tuple[int, str, bytes]]] = {}
        for originator, version, topic, state in rows:
            shapes.setdefault(originator, []).append((int(version), topic, bytes(state)))
        self.shapes = [s for s in shapes.values() if s]

    def rows(self) -> Iterator[tuple[UUID, int, str, bytes]]:
        while True:
            for shape in self.shapes:
                new = uuid.uuid4()
                for version, topic, state in shape:
                    yield new, version, topic, state

    def copy(self, count: int, source: Iterator[tuple[UUID, int, str, bytes]]) -> None:
        if count <= 0 or not self.shapes:
            return
        statement = sql.SQL("COPY {} (originator_id, originator_version, topic, state) "
                            "FROM STDIN (FORMAT BINARY)").format(
            schema_table(self.store.schema, EVENTS_TABLE))
        with self.conn.cursor() as cur, cur.copy(statement) as copy:
            copy.set_types(["uuid", "int8", "text", "bytea"])
            for _ in range(count):
                copy.write_row(next(source))
        self.copied += count

    def events(self) -> int:
        row = self.conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            schema_table(self.store.schema, EVENTS_TABLE))).fetchone()
        return int(row[0]) if row else 0


def fill(store: Store, total: int, targets: int, hops: int) -> tuple[list[UUID], UUID]:
    """Targets through the application with filler between their commands, up to ``total``
    events; the typical targets' ids and the long one's."""
    fresh_schema(store)
    migrate(store)
    vault = open_key_vault(store)
    app = HosoApplication(env=store.eventsourcing_env(), key_vault=vault)
    app.register_signing_key(officer_id="gd.stp", passphrase=PASSPHRASE)
    filler = Filler(store)
    rng = random.Random(11)
    # A first dossier, so the filler has a shape before the targets start.
    first = [step() for step in typical_walk(app, rng)][-1]
    assert isinstance(first, UUID)
    filler.learn([first])
    walks = [typical_walk(app, rng) for _ in range(targets)] + [long_walk(app, rng, hops)]
    rounds = 2 * hops + 16
    # Events the targets will write (the long one ~2 per hop), the rest is filler.
    expected_real = filler.events() + targets * 14 + 2 * hops + 16
    per_round = max(0, (total - expected_real) // rounds)
    source = filler.rows()
    results: list[object] = [None] * len(walks)
    active = list(range(len(walks)))
    with tqdm(total=total, desc=f"filling {store.schema}", unit="event") as bar:
        while active:
            for i in list(active):
                try:
                    results[i] = next(walks[i])()
                except StopIteration:
                    active.remove(i)
            filler.copy(per_round, source)
            bar.update(per_round)
        filler.copy(total - filler.events(), source)  # exactly ``total``
        bar.update(bar.total - bar.n)
    ids = [r for r in results if isinstance(r, UUID)]
    typical, long_one = ids[:-1], ids[-1]
    with filler.conn as conn:
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(
            schema_table(store.schema, EVENTS_TABLE)))
        conn.execute(sql.SQL("CREATE TABLE {} (dossier_id uuid PRIMARY KEY, kind text)").format(
            schema_table(store.schema, TARGETS_TABLE)))
        with conn.cursor() as cur:
            cur.executemany(sql.SQL("INSERT INTO {} VALUES (%s, %s)").format(
                schema_table(store.schema, TARGETS_TABLE)),
                [(d, "typical") for d in typical] + [(long_one, "long")])
    accounts = open_accounts(store, hasher=PasswordHasher.from_parameters(CHEAPEST))
    accounts.set_password(INSPECTOR, PASSWORD)
    accounts.close()
    app.close()
    vault.close()
    return typical, long_one


def stored_targets(store: Store) -> tuple[list[UUID], UUID | None, int]:
    """The targets a previous run recorded in this schema, and the store's events."""
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
                            "AND table_name = %s", (store.schema, TARGETS_TABLE)).fetchone():
            return [], None, 0
        rows = conn.execute(sql.SQL("SELECT dossier_id, kind FROM {} ORDER BY dossier_id").format(
            schema_table(store.schema, TARGETS_TABLE))).fetchall()
        count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            schema_table(store.schema, EVENTS_TABLE))).fetchone()
    typical = [UUID(str(d)) for d, kind in rows if kind == "typical"]
    long_ones = [UUID(str(d)) for d, kind in rows if kind == "long"]
    return typical, (long_ones[0] if long_ones else None), int(count[0]) if count else 0


def forget_todays_readings(store: Store, app: HosoApplication) -> None:
    """The inspector's reading log of today is one aggregate, replayed on each audit: start
    both stores from the same empty log (a rerun would otherwise find the last run's)."""
    log_id = ReadingLog.create_id(INSPECTOR, ReadingLog.day_of(app.clock()))
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DELETE FROM {} WHERE originator_id = %s").format(
            schema_table(store.schema, EVENTS_TABLE)), (log_id,))


def mutate_all(aggregate: Any, events: Iterable[Any]) -> Any:
    """``eventsourcing.application.project_aggregate`` without its ``assert isinstance(event,
    CanMutateProtocol)``: a runtime-checkable Protocol check, tens of µs per event on
    Python 3.11 (measured here to show what it costs a replay)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def middle(app: HosoApplication, dossier_id: UUID) -> tuple[int, datetime]:
    events = list(app.repository.event_store.get(dossier_id))
    mid = events[len(events) // 2 - 1]
    assert isinstance(mid, Dossier.Event)
    return mid.originator_version, mid.timestamp


def measure(store: Store, typical: list[UUID], long_one: UUID, repeat: int
            ) -> dict[str, Any]:
    app = HosoApplication(env=store.eventsourcing_env())
    forget_todays_readings(store, app)
    targets = [(d, "typical") for d in typical] + [(long_one, "long")]
    moments = {d: middle(app, d) for d, _ in targets}
    lengths = {kind: len(list(app.repository.event_store.get(d))) for d, kind in targets}
    samples: dict[str, list[float]] = {}

    def timed(name: str, call: Callable[[], object]) -> None:
        started = time.perf_counter()
        call()
        samples.setdefault(name, []).append((time.perf_counter() - started) * 1000)

    for d, _ in targets:  # warm-up
        app.audit_trail(d, inspector_id=INSPECTOR, as_of=moments[d][1])
    rng = random.Random(5)
    for _ in range(repeat):
        # Each round from an empty reading log: see ``reading_probe`` for why.
        forget_todays_readings(store, app)
        rng.shuffle(targets)
        for d, kind in targets:
            version, moment = moments[d]
            timed(f"audit_trail_{kind}", lambda d=d, m=moment: app.audit_trail(  # type: ignore[misc]
                d, inspector_id=INSPECTOR, as_of=m))
            timed(f"repository_get_{kind}", lambda d=d, v=version: app.unsnapshotted.get(  # type: ignore[misc]
                d, version=v))
            timed(f"event_store_get_{kind}", lambda d=d: list(  # type: ignore[misc]
                app.repository.event_store.get(d)))
            # The same replay without the library's per-event runtime-protocol assert.
            timed(f"replay_without_protocol_assert_{kind}",
                  lambda d=d, v=version: app.unsnapshotted.get(  # type: ignore[misc]
                      d, version=v, projector_func=mutate_all))
    app.close()
    return {"dossier_events": lengths,
            **{name: percentiles(s) for name, s in sorted(samples.items())}}


READING_LOG_LENGTHS = (0, 100, 1000)


def reading_probe(store: Store, dossier_id: UUID, calls: int = 10) -> dict[str, Any]:
    """``audit_trail`` when the inspector already opened N pages today: every page opened
    appends to the viewer's reading log of the day, one aggregate rebuilt from all its
    events before each append."""
    app = HosoApplication(env=store.eventsourcing_env())
    moment = middle(app, dossier_id)[1]
    inspector = app.directory.member(INSPECTOR)
    out: dict[str, Any] = {}
    for length in READING_LOG_LENGTHS:
        forget_todays_readings(store, app)
        if length:
            now = app.clock()
            log = ReadingLog(INSPECTOR, ReadingLog.day_of(now), timestamp=now)
            for _ in range(length):
                log.record_opening(dossier_id=dossier_id, viewer=inspector,
                                   page=Page.AUDIT_TRAIL, opened_at=now)
            app.save(log)
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            app.audit_trail(dossier_id, inspector_id=INSPECTOR, as_of=moment)
            samples.append((time.perf_counter() - started) * 1000)
        out[str(length)] = percentiles(samples)
    forget_todays_readings(store, app)
    app.close()
    return out


def _sign_in(url: str) -> str:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    body = f"username={INSPECTOR}&password={PASSWORD}"
    conn.request("POST", "/signin", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    answer = conn.getresponse()
    answer.read()
    cookie = answer.getheader("set-cookie") or ""
    conn.close()
    if answer.status != 303 or not cookie:
        raise RuntimeError(f"sign-in failed: {answer.status}")
    return cookie.split(";", 1)[0]


def serve(store: Store, database_url: str, typical: list[UUID], long_one: UUID,
          repeat: int) -> dict[str, Any]:
    """The audit page's replay panel through a real server over this store."""
    app = HosoApplication(env=store.eventsourcing_env())
    forget_todays_readings(store, app)
    positions = {d: middle(app, d)[0] for d in [*typical, long_one]}
    app.close()
    server = Server("bench.audit_replay:audit_server_app",
                    {"HOSO_DATABASE_URL": database_url},
                    "/signin")
    try:
        cookie = _sign_in(server.url)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        samples: dict[str, list[float]] = {"typical": [], "long": []}
        statuses: dict[int, int] = {}
        for n in range(repeat + 1):
            for d in [*typical, long_one]:
                started = time.perf_counter()
                conn.request("GET", f"/dossiers/{d}/audit?position={positions[d]}",
                             headers={"Cookie": cookie, "HX-Request": "true"})
                answer = conn.getresponse()
                answer.read()
                if n:  # the first round warms up
                    samples["long" if d == long_one else "typical"].append(
                        (time.perf_counter() - started) * 1000)
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
        conn.close()
        rss = server.peak_rss_mib()
    finally:
        server.stop()
    return {"replay_panel_typical": percentiles(samples["typical"]),
            "replay_panel_long": percentiles(samples["long"]),
            "statuses": {str(k): v for k, v in statuses.items()},
            "server_peak_rss_mib": rss}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000, help="the large store")
    parser.add_argument("--small", type=int, default=1_000, help="the small store")
    parser.add_argument("--targets", type=int, default=20, help="typical target dossiers")
    parser.add_argument("--long-hops", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the large schema a previous run filled")
    parser.add_argument("--url", default=bench_url())
    args = parser.parse_args()

    stores = {size: Store.from_url(f"{args.url}?schema={schema}")
              for size, schema in (("small", SMALL_SCHEMA), ("large", LARGE_SCHEMA))}
    sizes = {"small": args.small, "large": args.events}
    found: dict[str, tuple[list[UUID], UUID]] = {}
    fill_seconds: dict[str, float] = {}
    for size in ("small", "large"):
        typical, long_one, count = stored_targets(stores[size])
        if size == "small" or not args.reuse or long_one is None or count < sizes[size]:
            started = time.perf_counter()
            typical, long_one = fill(stores[size], sizes[size], args.targets, args.long_hops)
            fill_seconds[size] = round(time.perf_counter() - started, 1)
        assert long_one is not None
        found[size] = (typical, long_one)

    measured: dict[str, Any] = {}
    for size in ("small", "large"):
        typical, long_one = found[size]
        print(f"measuring the {size} store …", flush=True)
        measured[size] = measure(stores[size], typical, long_one, args.repeat)
        measured[size]["events_in_store"] = stored_targets(stores[size])[2]
        measured[size]["web"] = serve(stores[size], f"{args.url}?schema={stores[size].schema}",
                                      typical, long_one, max(1, args.repeat // 2))
    print("audit_trail vs. the inspector's readings today …", flush=True)
    probe = reading_probe(stores["small"], found["small"][0][0])
    rss = own_peak_rss_mib()

    small, large = measured["small"], measured["large"]
    headline = []
    typical_n, long_n = large["dossier_events"]["typical"], large["dossier_events"]["long"]
    for name, what in (("audit_trail_typical", f"audit_trail(as_of), {typical_n}-event dossier"),
                       ("repository_get_typical", f"repository.get(version=n), {typical_n} "
                                                  "events"),
                       ("audit_trail_long", f"audit_trail(as_of), {long_n}-event dossier"),
                       ("repository_get_long", f"repository.get(version=n), {long_n} events")):
        value = ratio(large[name]["p50_ms"], small[name]["p50_ms"])
        headline.append({
            "what": f"{what}, {large['events_in_store']:,} events in the store",
            "figure": large[name]["p50_ms"], "unit": "ms (median)",
            "baseline": small[name]["p50_ms"],
            "baseline_what": f"same, {small['events_in_store']:,} events in the store",
            "ratio": value, "target": f"<= {TARGET}", "met": value <= TARGET})
    for panel in ("replay_panel_typical", "replay_panel_long"):
        value = ratio(large["web"][panel]["p50_ms"], small["web"][panel]["p50_ms"])
        headline.append({
            "what": f"audit page replay panel over HTTP ({panel.rsplit('_', 1)[1]}), large "
                    "store", "figure": large["web"][panel]["p50_ms"], "unit": "ms (median)",
            "baseline": small["web"][panel]["p50_ms"], "baseline_what": "same, small store",
            "ratio": value, "target": f"<= {TARGET}", "met": value <= TARGET})
    headline.append({"what": "hoso web server peak RSS serving audit replays, large store",
                     "figure": large["web"]["server_peak_rss_mib"], "unit": "MiB",
                     "baseline": small["web"]["server_peak_rss_mib"],
                     "baseline_what": "same, small store",
                     "ratio": ratio(large["web"]["server_peak_rss_mib"],
                                    small["web"]["server_peak_rss_mib"]),
                     "target": None, "met": None})
    result: dict[str, Any] = {
        "benchmark": "audit replay of one dossier: 1,000 vs 1,000,000 events in the store "
                     "(PostgreSQL)",
        "figure": {k: large[k] for k in large if k.startswith(("audit", "repository",
                                                              "replay", "event_store"))},
        "baseline": {"name": "the same calls on the same dossiers in a store of "
                             f"{small['events_in_store']:,} events",
                     **{k: small[k] for k in small if k.startswith(("audit", "repository",
                                                                     "replay", "event_store"))}},
        "ratio": headline[0]["ratio"],
        "headline": headline,
        "stores": measured,
        "audit_trail_by_readings_today": probe,
        "fill_seconds": fill_seconds,
        "reused_large_store": "large" not in fill_seconds,
        "bench_process_peak_rss_mib": rss,
        "settings": {"targets": args.targets, "long_hops": args.long_hops,
                     "repeat": args.repeat, "measured_at": datetime.now(UTC).isoformat()},
        "machine": machine(),
    }
    out = merge_results("audit_replay", result)

    rows = [("events in the store", f"small {small['events_in_store']:,}, large "
                                    f"{large['events_in_store']:,}"),
            ("dossier events", f"typical {large['dossier_events']['typical']}, long "
                               f"{large['dossier_events']['long']}")]
    for h in headline[:-1]:
        rows.append((h["what"].split(", " + f"{large['events_in_store']:,}")[0],
                     f"large {h['figure']} ms vs small {h['baseline']} ms → ×{h['ratio']} "
                     f"({'met' if h['met'] else 'MISSED'}, target ≤ {TARGET})"))
    for size in ("small", "large"):
        m = measured[size]
        rows.append((f"{size}: p99", ", ".join(
            f"{k} {m[k]['p99_ms']} ms" for k in m if k.startswith(("audit", "repository")))))
    rows.append(("replay without the library's assert", ", ".join(
        f"{kind}: {large[f'repository_get_{kind}']['p50_ms']} → "
        f"{large[f'replay_without_protocol_assert_{kind}']['p50_ms']} ms"
        for kind in ("typical", "long"))))
    rows.append(("audit_trail vs. readings today", ", ".join(
        f"{n}: {lat['p50_ms']} ms" for n, lat in probe.items())))
    rows.append(("peak RSS", f"web server small {small['web']['server_peak_rss_mib']} MiB, "
                             f"large {large['web']['server_peak_rss_mib']} MiB; this process "
                             f"{rss} MiB"))
    if fill_seconds:
        rows.append(("fill", ", ".join(f"{k} {v} s" for k, v in fill_seconds.items())))
    print_table(rows)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
