"""Asking witnesses to cosign each new checkpoint (the log's side of c2sp.org/tlog-witness).

``HOSO_WITNESSES`` names them, one ``<URL> <witness key>`` per line (or separated by
commas): the witness's submission prefix and its cosignature/v1 verifier key. Each new
checkpoint is sent with the consistency proof from the last size that witness cosigned; a
witness that answers 409 with another size is asked once more from that size. A cosignature
that verifies is stored (``log_cosignature``) and published with the checkpoint; a witness
that is down or refuses is logged, and the checkpoint is published without its cosignature.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from domain.transparency.checkpoint import MalformedNote
from domain.transparency.witness import CosignatureVerifier, add_checkpoint_request

log = logging.getLogger(__name__)

WITNESSES_ENV = "HOSO_WITNESSES"
TIMEOUT_SECONDS = 10

# (url, request body) -> (HTTP status, response text)
Post = Callable[[str, str], tuple[int, str]]


@dataclass(frozen=True)
class WitnessEndpoint:
    url: str  # the submission prefix
    verifier: CosignatureVerifier

    @property
    def name(self) -> str:
        return self.verifier.name


def configured_witnesses(text: str) -> list[WitnessEndpoint]:
    """The witnesses ``text`` (HOSO_WITNESSES) names: ``<URL> <witness key>`` each."""
    endpoints = []
    for item in text.replace(",", "\n").splitlines():
        if not item.strip():
            continue
        parts = item.split()
        if len(parts) != 2:
            raise MalformedNote(f"{WITNESSES_ENV}: each witness is '<URL> <witness key>'")
        endpoints.append(WitnessEndpoint(parts[0].rstrip("/"),
                                         CosignatureVerifier.parse(parts[1])))
    return endpoints


def http_post(url: str, body: str) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"Content-Type": "text/plain; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode(errors="replace")


@dataclass(frozen=True)
class Cosigned:
    witness: str
    signature: str  # the signature line, newline-terminated
    timestamp: int


def ask_witness(witness: WitnessEndpoint, *, note: str, body: str, size: int,
                cosigned_size: int, proof_from: Callable[[int], list[bytes]],
                post: Post) -> Cosigned | None:
    """The witness's cosignature of the checkpoint ``note`` (``body``: its text), or None.

    ``cosigned_size`` is the size this witness last cosigned as far as the log knows;
    ``proof_from(old)`` the consistency proof from ``old`` to ``size``."""
    old = cosigned_size
    for attempt in range(2):
        request = add_checkpoint_request(old, proof_from(old) if 0 < old < size else [], note)
        try:
            status, text = post(f"{witness.url}/add-checkpoint", request)
        except OSError as error:
            log.warning("witness %s could not be reached: %s", witness.name, error)
            return None
        if status == 200:
            for line in text.splitlines():
                timestamp = witness.verifier.timestamp_of(line, body)
                if timestamp is not None:
                    return Cosigned(witness.name, line + "\n", timestamp)
            log.warning("witness %s answered without a valid cosignature", witness.name)
            return None
        held = text.strip()
        if status == 409 and attempt == 0 and held.isdigit() and int(held) != old:
            if int(held) > size:
                log.error("witness %s has cosigned %s entries of this log, more than the "
                          "%s now signed: the log was rolled back or forked", witness.name,
                          held, size)
                return None
            old = int(held)
            continue
        log.warning("witness %s refused the checkpoint of size %s (%s): %s", witness.name,
                    size, status, held)
        return None
    return None
