"""Evaluation as the field computes it.

- :mod:`arttrack.eval.pckh`: MPII head-normalised PCKh (plus the curve, its AUC and, for
  comparison only, the bounding-box-normalised PCK that the MindSpore model-zoo port
  reported).
- :mod:`arttrack.eval.coco`: COCO keypoint AP/AR through pycocotools.
- :mod:`arttrack.eval.posetrack`: PoseTrack-style per-joint AP (PCKh matching) and
  MOTA/MOTP/precision/recall/ID switches through motmetrics.

Command line: ``python -m arttrack.eval pckh|coco|posetrack --help``.

The submodules are imported lazily so that ``import arttrack.eval`` does not pull in
pycocotools or motmetrics (and pandas) unless they are used.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "EvalError",
    # pckh
    "PCKhResult",
    "compute_pckh",
    "pckh_curve",
    "compute_bbox_pck",
    "load_mpii_mat",
    # coco
    "evaluate_coco",
    "predictions_to_coco_results",
    # posetrack
    "PoseTrackResult",
    "evaluate_posetrack",
]


class EvalError(ValueError):
    """Bad evaluation input (file, format, shapes); the message says what and where."""


_LAZY = {
    "PCKhResult": "pckh",
    "compute_pckh": "pckh",
    "pckh_curve": "pckh",
    "compute_bbox_pck": "pckh",
    "load_mpii_mat": "pckh",
    "evaluate_coco": "coco",
    "predictions_to_coco_results": "coco",
    "PoseTrackResult": "posetrack",
    "evaluate_posetrack": "posetrack",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'arttrack.eval' has no attribute {name!r}")
    return getattr(importlib.import_module(f"arttrack.eval.{mod}"), name)
