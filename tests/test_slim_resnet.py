"""TF-slim resnet_v1 in MindSpore (arttrack.models.slim_resnet): the unit schedule of
resnet_utils.stack_blocks_dense, TensorFlow's SAME max pool, parameter naming, and the
network's wiring into ArtTrackNet. Numerical parity with the authors' TensorFlow graph is
tested in tests/test_deepercut_import.py."""

from __future__ import annotations

import mindspore as ms
import numpy as np
import pytest

from arttrack.models import create_model
from arttrack.models.slim_resnet import SlimResNetV1, slim_unit_schedule, tf_variable_name

ms.set_device("CPU")


def test_unit_schedule_resnet101_output_stride_16():
    # stack_blocks_dense with output_stride 16 (4 after the root): the stride sits on each
    # block's last unit; block3's last unit runs at stride 1, and block4 at rate 2.
    sched, after, tap3 = slim_unit_schedule((3, 4, 23, 3), 16)
    assert [len(b) for b in sched] == [3, 4, 23, 3]
    assert sched[0] == [(1, 1), (1, 1), (2, 1)]
    assert sched[1] == [(1, 1)] * 3 + [(2, 1)]
    assert sched[2] == [(1, 1)] * 23
    assert sched[3] == [(1, 2)] * 3
    assert after == [8, 16, 16, 16] and tap3 == 16


def test_unit_schedule_other_strides():
    sched, after, _ = slim_unit_schedule((3, 4, 6, 3), 8)
    assert sched[0][-1] == (2, 1) and sched[1] == [(1, 1)] * 4
    assert sched[2] == [(1, 2)] * 6 and sched[3] == [(1, 4)] * 3
    assert after == [8, 8, 8, 8]
    sched, after, _ = slim_unit_schedule((3, 4, 6, 3), 32)
    assert sched[2][-1] == (2, 1) and sched[3] == [(1, 1)] * 3 and after == [8, 16, 32, 32]
    with pytest.raises(ValueError, match="multiple of 4"):
        slim_unit_schedule((1, 1, 1, 1), 6)


def _tf_same_max_pool(x: np.ndarray) -> np.ndarray:
    """3x3 / stride 2 max pool, TensorFlow SAME: output ceil(n/2), total padding
    max((out-1)*2 + 3 - n, 0), the smaller half first, padded with -inf."""
    n, c, h, w = x.shape
    oh, ow = -(-h // 2), -(-w // 2)
    ph, pw = max((oh - 1) * 2 + 3 - h, 0), max((ow - 1) * 2 + 3 - w, 0)
    xp = np.full((n, c, h + ph, w + pw), -np.inf, np.float32)
    xp[:, :, ph // 2:ph // 2 + h, pw // 2:pw // 2 + w] = x
    out = np.empty((n, c, oh, ow), np.float32)
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = xp[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(2, 3))
    return out


@pytest.mark.parametrize("h, w", [(8, 8), (7, 9), (10, 5), (1, 2)])
def test_root_max_pool_is_tensorflow_same(h, w):
    net = SlimResNetV1(depths=(1, 1, 1, 1), width=1)
    rng = np.random.default_rng(h * 10 + w)
    x = np.abs(rng.normal(size=(2, 3, h, w))).astype(np.float32)  # post-ReLU input, >= 0
    got = net._max_pool_same(ms.Tensor(x)).asnumpy()
    np.testing.assert_array_equal(got, _tf_same_max_pool(x))


def test_parameter_names_map_to_tf_slim_variables():
    net = create_model("resnet_v1", depths=(2, 1, 3, 1), width=2, num_joints=3)
    names = {p.name for p in net.get_parameters() if p.name.startswith("backbone.")}
    tf_names = {tf_variable_name(n[len("backbone."):], "resnet_v1_50")[0] for n in names}
    assert len(tf_names) == len(names)  # one TF variable per parameter
    assert "resnet_v1_50/conv1/weights" in tf_names
    assert "resnet_v1_50/conv1/BatchNorm/moving_variance" in tf_names
    # the shortcut convolution exists in unit_1 only; the last unit's shortcut subsamples
    shortcuts = sorted(n for n in tf_names if "/shortcut/weights" in n)
    assert shortcuts == [f"resnet_v1_50/block{b}/unit_1/bottleneck_v1/shortcut/weights"
                         for b in (1, 2, 3, 4)]
    assert "resnet_v1_50/block3/unit_3/bottleneck_v1/conv2/BatchNorm/gamma" in tf_names
    with pytest.raises(ValueError, match="not a TF-slim backbone parameter"):
        tf_variable_name("layer1.0.conv1.weight", "resnet_v1_50")


@pytest.mark.parametrize("h, w", [(80, 96), (75, 91), (33, 17)])
def test_map_size_and_heads_at_any_input_size(h, w):
    net = create_model("resnet_v1", depths=(2, 2, 12, 2), width=1, num_joints=17, pairwise=True,
                       intermediate_supervision=True, intermediate_supervision_layer=12)
    assert net.input_multiple == 1 and net.backbone.tap_stride == 16
    outs = dict(zip(net.output_names, net(ms.Tensor(np.zeros((1, 3, h, w), np.float32)))))
    mh, mw = 2 * -(-h // 16), 2 * -(-w // 16)
    assert outs["part"].shape == (1, 17, mh, mw)
    assert outs["pairwise"].shape == (1, 2 * 17 * 16, mh, mw)
    assert outs["part_interm"].shape == (1, 17, mh, mw)


def test_slim_block_needs_a_slim_name():
    with pytest.raises(ValueError, match="TF-slim layout"):
        create_model("resnet_v1_50", block="bottleneck", num_joints=3)


def test_gradients_in_pynative_mode():
    """Training in PyNative mode: MindSpore 2.10 fails the gradient of strided slices
    there, so the subsampling shortcut and the max pool's padding avoid them."""
    net = SlimResNetV1(depths=(2, 2, 2, 2), width=2)
    x = ms.Tensor(np.random.default_rng(0).normal(size=(2, 3, 71, 64)).astype(np.float32))
    grads = ms.grad(lambda x: net(x).sum(), grad_position=None, weights=net.trainable_params())(x)
    assert len(grads) == len(net.trainable_params())
    assert all(np.isfinite(g.asnumpy()).all() for g in grads)
    assert any(np.abs(g.asnumpy()).max() > 0 for g in grads)
