"""A command's standard streams as the operator's shell leaves them. One that is closed (`>&-`, `2>&-`, `<&-`) is
/dev/null, to the command and to every process it starts; a write that standard output refuses (`> /dev/full`, a
full disk, EIO of a terminal gone) raises OutputRefused, for the command's main to say in one line, or, for a
command that must run to its end once started (a proof stops and starts programs), is remembered and dropped."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable


class OutputRefused(OSError):
    """Standard output refused a write or a flush. Its reader gone (EPIPE) stays a BrokenPipeError."""


class _GuardedStdout:
    """sys.stdout for a command: the stream itself, its refused writes raised as OutputRefused, or remembered
    in `lost` (and the stream sent to /dev/null) when `keep_going`."""

    def __init__(self, stream: Any, keep_going: bool):
        self._stream, self.keep_going, self.lost = stream, keep_going, None

    def write(self, text: str) -> int:
        return self._guarded(self._stream.write, text)

    def flush(self) -> None:
        self._guarded(self._stream.flush)

    def _guarded(self, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except OSError as exc:
            if not self.keep_going:
                if isinstance(exc, BrokenPipeError):
                    raise
                raise OutputRefused(exc.errno, exc.strerror) from exc
            self.lost = self.lost or exc
            discard_stdout()
            return len(args[0]) if args else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, except that help standard output refuses (`--help > /dev/full`) raises OutputRefused:
    argparse drops an OSError while it prints, and the command exited 0 with nothing written. Its subcommands'
    parsers are of this class too. Standard error refusing a usage error, or a reader gone (EPIPE), stays quiet."""

    def _print_message(self, message: str, file: Any = None) -> None:
        if not message:
            return
        file = file or sys.stderr
        try:
            file.write(message)
        except OSError as exc:
            if file is not sys.stdout or isinstance(exc, BrokenPipeError):
                return
            raise exc if isinstance(exc, OutputRefused) else OutputRefused(exc.errno, exc.strerror) from exc


def say_output_refused(command: str, exc: OSError) -> int:
    """A command's one line when standard output refused its answer; its exit code, 1. What stays in the output's
    buffer is dropped first, so that the interpreter's last flush does not fail again in a traceback."""
    discard_stdout()
    print(f"{command}: cannot write to standard output: {exc.strerror}", file=sys.stderr)
    return 1


def prepare(keep_going: bool = False) -> None:
    """Open /dev/null on each standard stream the caller closed, for this process and for every process it starts (a
    closed descriptor 1 is the number the next file or socket opened gets, and what is printed lands in it); then
    guard sys.stdout. Once per process, before the command reads or changes anything."""
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        opened = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
        if opened != fd:
            os.dup2(opened, fd)
            os.close(opened)
        os.set_inheritable(fd, True)  # os.open's descriptors are closed on exec: the programs it starts had none
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))
    if isinstance(sys.stdout, _GuardedStdout):
        sys.stdout.keep_going = keep_going
    else:
        sys.stdout = _GuardedStdout(sys.stdout, keep_going)


def output_lost() -> OSError | None:
    """What standard output refused first, since prepare(keep_going=True); None when everything was written."""
    return getattr(sys.stdout, "lost", None)


def discard_stdout() -> None:
    """Send standard output to /dev/null from here on: what stays in its buffer must not fail again, in a
    traceback, at the interpreter's last flush."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
