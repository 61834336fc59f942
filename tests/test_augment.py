"""Augmentation moves image, joints and masks consistently."""

from __future__ import annotations

import numpy as np
import pytest

from arttrack.data.augment import Augmenter, crop_sample, mirror_sample, resize_sample
from arttrack.joints import COCO17, MPII14


def _dot_image(h, w, pts, radius=2):
    img = np.zeros((h, w, 3), np.uint8)
    yy, xx = np.mgrid[:h, :w]
    for x, y in pts:
        img[(xx - x) ** 2 + (yy - y) ** 2 <= radius * radius] = 255
    return img


def _centroid(img, x, y, win):
    """Intensity centroid of the bright blob near (x, y)."""
    g = img[..., 0].astype(np.float64)
    h, w = g.shape
    x0, x1 = max(int(x - win), 0), min(int(x + win) + 1, w)
    y0, y1 = max(int(y - win), 0), min(int(y + win) + 1, h)
    sub = g[y0:y1, x0:x1]
    yy, xx = np.mgrid[y0:y1, x0:x1]
    return (xx * sub).sum() / sub.sum(), (yy * sub).sum() / sub.sum()


def _joints(pts, J):
    j = np.zeros((1, J, 3), np.float32)
    for i, (x, y) in enumerate(pts):
        j[0, i] = (x, y, 2)
    return j


def test_mirror_twice_is_identity():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (37, 53, 3), dtype=np.uint8)
    joints = np.concatenate([rng.uniform(0, 50, (2, 14, 2)), np.full((2, 14, 1), 2.0)], -1)
    joints[1, 3, 2] = 0
    joints[1, 3, :2] = 0
    joints = joints.astype(np.float32)
    mask = (rng.random((37, 53)) > 0.5).astype(np.uint8)
    a = mirror_sample(img, joints, mask, MPII14.flip_permutation)
    b = mirror_sample(*a, MPII14.flip_permutation)
    np.testing.assert_array_equal(b[0], img)
    np.testing.assert_allclose(b[1], joints, atol=1e-5)
    np.testing.assert_array_equal(b[2], mask)
    # one mirror: r_ankle (0) becomes l_ankle (5) at x -> W-1-x
    np.testing.assert_allclose(a[1][0, 5, 0], 52 - joints[0, 0, 0])
    assert a[1][1, 2, 2] == 0  # unlabeled l_hip (3) becomes unlabeled r_hip (2)


def test_mirror_pixel_content():
    img = _dot_image(40, 61, [(10, 20)], radius=0)
    j = _joints([(10, 20)], 17)
    im2, j2, _ = mirror_sample(img, j, None, COCO17.flip_permutation)
    x, y = j2[0, 0, :2]
    assert im2[int(y), int(x), 0] == 255 and x == 50


@pytest.mark.parametrize("factor", [0.5, 0.77, 1.0, 1.3, 2.0])
def test_resize_keeps_dots_under_joints(factor):
    pts = [(20.0, 30.0), (70.0, 12.0), (45.0, 55.0)]
    img = _dot_image(64, 96, pts, radius=3)
    j = _joints(pts, 14)
    im2, j2, m2 = resize_sample(img, j, np.zeros((64, 96), np.uint8), factor)
    assert m2.shape == im2.shape[:2]
    for i in range(3):
        cx, cy = _centroid(im2, j2[0, i, 0], j2[0, i, 1], 6 * factor + 2)
        assert abs(cx - j2[0, i, 0]) < 0.35 and abs(cy - j2[0, i, 1]) < 0.35


def test_augmenter_full_chain_dots():
    pts = [(30.0, 40.0), (120.0, 60.0), (80.0, 100.0)]
    img = _dot_image(128, 160, pts, radius=3)
    j = _joints(pts, 14)
    aug = Augmenter(MPII14.flip_permutation, global_scale=0.9, mirror=True)
    rng = np.random.default_rng(5)
    for _ in range(6):
        out = aug(img, j, None, rng=rng, base_scale=1.2)
        assert 0.9 * 0.85 - 1e-6 <= out.scale <= 0.9 * 1.15 + 1e-6
        lab = out.joints[0, :, 2] > 0
        assert lab.sum() == 3
        for x, y in out.joints[0, lab, :2]:
            cx, cy = _centroid(out.image, x, y, 8)
            assert abs(cx - x) < 0.4 and abs(cy - y) < 0.4


def test_size_limits_rescale_and_pad():
    img = np.zeros((400, 1000, 3), np.uint8)
    j = _joints([(500.0, 200.0)], 14)
    aug = Augmenter(global_scale=1.0, max_input_size=500, train=False)
    out = aug(img, j, None, rng=np.random.default_rng(0))
    assert out.image.shape[:2] == (200, 500)
    assert out.scale == pytest.approx(0.5)
    aug = Augmenter(max_input_size=2000, max_input_area=100_000, train=False)
    out = aug(img, j, None, rng=np.random.default_rng(0))
    assert out.image.shape[0] * out.image.shape[1] <= 100_000 * 1.01
    # min size: padding is added and ignored
    aug = Augmenter(min_input_size=64, train=False)
    out = aug(np.zeros((30, 100, 3), np.uint8), j * 0.1, None, rng=np.random.default_rng(0))
    assert out.image.shape[:2] == (64, 100)
    assert out.ignore_mask[30:].all() and not out.ignore_mask[:30].any()


def test_crop_and_jitter_determinism():
    img = np.random.default_rng(1).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    j = _joints([(350.0, 250.0), (360.0, 270.0)], 14)
    aug = Augmenter(MPII14.flip_permutation, mirror=True, crop_size=(128, 160))
    a = aug(img, j, None, rng=np.random.default_rng([1, 2, 3]))
    b = aug(img, j, None, rng=np.random.default_rng([1, 2, 3]))
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.joints, b.joints)
    assert a.image.shape[0] <= 128 and a.image.shape[1] <= 160
    lab = a.joints[0, :, 2] > 0
    # the crop is placed around the person: its joints are inside
    assert np.all(a.joints[0, lab, 0] >= 0) and np.all(a.joints[0, lab, 0] < a.image.shape[1])
    img2, j2, _ = crop_sample(img, j, None, (300, 200, 400, 300))
    np.testing.assert_allclose(j2[0, 0, :2], [50, 50])


def test_bad_config():
    with pytest.raises(ValueError):
        Augmenter(mirror=True)
    with pytest.raises(ValueError):
        Augmenter(scale_jitter_lo=1.2, scale_jitter_up=1.1)
