"""clustergate backtest: the batch maths equal the live functions, the outputs, no look-ahead,
cooldowns and plan_id rules, sweeps, and bad input (one line, exit 2, nothing written)."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from actors.clustering import batch_cluster_metrics, cluster_labels, cluster_metrics
from actors.correlation import correlate_window, returns_on_grid, rolling_windows
from actors.policy import Position, batch_portfolio, portfolio_metrics
from launcher import backtest as bt
from launcher.topology import GateSettings

REPO = Path(__file__).resolve().parent.parent
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
T0 = 1_700_000_000

TOPOLOGY = """name: bt
symbols: [BTCUSDT, ETHUSDT, SOLUSDT]
clusters: {cadence_s: 60, lookback_returns: 20, min_returns: 10, corr_threshold: 0.6}
actors:
  price_feed:
    metrics_port: 19381
    sockets:
      ticks: {bind: "tcp://127.0.0.1:15751"}
  book:
    metrics_port: 19382
    sockets:
      ticks: {connect: "tcp://127.0.0.1:15751"}
    settings:
      positions: {BTCUSDT: 0.5, ETHUSDT: 8.0, SOLUSDT: -40.0}
"""


def price_paths(n: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(3, n)) * 0.003
    z[1] += z[0]
    z[2] += 0.3 * z[0]
    return np.array([60000.0, 3000.0, 150.0])[:, None] * np.exp(np.cumsum(z, axis=1))


def write_long_csv(path: Path, prices: np.ndarray, step_s: int = 20) -> Path:
    with open(path, "w") as fh:
        fh.write("ts,symbol,price\n")
        for j in range(prices.shape[1]):
            for i, s in enumerate(SYMBOLS):
                fh.write(f"{T0 + j * step_s + i},{s},{float(prices[i, j])!r}\n")
    return path


@pytest.fixture
def topo(tmp_path: Path) -> Path:
    p = tmp_path / "topology.yaml"
    p.write_text(TOPOLOGY)
    return p


def backtest(*argv: str) -> int:
    return bt.main([*map(str, argv)])


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- batch maths = live functions


@pytest.mark.parametrize("gaps", [True, False], ids=["with gaps", "no gaps"])
def test_rolling_windows_equal_the_live_correlator_window_by_window_with_gaps_flat_rows_and_late_symbols(gaps):
    rng = np.random.default_rng(1)
    k, n_slots, lookback = 6, 260, 40
    z = rng.normal(size=(k, n_slots)) * 0.01
    z[1] += z[0]
    z[2] = 0.001 + rng.normal(size=n_slots) * 5e-11  # below RETURN_SD_FLOOR: rounding noise, no information
    prices = 100 * np.exp(np.cumsum(z, axis=1))
    if gaps:
        prices[3, rng.random(n_slots) < 0.2] = np.nan
        prices[4, :150] = np.nan
    returns = returns_on_grid(prices)
    # chunks as the backtest makes them, one starting before any full window
    parts = [rolling_windows(returns, lookback, 10, 60.0, lo, hi) for lo, hi in ((0, 30), (30, 200), (200, n_slots))]
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    symbols = [f"S{i}" for i in range(k)]
    worst = 0.0
    for s in range(n_slots):
        window = np.full((k, lookback + 1), np.nan)
        first = s - lookback
        window[:, max(0, -first):] = prices[:, max(first, 0):s + 1]
        live = correlate_window(symbols, window, cadence_s=60.0, min_returns=10)
        inside = out["in_matrix"][s]
        assert [symbols[i] for i in np.flatnonzero(inside)] == live["symbols"], s
        if live["symbols"]:
            worst = max(worst, float(np.abs(out["corr"][s][np.ix_(inside, inside)] - live["matrix"]).max()))
        vol = {symbols[i]: v for i, v in enumerate(out["vol"][s]) if inside[i] and math.isfinite(v) and v > 0}
        assert vol.keys() == live["realized_vol"].keys(), s
        for sym, v in vol.items():
            worst = max(worst, abs(v - live["realized_vol"][sym]) / v)
    assert worst < 1e-12


def test_batch_cluster_metrics_equal_the_live_clusterer_slot_by_slot():
    rng = np.random.default_rng(2)
    k, n_slots = 8, 240
    z = rng.normal(size=(k, n_slots)) * 0.01
    z[1] += z[0]
    z[2] += 0.5 * z[0]
    z[5] += z[4]
    prices = 100 * np.exp(np.cumsum(z, axis=1))
    prices[3, :150] = np.nan
    symbols = [f"S{i}" for i in range(k)]
    w = rolling_windows(returns_on_grid(prices), 40, 10, 60.0, 0, n_slots)
    signed = rng.normal(size=(n_slots, k)) * 1000
    signed[:, 6] = 0.0
    batch = batch_cluster_metrics(symbols, w["pairs"], w["in_matrix"], signed, 0.5)
    for s in range(n_slots):
        idx = np.flatnonzero(w["in_matrix"][s])
        sub = w["corr"][s][np.ix_(idx, idx)]
        clusters, total = cluster_metrics([symbols[i] for i in idx], sub, cluster_labels(sub, 0.5),
                                          {symbols[i]: signed[s, i] for i in range(k) if signed[s, i] != 0})
        assert batch.cluster_stress[s] == pytest.approx(total, abs=1e-12)
        mine = {batch.members[batch.pattern[s]][c][1]: c for c in range(k) if batch.n_held[s, c] > 0}
        assert set(mine) == {c.id for c in clusters}, s
        for c in clusters:
            got = mine[c.id]
            assert (batch.weight[s, got], batch.concentration[s, got], batch.correlation[s, got],
                    batch.stress[s, got]) == pytest.approx((c.weight, c.concentration, c.correlation, c.stress),
                                                           abs=1e-12)


def test_batch_portfolio_equals_the_gates_portfolio_metrics():
    rng = np.random.default_rng(3)
    gate = GateSettings()
    signed = rng.normal(size=(200, 4)) * 1000
    signed[rng.random(signed.shape) < 0.3] = np.nan
    signed[5] = np.nan
    k_value = np.where(rng.random(200) < 0.5, rng.random(200), np.nan)
    sigmas = rng.uniform(0.05, 0.6, size=signed.shape)
    out = batch_portfolio(signed, k_value, sigmas, gate)
    for b in range(200):
        positions = [Position(f"S{i}", float(signed[b, i])) for i in range(4) if math.isfinite(signed[b, i])]
        m = portfolio_metrics(positions, None if math.isnan(k_value[b]) else float(k_value[b]), gate,
                              {f"S{i}": float(sigmas[b, i]) for i in range(4)})
        assert (out["heat"][b], out["concentration"][b], out["corr_proxy"][b], out["K"][b], out["stress"][b]) == \
            pytest.approx((m.heat, m.concentration, m.corr_proxy, m.k, m.stress), abs=1e-12)


# --------------------------------------------------------------------------- the command


def test_backtest_writes_every_output_and_a_second_run_writes_the_same_bytes(tmp_path: Path, topo: Path):
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(900))
    for out in ("a", "b"):
        assert backtest(topo, "--prices", prices, "--out", tmp_path / out, "--proposal-every", "5") == 0
    for name in ("states.csv", "clusters.csv", "decisions.csv", "summary.json", "report.png", "report.html"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    states = read_csv(tmp_path / "a" / "states.csv")
    # 301 slots of prices, then the 5 (max_price_age_s / cadence_s) the live correlator publishes on the held prices
    assert len(states) == 306 and {"corr_ready", "cluster_stress", "K", "k_source", "stress", "heat",
                                   "concentration", "corr_proxy", "clusters_count"} <= set(states[0])
    assert any(r["corr_ready"] == "1" for r in states) and states[0]["corr_ready"] == "0"
    clusters = read_csv(tmp_path / "a" / "clusters.csv")
    assert clusters and {"id", "members", "weight", "concentration", "correlation", "stress"} <= set(clusters[0])
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    decisions = read_csv(tmp_path / "a" / "decisions.csv")
    assert summary["decisions"] == len(decisions) > 0
    assert sum(summary["by_final_action"].values()) == len(decisions)
    assert summary["inputs"]["prices"] and summary["settings"]["corr_threshold"] == 0.6
    assert summary["time_cold_s"] + summary["time_riskoff_s"] <= summary["slots"] * 60
    html = (tmp_path / "a" / "report.html").read_text()
    assert "data:image/png;base64," in html and "http" not in html.replace("http-equiv", "")


def test_parquet_wide_and_csv_long_give_the_same_states(tmp_path: Path, topo: Path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    p = price_paths(400)
    write_long_csv(tmp_path / "prices.csv", p, step_s=60)
    ts = np.array([T0 + j * 60 for j in range(p.shape[1])])
    # the CSV staggers the symbols by 0-2 s inside a slot; the slot and its price are the same
    pq.write_table(pa.table({"ts": ts, **{s: p[i] for i, s in enumerate(SYMBOLS)}}), tmp_path / "prices.parquet")
    assert backtest(topo, "--prices", tmp_path / "prices.csv", "--out", tmp_path / "csv") == 0
    assert backtest(topo, "--prices", tmp_path / "prices.parquet", "--out", tmp_path / "pq") == 0
    a, b = read_csv(tmp_path / "csv" / "states.csv"), read_csv(tmp_path / "pq" / "states.csv")
    assert [(r["slot"], r["corr_ready"], r["cluster_stress"]) for r in a] == \
        [(r["slot"], r["corr_ready"], r["cluster_stress"]) for r in b]


def decisions_for(tmp_path: Path, topo: Path, name: str, prices: np.ndarray, proposals: str,
                  *extra: str) -> list[dict[str, str]]:
    write_long_csv(tmp_path / f"{name}.csv", prices, step_s=60)
    (tmp_path / f"{name}-proposals.csv").write_text("ts,plan_id,symbol,action_proposed,kill_score\n" + proposals)
    assert backtest(topo, "--prices", tmp_path / f"{name}.csv", "--proposals", tmp_path / f"{name}-proposals.csv",
                    "--out", tmp_path / name, *extra) == 0
    return read_csv(tmp_path / name / "decisions.csv")


def test_a_decision_never_sees_a_price_from_its_own_slot(tmp_path: Path, topo: Path):
    """Two histories equal up to slot 100 and different from it on: a proposal inside slot 100 gets
    the same decision from both (it is decided on the state published at the end of slot 99)."""
    calm = price_paths(200)
    shaken = calm.copy()
    shaken[1, 100:] *= np.exp(np.cumsum(np.where(np.arange(100) % 2, 0.2, -0.2)))  # ETH alone swings
    t = T0 + 100 * 60 + 30  # inside slot 100 (the CSV's slot 0 starts at T0)
    rows = f"{t},p1,BTCUSDT,PARTIAL_25,0.1\n"
    a = decisions_for(tmp_path, topo, "calm", calm, rows)
    b = decisions_for(tmp_path, topo, "shaken", shaken, rows)
    later = f"{T0 + 102 * 60 + 30},p2,BTCUSDT,PARTIAL_25,0.1\n"
    c = decisions_for(tmp_path, topo, "calm2", calm, later)
    d = decisions_for(tmp_path, topo, "shaken2", shaken, later)
    assert c[0]["K"] != d[0]["K"]  # the swing does move the cluster state, once it is in the past
    assert a[0]["K"] == b[0]["K"] and a[0]["stress"] == b[0]["stress"] and a[0]["k_source"] == "cluster"


def test_a_second_proposal_within_the_cooldown_is_stepped_down_and_one_after_it_is_not(tmp_path: Path, topo: Path):
    """cooldown_ttl_s 60: each permitted decision (re)sets its symbol's cooldown, as the issuer's SET EX."""
    rows = "".join(f"{T0 + 6000 + dt},p{n},BTCUSDT,PARTIAL_50,0.1\n" for n, dt in enumerate((0, 30, 91)))
    d = decisions_for(tmp_path, topo, "cool", price_paths(200), rows, "--set", "riskoff_stress=1.0")
    assert [r["cooldown"] for r in d] == ["False", "True", "False"]
    assert [(r["final_action"], r["gate_reason"]) for r in d] == [
        ("PARTIAL_50", "pass"), ("PARTIAL_25", "cooldown_downgrade"), ("PARTIAL_50", "pass")]


def proposal_rows(*rows: tuple[float, str, str]) -> list[bt.ProposalRow]:
    return [bt.ProposalRow(t, {"plan_id": f"p{n}", "symbol": symbol, "action_proposed": action, "kill_score": 0.1}, n)
            for n, (t, symbol, action) in enumerate(rows)]


def test_a_cooldown_ends_exactly_cooldown_ttl_s_after_the_permit_that_set_it(topo: Path):
    """The issuer's cooldown is SET EX cooldown_ttl_s (60): Redis has dropped the key 60 s after the permit, and the
    gate holds a cooldown while now < its expiry; a proposal exactly 60 s after the last permit is not cooled down
    in the backtest either (the CLI test above steps from 30 s to 91 s, past the edge)."""
    settings = bt.settings_from_topology(str(topo))
    t0 = T0 + 6000
    rows = proposal_rows((t0, "BTCUSDT", "PARTIAL_50"), (t0 + 30, "BTCUSDT", "PARTIAL_50"),
                         (t0 + 90, "BTCUSDT", "PARTIAL_50"))
    # BTCUSDT long and ETHUSDT short 1,000 each: stress 0.6 + 0.15 K, below risk-off
    hedged = bt.PositionRows(np.array([t0 - 10.0] * 2), np.array([0, 1]), np.array([1000.0, -1000.0]))
    d = bt.decide_all(settings, rows, 0, np.array([t0 - 5.0]), np.array([True]), np.array([0.3]),
                      np.zeros((1, 3)), np.zeros((1, 3), dtype=bool), hedged, None)
    assert [(r["final_action"], r["gate_reason"], r["cooldown"]) for r in d] == [
        ("PARTIAL_50", "pass", False), ("PARTIAL_25", "cooldown_downgrade", True), ("PARTIAL_50", "pass", False)]


def test_the_backtest_decides_with_the_realized_sigma_of_the_matrix_symbols_alone(topo: Path):
    """The live gate reads realized vol from the state writer's hash, which holds the matrix's symbols alone: a
    symbol warming up (a vol, but too few returns for the matrix) takes the constant sigma there, and must in the
    backtest's decisions too."""
    settings = bt.apply_settings(bt.settings_from_topology(str(topo)), {"sigma_source": "realized"})
    t = T0 + 6000
    book = bt.PositionRows(np.array([t - 10.0] * 2), np.array([0, 1]), np.array([1000.0, 1000.0]))
    (d,) = bt.decide_all(settings, proposal_rows((t, "BTCUSDT", "HOLD")), 0, np.array([t - 5.0]), np.array([True]),
                         np.array([0.3]), np.full((1, 3), 0.2), np.array([[False, True, True]]), book, None)
    live = portfolio_metrics([Position("BTCUSDT", 1000.0), Position("ETHUSDT", 1000.0)], 0.3, settings.gate,
                             {"ETHUSDT": 0.2, "SOLUSDT": 0.2})
    # BTCUSDT at the constant 1.0: sigma 0.6, heat 1; with its out-of-matrix vol taken, 0.2: heat 0.5
    assert (d["sigma_source"], d["sigma_fallback_symbols"], d["heat"]) == ("realized", ["BTCUSDT"], live.heat) \
        and live.heat == 1.0


