"""Hostile review of clustergate backtest (rev-backtest): the positions file against the live gate's
snapshot rule, and the summary's figures adding up."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.test_backtest import T0, backtest, price_paths, read_csv, topo, write_long_csv  # noqa: F401 (fixture)
from tests.test_backtest_attack import run_cli


def run_with_positions(tmp_path: Path, topo: Path, positions: str, proposals: str, *extra: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    write_long_csv(tmp_path / "p.csv", price_paths(200), step_s=60)
    (tmp_path / "pos.csv").write_text("ts,symbol,position_amt,mark_price\n" + positions)
    (tmp_path / "props.csv").write_text("ts,plan_id,symbol,action_proposed,kill_score\n" + proposals)
    out = tmp_path / "out"
    assert backtest(topo, "--prices", tmp_path / "p.csv", "--positions", tmp_path / "pos.csv",
                    "--proposals", tmp_path / "props.csv", "--out", out, *extra) == 0
    return out


BOOK_AT = "".join(f"{{t}},{s},{amt},{mark}\n" for s, amt, mark in
                  (("BTCUSDT", 0.5, 60000), ("ETHUSDT", 8, 3000), ("SOLUSDT", -40, 150)))


def test_a_positions_row_older_than_stale_after_s_is_not_held_as_the_gate_judges_a_snapshot(tmp_path: Path,
                                                                                          topo: Path):
    """A row is a snapshot stamped ts: live, the gate counts it for stale_after_s (300 s) and then fails
    closed until a newer one; --set stale_after_s moves that edge as it does live."""
    positions = BOOK_AT.format(t=T0 + 6000)
    proposals = (f"{T0 + 6000 + 300},fresh,BTCUSDT,PARTIAL_50,0\n"
                 f"{T0 + 6000 + 301},stale,ETHUSDT,PARTIAL_50,0\n")
    d = read_csv(run_with_positions(tmp_path / "a", topo, positions, proposals) / "decisions.csv")
    assert d[0]["gate_reason"] != "fail_closed_portfolio_state"
    assert (d[1]["final_action"], d[1]["gate_reason"]) == ("HOLD", "fail_closed_portfolio_state")
    longer = read_csv(run_with_positions(tmp_path / "b", topo, positions, proposals, "--set", "stale_after_s=600")
                      / "decisions.csv")
    assert longer[1]["gate_reason"] != "fail_closed_portfolio_state"


def test_the_summary_counts_slots_without_a_fresh_position_as_fail_closed_not_cold(tmp_path: Path, topo: Path):
    """Before the first positions row the gate holds every proposal (fail closed): that time is not
    cold, and cold + risk-off + in between + fail closed is the whole history."""
    out = run_with_positions(tmp_path, topo, BOOK_AT.format(t=T0 + 6000), f"{T0 + 100},p1,BTCUSDT,PARTIAL_50,0\n",
                             "--set", "stale_after_s=86400")
    summary = json.loads((out / "summary.json").read_text())
    with open(out / "states.csv", newline="") as fh:
        states = list(csv.DictReader(fh))
    closed = [r for r in states if r["fail_closed"] == "1"]
    assert len(closed) == 100  # slots 0 .. 99 publish before T0 + 6000
    cadence = summary["cadence_s"]
    assert summary["time_fail_closed_s"] == len(closed) * cadence
    cold = sum(1 for r in states if r["fail_closed"] == "0" and float(r["stress"]) < summary["settings"]["cold_stress"])
    assert summary["time_cold_s"] == cold * cadence
    between = sum(1 for r in states if r["fail_closed"] == "0" and
                  summary["settings"]["cold_stress"] <= float(r["stress"]) < summary["settings"]["riskoff_stress"])
    assert (summary["time_cold_s"] + summary["time_riskoff_s"] + between * cadence + summary["time_fail_closed_s"]
            == summary["slots"] * cadence)
    assert summary["share_fail_closed"] == len(closed) / len(states)


def test_summary_counts_add_up_to_the_decisions(tmp_path: Path, topo: Path):
    """decisions = decided (by_final_action) + refused + replayed; by_reason covers decided and refused."""
    proposals = (f"{T0 + 6100},a,BTCUSDT,PARTIAL_50,0\n{T0 + 6110},a,BTCUSDT,PARTIAL_50,0\n"
                 f"{T0 + 6120},a,BTCUSDT,PARTIAL_25,0\n{T0 + 6130},b,ETHUSDT,BOGUS,0\n{T0 + 6140},c,XRPUSDT,HOLD,0\n")
    out = run_with_positions(tmp_path, topo, BOOK_AT.format(t=T0 + 6000), proposals)
    s = json.loads((out / "summary.json").read_text())
    assert (s["decisions"], s["replayed"], s["refused"]) == (5, 1, 2)
    assert sum(s["by_final_action"].values()) + s["refused"] + s["replayed"] == s["decisions"]
    assert sum(s["by_reason"].values()) + s["replayed"] == s["decisions"]


@pytest.mark.parametrize("columns, named", [
    ({"ts": [T0, T0 + 1], "BTCUSDT": ["abc", "1.0"], "ETHUSDT": [2.0, 3.0]}, "'BTCUSDT'"),
    ({"ts": [T0, T0 + 1], "symbol": ["BTCUSDT", "ETHUSDT"], "price": ["x", "3"]}, "'price'"),
    ({"ts": [T0, T0 + 1], "symbol": ["BTCUSDT", "ETHUSDT"], "price": [[1.0], [2.0]]}, "'price'"),
    ({"ts": [T0, T0 + 1], "BTCUSDT": [True, False]}, "'BTCUSDT'"),
    ({"ts": [True, False], "BTCUSDT": [1.0, 2.0]}, "'ts'"),
], ids=["wide text prices", "long text prices", "long list prices", "wide bool prices", "bool times"])
def test_a_parquet_column_that_is_not_numbers_is_refused_naming_it(tmp_path: Path, topo: Path, columns, named):
    """Exit 2, one line naming the file and column, nothing written (was a ValueError traceback, exit 1, or
    booleans read as prices 1 and 0)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "prices.parquet"
    pq.write_table(pa.table(columns), path)
    proc = run_cli(topo, "--prices", path, "--out", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr[-800:]
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-800:]
    assert str(path) in proc.stderr and named in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option", ["--positions", "--proposals"])
