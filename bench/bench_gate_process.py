"""The gate's whole main thread per decision, in instructions: a real gate process under valgrind (issue 14).

bench/bench_gate_micro.py --instructions counts the handler alone. This counts everything the gate's main
thread does for a decision in the real runtime: the poll loop, the ROUTER receive, the timers and the state
cache refresh, the handler, the issuer request's encode, send and wait for its reply on the `permits` socket,
the reply's decode, the metrics and the reply's send. A real redis-server and a real permit issuer (not under
valgrind) answer; the gate runs under callgrind (`--separate-threads=yes`, so its main thread is counted apart
from libzmq's I/O thread); one DEALER client sends one proposal at a time (what the gate sees at 1,000/s: one
proposal a loop turn). After WARM_UP proposals the counters are zeroed (callgrind_control), `--decisions` more
are sent and the counters dumped; then zeroed again and dumped after `--idle-seconds` with no proposal. The
timers (the state cache's refresh every state_refresh_ms of wall time) fire far more often per decision under
valgrind than at full speed, so their idle rate is taken out of the decisions' span and put back at the open
loop's share (1/1,000 of a second's worth per decision at 1,000/s).

    .venv/bin/python bench/bench_gate_process.py [--repo CHECKOUT] [--middle gate|relay] [--decisions 1000] [--top 40]
    .venv/bin/python bench/bench_gate_process.py --region actors.runtime:_recv_ready  # one function, inclusive
    .venv/bin/python bench/bench_gate_process.py --syscalls  # system calls per decision by thread (strace), no valgrind

--repo runs another checkout's gate (its actors/) with this harness, for A/B; --middle relay runs bench_gate.py's
bare Python relay (FLOOR_RELAY) in the gate's place, before FLOOR_ECHO; --top prints the main thread by C
function, inclusive (callgrind_annotate: Python functions are all _PyEval_EvalFrameDefault there, hence --region).
A run takes about a minute.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import psutil
import zmq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import exit_on_sigterm  # noqa: E402
from bench.bench_gate import FLOOR_ECHO, FLOOR_RELAY, proposal, write_state  # noqa: E402
from launcher.harness import (ActorProcess, RedisServer, demo_topology_data, free_port, retarget,  # noqa: E402
                              write_topology)

WARM_UP = 100
OPEN_LOOP_RATE = 1000.0
# --region: the gate started with one function wrapped in operator.call, and callgrind collecting only while inside
# that C function (--toggle-collect), so the count is the function's own, inclusive (plus ~1,000 instructions
# for the wrapper). Regions must not nest or recurse: each entry toggles collection.
REGION_BOOT = """
import importlib, operator, sys
module, _, qualname = sys.argv.pop(1).partition(":")
owner = importlib.import_module(module)
*path, name = qualname.split(".")
for part in path:
    owner = getattr(owner, part)
original = getattr(owner, name)
def counted(*args, **kwargs):
    return operator.call(original, *args, **kwargs)
