"""Networks: ``create_model(name, **cfg)`` factory, model config and checkpoint helpers.

Example::

    from arttrack.models import create_model
    net = create_model("resnet101", num_joints=14, pairwise=True,
                       intermediate_supervision=True, pretrained="resnet101_imagenet.ckpt")
    part, locref, pairwise, part_interm = net(x)   # order == net.output_names

Importing this package imports MindSpore but sets no context; callers (CLI mains, tests)
choose the device and mode.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from arttrack.io.atomic import atomic_path

from .arttrack_net import OUTPUT_ORDER, ArtTrackNet, PredictionHead, outputs_as_dict
from .losses import ArtTrackLoss, ArtTrackWithLoss
from .resnet import BasicBlock, Bottleneck, ResNet
from .slim_resnet import SlimResNetV1

__all__ = [
    "ARCHS", "ArtTrackLoss", "ArtTrackNet", "ArtTrackWithLoss", "BasicBlock", "Bottleneck", "ModelConfig", "OUTPUT_ORDER",
    "PredictionHead", "ResNet", "SlimResNetV1", "checkpoint_meta_path", "create_model", "list_models",
    "load_backbone_checkpoint", "load_checkpoint_meta", "load_model_checkpoint",
    "model_from_checkpoint", "model_kwargs_from_config", "outputs_as_dict", "save_model_checkpoint",
]

logger = logging.getLogger(__name__)

# name -> (block, depths, width)
ARCHS: dict[str, tuple[str, tuple[int, int, int, int], int]] = {
    "resnet18": ("basic", (2, 2, 2, 2), 64),
    "resnet34": ("basic", (3, 4, 6, 3), 64),
    "resnet50": ("bottleneck", (3, 4, 6, 3), 64),
    "resnet101": ("bottleneck", (3, 4, 23, 3), 64),
    "resnet152": ("bottleneck", (3, 8, 36, 3), 64),
    # Small nets for tests and the demo model.
    "resnet_tiny": ("bottleneck", (1, 1, 1, 1), 16),
    "resnet_tiny_basic": ("basic", (1, 1, 1, 1), 16),
    # Fully custom: pass depths / width / block.
    "resnet": ("bottleneck", (1, 1, 1, 1), 64),
    # TF-slim resnet_v1 (arttrack.models.slim_resnet): the layout of the DeeperCut authors'
    # models and of TF-slim's ImageNet checkpoints (python -m arttrack.convert tf).
    "resnet_v1_50": ("slim", (3, 4, 6, 3), 64),
    "resnet_v1_101": ("slim", (3, 4, 23, 3), 64),
    "resnet_v1_152": ("slim", (3, 8, 36, 3), 64),
    "resnet_v1": ("slim", (1, 1, 1, 1), 64),  # custom depths / width
}

DEFAULT_INTERMEDIATE_LAYER = 12


def list_models() -> list[str]:
    return sorted(ARCHS)


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a network (stored beside checkpoints and exports)."""

    arch: str = "resnet101"
    num_joints: int = 14
    locref: bool = True
    pairwise: bool = False
    intermediate_supervision: bool = False
    # 1-based layer3 block feeding the intermediate head (DeeperCut's block3/unit_12).
    # None: min(12, number of layer3 blocks).
    intermediate_supervision_layer: int | None = None
    output_stride: int = 16
    # True: BatchNorm normalises with its moving statistics and never updates them
    # (DeeperCut; advisable with small batches). gamma/beta train either way.
    freeze_bn: bool = False
    depths: tuple[int, ...] | None = None  # None: the arch's own
    width: int | None = None
    block: str | None = None

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"unknown architecture {self.arch!r}; choose one of {list_models()}")
        if self.depths is not None:
            object.__setattr__(self, "depths", tuple(int(d) for d in self.depths))

    @property
    def resolved(self) -> tuple[str, tuple[int, ...], int]:
        block, depths, width = ARCHS[self.arch]
        return (self.block or block, tuple(self.depths or depths),
                int(self.width if self.width is not None else width))

    @property
    def interm_layer(self) -> int | None:
        """1-based layer3 block tapped by the intermediate head (None when disabled).

        A requested layer beyond layer3's depth (e.g. the default 12 on ResNet-50, which
        has 6 layer3 blocks) is clamped to the last block with a warning; < 1 is an error.
        """
        if not self.intermediate_supervision:
            return None
        n3 = self.resolved[1][2]
        layer = self.intermediate_supervision_layer
        if layer is None:
            return min(DEFAULT_INTERMEDIATE_LAYER, n3)
        layer = int(layer)
        if layer < 1:
            raise ValueError(f"intermediate_supervision_layer must be >= 1, got {layer}")
        if layer > n3:
            logger.warning("intermediate_supervision_layer %d > %d layer3 blocks of %s: "
                           "using block %d", layer, n3, self.arch, n3)
            return n3
        return layer

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["depths"] is not None:
            d["depths"] = list(d["depths"])
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model config keys {unknown}; known: {sorted(known)}")
        return cls(**d)


