"""Redis under Sentinel across three hosts (network namespaces, launcher/netns.py): the primary on
store, its replica on exec, one sentinel on each of store, exec and market. The whole store host is
crashed (SIGKILL of every process of it: supervisord, the primary, a sentinel); the two other
sentinels are a majority and promote exec's replica; the gates reach it with no actor restarted (and
fail closed, HOLD replica_unacknowledged, while it has no replica to WAIT for). When store comes back
its server rejoins as the new primary's replica, not as a second primary, and decisions are recorded
again. Nothing is
sent anywhere but loopback and the namespace addresses."""

from __future__ import annotations

import json
import os
import signal

from helpers import wait_for
from launcher.multihost_harness import SYSTEM_HOSTS, MultiHost, write_topology
from launcher.supervise import Home, home_processes


def sentinel_redis() -> dict:
    # Distinct ports on each host: the namespace hosts share one /tmp, where `up` locks the ports it
    # is about to bind by number (real hosts each have their own).
    return {"managed": True, "password_env": "CLUSTERGATE_REDIS_PASSWORD", "timeout_ms": 250,
            "sentinel": {"master": "clustergate", "servers": ["store:6390", "exec:6391"],
                         "sentinels": ["store:26390", "exec:26391", "market:26392"]}}


def roles(system: MultiHost, host: str) -> dict[str, str | None]:
    result = system.clustergate(host, "status", "--host", host, "--home", str(system.home(host)), "--json", timeout=60)
    # 1: not every check passed (with store down the promoted primary has no replica: NO FAILOVER POSSIBLE), 3: DEGRADED
    # (a gate on the proxy); the programs' roles still read
    if result.returncode not in (0, 1, 3):
        return {}
    return {row["name"]: row.get("role") for row in json.loads(result.stdout)["programs"] if "role" in row}


def test_the_store_host_crashed_the_sentinels_promote_the_replica_on_exec_and_store_rejoins_as_replica(test_hosts, tmp_path):
    hosts = test_hosts([*SYSTEM_HOSTS, "ops"])
    system = MultiHost(hosts, tmp_path)
    system.data["redis"] = sentinel_redis()
    system.topology = write_topology(tmp_path, system.data)
    try:
        for host, result in system.up_all().items():
            assert result.returncode == 0, f"{host}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
        assert set(system.pids("store")) == {"redis-server-1", "redis-sentinel-1"}
        assert {"redis-server-2", "redis-sentinel-2", "gate"} <= set(system.pids("exec"))
        assert wait_for(lambda: roles(system, "store").get("redis-server-1") == "master"
                        and roles(system, "exec").get("redis-server-2") == "slave", 60, "primary on store, replica on exec")
        wait_for(lambda: system.decision().get("recorded"), 60, "a recorded decision")
        # The sentinels on exec and market learn of the replica from the primary's INFO (every 10 s):
        # a crash before that cannot be failed over (-failover-abort-no-good-slave, seen).
        wait_for(lambda: "knows 1 replica(s), 2 other" in (roles(system, "exec").get("redis-sentinel-2") or "")
                 and "knows 1 replica(s), 2 other" in (roles(system, "market").get("redis-sentinel-3") or ""), 60,
                 "the sentinels on exec and market to know the replica and each other")
        # Every program ready at one moment: polled, since on a loaded machine one actor of the four hosts may be
        # between two states for an instant (CI, 7 Dec 2026: the state writer not ready in a single snapshot).
        answers = []

        def all_ready() -> bool:
            answers.append(system.clustergate("ops", "status", str(system.topology), "--all-hosts", "--json",
                                              timeout=60))
            return answers[-1].returncode == 0
        try:
            wait_for(all_ready, 60, "status --all-hosts to find every program ready")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; its last answer: {answers[-1].stdout if answers else None}") from None
        everywhere = answers[-1]
        redis_rows = {row["name"]: row["ready"] for info in json.loads(everywhere.stdout)["hosts"].values()
                      for row in info["programs"] if row["kind"].startswith("redis")}
        assert redis_rows == {"redis-server-1": True, "redis-server-2": True, "redis-sentinel-1": True,
                              "redis-sentinel-2": True, "redis-sentinel-3": True}, everywhere.stdout
        # ... and says, as the one-host status does, whether the sentinels can still fail over.
        assert json.loads(everywhere.stdout)["sentinel"]["failover_possible"] is True, everywhere.stdout
        assert everywhere.returncode == 0, everywhere.stdout
        actor_pids = {h: {n: p for n, p in system.pids(h).items() if not n.startswith("redis-")} for h in ("market", "exec")}

        # Crash store: every process of its home, supervisord first so nothing is restarted.
        store = sorted(home_processes(Home(system.home("store"))), key=lambda p: p.what != "supervisord")
        assert {p.what for p in store} >= {"supervisord", "redis-server"}
        for proc in store:
            os.kill(proc.pid, signal.SIGKILL)

        wait_for(lambda: roles(system, "exec").get("redis-server-2") == "master", 90, "exec's replica promoted")
        # The promoted primary has no replica while store is down, and the issuer WAITs for one (on by
        # default with replicas): the gates reach the new primary and fail closed, outcome unknown.
        wait_for(lambda: system.decision().get("gate_reason") == "replica_unacknowledged", 90,
                 "the gates deciding on the new primary (HOLD replica_unacknowledged: no replica yet)")
        # ... and status says so: no replica to promote, a crash of the new primary could not be failed over (harev)
        said = json.loads(system.clustergate("exec", "status", "--host", "exec", "--home", str(system.home("exec")),
                                             "--json", timeout=60).stdout)["sentinel"]
        assert said["failover_possible"] is False and said.get("no_replica") is True, said
        assert {h: {n: p for n, p in system.pids(h).items() if not n.startswith("redis-")}
                for h in ("market", "exec")} == actor_pids  # no actor restarted

        # store comes back: its server follows the sentinels with the newest epoch (exec's and market's),
        # not its own sentinel's file from before the crash.
        result = system.up("store")
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        wait_for(lambda: roles(system, "store").get("redis-server-1") == "slave", 90, "store's server back as a replica")
        # ... from its very start (Sentinel would demote a second primary too, after taking writes on it).
        log = (system.home("store") / "run" / "logs" / "redis-server-1.log").read_text()
        starts = [line for line in log.splitlines() if line.startswith("redis_node: sentinels answer")]
        assert len(starts) == 2 and starts[-1].endswith(f"--replicaof {hosts['exec'].address} 6391"), starts
        assert roles(system, "exec").get("redis-server-2") == "master"
        wait_for(lambda: system.decision().get("recorded"), 60, "decisions after store is back")
    finally:
        for host in SYSTEM_HOSTS:
            system.down(host)
