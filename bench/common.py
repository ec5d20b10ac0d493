"""Small helpers shared by the benchmarks added for "Performance and scale".

The older modules (``queue_page``, ``analytics_pages``, ``verify_log``) keep their own copies;
these write the same results file the same way (one key per benchmark, other keys kept).
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from projections.store import Store

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def bench_url() -> str:
    return os.environ.get("HOSO_BENCH_POSTGRES_URL", DEFAULT_URL)


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}


# Set by ``bench.all`` for its steps: a run that crosses midnight writes one file, named
# by the day it started.
RUN_DAY_ENV = "HOSO_BENCH_DAY"


def results_path(day: date | None = None) -> Path:
    if day is None:
        day = date.fromisoformat(os.environ[RUN_DAY_ENV]) if os.environ.get(RUN_DAY_ENV) \
            else date.today()
    return BENCH / f"results-{day.isoformat()}.json"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Several benchmarks may finish at once: read, merge and write under a file lock."""
    with open(Path(tempfile.gettempdir()) / f"hoso-bench-{path.stem}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def merge_results(key: str, result: dict[str, Any],
                  keep_from_previous: Sequence[str] = ()) -> Path:
    """Write ``result`` under ``key`` in the run's results file, keeping every other key;
    the ``keep_from_previous`` parts of the result already there are kept if ``result``
    has none (marked ``from_earlier_run``)."""
    out = results_path()
    with _locked(out):
        results = json.loads(out.read_text()) if out.exists() else {}
        previous = results.get(key, {})
        for part in keep_from_previous:
            if part not in result and part in previous:
                result[part] = previous[part] | {"from_earlier_run": True}
        results[key] = result
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        tmp.replace(out)
    return out


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """Median, p99 and count of latencies in milliseconds."""
    if not samples_ms:
        return {"n": 0, "p50_ms": 0.0, "p99_ms": 0.0, "mean_ms": 0.0}
    ordered = sorted(samples_ms)
    p99 = ordered[min(len(ordered) - 1, max(0, round(len(ordered) * 0.99) - 1))]
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 3),
            "p99_ms": round(p99, 3), "mean_ms": round(statistics.fmean(ordered), 3)}


def own_peak_rss_mib() -> float:
    """Peak RSS of this process (ru_maxrss is in KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def proc_status_mib(pid: int, field: str = "VmHWM") -> float:
    """A memory line of /proc/<pid>/status (VmHWM: peak RSS; VmRSS: now) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    raise ValueError(f"no {field} for process {pid}")


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def processes_cpu_seconds(name: str) -> float:
    """CPU seconds used so far by every live process called ``name`` (e.g. all PostgreSQL
    backends: includes other clients' work on a shared server)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == name:
                total += proc_cpu_seconds(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
    return total


def fresh_schema(store: Store) -> None:
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            sql.Identifier(store.schema)))


def schema_table(schema: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def ratio(figure: float, baseline: float, digits: int = 2) -> float:
    return round(figure / baseline, digits) if baseline else 0.0


def print_table(rows: Sequence[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


class ProjectionWorker:
    """``hoso project`` in a process of its own, following a bench schema while the bench
    records: how far behind the log it falls (sampled twice a second), how long it takes to
    catch up once the load stops, and its peak RSS."""

    def __init__(self, database_url: str, lag: Callable[[], int]) -> None:
        self.database_url = database_url
        self.lag = lag  # events the worker has yet to apply
        self.max_lag = 0
        self._stop = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._sampler: threading.Thread | None = None

    def __enter__(self) -> ProjectionWorker:
        env = os.environ | {"HOSO_DATABASE_URL": self.database_url}
        env.pop("HOSO_LOG_SIGNING_KEY", None)  # the read models are what is measured
        # Its log goes to a file: a worker that misbehaves can be read about afterwards.
        self.log_path = Path(tempfile.gettempdir()) / "hoso-bench-projection-worker.log"
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen([sys.executable, "-m", "cli", "project"],
                                             cwd=ROOT, env=env, stderr=log)
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.max_lag = max(self.max_lag, self.lag())

    def finish(self, timeout: float = 300.0) -> dict[str, Any]:
        """Stop sampling, wait until the worker has applied everything, then stop it."""
        assert self._process is not None
        self._stop.set()
        started = time.perf_counter()
        while (lag := self.lag()) and time.perf_counter() - started < timeout:
            time.sleep(0.05)
        caught_up_s = time.perf_counter() - started
        peak = proc_status_mib(self._process.pid)
        self._process.terminate()
        self._process.wait(30)
        return {"peak_rss_mib": peak, "max_lag_events": self.max_lag,
                "seconds_to_catch_up_after_load": round(caught_up_s, 2),
                "lag_at_end": lag}

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(30)


def run_cli(command: str, env: dict[str, str], profile: str | None) -> dict[str, Any]:
    """``hoso COMMAND`` in a process of its own, as an operator runs it (under cProfile,
    writing to ``profile``, if given): wall seconds, exit status, what it printed on stdout
    (its progress bar goes to this process's stderr) and its peak RSS."""
    argv = [sys.executable, *(["-m", "cProfile", "-o", profile] if profile else []),
            "-m", "cli", command]
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=ROOT, env=os.environ | env, stdout=out)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read().strip()
    return {"seconds": seconds, "exit_status": os.waitstatus_to_exitcode(status),
            "output": output, "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}
