"""Freelance load against every gate of a topology, and the audit of what it got (issue 12: gate host
faults under load). Runs inside a test host (tests/test_ha_host_faults.py, bench/bench_ha.py):

    python -m launcher.ha_load load TOPOLOGY --out FILE [--clients 4 --rate 200 --max-s S ...]
        N clients (GateClient with every gate endpoint), `rate` proposals/s in total, until stdin closes or
        max-s; then every proposal without a final answer is resubmitted with its own plan_id by as many
        clients (bounded rounds and time). One JSON line per call in FILE; every PERMIT_LOOK_S, the plan_ids of the run's
        permit keys in FILE.permits (so every permit issued is seen while it lives).
    python -m launcher.ha_load audit TOPOLOGY --calls FILE [--resubmit N --clients 4]
        reads the gate stream and the permits of the run from Redis (those alive now and those the load
        saw), resubmits answered plan_ids (N clients at once), and prints the verdict (audit()) as JSON.
    python -m launcher.ha_load answers TOPOLOGY GATE --timeout-s S
        exit 0 once that one gate answers a probe, 1 at the deadline.
    python -m launcher.ha_load silent ENDPOINT [--timeout-ms T]
        the median time a one-attempt call to an endpoint nobody serves takes to give up (the failover floor).
    python -m launcher.ha_load redis TOPOLOGY
        the Sentinel-managed store as seen from this host, as JSON (redis_state()): each data server's ROLE,
        pid and in-sync replicas, the primary each sentinel names, and whether the sentinels have settled.
    python -m launcher.ha_load failover TOPOLOGY [--to HOST:PORT]
        a planned failover (force_failover()): the old primary's writes paused from before SENTINEL FAILOVER until
        it is the new primary's replica; prints {"answer", "paused_s"}, exit 0 when the answer is "OK".

A final answer is `status: ok` with `recorded: true` (the decision is on the stream), or an error
envelope other than `expired`/`overloaded`/`internal_error` (the request is wrong: the audit counts it as a
failure). Everything else (no reply within the client's budget, a fault HOLD with `recorded: false`, `expired`,
`overloaded`, `internal_error`: the gate failed while deciding, maybe after its issuer recorded the decision) is
outcome unknown: the same plan_id is resubmitted, as docs/ha-gates-and-clients.md tells clients.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import select
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from launcher.client import GateClient, GateUnavailable  # noqa: E402
from launcher.std_streams import ArgumentParser, OutputRefused, say_output_refused  # noqa: E402

ACTIONS = ("HOLD", "PARTIAL_25", "PARTIAL_50", "PARTIAL_75", "FULL_CLOSE_PROPOSED")
# What makes one decision the same as another: a second decision for a plan_id differs in these.
DECISION_IDENTITY = ("final_action", "gate_reason", "ts_epoch", "K", "stress")
RESUBMIT_ROUNDS = 6
RESUBMIT_MAX_S = 60.0
# The load looks at the run's permit keys this often, and at least 4 times per permit TTL (the
# topology's permit_ttl_s, 1 to 60 s: SPEC's 60 s by default), so every permit issued is seen while it
# exists: the audit's "no permit without its record" then covers the whole run, not only the permits
# still alive when it runs. A look that fails (a Redis failover) is tried again after 1 s (or a TTL / 4).
PERMIT_LOOK_S = 15.0
LOOKS_PER_PERMIT_TTL = 4
FINAL_LOOK_TRIES = 30
# The audit's Redis calls read the whole gate stream at once (see audit_live).
AUDIT_REDIS_TIMEOUT_MS = 10_000


def permit_ttl_of(topology: str) -> float:
    """The shortest permit TTL of the topology's permit issuers (s)."""
    from launcher.topology import load_topology
    topo = load_topology(topology)
    return float(min((topo.actor(name).settings.permit_ttl_s for name in topo.actors_of_kind("permit_issuer")),
                     default=60))


def permit_looks_violation(looks: int, gap_s: float | None, permit_ttl_s: float, final: bool = True) -> str | None:
    """Why the load's looks may have missed a permit (None: they cannot have): fewer than two looks (every
    look failed), two looks at least a permit TTL apart (a permit can live and expire between them), or no
    final look after the load (`final` False: the last permits were never looked at)."""
    if not final:
        return "the look at the permit keys after the load never succeeded: its last permits were not seen"
    if looks < 2 or gap_s is None:
        return f"{looks} successful look(s) at the permit keys during the load: at least 2 are needed"
    if gap_s >= permit_ttl_s:
        return f"two looks at the permit keys {gap_s} s apart, not less than the permit_ttl_s of {permit_ttl_s:g} s"
    return None


def permits_path(calls_path: Path) -> Path:
    """Where the load writes the plan_ids of the permits it saw (one JSON list per look)."""
    return calls_path.with_name(calls_path.name + ".permits")


# --------------------------------------------------------------------------- pure: outcomes and the audit


def outcome(reply: dict[str, Any] | None) -> str:
    """'final', 'unknown' (resubmit the same plan_id) or 'error' (a final error answer) for one call's reply;
    None is a call that got no reply within its budget."""
    if reply is None:
        return "unknown"
    if reply.get("status") == "ok":
        return "final" if reply.get("decision", {}).get("recorded") is True else "unknown"
    if reply.get("reason") in ("expired", "overloaded", "internal_error"):
        return "unknown"  # internal_error: the gate failed while deciding, maybe after its issuer recorded it
    return "error"


