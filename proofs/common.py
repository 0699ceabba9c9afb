"""What every proof shares: PASS/FAIL checks with the value seen, the live system's handles
(supervisord, Redis, metrics, the gate), and a timestamped report in the run directory.

A proof exits 0 only when every check passed. Checks poll with a deadline; none sleeps blindly.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import time
import uuid
import xmlrpc.client
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import redis
from supervisor.xmlrpc import Faults

from actors.freshness import cluster_state_age_s
from launcher import keys, proof_stops, std_streams
from launcher.stop_signals import interrupted_a_call_of
from launcher.keys import wrong_type
from launcher.redis_conn import auth_refusal, connect
from launcher.client import GateClient, GateUnavailable, gate_endpoints
from launcher.overview import first, labelled
from launcher.schema import SchemaError
from launcher.supervise import (REDIS_PROGRAM, Home, LaunchError, Supervisor, tell, home_from, in_home,
                                redis_program_names, running_topology_path, scrape, signal_name, timeout_seconds,
                                home_option, home_variable_problem)
from launcher.topology import RESERVED_PROGRAM_PREFIX, Topology, load_running_copy, load_to_run

# The last report run_proof wrote in this process, and its failed checks (deploy records them).
LAST_REPORT: tuple[Path, list[Check]] | None = None
# How long start_programs waits for the programs it started to be RUNNING.
PROGRAM_START_TIMEOUT_S = 30.0
# Redis refusing the proof's password (WRONGPASS, NOAUTH, a password to a Redis without one) or a command of its user
# (NOPERM): no retry fixes it, so no poll waits it out (a wrong password waited out the warm-up timeout, 40 s).
REFUSALS = (redis.AuthenticationError, redis.exceptions.NoPermissionError)


class KeyOfAnotherType(Exception):
    """A key the proof reads holds another type than clustergate writes there (a string where a hash belongs)."""


@dataclass
class Check:
    name: str
    ok: bool
    value: Any
    detail: str = ""
    at: float = field(default_factory=time.time)


class ProofFailed(Exception):
    """Raised to stop a proof early after a check it cannot go on without has failed."""


class Proof:
    """One run of one proof against the live system of a home."""

    def __init__(self, name: str, home: Home, topology_path: Path | None = None):
        self.name = name
        self.home = home
        self.topology_path = topology_path or home.topology
        self.topo: Topology = load_to_run(self.topology_path)[0]  # what runs, whatever validate says of a key none reads
        self.sup = Supervisor(home)
        self.redis = connect(self.topo.redis)
        self.checks: list[Check] = []
        self.evidence: dict[str, Any] = {}
        self.started = time.time()
        self.client = self._gate_client()
        self.gate_clients = self._each_gate_clients()

    def _gate_client(self) -> GateClient | None:
        """A client of the gate; on a CurveZMQ gate it holds the key named by security.curve.client_key."""
        gates = self.topo.actors_of_kind("gate")
        if not gates:
            return None
        curve = self.topo.actors[gates[0]].sockets["proposals"].curve
        client_key = self.topo.security.curve.client_key if self.topo.security.curve else None
        if curve is not None and client_key is None:
            raise ProofFailed("the gate's proposals socket uses CurveZMQ: name the proofs' client key in "
                              "security.curve.client_key (a key the gate allows)")
        return GateClient.from_topology(self.topology_path, client_key=client_key if curve else None,
                                        timeout_ms=1000, retries=2)

    def _each_gate_clients(self) -> dict[str, GateClient]:
        """One single-endpoint client per gate (no failover), to ask each gate itself."""
        gates = self.topo.actors_of_kind("gate")
        if len(gates) < 2:
            return {gates[0]: self.client} if gates and self.client is not None else {}
        assert self.client is not None
        keys_ = self.client.server_public_key
        out = {}
        for i, (gate, endpoint) in enumerate(zip(gates, gate_endpoints(self.topology_path))):
            curve = {} if keys_ is None else {"client_keypair": self.client.client_keypair,
                                               "server_public_key": keys_[i] if isinstance(keys_, list) else keys_}
            out[gate] = GateClient(endpoint, timeout_ms=1000, retries=0, **curve)
        return out

    # ----------------------------------------------------------------- checks

    def check(self, name: str, ok: bool, value: Any, detail: str = "") -> bool:
        self.checks.append(Check(name, bool(ok), value, detail))
        shown = json.dumps(value, default=str) if not isinstance(value, str) else value
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {shown}{'  (' + detail + ')' if detail else ''}", flush=True)
        return bool(ok)

    def require(self, name: str, ok: bool, value: Any, detail: str = "") -> None:
        if not self.check(name, ok, value, detail):
            raise ProofFailed(name)

    def poll(self, get: Callable[[], Any], accept: Callable[[Any], bool], timeout_s: float,
             interval_s: float = 0.1) -> tuple[bool, Any, float]:
        """Poll get() until accept(value) or the deadline; (accepted, last value, seconds waited)."""
        start = time.monotonic()
        value: Any = None
        while True:
            try:
                value = get()
            except REFUSALS:  # the proof fails at once (_run_proof_held)
                raise
            except Exception as exc:  # the system may be restarting; keep polling, report the last error
                value = f"error: {type(exc).__name__}: {exc}"
            else:
                if accept(value):
                    return True, value, time.monotonic() - start
            if time.monotonic() - start >= timeout_s:
                return False, value, time.monotonic() - start
            time.sleep(interval_s)

    # ----------------------------------------------------------------- the live system

    def metrics(self, actor: str) -> dict[str, float]:
        spec = self.topo.actors[actor]
        return scrape(spec.host, spec.metrics_port)

    def one_of(self, kind: str) -> str:
        names = self.topo.actors_of_kind(kind)
        if not names:
            raise ProofFailed(f"the topology has no {kind}")
        return names[0]

    def metric(self, kind: str, name: str) -> float | None:
        return first(self.metrics(self.one_of(kind)), name)

    def points_per_symbol(self) -> dict[str, float]:
        return labelled(self.metrics(self.one_of("buffer")), "p27_points_per_symbol", "symbol")

    def cluster_state_age_s(self) -> float | None:
        """The state's age as the gate judges it (updated_ts, to the ms by updated_ts_ms)."""
        try:
            updated, updated_ms = self.redis.hmget(keys.CLUSTER_STATE, "updated_ts", "updated_ts_ms")
        except redis.ResponseError as exc:
            if not wrong_type(exc):
                raise
            raise KeyOfAnotherType(f"{keys.CLUSTER_STATE} holds a {self.redis.type(keys.CLUSTER_STATE)}, not a hash "
                                   f"(not written by clustergate): delete it; the state writer writes it again") from None
        return None if updated is None else cluster_state_age_s(float(updated), updated_ms, time.time())

    @property
    def freshness_s(self) -> float:
        gate = self.topo.actors_of_kind("gate")
        configured = self.topo.actors[gate[0]].settings.freshness_s if gate else None
        return configured or self.topo.freshness_default_s

    def program_states(self) -> dict[str, str]:
        return {p["name"]: p["statename"] for p in self.sup.processes()}

    def programs_not_running(self) -> dict[str, str]:
        """program -> its state (MISSING: supervisord does not run it), for this home's programs not RUNNING."""
        states = self.program_states()
        return {n: states.get(n, "MISSING") for n in list(self.topo.actors) + redis_program_names(self.topo)
                if states.get(n) != "RUNNING"}

    def propose(self, action: str = "HOLD", symbol: str | None = None, kill_score: float = 0.0) -> dict[str, Any]:
        if self.client is None:
            raise ProofFailed("the topology has no gate")
        plan_id = f"proof-{self.name}-{uuid.uuid4().hex[:12]}"
        try:
            reply = self.client.propose(symbol or self.topo.symbols[0], action, kill_score=kill_score, plan_id=plan_id)
        except GateUnavailable as exc:
            reply = {"status": "error", "reason": "gate_unavailable", "detail": str(exc)}
        self.evidence.setdefault("proposals", []).append(reply)
        return reply

    def propose_to_each_gate(self, action: str = "HOLD") -> dict[str, dict[str, Any]]:
        """The same kind of proposal sent to every gate on its own (its own plan_id each): gate -> reply,
        {"status": "error", "reason": "gate_unavailable"} for a gate that did not answer."""
        replies = {}
        for gate, client in self.gate_clients.items():
            plan_id = f"proof-{self.name}-{gate}-{uuid.uuid4().hex[:12]}"
            try:
                replies[gate] = client.propose(self.topo.symbols[0], action, plan_id=plan_id)
            except GateUnavailable as exc:
                replies[gate] = {"status": "error", "reason": "gate_unavailable", "detail": str(exc)}
        self.evidence.setdefault("proposals_to_each_gate", []).append(replies)
        return replies

    def each_gate_metric(self, name: str) -> dict[str, float | None]:
        """gate -> the metric's value on that gate (None when absent or unreachable)."""
        out: dict[str, float | None] = {}
        for gate in self.topo.actors_of_kind("gate"):
            try:
                out[gate] = first(self.metrics(gate), name)
            except OSError:
                out[gate] = None
        return out

    def decision_on_stream(self, plan_id: str, count: int = 500) -> dict[str, str] | None:
        for _, fields in self.redis.xrevrange(keys.GATE_STREAM, count=count):
            if fields.get("plan_id") == plan_id:
                return fields
        return None

    def stop_programs(self, names: list[str]) -> None:
        """Stop the programs, recorded in the home first (launcher/proof_stops.py): a proof killed before it starts
        them again (SIGKILL) leaves them named for `status`, the next proof and `up`."""
        proof_stops.record(self.home.run, self.name, names)
        for name in names:
            self.sup.api.stopProcess(name, True)

    def _start(self, name: str, wait: bool) -> None:
        """supervisord's startProcess; a program another start has begun meanwhile (STARTING by now: a proof's own
        starter thread) is started, as asked."""
        try:
            self.sup.api.startProcess(name, wait)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != Faults.ALREADY_STARTED:
                raise

    def start_programs(self, names: list[str]) -> None:
        """Start the programs that are not running: managed Redis first, waited for (the actors need
        it), then the others together, as supervisord itself would, without waiting for each one's
        start window in turn."""
        states = self.program_states()
        todo = [name for name in names if states.get(name) != "RUNNING"]
        redis_first = [name for name in todo if name == REDIS_PROGRAM or name.startswith(RESERVED_PROGRAM_PREFIX)]
        for name in redis_first:
            self._start(name, name == REDIS_PROGRAM)
        for name in todo:
            if name not in redis_first:
                self._start(name, False)
        # RUNNING once each has lived through its start window (startsecs); a program that keeps
        # exiting is left for the caller's checks to report.
        self.poll(self.program_states, lambda states: all(states.get(n) == "RUNNING" for n in todo),
                  PROGRAM_START_TIMEOUT_S, 0.1)
        proof_stops.release(self.home.run, names)

    def start_what_a_killed_proof_left_stopped(self) -> None:
        """Before the proof: start the programs a proof killed part-way left stopped (its record in the home), a check
        naming them (proof_stops.still_stopped); the record goes, with any program supervisord no longer runs or that
        was started since by hand."""
        left = proof_stops.left_by_ended_proof(self.home.run)
        if left is None:
            return
        names = proof_stops.still_stopped(left, self.sup.processes())  # as status names them
        self.start_programs(names)
        proof_stops.release(self.home.run, list(left.programs))
        if names:
            states = self.program_states()
            self.check("programs a killed proof left stopped started again",
                       all(states.get(n) == "RUNNING" for n in names), {n: states.get(n) for n in names},
                       f"stopped by the {left.proof} proof (pid {left.pid}), which ended before it started them again")

    # ----------------------------------------------------------------- report

    def collect_evidence(self) -> None:
        try:
            self.evidence["cluster_state"] = self.redis.hgetall(keys.CLUSTER_STATE)
            self.evidence["clusters"] = self.redis.hgetall(keys.CLUSTERS)
            self.evidence["cluster_hashes"] = {cid: self.redis.hgetall(keys.cluster_state_of(cid))
                                               for cid in self.evidence["clusters"]}
            self.evidence["last_decisions"] = [f for _, f in self.redis.xrevrange(keys.GATE_STREAM, count=10)]
        except Exception as exc:
            self.evidence["redis_error"] = f"{type(exc).__name__}: {exc}"
        samples: dict[str, Any] = {}
        for actor in self.topo.actors:
            try:
                sample = self.metrics(actor)
                samples[actor] = {k: v for k, v in sample.items() if k.startswith(("p26_", "p27_", "clustergate_"))}
            except OSError as exc:
                samples[actor] = f"unreachable: {exc}"
        self.evidence["metrics"] = samples

    def write_report(self) -> Path:
        self.collect_evidence()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.started))
        out_dir = self.home.run / "proofs"
        out_dir.mkdir(parents=True, exist_ok=True)
        base = out_dir / f"{self.name}-{stamp}"
        passed = all(c.ok for c in self.checks) and bool(self.checks)
        report = {"proof": self.name, "topology": self.topo.name, "started": self.started,
                  "duration_s": round(time.time() - self.started, 2), "passed": passed,
                  "checks": [asdict(c) for c in self.checks], "evidence": self.evidence}
        base.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str))
        lines = [f"proof {self.name} on {self.topo.name}: {'PASSED' if passed else 'FAILED'} "
                 f"in {report['duration_s']} s"]
        lines += [f"{'PASS' if c.ok else 'FAIL'}  {c.name}: {json.dumps(c.value, default=str)}"
                  + (f"  ({c.detail})" if c.detail else "") for c in self.checks]
        lines += ["", "evidence:", json.dumps(self.evidence, indent=2, default=str)]
        base.with_suffix(".txt").write_text("\n".join(lines) + "\n")
        return base

    def close(self) -> None:
        for client in self.gate_clients.values():
            if client is not self.client:
                client.close()
        if self.client is not None:
            self.client.close()
        self.redis.close()


