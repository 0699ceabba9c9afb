"""The launcher's hardening (issue 18) attacked with real processes: findings of the hostile review."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import (DEADLINE_SCALE, KILLED_BEFORE_UPDATE, PYTHON, REPO, demo_topology_data, retarget, wait_for,
                     write_topology)

SHIM = REPO / "launcher" / "parent_death.py"


def clustergate(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "launcher", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=env if env is not None else dict(os.environ))


def env_without_password() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CLUSTERGATE_REDIS_PASSWORD"}


def tmp_files(home: Path) -> list[Path]:
    return sorted(home.rglob("*.tmp"))


# --------------------------------------------------------------------------- the Redis password


def test_a_redis_password_that_is_not_utf8_is_refused_in_one_line_and_leaves_no_tmp_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    topology = write_topology(tmp_path / "t.yaml", retarget(demo_topology_data()))
    env = {k.encode(): v.encode() for k, v in env_without_password().items()}
    env[b"CLUSTERGATE_REDIS_PASSWORD"] = b"ab\xffcd"
    try:
        up = subprocess.run([PYTHON, "-m", "launcher", "up", str(topology), "--home", str(home)], cwd=REPO,
                            capture_output=True, timeout=120, env=env)
        out = (up.stdout + up.stderr).decode(errors="replace")
        assert up.returncode == 2, out
        assert "Traceback" not in out and "CLUSTERGATE_REDIS_PASSWORD" in out and "UTF-8" in out, out
        assert tmp_files(home) == []
        assert not (home / "run" / "supervisor.sock").exists()
    finally:
        clustergate("down", "--home", str(home))


def test_a_redis_password_longer_than_redis_accepts_before_auth_is_refused_before_anything_starts(tmp_path: Path) -> None:
    # Redis answers "Protocol error: unauthenticated bulk length" to an AUTH argument over 16384 bytes:
    # a longer password would lock every client (actors, status, proofs) out of the managed Redis.
    home = tmp_path / "home"
    topology = write_topology(tmp_path / "t.yaml", retarget(demo_topology_data()))
    password = "Z" * 16385
    try:
        up = clustergate("up", str(topology), "--home", str(home),
                         env={**env_without_password(), "CLUSTERGATE_REDIS_PASSWORD": password})
        assert up.returncode == 2, (up.stdout + up.stderr)[-2000:]
        assert "16384" in up.stderr and password not in up.stdout + up.stderr, up.stderr
        assert not (home / "run" / "supervisor.sock").exists()
    finally:
        clustergate("down", "--home", str(home))


# --------------------------------------------------------------------------- supervisord going away during `up`


def test_an_up_whose_supervisord_is_killed_while_it_waits_fails_in_one_line_without_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    data = retarget(demo_topology_data())
    # The correlator needs more returns than the test waits for: `up` is still waiting when supervisord dies.
    data["clusters"]["min_returns"] = data["clusters"]["lookback_returns"]
    topology = write_topology(tmp_path / "t.yaml", data)
    up = subprocess.Popen([PYTHON, "-m", "launcher", "up", str(topology), "--home", str(home), "--timeout", "120"],
                          cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_without_password())
    try:
        pid_file = home / "run" / "supervisord.pid"
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 30, "supervisord started by up")
        wait_for(lambda: (home / "run" / "logs" / "gate.log").exists(), 30, "the programs started")
        assert up.poll() is None, "up finished before supervisord was killed"
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        out, err = up.communicate(timeout=60 * DEADLINE_SCALE)
        assert up.returncode == 1, out + err
        assert "Traceback" not in out + err, out + err
        # Stopped answering while up waited for readiness, or (on a loaded machine) while it waited for
        # supervisord itself to answer: one FAILED line either way.
        assert "FAILED: supervisord" in err, err
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(10)
        clustergate("down", "--home", str(home))


def test_a_supervisord_answer_cut_off_midway_is_a_connection_lost_not_a_traceback(tmp_path: Path) -> None:
    """supervisord killed while it writes its answer: the XML ends mid-token (CI, 3 Dec 2026: an ExpatError traceback
    out of `up`). The launcher's call raises an OSError, which every caller reports as supervisord gone."""
    import socket
    import threading

    from launcher.supervise import Home, Supervisor
    home = Home(tmp_path / "home")
    home.run.mkdir(parents=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(home.socket))
    server.listen(1)
    body = b"<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n<value><str"

    def answer_cut_off() -> None:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(10)
            request = b""
            while b"</methodCall>" not in request:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                request += chunk
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\n\r\n" + body)  # then the connection closes

    thread = threading.Thread(target=answer_cut_off, daemon=True)
    thread.start()
    try:
        try:
            Supervisor(home).processes()
        except OSError as exc:
            assert "cut off" in str(exc), exc
        else:
            raise AssertionError("a cut-off answer was taken as an answer")
    finally:
        thread.join(10)
        server.close()


