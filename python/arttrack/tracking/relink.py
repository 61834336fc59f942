"""Fixed-lag re-linking: :class:`TrackRelinker` looks ``window`` frames ahead and gives
people back the ids a frame-by-frame tracker exchanged, where their paths show it.

A frame-by-frame tracker decides each frame with what it knows so far. Where people enter
together or stand close while their tracks are only a few frames old (no velocity yet, few
joints seen), that is little: it may give two people each other's id and keep the swap, or
swap them for one frame and back. A few frames later their paths tell them apart. With the
``window`` frames after frame ``s`` known, two checks run, the second on the ids the first
leaves:

* **Boundary** (between the frames before ``s`` and from ``s`` on): per track and joint, a
  least-squares line through the joint's positions in the ``window`` frames before and one
  through those from ``s`` on (a constant where a side has fewer than 3 of them), each
  evaluated at the boundary with its variance. Joining track ``a``'s past to track ``b``'s
  future costs ``sum_j min(d_j^2 / (2 sigma^2 v_j) - link_cost, 0)`` over the joints both
  have, ``d_j`` the distance of the two ends, ``v_j`` the sum of their variances (in units
  of ``sigma^2``) and ``sigma^2`` the joints' noise, pooled from the residuals of all the
  lines: each joint that joins within about ``sqrt(2 link_cost)`` standard deviations is
  evidence of one person. The pairing with the least total cost (Hungarian) replaces the
  tracker's from ``s`` on when it is lower by more than ``margin`` and every id it changes
  joins a *young* track (first seen at most ``young`` frames before ``s``) or starts a new
  one, and the people of frame ``s`` fit the past lines of their new ids better than those
  of their old ones (else the exchange starts a frame or two later, and is made at its own
  boundary). A future end paired with no past keeps its id, or gets a new one if its id
  went to another track. A track takes over the id of one that ended only at the frame it
  begins and at most ``join_gap`` (3) frames after the other was last seen: a track cut in
  two. (Joining across longer gaps, up to the window, took the demo clip's MOTA from 51.8
  to 50.0: false detections near where a person was last seen kept the person's id.) Older tracks keep the tracker's links here: its temporal model knows
  their motion better than lines through a few noisy frames (re-linking them too gave
  more switches on the crossings benchmark at 8 and 15 px of joint noise).
* **Frame** ``s`` alone: per track seen both before and after it, one line through the
  joint's positions in those frames (frame ``s`` left out), evaluated at ``s``; giving a
  person of frame ``s`` that track's id costs ``sum_j min(d_j^2 / (2 sigma^2 (v_j + 1)) -
  link_cost, 0)``. Where exchanging ids among these people (any tracks, young or old) lowers
  the total by more than ``margin``, they are exchanged in this frame.

Frames come out ``window - 1`` frames late, in the order and with the people they came in,
only their ids changed; ids are the relinker's own: numbered in order of first appearance,
with gaps and out of order once tracks were re-linked (:class:`TrackSmoother` and
``track_canonical`` number them densely). The line fits and cost matrices are C++ (``core.relink_costs``,
``core.frame_costs``; ``cpp/include/arttrack/relink.hpp``).

Settings were chosen on the tuning seeds: the crossings benchmark
(``benchmarks/bench_crossings.py``, 300 clips of seed 7000: re-linking after ``st`` took the
switches per crossing at 4 / 8 / 15 px from 0.029 / 0.043 / 0.266 to 0.008 / 0.021 /
0.195; window 4 gave 0.009 / 0.022 / 0.222) and the demo model's selection clips
(``scripts/eval_demo_model.py --seed 8000``: st's ID switches 262 -> 242, AP 69.6 -> 70.4,
MOTA 59.5 -> 60.0; window 4 gave 277, worse than none). After the Hungarian baseline it
helps on the benchmark's clean people but added switches on the demo model's detections
(512 -> 531), so the video pipeline runs it after ``st`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arttrack._native import core
from arttrack.tracking.tracker import tracked_frame

__all__ = ["RELINK_WINDOW", "RelinkedFrame", "TrackRelinker", "relink_ids"]

#: default look-ahead of :class:`TrackRelinker` (frames)
RELINK_WINDOW = 8


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
    """Re-links tracks with ``window`` frames of look-ahead (module docstring): young ones at
    frame boundaries, any at a single frame.

    Args:
        num_joints: J.
        window: frames on each side of a boundary; frames come out ``window - 1`` late.
            1 or less turns re-linking off (frames pass through, ids renumbered).
        young: tracks first seen at most this many frames before a boundary may be
            re-linked there.
        margin: least gain in cost for a change.
        link_cost: evidence of one joint that joins (see the module docstring).
        join_gap: a track may take the id of one that ended at most this many frames before
            it began (a track cut in two), at the frame it begins; not across longer gaps.
    """

    def __init__(self, num_joints: int, window: int = RELINK_WINDOW, young: int = 8,
                 margin: float = 3.0, link_cost: float = 5.0, join_gap: int = 3) -> None:
        if int(num_joints) < 1:
            raise ValueError(f"num_joints must be >= 1, got {num_joints}")
        if int(window) < 0 or int(young) < 0 or int(join_gap) < 1:
            raise ValueError(f"window and young must be >= 0 and join_gap >= 1, got {window}, "
                             f"{young} and {join_gap}")
        if not (np.isfinite(margin) and margin >= 0 and np.isfinite(link_cost) and link_cost > 0):
            raise ValueError(f"margin must be >= 0 and link_cost > 0, got {margin} and {link_cost}")
        self.nj, self.window, self.young = int(num_joints), int(window), int(young)
        self.margin, self.link_cost = float(margin), float(link_cost)
        self.join_gap = int(join_gap)
        self.lag = max(self.window - 1, 0)
        # [frame, people (P, J, 3), ids (P,) relinker ids, payload, set of those ids,
        # positions (P, J, 2) with NaN for missing joints], oldest first; the first `_pending`
        # are released already, kept as the past side of the next boundaries
        self._frames: list[list] = []
        self._pending = 0
        self._id: dict[int, int] = {}  # given id -> relinker id, for the frames to come
        self._first: dict[int, int] = {}  # relinker id -> first frame
        self._next = 0
        self._prev: int | None = None
        self.changes = 0  # boundaries where ids were changed
        self.swaps = 0  # frames where ids were exchanged back

    def push(self, frame: int, people: np.ndarray, ids: np.ndarray,
             payload: object = None) -> list[RelinkedFrame]:
        """Adds a frame's tracked ``people`` ((P, J, 3), NaN = missing) with their tracker
        ``ids`` ((P,), negative = untracked); returns the frames now final."""
        frame, a, given = tracked_frame(frame, self._prev, people, ids, self.nj)
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
        self._frames.append([frame, a, own, payload, set(own[own >= 0].tolist()), _positions(a)])
        s = len(self._frames) - max(self.window, 1)  # the boundary whose future is complete
        if s < self._pending:
            return []
        if s >= 1 and self.window > 1:
            self._decide(s, len(self._frames))
        return self._release(s + 1)

    def finish(self) -> list[RelinkedFrame]:
        """Decides the boundaries left (with fewer frames ahead) and releases every frame
        held (call once, after the last :meth:`push`)."""
        n = len(self._frames)
        if self.window > 1:
            for s in range(max(self._pending, 1), n):
                self._decide(s, n)
        return self._release(n)

    # ---------------------------------------------------------------------------------
    def _release(self, upto: int) -> list[RelinkedFrame]:
        out = [RelinkedFrame(f, p, ids.copy(), pay)
               for f, p, ids, pay, _, _ in self._frames[self._pending:upto]]
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
        row = np.full(self._next + 1, -1, np.int64)  # id -> row; the last entry for -1
        row[labels] = np.arange(len(labels))
        ids = np.concatenate([f[2] for f in frames])
        k = np.repeat(np.arange(len(frames)), [len(f[2]) for f in frames])
        r = row[ids]
        keep = r >= 0
        if keep.any():
            X[r[keep], k[keep]] = np.concatenate([f[5] for f in frames])[keep]
        return X, np.array([f[0] for f in frames], np.float64)

    def _decide(self, s: int, end: int) -> None:
        """The boundary before ``self._frames[s]``, then frame ``s`` itself, with the frames
        up to ``end``: positions gathered once (again after a change)."""
        lo = max(0, s - self.window)
        labels = sorted(_ids_in(self._frames[lo:end]))
        if not labels:
            return
        X, t = self._gather(self._frames[lo:end], labels)
        if self._relink(s, end, lo, labels, X, t):
            labels = sorted(_ids_in(self._frames[lo:end]))
            X, t = self._gather(self._frames[lo:end], labels)
        self._swap_back(s, end, lo, labels, X, t)

    def _relink(self, s: int, end: int, lo: int, labels: list[int], X: np.ndarray,
                t: np.ndarray) -> bool:
        """Decides the boundary before ``self._frames[s]``; ``X``, ``t``: the positions of
        ``labels`` in frames ``lo`` to ``end`` (:meth:`_gather`). True if ids changed."""
        from scipy.optimize import linear_sum_assignment

        future = self._frames[s:end]
        fs = self._frames[s][0]
        L = sorted(_ids_in(self._frames[lo:s]))
        R = sorted(_ids_in(future))
        if not L or not R:
            return False
        young = {i for i in set(L) | set(R) if self._first[i] >= fs - self.young}
        if not young:
            return False  # nothing may change here
        row = {lab: k for k, lab in enumerate(labels)}
        at = 0.5 * (self._frames[s - 1][0] + fs)
        k = s - lo
        past = X[[row[i] for i in L], :k]
        cost, _ = core.relink_costs(past, t[:k], X[[row[i] for i in R], k:], t[k:], at,
                                    self.link_cost)  # (L, R)
        rows, cols = linear_sum_assignment(cost)
        best = float(cost[rows, cols].sum())
        col = {lab: j for j, lab in enumerate(R)}
        now = float(sum(cost[i, col[lab]] for i, lab in enumerate(L) if lab in col))
        if not best < now - self.margin:
            return False
        new = {R[j]: L[i] for i, j in zip(rows, cols) if cost[i, j] < 0}
        taken = set(new.values())
        for lab in R:
            if lab not in new:
                new[lab] = lab if lab not in taken else -1  # -1: a new id
        changed = [lab for lab in R if new[lab] != lab]
        if not changed or not all(lab in young or new[lab] < 0 or new[lab] in young
                                  for lab in changed):
            return False
        for lab in changed:  # a join (`lab` continues a track that ended) only where `lab`
            if new[lab] >= 0 and new[lab] not in R:  # begins, at most join_gap frames later
                last = max(f[0] for f in self._frames[lo:s] if new[lab] in f[4])
                if self._first[lab] != fs or fs - last > self.join_gap:
                    return False
        if not self._starts_here(s, L, past, t[:k], new):
            return False  # the exchange starts in a later frame: decided at its boundary
        for lab in changed:
            if new[lab] < 0:
                new[lab] = self._next
                self._first[self._next] = fs
                self._next += 1
        for f in future:
            f[2] = np.array([new.get(int(i), int(i)) if i >= 0 else -1 for i in f[2]], np.int64)
            f[4] = set(f[2][f[2] >= 0].tolist())
        # A track whose past was given to another one while it was unseen (not in the
        # window's future) is someone else if the tracker brings it back: a new id then.
        gone = {lab: -1 for lab in set(new.values()) - set(R)}
        for tid, lab in self._id.items():
            if lab in new:
                self._id[tid] = new[lab]
            elif lab in gone:
                if gone[lab] < 0:
                    gone[lab] = self._next
                    self._next += 1
                self._id[tid] = gone[lab]
        self.changes += 1
        return True

    def _starts_here(self, s: int, L: list[int], past: np.ndarray, t: np.ndarray,
                     new: dict[int, int]) -> bool:
        """Do the people of frame ``s`` whose ids ``new`` changes fit the past lines of their
        new ids better than those of their old ones? (A change found at boundary ``s`` may
        start a frame or two later: most of the frames after ``s`` already show it.)"""
        fs, _, ids, _, _, xy = self._frames[s]
        who = [p for p, lab in enumerate(ids.tolist()) if lab >= 0 and new.get(lab, lab) != lab]
        if not who:
            return True  # frame s has none of them: nothing to compare
        cost, _ = core.frame_costs(past, t, xy[who], float(fs), self.link_cost)
        col = {lab: c for c, lab in enumerate(L)}

        def total(label_of) -> float:
            return float(sum(cost[i, col[label_of(int(ids[p]))]] for i, p in enumerate(who)
                             if label_of(int(ids[p])) in col))

        return total(lambda lab: new[lab]) < total(lambda lab: lab)

    def _swap_back(self, s: int, end: int, lo: int, labels: list[int], X: np.ndarray,
                   t: np.ndarray) -> None:
        """Gives the people of frame ``s`` each other's ids back where the tracker exchanged
        them for this frame alone: the ids of the frames around it (before, and after up to
        ``end``) fit them clearly better the other way."""
        from scipy.optimize import linear_sum_assignment

        fs, _, ids, _, _, xy = self._frames[s]
        around = sorted(_ids_in(self._frames[lo:s]) & _ids_in(self._frames[s + 1:end]))
        col = {lab: k for k, lab in enumerate(around)}
        movable = [p for p, lab in enumerate(ids.tolist()) if lab in col]
        if len(movable) < 2:
            return
        row = {lab: k for k, lab in enumerate(labels)}
        keep = [c for c in range(len(t)) if c != s - lo]  # the frame itself left out
        cost, _ = core.frame_costs(X[[row[i] for i in around]][:, keep], t[keep],
                                   xy[movable], float(fs), self.link_cost)
        now = float(sum(cost[k, col[int(ids[p])]] for k, p in enumerate(movable)))
        rows, cols = linear_sum_assignment(cost)
        if not float(cost[rows, cols].sum()) < now - self.margin:
            return
        to = {movable[k]: around[c] for k, c in zip(rows, cols) if cost[k, c] < 0}
        # only an exchange among these people's own ids: anything else is not a swap back
        if (len(to) != len(movable)
                or sorted(to.values()) != sorted(int(ids[p]) for p in movable)):
            return
        new = ids.copy()
        for p, lab in to.items():
            new[p] = lab
        if (new != ids).any():
            self._frames[s][2] = new
            self.swaps += 1


def _ids_in(frames: list[list]) -> set[int]:
    """The relinker ids present in held ``frames``."""
    return set().union(*(f[4] for f in frames))


def _positions(people: np.ndarray) -> np.ndarray:
    """(P, J, 2) positions of people (P, J, 3); a joint with a non-finite coordinate is
    missing (NaN), as :class:`TrackSmoother` takes it."""
    xy = people[..., :2].copy()
    xy[~np.isfinite(xy).all(axis=-1)] = np.nan
    return xy


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
