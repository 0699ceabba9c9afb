"""A desk runs for weeks: a fault that every proposal meets, or a client that repeats one mistake, must not write
a log line per proposal. Each such line went through supervisord at the proposal rate, and rotated the actor's
whole log history (20 MB x 3 files) away in about a minute at 1,000 proposals/s, the line that said when the fault
began included. The first occurrence is logged at once, then one line a second while it goes on, whose
`repeated=` counts the occurrences since the line before, so none goes uncounted."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pytest

from helpers import wait_for
from test_gate_service import running_p26

PROPOSALS = 300


def lines(log: str, event: str) -> list[str]:
    return [line for line in log.splitlines() if f" event={event} " in line + " "]


def repeated_sum(event_lines: list[str]) -> int:
    """The occurrences the lines count (a line without `repeated=` counts one)."""
    return sum(int(m.group(1)) if (m := re.search(r" repeated=(\d+)", line)) else 1 for line in event_lines)


def line_bound(elapsed_s: float) -> int:
    """The first line, one a second while the occurrences go on, the last second's count, and one to spare."""
    return 3 + int(elapsed_s)


@pytest.fixture
def p26(tmp_path: Path, redis_server):
    with running_p26(tmp_path / "p26", redis_server, issuer_settings={"stream_maxlen": 1000}) as system:
        yield system


def test_a_refusal_every_proposal_meets_is_logged_once_a_second_by_the_gate_and_the_issuer_not_per_proposal(p26):
    r = p26.redis
    for _ in range(1000):  # a gate stream full of records younger than the permit TTL: every decision is refused
        r.xadd("quantum:stream:portfolio.gate", {"plan_id": "filler"})
    started = time.monotonic()
    for _ in range(PROPOSALS):
        reply = p26.client.propose("BTCUSDT", "HOLD", plan_id=uuid.uuid4().hex)
        assert reply["decision"]["gate_reason"] == "permit_unavailable", reply
    elapsed_s = time.monotonic() - started
    for actor, event in ((p26.issuer, "stream_full"), (p26.gate, "permit_issuer_refused")):
        wait_for(lambda: repeated_sum(lines(actor.log(), event)) == PROPOSALS, 10,
                 f"the {actor.name}'s {event} lines to count every refusal")
        count = len(lines(actor.log(), event))
        assert count <= line_bound(elapsed_s), f"{actor.name}: {count} {event} lines for {PROPOSALS} proposals in {elapsed_s:.1f} s"


def test_a_client_resending_one_plan_id_for_another_proposal_is_logged_once_a_second_not_per_request(p26):
    plan_id = uuid.uuid4().hex
    assert p26.client.propose("BTCUSDT", "HOLD", kill_score=0.1, plan_id=plan_id)["status"] == "ok"
    started = time.monotonic()
    for i in range(PROPOSALS):
        reply = p26.client.propose("BTCUSDT", "HOLD", kill_score=0.2, plan_id=plan_id)
        assert reply["reason"] == "plan_id_conflict", reply
    elapsed_s = time.monotonic() - started
    wait_for(lambda: repeated_sum(lines(p26.issuer.log(), "plan_id_conflict")) == PROPOSALS, 10,
             "the issuer's plan_id_conflict lines to count every conflict")
    count = len(lines(p26.issuer.log(), "plan_id_conflict"))
    assert count <= line_bound(elapsed_s), f"{count} plan_id_conflict lines for {PROPOSALS} requests in {elapsed_s:.1f} s"


def test_a_redis_outage_is_logged_once_a_second_by_the_gate_not_per_proposal(p26, redis_server):
    redis_server.stop()
    started = time.monotonic()
    for _ in range(PROPOSALS):
        reply = p26.client.propose("BTCUSDT", "PARTIAL_50", plan_id=uuid.uuid4().hex)
        assert reply["decision"]["gate_reason"] == "redis_unavailable", reply
    elapsed_s = time.monotonic() - started
    outage = [line for line in lines(p26.gate.log(), "redis_unavailable") if " plan_ids=" in line]
    assert outage, p26.gate.log()[-2000:]
    assert len(outage) <= line_bound(elapsed_s), f"{len(outage)} lines for {PROPOSALS} proposals in {elapsed_s:.1f} s"


def test_the_occurrences_a_throttled_line_has_not_yet_counted_are_logged_when_the_actor_stops(p26, redis_server):
    """Occurrences after the first line of a spell wait up to a second for their repeated= line: an actor stopped
    within that second (a deploy, a restart by supervisord) must still log them, or the counts are not exact."""
    redis_server.stop()
    # Not ready: the gate's state cache is dropped, so each proposal meets the outage in its own read (not in the
    # issuer's write, logged as permit_issuer_refused).
    wait_for(lambda: p26.metrics().get('clustergate_actor_ready{actor="gate",kind="gate"}') == 0, 10, "the gate not ready")
    for _ in range(5):
        reply = p26.client.propose("BTCUSDT", "PARTIAL_50", plan_id=uuid.uuid4().hex)
        assert reply["decision"]["gate_reason"] == "redis_unavailable", reply
    p26.gate.terminate()
    outage = [line for line in lines(p26.gate.log(), "redis_unavailable") if " plan_ids=" in line]
    assert repeated_sum(outage) == 5, outage


