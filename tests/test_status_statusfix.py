"""statusfix: three defects of `clustergate status`, each reproduced against a real system first.

1. Status of a home this user may not read (`up` makes its run/ 0700, the user that ran it's alone) ended in a
   PermissionError traceback (reading run/topology.yaml); with run/ opened but supervisord's socket still 0700 it said
   `supervisord: not running` of a running one. It now says which path it may not read, in one line, and exits 2.
2. Replica and sentinel addresses of IPv6 read `::1:6390` in the sentinel lines: ambiguous to copy. They read
   `[::1]:6390`, as the topology writes them.
3. `status --json`'s `degraded` said "(the sentinel line above says what to do)", which no JSON reader has above it.
   The JSON text stands alone; the text output is unchanged.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest

from helpers import as_another_user, demo_topology_data, free_port, retarget, wait_for, write_topology
from test_launcher import clustergate, supervisorctl
from test_sentinel_failover import _replica_entry
from test_status_degraded import WARMING, _Topo

def cli(*argv: str) -> Callable[[], dict[str, Any]]:
    """`clustergate ARGV` run in this process (launcher.cli.main): its exit code, stdout and stderr."""
    from launcher.cli import main

    def run() -> dict[str, Any]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(argv))
                code = 0
            except SystemExit as exc:
                code = exc.code
        return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}
    return run


def _refused_naming(said: dict[str, Any], path: Path) -> None:
    assert "raised" not in said, said["raised"]  # the traceback, before
    ran = said["returned"]
    assert ran["code"] == 2 and ran["stdout"] == "", ran
    lines = ran["stderr"].splitlines()
    assert len(lines) == 1 and "Traceback" not in ran["stderr"], ran["stderr"]
    assert lines[0].startswith("clustergate status: ") and str(path) in lines[0], lines[0]
    assert "Permission denied" in lines[0], lines[0]


@pytest.fixture
def open_dir():
    """A directory every user may enter (tmp_path's parents are root's alone); removed after the test."""
    where = Path(tempfile.mkdtemp(prefix="cg-sf-", dir="/tmp"))
    where.chmod(0o755)
    try:
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


def test_status_of_a_home_this_user_may_not_read_names_the_path_in_one_line_and_exits_2(open_dir: Path) -> None:
    """A real demo brought up by root, its status asked by the user nobody: the home as `up` leaves it (run/ 0700),
    the home itself 0700, and run/ opened with supervisord's socket still 0700 (`supervisord: not running` of a
    running one, before); `status FILE --all-hosts` of a FILE it may not read says so too. Root's status is 0."""
    import launcher.curve  # noqa: F401 (what the refusal reads with; imported before the child drops root)
    import launcher.hosts_status  # noqa: F401
    import launcher.overview  # noqa: F401
    home = open_dir / "home"
    topo_path = write_topology(open_dir / "demo.yaml", retarget(demo_topology_data()))
    try:
        up = clustergate("up", str(topo_path), "--home", str(home))
        assert up.returncode == 0, up.stdout + up.stderr
        shut = 0o700 if os.geteuid() == 0 else 0o000  # the owner's alone; not even the owner's, when not root
        run = home / "run"
        assert stat.S_IMODE(run.stat().st_mode) == 0o700  # as `up` leaves it
        run.chmod(shut)
        for argv in (("status", "--home", str(home)), ("status", "--json", "--home", str(home))):
            _refused_naming(as_another_user(cli(*argv)), home / "run")
        run.chmod(0o755)
        home.chmod(shut)
        _refused_naming(as_another_user(cli("status", "--home", str(home))), home)
        home.chmod(0o755)
        socket = run / "supervisor.sock"
        if os.geteuid() != 0:
            socket.chmod(0o000)
        _refused_naming(as_another_user(cli("status", "--home", str(home))), socket)
        topo_path.chmod(0o600 if os.geteuid() == 0 else 0o000)
        said = as_another_user(cli("status", str(topo_path), "--all-hosts"))
        assert "raised" not in said, said["raised"]
        assert said["returned"]["code"] == 2 and "Permission denied" in said["returned"]["stderr"], said
        topo_path.chmod(0o644)
        socket.chmod(0o700)
        run.chmod(0o700)
        assert clustergate("status", "--home", str(home)).returncode == 0
    finally:
        for path in (home, home / "run", home / "run" / "supervisor.sock"):
            with contextlib.suppress(OSError):
                path.chmod(0o700 if path.name != "home" else 0o755)
        clustergate("down", "--home", str(home))


