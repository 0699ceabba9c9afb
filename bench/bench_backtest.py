"""Backtest speed: one year of 1-minute slots for 20 symbols, lookback 360 (10.5 M prices), 10,000
proposals, through `clustergate backtest`'s pipeline; beside it, in the same run, pandas'
DataFrame.rolling(360).corr() of the same prices. Each side runs in its own process, so its peak
RSS (ru_maxrss) is its own. Issue 13's target: <= 20 s and <= 1 GB for the whole pipeline.

    .venv/bin/python -m bench.bench_backtest [--slots 525600] [--symbols 20] [--skip-pandas] [--csv] [--json FILE]

--csv gives the backtest the same prices as a long-form CSV (ts,symbol,price) instead of Parquet: the
read of a CSV, in time and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_S = 20.0
TARGET_RSS_MB = 1024.0
LOOKBACK = 360
PROPOSALS = 10_000
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z


def make_inputs(directory: Path, slots: int, n_symbols: int, seed: int = 13, csv: bool = False) -> dict[str, Path]:
    """Wide Parquet of 1-minute prices (three correlated groups), proposals CSV, topology; with csv, the prices
    as a long-form prices.csv instead (the child backtest reads prices.csv when it is there)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    rng = np.random.default_rng(seed)
    symbols = [f"S{i:02d}USDT" for i in range(n_symbols)]
    common = rng.normal(size=(3, slots)) * 0.0008
    z = rng.normal(size=(n_symbols, slots)) * 0.0008
    for i in range(n_symbols):
        z[i] += common[i % 3] * (1.0 + 0.5 * np.sin(np.arange(slots) / 20_000.0 + i))
    prices = 100.0 * np.exp(np.cumsum(z, axis=1))
    ts = T0 + 60 * np.arange(slots, dtype=np.int64)
    table = pa.table({"ts": ts, **{s: prices[i] for i, s in enumerate(symbols)}})
    paths = {"prices": directory / "prices.parquet", "proposals": directory / "proposals.csv",
             "topology": directory / "topology.yaml"}
    if csv:
        with open(directory / "prices.csv", "w") as fh:
            fh.write("ts,symbol,price\n")
            for j, t in enumerate(ts.tolist()):
                fh.writelines(f"{t},{s},{prices[i, j]:.6f}\n" for i, s in enumerate(symbols))
    else:
        pq.write_table(table, paths["prices"])
    times = np.sort(rng.uniform(T0 + 60 * LOOKBACK, T0 + 60 * slots, PROPOSALS))
    actions = ("PARTIAL_25", "PARTIAL_50", "PARTIAL_75", "FULL_CLOSE_PROPOSED", "HOLD")
    with open(paths["proposals"], "w") as fh:
        fh.write("ts,plan_id,symbol,action_proposed,kill_score\n")
        for n, t in enumerate(times):
            fh.write(f"{t:.3f},p{n},{symbols[rng.integers(n_symbols)]},{actions[rng.integers(5)]},"
                     f"{rng.uniform():.3f}\n")
    positions = {s: float(rng.choice([-1.0, 1.0]) * rng.uniform(1, 50)) for s in symbols}
    paths["topology"].write_text(
        "name: bench\n"
        f"symbols: [{', '.join(symbols)}]\n"
        "clusters: {cadence_s: 60, lookback_returns: %d, min_returns: 10, corr_threshold: 0.7}\n"
        "actors:\n"
        "  price_feed:\n    metrics_port: 19181\n    sockets:\n      ticks: {bind: 'tcp://127.0.0.1:15551'}\n"
        "  book:\n    metrics_port: 19182\n    sockets:\n      ticks: {connect: 'tcp://127.0.0.1:15551'}\n"
        "    settings:\n      positions: {%s}\n"
        % (LOOKBACK, ", ".join(f"{s}: {v:.3f}" for s, v in positions.items())))
    return paths


