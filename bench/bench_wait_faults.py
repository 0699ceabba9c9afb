"""Durability of decisions under replica faults, then a primary failover (issue 12, attack on WAIT).

Starts a redis-server primary and one replica (--replicaof), and one gate + permit_issuer pair whose issuer WAITs
for 1 replica, as real processes. Four client threads send proposals (fresh plan_ids, random symbol and action)
while the replica suffers, every 0.5 to 1.5 s, one of: SIGSTOP for 50-500 ms; SIGKILL and restart (a full
resync from an empty replica); 15 SIGSTOP/SIGCONT pulses of 20 ms (a slow link); 40 MB of bulk writes to the
primary (a replication backlog); nothing. After each reply that says recorded while the replica was up the
whole time, its decision is looked up on the replica at once. At the end the primary is SIGKILLed under load,
the replica promoted (REPLICAOF NO ONE), and every decision a client got with `recorded: true` before the kill
is looked up on it (key and stream record). Prints counts, and the issuer's and the gate's counters side by side
(written + replica_unacknowledged at the issuer = p26_gate_writes_total at the gate).

    .venv/bin/python bench/bench_wait_faults.py [--seconds 30] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import exit_on_sigterm  # noqa: E402
from launcher import keys  # noqa: E402
from launcher.client import GateClient  # noqa: E402
from launcher.harness import (ActorProcess, RedisServer, demo_topology_data, retarget, scrape,  # noqa: E402
                              wait_for, write_topology)
from launcher.replica_harness import ReplicaServer  # noqa: E402

BOOK = {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0), "SOLUSDT": (-40.0, 150.0)}
ACTIONS = ("HOLD", "PARTIAL_25", "PARTIAL_50", "FULL_CLOSE_PROPOSED")
CLIENTS = 4
PER_CLIENT_MAX = 20000


class Faults:
    """The replica's state as the clients see it: `epoch` moves at each start and end of a fault."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.epoch = 0
        self.up = True

    def begin(self) -> None:
        with self.lock:
            self.up, self.epoch = False, self.epoch + 1

    def end(self) -> None:
        with self.lock:
            self.up, self.epoch = True, self.epoch + 1

    def now(self) -> tuple[int, bool]:
        with self.lock:
            return self.epoch, self.up


