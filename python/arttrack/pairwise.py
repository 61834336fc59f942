"""Pairwise statistics (and, later, the spatial / temporal pairwise models).

Pairwise statistics: for every ordered joint pair (j, k), j != k, the mean and standard
deviation of the offset ``joint_k - joint_j`` (x, y, in pixels) over all people with both
joints labeled, measured at training scale (each sample's joints multiplied by
``base_scale * global_scale``; the jitter averages to 1). The codec normalises the
pairwise targets with them (:class:`arttrack.data.codec.PoseCodec`); rows are in channel
order ``c = arttrack.joints.pair_channel(j, k, J)``.

File format (``.npz``, written by :func:`save_pairwise_stats`)::

    format        str   "arttrack.pairwise_stats/1"
    joint_set     str   e.g. "coco17"
    joint_names   (J,)  str
    pairs         (C, 2) int64  (j, k) of every row, C = J*(J-1)
    mean, std     (C, 2) float64  x, y
    count         (C,)  int64  number of labeled pairs per row
    global_scale  float

CLI (argparse subcommands)::

    python -m arttrack.pairwise stats --dataset coco --ann person_keypoints_train2017.json \
        --out stats.npz [--global-scale 1.0]
    python -m arttrack.pairwise stats --dataset mpii --ann mpii_human_pose_v1_u12_1.mat \
        --out stats.npz
    python -m arttrack.pairwise stats --config configs/synthetic_demo.yaml --num-images 2000 \
        --out stats.npz
    python -m arttrack.pairwise fit --config CFG --ckpt CKPT [--num-images N] --out spatial.npz \
        [--temporal-out temporal.npz --clips POSETRACK_ANNOTATIONS]

``fit`` trains the spatial model (one logistic regression per pair of the joint set's
sparse pair graph, or of a denser one with ``--hops``) on the network's own detections over
the config's training images; see :mod:`arttrack.spatial_fit`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np

from arttrack._atomic import atomic_path
from arttrack.joints import JointSet, get_joint_set, pair_channel

logger = logging.getLogger(__name__)

FORMAT = "arttrack.pairwise_stats/1"
MIN_STD = 1.0  # px; floor for degenerate pairs so normalisation never divides by ~0

__all__ = ["PairwiseStats", "compute_pairwise_stats", "save_pairwise_stats",
           "load_pairwise_stats", "stats_from_records", "stats_from_config", "main"]


@dataclass(frozen=True, eq=False)
class PairwiseStats:
    """Per ordered pair mean / std of the offset joint_k - joint_j, rows in channel order."""

    joint_set: str
    joint_names: tuple[str, ...]
    mean: np.ndarray  # (C, 2)
    std: np.ndarray  # (C, 2)
    count: np.ndarray  # (C,)
    global_scale: float = 1.0

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def pairs(self) -> np.ndarray:
        J = self.num_joints
        out = np.zeros((J * (J - 1), 2), np.int64)
        for j in range(J):
            for k in range(J):
                if j != k:
                    out[pair_channel(j, k, J)] = (j, k)
        return out

    def row(self, j: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        c = pair_channel(j, k, self.num_joints)
        return self.mean[c], self.std[c]


def compute_pairwise_stats(people: Iterable[np.ndarray], joint_set: JointSet, *,
                           scales: Optional[Iterable[float]] = None,
                           global_scale: float = 1.0) -> PairwiseStats:
    """Statistics over an iterable of (P, J, 3) joint arrays (one per sample).

    ``scales`` (optional, one per sample) are the dataset's ``base_scale`` factors; every
    offset is multiplied by ``base_scale * global_scale``.
    """
    J = joint_set.num_joints
    C = J * (J - 1)
    s1 = np.zeros((C, 2))
    s2 = np.zeros((C, 2))
    cnt = np.zeros(C, np.int64)
    jj, kk = np.nonzero(~np.eye(J, dtype=bool))
    chan = np.array([pair_channel(j, k, J) for j, k in zip(jj, kk)])
    scale_iter = iter(scales) if scales is not None else None
    n_samples = 0
    for joints in people:
        n_samples += 1
        f = global_scale * (float(next(scale_iter)) if scale_iter is not None else 1.0)
        joints = np.asarray(joints, np.float64).reshape(-1, J, 3)
        for person in joints:
            lab = person[:, 2] > 0
            ok = lab[jj] & lab[kk]
            if not ok.any():
                continue
            off = (person[kk[ok], :2] - person[jj[ok], :2]) * f
            c = chan[ok]
            np.add.at(s1, c, off)
            np.add.at(s2, c, off * off)
            np.add.at(cnt, c, 1)
    if n_samples == 0 or cnt.sum() == 0:
        raise ValueError("no labeled joint pairs: the dataset is empty or has no person with "
                         "two labeled joints")
    n = np.maximum(cnt, 1)[:, None]
    mean = s1 / n
    var = np.maximum(s2 / n - mean * mean, 0.0)
    std = np.sqrt(var)
    few = cnt < 2
    if few.any():
        logger.warning("%d of %d ordered pairs have fewer than 2 samples; std set to %.1f px",
                       int(few.sum()), C, MIN_STD)
    std = np.where(few[:, None], MIN_STD, np.maximum(std, MIN_STD))
    return PairwiseStats(joint_set=joint_set.name, joint_names=tuple(joint_set.names),
                         mean=mean, std=std, count=cnt, global_scale=float(global_scale))


def stats_from_records(records: Sequence, joint_set: JointSet, *,
                       global_scale: float = 1.0) -> PairwiseStats:
    """Statistics over :class:`arttrack.data.records.PoseRecord` objects (uses base_scale)."""
    from tqdm import tqdm

    recs = list(records)
    it = tqdm(recs, desc="pairwise stats", disable=not sys.stderr.isatty(), leave=False)
    return compute_pairwise_stats((r.joints for r in it), joint_set,
                                  scales=(r.base_scale for r in recs),
                                  global_scale=global_scale)


def save_pairwise_stats(stats: PairwiseStats, path: Union[str, os.PathLike]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:  # keep the exact name (np.savez would append .npz)
        np.savez(fh, format=np.array(FORMAT), joint_set=np.array(stats.joint_set),
                 joint_names=np.array(stats.joint_names), pairs=stats.pairs,
                 mean=np.asarray(stats.mean, np.float64), std=np.asarray(stats.std, np.float64),
                 count=np.asarray(stats.count, np.int64),
                 global_scale=np.array(stats.global_scale))


def load_pairwise_stats(path: Union[str, os.PathLike],
                        joint_set: Optional[JointSet] = None) -> PairwiseStats:
    """Load a stats file; ValueError when it is missing, malformed or for another joint set."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"pairwise stats file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:
        raise ValueError(f"{path}: cannot be read as an .npz file ({exc})") from exc
    if str(data.get("format", "")) != FORMAT:
        raise ValueError(f"{path}: not an arttrack pairwise stats file (format "
                         f"{data.get('format')!r}, expected {FORMAT!r})")
    names = tuple(str(n) for n in data["joint_names"])
    J = len(names)
    mean, std, count = data["mean"], data["std"], data["count"]
    if mean.shape != (J * (J - 1), 2) or std.shape != mean.shape or count.shape != (J * (J - 1),):
        raise ValueError(f"{path}: arrays do not match {J} joints")
    if joint_set is not None and names != tuple(joint_set.names):
        raise ValueError(f"{path}: stats are for joints {names}, not {joint_set.name}")
    return PairwiseStats(joint_set=str(data["joint_set"]), joint_names=names, mean=mean,
                         std=std, count=count, global_scale=float(data["global_scale"]))