def child_backtest(directory: Path) -> dict:
    from launcher import backtest as bt
    started = time.perf_counter()
    csv_prices = directory / "prices.csv"
    prices_path = csv_prices if csv_prices.exists() else directory / "prices.parquet"
    args = argparse.Namespace(topology=str(directory / "topology.yaml"), prices=str(prices_path),
                              positions=None, proposals=str(directory / "proposals.csv"), out=str(directory / "out"),
                              set_values=[], sweep=[], proposal_every=None)
    settings, prices, positions, proposals, _, inputs = bt.prepare(args)
    read_s = time.perf_counter() - started
    sink = bt.ClusterWriter(Path(args.out) / "clusters.csv")  # as the command: clusters.csv written as it goes
    run = bt.run_backtest(settings, prices, positions, proposals, cluster_sink=sink)
    sink.close()
    compute_s = time.perf_counter() - started - read_s - sink.seconds
    rss_compute = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    bt.write_outputs(Path(args.out), run, inputs)
    total_s = time.perf_counter() - started
    return {"prices": prices.ticks, "prices_file": prices_path.name, "slots": int(len(run.slots)), "decisions": len(run.decisions),
            "cluster_rows": sink.rows,
            "read_s": read_s, "compute_s": compute_s, "write_s": total_s - read_s - compute_s, "total_s": total_s,
            "rss_mb_after_compute": rss_compute,  # with clusters.csv written as it goes
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def child_pandas(directory: Path) -> dict:
    import pandas as pd
    df = pd.read_parquet(directory / "prices.parquet").set_index("ts")
    started = time.perf_counter()
    out = df.rolling(LOOKBACK).corr()
    seconds = time.perf_counter() - started
    return {"prices": int(df.size), "seconds": seconds, "rows": int(len(out)),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def in_child(kind: str, directory: Path) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "bench.bench_backtest", "--child", kind, str(directory)],
                          capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} child failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--slots", type=int, default=365 * 24 * 60)
    p.add_argument("--symbols", type=int, default=20)
    p.add_argument("--skip-pandas", action="store_true")
    p.add_argument("--csv", action="store_true", help="prices as a long-form CSV, not Parquet")
    p.add_argument("--json")
    p.add_argument("--child", nargs=2, metavar=("KIND", "DIR"))
    args = p.parse_args(argv)
    if args.child:
        kind, directory = args.child
        result = (child_backtest if kind == "backtest" else child_pandas)(Path(directory))
        print(json.dumps(result))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        directory = Path(tmp)
        make_inputs(directory, args.slots, args.symbols, csv=args.csv)
        bt = in_child("backtest", directory)
        pdr = None if args.skip_pandas or args.csv else in_child("pandas", directory)
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    result = {"machine": {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()},
              "backtest": bt, "pandas": pdr}
    n = bt["prices"]
    print(f"machine: {cpu}, {os.cpu_count()} cores (BLAS 1 thread)")
    print(f"{'':34}{'seconds':>9}{'prices/s':>12}{'peak RSS MB':>13}  target")
    print(f"{'backtest, compute (read+run)':34}{bt['read_s'] + bt['compute_s']:9.2f}"
          f"{n / (bt['read_s'] + bt['compute_s']):12,.0f}{bt['rss_mb_after_compute']:13.0f}"
          f"  <= {TARGET_S:.0f} s, <= {TARGET_RSS_MB:.0f} MB")
    print(f"{'backtest, with the output files':34}{bt['total_s']:9.2f}{n / bt['total_s']:12,.0f}{bt['rss_mb']:13.0f}")
    if pdr:
        print(f"{'pandas rolling(360).corr()':34}{pdr['seconds']:9.2f}{pdr['prices'] / pdr['seconds']:12,.0f}"
              f"{pdr['rss_mb']:13.0f}")
    print(f"({n:,} prices from {bt['prices_file']}, {bt['slots']:,} slots, {bt['decisions']:,} decisions, {bt['cluster_rows']:,} cluster rows; read {bt['read_s']:.2f} s, "
          f"compute {bt['compute_s']:.2f} s, write {bt['write_s']:.2f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