def main() -> int:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the faults go on")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    with tempfile.TemporaryDirectory(prefix="bench-wait-faults-") as tmp:
        workdir = Path(tmp)
        primary = RedisServer(workdir / "primary").start()
        replica = None
        procs: list[ActorProcess] = []
        stop = threading.Event()
        threads: list[threading.Thread] = []
        try:
            replica = ReplicaServer(workdir / "replica", primary).start()
            data = retarget(demo_topology_data(), primary.url)
            actors = data["actors"]
            actors["permit_issuer"]["settings"] = {**(actors["permit_issuer"].get("settings") or {}),
                                                   "wait_replicas": 1, "wait_timeout_ms": 100}
            actors["gate"]["settings"] = {**(actors["gate"].get("settings") or {}), "permit_timeout_ms": 1000}
            path = write_topology(workdir / "topology.yaml", data)
            procs.append(ActorProcess(path, "permit_issuer", log_dir=workdir).start())
            issuer_port, gate_port = actors["permit_issuer"]["metrics_port"], actors["gate"]["metrics_port"]
            wait_for(lambda: scrape(issuer_port).get(
                'clustergate_actor_ready{actor="permit_issuer",kind="permit_issuer"}') == 1.0, 20, "the issuer ready")
            procs.append(ActorProcess(path, "gate", log_dir=workdir).start())
            r = primary.client()
            now = int(time.time())
            for symbol, (amt, price) in BOOK.items():
                r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": price,
                                                                "ts_epoch": now})
            endpoint = actors["gate"]["sockets"]["proposals"]["bind"]
            wait_for(lambda: scrape(gate_port).get('clustergate_actor_ready{actor="gate",kind="gate"}') == 1.0, 20,
                     "the gate ready")
            faults = Faults()
            replies: list[tuple[str, dict, bool | str | None]] = []

            def client_loop(seed: int) -> None:
                crnd = random.Random(seed)
                client = GateClient(endpoint, timeout_ms=4000, retries=0)
                check = redis.Redis(port=replica.port, decode_responses=True, socket_timeout=0.3)
                for _ in range(PER_CLIENT_MAX):
                    if stop.is_set():
                        break
                    plan_id = uuid.uuid4().hex
                    sent_epoch, sent_up = faults.now()
                    try:
                        reply = client.propose(crnd.choice(list(BOOK)), crnd.choice(ACTIONS), plan_id=plan_id)
                    except Exception:  # noqa: BLE001  (GateUnavailable: a new socket, and go on)
                        client.close()
                        client = GateClient(endpoint, timeout_ms=4000, retries=0)
                        continue
                    checked: bool | str | None = None
                    if (reply.get("decision") or {}).get("recorded") and sent_up and faults.now() == (sent_epoch, True):
                        try:
                            checked = check.get(keys.plan_decision(plan_id)) is not None
                        except redis.RedisError as exc:
                            checked = repr(exc)
                        if faults.now() != (sent_epoch, True):
                            checked = None  # a fault began while looking: not a fair check
                    replies.append((plan_id, reply, checked))
                client.close()

            threads = [threading.Thread(target=client_loop, args=(args.seed * 100 + i,)) for i in range(CLIENTS)]
            for t in threads:
                t.start()
            counts: dict[str, int] = {}
            ends = time.monotonic() + args.seconds
            while time.monotonic() < ends:
                time.sleep(rnd.uniform(0.5, 1.5))
                fault = rnd.choice(("pause", "kill", "flap", "backlog", "none"))
                counts[fault] = counts.get(fault, 0) + 1
                if fault == "pause":
                    faults.begin()
                    replica.pause()
                    time.sleep(rnd.uniform(0.05, 0.5))
                    replica.resume()
                    faults.end()
                elif fault == "kill":
                    faults.begin()
                    replica.proc.kill()
                    replica.proc.wait()
                    time.sleep(rnd.uniform(0.05, 0.3))
                    replica.start()  # empty (no persistence): a full resync
                    faults.end()
                elif fault == "flap":
                    faults.begin()
                    for _ in range(15):
                        replica.pause()
                        time.sleep(0.02)
                        replica.resume()
                        time.sleep(0.02)
                    faults.end()
                elif fault == "backlog":
                    pipe = r.pipeline(transaction=False)
                    for j in range(40):
                        pipe.set(f"bench:bulk:{j}", "x" * 1_000_000)
                    pipe.execute()
                    r.delete(*[f"bench:bulk:{j}" for j in range(40)])
            before_kill = len(replies)
            primary.proc.send_signal(signal.SIGKILL)
            primary.proc.wait()
            stop.set()
            for t in threads:
                t.join(30)
            issuer_metrics, gate_metrics = scrape(issuer_port), scrape(gate_port)  # every reply is in
            promoted = replica.client()
            promoted.execute_command("REPLICAOF", "NO", "ONE")
            recorded = [p for p, reply, _ in replies[:before_kill] if (reply.get("decision") or {}).get("recorded")]
            on_stream = {f["plan_id"] for _, f in promoted.xrange(keys.GATE_STREAM)}
            reasons: dict[str, int] = {}
            for _, reply, _ in replies:
                d = reply.get("decision") or {}
                key = "recorded" if d.get("recorded") else str(d.get("gate_reason") or reply.get("reason"))
                reasons[key] = reasons.get(key, 0) + 1
            issuer_of = {result: issuer_metrics.get(f'permit_issuer_requests_total{{result="{result}"}}', 0.0)
                         for result in ("written", "replayed", "replica_unacknowledged", "redis_unavailable")}
            result = {
                "cpu": next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                             if line.startswith("model name")), "?"),
                "load_before_after": [load_before, Path("/proc/loadavg").read_text().split()[:3]],
                "faults": counts,
                "replies": len(replies), "reasons": reasons,
                "recorded_before_kill": len(recorded),
                "recorded_missing_on_promoted_replica": sum(
                    promoted.get(keys.plan_decision(p)) is None for p in recorded),
                "recorded_missing_from_promoted_stream": sum(p not in on_stream for p in recorded),
                "immediate_replica_checks": sum(c is True for *_, c in replies),
                "immediate_replica_checks_failed": sum(c not in (None, True) for *_, c in replies),
                "permit_true_with_recorded_false": sum(
                    bool((reply.get("decision") or {}).get("permit") and not reply["decision"].get("recorded"))
                    for _, reply, _ in replies),
                "issuer_requests": issuer_of,
                "gate_writes": gate_metrics.get("p26_gate_writes_total"),
                "gate_fail_closed_replica_unacknowledged": gate_metrics.get(
                    'p26_fail_closed_total{reason="replica_unacknowledged"}'),
            }
            print(json.dumps(result, indent=2))
        finally:
            stop.set()
            for t in threads:
                t.join(30)
            for proc in procs:
                proc.terminate()
            if replica is not None:
                replica.stop()
            primary.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