# --------------------------------------------------------------------------- the parent-death shim


def test_the_parent_death_shim_runs_its_program_under_a_supervisord_that_is_pid_1(tmp_path: Path) -> None:
    # A container whose entry point is supervisord: every program's parent is pid 1, yet not orphaned.
    fake = tmp_path / "bin" / "supervisord"
    fake.parent.mkdir()
    fake.write_text("import os, subprocess, sys\n"
                    f"r = subprocess.run([{PYTHON!r}, {str(SHIM)!r}, '/bin/echo', 'program ran'],"
                    " env={**os.environ, 'SUPERVISOR_ENABLED': '1'}, capture_output=True, text=True)\n"
                    "print(os.getpid(), r.returncode, r.stdout.strip())\n")
    run = subprocess.run(["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc",
                          PYTHON, str(fake)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["1", "0", "program", "ran"], run.stdout


def test_the_parent_death_shim_ends_a_supervised_program_whose_supervisord_is_gone(tmp_path: Path) -> None:
    # Started by supervisord (SUPERVISOR_ENABLED) but its parent is no supervisord: adopted, so it must not run.
    run = subprocess.run([PYTHON, str(SHIM), "/bin/echo", "program ran"], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "SUPERVISOR_ENABLED": "1"})
    assert run.returncode == -signal.SIGTERM and "program ran" not in run.stdout, (run.returncode, run.stdout)


# --------------------------------------------------------------------------- ipc:// paths


def test_an_ipc_bind_path_naming_a_regular_file_is_refused_and_the_file_is_kept(tmp_path: Path) -> None:
    # ZeroMQ unlinks whatever is at an ipc path before it binds: a typo must not delete a file.
    home = tmp_path / "home"
    victim = tmp_path / "precious.txt"
    victim.write_text("precious data\n")
    data = retarget(demo_topology_data())
    data["actors"]["permit_issuer"]["sockets"]["requests"] = {"bind": f"ipc://{victim}"}
    data["actors"]["gate"]["sockets"]["permits"] = {"connect": f"ipc://{victim}"}
    topology = write_topology(tmp_path / "t.yaml", data)
    try:
        up = clustergate("up", str(topology), "--home", str(home), env=env_without_password())
        assert up.returncode == 1, up.stdout + up.stderr
        assert "actors.permit_issuer.sockets.requests.bind" in up.stderr and "not a socket" in up.stderr, up.stderr
        assert victim.read_text() == "precious data\n"
        assert not (home / "run" / "supervisor.sock").exists()
    finally:
        clustergate("down", "--home", str(home))


# --------------------------------------------------------------------------- a frozen supervisord


def test_a_proof_run_as_a_script_against_a_frozen_supervisord_fails_in_one_line_without_a_traceback(tmp_path: Path) -> None:
    from launcher.supervise import Home, Supervisor, topology_copy
    from launcher.topology import load_topology

    home = Home(tmp_path / "home")
    home.prepare()
    topology = write_topology(tmp_path / "t.yaml", retarget(demo_topology_data()))
    home.topology.write_text(topology_copy(load_topology(topology), home))
    sup = Supervisor(home)
    sup.start_daemon()  # a real supervisord with no programs
    pid = sup.pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        proof = subprocess.run([PYTHON, "proofs/readiness.py", "--home", str(home.root)], cwd=REPO,
                               capture_output=True, text=True, timeout=120)
        assert proof.returncode == 1, proof.stdout + proof.stderr
        assert "Traceback" not in proof.stdout + proof.stderr, proof.stderr
        assert f"supervisord (pid {pid}) did not answer" in proof.stdout, proof.stdout
    finally:
        os.kill(pid, signal.SIGCONT)
        clustergate("down", "--home", str(home.root))


# --------------------------------------------------------------------------- supervisord dying during `down`


def test_a_down_whose_supervisord_is_killed_midway_still_stops_everything_without_a_traceback(tmp_path: Path) -> None:
    from launcher.supervise import Home, home_processes

    home = Home(tmp_path / "home")
    topology = write_topology(tmp_path / "t.yaml", retarget(demo_topology_data()))
    stopped_pid = None
    try:
        up = clustergate("up", str(topology), "--home", str(home.root), env=env_without_password())
        assert up.returncode == 0, up.stdout + up.stderr
        procs = {p.what: p.pid for p in home_processes(home)}
        # A frozen gate holds stopAllProcesses for its stopwaitsecs: supervisord dies in the middle of `down`.
        stopped_pid = procs["actor gate"]
        os.kill(stopped_pid, signal.SIGSTOP)
        down = subprocess.Popen([PYTHON, "-m", "launcher", "down", "--home", str(home.root)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: not os.path.exists(f"/proc/{procs['actor price_feed']}"), 30, "down stopping programs")
        assert down.poll() is None, "down finished before supervisord was killed"
        os.kill(procs["supervisord"], signal.SIGKILL)
        out, err = down.communicate(timeout=120)
        assert "Traceback" not in out + err, out + err
        assert down.returncode == 0, out + err
        assert home_processes(home) == []
    finally:
        if stopped_pid is not None:
            try:
                os.kill(stopped_pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        clustergate("down", "--home", str(home.root))


def test_an_ipc_bind_path_in_a_directory_that_does_not_exist_is_refused_before_anything_starts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    data = retarget(demo_topology_data())
    data["actors"]["permit_issuer"]["sockets"]["requests"] = {"bind": "ipc://sub/permits.sock"}
    data["actors"]["gate"]["sockets"]["permits"] = {"connect": "ipc://sub/permits.sock"}
    topology = write_topology(tmp_path / "t.yaml", data)
    try:
        up = clustergate("up", str(topology), "--home", str(home), "--timeout", "30", env=env_without_password())
        assert up.returncode == 1, up.stdout + up.stderr
        assert "actors.permit_issuer.sockets.requests.bind" in up.stderr, up.stdout + up.stderr
        assert f"{home}/run/ipc/sub" in up.stderr and "does not exist" in up.stderr, up.stderr
        assert not (home / "run" / "supervisor.sock").exists()
    finally:
        clustergate("down", "--home", str(home))


# --------------------------------------------------------------------------- a bad redis-server binary


def test_an_up_with_a_broken_redis_server_on_path_is_refused_and_the_running_redis_keeps_serving(tmp_path: Path) -> None:
    import redis as redis_lib

    home = tmp_path / "home"
    data = retarget(demo_topology_data())
    topology = write_topology(tmp_path / "t.yaml", data)
    bad = tmp_path / "bin" / "redis-server"
    bad.parent.mkdir()
    bad.write_text("#!/bin/sh\necho 'not a redis-server' >&2\nexit 1\n")
    bad.chmod(0o755)
    try:
        assert clustergate("up", str(topology), "--home", str(home), env=env_without_password()).returncode == 0
        env = {**env_without_password(), "PATH": f"{bad.parent}:{os.environ['PATH']}"}
        again = clustergate("up", str(topology), "--home", str(home), "--timeout", "20", env=env)
        assert again.returncode == 1, again.stdout + again.stderr
        assert str(bad) in again.stderr and "--version" in again.stderr, again.stdout + again.stderr
        assert "restarted" not in again.stdout, again.stdout
        assert redis_lib.Redis(port=data["redis"]["port"], socket_timeout=2).ping()
    finally:
        clustergate("down", "--home", str(home))


# --------------------------------------------------------------------------- which system a command reaches


def test_propose_and_positions_with_a_home_where_nothing_runs_refuse_instead_of_reaching_the_demo_system(tmp_path: Path) -> None:
    # Falling back to configs/demo.yaml sent a FULL_CLOSE proposal to whatever system serves the demo's ports.
    home = tmp_path / "nothing-here"
    home.mkdir()
    missing = str(home / "run" / "topology.yaml")
    propose = clustergate("propose", "--home", str(home), "--symbol", "ETHUSDT", "--action", "FULL_CLOSE_PROPOSED",
                          "--timeout-ms", "200", "--retries", "0")
    assert propose.returncode == 2, propose.stdout + propose.stderr
    assert missing in propose.stderr and "demo.yaml" not in propose.stdout + propose.stderr, propose.stderr
    positions = clustergate("positions", "list", env={**os.environ, "CLUSTERGATE_HOME": str(home)})
    assert positions.returncode == 2, positions.stdout + positions.stderr
    assert missing in positions.stderr and "demo.yaml" not in positions.stdout + positions.stderr, positions.stderr


# --------------------------------------------------------------------------- two homes racing for one set of ports


def test_two_concurrent_ups_of_one_topology_in_two_homes_leave_one_system_and_one_clean_refusal(tmp_path: Path) -> None:
    # Both pre-flight checks ran before either system bound its ports: the loser's actors then took
    # ports, metrics endpoints and the Redis of the winner, and both systems kept restarting programs.
    from launcher.supervise import Home, home_processes

    homes = [Home(tmp_path / "a"), Home(tmp_path / "b")]
    topology = write_topology(tmp_path / "t.yaml", retarget(demo_topology_data()))
    ups = [subprocess.Popen([PYTHON, "-m", "launcher", "up", str(topology), "--home", str(h.root), "--timeout", "60"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env_without_password()) for h in homes]
    try:
        results = [p.communicate(timeout=180) for p in ups]
        codes = [p.returncode for p in ups]
        assert sorted(codes) == [0, 1], (codes, results)
        winner, loser = (homes[0], homes[1]) if codes[0] == 0 else (homes[1], homes[0])
        refusal = results[codes.index(1)][1]
        assert "Traceback" not in refusal and ("already in use" in refusal or "another `clustergate up`" in refusal), refusal
        assert home_processes(loser) == [], home_processes(loser)
        status = clustergate("status", "--home", str(winner.root))
        assert status.returncode == 0, status.stdout + status.stderr
    finally:
        for p in ups:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        for h in homes:
            clustergate("down", "--home", str(h.root))


# --------------------------------------------------------------------------- the file edited while up waits


def test_an_up_runs_the_topology_it_validated_even_when_the_file_is_edited_while_it_waits(tmp_path: Path) -> None:
    # `up` validated FILE, waited for the home's change lock (a `down` or another `up` running), then read FILE
    # again to write the copy the actors read: an edit saved meanwhile ran unvalidated (here a gate whose
    # freshness window is shorter than a cadence, which validation refuses), with programs.d hashed from the old.
    import fcntl

    import yaml

    from launcher.supervise import Home

    home = Home(tmp_path / "home")
    data = retarget(demo_topology_data())
    topology = write_topology(tmp_path / "t.yaml", data)
    home.run.mkdir(parents=True)
    lock = open(home.run / "change.lock", "a+")
    fcntl.flock(lock, fcntl.LOCK_EX)
    lock.write(f"{os.getpid()} down\n")
    lock.flush()
    up = subprocess.Popen([PYTHON, "-m", "launcher", "up", str(topology), "--home", str(home.root), "--timeout", "60"],
                          cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env_without_password())
    try:
        assert up.stdout is not None
        first = up.stdout.readline()  # "waiting for `clustergate down` (pid N) ...": up has validated FILE
        assert first.startswith("waiting for"), first
        edited = yaml.safe_load(topology.read_text())
        edited["actors"]["gate"]["settings"]["freshness_s"] = 0.5
        topology.write_text(yaml.safe_dump(edited, sort_keys=False))
        lock.close()
        out, _ = up.communicate(timeout=180)
        assert up.returncode == 0, first + out
        running = yaml.safe_load(home.topology.read_text())
        assert running["actors"]["gate"]["settings"]["freshness_s"] == data["actors"]["gate"]["settings"]["freshness_s"]
    finally:
        lock.close()
        if up.poll() is None:
            up.kill()
            up.wait(10)
        clustergate("down", "--home", str(home.root))


# --------------------------------------------------------------------------- an up killed part-way


def test_status_names_a_program_still_running_the_config_an_up_killed_part_way_did_not_apply(tmp_path: Path) -> None:
    # An `up` killed (SIGKILL: deploy's command timeout, an OOM kill, `kill -9`) after it switched the files but
    # before supervisord applied them: status read the new copy as what runs and said every program was RUNNING and
    # ready, exit 0, while the gate ran its old settings until the next `up`.
    import json

    import yaml

    from launcher.supervise import Home

    home = Home(tmp_path / "home")
    data = retarget(demo_topology_data())
    topology = write_topology(tmp_path / "t.yaml", data)
    try:
        up = clustergate("up", str(topology), "--home", str(home.root), "--timeout", "60", env=env_without_password())
        assert up.returncode == 0, up.stdout + up.stderr
        before = clustergate("status", "--home", str(home.root))
        assert before.returncode == 0 and "NOT APPLIED" not in before.stdout, before.stdout + before.stderr
        edited = yaml.safe_load(topology.read_text())
        edited["actors"]["gate"]["settings"]["freshness_s"] = 4
        topology.write_text(yaml.safe_dump(edited, sort_keys=False))
        killed = subprocess.run([PYTHON, "-c", KILLED_BEFORE_UPDATE, "up", str(topology), "--home", str(home.root)],
                                cwd=REPO, capture_output=True, text=True, timeout=120, env=env_without_password())
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        status = clustergate("status", "--home", str(home.root), "--json")
        assert status.returncode == 1, status.stdout + status.stderr
        rows = {row["name"]: row for row in json.loads(status.stdout)["programs"]}
        assert rows["gate"]["config_applied"] is False and rows["book"]["config_applied"] is True, rows
        text = clustergate("status", "--home", str(home.root))
        assert "NOT APPLIED" in text.stdout and "gate" in text.stdout.split("NOT APPLIED")[1].splitlines()[0], text.stdout
        again = clustergate("up", str(topology), "--home", str(home.root), "--timeout", "60", env=env_without_password())
        assert again.returncode == 0, again.stdout + again.stderr
        after = clustergate("status", "--home", str(home.root))
        assert after.returncode == 0 and "NOT APPLIED" not in after.stdout, after.stdout
    finally:
        clustergate("down", "--home", str(home.root))
