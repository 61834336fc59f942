"""Spatio-temporal linking: persistent track ids for people (ArtTrack's tracking, fast variant).

Frame by frame, one node-labelling multicut instance is solved (by the same solver as the
spatial grouping, :func:`arttrack.postprocess.partition`, in the C++ core):

- nodes: the frame's detections (joint type, xy, score; node cost ``log((1-s)/s)``) and one
  *super-node* per live track (a track seen within the last ``max_gap + 1`` frames), with a
  very negative node cost so that it is always active;
- edges: the frame's spatial edges (given), *temporal* edges between a new detection of
  joint ``j`` and each live track that remembers a position of joint ``j`` (cost from the
  learned :class:`TemporalModel`; no edge when the normalised distance exceeds
  ``max_normalized_distance``), and a very positive edge between every two track
  super-nodes, so tracks never merge. A track that never showed joint ``j`` (a person
  entering the image with a few joints visible) links detections of ``j`` by *fallback*
  edges computed against its nearest remembered joint, with cost
  ``fallback_cost_scale / L * cost``, ``L`` the number of joints the track lacks, where
  ``cost < 0`` (no edge elsewhere): attractive when close, never repulsive, and shared among
  the lacking joints, so that a person showing many of them cannot outbid the one whose
  joints match the track's own. A track seen in part (size not measured yet) measures them
  with at least ``fallback_spread`` person sizes of spread: its few joints lie up to a
  person size from the ones it shows next.

A cluster containing a track super-node continues that track; a cluster of new detections
only starts a new track; suppressed detections get no track (``-1``). A track unseen for
more than ``max_gap`` consecutive frames retires; a person occluded for up to ``max_gap``
frames keeps the id.

Temporal features (C++ ``arttrack::temporal_features``, order fixed)::

    [1, r, r**2, r / g, log(g), q]

with ``g >= 1`` the frame gap since the track's last position of the joint,
``r = |xy - predicted| / size``, ``q = |xy - predicted|**2 / spread**2``, ``predicted`` the
track's remembered position of the joint moved by the track's velocity times ``g`` (motion
compensation, when on and known; callers may also overwrite the remembered positions, e.g.
warped by optical flow, with :meth:`Tracker.set_joint_positions`), ``size`` the track's
person size (bounding-box diagonal of its remembered joints, smoothed, once they are at least
half of its joints; a track seen only in part, e.g. entering the image, takes at least the
median size of the measured tracks) and ``spread`` the track's prediction error scale (px per
coordinate; root of the exponentially smoothed mean squared innovation, from
``initial_spread`` times the size, at least ``min_spread`` times the size): it adapts the
costs to the detector's noise. ``p(same) = sigmoid(w . f)``, cost ``log((1-p)/p)`` with
``p`` clipped to ``[1e-7, 1 - 1e-7]``. The remembered position of a joint seen again is
filtered, ``predicted + position_smoothing * (xy - predicted)``; the velocity is the mean
per-frame displacement of the joints seen in both of a track's latest observations,
exponentially smoothed; one measured on ``n`` of fewer than half of the ``J`` joints weighs
``2n / J`` of a full one (a person entering the image, against the noise of a few joints).

Whole people from any pose estimator (``(P, J, 3)`` arrays, x, y, score, NaN for a missing
joint) are fed as detections whose joints are bound together by strongly attractive
spatial edges, with one strongly repulsive edge between every two people of a frame.

:func:`hungarian_baseline` is the comparison method: people matched frame by frame to the
tracks' last poses by :func:`scipy.optimize.linear_sum_assignment` on mean joint distance
normalised by the track's person size, with a gate and the same ``max_gap`` memory.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from arttrack.io.atomic import atomic_path
from arttrack._native import core

log = logging.getLogger(__name__)

FEATURE_NAMES: tuple[str, ...] = ("bias", "r", "r2", "r_over_gap", "log_gap", "q")
NUM_FEATURES = len(FEATURE_NAMES)
_FORMAT = "arttrack-temporal-model"
# 2 added the feature q; a version 1 file (the first five features) loads with weight 0 on q.
_FORMAT_VERSION = 2
_V1_FEATURE_NAMES = FEATURE_NAMES[:5]
# Spatial edge costs that tie the joints of one given person together / keep two people of
# one frame apart. They dominate any sum of clipped temporal costs (|cost| <= 16.2 per edge).
PERSON_BINDING_COST = -1.0e4
PERSON_REPULSION_COST = 1.0e4

assert core.NUM_TEMPORAL_FEATURES == NUM_FEATURES


def temporal_features(displacement: np.ndarray, size: np.ndarray, gap: np.ndarray,
                      spread: np.ndarray) -> np.ndarray:
    """(N, 6) features of displacements (N, 2) from the predicted position, person sizes
    (N,), frame gaps (N,) and tracks' spreads (N,) (see the module docstring)."""
    d = np.ascontiguousarray(displacement, dtype=np.float64).reshape(-1, 2)
    s = np.ascontiguousarray(size, dtype=np.float64).reshape(-1)
    g = np.ascontiguousarray(gap, dtype=np.int64).reshape(-1)
    e = np.ascontiguousarray(spread, dtype=np.float64).reshape(-1)
    return core.temporal_features(d, s, g, e)


