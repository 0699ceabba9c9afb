"""What a stop signal's Python handler needs to know about where it runs."""

from __future__ import annotations

from typing import Any, Callable


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
