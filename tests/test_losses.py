"""Losses against a NumPy hand computation, and a training step that moves the backbone."""

from __future__ import annotations

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from arttrack.data.pipeline import column_names
from arttrack.models import create_model
from arttrack.models.losses import (
    ArtTrackLoss, ArtTrackWithLoss, masked_huber, target_names, weighted_sigmoid_cross_entropy,
)


pytestmark = pytest.mark.usefixtures("ms_pynative_cpu")


def np_sigmoid_xent(x, z, w):
    p = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    ce = -(z * np.log(p) + (1 - z) * np.log(1 - p))
    n = np.count_nonzero(w)
    return float((w * ce).sum() / max(n, 1))


def np_huber(pred, target, mask, delta=1.0):
    a = np.abs(pred.astype(np.float64) - target)
    loss = np.where(a <= delta, 0.5 * a * a, delta * (a - 0.5 * delta))
    n = np.count_nonzero(mask)
    return float((mask * loss).sum() / max(n, 1))


def _targets(rng, j, shape_hw, n=2, mask_p=0.2):
    h, w = shape_hw
    f = np.float32
    part_t = (rng.random((n, j, h, w)) > 0.85).astype(f)
    part_w = rng.choice([0.0, 0.5, 1.0, 2.0], size=(n, j, h, w)).astype(f)
    loc_t = rng.normal(0, 1.5, (n, 2 * j, h, w)).astype(f)
    loc_m = (rng.random((n, 2 * j, h, w)) < mask_p).astype(f)
    pw_t = rng.normal(0, 2.0, (n, 2 * j * (j - 1), h, w)).astype(f)
    pw_m = (rng.random((n, 2 * j * (j - 1), h, w)) < mask_p).astype(f)
    return [part_t, part_w, loc_t, loc_m, pw_t, pw_m]


def test_primitives_match_numpy():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 4, (2, 3, 5, 7)).astype(np.float32)
    z = (rng.random(x.shape) > 0.7).astype(np.float32)
    w = rng.choice([0.0, 1.0, 3.0], size=x.shape).astype(np.float32)
    got = float(weighted_sigmoid_cross_entropy(ms.Tensor(x), ms.Tensor(z), ms.Tensor(w)))
    assert got == pytest.approx(np_sigmoid_xent(x, z, w), rel=1e-5)
    t = rng.normal(0, 2, x.shape).astype(np.float32)
    got = float(masked_huber(ms.Tensor(x), ms.Tensor(t), ms.Tensor(z)))
    assert got == pytest.approx(np_huber(x, t, z), rel=1e-5)
    # averaged over the non-zero mask entries, not the whole map
    assert np_huber(x, t, z) != pytest.approx(np_huber(x, t, np.ones_like(z)) * z.mean())
    zero = ms.Tensor(np.zeros_like(z))
    assert float(masked_huber(ms.Tensor(x), ms.Tensor(t), zero)) == 0.0
    assert float(weighted_sigmoid_cross_entropy(ms.Tensor(x), ms.Tensor(z), zero)) == 0.0


