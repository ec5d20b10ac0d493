"""The transparency log's public face: the latest signed checkpoint and the key to check it.

Outsiders (the inspectorate, the press) fetch ``/log/checkpoint`` as plain text and keep
their own copies; ``hoso verify --against`` later checks the log against those copies.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from projections.checkpoints import StoredCheckpoint
from web.clerk import services_of
from web.templating import render


@dataclass(frozen=True)
class LogPage:
    origin: str
    verifier_key: str | None
    latest: StoredCheckpoint | None
    history: list[StoredCheckpoint]


def _log_page(request: Request) -> LogPage:
    services = services_of(request)
    log = services.transparency
    history = log.checkpoints.checkpoints()
    return LogPage(origin=log.origin, verifier_key=log.verifier_key,
                   latest=history[-1] if history else None,
                   history=list(reversed(history[-50:])))


def log_page(request: Request) -> Response:
    return render(request, "log.html", {"page": _log_page(request)})


def latest_checkpoint(request: Request) -> Response:
    latest = services_of(request).transparency.checkpoints.latest()
    if latest is None:
        return PlainTextResponse("no checkpoint yet\n", status_code=404)
    return PlainTextResponse(latest.note, headers={"Cache-Control": "no-cache"})


def verifier_key(request: Request) -> Response:
    key = services_of(request).transparency.verifier_key
    if key is None:
        return PlainTextResponse("this installation signs no checkpoints\n", status_code=404)
    return PlainTextResponse(key + "\n")
