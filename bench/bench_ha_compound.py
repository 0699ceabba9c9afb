"""The compound loss of tests/test_ha_host_faults.py's cluster-side crash: the host of the state writer holding
the lease also holds the Redis primary, and loses power. Needs root. Not a timed test.

    sudo .venv/bin/python -m bench.bench_ha_compound [--trials 3] [--out bench/results/ha_compound.json]

configs/ha.yaml on five network-namespace hosts (the test settings: cadence 0.5 s, gate freshness 1.5 s), with
a sixth (ops) to read Redis from. Each trial: wait for a writer holding the lease, move the Redis primary to
that writer's host (`ha_load failover --to`; the failover usually moves the lease, so the other writer is
paused with SIGSTOP until this one holds it again, then resumed as the standby), let the writer write three
more states, then SIGKILL every
process of the host (supervisord included) and measure, on the cluster state stream (record ids: Redis's
clock at each write), the gap from the old writer's last write to the standby's first, in seconds and
cadences. The floors printed beside it: 1 cadence (the old writer's own write-to-write, measured), and
Sentinel's down_after_ms (no write can land until a replica is promoted). Then `up` on the host and wait for
a healthy store before the next trial. Every loop is bounded in count and time; only namespace addresses and
loopback are used.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from launcher import netns  # noqa: E402
from launcher.harness import wait_for  # noqa: E402
from launcher.multihost_harness import HA_HOSTS, HASystem  # noqa: E402


def holder(system: HASystem) -> dict | None:
    side = system.cluster_side()  # raises while Redis has no primary: wait_for polls again
    return side if side["lease"] and len(side["records"]) >= 3 else None


def trial(system: HASystem, cadence_s: float) -> dict:
    side = wait_for(lambda: holder(system), 120, "state writer holding the lease and writing",
                    interval_s=0.2)
    host = system.data["actors"][side["lease"].split(":")[0]]["host"]
    system.move_primary_to(host, 180)
    # A failover moves the lease in practice (the holder cannot renew while there is no primary): pause the
    # other writer until the one on the primary's host holds the lease again, then let it run as the standby.
    writer = next(name for name, a in system.data["actors"].items()
                  if a.get("kind", name) == "state_writer" and a["host"] == host)
    other = next(name for name, a in system.data["actors"].items()
                 if a.get("kind", name) == "state_writer" and name != writer)
    other_pid = system.pids(system.data["actors"][other]["host"])[other]
    os.kill(other_pid, signal.SIGSTOP)
    try:
        side = wait_for(lambda: s if (s := holder(system)) and s["lease"].split(":")[0] == writer else None, 120,
                    f"{writer} holding the lease", interval_s=0.2)
    finally:
        os.kill(other_pid, signal.SIGCONT)
    count = len(side["records"])
    side = wait_for(lambda: s if len((s := system.cluster_side())["records"]) >= count + 3 else None, 60,
                "three more states from the holder", interval_s=0.2)
    old_token = side["records"][-1][1]
    if system.host_of(system.redis_state()["primary"]) != host:
        return {"skipped": f"the primary left {host} before the crash"}
    crashed_at = time.time()
    killed = system.crash(host)
    try:
        after = wait_for(lambda: (s := system.cluster_side())["records"][-1][1] > old_token and s["records"], 120,
                     "a write with a newer fencing token", interval_s=0.2)
        old_times = [ts for ts, token in after if token == old_token]
        last_old = max(old_times)
        first_new = min(ts for ts, token in after if token > old_token)
        own = statistics.median(b - a for a, b in zip(old_times, old_times[1:]))
    finally:
        result = system.up(host)
        if result.returncode != 0:
            raise RuntimeError(f"up {host} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    system.wait_store_healthy(120)
    return {"host": host, "writer": writer, "killed": len(killed), "gap_s": round(first_new - last_old, 3),
            "gap_cadences": round((first_new - last_old) / cadence_s, 2),
            "first_new_after_crash_s": round(first_new - crashed_at, 3),
            "own_write_to_write_cadences": round(own / cadence_s, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ha_compound", description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "ha_compound.json"))
    args = parser.parse_args(argv)
    reason = netns.unavailable_reason()
    if reason:
        print(f"bench_ha_compound: {reason}", file=sys.stderr)
        return 2
    import tempfile
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-hac-") as tmp, netns.TestHosts([*HA_HOSTS, "ops"]) as hosts:
        system = HASystem(hosts, Path(tmp))
        try:
            for host, result in system.up_all().items():
                if result.returncode != 0:
                    print(f"bench_ha_compound: up {host} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}",
                          file=sys.stderr)
                    return 1
            cadence_s = float(system.data["clusters"]["cadence_s"])
            down_after_ms = system.data["redis"]["sentinel"].get("down_after_ms", 2000)
            trials = [trial(system, cadence_s) for _ in range(max(1, args.trials))]
        finally:
            system.down_all()
    done = [t for t in trials if "gap_s" in t]
    result = {"machine": next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                               if line.startswith("model name")), "unknown"),
              "cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load_at_start],
              "loadavg": [round(x, 2) for x in os.getloadavg()], "cadence_s": cadence_s,
              "down_after_ms": down_after_ms, "trials": trials}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"the lease holder's host, holding the Redis primary too, crashed: {len(done)} trials "
          f"(cadence {cadence_s:g} s, down_after_ms {down_after_ms})")
    for t in trials:
        if "gap_s" not in t:
            print(f"  skipped: {t['skipped']}")
            continue
        print(f"  {t['host']}: write to write {t['gap_s']:.2f} s = {t['gap_cadences']:.2f} cadences (floors: 1 cadence, "
              f"the old writer's own {t['own_write_to_write_cadences']:.2f}; down_after {down_after_ms / 1000:g} s); "
              f"first new write {t['first_new_after_crash_s']:.2f} s after the crash")
    print(f"  {result['machine']}, load {result['loadavg_at_start'][0]:.2f} at start, {result['loadavg'][0]:.2f} at end")
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
