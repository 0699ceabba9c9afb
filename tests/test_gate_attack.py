"""Hostile review of the gate hardening (issue 16), each finding against real processes: a real
redis-server, gate and permit issuer."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from actors.runtime import REQUEST_DRAIN
from launcher import keys
from helpers import NO_SHEDDING, wait_for
from test_gate_service import (P26, clean, decision_of, dealer_proposals, new_plan, proposal_body,  # noqa: F401
                               settle, system, write_book)


def test_a_storm_of_hold_proposals_cannot_fill_the_stream_so_that_a_real_exit_is_refused(tmp_path, redis_server):
    """One bad client proposing exits for a symbol outside the allowlist (HOLD not_allowed, no permit)
    filled the stream to stream_maxlen with records younger than the permit TTL; every later exit of
    every client was then HOLD permit_unavailable stream_full for a minute."""
    r = redis_server.client()
    write_book(r)
    p26 = P26(tmp_path / "p26", redis_server.url, gate_settings=NO_SHEDDING, issuer_settings={"stream_maxlen": 1000}
              ).start()
    try:
        storm = []
        for _ in range(11):
            storm += dealer_proposals(p26.endpoint, [proposal_body(new_plan(), "NOTALLOWED", "FULL_CLOSE_PROPOSED")
                                                     for _ in range(100)])
        assert all(decision_of(reply)["final_action"] == "HOLD" for reply in storm)
        plan = new_plan()
        exit_decision = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
        assert exit_decision["permit"], exit_decision
        assert r.exists(keys.permit(plan)) == 1
        assert [f for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan]
        assert r.xlen(keys.GATE_STREAM) <= 1000
    finally:
        p26.stop()


def skewed_p26(workdir, redis_url: str, offset_s: float, monkeypatch, **settings) -> P26:
    """Gate and permit issuer whose clocks are offset_s seconds off Redis's (one host, an external Redis)."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent / "skewed_clock"))
    monkeypatch.setenv("CLUSTERGATE_TEST_CLOCK_OFFSET_S", str(offset_s))
    return P26(workdir, redis_url, **settings).start()


def test_a_redis_clock_ahead_of_the_gates_does_not_refuse_every_exit_as_expired(tmp_path, redis_server, monkeypatch):
    """The script compared Redis's clock with a deadline the gate set by its own clock, permit_timeout_ms / 2
    ahead: with Redis's clock 1 s ahead of the gate host's, every decision was HOLD expired."""
    r = redis_server.client()
    write_book(r)
    p26 = skewed_p26(tmp_path / "p26", redis_server.url, -1.0, monkeypatch)
    try:
        assert_permitted(p26, r, "ETHUSDT", "PARTIAL_50")
    finally:
        p26.stop()


def assert_permitted(p26: P26, r, symbol: str, action: str) -> None:
    """A new proposal is decided, recorded and permitted, its permit in Redis."""
    plan = new_plan()
    decision = decision_of(p26.client.propose(symbol, action, plan_id=plan))
    assert decision["permit"] and decision["recorded"], decision
    assert r.exists(keys.permit(plan)) == 1


def test_a_redis_clock_behind_the_gates_does_not_let_a_write_land_after_the_gate_gave_up(tmp_path, redis_server,
                                                                                          monkeypatch):
    """With Redis's clock 1 s behind the gate host's, the deadline check let a stalled Redis run the script
    long after the gate answered HOLD outcome unknown: a decision recorded that its client was told is unknown."""
    r = redis_server.client()
    write_book(r)
    p26 = skewed_p26(tmp_path / "p26", redis_server.url, 1.0, monkeypatch, gate_settings={"state_refresh_ms": 60000})
    try:
        # A decision with Redis up fills the gate's state cache, so the stalled one goes to the issuer.
        assert decision_of(p26.client.propose("BTCUSDT", "HOLD", plan_id=new_plan()))["recorded"]
        plan = new_plan()
        redis_server.proc.send_signal(signal.SIGSTOP)
        try:
            d = decision_of(p26.client.propose("ETHUSDT", "HOLD", plan_id=plan))
            answered = time.time()
            time.sleep(0.3)  # Redis stays stalled past the gate's answer, then runs what waits
        finally:
            redis_server.proc.send_signal(signal.SIGCONT)
        assert (d["final_action"], d["recorded"]) == ("HOLD", False) and "outcome unknown" in d["detail"], d
        wait_for(lambda: r.ping(), 5, "Redis back")
        late = [int(entry_id.split("-")[0]) - answered * 1000
                for entry_id, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan]
        assert late == [], f"a write landed {late[0]:.0f} ms after the gate answered"
        assert r.exists(keys.plan_decision(plan)) == 0
    finally:
        p26.stop()


