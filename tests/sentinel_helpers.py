"""Redis under Sentinel for tests: a primary, a replica and three sentinels as real redis-server
processes (plain subprocesses, configs rendered by the launcher), and the demo topology under real
supervisord with a managed Sentinel setup."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import redis

from helpers import free_port, retarget, demo_topology_data, wait_for, write_topology
from launcher.client import GateClient, GateUnavailable
from launcher.redis_binary import find_redis_server
from launcher.sentinel import render_sentinel_conf, render_server_conf
from launcher.supervise import Home, Supervisor, redis_quote
from launcher.topology import RedisConfig, SentinelConfig
from reliability import LiveSystem, clustergate

MASTER = "cgtest"


def role_of(port: int) -> str | None:
    try:
        client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1, decode_responses=True)
        try:
            return client.role()[0]
        finally:
            client.close()
    except redis.RedisError:
        return None


def primary_port(ports: list[int]) -> int | None:
    """The one server among `ports` whose ROLE is master (None when none is, or more than one is)."""
    masters = [p for p in ports if role_of(p) == "master"]
    return masters[0] if len(masters) == 1 else None


def synced_replicas(port: int) -> int:
    """Replicas of the server at `port` whose link is up and caught up (state=online)."""
    info = redis.Redis(port=port, socket_timeout=1, decode_responses=True).info("replication")
    return sum(1 for k, v in info.items() if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online")


def pid_of_server(port: int) -> int:
    return int(redis.Redis(port=port, socket_timeout=1).info("server")["process_id"])


class SentinelSet:
    """Two data servers (the first primary) and three sentinels, started directly (no supervisord)."""

    def __init__(self, workdir: Path, down_after_ms: int = 1000, failover_timeout_ms: int = 5000):
        self.dir = workdir
        self.binary = find_redis_server() or "redis-server"
        self.server_ports = [free_port(), free_port()]
        self.sentinel_ports = [free_port(), free_port(), free_port()]
        self.down_after_ms, self.failover_timeout_ms = down_after_ms, failover_timeout_ms
        self.procs: dict[str, subprocess.Popen] = {}

    def config(self, timeout_ms: int = 500) -> RedisConfig:
        return RedisConfig(timeout_ms=timeout_ms, sentinel=SentinelConfig(
            master=MASTER, sentinels=[f"127.0.0.1:{p}" for p in self.sentinel_ports]))

    def _start(self, name: str, argv: list[str]) -> None:
        log = open(self.dir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def start_server(self, i: int, replicaof: int | None) -> None:
        d = self.dir / f"server-{i}"
        d.mkdir(parents=True, exist_ok=True)
        conf = d / "redis.conf"
        conf.write_text(render_server_conf(port=self.server_ports[i], bind="127.0.0.1", directory=str(d),
                                           maxmemory_mb=64, password=None, quote=redis_quote))
        role = ["--replicaof", "127.0.0.1", str(replicaof)] if replicaof else ["--replicaof", "no", "one"]
        self._start(f"server-{i}", [self.binary, str(conf), *role])

    def start(self) -> "SentinelSet":
        self.dir.mkdir(parents=True, exist_ok=True)
        self.start_server(0, None)
        self.start_server(1, self.server_ports[0])
        wait_for(lambda: role_of(self.server_ports[0]) == "master", 10, "the primary")
        wait_for(lambda: synced_replicas(self.server_ports[0]) == 1, 20, "the replica in sync")
        for i, port in enumerate(self.sentinel_ports):
            d = self.dir / f"sentinel-{i}"
            d.mkdir(parents=True, exist_ok=True)
            conf = d / "sentinel.conf"
            conf.write_text(render_sentinel_conf(
                port=port, bind="127.0.0.1", directory=str(d), master=MASTER, primary=("127.0.0.1", self.server_ports[0]),
                quorum=2, down_after_ms=self.down_after_ms, failover_timeout_ms=self.failover_timeout_ms,
                parallel_syncs=1, password=None, quote=redis_quote))
            self._start(f"sentinel-{i}", [self.binary, str(conf), "--sentinel"])
        wait_for(lambda: all(self.sentinel(i).execute_command("SENTINEL", "get-master-addr-by-name", MASTER)
                             for i in range(3)), 10, "the sentinels")
        # Each sentinel knows the replica and the two other sentinels before any failover is asked of them.
        wait_for(lambda: all(int(self.sentinel(i).sentinel_master(MASTER)["num-other-sentinels"]) == 2
                             and int(self.sentinel(i).sentinel_master(MASTER)["num-slaves"]) == 1
                             for i in range(3)), 30, "the sentinels to find each other and the replica")
        return self

    def sentinel(self, i: int) -> redis.Redis:
        return redis.Redis(port=self.sentinel_ports[i], socket_timeout=1, decode_responses=True)

    def primary(self) -> int | None:
        return primary_port(self.server_ports)

    def named_primary(self) -> int | None:
        """The port every sentinel names as primary, when they agree."""
        try:
            names = {int(self.sentinel(i).execute_command("SENTINEL", "get-master-addr-by-name", MASTER)[1])
                     for i in range(3)}
        except (redis.RedisError, TypeError):
            return None
        return names.pop() if len(names) == 1 else None

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(5)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def managed_sentinel_redis(**sentinel: Any) -> dict[str, Any]:
    """A redis: section with a managed Sentinel setup on free ports of 127.0.0.1."""
    return {"managed": True, "port": free_port(), "sentinel": {
        "master": MASTER, "servers": [f"127.0.0.1:{free_port()}" for _ in range(2)],
        "sentinels": [f"127.0.0.1:{free_port()}" for _ in range(3)], **sentinel}}


class SentinelLiveSystem(LiveSystem):
    """The demo topology on free ports, with a managed primary, replica and three sentinels, under its
    own supervisord."""

    def __init__(self, tmp: Path, **sentinel: Any):
        self.home = tmp / "home"
        self.data = retarget(demo_topology_data())
        self.data["redis"] = managed_sentinel_redis(**sentinel)
        self.data["redis"].pop("port")
        self.topology = write_topology(tmp / "demo-sentinel.yaml", self.data)
        self.gate_endpoint = self.data["actors"]["gate"]["sockets"]["proposals"]["bind"]
        self.supervisor = Supervisor(Home(self.home))
        self.server_ports = [int(s.rsplit(":", 1)[1]) for s in self.data["redis"]["sentinel"]["servers"]]

    def up(self) -> "SentinelLiveSystem":
        result = clustergate("up", str(self.topology), "--home", str(self.home))
        assert result.returncode == 0, result.stdout + result.stderr
        return self

    def primary(self) -> int | None:
        return primary_port(self.server_ports)

    def sentinels_settled(self) -> bool:
        """Every sentinel knows the two others and the replicas (Sentinel finds them by hello messages
        every 2 s): a failover asked before that may find no majority."""
        ports = [int(s.rsplit(":", 1)[1]) for s in self.data["redis"]["sentinel"]["sentinels"]]
        for port in ports:
            state = redis.Redis(port=port, socket_timeout=1, decode_responses=True).sentinel_master(MASTER)
            if int(state["num-other-sentinels"]) != len(ports) - 1 or int(state["num-slaves"]) != len(self.server_ports) - 1:
                return False
        return True

    def redis(self) -> redis.Redis:
        port = wait_for(self.primary, 30, "one primary")
        return redis.Redis(port=port, decode_responses=True, socket_timeout=5)

    def server_program(self, port: int) -> str:
        return f"redis-server-{self.server_ports.index(port) + 1}"

    def actor_pids(self) -> dict[str, int]:
        return {name: info["pid"] for name, info in self.processes().items() if not name.startswith("redis-")}


def kill_pid(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def stream_last_ms(r: redis.Redis, key: str) -> int:
    last = r.xrevrange(key, count=1)
    return int(last[0][0].split("-")[0]) if last else 0


def now_ms() -> int:
    return int(time.time() * 1000)


def recorded_decision_after(client: GateClient, deadline_s: float, interval_s: float = 0.02) -> float | None:
    """Seconds until a fresh proposal is decided and recorded, polling every interval_s; None past the deadline."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        try:
            reply = client.propose("BTCUSDT", "PARTIAL_25", plan_id=f"probe-{uuid.uuid4().hex}")
            if (reply.get("decision") or {}).get("recorded"):
                return time.monotonic() - start
        except GateUnavailable:
            pass
        time.sleep(interval_s)
    return None
