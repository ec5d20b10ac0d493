"""The house rules that tools can check: ruff-clean, mypy-clean, dependencies point inward."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
    return found


OUR_PACKAGES = {"config", "bootstrap", "cli", "domain", "projections", "notify", "web"}


def test_dependencies_point_inward() -> None:
    assert not {"web", "projections", "notify", "bootstrap", "cli", "starlette", "psycopg",
                "jinja2"} & _imports("domain")
    assert not {"web", "notify", "bootstrap", "cli"} & _imports("projections")
    assert not {"web", "bootstrap", "cli", "starlette", "jinja2"} & _imports("notify")
    # The composition root wires the layers below the web tier; the settings depend on none.
    assert not {"web", "cli"} & _imports("bootstrap")
    assert not OUR_PACKAGES - {"config"} & _imports("config")
    assert not {"cli"} & _imports("web")


def test_only_the_settings_read_the_environment() -> None:
    """Settings are read once, typed, in config/settings.py; everything else is handed its
    values (bootstrap/, create_app), so no part reads a variable the others do not see."""
    readers = sorted(
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for package in OUR_PACKAGES for path in (ROOT / package).rglob("*.py")
        if path != ROOT / "config" / "settings.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}
        and isinstance(node.value, ast.Name) and node.value.id == "os")
    assert readers == []


def test_pages_ask_the_domain_who_may_do_what() -> None:
    """No page decides by a role or a unit kind itself (``Role.RECEPTION in staff.roles``):
    the domain answers (``staff.serves_the_counter``, ``directory.procedures_received_by``,
    ``snapshot.transfer_targets``…), so a page never offers what the domain refuses. Only the
    labels name members, to translate them."""
    named: list[str] = []
    for path in sorted((ROOT / "web").rglob("*.py")):
        if path.name == "labels.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in {"Role", "UnitKind"}):
                named.append(f"{path.relative_to(ROOT)}:{node.lineno} "
                             f"{node.value.id}.{node.attr}")
    assert named == []
