"""Annotation records: one training sample's annotation, independent of the source format.

Coordinate and visibility conventions used everywhere in :mod:`arttrack.data`
----------------------------------------------------------------------------
- Joints are ``(P, J, 3)`` float32 arrays of ``x, y, visibility`` in image pixels.
- Pixel-centre convention: integer coordinates are pixel centres, i.e. ``x = 0`` is the
  centre of the first column and ``x = W - 1`` the centre of the last one. A horizontal
  mirror maps ``x -> W - 1 - x``; a resize with ratio ``r`` maps ``x -> (x + 0.5) * r - 0.5``
  (the same convention as OpenCV's ``INTER_LINEAR``).
- Visibility: ``0`` = unlabeled (coordinates are meaningless and set to 0), ``1`` =
  labeled but occluded, ``2`` = labeled and visible. Training treats 1 and 2 alike
  (a labeled joint); sources that do not say whether a labeled joint is visible (MPII
  entries with an empty ``is_visible``, the MPII JSON conversion whose ``joints_vis`` only
  says "annotated") use 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

UNLABELED = 0
OCCLUDED = 1
VISIBLE = 2


def as_joints(joints: Any, num_joints: Optional[int] = None) -> np.ndarray:
    """Return ``joints`` as a C-contiguous (P, J, 3) float32 array (P may be 0).

    Unlabeled joints (visibility 0) get coordinates 0 so they never leak into targets.
    """
    arr = np.asarray(joints, dtype=np.float32)
    if arr.size == 0 and num_joints is not None:
        return np.zeros((0, num_joints, 3), np.float32)
    if arr.ndim == 2 and arr.shape[-1] == 3:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"joints must have shape (P, J, 3), got {arr.shape}")
    if num_joints is not None and arr.shape[1] != num_joints:
        raise ValueError(f"joints have {arr.shape[1]} joints, expected {num_joints}")
    arr = np.ascontiguousarray(arr.copy())
    unl = arr[..., 2] <= 0
    arr[unl] = 0.0
    return arr


@dataclass(frozen=True, eq=False)
class PoseRecord:
    """Annotation of one training sample (an image, or a crop of one).

    Attributes:
        image_path: path of the image file.
        joints: (P, J, 3) float32 x, y, visibility in ORIGINAL image pixels (see the module
            docstring for the conventions).
        image_size: (height, width) of the original image, or None when unknown.
        image_id: dataset id of the image (COCO id, MPII annolist index, ...).
        crop_box: optional (x0, y0, x1, y1) integer crop in original pixels (x1/y1
            exclusive) applied before anything else; joints are shifted by (-x0, -y0).
        base_scale: factor the (cropped) image is resized by before the training scale
            (``global_scale`` and jitter) is applied; the MPII height normalisation
            lives here. Disk radii do NOT scale with it (DeeperCut pre-rescaled MPII
            offline, so its ``pos_dist_thresh`` refers to the normalised images).
        person_scales: optional (P,) MPII scale per person (person height / 200 px).
        centers: optional (P, 2) person centres (MPII objpos).
        head_boxes: optional (P, 4) x1, y1, x2, y2 head boxes (MPII, for PCKh).
        ignore_segmentations: COCO-style segmentations (polygon lists or RLE dicts, in
            original pixels) of regions the loss must ignore (crowds, people without
            keypoints). Rasterised lazily by :meth:`ignore_mask`.
        ignore_boxes: optional (K, 4) x1, y1, x2, y2 boxes to ignore (used when a source
            only has boxes).
        dataset: short source name ("mpii", "mpii_json", "coco", ...).
    """

    image_path: str
    joints: np.ndarray
    image_size: Optional[tuple[int, int]] = None
    image_id: Any = None
    crop_box: Optional[tuple[int, int, int, int]] = None
    base_scale: float = 1.0
    person_scales: Optional[np.ndarray] = None
    centers: Optional[np.ndarray] = None
    head_boxes: Optional[np.ndarray] = None
    ignore_segmentations: tuple = field(default=())
    ignore_boxes: Optional[np.ndarray] = None
    dataset: str = ""

    @property
    def num_people(self) -> int:
        return int(self.joints.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.joints.shape[1])

    @property
    def has_ignore(self) -> bool:
        return bool(self.ignore_segmentations) or (
            self.ignore_boxes is not None and len(self.ignore_boxes) > 0)

    def ignore_mask(self, height: int, width: int) -> Optional[np.ndarray]:
        """(height, width) uint8 mask of ignored pixels in ORIGINAL image coordinates.

        Returns None when the record has no ignore regions. Segmentations are rasterised
        with ``pycocotools.mask`` exactly as ``COCO.annToMask`` does.
        """
        if not self.has_ignore:
            return None
        mask = np.zeros((height, width), np.uint8)
        if self.ignore_segmentations:
            from pycocotools import mask as mask_utils

            for seg in self.ignore_segmentations:
                if isinstance(seg, list):  # polygons
                    polys = [p for p in seg if len(p) >= 6]
                    if not polys:
                        continue
                    rle = mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
                elif isinstance(seg, dict) and isinstance(seg.get("counts"), list):
                    rle = mask_utils.frPyObjects(seg, height, width)  # uncompressed RLE
                else:
                    rle = seg
                m = mask_utils.decode(rle)
                if m.ndim == 3:
                    m = m.max(axis=2)
                if m.shape != mask.shape:
                    raise ValueError(f"{self.image_path}: ignore segmentation of size {m.shape} "
                                     f"does not match the image size {(height, width)}")
                mask |= m.astype(np.uint8)
        if self.ignore_boxes is not None:
            for x1, y1, x2, y2 in np.asarray(self.ignore_boxes, np.float64).reshape(-1, 4):
                xa, ya = max(int(np.floor(x1)), 0), max(int(np.floor(y1)), 0)
                xb, yb = min(int(np.ceil(x2)), width), min(int(np.ceil(y2)), height)
                if xb > xa and yb > ya:
                    mask[ya:yb, xa:xb] = 1
        return mask
