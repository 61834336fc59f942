"""Joint sets, left/right symmetry, skeletons and the sparse pairwise graph.

One place for every joint-order constant, shared by data, training, inference, drawing
and export metadata (docs/DESIGN.md section 4).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class JointSet:
    """An ordered set of joints with its symmetry and skeleton."""

    name: str
    names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    skeleton: tuple[tuple[int, int], ...]
    # Graph distance (over the skeleton) up to which joint pairs get pairwise terms.
    pair_graph_hops: int = 2
    extra_pairs: tuple[tuple[int, int], ...] = field(default=())

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)

    @cached_property
    def flip_permutation(self) -> np.ndarray:
        """perm[j] = joint that j becomes after a horizontal mirror."""
        perm = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    @cached_property
    def hop_distance(self) -> np.ndarray:
        """(J, J) number of skeleton edges between joints (large where disconnected)."""
        j = self.num_joints
        adj: list[list[int]] = [[] for _ in range(j)]
        for a, b in self.skeleton:
            adj[a].append(b)
            adj[b].append(a)
        dist = np.full((j, j), 10**6, dtype=np.int64)
        for s in range(j):
            dist[s, s] = 0
            q = deque([s])
            while q:
                u = q.popleft()
                for v in adj[u]:
                    if dist[s, v] > dist[s, u] + 1:
                        dist[s, v] = dist[s, u] + 1
                        q.append(v)
        return dist

    @cached_property
    def pair_graph(self) -> np.ndarray:
        """(P, 2) int64 unordered joint pairs a < b that get pairwise terms at inference.

        The kinematic tree plus skip edges: every pair within ``pair_graph_hops`` skeleton
        edges, plus ``extra_pairs``. Sorted lexicographically.
        """
        return self.pairs_within(self.pair_graph_hops)

    def pairs_within(self, hops: int) -> np.ndarray:
        """(P, 2) int64 pairs a < b at most ``hops`` skeleton edges apart, plus
        ``extra_pairs``, sorted; ``hops >= num_joints - 1`` gives every pair."""
        if hops < 1:
            raise ValueError(f"hops must be >= 1, got {hops}")
        d = self.hop_distance
        pairs = {(a, b) for a in range(self.num_joints) for b in range(a + 1, self.num_joints)
                 if d[a, b] <= hops}
        pairs |= {(min(a, b), max(a, b)) for a, b in self.extra_pairs}
        return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)


def pair_channel(j: int, k: int, num_joints: int) -> int:
    """Channel of the ordered pair (j, k), j != k, in the 2*J*(J-1) pairwise output.

    The pair occupies channels 2*c and 2*c + 1 (dx, dy) where c is returned here:
    ``(J-1)*j + k - (1 if j < k else 0)`` (docs/DESIGN.md section 1).
    """
    if j == k:
        raise ValueError(f"pair_channel needs two different joints, got {j} twice")
    return (num_joints - 1) * j + k - (1 if j < k else 0)


MPII14 = JointSet(
    name="mpii14",
    names=("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow",
           "r_shoulder", "l_shoulder", "l_elbow", "l_wrist", "chin", "forehead"),
    flip_pairs=((0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9)),
    skeleton=((0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 12), (9, 12),
              (9, 10), (10, 11), (12, 13), (2, 8), (3, 9)),
)
# MPII annotation ids (0..15) of the 14 ArtTrack joints, in order.
MPII14_FROM_MPII16 = (0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 8, 9)

COCO17 = JointSet(
    name="coco17",
    names=("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
           "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
           "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"),
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    skeleton=((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
              (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4),
              (3, 5), (4, 6)),
)
# pycocotools' per-keypoint OKS sigmas for COCO17.
COCO17_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07,
                          .87, .87, .89, .89]) / 10.0

# PoseTrack 2018's 15 annotated joints (its 17 keypoints without the ears, which are never
# labeled), in PoseTrack's order: what the PoseTrack benchmark scores. head_bottom is the
# upper neck, head_top the top of the head (as MPII's).
POSETRACK15 = JointSet(
    name="posetrack15",
    names=("nose", "head_bottom", "head_top", "left_shoulder", "right_shoulder", "left_elbow",
           "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
           "right_knee", "left_ankle", "right_ankle"),
    flip_pairs=((3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14)),
    skeleton=((0, 1), (1, 2), (0, 2), (1, 3), (1, 4), (3, 5), (5, 7), (4, 6), (6, 8), (3, 9),
              (4, 10), (9, 10), (9, 11), (11, 13), (10, 12), (12, 14)),
)

JOINT_SETS = {js.name: js for js in (MPII14, COCO17, POSETRACK15)}


def get_joint_set(name: str) -> JointSet:
    try:
        return JOINT_SETS[name]
    except KeyError:
        raise ValueError(f"unknown joint set {name!r}; choose one of {sorted(JOINT_SETS)}") from None
