"""The benchmark suite: each section runs its benchmark several times and returns table rows.

A row is one figure: the median of its runs with min and max, and the target from the issues
beside it. `met` compares the median with the target; a row without a target has met None.
The sections call the single benchmarks (bench_gate.py, bench_cluster_update.py, bench_ticks.py,
bench_system.py) rather than repeating them, so an improvement there shows up here.
"""

from __future__ import annotations

import json
import math
import operator
import os
import signal
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from bench import work_dir

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

SECTIONS = ("gate", "cluster", "ticks", "system")
OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge}


@dataclass
class Row:
    key: str
    label: str
    unit: str
    median: float | None
    min: float | None
    max: float | None
    runs: int
    target: str = ""  # e.g. "<= 0.5", empty when the issues set none
    note: str = ""

    @property
    def met(self) -> bool | None:
        if not self.target or self.median is None:
            return None
        op, value = self.target.split()
        return OPS[op](self.median, float(value))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


def summary_row(key: str, label: str, unit: str, values: list[float], target: str = "", note: str = "") -> Row:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return Row(key, label, unit, None, None, None, 0, target, note)
    return Row(key, label, unit, statistics.median(values), min(values), max(values), len(values), target, note)


@dataclass(frozen=True)
class Settings:
    quick: bool
    runs: int

    @property
    def gate_seconds(self) -> float:
        return 2.0 if self.quick else 30.0

    @property
    def gate_closed_seconds(self) -> float:
        return 1.0 if self.quick else 2.0

    @property
    def gate_floor_seconds(self) -> float:
        return 2.0 if self.quick else 10.0


# --------------------------------------------------------------------------- gate


GATE_ATTEMPTS = 2  # one retry: a run can fail to start (e.g. a port taken between pick and bind)