def test_a_positions_or_proposals_file_that_is_not_utf8_is_refused_naming_it(tmp_path: Path, topo: Path, option):
    """A UTF-16 export (or any bytes that are not UTF-8) gets one line naming the file, exit 2 (was a
    UnicodeDecodeError traceback, exit 1)."""
    prices = write_long_csv(tmp_path / "p.csv", price_paths(50))
    header = "ts,symbol,position_amt,mark_price" if option == "--positions" else "ts,plan_id,symbol,action_proposed,kill_score"
    path = tmp_path / "utf16.csv"
    path.write_bytes(f"{header}\n".encode("utf-16"))
    proc = run_cli(topo, "--prices", prices, option, path, "--out", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr[-800:]
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-800:]
    assert str(path) in proc.stderr and "UTF-8" in proc.stderr and option in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("out", ["a-file", "a-file/results"])
def test_an_out_path_that_cannot_be_a_directory_is_refused_before_the_run(tmp_path: Path, topo: Path, out):
    """--out naming a file, or a path under a file: one line naming it, exit 2, the file untouched (was a
    FileExistsError or NotADirectoryError traceback once the run was done)."""
    prices = write_long_csv(tmp_path / "p.csv", price_paths(50))
    (tmp_path / "a-file").write_text("keep me\n")
    proc = run_cli(topo, "--prices", prices, "--out", tmp_path / out)
    assert proc.returncode == 2, proc.stderr[-800:]
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-800:]
    assert "--out" in proc.stderr and "a-file" in proc.stderr, proc.stderr
    assert (tmp_path / "a-file").read_text() == "keep me\n"