def create_model(name: str = "resnet101", *, pretrained: str | os.PathLike | None = None,
                 **cfg: Any) -> ArtTrackNet:
    """Build an :class:`ArtTrackNet`.

    Args:
        name: one of :func:`list_models` (``"resnet50"``, ``"resnet101"``, ``"resnet152"``,
            ``"resnet18"``, ``"resnet34"``, ``"resnet_tiny"``, ``"resnet"`` for custom;
            ``"resnet_v1_50"``, ``"resnet_v1_101"``, ``"resnet_v1_152"``, ``"resnet_v1"``
            for TF-slim's layout, that of the DeeperCut authors' models).
        pretrained: optional MindSpore checkpoint with backbone weights (from
            ``python -m arttrack.convert``) loaded as the backbone initialisation.
        **cfg: :class:`ModelConfig` fields: ``num_joints`` (14), ``locref`` (True),
            ``pairwise`` (False), ``intermediate_supervision`` (False),
            ``intermediate_supervision_layer`` (None -> min(12, layer3 blocks); larger
            values are clamped to layer3's depth), ``output_stride`` (16; 8 or 32),
            ``freeze_bn`` (False; True: BatchNorm uses and keeps its moving statistics,
            gamma/beta and every other weight still train),
            ``depths``, ``width``, ``block`` (override the architecture's).

    The network gets a ``model_config`` attribute holding the :class:`ModelConfig`.
    """
    config = ModelConfig.from_dict({"arch": name, **cfg})
    block, depths, width = config.resolved
    if (block == "slim") != (ARCHS[config.arch][0] == "slim"):
        raise ValueError(f"block {block!r} does not fit architecture {config.arch!r}: the "
                         "TF-slim layout is chosen by a resnet_v1_* name")
    if block == "slim":
        backbone = SlimResNetV1(depths=depths, width=width, output_stride=config.output_stride,
                                freeze_bn=config.freeze_bn, tap_layer3_unit=config.interm_layer)
    else:
        backbone = ResNet(depths=depths, width=width, block=block,
                          output_stride=config.output_stride, freeze_bn=config.freeze_bn,
                          tap_layer3_unit=config.interm_layer)
    net = ArtTrackNet(backbone, config.num_joints, locref=config.locref,
                      pairwise=config.pairwise,
                      intermediate_supervision=config.intermediate_supervision)
    net.model_config = config
    if pretrained is not None:
        load_backbone_checkpoint(net, pretrained)
    return net


def model_kwargs_from_config(cfg: Any) -> dict[str, Any]:
    """``create_model`` arguments from an :class:`arttrack.config.Config` (or any object /
    mapping with its field names): ``create_model(**model_kwargs_from_config(cfg))``."""
    get = (lambda k, d=None: cfg.get(k, d)) if isinstance(cfg, Mapping) else (
        lambda k, d=None: getattr(cfg, k, d))
    from arttrack.joints import get_joint_set

    depths = get("depths") or None
    kw: dict[str, Any] = {
        "name": get("net_type", "resnet101"),
        "num_joints": get_joint_set(get("joint_set", "mpii14")).num_joints,
        "locref": bool(get("location_refinement", True)),
        "pairwise": bool(get("pairwise_predict", False)),
        "intermediate_supervision": bool(get("intermediate_supervision", False)),
        "intermediate_supervision_layer": get("intermediate_supervision_layer"),
        "output_stride": int(get("output_stride", 16)),
        "freeze_bn": bool(get("freeze_bn", False)),
        "depths": tuple(depths) if depths else None,
        "width": get("width") or None,  # 0 or None: the architecture's own
    }
    return kw


def _load_ckpt_dict(path: str | os.PathLike) -> dict:
    import mindspore as ms

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        params = ms.load_checkpoint(str(path))
    except Exception as exc:  # MindSpore raises ValueError/RuntimeError on bad files
        raise ValueError(f"cannot read MindSpore checkpoint {str(path)!r}: {exc}") from exc
    # A training checkpoint (arttrack.train) holds the whole train cell: the network's
    # parameters under "network." plus optimizer state. Keep the network's, unprefixed.
    if any(k.startswith("network.") for k in params):
        params = {k[len("network."):]: v for k, v in params.items() if k.startswith("network.")}
    return params


