"""Experiment configuration: one flat, typed, frozen dataclass loaded from YAML.

Key names follow DeeperCut's ``pose_cfg.yaml`` where one exists (``global_scale``,
``pos_dist_thresh``, ``locref_stdev``, ``multi_step`` ...). Unknown keys and values of the
wrong type are rejected with a message that names the key, so a typo can never silently
fall back to a default.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message says which key and why."""


@dataclass(frozen=True)
class Config:
    # --- dataset -------------------------------------------------------------------------
    dataset_type: str = "synthetic"  # synthetic | mpii | coco
    dataset: str = ""  # annotation file: mpii .mat / COCO person_keypoints json
    image_dir: str = ""  # folder the annotation's image names are relative to
    joint_set: str = "mpii14"  # mpii14 | coco17 | posetrack15 (arttrack.joints)
    multi_person: bool = False
    val_fraction: float = 0.05  # MPII: training images held out for validation
    synthetic_size: int = 2000  # synthetic: images per epoch
    synthetic_people: tuple[int, int] = (1, 1)  # synthetic: people per image (min, max)
    synthetic_image_size: tuple[int, int] = (128, 128)  # synthetic: (height, width)
    synthetic_walking: float = 0.0  # synthetic: share of people in walking poses (as in clips)
    # synthetic: standing height of a person as a fraction of the image height (min, max)
    synthetic_person_height: tuple[float, float] = (0.45, 0.95)
    synthetic_facing_cues: bool = False  # synthetic: eyes and hair show where people face
    synthetic_clip_frames: float = 0.0  # synthetic: share of images that are windows of clips
    seed: int = 0

    # --- network -------------------------------------------------------------------------
    net_type: str = "resnet101"  # arttrack.models registry name
    depths: tuple[int, ...] = ()  # custom block counts (empty: the architecture's own)
    width: int = 0  # base channels of the backbone (0: the architecture's own)
    output_stride: int = 16  # 8 | 16 | 32
    init_weights: str = ""  # ImageNet checkpoint from `python -m arttrack.convert`
    # Whole network (backbone and heads) from an arttrack checkpoint, a training snapshot or a
    # shipped model, to fine-tune it: the optimizer and the step count start afresh.
    load_from: str = ""
    location_refinement: bool = True
    pairwise_predict: bool = False
    intermediate_supervision: bool = False
    intermediate_supervision_layer: int = 12
    freeze_bn: bool = True  # BatchNorm keeps its (ImageNet) statistics; false to train them

    # --- targets and losses --------------------------------------------------------------
    stride: float = 8.0
    pos_dist_thresh: float = 17.0
    locref_stdev: float = 7.2801
    locref_loss_weight: float = 0.05
    locref_huber_loss: bool = True
    pairwise_loss_weight: float = 0.05
    pairwise_huber_loss: bool = True
    pairwise_stats_fn: str = ""  # .npz from `python -m arttrack.pairwise stats`
    # [[joint name, weight], ...]: multiplies the part loss of those joints (others 1), e.g.
    # [[left_wrist, 2.0], [right_wrist, 2.0]] to push a model on the joints it finds worst
    joint_loss_weights: tuple[tuple[str, float], ...] = ()

    # --- augmentation --------------------------------------------------------------------
    global_scale: float = 1.0
    scale_jitter_lo: float = 0.85
    scale_jitter_up: float = 1.15
    mirror: bool = True
    max_input_size: int = 850
    min_input_size: int = 64
    mean_pixel: tuple[float, float, float] = (123.68, 116.779, 103.939)

    # --- optimisation --------------------------------------------------------------------
    batch_size: int = 1
    momentum: float = 0.9
    weight_decay: float = 0.0001
    # [[learning_rate, until_step], ...]: the last until_step is the length of the run.
    multi_step: tuple[tuple[float, int], ...] = ((0.005, 10000), (0.02, 430000), (0.002, 730000),
                                                 (0.001, 1030000))
    # Stop after this many steps (0: at the end of multi_step); the learning rate still
    # follows multi_step (its last rate beyond its end). `train --steps N` sets it.
    max_steps: int = 0
    num_workers: int = 2
    mode: str = "graph"  # graph | pynative
    device_target: str = "CPU"  # CPU | GPU | Ascend
    display_iters: int = 20
    save_iters: int = 60000
    snapshot_prefix: str = "snapshot"
    keep_checkpoints: int = 5

    # --- inference -----------------------------------------------------------------------
    nms_radius: int = 5
    det_min_score: float = 0.2
    min_joints: int = 3

    @property
    def total_steps(self) -> int:
        """Length of the run: ``max_steps`` when set, else the end of ``multi_step``."""
        return int(self.max_steps) if self.max_steps > 0 else int(self.multi_step[-1][1])

    def replace(self, **changes: Any) -> "Config":
        return build_config({**dataclasses.asdict(self), **changes}, source="replace()")

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(dataclasses.asdict(self))


