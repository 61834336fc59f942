"""Plain NumPy versions of the post-processing stages, written the obvious way.

They define the behaviour the C++ core must reproduce and serve the tests and
benchmarks; they are not meant for production use (find_peaks_reference is slow).
"""

from __future__ import annotations

import numpy as np

from arttrack.joints import pair_channel
from arttrack.postprocess.pairwise import (
    NUM_FEATURES,
    SAME_JOINT_OFFSET,
    SAME_JOINT_SLOPE,
    PairwiseTerms,
    SpatialModel,
)
from arttrack.postprocess.peaks import LOCREF_STDEV, Peaks

__all__ = ["blob_maps", "find_peaks_reference", "pairwise_features_reference", "pairwise_terms_reference"]


def find_peaks_reference(scoremap: np.ndarray, locref: np.ndarray | None = None, *, stride: float = 8.0,
                         nms_radius: int = 5, min_score: float = 0.2,
                         locref_stdev: float = LOCREF_STDEV) -> Peaks:
    """Greedy per-channel NMS by a full stable sort and a distance test against each kept cell."""
    scoremap = np.asarray(scoremap, dtype=np.float32)
    h, w, nj = scoremap.shape
    parts, xys, scores, cells = [], [], [], []
    for j in range(nj):
        s = scoremap[:, :, j].reshape(-1)
        order = np.argsort(-s.astype(np.float64), kind="stable")  # ties: lower index first
        kept: list[tuple[int, int]] = []
        for idx in order:
            if not float(s[idx]) >= min_score:
                break
            r, c = divmod(int(idx), w)
            if any((r - kr) ** 2 + (c - kc) ** 2 <= nms_radius ** 2 for kr, kc in kept):
                continue
            kept.append((r, c))
            x = c * stride + stride / 2
            y = r * stride + stride / 2
            if locref is not None:
                x += float(locref[r, c, j, 0]) * locref_stdev
                y += float(locref[r, c, j, 1]) * locref_stdev
            parts.append(j)
            xys.append((x, y))
            scores.append(s[idx])
            cells.append((r, c))
    return Peaks(np.array(parts, dtype=np.int32), np.array(xys, dtype=np.float32).reshape(-1, 2),
                 np.array(scores, dtype=np.float32), np.array(cells, dtype=np.int32).reshape(-1, 2))


def _angle(ux, uy, vx, vy):
    """Angle between vectors u and v in [0, pi] (0 if either is zero).

    ``+ 0.0`` turns a dot product of -0.0 into +0.0, so that atan2(0, -0.0) = pi never happens.
    """
    return np.arctan2(np.abs(ux * vy - uy * vx), (ux * vx + uy * vy) + 0.0)


