"""Benchmark of the whole demo system under real supervisord: time to `p27_corr_ready 1` and RSS per actor.

Each cold start brings the demo topology (1 s cadence), moved to free ports, up in a fresh home with
a fresh managed Redis through `python -m launcher up`, and times from the `up` command to the
correlator exporting `p27_corr_ready 1`. After a warm-up it reads the RSS of every program's pid
(psutil). Then it restarts programs with `supervisorctl restart` and times, from the command, until
the new correlator serves metrics and until it reports `p27_corr_ready 1` again; the issue's warm
restart target is the second within one cadence of the first.

    .venv/bin/python bench/bench_system.py [--runs 3] [--warmup-s 5] (the suite warms up 3 s)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import exit_on_sigterm, work_dir  # noqa: E402
from launcher.harness import demo_topology_data, retarget  # noqa: E402
from launcher.harness import scrape, write_topology  # noqa: E402

READY_TIMEOUT_S = 120.0
POLL_S = 0.02
# What a restart round restarts: the P2.7 pair the warm-restart proof restarts, and every program.
RESTARTS = {"buffer+correlator": ("buffer", "correlator"), "all programs": ("all",)}


def launcher(*args: str, timeout_s: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout_s)


class DemoSystem:
    """The demo topology on free ports, in its own home."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.home = workdir / "home"
        self.data = retarget(demo_topology_data())
        self.topology = write_topology(workdir / "demo.yaml", self.data)
        self.cadence_s = float(self.data["clusters"]["cadence_s"])
        self.correlator_port = self.data["actors"]["correlator"]["metrics_port"]
        self.buffer_port = self.data["actors"]["buffer"]["metrics_port"]

    def correlator(self) -> dict[str, float] | None:
        try:
            return scrape(self.correlator_port)
        except OSError:
            return None

    def corr_ready(self) -> bool:
        m = self.correlator()
        return bool(m) and m.get("p27_corr_ready") == 1.0

    def cold_start(self) -> dict[str, Any]:
        """`up` in a fresh home; seconds until the correlator reports corr_ready 1, and until `up` returned."""
        start = time.perf_counter()
        up = subprocess.Popen([sys.executable, "-m", "launcher", "up", str(self.topology), "--home", str(self.home)],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ready_s = None
        while time.perf_counter() - start < READY_TIMEOUT_S:
            if self.corr_ready():
                ready_s = time.perf_counter() - start
                break
            if up.poll() not in (None, 0):
                break
            time.sleep(POLL_S)
        output, _ = up.communicate(timeout=READY_TIMEOUT_S)
        up_s = time.perf_counter() - start
        if ready_s is None:
            raise RuntimeError(f"corr_ready not 1 within {READY_TIMEOUT_S:.0f} s of up (exit {up.returncode}):\n{output}")
        return {"to_corr_ready_s": ready_s, "up_returned_s": up_s, "up_exit": up.returncode}

    def pids(self) -> dict[str, int]:
        status = json.loads(launcher("status", "--json", "--home", str(self.home)).stdout)
        return {row["name"]: row["pid"] for row in status["programs"] if row.get("pid")}

    def rss_mb(self) -> dict[str, float]:
        return {name: psutil.Process(pid).memory_info().rss / 2**20 for name, pid in self.pids().items()}

    def min_points(self) -> float | None:
        try:
            return scrape(self.buffer_port).get("p27_buffer_min_points_per_symbol")
        except OSError:
            return None

    def restart(self, programs: tuple[str, ...]) -> dict[str, Any]:
        """supervisorctl restart; seconds until the new correlator process starts (its own start
        timestamp), and until it is corr_ready."""
        points_before = self.min_points()
        issued_epoch = time.time()
        start = time.perf_counter()
        ctl = subprocess.Popen([str(Path(sys.executable).parent / "supervisorctl"), "-c", str(self.home / "supervisord.conf"),
                                "restart", *programs], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        serving_s = ready_s = None
        while time.perf_counter() - start < READY_TIMEOUT_S:
            m = self.correlator()
            started = m.get('clustergate_actor_started_timestamp_seconds{actor="correlator",kind="correlator"}', 0.0) if m else 0.0
            if started >= issued_epoch:  # the new process, not the one being stopped
                now = time.perf_counter() - start
                # Its own start timestamp, not this poll: a correlator slow to use its inputs cannot hide
                # behind the time the first scrape of it took (issue 19, finding 8).
                serving_s = serving_s if serving_s is not None else started - issued_epoch
                if m.get("p27_corr_ready") == 1.0:
                    ready_s = now
                    break
            time.sleep(POLL_S)
        output, _ = ctl.communicate(timeout=READY_TIMEOUT_S)
        if ready_s is None:
            raise RuntimeError(f"corr_ready not back to 1 within {READY_TIMEOUT_S:.0f} s of restarting {programs}:\n{output}")
        return {"programs": list(programs), "to_serving_s": serving_s, "to_corr_ready_s": ready_s,
                "serving_to_ready_s": ready_s - serving_s, "cadence_s": self.cadence_s,
                "min_points_before": points_before, "min_points_after": self.min_points()}

    def down(self) -> None:
        launcher("down", "--home", str(self.home))


def run(runs: int, warmup_s: float, restart_runs: int | None = None,
        restarts: tuple[str, ...] | None = None) -> dict[str, Any]:
    """`runs` cold starts (each a fresh home and Redis) with RSS after warm-up; then, on the last one,
    `restart_runs` (default `runs`) rounds of each of `restarts` (default every kind in RESTARTS)."""
    chosen = {label: RESTARTS[label] for label in (restarts or RESTARTS)}
    cold, rss, rounds = [], [], {label: [] for label in chosen}
    for i in range(runs):
        with work_dir("bench_system_") as workdir:
            system = DemoSystem(workdir)
            try:
                cold.append(system.cold_start())
                time.sleep(warmup_s)
                rss.append(system.rss_mb())
                if i == runs - 1:
                    for _ in range(restart_runs or runs):
                        for label, programs in chosen.items():
                            rounds[label].append(system.restart(programs))
            finally:
                system.down()
    return {"cold_start": cold, "rss_mb": rss, "restarts": rounds, "warmup_s": warmup_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup-s", type=float, default=5.0)
    args = parser.parse_args()
    exit_on_sigterm()
    print(json.dumps(run(args.runs, args.warmup_s), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
