"""Hostile review of clustergate backtest (bt): the price file's counts in summary.json, and its errors naming
the right row, for Parquet and CSV alike."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.test_backtest import SYMBOLS, T0, backtest, price_paths, topo  # noqa: F401 (fixture)
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