_OPTIMIZER_STATE = ("moments.", "accum.", "moment1.", "moment2.", "learning_rate",
                    "global_step", "momentum", "beta1_power", "beta2_power", "scale_sense",
                    "current_iterator_step", "last_overflow_iterator_step", "epoch_num",
                    "step_num", "arttrack_config", "arttrack_step")


def _check_and_load(net, params: dict, *, required_prefix: str, what: str, path) -> None:
    import mindspore as ms

    params = {k: v for k, v in params.items() if not k.startswith(_OPTIMIZER_STATE)}
    own = {p.name: p for p in net.get_parameters()}
    mismatched = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
                  for k, v in params.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    missing = sorted(k for k in own if k.startswith(required_prefix) and k not in params)
    unexpected = sorted(k for k in params if k not in own)
    if mismatched or missing:
        arch = getattr(getattr(net, "model_config", None), "arch", "?")
        parts = []
        if mismatched:
            parts.append(f"{len(mismatched)} shape mismatches (first: {mismatched[0]})")
        if missing:
            parts.append(f"{len(missing)} missing parameters (first: {missing[0]})")
        raise ValueError(f"{what} {str(path)!r} does not fit model {arch!r}: "
                         + "; ".join(parts) + " -- was it made for another architecture/config?")
    if unexpected:
        logger.warning("%s %s: ignoring %d unexpected parameters (first: %s)", what, path,
                       len(unexpected), unexpected[0])
    ms.load_param_into_net(net, {k: v for k, v in params.items() if k in own})


def load_backbone_checkpoint(net: ArtTrackNet, path: str | os.PathLike) -> None:
    """Load backbone weights (names ``backbone.*``) into ``net``; heads stay as initialised.

    Raises ``ValueError`` naming the first missing/mismatched parameter when the
    checkpoint was made for another architecture.
    """
    params = _load_ckpt_dict(path)
    params = {k: v for k, v in params.items() if k.startswith("backbone.")}
    if not params:
        raise ValueError(f"checkpoint {str(path)!r} holds no 'backbone.*' parameters; convert "
                         "ImageNet weights with `python -m arttrack.convert`")
    _check_and_load(net, params, required_prefix="backbone.", what="backbone checkpoint", path=path)
    logger.info("loaded %d backbone parameters from %s", len(params), path)


def load_model_checkpoint(net: ArtTrackNet, path: str | os.PathLike) -> None:
    """Load a full network checkpoint (every parameter must be present and fit)."""
    params = _load_ckpt_dict(path)
    _check_and_load(net, params, required_prefix="", what="checkpoint", path=path)


def checkpoint_meta_path(ckpt: str | os.PathLike) -> Path:
    """Side metadata of a checkpoint: ``<ckpt>.json`` (e.g. ``snapshot-100.ckpt.json``)."""
    return Path(str(ckpt) + ".json")


def load_checkpoint_meta(ckpt: str | os.PathLike) -> dict | None:
    p = checkpoint_meta_path(ckpt)
    if not p.is_file():
        return None
    with open(p, encoding="utf-8") as f:
        return json.load(f)


def save_model_checkpoint(net: ArtTrackNet, path: str | os.PathLike,
                          meta: Mapping[str, Any] | None = None) -> Path:
    """Save ``net`` to ``path`` (.ckpt) plus ``<path>.json`` with its :class:`ModelConfig`.

    ``meta`` (e.g. ``joint_set``, ``locref_stdev``, ``pairwise_stats``) is stored beside
    the config under its own keys. Both files are written to temporary names first.
    """
    import mindspore as ms

    path = Path(path)
    if path.suffix != ".ckpt":
        raise ValueError(f"checkpoint path must end in .ckpt, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:  # keeps the .ckpt suffix MindSpore insists on
        ms.save_checkpoint(net, str(tmp))
    doc = dict(meta or {})
    cfg = getattr(net, "model_config", None)
    if cfg is not None:
        doc["model"] = cfg.to_dict()
    doc["output_names"] = list(net.output_names)
    with atomic_path(checkpoint_meta_path(path)) as tmpm, open(tmpm, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
    return path


def model_from_checkpoint(ckpt: str | os.PathLike, **overrides: Any) -> ArtTrackNet:
    """Rebuild the network from ``<ckpt>.json`` (plus ``overrides``) and load ``ckpt``."""
    meta = load_checkpoint_meta(ckpt) or {}
    cfg = dict(meta.get("model") or {})
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    if "arch" not in cfg:
        raise ValueError(f"no model config for {str(ckpt)!r}: {checkpoint_meta_path(ckpt)} is "
                         "missing and no architecture was given")
    name = cfg.pop("arch")
    net = create_model(name, **cfg)
    load_model_checkpoint(net, ckpt)
    return net