setattr(owner, name, counted)
from actors.gate import Gate
from actors.runtime import main
main(Gate, sys.argv[1:])
"""


class Client:
    """One DEALER that sends one proposal at a time, the next after the previous reply."""

    def __init__(self, endpoint: str, middle: str):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.middle = middle
        self.sent = 0

    def send(self, n: int) -> None:
        for _ in range(n):
            self.sock.send_multipart([b"", proposal(self.sent)])
            if not self.sock.poll(60_000):
                raise SystemExit(f"no reply to proposal {self.sent} within 60 s")
            reply = self.sock.recv_multipart()[-1]
            if self.middle == "gate" and not reply.startswith(b'{"status":"ok","decision":'):
                raise SystemExit(f"unexpected reply: {reply[:300]!r}")
            self.sent += 1

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.term()


def run_once(middle: str, wrapper: list[str], repo: Path, workdir: Path, out: Path,
             measure: Callable[[Client, int], None], region: str | None = None) -> None:
    """Start Redis, the issuer (or the echo) and the middle under `wrapper` (OUT: its output dir); warm up; call
    measure(client, pid of the measured process); stop it, so the wrapper writes its output."""
    out.mkdir()
    redis = RedisServer(out / "redis").start()
    procs: list = []
    logs: list = []
    client = None
    try:
        write_state(redis.client())
        data = retarget(demo_topology_data(), redis.url)
        topology = write_topology(out / "topology.yaml", data)
        command = [arg.replace("OUT", str(out)) for arg in wrapper]
        logs.append(open(out / f"{middle}.log", "ab"))
        if middle == "gate":
            issuer = ActorProcess(topology, "permit_issuer", log_dir=out).start()
            procs.append(issuer.proc)
            logs.append(issuer._log)
            endpoint = data["actors"]["gate"]["sockets"]["proposals"]["bind"]
            start = ["-m", "actors.gate"] if region is None else ["-c", REGION_BOOT, region]
            procs.insert(0, subprocess.Popen([*command, sys.executable, *start, "--topology", str(topology),
                                              "--name", "gate"], cwd=repo, stdout=logs[0], stderr=subprocess.STDOUT,
                                             env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(repo)}))
        else:
            endpoint, back = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
            procs.append(subprocess.Popen([sys.executable, "-c", FLOOR_ECHO, back, str(redis.port)]))
            procs.insert(0, subprocess.Popen([*command, sys.executable, "-c", FLOOR_RELAY, endpoint, back],
                                             stdout=logs[0], stderr=subprocess.STDOUT))
        client = Client(endpoint, middle)
        client.send(WARM_UP)
        wrapped = psutil.Process(procs[0].pid)
        # The measured process itself: strace's child; valgrind runs in the process it starts.
        measured = (wrapped.children() or [wrapped])[0]
        measure(client, measured.pid)
        measured.terminate()  # the gate stops on SIGTERM, the relay dies of it; the wrapper writes its output
        procs[0].wait(120)
    finally:
        if client is not None:
            client.close()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        for log in logs:
            log.close()
        redis.stop()


def totals(path: Path) -> int:
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    raise SystemExit(f"no totals in {path}")


def annotate(path: Path, top: int) -> list[tuple[int, str]]:
    """(inclusive instructions, function) of the file's top functions, by callgrind_annotate --inclusive=yes."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(path)],
                          capture_output=True, text=True, check=True).stdout
    rows = []
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)", line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append((int(m.group(1).replace(",", "")), m.group(2).strip()))
    return rows[:top]


def callgrind_control(command: str, pid: int) -> None:
    subprocess.run(["callgrind_control", command, str(pid)], check=True, capture_output=True, timeout=120)