def test_a_resubmitted_plan_id_replays_its_decision_and_other_values_conflict(tmp_path: Path, topo: Path):
    # The issuer's identity of a proposal is its symbol, action and kill_score: another value of any is a conflict.
    rows = (f"{T0 + 6000},same,BTCUSDT,PARTIAL_50,0.1\n{T0 + 6010},same,BTCUSDT,PARTIAL_50,0.1\n"
            f"{T0 + 6020},same,ETHUSDT,PARTIAL_50,0.1\n{T0 + 6030},same,BTCUSDT,PARTIAL_25,0.1\n"
            f"{T0 + 6040},same,BTCUSDT,PARTIAL_50,0.9\n")
    d = decisions_for(tmp_path, topo, "plan", price_paths(200), rows)
    assert d[1]["replayed"] == "True" and d[1]["final_action"] == d[0]["final_action"]
    for other in d[2:]:
        assert other["gate_reason"] == "plan_id_conflict" and other["final_action"] == "", other


def test_a_hold_is_kept_for_the_hold_decision_ttl_only_and_then_decided_afresh(tmp_path: Path, topo: Path):
    """As the issuer: a HOLD's plan_id is kept for hold_decision_ttl_s (600 s), a permitted one's for decision_ttl_s
    (a day). Other values for the HOLD's plan_id conflict at 300 s and are decided afresh at 700 s; the permitted
    plan_id's still conflict then."""
    rows = (f"{T0 + 6000},held,BTCUSDT,HOLD,0.1\n{T0 + 6000},permitted,ETHUSDT,PARTIAL_50,0.1\n"
            f"{T0 + 6300},held,BTCUSDT,PARTIAL_50,0.1\n"
            f"{T0 + 6700},held,BTCUSDT,PARTIAL_50,0.1\n{T0 + 6700},permitted,ETHUSDT,PARTIAL_25,0.1\n")
    d = decisions_for(tmp_path, topo, "holdttl", price_paths(200), rows)
    assert d[0]["final_action"] == "HOLD" and d[1]["final_action"] not in ("", "HOLD"), d[:2]
    assert d[2]["gate_reason"] == "plan_id_conflict", d[2]
    assert d[3]["gate_reason"] != "plan_id_conflict" and d[3]["final_action"] != "" and d[3]["replayed"] != "True", d[3]
    assert d[4]["gate_reason"] == "plan_id_conflict", d[4]


