"""Fixed-lag re-linking of young tracks: :class:`TrackRelinker` looks ``window`` frames ahead
at every boundary between two frames and exchanges the ids of tracks where the people's
paths join better another way.

A frame-by-frame tracker decides each frame with what it knows so far. Where people enter
together or stand close while their tracks are only a few frames old (no velocity yet, few
joints seen), that is little: it may give two people each other's id for a frame and swap
back, or keep the swap. A few frames later their paths tell them apart. At each boundary
``s`` (between the frames before and from ``s``), with the ``window`` frames after it known:

* per track and joint, a least-squares line through the joint's positions in the ``window``
  frames before ``s`` and one through those from ``s`` on (a constant where a side has
  fewer than 3 of them), each evaluated at the boundary with its variance;
* the cost of joining track ``a``'s past to track ``b``'s future is
  ``sum_j min(d_j^2 / (2 sigma^2 v_j) - link_cost, 0)`` over the joints both sides have,
  ``d_j`` the distance of the two ends at the boundary, ``v_j`` the sum of their variances
  (in units of ``sigma^2``) and ``sigma^2`` the joints' noise, pooled from the residuals of
  all lines of the boundary: each joint that joins within about ``sqrt(2 link_cost)`` standard
  deviations is evidence of one person;
* the pairing of past and future ends with the least total cost (Hungarian) replaces the
  tracker's, from ``s`` on, when it is lower by more than ``margin`` and every id it
  changes joins a *young* track (first seen at most ``young`` frames before ``s``) or
  starts a new one. A future end paired with no past keeps its id, or gets a new one if
  its id went to another track.

Older tracks are left as the tracker linked them: its temporal model knows their motion
better than lines through a few noisy frames (re-linking them too gave more switches on the
crossings benchmark at 8 and 15 px joint noise). Frames come out ``window - 1`` frames late,
in the order and with the people they came in, only their ids changed; ids are the
relinker's own (0, 1, 2, ... in order of first appearance).

On the crossings benchmark (``benchmarks/bench_crossings.py``: 300 clips of seed 7000, the
tuning seed; window 4, young 8, margin 3, link cost 5) re-linking after ``st`` took the
switches per crossing from 0.029 / 0.043 / 0.266 to 0.011 / 0.029 / 0.263 at 4 / 8 / 15 px.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arttrack._native import core

__all__ = ["RELINK_WINDOW", "RelinkedFrame", "TrackRelinker", "relink_ids"]

#: default look-ahead of :class:`TrackRelinker` (frames)
RELINK_WINDOW = 4


@dataclass(frozen=True, eq=False)
class RelinkedFrame:
    """One frame released by :class:`TrackRelinker`: the ``people`` (P, J, 3) and
    ``payload`` given to :meth:`TrackRelinker.push`, in their order, and their ``ids``
    (P,) int64 after re-linking (-1 where the id given was negative)."""

    frame: int
    people: np.ndarray
    ids: np.ndarray
    payload: object = None


class TrackRelinker:
    """Re-links young tracks with ``window`` frames of look-ahead (module docstring).

    Args:
        num_joints: J.
        window: frames on each side of a boundary; frames come out ``window - 1`` late.
            1 or less turns re-linking off (frames pass through, ids renumbered).
        young: tracks first seen at most this many frames before a boundary may be
            re-linked there.
        margin: least gain in cost for a change.
        link_cost: evidence of one joint that joins (see the module docstring).
    """

    def __init__(self, num_joints: int, window: int = RELINK_WINDOW, young: int = 8,
                 margin: float = 3.0, link_cost: float = 5.0) -> None:
        if int(num_joints) < 1:
            raise ValueError(f"num_joints must be >= 1, got {num_joints}")
        if int(window) < 0 or int(young) < 0:
            raise ValueError(f"window and young must be >= 0, got {window} and {young}")
        if not (np.isfinite(margin) and margin >= 0 and np.isfinite(link_cost) and link_cost > 0):
            raise ValueError(f"margin must be >= 0 and link_cost > 0, got {margin} and {link_cost}")
        self.nj, self.window, self.young = int(num_joints), int(window), int(young)
        self.margin, self.link_cost = float(margin), float(link_cost)
        self.lag = max(self.window - 1, 0)
        # [frame, people (P, J, 3), ids (P,) relinker ids, payload], oldest first; the first
        # `_pending` are released already, kept as the past side of the next boundaries
        self._frames: list[list] = []
        self._pending = 0
        self._id: dict[int, int] = {}  # given id -> relinker id, for the frames to come
        self._first: dict[int, int] = {}  # relinker id -> first frame
        self._next = 0
        self._prev: int | None = None
        self.changes = 0  # boundaries where ids were changed

    def push(self, frame: int, people: np.ndarray, ids: np.ndarray,
             payload: object = None) -> list[RelinkedFrame]:
        """Adds a frame's tracked ``people`` ((P, J, 3), NaN = missing) with their tracker
        ``ids`` ((P,), negative = untracked); returns the frames now final."""
        frame = int(frame)
        if self._prev is not None and frame <= self._prev:
            raise ValueError(f"frame numbers must increase: {frame} after {self._prev}")
        a = np.array(people, dtype=np.float64) if np.size(people) else np.zeros((0, self.nj, 3))
        if a.ndim != 3 or a.shape[1:] != (self.nj, 3):
            raise ValueError(f"people must have shape (P, {self.nj}, 3), got {a.shape}")
        given = np.asarray(ids, np.int64).reshape(-1)
        if len(given) != len(a):
            raise ValueError(f"{len(a)} people but {len(given)} ids")
        tracked = given[given >= 0]
        if len(np.unique(tracked)) != len(tracked):
            raise ValueError(f"frame {frame}: a track id is given to two people: {given.tolist()}")
        self._prev = frame
        own = np.full(len(given), -1, np.int64)
        for k, t in enumerate(given.tolist()):
            if t < 0:
                continue
            if t not in self._id:
                self._id[t] = self._next
                self._next += 1
            own[k] = self._id[t]
            self._first.setdefault(int(own[k]), frame)
        self._frames.append([frame, a, own, payload])
        s = len(self._frames) - max(self.window, 1)  # the boundary whose future is complete
        if s < self._pending:
            return []
        if s >= 1 and self.window > 1:
            self._relink(s, len(self._frames))
        return self._release(s + 1)

    def finish(self) -> list[RelinkedFrame]:
        """Decides the boundaries left (with fewer frames ahead) and releases every frame
        held (call once, after the last :meth:`push`)."""
        n = len(self._frames)
        if self.window > 1:
            for s in range(max(self._pending, 1), n):
                self._relink(s, n)
        return self._release(n)

    # ---------------------------------------------------------------------------------
    def _release(self, upto: int) -> list[RelinkedFrame]:
        out = [RelinkedFrame(f, p, ids.copy(), pay)
               for f, p, ids, pay in self._frames[self._pending:upto]]
        self._pending = max(self._pending, upto)
        drop = max(self._pending - max(self.window, 1), 0)  # keep `window` released frames
        if drop:
            del self._frames[:drop]
            self._pending -= drop
        return out

    def _gather(self, frames: list[list], labels: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(len(labels), len(frames), J, 2) positions of ``labels`` in ``frames`` (NaN where
        absent) and the frame numbers."""
        X = np.full((len(labels), len(frames), self.nj, 2), np.nan)
        row = {lab: i for i, lab in enumerate(labels)}
        for k, (_, people, ids, _) in enumerate(frames):
            keep = [i for i, lab in enumerate(ids.tolist()) if lab in row]
            if keep:
                X[[row[int(ids[i])] for i in keep], k] = people[keep, :, :2]
        return X, np.array([f[0] for f in frames], np.float64)

    def _relink(self, s: int, end: int) -> None:
        """Decides the boundary before ``self._frames[s]`` with the frames up to ``end``."""
        from scipy.optimize import linear_sum_assignment

        past = self._frames[max(0, s - self.window):s]
        future = self._frames[s:end]
        fs = self._frames[s][0]
        L = sorted({int(i) for f in past for i in f[2] if i >= 0})
        R = sorted({int(i) for f in future for i in f[2] if i >= 0})
        if not L or not R:
            return
        young = {i for i in set(L) | set(R) if self._first[i] >= fs - self.young}
        if not young:
            return  # nothing may change here
        at = 0.5 * (self._frames[s - 1][0] + fs)
        cost, _ = core.relink_costs(*self._gather(past, L), *self._gather(future, R), at,
                                    self.link_cost)  # (L, R)
        rows, cols = linear_sum_assignment(cost)
        best = float(cost[rows, cols].sum())
        col = {lab: j for j, lab in enumerate(R)}
        now = float(sum(cost[i, col[lab]] for i, lab in enumerate(L) if lab in col))
        if not best < now - self.margin:
            return
        new = {R[j]: L[i] for i, j in zip(rows, cols) if cost[i, j] < 0}
        taken = set(new.values())
        for lab in R:
            if lab not in new:
                new[lab] = lab if lab not in taken else -1  # -1: a new id
        changed = [lab for lab in R if new[lab] != lab]
        if not changed or not all(lab in young or new[lab] < 0 or new[lab] in young
                                  for lab in changed):
            return
        for lab in changed:
            if new[lab] < 0:
                new[lab] = self._next
                self._first[self._next] = fs
                self._next += 1
        for f in future:
            f[2] = np.array([new.get(int(i), int(i)) if i >= 0 else -1 for i in f[2]], np.int64)
        # A track whose past was given to another one while it was unseen (not in the
        # window's future) is someone else if the tracker brings it back: a new id then.
        gone = {lab: -1 for lab in set(new.values()) - set(R)}
        for t, lab in self._id.items():
            if lab in new:
                self._id[t] = new[lab]
            elif lab in gone:
                if gone[lab] < 0:
                    gone[lab] = self._next
                    self._next += 1
                self._id[t] = gone[lab]
        self.changes += 1


def relink_ids(people: list[np.ndarray], ids: list[np.ndarray], frame_ids: list[int],
               num_joints: int, window: int = RELINK_WINDOW) -> list[np.ndarray]:
    """:class:`TrackRelinker` over a whole sequence: per frame, the ids of ``people``
    (P, J, 3) after re-linking, in their order (-1 stays -1)."""
    rl = TrackRelinker(num_joints, window)
    out: list[np.ndarray] = []
    for p, i, f in zip(people, ids, frame_ids):
        out += [r.ids for r in rl.push(f, p, i)]
    out += [r.ids for r in rl.finish()]
    return out
