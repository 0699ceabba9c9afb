"""Bad input: fuzzed proposals, hostile tick frames, a corrupt persisted buffer and hostile
topologies. Each is refused with a clear message and counted; no process crashes."""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq

from actors import keys
from actors.gate import BadRequest, parse_request
from helpers import REPO, ActorProcess, demo_topology_data, retarget, scrape, wait_for, write_topology
from reliability import ACTIONS

BOOK = {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0), "SOLUSDT": (-40.0, 150.0)}
FUZZED_PROPOSALS = 10_000


def write_book(r) -> None:
    now = int(time.time())
    for symbol, (amt, price) in BOOK.items():
        r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": price, "ts_epoch": now})


# --------------------------------------------------------------------------- proposals

JUNK_VALUES = [None, True, -1, 1e308, float("nan"), "", " ", "x" * 300, [], {}, [1, [2, [3]]], {"a": {"b": {}}},
               "\u0000", "ETHUSDT\n", 2, -0.0, "PARTIAL_50 ", "hold"]


def fuzzed_proposal(rng: random.Random, n: int) -> tuple[bytes, bool]:
    """(request bytes, whether it is a valid proposal)."""
    kind = rng.random()
    if kind < 0.2:
        body = {"plan_id": f"fuzz-{n}", "symbol": rng.choice(("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT")),
                "action_proposed": rng.choice(ACTIONS), "kill_score": rng.random()}
        return json.dumps(body).encode(), True
    if kind < 0.35:
        raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
        return raw, accepted_by_the_rules(raw)
    if kind < 0.45:
        return rng.choice([b"[]", b"null", b"1", b'"x"', b"{", b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000, b"NaN"]), False
    body = {"plan_id": f"fuzz-{n}", "symbol": "ETHUSDT", "action_proposed": "PARTIAL_50", "kill_score": 0.5}
    field = rng.choice(list(body) + ["r_net", "ts_epoch", "extra"])
    body[field] = rng.choice(JUNK_VALUES)
    if rng.random() < 0.3:
        body.pop(rng.choice(["plan_id", "symbol", "action_proposed"]), None)
    raw = json.dumps(body).encode()  # NaN travels as the bare word NaN, which Python's json accepts
    return raw, accepted_by_the_rules(raw)


def accepted_by_the_rules(raw: bytes) -> bool:
    """The gate's pure validation (unit-tested against SPEC elsewhere) is the oracle for the process."""
    try:
        parse_request([raw], 65536)
    except BadRequest:
        return False
    return True


@pytest.fixture
def gate_system(tmp_path: Path, redis_server):
    data = retarget(demo_topology_data(), redis_server.url)
    topo = write_topology(tmp_path / "topology.yaml", data)
    write_book(redis_server.client())
    procs = {name: ActorProcess(topo, name, log_dir=tmp_path).start() for name in ("permit_issuer", "gate")}
    port = data["actors"]["gate"]["metrics_port"]
    wait_for(lambda: scrape(port).get('clustergate_actor_ready{actor="gate",kind="gate"}') == 1.0, 30, "the gate ready")
    try:
        yield {"endpoint": data["actors"]["gate"]["sockets"]["proposals"]["bind"], "procs": procs, "port": port,
               "redis": redis_server.client()}
    finally:
        for proc in procs.values():
            proc.terminate()


def test_ten_thousand_fuzzed_proposals_get_one_envelope_each_are_counted_and_invalid_ones_never_get_a_permit(gate_system) -> None:
    rng = random.Random(20240607)
    requests = [fuzzed_proposal(rng, n) for n in range(FUZZED_PROPOSALS)]
    before = scrape(gate_system["port"])
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)  # pipelined: up to WINDOW requests in flight, replies come back in order
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(gate_system["endpoint"])
    replies: list[dict] = []
    window, sent = 200, 0
    try:
        while len(replies) < len(requests):
            while sent < len(requests) and sent - len(replies) < window:
                sock.send_multipart([b"", requests[sent][0]])
                sent += 1
            assert sock.poll(30_000), f"no reply after {len(replies)} of {len(requests)}"
            replies.append(json.loads(sock.recv_multipart()[-1]))
    finally:
        sock.close(0)
        ctx.term()
    after = scrape(gate_system["port"])
    r = gate_system["redis"]
    statuses = {"ok": 0, "error": 0}
    for (body, valid), reply in zip(requests, replies):
        statuses[reply["status"]] += 1
        if reply["status"] == "error":
            assert not valid and reply["reason"] and reply["detail"], reply
        else:
            assert valid, (body, reply)
    invalid = sum(1 for _, valid in requests if not valid)
    reasons: dict[str, int] = {}
    for reply in replies:
        reasons[reply.get("reason", "ok")] = reasons.get(reply.get("reason", "ok"), 0) + 1
    assert "internal_error" not in reasons, [(b[:80], rep) for (b, _), rep in zip(requests, replies) if rep.get("reason") == "internal_error"][:3]
    counted = after['gate_requests_total{result="bad_request"}'] - before.get('gate_requests_total{result="bad_request"}', 0)
    assert counted == invalid == statuses["error"]
    permitted = {k[len(keys.permit("")):] for k in r.scan_iter(match=keys.permit("*"))}
    valid_ids = {json.loads(body)["plan_id"] for body, valid in requests if valid}
    assert permitted <= valid_ids
    assert all(proc.proc.poll() is None for proc in gate_system["procs"].values())
    print(f"\nRELIABILITY fuzz: proposals={len(requests)} rejected={statuses['error']} decided={statuses['ok']} "
          f"permits={len(permitted)}")
