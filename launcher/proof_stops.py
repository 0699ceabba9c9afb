"""Programs a proof stopped and has not started again, recorded in the home's run/proof-stopped.json.

A proof writes the record before it stops a program and removes the program from it once it started it again, so a
proof killed in between (SIGKILL reaches no `finally`) leaves the record: `clustergate status` names the programs and
the proof, the next proof starts them again before it begins, and `up`, which starts every program stopped by hand,
removes it. The proof is named by its pid and the process's start time (/proc), so a pid used again by another
process does not pass for the proof, and a record without a start time is taken as an ended proof's.

One proof at a time runs on a home (hold): two at once would each stop programs under the other's checks, and the
second's record would replace the first's, which a SIGKILL then left stopped with nothing naming them.

`up` keeps the same record, in run/up-stopping.json (UP_FILE, its name "up"), of the programs it stops to restart or
remove them: each is added just before supervisord is asked to stop it and removed once supervisord runs it again (or
no longer has it), so an `up` killed part-way (a deploy's command timeout, an OOM kill) names what it stopped, not a
program it never reached that was stopped by hand later. Killed, it left them STOPPED, which `status` showed with no
word of why and the next `up` started as "stopped by hand". An `up` that fails (an error it caught, its files put back)
marks its record failed (fail), so neither names it as killed. `down` keeps it too (its name "down"), of the programs
it stops until supervisord is shut. An `up` that takes over an ended `up`'s (or `down`'s) record, as it starts what that
one left stopped, keeps each of those programs' owner (owners): failed later, it is named for what it stopped itself,
and the ended one, killed or failed as it was, for the rest.

A record is written to .FILE.PID, locked (flock) by its writer until renamed over FILE; one left by a process killed
(or out of disk space) between the two is removed by the next read or write of the record, once the kernel says that
pid runs no process and no one holds its lock (another pid namespace's writer, whose pid names nothing here, holds
it): a pid whose /proc entry cannot be read (hidepid, another user's) is not known to have ended, and its file stays.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import json
import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from launcher.terminal_text import printable

FILE = "proof-stopped.json"
UP_FILE = "up-stopping.json"
LOCK = "proof.lock"  # flock'ed by the proof that runs on the home; it names that proof


class ProofRunning(Exception):
    """Another proof holds the home's proof lock."""


@dataclass(frozen=True)
class ProofStops:
    proof: str  # the proof's name: fallback, warm-restart
    pid: int
    started: str | None  # the process's start time in clock ticks since boot (/proc/PID/stat), None when unknown
    programs: tuple[str, ...]
    at: float | None = None  # epoch time the record was last written, before the stops; None when unknown
    failed: bool = False  # the process ended on an error it caught (an `up` that put its files back), not killed
    since: tuple[tuple[str, float], ...] = ()  # (program, epoch time it was added to the record); `at` for one not here
    # (program, proof, pid, failed) of a program an ended process stopped, taken over with its record; the record's
    # own (proof, pid, failed) for one not here (an older record has none)
    owners: tuple[tuple[str, str, int, bool], ...] = ()

    def owner(self, name: str) -> tuple[str, int, bool]:
        """(proof, pid, failed) of the process that stopped the program `name`."""
        return next(((proof, pid, failed) for program, proof, pid, failed in self.owners if program == name),
                    (self.proof, self.pid, self.failed))

    def as_json(self) -> dict[str, Any]:
        return {"proof": self.proof, "pid": self.pid, "programs": list(self.programs),
                **({"failed": True} if self.failed else {})}


def _path(run: Path, file: str = FILE) -> Path:
    return run / file


