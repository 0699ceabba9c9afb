"""The permit issuer's housekeeping (Redis's clock, start time, memory and policy, whether it takes writes) yields to
decisions: over a slow Redis link, no housekeeping round trip starts while a request waits on the issuer's socket
(one may be under way when it arrives), never all of them falling due in one loop turn. Real redis-server behind a
delaying TCP proxy, real gate and issuer."""

from __future__ import annotations

import copy

from actors.permit_issuer import RECORD_DECISION
from helpers import NO_SHEDDING, ActorProcess, DelayingProxy, write_topology
from test_gate_deadlines import body, new_plan, offer, one_reply
from test_gate_service import P26, write_book

# The issuer's housekeeping commands as they start on the wire (each one round trip): TIME, INFO server, INFO memory,
# the write probe (EVAL "#!lua\nreturn 1" 0) and, before Redis 7, ROLE.
HOUSEKEEPING = (b"*1\r\n$4\r\nTIME\r\n", b"*2\r\n$4\r\nINFO\r\n", b"*3\r\n$4\r\nEVAL\r\n$14\r\n#!lua\nreturn 1",
                b"*1\r\n$4\r\nROLE\r\n")
ONE_WAY_S = 0.1  # a Redis on another host: 100 ms each way
FAR_AHEAD_MS = 600_000  # no client deadline to speak of: every proposal is decided, however long it waits


def from_the_issuer(chunk: bytes) -> bool:
    """Whether a chunk sent to Redis is the permit issuer's (the gate sends no TIME, INFO or script)."""
    return chunk.startswith(HOUSEKEEPING) or RECORD_DECISION.sha.encode() in chunk or b"$4\r\nEVAL\r\n" in chunk[:24]


def first_seen(chunks: list[tuple[float, int, bytes]], plans: list[str]) -> dict[str, float]:
    """plan_id -> time.time() at which the first chunk naming it was read."""
    seen: dict[str, float] = {}
    for at, _, data in chunks:
        for plan in plans:
            if plan not in seen and plan.encode() in data:
                seen[plan] = at
    return seen


def housekeeping_between(redis_link: DelayingProxy, since: dict[str, float]) -> dict[str, int]:
    """plan_id -> how many housekeeping round trips the issuer began (seen on its Redis connection) after `since`'s
    time for it and before its decision's script went to Redis; plan_ids whose script was not seen are left out."""
    housekeeping = [at for at, _, data in redis_link.sent if data.startswith(HOUSEKEEPING)]
    scripts = [(at, data) for at, _, data in redis_link.sent if not data.startswith(HOUSEKEEPING)]
    behind: dict[str, int] = {}
    for plan, start in since.items():
        needle = plan.encode()
        scripted = next((at for at, data in scripts if at > start and needle in data), None)
        if scripted is not None:
            behind[plan] = sum(1 for at in housekeeping if start < at < scripted)
    return behind


def test_no_housekeeping_round_trip_of_the_issuer_starts_while_a_request_waits_on_its_socket_over_a_slow_redis_link(
        tmp_path, redis_server) -> None:
    """Every 5 s the issuer's timers for Redis's clock (3 TIME round trips), its start (INFO server), its memory
    (INFO memory) and whether it takes writes (a write probe) fell due in one loop turn and ran back to back: with
    Redis 100 ms away each way, a request arriving as they began waited about 1.2 s for all six round trips (past the
    gate's permit_timeout_ms of 500 ms: a fault HOLD for no reason). Now they are staggered, at most one runs in a loop
    turn, and one falling due while a request waits on the issuer's socket is put off until the request is served: a
    request finds one under way at most, and none starts while it waits."""
    redis_link = DelayingProxy(redis_server.port, ONE_WAY_S, from_the_issuer)
    write_book(redis_server.client())
    # The gate waits for the issuer as long as a wait behind every housekeeping call takes, so each proposal is
    # decided (counted) rather than answered permit_unavailable; only the issuer's Redis link is slow.
    system = P26(tmp_path / "p26", redis_link.url, gate_settings={**NO_SHEDDING, "permit_timeout_ms": 20_000})
    # A Redis socket timeout for a link this slow (the default 250 ms, about one round trip here, would have the issuer
    # reconnect, and read Redis's clock whole, on a decision's path, before its first write on the new connection).
    system.data["redis"]["timeout_ms"] = 5000
    # The gate reaches the issuer through a proxy that only notes when each request reaches the issuer: the gate's
    # own topology file has the issuer bound at the proxy.
    issuer = system.data["actors"]["permit_issuer"]["sockets"]["requests"]
    issuer_link = DelayingProxy(int(issuer["bind"].rsplit(":", 1)[1]), 0.0, lambda chunk: True)
    gate_data = copy.deepcopy(system.data)
    gate_data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"] = f"tcp://127.0.0.1:{issuer_link.port}"
    gate_data["actors"]["gate"]["sockets"]["permits"]["connect"] = f"tcp://127.0.0.1:{issuer_link.port}"
    system.gate = ActorProcess(write_topology(tmp_path / "gate.yaml", gate_data), "gate", log_dir=system.workdir)
    try:
        system.start()
        assert redis_link.sent, "the issuer talks to Redis through the slow link"
        # The first decision loads the script (NOSCRIPT, then INFO memory before the load, on its path): before the load.
        assert one_reply(system.endpoint, body(new_plan(), "BTCUSDT", "HOLD", None), timeout_ms=20_000)["status"] == "ok"
        # 12 s: every housekeeping timer falls due twice while proposals arrive steadily (40/s: the gate has a
        # request for the issuer as soon as it has the last one's reply).
        replies, anonymous, deadlines = offer(system.endpoint, rate=40, seconds=12, deadline_after_ms=FAR_AHEAD_MS,
                                              clients=4)
    finally:
        system.stop()
        redis_link.close()
        issuer_link.close()
    assert not anonymous and all(reply["status"] == "ok" for reply in replies.values()), (
        [reply for reply in replies.values() if reply["status"] != "ok"][:3], anonymous[:3])
    plans = list(deadlines)
    behind = housekeeping_between(redis_link, first_seen(issuer_link.sent, plans))
    assert len(behind) >= len(plans) * 0.9, (len(behind), len(plans))
    kinds = {data[:20] for _, _, data in redis_link.sent if data.startswith(HOUSEKEEPING)}
    assert len(kinds) >= 3, f"every housekeeping call ran during the load: {kinds}"
    counts = sorted(behind.values())
    # For the record, not asserted: how many housekeeping round trips a proposal met from its send on (the one under
    # way when its request reached the issuer included), and the longest from its send to its script.
    since_send = housekeeping_between(redis_link, {plan: d / 1000 - FAR_AHEAD_MS / 1000 for plan, d in deadlines.items()})
    print(f"\nrequests {len(counts)}: housekeeping round trips begun while one waited at the issuer: at most {counts[-1]}, "
          f"{sum(n > 0 for n in counts)} requests met any; from the proposal's send: at most {max(since_send.values())}")
    # One may begin in the moment between the issuer's check of its socket and the request's arrival; more cannot.
    assert counts[-1] <= 1, (f"a request waited at the issuer while {counts[-1]} housekeeping round trips began; "
                             f"{sum(n > 1 for n in counts)} of {len(counts)} while more than one")
