"""COCO keypoints reader: people, ignore masks for crowds and people without keypoints."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from arttrack.data.coco import load_coco
from arttrack.data.pipeline import RecordSource
from arttrack.joints import COCO17

def _uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO crowd-style uncompressed RLE (column-major run lengths, starting with 0s)."""
    flat = mask.flatten(order="F").astype(np.uint8)
    counts, cur, run = [], 0, 0
    for v in flat:
        if v != cur:
            counts.append(run)
            cur, run = v, 0
        run += 1
    counts.append(run)
    return {"counts": counts, "size": list(mask.shape)}


def write_coco(tmp_path: Path) -> Path:
    h, w = 60, 80
    kps = [0] * 51
    for j in range(17):
        if j not in (3, 4):
            kps[3 * j: 3 * j + 3] = [10 + 2 * j, 5 + 3 * j, 2 if j % 3 else 1]
    crowd = np.zeros((h, w), np.uint8)
    crowd[40:50, 60:75] = 1
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "num_keypoints": 15,
         "keypoints": kps, "bbox": [5, 5, 40, 50], "area": 100,
         "segmentation": [[5, 5, 45, 5, 45, 55, 5, 55]]},
        {"id": 2, "image_id": 1, "category_id": 1, "iscrowd": 0, "num_keypoints": 0,
         "keypoints": [0] * 51, "bbox": [50, 5, 10, 10], "area": 100,
         "segmentation": [[50, 5, 60, 5, 60, 15, 50, 15]]},
        {"id": 3, "image_id": 1, "category_id": 1, "iscrowd": 1, "num_keypoints": 0,
         "keypoints": [0] * 51, "bbox": [60, 40, 15, 10], "area": 150,
         "segmentation": _uncompressed_rle(crowd)},
        {"id": 4, "image_id": 2, "category_id": 1, "iscrowd": 1, "num_keypoints": 0,
         "keypoints": [0] * 51, "bbox": [0, 0, 10, 10], "area": 100,
         "segmentation": _uncompressed_rle(np.pad(np.ones((10, 10), np.uint8),
                                                  ((0, h - 10), (0, w - 10))))},
        {"id": 5, "image_id": 3, "category_id": 1, "iscrowd": 0, "num_keypoints": 0,
         "keypoints": [0] * 51, "bbox": [1, 2, 5, 6], "area": 30, "segmentation": []},
    ]
    data = {
        "images": [{"id": i, "file_name": f"{i:012d}.jpg", "height": h, "width": w}
                   for i in (1, 2, 3)],
        "annotations": anns,
        "categories": [{"id": 1, "name": "person", "supercategory": "person",
                        "keypoints": list(COCO17.names), "skeleton": []}],
    }
    p = tmp_path / "person_keypoints_tiny.json"
    p.write_text(json.dumps(data))
    for i in (1, 2, 3):
        cv2.imwrite(str(tmp_path / f"{i:012d}.jpg"), np.full((h, w, 3), 128, np.uint8))
    return p


def test_generated_coco(tmp_path):
    ann = write_coco(tmp_path)
    recs = load_coco(ann)
    assert [r.image_id for r in recs] == [1]
    r = recs[0]
    assert r.joints.shape == (1, 17, 3)
    assert r.joints[0, 3, 2] == 0 and np.all(r.joints[0, 3, :2] == 0)
    assert r.joints[0, 0, 2] == 1 and r.joints[0, 1, 2] == 2
    np.testing.assert_allclose(r.joints[0, 16, :2], [42, 53])
    assert len(r.ignore_segmentations) == 2  # person without keypoints + crowd
    mask = r.ignore_mask(60, 80)
    assert mask[10, 55] == 1 and mask[45, 65] == 1  # the no-keypoint person and the crowd
    assert mask[30, 20] == 0 and mask[55, 5] == 0
    assert mask[40:50, 60:75].all() and mask.sum() >= 150
    img, joints, m, base = RecordSource(recs)[0]
    assert img.shape == (60, 80, 3) and m.shape == (60, 80) and base == 1.0

    all_recs = load_coco(ann, skip_empty=False)
    assert [r.image_id for r in all_recs] == [1, 2, 3]
    assert all_recs[1].joints.shape == (0, 17, 3)
    assert all_recs[1].ignore_mask(60, 80)[:10, :10].all()
    # empty segmentation falls back to the bbox
    m3 = all_recs[2].ignore_mask(60, 80)
    assert m3[2:8, 1:6].all() and m3.sum() == 30


def test_coco_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_coco(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    with pytest.raises(ValueError, match="bad.json"):
        load_coco(bad)
    nocat = tmp_path / "nocat.json"
    nocat.write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    with pytest.raises(ValueError, match="person"):
        load_coco(nocat)


def test_real_coco_samples(shared_data):
    ann = shared_data / "samples" / "coco" / "test_coco.json"
    raw = json.loads(ann.read_text())
    recs = load_coco(ann)
    assert len(recs) == 4
    by_id = {r.image_id: r for r in recs}
    for img_id, rec in by_id.items():
        people = [a for a in raw["annotations"]
                  if a["image_id"] == img_id and not a["iscrowd"] and a["num_keypoints"] > 0]
        assert rec.num_people == len(people)
        n_ign = sum(1 for a in raw["annotations"] if a["image_id"] == img_id and (
            a["iscrowd"] or a["num_keypoints"] == 0))
        assert len(rec.ignore_segmentations) + (
            0 if rec.ignore_boxes is None else len(rec.ignore_boxes)) == n_ign
    rec = by_id[40083]  # has a person without keypoints
    img, joints, mask, _ = RecordSource([rec])[0]
    assert img.shape[:2] == rec.image_size
    assert mask is not None and mask.any() and mask.shape == img.shape[:2]
    # labeled keypoints lie inside the image
    lab = joints[..., 2] > 0
    assert np.all(joints[lab][:, 0] < img.shape[1]) and np.all(joints[lab][:, 1] < img.shape[0])