def _ended(pid: int) -> bool:
    """Whether the pid is known to run no process here (no /proc entry, and kill 0 says no such process), or a zombie.
    Not known (an entry it may not read under hidepid, another user's process kill 0 may not signal) is not ended."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        pass
    except OSError:
        return False
    else:
        return bool(fields) and fields[0] in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OverflowError:  # no pid is this large
        return True
    except OSError:  # PermissionError: it runs, another user's
        return False
    return False


def _start_ticks(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/PID/stat), None when it is gone, a zombie or unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


PROOF_NAME_MAX_CHARS = 40  # of a proof's name as a record or lock file gives it
MAX_BYTES = 64 * 1024  # a record past this is no proof's (a few program names)
TEMP_LOCK_TRIES, TEMP_LOCK_WAIT_S = 100, 0.01  # a writer's wait for its temp file's lock, held by cleaners a moment


def by_owner(left: ProofStops, names: list[str]) -> list[dict[str, Any]]:
    """The programs `names` of the record, grouped by the process that stopped them (ProofStops.owner), in order."""
    groups: dict[tuple[str, int, bool], list[str]] = {}
    for name in names:
        groups.setdefault(left.owner(name), []).append(name)
    return [{"proof": proof, "pid": pid, "failed": failed, "programs": programs}
            for (proof, pid, failed), programs in groups.items()]


def _remove_ended_temps(run: Path, file: str) -> None:
    """Remove the temp files (.FILE.PID, see _write) of pids that have ended (_ended): left by a process killed, or out
    of disk space, between its write and its rename. Never a live pid's, nor one whose pid is not known to have ended,
    nor one its writer still locks (one of another pid namespace): it may be writing."""
    for temp in glob.glob(os.path.join(glob.escape(str(run)), f".{glob.escape(file)}.*")):
        pid = temp.rpartition(".")[2]
        if not (pid.isascii() and pid.isdigit() and _ended(int(pid))):  # not "²": a digit int() refuses
            continue
        try:  # for writing: an NFS client's flock is a whole-file fcntl lock, an exclusive one EBADF on a read-only fd
            fd = os.open(temp, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW)  # a FIFO there does not block the open
        except PermissionError:  # another user's file: its lock is still the writer's sign (a local filesystem)
            try:
                fd = os.open(temp, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
            except OSError:
                continue
        except OSError:  # gone, a directory: left as it is
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a writer until its rename
            if _same_file(fd, temp):  # not a file a writer made there since another cleaner removed this one
                os.unlink(temp)
        except OSError:  # locked: being written; a directory: left as it is
            pass
        finally:
            os.close(fd)


def read(run: Path, file: str = FILE) -> ProofStops | None:
    """The record in the run directory, None when there is none or it cannot be read as one (past MAX_BYTES too). The
    proof's name is printable and short; a program's name is as written (a caller names only its home's programs)."""
    _remove_ended_temps(run, file)
    try:
        with open(_path(run, file), "rb") as f:
            text = f.read(MAX_BYTES + 1)
        if len(text) > MAX_BYTES:
            return None
        data = json.loads(text)
        started, at, since, owners = data.get("started"), data.get("at"), data.get("since"), data.get("owners")
        return ProofStops(printable(str(data["proof"]), PROOF_NAME_MAX_CHARS), int(data["pid"]),
                          None if started is None else str(started),
                          tuple(dict.fromkeys(str(name) for name in data["programs"])),  # named twice: once
                          float(at) if _is_time(at) else None,
                          data.get("failed") is True,
                          _since(since),
                          _owners(owners))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError):  # Overflow: a pid of 1e400
        return None


def _is_time(value: Any) -> bool:
    """Whether a record's time is one: a finite number of seconds since the epoch, not negative (not true, not "5")."""
    return type(value) in (int, float) and math.isfinite(value) and value >= 0


def _since(since: Any) -> tuple[tuple[str, float], ...]:
    """A record's since (program -> time it was recorded). An entry that is no time (_is_time: a string, NaN, 1e400,
    negative) is left out, its program compared with the record's `at` as in a record of the older shape: it does not
    lose the record, nor is the program compared with a time no start can be before (or after)."""
    if not isinstance(since, dict):
        return ()
    return tuple((str(name), float(t)) for name, t in since.items() if _is_time(t))


def _owners(owners: Any) -> tuple[tuple[str, str, int, bool], ...]:
    """A record's owners (program -> {proof, pid, failed}). An entry that is no owner (not a mapping, no proof, a pid
    not an integer) is left out, its program named by the record's own process as in a record of the older shape: it
    does not lose the record, which names the programs left stopped."""
    if not isinstance(owners, dict):
        return ()
    return tuple((str(name), printable(str(o["proof"]), PROOF_NAME_MAX_CHARS), o["pid"], o.get("failed") is True)
                 for name, o in owners.items() if isinstance(o, dict) and "proof" in o and type(o.get("pid")) is int)


def _write(run: Path, stops: ProofStops, file: str = FILE) -> None:
    path = _path(run, file)
    _remove_ended_temps(run, file)
    if not stops.programs:
        path.unlink(missing_ok=True)
        return
    temp = path.with_name(f".{file}.{os.getpid()}")
    text = json.dumps({"proof": stops.proof, "pid": stops.pid, "started": stops.started,
                       "programs": list(stops.programs), "at": stops.at, "failed": stops.failed,
                       "since": dict(stops.since),
                       "owners": {name: {"proof": proof, "pid": pid, "failed": failed}
                                  for name, proof, pid, failed in stops.owners if name in stops.programs}})
    fd = _locked_temp(temp)
    try:
        with open(fd, "w", closefd=False) as out:
            out.write(text)
        os.replace(temp, path)
    finally:
        os.close(fd)


def _locked_temp(temp: Path) -> int:
    """The temp file opened for writing, empty, with its lock (flock) held: _remove_ended_temps removes only a file it
    locked, so a file this one locked and still finds at `temp` is removed by no one until closed."""
    for _ in range(TEMP_LOCK_TRIES):  # each turn lost to a cleaner holding the file this one opened, or removing it
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _same_file(fd, temp):
                os.ftruncate(fd, 0)
                return fd
        except BlockingIOError:  # a cleaner's, for as long as it checks and removes it
            time.sleep(TEMP_LOCK_WAIT_S)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    raise OSError(errno.EBUSY, f"its temp file {temp} held (flock) or removed by another process each time it was "
                               f"opened, for {TEMP_LOCK_TRIES} tries")  # strerror: what `up` says


