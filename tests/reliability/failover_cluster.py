"""A real PostgreSQL high-availability cluster for tests: pg_auto_failover's monitor, a
primary and a synchronous standby, each a `pg_autoctl` service with its own data directory
and port, run as the ``postgres`` user under a temporary directory, and removed afterwards.

Debian's ``postgresql-15-auto-failover`` and ``pg-auto-failover-cli`` are installed with
apt-get when missing (as root; ``make test`` does it too, see the Makefile's ``failover``
target); without them the tests skip with the reason, or fail under ``CI=true``.

The monitor is tuned to decide quickly (health checks every second, a node unhealthy after
3 s, 2 s for a lost primary to demote itself) so a failover takes seconds, not the half
minute of the defaults; docs/operations.md says what production keeps.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import _free_port

PACKAGES = ("postgresql-15-auto-failover", "pg-auto-failover-cli")
HOST = "127.0.0.1"
DBNAME = "hoso"
MONITOR_SETTINGS = {
    "pgautofailover.health_check_period": 1000,
    "pgautofailover.health_check_timeout": 1000,
    "pgautofailover.health_check_max_retries": 1,
    "pgautofailover.health_check_retry_delay": 500,
    "pgautofailover.node_considered_unhealthy_timeout": 3000,
    "pgautofailover.startup_grace_period": 2000,
    "pgautofailover.primary_demote_timeout": 2000,
}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def ensure_pg_auto_failover() -> Path:
    """The PostgreSQL bin directory pg_auto_failover's extension is built for; installs the
    Debian packages first when missing and this process may (root)."""
    if not shutil.which("pg_autoctl") and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", *PACKAGES],
                       env=os.environ | {"DEBIAN_FRONTEND": "noninteractive"},
                       capture_output=True, timeout=600)
    if not shutil.which("pg_autoctl"):
        _unavailable(f"no pg_autoctl: install Debian's {' '.join(PACKAGES)}")
    controls = sorted(glob.glob("/usr/share/postgresql/*/extension/pgautofailover.control"))
    if not controls:
        _unavailable("pg_auto_failover's PostgreSQL extension is not installed")
    version = Path(controls[-1]).parts[-3]
    return Path(f"/usr/lib/postgresql/{version}/bin")


@dataclass
class Node:
    name: str
    port: int
    pgdata: Path
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.pgdata.with_suffix(".log")


class AutoFailoverCluster:
    """Monitor + two nodes. ``start()`` brings them up (primary and synchronous standby);
    ``kill_primary()`` kills the primary's host processes (its pg_autoctl and its postmaster,
    SIGKILL); ``wait_for_promotion()`` and ``rejoin()`` follow the failover through."""

    def __init__(self) -> None:
        self.bindir = ensure_pg_auto_failover()
        self.base = Path(tempfile.mkdtemp(prefix="hoso-failover-"))
        self.monitor = Node("monitor", _free_port(), self.base / "monitor")
        self.nodes = [Node(f"node{n}", _free_port(), self.base / f"node{n}") for n in (1, 2)]
        self.failovers: list[float] = []  # seconds from the kill to a writable new primary
        self.killed_at = 0.0  # time.monotonic() of the last kill
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")

    # -- running pg_autoctl as postgres ---------------------------------------------------

    def _env(self) -> dict[str, str]:
        # pg_autoctl keeps its configuration and state under the XDG directories: ours.
        return {"PATH": f"{self.bindir}:/usr/bin:/bin", "HOME": str(self.base),
                "XDG_CONFIG_HOME": str(self.base / "config"),
                "XDG_DATA_HOME": str(self.base / "data"),
                "XDG_RUNTIME_DIR": str(self.base / "run"),
                "PG_CONFIG": str(self.bindir / "pg_config"), "LANG": "C.UTF-8"}

    def _as_postgres(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            return {}
        return {"user": "postgres", "group": "postgres", "extra_groups": []}

    def _autoctl(self, *args: str, log: Path) -> None:
        with log.open("ab") as out:
            subprocess.run(["pg_autoctl", *args], env=self._env(), cwd=self.base, stdout=out,
                           stderr=subprocess.STDOUT, check=True, timeout=120,
                           **self._as_postgres())

    def _service(self, node: Node, *args: str) -> None:
        """A pg_autoctl service in a process group of its own (its "host")."""
        with node.log.open("ab") as out:
            node.process = subprocess.Popen(
                ["pg_autoctl", *args], env=self._env(), cwd=self.base, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True, **self._as_postgres())

    # -- the cluster ----------------------------------------------------------------------

    def start(self) -> None:
        self._autoctl("create", "monitor", "--pgdata", str(self.monitor.pgdata), "--pgport",
                      str(self.monitor.port), "--hostname", HOST, "--auth", "trust",
                      "--no-ssl", log=self.monitor.log)
        self._service(self.monitor, "run", "--pgdata", str(self.monitor.pgdata))
        with self._until_connected(self._monitor_conninfo()) as monitor:
            for name, value in MONITOR_SETTINGS.items():
                monitor.execute(f"ALTER SYSTEM SET {name} = {value}")
            monitor.execute("SELECT pg_reload_conf()")
        first, second = self.nodes
        self._create_node(first)
        self._wait_for(lambda states: states.get(first.name) == ("single", "single"),
                       "the first node to run alone")
        self._create_node(second)
        self.wait_until_replicating()

    def _create_node(self, node: Node) -> None:
        self._service(node, "create", "postgres", "--pgdata", str(node.pgdata), "--pgport",
                      str(node.port), "--hostname", HOST, "--listen", HOST, "--name", node.name,
                      "--dbname", DBNAME, "--auth", "trust", "--no-ssl", "--monitor",
                      f"postgresql://autoctl_node@{HOST}:{self.monitor.port}/pg_auto_failover",
                      "--run")

    def _monitor_conninfo(self) -> str:
        return f"host={HOST} port={self.monitor.port} user=postgres dbname=pg_auto_failover"

    @staticmethod
    def _until_connected(conninfo: str, timeout: float = 60) -> psycopg.Connection[Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return psycopg.connect(conninfo, autocommit=True, connect_timeout=2)
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def states(self) -> dict[str, tuple[str, str]]:
        """Each node's (reported, assigned) state, as the monitor has them."""
        with psycopg.connect(self._monitor_conninfo(), connect_timeout=2) as monitor:
            rows = monitor.execute("SELECT nodename, reportedstate::text, goalstate::text "
                                   "FROM pgautofailover.node").fetchall()
        return {name: (reported, goal) for name, reported, goal in rows}

    def _wait_for(self, condition: Any, what: str, timeout: float = 120,
                  meanwhile: Any = None) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                states = self.states()
            except psycopg.OperationalError:
                states = {}
            if condition(states):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {states}\n"
                                     + self.logs())
            if meanwhile is not None:
                meanwhile()
            time.sleep(0.2)

    def wait_until_replicating(self, timeout: float = 120) -> None:
        """Until one node is primary and the other its synchronous standby."""
        def both(states: dict[str, tuple[str, str]]) -> bool:
            return sorted(states.get(n.name, ("", ""))[0] for n in self.nodes) == [
                "primary", "secondary"] and all(r == g for r, g in states.values())

        # pg_basebackup (the standby's first copy) waits for a spread checkpoint: hurry it.
        self._wait_for(both, "a primary and its synchronous standby", timeout,
                       meanwhile=self._checkpoint_primary)

    def _checkpoint_primary(self) -> None:
        try:
            with psycopg.connect(self.conninfo(target_session_attrs="read-write"),
                                 autocommit=True, connect_timeout=1) as conn:
                conn.execute("CHECKPOINT")
        except psycopg.Error:
            pass

    def node_in(self, state: str) -> Node:
        states = self.states()
        return next(n for n in self.nodes if states.get(n.name, ("", ""))[0] == state)

    def kill_primary(self) -> Node:
        """The primary's host dies: its pg_autoctl and its postmaster, SIGKILL, at once."""
        node = self.node_in("primary")
        assert node.process is not None
        postmaster = int((node.pgdata / "postmaster.pid").read_text().split()[0])
        os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait(10)
        node.process = None
        deadline = time.monotonic() + 10
        while _alive(postmaster):
            assert time.monotonic() < deadline, "the postmaster outlived its host"
            time.sleep(0.02)
        self.killed_at = time.monotonic()
        return node

    def wait_for_promotion(self, old: Node, timeout: float = 60) -> float:
        """Until another node accepts writes; the seconds since the kill."""
        deadline = time.monotonic() + timeout
        others = [n for n in self.nodes if n is not old]
        while True:
            for node in others:
                try:
                    with psycopg.connect(f"host={HOST} port={node.port} user=postgres "
                                         f"dbname={DBNAME} target_session_attrs=read-write",
                                         connect_timeout=1):
                        took = time.monotonic() - self.killed_at
                        self.failovers.append(took)
                        return took
                except psycopg.OperationalError:
                    pass
            if time.monotonic() > deadline:
                raise AssertionError("no standby was promoted:\n" + self.logs())
            time.sleep(0.05)

    def rejoin(self, node: Node) -> None:
        """Start the dead node's services again: it rewinds and follows the new primary."""
        self._service(node, "run", "--pgdata", str(node.pgdata))
        self.wait_until_replicating()

    def fail_over(self) -> float:
        """Kill the primary, wait for the standby's promotion, bring the old one back as the
        new standby; the seconds until a node accepted writes again."""
        old = self.kill_primary()
        took = self.wait_for_promotion(old)
        self.rejoin(old)
        return took

    # -- for hoso ---------------------------------------------------------------------------

    def conninfo(self, **extra: str) -> str:
        hosts = ",".join(HOST for _ in self.nodes)
        ports = ",".join(str(n.port) for n in self.nodes)
        return " ".join([f"host={hosts} port={ports} user=postgres dbname={DBNAME}",
                         *(f"{k}={v}" for k, v in extra.items())])

    def url(self, schema: str, **query: str) -> str:
        """hoso's multi-host URL: every node, the one accepting writes chosen."""
        nodes = ",".join(f"{HOST}:{n.port}" for n in self.nodes)
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        return (f"postgresql://postgres@{nodes}/{DBNAME}?schema={schema}"
                f"&target_session_attrs=read-write{extra}")

    def logs(self) -> str:
        return "\n".join(f"--- {n.name}\n" + n.log.read_text(errors="replace")[-2000:]
                         for n in (self.monitor, *self.nodes) if n.log.exists())

    def remove(self) -> None:
        for node in (*self.nodes, self.monitor):
            if node.process is None or node.process.poll() is not None:
                continue
            os.killpg(node.process.pid, signal.SIGTERM)  # pg_autoctl stops postgres, fast
            try:
                node.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(node.process.pid, signal.SIGKILL)
                node.process.wait(5)
        for node in (*self.nodes, self.monitor):  # whatever outlived its pg_autoctl
            pidfile = node.pgdata / "postmaster.pid"
            if pidfile.exists():
                pid = int(pidfile.read_text().split()[0])
                if _alive(pid):
                    os.kill(pid, signal.SIGQUIT)
        shutil.rmtree(self.base, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it waits only for its parent to read its status.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[-1][:1] != "Z"
