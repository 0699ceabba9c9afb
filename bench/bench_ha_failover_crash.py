"""A Sentinel failover of a live primary, then, DELAY seconds after the new primary's promotion, the host of the
state writer holding the lease crashed. Needs root. Not a timed test.

    sudo .venv/bin/python -m bench.bench_ha_failover_crash [--delays 0,0.5,1,2,3,5] [--out bench/results/ha_failover_crash.json]

configs/ha.yaml on five network-namespace hosts at a 1 s cadence (the settings of tests/test_ha_host_faults.py),
with a sixth (ops) to read Redis from. Each trial: wait for a writer holding the lease; move the primary to store
first if it is on that writer's host; then `ha_load failover --to` a host that is neither the primary's nor the
holder's (the old primary stays alive, its writes paused until the failover tool demotes it), which returns once
every sentinel names the new primary and the old one is its replica; wait DELAY; read the lease where the
sentinels point and SIGKILL every process of its holder's host (supervisord included; a trial whose lease
moved to the new primary's host is skipped); then, on the new primary's cluster state stream (record ids:
Redis's clock at each write), the gap from the killed holder's last write to the first write with a newer
fencing token, in cadences, and that first write's time after the crash. Then `up` on the host, a healthy
store, and four records before the next trial. Every wait is bounded; only namespace addresses are used.
The floor printed beside it: the old writer's own write-to-write (1 cadence).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from launcher import netns  # noqa: E402
from launcher.harness import wait_for  # noqa: E402
from launcher.multihost_harness import HA_HOSTS, HASystem  # noqa: E402

CADENCE_S = 1.0


def holder(system: HASystem) -> dict | None:
    side = system.cluster_side()  # raises while Redis has no primary: wait_for polls again
    return side if side["lease"] and len(side["records"]) >= 3 else None


def settled(system: HASystem, after: int) -> dict:
    """A writer holding the lease and four records written after the first `after`."""
    return wait_for(lambda: (s := holder(system)) and len(s["records"]) >= after + 4 and s, 120,
                    "four records from a writer holding the lease", interval_s=0.2)


def host_of_writer(system: HASystem, lease: str) -> str:
    return system.data["actors"][lease.split(":")[0]]["host"]


def trial(system: HASystem, delay_s: float) -> dict:
    side = settled(system, 0)
    state = system.wait_store_healthy(120)
    held_on = host_of_writer(system, side["lease"])
    old = system.host_of(state["primary"])
    if old == held_on:  # the crash must not take the primary too: that is bench_ha_compound's loss
        system.move_primary_to("store", 180)
        old = "store"
        side = settled(system, len(system.cluster_side()["records"]))
        held_on = host_of_writer(system, side["lease"])
    to = next(h for h in ("store", "market_a", "market_b") if h not in (old, held_on))
    target = next(f"{system.hosts[to].address}:{place.split(':')[1]}"
                  for place in system.data["redis"]["sentinel"]["servers"] if place.split(":")[0] == to)
    started = time.time()
    answer = system.hosts["ops"].run([sys.executable, "-m", "launcher.ha_load", "failover", str(system.topology),
                                      "--to", target], env=system.env, cwd=str(REPO), timeout=60)
    promoted = time.time()
    if json.loads(answer.stdout or "{}").get("answer") != "OK":
        return {"delay_s": delay_s, "skipped": f"the failover to {to} did not happen: {answer.stdout[-300:]}"}
    time.sleep(delay_s)  # the fault schedule: DELAY after the new primary's promotion
    lease = system.cluster_side()["lease"]  # where the sentinels point now
    if not lease:
        return {"delay_s": delay_s, "skipped": "no lease held at the crash"}
    crashed, token = host_of_writer(system, lease), int(lease.rsplit("/", 1)[1])
    if crashed == to:
        return {"delay_s": delay_s, "skipped": f"the lease moved to the new primary's host {to}"}
    crashed_at = time.time()
    killed = system.crash(crashed)
    try:
        after = wait_for(lambda: (s := system.cluster_side())["records"][-1][1] > token and s["records"], 120,
                         "a write with a newer fencing token", interval_s=0.2)
    finally:
        result = system.up(crashed)
        if result.returncode != 0:
            raise RuntimeError(f"up {crashed} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    system.wait_store_healthy(120)
    settled(system, len(system.cluster_side()["records"]))
    old_times = [ts for ts, t in after if t == token]
    first_new = min(ts for ts, t in after if t > token)
    return {"delay_s": delay_s, "from": old, "to": to, "crashed": crashed, "killed": len(killed),
            "failover_s": round(promoted - started, 2), "crash_after_promoted_s": round(crashed_at - promoted, 2),
            "gap_cadences": round((first_new - max(old_times)) / CADENCE_S, 3),
            "first_new_after_crash_s": round(first_new - crashed_at, 3),
            "own_write_to_write_cadences": round(statistics.median(
                b - a for a, b in zip(old_times, old_times[1:])) / CADENCE_S, 3) if len(old_times) > 1 else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ha_failover_crash", description=__doc__.split("\n\n")[0])
    parser.add_argument("--delays", default="0,0.5,1,2,3,5",
                        help="seconds from the new primary's promotion to the crash, one trial each")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "ha_failover_crash.json"))
    args = parser.parse_args(argv)
    delays = [float(d) for d in args.delays.split(",")][:20]
    reason = netns.unavailable_reason()
    if reason:
        print(f"bench_ha_failover_crash: {reason}", file=sys.stderr)
        return 2
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-hafc-") as tmp, netns.TestHosts([*HA_HOSTS, "ops"]) as hosts:
        system = HASystem(hosts, Path(tmp), cadence_s=CADENCE_S)
        try:
            for host, result in system.up_all().items():
                if result.returncode != 0:
                    print(f"bench_ha_failover_crash: up {host} failed:\n{result.stderr[-2000:]}", file=sys.stderr)
                    return 1
            trials = [trial(system, d) for d in delays]
        finally:
            system.down_all()
    result = {"machine": next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                               if line.startswith("model name")), "unknown"),
              "cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load_at_start],
              "loadavg": [round(x, 2) for x in os.getloadavg()], "cadence_s": CADENCE_S, "trials": trials}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"a Sentinel failover, then the lease holder's host crashed (cadence {CADENCE_S:g} s):")
    for t in trials:
        if "gap_cadences" not in t:
            print(f"  {t['delay_s']:g} s: skipped: {t['skipped']}")
            continue
        print(f"  {t['delay_s']:g} s after the failover ({t['from']} -> {t['to']}), {t['crashed']} crashed: write to write "
              f"{t['gap_cadences']:.3f} cadences (floor: the old writer's own {t['own_write_to_write_cadences']}); "
              f"first new write {t['first_new_after_crash_s']:.3f} s after the crash")
    print(f"  {result['machine']}, load {result['loadavg_at_start'][0]:.2f} at start, {result['loadavg'][0]:.2f} at end")
    return 0 if any("gap_cadences" in t for t in trials) else 1


if __name__ == "__main__":
    sys.exit(main())
