"""axe-core, the automated accessibility checker, run inside a Playwright page.

``vendor/axe-core/axe.min.js`` is axe-core's own build from the npm registry, unmodified
(licence and version beside it), so the tests download nothing. Only the rules tagged for
WCAG 2.0 and 2.1 levels A and AA run: what the public page promises.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_JS = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_SOURCE = AXE_JS.read_text(encoding="utf-8")
_VERSION = re.search(r"axe v(\d+\.\d+\.\d+)", AXE_SOURCE[:200])
AXE_VERSION = _VERSION.group(1) if _VERSION else "unknown"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """The WCAG 2.1 A/AA rules the page breaks, as axe-core reports them."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # Through the DevTools protocol: the page's CSP (script-src 'self') does not apply.
        page.evaluate(AXE_SOURCE)
    results = page.evaluate(
        """tags => axe.run(document, {runOnly: {type: 'tag', values: tags},
                                      resultTypes: ['violations']})""",
        WCAG_21_AA)
    # A run that checked nothing would pass anything.
    assert results["passes"], "axe-core checked nothing"
    return list(results["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    """One paragraph per broken rule: what, how bad, and where (CSS selectors)."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"  {' '.join(map(str, node['target']))}: {summary}")
    return "\n".join(lines)
