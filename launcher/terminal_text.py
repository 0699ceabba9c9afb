"""Text that reaches an operator's terminal from a file anyone may write (a lock's holder, a proof's record)."""

from __future__ import annotations

HOLDER_MAX_CHARS = 400  # of the text a lock's holder names itself with (a deploy, in its locks)


def printable(text: str, limit: int = HOLDER_MAX_CHARS) -> str:
    """text as it may reach an operator's terminal: at most limit characters, each one a terminal would act on
    (escape, carriage return, bell, ...) shown as `?`."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])