def run_proof(name: str, body: Callable[[Proof, argparse.Namespace], None], argv: list[str] | None = None,
              args: argparse.Namespace | None = None) -> int:
    """Run body(proof, args), print the verdict and where the report is; 0 only if every check passed and was printed.
    A proof runs to its end whatever its output does (it starts again what it stopped, and writes its report): a
    stdout that refuses its lines (`> /dev/full`) makes it 1, with a line on stderr giving the verdict and the
    report; a reader gone (`| head -1`) makes it 141, as SIGPIPE does (opcli: the next line raised, and the
    line about that raised again, a traceback with no report)."""
    global LAST_REPORT
    command = "clustergate proof"
    if args is None:  # a proof's own script (proofs/readiness.py): its options, before the proof may keep going
        std_streams.prepare()
        parser = std_streams.ArgumentParser(prog=f"proofs/{name.replace('-', '_')}.py")
        add_arguments(parser)
        try:
            args = parser.parse_args(argv)
        except std_streams.OutputRefused as exc:  # `--help > /dev/full`: exit 0 with nothing written before
            return std_streams.say_output_refused(parser.prog, exc)
        refuse_options_of_other_proofs(parser, name, args)
        command = parser.prog
    std_streams.prepare(keep_going=True)
    LAST_REPORT = None
    code = _run_proof(name, body, args, command)
    lost = std_streams.output_lost()
    if lost is None:
        return code
    if isinstance(lost, BrokenPipeError):
        return code or 128 + signal.SIGPIPE
    ran = (f"the proof {'PASSED' if code == 0 else 'FAILED'}: report {LAST_REPORT[0]}.txt and .json"
           if LAST_REPORT else f"the proof did not run (exit {code})")
    print(f"clustergate proof: cannot write to standard output: {lost.strerror or lost}; {ran}", file=sys.stderr)
    return code or 1


