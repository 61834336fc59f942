"""Import TensorFlow checkpoints of the DeeperCut authors' networks and of TF-slim's
ImageNet ResNets, without TensorFlow.

Two kinds of checkpoint are recognised from their variables
(:func:`inspect_tf_model`):

* **a pose model** (``pose/part_pred/block4/weights`` present): the authors'
  ``nnet/pose_net.py`` network, a TF-slim ``resnet_v1`` (``resnet_v1_101/...``) plus
  3x3 stride-2 transposed-convolution heads ``pose/part_pred``, ``pose/locref_pred``,
  ``pose/pairwise_pred`` and ``pose/intermediate_supervision`` (on ``block3/unit_12``),
  each with a bias. It becomes a full arttrack checkpoint with its config embedded:
  the joint set follows from the part head's size (17: COCO, 14: MPII), the heads present
  are switched on, and the test-time settings are the authors'
  (``demo/pose_cfg_multi.yaml``: output stride 16, stride 8, ``locref_stdev`` 7.2801,
  ``nms_radius`` 5, ``det_min_score`` 0.2, mean pixel subtracted in the graph);
* **an ImageNet classifier** (``resnet_v1_*/logits/weights``): its backbone becomes what
  ``init_weights`` takes (``backbone.*`` parameters plus ``<out>.json``); the 1000-way
  classifier is left out, by name, in the report.

Layouts: TF convolution kernels ``[kh, kw, in, out]`` become MindSpore ``(out, in, kh,
kw)``; transposed-convolution kernels ``[kh, kw, out, in]`` become ``(in, out, kh, kw)``;
batch-norm ``gamma/beta/moving_mean/moving_variance`` keep their names. The intermediate
head's unit cannot be read from the shapes (every ``block3`` unit has the same depth):
it is the authors' 12 unless ``interm_layer`` says otherwise.

Every variable is accounted for: a checkpoint variable that fits nowhere is an error that
lists it, as is a network parameter without its variable or with another shape; only
optimizer state (``.../Momentum``, ``global_step``, Adam slots) and, for a backbone, the
classifier are left out, and the report says so.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np

from arttrack.io.atomic import atomic_path
from arttrack.io.tf_checkpoint import (TFCheckpointError, list_tf_variables, read_tf_checkpoint,
                                       tf_checkpoint_files)

__all__ = ["AUTHORS_SPARSE_GRAPH_COCO", "TFImportError", "TFModelInfo", "checkpoint_variables",
           "import_deepercut_model", "import_imagenet_backbone", "import_tf_backbone",
           "import_tf_pose_model", "inspect_tf_model", "plan_import", "pose_model_config"]

log = logging.getLogger(__name__)

#: demo/pose_cfg_multi.yaml ``sparse_graph``: the 40 COCO joint pairs the authors score.
AUTHORS_SPARSE_GRAPH_COCO = (
    (0, 1), (0, 2), (1, 2), (2, 4), (1, 3), (0, 4), (0, 3),
    (0, 6), (1, 6), (2, 6), (3, 6), (4, 6),
    (0, 5), (1, 5), (2, 5), (3, 5), (4, 5),
    (5, 6), (6, 8), (5, 7), (4, 8), (3, 7),
    (8, 10), (7, 9), (6, 10), (5, 9),
    (6, 12), (6, 11), (5, 12), (5, 11), (11, 12),
    (12, 14), (11, 13), (12, 13), (11, 14), (13, 14),
    (14, 16), (13, 15), (12, 16), (11, 15),
)

#: The authors' COCO training schedule (models/coco/train/pose_cfg.yaml), for fine-tuning.
AUTHORS_COCO_SCHEDULE = ((0.005, 10000), (0.02, 450000), (0.002, 750000), (0.0005, 1050000),
                         (0.0002, 1550000), (0.00005, 1800000))
#: Their MPII schedule (models/mpii/train/pose_cfg.yaml) is arttrack's default one.

JOINT_SETS_BY_SIZE = {17: ("coco17", "coco"), 14: ("mpii14", "mpii")}
HEADS = {  # arttrack head -> the authors' variable scope under pose/
    "part_pred": "part_pred", "locref_pred": "locref_pred", "pairwise_pred": "pairwise_pred",
    "part_pred_interm": "intermediate_supervision",
}
_OPTIMIZER = re.compile(r"(^global_step$|/Momentum$|/Momentum_\d+$|/Adam(_\d+)?$|^beta[12]_power(_\d+)?$"
                        r"|/ExponentialMovingAverage$)")
_SCOPE = re.compile(r"^(resnet_v1_\d+)/conv1/weights$")
_UNIT = re.compile(r"^resnet_v1_\d+/block(\d)/unit_(\d+)/bottleneck_v1/conv1/weights$")
STANDARD_DEPTHS = {"resnet_v1_50": (3, 4, 6, 3), "resnet_v1_101": (3, 4, 23, 3),
                   "resnet_v1_152": (3, 8, 36, 3)}


class TFImportError(ValueError):
    """A TensorFlow checkpoint is not one arttrack can import (the message says why)."""


@dataclass(frozen=True)
class TFModelInfo:
    """What a TensorFlow checkpoint holds (:func:`inspect_tf_model`)."""

    kind: str                      # "pose" or "imagenet"
    scope: str                     # "resnet_v1_101"
    depths: tuple[int, ...]        # units per block
    width: int                     # block1's bottleneck depth (64 in the real models)
    num_joints: Optional[int] = None
    locref: bool = False
    pairwise: bool = False
    intermediate: bool = False
    ignored: tuple[str, ...] = field(default=())  # optimizer state (and, for a backbone, logits)

    @property
    def arch(self) -> str:
        """The arttrack architecture: ``resnet_v1_101`` etc., or ``resnet_v1`` when custom."""
        if STANDARD_DEPTHS.get(self.scope) == self.depths and self.width == 64:
            return self.scope
        return "resnet_v1"


def inspect_tf_model(variables: Mapping[str, Any], *, source: str = "checkpoint") -> TFModelInfo:
    """Recognise a pose model or an ImageNet ResNet from its variables (name -> anything
    with ``.shape``, e.g. :func:`arttrack.io.tf_checkpoint.list_tf_variables`)."""
    scopes = sorted({m.group(1) for n in variables if (m := _SCOPE.match(n))})
    if len(scopes) != 1:
        found = "none" if not scopes else ", ".join(scopes)
        raise TFImportError(f"{source}: not a TF-slim resnet_v1 network (expected exactly one "
                            f"'resnet_v1_<N>/conv1/weights', found {found})")
    scope = scopes[0]
    units: dict[int, set[int]] = {}
    for n in variables:
        m = _UNIT.match(n)
        if m and n.startswith(scope + "/"):
            units.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    if sorted(units) != [1, 2, 3, 4] or any(sorted(u) != list(range(1, len(u) + 1))
                                           for u in units.values()):
        raise TFImportError(f"{source}: {scope} does not have four blocks of consecutively "
                            f"numbered units (found {({b: sorted(u) for b, u in units.items()})})")
    depths = tuple(len(units[b]) for b in (1, 2, 3, 4))
    w = variables[f"{scope}/block1/unit_1/bottleneck_v1/conv1/weights"].shape
    width = int(w[-1])
    ignored = sorted(n for n in variables if _OPTIMIZER.search(n))
    if "pose/part_pred/block4/weights" in variables:
        shape = tuple(variables["pose/part_pred/block4/weights"].shape)
        if len(shape) != 4:
            raise TFImportError(f"{source}: pose/part_pred/block4/weights has shape {shape}, not a "
                                "3x3 transposed convolution")
        j = int(shape[2])
        return TFModelInfo("pose", scope, depths, width, j,
                           locref="pose/locref_pred/block4/weights" in variables,
                           pairwise="pose/pairwise_pred/block4/weights" in variables,
                           intermediate="pose/intermediate_supervision/block4/weights" in variables,
                           ignored=tuple(ignored))
    logits = sorted(n for n in variables if n.startswith(f"{scope}/logits/"))
    if logits:
        return TFModelInfo("imagenet", scope, depths, width, ignored=tuple(ignored + logits))
    raise TFImportError(f"{source}: {scope} has neither pose heads (pose/part_pred/...) nor an "
                        f"ImageNet classifier ({scope}/logits/...); nothing to import")


def _joint_set_of(info: TFModelInfo, joint_set: Optional[str], source: str):
    from arttrack.joints import get_joint_set

    if joint_set is not None:
        js = get_joint_set(joint_set)
        if js.num_joints != info.num_joints:
            raise TFImportError(f"{source}: the part head has {info.num_joints} channels but "
                                f"{joint_set} has {js.num_joints} joints")
        return js, {"coco17": "coco", "mpii14": "mpii"}.get(js.name, "synthetic")
    if info.num_joints not in JOINT_SETS_BY_SIZE:
        known = ", ".join(f"{n} ({name})" for n, (name, _) in sorted(JOINT_SETS_BY_SIZE.items()))
        raise TFImportError(f"{source}: unknown head sizes: the part head has {info.num_joints} "
                            f"channels; the known joint sets have {known}; pass the joint set")
    name, dataset = JOINT_SETS_BY_SIZE[info.num_joints]
    return get_joint_set(name), dataset


def pose_model_config(info: TFModelInfo, *, joint_set: Optional[str] = None,
                      interm_layer: int = 12, source: str = "checkpoint"):
    """The arttrack :class:`~arttrack.config.Config` of an imported pose model, with the
    authors' test-time settings and training schedule."""
    from arttrack.config import ConfigError, build_config

    js, dataset = _joint_set_of(info, joint_set, source)
    custom = info.arch == "resnet_v1"
    raw = {
        "dataset_type": dataset, "joint_set": js.name, "multi_person": bool(info.pairwise),
        "net_type": info.arch, "depths": list(info.depths) if custom else [],
        "width": info.width if custom else 0, "output_stride": 16, "init_weights": "",
        "location_refinement": info.locref, "pairwise_predict": info.pairwise,
        "intermediate_supervision": info.intermediate,
        "intermediate_supervision_layer": int(interm_layer), "freeze_bn": True,
        "stride": 8.0, "pos_dist_thresh": 17.0, "locref_stdev": 7.2801,
        "locref_loss_weight": 0.05, "pairwise_loss_weight": 0.05,
        "pairwise_stats_fn": "pairwise_stats.npz" if info.pairwise else "",
        "global_scale": 1.0, "max_input_size": 850, "mirror": True,
        "mean_pixel": [123.68, 116.779, 103.939], "nms_radius": 5, "det_min_score": 0.2,
        "snapshot_prefix": "snapshot",
    }
    if dataset == "coco":
        raw["multi_step"] = [list(s) for s in AUTHORS_COCO_SCHEDULE]
    try:
        return build_config(raw, source=f"{source} (imported)")
    except ConfigError as exc:
        raise TFImportError(f"{source}: {exc}") from None


