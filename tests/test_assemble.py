"""assemble against a hand case and a NumPy check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from arttrack import _core
from arttrack.postprocess import Peaks, assemble


def numpy_assemble(peaks, active, cluster, nj, min_joints, merge_radius=0.0):
    people, ids = [], []
    for c in np.unique(cluster[active]):
        sel = active & (cluster == c)
        person = np.zeros((nj, 3), np.float64)
        person[:, :2] = np.nan
        for j in range(nj):
            idx = np.flatnonzero(sel & (peaks.part == j))
            if not len(idx):
                continue
            best = idx[np.argmax(peaks.score[idx])]  # argmax: the first of equal maxima
            xy = peaks.xy[idx].astype(np.float64)
            near = np.linalg.norm(xy - peaks.xy[best], axis=1) <= merge_radius
            near |= idx == best
            w = peaks.score[idx][near].astype(np.float64)
            person[j, :2] = (w[:, None] * xy[near]).sum(0) / w.sum() if w.sum() > 0 else xy[near].mean(0)
            person[j, 2] = peaks.score[best]
        if (~np.isnan(person[:, 0])).sum() >= min_joints:
            people.append(person)
            ids.append(c)
    return np.array(people, np.float32).reshape(-1, nj, 3), np.array(ids, np.int64)


def test_hand_case():
    # Cluster 7: joint 0 twice (scores 1 and 3), joint 1 once. Cluster 2: joints 0, 1, 2 (the
    # second joint-2 detection is inactive). Cluster 9: one joint only.
    peaks = Peaks(np.array([0, 0, 1, 0, 1, 2, 2, 1], np.int32),
                  np.array([[0, 0], [4, 8], [5, 5], [1, 1], [2, 2], [3, 3], [9, 9], [6, 6]], np.float32),
                  np.array([1, 3, 0.5, 0.4, 0.6, 0.7, 0.9, 0.8], np.float32),
                  np.zeros((8, 2), np.int32))
    active = np.array([1, 1, 1, 1, 1, 1, 0, 1], bool)
    cluster = np.array([7, 7, 7, 2, 2, 2, 2, 9], np.int64)
    people, ids = assemble(peaks, active, cluster, 3, min_joints=2, return_ids=True)
    np.testing.assert_array_equal(ids, [2, 7])
    assert people.shape == (2, 3, 3) and people.dtype == np.float32
    np.testing.assert_allclose(people[0], [[1, 1, 0.4], [2, 2, 0.6], [3, 3, 0.7]], rtol=1e-6)
    # joint 0 of cluster 7: detections (0, 0) score 1 and (4, 8) score 3, 8.94 px apart
    np.testing.assert_allclose(people[1, :2], [[4, 8, 3], [5, 5, 0.5]], rtol=1e-6)  # the best
    for radius, want in ((8.9, [4, 8, 3]), (9.0, [3, 6, 3]), (math.inf, [3, 6, 3])):  # mean
        got = assemble(peaks, active, cluster, 3, min_joints=2, merge_radius=radius)
        np.testing.assert_allclose(got[1, 0], want, rtol=1e-6)
        np.testing.assert_allclose(got[0], people[0], rtol=1e-6)
    assert np.isnan(people[1, 2, :2]).all() and people[1, 2, 2] == 0
    assert assemble(peaks, active, cluster, 3, min_joints=0).shape == (3, 3, 3)
    assert assemble(peaks, active, cluster, 3).shape == (1, 3, 3)  # default min_joints=3
    assert assemble(peaks, np.zeros(8, bool), cluster, 3).shape == (0, 3, 3)


@pytest.mark.parametrize("merge_radius", [0.0, 30.0, math.inf])
@pytest.mark.parametrize("seed", range(5))
def test_matches_numpy(seed, merge_radius):
    rng = np.random.default_rng(seed)
    n, nj = 60, 5
    # odd seeds: scores 0, 0.5, 1 only, so ties decide (the first detection wins)
    score = rng.integers(0, 3, n) / 2 if seed % 2 else rng.uniform(0, 1, n)
    peaks = Peaks(rng.integers(0, nj, n).astype(np.int32), rng.uniform(0, 100, (n, 2)).astype(np.float32),
                  score.astype(np.float32), np.zeros((n, 2), np.int32))
    active = rng.uniform(size=n) < 0.8
    cluster = rng.integers(-3, 8, n).astype(np.int64)
    got, ids = assemble(peaks, active, cluster, nj, min_joints=2, return_ids=True,
                        merge_radius=merge_radius)
    want, want_ids = numpy_assemble(peaks, active, cluster, nj, 2, merge_radius)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(got, want, rtol=1e-5, equal_nan=True)


def test_errors_name_the_argument():
    peaks = Peaks(np.array([0, 1], np.int32), np.zeros((2, 2), np.float32), np.ones(2, np.float32),
                  np.zeros((2, 2), np.int32))
    with pytest.raises(ValueError, match="active"):
        assemble(peaks, np.ones(2, np.int64), np.zeros(2, np.int64), 2)
    with pytest.raises(ValueError, match="active"):
        assemble(peaks, np.ones(3, bool), np.zeros(2, np.int64), 2)
    with pytest.raises(ValueError, match="cluster"):
        assemble(peaks, np.ones(2, bool), np.zeros(2, np.float64), 2)
    for bad in (-1.0, math.nan):
        with pytest.raises(ValueError, match="merge_radius"):
            assemble(peaks, np.ones(2, bool), np.zeros(2, np.int64), 2, merge_radius=bad)
    # partition() returns int32 clusters: accepted, same result as int64
    np.testing.assert_array_equal(assemble(peaks, np.ones(2, bool), np.zeros(2, np.int32), 2, min_joints=1),
                                  assemble(peaks, np.ones(2, bool), np.zeros(2, np.int64), 2, min_joints=1))
    with pytest.raises(ValueError, match="peaks.part"):
        assemble(peaks, np.ones(2, bool), np.zeros(2, np.int64), 1)
    with pytest.raises(ValueError, match="min_joints"):
        assemble(peaks, np.ones(2, bool), np.zeros(2, np.int64), 2, min_joints=-1)
    with pytest.raises(ValueError, match="num_joints"):
        assemble(peaks, np.ones(2, bool), np.zeros(2, np.int64), 0)
    with pytest.raises(ValueError, match="peaks.score"):
        assemble(Peaks(peaks.part, peaks.xy, np.array([1, np.nan], np.float32), peaks.cell),
                 np.ones(2, bool), np.zeros(2, np.int64), 2)


_arr = hnp.arrays(st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.bool_]),
                  hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays=st.lists(_arr, min_size=5, max_size=5), which=st.integers(0, 4),
       nj=st.integers(-2, 6), min_joints=st.integers(-1, 4))
def test_fuzz_binding(arrays, which, nj, min_joints):
    valid = [np.array([0, 1, 1], np.int32), np.zeros((3, 2), np.float32), np.ones(3, np.float32),
             np.ones(3, bool), np.array([1, 1, 2], np.int64)]
    valid[which] = arrays[which]
    try:
        people, ids = _core.assemble(*valid, nj, min_joints)
    except ValueError:
        return
    assert people.shape == (len(ids), nj, 3)