def other_system(given: Path, home: Home) -> str | None:
    """Why --topology FILE is not the system the home runs (None: it is, or the home runs none, or FILE spans hosts,
    each with a home of its own): a gate endpoint or a metrics port of FILE's that the home's running copy does not
    have (ports a host gives one system at a time). A proof acts through the home's supervisord and FILE's gates,
    Redis and metrics: given another system's file, it mixed the two (opcli: PASSED in the home's report, its permit
    issued by the other system).
    Settings may differ, the Redis database too: a proof of the file about to be applied, or one the running system
    does not match (tests/test_proofs.py breaks the system so)."""
    if not home.topology.exists():
        return None
    try:
        mine, running = load_to_run(str(given))[0], load_running_copy(home.topology)[0]
    except SchemaError:
        return None  # said by the proof itself, naming the file
    if mine.hosts:
        return None

    def places(topo: Topology) -> dict[str, str]:
        where = {f"gate {g} at": str(s.bind or s.connect) for g in topo.actors_of_kind("gate")
                 for s in [topo.actor(g).sockets["proposals"]]}
        where.update({f"{n} metrics on port": str(topo.actor(n).metrics_port) for n in topo.actors})
        return where

    theirs, moved = places(running), None
    for what, at in places(mine).items():
        if theirs.get(what) == at:
            continue
        if theirs.get(what) == in_home(at, home) and what.startswith("gate "):
            moved = moved or (what, at)
            continue
        held = f"the home's at {theirs[what]}" if what in theirs else "the home runs none"
        return (f"{given} is not the system {home.root} runs (its {what} {at}, {held}): give {home.topology}, or "
                f"leave --topology out")
    if moved:  # the file the home was started from: it was called another system (revopcli)
        what, at = moved
        return (f"{given} is the system {home.root} runs, but its {what} {at} runs at {in_home(at, home)} (`up` moves a "
                f"relative ipc:// path under the home's run/ipc/), which a proof given {given} would not reach: give "
                f"{home.topology}, or leave --topology out")
    return None