def test_a_permitted_plan_id_after_its_decision_ttl_is_refused_plan_id_expired_as_the_issuer_refuses_it(
        tmp_path: Path, topo: Path):
    """As the issuer's marker: a plan_id that got a permit, resubmitted after decision_ttl_s (here 3600 s) and within
    permitted_plan_ttl_s (here 7200 s), is refused plan_id_expired, no decision; after the marker too, decided anew.
    A HOLD's plan_id leaves no marker."""
    rows = (f"{T0 + 6000},permitted,ETHUSDT,PARTIAL_50,0.1\n{T0 + 6000},held,BTCUSDT,HOLD,0.1\n"
            f"{T0 + 10000},permitted,ETHUSDT,PARTIAL_50,0.1\n{T0 + 10000},held,BTCUSDT,HOLD,0.1\n"
            f"{T0 + 14000},permitted,ETHUSDT,PARTIAL_50,0.1\n")
    d = decisions_for(tmp_path, topo, "permitted", price_paths(300), rows, "--set", "decision_ttl_s=3600",
                      "--set", "hold_decision_ttl_s=600", "--set", "permitted_plan_ttl_s=7200")
    assert d[0]["final_action"] not in ("", "HOLD") and d[1]["final_action"] == "HOLD", d[:2]
    assert (d[2]["gate_reason"], d[2]["final_action"]) == ("plan_id_expired", ""), d[2]
    assert d[3]["final_action"] == "HOLD" and d[3]["replayed"] != "True", d[3]
    assert d[4]["final_action"] not in ("", "HOLD") and d[4]["replayed"] != "True", d[4]


