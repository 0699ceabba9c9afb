"""apirev: the proposal API's promises to the execution layer, checked against a real gate, permit issuer and
redis-server through `clustergate propose` (session 33's hostile review of the proposal API and its docs)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from launcher import keys
from launcher.client import GateClient
from helpers import RedisServer, wait_for
from test_gate_service import clean, run_cli, running_p26  # noqa: F401 (clean: a fixture)


def new_plan() -> str:
    return uuid.uuid4().hex


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    """A gate and issuer whose permits live 1 s (permit_ttl_s: 1), so that a replay can outlive its permit within a
    test; the cooldown keeps SPEC's 60 s. test_gate_service's `clean` gives it flushed, with the book written."""
    workdir = tmp_path_factory.mktemp("apirev")
    redis = RedisServer(workdir / "redis").start()
    try:
        with running_p26(workdir, redis, issuer_settings={"permit_ttl_s": 1}) as p26:
            yield p26
    finally:
        redis.stop()


def test_clustergate_propose_says_a_replayed_permit_that_has_expired_is_no_permit_to_act_on(clean):
    """A resubmitted plan_id gets its first decision back, `permit: true` included, after its permit has expired
    (`permit_ttl_ms` null): the docs told the caller to act on `recorded: true` with `permit: true` and to resubmit
    the same plan_id to get it, and `clustergate propose` printed that reply, exit 0, saying nothing, so a reader
    of `"permit": true` acted without a permit to hold. It now says on stderr that the permit has expired."""
    plan = new_plan()
    first = run_cli("--symbol", "ETHUSDT", "--action", "PARTIAL_50", "--plan-id", plan,
                    "--topology", str(clean.topology))
    assert first.returncode == 0, first.stderr
    decided = json.loads(first.stdout)["decision"]
    assert decided["permit"] and not decided["replayed"], decided
    assert "no permit to hold" not in first.stderr, first.stderr
    wait_for(lambda: not clean.redis.exists(keys.permit(plan)), 10, "the permit to expire", interval_s=0.05)

    again = run_cli("--symbol", "ETHUSDT", "--action", "PARTIAL_50", "--plan-id", plan,
                    "--topology", str(clean.topology))
    assert again.returncode == 0, again.stderr  # a replayed decision: the outcome is known
    replayed = json.loads(again.stdout)["decision"]
    assert (replayed["replayed"], replayed["permit"], replayed["permit_ttl_ms"], replayed["recorded"]) == (
        True, True, None, True), replayed
    assert ("clustergate propose: the permit of this replayed decision no longer exists (permit_ttl_ms null: it "
            "expired, or was deleted): there is no permit to hold, do not act on it") in again.stderr, again.stderr


def test_clustergate_propose_says_nothing_of_a_replayed_permit_still_live(clean):
    plan = new_plan()
    with GateClient(clean.endpoint, timeout_ms=5000, retries=0) as client:
        assert client.propose("SOLUSDT", "PARTIAL_25", plan_id=plan)["decision"]["permit"]
    clean.redis.pexpire(keys.permit(plan), 60_000)  # this module's permits live 1 s: as SPEC's 60 s from here
    result = run_cli("--symbol", "SOLUSDT", "--action", "PARTIAL_25", "--plan-id", plan,
                     "--topology", str(clean.topology))
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)["decision"]
    assert decision["replayed"] and decision["permit"] and decision["permit_ttl_ms"] > 0, decision
    assert "no permit to hold" not in result.stderr, result.stderr


@pytest.mark.parametrize("typed", ["ETH USDT", "eth usdt", "e t h u s d t"])
def test_clustergate_propose_names_the_symbol_meant_when_spaces_alone_differ_inside_it_too(clean, typed):
    """docs/proposal-api.md: `propose` names the allowlisted symbol meant "when case or spaces alone differ"; a space
    inside the symbol (`ETH USDT`, typed from a ticker shown as `ETH USDT`) got no suggestion, only leading and trailing
    ones were taken off."""
    result = run_cli("--symbol", typed, "--action", "PARTIAL_50", "--plan-id", new_plan(),
                     "--topology", str(clean.topology))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["decision"]["gate_reason"] == "not_allowed"
    assert "did you mean ETHUSDT?" in result.stderr, result.stderr


def test_clustergate_propose_given_an_endpoint_says_it_cannot_name_the_allowlist(clean):
    """With --endpoint (no topology read), the docs promised the allowlist named; the note named none and said
    nothing of why. It now says the allowlist is the gate's topology's, which --endpoint does not read."""
    result = run_cli("--symbol", "ethusdt", "--action", "PARTIAL_50", "--plan-id", new_plan(),
                     "--endpoint", clean.endpoint)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["decision"]["gate_reason"] == "not_allowed"
    assert ("'ethusdt' is not in the gate's allowlist (the gate's topology's symbols, not read with --endpoint), "
            "matched exactly: decided HOLD not_allowed; symbols are upper-case: did you mean ETHUSDT?") in \
        result.stderr, result.stderr


def test_exits_refused_for_a_full_gate_stream_page_as_permit_unavailable_and_the_alert_says_so(tmp_path):
    """A gate stream holding stream_maxlen records younger than 60 s makes the issuer refuse the decision (HOLD
    permit_unavailable, detail stream_full): p26_fail_closed_total{reason="permit_unavailable"} rises and
    P26DecisionsFailClosed pages, whose description said only "permit_unavailable: the permit issuer does not answer",
    sending the operator to an issuer that answers every request. It now names stream_full and where to tell the two
    apart (permit_issuer_requests_total{result})."""
    import yaml
    import zmq

    from helpers import REPO, scrape

    redis = RedisServer(tmp_path / "redis").start()
    try:
        # HOLDs may fill nine tenths of the cap (900 of 1,000): a symbol outside the allowlist is decided HOLD.
        with running_p26(tmp_path / "p26", redis, issuer_settings={"stream_maxlen": 1000},
                         gate_settings={"overload_queue_age_ms": 60_000}) as p26:
            dealer = zmq.Context.instance().socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(p26.endpoint)
            try:
                sent = answered = 0
                details = []
                while not any("stream_full" in d for d in details):
                    assert sent < 3000, "no stream_full after 3,000 HOLDs"
                    for _ in range(100):
                        dealer.send_multipart([b"", json.dumps({"plan_id": new_plan(), "symbol": "NOTLISTED",
                                                                 "action_proposed": "HOLD"}).encode()])
                        sent += 1
                    while answered < sent:
                        assert dealer.poll(20_000), "a proposal went unanswered"
                        reply = json.loads(dealer.recv_multipart()[-1])
                        answered += 1
                        details.append(str((reply.get("decision") or {}).get("detail")))
            finally:
                dealer.close(linger=0)
            gate = scrape(p26.gate_metrics_port)
            issuer = scrape(p26.data["actors"]["permit_issuer"]["metrics_port"])
    finally:
        redis.stop()
    full = sum("stream_full" in d for d in details)
    assert gate['p26_fail_closed_total{reason="permit_unavailable"}'] >= full > 0, gate
    assert issuer['permit_issuer_requests_total{result="stream_full"}'] == full, issuer

    rules = yaml.safe_load((REPO / "configs" / "alerts.yml").read_text())
    rule = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "P26DecisionsFailClosed")
    why = rule["annotations"]["description"].split("permit_unavailable: ", 1)[1].split(";", 1)[0]
    assert "stream_full" in why and 'permit_issuer_requests_total{result="stream_full"}' in why, why


def plain_pyzmq_example() -> str:
    """The proposal API page's plain pyzmq client: the python block after "or with plain pyzmq"."""
    from helpers import REPO

    text = (REPO / "docs" / "proposal-api.md").read_text()
    block = text.split("or with plain pyzmq", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert "tcp://127.0.0.1:5556" in block, block
    return block


def test_the_docs_plain_pyzmq_client_gets_its_answer_after_the_gate_crashed_holding_its_request(tmp_path):
    """A REQ client whose request was read by a gate that then crashed (SIGKILL, here while it waited for its stalled
    permit issuer) is never answered, even once the gate is back: the page's plain pyzmq example sent and then
    waited in recv_json() for ever. It now polls with a timeout, sends a deadline, and resends the same plan_id on a
    new socket (Lazy Pirate), so it ends, with the decision of the restarted gate (given 20 attempts rather than 3,
    for a loaded machine whose gate takes longer than two to start again)."""
    import os
    import signal
    import subprocess

    from helpers import DEADLINE_SCALE, PYTHON, REPO, scrape

    redis = RedisServer(tmp_path / "redis").start()
    try:
        with running_p26(tmp_path / "p26", redis, gate_settings={"permit_timeout_ms": 30_000}) as p26:
            seen = 'p26_plans_seen_total{action_proposed="FULL_CLOSE_PROPOSED"}'
            before = scrape(p26.gate_metrics_port)[seen]
            os.kill(p26.issuer.proc.pid, signal.SIGSTOP)
            try:
                client = subprocess.Popen([PYTHON, "-c", plain_pyzmq_example().replace(
                    "tcp://127.0.0.1:5556", p26.endpoint).replace("attempts=3", "attempts=20")], cwd=REPO, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True)
                try:
                    wait_for(lambda: scrape(p26.gate_metrics_port)[seen] > before, 20,
                             "the gate to read the example's proposal")
                    p26.gate.proc.kill()  # a crash: the request it read dies with it
                    p26.gate.proc.wait()
                finally:
                    os.kill(p26.issuer.proc.pid, signal.SIGCONT)
                p26.gate.start()
                try:
                    out, err = client.communicate(timeout=30 * DEADLINE_SCALE)
                except subprocess.TimeoutExpired:
                    client.kill()
                    client.communicate()
                    pytest.fail("the docs' plain pyzmq client still waited for an answer 30 s after the gate came "
                                "back: a REQ whose request died with the gate is never answered")
                assert client.returncode == 0, err
                assert "'status': 'ok'" in out and "plan-0002" in out, out + err
            finally:
                if client.poll() is None:
                    client.kill()
                    client.communicate()
    finally:
        redis.stop()