def _run_proof(name: str, body: Callable[[Proof, argparse.Namespace], None], args: argparse.Namespace,
               command: str) -> int:
    if problem := home_variable_problem(args):  # as --home's is, bad input
        print(f"{command}: {problem}", file=sys.stderr)
        return 2
    home = home_from(args)
    topology_path = running_topology_path(args)
    if not topology_path.exists():
        print(f"FAIL  topology: {topology_path} does not exist (is the system of {home.root} up? "
              f"`clustergate up FILE --home {shlex.quote(str(home.root))}`)")
        return 1
    other = other_system(topology_path, home) if getattr(args, "topology", None) else None
    if other:
        print(f"FAIL  topology: {other}")
        return 2
    try:
        held = proof_stops.hold(home.run, name)  # one proof at a time on a home
    except proof_stops.ProofRunning as exc:
        print(f"FAIL  proof: {exc}")
        return 1
    except OSError as exc:  # the proof writes its record and report there too
        print(f"FAIL  proof: cannot take the proof lock in {home.run}: {exc.strerror or exc}")
        return 1
    try:
        return _run_proof_held(name, body, args, home, topology_path)
    finally:
        os.close(held)


def _run_proof_held(name: str, body: Callable[[Proof, argparse.Namespace], None], args: argparse.Namespace,
                    home: Home, topology_path: Path) -> int:
    try:
        proof = Proof(name, home, topology_path)
    except SchemaError as exc:
        for problem in exc.problems:
            print(problem.render(str(topology_path)), file=sys.stderr)
        return 2
    except ProofFailed as exc:
        print(f"FAIL  {exc}")
        return 1
    except ValueError as exc:  # a client key that cannot be read (KeyFileError names the file)
        print(f"FAIL  gate client: {exc}")
        return 1
    try:
        running = bool(proof.topo.hosts) or proof.sup.running()  # several hosts: asked through their endpoints
    except LaunchError as exc:  # a frozen supervisord: say what to do instead of a traceback
        print(f"FAIL  {exc}")
        proof.close()
        return 1
    if not running:
        print(f"FAIL  supervisord: not running on {home.socket} (start the system with "
              f"`clustergate up FILE --home {shlex.quote(str(home.root))}`)")
        return 1
    print(f"proof {name} against {proof.topo.name} ({proof.topology_path})", flush=True)
    interrupted = 0
    previous = {signum: signal.getsignal(signum) for signum in INTERRUPTIONS}
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:  # nohup: stays ignored
            signal.signal(signum, _raise_interrupted)
    try:
        proof.start_what_a_killed_proof_left_stopped()
        body(proof, args)
    except ProofFailed as exc:
        print(f"stopping: '{exc}' failed", flush=True)
    except Interrupted as exc:
        interrupted = exc.signum
        tell(f"interrupted ({signal_name(exc.signum)}): what the proof stopped was started again")
        proof.check("proof ran to the end", False, f"interrupted by {signal_name(exc.signum)}")
    except REFUSALS as exc:  # worded as `clustergate positions` words it: the variable, never the password
        proof.check("Redis accepts the proof's credentials", False, auth_refusal(proof.topo.redis, exc))
    except Exception as exc:  # a broken proof is a failed proof, with the reason shown
        proof.check("proof ran to the end", False, f"{type(exc).__name__}: {exc}")
    finally:
        if not interrupted:  # interrupted: the others stay ignored until its report is written and named (put back
            _put_back(previous)  # before, a second SIGTERM, a supervisor's stop resent, killed it there: no report)
    try:
        base = proof.write_report()
        proof.close()
        global LAST_REPORT
        LAST_REPORT = (base, [c for c in proof.checks if not c.ok])
        passed = bool(proof.checks) and all(c.ok for c in proof.checks)
        failed = sum(not c.ok for c in proof.checks)
        print(f"{'PASSED' if passed else 'FAILED'}: {len(proof.checks) - failed}/{len(proof.checks)} checks; "
              f"report {base}.txt and .json", flush=True)
    finally:
        _put_back(previous)
    return 128 + interrupted if interrupted else 0 if passed else 1


