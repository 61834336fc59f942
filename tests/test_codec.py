"""PoseCodec: target encoding and decoding agree."""

from __future__ import annotations

import numpy as np
import pytest

from arttrack.data.codec import PoseCodec, map_size
from arttrack.joints import MPII14, pair_channel
from arttrack.postprocess import Peaks


def _stats(J, rng=None):
    C = J * (J - 1)
    rng = rng or np.random.default_rng(0)
    return rng.normal(0, 20, (C, 2)), rng.uniform(5, 40, (C, 2))


def test_map_size():
    assert map_size(16) == 2 and map_size(17) == 4 and map_size(320) == 40
    assert map_size(321) == 42
    codec = PoseCodec(3)
    assert codec.map_shape(100, 33) == (14, 6)


def test_disk_radius_and_masks():
    codec = PoseCodec(2, stride=8, pos_dist_thresh=17)
    joints = np.array([[[100.0, 60.0, 2], [0, 0, 0]]], np.float32)
    t = codec.encode(joints, (160, 200), scale=1.0)
    H, W = codec.map_shape(160, 200)
    assert t["scmap"].shape == (H, W, 2) and t["locref_map"].shape == (H, W, 2, 2)
    xs = np.arange(W) * 8 + 4.0
    ys = np.arange(H) * 8 + 4.0
    d = np.hypot(xs[None, :] - 100, ys[:, None] - 60)
    np.testing.assert_array_equal(t["scmap"][..., 0], (d <= 17).astype(np.float32))
    assert t["scmap"][..., 1].sum() == 0  # unlabeled joint: no target
    np.testing.assert_array_equal(t["locref_mask"][..., 0, 0], t["scmap"][..., 0])
    np.testing.assert_array_equal(t["locref_mask"][..., 0, 1], t["scmap"][..., 0])
    assert np.all(t["scmap_weights"] == 1)
    # radius scales with the training scale
    t2 = codec.encode(joints, (160, 200), scale=1.5)
    np.testing.assert_array_equal(t2["scmap"][..., 0], (d <= 25.5).astype(np.float32))
    # locref values
    r, c = np.nonzero(t["scmap"][..., 0])
    np.testing.assert_allclose(t["locref_map"][r, c, 0, 0], (100 - xs[c]) / 7.2801, rtol=1e-6)
    np.testing.assert_allclose(t["locref_map"][r, c, 0, 1], (60 - ys[r]) / 7.2801, rtol=1e-6)


def test_weigh_only_present_and_ignore():
    codec = PoseCodec(2, weigh_only_present_joints=True)
    joints = np.array([[[20.0, 20.0, 1], [0, 0, 0]]], np.float32)
    ign = np.zeros((64, 64), np.uint8)
    ign[:, 40:] = 1  # right part ignored
    ign[:28, :28] = 1  # overlaps the positive disk of joint 0
    t = codec.encode(joints, (64, 64), ignore_mask=ign)
    w = t["scmap_weights"]
    assert np.all(w[..., 1] == 0)  # joint type nobody labeled
    # cells touching column >= 40 (cols 5.. since 5*8=40) are ignored unless positive
    assert np.all(w[:, 5:, 0] == 0)
    pos = t["scmap"][..., 0] > 0
    assert np.all(w[..., 0][pos] == 1)  # positives keep weight 1
    assert w[3, 0, 0] == 0 and not pos[3, 0]  # block (24..31, 0..7) touches the mask
    assert w[4, 4, 0] == 1


def test_joint_weights_scale_each_channel():
    ign = np.zeros((64, 64), np.uint8)
    ign[:, 40:] = 1
    joints = np.array([[[20.0, 20.0, 2], [30.0, 30.0, 2], [0, 0, 0]]], np.float32)
    plain = PoseCodec(3).encode(joints, (64, 64), ignore_mask=ign)["scmap_weights"]
    w = PoseCodec(3, joint_weights=[1.0, 2.5, 0.5]).encode(joints, (64, 64),
                                                            ignore_mask=ign)["scmap_weights"]
    np.testing.assert_array_equal(w, plain * np.array([1.0, 2.5, 0.5], np.float32))
    assert np.all(w[:, 6:, 1] == 0) and w[0, 0, 1] == 2.5  # ignored negatives stay 0
    for bad in ([1.0, 2.0], [1.0, 0.0, 1.0], [1.0, np.nan, 1.0]):
        with pytest.raises(ValueError, match="joint_weights"):
            PoseCodec(3, joint_weights=bad)


def test_multi_person_nearest_owner():
    codec = PoseCodec(1, pos_dist_thresh=30)
    joints = np.array([[[40.0, 40.0, 2]], [[80.0, 40.0, 2]]], np.float32)
    t = codec.encode(joints, (96, 128))
    H, W = t["scmap"].shape[:2]
    xs = np.arange(W) * 8 + 4.0
    for c in range(W):
        r = 5  # y = 44
        if t["scmap"][r, c, 0]:
            owner_x = 40.0 if abs(xs[c] - 40) <= abs(xs[c] - 80) else 80.0
            np.testing.assert_allclose(t["locref_map"][r, c, 0, 0] * 7.2801, owner_x - xs[c],
                                       atol=1e-4)


