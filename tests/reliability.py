"""Shared pieces of the reliability suite: a whole demo system under real supervisord, a proposal
load generator made of Lazy Pirate clients, and the ledger check that every proposal ended with
exactly one decision."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from launcher import keys
from helpers import REPO, demo_topology_data, retarget, scrape, wait_for, write_topology
from launcher.client import GateClient, GateUnavailable
from launcher.supervise import Home, Supervisor

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT")  # DOGEUSDT is outside the allowlist: HOLD not_allowed
ACTIONS = ("HOLD", "PARTIAL_25", "PARTIAL_50", "PARTIAL_75", "FULL_CLOSE_PROPOSED")
FAULT_REASONS = ("redis_unavailable", "permit_unavailable", "replica_unacknowledged")


def clustergate(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)


class LiveSystem:
    """The demo topology, retargeted to free ports, run by its own supervisord in `home`."""

    def __init__(self, tmp: Path):
        self.home = tmp / "home"
        self.data = retarget(demo_topology_data())
        self.topology = write_topology(tmp / "demo.yaml", self.data)
        self.gate_endpoint = self.data["actors"]["gate"]["sockets"]["proposals"]["bind"]
        self.supervisor = Supervisor(Home(self.home))

    def up(self) -> "LiveSystem":
        result = clustergate("up", str(self.topology), "--home", str(self.home))
        assert result.returncode == 0, result.stdout + result.stderr
        return self

    def down(self) -> None:
        clustergate("down", "--home", str(self.home))

    def status(self) -> dict[str, dict[str, Any]]:
        """`clustergate status --json`, by program name."""
        result = clustergate("status", "--json", "--home", str(self.home))
        return {row["name"]: row for row in json.loads(result.stdout)["programs"]}

    def processes(self) -> dict[str, dict[str, Any]]:
        """supervisord's view (state, pid) without starting a process per poll."""
        return {info["name"]: info for info in self.supervisor.processes()}

    def pid_of(self, name: str) -> int:
        return self.processes()[name]["pid"]

    def running_with_new_pid(self, name: str, old_pid: int) -> bool:
        info = self.processes()[name]
        return info["statename"] == "RUNNING" and info["pid"] not in (0, old_pid)

    def metrics(self, name: str) -> dict[str, float]:
        return scrape(self.data["actors"][name]["metrics_port"])

    def actor_ready(self, name: str) -> bool:
        return self.metrics(name).get(f'clustergate_actor_ready{{actor="{name}",kind="{self.data["actors"][name].get("kind", name)}"}}') == 1.0

    def every_actor_ready(self) -> bool:
        procs = self.processes()
        return (all(info["statename"] == "RUNNING" for info in procs.values())
                and all(self.actor_ready(name) for name in self.data["actors"]))

    def redis(self) -> redis.Redis:
        return redis.Redis(port=self.data["redis"]["port"], decode_responses=True, socket_timeout=5)

    def proof(self, name: str) -> subprocess.CompletedProcess:
        return clustergate("proof", name, "--home", str(self.home))


# --------------------------------------------------------------------------- load


@dataclass
class Outcome:
    """One proposal and how it ended: a reply envelope, GateUnavailable after every retry, or an error
    the client raised (a reply that is not an envelope...), which the ledger reports as a problem.
    lost_at holds the send time (monotonic) of each attempt whose reply never came."""

    plan_id: str
    symbol: str
    action: str
    kill_score: float
    reply: dict[str, Any] | None = None
    unavailable: bool = False
    error: str | None = None
    latency_s: float = 0.0
    lost_at: list[float] = field(default_factory=list)
    answered_at: float = 0.0  # monotonic time the call ended

    @property
    def decision(self) -> dict[str, Any] | None:
        return self.reply.get("decision") if self.reply and self.reply.get("status") == "ok" else None

    @property
    def fault_reason(self) -> str | None:
        """The fault reason of a HOLD the gate answered without recording anything."""
        d = self.decision
        if d is not None and d.get("recorded") is False and d.get("gate_reason") in FAULT_REASONS:
            return d["gate_reason"]
        return None


