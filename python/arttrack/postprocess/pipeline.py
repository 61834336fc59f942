"""Network maps -> people: the multi-person decoding shared by every entry point.

A pure function of numpy maps (no network, no MindSpore), used by
:class:`arttrack.inference.Predictor`, ``python -m arttrack.predict``, the video pipeline
and the C++ runner's Python post-processing. docs/DESIGN.md section 1, inference steps 1-5::

    find_peaks -> pairwise_terms (spatial model) -> node / edge costs -> partition -> assemble

Map layout (what :meth:`arttrack.inference.Predictor.maps` returns), HWC float32:

* ``part``: (H, W, J) probabilities (sigmoid applied);
* ``locref``: (H, W, J, 2) offsets in units of ``locref_stdev`` (as the network outputs
  them), or None to use cell centres;
* ``pairwise``: (H, W, J*(J-1), 2) offsets in **pixels** (de-normalised with the pairwise
  statistics, :meth:`arttrack.data.codec.PoseCodec.pairwise_to_pixels`).

The pieces (:func:`detect`, :func:`spatial_terms`, :func:`group`, :func:`people_from_groups`)
are public so a tracker can reuse the detections and spatial edges of a frame.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields
from typing import Any, Optional

import numpy as np

from arttrack.postprocess.assemble import assemble
from arttrack.postprocess.pairwise import (
    SAME_JOINT_OFFSET,
    SAME_JOINT_SLOPE,
    PairwiseTerms,
    SpatialModel,
    costs_from_probs,
    pairwise_terms,
)
from arttrack.postprocess.partition import PARTITION_METHODS, partition
from arttrack.postprocess.peaks import LOCREF_STDEV, Peaks, find_peaks

logger = logging.getLogger(__name__)

__all__ = ["FrameParse", "MultiPersonSettings", "detect", "group", "maps_to_people",
           "parse_frame", "people_from_groups", "spatial_terms"]


@dataclass(frozen=True)
class MultiPersonSettings:
    """Parameters of the multi-person decoding (defaults: docs/DESIGN.md section 1).

    Attributes:
        stride: input pixels per map cell.
        locref_stdev: de-normalisation factor of ``locref``.
        nms_radius: peak suppression radius in cells.
        det_min_score: minimum part probability of a detection.
        min_joints: people with fewer detected joints are dropped.
        use_locref: apply location refinement to the detections.
        same_joint: add duplicate-suppression edges between detections of the same joint
            with ``p = 1 / (1 + exp(same_joint_slope * d - same_joint_offset))``.
        same_joint_slope, same_joint_offset: that probability's parameters.
        method: partition solver, ``"gaec"`` or ``"gaec+klj"``.
        merge_radius: a person's detections of one joint within this many px of the best
            one are averaged with it (0: the best alone; see :func:`assemble`).
    """

    stride: float = 8.0
    locref_stdev: float = LOCREF_STDEV
    nms_radius: int = 5
    det_min_score: float = 0.2
    min_joints: int = 3
    use_locref: bool = True
    same_joint: bool = True
    same_joint_slope: float = SAME_JOINT_SLOPE
    same_joint_offset: float = SAME_JOINT_OFFSET
    method: str = "gaec+klj"
    merge_radius: float = 0.0

    def __post_init__(self) -> None:
        if not (self.stride > 0 and self.locref_stdev > 0):
            raise ValueError("stride and locref_stdev must be positive")
        if int(self.nms_radius) < 0:
            raise ValueError(f"nms_radius must be >= 0, got {self.nms_radius}")
        if not math.isfinite(self.det_min_score):
            raise ValueError("det_min_score must be finite")
        if not self.merge_radius >= 0:
            raise ValueError(f"merge_radius must be >= 0, got {self.merge_radius}")
        if self.method not in PARTITION_METHODS:
            raise ValueError(f"method must be one of {PARTITION_METHODS}, got {self.method!r}")

    @classmethod
    def from_config(cls, cfg: Any, **overrides: Any) -> "MultiPersonSettings":
        """Settings from an :class:`arttrack.config.Config` (stride, locref_stdev,
        nms_radius, det_min_score, min_joints), then ``overrides``."""
        kw: dict[str, Any] = {
            "stride": float(cfg.stride), "locref_stdev": float(cfg.locref_stdev),
            "nms_radius": int(cfg.nms_radius), "det_min_score": float(cfg.det_min_score),
            "min_joints": int(cfg.min_joints),
        }
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown multi-person settings {unknown}; known: {sorted(known)}")
        kw.update(overrides)
        return cls(**kw)


@dataclass(frozen=True, eq=False)
class FrameParse:
    """Everything the decoding of one frame produced.

    Attributes:
        peaks: the detections.
        terms: candidate edges with their probabilities.
        active: (N,) bool, False for suppressed detections.
        cluster: (N,) int cluster id (-1 when suppressed).
        people: (P, J, 3) float32 x, y, score; missing joints are NaN in all three.
        person_cluster: (P,) int64 cluster id of each person.
    """

    peaks: Peaks
    terms: PairwiseTerms
    active: np.ndarray
    cluster: np.ndarray
    people: np.ndarray
    person_cluster: np.ndarray


def _check_maps(part: np.ndarray, locref: Optional[np.ndarray],
                pairwise: Optional[np.ndarray]) -> tuple[np.ndarray, Optional[np.ndarray],
                                                           Optional[np.ndarray]]:
    part = np.ascontiguousarray(part, dtype=np.float32)
    if part.ndim != 3:
        raise ValueError(f"part must be (H, W, J), got shape {part.shape}")
    h, w, j = part.shape
    if locref is not None:
        locref = np.ascontiguousarray(locref, dtype=np.float32)
        if locref.shape == (h, w, 2 * j):
            locref = locref.reshape(h, w, j, 2)
        if locref.shape != (h, w, j, 2):
            raise ValueError(f"locref must be ({h}, {w}, {j}, 2), got {locref.shape}")
    if pairwise is not None:
        pairwise = np.ascontiguousarray(pairwise, dtype=np.float32)
        c = j * (j - 1)
        if pairwise.shape == (h, w, 2 * c):
            pairwise = pairwise.reshape(h, w, c, 2)
        if pairwise.shape != (h, w, c, 2):
            raise ValueError(f"pairwise must be ({h}, {w}, {c}, 2) (pixels), got {pairwise.shape}")
    return part, locref, pairwise


def detect(part: np.ndarray, locref: Optional[np.ndarray] = None,
           settings: MultiPersonSettings = MultiPersonSettings()) -> Peaks:
    """Step 1: per-joint peaks (greedy NMS) with location refinement."""
    part, locref, _ = _check_maps(part, locref, None)
    return find_peaks(part, locref if settings.use_locref else None, stride=settings.stride,
                      nms_radius=int(settings.nms_radius), min_score=settings.det_min_score,
                      locref_stdev=settings.locref_stdev)


def spatial_terms(peaks: Peaks, pairwise: np.ndarray, spatial_model: SpatialModel,
                  settings: MultiPersonSettings = MultiPersonSettings()) -> PairwiseTerms:
    """Step 2: candidate edges of the spatial model's pair graph (+ same-joint edges)."""
    return pairwise_terms(peaks, np.ascontiguousarray(pairwise, dtype=np.float32), spatial_model,
                          same_joint=settings.same_joint,
                          same_joint_slope=settings.same_joint_slope,
                          same_joint_offset=settings.same_joint_offset,
                          stride=settings.stride)