def test_a_full_redis_gives_hold_saying_redis_is_out_of_memory_and_the_gate_recovers_when_memory_frees(
        tmp_path, redis_server):
    """maxmemory with noeviction: Redis refuses the script's first write (OOM), so nothing is recorded; the
    HOLD said only redis_unavailable "outcome unknown", naming neither the cause nor the certainty."""
    r = redis_server.client()
    write_book(r)
    p26 = P26(tmp_path / "p26", redis_server.url).start()
    try:
        r.config_set("maxmemory-policy", "noeviction")
        # The limit sits half the ballast above the memory used without it. (It was "used with the ballast
        # less 1 MB", read just after the SET: that reading still held the SET's 4 MB query buffer, which
        # Redis frees within a second, and then the limit was above use and the write was allowed.) The
        # ballast goes in 64 KB appends, so no large query buffer is held to free later.
        without_ballast = int(r.info("memory")["used_memory"])
        for _ in range(64):
            r.append("ballast", "x" * 65_536)
        r.config_set("maxmemory", without_ballast + 2_000_000)
        plan = new_plan()
        held = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
        assert (held["final_action"], held["recorded"]) == ("HOLD", False), held
        assert "out of memory" in held["detail"] and "nothing was written" in held["detail"], held
        assert r.exists(keys.plan_decision(plan), keys.permit(plan)) == 0
        r.delete("ballast")
        again = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
        assert again["permit"] and again["recorded"], again
    finally:
        r.config_set("maxmemory", 0)
        p26.stop()


def test_a_stored_decision_lacking_gate_reason_fails_its_own_proposal_and_its_batch_gets_first_answers(clean):
    """A stored decision without gate_reason (or final_action) passed the issuer's checks as a replay and made
    the gate raise KeyError after the issuer had written the whole batch: the runtime then ran every proposal
    again alone (one issuer round trip each), the corrupt one got internal_error, and every other client got
    its first decision marked replayed, never counted in p26_downgraded_total."""
    r = clean.redis
    corrupt_plan = new_plan()
    r.set(keys.plan_decision(corrupt_plan), '{"symbol": "BTCUSDT", "action_proposed": "HOLD", "kill_score": 0.0, '
                                           '"final_action": "HOLD"}')
    fresh = [new_plan() for _ in range(4)]
    replies = dealer_proposals(clean.endpoint, [proposal_body(corrupt_plan, "BTCUSDT", "HOLD")]
                               + [proposal_body(p, "ETHUSDT", "PARTIAL_50") for p in fresh])
    decided = [decision_of(reply) for reply in replies[1:]]
    assert [d["replayed"] for d in decided] == [False] * 4, decided
    assert all(d["permit"] for d in decided)
    corrupt = decision_of(replies[0])
    assert (corrupt["final_action"], corrupt["recorded"]) == ("HOLD", False), corrupt
    assert "corrupt_decision" in corrupt["detail"], corrupt


def test_a_hold_resubmitted_after_hold_decision_ttl_s_is_decided_anew_and_can_get_a_permit(clean):
    """What docs/proposal-api.md says plainly: a HOLD's stored decision lives hold_decision_ttl_s (600 s), so a plan_id
    held for stale state and retried later (a stuck queue, a late retry) gets a fresh decision, with a
    permit if the state now allows it, and the stream then holds two records for that plan_id."""
    r = clean.redis
    r.hset(keys.position_snapshot("ETHUSDT"), "ts_epoch", 1)  # stale: the gate fails closed
    r.hset(keys.position_snapshot("BTCUSDT"), "ts_epoch", 1)
    r.hset(keys.position_snapshot("SOLUSDT"), "ts_epoch", 1)
    settle(clean, time.time())  # the gate's cache holds the stale book
    plan = new_plan()
    held = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert (held["final_action"], held["gate_reason"]) == ("HOLD", "fail_closed_portfolio_state"), held
    assert 0 < r.ttl(keys.plan_decision(plan)) <= 600
    write_book(r)
    r.delete(keys.plan_decision(plan))  # what hold_decision_ttl_s does after 600 s
    settle(clean, time.time())
    later = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert later["permit"] and not later["replayed"], later
    assert [f["final_action"] for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan] == ["HOLD", "PARTIAL_75"]


