"""The permit issuer's housekeeping (Redis's clock, start time, memory and policy, whether it takes writes) yields to
decisions: over a slow Redis link, a proposal waits behind at most one housekeeping round trip, never behind all of
them falling due in one loop turn. Real redis-server behind a delaying TCP proxy, real gate and issuer."""

from __future__ import annotations

from actors.permit_issuer import RECORD_DECISION
from helpers import NO_SHEDDING, DelayingProxy, write_topology
from test_gate_deadlines import offer
from test_gate_service import P26, write_book

# The issuer's housekeeping commands as they start on the wire (each one round trip): TIME, INFO server, INFO memory,
# the write probe (EVAL "#!lua\nreturn 1" 0) and, before Redis 7, ROLE.
HOUSEKEEPING = (b"*1\r\n$4\r\nTIME\r\n", b"*2\r\n$4\r\nINFO\r\n", b"*3\r\n$4\r\nEVAL\r\n$14\r\n#!lua\nreturn 1",
                b"*1\r\n$4\r\nROLE\r\n")
ONE_WAY_S = 0.1  # a Redis on another host: 100 ms each way
FAR_AHEAD_MS = 600_000  # no client deadline to speak of: every proposal is decided, however long it waits


def housekeeping_behind_each_decision(proxy: DelayingProxy, sent_ms: dict[str, float]) -> dict[str, tuple[int, float]]:
    """plan_id -> (how many housekeeping round trips the issuer began, seen on its Redis connection, after the
    proposal was sent and before its decision's script went to Redis; ms between the two); proposals whose script was
    not seen are left out. One clock (time.time() of this process) for both."""
    chunks = [(at * 1000.0, data) for at, _, data in proxy.sent]
    housekeeping = [at for at, data in chunks if data.startswith(HOUSEKEEPING)]
    decisions = [(at, data) for at, data in chunks if RECORD_DECISION.sha.encode() in data or b"EVAL" in data[:20]]
    behind: dict[str, tuple[int, float]] = {}
    for plan, sent in sent_ms.items():
        needle = plan.encode()
        decided = next((at for at, data in decisions if at > sent and needle in data), None)
        if decided is not None:
            behind[plan] = (sum(1 for at in housekeeping if sent < at < decided), decided - sent)
    return behind


def test_a_proposal_waits_behind_at_most_one_housekeeping_round_trip_of_the_issuer_on_a_slow_redis_link(
        tmp_path, redis_server) -> None:
    """Every 5 s the issuer's timers for Redis's clock (3 TIME round trips), its start (INFO server), its memory
    (INFO memory) and whether it takes writes (a write probe) fell due in one loop turn and ran back to back: with
    Redis 100 ms away each way, a proposal arriving then waited about 1.2 s for all six round trips (past the gate's
    permit_timeout_ms of 500 ms: a fault HOLD for no reason). Now they are staggered, at most one runs in a loop turn,
    and one falling due while a request waits on the issuer's socket is put off until the request is served: a
    proposal sent steadily waits behind one housekeeping round trip at most."""
    proxy = DelayingProxy(redis_server.port, ONE_WAY_S, lambda chunk: chunk.startswith(HOUSEKEEPING[0]))
    write_book(redis_server.client())
    # The gate waits for the issuer as long as a wait behind every housekeeping call takes, so each proposal is
    # decided (counted) rather than answered permit_unavailable, and its Redis link is not slowed: only the issuer's.
    system = P26(tmp_path / "p26", proxy.url, gate_settings={**NO_SHEDDING, "permit_timeout_ms": 20_000})
    write_topology(system.topology, system.data)
    try:
        system.start()
        assert proxy.sent, "the issuer talks to Redis through the slow link"
        # 12 s: every housekeeping timer falls due twice while proposals arrive steadily (40/s, faster than one
        # decision round trip, so a proposal is waiting whenever a housekeeping round trip ends).
        replies, anonymous, deadlines = offer(system.endpoint, rate=40, seconds=12, deadline_after_ms=FAR_AHEAD_MS,
                                              clients=4)
    finally:
        system.stop()
        proxy.close()
    assert not anonymous and all(reply["status"] == "ok" for reply in replies.values()), (
        [reply for reply in replies.values() if reply["status"] != "ok"][:3], anonymous[:3])
    behind = housekeeping_behind_each_decision(proxy, {plan: d - FAR_AHEAD_MS for plan, d in deadlines.items()})
    assert len(behind) >= len(deadlines) * 0.9, (len(behind), len(deadlines))
    kinds = {data[:20] for _, _, data in proxy.sent if data.startswith(HOUSEKEEPING)}
    assert len(kinds) >= 3, f"every housekeeping call ran during the load: {kinds}"
    counts = [n for n, _ in behind.values()]
    # Printed for the record (not asserted: wall-clock times): the longest a proposal took to reach Redis.
    print(f"proposals {len(counts)}, behind more than one housekeeping round trip {sum(n > 1 for n in counts)}, "
          f"at most {max(counts)}; longest from send to its script {max(ms for _, ms in behind.values()):.0f} ms")
    assert max(counts) <= 1, (f"a proposal waited behind {max(counts)} housekeeping round trips; "
                              f"{sum(n > 1 for n in counts)} of {len(counts)} behind more than one")
    assert any(counts), "housekeeping ran while proposals waited (else the test proves nothing)"
