"""The applicant's phone in the read models: a keyed digest (HMAC-SHA256), never the number.

The counter finds a citizen's dossiers by phone, and the broker red flag groups dossiers by
phone, so the read models keep something that is equal for equal phones. A plain digest of
the number was reversed in 13 s by trying every Vietnamese phone number (there are only about
10⁹); with a secret key kept outside the database, a copy of the database alone gives nothing
to try the numbers against.

The key: ``HOSO_PHONE_KEY`` (``hoso phone-key`` prints a new one), else a key file made on
first use — beside the SQLite store, or ``HOSO_PHONE_KEY_FILE`` (default ``var/phone_key``)
for PostgreSQL. Every process of one installation must use the same key (the process that
writes the read models and the web processes that search them); a new key means ``hoso
rebuild``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import threading
from pathlib import Path

log = logging.getLogger(__name__)

PHONE_KEY_ENV = "HOSO_PHONE_KEY"
DEFAULT_KEY_FILE = Path("var/phone_key")
KEY_BYTES = 32


class PhoneKeyError(ValueError):
    pass


def new_phone_key() -> str:
    """A new key for HOSO_PHONE_KEY: 256 random bits, base64."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def parse_phone_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise PhoneKeyError(f"{PHONE_KEY_ENV} must be the base64 of a key of at least 16 bytes "
                            "(`hoso phone-key` prints one)")
    return key


def check_phone_key_setting(text: str | None) -> None:
    """A malformed HOSO_PHONE_KEY is said at start, not on the first dossier."""
    if text:
        parse_phone_key(text)


def key_file(sqlite_path: Path | None, configured: Path | None = None) -> Path:
    if sqlite_path is not None:
        return sqlite_path.parent / "phone_key"
    return configured or DEFAULT_KEY_FILE


def installation_phone_key(sqlite_path: Path | None, key_text: str | None = None,
                           key_file_path: Path | None = None) -> bytes:
    """The installation's key: ``key_text`` (HOSO_PHONE_KEY), or the key file
    (HOSO_PHONE_KEY_FILE, or beside a SQLite store; made on first use, readable by its owner
    only; two processes starting together end up with the same one)."""
    if key_text:
        return parse_phone_key(key_text)
    path = key_file(sqlite_path, key_file_path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(descriptor, "w") as made:
                made.write(new_phone_key() + "\n")
            if sqlite_path is None:
                log.warning("%s is not set: made the phone digest key %s; every process of "
                            "this installation needs the same key", PHONE_KEY_ENV, path)
    for _ in range(100):  # a file just made by another process may not be written yet
        text = path.read_text().strip()
        if text:
            return parse_phone_key(text)
        threading.Event().wait(0.01)
    raise PhoneKeyError(f"the phone digest key file {path} is empty")


class PhoneDigest:
    """``digest(phone)``: the keyed digest the read models store and search by. The key is
    read on first use, so opening a read model (``hoso migrate``) needs none."""

    def __init__(self, sqlite_path: Path | None = None, *, key: bytes | None = None,
                 key_text: str | None = None, key_file_path: Path | None = None) -> None:
        self._sqlite_path = sqlite_path
        self._key = key
        self._key_text = key_text
        self._key_file_path = key_file_path
        self._lock = threading.Lock()

    def __call__(self, phone: str) -> str:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    self._key = installation_phone_key(self._sqlite_path, self._key_text,
                                                       self._key_file_path)
        return hmac.new(self._key, f"hoso-phone:{phone}".encode(), hashlib.sha256).hexdigest()


class DigestsPhones:
    """A read model holding phone digests; ``open_view`` gives it the installation's."""

    phone_digest: PhoneDigest | None = None

    def digest_phone(self, phone: str) -> str:
        if self.phone_digest is None:
            raise PhoneKeyError("this read model was opened without its phone digest key "
                                "(open it with projections.runners.open_view)")
        return self.phone_digest(phone)
