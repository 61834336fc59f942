"""COCO keypoints reader (``person_keypoints_*.json``) through the pycocotools COCO API.

One :class:`~arttrack.data.records.PoseRecord` per image, 17 joints in the
:data:`arttrack.joints.COCO17` order (the COCO order), visibility as in COCO (0
unlabeled, 1 labeled occluded, 2 visible; our convention is the same).

- People: every non-crowd ``person`` annotation with ``num_keypoints > 0``.
- Ignore regions: crowd annotations (``iscrowd == 1``, RLE) and people without keypoints
  (``num_keypoints == 0``) go into ``ignore_segmentations``; they are rasterised with
  ``pycocotools.mask`` (what ``COCO.annToMask`` does) when the sample is loaded, so the
  part loss gives them zero weight instead of treating them as background. Annotations
  with an empty segmentation fall back to their bbox (``ignore_boxes``).
- Images without people are skipped when ``skip_empty`` (default True); with
  ``skip_empty=False`` they are kept as pure negatives (P = 0).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path
from typing import Optional, Union

import numpy as np

from arttrack.joints import COCO17
from arttrack.data.records import PoseRecord, as_joints

logger = logging.getLogger(__name__)

__all__ = ["load_coco", "JOINT_SET"]

JOINT_SET = COCO17
PathLike = Union[str, os.PathLike]


def _has_segmentation(seg) -> bool:
    if isinstance(seg, list):
        return any(len(p) >= 6 for p in seg)
    return isinstance(seg, dict) and "counts" in seg


def load_coco(ann_file: PathLike, image_root: Optional[PathLike] = None, *,
              skip_empty: bool = True, min_keypoints: int = 1,
              category_name: str = "person") -> list[PoseRecord]:
    """Read a COCO keypoints annotation file into per-image records.

    Args:
        ann_file: ``person_keypoints_<split>.json``.
        image_root: image folder (default: the folder of ``ann_file``).
        skip_empty: drop images without any person with keypoints.
        min_keypoints: people with fewer labeled keypoints (but more than 0) are also
            treated as ignore regions rather than positives.
        category_name: the COCO category holding the keypoints.
    """
    ann_file = Path(ann_file)
    if not ann_file.is_file():
        raise ValueError(f"COCO annotation file {ann_file} does not exist")
    from pycocotools.coco import COCO

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # COCO() prints progress
            coco = COCO(str(ann_file))
    except Exception as exc:
        raise ValueError(f"{ann_file}: cannot be read as COCO annotations ({exc!r})") from exc
    if "annotations" not in coco.dataset or "images" not in coco.dataset:
        raise ValueError(f"{ann_file}: needs 'images' and 'annotations'")
    cat_ids = coco.getCatIds(catNms=[category_name])
    if not cat_ids:
        raise ValueError(f"{ann_file}: no category named {category_name!r}")
    cat = coco.loadCats(cat_ids[0])[0]
    num_joints = len(cat.get("keypoints", [])) or JOINT_SET.num_joints
    if num_joints != JOINT_SET.num_joints:
        raise ValueError(f"{ann_file}: category {category_name!r} has {num_joints} keypoints, "
                         f"expected {JOINT_SET.num_joints} (COCO17)")
    root = Path(image_root) if image_root is not None else ann_file.parent

    records: list[PoseRecord] = []
    n_empty = 0
    for img_id in sorted(coco.getImgIds()):
        img = coco.imgs[img_id]
        h, w = int(img["height"]), int(img["width"])
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img_id], catIds=cat_ids, iscrowd=None))
        people, ignore_segs, ignore_boxes = [], [], []
        for a in anns:
            kps = a.get("keypoints")
            n_kp = int(a.get("num_keypoints", 0))
            if not a.get("iscrowd", 0) and kps is not None and n_kp >= min_keypoints:
                k = np.asarray(kps, np.float32).reshape(-1, 3)
                if k.shape[0] != num_joints:
                    raise ValueError(f"{ann_file}: annotation {a.get('id')} has "
                                     f"{k.shape[0]} keypoints, expected {num_joints}")
                k[:, 2] = np.clip(k[:, 2], 0, 2)
                if (k[:, 2] > 0).any():
                    people.append(k)
                    continue
            # crowd, no keypoints, or too few: ignore region
            seg = a.get("segmentation")
            if _has_segmentation(seg):
                ignore_segs.append(seg)
            elif a.get("bbox") is not None and len(a["bbox"]) == 4:
                x, y, bw, bh = (float(v) for v in a["bbox"])
                ignore_boxes.append((x, y, x + bw, y + bh))
        if not people:
            n_empty += 1
            if skip_empty:
                continue
        joints = as_joints(np.stack(people) if people else np.zeros((0, num_joints, 3)),
                           num_joints)
        records.append(PoseRecord(
            image_path=str(root / img["file_name"]),
            joints=joints,
            image_size=(h, w),
            image_id=img_id,
            ignore_segmentations=tuple(ignore_segs),
            ignore_boxes=np.asarray(ignore_boxes, np.float32).reshape(-1, 4) if ignore_boxes else None,
            dataset="coco",
        ))
    logger.info("%s: %d images with people, %d without (%s)", ann_file, len(records) - (
        0 if skip_empty else n_empty), n_empty, "skipped" if skip_empty else "kept")
    return records
