"""Build the pieces of an experiment from a :class:`~arttrack.config.Config`.

One place maps config keys to the network, the codec, the augmenter and the sample
source, so training, evaluation, export and the video pipeline build them identically.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from arttrack.config import Config, ConfigError
from arttrack.joints import get_joint_set

log = logging.getLogger(__name__)


def build_model(cfg: Config, *, pretrained: bool = True):
    """The network of ``cfg`` (with ``pretrained``: the ImageNet backbone from
    ``init_weights``, or the whole network from ``load_from``, when set)."""
    from arttrack.models import create_model, load_model_checkpoint, model_kwargs_from_config

    init = cfg.init_weights if (pretrained and cfg.init_weights) else None
    if init is not None:
        init = resolve_weights("init_weights", init)
    whole = cfg.load_from if (pretrained and cfg.load_from) else None
    if whole is not None:
        whole = resolve_weights("load_from", whole)
    if cfg.intermediate_supervision:
        from arttrack.models import ARCHS

        depths = tuple(cfg.depths) if cfg.depths else ARCHS[cfg.net_type][1]
        if cfg.intermediate_supervision_layer > depths[2]:
            raise ConfigError(f"intermediate_supervision_layer: {cfg.intermediate_supervision_layer} "
                              f"but block3 of {cfg.net_type} has only {depths[2]} units")
    kwargs = model_kwargs_from_config(cfg)
    try:
        net = create_model(kwargs.pop("name"), pretrained=init, **kwargs)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if whole is not None:
        from arttrack.models.checkpoint import check_architecture, load_checkpoint

        try:  # the embedded config names a mismatch better than the parameter shapes do
            check_architecture(load_checkpoint(whole), cfg)
            load_model_checkpoint(net, whole)
        except ValueError as exc:  # CheckpointError included
            raise ConfigError(f"load_from: {exc}") from None
    return net


def resolve_weights(key: str, value: str) -> str:
    """The checkpoint file behind ``init_weights`` / ``load_from``: a file path, or the name
    of a model in arttrack's registry (``imagenet-resnet_v1_101`` for init_weights, a pose
    model such as ``deepercut-coco-resnet101`` for load_from) fetched into the cache."""
    path = Path(value).expanduser()
    if path.is_file():
        return str(path)
    from arttrack.models import zoo

    if value not in zoo.REGISTRY:
        hint = ("convert ImageNet weights with `python -m arttrack.convert`, name a registered "
                "backbone such as imagenet-resnet_v1_101, or set init_weights: ''"
                if key == "init_weights" else "give a checkpoint file or a registered model name")
        raise ConfigError(f"{key}: {value} not found; {hint}")
    want = "imagenet-backbone" if key == "init_weights" else ("multi-person", "single-person")
    task = zoo.REGISTRY[value].task
    if task not in (want if isinstance(want, tuple) else (want,)):
        other = "load_from" if key == "init_weights" else "init_weights"
        raise ConfigError(f"{key}: {value} is a {task} model; it belongs in {other}")
    try:
        folder = zoo.model_dir(value)
        doc = zoo.read_model_json(folder)
    except zoo.ModelError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    name = doc.get("init_weights" if key == "init_weights" else "checkpoint")
    if not name or not (folder / name).is_file():
        raise ConfigError(f"{key}: the cached {value} in {folder} is incomplete; fetch it again "
                          f"with `python -m arttrack.models fetch {value} --force`")
    return str(folder / name)


def load_pairwise_stats_for(cfg: Config):
    if not cfg.pairwise_predict:
        return None
    if not cfg.pairwise_stats_fn:
        raise ConfigError("pairwise_stats_fn: required with pairwise_predict; compute it with "
                          "`python -m arttrack.pairwise stats`")
    from arttrack.data.pairwise_stats import load_pairwise_stats

    if not Path(cfg.pairwise_stats_fn).is_file():
        raise ConfigError(f"pairwise_stats_fn: {cfg.pairwise_stats_fn} not found; compute it with "
                          "`python -m arttrack.pairwise stats`")
    return load_pairwise_stats(cfg.pairwise_stats_fn)


def build_codec(cfg: Config, pairwise_stats: Any = None):
    from arttrack.data.codec import PoseCodec

    if cfg.pairwise_predict and pairwise_stats is None:
        pairwise_stats = load_pairwise_stats_for(cfg)
    js = get_joint_set(cfg.joint_set)
    weights = dict(cfg.joint_loss_weights)
    return PoseCodec(js.num_joints, stride=cfg.stride,
                     pos_dist_thresh=cfg.pos_dist_thresh, locref_stdev=cfg.locref_stdev,
                     pairwise=cfg.pairwise_predict, pairwise_stats=pairwise_stats,
                     joint_weights=[weights.get(n, 1.0) for n in js.names] if weights else None)


def build_augmenter(cfg: Config, *, train: bool = True):
    from arttrack.data.augment import Augmenter

    return Augmenter(get_joint_set(cfg.joint_set).flip_permutation, global_scale=cfg.global_scale,
                     scale_jitter_lo=cfg.scale_jitter_lo, scale_jitter_up=cfg.scale_jitter_up,
                     mirror=cfg.mirror and train, max_input_size=cfg.max_input_size,
                     min_input_size=cfg.min_input_size, train=train)


def build_records(cfg: Config, split: str = "train"):
    """Annotation records of a real dataset (``mpii`` or ``coco``)."""
    if not cfg.dataset:
        raise ConfigError(f"dataset: no annotation file given for dataset_type {cfg.dataset_type}")
    if not Path(cfg.dataset).is_file():
        raise ConfigError(f"dataset: annotation file {cfg.dataset} not found")
    image_dir = cfg.image_dir or None
    if cfg.dataset_type == "mpii":
        from arttrack.data.mpii import load_mpii_mat

        return load_mpii_mat(cfg.dataset, image_dir, split=split, val_fraction=cfg.val_fraction,
                             seed=cfg.seed)
    if cfg.dataset_type == "coco":
        from arttrack.data.coco import load_coco

        return load_coco(cfg.dataset, image_dir)
    raise ConfigError(f"dataset_type: {cfg.dataset_type} has no annotation records")


def build_source(cfg: Config, split: str = "train"):
    """The sample source of ``cfg`` (see :mod:`arttrack.data.pipeline`)."""
    if cfg.dataset_type == "synthetic":
        from arttrack.data.synthetic import SyntheticConfig, SyntheticPoseDataset

        # Held-out splits use a seed that training never sees.
        seed = cfg.seed if split == "train" else cfg.seed + 1_000_003
        height, width = cfg.synthetic_image_size
        scene = SyntheticConfig(width=width, height=height, num_people=tuple(cfg.synthetic_people),
                                joint_set=cfg.joint_set, walking=cfg.synthetic_walking,
                                person_height=tuple(cfg.synthetic_person_height),
                                facing_cues=cfg.synthetic_facing_cues,
                                clip_frames=cfg.synthetic_clip_frames)
        return _NoMask(SyntheticPoseDataset(seed=seed, size=cfg.synthetic_size, config=scene))
    from arttrack.data.pipeline import RecordSource

    return RecordSource(build_records(cfg, split))


class _NoMask:
    """Adapts an ``(image, joints)`` source to the pipeline's ``(image, joints, mask)``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i: int):
        image, joints = self.inner[i]
        return image, joints, None
