"""Training augmentation: scale (global scale, jitter, size limits), mirror, crop.

Every transform moves the image, the joints and the ignore mask together, with the
pixel-centre convention of :mod:`arttrack.data.records` (integer coordinates are pixel
centres):

- resize from ``w`` to ``w'`` columns: ``x -> (x + 0.5) * (w' / w) - 0.5`` (same for y),
  which is exactly where OpenCV's ``INTER_LINEAR`` puts the content;
- mirror: ``x -> w - 1 - x`` and joint ``j`` takes the place of ``flip_permutation[j]``;
- crop at ``(x0, y0)``: ``x -> x - x0``.

Scale: the (cropped) sample is resized ONCE by ``base_scale * global_scale * jitter``,
``jitter ~ U[scale_jitter_lo, scale_jitter_up]`` drawn from the per-sample, per-epoch RNG
the caller passes. ``base_scale`` is the dataset's normalisation (MPII person height);
the returned ``scale`` (what the codec multiplies ``pos_dist_thresh`` by) is
``global_scale * jitter * shrink`` WITHOUT ``base_scale``.

Size limits (rescale, never skip, so a random-access dataset keeps its length):
if the scaled image's longer side exceeds ``max_input_size`` or its area exceeds
``max_input_area``, the factor is reduced (``shrink`` < 1) until it fits. If a side is
below ``min_input_size`` the image is padded (bottom / right) to that size and the
padding is added to the ignore mask, so the loss never sees it as background.

``crop_size`` (height, width), optional: samples larger than it are randomly cropped
to it, with the window placed around a randomly chosen person. Joints outside the
crop keep their (outside) coordinates and labels: their disks may still reach into the
image and the pairwise offsets to them stay correct.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

__all__ = ["Augmenter", "AugmentedSample", "resize_sample", "mirror_sample", "crop_sample"]


@dataclass
class AugmentedSample:
    """Output of :class:`Augmenter`: image HxWx3 uint8, joints (P, J, 3), ignore mask
    (H, W) uint8 or None, and the training scale used for the disk radii."""

    image: np.ndarray
    joints: np.ndarray
    ignore_mask: Optional[np.ndarray]
    scale: float


def _scale_joints(joints: np.ndarray, rx: float, ry: float) -> np.ndarray:
    out = joints.copy()
    lab = out[..., 2] > 0
    out[..., 0] = np.where(lab, (out[..., 0] + 0.5) * rx - 0.5, 0.0)
    out[..., 1] = np.where(lab, (out[..., 1] + 0.5) * ry - 0.5, 0.0)
    return out


def resize_sample(image: np.ndarray, joints: np.ndarray, ignore_mask: Optional[np.ndarray],
                  factor: float) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Resize by ``factor`` (new side = round(side * factor), at least 1)."""
    h, w = image.shape[:2]
    nw, nh = max(1, int(round(w * factor))), max(1, int(round(h * factor)))
    if (nw, nh) == (w, h):
        return image, joints.copy(), ignore_mask
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    img = cv2.resize(image, (nw, nh), interpolation=interp)
    if img.ndim == 2 and image.ndim == 3:
        img = img[..., None]
    mask = None
    if ignore_mask is not None:
        mask = cv2.resize(ignore_mask.astype(np.uint8), (nw, nh),
                          interpolation=cv2.INTER_NEAREST)
    return img, _scale_joints(joints, nw / w, nh / h), mask