def _put_back(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


# The signals that interrupt a proof: each raises Interrupted once, and any later one is ignored until the proof has
# cleaned up. SIGINT too: a Ctrl-C pressed twice, or a SIGINT to the process group of `clustergate proof` with no
# terminal, which clustergate passes on as well, cut the `finally` that starts the cluster side again (rev2).
INTERRUPTIONS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class Interrupted(BaseException):
    """SIGTERM, SIGHUP or SIGINT during a proof, raised where the proof is: its `finally` starts again what it stopped
    (a BaseException: no `except Exception` of a poll loop swallows it)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum: int, frame: Any) -> None:
    if interrupted_a_call_of(frame, _raise_interrupted):  # two sent at once: the second, nested in the first's handler before it ignored it
        return  # (its Interrupted replaced the first's: the proof named the second, exit 128 + its number)
    for each in INTERRUPTIONS:  # a second signal must not cut the `finally` short
        signal.signal(each, _held)
    raise Interrupted(signum)


def _held(_signum: int, _frame: Any) -> None:
    """A stop signal once the proof is stopping: taken and dropped. Not SIG_IGN: set while another one is pending (two
    sent at once: the interpreter takes them in number order), it wrote "Traceback ... OSError: Signal 15 ignored due
    to race condition"."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topology", help="topology of the running system (default: run/topology.yaml of the home)")
    parser.add_argument("--home", type=home_option,
                        help="directory with supervisord.conf and run/ (default: $CLUSTERGATE_HOME, else the repo root)")
    parser.add_argument("--all-programs", action="store_true",
                        help="warm-restart only: restart every program, managed Redis included")
    parser.add_argument("--warm-up-timeout-s", type=timeout_seconds, default=None,
                        help="readiness only: how long to wait for the cluster to warm up (deploy passes its --proof-timeout)")


# The options one proof alone reads (dest -> flag, proof). Given to another proof they were ignored without a word
# (`proof readiness --all-programs` restarted nothing; `proof fallback --warm-up-timeout-s` bounded nothing): refused.
OPTION_OF_PROOF = {"all_programs": ("--all-programs", "warm-restart"),
                   "warm_up_timeout_s": ("--warm-up-timeout-s", "readiness")}


def refuse_options_of_other_proofs(parser: argparse.ArgumentParser, name: str, args: argparse.Namespace) -> None:
    """Exit 2 (parser.error) naming an option given to a proof that does not read it, before anything is touched."""
    for dest, (flag, owner) in OPTION_OF_PROOF.items():
        if owner != name and getattr(args, dest, None) not in (None, False):
            parser.error(f"{flag} is an option of `clustergate proof {owner}` only, not of {name}")
