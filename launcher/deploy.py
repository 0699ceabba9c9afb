"""`clustergate deploy FILE [--host NAME ...]`: apply a topology host by host, prove the whole system
after each host, and put a host that fails back on the topology it ran before.

1. Validate FILE; record the topology each target host runs now (its home's run/topology.yaml).
2. Host by host (the managed Redis's host first): `clustergate up FILE --host NAME` there, which
   restarts only the changed programs.
3. After each host, the readiness proof of the whole multi-host system.
4. A failed `up` or proof: that host goes back to its recorded topology (or is stopped, if it ran
   nothing), the proof runs again, the deploy stops and exits 1 naming the failed check and what was
   rolled back.
5. Once every host proved ready, `clustergate backfill-permits` on the first permit issuer's host writes the
   permitted-plan marker of every stored decision with a permit that has none (an issuer before the marker wrote
   it): exit 3 if it fails (deployed and proved, nothing rolled back: not 1, which says the deploy failed).
6. Success exits 0. Every deploy appends a record (time, hosts, topology hashes before and after,
   proof reports, outcome) to HOME/run/deploys/deploys.jsonl; `clustergate deploy --history` lists them.

Before it reads any host, a deploy takes each target host's deploy lock (HOST_HOME/run/deploying.lock), held by
a `clustergate deploy-lock` process on the host until the deploy ends (or dies: that process's input closes); a
deploy that finds a host's lock taken by another deploy (from another deploy home, another machine) refuses, naming
it, before anything changes, so two deploys never change the same hosts host by host in turn. Each host's `up` it
starts (and a rollback's `down`) changes nothing unless the deploy still holds that host's lock (`--deploy-id`), and
a host whose lock the deploy lost is not rolled back.

Each host's commands run through `--via`, a command prefix with {host} and {address} filled in
(`ssh deploy@{address} --` for machines, `ip netns exec NS-{host}` for namespaces); without it
they run on this machine. A host's home is HOME_ROOT/NAME (--home-root; default: the per-host home
that `up --host` uses).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import selectors
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from launcher.hosts import actors_on, host_hash
from launcher.own_code import module_command, own_env
from launcher.schema import SchemaError
from launcher.supervise import (HOLDER_MAX_CHARS, Home, home_from, home_option, home_root_option, lock_holder, printable,
                                resolved_path, text_sha256, timeout_seconds, topology_copy)
from launcher.topology import Topology, load_or_report, load_topology

RECORDS = "deploys.jsonl"
LOCK = "deploy.lock"
HOST_LOCK_TIMEOUT_S = 30.0  # for a host's `deploy-lock` to say held or busy (an ssh connection, a Python start)
VALIDATED = "topology.yaml"  # in the deploy's work dir: the text it validated, base_dir pinned; the proofs read it
DEFAULT_PROOF_TIMEOUT_S = 40.0
DEFAULT_UP_TIMEOUT_S = 60.0  # as `up --timeout`
COMMAND_TIMEOUT_S = 300.0
STOP_GRACE_S = 15.0  # a host command past its timeout: from SIGTERM to SIGKILL
STATUS_ASK_S = 60.0  # `status --json` on a host, asked to tell whether it runs nothing
# A rollback command refused (exit 2): how long its host's `deploy-lock` (an ssh client noticing its far end gone) may
# take to end, when the refusal was that this deploy lost the host's lock.
LOCK_END_WAIT_S = 5.0
# The shortest wait for a host's status in the check after a rollback to nothing: that check is bounded by
# --proof-timeout, but a status asked once --proof-timeout is nearly spent gets this long to answer.
STATUS_ASK_MIN_S = 10.0


def deploys_dir(home: Home) -> Path:
    return home.run / "deploys"


def host_home(args: argparse.Namespace, host: str) -> Path:
    if args.home_root:
        return resolved_path(Path(args.home_root)) / host  # a loop as given: what reads it names it (revstatus)
    return home_from(argparse.Namespace(home=None, host=host)).root


def via(args: argparse.Namespace, topo: Topology, host: str) -> list[str]:
    if not args.via:
        return []
    address = topo.hosts[host].address
    return [part.replace("{host}", host).replace("{address}", address) for part in shlex.split(args.via)]


def run_on(args: argparse.Namespace, topo: Topology, host: str, argv: list[str],
           timeout_s: float = COMMAND_TIMEOUT_S, stdin_text: str | None = None) -> subprocess.CompletedProcess:
    """argv on the host (through --via), output captured, stdin_text (or nothing) as its input; a timeout or a
    missing program is a failure. Past timeout_s the command is sent SIGTERM, and SIGKILL only STOP_GRACE_S later:
    an `up` stopped so defers it until the change it is applying is whole (DeferredInterrupt) instead of leaving
    its program files half-applied."""
    command = via(args, topo, host) + argv
    try:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL if stdin_text is None else subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=own_env())
    except OSError as exc:
        return subprocess.CompletedProcess(command, 127, "", f"cannot run {command[0]}: {exc.strerror}")
    try:
        out, err = proc.communicate(stdin_text, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.terminate()
        how = "stopped (SIGTERM)"
        try:
            out, err = proc.communicate(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            how = f"killed (SIGKILL) {STOP_GRACE_S:g} s after SIGTERM"
        return subprocess.CompletedProcess(command, 124, out or "", f"{err or ''}timed out after {timeout_s:g} s; {how}")
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def clustergate(*argv: str) -> list[str]:
    return module_command("launcher", *argv)


# The proof's last line: "PASSED: n/m checks; report BASE.txt and .json".
REPORT_LINE = re.compile(r"report (.+)\.txt and \.json$")


def _show(host: str, result: subprocess.CompletedProcess) -> None:
    for line in (result.stdout + result.stderr).splitlines():
        print(f"  [{host}] {line}", flush=True)


def _prove(args: argparse.Namespace, topology: Path, home: Home, keep_as: Path) -> tuple[bool, str | None, list[str]]:
    """The readiness proof of the whole system: (passed, report path, failed check names). The report
    is kept as keep_as.txt/.json (the proof names reports by the second; a deploy may prove twice in one).
    The proof runs as its own process (`python -P -m proofs.cli`, this checkout's: launcher/own_code.py): the launcher does not import the proofs."""
    import shutil
    command = module_command("proofs.cli", "readiness", "--topology", str(topology), "--home", str(home.root),
                             "--warm-up-timeout-s", str(args.proof_timeout))
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=own_env())
    last_report = None
    assert proc.stdout is not None
    for line in proc.stdout:  # shown as it comes, as the proof would print it
        print(line, end="", flush=True)
        found = REPORT_LINE.search(line)
        if found:
            last_report = found.group(1)
    code = proc.wait()
    if last_report is None:
        return code == 0, None, ["the proof ran"]
    checks = json.loads(Path(f"{last_report}.json").read_text())["checks"]
    failed = [c["name"] for c in checks if not c["ok"]]
    for suffix in (".txt", ".json"):
        shutil.copyfile(f"{last_report}{suffix}", f"{keep_as}{suffix}")
    return code == 0, f"{keep_as}.txt", failed