def _conv(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(a, (3, 2, 0, 1)), np.float32)


def _converted_shape(shape: tuple[int, ...], layout: str) -> tuple[int, ...]:
    return (shape[3], shape[2], shape[0], shape[1]) if layout == "conv" and len(shape) == 4 else shape


def plan_import(net, info: TFModelInfo, variables: Mapping[str, Any], *, source: str = "checkpoint",
                heads: bool = True) -> list[tuple[str, str, str]]:
    """``(parameter, tf_variable, layout)`` for every parameter of ``net`` (the backbone's
    only unless ``heads``), checked against the variables' names and shapes: a missing
    variable or one of another shape is a :class:`TFImportError` that lists them. Layout
    ``conv``: TF ``[kh, kw, a, b]`` -> ``(b, a, kh, kw)`` (convolutions ``[.., in, out]``
    and transposed convolutions ``[.., out, in]`` alike); ``vector``: as it is."""
    from arttrack.models.slim_resnet import tf_variable_name

    plan: list[tuple[str, str, str]] = []
    missing, mismatched = [], []
    for p in net.get_parameters():
        name, shape = p.name, tuple(p.shape)
        if name.startswith("backbone."):
            tf_name, layout = tf_variable_name(name[len("backbone."):], info.scope)
        else:
            if not heads:
                continue
            head, _, leaf = name.partition(".deconv.")
            if head not in HEADS or leaf not in ("weight", "bias"):
                raise TFImportError(f"arttrack parameter {name} has no TensorFlow counterpart")
            tf_name = f"pose/{HEADS[head]}/block4/" + ("weights" if leaf == "weight" else "biases")
            layout = "conv" if leaf == "weight" else "vector"
        if tf_name not in variables:
            missing.append(tf_name)
            continue
        have = _converted_shape(tuple(int(d) for d in variables[tf_name].shape), layout)
        if have != shape:
            mismatched.append(f"{tf_name} {tuple(variables[tf_name].shape)} (needs {shape} as {name})")
            continue
        plan.append((name, tf_name, layout))
    if missing or mismatched:
        parts = []
        if missing:
            parts.append(f"{len(missing)} variable(s) missing: {', '.join(missing[:4])}"
                         + (" ..." if len(missing) > 4 else ""))
        if mismatched:
            parts.append(f"{len(mismatched)} of another shape: {', '.join(mismatched[:3])}"
                         + (" ..." if len(mismatched) > 3 else ""))
        raise TFImportError(f"{source} does not fit the {info.scope} network it names: "
                            + "; ".join(parts))
    return plan


