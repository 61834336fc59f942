"""The model side of a video run, loaded once for one video or many: which files make the
model (a registered name or model folder, a checkpoint, the demo) and the loaded
:class:`TrackingModel` (the network's :class:`~arttrack.inference.Predictor`, the spatial
model, the temporal model, the frame scale and what to record about them in the outputs).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from arttrack.video.source import InputError

log = logging.getLogger(__name__)

# The model when none is named: the authors' COCO model, fetched once with
# `python -m arttrack.models fetch deepercut-coco-resnet101`.
DEFAULT_MODEL = "deepercut-coco-resnet101"

__all__ = ["DEFAULT_MODEL", "ModelFiles", "TrackingModel", "demo_model_files", "load_tracking_model",
           "model_files", "network_workers"]


@dataclass(frozen=True)
class ModelFiles:
    """The files of a multi-person model; ``model_json`` is its folder's ``model.json``
    (None for a bare checkpoint)."""

    checkpoint: Path
    spatial: Optional[str] = None
    pairwise_stats: Optional[str] = None
    temporal: Optional[str] = None
    model_json: Optional[dict] = None


def model_files(model: Optional[str] = None, ckpt: Optional[str] = None, *,
                spatial: Optional[str] = None, pairwise_stats: Optional[str] = None,
                temporal: Optional[str] = None) -> ModelFiles:
    """The files of ``model`` (a registered name, installed in the cache, or a model folder;
    default :data:`DEFAULT_MODEL`) or of a checkpoint ``ckpt``; ``spatial``,
    ``pairwise_stats`` and ``temporal`` take precedence over a folder's own."""
    if ckpt and model:
        raise InputError("give --model or --ckpt, not both")
    if ckpt:
        return ModelFiles(Path(ckpt), spatial, pairwise_stats, temporal, None)
    from arttrack.models import zoo

    try:
        folder = zoo.resolve(model or DEFAULT_MODEL)
    except zoo.ModelError as exc:
        raise InputError(str(exc)) from None
    return _folder_files(folder, spatial, pairwise_stats, temporal)


def demo_model_files(*, spatial: Optional[str] = None, pairwise_stats: Optional[str] = None,
                     temporal: Optional[str] = None) -> ModelFiles:
    """The shipped demo model's files (:func:`arttrack.video.demo.demo_dir`)."""
    from arttrack.video.demo import DEMO_CKPT, demo_dir

    d = demo_dir()
    missing = [f for f in (DEMO_CKPT, "spatial.npz") if not (d / f).is_file()]
    if missing:
        raise InputError(f"the demo model is not installed ({d / missing[0]} is missing); "
                         "train one with `python scripts/train_demo_model.py`")
    return _folder_files(d, spatial, pairwise_stats, temporal)


def _folder_files(folder: Path, spatial: Optional[str], pairwise_stats: Optional[str],
                  temporal: Optional[str]) -> ModelFiles:
    from arttrack.models import zoo

    try:
        doc = zoo.read_model_json(folder)
    except zoo.ModelError as exc:
        raise InputError(str(exc)) from None
    if doc.get("task") != "multi-person" or not doc.get("spatial_model"):
        raise InputError(f"model {doc.get('name', folder)!r} is a {doc.get('task', 'unknown')} model "
                         "without a pairwise head and spatial model; multi-person tracking needs "
                         f"one such as {DEFAULT_MODEL}")
    try:
        files = zoo.model_files(folder)
    except zoo.ModelError as exc:
        raise InputError(str(exc)) from None
    if files["checkpoint"] is None:
        raise InputError(f"{folder / 'model.json'} names no checkpoint")

    def given(arg: Optional[str], key: str) -> Optional[str]:
        return arg or (str(files[key]) if files[key] is not None else None)

    return ModelFiles(files["checkpoint"], given(spatial, "spatial_model"),
                      given(pairwise_stats, "pairwise_stats"), given(temporal, "temporal_model"), doc)


@dataclass
class TrackingModel:
    """Everything a video run needs from the model side.

    ``scale``: the factor frames are resized by for the network; ``provenance``: what the
    output's ``meta`` records about the model (merged into it by the pipeline);
    ``network_workers``: batches the network runs at once (:func:`network_workers`)."""

    predictor: Any
    spatial: Any
    temporal: Any
    scale: float
    provenance: dict
    network_workers: int = 1

    @property
    def trained_on_synthetic(self) -> bool:
        return getattr(self.predictor.config, "dataset_type", None) == "synthetic"


