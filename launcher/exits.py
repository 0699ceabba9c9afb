"""What supervisord's own log says about programs that exited without being asked to.

supervisord restarts a program that exits after its `startsecs` without end (autorestart), and its
XML-RPC interface keeps no count of those restarts: a program that crashes every few seconds shows
RUNNING between crashes. Its log keeps one line per exit, e.g.
`2026-12-03 18:22:29,123 WARN exited: gate (terminated by SIGKILL; not expected)`; a stop asked
for (`stop`, `restart`, `up`, `down`) is logged as `stopped:` instead and is not counted here.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WINDOW_S = 600.0  # what `status` looks back over
TAIL_BYTES = 2 << 20  # of supervisord.log read (it rotates at 10 MB): a crash a second for 10 minutes fits
EXITED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ \w+ exited: ([A-Za-z0-9_.:-]+) \((.*); not expected\)$")


@dataclass(frozen=True)
class Exits:
    count: int  # unexpected exits within the window
    last_at: float  # epoch seconds of the newest
    last_how: str  # supervisord's words: "exit status 1", "terminated by SIGKILL"


def process_environ(pid: int | None) -> dict[bytes, bytes] | None:
    """The environment process `pid` runs with, from /proc; None when /proc cannot tell."""
    if not pid:
        return None
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    return dict(item.partition(b"=")[::2] for item in environ.split(b"\0") if item)


def zone_of(pid: int | None) -> str | None:
    """The TZ variable process `pid` runs with ("" when unset: the system's zone), from /proc; None when
    /proc cannot tell (then the caller's own zone is assumed)."""
    environ = process_environ(pid)
    if environ is None:
        return None
    return environ.get(b"TZ", b"").decode("utf-8", "surrogateescape")


# TZ is the process's: one block at a time reads local times (`status --all-hosts` reads each host's log in a thread).
_ZONE_LOCK = threading.Lock()


@contextmanager
def _local_time_of(zone: str | None) -> Iterator[None]:
    """time.mktime reads local times as in `zone` (a TZ value, "" for unset) inside the block; a block in another
    thread waits for this one's end."""
    with _ZONE_LOCK:
        kept = os.environ.get("TZ")
        if zone is None or zone == (kept or ""):
            yield
            return
        try:
            if zone:
                os.environ["TZ"] = zone
            else:
                os.environ.pop("TZ", None)
            time.tzset()
            yield
        finally:
            if kept is None:
                os.environ.pop("TZ", None)
            else:
                os.environ["TZ"] = kept
            time.tzset()


def _tail(path: Path, size: int) -> bytes:
    """The last `size` bytes of a file."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - size))
        return f.read()


def unexpected_exits(log: Path, now: float | None = None, window_s: float = WINDOW_S,
                     supervisord_pid: int | None = None) -> dict[str, Exits]:
    """program -> its unexpected exits in the last `window_s` seconds, from the tail of supervisord's
    log. Its times are local to supervisord, whose TZ may not be the caller's (`up` run from one shell,
    `status` from another): they are read in the zone of `supervisord_pid`. An unreadable or missing log gives {}."""
    now = time.time() if now is None else now
    try:
        tail = _tail(log, TAIL_BYTES)
    except OSError:
        return {}
    if len(tail) < TAIL_BYTES:  # rotated lately (at 10 MB): the window's first exits are in supervisord.log.1
        try:
            tail = _tail(log.with_name(log.name + ".1"), TAIL_BYTES - len(tail)) + b"\n" + tail
        except OSError:
            pass
    text = tail.decode("utf-8", "replace")
    found: dict[str, Exits] = {}
    stamped = []
    with _local_time_of(zone_of(supervisord_pid)):
        for line in text.splitlines():
            m = EXITED.match(line)
            if not m:
                continue
            try:
                stamped.append((time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")), m))
            except (ValueError, OverflowError):
                continue
    for at, m in stamped:
        if now - window_s <= at <= now + 1:
            seen = found.get(m.group(2))
            found[m.group(2)] = Exits((seen.count if seen else 0) + 1, at, m.group(3))
    return found


def describe(name: str, exits: Exits, log: Path, window_s: float = WINDOW_S) -> str:
    """One line for `status`."""
    times = "once" if exits.count == 1 else f"{exits.count} times"
    return (f"{name}: exited unexpectedly {times} in the last {window_s / 60:g} minutes, the last at "
            f"{time.strftime('%H:%M:%S', time.localtime(exits.last_at))} ({exits.last_how}); its log: {log}")


def as_json(exits: Exits, log: str | None, window_s: float = WINDOW_S) -> dict[str, Any]:
    """A program's `unexpected_exits` in `status --json` (one host, or each host of `--all-hosts`)."""
    return {"count": exits.count, "window_s": window_s, "last_at": exits.last_at, "last_how": exits.last_how,
            "log": log}