def test_ipv6_replica_addresses_are_bracketed_in_what_the_sentinels_say() -> None:
    """judge_replicas_down of SENTINEL REPLICAS replies naming replicas at ::1: each replica reads [::1]:PORT (it read
    ::1:PORT: which colon ends the address?), IPv4 ones as before."""
    from launcher.sentinel import judge_replicas_down
    from launcher.supervise import render_sentinel_status, sentinel_degraded

    def v6(entry: list[str]) -> list[str]:
        return ["::1" if item == "127.0.0.1" else item for item in entry]
    a, b, c = "[::1]:7401", "[::1]:7402", "[::1]:7403"
    down, up = v6(_replica_entry(7391, "s_down,slave,disconnected")), v6(_replica_entry(7391, "slave"))
    other = v6(_replica_entry(7392, "slave"))
    seen = judge_replicas_down({a: [down, other], b: [down, other], c: [up, other]})
    assert seen.down == ["[::1]:7391"] and seen.promotable == ["[::1]:7392"], seen
    one = judge_replicas_down({a: [down, other], b: [up, other], c: [up, other]})
    assert one.minority == {"[::1]:7391": [a]}, one
    assert judge_replicas_down({a: [_replica_entry(7391, "s_down,slave")]}).down == ["127.0.0.1:7391"]
    state = {"failover_possible": True, "said": f"{a}: OK 3 usable Sentinels", "replicas_down": seen.down,
             "promotable": seen.promotable, "master": "clustergate", "sentinels_answering": 3, "sentinels_asked": 3}
    assert render_sentinel_status(state).startswith("sentinel: REPLICA DOWN: [::1]:7391: "), render_sentinel_status(state)
    assert sentinel_degraded(state).startswith("replica [::1]:7391 down: "), sentinel_degraded(state)


def test_the_json_degraded_text_stands_alone_and_the_text_output_keeps_its_line() -> None:
    """status's DEGRADED line points at the lines above it; `--json`'s `degraded` has no line above: it says what is
    degraded on its own and names the JSON fields that say why."""
    from launcher.overview import proxy_fallback
    from launcher.supervise import sentinel_degraded
    state = {"failover_possible": True, "said": "OK", "replicas_down": ["[::1]:7391"], "promotable": ["[::1]:7392"]}
    assert sentinel_degraded(state) == ("replica [::1]:7391 down: a failover is still possible through the other "
                                        "replica(s) only (the sentinel line above says what to do)")
    alone = sentinel_degraded(state, standalone=True)
    assert "above" not in alone and alone.startswith("replica [::1]:7391 down: ") and "[::1]:7392" in alone, alone
    warmed = {**WARMING, "points_per_symbol": {"BTCUSDT": 40, "ETHUSDT": 40, "SOLUSDT": 40}, "corr_ready": 0}
    text = proxy_fallback(_Topo(), warmed)
    assert text.endswith("; the cluster state line above and the P2.7 lines say why"), text
    alone = proxy_fallback(_Topo(), warmed, standalone=True)
    assert "above" not in alone and alone.startswith("gate takes K from the proxy") and "cluster_state_age_s" in alone
    clock = {**warmed, "gates": [{"name": "gate", "answered": True, "k_source": "proxy", "clock_off": True}]}
    assert "its clock line above says why" in proxy_fallback(_Topo(), clock)
    alone = proxy_fallback(_Topo(), clock, standalone=True)
    assert "above" not in alone and "clock_offset_s" in alone, alone


