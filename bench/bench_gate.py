"""Benchmark of the P2.6 path: proposal -> gate -> permit issuer -> Redis -> decision, on loopback.

Starts its own redis-server on a free port and real gate and permit issuer processes, then:
  1. open loop: proposals sent on a fixed schedule (default 1,000/s for 30 s) through a DEALER, so a
     slow reply never delays the next send; latency = reply time - scheduled send time;
  2. closed loop: one REQ client, next proposal when the reply arrives; and a window of in-flight
     proposals, for the maximum throughput;
  3. RSS of the gate and the permit issuer (psutil);
  4. how long each takes to exit after SIGTERM (docs/operating.md promises 2 s).
Only recorded decisions count: a fault HOLD (`recorded` false: redis_unavailable, permit_unavailable)
is reported on its own, never as a decision served. After each phase the benchmark checks that every
decision it counted has its record (the plan's decision key and its stream entry) and every permit it
was told of exists in Redis; a missing one fails the run (exit 1), whatever the timings.
  5. the floors, measured in the same run: the latency floor (2 ZeroMQ round trips + 1 Redis script call,
     back to back) and the CPU floor (a relay where the gate is and an echo with one Redis SET where the
     issuer is, under the open loop's schedule: FLOOR_RELAY, FLOOR_ECHO).
Targets: p50 <= 0.5 ms, p99 <= 2 ms, >= 3,000 decisions/s closed loop, <= 40 MB RSS each, exit <= 2 s;
issue 14: CPU per decision at 1,000/s open loop gate <= 120 us, issuer <= 80 us; one REQ client p50 <= 0.35 ms.

    .venv/bin/python bench/bench_gate.py [--rate 1000] [--seconds 30] [--closed-seconds 5] [--redis-password PW]

--redis-password runs its Redis with a password, as configs/production.yaml does: the gate then signs each request
to the permit issuer and the issuer each reply (docs/faults-and-security.md); without it nothing is signed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import redis as redis_py
import zmq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import exit_on_sigterm, work_dir  # noqa: E402
from launcher import keys  # noqa: E402
from launcher.harness import (ActorProcess, RedisServer, demo_topology_data, free_port, retarget, wait_for,  # noqa: E402
                     write_topology)
from launcher.topology import RedisConfig  # noqa: E402

ACTIONS = ("HOLD", "PARTIAL_25", "PARTIAL_50", "PARTIAL_75", "FULL_CLOSE_PROPOSED")
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
BOOK = {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0), "SOLUSDT": (-40.0, 150.0)}
TARGETS = {"p50_ms": 0.5, "p99_ms": 2.0, "closed_loop_per_s": 3000.0, "rss_mb": 40.0, "shutdown_s": 2.0,
           "cpu_gate_us": 120.0, "cpu_permit_issuer_us": 80.0, "req_p50_ms": 0.35}
FAULT_REASONS = ("redis_unavailable", "permit_unavailable", "replica_unacknowledged")
# The issuer keeps every record younger than 60 s (the permit/cooldown TTL) and refuses (stream_full) past
# stream_maxlen (100,000) of them: a closed loop of 10 s at up to 5,000/s plus the default open loop
# (30,000) stays under it. Longer runs would measure refusals, not decisions.
MAX_CLOSED_SECONDS = 10.0


def stream_full(decision: dict) -> bool:
    """A fault HOLD the issuer's stream_full refusal gave (the stream's time-based trim could not make room)."""
    return "stream_full" in str(decision.get("detail", ""))


def recorded(decision: dict) -> bool:
    """A decision the permit issuer recorded; a fault HOLD says `recorded` false."""
    return decision.get("recorded") is not False and decision.get("gate_reason") not in FAULT_REASONS


def check_recorded(r, decisions: list[tuple[str, bool]]) -> dict[str, int]:
    """For (plan_id, permit) of each counted decision: how many lack their decision key, their entry on
    the gate stream, or (when the reply carried a permit) the permit key."""
    stream_ids: set[str] = set()
    last = "-"
    while True:
        batch = r.xrange(keys.GATE_STREAM, min=last, count=10000)
        if last != "-":
            batch = batch[1:]
        if not batch:
            break
        stream_ids.update(fields["plan_id"] for _, fields in batch)
        last = batch[-1][0]
    pipe = r.pipeline(transaction=False)
    for plan_id, permit in decisions:
        pipe.exists(keys.plan_decision(plan_id))
        pipe.exists(keys.permit(plan_id))
    found = pipe.execute()
    missing = {"counted": len(decisions), "records_missing": 0, "stream_missing": 0, "permits_missing": 0}
    for i, (plan_id, permit) in enumerate(decisions):
        missing["records_missing"] += not found[2 * i]
        missing["stream_missing"] += plan_id not in stream_ids
        missing["permits_missing"] += bool(permit) and not found[2 * i + 1]
    return missing


def sigterm_exit_s(proc) -> float | None:
    """Seconds from SIGTERM to the process's exit (None, and killed, after 10 s)."""
    started = time.perf_counter()
    proc.proc.send_signal(signal.SIGTERM)
    try:
        proc.proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.terminate()
        return None
    return time.perf_counter() - started


