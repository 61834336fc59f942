"""Shared behaviour of the command-line entry points: errors as one readable line."""

from __future__ import annotations

import sys
from typing import Any, Callable


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_reporting_errors(prog: str, fn: Callable[[], Any], *, debug: bool = False) -> tuple[int, Any]:
    """Run ``fn``; on failure print ``<prog>: error: <one line>`` and return exit code 1
    (130 on Ctrl-C). ``debug`` re-raises instead, for a full traceback. Returns
    ``(exit code, fn's result or None)``."""
    try:
        return 0, fn()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130, None
    except Exception as exc:  # noqa: BLE001 - one readable line, not a traceback
        if debug:
            raise
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return 1, None
