"""``python -m arttrack.convert``: import TensorFlow (DeeperCut, TF-slim) or torchvision weights."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from arttrack import cli

PROG = "arttrack.convert"

EXAMPLES = """\
examples:
  python -m arttrack.convert tf models/coco/coco-resnet-101 --out coco/model.ckpt
      the authors' COCO model (+ models/coco/pairwise/) -> model.ckpt, pairwise_stats.npz
      and spatial.npz in coco/; track with
      python -m arttrack.multiperson clip.mp4 --ckpt coco/model.ckpt
  python -m arttrack.convert tf resnet_v1_101.ckpt --out resnet_v1_101_imagenet.ckpt
      TF-slim ImageNet weights -> what the config key init_weights takes
  python -m arttrack.convert torch --src resnet101.safetensors --arch resnet101 --out r101.ckpt
      torchvision / timm weights (safetensors) for the torchvision-layout ResNets

`python -m arttrack.models fetch NAME` downloads and converts the published models for you.
"""


def _parse_depths(s: str):
    try:
        d = tuple(int(x) for x in s.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--depths wants four comma-separated ints, got {s!r}")
    if len(d) != 4:
        raise argparse.ArgumentTypeError(f"--depths wants four comma-separated ints, got {s!r}")
    return d


def build_parser() -> argparse.ArgumentParser:
    from arttrack.models import list_models

    ap = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXAMPLES,
        description="Convert pretrained weights to arttrack checkpoints.")
    sub = ap.add_subparsers(dest="source", required=True, metavar="{tf,torch}")
    t = sub.add_parser(
        "tf", prog=f"{PROG} tf", formatter_class=argparse.RawDescriptionHelpFormatter,
        help="a TensorFlow checkpoint: the DeeperCut authors' pose models or TF-slim ImageNet ResNets",
        description="Import a TensorFlow checkpoint without TensorFlow. A pose model (the authors' "
                    "coco-resnet-101, mpii-single-resnet-101) becomes a full arttrack checkpoint with "
                    "its config (joint set from the head sizes, the authors' test-time settings) and, "
                    "with a pairwise head, pairwise_stats.npz and spatial.npz beside it; an ImageNet "
                    "classifier (resnet_v1_50/101.ckpt) becomes a backbone for init_weights. Every "
                    "variable must find its place; only optimizer state and an ImageNet classifier "
                    "are left out (listed in the summary).")
    t.add_argument("prefix", help="checkpoint: a V2 prefix (PREFIX.index + PREFIX.data-*) or a V1 file")
    t.add_argument("--out", required=True, help="output MindSpore checkpoint (.ckpt)")
    t.add_argument("--pairwise-dir", help="the authors' pairwise/ folder (default: pairwise/ beside "
                                          "the checkpoint, as their download script leaves it)")
    t.add_argument("--joint-set", help="joint set of the heads (default: from their size: 17 coco17, "
                                       "14 mpii14)")
    t.add_argument("--interm-layer", type=int, default=12,
                   help="block3 unit feeding the intermediate head (default 12, the authors'; "
                        "the checkpoint cannot tell)")
    t.add_argument("--pair-order", choices=("tensorflow", "graph"), default="tensorflow",
                   help="pairwise channel order: tensorflow (default; DeeperCut's "
                        "tensorflow_pairwise_order true) or graph (false: the rows of "
                        "pairwise_stats.mat)")
    t.add_argument("-v", "--verbose", action="store_true")
    c = sub.add_parser(
        "torch", prog=f"{PROG} torch", help="torchvision / timm ResNet weights (.safetensors, .npz; "
                                            ".pth needs PyTorch)",
        description="Convert torchvision/timm ResNet weights to an arttrack backbone checkpoint for "
                    "create_model(pretrained=) / init_weights.")
    c.add_argument("--src", required=True, help="source state dict file")
    c.add_argument("--arch", default="resnet101",
                   choices=[m for m in list_models() if not m.startswith("resnet_v1")])
    c.add_argument("--out", required=True, help="output MindSpore checkpoint (.ckpt)")
    c.add_argument("--depths", type=_parse_depths, default=None,
                   help="override layer depths, e.g. 3,4,23,3")
    c.add_argument("--width", type=int, default=None, help="override base width")
    c.add_argument("--block", choices=["basic", "bottleneck"], default=None)
    c.add_argument("--strict", action="store_true", help="fail on unexpected keys too")
    c.add_argument("-v", "--verbose", action="store_true")
    return ap


def _tf(args: argparse.Namespace) -> str:
    from arttrack.convert.tf import (checkpoint_variables, import_tf_backbone,
                                     import_tf_pose_model, inspect_tf_model)

    info = inspect_tf_model(checkpoint_variables(args.prefix), source=args.prefix)
    if info.kind == "imagenet":
        rep = import_tf_backbone(args.prefix, args.out)
        return (f"wrote {args.out} (+ .json): {info.scope} ImageNet backbone, {rep['converted']} "
                f"parameters; left out {len(rep['ignored'])} (classifier, optimizer state); "
                "use it as init_weights with net_type " + rep["arch"])
    pdir = args.pairwise_dir
    if pdir is None and info.pairwise:
        guess = Path(args.prefix).parent / "pairwise"
        pdir = guess if guess.is_dir() else None
    rep = import_tf_pose_model(args.prefix, args.out, joint_set=args.joint_set,
                               interm_layer=args.interm_layer, pairwise_dir=pdir,
                               tensorflow_pairwise_order=args.pair_order == "tensorflow")
    out = Path(args.out)
    extra = "".join(f", {out.parent / f}" for f in rep["files"][1:])
    hint = (f"\ntrack people with: python -m arttrack.multiperson VIDEO --ckpt {out}"
            + (f" --spatial {out.parent / 'spatial.npz'}" if rep["spatial_model"] else "")
            if rep["spatial_model"] else "")
    return (f"wrote {out}{extra}: {rep['arch']} pose model, {rep['joint_set']}, heads "
            f"{', '.join(rep['heads'])}; {rep['converted']} parameters, "
            f"{len(rep['ignored'])} optimizer variables left out{hint}")


def _torch(args: argparse.Namespace) -> str:
    from arttrack.convert.torchvision import convert_file

    report = convert_file(args.src, args.out, args.arch, depths=args.depths, width=args.width,
                          block=args.block, strict=args.strict)
    return f"wrote {args.out}: {report.summary()}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].startswith("--src"):  # the form before `tf` existed
        argv = ["torch"] + argv
    args = build_parser().parse_args(argv)
    cli.setup_logging(int(bool(args.verbose)))

    def work() -> None:
        import mindspore as ms

        ms.set_device("CPU")
        print(_tf(args) if args.source == "tf" else _torch(args))

    return cli.run(PROG, work, debug=getattr(args, "debug", False),
                   saved=lambda: "nothing was written")


if __name__ == "__main__":
    sys.exit(main())
