"""The citizen's status page ``/t/<token>`` under load, against a bare route on the same server.

    make bench            # or: .venv/bin/python -m bench.public_page_load --dossiers 2000

Fills a fresh PostgreSQL schema through ``HosoApplication``: ``--dossiers`` received over the
last 60 days (open, as most looked-up dossiers are), and ``--signed`` of them walked to a
signed decision and back to the counter (their page checks the decision's signature against
the event store and the key register on every view); brings the read models up to date.
Then starts real uvicorn processes on 127.0.0.1, all with the same settings (1 worker,
httptools, uvloop, no access log), one after the other:

- the baseline: a bare Starlette app (``bench.bare_app:bare_app``) with one route returning a
  small constant page (``/``, async), and the same page from a ``def`` endpoint (``/sync``,
  run in the thread pool like hoso's pages);
- the ``def`` route again behind hoso's middleware stack (sessions, a BaseHTTPMiddleware);
- hoso itself (``web.app:create_app``, as ``hoso serve`` runs it, following the log), its
  status page for random open dossiers, then for random signed ones.

Each is loaded by ``wrk`` (``bench/wrk.py``: ``--connections`` keep-alive connections, ``--seconds``
after a warm-up) for requests/s and p50/p99 latency; the server's CPU per request and its
peak RSS (VmHWM) are read from /proc. Then the endpoint is called in this process (no server)
to split its time — the read-model lookup, the directory, the signature check, the template —
and count its statements. ``--reuse`` serves what the last run filled. ``--profile`` records
the hoso server with py-spy (if installed) during the signed run. Merges its results into
bench/results-<date>.json (key ``public_page_load``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from starlette.requests import Request
from tqdm import tqdm

from bench.common import (
    ROOT,
    bench_url,
    fresh_schema,
    machine,
    merge_results,
    print_table,
    proc_cpu_seconds,
    proc_status_mib,
    processes_cpu_seconds,
    ratio,
)
from bench.wrk import run_wrk
from domain.application import HosoApplication
from projections.key_vault import open_key_vault
from projections.migrate import migrate
from projections.public_status import PublicStatus
from projections.runners import ReadModels
from projections.store import Store
from web import public
from web.app import create_app
from web.services import Services
from web.templating import render

SCHEMA = "hoso_bench_public"
PROCEDURE = "2.000488"  # TTHCC → STP-HCTP → STP-BGD → TTHCC
PASSPHRASE = "mật khẩu ký thử nghiệm cho bench"
TARGET = 0.5  # the issue: at least half the bare route's requests/s
SERVER_ARGS = ["--host", "127.0.0.1", "--workers", "1", "--http", "httptools",
               "--loop", "uvloop", "--no-access-log", "--log-level", "warning"]


def fill(app: HosoApplication, dossiers: int, signed: int) -> tuple[list[str], list[str]]:
    """Tokens of open dossiers, and of dossiers with a signed decision."""
    rng = random.Random(2026)
    now = app.clock()
    open_ids: list[UUID] = []
    for _ in tqdm(range(dossiers), desc="dossiers", unit="dossier"):
        # Spread over 60 days: a day's code sequence stays the size of a real day's.
        when = now - timedelta(days=rng.uniform(1, 60))
        open_ids.append(app.receive(
            actor_id="tiepnhan", procedure_code=PROCEDURE, documents=["Tờ khai", "Bản chụp CCCD"],
            applicant_name="Trần Thị Bích Ngọc", applicant_phone="0912345678",
            applicant_address="12 Nguyễn Huệ, phường Sài Gòn, TP.HCM", occurred_at=when,
        ).dossier_id)
    app.register_signing_key(officer_id="gd.stp", passphrase=PASSPHRASE)
    signed_ids = open_ids[:signed]
    for d in tqdm(signed_ids, desc="signed", unit="dossier"):
        for sender, unit, receiver in (("tiepnhan", "STP-HCTP", "hctp"),
                                       ("hctp", "STP-BGD", "gd.stp")):
            app.transfer(d, expected_version=None, actor_id=sender, to_unit=unit)
            app.accept_transfer(d, expected_version=None, actor_id=receiver)
        app.sign(d, expected_version=None, actor_id="gd.stp", decision_number="15/PLLTP",
                 decision_title="Phiếu lý lịch tư pháp", passphrase=PASSPHRASE)
        app.transfer(d, expected_version=None, actor_id="gd.stp", to_unit="TTHCC")
        app.accept_transfer(d, expected_version=None, actor_id="tiepnhan")
    token = {d: app.dossier(d).tracking_token for d in open_ids}
    return [token[d] for d in open_ids[signed:]], [token[d] for d in signed_ids]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A uvicorn process serving ``target`` (a factory), ready when ``ready_path`` answers."""

    def __init__(self, target: str, env: dict[str, str], ready_path: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", target, "--factory", "--port", str(self.port),
             *SERVER_ARGS], cwd=ROOT, env=os.environ | env)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{target} exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.url + ready_path, timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{target} did not answer {ready_path} within 60 s")
            time.sleep(0.2)

    @property
    def pid(self) -> int:
        return self.process.pid

    def load(self, paths: list[str], connections: int, seconds: float, warmup: float
             ) -> dict[str, Any]:
        """Load it; the load generator's figures with the server's CPU per request."""
        cpu_before = proc_cpu_seconds(self.pid)
        pg_before = processes_cpu_seconds("postgres")
        started = time.perf_counter()
        result = run_wrk(self.url, paths, connections=connections, seconds=seconds,
                         warmup=warmup)
        # The server's CPU over the warm-up and the measured time, per request measured
        # (the warm-up's requests are added at the measured rate).
        elapsed = time.perf_counter() - started
        cpu = proc_cpu_seconds(self.pid) - cpu_before
        pg = processes_cpu_seconds("postgres") - pg_before
        requests = result["requests_per_s"] * elapsed
        result["server_cpu_cores"] = round(cpu / elapsed, 2)
        result["server_cpu_ms_per_request"] = round(cpu * 1000 / requests, 3) if requests \
            else 0.0
        # Every PostgreSQL process on the machine (other clients' work included).
        result["postgres_cpu_cores"] = round(pg / elapsed, 2)
        result["postgres_cpu_ms_per_request"] = round(pg * 1000 / requests, 3) if requests \
            else 0.0
        return result

    def peak_rss_mib(self) -> float:
        return proc_status_mib(self.pid, "VmHWM")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def py_spy(pid: int, seconds: float, path: str) -> subprocess.Popen[bytes] | None:
    """Record the server with py-spy while the caller loads it: the thread holding the GIL
    (``--gil``; without it, this VM's py-spy counts threads waiting on the database too)."""
    binary = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    if not os.path.exists(binary):
        print("py-spy is not installed (pip install py-spy); no profile", file=sys.stderr)
        return None
    return subprocess.Popen([binary, "record", "--pid", str(pid), "--duration",
                             str(int(seconds)), "--rate", "100", "--gil", "--format", "raw",
                             "--output", path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class StatementCounter:
    """Statements sent through psycopg cursors, and explicit transactions (each adds a
    BEGIN and a COMMIT or ROLLBACK round trip), in this process while it is entered."""

    def __init__(self) -> None:
        self.statements = self.transactions = 0

    def __enter__(self) -> StatementCounter:
        execute, transaction = psycopg.Cursor.execute, psycopg.Connection.transaction

        def counted_execute(cursor: Any, *args: Any, **kwargs: Any) -> Any:
            self.statements += 1
            return execute(cursor, *args, **kwargs)

        def counted_transaction(conn: Any, *args: Any, **kwargs: Any) -> Any:
            self.transactions += 1
            return transaction(conn, *args, **kwargs)

        self._saved = (execute, transaction)
        psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign,assignment]
        psycopg.Connection.transaction = counted_transaction  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *_: object) -> None:
        psycopg.Cursor.execute, psycopg.Connection.transaction = self._saved  # type: ignore[method-assign]


