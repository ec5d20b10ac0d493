"""HTTP load for the page benchmarks from ``wrk`` (Debian's package), a maintained C load
generator, instead of a Python client that would itself be the bottleneck.

    .venv/bin/python -m bench.wrk http://127.0.0.1:8000/ --connections 32 --seconds 10

``wrk`` keeps ``connections`` keep-alive connections busy from one thread for ``seconds``; a
Lua script hands out the paths in turn and prints the summary as one JSON line (requests,
non-2xx/3xx answers, socket errors, latency percentiles). A warm-up run of ``warmup`` seconds
goes first and is not counted. The summary has the keys the benchmarks record: requests/s,
p50/p90/p99/max in ms, errors, and the CPU ``wrk`` itself used (at ~1 core it would be the
bottleneck, not the server).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

WRK_PACKAGE = "wrk"

# Paths are handed out in turn (not at random), so a run is the same sequence every time.
_SCRIPT = """
paths = {%(paths)s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1], {["Accept"] = "text/html"})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'HOSO-WRK {"requests": %%d, "duration_us": %%d, "non_2xx_3xx": %%d, "connect": %%d, ' ..
    '"read": %%d, "write": %%d, "timeout": %%d, "bytes": %%d, "p50_us": %%d, "p90_us": %%d, ' ..
    '"p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    summary.bytes, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
"""


class WrkMissing(RuntimeError):
    pass


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissing("wrk is not installed: `apt-get install wrk` (make bench does it as "
                         "root)")
    return found


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(url: str, paths: Sequence[str] | None = None, *, connections: int = 32,
            seconds: float = 10.0, warmup: float = 2.0) -> dict[str, Any]:
    """GET ``url``'s path (or ``paths`` in turn) for ``seconds`` after ``warmup``; the summary
    of what was measured."""
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    chosen = list(paths) if paths else [parts.path or "/"]
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "paths.lua"
        script.write_text(_SCRIPT % {"paths": ", ".join(_lua_string(p) for p in chosen)})
        if warmup > 0:
            _wrk(base, script, connections, warmup)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        figures = _wrk(base, script, connections, seconds)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    measured_s = figures["duration_us"] / 1e6
    socket_errors = {k: figures[k] for k in ("connect", "read", "write", "timeout") if figures[k]}
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "requests": figures["requests"],
        "seconds": round(measured_s, 2),
        "requests_per_s": round(figures["requests"] / measured_s, 1) if measured_s else 0.0,
        "p50_ms": round(figures["p50_us"] / 1000, 2),
        "p90_ms": round(figures["p90_us"] / 1000, 2),
        "p99_ms": round(figures["p99_us"] / 1000, 2),
        "max_ms": round(figures["max_us"] / 1000, 2),
        "non_2xx_3xx": figures["non_2xx_3xx"],
        "errors": socket_errors,
        "mean_body_bytes": round(figures["bytes"] / figures["requests"])
        if figures["requests"] else 0,
        "client_cpu_cores": round(cpu_s / measured_s, 2) if measured_s else 0.0,
        "load_generator": f"wrk -t1 -c{connections} -d{seconds:g}s",
    }


def _wrk(base: str, script: Path, connections: int, seconds: float) -> dict[str, Any]:
    command = [wrk_binary(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
               "--timeout", "10s", "-s", str(script), base]
    finished = subprocess.run(command, capture_output=True, text=True, check=False,
                              env=os.environ | {"LC_ALL": "C"})
    for line in finished.stdout.splitlines():
        if line.startswith("HOSO-WRK "):
            figures: dict[str, Any] = json.loads(line.removeprefix("HOSO-WRK "))
            return figures
    raise RuntimeError(f"wrk gave no summary (exit {finished.returncode}): "
                       f"{finished.stderr.strip() or finished.stdout.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    print(json.dumps(run_wrk(args.url, connections=args.connections, seconds=args.seconds,
                             warmup=args.warmup), indent=2))


if __name__ == "__main__":
    main()
