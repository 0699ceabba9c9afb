"""Operator attacks on the CLI with real processes (opcli review): what they found beyond the standard streams
(tests/test_cli_output_review.py)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from helpers import PYTHON, REPO, demo_topology_data, retarget, wait_for, write_topology


def clustergate(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CLUSTERGATE_REDIS_PASSWORD"}
    return subprocess.run([PYTHON, "-m", "launcher", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env=env)


def test_an_up_whose_home_is_a_file_or_under_one_is_refused_as_bad_input_naming_that_file(tmp_path: Path) -> None:
    # `up FILE --home FILE` (the topology given twice, a slip under stress) said `FAILED: [Errno 20] Not a directory:
    # 'FILE/run'`, exit 1, the code of an operation that failed, not of bad input.
    topology = write_topology(tmp_path / "t.yaml", retarget(demo_topology_data()))
    text = topology.read_text()
    for home in (topology, topology / "desk"):
        up = clustergate("up", str(topology), "--home", str(home))
        assert up.returncode == 2 and "Traceback" not in up.stderr, up.stdout + up.stderr
        assert up.stderr == (f"FAILED: the home {home}: {topology} is a file, not a directory: --home names the "
                             f"directory of supervisord.conf and run/; nothing was changed\n"), up.stderr
    assert topology.read_text() == text and sorted(tmp_path.iterdir()) == [topology]


def test_a_command_waiting_for_a_change_lock_whose_holder_has_not_named_itself_yet_says_another_command(
        tmp_path: Path) -> None:
    # Two `down`s at once: the second read change.lock between the first's flock and its writing `PID down` there,
    # and said `waiting for `clustergate another command`, applying its change ...`, a command that does not exist.
    import fcntl

    run = tmp_path / "home" / "run"
    run.mkdir(parents=True)
    with open(run / "change.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # taken, its holder's name not written yet
        down = subprocess.Popen([PYTHON, "-m", "launcher", "down", "--home", str(tmp_path / "home")], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = down.stdout.readline()
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
    out, err = down.communicate(timeout=60)
    assert first == (f"waiting for another `clustergate` command, applying its change to {tmp_path / 'home'}, to "
                     f"finish (up to 120 s)\n"), first
    assert down.returncode == 0, first + out + err


def ha_load(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "launcher.ha_load", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_ha_load_refuses_a_topology_it_cannot_act_on_and_arguments_out_of_range_in_one_line(tmp_path: Path) -> None:
    # `python -m launcher.ha_load failover FILE`, the documented planned failover (docs/ha-durability.md), of a topology
    # without Sentinel ended in an AssertionError traceback; a missing file in a SchemaError one, an unknown gate in a
    # ValueError one, `--rate 0` in a ZeroDivisionError one, each exit 1.
    topology = write_topology(tmp_path / "t.yaml", retarget(demo_topology_data()))
    missing = tmp_path / "missing.yaml"
    expected = {
        ("failover", str(topology)): f"{topology}: redis: no sentinel: section: `failover` acts on a Sentinel-managed "
                                     f"store (configs/ha.yaml)",
        ("redis", str(topology)): f"{topology}: redis: no sentinel: section: `redis` acts on a Sentinel-managed "
                                  f"store (configs/ha.yaml)",
        ("failover", str(missing)): f"{missing}: (top level): cannot read topology: No such file or directory",
        ("answers", str(topology), "gate_x"): f"{topology}: no gate named 'gate_x'; its gates: gate",
    }
    for args, line in expected.items():
        result = ha_load(*args)
        assert result.returncode == 2 and result.stdout == "", (args, result.stdout + result.stderr)
        assert result.stderr == line + "\n", (args, result.stderr)
    for args in (["load", str(topology), "--out", str(tmp_path / "calls"), "--rate", "0"],
                 ["load", str(topology), "--out", str(tmp_path / "calls"), "--clients", "0"],
                 ["answers", str(topology), "gate", "--timeout-s", "nan"],
                 ["silent", "tcp://127.0.0.1:1", "--timeout-ms", "0"]):
        result = ha_load(*args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, (args, result.stderr)
        assert result.stderr.splitlines()[-1].startswith("python -m launcher.ha_load"), (args, result.stderr)
    assert sorted(tmp_path.iterdir()) == [topology]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("opcli-review")
    home = tmp / "home"
    up = clustergate("up", str(write_topology(tmp / "demo.yaml", retarget(demo_topology_data()))), "--home", str(home))
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield home
    finally:
        clustergate("monitor", "down", "--home", str(home))
        clustergate("down", "--home", str(home))


def test_ctrl_c_while_monitor_up_waits_says_prometheus_runs_and_how_to_stop_it(demo_home: Path) -> None:
    # Ctrl-C once Prometheus was started, while `monitor up` waited for its first scrapes: exit 130 and not a word,
    # the operator's cancelled monitor left running on a port nobody was told.
    from launcher.monitor import server_ready

    state = demo_home / "run" / "prometheus" / "monitor.json"
    monitor = subprocess.Popen([PYTHON, "-m", "launcher", "monitor", "up", "--home", str(demo_home),
                                "--scrape-interval", "60", "--timeout", "120"], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        import json
        wait_for(lambda: state.exists() and server_ready(json.loads(state.read_text())["url"]), 60,
                 "prometheus started by monitor up answering")
        monitor.send_signal(signal.SIGINT)
        out, err = monitor.communicate(timeout=60)
    finally:
        if monitor.poll() is None:
            monitor.kill()
            monitor.wait(10)
    url = json.loads(state.read_text())["url"]
    assert monitor.returncode == 130 and "Traceback" not in err, out + err
    assert err == (f"interrupted (SIGINT): prometheus was started on {url}; `clustergate monitor status --home "
                   f"{demo_home}` shows when it is ready, `clustergate monitor down --home {demo_home}` stops it\n"), err


def test_status_and_positions_with_a_redis_password_that_is_not_utf8_name_it_without_a_traceback(demo_home: Path) -> None:
    # `up` refuses such a password (test_launcher_attacks); `status` and `positions list` of a running system ended in
    # a UnicodeEncodeError traceback, exit 1, naming neither the variable nor what to do.
    env = {k.encode(): v.encode() for k, v in os.environ.items() if k != "CLUSTERGATE_REDIS_PASSWORD"}
    env[b"CLUSTERGATE_REDIS_PASSWORD"] = b"ab\xffcd"
    said = ("$CLUSTERGATE_REDIS_PASSWORD is not valid UTF-8 (Redis's config file and its clients need text): choose a "
            "password of UTF-8 text")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([PYTHON, "-m", "launcher", *args, "--home", str(demo_home)], cwd=REPO, env=env,
                              capture_output=True, text=True, errors="replace", timeout=120)

    status = run("status")
    assert status.returncode == 1 and "Traceback" not in status.stderr, status.stdout + status.stderr
    assert said in status.stdout, status.stdout
    positions = run("positions", "list")
    assert positions.returncode == 2 and positions.stdout == "", positions.stdout + positions.stderr
    assert positions.stderr == f"clustergate positions: {said}\n", positions.stderr


def test_propose_with_a_server_key_and_no_client_key_is_refused_not_sent_in_plain_text(demo_home: Path,
                                                                                       tmp_path: Path) -> None:
    # The demo's gate takes plain ZeroMQ: `propose --server-key GATE.key` (no --client-key) was sent in plain text to
    # whatever listened there, the key that should have authenticated the gate ignored without a word, exit 0.
    from launcher import curve

    curve.generate_keypair(tmp_path, "gate")
    plan_id = "opcli-server-key-alone"
    args = ["propose", "--home", str(demo_home), "--symbol", "ETHUSDT", "--action", "HOLD", "--plan-id", plan_id]
    refused = clustergate(*args, "--server-key", str(tmp_path / "gate.key"))
    assert refused.returncode == 2 and refused.stdout == "", refused.stdout + refused.stderr
    assert refused.stderr == ("clustergate propose: --server-key is given without --client-key: a CurveZMQ call needs "
                              "this client's certificate too (--client-key NAME, or a path to NAME.key_secret); "
                              "without it the proposal would go in plain text, the gate's key unchecked\n"), refused.stderr
    sent = clustergate(*args)
    assert sent.returncode == 0 and '"replayed": false' in sent.stdout, sent.stdout + sent.stderr  # the first was not


def test_a_proof_given_the_topology_of_another_system_than_its_home_runs_is_refused_before_it_proposes(
        demo_home: Path, tmp_path: Path) -> None:
    # `proof readiness --home HOME --topology FILE` of another system (FILE given by mistake, or the next system's
    # file) read HOME's supervisord and FILE's gate, Redis and metrics: against two running systems it said PASSED in
    # HOME's report, its FULL_CLOSE_PROPOSED permit issued by the other system; a fallback proof stops HOME's
    # cluster side and watches the other's gate.
    other = write_topology(tmp_path / "other.yaml", retarget(demo_topology_data()))
    reports = sorted((demo_home / "run" / "proofs").glob("*.json"))
    proof = clustergate("proof", "readiness", "--home", str(demo_home), "--topology", str(other))
    assert proof.returncode == 2 and "Traceback" not in proof.stderr, proof.stdout + proof.stderr
    lines = proof.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"FAIL  topology: {other} is not the system {demo_home} runs (its "
                                                   f"gate gate at tcp://127.0.0.1:"), proof.stdout
    assert lines[0].endswith(f"): give {demo_home / 'run' / 'topology.yaml'}, or leave --topology out"), lines[0]
    assert sorted((demo_home / "run" / "proofs").glob("*.json")) == reports
    same = clustergate("proof", "readiness", "--home", str(demo_home), "--topology", str(demo_home.parent / "demo.yaml"))
    assert same.returncode == 0, same.stdout + same.stderr  # the file it was started from is that system


def test_a_proof_given_the_file_its_home_was_started_from_with_a_relative_ipc_gate_is_not_called_another_system(
        tmp_path: Path) -> None:
    # revopcli: `up` moves a relative ipc:// endpoint under HOME/run/ipc/ in the running copy; the proof's check compared
    # FILE's text with it and said FILE "is not the system HOME runs", of the very file HOME was started from. A proof
    # given FILE reaches FILE's endpoints as written (relative to its own directory, no gate there): it is still
    # refused, naming why, and the running copy is proved.
    data = retarget(demo_topology_data())
    data["actors"]["gate"]["sockets"]["proposals"]["bind"] = "ipc://gate-proposals.sock"
    topology, home = write_topology(tmp_path / "ipc.yaml", data), tmp_path / "home"
    up = clustergate("up", str(topology), "--home", str(home))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        proof = clustergate("proof", "readiness", "--home", str(home), "--topology", str(topology))
        assert proof.returncode == 2 and "Traceback" not in proof.stderr, proof.stdout + proof.stderr
        assert proof.stdout == (f"FAIL  topology: {topology} is the system {home} runs, but its gate gate at "
                                f"ipc://gate-proposals.sock runs at ipc://{home}/run/ipc/gate-proposals.sock (`up` moves a "
                                f"relative ipc:// path under the home's run/ipc/), which a proof given {topology} would "
                                f"not reach: give {home / 'run' / 'topology.yaml'}, or leave --topology out\n"), proof.stdout
        running = clustergate("proof", "readiness", "--home", str(home))
        assert running.returncode == 0, running.stdout + running.stderr
    finally:
        clustergate("down", "--home", str(home))


def test_an_up_whose_reader_goes_away_waits_for_readiness_to_its_end_and_exits_with_its_own_code(
        tmp_path: Path) -> None:
    # revopcli: `up FILE | head -1` ended at the first "[n/m ready]" line after the reader went (BrokenPipeError, exit
    # 141), while the programs it restarted were still starting: its readiness never checked, where opcli's docs say
    # `up` goes on to its end whatever its output does.
    data = retarget(demo_topology_data())
    home = tmp_path / "home"
    first = clustergate("up", str(write_topology(tmp_path / "t.yaml", data)), "--home", str(home))
    try:
        assert first.returncode == 0, first.stdout + first.stderr
        data["actors"]["gate"]["settings"]["freshness_s"] += 1  # the gate (and what reads it) restarted
        env = {k: v for k, v in os.environ.items() if k != "CLUSTERGATE_REDIS_PASSWORD"}
        up = subprocess.Popen([PYTHON, "-m", "launcher", "up", str(write_topology(tmp_path / "t2.yaml", data)), "--home",
                               str(home)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert up.stdout is not None and up.stdout.readline().startswith("updated demo: ")
        up.stdout.close()  # the reader is gone: every later line is EPIPE
        assert up.wait(120) == 0, up.stderr.read() if up.stderr else ""
        status = clustergate("status", "--home", str(home), "--json")
        assert status.returncode == 0, status.stdout + status.stderr
    finally:
        clustergate("down", "--home", str(home))


# A record as a deploy writes it (launcher/deploy.py), and the line `deploy --history` lists for it.
DEPLOY_RECORD = {"id": "20261207T080000Z-1", "pid": 1, "started": 1796630400, "file": "/desk/next.yaml",
                 "topology": "desk", "hosts": ["ops"], "before": {"ops": None}, "after": {"ops": "desk"}, "proofs": [],
                 "outcome": "applied", "host_states": {"ops": "proved"}, "duration_s": 12.5}


def deploys_jsonl(tmp_path: Path) -> Path:
    records = tmp_path / "home" / "run" / "deploys" / "deploys.jsonl"
    records.parent.mkdir(parents=True)
    return records


def history_listing_only_the_good_record(tmp_path: Path) -> subprocess.CompletedProcess:
    listed = clustergate("deploy", "--history", "--home", str(tmp_path / "home"))
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stdout + listed.stderr
    assert listed.stdout.splitlines()[1:] == ["2026-12-07T08:00:00Z applied      12.5     ops       (nothing)         desk"
                                              "              /desk/next.yaml  [proved]"], listed.stdout
    return listed


def test_deploy_history_skips_and_counts_records_no_deploy_wrote_instead_of_a_traceback(tmp_path: Path) -> None:
    # A line cut short by a crash was skipped; one that is JSON but no record (a hand edit, `5`, `{}`) or bytes that
    # are not UTF-8 (a disk's damage) ended `deploy --history` in a KeyError, AttributeError or UnicodeDecodeError
    # traceback: the history an operator reads after a failed deploy, unreadable whole for one bad line.
    records, good = deploys_jsonl(tmp_path), dict(DEPLOY_RECORD)
    import json
    records.write_bytes(b'{"id": "x"}\n5\n\xff\xfe\n{"id": "cut' + b"\n" + json.dumps(good).encode() + b"\n")
    listed = history_listing_only_the_good_record(tmp_path)
    assert listed.stderr == (f"clustergate deploy: 4 lines of {records} are no deploy record (cut short by a crash, or "
                             f"not written by a deploy): not listed\n"), listed.stderr
    as_json = clustergate("deploy", "--history", "--json", "--home", str(tmp_path / "home"))
    assert as_json.returncode == 0 and [r["id"] for r in json.loads(as_json.stdout)] == [good["id"]], as_json.stdout


def test_deploy_history_skips_json_records_whose_fields_hold_what_no_deploy_writes(tmp_path: Path) -> None:
    # revopcli: the fields opcli checked had the types a deploy writes, the rest of each line was listed as it was:
    # a hand edit's `"proofs": 5`, `"duration_s": "12"`, `"hosts": [["ops"]]`, a `started` past any time, an `after`
    # holding a list, `"host_states": ["ops"]`, each still ended the whole listing in a TypeError, ValueError, OverflowError
    # or AttributeError traceback, exit 1.
    import json
    records, good = deploys_jsonl(tmp_path), dict(DEPLOY_RECORD)
    bad = [{"proofs": 5}, {"duration_s": "12"}, {"hosts": [["ops"]]}, {"started": 1e300}, {"after": {"ops": ["x"]}},
           {"host_states": ["ops"]}, {"before": {"ops": {"a": 1}}}, {"rolled_back": 7, "failed_check": "c"}]
    lines = [json.dumps({**good, "id": f"bad-{n}", **edit}) for n, edit in enumerate(bad)] + [json.dumps(good)]
    records.write_text("\n".join(lines) + "\n")
    listed = history_listing_only_the_good_record(tmp_path)
    assert listed.stderr.startswith(f"clustergate deploy: {len(bad)} lines of {records} are no deploy record"), listed.stderr
    as_json = clustergate("deploy", "--history", "--json", "--home", str(tmp_path / "home"))
    assert as_json.returncode == 0 and [r["id"] for r in json.loads(as_json.stdout)] == [good["id"]], as_json.stdout


def test_a_supervisord_of_no_clustergate_home_answering_on_the_homes_socket_is_left_alone(tmp_path: Path) -> None:
    # `--home /` (a `--home "$DIR/"` of an unset DIR) on a Debian host: /run/supervisor.sock is the machine's own
    # supervisord's. `down` stopped every one of its programs and shut it down; `up` told it to reload and add
    # programs, waited 60 s for programs it never had, exit 1; `status` listed its programs as the home's.
    import sys

    home = tmp_path / "home"
    (home / "run").mkdir(parents=True)
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "supervisord.conf").write_text(
        f"[supervisord]\npidfile={etc}/sd.pid\nlogfile={etc}/sd.log\n"
        f"[unix_http_server]\nfile={home}/run/supervisor.sock\n"
        "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
        "[program:precious]\ncommand=sleep 3600\nstartsecs=0\n")
    supervisord = subprocess.Popen([str(Path(sys.executable).parent / "supervisord"), "-n", "-c",
                                    str(etc / "supervisord.conf")])
    try:
        from launcher.supervise import Home, _Api
        api = lambda: _Api(type("S", (), {"home": Home(home)})(), 5.0)  # noqa: E731 (the foreign supervisord's API)

        def precious() -> str | None:
            try:
                return api().getProcessInfo("precious")["statename"]
            except Exception:
                return None

        wait_for(lambda: precious() == "RUNNING", 30, "the foreign supervisord's program RUNNING")
        refusal = (f"the supervisord answering on {home / 'run' / 'supervisor.sock'} is no clustergate home's (its "
                   f"identifier is 'supervisor', not 'clustergate'; pid {supervisord.pid}): it is left alone; is --home "
                   f"{home} the home you meant?")
        topology = write_topology(tmp_path / "t.yaml", retarget(demo_topology_data()))
        for args in (["down"], ["status"], ["up", str(topology), "--timeout", "20"]):
            result = clustergate(*args, "--home", str(home))
            assert result.returncode == 1 and refusal in result.stdout + result.stderr, (args, result.stdout,
                                                                                           result.stderr)
            assert "precious" not in result.stdout, (args, result.stdout)
            assert precious() == "RUNNING" and supervisord.poll() is None, args
        assert not (home / "supervisord.conf").exists()
    finally:
        supervisord.terminate()
        supervisord.wait(30)