def run_bench_gate(settings: Settings, out: Path) -> dict[str, Any]:
    """One bench_gate.py run in its own process group, so a hung run is killed with its redis and actors."""
    timeout_s = settings.gate_seconds + settings.gate_floor_seconds + 2 * settings.gate_closed_seconds + 120
    proc = subprocess.Popen([sys.executable, str(BENCH / "bench_gate.py"), "--rate", "1000",
                             "--seconds", str(settings.gate_seconds),
                             "--closed-seconds", str(settings.gate_closed_seconds),
                             "--floor-seconds", str(settings.gate_floor_seconds), "--out", str(out)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        raise RuntimeError(f"bench_gate.py did not finish in {timeout_s:.0f} s:\n{output[-2000:]}") from None
    except BaseException:  # the suite itself is stopping: stop the run, which stops its redis and actors
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        raise
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"bench_gate.py exited {proc.returncode}:\n{output[-2000:]}")
    return json.loads(out.read_text())


def gate(settings: Settings) -> tuple[list[Row], Any]:
    """bench_gate.py once per run (fresh Redis, gate and permit issuer each time), read from its JSON."""
    results, failures = [], []
    with work_dir("bench_suite_gate_") as outdir:
        for i in range(settings.runs):
            for attempt in range(GATE_ATTEMPTS):
                try:
                    results.append(run_bench_gate(settings, outdir / f"gate-{i}-{attempt}.json"))
                    break
                except RuntimeError as exc:
                    failures.append(str(exc))
                    if attempt == GATE_ATTEMPTS - 1:
                        raise
    opened = [r["open_loop"] for r in results]
    load = f"1,000/s x {settings.gate_seconds:g} s open loop"
    rows = [
        summary_row("gate.p50_ms", "gate decision latency p50", "ms", [o["p50_ms"] for o in opened], "<= 0.5", load),
        summary_row("gate.p99_ms", "gate decision latency p99", "ms", [o["p99_ms"] for o in opened], "<= 2", load),
        summary_row("gate.p999_ms", "gate decision latency p99.9", "ms", [o["p999_ms"] for o in opened], "", load),
        summary_row("gate.unanswered", "gate proposals without a recorded decision", "",
                    [o["sent"] - o["answered"] for o in opened], "",
                    "of the open-loop load; fault HOLDs and errors count here, never as served"),
        summary_row("gate.fault_holds", "gate fault HOLDs (nothing recorded)", "",
                    [o.get("fault_holds", 0) for o in opened], "", "redis_unavailable or permit_unavailable"),
        summary_row("gate.closed_loop_per_s", "gate closed-loop throughput", "/s",
                    [r["closed_loop_max_per_s"] for r in results], ">= 3000",
                    f"best of 1 REQ and 8 in flight, {settings.gate_closed_seconds:g} s each"),
        summary_row("gate.closed_loop_1req_per_s", "gate closed loop, one REQ client", "/s",
                    [r["closed_loop_req"]["per_s"] for r in results], "",
                    "each proposal sent when the previous reply arrives"),
        summary_row("gate.closed_loop_8_per_s", "gate closed loop, 8 proposals in flight", "/s",
                    [r["closed_loop_window8"]["per_s"] for r in results], "",
                    "a new proposal sent as each reply arrives"),
        summary_row("gate.req_p50_ms", "gate closed loop, one REQ client, p50", "ms",
                    [r["closed_loop_req"]["p50_ms"] for r in results], "<= 0.35",
                    "issue 14; beside the latency floor below"),
        summary_row("gate.floor_ms", "floor: 2 ZeroMQ round trips + 1 Redis script call", "ms",
                    [r["floor_ms"] for r in results], "", "measured in each run, back to back"),
        summary_row("gate.req_p50_x_floor", "  one REQ client p50 / floor", "x",
                    [r["closed_loop_req_p50_x_floor"] for r in results], ""),
        summary_row("gate.p99_x_floor", "  open-loop p99 / floor", "x",
                    [r["open_loop_p99_x_floor"] for r in results], ""),
        summary_row("gate.floor_p99_ms", "  open-loop p99 of the floor's hops (bare relay + echo)", "ms",
                    [r["open_loop_floor_p99_ms"] for r in results if "open_loop_floor_p99_ms" in r], "",
                    "same rate and client, the CPU floor's run: the p99 this machine gives with no actor work"),
        *[row for name, target in (("gate", "<= 120"), ("permit_issuer", "<= 80"), ("redis", "")) for row in (
            summary_row(f"gate.cpu_us.{name}", f"CPU per decision, {name}, 1,000/s open loop", "us",
                        [r["cpu_us_per_decision_open_loop"][name] for r in results], target,
                        "user+sys of the process over the open loop / recorded decisions"),
            summary_row(f"gate.cpu_floor_us.{name}", f"  CPU floor in the same run, {name}", "us",
                        [r["cpu_floor_us"][name] for r in results if "cpu_floor_us" in r], "",
                        {"gate": "a bare relay where the gate is (ROUTER, poll, REQ round trip, reply)",
                         "permit_issuer": "a bare REP echo with one Redis SET where the issuer is",
                         "redis": "that one SET"}[name]))],
        summary_row("gate.zmq_roundtrip_us", "machine: ZeroMQ REQ/REP round trip", "us",
                    [r["machine_check"]["zmq_req_rep_roundtrip_us"] for r in results], "",
                    "bare echo between two processes (issue #4: about 60 us on its machine)"),
        summary_row("gate.redis_set_us", "machine: Redis SET round trip", "us",
                    [r["machine_check"]["redis_set_roundtrip_us"] for r in results], "",
                    "the actors' client (issue #4: about 110 us on its machine)"),
        summary_row("gate.rss_gate_mb", "RSS gate after the load", "MB", [r["rss_mb"]["gate"] for r in results], "<= 40"),
        summary_row("gate.rss_permit_issuer_mb", "RSS permit_issuer after the load", "MB",
                    [r["rss_mb"]["permit_issuer"] for r in results], "<= 40"),
        *[summary_row(f"shutdown.{name}_s", f"{name} exit after SIGTERM", "s",
                      [r["shutdown_s"][name] for r in results], "<= 2", "docs/operating.md: exit within 2 s of SIGTERM")
          for name in ("gate", "permit_issuer")],
    ]
    return rows, {"runs": results, "failed_attempts": failures}


# --------------------------------------------------------------------------- cluster update


# The product's cost grows as n^2 (times the points); measured exponents fall below 2 at these
# sizes as BLAS gets more efficient per element, and swing with load, so the bar is the theory's 2.
PRODUCT_EXPONENT = 2.0


def pairwise_exponent(t_small: float, t_large: float, n_small: int, n_large: int) -> float:
    """k in t ~ n^k between two sizes."""
    return math.log(t_large / t_small) / math.log(n_large / n_small)


def cluster(settings: Settings) -> tuple[list[Row], Any]:
    """bench_cluster_update's time_update per size (each the median of that script's RUNS updates,
    with a bare x @ x.T of the same shape) and its least-squares growth exponent."""
    from bench import bench_cluster_update as cu

    updates = [cu.time_update(n, 0.0) for n in cu.SIZES]
    gapped = None if settings.quick else cu.time_update(500, 0.05)
    rows = []
    for u in updates:
        n = u["symbols"]
        rows.append(Row(f"cluster.update_ms.{n}", f"cluster update, {n} symbols x {u['points']} points", "ms",
                        u["median_ms"], u["min_ms"], u["max_ms"], u["runs"], "<= 25" if n == 500 else "",
                        f"bare x @ x.T {u['gemm_median_ms']:.2f} ms; CPU {u['cpu_median_ms']:.1f} ms"))
    if gapped is not None:
        rows.append(Row("cluster.update_ms.500_gaps", "cluster update, 500 symbols, 5% of prices missing", "ms",
                        gapped["median_ms"], gapped["min_ms"], gapped["max_ms"], gapped["runs"], "",
                        "the pairwise-complete path"))
    pairs = {}
    for a, b in zip(updates, updates[1:]):
        pairs[f"{a['symbols']}-{b['symbols']}"] = {
            "update": pairwise_exponent(a["median_ms"], b["median_ms"], a["symbols"], b["symbols"]),
            "product": pairwise_exponent(a["gemm_median_ms"], b["gemm_median_ms"], a["symbols"], b["symbols"])}
    fit = {"update": cu.growth_exponent(updates, "median_ms"), "product": cu.growth_exponent(updates, "gemm_median_ms")}
    steps = ", ".join(f"{k}: {v['update']:.2f} vs {v['product']:.2f}" for k, v in pairs.items())
    rows.append(Row("cluster.growth_exponent", f"cluster growth exponent, {cu.FIT_FROM}-{cu.SIZES[-1]} symbols",
                    "", fit["update"], None, None, updates[0]["runs"], f"<= {PRODUCT_EXPONENT:g}",
                    f"time ~ n^k, fit of medians; bare x @ x.T {fit['product']:.2f} (n^2 in theory); "
                    f"step by step update vs product {steps}"))
    return rows, {"updates": updates, "gaps_500": gapped, "exponents": {"fit": fit, "pairwise": pairs},
                  "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", "unset")}