def endpoint_breakdown(store: Store, open_tokens: list[str], signed_tokens: list[str],
                       calls: int, profile_path: str | None) -> dict[str, Any]:
    """The status page's own work, called in this process's main thread (no server, no
    middleware, no thread pool): ms per call of each part, for open and signed dossiers.
    What the server spends per request beyond ``endpoint`` is uvicorn, Starlette's
    middleware stack and the hop to the thread pool."""
    vault = open_key_vault(store)
    app = HosoApplication(env=store.eventsourcing_env(), key_vault=vault)
    web = create_app(store, app, follow=False)
    services: Services = web.state.services
    rng = random.Random(3)

    def request(token: str) -> Request:
        return Request({"type": "http", "method": "GET", "path": f"/t/{token}",
                        "path_params": {"token": token}, "app": web, "router": web.router,
                        "headers": [(b"host", b"127.0.0.1")], "query_string": b"",
                        "scheme": "http", "server": ("127.0.0.1", 80), "root_path": ""})

    def per_call(tokens: list[str], part: Callable[[str], object], clock: Callable[[], float]
                 = time.perf_counter) -> float:
        for token in tokens[:20]:  # warm-up: templates compiled, statements prepared
            part(token)
        chosen = [rng.choice(tokens) for _ in range(calls)]
        started = clock()
        for token in chosen:
            part(token)
        return round((clock() - started) * 1000 / calls, 3)

    def find(token: str) -> PublicStatus:
        status = services.read_models.public_status.find(token)
        assert status is not None
        return status

    def parts(tokens: list[str], signed: bool) -> dict[str, float]:
        statuses = {t: find(t) for t in set(tokens[:calls])}
        pages = {t: public._page(s, services, t) for t, s in statuses.items()}
        few = list(statuses)
        with StatementCounter() as counter:
            for token in few[:50]:
                public.status_page(request(token))
        return {
            "statements_per_view": round(counter.statements / len(few[:50]), 1),
            "transactions_per_view": round(counter.transactions / len(few[:50]), 1),
            "endpoint": per_call(tokens, lambda t: public.status_page(request(t))),
            # This process's CPU for the same (its idle pool threads add next to nothing).
            "endpoint_cpu": per_call(tokens, lambda t: public.status_page(request(t)),
                                     time.process_time),
            "find_read_model": per_call(tokens, find),
            # The ETag: a digest of the page's view (built first: "page_model_…" below).
            "page_version": per_call(few, lambda t: public._page_version(
                request(t), services, t, pages[t])),
            "directory": per_call(few, lambda t: services.directory),
            "decision_signatures": per_call(few, lambda t: app.decision_signatures(
                statuses[t].dossier_id)) if signed else 0.0,
            "page_model_with_directory_and_signatures": per_call(
                few, lambda t: public._page(statuses[t], services, t)),
            "render_template": per_call(few, lambda t: render(
                request(t), "public/status.html", {"page": pages[t]})),
        }

    out = {"open": parts(open_tokens, False), "signed": parts(signed_tokens, True)}
    if profile_path:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            public.status_page(request(rng.choice(signed_tokens)))
        profiler.disable()
        profiler.dump_stats(profile_path + ".endpoint.prof")
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("tottime").print_stats(20)
        print(text.getvalue())
    services.read_models.close()
    services.accounts.close()
    app.close()
    vault.close()
    return out


