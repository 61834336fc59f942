"""``python -m arttrack.export``: export a trained network to MINDIR, ONNX or AIR, with a
metadata JSON beside it (the work is :func:`arttrack.deploy.export.export_checkpoint`).

::

    python -m arttrack.export --ckpt snapshot.ckpt --format ONNX --height 480 --width 640 \\
        --out arttrack_mpii.onnx

Model hyper-parameters come from, later ones winning: the checkpoint's side metadata, the
experiment config embedded in a training checkpoint, ``--config``, then explicit flags
(``--arch``, ``--num-joints``, ...). Exit status and errors as every command
(:mod:`arttrack.cli`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from arttrack import cli
from arttrack.deploy.export import FORMATS, MODEL_KEYS, export_checkpoint, metadata_path

PROG = "arttrack.export"

__all__ = ["build_parser", "main"]


def _parse_depths(s: str):
    try:
        d = tuple(int(x) for x in s.split(","))
    except ValueError:
        d = ()
    if len(d) != 4:
        raise argparse.ArgumentTypeError(f"--depths wants four comma-separated ints, got {s!r}")
    return d


def build_parser() -> argparse.ArgumentParser:
    from arttrack.models import list_models

    ap = argparse.ArgumentParser(
        prog="python -m arttrack.export",
        description="Export an arttrack checkpoint to MINDIR/ONNX/AIR with <out>.json metadata "
                    "(input: NCHW float32 RGB minus mean pixel, no /255).")
    ap.add_argument("--ckpt", required=True, help="trained MindSpore checkpoint (.ckpt)")
    ap.add_argument("--config", help="experiment YAML (arttrack.config); overrides the config "
                                     "embedded in the checkpoint and <ckpt>.json")
    ap.add_argument("--format", default="MINDIR", type=str.upper, choices=sorted(FORMATS))
    ap.add_argument("--height", type=int, required=True)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--out", required=True, help="output model file")
    g = ap.add_argument_group("model (override checkpoint metadata / config)")
    g.add_argument("--arch", choices=list_models())
    g.add_argument("--num-joints", type=int)
    g.add_argument("--locref", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--pairwise", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--intermediate-supervision", action=argparse.BooleanOptionalAction,
                   default=None)
    g.add_argument("--intermediate-supervision-layer", type=int)
    g.add_argument("--output-stride", type=int, choices=(8, 16, 32))
    g.add_argument("--depths", type=_parse_depths, help="e.g. 1,1,1,1")
    g.add_argument("--base-width", type=int, help="backbone base channels (model 'width')")
    g.add_argument("--block", choices=["basic", "bottleneck"])
    m = ap.add_argument_group("metadata")
    m.add_argument("--joint-set", help="joint set name (mpii14, coco17, posetrack15) for joint_names")
    m.add_argument("--locref-stdev", type=float)
    m.add_argument("--pairwise-stats", help="JSON/YAML/NPZ with the pairwise mean/std")
    ap.add_argument("--no-verify", action="store_true", help="skip the onnxruntime check")
    ap.add_argument("-v", "--verbose", action="count", default=0, help="log progress (-vv: debug)")
    return ap


def _run(args: argparse.Namespace) -> None:
    model = {k: getattr(args, "base_width" if k == "width" else k) for k in MODEL_KEYS}
    out = export_checkpoint(args.ckpt, args.format, args.height, args.width, args.out,
                            config=args.config, model=model, joint_set=args.joint_set,
                            locref_stdev=args.locref_stdev, pairwise_stats=args.pairwise_stats,
                            batch=args.batch, verify=not args.no_verify)
    print(f"wrote {out} and {metadata_path(out).name}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.main(PROG, build_parser(), _run, argv)


if __name__ == "__main__":
    sys.exit(main())
