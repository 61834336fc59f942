"""What every ``python -m arttrack.*`` command does the same way: exit status, the one-line
error, signals, logging.

Exit status (as argparse and the shell):

- 0: done;
- 2: bad usage or bad input: argparse's own errors, and any ``ValueError`` (every arttrack
  error about a file or a setting is one: ``ConfigError``, ``CheckpointError``,
  ``EvalError``, ...) or a missing file, before or during the work;
- 1: the work failed (an I/O error, a runtime error of MindSpore or OpenCV, a bug);
- 130 after Ctrl-C (SIGINT), 143 after SIGTERM: one line names the signal and says what
  was saved (:class:`Interrupted` carries it when the work stopped cleanly, e.g.
  training's checkpoint).

Errors are one line ``<prog>: error: <first line of the message>`` on stderr; ``--debug``
(or ``-vv``) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from arttrack.errors import Interrupted, one_line

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_SIGTERM = 128 + signal.SIGTERM

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_SIGINT", "EXIT_SIGTERM", "EXIT_USAGE",
           "Interrupted", "Terminated", "add_model_args", "checkpoint_arg", "exit_code", "main",
           "one_line", "reassert_signals", "run", "setup_logging"]


class Terminated(BaseException):
    """SIGTERM, raised in the main thread (like KeyboardInterrupt for SIGINT) so that
    ``finally`` blocks and context managers clean up what was half-written."""


def exit_code(exc: BaseException) -> int:
    """The exit status of an exception that ended a command (module docstring)."""
    if isinstance(exc, Interrupted):
        return 128 + exc.signum
    if isinstance(exc, Terminated):
        return EXIT_SIGTERM
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_SIGINT
    own = getattr(exc, "exit_code", None)  # errors that know their status (the model cache's)
    if isinstance(own, int):
        return own
    if isinstance(exc, (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError)):
        return EXIT_USAGE
    return EXIT_FAILURE


_OWN_HANDLERS: dict = {}


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def reassert_signals() -> None:
    """Put :func:`run`'s SIGINT / SIGTERM handlers back. MindSpore's runtime installs a C
    SIGINT handler when it loads and again at its first network call (it ends the process
    by SIGTERM), which would turn Ctrl-C into a SIGTERM exit; commands that run a network
    call this after loading it and after network calls."""
    if threading.current_thread() is threading.main_thread():
        for sig, handler in _OWN_HANDLERS.items():
            signal.signal(sig, handler)


def run(prog: str, work: Callable[[], Optional[int]], *, debug: bool = False,
        saved: Callable[[], str] = lambda: "nothing was saved",
        signals: bool = True) -> int:
    """Run a command's ``work`` and turn its outcome into an exit status (module docstring).

    ``saved`` says, after Ctrl-C or SIGTERM, what the work had finished. ``signals``: install
    the SIGINT / SIGTERM handlers (raise KeyboardInterrupt / :class:`Terminated` in the main
    thread); False for work that handles signals itself (training stops after a step).
    """
    previous = {}
    if signals and threading.current_thread() is threading.main_thread():
        # SIGINT too: Ctrl-C interrupts even when the parent started us with SIGINT ignored
        # (a background job of a non-interactive shell)
        for sig, handler in ((signal.SIGTERM, _on_sigterm),
                             (signal.SIGINT, signal.default_int_handler)):
            previous[sig] = signal.signal(sig, handler)
            _OWN_HANDLERS[sig] = handler
    try:
        code = work()
        return EXIT_OK if code is None else int(code)
    except Interrupted as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return exit_code(exc)
    except (KeyboardInterrupt, Terminated) as exc:
        name = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
        print(f"{prog}: interrupted by {name}; {saved()}", file=sys.stderr)
        return exit_code(exc)
    except Exception as exc:  # noqa: BLE001 - one readable line, not a traceback
        if debug:
            raise
        logging.getLogger(prog).debug("traceback", exc_info=True)
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return exit_code(exc)
    finally:
        for sig, handler in previous.items():
            _OWN_HANDLERS.pop(sig, None)
            signal.signal(sig, handler)


def setup_logging(verbosity: int) -> None:
    """0: warnings, 1: progress (INFO), 2: debug."""
    level = (logging.WARNING, logging.INFO)[verbosity] if verbosity < 2 else logging.DEBUG
    logging.basicConfig(level=level, format="%(name)s: %(levelname)s: %(message)s")


def main(prog: str, parser: argparse.ArgumentParser,
         work: Callable[[argparse.Namespace], Optional[int]],
         argv: Optional[Sequence[str]] = None, *, default_verbosity: int = 0,
         saved: Callable[[], str] = lambda: "nothing was saved", signals: bool = True) -> int:
    """The ``main()`` of a command: parse ``argv`` (argparse exits 2 on bad usage), set up
    logging from ``-v`` (plus ``default_verbosity``; ``-vv`` or ``--debug`` also shows
    tracebacks) and :func:`run` ``work(args)``."""
    args = parser.parse_args(argv)
    given = int(getattr(args, "verbose", 0) or 0)
    setup_logging(given + default_verbosity)
    debug = bool(getattr(args, "debug", False)) or given >= 2
    return run(prog, lambda: work(args), debug=debug, saved=saved, signals=signals)


# ------------------------------------------------------------------------- arguments
def checkpoint_arg(value: str) -> str:
    """``--ckpt``: a checkpoint file as it is; a registered model name or a model folder ->
    the checkpoint its model.json names (argparse reports a model that is not fetched)."""
    if Path(value).is_file():
        return value
    if value.endswith(".ckpt"):
        raise argparse.ArgumentTypeError(f"checkpoint not found: {value}")
    from arttrack.models import zoo

    try:
        ckpt = zoo.model_files(zoo.resolve(value))["checkpoint"]
    except zoo.ModelError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if ckpt is None:
        raise argparse.ArgumentTypeError(f"model {value!r} names no checkpoint in its model.json")
    return str(ckpt)


def add_model_args(p: argparse.ArgumentParser) -> None:
    """--ckpt, --config, --set, --device, --mode, --batch-size, --flip-test (shared with
    pairwise fit)."""
    p.add_argument("--ckpt", required=True, type=checkpoint_arg,
                   help="checkpoint (training snapshot or exported model), or a model: a name "
                        "from `python -m arttrack.models list` (fetched) or a model folder")
    p.add_argument("--config", default=None,
                   help="experiment YAML (default: the config embedded in the checkpoint)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set dataset=/data/mpii.mat (repeatable)")
    p.add_argument("--device", default="CPU", choices=("CPU", "GPU", "Ascend"))
    p.add_argument("--mode", default="graph", choices=("graph", "pynative"),
                   help="MindSpore execution: graph (mindspore.jit, default) or pynative")
    p.add_argument("--backend", default="auto", choices=("auto", "mindspore", "onnxruntime"),
                   help="what runs the network: auto (default) = MindSpore here, since dataset "
                        "images differ in size and ONNX Runtime needs one export per size; "
                        "onnxruntime on CPU exports once per image size into the model cache")
    p.add_argument("--batch-size", type=int, default=8, help="images per network call")
    p.add_argument("--flip-test", action="store_true",
                   help="also run every image mirrored and average the maps (left/right "
                        "swapped back): usually more accurate, twice the network time; fit "
                        "and use a spatial model with the same setting")
