"""A running system whose running copy a later `validate` rule refuses, for a setting nothing that runs reads.

revdocs43: `validate` came to refuse `redis.port` and `redis.maxmemory_mb` beside a url (and the managed sentinel
timings beside external sentinels). A system `up` had started with `maxmemory_mb: 256` beside its url then, after the
code was upgraded, restarted no actor: `supervisorctl restart gate` said `gate: ERROR (spawn error)`, the gate's log
`redis.maxmemory_mb: is for the redis-server the launcher runs ...` and `exit 2: bad input`, every proposal went
unanswered, and `propose --home` and `proof` refused the home with exit 2, all over a key no actor ever read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from feed_helpers import feed_topology, metrics_port
from helpers import REPO, ActorProcess, demo_topology_data, retarget, scrape, wait_for, write_topology
from launcher.client import gate_curve, gate_endpoints
from launcher.schema import SchemaError
from launcher.topology import load_to_run, load_topology

IGNORED = "redis.maxmemory_mb: is for the redis-server the launcher runs (redis.managed: true)"


def test_an_actor_starts_beside_a_setting_it_never_reads_that_validate_refuses_and_its_log_names_it(
        tmp_path: Path, redis_server) -> None:
    path, data = feed_topology(tmp_path, redis_server.url, {"source": "synthetic", "interval_s": 0.1})
    data["redis"]["maxmemory_mb"] = 256
    write_topology(path, data)
    with pytest.raises(SchemaError, match="redis.maxmemory_mb"):
        load_topology(path)  # validate, up and deploy still refuse it
    feed = ActorProcess(path, "price_feed").start()
    try:
        feed.wait_serving(metrics_port(data))
        assert IGNORED in feed.log() and "this actor does not read it" in feed.log(), feed.log()[-2000:]
    finally:
        feed.terminate()


def test_an_actor_still_refuses_a_topology_whose_problem_changes_what_it_runs(tmp_path: Path) -> None:
    """A book slower than the snapshots' staleness is a hazard, not a key nothing reads: the book does not start."""
    path, data = feed_topology(tmp_path, "redis://127.0.0.1:1/0", {"source": "synthetic", "interval_s": 0.1},
                               book={"positions": {"BTCUSDT": 1.0}, "refresh_s": 600})
    write_topology(path, data)
    book = ActorProcess(path, "book").start()
    try:
        wait_for(lambda: book.proc.poll() is not None or scrape(metrics_port(data, "book")) is not None, 30,
                 f"the book to exit (or serve)\n{book.log()[-2000:]}")
        assert book.proc.returncode == 2, book.log()[-2000:]
        assert "actors.book.settings.refresh_s: 600 s is not below positions.stale_after_s" in book.log()
    finally:
        book.terminate()


def test_a_client_finds_the_gates_of_a_topology_holding_a_setting_nothing_reads(tmp_path: Path) -> None:
    """`propose --home` (gate_endpoints, gate_curve) reaches the gates that run, whatever today's validate says of a
    key none of them reads."""
    data = retarget(demo_topology_data(), "redis://127.0.0.1:1/0")
    data["redis"]["maxmemory_mb"] = 256
    path = write_topology(tmp_path / "topology.yaml", data)
    assert gate_endpoints(path) == [data["actors"]["gate"]["sockets"]["proposals"]["bind"]]
    assert gate_curve(path, None) is None


def launcher_on_a_home_whose_copy_holds_maxmemory_mb(tmp_path: Path, redis_url: str,
                                                    *command: str) -> subprocess.CompletedProcess:
    """`clustergate COMMAND --home HOME` where HOME's running copy has `maxmemory_mb: 256` beside its url (no system
    runs there)."""
    data = retarget(demo_topology_data(), redis_url)
    data["redis"]["maxmemory_mb"] = 256
    home = tmp_path / "home"
    (home / "run").mkdir(parents=True)
    write_topology(home / "run" / "topology.yaml", data)
    return subprocess.run([sys.executable, "-m", "launcher", *command, "--home", str(home)], capture_output=True,
                          text=True, cwd=REPO, timeout=120)


def test_a_proof_reads_a_running_copy_holding_a_setting_nothing_reads(tmp_path: Path) -> None:
    """It refused the home (exit 2, the problem on stderr); it reads the copy and checks the system: here none runs,
    so its checks fail (exit 1), none of them over the key."""
    done = launcher_on_a_home_whose_copy_holds_maxmemory_mb(tmp_path, "redis://127.0.0.1:1/0", "proof", "readiness")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL" in done.stdout, done.stdout + done.stderr


def test_positions_lists_the_snapshots_of_a_home_whose_copy_holds_a_setting_nothing_reads(tmp_path: Path,
                                                                                       redis_server) -> None:
    """The incident tool on the running system (`positions list/set/clear --home`) refused the home with exit 2."""
    done = launcher_on_a_home_whose_copy_holds_maxmemory_mb(tmp_path, redis_server.url, "positions", "list")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BTCUSDT" in done.stdout, done.stdout


EXTERNAL_SENTINELS = {"master": "m", "sentinels": ["127.0.0.1:26390", "127.0.0.1:26391", "127.0.0.1:26392"]}


@pytest.mark.parametrize("change, path", [
    (lambda d: d.update(redis={"url": "redis://127.0.0.1:1/0", "port": 6390}), "redis.port"),  # the default, written
    (lambda d: d.update(redis={"sentinel": {**EXTERNAL_SENTINELS, "down_after_ms": 1000}}), "redis.sentinel.down_after_ms"),
    (lambda d: d["actors"]["price_feed"]["settings"].update(source="replay", replay={"path": "prices.csv"}),
     "actors.price_feed.settings.synthetic"),
], ids=["port", "down_after_ms", "synthetic"])
def test_each_setting_nothing_reads_is_refused_by_validate_and_returned_to_what_runs(tmp_path: Path, change,
                                                                                    path: str) -> None:
    data = retarget(demo_topology_data(), "redis://127.0.0.1:1/0")
    change(data)
    topology = write_topology(tmp_path / "topology.yaml", data)
    with pytest.raises(SchemaError) as refused:
        load_topology(topology)
    assert [p.render().split(": ", 1)[0] for p in refused.value.problems] == [path]
    topo, unread = load_to_run(topology)
    assert [p.render().split(": ", 1)[0] for p in unread] == [path] and topo.actors
