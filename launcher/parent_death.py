"""Die with the parent: a process supervisord starts must not outlive it.

`die_with_parent()` asks the kernel (Linux prctl PR_SET_PDEATHSIG) to send SIGTERM when the parent
exits, even by SIGKILL; callers also compare os.getppid() with the pid it returns, which covers a
parent that died before the request and systems without prctl. Run as a script it is an exec shim
for programs we cannot change (redis-server): `python parent_death.py BINARY ARGS...` arms the
signal, which survives exec, and becomes BINARY. The kernel signals when the thread that forked the
process ends: start these processes from a main thread (supervisord has only one).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> int:
    """Arm the parent-death signal; return the parent's pid (the process signals itself at once if
    the parent has already gone: it changed meanwhile, or supervisord started us and is no longer
    the parent)."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the caller's getppid() check still works
        pass
    if os.getppid() != parent or _adopted(parent):
        os.kill(os.getpid(), sig)
    return parent


def _adopted(parent: int) -> bool:
    """True when supervisord started this process (it sets SUPERVISOR_ENABLED) but the parent is no
    supervisord: it died before the signal was armed and init (or a subreaper) adopted us. A parent
    that is pid 1 is not enough: in a container supervisord itself is often pid 1."""
    if not os.environ.get("SUPERVISOR_ENABLED"):
        return False
    try:
        with open(f"/proc/{parent}/cmdline", "rb") as f:
            args = f.read().split(b"\0")[:3]  # supervisord, python supervisord, python -m supervisor.supervisord
    except OSError:
        return False  # no /proc: the caller's getppid() check is all there is
    return not any(b"supervisord" in os.path.basename(a) for a in args)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: parent_death.py BINARY [ARGS...]")
    die_with_parent()
    os.execv(sys.argv[1], sys.argv[1:])
