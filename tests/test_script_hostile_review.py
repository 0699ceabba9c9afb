"""Hostile review of the permit issuer's script and `clustergate propose`'s early refusal (branch revscript), each
finding against real processes: a real redis-server, gate and permit issuer."""

from __future__ import annotations

import json

import pytest

from launcher import keys
from test_exit_hostile_review import propose_to_a_silent_gate
from test_gate_service import clean, decision_of, new_plan, system  # noqa: F401 (fixtures)


def test_a_replay_gives_a_permit_ttl_only_for_a_permit_its_decision_issued_that_expires(clean):
    """A replay's permit_ttl_ms was any string's PTTL at the permit key: after the permit expired, another writer's
    "0" with no TTL was answered permit_ttl_ms -1, not null, a live permit by the docs' rule (act on a replay whose
    permit_ttl_ms is not null); and a HOLD's replay (no permit) gave the TTL of a key another writer left there
    (49999), where the docs say null when no permit exists."""
    r = clean.redis
    plan = new_plan()
    first = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert first["permit"] and first["recorded"], first
    r.delete(keys.permit(plan))  # expired
    r.set(keys.permit(plan), "0")  # another writer's, no TTL
    again = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert again["replayed"] and again["permit"] and again["permit_ttl_ms"] is None, again

    held = new_plan()
    hold = decision_of(clean.client.propose("BTCUSDT", "HOLD", plan_id=held))
    assert (hold["final_action"], hold["permit"], hold["recorded"]) == ("HOLD", False, True), hold
    r.set(keys.permit(held), "1", ex=50)  # another writer's
    again = decision_of(clean.client.propose("BTCUSDT", "HOLD", plan_id=held))
    assert again["replayed"] and not again["permit"] and again["permit_ttl_ms"] is None, again

    live = new_plan()
    r.delete(keys.cooldown("SOLUSDT"))
    issued = decision_of(clean.client.propose("SOLUSDT", "PARTIAL_50", plan_id=live))
    assert issued["permit"], issued
    again = decision_of(clean.client.propose("SOLUSDT", "PARTIAL_50", plan_id=live))
    assert again["replayed"] and 0 < again["permit_ttl_ms"] <= 60_000, again


# A code point Python 3.11's Unicode (14.0) leaves unassigned, which Unicode 15.0 (Python 3.12's) assigns: U+1FAE8
# SHAKING FACE, printable there (So). pyproject's requires-python is >=3.11, so a gate may run a later Python.
LATER_UNICODE = "\U0001FAE8"


@pytest.mark.parametrize(("option", "value"), [
    ("--plan-id", f"retry-{LATER_UNICODE}"),
    ("--symbol", f"ETH{LATER_UNICODE}"),
])
def test_clustergate_propose_sends_a_value_with_a_code_point_its_python_has_not_assigned(option, value):
    """`clustergate propose` refused, exit 2, "no gate can decide this proposal", a --plan-id holding a code point its
    own Python's Unicode has not assigned (not printable here), which a gate on a later Python (a later Unicode) takes
    as printable and decides: a plan_id that gate decided, with a permit, could not be resubmitted with the CLI. Only a
    gate knows which characters it takes: the CLI refuses what every gate refuses, and sends this."""
    proc, sent = propose_to_a_silent_gate({"--symbol": "ETHUSDT", "--plan-id": "ok-plan", option: value})
    assert "nothing was sent" not in proc.stderr, proc.stderr
    assert sent is not None, f"nothing was sent: exit {proc.returncode}, {proc.stderr}"
    assert json.loads(sent)[option.lstrip("-").replace("-", "_")] == value, sent


# Characters of every kind the gate's rule (validate_proposal: non-blank, at most 128 printable characters) tells apart.
_PARITY_POOLS = (
    "abcXYZ019-_.:/@#~=+",  # plain ASCII
    " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2028\u2029\u202f\u3000",  # whitespace (str.strip's and others)
    "\x00\x01\x1b\x7f\x9f",  # control characters
    "\u00ad\u200b\u200e\ufeff",  # format characters
    "\udc80\udcff",  # surrogateescape: bytes of a non-UTF-8 argv
    "\xe9\xdf\u4e2d\U0001F600\u0301",  # printable beyond ASCII (a combining accent too)
    "\ue000\U000F0000",  # private use
    f"{LATER_UNICODE}\u0378\ufdd0\uffff\U000E0080",  # unassigned here (Cn)
)
_PARITY_LENGTHS = (0, 1, 2, 3, 31, 32, 33, 64, 127, 128, 129, 140)


def _generated(rng, count: int, max_len: int) -> list[str]:
    """`count` distinct strings: lengths around each limit, characters mostly of one pool with some of another."""
    out: dict[str, None] = {}
    while len(out) < count:
        length = rng.choice(_PARITY_LENGTHS) if rng.random() < 0.6 else rng.randint(0, max_len)
        main, other = rng.choice(_PARITY_POOLS[:1] * 4 + _PARITY_POOLS[5:6] * 2 + _PARITY_POOLS), rng.choice(_PARITY_POOLS)
        out["".join(rng.choice(other if rng.random() < 0.1 else main) for _ in range(length))] = None
    return list(out)


