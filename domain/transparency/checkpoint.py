"""Signed tree heads as C2SP checkpoints (c2sp.org/tlog-checkpoint) in signed notes
(c2sp.org/signed-note), signed with Ed25519.

The formats are the ones the Go ecosystem (golang.org/x/mod/sumdb/note, transparency-dev)
reads and writes, so an outsider can check hoso's checkpoints with existing witnesses and
tools, byte for byte:

    <origin>
    <tree size, decimal>
    <base64 root hash>
    [extension lines]

    — <key name> <base64(4-byte key id ‖ 64-byte Ed25519 signature)>

The key id is ``SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]``; a verifier key is
written ``<name>+<hex key id>+<base64(0x01 ‖ public key)>`` and a signer key, as in Go,
``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖ 32-byte seed)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from domain.transparency.merkle import HASH_SIZE

ED25519 = 0x01
SIGNATURE_PREFIX = "— "
SIGNER_KEY_PREFIX = "PRIVATE+KEY+"
# The spec makes verifiers accept at least 16 signatures; Go's reader stops at 100, and so
# do we, so a note padded with junk signatures cannot make us do unbounded work.
MAX_SIGNATURES = 100
ED25519_SIGNATURE_SIZE = 64
KEY_ID_SIZE = 4

_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}")
# Tree sizes are uint64 everywhere else in the ecosystem.
_MAX_TREE_SIZE = 2**64 - 1


class CheckpointError(ValueError):
    """A note or checkpoint that must not be believed."""


class MalformedNote(CheckpointError):
    """The text is not a well-formed signed note, checkpoint or key."""


class UnverifiedNote(CheckpointError):
    """No signature on the note is from a key we trust."""


class BadSignature(CheckpointError):
    """A signature claims to be from a key we trust but does not verify."""


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[
        :KEY_ID_SIZE
    ]


@dataclass(frozen=True)
class NoteVerifier:
    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _require_key_name(self.name)
        if len(self.public_key) != 32:
            raise MalformedNote("an Ed25519 public key is 32 bytes")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        encoded = base64.b64encode(bytes([ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def parse(cls, vkey: str) -> NoteVerifier:
        parts = vkey.split("+", 2)
        if len(parts) != 3 or not _HEX_KEY_ID.fullmatch(parts[1]):
            raise MalformedNote("a verifier key reads <name>+<hex key id>+<base64 key>")
        name, hex_id, encoded = parts
        key = _strict_b64decode(encoded, "verifier key")
        if len(key) != 33 or key[0] != ED25519:
            raise MalformedNote("only Ed25519 verifier keys are supported")
        verifier = cls(name, key[1:])
        if verifier.key_id.hex() != hex_id:
            raise MalformedNote("the verifier key's id does not match its name and key")
        return verifier

    def verifies(self, text: str, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text.encode())
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    name: str
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _require_key_name(self.name)
        if len(self.seed) != 32:
            raise MalformedNote("an Ed25519 private key seed is 32 bytes")

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        return cls(name, Ed25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def parse(cls, skey: str) -> NoteSigner:
        if not skey.startswith(SIGNER_KEY_PREFIX):
            raise MalformedNote("a signer key starts with PRIVATE+KEY+")
        parts = skey.removeprefix(SIGNER_KEY_PREFIX).split("+", 2)
        if len(parts) != 3 or not _HEX_KEY_ID.fullmatch(parts[1]):
            raise MalformedNote("a signer key reads PRIVATE+KEY+<name>+<hex id>+<base64 key>")
        name, hex_id, encoded = parts
        key = _strict_b64decode(encoded, "signer key")
        if len(key) != 33 or key[0] != ED25519:
            raise MalformedNote("only Ed25519 signer keys are supported")
        signer = cls(name, key[1:])
        if signer.verifier.key_id.hex() != hex_id:
            raise MalformedNote("the signer key's id does not match its name and key")
        return signer

    @property
    def skey(self) -> str:
        encoded = base64.b64encode(bytes([ED25519]) + self.seed).decode()
        return f"{SIGNER_KEY_PREFIX}{self.name}+{self.verifier.key_id.hex()}+{encoded}"

    @property
    def verifier(self) -> NoteVerifier:
        public_key = self._private_key().public_key().public_bytes_raw()
        return NoteVerifier(self.name, public_key)

    def signature_line(self, text: str) -> str:
        signature = self._private_key().sign(text.encode())
        encoded = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {encoded}\n"

    def _private_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise MalformedNote("a checkpoint's origin is one non-empty line")
        if not 0 <= self.size <= _MAX_TREE_SIZE:
            raise MalformedNote("a checkpoint's tree size is a uint64")
        if len(self.root) != HASH_SIZE:
            raise MalformedNote("a checkpoint's root is a 32-byte SHA-256 hash")
        if any(not line or "\n" in line for line in self.extensions):
            raise MalformedNote("checkpoint extension lines are single non-empty lines")

    @property
    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "".join(f"{line}\n" for line in [*lines, *self.extensions])

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise MalformedNote("a checkpoint body ends with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or not all(lines):
            raise MalformedNote("a checkpoint is at least three non-empty lines")
        origin, size_text, root_text, *extensions = lines
        if not _DECIMAL.fullmatch(size_text):
            raise MalformedNote("a checkpoint's tree size is decimal without leading zeros")
        return cls(origin, int(size_text), _strict_b64decode(root_text, "root hash"),
                   tuple(extensions))


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    _check_note_characters(text)
    if not text.endswith("\n"):
        raise MalformedNote("a note's text ends with a newline")
    if not signers:
        raise MalformedNote("a signed note needs at least one signature")
    return text + "\n" + "".join(signer.signature_line(text) for signer in signers)


def open_note(note: str, verifiers: Iterable[NoteVerifier]) -> str:
    """The text of ``note`` if a trusted key signed it, else a ``CheckpointError``.

    Follows c2sp.org/signed-note: signatures from unknown keys are skipped (they may be a
    witness's cosignature or a rotated key), a known key whose signature fails rejects the
    whole note, and at least one known key must have signed.
    """
    _check_note_characters(note)
    if not note.endswith("\n"):
        raise MalformedNote("a signed note ends with a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNote("a signed note has a blank line before its signatures")
    text, signature_block = note[: split + 1], note[split + 2 :]
    lines = signature_block[:-1].split("\n") if signature_block else []
    if not lines:
        raise MalformedNote("a signed note has at least one signature")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"more than {MAX_SIGNATURES} signatures on one note")
    trusted = {(v.name, v.key_id): v for v in verifiers}
    verified = False
    for line in lines:
        name, signature = _parse_signature_line(line)
        verifier = trusted.get((name, signature[:KEY_ID_SIZE]))
        if verifier is None:
            continue
        if not verifier.verifies(text, signature[KEY_ID_SIZE:]):
            raise BadSignature(f"the signature of {name} does not verify")
        verified = True
    if not verified:
        raise UnverifiedNote("no signature on the note is from a trusted key")
    return text


def sign_checkpoint(
    origin: str, size: int, root: bytes, signer: NoteSigner, extensions: Sequence[str] = ()
) -> str:
    return sign_note(Checkpoint(origin, size, root, tuple(extensions)).body, [signer])


def open_checkpoint(
    text: str, verifier_key: NoteVerifier | str, origin: str | None = None
) -> Checkpoint:
    """The checkpoint in ``text``, once its signature by ``verifier_key`` is checked.

    ``origin``, when given, must be the checkpoint's first line: it stops a checkpoint of
    another log signed by the same key from passing as this log's.
    """
    verifier = (
        NoteVerifier.parse(verifier_key) if isinstance(verifier_key, str) else verifier_key
    )
    checkpoint = Checkpoint.parse_body(open_note(text, [verifier]))
    if origin is not None and checkpoint.origin != origin:
        raise MalformedNote(f"checkpoint of {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint


def _parse_signature_line(line: str) -> tuple[str, bytes]:
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNote("a signature line starts with an em dash and a space")
    parts = line.removeprefix(SIGNATURE_PREFIX).split(" ")
    if len(parts) != 2:
        raise MalformedNote("a signature line reads — <key name> <base64 signature>")
    name, encoded = parts
    _require_key_name(name)
    signature = _strict_b64decode(encoded, "signature")
    if len(signature) <= KEY_ID_SIZE:
        raise MalformedNote("a signature is a key id followed by the signature proper")
    return name, signature


def _check_note_characters(text: str) -> None:
    try:
        text.encode()
    except UnicodeEncodeError as error:
        raise MalformedNote("a note is valid UTF-8") from error
    if any(ord(char) < 0x20 and char != "\n" for char in text):
        raise MalformedNote("a note holds no control characters other than newline")


def _require_key_name(name: str) -> None:
    if not name or "+" in name or any(char.isspace() for char in name):
        raise MalformedNote("a key name is non-empty, without spaces or '+'")


def _strict_b64decode(encoded: str, what: str) -> bytes:
    # Canonical encodings only, so that each checkpoint has exactly one text and outsiders
    # comparing their copies byte for byte agree.
    try:
        decoded = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise MalformedNote(f"the {what} is not valid base64") from error
    if base64.b64encode(decoded).decode() != encoded:
        raise MalformedNote(f"the {what} is not canonical base64")
    return decoded
