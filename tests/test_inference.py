"""Predictor (padding, cropping, map layouts) and maps -> people on hand-made maps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from arttrack.data.codec import PoseCodec
from arttrack.inference import (Maps, average_maps, decode_single, pad_image, rescale_image,
                                to_original, unflip_maps,
                                valid_map_shape)
from arttrack.joints import MPII14
from arttrack.postprocess import SpatialModel
from arttrack.postprocess.pipeline import MultiPersonSettings, maps_to_people, parse_frame

J = MPII14.num_joints


@pytest.fixture()
def ms_cwd(tmp_path, monkeypatch):
    """MindSpore writes rank_0/ into the working directory: keep it out of the repo."""
    monkeypatch.chdir(tmp_path)
    import mindspore as ms

    ms.set_device("CPU")
    return ms


def _identity_stats(num_joints):
    c = num_joints * (num_joints - 1)
    return np.zeros((c, 2), np.float32), np.ones((c, 2), np.float32)


def _tiny_predictor(num_joints=3, pairwise=True, mode="pynative", batch_size=2):
    from arttrack.inference import Predictor
    from arttrack.models import create_model

    net = create_model("resnet_tiny", num_joints=num_joints, width=8, pairwise=pairwise)
    stats = _identity_stats(num_joints)
    codec = PoseCodec(num_joints, pairwise=pairwise, pairwise_stats=stats if pairwise else None)
    return Predictor(net, codec, mode=mode, batch_size=batch_size)


# ----------------------------------------------------------------------------- geometry
def test_pad_image_bottom_right_and_mean():
    img = np.full((5, 7, 3), 200, np.uint8)
    img[0, 0] = (10, 20, 30)
    x = pad_image(img, 16, mean_pixel=(100.0, 110.0, 120.0))
    assert x.shape == (3, 16, 16) and x.dtype == np.float32
    assert np.allclose(x[:, 0, 0], [-90, -90, -90])
    assert np.allclose(x[:, 4, 6], [100, 90, 80])
    assert np.all(x[:, 5:, :] == 0) and np.all(x[:, :, 7:] == 0)
    with pytest.raises(ValueError):
        pad_image(np.zeros((4, 4), np.uint8), 16)


@pytest.mark.parametrize("h,w", [(1, 1), (8, 9), (33, 47), (64, 64), (65, 100)])
def test_valid_map_shape(h, w):
    assert valid_map_shape(h, w, 8) == (math.ceil(h / 8), math.ceil(w / 8))
    # never more cells than the network produces on the padded input
    assert valid_map_shape(h, w, 8)[0] <= 2 * math.ceil(h / 16)


def test_rescale_and_back_round_trip():
    img = np.zeros((50, 80, 3), np.uint8)
    out, ratio = rescale_image(img, 1.7)
    assert out.shape[:2] == (round(50 * 1.7), round(80 * 1.7))
    pts = np.array([[10.0, 20.0, 0.9], [np.nan, np.nan, np.nan]])
    fwd = pts.copy()
    fwd[:, 0] = (pts[:, 0] + 0.5) * ratio[0] - 0.5
    fwd[:, 1] = (pts[:, 1] + 0.5) * ratio[1] - 0.5
    back = to_original(fwd, ratio, (0, 0))
    assert np.allclose(back[0], pts[0]) and np.all(np.isnan(back[1, :2]))
    assert np.allclose(to_original(pts[:1], (1, 1), (5, 7))[0, :2], [15, 27])
    capped, r = rescale_image(img, 4.0, max_input_size=100)
    assert max(capped.shape[:2]) == 100 and math.isclose(r[0], 100 / 80)


def test_to_original_keeps_input_and_rejects_bad_geometry():
    """The one inverse (C++ core, also the letterbox's and the runner's): a new array, integer
    input accepted as float64, one readable ValueError for impossible geometry."""
    pts = np.array([[[1.0, 2.0]], [[3.0, 4.0]]])  # any leading shape
    back = to_original(pts, (2.0, 0.5), (10, 20))
    assert back.shape == pts.shape and pts[0, 0, 0] == 1.0  # the input is not modified
    np.testing.assert_allclose(back[1, 0], [10 + 3.5 / 2 - 0.5, 20 + 4.5 / 0.5 - 0.5])
    np.testing.assert_allclose(to_original(np.array([[1, 2]]), (1, 1)), [[1.0, 2.0]])
    with pytest.raises(ValueError, match="scale must be positive"):
        to_original(pts, (0.0, 1.0))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\+\)"):
        to_original(np.zeros((3, 1)))


# ----------------------------------------------------------------------------- predictor
def test_predictor_maps_shapes_odd_sizes(ms_cwd):
    pred = _tiny_predictor(num_joints=3, pairwise=True)
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for h, w in
            [(37, 53), (37, 53), (64, 20), (17, 17), (40, 60)]]
    maps = pred.maps(imgs)
    assert len(maps) == len(imgs)
    for im, m in zip(imgs, maps):
        h, w = valid_map_shape(*im.shape[:2], 8)
        assert m.image_size == im.shape[:2]
        assert m.part.shape == (h, w, 3) and m.part.dtype == np.float32
        assert np.all((m.part >= 0) & (m.part <= 1))
        assert m.locref.shape == (h, w, 3, 2)
        assert m.pairwise.shape == (h, w, 6, 2)
    # batching and padding to a common size do not change an image's maps
    alone = pred.maps(imgs[0])
    assert isinstance(alone, Maps)
    np.testing.assert_allclose(alone.part, maps[0].part, atol=1e-5)  # batch of 1 vs batch of 3: different summation order
    np.testing.assert_allclose(alone.locref, maps[0].locref, rtol=1e-5, atol=1e-5)
    # batch of an (N, H, W, 3) array
    arr = pred.maps(np.stack(imgs[:2]))
    assert len(arr) == 2
    one = pred.predict_single(imgs[2])
    assert one.shape == (3, 3) and np.all(np.isfinite(one))


def test_graph_and_pynative_agree(ms_cwd):
    from arttrack.inference import Predictor

    pyn = _tiny_predictor(num_joints=3, pairwise=True, mode="pynative")
    graph = Predictor(pyn.net, pyn.codec, mode="graph")
    img = np.random.default_rng(4).integers(0, 255, (29, 41, 3), dtype=np.uint8)
    a, b = pyn.maps(img), graph.maps(img)
    for name in ("part", "locref", "pairwise"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-4, atol=1e-4)


def test_predictor_denormalises_pairwise(ms_cwd):
    """Pairwise maps come back in pixels: (raw * std + mean) of the codec's stats."""
    from arttrack.inference import Predictor
    from arttrack.models import create_model

    net = create_model("resnet_tiny", num_joints=3, width=8, pairwise=True)
    c = 6
    mean = np.arange(2 * c, dtype=np.float32).reshape(c, 2)
    std = np.full((c, 2), 3.0, np.float32)
    p_id = Predictor(net, PoseCodec(3, pairwise=True, pairwise_stats=_identity_stats(3)),
                     mode="pynative")
    p_st = Predictor(net, PoseCodec(3, pairwise=True, pairwise_stats=(mean, std)), mode="pynative")
    img = np.random.default_rng(1).integers(0, 255, (32, 48, 3), dtype=np.uint8)
    raw = p_id.maps(img).pairwise
    np.testing.assert_allclose(p_st.maps(img).pairwise, raw * std + mean, rtol=1e-5, atol=1e-4)


