"""`python -m bench` still runs: the quick cluster section prints the table and writes its JSON.

Only a smoke test: the figures are measured by `make bench`, never asserted here.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO


def test_quick_cluster_bench_prints_the_table_and_writes_json_with_every_row(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    run = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "cluster", "--out", str(out)],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("machine: ")
    assert "| figure | median | min | max | runs | target | met | note |" in run.stdout
    assert "| cluster update, 500 symbols x 361 points |" in run.stdout

    report = json.loads(out.read_text())
    assert {"started_at", "duration_s", "machine", "settings", "rows", "failed", "raw"} <= set(report)
    assert {"cpu", "cpus_logical", "load_average_start", "python", "numpy", "blas"} <= set(report["machine"])
    assert report["settings"] == {"quick": True, "runs": 2, "sections": ["cluster"]}
    assert report["failed"] == {}
    rows = {row["key"]: row for row in report["rows"]}
    assert {"cluster.update_ms.10", "cluster.update_ms.100", "cluster.update_ms.500", "cluster.update_ms.1000",
            "cluster.growth_exponent"} <= set(rows)
    for row in rows.values():
        assert {"label", "unit", "median", "min", "max", "runs", "target", "met", "note"} <= set(row)
        assert math.isfinite(row["median"]) and row["runs"] >= 1
        if row["unit"] == "ms":  # a time; the growth exponent of a quick run on a busy machine may be <= 0
            assert row["median"] > 0
    assert rows["cluster.update_ms.500"]["target"] == "<= 25"
    assert isinstance(rows["cluster.update_ms.500"]["met"], bool)


def test_bench_refuses_an_unknown_section() -> None:
    run = subprocess.run([sys.executable, "-m", "bench", "--only", "nope"], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2
    assert "--only takes gate, cluster, ticks, system" in run.stderr


def test_every_tick_sent_to_the_buffer_is_counted_as_accepted_or_rejected(tmp_path: Path) -> None:
    """The ticks benchmark's 'lost' figure can see a lost tick: a real buffer, 400 ticks (below its
    high-water mark of 1000, so ZeroMQ may drop none), half of them accepted, half superseded."""
    from bench.bench_ticks import TickBench

    bench = TickBench(tmp_path)
    try:
        result = bench.paced(1000.0, 0.4)
    finally:
        bench.close()
    assert result["accepted"] > 0 and result["rejected"] > 0, result
    assert result["accepted"] + result["rejected"] == result["sent"] == 400, result
    assert result["lost"] == 0, result


@pytest.mark.parametrize("password", [None, "s21 bench pw"])
def test_the_gate_benchmark_counts_only_recorded_decisions(tmp_path: Path, password: str | None) -> None:
    """bench_gate counts a decision only when the permit issuer recorded it, and checks in Redis that
    each has its record and, when it says so, its permit: a gate that never reaches the issuer
    answers fault HOLDs fast, and must not pass as a fast gate (exit 1 with CHECK FAILED). With
    --redis-password it measures production.yaml's path (a Redis password: requests and replies signed)."""
    out = tmp_path / "gate.json"
    run = subprocess.run([sys.executable, str(REPO / "bench" / "bench_gate.py"), "--rate", "300", "--seconds", "1",
                          "--closed-seconds", "0.3", "--floor-seconds", "0.5", "--out", str(out),
                          *(["--redis-password", password] if password else [])],
                         cwd=REPO, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["redis_password"] is (password is not None)
    opened = report["open_loop"]
    # Every proposal answered: a recorded decision, or under load an error reply (`expired`, `overloaded`: seen once,
    # 299 of 300 recorded, at load 6), never a fault HOLD (the gate reached its issuer).
    assert opened["answered"] + opened["errors"] == opened["sent"] == 300, opened
    assert opened["answered"] > 0 and opened["fault_holds"] == 0 and opened["permits"] > 0, opened
    for phase, check in report["checks"].items():
        assert check["counted"] > 0 and check["records_missing"] == check["stream_missing"] == check["permits_missing"] == 0, (phase, check)
    assert set(report["shutdown_s"]) == {"gate", "permit_issuer"}
    # The CPU floor ran in the same run, for each process a decision's CPU is reported for.
    assert report["cpu_floor"]["messages"] == report["cpu_floor"]["sent"] > 0
    assert set(report["cpu_floor_us"]) == set(report["cpu_us_per_decision_open_loop"]) == {"gate", "permit_issuer", "redis"}