def proposal(i: int) -> bytes:
    return json.dumps({"plan_id": uuid.uuid4().hex, "symbol": SYMBOLS[i % 3], "action_proposed": ACTIONS[i % 5],
                       "kill_score": 0.5}, separators=(",", ":")).encode()


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[index]


def write_state(r) -> None:
    now = int(time.time())
    for symbol, (amt, price) in BOOK.items():
        r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": price, "ts_epoch": now})
    r.hset(keys.CLUSTER_STATE, mapping={"updated_ts": now, "cluster_stress": 0.748, "clusters_count": 1})


# The open loops' clients wait with sock.poll(wait_ms), and wait_ms is under 1 ms at 1,000/s: zmq_poll counts
# whole milliseconds, so the client spins, about 0.9-0.97 of a core of this 2-core machine. Kept on purpose:
# a client sleeping to the microsecond (select() on the socket's ZeroMQ FD, 0.21-0.31 of a core) made the
# bare relay and echo of the floor slower and dearer, not cheaper (3 Dec 2026, AMD EPYC, three alternating
# pairs, load 2.4-3.1: p50 0.39-0.52 ms spinning vs 0.63-1.40 sleeping; relay CPU 166-182 vs 198-286
# us/message); why is not measured (a guess: waking an idle virtual CPU costs more than a busy one).
def open_loop(ctx: zmq.Context, endpoint: str, rate: float, seconds: float) -> dict:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 100000)
    sock.setsockopt(zmq.RCVHWM, 100000)
    sock.connect(endpoint)
    total = int(rate * seconds)
    payloads = [proposal(i) for i in range(total)]
    plan_ids = [json.loads(p)["plan_id"] for p in payloads]
    scheduled: dict[str, float] = {}
    latencies: list[float] = []
    errors = 0
    permits = 0
    fault_holds = full_holds = 0
    counted: list[tuple[str, bool]] = []
    start = time.perf_counter() + 0.05
    sent = 0
    deadline = start + seconds + 5.0
    while (sent < total or len(latencies) + errors < total) and time.perf_counter() < deadline:
        now = time.perf_counter()
        while sent < total and start + sent / rate <= now:
            scheduled[plan_ids[sent]] = start + sent / rate
            sock.send_multipart([b"", payloads[sent]])
            sent += 1
        wait_ms = 0 if sent < total and start + sent / rate <= time.perf_counter() else \
            max(0.0, ((start + sent / rate) - time.perf_counter()) * 1000) if sent < total else 100
        if sock.poll(wait_ms, zmq.POLLIN):
            while True:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                received = time.perf_counter()
                reply = json.loads(frames[-1])
                if reply.get("status") != "ok":
                    errors += 1
                    continue
                decision = reply["decision"]
                if not recorded(decision):
                    fault_holds += 1
                    full_holds += stream_full(decision)
                    continue
                latencies.append(received - scheduled[decision["plan_id"]])
                permits += bool(decision["permit"])
                counted.append((decision["plan_id"], bool(decision["permit"])))
    sock.close(linger=0)
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return {"rate_per_s": rate, "seconds": seconds, "sent": sent, "answered": len(latencies), "errors": errors,
            "fault_holds": fault_holds, "stream_full_holds": full_holds, "permits": permits, "counted": counted, "p50_ms": percentile(ms, 0.50), "p90_ms": percentile(ms, 0.90),
            "p99_ms": percentile(ms, 0.99), "p999_ms": percentile(ms, 0.999), "max_ms": ms[-1] if ms else None}