def _record(home: Home, record: dict[str, Any]) -> None:
    """Append the record as it is now. A deploy appends it at its start and after every host step (one
    `id`), so a deploy killed part-way is still listed, with the step each host had reached."""
    directory = deploys_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / RECORDS, "a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _flock_or_holder(path: Path, holder: str) -> tuple[int | None, str]:
    """(fd, "") holding the lock at path, `holder` written in it, or (None, what its holder wrote). Held until the
    fd is closed or the process ends. Both texts pass through printable(): a lock file is anyone's to write."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        written = lock_holder(fd)
        os.close(fd)
        return None, written or "pid unknown"
    os.ftruncate(fd, 0)
    os.pwrite(fd, printable(holder).encode(), 0)
    return fd, ""


def _take_lock(home: Home) -> tuple[int | None, str]:
    """(fd, "") holding deploy's lock of this home, or (None, who holds it). Held until the process ends."""
    directory = deploys_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return _flock_or_holder(directory / LOCK, f"pid {os.getpid()}, started {started}")


def cmd_deploy_lock(args: argparse.Namespace) -> int:
    """`clustergate deploy-lock --home HOME`, run on a host by a deploy, which names itself on the first line of its
    input (no shell on the way, as ssh has, reads it): take HOME/run/deploying.lock, print `held`, and hold it until
    the input ends (the deploy ended or died); `busy HOLDER`, exit 1, when another deploy holds it. A Ctrl-C at the
    deploy's terminal does not end it: the deploy's own end does."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    said = sys.stdin.buffer.readline(4 * HOLDER_MAX_CHARS)  # the rest of a longer line is read with the input below
    holder = said.decode(errors="replace").strip() or "a deploy that did not name itself"
    home = Home(Path(args.home))
    try:
        home.run.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, holder = _flock_or_holder(home.deploying_lock, holder)
    except OSError as exc:
        print(f"cannot take {home.deploying_lock}: {exc.strerror}", file=sys.stderr)
        return 2
    if fd is None:
        print(f"busy {holder}", flush=True)
        return 1
    print("held", flush=True)
    while sys.stdin.buffer.read(65536):
        pass
    return 0


def _first_line(proc: subprocess.Popen, timeout_s: float) -> str | None:
    """The first line proc prints, or what it printed before it closed its output; None when timeout_s passed first."""
    assert proc.stdout is not None
    said, deadline = b"", time.monotonic() + timeout_s
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in said:
            if time.monotonic() >= deadline:
                return None
            if sel.select(deadline - time.monotonic()):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                said += chunk
    return said.decode(errors="replace").partition("\n")[0].strip()


def _lock_hosts(args: argparse.Namespace, topo: Topology, targets: list[str], holder: str,
                held: dict[str, subprocess.Popen]) -> str | None:
    """Take each target host's deploy lock, in one order and without waiting (of two deploys, one goes on): each
    held by a `deploy-lock` process on the host (through --via), put in held under the host's name. None, or why not (the holding
    deploy, as it wrote itself, or the host not reached); the caller releases what was held either way."""
    for host in sorted(targets):
        path = Home(host_home(args, host)).deploying_lock
        command = via(args, topo, host) + clustergate("deploy-lock", "--home", str(host_home(args, host)))
        try:
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env=own_env())
        except OSError as exc:
            return f"cannot lock {host} against other deploys: cannot run {command[0]}: {exc.strerror}"
        try:
            assert proc.stdin is not None
            proc.stdin.write(f"{holder}\n".encode())
            proc.stdin.flush()
        except OSError:
            pass  # it ended already: what it said is read below
        line = _first_line(proc, HOST_LOCK_TIMEOUT_S)
        if line == "held":
            held[host] = proc
            continue
        _release([proc])
        if line is not None and line.startswith("busy "):
            return (f"another deploy is changing {host}: {line[5:]} (lock {path} on {host}); wait for it to end "
                    f"(`clustergate deploy --history --home` its deploy home says how it ended)")
        if line is None:
            return (f"cannot lock {host} against other deploys (`deploy-lock` there said nothing in "
                    f"{HOST_LOCK_TIMEOUT_S:g} s)")
        assert proc.stderr is not None
        os.set_blocking(proc.stderr.fileno(), False)  # a child of the --via command may still hold it open
        try:
            err = (proc.stderr.read() or b"").decode(errors="replace").strip().splitlines()
        except OSError:
            err = []
        last = (err or [line])[-1][:300]
        return f"cannot lock {host} against other deploys (`deploy-lock` there exited {proc.returncode}" + \
            (f": {last})" if last else ")")
    return None


def _release(holders: list[subprocess.Popen]) -> None:
    """End the hosts' `deploy-lock` processes: their input closes, each exits and its host's lock is free."""
    for proc in holders:
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
    for proc in holders:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def _running_pid(home: Home) -> int | None:
    """The pid of the deploy holding this home's lock now, or None."""
    path = deploys_dir(home) / LOCK
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None
    except BlockingIOError:
        words = os.pread(fd, 200, 0).decode(errors="replace").replace(",", " ").split()
        return int(words[1]) if len(words) > 1 and words[0] == "pid" and words[1].isdigit() else -1
    finally:
        os.close(fd)


