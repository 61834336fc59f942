"""TrackRelinker: the C++ costs against the obvious reference, and hand-made sequences whose
right ids are known (people entering together and swapped by a tracker, a young track cut in
two, a true crossing, old tracks)."""

from __future__ import annotations

import numpy as np
import pytest

from arttrack._native import core
from arttrack.tracking import RELINK_WINDOW, TrackRelinker, relink_ids
from reference.relink import reference_frame_costs, reference_relink_costs

J = 5
# a person's joints around its centre (head, shoulders, hips)
SHAPE = np.array([[0, -40], [-12, -25], [12, -25], [-8, 10], [8, 10]], np.float64)


@pytest.mark.parametrize("seed", range(8))
def test_costs_match_the_reference(seed):
    rng = np.random.default_rng(seed)
    L, R, tp, tf = (int(v) for v in rng.integers(1, 5, 4))
    past = rng.normal(100, 10, (L, tp, J, 2))
    future = rng.normal(100, 10, (R, tf, J, 2))
    for a in (past, future):  # missing joints, whole missing frames of a track
        a[rng.random(a.shape[:3]) < 0.3] = np.nan
    past_t = np.sort(rng.choice(20, tp, replace=False)).astype(np.float64)
    future_t = 20.0 + np.sort(rng.choice(20, tf, replace=False))
    at = float(past_t[-1] + 0.5)
    got, s2 = core.relink_costs(past, past_t, future, future_t, at, 5.0)
    want, w2 = reference_relink_costs(past, past_t, future, future_t, at, 5.0)
    assert s2 == pytest.approx(w2, rel=1e-9)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    assert (got <= 0).all()


@pytest.mark.parametrize("seed", range(6))
def test_frame_costs_match_the_reference(seed):
    rng = np.random.default_rng(100 + seed)
    L, P, T = (int(v) for v in rng.integers(1, 6, 3))
    around = rng.normal(100, 10, (L, T, J, 2))
    around[rng.random(around.shape[:3]) < 0.3] = np.nan
    people = rng.normal(100, 10, (P, J, 2))
    people[rng.random(people.shape[:2]) < 0.2] = np.nan
    times = np.sort(rng.choice(30, T, replace=False)).astype(np.float64)
    at = float(rng.uniform(0, 30))
    got, s2 = core.frame_costs(around, times, people, at, 5.0)
    want, w2 = reference_frame_costs(around, times, people, at, 5.0)
    assert s2 == pytest.approx(w2, rel=1e-9)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_costs_reject_bad_input():
    ok = np.zeros((1, 2, J, 2))
    with pytest.raises(ValueError, match="past"):
        core.relink_costs(np.zeros((1, 2, J)), np.arange(2.0), ok, np.arange(2.0), 1.5, 5.0)
    with pytest.raises(ValueError, match="future_time"):
        core.relink_costs(ok, np.arange(2.0), ok, np.arange(3.0), 1.5, 5.0)
    with pytest.raises(ValueError, match="finite"):
        core.relink_costs(ok, np.arange(2.0), np.full((1, 2, J, 2), np.inf), np.arange(2.0), 1.5, 5.0)
    with pytest.raises(ValueError, match="people"):
        core.frame_costs(ok, np.arange(2.0), np.zeros((1, J + 1, 2)), 1.5, 5.0)
    with pytest.raises(ValueError, match="same number of joints"):
        core.relink_costs(ok, np.arange(2.0), np.zeros((1, 2, J + 1, 2)), np.arange(2.0), 1.5, 5.0)


def person(cx: float, cy: float, rng: np.random.Generator, noise: float = 2.0) -> np.ndarray:
    p = np.ones((J, 3))
    p[:, :2] = SHAPE + (cx, cy) + rng.normal(0, noise, (J, 2))
    return p


def run(relinker: TrackRelinker, frames):
    out = []
    for f, (people, ids) in enumerate(frames):
        out += relinker.push(f, people, ids, payload=f)
    return out + relinker.finish()


def identities(released, truth):
    """Per true person (row of the input), the set of output ids it got."""
    got: dict[int, set] = {}
    for r, rows in zip(released, truth):
        for i, who in enumerate(rows):
            got.setdefault(who, set()).add(int(r.ids[i]))
    return got


def walkers(n_frames: int, swap_at: int, first: int = 0, vx=(3.0, -3.0), x0=(100.0, 130.0),
            dy: float = 4.0, seed: int = 0):
    """Two people from frame ``first`` on, their tracker ids exchanged from ``swap_at`` on
    (rows: person 0, person 1)."""
    rng = np.random.default_rng(seed)
    frames, truth = [], []
    for f in range(n_frames):
        if f < first:
            frames.append((np.zeros((0, J, 3)), np.zeros(0, np.int64)))
            truth.append([])
            continue
        a = person(x0[0] + vx[0] * f, 100.0, rng)
        b = person(x0[1] + vx[1] * f, 100.0 + dy, rng)
        ids = [0, 1] if f < swap_at else [1, 0]
        frames.append((np.stack([a, b]), np.array(ids, np.int64)))
        truth.append([0, 1])
    return frames, truth


