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


def test_dependencies_point_inward() -> None:
    assert not {"web", "projections", "notify", "starlette", "psycopg", "jinja2"} & _imports(
        "domain")
    assert not {"web", "notify"} & _imports("projections")
    assert not {"web", "starlette", "jinja2"} & _imports("notify")


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