def unknown_kind(reply: dict[str, Any] | None) -> str:
    """Why a call's outcome is unknown, in a word: no_reply, a fault HOLD's gate_reason, or the error reason."""
    if reply is None:
        return "no_reply"
    if reply.get("status") == "ok":
        return f"hold:{reply.get('decision', {}).get('gate_reason')}"
    return f"error:{reply.get('reason')}"


def identity(decision: dict[str, Any]) -> tuple:
    """The fields that tell one decision from another (stream records hold them as strings)."""
    return tuple(str(decision.get(k)) for k in DECISION_IDENTITY)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def audit(calls: Iterable[dict[str, Any]], stream: Iterable[dict[str, str]], permits: Iterable[str],
          resubmits: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """The verdict of one load run: every count under `violations` must be 0.

    calls: one per client call ({"plan", "reply", "failover", "dt_s"}); stream: the gate stream's records of
    the run's plan_ids; permits: plan_ids holding a permit key; resubmits: replies to
    resubmitting answered plan_ids after the run ({"plan", "reply", "first"} with first the decision the
    client got before)."""
    calls, permits, resubmits = list(calls), list(permits), list(resubmits)
    by_plan: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        by_plan.setdefault(call["plan"], []).append(call)
    records: dict[str, list[dict[str, str]]] = {}
    for record in stream:
        records.setdefault(record["plan_id"], []).append(record)
    violations: dict[str, list[Any]] = {
        "unanswered": [], "error_answers": [], "reply_for_another_plan_id": [], "decided_twice_in_replies": [],
        "decided_twice_on_stream": [], "permit_without_record": [], "recorded_reply_not_on_stream": [],
        "stream_record_no_client_made": [], "resubmit_not_the_same_decision": []}
    finals: dict[str, dict[str, Any]] = {}
    for plan, mine in by_plan.items():
        kinds = [outcome(c["reply"]) for c in mine]
        if "error" in kinds:
            violations["error_answers"].append({"plan": plan, "reply": mine[kinds.index("error")]["reply"]})
        if "final" not in kinds and "error" not in kinds:
            violations["unanswered"].append(plan)
        seen = set()
        for call, kind in zip(mine, kinds):
            decision = (call["reply"] or {}).get("decision")
            if decision is not None and decision.get("plan_id") != plan:
                violations["reply_for_another_plan_id"].append({"plan": plan, "got": decision.get("plan_id")})
            if kind == "final":
                seen.add(identity(decision))
                finals.setdefault(plan, decision)
        if len(seen) > 1:
            violations["decided_twice_in_replies"].append({"plan": plan, "decisions": sorted(seen)})
    for plan, mine in records.items():
        if len({identity(r) for r in mine}) > 1 or len(mine) > 1:
            violations["decided_twice_on_stream"].append({"plan": plan, "records": [identity(r) for r in mine]})
        if plan not in by_plan:
            violations["stream_record_no_client_made"].append(plan)
    for plan in permits:
        if not any(r.get("final_action") != "HOLD" for r in records.get(plan, [])):
            violations["permit_without_record"].append(plan)
    for plan, decision in finals.items():
        if not any(r.get("final_action") == decision.get("final_action") for r in records.get(plan, [])):
            violations["recorded_reply_not_on_stream"].append(plan)
    for item in resubmits:
        decision = (item["reply"] or {}).get("decision") or {}
        if not decision.get("replayed") or identity(decision) != identity(item["first"]):
            violations["resubmit_not_the_same_decision"].append(
                {"plan": item["plan"], "first": identity(item["first"]), "again": item["reply"]})
    failovers = [c["dt_s"] for c in calls if c.get("failover")]
    plain = [c["dt_s"] for c in calls if not c.get("failover") and c["reply"] is not None]
    first_round = [c for c in calls if c.get("round", 0) == 0]
    return {
        "proposals": len(by_plan), "calls": len(calls), "stream_records": sum(len(v) for v in records.values()),
        "permits": len(permits),
        "final_first_try": sum(1 for c in first_round if outcome(c["reply"]) == "final"),
        "unknown_first_try": sum(1 for c in first_round if outcome(c["reply"]) == "unknown"),
        "unknown_first_try_by_kind": dict(Counter(unknown_kind(c["reply"]) for c in first_round
                                                  if outcome(c["reply"]) == "unknown")),
        "resubmitted": len(resubmits),
        "failover_calls": len(failovers),
        # the faulted gate had recorded the decision but its reply was lost: the other gate replayed it
        "replayed_after_failover": sum(1 for c in calls if c.get("failover") and outcome(c["reply"]) == "final"
                                       and c["reply"]["decision"].get("replayed")),
        "failover_p50_ms": None if not failovers else round(statistics.median(failovers) * 1000, 1),
        "failover_max_ms": None if not failovers else round(max(failovers) * 1000, 1),
        "call_p50_ms": None if not plain else round(statistics.median(plain) * 1000, 1),
        "call_p99_ms": None if not plain else round(percentile(plain, 0.99) * 1000, 1),
        "decisions_lost": len(violations["recorded_reply_not_on_stream"]) + len(violations["unanswered"]),
        "plan_ids_decided_twice": len({v["plan"] for v in violations["decided_twice_on_stream"]}
                                      | {v["plan"] for v in violations["decided_twice_in_replies"]}),
        "violations": {k: len(v) for k, v in violations.items()},
        "examples": {k: v[:5] for k, v in violations.items() if v},
    }


# --------------------------------------------------------------------------- the load


class Recorder:
    """Every call, one JSON line, written under a lock (the client threads share the file)."""

    def __init__(self, path: Path):
        self.file = open(path, "a", buffering=1)
        self.lock = threading.Lock()

    def write(self, row: dict[str, Any]) -> None:
        with self.lock:
            self.file.write(json.dumps(row, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self.file.close()


def call(client: GateClient, proposal: dict[str, Any], round_no: int, who: int) -> dict[str, Any]:
    """One propose() call: its reply (None: no reply within the budget), seconds, and whether it moved on
    to another gate."""
    before = client.moves  # not the endpoint: a call that went round every gate ends where it began
    started_wall, started = time.time(), time.monotonic()
    try:
        reply = client.propose(proposal["symbol"], proposal["action"], plan_id=proposal["plan"])
    except GateUnavailable:
        reply = None
    return {"plan": proposal["plan"], "round": round_no, "client": who, "t": round(started_wall, 3),
            "dt_s": round(time.monotonic() - started, 4), "failover": client.moves != before,
            "endpoint": client.endpoint, "reply": reply, "proposal": proposal}


def call_each(topology: str, key: str, proposals: list[dict[str, Any]], round_no: int, *, clients: int,
              timeout_ms: int, retries: int, until: float = float("inf")) -> list[dict[str, Any]]:
    """call() once for each proposal (none started after the monotonic time `until`), shared out over
    `clients` threads, each its own GateClient on every gate, one call at a time as in the load; the rows
    in the order of `proposals`. A client that cannot start raises here, after the others are done."""
    rows: list[dict[str, Any] | None] = [None] * len(proposals)
    errors: list[BaseException] = []
    clients = max(1, clients)

    def one_client(who: int) -> None:
        try:
            with GateClient.from_topology(topology, client_key=key, timeout_ms=timeout_ms, retries=retries) as client:
                client._current = who % len(client.endpoints)  # spread the clients over the gates
                for i in range(who, len(proposals), clients):
                    if time.monotonic() >= until:
                        return
                    rows[i] = call(client, proposals[i], round_no, -1)
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread below
            errors.append(exc)

    threads = [threading.Thread(target=one_client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [row for row in rows if row is not None]


def run_load(topology: str, key: str, out: Path, *, clients: int, rate: float, max_s: float, timeout_ms: int,
             retries: int, prefix: str, stop: threading.Event, seed: int = 12) -> dict[str, Any]:
    """`clients` threads, each its own GateClient on every gate, together `rate` proposals/s, until stop is
    set or max_s; a client that fell behind (a failover) skips its backlog beyond one second rather than
    bursting. Then every proposal without a final answer is resubmitted with its plan_id, `clients` at once."""
    recorder = Recorder(out)
    per_client_s = clients / rate
    max_count = int(rate * max_s / clients) + 1
    pending: dict[str, dict[str, Any]] = {}
    pending_lock = threading.Lock()
    end = time.monotonic() + max_s

    def one_client(who: int) -> None:
        rng = random.Random(seed * 100 + who)
        client = GateClient.from_topology(topology, client_key=key, timeout_ms=timeout_ms, retries=retries)
        client._current = who % len(client.endpoints)  # spread the clients over the gates at start
        next_at = time.monotonic()
        try:
            for n in range(max_count):
                if stop.is_set() or time.monotonic() >= end:
                    break
                now = time.monotonic()
                if next_at > now:
                    time.sleep(next_at - now)
                next_at = max(next_at + per_client_s, time.monotonic() - 1.0)
                proposal = {"plan": f"{prefix}-c{who}-{n}", "symbol": rng.choice(("BTCUSDT", "ETHUSDT", "SOLUSDT")),
                            "action": rng.choice(ACTIONS)}
                row = call(client, proposal, 0, who)
                recorder.write(row)
                if outcome(row["reply"]) == "unknown":
                    with pending_lock:
                        pending[proposal["plan"]] = proposal
        finally:
            client.close()

    threads = [threading.Thread(target=one_client, args=(i,), daemon=True) for i in range(clients)]
    clients_done = threading.Event()
    looks = {"done": 0, "failed": 0}
    watcher = threading.Thread(target=look_at_permits, args=(topology, prefix, permits_path(out), clients_done, looks),
                               daemon=True)
    started = time.monotonic()
    for t in threads:
        t.start()
    watcher.start()
    for t in threads:
        t.join()
    load_s = time.monotonic() - started
    unknown_after_load = len(pending)
    resubmit_end = time.monotonic() + RESUBMIT_MAX_S
    rounds = 0
    while pending and rounds < RESUBMIT_ROUNDS and time.monotonic() < resubmit_end:
        rounds += 1
        for row in call_each(topology, key, list(pending.values()), rounds, clients=clients, timeout_ms=timeout_ms,
                             retries=retries, until=resubmit_end):
            recorder.write(row)
            if outcome(row["reply"]) != "unknown":
                del pending[row["plan"]]
        if pending:
            time.sleep(min(1.0, max(0.0, resubmit_end - time.monotonic())))
    recorder.close()
    clients_done.set()  # after the resubmissions, whose permits the last look sees
    watcher.join()
    return {"load_s": round(load_s, 2), "unknown_after_load": unknown_after_load, "resubmit_rounds": rounds,
            "still_unknown": sorted(pending), "permit_looks": looks["done"], "permit_looks_failed": looks["failed"]}


def look_at_permits(topology: str, prefix: str, path: Path, done: threading.Event, looks: dict[str, int]) -> None:
    """At the start, every min(PERMIT_LOOK_S, permit TTL / 4) (1 s after a look that failed, or sooner) until
    `done`, and once more then (the final look, retried 1 s apart up to FINAL_LOOK_TRIES times: it alone sees
    the last permits): the plan_ids of this run's permit keys, one JSON line {"t": epoch seconds, "mono":
    monotonic seconds at its end, "mono_start": at its start, "final": bool, "plans": [...]} per look."""
    from launcher import keys
    from launcher.redis_conn import connect
    from launcher.topology import load_topology
    redis_config = load_topology(topology).redis
    every_s = min(PERMIT_LOOK_S, permit_ttl_of(topology) / LOOKS_PER_PERMIT_TTL)
    permit_prefix = keys.permit("")

    def look(seen: Any, final: bool) -> bool:
        began = time.monotonic()
        try:
            r = connect(redis_config)
            try:
                plans = [k[len(permit_prefix):] for k in r.scan_iter(match=keys.permit(prefix) + "*", count=1000)]
            finally:
                r.close()
        except Exception:  # noqa: BLE001 - a failover in progress: look again soon
            looks["failed"] += 1
            return False
        looks["done"] += 1
        seen.write(json.dumps({"t": round(time.time(), 3), "mono_start": round(began, 3), "mono": round(time.monotonic(), 3),
                               "final": final, "plans": plans}) + "\n")
        return True

    wait_s = 0.0
    with open(path, "a", buffering=1) as seen:
        while True:
            last = done.wait(wait_s)
            if look(seen, last):
                wait_s = every_s
                if last:
                    return
                continue
            wait_s = min(1.0, every_s)
            if last:
                for _ in range(FINAL_LOOK_TRIES - 1):
                    time.sleep(1.0)
                    if look(seen, True):
                        return
                return


def final_look_seen(calls_path: Path) -> bool:
    """True when the load's last look, after its clients and resubmissions, succeeded."""
    seen_path = permits_path(calls_path)
    lines = seen_path.read_text().splitlines() if seen_path.exists() else []
    return bool(lines) and json.loads(lines[-1]).get("final", True) is True


def calls_problem(path: Path) -> str | None:
    """Why `audit --calls PATH` cannot audit PATH (None: it can): not readable, or a line that is not a call `load`
    wrote (each was a traceback)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    except UnicodeDecodeError:
        return "is not UTF-8 text: not a file `ha_load load` wrote"
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line) if line.strip() else {"plan": "", "reply": None, "proposal": {}}
        except ValueError:
            row = None
        if not (isinstance(row, dict) and isinstance(row.get("plan"), str) and "reply" in row
                and isinstance(row.get("proposal"), dict)):
            return f"line {number} is not a call `ha_load load` wrote"
    return None


def read_calls(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def audit_live(topology: str, key: str, calls_path: Path, prefix: str, resubmit: int, timeout_ms: int,
               clients: int = 4) -> dict[str, Any]:
    """audit() on the live system: the gate stream and permits of this run's plan_ids from Redis, and
    `resubmit` answered plan_ids sent again (every one that failed over or was resubmitted, then a sample)
    by `clients` clients at once."""
    from launcher import keys
    from launcher.redis_conn import connect
    from launcher.topology import load_topology
    calls = read_calls(calls_path)
    topo = load_topology(topology)
    # One read of the whole gate stream after the load, not a call on a decision's path: the topology's
    # timeout (250 ms by default) is too short for it on a loaded machine (a CI run timed out in XRANGE).
    r = connect(topo.redis.replaced(timeout_ms=AUDIT_REDIS_TIMEOUT_MS))
    try:
        stream = [f for _, f in r.xrange(keys.GATE_STREAM) if f.get("plan_id", "").startswith(prefix)]
        permit_prefix = keys.permit("")
        permits = {k[len(permit_prefix):] for k in r.scan_iter(match=keys.permit(prefix) + "*", count=1000)}
    finally:
        r.close()
    permits, looks, gap_s = permits_of_run(permits, calls_path)
    first: dict[str, tuple[dict, dict]] = {}
    eventful: list[str] = []
    for c in calls:
        if outcome(c["reply"]) == "final" and c["plan"] not in first:
            first[c["plan"]] = (c["reply"]["decision"], c["proposal"])
        if c.get("failover") or c.get("round", 0) > 0:
            eventful.append(c["plan"])
    chosen = list(dict.fromkeys(p for p in eventful if p in first))[:resubmit]
    picked = set(chosen)
    rest = [p for p in first if p not in picked]
    random.Random(5).shuffle(rest)
    chosen += rest[: max(0, resubmit - len(chosen))]
    rows = call_each(topology, key, [first[plan][1] for plan in chosen], -1, clients=clients, timeout_ms=timeout_ms,
                     retries=2)
    resubmits = [{"plan": row["plan"], "reply": row["reply"], "first": first[row["plan"]][0]} for row in rows]
    verdict = audit(calls, stream, permits, resubmits)
    ttl_s = permit_ttl_of(topology)
    sparse = permit_looks_violation(looks, gap_s, ttl_s, final_look_seen(calls_path))
    verdict["violations"]["permit_looks_too_sparse"] = int(sparse is not None)
    if sparse is not None:
        verdict["examples"]["permit_looks_too_sparse"] = [sparse]
    return {**verdict, "permit_looks_during_load": looks, "permit_looks_max_gap_s": gap_s, "permit_ttl_s": ttl_s}


def permits_of_run(alive: Iterable[str], calls_path: Path) -> tuple[list[str], int, float | None]:
    """Every permit of the run: those alive now and those the load saw while it ran (permits_path), with
    how many looks the load made and the longest time between two of them (None: fewer than two). A
    permit lives 60 s, so looks less than 60 s apart saw every permit issued between the first and the last."""
    seen_path = permits_path(calls_path)
    looks = [json.loads(line) for line in seen_path.read_text().splitlines()] if seen_path.exists() else []
    permits = set(alive)
    for look in looks:
        permits.update(look["plans"])
    # From the start of one scan to the end of the next (a permit issued just after a scan's cursor passed its
    # key is seen by the next scan, at its end at worst); monotonic: a wall-clock step moves no gap.
    ends = [look.get("mono", look["t"]) for look in looks]
    starts = [look.get("mono_start", end) for look, end in zip(looks, ends)]
    gap = max((b - a for a, b in zip(starts, ends[1:])), default=None)
    return sorted(permits), len(looks), None if gap is None else round(gap, 3)


def wait_until_answers(topology: str, key: str, gate: str, timeout_s: float) -> bool:
    """True once `gate` (by name) answers a probe (an error envelope: the probe is not a proposal)."""
    from launcher.client import gate_curve, gate_endpoints
    from launcher.topology import load_topology
    names = load_topology(topology).actors_of_kind("gate")
    i = names.index(gate)
    endpoint = gate_endpoints(topology)[i]
    curve = gate_curve(topology, key)
    kwargs: dict[str, Any] = {}
    if curve is not None:
        server = curve[1][i] if isinstance(curve[1], list) else curve[1]
        kwargs = {"client_keypair": curve[0], "server_public_key": server}
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        with GateClient(endpoint, timeout_ms=300, retries=0, **kwargs) as probe:
            try:
                if probe.request_raw(b"probe").get("status") == "error":
                    return True
            except GateUnavailable:
                pass
        time.sleep(0.1)
    return False


def silent_attempt_ms(endpoint: str, timeout_ms: int, count: int = 20) -> float:
    """Median ms a one-attempt call to an endpoint nobody serves takes to give up: the measured floor of a
    failover (a dead or cut-off gate is known only by its silence)."""
    took = []
    for _ in range(count):
        with GateClient(endpoint, timeout_ms=timeout_ms, retries=0) as client:
            started = time.monotonic()
            try:
                client.propose("BTCUSDT", "HOLD", plan_id="silent-probe")
            except GateUnavailable:
                pass
            took.append(time.monotonic() - started)
    return round(statistics.median(took) * 1000, 1)


def _at(address: tuple[Any, Any]) -> str:
    """ADDR:PORT of an (address, port) the topology spells or a Redis answer gives, the address canonical
    (launcher.sentinel.canonical_address): the topology's [0:0:0:0:0:0:0:1] and Sentinel's ::1 are one server."""
    from launcher.sentinel import canonical_address
    host, port = canonical_address(address)
    return f"{host}:{port}"


def redis_state(topology: str) -> dict[str, Any]:
    """The managed Sentinel store of `topology` as this host sees it: {"servers": [{"at", "role", "pid",
    "synced"}], "sentinels": [{"at", "names", "replicas", "others"}], "primary": "ADDR:PORT" of the one server
    whose ROLE is master (None when none or several are), "settled": every sentinel names that primary and
    knows every other server as its replica and every other sentinel}. Unanswering parts are left None."""
    import redis
    from launcher.topology import load_topology
    cfg = load_topology(topology).redis
    password = cfg.password

    def ask(address: tuple[str, int]) -> redis.Redis:
        return redis.Redis(host=address[0], port=address[1], password=password, socket_timeout=1,
                           socket_connect_timeout=1, decode_responses=True)

    servers = []
    for address in cfg.server_addresses():
        row: dict[str, Any] = {"at": _at(address), "role": None, "pid": None, "synced": None}
        try:
            with ask(address) as r:
                row["role"] = r.role()[0]
                row["pid"] = int(r.info("server")["process_id"])
                info = r.info("replication")
                row["synced"] = sum(1 for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)
                                    and v.get("state") == "online")
        except redis.RedisError:
            pass
        servers.append(row)
    masters = [s["at"] for s in servers if s["role"] == "master"]
    primary = masters[0] if len(masters) == 1 else None
    sentinels = []
    for address in cfg.sentinel_addresses():
        row = {"at": _at(address), "names": None, "replicas": None, "others": None}
        try:
            with ask(address) as r:
                named = r.execute_command("SENTINEL", "get-master-addr-by-name", cfg.sentinel.master)
                row["names"] = _at(named) if named else None
                state = r.execute_command("SENTINEL", "master", cfg.sentinel.master)
                fields = state if isinstance(state, dict) else dict(zip(state[::2], state[1::2]))
                row["replicas"], row["others"] = int(fields["num-slaves"]), int(fields["num-other-sentinels"])
        except (redis.RedisError, KeyError, ValueError, TypeError):
            pass
        sentinels.append(row)
    settled = primary is not None and all(
        s["names"] == primary and s["replicas"] == len(servers) - 1 and s["others"] == len(sentinels) - 1
        for s in sentinels)
    return {"servers": servers, "sentinels": sentinels, "primary": primary, "settled": settled,
            "down_after_ms": cfg.sentinel.down_after_ms, "failover_timeout_ms": cfg.sentinel.failover_timeout_ms}


# Writes stay paused before SENTINEL FAILOVER at most this share of the sentinels' down_after_ms: a primary paused
# longer is down to them (their PING waits behind their paused hello PUBLISH) and they fail it over on their own.
PAUSE_SHARE_OF_DOWN_AFTER = 0.5


def force_failover(topology: str, to: str | None = None, timeout_s: float = 30.0,
                   phases: dict[str, float] | None = None) -> str:
    """_force_failover(), and when a server the move set to replica-priority 0 could not be set back to 100 (its host
    lost meanwhile: it keeps 0 when it is back, a replica Sentinel never promotes), an answer that names it and how to
    set it back, never "OK"."""
    left: list[str] = []
    answer = _force_failover(topology, to, timeout_s, phases, left)
    if not left:
        return answer
    return ("" if answer == "OK" else f"{answer}; ") + (
        f"replica-priority left at 0 on {', '.join(left)}: never promoted by Sentinel, also once back, until "
        f"`redis-cli -h ADDR -p PORT [-a PASSWORD] CONFIG SET replica-priority 100` there")


def _force_failover(topology: str, to: str | None, timeout_s: float, phases: dict[str, float] | None,
                    left: list[str]) -> str:
    """SENTINEL FAILOVER of the managed store of `topology`, asked of the first sentinel that accepts it, with the
    old primary's writes paused from before the failover until it is the new primary's replica: "OK", or why not
    (e.g. INPROG while one is running; the old primary is then unpaused and stays the primary).

    Sentinel promotes a replica while the old primary stays a master, taking writes, until the sentinels name the
    new one (about 1 s) and demote the old one (8 s or more); another replica, still following the old primary,
    acknowledged those writes (a WAIT for 1 replica succeeded) and then resynced from the new one: decisions
    answered recorded were lost (F3). So, as Redis's own FAILOVER command does: CLIENT PAUSE WRITE on the old
    primary, wait until every replica it lists as online has all it wrote, SENTINEL FAILOVER, wait until the
    sentinels name the new primary, then REPLICAOF it on the old one (the sentinels cannot: their link to a
    paused server waits behind their hello PUBLISH) and CLIENT UNPAUSE. A write sent to the old primary meanwhile
    waits and then gets READONLY (or its client gives up): never acknowledged there.

    Until SENTINEL FAILOVER the pause is a lease of half of `down_after_ms` (PAUSE_SHARE_OF_DOWN_AFTER): a paused
    primary does not answer the sentinels, and one paused longer than that is down to them, failed over on their
    own while it is paused and a master again when the pause ends. So the replicas must catch up within half the
    lease, and a tool killed before the failover leaves a pause the sentinels never see.

    With `to` ("ADDR:PORT", a replica): every other replica gets replica-priority 0 (never promoted) until
    every sentinel has read it (their INFO of a replica is up to 10 s old) and `to` is the primary, then
    100 again on every server; "OK" only when `to` became the primary within `timeout_s`.

    `phases`, when given, gets the seconds from the pause to each step: caught_up (then SENTINEL FAILOVER),
    named (every answering sentinel names the new primary; named - caught_up is Sentinel's own time, the
    pause's floor), unpaused (the whole pause)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    from launcher.topology import load_topology
    cfg = load_topology(topology).redis
    # Every address as _at writes it: the sentinels' answers and the topology's spelling compare equal.
    servers = [_at(address) for address in cfg.server_addresses()]
    sentinels = [_at(address) for address in cfg.sentinel_addresses()]
    lease_s = cfg.sentinel.down_after_ms / 1000 * PAUSE_SHARE_OF_DOWN_AFTER
    if to is not None:  # read as the topology reads sentinel.servers: a host name of hosts: is its address
        from launcher.sentinel import parse_place
        try:
            place = parse_place(to)
        except ValueError as exc:
            return f"no failover: --to {exc}"
        to = _at((cfg.address_of(place.where), place.port))

    def ask(address: str, timeout: float = 2.0) -> redis.Redis:
        """A client that gives up after `timeout` (redis-py would retry 3 times by default: 4 x the timeout)."""
        host, port = address.rsplit(":", 1)
        return redis.Redis(host=host, port=int(port), password=cfg.password, socket_timeout=timeout,
                           socket_connect_timeout=min(1.0, timeout), retry=Retry(NoBackoff(), 0),
                           decode_responses=True)

    def priorities_seen(others: list[str]) -> bool:
        for address in sentinels:
            try:
                with ask(address) as r:
                    rows = r.execute_command("SENTINEL", "REPLICAS", cfg.sentinel.master)
            except redis.RedisError:
                continue  # a sentinel that does not answer cannot run the failover either
            seen = {}
            for row in rows:
                fields = row if isinstance(row, dict) else dict(zip(row[::2], row[1::2]))
                seen[_at((fields["ip"], fields["port"]))] = int(fields.get("slave-priority", 100))
            if any(seen.get(o, 0) != 0 for o in others):
                return False
        return True

    def named() -> set[str]:
        """The primaries the answering sentinels name."""
        names = set()
        for address in sentinels:
            try:
                with ask(address) as r:
                    reply = r.execute_command("SENTINEL", "get-master-addr-by-name", cfg.sentinel.master)
            except redis.RedisError:
                continue
            if reply:
                names.add(_at(reply))
        return names

    def lagging(primary: redis.Redis, timeout: float) -> list[str]:
        """The replicas the primary lists as online that have not applied all it wrote, each with why, as the
        replica says (the primary hears a replica's offset only once a second while paused: no REPLCONF GETACK
        then); ["no replica online"] when it lists none."""
        info = primary.info("replication")
        online = [_at((v["ip"], v["port"])) for k, v in info.items()
                  if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online"]
        behind = []
        for address in online:
            try:
                with ask(address, timeout) as r:
                    missing = int(info["master_repl_offset"]) - int(r.info("replication").get("slave_repl_offset", -1))
                if missing > 0:
                    behind.append(f"{address} ({missing} bytes behind)")
            except redis.RedisError as exc:
                behind.append(f"{address} (does not answer: {exc})")
        return behind if online else ["no replica online"]

    deadline = time.monotonic() + timeout_s
    others = [s for s in servers if to is not None and s != to]
    lowered: set[str] = set()  # the servers this move set to replica-priority 0
    old: redis.Redis | None = None
    try:
        primaries = named()
        if len(primaries) != 1:
            return f"the sentinels name no single primary: {sorted(primaries)}"
        old_at = next(iter(primaries))
        if to is not None and (to not in servers or to == old_at):
            return (f"no failover: --to {to} is not a replica of the primary {old_at}; its replicas in the topology: "
                    f"{', '.join(s for s in servers if s != old_at)}")
        for other in others:
            try:
                with ask(other) as r:
                    r.config_set("replica-priority", 0)
                lowered.add(other)
            except redis.RedisError:
                pass  # a server that is down is not promoted
        while others and not priorities_seen(others):
            if time.monotonic() >= deadline:
                return f"the sentinels never read replica-priority 0 of {others}"
            time.sleep(0.5)
        if named() != {old_at}:
            return f"no failover: the primary moved from {old_at} while the sentinels read the priorities"
        old = ask(old_at)
        lease_from = time.monotonic()
        try:
            # A lease: the pause ends by itself before the sentinels would call the primary down, should this
            # process die before SENTINEL FAILOVER.
            old.execute_command("CLIENT", "PAUSE", max(1, int(lease_s * 1000)), "WRITE")
        except redis.RedisError as exc:
            old = None
            return f"the primary {old_at} refused to pause its writes: {exc}"
        paused = time.monotonic()
        phases = {} if phases is None else phases
        try:
            while behind := lagging(old, lease_s / 4):
                if time.monotonic() >= lease_from + lease_s / 2:
                    return (f"no failover: {old_at} unpaused, its replicas did not all catch up within "
                            f"{lease_s / 2:g} s (writes may stay paused before the failover {lease_s:g} s, half of "
                            f"down_after_ms): {'; '.join(behind)}")
                time.sleep(0.005)
            # Sentinel ends a failover, done or aborted, within failover-timeout for the promotion and as long again
            # for the replicas: writes stay paused no longer than that. Paused that long before SENTINEL FAILOVER,
            # so that a tool killed between the two leaves a failover of a paused primary, never a master that
            # takes writes while a replica is promoted.
            switch_by = time.monotonic() + 2 * cfg.sentinel.failover_timeout_ms / 1000 + 1
            old.execute_command("CLIENT", "PAUSE", max(1, int((switch_by - time.monotonic()) * 1000)), "WRITE")
        except redis.RedisError as exc:
            return f"no failover: the primary {old_at} stopped answering while paused: {exc}"
        if time.monotonic() >= lease_from + lease_s:
            return f"no failover: the pause of {old_at} may have lapsed before it was extended (its replicas may lag)"
        phases["caught_up"] = round(time.monotonic() - paused, 3)
        answer = "no sentinel answered"
        for address in sentinels:
            try:
                with ask(address) as r:
                    result = r.execute_command("SENTINEL", "FAILOVER", cfg.sentinel.master)
                    answer = "OK" if result is True else str(result)
                    break
            except redis.RedisError as exc:
                answer = f"{address}: {exc}"
        if answer != "OK":
            return f"no failover: SENTINEL FAILOVER refused ({answer}); {old_at} unpaused, still the primary"
        while not ((now := named()) and old_at not in now and len(now) == 1):
            if time.monotonic() >= switch_by:
                return (f"the sentinels did not name a new primary in time (they name {sorted(now)}); {old_at} "
                        "takes writes again, which a failover still to come would lose")
            time.sleep(0.05)
        new_at = now.pop()
        phases["named"] = round(time.monotonic() - paused, 3)
        host, port = new_at.rsplit(":", 1)
        try:
            old.execute_command("REPLICAOF", host, port)  # what Sentinel would send 8 s or more later
        except redis.RedisError as exc:
            return f"{new_at} is the primary, but {old_at} refused REPLICAOF: {exc}"
        if to is not None and new_at != to:
            return f"{new_at} became the primary, not {to}"
        return "OK"
    finally:
        if old is not None:
            try:
                old.execute_command("CLIENT", "UNPAUSE")
                phases["unpaused"] = round(time.monotonic() - paused, 3)
            except redis.RedisError:
                pass  # the pause ends by itself
            old.close()
        for server in others:
            try:
                with ask(server) as r:
                    r.config_set("replica-priority", 100)
            except redis.RedisError as exc:
                if server in lowered:  # (one down from the start was never set to 0)
                    left.append(f"{server} ({type(exc).__name__})")


def _more_than_0(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type: a finite number of `kind` above 0, else exit 2 naming the option (`--rate 0` was a
    ZeroDivisionError traceback)."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be a number above 0, got {text!r}")
        return value
    return parse


def topology_problem(args: argparse.Namespace) -> str | None:
    """Why the command cannot act on its topology, in one line per problem (None: it can), before anything is sent:
    a file that does not validate, `failover` or `redis` of a store without Sentinel, `answers` of a gate the topology
    does not have (each was a traceback: SchemaError, AssertionError, ValueError)."""
    if not hasattr(args, "topology"):
        return None
    from launcher.schema import SchemaError
    from launcher.topology import load_topology
    try:
        topo = load_topology(args.topology)
    except SchemaError as exc:
        return "\n".join(problem.render(args.topology) for problem in exc.problems)
    if args.cmd in ("failover", "redis") and topo.redis.sentinel is None:
        return (f"{args.topology}: redis: no sentinel: section: `{args.cmd}` acts on a Sentinel-managed store "
                f"(configs/ha.yaml)")
    gates = topo.actors_of_kind("gate")
    if args.cmd == "answers" and args.gate not in gates:
        return f"{args.topology}: no gate named {args.gate!r}; its gates: {', '.join(gates) or 'none'}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m launcher.ha_load")
    sub = parser.add_subparsers(dest="cmd", required=True)
    load = sub.add_parser("load")
    load.add_argument("topology")
    load.add_argument("--key", default="desk", help="the clients' CurveZMQ key (a name in the topology's keys_dir)")
    load.add_argument("--out", required=True)
    load.add_argument("--clients", type=_more_than_0(int), default=4)
    load.add_argument("--rate", type=_more_than_0(float), default=200.0, help="proposals per second, all clients together")
    load.add_argument("--max-s", type=_more_than_0(float), default=120.0)
    load.add_argument("--timeout-ms", type=_more_than_0(int), default=500)
    load.add_argument("--retries", type=int, default=1)
    load.add_argument("--prefix", default=None)
    aud = sub.add_parser("audit")
    aud.add_argument("topology")
    aud.add_argument("--key", default="desk")
    aud.add_argument("--calls", required=True)
    aud.add_argument("--prefix", required=True)
    aud.add_argument("--resubmit", type=int, default=300)
    aud.add_argument("--timeout-ms", type=_more_than_0(int), default=1000)
    aud.add_argument("--clients", type=_more_than_0(int), default=8, help="clients resubmitting at once, one call at a time each")
    ans = sub.add_parser("answers")
    ans.add_argument("topology")
    ans.add_argument("gate")
    ans.add_argument("--key", default="desk")
    ans.add_argument("--timeout-s", type=_more_than_0(float), default=30.0)
    silent = sub.add_parser("silent")
    silent.add_argument("endpoint")
    silent.add_argument("--timeout-ms", type=_more_than_0(int), default=500)
    silent.add_argument("--count", type=_more_than_0(int), default=20)
    state = sub.add_parser("redis")
    state.add_argument("topology")
    fail = sub.add_parser("failover")
    fail.add_argument("topology")
    fail.add_argument("--to", default=None, help="HOST:PORT of the replica to promote (a host name of the topology's hosts: or an address)")
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parser.parse_args(argv)
    except OutputRefused as exc:  # `--help > /dev/full`: exit 0 with nothing written before
        named = argv[0] if argv and argv[0] in sub.choices else None
        return say_output_refused(f"{parser.prog} {named}" if named else parser.prog, exc)
    problem = topology_problem(args)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if args.cmd == "failover":
        phases: dict[str, float] = {}
        answer = force_failover(args.topology, args.to, phases=phases)
        print(json.dumps({"answer": answer, "paused_s": phases}), flush=True)
        return 0 if answer == "OK" else 1
    if args.cmd == "redis":
        print(json.dumps(redis_state(args.topology)), flush=True)
        return 0
    if args.cmd == "silent":
        print(json.dumps({"silent_attempt_ms": silent_attempt_ms(args.endpoint, args.timeout_ms, args.count)}))
        return 0
    if args.cmd == "load":
        try:
            open(args.out, "a").close()  # what Recorder opens: a directory, a missing parent
        except OSError as exc:
            print(f"python -m launcher.ha_load load: --out {args.out}: cannot write the calls there: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            return 2
        prefix = args.prefix or f"ha-{uuid.uuid4().hex[:8]}"
        stop = threading.Event()

        def watch_stdin() -> None:  # the caller closes our stdin: stop
            while not stop.is_set():
                if select.select([sys.stdin], [], [], 0.2)[0] and not os.read(sys.stdin.fileno(), 1024):
                    stop.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
        summary = run_load(args.topology, args.key, Path(args.out), clients=args.clients, rate=args.rate,
                           max_s=args.max_s, timeout_ms=args.timeout_ms, retries=args.retries, prefix=prefix, stop=stop)
        print(json.dumps({"prefix": prefix, **summary}), flush=True)
        return 0
    if args.cmd == "audit":
        if unreadable := calls_problem(Path(args.calls)):
            print(f"python -m launcher.ha_load audit: --calls {args.calls}: {unreadable}", file=sys.stderr)
            return 2
        print(json.dumps(audit_live(args.topology, args.key, Path(args.calls), args.prefix, args.resubmit,
                                    args.timeout_ms, args.clients)), flush=True)
        return 0
    return 0 if wait_until_answers(args.topology, args.key, args.gate, args.timeout_s) else 1


if __name__ == "__main__":
    sys.exit(main())