def network_workers(backend: str, cores: Optional[int] = None) -> tuple[int, Optional[int]]:
    """(batches run at once, ONNX Runtime threads per batch) for a video on ``cores`` cores
    (default: all). ONNX Runtime runs one single-threaded batch per core: the calls release
    the GIL and need no synchronisation between threads, which beat one call on all cores
    (the demo model on 2 cores: 57 against 51 frames/s, network alone) and leave the
    post-processing to take a core in turn instead of stalling both threads of one call.
    MindSpore runs one batch at a time on this thread."""
    if backend != "onnxruntime":
        return 1, None
    n = max(1, int(cores or os.cpu_count() or 1))
    return n, 1


def load_tracking_model(files: ModelFiles, *, config: Optional[str] = None,
                        device: str = "CPU", set_device: bool = True, mode: str = "graph",
                        backend: str = "auto", batch_size: int = 4,
                        min_joints: Optional[int] = None, flip_test: bool = False,
                        solver: str = "gaec+klj", scale: Optional[float] = None,
                        threads: Optional[int] = None) -> TrackingModel:
    """Load the network (``backend`` auto / mindspore / onnxruntime on ``device``, which is
    made MindSpore's device unless ``set_device`` is False because the caller did), the
    spatial, pairwise and temporal models. ``scale`` defaults
    to the config's ``global_scale``; ``threads`` caps the cores the network may use (msrun
    ranks on one machine share them; default all, see :func:`network_workers`)."""
    from arttrack.inference import Predictor
    from arttrack.inference.backends import resolve_backend
    from arttrack.data.pairwise_stats import load_pairwise_stats
    from arttrack.postprocess import SpatialModel
    from arttrack.tracking import TemporalModel

    ckpt = files.checkpoint
    if not ckpt.is_file():
        raise InputError(f"checkpoint not found: {ckpt}")
    sp = Path(files.spatial) if files.spatial else ckpt.parent / "spatial.npz"
    if not sp.is_file():
        raise InputError(f"spatial model not found: {sp}" + ("" if files.spatial else
                         " (pass --spatial; fit one with `python -m arttrack.pairwise fit`)"))
    try:
        spatial_model = SpatialModel.load(sp)
    except (OSError, KeyError) as exc:
        raise InputError(f"{sp}: not a spatial model ({exc})") from None
    temporal = TemporalModel.load(files.temporal) if files.temporal else None
    if min_joints is not None and min_joints < 1:
        raise InputError(f"--min-joints must be >= 1, got {min_joints}")
    try:
        backend = resolve_backend(backend, device)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    stats = load_pairwise_stats(files.pairwise_stats) if files.pairwise_stats else None
    pred = Predictor.from_checkpoint(ckpt, config, device=device if set_device else None, mode=mode,
                                     batch_size=batch_size, pairwise_stats=stats,
                                     flip_test=flip_test, backend=backend)
    if pred.config is not None and not pred.config.multi_person:
        log.warning("the model's config says multi_person: false")
    if spatial_model.num_pairs and int(spatial_model.pairs.max()) >= pred.codec.num_joints:
        raise InputError(f"the spatial model {sp} is for more joints than the network's "
                         f"{pred.codec.num_joints}")
    changes: dict[str, Any] = {"method": solver}
    if min_joints is not None:
        changes["min_joints"] = int(min_joints)
    pred.settings = dataclasses.replace(pred.settings, **changes)
    workers, per_batch = network_workers(backend, threads)
    if per_batch is not None:
        pred.onnx_net.threads = per_batch
    if scale is None:
        scale = float(getattr(pred.config, "global_scale", 1.0))
    provenance: dict = {
        "backend": backend,
        "model": {"checkpoint": str(ckpt), "spatial_model": str(sp),
                  "pairwise_stats": str(files.pairwise_stats) if files.pairwise_stats else
                  getattr(pred.config, "pairwise_stats_fn", None)},
        "tracker": {"temporal_model": str(files.temporal) if files.temporal else "default"},
    }
    if files.model_json is not None:
        provenance["model"]["name"] = files.model_json.get("name")
    return TrackingModel(pred, spatial_model, temporal, float(scale), provenance, workers)
