"""Gate host faults under load, the long version of tests/test_ha_host_faults.py; needs root. Not a timed test.

    sudo .venv/bin/python -m bench.bench_ha [--cycles 20] [--period-s 10] [--fault-s 4] [--rate 200]
                                            [--clients 4] [--timeout-ms 500] [--out bench/results/ha.json]

configs/ha.yaml on five network-namespace hosts (store, exec_a, exec_b, market_a, market_b; the test settings:
cadence 0.5 s, gate freshness 1.5 s), clients on a sixth (ops): `clients` Freelance clients (GateClient with
both gate endpoints) send `rate` proposals/s in total while, every period, a gate host is crashed (SIGKILL of
every process in its namespace, supervisord included; then `clustergate up` on it) or cut off (link down,
then up), hosts and kinds alternating. Afterwards the clients resubmit every outcome-unknown plan_id, and the
audit (launcher/ha_load.py) counts decisions lost and plan_ids decided twice (both targets 0), and resubmits
answered plan_ids. Printed: client-visible failover time (a call that moved to the other gate: p50, max) beside
its floor, the attempt timeout (a dead or cut-off gate is only known by its silence), and the call time of
calls that did not fail over; the machine and its load.
Every loop is bounded in count and time; only namespace addresses and loopback are used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from launcher import netns  # noqa: E402
from launcher.multihost_harness import HA_HOSTS, HASystem  # noqa: E402


def machine() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ha", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=20, help="faults (default 20: 10 per gate host)")
    parser.add_argument("--period-s", type=float, default=10.0, help="one fault every this many seconds")
    parser.add_argument("--fault-s", type=float, default=4.0, help="how long each fault lasts before its restore")
    parser.add_argument("--rate", type=float, default=200.0, help="proposals per second, all clients together")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--timeout-ms", type=int, default=500, help="the clients' attempt timeout (the floor)")
    parser.add_argument("--resubmit", type=int, default=1000, help="answered plan_ids resubmitted after the run")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "ha.json"))
    args = parser.parse_args(argv)
    reason = netns.unavailable_reason()
    if reason:
        print(f"bench_ha: {reason}", file=sys.stderr)
        return 2
    import tempfile
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-ha-") as tmp, netns.TestHosts([*HA_HOSTS, "ops"]) as hosts:
        system = HASystem(hosts, Path(tmp))
        try:
            started = time.monotonic()
            for host, result in system.up_all().items():
                if result.returncode != 0:
                    print(f"bench_ha: up {host} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}", file=sys.stderr)
                    return 1
            up_s = time.monotonic() - started
            for gate in ("gate", "gate_b"):
                if not system.gate_answers(gate, 60):
                    print(f"bench_ha: {gate} never answered", file=sys.stderr)
                    return 1
            # The floor, measured here: a one-attempt call to an endpoint nobody serves, from the clients' host.
            floor_ms = system.silent_floor_ms(args.timeout_ms)
            verdict = system.faults_under_load(args.cycles, args.period_s, args.fault_s, clients=args.clients,
                                               rate=args.rate, timeout_ms=args.timeout_ms, resubmit=args.resubmit)
        finally:
            system.down_all()
    load = os.getloadavg()
    result = {
        "machine": machine(), "cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load_at_start],
        "loadavg": [round(x, 2) for x in load],
        "settings": vars(args), "up_s": round(up_s, 1),
        "proposals": verdict["proposals"], "calls": verdict["calls"],
        "failover_calls": verdict["failover_calls"], "failover_p50_ms": verdict["failover_p50_ms"],
        "failover_max_ms": verdict["failover_max_ms"], "replayed_after_failover": verdict["replayed_after_failover"],
        "floor_ms": floor_ms, "attempt_timeout_ms": args.timeout_ms,
        "call_p50_ms_without_failover": verdict["call_p50_ms"], "call_p99_ms_without_failover": verdict["call_p99_ms"],
        "decisions_lost": verdict["decisions_lost"], "plan_ids_decided_twice": verdict["plan_ids_decided_twice"],
        "unknown_first_try": verdict["unknown_first_try"],
        "unknown_first_try_by_kind": verdict["unknown_first_try_by_kind"], "resubmitted_after_run": verdict["resubmitted"],
        "violations": verdict["violations"], "examples": verdict["examples"], "events": verdict["events"],
        "load": verdict["load"],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"gate host faults under load: {args.cycles} faults every {args.period_s:g} s ({args.fault_s:g} s each), "
          f"{args.clients} clients, {args.rate:g} proposals/s; {verdict['proposals']} proposals")
    print(f"  failover (calls that moved to the other gate, {verdict['failover_calls']}): p50 {verdict['failover_p50_ms']} ms, "
          f"max {verdict['failover_max_ms']} ms; floor: one silent attempt, measured {floor_ms} ms "
          f"(attempt timeout {args.timeout_ms} ms)")
    print(f"  calls without failover: p50 {verdict['call_p50_ms']} ms, p99 {verdict['call_p99_ms']} ms; failovers "
          f"answered with a replay (the faulted gate had recorded it, its reply was lost): "
          f"{verdict['replayed_after_failover']}")
    print(f"  decisions lost: {verdict['decisions_lost']}; plan_ids decided twice: {verdict['plan_ids_decided_twice']}; "
          f"outcome unknown at first try: {verdict['unknown_first_try']} {verdict['unknown_first_try_by_kind']} "
          f"(resubmitted with the same plan_id until answered)")
    print(f"  violations: {verdict['violations']}")
    print(f"  machine: {result['machine']}, {result['cpus']} CPUs, load average {result['loadavg_at_start']} at start, "
          f"{result['loadavg']} at the end")
    print(f"  written to {out}")
    return 0 if all(v == 0 for v in verdict["violations"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