def mirror_sample(image: np.ndarray, joints: np.ndarray, ignore_mask: Optional[np.ndarray],
                  flip_permutation: Sequence[int]
                  ) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Horizontal mirror: x -> W-1-x and left/right joints swapped."""
    w = image.shape[1]
    perm = np.asarray(flip_permutation, np.int64)
    if joints.shape[1] != len(perm):
        raise ValueError(f"flip permutation has {len(perm)} joints, joints have "
                         f"{joints.shape[1]}")
    img = np.ascontiguousarray(image[:, ::-1])
    out = joints[:, np.argsort(perm)].copy() if len(joints) else joints.copy()
    lab = out[..., 2] > 0
    out[..., 0] = np.where(lab, (w - 1) - out[..., 0], 0.0)
    mask = None if ignore_mask is None else np.ascontiguousarray(ignore_mask[:, ::-1])
    return img, out, mask


def crop_sample(image: np.ndarray, joints: np.ndarray, ignore_mask: Optional[np.ndarray],
                box: Sequence[int]) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Crop to ``box`` = (x0, y0, x1, y1), x1/y1 exclusive, clipped to the image."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = (int(v) for v in box)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"crop box {tuple(box)} does not overlap the {w}x{h} image")
    img = np.ascontiguousarray(image[y0:y1, x0:x1])
    out = joints.copy()
    lab = out[..., 2] > 0
    out[..., 0] = np.where(lab, out[..., 0] - x0, 0.0)
    out[..., 1] = np.where(lab, out[..., 1] - y0, 0.0)
    mask = None if ignore_mask is None else np.ascontiguousarray(ignore_mask[y0:y1, x0:x1])
    return img, out, mask


class Augmenter:
    """Scale / mirror / crop augmentation with DeeperCut parameter names.

    Args:
        flip_permutation: ``JointSet.flip_permutation`` (needed when ``mirror``).
        global_scale: scale applied to every sample.
        scale_jitter_lo, scale_jitter_up: jitter range (multiplies ``global_scale``).
        mirror: mirror with probability 0.5.
        max_input_size: longest allowed side after scaling (pixels).
        max_input_area: largest allowed area after scaling (pixels^2), None for none.
        min_input_size: shortest side; smaller samples are padded (and the padding ignored).
        crop_size: optional (height, width) upper bound; larger samples are cropped.
        train: False disables the random parts (jitter 1, no mirror, centred crop).
    """

    def __init__(self, flip_permutation: Optional[Sequence[int]] = None, *,
                 global_scale: float = 1.0, scale_jitter_lo: float = 0.85,
                 scale_jitter_up: float = 1.15, mirror: bool = False,
                 max_input_size: int = 1500, max_input_area: Optional[int] = None,
                 min_input_size: int = 64, crop_size: Optional[tuple[int, int]] = None,
                 train: bool = True) -> None:
        if mirror and flip_permutation is None:
            raise ValueError("mirror=True needs the joint set's flip_permutation")
        if not 0 < scale_jitter_lo <= scale_jitter_up:
            raise ValueError(f"need 0 < scale_jitter_lo <= scale_jitter_up, got "
                             f"{scale_jitter_lo}, {scale_jitter_up}")
        if global_scale <= 0 or max_input_size <= 0 or min_input_size < 0:
            raise ValueError("global_scale and max_input_size must be positive")
        if min_input_size > max_input_size:
            raise ValueError("min_input_size exceeds max_input_size")
        self.flip_permutation = None if flip_permutation is None else np.asarray(
            flip_permutation, np.int64)
        self.global_scale = float(global_scale)
        self.scale_jitter_lo = float(scale_jitter_lo)
        self.scale_jitter_up = float(scale_jitter_up)
        self.mirror = bool(mirror)
        self.max_input_size = int(max_input_size)
        self.max_input_area = None if max_input_area is None else int(max_input_area)
        self.min_input_size = int(min_input_size)
        self.crop_size = None if crop_size is None else (int(crop_size[0]), int(crop_size[1]))
        self.train = bool(train)

    def _fit_factor(self, h: int, w: int, factor: float) -> float:
        limit = self.max_input_size / max(h, w)
        if self.max_input_area is not None:
            limit = min(limit, float(np.sqrt(self.max_input_area / (h * w))))
        return min(factor, limit)

    def __call__(self, image: np.ndarray, joints: np.ndarray,
                 ignore_mask: Optional[np.ndarray] = None, *, rng: np.random.Generator,
                 base_scale: float = 1.0) -> AugmentedSample:
        if image.ndim != 3:
            raise ValueError(f"image must be HxWxC, got shape {image.shape}")
        joints = np.asarray(joints, np.float32)
        h, w = image.shape[:2]
        jitter = (float(rng.uniform(self.scale_jitter_lo, self.scale_jitter_up))
                  if self.train else 1.0)
        train_scale = self.global_scale * jitter
        want = base_scale * train_scale
        factor = self._fit_factor(h, w, want)
        train_scale *= factor / want
        image, joints, ignore_mask = resize_sample(image, joints, ignore_mask, factor)

        if self.mirror and self.train and rng.random() < 0.5:
            image, joints, ignore_mask = mirror_sample(image, joints, ignore_mask,
                                                       self.flip_permutation)
        if self.crop_size is not None:
            image, joints, ignore_mask = self._crop(image, joints, ignore_mask, rng)

        h, w = image.shape[:2]
        ph, pw = max(0, self.min_input_size - h), max(0, self.min_input_size - w)
        if ph or pw:
            image = np.pad(image, ((0, ph), (0, pw), (0, 0)))
            if ignore_mask is None:
                ignore_mask = np.zeros((h, w), np.uint8)
            ignore_mask = np.pad(ignore_mask.astype(np.uint8), ((0, ph), (0, pw)),
                                 constant_values=1)
        return AugmentedSample(image=image, joints=joints, ignore_mask=ignore_mask,
                               scale=float(train_scale))

    def _crop(self, image, joints, ignore_mask, rng):
        h, w = image.shape[:2]
        ch, cw = self.crop_size
        if h <= ch and w <= cw:
            return image, joints, ignore_mask
        lab = joints[..., 2] > 0
        people = np.nonzero(lab.any(axis=1))[0] if len(joints) else np.zeros(0, np.int64)
        if len(people):
            p = people[rng.integers(len(people))] if self.train else people[0]
            cx, cy = joints[p, lab[p], 0].mean(), joints[p, lab[p], 1].mean()
        else:
            cx, cy = w / 2.0, h / 2.0
        def start(c, size, full):
            if full <= size:
                return 0
            jit = rng.uniform(-size / 4.0, size / 4.0) if self.train else 0.0
            return int(np.clip(round(c - size / 2.0 + jit), 0, full - size))
        x0, y0 = start(cx, cw, w), start(cy, ch, h)
        return crop_sample(image, joints, ignore_mask, (x0, y0, x0 + cw, y0 + ch))
