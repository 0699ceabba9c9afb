"""Benchmark of ticks into the buffer: how many ticks per second one buffer handles, with losses counted.

Starts its own redis-server and a real buffer process (demo topology on free ports); this script
binds the PUB socket the price feed would bind and publishes ticks with sequence numbers at it:
  1. paced: a fixed offered rate (default 10,000 ticks/s for 3 s);
  2. blast: as fast as one Python publisher can send (default 100,000 ticks).
Every tick is a real tick for an allowlisted symbol in the open slot (the buffer's cadence set to an hour, so that
no run sees it published: the buffer refuses ticks for a published slot, `late`). Half of them
carry the newest time in that slot, so the buffer records them (`buffer_ticks_accepted_total`); the
other half are dated before a price already on the grid, so the buffer refuses them as superseded
(`p27_buffer_rejected_ticks_total{reason="superseded"}`). received = accepted + rejected (counter
deltas), and both must move; lost = sent - received (ZeroMQ drops at the high-water mark, 1000
messages as in the topology, when the buffer falls behind; a buffer that drops a tick without
counting it shows up here too).

    .venv/bin/python bench/bench_ticks.py [--rate 10000] [--seconds 3] [--blast 100000]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import zmq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import exit_on_sigterm, work_dir  # noqa: E402
from actors.wire import Tick  # noqa: E402
from launcher.harness import demo_topology_data, retarget  # noqa: E402
from launcher.harness import ActorProcess, RedisServer, scrape, wait_for, write_topology  # noqa: E402

PUBLISHER_HWM = 1000  # the price feed's default
BENCH_CADENCE_S = 3600.0  # the buffer publishes no window during a run: every tick is for the open slot


def tick_counts(metrics_port: int) -> tuple[float, float]:
    """(accepted, rejected) tick frames the buffer has counted so far, every symbol and reason."""
    m = scrape(metrics_port)
    accepted = sum(v for k, v in m.items() if k.startswith("buffer_ticks_accepted_total{"))
    rejected = sum(v for k, v in m.items() if k.startswith("p27_buffer_rejected_ticks_total{"))
    return accepted, rejected


def handled_ticks(metrics_port: int) -> float:
    """Tick frames the buffer has handled so far: accepted plus rejected."""
    return sum(tick_counts(metrics_port))


class TickBench:
    """A real buffer on its own Redis, and a PUB socket at the endpoint its `ticks` role connects to."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.redis = RedisServer(workdir / "redis").start()
        self.data = retarget(demo_topology_data(), self.redis.url)
        self.data["clusters"]["cadence_s"] = BENCH_CADENCE_S
        del self.data["actors"]["gate"]["settings"]["freshness_s"]  # the demo's 3 s is below the cadence: SPEC's window
        self.symbols = list(self.data["symbols"])
        topology = write_topology(workdir / "topology.yaml", self.data)
        buffer = self.data["actors"]["buffer"]
        self.metrics_port = buffer["metrics_port"]
        self.cadence_s = float(self.data["clusters"]["cadence_s"])
        self.ctx = zmq.Context()
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.setsockopt(zmq.LINGER, 0)
        self.pub.setsockopt(zmq.SNDHWM, PUBLISHER_HWM)
        self.pub.bind(buffer["sockets"]["ticks"]["connect"])
        self.buffer = ActorProcess(topology, "buffer", log_dir=workdir).start()
        self.seq = 0
        wait_for(lambda: scrape(self.metrics_port).get('clustergate_actor_ready{actor="buffer",kind="buffer"}') == 1.0,
                 20, "the buffer to be ready")
        # The subscription reaches the PUB a moment after connect: send until the buffer counts ticks.
        wait_for(self._probe, 20, "the buffer to receive ticks")

    def _frames(self, n: int) -> list[list[bytes]]:
        """n ticks: even ones carry the newest time of their slot (accepted: a tick as new as the slot's
        price replaces it), odd ones are late prices for that slot (rejected as superseded)."""
        # The open slot, an hour long: the buffer refuses ticks for a slot it has published (late) and for a slot
        # after the open one (future_ts), either of which time would turn accepted ticks into mid-run.
        anchor_ts = time.time()
        slot_start = math.floor(anchor_ts / self.cadence_s) * self.cadence_s
        for symbol in self.symbols:
            self.pub.send_multipart(Tick(symbol, 100.0, anchor_ts, self._next_seq()).frames())
        late_ts = (slot_start + anchor_ts) / 2
        return [Tick(self.symbols[i % len(self.symbols)], 100.0 + i % 7, late_ts if i % 2 else anchor_ts,
                     self._next_seq()).frames()
                for i in range(n)]

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _probe(self) -> bool:
        before = handled_ticks(self.metrics_port)
        for frames in self._frames(10):
            self.pub.send_multipart(frames)
        time.sleep(0.1)
        return handled_ticks(self.metrics_port) > before

    def _quiet_counts(self) -> tuple[tuple[float, float], float]:
        """Poll the counters until they stop rising for 0.3 s: (their values, time the last change was seen)."""
        last, last_change = tick_counts(self.metrics_port), time.perf_counter()
        while time.perf_counter() - last_change < 0.3:
            time.sleep(0.02)
            now_value = tick_counts(self.metrics_port)
            if now_value != last:
                last, last_change = now_value, time.perf_counter()
        return last, last_change

    def _settle(self, since: tuple[float, float], sent_done_at: float) -> tuple[dict[str, int], float]:
        """Poll the counters until they stop rising; ({accepted, rejected, received} since `since`,
        time the last change was seen)."""
        last, last_change = self._quiet_counts()
        accepted, rejected = int(last[0] - since[0]), int(last[1] - since[1])
        return ({"accepted": accepted, "rejected": rejected, "received": accepted + rejected},
                max(last_change, sent_done_at))

    def paced(self, rate_per_s: float, seconds: float) -> dict[str, Any]:
        """Offer `rate_per_s` ticks/s on a fixed schedule for `seconds`."""
        total = int(rate_per_s * seconds)
        frames = self._frames(total)
        before, _ = self._quiet_counts()  # after _frames' anchor ticks (one per symbol, not counted as sent)
        start = time.perf_counter()
        for i, f in enumerate(frames):
            due = start + i / rate_per_s
            delay = due - time.perf_counter()
            if delay > 0.001:
                time.sleep(delay)
            self.pub.send_multipart(f)
        sent_done = time.perf_counter()
        counted, _ = self._settle(before, sent_done)
        received = counted["received"]
        return {"mode": "paced", "offered_per_s": rate_per_s, "seconds": seconds, "sent": total,
                "send_per_s": total / (sent_done - start), **counted, "lost": total - received,
                "loss_pct": 100.0 * (total - received) / total}

    def blast(self, count: int) -> dict[str, Any]:
        """Send `count` ticks as fast as possible; handled/s = received over first send to last handled."""
        frames = self._frames(count)
        before, _ = self._quiet_counts()  # after _frames' anchor ticks (one per symbol, not counted as sent)
        start = time.perf_counter()
        for f in frames:
            self.pub.send_multipart(f)
        sent_done = time.perf_counter()
        counted, last_seen = self._settle(before, sent_done)
        received = counted["received"]
        # _settle sees the last change up to one poll (20 ms) plus a scrape late.
        elapsed = max(last_seen - start, sent_done - start)
        return {"mode": "blast", "sent": count, "send_per_s": count / (sent_done - start),
                **counted, "lost": count - received, "loss_pct": 100.0 * (count - received) / count,
                "handled_per_s": received / elapsed, "seconds": elapsed}

    def rss_mb(self) -> float:
        import psutil
        return psutil.Process(self.buffer.proc.pid).memory_info().rss / 2**20

    def close(self) -> None:
        self.pub.close(linger=0)
        self.ctx.term()
        self.buffer.terminate()
        self.redis.stop()


def run(rate_per_s: float, seconds: float, blast_count: int, runs: int) -> dict[str, Any]:
    """`runs` paced and blast rounds against one buffer process."""
    with work_dir("bench_ticks_") as workdir:
        bench = TickBench(workdir)
        try:
            rounds = []
            for _ in range(runs):
                rounds.append({"paced": bench.paced(rate_per_s, seconds), "blast": bench.blast(blast_count)})
            return {"rounds": rounds, "buffer_rss_mb": bench.rss_mb()}
        finally:
            bench.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10000.0)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--blast", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    exit_on_sigterm()
    print(json.dumps(run(args.rate, args.seconds, args.blast, args.runs), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
