"""One snapshot rule for both sides: the gate (raw HMGET values) and P2.7 (HGETALL hashes) agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from actors.gate import SNAPSHOT_FIELDS
from actors.policy import Position, parse_snapshot
from actors.snapshots import SNAPSHOT_FUTURE_SKEW_S, held_symbols, read_snapshot, signed_notional

NOW = 1_700_000_000.0
ROOT = Path(__file__).resolve().parent.parent


def fields(amt="2", mark="10", ts=NOW, notional=None) -> dict[str, str]:
    out = {"position_amt": amt, "mark_price": mark, "ts_epoch": None if ts is None else str(ts),
           "notional_usd": notional}
    return {k: v for k, v in out.items() if v is not None}


# (snapshot hash, expected signed notional: None = not usable / not fresh)
TABLE = [
    (fields(ts=NOW + 1), 20.0),                 # ts_epoch written as round(time.time()): 1 s ahead
    (fields(ts=NOW + 4), 20.0),                 # executor clock slightly ahead
    (fields(ts=NOW + SNAPSHOT_FUTURE_SKEW_S), 20.0),
    (fields(ts=NOW + 6), None),                 # beyond the skew allowance
    (fields(ts=NOW - 300), 20.0),               # stale only when older than 300 s
    (fields(ts=NOW - 301), None),
    (fields(amt="-2"), -20.0),
    (fields(amt="-2", notional="25"), -25.0),   # |notional_usd|, side of position_amt
    (fields(amt="2", notional="-25"), 25.0),
    (fields(amt="0", notional="25"), 0.0),      # flat: side 0, never the sign of notional_usd
    (fields(amt="0", notional="-25"), 0.0),
    (fields(amt=None, notional="25"), None),    # no position_amt: no side, unusable
    (fields(amt=None, notional="-25"), None),
    (fields(amt="nan"), None),
    (fields(mark="nan"), None),
    (fields(notional="nan"), None),
    (fields(ts="nan"), None),
    (fields(amt="inf"), None),
    (fields(amt="abc"), None),
    (fields(mark="abc"), None),
    (fields(notional="abc"), None),             # a malformed notional_usd is not replaced by amt x mark
    (fields(ts="abc"), None),
    (fields(ts=None), None),
    (fields(mark=None), None),
    (fields(mark=None, notional="30"), 30.0),
    (fields(notional=""), 20.0),                # empty notional_usd counts as absent
    ({}, None),
]


@pytest.mark.parametrize("snapshot,expected", TABLE)
def test_gate_and_p27_read_every_snapshot_the_same_way(snapshot, expected):
    p27 = signed_notional(snapshot, NOW, 300)
    position, _ = parse_snapshot("BTCUSDT", [snapshot.get(f) for f in SNAPSHOT_FIELDS], NOW, 300)
    gate = None if position is None else position.signed_notional
    assert p27 == expected
    assert gate == expected
    # held on one side exactly when the gate sees a non-zero position
    assert bool(held_symbols({} if p27 is None else {"BTCUSDT": p27})) == bool(gate)


def test_the_gate_reads_raw_bytes_values_and_keeps_the_age():
    values = [b"-40", b"150", str(NOW - 10).encode(), b"-7000"]
    assert parse_snapshot("SOLUSDT", values, NOW, 300) == (Position("SOLUSDT", -7000.0), 10.0)
    assert read_snapshot(b"1", b"1", str(NOW + 6).encode(), None, NOW, 300) == (None, -6.0)


def test_importing_the_gate_imports_neither_redis_nor_numpy():
    code = ("import sys, actors.gate; "
            "print(sorted(m for m in ('redis', 'numpy', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]"


def test_importing_the_correlator_imports_no_redis_client():
    """The correlator reads no Redis: the window's decoding lives apart from the buffer (actors/window_message.py), so
    its every start (each `up`, restart and test) is spared redis-py's import, about 0.1 s of CPU."""
    code = "import sys, actors.correlator; print(sorted(m for m in ('redis', 'hiredis') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]"
