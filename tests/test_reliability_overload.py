"""Overload: five times the measured closed-loop throughput, offered for 10 s by clients that do not
wait for replies. The gate queues within its high-water marks, its memory stays bounded, and it
serves normally afterwards."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psutil
import pytest
import zmq

from actors import keys
from helpers import ActorProcess, RedisServer, demo_topology_data, retarget, scrape, wait_for, write_topology
from launcher.client import GateClient, GateUnavailable
from reliability import ACTIONS, ProposalLoad

BOOK = {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0), "SOLUSDT": (-40.0, 150.0)}
MEASURE_S = 3.0
BLAST_S = 10.0
OVERLOAD_FACTOR = 5
DEALERS = 16
# The bound under test is the shipped gate's proposals hwm (configs/demo.yaml: 100): each connected
# client can park at most that many requests in the gate. libzmq keeps each queued request's receive
# buffer (its 8 KiB read batch) alive, so the queue can cost up to DEALERS x hwm x 8 KiB (12.5 MiB at
# hwm 100), plus the Python heap of the replies in flight. Measured (issue 19): growth 6-11 MB with
# hwm 100; 55-96 MB when the hwm is ignored (libzmq's default 1000), which this bound must catch.
ZMQ_READ_BATCH_BYTES = 8192
HEAP_SLACK_MB = 8.0
# After the blast stops, the gate still answers what was queued: at most hwm per client in its own
# pipes, and about as many again in flight in the loopback socket buffers (measured: 2,289 with hwm
# 100; 9,622 when the hwm is ignored).
QUEUED_IN_FLIGHT_FACTOR = 2


def rss_growth_bound_mb(hwm: int) -> float:
    return DEALERS * hwm * ZMQ_READ_BATCH_BYTES / 2**20 + HEAP_SLACK_MB


def queued_bound(hwm: int) -> int:
    return QUEUED_IN_FLIGHT_FACTOR * DEALERS * hwm


@pytest.fixture
def gate_system(tmp_path: Path):
    """Gate and permit issuer as real processes against a real redis-server, with a fresh book."""
    server = RedisServer(tmp_path / "redis").start()
    data = retarget(demo_topology_data(), server.url)
    assert data["actors"]["gate"]["sockets"]["proposals"]["hwm"] == 100, "the shipped bound this test pins"
    topo = write_topology(tmp_path / "topology.yaml", data)
    r = server.client()
    now = int(time.time())
    for symbol, (amt, price) in BOOK.items():
        r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": price, "ts_epoch": now})
    procs = [ActorProcess(topo, "permit_issuer", log_dir=tmp_path).start(), ActorProcess(topo, "gate", log_dir=tmp_path).start()]
    endpoint = data["actors"]["gate"]["sockets"]["proposals"]["bind"]
    wait_for(lambda: serves_a_recorded_decision(endpoint, "warmup"), 30, "the gate to answer")
    try:
        yield {"endpoint": endpoint, "gate": procs[1], "redis": r, "metrics_port": data["actors"]["gate"]["metrics_port"],
               "hwm": data["actors"]["gate"]["sockets"]["proposals"]["hwm"]}
    finally:
        for proc in procs:
            proc.terminate()
        server.stop()


def serves_a_recorded_decision(endpoint: str, plan_id: str) -> dict | None:
    with GateClient(endpoint, timeout_ms=5000, retries=0) as client:
        try:
            reply = client.propose("ETHUSDT", "PARTIAL_25", plan_id=f"{plan_id}-{time.monotonic_ns()}")
        except GateUnavailable:
            return None
    decision = reply.get("decision") or {}
    return decision if reply.get("status") == "ok" and decision.get("recorded") else None


def measure_closed_loop_throughput(endpoint: str) -> float:
    """Decisions per second of a few clients that each wait for their reply."""
    load = ProposalLoad(endpoint, threads=4, rate_per_thread=1e6, timeout_ms=5000, retries=0, seed=3).start()
    started = time.monotonic()
    wait_for(lambda: time.monotonic() - started >= MEASURE_S, MEASURE_S + 5, "the measuring window", interval_s=0.1)
    outcomes = load.stop()
    elapsed = time.monotonic() - started
    return sum(1 for o in outcomes if o.decision is not None) / elapsed


class Blast:
    """DEALER clients that offer `rate` proposals per second and never wait for a reply."""

    def __init__(self, endpoint: str, rate: float):
        self.ctx = zmq.Context()
        self.socks = []
        for _ in range(DEALERS):
            sock = self.ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
            self.socks.append(sock)
        self.rate = rate
        self.offered = self.refused_at_hwm = self.answered = self.overloaded = 0
        self.latencies_s: list[float] = []
        self.sent_at: dict[str, float] = {}

    def run(self, duration_s: float) -> None:
        poller = zmq.Poller()
        for sock in self.socks:
            poller.register(sock, zmq.POLLIN)
        started = time.monotonic()
        n = 0
        while (now := time.monotonic()) - started < duration_s:
            due = int((now - started) * self.rate)
            while n < due:
                n += 1
                plan_id = f"blast-{n}"
                body = json.dumps({"plan_id": plan_id, "symbol": ("BTCUSDT", "ETHUSDT", "SOLUSDT")[n % 3],
                                   "action_proposed": ACTIONS[n % 5]}).encode()
                self.offered += 1
                try:
                    self.socks[n % DEALERS].send_multipart([b"", body], zmq.NOBLOCK)
                    self.sent_at[plan_id] = time.monotonic()
                except zmq.Again:
                    self.refused_at_hwm += 1
            for sock, _ in poller.poll(5):
                self._drain(sock)

    def _drain(self, sock: zmq.Socket) -> None:
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.answered += 1
            reply = json.loads(frames[-1])
            if reply.get("reason") == "overloaded":
                self.overloaded += 1
            plan_id = (reply.get("decision") or {}).get("plan_id")
            if plan_id in self.sent_at:
                self.latencies_s.append(time.monotonic() - self.sent_at.pop(plan_id))

    def close(self) -> None:
        for sock in self.socks:
            sock.close(linger=0)
        self.ctx.term()


class RssSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.max_rss = self.process.memory_info().rss
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.1):
            self.max_rss = max(self.max_rss, self.process.memory_info().rss)


def test_the_gate_survives_five_times_its_throughput_with_bounded_memory_and_serves_normally_after(gate_system) -> None:
    endpoint, gate = gate_system["endpoint"], gate_system["gate"]
    pid = gate.proc.pid
    max_rate = measure_closed_loop_throughput(endpoint)
    baseline_rss = psutil.Process(pid).memory_info().rss
    sampler = RssSampler(pid)
    sampler.start()
    blast = Blast(endpoint, OVERLOAD_FACTOR * max_rate)
    try:
        blast.run(BLAST_S)
        handled_at_end = scrape(gate_system["metrics_port"]).get('gate_requests_total{result="ok"}', 0.0)
    finally:
        blast.close()
    ended = time.monotonic()
    decision = wait_for(lambda: serves_a_recorded_decision(endpoint, "after"), 60, "a normal decision after the blast")
    serving_again_s = time.monotonic() - ended
    # The queue of the departed blast clients drains; then a fresh client waits no longer than usual.
    last_count: list[float] = [-1.0]

    def idle() -> bool:
        count = scrape(gate_system["metrics_port"]).get('gate_requests_total{result="ok"}', 0.0)
        unchanged, last_count[0] = count == last_count[0], count
        return unchanged

    wait_for(idle, 60, "the gate to go idle (queue of the departed clients drained)", interval_s=0.5)
    handled_total = last_count[0]
    drained_s = time.monotonic() - ended
    sampler.stopped.set()
    sampler.join(2)
    final = serves_a_recorded_decision(endpoint, "idle")
    growth_mb = (sampler.max_rss - baseline_rss) / 2**20
    p99 = sorted(blast.latencies_s)[int(0.99 * len(blast.latencies_s))] if blast.latencies_s else float("nan")
    print(f"\nRELIABILITY overload: max_closed_loop_rate={max_rate:.0f}/s offered={blast.offered} "
          f"({OVERLOAD_FACTOR * max_rate:.0f}/s for {BLAST_S:.0f} s) refused_at_client_hwm={blast.refused_at_hwm} "
          f"answered_during={blast.answered} overloaded={blast.overloaded} p99_latency_s={p99:.2f} "
          f"rss_baseline_mb={baseline_rss / 2**20:.1f} rss_max_mb={sampler.max_rss / 2**20:.1f} "
          f"growth_mb={growth_mb:.1f} (bound {rss_growth_bound_mb(gate_system['hwm']):.1f}) handled_total={handled_total:.0f} handled_after_blast={handled_total - handled_at_end:.0f} "
          f"serving_again_after_s={serving_again_s:.2f} idle_after_s={drained_s:.2f}")
    assert gate.proc.poll() is None and psutil.Process(pid).is_running()
    hwm = gate_system["hwm"]
    handled_after = handled_total - handled_at_end
    assert growth_mb < rss_growth_bound_mb(hwm), (
        f"gate RSS grew {growth_mb:.1f} MB; {DEALERS} clients x hwm {hwm} allow {rss_growth_bound_mb(hwm):.1f} MB")
    assert handled_after <= queued_bound(hwm), (
        f"the gate answered {handled_after:.0f} requests after the blast stopped: more than {DEALERS} clients x "
        f"hwm {hwm} could have queued ({queued_bound(hwm)})")
    assert decision["gate_reason"] and final is not None and final["final_action"] in ACTIONS