def closed_loop(ctx: zmq.Context, endpoint: str, seconds: float, window: int) -> dict:
    """`window` proposals in flight; window 1 is a plain REQ client waiting for each reply."""
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    done = fault_holds = full_holds = errors = 0
    counted: list[tuple[str, bool]] = []
    round_trips: list[float] = []  # window 1: each proposal's send-to-reply time
    i = 0
    for _ in range(window):
        sent_at = time.perf_counter()
        sock.send_multipart([b"", proposal(i)])
        i += 1
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        if not sock.poll(1000, zmq.POLLIN):
            break
        reply = json.loads(sock.recv_multipart()[-1])
        received = time.perf_counter()
        decision = reply.get("decision") if reply.get("status") == "ok" else None
        if decision is None:
            errors += 1
        elif not recorded(decision):
            fault_holds += 1
            full_holds += stream_full(decision)
        else:
            done += 1
            counted.append((decision["plan_id"], bool(decision["permit"])))
            if window == 1:
                round_trips.append(received - sent_at)
        sent_at = time.perf_counter()
        sock.send_multipart([b"", proposal(i)])
        i += 1
    elapsed = time.perf_counter() - start
    for _ in range(window):  # drain
        if sock.poll(1000, zmq.POLLIN):
            sock.recv_multipart()
    sock.close(linger=0)
    round_trips.sort()
    ms = [x * 1000 for x in round_trips]
    return {"window": window, "decisions": done, "fault_holds": fault_holds, "stream_full_holds": full_holds,
            "errors": errors, "counted": counted, "seconds": round(elapsed, 3), "per_s": done / elapsed,
            "p50_ms": percentile(ms, 0.50) if ms else None, "p99_ms": percentile(ms, 0.99) if ms else None}


class CpuMeter:
    """User+system CPU time of each process over a phase, per decision: much less sensitive to the
    machine's load than wall-clock rates (on a shared machine, wall time includes waiting for a core).
    Each process's time is also split by thread: its main thread (the actor's Python) and libzmq's I/O
    thread (`ZMQbg/IO/0`: the TCP reads and writes and the hand-offs to the main thread, which no change
    to the actor's Python removes); other threads (the metrics server, libzmq's reaper) make up the rest."""

    def __init__(self, procs: dict[str, psutil.Process]):
        self.procs = procs
        self.before = {name: p.cpu_times() for name, p in procs.items()}
        self.threads_before = {name: thread_cpu(p) for name, p in procs.items()}

    def per_decision_us(self, decisions: int) -> dict[str, dict[str, float]]:
        out = {}
        n = max(1, decisions)
        for name, p in self.procs.items():
            now, before = p.cpu_times(), self.before[name]
            user, system = now.user - before.user, now.system - before.system
            threads_now, threads_before = thread_cpu(p), self.threads_before[name]
            by_thread = {"main": 0.0, "zmq_io": 0.0}
            for tid, (kind, seconds) in threads_now.items():
                if kind in by_thread:
                    by_thread[kind] += 1e6 * (seconds - threads_before.get(tid, (kind, 0.0))[1]) / n
            out[name] = {"total": 1e6 * (user + system) / n, "user": 1e6 * user / n,
                         "system": 1e6 * system / n, **by_thread}
        return out


def thread_cpu(process: psutil.Process) -> dict[int, tuple[str, float]]:
    """thread id -> (main, zmq_io or other, user+system seconds so far) of one process."""
    out = {}
    for thread in process.threads():
        if thread.id == process.pid:
            kind = "main"
        else:
            try:
                with open(f"/proc/{process.pid}/task/{thread.id}/comm") as comm:
                    kind = "zmq_io" if comm.read().startswith("ZMQbg/IO") else "other"
            except OSError:  # the thread ended
                kind = "other"
        out[thread.id] = (kind, thread.user_time + thread.system_time)
    return out


def internal_times(data: dict) -> dict:
    """Mean times the actors measure themselves, from their metrics (ms)."""
    from launcher.harness import scrape
    gate_m = scrape(data["actors"]["gate"]["metrics_port"])
    issuer_m = scrape(data["actors"]["permit_issuer"]["metrics_port"])

    def mean(m: dict, name: str) -> float:
        count = m.get(f"{name}_count", 0.0)
        return 1000 * m.get(f"{name}_sum", 0.0) / count if count else float("nan")
    return {"gate_time_to_permit": mean(gate_m, "p26_time_to_permit_seconds"),
            "issuer_write": mean(issuer_m, "permit_issuer_write_seconds")}


# A REP echo server in its own process: the bare ZeroMQ round trip the gate's path is built from.
ECHO_SERVER = """
import sys, zmq
sock = zmq.Context().socket(zmq.REP)
sock.bind(sys.argv[1])
while True:
    sock.send(sock.recv())
"""