def test_a_backtest_refuses_a_permitted_plan_ttl_shorter_than_the_decision_ttl(tmp_path: Path, topo: Path):
    import launcher.backtest as bt
    with pytest.raises(bt.InputError, match="permitted_plan_ttl_s 600 is shorter than decision_ttl_s 3600"):
        bt.apply_settings(bt.settings_from_topology(str(topo)), {"decision_ttl_s": 3600, "permitted_plan_ttl_s": 600})


def test_a_sweep_of_two_keys_writes_one_row_per_combination_and_a_heat_map(tmp_path: Path, topo: Path):
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(600))
    assert backtest(topo, "--prices", prices, "--out", tmp_path / "sw", "--proposal-every", "5",
                    "--sweep", "corr_threshold=0.5,0.9", "--sweep", "stress_riskoff=0.6,0.85,0.95") == 0
    rows = read_csv(tmp_path / "sw" / "sweep.csv")
    assert sorted((r["corr_threshold"], r["stress_riskoff"]) for r in rows) == sorted(
        (a, b) for a in ("0.5", "0.9") for b in ("0.6", "0.85", "0.95"))
    by = {r["stress_riskoff"]: int(r.get("reason_riskoff_accelerate") or 0) for r in rows if r["corr_threshold"] == "0.5"}
    assert by["0.6"] >= by["0.85"] >= by["0.95"]
    assert (tmp_path / "sw" / "sweep_heatmap.png").stat().st_size > 1000


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("case, extra, expected", [
    ("unknown settings key", ["--set", "corr_treshold=0.5"], "unknown settings key 'corr_treshold'"),
    ("sweep value out of range", ["--sweep", "corr_threshold=0.5,1.5"], "corr_threshold: 1.5 is out of range"),
    ("file that is not prices", ["--prices", "{topo}"], "line 1: header must start with ts"),
    ("timestamps out of order", ["--prices", "{unordered}"], "line 4: timestamp"),
])
def test_bad_input_gets_one_line_naming_it_exit_2_and_nothing_written(tmp_path: Path, topo: Path, case, extra, expected):
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(50))
    unordered = tmp_path / "unordered.csv"
    lines = prices.read_text().splitlines()
    lines[2], lines[3] = lines[3], lines[2]
    unordered.write_text("\n".join(lines) + "\n")
    argv = ["backtest", str(topo), "--prices", str(prices), "--out", str(tmp_path / "out")]
    argv += [a.format(topo=topo, unordered=unordered) for a in extra]
    proc = subprocess.run([sys.executable, "-m", "launcher", *argv], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 2, (case, proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1 and expected in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()
