"""``hoso witness``: a small HTTP service following c2sp.org/tlog-witness.

It runs apart from the installation (its own machine and operator, ideally), holds its own
key (``HOSO_WITNESS_KEY``) and its own state file, and knows only the logs' verifier keys:
nothing of the store. One route, ``POST /add-checkpoint``; ``GET /`` names the witness and
its key, so a log's operator can copy the key into ``HOSO_WITNESSES``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from domain.transparency.witness import Witness

# A request is an old size, at most 63 hashes and a checkpoint with its signatures.
MAX_REQUEST_BYTES = 64 * 1024


def create_witness_app(witness: Witness,
                       clock: Callable[[], float] = time.time) -> Starlette:
    async def add_checkpoint(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_REQUEST_BYTES:
            return PlainTextResponse("request too large\n", status_code=413)
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            return PlainTextResponse("the request is UTF-8 text\n", status_code=400)
        answer = witness.add_checkpoint(text, int(clock()))
        return Response(answer.body, status_code=answer.status,
                        media_type=answer.content_type)

    async def about(request: Request) -> Response:
        logs = "".join(f"follows: {origin}\n" for origin in sorted(witness.logs))
        return PlainTextResponse(f"witness: {witness.key.verifier.vkey}\n{logs}")

    return Starlette(routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
                             Route("/", about, methods=["GET"])])
