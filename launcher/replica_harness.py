"""A real Redis replica for tests and benchmarks: redis-server started with --replicaof a harness
RedisServer, on a free port in its own temp dir, and stopped (SIGSTOP) or resumed on demand.

Kept apart from launcher/harness.py so the Sentinel work can change that module freely.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from launcher.harness import RedisServer, wait_for


class ReplicaServer(RedisServer):
    """redis-server --replicaof the given primary; start() returns once the link is up and synced."""

    def __init__(self, workdir: Path, primary: RedisServer, port: int | None = None):
        super().__init__(workdir, port)
        self.primary = primary
        self.paused = False

    def start(self) -> "ReplicaServer":
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", str(self.dir / "redis.log"),
             "--replicaof", "127.0.0.1", str(self.primary.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.synced, 20, f"replica on port {self.port} to sync with {self.primary.port}")
        return self

    def synced(self) -> bool:
        """The replica's link to the primary is up and the primary counts it online."""
        if self.client().info("replication").get("master_link_status") != "up":
            return False
        info = self.primary.client().info("replication")
        return any(isinstance(v, dict) and v.get("port") == self.port and v.get("state") == "online"
                   for k, v in info.items() if k.startswith("slave"))

    def pause(self) -> None:
        """SIGSTOP: the primary still counts the replica connected, but it acknowledges nothing."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.proc is not None and self.proc.poll() is None and self.paused:
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def kill(self) -> None:
        self.resume()
        super().kill()

    def stop(self) -> None:
        self.resume()  # a stopped process never sees SIGTERM
        super().stop()
