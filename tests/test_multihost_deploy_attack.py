"""Hostile review of `clustergate deploy` (issue 11): an interrupted deploy and two deploys at once,
with real deploy processes. Each host's command goes through a `--via` prefix that first waits for a
gate file, so a test can hold a deploy between its steps, kill it, or start a second one meanwhile.
Nothing is started on any host (the held command is killed with its deploy), so no root is needed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import wait_for
from launcher.multihost_harness import PASSWORD, side_by_side_data, write_topology


# A held command waits for tmp/go at most about 300 s (6,000 polls), and no longer than the test's tmp dir lives:
# then it exits 1, never runs. Unbounded, a shim whose deploy was stopped while it waited outlived its test for ever
# (one found polling an hour after its test, its tmp dir gone).
HOLD_BOUND = "n=$((${{n:-0}}+1)); [ $n -le 6000 ] && [ -d {tmp} ] || exit 1;"


def _deploy(tmp: Path, topology: Path, *argv: str, ops: str = "ops") -> subprocess.Popen:
    # {host}: the via prefix notes which host's command started ("store env", "store deploy-lock", "store up"); a
    # clustergate command other than the host's deploy lock (and step 1's `env LC_ALL=C cat`) then waits until
    # tmp/go exists, which no test makes unless it says so: the deploy is held on its first `up`.
    via = (f"sh -c 'echo $0 ${{5:-$1}} >> {tmp}/started; [ \"$1\" = env ] || [ \"$5\" = deploy-lock ] || "
           f"while [ ! -e {tmp}/go ]; do {HOLD_BOUND.format(tmp=tmp)} sleep 0.05; done; exec \"$@\"' {{host}}")
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD}
    return subprocess.Popen([sys.executable, "-m", "launcher", "deploy", str(topology), "--via", via,
                             "--home-root", str(tmp / "homes"), "--home", str(tmp / ops), *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True, stdin=subprocess.DEVNULL)


def _history(tmp: Path, ops: str = "ops") -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "launcher", "deploy", "--history", "--json", "--home", str(tmp / ops)],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    proc.communicate(timeout=30)


@pytest.fixture
def topology(tmp_path: Path) -> Path:
    return write_topology(tmp_path, side_by_side_data(tmp_path))


def _started(tmp: Path) -> list[str]:
    path = tmp / "started"
    return path.read_text().splitlines() if path.exists() else []


def _changing(tmp: Path) -> list[str]:
    """The commands started on the hosts other than reads of their copy and their deploy locks."""
    return [line for line in _started(tmp) if not line.endswith((" env", " deploy-lock"))]


def _end_lock_holder_and_stop(holder: subprocess.Popen | None, home: Path) -> None:
    """End a `deploy-lock` the test started by hand (if any), then stop what runs in the host's home."""
    if holder is not None:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
    subprocess.run([sys.executable, "-m", "launcher", "down", "--home", str(home)], capture_output=True, timeout=120,
                   stdin=subprocess.DEVNULL)


def test_a_killed_deploy_is_listed_by_history_as_interrupted_with_the_host_it_was_on(tmp_path, topology):
    deploy = _deploy(tmp_path, topology)
    try:
        # the three `cat run/topology.yaml` of step 1, then the first host's `up`
        wait_for(lambda: "store up" in _started(tmp_path), 60, "the deploy to reach its first host's up")
    finally:
        _kill_group(deploy)
    records = _history(tmp_path)
    assert len(records) == 1, records
    record = records[0]
    assert record["outcome"] == "interrupted"
    assert record["host_states"] == {"store": "applying", "market": "not reached", "exec": "not reached"}


def test_a_second_deploy_while_one_runs_exits_2_naming_the_running_one(tmp_path, topology):
    first = _deploy(tmp_path, topology)
    try:
        wait_for(lambda: len(_started(tmp_path)) >= 1, 60, "the first deploy to start")
        second = _deploy(tmp_path, topology)
        try:
            out, err = second.communicate(timeout=60)
        finally:
            if second.poll() is None:
                _kill_group(second)
        assert second.returncode == 2, out + err
        assert f"another deploy is running (pid {first.pid}" in err, err
    finally:
        _kill_group(first)