# ----------------------------------------------------------------------------- CLI
def _load_records(dataset: str, ann: str, image_root: Optional[str], split: Optional[str]):
    kw = {} if split is None else {"split": split}
    if dataset == "coco":
        from arttrack.data.coco import JOINT_SET, load_coco

        return load_coco(ann, image_root), JOINT_SET
    if dataset == "mpii":
        from arttrack.data.mpii import JOINT_SET, load_mpii_mat

        return load_mpii_mat(ann, image_root, **kw), JOINT_SET
    if dataset == "mpii-json":
        from arttrack.data.mpii import JOINT_SET, load_mpii_json

        return load_mpii_json(ann, image_root, **kw), JOINT_SET
    raise ValueError(f"unknown dataset {dataset!r}")


def stats_from_config(cfg, num_images: Optional[int] = None) -> PairwiseStats:
    """Statistics over the training data of a config (its joint set and ``global_scale``):
    the first ``num_images`` samples of a synthetic source, or the records of a real dataset."""
    from arttrack.factory import build_records, build_source

    joint_set = get_joint_set(cfg.joint_set)
    if cfg.dataset_type == "synthetic":
        source = build_source(cfg, "train")
        n = len(source) if num_images is None else min(int(num_images), len(source))
        return compute_pairwise_stats((source[i][1] for i in range(n)), joint_set,
                                      global_scale=cfg.global_scale)
    records = list(build_records(cfg, "train"))[:num_images]
    return stats_from_records(records, joint_set, global_scale=cfg.global_scale)


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
        records, joint_set = _load_records(args.dataset, args.ann, args.image_root, args.split)
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