@dataclass
class ProposalLoad:
    """Threads of GateClients, each with its own plan_ids, proposing at `rate_per_thread` per second.

    Each thread runs the Lazy Pirate retries itself (a GateClient with retries=0 per attempt), so the
    attempts whose reply was lost are known, not absorbed. Every proposal sent becomes an Outcome,
    whatever happens to it: `unaccounted()` lists what does not hold."""

    endpoint: str
    threads: int = 3
    rate_per_thread: float = 100.0
    timeout_ms: int = 2000
    retries: int = 2
    seed: int = 1
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.threads)]
        self.run_id = uuid.uuid4().hex[:8]
        self.sent = 0
        self.worker_errors: list[str] = []

    def start(self) -> "ProposalLoad":
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> list[Outcome]:
        """Stop the workers; fail the test when a proposal sent has no outcome or a worker died."""
        self._stop.set()
        for worker in self._workers:
            worker.join(60)
        problems = self.unaccounted()
        assert not problems, "the proposal load lost track of proposals: " + "; ".join(problems)
        return self.outcomes

    def count(self, predicate=lambda o: True) -> int:
        with self._lock:
            return sum(1 for o in self.outcomes if predicate(o))

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def unaccounted(self) -> list[str]:
        """Problems with the accounting itself: a worker that died or is still running, or proposals
        sent without an outcome."""
        problems = list(self.worker_errors)
        problems += [f"load worker {w.name} still running after stop()" for w in self._workers if w.is_alive()]
        with self._lock:
            if self.sent != len(self.outcomes):
                problems.append(f"{self.sent} proposals sent but {len(self.outcomes)} outcomes recorded")
        return problems

    def _propose(self, client: GateClient, outcome: Outcome) -> None:
        """Lazy Pirate, one attempt at a time: each GateUnavailable is a reply lost for that attempt."""
        for _ in range(1 + self.retries):
            attempt_at = time.monotonic()
            try:
                outcome.reply = client.propose(outcome.symbol, outcome.action, kill_score=outcome.kill_score,
                                               plan_id=outcome.plan_id)
                return
            except GateUnavailable:
                outcome.lost_at.append(attempt_at)
        outcome.unavailable = True

    def _run(self, index: int) -> None:
        try:
            self._proposals(index)
        except BaseException as exc:  # noqa: BLE001 - a dead worker must fail the test, not warn
            self.worker_errors.append(f"load worker {index} died: {exc!r}")

    def _proposals(self, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        period_s = 1.0 / self.rate_per_thread
        client = GateClient(self.endpoint, timeout_ms=self.timeout_ms, retries=0)
        next_at = time.monotonic()
        n = 0
        try:
            while not self._stop.is_set():
                n += 1
                outcome = Outcome(f"rel-{self.run_id}-{index}-{n}", rng.choice(SYMBOLS), rng.choice(ACTIONS),
                                  round(rng.random(), 3))
                with self._lock:
                    self.sent += 1
                started = time.monotonic()
                try:
                    self._propose(client, outcome)
                except Exception as exc:  # a reply that is not JSON, ...: recorded, and the client goes on
                    outcome.error = f"{type(exc).__name__}: {exc}"
                outcome.answered_at = time.monotonic()
                outcome.latency_s = outcome.answered_at - started
                with self._lock:
                    self.outcomes.append(outcome)
                next_at = max(next_at + period_s, time.monotonic() - period_s)  # no catch-up bursts after a stall
                pause = next_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)  # pacing only
        finally:
            client.close()


# --------------------------------------------------------------------------- the ledger


def stream_records_by_plan(r: redis.Redis) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    last = "-"
    while True:
        batch = r.xrange(keys.GATE_STREAM, min=last, count=5000)
        if last != "-":
            batch = batch[1:]
        if not batch:
            return out
        for entry_id, fields in batch:
            out.setdefault(fields["plan_id"], []).append(fields)
        last = batch[-1][0]


def stored_decision(r: redis.Redis, plan_id: str) -> dict[str, Any] | None:
    raw = r.get(keys.plan_decision(plan_id))
    return json.loads(raw) if raw else None


@dataclass
class Ledger:
    """What the check found; `problems` must be empty."""

    proposals: int = 0
    decided: int = 0
    permits_in_replies: int = 0
    fault_holds: dict[str, int] = field(default_factory=dict)
    fault_holds_recorded_anyway: int = 0
    unavailable: int = 0
    errors: int = 0
    lost_replies: int = 0
    resubmitted: int = 0
    live_permits: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"proposals={self.proposals} decided={self.decided} permits={self.permits_in_replies} "
                f"fault_holds={self.fault_holds} recorded_anyway={self.fault_holds_recorded_anyway} "
                f"retries_exhausted={self.unavailable} errors={self.errors} lost_replies={self.lost_replies} "
                f"resubmitted={self.resubmitted} live_permits={self.live_permits}")


