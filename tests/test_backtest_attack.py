"""Hostile review of clustergate backtest (issue 13): bad input that crashed or destroyed results."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_backtest import REPO, T0, backtest, price_paths, topo, write_long_csv  # noqa: F401 (fixture)


def run_cli(*argv: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", "backtest", *map(str, argv)], capture_output=True,
                          text=True, cwd=REPO, timeout=120)


@pytest.mark.parametrize("stray, gap", [("99000000000", "9.73e+10 s"), ("1e300", "1e+291 s")])
def test_a_timestamp_far_from_the_others_is_refused_naming_the_file_not_a_memory_error(tmp_path: Path, topo: Path,
                                                                                        stray: str, gap: str):
    """The widest gap is printed to 3 significant figures: 1e300 (read as nanoseconds) printed all 292 digits."""
    prices = tmp_path / "gap.csv"
    prices.write_text(f"ts,symbol,price\n{T0},BTCUSDT,60000\n{T0 + 1},ETHUSDT,3000\n{stray},BTCUSDT,60001\n")
    proc = run_cli(topo, "--prices", prices, "--out", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr[-500:]
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-500:]
    assert str(prices) in proc.stderr and "slots" in proc.stderr, proc.stderr
    assert f"widest gap {gap} from" in proc.stderr and len(proc.stderr) < 600, proc.stderr[-700:]
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


@pytest.mark.parametrize("output", ["clusters.csv", "states.csv", "decisions.csv"])
def test_a_full_disk_while_writing_the_results_is_one_line_not_a_traceback(tmp_path: Path, topo: Path, output: str):
    """docs review: an output file the disk could not take (here a symlink to /dev/full, which refuses every write with
    ENOSPC) ended the backtest in an OSError traceback; now one line naming --out and the error, exit 1."""
    good = write_long_csv(tmp_path / "prices.csv", price_paths(100))
    out = tmp_path / "out"
    out.mkdir()
    (out / output).symlink_to("/dev/full")
    proc = run_cli(topo, "--prices", good, "--out", out)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-1500:]
    assert proc.stderr.startswith(f"clustergate backtest: cannot write the results in {out}: ") and \
        "No space left on device" in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr[-1500:]


def test_a_full_disk_part_way_leaves_no_mix_of_this_run_and_an_older_one_in_out(tmp_path: Path, topo: Path):
    """revdocs: a disk that filled while report.png was written left the new run's CSVs and summary.json beside the
    older run's report.html and a cut report.png: an out dir that passed for one whole run. The results are removed
    (the error says so), as no run's whole set is there."""
    import resource
    from launcher.backtest import SINGLE_OUTPUTS, SWEEP_OUTPUTS
    good = write_long_csv(tmp_path / "prices.csv", price_paths(300))
    out = tmp_path / "out"
    assert backtest(topo, "--prices", good, "--out", out) == 0
    assert (out / "report.html").exists() and (out / "report.png").stat().st_size > 30000

    def small_files() -> None:  # a file past 20 kB fails (EFBIG) as on a full disk: report.png here
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))

    proc = subprocess.run([sys.executable, "-m", "launcher", "backtest", str(topo), "--prices", str(good), "--out",
                           str(out)], capture_output=True, text=True, cwd=REPO, timeout=120, preexec_fn=small_files)
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1, proc.stderr[-1500:]
    assert proc.stderr.startswith(f"clustergate backtest: cannot write the results in {out}: "), proc.stderr
    assert "removed" in proc.stderr, proc.stderr
    assert [name for name in (*SINGLE_OUTPUTS, *SWEEP_OUTPUTS) if (out / name).exists()] == []