def test_a_deploy_from_another_deploy_home_is_refused_while_one_changes_the_same_hosts(tmp_path, topology):
    """Two deploys from two deploy homes (two operators' machines) each hold only their own home's deploy lock, and
    each host's `up` only that host's change lock: the second went on while the first was held at store's `up`,
    and the two could interleave host by host, store ending on one's topology and market on the other's. The
    second is refused, naming the first, before it reads or changes any host. Once the first deploy dies (its own
    process killed: the hosts' lock holders see their input end), the next deploy goes on."""
    import fcntl

    first = _deploy(tmp_path, topology)
    second = third = None
    try:
        wait_for(lambda: "store up" in _started(tmp_path), 60, "the first deploy to reach store's up")
        second = _deploy(tmp_path, topology, ops="ops-2")
        wait_for(lambda: second.poll() is not None or _started(tmp_path).count("store up") > 1, 60,
                 "the second deploy to end or reach store's up")
        assert _started(tmp_path).count("store up") == 1, "the second deploy went on while the first changed store"
        out, err = second.communicate(timeout=30)
        assert second.returncode == 2, out + err
        assert "another deploy is changing" in err and f"pid {first.pid}" in err, err
        assert str(tmp_path / "ops") in err and "nothing was changed on any host" in err, err
        assert _changing(tmp_path) == ["store up"] and _started(tmp_path).count("store env") == 1, _started(tmp_path)
        [record] = _history(tmp_path, "ops-2")
        assert record["outcome"] == "refused" and f"pid {first.pid}" in record["refused"], record
        os.kill(first.pid, signal.SIGKILL)  # the deploy only: not the processes it started
        first.communicate(timeout=30)
        locks = [tmp_path / "homes" / host / "run" / "deploying.lock" for host in ("store", "market", "exec")]

        def free(path: Path) -> bool:
            with open(path, "a") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    return False

        wait_for(lambda: all(free(path) for path in locks), 30, "the killed deploy's host locks to be released")
        third = _deploy(tmp_path, topology, ops="ops-2")
        wait_for(lambda: _started(tmp_path).count("store up") == 2, 60, "the next deploy to reach store's up")
    finally:
        for proc in (third, second, first):
            if proc is not None:
                _kill_group(proc)