def test_a_percent_encoded_unix_socket_path_is_decoded_as_redis_py_decodes_it():
    """unix:///tmp/a%20b/redis.sock was read as the literal path '/tmp/a%20b/redis.sock' (the gate could not
    connect; redis-py's own from_url decodes it)."""
    from launcher.redis_url import parse_redis_url
    assert parse_redis_url("unix:///tmp/a%20b/redis.sock").unix_path == "/tmp/a b/redis.sock"


def test_port_0_in_a_redis_url_is_refused_not_read_as_the_default_6379():
    """redis://host:0 silently became port 6379: another Redis (the host's default one) than the URL names."""
    from launcher.redis_url import RedisUrlError, parse_redis_url
    with pytest.raises(RedisUrlError, match="port"):
        parse_redis_url("redis://127.0.0.1:0/1")


def test_a_db_written_in_non_ascii_digits_is_refused():
    """'redis://h/\\u0663' (an Arabic-Indic 3) was read as db 3: str.isdigit accepts any Unicode digit."""
    from launcher.redis_url import RedisUrlError, parse_redis_url
    for url in ("redis://h/\u0663", "redis://h?db=\u0663"):
        with pytest.raises(RedisUrlError, match="db"):
            parse_redis_url(url)


def stalled_gate(ctx):
    """A bound ROUTER that reads proposals and never answers: a gate stalled after reading them."""
    import zmq
    from helpers import free_port
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    sock.bind(endpoint)
    return sock, endpoint


