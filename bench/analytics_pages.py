"""The analytics pages over a million dossier events, against same-run baselines.

    make bench            # over the rebuild benchmark's store (--schema hoso_bench_rebuild --reuse)
    .venv/bin/python -m bench.analytics_pages --events 1000000     # a store of its own

``make bench`` runs it over the million events the rebuild benchmark saved (the bulk demo: a
year of realistic histories), whose review rows that rebuild has just written. Alone, it
fills a fresh PostgreSQL schema with a year of dossiers. The events are synthetic — made by the
``Dossier`` aggregate's own commands (``domain.bulk_demo.Synthesiser``; so every rule and
computed value is the real one), at made-up times, by the seed staff — but they are not saved
to the event store: each goes straight through ``ReviewProjection.apply``, the code that
follows the log in production, with made-up tracking positions, in batches. Then it times,
in-process through the ASGI app:

- ``/analytics`` (the default last 90 days, and a whole year), each computed afresh (cache
  emptied) and as served again before the read model moves (cached);
- ``/stats`` (public), afresh and cached;
- ``/red-flags`` (the last 90 days, and a whole year), computed on every request;

against two baselines of the same run: ``SELECT count(*) FROM review_step`` through psycopg,
and the bare ``/healthz`` route through the same client. Prints the figures and writes them
to bench/results-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from eventsourcing.persistence import Tracking
from psycopg import sql
from starlette.testclient import TestClient
from tqdm import tqdm

from bench.queue_page import summary, timed
from domain.application import HosoApplication
from domain.bulk_demo import Synthesiser
from domain.working_days import HCMC
from projections.migrate import migrate
from projections.review import ReviewProjection
from projections.runners import ReadModels
from projections.store import Store
from web.accounts import open_accounts
from web.app import create_app

SCHEMA = "hoso_bench_analytics"
DAYS = 365
def fill(store: Store, app: HosoApplication, events: int, threads: int) -> tuple[int, float]:
    """Project about ``events`` synthetic events; how many, and the events per second.

    Several threads, each with its own dossiers, transactions and tracking name (one tracking
    row per name: threads sharing one would wait on its row lock, one transaction at a time).
    """
    models = ReadModels(store, app)
    view = models.review
    now = datetime.now(UTC)
    applied = [0] * threads
    bar = tqdm(total=events, desc="events", unit="event")

    def work(n: int) -> None:
        projection = ReviewProjection(view=view)
        synthesiser = Synthesiser(app.directory, app.calendar, now, seed=2026 + n)
        for batch in synthesiser.batches(events // threads, size=500):
            # Made first, applied after: a transaction left idle too long is ended (5 s).
            with view.batch():
                for event in batch:
                    applied[n] += 1
                    projection.apply(event, Tracking(f"{app.name}-bench-{n}", applied[n]))
            bar.update(len(batch))

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    seconds = time.perf_counter() - started
    bar.close()
    models.close()
    return sum(applied), sum(applied) / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="timings of pages computed afresh")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--reuse", action="store_true",
                        help="time the pages over the schema the last run filled")
    parser.add_argument("--schema", default=SCHEMA,
                        help="the schema (with --reuse: e.g. the rebuild benchmark's, whose "
                             "review rows the rebuild wrote)")
    parser.add_argument("--url", default=os.environ.get(
        "HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()

    schema = args.schema
    store = Store.from_url(f"{args.url}?schema={schema}&pool_size={args.threads + 1}")
    if not args.reuse:
        with psycopg.connect(store.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(schema)))
        migrate(store)
    app = HosoApplication(env=store.eventsourcing_env())
    events_per_s = 0.0 if args.reuse else fill(store, app, args.events, args.threads)[1]

    def table(name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))

    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        counts = {}
        for name in ("review_event", "review_step", "review_pause", "review_dossier"):
            # What autovacuum does in time: the projection's updates leave dead row versions.
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(table(name)))
            counts[name] = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
                table(name))).fetchone()[0]  # type: ignore[index]
        count_query = sql.SQL("SELECT count(*) FROM {}").format(table("review_step"))
        baseline_sql = summary(timed(lambda: conn.execute(count_query).fetchone(), 20))

    accounts = open_accounts(store, hasher=PasswordHasher.from_parameters(CHEAPEST))
    accounts.set_password("thanhtra", "bench-password")
    today = datetime.now(HCMC).date()
    year = f"/analytics?from={today - timedelta(days=DAYS)}&to={today}"
    with TestClient(create_app(store, app, accounts, follow=False)) as client:
        client.post("/signin", data={"username": "thanhtra", "password": "bench-password"})
        state: Any = client.app.state  # type: ignore[attr-defined]

        def afresh(path: str) -> Callable[[], None]:
            def get() -> None:
                if hasattr(state, "analytics_cache"):
                    del state.analytics_cache
                response = client.get(path)
                assert response.status_code == 200, response.text[:500]
            return get

        figures: dict[str, Any] = {}
        for name, path in (("analytics_90_days", "/analytics"), ("analytics_year", year),
                           ("stats", "/stats")):
            figures[f"{name}_afresh"] = summary(timed(afresh(path), args.repeat))
            figures[f"{name}_cached"] = summary(timed(lambda p=path: client.get(p), 50))  # type: ignore[misc]
            figures[f"{name}_bytes"] = len(client.get(path).content)
        # Red flags are computed on every request (no cache): one figure.
        for name, path in (("red_flags_90_days", "/red-flags"),
                           ("red_flags_year", year.replace("/analytics", "/red-flags"))):
            figures[f"{name}_afresh"] = summary(timed(afresh(path), args.repeat))
        baseline_route = summary(timed(lambda: client.get("/healthz"), 200))

    result = {
        "benchmark": "analytics pages over synthetic dossier events (PostgreSQL)",
        "events": counts["review_event"],
        "rows": counts,
        "projection_events_per_s": round(events_per_s),
        "figures": figures,
        "baseline_count_review_step": baseline_sql,
        "baseline_bare_route": baseline_route,
        "ratio_to_count": {k: round(v["median_ms"] / baseline_sql["median_ms"], 1)
                           for k, v in figures.items() if isinstance(v, dict)},
        "ratio_to_bare_route": {k: round(v["median_ms"] / baseline_route["median_ms"], 1)
                                for k, v in figures.items() if isinstance(v, dict)},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / f"results-{date.today().isoformat()}.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    results["analytics_pages"] = result
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    app.close()
    accounts.close()


if __name__ == "__main__":
    main()
