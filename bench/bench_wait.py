"""The cost of WAIT per decision (issue 12, durability of decisions), and WAIT timeouts under a stopped replica.

Starts a redis-server primary and one replica (--replicaof) on free ports, and two gate + permit_issuer
pairs on that primary, as real processes: `permit_issuer` without WAIT (wait_replicas 0) and
`permit_issuer_b` with WAIT for 1 replica (wait_timeout_ms as given), each pair from a topology file of its own. The replica is attached in both
cases, so the only difference is the PUBLISH + WAIT in the issuer's pipeline.
  1. floors, in the same run: a bare Redis round trip (PING on a raw socket), SET + WAIT 1 pipelined on a raw
     socket (the Redis-level cost of WAIT), and a bare ZeroMQ REQ/REP round trip to an echo process;
  2. closed loop: one REQ client per pair, proposals alternated between the two pairs (fresh plan_ids),
     latency of each call;
  3. the replica SIGSTOPped: proposals to the WAIT pair, their latency and reasons; then SIGCONT and the
     same plan_ids resubmitted (replayed, recorded).

    .venv/bin/python bench/bench_wait.py [--count 2000] [--stopped 20] [--wait-timeout-ms 100]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import zmq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import exit_on_sigterm  # noqa: E402
from launcher import keys  # noqa: E402
from launcher.harness import (PYTHON, ActorProcess, RedisServer, demo_topology_data, free_port, retarget,  # noqa: E402
                              scrape, wait_for, write_topology)
from launcher.replica_harness import ReplicaServer  # noqa: E402

ACTIONS = ("HOLD", "PARTIAL_25", "PARTIAL_50", "PARTIAL_75", "FULL_CLOSE_PROPOSED")
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
BOOK = {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0), "SOLUSDT": (-40.0, 150.0)}
ECHO = ("import sys, zmq\nctx = zmq.Context()\ns = ctx.socket(zmq.REP)\ns.bind(sys.argv[1])\n"
        "while True:\n    s.send(s.recv())\n")


def percentiles_ms(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    if not v:
        return {}
    at = lambda q: v[min(len(v) - 1, int(round(q * (len(v) - 1))))] * 1000.0  # noqa: E731
    return {"p50_ms": round(at(0.50), 3), "p99_ms": round(at(0.99), 3), "max_ms": round(v[-1] * 1000.0, 3), "n": len(v)}


def raw_round_trips(port: int, payload: bytes, replies: int, count: int) -> list[float]:
    """Latency of `count` round trips of a pre-encoded RESP payload expecting `replies` reply lines."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    out = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            sock.sendall(payload)
            got = b""
            while got.count(b"\r\n") < replies:
                got += sock.recv(4096)
            out.append(time.perf_counter() - started)
    finally:
        sock.close()
    return out


def zmq_round_trips(ctx: zmq.Context, count: int) -> list[float]:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    echo = subprocess.Popen([PYTHON, "-c", ECHO, endpoint])
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    out = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            sock.send(b'{"plan_id":"x"}')
            if not sock.poll(10000):
                raise RuntimeError("the echo process did not answer")
            sock.recv()
            out.append(time.perf_counter() - started)
    finally:
        sock.close(linger=0)
        echo.kill()
        echo.wait(5)
    return out


def proposal(i: int, plan_id: str | None = None) -> dict:
    return {"plan_id": plan_id or uuid.uuid4().hex, "symbol": SYMBOLS[i % 3], "action_proposed": ACTIONS[i % 5],
            "kill_score": 0.5}


