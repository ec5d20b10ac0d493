"""The "my unit" queue page with many open dossiers, against the plain indexed SELECT.

    make bench            # or: .venv/bin/python -m bench.queue_page --dossiers 100000

Fills a fresh PostgreSQL schema with open dossiers (received through the aggregate and saved
in batches, then projected by the real read models), then times the page through the ASGI
app and, as the same-run baseline, the SELECT that page needs, straight through psycopg.
Prints the figures and the query plan, and writes them to bench/results-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import psycopg
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from psycopg import sql
from starlette.testclient import TestClient
from tqdm import tqdm

from domain.application import HosoApplication
from domain.dossier import Actor, Applicant, Channel, Dossier
from domain.working_days import HCMC
from projections.migrate import migrate
from projections.runners import ReadModels
from projections.store import Store
from web.accounts import open_accounts
from web.app import create_app

QUERY = ("SELECT dossier_id, version, code, procedure_code, stage, holder_unit, holder_officer, "
         "pending_from_unit, arrived_at, step_started_at, step_due_at, due_date, received_at, "
         "extensions, result_ready_at FROM {schema}.desk_queue "
         "WHERE holder_unit = %s AND pending_from_unit IS NULL "
         "ORDER BY due_date, received_at, dossier_id LIMIT 51")


def fill(app: HosoApplication, dossiers: int) -> None:
    """Open dossiers received over the last 60 days at the city's one-stop centre."""
    d = app.directory
    clerk = Actor.of(d.member("tiepnhan"))
    unit = d.unit("TTHCC")
    procedures = [p for p in d.procedures.values() if p.reception_unit == "TTHCC"]
    rng = random.Random(7)
    now = datetime.now(UTC)
    numbers: dict[date, int] = {}
    batch: list[Dossier] = []
    for _ in tqdm(range(dossiers), desc="dossiers", unit="dossier"):
        when = now - timedelta(days=rng.uniform(0, 60))
        day = when.astimezone(HCMC).date()  # codes number per local day
        numbers[day] = numbers.get(day, 0) + 1
        batch.append(Dossier.receive(
            procedure=rng.choice(procedures),
            applicant=Applicant("Nguyễn Văn A", f"09{rng.randint(10**7, 10**8 - 1)}", "TP.HCM"),
            channel=Channel.COUNTER, documents=["Tờ khai"], actor=clerk, receiving_unit=unit,
            occurred_at=when, recorded_at=now, sequence_number=numbers[day],
            calendar=app.calendar, idempotency_key=uuid4().hex,
        ))
        if len(batch) == 1000:
            app.save(*batch)
            batch.clear()
    if batch:
        app.save(*batch)


def timed(fn: object, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--url", default=os.environ.get(
        "HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()

    schema = "hoso_bench_queue"
    store = Store.from_url(f"{args.url}?schema={schema}&pool_size=2")
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    migrate(store)
    app = HosoApplication(env=store.eventsourcing_env())
    fill(app, args.dossiers)
    models = ReadModels(store, app)
    started = time.perf_counter()
    with tqdm(desc="projecting", unit="event") as bar:
        models.catch_up(progress=bar.update)
    projected_s = time.perf_counter() - started
    models.close()

    accounts = open_accounts(store, hasher=PasswordHasher.from_parameters(CHEAPEST))
    accounts.set_password("tiepnhan", "bench-password")
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("ANALYZE {}.desk_queue").format(sql.Identifier(schema)))
        query = sql.SQL(QUERY).format(schema=sql.Identifier(schema))
        plan = "\n".join(r[0] for r in conn.execute(
            sql.SQL("EXPLAIN ANALYZE ") + query, ("TTHCC",)).fetchall())
        baseline = summary(timed(lambda: conn.execute(query, ("TTHCC",)).fetchall(),
                                 args.repeat))
        open_rows = conn.execute(sql.SQL("SELECT count(*) FROM {}.desk_queue").format(
            sql.Identifier(schema))).fetchone()[0]  # type: ignore[index]

    with TestClient(create_app(store, app, accounts, follow=False)) as client:
        client.post("/signin", data={"username": "tiepnhan", "password": "bench-password"})
        page = client.get("/queue?scope=unit")
        assert page.status_code == 200 and page.text.count("<tr") >= 50
        page_times = summary(timed(lambda: client.get("/queue?scope=unit"), args.repeat))
    result = {
        "benchmark": "my unit queue page",
        "open_dossiers": open_rows,
        "figure": page_times,
        "baseline": {"name": "indexed SELECT of the same rows (psycopg)", **baseline},
        "ratio_median": round(page_times["median_ms"] / baseline["median_ms"], 1),
        "projection_events_per_s": round(args.dossiers * 3 / projected_s),
        "uses_index": "Index Scan" in plan,
        "plan": plan,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
    }
    print(json.dumps({k: v for k, v in result.items() if k != "plan"}, indent=2))
    print(plan)
    out = Path(__file__).parent / f"results-{date.today().isoformat()}.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    results["queue_page"] = result
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    app.close()
    accounts.close()


if __name__ == "__main__":
    main()