@pytest.mark.parametrize("option", ["--prices", "--positions", "--proposals"])
def test_a_csv_field_longer_than_the_csv_modules_limit_is_refused_naming_the_file(tmp_path: Path, topo: Path, option):
    """A cell over 128 KiB (a stray unquoted blob, a broken export): one line naming the file, exit 2 (was a
    _csv.Error traceback, exit 1)."""
    prices = write_long_csv(tmp_path / "p.csv", price_paths(50))
    header = {"--prices": "ts,symbol,price", "--positions": "ts,symbol,position_amt,mark_price",
              "--proposals": "ts,plan_id,symbol,action_proposed,kill_score"}[option]
    path = tmp_path / "blob.csv"
    path.write_text(f"{header}\n{T0},{'x' * 200_000},1,2,3\n")
    argv = ["--prices", path] if option == "--prices" else ["--prices", prices, option, path]
    proc = run_cli(topo, *argv, "--out", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr[-800:]
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-800:]
    assert str(path) in proc.stderr and "field larger than field limit" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_the_summary_times_and_shares_of_a_hand_made_run():
    """summarise on four slots whose every figure is known: cold is stress < cold_stress (0.55 itself is not),
    risk-off stress >= riskoff_stress, fail closed without a fresh position; on the proxy is every slot whose K came
    from the proxy (the cluster side's health, fail closed or not); corr ready the correlator's readiness, not the
    book's; first_ts the start of the first slot (a cadence before its publish time)."""
    from dataclasses import replace

    import numpy as np

    from launcher.backtest import Run, settings_from_topology, summarise
    base = settings_from_topology(str(Path(__file__).resolve().parent.parent / "configs" / "demo.yaml"))
    settings = replace(base, clusters=replace(base.clusters, cadence_s=60.0))
    slots = np.array([10, 11, 12, 13])
    k = len(settings.symbols)
    run = Run(settings=settings, slots=slots, publish_ts=(slots + 1) * 60.0, ready=np.array([True, False, False, True]),
              reason=[None, "too_few_symbols", "too_few_symbols", None], symbols_in_matrix=np.array([3, 0, 0, 3]),
              cluster_stress=np.array([0.5, np.nan, np.nan, 0.5]), clusters=[], vol=np.full((4, k), np.nan),
              in_matrix=np.zeros((4, k), dtype=bool), signed=np.zeros((4, k)),
              gate_rows={"stress": np.array([0.55, 0.3, 0.8, 0.5]), "state_ok": np.array([True, True, True, False]),
                         "k_source": np.array(["cluster", "proxy", "proxy", "proxy"])},
              decisions=[], prices_info={})
    s = summarise(run, {})
    assert (s["first_ts"], s["last_ts"], s["slots"]) == (600.0, 840.0, 4)
    assert (s["time_cold_s"], s["time_riskoff_s"], s["time_fail_closed_s"], s["time_on_proxy_s"]) == (60, 60, 60, 180)
    assert (s["share_cold"], s["share_riskoff"], s["share_fail_closed"]) == (0.25, 0.25, 0.25)
    assert (s["share_on_proxy"], s["share_corr_ready"]) == (0.75, 0.5)


def test_a_proposal_after_the_last_price_takes_k_from_the_states_the_held_prices_still_make(tmp_path: Path,
                                                                                         topo: Path):
    """The pure half of test_backtest_parity.py's test of the live states after the last tick: prices every 60 s
    stop; states go on, ready, while every price is at most max_price_age_s (300 s) old (4 slots here), the next
    one is not ready (prices_stale), and a proposal 3.5 cadences after the last state of the file's span takes K
    from the cluster, as live (it was on the proxy)."""
    write_long_csv(tmp_path / "p.csv", price_paths(200), step_s=60)
    (tmp_path / "pos.csv").write_text("ts,symbol,position_amt,mark_price\n" + BOOK_AT.format(t=T0 + 199 * 60))
    last_slot = (T0 + 199 * 60 + 2) // 60
    late = (last_slot + 1) * 60 + 3.5 * 60
    (tmp_path / "props.csv").write_text(f"ts,plan_id,symbol,action_proposed,kill_score\n{late},late,BTCUSDT,PARTIAL_25,0\n")
    out = tmp_path / "out"
    assert backtest(topo, "--prices", tmp_path / "p.csv", "--positions", tmp_path / "pos.csv",
                    "--proposals", tmp_path / "props.csv", "--out", out) == 0
    states = {int(r["slot"]) - last_slot: r for r in read_csv(out / "states.csv")}
    assert [states[d]["corr_ready"] for d in (1, 2, 3, 4, 5)] == ["1", "1", "1", "1", "0"], states.get(5)
    assert states[5]["reason"] == "prices_stale" and max(states) == 5
    decision = read_csv(out / "decisions.csv")[0]
    assert decision["k_source"] == "cluster", decision
    assert float(decision["K"]) == pytest.approx(float(states[3]["cluster_stress"]), abs=1e-6), decision