def pairwise_features_reference(peaks: Peaks, pairwise: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(E, 9) raw features of directed edges (d1, d2); see :mod:`arttrack.postprocess.pairwise`."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    num_joints = int(round((1 + np.sqrt(1 + 4 * pairwise.shape[2])) / 2))
    d1, d2 = edges[:, 0], edges[:, 1]
    a, b = peaks.part[d1].astype(np.int64), peaks.part[d2].astype(np.int64)
    table = np.array([[pair_channel(j, k, num_joints) if j != k else -1 for k in range(num_joints)]
                      for j in range(num_joints)], dtype=np.int64).reshape(num_joints, num_joints)
    ch_ab, ch_ba = table[a, b], table[b, a]
    c1, c2 = peaks.cell[d1], peaks.cell[d2]
    o_ab = pairwise[c1[:, 0], c1[:, 1], ch_ab].astype(np.float64)
    o_ba = pairwise[c2[:, 0], c2[:, 1], ch_ba].astype(np.float64)
    delta = peaks.xy[d2].astype(np.float64) - peaks.xy[d1].astype(np.float64)
    dist_fwd = np.hypot(o_ab[:, 0] - delta[:, 0], o_ab[:, 1] - delta[:, 1])
    dist_bwd = np.hypot(o_ba[:, 0] + delta[:, 0], o_ba[:, 1] + delta[:, 1])
    ang_fwd = _angle(o_ab[:, 0], o_ab[:, 1], delta[:, 0], delta[:, 1])
    ang_bwd = _angle(o_ba[:, 0], o_ba[:, 1], -delta[:, 0], -delta[:, 1])
    f = np.stack([dist_fwd, dist_bwd, ang_fwd, ang_bwd, np.exp(-dist_fwd), np.exp(-dist_bwd),
                  np.exp(-ang_fwd), np.exp(-ang_bwd), np.ones_like(dist_fwd)], axis=1)
    assert f.shape[1] == NUM_FEATURES
    return f


def pairwise_terms_reference(peaks: Peaks, pairwise: np.ndarray, model: SpatialModel, *,
                             same_joint: bool = True, same_joint_slope: float = SAME_JOINT_SLOPE,
                             same_joint_offset: float = SAME_JOINT_OFFSET) -> PairwiseTerms:
    """NumPy pairwise terms, same edge order as :func:`arttrack.postprocess.pairwise_terms`."""
    num_joints = int(round((1 + np.sqrt(1 + 4 * pairwise.shape[2])) / 2))
    assert num_joints * (num_joints - 1) == pairwise.shape[2]
    edge_list, pidx = [], []
    for p, (a, b) in enumerate(model.pairs):
        ia, ib = np.flatnonzero(peaks.part == a), np.flatnonzero(peaks.part == b)
        g1, g2 = np.meshgrid(ia, ib, indexing="ij")
        edge_list.append(np.stack([g1.ravel(), g2.ravel()], axis=1))
        pidx.append(np.full(g1.size, p, dtype=np.int64))
    directed = np.concatenate(edge_list).astype(np.int64) if edge_list else np.zeros((0, 2), np.int64)
    pair_index = np.concatenate(pidx) if pidx else np.zeros(0, np.int64)
    f = pairwise_features_reference(peaks, pairwise, directed)
    mn, mx, w = model.feat_min[pair_index], model.feat_max[pair_index], model.weights[pair_index]
    rng = np.where(mx - mn == 0, 1.0, mx - mn)
    scaled = (f - mn) / rng
    scaled[:, -1] = 1.0
    prob = 1.0 / (1.0 + np.exp(-(scaled * w).sum(axis=1)))
    edges = np.sort(directed, axis=1)
    same = np.zeros(len(edges), dtype=bool)
    if same_joint:
        se, sp = [], []
        for j in range(num_joints):
            idx = np.flatnonzero(peaks.part == j)
            iu, ju = np.triu_indices(len(idx), k=1)
            pairs = np.stack([idx[iu], idx[ju]], axis=1)
            d = np.linalg.norm(peaks.xy[pairs[:, 0]].astype(np.float64)
                               - peaks.xy[pairs[:, 1]].astype(np.float64), axis=1)
            se.append(pairs)
            sp.append(1.0 / (1.0 + np.exp(same_joint_slope * d - same_joint_offset)))
        se_all = np.concatenate(se).astype(np.int64)
        edges = np.concatenate([edges, se_all])
        prob = np.concatenate([prob, np.concatenate(sp)])
        same = np.concatenate([same, np.ones(len(se_all), dtype=bool)])
        pair_index = np.concatenate([pair_index, np.full(len(se_all), -1, dtype=np.int64)])
    return PairwiseTerms(edges.reshape(-1, 2), prob, same, pair_index)


def blob_maps(rng: np.random.Generator, h: int = 60, w: int = 80, nj: int = 17, blobs: int = 20,
              sigma: float = 1.5) -> np.ndarray:
    """Network-like (h, w, nj) float32 maps: per joint ``blobs`` Gaussian blobs (``sigma``
    cells, peak uniform in [0.5, 0.95]) over uniform noise in [0, 0.15): thousands of cells
    >= 0.2 in all, the load of a crowded frame (the tests' and benchmarks' find_peaks input)."""
    m = rng.uniform(0, 0.15, (h, w, nj)).astype(np.float32)
    ys, xs = np.mgrid[0:h, 0:w]
    for j in range(nj):
        cy, cx = rng.uniform(0, h, blobs), rng.uniform(0, w, blobs)
        peak = rng.uniform(0.5, 0.95, blobs)
        d2 = (ys[..., None] - cy) ** 2 + (xs[..., None] - cx) ** 2
        m[:, :, j] = np.maximum(m[:, :, j], (peak * np.exp(-d2 / (2 * sigma ** 2))).max(-1))
    return m.astype(np.float32)