def test_an_os_error_before_anything_was_written_leaves_the_older_results_in_out(tmp_path: Path, topo: Path,
                                                                                  monkeypatch: pytest.MonkeyPatch):
    """revdocs: a sweep whose worker pool could not fork (EAGAIN) wrote nothing: the older run's results stay whole."""
    import errno
    import launcher.backtest as bt
    good = write_long_csv(tmp_path / "prices.csv", price_paths(100))
    out = tmp_path / "out"
    assert backtest(topo, "--prices", good, "--out", out) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def cannot_fork(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(bt, "run_sweep", cannot_fork)
    assert backtest(topo, "--prices", good, "--out", out, "--sweep", "corr_threshold=0.5,0.9") == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("option", ["--positions", "--proposals"])
def test_an_empty_positions_or_proposals_file_is_named_empty_with_its_option(tmp_path: Path, topo: Path, option: str):
    """docs review: an empty file (or /dev/null) was refused `header must be ts,..., got None`, naming no option."""
    good = write_long_csv(tmp_path / "prices.csv", price_paths(20))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    proc = run_cli(topo, "--prices", good, "--out", tmp_path / "out", option, empty)
    assert proc.returncode == 2, proc.stderr[-500:]
    assert proc.stderr.strip().endswith(f"got an empty file ({option})") and "None" not in proc.stderr, proc.stderr


def test_an_out_dir_never_mixes_a_sweep_with_an_older_single_run(tmp_path: Path, topo: Path):
    good = write_long_csv(tmp_path / "prices.csv", price_paths(100))
    out = tmp_path / "out"
    assert backtest(topo, "--prices", good, "--out", out) == 0
    assert backtest(topo, "--prices", good, "--out", out, "--sweep", "corr_threshold=0.5,0.9") == 0
    assert sorted(p.name for p in out.iterdir()) == ["sweep.csv", "sweep.json"]
    assert backtest(topo, "--prices", good, "--out", out) == 0
    assert "sweep.csv" not in {p.name for p in out.iterdir()}


@pytest.mark.parametrize("sol_amount, max_stale_held_weight, stops", [
    (-40.0, None, True),    # 10% of the book: the stuck feed of a real position stops the state
    (0.004, None, False),   # dust (about 1e-5 of the book): within the default 0.01, the state is written
    (0.004, 0.0, True),     # dust with max_stale_held_weight 0: the rule as it was
], ids=["position", "dust", "dust-tolerance-0"])
def test_a_symbol_whose_prices_stopped_leaves_the_matrix_after_max_price_age_s_as_in_the_live_correlator(
        tmp_path: Path, topo: Path, sol_amount: float, max_stale_held_weight: float | None, stops: bool):
    """SOLUSDT stops at slot 100 while BTC and ETH go on: the live correlator (correlate_window with
    newest_tick_ts) drops SOL from the matrix once its own newest tick is older than max_price_age_s
    (5 cadences), long before its window runs out of returns; the backtest must publish the same, and decide
    held_prices_stale as the live clusterer does (clustering.stale_held_verdict: by SOL's weight in the book)."""
    import numpy as np

    from actors.clustering import stale_held_verdict
    from actors.correlation import correlate_window
    from launcher import backtest as bt

    topo.write_text(topo.read_text().replace("SOLUSDT: -40.0", f"SOLUSDT: {sol_amount!r}"))
    paths = price_paths(160)
    prices = tmp_path / "stops.csv"
    with open(prices, "w") as fh:
        fh.write("ts,symbol,price\n")
        for j in range(160):
            for i, s in enumerate(("BTCUSDT", "ETHUSDT", "SOLUSDT")):
                if s != "SOLUSDT" or j < 100:
                    fh.write(f"{T0 + j * 60 + i},{s},{float(paths[i, j])!r}\n")
    setting = [] if max_stale_held_weight is None else ["--set", f"max_stale_held_weight={max_stale_held_weight}"]
    assert backtest(topo, "--prices", prices, "--out", tmp_path / "out", *setting) == 0
    import csv
    with open(tmp_path / "out" / "states.csv", newline="") as fh:
        states = {int(r["slot"]): r for r in csv.DictReader(fh)}
    settings = bt.settings_from_topology(str(topo))
    limit = settings.clusterer.max_stale_held_weight if max_stale_held_weight is None else max_stale_held_weight
    c = settings.clusters
    grid = bt.build_grid(bt.read_prices(str(prices), settings.symbols), settings.symbols, c)
    marks = bt.forward_fill(grid.prices)
    checked = stale_held_seen = stopped = 0
    for b in range(c.lookback_returns, grid.prices.shape[1]):
        slot = grid.first_slot + b
        now = (slot + 1) * c.cadence_s
        newest = {s: float(grid.newest_ts[i, b]) for i, s in enumerate(settings.symbols)
                  if np.isfinite(grid.newest_ts[i, b])}
        live = correlate_window(settings.symbols, grid.prices[:, b - c.lookback_returns:b + 1], cadence_s=c.cadence_s,
                                min_returns=c.min_returns, newest_tick_ts=newest, now_s=now,
                                max_price_age_s=settings.max_price_age_s)
        row = states[slot]
        # The live clusterer: its book is marked to the last prices (as the book actor marks its snapshots).
        signed = {s: settings.book[s] * float(marks[i, b]) for i, s in enumerate(settings.symbols)}
        stale_held, _, stop = stale_held_verdict(live["stale_symbols"], signed, settings.symbols, limit)
        held_stale = live["ready"] and stop
        assert (row["corr_ready"] == "1", row["reason"] or None, int(row["symbols_in_matrix"])) == (
            live["ready"] and not held_stale, "held_prices_stale" if held_stale else live["reason"],
            len(live["symbols"]) if live["ready"] else 0), (slot, row, live["symbols"])
        checked += 1
        stale_held_seen += bool(live["ready"] and stale_held)
        stopped += bool(held_stale)
    assert checked > 100 and stale_held_seen > 40 and stopped == (stale_held_seen if stops else 0)


def test_write_outputs_after_a_streamed_run_keeps_the_streamed_cluster_rows(tmp_path: Path, topo: Path):
    """bench_backtest's way in: run_backtest with a ClusterWriter, then write_outputs."""
    from launcher import backtest as bt

    prices = write_long_csv(tmp_path / "prices.csv", price_paths(100))
    settings = bt.settings_from_topology(str(topo))
    out = tmp_path / "out"
    sink = bt.ClusterWriter(out / "clusters.csv")
    run = bt.run_backtest(settings, bt.read_prices(str(prices), settings.symbols), None, None, cluster_sink=sink)
    sink.close()
    assert sink.rows > 0
    bt.write_outputs(out, run, {})
    assert len((out / "clusters.csv").read_text().splitlines()) == sink.rows + 1


def test_a_replayed_plan_id_issues_no_second_permit_and_is_counted_once(tmp_path: Path, topo: Path):
    """Live, the permit issuer answers a resubmitted plan_id with the recorded decision and
    permit_issued false: one plan, one permit."""
    import csv
    import json

    write_long_csv(tmp_path / "p.csv", price_paths(200), step_s=60)
    (tmp_path / "props.csv").write_text("ts,plan_id,symbol,action_proposed,kill_score\n"
                                        f"{T0 + 6000},same,BTCUSDT,PARTIAL_50,0.1\n{T0 + 6010},same,BTCUSDT,PARTIAL_50,0.1\n")
    assert backtest(topo, "--prices", tmp_path / "p.csv", "--proposals", tmp_path / "props.csv",
                    "--out", tmp_path / "out") == 0
    with open(tmp_path / "out" / "decisions.csv", newline="") as fh:
        d = list(csv.DictReader(fh))
    assert [(r["replayed"], r["permit"]) for r in d] == [("False", "True"), ("True", "False")]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert sum(summary["by_final_action"].values()) == 1 and summary["replayed"] == 1


def test_the_sweep_heat_map_counts_refused_and_replayed_proposals_as_not_permitted():
    from launcher import backtest as bt

    row = {"decisions": 10, "replayed": 2, "action_HOLD": 1, "action_PARTIAL_50": 3, "action_FULL_CLOSE_PROPOSED": 1,
           "reason_invalid_proposal": 3}
    assert bt.permitted_share(row) == 0.4




@pytest.mark.parametrize("shrinkage, linkage", [("ledoit_wolf", "threshold"), ("none", "average"),
                                                ("none", "complete"), ("ledoit_wolf", "average")])
def test_the_slow_per_slot_settings_give_the_live_cluster_stress_slot_by_slot(tmp_path: Path, topo: Path,
                                                                             shrinkage, linkage):
    """shrinkage ledoit_wolf and linkage average/complete leave the batch path (a loop per slot):
    each ready slot's ClusterStress equals correlate_window + cluster_labels + cluster_metrics (1e-12),
    with gaps in the prices."""
    import numpy as np

    from actors.clustering import cluster_labels, cluster_metrics
    from actors.correlation import correlate_window
    from launcher import backtest as bt

    paths = price_paths(120, seed=9)
    prices = tmp_path / "gaps.csv"
    rng = np.random.default_rng(3)
    with open(prices, "w") as fh:
        fh.write("ts,symbol,price\n")
        for j in range(120):
            for i, s in enumerate(("BTCUSDT", "ETHUSDT", "SOLUSDT")):
                if rng.random() > 0.1:
                    fh.write(f"{T0 + j * 60 + i},{s},{float(paths[i, j])!r}\n")
    base = bt.settings_from_topology(str(topo))
    settings = bt.apply_settings(base, {"shrinkage": shrinkage, "linkage": linkage, "corr_threshold": 0.3})
    c = settings.clusters
    data = bt.read_prices(str(prices), settings.symbols)
    run = bt.run_backtest(settings, data, None, None)
    grid = bt.build_grid(data, settings.symbols, c, math.ceil(settings.max_price_age_s / c.cadence_s))  # run's tail
    checked, shrunk = 0, 0
    for b in np.flatnonzero(run.ready):
        window = np.full((3, c.lookback_returns + 1), np.nan)
        lo = b - c.lookback_returns
        window[:, max(0, -lo):] = grid.prices[:, max(lo, 0):b + 1]
        live = correlate_window(settings.symbols, window, cadence_s=c.cadence_s, min_returns=c.min_returns,
                                shrinkage=shrinkage)
        assert live["ready"]
        signed = {s: float(run.signed[b, i]) for i, s in enumerate(settings.symbols) if np.isfinite(run.signed[b, i])}
        labels = cluster_labels(live["matrix"], c.corr_threshold, linkage)
        _, stress = cluster_metrics(live["symbols"], live["matrix"], labels, signed)
        assert abs(run.cluster_stress[b] - stress) <= 1e-12, (b, run.cluster_stress[b], stress)
        checked += 1
        shrunk += live["shrinkage"] > 0
    assert checked > 50
    assert shrinkage == "none" or shrunk > 0  # the setting took effect: not a test of the default path


def test_a_sweep_records_the_sha256_of_its_inputs_and_the_settings_it_swept_from(tmp_path: Path, topo: Path):
    import hashlib
    import json

    good = write_long_csv(tmp_path / "prices.csv", price_paths(100))
    out = tmp_path / "out"
    assert backtest(topo, "--prices", good, "--out", out, "--set", "cooldown_ttl_s=30",
                    "--sweep", "corr_threshold=0.5,0.9") == 0
    record = json.loads((out / "sweep.json").read_text())
    assert record["inputs"]["prices"] == hashlib.sha256(good.read_bytes()).hexdigest()
    assert record["inputs"]["topology"] == hashlib.sha256(topo.read_bytes()).hexdigest()
    assert record["settings"]["cooldown_ttl_s"] == 30 and record["sweep"] == {"corr_threshold": [0.5, 0.9]}


@pytest.mark.parametrize("extra, expected", [
    (["--set", "cadence_s=10", "--set", "freshness_s=5"], "freshness_s 5"),
    (["--sweep", "cadence_s=1,10", "--set", "freshness_s=5"], "freshness_s 5"),
    (["--set", "heat_floor=0.2", "--set", "heat_ceiling=0.2"], "heat_ceiling 0.2 must be above heat_floor 0.2"),
    (["--set", "lookback_returns=40", "--set", "min_returns=50"], "min_returns 50 is above lookback_returns 40"),
    (["--set", "corr_threshold=nan"], "'nan' is not a finite number"),
    (["--set", "heat_ceiling=0"], "heat_ceiling: 0 is out of range (must be > 0)"),
    (["--sweep", "corr_threshold=0.5,0.6", "--sweep", "corr_threshold=0.7"], "--sweep corr_threshold: given twice"),
], ids=["freshness below one cadence", "swept cadence above freshness", "heat band closed", "min_returns over lookback",
        "nan", "at a > bound", "a key swept twice"])
def test_settings_the_live_topology_refuses_are_refused_by_the_backtest(tmp_path: Path, topo: Path, extra, expected):
    """launcher.topology refuses freshness_s shorter than one cadence (the state would always look
    stale); a backtest of settings the live gate cannot run is not a backtest of the gate. So are the other
    settings validate refuses (a closed heat band, min_returns past the lookback, a value at an exclusive bound) and
    values no topology can hold (NaN, which passes every bound check; a key swept twice): one line, exit 2."""
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(50))
    proc = run_cli(topo, "--prices", prices, "--out", tmp_path / "out", *extra)
    assert proc.returncode == 2, proc.stderr[-500:]
    assert len(proc.stderr.strip().splitlines()) == 1 and expected in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_proposals_file_ten_times_longer_does_not_take_ten_times_the_memory(tmp_path: Path, topo: Path, monkeypatch):
    """The proposals file was read whole, every decision kept until the end, and every plan_id's recorded decision
    kept past its TTL: 2 M proposals over two days took 3.4 GB (200 k: 430 MB). They now stream: the file is read a
    row at a time, decisions.csv written as they are made, a recorded decision forgotten once its TTL passed.
    tracemalloc's peak (numpy's arrays included), so no wall clock; the chunk made small, so both files span chunks."""
    import tracemalloc

    from launcher import backtest as bt

    monkeypatch.setattr(bt, "DECIDE_CHUNK", 500, raising=False)
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(400))  # 400 x 20 s: 2 h 13 min of prices
    span_s = 400 * 20 - 600

    def peak_bytes(n: int, traced: bool = True) -> int:
        path = tmp_path / f"proposals-{n}.csv"
        with open(path, "w") as fh:
            fh.write("ts,plan_id,symbol,action_proposed,kill_score\n")
            for i in range(n):
                fh.write(f"{T0 + 600 + span_s * i / n:.3f},p-{n}-{i},{('BTCUSDT', 'ETHUSDT', 'SOLUSDT')[i % 3]},"
                         f"{('HOLD', 'PARTIAL_25', 'PARTIAL_50', 'FULL_CLOSE_PROPOSED')[i % 4]},0.5\n")
        if traced:
            tracemalloc.start()
        try:
            assert backtest(topo, "--prices", prices, "--proposals", path, "--out", tmp_path / f"out-{n}",
                            "--set", "decision_ttl_s=60", "--set", "hold_decision_ttl_s=60") == 0
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    # The first run also imports (matplotlib): not the proposals' memory. Untraced: tracemalloc only slows it.
    peak_bytes(3_000, traced=False)
    small, large = peak_bytes(3_000), peak_bytes(30_000)
    assert len((tmp_path / "out-30000" / "decisions.csv").read_text().splitlines()) == 30_001
    assert large - small < 4_000_000, f"peak {small / 1e6:.1f} MB for 3,000 proposals, {large / 1e6:.1f} MB for 30,000"