# The fields `deploy --history` lists, each of the type a deploy writes: a line without them is no record of one.
RECORD_FIELDS = {"started": (int, float), "hosts": list, "outcome": str, "before": dict, "after": dict, "file": str}


def read_history(home: Home) -> tuple[list[dict[str, Any]], int]:
    """One record per deploy (its last line), and how many lines are no record: cut short by a crash, or JSON no
    deploy wrote (a hand edit, a disk's damage: each ended the listing in a traceback, opcli). A record still
    "running" whose deploy no longer holds the lock was killed part-way: it is listed as "interrupted", with each
    host's last step."""
    path = deploys_dir(home) / RECORDS
    if not path.exists():
        return [], 0
    by_id: dict[str, dict[str, Any]] = {}
    skipped = 0
    for n, line in enumerate(path.read_bytes().decode(errors="replace").splitlines()):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if not (isinstance(record, dict) and all(isinstance(record.get(k), t) for k, t in RECORD_FIELDS.items())
                and _listable(record)):
            skipped += 1
            continue
        by_id[str(record.get("id") or f"line-{n}")] = record
    running = _running_pid(home)
    for record in by_id.values():
        if record.get("outcome") == "running" and record.get("pid") != running:
            record["outcome"] = "interrupted"
    return list(by_id.values()), skipped