def test_predict_multi_untrained_net_graph_mode(ms_cwd):
    pred = _tiny_predictor(num_joints=J, pairwise=True, mode="graph")
    pairs = MPII14.pair_graph
    k = len(pairs)
    model = SpatialModel(pairs, np.zeros((k, 9)), np.ones((k, 9)), np.zeros((k, 9)))
    img = np.random.default_rng(2).integers(0, 255, (45, 70, 3), dtype=np.uint8)
    settings = MultiPersonSettings(det_min_score=0.0, min_joints=1, nms_radius=1)
    people = pred.predict_multi(img, model, settings)
    assert people.ndim == 3 and people.shape[1:] == (J, 3) and people.dtype == np.float32
    assert len(people) >= 1
    present = np.all(np.isfinite(people), axis=2)
    assert np.all(np.isnan(people[~present]))
    assert np.all(present.sum(axis=1) >= 1)
    assert np.all(np.isfinite(people[present][:, :2]))
    assert np.all((people[present][:, 2] >= 0) & (people[present][:, 2] <= 1))


def test_predictor_rejects_mismatched_codec(ms_cwd):
    from arttrack.inference import Predictor
    from arttrack.models import create_model

    net = create_model("resnet_tiny", num_joints=3, width=8, pairwise=True)
    with pytest.raises(ValueError, match="joints"):
        Predictor(net, PoseCodec(4))
    with pytest.raises(ValueError, match="pairwise"):
        Predictor(net, PoseCodec(3))


