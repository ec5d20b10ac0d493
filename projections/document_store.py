"""Attached files on the filesystem: ``var/documents/ab/cd/<sha256>``, written once.

A file is written to ``.incoming/`` first, its digest checked while it is written, then
linked to its final name, which fails if the name exists: nothing is ever overwritten, and a
crash leaves at most a file in ``.incoming/`` (removed at the next start), never a half
file under a digest. With ``HOSO_CIPHER_KEY`` set (the key of the events), files rest
encrypted with AES-256-GCM in 1 MiB chunks, each bound to the digest, its position and
whether it is the last, so chunks cannot be swapped, dropped or cut off unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import secrets
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from uuid import uuid4

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.documents import DigestMismatch, document_missing
from projections.store import CIPHER_KEY_ENV, Dialect, Store

_CHUNK = 1024 * 1024
_MAGIC = b"HOSODOC1"  # encrypted file format, version 1
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class UnreadableDocument(RuntimeError):
    """A stored file does not decrypt with this key, or was changed after it was written."""


class FileDocumentStore:
    def __init__(self, root: Path, cipher_key: bytes | None = None) -> None:
        self.root = root
        self._incoming = root / ".incoming"
        self._incoming.mkdir(parents=True, exist_ok=True)
        self._cipher = AESGCM(cipher_key) if cipher_key else None
        # What a crash left half-written; recent files may be another process's, at work.
        for leftover in self._incoming.iterdir():
            if leftover.stat().st_mtime < time.time() - 3600:
                leftover.unlink(missing_ok=True)

    def _path(self, sha256: str) -> Path:
        if not _DIGEST.match(sha256):
            raise document_missing()
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, source: BinaryIO, sha256: str) -> bool:
        final = self._path(sha256)
        if final.exists():
            return False
        staged = self._incoming / uuid4().hex
        digest = hashlib.sha256()
        try:
            with open(staged, "xb") as out:
                source.seek(0)
                if self._cipher is not None:
                    out.write(_MAGIC)
                chunk = source.read(_CHUNK)
                index = 0
                while chunk:
                    following = source.read(_CHUNK)
                    digest.update(chunk)
                    out.write(self._seal(chunk, sha256, index, last=not following))
                    chunk, index = following, index + 1
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                raise DigestMismatch(sha256)
            os.chmod(staged, 0o444)
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(staged, final)
            except FileExistsError:
                return False  # the same bytes, kept meanwhile by another request
            return True
        finally:
            staged.unlink(missing_ok=True)

    def _seal(self, chunk: bytes, sha256: str, index: int, *, last: bool) -> bytes:
        if self._cipher is None:
            return chunk
        nonce = secrets.token_bytes(12)
        sealed = self._cipher.encrypt(nonce, chunk, _bound(sha256, index, last))
        return struct.pack(">I", len(sealed)) + nonce + sealed

    def open(self, sha256: str) -> Iterator[bytes]:
        path = self._path(sha256)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by the generator reading it
        except FileNotFoundError:
            raise document_missing() from None
        return self._read(handle, sha256)

    def _read(self, handle: io.BufferedReader, sha256: str) -> Iterator[bytes]:
        with handle:
            head = handle.read(len(_MAGIC))
            if self._cipher is None:
                if head == _MAGIC:
                    raise UnreadableDocument(f"{sha256} is encrypted: {CIPHER_KEY_ENV} is needed")
                if head:
                    yield head
                while chunk := handle.read(_CHUNK):
                    yield chunk
                return
            if head != _MAGIC:
                raise UnreadableDocument(f"{sha256} is not an encrypted document")
            index = 0
            while True:
                size_bytes = handle.read(4)
                if len(size_bytes) < 4:
                    raise UnreadableDocument(f"{sha256} is cut short")
                (size,) = struct.unpack(">I", size_bytes)
                nonce = handle.read(12)
                sealed = handle.read(size)
                last = not handle.peek(1)
                try:
                    yield self._cipher.decrypt(nonce, sealed, _bound(sha256, index, last))
                except InvalidTag:
                    raise UnreadableDocument(f"{sha256} does not decrypt") from None
                if last:
                    return
                index += 1

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()

    def discard(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)


def _bound(sha256: str, index: int, last: bool) -> bytes:
    return f"hoso-document/1 {sha256} {index} {'last' if last else 'more'}".encode()


def documents_dir(store: Store, configured: Path | None = None) -> Path:
    """``configured`` (HOSO_DOCUMENTS_DIR), else ``documents/`` beside the SQLite file
    (``var/documents`` by default), else ``var/documents``."""
    if configured is not None:
        return configured
    if store.dialect is Dialect.SQLITE and store.sqlite_path is not None:
        return store.sqlite_path.parent / "documents"
    return Path("var/documents")


def document_store_for(store: Store, directory: Path | None = None) -> FileDocumentStore:
    """The store's files, sealed with the store's own cipher key when it has one."""
    key = store.cipher_key
    return FileDocumentStore(documents_dir(store, directory),
                             base64.b64decode(key) if key else None)