def _same_file(fd: int, path: Path | str) -> bool:
    """Whether the open file is the one at path now (not one removed since it was opened)."""
    try:
        at, held = os.stat(path, follow_symlinks=False), os.fstat(fd)
    except OSError:
        return False
    return (at.st_dev, at.st_ino) == (held.st_dev, held.st_ino)


def _own(held: ProofStops | None) -> bool:
    """Whether the record is this process's: its pid and its start time (a record a killed process left, whose pid
    this one has now, is that one's)."""
    return held is not None and held.pid == os.getpid() and held.started == _start_ticks(os.getpid())


def record(run: Path, proof: str, programs: list[str], file: str = FILE,
           taken: dict[str, tuple[str, int, bool]] | None = None) -> None:
    """Before this process (the proof `proof`) stops `programs`: add them to the record. `taken`: of those, the ones an
    ended process left stopped, which this one takes over, with that one's (proof, pid, failed)."""
    held = read(run, file)
    own = _own(held)
    kept, since, owners = (held.programs, held.since, held.owners) if own else ((), (), ())
    now = time.time()
    added = tuple(dict.fromkeys(name for name in programs if name not in kept))
    _write(run, ProofStops(proof, os.getpid(), _start_ticks(os.getpid()), kept + added, now, False,
                           since + tuple((name, now) for name in added),
                           owners + tuple((name, *(taken or {})[name]) for name in added if name in (taken or {}))),
           file)


def release(run: Path, programs: list[str], file: str = FILE) -> None:
    """After `programs` were started again: remove them from the record (the record goes with the last one)."""
    held = read(run, file)
    if held is not None:  # another process's record (a killed `up`'s, a failed one's) stays its, as it was
        _write(run, replace(held, programs=tuple(name for name in held.programs if name not in programs)), file)


def fail(run: Path, file: str = FILE) -> None:
    """This process ends on an error it caught: its record (if any) says so, not that it was killed part-way. Called
    on the way out of that error: a record it cannot write (disk full) stays as it was, naming the programs still."""
    held = read(run, file)
    if _own(held):
        try:
            _write(run, replace(held, failed=True), file)
        except OSError:
            pass


def left_by_ended_proof(run: Path, file: str = FILE) -> ProofStops | None:
    """The record of a proof that no longer runs (killed before it started its programs again), else None. A record
    without a start time is an ended proof's: every proof records its own, and a live pid alone may be another
    process's."""
    held = read(run, file)
    if held is None:
        return None
    now = _start_ticks(held.pid)
    return None if now is not None and now == held.started else held


def still_stopped(left: ProofStops, infos: list[dict[str, Any]]) -> list[str]:
    """The record's programs that supervisord runs (infos: its getAllProcessInfo), not RUNNING, and not started since
    each was recorded (since; the record's time for a record without it): one started since (by hand, not `up`) and
    stopped again was stopped by someone else, on purpose, and is no longer the proof's to name or start. Not the time
    the record was last written: an `up` writes it again for each program it stops."""
    by_name, since = {info["name"]: info for info in infos}, dict(left.since)
    return [name for name in left.programs if name in by_name and by_name[name]["statename"] != "RUNNING"
            and (since.get(name, left.at) is None or by_name[name].get("start", 0) <= since.get(name, left.at))]


def forget_ended_proof(run: Path, file: str = FILE) -> None:
    """Remove the record of a proof (or `up`) that no longer runs (`up` has started every program stopped by hand)."""
    if left_by_ended_proof(run, file) is not None:
        _path(run, file).unlink(missing_ok=True)


def hold(run: Path, proof: str) -> int:
    """Take the home's proof lock for this process (the proof `proof`): held while the returned descriptor is open, and
    dropped by the kernel when the process ends, SIGKILL included. ProofRunning, naming the proof that holds it, when
    another proof runs on the home."""
    run.mkdir(parents=True, exist_ok=True)
    fd = os.open(run / LOCK, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by the proof's children
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(os.pread(fd, 512, 0))
        os.close(fd)
        raise ProofRunning(f"{holder} runs on this home ({run.parent}): two proofs at once stop programs under "
                           f"each other's checks; run this one once it has ended") from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"proof": proof, "pid": os.getpid()}).encode(), 0)
    return fd


def _holder(text: bytes) -> str:
    """The proof a lock file names, printable and short, whatever the file holds."""
    try:
        data = json.loads(text)
        proof, pid = str(data["proof"]), int(data["pid"])
    except (ValueError, KeyError, TypeError):
        return "another proof"
    return f"the {printable(proof, PROOF_NAME_MAX_CHARS)} proof (pid {pid})"
