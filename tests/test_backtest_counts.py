"""Hostile review of clustergate backtest (bt): the price file's counts in summary.json, and its errors naming
the right row, for Parquet and CSV alike."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.test_backtest import REPO, SYMBOLS, T0, backtest, price_paths, topo  # noqa: F401 (fixture)
from tests.test_backtest_attack import run_cli

N = 200


def wide_parquet(path: Path, ts) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = price_paths(N)
    pq.write_table(pa.table({"ts": ts, **{s: p[i] for i, s in enumerate(SYMBOLS)}}), path)
    return path


def prices_summary(tmp_path: Path, topo: Path, prices: Path) -> dict:
    out = tmp_path / "out"
    assert backtest(topo, "--prices", prices, "--out", out) == 0
    return json.loads((out / "summary.json").read_text())["prices"]


def test_every_parquet_row_without_a_timestamp_is_counted_not_the_first_20(tmp_path: Path, topo: Path):
    """30 rows with a null ts: prices.bad_rows 30, as a CSV with 30 such rows says (was 20: the count was the
    length of the first-20 list)."""
    ts = (T0 + 60.0 * np.arange(N))
    ts[100:130] = np.nan
    assert prices_summary(tmp_path, topo, wide_parquet(tmp_path / "p.parquet", ts))["bad_rows"] == 30


@pytest.mark.parametrize("tz", [None, "UTC"])
def test_a_null_in_a_parquet_timestamp_column_is_a_bad_row_as_in_a_numeric_one(tmp_path: Path, topo: Path, tz):
    """A null in a timestamp-typed ts column is a bad row (was read as 1677-09-21: 'before the row above', or
    a grid of 10^10 slots refused as a stray timestamp)."""
    import pyarrow as pa

    for at in (0, 100):
        ts = pa.array([None if i == at else int((T0 + 60 * i) * 1e9) for i in range(N)], type=pa.timestamp("ns", tz=tz))
        prices = prices_summary(tmp_path / str(at), topo, wide_parquet(tmp_path / f"p{at}.parquet", ts))
        assert (prices["bad_rows"], prices["bad_rows_first"]) == (1, [f"line {at + 1}: bad timestamp"])
        assert prices["ticks"] == 3 * (N - 1)


def test_a_parquet_row_out_of_time_order_is_named_by_its_row_after_a_row_without_a_timestamp(tmp_path: Path,
                                                                                           topo: Path):
    """Row 5 has no ts, row 50 goes back in time: the error names row 50 (was row 49: the place among the
    rows that had a timestamp)."""
    ts = T0 + 60.0 * np.arange(N)
    ts[4] = np.nan
    ts[49] = ts[10]
    path = wide_parquet(tmp_path / "p.parquet", ts)
    proc = run_cli(topo, "--prices", path, "--out", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr[-800:]
    assert f"{path}: row 50: timestamp is before the row above" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_prices_file_rows_is_the_files_rows_in_both_forms_and_formats(tmp_path: Path, topo: Path):
    """100 wide rows of 3 symbols read 100 (was 300: the prices read); 400 long rows, 100 of a symbol outside the
    topology, read 400 (was 300), as the same rows in Parquet read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = price_paths(N)
    wide = tmp_path / "wide.csv"
    wide.write_text("ts," + ",".join(SYMBOLS) + "\n# a comment\n\n" +
                    "".join(f"{T0 + 60 * j}," + ",".join(repr(float(p[i, j])) for i in range(3)) + "\n"
                            for j in range(N)))
    assert prices_summary(tmp_path / "w", topo, wide)["file_rows"] == N
    rows = [(T0 + 60 * j, s, float(p[i, j]) if i < 3 else 0.5) for j in range(N)
            for i, s in enumerate([*SYMBOLS, "XRPUSDT"])]
    long = tmp_path / "long.csv"
    long.write_text("ts,symbol,price\n" + "".join(f"{t},{s},{v!r}\n" for t, s, v in rows))
    pq.write_table(pa.table({"ts": [r[0] for r in rows], "symbol": [r[1] for r in rows],
                             "price": [r[2] for r in rows]}), tmp_path / "long.parquet")
    for name in ("long.csv", "long.parquet"):
        prices = prices_summary(tmp_path / ("out-" + name), topo, tmp_path / name)
        assert (prices["file_rows"], prices["not_in_allowlist"], prices["ticks"]) == (4 * N, N, 3 * N), name


