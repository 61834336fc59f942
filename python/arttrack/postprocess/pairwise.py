"""Pairwise terms between detections and the logistic spatial model (docs/DESIGN.md section 1,
inference steps 2 and 3).

For a candidate edge from detection d1 (joint a, cell c1, position p1) to detection d2
(joint b, cell c2, position p2), with the pairwise map de-normalised to pixels, shape
(H, W, J*(J-1), 2), ordered pair (j, k) at channel :func:`arttrack.joints.pair_channel`:

* ``o_ab`` = map[c1, pair_channel(a, b)], the predicted offset a -> b read at d1;
* ``o_ba`` = map[c2, pair_channel(b, a)], the predicted offset b -> a read at d2;
* ``fwd`` = p2 - q1 and ``bwd`` = p1 - q2, the real displacements, where a detection's
  origin ``q`` is set by the spatial model (:attr:`SpatialModel.origin`): its position
  (``"position"``, arttrack's fitted models: ``bwd = -fwd``) or the centre of its map
  cell (``"cell_centre"``, as DeeperCut's ``compute_different_part_pairwise`` measures
  it, so the authors' models give the authors' probabilities).

Raw features, in this order (:data:`FEATURE_NAMES`): ``|o_ab - fwd|``, ``|o_ba - bwd|``,
the angle between o_ab and fwd, the angle between o_ba and bwd (both in [0, pi],
atan2(|cross|, dot), 0 when a vector is zero), exp(-f) of those four, and a bias of 1.
The spatial model of a joint pair min-max scales features 0..7,
``(f - min) / (max - min)`` (a zero range counts as 1, like scikit-learn's MinMaxScaler),
keeps the bias at 1 and returns ``sigmoid(weights . scaled)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike

import numpy as np

from arttrack._native import core
from arttrack.postprocess.peaks import Peaks

__all__ = [
    "FEATURE_NAMES",
    "ORIGINS",
    "NUM_FEATURES",
    "PairwiseTerms",
    "SpatialModel",
    "candidate_edges",
    "costs_from_probs",
    "pairwise_features",
    "pairwise_terms",
    "same_joint_probs",
]

FEATURE_NAMES: tuple[str, ...] = (
    "dist_fwd", "dist_bwd", "angle_fwd", "angle_bwd",
    "exp_dist_fwd", "exp_dist_bwd", "exp_angle_fwd", "exp_angle_bwd", "bias",
)
NUM_FEATURES = len(FEATURE_NAMES)
assert NUM_FEATURES == int(core.NUM_PAIRWISE_FEATURES)

#: Defaults of the same-joint (duplicate) edge probability 1 / (1 + exp(slope*d - offset)).
SAME_JOINT_SLOPE = 0.2
SAME_JOINT_OFFSET = 7.5

_FORMAT = "arttrack.spatial_model"
_FORMAT_VERSION = 2  # 2 added `origin`; version 1 files measure from the positions
ORIGINS = ("position", "cell_centre")


@dataclass(frozen=True, eq=False)
class SpatialModel:
    """Logistic regression per unordered joint pair, on min-max scaled pairwise features.

    Construct it directly from arrays (they are converted to C-contiguous int64/float64
    copies and validated), fit it with the training code, or :meth:`load` it from an .npz
    written by :meth:`save`.

    Attributes:
        pairs: (P, 2) int64 joint pairs (a, b), a != b, no pair twice; the feature of an
            edge is computed from the detection of ``a`` (d1) to the detection of ``b`` (d2).
        feat_min: (P, 9) float64 per-feature minimum (column 8, the bias, is ignored).
        feat_max: (P, 9) float64 per-feature maximum.
        weights: (P, 9) float64 logistic weights, ``weights[:, 8]`` the intercept.
        origin: where an edge's real displacement starts: ``"position"`` (the detection's
            refined position; arttrack's fitted models) or ``"cell_centre"`` (its map
            cell's centre; DeeperCut's models, :mod:`arttrack.convert.deepercut`).
    """

    pairs: np.ndarray
    feat_min: np.ndarray
    feat_max: np.ndarray
    weights: np.ndarray
    origin: str = "position"

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise ValueError(f"origin must be one of {ORIGINS}, got {self.origin!r}")
        pairs = np.asarray(self.pairs)
        if pairs.size == 0:
            pairs = pairs.reshape(0, 2)
        elif not np.issubdtype(pairs.dtype, np.integer):
            raise ValueError(f"pairs must hold integers, got dtype {pairs.dtype}")
        pairs = np.array(pairs, dtype=np.int64, copy=True)
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise ValueError(f"pairs must have shape (P, 2), got {pairs.shape}")
        p = pairs.shape[0]
        if p and (pairs.min() < 0 or np.any(pairs[:, 0] == pairs[:, 1])):
            raise ValueError("pairs must hold two different non-negative joint indices per row")
        if len({(min(a, b), max(a, b)) for a, b in pairs.tolist()}) != p:
            raise ValueError("pairs must not repeat a joint pair")
        object.__setattr__(self, "pairs", np.ascontiguousarray(pairs))
        for name in ("feat_min", "feat_max", "weights"):
            arr = np.array(getattr(self, name), dtype=np.float64, copy=True)
            if arr.shape != (p, NUM_FEATURES):
                raise ValueError(f"{name} must have shape ({p}, {NUM_FEATURES}), got {arr.shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or infinity")
            object.__setattr__(self, name, np.ascontiguousarray(arr))

    @property
    def num_pairs(self) -> int:
        return int(self.pairs.shape[0])

    def probabilities(self, features: np.ndarray, pair_index: np.ndarray) -> np.ndarray:
        """p(same person) of raw features (E, 9) for the model rows ``pair_index`` (E,)."""
        f = np.asarray(features, dtype=np.float64)
        idx = np.asarray(pair_index, dtype=np.int64)
        mn, mx, w = self.feat_min[idx], self.feat_max[idx], self.weights[idx]
        rng = mx - mn
        rng = np.where(rng == 0, 1.0, rng)
        s = (f - mn) / rng
        s[:, NUM_FEATURES - 1] = 1.0
        z = np.einsum("ek,ek->e", s, w)
        return 1.0 / (1.0 + np.exp(-z))

    def save(self, path: str | PathLike[str]) -> None:
        """Write the model to an .npz file (arrays plus a format tag and feature names)."""
        np.savez(path, format=np.array(_FORMAT), format_version=np.array(_FORMAT_VERSION),
                 feature_names=np.array(FEATURE_NAMES), pairs=self.pairs, feat_min=self.feat_min,
                 feat_max=self.feat_max, weights=self.weights, origin=np.array(self.origin))

    @classmethod
    def load(cls, path: str | PathLike[str]) -> SpatialModel:
        """Read a model written by :meth:`save`; raises ValueError on another format."""
        with np.load(path, allow_pickle=False) as z:
            if "format" not in z.files or str(z["format"]) != _FORMAT:
                raise ValueError(f"{path} is not an arttrack spatial model (.npz written by SpatialModel.save)")
            version = int(z["format_version"])
            if version not in (1, _FORMAT_VERSION):
                raise ValueError(f"{path}: unsupported spatial model format version {version}")
            names = tuple(str(s) for s in z["feature_names"])
            if names != FEATURE_NAMES:
                raise ValueError(f"{path}: feature names {names} differ from this version's {FEATURE_NAMES}")
            origin = str(z["origin"]) if version >= 2 else "position"
            return cls(z["pairs"], z["feat_min"], z["feat_max"], z["weights"], origin)


@dataclass(frozen=True, eq=False)
class PairwiseTerms:
    """Candidate edges between detections with their probabilities.

    Attributes:
        edges: (E, 2) int64 detection indices (i, j), i < j.
        prob: (E,) float64 probability that the two detections belong to the same person
            (graph edges) or are the same joint instance (same-joint edges).
        same_joint: (E,) bool, True for same-joint (duplicate) edges.
        pair_index: (E,) int64 row of the spatial model for graph edges, -1 for same-joint ones.
    """

    edges: np.ndarray
    prob: np.ndarray
    same_joint: np.ndarray
    pair_index: np.ndarray

    def __len__(self) -> int:
        return int(self.prob.shape[0])

    @property
    def costs(self) -> np.ndarray:
        """Edge join costs log((1-p)/p) (docs/DESIGN.md section 1, step 3)."""
        return costs_from_probs(self.prob)


def candidate_edges(peaks: Peaks, pairs: np.ndarray, num_joints: int) -> tuple[np.ndarray, np.ndarray]:
    """Directed candidate edges of a joint-pair graph.

    For each pair p = (a, b) of ``pairs`` (P, 2) int64 in order, every detection d1 of joint a
    with every detection d2 of joint b, both in increasing index order. Returns
    (edges (E, 2) int64 rows (d1, d2), pair_index (E,) int64). This is the order of the graph
    edges in :func:`pairwise_terms`.
    """
    return core.candidate_edges(peaks.part, pairs, int(num_joints))


def pairwise_features(peaks: Peaks, pairwise: np.ndarray, edges: np.ndarray, *,
                      origin: str = "position", stride: float = 8.0) -> np.ndarray:
    """Raw (E, 9) float64 features (order :data:`FEATURE_NAMES`) of directed edges.

    Args:
        peaks: detections.
        pairwise: (H, W, J*(J-1), 2) float32 pairwise offsets in pixels (de-normalised).
            Only the values read are checked for NaN/inf.
        edges: (E, 2) int64 rows (d1, d2) of detections of two different joints.
        origin: where displacements start (:attr:`SpatialModel.origin`).
        stride: input pixels per map cell (for ``origin="cell_centre"``).
    """
    return core.pairwise_features(peaks.part, peaks.xy, peaks.cell, pairwise, edges,
                                  _cell_centre(origin), float(stride))


def _cell_centre(origin: str) -> bool:
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS}, got {origin!r}")
    return origin == "cell_centre"


def pairwise_terms(
    peaks: Peaks,
    pairwise: np.ndarray,
    model: SpatialModel,
    *,
    same_joint: bool = True,
    same_joint_slope: float = SAME_JOINT_SLOPE,
    same_joint_offset: float = SAME_JOINT_OFFSET,
    stride: float = 8.0,
) -> PairwiseTerms:
    """All candidate edges of a frame with their probabilities.

    Graph edges come first, in :func:`candidate_edges` order over ``model.pairs`` (stored as
    (min, max) of (d1, d2)) with p from the spatial model; then, if ``same_joint``, an edge
    between every two detections of the same joint (by joint, then lexicographic (i, j))
    with ``p = 1 / (1 + exp(same_joint_slope * d - same_joint_offset))``, d the distance in
    pixels. J is taken from the pairwise map; ``stride`` (input pixels per cell) places the
    cell centres of a model whose ``origin`` is ``"cell_centre"``.
    """
    edges, prob, same, pair_index = core.pairwise_terms(
        peaks.part, peaks.xy, peaks.cell, pairwise, model.pairs, model.feat_min, model.feat_max,
        model.weights, bool(same_joint), float(same_joint_slope), float(same_joint_offset),
        _cell_centre(model.origin), float(stride))
    return PairwiseTerms(edges, prob, same, pair_index)


def same_joint_probs(distance: np.ndarray, slope: float = SAME_JOINT_SLOPE,
                     offset: float = SAME_JOINT_OFFSET) -> np.ndarray:
    """p = 1 / (1 + exp(slope * d - offset)) of pixel distances (float64)."""
    return 1.0 / (1.0 + np.exp(slope * np.asarray(distance, dtype=np.float64) - offset))


def costs_from_probs(p: np.ndarray | float, eps: float = 1e-7) -> np.ndarray:
    """Costs log((1-p)/p) with p clipped to [eps, 1 - eps] (node and edge costs).

    Negative costs favour activating a node / joining an edge. Raises ValueError on NaN.
    """
    q = np.asarray(p, dtype=np.float64)
    if np.isnan(q).any():
        raise ValueError("p contains NaN")
    q = np.clip(q, eps, 1.0 - eps)
    return np.log((1.0 - q) / q)
