"""Microbenchmark of the gate's own Python per decision, in its main thread's CPU time (issue 14).

A real `Gate` (its setup, its runtime's batch serve on its real ROUTER socket over TCP) decides one
proposal at a time, as at 1,000/s open loop; what it does not do is the I/O to other processes: its state
cache is built from canned Redis replies (a fresh book, no cooldowns) and the permit issuer's reply is
canned (`written`, a compact result), so the figure is the gate's Python (receive, parse, validate,
policy, issuer request encode and reply decode, metrics, the reply's JSON, send) without the hops whose
cost the floors in bench/bench_gate.py measure. Only the time inside the gate's serve call counts
(time.thread_time, the client's sends and receives are outside it), so other processes on the machine
move the figure little: use it for A/B between two checkouts, alternating runs.

    .venv/bin/python bench/bench_gate_micro.py [--decisions 20000] [--rounds 5] [--handler-only]

--handler-only calls the gate's handler and encodes its reply, with no socket: the Python alone. Timings of
either mode swing with what else runs on the machine (caches); a steady A/B is the instruction count under
valgrind (Debian's valgrind package), which --instructions measures: the handler-only mode run under callgrind
for 200 and 1,200 decisions, less the same runs without the handler (the harness building its requests), over
the 1,000 decisions between them. It takes about three minutes:

    .venv/bin/python bench/bench_gate_micro.py --instructions
"""

from __future__ import annotations

import argparse
import gc
import shutil
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import zmq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from actors import gate as gate_module  # noqa: E402
from actors.wire import decode_internal, encode, encode_internal  # noqa: E402
from launcher.harness import demo_topology_data, retarget, write_topology  # noqa: E402
from launcher.topology import load_topology  # noqa: E402

BOOK = {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0), "SOLUSDT": (-40.0, 150.0)}
ACTIONS = ("HOLD", "PARTIAL_25", "PARTIAL_50", "PARTIAL_75", "FULL_CLOSE_PROPOSED")
ISSUER_REPLY = {True: b'{"status":"ok","results":[{"status":"ok","written":true,"permit_issued":true}]}',
                False: b'{"status":"ok","results":[{"status":"ok","written":true,"permit_issued":false}]}'}


def canned_cache(gate: gate_module.Gate, now: float) -> gate_module.StateCache:
    """The state cache of one refresh that found a fresh book, fresh cluster state and no cooldowns."""
    replies: list = []
    for symbol in gate.symbols:
        amt, mark = BOOK.get(symbol, (1.0, 100.0))
        replies.append([str(amt).encode(), str(mark).encode(), str(now).encode(), str(amt * mark).encode()])
    replies.append([str(int(now)).encode(), b"0.4", str(int(now * 1000)).encode()])
    if gate.realized:
        replies.append([str(int(now)).encode(), *([b"0.02"] * len(gate.symbols)), str(int(now * 1000)).encode()])
    replies += [-2] * len(gate.symbols)
    return gate_module.StateCache(replies, gate.symbols, read_at=now, stale_after_s=gate.stale_after_s,
                                  freshness_s=gate.freshness_s, realized=gate.realized, settings=gate.settings,
                                  cooldown_symbols=gate.symbols)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--handler-only", action="store_true",
                        help="the handler and the reply's encode, no socket (the gate's Python alone)")
    parser.add_argument("--instructions", action="store_true",
                        help="the handler's instructions per decision under valgrind's callgrind (machine-independent)")
    parser.add_argument("--gap-ms", type=float, default=0.0,
                        help="sleep this long before each proposal (1: the idle a decision comes after at 1,000/s, "
                             "with caches gone cold; not with --handler-only)")
    parser.add_argument("--no-handler", action="store_true", help=argparse.SUPPRESS)  # --instructions' baseline
    args = parser.parse_args()
    if args.instructions:
        return instructions()
    with tempfile.TemporaryDirectory(prefix="gate-micro-") as tmp:
        path = write_topology(Path(tmp) / "topology.yaml", retarget(demo_topology_data(), "redis://127.0.0.1:1/0"))
        topology = load_topology(path)
    gate = gate_module.Gate(topology, "gate")
    gate.setup()
    gate._timers.clear()  # no refresh: the canned cache stays
    now = time.time()
    gate._cache, gate._cache_read_mono = canned_cache(gate, now), float("inf")

    def ask_issuer(request):
        encode_internal(request)
        return decode_internal(ISSUER_REPLY[request["decisions"][0]["decision"]["final_action"] != "HOLD"])

    gate.ask_issuer = ask_issuer
    proposals_sock = gate.sockets["proposals"]
    serve = gate._handlers[proposals_sock]
    if args.handler_only:
        return handler_only(gate, args.decisions, args.rounds, run_handler=not args.no_handler)
    client = gate.ctx.socket(zmq.DEALER)
    client.setsockopt(zmq.LINGER, 0)
    client.connect(topology.actor("gate").sockets["proposals"].bind)
    symbols = list(gate.symbols)
    gc.collect()
    gc.freeze()
    per_round = []
    try:
        for _ in range(args.rounds):
            spent = 0.0
            for i in range(args.decisions):
                if args.gap_ms:
                    time.sleep(args.gap_ms / 1000)  # outside the timed serve call, as the client's send is
                body = json.dumps({"plan_id": uuid.uuid4().hex, "symbol": symbols[i % len(symbols)],
                                   "action_proposed": ACTIONS[i % 5], "kill_score": 0.5, "r_net": -0.5,
                                   "deadline_ms": (time.time() + 5) * 1000}).encode()
                client.send_multipart([b"", body])
                if not proposals_sock.poll(5000):
                    raise SystemExit("the gate's socket got no proposal")
                started = time.thread_time()
                serve(proposals_sock)
                spent += time.thread_time() - started
                frames = client.recv_multipart()
                if i == 0 and not frames[1].startswith(b'{"status":"ok","decision":'):
                    raise SystemExit(f"unexpected reply: {frames[1][:200]!r}")
            per_round.append(spent / args.decisions * 1e6)
    finally:
        client.close(linger=0)
        for role, sock in list(gate.sockets.items()):
            gate._close(role, sock)
        gate.ctx.term()
    gap = f", {args.gap_ms:g} ms idle before each" if args.gap_ms else ""
    print(f"gate main-thread CPU per decision (serve call only, canned state and issuer{gap}): "
          f"median {statistics.median(per_round):.1f} us, rounds {' '.join(f'{x:.1f}' for x in per_round)}")
    return 0