def cmd_history(args: argparse.Namespace) -> int:
    home = home_from(args)
    records, skipped = read_history(home)
    if skipped:
        print(f"clustergate deploy: {skipped} line{'s' * (skipped != 1)} of {deploys_dir(home) / RECORDS} "
              f"{'are' if skipped != 1 else 'is'} no deploy record (cut short by a crash, or not written by a deploy): "
              f"not listed", file=sys.stderr)
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    if not records:
        print(f"no deploys recorded in {deploys_dir(home) / RECORDS}")
        return 0
    print(f"{'STARTED (UTC)':<21}{'OUTCOME':<13}{'SECONDS':<9}{'HOST':<10}{'BEFORE':<18}{'AFTER':<18}{'FILE'}")
    for r in records:
        for line in record_lines(r):
            print(line)
    return 0


def record_lines(r: dict[str, Any]) -> list[str]:
    """A deploy record as `deploy --history` lists it: a line per host, then what was refused, failed and proved."""
    lines = []
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r["started"]))
    for i, host in enumerate(r["hosts"]):
        seconds = f"{r['duration_s']:.1f}" if "duration_s" in r else "-"
        lead = (f"{started:<21}{r['outcome']:<13}{seconds:<9}" if i == 0 else " " * 43)
        state = (r.get("host_states") or {}).get(host)
        before = (r["before"][host] or "(nothing)") if host in r["before"] else "-"  # "-": never read
        lines.append(f"{lead}{host:<10}{before:<18}{r['after'].get(host) or '-':<18}"
                     f"{r['file'] if i == 0 else ''}" + (f"  [{state}]" if state else ""))
    if r.get("refused"):
        lines.append(f"{'':<21}refused: {r['refused']}")
    if r.get("failed_check"):
        lines.append(f"{'':<21}failed: {r['failed_check']} on {r.get('failed_host')}; rolled back "
                     f"{', '.join(r.get('rolled_back') or []) or 'nothing'}")
    lines.extend(f"{'':<21}proof {path}" for path in r.get("proofs", []))
    return lines


def _listable(record: dict[str, Any]) -> bool:
    """record_lines can list it: a field beside those RECORD_FIELDS checks holding what no deploy writes (a hand
    edit's `"proofs": 5`, a `started` past any time) ended the whole listing in a traceback (revopcli)."""
    try:
        record_lines(record)
    except (TypeError, ValueError, OverflowError, AttributeError, KeyError):
        return False
    return True


