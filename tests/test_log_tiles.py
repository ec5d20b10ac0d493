"""The log published as C2SP tlog-tiles, read by a client written here from the spec alone.

The client below uses none of hoso's Merkle or checkpoint code: it reads the checkpoint's
three lines and Ed25519 signature (c2sp.org/signed-note, tlog-checkpoint), fetches hash tiles
over HTTP from the app served on a real socket (c2sp.org/tlog-tiles), computes the RFC 6962
consistency proof between two checkpoints from them (§2.1.2) and checks it (RFC 9162
§2.1.4.2).
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from uuid import uuid4

import pytest
import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.types import ASGIApp

from domain.application import HosoApplication
from domain.transparency.tiles import NoSuchTile, TileRef, encode_index, parse_tile_path
from projections.runners import ReadModels
from projections.store import Dialect, Store
from tests.conftest import _free_port
from tests.helpers import receive
from tests.test_checkpoints_log import SIGNER, checkpoint, signed  # noqa: F401 (fixture)
from web.app import create_app

# ---- a tlog-tiles client, from the specifications only ------------------------------------


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return _sha(b"\x01" + left + right)


class SpecClient:
    def __init__(self, fetch: Callable[[str], bytes], vkey: str) -> None:
        self.fetch = fetch
        name, key_id, key = vkey.split("+", 2)
        raw = base64.b64decode(key)
        assert raw[0] == 1  # Ed25519
        self.name, self.key_id, self.key = name, bytes.fromhex(key_id), raw[1:]
        self.tiles: dict[tuple[int, int, int], bytes] = {}

    def open(self, note: str) -> tuple[int, bytes]:
        """(size, root) of a checkpoint whose signature by the log's key verifies."""
        body, _, signatures = note.partition("\n\n")
        for line in signatures.splitlines():
            dash, name, blob = line.split(" ")
            raw = base64.b64decode(blob)
            if dash == "—" and name == self.name and raw[:4] == self.key_id:
                try:
                    Ed25519PublicKey.from_public_bytes(self.key).verify(
                        raw[4:], (body + "\n").encode())
                except InvalidSignature:
                    break
                _origin, size, root = body.split("\n")[:3]
                return int(size), base64.b64decode(root)
        raise AssertionError("not signed by the log's key")

    @staticmethod
    def path(level: int, index: int, width: int) -> str:
        groups = []
        while True:
            groups.insert(0, f"{index % 1000:03d}")
            index //= 1000
            if not index:
                break
        n = "/".join(["x" + g for g in groups[:-1]] + groups[-1:])
        return f"tile/{level}/{n}" + ("" if width == 256 else f".p/{width}")

    def _tile(self, level: int, index: int, tree_size: int) -> bytes:
        # The level holds floor(size / 256**level) hashes; the last tile is partial.
        width = min(256, tree_size // 256**level - index * 256)
        key = (level, index, width)
        if key not in self.tiles:
            data = self.fetch(self.path(level, index, width))
            assert len(data) == 32 * width
            self.tiles[key] = data
        return self.tiles[key]

    def hash_at(self, height: int, index: int, tree_size: int) -> bytes:
        """MTH of the 2**height leaves from index·2**height: the tile at level height//8
        holds the hashes 8·level high; the rest of the way up is hashed here."""
        level, within = divmod(height, 8)
        first = index << within  # of the hashes 8·level high
        hashes = []
        for k in range(first, first + (1 << within)):
            tile = self._tile(level, k // 256, tree_size)
            hashes.append(tile[(k % 256) * 32:(k % 256 + 1) * 32])
        while len(hashes) > 1:
            hashes = [_node(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]

    def mth(self, start: int, end: int, tree_size: int) -> bytes:
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return self.hash_at(n.bit_length() - 1, start // n, tree_size)
        k = 1 << ((n - 1).bit_length() - 1)  # the largest power of two below n
        return _node(self.mth(start, start + k, tree_size), self.mth(start + k, end, tree_size))

    def consistency_proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[n]) = SUBPROOF(m, D[n], true), RFC 6962 §2.1.2."""
        def subproof(m: int, start: int, end: int, complete: bool) -> list[bytes]:
            size = end - start
            if m == size:
                return [] if complete else [self.mth(start, end, n)]
            k = 1 << ((size - 1).bit_length() - 1)
            if m <= k:
                return subproof(m, start, start + k, complete) + [
                    self.mth(start + k, end, n)]
            return subproof(m - k, start + k, end, False) + [self.mth(start, start + k, n)]
        return subproof(m, 0, n, True)

    @staticmethod
    def verify(m: int, n: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> bool:
        """RFC 9162 §2.1.4.2, step by step."""
        if m == n:
            return not proof and old_root == new_root
        if m & (m - 1) == 0:
            proof = [old_root, *proof]
        fn, sn = m - 1, n - 1
        while fn & 1:
            fn, sn = fn >> 1, sn >> 1
        fr = sr = proof[0]
        for c in proof[1:]:
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                fr, sr = _node(c, fr), _node(c, sr)
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
            else:
                sr = _node(sr, c)
            fn, sn = fn >> 1, sn >> 1
        return fr == old_root and sr == new_root and sn == 0

    def consistent(self, old_note: str, new_note: str) -> bool:
        (m, old_root), (n, new_root) = self.open(old_note), self.open(new_note)
        self.tiles.clear()  # a new tree: tiles are fetched for its size
        return (self.mth(0, n, n) == new_root
                and self.verify(m, n, old_root, new_root, self.consistency_proof(m, n)))


# ---- the tests -------------------------------------------------------------------------------


def test_tile_paths_follow_the_spec() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert TileRef(0, 1234067, 112).path == "tile/0/x001/x234/067.p/112"
    assert parse_tile_path("2/x001/x234/067") == TileRef(2, 1234067, 256)
    assert parse_tile_path("0/000.p/5") == TileRef(0, 0, 5)
    for bad in ("0/1", "0/x000/001", "01/000", "0/000.p/256", "0/000.p/0", "64/000",
                "0/001/002", "0/x1/002", "entries/000"):
        with pytest.raises(NoSuchTile):
            parse_tile_path(bad)


def _append_leaves(store: Store, app: HosoApplication, count: int) -> None:
    """``count`` more leaves, written straight into the log (cheaper than events: only the
    tree's shape matters here)."""
    models = ReadModels(store, app)
    view = models.transparency_log
    with view._transaction(commit=True) as cursor:
        view._execute(cursor, "SELECT max(leaf_index) AS n FROM {p}log_entry")
        row = cursor.fetchone()
        last = int(row["n"] if isinstance(row, dict) else row[0])
        position = 10**9 + last
        for k in range(1, count + 1):
            entry = f"synthetic leaf {last + k}".encode()
            view._execute(
                cursor, "INSERT INTO {p}log_entry (position, dossier_id, version, entry, "
                "leaf_hash, leaf_index) VALUES (%(p)s, %(d)s, 1, %(e)s, %(h)s, %(i)s)",
                {"p": position + k, "d": uuid4(), "e": entry.decode(),
                 "h": _sha(b"\x00" + entry).hex(), "i": last + k})
    models.close()


def _rewrite_leaf(store: Store, app: HosoApplication, leaf: int) -> None:
    """An insider with the owner's rights rewrites one early leaf of the log."""
    models = ReadModels(store, app)
    view = models.transparency_log
    with view._transaction(commit=True) as cursor:
        if store.dialect is Dialect.SQLITE:
            view._execute(cursor, "DROP TRIGGER log_entry_no_update")
        else:
            view._execute(cursor, "ALTER TABLE {p}log_entry DISABLE TRIGGER log_entry_no_change")
        view._execute(cursor, "UPDATE {p}log_entry SET leaf_hash = %(h)s WHERE leaf_index = %(i)s",
                      {"h": _sha(b"forged").hex(), "i": leaf})
    models.close()


@contextmanager
def _served(asgi: ASGIApp) -> Iterator[str]:
    """The app on a real socket (uvicorn in a thread), as an outside client reaches it."""
    server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=_free_port(),
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of a plain HTTP GET."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return (response.status, {k.lower(): v for k, v in response.headers.items()},
                    response.read())
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def test_a_client_proves_consistency_from_tiles_and_rejects_a_fork(
        signed: None, store: Store, app: HosoApplication,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    receive(app)
    checkpoint(capsys)  # the log catches up with the events first
    _append_leaves(store, app, 700)
    old_note = checkpoint(capsys)
    _append_leaves(store, app, 90)
    new_note = checkpoint(capsys)
    with _served(create_app(store, app, follow=False)) as base:
        def fetch(path: str) -> bytes:
            status, headers, body = _get(f"{base}/log/{path}")
            assert status == 200, (path, body[:200])
            assert headers["content-type"] == "application/octet-stream"
            return body

        client = SpecClient(fetch, SIGNER.verifier.vkey)
        old_size, _ = client.open(old_note)
        assert old_size > 512  # level 0 full and partial tiles, a partial level 1 tile
        assert _get(f"{base}/log/checkpoints/{old_size}")[2].decode() == old_note
        assert _get(f"{base}/log/checkpoint")[2].decode() == new_note
        assert client.consistent(old_note, new_note)
        # Full tiles are immutable; beyond the signed checkpoint nothing is served.
        status, headers, full = _get(f"{base}/log/tile/0/000")
        assert status == 200
        assert len(full) == 8192 and "immutable" in headers["cache-control"]
        assert "immutable" not in _get(f"{base}/log/tile/1/000.p/3")[1]["cache-control"]
        assert _get(f"{base}/log/tile/0/004")[0] == 404
        assert _get(f"{base}/log/tile/entries/000")[0] == 404

    # History rewritten (one early leaf), the log grown and signed again with the same key:
    # the new checkpoint is well signed, but no consistency proof leads to it.
    _rewrite_leaf(store, app, 3)
    _append_leaves(store, app, 5)
    forked_note = checkpoint(capsys)
    with _served(create_app(store, app, follow=False)) as base:
        client = SpecClient(lambda path: _get(f"{base}/log/{path}")[2], SIGNER.verifier.vkey)
        assert client.open(forked_note)[0] == client.open(new_note)[0] + 5
        assert not client.consistent(old_note, forked_note)
        assert not client.consistent(new_note, forked_note)
