"""The analytics pages over a million dossier events, against same-run baselines.

    make bench            # or: .venv/bin/python -m bench.analytics_pages --events 1000000

Fills a fresh PostgreSQL schema with a year of dossiers. The events are synthetic — made by the
``Dossier`` aggregate's own commands (so every rule and computed value is the real one), at
made-up times, by the seed staff — but they are not saved to the event store: each goes
straight through ``ReviewProjection.apply``, the code that follows the log in production,
with made-up tracking positions, in batches. Then it times, in-process through the ASGI app:

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
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import Tracking
from psycopg import sql
from starlette.testclient import TestClient
from tqdm import tqdm

from bench.queue_page import summary, timed
from domain.application import HosoApplication
from domain.dossier import Actor, Applicant, Channel, DispatchMethod, Dossier
from domain.organisation import Directory, Procedure, Role
from domain.signing import UnlockedKey, key_id_of
from domain.working_days import HCMC, WorkingCalendar
from projections.migrate import migrate
from projections.review import ReviewProjection
from projections.runners import ReadModels
from projections.store import Store
from web.accounts import open_accounts
from web.app import create_app

SCHEMA = "hoso_bench_analytics"
DAYS = 365
_DESK_ROLES = frozenset({Role.RECEPTION, Role.SPECIALIST, Role.SIGNING_OFFICER})


class Synthesiser:
    """Dossiers of a year at the city's counters, walked by the seed staff through the
    aggregate's commands: most the usual way, some with supplement requests (a few twice),
    extensions, refusals and withdrawals; the newest still open."""

    def __init__(self, directory: Directory, calendar: WorkingCalendar, now: datetime,
                 seed: int = 2026) -> None:
        self.d, self.calendar, self.now = directory, calendar, now
        self.rng = random.Random(seed)
        self.procedures = list(directory.procedures.values())
        self.numbers: dict[tuple[str, date], int] = {}
        self.keys: dict[str, UnlockedKey] = {}

    def _actor(self, unit: str) -> Actor:
        desk = [s for s in self.d.members_of(unit) if s.roles & _DESK_ROLES]
        return Actor.of(self.rng.choice(desk))

    def _key(self, signer: Actor) -> UnlockedKey:
        """One signing key per officer for the whole run (unregistered: the pages measured
        here do not check signatures)."""
        if signer.user_id not in self.keys:
            private = Ed25519PrivateKey.generate()
            public = private.public_key().public_bytes_raw()
            self.keys[signer.user_id] = UnlockedKey(key_id_of(signer.user_id, public), private)
        return self.keys[signer.user_id]

    def _office_time(self, day: date) -> datetime:
        while not self.calendar.is_working_day(day):
            day += timedelta(days=1)
        minutes = self.rng.randint(7 * 60 + 30, 16 * 60 + 50)
        return datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=HCMC)

    def _later(self, when: datetime, office_hours: float) -> datetime:
        return self.calendar.add_working_hours(when, office_hours)

    def dossier(self) -> list[Dossier.Event]:
        rng, d = self.rng, self.d
        procedure: Procedure = rng.choice(self.procedures)
        reception, specialist, leader = procedure.route_units[:3]
        received = self._office_time(
            (self.now - timedelta(days=rng.uniform(0, DAYS))).astimezone(HCMC).date())
        if received > self.now:
            received = self.now - timedelta(hours=1)
        unit = d.unit(reception)
        key = (unit.agency_code, received.date())
        self.numbers[key] = self.numbers.get(key, 0) + 1
        clerk = self._actor(reception)
        dossier = Dossier.receive(
            procedure=procedure,
            applicant=Applicant("Nguyễn Văn A", f"09{rng.randint(10**7, 10**8 - 1)}", "TP.HCM"),
            channel=Channel.COUNTER, documents=["Tờ khai"], actor=clerk, receiving_unit=unit,
            occurred_at=received, recorded_at=received, sequence_number=self.numbers[key],
            calendar=self.calendar, idempotency_key=uuid4().hex)
        when = received
        # Each desk's pace: usually well within its allotment, a slow one now and then.
        pace = rng.choice((0.3, 0.5, 0.8, 1.0, 1.5)) * procedure.processing_days * 8 / 4

        def step(hours: float) -> datetime | None:
            nonlocal when
            when = self._later(when, max(0.1, rng.expovariate(1 / hours)))
            return when if when < self.now else None

        def hand_over(to: str, sender: Actor) -> Actor | None:
            if (t := step(0.5)) is None:
                return None
            dossier.transfer(to_unit=d.unit(to), to_officer=None, note="Trình", actor=sender,
                             occurred_at=t, recorded_at=t)
            receiver = self._actor(to)
            if (t := step(1.0)) is None:
                return None
            dossier.accept_transfer(actor=receiver, occurred_at=t, recorded_at=t,
                                    calendar=self.calendar)
            return receiver

        def walk() -> None:
            roll = rng.random()
            officer = hand_over(specialist, clerk)
            if officer is None:
                return
            if roll < 0.01:
                if (t := step(pace)) is not None:
                    dossier.withdraw(reason="Công dân xin rút", actor=clerk, occurred_at=t,
                                     recorded_at=t)
                return
            requests = 2 if roll < 0.03 else 1 if roll < 0.13 else 0
            for n in range(requests):
                if (t := step(pace / 2)) is None:
                    return
                dossier.request_supplement(
                    missing_items=["Bản sao có chứng thực"], reason="Bản sao chưa chứng thực",
                    justification="Bản bổ sung bị mờ" if n else "", actor=officer,
                    occurred_at=t, recorded_at=t)
                if (t := step(16)) is None:
                    return
                dossier.provide_supplement(documents=["Bản sao có chứng thực"], actor=clerk,
                                           occurred_at=t, recorded_at=t, calendar=self.calendar)
            if 0.13 <= roll < 0.16 and (t := step(pace / 2)) is not None:
                due_end = datetime.combine(dossier.due_date, datetime.min.time(), tzinfo=HCMC)
                t = min(t, due_end + timedelta(hours=16))
                if t >= dossier.last_occurred_at:
                    dossier.extend(new_due_date=self.calendar.add_working_days(
                        dossier.due_date, 5), reason="Cần xác minh", apology="Xin lỗi",
                        actor=officer, occurred_at=t, recorded_at=t, calendar=self.calendar)
            if (t := step(pace)) is None:
                return
            if roll > 0.97:
                dossier.reject(reasons="Không đủ điều kiện", actor=officer, occurred_at=t,
                               recorded_at=t)
                holder = officer
            else:
                dossier.transfer(to_unit=d.unit(leader), to_officer=None, note="Trình ký",
                                 actor=officer, occurred_at=t, recorded_at=t)
                holder = self._actor(leader)
                if (t := step(1.0)) is None:
                    return
                dossier.accept_transfer(actor=holder, occurred_at=t, recorded_at=t,
                                        calendar=self.calendar)
                if (t := step(pace / 3)) is None:
                    return
                dossier.sign(decision_number=f"{rng.randint(1, 9999)}/QĐ",
                             decision_title=procedure.name_vi, unlock_key=lambda: self._key(holder),
                             actor=holder, occurred_at=t, recorded_at=t)
            back = hand_over(reception, holder)
            if back is None or (t := step(2)) is None:
                return
            dossier.dispatch(method=DispatchMethod.COUNTER_PICKUP, postal_tracking_number=None,
                             post_office=d.post_office(), actor=back, occurred_at=t,
                             recorded_at=t)
            if (t := step(8)) is not None:
                dossier.deliver(recipient_name="Nguyễn Văn A", actor=back, occurred_at=t,
                                recorded_at=t)

        walk()
        return list(dossier.collect_events())  # type: ignore[arg-type]

    def batches(self, events: int, size: int = 20_000) -> Iterator[list[Dossier.Event]]:
        made, batch = 0, []
        while made < events:
            new = self.dossier()
            batch.extend(new)
            made += len(new)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch


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
    parser.add_argument("--url", default=os.environ.get(
        "HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()

    store = Store.from_url(f"{args.url}?schema={SCHEMA}&pool_size={args.threads + 1}")
    if not args.reuse:
        with psycopg.connect(store.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(SCHEMA)))
        migrate(store)
    app = HosoApplication(env=store.eventsourcing_env())
    events_per_s = 0.0 if args.reuse else fill(store, app, args.events, args.threads)[1]

    def table(name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(name))

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