def cmd_deploy(args: argparse.Namespace) -> int:
    if args.history:
        return cmd_history(args)
    if args.json:  # ignored, it let the deploy run, host by host, where a script asked for machine-readable output
        print("clustergate deploy: --json goes with --history (a deploy prints its steps as text); nothing was done",
              file=sys.stderr)
        return 2
    if not args.file:
        print("clustergate deploy: give a topology FILE (or --history)", file=sys.stderr)
        return 2
    topo = load_or_report(args.file)
    if topo is None:
        return 2
    if not topo.hosts:
        print(f"{args.file}: topology {topo.name} has no hosts: map; use `clustergate up` for one host", file=sys.stderr)
        return 2
    unknown = [h for h in args.host or [] if h not in topo.hosts]
    if unknown:
        print(f"--host {unknown[0]}: unknown host (hosts: {', '.join(topo.hosts)})", file=sys.stderr)
        return 2
    targets = list(dict.fromkeys(args.host or list(topo.hosts)))
    targets.sort(key=lambda h: h != topo.redis.host)  # the managed Redis's host first: the others need it
    home = home_from(argparse.Namespace(home=args.home, host=None))
    lock, holder = _take_lock(home)
    if lock is None:
        print(f"clustergate deploy: another deploy is running ({holder}; lock {deploys_dir(home) / LOCK}); "
              f"wait for it, or see `clustergate deploy --history`", file=sys.stderr)
        return 2
    started = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    work = deploys_dir(home) / f"{stamp}-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    # Every host's `up` refuses a FILE whose text is not this one (edited meanwhile, or another copy on that host),
    # and the proofs read this copy: what the deploy validated is what each host runs and each proof checks.
    (work / VALIDATED).write_text(topology_copy(topo))
    source = str(Path(args.file).resolve())
    record: dict[str, Any] = {"id": work.name, "pid": os.getpid(), "started": started, "file": source,
                              "topology": topo.name, "hosts": targets, "before": {}, "after": {}, "proofs": [],
                              "outcome": "running", "host_states": {h: "not reached" for h in targets},
                              "file_sha256": text_sha256(topo.source_text or "")}
    _record(home, record)
    this_deploy = (f"deploy {work.name} from {socket.gethostname()} (pid {os.getpid()}, deploy home {home.root}, "
                   f"file {source}, started {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(started))})")
    held: dict[str, subprocess.Popen] = {}
    try:
        refusal = _lock_hosts(args, topo, targets, this_deploy, held)
        if refusal:
            print(f"clustergate deploy: {refusal}; nothing was changed on any host", file=sys.stderr, flush=True)
            record["refused"] = refusal
            return _finish(home, record, started, "refused", 2)
        print(f"locked {', '.join(sorted(targets))} against other deploys", flush=True)
        return _deploy_hosts(args, topo, home, targets, source, work, record, started, held)
    except KeyboardInterrupt:
        record["outcome"] = "interrupted"
        record["finished"] = time.time()
        record["duration_s"] = round(record["finished"] - started, 2)
        _record(home, record)
        print(f"deploy interrupted; host states: {record['host_states']}; record in {deploys_dir(home) / RECORDS}",
              file=sys.stderr, flush=True)
        return 130
    finally:
        _release(list(held.values()))


def _finish(home: Home, record: dict[str, Any], started: float, outcome: str, code: int) -> int:
    record["outcome"] = outcome
    record["finished"] = time.time()
    record["duration_s"] = round(record["finished"] - started, 2)
    _record(home, record)
    print(f"deploy {outcome} in {record['duration_s']:.1f} s; record in {deploys_dir(home) / RECORDS}", flush=True)
    return code


def _stopped(args: argparse.Namespace, topo: Topology, host: str, timeout_s: float = STATUS_ASK_S) -> bool:
    """True when the host's supervisord does not run and no process of its home is left: it runs nothing, though
    `down` kept its copy (run/topology.yaml), and its rollback must stop it, not start that copy again. False when
    that cannot be told within timeout_s (the copy is then taken as what it runs, as before)."""
    result = run_on(args, topo, host, clustergate("status", "--host", host, "--home", str(host_home(args, host)),
                                                  "--json"), timeout_s)
    try:
        status = json.loads(result.stdout)
    except ValueError:
        return False
    return isinstance(status, dict) and status.get("supervisord") == "not running" and status.get("leftovers") == []


def _ended(proc: subprocess.Popen, within_s: float) -> bool:
    """Whether proc has ended, or ends within within_s."""
    try:
        proc.wait(within_s)
        return True
    except subprocess.TimeoutExpired:
        return False


def _still_running(args: argparse.Namespace, topo: Topology, hosts: list[str], timeout_s: float) -> list[str]:
    """The hosts among `hosts` that still run something (_stopped is False) when timeout_s has passed; each is asked
    at least once (given what is left of timeout_s, at least STATUS_ASK_MIN_S, to answer: a status that hangs, a host
    gone, counts as running something), and a host is not asked again once it runs nothing."""
    deadline = time.monotonic() + timeout_s
    left = list(hosts)
    while True:
        left = [h for h in left if not _stopped(
            args, topo, h, min(STATUS_ASK_S, max(STATUS_ASK_MIN_S, deadline - time.monotonic())))]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))


