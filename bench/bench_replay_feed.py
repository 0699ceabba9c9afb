"""Benchmark of a replay price feed's start on a big file: the time from its launch to its first tick, and its RSS.

Writes a long-form `ts,symbol,price` CSV (default 1,000,000 rows of 3 symbols, 0.1 s apart), starts its own
redis-server and a real price_feed process (`source: replay`, the demo topology on free ports), and polls the
feed's log for `event=ready` (its first tick published). Prints the seconds from launch to that line, the
feed's RSS then (VmRSS) and its peak (VmHWM). As a floor, a child process reads the same CSV with pandas into
float64 times and prices and small-int symbol codes, and prints the same figures.

    .venv/bin/python -m bench.bench_replay_feed [--rows 1000000] [--no-loop]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import exit_on_sigterm, work_dir  # noqa: E402
from launcher.harness import (PYTHON, ActorProcess, RedisServer, demo_topology_data, retarget,  # noqa: E402
                              write_topology)

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def write_prices(path: Path, rows: int, seed: int = 5) -> None:
    """`rows` rows of the three symbols in turn, 0.1 s apart, each a random walk from its start price."""
    rng = np.random.default_rng(seed)
    start = np.array([64000.0, 3400.0, 150.0])
    steps = rng.normal(0.0, 1e-4, (rows // 3 + 1, 3)).cumsum(axis=0)
    prices = (start * np.exp(steps)).ravel()[:rows]
    with open(path, "w") as fh:
        fh.write("ts,symbol,price\n")
        for i in range(rows):
            fh.write(f"{1700000000 + i / 10:.1f},{SYMBOLS[i % 3]},{prices[i]:.6f}\n")


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a running process, in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def feed_start(workdir: Path, prices: Path, loop: bool) -> dict[str, float]:
    """Launch a replay feed of `prices`; (seconds to its first tick, RSS and peak RSS in MB then)."""
    redis = RedisServer(workdir / "redis").start()
    feed = None
    try:
        data = retarget(demo_topology_data(), redis.url)
        data["actors"] = {"price_feed": data["actors"]["price_feed"]}
        data["actors"]["price_feed"]["settings"] = {
            "source": "replay", "heartbeat_s": 1.0, "replay": {"path": str(prices), "speed": 1, "loop": loop}}
        topology = write_topology(workdir / "topology.yaml", data)
        started = time.monotonic()
        feed = ActorProcess(topology, "price_feed").start()
        while "event=ready" not in feed.log():
            if feed.proc.poll() is not None or time.monotonic() - started > 600:
                raise RuntimeError(f"the feed never published:\n{feed.log()[-3000:]}")
            time.sleep(0.02)
        seconds = time.monotonic() - started
        memory = memory_kb(feed.proc.pid)
        return {"seconds": seconds, "rss_mb": memory["VmRSS"] / 1024, "peak_mb": memory["VmHWM"] / 1024}
    finally:
        if feed is not None:
            feed.terminate()
        redis.kill()


FLOOR = """
import sys, time
import numpy as np, pandas as pd
frame = pd.read_csv(sys.argv[1], dtype={"ts": np.float64, "symbol": "category", "price": np.float64})
ts, price, codes = frame["ts"].to_numpy(), frame["price"].to_numpy(), frame["symbol"].cat.codes.to_numpy()
del frame
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(status["VmRSS"].split()[0], status["VmHWM"].split()[0])
"""


def floor_start(prices: Path) -> dict[str, float]:
    """pandas reading the same CSV into columns, in a process of its own: launch to done, RSS and peak."""
    started = time.monotonic()
    out = subprocess.run([PYTHON, "-c", FLOOR, str(prices)], capture_output=True, text=True, check=True).stdout
    seconds = time.monotonic() - started
    rss, peak = (int(v) for v in out.split())
    return {"seconds": seconds, "rss_mb": rss / 1024, "peak_mb": peak / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-loop", dest="loop", action="store_false", help="replay.loop false (default true)")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    with work_dir("bench-replay-feed-") as workdir:
        prices = workdir / "prices.csv"
        write_prices(prices, args.rows)
        size_mb = prices.stat().st_size / 1e6
        feed = feed_start(workdir, prices, args.loop)
        floor = floor_start(prices)
    print(f"replay file: {args.rows:,} rows, {size_mb:.1f} MB, loop {str(args.loop).lower()}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'':34} {'launch to ready s':>18} {'RSS MB':>8} {'peak RSS MB':>12}")
    for name, row in (("price_feed (source: replay)", feed), ("floor: pandas.read_csv to columns", floor)):
        print(f"{name:34} {row['seconds']:18.2f} {row['rss_mb']:8.0f} {row['peak_mb']:12.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