_FIELDS = {f.name: f for f in dataclasses.fields(Config)}
_HINTS = typing.get_type_hints(Config)


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_to_plain(v) for v in value]
    return value


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Check ``value`` against the type hint; ints are accepted where floats are expected."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(key, v, args[0]) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"{key}: expected a list of {len(args)} items, got {len(value)}")
        return tuple(_coerce(key, v, a) for v, a in zip(value, args))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {hint}")  # pragma: no cover


_CHOICES = {
    "dataset_type": ("synthetic", "mpii", "coco"),
    "joint_set": ("mpii14", "coco17", "posetrack15"),
    "output_stride": (8, 16, 32),
    "mode": ("graph", "pynative"),
    "device_target": ("CPU", "GPU", "Ascend"),
}


def build_config(raw: dict[str, Any], source: str) -> Config:
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        import difflib

        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, _FIELDS, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(f"{source}: unknown key(s) {', '.join(hints)}")
    values = {key: _coerce(key, value, _HINTS[key]) for key, value in raw.items()}
    for key, choices in _CHOICES.items():
        if key in values and values[key] not in choices:
            raise ConfigError(f"{key}: {values[key]!r} is not one of {list(choices)}")
    cfg = Config(**values)
    _validate(cfg)
    return cfg


def _validate(cfg: Config) -> None:
    if not cfg.multi_step:
        raise ConfigError("multi_step: needs at least one [learning_rate, until_step] entry")
    last = 0
    for lr, until in cfg.multi_step:
        if lr <= 0 or until <= last:
            raise ConfigError(f"multi_step: entries must have lr > 0 and increasing steps, got {[lr, until]}")
        last = until
    if cfg.max_steps < 0:
        raise ConfigError(f"max_steps: must be >= 0 (0: the end of multi_step), got {cfg.max_steps}")
    if cfg.batch_size < 1:
        raise ConfigError(f"batch_size: must be >= 1, got {cfg.batch_size}")
    if not 0 < cfg.scale_jitter_lo <= cfg.scale_jitter_up:
        raise ConfigError("scale_jitter_lo/scale_jitter_up: need 0 < lo <= up")
    if cfg.stride != cfg.output_stride / 2:
        raise ConfigError(f"stride: the heads upsample output_stride {cfg.output_stride} by 2, so "
                          f"the maps have stride {cfg.output_stride // 2}, not {cfg.stride:g}; set "
                          f"stride: {cfg.output_stride // 2}")
    if cfg.init_weights and cfg.load_from:
        raise ConfigError("init_weights and load_from are both set: load_from already holds the "
                          "backbone; set one of them")
    from arttrack.joints import get_joint_set

    names = get_joint_set(cfg.joint_set).names
    seen = set()
    for name, w in cfg.joint_loss_weights:
        if name not in names:
            raise ConfigError(f"joint_loss_weights: {name!r} is not a joint of {cfg.joint_set} "
                              f"({', '.join(names)})")
        if name in seen:
            raise ConfigError(f"joint_loss_weights: {name!r} is given twice")
        seen.add(name)
        if not (w > 0 and w < float("inf")):
            raise ConfigError(f"joint_loss_weights: the weight of {name} must be finite and "
                              f"positive, got {w}")
    if cfg.pairwise_predict and not cfg.multi_person:
        raise ConfigError("pairwise_predict: pairwise heads need multi_person: true")
    native = {"mpii": "mpii14", "coco": "coco17"}.get(cfg.dataset_type)
    if native is not None and cfg.joint_set != native:
        raise ConfigError(f"joint_set: {cfg.dataset_type} annotations have the {native} joints, "
                          f"not {cfg.joint_set}")
    lo, hi = cfg.synthetic_person_height
    if not 0.02 <= lo <= hi <= 3.0:
        raise ConfigError("synthetic_person_height: need 0.02 <= min <= max <= 3 (fractions of "
                          f"the image height), got {list(cfg.synthetic_person_height)}")
    if not 0.0 <= cfg.synthetic_walking <= 1.0:
        raise ConfigError(f"synthetic_walking: must be a share in [0, 1], got {cfg.synthetic_walking}")
    if not 0.0 <= cfg.synthetic_clip_frames <= 1.0:
        raise ConfigError("synthetic_clip_frames: must be a share in [0, 1], got "
                          f"{cfg.synthetic_clip_frames}")


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` with the value parsed as YAML (``lr=0.1``, ``mirror=false``, ``depths=[1,1,1,1]``)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value")
    key, _, value = text.partition("=")
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text!r}: value is not valid YAML ({exc})") from None


def load_config(path: str | Path | None = None, overrides: typing.Sequence[str] = ()) -> Config:
    """Load a YAML config (or the defaults when ``path`` is None) and apply ``key=value`` overrides."""
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        path = Path(path)
        source = str(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of keys to values at the top level")
        raw.update(loaded)
    for item in overrides:
        key, value = parse_override(item)
        raw[key] = value
    return build_config(raw, source)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write ``cfg`` as YAML atomically (temporary name, then rename)."""
    from arttrack.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


__all__ = ["Config", "ConfigError", "load_config", "save_config", "parse_override"]