def _deploy_hosts(args: argparse.Namespace, topo: Topology, home: Home, targets: list[str], source: str,
                  work: Path, record: dict[str, Any], started: float, held: dict[str, subprocess.Popen]) -> int:
    states = record["host_states"]
    proved = work / VALIDATED

    def step(host: str, state: str) -> None:
        states[host] = state
        _record(home, record)

    def finish(outcome: str, code: int) -> int:
        return _finish(home, record, started, outcome, code)

    # 1. What each host runs now.
    saved: dict[str, Path | None] = {}
    for host in targets:
        # LC_ALL=C: "No such file" below is how a host that runs nothing yet is told from one not reached.
        result = run_on(args, topo, host, ["env", "LC_ALL=C", "cat", str(host_home(args, host) / "run" / "topology.yaml")], 30)
        if result.returncode == 0 and result.stdout.strip() and not _stopped(args, topo, host):
            path = work / f"before-{host}.yaml"
            path.write_text(result.stdout)
            saved[host] = path
            try:
                record["before"][host] = host_hash(load_topology(path), host)
            except SchemaError as exc:
                # Its rollback is `up` of this copy, which validation would refuse: a failure later in the deploy
                # could not put this host back. Nothing has been changed yet: refuse.
                copy = host_home(args, host) / "run" / "topology.yaml"
                first = exc.problems[0].render() if exc.problems else str(exc)
                print(f"clustergate deploy: cannot put {host} back if the deploy fails: its running copy {copy} does "
                      f"not validate today ({first}; {len(exc.problems)} problem(s), all in `clustergate validate "
                      f"{path}`); nothing was changed on any host. Fix that copy, or stop {host} (`clustergate down "
                      f"--host {host}` there: a host that runs nothing is rolled back by stopping it) and deploy again",
                      file=sys.stderr, flush=True)
                record["before"][host] = "unreadable"
                record["refused"] = f"{host}'s running copy does not validate: {first}"
                return finish("refused", 2)
        elif result.returncode == 1 and "No such file" in result.stderr or result.returncode == 0:
            saved[host] = None  # no run/topology.yaml: the host runs nothing yet
            record["before"][host] = None
        else:
            # Unreachable, timed out, or unreadable: not the same as "runs nothing" (its rollback would
            # stop it). Nothing has been changed yet: refuse.
            detail = (result.stderr or result.stdout).strip().splitlines()
            print(f"clustergate deploy: cannot read what {host} runs now ({host_home(args, host) / 'run' / 'topology.yaml'}:"
                  f" exit {result.returncode}{': ' + detail[-1] if detail else ''}); nothing was changed on any host",
                  file=sys.stderr, flush=True)
            record["refused"] = f"cannot read what {host} runs now (exit {result.returncode})"
            return finish("refused", 2)
        record["after"][host] = host_hash(topo, host)
        print(f"{host}: now {record['before'][host] or 'runs nothing'}, deploying {record['after'][host]}", flush=True)

    # 2-4. Host by host, proved after each.
    for host in targets:
        hh = str(host_home(args, host))
        step(host, "applying")
        print(f"--- {host}: clustergate up --host {host} (home {hh})", flush=True)
        up = run_on(args, topo, host, clustergate("up", source, "--host", host, "--home", hh, "--timeout",
                                                  str(args.up_timeout), "--expect-sha256", record["file_sha256"],
                                                  "--deploy-id", work.name,
                                                  *(["--replace"] if args.replace else [])))
        _show(host, up)
        if up.returncode != 0 and not args.replace and "would replace the running system" in up.stderr:
            print(f"  [{host}] runs a topology with another name than {topo.name!r}: `clustergate deploy --replace` "
                  f"passes --replace to each host's up", flush=True)
        if up.returncode == 0:
            print(f"--- readiness proof of the whole system after {host}", flush=True)
            ok, report, failed = _prove(args, proved, home, work / f"proof-{len(record['proofs']) + 1}-after-{host}")
            record["proofs"].append(report)
        else:
            ok, failed = False, [f"clustergate up --host {host} (exit {up.returncode})"]
        if ok:
            step(host, "applied")
            continue
        record["failed_check"], record["failed_host"] = failed[0], host
        # The failing host, then every host this deploy already changed, newest first: the whole system
        # goes back to what it ran before, the topology the proof after the rollback checks.
        back_out = [host] + [h for h in reversed(targets[:targets.index(host)]) if states[h] == "applied"]
        print(f"FAILED on {host}: {failed[0]}; rolling back {', '.join(back_out)}", flush=True)
        rollback_started = time.monotonic()
        whats, all_back = [], True
        def lock_lost(h: str) -> None:
            nonlocal all_back
            whats.append(f"{h} not rolled back: this deploy no longer holds its deploy lock "
                         f"({Home(host_home(args, h)).deploying_lock}), another deploy may be changing it")
            all_back = False
            step(h, "lock lost")

        for h in back_out:
            if held[h].poll() is not None:  # its deploy-lock ended: another deploy may have changed h since
                lock_lost(h)
                continue
            step(h, "rolling back")
            h_home = str(host_home(args, h))
            if saved[h] is not None:
                # The recorded copy is on this machine: it goes to the host's home first (through --via, as its
                # input), since a host reached by ssh does not see this machine's files.
                there = str(Path(h_home) / "run" / f"deploy-{work.name}-before.yaml")
                back = run_on(args, topo, h, ["tee", there], stdin_text=saved[h].read_text())
                back.stdout = ""  # tee echoes the copy
                if back.returncode == 0:
                    # --replace: the recorded topology is what goes back, whatever name the host runs now
                    # At least up's default: --up-timeout bounds the new topology (short, to fail fast), not the
                    # return of the one that ran (a rollback reported failed while the old system came back).
                    back = run_on(args, topo, h, clustergate("up", there, "--host", h, "--home", h_home, "--timeout",
                                                             str(max(args.up_timeout, DEFAULT_UP_TIMEOUT_S)), "--replace",
                                                             "--deploy-id", work.name))
                whats.append(f"{h} back on its recorded topology {record['before'][h]} ({saved[h]})")
            else:
                back = run_on(args, topo, h, clustergate("down", "--host", h, "--home", h_home, "--deploy-id", work.name))
                whats.append(f"{h} stopped (it ran nothing before)")
            _show(h, back)
            if back.returncode == 2 and _ended(held[h], LOCK_END_WAIT_S):
                # Refused, as its deploy-lock ended on the way (`--deploy-id`): another deploy's now, as above.
                whats.pop()
                lock_lost(h)
                continue
            if back.returncode != 0:
                all_back = False
                whats[-1] += f" FAILED (exit {back.returncode})"
            step(h, ("rolled back" if saved[h] is not None else "stopped") if back.returncode == 0 else "rollback failed")
        record["rolled_back"] = back_out
        record["rollback_ok"] = all_back
        old = next((saved[h] for h in back_out if saved[h] is not None), None)
        if old is None:
            # Every host rolled back ran nothing before: no system to prove ready (a proof of the new topology
            # waited its fixed graces, whatever --proof-timeout said, and failed). Each host must run nothing, its
            # `down` failed or not (one whose lock was lost may be another deploy's now: not asked).
            stopped = [h for h in back_out if states[h] != "lock lost"]
            print(f"--- check after the rollback: {', '.join(stopped) or 'no host'} run(s) nothing, as before the "
                  f"deploy (up to {args.proof_timeout:g} s)", flush=True)
            still = [f"{h} not seen running nothing (its supervisord or a process of its home runs, or its status "
                     f"could not be read)" for h in _still_running(args, topo, stopped, args.proof_timeout)]
            again, after = not still, "the check after the rollback (each host rolled back runs nothing, as before)"
        else:
            print(f"--- readiness proof after the rollback of {', '.join(back_out)}", flush=True)
            again, report, still = _prove(args, old, home,
                                          work / f"proof-{len(record['proofs']) + 1}-after-rollback-{host}")
            record["proofs"].append(report)
            after = "the proof after the rollback"
        record["proved_after_rollback"] = again
        record["rollback_s"] = round(time.monotonic() - rollback_started, 2)
        # Nothing is proved before the deploy: a fault the system already had fails the proof after the first host and
        # the one after the rollback alike, and reads as that host's (revha3: exec SIGSTOPped, market blamed).
        before = ("" if again or after != "the proof after the rollback" else
                  f" (deploy proves nothing before it starts: if these checks failed before the deploy too, the fault is "
                  f"the system's, not {host}'s; read each failed check's detail above)")
        print(f"FAILED: check '{failed[0]}' failed on host {host}; rolled back: {'; '.join(whats)}; "
              f"{after} {'passed' if again else 'FAILED: ' + ', '.join(still)}{before}", flush=True)
        return finish("rolled back" if again and all_back else "rollback failed", 1)
    print(f"deployed {topo.name} to {', '.join(targets)}: every proof passed", flush=True)
    return finish(*_backfill_markers(args, topo, targets, record))


