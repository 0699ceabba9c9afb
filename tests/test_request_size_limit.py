"""The gate's default max_request_bytes (ZMQ_MAXMSGSIZE of its proposals socket) against the largest valid proposal.

The limit bounds the gate's memory (connections x hwm x max_request_bytes: the 64 KB default let 100 connections take
its RSS from 34 to 191 MB) and must never drop a valid proposal: a request larger than it gets no reply at all. The
largest valid proposal is built from the limits docs/proposal-api.md gives, as json.dumps writes it (ensure_ascii:
12 bytes for each character outside the BMP), with the longest number each field takes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from actors.gate import parse_request
from actors.policy import BadRequest
from helpers import PYTHON, REPO, demo_topology_data, write_topology
from launcher.client import LARGEST_VALID_PROPOSAL_BYTES, GateClient, GateUnavailable
from launcher.topology import GateSettings
from test_gate_service import P26, decision_of, write_book

DEFAULT_LIMIT = GateSettings().max_request_bytes
WIDEST_CHAR = "\U0001F600"  # printable, outside the BMP: json.dumps writes it as a surrogate pair, \ud83d\ude00
LONGEST_FLOAT = 2.2250738585072014e-308  # in (0, 1], 23 characters: a float's repr is at most 17 digits
LONGEST_INT = -int(sys.float_info.max)  # 310 characters: the longest integer a finite number field takes
FUTURE_DEADLINE_MS = 12345678901234.568  # the year 2361, 18 characters: the longest deadline that never passes
ESCAPED_BYTES = len(json.dumps(WIDEST_CHAR)) - 2


def largest_valid_proposal(**fields) -> dict:
    return {"plan_id": WIDEST_CHAR * 128, "symbol": WIDEST_CHAR * 32, "action_proposed": "FULL_CLOSE_PROPOSED",
            "kill_score": LONGEST_FLOAT, "r_net": LONGEST_INT, "ts_epoch": LONGEST_INT,
            "deadline_ms": LONGEST_FLOAT, **fields}


def padded_proposal(size: int) -> bytes:
    """A valid HOLD proposal of a new plan_id, padded with JSON whitespace to `size` bytes."""
    body = json.dumps({"plan_id": uuid.uuid4().hex, "symbol": "ETHUSDT", "action_proposed": "HOLD"}).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_the_largest_valid_proposal_is_valid_at_every_limit_and_fits_the_default_with_room():
    body = largest_valid_proposal()
    raw = json.dumps(body).encode()
    assert len(raw) == 2715, "docs/proposal-api.md and GateSettings.max_request_bytes's doc give 2,715 bytes"
    assert len(raw) == LARGEST_VALID_PROPOSAL_BYTES, "GateClient refuses a proposal larger than this, nothing sent"
    assert ESCAPED_BYTES == 12 and len(repr(LONGEST_FLOAT)) == 23 and len(str(LONGEST_INT)) == 310
    proposal = parse_request([raw], len(raw))
    assert (proposal.plan_id, proposal.deadline_ms) == (body["plan_id"], LONGEST_FLOAT)
    # Every field is at its limit: one character or one step more and the proposal is not valid.
    for field, over in (("plan_id", body["plan_id"] + "p"), ("symbol", body["symbol"] + "S"),
                        ("r_net", LONGEST_INT * 10), ("ts_epoch", LONGEST_INT * 10)):
        with pytest.raises(BadRequest):
            parse_request([json.dumps({**body, field: over}).encode()], 10 * len(raw))
    print(f"largest valid proposal {len(raw)} bytes; default max_request_bytes {DEFAULT_LIMIT}")
    assert len(raw) * 2 <= DEFAULT_LIMIT, f"the largest valid proposal is {len(raw)} bytes; the limit {DEFAULT_LIMIT}"


def test_the_default_limit_stays_within_four_times_the_largest_valid_proposal():
    """The memory bound is connections x hwm x max_request_bytes: a default far above any valid proposal only lets
    hostile clients hold more of the gate's memory (the 64 KB default was 24 times it)."""
    raw = json.dumps(largest_valid_proposal()).encode()
    assert DEFAULT_LIMIT <= 4 * len(raw), f"default {DEFAULT_LIMIT} bytes for a largest valid proposal of {len(raw)}"