def test_status_of_ipv6_sentinels_brackets_their_addresses_and_its_json_degraded_text_stands_alone(
        open_dir: Path) -> None:
    """A real demo under managed Sentinel on [::1] (three servers, three sentinels): one replica stopped, status said
    `sentinel: REPLICA DOWN: ::1:P: ...` and `(::1:S: OK 3 usable Sentinels ...)`, and its --json `degraded` ended
    `(the sentinel line above says what to do)`; both replicas stopped, `no replica to promote (::1:P: s_down,...`."""
    data = retarget(demo_topology_data())
    servers = [free_port() for _ in range(3)]
    data["redis"] = {"managed": True, "sentinel": {
        "master": "clustergate", "down_after_ms": 1500, "servers": [f"[::1]:{port}" for port in servers],
        "sentinels": [f"[::1]:{free_port()}" for _ in range(3)]}}
    topo_path = write_topology(open_dir / "v6.yaml", data)
    home = open_dir / "home"
    try:
        up = clustergate("up", str(topo_path), "--home", str(home))
        assert up.returncode == 0, up.stdout + up.stderr

        def roles() -> list[dict[str, Any]]:
            said = json.loads(clustergate("status", "--json", "--home", str(home)).stdout)
            return [row for row in said["programs"] if row["name"].startswith("redis-sentinel")]
        wait_for(lambda: all("knows 2 replica(s)" in row.get("role", "") for row in roles()), 60,
                 "every sentinel to know both replicas")
        supervisorctl(home, "stop", "redis-server-3")
        lost, kept = f"[::1]:{servers[2]}", f"[::1]:{servers[1]}"

        def replica_down() -> dict[str, Any] | None:
            said = json.loads(clustergate("status", "--json", "--home", str(home)).stdout)
            return said if said.get("sentinel", {}).get("replicas_down") else None
        said = wait_for(replica_down, 60, "the sentinels to see the replica down")
        assert said["sentinel"]["replicas_down"] == [lost] and said["sentinel"]["promotable"] == [kept], said
        assert said["sentinel"]["said"].startswith("[::1]:"), said["sentinel"]
        assert "above" not in said["degraded"] and said["degraded"].startswith(f"replica {lost} down: "), said
        assert kept in said["degraded"], said["degraded"]
        text = clustergate("status", "--home", str(home)).stdout
        assert f"sentinel: REPLICA DOWN: {lost}: " in text and f"through {kept} only" in text, text
        assert (f"DEGRADED: replica {lost} down: a failover is still possible through the other replica(s) only (the "
                f"sentinel line above says what to do)") in text, text
        supervisorctl(home, "stop", "redis-server-2")
        wait_for(lambda: "no replica to promote" in clustergate("status", "--home", str(home)).stdout, 60,
                 "the sentinels to see no replica to promote")
        text = clustergate("status", "--home", str(home)).stdout
        assert f"no replica to promote ({lost}: " in text or f"no replica to promote ({kept}: " in text, text
        assert "::1:" not in text.replace("[::1]:", ""), text
    finally:
        clustergate("down", "--home", str(home))


def test_status_is_refused_only_for_permission_not_for_a_socket_it_may_connect_to_nor_a_running_copy_looping(
        open_dir: Path) -> None:
    """revstatus, on a real demo brought up by root. (1) run/ opened and supervisord's socket 0722: connect(2) asks
    write permission alone, so the user nobody reaches supervisord (status said it all before statusfix, exit 0); the
    refusal asked read too and refused it, exit 2. (2) The running copy replaced by a symlink loop: root's status
    exited 1 with the programs listed before statusfix; it exited 2 (`a home this user may not read`) with nothing
    else, supervisord's programs hidden. A loop is the home's fault, not this user's: 1, the programs, and the loop
    named."""
    import launcher.curve  # noqa: F401 (what the refusal reads with; imported before the child drops root)
    import launcher.hosts_status  # noqa: F401
    import launcher.overview  # noqa: F401
    import encodings.idna  # noqa: F401 (scraping 127.0.0.1 asks it, and the child may not read root's library)
    home = open_dir / "home"
    topo_path = write_topology(open_dir / "demo.yaml", retarget(demo_topology_data()))
    run, socket = home / "run", home / "run" / "supervisor.sock"
    copy = run / "topology.yaml"
    try:
        up = clustergate("up", str(topo_path), "--home", str(home))
        assert up.returncode == 0, up.stdout + up.stderr
        wait_for(lambda: clustergate("status", "--home", str(home)).returncode == 0, 60, "the demo all ready")
        run.chmod(0o755)
        socket.chmod(0o722)
        said = as_another_user(cli("status", "--home", str(home)))
        assert "raised" not in said, said["raised"]
        assert said["returned"]["code"] == 0, said["returned"]
        assert said["returned"]["stdout"].startswith("supervisord: running   topology: demo"), said["returned"]
        socket.chmod(0o700)
        run.chmod(0o700)
        kept = copy.read_bytes()
        copy.unlink()
        copy.symlink_to(copy)
        try:
            ran = cli("status", "--home", str(home))()
            assert ran["code"] == 1, ran
            assert ran["stdout"].startswith("supervisord: running"), ran
            assert "Too many levels of symbolic links" in ran["stdout"], ran
            ran = cli("status", "--json", "--home", str(home))()
            assert ran["code"] == 1 and json.loads(ran["stdout"])["supervisord"] == "running", ran
            assert any("symbolic links" in p for p in json.loads(ran["stdout"])["topology_problems"]), ran
        finally:
            copy.unlink()
            copy.write_bytes(kept)
        assert clustergate("status", "--home", str(home)).returncode == 0
    finally:
        for path in (run, socket):
            with contextlib.suppress(OSError):
                path.chmod(0o700)
        clustergate("down", "--home", str(home))