def _map_parameters(plan: list[tuple[str, str, str]], tensors: Mapping[str, np.ndarray], *,
                    pair_order: Optional[np.ndarray] = None) -> dict[str, np.ndarray]:
    """arttrack parameter name -> converted array, following ``plan``."""
    params: dict[str, np.ndarray] = {}
    for name, tf_name, layout in plan:
        a = np.asarray(tensors[tf_name])
        if layout == "conv" and a.ndim == 4:
            a = _conv(a)
        if pair_order is not None and name.startswith("pairwise_pred."):
            chans = np.stack([2 * pair_order, 2 * pair_order + 1], axis=1).reshape(-1)
            a = a[:, chans] if a.ndim == 4 else a[chans]
        params[name] = np.ascontiguousarray(a, np.float32)
    return params


def _check_all_placed(variables: Mapping[str, Any], used: list[str], ignored: tuple[str, ...],
                      source: str) -> None:
    left = sorted(set(variables) - set(used) - set(ignored))
    if left:
        raise TFImportError(f"{source}: {len(left)} variable(s) fit nowhere in the network: "
                            + ", ".join(left[:6]) + (" ..." if len(left) > 6 else ""))


def _read(prefix: str | Path, names: list[str]) -> dict[str, np.ndarray]:
    try:
        return read_tf_checkpoint(prefix, names)
    except TFCheckpointError as exc:
        raise TFImportError(str(exc)) from None