def callgrind_main_thread(middle: str, decisions: int, idle_s: float, repo: Path, top: int,
                          region: str | None = None) -> None:
    """The measured process's main thread per decision: its counters zeroed after the warm-up, dumped after
    `decisions` (dump 1), zeroed again and dumped after idle_s with no proposal (dump 2: the timers' cost per
    second, which the slow decisions under valgrind pay many times more often than at full speed)."""
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind (Debian: apt-get install valgrind)")
    wrapper = ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--callgrind-out-file=OUT/cg.%p"]
    if region is not None:
        wrapper[2:2] = ["--collect-atstart=no", "--toggle-collect=_operator_call"]
    spans: dict[str, float] = {}

    def measure(client: Client, pid: int) -> None:
        callgrind_control("--zero", pid)
        started = time.monotonic()
        client.send(decisions)
        callgrind_control("--dump", pid)
        spans["decisions"] = time.monotonic() - started
        callgrind_control("--zero", pid)
        started = time.monotonic()
        time.sleep(idle_s)
        callgrind_control("--dump", pid)
        spans["idle"] = time.monotonic() - started

    with tempfile.TemporaryDirectory(prefix="gate-process-cg-") as tmp:
        out = Path(tmp) / middle
        run_once(middle, wrapper, repo, Path(tmp), out, measure, region)
        if region is not None:
            main_1, main_2 = (next(out.glob(f"cg.*.{part}-01")) for part in (1, 2))
            print(f"{region} ({repo}): {totals(main_1) / decisions:,.0f} instructions per decision, inclusive; "
                  f"{totals(main_2) / spans['idle']:,.0f} a second when idle")
            for cost, name in annotate(main_1, top):
                print(f"{cost / decisions:>12,.0f} {name}")
            return
        main_1, main_2 = (next(out.glob(f"cg.*.{part}-01")) for part in (1, 2))
        others = sum(totals(f) for f in out.glob("cg.*.1-*") if f != main_1)
        busy, idle = totals(main_1), totals(main_2)
        idle_per_s = idle / spans["idle"]
        # What the timers cost in the decisions' span beyond their share at the open loop's rate.
        per = (busy - idle_per_s * spans["decisions"]) / decisions + idle_per_s / OPEN_LOOP_RATE
        print(f"{middle} ({repo}): main thread {per:,.0f} instructions per decision at {OPEN_LOOP_RATE:,.0f}/s "
              f"({busy / decisions:,.0f} as measured: {decisions} decisions in {spans['decisions']:.1f} s under valgrind, "
              f"with {idle_per_s:,.0f} a second when idle (timers) of which {idle_per_s / OPEN_LOOP_RATE:,.0f} counted per "
              f"decision); other threads {others / decisions:,.0f}")
        if top:
            print(f"the main thread by function, inclusive, per decision (dump 1 / {decisions}):")
            for cost, name in annotate(main_1, top):
                print(f"{cost / decisions:>12,.0f} {name}")
            print(f"idle, per second (dump 2 / {spans['idle']:.1f} s):")
            for cost, name in annotate(main_2, min(top, 25)):
                print(f"{cost / spans['idle']:>12,.0f} {name}")


def strace_syscalls(middle: str, low: int, high: int, repo: Path) -> None:
    """System calls per decision of each of the process's threads (strace -ff: one file per thread), from two
    runs of `low` and `high` decisions after the same warm-up."""
    if shutil.which("strace") is None:
        raise SystemExit("needs strace")
    wrapper = ["strace", "-ff", "-qq", "-o", "OUT/st"]
    counts: dict[int, list[Counter]] = {}
    with tempfile.TemporaryDirectory(prefix="gate-process-st-") as tmp:
        for n in (low, high):
            out = Path(tmp) / f"{middle}-{n}"
            run_once(middle, wrapper, repo, Path(tmp), out, lambda client, _pid, n=n: client.send(n))
            counts[n] = [Counter(m.group(1) for m in map(re.compile(r"(\w+)\(").match, f.read_text().splitlines()) if m)
                         for f in sorted(out.glob("st.*"), key=lambda p: int(p.suffix[1:]))]
    for i, (a, b) in enumerate(zip(counts[low], counts[high])):
        diff = {name: (b[name] - a[name]) / (high - low) for name in set(a) | set(b)}
        diff = {k: v for k, v in diff.items() if abs(v) >= 0.05}
        if diff:
            print(f"{middle} thread {i}{' (main)' if i == 0 else ''}: {sum(diff.values()):.2f} system calls per decision: "
                  + ", ".join(f"{k} {v:.2f}" for k, v in sorted(diff.items(), key=lambda kv: -kv[1])))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(REPO), help="the checkout whose actors/ run (A/B)")
    parser.add_argument("--middle", choices=("gate", "relay"), default="gate")
    parser.add_argument("--decisions", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--top", type=int, default=0, help="also the main thread's top functions, inclusive")
    parser.add_argument("--syscalls", action="store_true", help="system calls per decision by thread (strace)")
    parser.add_argument("--region", help="MODULE:QUALNAME, e.g. actors.gate:Gate.ask_issuer: that function's instructions "
                                         "alone, inclusive (it must not nest or recurse)")
    args = parser.parse_args()
    exit_on_sigterm()
    repo = Path(args.repo).resolve()
    if args.syscalls:
        strace_syscalls(args.middle, 200, 200 + args.decisions, repo)
    else:
        callgrind_main_thread(args.middle, args.decisions, args.idle_seconds, repo, args.top, args.region)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
