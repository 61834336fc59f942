"""``python -m arttrack.pairwise``: pairwise statistics and the spatial / temporal models.

Statistics (:mod:`arttrack.data.pairwise_stats`): the mean and standard deviation of every
ordered joint pair's offset, which normalise the network's pairwise targets. The spatial
model (:mod:`arttrack.training.spatial_fit`): one logistic regression per pair of the joint
set's sparse pair graph (or a denser one with ``--hops``) on the network's own detections
over the config's training images; the temporal model
(:mod:`arttrack.training.temporal_fit`) on annotated clips.

CLI (argparse subcommands)::

    python -m arttrack.pairwise stats --dataset coco --ann person_keypoints_train2017.json \
        --out stats.npz [--global-scale 1.0]
    python -m arttrack.pairwise stats --dataset mpii --ann mpii_human_pose_v1_u12_1.mat \
        --out stats.npz
    python -m arttrack.pairwise stats --config configs/synthetic_demo.yaml --num-images 2000 \
        --out stats.npz
    python -m arttrack.pairwise fit --config CFG --ckpt CKPT [--num-images N] --out spatial.npz \
        [--temporal-out temporal.npz --clips POSETRACK_ANNOTATIONS]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from arttrack import cli
from arttrack.data.pairwise_stats import (load_dataset_records, save_pairwise_stats,
                                          stats_from_config, stats_from_records)
from arttrack.io.atomic import atomic_path
from arttrack.joints import get_joint_set

PROG = "arttrack.pairwise"
logger = logging.getLogger(PROG)

__all__ = ["build_parser", "main"]


def _cmd_stats(args: argparse.Namespace) -> int:
    if args.config:
        from arttrack.config import load_config

        given = [f for f, v in (("--dataset", args.dataset), ("--ann", args.ann),
                                ("--image-root", args.image_root), ("--split", args.split),
                                ("--joint-set", args.joint_set),
                                ("--global-scale", args.global_scale != 1.0)) if v]
        if given:
            raise ValueError(f"{given[0]} does not apply with --config (the config gives the data, "
                             "joint set and global_scale; override them with --set)")
        if args.num_images is not None and args.num_images < 1:
            raise ValueError("--num-images must be >= 1")
        cfg = load_config(args.config, args.overrides)
        stats = stats_from_config(cfg, args.num_images)
    else:
        if not args.dataset or not args.ann:
            raise ValueError("give --dataset and --ann (or --config)")
        records, joint_set = load_dataset_records(args.dataset, args.ann, args.image_root, args.split)
        if args.joint_set:
            joint_set = get_joint_set(args.joint_set)
        if args.overrides or args.num_images is not None:
            raise ValueError("--set and --num-images apply with --config only")
        stats = stats_from_records(records, joint_set, global_scale=args.global_scale)
    with atomic_path(Path(args.out)) as tmp:
        save_pairwise_stats(stats, tmp)
    logger.info("wrote %s (%s joints, %d labeled pairs)", args.out, stats.joint_set,
                int(stats.count.sum()))
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    from arttrack.inference import Predictor
    from arttrack.inference.datasets import annotated_images
    from arttrack.models.checkpoint import config_for
    from arttrack.training.spatial_fit import fit_spatial_model
    from arttrack.training.temporal_fit import fit_temporal_model, posetrack_clips

    fit_temporal = None
    if args.temporal_out:  # check before spending time on the spatial fit
        fit_temporal = fit_temporal_model
        if not args.clips:
            raise ValueError("--temporal-out needs annotated clips: pass --clips (PoseTrack 2018 "
                             "annotation file or folder)")
    if args.num_images is not None and args.num_images < 1:
        raise ValueError("--num-images must be >= 1")
    if args.hops is not None and args.hops < 1:
        raise ValueError(f"--hops must be >= 1, got {args.hops}")
    cfg = config_for(args.ckpt, args.config, args.overrides)
    if not cfg.pairwise_predict:
        raise ValueError("the spatial model scores the pairwise head's offsets: the config needs "
                         "pairwise_predict: true")
    predictor = Predictor.from_checkpoint(args.ckpt, cfg, device=args.device, mode=args.mode,
                                          batch_size=args.batch_size, flip_test=args.flip_test)
    js = get_joint_set(cfg.joint_set)
    pairs = js.pair_graph if args.hops is None else js.pairs_within(args.hops)
    radius = args.radius if args.radius is not None else cfg.pos_dist_thresh * cfg.global_scale
    records = ((img, people) for _, img, people, _ in
               annotated_images(cfg, args.split, args.num_images))
    model, report = fit_spatial_model(predictor, records, pairs, radius=radius, l2=args.l2,
                                      min_samples=args.min_samples, balanced=args.balanced,
                                      num_images=args.num_images, return_report=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        model.save(tmp)
    logger.info("wrote %s: %s", out, report.summary())
    if fit_temporal is not None:
        clips = posetrack_clips(args.clips, args.num_videos)
        temporal = fit_temporal(clips)
        tout = Path(args.temporal_out)
        tout.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(tout) as ttmp:
            temporal.save(ttmp)
        logger.info("wrote %s (temporal model from %d clips)", tout, len(clips))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m arttrack.pairwise",
        description="Pairwise statistics and models for ArtTrack's pairwise terms.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    st = sub.add_parser("stats", help="mean/std of joint-to-joint offsets per ordered pair",
                        description="Compute pairwise statistics and write them as .npz.")
    st.add_argument("--config", default=None,
                    help="compute over a training config's data instead (its joint set, "
                         "global_scale; synthetic configs need no files)")
    st.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="config override (with --config)")
    st.add_argument("--num-images", type=int, default=None,
                    help="with --config: use the first N training samples (default: all)")
    st.add_argument("--dataset", default=None, choices=("coco", "mpii", "mpii-json"))
    st.add_argument("--ann", default=None, help="annotation file (.json / .mat)")
    st.add_argument("--image-root", default=None, help="image folder (only for paths)")
    st.add_argument("--split", default=None, choices=("train", "val", "all"),
                    help="MPII split (default: train for .mat, all for the JSON conversion)")
    st.add_argument("--global-scale", type=float, default=1.0,
                    help="training global_scale the offsets are measured at")
    st.add_argument("--joint-set", default=None, help="override the joint set name")
    st.add_argument("--out", required=True, help="output .npz")
    st.set_defaults(func=_cmd_stats)

    ft = sub.add_parser(
        "fit", help="fit the spatial model (logistic regression per joint pair)",
        description="Run the network over the config's training images, label candidate edges "
                    "between detections by the ground truth (same person / different people) and "
                    "fit one L2-regularised logistic regression per pair of the joint set's pair "
                    "graph (--hops) on the 9 pairwise features (arttrack.training.spatial_fit).")
    cli.add_model_args(ft)
    ft.add_argument("--split", default="train", choices=("train", "val", "all"),
                    help="data split (synthetic: train = the training seed)")
    ft.add_argument("--num-images", type=int, default=None, help="use only the first N images")
    ft.add_argument("--radius", type=float, default=None,
                    help="detection-to-joint matching radius in px (default pos_dist_thresh * "
                         "global_scale)")
    ft.add_argument("--hops", type=int, default=None,
                    help="pair graph: joints at most this many skeleton edges apart get a pairwise "
                         "term (default: the joint set's, 2; more hops link limbs to the body "
                         "through more edges at more cost per frame)")
    ft.add_argument("--l2", type=float, default=1.0, help="L2 penalty of the weights (1/C)")
    ft.add_argument("--min-samples", type=int, default=10,
                    help="positives and negatives a pair needs for its own model (else pooled)")
    ft.add_argument("--balanced", action="store_true", help="weigh classes by inverse frequency")
    ft.add_argument("--out", required=True, help="output spatial model .npz")
    ft.add_argument("--temporal-out", default=None,
                    help="also fit the temporal model (arttrack.training.temporal_fit) on "
                         "the ground-truth tracks of --clips and write it here")
    ft.add_argument("--clips", default=None,
                    help="annotated clips for --temporal-out: PoseTrack 2018 ground truth (a "
                         "JSON file or a folder of per-video files)")
    ft.add_argument("--num-videos", type=int, default=None, help="clips to use for --temporal-out")
    ft.set_defaults(func=_cmd_fit)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.main(PROG, build_parser(), lambda args: args.func(args), argv, default_verbosity=1)


if __name__ == "__main__":
    sys.exit(main())
