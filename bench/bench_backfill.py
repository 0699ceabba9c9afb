"""The permitted-plan marker backfill (launcher/backfill.py) against a real redis-server: how long a run takes over a
keyspace of stored decisions and markers, how long Redis is held by one step, and what a decision waits meanwhile.

    .venv/bin/python bench/bench_backfill.py [--decisions 100000] [--markers 300000] [--count 100]
    .venv/bin/python bench/bench_backfill.py --issuer [--seconds 60]

Plants --decisions stored decisions (half with a permit and no marker, half HOLD) and --markers markers of other
plan_ids (the 30 days of markers a running system holds), then runs the backfill twice (the first writes the missing
markers, the second finds every one present, as an issuer's start after the first does), each while a client times
a PING a millisecond: the p50/p99/max of those round trips, beside the same client's before the run, is what a
decision's own Redis call waits behind the backfill's steps. With --issuer, a real gate and permit issuer are started
on that keyspace instead, and one client times a HOLD proposal every 5 ms (recorded by the issuer's script) while the
issuer's start-up backfill runs and after it ended: the decisions' latency beside the backfill's thread in the
issuer's own process. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from launcher import keys  # noqa: E402
from launcher.backfill import Counts, backfill, redis_py_pipeline  # noqa: E402
from launcher.harness import RedisServer  # noqa: E402


def pings_ms(client, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        began = time.perf_counter()
        client.ping()
        out.append((time.perf_counter() - began) * 1000)
        time.sleep(0.001)


def percentiles(values: list[float]) -> str:
    values = sorted(values)
    if not values:
        return "none"
    return (f"p50 {statistics.median(values):.3f} ms, p99 {values[int(len(values) * 0.99) - 1]:.3f} ms, "
            f"max {values[-1]:.3f} ms ({len(values)} pings)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--markers", type=int, default=300_000)
    parser.add_argument("--count", type=int, default=100, help="SCAN COUNT (the issuer's start uses 100)")
    parser.add_argument("--issuer", action="store_true", help="time decisions while a real issuer's start-up "
                                                               "backfill runs")
    parser.add_argument("--seconds", type=float, default=60.0, help="--issuer: the longest the run may take")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis").start()
        try:
            r = server.client()
            now = int(time.time())
            stored = json.dumps({"symbol": "ETHUSDT", "action_proposed": "PARTIAL_50", "kill_score": 0.0,
                                 "final_action": "PARTIAL_50", "gate_reason": "pass", "ts_epoch": now,
                                 "m": [0.5, 1.0, 0.5, 0.5, 0.5, "proxy"], "write_id": "0123456789abcdef"})
            pipe = r.pipeline(transaction=False)
            for i in range(args.decisions):
                permit = i % 2 == 0
                pipe.set(keys.plan_decision(f"{i:032x}"), stored[:-1] + f',"permit":{"true" if permit else "false"}}}',
                         ex=86400 if permit else 600)
                if len(pipe) >= 10_000:
                    pipe.execute()
            for i in range(args.markers):
                pipe.set(keys.permitted_plan(f"m{i:031x}"), now, ex=30 * 86400)
                if len(pipe) >= 10_000:
                    pipe.execute()
            pipe.execute()
            print(f"redis-server {r.info('server')['redis_version']}: {r.dbsize()} keys "
                  f"({args.decisions} decisions, {args.markers} other markers), SCAN COUNT {args.count}")
            if args.issuer:
                issuer_run(server, Path(tmp), args.seconds)
                return 0
            quiet: list[float] = []
            stop = threading.Event()
            pinger = threading.Thread(target=pings_ms, args=(server.client(), stop, quiet))
            pinger.start()
            time.sleep(2)
            stop.set()
            pinger.join()
            print(f"  PING alone: {percentiles(quiet)}")
            for run in ("first run (writes the missing markers)", "second run (every marker present)"):
                r.config_resetstat()
                during: list[float] = []
                stop = threading.Event()
                pinger = threading.Thread(target=pings_ms, args=(server.client(), stop, during))
                pinger.start()
                client = redis.Redis(port=server.port, decode_responses=False, socket_timeout=10)
                counts = Counts()
                began = time.perf_counter()
                backfill(redis_py_pipeline(client), counts, 30 * 86400, 86400, args.count, 3600)
                took = time.perf_counter() - began
                stop.set()
                pinger.join()
                calls = r.info("commandstats")
                scan = calls.get("cmdstat_scan", {})
                print(f"  {run}: {took:.2f} s, scanned {counts.scanned}, written {counts.written}, already present "
                      f"{counts.already_present}, hold {counts.hold}; SCAN {scan.get('calls', 0)} calls, "
                      f"{scan.get('usec_per_call', 0):.0f} us each in Redis; redis-server CPU "
                      f"{sum(v.get('usec', 0) for v in calls.values()) / 1e6:.2f} s")
                print(f"    PING meanwhile: {percentiles(during)}")
        finally:
            server.stop()
    return 0


def issuer_run(server: RedisServer, tmp: Path, seconds: float) -> None:
    from launcher.client import GateClient
    from launcher.harness import ActorProcess, demo_topology_data, retarget, scrape, write_topology
    r = server.client()
    now = int(time.time())
    for symbol, amount in (("BTCUSDT", 1.0), ("ETHUSDT", 10.0), ("SOLUSDT", 100.0)):
        r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amount, "mark_price": 100.0, "ts_epoch": now})
    data = retarget(demo_topology_data(), f"redis://127.0.0.1:{server.port}/0")
    topology = write_topology(tmp / "topology.yaml", data)
    issuer, gate = (ActorProcess(topology, name, log_dir=tmp) for name in ("permit_issuer", "gate"))
    endpoint = data["actors"]["gate"]["sockets"]["proposals"]["bind"]
    started = time.monotonic()
    issuer.start()
    gate.start()
    try:
        ended_at = None
        timed: list[tuple[float, float]] = []  # (when, latency ms)
        deadline = time.monotonic() + seconds
        with GateClient(endpoint, timeout_ms=5000, retries=0) as client:
            while time.monotonic() < deadline:
                if ended_at is None and "event=permitted_markers_backfilled" in issuer.log():
                    ended_at = time.monotonic()
                    deadline = min(deadline, ended_at + 10)
                began = time.perf_counter()
                try:
                    reply = client.propose("SOLUSDT", "HOLD")
                except Exception:  # noqa: BLE001 (the gate still starting)
                    time.sleep(0.1)
                    continue
                took = (time.perf_counter() - began) * 1000
                if reply.get("status") == "ok" and reply["decision"].get("recorded"):
                    timed.append((time.monotonic(), took))
                time.sleep(0.005)
        line = next((l for l in issuer.log().splitlines() if "event=permitted_markers_backfilled" in l), "not logged")
        took = f"ended {ended_at - started:.1f} s after the issuer was started" if ended_at else "not ended"
        print(f"  issuer's start-up backfill, {took}: {line[line.find('scanned='):][:120]}")
        during = [t for when, t in timed if ended_at is None or when < ended_at]
        after = [t for when, t in timed if ended_at is not None and when >= ended_at]
        print(f"  decisions while it ran: {percentiles(during)}")
        print(f"  decisions after it ended: {percentiles(after)}")
        port = data["actors"]["permit_issuer"]["metrics_port"]
        print(f"  permit_issuer_markers_backfilled_total {scrape(port).get('permit_issuer_markers_backfilled_total')}")
    finally:
        gate.terminate()
        issuer.terminate()


if __name__ == "__main__":
    sys.exit(main())