def test_loss_cell_matches_numpy():
    rng = np.random.default_rng(2)
    j, hw = 3, (6, 5)
    names = ("part", "locref", "pairwise", "part_interm")
    outs = [rng.normal(0, 3, (2, c, *hw)).astype(np.float32) for c in (j, 2 * j, 2 * j * (j - 1), j)]
    tg = _targets(rng, j, hw)  # NCHW
    nhwc = [np.ascontiguousarray(t.transpose(0, 2, 3, 1)) for t in tg]
    loss = ArtTrackLoss(names, locref_loss_weight=0.05, pairwise_loss_weight=0.05)
    assert loss.target_names == target_names(True, True) == (
        "scmap", "scmap_weights", "locref_map", "locref_mask", "pairwise_map", "pairwise_mask")
    total, part, interm, loc, pw = (float(v) for v in
                                    loss(tuple(map(ms.Tensor, outs)), tuple(map(ms.Tensor, nhwc))))
    loss_nchw = ArtTrackLoss(names, target_layout="NCHW")
    total_nchw = float(loss_nchw(tuple(map(ms.Tensor, outs)), tuple(map(ms.Tensor, tg)))[0])
    assert total_nchw == pytest.approx(total, rel=1e-6)
    with pytest.raises(ValueError, match="target_layout"):  # NCHW targets given as NHWC
        loss_nchw(tuple(map(ms.Tensor, outs)), tuple(map(ms.Tensor, nhwc)))
    e_part = np_sigmoid_xent(outs[0], tg[0], tg[1])
    e_interm = np_sigmoid_xent(outs[3], tg[0], tg[1])
    e_loc = np_huber(outs[1], tg[2], tg[3])
    e_pw = np_huber(outs[2], tg[4], tg[5])
    assert part == pytest.approx(e_part, rel=1e-5)
    assert interm == pytest.approx(e_interm, rel=1e-5)
    assert loc == pytest.approx(e_loc, rel=1e-5)
    assert pw == pytest.approx(e_pw, rel=1e-5)
    assert total == pytest.approx(e_part + e_interm + 0.05 * e_loc + 0.05 * e_pw, rel=1e-5)

    # Subset of heads: only part + pairwise; zero masks give finite 0 terms.
    loss2 = ArtTrackLoss(("part", "pairwise"), pairwise_loss_weight=0.5, target_layout="NCHW")
    tg2 = [tg[0], tg[1], tg[4], np.zeros_like(tg[5])]
    total2, part2, _, loc2, pw2 = (float(v) for v in loss2(
        (ms.Tensor(outs[0]), ms.Tensor(outs[2])), tuple(map(ms.Tensor, tg2))))
    assert (loc2, pw2) == (0.0, 0.0) and np.isfinite(total2)
    assert total2 == pytest.approx(e_part, rel=1e-5)
    with pytest.raises(ValueError):
        ArtTrackLoss(("locref", "part"))


def test_training_step_moves_backbone():
    net = create_model("resnet_tiny", width=8, num_joints=3, pairwise=True,
                       intermediate_supervision=True, freeze_bn=True)
    with_loss = ArtTrackWithLoss(net)
    assert with_loss.input_names == ("image", "scmap", "scmap_weights", "locref_map",
                                     "locref_mask", "pairwise_map", "pairwise_mask")
    # the data pipeline's columns, in the same order
    assert tuple(column_names(pairwise=True)) == with_loss.input_names
    rng = np.random.default_rng(3)
    x = ms.Tensor(rng.normal(0, 50, (2, 3, 64, 80)).astype(np.float32))
    tg = [ms.Tensor(np.ascontiguousarray(t.transpose(0, 2, 3, 1)))
          for t in _targets(rng, 3, net.map_size(64, 80))]
    step = nn.TrainOneStepCell(with_loss, nn.Momentum(net.trainable_params(), 0.01, 0.9))
    step.set_train(True)
    watch = {n: p.asnumpy().copy() for n, p in net.parameters_and_names()
             if n in ("backbone.conv1.weight", "backbone.layer1.0.conv1.weight",
                      "backbone.layer3.0.bn1.gamma", "backbone.bn1.moving_mean",
                      "part_pred_interm.deconv.weight", "locref_pred.deconv.weight")}
    assert len(watch) == 6
    l0 = float(step(x, *tg))
    for _ in range(2):
        step(x, *tg)
    l1 = float(with_loss(x, *tg))
    params = dict(net.parameters_and_names())
    for n, before in watch.items():
        moved = not np.array_equal(before, params[n].asnumpy())
        assert moved is (n != "backbone.bn1.moving_mean"), n  # BN stats frozen (freeze_bn)
    assert np.isfinite(l0) and l1 < l0
