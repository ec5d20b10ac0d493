"""The transparency log's public face: the latest signed checkpoint and the key to check it.

Outsiders (the inspectorate, the press) fetch ``/log/checkpoint`` as plain text and keep
their own copies; ``hoso verify --against`` later checks the log against those copies.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from domain.transparency.tiles import NoSuchTile, parse_tile_path
from projections.checkpoints import LogUnreadable, StoredCheckpoint
from projections.receipt_key import public_pem
from web.clerk import services_of
from web.templating import render

# Full tiles never change: caches may keep them for a year. A partial tile is right forever
# too, but is replaced by its full tile, so it is kept for an hour.
IMMUTABLE = "public, max-age=31536000, immutable"
PARTIAL_TILE = "public, max-age=3600"


@dataclass(frozen=True)
class LogPage:
    origin: str
    verifier_key: str | None
    latest: StoredCheckpoint | None
    latest_note: str | None  # as published: with the witnesses' cosignatures
    witnessed_by: list[str]  # the witnesses that cosigned the latest checkpoint
    witnesses: list[str]  # the witnesses the log asks
    history: list[StoredCheckpoint]


def _log_page(request: Request) -> LogPage:
    services = services_of(request)
    log = services.transparency
    history = log.checkpoints.checkpoints()
    latest = history[-1] if history else None
    cosigned = log.checkpoints.cosignatures(latest.tree_size) if latest else []
    return LogPage(origin=log.origin, verifier_key=log.verifier_key, latest=latest,
                   latest_note=log.published_note(latest) if latest else None,
                   witnessed_by=[c.witness for c in cosigned],
                   witnesses=[w.name for w in log.witnesses],
                   history=list(reversed(history[-50:])))


def log_page(request: Request) -> Response:
    return render(request, "log.html", {"page": _log_page(request)})


def latest_checkpoint(request: Request) -> Response:
    log = services_of(request).transparency
    latest = log.checkpoints.latest()
    if latest is None:
        return PlainTextResponse("no checkpoint yet\n", status_code=404)
    return PlainTextResponse(log.published_note(latest), headers={"Cache-Control": "no-cache"})


def verifier_key(request: Request) -> Response:
    key = services_of(request).transparency.verifier_key
    if key is None:
        return PlainTextResponse("this installation signs no checkpoints\n", status_code=404)
    return PlainTextResponse(key + "\n")


def receipt_key(request: Request) -> Response:
    """The agency's public key, PEM: what checks the promise in a receipt's QR code offline
    (domain/promise.py)."""
    key = services_of(request).receipt_key
    if key is None:
        return PlainTextResponse("this installation signs no receipts\n", status_code=404)
    return PlainTextResponse(public_pem(key), headers={"Cache-Control": "public, max-age=3600"})


def checkpoint_of_size(request: Request) -> Response:
    """A checkpoint signed earlier, by its tree size: the history an outsider who missed
    some can still fetch and check against the tiles."""
    size = request.path_params["size"]
    log = services_of(request).transparency
    stored = log.checkpoints.checkpoint_of_size(size)
    if stored is None:
        return PlainTextResponse(f"no checkpoint was signed for tree size {size}\n",
                                 status_code=404)
    # Cosignatures may still arrive for it: cached for minutes, not forever.
    return PlainTextResponse(log.published_note(stored),
                             headers={"Cache-Control": "public, max-age=300"})


def tile(request: Request) -> Response:
    """A hash tile of the log (c2sp.org/tlog-tiles). Entry bundles are not published."""
    path = request.path_params["path"]
    if path.startswith("entries/"):
        return PlainTextResponse(
            "entry bundles are not published: entries describe citizens' dossiers; the "
            "hash tiles suffice to check the log\n", status_code=404)
    try:
        ref = parse_tile_path(path)
        data = services_of(request).transparency.checkpoints.tile(ref)
    except NoSuchTile as error:
        return PlainTextResponse(f"{error}\n", status_code=404)
    except LogUnreadable as error:
        return PlainTextResponse(f"{error}\n", status_code=503)
    if data is None:
        return PlainTextResponse("no signed checkpoint covers this tile yet\n",
                                 status_code=404)
    return Response(data, media_type="application/octet-stream",
                    headers={"Cache-Control": IMMUTABLE if ref.full else PARTIAL_TILE})