def ask(sock: zmq.Socket, body: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    sock.send(json.dumps(body).encode())
    if not sock.poll(10000):
        raise RuntimeError("the gate did not answer within 10 s")
    reply = json.loads(sock.recv())
    return time.perf_counter() - started, reply


def topology(primary_url: str, wait_timeout_ms: int) -> dict:
    data = retarget(demo_topology_data(), primary_url)
    actors = data["actors"]
    actors["permit_issuer"]["settings"] = {**(actors["permit_issuer"].get("settings") or {}), "wait_replicas": 0}
    issuer, gate = copy.deepcopy(actors["permit_issuer"]), copy.deepcopy(actors["gate"])
    issuer_endpoint = f"tcp://127.0.0.1:{free_port()}"
    issuer.update(kind="permit_issuer", metrics_port=free_port())
    issuer["settings"] = {**issuer["settings"], "wait_replicas": 1, "wait_timeout_ms": wait_timeout_ms}
    issuer["sockets"]["requests"]["bind"] = issuer_endpoint
    gate.update(kind="gate", metrics_port=free_port())
    gate["sockets"]["proposals"]["bind"] = f"tcp://127.0.0.1:{free_port()}"
    gate["sockets"]["permits"]["connect"] = issuer_endpoint
    actors["permit_issuer_b"], actors["gate_b"] = issuer, gate
    return data


def main() -> int:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000, help="proposals per pair in the closed loop")
    parser.add_argument("--stopped", type=int, default=20, help="proposals sent while the replica is stopped")
    parser.add_argument("--wait-timeout-ms", type=int, default=100)
    args = parser.parse_args()
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    ctx = zmq.Context()
    procs: list[ActorProcess] = []
    with tempfile.TemporaryDirectory(prefix="bench-wait-") as tmp:
        workdir = Path(tmp)
        primary = RedisServer(workdir / "primary").start()
        replica = None
        try:
            replica = ReplicaServer(workdir / "replica", primary).start()
            data = topology(primary.url, args.wait_timeout_ms)
            # One topology file a pair: validation refuses permit issuers of one topology that wait for different
            # numbers of replicas (a plan_id replayed by the other pair would be recorded on fewer replicas).
            paths = {}
            for pair, issuer in (("a", "permit_issuer"), ("b", "permit_issuer_b")):
                own = copy.deepcopy(data)
                for other in ("permit_issuer", "permit_issuer_b"):
                    own["actors"][other]["settings"] = copy.deepcopy(data["actors"][issuer]["settings"])
                paths[pair] = write_topology(workdir / f"topology-{pair}.yaml", own)
            for name, kind, pair in (("permit_issuer", "permit_issuer", "a"), ("permit_issuer_b", "permit_issuer", "b"),
                                     ("gate", "gate", "a"), ("gate_b", "gate", "b")):
                procs.append(ActorProcess(paths[pair], name, kind=kind, log_dir=workdir).start())
            for name in ("permit_issuer", "permit_issuer_b"):
                port = data["actors"][name]["metrics_port"]
                wait_for(lambda port=port, name=name: scrape(port).get(
                    f'clustergate_actor_ready{{actor="{name}",kind="permit_issuer"}}') == 1.0, 20, f"{name} ready")
            r = primary.client()
            now = int(time.time())
            for symbol, (amt, price) in BOOK.items():
                r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": price, "ts_epoch": now})
            r.hset(keys.CLUSTER_STATE, mapping={"updated_ts": now, "cluster_stress": 0.748, "clusters_count": 1})
            socks = {}
            for label, gate in (("without_wait", "gate"), ("with_wait", "gate_b")):
                sock = ctx.socket(zmq.REQ)
                sock.setsockopt(zmq.LINGER, 0)
                sock.connect(data["actors"][gate]["sockets"]["proposals"]["bind"])
                socks[label] = sock
            for i in range(50):  # warm-up, and both gates answering
                for sock in socks.values():
                    ask(sock, proposal(i))

            floors = {
                "redis_ping": percentiles_ms(raw_round_trips(primary.port, b"*1\r\n$4\r\nPING\r\n", 1, args.count)),
                "redis_set_then_wait_1": percentiles_ms(raw_round_trips(
                    primary.port, b"*3\r\n$3\r\nSET\r\n$5\r\nbench\r\n$1\r\n1\r\n*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$3\r\n100\r\n",
                    2, args.count)),
                "zmq_req_rep": percentiles_ms(zmq_round_trips(ctx, args.count)),
            }
            latencies: dict[str, list[float]] = {"without_wait": [], "with_wait": []}
            faults = {"without_wait": 0, "with_wait": 0}
            for i in range(args.count):
                for label in (("without_wait", "with_wait") if i % 2 else ("with_wait", "without_wait")):
                    elapsed, reply = ask(socks[label], proposal(i))
                    latencies[label].append(elapsed)
                    if reply.get("decision", {}).get("recorded") is not True:
                        faults[label] += 1
            decided = {label: {**percentiles_ms(v), "not_recorded": faults[label]} for label, v in latencies.items()}

            replica.pause()
            stopped_lat, reasons, plans = [], {}, []
            try:
                for i in range(args.stopped):
                    body = proposal(i)
                    plans.append(body)
                    elapsed, reply = ask(socks["with_wait"], body)
                    stopped_lat.append(elapsed)
                    reason = reply.get("decision", {}).get("gate_reason", reply.get("reason"))
                    reasons[reason] = reasons.get(reason, 0) + 1
                on_primary = sum(bool(r.exists(keys.plan_decision(b["plan_id"]))) for b in plans)
            finally:
                replica.resume()
            wait_for(replica.synced, 20, "the replica to catch up")
            replayed = 0
            for body in plans:
                _, reply = ask(socks["with_wait"], body)
                d = reply.get("decision", {})
                replayed += bool(d.get("replayed") and d.get("recorded"))
            on_replica = sum(bool(replica.client().exists(keys.plan_decision(b["plan_id"]))) for b in plans)
            result = {
                "machine": platform.processor() or platform.machine(),
                "cpu": next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                             if line.startswith("model name")), "?"),
                "load_before_after": [load_before, Path("/proc/loadavg").read_text().split()[:3]],
                "floors": floors,
                "closed_loop": decided,
                "replica_stopped": {"wait_timeout_ms": args.wait_timeout_ms, **percentiles_ms(stopped_lat),
                                    "reasons": reasons, "decisions_on_primary": on_primary,
                                    "after_sigcont_replayed_recorded": replayed, "on_replica_after": on_replica},
            }
            print(json.dumps(result, indent=2))
            for sock in socks.values():
                sock.close(linger=0)
        finally:
            for proc in procs:
                proc.terminate()
            if replica is not None:
                replica.stop()
            primary.stop()
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
