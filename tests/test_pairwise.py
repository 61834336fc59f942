"""Pairwise features / probabilities against the NumPy reference and a hand-computed case."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from arttrack import _core
from arttrack.joints import COCO17, MPII14, pair_channel
from arttrack.postprocess import (
    FEATURE_NAMES,
    Peaks,
    SpatialModel,
    candidate_edges,
    costs_from_probs,
    find_peaks,
    pairwise_features,
    pairwise_terms,
)
from reference.postprocess import pairwise_features_reference, pairwise_terms_reference


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def hand_case():
    """J = 3 on a 2x2 map: d0 joint 0 at cell (0,0) (4,4); d1 joint 1 at (1,1) (12,12);
    d2 joint 0 at (1,0) (7,8)."""
    peaks = Peaks(np.array([0, 1, 0], np.int32), np.array([[4, 4], [12, 12], [7, 8]], np.float32),
                  np.array([0.9, 0.8, 0.7], np.float32), np.array([[0, 0], [1, 1], [1, 0]], np.int32))
    pw = np.zeros((2, 2, 6, 2), np.float32)
    pw[0, 0, pair_channel(0, 1, 3)] = (8, 8)  # o_01 at d0: exactly the displacement
    pw[1, 1, pair_channel(1, 0, 3)] = (-8, 0)  # o_10 at d1
    model = SpatialModel([[0, 1]], np.zeros((1, 9)), np.ones((1, 9)),
                         [[-1, -0.5, 0, 0, 0, 0, 0, 0, 2]])
    return peaks, pw, model


def test_hand_computed():
    peaks, pw, model = hand_case()
    f = pairwise_features(peaks, pw, np.array([[0, 1]], np.int64))
    want = [0, 8, 0, math.pi / 4, 1, math.exp(-8), 1, math.exp(-math.pi / 4), 1]
    np.testing.assert_allclose(f[0], want, atol=1e-12)
    assert FEATURE_NAMES[3] == "angle_bwd" and len(FEATURE_NAMES) == 9
    t = pairwise_terms(peaks, pw, model)
    np.testing.assert_array_equal(t.edges, [[0, 1], [1, 2], [0, 2]])
    np.testing.assert_array_equal(t.same_joint, [False, False, True])
    np.testing.assert_array_equal(t.pair_index, [0, 0, -1])
    assert t.edges.dtype == np.int64 and t.prob.dtype == np.float64 and t.same_joint.dtype == bool
    assert t.prob[0] == pytest.approx(sigmoid(-2.0), abs=1e-12)
    assert t.prob[2] == pytest.approx(1 / (1 + math.exp(0.2 * 5 - 7.5)), abs=1e-12)
    # Zero range: (f - min) / 1.
    model2 = SpatialModel(model.pairs, np.where(np.arange(9) == 1, 3.0, 0.0)[None],
                          np.where(np.arange(9) == 1, 3.0, 1.0)[None], model.weights)
    t2 = pairwise_terms(peaks, pw, model2, same_joint=False)
    assert len(t2) == 2
    assert t2.prob[0] == pytest.approx(sigmoid(-0.5 * 5 + 2), abs=1e-12)
    np.testing.assert_allclose(t.costs, costs_from_probs(t.prob))


def random_case(seed, joint_set=COCO17, h=12, w=15):
    rng = np.random.default_rng(seed)
    nj = joint_set.num_joints
    m = rng.uniform(0, 1, (h, w, nj)).astype(np.float32)
    loc = rng.normal(0, 0.5, (h, w, nj, 2)).astype(np.float32)
    peaks = find_peaks(m, loc, nms_radius=3, min_score=0.5)
    pw = rng.normal(0, 25, (h, w, nj * (nj - 1), 2)).astype(np.float32)
    pairs = joint_set.pair_graph
    p = len(pairs)
    fmin = rng.uniform(-1, 1, (p, 9))
    fmax = fmin + rng.uniform(0.5, 40, (p, 9))
    fmax[:, 4] = fmin[:, 4]  # a zero range
    model = SpatialModel(pairs, fmin, fmax, rng.normal(0, 1, (p, 9)))
    return peaks, pw, model


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("joint_set", [COCO17, MPII14])
def test_matches_numpy_reference(seed, joint_set):
    peaks, pw, model = random_case(seed, joint_set)
    edges, pidx = candidate_edges(peaks, model.pairs, joint_set.num_joints)
    assert len(edges) > 50
    f = pairwise_features(peaks, pw, edges)
    np.testing.assert_allclose(f, pairwise_features_reference(peaks, pw, edges), rtol=1e-9, atol=1e-9)
    for same in (True, False):
        got = pairwise_terms(peaks, pw, model, same_joint=same)
        want = pairwise_terms_reference(peaks, pw, model, same_joint=same)
        np.testing.assert_array_equal(got.edges, want.edges)
        np.testing.assert_array_equal(got.same_joint, want.same_joint)
        np.testing.assert_array_equal(got.pair_index, want.pair_index)
        np.testing.assert_allclose(got.prob, want.prob, rtol=0, atol=1e-5)
        assert np.all(got.edges[:, 0] < got.edges[:, 1])
    # The model's NumPy application of the raw features agrees too.
    got = pairwise_terms(peaks, pw, model, same_joint=False)
    np.testing.assert_allclose(model.probabilities(f, pidx), got.prob, atol=1e-9)


def test_candidate_edges_order_and_degenerate_geometry():
    part = np.array([1, 0, 2, 0, 1], np.int32)
    e, pi = candidate_edges(Peaks(part, np.zeros((5, 2), np.float32), np.ones(5, np.float32),
                                  np.zeros((5, 2), np.int32)), np.array([[0, 1], [2, 0]]), 3)
    np.testing.assert_array_equal(e, [[1, 0], [1, 4], [3, 0], [3, 4], [2, 1], [2, 3]])
    np.testing.assert_array_equal(pi, [0, 0, 0, 0, 1, 1])
    # Two joints at the same position with zero offsets: all angles are 0.
    peaks = Peaks(np.array([0, 1], np.int32), np.array([[4, 4], [4, 4]], np.float32),
                  np.ones(2, np.float32), np.zeros((2, 2), np.int32))
    pw = np.zeros((1, 1, 2, 2), np.float32)
    f = pairwise_features(peaks, pw, np.array([[0, 1], [1, 0]]))
    np.testing.assert_allclose(f, [[0, 0, 0, 0, 1, 1, 1, 1, 1]] * 2)
    np.testing.assert_allclose(f, pairwise_features_reference(peaks, pw, np.array([[0, 1], [1, 0]])))
    pw[0, 0, 0] = (-3, 0)  # o_01 opposite to... delta 0: angle still 0
    pw[0, 0, 1] = (2, 0)
    f = pairwise_features(peaks, pw, np.array([[0, 1]]))
    np.testing.assert_allclose(f[0, :4], [3, 2, 0, 0])


def test_empty_inputs():
    peaks, pw, model = hand_case()
    t = pairwise_terms(Peaks.empty(), pw, model)
    assert t.edges.shape == (0, 2) and t.prob.shape == (0,)
    empty_model = SpatialModel(np.zeros((0, 2), np.int64), np.zeros((0, 9)), np.zeros((0, 9)), np.zeros((0, 9)))
    t = pairwise_terms(peaks, pw, empty_model)
    np.testing.assert_array_equal(t.edges, [[0, 2]])
    assert pairwise_features(peaks, pw, np.zeros((0, 2), np.int64)).shape == (0, 9)


def test_spatial_model_save_load(tmp_path):
    _, _, model = random_case(0)
    path = tmp_path / "spatial.npz"
    model.save(path)
    back = SpatialModel.load(path)
    for name in ("pairs", "feat_min", "feat_max", "weights"):
        np.testing.assert_array_equal(getattr(back, name), getattr(model, name))
    np.savez(tmp_path / "other.npz", pairs=model.pairs)
    with pytest.raises(ValueError, match="not an arttrack spatial model"):
        SpatialModel.load(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="feat_min"):
        SpatialModel([[0, 1]], np.zeros((1, 8)), np.ones((1, 9)), np.ones((1, 9)))
    with pytest.raises(ValueError, match="weights"):
        SpatialModel([[0, 1]], np.zeros((1, 9)), np.ones((1, 9)), np.full((1, 9), np.nan))
    with pytest.raises(ValueError, match="pairs"):
        SpatialModel([[0, 1], [1, 0]], np.zeros((2, 9)), np.ones((2, 9)), np.ones((2, 9)))
    with pytest.raises(ValueError, match="pairs"):
        SpatialModel([[2, 2]], np.zeros((1, 9)), np.ones((1, 9)), np.ones((1, 9)))


def test_costs_from_probs():
    c = costs_from_probs(np.array([0.0, 0.5, 1.0, 0.9]))
    big = math.log((1 - 1e-7) / 1e-7)
    np.testing.assert_allclose(c, [big, 0.0, -big, math.log(0.1 / 0.9)])
    assert costs_from_probs(0.5) == 0.0
    with pytest.raises(ValueError, match="NaN"):
        costs_from_probs([np.nan])


def test_errors_name_the_argument():
    peaks, pw, model = hand_case()
    with pytest.raises(ValueError, match="pairwise"):
        pairwise_terms(peaks, pw.astype(np.float64), model)
    with pytest.raises(ValueError, match="pairwise"):
        pairwise_terms(peaks, np.zeros((2, 2, 7, 2), np.float32), model)
    with pytest.raises(ValueError, match="peaks.part"):
        pairwise_terms(Peaks(peaks.part.astype(np.int64), peaks.xy, peaks.score, peaks.cell), pw, model)
    with pytest.raises(ValueError, match="peaks.part"):
        pairwise_terms(Peaks(np.array([0, 5, 0], np.int32), peaks.xy, peaks.score, peaks.cell), pw, model)
    with pytest.raises(ValueError, match="peaks.cell"):
        pairwise_terms(Peaks(peaks.part, peaks.xy, peaks.score, peaks.cell + 1), pw, model)
    with pytest.raises(ValueError, match="peaks.xy"):
        pairwise_terms(Peaks(peaks.part, peaks.xy * np.nan, peaks.score, peaks.cell), pw, model)
    bad = pw.copy()
    bad[0, 0, 0, 1] = np.nan
    with pytest.raises(ValueError, match="pairwise contains NaN"):
        pairwise_terms(peaks, bad, model)
    with pytest.raises(ValueError, match="model.pairs"):
        pairwise_terms(peaks, pw, SpatialModel([[0, 3]], model.feat_min, model.feat_max, model.weights))
    with pytest.raises(ValueError, match="edges"):
        pairwise_features(peaks, pw, np.array([[0, 2]]))  # same joint
    with pytest.raises(ValueError, match="edges"):
        pairwise_features(peaks, pw, np.array([[0, 7]]))
    with pytest.raises(ValueError, match="edges"):
        pairwise_features(peaks, pw, np.array([[0, 1]], np.int32))
    with pytest.raises(ValueError, match="pairs"):
        candidate_edges(peaks, np.array([[0, 0]]), 3)
    with pytest.raises(ValueError, match="model.weights"):
        _core.pairwise_terms(peaks.part, peaks.xy, peaks.cell, pw, model.pairs, model.feat_min,
                             model.feat_max, np.full((1, 9), np.inf), True, 0.2, 7.5)


_arr = hnp.arrays(st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.bool_]),
                  hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(part=_arr, xy=_arr, cell=_arr, pw=_arr, pairs=_arr, fmin=_arr, edges=_arr, which=st.integers(0, 7),
       same=st.booleans(), slope=st.floats(allow_nan=True, allow_infinity=True))
def test_fuzz_bindings(part, xy, cell, pw, pairs, fmin, edges, which, same, slope):
    # Mix fuzzed arrays with valid ones so that later checks get reached.
    peaks, vpw, model = hand_case()
    args = [peaks.part, peaks.xy, peaks.cell, vpw, model.pairs, model.feat_min, model.feat_max,
            model.weights]
    fuzzed = [part, xy, cell, pw, pairs, fmin, fmin, fmin]
    args[which] = fuzzed[which]
    if which == 0 and part.dtype == np.int32 and part.ndim == 1:
        args[1] = np.zeros((part.shape[0], 2), np.float32)
        args[2] = np.zeros((part.shape[0], 2), np.int32)
    try:
        out = _core.pairwise_terms(*args, same, slope, 7.5)
        assert len(out) == 4
    except ValueError:
        pass
    try:
        f = _core.pairwise_features(*args[:4], edges)
        assert f.shape[1] == 9 and np.all(np.isfinite(f))
    except ValueError:
        pass
    try:
        _core.candidate_edges(args[0], args[4], int(which) - 2)
    except ValueError:
        pass


@pytest.mark.parametrize("joint_set", [COCO17, MPII14])
def test_pairs_within_hops(joint_set):
    """hops=1 is the skeleton, 2 the default pair graph, enough hops every pair."""
    nj = joint_set.num_joints
    skel = sorted((min(a, b), max(a, b)) for a, b in joint_set.skeleton)
    np.testing.assert_array_equal(joint_set.pairs_within(1), skel)
    np.testing.assert_array_equal(joint_set.pairs_within(2), joint_set.pair_graph)
    assert set(map(tuple, joint_set.pairs_within(1))) < set(map(tuple, joint_set.pairs_within(3)))
    np.testing.assert_array_equal(joint_set.pairs_within(nj),
                                  [(a, b) for a in range(nj) for b in range(a + 1, nj)])
    with pytest.raises(ValueError, match="hops"):
        joint_set.pairs_within(0)
