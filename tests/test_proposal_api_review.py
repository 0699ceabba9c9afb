"""apirev: the proposal API's promises to the execution layer, checked against a real gate, permit issuer and
redis-server through `clustergate propose` (session 33's hostile review of the proposal API and its docs)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from launcher import keys
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
    assert "expired" not in first.stderr, first.stderr
    wait_for(lambda: not clean.redis.exists(keys.permit(plan)), 10, "the permit to expire", interval_s=0.05)

    again = run_cli("--symbol", "ETHUSDT", "--action", "PARTIAL_50", "--plan-id", plan,
                    "--topology", str(clean.topology))
    assert again.returncode == 0, again.stderr  # a replayed decision: the outcome is known
    replayed = json.loads(again.stdout)["decision"]
    assert (replayed["replayed"], replayed["permit"], replayed["permit_ttl_ms"], replayed["recorded"]) == (
        True, True, None, True), replayed
    assert ("clustergate propose: the permit of this replayed decision has expired (permit_ttl_ms null): "
            "there is no permit to hold, do not act on it") in again.stderr, again.stderr


def test_clustergate_propose_says_nothing_of_a_replayed_permit_still_live(clean):
    plan = new_plan()
    for _ in range(2):
        result = run_cli("--symbol", "SOLUSDT", "--action", "PARTIAL_25", "--plan-id", plan, "--timeout-ms", "5000",
                         "--topology", str(clean.topology))
        assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)["decision"]
    if decision["permit_ttl_ms"] is None:  # a loaded machine took the permit's 1 s between the two calls
        pytest.skip("the permit expired between the two calls")
    assert decision["replayed"] and decision["permit"], decision
    assert "expired" not in result.stderr, result.stderr


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
