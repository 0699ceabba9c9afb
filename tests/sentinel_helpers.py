"""Redis under Sentinel for tests: a primary, a replica and three sentinels as real redis-server
processes (plain subprocesses, configs rendered by the launcher), and the demo topology under real
supervisord with a managed Sentinel setup."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import redis

from helpers import free_port, retarget, demo_topology_data, wait_for, write_topology
from launcher.redis_binary import find_redis_server
from launcher.sentinel import render_sentinel_conf, render_server_conf
from launcher.supervise import Home, Supervisor, redis_quote
from launcher.sentinel_harness import (MASTER, managed_sentinel_redis, pid_of_server, primary_port,  # noqa: F401
                                       recorded_decision_after, role_of, sentinels_settled, synced_replicas)
from launcher.topology import RedisConfig, SentinelConfig
from reliability import LiveSystem, clustergate


def sentinel_primary_answers(sentinel_port: int, master: str, password: str | None) -> bool:
    """Whether the primary the sentinel at 127.0.0.1:sentinel_port names for `master` answers PING (the actors' client,
    with `password`)."""
    from launcher.resp import RedisUnavailable, RespClient
    client = RespClient(sentinels=[("127.0.0.1", sentinel_port)], master=master, password=password, timeout_s=1.0)
    try:
        return client.call("PING") == "PONG"
    except RedisUnavailable:
        return False
    finally:
        client.close()
        client.close_watch()


def refused_ping(client: Any) -> Exception:
    """The RedisUnavailable a PING of `client` (launcher.resp's RespClient) raises; the client and its watch closed."""
    import pytest

    from launcher.resp import RedisUnavailable
    try:
        with pytest.raises(RedisUnavailable) as refused:
            client.call("PING")
    finally:
        client.close()
        client.close_watch()
    return refused.value


class SentinelSet:
    """`servers` data servers (the first primary, two by default) and three sentinels, started directly (no
    supervisord). `server_env` adds environment variables to data server i's process (the test hook for a server
    whose wall clock is off the others': LD_PRELOAD of tests/skewed_clock/step_clock.c with
    CLUSTERGATE_TEST_CLOCK_STEP_FILE), `sentinel_env` to sentinel i's."""

    def __init__(self, workdir: Path, down_after_ms: int = 2000, failover_timeout_ms: int = 5000, servers: int = 2,
                 server_env: dict[int, dict[str, str]] | None = None,
                 sentinel_env: dict[int, dict[str, str]] | None = None, ipv6_as: str | None = None):
        """ipv6_as: the servers and sentinels listen on ::1 too, the sentinels monitor [::1], and the topology names
        every one of them by this spelling of ::1 (e.g. 0:0:0:0:0:0:0:1)."""
        self.ipv6_as = ipv6_as
        self.bind, self.monitored = ("127.0.0.1 ::1", "::1") if ipv6_as else ("127.0.0.1", "127.0.0.1")
        self.dir = workdir
        self.binary = find_redis_server() or "redis-server"
        self.server_ports = [free_port() for _ in range(servers)]
        self.sentinel_ports = [free_port(), free_port(), free_port()]
        self.down_after_ms, self.failover_timeout_ms = down_after_ms, failover_timeout_ms
        self.procs: dict[str, subprocess.Popen] = {}
        self.server_env, self.sentinel_env = server_env or {}, sentinel_env or {}

    def config(self, timeout_ms: int = 500) -> RedisConfig:
        return RedisConfig(timeout_ms=timeout_ms, sentinel=SentinelConfig(
            master=MASTER, sentinels=[f"127.0.0.1:{p}" for p in self.sentinel_ports]))

    def _start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.dir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            env={**os.environ, **env} if env else None)
        log.close()

    def start_server(self, i: int, replicaof: int | None) -> None:
        d = self.dir / f"server-{i}"
        d.mkdir(parents=True, exist_ok=True)
        conf = d / "redis.conf"
        conf.write_text(render_server_conf(port=self.server_ports[i], bind=self.bind, directory=str(d),
                                           maxmemory_mb=64, password=None, quote=redis_quote))
        role = ["--replicaof", self.monitored, str(replicaof)] if replicaof else ["--replicaof", "no", "one"]
        self._start(f"server-{i}", [self.binary, str(conf), *role], self.server_env.get(i))

    def start(self) -> "SentinelSet":
        self.dir.mkdir(parents=True, exist_ok=True)
        self.start_server(0, None)
        for i in range(1, len(self.server_ports)):
            self.start_server(i, self.server_ports[0])
        replicas = len(self.server_ports) - 1
        wait_for(lambda: role_of(self.server_ports[0]) == "master", 10, "the primary")
        wait_for(lambda: synced_replicas(self.server_ports[0]) == replicas, 20, "the replicas in sync")
        for i, port in enumerate(self.sentinel_ports):
            d = self.dir / f"sentinel-{i}"
            d.mkdir(parents=True, exist_ok=True)
            (d / "sentinel.conf").write_text(render_sentinel_conf(
                port=port, bind=self.bind, directory=str(d), master=MASTER, primary=(self.monitored, self.server_ports[0]),
                quorum=2, down_after_ms=self.down_after_ms, failover_timeout_ms=self.failover_timeout_ms,
                parallel_syncs=1, password=None, quote=redis_quote))
            self.start_sentinel(i)
        wait_for(lambda: all(self.sentinel(i).execute_command("SENTINEL", "get-master-addr-by-name", MASTER)
                             for i in range(3)), 10, "the sentinels")
        # Each sentinel knows the replica and the two other sentinels before any failover is asked of them.
        wait_for(lambda: all(int(self.sentinel(i).sentinel_master(MASTER)["num-other-sentinels"]) == 2
                             and int(self.sentinel(i).sentinel_master(MASTER)["num-slaves"]) == replicas
                             for i in range(3)), 30, "the sentinels to find each other and the replicas")
        return self

    def topology(self, path: Path) -> Path:
        """A topology (the demo's actors, never started) whose redis: section is this set, for launcher tools."""
        data = retarget(demo_topology_data())
        host = f"[{self.ipv6_as}]" if self.ipv6_as else "127.0.0.1"
        data["redis"] = {"managed": True, "sentinel": {
            "master": MASTER, "servers": [f"{host}:{p}" for p in self.server_ports],
            "sentinels": [f"{host}:{p}" for p in self.sentinel_ports],
            "down_after_ms": self.down_after_ms, "failover_timeout_ms": self.failover_timeout_ms}}
        return write_topology(path, data)

    def start_sentinel(self, i: int) -> None:
        """Start sentinel i from its config file (as it last rewrote it)."""
        self._start(f"sentinel-{i}", [self.binary, str(self.dir / f"sentinel-{i}" / "sentinel.conf"), "--sentinel"],
                    self.sentinel_env.get(i))

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


class SentinelLiveSystem(LiveSystem):
    """The demo topology on free ports, with a managed primary, replica and three sentinels, under its
    own supervisord."""

    def __init__(self, tmp: Path, **sentinel: Any):
        self.home = tmp / "home"
        self.data = retarget(demo_topology_data())
        self.data["redis"] = managed_sentinel_redis(**sentinel)
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
        return sentinels_settled(self.data["redis"])

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


