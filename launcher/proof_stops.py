"""Programs a proof stopped and has not started again, recorded in the home's run/proof-stopped.json.

A proof writes the record before it stops a program and removes the program from it once it started it again, so a
proof killed in between (SIGKILL reaches no `finally`) leaves the record: `clustergate status` names the programs and
the proof, the next proof starts them again before it begins, and `up`, which starts every program stopped by hand,
removes it. The proof is named by its pid and the process's start time (/proc), so a pid used again by another
process does not pass for the proof.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE = "proof-stopped.json"


@dataclass(frozen=True)
class ProofStops:
    proof: str  # the proof's name: fallback, warm-restart
    pid: int
    started: str | None  # the process's start time in clock ticks since boot (/proc/PID/stat), None when unknown
    programs: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"proof": self.proof, "pid": self.pid, "programs": list(self.programs)}


def _path(run: Path) -> Path:
    return run / FILE


def _start_ticks(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/PID/stat), None when it is gone, a zombie or unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def read(run: Path) -> ProofStops | None:
    """The record in the run directory, None when there is none or it cannot be read as one."""
    try:
        data = json.loads(_path(run).read_text())
        return ProofStops(str(data["proof"]), int(data["pid"]), data.get("started"),
                          tuple(str(name) for name in data["programs"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(run: Path, stops: ProofStops) -> None:
    path = _path(run)
    if not stops.programs:
        path.unlink(missing_ok=True)
        return
    temp = path.with_name(f".{FILE}.{os.getpid()}")
    temp.write_text(json.dumps({"proof": stops.proof, "pid": stops.pid, "started": stops.started,
                                "programs": list(stops.programs)}))
    os.replace(temp, path)


def record(run: Path, proof: str, programs: list[str]) -> None:
    """Before this process (the proof `proof`) stops `programs`: add them to the record."""
    held = read(run)
    kept = held.programs if held is not None and held.pid == os.getpid() else ()
    _write(run, ProofStops(proof, os.getpid(), _start_ticks(os.getpid()),
                           kept + tuple(name for name in programs if name not in kept)))


def release(run: Path, programs: list[str]) -> None:
    """After `programs` were started again: remove them from the record (the record goes with the last one)."""
    held = read(run)
    if held is not None:
        _write(run, ProofStops(held.proof, held.pid, held.started,
                               tuple(name for name in held.programs if name not in programs)))


def left_by_ended_proof(run: Path) -> ProofStops | None:
    """The record of a proof that no longer runs (killed before it started its programs again), else None."""
    held = read(run)
    if held is None:
        return None
    now = _start_ticks(held.pid)
    return None if now is not None and (held.started is None or now == held.started) else held


def forget_ended_proof(run: Path) -> None:
    """Remove the record of a proof that no longer runs (`up` has started every program stopped by hand)."""
    if left_by_ended_proof(run) is not None:
        _path(run).unlink(missing_ok=True)
