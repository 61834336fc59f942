"""find_peaks / argmax_pose against straightforward NumPy definitions, plus input checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from arttrack.postprocess import Peaks, argmax_pose, find_peaks
from reference.postprocess import blob_maps, find_peaks_reference


def assert_same(got: Peaks, want: Peaks) -> None:
    assert got.part.dtype == np.int32 and got.cell.dtype == np.int32
    assert got.xy.dtype == np.float32 and got.score.dtype == np.float32
    assert got.xy.shape == (len(got), 2) and got.cell.shape == (len(got), 2)
    np.testing.assert_array_equal(got.part, want.part)
    np.testing.assert_array_equal(got.cell, want.cell)
    np.testing.assert_array_equal(got.score, want.score)
    np.testing.assert_allclose(got.xy, want.xy, rtol=0, atol=1e-4)


def naive_peaks(scoremap, locref=None, stride=8.0, nms_radius=5, min_score=0.2, locref_stdev=7.2801):
    """Written independently of reference.py: a boolean suppression mask per channel."""
    h, w, nj = scoremap.shape
    rows, cols = np.mgrid[0:h, 0:w]
    out = []
    for j in range(nj):
        s = scoremap[:, :, j].ravel()
        alive = np.ones(h * w, dtype=bool)
        for idx in sorted(range(h * w), key=lambda i: (-float(s[i]), i)):
            if float(s[idx]) < min_score:
                break
            if not alive[idx]:
                continue
            r, c = divmod(idx, w)
            alive &= ((rows - r) ** 2 + (cols - c) ** 2).ravel() > nms_radius ** 2
            dx, dy = (locref[r, c, j] * locref_stdev) if locref is not None else (0.0, 0.0)
            out.append((j, c * stride + stride / 2 + dx, r * stride + stride / 2 + dy, s[idx], r, c))
    if not out:
        return Peaks.empty()
    j, x, y, sc, r, c = map(np.array, zip(*out))
    return Peaks(j.astype(np.int32), np.stack([x, y], 1).astype(np.float32), sc.astype(np.float32),
                 np.stack([r, c], 1).astype(np.int32))


def naive_argmax(scoremap, locref=None, stride=8.0, locref_stdev=7.2801):
    """Per joint: the first maximum in row-major order, at its cell centre + locref."""
    h, w, nj = scoremap.shape
    out = np.zeros((nj, 3), np.float32)
    for j in range(nj):
        r, c = divmod(int(np.argmax(scoremap[:, :, j])), w)
        dx, dy = (locref[r, c, j] * locref_stdev) if locref is not None else (0.0, 0.0)
        out[j] = [c * stride + stride / 2 + dx, r * stride + stride / 2 + dy, scoremap[r, c, j]]
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("radius", [0, 1, 3, 5])
def test_random_maps_match_naive(seed, radius):
    rng = np.random.default_rng(seed)
    h, w, nj = rng.integers(1, 14), rng.integers(1, 14), rng.integers(1, 5)
    m = rng.uniform(0, 1, (h, w, nj)).astype(np.float32)
    if seed % 2:
        m = np.floor(m * 4) / 4  # plateaus and ties
    loc = rng.normal(0, 1, (h, w, nj, 2)).astype(np.float32) if seed % 3 else None
    got = find_peaks(m, loc, nms_radius=radius, min_score=0.3, stride=4.0, locref_stdev=2.0)
    assert_same(got, naive_peaks(m, loc, 4.0, radius, 0.3, 2.0))
    assert_same(got, find_peaks_reference(m, loc, nms_radius=radius, min_score=0.3, stride=4.0,
                                          locref_stdev=2.0))


def assert_identical(got: Peaks, want: Peaks) -> None:
    """Same detections in the same order, bit for bit (positions included)."""
    for name in ("part", "cell", "score", "xy"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_array_equal(a.view(np.uint32) if a.dtype == np.float32 else a,
                                      b.view(np.uint32) if b.dtype == np.float32 else b, err_msg=name)


@pytest.mark.parametrize("seed", range(3))
def test_blob_maps_identical_to_reference(seed):
    """The benchmark's maps (thousands of candidates per frame): the same detections, order,
    scores and positions, bit for bit, as the straightforward full-sort reference; plus
    quantised scores (ties, resolved by row-major order) and scores beyond [0, 1]."""
    rng = np.random.default_rng(100 + seed)
    m = blob_maps(rng)
    loc = rng.normal(0, 1, m.shape + (2,)).astype(np.float32)
    assert (m >= 0.2).sum() > 2000
    variants = [(m, 0.2), (np.floor(m * 16) / 16, 0.2), ((m - 0.3) * 3, -0.25), (m + 0.5, 1.0)]
    for maps, thr in variants:
        maps = np.ascontiguousarray(maps, dtype=np.float32)
        for radius in (1, 5, 40):
            kw = dict(stride=8.0, nms_radius=radius, min_score=thr, locref_stdev=7.2801)
            got = find_peaks(maps, loc, **kw)
            assert len(got) > 0
            assert_identical(got, find_peaks_reference(maps, loc, **kw))


def test_structured_maps():
    m = np.zeros((9, 11, 3), np.float32)
    m[0, 0, 0] = m[8, 10, 0] = m[0, 10, 0] = 0.9  # corners, equal scores: row-major order
    m[4, 5, 1] = 0.7
    m[4, 6, 1] = 0.7  # tie next to each other: (4, 5) wins, (4, 6) suppressed
    m[:, :, 2] = 0.5  # one plateau
    for r in (0, 1, 2, 4, 20, 10**12):
        got = find_peaks(m, nms_radius=r)
        assert_same(got, naive_peaks(m, nms_radius=min(r, 100)))
    got = find_peaks(m, nms_radius=5)
    np.testing.assert_array_equal(got.cell[got.part == 0], [[0, 0], [0, 10], [8, 10]])
    np.testing.assert_array_equal(got.cell[got.part == 1], [[4, 5]])
    assert len(find_peaks(m, min_score=0.95)) == 0
    assert len(find_peaks(m, nms_radius=0, min_score=0.5)) == 3 + 2 + 99
    # J = 1, score exactly at the threshold is kept (>=).
    one = np.full((3, 3, 1), 0.25, np.float32)
    assert len(find_peaks(one, min_score=0.25, nms_radius=0)) == 9
    assert len(find_peaks(one, min_score=np.nextafter(0.25, 1.0), nms_radius=0)) == 0


def test_positions_with_locref():
    m = np.zeros((4, 5, 2), np.float32)
    m[2, 3, 1] = 0.8
    loc = np.zeros((4, 5, 2, 2), np.float32)
    loc[2, 3, 1] = (0.5, -0.25)
    p = find_peaks(m, loc, stride=8.0, locref_stdev=4.0)
    assert len(p) == 1 and p.part[0] == 1
    np.testing.assert_allclose(p.xy[0], [3 * 8 + 4 + 2.0, 2 * 8 + 4 - 1.0])
    np.testing.assert_array_equal(p.cell[0], [2, 3])
    p = find_peaks(m, None)
    np.testing.assert_allclose(p.xy[0], [28.0, 20.0])
    # A transposed (non-contiguous) view is accepted.
    mt = np.ascontiguousarray(m.transpose(1, 0, 2)).transpose(1, 0, 2)
    assert not mt.flags.c_contiguous
    assert_same(find_peaks(mt, loc), find_peaks(m, loc))


def test_argmax_pose():
    rng = np.random.default_rng(3)
    m = np.floor(rng.uniform(0, 1, (7, 9, 4)) * 3).astype(np.float32)  # many ties
    loc = rng.normal(0, 1, (7, 9, 4, 2)).astype(np.float32)
    got = argmax_pose(m, loc, stride=8.0, locref_stdev=7.2801)
    assert got.shape == (4, 3) and got.dtype == np.float32
    for j in range(4):
        idx = int(np.argmax(m[:, :, j]))  # first in row-major order
        r, c = divmod(idx, 9)
        want = [c * 8 + 4 + loc[r, c, j, 0] * 7.2801, r * 8 + 4 + loc[r, c, j, 1] * 7.2801, m[r, c, j]]
        np.testing.assert_allclose(got[j], want, atol=1e-4)
    np.testing.assert_allclose(argmax_pose(m)[:, :2] % 8, 4.0)


def test_errors_name_the_argument():
    m = np.zeros((4, 5, 2), np.float32)
    with pytest.raises(ValueError, match="scoremap"):
        find_peaks(m.astype(np.float64))
    with pytest.raises(ValueError, match="scoremap"):
        find_peaks(m[0])
    with pytest.raises(ValueError, match="locref"):
        find_peaks(m, np.zeros((4, 5, 3, 2), np.float32))
    with pytest.raises(ValueError, match="locref"):
        find_peaks(m, np.zeros((4, 5, 2, 2), np.float64))
    bad = m.copy()
    bad[1, 2, 1] = np.nan
    with pytest.raises(ValueError, match=r"scoremap contains NaN.*\(1, 2, 1\)"):
        find_peaks(bad)
    with pytest.raises(ValueError, match="scoremap contains NaN"):
        argmax_pose(bad)
    loc = np.zeros((4, 5, 2, 2), np.float32)
    m[0, 0, 0] = 1.0
    loc[0, 0, 0, 1] = np.inf
    with pytest.raises(ValueError, match="locref contains NaN"):
        find_peaks(m, loc)
    with pytest.raises(ValueError, match="nms_radius"):
        find_peaks(m, nms_radius=-1)
    with pytest.raises(TypeError, match="nms_radius"):
        find_peaks(m, nms_radius=1.5)
    with pytest.raises(ValueError, match="stride"):
        find_peaks(m, stride=0.0)
    with pytest.raises(ValueError, match="min_score"):
        find_peaks(m, min_score=float("nan"))
    with pytest.raises(ValueError, match="scoremap"):
        argmax_pose(np.zeros((0, 3, 2), np.float32))
    with pytest.raises(ValueError, match="scoremap"):
        find_peaks([[[0.5]]])


def test_empty_maps():
    assert len(find_peaks(np.zeros((0, 4, 3), np.float32))) == 0
    assert len(find_peaks(np.zeros((4, 4, 0), np.float32))) == 0
    assert argmax_pose(np.zeros((2, 2, 0), np.float32)).shape == (0, 3)


_dtypes = st.sampled_from([np.float32, np.float64, np.float16, np.int32, np.uint8, np.bool_])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arr=hnp.arrays(_dtypes, hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=6)),
    use_loc=st.booleans(),
    radius=st.integers(-2, 8),
    min_score=st.floats(allow_nan=True, allow_infinity=True),
)
def test_fuzz_find_peaks(arr, use_loc, radius, min_score):
    loc = None
    if use_loc and arr.ndim >= 1:
        loc = np.zeros(arr.shape + (2,), dtype=np.float32)
    try:
        p = find_peaks(arr, loc, nms_radius=radius, min_score=min_score)
    except ValueError:
        return
    assert arr.dtype == np.float32 and arr.ndim == 3 and radius >= 0 and np.isfinite(min_score)
    assert np.all(np.isfinite(arr))
    assert_same(p, naive_peaks(arr.astype(np.float32), loc, nms_radius=min(radius, 50), min_score=min_score))


@settings(max_examples=100, deadline=None)
@given(
    arr=hnp.arrays(np.float32, hnp.array_shapes(min_dims=3, max_dims=3, min_side=0, max_side=6),
                   elements=st.floats(-1, 2, width=32) | st.sampled_from([np.nan, np.inf])),
    loc_nan=st.booleans(),
)
def test_fuzz_nan_maps(arr, loc_nan):
    loc = np.zeros(arr.shape + (2,), dtype=np.float32)
    if loc_nan and loc.size:
        loc.reshape(-1)[0] = np.nan
    try:
        peaks = find_peaks(arr, loc, min_score=-5.0)
    except ValueError:
        assert not np.all(np.isfinite(arr)) or not np.all(np.isfinite(loc))
    else:
        assert np.all(np.isfinite(arr))
        assert_same(peaks, naive_peaks(arr, loc, min_score=-5.0))
    try:
        pose = argmax_pose(arr, loc)
    except ValueError:
        assert arr.shape[0] * arr.shape[1] == 0 or not np.all(np.isfinite(arr)) \
            or not np.all(np.isfinite(loc))
    else:
        assert np.all(np.isfinite(arr))
        np.testing.assert_allclose(pose, naive_argmax(arr, loc), rtol=0, atol=1e-4)