def test_people_entering_together_and_swapped_get_their_ids_back():
    # two young tracks walking towards each other; the tracker swaps them at frame 4 (and
    # keeps the swap): their paths say who is who
    frames, truth = walkers(14, swap_at=4)
    got = identities(run(TrackRelinker(J), frames), truth)
    assert got[0] != got[1] and len(got[0]) == 1 and len(got[1]) == 1


def test_a_true_crossing_is_left_alone():
    frames, truth = walkers(14, swap_at=99)  # ids right all along, the two pass at frame 5
    released = run(TrackRelinker(J), frames)
    assert [r.ids.tolist() for r in released if len(r.ids)] == [[0, 1]] * 14
    rl = TrackRelinker(J)
    run(rl, frames)
    assert rl.changes == 0


def test_old_tracks_are_left_as_the_tracker_linked_them():
    # the same swap 20 frames after both tracks began: older than `young`, not re-linked
    frames, truth = walkers(30, swap_at=20, x0=(40.0, 190.0))
    got = identities(run(TrackRelinker(J), frames), truth)
    assert len(got[0]) == 2 and len(got[1]) == 2
    # with `young` covering them they are, at the frame the swap starts: the boundary before
    # it already sees the swap in most of its 8 frames ahead, but frame 19 itself fits the
    # old ids (a window of 8 once put the change there, a frame early)
    rl = TrackRelinker(J, young=25)
    got = identities(run(rl, frames), truth)
    assert len(got[0]) == 1 and len(got[1]) == 1 and got[0] != got[1]
    assert (rl.changes, rl.swaps) == (1, 0)  # no frame left to swap back


def test_ids_swapped_for_one_frame_are_swapped_back():
    # two old tracks walking side by side; the tracker gives them each other's ids in frame
    # 20 alone (old tracks too: the frame check is not limited to young ones)
    rng = np.random.default_rng(5)
    frames, truth = [], []
    for f in range(30):
        a, b = person(40 + 3 * f, 100, rng), person(70 + 3 * f, 104, rng)
        frames.append((np.stack([a, b]), np.array([1, 0] if f == 20 else [0, 1])))
        truth.append([0, 1])
    rl = TrackRelinker(J)
    got = identities(run(rl, frames), truth)
    assert len(got[0]) == 1 and len(got[1]) == 1 and got[0] != got[1]
    assert rl.swaps == 1 and rl.changes == 0


def test_a_young_track_cut_in_two_is_joined():
    rng = np.random.default_rng(3)
    frames = [(person(100 + 3 * f, 100, rng)[None], np.array([0 if f < 4 else 7])) for f in range(10)]
    released = run(TrackRelinker(J), frames)
    assert {int(r.ids[0]) for r in released} == {0}


def test_no_join_across_a_longer_gap():
    # a young track unseen for 5 frames, then a new one on its path: not joined (join_gap 3;
    # on detections such a new track is as often someone, or something, else)
    rng = np.random.default_rng(6)
    frames = [(person(100 + 3 * f, 100, rng)[None], np.array([0 if f < 4 else 7]))
              if not 4 <= f < 9 else (np.zeros((0, J, 3)), np.zeros(0, np.int64)) for f in range(16)]
    released = run(TrackRelinker(J), frames)
    assert {int(i) for r in released for i in r.ids} == {0, 1}
    released = run(TrackRelinker(J, join_gap=6), frames)
    assert {int(i) for r in released for i in r.ids} == {0}


def test_a_track_joined_while_unseen_comes_back_with_its_own_id():
    # linker id 0 is seen in frames 0-3, unseen in 4-8, back in 9-13; id 1 appears in frame 4
    # on 0's path and is joined to it (decided at frame 7, while 0 is away). When 0 returns
    # beside 1, the two keep distinct ids.
    rng = np.random.default_rng(4)
    frames = []
    for f in range(14):
        people, ids = [], []
        if f < 4 or f >= 9:
            people.append(person(100 + 3 * f + (150 if f >= 9 else 0), 100, rng))
            ids.append(0)
        if f >= 4:
            people.append(person(100 + 3 * f, 100, rng))
            ids.append(1)
        frames.append((np.stack(people), np.array(ids)))
    rl = TrackRelinker(J)
    released = run(rl, frames)
    assert rl.changes >= 1
    for r in released:
        assert len(set(r.ids.tolist())) == len(r.ids), (r.frame, r.ids)
    assert released[4].ids.tolist() == [int(released[3].ids[0])]  # 1 continues 0's track