def test_predictor_from_training_checkpoint(ms_cwd, tmp_path):
    """A training checkpoint (train cell, embedded config) rebuilds the same network."""
    import mindspore as ms

    from arttrack.models.checkpoint import save_checkpoint
    from arttrack.config import load_config
    from arttrack.models.factory import build_model
    from arttrack.inference import Predictor

    cfg = load_config(None, ["net_type=resnet_tiny", "width=8", "depths=[1,1,1,1]",
                             "freeze_bn=false"])
    net = build_model(cfg, pretrained=False)

    class Wrap(ms.nn.Cell):
        def __init__(self, n):
            super().__init__()
            self.network = n

    path = save_checkpoint(Wrap(net), tmp_path / "snap", 7, cfg)
    pred = Predictor.from_checkpoint(path, mode="pynative")
    assert pred.config == cfg and pred.codec.num_joints == J
    img = np.random.default_rng(3).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    ref = Predictor(net, PoseCodec(J), mode="pynative").maps(img)
    np.testing.assert_allclose(pred.maps(img).part, ref.part, atol=1e-5)


# ----------------------------------------------------------------------------- exact maps
def _two_people():
    """Two MPII-14 figures 100 px apart (x), in a 160 x 240 image."""
    base = np.array([
        [40, 150], [42, 120], [44, 92], [64, 92], [66, 120], [68, 150],  # legs
        [30, 80], [34, 62], [40, 42], [68, 42], [74, 62], [78, 80],  # arms
        [54, 34], [54, 12]], np.float32)  # chin, forehead
    people = np.zeros((2, J, 3), np.float32)
    people[0, :, :2] = base
    people[1, :, :2] = base + (100, 3)
    people[..., 2] = 2
    return people


def _exact_maps(people, image_size, radius=10.0):
    codec = PoseCodec(J, pos_dist_thresh=radius, pairwise=True,
                      pairwise_stats=_identity_stats(J))
    t = codec.encode(people, image_size)
    # soft peak on each disk: higher in the middle, so NMS keeps the centre cell
    h, w = t["scmap"].shape[:2]
    xs, ys = codec.cell_centers(h, w)
    part = np.zeros((h, w, J), np.float32)
    for p in people:
        for j, (x, y, v) in enumerate(p):
            d = np.hypot(xs[None, :] - x, ys[:, None] - y)
            part[..., j] = np.maximum(part[..., j], np.where(d <= radius, 1.0 - 0.5 * d / radius, 0))
    pw = codec.pairwise_to_pixels(t["pairwise_map"])
    return part, t["locref_map"], pw, codec


def _distance_model(pairs):
    k = len(pairs)
    mn = np.zeros((k, 9))
    mx = np.tile([50, 50, math.pi, math.pi, 1, 1, 1, 1, 0], (k, 1)).astype(float)
    w = np.tile([-10, -10, -2, -2, 0, 0, 0, 0, 4], (k, 1)).astype(float)
    return SpatialModel(pairs, mn, mx, w)