def _temporal_fitter():
    """``arttrack.tracking.fit_temporal_model`` when it exists, else ValueError."""
    try:
        from arttrack.tracking import fit_temporal_model
    except ImportError as exc:
        raise ValueError("temporal model fitting needs arttrack.tracking.fit_temporal_model, which "
                         f"this installation does not provide ({exc}); it is fitted on annotated "
                         "clips (PoseTrack 2018), not on single images") from None
    return fit_temporal_model


def posetrack_clips(path: Union[str, os.PathLike], num_videos: Optional[int] = None
                    ) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Annotated clips for the temporal model from PoseTrack 2018 ground truth (a file or a
    folder of per-video files): per video, each run of consecutive labelled frames becomes
    one clip of ``(people (P, 17, 3) with NaN for missing joints, track_ids (P,) int64)``."""
    from arttrack.eval.posetrack import load_ground_truth

    gt = load_ground_truth(path)
    clips: list[list[tuple[np.ndarray, np.ndarray]]] = []
    for n, (video, frames) in enumerate(sorted(gt.videos.items())):
        if num_videos is not None and n >= num_videos:
            break
        ids: dict[object, int] = {}
        run: list[tuple[np.ndarray, np.ndarray]] = []
        last = None
        for fi in sorted(frames):
            if last is not None and fi != last + 1 and run:
                clips.append(run)
                run = []
            last = fi
            people = frames[fi].people
            arr = np.full((len(people), 17, 3), np.nan)
            for k, p in enumerate(people):
                arr[k, p.present, :2] = p.keypoints[p.present]
                arr[k, p.present, 2] = 1.0
            tids = np.array([ids.setdefault((video, p.track_id), len(ids)) for p in people],
                            np.int64)
            run.append((arr, tids))
        if run:
            clips.append(run)
    if not clips:
        raise ValueError(f"{path}: no labelled frames")
    return clips


def _cmd_fit(args: argparse.Namespace) -> int:
    from arttrack.inference import Predictor
    from arttrack.joints import get_joint_set
    from arttrack.predict import annotated_images, load_config_for
    from arttrack.spatial_fit import fit_spatial_model

    fit_temporal = None
    if args.temporal_out:  # check before spending time on the spatial fit
        fit_temporal = _temporal_fitter()
        if not args.clips:
            raise ValueError("--temporal-out needs annotated clips: pass --clips (PoseTrack 2018 "
                             "annotation file or folder)")
    if args.num_images is not None and args.num_images < 1:
        raise ValueError("--num-images must be >= 1")
    if args.hops is not None and args.hops < 1:
        raise ValueError(f"--hops must be >= 1, got {args.hops}")
    cfg = load_config_for(args.ckpt, args.config, args.overrides)
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

    from arttrack.predict import add_model_args

    ft = sub.add_parser(
        "fit", help="fit the spatial model (logistic regression per joint pair)",
        description="Run the network over the config's training images, label candidate edges "
                    "between detections by the ground truth (same person / different people) and "
                    "fit one L2-regularised logistic regression per pair of the joint set's pair "
                    "graph (--hops) on the 9 pairwise features (arttrack.spatial_fit).")
    add_model_args(ft)
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
                    help="also fit the temporal model (arttrack.tracking.fit_temporal_model) on "
                         "the ground-truth tracks of --clips and write it here")
    ft.add_argument("--clips", default=None,
                    help="annotated clips for --temporal-out: PoseTrack 2018 ground truth (a "
                         "JSON file or a folder of per-video files)")
    ft.add_argument("--num-videos", type=int, default=None, help="clips to use for --temporal-out")
    ft.set_defaults(func=_cmd_fit)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except (ValueError, OSError) as exc:
        text = str(exc).strip()
        logger.error("%s", text.splitlines()[0] if text else type(exc).__name__)
        return 2


if __name__ == "__main__":
    sys.exit(main())
