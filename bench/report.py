"""The benchmarks' results as a markdown table (for docs/benchmarks.md).

    .venv/bin/python -m bench.report                      # the newest bench/results-*.json
    .venv/bin/python -m bench.report bench/results-2026-11-24.json

One row per headline figure: what was measured, the figure, the same-run baseline, their
ratio, the issue's target and whether it is met. A benchmark lists its headline figures under
``"headline"`` (each with ``what``, ``figure``, ``unit``, ``baseline``, ``baseline_what``,
``ratio``, ``target``, ``met``); for the older entries without one, the main figure and
ratio are read from their own keys.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import BENCH

Row = tuple[str, str, str, str, str, str, str]
HEADER: Row = ("benchmark", "measure", "figure", "baseline (same run)", "ratio", "target",
               "met?")


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—"
    if isinstance(value, int) or (isinstance(value, float) and value >= 100):
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _met(value: Any) -> str:
    return "—" if value is None else "yes" if value else "**no**"


def _headline_rows(key: str, entry: dict[str, Any]) -> Iterator[Row]:
    for h in entry["headline"]:
        unit = f" {h['unit']}" if h.get("unit") else ""
        baseline = "—" if h.get("baseline") is None else f"{_number(h['baseline'])}{unit}"
        if h.get("baseline_what"):
            baseline += f" ({h['baseline_what']})"
        yield (key, h["what"], f"{_number(h.get('figure'))}{unit}", baseline,
               _number(h.get("ratio")), h.get("target") or "—", _met(h.get("met")))


def _legacy_rows(key: str, entry: dict[str, Any]) -> Iterator[Row]:
    """The entries written before the headline convention (queue page, analytics, verify)."""
    if key == "queue_page":
        yield (key, f"/queue?scope=unit, {entry.get('open_dossiers', 0):,} open dossiers "
                    "(median)", f"{entry['figure']['median_ms']} ms",
               f"{entry['baseline']['median_ms']} ms ({entry['baseline']['name']})",
               _number(entry.get("ratio_median")), "—", "—")
    elif key == "analytics_pages":
        base = entry.get("baseline_count_review_step", {}).get("median_ms")
        for name, figure in entry.get("figures", {}).items():
            if isinstance(figure, dict) and name.endswith("_afresh"):
                yield (key, f"{name.removesuffix('_afresh')} computed afresh (median), "
                            f"{entry.get('events', 0):,} events", f"{figure['median_ms']} ms",
                       f"{base} ms (count(*) of review_step)",
                       _number(entry.get("ratio_to_count", {}).get(name)), "—", "—")
    elif key == "verify_log" and "verify" in entry:
        raw = entry.get("baselines", {}).get("events_raw_read", {})
        yield (key, f"hoso verify, {entry.get('data', {}).get('events', 0):,} events",
               f"{entry['verify']['seconds']} s", f"{raw.get('seconds')} s (raw read of the "
               "events)", _number(entry.get("ratio_verify_to", {}).get("events_raw_read")),
               "—", "—")
    elif isinstance(entry.get("rebuild"), dict) and "ratio_baseline_to_rebuild" in entry:
        value, target = entry["ratio_baseline_to_rebuild"], entry.get("target_ratio")
        yield (key, f"hoso rebuild, {entry.get('data', {}).get('events', 0):,} events",
               f"{entry['rebuild'].get('seconds')} s",
               f"{entry.get('baseline', {}).get('seconds')} s (raw read + COPY of the rows)",
               _number(value) + " (baseline/rebuild)",
               f">= {target}" if target is not None else "—",
               _met(value >= target) if target is not None else "—")
    elif isinstance(entry.get("figure"), int | float) and isinstance(
            entry.get("baseline"), int | float):
        yield (key, entry.get("benchmark", key), _number(entry["figure"]),
               _number(entry["baseline"]), _number(entry.get("ratio")), "—", "—")
    elif key == "make_bench":
        minutes = entry["total_seconds"] / 60
        steps = ", ".join(f"{s['step']} {s['seconds'] / 60:.1f}" for s in entry["steps"])
        yield (key, f"wall time of the whole run (minutes: {steps})", f"{minutes:.1f} min",
               "—", "—", f"<= {entry['limit_seconds'] // 60} min", _met(entry["within_limit"]))
    else:
        yield (key, entry.get("benchmark", key), "see the results file", "", "", "—", "—")


def rows(results: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for key, entry in results.items():
        if not isinstance(entry, dict):
            continue
        out += _headline_rows(key, entry) if entry.get("headline") else _legacy_rows(key, entry)
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
              for row in rows(results)]
    machines = {json.dumps(e["machine"], sort_keys=True) for e in results.values()
                if isinstance(e, dict) and "machine" in e}
    for m in sorted(machines):
        info = json.loads(m)
        lines.append(f"\nMachine: {info.get('cpus')} CPUs, Python {info.get('python')}, "
                     f"{info.get('platform')}.")
        break  # the same machine for every entry, give or take the kernel build
    return "\n".join(lines)


def newest() -> Path:
    files = sorted(BENCH.glob("results-*.json"))
    if not files:
        raise SystemExit("no bench/results-*.json yet: run make bench")
    return files[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", type=Path)
    args = parser.parse_args()
    path = args.path or newest()
    print(markdown(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
