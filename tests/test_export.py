"""ONNX / MINDIR export of a tiny network, metadata, and the export CLI."""

from __future__ import annotations

import json

import mindspore as ms
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from mindspore import nn

from arttrack import config
from arttrack import export as export_cli
from arttrack.deploy import export
from arttrack.models import checkpoint
from arttrack.joints import MPII14
from arttrack.models import create_model, save_model_checkpoint

J = 14


pytestmark = pytest.mark.usefixtures("ms_pynative_cpu")


def _net(output_stride=16):
    net = create_model("resnet_tiny", width=8, num_joints=J, pairwise=True,
                       intermediate_supervision=True, output_stride=output_stride)
    net.set_train(False)
    return net


def _image(h, w):
    rng = np.random.default_rng(5)
    return (rng.uniform(0, 255, (1, 3, h, w)) - np.array(export.MEAN_PIXEL)[:, None, None]
            ).astype(np.float32)


@pytest.mark.parametrize("output_stride", [16, 8])
def test_onnx_matches_mindspore(tmp_path, output_stride):
    net = _net(output_stride)
    h, w = 72, 100
    out = export.export_model(net, "ONNX", h, w, tmp_path / "m",
                              {"joint_set": "mpii14", "locref_stdev": 7.2801,
                               "pairwise_stats": {"mean": np.zeros((J, J, 2))}})
    assert out.name == "m.onnx"
    model = onnx.load(str(out))
    assert not [a for n in model.graph.node if n.op_type == "ConvTranspose"
                for a in n.attribute if a.name == "output_shape"]
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == ["part_prob", "locref", "pairwise"]
    assert sess.get_inputs()[0].name == "image"
    x = _image(h, w)
    got = sess.run(None, {"image": x})
    ref = [o.asnumpy() for o in export.InferenceNet(net)(ms.Tensor(x))]
    raw = net(ms.Tensor(x))
    np.testing.assert_allclose(ref[0], 1 / (1 + np.exp(-np.clip(raw[0].asnumpy(), -60, 60))),
                               atol=1e-6)
    mh, mw = net.map_size(h, w)
    assert [g.shape for g in got] == [(1, J, mh, mw), (1, 2 * J, mh, mw),
                                      (1, 2 * J * (J - 1), mh, mw)]
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, atol=1e-4, rtol=1e-4)

    meta = json.loads((tmp_path / "m.onnx.json").read_text())
    assert meta["input"]["shape"] == [1, 3, h, w] and meta["input"]["layout"] == "NCHW"
    assert meta["input"]["mean_pixel"] == [123.68, 116.779, 103.939]
    assert meta["input"]["scale"] == 1.0
    assert meta["output_names"] == ["part_prob", "locref", "pairwise"]
    assert [o["shape"] for o in meta["outputs"]] == [list(g.shape) for g in got]
    assert meta["stride"] == output_stride // 2
    assert meta["joint_names"] == list(MPII14.names)
    assert meta["locref_stdev"] == 7.2801
    assert np.array(meta["pairwise_stats"]["mean"]).shape == (J, J, 2)
    assert meta["model"]["output_stride"] == output_stride
    assert not list(tmp_path.glob(".*"))


def test_mindir_loads_back(tmp_path):
    net = _net()
    h, w = 64, 96
    out = export.export_model(net, "MINDIR", h, w, tmp_path / "m.mindir")
    graph = nn.GraphCell(ms.load(str(out)))
    x = ms.Tensor(_image(h, w))
    got = graph(x)
    ref = export.InferenceNet(net)(x)
    assert len(got) == 3
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g.asnumpy(), r.asnumpy(), atol=1e-4, rtol=1e-4)
    meta = json.loads((tmp_path / "m.mindir.json").read_text())
    assert meta["format"] == "MINDIR" and meta["map_size"] == list(net.map_size(h, w))


def test_air_needs_ascend(tmp_path):
    # this module runs on the CPU (the ms_pynative_cpu fixture), on any machine
    assert ms.get_context("device_target") == "CPU"
    with pytest.raises(RuntimeError, match="AIR export needs an Ascend device"):
        export.export_model(_net(), "AIR", 64, 64, tmp_path / "m")
    with pytest.raises(ValueError, match="unknown export format"):
        export.export_model(_net(), "TFLITE", 64, 64, tmp_path / "m")
    with pytest.raises(ValueError, match="joint names"):
        export.export_model(_net(), "MINDIR", 64, 64, tmp_path / "m",
                            {"joint_names": ["a", "b"]})
    assert not list(tmp_path.iterdir())


def test_cli(tmp_path, capsys):
    net = _net()
    ckpt = save_model_checkpoint(net, tmp_path / "snap.ckpt", {"joint_set": "mpii14"})
    out = tmp_path / "exp" / "model.mindir"
    rc = export_cli.main(["--ckpt", str(ckpt), "--format", "mindir", "--height", "64", "--width",
                      "80", "--out", str(out), "--locref-stdev", "7.2801"])
    assert rc == 0, capsys.readouterr().err
    meta = json.loads((tmp_path / "exp" / "model.mindir.json").read_text())
    assert meta["joint_names"][0] == "r_ankle" and meta["locref_stdev"] == 7.2801
    assert meta["output_names"] == ["part_prob", "locref", "pairwise"]

    # explicit hyper-parameters without side metadata; wrong ones give one clear line
    bare = tmp_path / "bare.ckpt"
    ms.save_checkpoint(net, str(bare))
    rc = export_cli.main(["--ckpt", str(bare), "--height", "64", "--width", "64",
                      "--out", str(tmp_path / "x"), "--arch", "resnet_tiny"])
    err = capsys.readouterr().err
    assert rc == 2 and "does not fit model 'resnet_tiny'" in err and err.count("\n") == 1
    rc = export_cli.main(["--ckpt", str(bare), "--height", "64", "--width", "64",
                      "--out", str(tmp_path / "x")])
    assert rc == 2 and "pass --arch" in capsys.readouterr().err
    rc = export_cli.main(["--ckpt", str(bare), "--height", "64", "--width", "64", "--out",
                      str(tmp_path / "x"), "--arch", "resnet_tiny", "--base-width", "8",
                      "--num-joints", str(J), "--pairwise", "--intermediate-supervision"])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "x.mindir").is_file()


def test_cli_with_experiment_config(tmp_path, capsys):
    cfg = config.Config(net_type="resnet_tiny", width=8, depths=(1, 1, 1, 1), joint_set="coco17",
                        multi_person=True, pairwise_predict=True, locref_stdev=7.5,
                        intermediate_supervision=True)
    net = create_model("resnet_tiny", width=8, num_joints=17, pairwise=True,
                       intermediate_supervision=True)
    ckpt = checkpoint.save_checkpoint(net, tmp_path / "snap", 10, cfg)
    out = tmp_path / "m.mindir"
    # the config embedded in the training checkpoint is enough
    rc = export_cli.main(["--ckpt", str(ckpt), "--height", "64", "--width", "64", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    meta = json.loads((tmp_path / "m.mindir.json").read_text())
    assert meta["joint_names"][0] == "nose" and meta["locref_stdev"] == 7.5
    assert meta["output_names"] == ["part_prob", "locref", "pairwise"]
    # an explicit config file that disagrees with the weights is a one-line error
    config.save_config(cfg.replace(width=16), tmp_path / "c.yaml")
    rc = export_cli.main(["--ckpt", str(ckpt), "--config", str(tmp_path / "c.yaml"), "--height", "64",
                      "--width", "64", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "shape mismatch" in err and err.count("\n") == 1
