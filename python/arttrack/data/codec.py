"""PoseCodec: the one object that encodes training targets and decodes network outputs.

Training (``encode``) and inference (``decode_single``, ``decode_multi``,
``pairwise_to_pixels``) share the same stride, cell-centre convention, ``locref_stdev``
and pairwise statistics, so they cannot disagree (MMPose-codec style).

Geometry (docs/DESIGN.md section 1)
-----------------------------------
- Map size for an input side ``s``: ``ceil(s / (2 * stride)) * 2``.
- Centre of cell (row i, col j) in input pixels: ``(j * stride + stride / 2,
  i * stride + stride / 2)``.
- Disk radius: ``pos_dist_thresh * scale`` input pixels, where ``scale`` is the training
  scale of the sample (``global_scale * jitter``, see :mod:`arttrack.data.augment`); a
  cell is inside when its centre is at distance <= radius from the joint.

Targets (all float32, NHWC with the joint / pair axes split out)
----------------------------------------------------------------
- ``scmap`` (H, W, J): 1 inside the disk of any labeled joint of type j (union over
  people), else 0.
- ``scmap_weights`` (H, W, J): 1, except 0 in cells touched by the ignore mask (any
  pixel of the cell's ``stride x stride`` block) that are not positive; with
  ``weigh_only_present_joints`` also 0 in the whole channel of a joint type no person
  has labeled (DeeperCut's option); times ``joint_weights[j]`` when given.
- ``locref_map`` (H, W, J, 2): ``(joint - cell_centre) / locref_stdev`` for the nearest
  labeled joint of type j whose disk contains the cell (its "owner"), x then y.
- ``locref_mask`` (H, W, J, 2): 1 inside the disks, for both components.
- ``pairwise_map`` (H, W, J*(J-1), 2): for a cell inside joint j's disk, the offset
  ``joint_k - cell_centre`` to joint k of the SAME person as the owner, normalised
  ``(offset - mean[c]) / std[c]`` with the pairwise stats, ``c = pair_channel(j, k, J)``.
- ``pairwise_mask`` (H, W, J*(J-1), 2): 1 where the cell is in j's disk and the owner has
  k labeled.
Flattening the last two axes gives the network's channel layout: locref channel
``2*j + {0: dx, 1: dy}``, pairwise channel ``2*c + {0: dx, 1: dy}``.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Optional, Sequence

import numpy as np

from arttrack.joints import pair_channel

logger = logging.getLogger(__name__)

__all__ = ["PoseCodec", "map_size"]

TARGET_KEYS = ("scmap", "scmap_weights", "locref_map", "locref_mask")
PAIRWISE_KEYS = ("pairwise_map", "pairwise_mask")


def map_size(size: int, stride: float = 8.0) -> int:
    """Output map side for an input side ``size``: ``ceil(size / (2*stride)) * 2``."""
    return int(math.ceil(size / (2.0 * stride))) * 2


def _pair_index(num_joints: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(C,) arrays j, k, channel for every ordered pair, in channel order."""
    js, ks = [], []
    for c in range(num_joints * (num_joints - 1)):
        j = c // (num_joints - 1)
        r = c % (num_joints - 1)
        k = r + (1 if r >= j else 0)
        js.append(j)
        ks.append(k)
    return np.array(js), np.array(ks), np.arange(len(js))


