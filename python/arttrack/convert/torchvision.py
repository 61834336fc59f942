"""Convert torchvision/timm ResNet ImageNet weights to an arttrack backbone checkpoint.

::

    python -m arttrack.convert torch --src resnet101.safetensors --arch resnet101 --out resnet101_in1k.ckpt

Input: a state dict in torchvision / timm naming (``conv1.weight``, ``bn1.running_mean``,
``layer1.0.conv1.weight``, ``layer1.0.downsample.0.weight``, ``fc.*`` ...) stored as
``.safetensors`` (or ``.npz``); ``.pth``/``.pt`` needs PyTorch, which is optional and not
a dependency of arttrack (without it, convert the file to safetensors elsewhere:
``safetensors.torch.save_file(torch.load(f), "x.safetensors")``). Prefixes ``module.``
and ``model.`` are stripped; ``fc.*`` and ``num_batches_tracked`` are ignored.

Output: a MindSpore checkpoint with names ``backbone.<torchvision name>`` where BatchNorm
``weight/bias/running_mean/running_var`` become ``gamma/beta/moving_mean/moving_variance``,
loadable with ``create_model(arch, pretrained=out)``, plus ``<out>.json`` describing the
source. Every shape is checked; missing or mismatched parameters are an error (the usual
sign of weights for another architecture), unexpected keys are reported.

Note: torchvision/timm ResNets put the bottleneck stride on the first unit's 3x3
convolution, as does :class:`arttrack.models.resnet.ResNet`. TF-slim weights (the stride on
each block's last unit) have their own layout and converter, :mod:`arttrack.convert.tf`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from arttrack.io.atomic import atomic_path

__all__ = ["ConversionReport", "convert_file", "convert_state_dict", "load_state_dict_file"]

logger = logging.getLogger(__name__)

_BN_RENAME = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
              "running_var": "moving_variance"}
_STRIP_PREFIXES = ("module.", "model.", "backbone.", "encoder.")
_IGNORED = re.compile(r"(^fc\.|^head\.|^classifier\.|num_batches_tracked$)")


@dataclass
class ConversionReport:
    converted: int = 0
    missing: list[str] = field(default_factory=list)      # model params without source
    unexpected: list[str] = field(default_factory=list)   # source keys not used
    mismatched: list[str] = field(default_factory=list)   # "name: src shape vs model shape"
    ignored: list[str] = field(default_factory=list)      # fc / num_batches_tracked
    source_depths: tuple[int, ...] | None = None

    @property
    def ok(self) -> bool:
        return not self.missing and not self.mismatched

    def summary(self) -> str:
        s = (f"{self.converted} converted, {len(self.missing)} missing, "
             f"{len(self.mismatched)} shape mismatches, {len(self.unexpected)} unexpected, "
             f"{len(self.ignored)} ignored")
        if self.mismatched:
            s += f"; first mismatch {self.mismatched[0]}"
        if self.missing:
            s += f"; first missing {self.missing[0]}"
        if self.unexpected:
            s += f"; first unexpected {self.unexpected[0]}"
        return s


def load_state_dict_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a state dict as ``{name: float32 ndarray}`` from .safetensors, .npz or .pth."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"source weights {str(path)!r} do not exist")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            sd = load_file(str(path))
        except Exception as exc:
            raise ValueError(f"cannot read safetensors file {str(path)!r}: {exc}") from exc
    elif suffix == ".npz":
        with np.load(path) as z:
            sd = {k: z[k] for k in z.files}
    elif suffix in (".pth", ".pt", ".bin"):
        try:
            import torch  # noqa: F401 - optional
        except ImportError:
            raise RuntimeError(
                f"{str(path)!r} is a PyTorch file but PyTorch is not installed (it is not an "
                "arttrack dependency); install torch, or convert it to .safetensors with "
                "safetensors.torch.save_file(torch.load(f, map_location='cpu'), 'x.safetensors')"
            ) from None
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
        if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
            obj = obj["state_dict"]
        sd = {k: v.detach().float().numpy() for k, v in obj.items() if hasattr(v, "detach")}
    else:
        raise ValueError(f"unsupported weights format {suffix!r} for {str(path)!r}; "
                         "use .safetensors, .npz or .pth")
    return {k: np.asarray(v) for k, v in sd.items()}


def _strip(name: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in _STRIP_PREFIXES:
            if name.startswith(p):
                name, changed = name[len(p):], True
    return name


def _source_depths(keys) -> tuple[int, ...] | None:
    counts = []
    for i in range(1, 5):
        ids = {int(m.group(1)) for k in keys if (m := re.match(rf"layer{i}\.(\d+)\.", k))}
        counts.append(max(ids) + 1 if ids else 0)
    return tuple(counts) if any(counts) else None


def _backbone_shapes(arch: str, depths=None, width=None, block=None) -> dict[str, tuple]:
    """Parameter names (``backbone.*``) and shapes of the arttrack backbone for ``arch``."""
    from arttrack.models import ModelConfig
    from arttrack.models.resnet import ResNet

    cfg = ModelConfig(arch=arch, depths=depths, width=width, block=block)
    blk, d, w = cfg.resolved
    net = ResNet(depths=d, width=w, block=blk)
    return {"backbone." + p.name: tuple(p.shape) for p in net.get_parameters()}


def convert_state_dict(state: Mapping[str, np.ndarray], arch: str = "resnet101", *,
                       depths=None, width=None, block=None,
                       ) -> tuple[dict[str, np.ndarray], ConversionReport]:
    """Map a torchvision/timm ResNet state dict onto the arttrack backbone of ``arch``.

    Returns ``(params, report)``; ``params`` maps MindSpore names to float32 arrays.
    The caller decides what to do when ``not report.ok``.
    """
    target = _backbone_shapes(arch, depths, width, block)
    report = ConversionReport()
    params: dict[str, np.ndarray] = {}
    bad_shape: set[str] = set()
    stripped = {}
    for k, v in state.items():
        s = _strip(k)
        if _IGNORED.search(s):
            report.ignored.append(k)
            continue
        stripped[s] = (k, v)
    report.source_depths = _source_depths(stripped)
    for s, (orig, v) in stripped.items():
        mod, _, leaf = s.rpartition(".")
        cands = ["backbone." + s]
        if leaf in _BN_RENAME:
            cands.append(f"backbone.{mod}.{_BN_RENAME[leaf]}")
        name = next((c for c in cands if c in target), None)
        if name is None:
            report.unexpected.append(orig)
            continue
        arr = np.asarray(v, dtype=np.float32)
        if tuple(arr.shape) != target[name]:
            report.mismatched.append(f"{orig}: source {tuple(arr.shape)} vs model {target[name]}")
            bad_shape.add(name)
            continue
        if name in params:
            report.unexpected.append(orig)
            continue
        params[name] = np.ascontiguousarray(arr)
    report.missing = sorted(n for n in target if n not in params and n not in bad_shape)
    report.converted = len(params)
    return params, report


def _arch_hint(depths: tuple[int, ...] | None) -> str:
    if not depths:
        return ""
    from arttrack.models import ARCHS

    names = [n for n, (_, d, _) in ARCHS.items() if d == depths and n != "resnet"]
    return (f" (the source has layer depths {depths}"
            + (f", like {'/'.join(names)}" if names else "") + ")")


def convert_file(src: str | os.PathLike, out: str | os.PathLike, arch: str = "resnet101", *,
                 depths=None, width=None, block=None, strict: bool = False) -> ConversionReport:
    """Convert ``src`` to the MindSpore checkpoint ``out`` (+ ``<out>.json``).

    Raises ``ValueError`` when parameters are missing or have the wrong shape (and, with
    ``strict``, when there are unexpected keys); nothing is written then.
    """
    import mindspore as ms

    from arttrack.models import ModelConfig, checkpoint_meta_path

    state = load_state_dict_file(src)
    params, report = convert_state_dict(state, arch, depths=depths, width=width, block=block)
    logger.info("convert %s -> %s: %s", src, arch, report.summary())
    if not report.ok or (strict and report.unexpected):
        raise ValueError(f"{str(src)!r} does not fit {arch!r}{_arch_hint(report.source_depths)}: "
                         + report.summary())
    if report.unexpected:
        logger.warning("ignoring %d unexpected keys (first: %s)", len(report.unexpected),
                       report.unexpected[0])
    out = Path(out)
    if out.suffix != ".ckpt":
        raise ValueError(f"output must end in .ckpt, got {str(out)!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:  # keeps the .ckpt suffix MindSpore insists on
        ms.save_checkpoint([{"name": k, "data": ms.Tensor(v)} for k, v in sorted(params.items())],
                           str(tmp))
    cfg = ModelConfig(arch=arch, depths=depths, width=width, block=block)
    blk, d, w = cfg.resolved
    meta = {"kind": "backbone", "source": str(src), "arch": arch,
            "backbone": {"block": blk, "depths": list(d), "width": w},
            "converted": report.converted, "ignored": len(report.ignored),
            "unexpected": report.unexpected}
    with atomic_path(checkpoint_meta_path(out)) as tmpm:
        tmpm.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return report