def test_clustergate_propose_interrupted_while_waiting_prints_the_plan_id_it_sent():
    """Ctrl-C while `clustergate propose` waited for the gate printed a traceback and no plan_id, though the
    proposal had reached the gate and may be decided with a permit: the operator could only retry with a
    new plan_id (a second permit)."""
    import json
    import zmq
    from test_gate_service import PYTHON, REPO
    import os
    import subprocess
    ctx = zmq.Context()
    gate, endpoint = stalled_gate(ctx)
    cli = subprocess.Popen([PYTHON, "-m", "launcher", "propose", "--symbol", "ETHUSDT", "--action", "PARTIAL_50",
                            "--endpoint", endpoint, "--timeout-ms", "30000", "--retries", "0"], cwd=REPO,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONUNBUFFERED": "1"},
                           # A test run started as a background job inherits SIGINT ignored: the CLI must
                           # get the operator's Ctrl-C as a terminal would deliver it.
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert gate.poll(20000), "the proposal never reached the gate"
        sent = json.loads(gate.recv_multipart()[-1])["plan_id"]
        cli.send_signal(signal.SIGINT)
        _, stderr = cli.communicate(timeout=20)
        assert cli.returncode == 130
        assert f"plan_id {sent}" in stderr and f"--plan-id {sent}" in stderr, stderr
        assert "clustergate propose: interrupted\n" in stderr, stderr  # it said "clustergate propose: " (attack16a)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(5)
        gate.close(linger=0)
        ctx.term()


@pytest.mark.parametrize("reply", [b"<html>not a gate</html>", b"[" * 100_000 + b"]" * 100_000],
                         ids=["not_json", "nested_past_the_json_readers_depth"])
def test_gateclient_propose_answered_by_a_bad_reply_says_which_plan_id_it_sent(reply: bytes):
    """A reply that is not a JSON object (the endpoint is not the gate, or a proxy mangled it) raised a bare
    ValueError/AttributeError: the plan_id propose() generated and sent was lost. One nested deeper than the json
    module reads (a broken or impostor endpoint) raised RecursionError out of propose() and a traceback out of
    `clustergate propose`, and a client of several gates gave up instead of asking the next."""
    import threading

    import zmq
    from launcher.client import GateClient, GateUnavailable
    ctx = zmq.Context()
    gate, endpoint = stalled_gate(ctx)
    client = GateClient(endpoint, timeout_ms=20000, retries=0)
    try:
        def answer_badly() -> None:
            if gate.poll(20000):
                envelope = gate.recv_multipart()[:-1]
                gate.send_multipart(envelope + [reply])
        answerer = threading.Thread(target=answer_badly)
        answerer.start()
        with pytest.raises(GateUnavailable) as caught:
            client.propose("ETHUSDT", "PARTIAL_50")
        answerer.join(20)
        assert caught.value.plan_id and caught.value.plan_id in str(caught.value)
    finally:
        client.close()
        gate.close(linger=0)
        ctx.term()


def test_a_proposal_with_a_duplicate_field_is_refused_not_read_by_its_last_value(clean):
    """{"action_proposed": "HOLD", ..., "action_proposed": "PARTIAL_50"} got a PARTIAL_75 permit: Python keeps
    the last value, while a proxy or logger that keeps the first saw a HOLD (a parser-differential)."""
    plan = new_plan()
    body = (f'{{"plan_id": "{plan}", "symbol": "ETHUSDT", "action_proposed": "HOLD", '
            f'"action_proposed": "PARTIAL_50"}}').encode()
    reply = dealer_proposals(clean.endpoint, [body])[0]
    assert (reply["status"], reply["reason"]) == ("error", "invalid_proposal"), reply
    assert "action_proposed" in reply["detail"] and "more than once" in reply["detail"], reply
    assert clean.redis.exists(keys.permit(plan), keys.plan_decision(plan)) == 0


def test_a_duplicate_field_error_names_the_plan_id_given_once_and_never_one_from_a_nested_object(clean):
    """{"plan_id": "p", "symbol": "ETHUSDT", ..., "symbol": "BTCUSDT"} was refused with no plan_id in the reply,
    though an error reply carries the request's plan_id when it had a usable one (docs/proposal-api.md): the check
    raised inside the JSON reader, before the request's own object (and its plan_id) was read."""
    plan = new_plan()
    twice = (f'{{"plan_id": "{plan}", "symbol": "ETHUSDT", "action_proposed": "HOLD", '
             f'"symbol": "BTCUSDT"}}').encode()
    plan_twice = (f'{{"plan_id": "{plan}-a", "symbol": "ETHUSDT", "action_proposed": "HOLD", '
                  f'"plan_id": "{plan}-b"}}').encode()
    nested = (f'{{"plan_id": "{plan}-n", "symbol": "ETHUSDT", "action_proposed": "HOLD", '
              f'"r_net": {{"plan_id": "other", "a": 1, "a": 2}}}}').encode()
    replies = [dealer_proposals(clean.endpoint, [body])[0] for body in (twice, plan_twice, nested)]
    assert [(reply["status"], reply["reason"]) for reply in replies] == [("error", "invalid_proposal")] * 3, replies
    assert "symbol" in replies[0]["detail"] and "more than once" in replies[0]["detail"], replies[0]
    assert replies[0].get("plan_id") == plan, replies[0]
    assert "plan_id" not in replies[1], replies[1]  # which of the two is meant cannot be told
    assert replies[2].get("plan_id") == f"{plan}-n" and "r_net" in replies[2]["detail"], replies[2]
    for plan_id in (plan, f"{plan}-a", f"{plan}-b", f"{plan}-n", "other"):
        assert clean.redis.exists(keys.permit(plan_id), keys.plan_decision(plan_id)) == 0


@pytest.mark.parametrize("plan_id, symbol, says", [
    (42, "ETHUSDT", "plan_id must be a non-blank string, got 42"),
    ({"id": 1}, "ETHUSDT", 'plan_id must be a non-blank string, got {"id": 1}'),
    ("   ", "ETHUSDT", 'plan_id must be a non-blank string, got "   "'),
    ("a\u0000b", "ETHUSDT", "plan_id must be printable: character U+0000 at index 1 is not"),
    ("x" * 129, "ETHUSDT", "plan_id must be at most 128 characters, got 129"),
    ("ok-plan", 7, "symbol must be a non-empty string, e.g. ETHUSDT, got 7"),
    ("ok-plan", "ETH\u200bUSDT", "symbol must be printable: character U+200B at index 3 is not"),
    ("ok-plan", "E" * 33, "symbol must be at most 32 characters, got 33"),
])
def test_a_bad_plan_id_or_symbol_is_refused_saying_what_was_wrong_with_it(clean, plan_id, symbol, says):
    """A plan_id sent as a number was refused "plan_id is required" (it was given), and a 3-character plan_id holding
    a NUL "must be at most 128 printable characters" (it was): neither said what was wrong."""
    body = json.dumps({"plan_id": plan_id, "symbol": symbol, "action_proposed": "HOLD"}).encode()
    reply = dealer_proposals(clean.endpoint, [body])[0]
    assert (reply["status"], reply["reason"]) == ("error", "invalid_proposal"), reply
    assert says in reply["detail"], reply



def test_a_proposal_without_action_proposed_is_refused_saying_it_is_required_not_that_it_was_null(clean):
    """opday: a proposal with no action_proposed was refused `action_proposed must be one of HOLD, ..., got null`: the
    client sent no null, it left the field out (a missing plan_id says `plan_id is required`)."""
    body = json.dumps({"plan_id": "no-action", "symbol": "ETHUSDT"}).encode()
    reply = dealer_proposals(clean.endpoint, [body])[0]
    assert (reply["status"], reply["reason"]) == ("error", "invalid_proposal"), reply
    assert reply["detail"] == ("action_proposed is required: one of HOLD, PARTIAL_25, PARTIAL_50, PARTIAL_75, "
                               "FULL_CLOSE_PROPOSED"), reply

def test_a_unix_url_naming_a_host_is_refused_not_read_as_a_local_socket():
    """unix://redis-host/run/redis.sock silently dropped the host and opened the local socket: another Redis
    than the operator named."""
    from launcher.redis_url import RedisUrlError, parse_redis_url
    with pytest.raises(RedisUrlError, match="host"):
        parse_redis_url("unix://redis-host/run/redis.sock")
    assert parse_redis_url("unix:///run/redis.sock").unix_path == "/run/redis.sock"


def nested_body(plan_id: str, field: str, depth: int) -> bytes:
    """A proposal whose `field` is an array nested `depth` deep (the rest valid)."""
    fields = {"plan_id": f'"{plan_id}"', "symbol": '"ETHUSDT"', "action_proposed": '"HOLD"',
              field: "[" * depth + "]" * depth}
    return ("{" + ",".join(f'"{name}":{value}' for name, value in fields.items()) + "}").encode()


def test_a_value_nested_as_deep_as_the_json_module_reads_gets_its_error_and_every_request_is_counted_once(clean):
    """An array nested about 980 deep (the depth depends on the gate's stack), which the json module reads but
    could not write back into the error's detail, raised RecursionError out of the proposal's check: alone, the
    error internal_error (to a client, a fault: outcome unknown, ask the next gate) counted in no
    gate_requests_total result and logged with a traceback; in a batch, every proposal read before it was read
    and counted again (p26_plans_seen_total)."""
    from helpers import scrape
    port = clean.gate_metrics_port
    depths = range(900, 1001)
    for field in ("action_proposed", "deadline_ms"):
        before = scrape(port)
        hostile = [nested_body(new_plan(), field, depth) for depth in depths]
        lone = [dealer_proposals(clean.endpoint, [body])[0] for body in hostile]  # one at a time
        valid = [proposal_body(new_plan(), "BTCUSDT", "HOLD") for _ in depths]
        batch = dealer_proposals(clean.endpoint, [body for pair in zip(valid, hostile) for body in pair])
        after = scrape(port)
        refused = [reply.get("reason") for reply in lone + batch[1::2]]
        assert set(refused) <= {"invalid_proposal", "not_json"}, (field, sorted(set(refused), key=str))
        assert all(reply["status"] == "ok" for reply in batch[::2]), field

        def delta(name: str) -> float:
            return after.get(name, 0.0) - before.get(name, 0.0)
        assert delta('clustergate_handler_errors_total{actor="gate",where="handler"}') == 0, field
        assert delta('gate_requests_total{result="bad_request"}') == 2 * len(depths), field
        assert delta('gate_requests_total{result="ok"}') == len(depths), field
        assert sum(delta(k) for k in after if k.startswith("p26_plans_seen_total")) == len(depths), field


class ComparedName(str):
    """A field name that counts how often it is compared for equality."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        ComparedName.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_finding_the_names_a_request_gives_twice_takes_comparisons_in_proportion_to_its_names():
    """A 64 KB request of 10,900 names, two of them repeated, held the gate's one thread for a second (each
    name counted against all the others): 5 such requests, and an honest proposal waited over 5 s for a
    reply, past any deadline, with no `overloaded` answer possible meanwhile."""
    from actors.gate import _object_once_per_name
    n = 400
    pairs = [(ComparedName(str(i % 2)), 1) for i in range(n)]  # equal names, each its own object
    ComparedName.compared = 0
    assert _object_once_per_name(pairs).twice == {"0", "1"}  # refused once the whole request is read
    assert ComparedName.compared <= 4 * n, f"{ComparedName.compared} comparisons for {n} names"



def p26_with_password(tmp_path, redis_server, monkeypatch, password: str):
    """(a client of Redis, the gate and issuer started) with `password` required by Redis and given to both."""
    import redis as redis_py

    redis_server.client().config_set("requirepass", password)
    r = redis_py.Redis(port=redis_server.port, password=password, decode_responses=True, socket_timeout=2)
    write_book(r)
    monkeypatch.setenv("CLUSTERGATE_REDIS_PASSWORD", password)
    return r, P26(tmp_path / "p26", redis_server.url).start()


def test_a_local_process_without_the_redis_password_gets_no_permit_from_the_issuers_socket(tmp_path, redis_server,
                                                                                            monkeypatch):
    """The permit issuer's socket listens on loopback TCP without CurveZMQ (production.yaml), so any local process
    could send it a decision: with the Redis password kept from it, it got a FULL_CLOSE_PROPOSED permit inside a
    cooldown under which the gate would have stepped the proposal down. A request must now be signed with the Redis
    password (as the gate's are): unsigned, signed with another password, or altered after signing, nothing is
    written."""
    import hashlib
    import hmac

    import zmq

    from actors.wire import issuer_key, signed_issuer_request

    password = "s21-exit-review"
    r, p26 = p26_with_password(tmp_path, redis_server, monkeypatch, password)
    try:
        ours = new_plan()
        assert decision_of(p26.client.propose("ETHUSDT", "PARTIAL_25", plan_id=ours))["permit"]  # a cooldown now
        issuer = p26.data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"]

        def request(plan_id: str) -> bytes:
            return json.dumps({"decision": {
                "plan_id": plan_id, "symbol": "ETHUSDT", "action_proposed": "FULL_CLOSE_PROPOSED",
                "final_action": "FULL_CLOSE_PROPOSED", "gate_reason": "pass"}, "cooldown_seen": True,
                "deadline_epoch": time.time() + 30}).encode()

        signed = signed_issuer_request(request("forged-0"), issuer_key(password))
        forgeries = [request("forged-1"),
                     signed_issuer_request(request("forged-2"), issuer_key("another password")),
                     request("forged-3") + b"\n" + hmac.new(b"", request("forged-3"), hashlib.sha256).hexdigest().encode(),
                     signed.replace(b"forged-0", b"forged-4"),  # a signed request, altered
                     request("forged-5") + b"\n"]
        for frame in forgeries:
            sock = zmq.Context.instance().socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(issuer)
            try:
                sock.send(frame)
                assert sock.poll(10_000), "the permit issuer did not answer"
                reply = sock.recv_json()
            finally:
                sock.close()
            assert (reply["status"], reply["reason"]) == ("error", "unauthorized"), (frame, reply)
            assert "nothing was written" in reply["detail"], reply
        for n in range(1, 6):
            assert r.exists(keys.permit(f"forged-{n}"), keys.plan_decision(f"forged-{n}")) == 0
        assert [f["plan_id"] for _, f in r.xrange(keys.GATE_STREAM)] == [ours]
        assert_permitted(p26, r, "BTCUSDT", "PARTIAL_50")  # the gate signs its own requests
    finally:
        p26.stop()


def test_proposals_waiting_in_the_gates_queue_when_it_stops_are_answered_overloaded_not_dropped(tmp_path,
                                                                                                  redis_server):
    """A gate asked to stop (SIGTERM: `up` after a changed setting, supervisorctl restart) finished the batch it was
    deciding and left unanswered every proposal waiting in its own queue: of 300 proposals sent on one DEALER while
    the permit issuer was stalled, 44 got no reply, and each REQ client waited out its timeout before resending.
    They are now answered `overloaded` (nothing decided or recorded: resend the same plan_id), and the replies are
    flushed before the gate exits, within its shutdown bound."""
    import zmq

    from helpers import SHUTDOWN_BOUND_S

    write_book(redis_server.client())
    p26 = P26(tmp_path / "p26", redis_server.url, gate_settings=NO_SHEDDING).start()
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(p26.endpoint)
    sent = 300
    try:
        p26.issuer.proc.send_signal(signal.SIGSTOP)  # the gate waits permit_timeout_ms while the rest queue up
        try:
            for i in range(sent):
                sock.send_multipart([b"%d" % i, b"", proposal_body(new_plan(), "ETHUSDT", "HOLD")])
            wait_for(lambda: "permit_issuer_unavailable" in p26.gate.log() or p26.gate.proc.poll() is not None, 10,
                     "the gate to wait on its stalled issuer")
            p26.gate.proc.send_signal(signal.SIGTERM)
            assert p26.gate.proc.wait(timeout=SHUTDOWN_BOUND_S) == 0, p26.gate.log()[-3000:]
        finally:
            p26.issuer.proc.send_signal(signal.SIGCONT)
        answers = answers_by_id(sock, sent)
        assert len(answers) == sent, f"{sent - len(answers)} of {sent} proposals got no reply"
        stopping = [a for a in answers.values() if a["status"] == "error"]
        assert stopping, "no proposal was left in the queue: the test did not reach its case"
        for answer in stopping:
            assert answer["reason"] == "overloaded" and "stopping" in answer["detail"], answer
        decided = [a for a in answers.values() if a["status"] == "ok"]
        assert all(a["decision"]["final_action"] == "HOLD" for a in decided)
        # SIGTERM came in the second batch (the first had waited out the stalled issuer): none after it is decided.
        assert len(decided) <= 2 * REQUEST_DRAIN, f"{len(decided)} decided: batches went on after SIGTERM"
    finally:
        sock.close()
        p26.stop()


def answers_by_id(sock, sent: int) -> dict[bytes, dict]:
    """The replies a DEALER that sent `sent` proposals, each with its own id frame, gets within 5 s, by id."""
    answers: dict[bytes, dict] = {}
    deadline = time.monotonic() + 5
    while len(answers) < sent and time.monotonic() < deadline:
        if sock.poll(100):
            frames = sock.recv_multipart()
            answers[frames[0]] = json.loads(frames[-1])
    return answers


def wait_issuer_ready(p26: P26) -> None:
    """Wait until the permit issuer (started alone) says it is ready."""
    from helpers import scrape

    port = p26.data["actors"]["permit_issuer"]["metrics_port"]
    wait_for(lambda: scrape(port).get('clustergate_actor_ready{actor="permit_issuer",kind="permit_issuer"}') == 1.0,
             20, "the permit issuer ready")


def wait_gate_ready(p26: P26) -> None:
    """Wait until the gate (started alone) says it is ready."""
    from helpers import scrape

    wait_for(lambda: scrape(p26.gate_metrics_port).get('clustergate_actor_ready{actor="gate",kind="gate"}') == 1.0,
             20, "the gate ready")


def test_a_gate_stopped_as_proposals_arrive_answers_each_one_its_socket_took(tmp_path, redis_server):
    """A gate stopped just after a burst arrived (its permit issuer stalled, so the gate sat in its first batch)
    read its socket until a read found it empty and closed it: libzmq hands a socket the messages its I/O thread has
    queued only when the socket processes its commands, at most once a millisecond or so on non-blocking reads, so
    hundreds it had taken were behind that empty read, and their clients got no reply (100 to 250 of 400 answered,
    5 runs of 5). The stopping gate now reads until its socket stays empty a while; every proposal gets one reply."""
    import zmq

    from helpers import SHUTDOWN_BOUND_S

    write_book(redis_server.client())
    p26 = P26(tmp_path / "p26", redis_server.url, gate_settings=NO_SHEDDING).start()
    sent = 400
    try:
        p26.issuer.proc.send_signal(signal.SIGSTOP)
        for round_ in range(3):
            if round_:
                p26.gate.start()
                wait_gate_ready(p26)
            sock = zmq.Context.instance().socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(p26.endpoint)
            try:
                # One proposal, that the gate takes alone and waits on the stalled issuer for; the burst then
                # arrives while it waits, and the SIGTERM a moment after (both pauses only stage the case).
                sock.send_multipart([b"first", b"", proposal_body(new_plan(), "ETHUSDT", "HOLD")])
                time.sleep(0.1)
                for i in range(sent - 1):
                    sock.send_multipart([b"%d" % i, b"", proposal_body(new_plan(), "ETHUSDT", "HOLD")])
                time.sleep(0.05)
                p26.gate.proc.send_signal(signal.SIGTERM)
                assert p26.gate.proc.wait(timeout=SHUTDOWN_BOUND_S + 5) == 0, p26.gate.log()[-3000:]
                answers = answers_by_id(sock, sent)
            finally:
                sock.close()
            assert len(answers) == sent, f"round {round_}: {sent - len(answers)} of {sent} proposals got no reply"
    finally:
        p26.issuer.proc.send_signal(signal.SIGCONT)
        p26.stop()


def test_a_gate_and_issuer_given_different_redis_passwords_hold_saying_so_and_record_nothing(tmp_path, redis_server,
                                                                                             monkeypatch):
    """A gate and its permit issuer started with different Redis passwords, both of which Redis accepts (an ACL user
    with two, as in a password rotation, the gate restarted first): every request of the gate is refused
    `unauthorized`. Each proposal is a fault HOLD that says nothing was recorded (a refusal before any write), and
    the gate's log and the issuer's name the variable the two must agree on, not only an outsider's request."""
    import redis as redis_py

    redis_server.client().execute_command("ACL", "SETUSER", "default", "on", ">s21-old", ">s21-new", "~*", "&*",
                                          "+@all")
    r = redis_py.Redis(port=redis_server.port, password="s21-old", decode_responses=True, socket_timeout=2)
    write_book(r)
    p26 = P26(tmp_path / "p26", redis_server.url)
    try:
        monkeypatch.setenv("CLUSTERGATE_REDIS_PASSWORD", "s21-old")
        p26.issuer.start()
        # The issuer must answer before the proposal: a gate whose request found no issuer yet (a slow start under
        # the suite's load) holds with no reply to report, not the refusal this test is about.
        wait_issuer_ready(p26)
        monkeypatch.setenv("CLUSTERGATE_REDIS_PASSWORD", "s21-new")
        p26.gate.start()
        wait_gate_ready(p26)
        plan = new_plan()
        decision = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
        assert (decision["final_action"], decision["gate_reason"], decision["recorded"], decision["permit"]) == (
            "HOLD", "permit_unavailable", False, False), decision
        assert "(unauthorized)" in decision["detail"] and "nothing was recorded" in decision["detail"], decision
        assert r.exists(keys.permit(plan), keys.plan_decision(plan)) == 0
        wait_for(lambda: "$CLUSTERGATE_REDIS_PASSWORD" in p26.gate.log()
                 and "$CLUSTERGATE_REDIS_PASSWORD" in p26.issuer.log(), 10, "both logs to name the variable")
    finally:
        p26.stop()


def test_a_process_on_the_issuers_port_cannot_answer_the_gate_written_with_nothing_in_redis(tmp_path, redis_server,
                                                                                             monkeypatch):
    """A local process without the Redis password that took the permit issuer's port while the issuer was down
    answered the gate's signed request `written, permit issued`: the gate answered permit: true, recorded: true, with
    no permit and no cooldown in Redis (so the next exit passed the cooldown once the gate re-read the state). With a
    Redis password the issuer now signs each reply for its request, and the gate takes no other: HOLD, the outcome
    unknown, logged `permit_issuer_reply_unsigned`."""
    import threading

    import zmq

    r, p26 = p26_with_password(tmp_path, redis_server, monkeypatch, "s21-sign-review")
    squatter = zmq.Context.instance().socket(zmq.REP)
    squatter.setsockopt(zmq.LINGER, 0)
    done = threading.Event()

    def answer_written() -> None:
        for _ in range(100):
            if done.is_set():
                return
            if squatter.poll(100):
                squatter.recv()
                squatter.send(b'{"status":"ok","results":[{"status":"ok","written":true,"permit_issued":true}]}')

    thread = threading.Thread(target=answer_written)
    try:
        p26.issuer.terminate()
        endpoint = p26.data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"]

        def bound() -> bool:
            try:
                squatter.bind(endpoint)
                return True
            except zmq.ZMQError:
                return False

        wait_for(bound, 10, "the issuer's port free")
        thread.start()
        plan = new_plan()
        decision = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
        assert (decision["final_action"], decision["gate_reason"], decision["permit"], decision["recorded"]) == (
            "HOLD", "permit_unavailable", False, False), decision
        assert r.exists(keys.permit(plan), keys.plan_decision(plan)) == 0
        wait_for(lambda: "permit_issuer_reply_unsigned" in p26.gate.log(), 10, "the gate to log the unsigned reply")
    finally:
        done.set()
        if thread.is_alive():
            thread.join(15)
        squatter.close()
        p26.stop()
