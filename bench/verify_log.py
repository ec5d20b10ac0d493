"""``hoso verify`` over a million dossier events, against same-run baselines.

    make bench            # or: .venv/bin/python -m bench.verify_log --events 1000000

Fills a fresh PostgreSQL schema with synthetic dossiers — a year of them, made by the
``Dossier`` aggregate's own commands (``domain.bulk_demo.Synthesiser``) and saved to the real
event store through ``HosoApplication.save``, many dossiers per transaction — then:

1. runs the transparency-log projection over every event, as ``hoso rebuild`` and
   ``hoso serve`` do (``projections.runners.catch_up``, 1000 events a transaction), and signs
   one checkpoint of the log with a fresh Ed25519 key;
2. times ``hoso verify`` exactly as an operator runs it: the CLI in its own process
   (``python -m cli verify``, ``HOSO_DATABASE_URL`` naming the bench schema,
   ``HOSO_LOG_SIGNING_KEY`` the bench key), with its wall time, events per second, peak RSS
   (``wait4``'s rusage of that process) and whether it came out clean;
3. as baselines of the same run, reads the same stored events raw (one streamed SELECT in
   notification order, every payload fetched, plain psycopg), reads the log's entries the same
   way (verify reads them twice), and computes SHA-256 over every event payload.

Prints a short table and merges its figures into bench/results-<date>.json (key
``verify_log``). ``--reuse`` keeps the schema a previous run filled; ``--profile FILE`` runs
verify under cProfile instead (its time is then not the figure to quote).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from tqdm import tqdm

from bench.common import merge_results, run_cli
from domain.application import HosoApplication
from domain.bulk_demo import Synthesiser
from domain.transparency.checkpoint import NoteSigner
from projections.checkpoints import TransparencyLog
from projections.migrate import migrate
from projections.runners import ReadModels, catch_up, open_checkpoints
from projections.store import Store
from projections.transparency_log import TransparencyLogProjection

SCHEMA = "hoso_bench_verify"
EVENTS_TABLE = "hoso_events"  # the library's table for the application named "hoso"
# The bench's own signing key, kept in the bench schema so that --reuse can check the
# checkpoint it signed. An installation's key never lives in its database.
KEY_TABLE = "bench_signing_key"


def _table(schema: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def _mib(kib: int) -> float:
    return round(kib / 1024, 1)  # ru_maxrss is in KiB on Linux


def fill(app: HosoApplication, events: int, batch: int) -> tuple[int, float]:
    """Save about ``events`` synthetic dossier events; how many, and the seconds taken."""
    synthesiser = Synthesiser(app.directory, app.calendar, app.clock(), seed=2026)
    saved = 0
    started = time.perf_counter()
    with tqdm(total=events, desc="saving events", unit="event") as bar:
        for chunk in synthesiser.batches(events, size=batch):
            # In recording order, as the clerks' commands would have stored them.
            app.save(*chunk)
            saved += len(chunk)
            bar.update(len(chunk))
    return saved, time.perf_counter() - started


def project(app: HosoApplication, models: ReadModels) -> tuple[int, float]:
    """Bring the transparency log up to the end of the store; events logged, seconds."""
    projection = TransparencyLogProjection(view=models.transparency_log)
    applied = 0
    started = time.perf_counter()
    with tqdm(desc="transparency log", unit="event") as bar:
        while batch := catch_up(app, projection, limit=1000):
            applied += batch
            bar.update(batch)
    return applied, time.perf_counter() - started


def signing_key(conn: psycopg.Connection[Any], schema: str, origin: str) -> NoteSigner:
    conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (skey TEXT NOT NULL)").format(
        _table(schema, KEY_TABLE)))
    row = conn.execute(sql.SQL("SELECT skey FROM {}").format(_table(schema, KEY_TABLE))).fetchone()
    if row:
        return NoteSigner.parse(row[0])
    signer = NoteSigner.generate(origin)
    conn.execute(sql.SQL("INSERT INTO {} (skey) VALUES (%s)").format(_table(schema, KEY_TABLE)),
                 (signer.skey,))
    return signer


def run_verify(database_url: str, skey: str, profile: str | None) -> dict[str, Any]:
    """``hoso verify`` in a process of its own, as an operator would run it."""
    return run_cli("verify", {"HOSO_DATABASE_URL": database_url, "HOSO_LOG_SIGNING_KEY": skey},
                   profile)


def read_raw(conn: psycopg.Connection[Any], query: sql.Composed,
             on_chunk: Callable[[list[tuple[Any, ...]]], None] | None = None
             ) -> tuple[int, int, float]:
    """Rows and payload bytes of a streamed SELECT (server-side cursor), and seconds."""
    rows = size = 0
    started = time.perf_counter()
    with conn.transaction(), conn.cursor(name="bench_raw") as cursor:
        cursor.itersize = 10_000
        cursor.execute(query)
        while chunk := cursor.fetchmany(10_000):
            rows += len(chunk)
            size += sum(len(r[-1]) for r in chunk)
            if on_chunk:
                on_chunk(chunk)
    return rows, size, time.perf_counter() - started


def baselines(conn: psycopg.Connection[Any], schema: str) -> dict[str, Any]:
    events_query = sql.SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state "
        "FROM {} ORDER BY notification_id").format(_table(schema, EVENTS_TABLE))
    rows, size, read_s = read_raw(conn, events_query)
    log_rows, log_size, log_s = read_raw(conn, sql.SQL(
        "SELECT position, dossier_id, version, leaf_hash, entry FROM {} "
        "ORDER BY position").format(_table(schema, "log_entry")))
    hashing = [0.0]

    def hash_chunk(chunk: list[tuple[Any, ...]]) -> None:
        started = time.perf_counter()
        for row in chunk:
            hashlib.sha256(row[-1]).digest()
        hashing[0] += time.perf_counter() - started

    read_raw(conn, events_query, on_chunk=hash_chunk)
    return {
        "events_raw_read": {"rows": rows, "payload_bytes": size, "seconds": round(read_s, 3),
                            "what": "one streamed SELECT of the stored events in notification "
                                    "order, every payload fetched (psycopg, server-side "
                                    "cursor, 10,000 rows a fetch)"},
        "log_raw_read": {"rows": log_rows, "entry_chars": log_size, "seconds": round(log_s, 3),
                         "what": "the same over log_entry (verify reads the log twice)"},
        "sha256_payloads": {"rows": rows, "seconds": round(hashing[0], 3),
                            "what": "hashlib.sha256 of each event payload, already in memory"},
    }


def dataset(conn: psycopg.Connection[Any], schema: str) -> dict[str, int]:
    def one(query: str, table: str) -> int:
        value = conn.execute(sql.SQL(query).format(_table(schema, table))).fetchone()
        return int(value[0]) if value else 0

    return {
        "events": one("SELECT count(*) FROM {}", EVENTS_TABLE),
        "dossiers": one("SELECT count(DISTINCT originator_id) FROM {}", EVENTS_TABLE),
        "log_entries": one("SELECT count(*) FROM {}", "log_entry"),
        "checkpoints": one("SELECT count(*) FROM {}", "log_checkpoint"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    # ~500 dossiers a save. One save of 15,000 events or more never returned here: the
    # library's pipelined executemany (psycopg 3.3.9) waits for results the server has not
    # been asked to send (psycopg/psycopg#685); at 1,000-12,000 the rate is the same.
    parser.add_argument("--batch", type=int, default=5_000,
                        help="events saved per transaction (whole dossiers)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the events a previous run saved in the bench schema")
    parser.add_argument("--profile", metavar="FILE",
                        help="run verify under cProfile, writing its stats to FILE")
    parser.add_argument("--schema", default=SCHEMA, help="the PostgreSQL schema to fill")
    parser.add_argument("--url", default=os.environ.get(
        "HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()

    schema = args.schema
    database_url = f"{args.url}?schema={schema}"
    store = Store.from_url(database_url)
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
                              "AND table_name = %s", (schema, EVENTS_TABLE)).fetchone()
        reuse = bool(args.reuse and exists and dataset(conn, schema)["events"])
        if args.reuse and not reuse:
            print(f"--reuse: schema {schema} holds no events; filling it")
        if not reuse:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(schema)))
    migrate(store)
    # Recording times are the synthetic ones; the clock (now) dates the checkpoint.
    now = datetime.now(UTC)
    app = HosoApplication(env=store.eventsourcing_env(), clock=lambda: now)
    figures: dict[str, Any] = {}
    if not reuse:
        saved, seconds = fill(app, args.events, args.batch)
        figures["generation"] = {"events": saved, "seconds": round(seconds, 1),
                                 "events_per_s": round(saved / seconds)}

    models = ReadModels(store, app)
    logged, seconds = project(app, models)
    if logged:
        figures["projection"] = {"events": logged, "seconds": round(seconds, 1),
                                 "events_per_s": round(logged / seconds)}
    origin = models.transparency_log.settings().origin
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        signer = signing_key(conn, schema, origin)
    log = TransparencyLog(origin=origin, checkpoints=open_checkpoints(store), signer=signer)
    started = time.perf_counter()
    made = log.make_checkpoint(app.clock())
    if made is not None:
        figures["checkpoint"] = {"tree_size": made.tree_size,
                                 "seconds": round(time.perf_counter() - started, 2)}
    log.checkpoints.datastore.close()  # type: ignore[attr-defined]
    models.close()
    app.close()
    bench_rss = _mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        for name in (EVENTS_TABLE, "log_entry"):
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(_table(schema, name)))
        data = dataset(conn, schema)
    print(f"hoso verify over {data['events']:,} events ({schema})", file=sys.stderr)
    load_before = os.getloadavg()[0]
    verify = run_verify(database_url, signer.skey, args.profile)
    # The machine is shared: what else was running shows in the load (2 cores here).
    load = {"1_min_before_verify": round(load_before, 2),
            "1_min_after_verify": round(os.getloadavg()[0], 2)}
    clean = (verify["exit_status"] == 0 and "no findings" in verify["output"]
             and "0 failed" in verify["output"])
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        base = baselines(conn, schema)

    def ratio(seconds: float) -> float:
        return round(verify["seconds"] / seconds, 1) if seconds else 0.0

    result: dict[str, Any] = {
        "benchmark": "hoso verify over synthetic dossier events (PostgreSQL)",
        "schema": schema,
        "data": data,
        **figures,
        "verify": {"seconds": round(verify["seconds"], 1),
                   "events_per_s": round(data["events"] / verify["seconds"]),
                   "peak_rss_mib": verify["peak_rss_mib"], "clean": clean,
                   "exit_status": verify["exit_status"],
                   "summary": verify["output"].splitlines()[-1] if verify["output"] else "",
                   "profiled": bool(args.profile),
                   "load_average": load,
                   "what": "python -m cli verify in its own process, start-up included"},
        "baselines": base,
        "ratio_verify_to": {
            "events_raw_read": ratio(base["events_raw_read"]["seconds"]),
            "events_and_log_raw_read": ratio(base["events_raw_read"]["seconds"]
                                             + base["log_raw_read"]["seconds"]),
            "sha256_payloads": ratio(base["sha256_payloads"]["seconds"]),
        },
        "bench_process_peak_rss_mib": bench_rss,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
    }
    # A reused store keeps the filling figures of the run that filled it.
    out = merge_results("verify_log", result,
                        keep_from_previous=("generation", "projection", "checkpoint")
                        if reuse else ())

    print(verify["output"])
    rows = [("events", f"{data['events']:,} ({data['dossiers']:,} dossiers)")]
    for key, label in (("generation", "generate + save"), ("projection", "transparency log")):
        if key in result:
            rows.append((label, f"{result[key]['seconds']} s "
                                f"({result[key]['events_per_s']:,} events/s)"))
    if "checkpoint" in result:
        rows.append(("sign checkpoint", f"{result['checkpoint']['seconds']} s"))
    v = result["verify"]
    rows += [
        ("hoso verify", f"{v['seconds']} s ({v['events_per_s']:,} events/s), peak RSS "
                        f"{v['peak_rss_mib']} MiB, {'clean' if clean else 'NOT CLEAN'}"),
        ("load average", f"{load['1_min_before_verify']} before verify, "
                         f"{load['1_min_after_verify']} after (2 cores)"),
        ("raw read of events", f"{base['events_raw_read']['seconds']} s "
                               f"({base['events_raw_read']['payload_bytes'] / 2**20:.0f} MiB) "
                               f"→ verify ×{result['ratio_verify_to']['events_raw_read']}"),
        ("raw read of log", f"{base['log_raw_read']['seconds']} s → verify "
                            f"×{result['ratio_verify_to']['events_and_log_raw_read']} "
                            "of events + log"),
        ("SHA-256 of payloads", f"{base['sha256_payloads']['seconds']} s → verify "
                                f"×{result['ratio_verify_to']['sha256_payloads']}"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(f"written to {out}")
    if not clean:
        sys.exit(1)


if __name__ == "__main__":
    main()
