"""Hostile review of clustergate backtest (issue 13): bad input that crashed or destroyed results."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.test_backtest import REPO, T0, backtest, price_paths, topo, write_long_csv  # noqa: F401 (fixture)


def run_cli(*argv: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", "backtest", *map(str, argv)], capture_output=True,
                          text=True, cwd=REPO, timeout=120)


def test_a_timestamp_far_from_the_others_is_refused_naming_the_file_not_a_memory_error(tmp_path: Path, topo: Path):
    prices = tmp_path / "gap.csv"
    prices.write_text(f"ts,symbol,price\n{T0},BTCUSDT,60000\n{T0 + 1},ETHUSDT,3000\n99000000000,BTCUSDT,60001\n")
    proc = run_cli(topo, "--prices", prices, "--out", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr[-500:]
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-500:]
    assert str(prices) in proc.stderr and "slots" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_refused_run_into_an_out_dir_with_old_results_leaves_them_all_in_place(tmp_path: Path, topo: Path):
    good = write_long_csv(tmp_path / "prices.csv", price_paths(100))
    out = tmp_path / "out"
    assert backtest(topo, "--prices", good, "--out", out) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    refused = tmp_path / "refused.csv"
    refused.write_text(f"ts,symbol,price\n{T0},BTCUSDT,-1\n{T0 + 1},ETHUSDT,-2\n")
    proc = run_cli(topo, "--prices", refused, "--out", out)
    assert proc.returncode == 2 and "no usable price" in proc.stderr, proc.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_an_out_dir_never_mixes_a_sweep_with_an_older_single_run(tmp_path: Path, topo: Path):
    good = write_long_csv(tmp_path / "prices.csv", price_paths(100))
    out = tmp_path / "out"
    assert backtest(topo, "--prices", good, "--out", out) == 0
    assert backtest(topo, "--prices", good, "--out", out, "--sweep", "corr_threshold=0.5,0.9") == 0
    assert sorted(p.name for p in out.iterdir()) == ["sweep.csv"]
    assert backtest(topo, "--prices", good, "--out", out) == 0
    assert "sweep.csv" not in {p.name for p in out.iterdir()}
