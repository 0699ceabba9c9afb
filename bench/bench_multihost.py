"""Multi-host figures on network-namespace hosts (launcher/netns.py); needs root. Not a timed test.

    sudo .venv/bin/python -m bench.bench_multihost [--runs 2] [--out bench/results/multihost.json]

Per run, on a fresh market/exec/store system (the test topology: cadence 0.5 s, gate freshness 1.5 s)
with clients on a fourth host (ops):
- up-to-ready: from the first `up --host` to every `up` returned ready, and to the readiness proof
  passing across hosts;
- partition-to-fallback (market cut off -> first decision with k_source proxy) and heal-to-cluster
  (-> first with k_source cluster), seen by a prober proposing HOLD every 50 ms;
- store cut off -> first HOLD redis_unavailable, and heal -> first decision from the cluster again;
- deploy (a gate-only change, all hosts, proof after each) and a failed deploy (a market change that
  never becomes ready within a 10 s proof) in total, and its rollback alone (put back, proved again).
Floors measured in the same run: a bare ZeroMQ REQ/REP round trip between two hosts, a Python start
with zmq imported inside a host, and the gate's freshness window.
Every loop is bounded in count and time; only namespace addresses and loopback are used.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from launcher import netns  # noqa: E402
from launcher.multihost_harness import CLIENT, SYSTEM_HOSTS, MultiHost, write_topology  # noqa: E402

ZMQ_SERVER = textwrap.dedent("""
    import sys, zmq
    ctx = zmq.Context(); s = ctx.socket(zmq.REP); s.bind(f"tcp://{sys.argv[1]}:7000")
    s.setsockopt(zmq.RCVTIMEO, 20000)
    print("ready", flush=True)
    for _ in range(int(sys.argv[2])):
        s.send(s.recv())
""")
ZMQ_CLIENT = textwrap.dedent("""
    import sys, time, zmq, statistics
    ctx = zmq.Context(); s = ctx.socket(zmq.REQ); s.connect(f"tcp://{sys.argv[1]}:7000")
    s.setsockopt(zmq.RCVTIMEO, 5000)
    out = []
    for _ in range(int(sys.argv[2])):
        t = time.perf_counter(); s.send(b"x"); s.recv(); out.append(time.perf_counter() - t)
    print(statistics.median(out[10:]) * 1e3)
