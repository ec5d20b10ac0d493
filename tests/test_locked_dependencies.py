"""The environment is the lock: every package pinned with hashes, no index named, and what
the suite runs on is exactly the locked set (nothing newer, nothing unlisted)."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ("run.txt", "dev.txt", "tools.txt")


def _entries(lock: str) -> list[tuple[Requirement, list[str]]]:
    """Each requirement of a lock with its hashes (a requirement spans its continued lines)."""
    text = (ROOT / "requirements" / lock).read_text()
    joined = re.sub(r"\s*\\\n\s*", " ", text)
    entries = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        hashes = re.findall(r"--hash=(\S+)", line)
        entries.append((Requirement(re.sub(r"\s*--hash=\S+", "", line)), hashes))
    return entries


def _pins(lock: str) -> dict[str, str]:
    """Package → version, for the packages this machine's Python installs from ``lock``."""
    pins = {}
    for requirement, _ in _entries(lock):
        if requirement.marker is None or requirement.marker.evaluate():
            (spec,) = requirement.specifier
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def test_every_locked_package_is_pinned_exactly_with_hashes() -> None:
    for lock in LOCKS:
        entries = _entries(lock)
        assert len(entries) >= 3, lock
        for requirement, hashes in entries:
            (spec,) = requirement.specifier
            assert spec.operator == "==", (lock, str(requirement))
            assert hashes and all(h.startswith("sha256:") for h in hashes), (lock, requirement)


def test_the_locks_name_no_package_index() -> None:
    for lock in LOCKS:
        text = (ROOT / "requirements" / lock).read_text()
        assert "://" not in text, f"{lock} names a host"
        assert not re.search(r"^\s*--(index-url|extra-index-url|find-links)", text, re.M), lock


def test_run_and_tools_agree_with_dev() -> None:
    dev = _pins("dev.txt")
    for lock in ("run.txt", "tools.txt"):
        pins = _pins(lock)
        assert pins.items() <= dev.items(), {p: (v, dev.get(p)) for p, v in pins.items()
                                              if dev.get(p) != v}


def test_the_suite_runs_on_exactly_the_locked_set() -> None:
    installed = {canonicalize_name(d.metadata["Name"]): d.version
                 for d in metadata.distributions()}
    installed.pop("hoso", None)  # the project itself, installed editable beside the lock
    assert installed == _pins("dev.txt"), "run `make test` (it installs the lock into .venv)"