def test_maps_to_people_two_people_exact_maps():
    people = _two_people()
    part, locref, pw, codec = _exact_maps(people, (160, 240))
    model = _distance_model(MPII14.pair_graph)
    settings = MultiPersonSettings(nms_radius=2, det_min_score=0.3)
    out = maps_to_people(part, locref, pw, model, settings)
    assert out.shape == (2, J, 3)
    assert np.all(np.isfinite(out))
    # match each found person to a ground-truth person: every joint within 1 px
    order = np.argsort(out[:, :, 0].mean(axis=1))
    for found, gt in zip(out[order], people):
        np.testing.assert_allclose(found[:, :2], gt[:, :2], atol=1.0)
    # details
    fp = parse_frame(part, locref, pw, model, settings)
    assert len(fp.peaks) == 2 * J
    assert fp.active.all() and len(set(fp.cluster.tolist())) == 2


def test_maps_to_people_missing_joints_and_empty():
    people = _two_people()
    people[1, [0, 5], 2] = 0  # second person's ankles unlabeled -> no peaks there
    people[1, [0, 5], :2] = 0
    part, locref, pw, _ = _exact_maps(people, (160, 240))
    model = _distance_model(MPII14.pair_graph)
    out = maps_to_people(part, locref, pw, model, MultiPersonSettings(nms_radius=2))
    assert out.shape == (2, J, 3)
    right = out[np.argmax(out[:, 8, 0])]
    assert np.all(np.isnan(right[[0, 5]])) and np.all(np.isfinite(right[1:5]))
    empty = maps_to_people(np.zeros_like(part), locref, pw, model)
    assert empty.shape == (0, J, 3)
    with pytest.raises(ValueError, match="pairwise"):
        maps_to_people(part, locref, None, model)


def test_decode_single_exact_maps_locref_is_exact():
    people = _two_people()[:1]
    part, locref, pw, _ = _exact_maps(people, (160, 120), radius=17.0)
    flat = (part > 0).astype(np.float32)  # the codec's disk: no peak in the middle
    m = Maps(flat, locref, None, (160, 120), 8.0)
    with_loc = decode_single(m)
    without = decode_single(m, use_locref=False)
    err_with = np.linalg.norm(with_loc[:, :2] - people[0, :, :2], axis=1)
    err_without = np.linalg.norm(without[:, :2] - people[0, :, :2], axis=1)
    assert err_with.max() < 1e-3
    assert err_without.mean() > 5.0


# ----------------------------------------------------------------------------- flip test
def _mirror_people(people, width_cells):
    """Labels of the mirrored image (as training's mirror augmentation makes them): x ->
    Wv - 1 - x with Wv the whole-cell width, left and right joints swapped."""
    wv = width_cells * 8
    m = people[:, MPII14.flip_permutation].copy()
    m[..., 0] = wv - 1 - m[..., 0]
    return m


def test_unflip_maps_maps_a_mirrored_image_back_exactly():
    """Exact target maps of the mirrored labels, mapped back, decode to the original joints
    (locref and pairwise offsets to 1e-3 px), alone and averaged with the original maps."""
    people = _two_people()
    size = (160, 235)  # not a whole number of cells wide: the mirror uses Wv = 240
    wm = int(np.ceil(235 / 8))
    part, locref, pw, codec = _exact_maps(people, size)
    mpart, mlocref, mpw, _ = _exact_maps(_mirror_people(people, wm), (160, wm * 8))
    orig = Maps(part, locref, pw, size, 8.0)
    mirrored = Maps(mpart[:, :wm], mlocref[:, :wm], mpw[:, :wm], size, 8.0)
    back = unflip_maps(mirrored, MPII14.flip_permutation, codec.locref_stdev)
    model = _distance_model(MPII14.pair_graph)
    settings = MultiPersonSettings(nms_radius=2, det_min_score=0.3)
    for m in (back, average_maps(orig, back)):
        out = maps_to_people(m.part, m.locref, m.pairwise, model, settings)
        assert out.shape == (2, J, 3)
        order = np.argsort(out[:, :, 0].mean(axis=1))
        for found, gt in zip(out[order], people):
            np.testing.assert_allclose(found[:, :2], gt[:, :2], atol=1e-3)
    # pairwise offsets: where both disks cover a cell they agree to float precision
    both = (pw != 0).all(axis=-1) & (back.pairwise != 0).all(axis=-1)
    assert both.sum() > 100
    np.testing.assert_allclose(back.pairwise[both], pw[both], atol=1e-3)
    # single person, flat disks: the argmax cell's locref is exact
    mpart1, mloc1, _, _ = _exact_maps(_mirror_people(people[:1], wm), (160, wm * 8), radius=17.0)
    one = Maps((mpart1[:, :wm] > 0).astype(np.float32), mloc1[:, :wm], None, size, 8.0)
    pose = decode_single(unflip_maps(one, MPII14.flip_permutation, codec.locref_stdev))
    np.testing.assert_allclose(pose[:, :2], people[0, :, :2], atol=1e-3)
    # an involution: twice gives the maps back
    twice = unflip_maps(back, MPII14.flip_permutation, codec.locref_stdev)
    for a, b in ((twice.part, mirrored.part), (twice.locref, mirrored.locref),
                 (twice.pairwise, mirrored.pairwise)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError, match="permutation"):
        unflip_maps(mirrored, MPII14.flip_permutation[:5], codec.locref_stdev)


