"""docs/settings.md names every setting the code reads, and only those."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTING = re.compile(r"\bHOSO_[A-Z0-9_]+\b")
# Names in examples, not settings: the conftest's docstring shows ``serve(..., HOSO_X="1")``.
NOT_SETTINGS = {"HOSO_X"}


def _read_by_code() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    paths = [p for folder in ("config", "bootstrap", "cli", "domain", "projections", "web",
                              "notify", "bench", "tests")
             for p in (ROOT / folder).rglob("*.py")] + [ROOT / "Makefile"]
    for path in paths:
        for name in SETTING.findall(path.read_text()):
            if name not in NOT_SETTINGS:
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_setting_the_code_reads_is_documented_and_no_other() -> None:
    documented = set(SETTING.findall((ROOT / "docs" / "settings.md").read_text()))
    read = _read_by_code()
    missing = {name: sorted(where) for name, where in read.items() if name not in documented}
    assert missing == {}, "add these to docs/settings.md"
    assert documented - set(read) == set(), "docs/settings.md names settings nothing reads"


def test_the_settings_object_has_a_field_for_each_application_setting() -> None:
    """The first table of docs/settings.md is the Settings class, field for field."""
    from config.settings import setting_names

    text = (ROOT / "docs" / "settings.md").read_text()
    application = text.split("## Tests and benchmarks")[0]
    assert set(SETTING.findall(application)) == set(setting_names())