def test_status_of_a_home_that_is_a_symlink_loop_or_a_name_too_long_is_refused_in_one_line(open_dir: Path) -> None:
    """revstatus: `status --home H` with H a symlink loop ended in a RuntimeError traceback (home_from's resolve); a
    home whose name is too long was refused (statusfix) and still is. Exit 2, one line on stderr, nothing on stdout,
    --json too, no advice to run as another user: no user reads them."""
    loop = open_dir / "loop"
    loop.symlink_to(loop)
    for home, why in ((loop, "Too many levels of symbolic links"), (open_dir / ("x" * 300), "File name too long")):
        for argv in (("status", "--home", str(home)), ("status", "--json", "--home", str(home))):
            ran = cli(*argv)()
            assert ran["code"] == 2 and ran["stdout"] == "", ran
            assert ran["stderr"].count("\n") == 1 and ran["stderr"].startswith(f"clustergate status: {home}"), ran
            assert why in ran["stderr"] and "run status as" not in ran["stderr"], ran


def test_status_of_actors_on_ipv6_loopback_gives_metrics_urls_a_client_can_fetch(tmp_path: Path) -> None:
    """revstatus, on a real demo whose actors' host is ::1 (validate accepts it): status's METRICS column and --json's
    metrics_url read http://::1:PORT/metrics, which curl refuses (exit 3, URL malformed) and a URL parser cannot split;
    they read http://[::1]:PORT/metrics, as statusfix brackets the sentinel lines' addresses; a gate stopped, its
    overview line `its metrics at ::1:PORT did not answer` reads [::1]:PORT."""
    from urllib.parse import urlsplit
    data = retarget(demo_topology_data())
    for spec in data["actors"].values():
        spec["host"] = "::1"
    topo_path = write_topology(tmp_path / "v6.yaml", data)
    home = tmp_path / "home"
    try:
        up = clustergate("up", str(topo_path), "--home", str(home))
        assert up.returncode == 0, up.stdout + up.stderr
        said = json.loads(clustergate("status", "--json", "--home", str(home)).stdout)
        urls = {row["name"]: row["metrics_url"] for row in said["programs"] if row.get("metrics_url")}
        assert set(urls) == set(data["actors"]), said
        for name, url in urls.items():
            parts = urlsplit(url)
            assert (parts.hostname, parts.port) == ("::1", data["actors"][name]["metrics_port"]), url
        text = clustergate("status", "--home", str(home)).stdout
        assert f"http://[::1]:{data['actors']['gate']['metrics_port']}/metrics" in text, text
        supervisorctl(home, "stop", "gate")
        text = clustergate("status", "--home", str(home)).stdout
        assert f"its metrics at [::1]:{data['actors']['gate']['metrics_port']} did not answer" in text, text
        from launcher.hosts_status import _ask_actor  # what `status FILE --all-hosts` asks each actor with
        from launcher.topology import load_topology
        asked = _ask_actor(load_topology(topo_path), "gate")
        assert asked["reached"] is False, asked
        assert asked["metrics_url"] == f"http://[::1]:{data['actors']['gate']['metrics_port']}/metrics", asked
    finally:
        clustergate("down", "--home", str(home))


def test_status_all_hosts_with_a_home_root_that_is_a_symlink_loop_names_the_loop_per_host(tmp_path: Path) -> None:
    """revstatus: `status FILE --all-hosts --home-root LOOP` ended in a RuntimeError traceback (host_home's resolve), as
    `status --home LOOP` did; each host's exits are now `not read`, the loop named."""
    keys = tmp_path / "keys"
    for name in ("price_feed", "buffer", "book", "gate", "desk", "proofs"):
        made = clustergate("keys", "generate", str(keys), "--name", name)
        assert made.returncode == 0, made.stdout + made.stderr
    text = (Path(__file__).resolve().parent.parent / "configs" / "multihost.yaml").read_text()
    topology = tmp_path / "multihost.yaml"
    topology.write_text(text.replace("keys_dir: multihost-keys", f"keys_dir: {keys}"))
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    ran = cli("status", str(topology), "--all-hosts", "--home-root", str(loop))()
    assert "Traceback" not in ran["stderr"] and ran["code"] == 1, ran
    unread = [line for line in ran["stdout"].splitlines() if line.startswith("unexpected exits not read: ")]
    assert len(unread) == 1 and unread[0].count("Too many levels of symbolic links") == 3, ran["stdout"]
