"""The inspector's desk (issue 24) over a year of synthetic dossier events, against same-run
baselines.

    make bench            # over the rebuild benchmark's store (--schema hoso_bench_rebuild --reuse)
    .venv/bin/python -m bench.desk_pages --events 1000000      # a store of its own
    .venv/bin/python -m bench.desk_pages --events 200000 --repeat 2   # a smaller run

Alone, it fills a fresh PostgreSQL schema the way ``bench.analytics_pages`` does (the bulk
demo's synthetic histories over a year, projected straight into the review read model). Then
it opens a case on the first file of the "stuck" flag and one on the first officer of the
"off-hours" flag through the pages (as an inspector would), and times, in-process through the
ASGI app, every page of the desk over the last 90 days and over the whole year:

- the summary ``/red-flags`` — computed afresh (the caches emptied: both periods' flags
  computed, what the first visit for a period after a start waits for) and as served again
  (later visits: once the read model moves, the last result is served while the next is
  computed in the background, ``web.red_flags.DeskCache``);
- a flag's files ``/red-flags/stuck`` (first page, and filtered by a procedure) and its CSV,
  over the year, served from the same shared computation;
- the case list, its CSV, a case's page and its printable report.

Baselines of the same run: ``SELECT count(*) FROM review_step`` through psycopg and the bare
``/healthz`` route through the same client. The target (issue 24) is every page under 1 s.
Writes the figures under ``desk_pages`` in bench/results-<date>.json.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from psycopg import sql
from starlette.testclient import TestClient

from bench.analytics_pages import fill
from bench.common import machine, merge_results
from bench.queue_page import summary, timed
from domain.application import HosoApplication
from domain.working_days import HCMC
from projections.migrate import migrate
from projections.runners import ReadModels
from projections.store import Store
from web.accounts import open_accounts
from web.app import create_app

SCHEMA = "hoso_bench_desk"
TARGET_MS = 1000.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="timings of pages computed afresh")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--reuse", action="store_true",
                        help="time the pages over the schema the last run filled")
    parser.add_argument("--schema", default=SCHEMA)
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
    if not args.reuse:
        fill(store, app, args.events, args.threads)

    def table(name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))

    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        counts = {}
        for name in ("review_event", "review_step", "review_dossier"):
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(table(name)))
            counts[name] = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
                table(name))).fetchone()[0]  # type: ignore[index]
        count_query = sql.SQL("SELECT count(*) FROM {}").format(table("review_step"))
        baseline_sql = summary(timed(lambda: conn.execute(count_query).fetchone(), 20))

    accounts = open_accounts(store, hasher=PasswordHasher.from_parameters(CHEAPEST))
    accounts.set_password("thanhtra", "bench-password")
    today = datetime.now(HCMC).date()
    year = f"from={today - timedelta(days=365)}&to={today}"
    models = ReadModels(store, app)  # applies the cases opened below (the app follows nothing)
    figures: dict[str, Any] = {}
    with TestClient(create_app(store, app, accounts, follow=False)) as client:
        signed_in = client.post("/signin", data={"username": "thanhtra",
                                                 "password": "bench-password"})
        token = re.search(r'"X-CSRF-Token": "([A-Za-z0-9_-]+)"', signed_in.text)
        assert token, "signed in"
        client.headers["X-CSRF-Token"] = token.group(1)
        state: Any = client.app.state  # type: ignore[attr-defined]

        def afresh(path: str) -> Callable[[], None]:
            def get() -> None:
                for cache in ("analytics_cache", "desk_cache"):
                    if hasattr(state, cache):
                        delattr(state, cache)
                response = client.get(path)
                assert response.status_code == 200, response.text[:500]
            return get

        def again(path: str) -> Callable[[], None]:
            def get() -> None:
                response = client.get(path)
                assert response.status_code == 200, (path, response.text[:500])
            return get

        figures["summary_90_days_afresh"] = summary(timed(afresh("/red-flags"), args.repeat))
        figures["summary_90_days_cached"] = summary(timed(again("/red-flags"), 20))
        figures["summary_year_afresh"] = summary(timed(afresh(f"/red-flags?{year}"),
                                                       args.repeat))
        figures["summary_year_cached"] = summary(timed(again(f"/red-flags?{year}"), 20))
        stuck = client.get(f"/red-flags/stuck?{year}").text
        procedure = re.search(r'name="procedure">.*?<option value="([^"]+)"', stuck, re.S)
        figures["flag_files_year"] = summary(timed(again(f"/red-flags/stuck?{year}"), 20))
        figures["flag_files_year_page_2"] = summary(timed(
            again(f"/red-flags/stuck?{year}&page=2"), 20))
        if procedure:
            figures["flag_files_year_one_procedure"] = summary(timed(
                again(f"/red-flags/stuck?{year}&procedure={procedure.group(1)}"), 20))
        figures["flag_csv_year"] = summary(timed(again(f"/red-flags/stuck.csv?{year}"), 5))

        # Cases, opened through the pages on what the flags name.
        opened = []
        for flag, subject in (("stuck", "dossier"), ("off_hours", "officer")):
            page = client.get(f"/red-flags/{flag}?{year}").text
            found = re.search(rf'name="subject" value="{subject}"><input type="hidden" '
                              r'name="subject_id" value="([^"]+)"', page)
            if found is None:
                continue
            response = client.post(f"/red-flags/{flag}/cases?{year}",
                                   data={"subject": subject, "subject_id": found.group(1)},
                                   follow_redirects=False)
            assert response.status_code == 303, response.text[:500]
            opened.append(response.headers["location"])
        models.catch_up()
        figures["cases_opened"] = len(opened)
        figures["case_list"] = summary(timed(again("/red-flags/cases"), 20))
        figures["case_list_csv"] = summary(timed(again("/red-flags/cases.csv"), 20))
        for n, path in enumerate(opened):
            figures[f"case_page_{n + 1}"] = summary(timed(again(path), 20))
            figures[f"case_report_{n + 1}"] = summary(timed(again(f"{path}/report"), 5))
        baseline_route = summary(timed(lambda: client.get("/healthz"), 200))
    models.close()

    timed_figures = {k: v for k, v in figures.items() if isinstance(v, dict)}
    headline = [{
        "what": f"{name.replace('_', ' ')} (median), {counts['review_event']:,} events",
        "figure": v["median_ms"], "unit": "ms",
        "baseline": baseline_sql["median_ms"], "baseline_what": "count(*) of review_step",
        "ratio": round(v["median_ms"] / baseline_sql["median_ms"], 1),
        "target": "< 1000 ms", "met": v["median_ms"] < TARGET_MS,
    } for name, v in timed_figures.items()]
    result = {
        "benchmark": "the inspector's desk over synthetic dossier events (PostgreSQL)",
        "events": counts["review_event"], "rows": counts, "figures": figures,
        "baseline_count_review_step": baseline_sql, "baseline_bare_route": baseline_route,
        "headline": headline, "machine": machine(),
    }
    for h in headline:
        print(f"{h['what']}: {h['figure']} ms (target met: {h['met']})")
    print(f"written to {merge_results('desk_pages', result)}")
    app.close()
    accounts.close()


if __name__ == "__main__":
    main()