class PoseCodec:
    """Encode joints into training targets; decode network outputs into joints.

    Args:
        num_joints: J.
        stride: output stride of the maps (8).
        pos_dist_thresh: disk radius in input pixels at training scale 1 (17).
        locref_stdev: divisor of the location-refinement offsets (7.2801).
        pairwise: produce / decode pairwise targets.
        pairwise_stats: :class:`arttrack.data.pairwise_stats.PairwiseStats` or a (mean, std) pair
            of (J*(J-1), 2) arrays; required when ``pairwise`` is on.
        weigh_only_present_joints: zero the part weights of joint types nobody labeled.
        joint_weights: (J,) positive multipliers of each joint's part weights (default 1).
    """

    def __init__(self, num_joints: int, *, stride: float = 8.0, pos_dist_thresh: float = 17.0,
                 locref_stdev: float = 7.2801, pairwise: bool = False,
                 pairwise_stats: Any = None, weigh_only_present_joints: bool = False,
                 joint_weights: Optional[Sequence[float]] = None) -> None:
        if num_joints < 1:
            raise ValueError(f"num_joints must be >= 1, got {num_joints}")
        if stride <= 0 or pos_dist_thresh <= 0 or locref_stdev <= 0:
            raise ValueError("stride, pos_dist_thresh and locref_stdev must be positive")
        self.num_joints = int(num_joints)
        self.stride = float(stride)
        self.pos_dist_thresh = float(pos_dist_thresh)
        self.locref_stdev = float(locref_stdev)
        self.pairwise = bool(pairwise)
        self.weigh_only_present_joints = bool(weigh_only_present_joints)
        self.joint_weights: Optional[np.ndarray] = None
        if joint_weights is not None:
            jw = np.asarray(joint_weights, np.float32)
            if jw.shape != (self.num_joints,) or not np.all(np.isfinite(jw) & (jw > 0)):
                raise ValueError(f"joint_weights must be {self.num_joints} positive numbers, "
                                 f"got {joint_weights!r}")
            self.joint_weights = jw
        self.num_pairs = self.num_joints * (self.num_joints - 1)
        self.pair_j, self.pair_k, _ = _pair_index(self.num_joints)
        self.pairwise_mean: Optional[np.ndarray] = None
        self.pairwise_std: Optional[np.ndarray] = None
        if self.pairwise:
            if pairwise_stats is None:
                raise ValueError("pairwise targets need pairwise_stats (mean, std)")
            if hasattr(pairwise_stats, "mean") and hasattr(pairwise_stats, "std"):
                mean, std = pairwise_stats.mean, pairwise_stats.std
            else:
                mean, std = pairwise_stats
            mean = np.asarray(mean, np.float32).reshape(-1, 2)
            std = np.asarray(std, np.float32).reshape(-1, 2)
            if mean.shape != (self.num_pairs, 2) or std.shape != (self.num_pairs, 2):
                raise ValueError(f"pairwise stats must be ({self.num_pairs}, 2), got "
                                 f"{mean.shape} and {std.shape}")
            if not np.all(std > 0):
                raise ValueError("pairwise std must be positive everywhere")
            self.pairwise_mean, self.pairwise_std = mean, std

    # ------------------------------------------------------------------ geometry
    def map_shape(self, height: int, width: int) -> tuple[int, int]:
        """(H, W) of the output maps for an input of ``height x width`` pixels."""
        return map_size(height, self.stride), map_size(width, self.stride)

    def cell_centers(self, map_h: int, map_w: int) -> tuple[np.ndarray, np.ndarray]:
        """(W,) x and (H,) y of the cell centres in input pixels."""
        half = self.stride / 2.0
        return (np.arange(map_w, dtype=np.float32) * self.stride + half,
                np.arange(map_h, dtype=np.float32) * self.stride + half)

    def ignore_to_cells(self, ignore_mask: np.ndarray, map_h: int, map_w: int) -> np.ndarray:
        """(map_h, map_w) bool: any ignored pixel inside the cell's stride x stride block."""
        s = int(round(self.stride))
        if abs(s - self.stride) > 1e-6:
            raise ValueError("ignore masks need an integer stride")
        m = np.asarray(ignore_mask) > 0
        full = np.zeros((map_h * s, map_w * s), bool)
        hh, ww = min(m.shape[0], full.shape[0]), min(m.shape[1], full.shape[1])
        full[:hh, :ww] = m[:hh, :ww]
        return full.reshape(map_h, s, map_w, s).any(axis=(1, 3))

    # ------------------------------------------------------------------ encode
    def encode(self, joints: np.ndarray, image_size: tuple[int, int], *, scale: float = 1.0,
               ignore_mask: Optional[np.ndarray] = None) -> dict[str, np.ndarray]:
        """Training targets for one sample (layouts in the module docstring).

        Args:
            joints: (P, J, 3) x, y, visibility in the input image's pixels.
            image_size: (height, width) of the input image.
            scale: training scale of the sample (disk radius = pos_dist_thresh * scale).
            ignore_mask: optional (height, width) mask of pixels the part loss ignores.
        """
        J = self.num_joints
        joints = np.asarray(joints, np.float32).reshape(-1, J, 3) if np.size(joints) else \
            np.zeros((0, J, 3), np.float32)
        H, W = self.map_shape(*image_size)
        xs, ys = self.cell_centers(H, W)
        radius = self.pos_dist_thresh * float(scale)
        r2 = radius * radius

        scmap = np.zeros((H, W, J), np.float32)
        weights = np.ones((H, W, J), np.float32)
        locref = np.zeros((H, W, J, 2), np.float32)
        locmask = np.zeros((H, W, J, 2), np.float32)
        if self.pairwise:
            pw = np.zeros((H, W, self.num_pairs, 2), np.float32)
            pwmask = np.zeros((H, W, self.num_pairs, 2), np.float32)

        labeled = joints[..., 2] > 0  # (P, J)
        for j in range(J):
            people = np.nonzero(labeled[:, j])[0]
            if len(people) == 0:
                if self.weigh_only_present_joints:
                    weights[..., j] = 0.0
                continue
            pts = joints[people, j, :2]  # (Pj, 2)
            dx = pts[:, 0, None, None] - xs[None, None, :]  # (Pj, 1, W)
            dy = pts[:, 1, None, None] - ys[None, :, None]  # (Pj, H, 1)
            d2 = dx * dx + dy * dy  # (Pj, H, W)
            inside = d2 <= r2
            any_in = inside.any(axis=0)
            if not any_in.any():
                continue
            owner = np.where(inside, d2, np.inf).argmin(axis=0)  # (H, W) index into people
            rr, cc = np.nonzero(any_in)
            own = owner[rr, cc]
            scmap[rr, cc, j] = 1.0
            p_own = people[own]
            locref[rr, cc, j, 0] = (joints[p_own, j, 0] - xs[cc]) / self.locref_stdev
            locref[rr, cc, j, 1] = (joints[p_own, j, 1] - ys[rr]) / self.locref_stdev
            locmask[rr, cc, j, :] = 1.0
            if self.pairwise:
                for k in range(J):
                    if k == j:
                        continue
                    c = pair_channel(j, k, J)
                    ok = labeled[p_own, k]
                    if not ok.any():
                        continue
                    r_, c_, p_ = rr[ok], cc[ok], p_own[ok]
                    offx = joints[p_, k, 0] - xs[c_]
                    offy = joints[p_, k, 1] - ys[r_]
                    pw[r_, c_, c, 0] = (offx - self.pairwise_mean[c, 0]) / self.pairwise_std[c, 0]
                    pw[r_, c_, c, 1] = (offy - self.pairwise_mean[c, 1]) / self.pairwise_std[c, 1]
                    pwmask[r_, c_, c, :] = 1.0

        if ignore_mask is not None:
            ign = self.ignore_to_cells(ignore_mask, H, W)
            weights[ign[..., None] & (scmap == 0)] = 0.0

        if self.joint_weights is not None:
            weights *= self.joint_weights
        out = {"scmap": scmap, "scmap_weights": weights, "locref_map": locref,
               "locref_mask": locmask}
        if self.pairwise:
            out["pairwise_map"] = pw
            out["pairwise_mask"] = pwmask
        return out

    # ------------------------------------------------------------------ decode
    def _locref4(self, locref: Optional[np.ndarray], scmap: np.ndarray) -> Optional[np.ndarray]:
        if locref is None:
            return None
        locref = np.asarray(locref, np.float32)
        H, W, J = scmap.shape
        if locref.shape == (H, W, 2 * J):
            locref = locref.reshape(H, W, J, 2)
        if locref.shape != (H, W, J, 2):
            raise ValueError(f"locref must be (H, W, J, 2) or (H, W, 2J) matching scoremap "
                             f"{scmap.shape}, got {locref.shape}")
        return np.ascontiguousarray(locref)

    def decode_single(self, scmap: np.ndarray, locref: Optional[np.ndarray] = None) -> np.ndarray:
        """(J, 3) x, y, score: per joint the best cell, refined by locref (single person).

        ``scmap`` holds probabilities (after the sigmoid), (H, W, J); the C++ core's
        :func:`arttrack.postprocess.argmax_pose` decodes.
        """
        from arttrack.postprocess.peaks import argmax_pose

        scmap = np.ascontiguousarray(scmap, dtype=np.float32)
        if scmap.ndim != 3 or scmap.shape[2] != self.num_joints:
            raise ValueError(f"scoremap must be (H, W, {self.num_joints}), got {scmap.shape}")
        loc = self._locref4(locref, scmap)
        return np.asarray(argmax_pose(scmap, loc, stride=self.stride,
                                      locref_stdev=self.locref_stdev))

    def decode_multi(self, scmap: np.ndarray, locref: Optional[np.ndarray] = None, *,
                     nms_radius: int = 5, min_score: float = 0.2) -> Any:
        """Per-joint detections via ``arttrack.postprocess.find_peaks`` (C++ core)."""
        from arttrack.postprocess.peaks import find_peaks

        scmap = np.ascontiguousarray(scmap, dtype=np.float32)
        loc = self._locref4(locref, scmap)
        return find_peaks(scmap, loc, stride=self.stride, locref_stdev=self.locref_stdev,
                          nms_radius=nms_radius, min_score=min_score)

    def _check_pairwise(self) -> None:
        if self.pairwise_mean is None:
            raise ValueError("this codec has no pairwise stats")

    def pairwise_to_pixels(self, pairwise: np.ndarray) -> np.ndarray:
        """Network pairwise output (..., J*(J-1)*2) or (..., J*(J-1), 2) -> pixel offsets
        (..., J*(J-1), 2) from the cell centre to joint k (inverse of the encoding)."""
        self._check_pairwise()
        p = np.asarray(pairwise, np.float32)
        if p.shape[-1] == 2 * self.num_pairs:
            p = p.reshape(*p.shape[:-1], self.num_pairs, 2)
        if p.shape[-2:] != (self.num_pairs, 2):
            raise ValueError(f"pairwise output must end in ({self.num_pairs}, 2) or "
                             f"{2 * self.num_pairs}, got {p.shape}")
        return p * self.pairwise_std + self.pairwise_mean

    def pixels_to_pairwise(self, offsets: np.ndarray) -> np.ndarray:
        """Pixel offsets (..., J*(J-1), 2) -> normalised pairwise values (the encoding)."""
        self._check_pairwise()
        o = np.asarray(offsets, np.float32)
        return (o - self.pairwise_mean) / self.pairwise_std

    def locref_to_pixels(self, locref: np.ndarray) -> np.ndarray:
        """Network locref output (..., 2J) or (..., J, 2) -> pixel offsets (..., J, 2)."""
        loc = np.asarray(locref, np.float32)
        if loc.shape[-1] == 2 * self.num_joints:
            loc = loc.reshape(*loc.shape[:-1], self.num_joints, 2)
        return loc * self.locref_stdev

    def __repr__(self) -> str:
        return (f"PoseCodec(num_joints={self.num_joints}, stride={self.stride}, "
                f"pos_dist_thresh={self.pos_dist_thresh}, locref_stdev={self.locref_stdev}, "
                f"pairwise={self.pairwise})")
