"""Microbenchmark of the permit issuer's own Python per decision, against a real redis-server (issue 14).

A real `PermitIssuer` (its setup, its handler) records one decision per request, as the gate sends them at
1,000/s open loop (a compact batch of one item with the gate's deadline); its Redis is a real redis-server on a
free port in a temp dir, so each decision runs the real script in one pipelined round trip. What it does not
do is its ZeroMQ receive and send (the floors in bench/bench_gate.py measure those hops). The decisions cycle
through three symbols (new ones each run) and five actions, and say they saw the symbol's cooldown once one was
set, as the gate's do, so every one is written; four in five issue a permit. The run fails unless all were written.

    .venv/bin/python bench/bench_issuer_micro.py [--decisions 5000] [--rounds 5]

prints the handler's thread CPU per decision (time.thread_time: the Redis round trip's system calls included,
Redis's own work not), which swings with what else runs on the machine. A steady A/B is the instruction count
under valgrind (Debian's valgrind package), which --instructions measures: the handler run under callgrind for
200 and 1,200 decisions, less the same runs without the handler (the harness building its requests), over the
1,000 decisions between them; and apart, the client side of a bare Redis round trip of the same commands (the
harness sends each decision's EVALSHA, pre-encoded, with RespClient.pipeline_raw: the socket calls and hiredis's
parse of the reply, which any issuer using this client pays), so the rest is the issuer's own Python. Callgrind
counts user space only: the system calls' kernel time is in neither figure. It takes about five minutes:

    .venv/bin/python bench/bench_issuer_micro.py --instructions
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from actors import permit_issuer as issuer_module  # noqa: E402
from actors.policy import PortfolioMetrics, decision_record, validate_proposal  # noqa: E402
from launcher.resp import encode_commands  # noqa: E402
from actors.wire import encode_internal  # noqa: E402
from prometheus_client import REGISTRY  # noqa: E402
from launcher.harness import RedisServer, demo_topology_data, retarget, write_topology  # noqa: E402
from launcher.topology import load_topology  # noqa: E402

ACTIONS = ("PARTIAL_25", "PARTIAL_50", "HOLD", "PARTIAL_75", "FULL_CLOSE_PROPOSED")
METRICS = PortfolioMetrics(heat=1.0, concentration=0.731845, corr_proxy=0.8125, k=0.4, k_source="cluster",
                           stress=0.842961, total_abs_notional=61200.0)
MODES = ("handler", "none", "roundtrip", "payloads")  # what one run does with each request it builds


def requests(n: int) -> list[bytes]:
    """n requests as the gate sends them: one decision each, compact, with its deadline."""
    now = time.time()
    symbols = [f"S{uuid.uuid4().hex[:6].upper()}USDT" for _ in range(3)]
    cooled: set[str] = set()  # the symbols whose cooldown an earlier decision set
    out = []
    for i in range(n):
        action, symbol = ACTIONS[i % len(ACTIONS)], symbols[i % len(symbols)]
        proposal = validate_proposal({"plan_id": uuid.uuid4().hex, "symbol": symbol, "action_proposed": action,
                                      "kill_score": 0.5, "r_net": -0.5, "deadline_ms": (now + 600) * 1000})
        decision = decision_record(proposal, action, "pass", METRICS, now)
        item = {"decision": decision, "cooldown_seen": symbol in cooled, "cooldown_from_batch": False}
        out.append(encode_internal({"decisions": [item], "deadline_epoch": now + 600, "compact": True}))
        if action != "HOLD":
            cooled.add(symbol)
    return out


def written() -> float:
    return REGISTRY.get_sample_value("permit_issuer_requests_total", {"result": "written"}) or 0.0


def make_issuer(redis_url: str, tmp: str) -> issuer_module.PermitIssuer:
    data = retarget(demo_topology_data(), redis_url)
    data["actors"]["permit_issuer"]["settings"] = {**(data["actors"]["permit_issuer"].get("settings") or {}),
                                                   "cooldown_ttl_s": 3600}  # outlasts a run under valgrind
    path = write_topology(Path(tmp) / "topology.yaml", data)
    issuer = issuer_module.PermitIssuer(load_topology(path), "permit_issuer")
    issuer.setup()
    issuer._timers.clear()  # no housekeeping taken up during the run
    issuer._housekeeper.stop()  # and none read: its thread ends at its next due reading
    issuer.handle([requests(1)[0]])  # loads the script (NOSCRIPT, then EVAL) before anything is counted
    return issuer


def run(issuer: issuer_module.PermitIssuer, decisions: int, mode: str, gap_s: float = 0.0) -> float:
    """Thread CPU per decision (us) of one round in `mode` (MODES)."""
    frames = requests(decisions)
    payloads: list[bytes] = []
    if mode in ("roundtrip", "payloads"):  # each decision's EVALSHA, built and encoded as the issuer does
        for frame in frames:
            decision, seen, _ = issuer_module.check_request(issuer_module.decode_internal(frame))[0][0]
            payloads.append(encode_commands([issuer_module.script_command(decision, seen, issuer._script_args)]))
    handle, pipeline_raw = issuer.handle, issuer.redis.pipeline_raw
    gc.collect()
    gc.freeze()
    before = written()
    if gap_s:  # each call timed alone, after its sleep (a sleep's own system calls are not the issuer's)
        spent, replies = 0.0, []
        thread_time, sleep = time.thread_time, time.sleep
        for frame, payload in zip(frames, payloads or frames):
            sleep(gap_s)
            started = thread_time()
            if mode == "handler":
                handle([frame])
            elif mode == "roundtrip":
                replies.append(pipeline_raw(payload, 1)[0])
            spent += thread_time() - started
    else:
        started = time.thread_time()
        if mode == "handler":
            for frame in frames:
                handle([frame])
        elif mode == "roundtrip":
            replies = [pipeline_raw(payload, 1)[0] for payload in payloads]
        spent = time.thread_time() - started
    if mode == "handler" and written() - before != decisions:
        raise SystemExit(f"{written() - before:.0f} of {decisions} decisions written")
    if mode == "roundtrip" and [reply[0] for reply in replies] != ["written"] * decisions:
        raise SystemExit(f"not all written: {[r for r in replies if r[0] != 'written'][:3]}")
    return spent / max(decisions, 1) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--instructions", action="store_true",
                        help="instructions per decision under valgrind's callgrind (machine-independent)")
    parser.add_argument("--gap-ms", type=float, default=0.0,
                        help="sleep this long before each decision (1: the idle a decision comes after at 1,000/s, "
                             "with caches gone cold), outside the timed calls")
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)  # --instructions' runs share one redis-server
    parser.add_argument("--mode", choices=MODES, default="handler", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="issuer-micro-") as tmp:
        redis = None if args.redis_url else RedisServer(Path(tmp) / "redis").start()
        try:
            url = args.redis_url or redis.url
            if args.instructions:
                return instructions(url)
            issuer = make_issuer(url, tmp)
            try:
                per_round = [run(issuer, args.decisions, args.mode, args.gap_ms / 1000) for _ in range(args.rounds)]
            finally:
                issuer.redis.close()
                for role, sock in list(issuer.sockets.items()):
                    issuer._close(role, sock)
                issuer.ctx.term()
        finally:
            if redis is not None:
                redis.stop()
    if args.mode in ("handler", "roundtrip"):
        what = "handler" if args.mode == "handler" else "bare round trip of the same EVALSHA commands"
        gap = f", {args.gap_ms:g} ms idle before each" if args.gap_ms else ""
        print(f"permit issuer {what}, thread CPU per decision (real redis-server, no ZeroMQ{gap}): "
              f"median {statistics.median(per_round):.1f} us, rounds {' '.join(f'{x:.1f}' for x in per_round)}")
    return 0


def callgrind_total(decisions: int, mode: str, redis_url: str, directory: str) -> int:
    """Instructions of one run (one round of `decisions` in `mode`) under callgrind."""
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={directory}/cg.%p", sys.executable, __file__,
               "--mode", mode, "--decisions", str(decisions), "--rounds", "1", "--redis-url", redis_url]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900)
    totals = [int(line.rsplit(":", 1)[1].strip()) for line in proc.stderr.splitlines() if "Collected :" in line]
    if proc.returncode != 0 or len(totals) != 1:
        raise SystemExit(f"callgrind run failed (exit {proc.returncode}): {proc.stderr[-1500:]}")
    return totals[0]


def instructions(redis_url: str, low: int = 200, high: int = 1200) -> int:
    """The handler's instructions per decision, and the bare round trip's: callgrind's totals at `high` and `low`
    decisions, each less its harness's own (the same runs without the handler, or without the sends), over
    high - low."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="issuer-micro-cg-") as directory:
        totals = {(n, mode): callgrind_total(n, mode, redis_url, directory) for mode in MODES for n in (low, high)}
    per = {mode: (totals[high, mode] - totals[low, mode]) / (high - low) for mode in MODES}
    handler = per["handler"] - per["none"]
    roundtrip = per["roundtrip"] - per["payloads"]
    print(f"permit issuer handler, instructions per decision (callgrind; real redis-server, no ZeroMQ): "
          f"{handler:,.0f} ({per['handler']:,.0f} with the harness's request building, {per['none']:,.0f} without "
          f"the handler; {low} and {high} decisions)")
    print(f"  of which a bare Redis round trip of the same EVALSHA (client side: RespClient.pipeline_raw of the "
          f"pre-encoded command): {roundtrip:,.0f}; the issuer's own Python: {handler - roundtrip:,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