# --------------------------------------------------------------------------------------
# temporal model
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TemporalModel:
    """Logistic model of p(same person) for a temporal link, ``sigmoid(weights . f)``.

    ``use_velocity`` records whether the features were computed with motion compensation
    (the tracker uses the same setting by default); ``max_gap`` is the gap it was fitted
    for. ``num_positives`` / ``num_negatives`` describe the training pairs (0 for the
    built-in default).
    """

    weights: tuple[float, ...]
    use_velocity: bool = True
    max_gap: int = 5
    num_positives: int = 0
    num_negatives: int = 0

    def __post_init__(self) -> None:
        w = tuple(float(v) for v in np.asarray(self.weights, dtype=np.float64).reshape(-1))
        if len(w) != NUM_FEATURES:
            raise ValueError(f"TemporalModel needs {NUM_FEATURES} weights ({', '.join(FEATURE_NAMES)}), "
                             f"got {len(w)}")
        if not all(np.isfinite(w)):
            raise ValueError("TemporalModel weights must be finite")
        if int(self.max_gap) < 0:
            raise ValueError(f"max_gap must be >= 0, got {self.max_gap}")
        object.__setattr__(self, "weights", w)

    @classmethod
    def default(cls) -> "TemporalModel":
        """Built-in model ``[5, 0, 0, 0, -0.5, -0.5]``: cost ``q / 2 - 5 + log(g) / 2``, a
        Gaussian log-likelihood ratio in units of the track's spread (p = 0.5 at about 3.2
        spreads for g = 1), with a small ``log(g)`` penalty so that of two similar tracks the
        fresher one wins."""
        return cls(weights=tuple(core.default_temporal_weights().tolist()))

    @property
    def weight_array(self) -> np.ndarray:
        return np.asarray(self.weights, dtype=np.float64)

    def probability(self, features: np.ndarray) -> np.ndarray:
        z = np.asarray(features, dtype=np.float64) @ self.weight_array
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # numerically stable sigmoid

    def cost(self, features: np.ndarray) -> np.ndarray:
        p = np.clip(self.probability(features), 1e-7, 1 - 1e-7)
        return np.log((1 - p) / p)

    def save(self, path: str | os.PathLike) -> None:
        """Write an ``.npz`` (our own format, see :meth:`load`), atomically."""
        path = Path(path)
        buf = io.BytesIO()
        np.savez(buf, format=np.array(_FORMAT), version=np.array(_FORMAT_VERSION),
                 weights=self.weight_array, feature_names=np.array(FEATURE_NAMES),
                 use_velocity=np.array(bool(self.use_velocity)), max_gap=np.array(int(self.max_gap)),
                 num_positives=np.array(int(self.num_positives)),
                 num_negatives=np.array(int(self.num_negatives)))
        with atomic_path(path) as tmp:
            tmp.write_bytes(buf.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TemporalModel":
        """Read a model written by :meth:`save` (format version 1, without the feature q,
        loads with weight 0 on q); ``ValueError`` on anything else."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise ValueError(f"temporal model not found: {path}") from None
        except (OSError, ValueError, EOFError) as exc:
            raise ValueError(f"{path} is not a temporal model .npz file ({exc})") from None
        if data.get("format") is None or str(data["format"]) != _FORMAT:
            raise ValueError(f"{path} is not an arttrack temporal model (missing format tag {_FORMAT!r})")
        version = int(data.get("version", -1))
        if version not in (1, _FORMAT_VERSION):
            raise ValueError(f"{path}: unsupported temporal model version {data.get('version')} "
                             f"(this arttrack reads 1 and {_FORMAT_VERSION})")
        expected = _V1_FEATURE_NAMES if version == 1 else FEATURE_NAMES
        names = tuple(str(n) for n in data.get("feature_names", ()))
        if names != expected:
            raise ValueError(f"{path}: temporal model features {names} do not match {expected}")
        try:
            w = np.asarray(data["weights"], dtype=np.float64).reshape(-1)
            if version == 1 and len(w) == len(_V1_FEATURE_NAMES):
                w = np.append(w, 0.0)
            return cls(weights=tuple(w),
                       use_velocity=bool(data["use_velocity"]), max_gap=int(data["max_gap"]),
                       num_positives=int(data["num_positives"]), num_negatives=int(data["num_negatives"]))
        except KeyError as exc:
            raise ValueError(f"{path}: temporal model lacks {exc}") from None


# --------------------------------------------------------------------------------------
# people -> detections
# --------------------------------------------------------------------------------------
def as_people(people: np.ndarray | Sequence, num_joints: int | None = None) -> np.ndarray:
    """(P, J, 3) float64 x, y, score; missing joints NaN. Accepts (P, J, 2) (score 1)."""
    a = np.asarray(people, dtype=np.float64)
    if a.size == 0 and num_joints is not None:
        return np.zeros((0, num_joints, 3))
    if a.ndim != 3 or a.shape[2] not in (2, 3):
        raise ValueError(f"people must have shape (P, J, 3) or (P, J, 2), got {a.shape}")
    if num_joints is not None and a.shape[1] != num_joints:
        raise ValueError(f"people have {a.shape[1]} joints, the tracker expects {num_joints}")
    if a.shape[2] == 2:
        a = np.concatenate([a, np.ones(a.shape[:2] + (1,))], axis=2)
    else:
        a = a.copy()
    bad = ~np.isfinite(a[..., 0]) | ~np.isfinite(a[..., 1])
    a[bad, :2] = np.nan
    s = a[..., 2]
    s[~np.isfinite(s)] = 1.0
    a[..., 2] = np.clip(s, 0.0, 1.0)
    return a


@dataclass(frozen=True)
class PeopleDetections:
    """Detections of whole people with their binding/repulsion spatial edges."""

    joint: np.ndarray  # (N,) int64
    xy: np.ndarray  # (N, 2) float64
    score: np.ndarray  # (N,) float64 (positions' weights)
    person: np.ndarray  # (N,) int64, index of the person in the frame
    edges: np.ndarray  # (E, 2) int64
    edge_cost: np.ndarray  # (E,) float64


def people_to_detections(people: np.ndarray) -> PeopleDetections:
    """Flattens (P, J, 3) people (NaN = missing joint) into detections: a star of strongly
    attractive edges from each person's first present joint (its anchor) to its other joints,
    and a strongly repulsive edge between the anchors of every two people."""
    a = as_people(people)
    present = np.isfinite(a[..., 0])
    pi, ji = np.nonzero(present)
    n = len(pi)
    joint = ji.astype(np.int64)
    xy = a[pi, ji, :2].astype(np.float64)
    score = a[pi, ji, 2].astype(np.float64)
    person = pi.astype(np.int64)
    if n == 0:
        return PeopleDetections(joint, xy.reshape(0, 2), score, person, np.zeros((0, 2), np.int64), np.zeros(0))
    first = np.full(a.shape[0], -1, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(person)) + 1]
    first[person[starts]] = starts
    anchor = first[person]
    non_anchor = np.arange(n) != anchor
    bind = np.stack([anchor[non_anchor], np.arange(n)[non_anchor]], axis=1)
    anchors = first[first >= 0]
    ia, ib = np.triu_indices(len(anchors), k=1)
    rep = np.stack([anchors[ia], anchors[ib]], axis=1)
    edges = np.concatenate([bind, rep]).astype(np.int64).reshape(-1, 2)
    cost = np.concatenate([np.full(len(bind), PERSON_BINDING_COST), np.full(len(rep), PERSON_REPULSION_COST)])
    return PeopleDetections(joint, xy, score, person, edges, cost)


# --------------------------------------------------------------------------------------
# tracker
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FrameLinks:
    """Result of one frame: ``track_id`` per detection (or per person), -1 = no track."""

    frame: int
    track_id: np.ndarray
    continued: np.ndarray
    created: np.ndarray
    retired: np.ndarray
    objective: float


class Tracker:
    """Spatio-temporal tracker (the C++ ``arttrack::Tracker`` holds the window of tracks).

    Feed frames in increasing order with :meth:`step_detections` (raw detections plus spatial
    edges and costs, e.g. from :func:`arttrack.postprocess.pairwise_terms`) or
    :meth:`step_people` (whole people from any pose estimator). ``frame`` defaults to the
    previous frame + 1; gaps between frame numbers count as unseen frames.
    """

    def __init__(self, num_joints: int, model: TemporalModel | None = None, max_gap: int = 5,
                 use_velocity: bool | None = None, method: Literal["gaec", "gaec+klj"] = "gaec+klj",
                 max_normalized_distance: float = 3.0, fallback_cost_scale: float = 1.0,
                 fallback_spread: float = 0.3, default_person_size: float = 100.0,
                 velocity_smoothing: float = 0.3, size_smoothing: float = 0.5,
                 position_smoothing: float = 0.5, spread_smoothing: float = 0.3,
                 initial_spread: float = 0.15, min_spread: float = 0.05) -> None:
        self.model = model if model is not None else TemporalModel.default()
        self.use_velocity = self.model.use_velocity if use_velocity is None else bool(use_velocity)
        self._core = core.Tracker(
            int(num_joints), weights=self.model.weight_array, max_gap=int(max_gap),
            use_velocity=self.use_velocity, velocity_smoothing=float(velocity_smoothing),
            size_smoothing=float(size_smoothing), position_smoothing=float(position_smoothing),
            spread_smoothing=float(spread_smoothing), initial_spread=float(initial_spread),
            min_spread=float(min_spread), default_person_size=float(default_person_size),
            max_normalized_distance=float(max_normalized_distance),
            fallback_cost_scale=float(fallback_cost_scale), fallback_spread=float(fallback_spread),
            method=method)
        self.num_joints = int(num_joints)
        self.max_gap = int(max_gap)
        self.method = method

    def _next_frame(self, frame: int | None) -> int:
        if frame is not None:
            return int(frame)
        return int(self._core.last_frame) + 1

    def step_detections(self, joint: np.ndarray, xy: np.ndarray, score: np.ndarray | None = None,
                        edges: np.ndarray | None = None, edge_cost: np.ndarray | None = None,
                        frame: int | None = None) -> FrameLinks:
        """Links one frame of raw detections; ``track_id`` per detection."""
        f = self._next_frame(frame)
        j = np.ascontiguousarray(joint, dtype=np.int64).reshape(-1)
        p = np.ascontiguousarray(xy, dtype=np.float64).reshape(-1, 2)
        s = None if score is None else np.ascontiguousarray(score, dtype=np.float64).reshape(-1)
        e = None if edges is None else np.ascontiguousarray(edges, dtype=np.int64).reshape(-1, 2)
        c = None if edge_cost is None else np.ascontiguousarray(edge_cost, dtype=np.float64).reshape(-1)
        tid, cont, created, obj = self._core.step(f, j, p, s, e, c)
        return FrameLinks(f, tid, cont, created, self._core.retired, float(obj))

    def step_people(self, people: np.ndarray, frame: int | None = None) -> FrameLinks:
        """Links one frame of whole people (P, J, 3) (x, y, score; NaN = missing joint);
        ``track_id`` per person (-1 for a person without any joint)."""
        a = as_people(people, self.num_joints)
        d = people_to_detections(a)
        # Every given person is kept: score 1 for the node costs (one detection per joint and
        # person, so the scores would only pick among a single position).
        links = self.step_detections(d.joint, d.xy, np.ones(len(d.joint)), d.edges, d.edge_cost, frame)
        per_person = np.full(a.shape[0], -1, dtype=np.int64)
        if len(d.person):
            per_person[d.person] = links.track_id  # joints of one person share the id
        return FrameLinks(links.frame, per_person, links.continued, links.created, links.retired, links.objective)

    def set_joint_positions(self, track_id: int, xy: np.ndarray) -> None:
        """Overwrite a live track's remembered joint positions (J, 2) (NaN rows kept), e.g.
        warped by optical flow; use ``use_velocity=False`` when they already include motion."""
        self._core.set_joint_positions(int(track_id), np.ascontiguousarray(xy, dtype=np.float64))

    def tracks(self) -> dict[str, np.ndarray]:
        """The live window: id, first_frame, last_frame, num_frames, xy (T, J, 2),
        joint_frame (T, J), velocity (T, 2), has_velocity, size, size_measured, spread."""
        return self._core.tracks()

    @property
    def next_id(self) -> int:
        return int(self._core.next_id)


def _frame_numbers(n: int, frame_ids: Sequence[int] | None) -> list[int]:
    if frame_ids is None:
        return list(range(n))
    ids = [int(f) for f in frame_ids]
    if len(ids) != n:
        raise ValueError(f"frame_ids has {len(ids)} entries for {n} frames")
    if any(b <= a for a, b in zip(ids, ids[1:])) or (ids and ids[0] < 0):
        raise ValueError("frame_ids must be non-negative and strictly increasing")
    return ids


def track_people(frames_of_people: Sequence[np.ndarray], model: TemporalModel | None = None,
                 max_gap: int = 5, frame_ids: Sequence[int] | None = None, **tracker_kwargs) -> list[np.ndarray]:
    """Spatio-temporal tracking of per-frame people; returns per frame (P,) int64 track ids
    (-1 only for people without any joint)."""
    frames = list(frames_of_people)
    fids = _frame_numbers(len(frames), frame_ids)
    if not frames:
        return []
    j = infer_num_joints(frames)
    tracker = Tracker(j, model=model, max_gap=max_gap, **tracker_kwargs)
    return [tracker.step_people(as_people(p, j), frame=f).track_id for p, f in zip(frames, fids)]


def infer_num_joints(frames: Sequence[np.ndarray]) -> int:
    for p in frames:
        a = np.asarray(p)
        if a.ndim == 3:
            return int(a.shape[1])
    raise ValueError("cannot tell the number of joints: no frame holds a (P, J, 3) array")


# --------------------------------------------------------------------------------------
# Hungarian baseline
# --------------------------------------------------------------------------------------
def _pose_size(xy: np.ndarray) -> float:
    ok = np.isfinite(xy[:, 0])
    if ok.sum() < 2:
        return float("nan")
    p = xy[ok]
    return float(np.hypot(*(p.max(0) - p.min(0))))


class HungarianTracker:
    """Frame-by-frame tracking by bipartite matching, one frame at a time (the comparison
    method; :func:`hungarian_baseline` runs it over a whole sequence).

    Each frame's people are matched to the live tracks (seen within the last ``max_gap + 1``
    frames) by :func:`scipy.optimize.linear_sum_assignment` on the mean distance over the
    joints present in both, divided by the track's person size (bounding-box diagonal of its
    last pose); pairs with no common joint or a cost above ``gate`` are never matched.
    Unmatched people start new tracks. A track's pose is replaced by the matched person's
    (keeping joints the person lacks). ``step`` returns (P,) int64 ids (-1 for people
    without any joint)."""

    def __init__(self, num_joints: int, max_gap: int = 5, gate: float = 0.5,
                 default_person_size: float = 100.0) -> None:
        if max_gap < 0:
            raise ValueError(f"max_gap must be >= 0, got {max_gap}")
        self.nj, self.max_gap, self.gate = int(num_joints), int(max_gap), float(gate)
        self.default_size = float(default_person_size)
        self.tracks: dict[int, dict] = {}
        self.next_id = 0

    def step(self, f: int, people: np.ndarray) -> np.ndarray:
        a = as_people(people, self.nj)
        for tid in [t for t, tr in self.tracks.items() if f - tr["last"] > self.max_gap + 1]:
            del self.tracks[tid]
        live = list(self.tracks)
        P, T = a.shape[0], len(live)
        ids = np.full(P, -1, dtype=np.int64)
        has_joint = np.isfinite(a[..., 0]).any(axis=1)
        if P and T:
            cost = np.full((P, T), np.inf)
            for k, tid in enumerate(live):
                tr = self.tracks[tid]
                d = np.hypot(*(a[:, :, :2] - tr["xy"][None]).transpose(2, 0, 1))
                ok = np.isfinite(d)
                cnt = ok.sum(1)
                mean = np.where(cnt > 0, np.where(ok, d, 0).sum(1) / np.maximum(cnt, 1), np.inf)
                cost[:, k] = mean / tr["size"]
            allowed = cost <= self.gate
            rows, cols = linear_sum_assignment(np.where(allowed, cost, 1e6))
            for r, c in zip(rows, cols):
                if allowed[r, c]:
                    ids[r] = live[c]
        for p in range(P):
            if not has_joint[p]:
                continue
            if ids[p] < 0:
                ids[p] = self.next_id
                self.next_id += 1
                self.tracks[int(ids[p])] = {"xy": np.full((self.nj, 2), np.nan),
                                            "size": self.default_size, "last": f}
            tr = self.tracks[int(ids[p])]
            ok = np.isfinite(a[p, :, 0])
            tr["xy"][ok] = a[p, ok, :2]
            s = _pose_size(a[p, :, :2])
            if np.isfinite(s) and s > 0:
                tr["size"] = s
            tr["last"] = f
        return ids



def hungarian_baseline(frames_of_people: Sequence[np.ndarray], max_gap: int = 5, gate: float = 0.5,
                       frame_ids: Sequence[int] | None = None, default_person_size: float = 100.0
                       ) -> list[np.ndarray]:
    """:class:`HungarianTracker` over a whole sequence: per frame (P,) int64 ids."""
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0, got {max_gap}")
    frames = list(frames_of_people)
    fids = _frame_numbers(len(frames), frame_ids)
    if not frames:
        return []
    tracker = HungarianTracker(infer_num_joints(frames), max_gap, gate, default_person_size)
    return [tracker.step(f, people) for people, f in zip(frames, fids)]


# --------------------------------------------------------------------------------------
# fixed-lag track completion
# --------------------------------------------------------------------------------------
FILL_SCORE_DECAY = 0.8


@dataclass(frozen=True, eq=False)
class SmoothedFrame:
    """One frame released by :class:`TrackSmoother`: ``people`` (P, J, 3) float64 (x, y,
    score; NaN for missing joints), ``ids`` (P,) int64 output track ids (0, 1, 2, ... in
    order of first output), ``tracks`` (P,) int64 the ids they had in :meth:`TrackSmoother.push`,
    and the ``payload`` given there."""

    frame: int
    people: np.ndarray
    ids: np.ndarray
    tracks: np.ndarray
    payload: object = None


def tracked_frame(frame: int, prev: int | None, people: np.ndarray, ids: np.ndarray,
                  num_joints: int) -> tuple[int, np.ndarray, np.ndarray]:
    """A frame of tracked people as the fixed-lag stages take it (:class:`TrackSmoother`,
    :class:`arttrack.tracking.TrackRelinker`): ``frame`` after ``prev``, ``people``
    (P, J, 3) float64 (a copy), ``ids`` (P,) int64 with no id twice (negative: untracked).
    Raises ValueError otherwise."""
    frame = int(frame)
    if prev is not None and frame <= prev:
        raise ValueError(f"frame numbers must increase: {frame} after {prev}")
    a = np.array(people, dtype=np.float64) if np.size(people) else np.zeros((0, num_joints, 3))
    if a.ndim != 3 or a.shape[1:] != (num_joints, 3):
        raise ValueError(f"people must have shape (P, {num_joints}, 3), got {a.shape}")
    ids = np.asarray(ids, np.int64).reshape(-1)
    if len(ids) != len(a):
        raise ValueError(f"{len(a)} people but {len(ids)} ids")
    tracked = ids[ids >= 0]
    if len(np.unique(tracked)) != len(tracked):
        raise ValueError(f"frame {frame}: a track id is given to two people: {ids.tolist()}")
    return frame, a, ids


class TrackSmoother:
    """Completes tracked people with a fixed delay: what an offline pass over the tracks
    would do, one frame at a time.

    * **Gap filling**: a joint that a track shows in frames ``a`` and ``b`` but not in
      between, with ``1 <= b - a - 1 <= fill_gap``, is linearly interpolated in the frames
      in between, with score ``min(score_a, score_b) * FILL_SCORE_DECAY`` (0.8), also in
      frames where the tracker did not output the person at all (missed or occluded for a
      few frames: the person is put back).
    * **Short tracks**: a person is output in a frame only if, ``lag`` frames later, their
      track has been seen (or put back by gap filling) in at least ``min_track_frames``
      frames, or when the track began in the first frame or is still seen in the last one
      (people that the clip's ends cut short). Most short tracks are false positives or
      fragments. A track seen in fewer frames is dropped whole; one seen sparsely (every
      other frame, with gap filling off) may lose its first frames.

    Frames come out ``lag = max(fill_gap, min_track_frames - 1)`` frames late (a caller
    holding images for them holds ``lag`` of them): :meth:`push` returns the frames that
    became final, :meth:`finish` the rest. With ``fill_gap=0`` and ``min_track_frames<=1``
    frames pass through unchanged (ids are still made dense). Frame numbers must increase; gaps are measured in frame numbers.

    The defaults were chosen on demo clips of seed 8000; on the held-out ones (seed 9000)
    they gave the figures in the README (``python scripts/eval_demo_model.py``).
    """

    def __init__(self, num_joints: int, fill_gap: int = 8, min_track_frames: int = 8) -> None:
        if int(num_joints) < 1:
            raise ValueError(f"num_joints must be >= 1, got {num_joints}")
        if int(fill_gap) < 0:
            raise ValueError(f"fill_gap must be >= 0, got {fill_gap}")
        if int(min_track_frames) < 0:
            raise ValueError(f"min_track_frames must be >= 0, got {min_track_frames}")
        self.nj, self.fill_gap = int(num_joints), int(fill_gap)
        self.min_track_frames = int(min_track_frames)
        self.lag = max(self.fill_gap, self.min_track_frames - 1, 0)
        self._buf: list[list] = []  # [frame, {track: (J, 3)}, payload], oldest first
        self._seen: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # track -> (frame (J,), (J, 3))
        self._count: dict[int, int] = {}
        self._first: dict[int, int] = {}
        self._start: int | None = None
        self._prev: int | None = None
        self._remap: dict[int, int] = {}

    @property
    def num_tracks(self) -> int:
        """Tracks output so far."""
        return len(self._remap)

    def push(self, frame: int, people: np.ndarray, ids: np.ndarray,
             payload: object = None) -> list[SmoothedFrame]:
        """Adds a frame's tracked ``people`` ((P, J, 3), NaN = missing) with their track
        ``ids`` ((P,), negative = untracked, dropped); returns the frames now final."""
        frame, a, ids = tracked_frame(frame, self._prev, people, ids, self.nj)
        if self._start is None:
            self._start = frame
        self._prev = frame
        here: dict[int, np.ndarray] = {}
        for p, tid in zip(a, ids.tolist()):
            ok = np.isfinite(p[:, 0]) & np.isfinite(p[:, 1])
            if tid < 0 or not ok.any():
                continue
            p[~ok] = np.nan
            here[tid] = p
            self._observe(frame, tid, p, ok)
        self._buf.append([frame, here, payload])
        return self._release(frame - self.lag)

    def finish(self) -> list[SmoothedFrame]:
        """Releases the frames still held (call once, after the last :meth:`push`)."""
        return self._release(None)

    def _observe(self, frame: int, tid: int, p: np.ndarray, ok: np.ndarray) -> None:
        if tid not in self._seen:
            self._seen[tid] = (np.full(self.nj, np.iinfo(np.int64).min // 2, np.int64),
                               np.full((self.nj, 3), np.nan))
            self._count[tid], self._first[tid] = 0, frame
        last, val = self._seen[tid]
        gap = frame - last - 1
        for j in np.flatnonzero(ok & (gap >= 1) & (gap <= self.fill_gap)):
            f0, s = int(last[j]), float(np.fmin(val[j, 2], p[j, 2])) * FILL_SCORE_DECAY
            for f, held, _ in self._buf:
                if f0 < f < frame:
                    if tid not in held:  # the person is put back into that frame
                        held[tid] = np.full((self.nj, 3), np.nan)
                        self._count[tid] += 1
                    q = held[tid]
                    if not np.isfinite(q[j, 0]):
                        w = (f - f0) / (frame - f0)
                        q[j, :2] = (1.0 - w) * val[j, :2] + w * p[j, :2]
                        q[j, 2] = s
        last[ok] = frame
        val[ok] = p[ok]
        self._count[tid] += 1

    def _release(self, upto: int | None) -> list[SmoothedFrame]:
        out = []
        while self._buf and (upto is None or self._buf[0][0] <= upto):
            f, held, payload = self._buf.pop(0)
            keep = [t for t in held if self._count[t] >= self.min_track_frames
                    or self._first[t] == self._start
                    or (upto is None and self._seen[t][0].max() == self._prev)]
            for t in sorted(keep, key=lambda t: (self._first[t], t)):
                if t not in self._remap:
                    self._remap[t] = len(self._remap)
            keep.sort(key=lambda t: self._remap[t])
            people = (np.stack([held[t] for t in keep]) if keep else np.zeros((0, self.nj, 3)))
            out.append(SmoothedFrame(f, people, np.array([self._remap[t] for t in keep], np.int64),
                                     np.array(keep, np.int64), payload))
        return out
