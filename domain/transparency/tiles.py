"""The log's Merkle tree as C2SP tlog-tiles (c2sp.org/tlog-tiles): hash tiles and their paths.

A tile at level L, index N holds up to 256 consecutive hashes of the tree at height 8·L —
at level 0 the leaf hashes, above it the root of each full tile of the level below — so any
client can fetch the few tiles it needs and compute for itself any inclusion or consistency
proof, with no proof API on our side. Full tiles never change; the rightmost tile of each
level is partial (``.p/<W>``, 1–255 hashes) until it fills.

Only hash tiles are published. Entry bundles (``tile/entries/…``) are not: an entry names the
dossier's code, procedure, units and staff and when each step happened — a citizen's case
told to anyone who knows its code — so entries stay with those entitled to them (the proof
bundle). The hashes are enough to check that the log only ever grew.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TILE_WIDTH = 256
TILE_HEIGHT = 8
MAX_LEVEL = 63

_LEVEL = re.compile(r"0|[1-9][0-9]{0,1}")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")


class NoSuchTile(ValueError):
    """A tile path that is not well formed, or names a tile the log does not hold."""


@dataclass(frozen=True)
class TileRef:
    level: int
    index: int
    width: int  # 256 for a full tile

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]`` with N in zero-padded 3-digit elements, all but the last
        prefixed with ``x`` (1234067 is ``x001/x234/067``)."""
        return f"tile/{self.level}/{encode_index(self.index)}" + (
            "" if self.full else f".p/{self.width}")


def encode_index(index: int) -> str:
    if index < 0:
        raise ValueError("a tile index is not negative")
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    return "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])


def parse_tile_path(path: str) -> TileRef:
    """``<L>/<N>[.p/<W>]`` (what follows ``tile/``) as a tile reference; ``NoSuchTile`` for
    anything else — a path is either exactly the canonical encoding or not a tile."""
    parts = path.split("/")
    if len(parts) < 2:
        raise NoSuchTile("a tile path is tile/<L>/<N>[.p/<W>]")
    level_text, rest = parts[0], parts[1:]
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        if not _WIDTH.fullmatch(rest[-1]) or int(rest[-1]) >= TILE_WIDTH:
            raise NoSuchTile("a partial tile's width is 1 to 255")
        width = int(rest[-1])
        rest = [*rest[:-2], rest[-2][:-2]]
    if not _LEVEL.fullmatch(level_text) or int(level_text) > MAX_LEVEL:
        raise NoSuchTile("a tile's level is 0 to 63")
    index = 0
    for n, group in enumerate(rest):
        digits = group[1:] if n < len(rest) - 1 and group.startswith("x") else group
        if n < len(rest) - 1 and not group.startswith("x"):
            raise NoSuchTile("every element of a tile index but the last begins with x")
        if len(digits) != 3 or not digits.isascii() or not digits.isdigit():
            raise NoSuchTile("a tile index is written in 3-digit elements")
        index = index * 1000 + int(digits)
    ref = TileRef(int(level_text), index, width)
    if ref.path != "tile/" + path:  # no leading x000 elements, no other spelling
        raise NoSuchTile("not the canonical path of a tile")
    return ref


def hashes_at_level(tree_size: int, level: int) -> int:
    """How many hashes level ``level`` holds for a tree of ``tree_size`` leaves: one per full
    subtree of 256**level leaves."""
    return tree_size // TILE_WIDTH**level


def tile_exists(ref: TileRef, tree_size: int) -> bool:
    """Whether a tree of ``tree_size`` leaves has every hash of the tile. A partial tile of
    width W is the first W hashes of its full tile, so it stays right once the tree grows."""
    return ref.index * TILE_WIDTH + ref.width <= hashes_at_level(tree_size, ref.level)
