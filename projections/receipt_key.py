"""The agency's key for the promise on the receipt (domain/promise.py): an Ed25519 key kept
outside the database.

``HOSO_RECEIPT_SIGNING_KEY`` (``hoso receipt-key`` prints a new one: the base64 of a 32-byte
seed), else a key file beside the SQLite store, made on first use and readable by its owner
only. On PostgreSQL without the setting there is none: a key made up on the spot would sign
promises nobody could check after a restart, or on another worker, so receipts then carry the
link alone. The public half is published at ``/receipt-key``.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

RECEIPT_KEY_ENV = "HOSO_RECEIPT_SIGNING_KEY"
KEY_FILE_NAME = "receipt_signing_key"


class ReceiptKeyError(ValueError):
    pass


def new_receipt_key() -> str:
    """A new key for HOSO_RECEIPT_SIGNING_KEY: an Ed25519 seed, base64."""
    return base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()


def parse_receipt_key(text: str) -> Ed25519PrivateKey:
    try:
        seed = base64.b64decode(text.strip(), validate=True)
    except (ValueError, binascii.Error):
        seed = b""
    if len(seed) != 32:
        raise ReceiptKeyError(f"{RECEIPT_KEY_ENV} must be the base64 of a 32-byte Ed25519 seed "
                              "(`hoso receipt-key` prints one)")
    return Ed25519PrivateKey.from_private_bytes(seed)


def installation_receipt_key(sqlite_path: Path | None,
                             key_text: str | None = None) -> Ed25519PrivateKey | None:
    """The setting's key, or the key file beside a SQLite store (two processes starting
    together end up with the same one); None on PostgreSQL without the setting."""
    if key_text:
        return parse_receipt_key(key_text)
    if sqlite_path is None:
        return None
    path = sqlite_path.parent / KEY_FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(descriptor, "w") as made:
                made.write(new_receipt_key() + "\n")
    for _ in range(100):  # a file just made by another process may not be written yet
        text = path.read_text().strip()
        if text:
            return parse_receipt_key(text)
        threading.Event().wait(0.01)
    raise ReceiptKeyError(f"the receipt key file {path} is empty")


def public_pem(key: Ed25519PrivateKey) -> str:
    """The published half, as ``openssl pkey -pubin`` and every library read it."""
    return key.public_key().public_bytes(Encoding.PEM,
                                         PublicFormat.SubjectPublicKeyInfo).decode("ascii")
