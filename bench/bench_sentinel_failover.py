"""Sentinel failover time with the shipped settings, on one host. Not a timed test.

    .venv/bin/python -m bench.bench_sentinel_failover [--runs 5] [--load 0|200] [--planned] [--servers 2|3]
                                                      [--out FILE.json]

The demo topology on free ports with a managed primary, replica and three sentinels (shipped timings:
down-after 2000 ms, failover-timeout 5000 ms, quorum 2 of 3) under its own supervisord. Each run
starts from a healthy pair (replica in sync, every sentinel aware of the others and the replica), sends
SIGKILL to the primary's redis-server, and times:
- new primary: until every sentinel names the promoted replica;
- decisions resume: until a fresh proposal is decided with `recorded: true` (a prober every 20 ms);
with `--load N`, N proposals/s from 4 clients run throughout. Floors in the same run: the configured
down-after-milliseconds (no failover can start sooner), and a healthy decision's round trip (p50 of
50). supervisord restarts the killed server; it rejoins as the new primary's replica before the next run.
With `--planned`, each run asks the sentinels for a failover (SENTINEL FAILOVER) instead of killing the
primary, and counts the load's decisions by gate_reason from the request until the old primary is the
new one's replica again (with `--servers 3`: a primary and two replicas). Every loop is bounded in count
and time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import work_dir  # noqa: E402
from launcher.client import GateClient, GateUnavailable  # noqa: E402
from launcher.ha_load import force_failover  # noqa: E402
from launcher.harness import demo_topology_data, free_port, retarget, scrape, wait_for, write_topology  # noqa: E402
from launcher.sentinel_harness import (managed_sentinel_redis, pid_of_server, ports_of, primary_port,  # noqa: E402
                                       recorded_decision_after, sentinels_settled, synced_replicas)
from launcher.supervise import Home, Supervisor  # noqa: E402


class System:
    """The demo topology on free ports with a managed Sentinel setup, under its own supervisord."""

    def __init__(self, tmp: Path, servers: int = 2):
        self.home = tmp / "home"
        self.data = retarget(demo_topology_data())
        self.data["redis"] = managed_sentinel_redis(servers=[f"127.0.0.1:{free_port()}" for _ in range(servers)])
        self.topology = write_topology(tmp / "demo-sentinel.yaml", self.data)
        self.gate_endpoint = self.data["actors"]["gate"]["sockets"]["proposals"]["bind"]
        self.servers = ports_of(self.data["redis"], "servers")

    def clustergate(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "launcher", *args], capture_output=True, text=True, cwd=REPO,
                              timeout=300)

    def up(self) -> None:
        result = self.clustergate("up", str(self.topology), "--home", str(self.home))
        if result.returncode != 0:
            raise SystemExit(result.stdout + result.stderr)

    def down(self) -> None:
        self.clustergate("down", "--home", str(self.home))

    def every_actor_ready(self) -> bool:
        states = {info["name"]: info["statename"] for info in Supervisor(Home(self.home)).processes()}
        return all(s == "RUNNING" for s in states.values()) and all(
            any(k.startswith("clustergate_actor_ready") and v == 1.0 for k, v in scrape(spec["metrics_port"]).items())
            for spec in self.data["actors"].values())

    def primary(self) -> int | None:
        return primary_port(self.servers)


class Load:
    """`threads` GateClients proposing at `rate_s` per second in total, each call bounded (timeout, 2 retries)."""

    def __init__(self, endpoint: str, rate_s: float, threads: int = 4):
        self.endpoint, self.period_s, self.stop_event = endpoint, threads / rate_s, threading.Event()
        self.sent = 0
        self.started = time.monotonic()
        self.replies: list[tuple[float, str]] = []  # (when, gate_reason; GateUnavailable: "no_reply")
        self.workers = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for worker in self.workers:
            worker.start()

    def run(self) -> None:
        client = GateClient(self.endpoint, timeout_ms=2000, retries=2)
        next_at = time.monotonic()
        try:
            while not self.stop_event.is_set():
                try:
                    reply = client.propose("ETHUSDT", "PARTIAL_50", plan_id=f"load-{uuid.uuid4().hex}")
                    reason = str((reply.get("decision") or {}).get("gate_reason", reply.get("status")))
                except GateUnavailable:
                    reason = "no_reply"
                self.replies.append((time.monotonic(), reason))
                self.sent += 1  # (one += per thread at a time under the GIL; a count, not a ledger)
                next_at = max(next_at + self.period_s, time.monotonic() - self.period_s)  # no catch-up bursts
                time.sleep(max(0.0, next_at - time.monotonic()))
        finally:
            client.close()

    def stop(self) -> dict[str, float]:
        self.stop_event.set()
        for worker in self.workers:
            worker.join(30)
        took = time.monotonic() - self.started
        return {"proposals": self.sent, "achieved_per_s": round(self.sent / took, 1)}


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "?")
    except OSError:
        model = platform.processor() or "?"
    return model


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def healthy_round_trip_ms(client: GateClient, n: int = 50) -> float:
    times = []
    for _ in range(n):
        start = time.monotonic()
        client.propose("BTCUSDT", "HOLD", plan_id=f"floor-{uuid.uuid4().hex}")
        times.append((time.monotonic() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--load", type=float, default=0.0, help="proposals/s in total from 4 clients (0: none)")
    p.add_argument("--planned", action="store_true", help="SENTINEL FAILOVER instead of SIGKILL of the primary")
    p.add_argument("--servers", type=int, default=2, help="data servers: a primary and N-1 replicas")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    with work_dir("cg-bench-sentinel-") as tmp:
        system = System(tmp, args.servers)
        load = None
        result: dict = {"machine": machine(), "runs": []}
        try:
            system.up()
            wait_for(system.every_actor_ready, 60, "every actor ready")
            from launcher.topology import load_topology
            sentinel_cfg = load_topology(system.topology).redis.sentinel
            result["down_after_ms"] = sentinel_cfg.down_after_ms
            probe = GateClient(system.gate_endpoint, timeout_ms=2000, retries=0)
            if args.load:
                load = Load(system.gate_endpoint, args.load)
            for n in range(args.runs):
                primary = wait_for(system.primary, 60, "one primary")
                wait_for(lambda: synced_replicas(primary) == args.servers - 1, 60, "the replicas in sync")
                wait_for(lambda: sentinels_settled(system.data["redis"]), 60, "the sentinels settled")
                assert recorded_decision_after(probe, 30) is not None
                floor_ms = healthy_round_trip_ms(probe)
                load_before = load_average()
                killed = time.monotonic()
                if args.planned:
                    answer = force_failover(str(system.topology))
                    assert answer == "OK", answer
                else:
                    os.kill(pid_of_server(primary), signal.SIGKILL)
                took = recorded_decision_after(probe, 60)
                named = wait_for(lambda: (p := system.primary()) not in (None, primary) and p, 60, "a new primary")
                run = {"killed_port": primary, "new_primary": named, "decisions_resume_s": took,
                       "healthy_decision_ms_p50": round(floor_ms, 2), "load_before": load_before,
                       "load_after": load_average(), "elapsed_s": round(time.monotonic() - killed, 2)}
                if args.planned and load is not None:  # the failover's decisions, until the old primary is a replica again
                    wait_for(lambda: synced_replicas(named) == args.servers - 1, 60, "the old primary in sync as a replica")
                    time.sleep(1.0)  # (the load's replies in flight)
                    during = [(t - killed, r) for t, r in list(load.replies) if t >= killed]
                    run["decisions_by_reason"] = dict(Counter(r for _, r in during))
                    unacknowledged = [t for t, r in during if r == "replica_unacknowledged"]
                    if unacknowledged:  # seconds after the failover was asked
                        run["replica_unacknowledged_from_to_s"] = [round(unacknowledged[0], 2), round(unacknowledged[-1], 2)]
                print(json.dumps(run), flush=True)
                result["runs"].append(run)
            if load is not None:
                result["load"] = load.stop()
                load = None
            # Failovers the sentinels made, to compare with the kills: one more means a needless one (at
            # down-after 1000 ms the just-promoted primary was once seen down and failed over again).
            sentinel_log = Path(system.home) / "run" / "logs" / "redis-sentinel-1.log"
            result["switch_master_seen"] = sentinel_log.read_text(errors="replace").count("+switch-master")
            times = [r["decisions_resume_s"] for r in result["runs"] if r["decisions_resume_s"] is not None]
            result.update(load_per_s=args.load, p50_s=round(statistics.median(times), 3), max_s=round(max(times), 3),
                          min_s=round(min(times), 3))
            print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(result, indent=1) + "\n")
            return 0
        finally:
            if load is not None:
                load.stop()
            system.down()


if __name__ == "__main__":
    raise SystemExit(main())
