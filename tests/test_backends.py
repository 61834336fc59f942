"""ONNX Runtime as the network's backend (arttrack.inference.backends): chosen by --backend auto on
the CPU, exported once per checkpoint and input size into the model cache, and giving
MindSpore's maps."""

from __future__ import annotations

from pathlib import Path

import cv2
import mindspore as ms
import numpy as np
import pytest

from arttrack.inference import backends
from arttrack.inference import Predictor

ms.set_device("CPU")
DATA = Path(__file__).parent / "data" / "deepercut"


def test_resolve_backend(monkeypatch):
    assert backends.resolve_backend("auto", "CPU") == "onnxruntime"  # installed with [test]
    assert backends.resolve_backend("auto", "GPU") == "mindspore"
    assert backends.resolve_backend("mindspore", "CPU") == "mindspore"
    with pytest.raises(ValueError, match="runs on the CPU"):
        backends.resolve_backend("onnxruntime", "Ascend")
    with pytest.raises(ValueError, match="backend must be one of"):
        backends.resolve_backend("tensorrt", "CPU")
    monkeypatch.setattr(backends, "onnxruntime_available", lambda: False)
    assert backends.resolve_backend("auto", "CPU") == "mindspore"
    with pytest.raises(ValueError, match=r"pip install 'arttrack\[onnx\]'"):
        backends.resolve_backend("onnxruntime", "CPU")


@pytest.fixture(scope="module")
def coco_model(tmp_path_factory):
    from arttrack.convert.tf import import_tf_pose_model

    out = tmp_path_factory.mktemp("coco") / "model.ckpt"
    import_tf_pose_model(DATA / "tiny-coco", out, pairwise_dir=DATA / "pairwise")
    return out


def _frames():
    img = cv2.cvtColor(cv2.imread(str(DATA / "astronaut.png")), cv2.COLOR_BGR2RGB)
    return [img, np.ascontiguousarray(img[:, ::-1]), np.roll(img, 7, axis=0)]


def test_onnxruntime_maps_equal_mindspore_and_the_export_is_reused(coco_model):
    """The authors' (test-sized) network at 80x96, three frames in batches of two (the last
    one padded): part probabilities, location refinement and pairwise offsets within 1e-4
    of MindSpore's; a second predictor of the same checkpoint exports nothing."""
    frames = _frames()
    ref = Predictor.from_checkpoint(coco_model, batch_size=2, backend="mindspore").maps(frames)
    ort = Predictor.from_checkpoint(coco_model, batch_size=2, backend="onnxruntime")
    got = ort.maps(frames)
    assert ort.onnx_net.exports == 1 and ort.onnx_net.model_path(2, 80, 96).is_file()
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a.part, b.part, atol=1e-4)
        np.testing.assert_allclose(a.locref, b.locref, atol=1e-4)
        np.testing.assert_allclose(a.pairwise, b.pairwise, atol=1e-4 * np.ptp(b.pairwise))
    again = Predictor.from_checkpoint(coco_model, batch_size=2, backend="onnxruntime")
    np.testing.assert_array_equal(again.maps(frames[0]).part, got[0].part)
    assert again.onnx_net.exports == 0  # the cached export of the same checkpoint and size


def test_another_network_gets_its_own_export(coco_model, tmp_path):
    from arttrack.models import create_model

    a = create_model("resnet_tiny", num_joints=3)
    b = create_model("resnet_tiny", num_joints=3)  # same architecture, other random weights
    assert backends.network_digest(a) != backends.network_digest(b)
    assert backends.network_digest(a) == backends.network_digest(a)


def test_predictor_rejects_an_unresolved_backend(coco_model):
    with pytest.raises(ValueError, match="resolve 'auto'"):
        Predictor.from_checkpoint(coco_model, backend="auto")
