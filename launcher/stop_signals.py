"""What a stop signal's Python handler needs to know about where it runs."""

from __future__ import annotations

import _signal
import signal
from contextlib import contextmanager
from typing import Any, Callable, Iterator

# The signals whose Python handler must have run before the main thread reads what it records: a SIGCONT's
# (_was_continued, read by the loop's stall check). The stop signals may land on any thread: a wait a stop must cut
# watches the signal wakeup pipe, which their C handler writes wherever it runs (Actor.wait_or_stop).
LEFT_TO_THE_MAIN_THREAD = frozenset({signal.SIGCONT})


@contextmanager
def signals_left_to_the_main_thread() -> Iterator[None]:
    """Threads started inside take none of LEFT_TO_THE_MAIN_THREAD sent to the process (a thread starts with its
    starter's mask and keeps it): the main thread takes each one, its C handler run there before any more of its code.
    The kernel hands a process's signal to any thread that does not block it, and the interpreter runs the Python
    handler of one another thread took in the main thread only later, whenever that thread next looks: a SIGCONT taken
    by an actor's metrics thread reached the loop after its first stall check, which blamed a handler (loop_stalled)
    for a stop."""
    # Read, then blocked inside the try: pthread_sigmask runs the Python handlers of signals that came before it after
    # its system call, and one that raised there (the gate's StopWaiting, a Ctrl-C's KeyboardInterrupt) lost the mask
    # it returned: blocked by that one call, the thread kept them blocked (1 in 100 raising SIGTERMs). _signal's, not
    # signal.pthread_sigmask: that one is a Python function, and a handler raising as it is entered (the stop signals
    # are not blocked here) skipped the restore of the finally (22 in 2,622 raises).
    previous = _signal.pthread_sigmask(signal.SIG_BLOCK, ())
    try:
        _signal.pthread_sigmask(signal.SIG_BLOCK, LEFT_TO_THE_MAIN_THREAD)
        yield
    finally:
        _signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def interrupted_a_call_of(frame: Any, *functions: Callable[..., Any]) -> bool:
    """Whether a signal handler, given the frame it interrupted, runs nested in a call of one of `functions` (or of
    the few they call): the second of two signals sent at once, arriving while the first's handler runs, before it
    raised, has the interpreter run its handler there, and its exception replaced the first's."""
    codes = {function.__code__ for function in functions}
    for _ in range(8):  # the handler's frame and the few it calls; a stop is never deeper
        if frame is None:
            return False
        if frame.f_code in codes:
            return True
        frame = frame.f_back
    return False