def test_clustergate_propose_refuses_exactly_what_a_real_gate_refuses_over_generated_plan_ids_and_symbols(clean, capsys):
    """Parity of `clustergate propose`'s own refusal (exit 2, nothing sent) with a real gate's over 1,200 generated
    --plan-id and --symbol values: a value the CLI refuses is refused by the gate (invalid_proposal, naming the same
    problem); a value it sends is decided by the gate (exit 0), or refused there only for a code point this Python has
    not assigned (Cn, which a gate on a later Python may take)."""
    import random
    import unicodedata

    from launcher.cli import build_parser
    from launcher.client import GateClient

    rng = random.Random(20261206)
    cases = ([(plan_id, "ETHUSDT") for plan_id in _generated(rng, 800, 140)]
             + [(new_plan(), symbol) for symbol in _generated(rng, 400, 40)])
    counts: dict[str, int] = {}
    with GateClient(clean.endpoint, timeout_ms=5000, retries=0) as direct:
        for plan_id, symbol in cases:
            args = build_parser("propose").parse_args([
                "propose", "--endpoint", clean.endpoint, "--action", "HOLD", f"--plan-id={plan_id}",
                f"--symbol={symbol}", "--timeout-ms", "5000", "--retries", "0"])
            for _ in range(3):  # a fault HOLD (exit 3: a loaded machine's issuer timed out) is resubmitted
                code = args.func(args)
                out, err = capsys.readouterr()
                if code != 3:
                    break
            case = f"plan_id {plan_id!r} symbol {symbol!r}: exit {code}, {err}"
            if code == 2:  # refused by the CLI: the gate refuses it too, for the same problem
                gate = direct.request({"plan_id": plan_id, "symbol": symbol, "action_proposed": "HOLD",
                                       "kill_score": 0.0})
                assert (gate["status"], gate.get("reason")) == ("error", "invalid_proposal"), (case, gate)
                if plan_id.strip():  # (a blank one has the CLI's own words)
                    problem = err.split(": ", 2)[2].split(": no gate can decide")[0]
                    if any(unicodedata.category(c) == "Cn" for c in plan_id + symbol):  # the gate names that one
                        problem = problem.split(": character")[0]
                    assert problem in gate["detail"], (case, gate["detail"])
                counts["refused by both"] = counts.get("refused by both", 0) + 1
            elif code == 1:  # sent and refused by the gate: only for a code point unassigned here
                reply = json.loads(out)
                assert reply.get("reason") == "invalid_proposal", case
                assert any(unicodedata.category(c) == "Cn" for c in plan_id + symbol), case
                counts["sent, refused for Cn"] = counts.get("sent, refused for Cn", 0) + 1
            else:
                assert code == 0, case
                decision = json.loads(out)["decision"]
                assert decision["recorded"] and decision["final_action"] == "HOLD", case
                counts["decided"] = counts.get("decided", 0) + 1
    print(counts)
    assert min(counts.values()) >= 50 and len(counts) == 3, counts


def test_a_plan_id_whose_decision_key_is_of_another_type_is_held_naming_that_key_and_nothing_is_written(clean):
    """The replay now comes before the other keys' type checks: the decision key's own type is still checked first, so
    a plan_id whose decision key holds another type (with the cooldown of another type too) is a fault HOLD
    bad_key_type naming the decision key, nothing written (no permit, cooldown or stream record), never a replay or a
    second decision."""
    r = clean.redis
    plan = new_plan()
    r.hset(keys.plan_decision(plan), "planted", "1")
    r.delete(keys.cooldown("ETHUSDT"))
    r.rpush(keys.cooldown("ETHUSDT"), "planted")
    try:
        held = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
        assert (held["final_action"], held["recorded"], held["permit"]) == ("HOLD", False, False), held
        assert f"{keys.plan_decision(plan)} is a hash, expected a string" in held["detail"], held
        assert r.exists(keys.permit(plan)) == 0 and r.type(keys.plan_decision(plan)) == "hash"
        assert not [f for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan]
    finally:
        r.delete(keys.cooldown("ETHUSDT"))


def test_a_plan_id_whose_decision_key_was_removed_never_renews_its_live_permit(clean):
    """revexit set the permit without NX (so that another writer's "0" with no TTL became SPEC's "1", 60 s): a decision
    key removed by hand, or evicted before the issuer noticed an evicting policy, then let a resubmission of its plan_id
    renew the live permit (999 ms left became 1998 ms of a 2 s TTL; revscript): one plan_id, two permits' worth of time.
    A live permit of SPEC's form is left to expire; anything else found at the key is set to it."""
    r = clean.redis
    plan = new_plan()
    r.delete(keys.cooldown("ETHUSDT"))
    first = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert first["permit"] and first["recorded"], first
    r.pexpire(keys.permit(plan), 5_000)  # the first permit's time left, well under the 60 s a new one would get
    # removed by hand, with its permitted marker (a plan_id permitted before the marker existed; with it, the plan_id
    # is refused plan_id_expired: test_permit_nx_review)
    r.delete(keys.plan_decision(plan), keys.cooldown("ETHUSDT"), keys.permitted_plan(plan))
    again = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert again["recorded"], again
    left = r.pttl(keys.permit(plan))
    assert r.get(keys.permit(plan)) == "1" and 0 < left <= 5_000, (left, again)

    planted = new_plan()  # another writer's "1" with a TTL past SPEC's 60 s is no permit of ours: set to SPEC's
    r.set(keys.permit(planted), "1", ex=3_600)
    r.delete(keys.cooldown("SOLUSDT"))
    issued = decision_of(clean.client.propose("SOLUSDT", "PARTIAL_50", plan_id=planted))
    assert issued["permit"], issued
    assert 0 < r.pttl(keys.permit(planted)) <= 60_000, r.pttl(keys.permit(planted))