def checkpoint_variables(prefix: str | Path) -> dict[str, Any]:
    """The checkpoint's variables (name -> dtype and shape); a reading error becomes a
    :class:`TFImportError`."""
    try:
        return list_tf_variables(prefix)
    except TFCheckpointError as exc:
        raise TFImportError(str(exc)) from None


def _build_net(config):
    from arttrack.models import create_model, model_kwargs_from_config

    kw = model_kwargs_from_config(config)
    return create_model(kw.pop("name"), **kw)


def import_tf_pose_model(prefix: str | Path, out: str | Path, *, joint_set: Optional[str] = None,
                         interm_layer: int = 12, pairwise_dir: str | Path | None = None,
                         tensorflow_pairwise_order: bool = True) -> dict[str, Any]:
    """Convert the authors' pose model at ``prefix`` to the arttrack checkpoint ``out``.

    With the pairwise head, ``pairwise_dir`` (their ``pairwise/`` folder) is required: its
    ``pairwise_stats.mat`` becomes ``pairwise_stats.npz`` beside ``out`` and, for a COCO
    model, the spatial models of their sparse graph become ``spatial.npz``. Returns a
    report (also what the model registry records). Nothing is written on an error.
    """
    from arttrack.models.checkpoint import CONFIG_KEY, STEP_KEY
    from arttrack.joints import get_joint_set

    source = str(prefix)
    variables = checkpoint_variables(prefix)
    info = inspect_tf_model(variables, source=source)
    if info.kind != "pose":
        raise TFImportError(f"{source} is an ImageNet classifier, not a pose model; import it as a "
                            "backbone (python -m arttrack.convert tf ... writes what init_weights takes)")
    config = pose_model_config(info, joint_set=joint_set, interm_layer=interm_layer, source=source)
    js = get_joint_set(config.joint_set)
    out = Path(out)
    if out.suffix != ".ckpt":
        raise TFImportError(f"output must end in .ckpt, got {str(out)!r}")
    stats = spatial = pair_order = None
    if info.pairwise:
        if pairwise_dir is None:
            raise TFImportError(f"{source} has a pairwise head: give the authors' pairwise/ folder "
                                "(pairwise_stats.mat and spatial_model_cidx_*.mat) to de-normalise it")
        from arttrack.convert.deepercut import (load_deepercut_pairwise_stats,
                                                load_deepercut_spatial_model,
                                                pairwise_channel_order)

        pdir = Path(pairwise_dir)
        stats = load_deepercut_pairwise_stats(pdir / "pairwise_stats.mat", js,
                                              tensorflow_pairwise_order=tensorflow_pairwise_order)
        if not tensorflow_pairwise_order:
            pair_order = pairwise_channel_order(pdir / "pairwise_stats.mat", js.num_joints, False)
        if js.name == "coco17":
            spatial = load_deepercut_spatial_model(pdir, AUTHORS_SPARSE_GRAPH_COCO)
        else:
            from arttrack.convert.deepercut import spatial_model_files

            pairs = sorted(spatial_model_files(pdir))
            spatial = load_deepercut_spatial_model(pdir, pairs) if pairs else None
    net = _build_net(config)
    plan = plan_import(net, info, variables, source=source)
    _check_all_placed(variables, [t for _, t, _ in plan], info.ignored, source)
    params = _map_parameters(plan, _read(prefix, [t for _, t, _ in plan]), pair_order=pair_order)

    import mindspore as ms

    out.parent.mkdir(parents=True, exist_ok=True)
    written = [out.name]
    with atomic_path(out) as tmp:
        ms.save_checkpoint([{"name": k, "data": ms.Tensor(v)} for k, v in sorted(params.items())],
                           str(tmp), append_dict={STEP_KEY: 0,
                                                  CONFIG_KEY: json.dumps(config.to_dict())})
    if stats is not None:
        from arttrack.data.pairwise_stats import save_pairwise_stats

        with atomic_path(out.parent / "pairwise_stats.npz") as tmp:
            save_pairwise_stats(stats, tmp)
        written.append("pairwise_stats.npz")
    if spatial is not None:
        with atomic_path(out.parent / "spatial.npz") as tmp, open(tmp, "wb") as fh:
            spatial.save(fh)
        written.append("spatial.npz")
    report = {
        "kind": "pose", "tf_scope": info.scope, "arch": info.arch, "depths": list(info.depths),
        "width": info.width, "joint_set": js.name, "num_joints": info.num_joints,
        "heads": list(net.output_names), "intermediate_supervision_layer": int(interm_layer),
        "tensorflow_pairwise_order": bool(tensorflow_pairwise_order),
        "converted": len(params), "ignored": list(info.ignored), "files": written,
        "checkpoint": out.name, "pairwise_stats": "pairwise_stats.npz" if stats is not None else None,
        "spatial_model": "spatial.npz" if spatial is not None else None,
        "spatial_pairs": None if spatial is None else spatial.num_pairs,
    }
    log.info("imported %s: %d parameters, %d optimizer variables left out", source, len(params),
             len(info.ignored))
    return report