def summarise_py_spy(path: str, top: int = 25) -> dict[str, float]:
    """Share of samples (py-spy --gil: the thread holding the GIL) in which each function is
    on the stack, for the most frequent ones."""
    inclusive: Counter[str] = Counter()
    total = 0
    with open(path) as lines:
        for line in lines:
            stack, _, count = line.rstrip().rpartition(" ")
            if not count.isdigit():
                continue
            total += int(count)
            for frame in {re.sub(r":\d+\)", ")", f) for f in stack.split(";") if f}:
                inclusive[frame] += int(count)
    return {f: round(c / total, 3) for f, c in inclusive.most_common(top)} if total else {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dossiers", type=int, default=2000)
    parser.add_argument("--signed", type=int, default=50)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--calls", type=int, default=300,
                        help="in-process calls of the endpoint and of each of its parts")
    parser.add_argument("--reuse", action="store_true",
                        help="serve the dossiers a previous run filled (tokens kept in a table)")
    parser.add_argument("--profile", metavar="FILE",
                        help="record the hoso server with py-spy during the signed run "
                             "(raw folded stacks)")
    parser.add_argument("--url", default=bench_url())
    args = parser.parse_args()

    database_url = f"{args.url}?schema={SCHEMA}"
    store = Store.from_url(database_url)
    open_tokens, signed_tokens = reuse_tokens(store) if args.reuse else ([], [])
    if not open_tokens:
        fresh_schema(store)
        migrate(store)
        vault = open_key_vault(store)
        app = HosoApplication(env=store.eventsourcing_env(), key_vault=vault)
        open_tokens, signed_tokens = fill(app, args.dossiers, args.signed)
        models = ReadModels(store, app)
        with tqdm(desc="read models", unit="event") as bar:
            models.catch_up(progress=bar.update)
        models.close()
        keep_tokens(store, open_tokens, signed_tokens)
        app.close()
        vault.close()

    # The per-client limit stays on (its check is part of the page's cost) but high: every
    # request of the load comes from one address.
    env = {"HOSO_DATABASE_URL": database_url, "HOSO_PUBLIC_URL": "http://127.0.0.1",
           "HOSO_PUBLIC_RATE_LIMIT": "1000000000/60"}
    figures: dict[str, Any] = {}
    print("bare Starlette route …", flush=True)
    bare = Server("bench.bare_app:bare_app", env, "/")
    try:
        figures["bare_route"] = bare.load(["/"], args.connections, args.seconds, args.warmup)
        figures["bare_route_sync"] = bare.load(["/sync"], args.connections, args.seconds,
                                               args.warmup)
        bare_rss = bare.peak_rss_mib()
    finally:
        bare.stop()
    # What hoso's middleware stack alone adds to the thread-pool route.
    with_mw = Server("bench.bare_app:bare_app_with_hoso_middleware", env, "/")
    try:
        figures["bare_route_sync_hoso_middleware"] = with_mw.load(
            ["/sync"], args.connections, args.seconds, args.warmup)
    finally:
        with_mw.stop()

    print("hoso status pages …", flush=True)
    hoso = Server("web.app:create_app", env, "/healthz")
    try:
        idle_rss = proc_status_mib(hoso.pid, "VmRSS")
        figures["status_page_open"] = hoso.load([f"/t/{t}" for t in open_tokens],
                                                args.connections, args.seconds, args.warmup)
        spy = py_spy(hoso.pid, args.warmup + args.seconds, args.profile) \
            if args.profile else None
        figures["status_page_signed"] = hoso.load([f"/t/{t}" for t in signed_tokens],
                                                  args.connections, args.seconds, args.warmup)
        hoso_rss = hoso.peak_rss_mib()
    finally:
        hoso.stop()
    spied: dict[str, float] | None = None
    if spy is not None and args.profile:
        spy.wait(timeout=60)
        spied = summarise_py_spy(args.profile)
    print("the endpoint in-process …", flush=True)
    parts = endpoint_breakdown(store, open_tokens, signed_tokens, args.calls, args.profile)

    base = figures["bare_route"]
    headline = []
    for key, what in (("status_page_open", "open dossier"),
                      ("status_page_signed", "signed decision, signature checked")):
        f = figures[key]
        value = ratio(f["requests_per_s"], base["requests_per_s"])
        headline.append({
            "what": f"/t/<token> requests/s, {what}", "figure": f["requests_per_s"],
            "unit": "requests/s", "baseline": base["requests_per_s"],
            "baseline_what": "bare Starlette route, same server settings",
            "ratio": value, "target": f">= {TARGET}", "met": value >= TARGET,
            "p50_ms": f["p50_ms"], "p99_ms": f["p99_ms"],
            "server_cpu_ms_per_request": f["server_cpu_ms_per_request"],
            # Throughput ratio if the server's CPU were the only limit (no load generator,
            # PostgreSQL or neighbours sharing the two cores).
            "ratio_of_server_cpu_per_request": ratio(base["server_cpu_ms_per_request"],
                                                     f["server_cpu_ms_per_request"], 3),
        })
    headline.append({"what": "hoso web server peak RSS (VmHWM) after the load",
                     "figure": hoso_rss, "unit": "MiB", "baseline": bare_rss,
                     "baseline_what": "bare Starlette server", "ratio": ratio(hoso_rss, bare_rss),
                     "target": None, "met": None})
    result: dict[str, Any] = {
        "benchmark": "public status page /t/<token> under load vs a bare route (uvicorn, "
                     "1 worker)",
        "figure": {k: figures[k] for k in ("status_page_open", "status_page_signed")},
        "baseline": {"name": "bare Starlette route (async), same server settings",
                     **base},
        "ratio": headline[0]["ratio"],
        "ratio_signed": headline[1]["ratio"],
        "headline": headline,
        "bare_route_sync": figures["bare_route_sync"],
        "bare_route_sync_hoso_middleware": figures["bare_route_sync_hoso_middleware"],
        "server_peak_rss_mib": {"hoso": hoso_rss, "hoso_idle_after_start": idle_rss,
                                "bare": bare_rss},
        "data": {"open_dossiers": len(open_tokens), "signed_dossiers": len(signed_tokens)},
        "settings": {"server": "uvicorn " + " ".join(SERVER_ARGS),
                     "connections": args.connections, "seconds": args.seconds,
                     "warmup": args.warmup,
                     "load_generator": "wrk -t1 (Debian package), keep-alive, paths in turn"},
        "endpoint_in_process_ms": parts,
        "server_profile_py_spy_gil_share": spied,
        "machine": machine(),
    }
    out = merge_results("public_page_load", result)

    def line(f: dict[str, Any]) -> str:
        return (f"{f['requests_per_s']:,.0f} req/s, p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms,"
                f" CPU/req: server {f['server_cpu_ms_per_request']} ms "
                f"({f['server_cpu_cores']} cores), PostgreSQL "
                f"{f['postgres_cpu_ms_per_request']} ms ({f['postgres_cpu_cores']}); "
                f"wrk {f['client_cpu_cores']} cores, "
                f"{f['mean_body_bytes']:,} B")

    rows = [("bare route (async)", line(base)),
            ("bare route (def)", line(figures["bare_route_sync"])),
            ("bare (def) + hoso middleware", line(figures["bare_route_sync_hoso_middleware"])),
            ("/t/<token> open", line(figures["status_page_open"])),
            ("/t/<token> signed", line(figures["status_page_signed"]))]
    for h in headline[:2]:
        rows.append((f"ratio {h['what'].split(', ', 1)[1]}",
                     f"{h['ratio']} (target >= {TARGET}: {'met' if h['met'] else 'MISSED'})"))
    for name, p in parts.items():
        rows.append((f"in-process, {name}", ", ".join(
            f"{k} {v}" + ("" if k.endswith("per_view") else " ms") for k, v in p.items() if v)))
    rows.append(("peak RSS", f"hoso {hoso_rss} MiB (idle after start {idle_rss}), "
                             f"bare {bare_rss} MiB"))
    bad = {k: f["non_2xx_3xx"] for k, f in figures.items() if f.get("non_2xx_3xx")}
    if bad:
        rows.append(("NOT ALL 200", str(bad)))
    print_table(rows)
    print(f"written to {out}")


TOKENS_TABLE = "bench_tokens"


def keep_tokens(store: Store, open_tokens: list[str], signed_tokens: list[str]) -> None:
    table = sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(TOKENS_TABLE))
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (token text PRIMARY KEY, signed boolean)").format(
            table))
        with conn.cursor() as cur:
            cur.executemany(sql.SQL("INSERT INTO {} VALUES (%s, %s)").format(table),
                            [(t, False) for t in open_tokens]
                            + [(t, True) for t in signed_tokens])


def reuse_tokens(store: Store) -> tuple[list[str], list[str]]:
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
                            "AND table_name = %s", (SCHEMA, TOKENS_TABLE)).fetchone():
            return [], []
        rows = conn.execute(sql.SQL("SELECT token, signed FROM {}.{} ORDER BY token").format(
            sql.Identifier(SCHEMA), sql.Identifier(TOKENS_TABLE))).fetchall()
    return [t for t, s in rows if not s], [t for t, s in rows if s]


if __name__ == "__main__":
    main()
