"""Minor CLI defects a review reproduced against real processes and left (minorcli): each refusal names what is wrong,
with the CLI's exit codes (2 bad input, 1 the operation failed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from helpers import PYTHON, REPO, demo_topology_data, retarget, write_topology


def clustergate(*args: str | bytes, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CLUSTERGATE_REDIS_PASSWORD"}
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    return subprocess.run([PYTHON, "-m", "launcher", *args], cwd=REPO, text=True, errors="replace", timeout=timeout,
                          env={**env, **kwargs.pop("env", {})}, **{**streams, **kwargs})


def test_a_home_that_is_not_utf8_is_refused_as_bad_input_by_every_command_that_takes_one(tmp_path: Path) -> None:
    # `up --home $'/x\xff'` exited 1 once it came to write supervisord.conf ("text that is not valid UTF-8"), the code
    # of a failed operation, for an argument no command can use: supervisord's config and its socket path are text.
    topology = write_topology(tmp_path / "demo.yaml", retarget(demo_topology_data()))
    home = os.fsencode(tmp_path) + b"/homes/x\xff"
    for command in (["up", str(topology)], ["down"], ["status"], ["deploy-lock"]):
        done = clustergate(*command, b"--home", home, stdin=subprocess.DEVNULL)
        assert done.returncode == 2 and done.stdout == "", (command, done.stdout + done.stderr)
        assert "--home" in done.stderr and "not valid UTF-8" in done.stderr, (command, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
    assert sorted(tmp_path.iterdir()) == [topology]


def test_an_expected_sha256_that_is_not_one_is_refused_naming_the_value_not_called_an_edited_file(tmp_path: Path) -> None:
    # `up FILE --expect-sha256 zz` said "is not the text the deploy validated ... the file was edited during the
    # deploy": a typo in the hash sent the operator looking for an edit nobody made.
    topology = write_topology(tmp_path / "demo.yaml", retarget(demo_topology_data()))
    for given in ("zz", "", "ab" * 31, "g" * 64):
        done = clustergate("up", str(topology), "--home", str(tmp_path / "home"), "--expect-sha256", given)
        assert done.returncode == 2 and done.stdout == "", (given, done.stdout + done.stderr)
        assert f"argument --expect-sha256: {given!r} is not a SHA-256 (64 hexadecimal digits)" in done.stderr, done.stderr
        assert "edited" not in done.stderr, done.stderr
    assert sorted(tmp_path.iterdir()) == [topology]


def test_prometheus_config_refuses_a_blank_rule_file_or_output_naming_the_option(tmp_path: Path) -> None:
    # `--rule-file ""` (a script's `--rule-file "$RULES"` with the variable unset) wrote `rule_files: ['']`, which
    # Prometheus then refused at its start; `--output ""` wrote the config to standard output instead.
    topology = write_topology(tmp_path / "demo.yaml", retarget(demo_topology_data()))
    for option, blank in (("--rule-file", ""), ("--rule-file", "  "), ("--output/-o", "")):
        done = clustergate("prometheus-config", str(topology), option.split("/")[0], blank)
        assert done.returncode == 2 and done.stdout == "", (option, blank, done.stdout + done.stderr)
        assert f"argument {option}: {blank!r} is blank: give " in done.stderr, done.stderr
    written = clustergate("prometheus-config", str(topology), "--rule-file", "a.yml", "--rule-file", "b.yml")
    assert written.returncode == 0 and "rule_files:\n- a.yml\n- b.yml\n" in written.stdout, written.stdout + written.stderr


def test_validate_says_in_one_line_that_an_external_redis_takes_no_port_whatever_the_port_holds(tmp_path: Path) -> None:
    # `redis.port: null` beside a url gave two lines for one key: "expected an integer, got nothing (null)", then
    # "is for the redis-server the launcher runs ...: remove it"; an integer there would only have led to the second.
    data = retarget(demo_topology_data())
    url = f"redis://127.0.0.1:{data['redis']['port']}/0"
    for key, value in (("port", None), ("port", "x"), ("maxmemory_mb", None), ("maxmemory_mb", -1)):
        data["redis"] = {"url": url, key: value}
        topology = write_topology(tmp_path / "external.yaml", data)
        done = clustergate("validate", str(topology))
        said = done.stdout.splitlines()
        assert done.returncode == 2 and len(said) == 1, (key, value, done.stdout + done.stderr)
        assert said[0].endswith(f": redis.{key}: is for the redis-server the launcher runs (redis.managed: true); an "
                                f"external Redis keeps its own: remove it"), said


def test_help_that_standard_output_refuses_fails_in_one_line_as_other_output_does() -> None:
    # `clustergate --help > /dev/full` exited 0 with nothing written: argparse drops an OSError while it prints, so a
    # script's `clustergate status --help > usage.txt` on a full disk passed; every other refused output exits 1
    # (launcher/std_streams.py).
    for args in (["--help"], ["status", "--help"], ["propose", "--help"], ["proof", "--help"], ["backtest", "--help"]):
        with open("/dev/full", "w") as full:
            done = clustergate(*args, stdout=full)
        named = "" if args[0] == "--help" else f" {args[0]}"
        assert done.returncode == 1, (args, done.stderr)
        assert done.stderr == f"clustergate{named}: cannot write to standard output: No space left on device\n", (
            args, done.stderr)
        shown = clustergate(*args)
        assert shown.returncode == 0 and shown.stdout.startswith("usage: clustergate"), (args, shown.stderr)


def test_ha_load_refuses_an_out_it_cannot_write_and_calls_it_cannot_read_in_one_line(tmp_path: Path) -> None:
    # `ha_load load --out DIR` ended in an IsADirectoryError traceback, `ha_load audit --calls MISSING` in a
    # FileNotFoundError one (exit 1 each), naming neither the option nor what to give.
    topology = write_topology(tmp_path / "demo.yaml", retarget(demo_topology_data()))
    garbled = tmp_path / "garbled.jsonl"
    garbled.write_text('{"plan": "p1", "reply": null, "proposal": {}}\n{"plan": "p2"}\n')
    expected = {
        ("load", "--out", str(tmp_path)): f"python -m launcher.ha_load load: --out {tmp_path}: cannot write the calls "
                                          f"there: Is a directory",
        ("load", "--out", str(tmp_path / "no" / "calls")): f"python -m launcher.ha_load load: --out {tmp_path}/no/calls: "
                                                           f"cannot write the calls there: No such file or directory",
        ("audit", "--calls", str(tmp_path / "missing"), "--prefix", "p"): (
            f"python -m launcher.ha_load audit: --calls {tmp_path}/missing: cannot read it: No such file or directory"),
        ("audit", "--calls", str(garbled), "--prefix", "p"): (
            f"python -m launcher.ha_load audit: --calls {garbled}: line 2 is not a call `ha_load load` wrote"),
    }
    for (command, *args), line in expected.items():
        done = subprocess.run([PYTHON, "-m", "launcher.ha_load", command, str(topology), *args], cwd=REPO,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert done.returncode == 2 and done.stdout == "", (args, done.stdout + done.stderr)
        assert done.stderr == line + "\n", (args, done.stderr)
    assert sorted(tmp_path.iterdir()) == [topology, garbled]


def test_propose_with_a_client_key_to_a_plain_gate_names_the_client_key(tmp_path: Path) -> None:
    # `propose --client-key X` to a topology whose gate takes plain ZeroMQ said "... does not use CurveZMQ; --server-key
    # names the gate's public key": it spoke of an option the operator had not given, not of the one to drop.
    from launcher import curve

    curve.generate_keypair(tmp_path, "desk")
    topology = write_topology(tmp_path / "demo.yaml", retarget(demo_topology_data()))
    done = clustergate("propose", "--topology", str(topology), "--symbol", "ETHUSDT", "--action", "HOLD",
                       "--client-key", str(tmp_path / "desk.key_secret"))
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    assert done.stderr == ("clustergate propose: --client-key is given, but the topology's gate takes plain ZeroMQ on "
                           "its proposals socket (no CurveZMQ): leave --client-key out; for a gate that does use "
                           "CurveZMQ, give its public key too (--server-key)\n"), done.stderr


def test_positions_with_a_password_a_redis_without_one_refuses_is_refused_as_status_and_the_gate_see_it(live) -> None:
    # CLUSTERGATE_REDIS_PASSWORD set by mistake beside a Redis that has none: `status` said Redis refused it ("this
    # Redis has none"), as the gate and the issuer do (AUTH PASSWORD), while `positions list` listed and `positions set`
    # wrote: redis-py's HELLO ... AUTH default PASSWORD is let in by a `nopass` default user, whatever the password.
    demo_home = live.home  # the demo topology up, its managed Redis without a password
    wrong = {"CLUSTERGATE_REDIS_PASSWORD": "not-this-redis"}
    status = clustergate("status", "--home", str(demo_home), env=wrong)
    assert "this Redis has none" in status.stdout, status.stdout
    listed = clustergate("positions", "list", "--home", str(demo_home), env=wrong)
    said = ("Redis at {url} has no password, but this command gave one from $CLUSTERGATE_REDIS_PASSWORD (the "
            "topology's redis.password_env): unset it, as the system has it\n")
    assert listed.returncode == 1 and listed.stdout == "", listed.stdout + listed.stderr
    assert listed.stderr.startswith("clustergate positions: Redis at redis://127.0.0.1:"), listed.stderr
    url = listed.stderr.split("Redis at ", 1)[1].split(" ", 1)[0]
    assert listed.stderr == "clustergate positions: " + said.format(url=url), listed.stderr
    written = clustergate("positions", "set", "ETHUSDT", "--amount", "3", "--mark-price", "3000", "--home", str(demo_home),
                          env=wrong)
    assert written.returncode == 1 and written.stderr == listed.stderr, written.stdout + written.stderr
    shown = clustergate("positions", "list", "--home", str(demo_home))  # without the variable, as the system runs
    assert shown.returncode == 0 and "ETHUSDT" in shown.stdout, shown.stdout + shown.stderr