def test_many_symbols_do_not_take_memory_growing_with_pairs_times_2048_slots(tmp_path: Path):
    """150 symbols (11,175 pairs), 1,200 one-minute slots with 2 % gaps: the pairs' rolling sums of a chunk are
    bounded (chunk_slots), peak RSS under 1,100 MB (was 1,762 MB with every slot in one chunk; 200 symbols x 3,000
    slots took 5.1 GB, 500 symbols would not fit the machine)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    k, slots = 150, 1200
    syms = [f"S{i:03d}USDT" for i in range(k)]
    topo = tmp_path / "many.yaml"
    topo.write_text(
        f"name: many\nsymbols: [{', '.join(syms)}]\n"
        "clusters: {cadence_s: 60, lookback_returns: 360, min_returns: 10, corr_threshold: 0.6}\n"
        "actors:\n  price_feed:\n    metrics_port: 19381\n    sockets:\n      ticks: {bind: \"tcp://127.0.0.1:15751\"}\n"
        "  book:\n    metrics_port: 19382\n    sockets:\n      ticks: {connect: \"tcp://127.0.0.1:15751\"}\n"
        f"    settings:\n      positions: {{{', '.join(f'{s}: 1.0' for s in syms[:10])}}}\n")
    rng = np.random.default_rng(0)
    common = rng.normal(0, 1e-3, slots)
    cols = {"ts": T0 + 60.0 * np.arange(slots)}
    for s in syms:
        p = 100 * np.exp(np.cumsum(common + rng.normal(0, 1e-3, slots)))
        p[rng.random(slots) < 0.02] = np.nan
        cols[s] = p
    pq.write_table(pa.table(cols), tmp_path / "p.parquet")
    (tmp_path / "none.csv").write_text("ts,plan_id,symbol,action_proposed,kill_score\n")
    code = ("import resource, sys\nfrom launcher import backtest\nrc = backtest.main(sys.argv[1:])\n"
            "print(rc, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(topo), "--prices", str(tmp_path / "p.parquet"),
                           "--proposals", str(tmp_path / "none.csv"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=REPO, timeout=300,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    rc, peak_mb = proc.stdout.split()[-2:]
    assert rc == "0", proc.stderr[-800:]
    assert int(peak_mb) < 1100, peak_mb


@pytest.mark.parametrize("name", ["dir.csv", "dir.parquet"])
def test_a_prices_path_that_is_a_directory_is_named_as_one_not_as_missing(tmp_path: Path, topo: Path, name):
    """One line, exit 2, saying it is a directory (was 'no such file', for a path that exists), as --positions
    and --proposals say it."""
    (tmp_path / name).mkdir()
    proc = run_cli(topo, "--prices", tmp_path / name, "--out", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr[-800:]
    assert proc.stderr.strip().splitlines() == [
        f"clustergate backtest: {tmp_path / name}: is a directory, not a prices file (--prices)"], proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_parquet_ts_column_of_32_bit_floats_is_refused_not_rounded_to_128_s(tmp_path: Path, topo: Path):
    """float32 epochs of today are multiples of 128 s: 200 one-second rows read as 3 distinct times (257 slots,
    on the proxy all the time) with exit 0; now one line naming the column, exit 2, nothing written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ts = np.repeat(T0 + np.arange(N, dtype=np.float64), 3)
    path = tmp_path / "f32.parquet"
    pq.write_table(pa.table({"ts": pa.array(ts.astype(np.float32)), "symbol": SYMBOLS * N,
                             "price": np.tile([60000.0, 3000.0, 150.0], N)}), path)
    proc = run_cli(topo, "--prices", path, "--out", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr[-800:]
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert str(path) in proc.stderr and "'ts' holds 32-bit floats" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()



def test_the_grid_of_proposals_is_made_as_it_is_decided_not_held_whole(tmp_path: Path, topo: Path, monkeypatch):
    """--proposal-every 1 without --proposals: the grid was built as a list before the first decision, about 330
    bytes a proposal for the whole run (revbt: 400,000 one-second slots of 3 symbols, 1.2 M proposals, decision_ttl_s
    600, peak RSS 688 MB against 282 MB now, the same decisions.csv byte for byte; at the 40 M symbol-slot limit,
    about 13 GB). Now it is made as it is decided, a chunk of np.arange's times at a time."""
    import math
    import tracemalloc

    import launcher.backtest as bt

    for first, last, every in ((1_700_000_000.5, 1_700_003_600.0, 60.0), (13.0, 14.0, 0.1), (7.0, 7.0, 1.0)):
        start = math.ceil(first / every) * every
        assert [r.ts for r in bt.grid_proposals(["A"], first, last, every, 0.9)] == np.arange(start, last, every).tolist()
    prices = tmp_path / "prices.csv"
    with open(prices, "w") as fh:
        fh.write("ts," + ",".join(SYMBOLS) + "\n")
        for j, row in enumerate(price_paths(20_000).T):
            fh.write(f"{T0 + 60 * j}," + ",".join(f"{x:.4f}" for x in row) + "\n")
    settings = bt.apply_settings(bt.settings_from_topology(str(topo)), {"decision_ttl_s": 60, "hold_decision_ttl_s": 60})
    read = bt.read_prices(str(prices), settings.symbols)
    monkeypatch.setattr(bt, "DECIDE_CHUNK", 1024)  # the proposals read ahead: 60,000 would fit in one chunk
    peaks = {}
    for every in (1, 10 ** 9):
        tracemalloc.start()
        try:
            run = bt.run_backtest(settings, read, None, None, proposal_every=every, decision_sink=lambda d: None,
                                  cluster_sink=lambda *a: None)
            _, peaks[every] = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert run.tally.decisions == (59_997 if every == 1 else 0)  # 3 symbols x 19,999 slots
    assert peaks[1] - peaks[10 ** 9] < 4 << 20, {e: f"{p / 2 ** 20:.1f} MB" for e, p in peaks.items()}