@pytest.mark.parametrize("seed", range(6))
def test_random_sequences_keep_ids_unique_and_people_in_order(seed):
    # people walking close to each other, away for a few frames now and then, their tracker
    # ids swapped and cut at random: whatever the relinker changes, a frame never holds an id
    # twice, and every frame comes out once with its people as given
    rng = np.random.default_rng(seed)
    n, frames_n = 6, 40
    pos, vel = rng.uniform(80, 160, (n, 2)), rng.normal(0, 3, (n, 2))
    tid, nxt, away = np.arange(n), n, np.zeros(n, int)
    frames = []
    for _ in range(frames_n):
        pos += vel
        away = np.maximum(away - 1, 0)
        leave = (away == 0) & (rng.random(n) < 0.15)
        away[leave] = rng.integers(2, 7, leave.sum())
        seen = away == 0
        if rng.random() < 0.2:  # the tracker swaps two
            a, b = rng.choice(n, 2, replace=False)
            tid[[a, b]] = tid[[b, a]]
        if rng.random() < 0.2:  # ... or starts a new track for someone
            tid[rng.integers(n)] = nxt
            nxt += 1
        people = (np.stack([person(*pos[i], rng, noise=3.0) for i in np.flatnonzero(seen)])
                  if seen.any() else np.zeros((0, J, 3)))
        frames.append((people, tid[seen].copy()))
    rl = TrackRelinker(J)
    released = run(rl, frames)
    assert rl.changes > 0
    assert [r.frame for r in released] == list(range(frames_n))
    for r, (people, ids) in zip(released, frames):
        assert len(set(r.ids.tolist())) == len(r.ids) == len(ids)
        np.testing.assert_array_equal(r.people, people)


def test_lag_order_payload_and_untracked_people():
    rng = np.random.default_rng(1)
    rl = TrackRelinker(J, window=4)
    assert rl.lag == 3
    out = []
    for f in range(6):
        people = np.stack([person(50 + f, 50, rng), person(200, 50, rng)])
        got = rl.push(10 + 2 * f, people, np.array([5, -1]), payload=f)  # frame numbers with gaps
        assert len(got) == (0 if f < 3 else 1)
        out += got
    out += rl.finish()
    assert [r.payload for r in out] == list(range(6))
    assert [r.frame for r in out] == [10 + 2 * f for f in range(6)]
    assert all(r.ids.tolist() == [0, -1] for r in out)  # own ids from 0; -1 stays
    assert out[2].people.shape == (2, J, 3)


def test_infinite_coordinates_count_as_missing():
    # as TrackSmoother takes them; the people come out as they went in
    rng = np.random.default_rng(7)
    frames = []
    for f in range(12):
        p = np.stack([person(100 + 3 * f, 100, rng), person(180 - 3 * f, 100, rng)])
        if f == 5:
            p[0, 0, 0] = np.inf
        frames.append((p, np.array([0, 1])))
    released = run(TrackRelinker(J), frames)
    assert [r.ids.tolist() for r in released] == [[0, 1]] * 12
    assert np.isinf(released[5].people[0, 0, 0])


def test_window_1_passes_frames_through():
    rl = TrackRelinker(J, window=1)
    rng = np.random.default_rng(2)
    r = rl.push(0, person(10, 10, rng)[None], np.array([42]))
    assert len(r) == 1 and r[0].ids.tolist() == [0]
    assert rl.finish() == []


def test_relink_ids_is_the_streaming_result():
    frames, truth = walkers(14, swap_at=4)
    people, ids = [p for p, _ in frames], [i for _, i in frames]
    streamed = [r.ids.tolist() for r in run(TrackRelinker(J), frames)]
    assert [a.tolist() for a in relink_ids(people, ids, list(range(14)), J)] == streamed
    assert RELINK_WINDOW == TrackRelinker(J).window


def test_bad_input():
    with pytest.raises(ValueError, match="num_joints"):
        TrackRelinker(0)
    with pytest.raises(ValueError, match="window"):
        TrackRelinker(J, window=-1)
    with pytest.raises(ValueError, match="link_cost"):
        TrackRelinker(J, link_cost=0.0)
    with pytest.raises(ValueError, match="join_gap"):
        TrackRelinker(J, join_gap=0)
    rl = TrackRelinker(J)
    rl.push(3, np.zeros((0, J, 3)), np.zeros(0))
    with pytest.raises(ValueError, match="increase"):
        rl.push(3, np.zeros((0, J, 3)), np.zeros(0))
    with pytest.raises(ValueError, match="shape"):
        rl.push(4, np.zeros((1, J + 1, 3)), np.zeros(1))
    with pytest.raises(ValueError, match="two people"):
        rl.push(5, np.ones((2, J, 3)), np.array([1, 1]))
    with pytest.raises(ValueError, match="ids"):
        rl.push(6, np.ones((2, J, 3)), np.array([1]))