def test_the_printed_line_accounts_for_every_decision_refused_and_replayed_included(tmp_path: Path, topo: Path,
                                                                                   capsys):
    """The line the command prints named the final actions alone: '5 decisions (HOLD 1, PARTIAL_75 1)' for a
    run with a replay, two refused proposals and a HOLD; the operator could not tell where the rest went. The
    counts in parentheses now add up to the decisions, as summary.json's do."""
    import re

    proposals = (f"{T0 + 6100},a,BTCUSDT,PARTIAL_50,0\n{T0 + 6110},a,BTCUSDT,PARTIAL_50,0\n"
                 f"{T0 + 6120},a,BTCUSDT,PARTIAL_25,0\n{T0 + 6130},b,ETHUSDT,BOGUS,0\n{T0 + 6140},c,XRPUSDT,HOLD,0\n")
    capsys.readouterr()
    run_with_positions(tmp_path, topo, BOOK_AT.format(t=T0 + 6000), proposals)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    m = re.search(r"(\d+) decisions \(([^)]*)\)", line)
    assert m, line
    counts = {name: int(n) for name, n in (part.rsplit(" ", 1) for part in m.group(2).split(", "))}
    assert sum(counts.values()) == int(m.group(1)) == 5, line
    assert (counts.get("refused"), counts.get("replayed")) == (2, 1), line


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_prices_file_naming_a_column_twice_is_refused_naming_it(tmp_path: Path, topo: Path, fmt):
    """A wide file with BTCUSDT twice (a bad join of two exports) was read as one series interleaving both columns:
    every other price refused as a jump, the rest kept, exit 0. Now exit 2, one line naming the file and column."""
    path = tmp_path / f"dup.{fmt}"
    rows = [(T0 + 60 * j, 60000.0 + j, 3000.0 + j) for j in range(30)]
    if fmt == "csv":
        path.write_text("ts,BTCUSDT,ETHUSDT,BTCUSDT\n" + "".join(f"{t},{a},{b},{a / 2}\n" for t, a, b in rows))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq
        pq.write_table(pa.Table.from_arrays([pa.array([r[0] for r in rows]), pa.array([r[1] for r in rows]),
                                             pa.array([r[2] for r in rows]), pa.array([r[1] / 2 for r in rows])],
                                            names=["ts", "BTCUSDT", "ETHUSDT", "BTCUSDT"]), path)
    proc = run_cli(topo, "--prices", path, "--out", tmp_path / "out")
    assert proc.returncode == 2, (proc.stdout, proc.stderr[-800:])
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-800:]
    assert str(path) in proc.stderr and "BTCUSDT" in proc.stderr and "twice" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_positions_file_is_held_in_about_its_arrays_size_not_an_object_per_row(tmp_path: Path):
    """read_positions kept three Python lists (a float object per ts and notional) until the end: about 90 bytes a
    row at its peak, 2.1 M rows (a snapshot of 3 symbols every 25 ms for 5 h, 66 MB of CSV) took 185 MB over the
    run without it. The rows now go into typed arrays as read: the peak is the arrays (24 bytes a row) and little
    more. tracemalloc's peak per row, so no wall clock."""
    import tracemalloc

    from launcher.backtest import read_positions

    n = 120_000
    path = tmp_path / "pos.csv"
    with open(path, "w") as fh:
        fh.write("ts,symbol,position_amt,mark_price\n")
        for j in range(n // 3):
            for s, amt, mark in (("BTCUSDT", 0.5, 60000), ("ETHUSDT", 8, 3000), ("SOLUSDT", -40, 150)):
                fh.write(f"{T0 + j * 0.025:.3f},{s},{amt},{mark}\n")
    tracemalloc.start()
    try:
        rows = read_positions(str(path), ["BTCUSDT", "ETHUSDT", "SOLUSDT"], 300.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(rows.ts) == n and rows.value[2] == -6000.0 and rows.sym[1] == 1
    assert peak / n < 56, f"{peak / n:.0f} bytes a row at the peak"
