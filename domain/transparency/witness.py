"""A transparency-log witness (c2sp.org/tlog-witness) and its cosignatures
(c2sp.org/tlog-cosignature, Ed25519 ``cosignature/v1``).

A witness keeps, for each log it follows, the latest checkpoint it cosigned. A new checkpoint
is cosigned only if the log's key signed it and a consistency proof leads to it from the one
the witness holds: a log that rewrote its history — even one signing with its own key — cannot
get a cosignature for the fork from a witness that saw the original. Whoever holds a
cosigned checkpoint then knows that at least one party outside the installation saw the same
history.

The cosignature is a note signature line: ``— <witness name> base64(key id ‖ u64 time ‖
Ed25519 signature)``, where the key id is ``SHA-256(name ‖ "\\n" ‖ 0x04 ‖ public key)[:4]``
and the signed message is ``cosignature/v1\\ntime <t>\\n`` followed by the checkpoint's body.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from domain.transparency.checkpoint import (
    SIGNATURE_PREFIX,
    BadSignature,
    Checkpoint,
    CheckpointError,
    MalformedNote,
    NoteVerifier,
    UnverifiedNote,
    open_note,
)
from domain.transparency.merkle import verify_consistency

COSIGNATURE_V1 = 0x04
WITNESS_KEY_PREFIX = "PRIVATE+KEY+"
MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"


def _cosigner_key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([COSIGNATURE_V1]) + public_key).digest()[:4]


def _message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


@dataclass(frozen=True)
class CosignatureVerifier:
    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return _cosigner_key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        encoded = base64.b64encode(bytes([COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def parse(cls, vkey: str) -> CosignatureVerifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise MalformedNote("a witness key reads <name>+<hex key id>+<base64 key>")
        name, hex_id, encoded = parts
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError as error:
            raise MalformedNote("the witness key is not valid base64") from error
        if len(key) != 33 or key[0] != COSIGNATURE_V1:
            raise MalformedNote("a witness key is an Ed25519 cosignature/v1 key (type 0x04)")
        verifier = cls(name, key[1:])
        if verifier.key_id.hex() != hex_id:
            raise MalformedNote("the witness key's id does not match its name and key")
        return verifier

    def timestamp_of(self, line: str, body: str) -> int | None:
        """The time this witness cosigned ``body`` at, if ``line`` is its valid cosignature."""
        prefix = f"{SIGNATURE_PREFIX}{self.name} "
        if not line.startswith(prefix):
            return None
        try:
            raw = base64.b64decode(line.removeprefix(prefix).strip(), validate=True)
        except ValueError:
            return None
        if len(raw) != 4 + 8 + 64 or raw[:4] != self.key_id:
            return None
        timestamp = int.from_bytes(raw[4:12], "big")
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                raw[12:], _message(body, timestamp))
        except InvalidSignature:
            return None
        return timestamp


@dataclass(frozen=True)
class CosignerKey:
    name: str
    seed: bytes = field(repr=False)

    @classmethod
    def generate(cls, name: str) -> CosignerKey:
        return cls(name, Ed25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def parse(cls, skey: str) -> CosignerKey:
        parts = skey.strip().removeprefix(WITNESS_KEY_PREFIX).split("+", 2)
        if not skey.startswith(WITNESS_KEY_PREFIX) or len(parts) != 3:
            raise MalformedNote("a witness's key reads PRIVATE+KEY+<name>+<hex id>+<base64>")
        name, hex_id, encoded = parts
        key = base64.b64decode(encoded)
        if len(key) != 33 or key[0] != COSIGNATURE_V1:
            raise MalformedNote("a witness's key is an Ed25519 cosignature/v1 key")
        signer = cls(name, key[1:])
        if signer.verifier.key_id.hex() != hex_id:
            raise MalformedNote("the witness's key id does not match its name and key")
        return signer

    @property
    def skey(self) -> str:
        encoded = base64.b64encode(bytes([COSIGNATURE_V1]) + self.seed).decode()
        return f"{WITNESS_KEY_PREFIX}{self.name}+{self.verifier.key_id.hex()}+{encoded}"

    @property
    def verifier(self) -> CosignatureVerifier:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes_raw()
        return CosignatureVerifier(self.name, public)

    def cosign(self, body: str, timestamp: int) -> str:
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(
            _message(body, timestamp))
        blob = self.verifier.key_id + timestamp.to_bytes(8, "big") + signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True)
class Witnessed:
    size: int
    root: bytes
    note: str


class WitnessState(Protocol):
    """Where a witness keeps the latest checkpoint it cosigned, per log origin."""

    def latest(self, origin: str) -> Witnessed | None: ...

    def store(self, origin: str, checkpoint: Witnessed) -> None: ...


class FileWitnessState:
    """One JSON file, replaced whole (written beside it, then renamed): a crash leaves the old
    state or the new, never half of one."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, dict[str, str | int]]:
        if not self.path.exists():
            return {}
        data: dict[str, dict[str, str | int]] = json.loads(self.path.read_text())
        return data

    def latest(self, origin: str) -> Witnessed | None:
        row = self._read().get(origin)
        if row is None:
            return None
        return Witnessed(int(row["size"]), base64.b64decode(str(row["root"])), str(row["note"]))

    def store(self, origin: str, checkpoint: Witnessed) -> None:
        data = self._read()
        data[origin] = {"size": checkpoint.size,
                        "root": base64.b64encode(checkpoint.root).decode(),
                        "note": checkpoint.note}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_suffix(".tmp")
        with scratch.open("w") as out:
            json.dump(data, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(scratch, self.path)


@dataclass(frozen=True)
class WitnessAnswer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


class Witness:
    """The add-checkpoint call of c2sp.org/tlog-witness, with its answers: 200 and the
    cosignature; 400 malformed; 403 not signed by the log's key; 404 a log it does not
    follow; 409 an old size other than the one it holds (the body says which) or the same
    size with another root; 422 a consistency proof that does not verify."""

    def __init__(self, key: CosignerKey, logs: dict[str, NoteVerifier],
                 state: WitnessState) -> None:
        self.key, self.logs, self.state = key, logs, state
        # The check of the old size and the update must be one step, or two requests could
        # roll the witness back (the race the spec describes).
        self._lock = threading.Lock()

    def add_checkpoint(self, request: str, now: int) -> WitnessAnswer:
        try:
            old_size, proof, note = _parse_request(request)
            origin = note.split("\n", 1)[0]
        except (MalformedNote, ValueError) as error:
            return WitnessAnswer(400, f"malformed request: {error}\n")
        verifier = self.logs.get(origin)
        if verifier is None:
            return WitnessAnswer(404, f"unknown log {origin}\n")
        try:
            checkpoint = Checkpoint.parse_body(open_note(note, [verifier]))
        except (UnverifiedNote, BadSignature) as error:
            return WitnessAnswer(403, f"not signed by the log's key: {error}\n")
        except CheckpointError as error:
            return WitnessAnswer(400, f"malformed checkpoint: {error}\n")
        if old_size > checkpoint.size:
            return WitnessAnswer(400, "the old size is larger than the checkpoint's\n")
        with self._lock:
            held = self.state.latest(origin)
            held_size = held.size if held else 0
            if old_size != held_size:
                return WitnessAnswer(409, f"{held_size}\n", SIZE_CONTENT_TYPE)
            if held is not None and held.size == checkpoint.size:
                if held.root != checkpoint.root:
                    return WitnessAnswer(409, "a checkpoint of the same size with another "
                                              "root was cosigned: the log forked\n")
            elif held is None:
                if proof:
                    return WitnessAnswer(422, "the proof from an empty tree is empty\n")
            elif not verify_consistency(held.size, checkpoint.size, held.root,
                                        checkpoint.root, proof):
                return WitnessAnswer(422, "the consistency proof does not verify\n")
            self.state.store(origin, Witnessed(checkpoint.size, checkpoint.root, note))
        return WitnessAnswer(200, self.key.cosign(checkpoint.body, now))


def _parse_request(request: str) -> tuple[int, list[bytes], str]:
    head, separator, note = request.partition("\n\n")
    if not separator:
        raise MalformedNote("an empty line separates the proof from the checkpoint")
    lines = head.split("\n")
    old = lines[0].removeprefix("old ")
    if not lines[0].startswith("old ") or not (old == "0" or (old.isdigit() and old[0] != "0")):
        raise MalformedNote("the first line is old <size>")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise MalformedNote(f"more than {MAX_PROOF_LINES} proof lines")
    proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
    if any(len(h) != 32 for h in proof):
        raise MalformedNote("each proof line is a base64 SHA-256 hash")
    return int(old), proof, note


def add_checkpoint_request(old_size: int, proof: list[bytes], note: str) -> str:
    """The body a log sends to a witness's add-checkpoint."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return "".join(f"{line}\n" for line in lines) + "\n" + note
