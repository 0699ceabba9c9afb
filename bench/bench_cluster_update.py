"""Time one full P2.7 update (returns, matrix, clusters, stress) and the RSS of buffer/correlator.

Run: .venv/bin/python bench/bench_cluster_update.py   (prints a table, writes bench/results/cluster_update.json)
Target (issue 3): <= 25 ms at 500 symbols x 361 points on a 2-core machine; buffer and correlator <= 80 MB RSS.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actors.clusterer import cluster_labels, cluster_metrics  # noqa: E402
from actors.correlator import correlate_window  # noqa: E402

POINTS = 361
SIZES = (10, 100, 500, 1000)
RUNS = 15


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


def time_update(n: int, gaps: float) -> dict[str, float]:
    symbols, prices = synthetic_prices(n, gaps)
    rng = np.random.default_rng(2)
    notionals = {s: float(rng.uniform(-1e4, 1e4)) for s in symbols}
    one_update(symbols, prices, notionals)  # warm-up
    samples = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        one_update(symbols, prices, notionals)
        samples.append((time.perf_counter() - t0) * 1000)
    return {"symbols": n, "points": POINTS, "gaps": gaps, "median_ms": statistics.median(samples),
            "min_ms": min(samples), "max_ms": max(samples), "runs": RUNS}


RSS_SNIPPET = """
import sys, psutil, numpy as np
sys.path.insert(0, {root!r})
import actors.{module}
from actors.correlator import correlate_window
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
    rows = [time_update(n, gaps) for gaps in (0.0, 0.05) for n in SIZES]
    print(f"{'symbols':>8} {'points':>7} {'gaps':>5} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
    for r in rows:
        print(f"{r['symbols']:>8} {r['points']:>7} {r['gaps']:>5.2f} {r['median_ms']:>10.2f} {r['min_ms']:>8.2f} {r['max_ms']:>8.2f}")
    rss = {m: rss_mb(m) for m in ("buffer", "correlator")}
    for m, v in rss.items():
        print(f"RSS {m} (import + one 500-symbol update): {v:.1f} MB")
    out = ROOT / "bench" / "results" / "cluster_update.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"update": rows, "rss_mb": rss}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
