"""Assembly of partitioned detections into people (DESIGN.md section 1, inference step 5)."""

from __future__ import annotations

import operator
from typing import Literal, overload

import numpy as np

from arttrack._native import core
from arttrack.postprocess.peaks import Peaks

__all__ = ["assemble"]


@overload
def assemble(peaks: Peaks, active: np.ndarray, cluster: np.ndarray, num_joints: int, *,
             min_joints: int = ..., return_ids: Literal[False] = ...) -> np.ndarray: ...


@overload
def assemble(peaks: Peaks, active: np.ndarray, cluster: np.ndarray, num_joints: int, *,
             min_joints: int = ..., return_ids: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...


def assemble(peaks: Peaks, active: np.ndarray, cluster: np.ndarray, num_joints: int, *,
             min_joints: int = 3, return_ids: bool = False):
    """One person per cluster of active detections.

    Per joint of a person: the position is the score-weighted mean of the cluster's
    detections of that joint (plain mean if their scores sum to <= 0); the score is the
    **maximum** of their scores (a mean would let several weak duplicates look as good as
    one confident detection); joints without a detection are (NaN, NaN, 0).

    Args:
        peaks: the detections.
        active: (N,) bool, False for suppressed detections (ignored).
        cluster: (N,) int32 (as :func:`partition` returns it) or int64 cluster id of each
            detection (any value; only active ones count).
        num_joints: J.
        min_joints: people with fewer detected joints are dropped.
        return_ids: also return the (P,) int64 cluster id of each person.

    Returns:
        (P, J, 3) float32 (x, y, score) ordered by increasing cluster id, and with
        ``return_ids`` the cluster ids.
    """
    if isinstance(cluster, np.ndarray) and cluster.dtype == np.int32:
        cluster = cluster.astype(np.int64)  # lossless; partition() returns int32
    people, ids = core.assemble(peaks.part, peaks.xy, peaks.score, active, cluster,
                                operator.index(num_joints), operator.index(min_joints))
    return (people, ids) if return_ids else people
