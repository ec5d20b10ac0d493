"""``hoso rebuild`` over a million events, against a baseline of the same run.

    make bench            # or: .venv/bin/python -m bench.rebuild_projections [--reuse]

1. Fills the PostgreSQL schema ``hoso_bench_rebuild`` with the bulk demo
   (``domain.bulk_demo.load_bulk_demo``: the demo's scenarios over a year, code sequences,
   registered signing keys, a few readings), about ``--events`` events, saved hundreds of
   dossiers a transaction. ``--reuse`` keeps the events a previous run saved.
2. Brings the transparency log up to the end of the store (``projections.runners.catch_up``,
   1000 events a transaction, as ``hoso serve`` does). It is append-only and ``hoso rebuild``
   never rebuilds it, so it is reported apart: "log catch-up from empty", measured when the
   schema was filled afresh (with ``--reuse``, the figure of the run that filled it). Then the
   other read models catch up too (5 minutes, not timed), as a running installation has them:
   the rebuild deletes their rows and writes them again. (``--empty-read-models`` skips that,
   as on a new server — and shows a problem: with the statistics of empty tables PostgreSQL
   plans the rebuild's keyed updates as scans, and the rebuild crawls at ~50 events/s.)
3. Times ``hoso rebuild`` as an operator runs it, in its own process
   (``python -m cli rebuild``): every other read model emptied and rebuilt from the whole
   log (VACUUM ANALYZE first, as autovacuum would have done). Wall time (start-up included),
   events per second, and the peak RSS of that process (``wait4``'s rusage: its VmHWM).
4. Baseline, same run, same data: (a) read the same events raw — one streamed SELECT of the
   event table in notification order, every column the mapper needs, plain psycopg, 10,000
   rows a fetch; (b) write the same read-model rows with COPY — the rows the rebuild produced
   (``SELECT *`` of each read-model table afterwards, not timed) COPYed (psycopg
   ``write_row``) into empty copies of those tables (``LIKE … INCLUDING ALL``: the same
   indexes and constraints), one transaction. Baseline = (a) + (b); the ratio is
   baseline / rebuild (1.0 would be as fast as reading and COPYing; the target is ≥ 0.3).

Prints a short table and merges its figures into bench/results-<date>.json (key
``rebuild_projections``). ``--profile FILE`` runs the rebuild under cProfile instead (its time
is then not the figure to quote).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

import psycopg
from psycopg import sql
from tqdm import tqdm

from bench.common import (
    bench_url,
    fresh_schema,
    machine,
    merge_results,
    own_peak_rss_mib,
    print_table,
    ratio,
    results_path,
    run_cli,
    schema_table,
)
from domain.application import HosoApplication
from domain.bulk_demo import load_bulk_demo
from projections.key_vault import open_key_vault
from projections.migrate import migrate
from projections.runners import PROJECTIONS, ReadModels, catch_up
from projections.store import Store
from projections.transparency_log import TransparencyLogProjection

SCHEMA = "hoso_bench_rebuild"
COPY_SCHEMA = "hoso_bench_rebuild_copy"
EVENTS_TABLE = "hoso_events"  # the library's table for the application named "hoso"
# Events per demo dossier, its code number included (measured on the bulk demo).
EVENTS_PER_DOSSIER = 11.3
KEY = "rebuild_projections"


def _count(conn: psycopg.Connection[Any], table: str, schema: str = SCHEMA) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
        schema_table(schema, table))).fetchone()
    return int(row[0]) if row else 0


def _has_events(conn: psycopg.Connection[Any]) -> int:
    exists = conn.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
                          "AND table_name = %s", (SCHEMA, EVENTS_TABLE)).fetchone()
    return _count(conn, EVENTS_TABLE) if exists else 0


def fill(store: Store, events: int) -> dict[str, Any]:
    """The bulk demo, about ``events`` events; its figures."""
    vault = open_key_vault(store)
    app = HosoApplication(env=store.eventsourcing_env(), key_vault=vault)
    dossiers = math.ceil(events / EVENTS_PER_DOSSIER)
    started = time.perf_counter()
    with tqdm(total=dossiers, desc="bulk demo", unit="dossier") as bar:
        load_bulk_demo(app, dossiers=dossiers, progress=bar.update)
    seconds = time.perf_counter() - started
    saved = app.recorder.max_notification_id() or 0
    app.close()
    vault.close()
    return {"dossiers": dossiers, "events": saved, "seconds": round(seconds, 1),
            "events_per_s": round(saved / seconds)}


def catch_up_all(store: Store, fill_read_models: bool) -> dict[str, Any]:
    """Bring the transparency log, and with ``fill_read_models`` every other read model, to
    the end of the store; the log's figures if it started from empty."""
    app = HosoApplication(env=store.eventsourcing_env())
    models = ReadModels(store, app)
    projection = TransparencyLogProjection(view=models.transparency_log)
    from_empty = models.transparency_log.max_tracking_id(app.name) is None
    applied = 0
    started = time.perf_counter()
    with tqdm(desc="transparency log", unit="event") as bar:
        while batch := catch_up(app, projection, limit=1000):
            applied += batch
            bar.update(batch)
    seconds = time.perf_counter() - started
    if fill_read_models:
        with tqdm(desc="other read models", unit="event") as bar:
            models.catch_up(progress=bar.update)
    models.close()
    app.close()
    if not (applied and from_empty):
        return {}
    return {"events": applied, "seconds": round(seconds, 1),
            "events_per_s": round(applied / seconds),
            "what": "the transparency log (append-only, never rebuilt) from empty to the end "
                    "of the store, 1000 events a transaction, in the bench process"}


