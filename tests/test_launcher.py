"""The launcher against real supervisord and a real managed redis-server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import DEADLINE_SCALE, REPO, demo_topology_data, retarget, write_topology
from launcher.supervise import Home, render_programs
from launcher.topology import EXIT_BAD_INPUT_LINE, load_topology


def clustergate(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)


def test_rendered_programs_are_accepted_by_supervisors_own_parser(tmp_path: Path) -> None:
    from supervisor.options import ServerOptions

    topo_path = write_topology(tmp_path / "demo.yaml", retarget(demo_topology_data()))
    topo = load_topology(topo_path)
    home = Home(tmp_path / "home")
    home.prepare()
    home.programs.write_text(render_programs(topo, home))
    options = ServerOptions()
    options.realize(["-c", str(home.conf)])
    names = [group.name for group in options.process_group_configs]
    assert names == ["redis", *topo.actors]
    gate = next(g for g in options.process_group_configs if g.name == "gate").process_configs[0]
    assert "-m actors.gate" in gate.command and gate.autorestart and gate.stopsignal == 15


@pytest.fixture
def system(tmp_path: Path):
    """A retargeted demo topology in its own home; always brought down."""
    home = tmp_path / "home"
    topo_path = write_topology(tmp_path / "demo.yaml", retarget(demo_topology_data()))
    yield home, topo_path
    clustergate("down", "--home", str(home))


def supervisorctl(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "supervisorctl"), "-c", str(home / "supervisord.conf"), *args],
                          capture_output=True, text=True, timeout=60)


def pids(home: Path) -> dict[str, int]:
    status = json.loads(clustergate("status", "--json", "--home", str(home)).stdout)
    return {row["name"]: row["pid"] for row in status["programs"]}


def test_up_status_and_down_of_the_demo_topology(system) -> None:
    home, topo_path = system
    up = clustergate("up", str(topo_path), "--home", str(home))
    assert up.returncode == 0, up.stdout + up.stderr
    assert "all ready" in up.stdout

    status = clustergate("status", "--json", "--home", str(home))
    assert status.returncode == 0, status.stdout
    rows = {row["name"]: row for row in json.loads(status.stdout)["programs"]}
    assert set(rows) == {"redis", *load_topology(topo_path).actors}
    assert all(row["state"] == "RUNNING" and row["ready"] for row in rows.values())
    assert rows["gate"]["metrics_url"].startswith("http://127.0.0.1:")

    plain = supervisorctl(home, "status")
    assert "gate" in plain.stdout and "RUNNING" in plain.stdout

    down = clustergate("down", "--home", str(home))
    assert down.returncode == 0, down.stdout + down.stderr
    assert not (home / "run" / "supervisor.sock").exists() or supervisorctl(home, "status").returncode != 0


def test_up_again_with_one_actor_changed_restarts_only_that_actor(system) -> None:
    home, topo_path = system
    assert clustergate("up", str(topo_path), "--home", str(home)).returncode == 0
    before = pids(home)
    data = yaml.safe_load(topo_path.read_text())
    data["actors"]["gate"].setdefault("settings", {})["cold_stress"] = 0.5
    write_topology(topo_path, data)
    again = clustergate("up", str(topo_path), "--home", str(home))
    assert again.returncode == 0, again.stdout + again.stderr
    after = pids(home)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"gate"}


def test_up_with_a_bad_topology_exits_2_and_starts_nothing(tmp_path: Path) -> None:
    data = demo_topology_data()
    data["clusters"]["cadense_s"] = 1
    topo_path = write_topology(tmp_path / "bad.yaml", data)
    result = clustergate("up", str(topo_path), "--home", str(tmp_path / "home"))
    assert result.returncode == 2
    assert "clusters.cadense_s: unknown key (did you mean 'cadence_s'?)" in result.stderr
    assert not (tmp_path / "home" / "run" / "supervisor.sock").exists()


def test_up_refuses_a_port_another_process_holds(tmp_path: Path) -> None:
    data = retarget(demo_topology_data())
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", data["actors"]["gate"]["metrics_port"]))
    blocker.listen()
    try:
        result = clustergate("up", str(write_topology(tmp_path / "t.yaml", data)), "--home", str(tmp_path / "home"))
    finally:
        blocker.close()
    assert result.returncode == 1
    assert f"actors.gate.metrics_port: port {data['actors']['gate']['metrics_port']} is already in use" in result.stderr


def test_actor_that_fails_at_start_up_is_reported_with_its_log(system) -> None:
    home, topo_path = system
    data = yaml.safe_load(topo_path.read_text())
    # A replay file that does not exist: `validate` names it (issue 17 #7); `up` does not read replay files,
    # so the feed finds out when it opens it at start-up.
    data["actors"]["price_feed"]["settings"] = {"source": "replay", "replay": {"path": "no-such-prices.csv"}}
    write_topology(topo_path, data)
    validated = clustergate("validate", str(topo_path))
    assert validated.returncode == 2 and "no-such-prices.csv" in validated.stdout, validated.stdout + validated.stderr
    # The feed exits 2 within supervisord's start window, which leaves it in BACKOFF with no exit status;
    # its last log line says bad input, so `up` reports it then rather than at its readiness deadline.
    result = clustergate("up", str(topo_path), "--home", str(home), "--timeout", str(round(120 * DEADLINE_SCALE)))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "FAILED: " in result.stdout, output
    failed = result.stdout.partition("FAILED: ")[2].splitlines()[0]
    assert failed.startswith("program price_feed is BACKOFF"), output
    assert "not ready after" not in result.stdout, output
    feed_log = result.stdout.partition(f"--- last lines of {Home(home.resolve()).log_of('price_feed')} ---\n")[2]
    feed_log = feed_log.partition("--- last lines of ")[0]
    assert "event=bad_source" in feed_log and "no-such-prices.csv" in feed_log, output
    assert feed_log.strip().splitlines()[-1] == EXIT_BAD_INPUT_LINE, output
