"""Time one full P2.7 update (returns, matrix, clusters, stress) and the RSS of buffer/correlator.

Run: .venv/bin/python bench/bench_cluster_update.py   (prints a table, writes bench/results/cluster_update.json)
Target (issue 3): <= 25 ms at 500 symbols x 361 points on a 2-core machine, cost growing no worse than
the matrix product itself as symbols are added; buffer and correlator <= 80 MB RSS.

Wall time is noisy on a shared machine, so each row also gives the process CPU time, the load
average is recorded, and a bare x @ x.T of the same shape is timed alongside: the growth exponent
(slope of log time against log symbols, 100 -> 1000 symbols) of the update is printed next to the
product's own. OpenBLAS threads follow OPENBLAS_NUM_THREADS (set it before running; the
correlator process should run with 1, see issue 3 notes).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actors.clustering import cluster_labels, cluster_metrics  # noqa: E402
from actors.correlation import correlate_window  # noqa: E402

POINTS = 361
SIZES = (10, 100, 500, 1000)
RUNS = 25
TARGET_MS = 25.0
FIT_FROM = 100  # sizes below this measure Python overhead, not growth


def synthetic_prices(n: int, gaps: float, seed: int = 1) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    factors = rng.normal(0, 0.01, (4, POINTS))
    loadings = rng.uniform(-1, 1, (n, 4))
    prices = 100 * np.exp(np.cumsum(loadings @ factors + rng.normal(0, 0.005, (n, POINTS)), axis=1))
    prices[rng.random(prices.shape) < gaps] = np.nan
    return [f"S{i:04d}USDT" for i in range(n)], prices


def one_update(symbols: list[str], prices: np.ndarray, notionals: dict[str, float]) -> float:
    result = correlate_window(symbols, prices, cadence_s=60.0, min_returns=10)
    labels = cluster_labels(result["matrix"], 0.70)
    _, stress = cluster_metrics(result["symbols"], result["matrix"], labels, notionals)
    return stress


def sample(fn, runs: int = RUNS) -> tuple[list[float], list[float]]:
    """Wall and process-CPU milliseconds of runs calls of fn, after one warm-up call."""
    fn()
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - t0) * 1000)
    return wall, cpu


def time_update(n: int, gaps: float) -> dict[str, float]:
    symbols, prices = synthetic_prices(n, gaps)
    rng = np.random.default_rng(2)
    notionals = {s: float(rng.uniform(-1e4, 1e4)) for s in symbols}
    wall, cpu = sample(lambda: one_update(symbols, prices, notionals))
    x = np.nan_to_num(np.diff(np.log(prices), axis=1))  # the same k x (points - 1) shape
    gemm_wall, gemm_cpu = sample(lambda: x @ x.T)
    return {"symbols": n, "points": POINTS, "gaps": gaps, "median_ms": statistics.median(wall),
            "min_ms": min(wall), "max_ms": max(wall), "cpu_median_ms": statistics.median(cpu),
            "gemm_median_ms": statistics.median(gemm_wall), "gemm_min_ms": min(gemm_wall),
            "gemm_cpu_median_ms": statistics.median(gemm_cpu), "runs": RUNS}


def growth_exponent(rows: list[dict], key: str) -> float:
    """Least-squares slope of log(rows[key]) against log(symbols) over sizes >= FIT_FROM."""
    pts = [(math.log(r["symbols"]), math.log(max(r[key], 1e-6))) for r in rows if r["symbols"] >= FIT_FROM]
    return float(np.polyfit([p[0] for p in pts], [p[1] for p in pts], 1)[0])


RSS_SNIPPET = """
import sys, psutil, numpy as np
sys.path.insert(0, {root!r})
import actors.{module}
from actors.correlation import correlate_window
symbols = [f"S{{i}}" for i in range(500)]
prices = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, (500, 361)), axis=1))
correlate_window(symbols, prices, cadence_s=60.0, min_returns=10)
print(psutil.Process().memory_info().rss)
"""


def rss_mb(module: str) -> float:
    """RSS of a fresh interpreter that imports the actor module and runs one 500-symbol update."""
    out = subprocess.run([sys.executable, "-c", RSS_SNIPPET.format(root=str(ROOT), module=module)],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip()) / 2**20


def main() -> None:
    load_before = os.getloadavg()
    rows = [time_update(n, gaps) for gaps in (0.0, 0.05) for n in SIZES]
    load_after = os.getloadavg()
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    print(f"OPENBLAS_NUM_THREADS={threads}; load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
          f"(1 min) on {os.cpu_count()} CPUs; {RUNS} runs per row")
    print(f"{'symbols':>8} {'points':>7} {'gaps':>5} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'cpu ms':>8}"
          f" {'x@x.T ms':>9} {'x@x.T cpu':>9}")
    for r in rows:
        print(f"{r['symbols']:>8} {r['points']:>7} {r['gaps']:>5.2f} {r['median_ms']:>10.2f} {r['min_ms']:>8.2f}"
              f" {r['max_ms']:>8.2f} {r['cpu_median_ms']:>8.2f} {r['gemm_median_ms']:>9.2f} {r['gemm_cpu_median_ms']:>9.2f}")
    growth = {}
    for gaps in (0.0, 0.05):
        part = [r for r in rows if r["gaps"] == gaps]
        g = {"update_wall": growth_exponent(part, "median_ms"), "update_cpu": growth_exponent(part, "cpu_median_ms"),
             "gemm_wall": growth_exponent(part, "gemm_median_ms"), "gemm_cpu": growth_exponent(part, "gemm_cpu_median_ms")}
        growth[f"gaps_{gaps:.2f}"] = g
        print(f"growth exponent, gaps {gaps:.2f}, symbols {FIT_FROM}-{SIZES[-1]} (time ~ n^e): update {g['update_wall']:.2f}"
              f" wall / {g['update_cpu']:.2f} cpu; bare x @ x.T {g['gemm_wall']:.2f} wall / {g['gemm_cpu']:.2f} cpu")
    at_target = [r for r in rows if r["symbols"] == 500]
    for r in at_target:
        verdict = "ok" if r["median_ms"] <= TARGET_MS else "OVER"
        print(f"500 symbols, gaps {r['gaps']:.2f}: median {r['median_ms']:.2f} ms, cpu {r['cpu_median_ms']:.2f} ms"
              f" -> {verdict} (target {TARGET_MS:.0f} ms)")
    rss = {m: rss_mb(m) for m in ("buffer", "correlator")}
    for m, v in rss.items():
        print(f"RSS {m} (import + one 500-symbol update): {v:.1f} MB")
    out = ROOT / "bench" / "results" / "cluster_update.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"update": rows, "growth_exponent": growth, "rss_mb": rss,
                               "openblas_num_threads": threads, "cpus": os.cpu_count(),
                               "load_average_before": load_before, "load_average_after": load_after,
                               "target_ms": TARGET_MS}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