@pytest.mark.parametrize("w", [35, 40, 81])
def test_flip_input_mirrors_whole_cells(w):
    """The mirrored input puts the pixels of cell i into cell W - 1 - i (W = ceil(w / 8)),
    for widths that are not a whole number of cells too; the rest is the mean (zero)."""
    from arttrack.inference import flip_input

    h = 20
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.arange(w, dtype=np.uint8)[None, :] + 1  # column index + 1
    mean = (0.0, 0.0, 0.0)
    x = flip_input(img, 8.0, 16, mean)
    W = int(np.ceil(w / 8))
    assert x.shape == (3, 32, int(np.ceil(w / 16)) * 16)
    for i in range(W):
        cols = x[0, 0, 8 * (W - 1 - i): 8 * (W - i)][::-1] - 1  # original column of each pixel
        expect = np.arange(8 * i, 8 * i + 8, dtype=np.float32)
        expect[expect >= w] = -1  # the padding to a whole cell
        np.testing.assert_array_equal(cols, expect)
    assert np.all(x[:, h:] == 0) and np.all(x[:, :, 8 * W:] == 0)


def test_flip_test_makes_any_network_mirror_equivariant(ms_cwd):
    """With the flip test the prediction on a mirrored image is the mirror image of the
    prediction (left and right swapped), for any weights, here random ones; without it a
    random network is far from that."""
    from arttrack.inference import Predictor
    from arttrack.models import create_model

    ms_cwd.set_seed(5)
    net = create_model("resnet_tiny", num_joints=J, width=8, pairwise=True)
    codec = PoseCodec(J, pairwise=True, pairwise_stats=_identity_stats(J))
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (72, 88, 3), dtype=np.uint8)  # 88 = 11 whole cells
    mirror = np.ascontiguousarray(img[:, ::-1])
    perm = MPII14.flip_permutation

    def error(pred):
        a, b = pred.predict_single_batch([img, mirror])
        expect = a[perm].copy()
        expect[:, 0] = 88 - 1 - expect[:, 0]
        return np.abs(b - expect).max(), a, b

    flip = Predictor(net, codec, mode="pynative", flip_test=True, flip_permutation=perm)
    part = flip.maps(img).part  # (a saturated sigmoid can tie; the argmax must be unique)
    assert all((part[..., j] == part[..., j].max()).sum() == 1 for j in range(J))
    err, a, b = error(flip)
    assert err < 1e-3, err
    plain = Predictor(net, codec, mode="pynative", flip_permutation=perm)
    err_plain, a0, _ = error(plain)
    assert err_plain > 1.0
    assert not np.allclose(a, a0)  # the flip test changed the prediction
    # the maps themselves: averaged, and the mirror's are the mapped-back ones
    ma, mb = flip.maps([img, mirror])
    back = unflip_maps(mb, perm, codec.locref_stdev)
    np.testing.assert_allclose(back.part, ma.part, atol=1e-5)
    np.testing.assert_allclose(back.locref, ma.locref, atol=1e-4)
    np.testing.assert_allclose(back.pairwise, ma.pairwise, atol=1e-4)
    with pytest.raises(ValueError, match="left/right"):
        Predictor(net, codec, mode="pynative", flip_test=True)