def check_ledger(r: redis.Redis, outcomes: list[Outcome], endpoint: str) -> Ledger:
    """Every proposal ended with exactly one decision; faults and exhausted retries resolve on resubmission."""
    ledger = Ledger(proposals=len(outcomes))
    ledger.lost_replies = sum(len(o.lost_at) for o in outcomes)
    stream = stream_records_by_plan(r)
    for plan_id, records in stream.items():
        if len(records) > 1:
            ledger.problems.append(f"{plan_id}: {len(records)} stream records")
    to_resubmit: list[Outcome] = []
    for o in outcomes:
        if o.error is not None:
            ledger.errors += 1
            ledger.problems.append(f"{o.plan_id}: the client failed on the reply: {o.error}")
            continue
        if o.unavailable:
            ledger.unavailable += 1
            to_resubmit.append(o)
            continue
        d = o.decision
        if d is None:
            ledger.problems.append(f"{o.plan_id}: error reply {o.reply}")
            continue
        if o.fault_reason:
            ledger.fault_holds[o.fault_reason] = ledger.fault_holds.get(o.fault_reason, 0) + 1
            if d["final_action"] != "HOLD" or d.get("permit"):
                ledger.problems.append(f"{o.plan_id}: fault answer is not a plain HOLD: {d}")
            to_resubmit.append(o)
            continue
        ledger.decided += 1
        ledger.permits_in_replies += bool(d.get("permit"))
        stored = stored_decision(r, o.plan_id)
        records = stream.get(o.plan_id, [])
        if stored is None or len(records) != 1:
            ledger.problems.append(f"{o.plan_id}: answered {d['final_action']} but stored={stored} records={len(records)}")
            continue
        if (stored["final_action"], stored["gate_reason"], stored["permit"]) != (d["final_action"], d["gate_reason"], d["permit"]):
            ledger.problems.append(f"{o.plan_id}: answered {d['final_action']}/{d['gate_reason']}, recorded {stored}")
        if records[0]["final_action"] != d["final_action"]:
            ledger.problems.append(f"{o.plan_id}: stream says {records[0]['final_action']}, answer {d['final_action']}")
    for key in r.scan_iter(match=keys.permit("*"), count=1000):
        ledger.live_permits += 1
        plan_id = key[len(keys.permit("")):]
        stored = stored_decision(r, plan_id)
        if stored is None or not stored.get("permit") or len(stream.get(plan_id, [])) != 1:
            ledger.problems.append(f"permit {key} lacks its decision record (stored={stored})")
    with GateClient(endpoint, timeout_ms=5000, retries=3) as client:
        for o in to_resubmit:
            before = stored_decision(r, o.plan_id)
            if before is not None and o.fault_reason:
                ledger.fault_holds_recorded_anyway += 1
            reply = client.propose(o.symbol, o.action, kill_score=o.kill_score, plan_id=o.plan_id)
            ledger.resubmitted += 1
            d = reply.get("decision")
            if reply.get("status") != "ok" or d is None or d.get("recorded") is False:
                ledger.problems.append(f"{o.plan_id}: resubmission after recovery got {reply}")
                continue
            stored = stored_decision(r, o.plan_id)
            if before is not None and (before["final_action"], before["gate_reason"]) != (d["final_action"], d["gate_reason"]):
                ledger.problems.append(f"{o.plan_id}: resubmission answered {d['final_action']}, first record {before}")
            if stored is None or stored["final_action"] != d["final_action"]:
                ledger.problems.append(f"{o.plan_id}: resubmission answered {d['final_action']}, stored {stored}")
    stream = stream_records_by_plan(r)
    for o in to_resubmit:
        if len(stream.get(o.plan_id, [])) != 1:
            ledger.problems.append(f"{o.plan_id}: {len(stream.get(o.plan_id, []))} stream records after resubmission")
    return ledger


def wait_for_load_progress(load: ProposalLoad, more: int, timeout_s: float = 30.0, what: str = "") -> None:
    """Wait until the load has collected `more` answered (not unavailable) outcomes beyond now."""
    target = load.count(lambda o: not o.unavailable) + more
    wait_for(lambda: load.count(lambda o: not o.unavailable) >= target, timeout_s,
             what or f"{more} more answered proposals", interval_s=0.1)


def lost_outside(outcomes: list[Outcome], windows: list[tuple[float, float]]) -> list[str]:
    """Attempts whose reply was lost though they were sent outside every (start, end) window (monotonic)."""
    return [f"{o.plan_id}: reply lost for the attempt sent at {t:.2f}" for o in outcomes for t in o.lost_at
            if not any(start <= t <= end for start, end in windows)]