def bodies(symbols: list[str], n: int) -> list[bytes]:
    return [json.dumps({"plan_id": uuid.uuid4().hex, "symbol": symbols[i % len(symbols)], "action_proposed": ACTIONS[i % 5],
                        "kill_score": 0.5, "r_net": -0.5, "deadline_ms": (time.time() + 600) * 1000}).encode()
            for i in range(n)]


def handler_only(gate: gate_module.Gate, decisions: int, rounds: int, run_handler: bool = True) -> int:
    per_round = []
    try:
        for _ in range(rounds):
            requests = bodies(list(gate.symbols), decisions)
            gc.collect()
            gc.freeze()
            started = time.thread_time()
            reply = {"status": "ok"}
            encode_reply = getattr(gate, "encode_reply", encode)  # an older checkout's gate: the json module, for A/B
            for body in requests if run_handler else ():
                reply = gate.handle_proposals([[body]])[0]
                encode_reply(reply)
            per_round.append((time.thread_time() - started) / max(decisions, 1) * 1e6)
            if reply["status"] != "ok":
                raise SystemExit(f"unexpected reply: {reply}")
    finally:
        for role, sock in list(gate.sockets.items()):
            gate._close(role, sock)
        gate.ctx.term()
    print(f"gate handler + reply encode, CPU per decision (no socket, canned state and issuer): "
          f"median {statistics.median(per_round):.1f} us, rounds {' '.join(f'{x:.1f}' for x in per_round)}")
    return 0


def callgrind_total(decisions: int, run_handler: bool, directory: str) -> int:
    """Instructions of one --handler-only run (one round of `decisions`) under callgrind."""
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={directory}/cg.%p", sys.executable, __file__,
               "--handler-only", "--decisions", str(decisions), "--rounds", "1"] + ([] if run_handler else ["--no-handler"])
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900)
    totals = [int(line.rsplit(":", 1)[1].strip()) for line in proc.stderr.splitlines() if "Collected :" in line]
    if proc.returncode != 0 or len(totals) != 1:
        raise SystemExit(f"callgrind run failed (exit {proc.returncode}): {proc.stderr[-1500:]}")
    return totals[0]


def instructions(low: int = 200, high: int = 1200) -> int:
    """The handler's (and reply encode's) instructions per decision: callgrind's totals at `high` and `low`
    decisions, less the harness's own (the same runs without the handler), over high - low."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="gate-micro-cg-") as directory:
        totals = {(n, handler): callgrind_total(n, handler, directory) for handler in (True, False) for n in (low, high)}
    span = high - low
    with_handler = (totals[high, True] - totals[low, True]) / span
    harness = (totals[high, False] - totals[low, False]) / span
    print(f"gate handler + reply encode, instructions per decision (callgrind; no socket, canned state and issuer): "
          f"{with_handler - harness:,.0f} ({with_handler:,.0f} with the harness's request building, {harness:,.0f} "
          f"without the handler; {low} and {high} decisions)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
