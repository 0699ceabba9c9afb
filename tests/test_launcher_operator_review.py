"""lnrev: the launcher as an operator uses it (`up`, `status`, the YAML, the home's path), each defect reproduced
first against real processes (supervisord, redis-server, actors)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import PYTHON, REPO, demo_topology_data, free_port, retarget, wait_for, write_topology

from launcher.schema import SchemaError
from launcher.topology import load_topology, validate_data


def clustergate(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "launcher", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))


def test_a_running_copy_removed_or_broken_by_hand_is_named_by_status_and_the_corrected_up_restarts_its_own_programs(
        tmp_path: Path) -> None:
    """lnrev: with run/topology.yaml removed by hand, status showed every program `READY ?` and exited 1 without a
    word of why; with it broken by hand (not YAML), status's EDITED line said to run `up FILE`, and that `up` of a
    changed gate was refused: its ports `already in use by another process: another clustergate system, home
    HOME ...; stop it with clustergate down --home HOME`, HOME being its own (it read what binds what from the copy)."""
    home, data, topo_path, up = _up_demo(tmp_path)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        copy = home / "run" / "topology.yaml"
        applied = copy.read_text()
        copy.unlink()
        status = clustergate("status", "--home", str(home))
        assert status.returncode == 1, status.stdout + status.stderr
        assert any(x.startswith(f"EDITED: {copy} ") for x in status.stdout.splitlines()), status.stdout
        said = json.loads(clustergate("status", "--home", str(home), "--json").stdout)
        assert said["running_copy_edited"] is True, said.get("running_copy_edited")
        copy.write_text(applied + "  broken: [\n")
        data["actors"]["gate"]["settings"]["freshness_s"] = 4
        write_topology(topo_path, data)
        up = clustergate("up", str(topo_path), "--home", str(home))
        assert up.returncode == 0, up.stdout + up.stderr
        assert "another clustergate system" not in up.stderr, up.stderr
        updated = next((x for x in up.stdout.splitlines() if x.startswith("updated ")), "")
        assert "'gate'" in updated.partition("restarted")[2].partition("removed")[0], up.stdout
        wait_for(lambda: clustergate("status", "--home", str(home)).returncode != 1, 60, "status to say the system is up")
    finally:
        clustergate("down", "--home", str(home))


def test_an_up_into_a_home_whose_path_supervisord_cannot_read_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    """lnrev: a home such as `desk #2` (a space then # or ;, which supervisord's config reads as the start of a
    comment) went through every check, then supervisord failed with `Error: .../desk is not an existing directory`,
    leaving the home's supervisord.conf and run/ behind; a home whose supervisor.sock path passes the 107 bytes a
    Unix socket path holds failed the same way (`AF_UNIX path too long`). lnrev2: supervisord globs its include
    (`run/programs.d/*.conf`) under the home, so `desk[1]` passed every check, started supervisord, which read no
    program (`desk[1]` matches `desk1`), waited 60 s with every program `missing` and failed, leaving supervisord
    running the home empty (`desk?` also globs in a home `deskA`'s programs); a home ending in a space (`desk `)
    failed in supervisord, which strips a value's ends, as `desk #2` did; a home holding `%(here)s` failed there too
    (`Format string ... is badly formatted`): supervisord replaces that text before its % expansion, doubled % or not."""
    topo_path = write_topology(tmp_path / "demo.yaml", retarget(demo_topology_data()))
    for home, said in ((tmp_path / "desk #2", "'#'"), (tmp_path / "x ;y", "';'"), (tmp_path / "a\nb", "line break"),
                       (tmp_path / ("d" * 110), "107 bytes"), (tmp_path / "desk[1]", "'['"), (tmp_path / "desk?", "'?'"),
                       (tmp_path / "desk*", "'*'"), (tmp_path / "desk ", "ends in"), (tmp_path / "desk\t", "ends in"),
                       (tmp_path / "p%(here)s", "'%(here)s'")):
        up = clustergate("up", str(topo_path), "--home", str(home), timeout=120)
        try:
            assert up.returncode == 2, up.stdout + up.stderr
            assert said in up.stderr and "nothing was changed" in up.stderr and "Traceback" not in up.stderr, up.stderr
            assert not home.exists(), sorted(home.rglob("*"))
        finally:
            if home.exists():
                clustergate("down", "--home", str(home))


def test_a_port_or_name_refused_for_its_type_adds_no_false_problem_about_its_placeholder() -> None:
    """lnrev: two ports written as text (`metrics_port: '9181'`) were each refused, then read as 0 and reported
    `port 0 is already used by ...`; a name written as a number (`name: 12`) was refused, then read as '' and told
    it `must be 1 to 64 ASCII letters`: lines about values the file does not hold."""
    data = retarget(demo_topology_data())
    data["name"] = 12
    data["actors"]["gate"]["metrics_port"] = str(data["actors"]["gate"]["metrics_port"])
    data["actors"]["book"]["metrics_port"] = 9181.0
    _, problems = validate_data(data)
    said = [f"{'.'.join(map(str, p.path))}: {p.message}" for p in problems]
    assert said == ["name: expected a string, got int 12",
                    "actors.book.metrics_port: expected an integer, got float 9181.0",
                    f"actors.gate.metrics_port: expected an integer, got str '{data['actors']['gate']['metrics_port']}'"], said


def test_a_scalar_yaml_cannot_build_a_pasted_blob_and_a_refused_lookback_are_each_one_short_line(tmp_path: Path) -> None:
    """lnrev: `name: 2026-13-45` (a date to YAML) said `(top level): not valid YAML: month must be in 1..12`, and an
    integer of 5,001 digits `... use sys.set_int_max_str_digits()`, neither with a line or the value; a 200,000
    character blob pasted into a port was printed whole in its line; a lookback_returns refused by its bound was
    multiplied out again in a second line about the grid."""
    text = write_topology(tmp_path / "t.yaml", retarget(demo_topology_data())).read_text()

    def problems_of(changed: str) -> list[str]:
        return _problems_of(tmp_path, changed)

    date = problems_of(text.replace("name: demo", "name: 2026-13-45", 1))
    assert len(date) == 1 and ":1: " in date[0] and "'2026-13-45'" in date[0] and "month" in date[0], date
    digits = problems_of(text.replace("name: demo", "name: demo\nx: " + "7" * 5001, 1))
    assert len(digits) == 1 and ":2: " in digits[0] and "5,001 characters" in digits[0], digits
    assert "set_int_max_str_digits" not in digits[0], digits
    blob = problems_of(text.replace("lookback_returns: 360", "lookback_returns: " + "x" * 200_000, 1))
    assert blob and all(len(line) < 400 for line in blob), [line[:200] for line in blob]
    assert any("200,002 characters" in line for line in blob), [line[:300] for line in blob]
    huge = problems_of(text.replace("lookback_returns: 360", "lookback_returns: " + "9" * 30, 1))
    assert len(huge) == 1 and "must be <= " in huge[0], huge


def _address_space_capped() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # the unbounded read fails here, not on the machine


def test_a_topology_path_that_never_ends_or_is_megabytes_long_is_refused_unread_in_one_line(tmp_path: Path) -> None:
    """lnrev: `clustergate validate /dev/zero` (a device given by mistake) read until memory ran out and ended in a
    MemoryError traceback, exit 1; a 30 MB file was still being parsed a minute later. A topology is a few KB: a
    file past the bound is refused, exit 2, unread."""
    big = tmp_path / "big.yaml"
    big.write_text("name: " + "a" * 9_000_000 + "\n")
    for path, why in (("/dev/zero", "a character device, not a file; not read"),
                      (str(big), "larger than 8,000,000 characters (a topology is a few KB); not read")):
        said = subprocess.run([PYTHON, "-m", "launcher", "validate", path], cwd=REPO, capture_output=True, text=True,
                              timeout=120, env=dict(os.environ), preexec_fn=_address_space_capped)
        assert said.returncode == 2, (path, said.returncode, said.stdout[-2000:], said.stderr[-2000:])
        assert said.stdout.splitlines() == [f"{path}: (top level): cannot read topology: {why}"], said.stdout[-2000:]


def test_validate_of_a_named_pipe_nobody_writes_is_refused_in_bounded_time_and_a_pipe_that_is_written_is_read(
        tmp_path: Path) -> None:
    """lnfix: `validate FIFO` of a named pipe with no writer waited for ever in open(), saying nothing (so did `up`,
    `render`, `status FILE`). A pipe with nothing written to it within PIPE_WAIT_S is refused, exit 2, in one line;
    `validate <(...)`, `... | validate /dev/stdin` and a named pipe its writer fills are read as before."""
    from launcher.topology import PIPE_WAIT_S
    demo = REPO / "configs" / "demo.yaml"
    fifo = tmp_path / "topology.fifo"
    os.mkfifo(fifo)
    refused = clustergate("validate", str(fifo), timeout=PIPE_WAIT_S + 60)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stdout.splitlines() == [
        f"{fifo}: (top level): cannot read topology: a pipe nothing was written to within {PIPE_WAIT_S:g} s "
        f"(a named pipe with no writer?); give a file, or a pipe its writer fills at once (`validate <(COMMAND)`)"], \
        refused.stdout
    stalled = subprocess.run(["bash", "-c", f"(printf 'name: x\\n'; exec sleep {PIPE_WAIT_S + 30:g}) > {fifo} & "
                              f"{PYTHON} -m launcher validate {fifo}; said=$?; kill $!; exit $said"], cwd=REPO,
                             capture_output=True, text=True, timeout=PIPE_WAIT_S + 60)
    assert stalled.returncode == 2 and stalled.stdout.startswith(
        f"{fifo}: (top level): cannot read topology: a pipe whose writer wrote 8 bytes, then nothing for "
        f"{PIPE_WAIT_S:g} s, and did not close it; "), stalled.stdout + stalled.stderr
    for shell in (f"{PYTHON} -m launcher validate <(cat {demo})",
                  f"cat {demo} | {PYTHON} -m launcher validate /dev/stdin",
                  f"(sleep 1; cat {demo} > {fifo}) & {PYTHON} -m launcher validate {fifo}; wait"):
        read = subprocess.run(["bash", "-c", shell], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert read.returncode == 0 and ": ok (8 actors: " in read.stdout, (shell, read.stdout, read.stderr)


def test_a_topology_path_holding_line_breaks_adds_no_program_to_supervisords_config(tmp_path: Path) -> None:
    """lnrev: `up` wrote the topology's path into run/programs.d's first line, a comment, as it was: a directory named
    `x\\n[program:evil]\\ncommand=touch pwned\\n;` made that comment three lines, and `up` printed `added ['evil']` and
    supervisord ran it (the file appeared in the home)."""
    from launcher.supervise import Home, _program_sections, render_programs
    from launcher.topology import load_topology

    where = tmp_path / "x\n[program:evil]\ncommand=touch pwned\n;"
    where.mkdir()
    topo = load_topology(write_topology(where / "t.yaml", retarget(demo_topology_data())))
    rendered = render_programs(topo, Home(tmp_path / "home"))
    assert "evil" not in _program_sections(rendered), rendered[:400]
    assert not any(line.startswith("command=touch") for line in rendered.splitlines()), rendered[:400]


def test_a_mapping_key_or_explicit_tag_yaml_cannot_build_is_named_with_its_line(tmp_path: Path) -> None:
    """lnrev2: the lnrev fix named the line of a value YAML cannot build, not of a key: `2026-13-45: 1` under the
    synthetic feed's start_prices (a date to YAML) still said only `(top level): not valid YAML: month must be in
    1..12`, and a key of 5,001 digits `... use sys.set_int_max_str_digits()`; `!!timestamp nope` said `'NoneType'
    object has no attribute 'groupdict'` and `!!bool maybe` only `'maybe'`, none with a line."""
    text = write_topology(tmp_path / "t.yaml", retarget(demo_topology_data())).read_text()
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "start_prices:") + 1
    indent = lines[at][:len(lines[at]) - len(lines[at].lstrip())]

    def problems_of(changed: str) -> list[str]:
        return _problems_of(tmp_path, changed)

    def with_key(key: str) -> str:
        return "\n".join([*lines[:at], f"{indent}{key}: 1", *lines[at:]]) + "\n"

    date = problems_of(with_key("2026-13-45"))
    assert len(date) == 1 and f":{at + 1}: " in date[0] and "'2026-13-45'" in date[0] and "month" in date[0], date
    digits = problems_of(with_key(f"? {'7' * 5001}\n{indent}"))  # an explicit key: a plain one holds 1024
    assert len(digits) == 1 and f":{at + 1}: " in digits[0] and "5,001 characters" in digits[0], digits
    for tagged in ("!!timestamp nope", "!!bool maybe"):
        said = problems_of(text.replace("name: demo", f"name: {tagged}", 1))
        assert len(said) == 1 and ":1: " in said[0] and repr(tagged.split()[1]) in said[0], said
        assert "NoneType" not in said[0], said
    said = problems_of(text.replace("name: demo", "name: !!int nope", 1))  # its article: "is an int", not "a int"
    assert len(said) == 1 and "'nope' is an int to YAML" in said[0], said


def test_an_up_onto_the_port_of_a_program_of_the_home_it_keeps_is_refused_before_anything_is_stopped(
        tmp_path: Path) -> None:
    """lnrev2: the lnrev fix counted free a port held by any live program of the home missing from the topology's
    programs, meant for those the change removes; `clustergate monitor up`'s `prometheus` (run/programs.d/monitor.conf,
    which `up` keeps) is one: an `up` moving the gate's metrics_port onto Prometheus's port stopped the running gate,
    started the new one, which crash-looped on `Address already in use` to FATAL, and exited 1: the desk left
    without its gate. Refused, the port was said held by `another clustergate system`, naming this very home."""
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not on PATH: run `bash .ci/install-promtool` as root (make test does)")
    home, data, topo_path, up = _up_demo(tmp_path)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        port = free_port()
        monitor = clustergate("monitor", "up", "--home", str(home), "--port", str(port))
        assert monitor.returncode == 0, monitor.stdout + monitor.stderr
        gate_before = _gate_status(home)
        assert " RUNNING " in gate_before, gate_before
        data["actors"]["gate"]["metrics_port"] = port
        write_topology(topo_path, data)
        up = clustergate("up", str(topo_path), "--home", str(home))
        assert up.returncode == 1 and f"{port}" in up.stderr and "nothing was changed" in up.stderr, up.stdout + up.stderr
        assert "this home's program prometheus" in up.stderr and "another clustergate system" not in up.stderr, up.stderr
        assert "updated " not in up.stdout, up.stdout
        gate_after = _gate_status(home)
        assert gate_after.split("uptime")[0] == gate_before.split("uptime")[0], (gate_before, gate_after)
    finally:
        clustergate("monitor", "down", "--home", str(home))
        clustergate("down", "--home", str(home))


def _gate_status(home: Path) -> str:
    """supervisorctl's line for the home's gate: its state and pid."""
    return subprocess.run([str(Path(PYTHON).parent / "supervisorctl"), "-c", str(home / "supervisord.conf"), "status",
                           "gate"], capture_output=True, text=True, timeout=30).stdout


def _problems_of(tmp_path: Path, text: str) -> list[str]:
    """The problems `validate` renders for a topology of this text (none: [])."""
    path = tmp_path / "changed.yaml"
    path.write_text(text)
    try:
        load_topology(path)
    except SchemaError as exc:
        return [p.render(str(path)) for p in exc.problems]
    return []


def _up_demo(tmp_path: Path) -> tuple[Path, dict, Path, subprocess.CompletedProcess]:
    """The demo topology on free ports, `up` in tmp_path/home: (home, its data, its file, what `up` said)."""
    home = tmp_path / "home"
    data = retarget(demo_topology_data())
    topo_path = write_topology(tmp_path / "demo.yaml", data)
    return home, data, topo_path, clustergate("up", str(topo_path), "--home", str(home))


def test_validate_of_a_pipe_its_writer_never_closes_but_drips_into_is_refused_in_bounded_time(
        tmp_path: Path, monkeypatch) -> None:
    """lnrev3: a pipe is refused when nothing is written for PIPE_WAIT_S (lnfix), but a writer that writes a line
    every few seconds and never closes (`tail -f` of a file something appends to, a watch) kept `validate`, `up` and
    `render` reading, silent, until 8,000,000 characters: for ever. Past PIPE_TOTAL_S (shortened here) it is refused."""
    import contextlib
    import threading
    import time

    import launcher.topology as topology
    monkeypatch.setattr(topology, "PIPE_TOTAL_S", 2.0)
    fifo = tmp_path / "topology.fifo"
    os.mkfifo(fifo)
    done, dripped = threading.Event(), threading.Event()

    def drip() -> None:
        with contextlib.suppress(BrokenPipeError), open(fifo, "w") as out:  # broken: the reader gave up
            out.write((REPO / "configs" / "demo.yaml").read_text())
            for _ in range(75):  # 15 s, then silent and open: refused as a stall where no bound is kept, not a hang
                out.write("# still here\n")
                out.flush()
                time.sleep(0.2)
            dripped.set()
            done.wait(60)

    writer = threading.Thread(target=drip, daemon=True)
    writer.start()
    try:
        with pytest.raises(SchemaError) as refused:
            load_topology(fifo)
        # Refused while the writer still dripped (its 75 lines take 15 s): by the total bound, not by the drip's end.
        assert not dripped.is_set()
    finally:
        done.set()
    said = refused.value.problems[0].render(str(fifo))
    assert said.startswith(f"{fifo}: (top level): cannot read topology: a pipe still written to after 2 s ("), said
    assert "did not close it" in said, said
