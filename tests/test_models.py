"""Network construction, output contract and checkpoints (tiny nets on CPU)."""

from __future__ import annotations

import math

import mindspore as ms
import numpy as np
import pytest

from arttrack.models import (
    ModelConfig, create_model, load_backbone_checkpoint, model_from_checkpoint,
    outputs_as_dict, save_model_checkpoint,
)

TINY = dict(width=8, num_joints=3)


pytestmark = pytest.mark.usefixtures("ms_pynative_cpu")


def _x(n, h, w, seed=0):
    return ms.Tensor(np.random.default_rng(seed).normal(0, 50, (n, 3, h, w)).astype(np.float32))


@pytest.mark.parametrize("output_stride", [8, 16, 32])
def test_output_shapes_and_order(output_stride):
    net = create_model("resnet_tiny", pairwise=True, intermediate_supervision=True,
                       output_stride=output_stride, **TINY)
    net.set_train(False)
    assert net.output_names == ("part", "locref", "pairwise", "part_interm")
    assert net.stride == output_stride // 2
    for h, w in [(64, 64), (70, 97), (96, 128)]:
        outs = net(_x(2, h, w))
        mh, mw = 2 * math.ceil(h / output_stride), 2 * math.ceil(w / output_stride)
        assert net.map_size(h, w) == (mh, mw)
        expected = net.output_shapes(h, w, batch=2)
        assert list(expected) == list(net.output_names)
        assert [tuple(o.shape) for o in outs] == list(expected.values())
        assert [tuple(o.shape)[1] for o in outs] == [3, 6, 12, 3]
        assert all(tuple(o.shape)[2:] == (mh, mw) for o in outs)


def test_output_subsets_and_dict():
    net = create_model("resnet_tiny", locref=False, **TINY)
    assert net.output_names == ("part",)
    net = create_model("resnet_tiny", locref=False, pairwise=True, **TINY)
    assert net.output_names == ("part", "pairwise")
    net.set_train(False)
    d = outputs_as_dict(net, net(_x(1, 64, 64)))
    assert tuple(d["pairwise"].shape) == (1, 12, 8, 8)
    with pytest.raises(ValueError):
        outputs_as_dict(net, (1,))


def test_graph_mode_matches_pynative():
    net = create_model("resnet_tiny", pairwise=True, intermediate_supervision=True, **TINY)
    net.set_train(False)
    x = _x(1, 64, 80)
    ref = [o.asnumpy() for o in net(x)]
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        got = [o.asnumpy() for o in net(x)]
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    for a, b in zip(ref, got):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


def test_intermediate_layer_defaults_and_validation():
    assert ModelConfig("resnet101", intermediate_supervision=True).interm_layer == 12
    assert ModelConfig("resnet50", intermediate_supervision=True).interm_layer == 6
    assert ModelConfig("resnet101").interm_layer is None
    net = create_model("resnet_tiny", intermediate_supervision=True, depths=(1, 1, 3, 1), **TINY)
    assert net.backbone.tap_layer3_unit == 3
    net = create_model("resnet_tiny", intermediate_supervision=True, depths=(1, 1, 3, 1),
                       intermediate_supervision_layer=2, **TINY)
    assert net.backbone.tap_layer3_unit == 2
    assert "part_pred_interm.deconv.weight" in {p.name for p in net.get_parameters()}
    # beyond layer3's depth: clamped (the config default 12 on small nets); < 1: error
    net = create_model("resnet_tiny", intermediate_supervision=True,
                       intermediate_supervision_layer=12, **TINY)
    assert net.backbone.tap_layer3_unit == 1
    with pytest.raises(ValueError, match="intermediate_supervision_layer"):
        create_model("resnet_tiny", intermediate_supervision=True,
                     intermediate_supervision_layer=0, **TINY)
    from arttrack.models.resnet import ResNet
    with pytest.raises(ValueError, match="tap_layer3_unit"):
        ResNet(depths=(1, 1, 1, 1), width=8, tap_layer3_unit=2)


def test_model_kwargs_from_config():
    from arttrack.models import model_kwargs_from_config

    cfg = {"net_type": "resnet_tiny", "joint_set": "coco17", "depths": [1, 1, 2, 1], "width": 8,
           "pairwise_predict": True, "intermediate_supervision": True,
           "intermediate_supervision_layer": 12, "freeze_bn": True}
    net = create_model(**model_kwargs_from_config(cfg))
    assert net.num_joints == 17 and net.backbone.tap_layer3_unit == 2
    assert net.output_names == ("part", "locref", "pairwise", "part_interm")
    from arttrack.config import Config

    kw = model_kwargs_from_config(Config())
    assert kw["name"] == "resnet101" and kw["num_joints"] == 14


def test_bad_config():
    with pytest.raises(ValueError, match="unknown architecture"):
        create_model("vgg16")
    with pytest.raises(ValueError, match="unknown model config keys"):
        create_model("resnet_tiny", num_jionts=3)
    with pytest.raises(ValueError, match="output_stride"):
        create_model("resnet_tiny", output_stride=4)


@pytest.mark.parametrize("freeze_bn", [True, False])
def test_trainable_parameters_and_bn(freeze_bn):
    net = create_model("resnet_tiny", pairwise=True, intermediate_supervision=True,
                       freeze_bn=freeze_bn, **TINY)
    all_p = {p.name for p in net.get_parameters()}
    trainable = {p.name for p in net.trainable_params()}
    stats = {n for n in all_p if n.endswith(("moving_mean", "moving_variance"))}
    assert stats and trainable == all_p - stats  # everything but BN statistics trains
    assert any(n.startswith("backbone.conv1") for n in trainable)
    assert any(n.endswith("gamma") for n in trainable)
    # BN statistics: frozen -> untouched by a training-mode forward, else updated.
    net.set_train(True)
    before = net.backbone.bn1.moving_mean.asnumpy().copy()
    net(_x(2, 64, 64))
    changed = not np.allclose(before, net.backbone.bn1.moving_mean.asnumpy())
    assert changed is (not freeze_bn)


def test_basic_block_model():
    net = create_model("resnet_tiny_basic", **TINY)
    net.set_train(False)
    assert net.backbone.out_channels == 64
    assert tuple(net(_x(1, 64, 64))[0].shape) == (1, 3, 8, 8)


def test_checkpoint_roundtrip_and_wrong_arch(tmp_path):
    net = create_model("resnet_tiny", pairwise=True, **TINY)
    net.set_train(False)
    ck = save_model_checkpoint(net, tmp_path / "m.ckpt", {"joint_set": "x"})
    assert (tmp_path / "m.ckpt.json").is_file()
    net2 = model_from_checkpoint(ck)
    net2.set_train(False)
    x = _x(1, 64, 64)
    for a, b in zip(net(x), net2(x)):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    other = create_model("resnet_tiny", depths=(1, 2, 1, 1), **TINY)
    with pytest.raises(ValueError, match="does not fit model"):
        load_backbone_checkpoint(other, ck)
    wide = create_model("resnet_tiny", width=16, num_joints=3)
    with pytest.raises(ValueError, match="shape mismatch"):
        load_backbone_checkpoint(wide, ck)
    with pytest.raises(FileNotFoundError):
        load_backbone_checkpoint(net, tmp_path / "nope.ckpt")