def run_rebuild(database_url: str, profile: str | None) -> dict[str, Any]:
    """``hoso rebuild`` in a process of its own, as an operator would run it."""
    run = run_cli("rebuild", {"HOSO_DATABASE_URL": database_url}, profile)
    run["applications"] = next((int(line.split(":")[1].split()[0])
                                for line in run["output"].splitlines()
                                if line.startswith("rebuilt from zero:")), 0)
    return run


def read_events_raw(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    query = sql.SQL("SELECT notification_id, originator_id, originator_version, topic, state "
                    "FROM {} ORDER BY notification_id").format(
                        schema_table(SCHEMA, EVENTS_TABLE))
    rows = size = 0
    started = time.perf_counter()
    with conn.transaction(), conn.cursor(name="bench_raw") as cursor:
        cursor.itersize = 10_000
        cursor.execute(query)
        while chunk := cursor.fetchmany(10_000):
            rows += len(chunk)
            size += sum(len(r[-1]) for r in chunk)
    seconds = time.perf_counter() - started
    return {"rows": rows, "payload_bytes": size, "seconds": round(seconds, 2),
            "what": "one streamed SELECT of the event table in notification order (psycopg, "
                    "server-side cursor, 10,000 rows a fetch)"}


def rebuilt_tables() -> list[str]:
    return [table for kind in PROJECTIONS
            for table in kind.views[next(iter(kind.views))].tables]


def copy_rows(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """COPY each read-model table's rows into an empty copy of it; seconds per table."""
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(COPY_SCHEMA)))
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(COPY_SCHEMA)))
    per_table: dict[str, dict[str, Any]] = {}
    try:
        for table in rebuilt_tables():
            source, target = schema_table(SCHEMA, table), schema_table(COPY_SCHEMA, table)
            # Foreign keys are not copied by LIKE; the indexes and checks are.
            conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                target, source))
            rows = conn.execute(sql.SQL("SELECT * FROM {}").format(source)).fetchall()
            started = time.perf_counter()
            with conn.transaction(), conn.cursor() as cursor, cursor.copy(
                    sql.SQL("COPY {} FROM STDIN").format(target)) as copy:
                for row in rows:
                    copy.write_row(row)
            per_table[table] = {"rows": len(rows),
                                "seconds": round(time.perf_counter() - started, 2)}
            del rows
    finally:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            sql.Identifier(COPY_SCHEMA)))
    return {"rows": sum(t["rows"] for t in per_table.values()),
            "seconds": round(sum(t["seconds"] for t in per_table.values()), 2),
            "tables": per_table,
            "what": "the rows the rebuild produced, COPYed (psycopg write_row, text format) "
                    "into empty copies of their tables with the same indexes; one "
                    "transaction per table, commit included"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the events a previous run saved in the bench schema")
    parser.add_argument("--profile", metavar="FILE",
                        help="run the rebuild under cProfile, writing its stats to FILE")
    parser.add_argument("--empty-read-models", dest="full_read_models",
                        action="store_false",
                        help="leave the read models empty before the rebuild (a new server); "
                             "slow: their statistics then plan the keyed updates as scans")
    parser.add_argument("--url", default=bench_url())
    args = parser.parse_args()

    database_url = f"{args.url}?schema={SCHEMA}"
    store = Store.from_url(database_url)
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        reuse = bool(args.reuse and _has_events(conn))
    if args.reuse and not reuse:
        print(f"--reuse: schema {SCHEMA} holds no events; filling it", file=sys.stderr)
    if not reuse:
        fresh_schema(store)
    migrate(store)
    result: dict[str, Any] = {
        "benchmark": "hoso rebuild of every read model from zero (PostgreSQL)"}
    if not reuse:
        result["generation"] = fill(store, args.events)
    if log := catch_up_all(store, args.full_read_models):
        result["log_catch_up_from_empty"] = log

    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        events = _count(conn, EVENTS_TABLE)
        # What autovacuum does in time. The tables are full here: statistics of empty ones
        # would plan the rebuild's keyed UPDATEs as scans of tables that then fill up.
        for table in (*rebuilt_tables(), EVENTS_TABLE):
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(schema_table(SCHEMA, table)))
    print(f"hoso rebuild over {events:,} events ({SCHEMA})", file=sys.stderr)
    rebuild = run_rebuild(database_url, args.profile)
    if rebuild["exit_status"] != 0:
        print(rebuild["output"], file=sys.stderr)
        sys.exit(f"hoso rebuild failed ({rebuild['exit_status']})")
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        rows = {table: _count(conn, table) for table in rebuilt_tables()}
        raw = read_events_raw(conn)
        copied = copy_rows(conn)
    baseline = raw["seconds"] + copied["seconds"]
    result |= {
        "data": {"events": events, "read_model_rows": rows},
        "rebuild": {"seconds": round(rebuild["seconds"], 1),
                    "events_per_s": round(events / rebuild["seconds"]),
                    "applications": rebuild["applications"],
                    "applications_per_s": round(rebuild["applications"] / rebuild["seconds"]),
                    "peak_rss_mib": rebuild["peak_rss_mib"], "profiled": bool(args.profile),
                    "what": "python -m cli rebuild in its own process, start-up "
                            "included; events/s counts the store's events once, "
                            "applications count each event once per read model"},
        "baseline": {"seconds": round(baseline, 2), "events_raw_read": raw,
                     "copy_rows": copied},
        "ratio_baseline_to_rebuild": ratio(baseline, rebuild["seconds"]),
        "target_ratio": 0.3,
        "read_models_before_rebuild": "full" if args.full_read_models else "empty",
        "bench_process_peak_rss_mib": own_peak_rss_mib(),
        "machine": machine(),
    }
    if reuse:  # the filling figures of the run that filled the schema, if it was today's
        path = results_path()
        previous = json.loads(path.read_text()).get(KEY, {}) if path.exists() else {}
        same_data = previous.get("data", {}).get("events") == events
        for key in ("generation", "log_catch_up_from_empty"):
            if key not in result and key in previous and same_data:
                result[key] = previous[key] | {"from_earlier_run": True}
    out = merge_results(KEY, result)

    lines = [("events", f"{events:,}")]
    if "generation" in result:
        g = result["generation"]
        lines.append(("bulk demo (generate + save)",
                      f"{g['seconds']} s ({g['events_per_s']:,} events/s)"
                      + (" [earlier run]" if g.get("from_earlier_run") else "")))
    if "log_catch_up_from_empty" in result:
        g = result["log_catch_up_from_empty"]
        lines.append(("log catch-up from empty",
                      f"{g['seconds']} s ({g['events_per_s']:,} events/s)"
                      + (" [earlier run]" if g.get("from_earlier_run") else "")))
    r = result["rebuild"]
    lines += [
        ("hoso rebuild", f"{r['seconds']} s ({r['events_per_s']:,} events/s, "
                         f"{r['applications']:,} applications), peak RSS "
                         f"{r['peak_rss_mib']} MiB" + (" [profiled]" if args.profile else "")),
        ("raw read of events", f"{raw['seconds']} s"),
        ("COPY of the rows", f"{copied['seconds']} s ({copied['rows']:,} rows)"),
        ("baseline / rebuild", f"{result['ratio_baseline_to_rebuild']} (target ≥ 0.3)"),
    ]
    print_table(lines)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
