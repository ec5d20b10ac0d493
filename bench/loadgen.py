"""A small HTTP/1.1 load generator (no wrk here), and the bare app it is compared against.

    .venv/bin/python -m bench.loadgen http://127.0.0.1:8000/ --connections 32 --seconds 10

``connections`` keep-alive connections over asyncio streams (uvloop when installed), each
sending one GET after another for a fixed time; every response is read whole (Content-Length
or chunked) and timed from the request's first byte to the body's last. Requests that began
in the warm-up are not counted. It reports its own CPU use too: at ~100% of one core it is the
bottleneck, not the server.

``bare_app`` is the same-run baseline of the page benchmarks: a Starlette app with one route
returning a small constant HTML page (``/``, ``async def``), and the same as a plain ``def``
endpoint run in the thread pool like hoso's pages (``/sync``). Serve it with
``uvicorn bench.loadgen:bare_app --factory``; ``bare_app_with_hoso_middleware`` puts hoso's
middleware stack in front of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

BARE_PAGE = ("<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>hoso</title>"
             "</head><body><h1>Tra cứu hồ sơ</h1><p>Hồ sơ đang được giải quyết.</p></body>"
             "</html>")


def bare_app() -> Starlette:
    async def page(request: Request) -> Response:
        return HTMLResponse(BARE_PAGE)

    def sync_page(request: Request) -> Response:
        return HTMLResponse(BARE_PAGE)

    return Starlette(routes=[Route("/", page), Route("/sync", sync_page)])


def bare_app_with_hoso_middleware() -> Starlette:
    """The bare app behind the middleware hoso puts in front of every page (security
    headers, server-side sessions, the anti-forgery check): what that stack costs a request
    that carries no session cookie, as a citizen's does."""
    from starlette.middleware import Middleware

    from projections.store import Store
    from web.csrf import CsrfMiddleware
    from web.security import SecurityHeadersMiddleware
    from web.sessions import ServerSessionMiddleware, open_sessions

    app = bare_app()
    return Starlette(routes=app.routes, middleware=[
        Middleware(SecurityHeadersMiddleware),
        Middleware(ServerSessionMiddleware, sessions=open_sessions(Store.from_environment())),
        Middleware(CsrfMiddleware)])


@dataclass
class LoadResult:
    requests: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    body_bytes: int = 0
    client_cpu_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)

        def pct(p: float) -> float:
            if not ordered:
                return 0.0
            return round(ordered[min(len(ordered) - 1, max(0, round(len(ordered) * p) - 1))], 2)

        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "requests_per_s": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
            "max_ms": round(ordered[-1], 2) if ordered else 0.0,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(self.errors),
            "mean_body_bytes": round(self.body_bytes / self.requests) if self.requests else 0,
            # CPU of the load generator's process over the measured time, in cores.
            "client_cpu_cores": round(self.client_cpu_s / self.seconds, 2) if self.seconds
            else 0.0,
        }


class _Closed(Exception):
    pass


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int, bool]:
    """Status, body length, and whether the server will close the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise _Closed(f"bad status line {lines[0]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    close = headers.get("connection", "").lower() == "close"
    if "content-length" in headers:
        length = int(headers["content-length"])
        await reader.readexactly(length)
        return status, length, close
    if "chunked" in headers.get("transfer-encoding", "").lower():
        total = 0
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            total += size
            if size == 0:
                return status, total, close
    body = await reader.read()  # no length: until the server closes
    return status, len(body), True


async def _client(host: str, port: int, next_path: Callable[[], str], counting_from: float,
                  deadline: float, result: LoadResult) -> None:
    host_header = f"{host}:{port}"
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            request = (f"GET {next_path()} HTTP/1.1\r\nHost: {host_header}\r\n"
                       "User-Agent: hoso-bench-loadgen\r\nAccept: text/html\r\n\r\n").encode()
            started = time.perf_counter()
            writer.write(request)
            status, length, close = await _read_response(reader)
            ended = time.perf_counter()
            if started >= counting_from:
                result.requests += 1
                result.latencies_ms.append((ended - started) * 1000)
                result.statuses[status] += 1
                result.body_bytes += length
            if close:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                _Closed) as error:
            result.errors[type(error).__name__] += 1
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def _load(host: str, port: int, next_path: Callable[[], str], connections: int,
                seconds: float, warmup: float) -> LoadResult:
    result = LoadResult()
    now = time.perf_counter()
    counting_from, deadline = now + warmup, now + warmup + seconds
    cpu_marks: list[float] = []

    async def mark_cpu() -> None:
        await asyncio.sleep(max(0.0, counting_from - time.perf_counter()))
        cpu_marks.append(time.process_time())

    marker = asyncio.ensure_future(mark_cpu())
    await asyncio.gather(*(_client(host, port, next_path, counting_from, deadline, result)
                           for _ in range(connections)))
    await marker
    result.seconds = time.perf_counter() - counting_from
    result.client_cpu_s = time.process_time() - cpu_marks[0]
    return result


def _runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def run_load(url: str, paths: Sequence[str] | None = None, *, connections: int = 32,
             seconds: float = 10.0, warmup: float = 2.0, seed: int = 1) -> dict[str, Any]:
    """GET ``url``'s path (or paths drawn at random from ``paths``) over keep-alive
    connections for ``seconds`` after ``warmup``; the summary of what was measured."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if paths:
        rng = random.Random(seed)
        choices = list(paths)

        def next_path() -> str:
            return rng.choice(choices)
    else:
        fixed = parts.path or "/"

        def next_path() -> str:
            return fixed

    with _runner() as runner:
        result = runner.run(_load(host, port, next_path, connections, seconds, warmup))
    return result.summary()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    print(json.dumps(run_load(args.url, connections=args.connections, seconds=args.seconds,
                              warmup=args.warmup), indent=2))


if __name__ == "__main__":
    main()