@pytest.mark.parametrize("seed", range(8))
def test_encode_decode_roundtrip_random(seed):
    rng = np.random.default_rng(seed)
    J = 14
    codec = PoseCodec(J)
    h, w = int(rng.integers(64, 300)), int(rng.integers(64, 300))
    joints = np.zeros((1, J, 3), np.float32)
    joints[0, :, 0] = rng.uniform(0, w - 1, J)
    joints[0, :, 1] = rng.uniform(0, h - 1, J)
    joints[0, :, 2] = 2
    t = codec.encode(joints, (h, w), scale=float(rng.uniform(0.85, 1.15)))
    for decode in (codec.decode_single,):
        pose = decode(t["scmap"], t["locref_map"])
        assert pose.shape == (J, 3)
        np.testing.assert_allclose(pose[:, :2], joints[0, :, :2], atol=1e-3)
        np.testing.assert_allclose(pose[:, 2], 1.0)
    # flattened (H, W, 2J) locref is accepted too
    H, W = t["scmap"].shape[:2]
    pose = codec.decode_single(t["scmap"], t["locref_map"].reshape(H, W, 2 * J))
    np.testing.assert_allclose(pose[:, :2], joints[0, :, :2], atol=1e-3)


def test_decode_hand_case_without_locref():
    codec = PoseCodec(1)
    sc = np.zeros((4, 5, 1), np.float32)
    sc[2, 3, 0] = 0.9
    pose = codec.decode_single(sc)
    np.testing.assert_allclose(pose[0], [3 * 8 + 4, 2 * 8 + 4, 0.9], rtol=1e-6)


def test_decode_multi_recovers_people():
    codec = PoseCodec(2)
    joints = np.array([[[30.3, 40.7, 2], [50, 90, 2]], [[150.2, 41.1, 2], [170, 95.5, 2]]],
                      np.float32)
    t = codec.encode(joints, (128, 200))
    # a "network" output: peaked scores at the owners' nearest cells
    sc = t["scmap"] * 0.5
    for p in range(2):
        for j in range(2):
            c, r = int(joints[p, j, 0] // 8), int(joints[p, j, 1] // 8)
            sc[r, c, j] = 0.95
    peaks = codec.decode_multi(sc, t["locref_map"], nms_radius=5, min_score=0.9)
    assert isinstance(peaks, Peaks)
    # one detection per person and joint, joint by joint, at the joint itself
    np.testing.assert_array_equal(peaks.part, [0, 0, 1, 1])
    np.testing.assert_array_equal(peaks.score, np.full(4, 0.95, np.float32))
    for j in range(2):
        got = peaks.xy[peaks.part == j]
        np.testing.assert_allclose(got[np.argsort(got[:, 0])], joints[:, j, :2], atol=1e-3)


def test_pairwise_roundtrip():
    J = 14
    mean, std = _stats(J)
    codec = PoseCodec(J, pairwise=True, pairwise_stats=(mean, std))
    rng = np.random.default_rng(3)
    joints = np.zeros((2, J, 3), np.float32)
    joints[..., 0] = rng.uniform(0, 255, (2, J))
    joints[..., 1] = rng.uniform(0, 191, (2, J))
    joints[..., 2] = 2
    joints[1, 5, 2] = 0  # person 1 lacks joint 5
    t = codec.encode(joints, (192, 256))
    pw, pm = t["pairwise_map"], t["pairwise_mask"]
    assert pw.shape == (24, 32, J * (J - 1), 2)
    xs = np.arange(32) * 8 + 4.0
    ys = np.arange(24) * 8 + 4.0
    px = codec.pairwise_to_pixels(pw)
    np.testing.assert_allclose(codec.pixels_to_pairwise(px), pw, atol=1e-4)
    # at each joint's own cell, decoded offsets point to that person's other joints
    for p in range(2):
        for j in range(J):
            if joints[p, j, 2] == 0:
                continue
            c, r = int(joints[p, j, 0] // 8), int(joints[p, j, 1] // 8)
            # skip cells another person's same joint owns
            d = np.hypot(joints[:, j, 0] - xs[c], joints[:, j, 1] - ys[r])
            d[joints[:, j, 2] == 0] = np.inf
            if np.argmin(d) != p:
                continue
            for k in range(J):
                if k == j:
                    continue
                ch = pair_channel(j, k, J)
                if joints[p, k, 2] == 0:
                    assert pm[r, c, ch].sum() == 0
                    continue
                assert np.all(pm[r, c, ch] == 1)
                np.testing.assert_allclose(px[r, c, ch] + [xs[c], ys[r]], joints[p, k, :2],
                                           atol=1e-3)
    # mask is zero outside the disks
    outside = t["scmap"].max(axis=2) == 0
    assert pm[outside].sum() == 0
    # flattened network layout accepted
    np.testing.assert_allclose(codec.pairwise_to_pixels(pw.reshape(24, 32, -1)), px)


def test_bad_arguments():
    with pytest.raises(ValueError):
        PoseCodec(3, pairwise=True)
    with pytest.raises(ValueError):
        PoseCodec(3, pairwise=True, pairwise_stats=(np.zeros((5, 2)), np.ones((5, 2))))
    codec = PoseCodec(MPII14.num_joints)
    with pytest.raises(ValueError):
        codec.decode_single(np.zeros((4, 4, 3), np.float32))