# --redis-password: the run's Redis password (None: none), which the actors, the floors and the checks use.
PASSWORD: str | None = None
PASSWORD_ENV = RedisConfig().password_env  # demo_topology_data sets none: the default variable


def redis_client(server: RedisServer) -> "redis_py.Redis":
    """The benchmark's own client of its Redis, with the run's password."""
    return redis_py.Redis(port=server.port, password=PASSWORD, decode_responses=True, socket_timeout=2)


def calibrate(redis_server, calls: int = 5000) -> dict[str, float]:
    """Median round trips of the parts a decision is made of, on this machine, back to back: a bare
    ZeroMQ REQ/REP echo between two processes (200-byte message) and a Redis SET through the actors'
    own client. Issue #4 quotes about 60 us and 110 us for its machine; a decision costs two ZeroMQ
    round trips (client-gate, gate-issuer) and one Redis script call, plus the actors' Python."""
    from launcher.resp import RespClient
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    server = subprocess.Popen([sys.executable, "-c", ECHO_SERVER, endpoint])
    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, 10000)
        sock.connect(endpoint)
        payload = b"x" * 200
        zmq_us = []
        for i in range(calls + 500):
            t0 = time.perf_counter()
            sock.send(payload)
            sock.recv()
            if i >= 500:
                zmq_us.append((time.perf_counter() - t0) * 1e6)
    finally:
        ctx.destroy(linger=0)
        server.kill()
        server.wait()
    client = RespClient(host="127.0.0.1", port=redis_server.port, password=PASSWORD)
    redis_us = []
    for i in range(calls + 500):
        t0 = time.perf_counter()
        client.call("SET", "bench:calibrate", "1")
        if i >= 500:
            redis_us.append((time.perf_counter() - t0) * 1e6)
    client.call("DEL", "bench:calibrate")
    # One call of the permit issuer's own script (a HOLD decision, fresh plan_id, on bench-only keys).
    from actors.permit_issuer import RECORD_DECISION, ScriptArgs, script_call
    args = ScriptArgs(decision_ttl="60", hold_ttl="60", stream_cap="100000", permit_ttl="60", cooldown_ttl="60",
                      retention_ms="60000")
    script_us = []
    for i in range(calls // 5 + 100):
        decision = {"plan_id": f"cal{i}", "symbol": "BTCUSDT", "action_proposed": "HOLD", "final_action": "HOLD",
                    "gate_reason": "pass", "stress": 0.5, "heat": 0.5, "concentration": 0.5, "corr_proxy": 0.5,
                    "K": 0.5, "k_source": "proxy", "kill_score": 0.5, "ts_epoch": int(time.time())}
        keys_, argv, _ = script_call(decision, "0", args)
        keys_ = ("bench:cal:decision:" + decision["plan_id"], "bench:cal:stream", "bench:cal:permit", "bench:cal:cooldown")
        t0 = time.perf_counter()
        RECORD_DECISION.run_many(client, [(keys_, argv)])
        if i >= 100:
            script_us.append((time.perf_counter() - t0) * 1e6)
    client.close()
    zmq_rt, script = statistics.median(zmq_us), statistics.median(script_us)
    return {"zmq_req_rep_roundtrip_us": zmq_rt, "redis_set_roundtrip_us": statistics.median(redis_us),
            "redis_script_call_us": script, "floor_us": 2 * zmq_rt + script}


# The CPU floor of a decision at the open loop's rate: the same processes and hops with no work in them.
# A relay where the gate is (ROUTER bound for the clients, a poll loop, a REQ round trip per message to
# the next process, the reply back) and an echo where the permit issuer is (REP, one Redis SET per
# message on a plain blocking socket, the request sent back); Redis's floor is that SET. pyzmq as the
# actors use it; no code of this repository, so the floor is the same for any version of the actors.
FLOOR_RELAY = """
import sys, zmq
ctx = zmq.Context()
front = ctx.socket(zmq.ROUTER)
front.bind(sys.argv[1])
back = ctx.socket(zmq.REQ)
back.connect(sys.argv[2])
poller = zmq.Poller()
poller.register(front, zmq.POLLIN)
while True:
    if poller.poll(100):
        frames = front.recv_multipart()
        back.send(frames[-1])
        frames[-1] = back.recv()
        front.send_multipart(frames)
"""
# The lowest CPU any process in the gate's place can cost with ZeroMQ between processes: libzmq's own
# proxy (zmq_proxy, C, no Python per message) from a ROUTER for the clients to a DEALER to the echo.
FLOOR_PROXY = """
import sys, zmq
ctx = zmq.Context()
front = ctx.socket(zmq.ROUTER)
front.bind(sys.argv[1])
back = ctx.socket(zmq.DEALER)
back.connect(sys.argv[2])
zmq.proxy(front, back)
"""
FLOOR_ECHO = """
import socket, sys, zmq
from hiredis import pack_command
redis = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
redis.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
redis.settimeout(None)
if len(sys.argv) > 3:  # --redis-password: the floor authenticates once, and signs nothing
    redis.sendall(pack_command(("AUTH", sys.argv[3])))
    assert redis.recv(64) == b"+OK\\r\\n"
sock = zmq.Context().socket(zmq.REP)
sock.bind(sys.argv[1])
while True:
    request = sock.recv()
    redis.sendall(pack_command(("SET", "bench:floor", request)))
    assert redis.recv(64) == b"+OK\\r\\n"
    sock.send(request)
"""


def cpu_floor(ctx: zmq.Context, redis_server, redis_proc: psutil.Process, rate: float, seconds: float,
              middle: str = FLOOR_RELAY) -> dict:
    """CPU per message (us, user+sys) of `middle` (FLOOR_RELAY or FLOOR_PROXY) where the gate is, FLOOR_ECHO
    and Redis under the open loop's schedule."""
    front, back = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    echo = subprocess.Popen([sys.executable, "-c", FLOOR_ECHO, back, str(redis_server.port), *([PASSWORD] if PASSWORD else [])])
    relay = subprocess.Popen([sys.executable, "-c", middle, front, back])
    sock = ctx.socket(zmq.DEALER)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(front)
        sock.send_multipart([b"", proposal(0)])
        wait_for(lambda: sock.poll(100, zmq.POLLIN), 20, "the floor's relay to answer")
        sock.recv_multipart()
        meter = CpuMeter({"gate": psutil.Process(relay.pid), "permit_issuer": psutil.Process(echo.pid),
                          "redis": redis_proc})
        total = int(rate * seconds)
        payloads = [proposal(i) for i in range(total)]
        start = time.perf_counter() + 0.05
        sent = answered = 0
        latencies: list[float] = []
        deadline = start + seconds + 5.0
        while answered < total and time.perf_counter() < deadline:
            now = time.perf_counter()
            while sent < total and start + sent / rate <= now:
                sock.send_multipart([b"", payloads[sent]])
                sent += 1
            wait_ms = max(0.0, (start + sent / rate - time.perf_counter()) * 1000) if sent < total else 100
            if sock.poll(wait_ms, zmq.POLLIN):
                while True:
                    try:
                        sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    # one client, a middle that serves one message at a time: replies come in send order
                    latencies.append(time.perf_counter() - (start + answered / rate))
                    answered += 1
        per = meter.per_decision_us(answered)
    finally:
        sock.close(linger=0)
        for proc in (relay, echo):
            proc.kill()
            proc.wait()
    ms = sorted(x * 1000 for x in latencies)
    return {"messages": answered, "sent": sent, "cpu_us": {name: v["total"] for name, v in per.items()},
            "by_part": per, "p50_ms": percentile(ms, 0.50), "p99_ms": percentile(ms, 0.99)}


def times_floor(value_us: float, floor_us: float) -> str:
    """value as a multiple of its CPU floor; a short run can read a floor of 0 (CPU time is counted in
    clock ticks), which is reported, not divided by."""
    return f"{value_us / floor_us:.1f}x its floor" if floor_us > 0 else "its floor read 0 us (run too short)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--closed-seconds", type=float, default=5.0)
    parser.add_argument("--floor-seconds", type=float, default=10.0,
                        help="the CPU floor's open loop (same rate), right after the decisions' open loop")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "gate.json"))
    parser.add_argument("--redis-password", default=None,
                        help="require this password on the benchmark's Redis, as configs/production.yaml does: the gate "
                             "then signs each request to the issuer and the issuer each reply (docs/faults-and-"
                             "security.md); the floors authenticate once and sign nothing")
    args = parser.parse_args()
    if args.closed_seconds > MAX_CLOSED_SECONDS:
        parser.error(f"--closed-seconds {args.closed_seconds:g}: at most {MAX_CLOSED_SECONDS:g} s, so the run's records "
                     f"stay under the issuer's stream_maxlen within its 60 s retention (stream_full HOLDs would "
                     f"be measured instead of decisions)")
    exit_on_sigterm()

    global PASSWORD
    PASSWORD = args.redis_password or None
    # The actors take the password from this variable (redis.password_env): set it to the run's, or clear one the
    # caller's environment holds, which a Redis without a password would refuse.
    os.environ.pop(PASSWORD_ENV, None)
    with work_dir("bench_gate_") as workdir:
        redis = RedisServer(workdir / "redis").start()
        if PASSWORD:
            redis.client().config_set("requirepass", PASSWORD)
            os.environ[PASSWORD_ENV] = PASSWORD
        data = retarget(demo_topology_data(), redis.url)
        topology = write_topology(workdir / "topology.yaml", data)
        issuer = ActorProcess(topology, "permit_issuer", log_dir=workdir).start()
        gate = ActorProcess(topology, "gate", log_dir=workdir).start()
        endpoint = data["actors"]["gate"]["sockets"]["proposals"]["bind"]
        ctx = zmq.Context()
        try:
            r = redis_client(redis)
            write_state(r)
            probe = ctx.socket(zmq.DEALER)
            probe.setsockopt(zmq.LINGER, 0)
            probe.connect(endpoint)
            probe.send_multipart([b"", proposal(0)])
            wait_for(lambda: probe.poll(100, zmq.POLLIN), 20, "the gate to answer")
            probe.close(linger=0)
            closed_warm = closed_loop(ctx, endpoint, 1.0, 1)  # warm-up, not reported
            del closed_warm
            procs = {"gate": psutil.Process(gate.proc.pid), "permit_issuer": psutil.Process(issuer.proc.pid),
                     "redis": psutil.Process(redis.proc.pid)}
            cpu_phases: dict[str, dict] = {}
            write_state(r)
            meter = CpuMeter(procs)
            opened = open_loop(ctx, endpoint, args.rate, args.seconds)
            cpu_phases["open_loop"] = meter.per_decision_us(opened["answered"] + opened["errors"])
            checks = {"open_loop": check_recorded(r, opened.pop("counted"))}
            floor_cpu = cpu_floor(ctx, redis, procs["redis"], args.rate, args.floor_seconds)
            proxy_cpu = cpu_floor(ctx, redis, procs["redis"], args.rate, args.floor_seconds, middle=FLOOR_PROXY)
            write_state(r)
            meter = CpuMeter(procs)
            closed_1 = closed_loop(ctx, endpoint, args.closed_seconds, 1)
            cpu_phases["closed_loop_req"] = meter.per_decision_us(closed_1["decisions"] + 1)
            checks["closed_loop_req"] = check_recorded(r, closed_1.pop("counted"))
            write_state(r)
            meter = CpuMeter(procs)
            closed_8 = closed_loop(ctx, endpoint, args.closed_seconds, 8)
            cpu_phases["closed_loop_window8"] = meter.per_decision_us(closed_8["decisions"] + 8)
            checks["closed_loop_window8"] = check_recorded(r, closed_8.pop("counted"))
            cpu_us = {n: cpu_phases["closed_loop_window8"][n]["total"] for n in ("gate", "permit_issuer")}
            rss = {name: psutil.Process(p.proc.pid).memory_info().rss / 1e6 for name, p in
                   (("gate", gate), ("permit_issuer", issuer))}
            stream_len = r.xlen(keys.GATE_STREAM)
            internals = internal_times(data)
            # The calibration runs on a quiet machine; stopping them measures the shutdown promise.
            shutdown_s = {"gate": sigterm_exit_s(gate), "permit_issuer": sigterm_exit_s(issuer)}
            machine_check = calibrate(redis)
        finally:
            ctx.destroy(linger=0)  # not term(): a socket left open by a failed start-up would block it forever
            gate.terminate()
            issuer.terminate()
            redis.stop()

    closed_max = max(closed_1["per_s"], closed_8["per_s"])
    floor_ms = machine_check["floor_us"] / 1000.0
    check_problems = [f"{phase}: {v} of {c['counted']} counted decisions" for phase, c in checks.items()
                      for k, v in c.items() if k != "counted" and v]
    check_problems += [f"{phase}: no recorded decision counted" for phase, c in checks.items() if not c["counted"]]
    result = {
        "machine": {"python": platform.python_version(), "cpus": psutil.cpu_count(), "platform": platform.platform()},
        "redis_password": PASSWORD is not None,
        "open_loop": opened, "closed_loop_req": closed_1, "closed_loop_window8": closed_8,
        "closed_loop_max_per_s": closed_max, "rss_mb": rss, "internal_mean_ms": internals,
        "cpu_us_per_decision": cpu_us, "cpu_us_per_decision_open_loop": {n: cpu_phases["open_loop"][n]["total"] for n in procs}, "checks": checks, "check_problems": check_problems, "shutdown_s": shutdown_s, "machine_check": machine_check, "cpu_us_per_decision_by_phase": cpu_phases, "load_average": list(psutil.getloadavg()), "floor_ms": floor_ms,
        "open_loop_p50_x_floor": opened["p50_ms"] / floor_ms, "open_loop_p99_x_floor": opened["p99_ms"] / floor_ms,
        "open_loop_floor_p99_ms": floor_cpu["p99_ms"], "open_loop_proxy_floor_p99_ms": proxy_cpu["p99_ms"],
        "closed_loop_req_p50_x_floor": (closed_1["p50_ms"] or math.nan) / floor_ms,
        "cpu_floor": floor_cpu, "cpu_floor_us": floor_cpu["cpu_us"], "cpu_floor_proxy": proxy_cpu, "gate_stream_len": stream_len, "targets": TARGETS,
        "pass": {"p50": opened["p50_ms"] <= TARGETS["p50_ms"], "p99": opened["p99_ms"] <= TARGETS["p99_ms"],
                 "closed_loop": closed_max >= TARGETS["closed_loop_per_s"],
                 "req_p50": (closed_1["p50_ms"] or math.inf) <= TARGETS["req_p50_ms"],
                 "cpu_gate": cpu_phases["open_loop"]["gate"]["total"] <= TARGETS["cpu_gate_us"],
                 "cpu_permit_issuer": cpu_phases["open_loop"]["permit_issuer"]["total"] <= TARGETS["cpu_permit_issuer_us"],
                 "rss_gate": rss["gate"] <= TARGETS["rss_mb"], "rss_permit_issuer": rss["permit_issuer"] <= TARGETS["rss_mb"],
                 **{f"shutdown_{name}": s is not None and s <= TARGETS["shutdown_s"] for name, s in shutdown_s.items()}},
    }
    rows = [
        ("open loop", f"{opened['rate_per_s']:.0f}/s x {opened['seconds']:.0f} s",
         f"recorded decisions {opened['answered']}/{opened['sent']}, fault HOLDs {opened['fault_holds']}, errors {opened['errors']}"),
        ("records checked", f"{sum(c['counted'] for c in checks.values())}",
         "decision key, stream entry and permit of every counted decision: "
         + ("all present" if not check_problems else "MISSING " + "; ".join(check_problems))),
        ("stream_full HOLDs", f"{opened['stream_full_holds'] + closed_1['stream_full_holds'] + closed_8['stream_full_holds']}",
         "open / closed: the stream held stream_maxlen records younger than the TTL (see --closed-seconds)"),
        ("floor", f"{floor_ms:.3f} ms", "2 ZeroMQ round trips + 1 Redis script call, measured in this run"),
        ("p50 latency", f"{opened['p50_ms']:.3f} ms", f"{opened['p50_ms'] / floor_ms:.1f}x floor; target <= {TARGETS['p50_ms']} ms"),
        ("p99 latency", f"{opened['p99_ms']:.3f} ms", f"{opened['p99_ms'] / floor_ms:.1f}x floor; target <= {TARGETS['p99_ms']} ms"),
        ("p99.9 latency", f"{opened['p999_ms']:.3f} ms", ""),
        ("latency floor, same open loop", f"{floor_cpu['p99_ms']:.3f} ms",
         f"p99 (p50 {floor_cpu['p50_ms']:.3f} ms) of the CPU floor's run below: the same hops, rate and client with a "
         f"bare relay and echo in the actors' places; ZeroMQ proxy in the gate's place: p99 {proxy_cpu['p99_ms']:.3f} ms"),
        ("max latency", f"{opened['max_ms']:.3f} ms", ""),
        ("closed loop, 1 REQ", f"{closed_1['per_s']:.0f}/s",
         f"p50 {closed_1['p50_ms']:.3f} ms ({closed_1['p50_ms'] / floor_ms:.1f}x floor; target <= {TARGETS['req_p50_ms']} ms), "
         f"p99 {closed_1['p99_ms']:.3f} ms"),
        ("closed loop, 8 in flight", f"{closed_8['per_s']:.0f}/s", f"target >= {TARGETS['closed_loop_per_s']:.0f}/s"),
        ("gate time to permit (mean)", f"{internals['gate_time_to_permit']:.3f} ms", "inside the gate, issuer included"),
        ("issuer Redis script (mean)", f"{internals['issuer_write']:.3f} ms", ""),
        *[(f"CPU per decision, {name}", " / ".join(f"{cpu_phases[phase][name]['total']:.0f}" for phase in cpu_phases) + " us",
           "user+sys: open loop / closed 1 REQ / closed 8 in flight; open loop "
           + times_floor(cpu_phases['open_loop'][name]['total'], floor_cpu['cpu_us'][name])
           + (f"; target <= {TARGETS[f'cpu_{name}_us']:.0f} us" if f"cpu_{name}_us" in TARGETS else ""))
          for name in procs],
        *[(f"  of which main / ZeroMQ I/O, {name}",
           f"{cpu_phases['open_loop'][name]['main']:.0f} / {cpu_phases['open_loop'][name]['zmq_io']:.0f} us",
           f"open loop; floor {floor_cpu['by_part'][name]['main']:.0f} / {floor_cpu['by_part'][name]['zmq_io']:.0f} us "
           "(the threads of the bare relay or echo)")
          for name in ("gate", "permit_issuer")],
        *[(f"  of which user / kernel, {name}",
           f"{cpu_phases['open_loop'][name]['user']:.0f} / {cpu_phases['open_loop'][name]['system']:.0f} us",
           f"open loop; floor {floor_cpu['by_part'][name]['user']:.0f} / {floor_cpu['by_part'][name]['system']:.0f} us "
           "(kernel: the threads' wake-ups, TCP, polls)")
          for name in ("gate", "permit_issuer")],
        ("CPU floor, gate", f"{floor_cpu['cpu_us']['gate']:.0f} us",
         f"a bare relay where the gate is, {floor_cpu['messages']} messages at {args.rate:.0f}/s"),
        ("CPU floor, gate, no Python", f"{proxy_cpu['cpu_us']['gate']:.0f} us",
         f"libzmq's own proxy (zmq_proxy) where the gate is, main {proxy_cpu['by_part']['gate']['main']:.0f} / "
         f"ZeroMQ I/O {proxy_cpu['by_part']['gate']['zmq_io']:.0f} us: the least a process in the gate's place "
         f"costs with ZeroMQ between processes"),
        ("CPU floor, permit_issuer", f"{floor_cpu['cpu_us']['permit_issuer']:.0f} us",
         "a bare REP echo with one Redis SET where the issuer is"),
        ("CPU floor, redis", f"{floor_cpu['cpu_us']['redis']:.0f} us", "that one SET"),
        ("ZeroMQ REQ/REP round trip", f"{machine_check['zmq_req_rep_roundtrip_us']:.0f} us", "bare echo between two processes, median (issue #4: about 60 us)"),
        ("Redis SET round trip", f"{machine_check['redis_set_roundtrip_us']:.0f} us", "the actors' client, median (issue #4: about 110 us)"),
        ("Redis script call", f"{machine_check['redis_script_call_us']:.0f} us", "the issuer's RECORD_DECISION, one HOLD, median"),
        ("load average (1 min)", f"{psutil.getloadavg()[0]:.2f}", f"on {psutil.cpu_count()} CPUs"),
        ("Redis password", "yes" if PASSWORD else "no",
         "gate requests and issuer replies signed (keyed BLAKE2b)" if PASSWORD else
         "nothing signed; --redis-password measures production.yaml's signed requests and replies"),
        ("RSS gate", f"{rss['gate']:.1f} MB", f"target <= {TARGETS['rss_mb']:.0f} MB"),
        ("RSS permit_issuer", f"{rss['permit_issuer']:.1f} MB", f"target <= {TARGETS['rss_mb']:.0f} MB"),
        *[(f"exit after SIGTERM, {name}", "did not exit in 10 s" if s is None else f"{s:.3f} s",
           f"target <= {TARGETS['shutdown_s']:g} s (docs/operating.md)") for name, s in shutdown_s.items()],
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")
    print("all targets met" if all(result["pass"].values()) else
          "targets missed: " + ", ".join(k for k, v in result["pass"].items() if not v))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    if check_problems:
        print("CHECK FAILED: counted decisions without their record or permit: " + "; ".join(check_problems))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
