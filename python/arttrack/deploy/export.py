"""Export a trained network to MINDIR, ONNX or AIR, with a metadata JSON beside it.

::

    python -m arttrack.export --ckpt snapshot.ckpt --format ONNX --height 480 --width 640 \\
        --out arttrack_mpii.onnx

Model hyper-parameters come from, later ones winning: the checkpoint's side metadata
(``<ckpt>.json`` written by :func:`arttrack.models.save_model_checkpoint`), the
experiment config embedded in a training checkpoint (:mod:`arttrack.models.checkpoint`),
``--config`` (an :mod:`arttrack.config` YAML), then explicit CLI flags (``--arch``,
``--num-joints``, ...).
The config-driven CLI can call :func:`export_model` directly.

Exported graph contract (also written to ``<out>.json``):

- one input ``image``: float32 ``(B, 3, H, W)`` NCHW, RGB, minus the mean pixel
  ``[123.68, 116.779, 103.939]``, NOT divided by 255;
- outputs in this order (NCHW, map size ``(2*ceil(H/os), 2*ceil(W/os))``, stride os/2):
  ``part_prob`` (sigmoid already applied), then ``locref`` and ``pairwise`` when the model
  has them. The intermediate-supervision head is training-only and not exported.

ONNX post-fix: MindSpore 2.10 writes ConvTranspose nodes with a 4-element
``output_shape`` attribute that onnxruntime rejects; it is deleted (the explicit
crop/pad ops in the graph already fix the size), then the model is checked with
``onnx.checker`` and, when onnxruntime is installed, run and compared with MindSpore.
Files are written to a temporary name in the target folder and renamed at the end.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from arttrack.io.atomic import atomic_path, normal_permissions

__all__ = ["FORMATS", "MEAN_PIXEL", "MODEL_KEYS", "InferenceNet", "export_checkpoint", "export_model",
           "fix_onnx_conv_transpose",
           "metadata_path"]

logger = logging.getLogger(__name__)

MEAN_PIXEL = (123.68, 116.779, 103.939)
FORMATS = {"MINDIR": ".mindir", "ONNX": ".onnx", "AIR": ".air"}
_OUTPUT_DOC = {
    "part_prob": "per-joint probability (sigmoid of the part logits), channel j = joint j",
    "locref": "location refinement: channels 2j, 2j+1 = (dx, dy)/locref_stdev of joint j "
              "from the cell centre",
    "pairwise": "pairwise offsets: channels 2c, 2c+1 = normalised (dx, dy) from joint j to "
                "joint k, c = (J-1)*j + k - (j<k); de-normalise with pairwise_stats",
}


def _inference_net_cls():
    from mindspore import nn, ops

    class InferenceNet(nn.Cell):
        """Wrap an ArtTrackNet: sigmoid on part, drop the intermediate head."""

        def __init__(self, net) -> None:
            super().__init__()
            self.net = net
            names = tuple(net.output_names)
            self.keep = tuple(i for i, n in enumerate(names) if n != "part_interm")
            self.output_names = tuple("part_prob" if names[i] == "part" else names[i]
                                      for i in self.keep)

        def construct(self, x):
            outs = self.net(x)
            res = (ops.sigmoid(outs[0]),)
            for i in self.keep[1:]:
                res = res + (outs[i],)
            return res

    return InferenceNet


def InferenceNet(net):  # noqa: N802 - factory keeps MindSpore out of module import
    """Inference wrapper of an ArtTrackNet (``part_prob``, ``locref``, ``pairwise``)."""
    return _inference_net_cls()(net)


def metadata_path(model_file: str | os.PathLike) -> Path:
    """Metadata JSON of an exported model: ``<model file>.json``."""
    return Path(str(model_file) + ".json")


def fix_onnx_conv_transpose(model) -> int:
    """Delete ``output_shape`` from every ConvTranspose node (in place); returns the count."""
    n = 0
    for node in model.graph.node:
        if node.op_type == "ConvTranspose":
            for attr in list(node.attribute):
                if attr.name == "output_shape":
                    node.attribute.remove(attr)
                    n += 1
    return n


def _rename_onnx_outputs(model, new_names: list[str]) -> None:
    """Rename the graph outputs (and every reference to them) in place."""
    mapping = {o.name: n for o, n in zip(model.graph.output, new_names)}
    for node in model.graph.node:
        for i, v in enumerate(node.output):
            if v in mapping:
                node.output[i] = mapping[v]
        for i, v in enumerate(node.input):
            if v in mapping:
                node.input[i] = mapping[v]
    for o in model.graph.output:
        o.name = mapping[o.name]


def _to_jsonable(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, Mapping):
        return {str(k): _to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_to_jsonable(v) for v in x]
    return x


def _verify_onnx(path: Path, wrapper, x: np.ndarray, names: tuple[str, ...],
                 shapes: dict[str, tuple[int, ...]]) -> float | None:
    import mindspore as ms

    try:
        import onnxruntime as ort
    except ImportError:
        logger.warning("onnxruntime not installed: exported ONNX model checked but not run")
        return None
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})
    ref = [o.asnumpy() for o in wrapper(ms.Tensor(x))]
    worst = 0.0
    for n, g, r in zip(names, got, ref):
        if tuple(g.shape) != tuple(shapes[n]):
            raise RuntimeError(f"ONNX output {n!r} has shape {g.shape}, expected {shapes[n]}")
        err = float(np.abs(g - r).max()) / max(1.0, float(np.abs(r).max()))
        worst = max(worst, err)
    if worst > 1e-3:
        raise RuntimeError(f"ONNX model disagrees with MindSpore (relative error {worst:.2e})")
    logger.info("ONNX verified with onnxruntime: max relative error %.2e", worst)
    return worst


def export_model(net, fmt: str, height: int, width: int, out: str | os.PathLike,
                 meta: Mapping[str, Any] | None = None, *, batch: int = 1,
                 verify: bool = True) -> Path:
    """Export ``net`` (an ArtTrackNet) for a fixed ``batch x 3 x height x width`` input.

    Args:
        fmt: ``"MINDIR"``, ``"ONNX"`` or ``"AIR"`` (AIR needs an Ascend device).
        out: model file; the format's suffix is added when missing.
        meta: extra metadata: ``joint_names``, ``joint_set``, ``locref_stdev``,
            ``pairwise_stats`` ... (stored as given, arrays as lists).
        verify: ONNX only: run the exported model with onnxruntime and compare.

    Returns the model path; the metadata is at :func:`metadata_path` of it.
    """
    import mindspore as ms

    fmt = fmt.upper()
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {sorted(FORMATS)}")
    if height < 1 or width < 1 or batch < 1:
        raise ValueError(f"bad input size {batch}x3x{height}x{width}")
    if fmt == "AIR":
        target = ms.get_context("device_target")
        if target != "Ascend":
            raise RuntimeError(f"AIR export needs an Ascend device (MindSpore device target is "
                               f"{target!r}); export MINDIR or ONNX here, or run on Ascend")
    out = Path(out)
    if out.suffix.lower() != FORMATS[fmt]:
        out = out.with_name(out.name + FORMATS[fmt])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}{FORMATS[fmt]}")

    net.set_train(False)
    wrapper = InferenceNet(net)
    wrapper.set_train(False)
    names = wrapper.output_names
    map_h, map_w = net.map_size(height, width)
    chans = net.output_channels()
    shapes = {("part_prob" if n == "part" else n): (batch, c, map_h, map_w)
              for n, c in chans.items() if n != "part_interm"}
    cfg = getattr(net, "model_config", None)
    meta = dict(meta or {})
    doc: dict[str, Any] = {
        "format": fmt,
        "model_file": out.name,
        "input": {
            "name": "image", "shape": [batch, 3, height, width], "layout": "NCHW",
            "dtype": "float32", "color": "RGB", "mean_pixel": list(MEAN_PIXEL), "scale": 1.0,
            "preprocess": "float32 RGB pixels in [0, 255] minus mean_pixel, no division by "
                          "255, HWC -> CHW; resize/pad the frame to height x width",
        },
        "stride": net.stride,
        "output_stride": net.output_stride,
        "map_size": [map_h, map_w],
        "cell_center": "cell (i, j) is centred on input pixel (j*stride + stride/2, "
                       "i*stride + stride/2)",
        "output_names": list(names),
        "outputs": [{"name": n, "shape": list(shapes[n]), "layout": "NCHW",
                     "description": _OUTPUT_DOC[n]} for n in names],
        "num_joints": net.num_joints,
    }
    if cfg is not None:
        doc["model"] = cfg.to_dict()
    for key in ("joint_set", "joint_names", "locref_stdev", "pairwise_stats"):
        if key in meta:
            doc[key] = meta.pop(key)
    if "joint_names" not in doc and "joint_set" in doc:
        from arttrack.joints import get_joint_set

        doc["joint_names"] = list(get_joint_set(doc["joint_set"]).names)
    if "joint_names" in doc and len(doc["joint_names"]) != net.num_joints:
        raise ValueError(f"{len(doc['joint_names'])} joint names for a {net.num_joints}-joint "
                         "model")
    doc.update(meta)
    try:
        from arttrack import __version__

        doc["arttrack_version"] = __version__
    except ImportError:  # pragma: no cover
        pass
    x = np.random.default_rng(0).normal(0.0, 50.0, (batch, 3, height, width)).astype(np.float32)
    dummy = ms.Tensor(np.zeros_like(x))
    try:
        if fmt == "ONNX":
            import onnx

            if hasattr(ms, "onnx") and hasattr(ms.onnx, "export"):
                ms.onnx.export(wrapper, dummy, file_name=str(tmp), input_names=["image"],
                               output_names=list(names))
            else:  # older MindSpore
                ms.export(wrapper, dummy, file_name=str(tmp), file_format="ONNX")
            model = onnx.load(str(tmp))
            nfix = fix_onnx_conv_transpose(model)
            got_names = [o.name for o in model.graph.output]
            if len(got_names) != len(names):
                raise RuntimeError(f"ONNX graph has {len(got_names)} outputs, expected {names}")
            if got_names != list(names):
                _rename_onnx_outputs(model, list(names))
                got_names = list(names)
            onnx.checker.check_model(model)
            onnx.save(model, str(tmp))
            logger.info("removed output_shape from %d ConvTranspose nodes", nfix)
            if verify:
                _verify_onnx(tmp, wrapper, x, names, shapes)
            doc["onnx_output_names"] = got_names
        else:
            ms.export(wrapper, dummy, file_name=str(tmp), file_format=fmt)
        if not tmp.is_file():
            raise RuntimeError(f"MindSpore did not write {tmp}")
        normal_permissions(tmp)  # MindSpore writes MINDIR files read-only (0400)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()

    mp = metadata_path(out)
    with atomic_path(mp) as tmpm:
        tmpm.write_text(json.dumps(_to_jsonable(doc), indent=2), encoding="utf-8")
    logger.info("exported %s (%s) and %s", out, fmt, mp.name)
    return out


# ---------------------------------------------------------------------------------------
# from a checkpoint
def _load_structured(path: str) -> dict:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{path!r} does not exist")
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".json":
        return json.loads(text)
    import yaml

    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path!r} is not a mapping")
    return data


def _load_pairwise_stats(path: str) -> dict:
    if path.endswith(".npz"):
        with np.load(path) as z:
            return {k: z[k].tolist() for k in z.files}
    return _load_structured(path)


def _embedded_config(ckpt: str):
    """The experiment config stored inside a training checkpoint (arttrack.models.checkpoint)."""
    from arttrack.models.checkpoint import load_checkpoint

    return load_checkpoint(ckpt).config


def _load_config(path: str):
    from arttrack.config import load_config

    return load_config(path)


def _config_model_cfg(conf) -> dict:
    from arttrack.models import model_kwargs_from_config

    kw = model_kwargs_from_config(conf)
    kw["arch"] = kw.pop("name")
    return {k: v for k, v in kw.items() if v is not None}


def _config_meta(conf) -> dict:
    meta = {"joint_set": conf.joint_set, "locref_stdev": conf.locref_stdev}
    fn = getattr(conf, "pairwise_stats_fn", "")
    if fn and getattr(conf, "pairwise_predict", False):
        if Path(fn).is_file():
            meta["pairwise_stats"] = _load_pairwise_stats(fn)
        else:
            logger.warning("pairwise_stats_fn %s not found: metadata without pairwise stats", fn)
    return meta


MODEL_KEYS = ("arch", "num_joints", "locref", "pairwise", "intermediate_supervision",
              "intermediate_supervision_layer", "output_stride", "depths", "width", "block")


def export_checkpoint(ckpt: str, fmt: str, height: int, width: int, out: str | os.PathLike, *,
                      config: str | None = None, model: Mapping[str, Any] | None = None,
                      joint_set: str | None = None, locref_stdev: float | None = None,
                      pairwise_stats: str | None = None, batch: int = 1,
                      verify: bool = True) -> Path:
    """Export a checkpoint (module docstring): the network is rebuilt from, later ones
    winning, the checkpoint's side metadata, its embedded config, ``config`` (YAML) and
    ``model`` (any of :data:`MODEL_KEYS`); the metadata's joint set, ``locref_stdev`` and
    pairwise statistics likewise (``pairwise_stats``: JSON / YAML / NPZ). Returns the
    model file."""
    import mindspore as ms

    from arttrack.models import create_model, load_checkpoint_meta, load_model_checkpoint

    fmt = fmt.upper()
    if fmt == "AIR":
        try:
            ms.set_device("Ascend")
        except Exception:  # noqa: BLE001 - any failure means: no Ascend here
            pass
        if ms.get_context("device_target") != "Ascend":
            raise RuntimeError("AIR export needs an Ascend device and MindSpore's Ascend "
                               "build; export MINDIR or ONNX here, or run on Ascend")
    else:
        ms.set_device("CPU")
    ckpt_meta = load_checkpoint_meta(ckpt) or {}
    model_cfg = dict(ckpt_meta.get("model") or {})
    meta = {k: ckpt_meta[k] for k in ("joint_set", "joint_names", "locref_stdev",
                                      "pairwise_stats") if k in ckpt_meta}
    embedded = _embedded_config(ckpt)
    for conf in (embedded, _load_config(config) if config else None):
        if conf is not None:
            model_cfg.update(_config_model_cfg(conf))
            meta.pop("joint_names", None)
            meta.update(_config_meta(conf))
    unknown = sorted(set(model or {}) - set(MODEL_KEYS))
    if unknown:
        raise ValueError(f"unknown model setting(s) {', '.join(unknown)}; known: {', '.join(MODEL_KEYS)}")
    model_cfg.update({k: v for k, v in (model or {}).items() if v is not None})
    if "arch" not in model_cfg:
        raise ValueError(f"no model architecture known for {ckpt!r}: no "
                         f"{ckpt}.json metadata; pass --arch/--num-joints or --config")
    if joint_set:
        meta["joint_set"] = joint_set
        meta.pop("joint_names", None)
    if locref_stdev is not None:
        meta["locref_stdev"] = locref_stdev
    if pairwise_stats:
        meta["pairwise_stats"] = _load_pairwise_stats(pairwise_stats)
    model_cfg.pop("freeze_bn", None)  # irrelevant at inference
    name = model_cfg.pop("arch")
    net = create_model(name, **model_cfg)
    load_model_checkpoint(net, ckpt)
    return export_model(net, fmt, height, width, out, meta, batch=batch, verify=verify)