def test_a_gate_on_the_default_limit_decides_the_largest_valid_proposal_and_drops_one_byte_over(tmp_path: Path,
                                                                                              redis_server) -> None:
    write_book(redis_server.client())
    p26 = P26(tmp_path / "p26", redis_server.url).start()
    try:
        assert "max_request_bytes" not in (p26.data["actors"]["gate"].get("settings") or {})
        largest = json.dumps(largest_valid_proposal()).encode()
        # Read and answered: its deadline (epoch 1970, the longest a deadline is written) has passed.
        assert p26.client.request_raw(largest)["reason"] == "expired"
        decided = decision_of(p26.client.request_raw(
            json.dumps(largest_valid_proposal(deadline_ms=FUTURE_DEADLINE_MS)).encode()))
        assert (decided["final_action"], decided["gate_reason"], decided["recorded"]) == ("HOLD", "not_allowed", True)
        # Padded with JSON whitespace to exactly the limit, a valid proposal is still read and decided.
        assert len(padded_proposal(DEFAULT_LIMIT)) == DEFAULT_LIMIT
        assert decision_of(p26.client.request_raw(padded_proposal(DEFAULT_LIMIT)))["recorded"]
        # One byte over and libzmq drops the connection unread: no reply.
        with pytest.raises(GateUnavailable):
            GateClient(p26.endpoint, timeout_ms=500, retries=0).request_raw(padded_proposal(DEFAULT_LIMIT + 1))
        assert decision_of(p26.client.request_raw(padded_proposal(DEFAULT_LIMIT)))["recorded"]
    finally:
        p26.stop()


def test_a_gate_at_the_largest_valid_proposals_size_never_goes_unanswered_for_what_the_client_sends(
        tmp_path: Path, redis_server) -> None:
    # GateClient measured a proposal without the deadline_ms each attempt adds (a comma, 13 bytes of name and 13
    # digits): one of 2,715 bytes so measured went out as 2,743, past a gate at max_request_bytes 2,715 (the least
    # docs/proposal-api.md says reads every valid proposal), which dropped it unread: every attempt timed out, and the
    # call ended in GateUnavailable "retry with the same plan_id" (reproduced against a real gate, permit issuer and
    # redis-server), the proposal no gate decides that the client's size check was there to refuse.
    write_book(redis_server.client())
    p26 = P26(tmp_path / "p26", redis_server.url, gate_settings={"max_request_bytes": LARGEST_VALID_PROPOSAL_BYTES})
    p26.start()
    try:
        with GateClient(p26.endpoint, timeout_ms=3000, retries=0) as client:
            base = {"plan_id": "", "symbol": "ETHUSDT", "action_proposed": "HOLD", "kill_score": 0.0}
            pad = LARGEST_VALID_PROPOSAL_BYTES - len(json.dumps(base, separators=(",", ":")))
            with pytest.raises(ValueError, match="its plan_id .*nothing was sent"):
                client.propose("ETHUSDT", "HOLD", plan_id="p" * pad)
            largest = largest_valid_proposal()
            decided = decision_of(client.propose(largest["symbol"], largest["action_proposed"], largest["kill_score"],
                                                 largest["plan_id"], largest["r_net"], largest["ts_epoch"]))
            assert (decided["gate_reason"], decided["recorded"]) == ("not_allowed", True), decided
    finally:
        p26.stop()


def test_validate_accepts_an_operators_larger_max_request_bytes(tmp_path: Path) -> None:
    data = demo_topology_data()
    data["actors"]["gate"]["settings"] = {**(data["actors"]["gate"].get("settings") or {}), "max_request_bytes": 65536}
    path = write_topology(tmp_path / "topology.yaml", data)
    result = subprocess.run([PYTHON, "-m", "launcher", "validate", str(path)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