# --------------------------------------------------------------------------- ticks


def ticks(settings: Settings) -> tuple[list[Row], Any]:
    from bench import bench_ticks

    rate, seconds, blast = (10000.0, 1.0, 20000) if settings.quick else (10000.0, 3.0, 50000)
    result = bench_ticks.run(rate, seconds, blast, settings.runs)
    paced = [r["paced"] for r in result["rounds"]]
    blasts = [r["blast"] for r in result["rounds"]]
    rows = [
        summary_row("ticks.paced_lost", f"ticks lost at {rate:,.0f}/s offered for {seconds:g} s", "",
                    [p["lost"] for p in paced], "", f"of {paced[0]['sent']:,} sent (demo feed offers 12/s)"),
        summary_row("ticks.handled_per_s", "ticks handled by the buffer, blast", "/s",
                    [b["handled_per_s"] for b in blasts], "", f"{blast:,} sent at ~{statistics.median(b['send_per_s'] for b in blasts):,.0f}/s"),
        summary_row("ticks.blast_loss_pct", "ticks lost in the blast (ZeroMQ HWM 1000)", "%",
                    [b["loss_pct"] for b in blasts], ""),
    ]
    return rows, result


# --------------------------------------------------------------------------- whole system


RSS_TARGETS = {"buffer": "<= 80", "correlator": "<= 80", "gate": "<= 40", "permit_issuer": "<= 40"}


def system(settings: Settings) -> tuple[list[Row], Any]:
    from bench import bench_system

    runs = 1 if settings.quick else settings.runs
    result = bench_system.run(runs, 1.0 if settings.quick else 3.0, restart_runs=1 if settings.quick else settings.runs,
                              restarts=("buffer+correlator",) if settings.quick else None)
    cadence = result["restarts"]["buffer+correlator"][0]["cadence_s"]
    rows = [summary_row("ready.cold_s", "time to p27_corr_ready 1, cold start (fresh Redis, from `up`)", "s",
                        [c["to_corr_ready_s"] for c in result["cold_start"]], "<= 20",
                        f"demo cadence {cadence:g} s, min_returns 10")]
    for label, rounds in result["restarts"].items():
        if not rounds:
            continue
        slug = label.replace("+", "_").replace(" ", "_")
        rows.append(summary_row(f"ready.restart.{slug}.total_s", f"time to corr_ready 1, restart {label}", "s",
                                [r["to_corr_ready_s"] for r in rounds], "", "from `supervisorctl restart`"))
        rows.append(summary_row(f"ready.restart.{slug}.after_serving_s",
                                f"  of which after the correlator process starts", "s",
                                [r["serving_to_ready_s"] for r in rounds], f"<= {cadence:g}", "target: one cadence"))
    names = sorted(result["rss_mb"][0])
    for name in names:
        rows.append(summary_row(f"rss.{name}_mb", f"RSS {name} after warm-up", "MB",
                                [r[name] for r in result["rss_mb"] if name in r], RSS_TARGETS.get(name, ""),
                                "demo system under supervisord"))
    return rows, result


RUNNERS: dict[str, Callable[[Settings], tuple[list[Row], Any]]] = {
    "gate": gate, "cluster": cluster, "ticks": ticks, "system": system}
