"""``python -m arttrack.train``: train the ArtTrack / DeeperCut network from a YAML config.

    python -m arttrack.train --config configs/synthetic_tiny.yaml [--set key=value ...]
        [--steps N] [--resume]

The work, data parallelism under ``msrun`` and what a signal does:
:mod:`arttrack.training.trainer`. Exit status as every command (:mod:`arttrack.cli`): 0
done, 2 bad config / input, 1 a failure during the run, 130 / 143 after SIGINT / SIGTERM
(the line says which checkpoint was saved).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from arttrack import cli

PROG = "arttrack.train"

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m arttrack.train",
        description="Train the ArtTrack/DeeperCut network (MindSpore; CPU, GPU or Ascend; "
                    "data parallel under msrun).",
        epilog="Example: python -m arttrack.train --config configs/synthetic_tiny.yaml "
               "--set multi_step='[[0.05, 200]]' --set snapshot_prefix=out/tiny/snapshot")
    p.add_argument("--config", required=True, help="YAML config (see configs/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (value parsed as YAML); repeatable")
    p.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint under snapshot_prefix")
    p.add_argument("--steps", type=int, default=None, metavar="N",
                   help="stop after N steps in all (the config's max_steps; default: the end of "
                        "multi_step), without changing the learning-rate schedule")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v: debug logging")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    p.add_argument("--dump-weights", metavar="DIR", default=None,
                   help="testing aid: every rank writes its final parameters to DIR/rank<k>.npz")
    return p


def _run(args: argparse.Namespace) -> None:
    from arttrack.config import ConfigError, load_config
    from arttrack.training.trainer import train

    cfg = load_config(args.config, args.overrides)
    if args.steps is not None:
        if args.steps < 1:
            raise ConfigError(f"--steps must be >= 1, got {args.steps}")
        cfg = cfg.replace(max_steps=args.steps)
    train(cfg, resume=args.resume, quiet=args.quiet, dump_weights_dir=args.dump_weights)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.main(PROG, build_parser(), _run, argv, default_verbosity=1,
                    saved=lambda: "no checkpoint was written")


if __name__ == "__main__":
    sys.exit(main())