def test_another_fault_refusing_the_issuers_writes_gets_a_line_of_its_own_within_a_spell(p26):
    """The issuer kept one spell per result: NOREPLICAS refusals, then READONLY (the Redis made a replica), then
    NOREPLICAS again within the second made one spell whose lines carried only the first and the latest refusal: the
    READONLY was never logged (by the gate, which logs the issuer's refusals, neither). Each Redis error code has its
    spell: its first occurrence is logged at once."""
    from helpers import free_port

    r = p26.redis
    r.config_set("min-replicas-to-write", 1)  # no replica: NOREPLICAS
    try:
        proposals = 0
        for step in ("noreplicas", "readonly", "noreplicas"):
            if step == "readonly":
                r.config_set("min-replicas-to-write", 0)
                r.replicaof("127.0.0.1", free_port())  # a replica of a Redis that is not there: READONLY
            elif proposals:
                r.replicaof("no", "one")
                r.config_set("min-replicas-to-write", 1)
            for _ in range(1 if step == "readonly" else 3):
                reply = p26.client.propose("BTCUSDT", "PARTIAL_50", plan_id=uuid.uuid4().hex)
                assert reply["decision"]["gate_reason"] == "redis_unavailable", reply
                proposals += 1
        wait_for(lambda: repeated_sum(lines(p26.issuer.log(), "redis_unavailable")) == proposals, 10,
                 "the issuer's redis_unavailable lines to count every refusal")
        assert any("READONLY" in line for line in lines(p26.issuer.log(), "redis_unavailable")), p26.issuer.log()
        wait_for(lambda: repeated_sum(lines(p26.gate.log(), "permit_issuer_refused")) == proposals, 10,
                 "the gate's permit_issuer_refused lines to count every refusal")
        assert any("READONLY" in line for line in lines(p26.gate.log(), "permit_issuer_refused")), p26.gate.log()
    finally:
        r.replicaof("no", "one")
        r.config_set("min-replicas-to-write", 0)


def test_no_throttled_outage_line_follows_the_line_that_says_the_outage_ended(tmp_path: Path, redis_server):
    """The count of a spell's last second was logged up to a second after its first line, whatever happened meanwhile:
    a gate that saw Redis back logged `redis_available`, then `redis_unavailable ... repeated=4`, a log that read as
    an outage still going on. The end of an outage logs the occurrences not yet counted first."""
    with running_p26(tmp_path / "p26", redis_server, gate_settings={"refresh_s": 0.2}) as p26:
        redis_server.stop()
        wait_for(lambda: p26.metrics().get('clustergate_actor_ready{actor="gate",kind="gate"}') == 0, 10,
                 "the gate not ready")
        for _ in range(5):
            reply = p26.client.propose("BTCUSDT", "PARTIAL_50", plan_id=uuid.uuid4().hex)
            assert reply["decision"]["gate_reason"] == "redis_unavailable", reply
        redis_server.start()
        wait_for(lambda: " event=redis_available " in p26.gate.log(), 10, "the gate to see Redis back")
        outage = lambda: [line for line in lines(p26.gate.log(), "redis_unavailable") if " plan_ids=" in line]  # noqa: E731
        wait_for(lambda: repeated_sum(outage()) == 5, 10, "every refusal counted")
        log = p26.gate.log().splitlines()
        ended = max(i for i, line in enumerate(log) if " event=redis_available " in line)
        assert all(log.index(line) < ended for line in outage()), "\n".join(log[-8:])


def test_a_stopped_issuer_is_logged_once_a_second_by_the_gate_not_per_turn_and_its_return_after_the_counts(
        tmp_path: Path, redis_server):
    """The gate logged permit_issuer_unavailable on every turn that waited permit_timeout_ms for a stopped issuer:
    four lines a second with the default 250 ms wait, for as long as the issuer was down (160 lines in 40 s). Now one
    a second counts them, and permit_issuer_available, after the last count, says when the issuer answered again."""
    import signal
    proposals = 12
    with running_p26(tmp_path / "p26", redis_server, gate_settings={"permit_timeout_ms": 150}) as p26:
        p26.issuer.proc.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            for _ in range(proposals):
                reply = p26.client.propose("BTCUSDT", "PARTIAL_50", plan_id=uuid.uuid4().hex)
                assert reply["decision"]["gate_reason"] == "permit_unavailable", reply
            elapsed_s = time.monotonic() - started
        finally:
            p26.issuer.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: p26.client.propose("BTCUSDT", "PARTIAL_50", plan_id=uuid.uuid4().hex)["decision"]["permit"],
                 10, "a permit once the issuer resumed")
        stopped = lambda: lines(p26.gate.log(), "permit_issuer_unavailable")  # noqa: E731
        wait_for(lambda: repeated_sum(stopped()) >= proposals, 10, "every unanswered turn counted")
        count = len(stopped())
        assert count <= line_bound(elapsed_s), f"{count} permit_issuer_unavailable lines for {proposals} turns in {elapsed_s:.1f} s"
        log = p26.gate.log().splitlines()
        back = [i for i, line in enumerate(log) if " event=permit_issuer_available " in line + " "]
        assert back, "\n".join(log[-8:])
        assert all(log.index(line) < back[-1] for line in stopped()), "\n".join(log[-8:])