""")


def zmq_round_trip_ms(hosts, n: int = 300) -> float:
    server = hosts["exec"].popen([sys.executable, "-c", ZMQ_SERVER, hosts["exec"].address, str(n)],
                                 stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready"
    done = hosts["ops"].run([sys.executable, "-c", ZMQ_CLIENT, hosts["exec"].address, str(n)], timeout=60)
    server.wait(timeout=30)
    return float(done.stdout.strip())


def python_start_s(hosts) -> float:
    start = time.monotonic()
    hosts["ops"].run([sys.executable, "-c", "import zmq"], timeout=60)
    return time.monotonic() - start


class Prober:
    """A client on ops proposing HOLD every 50 ms; lines read as they come."""

    def __init__(self, system: MultiHost, max_s: float = 120.0):
        self.proc = system.hosts["ops"].popen([sys.executable, CLIENT, "probe", str(system.topology), "desk", "0.05",
                                               str(max_s)], stdout=subprocess.PIPE, stdin=subprocess.PIPE,
                                              text=True, env=system.env)

    def first(self, accept, after: float, timeout_s: float = 60.0) -> float | None:
        """Seconds from `after` (unix time) to the first probe at or after it that accept()s; None on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                return None
            row = json.loads(line)
            if row["t"] >= after and accept(row):
                return row["t"] - after
        return None

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def one_run(tmp: Path) -> dict:
    out: dict = {}
    with netns.TestHosts([*SYSTEM_HOSTS, "ops"]) as hosts:
        system = MultiHost(hosts, tmp)
        try:
            out["floor_zmq_round_trip_ms"] = zmq_round_trip_ms(hosts)
            out["floor_python_start_s"] = python_start_s(hosts)
            out["freshness_window_s"] = system.data["actors"]["gate"]["settings"]["freshness_s"]
            t0 = time.monotonic()
            started = system.up_all()
            assert all(r.returncode == 0 for r in started.values()), {h: r.stdout[-500:] for h, r in started.items()}
            out["up_to_ready_s"] = time.monotonic() - t0
            proof = system.clustergate("ops", "proof", "readiness", "--topology", str(system.topology),
                                       "--home", str(system.ops_home), timeout=300)
            assert proof.returncode == 0, proof.stdout[-2000:]
            out["up_to_proof_passed_s"] = time.monotonic() - t0
            prober = Prober(system)
            try:
                assert prober.first(lambda r: r["k_source"] == "cluster", time.time() - 1) is not None
                for name, cut, back in (("market", lambda r: r["k_source"] == "proxy", lambda r: r["k_source"] == "cluster"),
                                        ("store", lambda r: r["gate_reason"] == "redis_unavailable",
                                         lambda r: r["k_source"] == "cluster")):
                    at = time.time()
                    hosts.partition(name)
                    what = "proxy" if name == "market" else "redis_unavailable"
                    out[f"partition_{name}_to_{what}_s"] = prober.first(cut, at)
                    at = time.time()
                    hosts.heal(name)
                    out[f"heal_{name}_to_cluster_s"] = prober.first(back, at)
            finally:
                prober.close()
            good = json.loads(json.dumps(system.data))
            good["actors"]["gate"]["settings"]["sigma"] = 0.9
            result = system.deploy(write_topology(tmp, good, "good.yaml"), "--proof-timeout", "60")
            assert result.returncode == 0, result.stdout[-2000:]
            bad = json.loads(json.dumps(good))
            bad["clusters"].update(lookback_returns=5000, min_returns=5000)
            result = system.deploy(write_topology(tmp, bad, "bad.yaml"), "--host", "market", "--proof-timeout", "10")
            assert result.returncode == 1, result.stdout[-2000:]
            history = json.loads(system.clustergate("ops", "deploy", "--history", "--json", "--home",
                                                    str(system.ops_home), timeout=30).stdout)
            out["deploy_s"] = history[-2]["duration_s"]
            out["failed_deploy_total_s"] = history[-1]["duration_s"]  # includes the 10 s proof that fails
            out["rollback_s"] = history[-1]["rollback_s"]  # put back + proved ready again
        finally:
            for host in SYSTEM_HOSTS:
                system.down(host)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.bench_multihost")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "multihost.json"))
    args = parser.parse_args(argv)
    reason = netns.unavailable_reason()
    if reason:
        print(f"bench_multihost needs network namespaces: {reason}", file=sys.stderr)
        return 1
    import os
    import tempfile
    load_start = os.getloadavg()
    runs = []
    for i in range(max(1, min(args.runs, 10))):
        with tempfile.TemporaryDirectory(prefix="cg-bench-multihost-") as tmp:
            runs.append(one_run(Path(tmp)))
        print(f"run {i + 1}: {json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in runs[-1].items()})}",
              flush=True)
    keys = list(runs[0])
    summary = {}
    for key in keys:
        values = [r[key] for r in runs if r.get(key) is not None]
        summary[key] = {"median": statistics.median(values) if values else None, "min": min(values, default=None),
                        "max": max(values, default=None), "runs": len(values), "missing": len(runs) - len(values)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    load_end = os.getloadavg()
    Path(args.out).write_text(json.dumps({"runs": runs, "summary": summary, "loadavg_start": load_start,
                                          "loadavg_end": load_end, "cpus": os.cpu_count()}, indent=2))
    print(f"load average {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end, on {os.cpu_count()} CPUs")
    print(f"{'FIGURE':<34}{'MEDIAN':>10}{'MIN':>10}{'MAX':>10}")
    for key, s in summary.items():
        fmt = (lambda v: "-" if v is None else f"{v:.3f}")
        print(f"{key:<34}{fmt(s['median']):>10}{fmt(s['min']):>10}{fmt(s['max']):>10}")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
