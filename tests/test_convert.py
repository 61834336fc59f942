"""ImageNet weight conversion from generated torchvision-style state dicts (no download)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import safetensors.numpy as safetensors_numpy

from arttrack import convert
from arttrack.models import create_model


pytestmark = pytest.mark.usefixtures("ms_pynative_cpu")


def torchvision_state_dict(depths=(1, 1, 1, 1), width=16, seed=0, dtype=np.float32,
                           prefix=""):
    """A torchvision ResNet (bottleneck) state dict with random values, written from the
    torchvision naming convention (independently of arttrack's model code)."""
    rng = np.random.default_rng(seed)
    sd = {}

    def conv(name, cout, cin, k):
        sd[f"{prefix}{name}.weight"] = rng.normal(0, 0.1, (cout, cin, k, k)).astype(dtype)

    def bn(name, c):
        sd[f"{prefix}{name}.weight"] = rng.uniform(0.5, 1.5, c).astype(dtype)
        sd[f"{prefix}{name}.bias"] = rng.normal(0, 0.1, c).astype(dtype)
        sd[f"{prefix}{name}.running_mean"] = rng.normal(0, 0.1, c).astype(dtype)
        sd[f"{prefix}{name}.running_var"] = rng.uniform(0.5, 2.0, c).astype(dtype)
        sd[f"{prefix}{name}.num_batches_tracked"] = np.array(100, dtype=np.int64)

    conv("conv1", width, 3, 7)
    bn("bn1", width)
    cin = width
    for i, d in enumerate(depths):
        planes = width * 2 ** i
        for b in range(d):
            p = f"layer{i + 1}.{b}"
            conv(f"{p}.conv1", planes, cin, 1)
            bn(f"{p}.bn1", planes)
            conv(f"{p}.conv2", planes, planes, 3)
            bn(f"{p}.bn2", planes)
            conv(f"{p}.conv3", planes * 4, planes, 1)
            bn(f"{p}.bn3", planes * 4)
            if b == 0:
                conv(f"{p}.downsample.0", planes * 4, cin, 1)
                bn(f"{p}.downsample.1", planes * 4)
            cin = planes * 4
    sd[f"{prefix}fc.weight"] = rng.normal(0, 0.01, (10, cin)).astype(dtype)
    sd[f"{prefix}fc.bias"] = np.zeros(10, dtype)
    return sd


def test_convert_and_load(tmp_path):
    sd = torchvision_state_dict()
    src = tmp_path / "r.safetensors"
    safetensors_numpy.save_file(sd, str(src))
    out = tmp_path / "r.ckpt"
    assert convert.main(["--src", str(src), "--arch", "resnet_tiny", "--out", str(out)]) == 0
    assert out.is_file() and (tmp_path / "r.ckpt.json").is_file()
    assert not list(tmp_path.glob(".*tmp*"))
    net = create_model("resnet_tiny", num_joints=3, pretrained=out)
    p = dict(net.parameters_and_names())
    pairs = {
        "backbone.conv1.weight": "conv1.weight",
        "backbone.bn1.gamma": "bn1.weight",
        "backbone.bn1.beta": "bn1.bias",
        "backbone.bn1.moving_mean": "bn1.running_mean",
        "backbone.bn1.moving_variance": "bn1.running_var",
        "backbone.layer2.0.conv2.weight": "layer2.0.conv2.weight",
        "backbone.layer4.0.downsample.0.weight": "layer4.0.downsample.0.weight",
        "backbone.layer4.0.downsample.1.moving_variance": "layer4.0.downsample.1.running_var",
    }
    for ms_name, tv_name in pairs.items():
        np.testing.assert_array_equal(p[ms_name].asnumpy(), sd[tv_name])
    # every backbone parameter came from the source: 5 tensors per BN minus the counter
    n_src = sum(1 for k in sd if not k.startswith("fc.") and "num_batches" not in k)
    assert sum(1 for n in p if n.startswith("backbone.")) == n_src


def test_timm_prefix_and_fp16(tmp_path):
    sd = torchvision_state_dict(dtype=np.float16, prefix="module.")
    params, report = convert.convert_state_dict(sd, "resnet_tiny")
    assert report.ok and not report.unexpected and report.converted == len(params)
    assert all(v.dtype == np.float32 for v in params.values())
    assert len(report.ignored) == 2 + sum("num_batches" in k for k in sd)


def test_other_architecture_is_a_clear_error(tmp_path, capsys):
    src = tmp_path / "r.safetensors"
    safetensors_numpy.save_file(torchvision_state_dict(depths=(1, 1, 2, 1)), str(src))
    out = tmp_path / "r.ckpt"
    # extra layer3 block -> unexpected; fine alone, but strict refuses it
    with pytest.raises(ValueError, match="does not fit"):
        convert.convert_file(src, out, "resnet_tiny", strict=True)
    # fewer blocks than the model -> missing -> error naming the source depths
    with pytest.raises(ValueError, match=r"missing.*|depths \(1, 1, 2, 1\)"):
        convert.convert_file(src, out, "resnet_tiny", depths=(1, 1, 3, 1))
    assert not out.exists()
    # wrong width -> shape mismatches; the CLI prints one line and exits non-zero
    src8 = tmp_path / "w8.safetensors"
    safetensors_numpy.save_file(torchvision_state_dict(width=8), str(src8))
    rc = convert.main(["--src", str(src8), "--arch", "resnet_tiny", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "does not fit 'resnet_tiny'" in err and "shape mismatch" in err
    assert err.count("\n") == 1


def test_unsupported_inputs(tmp_path, capsys, monkeypatch):
    assert convert.main(["--src", str(tmp_path / "missing.safetensors"), "--arch",
                         "resnet_tiny", "--out", str(tmp_path / "o.ckpt")]) == 2
    assert "do not exist" in capsys.readouterr().err
    pth = tmp_path / "w.pth"
    pth.write_bytes(b"not really")
    # PyTorch is optional (not a dependency): without it, .pth is a clear error
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "torch", None)  # `import torch` fails, installed or not
        with pytest.raises(RuntimeError, match="PyTorch is not installed"):
            convert.load_state_dict_file(pth)
    with pytest.raises(ValueError, match="unsupported weights format"):
        (tmp_path / "w.h5").write_bytes(b"")
        convert.load_state_dict_file(tmp_path / "w.h5")
