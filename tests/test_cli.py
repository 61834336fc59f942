"""The conventions every ``python -m arttrack.*`` command shares (arttrack.cli): exit status
0 on success, 2 for bad usage or bad input, 1 for a failure during the work, 130 after
Ctrl-C and 143 after SIGTERM, each failure one line on stderr naming the program.

Each command runs in-process with its work function replaced by one that succeeds, raises
the error under test or receives the signal (the real work of each command is tested in its
own test file; the subprocess signal tests of train and multiperson are in test_train.py and
test_videobatch.py)."""

from __future__ import annotations

import importlib
import os
import signal

import pytest

from arttrack import cli
from arttrack.errors import Interrupted, one_line

# command module, attribute holding its work, valid argv (after the files below exist),
# the program name of its error lines
COMMANDS = {
    "multiperson": ("arttrack.multiperson", "_run", ["clip.mp4"], "arttrack.multiperson"),
    "predict": ("arttrack.predict", "_run", ["--ckpt", "m.ckpt", "--out", "p.json"],
                "arttrack.predict"),
    "train": ("arttrack.train", "_run", ["--config", "c.yaml"], "arttrack.train"),
    "track": ("arttrack.track", "_run", ["poses.json", "--out", "t.json"], "arttrack.track"),
    "pairwise": ("arttrack.pairwise", "_cmd_stats", ["stats", "--out", "s.npz"],
                 "arttrack.pairwise"),
    "export": ("arttrack.export", "_run", ["--ckpt", "m.ckpt", "--height", "8", "--width", "8",
                                           "--out", "m.onnx"], "arttrack.export"),
    "preprocess": ("arttrack.preprocess", "_run", ["--meta", "m.json", "--out", "bins"],
                   "arttrack.preprocess"),
    "eval": ("arttrack.eval.__main__", "_run", ["pckh", "--gt", "g.json", "--pred", "p.json"],
             "arttrack.eval pckh"),
    "models": ("arttrack.models.__main__", "_run", ["list"], "arttrack.models list"),
    "convert": ("arttrack.convert.__main__", "_tf", ["tf", "prefix", "--out", "o.ckpt"],
                "arttrack.convert"),
    "postprocess": ("arttrack.postprocess.__main__", "_work",
                    ["--results", "r", "--index", "i.json", "--meta", "m.json", "--out", "o.json"],
                    "arttrack.postprocess"),
}


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.ckpt").write_bytes(b"")  # --ckpt checks that the file exists
    return tmp_path


def _raise(exc: BaseException):
    def work(*args, **kwargs):
        raise exc
    return work


def _sigterm(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)
    raise AssertionError("SIGTERM did not interrupt the work")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_exit_status_and_one_line(name, in_tmp, monkeypatch, capsys):
    module, attr, argv, prog = COMMANDS[name]
    mod = importlib.import_module(module)

    def run(work) -> tuple[int, list[str]]:
        monkeypatch.setattr(mod, attr, work)
        rc = mod.main(list(argv))
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        return rc, err

    # success; what the work function returns (None or 0) is the status
    assert run(lambda *a, **k: None)[0] == 0
    # bad input: a ValueError (every arttrack input error is one) or a missing file
    for exc in (ValueError("the input is wrong\nmore detail"), FileNotFoundError("no such file: x")):
        rc, err = run(_raise(exc))
        assert rc == 2 and err == [f"{prog}: error: {one_line(exc)}"], (rc, err)
    # a failure during the work
    rc, err = run(_raise(RuntimeError("the device failed")))
    assert rc == 1 and err == [f"{prog}: error: the device failed"], (rc, err)
    # Ctrl-C and SIGTERM: one line naming the signal; the previous handlers come back
    before = signal.getsignal(signal.SIGTERM)
    rc, err = run(_raise(KeyboardInterrupt()))
    assert rc == 130 and len(err) == 1 and err[0].startswith(f"{prog}: interrupted by SIGINT; "), err
    rc, err = run(_sigterm)
    assert rc == 143 and len(err) == 1 and err[0].startswith(f"{prog}: interrupted by SIGTERM; "), err
    assert signal.getsignal(signal.SIGTERM) == before
    # work that stopped cleanly on a signal says what it saved
    rc, err = run(_raise(Interrupted(signal.SIGTERM, "saved snapshot-7.ckpt")))
    assert rc == 143 and err == [f"{prog}: interrupted by SIGTERM; saved snapshot-7.ckpt"], err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_and_bad_usage(name, in_tmp, capsys):
    module, _, _, _ = COMMANDS[name]
    mod = importlib.import_module(module)
    with pytest.raises(SystemExit) as e:
        mod.main(["--help"])
    assert e.value.code == 0 and "usage:" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        mod.main(["--no-such-option"])
    assert e.value.code == 2 and "usage:" in capsys.readouterr().err


def test_exit_code_by_exception():
    """The table of arttrack.cli's docstring, case by case."""
    from arttrack.config import ConfigError
    from arttrack.models import zoo

    assert cli.exit_code(ValueError("x")) == cli.EXIT_USAGE == 2
    assert cli.exit_code(ConfigError("x")) == 2
    assert cli.exit_code(FileNotFoundError("x")) == 2
    assert cli.exit_code(IsADirectoryError("x")) == 2
    assert cli.exit_code(PermissionError("x")) == cli.EXIT_FAILURE == 1  # an OSError of the work
    assert cli.exit_code(RuntimeError("x")) == 1
    assert cli.exit_code(FloatingPointError("x")) == 1
    assert cli.exit_code(KeyboardInterrupt()) == cli.EXIT_SIGINT == 130
    assert cli.exit_code(cli.Terminated()) == cli.EXIT_SIGTERM == 143
    assert cli.exit_code(Interrupted(signal.SIGINT, "x")) == 130
    err = zoo.ModelNotFoundError("not fetched")
    assert cli.exit_code(err) == err.exit_code  # the model cache's errors carry their status


def test_one_line_skips_decoration():
    assert one_line(RuntimeError("----------\n  The device failed  \nmore")) == "The device failed"
    assert one_line(ValueError("")) == "ValueError"
