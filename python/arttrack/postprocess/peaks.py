"""Peak extraction from part score maps (docs/DESIGN.md section 1, inference step 1).

Maps follow the network layout: ``scoremap`` is (H, W, J) float32 probabilities and
``locref`` (H, W, J, 2) float32 offsets (dx, dy) from the cell centre divided by
``locref_stdev``. Cell (row, col) has its centre at
``(col * stride + stride / 2, row * stride + stride / 2)`` in input pixels.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from arttrack._native import core

__all__ = ["LOCREF_STDEV", "Peaks", "argmax_pose", "find_peaks"]

#: Default de-normalisation factor of the locref head (docs/DESIGN.md section 1).
LOCREF_STDEV = 7.2801


@dataclass(frozen=True, eq=False)
class Peaks:
    """Detections of one frame, ordered by joint, then decreasing score.

    Attributes:
        part: (N,) int32 joint index of each detection.
        xy: (N, 2) float32 position (x, y) in input pixels, locref applied.
        score: (N,) float32 probability read from the score map.
        cell: (N, 2) int32 map cell (row, col) of each detection.
    """

    part: np.ndarray
    xy: np.ndarray
    score: np.ndarray
    cell: np.ndarray

    def __post_init__(self) -> None:
        n = np.shape(self.part)[0] if np.ndim(self.part) == 1 else -1
        if n < 0:
            raise ValueError(f"part must be 1-dimensional, got shape {np.shape(self.part)}")
        for name, shape in (("xy", (n, 2)), ("score", (n,)), ("cell", (n, 2))):
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(f"{name} must have shape {shape}, got {np.shape(getattr(self, name))}")

    def __len__(self) -> int:
        return int(self.part.shape[0])

    @classmethod
    def _trusted(cls, part: np.ndarray, xy: np.ndarray, score: np.ndarray, cell: np.ndarray) -> Peaks:
        """Wraps arrays known to have the right shapes (the core's output) without the checks."""
        peaks = object.__new__(cls)
        for name, value in (("part", part), ("xy", xy), ("score", score), ("cell", cell)):
            object.__setattr__(peaks, name, value)
        return peaks

    @classmethod
    def empty(cls) -> Peaks:
        return cls(np.zeros(0, np.int32), np.zeros((0, 2), np.float32), np.zeros(0, np.float32),
                   np.zeros((0, 2), np.int32))

    def of_joint(self, joint: int) -> np.ndarray:
        """Indices of the detections of ``joint`` (in output order)."""
        return np.flatnonzero(self.part == joint)


_INT64_MAX = int(np.iinfo(np.int64).max)


def _radius(nms_radius: int) -> int:
    try:
        r = operator.index(nms_radius)
    except TypeError:
        raise TypeError(f"nms_radius must be an integer, got {type(nms_radius).__name__}") from None
    if r < 0:
        raise ValueError(f"nms_radius must be >= 0, got {r}")
    return min(r, _INT64_MAX)


def find_peaks(
    scoremap: np.ndarray,
    locref: np.ndarray | None = None,
    *,
    stride: float = 8.0,
    nms_radius: int = 5,
    min_score: float = 0.2,
    locref_stdev: float = LOCREF_STDEV,
) -> Peaks:
    """Per-joint greedy non-maximum suppression with location refinement.

    For each joint channel the cells are visited by decreasing score (ties: lower row-major
    index first); a cell is kept if its score is >= ``min_score`` (compared exactly, in
    double precision) and no kept cell of the same channel lies at Euclidean distance
    <= ``nms_radius`` cells. Kept cells become detections at the cell centre plus
    ``locref * locref_stdev``.

    Args:
        scoremap: (H, W, J) float32 probabilities; must be finite.
        locref: (H, W, J, 2) float32 normalised offsets (dx, dy), or None for cell centres.
            Only read (and checked for NaN/inf) at the kept cells.
        stride: input pixels per map cell (> 0).
        nms_radius: suppression radius in cells (>= 0; 0 suppresses nothing but the cell itself).
        min_score: detection threshold (finite).
        locref_stdev: de-normalisation factor of ``locref``.

    Returns:
        :class:`Peaks` ordered by joint, then decreasing score (ties by row-major index).

    Raises:
        ValueError: wrong dtype, shape or a non-finite value, naming the argument.
    """
    part, xy, score, cell = core.find_peaks(scoremap, locref, float(stride), _radius(nms_radius),
                                            float(min_score), float(locref_stdev))
    return Peaks._trusted(part, xy, score, cell)


def argmax_pose(
    scoremap: np.ndarray,
    locref: np.ndarray | None = None,
    *,
    stride: float = 8.0,
    locref_stdev: float = LOCREF_STDEV,
) -> np.ndarray:
    """Single-person decoding: per joint, the argmax cell with locref applied.

    Ties go to the first cell in row-major order. Returns (J, 3) float32 rows (x, y, score).
    Raises ValueError for an empty map (H*W == 0) or bad input, naming the argument.
    """
    return core.argmax_pose(scoremap, locref, float(stride), float(locref_stdev))