def group(peaks: Peaks, terms: PairwiseTerms,
          settings: MultiPersonSettings = MultiPersonSettings()) -> tuple[np.ndarray, np.ndarray]:
    """Steps 3-4: node costs from detection scores, edge costs from edge probabilities,
    node-labelling multicut. Returns ``(active (N,) bool, cluster (N,) int)``."""
    n = len(peaks)
    if n == 0:
        return np.zeros(0, bool), np.zeros(0, np.int32)
    node_cost = costs_from_probs(peaks.score.astype(np.float64))
    edges = np.ascontiguousarray(terms.edges, dtype=np.int64).reshape(-1, 2)
    edge_cost = np.ascontiguousarray(terms.costs, dtype=np.float64)
    return partition(node_cost, edges, edge_cost, method=settings.method)


def people_from_groups(peaks: Peaks, active: np.ndarray, cluster: np.ndarray, num_joints: int,
                       settings: MultiPersonSettings = MultiPersonSettings()
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Step 5: one person per cluster. Returns ((P, J, 3) float32 with NaN rows for missing
    joints, (P,) int64 cluster ids)."""
    if len(peaks) == 0:
        return np.zeros((0, num_joints, 3), np.float32), np.zeros(0, np.int64)
    people, ids = assemble(peaks, np.asarray(active, bool),
                           np.asarray(cluster, np.int64), num_joints,
                           min_joints=int(settings.min_joints), return_ids=True,
                           merge_radius=float(settings.merge_radius))
    people = np.array(people, dtype=np.float32, copy=True).reshape(-1, num_joints, 3)
    missing = ~np.all(np.isfinite(people[..., :2]), axis=-1)
    people[missing] = np.nan
    return people, np.asarray(ids, np.int64)


def parse_frame(part: np.ndarray, locref: Optional[np.ndarray], pairwise: np.ndarray,
                spatial_model: SpatialModel,
                settings: MultiPersonSettings = MultiPersonSettings()) -> FrameParse:
    """All steps, keeping the intermediate results (see :class:`FrameParse`)."""
    part, locref, pairwise = _check_maps(part, locref, pairwise)
    if pairwise is None:
        raise ValueError("multi-person decoding needs the pairwise map (a model trained with "
                         "pairwise_predict: true)")
    j = part.shape[2]
    if spatial_model.num_pairs and int(spatial_model.pairs.max()) >= j:
        raise ValueError(f"the spatial model has joint index {int(spatial_model.pairs.max())} "
                         f"but the maps have {j} joints")
    peaks = detect(part, locref, settings)
    terms = spatial_terms(peaks, pairwise, spatial_model, settings)
    active, cluster = group(peaks, terms, settings)
    people, ids = people_from_groups(peaks, active, cluster, j, settings)
    logger.debug("frame: %d detections, %d edges, %d people", len(peaks), len(terms), len(people))
    return FrameParse(peaks, terms, np.asarray(active, bool), np.asarray(cluster), people, ids)


def maps_to_people(part: np.ndarray, locref: Optional[np.ndarray], pairwise: np.ndarray,
                   spatial_model: SpatialModel,
                   settings: MultiPersonSettings = MultiPersonSettings()) -> np.ndarray:
    """Multi-person decoding of one frame's maps (layouts in the module docstring).

    Returns:
        (P, J, 3) float32 rows (x, y, score) in the maps' input pixels, people ordered by
        cluster id; a joint the person has no detection of is NaN in all three columns.
    """
    return parse_frame(part, locref, pairwise, spatial_model, settings).people