def test_a_host_that_cannot_be_reached_before_the_deploy_is_not_taken_for_one_that_runs_nothing(tmp_path, topology):
    # market's command prefix fails (as ssh does with 255 for a host it cannot reach); the others would
    # run, but every clustergate command is only noted, never run (exit 99).
    via = (f"sh -c 'echo $0 ${{5:-$1}} >> {tmp_path}/started; [ $0 = market ] && exit 255; [ \"$1\" = env ] || "
           f"[ \"$5\" = deploy-lock ] || exit 99; exec \"$@\"' {{host}}")
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD}
    result = subprocess.run([sys.executable, "-m", "launcher", "deploy", str(topology), "--via", via,
                             "--home-root", str(tmp_path / "homes"), "--home", str(tmp_path / "ops"),
                             "--proof-timeout", "1"], capture_output=True, text=True, env=env, timeout=300,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot lock market against other deploys" in result.stderr, result.stdout + result.stderr
    assert "nothing was changed on any host" in result.stderr, result.stderr
    assert _changing(tmp_path) == [], "nothing was changed on any host"


@pytest.mark.parametrize("ask", ["status --all-hosts", "up's readiness wait"])
def test_a_stalled_redis_is_asked_once_instead_of_retried_for_seconds(tmp_path, monkeypatch, ask):
    """redis-py 6+ retries a timed-out call with backoff: `status --all-hosts` with the store's Redis
    stopped (SIGSTOP) took 15 s instead of its 1 s deadline. Counted without a clock: the connections
    the stalled server finds waiting once it resumes are the attempts of one status."""
    import redis

    from helpers import free_port
    from launcher.redis_binary import find_redis_server
    from launcher.hosts_status import _ask_redis
    from launcher.supervise import redis_ready
    from launcher.topology import load_topology
    monkeypatch.setenv("CLUSTERGATE_REDIS_PASSWORD", PASSWORD)
    data = side_by_side_data(tmp_path)
    data["redis"]["port"] = port = free_port()
    topo = load_topology(write_topology(tmp_path, data, "stall.yaml"))
    server = subprocess.Popen([find_redis_server(), "--port", str(port), "--bind", topo.redis.bind_address,
                               "--requirepass", PASSWORD, "--save", "", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        admin = redis.Redis(host=topo.redis.bind_address, port=port, password=PASSWORD, socket_timeout=5)
        wait_for(lambda: _ping(admin), 10, "redis-server to answer")
        before = admin.info("stats")["total_connections_received"]
        server.send_signal(signal.SIGSTOP)
        try:
            answered = _ask_redis(topo)["reached"] if ask == "status --all-hosts" else redis_ready(topo)
        finally:
            server.send_signal(signal.SIGCONT)
        assert answered is False
        wait_for(lambda: admin.info("stats")["total_connections_received"] - before >= 1, 10, "the attempt counted")
        assert admin.info("stats")["total_connections_received"] - before == 1
    finally:
        server.kill()
        server.wait(10)


def _ping(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def test_a_deploy_stopped_with_ctrl_c_exits_130_and_records_where_each_host_was(tmp_path, topology):
    deploy = _deploy(tmp_path, topology)
    try:
        wait_for(lambda: "store up" in _started(tmp_path), 60, "the deploy to reach its first host's up")
        deploy.send_signal(signal.SIGINT)  # the deploy only, as a terminal's Ctrl-C reaches it
        out, err = deploy.communicate(timeout=60)
    finally:
        if deploy.poll() is None:
            _kill_group(deploy)
    assert deploy.returncode == 130, out + err
    assert "deploy interrupted" in err and "Traceback" not in err, err
    [record] = _history(tmp_path)
    assert record["outcome"] == "interrupted" and "finished" in record
    assert record["host_states"] == {"store": "applying", "market": "not reached", "exec": "not reached"}


def test_a_topology_file_edited_during_a_deploy_is_applied_to_no_host(tmp_path, topology):
    # Each host's `up` read FILE again when its turn came: an edit saved while the deploy ran (or a host whose
    # copy at that path differs) was applied to the hosts after it, unvalidated by the deploy, while its record
    # named the hash it had validated for every host. Here store's `up` is held until the file has changed.
    import yaml

    from launcher.supervise import Home, home_processes

    deploy = _deploy(tmp_path, topology, "--proof-timeout", "1", "--up-timeout", "30")
    homes = [Home(tmp_path / "homes" / host) for host in ("store", "market", "exec")]
    try:
        wait_for(lambda: "store up" in _started(tmp_path), 60, "the deploy to reach its first host's up")
        edited = yaml.safe_load(topology.read_text())
        edited["clusters"]["corr_threshold"] = 0.5
        topology.write_text(yaml.safe_dump(edited, sort_keys=False))
        (tmp_path / "go").touch()
        out, err = deploy.communicate(timeout=300)
        assert deploy.returncode == 1 and "Traceback" not in err, out + err
        assert "is not the text the deploy validated" in out, out
        for home in homes:
            assert not home.programs.exists() and home_processes(home) == [], (home, out)
        [record] = _history(tmp_path)
        assert record["host_states"]["store"] == "stopped" and record["failed_host"] == "store", record
    finally:
        if deploy.poll() is None:
            _kill_group(deploy)
        for home in homes:
            subprocess.run([sys.executable, "-m", "launcher", "down", "--home", str(home.root)], capture_output=True,
                           timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("option,value", [("--up-timeout", "nan"), ("--up-timeout", "-5"),
                                          ("--proof-timeout", "nan"), ("--proof-timeout", "inf")])
def test_a_timeout_that_is_no_finite_number_of_seconds_is_refused_before_any_host_is_touched(tmp_path, topology,
                                                                                             option, value):
    # deploy took any float: the deploy began, each host's `up` refused `--timeout nan` (exit 2) and deploy rolled
    # that host back, a typo costing a failed deploy and a rollback; a proof timeout of nan or inf waited unbounded.
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD}
    via = f"sh -c 'echo $0 $1 >> {tmp_path}/started; exit 99' {{host}}"
    result = subprocess.run([sys.executable, "-m", "launcher", "deploy", str(topology), option, value, "--via", via,
                             "--home-root", str(tmp_path / "homes"), "--home", str(tmp_path / "ops")],
                            capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"argument {option}: {value!r}: give a finite number of seconds" in result.stderr, result.stderr
    assert _started(tmp_path) == [] and not (tmp_path / "ops" / "run" / "deploys").exists()


def test_an_up_a_killed_deploy_left_on_its_way_to_a_host_changes_nothing_once_that_deploy_lost_the_host(
        tmp_path, topology):
    """A deploy killed while its `up` was on its way to a host (an ssh connection still opening, a Python still
    starting) freed the host's deploy lock at once, but that `up` went on and applied the dead deploy's topology:
    after the next deploy had read or changed the host, which then ran the killed deploy's system. An `up` a deploy
    starts carries its id and changes nothing unless that deploy still holds the host's lock. Here the via prefix
    holds store's `up` until tmp/go exists, runs it with its output in a file, and notes its exit."""
    from launcher.supervise import Home, home_processes

    via = (f"sh -c 'echo $0 ${{5:-$1}} >> {tmp_path}/started; [ \"$1\" = env ] || [ \"$5\" = deploy-lock ] || "
           f"{{ while [ ! -e {tmp_path}/go ]; do {HOLD_BOUND.format(tmp=tmp_path)} sleep 0.05; done; \"$@\" > {tmp_path}/$0-$5.out 2>&1; "
           f"echo $0 $5 exit $? >> {tmp_path}/ended; exit 0; }}; exec \"$@\"' {{host}}")
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD}
    deploy = subprocess.Popen([sys.executable, "-m", "launcher", "deploy", str(topology), "--via", via, "--home-root",
                               str(tmp_path / "homes"), "--home", str(tmp_path / "ops"), "--up-timeout", "20"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                              start_new_session=True, stdin=subprocess.DEVNULL)
    store = Home(tmp_path / "homes" / "store")
    ended = tmp_path / "ended"
    try:
        wait_for(lambda: "store up" in _started(tmp_path), 60, "the deploy to reach store's up")
        os.kill(deploy.pid, signal.SIGKILL)  # the deploy only: its `up` on its way to store goes on
        deploy.communicate(timeout=30)
        (tmp_path / "go").touch()
        wait_for(lambda: ended.exists() and "store up exit" in ended.read_text(), 120, "the killed deploy's up to end")
        said = (tmp_path / "store-up.out").read_text()
        assert ended.read_text().split() == ["store", "up", "exit", "2"], said
        assert "no longer holds" in said and "nothing was changed" in said, said
        assert not (store.run / "topology.yaml").exists() and home_processes(store) == [], said
    finally:
        if deploy.poll() is None:
            _kill_group(deploy)
        wait_for(lambda: ended.exists() or not (tmp_path / "go").exists(), 120, "the held up to end")
        subprocess.run([sys.executable, "-m", "launcher", "down", "--home", str(store.root)], capture_output=True,
                       timeout=120, stdin=subprocess.DEVNULL)


def test_a_deploy_lock_holder_named_with_control_characters_and_a_huge_line_is_shown_printable_and_short(
        tmp_path, topology):
    """`deploy-lock` wrote whatever its input's first line held into the lock, and a refused deploy printed it to the
    operator's terminal and to `deploy --history`: escape sequences (a cleared screen, a recoloured or overwritten
    line), carriage returns and bells went through, and a line of any length was read whole. Here a hand-started
    `deploy-lock` names itself so: the refusal shows it with those characters replaced and cut short."""
    hostile = "x\x1b[2J\x1b[31mowned\r\x07 $(id) `id`; rm -rf ~ " + "A" * 200_000
    holder = subprocess.Popen([sys.executable, "-m", "launcher", "deploy-lock", "--home", str(tmp_path / "homes" / "exec")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write(hostile.encode() + b"\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == b"held\n"
        deploy = _deploy(tmp_path, topology)
        out, err = deploy.communicate(timeout=120)
        assert deploy.returncode == 2, out + err
        assert "another deploy is changing exec: x?[2J?[31mowned?? $(id) `id`; rm -rf ~ AAA" in err, err
        assert len(err) < 2000, len(err)
        shown = subprocess.run([sys.executable, "-m", "launcher", "deploy", "--history", "--home", str(tmp_path / "ops")],
                               capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert "refused: another deploy is changing exec: x?[2J" in shown.stdout, shown.stdout
        for said in (err, shown.stdout):
            assert not any(c in said for c in "\x1b\r\x07"), said
        assert (tmp_path / "homes" / "exec" / "run" / "deploying.lock").stat().st_size <= 500
    finally:
        holder.stdin.close()
        holder.wait(30)


def test_a_deploy_that_lost_a_hosts_lock_does_not_roll_that_host_back_over_what_changed_it_since(tmp_path, topology):
    """A deploy whose `deploy-lock` on a host ended under it (killed, its ssh connection dropped) no longer owns that
    host: another deploy may take the lock and change it. Its own `up` there then refuses, and its rollback stopped the
    host (it ran nothing before the deploy), throwing away what the other had started. Here store's lock holder is
    killed while store's `up` is held, another holder takes the lock and store is started by hand meanwhile; the
    deploy fails and leaves store running, naming it as not rolled back."""
    from launcher.supervise import Home, home_processes

    store = Home(tmp_path / "homes" / "store")
    deploy = _deploy(tmp_path, topology, "--host", "store", "--proof-timeout", "1")
    other = None
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD}
    try:
        wait_for(lambda: "store up" in _started(tmp_path), 60, "the deploy to reach store's up")
        lock_holders = subprocess.run(["pgrep", "-f", f"deploy-lock --home {store.root}"], capture_output=True,
                                      text=True, timeout=30).stdout.split()
        assert len(lock_holders) == 1, lock_holders
        os.kill(int(lock_holders[0]), signal.SIGKILL)
        other = subprocess.Popen([sys.executable, "-m", "launcher", "deploy-lock", "--home", str(store.root)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert other.stdin is not None and other.stdout is not None
        other.stdin.write(b"deploy other-one from elsewhere\n")
        other.stdin.flush()
        assert other.stdout.readline() == b"held\n"
        started = subprocess.run([sys.executable, "-m", "launcher", "up", str(topology), "--host", "store", "--home",
                                  str(store.root), "--timeout", "30"], capture_output=True, text=True, env=env,
                                 timeout=120, stdin=subprocess.DEVNULL)
        assert started.returncode == 0, started.stdout + started.stderr
        (tmp_path / "go").touch()
        out, err = deploy.communicate(timeout=200)
        assert deploy.returncode == 1, out + err
        assert "no longer holds" in out and "store not rolled back" in out, out
        assert home_processes(store) != [] and store.topology.exists(), out
        [record] = _history(tmp_path)
        assert record["host_states"] == {"store": "lock lost"} and record["outcome"] == "rollback failed", record
    finally:
        if deploy.poll() is None:
            _kill_group(deploy)
        _end_lock_holder_and_stop(other, store.root)


def test_history_of_a_deploy_refused_before_it_read_the_hosts_does_not_say_they_ran_nothing(tmp_path, topology):
    """A deploy refused at the hosts' locks never read what they run, but `deploy --history` showed BEFORE
    `(nothing)` for each, what it shows for a host read as running nothing: an operator looking back at a refused
    deploy on production read that its hosts had been empty. A host never read shows `-`."""
    holder = subprocess.Popen([sys.executable, "-m", "launcher", "deploy-lock", "--home", str(tmp_path / "homes" / "market")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write(b"deploy other-one from elsewhere\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == b"held\n"
        deploy = _deploy(tmp_path, topology)
        out, err = deploy.communicate(timeout=120)
        assert deploy.returncode == 2, out + err
        shown = subprocess.run([sys.executable, "-m", "launcher", "deploy", "--history", "--home", str(tmp_path / "ops")],
                               capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        rows = [line.split() for line in shown.stdout.splitlines() if "[not reached]" in line]
        assert len(rows) == 3 and "(nothing)" not in shown.stdout, shown.stdout
        assert [row[row.index(host) + 1] for row, host in zip(rows, ("store", "market", "exec"))] == ["-"] * 3, rows
    finally:
        holder.stdin.close()
        holder.wait(30)


def test_a_host_command_past_its_timeout_is_asked_to_stop_before_it_is_killed(tmp_path: Path) -> None:
    """A host's `up` that outlived the deploy's command timeout was SIGKILLed at once: an `up` killed after it switched
    the program files leaves them half-applied (status: NOT APPLIED), where SIGTERM is deferred by `up` until the
    change it is applying is whole (DeferredInterrupt). The command is now sent SIGTERM, and SIGKILL only after a grace period."""
    import argparse

    from launcher.deploy import run_on
    marker = tmp_path / "terminated"
    script = (f"trap 'echo asked to stop > {marker}; exit 143' TERM; echo started; "
              f"while :; do sleep 0.05; done")
    args = argparse.Namespace(via=None)
    result = run_on(args, None, "market", ["sh", "-c", script], timeout_s=1.0)  # type: ignore[arg-type]
    assert result.returncode == 124 and "timed out after 1 s" in result.stderr, result
    assert "started" in result.stdout, result
    assert marker.exists(), "the host command was killed without being asked to stop first"


def test_a_host_command_that_ignores_sigterm_past_its_timeout_is_killed_after_the_grace(tmp_path: Path,
                                                                                         monkeypatch) -> None:
    import argparse

    import launcher.deploy as deploy
    monkeypatch.setattr(deploy, "STOP_GRACE_S", 0.5)
    script = "trap '' TERM; echo started; while :; do sleep 0.05; done"
    result = deploy.run_on(argparse.Namespace(via=None), None, "market", ["sh", "-c", script],  # type: ignore[arg-type]
                           timeout_s=0.5)
    assert result.returncode == 124 and "killed (SIGKILL) 0.5 s after SIGTERM" in result.stderr, result
    assert "started" in result.stdout, result


def _deploy_store(tmp: Path, topology: Path, via: str, proof_timeout: str) -> subprocess.CompletedProcess:
    """`deploy --host store` through the --via prefix via, to its end."""
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD}
    return subprocess.run([sys.executable, "-m", "launcher", "deploy", str(topology), "--host", "store", "--via", via,
                           "--home-root", str(tmp / "homes"), "--home", str(tmp / "ops"),
                           "--proof-timeout", proof_timeout], capture_output=True, text=True, env=env, timeout=300,
                          stdin=subprocess.DEVNULL)


def test_a_rollback_that_leaves_nothing_running_is_checked_for_that_and_reported_rolled_back(tmp_path, topology):
    """store ran nothing before the deploy; its `up` fails (refused here by the --via prefix) and the rollback stops
    it, as it was. The proof after that rollback proved the new topology, which nothing runs: it waited its own fixed
    graces (about 23 s, whatever --proof-timeout said) and the deploy reported `rollback failed`. Now the check after
    such a rollback is that each host stopped runs nothing, within --proof-timeout, and the deploy says rolled back."""
    via = "sh -c 'case \" $* \" in *\" up \"*) echo up refused by the test >&2; exit 7;; esac; exec \"$@\"' {host}"
    result = _deploy_store(tmp_path, topology, via, "3")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "readiness proof after the rollback" not in out, out
    assert "the check after the rollback (each host rolled back runs nothing, as before) passed" in out, out
    [record] = _history(tmp_path)
    assert (record["outcome"], record["host_states"], record["proved_after_rollback"]) == (
        "rolled back", {"store": "stopped"}, True), record
    assert record["proofs"] == [], record  # no proof ran: the new topology never came up, the old one was nothing


def test_a_host_whose_rollback_to_nothing_failed_is_checked_too_and_not_reported_passed(tmp_path, topology):
    """store ran nothing before; its `up` left a process of its home running and failed, and its rollback (`down`)
    failed too. The check after a rollback to nothing asked only the hosts whose `down` succeeded: none, so it
    "passed" and the record said proved_after_rollback while store still ran the new topology's process. Each host
    that ran nothing before is asked now, whatever its rollback command said."""
    store = tmp_path / "homes" / "store"
    fake = (f"{sys.executable} -c \"import time; time.sleep(300)\" actors.gate --topology {store}/run/topology.yaml "
            f"</dev/null >/dev/null 2>&1 & echo $! > {tmp_path}/fake.pid;")
    via = (f"sh -c 'case \" $* \" in *\" up \"*) {fake} echo up failed after starting >&2; exit 7;; "
           f"*\" down \"*) echo down refused by the test >&2; exit 9;; esac; exec \"$@\"' {{host}}")
    try:
        result = _deploy_store(tmp_path, topology, via, "2")
    finally:
        if (tmp_path / "fake.pid").exists():
            try:
                os.kill(int((tmp_path / "fake.pid").read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "check after the rollback: store run(s) nothing" in out, out
    assert "passed" not in out.splitlines()[-2], out
    [record] = _history(tmp_path)
    assert (record["outcome"], record["host_states"], record["proved_after_rollback"]) == (
        "rollback failed", {"store": "rollback failed"}, False), record


def test_the_check_after_a_rollback_to_nothing_gives_up_on_a_host_that_does_not_answer_within_proof_timeout(
        tmp_path, topology):
    """The check after a rollback to nothing is bounded by --proof-timeout (docs/multihost-and-deploy.md); a host
    whose `status` hangs (ssh to a host gone) was waited for 60 s per ask, whatever
    --proof-timeout said. A status not answered by the end of --proof-timeout (at least STATUS_ASK_MIN_S) counts as
    not seen running nothing."""
    from launcher.deploy import STATUS_ASK_MIN_S
    via = (f"sh -c 'case \" $* \" in *\" up \"*) echo up refused by the test >&2; exit 7;; "
           f"*\" down \"*) touch {tmp_path}/downed;; *\" status \"*) [ -e {tmp_path}/downed ] && exec sleep 300;; "
           f"esac; exec \"$@\"' {{host}}")
    result = _deploy_store(tmp_path, topology, via, "1")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "store not seen running nothing" in out, out
    [record] = _history(tmp_path)
    assert (record["outcome"], record["proved_after_rollback"]) == ("rolled back", False) or (
        record["outcome"] == "rollback failed" and record["proved_after_rollback"] is False), record
    assert record["rollback_s"] < STATUS_ASK_MIN_S + 15, record  # 65 s and more before


def test_a_rollback_down_a_killed_deploy_left_on_its_way_to_a_host_stops_nothing_once_that_deploy_lost_the_host(
        tmp_path, topology):
    """store ran nothing before; its `up` failed and the rollback's `down` was on its way to it (an ssh connection
    opening) when the deploy was killed: the host's deploy lock freed at once, another deploy took it and started
    store, and then that `down` arrived and stopped it. A rollback's `up` carried the deploy's id and refused; its
    `down` did not. Here the via prefix refuses store's `up` and holds its `down` until tmp/go exists."""
    from launcher.supervise import Home, home_processes

    via = (f"sh -c 'echo $0 ${{5:-$1}} >> {tmp_path}/started; case \" $* \" in *\" up \"*) exit 7;; "
           f"*\" down \"*) while [ ! -e {tmp_path}/go ]; do {HOLD_BOUND.format(tmp=tmp_path)} sleep 0.05; done; "
           f"\"$@\" > {tmp_path}/$0-$5.out 2>&1; echo $0 $5 exit $? >> {tmp_path}/ended; exit 0;; esac; "
           f"exec \"$@\"' {{host}}")
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD}
    deploy = subprocess.Popen([sys.executable, "-m", "launcher", "deploy", str(topology), "--host", "store", "--via",
                               via, "--home-root", str(tmp_path / "homes"), "--home", str(tmp_path / "ops"),
                               "--proof-timeout", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, start_new_session=True, stdin=subprocess.DEVNULL)
    store = Home(tmp_path / "homes" / "store")
    ended = tmp_path / "ended"
    other = None
    try:
        wait_for(lambda: "store down" in _started(tmp_path), 60, "the deploy's rollback to reach store's down")
        os.kill(deploy.pid, signal.SIGKILL)  # the deploy only: its `down` on its way to store goes on
        deploy.communicate(timeout=30)

        def another_deploy_holds_store() -> bool:
            nonlocal other
            other = subprocess.Popen([sys.executable, "-m", "launcher", "deploy-lock", "--home", str(store.root)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            assert other.stdin is not None and other.stdout is not None
            other.stdin.write(b"deploy other-one from elsewhere\n")
            other.stdin.flush()
            if other.stdout.readline() == b"held\n":
                return True
            other.stdin.close()
            other.wait(30)
            other = None
            return False
        wait_for(another_deploy_holds_store, 60, "the killed deploy's lock on store to free")
        started = subprocess.run([sys.executable, "-m", "launcher", "up", str(topology), "--host", "store", "--home",
                                  str(store.root), "--timeout", "30"], capture_output=True, text=True, env=env,
                                 timeout=120, stdin=subprocess.DEVNULL)
        assert started.returncode == 0, started.stdout + started.stderr
        (tmp_path / "go").touch()
        wait_for(lambda: ended.exists() and "store down exit" in ended.read_text(), 120, "the killed deploy's down")
        said = (tmp_path / "store-down.out").read_text()
        assert ended.read_text().split() == ["store", "down", "exit", "2"], said
        assert "no longer holds" in said and "nothing was changed" in said, said
        assert home_processes(store) != [] and store.topology.exists(), said
    finally:
        if deploy.poll() is None:
            _kill_group(deploy)
        (tmp_path / "go").touch()
        wait_for(lambda: ended.exists() or not _started(tmp_path), 120, "the held down to end")
        _end_lock_holder_and_stop(other, store.root)


def test_a_rollback_that_loses_a_hosts_lock_on_its_way_says_lock_lost_and_does_not_judge_that_host(tmp_path, topology):
    """store ran nothing before; its `up` failed, and its deploy lock ended (its holder killed) after the deploy
    checked it and before the rollback's `down` reached store, which refused. The deploy recorded store `rollback
    failed` and then judged it in the check after the rollback, as if its `down` had failed, though another deploy may
    own it now. It is recorded `lock lost` and named not rolled back, as a lock found lost before the `down`. Here the
    via prefix refuses store's `up` and, for its `down`, first kills store's `deploy-lock`."""
    store = tmp_path / "homes" / "store"
    # deploy-loc[k]: a pattern that does not match this shell's own command line, which holds it
    kill_lock = (f"for p in $(pgrep -f \"deploy-loc[k] --home {store}\"); do kill -9 $p; done; "
                 f"while pgrep -f \"deploy-loc[k] --home {store}\" >/dev/null; do {HOLD_BOUND.format(tmp=tmp_path)} "
                 f"sleep 0.05; done")
    via = (f"sh -c 'case \" $* \" in *\" up \"*) exit 7;; *\" down \"*) {kill_lock};; esac; exec \"$@\"' {{host}}")
    result = _deploy_store(tmp_path, topology, via, "2")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "store not rolled back: this deploy no longer holds its deploy lock" in out, out
    assert "check after the rollback: no host run(s) nothing" in out, out
    [record] = _history(tmp_path)
    assert (record["outcome"], record["host_states"]) == ("rollback failed", {"store": "lock lost"}), record
