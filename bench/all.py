"""``make bench``: every benchmark, one after another, then the table for docs/benchmarks.md.

    .venv/bin/python -m bench.all             # what make bench runs
    .venv/bin/python -m bench.all --only rebuild_projections verify_log

Each benchmark runs in its own process (one at a time: the machine has two cores, and a
benchmark sharing them with another would measure the other). The million-event store is
filled once: ``rebuild_projections`` fills it with the bulk demo (a year of realistic
histories), brings the transparency log and the read models up to date and rebuilds them;
``analytics_pages`` then times its pages over the review rows that rebuild wrote, and
``verify_log`` checks that same store, instead of each making its own. The wall time of each
step and of the whole run are written to the results file (key ``make_bench``): the issue
asks for the whole run in under 30 minutes here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date
from typing import Any

from bench.common import ROOT, RUN_DAY_ENV, machine, merge_results, print_table

LIMIT_SECONDS = 30 * 60
# (name, module arguments); analytics_pages and verify_log read the store rebuild_projections
# filled, so they come after it.
STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("record_actions", ()),
    ("public_page_load", ()),
    ("queue_page", ()),
    ("rebuild_projections", ()),
    ("analytics_pages", ("--schema", "hoso_bench_rebuild", "--reuse")),
    ("verify_log", ("--schema", "hoso_bench_rebuild", "--reuse")),
    # After verify_log: it opens two cases (events) in that store.
    ("desk_pages", ("--schema", "hoso_bench_rebuild", "--reuse")),
    ("audit_replay", ()),
)


def run_step(name: str, arguments: tuple[str, ...]) -> dict[str, Any]:
    print(f"\n=== {name} {' '.join(arguments)}".rstrip(), flush=True)
    started = time.perf_counter()
    status = subprocess.call([sys.executable, "-m", f"bench.{name}", *arguments], cwd=ROOT)
    seconds = time.perf_counter() - started
    print(f"=== {name}: {seconds:.0f} s, exit {status}", flush=True)
    return {"step": name, "arguments": list(arguments), "seconds": round(seconds, 1),
            "exit_status": status}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="+", choices=[name for name, _ in STEPS],
                        help="run only these benchmarks (in the usual order)")
    args = parser.parse_args()
    chosen = [(n, a) for n, a in STEPS if not args.only or n in args.only]

    os.environ.setdefault(RUN_DAY_ENV, date.today().isoformat())  # the steps inherit it
    started = time.perf_counter()
    steps = [run_step(name, arguments) for name, arguments in chosen]
    total = time.perf_counter() - started
    failed = [s["step"] for s in steps if s["exit_status"] != 0]
    if not args.only:
        merge_results("make_bench", {
            "benchmark": "make bench, every benchmark one after another",
            "steps": steps, "total_seconds": round(total, 1),
            "limit_seconds": LIMIT_SECONDS, "within_limit": total <= LIMIT_SECONDS,
            "failed": failed, "machine": machine()})
    print()
    print_table([(s["step"], f"{s['seconds']:.0f} s" + (
        f" (exit {s['exit_status']})" if s["exit_status"] else "")) for s in steps]
        + [("all", f"{total / 60:.1f} min (limit {LIMIT_SECONDS // 60} min)")])
    print()
    subprocess.call([sys.executable, "-m", "bench.report"], cwd=ROOT)
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