def test_the_backtests_setting_aliases_set_the_setting_they_name() -> None:
    """--set stress_cold / stress_riskoff / kill_score_limit are the earlier stack's names of cold_stress,
    riskoff_stress and kill_score_hard: each moves its own threshold and no other."""
    from launcher.backtest import apply_settings, parse_value, settings_from_topology
    base = settings_from_topology(str(Path(__file__).resolve().parent.parent / "configs" / "demo.yaml"))
    out = apply_settings(base, {k: parse_value(k, v) for k, v in
                                (("stress_cold", "0.5"), ("stress_riskoff", "0.9"), ("kill_score_limit", "0.7"))})
    assert (out.gate.cold_stress, out.gate.riskoff_stress, out.gate.kill_score_hard) == (0.5, 0.9, 0.7)


def _proposals_text(n: int) -> str:
    rows = [f"{T0 + 600 + 30 * i},p{i % 7},{('BTCUSDT', 'ETHUSDT')[i % 2]},PARTIAL_50,0.5" for i in range(n)]
    return "ts,plan_id,symbol,action_proposed,kill_score\n" + "\n".join(rows) + "\n"


def test_proposals_from_a_pipe_are_decided_as_from_the_same_file(tmp_path: Path, topo: Path):
    """--proposals /dev/stdin (or <(...)) is a pipe: read once it is gone. The streamed file was read twice (a
    check, then the run), so the run found the pipe empty and failed ('header ... got None', naming the prices
    file). The bytes checked are the bytes decided, and the summary's sha256 is theirs."""
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(200))
    text = _proposals_text(60)
    (tmp_path / "proposals.csv").write_text(text)
    assert backtest(topo, "--prices", prices, "--proposals", tmp_path / "proposals.csv", "--out", tmp_path / "file") == 0
    proc = subprocess.run([sys.executable, "-m", "launcher", "backtest", str(topo), "--prices", str(prices),
                           "--proposals", "/dev/stdin", "--out", str(tmp_path / "pipe")], input=text,
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-800:]
    for name in ("decisions.csv", "summary.json"):
        assert (tmp_path / "pipe" / name).read_bytes() == (tmp_path / "file" / name).read_bytes(), name


