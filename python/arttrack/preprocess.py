"""``python -m arttrack.preprocess``: letterbox images (or MPII person crops) into the float32
binaries ``arttrack-infer`` reads, with an ``index.json`` of the geometry (the format and the
sources: :mod:`arttrack.deploy.binaries`).

::

    python -m arttrack.preprocess --meta model.onnx.json --images DIR --out BINDIR
    python -m arttrack.preprocess --meta model.onnx.json --dataset mpii.mat --out BINDIR
    python -m arttrack.preprocess --meta model.onnx.json --config experiment.yaml --out BINDIR
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from arttrack import cli
from arttrack.deploy.binaries import items_for, load_meta, write_bins

PROG = "arttrack.preprocess"

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m arttrack.preprocess",
        description="Letterbox and normalise images as the export metadata says and write one "
                    "float32 .bin per image (or person crop) plus index.json, for arttrack-infer.")
    ap.add_argument("--meta", required=True,
                    help="export metadata JSON (<model>.json from python -m arttrack.export)")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--images", metavar="DIR", help="every image under DIR, whole")
    src.add_argument("--dataset", metavar="MAT",
                     help="MPII annotation .mat: one person crop per annotated person")
    ap.add_argument("--config", help="experiment YAML: its MPII dataset/image_dir when neither "
                                     "--images nor --dataset is given")
    ap.add_argument("--image-root", help="--dataset: the images folder (default: images/ beside "
                                         "the .mat or its parent)")
    ap.add_argument("--split", default="all", choices=("all", "train", "test"),
                    help="--dataset: img_train == 1 (train), == 0 (test) or all (default)")
    ap.add_argument("--crop", default="person", choices=("person", "image"),
                    help="--dataset: crop each person (default) or take whole single-person images")
    ap.add_argument("--crop-margin", type=float, default=0.25,
                    help="--dataset --crop person: margin around the person, times its box's "
                         "longer side (default 0.25)")
    ap.add_argument("--limit", type=int, help="only the first N items")
    ap.add_argument("--out", required=True, help="output folder for the .bin files and index.json")
    ap.add_argument("-v", "--verbose", action="count", default=0, help="log progress (-vv: debug)")
    return ap


def _run(args: argparse.Namespace) -> None:
    meta = load_meta(args.meta)
    items, extra = items_for(meta, images=args.images, dataset=args.dataset, config=args.config,
                             image_root=args.image_root, split=args.split, crop=args.crop,
                             crop_margin=args.crop_margin, limit=args.limit)
    index = write_bins(items, meta, args.out, meta_path=args.meta, extra=extra)
    print(f"wrote {index}")


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(PROG, build_parser(), _run, argv)


if __name__ == "__main__":
    sys.exit(main())
