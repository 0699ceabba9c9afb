"""Starting real parts for tests and benchmarks: free ports, polling with a deadline, a real
redis-server, an actor as its own process, the demo topology on free ports.

tests/ and bench/ both use it; it imports no actor module (an actor is started as a process).
"""

from __future__ import annotations

import atexit
import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import redis
import yaml

from launcher.ports import _PORT_FLOOR, _candidate_port, _ephemeral_range, _outside_spans, port_free  # noqa: F401 (tests)
from launcher.redis_binary import INSTALL_HINT, find_redis_server
from launcher.supervise import scrape as scrape_endpoint

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# Deadlines are upper bounds for a condition to come true, not speed claims: scaled so a loaded
# 2-core CI machine (Python and numpy start-up under contention) does not fail a correct system.
DEADLINE_SCALE = float(os.environ.get("CLUSTERGATE_DEADLINE_SCALE", "3"))


_HANDED_OUT: set[int] = set()
# Ports handed out by any live test or benchmark process of this user: a port goes from free_port()
# to the actor that binds it seconds later, and in that gap another process's free_port() may be
# offered the same one by the OS (seen with two test runs at once: a metrics scrape that reached
# another run's ZeroMQ socket). One file per port, naming the pid that holds it; a dead pid's
# files are free again.
_PORT_CLAIMS = Path(os.environ.get("TMPDIR", "/tmp")) / f"clustergate-test-ports-{os.getuid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _claim_port(port: int) -> bool:
    """Claim port for this process across processes; False when a live process holds it."""
    _PORT_CLAIMS.mkdir(mode=0o700, exist_ok=True)
    path = _PORT_CLAIMS / str(port)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            try:
                holder = int(path.read_text() or "0")
            except (OSError, ValueError):
                holder = 0
            if holder == os.getpid() or (holder and _pid_alive(holder)):
                return False
            try:
                path.unlink()  # its holder is dead (or it was half written): take it
            except FileNotFoundError:
                pass
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        if not _HANDED_OUT:
            atexit.register(_release_ports, os.getpid())
        return True
    return False


def _release_ports(pid: int) -> None:
    if pid != os.getpid():  # a forked child inherits the hook, not the claims
        return
    for port in _HANDED_OUT:
        try:
            path = _PORT_CLAIMS / str(port)
            if path.read_text() == str(pid):
                path.unlink()
        except OSError:
            pass


def free_port() -> int:
    """A port free now, outside the ephemeral range where it can be, never handed out before by this process,
    and not handed out by another live process of this user (tests and benchmarks run side by side)."""
    spans = _outside_spans(_ephemeral_range())
    for attempt in range(100_000):
        port = _candidate_port(spans, attempt)
        if not port_free(port):
            continue
        if port not in _HANDED_OUT and _claim_port(port):
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no free TCP port on 127.0.0.1")


def wait_for(condition: Callable[[], Any], timeout_s: float = 10.0, what: str = "condition",
             interval_s: float = 0.05) -> Any:
    """Poll condition() until it returns something truthy; fail naming `what` after the deadline."""
    timeout_s *= DEADLINE_SCALE
    deadline = time.monotonic() + timeout_s
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # conditions may fail while a process is starting
            last_exc = exc
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}" + (f" (last error: {last_exc!r})" if last_exc else ""))


class RedisServer:
    """A real redis-server on a free port in a temp dir, with appendonly persistence."""

    def __init__(self, workdir: Path, port: int | None = None):
        binary = find_redis_server()
        if binary is None:
            raise RuntimeError(INSTALL_HINT)
        self.binary = binary
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no",
             "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.client().ping(), 10, f"redis-server on port {self.port}")
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=2)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def demo_topology_data() -> dict[str, Any]:
    return yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())


def retarget(data: dict[str, Any], redis_url: str | None = None) -> dict[str, Any]:
    """Copy of a topology with every tcp port and metrics port moved to a free one.

    With redis_url the topology uses that external Redis; otherwise a managed one on a free port.
    """
    data = copy.deepcopy(data)
    mapping: dict[int, int] = {}

    def new_port(old: int) -> int:
        if old not in mapping:
            mapping[old] = free_port()
        return mapping[old]

    for actor in data.get("actors", {}).values():
        actor["metrics_port"] = new_port(actor["metrics_port"])
        for sock in actor.get("sockets", {}).values():
            for key in ("bind", "connect"):
                endpoint = sock.get(key)
                if endpoint and endpoint.startswith("tcp://"):
                    host, _, port = endpoint[6:].rpartition(":")
                    sock[key] = f"tcp://{host}:{new_port(int(port))}"
    if redis_url is not None:
        data["redis"] = {"url": redis_url}
    else:
        data["redis"] = {"managed": True, "port": free_port()}
    return data


def write_topology(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class ActorProcess:
    """One actor run as its own process: `python -m actors.<kind> --topology FILE --name NAME`."""

    def __init__(self, topology_path: Path, name: str, kind: str | None = None, log_dir: Path | None = None):
        self.topology_path = topology_path
        self.name = name
        self.kind = kind or name
        self.log_path = (log_dir or topology_path.parent) / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ActorProcess":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([PYTHON, "-m", f"actors.{self.kind}", "--topology", str(self.topology_path),
                                      "--name", self.name], cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_serving(self, metrics_port: int, timeout_s: float = 20.0) -> None:
        """Wait until the actor answers a scrape on its metrics port. A refused port does not say why: an actor
        that exits first (its port taken, a bad topology), or never answers, fails this naming its log."""
        def answered_or_exited() -> bool:
            return self.proc is None or self.proc.poll() is not None or scrape(metrics_port) is not None
        try:
            wait_for(answered_or_exited, timeout_s, f"{self.name}'s metrics on port {metrics_port}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; {self.name}'s log ({self.log_path}):\n{self.log()[-4000:]}") from None
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise AssertionError(f"{self.name} exited ({code}) before it answered on metrics port {metrics_port}; "
                                 f"its log ({self.log_path}):\n{self.log()[-4000:]}")

    def terminate(self, timeout_s: float = 5.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


def scrape(port: int) -> dict[str, float]:
    """Read a local Prometheus endpoint into {'name{labels}': value}. The time limit is a wait, scaled
    like every deadline here: on a loaded 2-core machine a busy actor's metrics thread can take over 2 s."""
    return scrape_endpoint("127.0.0.1", port, timeout_s=2.0 * DEADLINE_SCALE)
