"""COCO keypoint AP/AR through pycocotools (``COCOeval``, iouType ``"keypoints"``).

Results follow the standard COCO format: a list of
``{"image_id": int, "category_id": 1, "keypoints": [x, y, v] * 17, "score": float}``.
pycocotools' own printing is captured; the numbers come back as a dict and the CLI prints
its own table. With no predictions at all every metric is 0 (pycocotools cannot load an
empty results list).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from arttrack.eval import EvalError
from arttrack.eval._io import read_json, table
from arttrack.joints import COCO17

log = logging.getLogger(__name__)

METRIC_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def predictions_to_coco_results(predictions: Mapping[int, Any], category_id: int = 1,
                                min_joints: int = 1) -> list[dict[str, Any]]:
    """Multi-person predictions -> a COCO results list.

    predictions: image_id -> (P, 17, 3) array ``x, y, score`` per joint (or (P, 17, 2),
    scores then taken as 1), NaN for missing joints.

    - a missing joint (any NaN in its row) is written as ``0, 0, 0``;
    - a present joint is written as ``x, y, score`` (COCOeval ignores the third value of
      detections, so this only carries information);
    - the person score is the mean of its present joints' scores;
    - people with fewer than ``min_joints`` present joints are dropped.
    """
    results: list[dict[str, Any]] = []
    nj = COCO17.num_joints
    for image_id, arr in predictions.items():
        a = np.asarray(arr, dtype=np.float64)
        if a.size == 0:
            continue
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3 or a.shape[1] != nj or a.shape[2] not in (2, 3):
            raise EvalError(f"image {image_id}: predictions must be (P, {nj}, 2|3), got {a.shape}")
        if a.shape[2] == 2:
            a = np.concatenate([a, np.ones(a.shape[:2] + (1,))], axis=2)
        for person in a:
            present = np.all(np.isfinite(person), axis=1)
            if present.sum() < min_joints or present.sum() == 0:
                continue
            kp = np.where(present[:, None], person, 0.0)
            results.append({
                "image_id": int(image_id),
                "category_id": int(category_id),
                "keypoints": [round(float(v), 3) for v in kp.reshape(-1)],
                "score": float(np.mean(person[present, 2])),
            })
    return results


def _load_gt(gt: str | Path | dict):
    from pycocotools.coco import COCO

    data = copy.deepcopy(gt) if isinstance(gt, dict) else read_json(gt, "COCO ground-truth file")
    if not isinstance(data, dict) or "annotations" not in data or "images" not in data:
        raise EvalError(f"{gt if not isinstance(gt, dict) else 'ground truth'}: not a COCO "
                        "annotation file (needs 'images' and 'annotations')")
    if "categories" not in data:
        data["categories"] = [{"id": 1, "name": "person", "keypoints": list(COCO17.names)}]
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _load_results(pred: str | Path | Sequence[dict]) -> list[dict]:
    data = pred if not isinstance(pred, (str, Path)) else read_json(pred, "COCO results file")
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        data = data["annotations"]
    if not isinstance(data, list):
        raise EvalError("COCO results must be a JSON list of {image_id, category_id, keypoints, score}")
    out = []
    for i, r in enumerate(data):
        if not isinstance(r, dict) or not all(k in r for k in ("image_id", "keypoints")):
            raise EvalError(f"COCO result {i} needs image_id and keypoints")
        if len(r["keypoints"]) != 3 * COCO17.num_joints:
            raise EvalError(f"COCO result {i}: keypoints must hold 51 numbers, got {len(r['keypoints'])}")
        r = dict(r)
        r.setdefault("category_id", 1)
        r.setdefault("score", 1.0)
        out.append(r)
    return out


def evaluate_coco(gt: str | Path | dict, pred: str | Path | Sequence[dict],
                  image_ids: Sequence[int] | None = None) -> dict[str, float]:
    """COCO keypoint AP/AR; returns ``{"AP", "AP50", ..., "ARl"}`` as fractions (0..1).

    ``gt``: a person_keypoints JSON path or its loaded dict. ``pred``: a results JSON path
    or list. ``image_ids`` restricts the evaluation (default: all ground-truth images).
    Empty predictions give 0 for every metric.
    """
    from pycocotools.cocoeval import COCOeval

    coco_gt = _load_gt(gt)
    results = _load_results(pred)
    if not results:
        log.warning("no predictions: every COCO metric is 0")
        return {k: 0.0 for k in METRIC_NAMES}
    gt_ids = set(coco_gt.getImgIds())
    unknown = {r["image_id"] for r in results} - gt_ids
    if unknown:
        raise EvalError(f"{len(unknown)} result image_id(s) not in the ground truth, "
                        f"e.g. {sorted(unknown, key=str)[:3]}")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, iouType="keypoints")
        if image_ids is not None:
            ev.params.imgIds = list(image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    log.debug("pycocotools output:\n%s", buf.getvalue())
    # pycocotools reports -1 where a category/area range has no ground truth.
    return {k: float(v) for k, v in zip(METRIC_NAMES, ev.stats[: len(METRIC_NAMES)])}


def format_result(stats: Mapping[str, float]) -> str:
    return table(["COCO keypoints (%)"] + list(METRIC_NAMES),
                 [("", [100.0 * stats[k] if stats[k] >= 0 else float("nan") for k in METRIC_NAMES])])
