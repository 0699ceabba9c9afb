"""Sentinel failover time with the shipped settings, on one host. Not a timed test.

    .venv/bin/python -m bench.bench_sentinel_failover [--runs 5] [--load 0|200] [--out FILE.json]

The demo topology on free ports with a managed primary, replica and three sentinels (shipped timings:
down-after 1000 ms, failover-timeout 5000 ms, quorum 2 of 3) under its own supervisord. Each run
starts from a healthy pair (replica in sync, every sentinel aware of the others and the replica), sends
SIGKILL to the primary's redis-server, and times:
- new primary: until every sentinel names the promoted replica;
- decisions resume: until a fresh proposal is decided with `recorded: true` (a prober every 20 ms);
with `--load N`, N proposals/s from 4 clients run throughout. Floors in the same run: the configured
down-after-milliseconds (no failover can start sooner), and a healthy decision's round trip (p50 of
50). supervisord restarts the killed server; it rejoins as the new primary's replica before the next run.
Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from helpers import wait_for  # noqa: E402
from launcher.client import GateClient  # noqa: E402
from reliability import ProposalLoad  # noqa: E402
from sentinel_helpers import (SentinelLiveSystem, kill_pid, pid_of_server, recorded_decision_after,  # noqa: E402
                              synced_replicas)


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "?")
    except OSError:
        model = platform.processor() or "?"
    return model


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def healthy_round_trip_ms(client: GateClient, n: int = 50) -> float:
    times = []
    for _ in range(n):
        start = time.monotonic()
        client.propose("BTCUSDT", "HOLD", plan_id=f"floor-{uuid.uuid4().hex}")
        times.append((time.monotonic() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--load", type=float, default=0.0, help="proposals/s in total from 4 clients (0: none)")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cg-bench-sentinel-"))
    system = SentinelLiveSystem(tmp)
    load = None
    result: dict = {"machine": machine(), "runs": []}
    try:
        system.up()
        wait_for(system.every_actor_ready, 60, "every actor ready")
        sentinel = system.data["redis"]["sentinel"]
        result["down_after_ms"] = sentinel.get("down_after_ms", 1000)
        probe = GateClient(system.gate_endpoint, timeout_ms=2000, retries=0)
        if args.load:
            load = ProposalLoad(system.gate_endpoint, threads=4, rate_per_thread=args.load / 4, timeout_ms=2000,
                                retries=2).start()
        for n in range(args.runs):
            primary = wait_for(system.primary, 60, "one primary")
            wait_for(lambda: synced_replicas(primary) == 1, 60, "the replica in sync")
            wait_for(system.sentinels_settled, 60, "the sentinels settled")
            assert recorded_decision_after(probe, 30) is not None
            floor_ms = healthy_round_trip_ms(probe)
            load_before = load_average()
            killed = time.monotonic()
            kill_pid(pid_of_server(primary))
            took = recorded_decision_after(probe, 60)
            named = wait_for(lambda: (p := system.primary()) not in (None, primary) and p, 60, "a new primary")
            run = {"killed_port": primary, "new_primary": named, "decisions_resume_s": took,
                   "healthy_decision_ms_p50": round(floor_ms, 2), "load_before": load_before,
                   "load_after": load_average(), "elapsed_s": round(time.monotonic() - killed, 2)}
            print(json.dumps(run), flush=True)
            result["runs"].append(run)
        if load is not None:
            outcomes = load.stop()
            load = None
            result["load_proposals"] = len(outcomes)
        times = [r["decisions_resume_s"] for r in result["runs"] if r["decisions_resume_s"] is not None]
        result.update(load_per_s=args.load, p50_s=round(statistics.median(times), 3), max_s=round(max(times), 3),
                      min_s=round(min(times), 3))
        print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=1) + "\n")
        return 0
    finally:
        if load is not None:
            load._stop.set()
        system.down()


if __name__ == "__main__":
    raise SystemExit(main())