def test_a_proposals_file_changed_after_its_check_is_read_as_checked(tmp_path: Path):
    """The file was checked once and read again for each run: a row made bad after the check failed the run
    half-way (decisions.csv half written, the error naming the prices file), and rows added after it were
    decided though never checked nor hashed. Every run reads the rows that were checked and hashed."""
    from launcher import backtest as bt
    path = tmp_path / "proposals.csv"
    path.write_text(_proposals_text(60))
    proposals = bt.read_proposals(str(path))
    checked = [(p.ts, p.raw, p.line) for p in proposals]
    path.write_text(_proposals_text(60) + f"{T0 + 600},late,BTCUSDT,HOLD,0.5\n")  # out of time order: refused
    assert [(p.ts, p.raw, p.line) for p in proposals] == checked  # no InputError, no extra row
    path.unlink()
    assert [(p.ts, p.raw, p.line) for p in proposals] == checked
    assert proposals.sha256 == bt.hashlib.sha256(_proposals_text(60).encode()).hexdigest()


def test_proposal_every_with_a_proposals_file_is_refused_not_ignored(tmp_path: Path, topo: Path):
    """docs review: --proposal-every ("without --proposals: cadences between the grid's proposals") given with a
    --proposals file was ignored without a word; refused, exit 2, as the proofs refuse another proof's option."""
    good = write_long_csv(tmp_path / "prices.csv", price_paths(20))
    plans = tmp_path / "plans.csv"
    plans.write_text(f"ts,plan_id,symbol,action_proposed,kill_score\n{T0 + 15},p-1,BTCUSDT,PARTIAL_50,0\n")
    proc = run_cli(topo, "--prices", good, "--out", tmp_path / "out", "--proposals", plans, "--proposal-every", "5")
    assert proc.returncode == 2, proc.stderr[-500:]
    assert "--proposal-every" in proc.stderr and "--proposals" in proc.stderr and not (tmp_path / "out").exists()
    assert run_cli(topo, "--prices", good, "--out", tmp_path / "out", "--proposals", plans).returncode == 0
    assert run_cli(topo, "--prices", good, "--out", tmp_path / "grid", "--proposal-every", "5").returncode == 0


def test_an_out_that_is_a_dangling_symlink_is_refused_before_the_run(tmp_path: Path, topo: Path):
    """--out a symbolic link to a directory that does not exist (removed, or a mount not there) ran the whole backtest
    and then exited 1, `cannot write the results in OUT: File exists` (revbt). Now it is bad input, exit 2, naming the
    link and its target, before the run."""
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(100))
    (tmp_path / "out").symlink_to(tmp_path / "gone")
    proc = run_cli(topo, "--prices", prices, "--out", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr[-500:]
    assert proc.stderr == (f"clustergate backtest: --out {tmp_path / 'out'}: a symbolic link to {tmp_path / 'gone'}, "
                           f"which does not exist\n"), proc.stderr[-500:]
    assert not (tmp_path / "gone").exists()