def import_tf_backbone(prefix: str | Path, out: str | Path, *,
                       output_stride: int = 16) -> dict[str, Any]:
    """Convert a TF-slim ImageNet ResNet (or a pose model's backbone) to an arttrack backbone
    checkpoint for ``init_weights`` (``backbone.*`` parameters) plus ``<out>.json``."""
    from arttrack.models import checkpoint_meta_path, create_model

    source = str(prefix)
    variables = checkpoint_variables(prefix)
    info = inspect_tf_model(variables, source=source)
    custom = info.arch == "resnet_v1"
    net = create_model(info.arch, num_joints=1, output_stride=output_stride,
                       depths=info.depths if custom else None, width=info.width if custom else None)
    plan = plan_import(net, info, variables, source=source, heads=False)
    heads = sorted(n for n in variables if n.startswith("pose/"))
    _check_all_placed(variables, [t for _, t, _ in plan], info.ignored + tuple(heads), source)
    params = _map_parameters(plan, _read(prefix, [t for _, t, _ in plan]))
    out = Path(out)
    if out.suffix != ".ckpt":
        raise TFImportError(f"output must end in .ckpt, got {str(out)!r}")
    import mindspore as ms

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        ms.save_checkpoint([{"name": k, "data": ms.Tensor(v)} for k, v in sorted(params.items())],
                           str(tmp))
    report = {"kind": "backbone", "source": source, "tf_scope": info.scope, "arch": info.arch,
              "backbone": {"block": "slim", "depths": list(info.depths), "width": info.width},
              "converted": len(params), "ignored": list(info.ignored) + heads,
              "checkpoint": out.name,
              "files": [str(p.name) for p in tf_checkpoint_files(prefix)]}
    with atomic_path(checkpoint_meta_path(out)) as tmpm:
        tmpm.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def _find_prefix(raw_dir: Path) -> Path:
    """The checkpoint in a folder laid out as the authors' scripts leave it."""
    index = sorted(raw_dir.rglob("*.index"))
    if len(index) == 1:
        return index[0].with_suffix("")
    v1 = sorted(raw_dir.rglob("*.ckpt"))
    if len(v1) == 1 and not index:
        return v1[0]
    found = [p.name for p in index + v1]
    raise TFImportError(f"{raw_dir}: expected one TensorFlow checkpoint, found "
                        f"{', '.join(found) if found else 'none'}")


def import_deepercut_model(raw_dir: Path, out_dir: Path, entry: Any = None) -> dict[str, Any]:
    """Model-registry converter: the authors' pose checkpoint (and ``pairwise/``) in
    ``raw_dir`` -> ``out_dir/model.ckpt`` (+ ``pairwise_stats.npz``, ``spatial.npz``)."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    prefix = _find_prefix(raw_dir)
    pdir = raw_dir / "pairwise"
    report = import_tf_pose_model(prefix, out_dir / "model.ckpt",
                                  pairwise_dir=pdir if pdir.is_dir() else None)
    report["trained_on"] = {"coco17": "coco", "mpii14": "mpii"}.get(report["joint_set"], "unknown")
    return report


def import_imagenet_backbone(raw_dir: Path, out_dir: Path, entry: Any = None) -> dict[str, Any]:
    """Model-registry converter: a TF-slim ImageNet checkpoint in ``raw_dir`` ->
    ``out_dir/backbone.ckpt`` (+ ``backbone.ckpt.json``), what ``init_weights`` takes."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    report = import_tf_backbone(_find_prefix(raw_dir), out_dir / "backbone.ckpt")
    report["trained_on"] = "imagenet"
    report["init_weights"] = "backbone.ckpt"
    return report
