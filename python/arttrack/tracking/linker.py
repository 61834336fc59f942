"""Frame -> tracks, as the video pipeline links: :class:`PeopleLinker` takes a frame's
:class:`FrameDetections` (its raw detections and spatial edges, or whole people from any
estimator) to the spatio-temporal :class:`arttrack.tracking.Tracker` (or the Hungarian
baseline) and returns the frame's people with dense output ids; :class:`OpticalFlow`
moves the live tracks by dense optical flow (``--flow``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

__all__ = ["FrameDetections", "OpticalFlow", "PeopleLinker", "people_from_tracks"]


@dataclass(frozen=True, eq=False)
class FrameDetections:
    """One frame's input to the linker, in original image pixels.

    Attributes:
        joint: (N,) int64 joint type of each detection.
        xy: (N, 2) float64 positions.
        score: (N,) float64 detection probabilities (node costs ``log((1-s)/s)``).
        edges: (E, 2) int64 spatial edges between detections.
        edge_cost: (E,) float64 their join costs.
        people: (P, J, 3) float64 the frame's people from the spatial partition alone
            (x, y, score; NaN = missing), used by the Hungarian baseline.
    """

    joint: np.ndarray
    xy: np.ndarray
    score: np.ndarray
    edges: np.ndarray
    edge_cost: np.ndarray
    people: np.ndarray

    @classmethod
    def from_parse(cls, parse: Any, ratio: tuple[float, float] = (1.0, 1.0)) -> "FrameDetections":
        """From a :class:`arttrack.postprocess.pipeline.FrameParse` of a frame rescaled by
        ``ratio`` (positions are mapped back to the original frame)."""
        from arttrack.inference import to_original

        xy = np.asarray(parse.peaks.xy, np.float64).reshape(-1, 2)
        people = np.asarray(parse.people, np.float64)
        if ratio != (1.0, 1.0):
            xy = to_original(xy, ratio)
            people = to_original(people, ratio) if people.size else people
        return cls(np.asarray(parse.peaks.part, np.int64), xy,
                   np.asarray(parse.peaks.score, np.float64),
                   np.asarray(parse.terms.edges, np.int64).reshape(-1, 2),
                   np.asarray(parse.terms.costs, np.float64).reshape(-1), people)

    @classmethod
    def from_people(cls, people: np.ndarray) -> "FrameDetections":
        """From whole (P, J, 3) people of any estimator: each person's joints are bound by
        strongly attractive edges, people repel each other (as
        :meth:`arttrack.tracking.Tracker.step_people`); every joint is kept (score 1)."""
        from arttrack.tracking import as_people, people_to_detections

        a = as_people(people)
        d = people_to_detections(a)
        return cls(d.joint, d.xy, np.ones(len(d.joint)), d.edges, d.edge_cost, a)


def people_from_tracks(dets: FrameDetections, track_id: np.ndarray, num_joints: int,
                        settings: Any) -> tuple[np.ndarray, np.ndarray]:
    """One person per track id among the detections, assembled as the frame's spatial
    clusters are (:func:`arttrack.postprocess.pipeline.people_from_groups` with ``settings``'
    min_joints and merge_radius: per joint the best detection). Returns ((P, J, 3) float64,
    (P,) tracker ids), ordered by id."""
    from arttrack.postprocess import Peaks
    from arttrack.postprocess.pipeline import people_from_groups

    tid = np.asarray(track_id, np.int64).reshape(-1)
    n = len(tid)
    peaks = Peaks(np.asarray(dets.joint, np.int32), np.asarray(dets.xy, np.float32).reshape(n, 2),
                  np.asarray(dets.score, np.float32), np.zeros((n, 2), np.int32))
    people, ids = people_from_groups(peaks, tid >= 0, tid, num_joints, settings)
    return np.asarray(people, np.float64), ids


class PeopleLinker:
    """The people/detections -> tracks step of the CLI.

    Args:
        num_joints: J.
        method: ``"st"`` (spatio-temporal multicut on the raw detections and spatial
            edges) or ``"hungarian"`` (bipartite matching of the spatial people).
        model: temporal model of ``st`` (default: built in).
        max_gap: frames a person may stay unseen and keep the id.
        min_joints: people with fewer joints are not output (their tracks live on).
        use_velocity: ``st`` motion compensation by the tracks' velocities (default: the
            model's; set False when the positions are warped by optical flow).
        gate: ``hungarian`` largest mean joint distance / person size to match.
        partition_method: ``st`` solver of the spatio-temporal partition, ``"gaec+klj"``
            or ``"gaec"`` (greedy only: faster, slightly worse optima).
        merge_radius: ``st`` assembly of a track's detections in a frame (as
            :class:`arttrack.postprocess.pipeline.MultiPersonSettings`).

    :meth:`step` returns the frame's people and their output ids: dense, 0, 1, 2, ... in
    order of first output.
    """

    def __init__(self, num_joints: int, method: str = "st", model: Any = None, max_gap: int = 5,
                 min_joints: int = 1, use_velocity: Optional[bool] = None, gate: float = 0.5,
                 partition_method: str = "gaec+klj", merge_radius: float = 0.0) -> None:
        from arttrack.tracking import HungarianTracker, Tracker

        if method not in ("st", "hungarian"):
            raise ValueError(f"unknown tracker {method!r}; choose 'st' or 'hungarian'")
        if max_gap < 0:
            raise ValueError(f"max_gap must be >= 0, got {max_gap}")
        self.num_joints, self.method = int(num_joints), method
        self.min_joints = max(1, int(min_joints))
        from arttrack.postprocess.pipeline import MultiPersonSettings

        self._assembly = MultiPersonSettings(min_joints=self.min_joints, merge_radius=merge_radius)
        self.tracker = (Tracker(self.num_joints, model=model, max_gap=max_gap,
                                use_velocity=use_velocity, method=partition_method)
                        if method == "st" else None)
        self._hungarian = (HungarianTracker(self.num_joints, max_gap, gate)
                           if method == "hungarian" else None)
        self._remap: dict[int, int] = {}

    @property
    def num_tracks(self) -> int:
        """Tracks output so far."""
        return len(self._remap)

    def warp(self, displace: Callable[[np.ndarray], np.ndarray]) -> None:
        """Move the live tracks' remembered joints by ``displace`` ((N, 2) -> (N, 2)),
        e.g. optical flow from the previous frame to the next (``st`` only)."""
        if self.tracker is None:
            return
        t = self.tracker.tracks()
        for tid, xy in zip(np.asarray(t["id"]).tolist(), np.asarray(t["xy"])):
            ok = np.isfinite(xy[:, 0])
            if not ok.any():
                continue
            new = np.array(xy, np.float64, copy=True)
            new[ok] = displace(new[ok])
            new[~np.isfinite(new).all(axis=1)] = np.nan
            self.tracker.set_joint_positions(int(tid), new)

    def step(self, frame: int, dets: FrameDetections) -> tuple[np.ndarray, np.ndarray]:
        """Link one frame; returns ((P, J, 3) people, (P,) output track ids)."""
        if self.tracker is not None:
            links = self.tracker.step_detections(dets.joint, dets.xy, dets.score, dets.edges,
                                                 dets.edge_cost, frame=int(frame))
            people, raw = people_from_tracks(dets, links.track_id, self.num_joints,
                                              self._assembly)
        else:
            people = np.asarray(dets.people, np.float64).reshape(-1, self.num_joints, 3)
            n = np.isfinite(people[..., 0]).sum(axis=1)
            people = people[n >= self.min_joints]
            raw = self._hungarian.step(int(frame), people)
            people = people[raw >= 0]
            raw = raw[raw >= 0]
        ids = np.empty(len(raw), np.int64)
        for i, t in enumerate(raw.tolist()):
            if t not in self._remap:
                self._remap[t] = len(self._remap)
            ids[i] = self._remap[t]
        order = np.argsort(ids, kind="stable")
        return people[order], ids[order]


class OpticalFlow:
    """Farneback optical flow between consecutive frames on grey images downscaled by
    ``scale``; :meth:`displace` moves points of the previous frame into the current one."""

    def __init__(self, scale: float = 0.5) -> None:
        self.scale = float(scale)
        self.prev: Optional[np.ndarray] = None
        self.flow: Optional[np.ndarray] = None

    def update(self, bgr: np.ndarray) -> bool:
        import cv2

        s = self.scale
        small = bgr if s == 1.0 else cv2.resize(bgr, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        self.flow = (None if self.prev is None else
                     cv2.calcOpticalFlowFarneback(self.prev, grey, None, 0.5, 3, 15, 3, 5, 1.2, 0))
        self.prev = grey
        return self.flow is not None

    def displace(self, xy: np.ndarray) -> np.ndarray:
        f = self.flow
        if f is None:
            return xy
        h, w = f.shape[:2]
        s = self.scale
        ix = np.clip(np.round((xy[:, 0] + 0.5) * s - 0.5), 0, w - 1).astype(int)
        iy = np.clip(np.round((xy[:, 1] + 0.5) * s - 0.5), 0, h - 1).astype(int)
        return xy + f[iy, ix].astype(np.float64) / s
