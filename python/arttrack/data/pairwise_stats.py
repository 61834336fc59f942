"""Pairwise statistics: the normalisation of the network's pairwise targets.

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

Computed and written by ``python -m arttrack.pairwise stats``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np

from arttrack.joints import JointSet, get_joint_set, pair_channel

logger = logging.getLogger(__name__)

FORMAT = "arttrack.pairwise_stats/1"
MIN_STD = 1.0  # px; floor for degenerate pairs so normalisation never divides by ~0

__all__ = ["PairwiseStats", "compute_pairwise_stats", "load_dataset_records", "load_pairwise_stats",
           "save_pairwise_stats", "stats_from_config", "stats_from_records"]


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
    it = tqdm(recs, desc="pairwise stats", disable=None, leave=False)
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


def load_dataset_records(dataset: str, ann: str, image_root: Optional[str] = None,
                         split: Optional[str] = None):
    """(records, joint set) of an annotation file: ``dataset`` coco, mpii (.mat) or mpii-json."""
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
    from arttrack.models.factory import build_records, build_source

    joint_set = get_joint_set(cfg.joint_set)
    if cfg.dataset_type == "synthetic":
        source = build_source(cfg, "train")
        n = len(source) if num_images is None else min(int(num_images), len(source))
        return compute_pairwise_stats((source[i][1] for i in range(n)), joint_set,
                                      global_scale=cfg.global_scale)
    records = list(build_records(cfg, "train"))[:num_images]
    return stats_from_records(records, joint_set, global_scale=cfg.global_scale)