BACKFILL_TIMEOUT_S = 240.0  # the backfill's own --timeout, within COMMAND_TIMEOUT_S
# Every host deployed and proved ready, the backfill of markers failed: not 1 (the deploy failed, hosts rolled back),
# so that a wrapper that rolls back on 1 does not roll back a good deploy.
EXIT_DEPLOYED_BACKFILL_FAILED = 3


def _backfill_markers(args: argparse.Namespace, topo: Topology, targets: list[str],
                      record: dict[str, Any]) -> tuple[str, int]:
    """The deploy's last step, once every host it changed runs the new code: `clustergate backfill-permits` on the
    first permit issuer's host (it reaches Redis with the system's password), so that no plan_id an issuer before the
    permitted-plan marker permitted can get a second permit once its decision expires (docs/operating.md). A failed
    backfill rolls nothing back (the new code proved ready) and exits EXIT_DEPLOYED_BACKFILL_FAILED (3), saying what to
    run."""
    issuers = set(topo.actors_of_kind("permit_issuer"))
    issuer_hosts = [h for h in topo.hosts if issuers & set(actors_on(topo, h))]
    if not issuer_hosts:
        return "ok", 0
    host = issuer_hosts[0]
    home = str(host_home(args, host))
    print(f"--- {host}: clustergate backfill-permits --home {home} (markers of plan_ids permitted before them)",
          flush=True)
    result = run_on(args, topo, host, clustergate("backfill-permits", "--home", home, "--timeout",
                                                  f"{BACKFILL_TIMEOUT_S:g}", "--json"), BACKFILL_TIMEOUT_S + 30)
    _show(host, result)
    try:
        counts = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        counts = None
    record["backfill"] = {"host": host, "exit": result.returncode,
                          "counts": counts if isinstance(counts, dict) else None}
    if result.returncode != 0:
        print(f"FAILED: the backfill of permitted-plan markers on {host} exited {result.returncode}; the deployed code "
              f"runs (nothing rolled back); run `clustergate backfill-permits --home {home}` on {host} before "
              f"decision_ttl_s passes", flush=True)
        return "ok, backfill failed", EXIT_DEPLOYED_BACKFILL_FAILED
    others = [h for h in issuer_hosts if h not in targets]
    if others:
        print(f"note: this deploy did not reach the permit issuers of {', '.join(others)}: if one runs an issuer "
              f"before the marker, run `clustergate backfill-permits` again once it is upgraded", flush=True)
    return "ok", 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deploy", help="apply a multi-host topology host by host with a readiness proof after each; "
                                      "roll a failing host back; exit 1 on failure, 3 when every host was deployed and proved "
                                      "but the backfill of permitted-plan markers failed (nothing rolled back)")
    p.add_argument("file", nargs="?", help="the multi-host topology")
    p.add_argument("--host", action="append", help="deploy this host only (repeatable; default: every host)")
    p.add_argument("--history", action="store_true", help="list the recorded deploys")
    p.add_argument("--json", action="store_true", help="with --history: machine-readable")
    p.add_argument("--via", help="command prefix that runs a command on a host, {host} and {address} filled in "
                                 "(e.g. 'ssh deploy@{address} --', 'ip netns exec ns-{host}'); default: this machine")
    p.add_argument("--home-root", type=home_root_option,
                   help="each host's home is HOME_ROOT/NAME (default: hosts/NAME under the usual home)")
    p.add_argument("--home", type=home_option,
                   help="where deploy records and proof reports go (default: the repo root, or $CLUSTERGATE_HOME)")
    p.add_argument("--proof-timeout", type=timeout_seconds, default=DEFAULT_PROOF_TIMEOUT_S,
                   help=f"seconds the proof waits for the cluster to warm up (default {DEFAULT_PROOF_TIMEOUT_S:g})")
    p.add_argument("--up-timeout", type=timeout_seconds, default=DEFAULT_UP_TIMEOUT_S,
                   help="seconds each host's `up` waits for readiness (default 60; a rollback's `up` waits at least 60)")
    p.add_argument("--replace", action="store_true", help="pass --replace to each host's `up`: a host running a "
                                                          "topology with another name is replaced, not refused")
    p.set_defaults(func=cmd_deploy)
    p = sub.add_parser("deploy-lock", help="run on a host by `deploy`: hold the host's deploy lock until input ends")
    p.add_argument("--home", required=True, type=home_option,
                   help="the host's home (the deploy names itself on the first input line)")
    p.set_defaults(func=cmd_deploy_lock)
