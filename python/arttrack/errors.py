"""What the library tells the commands when it stops: the one-line message of an error, and
:class:`Interrupted` for work that stopped cleanly on a signal."""

from __future__ import annotations

import signal

__all__ = ["Interrupted", "one_line"]


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message that is more than decoration (MindSpore
    frames its messages with lines of dashes); its type name when it has none."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip(" -=\t")]
    return lines[0] if lines else type(exc).__name__


class Interrupted(BaseException):
    """Work that stopped cleanly on a signal; ``saved`` says what it kept (one phrase).
    A command exits with ``128 + signum`` after printing it (:mod:`arttrack.cli`)."""

    def __init__(self, signum: int, saved: str) -> None:
        self.signum, self.saved = int(signum), saved
        super().__init__(f"interrupted by {signal.Signals(self.signum).name}; {saved}")
