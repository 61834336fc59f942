"""Run a trained network on images and decode people: :class:`Predictor`.

Pre-processing (the training pipeline's, :mod:`arttrack.data.pipeline`): RGB uint8 minus
the config's ``mean_pixel`` (no division by 255), then **zero padding at the bottom and
right** (i.e. padding with the mean colour) up to a multiple of the network's output
stride (16). No resizing happens here, so there is no aspect distortion and map
coordinates are input-image coordinates; callers that rescale (MPII ``base_scale``,
``global_scale``) use :func:`rescale_image` and map the joints back with
:func:`to_original`.

Maps (:class:`Maps`, HWC numpy, float32) are cropped to the cells that cover at least one
pixel of the image: ``ceil(h / stride) x ceil(w / stride)`` (:func:`valid_map_shape`), so
no detection can come from padding alone:

* ``part`` (H, W, J): probabilities (sigmoid of the ``part`` logits);
* ``locref`` (H, W, J, 2): offsets in units of ``locref_stdev`` (x, y), None without the head;
* ``pairwise`` (H, W, J*(J-1), 2): offsets in pixels (de-normalised with the codec's
  pairwise statistics), None without the head.

Flip test (``Predictor(flip_test=True)``, ``--flip-test`` on the CLIs; the field's usual
test-time augmentation): each image is also run mirrored and the two sets of maps are
averaged after mapping the mirrored ones back (:func:`unflip_maps`: columns reversed, left
and right joint channels and pairs swapped, x offsets negated). The image is padded to a
whole number of cells before mirroring, so the mirrored cells land exactly on the original
ones. Each network call holds ``batch_size`` images and their mirror images: twice the
network time.

Decoding: :meth:`Predictor.predict_single` (per-joint argmax + locref, (J, 3)) and
:meth:`Predictor.predict_multi` (:func:`arttrack.postprocess.pipeline.maps_to_people`,
(P, J, 3) with NaN for missing joints). Both are thin wrappers around pure functions of
the maps, so the video pipeline and the C++ runner's Python post-processing decode the
same way.

MindSpore: the predictor never changes the global execution mode. ``mode="graph"``
compiles the network with ``mindspore.jit`` (one compilation per input shape);
``mode="pynative"`` runs it eagerly. ``device`` is passed to ``mindspore.set_device``
only by :meth:`Predictor.from_checkpoint` when given.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import numpy as np

from arttrack.data.pipeline import MEAN_PIXEL

logger = logging.getLogger(__name__)

__all__ = ["Maps", "Predictor", "average_maps", "decode_single", "flip_input", "pad_image",
           "rescale_image", "to_original", "unflip_maps", "valid_map_shape"]

PathLike = Union[str, os.PathLike]


@dataclass(frozen=True, eq=False)
class Maps:
    """Network output of one image, HWC, cropped to the image (module docstring).

    Attributes:
        part: (H, W, J) float32 probabilities.
        locref: (H, W, J, 2) float32 normalised offsets, or None.
        pairwise: (H, W, J*(J-1), 2) float32 pixel offsets, or None.
        image_size: (height, width) of the input image.
        stride: input pixels per cell.
    """

    part: np.ndarray
    locref: Optional[np.ndarray]
    pairwise: Optional[np.ndarray]
    image_size: tuple[int, int]
    stride: float = 8.0

    @property
    def num_joints(self) -> int:
        return int(self.part.shape[2])


def valid_map_shape(height: int, width: int, stride: float = 8.0) -> tuple[int, int]:
    """Cells that cover at least one image pixel: ``(ceil(h / stride), ceil(w / stride))``."""
    return int(math.ceil(height / stride)), int(math.ceil(width / stride))


def pad_image(image: np.ndarray, multiple: int, mean_pixel: Sequence[float] = MEAN_PIXEL,
              size: Optional[tuple[int, int]] = None) -> np.ndarray:
    """(3, Hp, Wp) float32: ``image - mean_pixel`` zero-padded at the bottom / right to
    ``size`` (default: the next multiple of ``multiple`` of each side)."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be H x W x 3 RGB, got shape {img.shape}")
    h, w = img.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"empty image of shape {img.shape}")
    if size is None:
        size = (-(-h // multiple) * multiple, -(-w // multiple) * multiple)
    hp, wp = size
    if hp < h or wp < w:
        raise ValueError(f"pad size {size} smaller than the image {(h, w)}")
    out = np.zeros((3, hp, wp), np.float32)
    out[:, :h, :w] = (img.astype(np.float32) - np.asarray(mean_pixel, np.float32)).transpose(2, 0, 1)
    return out


def flip_input(image: np.ndarray, stride: float, multiple: int,
               mean_pixel: Sequence[float] = MEAN_PIXEL,
               size: Optional[tuple[int, int]] = None) -> np.ndarray:
    """(3, Hp, Wp) float32 network input of the MIRRORED image: the image is first padded on
    the right to ``ceil(w / stride) * stride`` columns (a whole number of cells), then
    mirrored, so mirrored cell ``W - 1 - i`` covers exactly the pixels of cell ``i``; then
    padded at the bottom / right like :func:`pad_image`."""
    h, w = np.asarray(image).shape[:2]
    wv = valid_map_shape(h, w, stride)[1] * int(round(stride))
    x = pad_image(image, multiple, mean_pixel, size=(h, wv))[:, :, ::-1]
    if size is None:
        size = (-(-h // multiple) * multiple, -(-wv // multiple) * multiple)
    out = np.zeros((3, size[0], size[1]), np.float32)
    out[:, :h, :wv] = x
    return out


def unflip_maps(maps: Maps, flip_permutation: Sequence[int], locref_stdev: float) -> Maps:
    """Maps of a mirrored image (:func:`flip_input`) in the original image's frame.

    Cell ``i`` takes mirrored cell ``W - 1 - i``; joint ``j`` takes channel
    ``flip_permutation[j]`` (left <-> right) and pair ``(j, k)`` the pair
    ``(perm[j], perm[k])``. An x offset ``d`` from a mirrored cell centre points at
    ``-1 - d`` pixels from the original centre (pixel ``x`` mirrors to ``Wv - 1 - x`` and
    the two centres add up to ``Wv``). Applying it twice gives the maps back.
    """
    perm = np.asarray(flip_permutation, np.int64)
    J = maps.num_joints
    if perm.shape != (J,):
        raise ValueError(f"flip permutation has {perm.shape[0]} joints, the maps {J}")
    part = np.ascontiguousarray(maps.part[:, ::-1][:, :, perm])
    locref = pairwise = None
    if maps.locref is not None:
        locref = np.array(maps.locref[:, ::-1][:, :, perm], np.float32)
        locref[..., 0] = -locref[..., 0] - 1.0 / float(locref_stdev)
    if maps.pairwise is not None:
        src = _mirrored_pair_channels(tuple(int(p) for p in perm))
        pairwise = np.array(maps.pairwise[:, ::-1][:, :, src], np.float32)
        pairwise[..., 0] = -pairwise[..., 0] - 1.0
    return Maps(part, locref, pairwise, maps.image_size, maps.stride)


@functools.lru_cache(maxsize=8)
def _mirrored_pair_channels(perm: tuple[int, ...]) -> np.ndarray:
    """For each pairwise channel (j, k), in :func:`arttrack.joints.pair_channel` order, the
    channel of its mirror pair (perm[j], perm[k]); computed once per joint set, not per frame."""
    from arttrack.joints import pair_channel

    J = len(perm)
    return np.array([pair_channel(perm[j], perm[k], J)
                     for j in range(J) for k in range(J) if j != k], np.int64)


def average_maps(a: Maps, b: Maps) -> Maps:
    """The mean of two :class:`Maps` of the same image (flip test)."""
    def mean(x: Optional[np.ndarray], y: Optional[np.ndarray]) -> Optional[np.ndarray]:
        return None if x is None or y is None else np.ascontiguousarray((x + y) * 0.5, np.float32)

    return Maps(mean(a.part, b.part), mean(a.locref, b.locref), mean(a.pairwise, b.pairwise),
                a.image_size, a.stride)


def rescale_image(image: np.ndarray, factor: float, max_input_size: Optional[int] = None
                  ) -> tuple[np.ndarray, tuple[float, float]]:
    """Resize by ``factor`` (capped so that the longer side is <= ``max_input_size``).

    Same rule as training (:func:`arttrack.data.augment.resize_sample`): new side =
    ``round(side * factor)``. Returns the image and the actual (rx, ry) ratios, for
    :func:`to_original`.
    """
    from arttrack.data.augment import resize_sample

    h, w = image.shape[:2]
    if max_input_size:
        factor = min(float(factor), float(max_input_size) / max(h, w))
    if factor <= 0 or not math.isfinite(factor):
        raise ValueError(f"bad rescale factor {factor}")
    out, _, _ = resize_sample(image, np.zeros((0, 1, 3), np.float32), None, factor)
    return out, (out.shape[1] / w, out.shape[0] / h)


def to_original(joints: np.ndarray, ratio: tuple[float, float] = (1.0, 1.0),
                offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Map (..., 2+) x, y from a rescaled crop back to the original image:
    ``x = (x' + 0.5) / rx - 0.5 + x0`` (pixel-centre convention, :mod:`arttrack.data.records`;
    the C++ core's ``to_original``, which the letterbox and the runner use too). NaN stays
    NaN; extra columns (scores) are kept. Returns float64."""
    from arttrack._native import core

    return core.to_original(np.asarray(joints, np.float64), scale=tuple(ratio), crop=tuple(offset))


def decode_single(maps: Maps, *, use_locref: bool = True,
                  locref_stdev: float = 7.2801) -> np.ndarray:
    """Single-person decoding of :class:`Maps`: per joint the most probable cell, refined by
    locref. (J, 3) float32 x, y, probability in input pixels."""
    from arttrack.postprocess import argmax_pose

    loc = maps.locref if use_locref else None
    return np.asarray(argmax_pose(np.ascontiguousarray(maps.part, np.float32),
                                  None if loc is None else np.ascontiguousarray(loc, np.float32),
                                  stride=maps.stride, locref_stdev=locref_stdev))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x, dtype=np.float32)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


class Predictor:
    """A network plus its codec: images in, maps or people out.

    Args:
        net: an :class:`arttrack.models.ArtTrackNet` (put in inference mode here).
        codec: the :class:`arttrack.data.codec.PoseCodec` of the experiment (stride,
            ``locref_stdev``, pairwise statistics for de-normalisation).
        mean_pixel: subtracted from the RGB input.
        mode: ``"graph"`` (``mindspore.jit``, default) or ``"pynative"``.
        batch_size: images per network call in :meth:`maps` (with ``flip_test``, plus as
            many mirror images).
        settings: default :class:`arttrack.postprocess.pipeline.MultiPersonSettings` for
            :meth:`predict_multi` (stride and ``locref_stdev`` are always the codec's).
        config: the experiment config, kept for callers (may be None).
        flip_test: also run every image mirrored and average (module docstring); needs the
            joint set's left/right pairs: ``flip_permutation``, or ``config.joint_set``.
        flip_permutation: joint ``j``'s mirror-image joint (default: the config's joint set).
        backend: ``"mindspore"`` (default) or ``"onnxruntime"`` (CPU: the network exported
            once per input size into the model cache, :mod:`arttrack.inference.backends`; each
            network call then holds exactly ``batch_size`` images, the last one padded, so
            a video needs one export). Resolve ``"auto"`` with
            :func:`arttrack.inference.backends.resolve_backend` first.
    """

    def __init__(self, net: Any, codec: Any, *, mean_pixel: Sequence[float] = MEAN_PIXEL,
                 mode: str = "graph", batch_size: int = 8, settings: Any = None,
                 config: Any = None, flip_test: bool = False,
                 flip_permutation: Optional[Sequence[int]] = None,
                 backend: str = "mindspore") -> None:
        import mindspore as ms

        from arttrack.postprocess.pipeline import MultiPersonSettings

        if mode not in ("graph", "pynative"):
            raise ValueError(f"mode must be 'graph' or 'pynative', got {mode!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if codec.num_joints != net.num_joints:
            raise ValueError(f"codec has {codec.num_joints} joints, network {net.num_joints}")
        if abs(float(codec.stride) - float(net.stride)) > 1e-6:
            raise ValueError(f"codec stride {codec.stride} != network map stride {net.stride}")
        if getattr(net, "use_pairwise", False) and codec.pairwise_mean is None:
            raise ValueError("the network predicts pairwise offsets but the codec has no pairwise "
                             "statistics to de-normalise them (pairwise_stats_fn)")
        self.net = net
        self.net.set_train(False)
        self.codec = codec
        self.config = config
        self.mean_pixel = tuple(float(v) for v in mean_pixel)
        self.mode = mode
        self.batch_size = int(batch_size)
        self.stride = float(net.stride)
        # Inputs are padded to a multiple of this: the output stride for arttrack's own
        # ResNets, 1 (no padding: exactly TensorFlow's computation) for the TF-slim layout.
        self.multiple = int(getattr(net, "input_multiple", net.output_stride))
        base = settings or MultiPersonSettings()
        self.settings = _replace(base, stride=float(codec.stride),
                                 locref_stdev=float(codec.locref_stdev))
        if backend not in ("mindspore", "onnxruntime"):
            raise ValueError(f"backend must be 'mindspore' or 'onnxruntime', got {backend!r} "
                             "(resolve 'auto' with arttrack.inference.backends.resolve_backend)")
        self.backend = backend
        #: the ONNX Runtime runner (backend "onnxruntime"), else None
        self.onnx_net = None
        if backend == "onnxruntime":
            from arttrack.inference.backends import OnnxRuntimeNet

            self.onnx_net = OnnxRuntimeNet(net)
        self._forward = ms.jit(net) if mode == "graph" else net
        if flip_permutation is None and config is not None:
            from arttrack.joints import get_joint_set

            flip_permutation = get_joint_set(config.joint_set).flip_permutation
        self.flip_permutation = (None if flip_permutation is None
                                 else np.asarray(flip_permutation, np.int64))
        if self.flip_permutation is not None and self.flip_permutation.shape != (net.num_joints,):
            raise ValueError(f"flip permutation of {len(self.flip_permutation)} joints for a "
                             f"network of {net.num_joints}")
        if flip_test and self.flip_permutation is None:
            raise ValueError("flip test needs the joint set's left/right pairs: pass config or "
                             "flip_permutation")
        self.flip_test = bool(flip_test)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_checkpoint(cls, ckpt: PathLike, config: Any = None, *, device: Optional[str] = None,
                        mode: str = "graph", batch_size: int = 8, pairwise_stats: Any = None,
                        settings: Any = None, flip_test: bool = False,
                        backend: str = "mindspore") -> "Predictor":
        """Build the network of the experiment config and load ``ckpt``.

        Args:
            ckpt: a training checkpoint (``arttrack.train``; carries its config) or a model
                checkpoint written by :func:`arttrack.models.save_model_checkpoint`.
            config: an :class:`arttrack.config.Config` or a YAML path; default: the config
                embedded in the checkpoint.
            device: ``"CPU"``, ``"GPU"`` or ``"Ascend"``; passed to ``mindspore.set_device``
                (None: leave the current device).
            pairwise_stats: override of the config's ``pairwise_stats_fn`` (a
                :class:`arttrack.data.pairwise_stats.PairwiseStats` or (mean, std)).
            settings: multi-person settings (default: from the config).
            flip_test: average with the mirrored image's maps (class docstring).
            backend: ``"mindspore"`` or ``"onnxruntime"`` (class docstring).
        """
        from arttrack.models import factory
        from arttrack.models.checkpoint import load_checkpoint
        from arttrack.config import Config, load_config
        from arttrack.models import load_model_checkpoint
        from arttrack.postprocess.pipeline import MultiPersonSettings

        if device is not None:
            import mindspore as ms

            ms.set_device(device)
        if config is None:
            config = load_checkpoint(ckpt).config
            if config is None:
                raise ValueError(f"checkpoint {ckpt} carries no config; pass --config")
            config = _beside_checkpoint(config, ckpt)
        elif not isinstance(config, Config):
            config = load_config(config)
        net = factory.build_model(config, pretrained=False)
        load_model_checkpoint(net, ckpt)
        codec = factory.build_codec(config, pairwise_stats)
        if settings is None:
            settings = MultiPersonSettings.from_config(config)
        logger.info("loaded %s (%s, %d joints, outputs %s)", ckpt, config.net_type,
                    net.num_joints, ", ".join(net.output_names))
        return cls(net, codec, mean_pixel=config.mean_pixel, mode=mode, batch_size=batch_size,
                   settings=settings, config=config, flip_test=flip_test, backend=backend)

    # ------------------------------------------------------------------ maps
    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        m = self.multiple
        return -(-height // m) * m, -(-width // m) * m

    def _run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        if self.backend == "onnxruntime":
            # one shape per video: a short last batch is padded to the full size
            full = self.batch_size * (2 if self.flip_test else 1)
            n = batch.shape[0]
            if n < full:
                batch = np.concatenate([batch, np.zeros((full - n,) + batch.shape[1:], batch.dtype)])
            return {k: v[:n] for k, v in self.onnx_net(batch).items()}
        import mindspore as ms

        outs = self._forward(ms.Tensor(batch))
        if not isinstance(outs, (tuple, list)):
            outs = (outs,)
        return {n: o.asnumpy() for n, o in zip(self.net.output_names, outs)}

    def maps(self, images: Union[np.ndarray, Sequence[np.ndarray]]) -> Union[Maps, list[Maps]]:
        """Maps of one image (H x W x 3 uint8 RGB) or of a list / (N, H, W, 3) batch.

        Images of the same padded size are run together, ``batch_size`` at a time (with
        :attr:`flip_test`, together with their mirror images: one call of ``2 * batch_size``).
        Returns one :class:`Maps` for a single image, else a list in input order.
        """
        single = isinstance(images, np.ndarray) and images.ndim == 3
        imgs = [images] if single else list(images)
        out: list[Optional[Maps]] = [None] * len(imgs)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, im in enumerate(imgs):
            im = np.asarray(im)
            if im.ndim != 3 or im.shape[2] != 3:
                raise ValueError(f"image {i} must be H x W x 3 RGB, got shape {im.shape}")
            groups.setdefault(self.padded_size(*im.shape[:2]), []).append(i)
        flip = self.flip_test
        for size, idx in groups.items():
            for s in range(0, len(idx), self.batch_size):
                chunk = idx[s:s + self.batch_size]
                inputs = [pad_image(imgs[i], self.multiple, self.mean_pixel, size) for i in chunk]
                if flip:
                    inputs += [flip_input(imgs[i], self.stride, self.multiple, self.mean_pixel,
                                          size) for i in chunk]
                res = self._run(np.stack(inputs))
                for b, i in enumerate(chunk):
                    m = self._to_maps(res, b, imgs[i].shape[:2])
                    if flip:
                        mirrored = self._to_maps(res, len(chunk) + b, imgs[i].shape[:2])
                        m = average_maps(m, unflip_maps(mirrored, self.flip_permutation,
                                                        self.codec.locref_stdev))
                    out[i] = m
        return out[0] if single else out  # type: ignore[return-value]

    def _to_maps(self, res: dict[str, np.ndarray], b: int, image_size: tuple[int, int]) -> Maps:
        h, w = valid_map_shape(image_size[0], image_size[1], self.stride)
        j = self.codec.num_joints
        if "part_prob" in res:  # the exported graph applies the sigmoid itself
            part = np.ascontiguousarray(res["part_prob"][b, :, :h, :w].transpose(1, 2, 0), np.float32)
        else:
            part = _sigmoid(res["part"][b, :, :h, :w].transpose(1, 2, 0))
        locref = pairwise = None
        if "locref" in res:
            locref = np.ascontiguousarray(
                res["locref"][b, :, :h, :w].transpose(1, 2, 0).reshape(h, w, j, 2), np.float32)
        if "pairwise" in res:
            raw = res["pairwise"][b, :, :h, :w].transpose(1, 2, 0)
            pairwise = np.ascontiguousarray(self.codec.pairwise_to_pixels(raw), np.float32)
        return Maps(np.ascontiguousarray(part), locref, pairwise,
                    (int(image_size[0]), int(image_size[1])), self.stride)

    # ------------------------------------------------------------------ decoding
    def predict_single(self, image: np.ndarray, *, use_locref: bool = True) -> np.ndarray:
        """Single person: (J, 3) float32 x, y, probability in the image's pixels."""
        return decode_single(self.maps(image), use_locref=use_locref,
                             locref_stdev=self.codec.locref_stdev)

    def predict_single_batch(self, images: Sequence[np.ndarray], *,
                             use_locref: bool = True) -> list[np.ndarray]:
        """:meth:`predict_single` over several images (batched network calls)."""
        return [decode_single(m, use_locref=use_locref, locref_stdev=self.codec.locref_stdev)
                for m in self.maps(list(images))]

    def predict_multi(self, image: np.ndarray, spatial_model: Any,
                      settings: Any = None) -> np.ndarray:
        """Multi-person: (P, J, 3) float32 x, y, score, NaN rows for missing joints.

        ``settings`` default to the predictor's (from the config's ``nms_radius``,
        ``det_min_score``, ``min_joints``).
        """
        from arttrack.postprocess.pipeline import maps_to_people

        m = self.maps(image)
        if m.pairwise is None:
            raise ValueError("multi-person prediction needs a network with the pairwise head "
                             "(pairwise_predict: true)")
        return maps_to_people(m.part, m.locref, m.pairwise, spatial_model,
                              self.resolve_settings(settings))

    def resolve_settings(self, settings: Any = None) -> Any:
        """``settings`` with the codec's stride and locref_stdev (None: the predictor's)."""
        if settings is None:
            return self.settings
        return _replace(settings, stride=self.stride, locref_stdev=float(self.codec.locref_stdev))


def _beside_checkpoint(config: Any, ckpt: PathLike) -> Any:
    """An embedded config's relative ``pairwise_stats_fn`` that does not exist from here is
    taken from the checkpoint's folder, where shipped and imported models keep it."""
    from pathlib import Path

    fn = config.pairwise_stats_fn
    if fn and not Path(fn).is_absolute() and not Path(fn).is_file():
        near = Path(ckpt).parent / Path(fn).name
        if near.is_file():
            return config.replace(pairwise_stats_fn=str(near))
    return config


def _replace(settings: Any, **kw: Any) -> Any:
    import dataclasses

    return dataclasses.replace(settings, **kw)

